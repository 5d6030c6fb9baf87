"""The AWS CLI with the generated credentials file, refused calls, `tessera keys create`
and the TESSERA_ROOT_* environment path."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from helpers import (
    CLIENT_ID_RE,
    POOL_ID_RE,
    REGION,
    idp_client,
    read_credentials_file,
    run_tessera,
    server_env,
    tessera_bin,
    signed_post,
    unique,
    write_credentials_file,
    assert_aws_error,
)


@pytest.fixture(scope="module")
def cli_server(module_factory):
    """A server of its own, so list-user-pools sees a small, known set of pools."""
    return module_factory.start(name="cli")


def aws_cli(server, args: list[str], credentials_file: Path | None, tmp_path: Path, extra: list[str] = ()):
    config = tmp_path / "aws-config"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=str(credentials_file) if credentials_file else os.devnull,
        AWS_CONFIG_FILE=str(config),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
        AWS_MAX_ATTEMPTS="1",
    )
    cmd = [
        sys.executable,
        "-m",
        "awscli",
        "--endpoint-url",
        server.url,
        "--region",
        REGION,
        "--output",
        "json",
        *extra,
        "cognito-idp",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)


def ok_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, f"aws exited {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else {}


def test_first_start_writes_credentials_and_master_key(cli_server):
    data_dir = cli_server.store.data_dir
    assert (data_dir / "master.key").is_file()
    akid, secret = read_credentials_file(data_dir / "credentials")
    assert akid and secret
    assert akid != secret
    # secrets on disk are readable by their owner only
    for name in ("master.key", "credentials"):
        mode = (data_dir / name).stat().st_mode
        assert mode & 0o077 == 0, f"{name} has mode {oct(mode & 0o777)}"
    sqlite_files = [
        p for p in data_dir.rglob("*") if p.is_file() and p.read_bytes()[:16] == b"SQLite format 3\x00"
    ]
    if cli_server.store.backend == "sqlite":
        assert sqlite_files, f"no SQLite database in the data dir: {list(data_dir.iterdir())}"
    else:
        assert not sqlite_files, f"postgres backend but a SQLite file exists: {sqlite_files}"


def test_startup_prints_endpoint_and_hint(cli_server):
    out = cli_server.output
    assert f"listening on {cli_server.url}" in out
    assert "AWS_SHARED_CREDENTIALS_FILE" in out, out


def test_cli_with_generated_credentials(cli_server, tmp_path):
    creds = cli_server.credentials_file
    name = unique("cli-pool")
    pool = ok_json(aws_cli(cli_server, ["create-user-pool", "--pool-name", name], creds, tmp_path))["UserPool"]
    assert POOL_ID_RE.match(pool["Id"]), pool
    assert pool["Name"] == name

    client = ok_json(
        aws_cli(
            cli_server,
            [
                "create-user-pool-client",
                "--user-pool-id",
                pool["Id"],
                "--client-name",
                "cli-client",
                "--generate-secret",
                "--explicit-auth-flows",
                "ALLOW_USER_PASSWORD_AUTH",
                "ALLOW_REFRESH_TOKEN_AUTH",
            ],
            creds,
            tmp_path,
        )
    )["UserPoolClient"]
    assert CLIENT_ID_RE.match(client["ClientId"]), client
    assert client["ClientSecret"]

    listed = ok_json(aws_cli(cli_server, ["list-user-pools", "--max-results", "10"], creds, tmp_path))
    assert pool["Id"] in [p["Id"] for p in listed["UserPools"]], listed

    described = ok_json(
        aws_cli(
            cli_server,
            ["describe-user-pool-client", "--user-pool-id", pool["Id"], "--client-id", client["ClientId"]],
            creds,
            tmp_path,
        )
    )["UserPoolClient"]
    assert described["ClientSecret"] == client["ClientSecret"]

    # no secret ever logged
    _, root_secret = read_credentials_file(creds)
    assert root_secret not in cli_server.output
    assert client["ClientSecret"] not in cli_server.output


def test_cli_wrong_secret_is_refused(cli_server, tmp_path):
    akid, secret = read_credentials_file(cli_server.credentials_file)
    wrong = write_credentials_file(tmp_path / "wrong-credentials", akid, "W" + secret[1:] if secret[0] != "W" else "X" + secret[1:])
    result = aws_cli(cli_server, ["list-user-pools", "--max-results", "10"], wrong, tmp_path)
    assert result.returncode != 0, result.stdout
    assert "InvalidSignatureException" in result.stderr, result.stderr


def test_cli_unsigned_is_refused(cli_server, tmp_path):
    result = aws_cli(
        cli_server, ["list-user-pools", "--max-results", "10"], None, tmp_path, extra=["--no-sign-request"]
    )
    assert result.returncode != 0, result.stdout
    assert "MissingAuthenticationTokenException" in result.stderr, result.stderr


def test_cli_unsigned_create_is_refused(cli_server, tmp_path):
    name = unique("never")
    result = aws_cli(
        cli_server, ["create-user-pool", "--pool-name", name], None, tmp_path, extra=["--no-sign-request"]
    )
    assert result.returncode != 0, result.stdout
    assert "MissingAuthenticationTokenException" in result.stderr, result.stderr
    listed = ok_json(
        aws_cli(cli_server, ["list-user-pools", "--max-results", "60"], cli_server.credentials_file, tmp_path)
    )
    assert name not in [p["Name"] for p in listed["UserPools"]]


def test_cli_unknown_access_key_is_refused(cli_server, tmp_path):
    unknown = write_credentials_file(tmp_path / "unknown-credentials", "AKIAE2EUNKNOWN000000", "s" * 40)
    result = aws_cli(cli_server, ["list-user-pools", "--max-results", "10"], unknown, tmp_path)
    assert result.returncode != 0, result.stdout
    assert "UnrecognizedClientException" in result.stderr, result.stderr


KEY_LINE = re.compile(r"^\s*(aws_access_key_id|aws_secret_access_key)\s*=\s*(\S+)\s*$", re.M)


def test_keys_create_gives_a_working_key(cli_server):
    store = cli_server.store
    result = run_tessera(["keys", "create", *store.args()])
    assert result.returncode == 0, f"stdout: {result.stdout}\nstderr: {result.stderr}"
    found = dict(KEY_LINE.findall(result.stdout))
    assert set(found) == {"aws_access_key_id", "aws_secret_access_key"}, result.stdout
    akid, secret = found["aws_access_key_id"], found["aws_secret_access_key"]
    root_akid, _ = cli_server.root_credentials()
    assert akid != root_akid

    client = idp_client(cli_server.url, akid, secret)
    name = unique("keys-create")
    pool = client.create_user_pool(PoolName=name)["UserPool"]
    assert client.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["Name"] == name

    # the new key's secret is checked too
    resp = signed_post(cli_server.url, "ListUserPools", {"MaxResults": 1}, akid, secret + "x")
    assert_aws_error(resp, "InvalidSignatureException")

    # and the root key still works
    assert cli_server.client().list_user_pools(MaxResults=1)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_keys_create_twice_gives_distinct_keys(cli_server):
    keys = []
    for _ in range(2):
        result = run_tessera(["keys", "create", *cli_server.store.args()])
        assert result.returncode == 0, result.stderr
        keys.append(dict(KEY_LINE.findall(result.stdout)))
    assert keys[0]["aws_access_key_id"] != keys[1]["aws_access_key_id"]
    assert keys[0]["aws_secret_access_key"] != keys[1]["aws_secret_access_key"]


def test_root_key_from_environment(server_factory):
    akid = "AKIAE2EROOTKEY000001"
    secret = "e2eRootSecretKey/0123456789abcdefghijklm"
    server = server_factory.start(
        name="rootenv",
        env={"TESSERA_ROOT_ACCESS_KEY_ID": akid, "TESSERA_ROOT_SECRET_ACCESS_KEY": secret},
    )
    client = idp_client(server.url, akid, secret)
    pool = client.create_user_pool(PoolName=unique("rootenv"))["UserPool"]
    assert client.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["Id"] == pool["Id"]

    resp = signed_post(server.url, "ListUserPools", {"MaxResults": 1}, akid, secret[:-1] + "Z")
    assert_aws_error(resp, "InvalidSignatureException")

    if server.credentials_file.exists():
        file_akid, file_secret = read_credentials_file(server.credentials_file)
        assert (file_akid, file_secret) == (akid, secret), "credentials file does not hold the given root key"
    assert secret not in server.output, "root secret was logged"


def test_health(cli_server):
    resp = requests.get(cli_server.url + "/health", timeout=10)
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


def test_second_server_on_one_database(cli_server):
    """SQLite serves one node: tessera caches users, pools and sessions in memory on it, so a
    second server on the same file is refused with a clear message. On PostgreSQL several
    nodes share the database by design, and a second one starts."""
    from helpers import TesseraServer

    if cli_server.store.backend == "sqlite":
        result = subprocess.run(
            [str(tessera_bin()), "serve", "--listen", "127.0.0.1:0", *cli_server.store.args()],
            capture_output=True,
            text=True,
            timeout=60,
            env=server_env(),
            stdin=subprocess.DEVNULL,
        )
        assert result.returncode != 0
        assert "another tessera server is using" in result.stderr, result.stderr
        assert "use PostgreSQL to run several" in result.stderr
        # The first server is unaffected.
        assert requests.get(cli_server.url + "/health", timeout=10).status_code == 200
    else:
        second = TesseraServer(cli_server.store, name="second").start()
        try:
            assert requests.get(second.url + "/health", timeout=10).status_code == 200
        finally:
            second.stop()


def test_issue_11_a_deleted_key_stops_working_on_every_node(server_factory):
    """`tessera keys delete` ends a key everywhere within seconds (issue 11 §1.8): every node
    keeps an opened secret for a few seconds only. On PostgreSQL two nodes share the database;
    SQLite serves one."""
    from auth_support import start_cluster

    if server_factory.backend == "postgres":
        nodes = start_cluster(server_factory, count=2)
        # The command must open the database with the cluster's master key.
        env = {"TESSERA_MASTER_KEY": nodes[0].env["TESSERA_MASTER_KEY"]}
    else:
        nodes = [server_factory.start(name="keys-delete")]
        env = None
    store_args = nodes[0].store.args()
    created = run_tessera(["keys", "create", *store_args], env=env)
    assert created.returncode == 0, created.stderr
    found = dict(KEY_LINE.findall(created.stdout))
    akid, secret = found["aws_access_key_id"], found["aws_secret_access_key"]
    for node in nodes:
        assert signed_post(node.url, "ListUserPools", {"MaxResults": 1}, akid, secret).status_code == 200
    listed = run_tessera(["keys", "list", *store_args], env=env)
    assert akid in listed.stdout.split() and "aws_secret_access_key" not in listed.stdout

    deleted = run_tessera(["keys", "delete", *store_args, akid], env=env)
    assert deleted.returncode == 0, deleted.stderr
    assert akid not in run_tessera(["keys", "list", *store_args], env=env).stdout.split()
    again = run_tessera(["keys", "delete", *store_args, akid], env=env)
    assert again.returncode != 0 and "no access key" in again.stderr
    for node in nodes:
        deadline = time.monotonic() + 30
        while True:
            resp = signed_post(node.url, "ListUserPools", {"MaxResults": 1}, akid, secret)
            if resp.status_code != 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert_aws_error(resp, "UnrecognizedClientException")
    # The root key is untouched.
    assert nodes[0].client().list_user_pools(MaxResults=1)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_version_names_the_git_revision_it_was_built_from():
    """Issue 16 (packaging): `tessera --version` says which source the binary is, so an image
    or a running server can be traced to its commit."""
    result = run_tessera(["--version"])
    assert result.returncode == 0, result.stderr
    match = re.fullmatch(r"tessera (\d+\.\d+\.\d+) \(([0-9a-f]{12}|unknown)\)\n", result.stdout)
    assert match, result.stdout
    repository = Path(__file__).resolve().parents[2]
    head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=repository,
                          capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout: the revision cannot be compared")
    assert match.group(2) == head.stdout.strip()
