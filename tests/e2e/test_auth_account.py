"""The operations a signed-in user performs with the access token: GetUser, ChangePassword,
UpdateUserAttributes (with re-verification and AttributesRequireVerificationBeforeUpdate),
DeleteUserAttributes, GetUserAttributeVerificationCode, VerifyUserAttribute, DeleteUser.
Codes come from the development outbox (GET /admin/outbox)."""

from __future__ import annotations

import botocore.exceptions
import pytest

from auth_support import (  # noqa: F401  (fixtures)
    INCORRECT,
    NEW_PASSWORD,
    WRONG_PASSWORD,
    add_client,
    auth_app,
    make_auth_app,
)
from helpers import PASSWORD, expect_error, unique


def signed_in(app, attributes=None, verified=True):
    user = unique("acct")
    attrs = {"email": f"{user}@example.com"} if attributes is None else attributes
    if verified:
        app.verified_user(user, attrs)
    else:
        app.user(user, attrs)
    return user, app.sign_in(user)


def wrong_code(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


# --------------------------------------------------------------------------
# GetUser / DeleteUser


def test_get_user(auth_app):
    user, tokens = signed_in(auth_app)
    resp = auth_app.get_user(tokens["AccessToken"])
    assert resp["Username"] == user
    attrs = {a["Name"]: a["Value"] for a in resp["UserAttributes"]}
    assert resp["UserAttributes"][0]["Name"] == "sub"
    assert attrs["email"] == f"{user}@example.com"
    assert attrs["email_verified"] == "true"  # a string in the API, a boolean in the token
    assert attrs["sub"] == auth_app.verify_access(tokens["AccessToken"])["sub"]


def test_delete_user(auth_app):
    user, tokens = signed_in(auth_app)
    resp = auth_app.public.delete_user(AccessToken=tokens["AccessToken"])
    resp.pop("ResponseMetadata")
    assert resp == {}
    expect_error("UserNotFoundException", auth_app.get, user)
    # The client leaves PreventUserExistenceErrors out, which means LEGACY: the user is gone.
    expect_error("UserNotFoundException", auth_app.initiate, user, message="User does not exist.")
    err = expect_error("NotAuthorizedException", auth_app.refresh, tokens["RefreshToken"])
    assert err["Message"]
    # the user name is free again
    auth_app.user(user)
    assert auth_app.sign_in(user)["AccessToken"]


def test_deleted_users_tokens_do_not_reach_a_new_user_of_the_same_name(auth_app):
    user, tokens = signed_in(auth_app)
    old_sub = auth_app.attrs(user)["sub"]
    auth_app.public.delete_user(AccessToken=tokens["AccessToken"])
    auth_app.user(user)
    assert auth_app.attrs(user)["sub"] != old_sub
    try:
        resp = auth_app.get_user(tokens["AccessToken"])
    except botocore.exceptions.ClientError:
        return
    raise AssertionError(f"the deleted user's access token reads the new user: {resp}")


# --------------------------------------------------------------------------
# ChangePassword


def test_change_password(auth_app):
    user, tokens = signed_in(auth_app)
    resp = auth_app.public.change_password(
        AccessToken=tokens["AccessToken"], PreviousPassword=PASSWORD, ProposedPassword=NEW_PASSWORD
    )
    resp.pop("ResponseMetadata")
    assert resp == {}
    expect_error("NotAuthorizedException", auth_app.initiate, user, PASSWORD, message=INCORRECT)
    assert auth_app.sign_in(user, NEW_PASSWORD)["AccessToken"]
    # the token used for the change still works (Cognito does not revoke on ChangePassword)
    assert auth_app.get_user(tokens["AccessToken"])["Username"] == user


def test_change_password_wrong_previous(auth_app):
    user, tokens = signed_in(auth_app)
    expect_error(
        "NotAuthorizedException",
        auth_app.public.change_password,
        AccessToken=tokens["AccessToken"],
        PreviousPassword=WRONG_PASSWORD,
        ProposedPassword=NEW_PASSWORD,
        message=INCORRECT,
    )
    assert auth_app.sign_in(user, PASSWORD)["AccessToken"]


@pytest.mark.parametrize(
    "proposed, rule",
    [
        ("Sh0rt!", "Password not long enough"),
        ("nouppercase1!", "Password must have uppercase characters"),
        ("NOLOWERCASE1!", "Password must have lowercase characters"),
        ("NoNumbers!!x", "Password must have numeric characters"),
        ("NoSymbols123x", "Password must have symbol characters"),
    ],
)
def test_change_password_policy(auth_app, proposed, rule):
    user, tokens = signed_in(auth_app)
    err = expect_error(
        "InvalidPasswordException",
        auth_app.public.change_password,
        AccessToken=tokens["AccessToken"],
        PreviousPassword=PASSWORD,
        ProposedPassword=proposed,
    )
    assert err["Message"].startswith("Password does not conform to policy: "), err
    assert rule in err["Message"], err
    assert auth_app.sign_in(user, PASSWORD)["AccessToken"]


# --------------------------------------------------------------------------
# UpdateUserAttributes / DeleteUserAttributes


def test_update_plain_attributes(auth_app):
    user, tokens = signed_in(auth_app)
    resp = auth_app.public.update_user_attributes(
        AccessToken=tokens["AccessToken"],
        UserAttributes=[{"Name": "given_name", "Value": "Grace"}, {"Name": "family_name", "Value": "Hopper"}],
    )
    assert resp.get("CodeDeliveryDetailsList", []) == []
    attrs = auth_app.user_attrs(tokens["AccessToken"])
    assert attrs["given_name"] == "Grace" and attrs["family_name"] == "Hopper"
    assert attrs["email_verified"] == "true"


def test_update_email_requires_verification(auth_app):
    user, tokens = signed_in(auth_app)
    new_email = f"new-{user}@example.com"
    before = len(auth_app.outbox(user))
    resp = auth_app.public.update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "email", "Value": new_email}]
    )
    details = resp["CodeDeliveryDetailsList"]
    assert len(details) == 1, details
    assert details[0]["DeliveryMedium"] == "EMAIL"
    assert details[0]["AttributeName"] == "email"
    assert details[0]["Destination"] != new_email and "***" in details[0]["Destination"], details
    attrs = auth_app.attrs(user)
    assert attrs["email"] == new_email
    assert attrs["email_verified"] == "false"
    messages = auth_app.outbox(user)
    assert len(messages) == before + 1, messages
    code = auth_app.code(user)

    expect_error(
        "CodeMismatchException",
        auth_app.public.verify_user_attribute,
        AccessToken=tokens["AccessToken"],
        AttributeName="email",
        Code=wrong_code(code),
    )
    assert auth_app.attrs(user)["email_verified"] == "false"
    resp = auth_app.public.verify_user_attribute(AccessToken=tokens["AccessToken"], AttributeName="email", Code=code)
    resp.pop("ResponseMetadata")
    assert resp == {}
    assert auth_app.attrs(user)["email_verified"] == "true"
    # the next tokens carry the new, verified address
    claims = auth_app.verify_id(auth_app.sign_in(user)["IdToken"])
    assert claims["email"] == new_email and claims["email_verified"] is True


def test_update_email_without_auto_verification_sends_nothing(make_auth_app):
    app = make_auth_app()  # no AutoVerifiedAttributes
    user, tokens = signed_in(app)
    resp = app.public.update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "email", "Value": f"other-{user}@example.com"}]
    )
    assert resp.get("CodeDeliveryDetailsList", []) == []
    assert app.attrs(user)["email_verified"] == "false"
    assert app.outbox(user) == []


def test_attributes_require_verification_before_update(make_auth_app):
    app = make_auth_app(
        AutoVerifiedAttributes=["email"],
        UserAttributeUpdateSettings={"AttributesRequireVerificationBeforeUpdate": ["email"]},
    )
    user, tokens = signed_in(app)
    old_email = f"{user}@example.com"
    new_email = f"new-{user}@example.com"
    resp = app.public.update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "email", "Value": new_email}]
    )
    assert resp["CodeDeliveryDetailsList"][0]["AttributeName"] == "email"
    # the old, verified address stays in force until the new one is verified
    attrs = app.attrs(user)
    assert attrs["email"] == old_email
    assert attrs["email_verified"] == "true"
    claims = app.verify_id(app.sign_in(user)["IdToken"])
    assert claims["email"] == old_email and claims["email_verified"] is True
    # the code went to the new address
    message = app.outbox(user)[-1]
    assert new_email in str(message), message
    app.public.verify_user_attribute(AccessToken=tokens["AccessToken"], AttributeName="email", Code=app.code(user))
    attrs = app.attrs(user)
    assert attrs["email"] == new_email
    assert attrs["email_verified"] == "true"


def test_client_write_attributes(make_auth_app):
    app = make_auth_app(AutoVerifiedAttributes=["email"])
    writer = add_client(app, {"WriteAttributes": ["given_name"]})
    user, _ = signed_in(app)
    tokens = writer.sign_in(user)
    writer.public.update_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributes=[{"Name": "given_name", "Value": "Ok"}]
    )
    expect_error(
        "NotAuthorizedException",
        writer.public.update_user_attributes,
        AccessToken=tokens["AccessToken"],
        UserAttributes=[{"Name": "family_name", "Value": "Nope"}],
    )
    attrs = app.attrs(user)
    assert attrs["given_name"] == "Ok"
    assert "family_name" not in attrs


def test_update_unknown_attribute(auth_app):
    user, tokens = signed_in(auth_app)
    err = expect_error(
        "InvalidParameterException",
        auth_app.public.update_user_attributes,
        AccessToken=tokens["AccessToken"],
        UserAttributes=[{"Name": "custom:nope", "Value": "x"}],
    )
    assert err["Message"]


def test_delete_user_attributes(auth_app):
    user, tokens = signed_in(auth_app, {"email": "d@example.com", "given_name": "Ada", "family_name": "L"})
    resp = auth_app.public.delete_user_attributes(
        AccessToken=tokens["AccessToken"], UserAttributeNames=["given_name", "family_name"]
    )
    resp.pop("ResponseMetadata")
    assert resp == {}
    attrs = auth_app.attrs(user)
    assert "given_name" not in attrs and "family_name" not in attrs
    assert attrs["email"] == "d@example.com"


# --------------------------------------------------------------------------
# GetUserAttributeVerificationCode / VerifyUserAttribute


def test_get_user_attribute_verification_code(auth_app):
    user, tokens = signed_in(auth_app, verified=False)
    assert auth_app.attrs(user).get("email_verified", "false") == "false"
    resp = auth_app.public.get_user_attribute_verification_code(AccessToken=tokens["AccessToken"], AttributeName="email")
    details = resp["CodeDeliveryDetails"]
    assert details["DeliveryMedium"] == "EMAIL" and details["AttributeName"] == "email"
    code = auth_app.code(user)
    expect_error(
        "CodeMismatchException",
        auth_app.public.verify_user_attribute,
        AccessToken=tokens["AccessToken"],
        AttributeName="email",
        Code=wrong_code(code),
        message="Invalid verification code provided, please try again.",
    )
    auth_app.public.verify_user_attribute(AccessToken=tokens["AccessToken"], AttributeName="email", Code=code)
    assert auth_app.attrs(user)["email_verified"] == "true"


def test_verification_code_is_bound_to_its_user(auth_app):
    alice, a = signed_in(auth_app, verified=False)
    bob, b = signed_in(auth_app, verified=False)
    auth_app.public.get_user_attribute_verification_code(AccessToken=a["AccessToken"], AttributeName="email")
    auth_app.public.get_user_attribute_verification_code(AccessToken=b["AccessToken"], AttributeName="email")
    alice_code = auth_app.code(alice)
    bob_code = auth_app.code(bob)
    if alice_code != bob_code:
        expect_error(
            "CodeMismatchException",
            auth_app.public.verify_user_attribute,
            AccessToken=b["AccessToken"],
            AttributeName="email",
            Code=alice_code,
        )
    auth_app.public.verify_user_attribute(AccessToken=a["AccessToken"], AttributeName="email", Code=alice_code)
    assert auth_app.attrs(alice)["email_verified"] == "true"
