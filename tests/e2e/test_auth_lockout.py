"""Cognito's lock-out after repeated wrong passwords (wire facts 4.1, issue 4 item 5): after 5
consecutive failures sign-in is locked for 2^(n-5) seconds (up to 15 minutes), answered with
NotAuthorizedException "Password attempts exceeded" even for the right password; a success
resets the count, and so do 15 quiet minutes.

No test sleeps: the failures are made through the API, and the time since the last failure is
moved in the database (table sign_in_failures: pool_id, failures, last_failure_at in epoch
milliseconds), as test_code_expiry.py does for codes. Each test has a pool of its own, so
the rows are addressed by pool."""

from __future__ import annotations

import time

from auth_support import (  # noqa: F401  (fixtures)
    INCORRECT,
    WRONG_PASSWORD,
    auth_app,
    make_auth_app,
)
from helpers import PASSWORD, expect_error, store_query

LOCKED = "Password attempts exceeded"


def now_ms() -> int:
    return int(time.time() * 1000)


def set_failures(server, pool_id: str, failures: int, seconds_ago: float) -> None:
    store_query(
        server.store,
        "UPDATE sign_in_failures SET failures = ?, last_failure_at = ? WHERE pool_id = ?",
        (failures, now_ms() - int(seconds_ago * 1000), pool_id),
    )


def failures(server, pool_id: str) -> list[int]:
    return [r[0] for r in store_query(server.store, "SELECT failures FROM sign_in_failures WHERE pool_id = ?", (pool_id,))]


def fail(app, user: str, times: int) -> None:
    for _ in range(times):
        expect_error("NotAuthorizedException", app.initiate, user, WRONG_PASSWORD, message=INCORRECT)


def test_four_failures_do_not_lock(auth_app):
    user = auth_app.user()
    fail(auth_app, user, 4)
    assert auth_app.sign_in(user)["AccessToken"]


def test_locked_after_repeated_failures(server, auth_app):
    user = auth_app.user()
    fail(auth_app, user, 5)
    assert failures(server, auth_app.pool_id) == [5]
    # ten failures, the last one just now: locked for 2^5 = 32 s
    set_failures(server, auth_app.pool_id, 10, 0)
    expect_error("NotAuthorizedException", auth_app.initiate, user, PASSWORD, message=LOCKED)
    expect_error("NotAuthorizedException", auth_app.initiate, user, WRONG_PASSWORD, message=LOCKED)
    expect_error("NotAuthorizedException", auth_app.admin_initiate, user, PASSWORD, message=LOCKED)
    # attempts during the lock do not extend it
    assert failures(server, auth_app.pool_id) == [10]
    # 33 s later the lock is over and the right password signs in ...
    set_failures(server, auth_app.pool_id, 10, 33)
    assert auth_app.sign_in(user)["AccessToken"]
    # ... and the success resets the count: one more failure is an ordinary wrong password
    fail(auth_app, user, 1)
    assert auth_app.sign_in(user)["AccessToken"]


def test_lock_grows_with_the_failures(server, auth_app):
    user = auth_app.user()
    fail(auth_app, user, 1)
    # 8 failures -> 2^3 = 8 s: locked 5 s after the last failure, open 9 s after it
    set_failures(server, auth_app.pool_id, 8, 5)
    expect_error("NotAuthorizedException", auth_app.initiate, user, PASSWORD, message=LOCKED)
    set_failures(server, auth_app.pool_id, 8, 9)
    assert auth_app.sign_in(user)["AccessToken"]


def test_lock_is_at_most_15_minutes(server, auth_app):
    user = auth_app.user()
    fail(auth_app, user, 1)
    set_failures(server, auth_app.pool_id, 40, 14 * 60)
    expect_error("NotAuthorizedException", auth_app.initiate, user, PASSWORD, message=LOCKED)
    set_failures(server, auth_app.pool_id, 40, 15 * 60 + 5)
    assert auth_app.sign_in(user)["AccessToken"]


def test_fifteen_quiet_minutes_forget_the_failures(server, auth_app):
    user = auth_app.user()
    fail(auth_app, user, 5)
    set_failures(server, auth_app.pool_id, 5, 16 * 60)
    # a new failure starts counting from one again: four more do not lock
    fail(auth_app, user, 4)
    assert auth_app.sign_in(user)["AccessToken"]


def test_lock_is_per_user(server, auth_app):
    locked = auth_app.user()
    other = auth_app.user()
    fail(auth_app, locked, 5)
    store_query(
        server.store,
        "UPDATE sign_in_failures SET failures = ?, last_failure_at = ? WHERE pool_id = ? AND failures > 0",
        (10, now_ms(), auth_app.pool_id),
    )
    expect_error("NotAuthorizedException", auth_app.initiate, locked, PASSWORD, message=LOCKED)
    assert auth_app.sign_in(other)["AccessToken"]


def test_locked_new_password_challenge(server, auth_app):
    user = auth_app.invited_user()
    fail(auth_app, user, 5)
    set_failures(server, auth_app.pool_id, 10, 0)
    expect_error("NotAuthorizedException", auth_app.initiate, user, "Temp0rary!pw", message=LOCKED)
