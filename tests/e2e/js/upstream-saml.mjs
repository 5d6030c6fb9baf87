// A test SAML 2.0 identity provider for tessera's federation end-to-end tests (issue 15).
//
// tessera plays the part Cognito plays: a SAML *service provider* with the entity id
// urn:amazon:cognito:sp:<poolId>, an assertion consumer service (…/saml2/idpresponse, HTTP-POST)
// and a single-logout endpoint (…/saml2/logout). Testing that needs an identity provider on the
// other side that behaves like a real one (metadata, signed responses, signed-request checks,
// single logout) and that can also hand out the broken and malicious responses a real SP must
// refuse. No such IdP can be reached from the test machine, so this file is one, bound to
// 127.0.0.1 only. See docs/design/federation-facts.md §3.3 (the Cognito behaviour) and §5.2.
//
// Started by the Python tests as `node upstream-saml.mjs` with the JSON configuration in the
// environment variable TESSERA_E2E_SAML:
//   { "port": 0,                                   (0 = any free port)
//     "entity_id": "...",                          (optional; default <base>/metadata)
//     "sp": { "entity_id": "urn:amazon:cognito:sp:us-east-1_abc",
//             "acs": "http://127.0.0.1:9999/us-east-1_abc/saml2/idpresponse",
//             "slo": "http://127.0.0.1:9999/us-east-1_abc/saml2/logout",
//             "signing_cert": "<PEM or base64 DER, optional: AuthnRequests and LogoutRequests must be signed>",
//             "encryption_cert": "<PEM or base64 DER, optional: needed by the `encrypted` variant>" },
//     "users": { "alice": { "email": "alice@example.com", "given_name": "Alice", "groups": ["a", "b"] } },
//     "sign": "both" | "response" | "assertion",   (optional; default "both")
//     "encryption_algorithm": "aes128-gcm" }       (optional; aes128-gcm, aes256-gcm, aes128-cbc, aes256-cbc)
// Every key of a user becomes a SAML attribute of that name (arrays become multi-valued
// attributes, empty arrays no attribute), except `name_id` and `name_id_format`, which override the NameID (default: the
// login) and its Format (default: persistent).
//
// When listening and ready (after about 5 s on an idle machine, most of it xmllint compiling; see
// "Schema validation" below) it prints exactly one JSON line on stdout,
//   {"base": "http://127.0.0.1:<port>", "port": <port>, "metadata_url": "<base>/metadata", "entity_id": "..."}
// then keeps running until killed; everything else goes to stderr.
//
// Endpoints (the browser-facing pages work with JavaScript disabled):
//   GET  /metadata        IdP metadata (signing certificate, SSO Redirect+POST, SLO Redirect, NameID formats)
//   GET  /sso             AuthnRequest by HTTP-Redirect; POST /sso: the same by HTTP-POST.
//                         Answers a page with a form (field `login`, button "Sign in").
//   POST /sso/login       Signs the user in; answers a page whose form POSTs SAMLResponse and
//                         RelayState to the ACS (button "Continue", plus an auto-submit script).
//                         The assertion is encrypted when sp.encryption_cert is configured.
//   GET  /idp-initiated?login=alice&relay_state=<urlencoded>   the same page, unsolicited response.
//   GET  /slo             LogoutRequest by HTTP-Redirect; answers a page whose form POSTs a signed
//                         LogoutResponse and RelayState to sp.slo (button "Continue" + auto-submit).
//   GET  /test/log        JSON list of everything received and issued, oldest first; DELETE empties it.
//                         Entry types: authn_request (id, issuer, acs_url, destination, protocol_binding,
//                         name_id_policy, relay_state, signed, sig_alg, signature_valid, xml), login,
//                         idp_initiated, response_issued (response_id, assertion_id, in_response_to,
//                         name_id, session_index, signed), response_reused, logout_request (id,
//                         issuer, name_id, session_index, session_indexes, known_session, relay_state,
//                         signed, sig_alg, signature_valid, xml), logout_response_issued. A refused
//                         request carries `refused` with the reason. signature_valid is null when
//                         unsigned or when no sp.signing_cert is configured to check it with.
//   GET  /test/variants   JSON object: variant name -> what it is (see VARIANTS below).
//   POST /test/response   {"login", "in_response_to", "variant", "relay_state", "evil_login"?, "sign"?,
//                          "encryption_algorithm"?} or {"reuse": "<assertion or response id>"}
//                         -> {"SAMLResponse", "RelayState", "assertion_id", "response_id", "name_id",
//                             "evil_name_id", "session_index", "variant", "signed", "acs"}
//                         `login` must be one of `users`; in_response_to null makes it unsolicited;
//                         evil_login (default "admin") is who the tampered and wrapping variants try
//                         to sign in; `reuse` answers the very same bytes again (404 if unknown).
//                         400 with {"error"} for an unknown login, variant, sign or algorithm.
//   POST /test/logout-response  {"in_response_to", "relay_state", "variant": valid|unsigned|forged|
//                                wrong_issuer|status_failure} -> {"SAMLResponse", "RelayState", "response_id", "slo"}
//
// The browser pages refuse (HTTP 400, an HTML page with the reason, and a `refused` log entry) an
// AuthnRequest or LogoutRequest that samlify refuses (schema, missing or bad signature when
// sp.signing_cert is set), whose Issuer is not sp.entity_id, whose Destination is not this IdP's
// endpoint, or whose AssertionConsumerServiceURL or ProtocolBinding is not sp.acs / HTTP-POST;
// an unknown login; and a login form for an AuthnRequest that was never received.
//
// Algorithms: XML signatures are RSA-SHA256 (http://www.w3.org/2001/04/xmldsig-more#rsa-sha256)
// with SHA-256 digests, exclusive c14n without comments, transforms enveloped-signature + exc-c14n,
// a Reference URI="#<ID>" to the signed element, the signature right after its Issuer, and the
// signing certificate in KeyInfo/X509Data. Encryption is XML Encryption with RSA-OAEP (mgf1p,
// SHA-1) for the key and, by default, AES-128-GCM for the data. Keys are RSA-2048 and
// self-signed X.509 certificates made at start with node:crypto (DER written by hand below,
// because Node can parse but not create certificates).
//
// samlify (with @authenio/samlify-node-xmllint as its schema validator, so everything tessera
// sends is checked against the SAML schemas) parses and verifies the inbound AuthnRequests and
// LogoutRequests. Outbound responses are built and signed here with xml-crypto and
// @authenio/xml-encryption (samlify's own dependencies) rather than with samlify's
// createLoginResponse: the attack variants need the unsigned XML, per-element control of which
// element is signed with which key, and edits after signing, and one builder for both the browser
// flow and /test/response guarantees that the browser gets exactly the `valid` variant.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';
import xmldom from '@xmldom/xmldom';
import xmlCrypto from 'xml-crypto';
import xmlenc from '@authenio/xml-encryption';
import samlify from 'samlify';

const { DOMParser, XMLSerializer } = xmldom;
const { SignedXml } = xmlCrypto;

export const NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
};
export const BINDING = {
  redirect: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect',
  post: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST',
};
const NAMEID = {
  persistent: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
  email: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
};
const STATUS = {
  success: 'urn:oasis:names:tc:SAML:2.0:status:Success',
  responder: 'urn:oasis:names:tc:SAML:2.0:status:Responder',
  authnFailed: 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed',
};
export const ALG = {
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  enveloped: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
  rsaOaep: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
};
// The data-encryption algorithms @authenio/xml-encryption implements, by the short names the
// configuration uses. 3DES is left out on purpose: it is deprecated and no SP should accept it.
const DATA_ENCRYPTION = {
  'aes128-gcm': 'http://www.w3.org/2009/xmlenc11#aes128-gcm',
  'aes256-gcm': 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
  'aes128-cbc': 'http://www.w3.org/2001/04/xmlenc#aes128-cbc',
  'aes256-cbc': 'http://www.w3.org/2001/04/xmlenc#aes256-cbc',
};
// Redirect-binding signature algorithms (SigAlg) mapped to the hash Node verifies them with.
const REDIRECT_SIG_HASH = {
  'http://www.w3.org/2000/09/xmldsig#rsa-sha1': 'sha1',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha384': 'sha384',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'sha512',
};

// What each /test/response variant is, served by GET /test/variants so tests can iterate.
// Every variant except `valid`, `encrypted` and `stale_issue_instant` is an attack or a
// failure that a correct SP must refuse; `evil_name_id` in the answer says which identity an SP
// fooled by the attack would sign in.
export const VARIANTS = {
  valid: 'a correct response, signed per `sign`',
  unsigned: 'no signature anywhere',
  forged: 'signed by an unrelated "attacker" key, whose certificate is in KeyInfo',
  tampered: 'validly signed, then the NameID and the email attribute changed to evil_login\'s',
  wrap_xsw1: 'XSW1: evil response (evil assertion, new ID) whose Signature holds the signed original response in a ds:Object; only the response is signed',
  wrap_xsw2: 'XSW2: like XSW1 but the signed original response is a sibling before the Signature (detached); only the response is signed',
  wrap_xsw3: 'XSW3: evil unsigned assertion inserted before the signed one; only the assertion is signed',
  wrap_xsw4: 'XSW4: evil unsigned assertion in place of the signed one, which is moved inside it; only the assertion is signed',
  wrap_xsw5: 'XSW5: evil assertion carrying the original Signature in place of the signed one; the original assertion (without its Signature) appended to the response',
  wrap_xsw6: 'XSW6: like XSW5 but the original assertion sits directly inside the evil assertion\'s Signature',
  wrap_xsw7: 'XSW7: evil unsigned assertion in samlp:Extensions before the signed assertion; only the assertion is signed',
  wrap_xsw8: 'XSW8: like XSW6 but the original assertion sits in a ds:Object of the evil assertion\'s Signature',
  wrong_audience: 'validly signed, Audience is another SP',
  wrong_recipient: 'validly signed, Destination and SubjectConfirmationData Recipient are another ACS',
  expired: 'validly signed, issued 65 minutes ago, NotOnOrAfter an hour in the past',
  not_yet_valid: 'validly signed, issued and NotBefore an hour in the future',
  stale_issue_instant: 'validly signed and within NotOnOrAfter, but issued 7 minutes ago (Cognito wants IdP-initiated assertions issued within 6 minutes)',
  wrong_issuer: 'validly signed with the IdP key, but Issuer is another entity id',
  status_failure: 'signed response with Status Responder/AuthnFailed and no assertion',
  comment_injection: 'CVE-2017-11428: NameID and email of "<login>.evil.com" signed, then a comment inserted before ".evil.com" so a naive parser reads the login\'s values',
  encrypted: 'the (signed) assertion encrypted to sp.encryption_cert (RSA-OAEP + AES-GCM by default), the response signed outside',
};
const LOGOUT_RESPONSE_VARIANTS = ['valid', 'unsigned', 'forged', 'wrong_issuer', 'status_failure'];

// ---------------------------------------------------------------------------------------------
// Keys and self-signed certificates. Node can generate RSA keys and parse certificates but not
// create them, so the few DER structures of an X.509 v3 certificate are encoded by hand.

function derLength(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  for (let rest = n; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
function der(tag, ...parts) {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}
const derSequence = (...parts) => der(0x30, ...parts);
function derOid(dotted) {
  const arcs = dotted.split('.').map(Number);
  const bytes = [40 * arcs[0] + arcs[1]];
  for (const arc of arcs.slice(2)) {
    const chunk = [arc & 0x7f];
    for (let rest = Math.floor(arc / 128); rest > 0; rest = Math.floor(rest / 128)) chunk.unshift(0x80 | (rest & 0x7f));
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}
function derTime(date) {
  // RFC 5280 §4.1.2.5: UTCTime up to 2049, GeneralizedTime from 2050.
  const digits = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return date.getUTCFullYear() < 2050
    ? der(0x17, Buffer.from(`${digits.slice(2)}Z`))
    : der(0x18, Buffer.from(`${digits}Z`));
}

/** An RSA-2048 key and a self-signed X.509 v3 certificate for it (sha256WithRSAEncryption). */
export function makeKeyAndCert(commonName) {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const serial = crypto.randomBytes(16);
  serial[0] = (serial[0] & 0x7f) | 0x01; // positive and without a leading zero byte
  const algorithm = derSequence(derOid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00]));
  const name = derSequence(der(0x31, derSequence(derOid('2.5.4.3'), der(0x0c, Buffer.from(commonName)))));
  const now = Date.now();
  const tbs = derSequence(
    der(0xa0, der(0x02, Buffer.from([2]))), // version v3
    der(0x02, serial),
    algorithm,
    name,
    derSequence(derTime(new Date(now - 86_400_000)), derTime(new Date(now + 10 * 365 * 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
  );
  const certDer = derSequence(tbs, algorithm, der(0x03, Buffer.from([0]), crypto.sign('sha256', tbs, privateKey)));
  if (!new crypto.X509Certificate(certDer).verify(publicKey)) throw new Error('self-signed certificate does not verify');
  const certB64 = certDer.toString('base64');
  return {
    keyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }),
    certB64,
    certPem: b64ToPem(certB64),
  };
}

function b64ToPem(b64) {
  return `-----BEGIN CERTIFICATE-----\n${b64.match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** A certificate given as PEM or bare base64 DER, as base64 DER (checked by parsing it). */
export function certToB64(text) {
  const b64 = String(text).replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  new crypto.X509Certificate(Buffer.from(b64, 'base64')); // throws on anything that is not a certificate
  return b64;
}

// ---------------------------------------------------------------------------------------------
// XML helpers.

function esc(value) {
  return String(value)
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
const newId = (prefix = '_') => `${prefix}${crypto.randomBytes(16).toString('hex')}`;
const iso = (date) => date.toISOString();

/** A strict parser: any XML error throws instead of being logged and repaired. */
export function parseXml(text) {
  const fail = (msg) => { throw new Error(`XML error: ${msg}`); };
  const doc = new DOMParser({ errorHandler: { warning: () => {}, error: fail, fatalError: fail } })
    .parseFromString(text, 'text/xml');
  if (!doc || !doc.documentElement) throw new Error('XML error: no document element');
  return doc;
}
const serialize = (node) => new XMLSerializer().serializeToString(node);
const elementChildren = (el) => Array.from(el.childNodes).filter((n) => n.nodeType === 1);
const childByName = (el, localName) => elementChildren(el).find((n) => n.localName === localName);
function descendantsByName(el, localName) {
  return Array.from(el.getElementsByTagNameNS('*', localName));
}

// ---------------------------------------------------------------------------------------------
// SAML message builders. Each assertion declares its own namespaces so it stays well-formed on
// its own: when it is encrypted, or moved around by the wrapping variants.

function statusXml(failed) {
  if (!failed) return `<samlp:Status><samlp:StatusCode Value="${STATUS.success}"/></samlp:Status>`;
  return `<samlp:Status><samlp:StatusCode Value="${STATUS.responder}"><samlp:StatusCode Value="${STATUS.authnFailed}"/></samlp:StatusCode>`
    + '<samlp:StatusMessage>The user could not be authenticated</samlp:StatusMessage></samlp:Status>';
}

function attributeXml(name, values) {
  // Short names (email, groups) are "basic"; names that look like URIs are "uri".
  const format = /[:/]/.test(name)
    ? 'urn:oasis:names:tc:SAML:2.0:attrname-format:uri'
    : 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';
  // xsi:type on every value, each declaring its namespaces, is how Keycloak and Okta send them.
  const valueXml = values.map((v) => '<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" '
    + `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('');
  return `<saml:Attribute Name="${esc(name)}" NameFormat="${format}">${valueXml}</saml:Attribute>`;
}

function assertionXml(p) {
  const inResponseTo = p.inResponseTo ? ` InResponseTo="${esc(p.inResponseTo)}"` : '';
  const attributes = p.attributes.length
    ? `<saml:AttributeStatement>${p.attributes.map(([n, v]) => attributeXml(n, v)).join('')}</saml:AttributeStatement>`
    : '';
  return `<saml:Assertion xmlns:saml="${NS.assertion}" ID="${p.assertionId}" Version="2.0" IssueInstant="${iso(p.issueInstant)}">`
    + `<saml:Issuer>${esc(p.issuer)}</saml:Issuer>`
    + `<saml:Subject><saml:NameID Format="${esc(p.nameIdFormat)}">${esc(p.nameId)}</saml:NameID>`
    + '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
    + `<saml:SubjectConfirmationData NotOnOrAfter="${iso(p.notOnOrAfter)}" Recipient="${esc(p.recipient)}"${inResponseTo}/>`
    + '</saml:SubjectConfirmation></saml:Subject>'
    + `<saml:Conditions NotBefore="${iso(p.notBefore)}" NotOnOrAfter="${iso(p.notOnOrAfter)}">`
    + `<saml:AudienceRestriction><saml:Audience>${esc(p.audience)}</saml:Audience></saml:AudienceRestriction></saml:Conditions>`
    + `<saml:AuthnStatement AuthnInstant="${iso(p.issueInstant)}" SessionIndex="${p.sessionIndex}" SessionNotOnOrAfter="${iso(p.sessionNotOnOrAfter)}">`
    + '<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>'
    + '</saml:AuthnStatement>'
    + attributes
    + '</saml:Assertion>';
}

function responseXml(p, innerXml, { failed = false } = {}) {
  const inResponseTo = p.inResponseTo ? ` InResponseTo="${esc(p.inResponseTo)}"` : '';
  return `<samlp:Response xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${p.responseId}" Version="2.0" `
    + `IssueInstant="${iso(p.issueInstant)}" Destination="${esc(p.destination)}"${inResponseTo}>`
    + `<saml:Issuer>${esc(p.issuer)}</saml:Issuer>`
    + statusXml(failed)
    + innerXml
    + '</samlp:Response>';
}

function logoutResponseXml({ id, issuer, destination, inResponseTo, failed }) {
  const irt = inResponseTo ? ` InResponseTo="${esc(inResponseTo)}"` : '';
  return `<samlp:LogoutResponse xmlns:samlp="${NS.protocol}" xmlns:saml="${NS.assertion}" ID="${id}" Version="2.0" `
    + `IssueInstant="${iso(new Date())}" Destination="${esc(destination)}"${irt}>`
    + `<saml:Issuer>${esc(issuer)}</saml:Issuer>${statusXml(failed)}</samlp:LogoutResponse>`;
}

function metadataXml({ entityId, base, certB64, wantAuthnRequestsSigned }) {
  return `<?xml version="1.0" encoding="UTF-8"?>\n`
    + `<md:EntityDescriptor xmlns:md="${NS.metadata}" xmlns:ds="${NS.ds}" entityID="${esc(entityId)}">`
    + `<md:IDPSSODescriptor WantAuthnRequestsSigned="${wantAuthnRequestsSigned}" protocolSupportEnumeration="${NS.protocol}">`
    + `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certB64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
    + `<md:SingleLogoutService Binding="${BINDING.redirect}" Location="${esc(base)}/slo"/>`
    + `<md:NameIDFormat>${NAMEID.persistent}</md:NameIDFormat>`
    + `<md:NameIDFormat>${NAMEID.email}</md:NameIDFormat>`
    + `<md:SingleSignOnService Binding="${BINDING.redirect}" Location="${esc(base)}/sso"/>`
    + `<md:SingleSignOnService Binding="${BINDING.post}" Location="${esc(base)}/sso"/>`
    + '</md:IDPSSODescriptor></md:EntityDescriptor>\n';
}

// ---------------------------------------------------------------------------------------------
// Signing and encryption.

/**
 * Signs the root element (`target` "root") or the Response's Assertion (`target` "assertion")
 * with an enveloped signature placed right after that element's Issuer, as the SAML schema
 * wants it.
 */
function signXml(xml, target, signer) {
  const element = target === 'root' ? '/*' : "/*[local-name(.)='Response']/*[local-name(.)='Assertion']";
  const sig = new SignedXml({
    privateKey: signer.keyPem,
    publicCert: signer.certPem,
    signatureAlgorithm: ALG.rsaSha256,
    canonicalizationAlgorithm: ALG.excC14n,
  });
  sig.addReference({ xpath: element, transforms: [ALG.enveloped, ALG.excC14n], digestAlgorithm: ALG.sha256 });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: `${element}/*[local-name(.)='Issuer']`, action: 'after' } });
  return sig.getSignedXml();
}

/** Replaces the Response's Assertion by an EncryptedAssertion for `certB64`. */
async function encryptAssertion(xml, certB64, dataAlgorithm) {
  const doc = parseXml(xml);
  const assertion = childByName(doc.documentElement, 'Assertion');
  const certPem = b64ToPem(certB64);
  const encryptedData = await new Promise((resolve, reject) => {
    xmlenc.encrypt(serialize(assertion), {
      rsa_pub: new crypto.X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'pem' }),
      pem: certPem,
      encryptionAlgorithm: dataAlgorithm,
      keyEncryptionAlgorithm: ALG.rsaOaep,
      disallowEncryptionWithInsecureAlgorithm: true,
    }, (err, out) => (err ? reject(err) : resolve(out)));
  });
  const wrapper = parseXml(`<saml:EncryptedAssertion xmlns:saml="${NS.assertion}">${encryptedData.trim()}</saml:EncryptedAssertion>`);
  doc.documentElement.replaceChild(doc.importNode(wrapper.documentElement, true), assertion);
  return serialize(doc);
}

// ---------------------------------------------------------------------------------------------
// The signature-wrapping shapes of "On Breaking SAML: Be Whoever You Want to Be" (Somorovsky et
// al., 2012), numbered as the SAML Raider tool numbers them. Each keeps the original signature cryptographically
// valid over the original element while putting an evil element where a careless SP reads
// first. Evil elements always get a fresh ID (an SP or library that refuses duplicate IDs would
// otherwise refuse them for that reason alone, and the test would prove nothing about wrapping).

function removeSignature(el) {
  const sig = childByName(el, 'Signature');
  if (sig) el.removeChild(sig);
  return el;
}
function dsObject(doc, content) {
  const obj = doc.createElementNS(NS.ds, 'ds:Object');
  obj.appendChild(content);
  return obj;
}

function applyWrapping(kind, signedXml, evilAssertion, evilResponse) {
  const doc = parseXml(signedXml);
  const response = doc.documentElement;
  if (kind === 'wrap_xsw1' || kind === 'wrap_xsw2') {
    // Response-level: the evil response becomes the document; the signed original goes into
    // (XSW1) or before (XSW2) the original Signature, which the evil response carries.
    const signature = childByName(response, 'Signature');
    const original = removeSignature(response.cloneNode(true));
    const out = parseXml(evilResponse);
    const root = out.documentElement;
    const sigCopy = out.importNode(signature, true);
    root.insertBefore(sigCopy, childByName(root, 'Issuer').nextSibling);
    const originalCopy = out.importNode(original, true);
    if (kind === 'wrap_xsw1') sigCopy.appendChild(dsObject(out, originalCopy));
    else root.insertBefore(originalCopy, sigCopy);
    return serialize(out);
  }
  const evil = doc.importNode(parseXml(evilAssertion).documentElement, true);
  const assertion = childByName(response, 'Assertion');
  const signature = childByName(assertion, 'Signature');
  switch (kind) {
    case 'wrap_xsw3':
      response.insertBefore(evil, assertion);
      break;
    case 'wrap_xsw4':
      response.replaceChild(evil, assertion);
      evil.appendChild(assertion);
      break;
    case 'wrap_xsw5':
    case 'wrap_xsw6':
    case 'wrap_xsw8': {
      // The evil assertion carries the original Signature; the signed content, without it,
      // goes to the end of the response (5), into that Signature (6) or into a ds:Object of it (8).
      const original = removeSignature(assertion.cloneNode(true));
      const sigCopy = signature.cloneNode(true);
      evil.insertBefore(sigCopy, childByName(evil, 'Issuer').nextSibling);
      response.replaceChild(evil, assertion);
      if (kind === 'wrap_xsw5') response.appendChild(original);
      else if (kind === 'wrap_xsw6') sigCopy.appendChild(original);
      else sigCopy.appendChild(dsObject(doc, original));
      break;
    }
    case 'wrap_xsw7': {
      // samlp:Extensions sits where the schema allows it (after Issuer, before Status), so a
      // schema check alone does not refuse the message.
      const extensions = doc.createElementNS(NS.protocol, 'samlp:Extensions');
      extensions.appendChild(evil);
      response.insertBefore(extensions, childByName(response, 'Status'));
      break;
    }
    default:
      throw new Error(`unknown wrapping ${kind}`);
  }
  return serialize(doc);
}

/** CVE-2017-11428: splits a text node with an empty comment; exc-c14n drops the comment. */
function injectComment(xml, nameIdValue, emailValue) {
  const doc = parseXml(xml);
  const split = (el, value) => {
    const at = value.lastIndexOf('.evil.com');
    while (el.firstChild) el.removeChild(el.firstChild);
    el.appendChild(doc.createTextNode(value.slice(0, at)));
    el.appendChild(doc.createComment(''));
    el.appendChild(doc.createTextNode(value.slice(at)));
  };
  for (const el of descendantsByName(doc, 'NameID')) split(el, nameIdValue);
  if (emailValue) {
    for (const attr of descendantsByName(doc, 'Attribute')) {
      if (attr.getAttribute('Name') === 'email') for (const v of descendantsByName(attr, 'AttributeValue')) split(v, emailValue);
    }
  }
  return serialize(doc);
}

/** Changes the NameID and the email attribute after signing, breaking the digests. */
function tamper(xml, nameId, email) {
  const doc = parseXml(xml);
  for (const el of descendantsByName(doc, 'NameID')) el.textContent = nameId;
  for (const attr of descendantsByName(doc, 'Attribute')) {
    if (attr.getAttribute('Name') === 'email') for (const v of descendantsByName(attr, 'AttributeValue')) v.textContent = email;
  }
  return serialize(doc);
}

// ---------------------------------------------------------------------------------------------
// Redirect binding (SAML bindings §3.4.4.1): the signature covers the query parameters exactly
// as they were URL-encoded by the sender, so the raw query string is kept next to the decoded
// values.

function parseRawQuery(search) {
  const params = new Map();
  for (const part of search.replace(/^\?/, '').split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const raw = eq < 0 ? '' : part.slice(eq + 1);
    let key;
    let value;
    try {
      key = decodeURIComponent(rawKey.replace(/\+/g, ' '));
      value = decodeURIComponent(raw.replace(/\+/g, ' '));
    } catch {
      throw new HttpError(400, `malformed query parameter ${rawKey}`);
    }
    if (!params.has(key)) params.set(key, { raw, value });
  }
  return params;
}
// Base64 never contains spaces, so a space can only be a '+' the sender forgot to encode.
const base64Param = (params, key) => params.get(key)?.value.replace(/ /g, '+');

function redirectOctetString(params, messageKey) {
  const parts = [`${messageKey}=${params.get(messageKey).raw}`];
  if (params.has('RelayState')) parts.push(`RelayState=${params.get('RelayState').raw}`);
  parts.push(`SigAlg=${params.get('SigAlg')?.raw ?? ''}`);
  return parts.join('&');
}

/** The XML of a DEFLATE + base64 redirect-binding parameter. */
function inflateParam(params, key) {
  if (!params.has(key)) throw new Error(`no ${key} parameter`);
  return zlib.inflateRawSync(Buffer.from(base64Param(params, key), 'base64')).toString('utf8');
}

/** What samlify's redirect flow wants: the parameters (it decodes them again) and the octet string. */
function samlifyRedirectRequest(params) {
  return {
    query: {
      SAMLRequest: base64Param(params, 'SAMLRequest'),
      RelayState: params.get('RelayState')?.value,
      SigAlg: params.get('SigAlg')?.value,
      Signature: base64Param(params, 'Signature'),
    },
    octetString: redirectOctetString(params, 'SAMLRequest'),
  };
}

/** The log fields about a redirect-binding message's RelayState and signature. */
function redirectSignatureInfo(params, certB64) {
  return {
    relay_state: params.get('RelayState')?.value ?? null,
    signed: params.has('Signature'),
    sig_alg: params.get('SigAlg')?.value ?? null,
    signature_valid: params.has('SAMLRequest') ? verifyRedirectSignature(params, 'SAMLRequest', certB64) : null,
  };
}

/** true/false when the message is signed and a certificate to check it with is configured. */
function verifyRedirectSignature(params, messageKey, certB64) {
  if (!params.has('Signature') || !certB64) return null;
  const hash = REDIRECT_SIG_HASH[params.get('SigAlg')?.value];
  if (!hash) return false;
  try {
    const key = new crypto.X509Certificate(Buffer.from(certB64, 'base64')).publicKey;
    return crypto.verify(hash, Buffer.from(redirectOctetString(params, messageKey)), key,
      Buffer.from(base64Param(params, 'Signature'), 'base64'));
  } catch {
    return false;
  }
}

// The fields of inbound requests that /test/log reports, read before samlify judges the request
// so that refused requests are logged with their ID and Issuer too.

function protocolRoot(xml, localName) {
  const root = parseXml(xml).documentElement;
  if (root.localName !== localName || root.namespaceURI !== NS.protocol) throw new Error(`expected samlp:${localName}, got ${root.tagName}`);
  const attr = (name) => (root.hasAttribute(name) ? root.getAttribute(name) : null);
  return { root, attr };
}

function describeAuthnRequest(xml) {
  const { root, attr } = protocolRoot(xml, 'AuthnRequest');
  const policy = childByName(root, 'NameIDPolicy');
  return {
    id: attr('ID'),
    issuer: childByName(root, 'Issuer')?.textContent.trim() ?? null,
    issue_instant: attr('IssueInstant'),
    destination: attr('Destination'),
    acs_url: attr('AssertionConsumerServiceURL'),
    protocol_binding: attr('ProtocolBinding'),
    force_authn: attr('ForceAuthn'),
    is_passive: attr('IsPassive'),
    name_id_policy: policy ? { format: policy.getAttribute('Format') || null, allow_create: policy.getAttribute('AllowCreate') || null } : null,
    xml,
  };
}

function describeLogoutRequest(xml) {
  const { root, attr } = protocolRoot(xml, 'LogoutRequest');
  const nameId = childByName(root, 'NameID');
  const sessionIndexes = elementChildren(root).filter((n) => n.localName === 'SessionIndex').map((n) => n.textContent.trim());
  return {
    id: attr('ID'),
    issuer: childByName(root, 'Issuer')?.textContent.trim() ?? null,
    issue_instant: attr('IssueInstant'),
    destination: attr('Destination'),
    name_id: nameId ? nameId.textContent.trim() : null,
    name_id_format: nameId?.getAttribute('Format') || null,
    session_index: sessionIndexes[0] ?? null,
    session_indexes: sessionIndexes,
    xml,
  };
}

// samlify rejects with Error objects, but its schema validator with bare strings.
const errorText = (err) => (err instanceof Error ? err.message : String(err));

// ---------------------------------------------------------------------------------------------
// Schema validation. @authenio/samlify-node-xmllint runs xmllint compiled to asm.js by
// emscripten, which has three habits a server cannot live with on its main thread: the first run
// compiles for about five seconds, every run prints a line on stdout (which is this program's
// one-line contract), and every run adds process listeners (one of which exits the process on the
// next stdout 'drain'). So it runs in a worker thread with a silenced stdout, compiles there in
// parallel with the key generation (the ready line waits for it), and its listeners are removed
// after each run.

const VALIDATOR_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
process.stdout.write = (chunk, encoding, callback) => {
  const done = typeof encoding === 'function' ? encoding : callback;
  if (done) process.nextTick(done);
  return true;
};
const validator = require(workerData.modulePath);
async function validate(xml) {
  const listeners = new Set(process.listeners('uncaughtException'));
  const printError = console.error;
  const printed = [];
  console.error = (...args) => { printed.push(args.join(' ')); printError(...args); };
  try {
    await validator.validate(xml);
    return null;
  } catch (err) {
    return printed.join('; ') || String(err && err.message || err);
  } finally {
    console.error = printError;
    for (const l of process.listeners('uncaughtException')) if (!listeners.has(l)) process.removeListener('uncaughtException', l);
    process.stdout.removeAllListeners('drain');
  }
}
validate(workerData.warmUp).then(() => parentPort.postMessage({ ready: true }));
parentPort.on('message', async ({ id, xml }) => parentPort.postMessage({ id, error: await validate(xml) }));
`;

let sharedValidator = null;

/** samlify's schema validator ({ validate(xml), ready }), one worker per process. */
export function schemaValidator() {
  if (sharedValidator) return sharedValidator;
  const warmUp = logoutResponseXml({ id: newId(), issuer: 'urn:warm-up', destination: 'urn:warm-up', inResponseTo: null });
  const worker = new Worker(VALIDATOR_WORKER, {
    eval: true,
    workerData: { modulePath: createRequire(import.meta.url).resolve('@authenio/samlify-node-xmllint'), warmUp },
  });
  const pending = new Map();
  let nextId = 0;
  let warm;
  const ready = new Promise((resolve) => { warm = resolve; });
  worker.on('message', ({ ready: isReady, id, error }) => {
    if (isReady) return warm();
    const { resolve, reject } = pending.get(id);
    pending.delete(id);
    if (pending.size === 0) worker.unref();
    if (error) reject(new Error(`schema validation failed: ${error}`));
    else resolve('SUCCESS_VALIDATE_XML');
  });
  worker.on('error', (err) => {
    process.stderr.write(`upstream-saml: schema validator died: ${err.stack || err}\n`);
    for (const { reject } of pending.values()) reject(err);
    pending.clear();
    sharedValidator = null;
  });
  // An idle validator does not keep the process alive (the HTTP server does); one with work
  // pending does. unref() comes after the listeners, since adding them refs the worker again.
  worker.unref();
  sharedValidator = {
    ready, // settles once the first (warm-up) run has compiled xmllint
    validate: (xml) => new Promise((resolve, reject) => {
      const id = nextId++;
      if (pending.size === 0) worker.ref();
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, xml });
    }),
  };
  return sharedValidator;
}

// ---------------------------------------------------------------------------------------------
// HTML pages. Plain forms, so a browser with JavaScript disabled can go through them; the
// auto-submit script only saves JavaScript-enabled browsers a click.

function page(title, body, { autoSubmit = false } = {}) {
  const script = autoSubmit ? '<script>document.forms[0].submit();</script>' : '';
  return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>`
    + `<body><h1>${esc(title)}</h1>${body}${script}</body></html>\n`;
}
const hidden = (name, value) => (value === undefined || value === null
  ? '' : `<input type="hidden" name="${esc(name)}" value="${esc(value)}">`);

function loginPage({ requestId, relayState, spEntityId }) {
  return page('Test SAML IdP: sign in',
    `<p>Sign in to continue to ${esc(spEntityId)}.</p>`
    + '<form method="post" action="/sso/login">'
    + hidden('request_id', requestId) + hidden('RelayState', relayState)
    + '<p><label for="login">Login</label> <input id="login" name="login" type="text" autocomplete="username" autofocus></p>'
    + '<p><button type="submit">Sign in</button></p></form>');
}

function postPage(title, action, fields) {
  return page(title,
    `<form method="post" action="${esc(action)}">`
    + Object.entries(fields).map(([k, v]) => hidden(k, v)).join('')
    + '<p><button type="submit">Continue</button></p></form>',
    { autoSubmit: true });
}

// ---------------------------------------------------------------------------------------------
// The identity provider.

export class TestSamlIdp {
  constructor(config) {
    if (!config?.sp?.entity_id || !config.sp.acs) throw new Error('config.sp.entity_id and config.sp.acs are required');
    this.config = config;
    // samlify requires a schema validator before it parses anything; xmllint checks inbound
    // messages against the SAML 2.0, XML-DSig and XML-Enc schemas. Started first, so that it
    // compiles while the keys are made.
    samlify.setSchemaValidator(schemaValidator());
    this.sp = {
      entityId: config.sp.entity_id,
      acs: config.sp.acs,
      slo: config.sp.slo ?? null,
      signingCert: config.sp.signing_cert ? certToB64(config.sp.signing_cert) : null,
      encryptionCert: config.sp.encryption_cert ? certToB64(config.sp.encryption_cert) : null,
    };
    this.users = config.users ?? {};
    this.sign = config.sign ?? 'both';
    if (!['both', 'response', 'assertion'].includes(this.sign)) throw new Error(`sign must be both, response or assertion, not ${this.sign}`);
    this.dataEncryption = DATA_ENCRYPTION[config.encryption_algorithm ?? 'aes128-gcm'];
    if (!this.dataEncryption) throw new Error(`unknown encryption_algorithm ${config.encryption_algorithm}`);
    this.idpKey = makeKeyAndCert('tessera-e2e-saml-idp');
    this.attackerKey = makeKeyAndCert('tessera-e2e-saml-attacker');
    this.log = [];
    this.pending = new Set(); // IDs of the AuthnRequests the login form may answer
    this.issued = new Map(); // assertion or response ID -> the /test/response answer, for `reuse`
    this.sessions = []; // { name_id, session_index } of every response issued
  }

  async listen() {
    this.server = http.createServer((req, res) => this.route(req, res).catch((err) => {
      const status = err instanceof HttpError ? err.status : 500;
      process.stderr.write(`upstream-saml: ${req.method} ${req.url}: ${status === 500 ? err.stack : err.message}\n`);
      if (!res.headersSent) send(res, status, 'text/plain; charset=utf-8', `${status === 500 ? 'internal error' : 'bad request'}: ${err.message}\n`);
    }));
    await new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port ?? 0, '127.0.0.1', resolve);
    });
    this.port = this.server.address().port;
    this.base = `http://127.0.0.1:${this.port}`;
    this.entityId = this.config.entity_id ?? `${this.base}/metadata`;
    this.metadata = metadataXml({
      entityId: this.entityId, base: this.base, certB64: this.idpKey.certB64,
      wantAuthnRequestsSigned: Boolean(this.sp.signingCert),
    });
    this.samlIdp = samlify.IdentityProvider({
      metadata: this.metadata,
      privateKey: this.idpKey.keyPem,
      wantLogoutRequestSigned: Boolean(this.sp.signingCert),
    });
    this.samlSp = samlify.ServiceProvider({
      entityID: this.sp.entityId,
      authnRequestsSigned: Boolean(this.sp.signingCert),
      signingCert: this.sp.signingCert ?? undefined,
      encryptCert: this.sp.encryptionCert ?? undefined,
      assertionConsumerService: [{ Binding: BINDING.post, Location: this.sp.acs }],
      singleLogoutService: this.sp.slo ? [{ Binding: BINDING.post, Location: this.sp.slo }] : [],
    });
    // Ready means every endpoint answers at once: the first AuthnRequest must not wait seconds
    // for xmllint to compile behind a browser's page-load timeout.
    await schemaValidator().ready;
    return { base: this.base, port: this.port, metadata_url: `${this.base}/metadata`, entity_id: this.entityId };
  }

  close() {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  record(entry) {
    const full = { seq: this.log.length + 1, at: new Date().toISOString(), ...entry };
    this.log.push(full);
    // The full XML stays in /test/log; stderr gets the rest, one line per event.
    process.stderr.write(`upstream-saml: ${JSON.stringify({ ...full, xml: undefined })}\n`);
    return full;
  }

  async route(req, res) {
    const url = new URL(req.url, 'http://127.0.0.1');
    const key = `${req.method} ${url.pathname}`;
    switch (key) {
      case 'GET /metadata':
        return send(res, 200, 'application/samlmetadata+xml', this.metadata);
      case 'GET /sso':
        return this.ssoRedirect(res, url);
      case 'POST /sso':
        return this.ssoPost(res, await readForm(req));
      case 'POST /sso/login':
        return this.ssoLogin(res, await readForm(req));
      case 'GET /idp-initiated':
        return this.idpInitiated(res, url);
      case 'GET /slo':
        return this.sloRedirect(res, url);
      case 'GET /test/log':
        return sendJson(res, 200, this.log);
      case 'DELETE /test/log':
        this.log = [];
        return sendJson(res, 200, []);
      case 'GET /test/variants':
        return sendJson(res, 200, VARIANTS);
      case 'POST /test/response':
        return this.testResponse(res, await readJson(req));
      case 'POST /test/logout-response':
        return this.testLogoutResponse(res, await readJson(req));
      default:
        return send(res, 404, 'text/plain; charset=utf-8', `not found: ${req.method} ${url.pathname}\n`);
    }
  }

  refuse(res, entry, reason) {
    this.record({ ...entry, refused: reason });
    return send(res, 400, 'text/html; charset=utf-8', page('Test SAML IdP: request refused', `<p>${esc(reason)}</p>`));
  }

  // --- SP-initiated sign-in -------------------------------------------------------------------

  async ssoRedirect(res, url) {
    const params = parseRawQuery(url.search);
    const entry = { type: 'authn_request', binding: 'HTTP-Redirect', ...redirectSignatureInfo(params, this.sp.signingCert) };
    let parsed;
    try {
      Object.assign(entry, describeAuthnRequest(inflateParam(params, 'SAMLRequest')));
      parsed = await this.samlIdp.parseLoginRequest(this.samlSp, 'redirect', samlifyRedirectRequest(params));
    } catch (err) {
      return this.refuse(res, entry, `AuthnRequest refused: ${errorText(err)}`);
    }
    return this.acceptAuthnRequest(res, entry, parsed);
  }

  async ssoPost(res, form) {
    const entry = { type: 'authn_request', binding: 'HTTP-POST', relay_state: form.get('RelayState'), signed: null, signature_valid: null };
    let parsed;
    try {
      if (!form.get('SAMLRequest')) throw new Error('no SAMLRequest field');
      Object.assign(entry, describeAuthnRequest(Buffer.from(form.get('SAMLRequest'), 'base64').toString('utf8')));
      entry.signed = /<(\w+:)?Signature[\s>]/.test(entry.xml);
      parsed = await this.samlIdp.parseLoginRequest(this.samlSp, 'post', { body: Object.fromEntries(form) });
    } catch (err) {
      return this.refuse(res, entry, `AuthnRequest refused: ${errorText(err)}`);
    }
    // samlify refuses a bad or missing signature when one is required, so getting here with a
    // signing certificate configured means the signature verified.
    if (this.sp.signingCert) entry.signature_valid = true;
    return this.acceptAuthnRequest(res, entry, parsed);
  }

  acceptAuthnRequest(res, entry, parsed) {
    // samlify checked the schema and the signature; the rest of what a real IdP checks before it
    // answers is left to the application.
    if (parsed.extract.request.id !== entry.id) return this.refuse(res, entry, 'samlify and the harness read different IDs');
    if (entry.issuer !== this.sp.entityId) return this.refuse(res, entry, `unknown Issuer ${entry.issuer}, expected ${this.sp.entityId}`);
    if (entry.acs_url !== null && entry.acs_url !== this.sp.acs) return this.refuse(res, entry, `AssertionConsumerServiceURL ${entry.acs_url} is not the registered ${this.sp.acs}`);
    if (entry.protocol_binding !== null && entry.protocol_binding !== BINDING.post) return this.refuse(res, entry, `unsupported ProtocolBinding ${entry.protocol_binding}`);
    if (entry.destination !== null && entry.destination !== `${this.base}/sso`) return this.refuse(res, entry, `Destination ${entry.destination} is not ${this.base}/sso`);
    this.record(entry);
    this.pending.add(entry.id);
    return send(res, 200, 'text/html; charset=utf-8', loginPage({ requestId: entry.id, relayState: entry.relay_state, spEntityId: this.sp.entityId }));
  }

  async ssoLogin(res, form) {
    const requestId = form.get('request_id');
    const login = form.get('login') ?? '';
    const entry = { type: 'login', request_id: requestId, login };
    if (!this.pending.has(requestId)) return this.refuse(res, entry, `no AuthnRequest ${requestId} is pending`);
    if (!Object.hasOwn(this.users, login)) return this.refuse(res, entry, `unknown user ${JSON.stringify(login)}`);
    this.record(entry);
    // An SP that gave an encryption certificate gets its assertions encrypted, as a real IdP
    // configured with that certificate does.
    const browserVariant = this.config.sp.encryption_cert ? 'encrypted' : 'valid';
    const out = await this.buildResponse({ login, inResponseTo: requestId, relayState: form.get('RelayState') ?? null, variant: browserVariant, via: 'sso' });
    return send(res, 200, 'text/html; charset=utf-8', postPage('Test SAML IdP: signed in', out.acs, { SAMLResponse: out.SAMLResponse, RelayState: out.RelayState }));
  }

  // --- IdP-initiated sign-in ------------------------------------------------------------------

  async idpInitiated(res, url) {
    const login = url.searchParams.get('login') ?? '';
    const relayState = url.searchParams.get('relay_state');
    const entry = { type: 'idp_initiated', login, relay_state: relayState };
    if (!Object.hasOwn(this.users, login)) return this.refuse(res, entry, `unknown user ${JSON.stringify(login)}`);
    this.record(entry);
    const out = await this.buildResponse({ login, inResponseTo: null, relayState, variant: this.config.sp.encryption_cert ? 'encrypted' : 'valid', via: 'idp-initiated' });
    return send(res, 200, 'text/html; charset=utf-8', postPage('Test SAML IdP: signed in', out.acs, { SAMLResponse: out.SAMLResponse, RelayState: out.RelayState }));
  }

  // --- Single logout --------------------------------------------------------------------------

  async sloRedirect(res, url) {
    const params = parseRawQuery(url.search);
    const entry = { type: 'logout_request', binding: 'HTTP-Redirect', ...redirectSignatureInfo(params, this.sp.signingCert) };
    try {
      Object.assign(entry, describeLogoutRequest(inflateParam(params, 'SAMLRequest')));
      entry.known_session = this.sessions.some((s) => s.name_id === entry.name_id
        && (entry.session_indexes.length === 0 || entry.session_indexes.includes(s.session_index)));
      await this.samlIdp.parseLogoutRequest(this.samlSp, 'redirect', samlifyRedirectRequest(params));
    } catch (err) {
      return this.refuse(res, entry, `LogoutRequest refused: ${errorText(err)}`);
    }
    if (entry.issuer !== this.sp.entityId) return this.refuse(res, entry, `unknown Issuer ${entry.issuer}, expected ${this.sp.entityId}`);
    if (entry.destination !== null && entry.destination !== `${this.base}/slo`) return this.refuse(res, entry, `Destination ${entry.destination} is not ${this.base}/slo`);
    if (!this.sp.slo) return this.refuse(res, entry, 'no sp.slo configured to answer to');
    this.record(entry);
    const out = this.buildLogoutResponse({ inResponseTo: entry.id, relayState: entry.relay_state, via: 'slo' });
    return send(res, 200, 'text/html; charset=utf-8', postPage('Test SAML IdP: signed out', out.slo, { SAMLResponse: out.SAMLResponse, RelayState: out.RelayState }));
  }

  buildLogoutResponse({ inResponseTo, relayState, variant = 'valid', via }) {
    const id = newId();
    let xml = logoutResponseXml({
      id,
      issuer: variant === 'wrong_issuer' ? `${this.base}/evil-idp/metadata` : this.entityId,
      destination: this.sp.slo,
      inResponseTo,
      failed: variant === 'status_failure',
    });
    if (variant !== 'unsigned') xml = signXml(xml, 'root', variant === 'forged' ? this.attackerKey : this.idpKey);
    this.record({ type: 'logout_response_issued', via, variant, response_id: id, in_response_to: inResponseTo ?? null });
    return { SAMLResponse: Buffer.from(xml, 'utf8').toString('base64'), RelayState: relayState ?? null, response_id: id, slo: this.sp.slo };
  }

  // --- Responses ------------------------------------------------------------------------------

  userAttributes(login, { emailSuffix = '' } = {}) {
    const user = this.users[login] ?? {};
    // An empty list means "no such attribute", as real IdPs send it, not an Attribute without values.
    return Object.entries(user)
      .filter(([name, value]) => name !== 'name_id' && name !== 'name_id_format' && !(Array.isArray(value) && value.length === 0))
      .map(([name, value]) => [name, (Array.isArray(value) ? value : [value]).map((v) => (name === 'email' ? `${v}${emailSuffix}` : String(v)))]);
  }

  nameIdOf(login) {
    const user = this.users[login] ?? {};
    return { nameId: String(user.name_id ?? login), nameIdFormat: user.name_id_format ?? NAMEID.persistent };
  }

  /**
   * Builds a SAMLResponse for `login` in one of the VARIANTS; see the header comment for the
   * signing and encryption algorithms.
   */
  async buildResponse({ login, inResponseTo, relayState, variant = 'valid', evilLogin = 'admin', sign, encryptionAlgorithm, via }) {
    if (!Object.hasOwn(VARIANTS, variant)) throw new HttpError(400, `unknown variant ${variant}`);
    sign = sign ?? this.sign;
    if (!['both', 'response', 'assertion'].includes(sign)) throw new HttpError(400, `sign must be both, response or assertion, not ${sign}`);
    const now = Date.now();
    const minutes = (n) => n * 60_000;
    // When the response was issued, and until when it is valid, per variant.
    let issued = now;
    let validUntil = now + minutes(5);
    if (variant === 'expired') { issued = now - minutes(65); validUntil = now - minutes(60); }
    if (variant === 'not_yet_valid') { issued = now + minutes(60); validUntil = now + minutes(65); }
    if (variant === 'stale_issue_instant') issued = now - minutes(7);
    const { nameId, nameIdFormat } = this.nameIdOf(login);
    const acsUrl = new URL(this.sp.acs);
    const p = {
      responseId: newId(),
      assertionId: newId(),
      sessionIndex: newId('_s'),
      issuer: variant === 'wrong_issuer' ? `${this.base}/evil-idp/metadata` : this.entityId,
      issueInstant: new Date(issued),
      notBefore: new Date(issued),
      notOnOrAfter: new Date(validUntil),
      sessionNotOnOrAfter: new Date(issued + minutes(8 * 60)),
      destination: variant === 'wrong_recipient' ? `${acsUrl.origin}/us-east-1_AnotherPool/saml2/idpresponse` : this.sp.acs,
      audience: variant === 'wrong_audience' ? 'urn:amazon:cognito:sp:us-east-1_AnotherPool' : this.sp.entityId,
      inResponseTo: inResponseTo || null,
      nameId,
      nameIdFormat,
      attributes: this.userAttributes(login),
    };
    p.recipient = p.destination;
    if (variant === 'comment_injection') {
      // The attacker's own account at the IdP is "<victim>.evil.com"; see injectComment.
      p.nameId = `${nameId}.evil.com`;
      p.attributes = this.userAttributes(login, { emailSuffix: '.evil.com' });
    }
    const evil = { ...p, assertionId: newId(), responseId: newId(), ...this.nameIdOf(evilLogin), attributes: this.userAttributes(evilLogin) };
    if (!this.users[evilLogin]) evil.attributes = [['email', [`${evilLogin}@example.com`]]];

    // Which element each variant signs: the wrapping attacks need exactly the signature they
    // wrap, or an SP would refuse them for a broken second signature instead.
    let signAssertion = sign !== 'response';
    let signResponse = sign !== 'assertion';
    if (variant === 'unsigned') { signAssertion = false; signResponse = false; }
    if (variant === 'wrap_xsw1' || variant === 'wrap_xsw2') { signAssertion = false; signResponse = true; }
    if (/^wrap_xsw[3-8]$/.test(variant)) { signAssertion = true; signResponse = false; }
    const failed = variant === 'status_failure';
    if (failed) { signAssertion = false; signResponse = true; }
    const signer = variant === 'forged' ? this.attackerKey : this.idpKey;

    let xml = responseXml(p, failed ? '' : assertionXml(p), { failed });
    if (signAssertion) xml = signXml(xml, 'assertion', signer);
    if (variant === 'encrypted') {
      if (!this.sp.encryptionCert) throw new HttpError(400, 'the encrypted variant needs sp.encryption_cert in the configuration');
      const algorithm = encryptionAlgorithm ? DATA_ENCRYPTION[encryptionAlgorithm] : this.dataEncryption;
      if (!algorithm) throw new HttpError(400, `unknown encryption_algorithm ${encryptionAlgorithm}`);
      xml = await encryptAssertion(xml, this.sp.encryptionCert, algorithm);
    }
    if (signResponse) xml = signXml(xml, 'root', signer);

    let evilNameId = null;
    if (variant === 'tampered') {
      xml = tamper(xml, evil.nameId, evil.attributes.find(([n]) => n === 'email')?.[1][0] ?? `${evilLogin}@example.com`);
      evilNameId = evil.nameId;
    } else if (variant.startsWith('wrap_')) {
      xml = applyWrapping(variant, xml, assertionXml(evil), responseXml(evil, assertionXml(evil)));
      evilNameId = evil.nameId;
    } else if (variant === 'comment_injection') {
      const email = p.attributes.find(([n]) => n === 'email')?.[1][0];
      xml = injectComment(xml, p.nameId, email);
      evilNameId = nameId;
    }

    const out = {
      SAMLResponse: Buffer.from(xml, 'utf8').toString('base64'),
      RelayState: relayState ?? null,
      assertion_id: failed ? null : p.assertionId,
      response_id: p.responseId,
      name_id: failed ? null : p.nameId,
      evil_name_id: evilNameId,
      session_index: failed ? null : p.sessionIndex,
      variant,
      signed: { response: signResponse, assertion: signAssertion },
      acs: this.sp.acs,
    };
    if (!failed) this.sessions.push({ name_id: p.nameId, session_index: p.sessionIndex });
    this.issued.set(p.responseId, out);
    if (out.assertion_id) this.issued.set(out.assertion_id, out);
    this.record({
      type: 'response_issued', via, variant, login, signed: out.signed,
      response_id: p.responseId, assertion_id: out.assertion_id, in_response_to: p.inResponseTo,
      name_id: out.name_id, evil_name_id: evilNameId, session_index: out.session_index, relay_state: out.RelayState,
    });
    return out;
  }

  async testResponse(res, body) {
    if (body.reuse !== undefined) {
      const out = this.issued.get(body.reuse);
      if (!out) return sendJson(res, 404, { error: `no response or assertion ${body.reuse} was issued` });
      this.record({ type: 'response_reused', id: body.reuse });
      return sendJson(res, 200, out);
    }
    const login = body.login ?? '';
    if (!Object.hasOwn(this.users, login)) return sendJson(res, 400, { error: `unknown user ${JSON.stringify(login)}` });
    try {
      const out = await this.buildResponse({
        login,
        inResponseTo: body.in_response_to ?? null,
        relayState: body.relay_state ?? null,
        variant: body.variant ?? 'valid',
        evilLogin: body.evil_login ?? 'admin',
        sign: body.sign,
        encryptionAlgorithm: body.encryption_algorithm,
        via: 'test',
      });
      return sendJson(res, 200, out);
    } catch (err) {
      if (err instanceof HttpError) return sendJson(res, err.status, { error: err.message });
      throw err;
    }
  }

  testLogoutResponse(res, body) {
    const variant = body.variant ?? 'valid';
    if (!LOGOUT_RESPONSE_VARIANTS.includes(variant)) return sendJson(res, 400, { error: `unknown variant ${variant}; one of ${LOGOUT_RESPONSE_VARIANTS.join(', ')}` });
    if (!this.sp.slo) return sendJson(res, 400, { error: 'no sp.slo configured' });
    return sendJson(res, 200, this.buildLogoutResponse({ inResponseTo: body.in_response_to ?? null, relayState: body.relay_state ?? null, variant, via: 'test' }));
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing.

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
const sendJson = (res, status, value) => send(res, status, 'application/json', `${JSON.stringify(value)}\n`);

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 4 * 1024 * 1024) throw new Error('request body over 4 MiB');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
const readForm = async (req) => new URLSearchParams(await readBody(req));
async function readJson(req) {
  const text = await readBody(req);
  try {
    return text.trim() ? JSON.parse(text) : {};
  } catch (err) {
    throw new HttpError(400, `the body is not JSON: ${err.message}`);
  }
}

async function main() {
  const config = JSON.parse(process.env.TESSERA_E2E_SAML || 'null');
  if (!config) throw new Error('set TESSERA_E2E_SAML to the JSON configuration (see the header of this file)');
  const idp = new TestSamlIdp(config);
  const ready = await idp.listen();
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  process.stderr.write(`upstream-saml: listening on ${ready.base} as ${ready.entity_id}\n`);
  const stop = () => idp.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

// Started as a program it serves; imported (by upstream-saml.smoke.mjs) it only exports helpers.
if (process.argv[1] && pathToFileURL(fs.realpathSync(process.argv[1])).href === import.meta.url) {
  main().catch((err) => {
    process.stderr.write(`upstream-saml: ${err.stack || err}\n`);
    process.exit(1);
  });
}
