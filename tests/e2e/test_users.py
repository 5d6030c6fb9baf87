"""Admin user management through boto3: AdminCreateUser (invitations, RESEND, SUPPRESS),
AdminGetUser, AdminDeleteUser, AdminDisableUser, AdminEnableUser, ListUsers (filters,
AttributesToGet, pagination)."""

from __future__ import annotations

import datetime as dt
import re
import string

import pytest

from helpers import (
    PASSWORD,
    UUID_RE,
    attribute_dict,
    attribute_list,
    expect_error,
    read_outbox,
    unique,
)

USER_DOES_NOT_EXIST = "User does not exist."

INVITE = {"EmailMessage": "Hi {username}, your password is {####}", "EmailSubject": "Invite"}
STRICT_POLICY = {
    "MinimumLength": 14,
    "RequireUppercase": True,
    "RequireLowercase": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "TemporaryPasswordValidityDays": 7,
}
COGNITO_SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+-")


def assert_satisfies(password: str, policy: dict) -> None:
    assert len(password) >= policy["MinimumLength"], password
    if policy.get("RequireUppercase"):
        assert any(c in string.ascii_uppercase for c in password), password
    if policy.get("RequireLowercase"):
        assert any(c in string.ascii_lowercase for c in password), password
    if policy.get("RequireNumbers"):
        assert any(c in string.digits for c in password), password
    if policy.get("RequireSymbols"):
        assert any(c in COGNITO_SYMBOLS for c in password), password
    assert password == password.strip(), password


# --------------------------------------------------------------------------
# AdminCreateUser


def test_admin_create_user_with_temporary_password(app):
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)
    user = app.idp.admin_create_user(
        UserPoolId=app.pool_id,
        Username="harry",
        TemporaryPassword=PASSWORD,
        UserAttributes=attribute_list({"email": "harry@example.com", "email_verified": "true"}),
        MessageAction="SUPPRESS",
    )["User"]
    assert user["Username"] == "harry"
    assert user["Enabled"] is True
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert user["Attributes"][0]["Name"] == "sub"
    assert UUID_RE.match(user["Attributes"][0]["Value"])
    attrs = attribute_dict(user["Attributes"])
    assert attrs["email"] == "harry@example.com"
    assert attrs["email_verified"] == "true"
    assert before <= user["UserCreateDate"] <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
    assert "UserLastModifiedDate" in user

    got = app.get("harry")
    assert got["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert got["UserAttributes"] == user["Attributes"]
    assert app.outbox("harry") == []


def test_admin_create_user_existing(app):
    app.create_user("iris")
    expect_error(
        "UsernameExistsException",
        app.create_user,
        "iris",
        message="User account already exists",
    )
    app.sign_up("jo")
    expect_error("UsernameExistsException", app.create_user, "jo", message="User account already exists")


def test_admin_create_user_bad_temporary_password(app):
    expect_error(
        "InvalidPasswordException",
        app.create_user,
        "kim",
        TemporaryPassword="Sh0rt!",
        message="Password did not conform with password policy: Password not long enough",
    )
    expect_error(
        "InvalidPasswordException",
        app.create_user,
        "kim",
        TemporaryPassword="password0!x",
        message="Password did not conform with password policy: Password must have uppercase characters",
    )
    assert app.usernames() == []


def test_admin_create_user_unknown_attribute(app):
    expect_error(
        "InvalidParameterException",
        app.create_user,
        "lou",
        attributes={"custom:nope": "x"},
        contains="Attribute does not exist in the schema.",
    )
    assert app.usernames() == []


def test_admin_create_user_missing_required_attribute(make_app):
    """Cognito refuses AdminCreateUser without a required attribute (see
    aws-amplify/amplify-backend#3117: "Attributes did not conform to the schema")."""
    app = make_app(
        Schema=[{"Name": "email", "AttributeDataType": "String", "Required": True, "Mutable": True}],
    )
    expect_error(
        "InvalidParameterException",
        app.create_user,
        "req",
        attributes={"name": "Req"},
        contains="The attribute is required",
    )
    assert app.usernames() == []
    app.create_user("req", attributes={"email": "req@example.com"})
    assert app.usernames() == ["req"]


def test_invitation_email_uses_template_and_policy(make_app, server):
    app = make_app(
        Policies={"PasswordPolicy": STRICT_POLICY},
        AdminCreateUserConfig={"AllowAdminCreateUserOnly": False, "InviteMessageTemplate": INVITE},
    )
    user = app.idp.admin_create_user(
        UserPoolId=app.pool_id,
        Username="max",
        UserAttributes=attribute_list({"email": "max@example.com"}),
        DesiredDeliveryMediums=["EMAIL"],
    )["User"]
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    messages = app.outbox("max")
    assert len(messages) == 1, messages
    msg = messages[0]
    assert msg["channel"] == "EMAIL"
    assert msg["destination"] == "max@example.com"
    assert msg["subject"] == "Invite"
    m = re.fullmatch(r"Hi max, your password is (\S+)", msg["body"].strip())
    assert m, msg["body"]
    assert_satisfies(m.group(1), STRICT_POLICY)


def test_invitation_with_given_temporary_password(make_app):
    app = make_app(AdminCreateUserConfig={"InviteMessageTemplate": INVITE})
    app.idp.admin_create_user(
        UserPoolId=app.pool_id,
        Username="ned",
        TemporaryPassword="Temp0rary!pw",
        UserAttributes=attribute_list({"email": "ned@example.com"}),
        DesiredDeliveryMediums=["EMAIL"],
    )
    msg = app.outbox("ned")[-1]
    assert msg["subject"] == "Invite"
    assert msg["body"].strip() == "Hi ned, your password is Temp0rary!pw"


def test_invitation_defaults_to_sms(app):
    app.idp.admin_create_user(
        UserPoolId=app.pool_id,
        Username="olive",
        UserAttributes=attribute_list({"email": "olive@example.com", "phone_number": "+15555550177"}),
    )
    messages = app.outbox("olive")
    assert len(messages) == 1, messages
    assert messages[0]["channel"] == "SMS"
    assert messages[0]["destination"] == "+15555550177"
    assert "olive" in messages[0]["body"]


def test_invitation_by_email_needs_an_email(app):
    """Real Cognito: InvalidParameterException "No email provided but desired delivery medium
    was Email" (as reported from AWS in rahulpsd18/cognito-backup-restore#25)."""
    expect_error(
        "InvalidParameterException",
        app.idp.admin_create_user,
        UserPoolId=app.pool_id,
        Username="noemail",
        UserAttributes=attribute_list({"phone_number": "+15555550179"}),
        DesiredDeliveryMediums=["EMAIL"],
        contains="No email provided",
    )
    expect_error("UserNotFoundException", app.get, "noemail")


def test_message_action_suppress_sends_nothing(app):
    app.idp.admin_create_user(
        UserPoolId=app.pool_id,
        Username="paul",
        UserAttributes=attribute_list({"email": "paul@example.com", "phone_number": "+15555550178"}),
        DesiredDeliveryMediums=["EMAIL", "SMS"],
        MessageAction="SUPPRESS",
    )
    assert app.status("paul") == "FORCE_CHANGE_PASSWORD"
    assert app.outbox("paul") == []


def test_message_action_resend(make_app):
    app = make_app(AdminCreateUserConfig={"InviteMessageTemplate": INVITE})
    kwargs = dict(UserPoolId=app.pool_id, Username="quinn", DesiredDeliveryMediums=["EMAIL"])
    app.idp.admin_create_user(**kwargs, UserAttributes=attribute_list({"email": "quinn@example.com"}))
    first = re.search(r"password is (\S+)", app.outbox("quinn")[-1]["body"]).group(1)

    user = app.idp.admin_create_user(**kwargs, MessageAction="RESEND")["User"]
    assert user["Username"] == "quinn"
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    messages = app.outbox("quinn")
    assert len(messages) == 2, messages
    assert messages[-1]["subject"] == "Invite"
    second = re.search(r"password is (\S+)", messages[-1]["body"]).group(1)
    assert second != first
    assert app.status("quinn") == "FORCE_CHANGE_PASSWORD"

    expect_error(
        "UserNotFoundException",
        app.idp.admin_create_user,
        UserPoolId=app.pool_id,
        Username="nobody",
        MessageAction="RESEND",
        DesiredDeliveryMediums=["EMAIL"],
    )

    # only a user who has not yet set a password can be re-invited
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username="quinn", Password=PASSWORD, Permanent=True)
    expect_error("UnsupportedUserStateException", app.idp.admin_create_user, **kwargs, MessageAction="RESEND")
    assert len(app.outbox("quinn")) == 2


def test_admin_create_user_in_email_username_pool(make_app):
    app = make_app(UsernameAttributes=["email"])
    user = app.create_user("rita@example.com", attributes={"email_verified": "true"})
    assert UUID_RE.match(user["Username"]), user["Username"]
    attrs = attribute_dict(user["Attributes"])
    assert attrs["sub"] == user["Username"]
    assert attrs["email"] == "rita@example.com"
    assert app.get("rita@example.com")["Username"] == user["Username"]
    expect_error("UsernameExistsException", app.create_user, "rita@example.com")


# --------------------------------------------------------------------------
# AdminGetUser, AdminDeleteUser, AdminDisableUser, AdminEnableUser


def test_admin_get_user_unknown(app):
    expect_error("UserNotFoundException", app.get, "nobody", message=USER_DOES_NOT_EXIST)
    expect_error(
        "ResourceNotFoundException",
        app.idp.admin_get_user,
        UserPoolId="us-east-1_NoSuchPoo",
        Username="nobody",
    )


def test_admin_delete_user(app):
    first = app.sign_up("sara")["UserSub"]
    app.idp.admin_delete_user(UserPoolId=app.pool_id, Username="sara")
    expect_error("UserNotFoundException", app.get, "sara", message=USER_DOES_NOT_EXIST)
    expect_error(
        "UserNotFoundException",
        app.idp.admin_delete_user,
        UserPoolId=app.pool_id,
        Username="sara",
        message=USER_DOES_NOT_EXIST,
    )
    assert app.usernames() == []
    second = app.sign_up("sara")["UserSub"]
    assert second != first
    assert app.attrs("sara")["sub"] == second


def test_admin_disable_and_enable_user(app):
    app.confirmed_user("ted")
    app.idp.admin_disable_user(UserPoolId=app.pool_id, Username="ted")
    user = app.get("ted")
    assert user["Enabled"] is False
    assert user["UserStatus"] == "CONFIRMED"
    app.idp.admin_disable_user(UserPoolId=app.pool_id, Username="ted")  # idempotent
    app.idp.admin_enable_user(UserPoolId=app.pool_id, Username="ted")
    assert app.get("ted")["Enabled"] is True


@pytest.mark.parametrize(
    "operation,extra",
    [
        ("admin_delete_user", {}),
        ("admin_disable_user", {}),
        ("admin_enable_user", {}),
        ("admin_confirm_sign_up", {}),
        ("admin_set_user_password", {"Password": PASSWORD, "Permanent": True}),
        ("admin_reset_user_password", {}),
        ("admin_update_user_attributes", {"UserAttributes": [{"Name": "name", "Value": "x"}]}),
        ("admin_delete_user_attributes", {"UserAttributeNames": ["name"]}),
        ("admin_list_groups_for_user", {}),
    ],
)
def test_admin_operations_on_unknown_user(app, operation, extra):
    expect_error(
        "UserNotFoundException",
        getattr(app.idp, operation),
        UserPoolId=app.pool_id,
        Username="nobody",
        message=USER_DOES_NOT_EXIST,
        **extra,
    )


# --------------------------------------------------------------------------
# ListUsers


@pytest.fixture(scope="module")
def directory(server):
    """A pool with three users in different states, shared by the ListUsers filter tests."""
    idp = server.client()
    pool_id = idp.create_user_pool(PoolName=unique("e2e-list"))["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="list")["UserPoolClient"]["ClientId"]
    public = server.unsigned_client()
    people = {
        "u-alpha": {
            "email": "alpha@example.com",
            "phone_number": "+15555550001",
            "name": "Alpha One",
            "given_name": "Alpha",
            "family_name": "One",
            "preferred_username": "alph",
        },
        "u-beta": {
            "email": "beta@example.org",
            "phone_number": "+15555550002",
            "name": "Beta Two",
            "given_name": "Beta",
            "family_name": "Two",
            "preferred_username": "bet",
        },
        "u-gamma": {
            "email": "gamma@example.com",
            "phone_number": "+16666660003",
            "name": "Gamma Three",
            "given_name": "Gamma",
            "family_name": "Three",
            "preferred_username": "gam",
        },
    }
    for username in ("u-alpha", "u-beta"):
        public.sign_up(
            ClientId=client_id,
            Username=username,
            Password=PASSWORD,
            UserAttributes=attribute_list(people[username]),
        )
    idp.admin_confirm_sign_up(UserPoolId=pool_id, Username="u-alpha")
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username="u-gamma",
        UserAttributes=attribute_list(people["u-gamma"]),
        MessageAction="SUPPRESS",
    )
    idp.admin_disable_user(UserPoolId=pool_id, Username="u-gamma")
    subs = {
        u: attribute_dict(idp.admin_get_user(UserPoolId=pool_id, Username=u)["UserAttributes"])["sub"]
        for u in people
    }
    yield {"idp": idp, "pool_id": pool_id, "subs": subs}
    idp.delete_user_pool(UserPoolId=pool_id)


FILTERS = [
    ('username = "u-alpha"', ["u-alpha"]),
    ('username ^= "u-"', ["u-alpha", "u-beta", "u-gamma"]),
    ('username ^= "u-b"', ["u-beta"]),
    ('email = "beta@example.org"', ["u-beta"]),
    ('email ^= "alpha"', ["u-alpha"]),
    ('email = "nobody@example.com"', []),
    ('phone_number = "+15555550002"', ["u-beta"]),
    ('phone_number ^= "+1555555"', ["u-alpha", "u-beta"]),
    ('name = "Alpha One"', ["u-alpha"]),
    ('name ^= "Gam"', ["u-gamma"]),
    ('given_name = "Beta"', ["u-beta"]),
    ('family_name ^= "Th"', ["u-gamma"]),
    ('preferred_username = "alph"', ["u-alpha"]),
    ('cognito:user_status = "UNCONFIRMED"', ["u-beta"]),
    ('cognito:user_status = "CONFIRMED"', ["u-alpha"]),
    ('cognito:user_status = "FORCE_CHANGE_PASSWORD"', ["u-gamma"]),
    ('status = "Disabled"', ["u-gamma"]),
    ('status = "Enabled"', ["u-alpha", "u-beta"]),
]


@pytest.mark.parametrize("filter_,expected", FILTERS, ids=[f for f, _ in FILTERS])
def test_list_users_filter(directory, filter_, expected):
    users = directory["idp"].list_users(UserPoolId=directory["pool_id"], Filter=filter_)["Users"]
    assert sorted(u["Username"] for u in users) == expected


def test_list_users_filter_by_sub(directory):
    sub = directory["subs"]["u-beta"]
    users = directory["idp"].list_users(UserPoolId=directory["pool_id"], Filter=f'sub = "{sub}"')["Users"]
    assert [u["Username"] for u in users] == ["u-beta"]


def test_list_users_shape(directory):
    users = directory["idp"].list_users(UserPoolId=directory["pool_id"])["Users"]
    by_name = {u["Username"]: u for u in users}
    assert sorted(by_name) == ["u-alpha", "u-beta", "u-gamma"]
    gamma = by_name["u-gamma"]
    assert gamma["Enabled"] is False
    assert gamma["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    assert isinstance(gamma["UserCreateDate"], dt.datetime)
    assert isinstance(gamma["UserLastModifiedDate"], dt.datetime)
    assert gamma["Attributes"][0] == {"Name": "sub", "Value": directory["subs"]["u-gamma"]}
    assert attribute_dict(gamma["Attributes"])["email"] == "gamma@example.com"


def test_list_users_attributes_to_get(directory):
    users = directory["idp"].list_users(
        UserPoolId=directory["pool_id"], AttributesToGet=["email"], Filter='username = "u-alpha"'
    )["Users"]
    assert len(users) == 1
    assert users[0]["Attributes"] == [{"Name": "email", "Value": "alpha@example.com"}]
    assert users[0]["UserStatus"] == "CONFIRMED"


@pytest.mark.parametrize(
    "filter_",
    [
        'email == "x"',
        'email = x',
        'custom:tenant = "x"',
        'nickname = "x"',
        'email = "x" and name = "y"',
    ],
)
def test_list_users_bad_filter(directory, filter_):
    expect_error(
        "InvalidParameterException",
        directory["idp"].list_users,
        UserPoolId=directory["pool_id"],
        Filter=filter_,
    )


def test_list_users_limit_out_of_range(directory):
    expect_error(
        "InvalidParameterException",
        directory["idp"].list_users,
        UserPoolId=directory["pool_id"],
        Limit=61,
    )


def test_list_users_unknown_pool(idp):
    expect_error("ResourceNotFoundException", idp.list_users, UserPoolId="us-east-1_NoSuchPoo")


def test_list_users_pagination(make_app):
    app = make_app()
    names = [f"page-{i:02d}" for i in range(7)]
    for name in names:
        app.create_user(name)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kwargs = {"PaginationToken": token} if token else {}
        out = app.idp.list_users(UserPoolId=app.pool_id, Limit=3, **kwargs)
        pages += 1
        assert len(out["Users"]) <= 3
        seen += [u["Username"] for u in out["Users"]]
        token = out.get("PaginationToken")
        if not token:
            break
        assert pages < 10, "pagination does not end"
    assert sorted(seen) == names, seen
    assert len(seen) == len(set(seen))
    assert pages == 3

    one = app.idp.list_users(UserPoolId=app.pool_id, Limit=60)
    assert len(one["Users"]) == 7
    assert "PaginationToken" not in one

    filtered = app.usernames(Filter='username ^= "page-0"', PaginationConfig={"PageSize": 2})
    assert sorted(filtered) == names


def test_list_users_empty_pool(make_app):
    app = make_app()
    out = app.idp.list_users(UserPoolId=app.pool_id)
    assert out["Users"] == []
    assert "PaginationToken" not in out


def test_outbox_is_filtered_per_pool(server, make_app):
    a, b = make_app(AutoVerifiedAttributes=["email"]), make_app(AutoVerifiedAttributes=["email"])
    a.sign_up("same", attributes={"email": "same-a@example.com"})
    b.sign_up("same", attributes={"email": "same-b@example.com"})
    assert [m["destination"] for m in read_outbox(server, pool_id=a.pool_id, username="same")] == [
        "same-a@example.com"
    ]
    assert [m["destination"] for m in read_outbox(server, pool_id=b.pool_id, username="same")] == [
        "same-b@example.com"
    ]
