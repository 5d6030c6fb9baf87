"""Self-tests of the trigger receivers in trigger_support, without tessera: requests signed
here (standardwebhooks, botocore's SigV4 signer) must get the answers the webhook and
Lambda Invoke protocols define, so that a failing trigger test points at tessera and not
at its receiver."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import tomllib
from urllib.parse import quote

import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from standardwebhooks.webhooks import Webhook

from trigger_support import (
    HandlerError,
    LambdaReceiver,
    Reply,
    WebhookReceiver,
    delayed,
    new_secret,
    parse_function_name,
    pool_lambda_config,
    trigger_config,
)

TIMEOUT = 5
PRE_SIGN_UP = {
    "version": "1",
    "region": "us-east-1",
    "userPoolId": "us-east-1_AbCdEfGhI",
    "userName": "alice",
    "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "client"},
    "triggerSource": "PreSignUp_SignUp",
    "request": {"userAttributes": {"email": "alice@example.com"}},
    "response": {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False},
}


def event(source: str = "PreSignUp_SignUp") -> dict:
    return {**json.loads(json.dumps(PRE_SIGN_UP)), "triggerSource": source}


@pytest.fixture
def webhook():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def lam():
    receiver = LambdaReceiver().start()
    yield receiver
    receiver.stop()


def post_signed(
    url: str,
    body: dict,
    secrets: list[str],
    at: dt.datetime | None = None,
    content_type: str = "application/json",
) -> requests.Response:
    """POSTs as tessera does: one `v1,` signature per secret, space-separated."""
    data = json.dumps(body).encode()
    msg_id = "msg_0123456789abcdef"
    at = at or dt.datetime.now(dt.timezone.utc)
    signature = " ".join(Webhook(s).sign(msg_id, at, data) for s in secrets)
    headers = {
        "Content-Type": content_type,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }
    return requests.post(url, data=data, headers=headers, timeout=TIMEOUT)


def invoke(
    receiver: LambdaReceiver,
    function_name: str,
    body: dict,
    query: str = "",
    service: str = "lambda",
    region: str = "us-east-1",
) -> requests.Response:
    """An Invoke API call signed with botocore's SigV4 signer, as an SDK would send it."""
    url = f"{receiver.endpoint}/2015-03-31/functions/{quote(function_name, safe='')}/invocations"
    if query:
        url += "?" + query
    req = AWSRequest(
        method="POST", url=url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    botocore.auth.SigV4Auth(Credentials("tessera", "tessera"), service, region).add_auth(req)
    return requests.post(url, data=req.body, headers=dict(req.headers.items()), timeout=TIMEOUT)


# --------------------------------------------------------------------------
# webhook


def test_webhook_answers_the_handlers_event(webhook):
    def confirm(e: dict) -> dict:
        e["response"]["autoConfirmUser"] = True
        return e

    webhook.on("PreSignUp_SignUp", confirm)
    resp = post_signed(webhook.url(), event(), [webhook.secret])
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.json()["response"]["autoConfirmUser"] is True
    assert webhook.failures == []
    [call] = webhook.calls
    assert call["path"] == "/hook"
    assert call["verified_with"] == [webhook.secret]
    assert call["headers"]["webhook-id"] == "msg_0123456789abcdef"
    # the event as received, not as the handler changed it
    assert call["event"]["response"]["autoConfirmUser"] is False


def test_webhook_without_handler_echoes_on_any_path(webhook):
    resp = post_signed(webhook.url("hook/some/function"), event("CustomMessage_SignUp"), [webhook.secret])
    assert resp.status_code == 200, resp.text
    assert resp.json() == event("CustomMessage_SignUp")
    assert webhook.calls[0]["path"] == "/hook/some/function"
    assert webhook.failures == []


def test_webhook_handler_error_is_an_error_message(webhook):
    def refuse(e: dict) -> dict:
        raise HandlerError("No sign-ups today.")

    webhook.on("PreSignUp_", refuse)
    resp = post_signed(webhook.url(), event(), [webhook.secret])
    assert resp.status_code == 400
    assert resp.json() == {"errorMessage": "No sign-ups today."}
    assert webhook.failures == []


def test_webhook_raw_reply_is_sent_as_given(webhook):
    html = Reply(200, b"<html>not json</html>", {"Content-Type": "text/html"})
    webhook.on("PreSignUp_SignUp", lambda e: html)
    resp = post_signed(webhook.url(), event(), [webhook.secret])
    assert resp.status_code == 200
    assert resp.content == b"<html>not json</html>"
    assert resp.headers["Content-Type"] == "text/html"

    webhook.on("PreSignUp_SignUp", lambda e: Reply(503, b"down"))
    assert post_signed(webhook.url(), event(), [webhook.secret]).status_code == 503


@pytest.mark.parametrize(
    "other_secret, minutes_ago",
    [pytest.param(True, 0, id="other-secret"), pytest.param(False, 10, id="stale")],
)
def test_webhook_refuses_and_records_a_bad_signature(webhook, other_secret, minutes_ago):
    called = []
    webhook.on("PreSignUp_SignUp", lambda e: called.append(e) or e)
    at = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes_ago)
    resp = post_signed(webhook.url(), event(), [new_secret() if other_secret else webhook.secret], at=at)
    assert resp.status_code == 401
    assert called == []
    assert len(webhook.failures) == 1 and "does not verify" in webhook.failures[0]
    assert webhook.calls[0]["verified_with"] == []


def test_webhook_refuses_an_unsigned_call(webhook):
    resp = requests.post(webhook.url(), json=event(), timeout=TIMEOUT)
    assert resp.status_code == 401
    assert len(webhook.failures) == 1


def test_webhook_secret_rotation():
    """tessera signs with every configured secret; a receiver knowing any one accepts."""
    old, new = new_secret(), new_secret()
    receiver = WebhookReceiver([new, new_secret()]).start()
    try:
        assert receiver.secret == new
        assert post_signed(receiver.url(), event(), [old, new]).status_code == 200
        assert receiver.calls[0]["verified_with"] == [new]
        assert receiver.failures == []
    finally:
        receiver.stop()


def test_fresh_secret_is_32_bytes():
    receiver = WebhookReceiver()
    assert receiver.secrets == [receiver.secret]
    assert receiver.secret.startswith("whsec_")
    assert len(base64.b64decode(receiver.secret.removeprefix("whsec_"))) == 32
    assert WebhookReceiver().secret != receiver.secret


def test_webhook_wrong_content_type_is_a_failure(webhook):
    resp = post_signed(webhook.url(), event(), [webhook.secret], content_type="text/plain")
    assert resp.status_code == 200
    assert len(webhook.failures) == 1 and "Content-Type" in webhook.failures[0]


def test_handler_matching(webhook):
    """Path first, then the exact triggerSource, then the longest prefix, else echo."""

    def tag(name: str):
        def handler(e: dict) -> dict:
            e["response"]["handledBy"] = name
            return e

        return handler

    webhook.on("PreSignUp_", tag("pre-sign-up prefix"))
    webhook.on("PreSignUp_Admin", tag("admin prefix"))
    webhook.on("PreSignUp_ExternalProvider", tag("exact"))
    webhook.on("TokenGeneration_", tag("tokens"))
    webhook.on("hook/special", tag("path"))

    def handled_by(source: str, path: str = "hook") -> str | None:
        resp = post_signed(webhook.url(path), event(source), [webhook.secret])
        assert resp.status_code == 200, resp.text
        return resp.json()["response"].get("handledBy")

    assert handled_by("PreSignUp_SignUp") == "pre-sign-up prefix"
    assert handled_by("PreSignUp_AdminCreateUser") == "admin prefix"
    assert handled_by("PreSignUp_ExternalProvider") == "exact"
    assert handled_by("TokenGeneration_HostedAuth") == "tokens"
    assert handled_by("PostConfirmation_ConfirmSignUp") is None
    assert handled_by("PreSignUp_SignUp", path="hook/special") == "path"
    assert webhook.failures == []


def test_events_and_clear(webhook):
    for source in ("PreSignUp_SignUp", "TokenGeneration_Authentication", "PreSignUp_AdminCreateUser"):
        post_signed(webhook.url(), event(source), [webhook.secret])
    assert [e["triggerSource"] for e in webhook.events("PreSignUp_")] == [
        "PreSignUp_SignUp",
        "PreSignUp_AdminCreateUser",
    ]
    assert len(webhook.events()) == 3
    webhook.on("PreSignUp_", lambda e: Reply(500, b""))
    webhook.failures.append("stale")
    webhook.clear()
    assert webhook.calls == [] and webhook.failures == [] and webhook.events() == []
    assert post_signed(webhook.url(), event(), [webhook.secret]).status_code == 200


def test_delayed_handler(webhook):
    webhook.on("PreSignUp_", delayed(0.5))
    t0 = time.monotonic()
    resp = post_signed(webhook.url(), event(), [webhook.secret])
    assert time.monotonic() - t0 >= 0.5
    assert resp.status_code == 200 and resp.json() == event()


def test_a_broken_handler_is_recorded(webhook):
    def broken(e: dict) -> dict:
        raise KeyError("oops")

    webhook.on("PreSignUp_", broken)
    resp = post_signed(webhook.url(), event(), [webhook.secret])
    assert resp.status_code == 500
    assert len(webhook.failures) == 1 and "KeyError" in webhook.failures[0]


# --------------------------------------------------------------------------
# Lambda Invoke API


def test_lambda_success(lam):
    def confirm(e: dict) -> dict:
        e["response"]["autoConfirmUser"] = True
        return e

    lam.on("PreSignUp_", confirm)
    resp = invoke(lam, "lambda-pre-sign-up", event())
    assert resp.status_code == 200, resp.text
    assert resp.json()["response"]["autoConfirmUser"] is True
    assert "X-Amz-Function-Error" not in resp.headers
    assert resp.headers["x-amzn-RequestId"]
    [call] = lam.calls
    assert call["function"] == "lambda-pre-sign-up"
    assert call["qualifier"] is None
    assert call["credential"] == {
        "access_key_id": "tessera",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d"),
        "region": "us-east-1",
        "service": "lambda",
    }
    assert call["event"] == event()
    assert lam.failures == []


def test_lambda_function_error_is_unhandled(lam):
    def refuse(e: dict) -> dict:
        raise HandlerError("No sign-ups today.")

    lam.on("lambda-pre-sign-up", refuse)
    resp = invoke(lam, "lambda-pre-sign-up", event())
    assert resp.status_code == 200
    assert resp.headers["X-Amz-Function-Error"] == "Unhandled"
    assert resp.json() == {"errorMessage": "No sign-ups today.", "errorType": "Error"}
    assert lam.failures == []


def test_lambda_missing_function(lam):
    lam.missing("lambda-gone")
    resp = invoke(lam, "lambda-gone", event())
    assert resp.status_code == 404
    assert resp.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert resp.json() == {"Type": "User", "Message": "Function not found: lambda-gone"}
    assert lam.calls[0]["function"] == "lambda-gone"
    assert lam.failures == []
    lam.clear()
    assert invoke(lam, "lambda-gone", event()).status_code == 200


def test_lambda_raw_reply(lam):
    lam.on("lambda-garbage", lambda e: Reply(200, b"not json"))
    resp = invoke(lam, "lambda-garbage", event())
    assert resp.status_code == 200 and resp.content == b"not json"


def test_lambda_function_name_beats_trigger_source(lam):
    lam.on("PreSignUp_SignUp", lambda e: Reply(200, b'"by source"'))
    lam.on("lambda-a", lambda e: Reply(200, b'"by name"'))
    assert invoke(lam, "lambda-a", event()).json() == "by name"
    assert invoke(lam, "lambda-b", event()).json() == "by source"


def test_lambda_name_and_qualifier_from_an_encoded_arn(lam):
    arn = "arn:aws:lambda:eu-west-1:123456789012:function:lambda-named:live"
    lam.on("lambda-named", lambda e: Reply(200, b'"named"'))
    resp = invoke(lam, arn, event(), region="eu-west-1")
    assert resp.status_code == 200 and resp.json() == "named"
    assert lam.calls[0]["path"] == f"/2015-03-31/functions/{quote(arn, safe='')}/invocations"
    assert (lam.calls[0]["function"], lam.calls[0]["qualifier"]) == ("lambda-named", "live")
    assert lam.calls[0]["credential"]["region"] == "eu-west-1"

    invoke(lam, "lambda-named", event(), query="Qualifier=prod")
    assert (lam.calls[1]["function"], lam.calls[1]["qualifier"]) == ("lambda-named", "prod")
    assert lam.calls[1]["query"] == {"Qualifier": "prod"}
    assert lam.failures == []


@pytest.mark.parametrize(
    "function_name, expected",
    [
        ("my-function", ("my-function", None)),
        ("my-function:v1", ("my-function", "v1")),
        ("123456789012:function:my-function", ("my-function", None)),
        ("arn:aws:lambda:us-east-1:123456789012:function:my-function", ("my-function", None)),
        ("arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST", ("my-function", "$LATEST")),
    ],
)
def test_parse_function_name(function_name, expected):
    assert parse_function_name(function_name) == expected


def test_lambda_refuses_a_call_not_signed_for_lambda(lam):
    resp = invoke(lam, "lambda-x", event(), service="execute-api")
    assert resp.status_code == 403
    assert len(lam.failures) == 1 and "lambda service" in lam.failures[0]
    lam.clear()

    url = f"{lam.endpoint}/2015-03-31/functions/lambda-x/invocations"
    assert requests.post(url, json=event(), timeout=TIMEOUT).status_code == 403
    assert len(lam.failures) == 1 and lam.calls[0]["credential"] is None


def test_lambda_unknown_path_is_a_failure(lam):
    resp = requests.post(f"{lam.endpoint}/2015-03-31/functions/x", json=event(), timeout=TIMEOUT)
    assert resp.status_code == 404
    assert len(lam.failures) == 1


# --------------------------------------------------------------------------
# configuration


def test_trigger_config_tables(webhook, lam):
    text = trigger_config(
        webhook,
        lam,
        timeout_seconds=3,
        webhook_paths={"hook-special-*": "hook/special"},
        lambda_keys=("AKID", "SECRET"),
    )
    tables = tomllib.loads(text)["triggers"]
    prefix = "arn:aws:lambda:us-east-1:123456789012:function:"
    assert tables == [
        {
            "functions": [prefix + "hook-special-*"],
            "webhook": webhook.url("hook/special"),
            "secrets": [webhook.secret],
            "timeout_seconds": 3,
        },
        {
            "functions": [prefix + "hook-*"],
            "webhook": webhook.url(),
            "secrets": [webhook.secret],
            "timeout_seconds": 3,
        },
        {
            "functions": [prefix + "lambda-*"],
            "lambda_endpoint": lam.endpoint,
            "access_key_id": "AKID",
            "secret_access_key": "SECRET",
            "timeout_seconds": 3,
        },
    ]


def test_trigger_config_one_target(webhook, lam):
    other = new_secret()
    [hook] = tomllib.loads(trigger_config(webhook, None, webhook_secrets=[other, webhook.secret]))["triggers"]
    assert hook["secrets"] == [other, webhook.secret] and hook["timeout_seconds"] == 2
    [fn] = tomllib.loads(trigger_config(None, lam))["triggers"]
    assert fn == {
        "functions": ["arn:aws:lambda:us-east-1:123456789012:function:lambda-*"],
        "lambda_endpoint": lam.endpoint,
        "timeout_seconds": 2,
    }


def test_pool_lambda_config():
    arn = "arn:aws:lambda:us-east-1:123456789012:function:"
    assert pool_lambda_config(PreSignUp="hook-pre-sign-up") == {"PreSignUp": arn + "hook-pre-sign-up"}
    assert pool_lambda_config(
        pre_token=("hook-ptg", "V2_0"),
        PostConfirmation="arn:aws:lambda:eu-west-1:111111111111:function:elsewhere",
    ) == {
        "PostConfirmation": "arn:aws:lambda:eu-west-1:111111111111:function:elsewhere",
        "PreTokenGeneration": arn + "hook-ptg",
        "PreTokenGenerationConfig": {"LambdaArn": arn + "hook-ptg", "LambdaVersion": "V2_0"},
    }
