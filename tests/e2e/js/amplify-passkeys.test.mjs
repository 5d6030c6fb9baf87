// Amplify JS v6 (npm `aws-amplify`) passkeys against tessera, run where Amplify's passkey code
// can run: in a browser. Amplify calls navigator.credentials, which Node does not have, so this
// test bundles js/amplify-browser/entry.mjs with esbuild, injects the bundle into headless
// Chromium (Debian's package, driven by playwright-core) on a page tessera serves at
// http://localhost:<port>/health (a secure context whose origin belongs to the relying party
// localhost), gives the page a virtual authenticator (Chrome DevTools Protocol, WebAuthn domain:
// CTAP2, internal transport, resident keys, user verification, presence simulated) and calls
// Amplify's own functions in the page with page.evaluate. Amplify talks to tessera itself, same
// origin, and the authenticator answers Amplify's navigator.credentials calls.
//
// What it proves, in order (the tests share the one passkey):
//   1. associateWebAuthnCredential, after a password (SRP) sign-in, registers a passkey:
//      Amplify sends StartWebAuthnRegistration and CompleteWebAuthnRegistration, the virtual
//      authenticator holds the new key, and listWebAuthnCredentials shows it with its relying
//      party, attachment, transports and creation time; a second association is refused by the
//      authenticator itself (tessera excluded the passkey), as Amplify's PasskeyAlreadyExists
//   2. signIn with authFlowType USER_AUTH and preferredChallenge WEB_AUTHN signs in through the
//      WEB_AUTHN challenge (one InitiateAuth, one RespondToAuthChallenge carrying the browser's
//      assertion), and fetchAuthSession holds the user's tokens
//   3. signIn USER_AUTH without a preference stops at
//      CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION listing WEB_AUTHN, and
//      confirmSignIn({ challengeResponse: 'WEB_AUTHN' }) signs in with the passkey
//   4. deleteWebAuthnCredential removes it: the list is empty, a second deletion is
//      ResourceNotFoundException, and USER_AUTH no longer offers WEB_AUTHN (a preference for it
//      falls back to the choice, where the password still signs in)
//
// Run by tests/e2e/test_amplify_passkeys.py, which makes the pool and the user and passes one
// JSON document in TESSERA_E2E_AMPLIFY_PASSKEYS:
//   endpoint   the server's API URL (its port is the one the page uses on localhost)
//   bundle     where the esbuild bundle of the entry is kept; built here when it is missing, so
//              one build serves the whole pytest session
//   report     a file this test writes the tokens of its sign-ins to, for the driver
//   poolId, clientId   first factors PASSWORD and WEB_AUTHN, relying party localhost with
//              UserVerification required, MFA off; a public client with ALLOW_USER_AUTH,
//              ALLOW_USER_SRP_AUTH and ALLOW_REFRESH_TOKEN_AUTH
//   username, password a confirmed user without a passkey
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.env.TESSERA_E2E_AMPLIFY_PASSKEYS || 'null');
const TEST_TIMEOUT = 60_000;
const PAGE_TIMEOUT = 15_000;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const ENTRY = fileURLToPath(new URL('./amplify-browser/entry.mjs', import.meta.url));
// Flags of authenticatorData (WebAuthn section 6.1): user present, user verified.
const UP = 0x01;
const UV = 0x04;

let browser;
let page;
let cdp;
let authenticatorId;
// The outcomes the driver checks with boto3 and PyJWT afterwards.
const report = { signIns: [] };
// The passkey the tests share.
const state = {};

/** The origin tessera serves on localhost: a secure context, inside the relying party localhost. */
const origin = () => `http://localhost:${new URL(cfg.endpoint).port}`;

/** The bundle of the browser entry: built with esbuild once, then read from where it is kept. */
async function bundle() {
  if (!existsSync(cfg.bundle)) {
    await build({
      entryPoints: [ENTRY],
      bundle: true,
      platform: 'browser',
      format: 'iife',
      target: 'es2020',
      outfile: cfg.bundle,
      logLevel: 'error',
    });
  }
  return readFileSync(cfg.bundle, 'utf8');
}

before(async () => {
  assert.ok(cfg, 'TESSERA_E2E_AMPLIFY_PASSKEYS is not set (run through tests/e2e/test_amplify_passkeys.py)');
  const script = await bundle();
  const executablePath = execFileSync('sh', ['-c', 'command -v chromium || true']).toString().trim();
  assert.ok(executablePath, 'chromium is not installed (scripts/test installs it: apt-get install -y chromium)');
  browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  const context = await browser.newContext();
  context.setDefaultTimeout(PAGE_TIMEOUT);
  context.setDefaultNavigationTimeout(PAGE_TIMEOUT);
  page = await context.newPage();
  // Uncaught errors in the page show up in the node output, should Amplify fail there.
  page.on('pageerror', (error) => console.error('page error:', error));

  cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  ({ authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  }));

  const response = await page.goto(`${origin()}/health`);
  assert.equal(response.status(), 200);
  assert.equal(await page.evaluate(() => window.isSecureContext), true, `${origin()} is not a secure context`);
  await page.addScriptTag({ content: script });
  // Amplify configured in the page as an app configures it, with tessera as the user pool
  // endpoint (same origin as the page, so no CORS is involved).
  await page.evaluate(
    ({ poolId, clientId, endpoint }) =>
      window.amplify.Amplify.configure({
        Auth: { Cognito: { userPoolId: poolId, userPoolClientId: clientId, userPoolEndpoint: endpoint } },
      }),
    { poolId: cfg.poolId, clientId: cfg.clientId, endpoint: `${origin()}/` },
  );
  // Configuring sends nothing.
  assert.equal(await page.evaluate(() => window.amplify.sent.length), 0);
});

after(async () => {
  if (cfg) writeFileSync(cfg.report, JSON.stringify(report, null, 2));
  await browser?.close();
});

// --------------------------------------------------------------------------
// Amplify in the page

/**
 * Calls `window.amplify[name](...args)` in the page; its value, or the AuthError it threw
 * ({ error: { name, message, underlying } }, underlying being the name of the DOMException or
 * service error inside it).
 */
async function amplify(name, ...args) {
  return page.evaluate(
    async ({ name, args }) => {
      try {
        return { value: await window.amplify[name](...args) };
      } catch (error) {
        return { error: { name: error.name, message: error.message, underlying: error.underlyingError?.name } };
      }
    },
    { name, args },
  );
}

/** A call that must succeed; its value. */
async function ok(name, ...args) {
  const outcome = await amplify(name, ...args);
  assert.ok(!outcome.error, `${name} threw ${JSON.stringify(outcome.error)}`);
  return outcome.value;
}

/** A call that must throw the error `errorName`; the error. */
async function refused(errorName, name, ...args) {
  const outcome = await amplify(name, ...args);
  assert.ok(outcome.error, `${name} did not throw, it returned ${JSON.stringify(outcome.value)}`);
  assert.equal(outcome.error.name, errorName, JSON.stringify(outcome.error));
  return outcome.error;
}

/** How many requests Amplify has sent so far. */
const mark = () => page.evaluate(() => window.amplify.sent.length);
/** The requests Amplify sent after the first `from`, with tessera's answers. */
const sentSince = (from) => page.evaluate((from) => window.amplify.sent.slice(from), from);
const show = (records) => JSON.stringify(records.map(({ operation, status, body, response }) => ({ operation, status, body, response })), null, 1);

/**
 * fetchAuthSession (forced to refresh with `forceRefresh`), with the tokens as their strings
 * and payloads (the JWT objects stay in the page).
 */
const session = (forceRefresh = false) =>
  page.evaluate(async (forceRefresh) => {
    const { tokens, userSub } = await window.amplify.fetchAuthSession({ forceRefresh });
    if (!tokens) return { userSub };
    return {
      userSub,
      accessToken: tokens.accessToken.toString(),
      access: tokens.accessToken.payload,
      idToken: tokens.idToken?.toString(),
      id: tokens.idToken?.payload,
    };
  }, forceRefresh);

// --------------------------------------------------------------------------
// the authenticator and WebAuthn's data

const base64url = (base64) => Buffer.from(base64, 'base64').toString('base64url');
/** The flags byte of an authenticatorData (base64url). */
const flagsOf = (authenticatorData) => Buffer.from(authenticatorData, 'base64url')[32];
/** The parsed clientDataJSON (base64url) of a credential. */
const clientDataOf = (credential) => JSON.parse(Buffer.from(credential.response.clientDataJSON, 'base64url').toString('utf8'));
/** The credentials the virtual authenticator holds, private keys included. */
const held = async () => (await cdp.send('WebAuthn.getCredentials', { authenticatorId })).credentials;

// --------------------------------------------------------------------------
// checks shared by the sign-ins

/** Amplify is signed in as the user, with the tokens of `result` (an AuthenticationResult). */
async function assertSignedIn(result, how) {
  assert.ok(result?.AccessToken && result.IdToken && result.RefreshToken, JSON.stringify(result));
  const user = await ok('getCurrentUser');
  assert.equal(user.username, cfg.username);
  assert.deepEqual(user.signInDetails, { loginId: cfg.username, authFlowType: 'USER_AUTH' });

  // The session holds exactly the tokens tessera issued in this sign-in, for this user and client.
  const now = await session();
  assert.equal(now.accessToken, result.AccessToken);
  assert.equal(now.idToken, result.IdToken);
  assert.equal(now.access.token_use, 'access');
  assert.equal(now.access.username, cfg.username);
  assert.equal(now.access.client_id, cfg.clientId);
  assert.equal(now.id.token_use, 'id');
  assert.equal(now.id['cognito:username'], cfg.username);
  assert.equal(now.id.aud, cfg.clientId);
  assert.equal(now.id.sub, now.access.sub);
  assert.equal(now.userSub, now.access.sub);
  assert.equal(user.userId, now.access.sub);
  assert.ok(Math.abs(now.access.auth_time - Date.now() / 1000) < 60, `auth_time ${now.access.auth_time} is not now`);
  // tessera takes the access token: GetUser through Amplify.
  const attributes = await ok('fetchUserAttributes');
  assert.equal(attributes.sub, now.access.sub);
  report.signIns.push({ how, tokens: { AccessToken: result.AccessToken, IdToken: result.IdToken, RefreshToken: result.RefreshToken } });
}

/** Amplify's signOut, which revokes the sign-in's refresh token at tessera (RevokeToken). */
async function signOutAndCheck() {
  const since = await mark();
  await ok('signOut');
  const ops = await sentSince(since);
  assert.deepEqual(ops.map((r) => r.operation), ['RevokeToken'], show(ops));
  assert.equal(ops[0].body.ClientId, cfg.clientId);
  assert.equal(ops[0].status, 200, show(ops));
  await refused('UserUnAuthenticatedException', 'getCurrentUser');
  assert.equal((await session()).accessToken, undefined);
}

/**
 * The WEB_AUTHN challenge `challenge` (tessera's answer) and Amplify's answer `answer` to it:
 * the request options are the pool's and name the passkey, and the browser's assertion signed
 * this challenge for this origin with the passkey, the user verified. The tokens tessera sent.
 */
function assertWebAuthnRound(challenge, answer) {
  assert.equal(challenge.ChallengeName, 'WEB_AUTHN');
  const options = JSON.parse(challenge.ChallengeParameters.CREDENTIAL_REQUEST_OPTIONS);
  assert.equal(options.rpId, 'localhost');
  assert.equal(options.userVerification, 'required');
  assert.deepEqual(options.allowCredentials.map((c) => [c.type, c.id]), [['public-key', state.credentialId]]);

  assert.equal(answer.operation, 'RespondToAuthChallenge');
  assert.equal(answer.body.ChallengeName, 'WEB_AUTHN');
  assert.equal(answer.body.ClientId, cfg.clientId);
  assert.equal(answer.body.Session, challenge.Session);
  assert.deepEqual(Object.keys(answer.body.ChallengeResponses).sort(), ['CREDENTIAL', 'USERNAME']);
  assert.equal(answer.body.ChallengeResponses.USERNAME, cfg.username);
  const assertion = JSON.parse(answer.body.ChallengeResponses.CREDENTIAL);
  assert.equal(assertion.id, state.credentialId);
  assert.equal(assertion.type, 'public-key');
  const clientData = clientDataOf(assertion);
  assert.equal(clientData.type, 'webauthn.get');
  assert.equal(clientData.challenge, options.challenge);
  assert.equal(clientData.origin, origin());
  assert.equal(flagsOf(assertion.response.authenticatorData) & (UP | UV), UP | UV);
  assert.equal(answer.status, 200, show([answer]));
  assert.equal(answer.response.ChallengeName, undefined);
  return answer.response.AuthenticationResult;
}

// --------------------------------------------------------------------------
// the tests

test('associateWebAuthnCredential registers a passkey in the authenticator, and listWebAuthnCredentials shows it', { timeout: TEST_TIMEOUT }, async () => {
  // A password sign-in first (Amplify's default flow, SRP): registering needs an access token.
  let since = await mark();
  assert.deepEqual(await ok('signIn', { username: cfg.username, password: cfg.password }), {
    isSignedIn: true,
    nextStep: { signInStep: 'DONE' },
  });
  let ops = await sentSince(since);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth', 'RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.AuthFlow, 'USER_SRP_AUTH');
  const { accessToken } = await session();
  assert.ok(accessToken);
  assert.deepEqual(await held(), []);

  since = await mark();
  const startedAt = Date.now() / 1000;
  assert.deepEqual(await ok('associateWebAuthnCredential'), undefined);
  ops = await sentSince(since);
  assert.deepEqual(ops.map((r) => r.operation), ['StartWebAuthnRegistration', 'CompleteWebAuthnRegistration'], show(ops));
  const [start, complete] = ops;
  assert.deepEqual(start.body, { AccessToken: accessToken });
  assert.equal(start.status, 200, show(ops));
  const options = start.response.CredentialCreationOptions;
  assert.equal(options.rp.id, 'localhost');
  assert.equal(options.user.name, cfg.username);
  assert.equal(options.authenticatorSelection.userVerification, 'required');
  assert.deepEqual(options.excludeCredentials ?? [], []);

  // What Amplify completed with is what the authenticator made: its one key, for localhost,
  // resident, with the user handle tessera asked for.
  const keys = await held();
  assert.equal(keys.length, 1, JSON.stringify(keys));
  const [key] = keys;
  assert.equal(key.rpId, 'localhost');
  assert.equal(key.isResidentCredential, true);
  assert.equal(base64url(key.userHandle), options.user.id);
  const credentialId = base64url(key.credentialId);
  assert.equal(complete.body.AccessToken, accessToken);
  const credential = complete.body.Credential;
  assert.equal(credential.id, credentialId);
  assert.equal(credential.rawId, credentialId);
  assert.equal(credential.type, 'public-key');
  assert.deepEqual(credential.response.transports, ['internal']);
  const clientData = clientDataOf(credential);
  assert.equal(clientData.type, 'webauthn.create');
  assert.equal(clientData.challenge, options.challenge);
  assert.equal(clientData.origin, origin());
  assert.equal(flagsOf(credential.response.authenticatorData) & (UP | UV), UP | UV);
  assert.equal(complete.status, 200, show(ops));
  assert.deepEqual(complete.response, {});

  // listWebAuthnCredentials: Amplify's view of ListWebAuthnCredentials.
  since = await mark();
  const listed = await ok('listWebAuthnCredentials');
  assert.deepEqual(Object.keys(listed).sort(), ['credentials', 'nextToken']);
  assert.equal(listed.nextToken, undefined);
  assert.equal(listed.credentials.length, 1, JSON.stringify(listed));
  const [passkey] = listed.credentials;
  assert.equal(passkey.credentialId, credentialId);
  assert.equal(passkey.relyingPartyId, 'localhost');
  assert.equal(passkey.authenticatorAttachment, 'platform');
  assert.deepEqual(passkey.authenticatorTransports, ['internal']);
  assert.equal(typeof passkey.friendlyCredentialName, 'string');
  assert.ok(passkey.friendlyCredentialName.length > 0);
  assert.ok(passkey.createdAt instanceof Date, `createdAt ${passkey.createdAt}`);
  assert.ok(Math.abs(passkey.createdAt.getTime() / 1000 - startedAt) < 120, `createdAt ${passkey.createdAt} is not now`);
  ops = await sentSince(since);
  assert.deepEqual(ops.map((r) => r.operation), ['ListWebAuthnCredentials'], show(ops));
  assert.deepEqual(ops[0].body, { AccessToken: accessToken });

  // A second association: tessera excludes the passkey, so the authenticator refuses to make
  // another, and Amplify reports it as PasskeyAlreadyExists without completing anything.
  since = await mark();
  const again = await refused('PasskeyAlreadyExists', 'associateWebAuthnCredential');
  assert.equal(again.underlying, 'InvalidStateError');
  ops = await sentSince(since);
  assert.deepEqual(ops.map((r) => r.operation), ['StartWebAuthnRegistration'], show(ops));
  assert.deepEqual(
    ops[0].response.CredentialCreationOptions.excludeCredentials.map((c) => [c.type, c.id]),
    [['public-key', credentialId]],
  );
  assert.equal((await held()).length, 1);
  assert.equal((await ok('listWebAuthnCredentials')).credentials.length, 1);

  state.credentialId = credentialId;
  state.signCount = key.signCount;
  await signOutAndCheck();
});

test("signIn USER_AUTH preferring WEB_AUTHN signs in with the passkey, and fetchAuthSession has the user's tokens", { timeout: TEST_TIMEOUT }, async () => {
  assert.ok(state.credentialId, 'the passkey of the first test');
  const since = await mark();
  const result = await ok('signIn', {
    username: cfg.username,
    options: { authFlowType: 'USER_AUTH', preferredChallenge: 'WEB_AUTHN' },
  });
  assert.deepEqual(result, { isSignedIn: true, nextStep: { signInStep: 'DONE' } });

  // One InitiateAuth asking for WEB_AUTHN at once, one answer carrying the assertion.
  const ops = await sentSince(since);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth', 'RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.AuthFlow, 'USER_AUTH');
  assert.equal(ops[0].body.ClientId, cfg.clientId);
  assert.deepEqual(ops[0].body.AuthParameters, { USERNAME: cfg.username, PREFERRED_CHALLENGE: 'WEB_AUTHN' });
  assert.equal(ops[0].status, 200, show(ops));
  const tokens = assertWebAuthnRound(ops[0].response, ops[1]);
  await assertSignedIn(tokens, 'PREFERRED_CHALLENGE');

  // The authenticator signed: its counter moved on.
  const [key] = await held();
  assert.ok(key.signCount > state.signCount, `signCount ${key.signCount} after ${state.signCount}`);
  state.signCount = key.signCount;

  // The refresh token of the passkey sign-in refreshes: a forced refresh brings new tokens for
  // the same user, from the same sign-in.
  const before = await session();
  const refreshMark = await mark();
  const refreshed = await session(true);
  const refreshOps = await sentSince(refreshMark);
  assert.deepEqual(refreshOps.map((r) => r.operation), ['GetTokensFromRefreshToken'], show(refreshOps));
  assert.equal(refreshOps[0].body.ClientId, cfg.clientId);
  assert.equal(refreshOps[0].body.RefreshToken, tokens.RefreshToken);
  assert.equal(refreshOps[0].status, 200, show(refreshOps));
  assert.notEqual(refreshed.accessToken, before.accessToken);
  assert.equal(refreshed.accessToken, refreshOps[0].response.AuthenticationResult.AccessToken);
  assert.equal(refreshed.access.sub, before.access.sub);
  assert.equal(refreshed.access.auth_time, before.access.auth_time);
  assert.equal(refreshed.access.origin_jti, before.access.origin_jti);
  assert.equal((await ok('fetchUserAttributes')).sub, before.access.sub);
  await signOutAndCheck();
});

test('signIn USER_AUTH without a preference offers WEB_AUTHN, and confirmSignIn WEB_AUTHN signs in', { timeout: TEST_TIMEOUT }, async () => {
  let since = await mark();
  const choice = await ok('signIn', { username: cfg.username, options: { authFlowType: 'USER_AUTH' } });
  assert.deepEqual(choice, {
    isSignedIn: false,
    nextStep: {
      signInStep: 'CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION',
      availableChallenges: ['PASSWORD_SRP', 'PASSWORD', 'WEB_AUTHN'],
    },
  });
  let ops = await sentSince(since);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth'], show(ops));
  assert.deepEqual(ops[0].body.AuthParameters, { USERNAME: cfg.username });
  assert.equal(ops[0].response.ChallengeName, 'SELECT_CHALLENGE');
  const selectSession = ops[0].response.Session;

  // Choosing WEB_AUTHN: the choice answered, then the challenge it leads to.
  since = await mark();
  assert.deepEqual(await ok('confirmSignIn', { challengeResponse: 'WEB_AUTHN' }), {
    isSignedIn: true,
    nextStep: { signInStep: 'DONE' },
  });
  ops = await sentSince(since);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge', 'RespondToAuthChallenge'], show(ops));
  assert.equal(ops[0].body.ChallengeName, 'SELECT_CHALLENGE');
  assert.equal(ops[0].body.Session, selectSession);
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: cfg.username, ANSWER: 'WEB_AUTHN' });
  assert.equal(ops[0].status, 200, show(ops));
  const tokens = assertWebAuthnRound(ops[0].response, ops[1]);
  await assertSignedIn(tokens, 'SELECT_CHALLENGE');

  const [key] = await held();
  assert.ok(key.signCount > state.signCount, `signCount ${key.signCount} after ${state.signCount}`);
  // Signed in, for the deletion that follows.
});

test('deleteWebAuthnCredential removes the passkey, and USER_AUTH no longer offers WEB_AUTHN', { timeout: TEST_TIMEOUT }, async () => {
  assert.ok((await session()).accessToken, 'signed in by the test before');
  let since = await mark();
  assert.deepEqual(await ok('deleteWebAuthnCredential', { credentialId: state.credentialId }), undefined);
  let ops = await sentSince(since);
  assert.deepEqual(ops.map((r) => r.operation), ['DeleteWebAuthnCredential'], show(ops));
  assert.equal(ops[0].body.CredentialId, state.credentialId);
  assert.equal(ops[0].status, 200, show(ops));
  assert.deepEqual(await ok('listWebAuthnCredentials'), { credentials: [], nextToken: undefined });

  // It is gone, not hidden: deleting it again finds nothing.
  const error = await refused('ResourceNotFoundException', 'deleteWebAuthnCredential', { credentialId: state.credentialId });
  assert.ok(error.message.length > 0);

  // Signed out, a preference for WEB_AUTHN falls back to the choice, which no longer lists it;
  // the password still signs in from there.
  await signOutAndCheck();
  since = await mark();
  const choice = await ok('signIn', {
    username: cfg.username,
    options: { authFlowType: 'USER_AUTH', preferredChallenge: 'WEB_AUTHN' },
  });
  assert.deepEqual(choice, {
    isSignedIn: false,
    nextStep: { signInStep: 'CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION', availableChallenges: ['PASSWORD_SRP', 'PASSWORD'] },
  });
  ops = await sentSince(since);
  assert.deepEqual(ops.map((r) => r.operation), ['InitiateAuth'], show(ops));
  assert.deepEqual(ops[0].body.AuthParameters, { USERNAME: cfg.username, PREFERRED_CHALLENGE: 'WEB_AUTHN' });
  assert.deepEqual(await ok('confirmSignIn', { challengeResponse: 'PASSWORD' }), {
    isSignedIn: false,
    nextStep: { signInStep: 'CONFIRM_SIGN_IN_WITH_PASSWORD' },
  });
  since = await mark();
  assert.deepEqual(await ok('confirmSignIn', { challengeResponse: cfg.password }), {
    isSignedIn: true,
    nextStep: { signInStep: 'DONE' },
  });
  ops = await sentSince(since);
  assert.deepEqual(ops.map((r) => r.operation), ['RespondToAuthChallenge'], show(ops));
  assert.deepEqual(ops[0].body.ChallengeResponses, { USERNAME: cfg.username, ANSWER: 'PASSWORD', PASSWORD: cfg.password });
  await assertSignedIn(ops[0].response.AuthenticationResult, 'PASSWORD-after-deletion');
  await signOutAndCheck();
});
