"""pycognito (the Python client many apps use) pointed at tessera by endpoint only.

`Cognito.authenticate` signs in over USER_SRP_AUTH and then verifies both tokens itself
against `<endpoint>/<poolId>/.well-known/jwks.json` with `iss == <endpoint>/<poolId>` (wire
facts 3.10), so a passing sign-in proves the SRP exchange, the JWKS and the issuer together.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from pycognito import Cognito

from helpers import PASSWORD, unique

FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


@pytest.fixture
def pool_client(server, idp):
    pool = idp.create_user_pool(PoolName=unique("pycognito"))["UserPool"]
    # ENABLED, so that an unknown user and a wrong password answer alike (the API's default,
    # when the setting is left out, is LEGACY).
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="py", ExplicitAuthFlows=FLOWS, PreventUserExistenceErrors="ENABLED"
    )["UserPoolClient"]
    secret_client = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="py-secret", ExplicitAuthFlows=FLOWS, GenerateSecret=True
    )["UserPoolClient"]
    yield pool, client, secret_client
    idp.delete_user_pool(UserPoolId=pool["Id"])


def user_of(server, idp, pool, username: str, email: str) -> None:
    idp.admin_create_user(
        UserPoolId=pool["Id"],
        Username=username,
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
        MessageAction="SUPPRESS",
    )
    idp.admin_set_user_password(UserPoolId=pool["Id"], Username=username, Password=PASSWORD, Permanent=True)


def cognito(server, pool, client, username: str, **kwargs) -> Cognito:
    return Cognito(
        pool["Id"],
        client["ClientId"],
        username=username,
        boto3_client_kwargs={"endpoint_url": server.url, "region_name": "us-east-1"},
        **kwargs,
    )


def test_srp_sign_in_verifies_tokens_refreshes_and_signs_out(server, idp, pool_client):
    pool, client, _ = pool_client
    name = unique("ada")
    user_of(server, idp, pool, name, f"{name}@example.com")
    session = cognito(server, pool, client, name)
    session.authenticate(password=PASSWORD)
    # pycognito verified both tokens against tessera's JWKS and issuer.
    assert session.id_claims["cognito:username"] == name
    assert session.id_claims["iss"] == f"{server.url}/{pool['Id']}"
    assert session.access_claims["client_id"] == client["ClientId"]
    assert session.get_user().email == f"{name}@example.com"

    first_access = session.access_token
    session.renew_access_token()
    assert session.access_token != first_access
    assert session.id_claims["cognito:username"] == name

    session.logout()  # GlobalSignOut
    with pytest.raises(ClientError) as info:
        idp.get_user(AccessToken=first_access)
    assert info.value.response["Error"]["Message"] == "Access Token has been revoked"


def test_srp_with_client_secret(server, idp, pool_client):
    pool, _, secret_client = pool_client
    name = unique("grace")
    user_of(server, idp, pool, name, f"{name}@example.com")
    session = cognito(server, pool, secret_client, name, client_secret=secret_client["ClientSecret"])
    session.authenticate(password=PASSWORD)
    assert session.access_claims["username"] == name


def test_srp_sign_in_with_email_alias_uses_the_internal_username(server, idp):
    """With e-mail as username, USER_ID_FOR_SRP is the internal (UUID) username."""
    pool = idp.create_user_pool(PoolName=unique("pycognito-email"), UsernameAttributes=["email"])["UserPool"]
    # ENABLED, so that an unknown user and a wrong password answer alike (the API's default,
    # when the setting is left out, is LEGACY).
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="py", ExplicitAuthFlows=FLOWS, PreventUserExistenceErrors="ENABLED"
    )["UserPoolClient"]
    try:
        email = f"{unique('lin')}@example.com"
        idp.admin_create_user(UserPoolId=pool["Id"], Username=email, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool["Id"], Username=email, Password=PASSWORD, Permanent=True)
        session = cognito(server, pool, client, email)
        session.authenticate(password=PASSWORD)
        assert session.id_claims["email"] == email
        assert session.id_claims["cognito:username"] == session.id_claims["sub"]
    finally:
        idp.delete_user_pool(UserPoolId=pool["Id"])


def test_srp_wrong_password_and_unknown_user_look_alike(server, idp, pool_client):
    pool, client, _ = pool_client
    name = unique("alan")
    user_of(server, idp, pool, name, f"{name}@example.com")
    errors = []
    for username, password in ((name, "Wrong-passw0rd!"), (unique("nobody"), PASSWORD)):
        with pytest.raises(ClientError) as info:
            cognito(server, pool, client, username).authenticate(password=password)
        errors.append(info.value.response["Error"])
    assert errors[0]["Code"] == errors[1]["Code"] == "NotAuthorizedException"
    assert errors[0]["Message"] == errors[1]["Message"] == "Incorrect username or password."
