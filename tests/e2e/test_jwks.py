"""Signing keys: the pool JWKS through PyJWT's PyJWKClient, and the OIDC discovery document."""

from __future__ import annotations

import base64
import re

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from helpers import HTTP_TIMEOUT

B64URL_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def jwks_url(server, pool_id: str) -> str:
    return f"{server.url}/{pool_id}/.well-known/jwks.json"


def discovery_url(server, pool_id: str) -> str:
    return f"{server.url}/{pool_id}/.well-known/openid-configuration"


def b64url_decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def assert_cache_control(resp: requests.Response) -> None:
    cc = resp.headers.get("Cache-Control")
    assert cc, f"no Cache-Control header: {dict(resp.headers)}"
    assert re.search(r"max-age=\d+", cc), f"Cache-Control without max-age: {cc!r}"


def test_pyjwkclient_loads_pool_jwks(server, pool):
    client = jwt.PyJWKClient(jwks_url(server, pool["Id"]), cache_keys=False, timeout=HTTP_TIMEOUT)
    keys = client.get_signing_keys()
    assert len(keys) >= 1
    for key in keys:
        assert key.key_id
        assert key.key_type == "RSA"
        assert key.algorithm_name == "RS256"
        assert isinstance(key.key, RSAPublicKey)
        assert key.key.key_size == 2048
        # lookup by kid, as a token verifier does
        assert client.get_signing_key(key.key_id).key_id == key.key_id


def test_jwks_document_shape(server, pool):
    resp = requests.get(jwks_url(server, pool["Id"]), timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text
    assert resp.headers.get("Content-Type", "").split(";")[0].strip() == "application/json"
    assert_cache_control(resp)
    doc = resp.json()
    assert isinstance(doc.get("keys"), list) and doc["keys"], doc
    kids = [k.get("kid") for k in doc["keys"]]
    assert len(kids) == len(set(kids)), f"duplicate kids: {kids}"
    for key in doc["keys"]:
        assert key.get("kid"), key
        assert key.get("kty") == "RSA", key
        assert key.get("alg") == "RS256", key
        assert key.get("use") == "sig", key
        for member in ("n", "e"):
            assert B64URL_RE.match(key.get(member, "")), f"{member} is not unpadded base64url: {key}"
        assert len(b64url_decode(key["n"])) == 256, "modulus is not 2048 bits"
        assert key["e"] == "AQAB"
        # never any private member
        for private in ("d", "p", "q", "dp", "dq", "qi"):
            assert private not in key, f"JWKS leaks private member {private!r}"


def test_pools_have_different_keys(server, make_pool):
    a = make_pool()
    b = make_pool()
    kids_a = {k.key_id for k in jwt.PyJWKClient(jwks_url(server, a["Id"]), cache_keys=False).get_signing_keys()}
    kids_b = {k.key_id for k in jwt.PyJWKClient(jwks_url(server, b["Id"]), cache_keys=False).get_signing_keys()}
    assert kids_a and kids_b
    assert not (kids_a & kids_b), f"pools share kids: {kids_a & kids_b}"


def test_jwks_is_stable(server, pool):
    first = requests.get(jwks_url(server, pool["Id"]), timeout=HTTP_TIMEOUT).json()
    second = requests.get(jwks_url(server, pool["Id"]), timeout=HTTP_TIMEOUT).json()
    assert first == second


def test_discovery_issuer_and_jwks_uri(server, pool):
    resp = requests.get(discovery_url(server, pool["Id"]), timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text
    assert resp.headers.get("Content-Type", "").split(";")[0].strip() == "application/json"
    assert_cache_control(resp)
    doc = resp.json()
    issuer = f"{server.url}/{pool['Id']}"
    assert doc["issuer"] == issuer
    assert doc["jwks_uri"] == issuer + "/.well-known/jwks.json"
    # and the advertised jwks_uri really serves the keys
    jwks = requests.get(doc["jwks_uri"], timeout=HTTP_TIMEOUT)
    assert jwks.status_code == 200
    assert jwks.json()["keys"]


def test_discovery_document_fields(server, pool):
    """The members real Cognito publishes (wire facts 3.12) that OIDC libraries read."""
    doc = requests.get(discovery_url(server, pool["Id"]), timeout=HTTP_TIMEOUT).json()
    assert doc.get("id_token_signing_alg_values_supported") == ["RS256"], doc
    assert "public" in doc.get("subject_types_supported", []), doc
    assert "code" in doc.get("response_types_supported", []), doc


@pytest.mark.parametrize("suffix", ["jwks.json", "openid-configuration"])
def test_unknown_pool_is_404_json(server, suffix):
    resp = requests.get(f"{server.url}/us-east-1_NoSuchPoo/.well-known/{suffix}", timeout=HTTP_TIMEOUT)
    assert resp.status_code == 404, resp.text
    body = resp.json()
    assert isinstance(body, dict) and body, body


def test_deleted_pool_jwks_is_404(server, idp, make_pool):
    pool = make_pool()
    assert requests.get(jwks_url(server, pool["Id"]), timeout=HTTP_TIMEOUT).status_code == 200
    idp.delete_user_pool(UserPoolId=pool["Id"])
    resp = requests.get(jwks_url(server, pool["Id"]), timeout=HTTP_TIMEOUT)
    assert resp.status_code == 404
    assert isinstance(resp.json(), dict)
