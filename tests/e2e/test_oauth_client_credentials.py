"""The client_credentials grant of `POST /<pool>/oauth2/token` (issue 6): a machine client with
a secret and custom scopes gets an RS256 access token, through Authlib (client_secret_basic),
plain requests (client_secret_post) and openid-client; PyJWT and tessera-verify accept the
token against the pool's JWKS. Every refusal answers the RFC 6749 error and issues nothing."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import urllib.parse

import jwt
import pytest
import requests

from helpers import E2E_DIR, unique
from test_openid_client import node_modules  # noqa: F401  (the fixture that installs npm packages)
from test_verify_library import verify

API = "https://api.example.com"
READ, WRITE, ADMIN = f"{API}/read", f"{API}/write", f"{API}/admin"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def machine(server, idp, pool):
    """A resource server with three scopes and a confidential client allowed two of them."""
    idp.create_resource_server(
        UserPoolId=pool["Id"],
        Identifier=API,
        Name="api",
        Scopes=[
            {"ScopeName": "read", "ScopeDescription": "read things"},
            {"ScopeName": "write", "ScopeDescription": "write things"},
            {"ScopeName": "admin", "ScopeDescription": "administer things"},
        ],
    )
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName=unique("machine"),
        GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=[READ, WRITE],
        AllowedOAuthFlowsUserPoolClient=True,
    )["UserPoolClient"]
    return {
        "pool_id": pool["Id"],
        "issuer": f"{server.url}/{pool['Id']}",
        "token_url": f"{server.url}/{pool['Id']}/oauth2/token",
        "client_id": client["ClientId"],
        "secret": client["ClientSecret"],
    }


def basic(client_id: str, secret: str) -> dict:
    raw = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


def post(url: str, data, headers: dict | None = None) -> requests.Response:
    return requests.post(url, data=data, headers={**FORM, **(headers or {})}, timeout=30)


def claims_of(server, machine: dict, token: str) -> dict:
    jwks = jwt.PyJWKClient(f"{machine['issuer']}/.well-known/jwks.json")
    key = jwks.get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["RS256"], issuer=machine["issuer"], options={"require": ["exp", "iat", "sub"]})


def test_authlib_gets_a_token_with_the_custom_scopes(server, machine):
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(machine["client_id"], machine["secret"], scope=f"{READ} {WRITE}")
    token = session.fetch_token(machine["token_url"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert "refresh_token" not in token and "id_token" not in token
    claims = claims_of(server, machine, token["access_token"])
    assert claims["sub"] == machine["client_id"] == claims["client_id"]
    assert claims["token_use"] == "access" and claims["version"] == 2
    assert claims["scope"].split() == [READ, WRITE]
    assert "username" not in claims and "origin_jti" not in claims

    # tessera-verify accepts it for the client and the scope, and refuses a scope it lacks.
    code, verified = verify(token["access_token"], "--issuer", machine["issuer"], "--client-id", machine["client_id"], "--token-use", "access", "--scope", READ)
    assert code == 0, verified
    assert verified["client_id"] == machine["client_id"]
    code, error = verify(token["access_token"], "--issuer", machine["issuer"], "--client-id", machine["client_id"], "--scope", ADMIN)
    assert code == 1, error


def test_client_secret_post_and_default_scopes(server, machine):
    resp = post(machine["token_url"], {"grant_type": "client_credentials", "client_id": machine["client_id"], "client_secret": machine["secret"]})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Pragma"] == "no-cache"
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    # Without `scope`, every custom scope the client is allowed.
    assert claims_of(server, machine, body["access_token"])["scope"].split() == [READ, WRITE]

    # One scope of the two, with the charset parameter openid-client and Authlib send.
    resp = post(
        machine["token_url"],
        {"grant_type": "client_credentials", "scope": WRITE},
        {**basic(machine["client_id"], machine["secret"]), "Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
    )
    assert resp.status_code == 200, resp.text
    assert claims_of(server, machine, resp.json()["access_token"])["scope"] == WRITE


def test_token_validity_follows_the_client(server, idp, machine):
    idp.update_user_pool_client(
        UserPoolId=machine["pool_id"],
        ClientId=machine["client_id"],
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=[READ, WRITE],
        AllowedOAuthFlowsUserPoolClient=True,
        AccessTokenValidity=10,
        TokenValidityUnits={"AccessToken": "minutes"},
    )
    resp = post(machine["token_url"], {"grant_type": "client_credentials"}, basic(machine["client_id"], machine["secret"]))
    assert resp.status_code == 200, resp.text
    assert resp.json()["expires_in"] == 600
    claims = claims_of(server, machine, resp.json()["access_token"])
    assert claims["exp"] - claims["iat"] == 600


def oauth_error(resp: requests.Response, error: str, status: int = 400) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert body["error"] == error, body
    assert "access_token" not in body
    assert resp.headers["Cache-Control"] == "no-store"
    return body


def test_refusals(server, idp, machine):
    url, cid, secret = machine["token_url"], machine["client_id"], machine["secret"]
    grant = {"grant_type": "client_credentials"}
    # Wrong secret: 401 with a Basic challenge through the header, 400 in the body.
    resp = post(url, grant, basic(cid, secret + "x"))
    oauth_error(resp, "invalid_client", 401)
    assert resp.headers["WWW-Authenticate"].startswith("Basic")
    oauth_error(post(url, {**grant, "client_id": cid, "client_secret": "wrong"}), "invalid_client")
    # Unknown client, and a client of another pool, answer alike.
    oauth_error(post(url, {**grant, "client_id": "nosuchclient", "client_secret": secret}), "invalid_client")
    other = idp.create_user_pool(PoolName=unique("other"))["UserPool"]
    try:
        oauth_error(post(f"{server.url}/{other['Id']}/oauth2/token", grant, basic(cid, secret)), "invalid_client", 401)
    finally:
        idp.delete_user_pool(UserPoolId=other["Id"])
    # A scope the client is not allowed, even one that exists; a reserved user scope.
    oauth_error(post(url, {**grant, "scope": ADMIN}, basic(cid, secret)), "invalid_scope")
    oauth_error(post(url, {**grant, "scope": f"{READ} openid"}, basic(cid, secret)), "invalid_scope")
    # Malformed requests.
    oauth_error(post(url, {"client_id": cid, "client_secret": secret}), "invalid_request")
    oauth_error(post(url, {**grant, "grant_type": "password"}, basic(cid, secret)), "unsupported_grant_type")
    oauth_error(post(url, [("grant_type", "client_credentials"), ("grant_type", "client_credentials")], basic(cid, secret)), "invalid_request")
    oauth_error(post(url, {**grant, "client_secret": secret}, basic(cid, secret)), "invalid_request")
    resp = requests.post(url, json=grant, headers=basic(cid, secret), timeout=30)
    oauth_error(resp, "invalid_request")


def test_clients_without_the_flow_or_a_secret_are_refused(server, idp, machine):
    code_client = idp.create_user_pool_client(
        UserPoolId=machine["pool_id"],
        ClientName=unique("web"),
        GenerateSecret=True,
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", READ],
        CallbackURLs=["https://app.example.com/cb"],
        AllowedOAuthFlowsUserPoolClient=True,
    )["UserPoolClient"]
    resp = post(machine["token_url"], {"grant_type": "client_credentials"}, basic(code_client["ClientId"], code_client["ClientSecret"]))
    oauth_error(resp, "unauthorized_client")
    public_client = idp.create_user_pool_client(UserPoolId=machine["pool_id"], ClientName=unique("spa"))["UserPoolClient"]
    resp = post(machine["token_url"], {"grant_type": "client_credentials", "client_id": public_client["ClientId"]})
    oauth_error(resp, "unauthorized_client")


def test_a_deleted_resource_server_takes_its_scopes_away(server, idp, machine):
    idp.delete_resource_server(UserPoolId=machine["pool_id"], Identifier=API)
    resp = post(machine["token_url"], {"grant_type": "client_credentials"}, basic(machine["client_id"], machine["secret"]))
    oauth_error(resp, "invalid_scope")


def test_openid_client_client_credentials_grant(server, machine, node_modules):
    env = dict(os.environ)
    env.update(
        TESSERA_E2E_ISSUER=machine["issuer"],
        TESSERA_E2E_CLIENT_ID=machine["client_id"],
        TESSERA_E2E_CLIENT_SECRET=machine["secret"],
        TESSERA_E2E_SCOPE=READ,
    )
    result = subprocess.run(
        [node_modules, "--test", "client-credentials.test.mjs"],
        cwd=E2E_DIR / "js",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
