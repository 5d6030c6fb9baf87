// A test upstream identity provider for tessera's federation (issue 15): tessera is the
// OpenID Connect relying party, like Cognito's /oauth2/idpresponse, and this process is the
// IdP behind "Sign in with Google" or any OIDC provider. The Python end-to-end tests start
// it on loopback, point a pool's identity provider at it, and drive sign-ins through it.
// It never talks to anything but its own clients on 127.0.0.1.
//
// Contract
//   start:   node upstream-oidc.mjs, with TESSERA_E2E_UPSTREAM holding JSON:
//              { "mode": "oidc" | "google" | "rogue" | "facebook" | "amazon" | "apple",
//                "port": 0,                        (0 or absent: any free port)
//                "clients": [{ "client_id", "client_secret", "redirect_uris": [...] }],
//                "accounts": { "<login>": { "email", "email_verified", "given_name", ... } },
//                "conform_id_token_claims": true,  (oidc mode only, optional, see below)
//                "apple": { "team_id", "key_id", "private_key_pem" } } (apple mode only, and
//                           required there: the P-256 key, PKCS#8 PEM, whose public half
//                           verifies the RP's client secret JWTs)
//   ready:   exactly one line on stdout, {"issuer": "http://127.0.0.1:<port>", "port": <port>};
//            nothing else is ever written to stdout (oidc-provider's notices go to stderr).
//   stop:    SIGTERM or SIGINT; it runs until then.
//   test endpoints, in every mode:
//     GET    /test/requests   the authorization, token and userinfo requests received, oldest
//                             first: { endpoint, method, path, params, client_auth, ... } with
//                             client_secret shown as "***" (DELETE clears the list)
//     GET    /test/accounts   the accounts table
//     POST   /test/accounts   { "<login>": {claims} | null }: each account named is replaced
//                             (null removes it), the others stay
//     PUT    /test/accounts   replaces the whole table
//     POST   /test/config     rogue mode only, see below (GET shows the current misbehaviour)
//   Every mode reads the live table, so a sign-in after an update sees the new claims.
//
// Modes
//   oidc    oidc-provider 9.13.3 with its development interactions (devInteractions): the
//           login page (/interaction/<uid>) is a form with <input name="login"> (whatever is
//           typed becomes the account id and the sub), <input name="password"> (any value, but
//           the field is `required`, so a browser wants something in it) and a "Sign-in"
//           button; the consent page has a "Continue" button; each form also has a hidden
//           prompt=login|consent and posts to an absolute URL. A "[ Cancel ]" link returns
//           error=access_denied. All of it works with JavaScript disabled. A login missing
//           from the table still signs in, with no claims but sub. Clients are registered
//           with client_secret_post unless their entry says otherwise (every member of a client
//           entry is passed to oidc-provider as client metadata), but oidc-provider accepts
//           the secret by Basic just as well: assert the method on /test/requests
//           (client_auth). PKCE is S256 only and optional, but checked when the RP sends it;
//           nonce is echoed in the ID token. The redirect back is a 303 and carries code,
//           state and iss (RFC 9207). Endpoints: /auth, /token, /me (userinfo), /jwks.
//           What lands where: with conform_id_token_claims true (oidc-provider's default, and
//           this harness's) the ID token carries only iss, sub, aud, iat, exp and nonce (no
//           at_hash, no auth_time unless max_age asks for it); email, email_verified,
//           given_name, family_name, name, ... are only in the userinfo response. Set it to
//           false to put every claim the scopes allow into the ID token as well.
//           Browser session: the session cookie survives a sign-in, so a second authorization
//           in the same browser comes straight back with a code, no login nor consent page.
//           Cookies are named _<name>_<port> (e.g. _session_41234) because cookies are scoped
//           to a host, not a port: two harnesses on 127.0.0.1 would otherwise overwrite each
//           other's session. Over plain http they are not marked Secure (koa only does that
//           on https), SameSite=Lax is harmless because every port of 127.0.0.1 is one site,
//           and cookies.keys is set so they are signed. NODE_ENV makes no difference.
//           The pages' @import of Google Fonts is stripped so a browser never leaves loopback.
//   google  a hand-written imitation of Google's OIDC server: the discovery document has
//           exactly Google's members with local URLs (/o/oauth2/v2/auth, /token, /v1/userinfo,
//           /oauth2/v3/certs, /revoke, /device/code). GET on the authorization endpoint shows a
//           small page: a form with <input name="login"> and a "Sign in" button (and a "Cancel"
//           button, which returns error=access_denied). Its answer redirects with state, code,
//           scope (in Google's expanded form, e.g. "email profile
//           https://www.googleapis.com/auth/userinfo.email ... openid"), authuser=0 and
//           prompt=none. The token endpoint takes client_secret_post or client_secret_basic
//           and checks redirect_uri and the PKCE verifier (plain or S256). The ID token is
//           RS256 with a kid (the JWKS publishes two keys) and has, in Google's order: iss,
//           azp, aud, sub (a stable 21-digit number from the login, unless the account sets
//           sub), email and email_verified (scope email; email_verified is true unless the
//           account says otherwise), at_hash, nonce, name, picture, given_name and family_name
//           (scope profile; name defaults to "given family", picture to a URL under the issuer
//           that is never served), hd and locale when the account has them, iat, exp: the ID
//           token and userinfo carry the same profile. Userinfo returns sub, name, given_name,
//           family_name, picture, email, email_verified (and hd, locale), from the live table.
//           Any login signs in; one missing from the table has no claims but sub and picture.
//           The redirect back is a 302. No refresh tokens.
//   rogue   the google server, but the authorization endpoint answers at once (no page) for
//           the account named by login_hint or else the first account, so plain HTTP
//           redirects drive it, and it misbehaves as POST /test/config says. The body replaces
//           the previous setting ({} makes it honest again); every member applies to all
//           responses until changed:
//             { "id_token": { "iss": "...", "aud": "...", "nonce": "..." (null drops it),
//                             "exp_offset": -3600 (exp = now + offset),
//                             "sign_with_other_key": true (same kid, key not in the JWKS),
//                             "alg_none": true (an unsecured JWT),
//                             "claims": { "<claim>": value | null } (any other claim) },
//               "userinfo": { "<claim>": value | null },
//               "state": "wrong-state", "drop_state": true,
//               "error": "access_denied" (an error redirect instead of a code) }
//   facebook, amazon, apple
//           stand-ins for Cognito's social providers, at the exact paths of the real ones, so
//           tessera can swap the scheme and host of a preset's URLs for this harness's issuer.
//           Each authorization endpoint shows the same kind of page as google mode (a form with
//           <input name="login"> and a "Sign in" button, a "Cancel" button; no JavaScript
//           needed) and posts back to its own path. client_id and redirect_uri are checked (an
//           unregistered redirect_uri gets an error page, never a redirect); PKCE (plain or
//           S256) is checked at the token endpoint when a challenge was sent; a code is spent
//           by its first use. Any login signs in; the claims come from the live table, where
//           given_name/family_name (or first_name/last_name), name, email, email_verified and
//           postal_code are used. No OIDC discovery in any of them.
//     facebook  Graph API v17.0, no ID token.
//           GET  /v17.0/dialog/oauth?client_id&redirect_uri&scope&state&response_type=code
//                &code_challenge&code_challenge_method   (scope comma or space separated)
//                -> 302 redirect_uri?code&state (cancel: error=access_denied, error_code=200,
//                error_reason=user_denied, error_description, state)
//           GET  /v17.0/oauth/access_token?client_id&client_secret&redirect_uri&code
//                &code_verifier[&grant_type=authorization_code]   (POST form is taken too)
//                -> {"access_token","token_type":"bearer","expires_in":5183944}; errors are
//                HTTP 400 {"error":{"message","type":"OAuthException","code":100|101|1,
//                "fbtrace_id"}}. Logged with client_auth "client_secret_query" for GET.
//           GET  /v17.0/me?fields=id,email,name,first_name,last_name with Authorization:
//                Bearer (or ?access_token=) -> {"id": a stable 16-digit string from the login
//                (or the account's id), and each requested field the account has}; email only
//                when the scope had email. Default fields: id,name. Bad token: 400, code 190.
//     amazon    Login with Amazon, no ID token.
//           GET  /ap/oa?client_id&scope&response_type=code&redirect_uri&state&code_challenge
//                &code_challenge_method   (scopes: profile, profile:user_id, postal_code)
//                -> 302 redirect_uri?code&scope&state (cancel: error=access_denied)
//           POST /auth/o2/token form grant_type, code, redirect_uri, client_id, client_secret,
//                code_verifier (client_secret_post only) -> {"access_token","refresh_token",
//                "token_type":"bearer","expires_in":3600}; errors 400 {"error",
//                "error_description"} (invalid_client, invalid_grant, unsupported_grant_type)
//           GET  /user/profile with Bearer -> {"user_id":"amzn1.account.<28 upper-case
//                alnum, stable from the login, or the account's user_id>", "name", "email"
//                (scope profile), "postal_code" (scope postal_code)}; bad token 401.
//     apple     Sign in with Apple.
//           GET  /auth/authorize?response_type=code&response_mode=form_post&client_id
//                &redirect_uri&state&scope&nonce&code_challenge&code_challenge_method
//                (scope: name, email; they need response_mode=form_post; query is allowed
//                without them) -> the sign-in page; its POST answers with a page whose form
//                (method POST, action redirect_uri, a visible "Continue" button plus an
//                auto-submit script) carries state, code and, only on the first sign-in of a
//                login to a client in this process, user = JSON {"name":{"firstName",
//                "lastName"},"email"} (as the scope allows). Cancel posts
//                error=user_cancelled_authorize and state.
//           POST /auth/token form grant_type, code, redirect_uri, client_id, client_secret,
//                code_verifier: client_secret must be an ES256 JWT, header kid = apple.key_id,
//                iss = apple.team_id, sub = client_id, aud = "https://appleid.apple.com",
//                iat, exp in the future and at most 15777000 s (6 months) away, signed by
//                apple.private_key_pem's key (the client entry's client_secret is unused).
//                Refused with 400 {"error":"invalid_client"}; other errors 400 {"error"}
//                (invalid_grant, unsupported_grant_type). The log entry has
//                client_secret_jwt_valid true|false (and client_secret_jwt_error why).
//                Answer {"access_token","token_type":"Bearer","expires_in":3600,
//                "refresh_token","id_token"}; grant_type=refresh_token gives a new access
//                token and id_token. The id_token is RS256 with a kid: iss = this issuer,
//                aud = client_id, exp (a day), iat, sub (stable "NNNNNN.<32 hex>.NNNN" from the
//                login, or the account's sub), nonce (the authorization request's, if any),
//                c_hash, email, email_verified ("true" unless the account says false) and
//                is_private_email ("false" unless the account says) when the account has an
//                email, auth_time, nonce_supported true.
//           GET  /auth/keys -> the JWKS with that RS256 key.
import { createServer } from 'node:http';
import {
  createHash, createPrivateKey, createPublicKey, randomBytes, timingSafeEqual,
} from 'node:crypto';
import * as jose from 'jose';

// stdout carries one line for the test driver. oidc-provider prints its notices with
// console.info, so everything that logs is sent to stderr instead.
for (const name of ['log', 'info', 'debug']) {
  console[name] = (...args) => console.error(...args);
}

const MODES = new Set(['oidc', 'google', 'rogue', 'facebook', 'amazon', 'apple']);
const SOCIAL_MODES = new Set(['facebook', 'amazon', 'apple']);
const BODY_LIMIT = 64 * 1024;
const CODE_TTL = 600;
const TOKEN_TTL = 3599;

function fail(message) {
  console.error(`upstream-oidc: ${message}`);
  process.exit(2);
}

function loadConfig() {
  const raw = process.env.TESSERA_E2E_UPSTREAM;
  if (!raw) fail('TESSERA_E2E_UPSTREAM is not set');
  let cfg;
  try {
    cfg = JSON.parse(raw);
  } catch (err) {
    fail(`TESSERA_E2E_UPSTREAM is not JSON: ${err.message}`);
  }
  if (!MODES.has(cfg.mode)) fail(`mode must be one of ${[...MODES].join(', ')}`);
  const port = cfg.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail('port must be an integer 0..65535');
  if (!Array.isArray(cfg.clients) || cfg.clients.length === 0) fail('clients must be a non-empty list');
  for (const c of cfg.clients) {
    if (typeof c.client_id !== 'string' || typeof c.client_secret !== 'string') {
      fail('each client needs a client_id and a client_secret');
    }
    if (!Array.isArray(c.redirect_uris) || c.redirect_uris.length === 0) {
      fail(`client ${c.client_id} needs redirect_uris`);
    }
  }
  return { ...cfg, port, accounts: cfg.accounts ?? {} };
}

const cfg = loadConfig();
const clientsById = new Map(cfg.clients.map((c) => [c.client_id, c]));

// The accounts table, read live by every mode. A Map keeps the insertion order, which decides
// rogue mode's default account, and has no prototype keys a login could collide with.
const accounts = new Map(Object.entries(cfg.accounts));

// What the RP sent, for tests to assert on (PKCE, state, nonce, client authentication).
const requests = [];

// Rogue mode's current misbehaviour (see the header).
let rogue = {};

function redact(params) {
  const out = { ...params };
  if ('client_secret' in out) out.client_secret = '***';
  return out;
}

function record(req, endpoint, params, extra = {}) {
  requests.push({
    endpoint,
    method: req.method,
    path: new URL(req.url, 'http://x').pathname,
    params: redact(params),
    ...extra,
    time: new Date().toISOString(),
  });
}

// How a token request authenticated the client, in the terms of token_endpoint_auth_method.
function clientAuthMethod(headers, body) {
  if (/^basic /i.test(headers.authorization ?? '')) return 'client_secret_basic';
  if (body.client_secret !== undefined) return 'client_secret_post';
  if (body.client_assertion !== undefined) return 'client_assertion';
  return 'none';
}

// ---- small HTTP helpers --------------------------------------------------------------------

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > BODY_LIMIT) throw Object.assign(new Error('request body too large'), { status: 413 });
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function readForm(req) {
  return Object.fromEntries(new URLSearchParams(await readBody(req)));
}

async function readJson(req) {
  const text = await readBody(req);
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    throw Object.assign(new Error('body is not JSON'), { status: 400 });
  }
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

function sendJson(res, status, value, headers = {}) {
  send(res, status, JSON.stringify(value), {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
}

function sendHtml(res, status, html) {
  send(res, status, html, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
}

function redirect(res, location) {
  res.writeHead(302, { location, 'content-length': 0, 'cache-control': 'no-store' });
  res.end();
}

const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const esc = (value) => String(value).replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]);

const epoch = () => Math.floor(Date.now() / 1000);
const random = (bytes = 32) => randomBytes(bytes).toString('base64url');
const sha256 = (text) => createHash('sha256').update(text).digest();

// Constant-time comparison of two strings of any length.
function sameSecret(a, b) {
  return typeof a === 'string' && typeof b === 'string' && timingSafeEqual(sha256(a), sha256(b));
}

// A claims object with null-valued members removed, after the overrides are applied.
function applyOverrides(claims, overrides = {}) {
  const out = { ...claims, ...overrides };
  for (const [key, value] of Object.entries(out)) {
    if (value === null) delete out[key];
  }
  return out;
}

async function newRsaKey(kid) {
  const { privateKey, publicKey } = await jose.generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await jose.exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const privateJwk = { ...(await jose.exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicJwk, privateJwk };
}

// ---- test endpoints, shared by all modes ---------------------------------------------------

async function testRoutes(req, res, path) {
  if (path === '/test/requests') {
    if (req.method === 'GET') return sendJson(res, 200, requests);
    if (req.method === 'DELETE') {
      requests.length = 0;
      return sendJson(res, 200, []);
    }
  }
  if (path === '/test/accounts') {
    if (req.method === 'GET') return sendJson(res, 200, Object.fromEntries(accounts));
    if (req.method === 'POST' || req.method === 'PUT') {
      const update = await readJson(req);
      if (update === null || typeof update !== 'object' || Array.isArray(update)) {
        return sendJson(res, 400, { error: 'expected an object of accounts' });
      }
      if (req.method === 'PUT') accounts.clear();
      for (const [login, claims] of Object.entries(update)) {
        if (claims === null) accounts.delete(login);
        else accounts.set(login, claims);
      }
      return sendJson(res, 200, Object.fromEntries(accounts));
    }
  }
  if (path === '/test/config') {
    if (cfg.mode !== 'rogue') return sendJson(res, 404, { error: 'only rogue mode misbehaves' });
    if (req.method === 'GET') return sendJson(res, 200, rogue);
    if (req.method === 'POST') {
      const next = await readJson(req);
      if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        return sendJson(res, 400, { error: 'expected an object' });
      }
      rogue = next;
      console.error(`upstream-oidc: misbehaviour now ${JSON.stringify(rogue)}`);
      return sendJson(res, 200, rogue);
    }
  }
  return sendJson(res, 405, { error: `${req.method} ${path} is not supported` });
}

// ---- mode oidc: oidc-provider ----------------------------------------------------------------

async function oidcProviderApp(issuer, port) {
  // Imported here so the google and rogue modes start without it (it also warns on Node 20,
  // which works but is older than the LTS it asks for).
  const { default: Provider } = await import('oidc-provider');
  const key = await newRsaKey('upstream-oidc-1');

  const provider = new Provider(issuer, {
    clients: cfg.clients.map((c) => ({
      token_endpoint_auth_method: 'client_secret_post',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      ...c,
    })),
    // The account id is whatever was typed at the login page; the claims come from the live
    // table each time, so an update shows in the next ID token and userinfo response.
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { ...(accounts.get(id) ?? {}), sub: id };
        },
      };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: [
        'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username',
        'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
      ],
      phone: ['phone_number', 'phone_number_verified'],
      address: ['address'],
    },
    scopes: ['openid', 'email', 'profile', 'phone', 'address'],
    conformIdTokenClaims: cfg.conform_id_token_claims ?? true,
    jwks: { keys: [key.privateJwk] },
    cookies: {
      keys: [random()],
      names: {
        session: `_session_${port}`,
        interaction: `_interaction_${port}`,
        resume: `_interaction_resume_${port}`,
      },
    },
    features: {
      devInteractions: { enabled: true },
      userinfo: { enabled: true },
      revocation: { enabled: true },
    },
  });

  provider.on('server_error', (_ctx, err) => console.error('upstream-oidc: server_error', err));

  // Records what the RP sends, and keeps the development pages from fetching Google Fonts
  // (the only request they would make off loopback).
  provider.use(async (ctx, next) => {
    const authorization = ctx.path === '/auth';
    if (authorization && ctx.method === 'GET') record(ctx.req, 'authorization', { ...ctx.query });
    await next();
    if (authorization && ctx.method === 'POST') {
      record(ctx.req, 'authorization', { ...(ctx.oidc?.body ?? {}) });
    }
    if (ctx.path === '/token') {
      const body = { ...(ctx.oidc?.body ?? {}) };
      record(ctx.req, 'token', body, {
        client_auth: clientAuthMethod(ctx.headers, body),
        status: ctx.status,
      });
    }
    if (ctx.path === '/me') {
      record(ctx.req, 'userinfo', {}, {
        authorization: ctx.headers.authorization ? 'Bearer ***' : undefined,
        status: ctx.status,
      });
    }
    if (typeof ctx.body === 'string' && ctx.response.is('html')) {
      ctx.body = ctx.body.replace(/@import url\(https:\/\/fonts\.googleapis\.com[^)]*\);?/g, '');
    }
  });

  return provider.callback();
}

// ---- modes google and rogue: a hand-written imitation of Google -----------------------------

const GOOGLE_SCOPE_EMAIL = 'https://www.googleapis.com/auth/userinfo.email';
const GOOGLE_SCOPE_PROFILE = 'https://www.googleapis.com/auth/userinfo.profile';
const GOOGLE_SCOPES = new Set(['openid', 'email', 'profile', GOOGLE_SCOPE_EMAIL, GOOGLE_SCOPE_PROFILE]);

// Google's subject identifiers are 21-digit numbers. A hash of the login gives a stable one,
// unless the account names its own sub.
function googleSub(login) {
  const own = accounts.get(login)?.sub;
  if (typeof own === 'string' && own) return own;
  const n = BigInt(`0x${sha256(`tessera-e2e-google:${login}`).subarray(0, 16).toString('hex')}`);
  return `1${(n % 10n ** 20n).toString().padStart(20, '0')}`;
}

// The scope string Google grants: the short names, then their URL forms, then openid.
function grantedScope(scopes) {
  const email = scopes.has('email') || scopes.has(GOOGLE_SCOPE_EMAIL);
  const profile = scopes.has('profile') || scopes.has(GOOGLE_SCOPE_PROFILE);
  return [
    scopes.has('email') && 'email',
    scopes.has('profile') && 'profile',
    email && GOOGLE_SCOPE_EMAIL,
    profile && GOOGLE_SCOPE_PROFILE,
    scopes.has('openid') && 'openid',
  ].filter(Boolean).join(' ');
}

// The user's claims that a grant's scope allows, in Google's member order.
function googleProfile(login, scope) {
  const account = accounts.get(login) ?? {};
  const scopes = new Set(scope.split(' '));
  const sub = googleSub(login);
  const claims = {};
  if (scopes.has(GOOGLE_SCOPE_PROFILE)) {
    const name = account.name
      ?? ([account.given_name, account.family_name].filter(Boolean).join(' ') || undefined);
    Object.assign(claims, {
      name,
      picture: account.picture ?? `${cfg.issuer}/a/${sub}=s96-c`,
      given_name: account.given_name,
      family_name: account.family_name,
    });
  }
  if (scopes.has(GOOGLE_SCOPE_EMAIL) && account.email !== undefined) {
    claims.email = account.email;
    claims.email_verified = account.email_verified ?? true;
  }
  for (const extra of ['hd', 'locale']) claims[extra] = account[extra];
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  return { sub, claims };
}

function atHash(accessToken) {
  return sha256(accessToken).subarray(0, 16).toString('base64url');
}

async function googleApp(issuer) {
  const isRogue = cfg.mode === 'rogue';
  // Two published keys, like Google's JWKS during a rotation, so the RP has to pick by kid;
  // the third is never published and signs rogue mode's forged tokens.
  const kid = `upstream-${random(8)}`;
  const [signing, next, forger] = await Promise.all([
    newRsaKey(kid), newRsaKey(`upstream-${random(8)}`), newRsaKey(kid),
  ]);
  const published = [signing, next];

  const pending = new Map(); // sign-in page id -> authorization request
  const codes = new Map(); // code -> what it grants
  const tokens = new Map(); // access token -> what it grants

  const discovery = {
    issuer,
    authorization_endpoint: `${issuer}/o/oauth2/v2/auth`,
    device_authorization_endpoint: `${issuer}/device/code`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/v1/userinfo`,
    revocation_endpoint: `${issuer}/revoke`,
    jwks_uri: `${issuer}/oauth2/v3/certs`,
    response_types_supported: [
      'code', 'token', 'id_token', 'code token', 'code id_token', 'token id_token',
      'code token id_token', 'none',
    ],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    scopes_supported: ['openid', 'email', 'profile'],
    token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
    claims_supported: [
      'aud', 'email', 'email_verified', 'exp', 'family_name', 'given_name', 'iat', 'iss',
      'name', 'picture', 'sub',
    ],
    code_challenge_methods_supported: ['plain', 'S256'],
    grant_types_supported: [
      'authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
    ],
  };

  function errorPage(res, status, error, description) {
    sendHtml(res, status, page('Error', `<h1>Error ${status}: ${esc(error)}</h1><p>${esc(description)}</p>`));
  }

  function errorRedirect(res, params, error, description) {
    const target = new URL(params.redirect_uri);
    target.searchParams.set('error', error);
    if (description) target.searchParams.set('error_description', description);
    if (params.state !== undefined) target.searchParams.set('state', params.state);
    redirect(res, target.href);
  }

  function page(title, body) {
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;max-width:24em;margin:3em auto}input,button{font-size:1em;margin:.3em 0}</style>
</head><body>${body}</body></html>`;
  }

  function signInPage(id, request, message) {
    return page('Sign in - Google Accounts', `<h1>Sign in</h1>
<p>to continue to ${esc(request.client_id)}</p>
${message ? `<p role="alert">${esc(message)}</p>` : ''}
<form method="post" action="/o/oauth2/v2/auth">
<input type="hidden" name="request_id" value="${esc(id)}">
<label>Email or phone <input type="text" name="login" required autofocus value="${esc(request.login_hint ?? '')}"></label>
<button type="submit" name="action" value="sign_in">Sign in</button>
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>`);
  }

  // Issues a code and sends the browser back as Google does: state, code, scope, authuser,
  // prompt, in that order. Rogue mode may tamper with the state or answer with an error.
  function issueCode(res, request, login) {
    const code = `4/0${random(48)}`;
    const scope = grantedScope(request.scopes);
    codes.set(code, {
      client_id: request.client_id,
      redirect_uri: request.redirect_uri,
      login,
      scope,
      nonce: request.nonce,
      code_challenge: request.code_challenge,
      code_challenge_method: request.code_challenge_method,
      expires: epoch() + CODE_TTL,
    });
    const target = new URL(request.redirect_uri);
    const q = target.searchParams;
    const state = isRogue && 'state' in rogue ? rogue.state : request.state;
    if (state !== undefined && !(isRogue && rogue.drop_state)) q.set('state', state);
    if (isRogue && rogue.error) {
      q.set('error', rogue.error);
      return redirect(res, target.href);
    }
    q.set('code', code);
    q.set('scope', scope);
    q.set('authuser', '0');
    q.set('prompt', 'none');
    return redirect(res, target.href);
  }

  async function authorize(req, res, url) {
    if (req.method === 'POST') return signIn(req, res);
    const params = Object.fromEntries(url.searchParams);
    record(req, 'authorization', params);
    const client = clientsById.get(params.client_id);
    if (!client) return errorPage(res, 401, 'invalid_client', 'The OAuth client was not found.');
    // An unregistered redirect_uri is never redirected to, exactly as Google does.
    if (!client.redirect_uris.includes(params.redirect_uri)) {
      return errorPage(res, 400, 'redirect_uri_mismatch', `redirect_uri ${params.redirect_uri ?? '(missing)'} is not registered for this client.`);
    }
    if (params.response_type !== 'code') {
      return errorRedirect(res, params, 'unsupported_response_type', 'Only response_type=code is supported here.');
    }
    const scopes = new Set((params.scope ?? '').split(' ').filter(Boolean));
    if (scopes.size === 0) return errorRedirect(res, params, 'invalid_request', 'Missing required parameter: scope');
    const unknown = [...scopes].filter((s) => !GOOGLE_SCOPES.has(s));
    if (unknown.length) return errorRedirect(res, params, 'invalid_scope', `Some requested scopes were invalid: ${unknown.join(' ')}`);
    if (params.code_challenge !== undefined) {
      params.code_challenge_method ??= 'plain';
      if (!['plain', 'S256'].includes(params.code_challenge_method)) {
        return errorRedirect(res, params, 'invalid_request', 'Invalid code_challenge_method');
      }
    }
    const request = { ...params, scopes };
    if (isRogue) {
      const login = params.login_hint ?? accounts.keys().next().value;
      if (login === undefined) return errorPage(res, 500, 'no_account', 'The accounts table is empty.');
      return issueCode(res, request, login);
    }
    const id = random(16);
    pending.set(id, request);
    return sendHtml(res, 200, signInPage(id, request));
  }

  async function signIn(req, res) {
    const form = await readForm(req);
    const request = pending.get(form.request_id);
    if (!request) return errorPage(res, 400, 'invalid_request', 'This sign-in page has expired; start again.');
    if (form.action === 'cancel') {
      pending.delete(form.request_id);
      return errorRedirect(res, request, 'access_denied');
    }
    const login = (form.login ?? '').trim();
    if (!login) return sendHtml(res, 200, signInPage(form.request_id, request, 'Enter an email or phone number'));
    pending.delete(form.request_id);
    return issueCode(res, request, login);
  }

  async function idToken(grant, accessToken) {
    const { sub, claims } = googleProfile(grant.login, grant.scope);
    const { name, picture, given_name, family_name, email, email_verified, ...rest } = claims;
    const now = epoch();
    const o = (isRogue && rogue.id_token) || {};
    const exp = o.exp_offset !== undefined ? now + o.exp_offset : now + 3600;
    let payload = {
      iss: issuer,
      azp: grant.client_id,
      aud: grant.client_id,
      sub,
      email,
      email_verified,
      at_hash: atHash(accessToken),
      nonce: grant.nonce,
      name,
      picture,
      given_name,
      family_name,
      ...rest,
      iat: Math.min(now, exp - 3600),
      exp,
    };
    for (const member of ['iss', 'aud', 'nonce']) if (member in o) payload[member] = o[member];
    payload = applyOverrides(payload, o.claims);
    for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
    if (o.alg_none) return new jose.UnsecuredJWT(payload).encode();
    const key = o.sign_with_other_key ? forger : signing;
    return new jose.SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
      .sign(key.privateKey);
  }

  // Google's token endpoint errors: 401 for the client, 400 for everything else.
  const tokenError = (res, status, error, description) => sendJson(res, status, {
    error, error_description: description,
  }, { pragma: 'no-cache' });

  async function token(req, res) {
    if (req.method !== 'POST') return tokenError(res, 405, 'invalid_request', 'POST only');
    const body = await readForm(req);
    const method = clientAuthMethod(req.headers, body);
    record(req, 'token', body, { client_auth: method });

    let clientId;
    let secret;
    if (method === 'client_secret_basic') {
      if (body.client_secret !== undefined) {
        return tokenError(res, 400, 'invalid_request', 'Only one client authentication method may be used.');
      }
      // RFC 6749 2.3.1: the id and the secret are form-encoded before they are joined.
      const decoded = Buffer.from(req.headers.authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const unform = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
      try {
        clientId = unform(decoded.slice(0, colon));
        secret = unform(decoded.slice(colon + 1));
      } catch {
        return tokenError(res, 401, 'invalid_client', 'Unauthorized');
      }
      if (colon < 0 || (body.client_id !== undefined && body.client_id !== clientId)) {
        return tokenError(res, 401, 'invalid_client', 'Unauthorized');
      }
    } else if (method === 'client_secret_post') {
      clientId = body.client_id;
      secret = body.client_secret;
    } else {
      return tokenError(res, 401, 'invalid_client', 'Unauthorized');
    }
    const client = clientsById.get(clientId);
    if (!client || !sameSecret(secret, client.client_secret)) {
      return tokenError(res, 401, 'invalid_client', 'Unauthorized');
    }
    if (body.grant_type !== 'authorization_code') {
      return tokenError(res, 400, 'unsupported_grant_type', `Invalid grant_type: ${body.grant_type ?? ''}`);
    }

    // A code is spent by its first use, whether that succeeds or not.
    const grant = codes.get(body.code);
    codes.delete(body.code);
    if (!grant || grant.expires < epoch() || grant.client_id !== clientId) {
      return tokenError(res, 400, 'invalid_grant', 'Bad Request');
    }
    if (body.redirect_uri !== grant.redirect_uri) {
      return tokenError(res, 400, 'redirect_uri_mismatch', 'Bad Request');
    }
    if (grant.code_challenge !== undefined) {
      if (!body.code_verifier) return tokenError(res, 400, 'invalid_grant', 'Missing code verifier.');
      const expected = grant.code_challenge_method === 'S256'
        ? sha256(body.code_verifier).toString('base64url')
        : body.code_verifier;
      if (!sameSecret(expected, grant.code_challenge)) {
        return tokenError(res, 400, 'invalid_grant', 'Invalid code verifier.');
      }
    }

    const accessToken = `ya29.${random(96)}`;
    tokens.set(accessToken, {
      login: grant.login, client_id: clientId, scope: grant.scope, expires: epoch() + TOKEN_TTL,
    });
    const answer = {
      access_token: accessToken,
      expires_in: TOKEN_TTL,
      scope: grant.scope,
      token_type: 'Bearer',
    };
    if (grant.scope.split(' ').includes('openid')) answer.id_token = await idToken(grant, accessToken);
    return sendJson(res, 200, answer, { pragma: 'no-cache' });
  }

  async function userinfo(req, res) {
    const header = req.headers.authorization ?? '';
    record(req, 'userinfo', {}, { authorization: header ? 'Bearer ***' : undefined });
    const bearer = /^bearer (.+)$/i.exec(header)?.[1]?.trim();
    const grant = bearer && tokens.get(bearer);
    if (!grant || grant.expires < epoch()) {
      return sendJson(res, 401, {
        error: 'invalid_request',
        error_description: 'Invalid Credentials',
      }, { 'www-authenticate': `Bearer realm="${issuer}", error="invalid_token"` });
    }
    const { sub, claims } = googleProfile(grant.login, grant.scope);
    const { name, given_name, family_name, picture, email, email_verified, ...rest } = claims;
    let answer = { sub, name, given_name, family_name, picture, email, email_verified, ...rest };
    if (isRogue) answer = applyOverrides(answer, rogue.userinfo);
    for (const [k, v] of Object.entries(answer)) if (v === undefined) delete answer[k];
    return sendJson(res, 200, answer);
  }

  async function revoke(req, res) {
    const body = await readForm(req);
    if (!tokens.delete(body.token)) return tokenError(res, 400, 'invalid_token', 'Token expired or revoked');
    return sendJson(res, 200, {});
  }

  return async (req, res) => {
    const url = new URL(req.url, issuer);
    switch (url.pathname) {
      case '/.well-known/openid-configuration':
        return sendJson(res, 200, discovery, { 'cache-control': 'public, max-age=3600' });
      case '/oauth2/v3/certs':
        return sendJson(res, 200, { keys: published.map((k) => k.publicJwk) });
      case '/o/oauth2/v2/auth':
        return authorize(req, res, url);
      case '/token':
        return token(req, res);
      case '/v1/userinfo':
        return userinfo(req, res);
      case '/revoke':
        return revoke(req, res);
      case '/device/code':
        return tokenError(res, 400, 'invalid_request', 'The device flow is not part of this test IdP.');
      default:
        return sendJson(res, 404, { error: 'not_found' });
    }
  };
}

// ---- modes facebook, amazon and apple: Cognito's social providers ---------------------------

// The longest lifetime Apple accepts for a client secret JWT: six months, in seconds.
const APPLE_SECRET_MAX_LIFETIME = 15777000;
const APPLE_AUDIENCE = 'https://appleid.apple.com';
const FACEBOOK_TOKEN_TTL = 5183944;
const AMAZON_SCOPES = new Set(['profile', 'profile:user_id', 'postal_code']);

// Stable identifiers derived from the login, unless the account names its own.
function hashOf(kind, login) {
  return sha256(`tessera-e2e-${kind}:${login}`);
}

function facebookId(login) {
  const own = accounts.get(login)?.id;
  if (typeof own === 'string' && own) return own;
  const n = BigInt(`0x${hashOf('facebook', login).subarray(0, 12).toString('hex')}`);
  return `1${(n % 10n ** 15n).toString().padStart(15, '0')}`;
}

function amazonUserId(login) {
  const own = accounts.get(login)?.user_id;
  if (typeof own === 'string' && own) return own;
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = hashOf('amazon', login);
  let id = '';
  for (let i = 0; i < 28; i += 1) id += alphabet[bytes[i] % 32];
  return `amzn1.account.${id}`;
}

function appleSub(login) {
  const own = accounts.get(login)?.sub;
  if (typeof own === 'string' && own) return own;
  const h = hashOf('apple', login);
  const six = (h.readUInt32BE(0) % 1_000_000).toString().padStart(6, '0');
  const four = (h.readUInt16BE(4) % 10_000).toString().padStart(4, '0');
  return `${six}.${h.subarray(8, 24).toString('hex')}.${four}`;
}

const givenName = (a) => a.given_name ?? a.first_name;
const familyName = (a) => a.family_name ?? a.last_name;
const fullName = (a) => a.name ?? ([givenName(a), familyName(a)].filter(Boolean).join(' ') || undefined);
const dropUndefined = (o) => {
  for (const [k, v] of Object.entries(o)) if (v === undefined) delete o[k];
  return o;
};

// Apple's configuration: the key that signs the RP's client secret JWTs. The public key that
// verifies them is derived from the private key.
function appleKeys() {
  const a = cfg.apple;
  if (!a || typeof a !== 'object') fail('mode apple needs apple: { team_id, key_id, private_key_pem }');
  for (const member of ['team_id', 'key_id', 'private_key_pem']) {
    if (typeof a[member] !== 'string' || !a[member]) fail(`apple.${member} must be a non-empty string`);
  }
  let publicKey;
  try {
    publicKey = createPublicKey(createPrivateKey(a.private_key_pem));
  } catch (err) {
    fail(`apple.private_key_pem is not a PKCS#8 PEM private key: ${err.message}`);
  }
  if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    fail('apple.private_key_pem must be a P-256 (ES256) key');
  }
  return { ...a, publicKey };
}

async function socialApp(issuer) {
  const mode = cfg.mode;
  const apple = mode === 'apple' ? appleKeys() : undefined;
  const signing = mode === 'apple' ? await newRsaKey(`apple-${random(6)}`) : undefined;

  const site = {
    facebook: { authorize: '/v17.0/dialog/oauth', title: 'Log in to Facebook', label: 'Email or phone number' },
    amazon: { authorize: '/ap/oa', title: 'Amazon Sign-In', label: 'Email or mobile phone number' },
    apple: { authorize: '/auth/authorize', title: 'Sign in with Apple ID', label: 'Email or Phone Number' },
  }[mode];

  const pending = new Map(); // sign-in page id -> authorization request
  const codes = new Map(); // code -> what it grants
  const tokens = new Map(); // access token -> what it grants
  const appleSeen = new Set(); // client_id + login that signed in once (Apple's user field)

  function page(title, body, head = '') {
    return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>${head}
<style>body{font-family:sans-serif;max-width:24em;margin:3em auto}input,button{font-size:1em;margin:.3em 0}</style>
</head><body>${body}</body></html>`;
  }

  function errorPage(res, status, error, description) {
    sendHtml(res, status, page('Error', `<h1>Error ${status}: ${esc(error)}</h1><p>${esc(description)}</p>`));
  }

  function signInPage(id, request, message) {
    return page(site.title, `<h1>Sign in</h1>
<p>to continue to ${esc(request.client_id)}</p>
${message ? `<p role="alert">${esc(message)}</p>` : ''}
<form method="post" action="${site.authorize}">
<input type="hidden" name="request_id" value="${esc(id)}">
<label>${esc(site.label)} <input type="text" name="login" required autofocus></label>
<button type="submit" name="action" value="sign_in">Sign in</button>
<button type="submit" name="action" value="cancel" formnovalidate>Cancel</button>
</form>`);
  }

  // Apple's response_mode=form_post: a page whose form posts the answer to the RP. JavaScript
  // submits it at once; without JavaScript the "Continue" button does.
  function formPostPage(res, target, fields) {
    const inputs = Object.entries(fields)
      .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('\n');
    sendHtml(res, 200, page('Sign in with Apple', `<form method="post" action="${esc(target)}">
${inputs}
<button type="submit">Continue</button>
</form>
<script>document.forms[0].submit()</script>`));
  }

  // Sends the browser back to the RP with the given parameters, as each provider does.
  function answer(res, request, params) {
    if (mode === 'apple' && request.response_mode !== 'query') {
      return formPostPage(res, request.redirect_uri, params);
    }
    const target = new URL(request.redirect_uri);
    for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
    return redirect(res, target.href);
  }

  function errorAnswer(res, request, error, description) {
    const params = { error };
    if (description) params.error_description = description;
    if (request.state !== undefined) params.state = request.state;
    return answer(res, request, params);
  }

  function cancelled(res, request) {
    if (mode === 'facebook') {
      return answer(res, request, dropUndefined({
        error: 'access_denied', error_code: '200', error_description: 'Permissions error',
        error_reason: 'user_denied', state: request.state,
      }));
    }
    if (mode === 'apple') return errorAnswer(res, request, 'user_cancelled_authorize');
    return errorAnswer(res, request, 'access_denied', 'The user denied the request.');
  }

  function scopesOf(scope) {
    return new Set((scope ?? '').split(mode === 'facebook' ? /[\s,]+/ : /\s+/).filter(Boolean));
  }

  function authorize(req, res, url) {
    if (req.method === 'POST') return signIn(req, res);
    const params = Object.fromEntries(url.searchParams);
    record(req, 'authorization', params);
    const client = clientsById.get(params.client_id);
    if (!client) return errorPage(res, 400, 'invalid_client', 'The client_id is not registered.');
    // An unregistered redirect_uri is never redirected to.
    if (!client.redirect_uris.includes(params.redirect_uri)) {
      return errorPage(res, 400, 'invalid_request', `redirect_uri ${params.redirect_uri ?? '(missing)'} is not registered for this client.`);
    }
    if (mode === 'apple') {
      params.response_mode ??= 'query';
      if (!['query', 'form_post'].includes(params.response_mode)) {
        return errorPage(res, 400, 'invalid_request', 'response_mode must be query or form_post.');
      }
    }
    if ((params.response_type ?? (mode === 'facebook' ? 'code' : undefined)) !== 'code') {
      return errorAnswer(res, params, 'unsupported_response_type', 'Only response_type=code is supported here.');
    }
    const scopes = scopesOf(params.scope);
    if (mode === 'amazon') {
      if (scopes.size === 0) return errorAnswer(res, params, 'invalid_scope', 'scope is required.');
      const unknown = [...scopes].filter((s) => !AMAZON_SCOPES.has(s));
      if (unknown.length) return errorAnswer(res, params, 'invalid_scope', `Unknown scope: ${unknown.join(' ')}`);
    }
    if (mode === 'apple') {
      const unknown = [...scopes].filter((s) => !['name', 'email', 'openid'].includes(s));
      if (unknown.length) return errorAnswer(res, params, 'invalid_scope', `Unknown scope: ${unknown.join(' ')}`);
      if ((scopes.has('name') || scopes.has('email')) && params.response_mode !== 'form_post') {
        return errorPage(res, 400, 'invalid_request', 'response_mode must be form_post when name or email scope is requested.');
      }
    }
    if (params.code_challenge !== undefined) {
      params.code_challenge_method ??= 'plain';
      if (!['plain', 'S256'].includes(params.code_challenge_method)) {
        return errorAnswer(res, params, 'invalid_request', 'Invalid code_challenge_method');
      }
    }
    const id = random(16);
    pending.set(id, { ...params, scopes });
    return sendHtml(res, 200, signInPage(id, params));
  }

  async function signIn(req, res) {
    const form = await readForm(req);
    const request = pending.get(form.request_id);
    if (!request) return errorPage(res, 400, 'invalid_request', 'This sign-in page has expired; start again.');
    if (form.action === 'cancel') {
      pending.delete(form.request_id);
      return cancelled(res, request);
    }
    const login = (form.login ?? '').trim();
    if (!login) return sendHtml(res, 200, signInPage(form.request_id, request, 'Enter your sign-in name'));
    pending.delete(form.request_id);

    const code = mode === 'amazon' ? `AN${random(24)}` : mode === 'apple' ? `c${random(32)}.0.n.${random(16)}` : `AQ${random(96)}`;
    codes.set(code, {
      client_id: request.client_id,
      redirect_uri: request.redirect_uri,
      login,
      scopes: request.scopes,
      scope: request.scope ?? '',
      nonce: request.nonce,
      code_challenge: request.code_challenge,
      code_challenge_method: request.code_challenge_method,
      auth_time: epoch(),
      expires: epoch() + CODE_TTL,
    });
    if (mode === 'amazon') {
      return answer(res, request, dropUndefined({ code, scope: request.scope, state: request.state }));
    }
    if (mode === 'facebook') return answer(res, request, dropUndefined({ code, state: request.state }));
    // Apple: state, code, and on the first sign-in of this login to this client only, the user.
    const fields = dropUndefined({ state: request.state, code });
    const seenKey = `${request.client_id}\n${login}`;
    const wantsUser = request.scopes.has('name') || request.scopes.has('email');
    if (wantsUser && !appleSeen.has(seenKey)) {
      const account = accounts.get(login) ?? {};
      const user = {};
      if (request.scopes.has('name')) {
        user.name = dropUndefined({ firstName: givenName(account), lastName: familyName(account) });
      }
      if (request.scopes.has('email') && account.email !== undefined) user.email = account.email;
      fields.user = JSON.stringify(user);
    }
    appleSeen.add(seenKey);
    return answer(res, request, fields);
  }

  // The code checks every provider makes: known, unexpired, same client and redirect_uri,
  // and the PKCE verifier when a challenge was sent. Returns the grant or an error code.
  function redeem(params, clientId) {
    const grant = codes.get(params.code);
    codes.delete(params.code); // a code is spent by its first use
    if (!grant || grant.expires < epoch() || grant.client_id !== clientId) return { error: 'invalid_grant', description: 'The authorization code is invalid or expired.' };
    if (params.redirect_uri !== grant.redirect_uri) return { error: 'invalid_grant', description: 'redirect_uri does not match.' };
    if (grant.code_challenge !== undefined) {
      if (!params.code_verifier) return { error: 'invalid_grant', description: 'Missing code_verifier.' };
      const expected = grant.code_challenge_method === 'S256'
        ? sha256(params.code_verifier).toString('base64url')
        : params.code_verifier;
      if (!sameSecret(expected, grant.code_challenge)) return { error: 'invalid_grant', description: 'Invalid code_verifier.' };
    }
    return { grant };
  }

  function bearerGrant(req, url) {
    const header = req.headers.authorization ?? '';
    const token = /^bearer (.+)$/i.exec(header)?.[1]?.trim() ?? url.searchParams.get('access_token');
    const grant = token && tokens.get(token);
    return grant && grant.expires >= epoch() ? grant : undefined;
  }

  function recordUserinfo(req, url) {
    const params = Object.fromEntries(url.searchParams);
    if ('access_token' in params) params.access_token = '***';
    record(req, 'userinfo', params, { authorization: req.headers.authorization ? 'Bearer ***' : undefined });
  }

  // ---- facebook ----

  const fbError = (res, message, code = 100, status = 400) => sendJson(res, status, {
    error: { message, type: 'OAuthException', code, fbtrace_id: random(8) },
  });

  async function facebookToken(req, res, url) {
    const params = req.method === 'POST' ? await readForm(req) : Object.fromEntries(url.searchParams);
    const auth = req.method === 'GET' ? 'client_secret_query' : clientAuthMethod(req.headers, params);
    const client = clientsById.get(params.client_id);
    const ok = client && sameSecret(params.client_secret, client.client_secret);
    record(req, 'token', params, { client_auth: auth });
    if (!client) return fbError(res, 'Error validating application. Invalid application ID.', 101);
    if (!ok) return fbError(res, 'Error validating client secret.', 1);
    if (params.grant_type !== undefined && params.grant_type !== 'authorization_code') {
      return fbError(res, `Unsupported grant_type: ${params.grant_type}`);
    }
    if (!params.redirect_uri) return fbError(res, 'Missing redirect_uri parameter.');
    const { grant, error, description } = redeem(params, client.client_id);
    if (error) {
      const message = /redirect_uri/.test(description)
        ? 'Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request'
        : /code_verifier/.test(description) ? `Invalid code verifier: ${description}` : 'Invalid verification code format.';
      return fbError(res, message);
    }
    const accessToken = `EAA${random(120)}`;
    tokens.set(accessToken, { ...grant, expires: epoch() + FACEBOOK_TOKEN_TTL });
    return sendJson(res, 200, { access_token: accessToken, token_type: 'bearer', expires_in: FACEBOOK_TOKEN_TTL });
  }

  function facebookMe(req, res, url) {
    recordUserinfo(req, url);
    const grant = bearerGrant(req, url);
    if (!grant) return fbError(res, 'Invalid OAuth access token - Cannot parse access token', 190, 400);
    const account = accounts.get(grant.login) ?? {};
    const fields = (url.searchParams.get('fields') ?? 'id,name').split(',').map((f) => f.trim()).filter(Boolean);
    const available = {
      name: fullName(account),
      first_name: givenName(account),
      last_name: familyName(account),
      // Only with the email permission, as Facebook does.
      email: grant.scopes.has('email') ? account.email : undefined,
    };
    const out = { id: facebookId(grant.login) };
    for (const f of fields) {
      if (f !== 'id' && available[f] !== undefined) out[f] = available[f];
    }
    return sendJson(res, 200, out);
  }

  // ---- amazon ----

  const oauthError = (res, error, description, status = 400) => sendJson(res, status, dropUndefined({
    error, error_description: description,
  }));

  async function amazonToken(req, res) {
    if (req.method !== 'POST') return oauthError(res, 'invalid_request', 'POST only');
    const body = await readForm(req);
    const method = clientAuthMethod(req.headers, body);
    record(req, 'token', body, { client_auth: method });
    const client = clientsById.get(body.client_id);
    if (method !== 'client_secret_post' || !client || !sameSecret(body.client_secret, client.client_secret)) {
      return oauthError(res, 'invalid_client', 'Client authentication failed');
    }
    if (body.grant_type !== 'authorization_code') {
      return oauthError(res, 'unsupported_grant_type', `Unsupported grant_type: ${body.grant_type ?? ''}`);
    }
    const { grant, error, description } = redeem(body, client.client_id);
    if (error) return oauthError(res, error, description);
    const accessToken = `Atza|${random(96)}`;
    tokens.set(accessToken, { ...grant, expires: epoch() + 3600 });
    return sendJson(res, 200, {
      access_token: accessToken,
      refresh_token: `Atzr|${random(96)}`,
      token_type: 'bearer',
      expires_in: 3600,
    });
  }

  function amazonProfile(req, res, url) {
    recordUserinfo(req, url);
    const grant = bearerGrant(req, url);
    if (!grant) return oauthError(res, 'invalid_token', 'The request has an invalid parameter : access_token', 401);
    const account = accounts.get(grant.login) ?? {};
    const out = { user_id: amazonUserId(grant.login) };
    if (grant.scopes.has('profile')) Object.assign(out, { name: fullName(account), email: account.email });
    if (grant.scopes.has('postal_code')) out.postal_code = account.postal_code;
    return sendJson(res, 200, dropUndefined(out));
  }

  // ---- apple ----

  const appleError = (res, error) => sendJson(res, 400, { error });

  // The RP's client secret: an ES256 JWT signed with the configured key. Returns an error
  // message, or undefined when it is good.
  async function checkAppleSecret(secret, clientId) {
    if (typeof secret !== 'string' || !secret) return 'no client_secret';
    try {
      const { payload, protectedHeader } = await jose.jwtVerify(secret, apple.publicKey, {
        algorithms: ['ES256'],
        issuer: apple.team_id,
        subject: clientId,
        audience: APPLE_AUDIENCE,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
      });
      if (protectedHeader.kid !== apple.key_id) return `kid ${protectedHeader.kid} is not ${apple.key_id}`;
      if (payload.exp - epoch() > APPLE_SECRET_MAX_LIFETIME) return 'exp is more than 6 months away';
      return undefined;
    } catch (err) {
      return err.message;
    }
  }

  async function appleIdToken(grant, code) {
    const account = accounts.get(grant.login) ?? {};
    const now = epoch();
    const payload = dropUndefined({
      iss: issuer,
      aud: grant.client_id,
      exp: now + 86400,
      iat: now,
      sub: appleSub(grant.login),
      nonce: grant.nonce,
      c_hash: code ? sha256(code).subarray(0, 16).toString('base64url') : undefined,
      email: account.email,
      email_verified: account.email === undefined ? undefined : String(account.email_verified ?? true),
      is_private_email: account.email === undefined ? undefined : String(account.is_private_email ?? false),
      auth_time: grant.auth_time,
      nonce_supported: true,
    });
    return new jose.SignJWT(payload)
      .setProtectedHeader({ kid: signing.kid, alg: 'RS256' })
      .sign(signing.privateKey);
  }

  async function appleToken(req, res) {
    if (req.method !== 'POST') return appleError(res, 'invalid_request');
    const body = await readForm(req);
    const method = clientAuthMethod(req.headers, body);
    const client = clientsById.get(body.client_id);
    const secretError = client ? await checkAppleSecret(body.client_secret, body.client_id) : 'unknown client_id';
    record(req, 'token', body, {
      client_auth: method,
      client_secret_jwt_valid: secretError === undefined,
      ...(secretError ? { client_secret_jwt_error: secretError } : {}),
    });
    if (method !== 'client_secret_post' || secretError) return appleError(res, 'invalid_client');
    if (body.grant_type === 'refresh_token') {
      const grant = tokens.get(`refresh:${body.refresh_token}`);
      if (!grant || grant.client_id !== body.client_id) return appleError(res, 'invalid_grant');
      const accessToken = `a${random(48)}`;
      tokens.set(accessToken, { ...grant, expires: epoch() + 3600 });
      return sendJson(res, 200, {
        access_token: accessToken, token_type: 'Bearer', expires_in: 3600,
        id_token: await appleIdToken({ ...grant, nonce: undefined }),
      });
    }
    if (body.grant_type !== 'authorization_code') return appleError(res, 'unsupported_grant_type');
    const { grant, error } = redeem(body, body.client_id);
    if (error) return appleError(res, error);
    const accessToken = `a${random(48)}`;
    const refreshToken = `r${random(48)}`;
    tokens.set(accessToken, { ...grant, expires: epoch() + 3600 });
    tokens.set(`refresh:${refreshToken}`, { ...grant, expires: Infinity });
    return sendJson(res, 200, {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: 3600,
      refresh_token: refreshToken,
      id_token: await appleIdToken(grant, body.code),
    });
  }

  return async (req, res) => {
    const url = new URL(req.url, issuer);
    const p = url.pathname;
    if (p === site.authorize) return authorize(req, res, url);
    if (mode === 'facebook') {
      if (p === '/v17.0/oauth/access_token') return facebookToken(req, res, url);
      if (p === '/v17.0/me') return facebookMe(req, res, url);
      return fbError(res, `Unknown path components: ${p}`, 2500, 404);
    }
    if (mode === 'amazon') {
      if (p === '/auth/o2/token') return amazonToken(req, res);
      if (p === '/user/profile') return amazonProfile(req, res, url);
    }
    if (mode === 'apple') {
      if (p === '/auth/token') return appleToken(req, res);
      if (p === '/auth/keys') return sendJson(res, 200, { keys: [signing.publicJwk] });
    }
    return sendJson(res, 404, { error: 'not_found' });
  };
}

// ---- start ----------------------------------------------------------------------------------

const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(cfg.port, '127.0.0.1', resolve);
}).catch((err) => fail(`cannot listen on 127.0.0.1:${cfg.port}: ${err.message}`));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;
cfg.issuer = issuer;
let app;
if (cfg.mode === 'oidc') app = await oidcProviderApp(issuer, port);
else if (SOCIAL_MODES.has(cfg.mode)) app = await socialApp(issuer);
else app = await googleApp(issuer);

server.on('request', async (req, res) => {
  const path = new URL(req.url, issuer).pathname;
  try {
    if (path.startsWith('/test/')) return await testRoutes(req, res, path);
    return await app(req, res);
  } catch (err) {
    console.error(`upstream-oidc: ${req.method} ${req.url}:`, err);
    if (!res.headersSent) sendJson(res, err.status ?? 500, { error: 'server_error', error_description: err.message });
    else res.destroy();
  }
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}

console.error(`upstream-oidc: mode ${cfg.mode}, ${cfg.clients.length} client(s), issuer ${issuer}`);
process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
