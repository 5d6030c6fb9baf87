// openid-client (npm) loads a tessera pool's discovery document.
// Run by tests/e2e/test_openid_client.py, which starts tessera, creates a pool and an
// app client with a secret, and passes them in:
//   TESSERA_E2E_ISSUER         <public-url>/<poolId>
//   TESSERA_E2E_CLIENT_ID      app client id
//   TESSERA_E2E_CLIENT_SECRET  app client secret
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import * as client from 'openid-client';

const issuer = process.env.TESSERA_E2E_ISSUER;
const clientId = process.env.TESSERA_E2E_CLIENT_ID;
const clientSecret = process.env.TESSERA_E2E_CLIENT_SECRET;

test('environment is set by the pytest driver', () => {
  assert.ok(issuer, 'TESSERA_E2E_ISSUER is not set');
  assert.ok(clientId, 'TESSERA_E2E_CLIENT_ID is not set');
  assert.ok(clientSecret, 'TESSERA_E2E_CLIENT_SECRET is not set');
});

test('openid-client discovers the pool: issuer and jwks_uri agree', async () => {
  const config = await client.discovery(new URL(issuer), clientId, clientSecret, undefined, {
    execute: [client.allowInsecureRequests],
  });
  const metadata = config.serverMetadata();
  assert.equal(metadata.issuer, issuer);
  assert.equal(metadata.jwks_uri, `${issuer}/.well-known/jwks.json`);
  assert.equal(config.clientMetadata().client_id, clientId);

  // the advertised JWKS is served and holds usable RSA public keys
  const res = await fetch(metadata.jwks_uri);
  assert.equal(res.status, 200);
  const jwks = await res.json();
  assert.ok(Array.isArray(jwks.keys) && jwks.keys.length >= 1, JSON.stringify(jwks));
  for (const jwk of jwks.keys) {
    assert.equal(jwk.kty, 'RSA');
    assert.equal(jwk.alg, 'RS256');
    assert.equal(jwk.use, 'sig');
    assert.ok(jwk.kid);
    const key = createPublicKey({ key: jwk, format: 'jwk' });
    assert.equal(key.asymmetricKeyType, 'rsa');
    assert.equal(key.asymmetricKeyDetails.modulusLength, 2048);
  }
});

test('openid-client refuses an unknown pool', async () => {
  const unknown = new URL(issuer);
  unknown.pathname = '/us-east-1_NoSuchPoo';
  await assert.rejects(
    client.discovery(unknown, clientId, clientSecret, undefined, {
      execute: [client.allowInsecureRequests],
    }),
  );
});
