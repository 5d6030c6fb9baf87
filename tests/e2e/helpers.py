"""Helpers shared by the end-to-end tests: starting the real tessera binary,
boto3 clients, raw (optionally SigV4-signed) AWS JSON 1.1 requests and
assertions on Amazon Cognito's wire framing.

Nothing here mocks tessera or a client library: every request goes over
HTTP to a real `tessera serve` process.
"""

from __future__ import annotations

import configparser
import datetime as _dt
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Iterable
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import boto3
import botocore
import botocore.auth
import requests
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REPO = Path(__file__).resolve().parents[2]
E2E_DIR = Path(__file__).resolve().parent
ARTIFACTS = E2E_DIR / "artifacts"
REGION = "us-east-1"
ACCOUNT_ID = "000000000000"
TARGET_PREFIX = "AWSCognitoIdentityProviderService."
AMZ_JSON = "application/x-amz-json-1.1"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10

POOL_ID_RE = re.compile(r"^us-east-1_[0-9A-Za-z]{9}$")
# A random 128-bit number printed in radix 32 (wire facts 2): 26 digits, fewer when the
# top digits are zero (25 with probability 1/8, 24 with probability 1/256).
CLIENT_ID_RE = re.compile(r"^[0-9a-v]{24,26}$")
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
LISTENING_RE = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# --------------------------------------------------------------------------
# the environment of the test process itself: the developer's AWS settings
# must not leak into boto3 / the AWS CLI


def scrub_aws_environment() -> None:
    for key in list(os.environ):
        if key.startswith("AWS_"):
            del os.environ[key]
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def tessera_bin() -> Path:
    return Path(os.environ.get("TESSERA_BIN") or REPO / "target" / "debug" / "tessera")


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


# --------------------------------------------------------------------------
# storage: a data dir plus, for PostgreSQL, a database of its own


class Store:
    """Where one tessera installation keeps its state."""

    def __init__(self, backend: str, data_dir: Path, database_url: str | None):
        self.backend = backend
        self.data_dir = data_dir
        self.database_url = database_url

    def args(self) -> list[str]:
        out = ["--data-dir", str(self.data_dir)]
        if self.database_url:
            out += ["--database-url", self.database_url]
        return out


class PgAdmin:
    """Creates and drops one throw-away database per tessera installation."""

    def __init__(self, admin_url: str):
        self.admin_url = admin_url
        self.created: list[str] = []

    def _connect(self):
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)

    def create(self) -> str:
        name = f"tessera_e2e_{secrets.token_hex(6)}"
        with self._connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        parts = urlsplit(self.admin_url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))

    def drop_all(self) -> None:
        if not self.created:
            return
        with self._connect() as conn:
            for name in self.created:
                try:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except Exception as exc:  # pragma: no cover - best effort cleanup
                    print(f"warning: could not drop {name}: {exc}", file=sys.stderr)
        self.created.clear()


# --------------------------------------------------------------------------
# the tessera process


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and not k.startswith("TESSERA_")
    }
    env["NO_COLOR"] = "1"
    env.setdefault("RUST_BACKTRACE", "1")
    # Every answer is checked against the botocore model's output shape, in release builds too
    # (scripts/test runs the release binary): a departure is answered as an internal error.
    env["TESSERA_CHECK_RESPONSES"] = "1"
    if extra:
        env.update(extra)
    return env


def run_tessera(args: list[str], env: dict[str, str] | None = None, timeout: float = 60):
    """Runs a one-shot tessera command (e.g. `keys create`)."""
    return subprocess.run(
        [str(tessera_bin()), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=server_env(env),
        stdin=subprocess.DEVNULL,
    )


class TesseraServer:
    """One running `tessera serve` on an ephemeral port."""

    _counter = 0

    def __init__(
        self,
        store: Store,
        name: str = "tessera",
        extra_args: Iterable[str] = (),
        env: dict[str, str] | None = None,
        listen: str = "127.0.0.1:0",
    ):
        TesseraServer._counter += 1
        self.listen = listen
        self.store = store
        self.name = f"{name}-{store.backend}-{TesseraServer._counter}"
        self.extra_args = list(extra_args)
        self.env = env or {}
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._threads: list[threading.Thread] = []
        self.returncode: int | None = None
        self.stop_seconds: float | None = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> "TesseraServer":
        binary = tessera_bin()
        if not binary.exists():
            raise RuntimeError(
                f"tessera binary not found at {binary}; build it (cargo build) or set TESSERA_BIN"
            )
        cmd = [
            str(binary),
            "serve",
            "--listen",
            self.listen,
            *self.store.args(),
            *self.extra_args,
        ]
        self.cmd = cmd
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=server_env(self.env),
            text=True,
            errors="replace",
            bufsize=1,
        )
        for stream, label in ((self.proc.stdout, "out"), (self.proc.stderr, "err")):
            t = threading.Thread(target=self._pump, args=(stream, label), daemon=True)
            t.start()
            self._threads.append(t)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._listening.wait(0.05):
                break
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the pumps drain
                raise RuntimeError(
                    f"tessera exited with {self.proc.returncode} before listening\n"
                    f"command: {' '.join(cmd)}\n{self.output}"
                )
        else:
            self.kill()
            raise RuntimeError(
                f"tessera did not print 'listening on http://127.0.0.1:<port>' within "
                f"{START_TIMEOUT}s\ncommand: {' '.join(cmd)}\n{self.output}"
            )
        # the health endpoint must answer promptly once the server is bound
        last = None
        for _ in range(50):
            try:
                last = requests.get(self.url + "/health", timeout=2)
                if last.status_code == 200:
                    break
            except requests.RequestException as exc:
                last = exc
            time.sleep(0.1)
        else:
            self.kill()
            raise RuntimeError(f"GET /health never answered 200: {last!r}\n{self.output}")
        return self

    def _pump(self, stream, label: str) -> None:
        for raw in iter(stream.readline, ""):
            line = ANSI_RE.sub("", raw.rstrip("\n"))
            with self._lock:
                self.lines.append(f"[{label}] {line}")
            if not self._listening.is_set():
                m = LISTENING_RE.search(line)
                if m:
                    self.url = m.group(1)
                    self._listening.set()
        stream.close()

    @property
    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM and wait; returns the exit code (None if it had to be killed)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            t0 = time.monotonic()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
                self.stop_seconds = time.monotonic() - t0
                self.returncode = self.proc.returncode
            except subprocess.TimeoutExpired:
                self.kill()
                self.returncode = None
        else:
            self.returncode = self.proc.returncode
        for t in self._threads:
            t.join(2)
        self._save_log()
        return self.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)

    def _save_log(self) -> None:
        try:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / f"{self.name}.log").write_text(
                f"command: {' '.join(getattr(self, 'cmd', []))}\n"
                f"exit: {self.returncode}\n{self.output}\n"
            )
        except OSError:
            pass

    # -- credentials and clients -----------------------------------------------

    @property
    def credentials_file(self) -> Path:
        return self.store.data_dir / "credentials"

    def root_credentials(self) -> tuple[str, str]:
        if "TESSERA_ROOT_ACCESS_KEY_ID" in self.env:
            return self.env["TESSERA_ROOT_ACCESS_KEY_ID"], self.env["TESSERA_ROOT_SECRET_ACCESS_KEY"]
        return read_credentials_file(self.credentials_file)

    def client(self, akid: str | None = None, secret: str | None = None):
        if akid is None:
            akid, secret = self.root_credentials()
        return idp_client(self.url, akid, secret)

    def unsigned_client(self):
        return idp_client(self.url, unsigned=True)


def read_credentials_file(path: Path) -> tuple[str, str]:
    cp = configparser.ConfigParser()
    text = path.read_text()
    cp.read_string(text)
    assert cp.has_section("default"), f"{path} has no [default] profile:\n{text}"
    return (
        cp.get("default", "aws_access_key_id").strip(),
        cp.get("default", "aws_secret_access_key").strip(),
    )


def write_credentials_file(path: Path, akid: str, secret: str) -> Path:
    path.write_text(
        f"[default]\naws_access_key_id = {akid}\naws_secret_access_key = {secret}\n"
    )
    return path


# --------------------------------------------------------------------------
# boto3

_BOTO_SESSION: boto3.session.Session | None = None


def boto_session() -> boto3.session.Session:
    global _BOTO_SESSION
    if _BOTO_SESSION is None:
        _BOTO_SESSION = boto3.session.Session()
    return _BOTO_SESSION


def idp_client(
    url: str,
    akid: str | None = None,
    secret: str | None = None,
    unsigned: bool = False,
    region: str = REGION,
):
    cfg = Config(
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=5,
        read_timeout=20,
    )
    if unsigned:
        cfg = cfg.merge(Config(signature_version=botocore.UNSIGNED))
        akid, secret = None, None
    return boto_session().client(
        "cognito-idp",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=akid,
        aws_secret_access_key=secret,
        config=cfg,
    )


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response["Error"]["Code"]


# --------------------------------------------------------------------------
# raw HTTP


def _body_bytes(body) -> bytes:
    if body is None:
        return b""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def api_headers(operation: str | None) -> dict[str, str]:
    headers = {"Content-Type": AMZ_JSON}
    if operation is not None:
        headers["X-Amz-Target"] = TARGET_PREFIX + operation
    return headers


def raw_post(url: str, operation: str | None, body=None, headers: dict | None = None, timeout=HTTP_TIMEOUT):
    """An unsigned AWS JSON 1.1 request, exactly as given (no client-side validation)."""
    h = api_headers(operation)
    if headers:
        h.update(headers)
    return requests.post(url + "/", data=_body_bytes(body), headers=h, timeout=timeout)


def sign_headers(
    url: str,
    operation: str,
    body,
    akid: str,
    secret: str,
    at: _dt.datetime | None = None,
    region: str = REGION,
) -> tuple[dict[str, str], bytes]:
    """SigV4-signs a request with botocore's own signer; `at` (naive UTC) fakes the clock."""
    data = _body_bytes(body)
    req = AWSRequest(method="POST", url=url + "/", data=data, headers=api_headers(operation))
    signer = botocore.auth.SigV4Auth(Credentials(akid, secret), "cognito-idp", region)
    if at is None:
        signer.add_auth(req)
    else:
        with mock.patch.object(botocore.auth, "get_current_datetime", return_value=at):
            signer.add_auth(req)
    return dict(req.headers.items()), data


def signed_post(
    url: str,
    operation: str,
    body,
    akid: str,
    secret: str,
    at: _dt.datetime | None = None,
    send_body: bytes | None = None,
    timeout=HTTP_TIMEOUT,
):
    headers, data = sign_headers(url, operation, body, akid, secret, at=at)
    return requests.post(
        url + "/",
        data=data if send_body is None else send_body,
        headers=headers,
        timeout=timeout,
    )


def utcnow_naive() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)


# --------------------------------------------------------------------------
# assertions on the wire framing


def assert_request_id(resp: requests.Response) -> None:
    rid = resp.headers.get("x-amzn-RequestId")
    assert rid, f"no x-amzn-RequestId header: {dict(resp.headers)}"
    assert UUID_RE.match(rid), f"x-amzn-RequestId is not a UUID: {rid!r}"


def assert_api_framing(resp: requests.Response) -> None:
    assert_request_id(resp)
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.split(";")[0].strip().lower() == AMZ_JSON, (
        f"Content-Type {ctype!r} (status {resp.status_code}, body {resp.text[:300]!r})"
    )


def json_body(resp: requests.Response) -> dict:
    try:
        data = resp.json()
    except ValueError:
        raise AssertionError(f"body is not JSON (status {resp.status_code}): {resp.text[:500]!r}")
    assert isinstance(data, dict), f"body is not a JSON object: {data!r}"
    return data


def assert_aws_error(resp: requests.Response, name: str | Iterable[str], status: int = 400) -> dict:
    """Asserts Cognito's error framing (section 1.4): status, __type, message, headers."""
    names = {name} if isinstance(name, str) else set(name)
    body = json_body(resp)
    assert resp.status_code == status, (
        f"expected HTTP {status} {sorted(names)}, got {resp.status_code}: {resp.text[:500]}"
    )
    assert body.get("__type") in names, f"__type {body.get('__type')!r}, expected {sorted(names)}: {body}"
    assert "message" in body and isinstance(body["message"], str), f"no lower-case 'message': {body}"
    assert_api_framing(resp)
    etype = resp.headers.get("x-amzn-ErrorType")
    assert etype is not None, f"no x-amzn-ErrorType header: {dict(resp.headers)}"
    assert etype.startswith(body["__type"] + ":"), f"x-amzn-ErrorType {etype!r} is not '{body['__type']}:'"
    return body


def assert_subset(expected, actual, path: str = "") -> None:
    """Every member of `expected` appears in `actual` with the same value (recursively for dicts)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path or '<root>'}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing; have {sorted(actual)}"
            assert_subset(value, actual[key], f"{path}.{key}")
    else:
        assert expected == actual, f"{path}: expected {expected!r}, got {actual!r}"


def find_executable(name: str) -> str | None:
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    return shutil.which(name)


def new_uuid() -> str:
    return str(uuid.uuid4())


# --------------------------------------------------------------------------
# the user directory: SigV4-signed GETs, the development outbox, SECRET_HASH

CODE_RE = re.compile(r"\b\d{6}\b")
# satisfies Cognito's default password policy (8+, upper, lower, number, symbol)
PASSWORD = "Passw0rd!x"


def attribute_list(attributes: dict | None) -> list[dict]:
    return [{"Name": k, "Value": v} for k, v in (attributes or {}).items()]


def attribute_dict(attributes: list[dict]) -> dict:
    return {a["Name"]: a["Value"] for a in attributes}


def signed_get(
    url: str,
    path: str,
    params: dict | None,
    akid: str,
    secret: str,
    region: str = REGION,
    timeout=HTTP_TIMEOUT,
) -> requests.Response:
    """A GET signed with botocore's SigV4 signer (service cognito-idp), as an admin tool would."""
    from urllib.parse import urlencode

    full = url + path
    if params:
        full += "?" + urlencode({k: v for k, v in params.items() if v is not None})
    req = AWSRequest(method="GET", url=full, headers={})
    botocore.auth.SigV4Auth(Credentials(akid, secret), "cognito-idp", region).add_auth(req)
    return requests.get(full, headers=dict(req.headers.items()), timeout=timeout)


def read_outbox(server, pool_id: str | None = None, username: str | None = None, limit: int | None = None) -> list[dict]:
    """The development outbox through `GET /admin/outbox` (oldest first)."""
    akid, secret = server.root_credentials()
    resp = signed_get(
        server.url,
        "/admin/outbox",
        {"pool_id": pool_id, "username": username, "limit": limit},
        akid,
        secret,
    )
    assert resp.status_code == 200, f"GET /admin/outbox: {resp.status_code} {resp.text[:500]}"
    body = resp.json()
    assert isinstance(body.get("messages"), list), body
    return body["messages"]


def extract_code(text: str) -> str:
    m = CODE_RE.search(text or "")
    assert m, f"no 6-digit code in {text!r}"
    return m.group(0)


def latest_message(server, pool_id: str, username: str) -> dict:
    messages = read_outbox(server, pool_id=pool_id, username=username)
    assert messages, f"no outbox message for {username!r} in {pool_id}"
    return messages[-1]


def latest_code(server, pool_id: str, username: str) -> str:
    """The 6-digit code of the newest outbox message for a user (its internal username)."""
    return extract_code(latest_message(server, pool_id, username)["body"])


def secret_hash(client_secret: str, username: str, client_id: str) -> str:
    import base64
    import hashlib
    import hmac

    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --------------------------------------------------------------------------
# real delivery endpoints: an SMTP server (aiosmtpd) and an SMS webhook receiver


class SmtpSink:
    """A real SMTP server (aiosmtpd) on a loopback port that keeps every message it receives."""

    def __init__(self):
        self.messages: list[dict] = []
        self._lock = threading.Lock()
        self.controller = None
        self.port: int | None = None

    def start(self) -> "SmtpSink":
        from aiosmtpd.controller import Controller

        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                import email
                import email.policy

                content = envelope.original_content or envelope.content
                if isinstance(content, str):
                    content = content.encode()
                parsed = email.message_from_bytes(content, policy=email.policy.default)
                with sink._lock:
                    sink.messages.append(
                        {
                            "mail_from": envelope.mail_from,
                            "rcpt_tos": list(envelope.rcpt_tos),
                            "message": parsed,
                        }
                    )
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[dict]:
        with self._lock:
            return [m for m in self.messages if address in m["rcpt_tos"]]

    def wait_for(self, address: str, count: int = 1, timeout: float = 10.0) -> dict:
        """Waits until `count` messages went to `address`; returns the newest."""
        msgs = wait_until(
            lambda: (lambda found: found if len(found) >= count else None)(self.to(address)),
            timeout=timeout,
            what=f"{count} mail(s) to {address}",
        )
        return msgs[-1]


def mail_text(message) -> str:
    """The text of a parsed mail (text/plain preferred, else HTML), transfer-decoded."""
    part = message.get_body(preferencelist=("plain", "html"))
    assert part is not None, f"mail without a text body: {message}"
    return part.get_content()


class SmsWebhookSink:
    """A tiny HTTP server that records the JSON POSTs of tessera's SMS webhook."""

    def __init__(self, status: int = 200):
        self.requests: list[dict] = []
        self.status = status
        self._lock = threading.Lock()
        self.httpd = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/sms"

    def start(self) -> "SmsWebhookSink":
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with sink._lock:
                    sink.requests.append(
                        {
                            "path": self.path,
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "raw": raw,
                            "json": body,
                        }
                    )
                self.send_response(sink.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):  # keep pytest output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def for_phone(self, phone: str) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if (r["json"] or {}).get("phone_number") == phone]

    def wait_for(self, phone: str, count: int = 1, timeout: float = 10.0) -> dict:
        found = wait_until(
            lambda: (lambda f: f if len(f) >= count else None)(self.for_phone(phone)),
            timeout=timeout,
            what=f"{count} SMS webhook call(s) for {phone}",
        )
        return found[-1]


class App:
    """One user pool with one app client on a server, and shortcuts for its users."""

    def __init__(self, server, idp, public, pool: dict, client: dict):
        self.server = server
        self.idp = idp
        self.public = public
        self.pool = pool
        self.pool_id = pool["Id"]
        self.client = client
        self.client_id = client["ClientId"]
        self.client_secret = client.get("ClientSecret")

    def sign_up(self, username: str, password: str = PASSWORD, attributes: dict | None = None, **kwargs) -> dict:
        return self.public.sign_up(
            ClientId=self.client_id,
            Username=username,
            Password=password,
            UserAttributes=attribute_list(attributes),
            **kwargs,
        )

    def confirmed_user(self, username: str, attributes: dict | None = None, password: str = PASSWORD) -> dict:
        """SignUp + AdminConfirmSignUp; returns the SignUp response."""
        out = self.sign_up(username, password, attributes)
        self.idp.admin_confirm_sign_up(UserPoolId=self.pool_id, Username=username)
        return out

    def create_user(self, username: str, attributes: dict | None = None, **kwargs) -> dict:
        kwargs.setdefault("MessageAction", "SUPPRESS")
        return self.idp.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            UserAttributes=attribute_list(attributes),
            **kwargs,
        )["User"]

    def get(self, username: str) -> dict:
        return self.idp.admin_get_user(UserPoolId=self.pool_id, Username=username)

    def attrs(self, username: str) -> dict:
        return attribute_dict(self.get(username)["UserAttributes"])

    def status(self, username: str) -> str:
        return self.get(username)["UserStatus"]

    def usernames(self, **kwargs) -> list[str]:
        out = []
        for page in self.idp.get_paginator("list_users").paginate(UserPoolId=self.pool_id, **kwargs):
            out += [u["Username"] for u in page["Users"]]
        return out

    def outbox(self, username: str | None = None, limit: int | None = None) -> list[dict]:
        return read_outbox(self.server, pool_id=self.pool_id, username=username, limit=limit)

    def code(self, username: str) -> str:
        """The code of the newest outbox message for an internal username."""
        return latest_code(self.server, self.pool_id, username)

    @classmethod
    def create(cls, server, client: dict | None = None, **pool_kwargs) -> "App":
        """A new pool (and client) on `server`; nobody deletes it (for servers of their own)."""
        idp = server.client()
        pool_kwargs.setdefault("PoolName", unique("e2e-pool"))
        pool = idp.create_user_pool(**pool_kwargs)["UserPool"]
        c = idp.create_user_pool_client(
            UserPoolId=pool["Id"], ClientName=unique("e2e-client"), **(client or {})
        )["UserPoolClient"]
        return cls(server, idp, server.unsigned_client(), pool, c)


# Issue 16: a write on one node reaches every other node's read cache within this many seconds.
CLUSTER_STALENESS_SECONDS = 1.0


def eventually(check, within: float = CLUSTER_STALENESS_SECONDS, every: float = 0.005) -> float:
    """Runs `check` until it returns without an AssertionError, for at most `within` seconds
    (then the last AssertionError is raised); answers how many seconds it took. For what one
    tessera node must see of another's writes: not at once, but within the staleness bound."""
    start = time.monotonic()
    while True:
        try:
            check()
            return time.monotonic() - start
        except AssertionError:
            if time.monotonic() - start >= within:
                raise
        time.sleep(every)


def expect_error(code: str, fn, *args, message: str | None = None, contains: str | None = None, **kwargs) -> dict:
    """Calls a boto3 method that must fail with `code`; checks the message; returns the Error."""
    try:
        result = fn(*args, **kwargs)
    except botocore.exceptions.ClientError as exc:
        err = exc.response["Error"]
        assert err["Code"] == code, (
            f"expected {code}, got {err['Code']}: {err.get('Message')!r} "
            f"(HTTP {exc.response['ResponseMetadata'].get('HTTPStatusCode')})"
        )
        if message is not None:
            assert err.get("Message") == message, f"{code} message {err.get('Message')!r}, expected {message!r}"
        if contains is not None:
            assert contains in (err.get("Message") or ""), (
                f"{code} message {err.get('Message')!r} does not contain {contains!r}"
            )
        return err
    result = dict(result or {})
    result.pop("ResponseMetadata", None)
    raise AssertionError(f"expected {code}, but the call succeeded: {result!r}")


def store_query(store: Store, sql: str, params: tuple = ()) -> list[tuple]:
    """Runs one SQL statement directly on an installation's database (`?` placeholders), for
    the few tests that must reach past the API, e.g. to age a code beyond its expiry."""
    if store.database_url:
        import psycopg

        with psycopg.connect(store.database_url, autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(sql.replace("?", "%s"), params)
            return cur.fetchall() if cur.description else []
    import sqlite3

    conn = sqlite3.connect(store.data_dir / "tessera.db", timeout=10)
    try:
        cur = conn.execute(sql, params)
        rows = cur.fetchall()
        conn.commit()
        return rows
    finally:
        conn.close()
