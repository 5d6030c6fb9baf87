"""Issue 11 §1, the directory findings, each shown through boto3 (and requests at the hosted
new-password page):

- §1.1 every attribute write follows one rule set: the answer to NEW_PASSWORD_REQUIRED (API
  and page) cannot set a verified flag or an attribute outside the client's WriteAttributes,
  and a contact it sets is not verified;
- §1.2 one-time codes cannot be brute-forced: a guess takes its slot before the comparison,
  so a burst of concurrent wrong guesses with re-issued codes in between never gets more than
  five comparisons, and a new code does not lift the cap; sending codes is capped per user;
- §1.3 ChangePassword's wrong previous passwords count towards the sign-in lockout, in
  parallel too;
- §1.4 no lost updates: an administrator's write landing while a slow user write is under
  way stays in force;
- §2 AdminDeleteUserAttributes names every attribute it refuses.
"""

from __future__ import annotations

import base64
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import botocore.exceptions

from auth_support import (  # noqa: F401  (fixtures)
    INCORRECT,
    NEW_PASSWORD,
    TEMP_PASSWORD,
    WRONG_PASSWORD,
    auth_app,
    make_auth_app,
)
from helpers import PASSWORD, expect_error, store_query, unique
from oauth_support import Browser, Page, hosted, pkce  # noqa: F401  (fixtures)

LIMIT = "Attempt limit exceeded, please try after some time."
MISMATCH = "Invalid verification code provided, please try again."
LOCKED = "Password attempts exceeded"


def error_of(fn, *args, **kwargs) -> tuple[str, str] | None:
    """(code, message) of a failed call, None when it succeeded."""
    try:
        fn(*args, **kwargs)
    except botocore.exceptions.ClientError as exc:
        return exc.response["Error"]["Code"], exc.response["Error"].get("Message", "")
    return None


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1000000:06d}"


def new_password_answer(app, session: str, username: str, **attributes) -> dict:
    responses = {"USERNAME": username, "NEW_PASSWORD": NEW_PASSWORD}
    responses.update({f"userAttributes.{name}": value for name, value in attributes.items()})
    return app.public.respond_to_auth_challenge(
        ClientId=app.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=session, ChallengeResponses=responses
    )


# --------------------------------------------------------------------------
# §1.1 the NEW_PASSWORD_REQUIRED answer follows the rules of every attribute write


def test_issue_11_invited_user_cannot_verify_an_email_in_the_challenge(make_auth_app):
    auth_app = make_auth_app(AutoVerifiedAttributes=["email"], AliasAttributes=["email"])
    victim = auth_app.verified_user()
    victim_email = auth_app.attrs(victim)["email"]
    user = auth_app.invited_user(attributes={"name": "Mallory"})
    challenge = auth_app.initiate(user, TEMP_PASSWORD)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    expect_error(
        "InvalidParameterException",
        new_password_answer,
        auth_app,
        challenge["Session"],
        user,
        email=victim_email,
        email_verified="true",
        message="Cannot modify the attribute email_verified.",
    )
    # Nothing was written, and the session may still be answered.
    assert auth_app.status(user) == "FORCE_CHANGE_PASSWORD"
    assert "email" not in auth_app.attrs(user)
    out = new_password_answer(auth_app, challenge["Session"], user, email=victim_email)
    assert out["AuthenticationResult"]["AccessToken"]
    attrs = auth_app.attrs(user)
    assert attrs["email"] == victim_email and attrs.get("email_verified", "false") == "false"
    # An unverified address is no alias: the victim's e-mail still signs the victim in only.
    expect_error("NotAuthorizedException", auth_app.initiate, victim_email, NEW_PASSWORD, message=INCORRECT)


def test_issue_11_challenge_answer_is_bound_by_write_attributes(make_auth_app):
    app = make_auth_app(client={"WriteAttributes": ["name"]})
    user = app.invited_user(attributes={"name": "Ann"})
    challenge = app.initiate(user, TEMP_PASSWORD)
    expect_error(
        "NotAuthorizedException",
        new_password_answer,
        app,
        challenge["Session"],
        user,
        family_name="Smith",
        message="A client attempted to write unauthorized attribute",
    )
    assert "family_name" not in app.attrs(user)
    # A NotAuthorizedException ends the session, as it does for every challenge.
    challenge = app.initiate(user, TEMP_PASSWORD)
    new_password_answer(app, challenge["Session"], user, name="Ann Smith")
    assert app.attrs(user)["name"] == "Ann Smith"


def test_issue_11_hosted_new_password_page_cannot_verify_an_email(hosted):
    """The page's form carries the names it asks for; a form that adds a verified flag is
    refused by the same rules as the API."""
    client = hosted.client()
    username = unique("temp")
    hosted.idp.admin_create_user(
        UserPoolId=hosted.pool_id,
        Username=username,
        TemporaryPassword=TEMP_PASSWORD,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "name", "Value": "Mallory"}],
    )
    _, code_challenge = pkce()
    browser = Browser(hosted.server)
    page = browser.open(hosted.authorize_url(client, code_challenge=code_challenge, code_challenge_method="S256"))
    shown = Page(browser.submit(page, "cognitoSignInForm", {"username": username, "password": TEMP_PASSWORD}), page.url)
    assert shown.has_form("newPasswordForm"), shown.text[:800]
    session, _, _ = shown.form("newPasswordForm").value("session").split(".")
    b64 = lambda text: base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")  # noqa: E731
    tampered = f"{session}.{b64(username)}.{b64('email' + chr(10) + 'email_verified')}"
    resp = browser.submit(
        shown,
        "newPasswordForm",
        {
            "session": tampered,
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
            "email": "victim@example.com",
            "email_verified": "true",
        },
    )
    refused = Page(resp, shown.url)
    assert "Cannot modify the attribute email_verified." in (refused.error or ""), refused.text[:800]
    got = hosted.idp.admin_get_user(UserPoolId=hosted.pool_id, Username=username)
    assert got["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert "email" not in {a["Name"] for a in got["UserAttributes"]}


# --------------------------------------------------------------------------
# §1.2 codes: guesses capped before the comparison, surviving re-issue; sending capped


def code_guesses(server, pool_id: str) -> list[tuple]:
    return store_query(
        server.store, "SELECT action, used FROM code_attempts WHERE pool_id = ? ORDER BY action", (pool_id,)
    )


def test_issue_11_concurrent_wrong_codes_and_reissues_get_five_comparisons(auth_app):
    user = auth_app.verified_user()
    auth_app.public.forgot_password(ClientId=auth_app.client_id, Username=user)
    first = auth_app.code(user)

    def guess(_):
        return error_of(
            auth_app.public.confirm_forgot_password,
            ClientId=auth_app.client_id,
            Username=user,
            ConfirmationCode=wrong(first),
            Password=NEW_PASSWORD,
        )

    def reissue(_):
        return error_of(auth_app.public.forgot_password, ClientId=auth_app.client_id, Username=user)

    with ThreadPoolExecutor(max_workers=16) as pool:
        guesses = pool.map(guess, range(24))
        reissues = pool.map(reissue, range(2))
        answers, reissued = list(guesses), list(reissues)
    assert all(r is None for r in reissued), reissued
    compared = [a for a in answers if a != ("LimitExceededException", LIMIT)]
    # A comparison answers CodeMismatch (or ExpiredCode, for a guess landing while a code is
    # replaced); every other guess was refused before any comparison.
    assert 1 <= len(compared) <= 5, answers
    assert all(a[0] in ("CodeMismatchException", "ExpiredCodeException") for a in compared), compared
    # The newest code is right, but the cap is spent: a new code does not lift it.
    expect_error(
        "LimitExceededException",
        auth_app.public.confirm_forgot_password,
        ClientId=auth_app.client_id,
        Username=user,
        ConfirmationCode=auth_app.code(user),
        Password=NEW_PASSWORD,
        message=LIMIT,
    )
    auth_app.sign_in(user, PASSWORD)


def test_issue_11_wrong_confirmation_codes_are_capped_across_resends(auth_app):
    user = unique("signup")
    auth_app.public.sign_up(
        ClientId=auth_app.client_id,
        Username=user,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": f"{user}@example.com"}],
    )
    for round_ in range(5):
        auth_app.public.resend_confirmation_code(ClientId=auth_app.client_id, Username=user)
        expect_error(
            "CodeMismatchException",
            auth_app.public.confirm_sign_up,
            ClientId=auth_app.client_id,
            Username=user,
            ConfirmationCode=wrong(auth_app.code(user)),
            message=MISMATCH,
        )
    expect_error(
        "LimitExceededException",
        auth_app.public.confirm_sign_up,
        ClientId=auth_app.client_id,
        Username=user,
        ConfirmationCode=auth_app.code(user),
        message=LIMIT,
    )
    assert auth_app.status(user) == "UNCONFIRMED"
    assert ("guess", 5) in code_guesses(auth_app.server, auth_app.pool_id)


def test_issue_11_sending_codes_is_capped_per_user(auth_app):
    user = auth_app.verified_user()
    other = auth_app.verified_user()
    sent = len(auth_app.outbox(user))
    for _ in range(5):
        auth_app.public.forgot_password(ClientId=auth_app.client_id, Username=user)
    expect_error(
        "LimitExceededException",
        auth_app.public.forgot_password,
        ClientId=auth_app.client_id,
        Username=user,
        message=LIMIT,
    )
    # The refused request sent nothing; another user is not held back.
    assert len(auth_app.outbox(user)) == sent + 5
    auth_app.public.forgot_password(ClientId=auth_app.client_id, Username=other)


def test_issue_11_concurrent_code_requests_send_at_most_the_cap(auth_app):
    user = auth_app.verified_user()
    sent = len(auth_app.outbox(user))
    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(
            pool.map(
                lambda _: error_of(auth_app.public.forgot_password, ClientId=auth_app.client_id, Username=user),
                range(12),
            )
        )
    assert answers.count(None) == 5, answers
    assert all(a in (None, ("LimitExceededException", LIMIT)) for a in answers), answers
    assert len(auth_app.outbox(user)) == sent + 5


# --------------------------------------------------------------------------
# §1.3 ChangePassword's wrong previous passwords count


def change_password(app, token: str, previous: str, proposed: str = NEW_PASSWORD):
    return app.public.change_password(AccessToken=token, PreviousPassword=previous, ProposedPassword=proposed)


def test_issue_11_wrong_previous_passwords_lock_sign_in(auth_app):
    # The fifth failure locks for one second from its claim, which comes before its (argon2)
    # check: sign-in with the right password is refused, and so is ChangePassword with the
    # right previous password. Both checks are sent at once as soon as the fifth failure has
    # answered. On a loaded machine that answer alone can take most of the second (it failed
    # so once in a full run), so a round whose checks did not all answer within a second of
    # sending the fifth call proves nothing either way and is run again with a new user;
    # checks answered in time must both have been refused.
    locked = (("NotAuthorizedException", LOCKED), ("LimitExceededException", LIMIT))
    for _ in range(5):
        user = auth_app.user()
        token = auth_app.sign_in(user)["AccessToken"]
        for _ in range(4):
            expect_error("NotAuthorizedException", change_password, auth_app, token, WRONG_PASSWORD, message=INCORRECT)
        sent = time.monotonic()
        expect_error("NotAuthorizedException", change_password, auth_app, token, WRONG_PASSWORD, message=INCORRECT)
        with ThreadPoolExecutor(max_workers=2) as pool:
            sign_in = pool.submit(error_of, auth_app.initiate, user, PASSWORD)
            change = pool.submit(error_of, change_password, auth_app, token, PASSWORD)
            answers = (sign_in.result(), change.result())
        if time.monotonic() - sent < 1.0 or answers == locked:
            break
    assert answers == locked, answers
    time.sleep(1.2)
    change_password(auth_app, token, PASSWORD)
    auth_app.sign_in(user, NEW_PASSWORD)


def test_issue_11_parallel_wrong_previous_passwords_all_count(auth_app):
    user = auth_app.user()
    token = auth_app.sign_in(user)["AccessToken"]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: error_of(change_password, auth_app, token, WRONG_PASSWORD), range(8)))
    wrong_answers = answers.count(("NotAuthorizedException", INCORRECT))
    locked = answers.count(("LimitExceededException", LIMIT))
    assert wrong_answers + locked == 8 and wrong_answers >= 5, answers
    failures = store_query(
        auth_app.server.store,
        "SELECT failures FROM sign_in_failures WHERE pool_id = ? AND username_key = ?",
        (auth_app.pool_id, user),
    )
    # Every call was counted before its check, and a refused (locked) call was not checked:
    # the counter holds exactly the calls that were checked. (How many were checked depends
    # on time, not on the code: after five failures the lock lasts one second from the last
    # claim, and on a loaded machine a later claim of the burst can arrive after it, which is
    # what the lockout schedule allows; an earlier `<= 5` here failed that way once in CI-like
    # runs.)
    assert failures and failures[0][0] == wrong_answers, (failures, answers)
    # The calls counted on sign-in's own counter, which sign-in locks on (the test above
    # shows five wrong previous passwords locking sign-in). Whether sign-in is still locked now is not asked here:
    # the lock after five failures lasts one second from the last claim, and the checks of
    # the claimed calls queue for the hashing permits after their claims, so under load the
    # second can pass before the burst has answered (seen once on PostgreSQL in CI-like runs).
    assert failures and failures[0][0] >= 5, failures


# --------------------------------------------------------------------------
# §1.4 no lost updates


def race(slow, admin, delay: float = 0.02):
    """Starts `slow`, runs `admin` `delay` seconds later, and waits for both; returns the
    outcome of `slow` (None or its error)."""
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("slow", error_of(slow)))
    thread.start()
    time.sleep(delay)
    admin()
    thread.join(30)
    return result.get("slow")


def test_issue_11_disable_during_change_password_stays(auth_app):
    for delay in (0.0, 0.01, 0.03, 0.06):
        user = auth_app.user()
        token = auth_app.sign_in(user)["AccessToken"]
        outcome = race(
            lambda: change_password(auth_app, token, PASSWORD),
            lambda: auth_app.idp.admin_disable_user(UserPoolId=auth_app.pool_id, Username=user),
            delay,
        )
        # AdminDisableUser also revokes the user's tokens, so a ChangePassword whose token is
        # checked after the whole disable landed is refused as revoked (seen once the suite ran
        # the release binary, whose disable finishes within the race's first millisecond).
        assert outcome in (
            None,
            ("NotAuthorizedException", "User is disabled."),
            ("NotAuthorizedException", "Access Token has been revoked"),
        ), outcome
        assert auth_app.get(user)["Enabled"] is False, f"the disable was undone (delay {delay})"


def test_issue_11_admin_password_during_change_password_stays(auth_app):
    admin_password = "Adm1n-Passw0rd!"
    for delay in (0.0, 0.01, 0.03, 0.06):
        user = auth_app.user()
        token = auth_app.sign_in(user)["AccessToken"]
        race(
            lambda: change_password(auth_app, token, PASSWORD),
            lambda: auth_app.idp.admin_set_user_password(
                UserPoolId=auth_app.pool_id, Username=user, Password=admin_password, Permanent=True
            ),
            delay,
        )
        auth_app.sign_in(user, admin_password)


def test_issue_11_disable_during_attribute_update_and_password_reset_stays(auth_app):
    for delay in (0.0, 0.02):
        user = auth_app.verified_user()
        token = auth_app.sign_in(user)["AccessToken"]
        race(
            lambda: auth_app.public.update_user_attributes(
                AccessToken=token, UserAttributes=[{"Name": "name", "Value": "New Name"}]
            ),
            lambda: auth_app.idp.admin_disable_user(UserPoolId=auth_app.pool_id, Username=user),
            delay,
        )
        assert auth_app.get(user)["Enabled"] is False

        user = auth_app.verified_user()
        auth_app.public.forgot_password(ClientId=auth_app.client_id, Username=user)
        code = auth_app.code(user)
        race(
            lambda: auth_app.public.confirm_forgot_password(
                ClientId=auth_app.client_id, Username=user, ConfirmationCode=code, Password=NEW_PASSWORD
            ),
            lambda: auth_app.idp.admin_disable_user(UserPoolId=auth_app.pool_id, Username=user),
            delay,
        )
        assert auth_app.get(user)["Enabled"] is False


# --------------------------------------------------------------------------
# §2 AdminDeleteUserAttributes names every attribute it refuses


def test_issue_11_delete_attributes_names_every_refused_attribute(auth_app):
    user = auth_app.user()
    expect_error(
        "InvalidParameterException",
        auth_app.idp.admin_delete_user_attributes,
        UserPoolId=auth_app.pool_id,
        Username=user,
        UserAttributeNames=["shoe_size", "email", "custom:hat"],
        message=(
            "Invalid user attributes: user.shoe_size: Attribute does not exist in the schema.\n"
            "user.custom:hat: Attribute does not exist in the schema.\n"
        ),
    )
    # A required attribute cannot be deleted; nothing was deleted by either refusal.
    expect_error(
        "InvalidParameterException",
        auth_app.idp.admin_delete_user_attributes,
        UserPoolId=auth_app.pool_id,
        Username=user,
        UserAttributeNames=["name", "sub"],
        message="Attributes did not conform to the schema: sub: The attribute is required\n",
    )
    assert "email" in auth_app.attrs(user)


def test_issue_11_taken_phone_number_is_worded_as_cognito_words_it(make_auth_app):
    app = make_auth_app(UsernameAttributes=["phone_number"])
    phone = "+15555550123"
    app.public.sign_up(ClientId=app.client_id, Username=phone, Password=PASSWORD)
    expect_error(
        "UsernameExistsException",
        app.public.sign_up,
        ClientId=app.client_id,
        Username=phone,
        Password=PASSWORD,
        message="An account with the given phone_number already exists.",
    )
