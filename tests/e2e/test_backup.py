"""Issue 16: `tessera backup` takes a consistent snapshot of a running SQLite installation while
it signs users up, and `tessera restore` puts it into a fresh data directory: every user whose
sign-up was acknowledged before the backup started is there and signs in (through pycognito's
SRP as well as USER_PASSWORD_AUTH), the database passes SQLite's integrity check, and the
restore refuses a master key other than the one the backup was taken with. On PostgreSQL the
command refuses and names pg_dump."""

from __future__ import annotations

import json
import secrets
import threading
import time

import botocore.exceptions
import pytest
from pycognito import Cognito

from helpers import PASSWORD, App, Store, run_tessera, unique

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def test_issue16_backup_under_load_restores_every_acknowledged_user(backend, server_factory, tmp_path):
    if backend != "sqlite":
        pytest.skip("tessera backup copies SQLite installations")
    server = server_factory.start(name="backup-source")
    app = App.create(server, client={"ExplicitAuthFlows": FLOWS})
    acknowledged: list[tuple[str, float]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            name = unique("saved")
            try:
                app.public.sign_up(ClientId=app.client_id, Username=name, Password=PASSWORD)
                app.idp.admin_confirm_sign_up(UserPoolId=app.pool_id, Username=name)
            except botocore.exceptions.ClientError:
                continue
            with lock:
                acknowledged.append((name, time.monotonic()))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        time.sleep(2)
        started = time.monotonic()
        output = tmp_path / "backup"
        done = run_tessera(["backup", "--output", str(output), *server.store.args()])
        assert done.returncode == 0, done.stderr
        time.sleep(1)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    before = [name for name, at in acknowledged if at < started]
    after = [name for name, at in acknowledged if at >= started]
    assert len(before) >= 5 and after, (len(before), len(after))
    manifest = json.loads((output / "backup.json").read_text())
    assert manifest["format"] == "tessera-backup-1" and manifest["database"] == "tessera.db"
    assert not (output / "master.key").exists(), "the master key travels apart from the backup"
    server.stop()

    # A wrong master key is refused and leaves nothing behind.
    wrong = tmp_path / "wrong.key"
    wrong.write_text(secrets.token_hex(32) + "\n")
    fresh = tmp_path / "restored"
    done = run_tessera(["restore", "--from", str(output), "--data-dir", str(fresh), "--master-key-file", str(wrong)])
    assert done.returncode != 0 and "not the one the backup was taken with" in done.stderr, done.stderr
    assert not (fresh / "tessera.db").exists()
    done = run_tessera(["restore", "--from", str(output), "--data-dir", str(fresh)])
    assert done.returncode != 0 and "needs the master key" in done.stderr, done.stderr

    key = server.store.data_dir / "master.key"
    done = run_tessera(["restore", "--from", str(output), "--data-dir", str(fresh), "--master-key-file", str(key)])
    assert done.returncode == 0, done.stderr
    # Restoring over a database is refused.
    again = run_tessera(["restore", "--from", str(output), "--data-dir", str(fresh), "--master-key-file", str(key)])
    assert again.returncode != 0 and "already exists" in again.stderr

    restored = server_factory.start(Store("sqlite", fresh, None), name="backup-restored")
    idp = restored.client()
    public = restored.unsigned_client()
    listed = set()
    token = None
    while True:
        page = idp.list_users(UserPoolId=app.pool_id, **({"PaginationToken": token} if token else {}))
        listed.update(user["Username"] for user in page["Users"])
        token = page.get("PaginationToken")
        if not token:
            break
    missing = set(before) - listed
    assert not missing, f"{len(missing)} users acknowledged before the backup are missing"
    for name in before[:: max(1, len(before) // 10)]:
        tokens = public.initiate_auth(
            ClientId=app.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD}
        )["AuthenticationResult"]
        assert public.get_user(AccessToken=tokens["AccessToken"])["Username"] == name
    # SRP, whose verifiers are sealed with the master key, works after the restore too.
    user = Cognito(
        app.pool_id,
        app.client_id,
        username=before[0],
        boto3_client_kwargs={"endpoint_url": restored.url, "region_name": "us-east-1"},
    )
    user.authenticate(password=PASSWORD)
    assert user.access_token


def test_issue16_backup_refuses_postgresql(backend, server):
    if backend != "postgres":
        pytest.skip("the PostgreSQL refusal")
    done = run_tessera(["backup", "--output", "/tmp/never-written", *server.store.args()])
    assert done.returncode != 0 and "pg_dump" in done.stderr, done.stderr
