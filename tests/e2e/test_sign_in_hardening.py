"""Issue 11 §1, the sign-in findings, each shown through real clients (boto3, pycognito's SRP
client, requests at the hosted pages):

- §1.3 every failure counts: N parallel wrong passwords are counted before any is checked;
- §1.5 the SRP server state is sealed at rest, and expired sign-in state is swept;
- §1.7 no user enumeration where PreventUserExistenceErrors is ENABLED: an unknown user's SRP
  challenge is shaped like a real one, stable per name (across restarts), and its answer reads
  like a wrong password; unknown names are counted and locked like users;
- §1.9 a user disabled while a challenge is pending gets no tokens (API and hosted page).

Rows are read (and aged) in the database itself where the API cannot show them, as
test_auth_lockout.py and test_auth_expiry.py do.
"""

from __future__ import annotations

import base64
import re
import time
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions
import pytest
from pycognito.aws_srp import AWSSRP

from auth_support import (  # noqa: F401  (fixtures)
    INCORRECT,
    NEW_PASSWORD,
    TEMP_PASSWORD,
    WRONG_PASSWORD,
    AuthApp,
    auth_app,
    client_settings,
    make_auth_app,
)
from helpers import PASSWORD, App, expect_error, store_query, unique
from oauth_support import (  # noqa: F401  (fixtures)
    Browser,
    Page,
    hosted,
    pkce,
    query_of,
)

LOCKED = "Password attempts exceeded"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SRP_FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def outcome(fn, *args, **kwargs) -> str:
    """The error message of a call that must fail."""
    try:
        fn(*args, **kwargs)
    except botocore.exceptions.ClientError as exc:
        return exc.response["Error"]["Message"]
    raise AssertionError("the call succeeded")


def failure_counts(server, pool_id: str) -> list[int]:
    rows = store_query(server.store, "SELECT failures FROM sign_in_failures WHERE pool_id = ?", (pool_id,))
    return [r[0] for r in rows]


def srp_start(app: AuthApp, username: str, password: str = PASSWORD) -> tuple[AWSSRP, dict]:
    srp = AWSSRP(username=username, password=password, pool_id=app.pool_id, client_id=app.client_id, client=app.public)
    challenge = app.public.initiate_auth(
        ClientId=app.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=srp.get_auth_params()
    )
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    return srp, challenge


def srp_answer(app: AuthApp, srp: AWSSRP, challenge: dict) -> dict:
    responses = srp.process_challenge(challenge["ChallengeParameters"], {"USERNAME": srp.username})
    return app.public.respond_to_auth_challenge(
        ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses
    )


# --------------------------------------------------------------------------
# §1.3 every failure counts


def test_issue_11_parallel_wrong_passwords_all_count(auth_app):
    user = auth_app.user()
    with ThreadPoolExecutor(max_workers=20) as pool:
        messages = list(pool.map(lambda _: outcome(auth_app.initiate, user, WRONG_PASSWORD), range(20)))
    checked = messages.count(INCORRECT)
    locked = messages.count(LOCKED)
    assert checked + locked == 20, messages
    # Every checked password was counted (before the fix twenty parallel failures all read
    # "no failures yet" and wrote a count of one), and the lock stopped the rest unchecked.
    assert failure_counts(auth_app.server, auth_app.pool_id) == [checked]
    assert checked >= 5 and locked > 0, messages


def test_issue_11_srp_proofs_count_towards_the_lockout(make_auth_app):
    app = make_auth_app(client={"ExplicitAuthFlows": SRP_FLOWS})
    user = app.user()
    for _ in range(5):
        srp, challenge = srp_start(app, user, WRONG_PASSWORD)
        expect_error("NotAuthorizedException", srp_answer, app, srp, challenge, message=INCORRECT)
    assert failure_counts(app.server, app.pool_id) == [5]
    srp, challenge = srp_start(app, user, PASSWORD)
    expect_error("NotAuthorizedException", srp_answer, app, srp, challenge, message=LOCKED)


# --------------------------------------------------------------------------
# §1.5 sealed and swept


def test_issue_11_srp_server_state_is_sealed(make_auth_app):
    app = make_auth_app(client={"ExplicitAuthFlows": SRP_FLOWS})
    user = app.user()
    _, challenge = srp_start(app, user)
    big_b = challenge["ChallengeParameters"]["SRP_B"]
    rows = store_query(app.server.store, "SELECT sealed_state FROM auth_sessions WHERE pool_id = ?", (app.pool_id,))
    assert len(rows) == 1
    sealed = bytes(rows[0][0])
    assert big_b.encode() not in sealed and b"srp" not in sealed and user.encode() not in sealed


def test_issue_11_expired_sign_in_state_is_swept(server_factory):
    server = server_factory.start(extra_args=["--sweep-interval", "1"])
    idp = server.client()
    public = server.unsigned_client()
    pool = idp.create_user_pool(PoolName=unique("sweep"))["UserPool"]
    # ENABLED: only a client that hides users answers unknown names with a challenge and
    # counts their wrong passwords, which are the rows this test needs.
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="sweep",
        **client_settings({"ExplicitAuthFlows": SRP_FLOWS, "PreventUserExistenceErrors": "ENABLED"}),
    )["UserPoolClient"]
    app = AuthApp.of(App(server, idp, public, pool, client))
    # Unauthenticated calls that leave rows behind: SRP challenges for names nobody has, and
    # wrong passwords for them.
    for i in range(10):
        srp_start(app, f"nobody-{i}")
        expect_error("NotAuthorizedException", app.initiate, f"nobody-{i}", WRONG_PASSWORD)
    assert store_query(server.store, "SELECT COUNT(*) FROM auth_sessions WHERE pool_id = ?", (pool["Id"],))[0][0] == 10
    assert len(failure_counts(server, pool["Id"])) == 10
    # A live session is kept; expired ones (and failure counts older than fifteen minutes) go.
    srp_start(app, "still-live")
    long_ago = int(time.time() * 1000) - 16 * 60 * 1000
    store_query(
        server.store,
        "UPDATE auth_sessions SET expires_at = ? WHERE pool_id = ? AND expires_at < ?",
        (long_ago, pool["Id"], int(time.time() * 1000) + 10 * 60 * 1000),
    )
    store_query(server.store, "UPDATE sign_in_failures SET last_failure_at = ? WHERE pool_id = ?", (long_ago, pool["Id"]))
    srp_start(app, "fresh")  # a session made after the aging, still live
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sessions = store_query(server.store, "SELECT COUNT(*) FROM auth_sessions WHERE pool_id = ?", (pool["Id"],))[0][0]
        if sessions == 1 and not failure_counts(server, pool["Id"]):
            break
        time.sleep(0.2)
    assert sessions == 1, "expired challenge sessions were not swept"
    assert not failure_counts(server, pool["Id"]), "forgotten failure counts were not swept"


# --------------------------------------------------------------------------
# §1.7 no enumeration


@pytest.mark.parametrize("usernames", ["email", "plain"])
def test_issue_11_unknown_users_srp_challenge_looks_real(make_auth_app, usernames):
    if usernames == "email":
        app = make_auth_app(client={"ExplicitAuthFlows": SRP_FLOWS, "PreventUserExistenceErrors": "ENABLED"}, UsernameAttributes=["email"])
        known = f"{unique('known')}@example.com"
        unknown = f"{unique('unknown')}@example.com"
    else:
        app = make_auth_app(
            client={"ExplicitAuthFlows": SRP_FLOWS, "PreventUserExistenceErrors": "ENABLED"},
            UsernameConfiguration={"CaseSensitive": False},
        )
        known = unique("known")
        unknown = unique("unknown")
    app.user(known, attributes={"email": known if usernames == "email" else f"{known}@example.com"})
    real_srp, real = srp_start(app, known)
    fake_srp, fake = srp_start(app, unknown)
    real_p, fake_p = real["ChallengeParameters"], fake["ChallengeParameters"]
    assert set(real_p) == set(fake_p)
    assert len(base64.b64decode(real_p["SECRET_BLOCK"])) == len(base64.b64decode(fake_p["SECRET_BLOCK"]))
    assert fake_p["USERNAME"] == fake_p["USER_ID_FOR_SRP"]
    if usernames == "email":
        # A real user's id is its UUID username; before the fix a decoy echoed the address.
        assert UUID_RE.match(real_p["USER_ID_FOR_SRP"]) and UUID_RE.match(fake_p["USER_ID_FOR_SRP"]), fake_p
    else:
        # In a case-insensitive pool every spelling of a name gets the same answer.
        _, again = srp_start(app, unknown.upper())
        assert again["ChallengeParameters"]["USER_ID_FOR_SRP"] == fake_p["USER_ID_FOR_SRP"]
        assert again["ChallengeParameters"]["SALT"] == fake_p["SALT"]
    # Stable per name: asking twice does not reveal a decoy.
    _, twice = srp_start(app, unknown)
    assert twice["ChallengeParameters"]["USER_ID_FOR_SRP"] == fake_p["USER_ID_FOR_SRP"]
    assert twice["ChallengeParameters"]["SALT"] == fake_p["SALT"]
    # Every challenge, real or not, wrote one session.
    asked = 4 if usernames == "plain" else 3
    assert store_query(app.server.store, "SELECT COUNT(*) FROM auth_sessions WHERE pool_id = ?", (app.pool_id,))[0][0] == asked
    # A wrong password for the real user and any answer for the decoy read the same.
    wrong_srp = AWSSRP(username=known, password=WRONG_PASSWORD, pool_id=app.pool_id, client_id=app.client_id, client=app.public)
    wrong_srp.large_a_value = real_srp.large_a_value
    wrong_srp.small_a_value = real_srp.small_a_value
    expect_error("NotAuthorizedException", srp_answer, app, wrong_srp, real, message=INCORRECT)
    expect_error("NotAuthorizedException", srp_answer, app, fake_srp, fake, message=INCORRECT)


def test_issue_11_decoy_is_stable_across_restarts(server_factory):
    server = server_factory.start()
    idp, public = server.client(), server.unsigned_client()
    pool = idp.create_user_pool(PoolName=unique("decoy"), UsernameAttributes=["email"])["UserPool"]
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="decoy",
        ExplicitAuthFlows=SRP_FLOWS,
        PreventUserExistenceErrors="ENABLED",
    )["UserPoolClient"]
    app = AuthApp.of(App(server, idp, public, pool, client))
    _, before = srp_start(app, "ghost@example.com")
    server.stop()
    server = server_factory.start(server.store, name="decoy-restarted")
    app = AuthApp.of(App(server, server.client(), server.unsigned_client(), pool, client))
    _, after = srp_start(app, "ghost@example.com")
    for name in ("USER_ID_FOR_SRP", "SALT"):
        assert before["ChallengeParameters"][name] == after["ChallengeParameters"][name], name


def test_issue_11_unknown_names_are_locked_like_users(make_auth_app):
    app = make_auth_app(client={"PreventUserExistenceErrors": "ENABLED"})
    known = app.user()
    unknown = unique("nobody")
    for name in (known, unknown):
        answers = [outcome(app.initiate, name, WRONG_PASSWORD) for _ in range(6)]
        assert answers == [INCORRECT] * 5 + [LOCKED], (name, answers)


# --------------------------------------------------------------------------
# §1.9 a user disabled while a challenge is pending gets no tokens


def refresh_tokens(server, pool_id: str) -> int:
    return store_query(server.store, "SELECT COUNT(*) FROM refresh_tokens WHERE pool_id = ?", (pool_id,))[0][0]


def test_issue_11_disabled_during_new_password_challenge(auth_app):
    user = auth_app.invited_user()
    challenge = auth_app.initiate(user, TEMP_PASSWORD)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    auth_app.idp.admin_disable_user(UserPoolId=auth_app.pool_id, Username=user)
    expect_error(
        "NotAuthorizedException",
        auth_app.public.respond_to_auth_challenge,
        ClientId=auth_app.client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": user, "NEW_PASSWORD": NEW_PASSWORD},
        message="User is disabled.",
    )
    assert refresh_tokens(auth_app.server, auth_app.pool_id) == 0
    # Nothing was changed: the temporary password is still the password.
    got = auth_app.idp.admin_get_user(UserPoolId=auth_app.pool_id, Username=user)
    assert got["UserStatus"] == "FORCE_CHANGE_PASSWORD" and got["Enabled"] is False


def test_issue_11_disabled_during_srp_challenge(make_auth_app):
    app = make_auth_app(client={"ExplicitAuthFlows": SRP_FLOWS})
    user = app.user()
    srp, challenge = srp_start(app, user)
    app.idp.admin_disable_user(UserPoolId=app.pool_id, Username=user)
    expect_error("NotAuthorizedException", srp_answer, app, srp, challenge, message="User is disabled.")
    assert refresh_tokens(app.server, app.pool_id) == 0


def test_issue_11_disabled_during_the_hosted_new_password_page(hosted):
    client = hosted.client()
    username = unique("temp")
    hosted.idp.admin_create_user(
        UserPoolId=hosted.pool_id,
        Username=username,
        TemporaryPassword=TEMP_PASSWORD,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}, {"Name": "email_verified", "Value": "true"}],
    )
    _, code_challenge = pkce()
    url = hosted.authorize_url(client, code_challenge=code_challenge, code_challenge_method="S256")
    browser = Browser(hosted.server)
    page = browser.open(url)
    resp = browser.submit(page, "cognitoSignInForm", {"username": username, "password": TEMP_PASSWORD})
    shown = Page(resp, page.url)
    assert shown.has_form("newPasswordForm")
    hosted.idp.admin_disable_user(UserPoolId=hosted.pool_id, Username=username)
    resp = browser.submit(shown, "newPasswordForm", {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert "code" not in query_of(resp.headers.get("Location", "")), resp.headers.get("Location")
    assert hosted.idp.admin_get_user(UserPoolId=hosted.pool_id, Username=username)["UserStatus"] == "FORCE_CHANGE_PASSWORD"
