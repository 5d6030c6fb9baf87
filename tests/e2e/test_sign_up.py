"""Sign-up and confirmation through boto3: SignUp, ConfirmSignUp, ResendConfirmationCode,
AdminConfirmSignUp; codes read from the development outbox; username and alias attributes,
case sensitivity, SECRET_HASH, PreventUserExistenceErrors."""

from __future__ import annotations

import re
import uuid

import pytest
from botocore.exceptions import ClientError

from helpers import (
    PASSWORD,
    UUID_RE,
    attribute_dict,
    attribute_list,
    expect_error,
    secret_hash,
)

USER_DOES_NOT_EXIST = "User does not exist."


def assert_uuid4(value: str) -> None:
    assert UUID_RE.match(value) and value == value.lower(), f"not a lower-case UUID: {value!r}"
    assert uuid.UUID(value).version == 4, f"not a UUID v4: {value!r}"


# --------------------------------------------------------------------------
# SignUp


def test_sign_up_returns_sub_and_email_delivery(app):
    out = app.sign_up("alice", attributes={"email": "alice@example.com", "name": "Alice"})
    assert out["UserConfirmed"] is False
    assert_uuid4(out["UserSub"])
    assert out["CodeDeliveryDetails"] == {
        "Destination": "a***@e***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }

    user = app.get("alice")
    assert user["Username"] == "alice"
    assert user["UserStatus"] == "UNCONFIRMED"
    assert user["Enabled"] is True
    assert user["UserAttributes"][0] == {"Name": "sub", "Value": out["UserSub"]}
    attrs = attribute_dict(user["UserAttributes"])
    assert attrs["email"] == "alice@example.com"
    assert attrs["name"] == "Alice"
    assert attrs.get("email_verified", "false") == "false"
    assert user["UserCreateDate"] <= user["UserLastModifiedDate"]


def test_sign_up_sends_code_to_outbox(app):
    app.sign_up("bob", attributes={"email": "bob@example.com"})
    messages = app.outbox("bob")
    assert len(messages) == 1, messages
    msg = messages[0]
    assert msg["pool_id"] == app.pool_id
    assert msg["username"] == "bob"
    assert msg["channel"] == "EMAIL"
    assert msg["destination"] == "bob@example.com"
    assert re.search(r"\b\d{6}\b", msg["body"]), msg
    assert isinstance(msg["time"], (int, float)), msg
    for key in ("subject", "purpose"):
        assert key in msg, msg


def test_sign_up_phone_is_delivered_by_sms(make_app):
    app = make_app(AutoVerifiedAttributes=["phone_number"])
    out = app.sign_up("carol", attributes={"phone_number": "+15555550123"})
    assert out["CodeDeliveryDetails"] == {
        "Destination": "+*******0123",
        "DeliveryMedium": "SMS",
        "AttributeName": "phone_number",
    }
    msg = app.outbox("carol")[-1]
    assert msg["channel"] == "SMS"
    assert msg["destination"] == "+15555550123"
    code = re.search(r"\b\d{6}\b", msg["body"]).group(0)
    app.public.confirm_sign_up(ClientId=app.client_id, Username="carol", ConfirmationCode=code)
    attrs = app.attrs("carol")
    assert app.status("carol") == "CONFIRMED"
    assert attrs["phone_number_verified"] == "true"


def test_sign_up_without_auto_verification_sends_nothing(make_app):
    app = make_app()
    out = app.sign_up("dave", attributes={"email": "dave@example.com"})
    assert out["UserConfirmed"] is False
    assert "CodeDeliveryDetails" not in out
    assert app.outbox("dave") == []
    assert app.status("dave") == "UNCONFIRMED"


def test_sign_up_existing_username(app):
    app.sign_up("erin", attributes={"email": "erin@example.com"})
    expect_error(
        "UsernameExistsException",
        app.sign_up,
        "erin",
        attributes={"email": "other@example.com"},
        message="User already exists",
    )
    assert app.usernames() == ["erin"]


@pytest.mark.parametrize(
    "password,rule",
    [
        ("Sh0rt!", "Password not long enough"),
        ("passw0rd!x", "Password must have uppercase characters"),
        ("PASSW0RD!X", "Password must have lowercase characters"),
        ("Password!x", "Password must have numeric characters"),
        ("Passw0rdxx", "Password must have symbol characters"),
    ],
)
def test_sign_up_password_policy_creates_nothing(app, password, rule):
    expect_error(
        "InvalidPasswordException",
        app.sign_up,
        "frank",
        password=password,
        attributes={"email": "frank@example.com"},
        message=f"Password did not conform with policy: {rule}",
    )
    assert app.idp.list_users(UserPoolId=app.pool_id)["Users"] == []
    assert app.outbox("frank") == []


def test_sign_up_custom_password_policy(make_app):
    app = make_app(
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 12,
                "RequireUppercase": False,
                "RequireLowercase": True,
                "RequireNumbers": False,
                "RequireSymbols": False,
            }
        }
    )
    expect_error(
        "InvalidPasswordException",
        app.sign_up,
        "gina",
        password="abcdefghijk",
        contains="Password not long enough",
    )
    app.sign_up("gina", password="abcdefghijkl")
    assert app.status("gina") == "UNCONFIRMED"


def test_sign_up_unknown_attribute(app):
    expect_error(
        "InvalidParameterException",
        app.sign_up,
        "hank",
        attributes={"email": "hank@example.com", "custom:nope": "x"},
        contains="Attribute does not exist in the schema.",
    )
    assert app.usernames() == []


def test_sign_up_missing_required_attribute(make_app):
    app = make_app(
        Schema=[{"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True}],
    )
    expect_error(
        "InvalidParameterException",
        app.sign_up,
        "ivy",
        attributes={"name": "Ivy"},
        contains="The attribute is required",
    )
    assert app.usernames() == []
    app.sign_up("ivy", attributes={"email": "ivy@example.com"})
    assert app.usernames() == ["ivy"]


CUSTOM_SCHEMA = [
    {
        "Name": "tenant",
        "AttributeDataType": "String",
        "Mutable": True,
        "StringAttributeConstraints": {"MinLength": "2", "MaxLength": "5"},
    },
    {
        "Name": "age",
        "AttributeDataType": "Number",
        "Mutable": True,
        "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "150"},
    },
]


@pytest.mark.parametrize(
    "name,value",
    [
        ("custom:tenant", "toolong"),
        ("custom:tenant", "x"),
        ("custom:age", "151"),
        ("custom:age", "-1"),
        ("custom:age", "abc"),
    ],
)
def test_sign_up_custom_attribute_bounds(make_app, name, value):
    app = make_app(Schema=CUSTOM_SCHEMA)
    expect_error("InvalidParameterException", app.sign_up, "jack", attributes={name: value})
    assert app.usernames() == []


def test_sign_up_custom_attributes_stored(make_app):
    app = make_app(Schema=CUSTOM_SCHEMA)
    app.sign_up("kate", attributes={"custom:tenant": "acme", "custom:age": "150"})
    attrs = app.attrs("kate")
    assert attrs["custom:tenant"] == "acme"
    assert attrs["custom:age"] == "150"


@pytest.mark.parametrize(
    "username,password,attributes",
    [
        ("ws", " " + PASSWORD, {}),
        ("ws", PASSWORD + " ", {}),
        ("a b", PASSWORD, {}),
        ("x" * 129, PASSWORD, {}),
        ("em", PASSWORD, {"email": "not-an-email"}),
        ("ph", PASSWORD, {"phone_number": "5555550123"}),
    ],
    ids=["password-leading-space", "password-trailing-space", "username-space", "username-too-long",
         "bad-email", "bad-phone"],
)
def test_sign_up_invalid_input(app, username, password, attributes):
    expect_error("InvalidParameterException", app.sign_up, username, password=password, attributes=attributes)
    assert app.usernames() == []


def test_sign_up_respects_client_write_attributes(make_app):
    """Cognito: NotAuthorizedException "A client attempted to write unauthorized attribute" for an
    attribute outside the app client's WriteAttributes (e.g. aws/aws-sdk-js#1319, #1084)."""
    app = make_app(client={"WriteAttributes": ["email"]})
    expect_error(
        "NotAuthorizedException",
        app.sign_up,
        "wanda",
        attributes={"email": "wanda@example.com", "name": "Wanda"},
        message="A client attempted to write unauthorized attribute",
    )
    assert app.usernames() == []
    app.sign_up("wanda", attributes={"email": "wanda@example.com"})
    assert app.usernames() == ["wanda"]


def test_sign_up_cannot_set_email_verified(app):
    with pytest.raises(ClientError) as info:
        app.sign_up("vera", attributes={"email": "vera@example.com", "email_verified": "true"})
    assert info.value.response["Error"]["Code"] in ("NotAuthorizedException", "InvalidParameterException")
    assert app.usernames() == []


def test_sign_up_admin_create_only_pool(make_app):
    app = make_app(AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})
    expect_error("NotAuthorizedException", app.sign_up, "leo", attributes={"email": "leo@example.com"})
    assert app.usernames() == []


def test_sign_up_unknown_client(app):
    expect_error(
        "ResourceNotFoundException",
        app.public.sign_up,
        ClientId="0123456789abcdefghijklmnop",
        Username="mia",
        Password=PASSWORD,
    )


# --------------------------------------------------------------------------
# ConfirmSignUp, ResendConfirmationCode, AdminConfirmSignUp


def test_confirm_sign_up_with_code(app):
    app.sign_up("nina", attributes={"email": "nina@example.com"})
    code = app.code("nina")
    assert re.fullmatch(r"\d{6}", code)
    app.public.confirm_sign_up(ClientId=app.client_id, Username="nina", ConfirmationCode=code)
    user = app.get("nina")
    assert user["UserStatus"] == "CONFIRMED"
    assert attribute_dict(user["UserAttributes"])["email_verified"] == "true"


def test_confirm_sign_up_twice(app):
    app.sign_up("olga", attributes={"email": "olga@example.com"})
    code = app.code("olga")
    app.public.confirm_sign_up(ClientId=app.client_id, Username="olga", ConfirmationCode=code)
    expect_error(
        "NotAuthorizedException",
        app.public.confirm_sign_up,
        ClientId=app.client_id,
        Username="olga",
        ConfirmationCode=code,
        message="User cannot be confirmed. Current status is CONFIRMED",
    )


def test_confirm_sign_up_wrong_code(app):
    app.sign_up("pete", attributes={"email": "pete@example.com"})
    code = app.code("pete")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    expect_error(
        "CodeMismatchException",
        app.public.confirm_sign_up,
        ClientId=app.client_id,
        Username="pete",
        ConfirmationCode=wrong,
        message="Invalid verification code provided, please try again.",
    )
    assert app.status("pete") == "UNCONFIRMED"
    app.public.confirm_sign_up(ClientId=app.client_id, Username="pete", ConfirmationCode=code)
    assert app.status("pete") == "CONFIRMED"


def test_confirm_sign_up_too_many_failed_attempts(app):
    app.sign_up("quin", attributes={"email": "quin@example.com"})
    code = app.code("quin")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    confirm = dict(ClientId=app.client_id, Username="quin", ConfirmationCode=wrong)
    for _ in range(5):
        expect_error("CodeMismatchException", app.public.confirm_sign_up, **confirm)
    expect_error(
        "LimitExceededException",
        app.public.confirm_sign_up,
        ClientId=app.client_id,
        Username="quin",
        ConfirmationCode=code,
        message="Attempt limit exceeded, please try after some time.",
    )


def test_confirm_sign_up_without_a_code_sent(make_app):
    app = make_app()  # no auto-verified attribute: SignUp sends no code
    app.sign_up("rosa", attributes={"email": "rosa@example.com"})
    expect_error(
        "ExpiredCodeException",
        app.public.confirm_sign_up,
        ClientId=app.client_id,
        Username="rosa",
        ConfirmationCode="123456",
        message="Invalid code provided, please request a code again.",
    )
    assert app.status("rosa") == "UNCONFIRMED"


def test_resend_confirmation_code(app):
    app.sign_up("sam", attributes={"email": "sam@example.com"})
    out = app.public.resend_confirmation_code(ClientId=app.client_id, Username="sam")
    assert out["CodeDeliveryDetails"] == {
        "Destination": "s***@e***",
        "DeliveryMedium": "EMAIL",
        "AttributeName": "email",
    }
    messages = app.outbox("sam")
    assert len(messages) == 2, messages
    code = re.search(r"\b\d{6}\b", messages[-1]["body"]).group(0)
    app.public.confirm_sign_up(ClientId=app.client_id, Username="sam", ConfirmationCode=code)
    assert app.status("sam") == "CONFIRMED"


def test_admin_confirm_sign_up(app):
    app.sign_up("tina", attributes={"email": "tina@example.com"})
    app.idp.admin_confirm_sign_up(UserPoolId=app.pool_id, Username="tina")
    assert app.status("tina") == "CONFIRMED"
    expect_error(
        "NotAuthorizedException",
        app.idp.admin_confirm_sign_up,
        UserPoolId=app.pool_id,
        Username="tina",
        message="User cannot be confirmed. Current status is CONFIRMED",
    )
    expect_error(
        "UserNotFoundException",
        app.idp.admin_confirm_sign_up,
        UserPoolId=app.pool_id,
        Username="nobody",
        message=USER_DOES_NOT_EXIST,
    )


# --------------------------------------------------------------------------
# PreventUserExistenceErrors


LEGACY_NOT_FOUND = "Username/client id combination not found."


def test_unknown_user_legacy_errors(make_app):
    app = make_app(AutoVerifiedAttributes=["email"], client={"PreventUserExistenceErrors": "LEGACY"})
    expect_error(
        "UserNotFoundException",
        app.public.confirm_sign_up,
        ClientId=app.client_id,
        Username="ghost",
        ConfirmationCode="123456",
        message=LEGACY_NOT_FOUND,
    )
    expect_error(
        "UserNotFoundException",
        app.public.resend_confirmation_code,
        ClientId=app.client_id,
        Username="ghost",
        message=LEGACY_NOT_FOUND,
    )


def test_unknown_user_prevented_existence_errors(make_app):
    app = make_app(AutoVerifiedAttributes=["email"], client={"PreventUserExistenceErrors": "ENABLED"})
    out = app.public.resend_confirmation_code(ClientId=app.client_id, Username="ghost")
    details = out["CodeDeliveryDetails"]
    assert details["DeliveryMedium"] in ("EMAIL", "SMS"), details
    assert details.get("Destination"), details
    expect_error(
        "CodeMismatchException",
        app.public.confirm_sign_up,
        ClientId=app.client_id,
        Username="ghost",
        ConfirmationCode="123456",
    )
    assert app.usernames() == []
    assert app.outbox("ghost") == []  # the delivery is only simulated


def test_resend_to_confirmed_user(app):
    app.confirmed_user("walt", attributes={"email": "walt@example.com"})
    expect_error(
        "InvalidParameterException",
        app.public.resend_confirmation_code,
        ClientId=app.client_id,
        Username="walt",
        message="User is already confirmed.",
    )


# --------------------------------------------------------------------------
# SECRET_HASH


def test_secret_hash(make_app):
    app = make_app(AutoVerifiedAttributes=["email"], client={"GenerateSecret": True})
    cid, secret = app.client_id, app.client_secret
    assert secret
    attrs = attribute_list({"email": "uma@example.com"})
    expect_error(
        "NotAuthorizedException",
        app.public.sign_up,
        ClientId=cid,
        Username="uma",
        Password=PASSWORD,
        UserAttributes=attrs,
        message=f"Client {cid} is configured with secret but SECRET_HASH was not received",
    )
    expect_error(
        "NotAuthorizedException",
        app.public.sign_up,
        ClientId=cid,
        Username="uma",
        Password=PASSWORD,
        UserAttributes=attrs,
        SecretHash=secret_hash(secret, "someone-else", cid),
        message=f"Unable to verify secret hash for client {cid}",
    )
    assert app.usernames() == []

    app.public.sign_up(
        ClientId=cid,
        Username="uma",
        Password=PASSWORD,
        UserAttributes=attrs,
        SecretHash=secret_hash(secret, "uma", cid),
    )
    code = app.code("uma")
    expect_error(
        "NotAuthorizedException",
        app.public.confirm_sign_up,
        ClientId=cid,
        Username="uma",
        ConfirmationCode=code,
    )
    app.public.confirm_sign_up(
        ClientId=cid, Username="uma", ConfirmationCode=code, SecretHash=secret_hash(secret, "uma", cid)
    )
    assert app.status("uma") == "CONFIRMED"


def test_secret_hash_for_client_without_secret(app):
    expect_error(
        "InvalidParameterException",
        app.public.sign_up,
        ClientId=app.client_id,
        Username="vic",
        Password=PASSWORD,
        SecretHash=secret_hash("not-a-secret-at-all-000000", "vic", app.client_id),
        message=f"App client {app.client_id} is not configured for secret but secret hash was received",
    )
    assert app.usernames() == []


# --------------------------------------------------------------------------
# e-mail as username (UsernameAttributes)


@pytest.fixture
def email_app(make_app):
    return make_app(UsernameAttributes=["email"], AutoVerifiedAttributes=["email"])


def test_email_username_stores_uuid(email_app):
    app = email_app
    out = app.sign_up("wendy@example.com")
    sub = out["UserSub"]
    user = app.get("wendy@example.com")
    assert user["Username"] == sub
    assert_uuid4(user["Username"])
    attrs = attribute_dict(user["UserAttributes"])
    assert attrs["email"] == "wendy@example.com"
    assert attrs["sub"] == sub
    assert app.get(sub)["Username"] == sub

    # the outbox knows the user by the internal username
    code = app.code(sub)
    app.public.confirm_sign_up(ClientId=app.client_id, Username="wendy@example.com", ConfirmationCode=code)
    assert app.status("wendy@example.com") == "CONFIRMED"
    listed = app.idp.list_users(UserPoolId=app.pool_id, Filter='email = "wendy@example.com"')["Users"]
    assert [u["Username"] for u in listed] == [sub]


def test_email_username_must_be_an_email(email_app):
    expect_error("InvalidParameterException", email_app.sign_up, "xavier")
    assert email_app.usernames() == []


def test_email_username_taken(email_app):
    email_app.sign_up("yara@example.com")
    expect_error(
        "UsernameExistsException",
        email_app.sign_up,
        "yara@example.com",
        message="An account with the given email already exists.",
    )
    assert len(email_app.usernames()) == 1


# --------------------------------------------------------------------------
# e-mail as alias (AliasAttributes)


@pytest.fixture
def alias_app(make_app):
    return make_app(AliasAttributes=["email"], AutoVerifiedAttributes=["email"])


def confirm_with_code(app, username, **kwargs):
    app.public.confirm_sign_up(
        ClientId=app.client_id, Username=username, ConfirmationCode=app.code(username), **kwargs
    )


def test_alias_username_must_not_be_an_email(alias_app):
    expect_error(
        "InvalidParameterException",
        alias_app.sign_up,
        "zoe@example.com",
        attributes={"email": "zoe@example.com"},
    )
    assert alias_app.usernames() == []


def test_alias_finds_user_after_confirmation(alias_app):
    app = alias_app
    app.sign_up("zoe", attributes={"email": "zoe@example.com"})
    expect_error("UserNotFoundException", app.get, "zoe@example.com")
    confirm_with_code(app, "zoe")
    assert app.get("zoe@example.com")["Username"] == "zoe"


def test_alias_conflict_on_confirmation(alias_app):
    app = alias_app
    app.sign_up("amy", attributes={"email": "shared@example.com"})
    confirm_with_code(app, "amy")
    app.sign_up("ben", attributes={"email": "shared@example.com"})
    code = app.code("ben")
    expect_error(
        "AliasExistsException",
        app.public.confirm_sign_up,
        ClientId=app.client_id,
        Username="ben",
        ConfirmationCode=code,
    )
    assert app.status("ben") == "UNCONFIRMED"
    assert app.get("shared@example.com")["Username"] == "amy"

    app.public.confirm_sign_up(
        ClientId=app.client_id, Username="ben", ConfirmationCode=code, ForceAliasCreation=True
    )
    assert app.status("ben") == "CONFIRMED"
    assert app.get("shared@example.com")["Username"] == "ben"
    assert app.attrs("amy")["email_verified"] == "false"
    assert app.attrs("ben")["email_verified"] == "true"


def test_alias_conflict_on_admin_create_user(alias_app):
    app = alias_app
    app.sign_up("cleo", attributes={"email": "cleo@example.com"})
    confirm_with_code(app, "cleo")
    verified = {"email": "cleo@example.com", "email_verified": "true"}
    expect_error("AliasExistsException", app.create_user, "dora", attributes=verified)
    expect_error("UserNotFoundException", app.get, "dora")
    app.create_user("dora", attributes=verified, ForceAliasCreation=True)
    assert app.get("cleo@example.com")["Username"] == "dora"
    assert app.attrs("cleo")["email_verified"] == "false"


# --------------------------------------------------------------------------
# case sensitivity of usernames


def test_case_insensitive_pool(make_app):
    app = make_app(UsernameConfiguration={"CaseSensitive": False})
    app.sign_up("Alice")
    assert app.get("alice")["UserStatus"] == "UNCONFIRMED"
    assert app.get("ALICE")["UserAttributes"][0]["Name"] == "sub"
    expect_error("UsernameExistsException", app.sign_up, "alice")
    app.idp.admin_confirm_sign_up(UserPoolId=app.pool_id, Username="aLiCe")
    assert app.status("Alice") == "CONFIRMED"


def test_case_sensitive_by_default(make_app):
    app = make_app()
    app.sign_up("Alice")
    expect_error("UserNotFoundException", app.get, "alice", message=USER_DOES_NOT_EXIST)
    app.sign_up("alice")
    assert sorted(app.usernames()) == ["Alice", "alice"]
    assert app.get("Alice")["UserAttributes"][0] != app.get("alice")["UserAttributes"][0]
