// The hosted login pages in a real browser: openid-client (npm) runs the authorization-code
// flow with PKCE, state and nonce while headless Chromium (Debian's package, driven by
// playwright-core, never a downloaded browser) fills in the forms with JavaScript disabled.
// The contract under test is docs/design/hosted-pages.md.
//
// Run by tests/e2e/test_hosted_ui_browser.py, which starts tessera, creates two pools and
// passes everything in one JSON document, TESSERA_E2E_HOSTED:
//   backend, artifacts (screenshot dir), outbox (the server's outbox.jsonl), prefix (unique
//   username prefix), password, newPassword,
//   path:   { poolId, issuer, base, clients: [{ id, secret, redirectUri } x2], logoutUri,
//             tempUser, tempPassword, signedUpUser }         (a pool without a domain)
//   domain: { ...the same with one client, domain, customization: { cssClient, submitColor } }
//           (a pool with a prefix domain, served at http://<prefix>.auth.localhost:<port>,
//            and a UI customization: CSS and a PNG logo)
// `base` is where the site's pages are: <public url>/<pool id>, or the domain's origin.
// Users sign up here (signedUpUser is the name the path and domain flows give theirs); their
// codes are read from the outbox file. tempUser has a temporary password (AdminCreateUser).
//
// Callbacks and logout URLs are https://app.example.com/...: the test reads the URL of the
// browser's request to them and never lets it out (see CHROMIUM_ARGS).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.env.TESSERA_E2E_HOSTED || 'null');
const TEST_TIMEOUT = 90_000;
const PAGE_TIMEOUT = 15_000;
const SCOPE = 'openid email profile';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  // The app's callback and logout URLs are never fetched: Playwright cannot route the hop of a
  // redirect (microsoft/playwright#2617), so the test records the browser's request to them
  // and lets the name fail to resolve at once instead of waiting on DNS.
  '--host-resolver-rules=MAP app.example.com ~NOTFOUND',
];
const DESKTOP = { viewport: { width: 1280, height: 800 } };
const PHONE = { viewport: { width: 375, height: 812 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
// The origin of every callback and logout URL (see --host-resolver-rules above).
const APP_ORIGIN = 'https://app.example.com';

let browser;
const shots = path.join(cfg?.artifacts ?? '.', 'screenshots', cfg?.backend ?? 'unknown');

before(async () => {
  assert.ok(cfg, 'TESSERA_E2E_HOSTED is not set (run through tests/e2e/test_hosted_ui_browser.py)');
  const executablePath = execFileSync('sh', ['-c', 'command -v chromium || true']).toString().trim();
  assert.ok(executablePath, 'chromium is not installed (scripts/test installs it: apt-get install -y chromium)');
  mkdirSync(shots, { recursive: true });
  browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
});

after(async () => {
  await browser?.close();
});

// --------------------------------------------------------------------------
// helpers

/** A browser context; JavaScript is off unless a check needs page.evaluate. */
async function newContext(options = {}, javaScriptEnabled = false) {
  const ctx = await browser.newContext({ ...DESKTOP, ...options, javaScriptEnabled });
  ctx.setDefaultTimeout(PAGE_TIMEOUT);
  ctx.setDefaultNavigationTimeout(PAGE_TIMEOUT);
  return ctx;
}

async function discover(site, which = 0) {
  const c = site.clients[which];
  return client.discovery(new URL(site.issuer), c.id, c.secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
}

/**
 * An authorization request as an app builds it: S256 PKCE, state, nonce. With `site`, sent to
 * that site's `{base}/oauth2/authorize`: discovery publishes the path form only, so an app on
 * the domain names the domain itself (as Amplify's `oauth.domain` does).
 */
async function authorization(config, redirectUri, site = null) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const href = site ? `${site.base}/oauth2/authorize${url.search}` : url.href;
  return { url: href, verifier, state, nonce, redirectUri };
}

/** Redeems the callback URL the browser landed on. */
async function redeem(config, auth, callbackUrl) {
  return client.authorizationCodeGrant(config, new URL(callbackUrl), {
    pkceCodeVerifier: auth.verifier,
    expectedState: auth.state,
    expectedNonce: auth.nonce,
    idTokenExpected: true,
  });
}

/**
 * Runs a navigation and waits for the document it ends on to load. Returns what `action`
 * resolved to and `app`: the browser's request to the app (a callback or logout URL) when the
 * redirects ended there (that navigation then fails: the name does not resolve).
 */
async function navigation(page, action) {
  let app = null;
  const onRequest = (r) => {
    if (!app && r.isNavigationRequest() && r.frame() === page.mainFrame() && r.url().startsWith(APP_ORIGIN)) app = r;
  };
  page.on('request', onRequest);
  try {
    const [, result] = await Promise.all([page.waitForEvent('load'), action()]);
    return { result, app };
  } finally {
    page.off('request', onRequest);
  }
}

/** page.goto that also reports a redirect to the app (see navigation). */
async function visit(page, url) {
  const { result, app } = await navigation(page, () =>
    page.goto(url).catch((error) => {
      if (/ERR_NAME_NOT_RESOLVED/.test(error.message)) return null;
      throw error;
    }),
  );
  return { response: result, app };
}

/** Clicks a form's submit button; returns the POST's response and any request to the app. */
async function submit(page, formName, button = 'button[type=submit]') {
  const form = page.locator(`form[name="${formName}"]`);
  assert.equal(await form.count(), 1, `no form ${formName} on ${page.url()}: ${await errorText(page)}`);
  const { result, app } = await navigation(page, () =>
    Promise.all([
      page.waitForResponse((r) => r.request().isNavigationRequest() && r.request().method() === 'POST'),
      form.locator(button).first().click(),
    ]),
  );
  return { post: result[0], app };
}

/** Asserts the page is `{base}/<name>` of a site. */
function assertOn(page, site, name) {
  const expected = new URL(`${site.base}/${name}`);
  const actual = new URL(page.url());
  assert.equal(`${actual.origin}${actual.pathname}`, `${expected.origin}${expected.pathname}`, `expected the ${name} page, at ${page.url()}`);
  return actual;
}

/** Asserts the browser was sent to the callback with a code; returns the callback URL. */
async function assertCallback(page, app, auth, issuer) {
  assert.ok(app, `the browser was not sent to ${auth.redirectUri}; it is at ${page.url()}: ${await errorText(page)}`);
  const url = new URL(app.url());
  assert.equal(`${url.origin}${url.pathname}`, auth.redirectUri, `not the callback: ${app.url()}`);
  assert.equal(url.searchParams.get('error'), null, `authorization error: ${app.url()}`);
  assert.match(url.searchParams.get('code') ?? '', /^[A-Za-z0-9_-]{43}$/, `code: ${app.url()}`);
  assert.equal(url.searchParams.get('state'), auth.state);
  assert.equal(url.searchParams.get('iss'), issuer, 'RFC 9207 iss on the authorization response');
  return url.href;
}

async function errorText(page) {
  const box = page.locator('.errorMessage-customizable[role=alert]');
  return (await box.count()) ? (await box.first().innerText()).trim() : null;
}

async function fillLogin(page, username, password) {
  await page.fill('#signInFormUsername', username);
  await page.fill('#signInFormPassword', password);
  const login = page.locator('form[name=cognitoSignInForm]');
  assert.equal(await login.locator('input[name=username]#signInFormUsername').count(), 1);
  assert.equal(await login.locator('input[name=password]#signInFormPassword').count(), 1);
  assert.equal(await login.locator('input[type=hidden][name=_csrf]').count(), 1, 'no hidden _csrf field');
}

async function signIn(page, username, password) {
  await fillLogin(page, username, password);
  return submit(page, 'cognitoSignInForm', 'button[name=signInSubmitButton]');
}

/** The development outbox's messages for one user of a pool (the JSON-lines file). */
function outboxMessages(poolId, username) {
  let text = '';
  try {
    text = readFileSync(cfg.outbox, 'utf8');
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      try {
        return JSON.parse(line);
      } catch {
        return null; // a line being written right now
      }
    })
    .filter((m) => m && m.pool_id === poolId && m.username === username);
}

/** Waits for message number `count` (1-based) for a user and returns its 6-digit code. */
async function codeFromOutbox(poolId, username, count) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const messages = outboxMessages(poolId, username);
    if (messages.length >= count) {
      const body = messages[count - 1].body ?? '';
      const m = /\b\d{6}\b/.exec(body);
      assert.ok(m, `no 6-digit code in ${JSON.stringify(body)}`);
      return m[0];
    }
    if (Date.now() > deadline) {
      assert.fail(`no outbox message #${count} for ${username} in ${poolId} after 10 s (${cfg.outbox})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** fetchUserInfo, with the server's challenge in the message when it refuses. */
async function userInfo(config, accessToken, sub) {
  try {
    return await client.fetchUserInfo(config, accessToken, sub);
  } catch (error) {
    const detail = JSON.stringify(error.cause ?? error.error ?? null);
    throw new Error(`userInfo refused the access token (${error.status ?? error.code}): ${detail}`, { cause: error });
  }
}

function decode(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

async function cookieNamed(ctx, name) {
  return (await ctx.cookies()).find((c) => c.name === name && c.expires !== 0);
}

/**
 * Signs a new user up through the pages, starting on the login page the authorization request
 * led to: the sign-up link (or `{base}/signup` with the same query), the code from the outbox on
 * the confirm page, then the login form. Returns the callback URL.
 */
async function signUpConfirmSignIn(page, site, username, email, auth) {
  await page.goto(auth.url);
  const login = assertOn(page, site, 'login');
  for (const name of ['response_type', 'client_id', 'redirect_uri', 'state', 'nonce', 'code_challenge']) {
    assert.equal(login.searchParams.get(name), new URL(auth.url).searchParams.get(name), `login query keeps ${name}`);
  }
  const link = page.locator('a[href*="/signup"]');
  if (await link.count()) {
    await Promise.all([page.waitForEvent('load'), link.first().click()]);
  } else {
    await page.goto(`${site.base}/signup${login.search}`);
  }
  const signup = assertOn(page, site, 'signup');
  assert.equal(signup.searchParams.get('state'), auth.state, 'the sign-up page keeps the authorize query');
  await page.fill('form[name=signUpForm] input[name=username]', username);
  await page.fill('form[name=signUpForm] input[name=password]', cfg.password);
  await page.fill('form[name=signUpForm] input[name=email]', email);
  let { post } = await submit(page, 'signUpForm');
  assert.equal(post.status(), 303, `sign-up POST answered ${post.status()}: ${await errorText(page)}`);
  const confirm = assertOn(page, site, 'confirm');
  assert.equal(confirm.searchParams.get('username'), username);
  assert.equal(confirm.searchParams.get('state'), auth.state);

  const code = await codeFromOutbox(site.poolId, username, 1);
  await page.fill('form[name=confirmForm] input[name=code]', code);
  ({ post } = await submit(page, 'confirmForm'));
  assert.equal(post.status(), 303, `confirm POST answered ${post.status()}: ${await errorText(page)}`);
  const back = assertOn(page, site, 'login');
  assert.equal(back.searchParams.get('notice'), 'confirmed');
  assert.equal(await page.locator('.notice[role=status]').count(), 1, 'no notice after confirming');

  const signin = await signIn(page, username, cfg.password);
  assert.equal(signin.post.status(), 303, `sign-in POST answered ${signin.post.status()}: ${await errorText(page)}`);
  return assertCallback(page, signin.app, auth, site.issuer);
}

// --------------------------------------------------------------------------
// the authorization-code flow on the path form

const flow = {}; // state shared by the path-form tests, in order

test('path form: discovery publishes path-form endpoints for a pool without a domain', { timeout: TEST_TIMEOUT }, async () => {
  const site = cfg.path;
  flow.config = await discover(site, 0);
  const meta = flow.config.serverMetadata();
  assert.equal(meta.issuer, site.issuer);
  assert.equal(meta.authorization_endpoint, `${site.issuer}/oauth2/authorize`);
  assert.equal(meta.token_endpoint, `${site.issuer}/oauth2/token`);
  assert.equal(meta.end_session_endpoint, `${site.issuer}/logout`);
});

test('path form: sign up, confirm with the mailed code, sign in, and redeem the code (PKCE, state, nonce)', { timeout: TEST_TIMEOUT }, async () => {
  const site = cfg.path;
  assert.ok(flow.config, 'discovery failed');
  flow.ctx = await newContext();
  const page = await flow.ctx.newPage();
  flow.page = page;
  flow.username = site.signedUpUser;
  flow.email = `${flow.username}@example.com`;
  const auth = await authorization(flow.config, site.clients[0].redirectUri);
  const callback = await signUpConfirmSignIn(page, site, flow.username, flow.email, auth);

  // the session cookies, as the contract describes them for a plain-http public URL
  const csrf = await cookieNamed(flow.ctx, 'tessera-csrf');
  assert.ok(csrf, 'no tessera-csrf cookie');
  assert.equal(csrf.httpOnly, true);
  assert.equal(csrf.sameSite, 'Strict');
  assert.equal(csrf.path, '/');
  const sso = await cookieNamed(flow.ctx, `tessera-sso-${site.poolId}`);
  assert.ok(sso, `no tessera-sso-${site.poolId} cookie after signing in`);
  assert.equal(sso.httpOnly, true);
  assert.equal(sso.sameSite, 'Lax');
  assert.equal(sso.secure, false);
  assert.ok(sso.expires > Date.now() / 1000 + 3000 && sso.expires <= Date.now() / 1000 + 3610, `sso cookie expiry ${sso.expires}`);

  const tokens = await redeem(flow.config, auth, callback);
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  const claims = tokens.claims();
  assert.equal(claims.iss, site.issuer);
  assert.equal(claims.aud, site.clients[0].id);
  assert.equal(claims.nonce, auth.nonce);
  assert.equal(claims.email, flow.email);
  assert.equal(claims.email_verified, true);
  assert.equal(claims['cognito:username'], flow.username);
  assert.equal(claims.token_use, 'id');
  const access = decode(tokens.access_token);
  assert.equal(access.iss, site.issuer);
  assert.equal(access.client_id, site.clients[0].id);
  assert.equal(access.token_use, 'access');
  assert.deepEqual(access.scope.split(' ').sort(), SCOPE.split(' ').sort());
  assert.ok(tokens.refresh_token, 'no refresh token');
  flow.tokens = tokens;
  flow.sub = claims.sub;
});

test('path form: userInfo, refresh, revocation of the refresh token', { timeout: TEST_TIMEOUT }, async () => {
  assert.ok(flow.tokens, 'the sign-in failed');
  const info = await userInfo(flow.config, flow.tokens.access_token, flow.sub);
  assert.equal(info.sub, flow.sub);
  assert.equal(info.email, flow.email);
  assert.equal(info.email_verified, 'true', 'userInfo answers email_verified as a string, as Cognito does');
  assert.equal(info.username, flow.username);

  const refreshed = await client.refreshTokenGrant(flow.config, flow.tokens.refresh_token);
  assert.ok(refreshed.access_token);
  assert.notEqual(refreshed.access_token, flow.tokens.access_token);
  assert.equal(decode(refreshed.access_token).sub, flow.sub);
  assert.equal(refreshed.claims()?.sub, flow.sub);
  const refreshToken = refreshed.refresh_token ?? flow.tokens.refresh_token;

  await client.tokenRevocation(flow.config, refreshToken);
  await assert.rejects(client.refreshTokenGrant(flow.config, refreshToken), (error) => {
    assert.equal(error.error, 'invalid_grant', `${error.error}: ${error.error_description}`);
    return true;
  });
});

test('path form: single sign-on, a second client of the pool gets a code without a form', { timeout: TEST_TIMEOUT }, async () => {
  const site = cfg.path;
  assert.ok(flow.page && flow.sub, 'the sign-in failed');
  const config2 = await discover(site, 1);
  const auth = await authorization(config2, site.clients[1].redirectUri);
  const { app } = await visit(flow.page, auth.url);
  const callback = await assertCallback(flow.page, app, auth, site.issuer);
  const chain = [];
  for (let req = app; req; req = req.redirectedFrom()) chain.unshift(req.url());
  assert.ok(!chain.some((u) => new URL(u).pathname.endsWith('/login')), `a form was shown: ${chain.join(' -> ')}`);
  assert.equal(chain.length, 2, `authorize should redirect straight to the callback: ${chain.join(' -> ')}`);
  const tokens = await redeem(config2, auth, callback);
  const claims = tokens.claims();
  assert.equal(claims.aud, site.clients[1].id);
  assert.equal(claims.sub, flow.sub, 'the same user');
  assert.equal(claims.nonce, auth.nonce);
  assert.equal((await userInfo(config2, tokens.access_token, flow.sub)).email, flow.email);

  // a code works once; a replay revokes what the first redemption issued
  await assert.rejects(redeem(config2, auth, callback), (error) => {
    assert.equal(error.error, 'invalid_grant');
    return true;
  });
  await assert.rejects(client.fetchUserInfo(config2, tokens.access_token, flow.sub), (error) => {
    assert.equal(error.status, 401, String(error));
    return true;
  });
});

test('path form: logout ends the sign-in session; authorize shows the login form again', { timeout: TEST_TIMEOUT }, async () => {
  const site = cfg.path;
  assert.ok(flow.page && flow.sub, 'the sign-in failed');
  const page = flow.page;
  const state = client.randomState();
  const logout = client.buildEndSessionUrl(flow.config, { post_logout_redirect_uri: site.logoutUri, state });
  assert.equal(`${logout.origin}${logout.pathname}`, `${site.issuer}/logout`);
  const out = await visit(page, logout.href);
  assert.ok(out.app, `logout did not redirect to ${site.logoutUri}; the browser is at ${page.url()}: ${await errorText(page)}`);
  const landed = new URL(out.app.url());
  assert.equal(`${landed.origin}${landed.pathname}`, site.logoutUri, `logout went to ${out.app.url()}`);
  assert.equal(landed.searchParams.get('state'), state);
  assert.equal(await cookieNamed(flow.ctx, `tessera-sso-${site.poolId}`), undefined, 'the sso cookie survived logout');

  const auth = await authorization(flow.config, site.clients[0].redirectUri);
  await page.goto(auth.url);
  assertOn(page, site, 'login');
  assert.equal(await page.locator('form[name=cognitoSignInForm]').count(), 1);

  // ...and signing in again works, now with the logout_uri spelling of the contract
  const signin = await signIn(page, flow.username, cfg.password);
  assert.equal(signin.post.status(), 303, `sign-in POST answered ${signin.post.status()}: ${await errorText(page)}`);
  const callback = await assertCallback(page, signin.app, auth, site.issuer);
  assert.equal((await redeem(flow.config, auth, callback)).claims().sub, flow.sub);
  const c = site.clients[0];
  const again = await visit(page, `${site.base}/logout?client_id=${encodeURIComponent(c.id)}&logout_uri=${encodeURIComponent(site.logoutUri)}`);
  assert.equal(again.app?.url(), site.logoutUri, `logout with logout_uri: the browser is at ${page.url()}`);
  await page.goto(auth.url);
  assertOn(page, site, 'login');
  await flow.ctx.close();
});

// --------------------------------------------------------------------------
// the domain form: http://<prefix>.auth.localhost:<port>, tokens keep the path-form issuer

test('domain form: discovery keeps the issuer and the path-form endpoints once the pool has a domain', { timeout: TEST_TIMEOUT }, async () => {
  // The issuer's host resolves wherever the issuer does; a domain needs DNS, which Chromium
  // has for *.localhost and Node does not (docs/design/hosted-pages.md).
  const site = cfg.domain;
  const meta = (await discover(site, 0)).serverMetadata();
  assert.equal(meta.issuer, site.issuer);
  assert.equal(meta.authorization_endpoint, `${site.issuer}/oauth2/authorize`);
  assert.equal(meta.token_endpoint, `${site.issuer}/oauth2/token`);
  assert.equal(meta.end_session_endpoint, `${site.issuer}/logout`);
  assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
  assert.equal(meta.authorization_response_iss_parameter_supported, true);
});

test('domain form: sign up and sign in on the pool domain; the issuer stays <public url>/<pool id>; logout; password reset', { timeout: TEST_TIMEOUT }, async () => {
  const site = cfg.domain;
  const config = await discover(site, 0);
  const ctx = await newContext();
  try {
    const page = await ctx.newPage();
    const username = site.signedUpUser;
    const email = `${username}@example.com`;
    let auth = await authorization(config, site.clients[0].redirectUri, site);
    let callback = await signUpConfirmSignIn(page, site, username, email, auth);
    assert.ok(await cookieNamed(ctx, `tessera-sso-${site.poolId}`), 'no sso cookie on the domain host');
    let tokens = await redeem(config, auth, callback);
    const claims = tokens.claims();
    assert.equal(claims.iss, site.issuer, 'the issuer is the path form whichever form served the request');
    assert.equal(decode(tokens.access_token).iss, site.issuer);
    assert.equal(claims.aud, site.clients[0].id);
    assert.equal(claims.email, email);
    assert.equal(claims.nonce, auth.nonce);
    const info = await userInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.email, email);

    // logout on the domain, with logout_uri
    const c = site.clients[0];
    const out = await visit(page, `${site.base}/logout?client_id=${encodeURIComponent(c.id)}&logout_uri=${encodeURIComponent(site.logoutUri)}`);
    assert.equal(out.app?.url(), site.logoutUri, `logout with logout_uri: the browser is at ${page.url()}`);
    assert.equal(await cookieNamed(ctx, `tessera-sso-${site.poolId}`), undefined, 'the sso cookie survived logout');

    // forgot password -> code from the outbox -> new password -> sign in with it
    auth = await authorization(config, site.clients[0].redirectUri, site);
    await page.goto(auth.url);
    const login = assertOn(page, site, 'login');
    const forgot = page.locator('a[href*="/forgotPassword"]');
    if (await forgot.count()) {
      await Promise.all([page.waitForEvent('load'), forgot.first().click()]);
    } else {
      await page.goto(`${site.base}/forgotPassword${login.search}`);
    }
    assertOn(page, site, 'forgotPassword');
    await page.fill('form[name=forgotPasswordForm] input[name=username]', username);
    let { post } = await submit(page, 'forgotPasswordForm');
    assert.equal(post.status(), 303);
    const reset = assertOn(page, site, 'confirmForgotPassword');
    assert.equal(reset.searchParams.get('username'), username);
    const code = await codeFromOutbox(site.poolId, username, 2);
    await page.fill('form[name=confirmForgotPasswordForm] input[name=code]', code);
    await page.fill('form[name=confirmForgotPasswordForm] input[name=password]', cfg.newPassword);
    await page.fill('form[name=confirmForgotPasswordForm] input[name=password_confirm]', cfg.newPassword);
    ({ post } = await submit(page, 'confirmForgotPasswordForm'));
    assert.equal(post.status(), 303, `confirmForgotPassword POST answered ${post.status()}: ${await errorText(page)}`);
    const back = assertOn(page, site, 'login');
    assert.equal(back.searchParams.get('notice'), 'password_reset');
    assert.equal(await page.locator('.notice[role=status]').count(), 1);

    ({ post } = await signIn(page, username, cfg.password));
    assert.notEqual(post.status(), 303, 'the old password still works after the reset');
    assert.equal(await errorText(page), 'Incorrect username or password.');
    const signin = await signIn(page, username, cfg.newPassword);
    assert.equal(signin.post.status(), 303, `sign-in POST answered ${signin.post.status()}: ${await errorText(page)}`);
    callback = await assertCallback(page, signin.app, auth, site.issuer);
    tokens = await redeem(config, auth, callback);
    assert.equal(tokens.claims().sub, claims.sub);
  } finally {
    await ctx.close();
  }
});

// --------------------------------------------------------------------------
// every page, default and customized, at 1280 and 375 px

/**
 * Visits every hosted page of a site in one context and hands each to `onPage(name, page)`:
 * login, login with an error, signup, confirm, forgotPassword, confirmForgotPassword,
 * new-password (a user with a temporary password signs in), and the error page.
 */
async function tour(ctx, site, onPage, { completeNewPassword = false } = {}) {
  const config = await discover(site, 0);
  const page = await ctx.newPage();
  try {
    // the pages a GET shows
    const auth = await authorization(config, site.clients[0].redirectUri, site);
    await page.goto(auth.url);
    const query = assertOn(page, site, 'login').search;
    await onPage('login', page);

    await page.goto(`${site.base}/signup${query}`);
    assertOn(page, site, 'signup');
    assert.equal(await page.locator('form[name=signUpForm] input[name=email]').count(), 1, 'sign-up asks for the auto-verified email');
    await onPage('signup', page);

    await page.goto(`${site.base}/confirm${query}&username=${encodeURIComponent(site.signedUpUser)}`);
    assertOn(page, site, 'confirm');
    assert.equal(await page.locator('form[name=confirmForm] input[name=code]').count(), 1);
    assert.equal(await page.locator('form[name=resendForm]').count(), 1);
    await onPage('confirm', page);

    await page.goto(`${site.base}/forgotPassword${query}`);
    assertOn(page, site, 'forgotPassword');
    await onPage('forgotPassword', page);

    const bad = new URL(auth.url);
    bad.searchParams.set('redirect_uri', 'https://evil.example.com/cb');
    const response = await page.goto(bad.href);
    assert.equal(response.status(), 400, 'an unregistered redirect_uri gets the error page');
    assert.equal(new URL(page.url()).host, new URL(site.base).host, `redirected away to ${page.url()}`);
    assert.equal(await page.locator('a[href*="evil.example.com"]').count(), 0, 'the error page links the unvalidated URI');
    await onPage('error', page);

    // the pages a form POST leads to
    await page.goto(`${site.base}/login${query}`);
    let signin = await signIn(page, `${cfg.prefix}-nobody`, 'Wr0ng!password');
    assertOn(page, site, 'login');
    assert.equal(await errorText(page), 'Incorrect username or password.', `sign-in of an unknown user (POST answered ${signin.post.status()})`);
    await onPage('login-error', page);

    // no user enumeration: an unknown user is sent on like any other
    await page.goto(`${site.base}/forgotPassword${query}`);
    await page.fill('form[name=forgotPasswordForm] input[name=username]', `${cfg.prefix}-nobody`);
    const { post } = await submit(page, 'forgotPasswordForm');
    assert.equal(post.status(), 303, `forgotPassword POST answered ${post.status()}: ${await errorText(page)}`);
    assertOn(page, site, 'confirmForgotPassword');
    for (const field of ['code', 'password', 'password_confirm']) {
      assert.equal(await page.locator(`form[name=confirmForgotPasswordForm] input[name=${field}]`).count(), 1, field);
    }
    await onPage('confirmForgotPassword', page);

    await page.goto(`${site.base}/login${query}`);
    signin = await signIn(page, site.tempUser, site.tempPassword);
    assert.equal(signin.post.status(), 200, `a temporary password should show the new-password page: ${await errorText(page)}`);
    const form = page.locator('form[name=newPasswordForm]');
    assert.equal(await form.count(), 1, `no newPasswordForm at ${page.url()}: ${await errorText(page)}`);
    assert.equal(await form.locator('input[type=hidden][name=session]').count(), 1);
    assert.equal(new URL(await form.getAttribute('action'), page.url()).pathname, new URL(`${site.base}/newPassword`).pathname);
    await onPage('new-password', page);
    if (completeNewPassword) {
      await form.locator('input[name=password]').fill(cfg.newPassword);
      await form.locator('input[name=password_confirm]').fill(cfg.newPassword);
      signin = await submit(page, 'newPasswordForm');
      assert.equal(signin.post.status(), 303, `newPassword POST answered ${signin.post.status()}: ${await errorText(page)}`);
      const tokens = await redeem(config, auth, await assertCallback(page, signin.app, auth, site.issuer));
      assert.equal(tokens.claims()['cognito:username'], site.tempUser);
    }
  } finally {
    await page.close();
  }
}

async function screenshot(name, variant, view, page) {
  assert.equal(await page.locator('h1').count(), 1, `${name}: one <h1>`);
  assert.equal(await page.locator('script').count(), 0, `${name}: the pages carry no script`);
  await page.screenshot({ path: path.join(shots, `${name}-${variant}-${view}.png`), fullPage: true });
}

/** In a JavaScript-enabled 375 px context: the page fits (no horizontal scrolling). */
async function fits(name, page) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
  }));
  assert.equal(innerWidth, 375, `${name}: the layout viewport is ${innerWidth} px, not the device's 375 (a <meta name="viewport"> is missing?)`);
  assert.ok(scrollWidth <= innerWidth, `${name}: scrolls horizontally at 375 px (scrollWidth ${scrollWidth} > ${innerWidth})`);
}

/** In a JavaScript-enabled context: the customization's CSS is linked and applied, the logo loads. */
async function customized(name, page, site) {
  const { cssClient, submitColor } = site.customization;
  const hrefs = await page.locator('link[rel=stylesheet]').evaluateAll((links) => links.map((l) => l.href));
  const css = hrefs.find((h) => new URL(h).pathname.startsWith(new URL(`${site.base}/ui/${cssClient}/`).pathname));
  assert.ok(css, `${name}: no stylesheet from ${site.base}/ui/${cssClient}/ among ${JSON.stringify(hrefs)}`);
  assert.match(new URL(css).pathname, /\/ui\/[^/]+\/[^/]+\.css$/);
  const logo = page.locator('img.logo-customizable');
  assert.equal(await logo.count(), 1, `${name}: no <img class="logo-customizable">`);
  const loaded = await logo.evaluate((img) => ({ complete: img.complete, width: img.naturalWidth, src: img.src }));
  assert.ok(loaded.complete && loaded.width > 0, `${name}: the logo did not load: ${JSON.stringify(loaded)}`);
  const color = await page
    .locator('.submitButton-customizable')
    .first()
    .evaluate((el) => getComputedStyle(el).backgroundColor);
  assert.equal(color, submitColor, `${name}: the customer CSS is not applied to .submitButton-customizable`);
}

for (const variant of ['default', 'custom']) {
  test(`pages, ${variant}: screenshots at 1280 and 375 px, no script, no horizontal scrolling at 375 px${variant === 'custom' ? ', CSS and logo' : ''}`, { timeout: 3 * TEST_TIMEOUT }, async () => {
    const site = variant === 'default' ? cfg.path : cfg.domain;
    const runs = [
      ['1280 px, screenshots', DESKTOP, false, (name, page) => screenshot(name, variant, 'desktop', page), {}],
      ['375 px, layout' + (variant === 'custom' ? ', CSS and logo' : ''), PHONE, true, async (name, page) => {
        await fits(name, page);
        if (variant === 'custom' && name !== 'error') await customized(name, page, site);
      }, {}],
      ['375 px, screenshots', PHONE, false, (name, page) => screenshot(name, variant, '375', page), { completeNewPassword: true }],
    ];
    // Each run on its own, so that one failing still leaves the others' screenshots.
    const failures = [];
    for (const [label, options, javaScriptEnabled, onPage, tourOptions] of runs) {
      const ctx = await newContext(options, javaScriptEnabled);
      try {
        await tour(ctx, site, onPage, tourOptions);
      } catch (error) {
        failures.push(`${label}: ${error.message}`);
      } finally {
        await ctx.close();
      }
    }
    assert.ok(failures.length === 0, failures.join('\n\n'));
  });
}
