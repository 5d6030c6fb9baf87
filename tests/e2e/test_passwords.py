"""Passwords and recovery through boto3: AdminSetUserPassword, AdminResetUserPassword,
ForgotPassword, ConfirmForgotPassword; codes read from the development outbox."""

from __future__ import annotations

import re

import pytest

from helpers import PASSWORD, expect_error, secret_hash

NEW_PASSWORD = "N3w-Passw0rd"
NO_RECOVERY = "Cannot reset password for the user as there is no registered/verified email or phone_number"


def verified_user(app, username: str, email: str | None = None) -> None:
    """A CONFIRMED user with a verified e-mail (SignUp + ConfirmSignUp with the mailed code)."""
    app.sign_up(username, attributes={"email": email or f"{username}@example.com"})
    app.public.confirm_sign_up(ClientId=app.client_id, Username=username, ConfirmationCode=app.code(username))
    assert app.attrs(username)["email_verified"] == "true"


def forgot(app, username: str, **kwargs) -> dict:
    return app.public.forgot_password(ClientId=app.client_id, Username=username, **kwargs)


def confirm_forgot(app, username: str, code: str, password: str = NEW_PASSWORD, **kwargs) -> dict:
    return app.public.confirm_forgot_password(
        ClientId=app.client_id, Username=username, ConfirmationCode=code, Password=password, **kwargs
    )


# --------------------------------------------------------------------------
# AdminSetUserPassword


def test_admin_set_user_password_permanent_and_temporary(app):
    app.create_user("amos")
    assert app.status("amos") == "FORCE_CHANGE_PASSWORD"
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username="amos", Password=NEW_PASSWORD, Permanent=True)
    assert app.status("amos") == "CONFIRMED"
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username="amos", Password=PASSWORD, Permanent=False)
    assert app.status("amos") == "FORCE_CHANGE_PASSWORD"


def test_admin_set_user_password_confirms_unconfirmed_user(app):
    app.sign_up("bea")
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username="bea", Password=NEW_PASSWORD, Permanent=True)
    assert app.status("bea") == "CONFIRMED"


@pytest.mark.parametrize(
    "password,rule",
    [
        ("Sh0rt!", "Password not long enough"),
        ("n3w-passw0rd", "Password must have uppercase characters"),
        ("N3W-PASSW0RD", "Password must have lowercase characters"),
        ("New-Password", "Password must have numeric characters"),
        ("N3wPassw0rd", "Password must have symbol characters"),
    ],
)
def test_admin_set_user_password_policy(app, password, rule):
    app.create_user("cal")
    expect_error(
        "InvalidPasswordException",
        app.idp.admin_set_user_password,
        UserPoolId=app.pool_id,
        Username="cal",
        Password=password,
        Permanent=True,
        message=f"Password did not conform with password policy: {rule}",
    )
    assert app.status("cal") == "FORCE_CHANGE_PASSWORD"


# --------------------------------------------------------------------------
# ForgotPassword / ConfirmForgotPassword


def test_forgot_password_flow(app):
    verified_user(app, "dina")
    out = forgot(app, "dina")
    assert out["CodeDeliveryDetails"] == {
        "Destination": "d***@e***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    msg = app.outbox("dina")[-1]
    assert msg["destination"] == "dina@example.com"
    code = app.code("dina")
    assert re.fullmatch(r"\d{6}", code)
    assert confirm_forgot(app, "dina", code)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert app.status("dina") == "CONFIRMED"

    # codes are single use
    expect_error("ExpiredCodeException", confirm_forgot, app, "dina", code, password="An0ther-Passw0rd")


def test_confirm_forgot_password_wrong_code_then_right(app):
    verified_user(app, "eli")
    forgot(app, "eli")
    code = app.code("eli")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    expect_error("CodeMismatchException", confirm_forgot, app, "eli", wrong)
    confirm_forgot(app, "eli", code)
    assert app.status("eli") == "CONFIRMED"


def test_confirm_forgot_password_policy_keeps_code(app):
    verified_user(app, "fay")
    forgot(app, "fay")
    code = app.code("fay")
    expect_error(
        "InvalidPasswordException",
        confirm_forgot,
        app,
        "fay",
        code,
        password="Sh0rt!",
        message="Password does not conform to policy: Password not long enough",
    )
    # a failed operation changes nothing: the code is still good
    confirm_forgot(app, "fay", code)
    assert app.status("fay") == "CONFIRMED"


def test_confirm_forgot_password_without_pending_code(app):
    verified_user(app, "gil")
    expect_error(
        "ExpiredCodeException",
        confirm_forgot,
        app,
        "gil",
        "123456",
        message="Invalid code provided, please request a code again.",
    )


def test_confirm_forgot_password_too_many_failed_attempts(app):
    """Five wrong codes an hour; the sixth guess is refused before any comparison, right or
    not, as Cognito answers it (LimitExceededException; see directory/code.rs)."""
    verified_user(app, "hal")
    forgot(app, "hal")
    code = app.code("hal")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for _ in range(5):
        expect_error("CodeMismatchException", confirm_forgot, app, "hal", wrong)
    expect_error(
        "LimitExceededException",
        confirm_forgot,
        app,
        "hal",
        code,
        message="Attempt limit exceeded, please try after some time.",
    )


def test_forgot_password_needs_verified_contact(app):
    app.confirmed_user("ida", attributes={"email": "ida@example.com"})
    assert app.attrs("ida").get("email_verified", "false") == "false"
    sent = len(app.outbox("ida"))  # the sign-up code
    expect_error("InvalidParameterException", forgot, app, "ida", message=NO_RECOVERY)
    assert len(app.outbox("ida")) == sent
    assert app.status("ida") == "CONFIRMED"


def test_forgot_password_disabled_user(app):
    verified_user(app, "jon")
    forgot(app, "jon")
    code = app.code("jon")
    app.idp.admin_disable_user(UserPoolId=app.pool_id, Username="jon")
    expect_error("NotAuthorizedException", forgot, app, "jon", message="User is disabled.")
    expect_error("NotAuthorizedException", confirm_forgot, app, "jon", code, message="User is disabled.")
    app.idp.admin_enable_user(UserPoolId=app.pool_id, Username="jon")
    confirm_forgot(app, "jon", code)
    assert app.status("jon") == "CONFIRMED"


def test_forgot_password_force_change_password_user(app):
    """Cognito: NotAuthorizedException "User password cannot be reset in the current state."
    for a user who never replaced the temporary password (e.g. aws-amplify/amplify-flutter#3048,
    aws/aws-aspnet-cognito-identity-provider#37)."""
    app.create_user("fcp", attributes={"email": "fcp@example.com", "email_verified": "true"})
    expect_error(
        "NotAuthorizedException",
        forgot,
        app,
        "fcp",
        message="User password cannot be reset in the current state.",
    )
    assert app.status("fcp") == "FORCE_CHANGE_PASSWORD"
    assert app.outbox("fcp") == []


def test_forgot_password_unknown_user_legacy(make_app):
    app = make_app(AutoVerifiedAttributes=["email"], client={"PreventUserExistenceErrors": "LEGACY"})
    expect_error("UserNotFoundException", forgot, app, "ghost")
    expect_error("UserNotFoundException", confirm_forgot, app, "ghost", "123456")


def test_forgot_password_unknown_user_prevented(make_app):
    app = make_app(AutoVerifiedAttributes=["email"], client={"PreventUserExistenceErrors": "ENABLED"})
    out = forgot(app, "ghost")
    details = out["CodeDeliveryDetails"]
    assert details["DeliveryMedium"] in ("EMAIL", "SMS"), details
    assert details.get("Destination"), details
    assert details.get("AttributeName") in ("email", "phone_number"), details
    assert app.usernames() == []


def test_forgot_password_with_secret_hash(make_app):
    app = make_app(AutoVerifiedAttributes=["email"], client={"GenerateSecret": True})
    cid, secret = app.client_id, app.client_secret
    sh = secret_hash(secret, "kai", cid)
    app.public.sign_up(
        ClientId=cid,
        Username="kai",
        Password=PASSWORD,
        SecretHash=sh,
        UserAttributes=[{"Name": "email", "Value": "kai@example.com"}],
    )
    app.public.confirm_sign_up(ClientId=cid, Username="kai", ConfirmationCode=app.code("kai"), SecretHash=sh)
    expect_error("NotAuthorizedException", forgot, app, "kai")
    forgot(app, "kai", SecretHash=sh)
    code = app.code("kai")
    expect_error("NotAuthorizedException", confirm_forgot, app, "kai", code)
    confirm_forgot(app, "kai", code, SecretHash=sh)
    assert app.status("kai") == "CONFIRMED"


def test_forgot_password_by_phone(make_app):
    app = make_app(AutoVerifiedAttributes=["phone_number"])
    app.sign_up("lea", attributes={"phone_number": "+15555550123"})
    app.public.confirm_sign_up(ClientId=app.client_id, Username="lea", ConfirmationCode=app.code("lea"))
    out = forgot(app, "lea")
    assert out["CodeDeliveryDetails"] == {
        "Destination": "+*******0123",
        "DeliveryMedium": "SMS",
        "AttributeName": "phone_number",
    }
    msg = app.outbox("lea")[-1]
    assert msg["channel"] == "SMS"
    confirm_forgot(app, "lea", app.code("lea"))
    assert app.status("lea") == "CONFIRMED"


def test_forgot_password_in_email_username_pool(make_app):
    app = make_app(UsernameAttributes=["email"], AutoVerifiedAttributes=["email"])
    sub = app.sign_up("moe@example.com")["UserSub"]
    app.public.confirm_sign_up(ClientId=app.client_id, Username="moe@example.com", ConfirmationCode=app.code(sub))
    forgot(app, "moe@example.com")
    confirm_forgot(app, "moe@example.com", app.code(sub))
    assert app.status("moe@example.com") == "CONFIRMED"


# --------------------------------------------------------------------------
# AdminResetUserPassword


def test_admin_reset_user_password(app):
    verified_user(app, "nat")
    sent_before = len(app.outbox("nat"))
    app.idp.admin_reset_user_password(UserPoolId=app.pool_id, Username="nat")
    assert app.status("nat") == "RESET_REQUIRED"
    messages = app.outbox("nat")
    assert len(messages) == sent_before + 1, messages
    assert messages[-1]["destination"] == "nat@example.com"
    confirm_forgot(app, "nat", app.code("nat"))
    assert app.status("nat") == "CONFIRMED"


def test_admin_reset_then_admin_set_password(app):
    verified_user(app, "oz")
    app.idp.admin_reset_user_password(UserPoolId=app.pool_id, Username="oz")
    assert app.status("oz") == "RESET_REQUIRED"
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username="oz", Password=NEW_PASSWORD, Permanent=True)
    assert app.status("oz") == "CONFIRMED"


# --------------------------------------------------------------------------
# AccountRecoverySetting decides where the reset code goes

BOTH = {
    "email": "both@example.com",
    "email_verified": "true",
    "phone_number": "+15555550111",
    "phone_number_verified": "true",
}
PHONE_ONLY = {"phone_number": "+15555550112", "phone_number_verified": "true"}


def recovery(*mechanisms) -> dict:
    return {
        "AccountRecoverySetting": {
            "RecoveryMechanisms": [{"Name": n, "Priority": i + 1} for i, n in enumerate(mechanisms)]
        }
    }


def confirmed_with(app, username, attributes):
    app.create_user(username, attributes=attributes)
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username=username, Password=PASSWORD, Permanent=True)


@pytest.mark.parametrize(
    "setting,medium",
    [
        (recovery("verified_email", "verified_phone_number"), "EMAIL"),
        (recovery("verified_phone_number", "verified_email"), "SMS"),
        (recovery("verified_email"), "EMAIL"),
    ],
    ids=["email-first", "phone-first", "email-only"],
)
def test_account_recovery_priority(make_app, setting, medium):
    app = make_app(**setting)
    confirmed_with(app, "ray", BOTH)
    details = forgot(app, "ray")["CodeDeliveryDetails"]
    assert details["DeliveryMedium"] == medium, details
    msg = app.outbox("ray")[-1]
    assert msg["channel"] == medium
    confirm_forgot(app, "ray", app.code("ray"))
    assert app.status("ray") == "CONFIRMED"


def test_account_recovery_falls_back_to_second_mechanism(make_app):
    app = make_app(**recovery("verified_email", "verified_phone_number"))
    confirmed_with(app, "sid", PHONE_ONLY)
    assert forgot(app, "sid")["CodeDeliveryDetails"]["DeliveryMedium"] == "SMS"


def test_account_recovery_email_only_needs_an_email(make_app):
    app = make_app(**recovery("verified_email"))
    confirmed_with(app, "tom", PHONE_ONLY)
    expect_error("InvalidParameterException", forgot, app, "tom", message=NO_RECOVERY)


def test_account_recovery_admin_only(make_app):
    app = make_app(**recovery("admin_only"))
    confirmed_with(app, "uli", BOTH)
    expect_error("NotAuthorizedException", forgot, app, "uli")
    assert app.outbox("uli") == []
