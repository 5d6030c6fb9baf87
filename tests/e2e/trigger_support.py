"""Receivers for tessera's Lambda triggers: real HTTP servers that the e2e tests point
tessera's `[[triggers]]` tables at.

- `WebhookReceiver` speaks the webhook protocol: it checks every call's Standard Webhooks
  signature with the `standardwebhooks` library (an implementation that is not tessera's
  own), and answers with the event, an `{"errorMessage"}` refusal, or raw bytes.
- `LambdaReceiver` speaks the Lambda Invoke API as LocalStack, `sam local start-lambda` and
  AWS do: the function's name in the path, SigV4 for the `lambda` service, function errors
  as `X-Amz-Function-Error: Unhandled`, unknown functions as `ResourceNotFoundException`.

Tests give each receiver handlers (`receiver.on(key, handler)`) that play the function's
part, then check what tessera sent in `receiver.calls` and that `receiver.failures` is
empty: a protocol violation by tessera is recorded there rather than raised in a server
thread where pytest would not see it.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets as _secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ACCOUNT = "123456789012"
FUNCTION_ARN_PREFIX = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
# AWS4-HMAC-SHA256 Credential=<akid>/<yyyymmdd>/<region>/<service>/aws4_request, SignedHeaders=...
CREDENTIAL_RE = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<access_key_id>[^/,\s]+)/(?P<date>\d{8})/"
    r"(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)/aws4_request,"
)
INVOKE_PATH_RE = re.compile(r"^/2015-03-31/functions/(?P<function>[^/]+)/invocations$")


class HandlerError(Exception):
    """Raised by a handler: the function fails with this message, the way a Lambda
    function's `throw new Error(message)` does."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Reply:
    """Returned by a handler for an answer that is not the function's own (garbage, an
    error status of the endpoint itself): sent exactly as given."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[dict], dict | Reply]


def echo(event: dict) -> dict:
    """A function that changes nothing: what every trigger without a handler does."""
    return event


def delayed(seconds: float, handler: Handler = echo) -> Handler:
    """A handler that answers only after `seconds`, to make tessera's timeout_seconds expire."""

    def slow(event: dict) -> dict | Reply:
        time.sleep(seconds)
        return handler(event)

    return slow


def new_secret() -> str:
    """A fresh Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(_secrets.token_bytes(32)).decode()


def function_arn(name: str) -> str:
    """The ARN of a function in the tests' account and region; an ARN is kept as it is."""
    return name if name.startswith("arn:") else FUNCTION_ARN_PREFIX + name


class _Receiver:
    """What both receivers share: the HTTP server thread, the handler registry, and the
    record of calls and protocol failures."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.failures: list[str] = []
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self.httpd is not None, "the receiver is not started"
        return self.httpd.server_address[1]

    def _serve(self, request_handler: type[BaseHTTPRequestHandler]) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), request_handler)
        # a short poll interval: stop() (shutdown) waits up to one interval
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def on(self, key: str, handler: Handler) -> None:
        """Registers the handler for a key: an exact triggerSource, a triggerSource prefix
        (e.g. "PreSignUp_"), or what the receiver names the target by (see `_handler_for`)."""
        with self._lock:
            self._handlers[key] = handler

    def clear(self) -> None:
        """Forgets calls, failures and handlers, for a receiver shared by several tests."""
        with self._lock:
            self.calls.clear()
            self.failures.clear()
            self._handlers.clear()

    def events(self, source_prefix: str = "") -> list[dict]:
        """The events received whose triggerSource starts with `source_prefix`, oldest first."""
        with self._lock:
            return [
                c["event"]
                for c in self.calls
                if isinstance(c["event"], dict)
                and str(c["event"].get("triggerSource", "")).startswith(source_prefix)
            ]

    def _record(self, call: dict) -> None:
        with self._lock:
            self.calls.append(call)

    def _fail(self, what: str) -> None:
        with self._lock:
            self.failures.append(what)

    def _check_content_type(self, headers: dict[str, str], where: str) -> None:
        ctype = headers.get("content-type", "")
        if ctype.split(";")[0].strip().lower() != "application/json":
            self._fail(f"{where}: Content-Type {ctype!r}, expected application/json")

    def _handler_for(self, target: str, event: dict) -> Handler:
        """The target's own handler, else the exact triggerSource's, else the longest
        matching triggerSource prefix's, else `echo`."""
        source = str(event.get("triggerSource", ""))
        with self._lock:
            for key in (target, source):
                if key in self._handlers:
                    return self._handlers[key]
            prefixes = [k for k in self._handlers if k and source.startswith(k)]
            return self._handlers[max(prefixes, key=len)] if prefixes else echo

    def _run(self, target: str, event: dict) -> dict | Reply | HandlerError:
        """Runs the handler; a handler that breaks (e.g. a failed assert) is a failure of
        the test, recorded, and answered with a 500 tessera sees as an invocation failure."""
        handler = self._handler_for(target, event)
        try:
            # a copy: `calls` keeps the event as received, whatever the handler does to it
            return handler(copy.deepcopy(event))
        except HandlerError as error:
            return error
        except Exception as exc:  # recorded: the test must see it, not the server thread
            self._fail(f"handler for {target or event.get('triggerSource')!r} raised {exc!r}")
            return Reply(500, b"handler raised", {"Content-Type": "text/plain"})


class _Exchange(BaseHTTPRequestHandler):
    """The request plumbing both receivers' handlers share."""

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def lower_headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # tessera stopped waiting (its timeout); nothing left to tell it

    def answer_json(self, status: int, value, headers: dict[str, str] | None = None) -> None:
        headers = {"Content-Type": "application/json", **(headers or {})}
        self.answer(status, json.dumps(value).encode(), headers)

    def log_message(self, *args):  # keep pytest output quiet
        pass


def _parse_event(raw: bytes) -> dict | None:
    try:
        event = json.loads(raw)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


class WebhookReceiver(_Receiver):
    """The receiving end of tessera's webhook target. Accepts POSTs on any path, so that
    several `[[triggers]]` tables can send different functions to different paths; a
    handler registered under a path (without the leading slash, e.g. "hook/pre-sign-up")
    takes precedence over triggerSource handlers.

    Each call is recorded as {"path", "headers" (lower-case names), "raw", "event",
    "verified_with" (the receiver's secrets whose signature the call carries)}. A call no
    secret verifies is answered 401 and recorded in `failures` as well."""

    def __init__(self, secrets: list[str] | None = None):
        super().__init__()
        self.secrets = list(secrets) if secrets else [new_secret()]
        self.secret = self.secrets[0]

    def url(self, path: str = "hook") -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def start(self) -> "WebhookReceiver":
        receiver = self

        class Exchange(_Exchange):
            def do_POST(self):
                raw = self.read_body()
                headers = self.lower_headers()
                path = urlsplit(self.path).path
                verified_with = []
                for secret in receiver.secrets:
                    try:
                        Webhook(secret).verify(raw, headers, json_parse=False)
                    except WebhookVerificationError:
                        continue
                    verified_with.append(secret)
                event = _parse_event(raw)
                receiver._record(
                    {
                        "path": path,
                        "headers": headers,
                        "raw": raw,
                        "event": event,
                        "verified_with": verified_with,
                    }
                )
                if not verified_with:
                    receiver._fail(
                        f"POST {path}: the signature does not verify "
                        f"(webhook-id {headers.get('webhook-id')!r}, "
                        f"webhook-timestamp {headers.get('webhook-timestamp')!r})"
                    )
                    self.answer_json(401, {"message": "the signature does not verify"})
                    return
                receiver._check_content_type(headers, f"POST {path}")
                if event is None:
                    receiver._fail(f"POST {path}: the body is not a JSON object: {raw[:200]!r}")
                    self.answer_json(400, {"message": "the body is not a JSON object"})
                    return
                outcome = receiver._run(path.lstrip("/"), event)
                if isinstance(outcome, HandlerError):
                    self.answer_json(400, {"errorMessage": outcome.message})
                elif isinstance(outcome, Reply):
                    self.answer(outcome.status, outcome.body, outcome.headers)
                else:
                    self.answer_json(200, outcome)

        self._serve(Exchange)
        return self


def parse_function_name(function_name: str) -> tuple[str, str | None]:
    """(name, qualifier) of an Invoke API FunctionName: a name, `name:qualifier`, or a full
    or partial ARN (`[arn:aws:lambda:<region>:]<account>:function:<name>[:<qualifier>]`)."""
    parts = function_name.split(":")
    if "function" in parts[:-1]:
        parts = parts[parts.index("function") + 1 :]
    return parts[0], (parts[1] if len(parts) > 1 else None)


class LambdaReceiver(_Receiver):
    """A Lambda Invoke API endpoint (`lambda_endpoint` of a `[[triggers]]` table). Handlers
    are registered under a function's name (e.g. "lambda-pre-sign-up", never its ARN),
    which takes precedence over triggerSource handlers; names given to `missing` answer
    ResourceNotFoundException.

    Each call is recorded as {"path", "query", "headers" (lower-case names), "raw", "event",
    "function" (the name), "qualifier" (from `?Qualifier=` or the ARN, else None),
    "credential" (access_key_id, date, region, service of the SigV4 scope, or None)}. A
    call without a SigV4 signature for the `lambda` service is answered 403 and recorded
    in `failures` as well. The signature itself is not recomputed."""

    def __init__(self) -> None:
        super().__init__()
        self._missing: set[str] = set()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def missing(self, name: str) -> None:
        """The function `name` does not exist: its invocations answer 404."""
        with self._lock:
            self._missing.add(name)

    def clear(self) -> None:
        super().clear()
        with self._lock:
            self._missing.clear()

    def start(self) -> "LambdaReceiver":
        receiver = self

        class Exchange(_Exchange):
            def do_POST(self):
                raw = self.read_body()
                headers = self.lower_headers()
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                request_id = {"x-amzn-RequestId": str(uuid.uuid4())}
                m = INVOKE_PATH_RE.match(parts.path)
                if m is None:
                    receiver._fail(f"POST {self.path}: not an Invoke API path")
                    self.answer_json(
                        404,
                        {"message": "unknown path"},
                        {"x-amzn-ErrorType": "UnknownOperationException", **request_id},
                    )
                    return
                function_name = unquote(m.group("function"))
                name, arn_qualifier = parse_function_name(function_name)
                scope = CREDENTIAL_RE.match(headers.get("authorization", ""))
                event = _parse_event(raw)
                receiver._record(
                    {
                        "path": parts.path,
                        "query": query,
                        "headers": headers,
                        "raw": raw,
                        "event": event,
                        "function": name,
                        "qualifier": query.get("Qualifier", arn_qualifier),
                        "credential": scope.groupdict() if scope else None,
                    }
                )
                if scope is None or scope["service"] != "lambda":
                    receiver._fail(
                        f"invoke {function_name}: Authorization {headers.get('authorization')!r} "
                        f"is not SigV4 for the lambda service"
                    )
                    self.answer_json(
                        403,
                        {"message": "bad signature"},
                        {"x-amzn-ErrorType": "InvalidSignatureException", **request_id},
                    )
                    return
                receiver._check_content_type(headers, f"invoke {function_name}")
                with receiver._lock:
                    is_missing = name in receiver._missing
                if is_missing:
                    self.answer_json(
                        404,
                        {"Type": "User", "Message": f"Function not found: {function_name}"},
                        {"x-amzn-ErrorType": "ResourceNotFoundException", **request_id},
                    )
                    return
                if event is None:
                    receiver._fail(f"invoke {function_name}: the body is not a JSON object: {raw[:200]!r}")
                    self.answer_json(
                        400,
                        {"Type": "User", "Message": "Could not parse request body into json"},
                        {"x-amzn-ErrorType": "InvalidRequestContentException", **request_id},
                    )
                    return
                outcome = receiver._run(name, event)
                if isinstance(outcome, HandlerError):
                    self.answer_json(
                        200,
                        {"errorMessage": outcome.message, "errorType": "Error"},
                        {"X-Amz-Function-Error": "Unhandled", **request_id},
                    )
                elif isinstance(outcome, Reply):
                    self.answer(outcome.status, outcome.body, outcome.headers)
                else:
                    self.answer_json(200, outcome, request_id)

        self._serve(Exchange)
        return self


def _toml_string(text: str) -> str:
    # a JSON string of ASCII text is a valid TOML basic string
    return json.dumps(text, ensure_ascii=True)


def trigger_config(
    webhook: WebhookReceiver | None,
    lambda_: LambdaReceiver | None,
    timeout_seconds: int = 2,
    webhook_paths: dict[str, str] | None = None,
    webhook_secrets: list[str] | None = None,
    lambda_keys: tuple[str, str] | None = None,
) -> str:
    """The `[[triggers]]` tables of a typical test: functions named `hook-*` (in the tests'
    account and region) run on `webhook` at /hook, `lambda-*` on `lambda_`.

    webhook_paths maps function names (patterns with *) to other paths of the webhook,
    ahead of the `hook-*` table, so tests can tell functions apart by path;
    webhook_secrets replaces the receiver's secrets in tessera's table (for rotation);
    lambda_keys sets access_key_id and secret_access_key (else tessera's defaults)."""
    tables = []

    def table(functions: str, lines: list[str]) -> None:
        body = "\n".join([f"functions = [{_toml_string(function_arn(functions))}]", *lines])
        tables.append(f"[[triggers]]\n{body}\ntimeout_seconds = {timeout_seconds}\n")

    if webhook is not None:
        secrets = ", ".join(_toml_string(s) for s in (webhook_secrets or webhook.secrets))
        routes = [*(webhook_paths or {}).items(), ("hook-*", "hook")]
        for functions, path in routes:
            table(functions, [f"webhook = {_toml_string(webhook.url(path))}", f"secrets = [{secrets}]"])
    if lambda_ is not None:
        lines = [f"lambda_endpoint = {_toml_string(lambda_.endpoint)}"]
        if lambda_keys is not None:
            akid, secret = lambda_keys
            lines += [f"access_key_id = {_toml_string(akid)}", f"secret_access_key = {_toml_string(secret)}"]
        table("lambda-*", lines)
    return "\n".join(tables)


def pool_lambda_config(pre_token: tuple[str, str] | None = None, **members: str) -> dict:
    """A user pool's LambdaConfig from function names: pool_lambda_config(PreSignUp="hook-x")
    gives {"PreSignUp": "arn:...:function:hook-x"}; pre_token=(name, "V2_0") sets
    PreTokenGenerationConfig and, to the same ARN, the legacy PreTokenGeneration."""
    config: dict = {member: function_arn(name) for member, name in members.items()}
    if pre_token is not None:
        name, version = pre_token
        config["PreTokenGeneration"] = function_arn(name)
        config["PreTokenGenerationConfig"] = {"LambdaArn": function_arn(name), "LambdaVersion": version}
    return config
