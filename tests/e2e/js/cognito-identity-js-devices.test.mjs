// amazon-cognito-identity-js (npm) through tessera's remembered devices, driven only through
// the library's own methods and callbacks, the way a browser or Node app uses them:
//   - a pool that tracks devices with DeviceOnlyRememberedOnUserPrompt and
//     ChallengeRequiredOnNewDevice true, MFA OPTIONAL and the user's software token preferred:
//     authenticateUser calls totpRequired; sendMFACode signs in, the library confirms the new
//     device by itself (ConfirmDevice) and calls onSuccess(session, true); setDeviceStatusRemembered
//     remembers it and listDevices and getDevice show it; a new CognitoUser over the same
//     storage signs in with no MFA callback at all, because the library answers DEVICE_SRP_AUTH
//     and DEVICE_PASSWORD_VERIFIER itself; after setDeviceStatusNotRemembered the sign-in asks
//     totpRequired again and the device proves itself after the code; refreshSession works
//     with the device's refresh token and fails with NotAuthorizedException once
//     forgetSpecificDevice has forgotten the device; the next sign-in still names the
//     forgotten device, gets `Device does not exist.`, retries without it, is asked for MFA
//     and is issued a new device; forgetDevice drops the library's stored device too, after
//     which the sign-in names no device and is asked for MFA;
//   - a pool with DeviceOnlyRememberedOnUserPrompt false: ConfirmDevice answers
//     UserConfirmationNecessary false, onSuccess gets no second argument, the device is
//     remembered at once and the next sign-in asks no MFA.
// Every session the library ends up with is checked with jose against the pool's JWKS, and
// the access token must name the device the library holds.
//
// Run by tests/e2e/test_js_devices.py, which makes the pools, their clients and the users
// (each with a software token enrolled and preferred, through boto3) and passes them in:
//   TESSERA_E2E_ENDPOINT                        <server url>/
//   TESSERA_E2E_PROMPT_POOL_ID, TESSERA_E2E_PROMPT_CLIENT_ID   DeviceOnlyRememberedOnUserPrompt true
//   TESSERA_E2E_ALWAYS_POOL_ID, TESSERA_E2E_ALWAYS_CLIENT_ID   DeviceOnlyRememberedOnUserPrompt false
//   TESSERA_E2E_PROMPT_USER, TESSERA_E2E_PROMPT_TOTP_SECRET, TESSERA_E2E_PROMPT_TOTP_STEP
//   TESSERA_E2E_ALWAYS_USER, TESSERA_E2E_ALWAYS_TOTP_SECRET, TESSERA_E2E_ALWAYS_TOTP_STEP
//                                               a user of each pool, the base32 secret of their
//                                               software token and the 30-second step whose code
//                                               the driver used up to verify it
//   TESSERA_E2E_PASSWORD                        everyone's password
//   TESSERA_E2E_REPORT                          a file this test writes the device keys and the
//                                               device name to, for the driver's admin checks
//
// The RFC 6238 helpers repeat those of cognito-identity-js-mfa.test.mjs: a node test file
// cannot be imported without running its tests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import cognito from 'amazon-cognito-identity-js';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { MemoryStorage } from './memory-storage.mjs';

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = cognito;

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run by tests/e2e/test_js_devices.py)`);
  return value;
};
const endpoint = env('TESSERA_E2E_ENDPOINT');
const base = endpoint.replace(/\/$/, '');
const promptPool = { id: env('TESSERA_E2E_PROMPT_POOL_ID'), clientId: env('TESSERA_E2E_PROMPT_CLIENT_ID') };
const alwaysPool = { id: env('TESSERA_E2E_ALWAYS_POOL_ID'), clientId: env('TESSERA_E2E_ALWAYS_CLIENT_ID') };
const promptUser = env('TESSERA_E2E_PROMPT_USER');
const alwaysUser = env('TESSERA_E2E_ALWAYS_USER');
const password = env('TESSERA_E2E_PASSWORD');
const reportPath = env('TESSERA_E2E_REPORT');

// The DeviceName the library sends with ConfirmDevice: 'nodejs' where there is no global
// navigator (Node 20), else the navigator's user agent (CognitoUser.js, `userAgent`).
const DEVICE_NAME = typeof navigator === 'undefined' ? 'nodejs' : navigator.userAgent;

// What the driver checks afterwards through the admin API.
const report = { deviceName: DEVICE_NAME, forgotten: [] };

// --- the operations the library sends and what tessera answers ------------------------------
// The global fetch is wrapped (not replaced) so the tests can tell what the library sent and
// which challenge each answer named.
const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (url, options = {}) => {
  const target = options.headers?.['X-Amz-Target'] ?? '';
  const response = await realFetch(url, options);
  if (target) {
    let answer = null;
    try {
      answer = await response.clone().json();
    } catch {
      // An empty body (ForgetDevice) is recorded as null.
    }
    sent.push({
      operation: target.split('.').pop(),
      body: JSON.parse(options.body ?? '{}'),
      status: response.status,
      answer,
    });
  }
  return response;
};
const since = (mark) => sent.slice(mark);
const operations = (mark) => since(mark).map((r) => r.operation);
// The challenges the library answered since `mark`, in order.
const answered = (mark) =>
  since(mark)
    .filter((r) => r.operation === 'RespondToAuthChallenge')
    .map((r) => r.body.ChallengeName);

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

// The computation is checked against RFC 6238's SHA-1 vector, so a refused code below is never
// a wrong TOTP here.
assert.equal(hotp(Buffer.from('12345678901234567890'), 1), '287082');

/** A user's authenticator app: codes of increasing steps, each accepted by tessera once. */
class Authenticator {
  constructor(secret, usedStep) {
    this.key = base32Decode(secret);
    this.last = Number(usedStep);
    assert.ok(Number.isInteger(this.last), `not a step: ${usedStep}`);
  }

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
}
const promptAuthenticator = new Authenticator(
  env('TESSERA_E2E_PROMPT_TOTP_SECRET'),
  env('TESSERA_E2E_PROMPT_TOTP_STEP'),
);
const alwaysAuthenticator = new Authenticator(
  env('TESSERA_E2E_ALWAYS_TOTP_SECRET'),
  env('TESSERA_E2E_ALWAYS_TOTP_STEP'),
);

// --- the library ---------------------------------------------------------------------------
// One app install is one storage: every CognitoUser made over it shares the tokens and the
// device the library keeps there.
function newUser(pool, username, storage) {
  const userPool = new CognitoUserPool({ UserPoolId: pool.id, ClientId: pool.clientId, endpoint, Storage: storage });
  return new CognitoUser({ Username: username, Pool: userPool, Storage: storage });
}

// The device the library keeps in `storage` (CognitoUser.cacheDeviceKeyAndPassword).
function storedDevice(storage, pool, username) {
  const prefix = `CognitoIdentityServiceProvider.${pool.clientId}.${username}`;
  return {
    key: storage.getItem(`${prefix}.deviceKey`),
    groupKey: storage.getItem(`${prefix}.deviceGroupKey`),
    password: storage.getItem(`${prefix}.randomPasswordKey`),
  };
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
// library calls: {callback, args}. A method that calls none of them within 40 seconds (the
// longest wait for a code step is 30) fails the test.
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

const signIn = (user, username) =>
  step((cb) => user.authenticateUser(new AuthenticationDetails({ Username: username, Password: password }), cb));
const sendTotp = (user, code) => step((cb) => user.sendMFACode(code, cb, 'SOFTWARE_TOKEN_MFA'));

// Node-style callbacks (err, result), as refreshSession takes them.
const nodeCall = (start) =>
  new Promise((resolve, reject) => start((err, result) => (err ? reject(err) : resolve(result))));
// The {onSuccess, onFailure} methods (the device methods) as a promise of onSuccess's value.
const call = async (start) => {
  const outcome = await step(start);
  return expectCallback(outcome, 'onSuccess')[0];
};

const listDevices = (user) => call((cb) => user.listDevices(60, null, cb));
const getDevice = (user) => call((cb) => user.getDevice(cb));
const attributes = (device) => Object.fromEntries(device.DeviceAttributes.map((a) => [a.Name, a.Value]));

const jwks = new Map();
// Verifies a session's tokens against the pool's JWKS (RS256, issuer, audience) and returns the
// access token's claims.
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
  assert.equal(id['cognito:username'], username);
  assert.equal(access.token_use, 'access');
  assert.equal(access.username, username);
  assert.equal(access.client_id, pool.clientId);
  assert.ok(session.getRefreshToken().getToken(), 'a refresh token');
  return access;
}

// Checks that the sign-in since `mark` ended with a new device that the library confirmed by
// itself, and returns the device as the library stored it.
function confirmedNewDevice(mark, storage, pool, username, userConfirmationNecessary) {
  const final = since(mark).find((r) => r.answer?.AuthenticationResult);
  assert.ok(final, 'an AuthenticationResult');
  const metadata = final.answer.AuthenticationResult.NewDeviceMetadata;
  assert.ok(metadata, 'the sign-in is issued a new device');
  assert.match(metadata.DeviceKey, new RegExp(`^${pool.id.split('_')[0]}_[0-9a-f-]{36}$`));
  assert.match(metadata.DeviceGroupKey, /^\S+$/);
  const confirms = since(mark).filter((r) => r.operation === 'ConfirmDevice');
  assert.equal(confirms.length, 1, 'the library confirms the device once');
  const [confirm] = confirms;
  assert.equal(confirm.status, 200, JSON.stringify(confirm.answer));
  assert.equal(confirm.body.DeviceKey, metadata.DeviceKey);
  assert.equal(confirm.body.DeviceName, DEVICE_NAME);
  assert.ok(confirm.body.DeviceSecretVerifierConfig.PasswordVerifier && confirm.body.DeviceSecretVerifierConfig.Salt);
  assert.deepEqual(confirm.answer, { UserConfirmationNecessary: userConfirmationNecessary });
  const device = storedDevice(storage, pool, username);
  assert.equal(device.key, metadata.DeviceKey);
  assert.equal(device.groupKey, metadata.DeviceGroupKey);
  assert.ok(device.password, 'the library keeps the device password it made up');
  return device;
}

// Checks that the sign-in since `mark` proved `deviceKey` with device SRP, each step on the
// session tessera issued for it, and issued no new device.
function provedDevice(mark, deviceKey) {
  const steps = since(mark).filter((r) => r.operation === 'RespondToAuthChallenge');
  const srp = steps.find((r) => r.body.ChallengeName === 'DEVICE_SRP_AUTH');
  const proof = steps.find((r) => r.body.ChallengeName === 'DEVICE_PASSWORD_VERIFIER');
  assert.ok(srp && proof, `device SRP ran: ${answered(mark).join(', ')}`);
  assert.equal(srp.body.ChallengeResponses.DEVICE_KEY, deviceKey);
  assert.equal(proof.body.ChallengeResponses.DEVICE_KEY, deviceKey);
  assert.deepEqual(Object.keys(proof.answer.ChallengeParameters ?? {}), []);
  assert.equal(srp.answer.ChallengeName, 'DEVICE_PASSWORD_VERIFIER');
  assert.equal(srp.answer.ChallengeParameters.DEVICE_KEY, deviceKey);
  assert.ok(proof.answer.AuthenticationResult, JSON.stringify(proof.answer));
  assert.equal(proof.answer.AuthenticationResult.NewDeviceMetadata, undefined, 'a proved device is not issued again');
  assert.ok(!operations(mark).includes('ConfirmDevice'), 'nothing to confirm');
}

// --- a pool that remembers a device when the user says so --------------------------------
// One app install: the storage every CognitoUser of the prompt pool shares, the device the
// library holds there, and the user object the app last signed in with (apps call the device
// methods on it, since only a sign-in tells a CognitoUser its device).
const promptStorage = new MemoryStorage();
let promptDevice;
let signedIn;
// The session of the device's own sign-in (device SRP), whose refresh token is the device's.
let deviceSession;

test('prompt pool: totpRequired, sendMFACode, and the library confirms the new device: onSuccess(session, true)', async () => {
  const user = newUser(promptPool, promptUser, promptStorage);
  let mark = sent.length;
  const [name, parameters] = expectCallback(await signIn(user, promptUser), 'totpRequired');
  assert.equal(name, 'SOFTWARE_TOKEN_MFA');
  assert.equal(parameters.USER_ID_FOR_SRP, promptUser);
  // A first sign-in names no device anywhere.
  assert.equal(since(mark)[0].body.AuthParameters.DEVICE_KEY, undefined);
  assert.equal(since(mark)[1].body.ChallengeResponses.DEVICE_KEY, undefined);

  mark = sent.length;
  const [session, userConfirmationNecessary] = expectCallback(
    await sendTotp(user, await promptAuthenticator.code()),
    'onSuccess',
  );
  assert.equal(userConfirmationNecessary, true);
  assert.deepEqual(operations(mark), ['RespondToAuthChallenge', 'ConfirmDevice']);
  promptDevice = confirmedNewDevice(mark, promptStorage, promptPool, promptUser, true);
  const access = await verified(session, promptPool, promptUser);
  assert.equal(access.device_key, promptDevice.key, 'the access token names the new device');

  // Confirmed but not remembered yet: the user has not been asked.
  const device = await getDevice(user);
  assert.equal(device.Device.DeviceKey, promptDevice.key);
  const attrs = attributes(device.Device);
  assert.equal(attrs.device_name, DEVICE_NAME);
  assert.equal(attrs['dev:device_remembered_status'], 'not_remembered');
  signedIn = user;
});

test('prompt pool: setDeviceStatusRemembered, then listDevices and getDevice show the device', async () => {
  // The app asks its user, who says yes.
  const mark = sent.length;
  assert.equal(await call((cb) => signedIn.setDeviceStatusRemembered(cb)), 'SUCCESS');
  const [update] = since(mark);
  assert.equal(update.operation, 'UpdateDeviceStatus');
  assert.deepEqual(
    { key: update.body.DeviceKey, status: update.body.DeviceRememberedStatus },
    { key: promptDevice.key, status: 'remembered' },
  );

  const listed = await listDevices(signedIn);
  assert.deepEqual(listed.Devices.map((d) => d.DeviceKey), [promptDevice.key]);
  assert.deepEqual(attributes(listed.Devices[0]), { device_status: 'valid', device_name: DEVICE_NAME });
  assert.equal(listed.PaginationToken, undefined);
  const got = await getDevice(signedIn);
  assert.equal(attributes(got.Device)['dev:device_remembered_status'], 'remembered');
  for (const date of ['DeviceCreateDate', 'DeviceLastModifiedDate', 'DeviceLastAuthenticatedDate']) {
    assert.equal(typeof got.Device[date], 'number', date);
  }
});

test('prompt pool: a new CognitoUser over the same storage signs in with no MFA callback (device SRP)', async () => {
  const before = (await getDevice(signedIn)).Device;
  const user = newUser(promptPool, promptUser, promptStorage);
  const mark = sent.length;
  const args = expectCallback(await signIn(user, promptUser), 'onSuccess');
  assert.equal(args[1], undefined, 'no device to confirm');
  assert.deepEqual(answered(mark), ['PASSWORD_VERIFIER', 'DEVICE_SRP_AUTH', 'DEVICE_PASSWORD_VERIFIER']);
  // The library reads its stored device only after InitiateAuth, so a new user object names it
  // in the PASSWORD_VERIFIER answer; DEVICE_SRP_AUTH is answered on the session it came with.
  const [initiate, passwordStep, srp] = since(mark);
  assert.equal(initiate.body.AuthParameters.DEVICE_KEY, undefined);
  assert.equal(passwordStep.body.ChallengeResponses.DEVICE_KEY, promptDevice.key);
  assert.equal(passwordStep.answer.ChallengeName, 'DEVICE_SRP_AUTH');
  assert.equal(srp.body.Session, passwordStep.answer.Session);
  provedDevice(mark, promptDevice.key);
  const access = await verified(args[0], promptPool, promptUser);
  assert.equal(access.device_key, promptDevice.key);

  // getDevice on the new user object names the same device, remembered, authenticated again.
  const after = (await getDevice(user)).Device;
  assert.equal(after.DeviceKey, promptDevice.key);
  assert.equal(attributes(after)['dev:device_remembered_status'], 'remembered');
  assert.ok(after.DeviceLastAuthenticatedDate >= before.DeviceLastAuthenticatedDate);
  assert.deepEqual((await listDevices(user)).Devices.map((d) => d.DeviceKey), [promptDevice.key], 'no second device');
  signedIn = user;
  deviceSession = args[0];
});

test('prompt pool: setDeviceStatusNotRemembered, then totpRequired again and device SRP after the code', async () => {
  // The session and user object of the remembered device's sign-in stay with the refresh test
  // below; this sign-in's user object is a new one over the same storage.
  assert.equal(await call((cb) => signedIn.setDeviceStatusNotRemembered(cb)), 'SUCCESS');
  assert.equal(attributes((await getDevice(signedIn)).Device)['dev:device_remembered_status'], 'not_remembered');

  const user = newUser(promptPool, promptUser, promptStorage);
  let mark = sent.length;
  const [name] = expectCallback(await signIn(user, promptUser), 'totpRequired');
  assert.equal(name, 'SOFTWARE_TOKEN_MFA');
  // The device was named and found: a known device that is not remembered does not replace MFA.
  assert.deepEqual(answered(mark), ['PASSWORD_VERIFIER']);
  assert.equal(since(mark)[1].body.ChallengeResponses.DEVICE_KEY, promptDevice.key);

  mark = sent.length;
  const outcome = await sendTotp(user, await promptAuthenticator.code());
  // After the code tessera asks DEVICE_SRP_AUTH, which the library answers by itself. It
  // answers on the session it sent the code with: sendMFACode (6.3.21) does not keep the
  // session of the DEVICE_SRP_AUTH answer, unlike authenticateUser's path, so the server has
  // to take the MFA challenge's session for DEVICE_SRP_AUTH.
  const [mfa, srp] = since(mark);
  assert.equal(mfa.body.ChallengeResponses.DEVICE_KEY, promptDevice.key);
  assert.equal(mfa.answer.ChallengeName, 'DEVICE_SRP_AUTH');
  assert.equal(srp.body.ChallengeName, 'DEVICE_SRP_AUTH');
  assert.equal(srp.body.Session, mfa.body.Session);
  // Then the device's verifier, with no callback in between, and onSuccess without the
  // confirmation flag.
  const args = expectCallback(outcome, 'onSuccess');
  assert.deepEqual(answered(mark), ['SOFTWARE_TOKEN_MFA', 'DEVICE_SRP_AUTH', 'DEVICE_PASSWORD_VERIFIER']);
  assert.equal(args[1], undefined);
  provedDevice(mark, promptDevice.key);
  const access = await verified(args[0], promptPool, promptUser);
  assert.equal(access.device_key, promptDevice.key);
});

test("prompt pool: refreshSession works with the device's refresh token and fails once forgetSpecificDevice forgot it", async () => {
  assert.ok(deviceSession, 'the remembered device\'s sign-in');
  const refreshToken = deviceSession.getRefreshToken();
  let mark = sent.length;
  const refreshed = await nodeCall((cb) => signedIn.refreshSession(refreshToken, cb));
  const [refresh] = since(mark);
  assert.equal(refresh.body.AuthFlow, 'REFRESH_TOKEN_AUTH');
  assert.equal(refresh.body.AuthParameters.DEVICE_KEY, promptDevice.key);
  const access = await verified(refreshed, promptPool, promptUser);
  assert.equal(access.device_key, promptDevice.key, "refreshed tokens stay the device's");

  mark = sent.length;
  assert.equal(await call((cb) => signedIn.forgetSpecificDevice(promptDevice.key, cb)), 'SUCCESS');
  assert.deepEqual(since(mark)[0].body, { AccessToken: refreshed.getAccessToken().getJwtToken(), DeviceKey: promptDevice.key });
  assert.deepEqual((await listDevices(signedIn)).Devices, []);
  const [error] = expectCallback(await step((cb) => signedIn.getDevice(cb)), 'onFailure');
  assert.deepEqual([error.code, error.message], ['ResourceNotFoundException', 'Device does not exist.']);
  report.forgotten.push(promptDevice.key);

  // The refresh token was the device's: it ends with it, and the library drops its tokens.
  await assert.rejects(nodeCall((cb) => signedIn.refreshSession(refreshToken, cb)), (err) => {
    assert.equal(err.code, 'NotAuthorizedException', `${err.code}: ${err.message}`);
    return true;
  });
  const prefix = `CognitoIdentityServiceProvider.${promptPool.clientId}`;
  assert.equal(promptStorage.getItem(`${prefix}.${promptUser}.refreshToken`), null);
  // forgetSpecificDevice leaves the library's stored device in place.
  assert.equal(storedDevice(promptStorage, promptPool, promptUser).key, promptDevice.key);
});

test('prompt pool: a sign-in naming the forgotten device gets "Device does not exist.", retries without it and is asked for MFA', async () => {
  const user = newUser(promptPool, promptUser, promptStorage);
  let mark = sent.length;
  const [name] = expectCallback(await signIn(user, promptUser), 'totpRequired');
  assert.equal(name, 'SOFTWARE_TOKEN_MFA');
  const [, named, retried] = since(mark);
  assert.equal(named.body.ChallengeName, 'PASSWORD_VERIFIER');
  assert.equal(named.body.ChallengeResponses.DEVICE_KEY, promptDevice.key);
  assert.equal(named.status, 400);
  assert.equal(named.answer.__type?.split('#').pop(), 'ResourceNotFoundException');
  assert.equal(named.answer.message, 'Device does not exist.');
  // The library sends the same proof on the same session again with the key nulled, and the
  // session tessera kept answers it.
  assert.equal(retried.body.ChallengeName, 'PASSWORD_VERIFIER');
  assert.equal(retried.body.ChallengeResponses.DEVICE_KEY, null);
  assert.equal(retried.body.Session, named.body.Session);
  assert.equal(
    retried.body.ChallengeResponses.PASSWORD_CLAIM_SIGNATURE,
    named.body.ChallengeResponses.PASSWORD_CLAIM_SIGNATURE,
  );
  assert.equal(retried.answer.ChallengeName, 'SOFTWARE_TOKEN_MFA');
  assert.equal(storedDevice(promptStorage, promptPool, promptUser).key, null, 'the library dropped the forgotten device');

  mark = sent.length;
  const [session, userConfirmationNecessary] = expectCallback(
    await sendTotp(user, await promptAuthenticator.code()),
    'onSuccess',
  );
  assert.equal(userConfirmationNecessary, true);
  assert.equal(since(mark)[0].body.ChallengeResponses.DEVICE_KEY, undefined);
  const renewed = confirmedNewDevice(mark, promptStorage, promptPool, promptUser, true);
  assert.notEqual(renewed.key, promptDevice.key, 'a new device, not the forgotten one');
  assert.equal((await verified(session, promptPool, promptUser)).device_key, renewed.key);
  promptDevice = renewed;
  signedIn = user;
});

test("prompt pool: forgetDevice drops the library's device too, and the next sign-in is asked for MFA", async () => {
  assert.equal(await call((cb) => signedIn.setDeviceStatusRemembered(cb)), 'SUCCESS');
  let mark = sent.length;
  assert.equal(await call((cb) => signedIn.forgetDevice(cb)), 'SUCCESS');
  assert.equal(since(mark)[0].body.DeviceKey, promptDevice.key);
  assert.deepEqual(storedDevice(promptStorage, promptPool, promptUser), { key: null, groupKey: null, password: null });
  assert.deepEqual((await listDevices(signedIn)).Devices, []);
  report.forgotten.push(promptDevice.key);

  // Remembered until it was forgotten, yet now the sign-in names no device and MFA is asked.
  const user = newUser(promptPool, promptUser, promptStorage);
  mark = sent.length;
  expectCallback(await signIn(user, promptUser), 'totpRequired');
  assert.ok(since(mark).every((r) => (r.body.AuthParameters ?? r.body.ChallengeResponses).DEVICE_KEY === undefined));
  mark = sent.length;
  const [session, userConfirmationNecessary] = expectCallback(
    await sendTotp(user, await promptAuthenticator.code()),
    'onSuccess',
  );
  assert.equal(userConfirmationNecessary, true);
  promptDevice = confirmedNewDevice(mark, promptStorage, promptPool, promptUser, true);
  assert.ok(!report.forgotten.includes(promptDevice.key));
  assert.equal((await verified(session, promptPool, promptUser)).device_key, promptDevice.key);
  assert.deepEqual((await listDevices(user)).Devices.map((d) => d.DeviceKey), [promptDevice.key]);
  report.prompt = promptDevice.key;
});

// --- a pool that always remembers ------------------------------------------------------------
test('always pool: ConfirmDevice needs no confirmation and the next sign-in asks no MFA', async () => {
  const storage = new MemoryStorage();
  const user = newUser(alwaysPool, alwaysUser, storage);
  expectCallback(await signIn(user, alwaysUser), 'totpRequired');
  let mark = sent.length;
  const args = expectCallback(await sendTotp(user, await alwaysAuthenticator.code()), 'onSuccess');
  // UserConfirmationNecessary false: the library calls onSuccess with the session alone.
  assert.equal(args.length, 1);
  const device = confirmedNewDevice(mark, storage, alwaysPool, alwaysUser, false);
  assert.equal((await verified(args[0], alwaysPool, alwaysUser)).device_key, device.key);
  const got = (await getDevice(user)).Device;
  assert.equal(attributes(got)['dev:device_remembered_status'], 'remembered', 'remembered without being asked');
  assert.equal(attributes(got).device_name, DEVICE_NAME);

  const again = newUser(alwaysPool, alwaysUser, storage);
  mark = sent.length;
  const [session, flag] = expectCallback(await signIn(again, alwaysUser), 'onSuccess');
  assert.equal(flag, undefined);
  assert.deepEqual(answered(mark), ['PASSWORD_VERIFIER', 'DEVICE_SRP_AUTH', 'DEVICE_PASSWORD_VERIFIER']);
  provedDevice(mark, device.key);
  const access = await verified(session, alwaysPool, alwaysUser);
  assert.equal(access.device_key, device.key);
  assert.equal(decodeJwt(session.getIdToken().getJwtToken())['cognito:username'], alwaysUser);
  report.always = device.key;
});

test('the device keys are handed to the driver', () => {
  assert.ok(report.prompt && report.always && report.forgotten.length === 2, JSON.stringify(report));
  writeFileSync(reportPath, JSON.stringify(report));
});
