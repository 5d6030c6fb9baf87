"""Code lifetimes: a sign-up code lives 24 hours, a password-reset code one hour, and an
expired code is refused with ExpiredCodeException.

There is no clock to move on a running server, so these tests read and age the codes in the
database itself (table user_codes: pool_id, expires_at in epoch milliseconds); everything
else goes through the API."""

from __future__ import annotations

import time

from helpers import expect_error, store_query

HOUR_MS = 3600 * 1000


def code_expiries(server, pool_id: str) -> list[int]:
    return [row[0] for row in store_query(server.store, "SELECT expires_at FROM user_codes WHERE pool_id = ?", (pool_id,))]


def expire_codes(server, pool_id: str) -> None:
    store_query(server.store, "UPDATE user_codes SET expires_at = ? WHERE pool_id = ?", (int(time.time() * 1000) - 1000, pool_id))


def assert_lifetime(expiries: list[int], hours: int) -> None:
    now = time.time() * 1000
    assert len(expiries) == 1, expiries
    assert abs(expiries[0] - (now + hours * HOUR_MS)) < 120_000, (expiries[0] - now) / HOUR_MS


def test_sign_up_code_lives_24_hours_and_expires(server, app):
    app.sign_up("abe", attributes={"email": "abe@example.com"})
    assert_lifetime(code_expiries(server, app.pool_id), 24)
    code = app.code("abe")
    expire_codes(server, app.pool_id)
    expect_error(
        "ExpiredCodeException",
        app.public.confirm_sign_up,
        ClientId=app.client_id,
        Username="abe",
        ConfirmationCode=code,
    )
    assert app.status("abe") == "UNCONFIRMED"
    app.public.resend_confirmation_code(ClientId=app.client_id, Username="abe")
    app.public.confirm_sign_up(ClientId=app.client_id, Username="abe", ConfirmationCode=app.code("abe"))
    assert app.status("abe") == "CONFIRMED"


def test_reset_code_lives_1_hour_and_expires(server, app):
    app.create_user("bo", attributes={"email": "bo@example.com", "email_verified": "true"})
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username="bo", Password="Passw0rd!x", Permanent=True)
    app.public.forgot_password(ClientId=app.client_id, Username="bo")
    assert_lifetime(code_expiries(server, app.pool_id), 1)
    code = app.code("bo")
    expire_codes(server, app.pool_id)
    expect_error(
        "ExpiredCodeException",
        app.public.confirm_forgot_password,
        ClientId=app.client_id,
        Username="bo",
        ConfirmationCode=code,
        Password="N3w-Passw0rd",
    )
    assert app.status("bo") == "CONFIRMED"


def test_sign_up_code_is_not_a_reset_code(app):
    app.sign_up("cy", attributes={"email": "cy@example.com"})
    code = app.code("cy")
    try:
        app.public.confirm_forgot_password(
            ClientId=app.client_id, Username="cy", ConfirmationCode=code, Password="N3w-Passw0rd"
        )
    except app.public.exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] in (
            "ExpiredCodeException",
            "CodeMismatchException",
            "InvalidParameterException",
            "NotAuthorizedException",
        ), exc.response["Error"]
    else:
        raise AssertionError("a sign-up code reset the password")
    # and the sign-up code still confirms
    app.public.confirm_sign_up(ClientId=app.client_id, Username="cy", ConfirmationCode=code)
    assert app.status("cy") == "CONFIRMED"
