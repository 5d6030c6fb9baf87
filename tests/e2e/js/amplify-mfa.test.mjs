// Amplify JS v6 (npm `aws-amplify`) MFA APIs against tessera pools that ask for MFA, the way an
// app uses them: setUpTOTP / getSetupUri, verifyTOTPSetup, updateMFAPreference,
// fetchMFAPreference, and the sign-in steps CONFIRM_SIGN_IN_WITH_TOTP_CODE,
// CONFIRM_SIGN_IN_WITH_EMAIL_CODE, CONFIRM_SIGN_IN_WITH_SMS_CODE,
// CONTINUE_SIGN_IN_WITH_MFA_SELECTION and CONTINUE_SIGN_IN_WITH_TOTP_SETUP answered through
// confirmSignIn, over SRP (Amplify's default) and USER_PASSWORD_AUTH, with the errors Amplify
// passes on from tessera (a reused TOTP code, a wrong code, a wrong code at enrolment).
// Run by tests/e2e/test_amplify_mfa.py, which makes two pools and passes them in:
//   TESSERA_E2E_ENDPOINT            <server url> (no trailing slash)
//   TESSERA_E2E_REGION              the region of the pools (signs the outbox request)
//   TESSERA_E2E_ADMIN_KEY_ID, TESSERA_E2E_ADMIN_SECRET
//                                   root access key, for the SigV4-signed GET /admin/outbox
//   TESSERA_E2E_OPTIONAL_POOL_ID, TESSERA_E2E_OPTIONAL_CLIENT_ID
//                                   MFA OPTIONAL with TOTP, SMS and e-mail codes
//   TESSERA_E2E_REQUIRED_POOL_ID, TESSERA_E2E_REQUIRED_CLIENT_ID
//                                   MFA ON with TOTP only
//   TESSERA_E2E_PASSWORD            every user's password
//   TESSERA_E2E_TOTP_USER           optional pool, e-mail <user>@example.com, nothing turned on
//   TESSERA_E2E_EMAIL_USER          optional pool, e-mail <user>@example.com, nothing turned on
//   TESSERA_E2E_CHOICE_USER         optional pool, e-mail and TESSERA_E2E_CHOICE_PHONE
//   TESSERA_E2E_SETUP_USER          required pool, no factor yet
//
// E-mail and SMS codes are read from tessera's development outbox through its documented
// interface, GET /admin/outbox, signed here with SigV4 (node:crypto) as read_outbox in
// tests/e2e/helpers.py signs it with botocore; reading outbox.jsonl directly would tie the test
// to where the server keeps its data. TOTP codes come from an authenticator written here with
// node:crypto (RFC 6238: HMAC-SHA1, 6 digits, 30-second steps over the base32 secret).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Amplify } from 'aws-amplify';
import {
  confirmSignIn,
  fetchAuthSession,
  fetchMFAPreference,
  fetchUserAttributes,
  getCurrentUser,
  setUpTOTP,
  signIn,
  signOut,
  updateMFAPreference,
  verifyTOTPSetup,
} from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';
import { MemoryStorage } from './memory-storage.mjs';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run by tests/e2e/test_amplify_mfa.py)`);
  return value;
};
const endpoint = env('TESSERA_E2E_ENDPOINT');
const region = env('TESSERA_E2E_REGION');
const adminKeyId = env('TESSERA_E2E_ADMIN_KEY_ID');
const adminSecret = env('TESSERA_E2E_ADMIN_SECRET');
const optionalPool = { poolId: env('TESSERA_E2E_OPTIONAL_POOL_ID'), clientId: env('TESSERA_E2E_OPTIONAL_CLIENT_ID') };
const requiredPool = { poolId: env('TESSERA_E2E_REQUIRED_POOL_ID'), clientId: env('TESSERA_E2E_REQUIRED_CLIENT_ID') };
const password = env('TESSERA_E2E_PASSWORD');
const totpUser = env('TESSERA_E2E_TOTP_USER');
const emailUser = env('TESSERA_E2E_EMAIL_USER');
const choiceUser = env('TESSERA_E2E_CHOICE_USER');
const choicePhone = env('TESSERA_E2E_CHOICE_PHONE');
const setupUser = env('TESSERA_E2E_SETUP_USER');

const SCOPE = 'aws.cognito.signin.user.admin';
// The messages of the pool's EmailMfaConfiguration and SmsMfaConfiguration (set by the driver).
const EMAIL_MESSAGE = /^Your sign-in code is (\d{8})$/;
const SMS_MESSAGE = /^Your MFA code is (\d{6})$/;

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
  const record = { url: String(url), operation: target.split('.').pop(), body };
  sent.push(record);
  const response = await realFetch(url, options);
  record.status = response.status;
  try {
    record.response = await response.clone().json();
  } catch {
    // Not JSON: recorded without a response body.
  }
  return response;
};
const since = (mark) => sent.slice(mark);
const operations = (mark) => since(mark).map((r) => r.operation);
const show = (records) => JSON.stringify(records.map(({ operation, status, body, response }) => ({ operation, status, body, response })), null, 1);

async function assertRefused(promise, name, message) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, name, `expected ${name}, got ${err.name}: ${err.message}`);
    if (message instanceof RegExp) assert.match(err.message, message);
    else if (message !== undefined) assert.equal(err.message, message);
    return true;
  });
}

// --- configuration: one pool at a time, each with a fresh in-memory token store ---------------
let storage;
let keyPrefix;
function usePool({ poolId, clientId }) {
  Amplify.configure({
    Auth: { Cognito: { userPoolId: poolId, userPoolClientId: clientId, userPoolEndpoint: endpoint } },
  });
  // Amplify.configure points the token provider at its default storage again, so the memory
  // storage is set after each configure.
  storage = new MemoryStorage();
  cognitoUserPoolsTokenProvider.setKeyValueStorage(storage);
  keyPrefix = `CognitoIdentityServiceProvider.${clientId}`;
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

const currentStep = () => Math.floor(Date.now() / 30_000);

// The user's authenticator app. tessera accepts the codes of the step before, of and after its
// own, and each step once per user, so `code()` hands out the code of the lowest step not used
// yet that is acceptable now, waiting until at least `minLeft` seconds remain in the current step
// (and, once the next step is used too, until the clock moves on). The steps handed out only
// ever increase.
class Authenticator {
  constructor(secret) {
    this.key = base32Decode(secret);
    this.last = -Infinity;
  }

  codeAt(step) {
    return hotp(this.key, step);
  }

  async code(minLeft = 10) {
    for (;;) {
      const now = Date.now() / 1000;
      const step = Math.floor(now / 30);
      const left = 30 * (step + 1) - now;
      const wanted = Math.max(this.last + 1, step - 1);
      if (wanted <= step + 1 && left >= minLeft) {
        this.last = wanted;
        return { code: this.codeAt(wanted), step: wanted };
      }
      await sleep(250);
    }
  }

  // A six-digit code that is none of the acceptable ones right now.
  wrongCode() {
    const step = currentStep();
    const valid = new Set([step - 1, step, step + 1, step + 2].map((s) => this.codeAt(s)));
    for (let n = 0; ; n += 1) {
      const candidate = String(n * 111_111 % 1_000_000).padStart(6, '0');
      if (!valid.has(candidate)) return candidate;
    }
  }
}

// --- the development outbox, through SigV4-signed GET /admin/outbox ---------------------------
const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
// RFC 3986 encoding, as SigV4's canonical query string wants it.
const uriEncode = (text) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

async function readOutbox(poolId, username) {
  const params = { pool_id: poolId, username };
  const query = Object.keys(params)
    .sort()
    .map((key) => `${uriEncode(key)}=${uriEncode(params[key])}`)
    .join('&');
  const url = new URL(`/admin/outbox?${query}`, endpoint);
  const amzDate = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${region}/cognito-idp/aws4_request`;
  const signedHeaders = 'host;x-amz-date';
  const canonicalRequest = [
    'GET',
    '/admin/outbox',
    query,
    `host:${url.host}\nx-amz-date:${amzDate}\n`,
    signedHeaders,
    sha256(''),
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key = hmac(`AWS4${adminSecret}`, date);
  for (const part of [region, 'cognito-idp', 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  const response = await realFetch(url, {
    headers: {
      'x-amz-date': amzDate,
      authorization: `AWS4-HMAC-SHA256 Credential=${adminKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    },
  });
  const text = await response.text();
  assert.equal(response.status, 200, `GET /admin/outbox: ${response.status} ${text}`);
  const { messages } = JSON.parse(text);
  assert.ok(Array.isArray(messages), text);
  return messages;
}

// The one message delivered to `username` after the outbox held `before` of theirs (waiting a
// little in case delivery lags the response), with its code.
async function newOutboxCode(poolId, username, before, pattern) {
  let messages = await readOutbox(poolId, username);
  for (let tries = 0; messages.length === before && tries < 20; tries += 1) {
    await sleep(100);
    messages = await readOutbox(poolId, username);
  }
  assert.equal(messages.length, before + 1, `one new outbox message: ${JSON.stringify(messages.slice(before))}`);
  const message = messages.at(-1);
  const found = pattern.exec(message.body);
  assert.ok(found, `unexpected message body: ${JSON.stringify(message)}`);
  return { message, code: found[1] };
}

// --- checks shared by the sign-ins below ------------------------------------------------------
async function assertSignedInAs(username, { poolId, clientId }, authFlowType) {
  const user = await getCurrentUser();
  assert.equal(user.username, username);
  assert.deepEqual(user.signInDetails, { loginId: username, authFlowType });

  const { tokens, userSub } = await fetchAuthSession();
  assert.ok(tokens?.accessToken && tokens?.idToken, 'access and ID tokens');
  const issuer = `${endpoint}/${poolId}`;
  const id = tokens.idToken.payload;
  assert.equal(id.token_use, 'id');
  assert.equal(id['cognito:username'], username);
  assert.equal(id.aud, clientId);
  assert.equal(id.iss, issuer);
  assert.equal(id.sub, userSub);
  assert.equal(id.sub, user.userId);
  const access = tokens.accessToken.payload;
  assert.equal(access.token_use, 'access');
  assert.equal(access.username, username);
  assert.equal(access.client_id, clientId);
  assert.equal(access.iss, issuer);
  assert.equal(access.scope, SCOPE);
  assert.equal(access.sub, userSub);
  // Issued by this sign-in, not an older one.
  assert.ok(Math.abs(access.auth_time - Date.now() / 1000) < 60, `auth_time ${access.auth_time}`);
  assert.ok(storage.getItem(`${keyPrefix}.${username}.refreshToken`), 'a refresh token is stored');
  // tessera takes the access token: GetUser through Amplify.
  const attributes = await fetchUserAttributes();
  assert.equal(attributes.sub, userSub);
}

async function signOutAndCheck() {
  await signOut();
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');
}

// The response tessera gave to the last request of `records` that answered a challenge.
const lastAnswer = (records) => records.filter((r) => r.response && 'ChallengeName' in r.response).at(-1)?.response;

// =============================================================================================
// A TOTP user in an OPTIONAL pool: enrolment while signed in, then the TOTP step at sign-in.
// =============================================================================================
let totpAuthenticator;
let verifyStep;
let verifyCode;

test('TOTP: before a token is verified, updateMFAPreference cannot turn TOTP on', async () => {
  usePool(optionalPool);
  const result = await signIn({ username: totpUser, password });
  // Nothing is turned on yet: an OPTIONAL pool signs the user straight in.
  assert.equal(result.isSignedIn, true, JSON.stringify(result));
  assert.deepEqual(await fetchMFAPreference(), { preferred: undefined, enabled: undefined });

  await assertRefused(
    updateMFAPreference({ totp: 'PREFERRED' }),
    'InvalidParameterException',
    'User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA',
  );
  assert.deepEqual(await fetchMFAPreference(), { preferred: undefined, enabled: undefined });
});

test('TOTP: setUpTOTP (AssociateSoftwareToken with the access token) gives the secret and its otpauth URI', async () => {
  const mark = sent.length;
  const details = await setUpTOTP();
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['AssociateSoftwareToken'], show(ops));
  assert.deepEqual(Object.keys(ops[0].body), ['AccessToken']);
  assert.equal(ops[0].body.AccessToken, storage.getItem(`${keyPrefix}.${totpUser}.accessToken`));

  // A base32 secret (the model: [A-Za-z0-9]+, at least 16 characters).
  assert.match(details.sharedSecret, /^[A-Z2-7]{16,}$/);
  assert.equal(details.sharedSecret, ops[0].response.SecretCode);
  const uri = details.getSetupUri('tessera', totpUser);
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.searchParams.get('secret'), details.sharedSecret);
  assert.equal(uri.searchParams.get('issuer'), 'tessera');
  assert.equal(uri.host, 'totp');
  assert.equal(decodeURIComponent(uri.pathname), `/tessera:${totpUser}`);
  totpAuthenticator = new Authenticator(uri.searchParams.get('secret'));
});

test('TOTP: verifyTOTPSetup refuses a wrong code and accepts the right one with friendlyDeviceName', async () => {
  await assertRefused(
    verifyTOTPSetup({ code: totpAuthenticator.wrongCode() }),
    'EnableSoftwareTokenMFAException',
    'Code mismatch and fail enable Software Token MFA',
  );
  // The code of the previous step, taken with twenty seconds to spare: the sign-in below replays
  // it while it is still inside tessera's window.
  ({ code: verifyCode, step: verifyStep } = await totpAuthenticator.code(20));
  const mark = sent.length;
  await verifyTOTPSetup({ code: verifyCode, options: { friendlyDeviceName: 'amplify-phone' } });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['VerifySoftwareToken'], show(ops));
  assert.equal(ops[0].body.UserCode, verifyCode);
  assert.equal(ops[0].body.FriendlyDeviceName, 'amplify-phone');
  assert.deepEqual(ops[0].response, { Status: 'SUCCESS' });
  // Verified but not turned on: fetchMFAPreference still reports nothing.
  assert.deepEqual(await fetchMFAPreference(), { preferred: undefined, enabled: undefined });
});

test('TOTP: updateMFAPreference({ totp: PREFERRED }) and fetchMFAPreference reports it', async () => {
  const mark = sent.length;
  await updateMFAPreference({ totp: 'PREFERRED' });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['SetUserMFAPreference'], show(ops));
  assert.deepEqual(ops[0].body.SoftwareTokenMfaSettings, { Enabled: true, PreferredMfa: true });
  assert.equal(ops[0].body.SMSMfaSettings, undefined);
  assert.equal(ops[0].body.EmailMfaSettings, undefined);

  assert.deepEqual(await fetchMFAPreference(), { enabled: ['TOTP'], preferred: 'TOTP' });
  await signOutAndCheck();
});

test('TOTP: signIn over SRP stops at CONFIRM_SIGN_IN_WITH_TOTP_CODE', async () => {
  const mark = sent.length;
  const result = await signIn({ username: totpUser, password });
  assert.deepEqual(result, { isSignedIn: false, nextStep: { signInStep: 'CONFIRM_SIGN_IN_WITH_TOTP_CODE' } });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth', 'RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.AuthFlow, 'USER_SRP_AUTH');
  assert.equal(ops[1].body.ChallengeName, 'PASSWORD_VERIFIER');
  const challenge = ops[1].response;
  assert.equal(challenge.ChallengeName, 'SOFTWARE_TOKEN_MFA');
  assert.ok(challenge.Session, 'a session for the answer');
  assert.equal(challenge.AuthenticationResult, undefined);
  assert.deepEqual(challenge.ChallengeParameters, { FRIENDLY_DEVICE_NAME: 'amplify-phone', USER_ID_FOR_SRP: totpUser });
  // Not signed in until the code is given.
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');
});

test('TOTP: confirmSignIn refuses the code verifyTOTPSetup used and a wrong code, then signs in', async () => {
  // Still inside the window of the verified step, so the refusal is for reuse, not for age.
  assert.ok(currentStep() <= verifyStep + 1, 'the replay below must fall inside the acceptance window');
  let mark = sent.length;
  await assertRefused(
    confirmSignIn({ challengeResponse: verifyCode }),
    'ExpiredCodeException',
    'Your software token has already been used once.',
  );
  const replay = since(mark);
  assert.deepEqual(replay.map((r) => r.operation), ['RespondToAuthChallenge'], show(replay));
  assert.equal(replay[0].body.ChallengeName, 'SOFTWARE_TOKEN_MFA');
  assert.deepEqual(replay[0].body.ChallengeResponses, { USERNAME: totpUser, SOFTWARE_TOKEN_MFA_CODE: verifyCode });

  await assertRefused(
    confirmSignIn({ challengeResponse: totpAuthenticator.wrongCode() }),
    'CodeMismatchException',
    /^Invalid code/,
  );
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');

  // The session of the challenge survives both refusals: Amplify answers it again.
  const { code } = await totpAuthenticator.code();
  mark = sent.length;
  const result = await confirmSignIn({ challengeResponse: code });
  assert.deepEqual(result, { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.Session, replay[0].body.Session);
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: totpUser, SOFTWARE_TOKEN_MFA_CODE: code });
  assert.ok(ops[0].response.AuthenticationResult, show(ops));
  // Without device tracking there is no device to remember.
  assert.equal(ops[0].response.AuthenticationResult.NewDeviceMetadata, undefined);
});

test('TOTP: fetchAuthSession has the tokens of the MFA sign-in', async () => {
  await assertSignedInAs(totpUser, optionalPool, 'USER_SRP_AUTH');
  assert.deepEqual(await fetchMFAPreference(), { enabled: ['TOTP'], preferred: 'TOTP' });
  await signOutAndCheck();
});

test('TOTP: signIn with USER_PASSWORD_AUTH stops at the TOTP step too', async () => {
  let mark = sent.length;
  const result = await signIn({ username: totpUser, password, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
  assert.deepEqual(result, { isSignedIn: false, nextStep: { signInStep: 'CONFIRM_SIGN_IN_WITH_TOTP_CODE' } });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth'], show(ops));
  assert.deepEqual(ops[0].body.AuthParameters, { USERNAME: totpUser, PASSWORD: password });
  assert.equal(ops[0].response.ChallengeName, 'SOFTWARE_TOKEN_MFA');

  const { code } = await totpAuthenticator.code();
  mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  assert.deepEqual(operations(mark), ['RespondToAuthChallenge']);
  await assertSignedInAs(totpUser, optionalPool, 'USER_PASSWORD_AUTH');
  await signOutAndCheck();
});

// =============================================================================================
// An e-mail user in the same OPTIONAL pool: EMAIL_OTP as the second factor, codes from the outbox.
// =============================================================================================
const emailAddress = `${emailUser}@example.com`;

test('EMAIL: updateMFAPreference({ email: PREFERRED }) turns e-mail codes on', async () => {
  usePool(optionalPool);
  assert.equal((await signIn({ username: emailUser, password })).isSignedIn, true);
  const mark = sent.length;
  await updateMFAPreference({ email: 'PREFERRED' });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['SetUserMFAPreference'], show(ops));
  assert.deepEqual(ops[0].body.EmailMfaSettings, { Enabled: true, PreferredMfa: true });
  assert.deepEqual(await fetchMFAPreference(), { enabled: ['EMAIL'], preferred: 'EMAIL' });
  await signOutAndCheck();
});

test('EMAIL: signIn stops at CONFIRM_SIGN_IN_WITH_EMAIL_CODE; the 8-digit code from the outbox signs in', async () => {
  const before = (await readOutbox(optionalPool.poolId, emailUser)).length;
  let mark = sent.length;
  const result = await signIn({ username: emailUser, password });
  assert.deepEqual(result, {
    isSignedIn: false,
    nextStep: {
      signInStep: 'CONFIRM_SIGN_IN_WITH_EMAIL_CODE',
      // Masked as Cognito masks an address: the first character of each part.
      codeDeliveryDetails: { deliveryMedium: 'EMAIL', destination: `${emailUser[0]}***@e***` },
    },
  });
  assert.equal(lastAnswer(since(mark)).ChallengeName, 'EMAIL_OTP');

  const { message, code } = await newOutboxCode(optionalPool.poolId, emailUser, before, EMAIL_MESSAGE);
  assert.equal(message.channel, 'EMAIL');
  assert.equal(message.destination, emailAddress);
  assert.equal(message.subject, 'Sign-in code');

  const wrong = code === '00000000' ? '11111111' : '00000000';
  await assertRefused(
    confirmSignIn({ challengeResponse: wrong }),
    'CodeMismatchException',
    'Invalid code or auth state for the user.',
  );
  mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.ChallengeName, 'EMAIL_OTP');
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: emailUser, EMAIL_OTP_CODE: code });
  await assertSignedInAs(emailUser, optionalPool, 'USER_SRP_AUTH');
  // One code per sign-in: the refused answer sent nothing new.
  assert.equal((await readOutbox(optionalPool.poolId, emailUser)).length, before + 1);
  await signOutAndCheck();
});

// =============================================================================================
// A user with SMS and TOTP both on and no preference: Amplify lets the user choose.
// =============================================================================================
let choiceAuthenticator;

test('SELECT: with SMS and TOTP enabled and neither preferred, fetchMFAPreference has both and no preference', async () => {
  usePool(optionalPool);
  assert.equal((await signIn({ username: choiceUser, password })).isSignedIn, true);
  const details = await setUpTOTP();
  choiceAuthenticator = new Authenticator(details.sharedSecret);
  await verifyTOTPSetup({ code: (await choiceAuthenticator.code()).code });
  const mark = sent.length;
  await updateMFAPreference({ sms: 'ENABLED', totp: 'ENABLED' });
  const ops = since(mark);
  assert.deepEqual(ops[0].body.SMSMfaSettings, { Enabled: true });
  assert.deepEqual(ops[0].body.SoftwareTokenMfaSettings, { Enabled: true });

  const preference = await fetchMFAPreference();
  assert.equal(preference.preferred, undefined);
  assert.deepEqual([...preference.enabled].sort(), ['SMS', 'TOTP']);
  await signOutAndCheck();
});

test('SELECT: signIn stops at CONTINUE_SIGN_IN_WITH_MFA_SELECTION; choosing TOTP leads to the TOTP code', async () => {
  let mark = sent.length;
  const result = await signIn({ username: choiceUser, password });
  assert.equal(result.isSignedIn, false);
  assert.equal(result.nextStep.signInStep, 'CONTINUE_SIGN_IN_WITH_MFA_SELECTION', JSON.stringify(result));
  // The order of Cognito's own MFAS_CAN_CHOOSE (mfa-facts 3.2): SMS_MFA, SOFTWARE_TOKEN_MFA.
  assert.deepEqual(result.nextStep.allowedMFATypes, ['SMS', 'TOTP']);
  assert.equal(lastAnswer(since(mark)).ChallengeName, 'SELECT_MFA_TYPE');

  mark = sent.length;
  const chosen = await confirmSignIn({ challengeResponse: 'TOTP' });
  assert.deepEqual(chosen, { isSignedIn: false, nextStep: { signInStep: 'CONFIRM_SIGN_IN_WITH_TOTP_CODE' } });
  let ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.ChallengeName, 'SELECT_MFA_TYPE');
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: choiceUser, ANSWER: 'SOFTWARE_TOKEN_MFA' });
  assert.equal(ops[0].response.ChallengeName, 'SOFTWARE_TOKEN_MFA');

  const { code } = await choiceAuthenticator.code();
  mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  ops = since(mark);
  assert.equal(ops[0].body.ChallengeName, 'SOFTWARE_TOKEN_MFA');
  await assertSignedInAs(choiceUser, optionalPool, 'USER_SRP_AUTH');
  await signOutAndCheck();
});

test('SELECT: choosing SMS leads to CONFIRM_SIGN_IN_WITH_SMS_CODE; the 6-digit code from the outbox signs in', async () => {
  assert.equal((await signIn({ username: choiceUser, password })).nextStep.signInStep, 'CONTINUE_SIGN_IN_WITH_MFA_SELECTION');
  const before = (await readOutbox(optionalPool.poolId, choiceUser)).length;
  const chosen = await confirmSignIn({ challengeResponse: 'SMS' });
  assert.deepEqual(chosen, {
    isSignedIn: false,
    nextStep: {
      signInStep: 'CONFIRM_SIGN_IN_WITH_SMS_CODE',
      codeDeliveryDetails: { deliveryMedium: 'SMS', destination: `+${'*'.repeat(choicePhone.length - 5)}${choicePhone.slice(-4)}` },
    },
  });
  const { message, code } = await newOutboxCode(optionalPool.poolId, choiceUser, before, SMS_MESSAGE);
  assert.equal(message.channel, 'SMS');
  assert.equal(message.destination, choicePhone);

  const mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  const ops = since(mark);
  assert.equal(ops[0].body.ChallengeName, 'SMS_MFA');
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: choiceUser, SMS_MFA_CODE: code });
  await assertSignedInAs(choiceUser, optionalPool, 'USER_SRP_AUTH');
  await signOutAndCheck();
});

// =============================================================================================
// A pool with MFA ON and TOTP only: a user without a factor sets one up inside sign-in.
// =============================================================================================
let setupAuthenticator;
let setupSession;

test('SETUP: signIn in an ON pool stops at CONTINUE_SIGN_IN_WITH_TOTP_SETUP (AssociateSoftwareToken with the session)', async () => {
  usePool(requiredPool);
  const mark = sent.length;
  const result = await signIn({ username: setupUser, password });
  assert.equal(result.isSignedIn, false);
  assert.equal(result.nextStep.signInStep, 'CONTINUE_SIGN_IN_WITH_TOTP_SETUP', JSON.stringify(result));
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth', 'RespondToAuthChallenge', 'AssociateSoftwareToken'], show(ops));
  const challenge = ops[1].response;
  assert.equal(challenge.ChallengeName, 'MFA_SETUP');
  assert.deepEqual(JSON.parse(challenge.ChallengeParameters.MFAS_CAN_SETUP), ['SOFTWARE_TOKEN_MFA']);
  // Amplify associates the token with the challenge's session, and keeps the new session.
  assert.deepEqual(ops[2].body, { Session: challenge.Session });
  assert.ok(ops[2].response.Session && ops[2].response.Session !== challenge.Session, show(ops));
  setupSession = ops[2].response.Session;

  const { totpSetupDetails } = result.nextStep;
  assert.equal(totpSetupDetails.sharedSecret, ops[2].response.SecretCode);
  assert.match(totpSetupDetails.sharedSecret, /^[A-Z2-7]{16,}$/);
  const uri = totpSetupDetails.getSetupUri('tessera', setupUser);
  assert.equal(uri.searchParams.get('secret'), totpSetupDetails.sharedSecret);
  setupAuthenticator = new Authenticator(totpSetupDetails.sharedSecret);
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');
});

test('SETUP: confirmSignIn with a wrong code is refused; with the right one Amplify verifies and answers MFA_SETUP', async () => {
  await assertRefused(
    confirmSignIn({ challengeResponse: setupAuthenticator.wrongCode() }),
    'EnableSoftwareTokenMFAException',
    'Code mismatch and fail enable Software Token MFA',
  );
  const { code } = await setupAuthenticator.code();
  const mark = sent.length;
  const result = await confirmSignIn({ challengeResponse: code, options: { friendlyDeviceName: 'amplify-setup' } });
  assert.deepEqual(result, { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['VerifySoftwareToken', 'RespondToAuthChallenge'], show(ops));
  // The refused code left Amplify's session as it was: the same one is verified now.
  assert.deepEqual(ops[0].body, { UserCode: code, Session: setupSession, FriendlyDeviceName: 'amplify-setup' });
  assert.equal(ops[0].response.Status, 'SUCCESS');
  assert.ok(ops[0].response.Session, 'VerifySoftwareToken returns a new session');
  assert.equal(ops[1].body.ChallengeName, 'MFA_SETUP');
  assert.equal(ops[1].body.Session, ops[0].response.Session);
  assert.deepEqual(ops[1].body.ChallengeResponses, { USERNAME: setupUser });
  assert.ok(ops[1].response.AuthenticationResult, show(ops));
  await assertSignedInAs(setupUser, requiredPool, 'USER_SRP_AUTH');
  // The verified token is the user's factor now.
  assert.deepEqual((await fetchMFAPreference()).enabled, ['TOTP']);
  await signOutAndCheck();
});

test('SETUP: the next sign-in (USER_PASSWORD_AUTH) asks for the token that was set up', async () => {
  const mark = sent.length;
  const result = await signIn({ username: setupUser, password, options: { authFlowType: 'USER_PASSWORD_AUTH' } });
  assert.deepEqual(result, { isSignedIn: false, nextStep: { signInStep: 'CONFIRM_SIGN_IN_WITH_TOTP_CODE' } });
  assert.deepEqual(lastAnswer(since(mark)).ChallengeParameters, { FRIENDLY_DEVICE_NAME: 'amplify-setup', USER_ID_FOR_SRP: setupUser });
  const { code } = await setupAuthenticator.code();
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  await assertSignedInAs(setupUser, requiredPool, 'USER_PASSWORD_AUTH');
  await signOutAndCheck();
});
