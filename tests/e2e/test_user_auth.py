"""Issue 13, USER_AUTH (choice-based sign-in) through the API with boto3, on both backends:
SELECT_CHALLENGE with the `AvailableChallenges` the pool allows and the user can use, a
preferred challenge taken at once (or, when the user cannot use it, the choice offered
instead), each first factor (PASSWORD, PASSWORD_SRP through pycognito's SRP helper,
EMAIL_OTP and SMS_OTP with eight-digit codes from the development outbox), MFA after a
password but not after a one-time code, and the refusals: a client without ALLOW_USER_AUTH,
a wrong code, another session's code, too many wrong codes, an unknown user (revealed only
where the client does not hide users, and then sent nothing)."""

from __future__ import annotations

import pytest
from pycognito.aws_srp import AWSSRP

from auth_support import AuthApp, make_auth_app  # noqa: F401  (fixture)
from helpers import PASSWORD, expect_error, read_outbox, store_query, unique
from test_mfa import TOTP, enrol, outbox_code, refresh_tokens_of

FACTORS = ["PASSWORD", "EMAIL_OTP", "SMS_OTP"]
SMS = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "x"}


@pytest.fixture
def choice_app(make_auth_app):
    def make(hide: bool = False, flows=("ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")) -> AuthApp:
        client = {"ExplicitAuthFlows": list(flows)}
        if hide:
            client["PreventUserExistenceErrors"] = "ENABLED"
        return make_auth_app(
            client=client,
            AutoVerifiedAttributes=["email"],
            Policies={"SignInPolicy": {"AllowedFirstAuthFactors": FACTORS}},
            SmsConfiguration=SMS,
        )

    return make


def verified_user(app: AuthApp, phone: bool = False) -> str:
    attributes = {"email": f"{unique('c')}@example.com"}
    if phone:
        attributes["phone_number"] = "+15555550199"
    username = app.user(attributes=attributes)
    verified = [{"Name": "email_verified", "Value": "true"}]
    if phone:
        verified.append({"Name": "phone_number_verified", "Value": "true"})
    app.idp.admin_update_user_attributes(UserPoolId=app.pool_id, Username=username, UserAttributes=verified)
    return username


def user_auth(app: AuthApp, username: str, **params) -> dict:
    return app.public.initiate_auth(ClientId=app.client_id, AuthFlow="USER_AUTH", AuthParameters={"USERNAME": username, **params})


def respond(app: AuthApp, challenge: dict, username: str, **responses) -> dict:
    return app.public.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName=challenge["ChallengeName"],
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, **responses},
    )


def test_the_choice_and_each_first_factor(choice_app):
    app = choice_app()
    username = verified_user(app, phone=True)

    select = user_auth(app, username)
    assert select["ChallengeName"] == "SELECT_CHALLENGE"
    assert select["AvailableChallenges"] == ["PASSWORD_SRP", "PASSWORD", "EMAIL_OTP", "SMS_OTP"]
    assert select["ChallengeParameters"] == {}
    email = respond(app, select, username, ANSWER="EMAIL_OTP")
    assert email["ChallengeName"] == "EMAIL_OTP"
    assert email["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL"
    code = outbox_code(app, username, 8)
    result = respond(app, email, username, EMAIL_OTP_CODE=code)["AuthenticationResult"]
    assert app.verify_access(result["AccessToken"])["username"] == username
    # A refresh works as after any sign-in.
    assert "AccessToken" in app.refresh(result["RefreshToken"])["AuthenticationResult"]

    # A preference the user can use is taken at once.
    sms = user_auth(app, username, PREFERRED_CHALLENGE="SMS_OTP")
    assert sms["ChallengeName"] == "SMS_OTP" and sms["AvailableChallenges"] == ["SMS_OTP"]
    assert sms["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "+*******0199"
    assert "AuthenticationResult" in respond(app, sms, username, SMS_OTP_CODE=outbox_code(app, username, 8))

    # PASSWORD without USER_PASSWORD_AUTH on the client, in one step.
    assert "AuthenticationResult" in user_auth(app, username, PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)
    expect_error("NotAuthorizedException", user_auth, app, username, PREFERRED_CHALLENGE="PASSWORD", PASSWORD="Wrong-Password-1")

    # PASSWORD_SRP continues with PASSWORD_VERIFIER.
    helper = AWSSRP(username=username, password=PASSWORD, pool_id=app.pool_id, client_id=app.client_id, client=app.public)
    params = helper.get_auth_params()
    verifier = user_auth(app, username, PREFERRED_CHALLENGE="PASSWORD_SRP", SRP_A=params["SRP_A"])
    assert verifier["ChallengeName"] == "PASSWORD_VERIFIER"
    answer = helper.process_challenge(verifier["ChallengeParameters"], params)
    assert "AuthenticationResult" in app.public.respond_to_auth_challenge(
        ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=answer
    )

    # The choice answered with a password, in one step.
    select = user_auth(app, username)
    assert "AuthenticationResult" in respond(app, select, username, ANSWER="PASSWORD", PASSWORD=PASSWORD)
    # An answer not offered leaves the choice open.
    select = user_auth(app, username)
    expect_error("InvalidParameterException", respond, app, select, username, ANSWER="WEB_AUTHN")
    assert respond(app, select, username, ANSWER="EMAIL_OTP")["ChallengeName"] == "EMAIL_OTP"


def test_a_user_without_a_verified_address_is_offered_the_password(choice_app):
    app = choice_app()
    username = app.user()  # the e-mail address is not verified
    select = user_auth(app, username, PREFERRED_CHALLENGE="EMAIL_OTP")
    assert select["ChallengeName"] == "SELECT_CHALLENGE"
    assert select["AvailableChallenges"] == ["PASSWORD_SRP", "PASSWORD"]
    expect_error("InvalidParameterException", respond, app, select, username, ANSWER="EMAIL_OTP")


def test_codes_are_checked_counted_and_bound_to_their_session(choice_app):
    app = choice_app()
    username = verified_user(app)
    issued = refresh_tokens_of(app)
    first = user_auth(app, username, PREFERRED_CHALLENGE="EMAIL_OTP")
    first_code = outbox_code(app, username, 8)
    second = user_auth(app, username, PREFERRED_CHALLENGE="EMAIL_OTP")
    second_code = outbox_code(app, username, 8)
    if first_code != second_code:
        expect_error(
            "CodeMismatchException", respond, app, second, username, EMAIL_OTP_CODE=first_code,
            message="Invalid code or auth state for the user.",
        )
    wrong = "00000000" if second_code != "00000000" else "11111111"
    for _ in range(3):
        expect_error("CodeMismatchException", respond, app, second, username, EMAIL_OTP_CODE=wrong)
    # Five wrong answers spend the session.
    expect_error("CodeMismatchException", respond, app, second, username, EMAIL_OTP_CODE=wrong)
    expect_error("NotAuthorizedException", respond, app, second, username, EMAIL_OTP_CODE=second_code)
    assert refresh_tokens_of(app) == issued
    # The wrong codes counted towards the lockout of the user's sign-in.
    failures = store_query(app.server.store, "SELECT failures FROM sign_in_failures WHERE pool_id = ?", (app.pool_id,))
    assert failures and failures[0][0] >= 5, failures
    assert first  # the first session was never answered rightly


def test_mfa_follows_a_password_but_not_a_one_time_code(choice_app):
    app = choice_app()
    app.idp.set_user_pool_mfa_config(UserPoolId=app.pool_id, MfaConfiguration="OPTIONAL", **TOTP)
    username = verified_user(app)
    tokens = user_auth(app, username, PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)["AuthenticationResult"]
    enrol(app, tokens["AccessToken"])
    assert user_auth(app, username, PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD)["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    email = user_auth(app, username, PREFERRED_CHALLENGE="EMAIL_OTP")
    assert "AuthenticationResult" in respond(app, email, username, EMAIL_OTP_CODE=outbox_code(app, username, 8))


def test_unknown_users_and_clients_without_the_flow(choice_app):
    revealing = choice_app()
    expect_error("UserNotFoundException", user_auth, revealing, unique("nobody"), PREFERRED_CHALLENGE="EMAIL_OTP")

    hiding = choice_app(hide=True)
    ghost = f"{unique('ghost')}@example.com"
    challenge = user_auth(hiding, ghost, PREFERRED_CHALLENGE="EMAIL_OTP")
    assert challenge["ChallengeName"] == "EMAIL_OTP"
    assert challenge["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL"
    expect_error("CodeMismatchException", respond, hiding, challenge, ghost, EMAIL_OTP_CODE="12345678")
    assert read_outbox(hiding.server, pool_id=hiding.pool_id) == []
    select = user_auth(hiding, ghost)
    assert select["AvailableChallenges"] == ["PASSWORD_SRP", "PASSWORD", "EMAIL_OTP", "SMS_OTP"]

    legacy = choice_app(flows=("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"))
    username = verified_user(legacy)
    expect_error(
        "InvalidParameterException", user_auth, legacy, username, PREFERRED_CHALLENGE="PASSWORD", PASSWORD=PASSWORD,
        message="Auth flow not enabled for this client",
    )


def test_an_unknown_name_answers_like_a_user_in_a_pool_of_e_mail_usernames(make_auth_app):
    """Review of issue 13: a decoy answers to the name typed, as a user answers to the
    address that finds them, so a wrong code reads the same for both."""
    app = make_auth_app(
        client={"ExplicitAuthFlows": ["ALLOW_USER_AUTH"], "PreventUserExistenceErrors": "ENABLED"},
        UsernameAttributes=["email"],
        AutoVerifiedAttributes=["email"],
        Policies={"SignInPolicy": {"AllowedFirstAuthFactors": FACTORS}},
    )
    address = f"{unique('real')}@example.com"
    app.public.sign_up(ClientId=app.client_id, Username=address, Password=PASSWORD, UserAttributes=[{"Name": "email", "Value": address}])
    app.idp.admin_confirm_sign_up(UserPoolId=app.pool_id, Username=address)
    app.idp.admin_update_user_attributes(UserPoolId=app.pool_id, Username=address, UserAttributes=[{"Name": "email_verified", "Value": "true"}])
    ghost = f"{unique('ghost')}@example.com"
    for name in (address, ghost):
        challenge = user_auth(app, name, PREFERRED_CHALLENGE="EMAIL_OTP")
        assert challenge["ChallengeName"] == "EMAIL_OTP"
        expect_error(
            "CodeMismatchException", respond, app, challenge, name, EMAIL_OTP_CODE="12345678",
            message="Invalid code or auth state for the user.",
        )


def test_sign_in_codes_are_capped_per_user_and_per_unknown_name(choice_app):
    """Review of issue 13: passwordless codes need no password to ask for, so their sends
    are capped (ten an hour), for a user and for an unknown name alike."""
    app = choice_app(hide=True)
    username = verified_user(app)
    for name in (username, f"{unique('nobody')}@example.com"):
        for _ in range(10):
            assert user_auth(app, name, PREFERRED_CHALLENGE="EMAIL_OTP")["ChallengeName"] == "EMAIL_OTP"
        expect_error("TooManyRequestsException", user_auth, app, name, PREFERRED_CHALLENGE="EMAIL_OTP")
    sent = [m for m in read_outbox(app.server, pool_id=app.pool_id, username=username) if m["purpose"] == "Authentication"]
    assert len(sent) == 10
