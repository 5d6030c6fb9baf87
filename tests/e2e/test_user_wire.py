"""The user-directory operations on the wire: raw requests checked for Cognito's framing,
the public/SigV4 split, and message templates as delivered to the development outbox."""

from __future__ import annotations

import re

import pytest

from helpers import (
    PASSWORD,
    assert_api_framing,
    assert_aws_error,
    expect_error,
    json_body,
    raw_post,
    signed_post,
)

PUBLIC = ["SignUp", "ConfirmSignUp", "ResendConfirmationCode", "ForgotPassword", "ConfirmForgotPassword"]
SIGNED = [
    "AdminCreateUser",
    "AdminGetUser",
    "AdminDeleteUser",
    "AdminDisableUser",
    "AdminEnableUser",
    "AdminConfirmSignUp",
    "AdminSetUserPassword",
    "AdminResetUserPassword",
    "AdminUpdateUserAttributes",
    "AdminDeleteUserAttributes",
    "AdminAddUserToGroup",
    "AdminRemoveUserFromGroup",
    "AdminListGroupsForUser",
    "ListUsers",
    "ListUsersInGroup",
    "CreateGroup",
    "GetGroup",
    "UpdateGroup",
    "DeleteGroup",
    "ListGroups",
    "AddCustomAttributes",
]


# --------------------------------------------------------------------------
# framing and authorisation


def test_raw_sign_up_and_errors(server, app):
    resp = raw_post(
        server.url,
        "SignUp",
        {
            "ClientId": app.client_id,
            "Username": "raw",
            "Password": PASSWORD,
            "UserAttributes": [{"Name": "email", "Value": "raw@example.com"}],
        },
    )
    assert resp.status_code == 200, resp.text
    assert_api_framing(resp)
    body = json_body(resp)
    assert body["UserConfirmed"] is False
    assert body["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"

    again = raw_post(server.url, "SignUp", {"ClientId": app.client_id, "Username": "raw", "Password": PASSWORD})
    assert assert_aws_error(again, "UsernameExistsException")["message"] == "User already exists"

    weak = raw_post(server.url, "SignUp", {"ClientId": app.client_id, "Username": "raw2", "Password": "x"})
    assert_aws_error(weak, ["InvalidPasswordException", "InvalidParameterException"])


def test_raw_admin_error_framing(server, app):
    akid, secret = server.root_credentials()
    resp = signed_post(server.url, "AdminGetUser", {"UserPoolId": app.pool_id, "Username": "nobody"}, akid, secret)
    body = assert_aws_error(resp, "UserNotFoundException")
    assert body["message"] == "User does not exist."

    resp = signed_post(server.url, "GetGroup", {"UserPoolId": app.pool_id, "GroupName": "nope"}, akid, secret)
    assert_aws_error(resp, "ResourceNotFoundException")


@pytest.mark.parametrize("operation", SIGNED)
def test_admin_operations_need_a_signature(server, app, operation):
    resp = raw_post(server.url, operation, {"UserPoolId": app.pool_id, "Username": "x", "GroupName": "g"})
    assert_aws_error(resp, "MissingAuthenticationTokenException")


@pytest.mark.parametrize("operation", PUBLIC)
def test_public_operations_accept_a_signature(server, app, operation):
    """Old SDKs sign public operations; the signature is ignored (wire facts 1.3)."""
    akid, secret = server.root_credentials()
    body = {
        "ClientId": app.client_id,
        "Username": "signed-" + operation.lower(),
        "Password": PASSWORD,
        "ConfirmationCode": "123456",
    }
    resp = signed_post(server.url, operation, body, akid, secret)
    data = json_body(resp)
    assert data.get("__type") not in (
        "MissingAuthenticationTokenException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SerializationException",
        "UnknownOperationException",
    ), (resp.status_code, data)


# --------------------------------------------------------------------------
# templates


def latest(app, username):
    return app.outbox(username)[-1]


def test_verification_template_for_sign_up_and_reset(make_app):
    app = make_app(
        AutoVerifiedAttributes=["email"],
        VerificationMessageTemplate={"EmailMessage": "Code: {####}", "EmailSubject": "Welcome"},
    )
    app.sign_up("tess", attributes={"email": "tess@example.com"})
    msg = latest(app, "tess")
    assert msg["subject"] == "Welcome"
    assert re.fullmatch(r"Code: \d{6}", msg["body"].strip()), msg["body"]
    app.public.confirm_sign_up(ClientId=app.client_id, Username="tess", ConfirmationCode=app.code("tess"))

    app.public.forgot_password(ClientId=app.client_id, Username="tess")
    msg = latest(app, "tess")
    assert msg["subject"] == "Welcome"
    assert re.fullmatch(r"Code: \d{6}", msg["body"].strip()), msg["body"]


def test_legacy_email_verification_message(make_app):
    app = make_app(
        AutoVerifiedAttributes=["email"],
        EmailVerificationMessage="Legacy code {####}",
        EmailVerificationSubject="Legacy subject",
    )
    app.sign_up("ursa", attributes={"email": "ursa@example.com"})
    msg = latest(app, "ursa")
    assert msg["subject"] == "Legacy subject"
    assert re.fullmatch(r"Legacy code \d{6}", msg["body"].strip()), msg["body"]


def test_sms_verification_template(make_app):
    app = make_app(
        AutoVerifiedAttributes=["phone_number"],
        VerificationMessageTemplate={"SmsMessage": "SMS code {####}"},
    )
    app.sign_up("vera", attributes={"phone_number": "+15555550150"})
    msg = latest(app, "vera")
    assert msg["channel"] == "SMS"
    assert re.fullmatch(r"SMS code \d{6}", msg["body"].strip()), msg["body"]


def test_sms_invitation_template(make_app):
    app = make_app(
        AdminCreateUserConfig={"InviteMessageTemplate": {"SMSMessage": "User {username} pw {####}"}},
    )
    app.idp.admin_create_user(
        UserPoolId=app.pool_id,
        Username="wade",
        UserAttributes=[{"Name": "phone_number", "Value": "+15555550151"}],
        DesiredDeliveryMediums=["SMS"],
    )
    msg = latest(app, "wade")
    assert msg["channel"] == "SMS"
    assert re.fullmatch(r"User wade pw \S+", msg["body"].strip()), msg["body"]


def test_default_email_invitation(app):
    app.idp.admin_create_user(
        UserPoolId=app.pool_id,
        Username="xena",
        UserAttributes=[{"Name": "email", "Value": "xena@example.com"}],
        DesiredDeliveryMediums=["EMAIL"],
    )
    msg = latest(app, "xena")
    assert msg["channel"] == "EMAIL"
    assert msg["destination"] == "xena@example.com"
    assert "xena" in msg["body"]
    assert msg["subject"]


# --------------------------------------------------------------------------
# phone number as username; deletion frees names and aliases


def test_phone_number_as_username(make_app):
    app = make_app(UsernameAttributes=["phone_number"], AutoVerifiedAttributes=["phone_number"])
    out = app.sign_up("+15555550160")
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "SMS"
    sub = out["UserSub"]
    user = app.get("+15555550160")
    assert user["Username"] == sub
    assert app.attrs(sub)["phone_number"] == "+15555550160"
    expect_error("InvalidParameterException", app.sign_up, "yusuf")
    app.public.confirm_sign_up(ClientId=app.client_id, Username="+15555550160", ConfirmationCode=app.code(sub))
    assert app.status("+15555550160") == "CONFIRMED"


def test_deleting_a_user_frees_email_username(make_app):
    app = make_app(UsernameAttributes=["email"])
    first = app.sign_up("zed@example.com")["UserSub"]
    app.idp.admin_delete_user(UserPoolId=app.pool_id, Username="zed@example.com")
    second = app.sign_up("zed@example.com")["UserSub"]
    assert second != first
    assert app.get("zed@example.com")["Username"] == second


def test_deleting_a_user_frees_alias(make_app):
    app = make_app(AliasAttributes=["email"])
    app.create_user("amel", attributes={"email": "amel@example.com", "email_verified": "true"})
    app.idp.admin_delete_user(UserPoolId=app.pool_id, Username="amel")
    expect_error("UserNotFoundException", app.get, "amel@example.com")
    app.create_user("bart", attributes={"email": "amel@example.com", "email_verified": "true"})
    assert app.get("amel@example.com")["Username"] == "bart"


def test_group_role_arn_must_be_an_arn(make_app):
    app = make_app()
    expect_error(
        "InvalidParameterException",
        app.idp.create_group,
        UserPoolId=app.pool_id,
        GroupName="g",
        RoleArn="not-an-arn-at-all-really",
    )
    expect_error("ResourceNotFoundException", app.idp.get_group, UserPoolId=app.pool_id, GroupName="g")
