"""The tessera-verify example service (crates/tessera-verify/examples/service.rs), the Rust
counterpart of the classic FastAPI backend, runs against a real tessera pool: public routes
answer without a token, protected routes accept a valid access token and answer 401 with
`WWW-Authenticate: Bearer` for a missing or forged one, and the admin route answers 403 for a
user outside the `admin` group."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from helpers import PASSWORD, unique

ROOT = Path(__file__).resolve().parents[2]
SERVICE = Path(os.environ.get("TESSERA_VERIFY_SERVICE_BIN", ROOT / "target" / "debug" / "examples" / "service"))
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


@pytest.fixture
def pool_with_users(server, idp, public):
    pool = idp.create_user_pool(PoolName=unique("service"))["UserPool"]
    client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="api", ExplicitAuthFlows=FLOWS)[
        "UserPoolClient"
    ]
    idp.create_group(UserPoolId=pool["Id"], GroupName="admin")
    tokens = {}
    for name in ("alice", "bob"):
        idp.admin_create_user(UserPoolId=pool["Id"], Username=name, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool["Id"], Username=name, Password=PASSWORD, Permanent=True)
        if name == "alice":
            idp.admin_add_user_to_group(UserPoolId=pool["Id"], Username=name, GroupName="admin")
        tokens[name] = public.initiate_auth(
            ClientId=client["ClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD},
        )["AuthenticationResult"]["AccessToken"]
    yield pool, client, tokens
    idp.delete_user_pool(UserPoolId=pool["Id"])


@pytest.fixture
def service(server, pool_with_users):
    if not SERVICE.exists():
        pytest.fail(f"{SERVICE} is missing: build it with cargo build -p tessera-verify --example service")
    pool, client, _ = pool_with_users
    proc = subprocess.Popen(
        [
            str(SERVICE),
            "--tessera-url", server.url,
            "--pool-id", pool["Id"],
            "--client-id", client["ClientId"],
            "--listen", "127.0.0.1:0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def pump() -> None:
        for line in proc.stderr:
            lines.append(line)
            match = re.search(r"listening on (http://\S+)", line)
            if match and not url:
                url.append(match.group(1))
                found.set()

    threading.Thread(target=pump, daemon=True).start()
    if not found.wait(20):
        proc.kill()
        pytest.fail("the example service did not start:\n" + "".join(lines))
    yield url[0]
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def forge(token: str) -> str:
    """The same claims with the username changed: the signature no longer matches."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["username"] = "mallory"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def get(url: str, token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, headers=headers, timeout=10)


def test_example_service_public_protected_and_admin_routes(service, pool_with_users):
    _, _, tokens = pool_with_users
    assert get(f"{service}/api/public").status_code == 200

    missing = get(f"{service}/api/private")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")

    ok = get(f"{service}/api/private", tokens["bob"])
    assert ok.status_code == 200, ok.text
    assert "bob" in ok.text

    forged = get(f"{service}/api/private", forge(tokens["bob"]))
    assert forged.status_code == 401
    assert 'error="invalid_token"' in forged.headers["WWW-Authenticate"]

    assert get(f"{service}/api/admin/stats", tokens["alice"]).status_code == 200
    denied = get(f"{service}/api/admin/stats", tokens["bob"])
    assert denied.status_code == 403
    assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]
