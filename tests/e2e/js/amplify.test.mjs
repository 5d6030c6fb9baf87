// Amplify JS v6 (npm `aws-amplify`) against a tessera pool, the way a Node or browser app uses it:
// Amplify.configure with Auth.Cognito.userPoolEndpoint pointed at tessera, signIn over SRP (the
// default flow) and with USER_PASSWORD_AUTH, getCurrentUser, fetchAuthSession (cached and forced
// refresh), fetchUserAttributes, updateUserAttributes, signOut (local, which revokes the refresh
// token, and global), and the errors of a wrong password and an unknown user.
// Run by tests/e2e/test_amplify.py, which makes a pool with a custom attribute `custom:team`, a
// client allowing ALLOW_USER_SRP_AUTH + ALLOW_USER_PASSWORD_AUTH + ALLOW_REFRESH_TOKEN_AUTH
// (PreventUserExistenceErrors ENABLED) and a CONFIRMED user, and passes them in:
//   TESSERA_E2E_ENDPOINT    <server url>   (no trailing slash: Amplify takes it as a URL as it is)
//   TESSERA_E2E_ISSUER      <server url>/<poolId>
//   TESSERA_E2E_POOL_ID, TESSERA_E2E_CLIENT_ID
//   TESSERA_E2E_USERNAME, TESSERA_E2E_PASSWORD, TESSERA_E2E_EMAIL
//
// Node 20 has a global fetch and a global WebCrypto, which is all Amplify needs for these flows;
// it has no localStorage, so the token provider gets an in-memory key-value storage. The global
// fetch is wrapped (not replaced) to record the operations Amplify sends, so the tests can tell
// which flow it took and that every request went to tessera.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Amplify } from 'aws-amplify';
import {
  fetchAuthSession,
  fetchUserAttributes,
  getCurrentUser,
  signIn,
  signOut,
  updateUserAttributes,
} from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';
import { MemoryStorage } from './memory-storage.mjs';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run by tests/e2e/test_amplify.py)`);
  return value;
};
const endpoint = env('TESSERA_E2E_ENDPOINT');
const issuer = env('TESSERA_E2E_ISSUER');
const poolId = env('TESSERA_E2E_POOL_ID');
const clientId = env('TESSERA_E2E_CLIENT_ID');
const username = env('TESSERA_E2E_USERNAME');
const password = env('TESSERA_E2E_PASSWORD');
const email = env('TESSERA_E2E_EMAIL');

const SCOPE = 'aws.cognito.signin.user.admin';
const INCORRECT = 'Incorrect username or password.';
// Amplify's token store keys: CognitoIdentityServiceProvider.<clientId>.<username>.<kind>.
const KEY_PREFIX = `CognitoIdentityServiceProvider.${clientId}`;

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
  sent.push({ url: String(url), operation: target.split('.').pop(), headers: options.headers, body });
  return realFetch(url, options);
};
function since(mark) {
  return sent.slice(mark);
}
const operations = (mark) => since(mark).map((r) => r.operation);

// A Cognito call of our own, outside Amplify (and not recorded), to check what tessera thinks of
// tokens Amplify has given up.
async function cognitoCall(operation, body) {
  const resp = await realFetch(`${endpoint}/`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': `AWSCognitoIdentityProviderService.${operation}`,
    },
    body: JSON.stringify(body),
  });
  return { status: resp.status, body: await resp.json() };
}

async function assertRefused(promise, name, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

// --- configuration ---------------------------------------------------------------------------
Amplify.configure({
  Auth: {
    Cognito: {
      userPoolId: poolId,
      userPoolClientId: clientId,
      userPoolEndpoint: endpoint,
    },
  },
});
const storage = new MemoryStorage();
cognitoUserPoolsTokenProvider.setKeyValueStorage(storage);

// --- shared state of the sequence below (node:test runs top-level tests in order) -----------
let srpSession;
let userSub;

test('signIn signs in over SRP by default (InitiateAuth USER_SRP_AUTH, PASSWORD_VERIFIER)', async () => {
  const mark = sent.length;
  const result = await signIn({ username, password });
  assert.equal(result.isSignedIn, true, JSON.stringify(result));
  assert.equal(result.nextStep.signInStep, 'DONE');

  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth', 'RespondToAuthChallenge']);
  // userPoolEndpoint is used as the whole request URL, so every call goes to tessera's root.
  assert.ok(ops.every((r) => r.url === `${endpoint}/`), JSON.stringify(ops.map((r) => r.url)));
  assert.equal(ops[0].headers['content-type'], 'application/x-amz-json-1.1');
  assert.equal(ops[0].body.AuthFlow, 'USER_SRP_AUTH');
  assert.equal(ops[0].body.ClientId, clientId);
  assert.equal(ops[0].body.AuthParameters.USERNAME, username);
  assert.ok(ops[0].body.AuthParameters.SRP_A, 'SRP_A sent');
  assert.equal(ops[1].body.ChallengeName, 'PASSWORD_VERIFIER');
  assert.ok(ops[1].body.ChallengeResponses.PASSWORD_CLAIM_SIGNATURE);
  assert.ok(ops[1].body.ChallengeResponses.TIMESTAMP);

  // The tokens are in the storage Amplify was given.
  assert.equal(storage.getItem(`${KEY_PREFIX}.LastAuthUser`), username);
  assert.ok(storage.getItem(`${KEY_PREFIX}.${username}.accessToken`));
  assert.ok(storage.getItem(`${KEY_PREFIX}.${username}.idToken`));
  assert.ok(storage.getItem(`${KEY_PREFIX}.${username}.refreshToken`));
});

test('getCurrentUser reads the user from the stored tokens, with no request', async () => {
  const mark = sent.length;
  const user = await getCurrentUser();
  assert.equal(since(mark).length, 0);
  assert.equal(user.username, username);
  assert.ok(user.userId, 'a userId (the sub)');
  userSub = user.userId;
  assert.deepEqual(user.signInDetails, { loginId: username, authFlowType: 'USER_SRP_AUTH' });
});

test('fetchAuthSession returns the Cognito tokens of the sign-in', async () => {
  const mark = sent.length;
  srpSession = await fetchAuthSession();
  assert.equal(since(mark).length, 0, 'valid cached tokens need no request');

  const { tokens } = srpSession;
  assert.ok(tokens?.accessToken && tokens?.idToken, 'access and ID tokens');
  assert.equal(srpSession.userSub, userSub);
  // No identity pool is configured: no AWS credentials, and no error for it.
  assert.equal(srpSession.credentials, undefined);
  assert.equal(srpSession.identityId, undefined);

  const id = tokens.idToken.payload;
  assert.equal(id.sub, userSub);
  assert.equal(id['cognito:username'], username);
  assert.equal(id.token_use, 'id');
  assert.equal(id.aud, clientId);
  assert.equal(id.iss, issuer);
  assert.equal(id.email, email);
  assert.equal(id.email_verified, true);
  const access = tokens.accessToken.payload;
  assert.equal(access.sub, userSub);
  assert.equal(access.username, username);
  assert.equal(access.token_use, 'access');
  assert.equal(access.client_id, clientId);
  assert.equal(access.iss, issuer);
  assert.equal(access.scope, SCOPE);
  assert.ok(access.origin_jti, 'origin_jti: Amplify revokes the refresh token on signOut only with it');
});

test('fetchAuthSession forceRefresh refreshes through GetTokensFromRefreshToken', async () => {
  const mark = sent.length;
  const refreshed = await fetchAuthSession({ forceRefresh: true });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['GetTokensFromRefreshToken']);
  assert.equal(ops[0].body.ClientId, clientId);
  assert.equal(ops[0].body.RefreshToken, storage.getItem(`${KEY_PREFIX}.${username}.refreshToken`));

  const before = srpSession.tokens.accessToken;
  const after = refreshed.tokens.accessToken;
  assert.notEqual(after.toString(), before.toString());
  assert.notEqual(refreshed.tokens.idToken.toString(), srpSession.tokens.idToken.toString());
  assert.notEqual(after.payload.jti, before.payload.jti);
  assert.equal(after.payload.origin_jti, before.payload.origin_jti);
  assert.equal(after.payload.sub, userSub);
  assert.equal(refreshed.tokens.idToken.payload['cognito:username'], username);
});

test('fetchUserAttributes (GetUser) returns the attributes', async () => {
  const mark = sent.length;
  const attrs = await fetchUserAttributes();
  assert.deepEqual(operations(mark), ['GetUser']);
  assert.equal(attrs.sub, userSub);
  assert.equal(attrs.email, email);
  assert.equal(attrs.email_verified, 'true');
  assert.equal(attrs.name, undefined);
  assert.equal(attrs['custom:team'], undefined);
});

test('updateUserAttributes sets name and a custom attribute', async () => {
  const mark = sent.length;
  const result = await updateUserAttributes({
    userAttributes: { name: 'Ada Lovelace', 'custom:team': 'engines' },
  });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['UpdateUserAttributes']);
  assert.deepEqual(
    ops[0].body.UserAttributes,
    [
      { Name: 'name', Value: 'Ada Lovelace' },
      { Name: 'custom:team', Value: 'engines' },
    ],
  );
  // Neither attribute needs verification: both are updated at once.
  const done = { isUpdated: true, nextStep: { updateAttributeStep: 'DONE' } };
  assert.deepEqual(result, { name: done, 'custom:team': done });

  const attrs = await fetchUserAttributes();
  assert.equal(attrs.name, 'Ada Lovelace');
  assert.equal(attrs['custom:team'], 'engines');
  assert.equal(attrs.email, email, 'the other attributes are untouched');
});

test('signOut revokes the refresh token (RevokeToken) and forgets the user', async () => {
  const refreshToken = storage.getItem(`${KEY_PREFIX}.${username}.refreshToken`);
  const accessToken = storage.getItem(`${KEY_PREFIX}.${username}.accessToken`);
  const mark = sent.length;
  await signOut();
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RevokeToken']);
  assert.deepEqual(ops[0].body, { ClientId: clientId, Token: refreshToken });

  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');
  const session = await fetchAuthSession();
  assert.equal(session.tokens, undefined);
  assert.equal(storage.getItem(`${KEY_PREFIX}.LastAuthUser`), null);
  assert.equal(storage.getItem(`${KEY_PREFIX}.${username}.refreshToken`), null);

  // tessera agrees: the refresh token and the access tokens it gave are revoked.
  const refresh = await cognitoCall('InitiateAuth', {
    ClientId: clientId,
    AuthFlow: 'REFRESH_TOKEN_AUTH',
    AuthParameters: { REFRESH_TOKEN: refreshToken },
  });
  assert.equal(refresh.status, 400);
  assert.equal(refresh.body.__type, 'NotAuthorizedException', JSON.stringify(refresh.body));
  const getUser = await cognitoCall('GetUser', { AccessToken: accessToken });
  assert.equal(getUser.status, 400);
  assert.equal(getUser.body.__type, 'NotAuthorizedException', JSON.stringify(getUser.body));
});

test('signIn with authFlowType USER_PASSWORD_AUTH sends the password in one InitiateAuth', async () => {
  const mark = sent.length;
  const result = await signIn({ username, password, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
  assert.equal(result.isSignedIn, true, JSON.stringify(result));
  assert.equal(result.nextStep.signInStep, 'DONE');

  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth']);
  assert.equal(ops[0].url, `${endpoint}/`);
  assert.equal(ops[0].body.AuthFlow, 'USER_PASSWORD_AUTH');
  assert.deepEqual(ops[0].body.AuthParameters, { USERNAME: username, PASSWORD: password });

  const user = await getCurrentUser();
  assert.equal(user.username, username);
  assert.equal(user.userId, userSub);
  assert.deepEqual(user.signInDetails, { loginId: username, authFlowType: 'USER_PASSWORD_AUTH' });

  const { tokens } = await fetchAuthSession();
  assert.equal(tokens.idToken.payload.sub, userSub);
  assert.equal(tokens.idToken.payload['cognito:username'], username);
  // The attributes set before are in the new ID token.
  assert.equal(tokens.idToken.payload.name, 'Ada Lovelace');
  assert.equal(tokens.idToken.payload['custom:team'], 'engines');
  // A new sign-in, not the revoked one.
  assert.notEqual(tokens.accessToken.payload.origin_jti, srpSession.tokens.accessToken.payload.origin_jti);
  assert.equal((await fetchUserAttributes()).email, email);
});

test('signOut global (GlobalSignOut) ends every session of the user', async () => {
  const accessToken = storage.getItem(`${KEY_PREFIX}.${username}.accessToken`);
  const mark = sent.length;
  await signOut({ global: true });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['GlobalSignOut']);
  assert.deepEqual(ops[0].body, { AccessToken: accessToken });
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');

  const getUser = await cognitoCall('GetUser', { AccessToken: accessToken });
  assert.equal(getUser.status, 400);
  assert.equal(getUser.body.__type, 'NotAuthorizedException', JSON.stringify(getUser.body));
  assert.equal(getUser.body.message, 'Access Token has been revoked');
});

test('a wrong password is refused with NotAuthorizedException (SRP and USER_PASSWORD_AUTH)', async () => {
  let mark = sent.length;
  await assertRefused(signIn({ username, password: `${password}-wrong` }), 'NotAuthorizedException', INCORRECT);
  assert.deepEqual(operations(mark), ['InitiateAuth', 'RespondToAuthChallenge']);

  mark = sent.length;
  await assertRefused(
    signIn({ username, password: `${password}-wrong`, options: { authFlowType: 'USER_PASSWORD_AUTH' } }),
    'NotAuthorizedException',
    INCORRECT,
  );
  assert.deepEqual(operations(mark), ['InitiateAuth']);
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');
});

test('an unknown user is refused like a wrong password (PreventUserExistenceErrors)', async () => {
  const ghost = `ghost-${Date.now()}`;
  await assertRefused(signIn({ username: ghost, password }), 'NotAuthorizedException', INCORRECT);
  await assertRefused(
    signIn({ username: ghost, password, options: { authFlowType: 'USER_PASSWORD_AUTH' } }),
    'NotAuthorizedException',
    INCORRECT,
  );
});

test('the right password still signs in after the refusals', async () => {
  const result = await signIn({ username, password });
  assert.equal(result.isSignedIn, true);
  assert.equal((await getCurrentUser()).userId, userSub);
  await signOut();
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');
});
