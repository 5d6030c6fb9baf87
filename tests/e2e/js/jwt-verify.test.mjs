// aws-jwt-verify (npm) verifies tessera's tokens against the pool's JWKS.
// CognitoJwtVerifier derives an AWS issuer from the pool id and cannot be pointed elsewhere
// (wire facts 3.10), so this uses the generic JwtVerifier with tessera's issuer and jwksUri,
// plus the library's own Cognito checks (validateCognitoJwtFields: token_use, aud/client_id).
// Run by tests/e2e/test_js_clients.py, which passes:
//   TESSERA_E2E_ISSUER, TESSERA_E2E_CLIENT_ID      the pool and its client
//   TESSERA_E2E_OTHER_CLIENT_ID                    another client of the same pool
//   TESSERA_E2E_USERNAME                           the signed-in user
//   TESSERA_E2E_ID_TOKEN, TESSERA_E2E_ACCESS_TOKEN tokens of a USER_PASSWORD_AUTH sign-in
//   TESSERA_E2E_OTHER_ISSUER, TESSERA_E2E_OTHER_POOL_CLIENT_ID,
//   TESSERA_E2E_OTHER_ID_TOKEN, TESSERA_E2E_OTHER_ACCESS_TOKEN   a second pool of the same server
//
// Expiry is tested with a fake clock: aws-jwt-verify checks exp against Date.now(), which the
// test moves forward with node:test's mock (no sleeping).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createSign } from 'node:crypto';
import { JwtVerifier } from 'aws-jwt-verify';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import { validateCognitoJwtFields } from 'aws-jwt-verify/cognito-verifier';
import {
  CognitoJwtInvalidClientIdError,
  CognitoJwtInvalidTokenUseError,
  JwtExpiredError,
  JwtInvalidAudienceError,
  JwtInvalidIssuerError,
  JwtInvalidScopeError,
  JwtInvalidSignatureError,
  KidNotFoundInJwksError,
  WaitPeriodNotYetEndedJwkError,
} from 'aws-jwt-verify/error';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run by tests/e2e/test_js_clients.py)`);
  return value;
};
const issuer = env('TESSERA_E2E_ISSUER');
const clientId = env('TESSERA_E2E_CLIENT_ID');
const otherClientId = env('TESSERA_E2E_OTHER_CLIENT_ID');
const username = env('TESSERA_E2E_USERNAME');
const idToken = env('TESSERA_E2E_ID_TOKEN');
const accessToken = env('TESSERA_E2E_ACCESS_TOKEN');
const otherIssuer = env('TESSERA_E2E_OTHER_ISSUER');
const otherPoolClientId = env('TESSERA_E2E_OTHER_POOL_CLIENT_ID');
const otherIdToken = env('TESSERA_E2E_OTHER_ID_TOKEN');
const otherAccessToken = env('TESSERA_E2E_OTHER_ACCESS_TOKEN');

const SCOPE = 'aws.cognito.signin.user.admin';
const jwksUri = (iss) => `${iss}/.well-known/jwks.json`;

// aws-jwt-verify's own fetcher speaks HTTPS only (node:https); tessera listens on plain HTTP in
// these tests, so the JWKS cache gets a fetcher on the global fetch. The verifier still downloads
// the JWKS from jwksUri itself and picks the key by kid; the fetcher records what it fetched.
const fetched = [];
const httpFetcher = {
  async fetch(uri) {
    fetched.push(uri);
    const res = await fetch(uri);
    assert.equal(res.status, 200, `GET ${uri}`);
    return res.arrayBuffer();
  },
};

function idVerifier(iss = issuer, audience = clientId) {
  return JwtVerifier.create(
    {
      issuer: iss,
      audience,
      jwksUri: jwksUri(iss),
      customJwtCheck: ({ payload }) => validateCognitoJwtFields(payload, { tokenUse: 'id', clientId: audience }),
    },
    { jwksCache: new SimpleJwksCache({ fetcher: httpFetcher }) },
  );
}

function accessVerifier(iss = issuer, client = clientId) {
  return JwtVerifier.create(
    {
      issuer: iss,
      audience: null, // access tokens have no aud; client_id is checked below
      jwksUri: jwksUri(iss),
      scope: [SCOPE],
      customJwtCheck: ({ payload }) => validateCognitoJwtFields(payload, { tokenUse: 'access', clientId: client }),
    },
    { jwksCache: new SimpleJwksCache({ fetcher: httpFetcher }) },
  );
}

// --- token surgery --------------------------------------------------------------------------
const b64url = (buf) => Buffer.from(buf).toString('base64url');
const part = (token, i) => JSON.parse(Buffer.from(token.split('.')[i], 'base64url').toString('utf8'));

/** The same header and signature around a changed payload. */
function tamper(token, changes) {
  const [header, , signature] = token.split('.');
  const payload = b64url(JSON.stringify({ ...part(token, 1), ...changes }));
  return `${header}.${payload}.${signature}`;
}

/** Claims re-signed with a key of our own, keeping tessera's kid: what an attacker can make. */
const { privateKey: foreignKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
function forge(token, changes = {}) {
  const header = b64url(JSON.stringify({ kid: part(token, 0).kid, alg: 'RS256' }));
  const payload = b64url(JSON.stringify({ ...part(token, 1), ...changes }));
  const signer = createSign('RSA-SHA256');
  signer.update(`${header}.${payload}`);
  return `${header}.${payload}.${b64url(signer.sign(foreignKey))}`;
}

function refusedWith(...classes) {
  return (err) => {
    assert.ok(
      classes.some((c) => err instanceof c),
      `expected ${classes.map((c) => c.name).join(' or ')}, got ${err?.constructor?.name}: ${err?.message}`,
    );
    return true;
  };
}

// the verifiers of the pool under test, shared so that their JWKS cache is used as in an app
const ids = idVerifier();
const accesses = accessVerifier();

test('the ID token verifies (issuer, audience = client id, token_use id)', async () => {
  const payload = await ids.verify(idToken);
  assert.equal(payload.token_use, 'id');
  assert.equal(payload.aud, clientId);
  assert.equal(payload.iss, issuer);
  assert.equal(payload['cognito:username'], username);
  assert.deepEqual(fetched, [jwksUri(issuer)], 'the JWKS came from the pool jwksUri');
  // the kid is one of the pool's keys
  const jwks = await (await fetch(jwksUri(issuer))).json();
  assert.ok(jwks.keys.some((k) => k.kid === part(idToken, 0).kid));
});

test('the access token verifies (no audience; client_id, token_use access, scope)', async () => {
  const payload = await accesses.verify(accessToken);
  assert.equal(payload.token_use, 'access');
  assert.equal(payload.client_id, clientId);
  assert.equal(payload.username, username);
  assert.equal(payload.aud, undefined);
  assert.equal(payload.scope, SCOPE);
});

test('verifySync works from the cached JWKS too', () => {
  assert.equal(ids.verifySync(idToken).token_use, 'id');
  assert.equal(accesses.verifySync(accessToken).token_use, 'access');
});

test('each verifier refuses the other kind of token', async () => {
  // an access token has no aud, so the ID verifier's audience check fails first
  await assert.rejects(ids.verify(accessToken), refusedWith(JwtInvalidAudienceError));
  // an ID token has no scope, so the access verifier's scope check fails first
  await assert.rejects(accesses.verify(idToken), refusedWith(JwtInvalidScopeError));
  // and validateCognitoJwtFields on its own refuses it for its token_use
  const payload = await ids.verify(idToken);
  assert.throws(
    () => validateCognitoJwtFields(payload, { tokenUse: 'access', clientId }),
    refusedWith(CognitoJwtInvalidTokenUseError),
  );
});

test('a tampered token (payload changed, signature kept) is refused', async () => {
  await assert.rejects(ids.verify(tamper(idToken, { 'cognito:username': 'mallory' })), refusedWith(JwtInvalidSignatureError));
  await assert.rejects(ids.verify(tamper(idToken, { exp: part(idToken, 1).exp + 86400 })), refusedWith(JwtInvalidSignatureError));
  await assert.rejects(accesses.verify(tamper(accessToken, { username: 'mallory' })), refusedWith(JwtInvalidSignatureError));
  await assert.rejects(accesses.verify(tamper(accessToken, { client_id: otherClientId })), refusedWith(JwtInvalidSignatureError));
});

test('a token forged with another key under the pool kid and issuer is refused', async () => {
  await assert.rejects(ids.verify(forge(idToken, { 'cognito:username': 'mallory' })), refusedWith(JwtInvalidSignatureError));
  await assert.rejects(accesses.verify(forge(accessToken)), refusedWith(JwtInvalidSignatureError));
});

test('a token of another pool is refused, and verifies with that pool', async () => {
  // the other pool's tokens are real: its own verifiers accept them
  assert.equal((await idVerifier(otherIssuer, otherPoolClientId).verify(otherIdToken)).iss, otherIssuer);
  assert.equal((await accessVerifier(otherIssuer, otherPoolClientId).verify(otherAccessToken)).iss, otherIssuer);
  // this pool's verifiers refuse them: another pool's kid is not in this pool's JWKS (or, were
  // the key shared, the issuer differs). Fresh verifiers, so no back-off from an earlier miss.
  const refused = refusedWith(KidNotFoundInJwksError, JwtInvalidIssuerError, WaitPeriodNotYetEndedJwkError);
  await assert.rejects(idVerifier().verify(otherIdToken), refused);
  await assert.rejects(accessVerifier().verify(otherAccessToken), refused);
  // and the other pool's claims re-labelled with this pool's issuer do not verify either
  await assert.rejects(idVerifier().verify(tamper(otherIdToken, { iss: issuer, aud: clientId })), refused);
  await assert.rejects(ids.verify(forge(idToken, { iss: otherIssuer })), refusedWith(JwtInvalidSignatureError));
});

test('an expired token is refused (verifier clock moved past exp)', async (t) => {
  const realNow = Date.now();
  const { exp, iat } = part(idToken, 1);
  assert.ok(exp > iat, 'exp after iat');
  // before exp (clock moved to halfway through the validity): accepted
  t.mock.method(Date, 'now', () => ((iat + exp) / 2) * 1000);
  assert.equal((await ids.verify(idToken)).token_use, 'id');
  assert.equal((await accesses.verify(accessToken)).token_use, 'access');
  // one minute after exp: refused as expired
  t.mock.method(Date, 'now', () => (exp + 60) * 1000);
  assert.ok(Date.now() > realNow);
  await assert.rejects(ids.verify(idToken), refusedWith(JwtExpiredError));
  await assert.rejects(accesses.verify(accessToken), refusedWith(JwtExpiredError));
  // graceSeconds (the library's only leeway) covering the minute accepts it again
  assert.equal((await ids.verify(idToken, { graceSeconds: 120 })).token_use, 'id');
});

test('a token for another client (wrong audience / client_id) is refused', async () => {
  await assert.rejects(idVerifier(issuer, otherClientId).verify(idToken), refusedWith(JwtInvalidAudienceError));
  await assert.rejects(accessVerifier(issuer, otherClientId).verify(accessToken), refusedWith(CognitoJwtInvalidClientIdError));
});

test('a verifier for another issuer refuses the token', async () => {
  // same JWKS, other issuer string: the iss claim must match exactly
  const v = JwtVerifier.create(
    { issuer: `${issuer}x`, audience: clientId, jwksUri: jwksUri(issuer) },
    { jwksCache: new SimpleJwksCache({ fetcher: httpFetcher }) },
  );
  await assert.rejects(v.verify(idToken), refusedWith(JwtInvalidIssuerError));
});
