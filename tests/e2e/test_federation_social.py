"""The social presets other than Google (issue 15) end to end on both backends: Facebook
(Graph API: the token request by GET, the user's fields from /me), Login with Amazon (its
profile) and Sign in with Apple (an ES256 client-secret JWT made for each redemption, the
answer by form POST, an ID token checked against Apple's keys), each against a local stand-in
(js/upstream-oidc.mjs modes `facebook`, `amazon`, `apple`) that serves the service's paths on
loopback, with Chromium as the person and openid-client as the app."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from federation_support import NodeUpstream, tessera_address
from helpers import ARTIFACTS, unique
from test_openid_client import JS_DIR, node_modules  # noqa: F401  (fixture)

POOL = "us-east-1_Socialpl1"
CALLBACK = "https://app.example.com/cb"
CLIENT = {"client_id": "social-rp", "client_secret": "social-secret-0123456789"}
ACCOUNTS = {"gus": {"email": "gus@example.com", "email_verified": True, "name": "Gus Grant",
                    "first_name": "Gus", "last_name": "Grant", "given_name": "Gus", "family_name": "Grant",
                    "postal_code": "10115"}}
APPLE = {"team_id": "TEAM123456", "key_id": "KEY1234567", "client_id": "com.example.web"}


def apple_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


class StandIn(NodeUpstream):
    def __init__(self, node: str, mode: str, clients: list[dict], extra: dict | None = None):
        super().__init__(node, "upstream-oidc.mjs", "TESSERA_E2E_UPSTREAM",
                         {"mode": mode, "port": 0, "clients": clients, "accounts": ACCOUNTS, **(extra or {})})
        self.base = self.greeting["issuer"]

    def requests(self) -> list[dict]:
        import requests

        return requests.get(self.base + "/test/requests", timeout=10).json()


class World:
    def __init__(self, server, node, stand_ins: dict):
        self.server, self.node, self.stand_ins = server, node, stand_ins
        self.idp = server.client()
        self.issuer = f"{server.url}/{POOL}"

    def client(self, provider: str) -> dict:
        return self.idp.create_user_pool_client(
            UserPoolId=POOL, ClientName=unique("social-app"), GenerateSecret=True,
            AllowedOAuthFlows=["code"], AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthScopes=["openid", "email", "profile"], CallbackURLs=[CALLBACK],
            SupportedIdentityProviders=[provider],
        )["UserPoolClient"]

    def browse(self, client: dict, provider: str, upstream: str) -> dict:
        shots = ARTIFACTS / "screenshots" / self.server.store.backend
        shots.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["TESSERA_E2E_FEDERATE"] = json.dumps({
            "issuer": self.issuer, "clientId": client["ClientId"], "clientSecret": client["ClientSecret"],
            "callback": CALLBACK, "provider": provider, "via": "button", "upstream": upstream, "login": "gus",
            "screenshot": str(shots / f"social-{provider}.png"),
        })
        result = subprocess.run([self.node, "federation-browser.mjs"], cwd=JS_DIR, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (
            f"federation-browser.mjs failed:\n{result.stdout}\n{result.stderr}\n{self.server.output[-3000:]}"
        )
        output = json.loads(result.stdout.strip().splitlines()[-1])
        assert "claims" in output, output["callback"]
        return output


@pytest.fixture(scope="module")
def world(module_factory, node_modules, tmp_path_factory):  # noqa: F811
    listen, base = tessera_address()
    redirect = [f"{base}/{POOL}/oauth2/idpresponse"]
    private_key = apple_key()
    stand_ins = {}
    try:
        stand_ins["Facebook"] = StandIn(node_modules, "facebook", [{**CLIENT, "redirect_uris": redirect}])
        stand_ins["LoginWithAmazon"] = StandIn(node_modules, "amazon", [{**CLIENT, "redirect_uris": redirect}])
        stand_ins["SignInWithApple"] = StandIn(
            node_modules, "apple", [{"client_id": APPLE["client_id"], "client_secret": "unused", "redirect_uris": redirect}],
            {"apple": {"team_id": APPLE["team_id"], "key_id": APPLE["key_id"], "private_key_pem": private_key}},
        )
        config = tmp_path_factory.mktemp("social") / "tessera.toml"
        config.write_text(
            "[federation]\nallow_loopback_http = true\n"
            + "".join(f'stand_ins.{kind} = "{upstream.base}"\n' for kind, upstream in stand_ins.items())
            + f'\n[[pools]]\nid = "{POOL}"\nname = "social"\nUsernameConfiguration = {{ CaseSensitive = false }}\n'
        )
        server = module_factory.start(name="social", extra_args=["--config", str(config)], listen=listen)
        idp = server.client()
        idp.create_identity_provider(
            UserPoolId=POOL, ProviderName="Facebook", ProviderType="Facebook",
            ProviderDetails={**CLIENT, "authorize_scopes": "public_profile,email"},
            AttributeMapping={"email": "email", "name": "name"},
        )
        idp.create_identity_provider(
            UserPoolId=POOL, ProviderName="LoginWithAmazon", ProviderType="LoginWithAmazon",
            ProviderDetails={**CLIENT, "authorize_scopes": "profile postal_code"},
            AttributeMapping={"email": "email", "name": "name"},
        )
        idp.create_identity_provider(
            UserPoolId=POOL, ProviderName="SignInWithApple", ProviderType="SignInWithApple",
            ProviderDetails={**APPLE, "private_key": private_key, "authorize_scopes": "email name"},
            AttributeMapping={"email": "email"},
        )
        yield World(server, node_modules, stand_ins)
    finally:
        for upstream in stand_ins.values():
            upstream.stop()


def test_facebook_signs_in_through_the_graph_api(world):
    result = world.browse(world.client("Facebook"), "Facebook", "facebook")
    claims = result["claims"]
    assert re.fullmatch(r"facebook_\d+", claims["cognito:username"]), claims["cognito:username"]
    assert claims["email"] == "gus@example.com" and claims["name"] == "Gus Grant"
    [identity] = claims["identities"]
    assert identity["providerType"] == "Facebook" and identity["issuer"] is None
    sent = world.stand_ins["Facebook"].requests()
    token = [r for r in sent if r["endpoint"] == "token"][-1]
    assert token["method"] == "GET" and token["params"]["code_verifier"]
    userinfo = [r for r in sent if r["endpoint"] == "userinfo"][-1]
    assert set(userinfo["params"]["fields"].split(",")) >= {"id", "email", "name"}


def test_login_with_amazon_signs_in_through_its_profile(world):
    result = world.browse(world.client("LoginWithAmazon"), "LoginWithAmazon", "amazon")
    claims = result["claims"]
    assert claims["cognito:username"].startswith("loginwithamazon_amzn1.account.")
    assert claims["email"] == "gus@example.com"
    token = [r for r in world.stand_ins["LoginWithAmazon"].requests() if r["endpoint"] == "token"][-1]
    assert token["method"] == "POST" and token["client_auth"] == "client_secret_post"


def test_sign_in_with_apple_uses_a_client_secret_jwt_and_form_post(world):
    result = world.browse(world.client("SignInWithApple"), "SignInWithApple", "apple")
    claims = result["claims"]
    assert claims["cognito:username"].startswith("signinwithapple_")
    assert claims["email"] == "gus@example.com"
    [identity] = claims["identities"]
    assert identity["providerType"] == "SignInWithApple"
    sent = world.stand_ins["SignInWithApple"].requests()
    authorization = [r for r in sent if r["endpoint"] == "authorization"][-1]["params"]
    assert authorization["response_mode"] == "form_post" and authorization["nonce"]
    token = [r for r in sent if r["endpoint"] == "token"][-1]
    assert token["client_secret_jwt_valid"] is True
