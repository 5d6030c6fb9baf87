"""TagResource, UntagResource, ListTagsForResource on a user pool ARN."""

from __future__ import annotations

import pytest

from helpers import ACCOUNT_ID, REGION


def tags_of(idp, arn: str) -> dict:
    return idp.list_tags_for_resource(ResourceArn=arn).get("Tags", {})


def test_tags_round_trip(idp, make_pool):
    pool = make_pool(UserPoolTags={"created": "yes"})
    arn = pool["Arn"]
    assert tags_of(idp, arn) == {"created": "yes"}

    idp.tag_resource(ResourceArn=arn, Tags={"env": "e2e", "team": "tessera"})
    assert tags_of(idp, arn) == {"created": "yes", "env": "e2e", "team": "tessera"}

    # overwriting a value
    idp.tag_resource(ResourceArn=arn, Tags={"env": "ci"})
    assert tags_of(idp, arn) == {"created": "yes", "env": "ci", "team": "tessera"}

    # the pool's own view agrees
    described = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert described.get("UserPoolTags") == {"created": "yes", "env": "ci", "team": "tessera"}

    idp.untag_resource(ResourceArn=arn, TagKeys=["created", "team", "never-there"])
    assert tags_of(idp, arn) == {"env": "ci"}
    described = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert described.get("UserPoolTags") == {"env": "ci"}


def test_pool_without_tags_lists_none(idp, pool):
    assert tags_of(idp, pool["Arn"]) == {}


def test_tags_are_per_pool(idp, make_pool):
    a = make_pool()
    b = make_pool()
    idp.tag_resource(ResourceArn=a["Arn"], Tags={"owner": "a"})
    assert tags_of(idp, b["Arn"]) == {}
    assert tags_of(idp, a["Arn"]) == {"owner": "a"}


def test_tags_on_unknown_pool(idp):
    arn = f"arn:aws:cognito-idp:{REGION}:{ACCOUNT_ID}:userpool/us-east-1_NoSuchPoo"
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.tag_resource(ResourceArn=arn, Tags={"a": "b"})
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.list_tags_for_resource(ResourceArn=arn)
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.untag_resource(ResourceArn=arn, TagKeys=["a"])


def test_tags_on_malformed_arn(idp):
    with pytest.raises(idp.exceptions.InvalidParameterException):
        idp.tag_resource(ResourceArn="this-is-not-an-arn-at-all", Tags={"a": "b"})


def test_tags_on_deleted_pool(idp, make_pool):
    pool = make_pool()
    idp.delete_user_pool(UserPoolId=pool["Id"])
    with pytest.raises(idp.exceptions.ResourceNotFoundException):
        idp.list_tags_for_resource(ResourceArn=pool["Arn"])
