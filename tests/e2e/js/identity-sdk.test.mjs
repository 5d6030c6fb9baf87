// The AWS SDK for JavaScript v3's Cognito Identity credential provider (npm
// `@aws-sdk/credential-providers`, `fromCognitoIdentityPool`) against a tessera identity pool:
// `clientConfig: {region, endpoint}` sends its GetId and GetCredentialsForIdentity to tessera (the
// published provider passes clientConfig on to the CognitoIdentityClient it makes, so no
// `client` of our own is needed), for a guest and for a user whose ID token is in `logins`
// (under the AWS provider name and under the issuer without scheme). The credentials sign an STS
// GetCallerIdentity to tessera (`@aws-sdk/client-sts`), which names the role they act as.
// Run by tests/e2e/test_identity_js.py, which makes a user pool with a client and a CONFIRMED
// user, signs the user in with boto3 (USER_PASSWORD_AUTH) and two identity pools over the user
// pool, and passes:
//   TESSERA_E2E_ENDPOINT, TESSERA_E2E_REGION, TESSERA_E2E_POOL_ID
//   TESSERA_E2E_IDENTITY_POOL_ID         an identity pool that admits guests
//   TESSERA_E2E_CLOSED_IDENTITY_POOL_ID  one that does not
//   TESSERA_E2E_PROVIDER                 cognito-idp.<region>.amazonaws.com/<poolId>
//   TESSERA_E2E_ISSUER_PROVIDER          <host:port>/<poolId>: the ID token's iss without scheme
//   TESSERA_E2E_ACCOUNT, TESSERA_E2E_AUTH_ROLE, TESSERA_E2E_GUEST_ROLE
//   TESSERA_E2E_ID_TOKEN                 the user's ID token
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromCognitoIdentityPool } from '@aws-sdk/credential-providers';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { MemoryStorage } from './memory-storage.mjs';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run by tests/e2e/test_identity_js.py)`);
  return value;
};
const endpoint = env('TESSERA_E2E_ENDPOINT');
const region = env('TESSERA_E2E_REGION');
const identityPoolId = env('TESSERA_E2E_IDENTITY_POOL_ID');
const closedIdentityPoolId = env('TESSERA_E2E_CLOSED_IDENTITY_POOL_ID');
const provider = env('TESSERA_E2E_PROVIDER');
const issuerProvider = env('TESSERA_E2E_ISSUER_PROVIDER');
const account = env('TESSERA_E2E_ACCOUNT');
const authRole = env('TESSERA_E2E_AUTH_ROLE');
const guestRole = env('TESSERA_E2E_GUEST_ROLE');
const idToken = env('TESSERA_E2E_ID_TOKEN');

const clientConfig = { region, endpoint, maxAttempts: 1 };
const assumedRole = (role) => `arn:aws:sts::${account}:assumed-role/${role}/CognitoIdentityCredentials`;

// A provider with an identity-id cache of its own (the default is one per process, keyed by
// pool, which would hand every guest provider below the same identity).
function provide(options) {
  const cache = options.cache ?? new MemoryStorage();
  return fromCognitoIdentityPool({ identityPoolId, clientConfig, cache, ...options });
}

function assertCredentials(credentials) {
  assert.match(credentials.accessKeyId, /^ASIA[A-Z0-9]{16}$/);
  assert.equal(typeof credentials.secretAccessKey, 'string');
  assert.ok(credentials.secretAccessKey.length >= 40, 'a secret access key');
  assert.ok(credentials.sessionToken, 'a session token');
  assert.ok(credentials.expiration instanceof Date, `expiration is a Date: ${credentials.expiration}`);
  const ahead = credentials.expiration.getTime() - Date.now();
  assert.ok(ahead > 55 * 60_000 && ahead <= 61 * 60_000, `expires in ${ahead / 60_000} minutes`);
  assert.match(credentials.identityId, new RegExp(`^${region}:[0-9a-f-]{36}$`));
}

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
}

async function assertRefused(promise, name, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

let guestId;
let userId;

test('a guest gets credentials of the unauthenticated role', async () => {
  const credentials = await provide({})();
  assertCredentials(credentials);
  guestId = credentials.identityId;
  await assertActsAs(credentials, guestRole);
});

test('the identity id is cached: a second provider with the same cache keeps the guest identity', async () => {
  const cache = new MemoryStorage();
  const first = await provide({ cache })();
  const second = await provide({ cache })();
  assert.equal(second.identityId, first.identityId);
  assert.notEqual(second.accessKeyId, first.accessKeyId, 'new credentials each time');
  // Without the cache, another guest.
  const stranger = await provide({})();
  assert.notEqual(stranger.identityId, first.identityId);
  assert.notEqual(first.identityId, guestId);
  await assertActsAs(second, guestRole);
});

test('a user with the ID token under the AWS provider name gets credentials of the authenticated role', async () => {
  const credentials = await provide({ logins: { [provider]: idToken } })();
  assertCredentials(credentials);
  assert.notEqual(credentials.identityId, guestId);
  userId = credentials.identityId;
  await assertActsAs(credentials, authRole);

  // GetId finds the same identity for the same login, without a cache.
  const again = await provide({ logins: { [provider]: idToken } })();
  assert.equal(again.identityId, userId);
  assert.notEqual(again.accessKeyId, credentials.accessKeyId);
});

test('the login under the issuer without scheme (a token provider function) reaches the same identity', async () => {
  const credentials = await provide({ logins: { [issuerProvider]: async () => idToken } })();
  assertCredentials(credentials);
  assert.equal(credentials.identityId, userId);
  await assertActsAs(credentials, authRole);
});

test('the provider as an STSClient\'s credentials: the SDK resolves and signs with them', async () => {
  const sts = new STSClient({
    region,
    endpoint,
    maxAttempts: 1,
    credentials: fromCognitoIdentityPool({ identityPoolId, logins: { [provider]: idToken }, clientConfig }),
  });
  try {
    const caller = await sts.send(new GetCallerIdentityCommand({}));
    assert.equal(caller.Arn, assumedRole(authRole));
    const resolved = await sts.config.credentials();
    assert.match(resolved.accessKeyId, /^ASIA/);
    assert.equal(resolved.identityId, userId);
  } finally {
    sts.destroy();
  }
});

test('a pool that admits no guests refuses a guest (NotAuthorizedException)', async () => {
  await assertRefused(
    provide({ identityPoolId: closedIdentityPoolId })(),
    'NotAuthorizedException',
    'Unauthenticated access is not supported for this identity pool.',
  );
  // A user is still admitted there.
  const credentials = await provide({ identityPoolId: closedIdentityPoolId, logins: { [provider]: idToken } })();
  assertCredentials(credentials);
  await assertActsAs(credentials, authRole);
});

test('a forged ID token is refused (NotAuthorizedException)', async () => {
  const [header, payload, signature] = idToken.split('.');
  const forged = `${header}.${payload}.${signature.startsWith('AAAA') ? 'BBBB' : 'AAAA'}${signature.slice(4)}`;
  await assertRefused(provide({ logins: { [provider]: forged } })(), 'NotAuthorizedException');
});
