"""Admin authentication: SigV4 verification with raw `requests` and botocore's own signer."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError

from helpers import (
    assert_api_framing,
    assert_aws_error,
    idp_client,
    signed_post,
    utcnow_naive,
)

LIST = {"MaxResults": 5}


def test_valid_signature_is_accepted(server):
    """Control: the raw signing helper produces requests tessera accepts."""
    akid, secret = server.root_credentials()
    resp = signed_post(server.url, "ListUserPools", LIST, akid, secret)
    assert resp.status_code == 200, resp.text
    assert_api_framing(resp)
    assert "UserPools" in resp.json()


def test_stale_date_is_refused(server):
    akid, secret = server.root_credentials()
    stale = utcnow_naive() - dt.timedelta(minutes=20)
    resp = signed_post(server.url, "ListUserPools", LIST, akid, secret, at=stale)
    assert_aws_error(resp, "InvalidSignatureException")


def test_future_date_is_refused(server):
    akid, secret = server.root_credentials()
    future = utcnow_naive() + dt.timedelta(minutes=20)
    resp = signed_post(server.url, "ListUserPools", LIST, akid, secret, at=future)
    assert_aws_error(resp, "InvalidSignatureException")


def test_slightly_skewed_date_is_accepted(server):
    """AWS tolerates 5 minutes of clock skew."""
    akid, secret = server.root_credentials()
    skewed = utcnow_naive() - dt.timedelta(minutes=2)
    resp = signed_post(server.url, "ListUserPools", LIST, akid, secret, at=skewed)
    assert resp.status_code == 200, resp.text


def test_tampered_body_is_refused(server):
    akid, secret = server.root_credentials()
    tampered = json.dumps({"MaxResults": 6}).encode()
    resp = signed_post(server.url, "ListUserPools", LIST, akid, secret, send_body=tampered)
    assert_aws_error(resp, "InvalidSignatureException")


def test_wrong_secret_is_refused(server):
    akid, secret = server.root_credentials()
    resp = signed_post(server.url, "ListUserPools", LIST, akid, secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    assert_aws_error(resp, "InvalidSignatureException")


def test_unknown_access_key_is_refused(server):
    resp = signed_post(server.url, "ListUserPools", LIST, "AKIAUNKNOWNE2E000000", "x" * 40)
    assert_aws_error(resp, "UnrecognizedClientException")


def test_missing_signature_is_refused(server):
    import requests

    resp = requests.post(
        server.url + "/",
        data=json.dumps(LIST),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "AWSCognitoIdentityProviderService.ListUserPools",
        },
        timeout=10,
    )
    assert_aws_error(resp, "MissingAuthenticationTokenException")


def test_boto3_error_classes(server):
    akid, secret = server.root_credentials()
    wrong = idp_client(server.url, akid, secret + "x")
    with pytest.raises(ClientError) as info:
        wrong.list_user_pools(MaxResults=5)
    assert info.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    unknown = idp_client(server.url, "AKIAUNKNOWNE2E000000", "y" * 40)
    with pytest.raises(ClientError) as info:
        unknown.list_user_pools(MaxResults=5)
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"

    unsigned = server.unsigned_client()
    with pytest.raises(ClientError) as info:
        unsigned.list_user_pools(MaxResults=5)
    assert info.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"


def test_public_operation_needs_no_signature(server):
    unsigned = server.unsigned_client()
    with pytest.raises(unsigned.exceptions.ResourceNotFoundException):
        unsigned.initiate_auth(
            ClientId="1234567890abcdefghijklmnop",
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "nobody", "PASSWORD": "Passw0rd!"},
        )


def test_public_operation_ignores_bad_signature(server):
    """boto3 never signs InitiateAuth, but old SDKs do; a bad signature must not matter."""
    resp = signed_post(
        server.url,
        "InitiateAuth",
        {
            "ClientId": "1234567890abcdefghijklmnop",
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": "nobody", "PASSWORD": "Passw0rd!"},
        },
        "AKIAUNKNOWNE2E000000",
        "z" * 40,
    )
    assert_aws_error(resp, "ResourceNotFoundException")


def test_issue_11_the_operation_must_be_signed(server):
    """A signature that leaves X-Amz-Target out could be replayed as any other operation
    (issue 11 §1.8): it is refused, whichever operation the header then names."""
    import botocore.auth
    import requests
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from helpers import AMZ_JSON, TARGET_PREFIX

    akid, secret = server.root_credentials()
    body = json.dumps(LIST).encode()
    req = AWSRequest(method="POST", url=server.url + "/", data=body, headers={"Content-Type": AMZ_JSON})
    botocore.auth.SigV4Auth(Credentials(akid, secret), "cognito-idp", "us-east-1").add_auth(req)
    headers = dict(req.headers.items())
    assert "x-amz-target" not in headers["Authorization"].lower()
    for operation in ("ListUserPools", "DeleteUserPool"):
        sent = {**headers, "X-Amz-Target": TARGET_PREFIX + operation}
        resp = requests.post(server.url + "/", data=body, headers=sent, timeout=30)
        assert_aws_error(resp, "IncompleteSignatureException")
        assert resp.json()["message"] == "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."
