"""User attributes through boto3: AdminUpdateUserAttributes, AdminDeleteUserAttributes,
AddCustomAttributes; schema validation, verification state, alias uniqueness."""

from __future__ import annotations

import pytest

from helpers import attribute_list, expect_error

SCHEMA = [
    {
        "Name": "tenant",
        "AttributeDataType": "String",
        "Mutable": True,
        "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "8"},
    },
    {
        "Name": "age",
        "AttributeDataType": "Number",
        "Mutable": True,
        "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "150"},
    },
    {"Name": "badge", "AttributeDataType": "String", "Mutable": False},
]


@pytest.fixture
def sapp(make_app):
    return make_app(AutoVerifiedAttributes=["email"], Schema=SCHEMA)


def update(app, username: str, attributes: dict) -> dict:
    return app.idp.admin_update_user_attributes(
        UserPoolId=app.pool_id, Username=username, UserAttributes=attribute_list(attributes)
    )


def verified(app, username: str, **attrs) -> None:
    app.create_user(
        username,
        attributes={
            "email": f"{username}@example.com",
            "email_verified": "true",
            "phone_number": "+15555550100",
            "phone_number_verified": "true",
            **attrs,
        },
    )


# --------------------------------------------------------------------------
# AdminUpdateUserAttributes


def test_update_attributes(sapp):
    sapp.create_user("ann")
    update(sapp, "ann", {"name": "Ann Smith", "given_name": "Ann", "custom:tenant": "acme", "custom:age": "42"})
    user = sapp.get("ann")
    assert user["UserAttributes"][0]["Name"] == "sub"
    attrs = sapp.attrs("ann")
    assert attrs["name"] == "Ann Smith"
    assert attrs["given_name"] == "Ann"
    assert attrs["custom:tenant"] == "acme"
    assert attrs["custom:age"] == "42"
    update(sapp, "ann", {"name": "Ann Jones"})
    assert sapp.attrs("ann")["name"] == "Ann Jones"
    assert sapp.attrs("ann")["custom:tenant"] == "acme"


def test_changed_email_must_be_verified_again(sapp):
    verified(sapp, "bob")
    update(sapp, "bob", {"email": "bob.new@example.com"})
    attrs = sapp.attrs("bob")
    assert attrs["email"] == "bob.new@example.com"
    assert attrs["email_verified"] == "false"
    assert attrs["phone_number_verified"] == "true"


def test_changed_email_with_email_verified_stays_verified(sapp):
    verified(sapp, "cid")
    update(sapp, "cid", {"email": "cid.new@example.com", "email_verified": "true"})
    attrs = sapp.attrs("cid")
    assert attrs["email"] == "cid.new@example.com"
    assert attrs["email_verified"] == "true"


def test_changed_phone_must_be_verified_again(sapp):
    verified(sapp, "dee")
    update(sapp, "dee", {"phone_number": "+15555550199"})
    attrs = sapp.attrs("dee")
    assert attrs["phone_number"] == "+15555550199"
    assert attrs["phone_number_verified"] == "false"
    assert attrs["email_verified"] == "true"


@pytest.mark.parametrize(
    "bad",
    [
        {"custom:nope": "x"},
        {"custom:tenant": "much-too-long"},
        {"custom:age": "151"},
        {"custom:age": "many"},
        {"sub": "00000000-0000-4000-8000-000000000000"},
        {"custom:badge": "changed"},
    ],
    ids=["unknown", "string-too-long", "number-too-big", "not-a-number", "sub", "immutable"],
)
def test_bad_update_changes_nothing(sapp, bad):
    sapp.create_user("eve", attributes={"name": "Eve", "custom:badge": "gold", "custom:age": "30"})
    before = sapp.get("eve")
    expect_error("InvalidParameterException", update, sapp, "eve", {"name": "Changed", **bad})
    after = sapp.get("eve")
    assert after["UserAttributes"] == before["UserAttributes"]
    assert after["UserLastModifiedDate"] == before["UserLastModifiedDate"]


def test_unknown_attribute_message(sapp):
    sapp.create_user("fin")
    expect_error(
        "InvalidParameterException",
        update,
        sapp,
        "fin",
        {"custom:nope": "x"},
        contains="Attribute does not exist in the schema.",
    )


def test_update_alias_conflict_changes_nothing(make_app):
    app = make_app(AliasAttributes=["email"], AutoVerifiedAttributes=["email"])
    app.create_user("gus", attributes={"email": "gus@example.com", "email_verified": "true"})
    app.create_user("hal", attributes={"email": "hal@example.com", "email_verified": "true"})
    before = app.get("hal")
    expect_error(
        "AliasExistsException",
        update,
        app,
        "hal",
        {"email": "gus@example.com", "email_verified": "true", "name": "Hal"},
    )
    after = app.get("hal")
    assert after["UserAttributes"] == before["UserAttributes"]
    assert app.get("gus@example.com")["Username"] == "gus"
    assert app.get("hal@example.com")["Username"] == "hal"


def test_update_unverified_email_does_not_take_alias(make_app):
    app = make_app(AliasAttributes=["email"], AutoVerifiedAttributes=["email"])
    app.create_user("ida", attributes={"email": "ida@example.com", "email_verified": "true"})
    app.create_user("jay")
    # an unverified e-mail is no alias: no conflict, and it does not find the user
    update(app, "jay", {"email": "ida@example.com"})
    assert app.attrs("jay")["email_verified"] == "false"
    assert app.get("ida@example.com")["Username"] == "ida"


def test_verified_email_becomes_alias(make_app):
    app = make_app(AliasAttributes=["email"])
    app.create_user("kit")
    expect_error("UserNotFoundException", app.get, "kit@example.com")
    update(app, "kit", {"email": "kit@example.com", "email_verified": "true"})
    assert app.get("kit@example.com")["Username"] == "kit"


# --------------------------------------------------------------------------
# AdminDeleteUserAttributes


def test_delete_attributes(sapp):
    sapp.create_user("lia", attributes={"name": "Lia", "given_name": "L", "custom:tenant": "acme"})
    sapp.idp.admin_delete_user_attributes(
        UserPoolId=sapp.pool_id, Username="lia", UserAttributeNames=["name", "custom:tenant"]
    )
    attrs = sapp.attrs("lia")
    assert "name" not in attrs
    assert "custom:tenant" not in attrs
    assert attrs["given_name"] == "L"
    assert "sub" in attrs


def test_delete_required_attribute(make_app):
    app = make_app(
        Schema=[{"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True}]
    )
    app.create_user("max", attributes={"email": "max@example.com", "name": "Max"})
    expect_error(
        "InvalidParameterException",
        app.idp.admin_delete_user_attributes,
        UserPoolId=app.pool_id,
        Username="max",
        UserAttributeNames=["name", "email"],
    )
    attrs = app.attrs("max")
    assert attrs["email"] == "max@example.com"
    assert attrs["name"] == "Max"


def test_delete_sub_refused(sapp):
    sapp.create_user("ned")
    expect_error(
        "InvalidParameterException",
        sapp.idp.admin_delete_user_attributes,
        UserPoolId=sapp.pool_id,
        Username="ned",
        UserAttributeNames=["sub"],
    )
    assert "sub" in sapp.attrs("ned")


# --------------------------------------------------------------------------
# AddCustomAttributes


def schema_names(idp, pool_id: str) -> dict:
    pool = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
    return {a["Name"]: a for a in pool["SchemaAttributes"]}


def test_add_custom_attributes(make_app):
    app = make_app()
    app.create_user("ola")
    expect_error("InvalidParameterException", update, app, "ola", {"custom:plan": "gold"})

    app.idp.add_custom_attributes(
        UserPoolId=app.pool_id,
        CustomAttributes=[
            {
                "Name": "plan",
                "AttributeDataType": "String",
                "Mutable": True,
                "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "6"},
            },
            {
                "Name": "seats",
                "AttributeDataType": "Number",
                "Mutable": True,
                "NumberAttributeConstraints": {"MinValue": "1", "MaxValue": "10"},
            },
        ],
    )
    schema = schema_names(app.idp, app.pool_id)
    assert schema["custom:plan"]["AttributeDataType"] == "String"
    assert schema["custom:plan"]["StringAttributeConstraints"]["MaxLength"] == "6"
    assert schema["custom:seats"]["AttributeDataType"] == "Number"

    update(app, "ola", {"custom:plan": "gold", "custom:seats": "3"})
    attrs = app.attrs("ola")
    assert attrs["custom:plan"] == "gold"
    assert attrs["custom:seats"] == "3"
    expect_error("InvalidParameterException", update, app, "ola", {"custom:plan": "platinum"})
    expect_error("InvalidParameterException", update, app, "ola", {"custom:seats": "11"})


def test_add_existing_custom_attribute(make_app):
    app = make_app(Schema=[{"Name": "plan", "AttributeDataType": "String", "Mutable": True}])
    expect_error(
        "InvalidParameterException",
        app.idp.add_custom_attributes,
        UserPoolId=app.pool_id,
        CustomAttributes=[{"Name": "plan", "AttributeDataType": "String"}],
        message="custom:plan: Existing attribute already has name custom:plan.",
    )
    assert list(schema_names(app.idp, app.pool_id)).count("custom:plan") == 1


def test_add_custom_attributes_unknown_pool(idp):
    expect_error(
        "ResourceNotFoundException",
        idp.add_custom_attributes,
        UserPoolId="us-east-1_NoSuchPoo",
        CustomAttributes=[{"Name": "plan", "AttributeDataType": "String"}],
    )
