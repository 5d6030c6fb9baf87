// Amplify JS v6 (npm `aws-amplify`) with a tessera identity pool, the way an app gets AWS
// credentials from it: Amplify.configure with Auth.Cognito.identityPoolId, identityPoolEndpoint
// (and userPoolEndpoint) pointed at tessera and allowGuestAccess, then fetchAuthSession as a
// guest, after signIn (the enhanced flow: GetId, GetCredentialsForIdentity with the ID token in
// Logins), after signOut, and for a returning and a second user. Every set of credentials is used
// for an STS GetCallerIdentity to tessera (npm `@aws-sdk/client-sts`), which proves tessera issued
// them and says which role they act as.
// Run by tests/e2e/test_identity_js.py, which makes a user pool, a client allowing
// ALLOW_USER_SRP_AUTH + ALLOW_USER_PASSWORD_AUTH + ALLOW_REFRESH_TOKEN_AUTH, two CONFIRMED users,
// and two identity pools over the user pool (roles set by SetIdentityPoolRoles), and passes:
//   TESSERA_E2E_ENDPOINT                 <server url>   (no trailing slash: Amplify takes it as it is)
//   TESSERA_E2E_REGION, TESSERA_E2E_POOL_ID, TESSERA_E2E_CLIENT_ID
//   TESSERA_E2E_IDENTITY_POOL_ID         an identity pool that admits guests
//   TESSERA_E2E_CLOSED_IDENTITY_POOL_ID  one that does not
//   TESSERA_E2E_PROVIDER                 cognito-idp.<region>.amazonaws.com/<poolId>
//   TESSERA_E2E_ISSUER_PROVIDER          <host:port>/<poolId>: the ID token's iss without scheme
//   TESSERA_E2E_ACCOUNT, TESSERA_E2E_AUTH_ROLE, TESSERA_E2E_GUEST_ROLE
//   TESSERA_E2E_USERNAME, TESSERA_E2E_PASSWORD, TESSERA_E2E_OTHER_USERNAME, TESSERA_E2E_OTHER_PASSWORD
//
// Node 20 has no localStorage: the user pool tokens go to an in-memory storage of ours, and
// Amplify keeps the guest identity id in its own in-memory fallback. The global fetch (which
// Amplify uses) is wrapped, not replaced, to record the operations Amplify sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Amplify } from 'aws-amplify';
import { fetchAuthSession, signIn, signOut } from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { MemoryStorage } from './memory-storage.mjs';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run by tests/e2e/test_identity_js.py)`);
  return value;
};
const endpoint = env('TESSERA_E2E_ENDPOINT');
const region = env('TESSERA_E2E_REGION');
const poolId = env('TESSERA_E2E_POOL_ID');
const clientId = env('TESSERA_E2E_CLIENT_ID');
const identityPoolId = env('TESSERA_E2E_IDENTITY_POOL_ID');
const closedIdentityPoolId = env('TESSERA_E2E_CLOSED_IDENTITY_POOL_ID');
const issuerProvider = env('TESSERA_E2E_ISSUER_PROVIDER');
const account = env('TESSERA_E2E_ACCOUNT');
const authRole = env('TESSERA_E2E_AUTH_ROLE');
const guestRole = env('TESSERA_E2E_GUEST_ROLE');
const username = env('TESSERA_E2E_USERNAME');
const password = env('TESSERA_E2E_PASSWORD');
const otherUsername = env('TESSERA_E2E_OTHER_USERNAME');
const otherPassword = env('TESSERA_E2E_OTHER_PASSWORD');

const IDENTITY_TARGET = 'AWSCognitoIdentityService.';
const assumedRole = (role) => `arn:aws:sts::${account}:assumed-role/${role}/CognitoIdentityCredentials`;

// --- the operations Amplify sends ----------------------------------------------------------
const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, options = {}) => {
  // Amplify's serializer writes lower-case header names.
  const target = options.headers?.['x-amz-target'] ?? '';
  let body = {};
  try {
    body = JSON.parse(options.body ?? '{}');
  } catch {
    // Not JSON: recorded without a body.
  }
  sent.push({ url: String(url), target, operation: target.split('.').pop(), body });
  return realFetch(url, options);
};
const since = (mark) => sent.slice(mark);
const operations = (mark) => since(mark).map((r) => r.operation);

// Every identity call goes to tessera's root with the Cognito Identity target and JSON 1.1.
function assertIdentityCalls(records) {
  for (const r of records.filter((r) => r.target.startsWith(IDENTITY_TARGET))) {
    assert.equal(r.url, `${endpoint}/`, `${r.operation} went to ${r.url}`);
  }
}

async function assertRefused(promise, name, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

// The shape of the credentials fetchAuthSession returns, with an expiry about an hour ahead
// (tessera's default session length; Cognito's is one hour).
function assertCredentials(credentials) {
  assert.ok(credentials, 'credentials');
  assert.match(credentials.accessKeyId, /^ASIA[A-Z0-9]{16}$/);
  assert.equal(typeof credentials.secretAccessKey, 'string');
  assert.ok(credentials.secretAccessKey.length >= 40, 'a secret access key');
  assert.ok(credentials.sessionToken, 'a session token');
  assert.ok(credentials.expiration instanceof Date, `expiration is a Date: ${credentials.expiration}`);
  const ahead = credentials.expiration.getTime() - Date.now();
  assert.ok(ahead > 55 * 60_000 && ahead <= 61 * 60_000, `expires in ${ahead / 60_000} minutes`);
}

// GetCallerIdentity signed (SigV4, service `sts`) with the credentials, sent to tessera.
async function callerIdentity(credentials) {
  const sts = new STSClient({ region, endpoint, credentials, maxAttempts: 1 });
  try {
    return await sts.send(new GetCallerIdentityCommand({}));
  } finally {
    sts.destroy();
  }
}

async function assertActsAs(credentials, role) {
  const caller = await callerIdentity(credentials);
  assert.equal(caller.Arn, assumedRole(role));
  assert.equal(caller.Account, account);
  assert.ok(caller.UserId?.endsWith(':CognitoIdentityCredentials'), `UserId ${caller.UserId}`);
}

function configure(pool) {
  Amplify.configure({
    Auth: {
      Cognito: {
        userPoolId: poolId,
        userPoolClientId: clientId,
        identityPoolId: pool,
        userPoolEndpoint: endpoint,
        identityPoolEndpoint: endpoint,
        allowGuestAccess: true,
      },
    },
  });
}

const storage = new MemoryStorage();
cognitoUserPoolsTokenProvider.setKeyValueStorage(storage);

// --- shared state of the sequence below (node:test runs top-level tests in order) -----------
let guest; // the first guest session
let firstGuestId; // its identity, which becomes the user's
let userSession;

test('a pool that admits no guests refuses the guest session (GetId NotAuthorizedException)', async () => {
  configure(closedIdentityPoolId);
  const mark = sent.length;
  await assertRefused(
    fetchAuthSession(),
    'NotAuthorizedException',
    'Unauthenticated access is not supported for this identity pool.',
  );
  assert.deepEqual(operations(mark), ['GetId']);
  assert.equal(since(mark)[0].body.IdentityPoolId, closedIdentityPoolId);
  assertIdentityCalls(since(mark));
  // From here on, the pool that admits guests.
  configure(identityPoolId);
});

test('fetchAuthSession before sign-in returns guest credentials (GetId, GetCredentialsForIdentity)', async () => {
  const mark = sent.length;
  guest = await fetchAuthSession();
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['GetId', 'GetCredentialsForIdentity']);
  assert.equal(ops[0].target, 'AWSCognitoIdentityService.GetId');
  assert.equal(ops[0].body.IdentityPoolId, identityPoolId);
  assert.deepEqual(ops[0].body.Logins ?? {}, {}, 'a guest presents no logins');
  assertIdentityCalls(ops);

  assert.equal(guest.tokens, undefined, 'no user pool tokens before sign-in');
  assert.equal(guest.userSub, undefined);
  assert.match(guest.identityId, new RegExp(`^${region}:[0-9a-f-]{36}$`));
  assert.equal(ops[1].body.IdentityId, guest.identityId);
  assert.equal(ops[1].body.Logins, undefined, 'guest credentials are asked for without logins');
  assertCredentials(guest.credentials);
  firstGuestId = guest.identityId;
});

test('the guest credentials are real: GetCallerIdentity names the unauthenticated role', async () => {
  await assertActsAs(guest.credentials, guestRole);
});

test('the guest session is cached, and forceRefresh asks for new credentials of the same identity', async () => {
  let mark = sent.length;
  const cached = await fetchAuthSession();
  assert.deepEqual(operations(mark), [], 'cached credentials need no request');
  assert.equal(cached.identityId, firstGuestId);
  assert.equal(cached.credentials.accessKeyId, guest.credentials.accessKeyId);

  mark = sent.length;
  const refreshed = await fetchAuthSession({ forceRefresh: true });
  assert.deepEqual(operations(mark), ['GetCredentialsForIdentity'], 'the stored identity id is reused');
  assert.equal(refreshed.identityId, firstGuestId);
  assertCredentials(refreshed.credentials);
  assert.notEqual(refreshed.credentials.accessKeyId, guest.credentials.accessKeyId);
  await assertActsAs(refreshed.credentials, guestRole);
});

test('after signIn (SRP) the guest identity becomes the user\'s, with authenticated credentials', async () => {
  const result = await signIn({ username, password });
  assert.equal(result.isSignedIn, true, JSON.stringify(result));

  const mark = sent.length;
  userSession = await fetchAuthSession();
  const ops = since(mark);
  // Amplify presents the stored guest identity with the ID token; Cognito links the login to it
  // ("switching unauthenticated users to authenticated users"), so the identity id is kept.
  assert.deepEqual(ops.map((r) => r.operation), ['GetCredentialsForIdentity']);
  assert.equal(ops[0].body.IdentityId, firstGuestId);
  assert.deepEqual(Object.keys(ops[0].body.Logins), [issuerProvider], 'Logins keyed by the issuer without scheme');
  assert.equal(ops[0].body.Logins[issuerProvider], userSession.tokens.idToken.toString());
  assertIdentityCalls(ops);

  assert.ok(userSession.tokens?.idToken, 'user pool tokens');
  assert.equal(userSession.identityId, firstGuestId);
  assertCredentials(userSession.credentials);
  assert.notEqual(userSession.credentials.accessKeyId, guest.credentials.accessKeyId);
  await assertActsAs(userSession.credentials, authRole);
});

test('the old guest credentials still act as the guest role; the identity answers only to its login now', async () => {
  await assertActsAs(guest.credentials, guestRole);
  const resp = await realFetch(`${endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'AWSCognitoIdentityService.GetCredentialsForIdentity',
    },
    body: JSON.stringify({ IdentityId: firstGuestId }),
  });
  assert.equal(resp.status, 400);
  const body = await resp.json();
  assert.match(body.__type, /NotAuthorizedException$/);
});

test('fetchAuthSession forceRefresh refreshes the tokens and the credentials of the same identity', async () => {
  const mark = sent.length;
  const refreshed = await fetchAuthSession({ forceRefresh: true });
  const ops = operations(mark);
  assert.equal(ops.at(-1), 'GetCredentialsForIdentity', ops.join());
  assert.ok(!ops.includes('GetId'), `no new identity: ${ops.join()}`);
  assert.notEqual(refreshed.tokens.idToken.toString(), userSession.tokens.idToken.toString(), 'new tokens');
  assert.equal(since(mark).at(-1).body.Logins[issuerProvider], refreshed.tokens.idToken.toString());
  assert.equal(refreshed.identityId, firstGuestId);
  assertCredentials(refreshed.credentials);
  assert.notEqual(refreshed.credentials.accessKeyId, userSession.credentials.accessKeyId);
  await assertActsAs(refreshed.credentials, authRole);
});

let secondGuestId;

test('after signOut fetchAuthSession is a new guest with guest credentials', async () => {
  await signOut();
  const mark = sent.length;
  const session = await fetchAuthSession();
  assert.deepEqual(operations(mark), ['GetId', 'GetCredentialsForIdentity']);
  assert.equal(session.tokens, undefined);
  assert.match(session.identityId, new RegExp(`^${region}:`));
  assert.notEqual(session.identityId, firstGuestId, 'signOut forgot the identity');
  assertCredentials(session.credentials);
  await assertActsAs(session.credentials, guestRole);
  secondGuestId = session.identityId;
});

test('a returning user signing in from a new guest gets their own identity back (USER_PASSWORD_AUTH)', async () => {
  const result = await signIn({ username, password, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
  assert.equal(result.isSignedIn, true, JSON.stringify(result));
  try {
    const mark = sent.length;
    const session = await fetchAuthSession();
    const ops = since(mark);
    // Amplify (since 6.13.4, as v5 did) presents the new guest identity with a login already
    // linked to the user's identity; Cognito answers with the user's identity (the IdentityId of
    // the response, "the primary identity associated with the logins"), which Amplify keeps.
    assert.deepEqual(ops.map((r) => r.operation), ['GetCredentialsForIdentity']);
    assert.equal(ops[0].body.IdentityId, secondGuestId);
    assert.equal(session.identityId, firstGuestId);
    assertCredentials(session.credentials);
    await assertActsAs(session.credentials, authRole);

    const again = await fetchAuthSession({ forceRefresh: true });
    assert.equal(again.identityId, firstGuestId);
    await assertActsAs(again.credentials, authRole);
  } finally {
    await signOut();
  }
});

test('another user gets an identity of their own', async () => {
  const before = await fetchAuthSession();
  assert.equal(before.tokens, undefined);
  await assertActsAs(before.credentials, guestRole);

  const result = await signIn({ username: otherUsername, password: otherPassword });
  assert.equal(result.isSignedIn, true, JSON.stringify(result));
  try {
    const session = await fetchAuthSession();
    assert.equal(session.tokens.idToken.payload['cognito:username'], otherUsername);
    assert.notEqual(session.identityId, firstGuestId, 'not the first user\'s identity');
    assert.equal(session.identityId, before.identityId, 'their guest identity became theirs');
    assertCredentials(session.credentials);
    await assertActsAs(session.credentials, authRole);
  } finally {
    await signOut();
  }
});
