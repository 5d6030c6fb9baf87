// A person signing in to an app through an upstream identity provider (issue 15), for the
// Python federation tests: openid-client (npm) is the app, which builds the authorization
// request to tessera (PKCE S256, state, nonce); headless Chromium (Debian's package, driven
// by playwright-core, JavaScript disabled) follows it to tessera's sign-in page, clicks the
// provider's button (or goes straight there with identity_provider / idp_identifier), signs
// in at the upstream (js/upstream-oidc.mjs: oidc-provider's login and consent pages, or the
// Google stand-in's page) and comes back through tessera's /oauth2/idpresponse to the app's
// callback; the app then redeems the code, validates the ID token and calls userInfo.
//
// Input, the JSON document in TESSERA_E2E_FEDERATE:
//   { issuer, clientId, clientSecret, callback, scope,
//     provider, via: "button" | "param" | "identifier" | "email", identifier?, email?,
//     upstream: "oidc" | "google" | "facebook" | "amazon" | "apple" | "saml", login, screenshot?,
//     start?,    a URL to open instead of the app's authorization request: an IdP-initiated
//                sign-in (js/upstream-saml.mjs /idp-initiated), which the app then redeems
//                without a state, nonce or PKCE of its own
//     logout? }  { url, target }: after signing in, the same browser opens tessera's /logout
//                url and follows it (through the IdP's single logout, pressing its button)
//                until it reaches target
// Output, one JSON line on stdout:
//   { callback, claims?, userinfo?, tokens?, loggedOut? }
//   (claims and tokens when the callback has a code; loggedOut is the URL logout reached)
// The callback's host is never fetched: its name is made unresolvable and the browser's
// navigation to it recorded (as js/browser-sign-up.mjs does).
import { execFileSync } from 'node:child_process';
import * as client from 'openid-client';
import { chromium } from 'playwright-core';

const input = JSON.parse(process.env.TESSERA_E2E_FEDERATE || 'null');
if (!input) throw new Error('TESSERA_E2E_FEDERATE is not set');
const callbackOrigin = new URL(input.callback).origin;

const config = await client.discovery(new URL(input.issuer), input.clientId, input.clientSecret, undefined, {
  execute: [client.allowInsecureRequests],
});
const verifier = client.randomPKCECodeVerifier();
const state = client.randomState();
const nonce = client.randomNonce();
const parameters = {
  redirect_uri: input.callback,
  scope: input.scope ?? 'openid email profile',
  code_challenge: await client.calculatePKCECodeChallenge(verifier),
  code_challenge_method: 'S256',
  state,
  nonce,
};
if (input.via === 'param') parameters.identity_provider = input.provider;
if (input.via === 'identifier') parameters.idp_identifier = input.identifier;
const authorizationUrl = client.buildAuthorizationUrl(config, parameters);

const executablePath = execFileSync('sh', ['-c', 'command -v chromium || true']).toString().trim();
if (!executablePath) throw new Error('chromium is not installed (apt-get install -y chromium)');
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    `--host-resolver-rules=MAP ${new URL(input.callback).hostname} ~NOTFOUND`,
  ],
});

let callback = null;
let loggedOut = null;
try {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  page.on('request', (r) => {
    if (!callback && r.isNavigationRequest() && r.url().startsWith(callbackOrigin)) callback = r.url();
  });
  await page.goto(input.start ?? authorizationUrl.href).catch((error) => console.error(`opening the first page: ${error}`));
  if (input.via === 'email' && !callback) {
    // The corporate e-mail form: tessera routes by the address's domain.
    await page.locator('input[name="email"]').fill(input.email);
    await page.locator('button:has-text("Sign in with your corporate ID")').click();
    await page.waitForLoadState('load').catch(() => {});
  }
  if (input.via === 'button' && !input.start && !callback) {
    console.error(`at ${page.url()}`);
    await page.locator(`a:has-text("Continue with ${input.provider}")`).click();
    await page.waitForLoadState('load').catch(() => {});
  }
  if (!callback && input.start) {
    // The IdP's page that posts the unsolicited response (JavaScript is off: press its button).
    await page.locator('button:has-text("Continue")').click().catch(() => {});
  } else if (!callback) {
    // At the upstream provider's sign-in page.
    await page.locator('input[name="login"]').fill(input.login);
    if (input.upstream === 'oidc') {
      await page.locator('input[name="password"]').fill('any password');
      await page.locator('button:has-text("Sign-in")').click();
      await page.waitForLoadState('load').catch(() => {});
      const consent = page.locator('button:has-text("Continue")');
      if (!callback && (await consent.count())) {
        await consent.click().catch(() => {});
      }
    } else if (input.upstream === 'saml') {
      await page.locator('button:has-text("Sign in")').click();
      await page.waitForLoadState('load').catch(() => {});
      // The page that posts the response to tessera.
      if (!callback) await page.locator('button:has-text("Continue")').click().catch(() => {});
    } else if (input.upstream === 'apple') {
      // Apple answers by form POST (response_mode=form_post): its page's button posts the
      // code to tessera.
      await page.locator('button:has-text("Sign in")').click();
      await page.waitForLoadState('load').catch(() => {});
      if (!callback) await page.locator('button:has-text("Continue")').click().catch(() => {});
    } else {
      // Google, Facebook and Amazon stand-ins: one sign-in form.
      await page.locator('button:has-text("Sign in")').click().catch(() => {});
    }
  }
  const deadline = Date.now() + 15_000;
  while (!callback && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (input.screenshot) await page.screenshot({ path: input.screenshot }).catch(() => {});
  if (!callback) {
    const text = await page.locator('body').innerText().catch(() => '');
    throw new Error(`the browser never reached the callback; it is at ${page.url()}:\n${text.slice(0, 2000)}`);
  }
  if (input.logout) {
    let reached = null;
    page.on('request', (r) => {
      if (!reached && r.isNavigationRequest() && r.url().startsWith(input.logout.target)) reached = r.url();
    });
    await page.goto(input.logout.url).catch(() => {});
    await page.waitForLoadState('load').catch(() => {});
    if (!reached) await page.locator('button:has-text("Continue")').click().catch(() => {});
    const until = Date.now() + 15_000;
    while (!reached && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    if (!reached) {
      const text = await page.locator('body').innerText().catch(() => '');
      throw new Error(`sign-out never reached ${input.logout.target}; it is at ${page.url()}:\n${text.slice(0, 2000)}`);
    }
    loggedOut = reached;
  }
} finally {
  await browser.close();
}

const output = { callback, loggedOut };
if (new URL(callback).searchParams.get('code')) {
  // An IdP-initiated sign-in carries no state, nonce or PKCE of the app's.
  const checks = input.start
    ? { expectedState: client.skipStateCheck, idTokenExpected: true }
    : { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true };
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), checks);
  output.claims = tokens.claims();
  output.userinfo = await client.fetchUserInfo(config, tokens.access_token, output.claims.sub);
  output.tokens = { id_token: tokens.id_token, access_token: tokens.access_token, refresh_token: tokens.refresh_token };
}
console.log(JSON.stringify(output));
