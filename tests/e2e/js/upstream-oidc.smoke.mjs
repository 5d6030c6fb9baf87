// Smoke test of upstream-oidc.mjs, the test upstream IdP that tessera's federation tests start:
// for each mode it starts the harness as a child process, as the Python tests do, and acts as
// the relying party with openid-client (discovery, authorization code with PKCE S256, state
// and nonce, client_secret_post), driving the sign-in pages with plain fetch calls. Where
// Debian's chromium is installed, the oidc and google pages are also driven in headless
// Chromium with JavaScript disabled (through playwright-core; no browser is ever downloaded).
// The social modes (facebook, amazon, apple) are driven with fetch alone, their codes redeemed
// the way tessera does (Facebook by GET with query parameters, Amazon by a POST form with the
// client secret, Apple by a POST form with an ES256 client secret JWT built with jose).
//
// Run it from this folder: node --test upstream-oidc.smoke.mjs
// It needs nothing but loopback: the RP's redirect_uri is a tiny server of its own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';
import * as client from 'openid-client';

const HARNESS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'upstream-oidc.mjs');
const SCOPE = 'openid email profile';
const SECRET = 'upstream-smoke-secret';
const TEST_TIMEOUT = 60_000;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
const ALICE = {
  email: 'alice@example.com',
  email_verified: true,
  given_name: 'Alice',
  family_name: 'Anders',
  name: 'Alice Anders',
};
const BOB = { email: 'bob@example.com', email_verified: false, given_name: 'Bob', family_name: 'Berg' };

// ---- the RP's callback: a loopback server that only records what reached it ---------------

let callback;
const callbackHits = [];

before(async () => {
  callback = createServer((req, res) => {
    callbackHits.push(new URL(req.url, callback.origin));
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('callback reached');
  });
  await new Promise((resolve) => callback.listen(0, '127.0.0.1', resolve));
  callback.origin = `http://127.0.0.1:${callback.address().port}`;
});

after(() => callback?.close());

const redirectUri = () => `${callback.origin}/pool_smoke/oauth2/idpresponse`;

// ---- the harness as a child process -------------------------------------------------------

async function startHarness(mode, extra = {}) {
  const config = {
    mode,
    port: 0,
    clients: [{ client_id: 'tessera-rp', client_secret: SECRET, redirect_uris: [redirectUri()] }],
    accounts: { alice: ALICE, bob: BOB },
    ...extra,
  };
  const child = spawn(process.execPath, [HARNESS], {
    env: { ...process.env, TESSERA_E2E_UPSTREAM: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`harness not ready in 10 s:\n${stderr}`)), 10_000);
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('\n')) {
        clearTimeout(timer);
        resolve(JSON.parse(stdout.slice(0, stdout.indexOf('\n'))));
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`harness exited with ${code}:\n${stderr}`));
    });
  });
  return {
    ...ready,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      // The stdout contract: one line, nothing after it.
      assert.equal(stdout, `${JSON.stringify({ issuer: ready.issuer, port: ready.port })}\n`, stderr);
    },
    async get(p) {
      const res = await fetch(new URL(p, ready.issuer));
      assert.equal(res.status, 200, `GET ${p}`);
      return res.json();
    },
    async post(p, body) {
      const res = await fetch(new URL(p, ready.issuer), {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      assert.equal(res.status, 200, `POST ${p}: ${await res.clone().text()}`);
      return res.json();
    },
  };
}

// ---- the relying party ----------------------------------------------------------------------

// openid-client does not check the signature of an ID token that came from the token
// endpoint unless told to (OIDC Core 3.1.3.7 lets an RP rely on TLS there); tessera must check
// it, and so does this RP, with enableNonRepudiationChecks.
async function discover(issuer, auth = 'post') {
  const clientAuth = auth === 'post' ? client.ClientSecretPost(SECRET) : client.ClientSecretBasic(SECRET);
  return client.discovery(new URL(issuer), 'tessera-rp', SECRET, clientAuth, {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  });
}

// An authorization request as tessera makes it: PKCE S256, state and nonce.
async function begin(config, extra = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const checks = {
    pkceCodeVerifier: verifier,
    expectedState: client.randomState(),
    expectedNonce: client.randomNonce(),
    idTokenExpected: true,
  };
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri(),
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: checks.expectedState,
    nonce: checks.expectedNonce,
    ...extra,
  });
  return { url, checks };
}

// The code exchange, the ID token's claims and the userinfo response.
async function finish(config, callbackUrl, checks) {
  const tokens = await client.authorizationCodeGrant(config, callbackUrl, checks);
  const claims = tokens.claims();
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  return { tokens, claims, userinfo, header: jose.decodeProtectedHeader(tokens.id_token) };
}

// ---- driving the pages with fetch -----------------------------------------------------------

// A cookie jar good enough for one host: it ignores paths and expiry.
function cookieJar() {
  const cookies = new Map();
  return async (url, init = {}) => {
    const headers = new Headers(init.headers);
    if (cookies.size) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
    }
    return res;
  };
}

function formOf(html, pageUrl) {
  const form = /<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  assert.ok(form, `no form in:\n${html.slice(0, 2000)}`);
  const hidden = {};
  for (const m of form[2].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
    hidden[m[1]] = m[2];
  }
  return { action: new URL(form[1].replace(/&amp;/g, '&'), pageUrl), hidden };
}

const isCallback = (url) => url.href.startsWith(redirectUri());

// Follows redirects and submits the oidc-provider development pages (login, then consent)
// until the browser would land at the RP's callback; returns that URL and the pages seen.
async function driveOidc(authUrl, login, jar = cookieJar()) {
  const seen = [];
  let url = authUrl;
  let res = await jar(url);
  for (let hops = 0; hops < 12; hops += 1) {
    if (res.status >= 300 && res.status < 400) {
      url = new URL(res.headers.get('location'), url);
      if (isCallback(url)) return { callbackUrl: url, seen, jar };
      res = await jar(url);
      continue;
    }
    const html = await res.text();
    assert.equal(res.status, 200, html);
    const { action, hidden } = formOf(html, url);
    seen.push(hidden.prompt);
    const body = hidden.prompt === 'login'
      ? new URLSearchParams({ ...hidden, login, password: 'any' })
      : new URLSearchParams(hidden);
    res = await jar(action, { method: 'POST', body });
    url = action;
  }
  throw new Error('too many hops');
}

// The google-mode page: GET shows the form, POST answers with the redirect to the RP.
async function driveGoogle(authUrl, login, action = 'sign_in') {
  const page = await fetch(authUrl, { redirect: 'manual' });
  const html = await page.text();
  assert.equal(page.status, 200, html);
  assert.match(html, /<input type="text" name="login"/);
  assert.match(html, /<button type="submit" name="action" value="sign_in">Sign in<\/button>/);
  const { action: target, hidden } = formOf(html, authUrl);
  const res = await fetch(target, {
    method: 'POST', body: new URLSearchParams({ ...hidden, login, action }), redirect: 'manual',
  });
  assert.equal(res.status, 302, await res.text());
  return new URL(res.headers.get('location'));
}

async function driveRogue(authUrl) {
  const res = await fetch(authUrl, { redirect: 'manual' });
  assert.equal(res.status, 302, await res.text());
  return new URL(res.headers.get('location'));
}

// ---- the browser ---------------------------------------------------------------------------

const chromiumPath = execFileSync('sh', ['-c', 'command -v chromium || true']).toString().trim();

async function withBrowserPage(fn) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: CHROMIUM_ARGS });
  try {
    const context = await browser.newContext({ javaScriptEnabled: false });
    // Anything off loopback would be a bug in the harness's pages (e.g. a web font).
    const offLoopback = [];
    context.on('request', (r) => {
      if (new URL(r.url()).hostname !== '127.0.0.1') offLoopback.push(r.url());
    });
    await fn(await context.newPage());
    assert.deepEqual(offLoopback, []);
  } finally {
    await browser.close();
  }
}

// ---- mode oidc ------------------------------------------------------------------------------

describe('mode oidc (oidc-provider with devInteractions)', { timeout: TEST_TIMEOUT }, () => {
  let h;
  before(async () => { h = await startHarness('oidc'); });
  after(() => h?.stop());

  test('discovery advertises client_secret_post, S256 and the scopes', async () => {
    const config = await discover(h.issuer);
    const meta = config.serverMetadata();
    assert.equal(meta.issuer, h.issuer);
    assert.match(h.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(meta.token_endpoint_auth_methods_supported.includes('client_secret_post'));
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    for (const s of ['openid', 'email', 'profile']) assert.ok(meta.scopes_supported.includes(s));
  });

  test('sign-in with fetch: sub and nonce in the ID token, profile in userinfo', async () => {
    const config = await discover(h.issuer);
    const { url, checks } = await begin(config);
    const { callbackUrl, seen } = await driveOidc(url, 'alice');
    assert.deepEqual(seen, ['login', 'consent']);
    // RFC 9207: oidc-provider adds iss to the authorization response.
    assert.equal(callbackUrl.searchParams.get('iss'), h.issuer);
    const { claims, userinfo, header } = await finish(config, callbackUrl, checks);
    assert.equal(header.alg, 'RS256');
    assert.ok(header.kid);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.nonce, checks.expectedNonce);
    assert.equal(claims.aud, 'tessera-rp');
    // conformIdTokenClaims: the scope's claims are only in userinfo.
    assert.equal(claims.email, undefined);
    assert.equal(claims.given_name, undefined);
    assert.deepEqual(userinfo, { sub: 'alice', ...ALICE });

    const log = await h.get('/test/requests');
    const authz = log.filter((r) => r.endpoint === 'authorization').at(-1);
    assert.equal(authz.params.code_challenge_method, 'S256');
    assert.equal(authz.params.state, checks.expectedState);
    assert.equal(authz.params.nonce, checks.expectedNonce);
    const tokenReq = log.filter((r) => r.endpoint === 'token').at(-1);
    assert.equal(tokenReq.client_auth, 'client_secret_post');
    assert.equal(tokenReq.params.client_secret, '***');
    assert.equal(tokenReq.params.code_verifier, checks.pkceCodeVerifier);
    assert.equal(tokenReq.status, 200);
    assert.ok(log.some((r) => r.endpoint === 'userinfo' && r.authorization === 'Bearer ***'));
  });

  test('the same browser session signs in again without any page', async () => {
    const config = await discover(h.issuer);
    const first = await begin(config);
    const { jar } = await driveOidc(first.url, 'bob');
    const again = await begin(config);
    const { callbackUrl, seen } = await driveOidc(again.url, 'bob', jar);
    assert.deepEqual(seen, []);
    const { claims, userinfo } = await finish(config, callbackUrl, again.checks);
    assert.equal(claims.sub, 'bob');
    assert.equal(userinfo.email_verified, false);
  });

  test('an updated account shows on the next sign-in', async () => {
    await h.post('/test/accounts', { alice: { ...ALICE, given_name: 'Alicia', email: 'alicia@example.com' } });
    const config = await discover(h.issuer);
    const { url, checks } = await begin(config);
    const { callbackUrl } = await driveOidc(url, 'alice');
    const { userinfo } = await finish(config, callbackUrl, checks);
    assert.equal(userinfo.given_name, 'Alicia');
    assert.equal(userinfo.email, 'alicia@example.com');
    await h.post('/test/accounts', { alice: ALICE });
  });

  // oidc-provider takes the client secret either way, whatever the client's registered
  // method; only the request log tells which one the RP used.
  test('client_secret_basic is accepted too, and the log tells them apart', async () => {
    const config = await discover(h.issuer, 'basic');
    const { url, checks } = await begin(config);
    const { callbackUrl } = await driveOidc(url, 'alice');
    await finish(config, callbackUrl, checks);
    const log = await h.get('/test/requests');
    assert.equal(log.filter((r) => r.endpoint === 'token').at(-1).client_auth, 'client_secret_basic');
  });

  test('a wrong PKCE verifier is refused', async () => {
    const config = await discover(h.issuer);
    const { url, checks } = await begin(config);
    const { callbackUrl } = await driveOidc(url, 'alice');
    const wrong = { ...checks, pkceCodeVerifier: client.randomPKCECodeVerifier() };
    await assert.rejects(client.authorizationCodeGrant(config, callbackUrl, wrong), (err) => {
      assert.equal(err.error, 'invalid_grant');
      return true;
    });
  });

  // A browser keeps cookies per host, not per port, as this test's jar does: a second harness
  // on 127.0.0.1 must not overwrite the first one's session. The second one also shows
  // conform_id_token_claims false, which puts the scopes' claims into the ID token.
  test('a second harness on the same host keeps its own session', async () => {
    const other = await startHarness('oidc', { conform_id_token_claims: false });
    try {
      const jar = cookieJar();
      const config = await discover(h.issuer);
      const otherConfig = await discover(other.issuer);
      await driveOidc((await begin(config)).url, 'alice', jar);
      const second = await begin(otherConfig);
      const { callbackUrl } = await driveOidc(second.url, 'bob', jar);
      const { claims } = await finish(otherConfig, callbackUrl, second.checks);
      assert.equal(claims.email, BOB.email);
      assert.equal(claims.given_name, BOB.given_name);
      const again = await begin(config);
      const { seen } = await driveOidc(again.url, 'alice', jar);
      assert.deepEqual(seen, []);
    } finally {
      await other.stop();
    }
  });

  test('headless Chromium without JavaScript signs in over http', { skip: !chromiumPath && 'chromium is not installed' }, async () => {
    const config = await discover(h.issuer);
    const { url, checks } = await begin(config);
    await withBrowserPage(async (page) => {
      await page.goto(url.href);
      await page.fill('input[name="login"]', 'alice');
      await page.fill('input[name="password"]', 'any');
      await page.click('button:has-text("Sign-in")');
      await page.click('button:has-text("Continue")');
      await page.waitForURL((u) => isCallback(u));
      const { claims, userinfo } = await finish(config, new URL(page.url()), checks);
      assert.equal(claims.sub, 'alice');
      assert.equal(userinfo.email, ALICE.email);
    });
  });
});

// ---- mode google ----------------------------------------------------------------------------

describe('mode google (hand-written imitation of Google)', { timeout: TEST_TIMEOUT }, () => {
  let h;
  before(async () => { h = await startHarness('google'); });
  after(() => h?.stop());

  test('discovery has exactly the members of Google\'s document', async () => {
    const meta = await h.get('/.well-known/openid-configuration');
    assert.deepEqual(Object.keys(meta).sort(), [
      'authorization_endpoint', 'claims_supported', 'code_challenge_methods_supported',
      'device_authorization_endpoint', 'grant_types_supported',
      'id_token_signing_alg_values_supported', 'issuer', 'jwks_uri', 'response_types_supported',
      'revocation_endpoint', 'scopes_supported', 'subject_types_supported',
      'token_endpoint', 'token_endpoint_auth_methods_supported', 'userinfo_endpoint',
    ]);
    assert.equal(meta.authorization_endpoint, `${h.issuer}/o/oauth2/v2/auth`);
    assert.deepEqual(meta.code_challenge_methods_supported, ['plain', 'S256']);
    const jwks = await h.get('/oauth2/v3/certs');
    assert.equal(jwks.keys.length, 2);
  });

  test('sign-in with fetch: Google-shaped redirect, ID token and userinfo', async () => {
    const config = await discover(h.issuer);
    const { url, checks } = await begin(config);
    const callbackUrl = await driveGoogle(url, 'alice');
    assert.deepEqual([...callbackUrl.searchParams.keys()], ['state', 'code', 'scope', 'authuser', 'prompt']);
    assert.equal(callbackUrl.searchParams.get('scope'),
      'email profile https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile openid');
    assert.equal(callbackUrl.searchParams.get('authuser'), '0');
    assert.equal(callbackUrl.searchParams.get('prompt'), 'none');

    const { tokens, claims, userinfo, header } = await finish(config, callbackUrl, checks);
    assert.equal(header.alg, 'RS256');
    assert.equal(tokens.expires_in, 3599);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.deepEqual(Object.keys(claims), [
      'iss', 'azp', 'aud', 'sub', 'email', 'email_verified', 'at_hash', 'nonce', 'name',
      'picture', 'given_name', 'family_name', 'iat', 'exp',
    ]);
    assert.match(claims.sub, /^1\d{20}$/);
    assert.equal(claims.email_verified, true);
    assert.equal(claims.nonce, checks.expectedNonce);
    assert.equal(claims.azp, 'tessera-rp');
    assert.deepEqual(Object.keys(userinfo), [
      'sub', 'name', 'given_name', 'family_name', 'picture', 'email', 'email_verified',
    ]);
    assert.equal(userinfo.sub, claims.sub);
    assert.equal(userinfo.name, 'Alice Anders');

    const log = await h.get('/test/requests');
    const authz = log.find((r) => r.endpoint === 'authorization');
    assert.equal(authz.params.code_challenge_method, 'S256');
    assert.equal(authz.params.nonce, checks.expectedNonce);
    const tokenReq = log.find((r) => r.endpoint === 'token');
    assert.equal(tokenReq.client_auth, 'client_secret_post');
    assert.equal(tokenReq.params.client_secret, '***');
  });

  test('the sub is stable for a login', async () => {
    const config = await discover(h.issuer);
    const subs = [];
    for (let i = 0; i < 2; i += 1) {
      const { url, checks } = await begin(config);
      subs.push((await finish(config, await driveGoogle(url, 'bob'), checks)).claims.sub);
    }
    assert.equal(subs[0], subs[1]);
  });

  test('client_secret_basic is accepted too', async () => {
    const config = await discover(h.issuer, 'basic');
    const { url, checks } = await begin(config);
    const { claims } = await finish(config, await driveGoogle(url, 'bob'), checks);
    assert.equal(claims.email, BOB.email);
    assert.equal(claims.email_verified, false);
    const log = await h.get('/test/requests');
    assert.equal(log.filter((r) => r.endpoint === 'token').at(-1).client_auth, 'client_secret_basic');
  });

  test('an updated account shows on the next sign-in', async () => {
    await h.post('/test/accounts', { alice: { ...ALICE, family_name: 'Zed', name: 'Alice Zed' } });
    const config = await discover(h.issuer);
    const { url, checks } = await begin(config);
    const { claims, userinfo } = await finish(config, await driveGoogle(url, 'alice'), checks);
    assert.equal(claims.family_name, 'Zed');
    assert.equal(userinfo.name, 'Alice Zed');
  });

  test('PKCE, redirect_uri and cancel are checked', async () => {
    const config = await discover(h.issuer);
    const { url, checks } = await begin(config);
    const wrong = { ...checks, pkceCodeVerifier: client.randomPKCECodeVerifier() };
    await assert.rejects(client.authorizationCodeGrant(config, await driveGoogle(url, 'alice'), wrong),
      (err) => err.error === 'invalid_grant');

    const bad = new URL(url);
    bad.searchParams.set('redirect_uri', 'http://127.0.0.1:9/elsewhere');
    const res = await fetch(bad, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /redirect_uri_mismatch/);

    const cancelled = await begin(config);
    const back = await driveGoogle(cancelled.url, 'alice', 'cancel');
    assert.equal(back.searchParams.get('error'), 'access_denied');
    assert.equal(back.searchParams.get('state'), cancelled.checks.expectedState);
  });

  test('headless Chromium without JavaScript signs in', { skip: !chromiumPath && 'chromium is not installed' }, async () => {
    const config = await discover(h.issuer);
    const { url, checks } = await begin(config);
    await withBrowserPage(async (page) => {
      await page.goto(url.href);
      await page.fill('input[name="login"]', 'alice');
      await page.click('button:has-text("Sign in")');
      await page.waitForURL((u) => isCallback(u));
      const { claims } = await finish(config, new URL(page.url()), checks);
      assert.equal(claims.email, ALICE.email);
    });
  });
});

// ---- mode rogue -----------------------------------------------------------------------------

describe('mode rogue (auto-approving, misbehaving on request)', { timeout: TEST_TIMEOUT }, () => {
  let h;
  before(async () => { h = await startHarness('rogue'); });
  after(() => h?.stop());

  async function signIn(extra) {
    const config = await discover(h.issuer);
    const { url, checks } = await begin(config, extra);
    return { config, checks, callbackUrl: await driveRogue(url) };
  }

  test('honest by default: the first account, or login_hint', async () => {
    let { config, checks, callbackUrl } = await signIn();
    assert.equal((await finish(config, callbackUrl, checks)).claims.email, ALICE.email);
    ({ config, checks, callbackUrl } = await signIn({ login_hint: 'bob' }));
    assert.equal((await finish(config, callbackUrl, checks)).userinfo.email, BOB.email);
  });

  // Each misbehaviour, and a pattern that openid-client's complaint must match.
  const cases = [
    [{ id_token: { iss: 'https://accounts.google.com' } }, /unexpected JWT "iss"/],
    [{ id_token: { aud: 'someone-else' } }, /unexpected JWT "aud"/],
    [{ id_token: { nonce: 'not-the-nonce' } }, /unexpected ID Token "nonce"/],
    [{ id_token: { nonce: null } }, /"nonce" \(nonce\) claim missing/],
    [{ id_token: { exp_offset: -3600 } }, /"exp" \(expiration time\)/],
    [{ id_token: { sign_with_other_key: true } }, /signature/i],
    [{ id_token: { alg_none: true } }, /unexpected JWT "alg"/],
    [{ id_token: { claims: { iat: null } } }, /"iat" \(issued at\) claim missing/],
    [{ state: 'wrong-state' }, /unexpected "state"/],
    [{ drop_state: true }, /"state" missing/],
    [{ error: 'access_denied' }, /access_denied/],
    [{ userinfo: { sub: '999' } }, /"sub" property/],
  ];
  for (const [misbehaviour, complaint] of cases) {
    test(`openid-client refuses ${JSON.stringify(misbehaviour)}`, async () => {
      await h.post('/test/config', misbehaviour);
      try {
        const { config, checks, callbackUrl } = await signIn();
        await assert.rejects(finish(config, callbackUrl, checks), (err) => {
          // openid-client's own message is generic; the detail is in its cause.
          assert.match(`${err.message} ${err.cause?.message ?? ''} ${err.error ?? ''}`, complaint);
          return true;
        });
      } finally {
        await h.post('/test/config', {});
      }
    });
  }

  test('{} resets, and accounts can be replaced', async () => {
    await h.post('/test/config', {});
    assert.deepEqual(await h.get('/test/config'), {});
    await fetch(new URL('/test/accounts', h.issuer), {
      method: 'PUT', body: JSON.stringify({ carol: { email: 'carol@example.com' } }),
    });
    const { config, checks, callbackUrl } = await signIn();
    const { claims } = await finish(config, callbackUrl, checks);
    assert.equal(claims.email, 'carol@example.com');
  });
});

// ---- modes facebook, amazon and apple: the social providers' stand-ins ----------------------

// Submits a social mode's sign-in page with fetch; returns the POST's response (unread).
async function submitSignIn(authUrl, login, action = 'sign_in') {
  const page = await fetch(authUrl, { redirect: 'manual' });
  const html = await page.text();
  assert.equal(page.status, 200, html);
  assert.match(html, /<input type="text" name="login"/);
  assert.match(html, /<button type="submit" name="action" value="sign_in">Sign in<\/button>/);
  assert.doesNotMatch(html, /<script/);
  const { action: target, hidden } = formOf(html, authUrl);
  assert.equal(target.origin, authUrl.origin);
  assert.equal(target.pathname, authUrl.pathname);
  return fetch(target, {
    method: 'POST', body: new URLSearchParams({ ...hidden, login, action }), redirect: 'manual',
  });
}

async function pkce() {
  const verifier = client.randomPKCECodeVerifier();
  return { verifier, challenge: await client.calculatePKCECodeChallenge(verifier), state: client.randomState() };
}

function authUrlOf(issuer, p, params) {
  const url = new URL(p, issuer);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url;
}

describe('mode facebook (Graph API v17.0)', { timeout: TEST_TIMEOUT }, () => {
  let h;
  before(async () => { h = await startHarness('facebook'); });
  after(() => h?.stop());

  async function signIn(login, scope = 'public_profile,email') {
    const p = await pkce();
    const url = authUrlOf(h.issuer, '/v17.0/dialog/oauth', {
      client_id: 'tessera-rp', redirect_uri: redirectUri(), scope, state: p.state,
      response_type: 'code', code_challenge: p.challenge, code_challenge_method: 'S256',
    });
    const res = await submitSignIn(url, login);
    assert.equal(res.status, 302, await res.text());
    const back = new URL(res.headers.get('location'));
    assert.ok(isCallback(back));
    assert.deepEqual([...back.searchParams.keys()].sort(), ['code', 'state']);
    assert.equal(back.searchParams.get('state'), p.state);
    return { code: back.searchParams.get('code'), verifier: p.verifier };
  }

  // The token request as tessera makes it for Facebook: a GET with query parameters.
  function tokenUrl(params) {
    return authUrlOf(h.issuer, '/v17.0/oauth/access_token', {
      client_id: 'tessera-rp', client_secret: SECRET, redirect_uri: redirectUri(),
      grant_type: 'authorization_code', ...params,
    });
  }

  test('sign-in, token by GET, /me with Bearer', async () => {
    const { code, verifier } = await signIn('alice');
    const res = await fetch(tokenUrl({ code, code_verifier: verifier }));
    const tokens = await res.json();
    assert.equal(res.status, 200, JSON.stringify(tokens));
    assert.deepEqual(Object.keys(tokens).sort(), ['access_token', 'expires_in', 'token_type']);
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.expires_in, 5183944);

    const me = await fetch(new URL('/v17.0/me?fields=id,email,name', h.issuer), {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    const profile = await me.json();
    assert.equal(me.status, 200, JSON.stringify(profile));
    assert.deepEqual(Object.keys(profile), ['id', 'email', 'name']);
    assert.match(profile.id, /^\d{16}$/);
    assert.equal(profile.email, ALICE.email);
    assert.equal(profile.name, 'Alice Anders');

    // The access_token query parameter works too, and the id is stable.
    const byQuery = await h.get(`/v17.0/me?fields=id,first_name,last_name,picture&access_token=${encodeURIComponent(tokens.access_token)}`);
    assert.deepEqual(byQuery, { id: profile.id, first_name: 'Alice', last_name: 'Anders' });

    const log = await h.get('/test/requests');
    const tokenReq = log.find((r) => r.endpoint === 'token');
    assert.equal(tokenReq.method, 'GET');
    assert.equal(tokenReq.path, '/v17.0/oauth/access_token');
    assert.equal(tokenReq.params.client_secret, '***');
    assert.equal(tokenReq.params.code_verifier, verifier);
    assert.equal(tokenReq.client_auth, 'client_secret_query');
    assert.ok(log.some((r) => r.endpoint === 'userinfo' && r.authorization === 'Bearer ***'));
    assert.ok(log.some((r) => r.endpoint === 'userinfo' && r.params.access_token === '***'));
    assert.equal(log.find((r) => r.endpoint === 'authorization').params.code_challenge_method, 'S256');
  });

  test('refusals: wrong secret, wrong verifier, spent code, bad token', async () => {
    const isFbError = async (res) => {
      assert.equal(res.status, 400);
      const body = await res.json();
      assert.equal(body.error.type, 'OAuthException');
      assert.equal(typeof body.error.message, 'string');
      return body.error;
    };
    let { code, verifier } = await signIn('bob');
    await isFbError(await fetch(tokenUrl({ code, code_verifier: verifier, client_secret: 'wrong' })));
    ({ code, verifier } = await signIn('bob'));
    assert.equal((await isFbError(await fetch(tokenUrl({ code, code_verifier: 'x'.repeat(43) })))).code, 100);
    ({ code, verifier } = await signIn('bob'));
    assert.equal((await fetch(tokenUrl({ code, code_verifier: verifier }))).status, 200);
    assert.equal((await isFbError(await fetch(tokenUrl({ code, code_verifier: verifier })))).code, 100);
    const me = await fetch(new URL('/v17.0/me?fields=id', h.issuer), { headers: { authorization: 'Bearer nope' } });
    assert.equal((await isFbError(me)).code, 190);
  });
});

describe('mode amazon (Login with Amazon)', { timeout: TEST_TIMEOUT }, () => {
  let h;
  before(async () => {
    h = await startHarness('amazon', {
      accounts: { alice: { ...ALICE, postal_code: '98109' }, bob: BOB },
    });
  });
  after(() => h?.stop());

  async function signIn(login, scope = 'profile postal_code') {
    const p = await pkce();
    const url = authUrlOf(h.issuer, '/ap/oa', {
      client_id: 'tessera-rp', scope, response_type: 'code', redirect_uri: redirectUri(),
      state: p.state, code_challenge: p.challenge, code_challenge_method: 'S256',
    });
    const res = await submitSignIn(url, login);
    assert.equal(res.status, 302, await res.text());
    const back = new URL(res.headers.get('location'));
    assert.ok(isCallback(back));
    assert.deepEqual([...back.searchParams.keys()], ['code', 'scope', 'state']);
    assert.equal(back.searchParams.get('scope'), scope);
    assert.equal(back.searchParams.get('state'), p.state);
    return { code: back.searchParams.get('code'), verifier: p.verifier };
  }

  const token = (params) => fetch(new URL('/auth/o2/token', h.issuer), {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code', redirect_uri: redirectUri(), client_id: 'tessera-rp',
      client_secret: SECRET, ...params,
    }),
  });

  test('sign-in, token by POST form, /user/profile', async () => {
    const { code, verifier } = await signIn('alice');
    const res = await token({ code, code_verifier: verifier });
    const tokens = await res.json();
    assert.equal(res.status, 200, JSON.stringify(tokens));
    assert.deepEqual(Object.keys(tokens).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
    assert.equal(tokens.token_type, 'bearer');
    assert.equal(tokens.expires_in, 3600);

    const profileRes = await fetch(new URL('/user/profile', h.issuer), {
      headers: { authorization: `Bearer ${tokens.access_token}` },
    });
    const profile = await profileRes.json();
    assert.equal(profileRes.status, 200, JSON.stringify(profile));
    assert.match(profile.user_id, /^amzn1\.account\.[A-Z0-9]{28}$/);
    assert.deepEqual(profile, {
      user_id: profile.user_id, name: 'Alice Anders', email: ALICE.email, postal_code: '98109',
    });

    // Stable per login.
    const again = await signIn('alice');
    const t2 = await (await token({ code: again.code, code_verifier: again.verifier })).json();
    const p2 = await (await fetch(new URL('/user/profile', h.issuer), {
      headers: { authorization: `Bearer ${t2.access_token}` },
    })).json();
    assert.equal(p2.user_id, profile.user_id);

    const log = await h.get('/test/requests');
    const tokenReq = log.find((r) => r.endpoint === 'token');
    assert.equal(tokenReq.client_auth, 'client_secret_post');
    assert.equal(tokenReq.params.client_secret, '***');
    assert.equal(tokenReq.params.code_verifier, verifier);
    assert.ok(log.some((r) => r.endpoint === 'userinfo' && r.path === '/user/profile' && r.authorization === 'Bearer ***'));
  });

  test('refusals: wrong secret, wrong verifier, wrong redirect_uri, bad token', async () => {
    let { code, verifier } = await signIn('bob', 'profile');
    let res = await token({ code, code_verifier: verifier, client_secret: 'wrong' });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error, 'invalid_client');
    ({ code, verifier } = await signIn('bob', 'profile'));
    res = await token({ code, code_verifier: client.randomPKCECodeVerifier() });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.error, 'invalid_grant');
    assert.equal(typeof body.error_description, 'string');
    ({ code, verifier } = await signIn('bob', 'profile'));
    res = await token({ code, code_verifier: verifier, redirect_uri: `${redirectUri()}x` });
    assert.equal((await res.json()).error, 'invalid_grant');
    res = await fetch(new URL('/user/profile', h.issuer), { headers: { authorization: 'Bearer nope' } });
    assert.equal(res.status, 401);
  });
});

describe('mode apple (Sign in with Apple)', { timeout: TEST_TIMEOUT }, () => {
  let h;
  let appleKey;
  let otherKey;
  const TEAM = 'TEAM123456';
  const KID = 'KEY7654321';

  before(async () => {
    appleKey = await jose.generateKeyPair('ES256', { extractable: true });
    otherKey = await jose.generateKeyPair('ES256', { extractable: true });
    h = await startHarness('apple', {
      apple: { team_id: TEAM, key_id: KID, private_key_pem: await jose.exportPKCS8(appleKey.privateKey) },
    });
  });
  after(() => h?.stop());

  // The client secret as tessera builds it.
  async function clientSecret({ key = appleKey.privateKey, kid = KID, iss = TEAM, sub = 'tessera-rp', lifetime = 3600 } = {}) {
    return new jose.SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(iss)
      .setSubject(sub)
      .setAudience('https://appleid.apple.com')
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + lifetime)
      .sign(key);
  }

  async function signIn(login) {
    const p = await pkce();
    const nonce = client.randomNonce();
    const url = authUrlOf(h.issuer, '/auth/authorize', {
      response_type: 'code', response_mode: 'form_post', client_id: 'tessera-rp',
      redirect_uri: redirectUri(), state: p.state, scope: 'name email', nonce,
      code_challenge: p.challenge, code_challenge_method: 'S256',
    });
    const res = await submitSignIn(url, login);
    const html = await res.text();
    assert.equal(res.status, 200, html);
    // The form_post page: POST to the redirect_uri, a Continue button, and a script.
    const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(html);
    assert.ok(form, html);
    assert.equal(form[1].replace(/&amp;/g, '&'), redirectUri());
    assert.match(form[2], /<button type="submit">Continue<\/button>/);
    assert.match(html, /<script>document\.forms\[0\]\.submit\(\)<\/script>/);
    const fields = {};
    for (const m of form[2].matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      fields[m[1]] = m[2].replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>').replace(/&amp;/g, '&');
    }
    assert.equal(fields.state, p.state);
    return { ...fields, verifier: p.verifier, nonce };
  }

  const token = (params) => fetch(new URL('/auth/token', h.issuer), {
    method: 'POST',
    body: new URLSearchParams({
      grant_type: 'authorization_code', redirect_uri: redirectUri(), client_id: 'tessera-rp', ...params,
    }),
  });

  test('sign-in with form_post, client secret JWT, id_token checked against /auth/keys', async () => {
    const first = await signIn('alice');
    assert.deepEqual(JSON.parse(first.user), {
      name: { firstName: 'Alice', lastName: 'Anders' }, email: ALICE.email,
    });
    const res = await token({ code: first.code, code_verifier: first.verifier, client_secret: await clientSecret() });
    const tokens = await res.json();
    assert.equal(res.status, 200, JSON.stringify(tokens));
    assert.deepEqual(Object.keys(tokens).sort(), ['access_token', 'expires_in', 'id_token', 'refresh_token', 'token_type']);
    assert.equal(tokens.token_type, 'Bearer');
    assert.equal(tokens.expires_in, 3600);

    const jwks = jose.createRemoteJWKSet(new URL('/auth/keys', h.issuer));
    const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks, {
      issuer: h.issuer, audience: 'tessera-rp', algorithms: ['RS256'],
    });
    assert.ok(protectedHeader.kid);
    assert.match(payload.sub, /^\d{6}\.[0-9a-f]{32}\.\d{4}$/);
    assert.equal(payload.nonce, first.nonce);
    assert.equal(payload.email, ALICE.email);
    assert.equal(payload.email_verified, 'true');
    assert.equal(payload.is_private_email, 'false');
    for (const c of ['iat', 'exp', 'auth_time']) assert.equal(typeof payload[c], 'number');

    // The second sign-in of the same login: no user field, the same sub.
    const second = await signIn('alice');
    assert.equal(second.user, undefined);
    const t2 = await (await token({ code: second.code, code_verifier: second.verifier, client_secret: await clientSecret() })).json();
    assert.equal(jose.decodeJwt(t2.id_token).sub, payload.sub);

    const log = await h.get('/test/requests');
    const tokenReq = log.filter((r) => r.endpoint === 'token');
    assert.equal(tokenReq.length, 2);
    assert.equal(tokenReq[0].client_secret_jwt_valid, true);
    assert.equal(tokenReq[0].params.client_secret, '***');
    assert.equal(tokenReq[0].params.code_verifier, first.verifier);
    assert.equal(log.find((r) => r.endpoint === 'authorization').params.response_mode, 'form_post');
  });

  test('refusals: client secret JWTs that are not right, wrong verifier', async () => {
    const cases = [
      ['signed by another key', { key: otherKey.privateKey }],
      ['wrong kid', { kid: 'OTHERKID00' }],
      ['wrong team', { iss: 'OTHERTEAM0' }],
      ['wrong sub', { sub: 'someone-else' }],
      ['expired', { lifetime: -60 }],
      ['more than 6 months', { lifetime: 200 * 86400 }],
    ];
    for (const [why, opts] of cases) {
      const { code, verifier } = await signIn('bob');
      const res = await token({ code, code_verifier: verifier, client_secret: await clientSecret(opts) });
      assert.equal(res.status, 400, why);
      assert.deepEqual(await res.json(), { error: 'invalid_client' }, why);
    }
    const { code } = await signIn('bob');
    let res = await token({ code, code_verifier: 'x'.repeat(43), client_secret: await clientSecret() });
    assert.deepEqual(await res.json(), { error: 'invalid_grant' });
    res = await token({ code, client_secret: SECRET });
    assert.deepEqual(await res.json(), { error: 'invalid_client' });

    const log = (await h.get('/test/requests')).filter((r) => r.endpoint === 'token').slice(-8);
    assert.deepEqual(log.map((r) => r.client_secret_jwt_valid), [false, false, false, false, false, false, true, false]);
    assert.ok(log.every((r) => r.params.client_secret === '***'));
  });
});
