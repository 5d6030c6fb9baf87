"""Lifetimes of the server-side sign-in state: refresh tokens (RefreshTokenValidity, default 30
days) and challenge sessions (AuthSessionValidity, default 3 minutes), and what happens when
they run out (wire facts 3.6, 4.1).

There is no clock to move on a running server, so like test_code_expiry.py these tests read and
age the rows in the database itself (tables refresh_tokens and auth_sessions, expires_at in
epoch milliseconds); everything else goes through the API. Access tokens are self-contained
JWTs whose expiry cannot be reached without waiting, so they are not aged here."""

from __future__ import annotations

import time

import pytest

from auth_support import (  # noqa: F401  (fixtures)
    NEW_PASSWORD,
    auth_app,
    make_auth_app,
)
from helpers import expect_error, store_query

MINUTE_MS = 60 * 1000
DAY_MS = 24 * 60 * MINUTE_MS


def now_ms() -> int:
    return int(time.time() * 1000)


def expiries(server, table: str, pool_id: str) -> list[int]:
    return [r[0] for r in store_query(server.store, f"SELECT expires_at FROM {table} WHERE pool_id = ?", (pool_id,))]


def expire(server, table: str, pool_id: str) -> None:
    store_query(server.store, f"UPDATE {table} SET expires_at = ? WHERE pool_id = ?", (now_ms() - 1000, pool_id))


def assert_lifetime(values: list[int], ms: int) -> None:
    assert len(values) == 1, values
    assert abs(values[0] - (now_ms() + ms)) < 2 * MINUTE_MS, f"lifetime {(values[0] - now_ms()) / MINUTE_MS:.1f} min"


@pytest.mark.parametrize(
    "settings, lifetime_ms",
    [
        ({}, 30 * DAY_MS),
        ({"RefreshTokenValidity": 120, "TokenValidityUnits": {"RefreshToken": "minutes"}}, 120 * MINUTE_MS),
        ({"RefreshTokenValidity": 7}, 7 * DAY_MS),  # default unit: days
    ],
    ids=["default-30-days", "120-minutes", "7-days"],
)
def test_refresh_token_lifetime(server, make_auth_app, settings, lifetime_ms):
    app = make_auth_app(client=settings)
    user = app.user()
    app.sign_in(user)
    assert_lifetime(expiries(server, "refresh_tokens", app.pool_id), lifetime_ms)


def test_expired_refresh_token(server, auth_app):
    user = auth_app.user()
    tokens = auth_app.sign_in(user)
    expire(server, "refresh_tokens", auth_app.pool_id)
    expect_error("NotAuthorizedException", auth_app.refresh, tokens["RefreshToken"], message="Refresh Token has expired")
    expect_error("NotAuthorizedException", auth_app.get_tokens, tokens["RefreshToken"], message="Refresh Token has expired")
    # the access token lives by its own exp
    assert auth_app.get_user(tokens["AccessToken"])["Username"] == user
    # a new sign-in brings a new refresh token
    fresh = auth_app.sign_in(user)
    assert auth_app.refresh(fresh["RefreshToken"])["AuthenticationResult"]["AccessToken"]


def test_rotated_refresh_token_keeps_the_original_expiry(server, make_auth_app):
    """Cognito: "The new refresh token is valid for the remaining duration of the original"."""
    from auth_support import ROTATION

    app = make_auth_app(client={**ROTATION, "RefreshTokenValidity": 120, "TokenValidityUnits": {"RefreshToken": "minutes"}})
    user = app.user()
    original = app.sign_in(user)
    store_query(
        server.store,
        "UPDATE refresh_tokens SET expires_at = ? WHERE pool_id = ?",
        (now_ms() + 10 * MINUTE_MS, app.pool_id),
    )
    app.get_tokens(original["RefreshToken"])
    values = sorted(expiries(server, "refresh_tokens", app.pool_id))
    assert values, values
    assert values[-1] <= now_ms() + 11 * MINUTE_MS, f"rotation extended the session to {(values[-1] - now_ms()) / MINUTE_MS:.0f} min"


@pytest.mark.parametrize(
    "settings, minutes",
    [({}, 3), ({"AuthSessionValidity": 10}, 10)],
    ids=["default-3-minutes", "10-minutes"],
)
def test_challenge_session_lifetime(server, make_auth_app, settings, minutes):
    app = make_auth_app(client=settings)
    user = app.invited_user()
    resp = app.initiate(user, "Temp0rary!pw")
    assert resp["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert_lifetime(expiries(server, "auth_sessions", app.pool_id), minutes * MINUTE_MS)


def test_expired_challenge_session(server, auth_app):
    user = auth_app.invited_user()
    resp = auth_app.initiate(user, "Temp0rary!pw")
    expire(server, "auth_sessions", auth_app.pool_id)
    err = expect_error(
        "NotAuthorizedException",
        auth_app.public.respond_to_auth_challenge,
        ClientId=auth_app.client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=resp["Session"],
        ChallengeResponses={"USERNAME": user, "NEW_PASSWORD": NEW_PASSWORD},
    )
    assert err["Message"].startswith("Invalid session for the user"), err
    assert auth_app.status(user) == "FORCE_CHANGE_PASSWORD"
