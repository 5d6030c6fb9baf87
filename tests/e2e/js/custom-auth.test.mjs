// amazon-cognito-identity-js's CUSTOM_AUTH against a tessera pool whose DefineAuthChallenge,
// CreateAuthChallenge and VerifyAuthChallengeResponse functions run on the e2e webhook
// receiver (tests/e2e/test_triggers.py): a passwordless one-time code answered through the
// library's `customChallenge` callback (first a wrong code, then the right one), and the
// password-first variant (SRP, then the code).
// Passed in by the Python test:
//   TESSERA_E2E_ENDPOINT, TESSERA_E2E_ISSUER, TESSERA_E2E_POOL_ID, TESSERA_E2E_CLIENT_ID,
//   TESSERA_E2E_USERNAME, TESSERA_E2E_PASSWORD, TESSERA_E2E_CODE (the code the functions expect)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import cognito from 'amazon-cognito-identity-js';
import { MemoryStorage } from './memory-storage.mjs';

const { AuthenticationDetails, CognitoUser, CognitoUserPool } = cognito;

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run by tests/e2e/test_triggers.py)`);
  return value;
};
const endpoint = env('TESSERA_E2E_ENDPOINT');
const issuer = env('TESSERA_E2E_ISSUER');
const poolId = env('TESSERA_E2E_POOL_ID');
const clientId = env('TESSERA_E2E_CLIENT_ID');
const username = env('TESSERA_E2E_USERNAME');
const password = env('TESSERA_E2E_PASSWORD');
const code = env('TESSERA_E2E_CODE');

function newUser() {
  const pool = new CognitoUserPool({ UserPoolId: poolId, ClientId: clientId, endpoint, Storage: new MemoryStorage() });
  const user = new CognitoUser({ Username: username, Pool: pool, Storage: new MemoryStorage() });
  user.setAuthenticationFlowType('CUSTOM_AUTH');
  return user;
}

// Runs a sign-in to its end; `start` begins it with the given callbacks. The challenge
// callback answers `answers` in turn and records the parameters it was shown.
function signIn(user, start, answers) {
  const shown = [];
  return new Promise((resolve, reject) => {
    const callbacks = {
      onSuccess: (session) => resolve({ session, shown }),
      onFailure: (error) => reject(error),
      customChallenge(parameters) {
        shown.push(parameters);
        const answer = answers.shift();
        if (answer === undefined) {
          reject(new Error(`asked once more than expected: ${JSON.stringify(parameters)}`));
          return;
        }
        user.sendCustomChallengeAnswer(answer, callbacks);
      },
    };
    start(callbacks);
  });
}

function checkTokens(session) {
  assert.ok(session.isValid());
  const id = session.getIdToken().decodePayload();
  assert.equal(id.iss, issuer);
  assert.equal(id['cognito:username'], username);
  assert.equal(session.getAccessToken().decodePayload().client_id, clientId);
  assert.ok(session.getRefreshToken().getToken());
}

test('a passwordless one-time code through customChallenge', async () => {
  const user = newUser();
  const { session, shown } = await signIn(
    user,
    (callbacks) => user.initiateAuth(new AuthenticationDetails({ Username: username }), callbacks),
    ['000000', code],
  );
  checkTokens(session);
  assert.equal(shown.length, 2);
  assert.equal(shown[0].hint, 'code sent by e-mail');
  assert.equal(shown[0].attempt, '1');
  assert.equal(shown[1].attempt, '2');
});

test('the password first (SRP), then the code', async () => {
  const user = newUser();
  const { session, shown } = await signIn(
    user,
    (callbacks) => user.authenticateUser(new AuthenticationDetails({ Username: username, Password: password }), callbacks),
    [code],
  );
  checkTokens(session);
  assert.equal(shown.length, 1);
});

test('a wrong password ends the password-first sign-in', async () => {
  const user = newUser();
  await assert.rejects(
    signIn(
      user,
      (callbacks) => user.authenticateUser(new AuthenticationDetails({ Username: username, Password: `${password}-wrong` }), callbacks),
      [],
    ),
    (error) => error.code === 'NotAuthorizedException' && error.message === 'Incorrect username or password.',
  );
});
