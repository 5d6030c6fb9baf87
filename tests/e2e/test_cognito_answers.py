"""Issue 11 §2, "exactly Cognito's answers": defaults, accepted values and messages that tessera
used to answer differently from Cognito. Each test names the evidence for Cognito's answer
(real output where it was found; moto's where nothing better exists, said so)."""

from __future__ import annotations

import pytest

from auth_support import INCORRECT, jwt_claims, make_auth_app  # noqa: F401  (fixtures)
from helpers import attribute_list, expect_error, unique

# --------------------------------------------------------------------------
# PreventUserExistenceErrors: omitted means LEGACY, and is not returned


def test_prevent_user_existence_errors_omitted_is_not_returned(idp, pool):
    """The API default is LEGACY ("Defaults to LEGACY when you don't provide a value"), and
    DescribeUserPoolClient then has no such member (terraform-provider-aws'
    TestAccCognitoIDPUserPoolClient_basic reads it back empty from AWS)."""
    client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName=unique("c"))["UserPoolClient"]
    assert "PreventUserExistenceErrors" not in client
    described = idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"])["UserPoolClient"]
    assert "PreventUserExistenceErrors" not in described

    # Set, it is returned; an update that leaves it out returns it to the default.
    updated = idp.update_user_pool_client(
        UserPoolId=pool["Id"], ClientId=client["ClientId"], PreventUserExistenceErrors="ENABLED"
    )["UserPoolClient"]
    assert updated["PreventUserExistenceErrors"] == "ENABLED"
    updated = idp.update_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"])["UserPoolClient"]
    assert "PreventUserExistenceErrors" not in updated


def test_client_without_the_setting_reveals_unknown_users(make_auth_app):
    """A client created without PreventUserExistenceErrors behaves as LEGACY: sign-in and
    password recovery say that the user does not exist."""
    app = make_auth_app()
    assert "PreventUserExistenceErrors" not in app.client
    nobody = "nobody-" + unique("x")
    expect_error("UserNotFoundException", app.initiate, nobody, message="User does not exist.")
    expect_error("UserNotFoundException", app.admin_initiate, nobody, message="User does not exist.")
    expect_error(
        "UserNotFoundException",
        app.public.forgot_password,
        ClientId=app.client_id,
        Username=nobody,
        message="Username/client id combination not found.",
    )

    hiding = make_auth_app(client={"PreventUserExistenceErrors": "ENABLED"})
    expect_error("NotAuthorizedException", hiding.initiate, nobody, message=INCORRECT)


# --------------------------------------------------------------------------
# Boolean attribute values in any case


def test_boolean_values_are_accepted_in_any_case_and_kept(make_auth_app):
    """AdminCreateUser with email_verified "True" succeeds, the value comes back verbatim and the
    user counts as verified (amplify-js issues 8205 and 5834)."""
    app = make_auth_app(
        AliasAttributes=["email"],
        Schema=[{"Name": "beta", "AttributeDataType": "Boolean", "Mutable": True}],
    )
    username = unique("bool")
    email = f"{username}@example.com"
    app.create_user(
        username,
        {"email": email, "email_verified": "True", "custom:beta": "FALSE"},
        TemporaryPassword="Temp0rary!pw",
    )
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username=username, Password="Passw0rd!x", Permanent=True)
    attrs = app.attrs(username)
    assert attrs["email_verified"] == "True"
    assert attrs["custom:beta"] == "FALSE"

    # A verified e-mail is a sign-in alias, and the ID token says it is verified.
    result = app.initiate(email, "Passw0rd!x")["AuthenticationResult"]
    assert jwt_claims(result["IdToken"])["email_verified"] is True

    app.idp.admin_update_user_attributes(
        UserPoolId=app.pool_id, Username=username, UserAttributes=attribute_list({"custom:beta": "tRuE"})
    )
    assert app.attrs(username)["custom:beta"] == "tRuE"
    expect_error(
        "InvalidParameterException",
        app.idp.admin_update_user_attributes,
        UserPoolId=app.pool_id,
        Username=username,
        UserAttributes=attribute_list({"custom:beta": "yes"}),
        contains="custom:beta: Boolean must be true or false",
    )


# --------------------------------------------------------------------------
# CreateUserPool's schema declarations

MISSING_TYPE = "Invalid AttributeDataType input, consider using the provided AttributeDataType enum."


def test_custom_attribute_without_data_type_is_refused(idp, make_pool):
    """Real CloudFormation failures quote the message (amplify-cli issues 9525, 9960); a standard
    attribute may leave its type out, as CDK and CloudFormation templates do."""
    expect_error(
        "InvalidParameterException",
        idp.create_user_pool,
        PoolName=unique("notype"),
        Schema=[{"Name": "tier", "Mutable": True}],
        message=MISSING_TYPE,
    )
    pool = make_pool(Schema=[{"Name": "email", "Required": True, "Mutable": True}])
    email = next(a for a in pool["SchemaAttributes"] if a["Name"] == "email")
    assert (email["AttributeDataType"], email["Required"]) == ("String", True)
    expect_error(
        "InvalidParameterException",
        idp.add_custom_attributes,
        UserPoolId=pool["Id"],
        CustomAttributes=[{"Name": "tier"}],
        message=MISSING_TYPE,
    )


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        (
            {"Name": "tier", "AttributeDataType": "String", "StringAttributeConstraints": {"MinLength": "one"}},
            "Invalid StringAttributeConstraints for schema attribute custom:tier",
        ),
        (
            {"Name": "tier", "AttributeDataType": "String", "StringAttributeConstraints": {"MaxLength": "-1"}},
            "Invalid StringAttributeConstraints for schema attribute custom:tier",
        ),
        (
            {"Name": "tier", "AttributeDataType": "String", "StringAttributeConstraints": {"MaxLength": "2049"}},
            "user.custom:tier: String attributes cannot have a length of more than 2048",
        ),
        (
            {
                "Name": "tier",
                "AttributeDataType": "String",
                "StringAttributeConstraints": {"MinLength": "8", "MaxLength": "4"},
            },
            "user.custom:tier: Max length cannot be less than min length.",
        ),
        (
            {"Name": "seats", "AttributeDataType": "Number", "NumberAttributeConstraints": {"MinValue": "1.5"}},
            "Invalid NumberAttributeConstraints for schema attribute custom:seats",
        ),
        (
            {
                "Name": "seats",
                "AttributeDataType": "Number",
                "NumberAttributeConstraints": {"MinValue": "10", "MaxValue": "1"},
            },
            "user.custom:seats: Max value cannot be less than min value.",
        ),
    ],
    ids=[
        "string-not-integer",
        "string-negative",
        "string-too-long",
        "string-min-over-max",
        "number-not-integer",
        "number-min-over-max",
    ],
)
def test_schema_constraints_are_validated(idp, attribute, message):
    """moto's wording (PR 4493); no real Cognito message was found for these."""
    expect_error(
        "InvalidParameterException",
        idp.create_user_pool,
        PoolName=unique("constraints"),
        Schema=[attribute],
        message=message,
    )


# --------------------------------------------------------------------------
# EstimatedNumberOfUsers


def test_estimated_number_of_users_counts_the_users(idp, make_app):
    app = make_app()
    assert app.pool["EstimatedNumberOfUsers"] == 0
    for name in ("ann", "bob", "cy"):
        app.create_user(name)
    app.sign_up("dee", attributes={"email": "dee@example.com"})
    described = idp.describe_user_pool(UserPoolId=app.pool_id)["UserPool"]
    assert described["EstimatedNumberOfUsers"] == 4
    idp.admin_delete_user(UserPoolId=app.pool_id, Username="bob")
    expect_error("UserNotFoundException", idp.admin_delete_user, UserPoolId=app.pool_id, Username="bob")
    assert idp.describe_user_pool(UserPoolId=app.pool_id)["UserPool"]["EstimatedNumberOfUsers"] == 3
    # A refused sign-up adds nobody.
    expect_error("UsernameExistsException", app.sign_up, "ann", attributes={"email": "x@example.com"})
    assert idp.describe_user_pool(UserPoolId=app.pool_id)["UserPool"]["EstimatedNumberOfUsers"] == 3
    # ListUserPools' descriptions have no such member in the model.
    listed = [p for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Id"] == app.pool_id]
    assert listed and "EstimatedNumberOfUsers" not in listed[0]


# --------------------------------------------------------------------------
# messages


@pytest.mark.parametrize("member", ["ReadAttributes", "WriteAttributes"])
def test_client_attribute_messages(idp, pool, member):
    """aws-cdk issues 34379 (read, creating), 20760 and 2608 (write, creating), aws-sdk-java
    issue 1395 (write, updating); read while updating follows by analogy."""
    what = "read" if member == "ReadAttributes" else "write"
    expect_error(
        "InvalidParameterException",
        idp.create_user_pool_client,
        UserPoolId=pool["Id"],
        ClientName="c",
        **{member: ["email", "custom:missing"]},
        message=f"Invalid {what} attributes specified while creating a client",
    )
    client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="c")["UserPoolClient"]
    expect_error(
        "InvalidParameterException",
        idp.update_user_pool_client,
        UserPoolId=pool["Id"],
        ClientId=client["ClientId"],
        **{member: ["custom:missing"]},
        message=f"Invalid {what} attributes specified while updating a client",
    )


def test_add_existing_custom_attribute_names_it(idp, make_pool):
    """serverless-cognito-add-custom-attributes issue 3 quotes
    `custom:custom:name: Existing attribute already has name custom:custom:name.`; for a
    developer-only attribute the existing name is the dev: one (moto)."""
    pool = make_pool(
        Schema=[
            {"Name": "plan", "AttributeDataType": "String", "Mutable": True},
            {"Name": "secret", "AttributeDataType": "String", "DeveloperOnlyAttribute": True},
        ]
    )
    for name, existing in (("plan", "custom:plan"), ("secret", "dev:custom:secret")):
        expect_error(
            "InvalidParameterException",
            idp.add_custom_attributes,
            UserPoolId=pool["Id"],
            CustomAttributes=[{"Name": name, "AttributeDataType": "String"}],
            message=f"custom:{name}: Existing attribute already has name {existing}.",
        )


def test_duplicate_resource_server_message(idp, pool):
    """moto's wording; no real Cognito answer was found."""
    idp.create_resource_server(UserPoolId=pool["Id"], Identifier="urn:dup", Name="dup")
    expect_error(
        "InvalidParameterException",
        idp.create_resource_server,
        UserPoolId=pool["Id"],
        Identifier="urn:dup",
        Name="again",
        message=f"urn:dup already exists in user pool {pool['Id']}.",
    )


def test_enum_values_are_listed_in_aws_order(idp, pool):
    """Real messages list enum values in AWS's hash order, e.g. `[OPTIONAL, OFF, ON]`
    (CloudFormationCognitoCustomResources issue 1) and `[implicit, client_credentials, code]`
    (aws-cloudformation-user-guide PR 517)."""
    expect_error(
        "InvalidParameterException",
        idp.set_user_pool_mfa_config,
        UserPoolId=pool["Id"],
        MfaConfiguration="false",
        message="1 validation error detected: Value 'false' at 'mfaConfiguration' failed to satisfy "
        "constraint: Member must satisfy enum value set: [OPTIONAL, OFF, ON]",
    )
    expect_error(
        "InvalidParameterException",
        idp.create_user_pool_client,
        UserPoolId=pool["Id"],
        ClientName="c",
        AllowedOAuthFlows=["code", "token"],
        message="1 validation error detected: Value '[code, token]' at 'allowedOAuthFlows' failed to "
        "satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: "
        "[implicit, client_credentials, code]]",
    )


# --------------------------------------------------------------------------
# resource servers without scopes


def test_resource_server_without_scopes_has_no_scopes_member(idp, pool):
    """moto's answer (PR 7167: `"Scopes" not in ResourceServer`); the model makes it optional."""
    created = idp.create_resource_server(UserPoolId=pool["Id"], Identifier="urn:bare", Name="bare")["ResourceServer"]
    assert created == {"UserPoolId": pool["Id"], "Identifier": "urn:bare", "Name": "bare"}
    described = idp.describe_resource_server(UserPoolId=pool["Id"], Identifier="urn:bare")["ResourceServer"]
    assert "Scopes" not in described
    listed = idp.list_resource_servers(UserPoolId=pool["Id"], MaxResults=50)["ResourceServers"]
    assert [s for s in listed if "Scopes" in s] == []
    with_scopes = idp.update_resource_server(
        UserPoolId=pool["Id"],
        Identifier="urn:bare",
        Name="bare",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "Read"}],
    )["ResourceServer"]
    assert with_scopes["Scopes"] == [{"ScopeName": "read", "ScopeDescription": "Read"}]
    updated = idp.update_resource_server(UserPoolId=pool["Id"], Identifier="urn:bare", Name="bare")["ResourceServer"]
    assert "Scopes" not in updated
