// openid-client (npm) runs the client_credentials grant against a tessera pool, with its
// default client authentication (client_secret_post) and with client_secret_basic.
// Run by tests/e2e/test_oauth_client_credentials.py, which passes:
//   TESSERA_E2E_ISSUER, TESSERA_E2E_CLIENT_ID, TESSERA_E2E_CLIENT_SECRET, TESSERA_E2E_SCOPE
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';

const issuer = process.env.TESSERA_E2E_ISSUER;
const clientId = process.env.TESSERA_E2E_CLIENT_ID;
const clientSecret = process.env.TESSERA_E2E_CLIENT_SECRET;
const scope = process.env.TESSERA_E2E_SCOPE;

function claims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
}

for (const [name, auth] of [
  ['client_secret_post', undefined],
  ['client_secret_basic', client.ClientSecretBasic(clientSecret)],
]) {
  test(`clientCredentialsGrant with ${name}`, async () => {
    const config = await client.discovery(new URL(issuer), clientId, clientSecret, auth, {
      execute: [client.allowInsecureRequests],
    });
    const tokens = await client.clientCredentialsGrant(config, { scope });
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(typeof tokens.expires_in, 'number');
    const payload = claims(tokens.access_token);
    assert.equal(payload.iss, issuer);
    assert.equal(payload.client_id, clientId);
    assert.equal(payload.scope, scope);
    assert.equal(payload.token_use, 'access');
  });
}

test('a wrong secret is refused with invalid_client', async () => {
  const config = await client.discovery(new URL(issuer), clientId, clientSecret + 'x', undefined, {
    execute: [client.allowInsecureRequests],
  });
  await assert.rejects(client.clientCredentialsGrant(config, { scope }), (error) => {
    assert.equal(error.error, 'invalid_client');
    return true;
  });
});
