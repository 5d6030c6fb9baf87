"""Refresh: REFRESH_TOKEN_AUTH / REFRESH_TOKEN through InitiateAuth and AdminInitiateAuth,
GetTokensFromRefreshToken, SECRET_HASH over the internal username, refresh-token rotation
(wire facts 3.5, 3.7, 3.14)."""

from __future__ import annotations

import botocore.exceptions
import pytest

from auth_support import (  # noqa: F401  (fixtures)
    ROTATION,
    INVALID_REFRESH,
    add_client,
    auth_app,
    call_error,
    jwt_claims,
    make_auth_app,
)
from helpers import expect_error, unique


def assert_refreshed(app, original: dict, refreshed: dict) -> None:
    """New ID and access tokens of the same sign-in session."""
    assert refreshed["TokenType"] == "Bearer"
    assert refreshed["ExpiresIn"] == original["ExpiresIn"]
    old_id, new_id = jwt_claims(original["IdToken"]), app.verify_id(refreshed["IdToken"])
    old_access, new_access = jwt_claims(original["AccessToken"]), app.verify_access(refreshed["AccessToken"])
    assert new_id["auth_time"] == old_id["auth_time"]
    assert new_access["auth_time"] == old_access["auth_time"]
    assert new_id["origin_jti"] == old_id["origin_jti"] == new_access["origin_jti"]
    assert new_id["jti"] != old_id["jti"] and new_access["jti"] != old_access["jti"]
    assert new_id["sub"] == old_id["sub"] and new_access["username"] == old_access["username"]
    assert new_access["scope"] == old_access["scope"]


@pytest.mark.parametrize("flow", ["REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"])
@pytest.mark.parametrize("admin", [False, True], ids=["InitiateAuth", "AdminInitiateAuth"])
def test_refresh_flows(auth_app, flow, admin):
    user = auth_app.user()
    original = auth_app.sign_in(user)
    resp = auth_app.refresh(original["RefreshToken"], flow=flow, admin=admin)
    assert resp["ChallengeParameters"] == {}
    assert "ChallengeName" not in resp
    refreshed = resp["AuthenticationResult"]
    assert "RefreshToken" not in refreshed, "no rotation: the refresh token stays the same"
    assert_refreshed(auth_app, original, refreshed)
    # the refreshed access token works, and the refresh token can be used again
    assert auth_app.get_user(refreshed["AccessToken"])["Username"] == user
    again = auth_app.refresh(original["RefreshToken"], flow=flow, admin=admin)["AuthenticationResult"]
    assert_refreshed(auth_app, original, again)


def test_refresh_gets_a_new_event_but_keeps_the_session(auth_app):
    user = auth_app.user()
    original = auth_app.sign_in(user)
    refreshed = auth_app.refresh(original["RefreshToken"])["AuthenticationResult"]
    # the original access token is still good after a refresh (no revocation implied)
    assert auth_app.get_user(original["AccessToken"])["Username"] == user
    assert auth_app.get_user(refreshed["AccessToken"])["Username"] == user


def test_refresh_needs_the_flow(make_auth_app):
    app = make_auth_app(client={"ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"]})
    user = app.user()
    tokens = app.sign_in(user)
    assert tokens["RefreshToken"]
    expect_error("InvalidParameterException", app.refresh, tokens["RefreshToken"])


@pytest.mark.parametrize(
    "token",
    ["not-a-refresh-token", "eyJjdHkiOiJKV1QiLCJlbmMiOiJBMjU2R0NNIiwiYWxnIjoiUlNBLU9BRVAifQ.a.b.c.d", "A" * 43],
    ids=["word", "jwe-shaped", "handle-shaped"],
)
def test_invalid_refresh_token(auth_app, token):
    auth_app.user()
    expect_error("NotAuthorizedException", auth_app.refresh, token, message=INVALID_REFRESH)
    expect_error("NotAuthorizedException", auth_app.refresh, token, admin=True, message=INVALID_REFRESH)
    expect_error("NotAuthorizedException", auth_app.get_tokens, token, message=INVALID_REFRESH)


def test_access_token_is_not_a_refresh_token(auth_app):
    user = auth_app.user()
    tokens = auth_app.sign_in(user)
    expect_error("NotAuthorizedException", auth_app.refresh, tokens["AccessToken"])


def test_missing_refresh_token_parameter(auth_app):
    expect_error(
        "InvalidParameterException",
        auth_app.public.initiate_auth,
        ClientId=auth_app.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"USERNAME": "someone"},
        contains="REFRESH_TOKEN",
    )


def test_refresh_token_is_bound_to_its_client(auth_app):
    other = add_client(auth_app)
    user = auth_app.user()
    tokens = auth_app.sign_in(user)
    expect_error("NotAuthorizedException", other.refresh, tokens["RefreshToken"])
    expect_error("NotAuthorizedException", other.get_tokens, tokens["RefreshToken"])


def test_refresh_token_is_bound_to_its_pool(make_auth_app):
    a = make_auth_app()
    b = make_auth_app()
    user = a.user()
    tokens = a.sign_in(user)
    expect_error("NotAuthorizedException", b.refresh, tokens["RefreshToken"])
    expect_error("NotAuthorizedException", b.refresh, tokens["RefreshToken"], admin=True)


def test_refresh_reflects_attribute_changes(auth_app):
    user = auth_app.user()
    tokens = auth_app.sign_in(user)
    auth_app.idp.admin_update_user_attributes(
        UserPoolId=auth_app.pool_id, Username=user, UserAttributes=[{"Name": "given_name", "Value": "Grace"}]
    )
    refreshed = auth_app.refresh(tokens["RefreshToken"])["AuthenticationResult"]
    assert auth_app.verify_id(refreshed["IdToken"])["given_name"] == "Grace"


def test_refresh_of_a_disabled_user(auth_app):
    user = auth_app.user()
    tokens = auth_app.sign_in(user)
    auth_app.idp.admin_disable_user(UserPoolId=auth_app.pool_id, Username=user)
    err = expect_error("NotAuthorizedException", auth_app.refresh, tokens["RefreshToken"])
    assert err["Message"] in ("User is disabled.", "Refresh Token has been revoked", INVALID_REFRESH), err
    expect_error("NotAuthorizedException", auth_app.get_tokens, tokens["RefreshToken"])


def test_refresh_of_a_deleted_user(auth_app):
    user = auth_app.user()
    tokens = auth_app.sign_in(user)
    auth_app.idp.admin_delete_user(UserPoolId=auth_app.pool_id, Username=user)
    err = call_error(auth_app.refresh, tokens["RefreshToken"])
    assert err["Code"] in ("NotAuthorizedException", "UserNotFoundException"), err


def test_refresh_survives_a_password_change(auth_app):
    """Cognito does not revoke refresh tokens on ChangePassword / AdminSetUserPassword."""
    user = auth_app.user()
    tokens = auth_app.sign_in(user)
    auth_app.idp.admin_set_user_password(
        UserPoolId=auth_app.pool_id, Username=user, Password="Ch4nged-Passw0rd!", Permanent=True
    )
    assert auth_app.refresh(tokens["RefreshToken"])["AuthenticationResult"]["AccessToken"]


# --------------------------------------------------------------------------
# GetTokensFromRefreshToken


def test_get_tokens_from_refresh_token(auth_app):
    user = auth_app.user()
    original = auth_app.sign_in(user)
    resp = auth_app.get_tokens(original["RefreshToken"])
    refreshed = resp["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    assert_refreshed(auth_app, original, refreshed)


def test_get_tokens_with_client_secret(make_auth_app):
    app = make_auth_app(secret=True)
    user = app.user()
    original = app.sign_in(user)
    refreshed = app.get_tokens(original["RefreshToken"])["AuthenticationResult"]
    assert_refreshed(app, original, refreshed)


def test_get_tokens_with_missing_or_wrong_client_secret(make_auth_app):
    app = make_auth_app(secret=True)
    user = app.user()
    original = app.sign_in(user)
    err = call_error(
        app.public.get_tokens_from_refresh_token, ClientId=app.client_id, RefreshToken=original["RefreshToken"]
    )
    assert err["Code"] in ("NotAuthorizedException", "UnauthorizedException"), err
    err = call_error(app.get_tokens, original["RefreshToken"], ClientSecret="notthesecret" + "x" * 40)
    assert err["Code"] in ("NotAuthorizedException", "UnauthorizedException"), err
    # still good with the right secret
    assert app.get_tokens(original["RefreshToken"])["AuthenticationResult"]["AccessToken"]


def test_get_tokens_of_another_client(auth_app):
    other = add_client(auth_app)
    user = auth_app.user()
    tokens = auth_app.sign_in(user)
    expect_error("NotAuthorizedException", other.get_tokens, tokens["RefreshToken"])


# --------------------------------------------------------------------------
# SECRET_HASH on refresh


def test_refresh_secret_hash_over_internal_username(make_auth_app):
    app = make_auth_app(secret=True)
    user = app.user()
    original = app.sign_in(user)
    refreshed = app.refresh(original["RefreshToken"], username=user)["AuthenticationResult"]
    assert_refreshed(app, original, refreshed)
    admin = app.refresh(original["RefreshToken"], username=user, admin=True)["AuthenticationResult"]
    assert_refreshed(app, original, admin)


def test_refresh_secret_hash_missing_or_wrong(make_auth_app):
    app = make_auth_app(secret=True)
    user = app.user()
    original = app.sign_in(user)
    expect_error(
        "NotAuthorizedException",
        app.public.initiate_auth,
        ClientId=app.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": original["RefreshToken"]},
    )
    expect_error(
        "NotAuthorizedException",
        app.public.initiate_auth,
        ClientId=app.client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": original["RefreshToken"], "SECRET_HASH": app.hash_for("someone-else")},
    )


def test_refresh_secret_hash_in_an_email_username_pool(make_auth_app):
    """Email-as-username pools: the hash is over the internal (UUID) username."""
    app = make_auth_app(secret=True, UsernameAttributes=["email"])
    email = f"{unique('m')}@example.com"
    app.public.sign_up(
        ClientId=app.client_id,
        Username=email,
        Password="Passw0rd!x",
        SecretHash=app.hash_for(email),
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    app.idp.admin_confirm_sign_up(UserPoolId=app.pool_id, Username=email)
    original = app.sign_in(email)
    internal = jwt_claims(original["AccessToken"])["username"]
    assert internal != email
    refreshed = app.refresh(original["RefreshToken"], username=internal)["AuthenticationResult"]
    assert_refreshed(app, original, refreshed)


# --------------------------------------------------------------------------
# rotation


def test_rotation_with_get_tokens_from_refresh_token(make_auth_app):
    app = make_auth_app(client=ROTATION)
    user = app.user()
    original = app.sign_in(user)
    first = app.get_tokens(original["RefreshToken"])["AuthenticationResult"]
    assert first.get("RefreshToken") and first["RefreshToken"] != original["RefreshToken"]
    assert_refreshed(app, original, first)
    # the rotated-out token is refused at once (no grace period)
    expect_error("RefreshTokenReuseException", app.get_tokens, original["RefreshToken"])
    # the new one works, and rotates again
    second = app.get_tokens(first["RefreshToken"])["AuthenticationResult"]
    assert second["RefreshToken"] not in (first["RefreshToken"], original["RefreshToken"])
    assert_refreshed(app, original, second)
    expect_error("RefreshTokenReuseException", app.get_tokens, first["RefreshToken"])


def test_rotation_with_client_secret(make_auth_app):
    app = make_auth_app(client=ROTATION, secret=True)
    user = app.user()
    original = app.sign_in(user)
    first = app.get_tokens(original["RefreshToken"])["AuthenticationResult"]
    assert first["RefreshToken"] != original["RefreshToken"]
    expect_error("RefreshTokenReuseException", app.get_tokens, original["RefreshToken"])


def test_rotation_cannot_be_bypassed_with_initiate_auth(make_auth_app):
    """Cognito documents REFRESH_TOKEN_AUTH as unavailable on rotating clients. Whatever tessera
    answers, it must not hand out tokens while keeping the old refresh token alive."""
    app = make_auth_app(client=ROTATION)
    user = app.user()
    original = app.sign_in(user)
    try:
        resp = app.refresh(original["RefreshToken"])
    except botocore.exceptions.ClientError:
        return  # refused, as Cognito does
    result = resp["AuthenticationResult"]
    assert result.get("RefreshToken") and result["RefreshToken"] != original["RefreshToken"], result
    expect_error("RefreshTokenReuseException", app.get_tokens, original["RefreshToken"])
    expect_error("RefreshTokenReuseException", app.refresh, original["RefreshToken"])


def test_rotation_reuse_is_refused_for_every_way_in(make_auth_app):
    app = make_auth_app(client=ROTATION)
    user = app.user()
    original = app.sign_in(user)
    app.get_tokens(original["RefreshToken"])
    err = call_error(app.refresh, original["RefreshToken"])
    assert err["Code"] in ("RefreshTokenReuseException", "NotAuthorizedException", "InvalidParameterException"), err
    err = call_error(app.refresh, original["RefreshToken"], admin=True)
    assert err["Code"] in ("RefreshTokenReuseException", "NotAuthorizedException", "InvalidParameterException"), err


def test_no_rotation_without_the_feature(make_auth_app):
    app = make_auth_app(client={"RefreshTokenRotation": {"Feature": "DISABLED"}})
    user = app.user()
    original = app.sign_in(user)
    for _ in range(2):
        result = app.get_tokens(original["RefreshToken"])["AuthenticationResult"]
        assert "RefreshToken" not in result
