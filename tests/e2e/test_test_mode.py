"""Issue 16: `tessera serve --test-mode`, for CI suites that used cognito-local or moto. Admin
calls signed with any credentials work (boto3 with AWS_ACCESS_KEY_ID=test, as those set-ups
use), a test reads a user's pending codes over HTTP and moves the clock forward to reach
expiries, every response carries `x-tessera-test-mode: on`, and the flag is refused on a
non-loopback address. Without the flag none of it exists."""

from __future__ import annotations

import boto3
import botocore.exceptions
import pytest
import requests
from botocore.config import Config

from helpers import HTTP_TIMEOUT, PASSWORD, REGION, expect_error, run_tessera, unique


@pytest.fixture(scope="module")
def node(module_factory):
    return module_factory.start(name="test-mode", extra_args=["--test-mode"])


def any_credentials(node):
    """What a CI set-up built for moto or cognito-local sends: made-up credentials."""
    return boto3.session.Session().client(
        "cognito-idp",
        region_name=REGION,
        endpoint_url=node.url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


def codes(node, pool_id: str, username: str) -> dict[str, str]:
    resp = requests.get(
        f"{node.url}/admin/test/codes", params={"pool_id": pool_id, "username": username}, timeout=HTTP_TIMEOUT
    )
    assert resp.status_code == 200, resp.text
    return {code["purpose"]: code["code"] for code in resp.json()["codes"]}


def advance(node, seconds: int):
    resp = requests.post(f"{node.url}/admin/test/clock", json={"advance_seconds": seconds}, timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text


def test_issue16_any_credentials_codes_and_the_header(node):
    idp = any_credentials(node)
    pool = idp.create_user_pool(PoolName=unique("ci"), AutoVerifiedAttributes=["email"])["UserPool"]
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]
    name = unique("ci-user")
    public = any_credentials(node)
    public.sign_up(
        ClientId=client["ClientId"],
        Username=name,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}],
    )
    code = codes(node, pool["Id"], name)["sign_up"]
    public.confirm_sign_up(ClientId=client["ClientId"], Username=name, ConfirmationCode=code)
    assert idp.admin_get_user(UserPoolId=pool["Id"], Username=name)["UserStatus"] == "CONFIRMED"
    public.forgot_password(ClientId=client["ClientId"], Username=name)
    reset = codes(node, pool["Id"], name)["forgot_password"]
    public.confirm_forgot_password(
        ClientId=client["ClientId"], Username=name, ConfirmationCode=reset, Password="N3w-Passw0rd!"
    )
    for path in ("/health", f"/{pool['Id']}/.well-known/jwks.json", "/no-such-page"):
        assert requests.get(node.url + path, timeout=HTTP_TIMEOUT).headers.get("x-tessera-test-mode") == "on", path
    resp = idp.list_user_pools(MaxResults=10)
    assert resp["ResponseMetadata"]["HTTPHeaders"]["x-tessera-test-mode"] == "on"
    # An unknown user is still Cognito's answer.
    resp = requests.get(
        f"{node.url}/admin/test/codes", params={"pool_id": pool["Id"], "username": "nobody"}, timeout=HTTP_TIMEOUT
    )
    assert resp.status_code == 400 and resp.json()["__type"] == "UserNotFoundException"


def test_issue16_the_clock_moves_forward_for_expiries(node):
    idp = any_credentials(node)
    pool = idp.create_user_pool(PoolName=unique("clock"), AutoVerifiedAttributes=["email"])["UserPool"]
    client = idp.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName="app", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]
    name = unique("sleeper")
    idp.admin_create_user(UserPoolId=pool["Id"], Username=name, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool["Id"], Username=name, Password=PASSWORD, Permanent=True)
    tokens = idp.initiate_auth(
        ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": name, "PASSWORD": PASSWORD}
    )["AuthenticationResult"]
    assert idp.get_user(AccessToken=tokens["AccessToken"])["Username"] == name
    other = unique("late")
    idp.sign_up(
        ClientId=client["ClientId"],
        Username=other,
        Password=PASSWORD,
        UserAttributes=[{"Name": "email", "Value": f"{other}@example.com"}],
    )
    code = codes(node, pool["Id"], other)["sign_up"]
    # An hour and a minute later the access token (an hour) has expired; a day later the
    # sign-up code (24 hours) has too.
    advance(node, 3660)
    expect_error("NotAuthorizedException", idp.get_user, AccessToken=tokens["AccessToken"], message="Access Token has expired")
    advance(node, 24 * 3600)
    expect_error("ExpiredCodeException", idp.confirm_sign_up, ClientId=client["ClientId"], Username=other, ConfirmationCode=code)


def test_issue16_test_mode_is_refused_off_loopback(tmp_path):
    done = run_tessera(["serve", "--test-mode", "--listen", "0.0.0.0:0", "--data-dir", str(tmp_path / "data")], timeout=30)
    assert done.returncode != 0 and "loopback" in done.stderr, done.stderr


def test_issue16_without_the_flag_there_is_no_test_mode(server):
    assert requests.get(server.url + "/admin/test/codes", params={"pool_id": "x", "username": "y"}, timeout=HTTP_TIMEOUT).status_code == 404
    assert requests.post(server.url + "/admin/test/clock", json={"advance_seconds": 1}, timeout=HTTP_TIMEOUT).status_code == 404
    assert "x-tessera-test-mode" not in requests.get(server.url + "/health", timeout=HTTP_TIMEOUT).headers
    expect_error("UnrecognizedClientException", any_credentials(server).list_user_pools, MaxResults=1)
