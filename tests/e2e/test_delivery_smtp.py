"""Real message delivery: e-mail to an aiosmtpd server over SMTP, text messages to an HTTP
webhook; codes read from the received messages complete ConfirmSignUp and
ConfirmForgotPassword. A delivery failure is reported and leaves no half-created user."""

from __future__ import annotations

import re
from email.utils import parseaddr

import pytest

from helpers import (
    App,
    PASSWORD,
    SmsWebhookSink,
    SmtpSink,
    attribute_list,
    expect_error,
    extract_code,
    free_port,
    mail_text,
    unique,
)

FROM = "tessera <no-reply@tessera.test>"


def delivery_config(smtp_port: int, sms_url: str) -> str:
    return f"""
[delivery.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from = "{FROM}"
timeout_seconds = 5

[delivery.sms_webhook]
url = "{sms_url}"
timeout_seconds = 5
"""


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
def mail_server(module_factory, smtp_sink, sms_sink, tmp_path_factory):
    """A tessera of its own (per backend) that delivers through SMTP and the SMS webhook."""
    config = tmp_path_factory.mktemp("delivery") / "tessera.toml"
    config.write_text(delivery_config(smtp_sink.port, sms_sink.url))
    return module_factory.start(name="delivery", extra_args=["--config", str(config)])


@pytest.fixture(scope="module")
def broken_server(module_factory, tmp_path_factory):
    """A tessera whose SMTP server and SMS webhook do not listen."""
    config = tmp_path_factory.mktemp("delivery-broken") / "tessera.toml"
    config.write_text(delivery_config(free_port(), f"http://127.0.0.1:{free_port()}/sms"))
    return module_factory.start(name="delivery-broken", extra_args=["--config", str(config)])


def address(n: str) -> str:
    # unique per test and backend, so the messages of one test are easy to pick out
    return f"{unique(n)}@example.com"


# --------------------------------------------------------------------------
# e-mail over SMTP


def test_sign_up_mail_confirms(mail_server, smtp_sink):
    app = App.create(
        mail_server,
        AutoVerifiedAttributes=["email"],
        VerificationMessageTemplate={"EmailMessage": "Code: {####}", "EmailSubject": "Welcome"},
    )
    to = address("ada")
    out = app.sign_up("ada", attributes={"email": to})
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"

    received = smtp_sink.wait_for(to)
    assert received["rcpt_tos"] == [to]
    assert received["mail_from"] == "no-reply@tessera.test"
    msg = received["message"]
    assert parseaddr(str(msg["To"]))[1] == to
    assert parseaddr(str(msg["From"]))[1] == "no-reply@tessera.test"
    assert str(msg["Subject"]) == "Welcome"
    body = mail_text(msg)
    assert re.fullmatch(r"Code: \d{6}", body.strip()), body
    code = extract_code(body)

    app.public.confirm_sign_up(ClientId=app.client_id, Username="ada", ConfirmationCode=code)
    user = app.get("ada")
    assert user["UserStatus"] == "CONFIRMED"
    assert app.attrs("ada")["email_verified"] == "true"


def test_non_ascii_template_survives_mime(mail_server, smtp_sink):
    app = App.create(
        mail_server,
        AutoVerifiedAttributes=["email"],
        VerificationMessageTemplate={
            "EmailMessage": "Código de verificación: {####} — ¡gracias! ✓",
            "EmailSubject": "Bestätigung – ✓ Überprüfung",
        },
    )
    to = unique("ana+tag") + "@example.com"
    app.sign_up("ana", attributes={"email": to})
    received = smtp_sink.wait_for(to)
    assert received["rcpt_tos"] == [to]
    msg = received["message"]
    assert str(msg["Subject"]) == "Bestätigung – ✓ Überprüfung"
    body = mail_text(msg).strip()
    m = re.fullmatch(r"Código de verificación: (\d{6}) — ¡gracias! ✓", body)
    assert m, body
    app.public.confirm_sign_up(ClientId=app.client_id, Username="ana", ConfirmationCode=m.group(1))
    assert app.status("ana") == "CONFIRMED"


def test_invitation_mail(mail_server, smtp_sink):
    app = App.create(
        mail_server,
        AdminCreateUserConfig={
            "InviteMessageTemplate": {
                "EmailMessage": "Hi {username}, your password is {####}",
                "EmailSubject": "Invite",
            }
        },
    )
    to = address("bert")
    user = app.idp.admin_create_user(
        UserPoolId=app.pool_id,
        Username="bert",
        UserAttributes=attribute_list({"email": to}),
        DesiredDeliveryMediums=["EMAIL"],
    )["User"]
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"

    msg = smtp_sink.wait_for(to)["message"]
    assert str(msg["Subject"]) == "Invite"
    body = mail_text(msg).strip()
    m = re.fullmatch(r"Hi bert, your password is (\S+)", body)
    assert m, body
    temporary = m.group(1)
    assert len(temporary) >= 8
    assert re.search(r"[A-Z]", temporary) and re.search(r"[a-z]", temporary), temporary
    assert re.search(r"\d", temporary), temporary


def test_forgot_password_mail_resets(mail_server, smtp_sink):
    app = App.create(mail_server, AutoVerifiedAttributes=["email"])
    to = address("cleo")
    app.sign_up("cleo", attributes={"email": to})
    code = extract_code(mail_text(smtp_sink.wait_for(to)["message"]))
    app.public.confirm_sign_up(ClientId=app.client_id, Username="cleo", ConfirmationCode=code)

    out = app.public.forgot_password(ClientId=app.client_id, Username="cleo")
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert out["CodeDeliveryDetails"]["AttributeName"] == "email"
    reset = smtp_sink.wait_for(to, count=2)["message"]
    reset_code = extract_code(mail_text(reset))
    app.public.confirm_forgot_password(
        ClientId=app.client_id, Username="cleo", ConfirmationCode=reset_code, Password="Br4nd-New-Pass"
    )
    assert app.status("cleo") == "CONFIRMED"


def test_admin_reset_mail(mail_server, smtp_sink):
    app = App.create(mail_server, AutoVerifiedAttributes=["email"])
    to = address("dirk")
    app.create_user("dirk", attributes={"email": to, "email_verified": "true"})
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username="dirk", Password=PASSWORD, Permanent=True)
    app.idp.admin_reset_user_password(UserPoolId=app.pool_id, Username="dirk")
    assert app.status("dirk") == "RESET_REQUIRED"
    code = extract_code(mail_text(smtp_sink.wait_for(to)["message"]))
    app.public.confirm_forgot_password(
        ClientId=app.client_id, Username="dirk", ConfirmationCode=code, Password="Br4nd-New-Pass"
    )
    assert app.status("dirk") == "CONFIRMED"


def test_email_username_mail(mail_server, smtp_sink):
    app = App.create(mail_server, UsernameAttributes=["email"], AutoVerifiedAttributes=["email"])
    to = address("emma")
    app.sign_up(to)
    code = extract_code(mail_text(smtp_sink.wait_for(to)["message"]))
    app.public.confirm_sign_up(ClientId=app.client_id, Username=to, ConfirmationCode=code)
    assert app.status(to) == "CONFIRMED"


def test_suppressed_invitation_sends_no_mail(mail_server, smtp_sink):
    app = App.create(mail_server)
    to = address("finn")
    app.idp.admin_create_user(
        UserPoolId=app.pool_id,
        Username="finn",
        UserAttributes=attribute_list({"email": to}),
        DesiredDeliveryMediums=["EMAIL"],
        MessageAction="SUPPRESS",
    )
    # a later mail to another address proves the SMTP path is flowing
    other = address("finn-marker")
    App.create(mail_server, AutoVerifiedAttributes=["email"]).sign_up("m", attributes={"email": other})
    smtp_sink.wait_for(other)
    assert smtp_sink.to(to) == []


# --------------------------------------------------------------------------
# SMS through the webhook


def test_sign_up_sms_webhook(mail_server, sms_sink):
    app = App.create(mail_server, AutoVerifiedAttributes=["phone_number"])
    phone = "+15555550123"
    already = len(sms_sink.for_phone(phone))
    out = app.sign_up("gwen", attributes={"phone_number": phone})
    assert out["CodeDeliveryDetails"] == {
        "Destination": "+*******0123",
        "DeliveryMedium": "SMS",
        "AttributeName": "phone_number",
    }
    call = sms_sink.wait_for(phone, count=already + 1)
    assert call["path"] == "/sms"
    assert call["headers"].get("content-type", "").startswith("application/json")
    body = call["json"]
    assert body["pool_id"] == app.pool_id
    assert body["username"] == "gwen"
    assert body["phone_number"] == phone
    assert isinstance(body.get("purpose"), str) and body["purpose"]
    code = extract_code(body["message"])
    app.public.confirm_sign_up(ClientId=app.client_id, Username="gwen", ConfirmationCode=code)
    assert app.status("gwen") == "CONFIRMED"
    assert app.attrs("gwen")["phone_number_verified"] == "true"


# --------------------------------------------------------------------------
# delivery failures


def test_sign_up_smtp_unreachable(broken_server):
    app = App.create(broken_server, AutoVerifiedAttributes=["email"])
    expect_error(
        "CodeDeliveryFailureException",
        app.sign_up,
        "hugo",
        attributes={"email": "hugo@example.com"},
    )
    assert app.idp.list_users(UserPoolId=app.pool_id)["Users"] == []
    expect_error("UserNotFoundException", app.get, "hugo")
    # nothing half-done: the name is still free (and fails the same way, not UsernameExists)
    expect_error(
        "CodeDeliveryFailureException",
        app.sign_up,
        "hugo",
        attributes={"email": "hugo@example.com"},
    )


def test_sign_up_sms_webhook_unreachable(broken_server):
    app = App.create(broken_server, AutoVerifiedAttributes=["phone_number"])
    expect_error(
        "CodeDeliveryFailureException",
        app.sign_up,
        "ines",
        attributes={"phone_number": "+15555550124"},
    )
    assert app.idp.list_users(UserPoolId=app.pool_id)["Users"] == []


def test_invitation_smtp_unreachable(broken_server):
    app = App.create(broken_server)
    expect_error(
        "CodeDeliveryFailureException",
        app.idp.admin_create_user,
        UserPoolId=app.pool_id,
        Username="jude",
        UserAttributes=attribute_list({"email": "jude@example.com"}),
        DesiredDeliveryMediums=["EMAIL"],
    )
    expect_error("UserNotFoundException", app.get, "jude")


def test_sign_up_without_code_works_when_smtp_is_down(broken_server):
    app = App.create(broken_server)  # no auto-verified attribute: nothing to deliver
    app.sign_up("kurt", attributes={"email": "kurt@example.com"})
    assert app.status("kurt") == "UNCONFIRMED"
