"""Issue 13, MFA and passwordless codes through real delivery, on both backends: a tessera of
its own sends SMS_MFA codes to the SMS webhook receiver and EMAIL_OTP codes (MFA, and
USER_AUTH's passwordless first factor) over SMTP to an aiosmtpd server; the codes read from
the received messages complete the sign-in, in the pool's own words, and a code reaches only
the user's own address."""

from __future__ import annotations

import re

import pytest

from auth_support import AuthApp
from helpers import App, PASSWORD, SmsWebhookSink, SmtpSink, attribute_list, mail_text, unique
from test_delivery_smtp import delivery_config
from test_mfa import EMAIL, FLOWS, SMS

pytestmark = pytest.mark.usefixtures("mfa_mail_server")


@pytest.fixture(scope="module")
def smtp_sink():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def sms_sink():
    sink = SmsWebhookSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def mfa_mail_server(module_factory, smtp_sink, sms_sink, tmp_path_factory):
    config = tmp_path_factory.mktemp("mfa-delivery") / "tessera.toml"
    config.write_text(delivery_config(smtp_sink.port, sms_sink.url))
    return module_factory.start(name="mfa-delivery", extra_args=["--config", str(config)])


def app_on(server, **pool) -> AuthApp:
    app = App.create(server, AutoVerifiedAttributes=["email"], **pool)
    client = app.idp.create_user_pool_client(
        UserPoolId=app.pool_id, ClientName=unique("mfa"), ExplicitAuthFlows=FLOWS + ["ALLOW_USER_AUTH"]
    )["UserPoolClient"]
    return AuthApp(app.server, app.idp, app.public, app.pool, client)


def user_with(app: AuthApp, email: str, phone: str) -> str:
    username = unique("d")
    app.idp.admin_create_user(
        UserPoolId=app.pool_id,
        Username=username,
        MessageAction="SUPPRESS",
        TemporaryPassword="Temp-Passw0rd!",
        UserAttributes=attribute_list(
            {"email": email, "email_verified": "true", "phone_number": phone, "phone_number_verified": "true"}
        ),
    )
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username=username, Password=PASSWORD, Permanent=True)
    return username


def respond(app: AuthApp, challenge: dict, username: str, **responses) -> dict:
    return app.public.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName=challenge["ChallengeName"],
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, **responses},
    )


def test_sms_mfa_code_from_the_webhook(mfa_mail_server, sms_sink):
    app = app_on(mfa_mail_server)
    app.idp.set_user_pool_mfa_config(UserPoolId=app.pool_id, MfaConfiguration="OPTIONAL", **SMS)
    phone = "+15555550177"
    username = user_with(app, f"{unique('s')}@example.com", phone)
    app.idp.admin_set_user_mfa_preference(
        UserPoolId=app.pool_id, Username=username, SMSMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    already = len(sms_sink.for_phone(phone))
    challenge = app.initiate(username)
    assert challenge["ChallengeName"] == "SMS_MFA"
    assert challenge["ChallengeParameters"]["CODE_DELIVERY_DESTINATION"] == "+*******0177"
    call = sms_sink.wait_for(phone, count=already + 1)["json"]
    assert call["pool_id"] == app.pool_id and call["username"] == username
    assert call["purpose"] == "Authentication"
    code = re.fullmatch(r"Your MFA code is (\d{6})", call["message"]).group(1)
    assert "AuthenticationResult" in respond(app, challenge, username, SMS_MFA_CODE=code)


def test_email_codes_over_smtp_for_mfa_and_passwordless_sign_in(mfa_mail_server, smtp_sink):
    app = app_on(mfa_mail_server, Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]}})
    app.idp.set_user_pool_mfa_config(UserPoolId=app.pool_id, MfaConfiguration="OPTIONAL", **EMAIL)
    address = f"{unique('e')}@example.com"
    username = user_with(app, address, "+15555550178")
    app.idp.admin_set_user_mfa_preference(UserPoolId=app.pool_id, Username=username, EmailMfaSettings={"Enabled": True})

    # E-mail MFA after the password, in the pool's subject and message.
    challenge = app.initiate(username)
    assert challenge["ChallengeName"] == "EMAIL_OTP"
    mail = smtp_sink.wait_for(address, count=1)["message"]
    assert mail["Subject"] == "Sign-in code"
    code = re.search(r"Your sign-in code is (\d{8})", mail_text(mail)).group(1)
    assert "AuthenticationResult" in respond(app, challenge, username, EMAIL_OTP_CODE=code)

    # The same address signs in without a password (USER_AUTH, EMAIL_OTP first).
    challenge = app.public.initiate_auth(
        ClientId=app.client_id, AuthFlow="USER_AUTH", AuthParameters={"USERNAME": username, "PREFERRED_CHALLENGE": "EMAIL_OTP"}
    )
    assert challenge["ChallengeName"] == "EMAIL_OTP"
    mail = smtp_sink.wait_for(address, count=2)["message"]
    code = re.search(r"\b(\d{8})\b", mail_text(mail)).group(1)
    result = respond(app, challenge, username, EMAIL_OTP_CODE=code)["AuthenticationResult"]
    assert app.verify_access(result["AccessToken"])["username"] == username
    assert len(smtp_sink.to(address)) == 2
