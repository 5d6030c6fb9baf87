"""Credentials from tessera's built-in STS (issue 14), used the way apps use AWS's: boto3's S3
client, signing with an identity's credentials, uploads to the example object store of
tessera-credentials (crates/tessera-credentials/examples/object_store.rs) under the identity's
own prefix and is refused anywhere else; expired credentials, a tampered session token and a
wrong secret are refused; and tessera's HTTP check endpoint (`POST /credentials/check`) gives
the same answers to a service that describes a request instead of linking the library."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import time
import urllib.parse
from pathlib import Path

import boto3
import botocore
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from helpers import REGION, run_tessera
from test_identity_pools import ACCOUNT, AUTH, GUEST, World

ROOT = Path(__file__).resolve().parents[2]
OBJECT_STORE = Path(
    os.environ.get("TESSERA_OBJECT_STORE_BIN", ROOT / "target" / "debug" / "examples" / "object_store")
)
SHORT = f"arn:aws:iam::{ACCOUNT}:role/Short"
TAGGED = f"arn:aws:iam::{ACCOUNT}:role/Tagged"
DIRECT = f"arn:aws:iam::{ACCOUNT}:role/Direct"
MEMBERS = f"arn:aws:iam::{ACCOUNT}:role/Members"
# Trust policies of the built-in STS: user-pool ID tokens of this region's pools may assume
# Direct; only authenticated identity-pool sessions may assume Members.
DIRECT_TRUST = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",'
    ' "Principal": {"Federated": "cognito-idp.us-east-1.amazonaws.com/*"},'
    ' "Action": "sts:AssumeRoleWithWebIdentity"}]}'
)
MEMBERS_TRUST = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",'
    ' "Principal": {"Federated": "cognito-identity.amazonaws.com"},'
    ' "Action": "sts:AssumeRoleWithWebIdentity",'
    ' "Condition": {"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}]}'
)
# A policy keyed by a principal tag rather than the identity: the user-pool `sub`, mapped to
# the tag `username` by the provider's default attribute map.
TAG_POLICY = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject",'
    ' "Resource": "arn:aws:s3:::uploads/users/${aws:PrincipalTag/username}/*"}]}'
)
UPLOADS = "uploads"
POLICY = (
    '{"Version": "2012-10-17", "Statement": ['
    '{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],'
    ' "Resource": "arn:aws:s3:::uploads/${cognito-identity.amazonaws.com:sub}/*"},'
    '{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::uploads",'
    ' "Condition": {"StringLike": {"s3:prefix": "${cognito-identity.amazonaws.com:sub}/*"}}}]}'
)
CONFIG = f"""
[[identity.roles]]
arn = "{AUTH}"
policy = '''{POLICY}'''

[[identity.roles]]
arn = "{GUEST}"
policy = '''{POLICY}'''

[[identity.roles]]
arn = "{TAGGED}"
policy = '''{TAG_POLICY}'''

[[identity.roles]]
arn = "{DIRECT}"
trust_policy = '''{DIRECT_TRUST}'''

[[identity.roles]]
arn = "{MEMBERS}"
trust_policy = '''{MEMBERS_TRUST}'''

# Credentials that expire two seconds after they are issued, to watch them expire.
[[identity.roles]]
arn = "{SHORT}"
max_session_duration = 2
policy = '''{POLICY}'''
"""


@pytest.fixture(scope="module")
def sts_server(module_factory, tmp_path_factory):
    config = tmp_path_factory.mktemp("identity-config") / "tessera.toml"
    config.write_text(CONFIG)
    return module_factory.start(name="identity-sts", extra_args=["--config", str(config)])


@pytest.fixture(scope="module")
def object_store(sts_server):
    if not OBJECT_STORE.exists():
        pytest.fail(f"{OBJECT_STORE} is missing: build it with cargo build -p tessera-credentials --examples")
    key = run_tessera(["credentials", "session-key", *sts_server.store.args()])
    assert key.returncode == 0, key.stderr
    proc = subprocess.Popen(
        [str(OBJECT_STORE), "--listen", "127.0.0.1:0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TESSERA_SESSION_KEY": key.stdout.strip()},
    )
    line = proc.stdout.readline().strip()
    assert line.startswith("listening on "), line
    yield "http://" + line.removeprefix("listening on ")
    proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def world(sts_server):
    w = World(sts_server, sts_server.client(), sts_server.unsigned_client())
    yield w
    w.cleanup()


def s3_client(url: str, credentials: dict):
    return boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretKey"],
        aws_session_token=credentials["SessionToken"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"}),
    )


def code_of(exc: botocore.exceptions.ClientError) -> str:
    return exc.response["Error"]["Code"]


def test_uploads_only_under_the_identitys_own_prefix(world, object_store):
    pool_id = world.identity_pool()
    world.user("uma")
    token = world.tokens("uma")["IdToken"]
    out = world.credentials(pool_id, token)
    identity, creds = out["IdentityId"], out["Credentials"]
    s3 = s3_client(object_store, creds)
    s3.put_object(Bucket=UPLOADS, Key=f"{identity}/photo.jpg", Body=b"\xff\xd8 a photo")
    got = s3.get_object(Bucket=UPLOADS, Key=f"{identity}/photo.jpg")
    assert got["Body"].read() == b"\xff\xd8 a photo"
    listed = s3.list_objects_v2(Bucket=UPLOADS, Prefix=f"{identity}/")
    assert [o["Key"] for o in listed["Contents"]] == [f"{identity}/photo.jpg"]

    # Another identity's prefix, the bucket's root and a listing of everything are refused.
    other = world.credentials(pool_id)["IdentityId"]
    for key in (f"{other}/photo.jpg", "photo.jpg"):
        with pytest.raises(botocore.exceptions.ClientError) as denied:
            s3.put_object(Bucket=UPLOADS, Key=key, Body=b"x")
        assert code_of(denied.value) == "AccessDenied"
        assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(botocore.exceptions.ClientError) as listing:
        s3.list_objects_v2(Bucket=UPLOADS)
    assert code_of(listing.value) == "AccessDenied"

    # A guest of the same pool has the same policy, over its own prefix.
    guest = world.credentials(pool_id)
    guest_s3 = s3_client(object_store, guest["Credentials"])
    guest_s3.put_object(Bucket=UPLOADS, Key=f"{guest['IdentityId']}/note.txt", Body=b"hello")
    with pytest.raises(botocore.exceptions.ClientError):
        guest_s3.get_object(Bucket=UPLOADS, Key=f"{identity}/photo.jpg")


def test_expired_tampered_and_wrongly_signed_credentials_are_refused(world, object_store):
    pool_id = world.identity_pool()
    out = world.credentials(pool_id)
    identity, creds = out["IdentityId"], out["Credentials"]
    key = f"{identity}/a.txt"

    wrong_secret = dict(creds, SecretKey="A" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as mismatch:
        s3_client(object_store, wrong_secret).put_object(Bucket=UPLOADS, Key=key, Body=b"x")
    assert code_of(mismatch.value) == "SignatureDoesNotMatch"

    token = creds["SessionToken"]
    middle = len(token) // 2
    tampered = dict(creds, SessionToken=token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :])
    with pytest.raises(botocore.exceptions.ClientError) as invalid:
        s3_client(object_store, tampered).put_object(Bucket=UPLOADS, Key=key, Body=b"x")
    assert code_of(invalid.value) == "InvalidToken"

    # Another session's token with these keys: the token names other keys.
    other = world.credentials(pool_id)["Credentials"]
    with pytest.raises(botocore.exceptions.ClientError) as swapped:
        s3_client(object_store, dict(creds, SessionToken=other["SessionToken"])).put_object(
            Bucket=UPLOADS, Key=key, Body=b"x"
        )
    assert code_of(swapped.value) == "InvalidAccessKeyId"

    short = world.identity_pool(roles={"authenticated": AUTH, "unauthenticated": SHORT})
    brief = world.credentials(short)
    assert brief["Credentials"]["Expiration"].timestamp() - time.time() <= 3
    brief_s3 = s3_client(object_store, brief["Credentials"])
    brief_s3.put_object(Bucket=UPLOADS, Key=f"{brief['IdentityId']}/a.txt", Body=b"x")
    time.sleep(2.5)
    with pytest.raises(botocore.exceptions.ClientError) as expired:
        brief_s3.put_object(Bucket=UPLOADS, Key=f"{brief['IdentityId']}/b.txt", Body=b"x")
    assert code_of(expired.value) == "ExpiredToken"


def described(creds: dict, url: str, body: bytes, action: str, resource: str) -> dict:
    """A PUT signed by botocore as its S3 client signs it, described for the check endpoint."""
    # The URL as an HTTP client sends it, percent-encoded (the identity id's ':' too), which
    # is the form S3 signs without encoding again.
    scheme, rest = url.split("://", 1)
    host, path = rest.split("/", 1)
    url = f"{scheme}://{host}/{urllib.parse.quote(path, safe='/~')}"
    request = AWSRequest(method="PUT", url=url, data=body, headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()})
    S3SigV4Auth(Credentials(creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"]), "s3", REGION).add_auth(request)
    prepared = request.prepare()
    path = prepared.url.split("://", 1)[1]
    path = path[path.index("/"):]
    headers = [[name, value] for name, value in prepared.headers.items()]
    headers.append(["host", url.split("://", 1)[1].split("/", 1)[0]])
    return {
        "method": "PUT",
        "path": path,
        "headers": headers,
        "bodySha256": hashlib.sha256(body).hexdigest(),
        "service": "s3",
        "action": action,
        "resource": resource,
    }


def test_the_check_endpoint_answers_for_services_in_other_languages(world, sts_server):
    pool_id = world.identity_pool()
    out = world.credentials(pool_id)
    identity, creds = out["IdentityId"], out["Credentials"]
    check = f"{sts_server.url}/credentials/check"
    url = f"http://files.example:8080/{UPLOADS}/{identity}/x.bin"
    own = described(creds, url, b"data", "s3:PutObject", f"arn:aws:s3:::{UPLOADS}/{identity}/x.bin")
    answer = requests.post(check, json=own, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"identityId": identity, "identityPoolId": pool_id, "roleArn": GUEST, "decision": "Allow"}
    elsewhere = dict(own, resource=f"arn:aws:s3:::{UPLOADS}/someone-else/x.bin")
    assert requests.post(check, json=elsewhere, timeout=10).json()["decision"] == "ImplicitDeny"
    bad = described(dict(creds, SecretKey="B" * 40), url, b"data", "s3:PutObject", own["resource"])
    refused = requests.post(check, json=bad, timeout=10)
    assert refused.status_code == 403
    assert refused.json()["code"] == "SignatureDoesNotMatch"
    # The body the signature covers is the one whose hash is described.
    altered = dict(own, bodySha256=hashlib.sha256(b"other").hexdigest())
    assert requests.post(check, json=altered, timeout=10).status_code in (400, 403)


def test_principal_tags_from_the_attribute_map_scope_the_policy(world, object_store):
    pool_id = world.identity_pool(roles={"authenticated": TAGGED, "unauthenticated": GUEST})
    world.ci.set_principal_tag_attribute_map(IdentityPoolId=pool_id, IdentityProviderName=world.provider, UseDefaults=True)
    world.user("tia")
    token = world.tokens("tia")["IdToken"]
    sub = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))["sub"]
    s3 = s3_client(object_store, world.credentials(pool_id, token)["Credentials"])
    s3.put_object(Bucket=UPLOADS, Key=f"users/{sub}/cv.pdf", Body=b"%PDF")
    with pytest.raises(botocore.exceptions.ClientError) as denied:
        s3.put_object(Bucket=UPLOADS, Key="users/someone-else/cv.pdf", Body=b"%PDF")
    assert code_of(denied.value) == "AccessDenied"
    # Without the attribute map the session has no tag, and the policy allows nothing.
    world.ci.set_principal_tag_attribute_map(IdentityPoolId=pool_id, IdentityProviderName=world.provider, UseDefaults=False, PrincipalTags={})
    untagged = s3_client(object_store, world.credentials(pool_id, token)["Credentials"])
    with pytest.raises(botocore.exceptions.ClientError) as nothing:
        untagged.put_object(Bucket=UPLOADS, Key=f"users/{sub}/cv.pdf", Body=b"%PDF")
    assert code_of(nothing.value) == "AccessDenied"


def test_trust_policies_decide_who_assumes_a_role_on_the_built_in_sts(world, sts_server):
    from test_identity_pools import sts_client

    sts = sts_client(sts_server)
    world.user("vic")
    id_token = world.tokens("vic")["IdToken"]
    # A user-pool ID token, where the role's trust policy names the pool's provider.
    direct = sts.assume_role_with_web_identity(RoleArn=DIRECT, RoleSessionName="vic", WebIdentityToken=id_token)
    assert direct["Provider"] == f"{sts_server.url}/{world.pool_id}"
    assert direct["SubjectFromWebIdentityToken"] == json.loads(base64.urlsafe_b64decode(id_token.split(".")[1] + "==="))["sub"]
    caller = sts_client(sts_server, direct["Credentials"]).get_caller_identity()
    assert caller["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Direct/vic"
    # A role without a trust policy takes identity-pool tokens only.
    with pytest.raises(botocore.exceptions.ClientError) as untrusted:
        sts.assume_role_with_web_identity(RoleArn=AUTH, RoleSessionName="vic", WebIdentityToken=id_token)
    assert code_of(untrusted.value) == "AccessDenied"
    assert untrusted.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    classic = world.identity_pool(AllowClassicFlow=True)
    guest = world.anon.get_id(IdentityPoolId=classic)["IdentityId"]
    guest_token = world.anon.get_open_id_token(IdentityId=guest)["Token"]
    with pytest.raises(botocore.exceptions.ClientError) as guest_denied:
        sts.assume_role_with_web_identity(RoleArn=MEMBERS, RoleSessionName="guest", WebIdentityToken=guest_token)
    assert code_of(guest_denied.value) == "AccessDenied"
    member = world.anon.get_id(IdentityPoolId=classic, Logins={world.provider: id_token})["IdentityId"]
    member_token = world.anon.get_open_id_token(IdentityId=member, Logins={world.provider: id_token})["Token"]
    assumed = sts.assume_role_with_web_identity(RoleArn=MEMBERS, RoleSessionName="member", WebIdentityToken=member_token)
    assert assumed["SubjectFromWebIdentityToken"] == member
    # The identity-pool token does not reach the user-pool role, nor the reverse.
    with pytest.raises(botocore.exceptions.ClientError):
        sts.assume_role_with_web_identity(RoleArn=DIRECT, RoleSessionName="member", WebIdentityToken=member_token)
    with pytest.raises(botocore.exceptions.ClientError):
        sts.assume_role_with_web_identity(RoleArn=MEMBERS, RoleSessionName="vic", WebIdentityToken=id_token)


def test_issue14_get_credentials_for_identity_honours_the_roles_trust_policy(world):
    # Members trusts authenticated sessions only; as a pool's guest role it is never issued.
    pool_id = world.identity_pool(roles={"authenticated": MEMBERS, "unauthenticated": MEMBERS})
    with pytest.raises(world.anon.exceptions.InvalidIdentityPoolConfigurationException):
        world.credentials(pool_id)
    world.user("wes")
    out = world.credentials(pool_id, world.tokens("wes")["IdToken"])
    assert out["Credentials"]["AccessKeyId"].startswith("ASIA")
