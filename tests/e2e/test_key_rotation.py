"""Issue 16: a pool's signing keys rotate. `POST /admin/pools/<id>/signing-keys/rotate`
(SigV4-signed) or `tessera keys rotate --pool <id>` adds a new key per token use: every token
issued afterwards carries the new kid, and every token issued before keeps verifying (PyJWT
with the pool's JWKS, tessera-verify's one-shot verifier and its long-running service, which
had cached the JWKS before the rotation), since the old keys stay in the JWKS until the last
token they signed has expired. On PostgreSQL a rotation on one node reaches the other's JWKS
and signer within a second."""

from __future__ import annotations

import subprocess
import threading
import re

import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from auth_support import start_cluster, verify_access_token, verify_id_token
from helpers import HTTP_TIMEOUT, PASSWORD, REGION, App, eventually, run_tessera, unique
from test_verify_library import verify as verify_once
from test_verify_service import SERVICE

FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def rotate(node, pool_id: str, signed: bool = True) -> requests.Response:
    url = f"{node.url}/admin/pools/{pool_id}/signing-keys/rotate"
    headers = {}
    if signed:
        akid, secret = node.root_credentials()
        req = AWSRequest(method="POST", url=url, data=b"", headers={})
        botocore.auth.SigV4Auth(Credentials(akid, secret), "cognito-idp", REGION).add_auth(req)
        headers = dict(req.headers.items())
    return requests.post(url, data=b"", headers=headers, timeout=HTTP_TIMEOUT)


def kid(token: str) -> str:
    import jwt

    return jwt.get_unverified_header(token)["kid"]


def jwks_kids(node, pool_id: str) -> list[str]:
    resp = requests.get(f"{node.url}/{pool_id}/.well-known/jwks.json", timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200
    return [key["kid"] for key in resp.json()["keys"]]


def sign_in(app: App, name: str) -> dict:
    return app.public.initiate_auth(
        ClientId=app.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD}
    )["AuthenticationResult"]


def new_app(server) -> tuple[App, str]:
    app = App.create(server, client={"ExplicitAuthFlows": FLOWS})
    name = unique("rotor")
    app.idp.admin_create_user(UserPoolId=app.pool_id, Username=name, MessageAction="SUPPRESS")
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username=name, Password=PASSWORD, Permanent=True)
    return app, name


def start_service(server, app) -> tuple[subprocess.Popen, str]:
    """tessera-verify's example service, which fetches and caches the pool's JWKS."""
    if not SERVICE.exists():
        pytest.fail(f"{SERVICE} is missing: build it with cargo build -p tessera-verify --example service")
    proc = subprocess.Popen(
        [str(SERVICE), "--tessera-url", server.url, "--pool-id", app.pool_id, "--client-id", app.client_id, "--listen", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    found = threading.Event()
    url: list[str] = []

    def pump():
        for line in proc.stderr:
            m = re.search(r"listening on (http://\S+)", line)
            if m and not found.is_set():
                url.append(m.group(1))
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    assert found.wait(20), "the verify service did not start"
    return proc, url[0]


def private(service_url: str, token: str) -> requests.Response:
    return requests.get(f"{service_url}/api/private", headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)


def test_issue16_outstanding_tokens_verify_after_a_rotation_and_new_ones_carry_the_new_kid(server):
    app, name = new_app(server)
    before = sign_in(app, name)
    old = {"id": kid(before["IdToken"]), "access": kid(before["AccessToken"])}
    assert sorted(jwks_kids(server, app.pool_id)) == sorted(old.values())
    proc, service_url = start_service(server, app)
    try:
        # The service has fetched and cached the JWKS holding the old keys only.
        assert private(service_url, before["AccessToken"]).status_code == 200

        resp = rotate(server, app.pool_id)
        assert resp.status_code == 200, resp.text
        new = {key["use"]: key["kid"] for key in resp.json()["Keys"]}
        assert set(new) == {"id", "access"} and not set(new.values()) & set(old.values())
        assert sorted(jwks_kids(server, app.pool_id)) == sorted([*old.values(), *new.values()])

        after = sign_in(app, name)
        assert kid(after["IdToken"]) == new["id"] and kid(after["AccessToken"]) == new["access"]
        refreshed = app.public.initiate_auth(
            ClientId=app.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": before["RefreshToken"]}
        )["AuthenticationResult"]
        assert kid(refreshed["AccessToken"]) == new["access"]

        issuer = f"{server.url}/{app.pool_id}"
        for tokens in (before, after, refreshed):
            # PyJWT, key by kid from the JWKS as it is now.
            assert verify_id_token(tokens["IdToken"], server.url, app.pool_id, app.client_id)["cognito:username"] == name
            assert verify_access_token(tokens["AccessToken"], server.url, app.pool_id, app.client_id)["username"] == name
            # tessera-verify, one shot.
            code, claims = verify_once(tokens["AccessToken"], "--issuer", issuer, "--client-id", app.client_id, "--token-use", "access")
            assert code == 0, claims
            # tessera-verify, long-running: a kid it has not seen makes it fetch the JWKS again.
            assert private(service_url, tokens["AccessToken"]).status_code == 200
            # tessera itself.
            assert app.public.get_user(AccessToken=tokens["AccessToken"])["Username"] == name
    finally:
        proc.terminate()
        proc.wait(10)


def test_issue16_rotation_is_for_administrators(server):
    app, _ = new_app(server)
    resp = rotate(server, app.pool_id, signed=False)
    assert resp.status_code == 400, resp.text
    assert resp.json()["__type"] == "MissingAuthenticationTokenException"
    resp = rotate(server, "us-east-1_Nothing00")
    assert resp.status_code == 400 and resp.json()["__type"] == "ResourceNotFoundException", resp.text
    assert len(jwks_kids(server, app.pool_id)) == 2


def test_issue16_tessera_keys_rotate_on_a_stopped_server(server_factory):
    server = server_factory.start(name="rotate-cli")
    app, name = new_app(server)
    old = kid(sign_in(app, name)["AccessToken"])
    args = ["keys", "rotate", "--pool", app.pool_id, *server.store.args()]
    if server.store.backend == "sqlite":
        # A running SQLite server keeps the keys in memory: the command refuses to go under it.
        done = run_tessera(args)
        assert done.returncode != 0 and "signing-keys/rotate" in done.stderr, done.stderr
        server.stop()
        done = run_tessera(args)
        assert done.returncode == 0, done.stderr
        server = server_factory.start(server.store, name="rotate-cli-again")
        app = App(server, server.client(), server.unsigned_client(), {"Id": app.pool_id}, {"ClientId": app.client_id})
    else:
        # On PostgreSQL the running server hears of the new keys from the database.
        done = run_tessera(args)
        assert done.returncode == 0, done.stderr
    printed = dict(line.split() for line in done.stdout.splitlines())
    assert set(printed) == {"id", "access"}
    eventually(lambda: _assert_kid(sign_in(app, name)["AccessToken"], printed["access"]))
    assert old in jwks_kids(server, app.pool_id)
    done = run_tessera(["keys", "rotate", "--pool", "us-east-1_Nothing00", *server.store.args()])
    assert done.returncode != 0


def _assert_kid(token: str, expected: str):
    assert kid(token) == expected, (kid(token), expected)


def test_issue16_a_rotation_on_one_node_reaches_the_other(backend, module_factory):
    if backend != "postgres":
        pytest.skip("several nodes share one database only with PostgreSQL")
    a, b = start_cluster(module_factory, 2)
    app, name = new_app(a)
    other = App(b, b.client(), b.unsigned_client(), {"Id": app.pool_id}, {"ClientId": app.client_id})
    before = sign_in(other, name)
    assert len(jwks_kids(b, app.pool_id)) == 2
    new = {key["use"]: key["kid"] for key in rotate(a, app.pool_id).json()["Keys"]}
    eventually(lambda: _assert_subset(set(new.values()), set(jwks_kids(b, app.pool_id))))
    eventually(lambda: _assert_kid(sign_in(other, name)["AccessToken"], new["access"]))
    assert other.public.get_user(AccessToken=before["AccessToken"])["Username"] == name


def _assert_subset(small: set, big: set):
    assert small <= big, (small, big)
