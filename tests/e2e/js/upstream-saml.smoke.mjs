// Checks upstream-saml.mjs, the test SAML IdP of tessera's federation end-to-end tests, against
// an independent SAML service provider: samlify's ServiceProvider plays tessera's part, so a
// harness bug shows up here rather than as a confusing tessera failure. Run it by hand after
// changing the harness: `node --test upstream-saml.smoke.mjs` (not matched by `node --test`'s
// default patterns, so the e2e suite does not run it).
//
// Two harnesses are started the way the Python tests start them (a child process, the config in
// TESSERA_E2E_SAML, the first stdout line as the contract):
//   A: unsigned AuthnRequests, an encryption certificate, default signing (response and assertion);
//   B: the SP's signing certificate configured, so AuthnRequests and LogoutRequests must be signed.
// samlify verifies signatures, schema, status, issuer and the time window, but not the Audience,
// the Destination or InResponseTo, so spAccepts() adds those checks the way an SP must.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import samlify from 'samlify';
import xmlCrypto from 'xml-crypto';
import { BINDING, NS, VARIANTS, makeKeyAndCert, parseXml, schemaValidator } from './upstream-saml.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SP = {
  entity_id: 'urn:amazon:cognito:sp:us-east-1_Smoke1234',
  acs: 'http://127.0.0.1:9/us-east-1_Smoke1234/saml2/idpresponse',
  slo: 'http://127.0.0.1:9/us-east-1_Smoke1234/saml2/logout',
};
const USERS = {
  alice: { email: 'alice@example.com', given_name: 'Alice', groups: ['a', 'b'] },
  bob: { email: 'bob@example.com', given_name: 'Bob', groups: [] },
};
const spSigning = makeKeyAndCert('smoke-sp-signing');
const spEncryption = makeKeyAndCert('smoke-sp-encryption');
// The harness's worker-thread wrapper of @authenio/samlify-node-xmllint, which keeps xmllint's
// stdout chatter out of the TAP output.
samlify.setSchemaValidator(schemaValidator());

// --- harness processes ------------------------------------------------------------------------

async function startHarness(config) {
  const child = spawn(process.execPath, ['upstream-saml.mjs'], {
    cwd: HERE,
    env: { ...process.env, TESSERA_E2E_SAML: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const line = await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (stdout.includes('\n')) resolve(stdout.slice(0, stdout.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`harness exited with ${code}: ${stderr}`)));
  });
  const info = JSON.parse(line);
  assert.deepEqual(Object.keys(info).sort(), ['base', 'entity_id', 'metadata_url', 'port']);
  assert.equal(info.base, `http://127.0.0.1:${info.port}`);
  return { info, child, stdout: () => stdout, stderr: () => stderr };
}

async function stopHarness(h) {
  if (!h || h.child.exitCode !== null) return;
  const exited = new Promise((resolve) => h.child.once('exit', resolve));
  h.child.kill('SIGTERM');
  await exited;
}

// --- small helpers ----------------------------------------------------------------------------

const unescapeHtml = (s) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<')
  .replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The single form of a harness page: action, hidden fields, submit button labels, inputs. */
function parseForm(html) {
  const form = html.match(/<form method="post" action="([^"]*)">/);
  assert.ok(form, `no form in ${html}`);
  const fields = {};
  for (const m of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)) fields[unescapeHtml(m[1])] = unescapeHtml(m[2]);
  return {
    action: unescapeHtml(form[1]),
    fields,
    buttons: [...html.matchAll(/<button type="submit">([^<]*)<\/button>/g)].map((m) => m[1]),
    inputs: [...html.matchAll(/<input [^>]*name="([^"]*)"/g)].map((m) => m[1]),
    autoSubmit: html.includes('<script>document.forms[0].submit();</script>'),
  };
}

async function getText(url) {
  const res = await fetch(url, { redirect: 'manual' });
  return { status: res.status, text: await res.text() };
}

async function postForm(url, fields) {
  const res = await fetch(url, { method: 'POST', body: new URLSearchParams(fields), redirect: 'manual' });
  return { status: res.status, text: await res.text() };
}

async function postJson(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

const decode = (b64) => Buffer.from(b64, 'base64').toString('utf8');

/** samlify's SP parse plus the checks it leaves to the application. */
async function spAccepts(sp, idp, samlResponse, { inResponseTo } = {}) {
  const { extract } = await sp.parseLoginResponse(idp, 'post', { body: { SAMLResponse: samlResponse } });
  if (extract.audience !== SP.entity_id) throw new Error(`Audience ${extract.audience}`);
  if (extract.response.destination !== SP.acs) throw new Error(`Destination ${extract.response.destination}`);
  if (inResponseTo !== undefined && (extract.response.inResponseTo ?? null) !== inResponseTo) {
    throw new Error(`InResponseTo ${extract.response.inResponseTo}`);
  }
  return extract;
}

/** Every ds:Signature in `xml`, each checked against `certPem`, with what it signs. */
function checkSignatures(xml, certPem) {
  const doc = parseXml(xml);
  return Array.from(doc.getElementsByTagNameNS(NS.ds, 'Signature')).map((node) => {
    const sig = new xmlCrypto.SignedXml({ publicCert: certPem });
    sig.loadSignature(node);
    let valid;
    try {
      valid = sig.checkSignature(xml);
    } catch (err) {
      valid = false;
    }
    return { valid, signed: valid ? sig.getSignedReferences() : [] };
  });
}

function certPemFromMetadata(metadata) {
  const b64 = metadata.match(/<ds:X509Certificate>([^<]+)<\/ds:X509Certificate>/)[1];
  return `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`;
}

// --- the two harnesses, and samlify's SP-side view of them ----------------------------------------

let A;
let metadataA;
let spA;
let idpA;
let idpAEncrypted;
let B;
let metadataB;
let spB;
let idpB;

before(async () => {
  [A, B] = await Promise.all([
    startHarness({ port: 0, sp: { ...SP, encryption_cert: spEncryption.certPem }, users: USERS }),
    startHarness({ port: 0, sp: { ...SP, signing_cert: spSigning.certB64 }, users: USERS, sign: 'assertion' }),
  ]);
  metadataA = (await getText(A.info.metadata_url)).text;
  metadataB = (await getText(B.info.metadata_url)).text;
  const spSettings = {
    entityID: SP.entity_id,
    assertionConsumerService: [{ Binding: BINDING.post, Location: SP.acs }],
    singleLogoutService: [{ Binding: BINDING.post, Location: SP.slo }],
    wantAssertionsSigned: true,
  };
  spA = samlify.ServiceProvider({ ...spSettings, encPrivateKey: spEncryption.keyPem, encryptCert: spEncryption.certB64 });
  idpA = samlify.IdentityProvider({ metadata: metadataA });
  idpAEncrypted = samlify.IdentityProvider({ metadata: metadataA, isAssertionEncrypted: true });
  spB = samlify.ServiceProvider({
    ...spSettings,
    authnRequestsSigned: true,
    privateKey: spSigning.keyPem,
    signingCert: spSigning.certB64,
    wantLogoutResponseSigned: true,
  });
  idpB = samlify.IdentityProvider({ metadata: metadataB, wantLogoutRequestSigned: true });
});

after(async () => {
  await Promise.all([stopHarness(A), stopHarness(B)]);
});

// --- tests against harness A (and the metadata of both) -----------------------------------------

test('metadata describes the IdP', () => {
  const md = parseXml(metadataA).documentElement;
  assert.equal(md.getAttribute('entityID'), A.info.entity_id);
  assert.equal(A.info.entity_id, `${A.info.base}/metadata`);
  assert.match(metadataA, /<md:KeyDescriptor use="signing">/);
  assert.match(metadataA, new RegExp(`SingleSignOnService Binding="${BINDING.redirect}" Location="${A.info.base}/sso"`));
  assert.match(metadataA, new RegExp(`SingleSignOnService Binding="${BINDING.post}" Location="${A.info.base}/sso"`));
  assert.match(metadataA, new RegExp(`SingleLogoutService Binding="${BINDING.redirect}" Location="${A.info.base}/slo"`));
  assert.match(metadataA, /nameid-format:persistent/);
  assert.match(metadataA, /nameid-format:emailAddress/);
  assert.match(metadataA, /WantAuthnRequestsSigned="false"/);
  assert.match(metadataB, /WantAuthnRequestsSigned="true"/);
  assert.equal(idpA.entityMeta.getEntityID(), A.info.entity_id);
});

test('SP-initiated sign-in through the pages (redirect AuthnRequest, POST response)', async () => {
  const { id, context: url } = spA.createLoginRequest(idpA, 'redirect', { relayState: 'opaque state/with?chars&=' });
  const loginPage = await getText(url);
  assert.equal(loginPage.status, 200, loginPage.text);
  const form = parseForm(loginPage.text);
  assert.equal(form.action, '/sso/login');
  assert.deepEqual(form.buttons, ['Sign in']);
  assert.ok(form.inputs.includes('login'));
  assert.equal(form.fields.request_id, id);
  assert.equal(form.fields.RelayState, 'opaque state/with?chars&=');
  assert.equal(form.autoSubmit, false);

  const answer = await postForm(`${A.info.base}${form.action}`, { ...form.fields, login: 'alice' });
  assert.equal(answer.status, 200, answer.text);
  const post = parseForm(answer.text);
  assert.equal(post.action, SP.acs);
  assert.deepEqual(post.buttons, ['Continue']);
  assert.equal(post.autoSubmit, true);
  assert.equal(post.fields.RelayState, 'opaque state/with?chars&=');

  const extract = await spAccepts(spA, idpA, post.fields.SAMLResponse, { inResponseTo: id });
  assert.equal(extract.nameID, 'alice');
  assert.equal(extract.issuer, A.info.entity_id);
  assert.equal(extract.attributes.email, 'alice@example.com');
  assert.equal(extract.attributes.given_name, 'Alice');
  assert.deepEqual(extract.attributes.groups, ['a', 'b']);
  assert.match(extract.sessionIndex.sessionIndex, /^_s[0-9a-f]{32}$/);
  const signatures = checkSignatures(decode(post.fields.SAMLResponse), certPemFromMetadata(metadataA));
  assert.deepEqual(signatures.map((s) => s.valid), [true, true], 'response and assertion both signed by default');

  const log = await (await fetch(`${A.info.base}/test/log`)).json();
  const request = log.find((e) => e.type === 'authn_request' && e.id === id);
  assert.ok(request, JSON.stringify(log));
  assert.equal(request.issuer, SP.entity_id);
  assert.equal(request.acs_url, SP.acs);
  assert.equal(request.signed, false);
  assert.equal(request.signature_valid, null);
  assert.equal(request.relay_state, 'opaque state/with?chars&=');
  const issued = log.find((e) => e.type === 'response_issued' && e.in_response_to === id);
  assert.equal(issued.via, 'sso');
  assert.equal(issued.session_index, extract.sessionIndex.sessionIndex);
});

test('unknown logins and unknown requests are refused', async () => {
  const { context: url } = spA.createLoginRequest(idpA, 'redirect');
  const form = parseForm((await getText(url)).text);
  assert.equal((await postForm(`${A.info.base}/sso/login`, { ...form.fields, login: 'mallory' })).status, 400);
  assert.equal((await postForm(`${A.info.base}/sso/login`, { request_id: '_nope', login: 'alice' })).status, 400);
  assert.equal((await getText(`${A.info.base}/idp-initiated?login=mallory`)).status, 400);
});

test('IdP-initiated sign-in: unsolicited response, RelayState passed through', async () => {
  const relayState = 'response_type=code&client_id=abc&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&identity_provider=Smoke&scope=openid';
  const page = await getText(`${A.info.base}/idp-initiated?login=bob&relay_state=${encodeURIComponent(relayState)}`);
  assert.equal(page.status, 200, page.text);
  const post = parseForm(page.text);
  assert.equal(post.action, SP.acs);
  assert.deepEqual(post.buttons, ['Continue']);
  assert.equal(post.fields.RelayState, relayState);
  const extract = await spAccepts(spA, idpA, post.fields.SAMLResponse, { inResponseTo: null });
  assert.equal(extract.nameID, 'bob');
  assert.equal(extract.attributes.groups, undefined, 'an empty list sends no attribute');
  assert.doesNotMatch(decode(post.fields.SAMLResponse), /InResponseTo/);
});

test('/test/response: valid, the sign options, encryption and reuse', async () => {
  const url = `${A.info.base}/test/response`;
  const valid = (await postJson(url, { login: 'alice', in_response_to: '_req-1', variant: 'valid', relay_state: 'rs' })).json;
  assert.equal(valid.RelayState, 'rs');
  assert.equal(valid.acs, SP.acs);
  assert.deepEqual(valid.signed, { response: true, assertion: true });
  assert.equal((await spAccepts(spA, idpA, valid.SAMLResponse, { inResponseTo: '_req-1' })).nameID, 'alice');

  for (const sign of ['response', 'assertion']) {
    const out = (await postJson(url, { login: 'alice', in_response_to: null, sign })).json;
    assert.deepEqual(out.signed, { response: sign === 'response', assertion: sign === 'assertion' });
    assert.equal(checkSignatures(decode(out.SAMLResponse), certPemFromMetadata(metadataA)).length, 1);
    assert.equal((await spAccepts(spA, idpA, out.SAMLResponse, { inResponseTo: null })).nameID, 'alice');
  }

  for (const encryption_algorithm of [undefined, 'aes256-cbc']) {
    const out = (await postJson(url, { login: 'alice', in_response_to: '_req-2', variant: 'encrypted', encryption_algorithm })).json;
    const xml = decode(out.SAMLResponse);
    assert.match(xml, /<saml:EncryptedAssertion/);
    assert.doesNotMatch(xml, /<saml:Assertion/);
    assert.match(xml, encryption_algorithm ? /xmlenc#aes256-cbc/ : /xmlenc11#aes128-gcm/);
    assert.match(xml, /xmlenc#rsa-oaep-mgf1p/);
    const extract = await spAccepts(spA, idpAEncrypted, out.SAMLResponse, { inResponseTo: '_req-2' });
    assert.equal(extract.nameID, 'alice');
    assert.deepEqual(extract.attributes.groups, ['a', 'b']);
  }

  const again = await postJson(url, { reuse: valid.assertion_id });
  assert.equal(again.status, 200);
  assert.deepEqual(again.json, valid);
  assert.deepEqual((await postJson(url, { reuse: valid.response_id })).json, valid);
  assert.equal((await postJson(url, { reuse: '_never' })).status, 404);
  assert.equal((await postJson(url, { login: 'alice', variant: 'nonsense' })).status, 400);
  assert.equal((await postJson(url, { login: 'alice', variant: 'encrypted' })).status, 200);
  assert.equal((await postJson(`${B.info.base}/test/response`, { login: 'alice', variant: 'encrypted' })).status, 400, 'B has no encryption_cert');
});

test('/test/response: the refused variants are refused by an SP', async () => {
  const url = `${A.info.base}/test/response`;
  const refused = ['unsigned', 'forged', 'tampered', 'wrong_audience', 'wrong_recipient', 'expired', 'not_yet_valid', 'wrong_issuer', 'status_failure'];
  for (const variant of refused) {
    const out = (await postJson(url, { login: 'alice', in_response_to: '_req-3', variant })).json;
    assert.equal(out.variant, variant);
    await assert.rejects(spAccepts(spA, idpA, out.SAMLResponse, { inResponseTo: '_req-3' }), `${variant} must be refused`);
  }
  const xml = (variant) => postJson(url, { login: 'alice', variant }).then((r) => decode(r.json.SAMLResponse));
  assert.doesNotMatch(await xml('unsigned'), /Signature/);
  const idpCert = certPemFromMetadata(metadataA);
  assert.deepEqual(checkSignatures(await xml('forged'), idpCert).map((s) => s.valid), [false, false]);
  assert.deepEqual(checkSignatures(await xml('tampered'), idpCert).map((s) => s.valid), [false, false]);
  for (const variant of ['wrong_audience', 'expired', 'not_yet_valid', 'wrong_issuer', 'status_failure']) {
    assert.ok(checkSignatures(await xml(variant), idpCert).every((s) => s.valid), `${variant} is validly signed`);
  }
  assert.match(await xml('status_failure'), /status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/);
  // Accepted by samlify (it does not look at IssueInstant), there for tessera's 6-minute rule.
  const stale = (await postJson(url, { login: 'alice', variant: 'stale_issue_instant' })).json;
  await spAccepts(spA, idpA, stale.SAMLResponse, { inResponseTo: null });
  const issueInstant = decode(stale.SAMLResponse).match(/IssueInstant="([^"]+)"/)[1];
  assert.ok(Date.now() - Date.parse(issueInstant) > 6.5 * 60_000);
});

test('/test/response: wrapping and comment injection keep a valid signature over the original', async (t) => {
  const url = `${A.info.base}/test/response`;
  const idpCert = certPemFromMetadata(metadataA);
  const wraps = Object.keys(VARIANTS).filter((v) => v.startsWith('wrap_'));
  assert.deepEqual(wraps, ['wrap_xsw1', 'wrap_xsw2', 'wrap_xsw3', 'wrap_xsw4', 'wrap_xsw5', 'wrap_xsw6', 'wrap_xsw7', 'wrap_xsw8']);
  for (const variant of wraps) {
    const out = (await postJson(url, { login: 'alice', in_response_to: '_req-4', variant, evil_login: 'bob' })).json;
    assert.equal(out.name_id, 'alice');
    assert.equal(out.evil_name_id, 'bob');
    const xml = decode(out.SAMLResponse);
    parseXml(xml); // well-formed
    const signatures = checkSignatures(xml, idpCert);
    assert.equal(signatures.length, 1, variant);
    assert.equal(signatures[0].valid, true, `${variant}: the moved signature still verifies`);
    assert.match(signatures[0].signed[0], />alice<\/saml:NameID>/, `${variant}: it signs the original`);
    assert.doesNotMatch(signatures[0].signed[0], />bob<\/saml:NameID>/);
    assert.match(xml, />bob<\/saml:NameID>/, `${variant}: the evil assertion is in the document`);
    const samlifyVerdict = await spAccepts(spA, idpA, out.SAMLResponse, { inResponseTo: '_req-4' })
      .then((e) => `accepted as ${e.nameID}`, (err) => `refused (${err instanceof Error ? err.message : err})`);
    t.diagnostic(`${variant}: samlify ${samlifyVerdict}`);
    assert.doesNotMatch(samlifyVerdict, /accepted as bob/, `${variant}: samlify must never sign bob in`);
  }

  const out = (await postJson(url, { login: 'alice', in_response_to: '_req-5', variant: 'comment_injection' })).json;
  assert.equal(out.name_id, 'alice.evil.com');
  assert.equal(out.evil_name_id, 'alice');
  const xml = decode(out.SAMLResponse);
  assert.match(xml, />alice<!---->\.evil\.com<\/saml:NameID>/);
  assert.match(xml, />alice@example\.com<!---->\.evil\.com<\/saml:AttributeValue>/);
  const signatures = checkSignatures(xml, idpCert);
  assert.deepEqual(signatures.map((s) => s.valid), [true, true]);
  for (const s of signatures) assert.match(s.signed[0], />alice\.evil\.com<\/saml:NameID>/);
  const extract = await spAccepts(spA, idpA, out.SAMLResponse, { inResponseTo: '_req-5' });
  t.diagnostic(`comment_injection: samlify reads NameID ${JSON.stringify(extract.nameID)}`);
});

// --- tests against harness B: signed requests and single logout ---------------------------------

test('signed AuthnRequests are required and verified, then single logout', async () => {
  const { id, context: url } = spB.createLoginRequest(idpB, 'redirect', { relayState: 'state-b' });
  assert.match(url, /&SigAlg=.*&Signature=/);

  // The same request without its signature, and with a RelayState the signature does not cover.
  const unsigned = url.replace(/&SigAlg=[^&]*&Signature=[^&]*$/, '');
  assert.equal((await getText(unsigned)).status, 400);
  assert.equal((await getText(url.replace('RelayState=state-b', 'RelayState=state-x'))).status, 400);

  const loginPage = await getText(url);
  assert.equal(loginPage.status, 200, loginPage.text);
  const form = parseForm(loginPage.text);
  const post = parseForm((await postForm(`${B.info.base}${form.action}`, { ...form.fields, login: 'alice' })).text);
  assert.equal(post.fields.RelayState, 'state-b');
  const extract = await spAccepts(spB, idpB, post.fields.SAMLResponse, { inResponseTo: id });
  const signatures = checkSignatures(decode(post.fields.SAMLResponse), certPemFromMetadata(metadataB));
  assert.deepEqual(signatures.map((s) => s.valid), [true], 'B signs the assertion only');
  const sessionIndex = extract.sessionIndex.sessionIndex;

  let log = await (await fetch(`${B.info.base}/test/log`)).json();
  const requests = log.filter((e) => e.type === 'authn_request' && e.id === id);
  assert.deepEqual(requests.map((e) => [e.signed, e.signature_valid]), [[false, null], [true, false], [true, true]]);
  assert.match(requests[0].refused, /ERR_MISSING_SIG_ALG/);
  assert.match(requests[1].refused, /ERR_FAILED_MESSAGE_SIGNATURE_VERIFICATION/);
  assert.equal(requests[2].refused, undefined);
  assert.equal(requests[2].sig_alg, 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
  assert.equal(requests[2].issuer, SP.entity_id);

  // Single logout: signed LogoutRequest by redirect, LogoutResponse by POST to the SP.
  const logout = spB.createLogoutRequest(idpB, 'redirect', { logoutNameID: 'alice', sessionIndex }, { relayState: 'logout-state' });
  assert.match(logout.context, new RegExp(`^${B.info.base}/slo\\?SAMLRequest=.*&Signature=`));
  assert.equal((await getText(logout.context.replace(/&SigAlg=[^&]*&Signature=[^&]*$/, ''))).status, 400);
  const sloPage = await getText(logout.context);
  assert.equal(sloPage.status, 200, sloPage.text);
  const sloPost = parseForm(sloPage.text);
  assert.equal(sloPost.action, SP.slo);
  assert.deepEqual(sloPost.buttons, ['Continue']);
  assert.equal(sloPost.autoSubmit, true);
  assert.equal(sloPost.fields.RelayState, 'logout-state');
  const logoutResponse = await spB.parseLogoutResponse(idpB, 'post', { body: { SAMLResponse: sloPost.fields.SAMLResponse } });
  assert.equal(logoutResponse.extract.response.inResponseTo, logout.id);
  assert.equal(logoutResponse.extract.response.destination, SP.slo);
  assert.equal(logoutResponse.extract.issuer, B.info.entity_id);

  log = await (await fetch(`${B.info.base}/test/log`)).json();
  const sloEntries = log.filter((e) => e.type === 'logout_request');
  assert.deepEqual(sloEntries.map((e) => [e.signed, e.signature_valid, Boolean(e.refused)]), [[false, null, true], [true, true, false]]);
  const slo = sloEntries[1];
  assert.equal(slo.id, logout.id);
  assert.equal(slo.issuer, SP.entity_id);
  assert.equal(slo.name_id, 'alice');
  assert.equal(slo.session_index, sessionIndex);
  assert.equal(slo.known_session, true);
  assert.equal(slo.relay_state, 'logout-state');

  // /test/logout-response builds the same answer, or a broken one, for POSTing directly.
  const built = (variant) => postJson(`${B.info.base}/test/logout-response`, { in_response_to: logout.id, relay_state: 'r', variant });
  const good = (await built('valid')).json;
  assert.equal(good.slo, SP.slo);
  assert.equal((await spB.parseLogoutResponse(idpB, 'post', { body: { SAMLResponse: good.SAMLResponse } })).extract.response.inResponseTo, logout.id);
  for (const variant of ['unsigned', 'forged', 'wrong_issuer', 'status_failure']) {
    const bad = (await built(variant)).json;
    await assert.rejects(spB.parseLogoutResponse(idpB, 'post', { body: { SAMLResponse: bad.SAMLResponse } }), `${variant} LogoutResponse must be refused`);
  }
});

test('SP-initiated sign-in with an HTTP-POST AuthnRequest', async () => {
  const request = spA.createLoginRequest(idpA, 'post', { relayState: 'post-state' });
  assert.equal(request.entityEndpoint, `${A.info.base}/sso`);
  const loginPage = await postForm(request.entityEndpoint, { SAMLRequest: request.context, RelayState: request.relayState });
  assert.equal(loginPage.status, 200, loginPage.text);
  const form = parseForm(loginPage.text);
  assert.equal(form.fields.request_id, request.id);
  assert.equal(form.fields.RelayState, 'post-state');
  const post = parseForm((await postForm(`${A.info.base}${form.action}`, { ...form.fields, login: 'alice' })).text);
  assert.equal((await spAccepts(spA, idpA, post.fields.SAMLResponse, { inResponseTo: request.id })).nameID, 'alice');

  // B wants it signed: samlify's SP signs the POSTed AuthnRequest with an enveloped XML signature.
  const signed = spB.createLoginRequest(idpB, 'post');
  assert.match(decode(signed.context), /<ds:Signature/);
  assert.equal((await postForm(signed.entityEndpoint, { SAMLRequest: signed.context })).status, 200);
  // An SP that does not sign: samlify refuses to build that for B's metadata, so it gets B's
  // metadata with the flag turned off.
  const idpBUnsigned = samlify.IdentityProvider({ metadata: metadataB.replace('WantAuthnRequestsSigned="true"', 'WantAuthnRequestsSigned="false"') });
  const unsigned = spA.createLoginRequest(idpBUnsigned, 'post');
  assert.equal((await postForm(signed.entityEndpoint, { SAMLRequest: unsigned.context })).status, 400);
  const log = await (await fetch(`${B.info.base}/test/log`)).json();
  const entries = log.filter((e) => e.binding === 'HTTP-POST');
  assert.deepEqual(entries.map((e) => [e.id, e.signed, e.signature_valid, Boolean(e.refused)]),
    [[signed.id, true, true, false], [unsigned.id, false, null, true]]);
});

test('the log can be emptied and the variants listed', async () => {
  const variants = await (await fetch(`${A.info.base}/test/variants`)).json();
  assert.ok(variants.valid && variants.wrap_xsw1 && variants.comment_injection && variants.encrypted);
  assert.equal((await fetch(`${A.info.base}/test/log`, { method: 'DELETE' })).status, 200);
  assert.deepEqual(await (await fetch(`${A.info.base}/test/log`)).json(), []);
  assert.equal((await fetch(`${A.info.base}/nothing-here`)).status, 404);
  assert.equal((await fetch(`${A.info.base}/sso?SAMLRequest=%zz`)).status, 400);
  assert.equal((await fetch(`${A.info.base}/test/response`, { method: 'POST', body: '{' })).status, 400);
});

test('stdout holds the one JSON line and nothing else', () => {
  // By now both harnesses have schema-validated requests, which is when xmllint would print.
  for (const h of [A, B]) assert.equal(h.stdout(), `${JSON.stringify(h.info)}\n`);
});
