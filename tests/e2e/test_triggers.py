"""Cognito's Lambda triggers (issue 12), run by a real tessera against real receivers: a
webhook receiver that checks every call's signature with the `standardwebhooks` package, and
a receiver of the Lambda Invoke API (as LocalStack and `sam local start-lambda` serve it).
boto3, pycognito, PyJWT, Authlib-style token requests and tessera-verify drive and check
each trigger changing the outcome, and each way a function can fail giving Cognito's
exception with nothing half-written."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import secrets
import smtplib
import time

import jwt
import pytest
import requests
from pycognito.aws_srp import AWSSRP

from auth_support import PASSWORD_FLOWS, AuthApp, client_settings
from helpers import E2E_DIR, PASSWORD, App, attribute_list, expect_error, free_port, mail_text, unique, wait_until
from test_delivery_smtp import smtp_sink  # noqa: F401 (a fixture)
from test_js_clients import node, run_node_test  # noqa: F401 (node is a fixture)
from test_verify_library import verify
from trigger_support import (
    HandlerError,
    LambdaReceiver,
    Reply,
    WebhookReceiver,
    delayed,
    function_arn,
    pool_lambda_config,
    trigger_config,
)

TIMEOUT_SECONDS = 2
API = "https://api.example.com"
# The key tessera seals custom senders' codes with, standing for this KMS key.
KMS_KEY_ID = "arn:aws:kms:us-east-1:123456789012:key/0b6e8b7e-e2e0-4c1a-9d7e-5a1f0c2d3e4f"
SENDER_KEY = secrets.token_bytes(32)


@pytest.fixture(scope="module")
def webhook():
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def lambda_():
    receiver = LambdaReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def trigger_server(module_factory, webhook, lambda_, tmp_path_factory):
    """A tessera (per backend) whose `hook-*` functions run on the webhook receiver,
    `lambda-*` on the Lambda receiver and `down-*` on a webhook nobody listens at."""
    config = tmp_path_factory.mktemp("triggers") / "tessera.toml"
    down = f"""
[[triggers]]
functions = ["{function_arn('down-*')}"]
webhook = "http://127.0.0.1:{free_port()}/hook"
secrets = ["{webhook.secret}"]
timeout_seconds = {TIMEOUT_SECONDS}

[[sender_keys]]
kms_key_id = "{KMS_KEY_ID}"
key = "{base64.b64encode(SENDER_KEY).decode()}"
"""
    config.write_text(trigger_config(webhook, lambda_, timeout_seconds=TIMEOUT_SECONDS) + down)
    return module_factory.start(name="triggers", extra_args=["--config", str(config)])


@pytest.fixture(autouse=True)
def fresh_receivers(webhook, lambda_):
    """Each test gives the receivers its own handlers, and leaves no protocol failure."""
    webhook.clear()
    lambda_.clear()
    yield
    assert webhook.failures == [], webhook.failures
    assert lambda_.failures == [], lambda_.failures


FLOWS = [*PASSWORD_FLOWS, "ALLOW_USER_SRP_AUTH"]


def trigger_app(server, triggers: dict, client: dict | None = None, secret: bool = False, **pool) -> AuthApp:
    """A pool with `LambdaConfig` on the trigger server, and a client allowing the password,
    SRP and refresh flows."""
    settings = client_settings({"ExplicitAuthFlows": FLOWS, **(client or {})}, secret)
    return AuthApp.of(App.create(server, client=settings, LambdaConfig=triggers, **pool))


def responding(**response):
    """A handler that fills in `response` with these members."""

    def handler(event: dict) -> dict:
        event["response"] = {**(event.get("response") or {}), **response}
        return event

    return handler


def check_envelope(event: dict, app: App, source: str, user_name: str, client_id: str | None) -> None:
    """The fields every Cognito trigger event carries."""
    assert event["version"] == "1", event
    assert event["triggerSource"] == source
    assert event["region"] == app.pool_id.split("_")[0]
    assert event["userPoolId"] == app.pool_id
    assert event["userName"] == user_name
    assert event["callerContext"] == {
        "awsSdkVersion": "aws-sdk-unknown-unknown",
        "clientId": client_id or "CLIENT_ID_NOT_APPLICABLE",
    }
    assert event["response"] == {}


# --------------------------------------------------------------------------
# PreSignUp and PostConfirmation


def test_pre_sign_up_auto_confirms_and_verifies(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(PreSignUp="hook-pre-sign-up"), AutoVerifiedAttributes=["email"])
    webhook.on("PreSignUp_SignUp", responding(autoConfirmUser=True, autoVerifyEmail=True))
    email = f"{unique('ada')}@example.com"
    out = app.sign_up(
        "ada",
        attributes={"email": email, "name": "Ada"},
        ValidationData=[{"Name": "invite", "Value": "x-1"}],
        ClientMetadata={"source": "e2e"},
    )
    assert out["UserConfirmed"] is True
    assert "CodeDeliveryDetails" not in out
    assert app.status("ada") == "CONFIRMED"
    assert app.attrs("ada")["email_verified"] == "true"
    assert app.outbox("ada") == [], "an auto-confirmed user is sent no code"
    # The user signs in at once.
    tokens = app.sign_in("ada")
    assert app.verify_id(tokens["IdToken"])["email_verified"] is True

    [call] = webhook.calls
    event = call["event"]
    check_envelope(event, app, "PreSignUp_SignUp", "ada", app.client_id)
    assert event["request"] == {
        "userAttributes": {"email": email, "name": "Ada"},
        "validationData": {"invite": "x-1"},
        "clientMetadata": {"source": "e2e"},
    }
    assert call["verified_with"] == [webhook.secret]
    assert re.fullmatch(r"msg_[0-9a-f]+", call["headers"]["webhook-id"])
    assert abs(int(call["headers"]["webhook-timestamp"]) - time.time()) < 60


def test_pre_sign_up_refusal_creates_nothing(trigger_server, lambda_):
    app = trigger_app(trigger_server, pool_lambda_config(PreSignUp="lambda-pre-sign-up"), AutoVerifiedAttributes=["email"])

    def refuse(event):
        raise HandlerError("Registration from this domain is not allowed.")

    lambda_.on("lambda-pre-sign-up", refuse)
    expect_error(
        "UserLambdaValidationException",
        app.sign_up,
        "bob",
        attributes={"email": "bob@blocked.example"},
        message="PreSignUp failed with error Registration from this domain is not allowed..",
    )
    assert app.usernames() == []
    assert app.outbox() == []
    [call] = lambda_.calls
    assert call["function"] == "lambda-pre-sign-up"
    assert call["credential"]["service"] == "lambda" and call["credential"]["region"] == "us-east-1"
    # The request's ValidationData is null when none was given, and clientMetadata absent.
    assert call["event"]["request"] == {"userAttributes": {"email": "bob@blocked.example"}, "validationData": None}


def test_auto_verification_needs_auto_confirmation(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(PreSignUp="hook-pre-sign-up"))
    webhook.on("PreSignUp_SignUp", responding(autoVerifyEmail=True))
    expect_error(
        "InvalidLambdaResponseException",
        app.sign_up,
        "carl",
        attributes={"email": "carl@example.com"},
        message="Phone or email cannot be auto verified, when user is not being auto confirmed.",
    )
    assert app.usernames() == []


def test_pre_sign_up_runs_for_admin_create_user(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(PreSignUp="hook-pre-sign-up"))
    # What the function answers is not read for AdminCreateUser.
    webhook.on("PreSignUp_AdminCreateUser", responding(autoConfirmUser=True))
    app.create_user("dora", {"email": "dora@example.com"}, ClientMetadata={"k": "v"})
    assert app.status("dora") == "FORCE_CHANGE_PASSWORD"
    [event] = webhook.events("PreSignUp_AdminCreateUser")
    check_envelope(event, app, "PreSignUp_AdminCreateUser", "dora", None)
    assert event["request"]["clientMetadata"] == {"k": "v"}

    def refuse(event):
        raise HandlerError("no")

    webhook.on("PreSignUp_AdminCreateUser", refuse)
    expect_error(
        "UserLambdaValidationException",
        app.create_user,
        "erin",
        {"email": "erin@example.com"},
        message="PreSignUp failed with error no.",
    )
    assert app.usernames() == ["dora"]


def test_post_confirmation_after_each_confirmation(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(PostConfirmation="hook-post-confirmation"), AutoVerifiedAttributes=["email"])
    app.sign_up("fay", attributes={"email": "fay@example.com"})
    assert webhook.calls == []
    app.public.confirm_sign_up(
        ClientId=app.client_id, Username="fay", ConfirmationCode=app.code("fay"), ClientMetadata={"step": "confirm"}
    )
    [event] = webhook.events("PostConfirmation_ConfirmSignUp")
    check_envelope(event, app, "PostConfirmation_ConfirmSignUp", "fay", app.client_id)
    attributes = event["request"]["userAttributes"]
    assert attributes["cognito:user_status"] == "CONFIRMED"
    assert attributes["email"] == "fay@example.com" and attributes["email_verified"] == "true"
    assert attributes["sub"] == app.attrs("fay")["sub"]
    assert event["request"]["clientMetadata"] == {"step": "confirm"}

    app.sign_up("gus", attributes={"email": "gus@example.com"})
    app.idp.admin_confirm_sign_up(UserPoolId=app.pool_id, Username="gus")
    event = webhook.events("PostConfirmation_ConfirmSignUp")[-1]
    check_envelope(event, app, "PostConfirmation_ConfirmSignUp", "gus", None)

    app.public.forgot_password(ClientId=app.client_id, Username="fay")
    app.public.confirm_forgot_password(
        ClientId=app.client_id, Username="fay", ConfirmationCode=app.code("fay"), Password=PASSWORD + "2"
    )
    [event] = webhook.events("PostConfirmation_ConfirmForgotPassword")
    check_envelope(event, app, "PostConfirmation_ConfirmForgotPassword", "fay", app.client_id)


def test_failed_post_confirmation_leaves_the_user_confirmed(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(PostConfirmation="hook-post-confirmation"), AutoVerifiedAttributes=["email"])

    def refuse(event):
        raise HandlerError("database unavailable")

    webhook.on("PostConfirmation_ConfirmSignUp", refuse)
    app.sign_up("hal", attributes={"email": "hal@example.com"})
    expect_error(
        "UserLambdaValidationException",
        app.public.confirm_sign_up,
        ClientId=app.client_id,
        Username="hal",
        ConfirmationCode=app.code("hal"),
        message="PostConfirmation failed with error database unavailable.",
    )
    # As in Cognito, the confirmation stands: the function only hears of it.
    assert app.status("hal") == "CONFIRMED"


# --------------------------------------------------------------------------
# how a function fails


def failing_functions(kind: str, webhook: WebhookReceiver, lambda_: LambdaReceiver) -> tuple[str, str, str]:
    """(function name, exception, message) of a PreSignUp function that fails as `kind` says."""
    if kind == "timeout":
        webhook.on("PreSignUp_SignUp", delayed(TIMEOUT_SECONDS + 2))
        return "hook-slow", "UnexpectedLambdaException", "PreSignUp invocation failed due to error Socket timeout while invoking Lambda function."
    if kind == "garbage":
        webhook.on("PreSignUp_SignUp", lambda event: Reply(200, b"<html>not the event</html>", {"Content-Type": "text/html"}))
        return "hook-garbage", "InvalidLambdaResponseException", "Unrecognizable lambda output"
    if kind == "not-an-event":
        lambda_.on("lambda-list", lambda event: Reply(200, b"[1, 2]", {"Content-Type": "application/json"}))
        return "lambda-list", "InvalidLambdaResponseException", "Unrecognizable lambda output"
    if kind == "lambda-error":

        def boom(event):
            raise HandlerError("x is not defined")

        lambda_.on("lambda-boom", boom)
        return "lambda-boom", "UserLambdaValidationException", "PreSignUp failed with error x is not defined."
    if kind == "missing":
        lambda_.missing("lambda-missing")
        return "lambda-missing", "UnexpectedLambdaException", "PreSignUp invocation failed due to error ResourceNotFoundException."
    if kind == "server-error":
        webhook.on("PreSignUp_SignUp", lambda event: Reply(503, b"busy", {"Content-Type": "text/plain"}))
        return "hook-busy", "UnexpectedLambdaException", "PreSignUp invocation failed due to error ServiceException."
    if kind == "down":
        return "down-nobody", "UnexpectedLambdaException", "PreSignUp invocation failed due to error ServiceException."
    if kind == "unrouted":
        return "nowhere-configured", "UnexpectedLambdaException", "PreSignUp invocation failed due to error ResourceNotFoundException."
    raise ValueError(kind)


@pytest.mark.parametrize(
    "kind", ["timeout", "garbage", "not-an-event", "lambda-error", "missing", "server-error", "down", "unrouted"]
)
def test_a_failing_function_gives_cognitos_exception_and_writes_nothing(trigger_server, webhook, lambda_, kind):
    function, exception, message = failing_functions(kind, webhook, lambda_)
    app = trigger_app(trigger_server, pool_lambda_config(PreSignUp=function), AutoVerifiedAttributes=["email"])
    started = time.monotonic()
    expect_error(exception, app.sign_up, "ivy", attributes={"email": "ivy@example.com"}, message=message)
    if kind == "timeout":
        assert time.monotonic() - started < TIMEOUT_SECONDS + 1.5
    assert app.usernames() == []
    assert app.outbox() == []
    # The server keeps answering, and a pool without the function is unaffected.
    app.idp.update_user_pool(UserPoolId=app.pool_id, LambdaConfig={}, AutoVerifiedAttributes=["email"])
    app.sign_up("ivy", attributes={"email": "ivy@example.com"})
    assert app.status("ivy") == "UNCONFIRMED"


def test_trigger_calls_are_logged_without_the_event(trigger_server, lambda_):
    app = trigger_app(trigger_server, pool_lambda_config(UserMigration="lambda-migrate"))
    secret = "Legacy-Secret-Password-1!"
    lambda_.on("lambda-migrate", responding(userAttributes={"email": "log@example.com"}, finalUserStatus="CONFIRMED"))
    app.sign_in("logged", secret)
    output = trigger_server.output
    lines = [line for line in output.splitlines() if "tessera::trigger" in line and "UserMigration_Authentication" in line]
    assert lines, output[-2000:]
    assert "lambda-migrate" in lines[-1] and "latency_ms" in lines[-1] and "answered" in lines[-1]
    assert secret not in output


# --------------------------------------------------------------------------
# sign-in: PreAuthentication, PostAuthentication


def test_pre_authentication_decides_before_the_password(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(PreAuthentication="hook-pre-auth"))
    username = app.user()
    webhook.on(
        "PreAuthentication_Authentication",
        _refuse_when(lambda e: e["request"]["validationData"] == {"deny": "yes"}, "Sign-in is closed"),
    )
    tokens = app.sign_in(username)
    assert tokens["AccessToken"]
    [event] = webhook.events("PreAuthentication_Authentication")
    check_envelope(event, app, "PreAuthentication_Authentication", username, app.client_id)
    assert event["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"
    assert event["request"]["validationData"] is None

    expect_error(
        "UserLambdaValidationException",
        app.public.initiate_auth,
        ClientId=app.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": "wrong-but-never-checked"},
        ClientMetadata={"deny": "yes"},
        message="PreAuthentication failed with error Sign-in is closed.",
    )
    # SRP (pycognito) is refused at its first step the same way.
    webhook.on("PreAuthentication_Authentication", _refuse_when(lambda e: True, "No SRP today"))
    srp = AWSSRP(username=username, password=PASSWORD, pool_id=app.pool_id, client_id=app.client_id, client=app.public)
    expect_error("UserLambdaValidationException", srp.authenticate_user, message="PreAuthentication failed with error No SRP today.")


def _refuse_when(condition, message: str):
    def handler(event):
        if condition(event):
            raise HandlerError(message)
        return event

    return handler


def test_unknown_users_reach_pre_authentication_only_where_users_are_hidden(trigger_server, webhook):
    app = trigger_app(
        trigger_server,
        pool_lambda_config(PreAuthentication="hook-pre-auth"),
        client={"PreventUserExistenceErrors": "ENABLED"},
    )
    expect_error("NotAuthorizedException", app.initiate, "nobody-here")
    [event] = webhook.events("PreAuthentication_Authentication")
    assert event["userName"] == "nobody-here"
    assert event["request"]["userNotFound"] is True and event["request"]["userAttributes"] == {}

    legacy = trigger_app(trigger_server, pool_lambda_config(PreAuthentication="hook-pre-auth"))
    webhook.clear()
    expect_error("UserNotFoundException", legacy.initiate, "nobody-here")
    assert webhook.calls == []


def test_post_authentication_hears_of_each_sign_in_and_can_stop_it(trigger_server, lambda_):
    app = trigger_app(trigger_server, pool_lambda_config(PostAuthentication="lambda-post-auth"))
    username = app.user()
    app.sign_in(username)
    [call] = lambda_.calls
    event = call["event"]
    check_envelope(event, app, "PostAuthentication_Authentication", username, app.client_id)
    assert event["request"]["newDeviceUsed"] is False

    def refuse(event):
        raise HandlerError("account under review")

    lambda_.on("lambda-post-auth", refuse)
    expect_error(
        "UserLambdaValidationException",
        app.initiate,
        username,
        message="PostAuthentication failed with error account under review.",
    )


# --------------------------------------------------------------------------
# PreTokenGeneration


def test_pre_token_generation_v1_changes_the_id_token_on_sign_in_and_refresh(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(pre_token=("hook-ptg", "V1_0")))
    username = app.user(attributes={"email": "v1@example.com", "name": "Before"})
    app.idp.create_group(UserPoolId=app.pool_id, GroupName="staff")
    app.idp.admin_add_user_to_group(UserPoolId=app.pool_id, Username=username, GroupName="staff")

    def customize(event):
        assert event["version"] == "1"
        assert event["request"]["groupConfiguration"] == {
            "groupsToOverride": ["staff"],
            "iamRolesToOverride": [],
            "preferredRole": None,
        }
        assert "scopes" not in event["request"]
        event["response"] = {
            "claimsOverrideDetails": {
                "claimsToAddOrOverride": {"tenant": "acme", "name": "After", "sub": "forged"},
                "claimsToSuppress": ["email"],
                "groupOverrideDetails": {"groupsToOverride": ["admins", "readers"], "iamRolesToOverride": [], "preferredRole": None},
            }
        }
        return event

    webhook.on("TokenGeneration_", customize)
    tokens = app.sign_in(username)
    sub = app.attrs(username)["sub"]
    for id_token, access_token in [(tokens["IdToken"], tokens["AccessToken"])]:
        id_claims = app.verify_id(id_token)
        assert id_claims["tenant"] == "acme" and id_claims["name"] == "After"
        assert "email" not in id_claims
        assert id_claims["sub"] == sub, "sub is protected"
        assert id_claims["cognito:groups"] == ["admins", "readers"]
        access = app.verify_access(access_token)
        assert access["cognito:groups"] == ["admins", "readers"]
        assert "tenant" not in access, "version 1 changes only the ID token's claims"
    assert [e["triggerSource"] for e in webhook.events("TokenGeneration_")] == ["TokenGeneration_Authentication"]

    refreshed = app.refresh(tokens["RefreshToken"])["AuthenticationResult"]
    assert app.verify_id(refreshed["IdToken"])["tenant"] == "acme"
    assert webhook.events("TokenGeneration_")[-1]["triggerSource"] == "TokenGeneration_RefreshTokens"


def test_pre_token_generation_v2_changes_both_tokens_and_scopes(trigger_server, lambda_):
    app = trigger_app(trigger_server, pool_lambda_config(pre_token=("lambda-ptg", "V2_0")))
    username = app.user(attributes={"email": "v2@example.com"})

    def customize(event):
        assert event["version"] == "2"
        assert event["request"]["scopes"] == ["aws.cognito.signin.user.admin"]
        event["response"] = {
            "claimsAndScopeOverrideDetails": {
                "idTokenGeneration": {
                    "claimsToAddOrOverride": {"plan": {"name": "gold", "seats": 5}, "flags": [1, "a", True]},
                    "claimsToSuppress": ["email"],
                },
                "accessTokenGeneration": {
                    "claimsToAddOrOverride": {"permissions": ["read", "write"], "client_id": "forged", "username": "forged"},
                    "claimsToSuppress": ["auth_time"],
                    "scopesToAdd": [f"{API}/read", "openid"],
                    "scopesToSuppress": ["aws.cognito.signin.user.admin"],
                },
            }
        }
        return event

    lambda_.on("lambda-ptg", customize)
    tokens = app.sign_in(username)
    id_claims = app.verify_id(tokens["IdToken"])
    assert id_claims["plan"] == {"name": "gold", "seats": 5} and id_claims["flags"] == [1, "a", True]
    assert "email" not in id_claims
    access = app.verify_access(tokens["AccessToken"])
    assert access["permissions"] == ["read", "write"]
    assert access["client_id"] == app.client_id and access["username"] == username
    assert "auth_time" in access, "auth_time is protected"
    assert access["scope"] == f"{API}/read openid"
    # tessera-verify accepts the token for the added scope and refuses the suppressed one.
    code, verified = verify(tokens["AccessToken"], "--issuer", app.issuer, "--client-id", app.client_id, "--token-use", "access", "--scope", f"{API}/read")
    assert code == 0, verified
    assert verified["permissions"] == ["read", "write"]
    code, _ = verify(tokens["AccessToken"], "--issuer", app.issuer, "--client-id", app.client_id, "--token-use", "access", "--scope", "aws.cognito.signin.user.admin")
    assert code != 0
    # GetUser needs aws.cognito.signin.user.admin, which the function took away.
    expect_error("NotAuthorizedException", app.get_user, tokens["AccessToken"])

    refreshed = app.get_tokens(tokens["RefreshToken"])["AuthenticationResult"]
    assert app.verify_access(refreshed["AccessToken"])["permissions"] == ["read", "write"]


def test_pre_token_generation_failure_issues_nothing(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(pre_token=("hook-ptg", "V2_0")))
    username = app.user()
    tokens = app.sign_in(username)

    def refuse(event):
        raise HandlerError("No Auth")

    webhook.on("TokenGeneration_", refuse)
    expect_error("UserLambdaValidationException", app.initiate, username, message="PreTokenGeneration failed with error No Auth.")
    expect_error("UserLambdaValidationException", app.refresh, tokens["RefreshToken"], message="PreTokenGeneration failed with error No Auth.")
    webhook.on("TokenGeneration_", responding(claimsAndScopeOverrideDetails={"accessTokenGeneration": {"scopesToAdd": ["has space"]}}))
    expect_error("InvalidLambdaResponseException", app.initiate, username, message="Unrecognizable lambda output")


def test_pre_token_generation_v3_customizes_client_credentials(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(pre_token=("hook-ptg", "V3_0")))
    app.idp.create_resource_server(
        UserPoolId=app.pool_id, Identifier=API, Name="api",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "r"}, {"ScopeName": "write", "ScopeDescription": "w"}],
    )
    machine = app.idp.create_user_pool_client(
        UserPoolId=app.pool_id, ClientName=unique("machine"), GenerateSecret=True,
        AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=[f"{API}/read", f"{API}/write"],
        AllowedOAuthFlowsUserPoolClient=True,
    )["UserPoolClient"]

    def customize(event):
        assert event["version"] == "3"
        assert event["request"]["scopes"] == [f"{API}/read", f"{API}/write"]
        event["response"] = {
            "claimsAndScopeOverrideDetails": {
                "accessTokenGeneration": {
                    "claimsToAddOrOverride": {"tenant": "acme", "sub": "forged"},
                    "scopesToSuppress": [f"{API}/write"],
                }
            }
        }
        return event

    webhook.on("TokenGeneration_ClientCredentials", customize)
    resp = requests.post(
        f"{app.issuer}/oauth2/token",
        data={"grant_type": "client_credentials", "aws_client_metadata": json.dumps({"region_hint": "eu"})},
        auth=(machine["ClientId"], machine["ClientSecret"]),
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    token = resp.json()["access_token"]
    key = jwt.PyJWKClient(f"{app.issuer}/.well-known/jwks.json").get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], issuer=app.issuer)
    assert claims["tenant"] == "acme" and claims["sub"] == machine["ClientId"]
    assert claims["scope"] == f"{API}/read"
    [event] = webhook.events("TokenGeneration_ClientCredentials")
    assert event["callerContext"]["clientId"] == machine["ClientId"]
    assert event["request"]["clientMetadata"] == {"region_hint": "eu"}
    bad = requests.post(
        f"{app.issuer}/oauth2/token", data={"grant_type": "client_credentials", "aws_client_metadata": "[1]"},
        auth=(machine["ClientId"], machine["ClientSecret"]), timeout=30,
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
    code, _ = verify(token, "--issuer", app.issuer, "--client-id", machine["ClientId"], "--token-use", "access", "--scope", f"{API}/read")
    assert code == 0

    # A version-2 function never sees machine tokens.
    app.idp.update_user_pool(UserPoolId=app.pool_id, LambdaConfig=pool_lambda_config(pre_token=("hook-ptg", "V2_0")))
    webhook.clear()
    resp = requests.post(
        f"{app.issuer}/oauth2/token", data={"grant_type": "client_credentials"},
        auth=(machine["ClientId"], machine["ClientSecret"]), timeout=30,
    )
    assert resp.status_code == 200 and webhook.calls == []

    def refuse(event):
        raise HandlerError("machines are off")

    app.idp.update_user_pool(UserPoolId=app.pool_id, LambdaConfig=pool_lambda_config(pre_token=("hook-ptg", "V3_0")))
    webhook.on("TokenGeneration_ClientCredentials", refuse)
    resp = requests.post(
        f"{app.issuer}/oauth2/token", data={"grant_type": "client_credentials"},
        auth=(machine["ClientId"], machine["ClientSecret"]), timeout=30,
    )
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_request", "error_description": "PreTokenGeneration failed with error machines are off."}


# --------------------------------------------------------------------------
# UserMigration


def legacy_store(accounts: dict[str, tuple[str, dict]]):
    """A UserMigration function over a legacy user store: name -> (password, attributes)."""

    def migrate(event):
        account = accounts.get(event["userName"])
        if account is None:
            return event
        password, attributes = account
        if event["triggerSource"] == "UserMigration_Authentication":
            if event["request"]["password"] != password:
                raise HandlerError("Bad password")
            event["response"] = {"userAttributes": attributes, "finalUserStatus": "CONFIRMED", "messageAction": "SUPPRESS"}
        else:
            event["response"] = {"userAttributes": attributes, "messageAction": "SUPPRESS"}
        return event

    return migrate


def test_user_migration_on_first_sign_in(trigger_server, lambda_):
    app = trigger_app(trigger_server, pool_lambda_config(UserMigration="lambda-migrate"))
    legacy_password = "old-system-pass"  # the pool's policy is not applied to it, as in Cognito
    lambda_.on("lambda-migrate", legacy_store({"jan": (legacy_password, {"email": "jan@example.com", "email_verified": "true", "name": "Jan"})}))

    expect_error("UserLambdaValidationException", app.initiate, "jan", "wrong", message="UserMigration failed with error Bad password.")
    assert app.usernames() == []
    expect_error("UserNotFoundException", app.initiate, "not-in-legacy", legacy_password)
    assert app.usernames() == []

    tokens = app.sign_in("jan", legacy_password)
    claims = app.verify_id(tokens["IdToken"])
    assert claims["cognito:username"] == "jan" and claims["email"] == "jan@example.com" and claims["email_verified"] is True
    assert app.status("jan") == "CONFIRMED" and app.attrs("jan")["name"] == "Jan"
    events = lambda_.events("UserMigration_Authentication")
    assert len(events) == 3
    event = events[-1]
    check_envelope(event, app, "UserMigration_Authentication", "jan", app.client_id)
    assert event["request"] == {"password": legacy_password, "validationData": None}

    # From now on the user signs in without the function (also with SRP).
    lambda_.clear()
    app.sign_in("jan", legacy_password)
    AWSSRP(username="jan", password=legacy_password, pool_id=app.pool_id, client_id=app.client_id, client=app.public).authenticate_user()
    assert lambda_.calls == []


def test_user_migration_on_forgot_password(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(UserMigration="hook-migrate"))
    webhook.on("UserMigration_ForgotPassword", legacy_store({"kim": ("unused", {"email": "kim@example.com", "email_verified": "true"})}))
    out = app.public.forgot_password(ClientId=app.client_id, Username="kim")
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert app.status("kim") == "RESET_REQUIRED"
    [event] = webhook.events("UserMigration_ForgotPassword")
    assert event["userName"] == "kim" and "password" not in event["request"]
    app.public.confirm_forgot_password(ClientId=app.client_id, Username="kim", ConfirmationCode=app.code("kim"), Password=PASSWORD)
    webhook.clear()
    assert app.sign_in("kim", PASSWORD)["AccessToken"]
    assert webhook.calls == []


def test_migration_failures_create_nobody(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(UserMigration="hook-migrate"))
    # Attributes the pool's rules refuse are refused as AdminCreateUser refuses them.
    webhook.on("UserMigration_Authentication", responding(userAttributes={"custom:unknown": "x"}, finalUserStatus="CONFIRMED"))
    expect_error("InvalidParameterException", app.initiate, "lee", "pw")
    webhook.on("UserMigration_Authentication", responding(userAttributes={"email": "lee@example.com"}, finalUserStatus="MAYBE"))
    expect_error("InvalidLambdaResponseException", app.initiate, "lee", "pw", message="Unrecognizable lambda output")
    webhook.on("UserMigration_Authentication", delayed(TIMEOUT_SECONDS + 2))
    expect_error("UnexpectedLambdaException", app.initiate, "lee", "pw")
    assert app.usernames() == []


# --------------------------------------------------------------------------
# CustomMessage


def custom_words(event: dict) -> dict:
    """A CustomMessage function that writes every message itself, naming its occasion."""
    request = event["request"]
    source = event["triggerSource"]
    username = f" {request['usernameParameter']}" if request["usernameParameter"] else ""
    event["response"] = {
        "emailSubject": f"Acme: {source}",
        "emailMessage": f"<p>Hello{username}, your Acme code is {request['codeParameter']}.</p>",
        "smsMessage": f"Acme{username} code {request['codeParameter']}",
    }
    return event


@pytest.fixture(scope="module")
def mail_trigger_server(module_factory, webhook, smtp_sink, tmp_path_factory):
    """A tessera (per backend) that runs `hook-*` functions on the webhook receiver and sends
    e-mail over SMTP to a local sink."""
    config = tmp_path_factory.mktemp("trigger-mail") / "tessera.toml"
    config.write_text(
        trigger_config(webhook, None, timeout_seconds=TIMEOUT_SECONDS)
        + f"""
[delivery.smtp]
host = "127.0.0.1"
port = {smtp_sink.port}
security = "none"
from = "Acme <no-reply@acme.test>"
timeout_seconds = 5
"""
    )
    return module_factory.start(name="trigger-mail", extra_args=["--config", str(config)])


def test_custom_message_writes_the_confirmation_email(mail_trigger_server, webhook, smtp_sink):
    app = trigger_app(mail_trigger_server, pool_lambda_config(CustomMessage="hook-custom-message"), AutoVerifiedAttributes=["email"])
    webhook.on("CustomMessage_", custom_words)
    to = f"{unique('mia')}@example.com"
    app.sign_up("mia", attributes={"email": to}, ClientMetadata={"lang": "en"})
    received = smtp_sink.wait_for(to)
    assert str(received["message"]["Subject"]) == "Acme: CustomMessage_SignUp"
    body = mail_text(received["message"])
    match = re.fullmatch(r"<p>Hello, your Acme code is (\d{6})\.</p>", body.strip())
    assert match, body
    app.public.confirm_sign_up(ClientId=app.client_id, Username="mia", ConfirmationCode=match.group(1))
    assert app.status("mia") == "CONFIRMED"
    [event] = webhook.events("CustomMessage_SignUp")
    check_envelope(event, app, "CustomMessage_SignUp", "mia", app.client_id)
    assert event["request"]["codeParameter"] == "{####}"
    assert event["request"]["linkParameter"] == "{##Click Here##}"
    assert event["request"]["usernameParameter"] is None
    assert event["request"]["clientMetadata"] == {"lang": "en"}
    assert event["request"]["userAttributes"]["email"] == to
    # The function saw the placeholder, never the code.
    assert match.group(1) not in json.dumps(event)


def test_custom_message_for_every_occasion(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(CustomMessage="hook-custom-message"), AutoVerifiedAttributes=["email"])
    webhook.on("CustomMessage_", custom_words)

    def last_body(username: str) -> str:
        return app.outbox(username)[-1]["body"]

    app.sign_up("ned", attributes={"email": "ned@example.com"})
    app.public.resend_confirmation_code(ClientId=app.client_id, Username="ned")
    assert re.fullmatch(r"<p>Hello, your Acme code is \d{6}\.</p>", last_body("ned"))
    app.public.confirm_sign_up(ClientId=app.client_id, Username="ned", ConfirmationCode=app.code("ned"))
    app.public.forgot_password(ClientId=app.client_id, Username="ned")
    app.idp.admin_reset_user_password(UserPoolId=app.pool_id, Username="ned")
    app.idp.admin_set_user_password(UserPoolId=app.pool_id, Username="ned", Password=PASSWORD, Permanent=True)
    access = app.sign_in("ned")["AccessToken"]
    app.public.update_user_attributes(AccessToken=access, UserAttributes=[{"Name": "email", "Value": "ned2@example.com"}])
    app.public.get_user_attribute_verification_code(AccessToken=access, AttributeName="email")
    app.idp.admin_create_user(
        UserPoolId=app.pool_id, Username="olive", UserAttributes=attribute_list({"email": "olive@example.com"}),
        DesiredDeliveryMediums=["EMAIL"],
    )
    invitation = app.outbox("olive")[-1]
    assert re.fullmatch(r"<p>Hello olive, your Acme code is \S+\.</p>", invitation["body"]), invitation
    assert invitation["subject"] == "Acme: CustomMessage_AdminCreateUser"
    sources = [e["triggerSource"] for e in webhook.events("CustomMessage_")]
    assert sources == [
        "CustomMessage_SignUp",
        "CustomMessage_ResendCode",
        "CustomMessage_ForgotPassword",
        "CustomMessage_ForgotPassword",
        "CustomMessage_UpdateUserAttribute",
        "CustomMessage_VerifyUserAttribute",
        "CustomMessage_AdminCreateUser",
    ]
    admin_events = [e for e in webhook.events("CustomMessage_") if e["callerContext"]["clientId"] == "CLIENT_ID_NOT_APPLICABLE"]
    assert [e["triggerSource"] for e in admin_events] == ["CustomMessage_ForgotPassword", "CustomMessage_AdminCreateUser"]
    assert webhook.events("CustomMessage_AdminCreateUser")[0]["request"]["usernameParameter"] == "{username}"


def test_custom_message_must_keep_the_placeholders(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(CustomMessage="hook-custom-message"), AutoVerifiedAttributes=["email"])
    webhook.on("CustomMessage_SignUp", responding(emailMessage="Welcome aboard!"))
    error = expect_error("InvalidParameterException", app.sign_up, "pia", attributes={"email": "pia@example.com"})
    assert "at 'emailMessage' failed to satisfy constraint" in error["Message"] and "\\{####\\}" in error["Message"]
    assert app.usernames() == [] and app.outbox() == []
    # An invitation must also name the user.
    webhook.on("CustomMessage_AdminCreateUser", responding(emailMessage="Your password: {####}"))
    error = expect_error(
        "InvalidParameterException", app.idp.admin_create_user,
        UserPoolId=app.pool_id, Username="quinn", UserAttributes=attribute_list({"email": "quinn@example.com"}),
        DesiredDeliveryMediums=["EMAIL"],
    )
    assert "\\{username\\}" in error["Message"]
    assert app.usernames() == []
    # A function that writes nothing leaves the pool's own message.
    webhook.on("CustomMessage_SignUp", responding(emailMessage=None))
    app.sign_up("pia", attributes={"email": "pia@example.com"})
    assert re.fullmatch(r"Your verification code is \d{6}\. ?", app.outbox("pia")[-1]["body"])


# --------------------------------------------------------------------------
# CUSTOM_AUTH


class OneTimeCodes:
    """DefineAuthChallenge, CreateAuthChallenge and VerifyAuthChallengeResponse of a
    passwordless pool: a code by e-mail, three tries; a password first (SRP) when the client
    starts with it. `send` delivers a code (by default the fixed `code`)."""

    def __init__(self, code: str | None = None, send=None):
        self.code = code
        self.send = send

    def define(self, event):
        session = event["request"]["session"]
        last = session[-1] if session else None
        tries = sum(1 for step in session if step["challengeName"] == "CUSTOM_CHALLENGE")
        response = {"issueTokens": False, "failAuthentication": False}
        if last and last["challengeName"] == "SRP_A":
            response["challengeName"] = "PASSWORD_VERIFIER"
        elif last and last["challengeName"] == "PASSWORD_VERIFIER" and not last["challengeResult"]:
            response["failAuthentication"] = True
        elif last and last["challengeName"] == "CUSTOM_CHALLENGE" and last["challengeResult"]:
            response["issueTokens"] = True
        elif tries >= 3:
            response["failAuthentication"] = True
        else:
            response["challengeName"] = "CUSTOM_CHALLENGE"
        event["response"] = response
        return event

    def create(self, event):
        tries = sum(1 for step in event["request"]["session"] if step["challengeName"] == "CUSTOM_CHALLENGE")
        code = self.code or f"{secrets.randbelow(10**6):06d}"
        if self.send is not None and not event["request"]["userNotFound"]:
            self.send(event["request"]["userAttributes"]["email"], code)
        event["response"] = {
            "publicChallengeParameters": {"hint": "code sent by e-mail", "attempt": str(tries + 1)},
            "privateChallengeParameters": {"answer": code},
            "challengeMetadata": f"CODE-{tries + 1}",
        }
        return event

    @staticmethod
    def verify(event):
        request = event["request"]
        event["response"] = {"answerCorrect": request["challengeAnswer"] == request["privateChallengeParameters"]["answer"]}
        return event

    def install(self, receiver) -> None:
        receiver.on("DefineAuthChallenge_Authentication", self.define)
        receiver.on("CreateAuthChallenge_Authentication", self.create)
        receiver.on("VerifyAuthChallengeResponse_Authentication", self.verify)


CUSTOM_TRIGGERS = pool_lambda_config(
    DefineAuthChallenge="hook-define", CreateAuthChallenge="hook-create", VerifyAuthChallengeResponse="hook-verify"
)


def custom_auth(app: AuthApp, username: str, **extra) -> dict:
    return app.public.initiate_auth(
        ClientId=app.client_id, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": username, **extra}
    )


def answer(app: AuthApp, challenge: dict, answer: str) -> dict:
    return app.public.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="CUSTOM_CHALLENGE",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": challenge["ChallengeParameters"]["USERNAME"], "ANSWER": answer},
    )


def test_custom_auth_passwordless_email_code_with_boto3(mail_trigger_server, webhook, smtp_sink):
    def send(to: str, code: str) -> None:
        with smtplib.SMTP("127.0.0.1", smtp_sink.port, timeout=10) as smtp:
            smtp.sendmail("login@acme.test", [to], f"Subject: Your sign-in code\r\n\r\nYour code is {code}\r\n")

    OneTimeCodes(send=send).install(webhook)
    app = trigger_app(mail_trigger_server, CUSTOM_TRIGGERS, client={"ExplicitAuthFlows": ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]})
    username = app.user()
    email = app.attrs(username)["email"]

    first = custom_auth(app, username)
    assert first["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert first["ChallengeParameters"] == {"hint": "code sent by e-mail", "attempt": "1", "USERNAME": username}
    code = re.search(r"Your code is (\d{6})", mail_text(smtp_sink.wait_for(email)["message"])).group(1)

    second = answer(app, first, "not-the-code")
    assert second["ChallengeName"] == "CUSTOM_CHALLENGE" and second["ChallengeParameters"]["attempt"] == "2"
    code = re.search(r"Your code is (\d{6})", mail_text(smtp_sink.wait_for(email, count=2)["message"])).group(1)
    # The first session answered once and is gone.
    expect_error("NotAuthorizedException", answer, app, first, code, message="Invalid session for the user.")

    done = answer(app, second, code)
    tokens = done["AuthenticationResult"]
    assert app.verify_id(tokens["IdToken"])["cognito:username"] == username
    assert app.refresh(tokens["RefreshToken"])["AuthenticationResult"]["AccessToken"]

    defines = webhook.events("DefineAuthChallenge_Authentication")
    assert [e["request"]["session"] for e in defines] == [
        [],
        [{"challengeName": "CUSTOM_CHALLENGE", "challengeResult": False, "challengeMetadata": "CODE-1"}],
        [
            {"challengeName": "CUSTOM_CHALLENGE", "challengeResult": False, "challengeMetadata": "CODE-1"},
            {"challengeName": "CUSTOM_CHALLENGE", "challengeResult": True, "challengeMetadata": "CODE-2"},
        ],
    ]
    check_envelope(defines[0], app, "DefineAuthChallenge_Authentication", username, app.client_id)
    [verify_event, _] = webhook.events("VerifyAuthChallengeResponse_Authentication")
    assert verify_event["request"]["challengeAnswer"] == "not-the-code"
    assert verify_event["request"]["userNotFound"] is False


def test_custom_auth_is_followed_by_mfa(trigger_server, webhook):
    """Issue 13: a CUSTOM_AUTH sign-in ends in the same further challenges as any other: the
    user's software token is asked after the custom challenge, and only then are tokens
    issued."""
    from test_mfa import TOTP, enrol

    OneTimeCodes(code="123456").install(webhook)
    app = trigger_app(trigger_server, CUSTOM_TRIGGERS, client={"ExplicitAuthFlows": ["ALLOW_CUSTOM_AUTH", "ALLOW_USER_PASSWORD_AUTH"]})
    app.idp.set_user_pool_mfa_config(UserPoolId=app.pool_id, MfaConfiguration="OPTIONAL", **TOTP)
    username = app.user()
    authenticator = enrol(app, app.sign_in(username)["AccessToken"])
    _, current, _ = authenticator.steps()
    mfa = answer(app, custom_auth(app, username), "123456")
    assert mfa["ChallengeName"] == "SOFTWARE_TOKEN_MFA", mfa
    assert "AuthenticationResult" not in mfa
    done = app.public.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="SOFTWARE_TOKEN_MFA",
        Session=mfa["Session"],
        ChallengeResponses={"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": current},
    )
    assert app.verify_id(done["AuthenticationResult"]["IdToken"])["cognito:username"] == username


def test_custom_auth_fails_after_three_wrong_codes(trigger_server, webhook):
    OneTimeCodes(code="123456").install(webhook)
    app = trigger_app(trigger_server, CUSTOM_TRIGGERS, client={"ExplicitAuthFlows": ["ALLOW_CUSTOM_AUTH"]})
    username = app.user()
    challenge = custom_auth(app, username)
    challenge = answer(app, challenge, "1")
    challenge = answer(app, challenge, "2")
    expect_error("NotAuthorizedException", answer, app, challenge, "3", message="Incorrect username or password.")


def test_custom_auth_needs_its_trigger_and_its_flow(trigger_server, webhook):
    OneTimeCodes(code="123456").install(webhook)
    without = trigger_app(trigger_server, {}, client={"ExplicitAuthFlows": ["ALLOW_CUSTOM_AUTH"]})
    expect_error(
        "InvalidParameterException", custom_auth, without, without.user(),
        message="Custom auth lambda trigger is not configured for the user pool.",
    )
    not_allowed = trigger_app(trigger_server, CUSTOM_TRIGGERS)
    expect_error("InvalidParameterException", custom_auth, not_allowed, not_allowed.user(), message="Auth flow not enabled for this client")
    assert webhook.calls == []
    # A function that decides nothing it can follow is an unrecognizable answer.
    app = trigger_app(trigger_server, CUSTOM_TRIGGERS, client={"ExplicitAuthFlows": ["ALLOW_CUSTOM_AUTH"]})
    webhook.on("DefineAuthChallenge_Authentication", responding(challengeName="SMS_MFA"))
    expect_error("InvalidLambdaResponseException", custom_auth, app, app.user(), message="Unrecognizable lambda output")


def test_custom_auth_for_an_unknown_user_never_issues_tokens(trigger_server, webhook):
    OneTimeCodes(code="123456").install(webhook)
    app = trigger_app(
        trigger_server, CUSTOM_TRIGGERS,
        client={"ExplicitAuthFlows": ["ALLOW_CUSTOM_AUTH"], "PreventUserExistenceErrors": "ENABLED"},
    )
    challenge = custom_auth(app, "nobody")
    assert challenge["ChallengeName"] == "CUSTOM_CHALLENGE"
    expect_error("NotAuthorizedException", answer, app, challenge, "123456", message="Incorrect username or password.")
    assert all(e["request"]["userNotFound"] is True for e in webhook.events("DefineAuthChallenge_"))
    legacy = trigger_app(trigger_server, CUSTOM_TRIGGERS, client={"ExplicitAuthFlows": ["ALLOW_CUSTOM_AUTH"]})
    expect_error("UserNotFoundException", custom_auth, legacy, "nobody")


def test_custom_auth_with_amazon_cognito_identity_js(trigger_server, webhook, node):
    OneTimeCodes(code="424242").install(webhook)
    app = trigger_app(
        trigger_server, CUSTOM_TRIGGERS,
        client={"ExplicitAuthFlows": ["ALLOW_CUSTOM_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]},
    )
    username = app.user()
    run_node_test(
        node,
        "custom-auth.test.mjs",
        {
            "TESSERA_E2E_ENDPOINT": trigger_server.url + "/",
            "TESSERA_E2E_ISSUER": app.issuer,
            "TESSERA_E2E_POOL_ID": app.pool_id,
            "TESSERA_E2E_CLIENT_ID": app.client_id,
            "TESSERA_E2E_USERNAME": username,
            "TESSERA_E2E_PASSWORD": PASSWORD,
            "TESSERA_E2E_CODE": "424242",
        },
        min_passed=3,
    )
    # The password-first run showed Define the SRP steps.
    sessions = [e["request"]["session"] for e in webhook.events("DefineAuthChallenge_")]
    assert [{"challengeName": "SRP_A", "challengeResult": True, "challengeMetadata": None}] in sessions
    assert [
        {"challengeName": "SRP_A", "challengeResult": True, "challengeMetadata": None},
        {"challengeName": "PASSWORD_VERIFIER", "challengeResult": True, "challengeMetadata": None},
    ] in sessions


# --------------------------------------------------------------------------
# CustomEmailSender and CustomSMSSender


def sender_triggers(email: str | None = "hook-email-sender", sms: str | None = None, kms_key_id: str = KMS_KEY_ID) -> dict:
    config: dict = {"KMSKeyID": kms_key_id}
    if email:
        config["CustomEmailSender"] = {"LambdaVersion": "V1_0", "LambdaArn": function_arn(email)}
    if sms:
        config["CustomSMSSender"] = {"LambdaVersion": "V1_0", "LambdaArn": function_arn(sms)}
    return config


def open_with_joserfc(jwe_text: str) -> str:
    """What a Python handler does with `request.code` (see the README)."""
    from joserfc import jwe
    from joserfc.jwk import OctKey

    return jwe.decrypt_compact(jwe_text, OctKey.import_key(SENDER_KEY)).plaintext.decode()


def open_with_node_jose(jwe_text: str) -> str:
    """What a Node handler does with `request.code` (see the README), with npm's `jose`."""
    script = (
        "import { compactDecrypt } from 'jose';"
        "const key = Buffer.from(process.env.SENDER_KEY, 'base64');"
        "const { plaintext } = await compactDecrypt(process.env.CODE, key);"
        "process.stdout.write(new TextDecoder().decode(plaintext));"
    )
    done = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        cwd=E2E_DIR / "js",
        env={**os.environ, "SENDER_KEY": base64.b64encode(SENDER_KEY).decode(), "CODE": jwe_text},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_custom_email_sender_gets_the_code_sealed(trigger_server, webhook, node):
    app = trigger_app(
        trigger_server,
        {**sender_triggers(), **pool_lambda_config(CustomMessage="hook-custom-message")},
        AutoVerifiedAttributes=["email"],
    )
    webhook.on("CustomMessage_", custom_words)
    app.sign_up("rae", attributes={"email": "rae@example.com"}, ClientMetadata={"lang": "fr"})
    event = wait_until(lambda: next(iter(webhook.events("CustomEmailSender_")), None), what="the sender call")
    check_envelope(event, app, "CustomEmailSender_SignUp", "rae", app.client_id)
    request = event["request"]
    assert request["type"] == "customEmailSenderRequestV1"
    assert request["clientMetadata"] == {"lang": "fr"}
    assert request["userAttributes"]["email"] == "rae@example.com"
    code = open_with_joserfc(request["code"])
    assert re.fullmatch(r"\d{6}", code) and code not in json.dumps(event)
    assert open_with_node_jose(request["code"]) == code
    # tessera sent nothing itself, and the CustomMessage function was not asked.
    assert app.outbox("rae") == [] and webhook.events("CustomMessage_") == []
    app.public.confirm_sign_up(ClientId=app.client_id, Username="rae", ConfirmationCode=code)
    assert app.status("rae") == "CONFIRMED"

    # An invitation's temporary password is escaped for HTML before sealing, as in Cognito.
    app.idp.admin_create_user(
        UserPoolId=app.pool_id, Username="sam", TemporaryPassword="Temp<Pass>1&",
        UserAttributes=attribute_list({"email": "sam@example.com"}), DesiredDeliveryMediums=["EMAIL"],
    )
    event = wait_until(lambda: next(iter(webhook.events("CustomEmailSender_AdminCreateUser")), None), what="the invitation")
    assert event["callerContext"]["clientId"] == "CLIENT_ID_NOT_APPLICABLE"
    assert open_with_joserfc(event["request"]["code"]) == "Temp&lt;Pass&gt;1&amp;"


def test_custom_sms_sender_and_its_failures(trigger_server, lambda_):
    app = trigger_app(trigger_server, sender_triggers(email=None, sms="lambda-sms-sender"))
    username = app.user(attributes={"phone_number": "+15555550100"})
    app.idp.admin_update_user_attributes(
        UserPoolId=app.pool_id, Username=username, UserAttributes=[{"Name": "phone_number_verified", "Value": "true"}]
    )
    out = app.public.forgot_password(ClientId=app.client_id, Username=username)
    assert out["CodeDeliveryDetails"]["DeliveryMedium"] == "SMS"
    event = wait_until(lambda: next(iter(lambda_.events("CustomSMSSender_")), None), what="the SMS sender call")
    assert event["triggerSource"] == "CustomSMSSender_ForgotPassword"
    assert event["request"]["type"] == "customSMSSenderRequestV1"
    code = open_with_joserfc(event["request"]["code"])
    app.public.confirm_forgot_password(ClientId=app.client_id, Username=username, ConfirmationCode=code, Password=PASSWORD + "x")
    assert app.sign_in(username, PASSWORD + "x")["AccessToken"]

    # A sender that fails does not fail the operation (it runs asynchronously, as in Cognito).
    def refuse(event):
        raise HandlerError("SMS provider down")

    lambda_.on("lambda-sms-sender", refuse)
    app.public.forgot_password(ClientId=app.client_id, Username=username)
    wait_until(lambda: len(lambda_.events("CustomSMSSender_")) == 2, what="the second call")

    # A KMSKeyID tessera has no key for refuses, before anything is written.
    unknown = trigger_app(trigger_server, sender_triggers(kms_key_id="arn:aws:kms:us-east-1:123456789012:key/unknown"), AutoVerifiedAttributes=["email"])
    expect_error(
        "UnexpectedLambdaException", unknown.sign_up, "tom", attributes={"email": "tom@example.com"},
        message="CustomEmailSender invocation failed due to error KMSNotFoundException.",
    )
    assert unknown.usernames() == []


# --------------------------------------------------------------------------
# review findings: guesses through UserMigration are counted, hidden accounts stay hidden


def test_guesses_through_user_migration_are_counted_before_the_function_sees_them(trigger_server, webhook):
    app = trigger_app(trigger_server, pool_lambda_config(UserMigration="hook-migrate"))

    def refuse(event):
        raise HandlerError("Bad password")

    webhook.on("UserMigration_Authentication", refuse)
    answers = []
    for _ in range(6):
        answers.append(expect_error("UserLambdaValidationException" if len(answers) < 5 else "NotAuthorizedException", app.initiate, "legacy-name", "guess")["Message"])
    assert answers == ["UserMigration failed with error Bad password."] * 5 + ["Password attempts exceeded"]
    # The locked name never reached the function.
    assert len(webhook.events("UserMigration_")) == 5
    assert app.usernames() == []


def test_custom_auth_does_not_tell_a_disabled_account_from_an_unknown_one(trigger_server, webhook):
    OneTimeCodes(code="123456").install(webhook)
    app = trigger_app(
        trigger_server, CUSTOM_TRIGGERS,
        client={"ExplicitAuthFlows": ["ALLOW_CUSTOM_AUTH"], "PreventUserExistenceErrors": "ENABLED"},
    )
    username = app.user()
    app.idp.admin_disable_user(UserPoolId=app.pool_id, Username=username)
    challenge = custom_auth(app, username)
    assert challenge["ChallengeName"] == "CUSTOM_CHALLENGE"
    expect_error("NotAuthorizedException", answer, app, challenge, "123456", message="Incorrect username or password.")
    assert webhook.events("DefineAuthChallenge_")[0]["request"]["userNotFound"] is True
