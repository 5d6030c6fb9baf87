"""Groups through boto3: CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups,
AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminListGroupsForUser, ListUsersInGroup."""

from __future__ import annotations

import datetime as dt

import pytest

from helpers import ACCOUNT_ID, expect_error

ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/e2e-admins"
OTHER_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/e2e-others"


@pytest.fixture
def gapp(make_app):
    return make_app()


def create_group(app, name: str, **kwargs) -> dict:
    return app.idp.create_group(UserPoolId=app.pool_id, GroupName=name, **kwargs)["Group"]


def group_names(app, username: str) -> list[str]:
    out = []
    for page in app.idp.get_paginator("admin_list_groups_for_user").paginate(
        UserPoolId=app.pool_id, Username=username
    ):
        out += [g["GroupName"] for g in page["Groups"]]
    return out


def members(app, group: str) -> list[str]:
    out = []
    for page in app.idp.get_paginator("list_users_in_group").paginate(UserPoolId=app.pool_id, GroupName=group):
        out += [u["Username"] for u in page["Users"]]
    return sorted(out)


def test_create_and_get_group(gapp):
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    group = create_group(gapp, "admins", Description="The admins", Precedence=1, RoleArn=ROLE)
    assert group["GroupName"] == "admins"
    assert group["UserPoolId"] == gapp.pool_id
    assert group["Description"] == "The admins"
    assert group["Precedence"] == 1
    assert group["RoleArn"] == ROLE
    assert before <= group["CreationDate"] <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
    assert isinstance(group["LastModifiedDate"], dt.datetime)

    got = gapp.idp.get_group(UserPoolId=gapp.pool_id, GroupName="admins")["Group"]
    for key in ("GroupName", "UserPoolId", "Description", "Precedence", "RoleArn", "CreationDate"):
        assert got[key] == group[key], key


def test_minimal_group(gapp):
    group = create_group(gapp, "plain")
    assert group["GroupName"] == "plain"
    for key in ("Description", "Precedence", "RoleArn"):
        assert key not in group, (key, group)


def test_create_group_twice(gapp):
    create_group(gapp, "dup", Description="first")
    expect_error("GroupExistsException", create_group, gapp, "dup", Description="second")
    assert gapp.idp.get_group(UserPoolId=gapp.pool_id, GroupName="dup")["Group"]["Description"] == "first"


def test_create_group_unknown_pool(idp):
    expect_error("ResourceNotFoundException", idp.create_group, UserPoolId="us-east-1_NoSuchPoo", GroupName="g")


def test_update_group(gapp):
    create_group(gapp, "ops", Description="old", Precedence=5, RoleArn=ROLE)
    out = gapp.idp.update_group(
        UserPoolId=gapp.pool_id, GroupName="ops", Description="new", Precedence=2, RoleArn=OTHER_ROLE
    )["Group"]
    assert out["Description"] == "new"
    assert out["Precedence"] == 2
    assert out["RoleArn"] == OTHER_ROLE
    got = gapp.idp.get_group(UserPoolId=gapp.pool_id, GroupName="ops")["Group"]
    assert (got["Description"], got["Precedence"], got["RoleArn"]) == ("new", 2, OTHER_ROLE)
    assert got["LastModifiedDate"] >= got["CreationDate"]

    # members left out of UpdateGroup stay as they are
    gapp.idp.update_group(UserPoolId=gapp.pool_id, GroupName="ops", Description="newer")
    got = gapp.idp.get_group(UserPoolId=gapp.pool_id, GroupName="ops")["Group"]
    assert (got["Description"], got["Precedence"], got["RoleArn"]) == ("newer", 2, OTHER_ROLE)


def test_unknown_group(gapp):
    gapp.create_user("ann")
    for call, kwargs in [
        (gapp.idp.get_group, {}),
        (gapp.idp.update_group, {"Description": "x"}),
        (gapp.idp.delete_group, {}),
        (gapp.idp.list_users_in_group, {}),
        (gapp.idp.admin_add_user_to_group, {"Username": "ann"}),
        (gapp.idp.admin_remove_user_from_group, {"Username": "ann"}),
    ]:
        expect_error("ResourceNotFoundException", call, UserPoolId=gapp.pool_id, GroupName="nope", **kwargs)


def test_delete_group(gapp):
    create_group(gapp, "temp")
    gapp.create_user("bob")
    gapp.idp.admin_add_user_to_group(UserPoolId=gapp.pool_id, Username="bob", GroupName="temp")
    gapp.idp.delete_group(UserPoolId=gapp.pool_id, GroupName="temp")
    expect_error("ResourceNotFoundException", gapp.idp.get_group, UserPoolId=gapp.pool_id, GroupName="temp")
    assert group_names(gapp, "bob") == []
    # the name is free again, and the new group has no members
    create_group(gapp, "temp")
    assert members(gapp, "temp") == []


def test_list_groups_pagination(gapp):
    names = [f"g{i:02d}" for i in range(5)]
    for i, name in enumerate(names):
        create_group(gapp, name, Precedence=i)
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"NextToken": token} if token else {}
        out = gapp.idp.list_groups(UserPoolId=gapp.pool_id, Limit=2, **kwargs)
        pages += 1
        assert len(out["Groups"]) <= 2
        seen += [g["GroupName"] for g in out["Groups"]]
        token = out.get("NextToken")
        if not token:
            break
        assert pages < 10
    assert sorted(seen) == names
    assert pages == 3
    every = gapp.idp.list_groups(UserPoolId=gapp.pool_id)["Groups"]
    assert {g["GroupName"]: g["Precedence"] for g in every} == {n: i for i, n in enumerate(names)}


def test_membership(gapp):
    create_group(gapp, "admins", Precedence=1, RoleArn=ROLE, Description="A")
    create_group(gapp, "users", Precedence=10)
    for name in ("cat", "dan"):
        gapp.create_user(name)

    add = gapp.idp.admin_add_user_to_group
    add(UserPoolId=gapp.pool_id, Username="cat", GroupName="admins")
    add(UserPoolId=gapp.pool_id, Username="cat", GroupName="users")
    add(UserPoolId=gapp.pool_id, Username="dan", GroupName="users")
    add(UserPoolId=gapp.pool_id, Username="dan", GroupName="users")  # idempotent

    groups = gapp.idp.admin_list_groups_for_user(UserPoolId=gapp.pool_id, Username="cat")["Groups"]
    by_name = {g["GroupName"]: g for g in groups}
    assert sorted(by_name) == ["admins", "users"]
    assert by_name["admins"]["Precedence"] == 1
    assert by_name["admins"]["RoleArn"] == ROLE
    assert by_name["admins"]["Description"] == "A"
    assert by_name["admins"]["UserPoolId"] == gapp.pool_id

    assert members(gapp, "users") == ["cat", "dan"]
    assert members(gapp, "admins") == ["cat"]
    listed = gapp.idp.list_users_in_group(UserPoolId=gapp.pool_id, GroupName="admins")["Users"]
    assert listed[0]["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert listed[0]["Attributes"][0]["Name"] == "sub"

    gapp.idp.admin_remove_user_from_group(UserPoolId=gapp.pool_id, Username="cat", GroupName="users")
    assert group_names(gapp, "cat") == ["admins"]
    assert members(gapp, "users") == ["dan"]


def test_membership_unknown_user(gapp):
    create_group(gapp, "g")
    for call in (gapp.idp.admin_add_user_to_group, gapp.idp.admin_remove_user_from_group):
        expect_error(
            "UserNotFoundException",
            call,
            UserPoolId=gapp.pool_id,
            Username="nobody",
            GroupName="g",
            message="User does not exist.",
        )


def test_deleted_user_leaves_groups(gapp):
    create_group(gapp, "g")
    gapp.create_user("eli")
    gapp.create_user("fay")
    for u in ("eli", "fay"):
        gapp.idp.admin_add_user_to_group(UserPoolId=gapp.pool_id, Username=u, GroupName="g")
    gapp.idp.admin_delete_user(UserPoolId=gapp.pool_id, Username="eli")
    assert members(gapp, "g") == ["fay"]
    # a new user of the same name does not inherit the membership
    gapp.create_user("eli")
    assert group_names(gapp, "eli") == []


def test_membership_by_alias_and_case(make_app):
    app = make_app(UsernameAttributes=["email"], UsernameConfiguration={"CaseSensitive": False})
    user = app.create_user("Gia@Example.com", attributes={"email_verified": "true"})
    create_group(app, "g")
    app.idp.admin_add_user_to_group(UserPoolId=app.pool_id, Username="gia@example.com", GroupName="g")
    assert members(app, "g") == [user["Username"]]
    assert group_names(app, user["Username"]) == ["g"]


def test_list_users_in_group_pagination(gapp):
    create_group(gapp, "many")
    names = [f"m{i}" for i in range(5)]
    for n in names:
        gapp.create_user(n)
        gapp.idp.admin_add_user_to_group(UserPoolId=gapp.pool_id, Username=n, GroupName="many")
    first = gapp.idp.list_users_in_group(UserPoolId=gapp.pool_id, GroupName="many", Limit=2)
    assert len(first["Users"]) == 2
    assert first.get("NextToken")
    assert members(gapp, "many") == names


def test_groups_of_pools_are_separate(make_app):
    a, b = make_app(), make_app()
    create_group(a, "same")
    create_group(b, "same")
    a.idp.delete_group(UserPoolId=a.pool_id, GroupName="same")
    assert b.idp.get_group(UserPoolId=b.pool_id, GroupName="same")["Group"]["UserPoolId"] == b.pool_id
