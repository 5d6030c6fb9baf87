"""The development outbox: `<data-dir>/outbox.jsonl` and the admin-only `GET /admin/outbox`."""

from __future__ import annotations

import json

import pytest
import requests

from helpers import HTTP_TIMEOUT, read_outbox, signed_get

def disk_messages(server, pool_id: str, username: str | None = None) -> list[dict]:
    path = server.store.data_dir / "outbox.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [
        m for m in lines if m.get("pool_id") == pool_id and (username is None or m.get("username") == username)
    ]


FIELDS = {"time", "pool_id", "username", "channel", "destination", "subject", "body", "purpose"}


def test_outbox_endpoint_needs_a_signature(server):
    resp = requests.get(server.url + "/admin/outbox", timeout=HTTP_TIMEOUT)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["__type"] == "MissingAuthenticationTokenException", body
    assert "messages" not in body


def test_outbox_endpoint_refuses_a_wrong_secret(server):
    akid, _ = server.root_credentials()
    resp = signed_get(server.url, "/admin/outbox", {"limit": 1}, akid, "wrong" * 8)
    assert 400 <= resp.status_code < 500, resp.text
    body = resp.json()
    assert body.get("__type"), body
    assert "messages" not in body


def test_outbox_file_and_endpoint_agree(server, app):
    app.sign_up("olly", attributes={"email": "olly@example.com"})
    messages = app.outbox("olly")
    assert len(messages) == 1
    msg = messages[0]
    assert FIELDS <= set(msg), msg
    assert msg["pool_id"] == app.pool_id
    assert msg["username"] == "olly"
    assert msg["channel"] == "EMAIL"
    assert msg["destination"] == "olly@example.com"

    on_disk = disk_messages(server, app.pool_id, "olly")
    assert len(on_disk) == 1
    assert {k: v for k, v in on_disk[0].items() if k != "time"} == {k: v for k, v in msg.items() if k != "time"}
    assert on_disk[0]["time"] == pytest.approx(msg["time"], abs=1e-3)


def test_outbox_endpoint_keeps_times_exactly(server, app):
    """The endpoint hands out what the file holds: the `time` of a message is the same number
    (a float re-parsed without round-trip precision may come back one unit in the last place off)."""
    for i in range(40):
        app.sign_up(f"t{i}", attributes={"email": f"t{i}@example.com"})
    served = read_outbox(server, pool_id=app.pool_id, limit=1000)
    on_disk = disk_messages(server, app.pool_id)
    assert len(served) == len(on_disk) == 40
    differ = [(d["time"], s["time"]) for d, s in zip(on_disk, served) if d["time"] != s["time"]]
    assert differ == [], f"{len(differ)} of 40 times changed (file, endpoint): {differ[:5]}"
    assert served == on_disk


def test_outbox_limit_returns_the_newest_oldest_first(app):
    app.sign_up("pia", attributes={"email": "pia@example.com"})
    for _ in range(3):
        app.public.resend_confirmation_code(ClientId=app.client_id, Username="pia")
    every = app.outbox("pia")
    assert len(every) == 4
    times = [m["time"] for m in every]
    assert times == sorted(times)
    newest = app.outbox("pia", limit=2)
    assert newest == every[-2:]


def test_outbox_filters(server, app):
    app.sign_up("rex", attributes={"email": "rex@example.com"})
    app.sign_up("sue", attributes={"email": "sue@example.com"})
    in_pool = read_outbox(server, pool_id=app.pool_id)
    assert {m["username"] for m in in_pool} == {"rex", "sue"}
    assert all(m["pool_id"] == app.pool_id for m in in_pool)
    assert [m["username"] for m in read_outbox(server, pool_id=app.pool_id, username="sue")] == ["sue"]
    assert read_outbox(server, pool_id=app.pool_id, username="nobody") == []
