"""The authorization-code grant end to end (hosted-pages.md, oauth-provider.md A.4–A.8, D.5–D.7):
Authlib's OAuth2Session builds the authorize URL (PKCE S256, state, nonce), `requests` drives
tessera's hosted pages (sign-up, confirmation with the code from the outbox, sign-in), and Authlib
redeems the code, validates the ID token (CodeIDToken: iss, aud, nonce, at_hash) against the pool
JWKS, calls userInfo, refreshes and revokes. Also public clients (PKCE, no secret), scopes
(narrowing, custom resource-server scopes, the admin scope for GetUser) and refresh-token
rotation with reuse detection."""

from __future__ import annotations

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.integrations.base_client import OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from helpers import HTTP_TIMEOUT, PASSWORD, expect_error, unique
from oauth_support import (  # noqa: F401  (hosted is a fixture)
    ADMIN_SCOPE,
    CALLBACK,
    CODE_RE,
    USER_SCOPES,
    Browser,
    at_hash,
    callback_params,
    hosted,
    oauth_error,
    query_of,
    sign_in,
    sign_up_and_confirm,
)

API = "https://api.example.com"


def code_id_token(hosted, client: dict, token: dict, nonce: str) -> CodeIDToken:
    """What Authlib's OpenID integration does with an ID token (parse_id_token): RS256 against
    the pool JWKS, then CodeIDToken with the issuer, the client as audience, the nonce and the
    access token (at_hash)."""
    jwks = requests.get(f"{hosted.issuer}/.well-known/jwks.json", timeout=HTTP_TIMEOUT).json()
    decoded = jose_jwt.decode(token["id_token"], KeySet.import_key_set(jwks), registry=JWSRegistry(algorithms=["RS256"], strict_check_header=False))
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {
            "iss": {"essential": True, "value": hosted.issuer},
            "aud": {"essential": True, "value": client["ClientId"]},
            "sub": {"essential": True},
        },
        {"nonce": nonce, "client_id": client["ClientId"], "access_token": token["access_token"]},
    )
    claims.validate(leeway=120)
    return claims


def authlib_session(hosted, client: dict, scope: str = "openid email profile", **kwargs) -> OAuth2Session:
    return OAuth2Session(
        client["ClientId"],
        client.get("ClientSecret"),
        scope=scope,
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        **kwargs,
    )


def authlib_code_flow(hosted, client: dict, username: str, scope: str = "openid email profile", **kwargs) -> tuple[OAuth2Session, dict, str]:
    """Authlib authorize URL -> sign-in page -> Authlib fetch_token; returns (session, token, nonce)."""
    session = authlib_session(hosted, client, scope, **kwargs)
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = session.create_authorization_url(hosted.authorize_endpoint, code_verifier=verifier, nonce=nonce)
    callback = sign_in(Browser(hosted.server), url, username, PASSWORD)
    token = session.fetch_token(hosted.token_endpoint, authorization_response=callback, code_verifier=verifier, state=state)
    return session, token, nonce


def test_sign_up_confirm_sign_in_and_the_token_lifecycle_with_authlib(hosted):
    """client_secret_basic (Authlib's default) through sign-up, confirmation and sign-in."""
    client = hosted.client()
    session = authlib_session(hosted, client)
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = session.create_authorization_url(hosted.authorize_endpoint, code_verifier=verifier, nonce=nonce)
    assert query_of(url)["code_challenge_method"] == "S256"

    username, email = unique("alice"), f"{unique('alice')}@example.com"
    browser = Browser(hosted.server)
    login = sign_up_and_confirm(browser, hosted, url, username, PASSWORD, {"email": email})
    assert hosted.idp.admin_get_user(UserPoolId=hosted.pool_id, Username=username)["UserStatus"] == "CONFIRMED"

    # The sign-in page after confirmation still carries the authorize query.
    resp = browser.submit(login, "cognitoSignInForm", {"username": username, "password": PASSWORD})
    assert resp.status_code == 303, (resp.status_code, resp.text[:800])
    callback = resp.headers["Location"]
    params = callback_params(callback)
    assert CODE_RE.match(params["code"]), params
    assert params["state"] == state
    assert params["iss"] == hosted.issuer

    token = session.fetch_token(hosted.token_endpoint, authorization_response=callback, code_verifier=verifier, state=state)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert {"access_token", "id_token", "refresh_token"} <= set(token)

    # The ID token as Authlib's OpenID client validates it, and the same with PyJWT.
    claims = code_id_token(hosted, client, token, nonce)
    assert claims["nonce"] == nonce
    assert claims["at_hash"] == at_hash(token["access_token"])
    id_claims = hosted.verify_id(token["id_token"], client, token["access_token"], nonce)
    assert id_claims["email"] == email
    assert id_claims["email_verified"] is True
    assert id_claims["cognito:username"] == username

    access = hosted.verify_access(token["access_token"], client)
    assert set(access["scope"].split()) == {"openid", "email", "profile"}
    assert access["username"] == username and access["sub"] == id_claims["sub"]
    assert access["version"] == 2 and "aud" not in access
    assert access["origin_jti"] and access["event_id"]

    # userInfo with the bearer token Authlib keeps (email_verified a string, as Cognito sends it).
    resp = session.get(hosted.userinfo_endpoint, timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    assert "no-store" in resp.headers.get("Cache-Control", "")
    info = resp.json()
    assert info["sub"] == id_claims["sub"]
    assert info["username"] == username
    assert info["email"] == email
    assert info["email_verified"] == "true"
    # POST is accepted too.
    assert hosted.userinfo(token["access_token"], method="POST").json()["sub"] == info["sub"]

    # Refresh: Authlib sends the scope again; a new access token with the same grant.
    first_access = token["access_token"]
    refresh_token = token["refresh_token"]
    refreshed = session.refresh_token(hosted.token_endpoint, refresh_token=refresh_token)
    assert refreshed["access_token"] != first_access
    again = hosted.verify_access(refreshed["access_token"], client)
    assert set(again["scope"].split()) == {"openid", "email", "profile"}
    assert again["sub"] == access["sub"] and again["origin_jti"] == access["origin_jti"]
    refreshed_id = hosted.verify_id(refreshed["id_token"], client, nonce=nonce, refreshed=True)
    assert refreshed_id["sub"] == access["sub"] and refreshed_id["auth_time"] == id_claims["auth_time"]
    assert hosted.userinfo(refreshed["access_token"]).status_code == 200

    # Revoke the refresh token: 200 with an empty body; it stops working, and so do the access
    # tokens issued from it (A.9).
    resp = session.revoke_token(hosted.revoke_endpoint, token=refresh_token, token_type_hint="refresh_token")
    assert resp.status_code == 200, resp.text
    assert resp.content == b""
    with pytest.raises(OAuthError) as raised:
        session.refresh_token(hosted.token_endpoint, refresh_token=refresh_token)
    assert raised.value.error == "invalid_grant"
    oauth_error(hosted.refresh(client, refresh_token), "invalid_grant")
    for access_token in (first_access, refreshed["access_token"]):
        assert hosted.userinfo(access_token).status_code == 401


def test_client_secret_post_with_authlib(hosted):
    client = hosted.client()
    username = hosted.user()
    session, token, nonce = authlib_code_flow(
        hosted,
        client,
        username,
        token_endpoint_auth_method="client_secret_post",
        revocation_endpoint_auth_method="client_secret_post",
    )
    code_id_token(hosted, client, token, nonce)
    assert hosted.verify_access(token["access_token"], client)["username"] == username
    refreshed = session.refresh_token(hosted.token_endpoint, refresh_token=token["refresh_token"])
    assert hosted.verify_access(refreshed["access_token"], client)["username"] == username
    resp = session.revoke_token(hosted.revoke_endpoint, token=token["refresh_token"])
    assert resp.status_code == 200, resp.text
    oauth_error(hosted.refresh(client, token["refresh_token"], auth="post"), "invalid_grant")


def test_public_client_with_pkce(hosted):
    """A client without a secret authenticates with client_id alone; PKCE makes that safe."""
    client = hosted.client(secret=False)
    assert "ClientSecret" not in client
    username = hosted.user()
    session, token, nonce = authlib_code_flow(hosted, client, username)
    assert session.token_endpoint_auth_method == "none"
    claims = code_id_token(hosted, client, token, nonce)
    assert claims["cognito:username"] == username
    assert session.get(hosted.userinfo_endpoint, timeout=HTTP_TIMEOUT).json()["username"] == username

    # Refresh with client_id alone; without rotation there is no new refresh token.
    resp = hosted.refresh(client, token["refresh_token"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Pragma"] == "no-cache"
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert {"access_token", "id_token", "token_type", "expires_in"} <= set(body)
    assert "refresh_token" not in body
    assert hosted.revoke(client, token["refresh_token"]).status_code == 200
    oauth_error(hosted.refresh(client, token["refresh_token"]), "invalid_grant")


def test_scopes_narrow_the_access_token_and_user_info(hosted):
    client = hosted.client()
    username = hosted.user(attributes={"name": "Alice Example"})

    # openid alone: an ID token, an access token whose scope is only openid. userInfo answers
    # with what the client can read (AWS userInfo docs: "openid: all user attributes that the
    # app client can read"; oauth-provider.md A.8).
    token = hosted.tokens(client, username, scope="openid")
    access = hosted.verify_access(token["access_token"], client)
    assert access["scope"].split() == ["openid"]
    assert "id_token" in token
    info = hosted.userinfo(token["access_token"]).json()
    assert info["username"] == username and info["sub"] == access["sub"]
    assert info.get("email") == f"{username}@example.com" and info.get("name") == "Alice Example", info

    # openid profile: the profile attributes, not the e-mail address.
    token = hosted.tokens(client, username, scope="openid profile")
    assert set(hosted.verify_access(token["access_token"], client)["scope"].split()) == {"openid", "profile"}
    info = hosted.userinfo(token["access_token"]).json()
    assert info["sub"] == access["sub"]
    assert info.get("name") == "Alice Example", info
    assert "email" not in info and "email_verified" not in info, info

    # openid email: the e-mail address and its verified flag as a string.
    token = hosted.tokens(client, username, scope="openid email")
    info = hosted.userinfo(token["access_token"]).json()
    assert info["email"] == f"{username}@example.com" and info["email_verified"] == "true", info

    # No scope: every scope the client is allowed.
    token = hosted.tokens(client, username)
    assert set(hosted.verify_access(token["access_token"], client)["scope"].split()) == set(USER_SCOPES)

    # A refresh may narrow the scope (Authlib sends one), never widen it.
    resp = hosted.refresh(client, token["refresh_token"], scope="openid")
    assert resp.status_code == 200, resp.text
    assert hosted.verify_access(resp.json()["access_token"], client)["scope"].split() == ["openid"]


def test_custom_scope_of_a_resource_server(hosted):
    hosted.idp.create_resource_server(
        UserPoolId=hosted.pool_id,
        Identifier=API,
        Name="api",
        Scopes=[
            {"ScopeName": "read", "ScopeDescription": "read things"},
            {"ScopeName": "write", "ScopeDescription": "write things"},
        ],
    )
    client = hosted.client(scopes=["openid", "email", f"{API}/read"])
    username = hosted.user()
    session, token, _ = authlib_code_flow(hosted, client, username, scope=f"openid {API}/read")
    access = hosted.verify_access(token["access_token"], client)
    assert set(access["scope"].split()) == {"openid", f"{API}/read"}
    assert access["username"] == username
    # The default (no scope) grants every allowed scope, the custom one included.
    token = hosted.tokens(client, username)
    assert set(hosted.verify_access(token["access_token"], client)["scope"].split()) == {"openid", "email", f"{API}/read"}


def test_admin_scope_decides_whether_get_user_accepts_the_token(hosted):
    client = hosted.client()
    username = hosted.user()
    with_admin = hosted.tokens(client, username, scope=f"openid email {ADMIN_SCOPE}")
    assert ADMIN_SCOPE in hosted.verify_access(with_admin["access_token"], client)["scope"].split()
    user = hosted.public.get_user(AccessToken=with_admin["access_token"])
    assert user["Username"] == username
    assert {a["Name"]: a["Value"] for a in user["UserAttributes"]}["email"] == f"{username}@example.com"

    without = hosted.tokens(client, username, scope="openid email")
    assert ADMIN_SCOPE not in hosted.verify_access(without["access_token"], client)["scope"].split()
    expect_error("NotAuthorizedException", hosted.public.get_user, AccessToken=without["access_token"])
    # The same token is good for userInfo (which needs openid, not the admin scope).
    assert hosted.userinfo(without["access_token"]).status_code == 200


def test_refresh_token_rotation_and_reuse_detection(hosted):
    """With rotation every refresh answers a new refresh token; presenting a rotated one again
    is refused and revokes the whole family (RFC 9700 §4.14.2, oauth-provider.md D.6 step 5)."""
    client = hosted.client(RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0})
    username = hosted.user()
    token = hosted.tokens(client, username, scope="openid email")
    first = token["refresh_token"]

    resp = hosted.refresh(client, first)
    assert resp.status_code == 200, resp.text
    second = resp.json()["refresh_token"]
    assert second != first
    assert hosted.verify_access(resp.json()["access_token"], client)["username"] == username

    resp = hosted.refresh(client, second)
    assert resp.status_code == 200, resp.text
    third = resp.json()["refresh_token"]
    assert third not in (first, second)

    # Reuse of a rotated token: refused, and the live token of the family dies with it.
    oauth_error(hosted.refresh(client, first), "invalid_grant")
    oauth_error(hosted.refresh(client, third), "invalid_grant")
    oauth_error(hosted.refresh(client, second), "invalid_grant")

    # A new sign-in starts a new family that works.
    token = hosted.tokens(client, username, scope="openid email")
    assert hosted.refresh(client, token["refresh_token"]).status_code == 200


def test_groups_and_token_validity_follow_the_pool_and_client(hosted):
    client = hosted.client(
        AccessTokenValidity=10,
        IdTokenValidity=20,
        TokenValidityUnits={"AccessToken": "minutes", "IdToken": "minutes"},
    )
    username = hosted.user()
    hosted.idp.create_group(UserPoolId=hosted.pool_id, GroupName="admins")
    hosted.idp.admin_add_user_to_group(UserPoolId=hosted.pool_id, Username=username, GroupName="admins")
    token = hosted.tokens(client, username, scope="openid email")
    assert token["expires_in"] == 600
    access = hosted.verify_access(token["access_token"], client)
    assert access["exp"] - access["iat"] == 600
    assert access["cognito:groups"] == ["admins"]
    id_claims = hosted.verify_id(token["id_token"], client, token["access_token"])
    assert id_claims["exp"] - id_claims["iat"] == 1200
    assert id_claims["cognito:groups"] == ["admins"]
