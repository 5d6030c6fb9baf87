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
