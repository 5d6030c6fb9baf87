// Passkeys on the hosted pages (issue 13) in a real browser: headless Chromium (Debian's
// package, driven by playwright-core, never a downloaded browser) with a virtual WebAuthn
// authenticator from the Chrome DevTools Protocol, so that the pages' own script calls
// navigator.credentials.create() and .get() as it would with a person at a laptop. openid-client
// builds the authorization requests (PKCE, state, nonce) and redeems the codes.
//
// Run by tests/e2e/test_passkeys_hosted.py, which starts tessera, creates a pool that offers
// passkeys (AllowedFirstAuthFactors with WEB_AUTHN, RelyingPartyId localhost), a code-flow
// client and users, and passes everything in one JSON document, TESSERA_E2E_PASSKEYS:
//   backend, poolId, issuer (<public url>/<pool id>), base (http://localhost:<port>/<pool id>,
//   the pages as the browser loads them: WebAuthn needs a secure context and a host name),
//   client: { id, secret, redirectUri }, password, scope,
//   users: { passkey, skipper, unknown }   (two real users and a name nobody has)
//   results (a file this run writes for the driver's own checks with boto3).
//
// The tests share state and run in order: the first registers the passkey the later ones use.
// The callback is https://app.example.com/...: the test reads the URL of the browser's request
// to it and never lets it out (see CHROMIUM_ARGS).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.env.TESSERA_E2E_PASSKEYS || 'null');
const TEST_TIMEOUT = 90_000;
const PAGE_TIMEOUT = 15_000;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // The app's callback is never fetched: the test records the browser's request to it and
  // lets the name fail to resolve at once instead of waiting on DNS.
  '--host-resolver-rules=MAP app.example.com ~NOTFOUND',
];
const APP_ORIGIN = 'https://app.example.com';
// The authenticator of a laptop with a fingerprint reader: it keeps discoverable credentials,
// verifies its user, and answers without anyone touching it.
const AUTHENTICATOR = {
  protocol: 'ctap2',
  transport: 'internal',
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
};
const SIGN_IN_FAILED = 'The passkey could not sign you in. Try again, or use your password.';
const NOT_USED = 'The passkey was not used (NotAllowedError). Try again.';

let browser;
let config;
const flow = {}; // state shared by the tests, in order
const results = {}; // what the driver checks afterwards with boto3

before(async () => {
  assert.ok(cfg, 'TESSERA_E2E_PASSKEYS is not set (run through tests/e2e/test_passkeys_hosted.py)');
  const executablePath = execFileSync('sh', ['-c', 'command -v chromium || true']).toString().trim();
  assert.ok(executablePath, 'chromium is not installed (scripts/test installs it: apt-get install -y chromium)');
  browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
  config = await client.discovery(new URL(cfg.issuer), cfg.client.id, cfg.client.secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
});

after(async () => {
  await browser?.close();
  writeFileSync(cfg.results, JSON.stringify(results, null, 2));
});

// --------------------------------------------------------------------------
// helpers

/**
 * A fresh browser context with JavaScript on (the passkey pages need their script), one page
 * in it, and a virtual authenticator attached to that page. Every main-frame document the page
 * loads is recorded (URL, status, headers), and so is every console error and page error.
 */
async function browse() {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  ctx.setDefaultTimeout(PAGE_TIMEOUT);
  ctx.setDefaultNavigationTimeout(PAGE_TIMEOUT);
  const page = await ctx.newPage();
  const documents = [];
  const problems = [];
  page.on('response', (r) => {
    const req = r.request();
    if (req.isNavigationRequest() && req.frame() === page.mainFrame()) {
      documents.push({ url: r.url(), method: req.method(), status: r.status(), headers: r.headers() });
    }
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const where = m.location()?.url ?? '';
    // The browser asks for /favicon.ico on its own (the pages link none, and tessera has none).
    if (new URL(where || 'about:blank').pathname === '/favicon.ico') return;
    problems.push(`console: ${m.text()} (${where})`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const cdp = await ctx.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: AUTHENTICATOR });
  return { ctx, page, cdp, authenticatorId, documents, problems };
}

async function credentialsOf(b) {
  return (await b.cdp.send('WebAuthn.getCredentials', { authenticatorId: b.authenticatorId })).credentials;
}

/** An authorization request as an app builds it, sent to the pages on localhost. */
async function authorization() {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.client.redirectUri,
    scope: cfg.scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return { url: `${cfg.base}/oauth2/authorize${url.search}`, verifier, state, nonce };
}

/**
 * Runs an action that navigates (a click, a script's form.submit()) and waits for the document
 * it ends on to load. Returns the POST navigation's first response (the redirect or the page)
 * and the browser's request to the app when the redirects ended there.
 */
async function navigation(page, action) {
  let app = null;
  let post = null;
  const onRequest = (r) => {
    if (!app && r.isNavigationRequest() && r.frame() === page.mainFrame() && r.url().startsWith(APP_ORIGIN)) app = r;
  };
  const onResponse = (r) => {
    const req = r.request();
    if (!post && req.isNavigationRequest() && req.frame() === page.mainFrame() && req.method() === 'POST') post = r;
  };
  page.on('request', onRequest);
  page.on('response', onResponse);
  try {
    await Promise.all([page.waitForEvent('load'), action()]);
    return { post, app };
  } finally {
    page.off('request', onRequest);
    page.off('response', onResponse);
  }
}

/** The last main-frame document the page loaded (the answer to a GET, after its redirects). */
function lastDocument(b) {
  const doc = b.documents.at(-1);
  assert.ok(doc, 'no document was loaded');
  return doc;
}

/** Asserts the page is `{base}/<name>`; returns its URL. */
function assertOn(page, name) {
  const expected = new URL(`${cfg.base}/${name}`);
  const actual = new URL(page.url());
  assert.equal(`${actual.origin}${actual.pathname}`, `${expected.origin}${expected.pathname}`, `expected the ${name} page, at ${page.url()}`);
  return actual;
}

async function errorText(page) {
  const box = page.locator('.errorMessage-customizable[role=alert]');
  return (await box.count()) ? (await box.first().innerText()).trim() : null;
}

/** Asserts the browser was sent to the callback with a code; returns the callback URL. */
async function assertCallback(page, app, auth) {
  assert.ok(app, `the browser was not sent to ${cfg.client.redirectUri}; it is at ${page.url()}: ${await errorText(page)}`);
  const url = new URL(app.url());
  assert.equal(`${url.origin}${url.pathname}`, cfg.client.redirectUri, `not the callback: ${app.url()}`);
  assert.equal(url.searchParams.get('error'), null, `authorization error: ${app.url()}`);
  assert.match(url.searchParams.get('code') ?? '', /^[A-Za-z0-9_-]{43}$/, `code: ${app.url()}`);
  assert.equal(url.searchParams.get('state'), auth.state);
  assert.equal(url.searchParams.get('iss'), cfg.issuer, 'RFC 9207 iss on the authorization response');
  return url.href;
}

/** Redeems the callback URL (PKCE, state, nonce checked; the ID token validated). */
async function redeem(auth, callbackUrl) {
  return client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: auth.verifier,
    expectedState: auth.state,
    expectedNonce: auth.nonce,
    idTokenExpected: true,
  });
}

function decode(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

/** The sign-in page an authorization request leads to, with its checks. */
async function openSignIn(b, auth) {
  await b.page.goto(auth.url);
  const login = assertOn(b.page, 'login');
  assert.equal(login.searchParams.get('state'), auth.state, 'the sign-in page keeps the authorize query');
  const form = b.page.locator('form[name=cognitoSignInForm]');
  assert.equal(await form.count(), 1, 'no sign-in form');
  const button = form.locator('button[type=submit][name=passkey][value="1"]');
  assert.equal(await button.count(), 1, 'the sign-in form of a pool that offers passkeys has no passkey button');
  assert.equal((await button.innerText()).trim(), 'Sign in with a passkey');
  return login;
}

/** Types a username and password and presses "Sign in". */
async function passwordSignIn(b, username) {
  await b.page.fill('#signInFormUsername', username);
  await b.page.fill('#signInFormPassword', cfg.password);
  return navigation(b.page, () => b.page.locator('form[name=cognitoSignInForm] button[name=signInSubmitButton]').click());
}

/** Types a username, and only that, and presses "Sign in with a passkey". */
async function passkeyButton(b, username) {
  await b.page.fill('#signInFormUsername', username);
  assert.equal(await b.page.inputValue('#signInFormPassword'), '', 'a password was typed');
  return navigation(b.page, () => b.page.locator('form[name=cognitoSignInForm] button[name=passkey]').click());
}

/**
 * What a passkey page shows: its form (ceremony, action, fields), the prompt, the button, the
 * ceremony's options, the script, and the headers of the document. Checks what every passkey
 * page must be: one script, exactly the one its Content-Security-Policy allows by hash.
 */
async function passkeyPage(b, ceremony) {
  const form = b.page.locator('form[name=passkeyForm]');
  assert.equal(await form.count(), 1, `no passkeyForm at ${b.page.url()}: ${await errorText(b.page)}`);
  assert.equal(await form.getAttribute('data-ceremony'), ceremony);
  assert.equal(await form.getAttribute('method'), 'post');
  assert.equal(await form.locator('input[type=hidden][name=_csrf]').count(), 1, 'no hidden _csrf field');
  assert.equal(await form.locator('input[type=hidden][name=credential]').count(), 1, 'no hidden credential field');
  assert.equal(await form.locator('input[type=hidden]#passkeyOptions').count(), 1, 'no #passkeyOptions');
  const options = JSON.parse(await b.page.inputValue('#passkeyOptions'));
  const shown = {
    title: await b.page.title(),
    heading: (await b.page.locator('h1').innerText()).trim(),
    prompt: (await b.page.locator('p.textDescription-customizable').innerText()).trim(),
    button: (await form.locator('button[type=submit]').innerText()).trim(),
    fields: await form.locator('input').evaluateAll((inputs) => inputs.map((i) => `${i.type}:${i.name || i.id}`)),
    action: new URL(await form.getAttribute('action'), b.page.url()).pathname,
  };

  // The script: one element, inline, and the Content-Security-Policy allows it by its hash.
  const scripts = b.page.locator('script');
  assert.equal(await scripts.count(), 1, 'a passkey page has exactly one <script>');
  assert.equal(await scripts.first().getAttribute('src'), null, 'the script is inline');
  const text = await scripts.first().textContent();
  const hash = `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
  const doc = lastDocument(b);
  const csp = doc.headers['content-security-policy'] ?? '';
  const directives = csp.split(';').map((d) => d.trim()).filter(Boolean);
  const scriptSrc = directives.filter((d) => d.split(/\s+/)[0] === 'script-src');
  assert.equal(scriptSrc.length, 1, `one script-src directive in ${csp}`);
  const sources = scriptSrc[0].split(/\s+/).slice(1);
  assert.deepEqual(sources, [hash], `script-src allows the page's script by its hash and nothing else: ${csp}`);
  assert.ok(directives.includes("default-src 'none'"), `default-src 'none' stays: ${csp}`);
  assert.equal(doc.headers['x-frame-options'], 'DENY');
  return { form, options, shown, csp };
}

/** The sign-in page's headers: no script at all. */
function assertNoScriptAllowed(doc) {
  const csp = doc.headers['content-security-policy'] ?? '';
  assert.ok(csp.includes("default-src 'none'"), `no default-src 'none' on ${doc.url}: ${csp}`);
  assert.ok(!/(^|;)\s*script-src/.test(csp), `a script-src on ${doc.url}: ${csp}`);
}

/** Presses the passkey page's button: the page's script runs the ceremony and posts. */
async function usePasskey(b) {
  return navigation(b.page, () => b.page.locator('form[name=passkeyForm] button[type=submit]').click());
}

// --------------------------------------------------------------------------
// registration after a password sign-in

test('a password sign-in leads to the add-passkey page; "Add a passkey" registers one and ends at the callback', { timeout: TEST_TIMEOUT }, async () => {
  const b = await browse();
  flow.first = b;
  const username = cfg.users.passkey;
  const auth = await authorization();
  await openSignIn(b, auth);
  assertNoScriptAllowed(lastDocument(b));
  assert.equal(await b.page.locator('script').count(), 0, 'the sign-in page carries no script');

  // The password signs in; the user has no passkey, so the browser is sent to add one.
  const signin = await passwordSignIn(b, username);
  assert.equal(signin.post?.status(), 303, `sign-in POST answered ${signin.post?.status()}: ${await errorText(b.page)}`);
  assert.equal(signin.app, null, 'a user without a passkey went straight to the callback');
  const add = assertOn(b.page, 'passkeys/add');
  assert.equal(add.searchParams.get('state'), auth.state, 'the add page keeps the authorize query');
  assert.ok(
    (await b.ctx.cookies()).some((c) => c.name === `tessera-sso-${cfg.poolId}`),
    'the sign-in session cookie is set before the add page',
  );
  const { options, shown } = await passkeyPage(b, 'create');
  assert.equal(shown.action, new URL(`${cfg.base}/passkeys/add`).pathname);
  assert.equal(shown.button, 'Add a passkey');
  assert.equal(options.rp?.id, 'localhost', `the relying party: ${JSON.stringify(options.rp)}`);
  assert.equal(options.user?.name, username);
  assert.equal(options.authenticatorSelection?.residentKey, 'required');
  assert.equal(options.authenticatorSelection?.userVerification, 'required');
  const notNow = b.page.locator('a', { hasText: 'Not now' });
  assert.equal(await notNow.count(), 1, 'no "Not now" link');
  assert.equal(new URL(await notNow.getAttribute('href'), b.page.url()).searchParams.get('skip'), '1');
  assert.equal((await credentialsOf(b)).length, 0, 'the authenticator starts empty');

  // "Add a passkey": the page's script asks the authenticator and posts its answer.
  const added = await usePasskey(b);
  assert.deepEqual(b.problems, [], 'console or page errors on the add page');
  if (added.post?.status() !== 303) {
    const said = (await b.page.locator('#passkeyError').count()) ? await b.page.locator('#passkeyError').textContent() : null;
    assert.fail(`the registration POST answered ${added.post?.status()}: ${await errorText(b.page)}; #passkeyError: ${said}`);
  }
  const creds = await credentialsOf(b);
  assert.equal(creds.length, 1, 'the authenticator holds one credential');
  assert.equal(creds[0].rpId, 'localhost');
  assert.equal(creds[0].isResidentCredential, true, 'a discoverable credential (a passkey)');
  const callback = await assertCallback(b.page, added.app, auth);

  const tokens = await redeem(auth, callback);
  const claims = tokens.claims();
  assert.equal(claims['cognito:username'], username);
  assert.equal(claims.email, `${username}@example.com`);
  const access = decode(tokens.access_token);
  assert.equal(access.username, username);
  assert.ok(access.scope.split(' ').includes('aws.cognito.signin.user.admin'), `access token scope: ${access.scope}`);
  flow.sub = claims.sub;
  flow.credential = creds[0];
  results.registered = {
    username,
    sub: claims.sub,
    accessToken: tokens.access_token,
    credentialId: creds[0].credentialId,
    userHandle: creds[0].userHandle,
  };
});

test('the next password sign-in of a user who has a passkey goes straight to the callback', { timeout: TEST_TIMEOUT }, async () => {
  assert.ok(flow.credential, 'the registration failed');
  const b = await browse();
  try {
    const auth = await authorization();
    await openSignIn(b, auth);
    const signin = await passwordSignIn(b, cfg.users.passkey);
    assert.equal(signin.post?.status(), 303, `sign-in POST answered ${signin.post?.status()}: ${await errorText(b.page)}`);
    assert.ok(
      !b.documents.some((d) => new URL(d.url).pathname.endsWith('/passkeys/add')),
      `a passkey was offered again: ${b.documents.map((d) => d.url).join(', ')}`,
    );
    const tokens = await redeem(auth, await assertCallback(b.page, signin.app, auth));
    assert.equal(tokens.claims().sub, flow.sub);
  } finally {
    await b.ctx.close();
  }
});

// --------------------------------------------------------------------------
// signing in with the passkey

test('a fresh browser with the passkey signs in with it: the username, "Use passkey", the callback; no password', { timeout: TEST_TIMEOUT }, async () => {
  assert.ok(flow.credential, 'the registration failed');
  await flow.first.ctx.close();
  // Another browser with the same authenticator: the credential exported from the first one.
  const b = await browse();
  try {
    // As exported: the key, the counter, the user handle and the backup flags.
    await b.cdp.send('WebAuthn.addCredential', { authenticatorId: b.authenticatorId, credential: flow.credential });
    assert.equal((await credentialsOf(b)).length, 1);
    assert.equal((await b.ctx.cookies()).length, 0, 'a fresh context has no cookies');

    const auth = await authorization();
    await openSignIn(b, auth);
    const asked = await passkeyButton(b, cfg.users.passkey);
    assert.equal(asked.post?.status(), 200, `the passkey button's POST answered ${asked.post?.status()}: ${await errorText(b.page)}`);
    const page = await passkeyPage(b, 'get');
    assert.equal(page.shown.action, new URL(`${cfg.base}/mfa`).pathname, 'the assertion is posted to {base}/mfa');
    assert.equal(page.shown.button, 'Use passkey');
    assert.equal(page.options.rpId, 'localhost', `request options: ${JSON.stringify(page.options)}`);
    assert.ok(page.options.challenge, 'no challenge in the request options');
    assert.equal(page.options.userVerification, 'required');
    flow.knownPage = page.shown;
    flow.knownOptions = page.options;

    // The page's script gets the assertion; the browser's POST of it is kept for the replay
    // test below.
    b.page.on('request', (r) => {
      if (r.method() === 'POST' && new URL(r.url()).pathname.endsWith('/mfa')) {
        flow.assertion = new URLSearchParams(r.postData() ?? '').get('credential');
      }
    });
    const used = await usePasskey(b);
    assert.deepEqual(b.problems, [], 'console or page errors on the passkey page');
    assert.equal(used.post?.status(), 303, `the assertion POST answered ${used.post?.status()}: ${await errorText(b.page)}`);
    const callback = await assertCallback(b.page, used.app, auth);
    assert.ok(flow.assertion && JSON.parse(flow.assertion).response?.signature, 'the page posted no assertion');
    const [signed] = await credentialsOf(b);
    assert.ok(signed.signCount > flow.credential.signCount, `the authenticator signed (signCount ${signed.signCount})`);

    const tokens = await redeem(auth, callback);
    const claims = tokens.claims();
    assert.equal(claims.sub, flow.sub, 'the passkey signed in its own user');
    assert.equal(claims['cognito:username'], cfg.users.passkey);
    assert.equal(claims.nonce, auth.nonce);
    assert.ok(
      (await b.ctx.cookies()).some((c) => c.name === `tessera-sso-${cfg.poolId}`),
      'the passkey sign-in started a sign-in session',
    );
    results.passkeySignIn = { sub: claims.sub, accessToken: tokens.access_token };
  } finally {
    await b.ctx.close();
  }
});

test('an assertion replayed on a new passkey page does not sign in: the sign-in page says so', { timeout: TEST_TIMEOUT }, async () => {
  assert.ok(flow.assertion, 'the passkey sign-in failed');
  const b = await browse();
  try {
    const auth = await authorization();
    await openSignIn(b, auth);
    await passkeyButton(b, cfg.users.passkey);
    await passkeyPage(b, 'get');
    // The previous sign-in's assertion, signed over another challenge, put where the script
    // would put a fresh one (the script then lets the form submit as it is).
    await b.page.locator('input[type=hidden][name=credential]').evaluate((input, value) => {
      input.value = value;
    }, flow.assertion);
    const replayed = await usePasskey(b);
    assert.equal(replayed.app, null, `the replayed assertion reached the callback: ${replayed.app?.url()}`);
    assert.equal(replayed.post?.status(), 200, `the replay's POST answered ${replayed.post?.status()}`);
    // The answer to the POST to {base}/mfa is the sign-in page, its form posting to {base}/login.
    assertOn(b.page, 'mfa');
    assert.equal(await errorText(b.page), SIGN_IN_FAILED);
    const login = b.page.locator('form[name=cognitoSignInForm]');
    assert.equal(await login.count(), 1, 'the sign-in form is offered again');
    assert.equal(new URL(await login.getAttribute('action'), b.page.url()).pathname, new URL(`${cfg.base}/login`).pathname);
    assert.equal(await b.page.locator('script').count(), 0, 'the sign-in page carries no script');
    assertNoScriptAllowed(lastDocument(b));
    assert.ok(!(await b.ctx.cookies()).some((c) => c.name === `tessera-sso-${cfg.poolId}`), 'a sign-in session after a refused passkey');
  } finally {
    await b.ctx.close();
  }
});

// --------------------------------------------------------------------------
// no enumeration: a name nobody has gets the same page

test('a name nobody has gets the same passkey page; the authenticator has nothing for it and the page says so', { timeout: TEST_TIMEOUT }, async () => {
  assert.ok(flow.knownPage, 'the passkey sign-in failed');
  const b = await browse();
  try {
    const auth = await authorization();
    await openSignIn(b, auth);
    const asked = await passkeyButton(b, cfg.users.unknown);
    assert.equal(asked.post?.status(), 200, `the passkey button's POST answered ${asked.post?.status()}: ${await errorText(b.page)}`);
    const page = await passkeyPage(b, 'get');
    assert.deepEqual(page.shown, flow.knownPage, 'the page for an unknown name differs from the page of a user with a passkey');
    assert.deepEqual(Object.keys(page.options).sort(), Object.keys(flow.knownOptions).sort(), 'the request options have other members');
    assert.equal(page.options.rpId, 'localhost');
    assert.notEqual(page.options.challenge, flow.knownOptions.challenge);

    // This browser's authenticator is empty: get() rejects and the page says so, posting nothing.
    assert.equal((await credentialsOf(b)).length, 0);
    let posted = false;
    b.page.on('request', (r) => {
      if (r.method() === 'POST') posted = true;
    });
    await b.page.locator('form[name=passkeyForm] button[type=submit]').click();
    await b.page.waitForFunction(() => document.getElementById('passkeyError')?.textContent, null, { timeout: PAGE_TIMEOUT });
    assert.equal((await b.page.locator('#passkeyError').textContent()).trim(), NOT_USED);
    assert.equal(posted, false, 'the page posted without a credential');
    // The passkey page is the answer to the sign-in form's POST: the browser is still there.
    assertOn(b.page, 'login');
    assert.deepEqual(b.problems, [], 'console or page errors on the passkey page');
  } finally {
    await b.ctx.close();
  }
});

// --------------------------------------------------------------------------
// "Not now"

test('"Not now" on the add page ends at the callback without a passkey, and the next sign-in offers one again', { timeout: TEST_TIMEOUT }, async () => {
  const b = await browse();
  try {
    const username = cfg.users.skipper;
    let auth = await authorization();
    await openSignIn(b, auth);
    const signin = await passwordSignIn(b, username);
    assert.equal(signin.post?.status(), 303, `sign-in POST answered ${signin.post?.status()}: ${await errorText(b.page)}`);
    assertOn(b.page, 'passkeys/add');
    await passkeyPage(b, 'create');

    const skipped = await navigation(b.page, () => b.page.locator('a', { hasText: 'Not now' }).click());
    const callback = await assertCallback(b.page, skipped.app, auth);
    assert.equal((await credentialsOf(b)).length, 0, 'the authenticator holds a credential after "Not now"');
    const tokens = await redeem(auth, callback);
    assert.equal(tokens.claims()['cognito:username'], username);
    results.skipped = { username, sub: tokens.claims().sub, accessToken: tokens.access_token };

    // Still without a passkey, the user is offered one at the next password sign-in.
    await b.ctx.clearCookies();
    auth = await authorization();
    await openSignIn(b, auth);
    const again = await passwordSignIn(b, username);
    assert.equal(again.post?.status(), 303);
    assert.equal(again.app, null, 'the user without a passkey went straight to the callback');
    assertOn(b.page, 'passkeys/add');
    assert.deepEqual(b.problems, [], 'console or page errors');
  } finally {
    await b.ctx.close();
  }
});
