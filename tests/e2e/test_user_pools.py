"""User pools through boto3: CreateUserPool, DescribeUserPool, UpdateUserPool,
DeleteUserPool, ListUserPools."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError

from helpers import ACCOUNT_ID, POOL_ID_RE, REGION, assert_subset, raw_post, signed_post, unique

LAMBDA_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:e2e-pre-signup"

FULL_CONFIG = {
    "Policies": {
        "PasswordPolicy": {
            "MinimumLength": 10,
            "RequireUppercase": True,
            "RequireLowercase": False,
            "RequireNumbers": True,
            "RequireSymbols": False,
            "TemporaryPasswordValidityDays": 3,
        }
    },
    "Schema": [
        {
            "Name": "tenant",
            "AttributeDataType": "String",
            "Mutable": True,
            "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"},
        },
        {
            "Name": "age",
            "AttributeDataType": "Number",
            "Mutable": True,
            "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "150"},
        },
    ],
    "UsernameAttributes": ["email"],
    "UsernameConfiguration": {"CaseSensitive": False},
    "AutoVerifiedAttributes": ["email"],
    "MfaConfiguration": "OFF",
    "LambdaConfig": {"PreSignUp": LAMBDA_ARN},
    "AccountRecoverySetting": {
        "RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]
    },
    "VerificationMessageTemplate": {
        "DefaultEmailOption": "CONFIRM_WITH_CODE",
        "EmailMessage": "Your e2e code is {####}",
        "EmailSubject": "Verify your e2e account",
    },
    "AdminCreateUserConfig": {
        "AllowAdminCreateUserOnly": True,
        "InviteMessageTemplate": {
            "EmailMessage": "Hello {username}, your password is {####}",
            "EmailSubject": "Welcome to e2e",
        },
    },
    "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": ["email"]},
    "UserPoolTags": {"env": "e2e", "team": "tessera"},
    "DeletionProtection": "INACTIVE",
}

DEFAULT_PASSWORD_POLICY = {
    "MinimumLength": 8,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 7,
}

STANDARD_ATTRIBUTES = {
    "sub",
    "name",
    "given_name",
    "family_name",
    "email",
    "email_verified",
    "phone_number",
    "phone_number_verified",
    "updated_at",
}


def schema_by_name(pool: dict) -> dict:
    return {a["Name"]: a for a in pool.get("SchemaAttributes", [])}


def describe(idp, pool_id: str) -> dict:
    return idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]


def test_create_user_pool_ids_arn_and_dates(idp, make_pool):
    name = unique("ids")
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    pool = make_pool(PoolName=name)
    after = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)

    assert POOL_ID_RE.match(pool["Id"]), pool["Id"]
    assert pool["Name"] == name
    assert pool["Arn"] == f"arn:aws:cognito-idp:{REGION}:{ACCOUNT_ID}:userpool/{pool['Id']}"
    for key in ("CreationDate", "LastModifiedDate"):
        assert isinstance(pool[key], dt.datetime), f"{key}={pool[key]!r}"
        assert before <= pool[key] <= after, f"{key}={pool[key]} not between {before} and {after}"

    described = describe(idp, pool["Id"])
    assert described["Id"] == pool["Id"]
    assert described["Name"] == name
    assert described["Arn"] == pool["Arn"]
    assert described["CreationDate"] == pool["CreationDate"]


def test_two_pools_get_distinct_ids(make_pool):
    ids = {make_pool()["Id"] for _ in range(3)}
    assert len(ids) == 3


def test_describe_returns_whole_configuration(idp, make_pool):
    pool = make_pool(PoolName=unique("full"), **FULL_CONFIG)
    for source in (pool, describe(idp, pool["Id"])):
        for key, value in FULL_CONFIG.items():
            if key == "Schema":
                continue
            assert key in source, f"{key} missing from {sorted(source)}"
            if isinstance(value, list):
                assert sorted(map(str, source[key])) == sorted(map(str, value)), (key, source[key])
            else:
                assert_subset(value, source[key], key)

        attrs = schema_by_name(source)
        missing = STANDARD_ATTRIBUTES - set(attrs)
        assert not missing, f"standard attributes missing from SchemaAttributes: {missing}"
        tenant = attrs.get("custom:tenant")
        assert tenant, f"custom:tenant not in SchemaAttributes: {sorted(attrs)}"
        assert tenant["AttributeDataType"] == "String"
        assert tenant["Mutable"] is True
        assert_subset({"MinLength": "1", "MaxLength": "64"}, tenant["StringAttributeConstraints"])
        age = attrs.get("custom:age")
        assert age, f"custom:age not in SchemaAttributes: {sorted(attrs)}"
        assert age["AttributeDataType"] == "Number"
        assert_subset({"MinValue": "0", "MaxValue": "150"}, age["NumberAttributeConstraints"])
        assert attrs["sub"]["Mutable"] is False


def test_alias_attributes_round_trip(idp, make_pool):
    pool = make_pool(
        AliasAttributes=["email", "preferred_username"],
        UsernameConfiguration={"CaseSensitive": True},
        AutoVerifiedAttributes=["email"],
    )
    got = describe(idp, pool["Id"])
    assert sorted(got["AliasAttributes"]) == ["email", "preferred_username"]
    assert got["UsernameConfiguration"] == {"CaseSensitive": True}
    assert got.get("UsernameAttributes", []) == []


def test_default_password_policy(idp, pool):
    got = describe(idp, pool["Id"])
    assert_subset(DEFAULT_PASSWORD_POLICY, got["Policies"]["PasswordPolicy"])


def test_describe_unknown_pool(idp):
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_user_pool(UserPoolId="us-east-1_NoSuchPoo")


def test_update_user_pool_applies_and_resets_unspecified(idp, make_pool):
    pool = make_pool(
        Policies={"PasswordPolicy": {"MinimumLength": 12, "RequireSymbols": False}},
        LambdaConfig={"PreSignUp": LAMBDA_ARN},
        UserPoolTags={"keep": "me"},
    )
    created = describe(idp, pool["Id"])
    assert created["LambdaConfig"].get("PreSignUp") == LAMBDA_ARN

    idp.update_user_pool(
        UserPoolId=pool["Id"],
        Policies={"PasswordPolicy": {"MinimumLength": 14, "RequireUppercase": False}},
        AutoVerifiedAttributes=["email"],
    )
    got = describe(idp, pool["Id"])
    # identity is untouched
    assert got["Id"] == pool["Id"]
    assert got["Name"] == pool["Name"]
    assert got["Arn"] == pool["Arn"]
    assert got["CreationDate"] == created["CreationDate"]
    assert got["LastModifiedDate"] >= created["LastModifiedDate"]
    # what was given is applied
    assert got["Policies"]["PasswordPolicy"]["MinimumLength"] == 14
    assert got["Policies"]["PasswordPolicy"]["RequireUppercase"] is False
    assert got["AutoVerifiedAttributes"] == ["email"]
    # what was not given is reset to its default (real Cognito: LambdaConfig is wiped)
    assert not got.get("LambdaConfig", {}).get("PreSignUp"), (
        f"UpdateUserPool without LambdaConfig must reset it, got {got.get('LambdaConfig')}"
    )


def test_update_with_invalid_value_changes_nothing(idp, make_pool):
    pool = make_pool(
        Policies={"PasswordPolicy": {"MinimumLength": 9}},
        AutoVerifiedAttributes=["email"],
        LambdaConfig={"PreSignUp": LAMBDA_ARN},
    )
    before = describe(idp, pool["Id"])

    # MinimumLength max is 99 (botocore only checks the minimum client-side)
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.update_user_pool(
            UserPoolId=pool["Id"], Policies={"PasswordPolicy": {"MinimumLength": 100}}
        )
    # an unknown enum value (botocore does not check enums client-side)
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.update_user_pool(UserPoolId=pool["Id"], MfaConfiguration="SOMETIMES")

    after = describe(idp, pool["Id"])
    assert after == before


def test_update_unknown_pool(idp):
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.update_user_pool(UserPoolId="us-east-1_NoSuchPoo", MfaConfiguration="OFF")


def test_delete_user_pool(idp, make_pool):
    pool = make_pool()
    idp.delete_user_pool(UserPoolId=pool["Id"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_user_pool(UserPoolId=pool["Id"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.delete_user_pool(UserPoolId=pool["Id"])


def test_deletion_protection(idp, make_pool):
    pool = make_pool(DeletionProtection="ACTIVE")
    assert describe(idp, pool["Id"])["DeletionProtection"] == "ACTIVE"

    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.delete_user_pool(UserPoolId=pool["Id"])
    assert describe(idp, pool["Id"])["Id"] == pool["Id"]

    idp.update_user_pool(UserPoolId=pool["Id"], DeletionProtection="INACTIVE")
    assert describe(idp, pool["Id"])["DeletionProtection"] == "INACTIVE"
    idp.delete_user_pool(UserPoolId=pool["Id"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.describe_user_pool(UserPoolId=pool["Id"])


def test_list_user_pools_pagination_visits_each_pool_once(idp, make_pool):
    prefix = unique("page")
    mine = {make_pool(PoolName=f"{prefix}-{i}")["Id"] for i in range(7)}

    seen: list[str] = []
    pages = 0
    token = None
    while True:
        kwargs = {"MaxResults": 3}
        if token:
            kwargs["NextToken"] = token
        resp = idp.list_user_pools(**kwargs)
        pages += 1
        assert len(resp["UserPools"]) <= 3
        for entry in resp["UserPools"]:
            seen.append(entry["Id"])
            if entry["Id"] in mine:
                assert entry["Name"].startswith(prefix)
                assert isinstance(entry["CreationDate"], dt.datetime)
                assert isinstance(entry["LastModifiedDate"], dt.datetime)
        token = resp.get("NextToken")
        if not token:
            break
        assert pages < 200, "pagination does not terminate"

    assert len(seen) == len(set(seen)), "a pool appeared on two pages"
    assert mine <= set(seen), f"pools never listed: {mine - set(seen)}"
    assert pages >= 3


def test_list_user_pools_paginator(idp, make_pool):
    prefix = unique("paginator")
    mine = {make_pool(PoolName=f"{prefix}-{i}")["Id"] for i in range(3)}
    listed = [
        p["Id"]
        for page in idp.get_paginator("list_user_pools").paginate(PaginationConfig={"PageSize": 2})
        for p in page["UserPools"]
    ]
    assert mine <= set(listed)
    assert len(listed) == len(set(listed))


def test_list_user_pools_max_results_validation(server, idp):
    akid, secret = server.root_credentials()
    # MaxResults is required (boto3 would refuse to send this, so send it raw)
    resp = signed_post(server.url, "ListUserPools", {}, akid, secret)
    assert resp.status_code == 400, resp.text
    assert resp.json()["__type"] == "InvalidParameterException", resp.text
    assert "Member must not be null" in resp.json()["message"]
    for bad in (0, 61):
        resp = signed_post(server.url, "ListUserPools", {"MaxResults": bad}, akid, secret)
        assert resp.status_code == 400, (bad, resp.text)
        assert resp.json()["__type"] == "InvalidParameterException", (bad, resp.text)
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.list_user_pools(MaxResults=61)
    assert idp.list_user_pools(MaxResults=60)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_create_user_pool_invalid_parameters_create_nothing(idp):
    name = unique("invalid")
    # UsernameAttributes and AliasAttributes exclude each other
    with pytest.raises(ClientError) as info:
        idp.create_user_pool(
            PoolName=name, UsernameAttributes=["email"], AliasAttributes=["email"]
        )
    assert info.value.response["Error"]["Code"] == "InvalidParameterException"
    # unknown enum value
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.create_user_pool(PoolName=name, MfaConfiguration="SOMETIMES")
    listed = [
        p["Name"]
        for page in idp.get_paginator("list_user_pools").paginate(PaginationConfig={"PageSize": 60})
        for p in page["UserPools"]
    ]
    assert name not in listed


def test_unsigned_admin_operation_is_refused(server):
    resp = raw_post(server.url, "ListUserPools", {"MaxResults": 10})
    assert resp.status_code == 400
    assert resp.json()["__type"] == "MissingAuthenticationTokenException"
