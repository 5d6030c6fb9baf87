"""The hosted login pages in headless Chromium (issue 6): runs js/hosted-ui.test.mjs, where
openid-client drives the authorization-code flow (PKCE, state, nonce) through the pages of
docs/design/hosted-pages.md with playwright-core and Debian's chromium, JavaScript disabled.

This driver makes two pools on the shared server of each backend:
  path    no domain: the pages at <public url>/<pool id>/...; two code-flow clients (single
          sign-on across them) and a user with a temporary password (the new-password page)
  domain  a prefix domain, so the pages are also at http://<prefix>.auth.localhost:<port>/...,
          and a UI customization (CSS + PNG logo) for the whole pool
and hands them to node in TESSERA_E2E_HOSTED (JSON). The node run signs users up itself and
reads their codes from the server's outbox file. It saves a screenshot of every page, default
and customized, at 1280 and 375 px, to tests/e2e/artifacts/screenshots/<backend>/.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import time
import zlib
from urllib.parse import urlsplit

import pytest

from helpers import ARTIFACTS, E2E_DIR, PASSWORD, attribute_list, unique
from test_openid_client import node_modules  # noqa: F401  (the fixture that installs npm packages)

JS_DIR = E2E_DIR / "js"
NODE_TIMEOUT = 240
TEMP_PASSWORD = "Temp0rary!pw"
NEW_PASSWORD = "N3w-Passw0rd!"
CALLBACK = "https://app.example.com/cb"
CALLBACK_2 = "https://app.example.com/cb2"
LOGOUT = "https://app.example.com/signed-out"
CUSTOM_CSS = (
    ".background-customizable { background-color: #f0e6ff; }\n"
    ".submitButton-customizable { background-color: #6a1b9a; color: #ffffff; }\n"
    ".banner-customizable { background-color: #311b92; }\n"
)
SUBMIT_COLOR = "rgb(106, 27, 154)"  # #6a1b9a as getComputedStyle answers it
PAGES = ["login", "login-error", "signup", "confirm", "forgotPassword", "confirmForgotPassword", "new-password", "error"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def logo_png(width: int = 120, height: int = 40) -> bytes:
    """A small PNG: a purple bar with a lighter stripe (RGB, 8 bit, no libraries)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b""
    for y in range(height):
        colour = b"\xce\x93\xd8" if height // 3 <= y < 2 * height // 3 else b"\x6a\x1b\x9a"
        rows += b"\x00" + colour * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture(scope="session")
def chromium():
    path = shutil.which("chromium")
    if not path:
        pytest.fail(
            "chromium is required for the browser tests; scripts/test installs it "
            "(apt-get install -y chromium)",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def node_playwright(node_modules):  # noqa: F811
    if not (JS_DIR / "node_modules" / "playwright-core").is_dir():
        npm = shutil.which("npm")
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return node_modules


def code_client(idp, pool_id: str, callback: str) -> dict:
    return idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=unique("hosted-ui"),
        GenerateSecret=True,
        CallbackURLs=[callback],
        LogoutURLs=[LOGOUT],
        AllowedOAuthFlows=["code"],
        AllowedOAuthScopes=["openid", "email", "profile", "aws.cognito.signin.user.admin"],
        AllowedOAuthFlowsUserPoolClient=True,
        SupportedIdentityProviders=["COGNITO"],
    )["UserPoolClient"]


def temp_user(idp, pool_id: str, username: str) -> None:
    """A user that must choose a new password at the first sign-in (FORCE_CHANGE_PASSWORD)."""
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        TemporaryPassword=TEMP_PASSWORD,
        MessageAction="SUPPRESS",
        UserAttributes=attribute_list({"email": f"{username}@example.com", "email_verified": "true"}),
    )


def site(server, pool_id: str, base: str, clients: list[dict], prefix: str, signed_up: str, **extra) -> dict:
    tmp = f"{prefix}-temp"
    return {
        "poolId": pool_id,
        "issuer": f"{server.url}/{pool_id}",
        "base": base,
        "clients": [{"id": c["ClientId"], "secret": c["ClientSecret"], "redirectUri": c["CallbackURLs"][0]} for c in clients],
        "logoutUri": LOGOUT,
        "tempUser": tmp,
        "tempPassword": TEMP_PASSWORD,
        "signedUpUser": signed_up,
        **extra,
    }


def test_hosted_pages_in_chromium(server, idp, make_pool, node_playwright, chromium):
    backend = server.store.backend
    prefix = unique("hui")
    port = urlsplit(server.url).port

    # A pool without a domain: the path form only.
    path_pool = make_pool(AutoVerifiedAttributes=["email"])
    path_clients = [code_client(idp, path_pool["Id"], CALLBACK), code_client(idp, path_pool["Id"], CALLBACK_2)]
    temp_user(idp, path_pool["Id"], f"{prefix}-temp")

    # A pool with a prefix domain and a pool-wide customization.
    domain_pool = make_pool(AutoVerifiedAttributes=["email"])
    domain = unique("hui").lower()
    idp.create_user_pool_domain(UserPoolId=domain_pool["Id"], Domain=domain)
    domain_client = code_client(idp, domain_pool["Id"], CALLBACK)
    temp_user(idp, domain_pool["Id"], f"{prefix}-temp")
    ui = idp.set_ui_customization(
        UserPoolId=domain_pool["Id"], ClientId="ALL", CSS=CUSTOM_CSS, ImageFile=logo_png()
    )["UICustomization"]
    assert ui["CSS"] == CUSTOM_CSS and ui.get("ImageUrl"), ui

    shots = ARTIFACTS / "screenshots" / backend
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()

    config = {
        "backend": backend,
        "artifacts": str(ARTIFACTS),
        "outbox": str(server.store.data_dir / "outbox.jsonl"),
        "prefix": prefix,
        "password": PASSWORD,
        "newPassword": NEW_PASSWORD,
        "path": site(server, path_pool["Id"], f"{server.url}/{path_pool['Id']}", path_clients, prefix, f"{prefix}-path"),
        "domain": site(
            server,
            domain_pool["Id"],
            f"http://{domain}.auth.localhost:{port}",
            [domain_client],
            prefix,
            f"{prefix}-dom",
            domain=domain,
            customization={"cssClient": "ALL", "submitColor": SUBMIT_COLOR},
        ),
    }
    env = dict(os.environ)
    env["TESSERA_E2E_HOSTED"] = json.dumps(config)
    started = time.monotonic()
    result = subprocess.run(
        [node_playwright, "--test", "--test-reporter=spec", "hosted-ui.test.mjs"],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, (
        f"node --test hosted-ui.test.mjs failed after {elapsed:.0f}s:\n{result.stdout}\n{result.stderr}\n"
        f"--- server log (last lines)\n" + "\n".join(server.output.splitlines()[-60:])
    )

    missing, bad = [], []
    for variant in ("default", "custom"):
        for view in ("desktop", "375"):
            for page in PAGES:
                shot = shots / f"{page}-{variant}-{view}.png"
                if not shot.exists():
                    missing.append(shot.name)
                elif shot.stat().st_size < 1000 or shot.read_bytes()[:8] != PNG_SIGNATURE:
                    bad.append(shot.name)
    assert not missing and not bad, f"screenshots missing: {missing}; not PNG or empty: {bad}"
