"""The AWS JSON 1.1 protocol with raw `requests` (boto3 would validate client-side):
every kind of malformed request gets the AWS error a real client expects, never a
panic, a 500 or a hang; framing headers and CORS."""

from __future__ import annotations

import pytest
import requests

from helpers import (
    HTTP_TIMEOUT,
    assert_api_framing,
    assert_aws_error,
    json_body,
    raw_post,
    sign_headers,
    signed_post,
)

UNKNOWN_CLIENT = "1234567890abcdefghijklmnop"
INITIATE = {
    "AuthFlow": "USER_PASSWORD_AUTH",
    "ClientId": UNKNOWN_CLIENT,
    "AuthParameters": {"USERNAME": "nobody", "PASSWORD": "Passw0rd!"},
}


def test_unknown_operation(server):
    resp = raw_post(server.url, "NoSuchOperation", {})
    assert_aws_error(resp, "UnknownOperationException")


def test_unknown_operation_signed(server):
    akid, secret = server.root_credentials()
    resp = signed_post(server.url, "NoSuchOperation", {}, akid, secret)
    assert_aws_error(resp, "UnknownOperationException")


def test_wrong_service_prefix(server):
    resp = raw_post(server.url, None, INITIATE, headers={"X-Amz-Target": "AWSCognitoIdentityService.GetId"})
    assert resp.status_code == 400, resp.text
    assert json_body(resp).get("__type"), resp.text


def test_missing_target(server):
    resp = raw_post(server.url, None, INITIATE)
    assert resp.status_code == 400, resp.text
    body = json_body(resp)
    assert body.get("__type"), body
    assert_api_framing(resp)


@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"[1, 2, 3]", b'"a string"', b'{"ClientId": "abc"', b"\xff\xfe\x00garbage"],
    ids=["broken", "array", "string", "truncated", "binary"],
)
def test_malformed_json(server, payload):
    resp = raw_post(server.url, "InitiateAuth", payload)
    assert_aws_error(resp, "SerializationException")


def test_empty_body(server):
    """An empty body is either unparseable or an empty object missing ClientId."""
    resp = raw_post(server.url, "InitiateAuth", b"")
    assert_aws_error(resp, {"SerializationException", "InvalidParameterException"})


def test_malformed_json_signed_operation(server):
    akid, secret = server.root_credentials()
    resp = signed_post(server.url, "DescribeUserPool", b"{not json", akid, secret)
    assert_aws_error(resp, "SerializationException")


@pytest.mark.parametrize(
    "body",
    [
        {**INITIATE, "ClientId": 5},
        {**INITIATE, "AuthParameters": ["USERNAME", "nobody"]},
        {**INITIATE, "ClientId": {"nested": "object"}},
    ],
    ids=["int-for-string", "list-for-map", "object-for-string"],
)
def test_wrong_member_type(server, body):
    resp = raw_post(server.url, "InitiateAuth", body)
    assert_aws_error(resp, "SerializationException")


def test_missing_required_member(server):
    body = {k: v for k, v in INITIATE.items() if k != "ClientId"}
    resp = raw_post(server.url, "InitiateAuth", body)
    err = assert_aws_error(resp, "InvalidParameterException")
    assert "Member must not be null" in err["message"], err
    assert "clientId" in err["message"], err


def test_unknown_enum_value(server):
    resp = raw_post(server.url, "InitiateAuth", {**INITIATE, "AuthFlow": "BOGUS"})
    err = assert_aws_error(resp, "InvalidParameterException")
    assert "Member must satisfy enum value set" in err["message"], err


def test_pattern_violation(server):
    akid, secret = server.root_credentials()
    resp = signed_post(server.url, "AdminGetUser", {"UserPoolId": "bad", "Username": "someone"}, akid, secret)
    err = assert_aws_error(resp, "InvalidParameterException")
    assert "Member must satisfy regular expression pattern" in err["message"], err
    assert "userPoolId" in err["message"], err


def test_length_violation(server):
    resp = raw_post(server.url, "InitiateAuth", {**INITIATE, "ClientId": "x" * 129})
    err = assert_aws_error(resp, "InvalidParameterException")
    assert "Member must have length less than or equal to 128" in err["message"], err


def test_null_optional_members_and_unknown_members_are_tolerated(server):
    """Newer SDKs send members tessera does not know; JSON null means absent."""
    akid, secret = server.root_credentials()
    body = {
        "PoolName": "tolerant-pool",
        "LambdaConfig": None,
        "Policies": None,
        "UserPoolTags": None,
        "SomeFutureMember": {"x": [1, 2, 3]},
    }
    resp = signed_post(server.url, "CreateUserPool", body, akid, secret)
    assert resp.status_code == 200, resp.text
    assert_api_framing(resp)
    pool = json_body(resp)["UserPool"]
    assert pool["Name"] == "tolerant-pool"
    signed_post(server.url, "DeleteUserPool", {"UserPoolId": pool["Id"]}, akid, secret)


def test_null_inside_string_map_is_tolerated(server):
    """amazon-cognito-identity-js sends map values of null (wire facts 1.1)."""
    body = {**INITIATE, "AuthParameters": {**INITIATE["AuthParameters"], "DEVICE_KEY": None}}
    resp = raw_post(server.url, "InitiateAuth", body)
    assert_aws_error(resp, "ResourceNotFoundException")


def test_oversized_body(server):
    big = b'{"ClientId": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    resp = raw_post(server.url, "InitiateAuth", big, timeout=HTTP_TIMEOUT)
    assert 400 <= resp.status_code < 500, resp.status_code
    body = json_body(resp)
    assert body.get("__type"), body
    assert resp.headers.get("x-amzn-RequestId")


def test_get_root_is_client_error(server):
    resp = requests.get(server.url + "/", timeout=HTTP_TIMEOUT)
    assert 400 <= resp.status_code < 500, resp.status_code


def test_success_framing(server):
    resp = describe_unknown_pool(server)  # error path
    assert_api_framing(resp)
    akid, secret = server.root_credentials()
    ok = signed_post(server.url, "ListUserPools", {"MaxResults": 1}, akid, secret)
    assert ok.status_code == 200, ok.text
    assert_api_framing(ok)
    assert "x-amzn-ErrorType" not in ok.headers
    # two requests, two request ids
    assert resp.headers["x-amzn-RequestId"] != ok.headers["x-amzn-RequestId"]


def describe_unknown_pool(server, headers=None):
    akid, secret = server.root_credentials()
    signed, data = sign_headers(server.url, "DescribeUserPool", {"UserPoolId": "us-east-1_NoSuchPoo"}, akid, secret)
    signed.update(headers or {})
    return requests.post(server.url + "/", data=data, headers=signed, timeout=HTTP_TIMEOUT)


def test_error_message_header(server):
    resp = describe_unknown_pool(server)
    body = assert_aws_error(resp, "ResourceNotFoundException")
    assert body["message"], body
    assert resp.headers.get("x-amzn-ErrorMessage") == body["message"], dict(resp.headers)


def test_cors_preflight(server):
    resp = requests.options(
        server.url + "/",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target,x-amz-user-agent",
        },
        timeout=HTTP_TIMEOUT,
    )
    assert resp.status_code == 200, (resp.status_code, resp.text)
    allow_origin = resp.headers.get("Access-Control-Allow-Origin")
    assert allow_origin in ("*", "http://localhost:3000"), dict(resp.headers)
    methods = resp.headers.get("Access-Control-Allow-Methods", "").upper()
    assert "POST" in methods.replace(" ", "").split(",") or methods.strip() == "*", methods
    allowed = {h.strip().lower() for h in resp.headers.get("Access-Control-Allow-Headers", "").split(",")}
    if "*" not in allowed:
        for wanted in ("content-type", "x-amz-target", "x-amz-user-agent"):
            assert wanted in allowed, f"{wanted} not allowed: {allowed}"


def test_cors_on_post(server):
    resp = describe_unknown_pool(server, headers={"Origin": "http://localhost:3000"})
    assert_aws_error(resp, "ResourceNotFoundException")
    assert resp.headers.get("Access-Control-Allow-Origin") in ("*", "http://localhost:3000"), dict(resp.headers)
    exposed = {h.strip().lower() for h in resp.headers.get("Access-Control-Expose-Headers", "").split(",")}
    for wanted in ("x-amzn-requestid", "x-amzn-errortype", "x-amzn-errormessage"):
        assert wanted in exposed, f"{wanted} not exposed: {exposed}"


def test_server_survived_malformed_requests(server):
    """Runs after the tests above (file order): the process is alive, healthy and never panicked."""
    for body in (b"{", b"null", b'{"ClientId": {"nested": [1, 2, {"deep": null}]}}', b"\x00" * 64):
        for op in ("InitiateAuth", "CreateUserPool", "NoSuch", None):
            resp = raw_post(server.url, op, body)
            assert 400 <= resp.status_code < 500, (op, body, resp.status_code, resp.text)
    assert server.alive(), f"server died:\n{server.output}"
    health = requests.get(server.url + "/health", timeout=HTTP_TIMEOUT)
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert "panicked" not in server.output, server.output
