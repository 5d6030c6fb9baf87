"""Amplify JS v6 (npm `aws-amplify`) passkeys (WebAuthn, issue 13) on both backends, with
Amplify running where its passkey code can run: in a browser. js/amplify-passkeys.test.mjs
bundles js/amplify-browser/entry.mjs with esbuild (once per pytest session, into a temporary
directory), injects the bundle into headless Chromium (Debian's package, through
playwright-core) on a page tessera serves at http://localhost:<port>/health, gives the page a
virtual authenticator from the Chrome DevTools Protocol, and calls Amplify's own functions there.

It proves that, through Amplify against the real server,
  - associateWebAuthnCredential registers a passkey (StartWebAuthnRegistration, the
    authenticator's navigator.credentials.create, CompleteWebAuthnRegistration) and
    listWebAuthnCredentials shows it; a second association is refused by the authenticator
    because tessera excluded the passkey (Amplify's PasskeyAlreadyExists);
  - signIn with authFlowType USER_AUTH and preferredChallenge WEB_AUTHN signs in through the
    WEB_AUTHN challenge, and fetchAuthSession holds the user's tokens;
  - signIn USER_AUTH without a preference stops at CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION
    listing WEB_AUTHN, and confirmSignIn WEB_AUTHN signs in;
  - deleteWebAuthnCredential removes the passkey, after which USER_AUTH offers only the password.
Every sign-in is checked in the page as well: getCurrentUser, fetchUserAttributes (GetUser), a
forced refresh of the passkey sign-in (GetTokensFromRefreshToken), and signOut's RevokeToken.

This driver makes the pool (first factors PASSWORD and WEB_AUTHN, relying party localhost with
UserVerification required, MFA off), its public client and a confirmed user through boto3, and
afterwards checks the tokens of every sign-in the browser finished: they verify with PyJWT
against the pool's JWKS and belong to the user and the client, and, revoked by Amplify's
signOut, are refused by GetUser and REFRESH_TOKEN_AUTH. It also checks that the passkey is gone
as the API sees it and that the user is unchanged.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from auth_support import verify_access_token, verify_id_token
from helpers import attribute_dict, expect_error, unique
from test_hosted_ui_browser import chromium, node_playwright  # noqa: F401  (fixtures: Debian's chromium, playwright-core)
from test_js_clients import JS_DIR, confirmed_user, new_client, node, run_node_test  # noqa: F401  (node is a fixture)
from test_openid_client import node_modules  # noqa: F401  (a fixture node_playwright needs)

# USER_AUTH for the passkey sign-ins, SRP for the password sign-in that registers the passkey
# (Amplify's default flow), refresh for fetchAuthSession; USER_PASSWORD_AUTH is not allowed.
FLOWS = ["ALLOW_USER_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
PASSKEY_FACTORS = {"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN"]}}


@pytest.fixture(scope="session")
def amplify_bundle(tmp_path_factory, node_playwright):  # noqa: F811
    """Where the node test keeps the esbuild bundle of the browser entry: one build serves every
    backend of the session. esbuild is a devDependency of tests/e2e/js, installed by `npm ci`."""
    if not (JS_DIR / "node_modules" / "esbuild").is_dir():
        # A node_modules installed before esbuild was added: install again, as the others do.
        result = subprocess.run(
            [shutil.which("npm"), "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return tmp_path_factory.mktemp("amplify-browser") / "amplify.js"


def test_amplify_js_v6_passkeys_in_chromium(server, make_pool, node, chromium, amplify_bundle, tmp_path):  # noqa: F811
    idp = server.client()
    public = server.unsigned_client()
    pool = make_pool(PoolName=unique("e2e-amplify-passkeys"), Policies=PASSKEY_FACTORS)
    idp.set_user_pool_mfa_config(
        UserPoolId=pool["Id"],
        MfaConfiguration="OFF",
        WebAuthnConfiguration={"RelyingPartyId": "localhost", "UserVerification": "required"},
    )
    config = idp.get_user_pool_mfa_config(UserPoolId=pool["Id"])
    assert config["WebAuthnConfiguration"] == {"RelyingPartyId": "localhost", "UserVerification": "required"}
    client = new_client(idp, pool["Id"], FLOWS)
    user = confirmed_user(idp, pool["Id"])
    before = idp.admin_get_user(UserPoolId=pool["Id"], Username=user["username"])

    report_path = tmp_path / "amplify-passkeys-report.json"
    document = {
        "endpoint": server.url + "/",
        "bundle": str(amplify_bundle),
        "report": str(report_path),
        "poolId": pool["Id"],
        "clientId": client["ClientId"],
        "username": user["username"],
        "password": user["password"],
    }
    run_node_test(node, "amplify-passkeys.test.mjs", {"TESSERA_E2E_AMPLIFY_PASSKEYS": json.dumps(document)}, min_passed=4)
    assert amplify_bundle.is_file()
    report = json.loads(report_path.read_text())

    # Every sign-in the browser finished issued tokens for the user and the client, which verify
    # against the pool's keys (GetUser took them while they were live, through Amplify's
    # fetchUserAttributes). Amplify talked to http://localhost:<port>, but the issuer is the
    # server's own URL, whatever the Host.
    assert [s["how"] for s in report["signIns"]] == ["PREFERRED_CHALLENGE", "SELECT_CHALLENGE", "PASSWORD-after-deletion"]
    sub = attribute_dict(before["UserAttributes"])["sub"]
    for sign_in in report["signIns"]:
        tokens = sign_in["tokens"]
        access = verify_access_token(tokens["AccessToken"], server.url, pool["Id"], client["ClientId"])
        assert access["username"] == user["username"]
        identity = verify_id_token(tokens["IdToken"], server.url, pool["Id"], client["ClientId"])
        assert identity["cognito:username"] == user["username"]
        assert identity["sub"] == access["sub"] == sub

        # Amplify's signOut revoked each sign-in (RevokeToken, checked in the browser): neither
        # its access token nor its refresh token is taken any more.
        expect_error(
            "NotAuthorizedException",
            public.get_user,
            AccessToken=tokens["AccessToken"],
            message="Access Token has been revoked",
        )
        expect_error(
            "NotAuthorizedException",
            public.initiate_auth,
            ClientId=client["ClientId"],
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
            message="Refresh Token has been revoked",
        )

    # The passkey Amplify deleted is gone as the API sees it (asked with the access token of a
    # new password sign-in through USER_AUTH), and the user is as before.
    fresh = public.initiate_auth(
        ClientId=client["ClientId"],
        AuthFlow="USER_AUTH",
        AuthParameters={"USERNAME": user["username"], "PREFERRED_CHALLENGE": "PASSWORD", "PASSWORD": user["password"]},
    )["AuthenticationResult"]
    assert public.list_web_authn_credentials(AccessToken=fresh["AccessToken"])["Credentials"] == []
    after = idp.admin_get_user(UserPoolId=pool["Id"], Username=user["username"])
    assert after["UserStatus"] == "CONFIRMED" and after["Enabled"] is True
    assert after["UserAttributes"] == before["UserAttributes"]
