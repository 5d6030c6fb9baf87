// Passkeys (WebAuthn) through tessera's API with the credentials a real browser makes:
// headless Chromium (Debian's package, driven by playwright-core, never a downloaded browser)
// holds a virtual authenticator per page (Chrome DevTools Protocol, WebAuthn domain: CTAP2,
// internal transport, resident keys, user verification, presence simulated), and every
// credential is made in the page by navigator.credentials.create / .get from the options
// tessera sent, parsed with PublicKeyCredential.parseCreationOptionsFromJSON /
// parseRequestOptionsFromJSON and sent back as credential.toJSON(), so the JSON is exactly
// what a browser produces. The API calls are plain fetch (AWS JSON 1.1, unsigned: every
// operation here is authorised by an access token or a session).
//
// What it proves, in order (the tests share the passkeys they make):
//   1. registration: StartWebAuthnRegistration -> create -> CompleteWebAuthnRegistration;
//      ListWebAuthnCredentials shows the passkey (relying party localhost, transports); the
//      next StartWebAuthnRegistration excludes it, and the browser honours the exclusion; the
//      same registration response cannot be completed twice
//   2. sign-in: USER_AUTH with PREFERRED_CHALLENGE WEB_AUTHN, and through SELECT_CHALLENGE
//      answered WEB_AUTHN; both end in tokens (verified by the driver)
//   3. refusals: a tampered signature; an assertion replayed on its own and on a new session;
//      a registration started by one user and completed with another's access token; a pool
//      whose relying party is example.com (its own passkey works from https://example.com and
//      https://login.example.com; a copy of the same key made for localhost does not, neither
//      to register nor to sign in); an rpId other than the pool's from an origin the pool
//      allows (https://app.localhost with rpId app.localhost)
//   4. UserVerification: an authenticator that cannot verify its user registers and signs in
//      on a "preferred" pool; on a "required" pool the browser refuses the pool's own options
//      and tessera refuses what the authenticator makes when the options are lowered
//   5. DeleteWebAuthnCredential: the passkey is gone from the list, USER_AUTH offers no
//      WEB_AUTHN any more, and a second deletion is ResourceNotFoundException
//
// Run by tests/e2e/test_passkeys.py, which makes the pools, clients and users and passes one
// JSON document in TESSERA_E2E_PASSKEYS:
//   endpoint   the server's API URL
//   report     a file this test writes the tokens and credential ids to, for the driver
//   required   { poolId, clientId, alice, bob }   relying party localhost, UserVerification required
//   preferred  { poolId, clientId, carol }        relying party localhost, UserVerification preferred
//   example    { poolId, clientId, dave }         relying party example.com, UserVerification required
// where each user is { username, accessToken } (a password sign-in of the driver's).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.env.TESSERA_E2E_PASSKEYS || 'null');
const TEST_TIMEOUT = 60_000;
const PAGE_TIMEOUT = 15_000;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
// Pages of other origins are served by the test itself (Playwright fulfils the request before
// it reaches the network), so the browser sees a secure context on these https origins.
const FOREIGN_ORIGINS = ['https://example.com', 'https://login.example.com', 'https://app.localhost'];
// Flags of authenticatorData (WebAuthn section 6.1): user present, user verified.
const UP = 0x01;
const UV = 0x04;

let browser;
let context;
// The outcomes the driver checks with boto3 and PyJWT afterwards.
const report = { signIns: [], credentials: {} };
// The passkeys the tests share.
const state = {};

before(async () => {
  assert.ok(cfg, 'TESSERA_E2E_PASSKEYS is not set (run through tests/e2e/test_passkeys.py)');
  const executablePath = execFileSync('sh', ['-c', 'command -v chromium || true']).toString().trim();
  assert.ok(executablePath, 'chromium is not installed (scripts/test installs it: apt-get install -y chromium)');
  browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  context = await browser.newContext();
  context.setDefaultTimeout(PAGE_TIMEOUT);
  context.setDefaultNavigationTimeout(PAGE_TIMEOUT);
  for (const origin of FOREIGN_ORIGINS) {
    await context.route(`${origin}/**`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>relying party</title>' }),
    );
  }
});

after(async () => {
  if (cfg) writeFileSync(cfg.report, JSON.stringify(report, null, 2));
  await browser?.close();
});

// --------------------------------------------------------------------------
// the API

/** The page tessera serves on localhost: a secure context whose origin the pools allow. */
const localhostPage = () => `http://localhost:${new URL(cfg.endpoint).port}/health`;

class ApiError extends Error {
  constructor(operation, status, body) {
    super(`${operation}: ${status} ${JSON.stringify(body)}`);
    this.status = status;
    this.code = String(body.__type ?? '').split('#').pop();
    this.body = body;
  }
}

/** One AWS JSON 1.1 call; the parsed answer, or an ApiError. */
async function call(operation, body) {
  const response = await fetch(cfg.endpoint, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-amz-json-1.1',
      'X-Amz-Target': `AWSCognitoIdentityProviderService.${operation}`,
    },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const parsed = text ? JSON.parse(text) : {};
  if (response.status !== 200) throw new ApiError(operation, response.status, parsed);
  return parsed;
}

/** A call that must be refused with one of `codes` (a 4xx, never a 5xx); the error. */
async function refused(operation, body, codes) {
  let answer;
  try {
    answer = await call(operation, body);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    assert.ok(error.status >= 400 && error.status < 500, error.message);
    assert.ok([codes].flat().includes(error.code), `expected ${codes}, got ${error.message}`);
    return error;
  }
  assert.fail(`${operation} should have been refused (${codes}) but answered ${JSON.stringify(answer)}`);
}

const startRegistration = async (user) =>
  (await call('StartWebAuthnRegistration', { AccessToken: user.accessToken })).CredentialCreationOptions;

const completeRegistration = (user, credential) =>
  call('CompleteWebAuthnRegistration', { AccessToken: user.accessToken, Credential: credential });

const listCredentials = async (user) =>
  (await call('ListWebAuthnCredentials', { AccessToken: user.accessToken })).Credentials;

/** USER_AUTH asking for WEB_AUTHN, which must be the challenge; its session and parsed options. */
async function webAuthnChallenge(pool, user) {
  const answer = await call('InitiateAuth', {
    ClientId: pool.clientId,
    AuthFlow: 'USER_AUTH',
    AuthParameters: { USERNAME: user.username, PREFERRED_CHALLENGE: 'WEB_AUTHN' },
  });
  return webAuthnOf(answer);
}

function webAuthnOf(answer) {
  assert.equal(answer.ChallengeName, 'WEB_AUTHN', JSON.stringify(answer));
  assert.ok(!answer.AuthenticationResult);
  const text = answer.ChallengeParameters.CREDENTIAL_REQUEST_OPTIONS;
  // A JSON string inside the string map, not an object (mfa-facts 5.4).
  assert.equal(typeof text, 'string');
  return { session: answer.Session, options: JSON.parse(text) };
}

/** The RespondToAuthChallenge answering WEB_AUTHN with a browser's assertion. */
const webAuthnAnswer = (pool, user, challenge, assertion) => ({
  ClientId: pool.clientId,
  ChallengeName: 'WEB_AUTHN',
  Session: challenge.session,
  ChallengeResponses: { USERNAME: user.username, CREDENTIAL: JSON.stringify(assertion) },
});

/** Answers WEB_AUTHN; the answer must be the tokens, which go to the report. */
async function signedIn(pool, user, challenge, assertion, how) {
  const answer = await call('RespondToAuthChallenge', webAuthnAnswer(pool, user, challenge, assertion));
  assert.ok(!answer.ChallengeName, JSON.stringify(answer));
  const tokens = answer.AuthenticationResult;
  assert.ok(tokens?.AccessToken && tokens.IdToken && tokens.RefreshToken, JSON.stringify(answer));
  assert.equal(tokens.TokenType, 'Bearer');
  report.signIns.push({ pool: pool.name, username: user.username, how, tokens });
  return tokens;
}

/** The flags byte of an authenticatorData (base64url). */
const flagsOf = (authenticatorData) => Buffer.from(authenticatorData, 'base64url')[32];

// --------------------------------------------------------------------------
// the browser

/**
 * A page at `url` with a virtual authenticator of its own (the WebAuthn domain of CDP is per
 * page). `verifies` false: an authenticator that cannot verify its user at all.
 */
async function authenticatorAt(url, { verifies = true } = {}) {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: verifies,
      isUserVerified: verifies,
      automaticPresenceSimulation: true,
    },
  });
  const response = await page.goto(url);
  assert.equal(response.status(), 200, url);
  assert.equal(await page.evaluate(() => window.isSecureContext), true, `${url} is not a secure context`);

  // Runs one ceremony in the page; { credential } (its toJSON()) or { error } (the DOMException name).
  const ceremony = (kind, options) =>
    page.evaluate(
      async ({ kind, options }) => {
        try {
          const credential =
            kind === 'create'
              ? await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) })
              : await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
          return { credential: credential.toJSON() };
        } catch (error) {
          return { error: `${error.name}: ${error.message}` };
        }
      },
      { kind, options },
    );

  const done = (outcome) => {
    assert.ok(outcome.credential, `the browser refused: ${outcome.error}`);
    return outcome.credential;
  };

  return {
    origin: new URL(url).origin,
    create: async (options) => done(await ceremony('create', options)),
    get: async (options) => done(await ceremony('get', options)),
    /** The error name of a ceremony the browser must refuse. */
    refuses: async (kind, options) => {
      const outcome = await ceremony(kind, options);
      assert.ok(outcome.error, `the browser made a credential: ${JSON.stringify(outcome.credential)}`);
      return outcome.error.split(':')[0];
    },
    /** The authenticator's credentials, private keys included (CDP). */
    credentials: async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
    /** Puts a copy of a key into this authenticator, for the relying party `rpId`. */
    addCopy: async (credential, rpId) => {
      // A higher counter, so that the copy's assertions fail for nothing but what is tested.
      const copy = { ...credential, rpId, signCount: credential.signCount + 100 };
      await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: copy });
    },
  };
}

/** The registration of `user`'s passkey in `authenticator`, which must be accepted. */
async function register(user, authenticator, options) {
  options ??= await startRegistration(user);
  const credential = await authenticator.create(options);
  assert.deepEqual(await completeRegistration(user, credential), {});
  return credential;
}

// --------------------------------------------------------------------------
// the tests

test('a passkey is registered with the options tessera sends, listed, and excluded afterwards', { timeout: TEST_TIMEOUT }, async () => {
  const { required: pool } = cfg;
  const alice = pool.alice;
  const authenticator = await authenticatorAt(localhostPage());

  const options = await startRegistration(alice);
  assert.equal(options.rp.id, 'localhost');
  assert.equal(options.user.name, alice.username);
  assert.ok(options.challenge.length >= 22, 'a challenge of at least 16 bytes');
  assert.deepEqual(options.excludeCredentials ?? [], []);
  assert.equal(options.authenticatorSelection.residentKey, 'required');
  assert.equal(options.authenticatorSelection.userVerification, 'required');
  assert.ok(options.pubKeyCredParams.some((p) => p.type === 'public-key' && p.alg === -7));

  const credential = await authenticator.create(options);
  assert.deepEqual(credential.response.transports, ['internal']);
  assert.equal(flagsOf(credential.response.authenticatorData) & (UP | UV), UP | UV);
  const startedAt = Date.now() / 1000;
  assert.deepEqual(await completeRegistration(alice, credential), {});

  const listed = await listCredentials(alice);
  assert.equal(listed.length, 1, JSON.stringify(listed));
  const [passkey] = listed;
  assert.equal(passkey.CredentialId, credential.id);
  assert.equal(passkey.RelyingPartyId, 'localhost');
  assert.deepEqual(passkey.AuthenticatorTransports, ['internal']);
  assert.equal(passkey.AuthenticatorAttachment, 'platform');
  assert.equal(typeof passkey.FriendlyCredentialName, 'string');
  assert.ok(passkey.FriendlyCredentialName.length > 0);
  assert.ok(Math.abs(passkey.CreatedAt - startedAt) < 120, `CreatedAt ${passkey.CreatedAt} is not now`);

  // A registration is completed once.
  await refused('CompleteWebAuthnRegistration', { AccessToken: alice.accessToken, Credential: credential }, 'WebAuthnChallengeNotFoundException');

  // The next registration excludes the passkey, in a form the browser reads: the same
  // authenticator refuses to make a second passkey for the user.
  const again = await startRegistration(alice);
  assert.deepEqual(
    again.excludeCredentials.map((c) => [c.type, c.id]),
    [['public-key', credential.id]],
  );
  assert.equal(await authenticator.refuses('create', again), 'InvalidStateError');
  assert.equal((await listCredentials(alice)).length, 1);

  state.alice = { authenticator, credential };
  report.credentials.alice = credential.id;
});

test('USER_AUTH signs in with the passkey, asked for at once or chosen from SELECT_CHALLENGE', { timeout: TEST_TIMEOUT }, async () => {
  const { required: pool } = cfg;
  const alice = pool.alice;
  const { authenticator, credential } = state.alice;

  // PREFERRED_CHALLENGE WEB_AUTHN: the challenge at once, over the user's passkeys.
  const challenge = await webAuthnChallenge(pool, alice);
  assert.equal(challenge.options.rpId, 'localhost');
  assert.equal(challenge.options.userVerification, 'required');
  assert.deepEqual(
    challenge.options.allowCredentials.map((c) => [c.type, c.id]),
    [['public-key', credential.id]],
  );
  const assertion = await authenticator.get(challenge.options);
  assert.equal(assertion.id, credential.id);
  assert.equal(flagsOf(assertion.response.authenticatorData) & (UP | UV), UP | UV);
  await signedIn(pool, alice, challenge, assertion, 'PREFERRED_CHALLENGE');

  // Without a preference: the choice offers WEB_AUTHN, and choosing it asks it.
  const choice = await call('InitiateAuth', {
    ClientId: pool.clientId,
    AuthFlow: 'USER_AUTH',
    AuthParameters: { USERNAME: alice.username },
  });
  assert.equal(choice.ChallengeName, 'SELECT_CHALLENGE');
  assert.ok(choice.AvailableChallenges.includes('WEB_AUTHN'), JSON.stringify(choice.AvailableChallenges));
  const chosen = webAuthnOf(
    await call('RespondToAuthChallenge', {
      ClientId: pool.clientId,
      ChallengeName: 'SELECT_CHALLENGE',
      Session: choice.Session,
      ChallengeResponses: { USERNAME: alice.username, ANSWER: 'WEB_AUTHN' },
    }),
  );
  await signedIn(pool, alice, chosen, await authenticator.get(chosen.options), 'SELECT_CHALLENGE');
});

test('an assertion with a tampered signature is refused', { timeout: TEST_TIMEOUT }, async () => {
  const { required: pool } = cfg;
  const alice = pool.alice;
  const challenge = await webAuthnChallenge(pool, alice);
  const assertion = await state.alice.authenticator.get(challenge.options);
  const signature = Buffer.from(assertion.response.signature, 'base64url');
  // The last byte of the DER signature's S: still a well-formed signature, just not this one.
  signature[signature.length - 1] ^= 0x01;
  const tampered = { ...assertion, response: { ...assertion.response, signature: signature.toString('base64url') } };
  await refused('RespondToAuthChallenge', webAuthnAnswer(pool, alice, challenge, tampered), 'NotAuthorizedException');
});

test('an assertion answers its own challenge, once', { timeout: TEST_TIMEOUT }, async () => {
  const { required: pool } = cfg;
  const alice = pool.alice;
  const first = await webAuthnChallenge(pool, alice);
  const assertion = await state.alice.authenticator.get(first.options);
  await signedIn(pool, alice, first, assertion, 'before-replay');
  // Again on its own session, which is spent.
  await refused('RespondToAuthChallenge', webAuthnAnswer(pool, alice, first, assertion), 'NotAuthorizedException');
  // On a new session: another challenge, which the assertion did not sign.
  const second = await webAuthnChallenge(pool, alice);
  assert.notEqual(second.options.challenge, first.options.challenge);
  await refused('RespondToAuthChallenge', webAuthnAnswer(pool, alice, second, assertion), 'NotAuthorizedException');
});

test("a registration started by one user is not completed with another user's, or another client's, access token", { timeout: TEST_TIMEOUT }, async () => {
  const { required: pool } = cfg;
  const { alice, bob } = pool;
  // A fresh authenticator: Alice's own excludes her first passkey.
  const authenticator = await authenticatorAt(localhostPage());
  const credential = await authenticator.create(await startRegistration(alice));
  // Alice herself, through another app client than the one that started it, cannot either;
  // the refusal leaves the ceremony in place, so Bob's attempt below is a mismatch too (not
  // a registration that no longer exists).
  await refused('CompleteWebAuthnRegistration', { AccessToken: alice.otherClientAccessToken, Credential: credential }, 'WebAuthnClientMismatchException');
  await refused('CompleteWebAuthnRegistration', { AccessToken: bob.accessToken, Credential: credential }, 'WebAuthnClientMismatchException');
  assert.deepEqual(await listCredentials(bob), []);
  assert.deepEqual(
    (await listCredentials(alice)).map((c) => c.CredentialId),
    [state.alice.credential.id],
  );
});

test('a pool whose relying party is example.com takes its own passkey and refuses one made for localhost', { timeout: TEST_TIMEOUT }, async () => {
  const { example: pool } = cfg;
  const dave = pool.dave;

  // Dave's passkey is made on https://example.com, the pool's relying party.
  const home = await authenticatorAt('https://example.com/');
  const options = await startRegistration(dave);
  assert.equal(options.rp.id, 'example.com');
  const credential = await register(dave, home, options);
  const [passkey] = await listCredentials(dave);
  assert.equal(passkey.CredentialId, credential.id);
  assert.equal(passkey.RelyingPartyId, 'example.com');
  report.credentials.dave = credential.id;

  // It signs in from a subdomain of the relying party as well (the same key, for example.com).
  const [key] = await home.credentials();
  const login = await authenticatorAt('https://login.example.com/');
  await login.addCopy(key, 'example.com');
  let challenge = await webAuthnChallenge(pool, dave);
  assert.equal(challenge.options.rpId, 'example.com');
  await signedIn(pool, dave, challenge, await login.get(challenge.options), 'subdomain');

  // The same key and credential id, but made for localhost on http://localhost: the pool's
  // challenge, signed correctly, from an origin and for a relying party that are not its own.
  const elsewhere = await authenticatorAt(localhostPage());
  await elsewhere.addCopy(key, 'localhost');
  challenge = await webAuthnChallenge(pool, dave);
  const assertion = await elsewhere.get({ ...challenge.options, rpId: 'localhost' });
  assert.equal(assertion.id, credential.id);
  await refused(
    'RespondToAuthChallenge',
    webAuthnAnswer(pool, dave, challenge, assertion),
    ['WebAuthnOriginNotAllowedException', 'WebAuthnRelyingPartyMismatchException'],
  );

  // A registration the pool started, made by the browser for localhost.
  const started = await startRegistration(dave);
  const foreign = await authenticatorAt(localhostPage());
  const made = await foreign.create({ ...started, rp: { ...started.rp, id: 'localhost' }, excludeCredentials: [] });
  await refused(
    'CompleteWebAuthnRegistration',
    { AccessToken: dave.accessToken, Credential: made },
    ['WebAuthnOriginNotAllowedException', 'WebAuthnRelyingPartyMismatchException'],
  );
  assert.deepEqual((await listCredentials(dave)).map((c) => c.CredentialId), [credential.id]);
});

test("an rpId other than the pool's is refused even from an origin the pool allows", { timeout: TEST_TIMEOUT }, async () => {
  // https://app.localhost is a subdomain of the pool's relying party (localhost), so its
  // origin is allowed; but a credential scoped to app.localhost is not the pool's.
  const { required: pool } = cfg;
  const { alice, bob } = pool;
  const sub = await authenticatorAt('https://app.localhost/');

  const started = await startRegistration(bob);
  const made = await sub.create({ ...started, rp: { ...started.rp, id: 'app.localhost' } });
  await refused('CompleteWebAuthnRegistration', { AccessToken: bob.accessToken, Credential: made }, 'WebAuthnRelyingPartyMismatchException');
  assert.deepEqual(await listCredentials(bob), []);

  const [key] = await state.alice.authenticator.credentials();
  await sub.addCopy(key, 'app.localhost');
  const challenge = await webAuthnChallenge(pool, alice);
  const assertion = await sub.get({ ...challenge.options, rpId: 'app.localhost' });
  await refused('RespondToAuthChallenge', webAuthnAnswer(pool, alice, challenge, assertion), 'WebAuthnRelyingPartyMismatchException');
});

test('UserVerification: "preferred" takes an authenticator without it, "required" does not', { timeout: TEST_TIMEOUT }, async () => {
  const { required, preferred } = cfg;

  // On the "preferred" pool, an authenticator that cannot verify its user registers a
  // passkey (user present, not verified) and signs in with it.
  const carol = preferred.carol;
  const plain = await authenticatorAt(localhostPage(), { verifies: false });
  const options = await startRegistration(carol);
  assert.equal(options.authenticatorSelection.userVerification, 'preferred');
  const credential = await plain.create(options);
  assert.equal(flagsOf(credential.response.authenticatorData) & (UP | UV), UP);
  assert.deepEqual(await completeRegistration(carol, credential), {});
  assert.deepEqual((await listCredentials(carol)).map((c) => c.CredentialId), [credential.id]);
  report.credentials.carol = credential.id;
  const challenge = await webAuthnChallenge(preferred, carol);
  assert.equal(challenge.options.userVerification, 'preferred');
  const assertion = await plain.get(challenge.options);
  assert.equal(flagsOf(assertion.response.authenticatorData) & (UP | UV), UP);
  await signedIn(preferred, carol, challenge, assertion, 'without-user-verification');

  // On the "required" pool the browser itself refuses the pool's options with such an
  // authenticator ...
  const bob = required.bob;
  const unverified = await authenticatorAt(localhostPage(), { verifies: false });
  const started = await startRegistration(bob);
  assert.equal(await unverified.refuses('create', started), 'NotAllowedError');
  // ... and tessera refuses what it makes when a client lowers the options to "preferred".
  const lowered = await startRegistration(bob);
  const made = await unverified.create({
    ...lowered,
    authenticatorSelection: { ...lowered.authenticatorSelection, userVerification: 'preferred' },
  });
  assert.equal(flagsOf(made.response.authenticatorData) & (UP | UV), UP);
  await refused('CompleteWebAuthnRegistration', { AccessToken: bob.accessToken, Credential: made }, 'WebAuthnCredentialNotSupportedException');
  assert.deepEqual(await listCredentials(bob), []);

  // A passkey registered with user verification does not sign in without it either.
  const verifying = await authenticatorAt(localhostPage());
  const bobs = await register(bob, verifying);
  report.credentials.bob = bobs.id;
  const [key] = await verifying.credentials();
  // Another unverifying authenticator: the first holds Bob's refused passkey already.
  const copy = await authenticatorAt(localhostPage(), { verifies: false });
  await copy.addCopy(key, 'localhost');
  const bobChallenge = await webAuthnChallenge(required, bob);
  const unverifiedAssertion = await copy.get({ ...bobChallenge.options, userVerification: 'preferred' });
  assert.equal(flagsOf(unverifiedAssertion.response.authenticatorData) & (UP | UV), UP);
  await refused('RespondToAuthChallenge', webAuthnAnswer(required, bob, bobChallenge, unverifiedAssertion), 'NotAuthorizedException');
});

test('a deleted passkey is gone and USER_AUTH no longer offers WEB_AUTHN', { timeout: TEST_TIMEOUT }, async () => {
  const { required: pool } = cfg;
  const alice = pool.alice;
  const id = state.alice.credential.id;

  assert.deepEqual(await call('DeleteWebAuthnCredential', { AccessToken: alice.accessToken, CredentialId: id }), {});
  assert.deepEqual(await listCredentials(alice), []);
  await refused('DeleteWebAuthnCredential', { AccessToken: alice.accessToken, CredentialId: id }, 'ResourceNotFoundException');

  // The choice no longer lists WEB_AUTHN, nor takes it as an answer.
  const choice = await call('InitiateAuth', {
    ClientId: pool.clientId,
    AuthFlow: 'USER_AUTH',
    AuthParameters: { USERNAME: alice.username },
  });
  assert.equal(choice.ChallengeName, 'SELECT_CHALLENGE');
  assert.ok(!choice.AvailableChallenges.includes('WEB_AUTHN'), JSON.stringify(choice.AvailableChallenges));
  assert.ok(choice.AvailableChallenges.includes('PASSWORD'));
  await refused(
    'RespondToAuthChallenge',
    {
      ClientId: pool.clientId,
      ChallengeName: 'SELECT_CHALLENGE',
      Session: choice.Session,
      ChallengeResponses: { USERNAME: alice.username, ANSWER: 'WEB_AUTHN' },
    },
    'InvalidParameterException',
  );
  // A preference for it leads to the choice instead.
  const preferring = await call('InitiateAuth', {
    ClientId: pool.clientId,
    AuthFlow: 'USER_AUTH',
    AuthParameters: { USERNAME: alice.username, PREFERRED_CHALLENGE: 'WEB_AUTHN' },
  });
  assert.equal(preferring.ChallengeName, 'SELECT_CHALLENGE');
  assert.ok(!preferring.AvailableChallenges.includes('WEB_AUTHN'));

  // Bob's passkey, in the same pool, is untouched.
  assert.deepEqual((await listCredentials(pool.bob)).map((c) => c.CredentialId), [report.credentials.bob]);
});
