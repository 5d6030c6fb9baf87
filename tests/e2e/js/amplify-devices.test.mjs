// Amplify JS v6 (npm `aws-amplify`) remembered devices against tessera pools that track devices,
// through Amplify's own API as an app uses it: signIn / confirmSignIn with the TOTP step, the
// ConfirmDevice Amplify sends by itself when a sign-in returns NewDeviceMetadata,
// rememberDevice, fetchDevices, forgetDevice, the DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER
// exchange Amplify answers by itself for a known device, and fetchAuthSession({ forceRefresh })
// (GetTokensFromRefreshToken with the DeviceKey). Every request Amplify sends is recorded, and
// each test checks which operations went out and what tessera answered.
// Run by tests/e2e/test_amplify_devices.py, which makes two pools and passes them in:
//   TESSERA_E2E_ENDPOINT            <server url> (no trailing slash)
//   TESSERA_E2E_PROMPT_POOL_ID, TESSERA_E2E_PROMPT_CLIENT_ID
//                                   DeviceConfiguration {ChallengeRequiredOnNewDevice: true,
//                                   DeviceOnlyRememberedOnUserPrompt: true}, MFA OPTIONAL, TOTP
//   TESSERA_E2E_ALWAYS_POOL_ID, TESSERA_E2E_ALWAYS_CLIENT_ID
//                                   the same with DeviceOnlyRememberedOnUserPrompt false
//   TESSERA_E2E_PASSWORD            every user's password
//   TESSERA_E2E_PROMPT_USER, TESSERA_E2E_ALWAYS_USER
//                                   one user in each pool, TOTP enabled and preferred
//   TESSERA_E2E_PROMPT_SECRET, TESSERA_E2E_ALWAYS_SECRET
//                                   their TOTP secrets (base32)
//   TESSERA_E2E_PROMPT_USED_STEP, TESSERA_E2E_ALWAYS_USED_STEP
//                                   the 30-second step whose code enrolment used up
//   TESSERA_E2E_RESULTS             a file the device keys are written to as JSON, for the
//                                   driver's checks through the admin API
//
// TOTP codes come from an authenticator written here with node:crypto (RFC 6238: HMAC-SHA1,
// 6 digits, 30-second steps over the base32 secret), as in amplify-mfa.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Amplify } from 'aws-amplify';
import {
  confirmSignIn,
  fetchAuthSession,
  fetchDevices,
  fetchUserAttributes,
  forgetDevice,
  getCurrentUser,
  rememberDevice,
  signIn,
  signOut,
} from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';
import { MemoryStorage } from './memory-storage.mjs';

// Amplify names the device it confirms after `navigator.userAgent` (getDeviceName in
// @aws-amplify/core). Node 20 has no `navigator`, and Amplify drops the resulting error
// silently, leaving the device unconfirmed, so the test gives it one. It is defined rather than
// assigned because newer Node versions have a getter-only `navigator`.
const DEVICE_NAME = 'tessera-e2e';
const SECOND_DEVICE_NAME = 'tessera-e2e-second-browser';
const userAgent = { userAgent: DEVICE_NAME };
Object.defineProperty(globalThis, 'navigator', { value: userAgent, configurable: true, writable: true });

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run by tests/e2e/test_amplify_devices.py)`);
  return value;
};
const endpoint = env('TESSERA_E2E_ENDPOINT');
const promptPool = { poolId: env('TESSERA_E2E_PROMPT_POOL_ID'), clientId: env('TESSERA_E2E_PROMPT_CLIENT_ID') };
const alwaysPool = { poolId: env('TESSERA_E2E_ALWAYS_POOL_ID'), clientId: env('TESSERA_E2E_ALWAYS_CLIENT_ID') };
const password = env('TESSERA_E2E_PASSWORD');
const promptUser = env('TESSERA_E2E_PROMPT_USER');
const alwaysUser = env('TESSERA_E2E_ALWAYS_USER');
const resultsFile = env('TESSERA_E2E_RESULTS');

// The keys of the devices this file made, for the driver.
const results = {};
function record(name, value) {
  results[name] = value;
  writeFileSync(resultsFile, JSON.stringify(results, null, 1));
}

// --- the operations Amplify sends, and what tessera answers --------------------------------
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
  const entry = { url: String(url), operation: target.split('.').pop(), body };
  sent.push(entry);
  const response = await realFetch(url, options);
  entry.status = response.status;
  try {
    entry.response = await response.clone().json();
  } catch {
    // Not JSON: recorded without a response body.
  }
  return response;
};
const since = (mark) => sent.slice(mark);
const show = (records) => JSON.stringify(records.map(({ operation, status, body, response }) => ({ operation, status, body, response })), null, 1);
// The operation names of `records`, with the challenge a RespondToAuthChallenge answered.
const steps = (records) => records.map((r) => (r.operation === 'RespondToAuthChallenge' ? `${r.operation}:${r.body.ChallengeName}` : r.operation));

async function assertRefused(promise, name, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    if (message instanceof RegExp) assert.match(err.message, message);
    else if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

// --- configuration: one pool at a time; a storage is one browser's local storage ------------
let storage;
let keyPrefix;
function usePool({ poolId, clientId }) {
  Amplify.configure({
    Auth: { Cognito: { userPoolId: poolId, userPoolClientId: clientId, userPoolEndpoint: endpoint } },
  });
  // Amplify.configure points the token provider at its default storage again, so the memory
  // storage is set after each configure.
  useStorage(new MemoryStorage());
  keyPrefix = `CognitoIdentityServiceProvider.${clientId}`;
}
function useStorage(next) {
  storage = next;
  cognitoUserPoolsTokenProvider.setKeyValueStorage(storage);
}

// What Amplify keeps about the user's device in the browser's storage.
function storedDevice(username) {
  const item = (name) => storage.getItem(`${keyPrefix}.${username}.${name}`);
  return { key: item('deviceKey'), groupKey: item('deviceGroupKey'), password: item('randomPasswordKey') };
}

// --- TOTP: RFC 4226 HOTP over 30-second steps (RFC 6238) ----------------------------------------
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function base32Decode(text) {
  let bits = 0;
  let value = 0;
  const out = [];
  for (const char of text.replace(/=+$/, '').toUpperCase()) {
    const index = BASE32.indexOf(char);
    assert.ok(index >= 0, `not base32: ${text}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
      value &= (1 << bits) - 1;
    }
  }
  return Buffer.from(out);
}
function hotp(key, counter) {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const digest = createHmac('sha1', key).update(message).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const number = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(number % 1_000_000).padStart(6, '0');
}
// The generator is checked against RFC 4226's own test values before any test relies on it.
assert.equal(hotp(Buffer.from('12345678901234567890'), 0), '755224');
assert.equal(hotp(Buffer.from('12345678901234567890'), 9), '520489');
assert.deepEqual(base32Decode('GEZDGNBVGY3TQOJQ'), Buffer.from('1234567890'));

// The user's authenticator app. tessera accepts the codes of the step before, of and after its
// own, and each step once per user, so `code()` hands out the code of the lowest step not used
// yet (enrolment used `usedStep`) that is acceptable now, waiting until at least ten seconds
// remain in the current step.
class Authenticator {
  constructor(secret, usedStep) {
    this.key = base32Decode(secret);
    this.last = usedStep;
  }

  async code() {
    for (;;) {
      const now = Date.now() / 1000;
      const step = Math.floor(now / 30);
      const left = 30 * (step + 1) - now;
      const wanted = Math.max(this.last + 1, step - 1);
      if (wanted <= step + 1 && left >= 10) {
        this.last = wanted;
        return hotp(this.key, wanted);
      }
      await sleep(250);
    }
  }
}
const promptAuthenticator = new Authenticator(env('TESSERA_E2E_PROMPT_SECRET'), Number(env('TESSERA_E2E_PROMPT_USED_STEP')));
const alwaysAuthenticator = new Authenticator(env('TESSERA_E2E_ALWAYS_SECRET'), Number(env('TESSERA_E2E_ALWAYS_USED_STEP')));

// --- checks shared by the tests below ---------------------------------------------------------
const TOTP_STEP = { isSignedIn: false, nextStep: { signInStep: 'CONFIRM_SIGN_IN_WITH_TOTP_CODE' } };
const DONE = { isSignedIn: true, nextStep: { signInStep: 'DONE' } };
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

// The signed-in user's access token, after checking that it is `username`'s, that it names
// `deviceKey` and that tessera takes it (GetUser through fetchUserAttributes).
async function assertSignedInWithDevice(username, { clientId }, deviceKey) {
  const user = await getCurrentUser();
  assert.equal(user.username, username);
  const { tokens, userSub } = await fetchAuthSession();
  const access = tokens.accessToken.payload;
  assert.equal(access.username, username);
  assert.equal(access.client_id, clientId);
  assert.equal(access.device_key, deviceKey, 'the access token names the device');
  assert.equal((await fetchUserAttributes()).sub, userSub);
  return tokens.accessToken;
}

async function signOutAndCheck() {
  await signOut();
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');
}

// The sign-in's first step over SRP without a device key: the TOTP step.
async function signInToTotpStep(username) {
  const mark = sent.length;
  assert.deepEqual(await signIn({ username, password }), TOTP_STEP);
  const ops = since(mark);
  assert.deepEqual(steps(ops), ['InitiateAuth', 'RespondToAuthChallenge:PASSWORD_VERIFIER'], show(ops));
  assert.equal(ops[0].body.AuthFlow, 'USER_SRP_AUTH');
  return ops;
}

// confirmSignIn with a TOTP code on a sign-in that named no device: tessera issues a new device
// with the tokens, and Amplify confirms it by itself with ConfirmDevice. Returns the device.
async function confirmWithNewDevice(username, pool, code, { userConfirmationNecessary, deviceName }) {
  const mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), DONE);
  const ops = since(mark);
  assert.deepEqual(steps(ops), ['RespondToAuthChallenge:SOFTWARE_TOKEN_MFA', 'ConfirmDevice'], show(ops));
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: username, SOFTWARE_TOKEN_MFA_CODE: code });
  const result = ops[0].response.AuthenticationResult;
  assert.ok(result?.AccessToken, show(ops));
  const { DeviceKey: key, DeviceGroupKey: groupKey } = result.NewDeviceMetadata ?? {};
  // `<region>_<uuid>` in the pool's region (mfa-facts.md 4.2).
  const region = pool.poolId.split('_')[0];
  assert.match(key ?? '', new RegExp(`^${region}_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`), show(ops));
  assert.ok(groupKey, 'a DeviceGroupKey');

  // Amplify's ConfirmDevice: the sign-in's access token, the device it was issued, the name
  // from navigator.userAgent and the verifier of a device password Amplify made up.
  const confirm = ops[1];
  assert.deepEqual(Object.keys(confirm.body).sort(), ['AccessToken', 'DeviceKey', 'DeviceName', 'DeviceSecretVerifierConfig']);
  assert.equal(confirm.body.AccessToken, result.AccessToken);
  assert.equal(confirm.body.DeviceKey, key);
  assert.equal(confirm.body.DeviceName, deviceName);
  assert.deepEqual(Object.keys(confirm.body.DeviceSecretVerifierConfig).sort(), ['PasswordVerifier', 'Salt']);
  assert.match(confirm.body.DeviceSecretVerifierConfig.PasswordVerifier, BASE64);
  assert.match(confirm.body.DeviceSecretVerifierConfig.Salt, BASE64);
  assert.equal(confirm.status, 200, show(ops));
  assert.deepEqual(confirm.response, { UserConfirmationNecessary: userConfirmationNecessary });

  // Amplify kept the device, so the next sign-in in this browser names it.
  const stored = storedDevice(username);
  assert.equal(stored.key, key);
  assert.equal(stored.groupKey, groupKey);
  assert.ok(stored.password, 'the device password is stored');
  await assertSignedInWithDevice(username, pool, key);
  return { key, groupKey };
}

// The device exchange Amplify runs by itself when tessera answers DEVICE_SRP_AUTH: `ops` from
// the request that got DEVICE_SRP_AUTH on. Returns the final response.
function assertDeviceExchange(ops, username, deviceKey) {
  const [asked, exchange, verifier] = ops;
  assert.equal(asked.response.ChallengeName, 'DEVICE_SRP_AUTH', show(ops));
  assert.ok(asked.response.Session, 'DEVICE_SRP_AUTH comes with a session');
  assert.deepEqual(asked.response.ChallengeParameters, { USERNAME: username });

  assert.equal(exchange.body.ChallengeName, 'DEVICE_SRP_AUTH');
  assert.equal(exchange.body.Session, asked.response.Session);
  assert.deepEqual(Object.keys(exchange.body.ChallengeResponses).sort(), ['DEVICE_KEY', 'SRP_A', 'USERNAME']);
  assert.equal(exchange.body.ChallengeResponses.DEVICE_KEY, deviceKey);
  assert.equal(exchange.status, 200, show(ops));
  assert.equal(exchange.response.ChallengeName, 'DEVICE_PASSWORD_VERIFIER');
  assert.deepEqual(Object.keys(exchange.response.ChallengeParameters).sort(), ['DEVICE_KEY', 'SALT', 'SECRET_BLOCK', 'SRP_B', 'USERNAME']);
  assert.equal(exchange.response.ChallengeParameters.DEVICE_KEY, deviceKey);

  assert.equal(verifier.body.ChallengeName, 'DEVICE_PASSWORD_VERIFIER');
  assert.equal(verifier.body.Session, exchange.response.Session);
  assert.equal(verifier.body.ChallengeResponses.DEVICE_KEY, deviceKey);
  assert.equal(verifier.body.ChallengeResponses.PASSWORD_CLAIM_SECRET_BLOCK, exchange.response.ChallengeParameters.SECRET_BLOCK);
  assert.equal(verifier.status, 200, show(ops));
  const result = verifier.response.AuthenticationResult;
  assert.ok(result?.AccessToken && result?.RefreshToken, show(ops));
  // A known device gets no new one.
  assert.equal(result.NewDeviceMetadata, undefined);
  return result;
}

// A raw GetTokensFromRefreshToken, as Amplify sends it, outside Amplify's token store.
async function refreshDirectly({ clientId }, refreshToken, deviceKey) {
  const response = await realFetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'AWSCognitoIdentityProviderService.GetTokensFromRefreshToken',
    },
    body: JSON.stringify({ ClientId: clientId, RefreshToken: refreshToken, DeviceKey: deviceKey }),
  });
  return { status: response.status, body: await response.json() };
}

// =============================================================================================
// A pool that remembers devices when the user says so (DeviceOnlyRememberedOnUserPrompt true)
// and lets a remembered device stand in for MFA (ChallengeRequiredOnNewDevice true).
// =============================================================================================
let promptDevice;

test('PROMPT: signIn stops at the TOTP step; confirmSignIn signs in and Amplify confirms the new device', async () => {
  usePool(promptPool);
  const ops = await signInToTotpStep(promptUser);
  // This browser has no device yet: none is named.
  assert.equal(ops[0].body.AuthParameters.DEVICE_KEY, undefined);
  assert.equal(ops[1].body.ChallengeResponses.DEVICE_KEY, undefined);
  assert.equal(ops[1].response.ChallengeName, 'SOFTWARE_TOKEN_MFA');
  assert.equal(ops[1].response.AuthenticationResult, undefined);

  promptDevice = await confirmWithNewDevice(promptUser, promptPool, await promptAuthenticator.code(), {
    // The pool leaves remembering to the user.
    userConfirmationNecessary: true,
    deviceName: DEVICE_NAME,
  });
});

test('PROMPT: a confirmed device that is not remembered does not replace MFA; Amplify proves it after the TOTP step', async () => {
  await signOutAndCheck();
  // Signing out keeps the device in the browser.
  assert.equal(storedDevice(promptUser).key, promptDevice.key);

  const ops = await signInToTotpStep(promptUser);
  // Over SRP Amplify names the device in the PASSWORD_VERIFIER answer.
  assert.equal(ops[1].body.ChallengeResponses.DEVICE_KEY, promptDevice.key);
  assert.equal(ops[1].response.ChallengeName, 'SOFTWARE_TOKEN_MFA');

  const code = await promptAuthenticator.code();
  const mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), DONE);
  const after = since(mark);
  assert.deepEqual(
    steps(after),
    ['RespondToAuthChallenge:SOFTWARE_TOKEN_MFA', 'RespondToAuthChallenge:DEVICE_SRP_AUTH', 'RespondToAuthChallenge:DEVICE_PASSWORD_VERIFIER'],
    show(after),
  );
  assert.deepEqual(after[0].body.ChallengeResponses, { USERNAME: promptUser, SOFTWARE_TOKEN_MFA_CODE: code, DEVICE_KEY: promptDevice.key });
  assertDeviceExchange(after, promptUser, promptDevice.key);
  await assertSignedInWithDevice(promptUser, promptPool, promptDevice.key);
});

test('PROMPT: rememberDevice sends UpdateDeviceStatus; fetchDevices lists the device with its name', async () => {
  let mark = sent.length;
  await rememberDevice();
  let ops = since(mark);
  assert.deepEqual(steps(ops), ['UpdateDeviceStatus'], show(ops));
  assert.deepEqual(Object.keys(ops[0].body).sort(), ['AccessToken', 'DeviceKey', 'DeviceRememberedStatus']);
  assert.equal(ops[0].body.DeviceKey, promptDevice.key);
  assert.equal(ops[0].body.DeviceRememberedStatus, 'remembered');
  assert.equal(ops[0].status, 200, show(ops));

  mark = sent.length;
  const devices = await fetchDevices();
  ops = since(mark);
  assert.deepEqual(steps(ops), ['ListDevices'], show(ops));
  assert.equal(ops[0].body.Limit, 60);
  assert.equal(devices.length, 1, JSON.stringify(devices));
  const [device] = devices;
  assert.equal(device.id, promptDevice.key);
  assert.equal(device.name, DEVICE_NAME);
  assert.equal(device.attributes.device_name, DEVICE_NAME);
  assert.equal(device.attributes.device_status, 'valid');
  // Amplify turns the epoch seconds into dates; the device was made and used minutes ago at most.
  for (const date of [device.createDate, device.lastModifiedDate, device.lastAuthenticatedDate]) {
    assert.ok(date instanceof Date && Math.abs(date.getTime() - Date.now()) < 5 * 60_000, JSON.stringify(device));
  }
  // The device proved itself after the first sign-in, and was remembered after it was made.
  assert.ok(device.lastAuthenticatedDate >= device.createDate);
  assert.ok(device.lastModifiedDate >= device.createDate);
});

test('PROMPT: with the device remembered, signIn signs straight in: Amplify answers DEVICE_SRP_AUTH itself and no MFA step comes', async () => {
  await signOutAndCheck();
  const mark = sent.length;
  assert.deepEqual(await signIn({ username: promptUser, password }), DONE);
  const ops = since(mark);
  assert.deepEqual(
    steps(ops),
    [
      'InitiateAuth',
      'RespondToAuthChallenge:PASSWORD_VERIFIER',
      'RespondToAuthChallenge:DEVICE_SRP_AUTH',
      'RespondToAuthChallenge:DEVICE_PASSWORD_VERIFIER',
    ],
    show(ops),
  );
  assert.equal(ops[1].body.ChallengeResponses.DEVICE_KEY, promptDevice.key);
  // The password step leads to the device, not to SOFTWARE_TOKEN_MFA, and Amplify follows it.
  assertDeviceExchange(ops.slice(1), promptUser, promptDevice.key);
  assert.ok(!ops.some((r) => r.response?.ChallengeName === 'SOFTWARE_TOKEN_MFA'), show(ops));
  await assertSignedInWithDevice(promptUser, promptPool, promptDevice.key);
});

test('PROMPT: fetchAuthSession({ forceRefresh: true }) refreshes with GetTokensFromRefreshToken naming the device', async () => {
  const before = (await fetchAuthSession()).tokens.accessToken;
  const refreshToken = storage.getItem(`${keyPrefix}.${promptUser}.refreshToken`);
  const mark = sent.length;
  const { tokens } = await fetchAuthSession({ forceRefresh: true });
  const ops = since(mark);
  assert.deepEqual(steps(ops), ['GetTokensFromRefreshToken'], show(ops));
  assert.deepEqual(ops[0].body, { ClientId: promptPool.clientId, RefreshToken: refreshToken, DeviceKey: promptDevice.key });
  assert.equal(ops[0].status, 200, show(ops));
  // New tokens, for the same sign-in and the same device.
  assert.notEqual(tokens.accessToken.toString(), before.toString());
  assert.equal(tokens.accessToken.payload.auth_time, before.payload.auth_time);
  const access = await assertSignedInWithDevice(promptUser, promptPool, promptDevice.key);
  assert.equal(access.toString(), tokens.accessToken.toString());
});

test('PROMPT: forgetDevice sends ForgetDevice and clears the stored device; its refresh token ends with it', async () => {
  const refreshToken = storage.getItem(`${keyPrefix}.${promptUser}.refreshToken`);
  assert.ok(refreshToken);
  let mark = sent.length;
  await forgetDevice();
  let ops = since(mark);
  assert.deepEqual(steps(ops), ['ForgetDevice'], show(ops));
  assert.deepEqual(Object.keys(ops[0].body).sort(), ['AccessToken', 'DeviceKey']);
  assert.equal(ops[0].body.DeviceKey, promptDevice.key);
  assert.equal(ops[0].status, 200, show(ops));
  assert.deepEqual(storedDevice(promptUser), { key: null, groupKey: null, password: null });
  // The access token still works until it expires, and the user has no devices left.
  assert.deepEqual(await fetchDevices(), []);

  // The refresh token was the device's: refused, even with the device named as before.
  const direct = await refreshDirectly(promptPool, refreshToken, promptDevice.key);
  assert.equal(direct.status, 400, JSON.stringify(direct));
  assert.equal(direct.body.__type, 'NotAuthorizedException', JSON.stringify(direct));
  // Amplify's own forced refresh is refused too; Amplify then drops the session.
  mark = sent.length;
  const session = await fetchAuthSession({ forceRefresh: true });
  ops = since(mark);
  assert.deepEqual(steps(ops), ['GetTokensFromRefreshToken'], show(ops));
  assert.equal(ops[0].status, 400, show(ops));
  assert.equal(ops[0].response.__type, 'NotAuthorizedException', show(ops));
  assert.equal(session.tokens, undefined);
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');
});

test('PROMPT: after forgetDevice the next signIn asks for the TOTP code again and Amplify confirms a new device', async () => {
  const ops = await signInToTotpStep(promptUser);
  assert.equal(ops[1].body.ChallengeResponses.DEVICE_KEY, undefined);
  assert.equal(ops[1].response.ChallengeName, 'SOFTWARE_TOKEN_MFA');
  const device = await confirmWithNewDevice(promptUser, promptPool, await promptAuthenticator.code(), {
    userConfirmationNecessary: true,
    deviceName: DEVICE_NAME,
  });
  assert.notEqual(device.key, promptDevice.key);
  assert.deepEqual((await fetchDevices()).map((d) => [d.id, d.name]), [[device.key, DEVICE_NAME]]);
  record('prompt', { forgotten: promptDevice.key, current: device.key });
  await signOutAndCheck();
});

// =============================================================================================
// A pool that remembers every confirmed device at once (DeviceOnlyRememberedOnUserPrompt false).
// =============================================================================================
let firstBrowser;
let alwaysDevice;

test('ALWAYS: the first signIn asks for the TOTP code; the device Amplify confirms is remembered at once', async () => {
  usePool(alwaysPool);
  firstBrowser = storage;
  const ops = await signInToTotpStep(alwaysUser);
  assert.equal(ops[1].response.ChallengeName, 'SOFTWARE_TOKEN_MFA');
  alwaysDevice = await confirmWithNewDevice(alwaysUser, alwaysPool, await alwaysAuthenticator.code(), {
    userConfirmationNecessary: false,
    deviceName: DEVICE_NAME,
  });
  assert.deepEqual((await fetchDevices()).map((d) => [d.id, d.name]), [[alwaysDevice.key, DEVICE_NAME]]);
});

test('ALWAYS: the second signIn skips MFA through DEVICE_SRP_AUTH without rememberDevice', async () => {
  const poolMark = sent.findIndex((r) => r.body.ClientId === alwaysPool.clientId);
  await signOutAndCheck();
  const mark = sent.length;
  assert.deepEqual(await signIn({ username: alwaysUser, password }), DONE);
  const ops = since(mark);
  assert.deepEqual(
    steps(ops),
    [
      'InitiateAuth',
      'RespondToAuthChallenge:PASSWORD_VERIFIER',
      'RespondToAuthChallenge:DEVICE_SRP_AUTH',
      'RespondToAuthChallenge:DEVICE_PASSWORD_VERIFIER',
    ],
    show(ops),
  );
  assertDeviceExchange(ops.slice(1), alwaysUser, alwaysDevice.key);
  await assertSignedInWithDevice(alwaysUser, alwaysPool, alwaysDevice.key);
  // Nothing in this pool ever asked to remember the device.
  assert.ok(poolMark >= 0);
  assert.ok(!steps(since(poolMark)).includes('UpdateDeviceStatus'), show(since(poolMark)));
});

test('ALWAYS: over USER_PASSWORD_AUTH Amplify names the device in InitiateAuth, which answers DEVICE_SRP_AUTH at once', async () => {
  await signOutAndCheck();
  const mark = sent.length;
  assert.deepEqual(await signIn({ username: alwaysUser, password, options: { authFlowType: 'USER_PASSWORD_AUTH' } }), DONE);
  const ops = since(mark);
  assert.deepEqual(
    steps(ops),
    ['InitiateAuth', 'RespondToAuthChallenge:DEVICE_SRP_AUTH', 'RespondToAuthChallenge:DEVICE_PASSWORD_VERIFIER'],
    show(ops),
  );
  assert.deepEqual(ops[0].body.AuthParameters, { USERNAME: alwaysUser, PASSWORD: password, DEVICE_KEY: alwaysDevice.key });
  assertDeviceExchange(ops, alwaysUser, alwaysDevice.key);
  await assertSignedInWithDevice(alwaysUser, alwaysPool, alwaysDevice.key);
  // This browser stays signed in for the last test.
});

let secondDevice;

test('ALWAYS: a second browser gets a device of its own, and forgets the first browser\'s with forgetDevice({ device })', async () => {
  useStorage(new MemoryStorage());
  userAgent.userAgent = SECOND_DEVICE_NAME;
  try {
    const ops = await signInToTotpStep(alwaysUser);
    assert.equal(ops[1].body.ChallengeResponses.DEVICE_KEY, undefined);
    assert.equal(ops[1].response.ChallengeName, 'SOFTWARE_TOKEN_MFA');
    secondDevice = await confirmWithNewDevice(alwaysUser, alwaysPool, await alwaysAuthenticator.code(), {
      userConfirmationNecessary: false,
      deviceName: SECOND_DEVICE_NAME,
    });
  } finally {
    userAgent.userAgent = DEVICE_NAME;
  }
  const listed = (await fetchDevices()).map((d) => [d.id, d.name]).sort();
  assert.deepEqual(listed, [[alwaysDevice.key, DEVICE_NAME], [secondDevice.key, SECOND_DEVICE_NAME]].sort());

  const mark = sent.length;
  await forgetDevice({ device: { id: alwaysDevice.key } });
  const ops = since(mark);
  assert.deepEqual(steps(ops), ['ForgetDevice'], show(ops));
  assert.equal(ops[0].body.DeviceKey, alwaysDevice.key);
  assert.equal(ops[0].status, 200, show(ops));
  // This browser's own device is untouched.
  assert.equal(storedDevice(alwaysUser).key, secondDevice.key);
  assert.deepEqual((await fetchDevices()).map((d) => d.id), [secondDevice.key]);
  await signOutAndCheck();
  assert.equal(storedDevice(alwaysUser).key, secondDevice.key);
});

test('ALWAYS: back in the first browser the refresh fails, and signIn drops the forgotten device on "Device does not exist." and asks for TOTP', async () => {
  useStorage(firstBrowser);
  assert.equal(storedDevice(alwaysUser).key, alwaysDevice.key);
  // The first browser's session was the forgotten device's: its refresh is refused.
  let mark = sent.length;
  const session = await fetchAuthSession({ forceRefresh: true });
  let ops = since(mark);
  assert.deepEqual(steps(ops), ['GetTokensFromRefreshToken'], show(ops));
  assert.equal(ops[0].body.DeviceKey, alwaysDevice.key);
  assert.equal(ops[0].status, 400, show(ops));
  assert.equal(ops[0].response.__type, 'NotAuthorizedException', show(ops));
  assert.equal(session.tokens, undefined);

  // Amplify still names the device; tessera answers Cognito's `Device does not exist.`, and
  // Amplify forgets the device and answers the same password step again without it.
  mark = sent.length;
  assert.deepEqual(await signIn({ username: alwaysUser, password }), TOTP_STEP);
  ops = since(mark);
  assert.deepEqual(
    steps(ops),
    ['InitiateAuth', 'RespondToAuthChallenge:PASSWORD_VERIFIER', 'RespondToAuthChallenge:PASSWORD_VERIFIER'],
    show(ops),
  );
  assert.equal(ops[1].body.ChallengeResponses.DEVICE_KEY, alwaysDevice.key);
  assert.equal(ops[1].status, 400, show(ops));
  assert.equal(ops[1].response.__type, 'ResourceNotFoundException');
  assert.equal(ops[1].response.message, 'Device does not exist.');
  assert.equal(ops[2].body.ChallengeResponses.DEVICE_KEY, undefined);
  assert.equal(ops[2].body.ChallengeResponses.PASSWORD_CLAIM_SECRET_BLOCK, ops[1].body.ChallengeResponses.PASSWORD_CLAIM_SECRET_BLOCK);
  assert.equal(ops[2].response.ChallengeName, 'SOFTWARE_TOKEN_MFA', show(ops));
  assert.deepEqual(storedDevice(alwaysUser), { key: null, groupKey: null, password: null });

  const device = await confirmWithNewDevice(alwaysUser, alwaysPool, await alwaysAuthenticator.code(), {
    userConfirmationNecessary: false,
    deviceName: DEVICE_NAME,
  });
  assert.ok(![alwaysDevice.key, secondDevice.key].includes(device.key));
  const listed = (await fetchDevices()).map((d) => d.id).sort();
  assert.deepEqual(listed, [secondDevice.key, device.key].sort());
  record('always', { forgotten: alwaysDevice.key, second: secondDevice.key, current: device.key });
  await signOutAndCheck();
});
