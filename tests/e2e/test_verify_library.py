"""tessera-verify (crates/tessera-verify), the library a backend uses to trust a bearer token,
verifies real tessera ID and access tokens against the running server, through its
`verify_token` example (JWKS fetched from the pool, or found through discovery), and refuses
the wrong audience, the wrong token use, a tampered token and another pool's token."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from helpers import PASSWORD, unique

ROOT = Path(__file__).resolve().parents[2]
VERIFY = Path(os.environ.get("TESSERA_VERIFY_BIN", ROOT / "target" / "debug" / "examples" / "verify_token"))
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


def verify(token: str, *args: str) -> tuple[int, dict]:
    if not VERIFY.exists():
        pytest.fail(f"{VERIFY} is missing: build it with cargo build -p tessera-verify --example verify_token")
    done = subprocess.run([str(VERIFY), *args], input=token, capture_output=True, text=True, timeout=30)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}


@pytest.fixture
def signed_in(server, idp, public):
    pools = []

    def make() -> tuple[dict, dict, dict]:
        pool = idp.create_user_pool(PoolName=unique("verify"))["UserPool"]
        pools.append(pool["Id"])
        client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="api", ExplicitAuthFlows=FLOWS)[
            "UserPoolClient"
        ]
        idp.create_group(UserPoolId=pool["Id"], GroupName="admin")
        idp.admin_create_user(UserPoolId=pool["Id"], Username="alice", MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool["Id"], Username="alice", Password=PASSWORD, Permanent=True)
        idp.admin_add_user_to_group(UserPoolId=pool["Id"], Username="alice", GroupName="admin")
        tokens = public.initiate_auth(
            ClientId=client["ClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
        )["AuthenticationResult"]
        return pool, client, tokens

    yield make
    for pool_id in pools:
        idp.delete_user_pool(UserPoolId=pool_id)


def test_verifies_real_tokens_and_refuses_the_rest(server, signed_in):
    pool, client, tokens = signed_in()
    issuer = f"{server.url}/{pool['Id']}"
    code, claims = verify(tokens["AccessToken"], "--issuer", issuer, "--client-id", client["ClientId"], "--token-use", "access", "--group", "admin")
    assert code == 0, claims
    assert claims["username"] == "alice" and claims["token_use"] == "access"
    code, claims = verify(tokens["IdToken"], "--issuer", issuer, "--client-id", client["ClientId"], "--token-use", "id", "--discover")
    assert code == 0, claims
    assert claims["cognito:username"] == "alice"

    code, error = verify(tokens["IdToken"], "--issuer", issuer, "--client-id", "someoneelse")
    assert (code, error["error"]) == (1, "WrongAudience")
    code, error = verify(tokens["IdToken"], "--issuer", issuer, "--client-id", client["ClientId"], "--token-use", "access")
    assert (code, error["error"]) == (1, "WrongTokenUse")
    header, payload, signature = tokens["AccessToken"].split(".")
    tampered = f"{header}.{payload[:-4]}AAAA.{signature}"
    code, error = verify(tampered, "--issuer", issuer, "--client-id", client["ClientId"])
    assert code == 1, error

    other_pool, other_client, other_tokens = signed_in()
    code, error = verify(other_tokens["AccessToken"], "--issuer", issuer, "--client-id", client["ClientId"])
    assert (code, error["error"]) == (1, "WrongIssuer")
