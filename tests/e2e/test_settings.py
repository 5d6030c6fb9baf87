"""Server settings that shape identifiers: --public-url (issuers), --account-id (ARNs),
--region (pool ids, ARNs, the SigV4 scope)."""

from __future__ import annotations

import re

import jwt
import requests

from helpers import HTTP_TIMEOUT, idp_client


def test_public_url_account_and_region(server_factory):
    public = "http://tessera.example.test:8443/idp"
    server = server_factory.start(
        name="settings",
        extra_args=["--public-url", public + "/", "--account-id", "123456789012", "--region", "eu-west-1"],
    )
    akid, secret = server.root_credentials()
    idp = idp_client(server.url, akid, secret, region="eu-west-1")
    pool = idp.create_user_pool(PoolName="settings")["UserPool"]
    assert re.match(r"^eu-west-1_[0-9A-Za-z]{9}$", pool["Id"]), pool["Id"]
    assert pool["Arn"] == f"arn:aws:cognito-idp:eu-west-1:123456789012:userpool/{pool['Id']}"
    assert idp.list_tags_for_resource(ResourceArn=pool["Arn"]).get("Tags", {}) == {}

    # the issuer is formed from the public URL (trailing slash dropped), while the
    # documents are still served on the listening address
    doc = requests.get(f"{server.url}/{pool['Id']}/.well-known/openid-configuration", timeout=HTTP_TIMEOUT).json()
    assert doc["issuer"] == f"{public}/{pool['Id']}"
    assert doc["jwks_uri"] == f"{public}/{pool['Id']}/.well-known/jwks.json"
    keys = jwt.PyJWKClient(f"{server.url}/{pool['Id']}/.well-known/jwks.json").get_signing_keys()
    assert keys


def test_json_logs_carry_request_ids_and_no_secrets(server_factory):
    """--log-format json: every log line on stderr is a JSON object; request logs carry the
    request id the client received; neither the root secret nor a client secret appears."""
    server = server_factory.start(name="jsonlogs", extra_args=["--log-format", "json"])
    akid, secret = server.root_credentials()
    idp = idp_client(server.url, akid, secret)
    created = idp.create_user_pool(PoolName="json-logs")
    client = idp.create_user_pool_client(
        UserPoolId=created["UserPool"]["Id"], ClientName="c", GenerateSecret=True
    )["UserPoolClient"]
    request_id = created["ResponseMetadata"]["RequestId"]
    server.stop()
    import json

    err_lines = [line[len("[err] "):] for line in server.output.splitlines() if line.startswith("[err] ")]
    assert err_lines, server.output
    records = [json.loads(line) for line in err_lines if line.strip()]
    assert all(isinstance(r, dict) and "level" in r for r in records)
    assert any(request_id in json.dumps(r) for r in records), "the pool-created log names the request id"
    assert secret not in server.output
    assert client["ClientSecret"] not in server.output
