"""Identity pools (issue 14) from npm clients against the shared server of each backend, run
with `node --test` from tests/e2e/js (the pattern of test_amplify.py, whose `node` fixture and
`run_node_test` come from test_js_clients.py):

  identity-amplify.test.mjs  Amplify JS v6 (`aws-amplify`) with identityPoolId,
                             identityPoolEndpoint and allowGuestAccess: fetchAuthSession before
                             sign-in gives guest credentials (GetId, GetCredentialsForIdentity),
                             cached and force-refreshed; after signIn (SRP) the guest identity
                             becomes the user's (Logins under the ID token's issuer without its
                             scheme, as Amplify computes it); after signOut a new guest; a
                             returning user signing in from that new guest gets their own
                             identity back (USER_PASSWORD_AUTH); a second user gets another; a
                             pool that admits no guests refuses the guest session. Every set of
                             credentials signs an STS GetCallerIdentity to tessera (npm
                             `@aws-sdk/client-sts`), whose Arn names the unauthenticated or the
                             authenticated role.
  identity-sdk.test.mjs      the AWS SDK for JavaScript v3's `fromCognitoIdentityPool`
                             (`@aws-sdk/credential-providers`) with `clientConfig.endpoint` set to
                             tessera: guest and authenticated (Logins under the AWS provider name
                             and under the issuer) credentials, the provider used directly as an
                             STSClient's `credentials`, its identity-id cache, and the refusals of
                             a pool without guests and of a forged ID token.

This driver makes the user pool, its client and confirmed users through boto3 (admin API, root
credentials), two identity pools through boto3's `cognito-identity` client (signed with the root
key): one admitting guests and one not, both with the user pool as a Cognito provider and roles
set with SetIdentityPoolRoles, and hands everything to node in TESSERA_E2E_* variables. The
shared server has no `[identity]` section, so the credentials may act as any role and are allowed
nothing, which GetCallerIdentity does not need. Afterwards it checks through the admin API the
identities the clients left behind.
"""

from __future__ import annotations

import boto3
import pytest

from helpers import REGION, unique
from test_js_clients import confirmed_user, new_client, node, password_sign_in, run_node_test  # noqa: F401 (node is a fixture)

ACCOUNT = "000000000000"
AUTH_ROLE = "TesseraE2eAuthenticated"
GUEST_ROLE = "TesseraE2eGuest"
FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def identity_admin(server):
    """boto3 `cognito-identity` signed with the root key (the pool operations need SigV4)."""
    akid, secret = server.root_credentials()
    return boto3.client(
        "cognito-identity",
        region_name=REGION,
        endpoint_url=server.url,
        aws_access_key_id=akid,
        aws_secret_access_key=secret,
    )


class IdentityWorld:
    """A user pool with one client, and identity pools over it (deleted afterwards)."""

    def __init__(self, server, idp, make_pool):
        self.server = server
        self.idp = idp
        self.ci = identity_admin(server)
        self.pool = make_pool(PoolName=unique("e2e-identity-js"))
        self.pool_id = self.pool["Id"]
        self.client_id = new_client(idp, self.pool_id, FLOWS)["ClientId"]
        self.provider = f"cognito-idp.{REGION}.amazonaws.com/{self.pool_id}"
        # The provider name Amplify computes: the ID token's issuer without its scheme.
        self.issuer_provider = f"{server.url.split('://', 1)[1]}/{self.pool_id}"
        self.identity_pools: list[str] = []

    def identity_pool(self, allow_guests: bool) -> str:
        made = self.ci.create_identity_pool(
            IdentityPoolName=unique("e2e-identity-js"),
            AllowUnauthenticatedIdentities=allow_guests,
            CognitoIdentityProviders=[
                {"ProviderName": self.provider, "ClientId": self.client_id, "ServerSideTokenCheck": False}
            ],
        )
        pool_id = made["IdentityPoolId"]
        self.identity_pools.append(pool_id)
        assert pool_id.startswith(f"{REGION}:"), made
        assert made["AllowUnauthenticatedIdentities"] is allow_guests
        self.ci.set_identity_pool_roles(
            IdentityPoolId=pool_id,
            Roles={
                "authenticated": f"arn:aws:iam::{ACCOUNT}:role/{AUTH_ROLE}",
                "unauthenticated": f"arn:aws:iam::{ACCOUNT}:role/{GUEST_ROLE}",
            },
        )
        return pool_id

    def identities(self, identity_pool_id: str) -> dict[str, list[str]]:
        """Identity id -> its linked providers, from ListIdentities."""
        listed = self.ci.list_identities(IdentityPoolId=identity_pool_id, MaxResults=60)
        return {i["IdentityId"]: sorted(i.get("Logins", [])) for i in listed["Identities"]}

    def variables(self) -> dict[str, str]:
        return {
            "TESSERA_E2E_ENDPOINT": self.server.url,
            "TESSERA_E2E_REGION": REGION,
            "TESSERA_E2E_POOL_ID": self.pool_id,
            "TESSERA_E2E_CLIENT_ID": self.client_id,
            "TESSERA_E2E_PROVIDER": self.provider,
            "TESSERA_E2E_ISSUER_PROVIDER": self.issuer_provider,
            "TESSERA_E2E_ACCOUNT": ACCOUNT,
            "TESSERA_E2E_AUTH_ROLE": AUTH_ROLE,
            "TESSERA_E2E_GUEST_ROLE": GUEST_ROLE,
        }

    def cleanup(self) -> None:
        for identity_pool_id in self.identity_pools:
            try:
                self.ci.delete_identity_pool(IdentityPoolId=identity_pool_id)
            except Exception:
                pass


@pytest.fixture
def world(server, idp, make_pool):
    w = IdentityWorld(server, idp, make_pool)
    yield w
    w.cleanup()


def test_amplify_js_v6_identity_pool(world, node):
    open_pool = world.identity_pool(allow_guests=True)
    closed_pool = world.identity_pool(allow_guests=False)
    user = confirmed_user(world.idp, world.pool_id)
    other = confirmed_user(world.idp, world.pool_id)
    run_node_test(
        node,
        "identity-amplify.test.mjs",
        {
            **world.variables(),
            "TESSERA_E2E_IDENTITY_POOL_ID": open_pool,
            "TESSERA_E2E_CLOSED_IDENTITY_POOL_ID": closed_pool,
            "TESSERA_E2E_USERNAME": user["username"],
            "TESSERA_E2E_PASSWORD": user["password"],
            "TESSERA_E2E_OTHER_USERNAME": other["username"],
            "TESSERA_E2E_OTHER_PASSWORD": other["password"],
        },
        min_passed=10,
    )
    # What Amplify left behind, as the admin API sees it: the first guest identity became the
    # user's (its login stored under the AWS provider name, whichever spelling Amplify sent), the
    # second user's identity is another guest that became theirs, and the closed pool has none.
    identities = world.identities(open_pool)
    linked = [identity for identity, logins in identities.items() if logins == [world.provider]]
    assert len(linked) == 2, identities
    assert world.identities(closed_pool) == {}


def test_aws_sdk_v3_from_cognito_identity_pool(world, node):
    open_pool = world.identity_pool(allow_guests=True)
    closed_pool = world.identity_pool(allow_guests=False)
    user = confirmed_user(world.idp, world.pool_id)
    tokens = password_sign_in(world.server.unsigned_client(), world.client_id, user)
    run_node_test(
        node,
        "identity-sdk.test.mjs",
        {
            **world.variables(),
            "TESSERA_E2E_IDENTITY_POOL_ID": open_pool,
            "TESSERA_E2E_CLOSED_IDENTITY_POOL_ID": closed_pool,
            "TESSERA_E2E_ID_TOKEN": tokens["IdToken"],
        },
        min_passed=7,
    )
    # One authenticated identity for the user in each pool, whatever spelling of the provider
    # was used; the closed pool made no guest.
    identities = world.identities(open_pool)
    assert list(identities.values()).count([world.provider]) == 1, identities
    assert list(world.identities(closed_pool).values()) == [[world.provider]]
