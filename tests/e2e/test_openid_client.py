"""Runs the node test (tests/e2e/js, openid-client from npm) against the shared server of
each backend: the pool's discovery document as a generic OIDC library sees it."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from helpers import E2E_DIR

JS_DIR = E2E_DIR / "js"


@pytest.fixture(scope="session")
def node_modules():
    node = shutil.which("node")
    npm = shutil.which("npm")
    if not node or not npm:
        pytest.fail("node and npm are required for the openid-client test", pytrace=False)
    if not (JS_DIR / "node_modules" / "openid-client").is_dir():
        # normally installed by the test command; install here when run on its own
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return node


def test_openid_client_discovery(server, idp, pool, node_modules):
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="openid-client",
        GenerateSecret=True,
        CallbackURLs=["https://app.example.com/cb"],
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email"],
        AllowedOAuthFlowsUserPoolClient=True,
        SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]
    env = dict(os.environ)
    env.update(
        TESSERA_E2E_ISSUER=f"{server.url}/{pool['Id']}",
        TESSERA_E2E_CLIENT_ID=client["ClientId"],
        TESSERA_E2E_CLIENT_SECRET=client["ClientSecret"],
    )
    result = subprocess.run(
        [node_modules, "--test", "discovery.test.mjs"],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"node --test failed:\n{result.stdout}\n{result.stderr}"
