"""Passkeys on the hosted pages (issue 13) in headless Chromium with a virtual WebAuthn
authenticator, on both backends: runs js/passkeys-hosted.test.mjs, where the pages' own script
calls navigator.credentials.create() and .get() against an authenticator the Chrome DevTools
Protocol provides, and openid-client redeems the codes. It proves that

  - a password sign-in of a user without a passkey leads to the add-passkey page, "Add a
    passkey" registers a discoverable credential in the authenticator and ends at the callback
    with a code that redeems for the user's tokens;
  - the next password sign-in of that user goes straight to the callback (no second offer);
  - another browser holding the same credential signs in with the username and "Use passkey"
    alone, and an assertion replayed on a new passkey page is refused with the page's message;
  - a name nobody has gets the same passkey page as a user with a passkey (no enumeration),
    and the page reports the authenticator's refusal without posting anything;
  - "Not now" ends at the callback without a passkey, and the offer comes back next time;
  - the passkey pages carry one inline script, allowed by exactly one `script-src` with its
    SHA-256, and the sign-in page carries none and has no `script-src`.

This driver makes the pool (AllowedFirstAuthFactors with WEB_AUTHN, RelyingPartyId localhost),
a code-flow client and the users on the shared server, hands them to node in
TESSERA_E2E_PASSKEYS (JSON), and afterwards checks with boto3 (ListWebAuthnCredentials under the
access tokens the browser's codes redeemed for) that the server keeps exactly the credential
the authenticator holds, and none for the user who chose "Not now".

The browser loads the pages from http://localhost:<port>, where WebAuthn has a secure context
and a host name for its relying party id; the server's public URL stays http://127.0.0.1:<port>
(the pages link by path, and the form's Origin check compares with the request's Host), so the
issuer in the tokens is the public URL's.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from urllib.parse import urlsplit

from helpers import PASSWORD, attribute_list, unique
from oauth_support import ADMIN_SCOPE, CALLBACK, TEMP_PASSWORD
from test_hosted_ui_browser import JS_DIR, chromium, node_playwright  # noqa: F401  (fixtures)
from test_openid_client import node_modules  # noqa: F401  (the fixture node_playwright uses)

NODE_TIMEOUT = 300
SCOPE = f"openid email profile {ADMIN_SCOPE}"
RELYING_PARTY = "localhost"


def user(idp, pool_id: str, username: str) -> None:
    """A confirmed user with a permanent password and a verified e-mail address."""
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        UserAttributes=attribute_list({"email": f"{username}@example.com", "email_verified": "true"}),
        MessageAction="SUPPRESS",
        TemporaryPassword=TEMP_PASSWORD,
    )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)


def raw_id(text: str) -> bytes:
    """A credential id as bytes, from base64 (DevTools) or base64url (the API)."""
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def test_passkeys_on_the_hosted_pages_in_chromium(server, idp, make_pool, node_playwright, chromium, tmp_path):  # noqa: F811
    backend = server.store.backend
    port = urlsplit(server.url).port

    # A pool that offers passkeys, with a relying party the browser's origin belongs to.
    pool = make_pool(
        AutoVerifiedAttributes=["email"],
        Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN"]}},
    )
    pool_id = pool["Id"]
    idp.set_user_pool_mfa_config(
        UserPoolId=pool_id,
        MfaConfiguration="OFF",
        WebAuthnConfiguration={"RelyingPartyId": RELYING_PARTY, "UserVerification": "required"},
    )
    client = idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=unique("passkeys"),
        GenerateSecret=True,
        CallbackURLs=[CALLBACK],
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email", "profile", ADMIN_SCOPE],
        AllowedOAuthFlowsUserPoolClient=True,
        SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]
    users = {"passkey": unique("pk"), "skipper": unique("skip"), "unknown": unique("nobody")}
    user(idp, pool_id, users["passkey"])
    user(idp, pool_id, users["skipper"])

    # The node run writes the access tokens it redeemed here (not among the kept artifacts).
    results_file = tmp_path / "passkeys-hosted.json"
    config = {
        "backend": backend,
        "poolId": pool_id,
        "issuer": f"{server.url}/{pool_id}",
        "base": f"http://localhost:{port}/{pool_id}",
        "client": {"id": client["ClientId"], "secret": client["ClientSecret"], "redirectUri": CALLBACK},
        "password": PASSWORD,
        "scope": SCOPE,
        "users": users,
        "results": str(results_file),
    }
    env = dict(os.environ)
    env["TESSERA_E2E_PASSKEYS"] = json.dumps(config)
    started = time.monotonic()
    result = subprocess.run(
        [node_playwright, "--test", "--test-reporter=spec", "passkeys-hosted.test.mjs"],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, (
        f"node --test passkeys-hosted.test.mjs failed after {elapsed:.0f}s:\n{result.stdout}\n{result.stderr}\n"
        f"--- server log (last lines)\n" + "\n".join(server.output.splitlines()[-60:])
    )
    results = json.loads(results_file.read_text())

    # The server keeps exactly the credential the browser's authenticator made, for the user
    # who registered it, whichever of that user's access tokens asks.
    public = server.unsigned_client()
    registered = results["registered"]
    for token in (registered["accessToken"], results["passkeySignIn"]["accessToken"]):
        credentials = public.list_web_authn_credentials(AccessToken=token)["Credentials"]
        assert len(credentials) == 1, credentials
        stored = credentials[0]
        assert raw_id(stored["CredentialId"]) == raw_id(registered["credentialId"]), (stored, registered["credentialId"])
        assert stored["RelyingPartyId"] == RELYING_PARTY, stored
    assert results["passkeySignIn"]["sub"] == registered["sub"]
    me = public.get_user(AccessToken=results["passkeySignIn"]["accessToken"])
    assert me["Username"] == users["passkey"], me

    # "Not now" left the other user without a passkey.
    assert public.list_web_authn_credentials(AccessToken=results["skipped"]["accessToken"])["Credentials"] == []
    assert results["skipped"]["sub"] != registered["sub"]
