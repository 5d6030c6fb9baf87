"""Passkeys (WebAuthn, issue 13) on both backends, with credentials made by a real browser:
js/passkeys.test.mjs drives headless Chromium (Debian's package, through playwright-core)
with a virtual authenticator from the Chrome DevTools Protocol and calls tessera's API with
fetch; this driver makes its pools and users, then checks what the run left behind.

It proves that
  - a passkey is registered from the options StartWebAuthnRegistration sends
    (navigator.credentials.create, CompleteWebAuthnRegistration), is listed with its relying
    party and transports, and is excluded from the next registration;
  - USER_AUTH signs in with it, asked for as PREFERRED_CHALLENGE or chosen from
    SELECT_CHALLENGE, and the tokens are the user's and the client's (PyJWT against the
    pool's JWKS, GetUser, a refresh);
  - tessera refuses a tampered signature, a replayed assertion, a registration completed
    with another user's access token, a passkey or registration made for another relying
    party, and an unverified user where the pool requires user verification (while a
    "preferred" pool takes it);
  - DeleteWebAuthnCredential removes the passkey and with it WEB_AUTHN from USER_AUTH;
  - passkeys need WEB_AUTHN among the pool's first factors (WebAuthnNotEnabledException) and
    a relying party (WebAuthnConfigurationMissingException).
"""

from __future__ import annotations

import json

from auth_support import verify_access_token, verify_id_token
from helpers import PASSWORD, expect_error, unique
from test_hosted_ui_browser import chromium  # noqa: F401  (the fixture that finds Debian's chromium)
from test_js_clients import confirmed_user, new_client, node, password_sign_in, run_node_test  # noqa: F401

FLOWS = ["ALLOW_USER_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
PASSKEY_FACTORS = {"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "WEB_AUTHN"]}}


def passkey_pool(idp, make_pool, relying_party: str | None, verification: str = "required", factors: dict = PASSKEY_FACTORS):
    """A pool with the given first factors and relying party, and a client allowing USER_AUTH."""
    pool = make_pool(PoolName=unique("e2e-passkeys"), Policies=factors)
    if relying_party:
        idp.set_user_pool_mfa_config(
            UserPoolId=pool["Id"],
            WebAuthnConfiguration={"RelyingPartyId": relying_party, "UserVerification": verification},
            MfaConfiguration="OFF",
        )
        config = idp.get_user_pool_mfa_config(UserPoolId=pool["Id"])["WebAuthnConfiguration"]
        assert config == {"RelyingPartyId": relying_party, "UserVerification": verification}
    client = new_client(idp, pool["Id"], FLOWS)
    return pool, client


def signed_in_user(idp, public, pool: dict, client: dict) -> dict:
    """A confirmed user and the access token of a password sign-in."""
    user = confirmed_user(idp, pool["Id"])
    tokens = password_sign_in(public, client["ClientId"], user)
    return {"username": user["username"], "accessToken": tokens["AccessToken"]}


def test_passkeys_in_chromium(server, make_pool, node, chromium, tmp_path):  # noqa: F811
    idp = server.client()
    public = server.unsigned_client()
    required, required_client = passkey_pool(idp, make_pool, "localhost", "required")
    preferred, preferred_client = passkey_pool(idp, make_pool, "localhost", "preferred")
    example, example_client = passkey_pool(idp, make_pool, "example.com", "required")
    users = {
        "alice": signed_in_user(idp, public, required, required_client),
        "bob": signed_in_user(idp, public, required, required_client),
        "carol": signed_in_user(idp, public, preferred, preferred_client),
        "dave": signed_in_user(idp, public, example, example_client),
    }
    # Alice also signed in through a second client of her pool: a registration she started
    # through the first is not completed with this token.
    other_client = new_client(idp, required["Id"], FLOWS)
    alice = {"username": users["alice"]["username"], "password": PASSWORD}
    users["alice"]["otherClientAccessToken"] = password_sign_in(public, other_client["ClientId"], alice)["AccessToken"]
    pools = {
        "required": (required, required_client, ["alice", "bob"]),
        "preferred": (preferred, preferred_client, ["carol"]),
        "example": (example, example_client, ["dave"]),
    }
    report_path = tmp_path / "passkeys-report.json"
    document = {"endpoint": server.url + "/", "report": str(report_path)}
    for name, (pool, client, members) in pools.items():
        document[name] = {"name": name, "poolId": pool["Id"], "clientId": client["ClientId"]}
        document[name].update({member: users[member] for member in members})

    run_node_test(node, "passkeys.test.mjs", {"TESSERA_E2E_PASSKEYS": json.dumps(document)}, min_passed=9)
    report = json.loads(report_path.read_text())

    # Every sign-in the browser finished issued tokens for its user and its client, which
    # verify against the pool's keys and work where an access token is asked for.
    expected = {
        ("required", "alice", "PREFERRED_CHALLENGE"),
        ("required", "alice", "SELECT_CHALLENGE"),
        ("required", "alice", "before-replay"),
        ("example", "dave", "subdomain"),
        ("preferred", "carol", "without-user-verification"),
    }
    assert {(s["pool"], s["username"], s["how"]) for s in report["signIns"]} == {
        (pool, users[name]["username"], how) for pool, name, how in expected
    }
    for sign_in in report["signIns"]:
        pool, client, _ = pools[sign_in["pool"]]
        tokens, username = sign_in["tokens"], sign_in["username"]
        access = verify_access_token(tokens["AccessToken"], server.url, pool["Id"], client["ClientId"])
        assert access["username"] == username
        assert access["client_id"] == client["ClientId"]
        identity = verify_id_token(tokens["IdToken"], server.url, pool["Id"], client["ClientId"])
        assert identity["cognito:username"] == username
        assert identity["sub"] == access["sub"]
        assert public.get_user(AccessToken=tokens["AccessToken"])["Username"] == username

    # The refresh token of a passkey sign-in refreshes like any other.
    alice_tokens = next(s["tokens"] for s in report["signIns"] if s["how"] == "PREFERRED_CHALLENGE")
    refreshed = public.initiate_auth(
        ClientId=required_client["ClientId"],
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": alice_tokens["RefreshToken"]},
    )["AuthenticationResult"]
    claims = verify_access_token(refreshed["AccessToken"], server.url, required["Id"], required_client["ClientId"])
    assert claims["username"] == users["alice"]["username"]

    # What stayed registered, read back through boto3: Alice deleted hers; every refused
    # registration left nothing behind.
    def listed(name: str) -> list[dict]:
        return public.list_web_authn_credentials(AccessToken=users[name]["accessToken"])["Credentials"]

    assert listed("alice") == []
    for name, relying_party in (("bob", "localhost"), ("carol", "localhost"), ("dave", "example.com")):
        credentials = listed(name)
        assert [c["CredentialId"] for c in credentials] == [report["credentials"][name]], name
        assert credentials[0]["RelyingPartyId"] == relying_party
        assert credentials[0]["AuthenticatorTransports"] == ["internal"]


def test_passkeys_need_the_factor_and_a_relying_party(server, make_pool):
    idp = server.client()
    public = server.unsigned_client()

    # A relying party, but WEB_AUTHN is not among the pool's first factors.
    disabled, disabled_client = passkey_pool(
        idp, make_pool, "localhost", factors={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD"]}}
    )
    user = signed_in_user(idp, public, disabled, disabled_client)
    expect_error("WebAuthnNotEnabledException", public.start_web_authn_registration, AccessToken=user["accessToken"])
    expect_error(
        "WebAuthnNotEnabledException",
        public.complete_web_authn_registration,
        AccessToken=user["accessToken"],
        Credential={"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}},
    )
    assert public.list_web_authn_credentials(AccessToken=user["accessToken"])["Credentials"] == []

    # WEB_AUTHN is allowed, but the pool has neither a relying party nor a domain.
    unnamed, unnamed_client = passkey_pool(idp, make_pool, None)
    user = signed_in_user(idp, public, unnamed, unnamed_client)
    expect_error("WebAuthnConfigurationMissingException", public.start_web_authn_registration, AccessToken=user["accessToken"])
