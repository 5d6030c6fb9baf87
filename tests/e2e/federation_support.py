"""What the federation tests (issue 15) share: the test upstream identity providers started on
loopback (js/upstream-oidc.mjs for OpenID Connect and Google stand-ins, js/upstream-saml.mjs for
SAML), a tessera started with a `[federation]` table on a port chosen in advance (the upstream
must know tessera's /oauth2/idpresponse before tessera starts), and SAML metadata and
certificates made with `cryptography`."""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import threading
from pathlib import Path

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from helpers import free_port

JS_DIR = Path(__file__).parent / "js"


class NodeUpstream:
    """A test IdP process: `script` with its JSON config in `env_name`; the first stdout line
    is its JSON greeting."""

    def __init__(self, node: str, script: str, env_name: str, config: dict):
        env = dict(os.environ)
        env[env_name] = json.dumps(config)
        self.proc = subprocess.Popen(
            [node, script], cwd=JS_DIR, env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.errors: list[str] = []
        threading.Thread(target=self._pump_errors, daemon=True).start()
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"{script} exited before it was ready:\n{''.join(self.errors)}")
        self.greeting = json.loads(line)

    def _pump_errors(self) -> None:
        for line in self.proc.stderr:
            self.errors.append(line)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class OidcUpstream(NodeUpstream):
    """js/upstream-oidc.mjs in mode `oidc` (oidc-provider), `google` (Google's discovery
    shape) or `rogue` (auto-approving, misbehaving on request)."""

    def __init__(self, node: str, mode: str, clients: list[dict], accounts: dict):
        super().__init__(node, "upstream-oidc.mjs", "TESSERA_E2E_UPSTREAM",
                         {"mode": mode, "port": 0, "clients": clients, "accounts": accounts})
        self.issuer = self.greeting["issuer"]

    def requests(self) -> list[dict]:
        return requests.get(self.issuer + "/test/requests", timeout=10).json()

    def set_accounts(self, accounts: dict) -> None:
        requests.post(self.issuer + "/test/accounts", json=accounts, timeout=10).raise_for_status()

    def misbehave(self, config: dict) -> None:
        requests.post(self.issuer + "/test/config", json=config, timeout=10).raise_for_status()


def federation_config(tmp_path: Path, google_issuer: str | None = None) -> Path:
    """A tessera config file whose `[federation]` table allows loopback upstreams."""
    lines = ["[federation]", "allow_loopback_http = true"]
    if google_issuer:
        lines.append(f'google_issuer = "{google_issuer}"')
    path = tmp_path / "federation.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def tessera_address() -> tuple[str, str]:
    """A loopback address for a tessera about to start, and its base URL."""
    port = free_port()
    return f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"


def self_signed(common_name: str, days: int = 365, not_before_days: int = -1) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """An RSA-2048 key and a self-signed certificate valid from `not_before_days` for `days`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = _dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(days=not_before_days)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + _dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return key, certificate


def certificate_b64(certificate: x509.Certificate) -> str:
    import base64

    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


def idp_metadata(entity_id: str, sso: str, slo: str | None, certificate: x509.Certificate | None) -> str:
    """A SAML IdP metadata document with an HTTP-Redirect single sign-on URL, an optional
    single logout URL and an optional signing certificate."""
    key = ""
    if certificate is not None:
        key = (
            '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
            f"{certificate_b64(certificate)}"
            "</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        )
    logout = (
        f'<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{slo}"/>'
        if slo else ""
    )
    return (
        '<?xml version="1.0"?>'
        f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{entity_id}">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        f"{key}{logout}"
        "<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>"
        f'<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/>'
        f'<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{sso}"/>'
        "</md:IDPSSODescriptor></md:EntityDescriptor>"
    )


class SamlIdp(NodeUpstream):
    """js/upstream-saml.mjs: a SAML 2.0 IdP (samlify's parsing, xml-crypto's signatures) for
    one service provider."""

    def __init__(self, node: str, sp: dict, users: dict, sign: str = "both"):
        super().__init__(node, "upstream-saml.mjs", "TESSERA_E2E_SAML",
                         {"port": 0, "sp": sp, "users": users, "sign": sign})
        self.base = self.greeting["base"]
        self.metadata_url = self.greeting["metadata_url"]
        self.entity_id = self.greeting["entity_id"]

    def log(self) -> list[dict]:
        return requests.get(self.base + "/test/log", timeout=10).json()

    def response(self, **request) -> dict:
        answer = requests.post(self.base + "/test/response", json=request, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def logout_response(self, **request) -> dict:
        answer = requests.post(self.base + "/test/logout-response", json=request, timeout=30)
        answer.raise_for_status()
        return answer.json()
