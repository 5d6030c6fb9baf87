"""Cognito's Lambda triggers (issue 12) on the hosted pages and the OAuth token endpoint,
driven like a browser (oauth_support.Browser: requests, the pages' forms, redirects read
rather than followed off tessera) against the webhook and Lambda Invoke API receivers of
test_triggers: PreSignUp on the sign-up page; PreAuthentication, PostAuthentication and
UserMigration on the sign-in page; PreTokenGeneration at the code exchange
(TokenGeneration_HostedAuth) and the refresh_token grant (TokenGeneration_RefreshTokens);
UserMigration, CustomMessage and PostConfirmation on the forgot-password pages; and how a
function's refusal is shown: on the page that asked (never a JSON error or a 500 in the
browser), as an OAuth error at the token endpoint."""

from __future__ import annotations

import re
import urllib.parse

from helpers import PASSWORD, latest_code, read_outbox, unique
from oauth_support import (
    CODE_RE,
    INCORRECT,
    NEW_PASSWORD,
    TEMP_PASSWORD,
    USER_SCOPES,
    Browser,
    Hosted,
    Page,
    callback_params,
    oauth_error,
    pkce,
    query_of,
    redirect_location,
    sibling,
)
from test_triggers import (  # noqa: F401 (webhook, lambda_, trigger_server, fresh_receivers are fixtures)
    check_envelope,
    custom_words,
    fresh_receivers,
    lambda_,
    legacy_store,
    responding,
    trigger_server,
    webhook,
)
from trigger_support import HandlerError, echo, pool_lambda_config

CONFIRMED_NOTICE = "Your account is confirmed. Sign in to continue."
RESET_NOTICE = "Your password was changed. Sign in with the new password."


def hosted_pool(server, triggers: dict, **pool) -> Hosted:
    """A pool with `LambdaConfig` on the trigger server, its hosted pages in the path form."""
    idp = server.client()
    created = idp.create_user_pool(PoolName=unique("hosted-triggers"), LambdaConfig=triggers, **pool)["UserPool"]
    return Hosted(server, idp, server.unsigned_client(), created)


def refusing(message: str):
    """A function that fails with `message` (`throw new Error(message)`)."""

    def handler(event):
        raise HandlerError(message)

    return handler


def start(hosted: Hosted, client: dict) -> tuple[Browser, Page, str, str]:
    """A browser at the sign-in page of a fresh authorization request (PKCE): (browser, the
    sign-in page, the authorize URL, the code_verifier)."""
    verifier, challenge = pkce()
    url = hosted.authorize_url(client, code_challenge=challenge, code_challenge_method="S256")
    browser = Browser(hosted.server)
    login = browser.open(url)
    assert login.path == f"/{hosted.pool_id}/login", login
    return browser, login, url, verifier


def shown(resp, page: Page) -> Page:
    """The page a form POST answered with in place (no redirect): an HTML page, never the
    API's JSON error nor a server error."""
    assert resp.status_code == 200, f"{resp.status_code} {resp.headers.get('Content-Type')}: {resp.text[:800]}"
    assert "Location" not in resp.headers, resp.headers["Location"]
    assert resp.headers.get("Content-Type", "").startswith("text/html"), (resp.headers, resp.text[:800])
    return Page(resp, page.url)


def no_code(resp) -> None:
    """No authorization code went to the callback."""
    location = resp.headers.get("Location")
    assert location is None or "code" not in query_of(location), location


# --------------------------------------------------------------------------
# the sign-up page: PreSignUp


def test_hosted_sign_up_runs_pre_sign_up_which_can_auto_confirm(trigger_server, webhook):
    hosted = hosted_pool(trigger_server, pool_lambda_config(PreSignUp="hook-pre-sign-up"), AutoVerifiedAttributes=["email"])
    client = hosted.client()
    webhook.on("PreSignUp_SignUp", responding(autoConfirmUser=True, autoVerifyEmail=True))
    username = unique("ada")
    email = f"{username}@example.com"

    browser, login, url, verifier = start(hosted, client)
    signup = browser.open(sibling(login.url, "signup"))
    resp = browser.submit(signup, "signUpForm", {"username": username, "password": PASSWORD, "email": email})
    # Straight to the sign-in page with the "confirmed" notice: no confirm page, no code sent.
    location = browser.url(redirect_location(resp, 303), base=signup.url)
    assert urllib.parse.urlsplit(location).path == f"/{hosted.pool_id}/login", location
    assert query_of(location).get("notice") == "confirmed", location
    assert query_of(location)["state"] == query_of(url)["state"], "the authorization request is kept"
    page = browser.open(location)
    assert page.notice == CONFIRMED_NOTICE, page.notice
    user = hosted.idp.admin_get_user(UserPoolId=hosted.pool_id, Username=username)
    assert user["UserStatus"] == "CONFIRMED"
    assert {a["Name"]: a["Value"] for a in user["UserAttributes"]}["email_verified"] == "true"
    assert read_outbox(trigger_server, pool_id=hosted.pool_id) == [], "an auto-confirmed user is sent no code"

    [call] = webhook.calls
    event = call["event"]
    check_envelope(event, hosted, "PreSignUp_SignUp", username, client["ClientId"])
    assert event["request"] == {"userAttributes": {"email": email}, "validationData": None}
    assert call["verified_with"] == [webhook.secret]

    # The new user signs in on that page at once.
    resp = browser.submit(page, "cognitoSignInForm", {"username": username, "password": PASSWORD})
    params = callback_params(redirect_location(resp, 303))
    assert CODE_RE.match(params["code"]) and params["state"] == query_of(url)["state"]
    tokens = hosted.redeem(client, params["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    assert hosted.verify_id(tokens.json()["id_token"], client)["email_verified"] is True


def test_a_pre_sign_up_refusal_is_shown_on_the_sign_up_page(trigger_server, lambda_):
    hosted = hosted_pool(trigger_server, pool_lambda_config(PreSignUp="lambda-pre-sign-up"), AutoVerifiedAttributes=["email"])
    client = hosted.client()
    lambda_.on("lambda-pre-sign-up", refusing("Registration from this domain is not allowed."))
    username = unique("bob")

    browser, login, _, _ = start(hosted, client)
    signup = browser.open(sibling(login.url, "signup"))
    resp = browser.submit(signup, "signUpForm", {"username": username, "password": PASSWORD, "email": "bob@blocked.example"})
    page = shown(resp, signup)
    assert page.error == "PreSignUp failed with error Registration from this domain is not allowed..", page.error
    form = page.form("signUpForm")
    assert form.value("username") == username and form.value("email") == "bob@blocked.example"
    assert hosted.idp.list_users(UserPoolId=hosted.pool_id)["Users"] == []
    assert read_outbox(trigger_server, pool_id=hosted.pool_id) == []
    [call] = lambda_.calls
    assert call["function"] == "lambda-pre-sign-up"
    check_envelope(call["event"], hosted, "PreSignUp_SignUp", username, client["ClientId"])


# --------------------------------------------------------------------------
# the sign-in page and the token endpoint: PreAuthentication, PostAuthentication,
# PreTokenGeneration


def stamping(event: dict) -> dict:
    """A version-2 PreTokenGeneration function that adds claims to both tokens, naming the
    event's triggerSource in them."""
    source = event["triggerSource"]
    event["response"] = {
        "claimsAndScopeOverrideDetails": {
            "idTokenGeneration": {"claimsToAddOrOverride": {"tenant": "acme", "issued_by": source}},
            "accessTokenGeneration": {"claimsToAddOrOverride": {"plan": "gold", "issued_by": source}},
        }
    }
    return event


def test_hosted_sign_in_runs_the_authentication_and_token_triggers(trigger_server, webhook):
    triggers = pool_lambda_config(
        pre_token=("hook-ptg", "V2_0"), PreAuthentication="hook-pre-auth", PostAuthentication="hook-post-auth"
    )
    hosted = hosted_pool(trigger_server, triggers)
    client = hosted.client()
    username = hosted.user()
    webhook.on("TokenGeneration_", stamping)

    got = hosted.authorize(client, username)
    # The sign-in ran PreAuthentication, then PostAuthentication; the tokens are not made yet.
    assert [c["event"]["triggerSource"] for c in webhook.calls] == [
        "PreAuthentication_Authentication",
        "PostAuthentication_Authentication",
    ]
    [pre] = webhook.events("PreAuthentication_")
    check_envelope(pre, hosted, "PreAuthentication_Authentication", username, client["ClientId"])
    assert pre["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"
    assert pre["request"]["userAttributes"]["email"] == f"{username}@example.com"
    [post] = webhook.events("PostAuthentication_")
    check_envelope(post, hosted, "PostAuthentication_Authentication", username, client["ClientId"])
    assert post["request"]["newDeviceUsed"] is False

    # The code exchange runs PreTokenGeneration for the hosted sign-in.
    resp = hosted.redeem(client, got["code"], got["verifier"])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    id_claims = hosted.verify_id(body["id_token"], client, access_token=body["access_token"])
    assert id_claims["tenant"] == "acme" and id_claims["issued_by"] == "TokenGeneration_HostedAuth"
    assert "plan" not in id_claims
    access = hosted.verify_access(body["access_token"], client)
    assert access["plan"] == "gold" and access["issued_by"] == "TokenGeneration_HostedAuth"
    assert "tenant" not in access
    [event] = webhook.events("TokenGeneration_")
    assert event["version"] == "2" and event["triggerSource"] == "TokenGeneration_HostedAuth"
    assert event["userPoolId"] == hosted.pool_id and event["userName"] == username
    assert event["callerContext"]["clientId"] == client["ClientId"]
    assert sorted(event["request"]["scopes"]) == sorted(USER_SCOPES)

    # The refresh_token grant runs it again, as TokenGeneration_RefreshTokens, and nothing else.
    resp = hosted.refresh(client, body["refresh_token"])
    assert resp.status_code == 200, resp.text
    refreshed = resp.json()
    assert hosted.verify_id(refreshed["id_token"], client, refreshed=True)["issued_by"] == "TokenGeneration_RefreshTokens"
    access = hosted.verify_access(refreshed["access_token"], client)
    assert access["plan"] == "gold" and access["issued_by"] == "TokenGeneration_RefreshTokens"
    assert [e["triggerSource"] for e in webhook.events("TokenGeneration_")] == [
        "TokenGeneration_HostedAuth",
        "TokenGeneration_RefreshTokens",
    ]
    last = webhook.events("TokenGeneration_")[-1]
    assert last["callerContext"]["clientId"] == client["ClientId"] and last["userName"] == username
    assert len(webhook.calls) == 4, [c["event"]["triggerSource"] for c in webhook.calls]


def test_an_authentication_refusal_is_shown_on_the_sign_in_page(trigger_server, webhook):
    triggers = pool_lambda_config(PreAuthentication="hook-pre-auth", PostAuthentication="hook-post-auth")
    hosted = hosted_pool(trigger_server, triggers)
    client = hosted.client()
    username = hosted.user()

    def sign_in_refused(expected: str) -> None:
        browser, login, _, _ = start(hosted, client)
        resp = browser.submit(login, "cognitoSignInForm", {"username": username, "password": PASSWORD})
        no_code(resp)
        page = shown(resp, login)
        assert page.error == expected, page.error
        assert page.form("cognitoSignInForm").value("username") == username
        assert browser.cookie(f"tessera-sso-{hosted.pool_id}") is None, "no sign-in session"

    # PreAuthentication refuses before the password is looked at, and PostAuthentication never runs.
    webhook.on("PreAuthentication_Authentication", refusing("Sign-in is closed"))
    sign_in_refused("PreAuthentication failed with error Sign-in is closed.")
    assert [c["event"]["triggerSource"] for c in webhook.calls] == ["PreAuthentication_Authentication"]

    # PostAuthentication refuses after a right password: still no code.
    webhook.clear()
    webhook.on("PostAuthentication_Authentication", refusing("account under review"))
    sign_in_refused("PostAuthentication failed with error account under review.")
    assert [c["event"]["triggerSource"] for c in webhook.calls] == [
        "PreAuthentication_Authentication",
        "PostAuthentication_Authentication",
    ]

    # A function nobody answers for: Cognito's UnexpectedLambdaException message, on the page.
    hosted.idp.update_user_pool(UserPoolId=hosted.pool_id, LambdaConfig=pool_lambda_config(PreAuthentication="down-nobody"))
    sign_in_refused("PreAuthentication invocation failed due to error ServiceException.")

    # Once the functions let the user through, the same sign-in gets a code.
    hosted.idp.update_user_pool(UserPoolId=hosted.pool_id, LambdaConfig=triggers)
    webhook.clear()
    got = hosted.authorize(client, username)
    assert CODE_RE.match(got["code"])
    assert hosted.redeem(client, got["code"], got["verifier"]).status_code == 200


def test_a_post_authentication_refusal_after_a_new_password_is_shown_on_the_sign_in_page(trigger_server, webhook):
    hosted = hosted_pool(trigger_server, pool_lambda_config(PostAuthentication="hook-post-auth"))
    client = hosted.client()
    username = unique("temp")
    hosted.idp.admin_create_user(
        UserPoolId=hosted.pool_id,
        Username=username,
        TemporaryPassword=TEMP_PASSWORD,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}, {"Name": "email_verified", "Value": "true"}],
    )
    webhook.on("PostAuthentication_Authentication", refusing("account under review"))
    browser, login, _, _ = start(hosted, client)
    resp = browser.submit(login, "cognitoSignInForm", {"username": username, "password": TEMP_PASSWORD})
    new_password = shown(resp, login)
    new_password.form("newPasswordForm")
    assert webhook.calls == [], "no sign-in yet: the new password is asked first"
    resp = browser.submit(new_password, "newPasswordForm", {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    no_code(resp)
    page = shown(resp, new_password)
    assert page.error == "PostAuthentication failed with error account under review.", page.error
    assert page.has_form("cognitoSignInForm")
    [event] = webhook.events("PostAuthentication_")
    check_envelope(event, hosted, "PostAuthentication_Authentication", username, client["ClientId"])


# --------------------------------------------------------------------------
# PreTokenGeneration failing at the token endpoint


def test_a_pre_token_generation_failure_at_the_token_endpoint(trigger_server, webhook):
    hosted = hosted_pool(trigger_server, pool_lambda_config(pre_token=("hook-ptg", "V2_0")))
    client = hosted.client()
    username = hosted.user()
    got = hosted.authorize(client, username)
    assert webhook.calls == [], "the function runs at the code exchange, not at the sign-in"

    webhook.on("TokenGeneration_", refusing("No Auth"))
    resp = hosted.redeem(client, got["code"], got["verifier"])
    body = oauth_error(resp, "invalid_request", 400)
    assert body == {"error": "invalid_request", "error_description": "PreTokenGeneration failed with error No Auth."}
    [event] = webhook.events("TokenGeneration_")
    assert event["triggerSource"] == "TokenGeneration_HostedAuth"

    # The code was tried once: it is spent, even when the function would now let tokens through.
    webhook.on("TokenGeneration_", echo)
    resp = hosted.redeem(client, got["code"], got["verifier"])
    body = oauth_error(resp, "invalid_grant", 400)
    assert body["error_description"] == "The authorization code has already been used.", body
    assert len(webhook.events("TokenGeneration_")) == 1, "a spent code never reaches the function"

    # The browser is still signed in: the next authorization gets a new code, which works.
    again = hosted.authorize(client, username, browser=got["browser"])
    assert again["code"] != got["code"]
    resp = hosted.redeem(client, again["code"], again["verifier"])
    assert resp.status_code == 200, resp.text
    refresh_token = resp.json()["refresh_token"]

    # At the refresh_token grant the same refusal, and the refresh token outlives it.
    webhook.on("TokenGeneration_", refusing("No Auth"))
    resp = hosted.refresh(client, refresh_token)
    body = oauth_error(resp, "invalid_request", 400)
    assert body == {"error": "invalid_request", "error_description": "PreTokenGeneration failed with error No Auth."}
    assert webhook.events("TokenGeneration_")[-1]["triggerSource"] == "TokenGeneration_RefreshTokens"
    webhook.on("TokenGeneration_", echo)
    resp = hosted.refresh(client, refresh_token)
    assert resp.status_code == 200, resp.text
    assert hosted.verify_access(resp.json()["access_token"], client)["username"] == username


# --------------------------------------------------------------------------
# the forgot-password pages: UserMigration, CustomMessage, PostConfirmation


ACME_CODE_RE = re.compile(r"<p>Hello, your Acme code is (\d{6})\.</p>")


def test_hosted_forgot_password_migrates_writes_the_message_and_confirms(trigger_server, webhook):
    triggers = pool_lambda_config(
        UserMigration="hook-migrate", CustomMessage="hook-custom-message", PostConfirmation="hook-post-confirmation"
    )
    hosted = hosted_pool(trigger_server, triggers)
    client = hosted.client()
    username = unique("kim")
    email = f"{username}@example.com"
    webhook.on("UserMigration_", legacy_store({username: ("unused", {"email": email, "email_verified": "true", "name": "Kim"})}))
    webhook.on("CustomMessage_", custom_words)

    browser, login, url, verifier = start(hosted, client)
    # A name the legacy store does not know either: the same next page, and nobody is created.
    stranger = unique("nobody")
    forgot = browser.open(sibling(login.url, "forgotPassword"))
    resp = browser.submit(forgot, "forgotPasswordForm", {"username": stranger})
    assert urllib.parse.urlsplit(redirect_location(resp, 303)).path == f"/{hosted.pool_id}/confirmForgotPassword"
    assert hosted.idp.list_users(UserPoolId=hosted.pool_id)["Users"] == []
    assert [e["userName"] for e in webhook.events("UserMigration_ForgotPassword")] == [stranger]
    webhook.clear()
    webhook.on("UserMigration_", legacy_store({username: ("unused", {"email": email, "email_verified": "true", "name": "Kim"})}))
    webhook.on("CustomMessage_", custom_words)

    forgot = browser.open(sibling(login.url, "forgotPassword"))
    resp = browser.submit(forgot, "forgotPasswordForm", {"username": username})
    location = browser.url(redirect_location(resp, 303), base=forgot.url)
    assert urllib.parse.urlsplit(location).path == f"/{hosted.pool_id}/confirmForgotPassword", location
    assert query_of(location)["username"] == username

    # UserMigration_ForgotPassword created the user, who must now reset the password.
    [migrate] = webhook.events("UserMigration_")
    check_envelope(migrate, hosted, "UserMigration_ForgotPassword", username, client["ClientId"])
    assert "password" not in migrate["request"]
    user = hosted.idp.admin_get_user(UserPoolId=hosted.pool_id, Username=username)
    assert user["UserStatus"] == "RESET_REQUIRED"
    assert {a["Name"]: a["Value"] for a in user["UserAttributes"]}["name"] == "Kim"

    # CustomMessage_ForgotPassword wrote the message with the code.
    [custom] = webhook.events("CustomMessage_")
    check_envelope(custom, hosted, "CustomMessage_ForgotPassword", username, client["ClientId"])
    assert custom["request"]["codeParameter"] == "{####}"
    assert custom["request"]["userAttributes"]["email"] == email
    [message] = read_outbox(trigger_server, pool_id=hosted.pool_id, username=username)
    assert message["subject"] == "Acme: CustomMessage_ForgotPassword", message
    match = ACME_CODE_RE.fullmatch(message["body"].strip())
    assert match, message["body"]
    assert match.group(1) not in str(custom)

    # The reset through the page, then PostConfirmation_ConfirmForgotPassword.
    page = browser.open(location)
    assert page.form("confirmForgotPasswordForm").value("username") == username
    assert webhook.events("PostConfirmation_") == []
    resp = browser.submit(
        page, "confirmForgotPasswordForm", {"code": match.group(1), "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}
    )
    location = browser.url(redirect_location(resp, 303), base=page.url)
    assert urllib.parse.urlsplit(location).path == f"/{hosted.pool_id}/login", location
    assert query_of(location).get("notice") == "password_reset", location
    [confirmed] = webhook.events("PostConfirmation_")
    check_envelope(confirmed, hosted, "PostConfirmation_ConfirmForgotPassword", username, client["ClientId"])
    assert confirmed["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"
    assert hosted.idp.admin_get_user(UserPoolId=hosted.pool_id, Username=username)["UserStatus"] == "CONFIRMED"

    # The user signs in with the new password, without the migration function.
    login = browser.open(location)
    assert login.notice == RESET_NOTICE
    resp = browser.submit(login, "cognitoSignInForm", {"username": username, "password": NEW_PASSWORD})
    params = callback_params(redirect_location(resp, 303))
    assert params["state"] == query_of(url)["state"]
    assert hosted.redeem(client, params["code"], verifier).status_code == 200
    assert len(webhook.events("UserMigration_")) == 1


def test_a_post_confirmation_refusal_is_shown_on_the_confirm_pages(trigger_server, webhook):
    hosted = hosted_pool(trigger_server, pool_lambda_config(PostConfirmation="hook-post-confirmation"), AutoVerifiedAttributes=["email"])
    client = hosted.client()
    webhook.on("PostConfirmation_", refusing("database unavailable"))
    username = unique("hal")

    # Sign-up, then the confirm page: the function's message, though the account is confirmed
    # (as ConfirmSignUp leaves it: the function only hears of the confirmation).
    browser, login, _, _ = start(hosted, client)
    signup = browser.open(sibling(login.url, "signup"))
    resp = browser.submit(signup, "signUpForm", {"username": username, "password": PASSWORD, "email": f"{username}@example.com"})
    confirm = browser.open(browser.url(redirect_location(resp, 303), base=signup.url))
    code = latest_code(trigger_server, hosted.pool_id, username)
    resp = browser.submit(confirm, "confirmForm", {"code": code})
    page = shown(resp, confirm)
    assert page.error == "PostConfirmation failed with error database unavailable.", page.error
    assert hosted.idp.admin_get_user(UserPoolId=hosted.pool_id, Username=username)["UserStatus"] == "CONFIRMED"
    assert [e["triggerSource"] for e in webhook.events("PostConfirmation_")] == ["PostConfirmation_ConfirmSignUp"]

    # The reset page: the function's message, not "invalid code".
    forgot = browser.open(sibling(login.url, "forgotPassword"))
    location = browser.url(redirect_location(browser.submit(forgot, "forgotPasswordForm", {"username": username}), 303), base=forgot.url)
    reset = browser.open(location)
    code = latest_code(trigger_server, hosted.pool_id, username)
    resp = browser.submit(reset, "confirmForgotPasswordForm", {"code": code, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    page = shown(resp, reset)
    assert page.error == "PostConfirmation failed with error database unavailable.", page.error
    assert webhook.events("PostConfirmation_")[-1]["triggerSource"] == "PostConfirmation_ConfirmForgotPassword"


# --------------------------------------------------------------------------
# UserMigration on the sign-in page


def test_hosted_sign_in_migrates_a_legacy_user(trigger_server, lambda_):
    hosted = hosted_pool(trigger_server, pool_lambda_config(UserMigration="lambda-migrate"))
    client = hosted.client()
    username = unique("jan")
    legacy_password = "old-system-pass"  # the pool's policy is not applied to it, as in Cognito
    attributes = {"email": f"{username}@example.com", "email_verified": "true", "name": "Jan"}
    lambda_.on("lambda-migrate", legacy_store({username: (legacy_password, attributes)}))

    # A name the legacy store does not know: like any unknown name.
    browser, login, url, verifier = start(hosted, client)
    resp = browser.submit(login, "cognitoSignInForm", {"username": unique("nobody"), "password": legacy_password})
    assert shown(resp, login).error == INCORRECT
    # The wrong legacy password: the function refuses, the page says so, nobody is created.
    resp = browser.submit(login, "cognitoSignInForm", {"username": username, "password": "wrong"})
    no_code(resp)
    assert shown(resp, login).error == "UserMigration failed with error Bad password."
    assert hosted.idp.list_users(UserPoolId=hosted.pool_id)["Users"] == []

    # The right one: the user is migrated and signed in.
    lambda_.clear()
    lambda_.on("lambda-migrate", legacy_store({username: (legacy_password, attributes)}))
    resp = browser.submit(login, "cognitoSignInForm", {"username": username, "password": legacy_password})
    params = callback_params(redirect_location(resp, 303))
    assert CODE_RE.match(params["code"]) and params["state"] == query_of(url)["state"]
    [call] = lambda_.calls
    assert call["function"] == "lambda-migrate"
    event = call["event"]
    check_envelope(event, hosted, "UserMigration_Authentication", username, client["ClientId"])
    assert event["request"] == {"password": legacy_password, "validationData": None}
    user = hosted.idp.admin_get_user(UserPoolId=hosted.pool_id, Username=username)
    assert user["UserStatus"] == "CONFIRMED"
    resp = hosted.redeem(client, params["code"], verifier)
    assert resp.status_code == 200, resp.text
    claims = hosted.verify_id(resp.json()["id_token"], client)
    assert claims["cognito:username"] == username and claims["email"] == attributes["email"] and claims["name"] == "Jan"

    # From now on the user signs in without the function.
    lambda_.clear()
    got = hosted.authorize(client, username, password=legacy_password)
    assert CODE_RE.match(got["code"])
    assert lambda_.calls == []
