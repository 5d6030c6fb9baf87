"""Several regions from one server (issue 11 §2): an app, or a test suite, that uses two
regions points both at one tessera. A pool belongs to the region of the request that created
it (its id says so), ListUserPools lists one region's pools, and a pool is not found through
another region; `--regions` (or `--region`) limits the regions answered."""

from __future__ import annotations

import re

import pytest

from helpers import PASSWORD, expect_error, idp_client, unique

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def clients(server, *regions):
    akid, secret = server.root_credentials()
    return [idp_client(server.url, akid, secret, region=region) for region in regions]


def test_issue_11_one_server_serves_several_regions(server_factory):
    server = server_factory.start(name="regions")
    east, west = clients(server, "us-east-1", "eu-west-1")
    pool_east = east.create_user_pool(PoolName=unique("east"))["UserPool"]
    pool_west = west.create_user_pool(PoolName=unique("west"))["UserPool"]
    assert re.match(r"^us-east-1_[0-9A-Za-z]{9}$", pool_east["Id"]), pool_east["Id"]
    assert re.match(r"^eu-west-1_[0-9A-Za-z]{9}$", pool_west["Id"]), pool_west["Id"]
    assert pool_west["Arn"].startswith("arn:aws:cognito-idp:eu-west-1:")

    # Each region lists its own pools.
    listed_east = {p["Id"] for p in east.list_user_pools(MaxResults=60)["UserPools"]}
    listed_west = {p["Id"] for p in west.list_user_pools(MaxResults=60)["UserPools"]}
    assert pool_east["Id"] in listed_east and pool_west["Id"] not in listed_east
    assert pool_west["Id"] in listed_west and pool_east["Id"] not in listed_west

    # Another region does not know a pool, whatever the operation.
    for call, kwargs in [
        (west.describe_user_pool, {"UserPoolId": pool_east["Id"]}),
        (west.create_user_pool_client, {"UserPoolId": pool_east["Id"], "ClientName": "x"}),
        (west.admin_get_user, {"UserPoolId": pool_east["Id"], "Username": "nobody"}),
        (west.list_users, {"UserPoolId": pool_east["Id"]}),
        (east.delete_user_pool, {"UserPoolId": pool_west["Id"]}),
    ]:
        expect_error("ResourceNotFoundException", call, message=f"User pool {kwargs['UserPoolId']} does not exist.", **kwargs)
    expect_error("ResourceNotFoundException", west.list_tags_for_resource, ResourceArn=pool_east["Arn"])
    assert east.list_tags_for_resource(ResourceArn=pool_east["Arn"]).get("Tags", {}) == {}
    assert west.describe_user_pool(UserPoolId=pool_west["Id"])["UserPool"]["Id"] == pool_west["Id"]

    # Sign-in (public, unsigned) works for users of both regions.
    public = server.unsigned_client()
    for idp, pool in ((east, pool_east), (west, pool_west)):
        client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="app", ExplicitAuthFlows=FLOWS)[
            "UserPoolClient"
        ]
        user = unique("user")
        idp.admin_create_user(UserPoolId=pool["Id"], Username=user, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool["Id"], Username=user, Password=PASSWORD, Permanent=True)
        tokens = public.initiate_auth(
            ClientId=client["ClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        assert tokens["AccessToken"]


@pytest.mark.parametrize(
    "args,served,refused",
    [
        (["--regions", "us-east-1,us-west-2"], ["us-east-1", "us-west-2"], "eu-west-1"),
        (["--region", "eu-west-1"], ["eu-west-1"], "us-east-1"),
    ],
    ids=["regions", "one-region"],
)
def test_issue_11_regions_can_be_limited(server_factory, args, served, refused):
    server = server_factory.start(name="some-regions", extra_args=args)
    for region in served:
        (idp,) = clients(server, region)
        pool = idp.create_user_pool(PoolName=unique("limited"))["UserPool"]
        assert pool["Id"].startswith(region + "_")
    (outside,) = clients(server, refused)
    expect_error(
        "InvalidSignatureException",
        outside.list_user_pools,
        MaxResults=1,
        message=f"Credential should be scoped to a valid region, not '{refused}'.",
    )
