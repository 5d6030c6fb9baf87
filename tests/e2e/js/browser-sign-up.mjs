// A person at the hosted pages, for Python clients: headless Chromium (Debian's package,
// driven by playwright-core, JavaScript disabled) opens an authorization URL that the client
// built (Authlib in tests/e2e/test_oauth_code_flow_browser.py), follows the sign-up link,
// signs up, confirms with the code from the development outbox, signs in, and prints the
// callback URL the browser was sent to, as JSON on stdout. The client then redeems the code.
//
// Input, the JSON document in TESSERA_E2E_BROWSE:
//   { url, username, email, password, outbox, poolId, callbackOrigin, screenshot? }
// callbackOrigin is never fetched: the browser's request to it is recorded and its name made
// unresolvable (Playwright cannot route the hop of a redirect, microsoft/playwright#2617).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const input = JSON.parse(process.env.TESSERA_E2E_BROWSE || 'null');
if (!input) throw new Error('TESSERA_E2E_BROWSE is not set');
const callbackHost = new URL(input.callbackOrigin).hostname;

const executablePath = execFileSync('sh', ['-c', 'command -v chromium || true']).toString().trim();
if (!executablePath) throw new Error('chromium is not installed (apt-get install -y chromium)');
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    `--host-resolver-rules=MAP ${callbackHost} ~NOTFOUND`,
  ],
});

function codeFromOutbox() {
  let text = '';
  try {
    text = readFileSync(input.outbox, 'utf8');
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
  const messages = text.split('\n').filter((l) => l.trim()).flatMap((line) => {
    try {
      return [JSON.parse(line)];
    } catch {
      return []; // a line being written right now
    }
  }).filter((m) => m.pool_id === input.poolId && m.username === input.username);
  const match = /\b\d{6}\b/.exec(messages.at(-1)?.body ?? '');
  return match?.[0];
}

async function waitForCode() {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const code = codeFromOutbox();
    if (code) return code;
    if (Date.now() > deadline) throw new Error(`no code in ${input.outbox} for ${input.username}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Submits a form and waits for the next page; returns the request to the callback, if any. */
async function submit(page, formName) {
  let callback = null;
  const onRequest = (r) => {
    if (!callback && r.isNavigationRequest() && r.url().startsWith(input.callbackOrigin)) callback = r.url();
  };
  page.on('request', onRequest);
  try {
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().isNavigationRequest() && r.request().method() === 'POST'),
      page.locator(`form[name="${formName}"] button[type=submit]`).first().click(),
    ]);
    await page.waitForLoadState('load').catch(() => {});
    if (response.status() !== 303) {
      const box = page.locator('.errorMessage-customizable[role=alert]');
      const text = (await box.count()) ? await box.first().innerText() : '';
      throw new Error(`${formName} answered ${response.status()}: ${text}`);
    }
    return callback;
  } finally {
    page.off('request', onRequest);
  }
}

try {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(input.url);
  if (!new URL(page.url()).pathname.endsWith('/login')) throw new Error(`not the sign-in page: ${page.url()}`);
  await Promise.all([page.waitForEvent('load'), page.locator('a[href*="/signup"]').first().click()]);
  await page.fill('form[name=signUpForm] input[name=username]', input.username);
  await page.fill('form[name=signUpForm] input[name=email]', input.email);
  await page.fill('form[name=signUpForm] input[name=password]', input.password);
  await submit(page, 'signUpForm');
  await page.fill('form[name=confirmForm] input[name=code]', await waitForCode());
  await submit(page, 'confirmForm');
  await page.fill('#signInFormUsername', input.username);
  await page.fill('#signInFormPassword', input.password);
  if (input.screenshot) await page.screenshot({ path: input.screenshot, fullPage: true });
  const callback = await submit(page, 'cognitoSignInForm');
  if (!callback) throw new Error(`the browser was not sent to ${input.callbackOrigin}; it is at ${page.url()}`);
  process.stdout.write(JSON.stringify({ callback }) + '\n');
} finally {
  await browser.close();
}
