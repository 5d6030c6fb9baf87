"""Revocation and sign-out: RevokeToken, GlobalSignOut, AdminUserGlobalSignOut (wire facts 3.8).
A revoked refresh token stops working, and so does every access token of its sign-in session,
on every token-authorised operation."""

from __future__ import annotations

import pytest

from auth_support import (  # noqa: F401  (fixtures)
    ROTATION,
    REVOKED_ACCESS,
    REVOKED_REFRESH,
    auth_app,
    call_error,
    make_auth_app,
    refused_everywhere,
)
from helpers import expect_error


def assert_session_dead(app, tokens: dict, *access_tokens: str) -> None:
    expect_error("NotAuthorizedException", app.refresh, tokens["RefreshToken"], message=REVOKED_REFRESH)
    expect_error("NotAuthorizedException", app.get_tokens, tokens["RefreshToken"], message=REVOKED_REFRESH)
    for token in (tokens["AccessToken"], *access_tokens):
        expect_error("NotAuthorizedException", app.get_user, token, message=REVOKED_ACCESS)


def assert_session_alive(app, tokens: dict, user: str) -> None:
    assert app.get_user(tokens["AccessToken"])["Username"] == user
    refreshed = app.refresh(tokens["RefreshToken"])["AuthenticationResult"]
    assert app.get_user(refreshed["AccessToken"])["Username"] == user


# --------------------------------------------------------------------------
# RevokeToken


def test_revoke_token(auth_app):
    user = auth_app.user()
    revoked = auth_app.sign_in(user)
    kept = auth_app.sign_in(user)
    refreshed = auth_app.refresh(revoked["RefreshToken"])["AuthenticationResult"]
    resp = auth_app.revoke(revoked["RefreshToken"])
    resp.pop("ResponseMetadata")
    assert resp == {}
    # the refresh token and every access token minted from it (sign-in and refresh)
    assert_session_dead(auth_app, revoked, refreshed["AccessToken"])
    # another sign-in of the same user is untouched
    assert_session_alive(auth_app, kept, user)


def test_revoke_token_twice_is_fine(auth_app):
    user = auth_app.user()
    tokens = auth_app.sign_in(user)
    auth_app.revoke(tokens["RefreshToken"])
    again = auth_app.revoke(tokens["RefreshToken"])
    again.pop("ResponseMetadata")
    assert again == {}


def test_revoked_access_token_refused_everywhere(auth_app):
    user = auth_app.user()
    tokens = auth_app.sign_in(user)
    auth_app.revoke(tokens["RefreshToken"])
    refused_everywhere(auth_app, tokens["AccessToken"], REVOKED_ACCESS)
    # nothing happened to the account
    assert auth_app.status(user) == "CONFIRMED"
    assert auth_app.sign_in(user)["AccessToken"]


@pytest.mark.parametrize("kind", ["AccessToken", "IdToken"])
def test_revoke_token_with_a_jwt(auth_app, kind):
    user = auth_app.user()
    tokens = auth_app.sign_in(user)
    expect_error("UnsupportedTokenTypeException", auth_app.revoke, tokens[kind])
    # nothing was revoked
    assert_session_alive(auth_app, tokens, user)


def test_revoke_token_disabled_for_the_client(make_auth_app):
    app = make_auth_app(client={"EnableTokenRevocation": False})
    user = app.user()
    tokens = app.sign_in(user)
    expect_error("UnsupportedOperationException", app.revoke, tokens["RefreshToken"])
    assert_session_alive(app, tokens, user)


def test_revoke_token_with_client_secret(make_auth_app):
    app = make_auth_app(secret=True)
    user = app.user()
    revoked = app.sign_in(user)
    kept = app.sign_in(user)
    app.revoke(revoked["RefreshToken"])
    expect_error("NotAuthorizedException", app.get_tokens, revoked["RefreshToken"], message=REVOKED_REFRESH)
    expect_error("NotAuthorizedException", app.get_user, revoked["AccessToken"], message=REVOKED_ACCESS)
    assert app.get_user(kept["AccessToken"])["Username"] == user


@pytest.mark.parametrize("secret", [None, "wrongsecret" + "x" * 40], ids=["missing", "wrong"])
def test_revoke_token_bad_client_secret(make_auth_app, secret):
    app = make_auth_app(secret=True)
    user = app.user()
    tokens = app.sign_in(user)
    kwargs = {"Token": tokens["RefreshToken"], "ClientId": app.client_id}
    if secret:
        kwargs["ClientSecret"] = secret
    err = call_error(app.public.revoke_token, **kwargs)
    assert err["Code"] in ("UnauthorizedException", "NotAuthorizedException"), err
    assert app.get_user(tokens["AccessToken"])["Username"] == user
    assert app.get_tokens(tokens["RefreshToken"])["AuthenticationResult"]["AccessToken"]


def test_revoke_rotated_refresh_token_ends_the_whole_session(make_auth_app):
    app = make_auth_app(client=ROTATION)
    user = app.user()
    original = app.sign_in(user)
    rotated = app.get_tokens(original["RefreshToken"])["AuthenticationResult"]
    app.revoke(rotated["RefreshToken"])
    expect_error("NotAuthorizedException", app.get_tokens, rotated["RefreshToken"], message=REVOKED_REFRESH)
    for token in (original["AccessToken"], rotated["AccessToken"]):
        expect_error("NotAuthorizedException", app.get_user, token, message=REVOKED_ACCESS)


def test_revoke_does_not_touch_other_users(auth_app):
    alice = auth_app.user()
    bob = auth_app.user()
    a = auth_app.sign_in(alice)
    b = auth_app.sign_in(bob)
    auth_app.revoke(a["RefreshToken"])
    assert_session_alive(auth_app, b, bob)


# --------------------------------------------------------------------------
# GlobalSignOut / AdminUserGlobalSignOut


def sign_out_by(app, how: str, user: str, tokens: dict) -> None:
    if how == "GlobalSignOut":
        resp = app.public.global_sign_out(AccessToken=tokens["AccessToken"])
    else:
        resp = app.idp.admin_user_global_sign_out(UserPoolId=app.pool_id, Username=user)
    resp.pop("ResponseMetadata")
    assert resp == {}


@pytest.mark.parametrize("how", ["GlobalSignOut", "AdminUserGlobalSignOut"])
def test_global_sign_out(auth_app, how):
    user = auth_app.user()
    bystander = auth_app.user()
    first = auth_app.sign_in(user)
    second = auth_app.admin_initiate(user)["AuthenticationResult"]
    refreshed = auth_app.refresh(first["RefreshToken"])["AuthenticationResult"]
    other = auth_app.sign_in(bystander)
    sign_out_by(auth_app, how, user, first)
    # every refresh and access token of the user
    assert_session_dead(auth_app, first, refreshed["AccessToken"])
    assert_session_dead(auth_app, second)
    # other users keep their sessions
    assert_session_alive(auth_app, other, bystander)
    # and the user can sign in again; the new session works
    fresh = auth_app.sign_in(user)
    assert_session_alive(auth_app, fresh, user)


@pytest.mark.parametrize("how", ["GlobalSignOut", "AdminUserGlobalSignOut"])
def test_global_sign_out_with_secret_client(make_auth_app, how):
    app = make_auth_app(secret=True)
    user = app.user()
    tokens = app.sign_in(user)
    sign_out_by(app, how, user, tokens)
    expect_error("NotAuthorizedException", app.refresh, tokens["RefreshToken"], user, message=REVOKED_REFRESH)
    expect_error("NotAuthorizedException", app.get_tokens, tokens["RefreshToken"], message=REVOKED_REFRESH)
    expect_error("NotAuthorizedException", app.get_user, tokens["AccessToken"], message=REVOKED_ACCESS)


def test_global_sign_out_covers_every_client_of_the_pool(auth_app):
    from auth_support import add_client

    other_client = add_client(auth_app)
    user = auth_app.user()
    here = auth_app.sign_in(user)
    there = other_client.sign_in(user)
    auth_app.public.global_sign_out(AccessToken=here["AccessToken"])
    assert_session_dead(other_client, there)


def test_admin_user_global_sign_out_unknown_user(auth_app):
    expect_error(
        "UserNotFoundException",
        auth_app.idp.admin_user_global_sign_out,
        UserPoolId=auth_app.pool_id,
        Username="nobody-at-all",
    )


def test_global_sign_out_twice(auth_app):
    user = auth_app.user()
    tokens = auth_app.sign_in(user)
    auth_app.public.global_sign_out(AccessToken=tokens["AccessToken"])
    expect_error(
        "NotAuthorizedException", auth_app.public.global_sign_out, AccessToken=tokens["AccessToken"], message=REVOKED_ACCESS
    )


def test_sign_in_right_after_sign_out_is_not_revoked(auth_app):
    """A "revoked before" timestamp must not catch a sign-in in the same second."""
    user = auth_app.user()
    for _ in range(3):
        tokens = auth_app.sign_in(user)
        auth_app.idp.admin_user_global_sign_out(UserPoolId=auth_app.pool_id, Username=user)
        fresh = auth_app.sign_in(user)
        assert auth_app.get_user(fresh["AccessToken"])["Username"] == user
        assert auth_app.refresh(fresh["RefreshToken"])["AuthenticationResult"]["AccessToken"]
        expect_error("NotAuthorizedException", auth_app.get_user, tokens["AccessToken"], message=REVOKED_ACCESS)
