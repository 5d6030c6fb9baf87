"""Declarative bootstrap: pools and app clients with fixed ids and secrets from --config."""

from __future__ import annotations

import requests

from helpers import HTTP_TIMEOUT

POOL_ID = "us-east-1_Bootstrap1"
CLIENT_ID = "bootstrapclient0000000001"
CLIENT_SECRET = "bootstrapsecret0000000000000000000000000000000001"

CONFIG = f"""
[[pools]]
id = "{POOL_ID}"
name = "bootstrap-pool"
[[pools.clients]]
id = "{CLIENT_ID}"
name = "web"
secret = "{CLIENT_SECRET}"
explicit_auth_flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
"""


def all_pool_ids(idp) -> list[str]:
    return [
        p["Id"]
        for page in idp.get_paginator("list_user_pools").paginate(PaginationConfig={"PageSize": 60})
        for p in page["UserPools"]
    ]


def check_bootstrapped(server) -> dict:
    idp = server.client()
    pool = idp.describe_user_pool(UserPoolId=POOL_ID)["UserPool"]
    assert pool["Id"] == POOL_ID
    assert pool["Name"] == "bootstrap-pool"
    assert pool["Arn"].endswith(f":userpool/{POOL_ID}")

    client = idp.describe_user_pool_client(UserPoolId=POOL_ID, ClientId=CLIENT_ID)["UserPoolClient"]
    assert client["ClientId"] == CLIENT_ID
    assert client["ClientName"] == "web"
    assert client["ClientSecret"] == CLIENT_SECRET
    assert sorted(client["ExplicitAuthFlows"]) == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]

    assert all_pool_ids(idp).count(POOL_ID) == 1
    clients = idp.list_user_pool_clients(UserPoolId=POOL_ID, MaxResults=60)["UserPoolClients"]
    assert [c["ClientId"] for c in clients] == [CLIENT_ID]

    jwks = requests.get(f"{server.url}/{POOL_ID}/.well-known/jwks.json", timeout=HTTP_TIMEOUT)
    assert jwks.status_code == 200
    return {"pool": pool, "client": client, "jwks": jwks.json()}


def test_bootstrap_creates_pool_and_client_idempotently(server_factory, tmp_path):
    config = tmp_path / "tessera.toml"
    config.write_text(CONFIG)

    first = server_factory.start(name="bootstrap-1", extra_args=["--config", str(config)])
    state1 = check_bootstrapped(first)
    # the bootstrapped pool is an ordinary pool: it can be changed through the API
    first.client().tag_resource(ResourceArn=state1["pool"]["Arn"], Tags={"touched": "yes"})
    assert first.stop() == 0, first.output

    second = server_factory.start(first.store, name="bootstrap-2", extra_args=["--config", str(config)])
    state2 = check_bootstrapped(second)
    assert state2["pool"]["CreationDate"] == state1["pool"]["CreationDate"]
    assert state2["client"]["CreationDate"] == state1["client"]["CreationDate"]
    assert state2["jwks"] == state1["jwks"], "restart re-created the bootstrapped pool's keys"
    assert second.client().list_tags_for_resource(ResourceArn=state1["pool"]["Arn"])["Tags"] == {"touched": "yes"}
    assert "panicked" not in second.output


def test_bootstrap_config_via_environment(server_factory, tmp_path):
    """Every flag is also read from TESSERA_<NAME>: here TESSERA_CONFIG."""
    config = tmp_path / "tessera.toml"
    config.write_text(CONFIG)
    server = server_factory.start(name="bootstrap-env", env={"TESSERA_CONFIG": str(config)})
    check_bootstrapped(server)
