// amazon-cognito-identity-js (npm) through tessera's multi-factor sign-in, answered with the
// library's own callbacks and methods, the way a browser or Node app drives it:
//   - a pool that requires MFA: authenticateUser calls mfaSetup; associateSoftwareToken (with the
//     sign-in Session) calls associateSecretCode; verifySoftwareToken(code, name) finishes the
//     sign-in (VerifySoftwareToken, then RespondToAuthChallenge MFA_SETUP); later sign-ins call
//     totpRequired, answered with sendMFACode(code, callbacks, 'SOFTWARE_TOKEN_MFA'); a replayed
//     and a wrong code end in onFailure, and the right code still works afterwards;
//   - a pool where MFA is optional: a signed-in user enrols a software token with the access
//     token and turns it on with setUserMfaPreference; SMS turned on with enableMFA (legacy
//     SetUserSettings) and with setUserMfaPreference calls mfaRequired with the CODE_DELIVERY_*
//     parameters, answered with the code tessera sent; disableMFA turns SMS off again; a user
//     with both factors and no preference gets selectMFAType, answered with
//     sendMFASelectionAnswer for either factor.
// Every session the library ends up with is checked with jose against the pool's JWKS.
//
// Run by tests/e2e/test_js_mfa.py, which makes the pools, clients (SRP and refresh only) and
// CONFIRMED users and passes them in:
//   TESSERA_E2E_ENDPOINT                   <server url>/
//   TESSERA_E2E_ON_POOL_ID, TESSERA_E2E_ON_CLIENT_ID     MFA ON, software tokens only
//   TESSERA_E2E_OPT_POOL_ID, TESSERA_E2E_OPT_CLIENT_ID   MFA OPTIONAL, software tokens and SMS
//   TESSERA_E2E_SETUP_USER                 a user of the ON pool (e-mail only)
//   TESSERA_E2E_TOTP_USER                  a user of the OPTIONAL pool (e-mail only)
//   TESSERA_E2E_SMS_USER, TESSERA_E2E_SMS_PHONE     a user of the OPTIONAL pool with a phone
//   TESSERA_E2E_BOTH_USER, TESSERA_E2E_BOTH_PHONE   another one, who will have both factors
//   TESSERA_E2E_PASSWORD                   everyone's password
//   TESSERA_E2E_OUTBOX                     http://127.0.0.1:<port>/, a relay in the driver that
//                                          answers `?username=<name>` with the OPTIONAL pool's
//                                          development-outbox messages to that user (tessera's
//                                          GET /admin/outbox wants a SigV4 signature)
//
// Software-token codes are computed here (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps over
// the base32 secret). tessera accepts the step before and after its own, and each step once per
// user, so every user's authenticator hands out codes of increasing steps and only with at
// least ten seconds left in the current step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import cognito from 'amazon-cognito-identity-js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { MemoryStorage } from './memory-storage.mjs';

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = cognito;

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run by tests/e2e/test_js_mfa.py)`);
  return value;
};
const endpoint = env('TESSERA_E2E_ENDPOINT');
const base = endpoint.replace(/\/$/, '');
const onPool = { id: env('TESSERA_E2E_ON_POOL_ID'), clientId: env('TESSERA_E2E_ON_CLIENT_ID') };
const optPool = { id: env('TESSERA_E2E_OPT_POOL_ID'), clientId: env('TESSERA_E2E_OPT_CLIENT_ID') };
const setupUser = env('TESSERA_E2E_SETUP_USER');
const totpUser = env('TESSERA_E2E_TOTP_USER');
const smsUser = env('TESSERA_E2E_SMS_USER');
const smsPhone = env('TESSERA_E2E_SMS_PHONE');
const bothUser = env('TESSERA_E2E_BOTH_USER');
const bothPhone = env('TESSERA_E2E_BOTH_PHONE');
const password = env('TESSERA_E2E_PASSWORD');
const outboxUrl = env('TESSERA_E2E_OUTBOX');

// --- the operations the library sends ------------------------------------------------------
// The global fetch is wrapped (not replaced) so the tests can tell what the library sent.
const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, options = {}) => {
  const target = options.headers?.['X-Amz-Target'] ?? '';
  if (target) {
    sent.push({ operation: target.split('.').pop(), body: JSON.parse(options.body ?? '{}') });
  }
  return realFetch(url, options);
};
const since = (mark) => sent.slice(mark);
const operations = (mark) => since(mark).map((r) => r.operation);

// --- RFC 6238 ------------------------------------------------------------------------------
function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const out = [];
  let bits = 0;
  let value = 0;
  for (const ch of text.replace(/=+$/, '').toUpperCase()) {
    const index = alphabet.indexOf(ch);
    assert.ok(index >= 0, `not base32: ${text}`);
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

function hotp(key, counter) {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const digest = createHmac('sha1', key).update(message).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  return String((digest.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

// The computation itself is checked against RFC 6238's SHA-1 vector (T = 59 s → 94287082,
// whose last six digits are the 6-digit code), so a failure below is never a wrong TOTP here.
assert.equal(hotp(Buffer.from('12345678901234567890'), 1), '287082');
assert.equal(base32Decode('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ').toString(), '12345678901234567890');

/** A user's authenticator app over the secret tessera handed out. */
class Authenticator {
  constructor(secret) {
    this.key = base32Decode(secret);
    this.last = -Infinity;
  }

  /** The code of the earliest step that tessera accepts now and this user has not used yet. */
  async code() {
    for (;;) {
      const now = Date.now() / 1000;
      const left = 30 - (now % 30);
      const current = Math.floor(now / 30);
      const step = Math.max(this.last + 1, current - 1);
      if (left < 10 || step > current + 1) {
        await sleep(Math.ceil((left + 0.2) * 1000));
        continue;
      }
      this.last = step;
      return hotp(this.key, step);
    }
  }

  /** A six-digit code that none of the steps around now produces. */
  wrong() {
    const current = Math.floor(Date.now() / 1000 / 30);
    const near = new Set([-2, -1, 0, 1, 2].map((d) => hotp(this.key, current + d)));
    return ['000000', '111111', '222222', '333333', '444444', '555555'].find((c) => !near.has(c));
  }
}

// --- the library ---------------------------------------------------------------------------
function newUser(pool, username) {
  const storage = new MemoryStorage();
  const userPool = new CognitoUserPool({ UserPoolId: pool.id, ClientId: pool.clientId, endpoint, Storage: storage });
  const user = new CognitoUser({ Username: username, Pool: userPool, Storage: storage });
  assert.equal(user.getAuthenticationFlowType(), 'USER_SRP_AUTH');
  return user;
}

const CALLBACKS = [
  'onSuccess',
  'onFailure',
  'mfaRequired',
  'totpRequired',
  'mfaSetup',
  'selectMFAType',
  'associateSecretCode',
  'newPasswordRequired',
  'customChallenge',
];

// Calls one library method with a full set of callbacks and resolves with the first one the
// library calls: {callback, args}. Every step of a sign-in is one such call, so a test reads
// as the sequence of callbacks an app would see. A method that calls none of them within 40
// seconds (the longest wait for a code step is 30) fails the test.
function step(start) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the library called no callback')), 40_000);
    const callbacks = {};
    for (const name of CALLBACKS) {
      callbacks[name] = (...args) => {
        clearTimeout(timer);
        resolve({ callback: name, args });
      };
    }
    Promise.resolve()
      .then(() => start(callbacks))
      .catch((error) => {
        clearTimeout(timer);
        reject(error);
      });
  });
}

function expectCallback(outcome, name) {
  if (outcome.callback !== name) {
    const detail = outcome.callback === 'onFailure'
      ? `${outcome.args[0]?.code}: ${outcome.args[0]?.message}`
      : JSON.stringify(outcome.args);
    assert.fail(`expected ${name}, the library called ${outcome.callback} (${detail})`);
  }
  return outcome.args;
}

function expectFailure(outcome, code, message) {
  const [error] = expectCallback(outcome, 'onFailure');
  assert.equal(error.code, code, `${error.code}: ${error.message}`);
  assert.equal(error.message, message);
}

const signIn = (user, username) =>
  step((cb) => user.authenticateUser(new AuthenticationDetails({ Username: username, Password: password }), cb));

// Node-style callbacks (err, result) of the account methods.
const nodeCall = (start) =>
  new Promise((resolve, reject) => start((err, result) => (err ? reject(err) : resolve(result))));
const userData = (user) => nodeCall((cb) => user.getUserData(cb, { bypassCache: true }));

const jwks = new Map();
// Verifies a session's tokens against the pool's JWKS (RS256, issuer, audience) and returns the
// claims of both.
async function verified(session, pool, username) {
  assert.ok(session.isValid(), 'the library holds a valid session');
  const issuer = `${base}/${pool.id}`;
  if (!jwks.has(issuer)) jwks.set(issuer, createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`)));
  const { payload: id } = await jwtVerify(session.getIdToken().getJwtToken(), jwks.get(issuer), {
    issuer,
    audience: pool.clientId,
    algorithms: ['RS256'],
  });
  const { payload: access } = await jwtVerify(session.getAccessToken().getJwtToken(), jwks.get(issuer), {
    issuer,
    algorithms: ['RS256'],
  });
  assert.equal(id.token_use, 'id');
  assert.equal(id['cognito:username'], username);
  assert.equal(access.token_use, 'access');
  assert.equal(access.username, username);
  assert.equal(access.client_id, pool.clientId);
  assert.ok(session.getRefreshToken().getToken(), 'a refresh token');
  return { id, access };
}

// The OPTIONAL pool's outbox messages to one user, through the driver's relay.
async function outbox(username) {
  const response = await realFetch(`${outboxUrl}?username=${encodeURIComponent(username)}`);
  assert.equal(response.status, 200);
  return (await response.json()).messages;
}

// The code of the SMS sent after `before` messages (the sign-in's own message).
async function smsCode(username, before, phone) {
  const messages = await outbox(username);
  assert.equal(messages.length, before + 1, `one new message: ${JSON.stringify(messages)}`);
  const message = messages.at(-1);
  assert.equal(message.channel, 'SMS');
  assert.equal(message.destination, phone);
  const found = /^Your MFA code is (\d{6})$/.exec(message.body);
  assert.ok(found, message.body);
  return found[1];
}

const masked = (phone) => `+${'*'.repeat(phone.length - 5)}${phone.slice(-4)}`;

// --- MFA ON: set up inside sign-in --------------------------------------------------------
let setupAuthenticator;
let setupLastCode;

test('ON pool: authenticateUser calls mfaSetup, and verifySoftwareToken finishes the sign-in', async () => {
  const user = newUser(onPool, setupUser);
  const [name, parameters] = expectCallback(await signIn(user, setupUser), 'mfaSetup');
  assert.equal(name, 'MFA_SETUP');
  assert.deepEqual(JSON.parse(parameters.MFAS_CAN_SETUP), ['SOFTWARE_TOKEN_MFA']);
  assert.equal(parameters.USER_ID_FOR_SRP, setupUser);

  // Not signed in yet, so the library associates with the sign-in Session.
  let mark = sent.length;
  const [secret] = expectCallback(await step((cb) => user.associateSoftwareToken(cb)), 'associateSecretCode');
  assert.match(secret, /^[A-Z2-7]{16,}$/);
  const [associate] = since(mark);
  assert.equal(associate.operation, 'AssociateSoftwareToken');
  assert.ok(associate.body.Session && !associate.body.AccessToken, JSON.stringify(associate.body));
  setupAuthenticator = new Authenticator(secret);

  // A wrong code is refused and the Session the library holds stays usable.
  expectFailure(
    await step((cb) => user.verifySoftwareToken(setupAuthenticator.wrong(), 'My phone', cb)),
    'EnableSoftwareTokenMFAException',
    'Code mismatch and fail enable Software Token MFA',
  );

  mark = sent.length;
  const code = await setupAuthenticator.code();
  const [session] = expectCallback(await step((cb) => user.verifySoftwareToken(code, 'My phone', cb)), 'onSuccess');
  assert.deepEqual(operations(mark), ['VerifySoftwareToken', 'RespondToAuthChallenge']);
  const [verify, respond] = since(mark);
  assert.equal(verify.body.UserCode, code);
  assert.equal(verify.body.FriendlyDeviceName, 'My phone');
  assert.equal(respond.body.ChallengeName, 'MFA_SETUP');
  assert.equal(respond.body.ChallengeResponses.USERNAME, setupUser);
  await verified(session, onPool, setupUser);

  const data = await userData(user);
  assert.deepEqual(data.UserMFASettingList, ['SOFTWARE_TOKEN_MFA']);
  setupLastCode = code;
});

test('ON pool: the next sign-in calls totpRequired, answered with sendMFACode(SOFTWARE_TOKEN_MFA)', async () => {
  const user = newUser(onPool, setupUser);
  const [name, parameters] = expectCallback(await signIn(user, setupUser), 'totpRequired');
  assert.equal(name, 'SOFTWARE_TOKEN_MFA');
  assert.equal(parameters.FRIENDLY_DEVICE_NAME, 'My phone');
  assert.equal(parameters.USER_ID_FOR_SRP, setupUser);

  const mark = sent.length;
  const code = await setupAuthenticator.code();
  const [session] = expectCallback(await step((cb) => user.sendMFACode(code, cb, 'SOFTWARE_TOKEN_MFA')), 'onSuccess');
  // The library sends the code under both names; tessera reads the challenge's own.
  const [respond] = since(mark);
  assert.equal(respond.body.ChallengeName, 'SOFTWARE_TOKEN_MFA');
  assert.equal(respond.body.ChallengeResponses.SOFTWARE_TOKEN_MFA_CODE, code);
  assert.equal(respond.body.ChallengeResponses.SMS_MFA_CODE, code);
  await verified(session, onPool, setupUser);
  setupLastCode = code;
});

test('ON pool: a replayed and a wrong code call onFailure, then the right code signs in', async () => {
  const user = newUser(onPool, setupUser);
  expectCallback(await signIn(user, setupUser), 'totpRequired');
  expectFailure(
    await step((cb) => user.sendMFACode(setupLastCode, cb, 'SOFTWARE_TOKEN_MFA')),
    'ExpiredCodeException',
    'Your software token has already been used once.',
  );
  expectFailure(
    await step((cb) => user.sendMFACode(setupAuthenticator.wrong(), cb, 'SOFTWARE_TOKEN_MFA')),
    'CodeMismatchException',
    'Invalid code received for user',
  );
  const code = await setupAuthenticator.code();
  const [session] = expectCallback(await step((cb) => user.sendMFACode(code, cb, 'SOFTWARE_TOKEN_MFA')), 'onSuccess');
  await verified(session, onPool, setupUser);
});

// --- MFA OPTIONAL: enrolment while signed in ----------------------------------------------
test('OPTIONAL pool: a signed-in user enrols a software token and turns it on', async () => {
  const user = newUser(optPool, totpUser);
  // Nothing is turned on yet: the sign-in asks no second factor.
  const [first] = expectCallback(await signIn(user, totpUser), 'onSuccess');
  await verified(first, optPool, totpUser);

  // Signed in, so the library associates and verifies with the access token.
  let mark = sent.length;
  const [secret] = expectCallback(await step((cb) => user.associateSoftwareToken(cb)), 'associateSecretCode');
  assert.ok(since(mark)[0].body.AccessToken && !since(mark)[0].body.Session);
  const authenticator = new Authenticator(secret);
  expectFailure(
    await step((cb) => user.verifySoftwareToken(authenticator.wrong(), 'Authenticator', cb)),
    'EnableSoftwareTokenMFAException',
    'Code mismatch and fail enable Software Token MFA',
  );
  const [verifiedToken] = expectCallback(
    await step(async (cb) => user.verifySoftwareToken(await authenticator.code(), 'Authenticator', cb)),
    'onSuccess',
  );
  assert.equal(verifiedToken.Status, 'SUCCESS');
  // Verified but not turned on: an OPTIONAL pool still asks nothing.
  assert.equal((await userData(user)).UserMFASettingList, undefined);
  expectCallback(await signIn(newUser(optPool, totpUser), totpUser), 'onSuccess');

  mark = sent.length;
  assert.equal(
    await nodeCall((cb) => user.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, cb)),
    'SUCCESS',
  );
  assert.deepEqual(since(mark)[0].body.SoftwareTokenMfaSettings, { PreferredMfa: true, Enabled: true });
  const data = await userData(user);
  assert.deepEqual(data.UserMFASettingList, ['SOFTWARE_TOKEN_MFA']);
  assert.equal(data.PreferredMfaSetting, 'SOFTWARE_TOKEN_MFA');

  const again = newUser(optPool, totpUser);
  const [name, parameters] = expectCallback(await signIn(again, totpUser), 'totpRequired');
  assert.equal(name, 'SOFTWARE_TOKEN_MFA');
  assert.equal(parameters.FRIENDLY_DEVICE_NAME, 'Authenticator');
  expectFailure(
    await step((cb) => again.sendMFACode(authenticator.wrong(), cb, 'SOFTWARE_TOKEN_MFA')),
    'CodeMismatchException',
    'Invalid code received for user',
  );
  const [session] = expectCallback(
    await step(async (cb) => again.sendMFACode(await authenticator.code(), cb, 'SOFTWARE_TOKEN_MFA')),
    'onSuccess',
  );
  await verified(session, optPool, totpUser);
});

// --- SMS ----------------------------------------------------------------------------------
test('OPTIONAL pool: enableMFA turns SMS on, mfaRequired is answered with the texted code, disableMFA turns it off', async () => {
  const user = newUser(optPool, smsUser);
  expectCallback(await signIn(user, smsUser), 'onSuccess');
  const mark = sent.length;
  assert.equal(await nodeCall((cb) => user.enableMFA(cb)), 'SUCCESS');
  assert.deepEqual(since(mark)[0].body.MFAOptions, [{ DeliveryMedium: 'SMS', AttributeName: 'phone_number' }]);
  assert.deepEqual(await nodeCall((cb) => user.getMFAOptions(cb)), [
    { DeliveryMedium: 'SMS', AttributeName: 'phone_number' },
  ]);
  assert.deepEqual((await userData(user)).UserMFASettingList, ['SMS_MFA']);

  const before = (await outbox(smsUser)).length;
  const challenged = newUser(optPool, smsUser);
  const [name, parameters] = expectCallback(await signIn(challenged, smsUser), 'mfaRequired');
  assert.equal(name, 'SMS_MFA');
  assert.equal(parameters.CODE_DELIVERY_DELIVERY_MEDIUM, 'SMS');
  assert.equal(parameters.CODE_DELIVERY_DESTINATION, masked(smsPhone));
  const code = await smsCode(smsUser, before, smsPhone);
  expectFailure(
    await step((cb) => challenged.sendMFACode(code === '000000' ? '111111' : '000000', cb)),
    'CodeMismatchException',
    'Invalid code or auth state for the user.',
  );
  const [session] = expectCallback(await step((cb) => challenged.sendMFACode(code, cb)), 'onSuccess');
  await verified(session, optPool, smsUser);
  // A phone number that answered an SMS code is verified.
  const attributes = await nodeCall((cb) => challenged.getUserAttributes(cb));
  assert.equal(attributes.find((a) => a.getName() === 'phone_number_verified')?.getValue(), 'true');

  assert.equal(await nodeCall((cb) => challenged.disableMFA(cb)), 'SUCCESS');
  assert.equal(await nodeCall((cb) => challenged.getMFAOptions(cb)), undefined);
  assert.equal((await userData(challenged)).UserMFASettingList, undefined);
  const after = (await outbox(smsUser)).length;
  const [plain] = expectCallback(await signIn(newUser(optPool, smsUser), smsUser), 'onSuccess');
  await verified(plain, optPool, smsUser);
  assert.equal((await outbox(smsUser)).length, after, 'no code is sent when SMS is off');
});

test('OPTIONAL pool: setUserMfaPreference turns SMS on as the preferred factor', async () => {
  const user = newUser(optPool, smsUser);
  expectCallback(await signIn(user, smsUser), 'onSuccess');
  assert.equal(
    await nodeCall((cb) => user.setUserMfaPreference({ PreferredMfa: true, Enabled: true }, null, cb)),
    'SUCCESS',
  );
  const data = await userData(user);
  assert.deepEqual(data.UserMFASettingList, ['SMS_MFA']);
  assert.equal(data.PreferredMfaSetting, 'SMS_MFA');

  const before = (await outbox(smsUser)).length;
  const challenged = newUser(optPool, smsUser);
  const [name, parameters] = expectCallback(await signIn(challenged, smsUser), 'mfaRequired');
  assert.equal(name, 'SMS_MFA');
  assert.equal(parameters.CODE_DELIVERY_DESTINATION, masked(smsPhone));
  const code = await smsCode(smsUser, before, smsPhone);
  const [session] = expectCallback(await step((cb) => challenged.sendMFACode(code, cb)), 'onSuccess');
  await verified(session, optPool, smsUser);
});

// --- both factors, no preference: SELECT_MFA_TYPE -------------------------------------------
let bothAuthenticator;

test('OPTIONAL pool: with SMS and a software token on and no preference, selectMFAType chooses the token', async () => {
  const user = newUser(optPool, bothUser);
  expectCallback(await signIn(user, bothUser), 'onSuccess');
  const [secret] = expectCallback(await step((cb) => user.associateSoftwareToken(cb)), 'associateSecretCode');
  bothAuthenticator = new Authenticator(secret);
  const [result] = expectCallback(
    await step(async (cb) => user.verifySoftwareToken(await bothAuthenticator.code(), 'Tablet', cb)),
    'onSuccess',
  );
  assert.equal(result.Status, 'SUCCESS');
  assert.equal(
    await nodeCall((cb) =>
      user.setUserMfaPreference({ PreferredMfa: false, Enabled: true }, { PreferredMfa: false, Enabled: true }, cb),
    ),
    'SUCCESS',
  );
  const data = await userData(user);
  assert.deepEqual(data.UserMFASettingList, ['SMS_MFA', 'SOFTWARE_TOKEN_MFA']);
  assert.equal(data.PreferredMfaSetting, undefined);

  const before = (await outbox(bothUser)).length;
  const choosing = newUser(optPool, bothUser);
  const [name, parameters] = expectCallback(await signIn(choosing, bothUser), 'selectMFAType');
  assert.equal(name, 'SELECT_MFA_TYPE');
  assert.deepEqual(JSON.parse(parameters.MFAS_CAN_CHOOSE), ['SMS_MFA', 'SOFTWARE_TOKEN_MFA']);
  const [chosen, chosenParameters] = expectCallback(
    await step((cb) => choosing.sendMFASelectionAnswer('SOFTWARE_TOKEN_MFA', cb)),
    'totpRequired',
  );
  assert.equal(chosen, 'SOFTWARE_TOKEN_MFA');
  assert.equal(chosenParameters.FRIENDLY_DEVICE_NAME, 'Tablet');
  const [session] = expectCallback(
    await step(async (cb) => choosing.sendMFACode(await bothAuthenticator.code(), cb, 'SOFTWARE_TOKEN_MFA')),
    'onSuccess',
  );
  await verified(session, optPool, bothUser);
  assert.equal((await outbox(bothUser)).length, before, 'choosing the token sends no SMS');
});

test('OPTIONAL pool: selectMFAType can choose SMS, which sends the code then', async () => {
  const before = (await outbox(bothUser)).length;
  const choosing = newUser(optPool, bothUser);
  expectCallback(await signIn(choosing, bothUser), 'selectMFAType');
  const [name, parameters] = expectCallback(
    await step((cb) => choosing.sendMFASelectionAnswer('SMS_MFA', cb)),
    'mfaRequired',
  );
  assert.equal(name, 'SMS_MFA');
  assert.equal(parameters.CODE_DELIVERY_DELIVERY_MEDIUM, 'SMS');
  assert.equal(parameters.CODE_DELIVERY_DESTINATION, masked(bothPhone));
  const code = await smsCode(bothUser, before, bothPhone);
  const [session] = expectCallback(await step((cb) => choosing.sendMFACode(code, cb)), 'onSuccess');
  await verified(session, optPool, bothUser);
});
