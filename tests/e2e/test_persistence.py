"""Graceful shutdown and restart persistence: pools, clients, secrets, signing keys and
access keys survive a restart on the same data dir / database; private keys are
encrypted at rest."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import threading
import time

import pytest
import requests

from helpers import HTTP_TIMEOUT, read_credentials_file, unique

# markers of an RSA private key stored in the clear (PEM, DER, base64/hex of DER, JWK)
PLAINTEXT_KEY_PATTERNS = [
    re.compile(rb"PRIVATE KEY"),
    re.compile(rb"\x30\x82\x04.\x02\x01\x00\x02\x82\x01\x01\x00", re.S),  # PKCS#1 DER
    re.compile(rb"\x30\x82\x04.\x02\x01\x00\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", re.S),  # PKCS#8 DER
    re.compile(rb"AAKCAQEA"),  # base64 of the PKCS#1 header
    re.compile(rb"ADANBgkqhkiG9w0BAQEFAASC"),  # base64 of the PKCS#8 header
    re.compile(rb"0201000282010100", re.I),  # hex of the PKCS#1 header
    re.compile(rb"020100300d06092a864886f70d010101", re.I),  # hex of the PKCS#8 header
    re.compile(rb'"d"\s*:\s*"[A-Za-z0-9_-]{100,}"'),  # JWK private exponent
]


def jwks_kids(server, pool_id: str) -> list[str]:
    resp = requests.get(f"{server.url}/{pool_id}/.well-known/jwks.json", timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text
    return sorted(k["kid"] for k in resp.json()["keys"])


def jwks_doc(server, pool_id: str) -> dict:
    return requests.get(f"{server.url}/{pool_id}/.well-known/jwks.json", timeout=HTTP_TIMEOUT).json()


def normalise(value):
    """Timestamps compared to the millisecond (storage may keep less than the wire shows)."""
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dt.datetime):
        return round(value.timestamp(), 3)
    return value


def test_graceful_shutdown(server_factory):
    server = server_factory.start(name="shutdown")
    client = server.client()
    client.create_user_pool(PoolName=unique("before-stop"))
    rc = server.stop(timeout=10)
    assert rc == 0, f"SIGTERM: exit code {rc} (None = still running after 10 s)\n{server.output}"
    assert "panicked" not in server.output


def test_shutdown_under_load_loses_nothing_acknowledged(server_factory):
    """SIGTERM while requests keep coming: clean exit, and every acknowledged pool is kept."""
    server = server_factory.start(name="inflight")
    client = server.client()
    created: list[str] = []
    errors: list[BaseException] = []
    stop_at = time.monotonic() + 3

    def worker():
        while time.monotonic() < stop_at:
            try:
                created.append(client.create_user_pool(PoolName=unique("inflight"))["UserPool"]["Id"])
            except Exception as exc:  # connection refused once the listener is closed
                errors.append(exc)
                return

    t = threading.Thread(target=worker)
    t.start()
    time.sleep(0.5)
    rc = server.stop(timeout=10)
    t.join(15)
    assert rc == 0, server.output
    assert created, "no pool was created before shutdown"

    restarted = server_factory.start(server.store, name="inflight-restarted")
    client = restarted.client()
    for pool_id in created:
        client.describe_user_pool(UserPoolId=pool_id)  # acknowledged, so it must exist


def test_restart_keeps_everything(server_factory):
    first = server_factory.start(name="persist-1")
    store = first.store
    root = read_credentials_file(first.credentials_file)
    master_key = (store.data_dir / "master.key").read_bytes()
    idp = first.client()

    pool = idp.create_user_pool(
        PoolName=unique("persist"),
        Policies={"PasswordPolicy": {"MinimumLength": 11, "RequireSymbols": False}},
        Schema=[{"Name": "tenant", "AttributeDataType": "String", "Mutable": True}],
        AutoVerifiedAttributes=["email"],
        UserPoolTags={"persist": "yes"},
        DeletionProtection="ACTIVE",
    )["UserPool"]
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="persist-client",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        CallbackURLs=["https://app.example.com/cb"],
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid"],
        AllowedOAuthFlowsUserPoolClient=True,
    )["UserPoolClient"]
    pool_before = normalise(idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"])
    client_before = normalise(
        idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"])["UserPoolClient"]
    )
    tags_before = idp.list_tags_for_resource(ResourceArn=pool["Arn"])["Tags"]
    jwks_before = jwks_doc(first, pool["Id"])
    assert jwks_before["keys"]

    rc = first.stop()
    assert rc == 0, f"SIGTERM: exit code {rc}\n{first.output}"

    second = server_factory.start(store, name="persist-2")
    assert read_credentials_file(second.credentials_file) == root, "root key changed on restart"
    assert (store.data_dir / "master.key").read_bytes() == master_key, "master key changed on restart"
    idp2 = second.client()  # signed with the same root key
    pool_after = normalise(idp2.describe_user_pool(UserPoolId=pool["Id"])["UserPool"])
    client_after = normalise(
        idp2.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"])["UserPoolClient"]
    )
    assert pool_after == pool_before
    assert client_after == client_before
    assert client_after["ClientSecret"] == client["ClientSecret"]
    assert idp2.list_tags_for_resource(ResourceArn=pool["Arn"])["Tags"] == tags_before
    assert jwks_doc(second, pool["Id"]) == jwks_before, "signing keys changed on restart"
    listed = [
        p["Id"]
        for page in idp2.get_paginator("list_user_pools").paginate(PaginationConfig={"PageSize": 60})
        for p in page["UserPools"]
    ]
    assert listed.count(pool["Id"]) == 1

    # deletion protection survived too
    with pytest.raises(idp2.exceptions.InvalidParameterException):
        idp2.delete_user_pool(UserPoolId=pool["Id"])


def test_access_key_from_keys_create_survives_restart(server_factory):
    from helpers import idp_client, run_tessera

    first = server_factory.start(name="keys-persist-1")
    result = run_tessera(["keys", "create", *first.store.args()])
    assert result.returncode == 0, result.stderr
    found = dict(re.findall(r"^\s*(aws_access_key_id|aws_secret_access_key)\s*=\s*(\S+)\s*$", result.stdout, re.M))
    assert first.stop() == 0
    second = server_factory.start(first.store, name="keys-persist-2")
    c = idp_client(second.url, found["aws_access_key_id"], found["aws_secret_access_key"])
    assert c.list_user_pools(MaxResults=1)["ResponseMetadata"]["HTTPStatusCode"] == 200


def _scan(blob: bytes, where: str) -> list[str]:
    return [f"{where}: {p.pattern!r}" for p in PLAINTEXT_KEY_PATTERNS if p.search(blob)]


def test_private_keys_encrypted_at_rest(server_factory):
    server = server_factory.start(name="at-rest")
    idp = server.client()
    pools = [idp.create_user_pool(PoolName=unique("at-rest"))["UserPool"]["Id"] for _ in range(2)]
    for pool_id in pools:
        assert jwks_kids(server, pool_id)
    store = server.store
    assert server.stop() == 0

    hits: list[str] = []
    if store.backend == "sqlite":
        for path in store.data_dir.rglob("*"):
            if path.is_file() and path.name not in ("master.key", "credentials"):
                hits += _scan(path.read_bytes(), path.name)
    else:
        pg_dump = shutil.which("pg_dump")
        if not pg_dump:
            pytest.skip("pg_dump not installed")
        dump = subprocess.run(
            [pg_dump, "--data-only", store.database_url], capture_output=True, timeout=60
        )
        assert dump.returncode == 0, dump.stderr.decode(errors="replace")
        assert dump.stdout, "empty dump"
        hits += _scan(dump.stdout, "pg_dump")
    assert not hits, f"private key material stored in plaintext: {hits}"
