// The browser entry of Amplify JS v6 for js/amplify-passkeys.test.mjs: that test bundles this
// file with esbuild (into a temporary directory, never committed) and injects the bundle into a
// Chromium page on tessera's own origin, because Amplify's passkey code calls
// navigator.credentials, which Node does not have.
//
// It puts Amplify and the auth functions the test calls on `window.amplify`, and records every
// request Amplify sends through fetch (the operation from X-Amz-Target, the JSON body, the
// status and the JSON answer) in `window.amplify.sent`, so that the test can check what went
// over the wire. The requests themselves reach tessera unchanged.
import { Amplify } from 'aws-amplify';
import {
  associateWebAuthnCredential,
  confirmSignIn,
  deleteWebAuthnCredential,
  fetchAuthSession,
  fetchUserAttributes,
  getCurrentUser,
  listWebAuthnCredentials,
  signIn,
  signOut,
} from 'aws-amplify/auth';

const sent = [];
const realFetch = window.fetch.bind(window);
window.fetch = async (url, options = {}) => {
  // Amplify's serializer writes lower-case header names.
  const target = options.headers?.['x-amz-target'] ?? '';
  let body = {};
  try {
    body = JSON.parse(options.body ?? '{}');
  } catch {
    // Not JSON: recorded without a body.
  }
  const record = { url: String(url), operation: target.split('.').pop(), body };
  sent.push(record);
  const response = await realFetch(url, options);
  record.status = response.status;
  try {
    record.response = await response.clone().json();
  } catch {
    // Not JSON: recorded without a response body.
  }
  return response;
};

window.amplify = {
  Amplify,
  associateWebAuthnCredential,
  confirmSignIn,
  deleteWebAuthnCredential,
  fetchAuthSession,
  fetchUserAttributes,
  getCurrentUser,
  listWebAuthnCredentials,
  signIn,
  signOut,
  sent,
};
