"""How the token-authorised operations check the access token (wire facts 3.9): garbage, an ID
token, a tampered or re-signed token, another installation's token -> `Invalid Access Token`;
disabled and deleted users."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import requests

from auth_support import (  # noqa: F401  (fixtures)
    INVALID_ACCESS,
    AuthApp,
    auth_app,
    b64url,
    call_error,
    forge,
    jwt_header,
    jwks_url,
    make_auth_app,
    refused_everywhere,
    unsigned_token,
)
from helpers import HTTP_TIMEOUT, App, expect_error, unique


def assert_user_intact(app, user):
    """The refused call changed nothing: same password, same attributes, still there."""
    attrs = app.attrs(user)
    assert "given_name" in attrs and attrs["given_name"] == "Ada", attrs
    assert app.sign_in(user)["AccessToken"]


@pytest.fixture
def victim(auth_app):
    user = unique("victim")
    auth_app.user(user, {"email": f"{user}@example.com", "given_name": "Ada"})
    return auth_app, user, auth_app.sign_in(user)


def test_id_token_is_not_an_access_token(victim):
    app, user, tokens = victim
    refused_everywhere(app, tokens["IdToken"], INVALID_ACCESS)
    assert_user_intact(app, user)


def test_tampered_access_token(victim):
    app, user, tokens = victim
    token = forge(tokens["AccessToken"], scope="aws.cognito.signin.user.admin openid")
    refused_everywhere(app, token, INVALID_ACCESS)
    assert_user_intact(app, user)


@pytest.mark.parametrize(
    "garbage",
    ["garbage", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "x" * 500],
    ids=["word", "three-dots", "jwt-shaped", "long"],
)
def test_garbage_access_token(victim, garbage):
    app, user, _ = victim
    expect_error("NotAuthorizedException", app.public.get_user, AccessToken=garbage, message=INVALID_ACCESS)


def test_token_of_another_user_cannot_be_relabelled(victim):
    app, user, tokens = victim
    other = app.user()
    claims = app.verify_access(tokens["AccessToken"])
    other_sub = app.attrs(other)["sub"]
    token = forge(tokens["AccessToken"], sub=other_sub, username=other)
    expect_error("NotAuthorizedException", app.get_user, token, message=INVALID_ACCESS)
    assert claims["username"] == user


def test_alg_none_is_refused(victim):
    app, user, tokens = victim
    expect_error(
        "NotAuthorizedException", app.get_user, unsigned_token(tokens["AccessToken"]), message=INVALID_ACCESS
    )


def test_hs256_signed_with_the_public_key_is_refused(victim):
    """The classic algorithm confusion: HMAC keyed with the published RSA key."""
    app, user, tokens = victim
    kid = jwt_header(tokens["AccessToken"])["kid"]
    jwk = next(
        k for k in requests.get(jwks_url(app.server.url, app.pool_id), timeout=HTTP_TIMEOUT).json()["keys"] if k["kid"] == kid
    )
    header = b64url(json.dumps({"kid": kid, "alg": "HS256"}).encode())
    payload = tokens["AccessToken"].split(".")[1]
    for secret in (json.dumps(jwk).encode(), jwk["n"].encode()):
        sig = b64url(hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest())
        expect_error("NotAuthorizedException", app.get_user, f"{header}.{payload}.{sig}", message=INVALID_ACCESS)


def test_token_re_signed_by_another_pool_is_refused(make_auth_app):
    """A token whose claims say pool A, signed (validly) with pool B's access key."""
    a = make_auth_app()
    b = make_auth_app()
    user_a = a.user()
    user_b = b.user(user_a)  # same username in both pools
    tokens_a = a.sign_in(user_a)
    tokens_b = b.sign_in(user_b)
    # pool B's header and signature with pool A's claims
    header_b, _, sig_b = tokens_b["AccessToken"].split(".")
    payload_a = tokens_a["AccessToken"].split(".")[1]
    expect_error("NotAuthorizedException", a.get_user, f"{header_b}.{payload_a}.{sig_b}", message=INVALID_ACCESS)
    # and pool B's genuine token names pool B's user, not pool A's
    assert b.get_user(tokens_b["AccessToken"])["Username"] == user_b
    assert {x["Name"]: x["Value"] for x in b.get_user(tokens_b["AccessToken"])["UserAttributes"]}["sub"] != a.attrs(user_a)["sub"]


def test_token_of_another_installation_is_refused(server, server_factory, auth_app):
    other_server = server_factory.start(name="other-installation")
    other = AuthApp.of(App.create(other_server, client={"ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH"]}))
    user = other.user()
    foreign = other.sign_in(user)["AccessToken"]
    assert other.get_user(foreign)["Username"] == user
    expect_error("NotAuthorizedException", auth_app.get_user, foreign, message=INVALID_ACCESS)


def test_valid_token_of_another_pool_on_the_same_server_names_its_own_user(make_auth_app):
    """The pool is taken from the token (iss/kid), not from the request."""
    a = make_auth_app()
    b = make_auth_app()
    user = b.user()
    token = b.sign_in(user)["AccessToken"]
    # sent through a client object configured for pool A: still pool B's user
    assert a.get_user(token)["Username"] == user


# --------------------------------------------------------------------------
# the user behind a valid token


def test_deleted_user(victim):
    app, user, tokens = victim
    app.idp.admin_delete_user(UserPoolId=app.pool_id, Username=user)
    err = call_error(app.get_user, tokens["AccessToken"])
    assert err["Code"] in ("UserNotFoundException", "NotAuthorizedException"), err


def test_disabled_user_token_refused(victim):
    app, user, tokens = victim
    app.idp.admin_disable_user(UserPoolId=app.pool_id, Username=user)
    err = expect_error("NotAuthorizedException", app.get_user, tokens["AccessToken"])
    assert err["Message"] in ("User is disabled.", "Access Token has been revoked"), err


def test_disable_revokes_the_access_tokens(victim):
    """AdminDisableUser "deactivates a user and revokes all access tokens for the user" (API
    reference): the tokens stay refused after AdminEnableUser; a new sign-in works."""
    app, user, tokens = victim
    app.idp.admin_disable_user(UserPoolId=app.pool_id, Username=user)
    app.idp.admin_enable_user(UserPoolId=app.pool_id, Username=user)
    expect_error("NotAuthorizedException", app.get_user, tokens["AccessToken"], message="Access Token has been revoked")
    fresh = app.sign_in(user)
    assert app.get_user(fresh["AccessToken"])["Username"] == user


def test_get_user_shape(victim):
    app, user, tokens = victim
    resp = app.get_user(tokens["AccessToken"])
    assert resp["Username"] == user
    attrs = resp["UserAttributes"]
    assert attrs[0]["Name"] == "sub", attrs
    values = {a["Name"]: a["Value"] for a in attrs}
    assert values["given_name"] == "Ada" and values["email"] == f"{user}@example.com"
    assert all(isinstance(a["Value"], str) for a in attrs)
