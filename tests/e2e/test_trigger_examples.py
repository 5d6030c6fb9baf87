"""The example trigger handlers of examples/triggers, run for real behind a real tessera:
the FastAPI app (`python -m uvicorn app:app`, from examples/triggers/python) and the Node
handler (`node handler.mjs`, Node's http module and npm's standardwebhooks). Each checks
tessera's Standard Webhooks signature with its own language's `standardwebhooks` package.

One tessera per backend runs `py-*` functions on the Python app and `node-*` functions on
the Node handler, each with its own secret; a second tessera has the wrong secrets. For both
examples: a blocked e-mail domain is refused with Cognito's UserLambdaValidationException
and no user is written; a good sign-up is confirmed at once; the tokens of the sign-in carry
the claim the example adds (PreTokenGeneration versions 1 and 2); a call signed with a wrong
secret is answered 401, which tessera reports as UnexpectedLambdaException."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from auth_support import AuthApp, client_settings
from helpers import ARTIFACTS, E2E_DIR, REPO, App, expect_error, free_port, unique, wait_until
from trigger_support import function_arn, new_secret, pool_lambda_config

EXAMPLES = REPO / "examples" / "triggers"
JS_DIR = E2E_DIR / "js"
START_TIMEOUT = 30.0
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
BLOCKED_MESSAGE = "PreSignUp failed with error Registration from this domain is not allowed.."
# Each example's functions: `py-*` run on the FastAPI app, `node-*` on the Node handler.
PREFIX = {"python": "py", "node": "node"}


class ExampleHandler:
    """One example handler as its README says to run it, on a free port; its output goes
    to tests/e2e/artifacts/trigger-example-<name>-<backend>.log."""

    def __init__(self, name: str, backend: str, cmd: list[str], cwd: Path, secret: str, env: dict[str, str] | None = None):
        self.name = name
        self.cmd = cmd
        self.cwd = cwd
        self.secret = secret
        self.port = free_port()
        self.env = {
            **os.environ,
            "BLOCKED_DOMAIN": "blocked.example",
            **(env or {}),
            "TESSERA_WEBHOOK_SECRET": secret,
            "PORT": str(self.port),
        }
        self.proc: subprocess.Popen | None = None
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log = ARTIFACTS / f"trigger-example-{name}-{backend}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cognito"

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self) -> "ExampleHandler":
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [arg.format(port=self.port) for arg in self.cmd],
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the {self.name} example exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the {self.name} example did not listen on {self.port} within {START_TIMEOUT}s:\n{self.output()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture(scope="session")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("node and npm are required for the Node trigger example", pytrace=False)
    if not (JS_DIR / "node_modules" / "standardwebhooks").is_dir():
        # normally installed by the test command; install here when run on its own
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return node


@pytest.fixture(scope="module")
def examples(node, backend, tmp_path_factory):
    """Both examples, started for each backend's tessera (the backends may run side by side,
    in two pytest processes)."""
    # The Node handler runs from a copy of itself beside a link to tests/e2e/js/node_modules,
    # where `npm ci` put standardwebhooks (an ES module import ignores NODE_PATH).
    node_dir = tmp_path_factory.mktemp("node-example")
    shutil.copy(EXAMPLES / "node" / "handler.mjs", node_dir / "handler.mjs")
    shutil.copy(EXAMPLES / "node" / "package.json", node_dir / "package.json")
    (node_dir / "node_modules").symlink_to(JS_DIR / "node_modules", target_is_directory=True)
    handlers = {
        "python": ExampleHandler(
            "python",
            backend,
            [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", "{port}"],
            EXAMPLES / "python",
            new_secret(),
        ),
        "node": ExampleHandler("node", backend, [node, "handler.mjs"], node_dir, new_secret()),
    }
    started = []
    try:
        for handler in handlers.values():
            started.append(handler.start())
        yield handlers
    finally:
        for handler in started:
            handler.stop()


def config(examples: dict[str, ExampleHandler], secrets: dict[str, str]) -> str:
    tables = []
    for name, handler in examples.items():
        tables.append(
            "[[triggers]]\n"
            f"functions = [{json.dumps(function_arn(PREFIX[name] + '-*'))}]\n"
            f"webhook = {json.dumps(handler.url)}\n"
            f"secrets = [{json.dumps(secrets[name])}]\n"
        )
    return "\n".join(tables)


@pytest.fixture(scope="module")
def tessera(module_factory, examples, tmp_path_factory):
    """A tessera that signs each example's calls with that example's secret."""
    path = tmp_path_factory.mktemp("trigger-examples") / "tessera.toml"
    path.write_text(config(examples, {name: h.secret for name, h in examples.items()}))
    return module_factory.start(name="trigger-examples", extra_args=["--config", str(path)])


@pytest.fixture(scope="module")
def wrong_secret_tessera(module_factory, examples, tmp_path_factory):
    """A tessera that signs with secrets the examples do not hold."""
    path = tmp_path_factory.mktemp("trigger-examples-wrong") / "tessera.toml"
    path.write_text(config(examples, {name: new_secret() for name in examples}))
    return module_factory.start(name="trigger-examples-wrong", extra_args=["--config", str(path)])


def example_app(server, example: str, pre_token_version: str | None = None) -> AuthApp:
    """A pool whose PreSignUp (and PreTokenGeneration, when a version is given) run on the
    example, with a client allowing USER_PASSWORD_AUTH and refresh."""
    prefix = PREFIX[example]
    pre_token = (f"{prefix}-pre-token", pre_token_version) if pre_token_version else None
    lambda_config = pool_lambda_config(pre_token=pre_token, PreSignUp=f"{prefix}-pre-sign-up")
    client = client_settings({"ExplicitAuthFlows": FLOWS})
    return AuthApp.of(App.create(server, client=client, LambdaConfig=lambda_config))


def trigger_log(server, function: str, outcome: str) -> list[str]:
    """tessera's log lines (target tessera::trigger) for calls of `function` with `outcome`."""
    return [
        line
        for line in server.output.splitlines()
        if "tessera::trigger" in line and f"function={function} " in line and f'outcome="{outcome}"' in line
    ]


@pytest.mark.parametrize("example", ["python", "node"])
def test_a_blocked_domain_is_refused_and_nothing_is_written(tessera, examples, example):
    app = example_app(tessera, example)
    expect_error(
        "UserLambdaValidationException",
        app.sign_up,
        "mallory",
        attributes={"email": "mallory@Blocked.Example"},
        message=BLOCKED_MESSAGE,
    )
    assert app.usernames() == []
    assert app.outbox() == []
    # One log line per call, which never holds the event.
    function = function_arn(f"{PREFIX[example]}-pre-sign-up")
    wait_until(lambda: trigger_log(tessera, function, "function_error"), what="the trigger's log line")
    assert "mallory@" not in tessera.output.lower()


@pytest.mark.parametrize("version", ["V1_0", "V2_0"])
@pytest.mark.parametrize("example", ["python", "node"])
def test_a_good_sign_up_is_confirmed_and_its_tokens_carry_the_claim(tessera, example, version):
    app = example_app(tessera, example, version)
    username = unique("ada")
    out = app.sign_up(username, attributes={"email": f"{username}@example.com"})
    assert out["UserConfirmed"] is True
    assert app.status(username) == "CONFIRMED"
    assert app.attrs(username)["email_verified"] == "true"
    assert app.outbox(username) == [], "an auto-confirmed user is sent no code"

    tokens = app.sign_in(username)
    id_claims = app.verify_id(tokens["IdToken"])
    assert id_claims["tenant"] == "acme", id_claims
    assert id_claims["email"] == f"{username}@example.com"
    access = app.verify_access(tokens["AccessToken"])
    if version == "V1_0":
        assert "tenant" not in access, "version 1 changes only the ID token"
    else:
        assert access["tenant"] == "acme", access
    # The refreshed tokens run the function again (TokenGeneration_RefreshTokens).
    refreshed = app.refresh(tokens["RefreshToken"])["AuthenticationResult"]
    assert app.verify_id(refreshed["IdToken"])["tenant"] == "acme"


@pytest.mark.parametrize("example", ["python", "node"])
def test_a_wrong_secret_is_refused_by_the_example(wrong_secret_tessera, examples, example):
    app = example_app(wrong_secret_tessera, example)
    expect_error(
        "UnexpectedLambdaException",
        app.sign_up,
        "eve",
        attributes={"email": "eve@example.com"},
        message="PreSignUp invocation failed due to error ServiceException.",
    )
    assert app.usernames() == []

    # What tessera got: a 401 for a call signed with another secret, and the example's own
    # answer for the same call signed with its secret.
    handler = examples[example]
    event = {
        "version": "1",
        "triggerSource": "PreSignUp_SignUp",
        "region": "us-east-1",
        "userPoolId": app.pool_id,
        "userName": "eve",
        "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": app.client_id},
        "request": {"userAttributes": {"email": "eve@example.com"}, "validationData": None},
        "response": {},
    }
    body = json.dumps(event).encode()

    def post(secret: str) -> requests.Response:
        msg_id, now = f"msg_{unique('e2e')}", dt.datetime.now(dt.timezone.utc)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        }
        return requests.post(handler.url, data=body, headers=headers, timeout=10)

    refused = post(new_secret())
    assert refused.status_code == 401, refused.text
    assert "errorMessage" not in refused.json()
    answered = post(handler.secret)
    assert answered.status_code == 200, answered.text
    assert answered.json()["response"] == {"autoConfirmUser": True, "autoVerifyEmail": True}
    unsigned = requests.post(handler.url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert unsigned.status_code == 401
