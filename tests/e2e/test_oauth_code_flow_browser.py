"""Authlib's authorization-code flow with a person at the hosted pages in headless Chromium
(issue 6): Authlib builds the authorization URL (PKCE S256, state, nonce); Chromium
(playwright-core, Debian's chromium, JavaScript disabled; js/browser-sign-up.mjs) follows the
sign-up link, signs up, confirms with the code from the outbox and signs in; Authlib redeems
the code from the callback, validates the ID token (iss, aud, nonce, at_hash), calls userInfo,
refreshes, revokes, and the revoked refresh token then fails."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError

from helpers import ARTIFACTS, PASSWORD, unique
from oauth_support import CALLBACK, CODE_RE, callback_params, hosted  # noqa: F401  (hosted is a fixture)
from test_oauth_code_flow import authlib_session, code_id_token
from test_openid_client import JS_DIR, node_modules  # noqa: F401  (the fixture that installs npm packages)


def browse(node: str, hosted, url: str, username: str, email: str) -> str:
    """Runs the person at the pages in Chromium; returns the callback URL."""
    shots = ARTIFACTS / "screenshots" / hosted.server.store.backend
    shots.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["TESSERA_E2E_BROWSE"] = json.dumps(
        {
            "url": url,
            "username": username,
            "email": email,
            "password": PASSWORD,
            "outbox": str(hosted.server.store.data_dir / "outbox.jsonl"),
            "poolId": hosted.pool_id,
            "callbackOrigin": "https://app.example.com",
            "screenshot": str(shots / "authlib-sign-in-desktop.png"),
        }
    )
    result = subprocess.run([node, "browser-sign-up.mjs"], cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"browser-sign-up.mjs failed:\n{result.stdout}\n{result.stderr}\n{hosted.server.output()[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])["callback"]


def test_authlib_code_flow_through_the_pages_in_chromium(hosted, node_modules):
    client = hosted.client()
    session = authlib_session(hosted, client)
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = session.create_authorization_url(hosted.authorize_endpoint, code_verifier=verifier, nonce=nonce)
    username = unique("chromium")
    email = f"{username}@example.com"

    callback = browse(node_modules, hosted, url, username, email)
    params = callback_params(callback)
    assert callback.startswith(CALLBACK + "?"), callback
    assert CODE_RE.match(params["code"]) and params["state"] == state and params["iss"] == hosted.issuer

    token = session.fetch_token(hosted.token_endpoint, authorization_response=callback, code_verifier=verifier, state=state)
    claims = code_id_token(hosted, client, token, nonce)
    assert claims["email"] == email and claims["cognito:username"] == username

    info = session.get(hosted.userinfo_endpoint).json()
    assert info["sub"] == claims["sub"] and info["email"] == email and info["email_verified"] == "true"

    refreshed = session.refresh_token(hosted.token_endpoint, refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert session.get(hosted.userinfo_endpoint).json()["sub"] == claims["sub"]

    resp = session.revoke_token(hosted.revoke_endpoint, token=token["refresh_token"], token_type_hint="refresh_token")
    assert resp.status_code == 200, resp.text
    with pytest.raises(OAuthError) as refused:
        session.refresh_token(hosted.token_endpoint, refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"
