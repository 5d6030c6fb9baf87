// amazon-cognito-identity-js (npm) against a tessera pool, the way a browser or Node app uses it:
// CognitoUserPool with the `endpoint` option, authenticateUser over SRP (the library's default
// flow), getSession, getUserAttributes (GetUser), refreshSession and globalSignOut.
// Run by tests/e2e/test_js_clients.py, which makes a pool, a client allowing only
// ALLOW_USER_SRP_AUTH + ALLOW_REFRESH_TOKEN_AUTH (PreventUserExistenceErrors ENABLED) and a
// CONFIRMED user, and passes them in:
//   TESSERA_E2E_ENDPOINT    <server url>/   (trailing slash, wire facts 9)
//   TESSERA_E2E_ISSUER      <server url>/<poolId>
//   TESSERA_E2E_POOL_ID, TESSERA_E2E_CLIENT_ID
//   TESSERA_E2E_USERNAME, TESSERA_E2E_PASSWORD, TESSERA_E2E_EMAIL
//
// Node 20 has a global fetch and a global WebCrypto (crypto.getRandomValues), which is all the
// library needs; no window/crypto shims. The global fetch is wrapped (not replaced) to record
// the operations the library sends, so the tests can tell which flow it took.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cognito from 'amazon-cognito-identity-js';
import { MemoryStorage } from './memory-storage.mjs';

const {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
} = cognito;

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run by tests/e2e/test_js_clients.py)`);
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

// --- the operations the library sends ------------------------------------------------------
const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, options = {}) => {
  const target = options.headers?.['X-Amz-Target'] ?? '';
  let body = {};
  try {
    body = JSON.parse(options.body ?? '{}');
  } catch {
    // not JSON: recorded without a body
  }
  sent.push({ url: String(url), operation: target.split('.').pop(), body });
  return realFetch(url, options);
};
function since(mark) {
  return sent.slice(mark);
}

function newPool() {
  return new CognitoUserPool({ UserPoolId: poolId, ClientId: clientId, endpoint, Storage: new MemoryStorage() });
}

function newUser(pool, name = username) {
  return new CognitoUser({ Username: name, Pool: pool, Storage: pool.storage });
}

function authenticate(user, name, pass) {
  const details = new AuthenticationDetails({ Username: name, Password: pass });
  return new Promise((resolve, reject) => {
    const unexpected = (what) => () => reject(new Error(`unexpected ${what}`));
    user.authenticateUser(details, {
      onSuccess: (session) => resolve(session),
      onFailure: (err) => reject(err),
      newPasswordRequired: unexpected('newPasswordRequired'),
      mfaRequired: unexpected('mfaRequired'),
      totpRequired: unexpected('totpRequired'),
      mfaSetup: unexpected('mfaSetup'),
      selectMFAType: unexpected('selectMFAType'),
      customChallenge: unexpected('customChallenge'),
    });
  });
}

const refresh = (user, refreshToken) =>
  new Promise((resolve, reject) =>
    user.refreshSession(refreshToken, (err, session) => (err ? reject(err) : resolve(session))),
  );
const userAttributes = (user) =>
  new Promise((resolve, reject) =>
    user.getUserAttributes((err, attrs) => (err ? reject(err) : resolve(attrs))),
  );
const getSession = (user) =>
  new Promise((resolve, reject) => user.getSession((err, session) => (err ? reject(err) : resolve(session))));
const globalSignOut = (user) =>
  new Promise((resolve, reject) => user.globalSignOut({ onSuccess: resolve, onFailure: reject }));

function attrMap(list) {
  return Object.fromEntries(list.map((a) => [a.getName(), a.getValue()]));
}

async function assertRefused(promise, code, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.code, code, `expected ${code}, got ${err.code}: ${err.message}`);
    if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

// --- shared state of the sequence below (node:test runs top-level tests in order) -----------
const pool = newPool();
let user;
let firstSession;
let refreshedSession;

test('authenticateUser signs in over SRP and gives a valid session', async () => {
  user = newUser(pool);
  assert.equal(user.getAuthenticationFlowType(), 'USER_SRP_AUTH');
  const mark = sent.length;
  firstSession = await authenticate(user, username, password);

  // the library's SRP exchange: InitiateAuth USER_SRP_AUTH, then PASSWORD_VERIFIER
  const ops = since(mark);
  assert.deepEqual(
    ops.map((r) => r.operation),
    ['InitiateAuth', 'RespondToAuthChallenge'],
    JSON.stringify(ops.map((r) => r.operation)),
  );
  assert.equal(ops[0].url, endpoint);
  assert.equal(ops[0].body.AuthFlow, 'USER_SRP_AUTH');
  assert.ok(ops[0].body.AuthParameters.SRP_A, 'SRP_A sent');
  assert.equal(ops[1].body.ChallengeName, 'PASSWORD_VERIFIER');
  assert.ok(ops[1].body.ChallengeResponses.PASSWORD_CLAIM_SIGNATURE);

  assert.ok(firstSession.isValid(), 'session is valid');
  const id = firstSession.getIdToken().payload;
  assert.equal(id['cognito:username'], username);
  assert.equal(id.token_use, 'id');
  assert.equal(id.aud, clientId);
  assert.equal(id.iss, issuer);
  assert.equal(id.email, email);
  assert.equal(id.email_verified, true);
  const access = firstSession.getAccessToken().payload;
  assert.equal(access.username, username);
  assert.equal(access.token_use, 'access');
  assert.equal(access.client_id, clientId);
  assert.equal(access.scope, SCOPE);
  assert.equal(access.sub, id.sub);
  assert.equal(access.origin_jti, id.origin_jti);
  assert.ok(firstSession.getRefreshToken().getToken(), 'a refresh token');
  assert.equal(user.getUsername(), username);
});

test('getSession reads the signed-in user back from the storage', async () => {
  const current = pool.getCurrentUser();
  assert.ok(current, 'getCurrentUser finds the last signed-in user');
  assert.equal(current.getUsername(), username);
  const mark = sent.length;
  const session = await getSession(current);
  assert.equal(since(mark).length, 0, 'a cached valid session needs no request');
  assert.ok(session.isValid());
  assert.equal(session.getIdToken().getJwtToken(), firstSession.getIdToken().getJwtToken());
});

test('getUserAttributes (GetUser with the access token) returns the attributes', async () => {
  const mark = sent.length;
  const attrs = attrMap(await userAttributes(user));
  assert.deepEqual(since(mark).map((r) => r.operation), ['GetUser']);
  assert.equal(attrs.email, email);
  assert.equal(attrs.email_verified, 'true');
  assert.equal(attrs.sub, firstSession.getIdToken().payload.sub);
});

test('refreshSession gives new tokens of the same sign-in', async () => {
  const mark = sent.length;
  refreshedSession = await refresh(user, firstSession.getRefreshToken());
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth']);
  assert.equal(ops[0].body.AuthFlow, 'REFRESH_TOKEN_AUTH');

  assert.ok(refreshedSession.isValid());
  const before = firstSession.getAccessToken().payload;
  const after = refreshedSession.getAccessToken().payload;
  assert.notEqual(refreshedSession.getAccessToken().getJwtToken(), firstSession.getAccessToken().getJwtToken());
  assert.notEqual(refreshedSession.getIdToken().getJwtToken(), firstSession.getIdToken().getJwtToken());
  assert.notEqual(after.jti, before.jti);
  assert.equal(after.origin_jti, before.origin_jti);
  assert.equal(after.auth_time, before.auth_time);
  assert.equal(after.username, username);
  assert.equal(refreshedSession.getIdToken().payload['cognito:username'], username);
  // no rotation: the library keeps the refresh token it had
  assert.equal(refreshedSession.getRefreshToken().getToken(), firstSession.getRefreshToken().getToken());
  // the refreshed access token works for GetUser
  assert.equal(attrMap(await userAttributes(user)).email, email);
});

test('globalSignOut succeeds and clears the cached user', async () => {
  const mark = sent.length;
  assert.equal(await globalSignOut(user), 'SUCCESS');
  assert.deepEqual(since(mark).map((r) => r.operation), ['GlobalSignOut']);
  assert.equal(pool.getCurrentUser(), null, 'the library forgets the user after globalSignOut');
});

test('after globalSignOut refreshSession fails with NotAuthorizedException', async (t) => {
  // refreshSession goes through the library's requestWithRetry, which retries every error with
  // a jittered exponential backoff (0.2 s, 0.4 s, ... about 6 s in all) before giving up. The
  // back-off delays, and only they (setTimeout called directly from the library's Client.js),
  // are shortened to 0 so the test stays fast; the requests themselves are unchanged.
  const realSetTimeout = globalThis.setTimeout;
  let shortened = 0;
  t.mock.method(globalThis, 'setTimeout', function (fn, ms, ...args) {
    // the first frame below this function and node:test's mock machinery
    const caller =
      (new Error().stack ?? '')
        .split('\n')
        .slice(1)
        .find((line) => !line.includes('node:internal') && !line.includes(import.meta.url)) ?? '';
    if (caller.includes('amazon-cognito-identity-js/lib/Client.js')) {
      shortened += 1;
      return realSetTimeout(fn, 0, ...args);
    }
    return realSetTimeout(fn, ms, ...args);
  });
  const mark = sent.length;
  const again = newUser(newPool());
  await assertRefused(
    refresh(again, firstSession.getRefreshToken()),
    'NotAuthorizedException',
    'Refresh Token has been revoked',
  );
  const ops = since(mark);
  assert.ok(ops.length >= 1 && ops.every((r) => r.operation === 'InitiateAuth'), JSON.stringify(ops));
  assert.ok(ops.every((r) => r.body.AuthFlow === 'REFRESH_TOKEN_AUTH'));
  assert.equal(shortened, ops.length - 1, 'one back-off between attempts');
});

test('after globalSignOut GetUser refuses the old access tokens', async () => {
  for (const session of [firstSession, refreshedSession]) {
    const stale = newUser(newPool());
    stale.setSignInUserSession(session);
    await assertRefused(userAttributes(stale), 'NotAuthorizedException', 'Access Token has been revoked');
  }
});

test('a new SRP sign-in after globalSignOut works', async () => {
  const fresh = newUser(newPool());
  const session = await authenticate(fresh, username, password);
  assert.ok(session.isValid());
  assert.notEqual(session.getAccessToken().payload.origin_jti, firstSession.getAccessToken().payload.origin_jti);
  assert.equal(attrMap(await userAttributes(fresh)).email, email);
});

test('a wrong password fails with NotAuthorizedException', async () => {
  const mark = sent.length;
  await assertRefused(authenticate(newUser(newPool()), username, `${password}-wrong`), 'NotAuthorizedException', INCORRECT);
  assert.deepEqual(since(mark).map((r) => r.operation), ['InitiateAuth', 'RespondToAuthChallenge']);
});

test('an unknown user fails like a wrong password (PreventUserExistenceErrors)', async () => {
  const ghost = `ghost-${Date.now()}`;
  await assertRefused(authenticate(newUser(newPool(), ghost), ghost, password), 'NotAuthorizedException', INCORRECT);
});
