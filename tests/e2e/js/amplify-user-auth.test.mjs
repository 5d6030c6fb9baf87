// Amplify JS v6 (npm `aws-amplify`) choice-based sign-in against tessera: signIn with
// `authFlowType: 'USER_AUTH'` (docs/design/mfa-facts.md section 5) as an app uses it. Without a
// preference Amplify stops at CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION with the
// availableChallenges tessera offers, and confirmSignIn answers the choice: EMAIL_OTP leads to
// CONFIRM_SIGN_IN_WITH_EMAIL_CODE, PASSWORD and PASSWORD_SRP to Amplify's own
// CONFIRM_SIGN_IN_WITH_PASSWORD step and then one SELECT_CHALLENGE answer carrying the password
// (or SRP_A and the PASSWORD_VERIFIER round). With `preferredChallenge` Amplify goes straight
// to the factor: EMAIL_OTP and SMS_OTP codes (eight digits, read from the outbox; a wrong code
// refused with CodeMismatchException and the right one still accepted), PASSWORD in a single
// InitiateAuth, PASSWORD_SRP through PASSWORD_VERIFIER. A preference the user cannot use falls
// back to the choice, a hidden unknown user is asked for a code that never matches, and a user
// with TOTP is asked for the TOTP code after a password but not after an e-mail code. Every
// sign-in's tokens are checked through fetchAuthSession and accepted by GetUser, and a forced
// refresh replaces them.
// Run by tests/e2e/test_amplify_user_auth.py, which makes the pool and passes it in:
//   TESSERA_E2E_ENDPOINT            <server url> (no trailing slash)
//   TESSERA_E2E_REGION              the region of the pool (signs the outbox request)
//   TESSERA_E2E_ADMIN_KEY_ID, TESSERA_E2E_ADMIN_SECRET
//                                   root access key, for the SigV4-signed GET /admin/outbox
//   TESSERA_E2E_POOL_ID             first factors PASSWORD, EMAIL_OTP, SMS_OTP; MFA OPTIONAL, TOTP
//   TESSERA_E2E_CLIENT_ID           public client, ALLOW_USER_AUTH and ALLOW_REFRESH_TOKEN_AUTH only,
//                                   PreventUserExistenceErrors ENABLED
//   TESSERA_E2E_PASSWORD            every user's password
//   TESSERA_E2E_CHOICE_USER         e-mail <user>@example.com and TESSERA_E2E_CHOICE_PHONE, both verified
//   TESSERA_E2E_UNVERIFIED_USER     e-mail <user>@example.com, not verified
//   TESSERA_E2E_TOTP_USER           e-mail <user>@example.com verified, TOTP on and preferred
//   TESSERA_E2E_TOTP_SECRET         that user's base32 TOTP secret
//   TESSERA_E2E_TOTP_USED_STEP      the 30-second step whose code enrolment used
//
// E-mail and SMS codes are read from tessera's development outbox through GET /admin/outbox,
// signed here with SigV4 (node:crypto) as in amplify-mfa.test.mjs; TOTP codes come from the
// RFC 6238 generator written here the same way.
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
  signIn,
  signOut,
} from 'aws-amplify/auth';
import { cognitoUserPoolsTokenProvider } from 'aws-amplify/auth/cognito';
import { MemoryStorage } from './memory-storage.mjs';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run by tests/e2e/test_amplify_user_auth.py)`);
  return value;
};
const endpoint = env('TESSERA_E2E_ENDPOINT');
const region = env('TESSERA_E2E_REGION');
const adminKeyId = env('TESSERA_E2E_ADMIN_KEY_ID');
const adminSecret = env('TESSERA_E2E_ADMIN_SECRET');
const poolId = env('TESSERA_E2E_POOL_ID');
const clientId = env('TESSERA_E2E_CLIENT_ID');
const password = env('TESSERA_E2E_PASSWORD');
const choiceUser = env('TESSERA_E2E_CHOICE_USER');
const choicePhone = env('TESSERA_E2E_CHOICE_PHONE');
const unverifiedUser = env('TESSERA_E2E_UNVERIFIED_USER');
const totpUser = env('TESSERA_E2E_TOTP_USER');
const totpSecret = env('TESSERA_E2E_TOTP_SECRET');
const totpUsedStep = Number(env('TESSERA_E2E_TOTP_USED_STEP'));

const SCOPE = 'aws.cognito.signin.user.admin';
// Every factor the pool allows and the choice user can use, in the order tessera offers them
// (mfa-facts 5.2: the password factors first).
const ALL_FACTORS = ['PASSWORD_SRP', 'PASSWORD', 'EMAIL_OTP', 'SMS_OTP'];
// A one-time code of USER_AUTH has eight digits; the message is the pool's default.
const OTP = /\b(\d{8})\b/;
// Cognito masks an address to the first character of each part, a phone number to its last
// four digits.
const maskedEmail = (username) => `${username[0]}***@e***`;
const maskedPhone = `+${'*'.repeat(choicePhone.length - 5)}${choicePhone.slice(-4)}`;

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

// --- configuration: the one pool, with an in-memory token store --------------------------------
Amplify.configure({
  Auth: { Cognito: { userPoolId: poolId, userPoolClientId: clientId, userPoolEndpoint: endpoint } },
});
// Amplify.configure points the token provider at its default storage, so the memory storage is
// set after it.
const storage = new MemoryStorage();
cognitoUserPoolsTokenProvider.setKeyValueStorage(storage);
const keyPrefix = `CognitoIdentityServiceProvider.${clientId}`;

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

// The TOTP user's authenticator app. tessera accepts the codes of the step before, of and after
// its own, and each step once per user, so `code()` hands out the code of the lowest step not
// used yet (enrolment used `totpUsedStep`) that is acceptable now, with at least ten seconds of
// the current step left.
const totpKey = base32Decode(totpSecret);
let totpLastStep = totpUsedStep;
async function totpCode() {
  for (;;) {
    const now = Date.now() / 1000;
    const step = Math.floor(now / 30);
    const left = 30 * (step + 1) - now;
    const wanted = Math.max(totpLastStep + 1, step - 1);
    if (wanted <= step + 1 && left >= 10) {
      totpLastStep = wanted;
      return hotp(totpKey, wanted);
    }
    await sleep(250);
  }
}

// --- the development outbox, through SigV4-signed GET /admin/outbox ---------------------------
const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
// RFC 3986 encoding, as SigV4's canonical query string wants it.
const uriEncode = (text) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

async function readOutbox(username) {
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
// little in case delivery lags the response), with its eight-digit code.
async function newOutboxCode(username, before) {
  let messages = await readOutbox(username);
  for (let tries = 0; messages.length === before && tries < 20; tries += 1) {
    await sleep(100);
    messages = await readOutbox(username);
  }
  assert.equal(messages.length, before + 1, `one new outbox message: ${JSON.stringify(messages.slice(before))}`);
  const message = messages.at(-1);
  const found = OTP.exec(message.body);
  assert.ok(found, `no eight-digit code in: ${JSON.stringify(message)}`);
  return { message, code: found[1] };
}

const outboxCount = async (username) => (await readOutbox(username)).length;

// An eight-digit code that is not `code`.
const wrongCodeFor = (code) => (code === '00000000' ? '11111111' : '00000000');

// --- checks shared by the sign-ins below ------------------------------------------------------
async function assertSignedInAs(username) {
  const user = await getCurrentUser();
  assert.equal(user.username, username);
  assert.deepEqual(user.signInDetails, { loginId: username, authFlowType: 'USER_AUTH' });

  const session = await fetchAuthSession();
  const { tokens, userSub } = session;
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
  return session;
}

async function signOutAndCheck() {
  await signOut();
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');
}

// The requests of `records` whose answer carried a challenge or tokens, in the order sent.
const answered = (records) => records.filter((r) => r.response && ('ChallengeName' in r.response || 'AuthenticationResult' in r.response));

// What Amplify sends for a USER_AUTH InitiateAuth (no device, no advanced security data).
function assertUserAuthRequest(record, authParameters) {
  assert.equal(record.operation, 'InitiateAuth');
  assert.equal(record.body.AuthFlow, 'USER_AUTH');
  assert.equal(record.body.ClientId, clientId);
  assert.deepEqual(record.body.AuthParameters, authParameters);
}

// The PASSWORD_VERIFIER challenge and Amplify's answer to it: the SRP round of PASSWORD_SRP.
function assertPasswordVerifier(challenge, answer, username) {
  assert.equal(challenge.ChallengeName, 'PASSWORD_VERIFIER');
  const parameters = challenge.ChallengeParameters;
  assert.equal(parameters.USER_ID_FOR_SRP, username);
  assert.match(parameters.SRP_B, /^[0-9a-f]+$/);
  assert.match(parameters.SALT, /^[0-9a-f]+$/);
  assert.ok(parameters.SECRET_BLOCK, 'a secret block');
  assert.equal(answer.operation, 'RespondToAuthChallenge');
  assert.equal(answer.body.ChallengeName, 'PASSWORD_VERIFIER');
  assert.equal(answer.body.Session, challenge.Session);
  assert.equal(answer.body.ChallengeResponses.USERNAME, username);
  assert.equal(answer.body.ChallengeResponses.PASSWORD_CLAIM_SECRET_BLOCK, parameters.SECRET_BLOCK);
  assert.ok(answer.body.ChallengeResponses.PASSWORD_CLAIM_SIGNATURE, 'a claim signature');
  assert.ok(answer.response.AuthenticationResult, show([answer]));
}

// =============================================================================================
// The choice: no preference, so Amplify offers what tessera offers.
// =============================================================================================
let selectSession;

test('SELECT: signIn with USER_AUTH and no preference stops at CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION', async () => {
  const mark = sent.length;
  const result = await signIn({ username: choiceUser, options: { authFlowType: 'USER_AUTH' } });
  assert.deepEqual(result, {
    isSignedIn: false,
    nextStep: { signInStep: 'CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION', availableChallenges: ALL_FACTORS },
  });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth'], show(ops));
  assertUserAuthRequest(ops[0], { USERNAME: choiceUser });
  const challenge = ops[0].response;
  assert.equal(challenge.ChallengeName, 'SELECT_CHALLENGE');
  assert.deepEqual(challenge.ChallengeParameters, {});
  assert.deepEqual(challenge.AvailableChallenges, ALL_FACTORS);
  assert.ok(challenge.Session, 'a session for the answer');
  assert.equal(challenge.AuthenticationResult, undefined);
  selectSession = challenge.Session;
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');
});

test('SELECT: choosing EMAIL_OTP leads to CONFIRM_SIGN_IN_WITH_EMAIL_CODE; the outbox code signs in', async () => {
  const before = await outboxCount(choiceUser);
  let mark = sent.length;
  const chosen = await confirmSignIn({ challengeResponse: 'EMAIL_OTP' });
  assert.deepEqual(chosen, {
    isSignedIn: false,
    nextStep: {
      signInStep: 'CONFIRM_SIGN_IN_WITH_EMAIL_CODE',
      codeDeliveryDetails: { deliveryMedium: 'EMAIL', destination: maskedEmail(choiceUser) },
    },
  });
  let ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.ChallengeName, 'SELECT_CHALLENGE');
  assert.equal(ops[0].body.Session, selectSession);
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: choiceUser, ANSWER: 'EMAIL_OTP' });
  const challenge = ops[0].response;
  assert.equal(challenge.ChallengeName, 'EMAIL_OTP');
  assert.ok(challenge.Session && challenge.Session !== selectSession, 'a new session for the code');

  const { message, code } = await newOutboxCode(choiceUser, before);
  assert.equal(message.channel, 'EMAIL');
  assert.equal(message.destination, `${choiceUser}@example.com`);

  mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.ChallengeName, 'EMAIL_OTP');
  assert.equal(ops[0].body.Session, challenge.Session);
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: choiceUser, EMAIL_OTP_CODE: code });
  assert.ok(ops[0].response.AuthenticationResult, show(ops));
});

test('REFRESH: fetchAuthSession has the tokens of the e-mail sign-in, and a forced refresh replaces them', async () => {
  const session = await assertSignedInAs(choiceUser);
  const mark = sent.length;
  const refreshed = await fetchAuthSession({ forceRefresh: true });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['GetTokensFromRefreshToken'], show(ops));
  assert.equal(ops[0].body.ClientId, clientId);
  assert.equal(ops[0].body.RefreshToken, storage.getItem(`${keyPrefix}.${choiceUser}.refreshToken`));
  assert.equal(ops[0].status, 200, show(ops));

  const before = session.tokens.accessToken;
  const after = refreshed.tokens.accessToken;
  assert.notEqual(after.toString(), before.toString());
  assert.notEqual(refreshed.tokens.idToken.toString(), session.tokens.idToken.toString());
  assert.notEqual(after.payload.jti, before.payload.jti);
  // The same sign-in: same user, same origin, same authentication time.
  assert.equal(after.payload.origin_jti, before.payload.origin_jti);
  assert.equal(after.payload.auth_time, before.payload.auth_time);
  assert.equal(after.payload.sub, session.userSub);
  assert.equal(refreshed.tokens.idToken.payload['cognito:username'], choiceUser);
  // The refreshed access token is the one Amplify uses now, and tessera takes it.
  const getUserMark = sent.length;
  assert.equal((await fetchUserAttributes()).sub, session.userSub);
  const getUser = since(getUserMark);
  assert.deepEqual(getUser.map((r) => r.operation), ['GetUser']);
  assert.equal(getUser[0].body.AccessToken, after.toString());
  await signOutAndCheck();
});

// =============================================================================================
// A preferred challenge: Amplify goes straight to it.
// =============================================================================================
test('EMAIL_OTP preferred: straight to the e-mail code; a wrong code is refused and the right one still signs in', async () => {
  const before = await outboxCount(choiceUser);
  let mark = sent.length;
  const result = await signIn({ username: choiceUser, options: { authFlowType: 'USER_AUTH', preferredChallenge: 'EMAIL_OTP' } });
  assert.deepEqual(result, {
    isSignedIn: false,
    nextStep: {
      signInStep: 'CONFIRM_SIGN_IN_WITH_EMAIL_CODE',
      codeDeliveryDetails: { deliveryMedium: 'EMAIL', destination: maskedEmail(choiceUser) },
    },
  });
  let ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth'], show(ops));
  assertUserAuthRequest(ops[0], { USERNAME: choiceUser, PREFERRED_CHALLENGE: 'EMAIL_OTP' });
  const challenge = ops[0].response;
  assert.equal(challenge.ChallengeName, 'EMAIL_OTP');
  // As Cognito answers a usable preference (mfa-facts 5.2): the one challenge, also as the only
  // available one.
  assert.deepEqual(challenge.AvailableChallenges, ['EMAIL_OTP']);
  assert.deepEqual(challenge.ChallengeParameters, {
    CODE_DELIVERY_DELIVERY_MEDIUM: 'EMAIL',
    CODE_DELIVERY_DESTINATION: maskedEmail(choiceUser),
  });
  const { message, code } = await newOutboxCode(choiceUser, before);
  assert.equal(message.channel, 'EMAIL');
  assert.equal(message.destination, `${choiceUser}@example.com`);

  mark = sent.length;
  await assertRefused(
    confirmSignIn({ challengeResponse: wrongCodeFor(code) }),
    'CodeMismatchException',
    'Invalid code or auth state for the user.',
  );
  const refused = since(mark);
  assert.deepEqual(refused.map((r) => r.operation), ['RespondToAuthChallenge'], show(refused));
  assert.equal(refused[0].status, 400);
  assert.deepEqual(refused[0].body.ChallengeResponses, { USERNAME: choiceUser, EMAIL_OTP_CODE: wrongCodeFor(code) });
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');

  // The session survives the refusal: Amplify answers it again, with the right code.
  mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.Session, challenge.Session);
  assert.equal(ops[0].body.Session, refused[0].body.Session);
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: choiceUser, EMAIL_OTP_CODE: code });
  assert.ok(ops[0].response.AuthenticationResult, show(ops));
  await assertSignedInAs(choiceUser);
  // One code per sign-in: the refused answer sent nothing new.
  assert.equal(await outboxCount(choiceUser), before + 1);
  await signOutAndCheck();
});

test('SMS_OTP preferred: CONFIRM_SIGN_IN_WITH_SMS_CODE with the code texted to the verified phone number', async () => {
  const before = await outboxCount(choiceUser);
  let mark = sent.length;
  const result = await signIn({ username: choiceUser, options: { authFlowType: 'USER_AUTH', preferredChallenge: 'SMS_OTP' } });
  assert.deepEqual(result, {
    isSignedIn: false,
    nextStep: {
      signInStep: 'CONFIRM_SIGN_IN_WITH_SMS_CODE',
      codeDeliveryDetails: { deliveryMedium: 'SMS', destination: maskedPhone },
    },
  });
  let ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth'], show(ops));
  assertUserAuthRequest(ops[0], { USERNAME: choiceUser, PREFERRED_CHALLENGE: 'SMS_OTP' });
  assert.equal(ops[0].response.ChallengeName, 'SMS_OTP');
  assert.deepEqual(ops[0].response.AvailableChallenges, ['SMS_OTP']);

  const { message, code } = await newOutboxCode(choiceUser, before);
  assert.equal(message.channel, 'SMS');
  assert.equal(message.destination, choicePhone);

  mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.ChallengeName, 'SMS_OTP');
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: choiceUser, SMS_OTP_CODE: code });
  assert.ok(ops[0].response.AuthenticationResult, show(ops));
  await assertSignedInAs(choiceUser);
  await signOutAndCheck();
});

test('PASSWORD preferred: one InitiateAuth carrying the password signs in', async () => {
  const before = await outboxCount(choiceUser);
  const mark = sent.length;
  const result = await signIn({
    username: choiceUser,
    password,
    options: { authFlowType: 'USER_AUTH', preferredChallenge: 'PASSWORD' },
  });
  assert.deepEqual(result, { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  // The one request brought the tokens: no challenge in between.
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth'], show(ops));
  assertUserAuthRequest(ops[0], { USERNAME: choiceUser, PASSWORD: password, PREFERRED_CHALLENGE: 'PASSWORD' });
  assert.equal(ops[0].response.ChallengeName, undefined);
  const tokens = ops[0].response.AuthenticationResult;
  assert.ok(tokens?.AccessToken && tokens.IdToken && tokens.RefreshToken, show(ops));
  assert.equal(tokens.TokenType, 'Bearer');
  const session = await assertSignedInAs(choiceUser);
  assert.equal(session.tokens.accessToken.toString(), tokens.AccessToken);
  // A password sign-in sends no code.
  assert.equal(await outboxCount(choiceUser), before);
  await signOutAndCheck();
});

test('PASSWORD preferred with a wrong password is refused with NotAuthorizedException', async () => {
  const mark = sent.length;
  await assertRefused(
    signIn({ username: choiceUser, password: `${password}-wrong`, options: { authFlowType: 'USER_AUTH', preferredChallenge: 'PASSWORD' } }),
    'NotAuthorizedException',
    'Incorrect username or password.',
  );
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth'], show(ops));
  assert.equal(ops[0].status, 400);
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');
});

test('PASSWORD_SRP preferred: SRP_A with the preference, then PASSWORD_VERIFIER, signs in', async () => {
  const mark = sent.length;
  const result = await signIn({
    username: choiceUser,
    password,
    options: { authFlowType: 'USER_AUTH', preferredChallenge: 'PASSWORD_SRP' },
  });
  assert.deepEqual(result, { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth', 'RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.AuthFlow, 'USER_AUTH');
  assert.deepEqual(Object.keys(ops[0].body.AuthParameters).sort(), ['PREFERRED_CHALLENGE', 'SRP_A', 'USERNAME']);
  assert.equal(ops[0].body.AuthParameters.PREFERRED_CHALLENGE, 'PASSWORD_SRP');
  assert.equal(ops[0].body.AuthParameters.USERNAME, choiceUser);
  // The password never leaves Amplify.
  assert.ok(!JSON.stringify(ops.map((r) => r.body)).includes(password));
  assertPasswordVerifier(ops[0].response, ops[1], choiceUser);
  await assertSignedInAs(choiceUser);
  await signOutAndCheck();
});

// =============================================================================================
// The choice answered with a password: Amplify asks for it first (CONFIRM_SIGN_IN_WITH_PASSWORD).
// =============================================================================================
test('SELECT: choosing PASSWORD asks for it locally, then answers the choice with it in one request', async () => {
  assert.equal(
    (await signIn({ username: choiceUser, options: { authFlowType: 'USER_AUTH' } })).nextStep.signInStep,
    'CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION',
  );
  const session = answered(sent).at(-1).response.Session;

  // Amplify keeps the choice and asks for the password without asking tessera anything.
  let mark = sent.length;
  const chosen = await confirmSignIn({ challengeResponse: 'PASSWORD' });
  assert.deepEqual(chosen, { isSignedIn: false, nextStep: { signInStep: 'CONFIRM_SIGN_IN_WITH_PASSWORD' } });
  assert.deepEqual(operations(mark), []);

  mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: password }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.ChallengeName, 'SELECT_CHALLENGE');
  assert.equal(ops[0].body.Session, session);
  assert.deepEqual(ops[0].body.ChallengeResponses, { ANSWER: 'PASSWORD', USERNAME: choiceUser, PASSWORD: password });
  assert.ok(ops[0].response.AuthenticationResult, show(ops));
  await assertSignedInAs(choiceUser);
  await signOutAndCheck();
});

test('SELECT: choosing PASSWORD_SRP asks for the password, then answers the choice with SRP_A and PASSWORD_VERIFIER', async () => {
  assert.equal(
    (await signIn({ username: choiceUser, options: { authFlowType: 'USER_AUTH' } })).nextStep.signInStep,
    'CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION',
  );
  const session = answered(sent).at(-1).response.Session;

  let mark = sent.length;
  const chosen = await confirmSignIn({ challengeResponse: 'PASSWORD_SRP' });
  assert.deepEqual(chosen, { isSignedIn: false, nextStep: { signInStep: 'CONFIRM_SIGN_IN_WITH_PASSWORD' } });
  assert.deepEqual(operations(mark), []);

  mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: password }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge', 'RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.ChallengeName, 'SELECT_CHALLENGE');
  assert.equal(ops[0].body.Session, session);
  assert.deepEqual(Object.keys(ops[0].body.ChallengeResponses).sort(), ['ANSWER', 'SRP_A', 'USERNAME']);
  assert.equal(ops[0].body.ChallengeResponses.ANSWER, 'PASSWORD_SRP');
  assert.equal(ops[0].body.ChallengeResponses.USERNAME, choiceUser);
  assert.ok(!JSON.stringify(ops.map((r) => r.body)).includes(password));
  assertPasswordVerifier(ops[0].response, ops[1], choiceUser);
  await assertSignedInAs(choiceUser);
  await signOutAndCheck();
});

// =============================================================================================
// What the user cannot use is not offered, and unknown users learn nothing.
// =============================================================================================
test('UNVERIFIED: a preference for EMAIL_OTP without a verified address falls back to the choice of the password', async () => {
  const mark = sent.length;
  const result = await signIn({ username: unverifiedUser, options: { authFlowType: 'USER_AUTH', preferredChallenge: 'EMAIL_OTP' } });
  assert.deepEqual(result, {
    isSignedIn: false,
    nextStep: { signInStep: 'CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION', availableChallenges: ['PASSWORD_SRP', 'PASSWORD'] },
  });
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth'], show(ops));
  assertUserAuthRequest(ops[0], { USERNAME: unverifiedUser, PREFERRED_CHALLENGE: 'EMAIL_OTP' });
  assert.equal(ops[0].response.ChallengeName, 'SELECT_CHALLENGE');

  // Choosing the code anyway is refused; the choice stays open and the password signs in.
  await assertRefused(confirmSignIn({ challengeResponse: 'EMAIL_OTP' }), 'InvalidParameterException');
  assert.equal((await confirmSignIn({ challengeResponse: 'PASSWORD' })).nextStep.signInStep, 'CONFIRM_SIGN_IN_WITH_PASSWORD');
  assert.deepEqual(await confirmSignIn({ challengeResponse: password }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  await assertSignedInAs(unverifiedUser);
  // Nothing was sent to the unverified address.
  assert.equal(await outboxCount(unverifiedUser), 0);
  await signOutAndCheck();
});

test('HIDDEN: an unknown user preferring EMAIL_OTP is asked for an e-mail code that never matches', async () => {
  const ghost = `ghost-${Date.now()}@example.com`;
  const mark = sent.length;
  const result = await signIn({ username: ghost, options: { authFlowType: 'USER_AUTH', preferredChallenge: 'EMAIL_OTP' } });
  // The same step a real user gets, the destination masked from what was typed.
  assert.deepEqual(result, {
    isSignedIn: false,
    nextStep: {
      signInStep: 'CONFIRM_SIGN_IN_WITH_EMAIL_CODE',
      codeDeliveryDetails: { deliveryMedium: 'EMAIL', destination: 'g***@e***' },
    },
  });
  assert.deepEqual(operations(mark), ['InitiateAuth']);
  await assertRefused(
    confirmSignIn({ challengeResponse: '12345678' }),
    'CodeMismatchException',
    'Invalid code or auth state for the user.',
  );
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');
  assert.equal(await outboxCount(ghost), 0);
});

// =============================================================================================
// MFA after the first factor: after a password as usual, after a one-time code not at all.
// =============================================================================================
test('MFA: a TOTP user signing in with PASSWORD stops at CONFIRM_SIGN_IN_WITH_TOTP_CODE; the code signs in', async () => {
  let mark = sent.length;
  const result = await signIn({
    username: totpUser,
    password,
    options: { authFlowType: 'USER_AUTH', preferredChallenge: 'PASSWORD' },
  });
  assert.deepEqual(result, { isSignedIn: false, nextStep: { signInStep: 'CONFIRM_SIGN_IN_WITH_TOTP_CODE' } });
  let ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth'], show(ops));
  assertUserAuthRequest(ops[0], { USERNAME: totpUser, PASSWORD: password, PREFERRED_CHALLENGE: 'PASSWORD' });
  const challenge = ops[0].response;
  assert.equal(challenge.ChallengeName, 'SOFTWARE_TOKEN_MFA');
  assert.deepEqual(challenge.ChallengeParameters, { FRIENDLY_DEVICE_NAME: 'amplify-totp', USER_ID_FOR_SRP: totpUser });
  assert.equal(challenge.AuthenticationResult, undefined);
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');

  const code = await totpCode();
  mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.ChallengeName, 'SOFTWARE_TOKEN_MFA');
  assert.equal(ops[0].body.Session, challenge.Session);
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: totpUser, SOFTWARE_TOKEN_MFA_CODE: code });
  assert.ok(ops[0].response.AuthenticationResult, show(ops));
  await assertSignedInAs(totpUser);
  assert.deepEqual(await fetchMFAPreference(), { enabled: ['TOTP'], preferred: 'TOTP' });
  await signOutAndCheck();
});

test('MFA: the same TOTP user signing in with EMAIL_OTP is signed in by the e-mail code alone', async () => {
  const before = await outboxCount(totpUser);
  let mark = sent.length;
  const result = await signIn({ username: totpUser, options: { authFlowType: 'USER_AUTH', preferredChallenge: 'EMAIL_OTP' } });
  assert.equal(result.nextStep.signInStep, 'CONFIRM_SIGN_IN_WITH_EMAIL_CODE', JSON.stringify(result));
  assert.equal(answered(since(mark)).at(-1).response.ChallengeName, 'EMAIL_OTP');
  const { message, code } = await newOutboxCode(totpUser, before);
  assert.equal(message.destination, `${totpUser}@example.com`);

  mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  // The answer to the code brought the tokens: no SOFTWARE_TOKEN_MFA in between.
  const ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.ChallengeName, 'EMAIL_OTP');
  assert.equal(ops[0].response.ChallengeName, undefined);
  assert.ok(ops[0].response.AuthenticationResult, show(ops));
  await assertSignedInAs(totpUser);
  // MFA was not asked for, but it is still on.
  assert.deepEqual(await fetchMFAPreference(), { enabled: ['TOTP'], preferred: 'TOTP' });
  await signOutAndCheck();
});

test('MFA: the TOTP user signing in with PASSWORD_SRP is asked for the TOTP code after PASSWORD_VERIFIER', async () => {
  let mark = sent.length;
  const result = await signIn({
    username: totpUser,
    password,
    options: { authFlowType: 'USER_AUTH', preferredChallenge: 'PASSWORD_SRP' },
  });
  assert.deepEqual(result, { isSignedIn: false, nextStep: { signInStep: 'CONFIRM_SIGN_IN_WITH_TOTP_CODE' } });
  let ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth', 'RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].response.ChallengeName, 'PASSWORD_VERIFIER');
  assert.equal(ops[1].body.ChallengeName, 'PASSWORD_VERIFIER');
  assert.equal(ops[1].response.ChallengeName, 'SOFTWARE_TOKEN_MFA');
  await assertRefused(getCurrentUser(), 'UserUnAuthenticatedException');

  const code = await totpCode();
  mark = sent.length;
  assert.deepEqual(await confirmSignIn({ challengeResponse: code }), { isSignedIn: true, nextStep: { signInStep: 'DONE' } });
  ops = since(mark);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge'], show(ops));
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: totpUser, SOFTWARE_TOKEN_MFA_CODE: code });
  await assertSignedInAs(totpUser);
  await signOutAndCheck();
});
