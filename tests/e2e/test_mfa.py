"""Issue 13, MFA through the API with boto3 and pyotp, on both backends: software-token
enrolment with an access token and inside sign-in (MFA_SETUP), the SOFTWARE_TOKEN_MFA,
SMS_MFA, EMAIL_OTP and SELECT_MFA_TYPE challenges in the password and SRP flows, the user's
preferences as GetUser, AdminGetUser and GetUserAuthFactors report them, and the refusals:
a replayed code, another user's code, a code of another session, an expired session and too
many wrong codes, each with Cognito's error and nothing issued.

SMS and e-mail codes come from the development outbox here; test_mfa_delivery.py reads them
from the SMS webhook receiver and the SMTP sink.

Software-token codes are time-based. The server accepts the step before and after its own
and each step once, so a test takes the codes of three consecutive steps at a moment with
time to spare in the current one (`Authenticator.steps`), and uses them in increasing
order: no test waits thirty seconds for a new code."""

from __future__ import annotations

import json
import re
import time

import pyotp
import pytest

from auth_support import (  # noqa: F401  (fixtures)
    NEW_PASSWORD,
    TEMP_PASSWORD,
    AuthApp,
    make_auth_app,
)
from helpers import PASSWORD, attribute_dict, expect_error, read_outbox, store_query, unique

TOTP = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
EMAIL = {"EmailMfaConfiguration": {"Message": "Your sign-in code is {####}", "Subject": "Sign-in code"}}
SMS = {
    "SmsMfaConfiguration": {
        "SmsAuthenticationMessage": "Your MFA code is {####}",
        "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "x"},
    }
}
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"]


class Authenticator:
    """The user's authenticator app: pyotp over the secret tessera handed out."""

    def __init__(self, secret: str):
        self.totp = pyotp.TOTP(secret)

    def steps(self) -> tuple[str, str, str]:
        """The codes of the previous, current and next step, taken with at least ten seconds
        left in the current step, so all three stay acceptable while a test uses them."""
        while 30 - time.time() % 30 < 10:
            time.sleep(0.5)
        now = time.time()
        return self.totp.at(now - 30), self.totp.at(now), self.totp.at(now + 30)


@pytest.fixture
def mfa_app(make_auth_app):
    """make_mfa_app(mode, *factors) -> an AuthApp whose pool asks MFA as told."""

    def make(mode: str = "OPTIONAL", *factors: dict, **pool_kwargs) -> AuthApp:
        app = make_auth_app(client={"ExplicitAuthFlows": FLOWS}, AutoVerifiedAttributes=["email"], **pool_kwargs)
        config = {}
        for factor in factors or (TOTP,):
            config.update(factor)
        app.idp.set_user_pool_mfa_config(UserPoolId=app.pool_id, MfaConfiguration=mode, **config)
        return app

    return make


def enrol(app: AuthApp, access_token: str, name: str = "phone") -> Authenticator:
    """AssociateSoftwareToken and VerifySoftwareToken with an access token, then TOTP on and
    preferred; returns the authenticator (its previous step's code is used up)."""
    secret = app.public.associate_software_token(AccessToken=access_token)["SecretCode"]
    authenticator = Authenticator(secret)
    previous, _, _ = authenticator.steps()
    out = app.public.verify_software_token(AccessToken=access_token, UserCode=previous, FriendlyDeviceName=name)
    assert out["Status"] == "SUCCESS"
    app.public.set_user_mfa_preference(
        AccessToken=access_token, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    return authenticator


def respond(app: AuthApp, challenge: dict, username: str, **responses) -> dict:
    return app.public.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName=challenge["ChallengeName"],
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, **responses},
    )


def outbox_code(app: AuthApp, username: str, digits: int) -> str:
    body = read_outbox(app.server, pool_id=app.pool_id, username=username)[-1]["body"]
    found = re.search(rf"\b\d{{{digits}}}\b", body)
    assert found, body
    return found.group(0)


def refresh_tokens_of(app: AuthApp) -> int:
    return store_query(app.server.store, "SELECT COUNT(*) FROM refresh_tokens WHERE pool_id = ?", (app.pool_id,))[0][0]


def test_software_token_enrolment_and_sign_in(mfa_app):
    app = mfa_app("OPTIONAL", TOTP)
    username = app.user()
    tokens = app.sign_in(username)

    secret = app.public.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
    assert re.fullmatch(r"[A-Z2-7]{52}", secret), secret
    authenticator = Authenticator(secret)
    previous, current, following = authenticator.steps()
    expect_error(
        "EnableSoftwareTokenMFAException",
        app.public.verify_software_token,
        AccessToken=tokens["AccessToken"],
        UserCode="000000" if previous != "000000" else "111111",
        message="Code mismatch and fail enable Software Token MFA",
    )
    out = app.public.verify_software_token(AccessToken=tokens["AccessToken"], UserCode=previous, FriendlyDeviceName="phone")
    assert out["Status"] == "SUCCESS" and "Session" not in out
    # Verified, but not turned on: in an OPTIONAL pool the user still signs in without MFA.
    user = app.public.get_user(AccessToken=tokens["AccessToken"])
    assert "UserMFASettingList" not in user and "PreferredMfaSetting" not in user
    assert "AuthenticationResult" in app.initiate(username)

    app.public.set_user_mfa_preference(
        AccessToken=tokens["AccessToken"], SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    user = app.public.get_user(AccessToken=tokens["AccessToken"])
    assert user["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert user["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    admin_view = app.idp.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert admin_view["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    factors = app.public.get_user_auth_factors(AccessToken=tokens["AccessToken"])
    assert factors["ConfiguredUserAuthFactors"] == ["PASSWORD", "SOFTWARE_TOKEN"]
    assert factors["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"

    challenge = app.initiate(username)
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert challenge["ChallengeParameters"] == {"FRIENDLY_DEVICE_NAME": "phone", "USER_ID_FOR_SRP": username}
    issued = refresh_tokens_of(app)
    # The code VerifySoftwareToken took cannot be used again.
    expect_error(
        "ExpiredCodeException",
        respond,
        app,
        challenge,
        username,
        SOFTWARE_TOKEN_MFA_CODE=previous,
        message="Your software token has already been used once.",
    )
    # A wrong code leaves the session for another try.
    wrong = "123456" if current != "123456" else "654321"
    expect_error(
        "CodeMismatchException",
        respond,
        app,
        challenge,
        username,
        SOFTWARE_TOKEN_MFA_CODE=wrong,
        message="Invalid code received for user",
    )
    assert refresh_tokens_of(app) == issued
    result = respond(app, challenge, username, SOFTWARE_TOKEN_MFA_CODE=current)["AuthenticationResult"]
    claims = app.verify_id(result["IdToken"])
    assert claims["cognito:username"] == username
    # The session answered once.
    expect_error("NotAuthorizedException", respond, app, challenge, username, SOFTWARE_TOKEN_MFA_CODE=following)

    # The same code in a new sign-in is a replay.
    again = app.initiate(username)
    expect_error(
        "ExpiredCodeException", respond, app, again, username, SOFTWARE_TOKEN_MFA_CODE=current,
        message="Your software token has already been used once.",
    )
    assert "AuthenticationResult" in respond(app, again, username, SOFTWARE_TOKEN_MFA_CODE=following)


def test_srp_and_admin_flows_ask_the_same_challenge(mfa_app):
    from pycognito.aws_srp import AWSSRP

    app = mfa_app("OPTIONAL", TOTP)
    username = app.user()
    authenticator = enrol(app, app.sign_in(username)["AccessToken"])
    _, current, following = authenticator.steps()

    srp = AWSSRP(username=username, password=PASSWORD, pool_id=app.pool_id, client_id=app.client_id, client=app.public)
    first = app.public.initiate_auth(ClientId=app.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=srp.get_auth_params())
    challenge = app.public.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses=srp.process_challenge(first["ChallengeParameters"], srp.get_auth_params()),
    )
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert "AuthenticationResult" in respond(app, challenge, username, SOFTWARE_TOKEN_MFA_CODE=current)

    admin = app.admin_initiate(username)
    assert admin["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    result = app.idp.admin_respond_to_auth_challenge(
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=admin["Session"],
        ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": following},
    )
    assert "AuthenticationResult" in result


def test_another_users_code_and_another_sessions_answer_are_refused(mfa_app):
    app = mfa_app("OPTIONAL", TOTP)
    alice, bob = app.user(), app.user()
    alice_app = enrol(app, app.sign_in(alice)["AccessToken"])
    bob_app = enrol(app, app.sign_in(bob)["AccessToken"])
    _, alice_code, _ = alice_app.steps()
    _, bob_code, _ = bob_app.steps()
    challenge = app.initiate(alice)
    if bob_code != alice_code:
        expect_error("CodeMismatchException", respond, app, challenge, alice, SOFTWARE_TOKEN_MFA_CODE=bob_code)
    # Bob's session is no answer for Alice, and the other way round.
    bobs = app.initiate(bob)
    expect_error(
        "NotAuthorizedException", respond, app, bobs, alice, SOFTWARE_TOKEN_MFA_CODE=alice_code,
        message="Invalid session for the user.",
    )
    assert "AuthenticationResult" in respond(app, challenge, alice, SOFTWARE_TOKEN_MFA_CODE=alice_code)


def test_required_mfa_sets_up_a_software_token_inside_sign_in(mfa_app):
    app = mfa_app("ON", TOTP)
    username = app.user()
    challenge = app.initiate(username)
    assert challenge["ChallengeName"] == "MFA_SETUP"
    assert json.loads(challenge["ChallengeParameters"]["MFAS_CAN_SETUP"]) == ["SOFTWARE_TOKEN_MFA"]
    assert challenge["ChallengeParameters"]["USER_ID_FOR_SRP"] == username
    # MFA_SETUP cannot be answered before a token is verified.
    expect_error("NotAuthorizedException", respond, app, challenge, username)

    challenge = app.initiate(username)
    associated = app.public.associate_software_token(Session=challenge["Session"])
    authenticator = Authenticator(associated["SecretCode"])
    previous, current, _ = authenticator.steps()
    expect_error(
        "EnableSoftwareTokenMFAException",
        app.public.verify_software_token,
        Session=associated["Session"],
        UserCode="000000" if previous != "000000" else "111111",
    )
    verified = app.public.verify_software_token(Session=associated["Session"], UserCode=previous, FriendlyDeviceName="app")
    assert verified["Status"] == "SUCCESS" and verified["Session"]
    # The session of the challenge itself was spent by AssociateSoftwareToken.
    expect_error("NotAuthorizedException", respond, app, challenge, username)
    result = app.public.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="MFA_SETUP",
        Session=verified["Session"],
        ChallengeResponses={"USERNAME": username},
    )
    assert app.verify_access(result["AuthenticationResult"]["AccessToken"])["username"] == username
    user = app.idp.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert user["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]

    # From now on the token is asked.
    again = app.initiate(username)
    assert again["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    assert "AuthenticationResult" in respond(app, again, username, SOFTWARE_TOKEN_MFA_CODE=current)
    expect_error(
        "InvalidParameterException",
        app.public.respond_to_auth_challenge,
        ClientId=app.client_id,
        ChallengeName="MFA_SETUP",
        ChallengeResponses={"USERNAME": username},
        message="Missing required parameter Session",
    )


def test_an_invited_user_sets_a_password_then_sets_up_mfa(mfa_app):
    app = mfa_app("ON", TOTP)
    username = app.invited_user()
    challenge = app.initiate(username, TEMP_PASSWORD)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    setup = respond(app, challenge, username, NEW_PASSWORD=NEW_PASSWORD)
    assert setup["ChallengeName"] == "MFA_SETUP"
    associated = app.public.associate_software_token(Session=setup["Session"])
    previous, _, _ = Authenticator(associated["SecretCode"]).steps()
    verified = app.public.verify_software_token(Session=associated["Session"], UserCode=previous)
    result = respond(app, {"ChallengeName": "MFA_SETUP", "Session": verified["Session"]}, username)
    assert "AuthenticationResult" in result
    assert app.idp.admin_get_user(UserPoolId=app.pool_id, Username=username)["UserStatus"] == "CONFIRMED"


def test_mfa_guesses_are_not_reset_by_signing_in_again_with_the_password(mfa_app):
    """Whoever knows the password cannot guess the second factor four codes at a time:
    the right password does not clear the count of wrong codes."""
    app = mfa_app("OPTIONAL", TOTP)
    username = app.user()
    authenticator = enrol(app, app.sign_in(username)["AccessToken"])
    _, current, _ = authenticator.steps()
    wrong = "123456" if current != "123456" else "654321"
    challenge = app.initiate(username)
    for _ in range(4):
        expect_error("CodeMismatchException", respond, app, challenge, username, SOFTWARE_TOKEN_MFA_CODE=wrong)
    again = app.initiate(username)
    expect_error("CodeMismatchException", respond, app, again, username, SOFTWARE_TOKEN_MFA_CODE=wrong)
    expect_error(
        "NotAuthorizedException", respond, app, again, username, SOFTWARE_TOKEN_MFA_CODE=current,
        message="Password attempts exceeded",
    )


def test_preferences_need_a_factor_and_an_administrator_can_change_them(mfa_app):
    app = mfa_app("OPTIONAL", TOTP, EMAIL)
    username = app.user(attributes={"name": "no address"})
    tokens = app.sign_in(username)
    expect_error(
        "InvalidParameterException",
        app.public.set_user_mfa_preference,
        AccessToken=tokens["AccessToken"],
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True},
        message="User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA",
    )
    expect_error(
        "InvalidParameterException",
        app.idp.admin_set_user_mfa_preference,
        UserPoolId=app.pool_id,
        Username=username,
        EmailMfaSettings={"Enabled": True},
        message="User does not have delivery config set to turn on EMAIL_OTP",
    )
    assert "UserMFASettingList" not in app.idp.admin_get_user(UserPoolId=app.pool_id, Username=username)

    authenticator = enrol(app, tokens["AccessToken"])
    _, current, _ = authenticator.steps()
    # An administrator turns TOTP off: the user signs in without it.
    app.idp.admin_set_user_mfa_preference(
        UserPoolId=app.pool_id, Username=username, SoftwareTokenMfaSettings={"Enabled": False}
    )
    assert "AuthenticationResult" in app.initiate(username)
    app.idp.admin_set_user_mfa_preference(
        UserPoolId=app.pool_id, Username=username, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    assert app.initiate(username)["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    # Deleting the token turns the factor off, and it cannot be turned on again without one.
    app.idp.admin_delete_software_token(UserPoolId=app.pool_id, Username=username)
    assert "AuthenticationResult" in app.initiate(username)
    expect_error(
        "InvalidParameterException",
        app.public.set_user_mfa_preference,
        AccessToken=tokens["AccessToken"],
        SoftwareTokenMfaSettings={"Enabled": True},
        message="User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA",
    )
    factors = app.idp.admin_get_user_auth_factors(UserPoolId=app.pool_id, Username=username)
    assert factors["ConfiguredUserAuthFactors"] == ["PASSWORD"]
    assert current  # the authenticator's codes are no longer accepted anywhere


def test_software_token_needs_the_pool_to_offer_it(mfa_app, make_auth_app):
    app = make_auth_app(AutoVerifiedAttributes=["email"])
    username = app.user()
    tokens = app.sign_in(username)
    expect_error(
        "SoftwareTokenMFANotFoundException",
        app.public.associate_software_token,
        AccessToken=tokens["AccessToken"],
        message="Software Token MFA has not been enabled by the userPool",
    )


def test_sms_and_email_codes_and_the_choice_between_them(mfa_app):
    app = mfa_app("OPTIONAL", TOTP, EMAIL, SMS)
    username = app.user(attributes={"email": f"{unique('m')}@example.com", "phone_number": "+15555550123"})
    tokens = app.sign_in(username)
    app.public.set_user_mfa_preference(
        AccessToken=tokens["AccessToken"],
        SMSMfaSettings={"Enabled": True, "PreferredMfa": False},
        EmailMfaSettings={"Enabled": True, "PreferredMfa": False},
    )
    user = app.public.get_user(AccessToken=tokens["AccessToken"])
    assert user["UserMFASettingList"] == ["SMS_MFA", "EMAIL_OTP"]
    assert user["MFAOptions"] == [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}]
    assert "PreferredMfaSetting" not in user

    select = app.initiate(username)
    assert select["ChallengeName"] == "SELECT_MFA_TYPE"
    assert json.loads(select["ChallengeParameters"]["MFAS_CAN_CHOOSE"]) == ["SMS_MFA", "EMAIL_OTP"]
    expect_error("InvalidParameterException", respond, app, select, username, ANSWER="SOFTWARE_TOKEN_MFA")
    sms = respond(app, select, username, ANSWER="SMS_MFA")
    assert sms["ChallengeName"] == "SMS_MFA"
    assert sms["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "SMS"
    assert sms["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "+*******0123"
    code = outbox_code(app, username, 6)
    message = read_outbox(app.server, pool_id=app.pool_id, username=username)[-1]
    assert message["body"] == f"Your MFA code is {code}"
    expect_error(
        "CodeMismatchException", respond, app, sms, username, SMS_MFA_CODE="12345678",
        message="Invalid code or auth state for the user.",
    )
    assert "AuthenticationResult" in respond(app, sms, username, SMS_MFA_CODE=code)
    # A phone number that answered an SMS code is verified.
    attributes = attribute_dict(app.idp.admin_get_user(UserPoolId=app.pool_id, Username=username)["UserAttributes"])
    assert attributes["phone_number_verified"] == "true"

    app.public.set_user_mfa_preference(AccessToken=tokens["AccessToken"], EmailMfaSettings={"Enabled": True, "PreferredMfa": True})
    email = app.initiate(username)
    assert email["ChallengeName"] == "EMAIL_OTP"
    assert email["ChallengeParameters"]["CODE_DELIVERY_DELIVERY_MEDIUM"] == "EMAIL"
    first_code = outbox_code(app, username, 8)
    # The code of an earlier session is no answer to a later one.
    later = app.initiate(username)
    later_code = outbox_code(app, username, 8)
    if first_code != later_code:
        expect_error("CodeMismatchException", respond, app, later, username, EMAIL_OTP_CODE=first_code)
    assert "AuthenticationResult" in respond(app, later, username, EMAIL_OTP_CODE=later_code)
    # amazon-cognito-identity-js sends the code under more than one name; the challenge's own is read.
    third = app.initiate(username)
    third_code = outbox_code(app, username, 8)
    assert "AuthenticationResult" in respond(app, third, username, EMAIL_OTP_CODE=third_code, SMS_MFA_CODE="0")


def test_required_mfa_uses_what_the_user_has(mfa_app):
    app = mfa_app("ON", TOTP, EMAIL)
    username = app.user()
    challenge = app.initiate(username)
    assert challenge["ChallengeName"] == "EMAIL_OTP"
    assert "AuthenticationResult" in respond(app, challenge, username, EMAIL_OTP_CODE=outbox_code(app, username, 8))


def test_too_many_wrong_codes_and_an_expired_session(mfa_app):
    app = mfa_app("OPTIONAL", EMAIL)
    username = app.user()
    tokens = app.sign_in(username)
    app.public.set_user_mfa_preference(AccessToken=tokens["AccessToken"], EmailMfaSettings={"Enabled": True})
    issued = refresh_tokens_of(app)
    challenge = app.initiate(username)
    code = outbox_code(app, username, 8)
    wrong = "00000000" if code != "00000000" else "11111111"
    for _ in range(4):
        expect_error("CodeMismatchException", respond, app, challenge, username, EMAIL_OTP_CODE=wrong)
    # The fifth wrong code spends the session; the right one comes too late.
    expect_error("CodeMismatchException", respond, app, challenge, username, EMAIL_OTP_CODE=wrong)
    expect_error("NotAuthorizedException", respond, app, challenge, username, EMAIL_OTP_CODE=code)
    assert refresh_tokens_of(app) == issued

    # Wrong codes count towards a lockout of their own, which the right password does not
    # lift: the next sign-in's code is refused for a moment, whatever it is.
    locked = app.initiate(username)
    locked_code = outbox_code(app, username, 8)
    expect_error("NotAuthorizedException", respond, app, locked, username, EMAIL_OTP_CODE=locked_code, message="Password attempts exceeded")
    time.sleep(2.2)

    challenge = app.initiate(username)
    code = outbox_code(app, username, 8)
    store_query(
        app.server.store,
        "UPDATE auth_sessions SET expires_at = ? WHERE pool_id = ?",
        (int(time.time() * 1000) - 1000, app.pool_id),
    )
    expect_error(
        "NotAuthorizedException", respond, app, challenge, username, EMAIL_OTP_CODE=code,
        message="Invalid session for the user, session is expired.",
    )
    assert refresh_tokens_of(app) == issued


def test_the_legacy_mfa_options_of_an_administrator(mfa_app):
    """AdminSetUserSettings (the legacy `MFAOptions`): SMS to `phone_number` on, then off;
    anything else refused."""
    app = mfa_app("OPTIONAL", SMS)
    username = app.user(attributes={"email": f"{unique('l')}@example.com", "phone_number": "+15555550111"})
    sms = [{"DeliveryMedium": "SMS", "AttributeName": "phone_number"}]
    app.idp.admin_set_user_settings(UserPoolId=app.pool_id, Username=username, MFAOptions=sms)
    user = app.idp.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert user["MFAOptions"] == sms and user["UserMFASettingList"] == ["SMS_MFA"]
    assert app.initiate(username)["ChallengeName"] == "SMS_MFA"
    expect_error(
        "InvalidParameterException", app.idp.admin_set_user_settings, UserPoolId=app.pool_id, Username=username,
        MFAOptions=[{"DeliveryMedium": "EMAIL", "AttributeName": "email"}],
    )
    app.idp.admin_set_user_settings(UserPoolId=app.pool_id, Username=username, MFAOptions=[])
    user = app.idp.admin_get_user(UserPoolId=app.pool_id, Username=username)
    assert "MFAOptions" not in user and "UserMFASettingList" not in user
    assert "AuthenticationResult" in app.initiate(username)
