"""Identity pools (issue 14) with boto3's `cognito-identity` and `sts` clients, on both
backends: every Cognito Identity operation and its main errors, the guest and enhanced flows,
linking, ServerSideTokenCheck, Token and Rules role mappings with AmbiguousRoleResolution,
developer-authenticated identities, and the basic (classic) flow through tessera's built-in
STS (AssumeRoleWithWebIdentity, GetCallerIdentity)."""

from __future__ import annotations

import base64
import json

import boto3
import botocore
import pytest
import requests
from botocore.config import Config

from helpers import PASSWORD, REGION, error_code, unique

ACCOUNT = "000000000000"
AUTH = f"arn:aws:iam::{ACCOUNT}:role/Auth"
GUEST = f"arn:aws:iam::{ACCOUNT}:role/Guest"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/Admin"
READER = f"arn:aws:iam::{ACCOUNT}:role/Reader"
FLOWS = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
RETRIES = Config(retries={"max_attempts": 1, "mode": "standard"})


def identity_client(server, signed: bool = True):
    if signed:
        akid, secret = server.root_credentials()
        return boto3.client(
            "cognito-identity",
            region_name=REGION,
            endpoint_url=server.url,
            aws_access_key_id=akid,
            aws_secret_access_key=secret,
            config=RETRIES,
        )
    return boto3.client(
        "cognito-identity",
        region_name=REGION,
        endpoint_url=server.url,
        config=RETRIES.merge(Config(signature_version=botocore.UNSIGNED)),
    )


def sts_client(server, credentials: dict | None = None):
    if credentials is None:
        return boto3.client(
            "sts",
            region_name=REGION,
            endpoint_url=server.url,
            config=RETRIES.merge(Config(signature_version=botocore.UNSIGNED)),
        )
    return boto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=server.url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials.get("SecretKey") or credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=RETRIES,
    )


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def expect(exc_info, code: str, message: str | None = None) -> None:
    assert error_code(exc_info.value) == code, exc_info.value.response
    if message is not None:
        assert exc_info.value.response["Error"]["Message"] == message


class World:
    """A user pool with two clients and users, and helpers for identity pools over it."""

    def __init__(self, server, idp, public):
        self.server = server
        self.idp = idp
        self.public = public
        self.ci = identity_client(server)
        self.anon = identity_client(server, signed=False)
        self.pool = idp.create_user_pool(PoolName=unique("ip-users"))["UserPool"]
        self.pool_id = self.pool["Id"]
        self.client_id = idp.create_user_pool_client(
            UserPoolId=self.pool_id, ClientName="app", ExplicitAuthFlows=FLOWS
        )["UserPoolClient"]["ClientId"]
        self.other_client_id = idp.create_user_pool_client(
            UserPoolId=self.pool_id, ClientName="other", ExplicitAuthFlows=FLOWS
        )["UserPoolClient"]["ClientId"]
        self.provider = f"cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"
        # The provider name Amplify computes: the ID token's issuer without its scheme.
        self.issuer_provider = f"{server.url.split('://', 1)[1]}/{self.pool_id}"
        self.identity_pools: list[str] = []

    def user(self, name: str, email: str | None = None, groups: tuple = ()) -> str:
        attributes = [{"Name": "email", "Value": email or f"{name}@example.com"}]
        self.idp.admin_create_user(
            UserPoolId=self.pool_id, Username=name, UserAttributes=attributes, MessageAction="SUPPRESS"
        )
        self.idp.admin_set_user_password(UserPoolId=self.pool_id, Username=name, Password=PASSWORD, Permanent=True)
        for group in groups:
            self.idp.admin_add_user_to_group(UserPoolId=self.pool_id, Username=name, GroupName=group)
        return name

    def tokens(self, name: str, client_id: str | None = None) -> dict:
        return self.idp.admin_initiate_auth(
            UserPoolId=self.pool_id,
            ClientId=client_id or self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]

    def identity_pool(self, check: bool = False, roles: dict | None = None, mappings: dict | None = None, **kwargs) -> str:
        kwargs.setdefault("AllowUnauthenticatedIdentities", True)
        kwargs.setdefault(
            "CognitoIdentityProviders",
            [{"ProviderName": self.provider, "ClientId": self.client_id, "ServerSideTokenCheck": check}],
        )
        pool = self.ci.create_identity_pool(IdentityPoolName=unique("ip"), **kwargs)
        self.identity_pools.append(pool["IdentityPoolId"])
        args = {"IdentityPoolId": pool["IdentityPoolId"], "Roles": roles or {"authenticated": AUTH, "unauthenticated": GUEST}}
        if mappings:
            args["RoleMappings"] = mappings
        self.ci.set_identity_pool_roles(**args)
        return pool["IdentityPoolId"]

    def credentials(self, identity_pool_id: str, id_token: str | None = None, provider: str | None = None, **kwargs) -> dict:
        logins = {provider or self.provider: id_token} if id_token else {}
        identity_id = self.anon.get_id(IdentityPoolId=identity_pool_id, Logins=logins)["IdentityId"]
        return self.anon.get_credentials_for_identity(IdentityId=identity_id, Logins=logins, **kwargs)

    def role_of(self, credentials: dict) -> str:
        """The role name the credentials act as, from tessera's GetCallerIdentity."""
        arn = sts_client(self.server, credentials).get_caller_identity()["Arn"]
        return arn.split("/")[1]

    def cleanup(self) -> None:
        for identity_pool_id in self.identity_pools:
            try:
                self.ci.delete_identity_pool(IdentityPoolId=identity_pool_id)
            except Exception:
                pass
        self.idp.delete_user_pool(UserPoolId=self.pool_id)


@pytest.fixture
def world(server, idp, public):
    w = World(server, idp, public)
    yield w
    w.cleanup()


# ---------------------------------------------------------------------------------------------
# configuration operations


def test_identity_pool_lifecycle_and_tags(world):
    ci = world.ci
    created = ci.create_identity_pool(
        IdentityPoolName="photos app",
        AllowUnauthenticatedIdentities=False,
        AllowClassicFlow=True,
        DeveloperProviderName="login.example",
        CognitoIdentityProviders=[{"ProviderName": world.provider, "ClientId": world.client_id, "ServerSideTokenCheck": True}],
        IdentityPoolTags={"team": "photos"},
    )
    pool_id = created["IdentityPoolId"]
    world.identity_pools.append(pool_id)
    region, uuid = pool_id.split(":")
    assert region == REGION and len(uuid) == 36 and uuid == uuid.lower()
    described = ci.describe_identity_pool(IdentityPoolId=pool_id)
    for key in ("IdentityPoolName", "AllowUnauthenticatedIdentities", "AllowClassicFlow", "DeveloperProviderName", "CognitoIdentityProviders", "IdentityPoolTags"):
        assert described[key] == created[key], key
    assert described["IdentityPoolTags"] == {"team": "photos"}

    updated = ci.update_identity_pool(
        IdentityPoolId=pool_id,
        IdentityPoolName="photos",
        AllowUnauthenticatedIdentities=True,
        DeveloperProviderName="login.example",
    )
    assert updated["IdentityPoolName"] == "photos" and updated["AllowUnauthenticatedIdentities"] is True
    # An update replaces the configuration: the providers it leaves out are gone.
    assert "CognitoIdentityProviders" not in ci.describe_identity_pool(IdentityPoolId=pool_id)
    with pytest.raises(ci.exceptions.InvalidParameterException):
        ci.update_identity_pool(
            IdentityPoolId=pool_id, IdentityPoolName="photos", AllowUnauthenticatedIdentities=True,
            DeveloperProviderName="another.example",
        )

    arn = f"arn:aws:cognito-identity:{REGION}:{ACCOUNT}:identitypool/{pool_id}"
    ci.tag_resource(ResourceArn=arn, Tags={"stage": "test"})
    assert ci.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "photos", "stage": "test"}
    ci.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert ci.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"stage": "test"}
    with pytest.raises(ci.exceptions.ResourceNotFoundException):
        ci.list_tags_for_resource(ResourceArn=f"arn:aws:cognito-identity:{REGION}:{ACCOUNT}:identitypool/{REGION}:00000000-0000-4000-8000-000000000000")

    second = world.identity_pool()
    page = ci.list_identity_pools(MaxResults=1)
    assert len(page["IdentityPools"]) == 1 and "NextToken" in page
    seen = {p["IdentityPoolId"] for p in page["IdentityPools"]}
    while "NextToken" in page:
        page = ci.list_identity_pools(MaxResults=1, NextToken=page["NextToken"])
        seen |= {p["IdentityPoolId"] for p in page["IdentityPools"]}
    assert {pool_id, second} <= seen

    ci.delete_identity_pool(IdentityPoolId=pool_id)
    with pytest.raises(ci.exceptions.ResourceNotFoundException) as missing:
        ci.describe_identity_pool(IdentityPoolId=pool_id)
    expect(missing, "ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.")


def test_configuration_errors(world, server):
    ci = world.ci
    with pytest.raises(ci.exceptions.InvalidParameterException):
        ci.describe_identity_pool(IdentityPoolId="not-an-id")
    # Only the four public operations answer unsigned requests.
    unsigned = requests.post(
        server.url,
        data=json.dumps({"IdentityPoolName": "x", "AllowUnauthenticatedIdentities": True}),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityService.CreateIdentityPool",
        },
        timeout=10,
    )
    assert unsigned.status_code == 400
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    with pytest.raises(ci.exceptions.InvalidParameterException):
        ci.create_identity_pool(
            IdentityPoolName="bad", AllowUnauthenticatedIdentities=False,
            CognitoIdentityProviders=[{"ProviderName": "login.example.com", "ClientId": "abc"}],
        )
    pool_id = world.identity_pool()
    with pytest.raises(ci.exceptions.InvalidParameterException) as unknown:
        ci.set_identity_pool_roles(
            IdentityPoolId=pool_id, Roles={"authenticated": AUTH},
            RoleMappings={"graph.facebook.com": {"Type": "Token", "AmbiguousRoleResolution": "Deny"}},
        )
    expect(unknown, "InvalidParameterException",
           "graph.facebook.com is not a valid RoleMapping ProviderName or is not a configured provider.")


def test_roles_and_principal_tag_maps(world):
    ci = world.ci
    key = f"{world.provider}:{world.client_id}"
    mapping = {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"}
    pool_id = world.identity_pool(mappings={key: mapping})
    roles = ci.get_identity_pool_roles(IdentityPoolId=pool_id)
    assert roles["Roles"] == {"authenticated": AUTH, "unauthenticated": GUEST}
    assert roles["RoleMappings"] == {key: mapping}

    defaults = ci.set_principal_tag_attribute_map(IdentityPoolId=pool_id, IdentityProviderName=world.provider, UseDefaults=True)
    assert defaults["PrincipalTags"] == {"username": "sub", "client": "aud"}
    custom = ci.set_principal_tag_attribute_map(
        IdentityPoolId=pool_id, IdentityProviderName=world.provider, UseDefaults=False, PrincipalTags={"mail": "email"}
    )
    assert custom["UseDefaults"] is False
    got = ci.get_principal_tag_attribute_map(IdentityPoolId=pool_id, IdentityProviderName=world.provider)
    assert got["PrincipalTags"] == {"mail": "email"} and got["IdentityProviderName"] == world.provider


# ---------------------------------------------------------------------------------------------
# the guest and enhanced flows


def test_guest_flow(world):
    pool_id = world.identity_pool()
    first = world.anon.get_id(IdentityPoolId=pool_id)["IdentityId"]
    second = world.anon.get_id(IdentityPoolId=pool_id)["IdentityId"]
    assert first != second and first.startswith(f"{REGION}:")
    out = world.anon.get_credentials_for_identity(IdentityId=first)
    assert out["IdentityId"] == first
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and len(creds["AccessKeyId"]) == 20
    assert len(creds["SecretKey"]) == 40 and creds["SessionToken"]
    assert world.role_of(creds) == "Guest"

    closed = world.identity_pool(AllowUnauthenticatedIdentities=False)
    with pytest.raises(world.anon.exceptions.NotAuthorizedException) as refused:
        world.anon.get_id(IdentityPoolId=closed)
    expect(refused, "NotAuthorizedException", "Unauthenticated access is not supported for this identity pool.")
    missing = f"{REGION}:00000000-0000-4000-8000-000000000000"
    with pytest.raises(world.anon.exceptions.ResourceNotFoundException) as unknown:
        world.anon.get_id(IdentityPoolId=missing)
    expect(unknown, "ResourceNotFoundException", f"IdentityPool '{missing}' not found.")
    with pytest.raises(world.anon.exceptions.ResourceNotFoundException) as unknown_identity:
        world.anon.get_credentials_for_identity(IdentityId=missing)
    expect(unknown_identity, "ResourceNotFoundException", f"Identity '{missing}' not found.")
    # A guest pool without an unauthenticated role cannot mint anything.
    no_role = world.identity_pool(roles={"authenticated": AUTH})
    guest = world.anon.get_id(IdentityPoolId=no_role)["IdentityId"]
    with pytest.raises(world.anon.exceptions.InvalidIdentityPoolConfigurationException) as config:
        world.anon.get_credentials_for_identity(IdentityId=guest)
    expect(config, "InvalidIdentityPoolConfigurationException",
           "Invalid identity pool configuration. Check assigned IAM roles for this pool.")


def test_enhanced_flow_links_logins_to_one_identity(world):
    pool_id = world.identity_pool()
    world.user("alice")
    world.user("bob")
    alice = world.tokens("alice")["IdToken"]
    anon = world.anon
    identity = anon.get_id(IdentityPoolId=pool_id, Logins={world.provider: alice})["IdentityId"]
    # The same user under either provider spelling reaches the same identity.
    assert anon.get_id(IdentityPoolId=pool_id, Logins={world.provider: alice})["IdentityId"] == identity
    assert anon.get_id(IdentityPoolId=pool_id, Logins={world.issuer_provider: alice})["IdentityId"] == identity
    out = anon.get_credentials_for_identity(IdentityId=identity, Logins={world.issuer_provider: alice})
    assert world.role_of(out["Credentials"]) == "Auth"

    described = world.ci.describe_identity(IdentityId=identity)
    assert described["Logins"] == [world.provider]
    assert described["CreationDate"] <= described["LastModifiedDate"]
    listed = world.ci.list_identities(IdentityPoolId=pool_id, MaxResults=60)
    assert identity in [i["IdentityId"] for i in listed["Identities"]]

    # An authenticated identity answers only to one of its own logins.
    with pytest.raises(anon.exceptions.NotAuthorizedException) as no_logins:
        anon.get_credentials_for_identity(IdentityId=identity)
    expect(no_logins, "NotAuthorizedException",
           "Logins don't match. Please include at least one valid login for this identity or identity pool.")
    bob = world.tokens("bob")["IdToken"]
    bob_identity = anon.get_id(IdentityPoolId=pool_id, Logins={world.provider: bob})["IdentityId"]
    assert bob_identity != identity
    with pytest.raises(anon.exceptions.NotAuthorizedException) as stranger:
        anon.get_credentials_for_identity(IdentityId=identity, Logins={world.provider: bob})
    expect(stranger, "NotAuthorizedException",
           "Logins don't match. Please include at least one valid login for this identity or identity pool.")

    # Tokens that are not ID tokens of a configured client are refused.
    tokens = world.tokens("alice")
    with pytest.raises(anon.exceptions.NotAuthorizedException) as access:
        anon.get_id(IdentityPoolId=pool_id, Logins={world.provider: tokens["AccessToken"]})
    expect(access, "NotAuthorizedException", "Invalid login token. Missing a required claim: aud")
    other = world.tokens("alice", world.other_client_id)["IdToken"]
    with pytest.raises(anon.exceptions.NotAuthorizedException) as client:
        anon.get_id(IdentityPoolId=pool_id, Logins={world.provider: other})
    expect(client, "NotAuthorizedException", "Token is not from a supported provider of this identity pool.")
    forged = alice[:-4] + ("AAAA" if not alice.endswith("AAAA") else "BBBB")
    with pytest.raises(anon.exceptions.NotAuthorizedException) as bad:
        anon.get_id(IdentityPoolId=pool_id, Logins={world.provider: forged})
    expect(bad, "NotAuthorizedException", "Invalid login token. Not a valid OpenId Connect identity token.")
    with pytest.raises(anon.exceptions.NotAuthorizedException) as wrong_issuer:
        anon.get_id(IdentityPoolId=pool_id, Logins={f"cognito-idp.{REGION}.amazonaws.com/{REGION}_Other1234": alice})
    assert error_code(wrong_issuer.value) == "NotAuthorizedException"

    # UnlinkIdentity removes the login; the user's next GetId makes a new identity.
    anon.unlink_identity(IdentityId=identity, Logins={world.provider: alice}, LoginsToRemove=[world.provider])
    assert world.ci.describe_identity(IdentityId=identity)["Logins"] == []
    assert anon.get_id(IdentityPoolId=pool_id, Logins={world.provider: alice})["IdentityId"] != identity

    deleted = world.ci.delete_identities(IdentityIdsToDelete=[bob_identity])
    assert deleted["UnprocessedIdentityIds"] == []
    with pytest.raises(world.ci.exceptions.ResourceNotFoundException):
        world.ci.describe_identity(IdentityId=bob_identity)


def test_a_guest_identity_becomes_authenticated_by_its_first_login(world):
    pool_id = world.identity_pool()
    world.user("carol")
    token = world.tokens("carol")["IdToken"]
    guest = world.anon.get_id(IdentityPoolId=pool_id)["IdentityId"]
    out = world.anon.get_credentials_for_identity(IdentityId=guest, Logins={world.provider: token})
    assert world.role_of(out["Credentials"]) == "Auth"
    assert world.anon.get_id(IdentityPoolId=pool_id, Logins={world.provider: token})["IdentityId"] == guest
    with pytest.raises(world.anon.exceptions.NotAuthorizedException):
        world.anon.get_credentials_for_identity(IdentityId=guest)
    # A returning user who is a guest again gets their own identity back, named in the answer.
    again = world.anon.get_id(IdentityPoolId=pool_id)["IdentityId"]
    back = world.anon.get_credentials_for_identity(IdentityId=again, Logins={world.provider: token})
    assert back["IdentityId"] == guest
    assert world.role_of(back["Credentials"]) == "Auth"
    assert world.ci.describe_identity(IdentityId=again)["Logins"] == []


def test_server_side_token_check_refuses_revoked_tokens_and_disabled_users(world):
    checked = world.identity_pool(check=True)
    unchecked = world.identity_pool(check=False)
    world.user("dave")
    world.user("erin")
    tokens = world.tokens("dave")
    assert world.role_of(world.credentials(checked, tokens["IdToken"])["Credentials"]) == "Auth"
    world.public.global_sign_out(AccessToken=tokens["AccessToken"])
    with pytest.raises(world.anon.exceptions.NotAuthorizedException) as revoked:
        world.credentials(checked, tokens["IdToken"])
    assert "revoked" in revoked.value.response["Error"]["Message"]
    # Without the check the token is judged by its signature and expiry alone, as in Cognito.
    assert world.credentials(unchecked, tokens["IdToken"])["Credentials"]["AccessKeyId"].startswith("ASIA")

    erin = world.tokens("erin")["IdToken"]
    world.idp.admin_disable_user(UserPoolId=world.pool_id, Username="erin")
    with pytest.raises(world.anon.exceptions.NotAuthorizedException) as disabled:
        world.credentials(checked, erin)
    # Disabling a user ends its sessions (as AdminDisableUser does in Cognito), so the token
    # is refused as revoked.
    expect(disabled, "NotAuthorizedException", "Invalid login token. Token has been revoked.")
    world.idp.admin_delete_user(UserPoolId=world.pool_id, Username="erin")
    with pytest.raises(world.anon.exceptions.NotAuthorizedException):
        world.credentials(checked, erin)


# ---------------------------------------------------------------------------------------------
# role mappings


def test_token_role_mapping_picks_the_preferred_role_and_deny_refuses(world):
    world.idp.create_group(UserPoolId=world.pool_id, GroupName="admins", RoleArn=ADMIN, Precedence=1)
    world.idp.create_group(UserPoolId=world.pool_id, GroupName="readers", RoleArn=READER, Precedence=2)
    world.idp.create_group(UserPoolId=world.pool_id, GroupName="others", RoleArn=READER, Precedence=2)
    world.idp.create_group(UserPoolId=world.pool_id, GroupName="peers", RoleArn=ADMIN, Precedence=2)
    world.user("root", groups=("admins", "readers"))
    world.user("plain")
    world.user("split", groups=("others", "peers"))
    key = f"{world.provider}:{world.client_id}"
    deny = world.identity_pool(mappings={key: {"Type": "Token", "AmbiguousRoleResolution": "Deny"}})
    fallback = world.identity_pool(mappings={key: {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"}})

    root = world.tokens("root")["IdToken"]
    assert claims(root)["cognito:preferred_role"] == ADMIN
    assert world.role_of(world.credentials(deny, root)["Credentials"]) == "Admin"
    # CustomRoleArn picks another of the token's roles, and nothing outside them.
    assert world.role_of(world.credentials(deny, root, CustomRoleArn=READER)["Credentials"]) == "Reader"
    with pytest.raises(world.anon.exceptions.NotAuthorizedException):
        world.credentials(deny, root, CustomRoleArn=AUTH)

    # No role in the token, or two of equal precedence: ambiguous.
    for name in ("plain", "split"):
        token = world.tokens(name)["IdToken"]
        with pytest.raises(world.anon.exceptions.NotAuthorizedException) as denied:
            world.credentials(deny, token)
        expect(denied, "NotAuthorizedException", f"The ambiguous role mapping rules for: {key} denied this request.")
        assert world.role_of(world.credentials(fallback, token)["Credentials"]) == "Auth"


def test_rules_role_mapping_matches_claims_in_order(world):
    world.idp.create_group(UserPoolId=world.pool_id, GroupName="staff")
    world.user("ann", email="ann@admin.example", groups=("staff",))
    world.user("ben", email="ben@readers.example")
    world.user("cat", email="cat@example.com")
    key = f"{world.provider}:{world.client_id}"
    rules = {
        "Type": "Rules",
        "AmbiguousRoleResolution": "Deny",
        "RulesConfiguration": {"Rules": [
            {"Claim": "cognito:groups", "MatchType": "Contains", "Value": "staff", "RoleARN": ADMIN},
            {"Claim": "email", "MatchType": "Contains", "Value": "@readers.", "RoleARN": READER},
            {"Claim": "email", "MatchType": "StartsWith", "Value": "ann", "RoleARN": READER},
            {"Claim": "custom:plan", "MatchType": "NotEqual", "Value": "free", "RoleARN": AUTH},
        ]},
    }
    pool_id = world.identity_pool(mappings={key: rules})
    assert world.role_of(world.credentials(pool_id, world.tokens("ann")["IdToken"])["Credentials"]) == "Admin"
    # CustomRoleArn chooses among the roles of the rules that match.
    ann = world.tokens("ann")["IdToken"]
    assert world.role_of(world.credentials(pool_id, ann, CustomRoleArn=READER)["Credentials"]) == "Reader"
    assert world.role_of(world.credentials(pool_id, world.tokens("ben")["IdToken"])["Credentials"]) == "Reader"
    # cat matches nothing (NotEqual on an absent claim is not evaluated): Deny.
    with pytest.raises(world.anon.exceptions.NotAuthorizedException) as denied:
        world.credentials(pool_id, world.tokens("cat")["IdToken"])
    expect(denied, "NotAuthorizedException", f"The ambiguous role mapping rules for: {key} denied this request.")


# ---------------------------------------------------------------------------------------------
# developer-authenticated identities and the basic flow


def test_developer_authenticated_identities(world):
    ci = world.ci
    pool_id = world.identity_pool(DeveloperProviderName="login.example", AllowUnauthenticatedIdentities=False)
    first = ci.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool_id, Logins={"login.example": "user-1"}, TokenDuration=120
    )
    token = claims(first["Token"])
    assert token["sub"] == first["IdentityId"] and token["aud"] == pool_id
    assert token["exp"] - token["iat"] == 120
    assert token["amr"][:2] == ["authenticated", "login.example"]
    assert token["amr"][2] == f"login.example:{pool_id}:user-1"
    again = ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={"login.example": "user-1"})
    assert again["IdentityId"] == first["IdentityId"]
    assert claims(again["Token"])["exp"] - claims(again["Token"])["iat"] == 900

    # The token is the login the app passes on to the public operations.
    out = world.anon.get_credentials_for_identity(
        IdentityId=first["IdentityId"], Logins={"cognito-identity.amazonaws.com": first["Token"]}
    )
    assert world.role_of(out["Credentials"]) == "Auth"
    with pytest.raises(world.anon.exceptions.InvalidParameterException):
        world.anon.get_id(IdentityPoolId=pool_id, Logins={"login.example": "user-1"})
    # The token is passed through to credentials, never renewed by exchanging it.
    with pytest.raises(world.anon.exceptions.InvalidParameterException):
        world.anon.get_open_id_token(
            IdentityId=first["IdentityId"], Logins={"cognito-identity.amazonaws.com": first["Token"]}
        )

    looked = ci.lookup_developer_identity(IdentityPoolId=pool_id, DeveloperUserIdentifier="user-1", MaxResults=10)
    assert looked["IdentityId"] == first["IdentityId"] and looked["DeveloperUserIdentifierList"] == ["user-1"]
    second = ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={"login.example": "user-2"})
    with pytest.raises(ci.exceptions.DeveloperUserAlreadyRegisteredException):
        ci.get_open_id_token_for_developer_identity(
            IdentityPoolId=pool_id, IdentityId=second["IdentityId"], Logins={"login.example": "user-1"}
        )
    merged = ci.merge_developer_identities(
        SourceUserIdentifier="user-2", DestinationUserIdentifier="user-1",
        DeveloperProviderName="login.example", IdentityPoolId=pool_id,
    )
    assert merged["IdentityId"] == first["IdentityId"]
    users = ci.lookup_developer_identity(IdentityPoolId=pool_id, IdentityId=first["IdentityId"], MaxResults=10)
    assert sorted(users["DeveloperUserIdentifierList"]) == ["user-1", "user-2"]
    with pytest.raises(ci.exceptions.ResourceNotFoundException):
        ci.describe_identity(IdentityId=second["IdentityId"])
    ci.unlink_developer_identity(
        IdentityId=first["IdentityId"], IdentityPoolId=pool_id,
        DeveloperProviderName="login.example", DeveloperUserIdentifier="user-2",
    )
    users = ci.lookup_developer_identity(IdentityPoolId=pool_id, IdentityId=first["IdentityId"], MaxResults=10)
    assert users["DeveloperUserIdentifierList"] == ["user-1"]
    with pytest.raises(ci.exceptions.ResourceNotFoundException):
        ci.lookup_developer_identity(IdentityPoolId=pool_id, DeveloperUserIdentifier="nobody", MaxResults=10)


def test_basic_flow_through_the_built_in_sts(world, server):
    world.user("fay")
    token = world.tokens("fay")["IdToken"]
    classic = world.identity_pool(AllowClassicFlow=True)
    identity = world.anon.get_id(IdentityPoolId=classic, Logins={world.provider: token})["IdentityId"]
    open_id = world.anon.get_open_id_token(IdentityId=identity, Logins={world.provider: token})
    body = claims(open_id["Token"])
    assert body["iss"] == f"{server.url}/identity"
    assert body["sub"] == identity and body["aud"] == classic
    assert body["exp"] - body["iat"] == 600
    assert body["amr"] == ["authenticated", world.provider, f"{world.provider}:CognitoSignIn:{claims(token)['sub']}"]
    jwks = requests.get(f"{server.url}/identity/.well-known/jwks_uri", timeout=10).json()
    assert any(k["kid"] == json.loads(base64.urlsafe_b64decode(open_id["Token"].split(".")[0] + "=="))["kid"] for k in jwks["keys"])
    discovery = requests.get(f"{server.url}/identity/.well-known/openid-configuration", timeout=10).json()
    assert discovery["issuer"] == f"{server.url}/identity"

    sts = sts_client(server)
    assumed = sts.assume_role_with_web_identity(RoleArn=AUTH, RoleSessionName="web-session", WebIdentityToken=open_id["Token"])
    assert assumed["SubjectFromWebIdentityToken"] == identity
    assert assumed["Audience"] == classic
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Auth/web-session"
    creds = assumed["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    caller = sts_client(server, creds).get_caller_identity()
    assert caller["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Auth/web-session"
    assert caller["Account"] == ACCOUNT
    assert caller["UserId"] == assumed["AssumedRoleUser"]["AssumedRoleId"]

    forged = open_id["Token"][:-4] + ("AAAA" if not open_id["Token"].endswith("AAAA") else "BBBB")
    with pytest.raises(botocore.exceptions.ClientError) as invalid:
        sts.assume_role_with_web_identity(RoleArn=AUTH, RoleSessionName="web", WebIdentityToken=forged)
    assert error_code(invalid.value) == "InvalidIdentityToken"
    # A user-pool ID token is accepted only by roles whose trust policy names its pool.
    with pytest.raises(botocore.exceptions.ClientError) as untrusted:
        sts.assume_role_with_web_identity(RoleArn=AUTH, RoleSessionName="web", WebIdentityToken=token)
    assert error_code(untrusted.value) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as too_long:
        sts.assume_role_with_web_identity(
            RoleArn=AUTH, RoleSessionName="web", WebIdentityToken=open_id["Token"], DurationSeconds=43200
        )
    assert error_code(too_long.value) == "ValidationError"

    enhanced_only = world.identity_pool()
    other = world.anon.get_id(IdentityPoolId=enhanced_only, Logins={world.provider: token})["IdentityId"]
    with pytest.raises(world.anon.exceptions.InvalidParameterException) as off:
        world.anon.get_open_id_token(IdentityId=other, Logins={world.provider: token})
    expect(off, "InvalidParameterException", "Basic (classic) flow is not enabled, please use enhanced flow.")
    key = f"{world.provider}:{world.client_id}"
    mapped = world.identity_pool(AllowClassicFlow=True, mappings={key: {"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"}})
    third = world.anon.get_id(IdentityPoolId=mapped, Logins={world.provider: token})["IdentityId"]
    with pytest.raises(world.anon.exceptions.InvalidParameterException) as mappings:
        world.anon.get_open_id_token(IdentityId=third, Logins={world.provider: token})
    expect(mappings, "InvalidParameterException",
           "Basic (classic) flow is not supported with RoleMappings, please use enhanced flow.")


def test_get_caller_identity_with_an_access_key_and_with_bad_credentials(world, server):
    akid, secret = server.root_credentials()
    root = boto3.client("sts", region_name=REGION, endpoint_url=server.url, aws_access_key_id=akid,
                        aws_secret_access_key=secret, config=RETRIES).get_caller_identity()
    assert root["Arn"] == f"arn:aws:iam::{ACCOUNT}:root"
    pool_id = world.identity_pool()
    creds = world.credentials(pool_id)["Credentials"]
    wrong_secret = dict(creds, SecretKey="x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as mismatch:
        sts_client(server, wrong_secret).get_caller_identity()
    assert error_code(mismatch.value) == "SignatureDoesNotMatch"
    token = creds["SessionToken"]
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    with pytest.raises(botocore.exceptions.ClientError) as tampered:
        sts_client(server, dict(creds, SessionToken=flipped)).get_caller_identity()
    assert error_code(tampered.value) == "InvalidClientTokenId"
    other = world.credentials(pool_id)["Credentials"]
    with pytest.raises(botocore.exceptions.ClientError) as swapped:
        sts_client(server, dict(creds, SessionToken=other["SessionToken"])).get_caller_identity()
    assert error_code(swapped.value) == "InvalidClientTokenId"


# ---------------------------------------------------------------------------------------------
# regressions from the issue-14 review


def test_issue14_an_identity_whose_last_login_was_removed_is_inaccessible(world):
    pool_id = world.identity_pool()
    world.user("gil")
    world.user("hal")
    gil = world.tokens("gil")["IdToken"]
    identity = world.anon.get_id(IdentityPoolId=pool_id, Logins={world.provider: gil})["IdentityId"]
    world.anon.unlink_identity(IdentityId=identity, Logins={world.provider: gil}, LoginsToRemove=[world.provider])
    # Neither as a guest nor with a stranger's login: it is not a guest again.
    with pytest.raises(world.anon.exceptions.NotAuthorizedException):
        world.anon.get_credentials_for_identity(IdentityId=identity)
    hal = world.tokens("hal")["IdToken"]
    with pytest.raises(world.anon.exceptions.NotAuthorizedException):
        world.anon.get_credentials_for_identity(IdentityId=identity, Logins={world.provider: hal})
    with pytest.raises(world.anon.exceptions.NotAuthorizedException):
        world.anon.get_credentials_for_identity(IdentityId=identity, Logins={world.provider: gil})
    assert world.ci.describe_identity(IdentityId=identity)["Logins"] == []


def test_issue14_identity_tokens_assume_only_their_own_pools_roles(world, server):
    world.user("ida")
    token = world.tokens("ida")["IdToken"]
    mine = world.identity_pool(AllowClassicFlow=True)
    theirs = world.identity_pool(AllowClassicFlow=True, roles={"authenticated": ADMIN, "unauthenticated": READER})
    guest = world.anon.get_id(IdentityPoolId=mine)["IdentityId"]
    guest_token = world.anon.get_open_id_token(IdentityId=guest)["Token"]
    member = world.anon.get_id(IdentityPoolId=mine, Logins={world.provider: token})["IdentityId"]
    member_token = world.anon.get_open_id_token(IdentityId=member, Logins={world.provider: token})["Token"]
    sts = sts_client(server)

    def assume(role: str, web_token: str) -> str:
        try:
            sts.assume_role_with_web_identity(RoleArn=role, RoleSessionName="session", WebIdentityToken=web_token)
            return "ok"
        except botocore.exceptions.ClientError as error:
            return error_code(error)

    assert assume(GUEST, guest_token) == "ok"
    assert assume(AUTH, guest_token) == "AccessDenied"  # a guest does not take the authenticated role
    assert assume(AUTH, member_token) == "ok"
    assert assume(GUEST, member_token) == "AccessDenied"
    assert assume(ADMIN, member_token) == "AccessDenied"  # another pool's role
    assert assume(READER, guest_token) == "AccessDenied"
    assert theirs


def test_issue14_custom_roles_and_passed_through_tokens_do_not_bypass_mappings(world):
    world.user("jon", email="jon@readers.example")
    token = world.tokens("jon")["IdToken"]
    key = f"{world.provider}:{world.client_id}"
    rules = {
        "Type": "Rules",
        "AmbiguousRoleResolution": "AuthenticatedRole",
        "RulesConfiguration": {"Rules": [
            {"Claim": "email", "MatchType": "Contains", "Value": "@readers.", "RoleARN": READER},
        ]},
    }
    pool_id = world.identity_pool(DeveloperProviderName="dev.example", mappings={key: rules})
    # A CustomRoleArn no matching rule names is refused, not resolved as ambiguous.
    with pytest.raises(world.anon.exceptions.NotAuthorizedException):
        world.credentials(pool_id, token, CustomRoleArn=ADMIN)
    assert world.role_of(world.credentials(pool_id, token)["Credentials"]) == "Reader"
    # A developer token would take the default role: refused where roles are mapped.
    dev = world.ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={"dev.example": "u-9"})
    with pytest.raises(world.anon.exceptions.NotAuthorizedException):
        world.anon.get_credentials_for_identity(
            IdentityId=dev["IdentityId"], Logins={"cognito-identity.amazonaws.com": dev["Token"]}
        )


def test_issue14_a_guest_token_is_refused_once_guests_are_turned_off(world):
    pool_id = world.identity_pool(AllowClassicFlow=True)
    guest = world.anon.get_id(IdentityPoolId=pool_id)["IdentityId"]
    guest_token = world.anon.get_open_id_token(IdentityId=guest)["Token"]
    world.ci.update_identity_pool(
        IdentityPoolId=pool_id, IdentityPoolName="closed", AllowUnauthenticatedIdentities=False,
        AllowClassicFlow=True,
        CognitoIdentityProviders=[{"ProviderName": world.provider, "ClientId": world.client_id}],
    )
    with pytest.raises(world.anon.exceptions.NotAuthorizedException) as refused:
        world.anon.get_credentials_for_identity(
            IdentityId=guest, Logins={"cognito-identity.amazonaws.com": guest_token}
        )
    expect(refused, "NotAuthorizedException", "Unauthenticated access is not supported for this identity pool.")


def test_issue14_a_merged_developer_identity_still_links_new_logins(world):
    world.user("kim")
    token = world.tokens("kim")["IdToken"]
    pool_id = world.identity_pool(DeveloperProviderName="dev.example")
    first = world.ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={"dev.example": "a"})
    world.ci.get_open_id_token_for_developer_identity(IdentityPoolId=pool_id, Logins={"dev.example": "b"})
    world.ci.merge_developer_identities(
        SourceUserIdentifier="b", DestinationUserIdentifier="a", DeveloperProviderName="dev.example", IdentityPoolId=pool_id
    )
    linked = world.ci.get_open_id_token_for_developer_identity(
        IdentityPoolId=pool_id, IdentityId=first["IdentityId"], Logins={"dev.example": "a", world.provider: token}
    )
    assert linked["IdentityId"] == first["IdentityId"]
    assert world.anon.get_id(IdentityPoolId=pool_id, Logins={world.provider: token})["IdentityId"] == first["IdentityId"]
