"""The identity-provider API of issue 15 through boto3, on both backends: CreateIdentityProvider,
DescribeIdentityProvider, UpdateIdentityProvider, DeleteIdentityProvider, ListIdentityProviders,
GetIdentityProviderByIdentifier and GetSigningCertificate, and app clients'
SupportedIdentityProviders.

What is proved, against real upstreams on loopback (js/upstream-oidc.mjs as an oidc-provider
issuer and as a Google stand-in, SAML metadata served by a local HTTP server):
- an OIDC provider's endpoints are discovered from `oidc_issuer` (a given endpoint is never
  replaced), the default attribute mapping is `username` <- `sub`, and Create, Describe, Update
  (a merge; empty collections clear; concurrent updates lose nothing), List (paginated,
  summaries only), GetIdentityProviderByIdentifier (identifiers unique per pool, kept in their
  order) and Delete answer with Cognito's shapes and messages (docs/design/federation-facts.md
  §1.2);
- every refusal at Create or Update names the problem with the exact code and message and
  leaves the pool's providers as they were;
- the social presets (Google, Facebook, Login with Amazon, Sign in with Apple) get their
  service's endpoints (§2), Google's from the configured stand-in when there is one; Apple's
  private key is never returned and survives a round-trip of Describe into Update;
- SAML metadata, given as a file or a URL, is read for its redirect-binding URLs and checked
  (a live signing certificate, no DTD), and encrypted responses get an encryption certificate
  that an update keeps;
- GetSigningCertificate answers the pool's own 10-year RSA-2048 certificate, always the same;
- a client may only name COGNITO and the pool's providers; the API needs a SigV4 signature and
  a pool of another region is not found.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.exceptions
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from federation_support import OidcUpstream, federation_config, idp_metadata, self_signed
from helpers import (
    HTTP_TIMEOUT,
    assert_aws_error,
    expect_error,
    free_port,
    idp_client,
    raw_post,
    unique,
)
from test_openid_client import node_modules  # noqa: F401  (the fixture: node, with js/node_modules)

UPSTREAM_CLIENTS = [
    {
        "client_id": "tessera-rp",
        "client_secret": "upstream-secret",
        "redirect_uris": ["http://127.0.0.1/oauth2/idpresponse"],
    }
]
ENDPOINT_KEYS = ("authorize_url", "token_url", "attributes_url", "jwks_uri")
SOCIAL_CREDENTIALS_MISSING = "client_id, client_secret and authorize_scopes are all required idp details"
SUMMARY_KEYS = {"ProviderName", "ProviderType", "CreationDate", "LastModifiedDate"}


# --------------------------------------------------------------------------
# upstreams and servers


@pytest.fixture(scope="module")
def oidc_upstream(node_modules):  # noqa: F811
    upstream = OidcUpstream(node_modules, "oidc", UPSTREAM_CLIENTS, {})
    yield upstream
    upstream.stop()


@pytest.fixture(scope="module")
def google_upstream(node_modules):  # noqa: F811
    upstream = OidcUpstream(node_modules, "google", UPSTREAM_CLIENTS, {})
    yield upstream
    upstream.stop()


def discovery(issuer: str) -> dict:
    resp = requests.get(issuer + "/.well-known/openid-configuration", timeout=HTTP_TIMEOUT)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.fixture(scope="module")
def fed(module_factory, tmp_path_factory, google_upstream):
    """A tessera whose `[federation]` table allows loopback upstreams and names the Google
    stand-in."""
    config = federation_config(tmp_path_factory.mktemp("federation"), google_issuer=google_upstream.issuer)
    return module_factory.start(name="identity-providers", extra_args=["--config", str(config)])


@pytest.fixture(scope="module")
def fed_idp(fed):
    return fed.client()


@pytest.fixture(autouse=True)
def no_panic(fed):
    """Whatever a test sends, the server must not panic."""
    yield
    assert "panicked" not in fed.output, fed.output[-4000:]


@pytest.fixture
def pool_id(fed_idp) -> str:
    """A fresh pool on the federation server."""
    return fed_idp.create_user_pool(PoolName=unique("e2e-idp"))["UserPool"]["Id"]


class MetadataServer:
    """Serves SAML metadata documents over loopback HTTP, as an IdP's metadata URL would."""

    def __init__(self):
        self.documents: dict[str, str] = {}
        documents = self.documents

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = documents.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/samlmetadata+xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, document: str) -> str:
        path = f"/{unique('metadata')}.xml"
        self.documents[path] = document
        return self.base + path

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def metadata_server():
    server = MetadataServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def idp_certificate():
    return self_signed("e2e saml idp", days=365)[1]


# --------------------------------------------------------------------------
# helpers


def oidc_details(issuer: str, **extra) -> dict:
    details = {
        "client_id": "tessera-rp",
        "client_secret": "upstream-secret",
        "attributes_request_method": "GET",
        "oidc_issuer": issuer,
        "authorize_scopes": "openid email profile",
    }
    details.update(extra)
    return details


def create_oidc(idp, pool_id: str, name: str, issuer: str, **kwargs) -> dict:
    return idp.create_identity_provider(
        UserPoolId=pool_id,
        ProviderName=name,
        ProviderType="OIDC",
        ProviderDetails=oidc_details(issuer),
        **kwargs,
    )["IdentityProvider"]


def saml_metadata(certificate, sso="https://idp.example.com/sso", slo="https://idp.example.com/slo") -> str:
    return idp_metadata("https://idp.example.com/metadata", sso, slo, certificate)


def describe(idp, pool_id: str, name: str) -> dict:
    return idp.describe_identity_provider(UserPoolId=pool_id, ProviderName=name)["IdentityProvider"]


def list_all(idp, pool_id: str) -> list[dict]:
    out, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = idp.list_identity_providers(UserPoolId=pool_id, MaxResults=60, **kwargs)
        out += page["Providers"]
        token = page.get("NextToken")
        if not token:
            return out


def state(idp, pool_id: str) -> dict:
    """Every provider of the pool as Describe shows it, by name."""
    return {p["ProviderName"]: describe(idp, pool_id, p["ProviderName"]) for p in list_all(idp, pool_id)}


def refused(idp, pool_id: str, operation: str, message: str, code: str = "InvalidParameterException", **kwargs) -> None:
    """`operation` fails with `code` and `message`, and the pool's providers are unchanged."""
    before = state(idp, pool_id)
    expect_error(code, getattr(idp, operation), UserPoolId=pool_id, message=message, **kwargs)
    assert state(idp, pool_id) == before


def refused_create(idp, pool_id: str, message: str, code: str = "InvalidParameterException", **kwargs) -> None:
    refused(idp, pool_id, "create_identity_provider", message, code, **kwargs)


def certificate_of(b64: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(b64, validate=True))


def assert_rsa_2048(certificate: x509.Certificate) -> None:
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey), key
    assert key.key_size == 2048


def assert_dates(provider: dict) -> None:
    for key in ("CreationDate", "LastModifiedDate"):
        assert isinstance(provider[key], dt.datetime), provider
    assert provider["LastModifiedDate"] >= provider["CreationDate"]


# --------------------------------------------------------------------------
# 1. an OIDC provider's lifecycle


def test_oidc_create_discovers_the_endpoints(fed_idp, pool_id, oidc_upstream):
    issuer = oidc_upstream.issuer
    doc = discovery(issuer)
    created = create_oidc(fed_idp, pool_id, "Upstream", issuer)

    assert created["ProviderDetails"] == {
        **oidc_details(issuer),
        "authorize_url": doc["authorization_endpoint"],
        "token_url": doc["token_endpoint"],
        "attributes_url": doc["userinfo_endpoint"],
        "jwks_uri": doc["jwks_uri"],
        "attributes_url_add_attributes": "false",
    }
    assert created["AttributeMapping"] == {"username": "sub"}
    assert created["ProviderName"] == "Upstream"
    assert created["ProviderType"] == "OIDC"
    assert created["UserPoolId"] == pool_id
    # Create echoes IdpIdentifiers only when the request gave them.
    assert "IdpIdentifiers" not in created
    assert "AcrMapping" not in created
    assert_dates(created)
    assert created["CreationDate"] == created["LastModifiedDate"]

    described = describe(fed_idp, pool_id, "Upstream")
    assert described["IdpIdentifiers"] == []
    assert described["UserPoolId"] == pool_id
    assert_dates(described)
    assert {k: v for k, v in described.items() if k != "IdpIdentifiers"} == created


def test_oidc_given_endpoints_are_not_replaced(fed_idp, pool_id, oidc_upstream):
    issuer = oidc_upstream.issuer
    doc = discovery(issuer)
    given = {
        "authorize_url": issuer + "/custom/authorize",
        "token_url": issuer + "/custom/token",
        "attributes_url": issuer + "/custom/userinfo",
        "jwks_uri": issuer + "/custom/jwks",
    }
    created = fed_idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="AllGiven", ProviderType="OIDC",
        ProviderDetails=oidc_details(issuer, **given),
    )["IdentityProvider"]
    assert created["ProviderDetails"] == {**oidc_details(issuer), **given, "attributes_url_add_attributes": "false"}

    # With one endpoint given the others are discovered, and the given one stays.
    partial = fed_idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="OneGiven", ProviderType="OIDC",
        ProviderDetails=oidc_details(issuer, authorize_url=given["authorize_url"]),
    )["IdentityProvider"]["ProviderDetails"]
    assert partial["authorize_url"] == given["authorize_url"]
    assert partial["token_url"] == doc["token_endpoint"]
    assert partial["attributes_url"] == doc["userinfo_endpoint"]
    assert partial["jwks_uri"] == doc["jwks_uri"]

    # All four given: the issuer is not even asked (here it could not answer).
    dead = f"http://127.0.0.1:{free_port()}"
    offline = fed_idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="Offline", ProviderType="OIDC",
        ProviderDetails=oidc_details(dead, **given),
    )["IdentityProvider"]["ProviderDetails"]
    assert {k: offline[k] for k in ENDPOINT_KEYS} == given


def test_duplicate_provider_name(fed_idp, pool_id, oidc_upstream):
    create_oidc(fed_idp, pool_id, "Twice", oidc_upstream.issuer)
    refused_create(
        fed_idp, pool_id, f"Twice already exists for tenant {pool_id}.", code="DuplicateProviderException",
        ProviderName="Twice", ProviderType="OIDC",
        ProviderDetails=oidc_details(oidc_upstream.issuer, client_id="another"),
    )
    # The same name in another pool is another provider.
    other = fed_idp.create_user_pool(PoolName=unique("e2e-idp"))["UserPool"]["Id"]
    create_oidc(fed_idp, other, "Twice", oidc_upstream.issuer)


def test_unknown_provider(fed_idp, pool_id):
    expect_error(
        "ResourceNotFoundException", fed_idp.describe_identity_provider,
        UserPoolId=pool_id, ProviderName="Nobody",
        message=f"Identity provider Nobody for tenantId {pool_id} does not exist.",
    )
    refused(
        fed_idp, pool_id, "update_identity_provider",
        f"Identity provider Nobody in User Pool {pool_id} does not exist.", code="ResourceNotFoundException",
        ProviderName="Nobody", AttributeMapping={"email": "email"},
    )
    refused(
        fed_idp, pool_id, "delete_identity_provider",
        f"Identity provider Nobody in User Pool {pool_id} does not exist.", code="ResourceNotFoundException",
        ProviderName="Nobody",
    )
    assert list_all(fed_idp, pool_id) == []


def test_unknown_pool(fed_idp):
    missing = "us-east-1_Nothing00"
    for call, kwargs in [
        (fed_idp.describe_identity_provider, {"ProviderName": "Upstream"}),
        (fed_idp.list_identity_providers, {}),
        (fed_idp.create_identity_provider, {
            "ProviderName": "Upstream", "ProviderType": "SAML", "ProviderDetails": {"MetadataURL": "x"},
        }),
    ]:
        expect_error(
            "ResourceNotFoundException", call, UserPoolId=missing,
            message=f"User pool {missing} does not exist.", **kwargs,
        )


def test_update_is_a_merge(fed_idp, pool_id, oidc_upstream):
    created = create_oidc(
        fed_idp, pool_id, "Merged", oidc_upstream.issuer,
        AttributeMapping={"email": "email"}, IdpIdentifiers=["example.com"],
    )
    assert created["IdpIdentifiers"] == ["example.com"]
    assert created["AttributeMapping"] == {"email": "email", "username": "sub"}

    # Only the mapping: the details and the identifiers stay; no IdpIdentifiers in the answer.
    updated = fed_idp.update_identity_provider(
        UserPoolId=pool_id, ProviderName="Merged", AttributeMapping={"name": "name", "username": "email"},
    )["IdentityProvider"]
    assert "IdpIdentifiers" not in updated
    assert updated["AttributeMapping"] == {"name": "name", "username": "email"}
    assert updated["ProviderDetails"] == created["ProviderDetails"]
    assert updated["CreationDate"] == created["CreationDate"]
    assert updated["LastModifiedDate"] >= created["LastModifiedDate"]
    described = describe(fed_idp, pool_id, "Merged")
    assert described["IdpIdentifiers"] == ["example.com"]
    assert described["AttributeMapping"] == {"name": "name", "username": "email"}
    assert described["ProviderDetails"] == created["ProviderDetails"]
    assert described["ProviderType"] == "OIDC"

    # The identifiers: echoed when given.
    updated = fed_idp.update_identity_provider(
        UserPoolId=pool_id, ProviderName="Merged", IdpIdentifiers=["corp", "example.org"],
    )["IdentityProvider"]
    assert updated["IdpIdentifiers"] == ["corp", "example.org"]
    assert updated["AttributeMapping"] == {"name": "name", "username": "email"}
    assert describe(fed_idp, pool_id, "Merged")["IdpIdentifiers"] == ["corp", "example.org"]

    # The details: replaced by the request's, the endpoints discovered again.
    updated = fed_idp.update_identity_provider(
        UserPoolId=pool_id, ProviderName="Merged",
        ProviderDetails=oidc_details(oidc_upstream.issuer, client_id="renamed", attributes_request_method="POST"),
    )["IdentityProvider"]
    assert updated["ProviderDetails"] == {
        **created["ProviderDetails"], "client_id": "renamed", "attributes_request_method": "POST",
    }
    assert describe(fed_idp, pool_id, "Merged")["IdpIdentifiers"] == ["corp", "example.org"]

    # An empty list clears (and is echoed).
    updated = fed_idp.update_identity_provider(
        UserPoolId=pool_id, ProviderName="Merged", IdpIdentifiers=[],
    )["IdentityProvider"]
    assert updated["IdpIdentifiers"] == []
    described = describe(fed_idp, pool_id, "Merged")
    assert described["IdpIdentifiers"] == []
    assert described["AttributeMapping"] == {"name": "name", "username": "email"}


def test_update_with_empty_collections_clears_them(fed_idp, pool_id, oidc_upstream):
    """Measured against Cognito (federation-facts §1.2, FLOCI's updateWithEmptyCollectionsClearsThem):
    an Update with `AttributeMapping: {}` and `IdpIdentifiers: []` answers both empty, and
    Describe shows both empty; the default `username` mapping is only Create's."""
    create_oidc(
        fed_idp, pool_id, "Cleared", oidc_upstream.issuer,
        AttributeMapping={"email": "email", "username": "sub"}, IdpIdentifiers=["alias-keep"],
    )
    updated = fed_idp.update_identity_provider(
        UserPoolId=pool_id, ProviderName="Cleared",
        ProviderDetails=oidc_details(oidc_upstream.issuer), AttributeMapping={}, IdpIdentifiers=[],
    )["IdentityProvider"]
    assert updated["IdpIdentifiers"] == []
    assert updated["AttributeMapping"] == {}
    described = describe(fed_idp, pool_id, "Cleared")
    assert described["IdpIdentifiers"] == []
    assert described["AttributeMapping"] == {}


def test_concurrent_updates_lose_nothing(fed_idp, pool_id, oidc_upstream):
    """Two updates of different members at once: each succeeds or is refused with
    ConcurrentModificationException, and every update that succeeded is in the result."""
    create_oidc(fed_idp, pool_id, "Raced", oidc_upstream.issuer)

    def attempt(**kwargs) -> bool:
        try:
            fed_idp.update_identity_provider(UserPoolId=pool_id, ProviderName="Raced", **kwargs)
            return True
        except botocore.exceptions.ClientError as exc:
            assert exc.response["Error"]["Code"] == "ConcurrentModificationException", exc.response["Error"]
            return False

    with concurrent.futures.ThreadPoolExecutor(2) as threads:
        for round_ in range(8):
            attribute = ["name", "nickname", "locale", "website"][round_ % 4]
            barrier = threading.Barrier(2)

            def mapping(attribute=attribute, barrier=barrier):
                barrier.wait()
                return attempt(AttributeMapping={"username": "sub", attribute: attribute})

            def identifiers(round_=round_, barrier=barrier):
                barrier.wait()
                return attempt(IdpIdentifiers=[f"ident{round_}"])

            wrote_mapping, wrote_identifiers = (f.result() for f in [threads.submit(mapping), threads.submit(identifiers)])
            described = describe(fed_idp, pool_id, "Raced")
            if wrote_mapping:
                assert described["AttributeMapping"] == {"username": "sub", attribute: attribute}, (round_, described)
            if wrote_identifiers:
                assert described["IdpIdentifiers"] == [f"ident{round_}"], (round_, described)


def test_identifiers(fed_idp, pool_id, oidc_upstream):
    first = create_oidc(fed_idp, pool_id, "First", oidc_upstream.issuer, IdpIdentifiers=["first.example", "one"])
    create_oidc(fed_idp, pool_id, "Second", oidc_upstream.issuer)

    found = fed_idp.get_identity_provider_by_identifier(UserPoolId=pool_id, IdpIdentifier="one")["IdentityProvider"]
    assert found == {**first, "IdpIdentifiers": ["first.example", "one"]}
    assert found == describe(fed_idp, pool_id, "First")
    expect_error(
        "ResourceNotFoundException", fed_idp.get_identity_provider_by_identifier,
        UserPoolId=pool_id, IdpIdentifier="nobody.example",
        message=f"Identity provider with identifier nobody.example for tenantId {pool_id} does not exist.",
    )

    taken = "The identifier one is already used by another identity provider of the user pool."
    refused(
        fed_idp, pool_id, "update_identity_provider", taken,
        ProviderName="Second", IdpIdentifiers=["second.example", "one"],
    )
    refused_create(
        fed_idp, pool_id, taken,
        ProviderName="Third", ProviderType="OIDC", ProviderDetails=oidc_details(oidc_upstream.issuer),
        IdpIdentifiers=["one"],
    )
    twice = "The identifier dup appears more than once in IdpIdentifiers."
    refused(
        fed_idp, pool_id, "update_identity_provider", twice,
        ProviderName="Second", IdpIdentifiers=["dup", "x", "dup"],
    )
    refused_create(
        fed_idp, pool_id, twice,
        ProviderName="Third", ProviderType="OIDC", ProviderDetails=oidc_details(oidc_upstream.issuer),
        IdpIdentifiers=["dup", "dup"],
    )
    # A provider may keep its own identifiers; once they are given up another may take them.
    fed_idp.update_identity_provider(UserPoolId=pool_id, ProviderName="First", IdpIdentifiers=["one"])
    fed_idp.update_identity_provider(UserPoolId=pool_id, ProviderName="Second", IdpIdentifiers=["first.example"])
    found = fed_idp.get_identity_provider_by_identifier(UserPoolId=pool_id, IdpIdentifier="first.example")
    assert found["IdentityProvider"]["ProviderName"] == "Second"

    # Deleted, a provider's identifiers are free again.
    fed_idp.delete_identity_provider(UserPoolId=pool_id, ProviderName="First")
    expect_error(
        "ResourceNotFoundException", fed_idp.get_identity_provider_by_identifier,
        UserPoolId=pool_id, IdpIdentifier="one",
        message=f"Identity provider with identifier one for tenantId {pool_id} does not exist.",
    )
    fed_idp.update_identity_provider(UserPoolId=pool_id, ProviderName="Second", IdpIdentifiers=["one"])

    # Identifiers are unique within a pool, not across pools.
    other = fed_idp.create_user_pool(PoolName=unique("e2e-idp"))["UserPool"]["Id"]
    create_oidc(fed_idp, other, "Elsewhere", oidc_upstream.issuer, IdpIdentifiers=["one"])
    found = fed_idp.get_identity_provider_by_identifier(UserPoolId=other, IdpIdentifier="one")
    assert found["IdentityProvider"]["ProviderName"] == "Elsewhere"
    found = fed_idp.get_identity_provider_by_identifier(UserPoolId=pool_id, IdpIdentifier="one")
    assert found["IdentityProvider"]["ProviderName"] == "Second"


def test_identifiers_keep_their_order(fed_idp, pool_id, oidc_upstream):
    """IdpIdentifiers is a list: Describe and GetIdentityProviderByIdentifier answer it in the
    order it was given, as Create and Update echo it."""
    given = ["zeta.example", "alpha.example", "mid"]
    created = create_oidc(fed_idp, pool_id, "Ordered", oidc_upstream.issuer, IdpIdentifiers=given)
    assert created["IdpIdentifiers"] == given
    assert describe(fed_idp, pool_id, "Ordered")["IdpIdentifiers"] == given
    found = fed_idp.get_identity_provider_by_identifier(UserPoolId=pool_id, IdpIdentifier="mid")
    assert found["IdentityProvider"]["IdpIdentifiers"] == given
    again = ["mid", "zeta.example"]
    updated = fed_idp.update_identity_provider(UserPoolId=pool_id, ProviderName="Ordered", IdpIdentifiers=again)
    assert updated["IdentityProvider"]["IdpIdentifiers"] == again
    assert describe(fed_idp, pool_id, "Ordered")["IdpIdentifiers"] == again


def test_list_paginates_summaries(fed_idp, pool_id, oidc_upstream, idp_certificate):
    assert fed_idp.list_identity_providers(UserPoolId=pool_id, MaxResults=10)["Providers"] == []
    for name in ("Charlie", "Alpha", "Bravo"):
        create_oidc(fed_idp, pool_id, name, oidc_upstream.issuer, IdpIdentifiers=[name.lower()])
    fed_idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="Delta", ProviderType="SAML",
        ProviderDetails={"MetadataFile": saml_metadata(idp_certificate)},
    )

    seen, token, pages = [], None, 0
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = fed_idp.list_identity_providers(UserPoolId=pool_id, MaxResults=1, **kwargs)
        pages += 1
        assert len(page["Providers"]) == 1, page
        entry = page["Providers"][0]
        assert set(entry) == SUMMARY_KEYS, entry
        assert_dates(entry)
        seen.append((entry["ProviderName"], entry["ProviderType"]))
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 4
    assert sorted(seen) == [("Alpha", "OIDC"), ("Bravo", "OIDC"), ("Charlie", "OIDC"), ("Delta", "SAML")]

    whole = fed_idp.list_identity_providers(UserPoolId=pool_id, MaxResults=60)
    assert "NextToken" not in whole
    assert [p["ProviderName"] for p in whole["Providers"]] == [name for name, _ in seen]
    for entry in whole["Providers"]:
        full = describe(fed_idp, pool_id, entry["ProviderName"])
        assert entry == {key: full[key] for key in SUMMARY_KEYS}


def test_delete(fed_idp, pool_id, oidc_upstream):
    create_oidc(fed_idp, pool_id, "Doomed", oidc_upstream.issuer, IdpIdentifiers=["doomed"])
    create_oidc(fed_idp, pool_id, "Kept", oidc_upstream.issuer)
    assert fed_idp.delete_identity_provider(UserPoolId=pool_id, ProviderName="Doomed")["ResponseMetadata"][
        "HTTPStatusCode"
    ] == 200
    expect_error(
        "ResourceNotFoundException", fed_idp.describe_identity_provider,
        UserPoolId=pool_id, ProviderName="Doomed",
        message=f"Identity provider Doomed for tenantId {pool_id} does not exist.",
    )
    expect_error(
        "ResourceNotFoundException", fed_idp.delete_identity_provider,
        UserPoolId=pool_id, ProviderName="Doomed",
        message=f"Identity provider Doomed in User Pool {pool_id} does not exist.",
    )
    assert [p["ProviderName"] for p in list_all(fed_idp, pool_id)] == ["Kept"]
    # The name is free again.
    create_oidc(fed_idp, pool_id, "Doomed", oidc_upstream.issuer)


# --------------------------------------------------------------------------
# 2. refusals at Create


def test_refused_provider_type(fed_idp, pool_id):
    refused_create(
        fed_idp, pool_id,
        "1 validation error detected: Value 'NotARealType' at 'providerType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Facebook, SAML, SignInWithApple, LoginWithAmazon, OIDC, Google]",
        ProviderName="Upstream", ProviderType="NotARealType", ProviderDetails={},
    )


@pytest.mark.parametrize("kind", ["Google", "Facebook", "LoginWithAmazon", "SignInWithApple"])
def test_refused_social_provider_under_another_name(fed_idp, pool_id, kind):
    refused_create(
        fed_idp, pool_id, f"Provider NameOfGP cannot be of type {kind}.",
        ProviderName="NameOfGP", ProviderType=kind,
        ProviderDetails={"client_id": "id", "client_secret": "secret", "authorize_scopes": "openid"},
    )


@pytest.mark.parametrize("kind", ["Google", "Facebook", "LoginWithAmazon"])
@pytest.mark.parametrize("missing", ["client_id", "client_secret", "authorize_scopes"])
def test_refused_social_provider_without_credentials(idp, make_pool, kind, missing):
    pool_id = make_pool()["Id"]
    details = {"client_id": "id", "client_secret": "secret", "authorize_scopes": "email profile openid"}
    del details[missing]
    refused_create(
        idp, pool_id, SOCIAL_CREDENTIALS_MISSING,
        ProviderName=kind, ProviderType=kind, ProviderDetails=details,
    )
    # An empty value is no value.
    refused_create(
        idp, pool_id, SOCIAL_CREDENTIALS_MISSING,
        ProviderName=kind, ProviderType=kind, ProviderDetails={**details, missing: ""},
    )


def apple_private_key() -> str:
    """A P-256 key in PKCS#8 PEM, as Apple's .p8 files hold it."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.mark.parametrize("missing", ["client_id", "team_id", "key_id", "private_key", "authorize_scopes"])
def test_refused_apple_without_keys(idp, make_pool, missing):
    details = {
        "client_id": "com.example.web", "team_id": "TEAM123456", "key_id": "KEY1234567",
        "private_key": apple_private_key(), "authorize_scopes": "email name",
    }
    del details[missing]
    refused_create(
        idp, make_pool()["Id"],
        "client_id, team_id, key_id, private_key and authorize_scopes are all required idp details",
        ProviderName="SignInWithApple", ProviderType="SignInWithApple", ProviderDetails=details,
    )


def test_refused_saml_without_metadata(fed_idp, pool_id):
    refused_create(
        fed_idp, pool_id, "At least one of the MetadataURL or MetadataFile should be provided.",
        ProviderName="Corp", ProviderType="SAML", ProviderDetails={"IDPSignout": "true"},
    )


def test_refused_oidc_details(fed_idp, pool_id, oidc_upstream):
    issuer = oidc_upstream.issuer

    def create(details, **kwargs):
        return {"ProviderName": "Upstream", "ProviderType": "OIDC", "ProviderDetails": details, **kwargs}

    for missing in ("client_id", "attributes_request_method", "oidc_issuer", "authorize_scopes"):
        details = oidc_details(issuer)
        del details[missing]
        refused_create(
            fed_idp, pool_id,
            "client_id, attributes_request_method, oidc_issuer and authorize_scopes are all required idp details",
            **create(details),
        )
    for scopes in ("email profile", "openidx email", "email,openid"):
        refused_create(
            fed_idp, pool_id, "authorize_scopes must include openid.",
            **create(oidc_details(issuer, authorize_scopes=scopes)),
        )
    for method in ("PUT", "get"):
        refused_create(
            fed_idp, pool_id, "attributes_request_method must be GET or POST.",
            **create(oidc_details(issuer, attributes_request_method=method)),
        )
    # Plain HTTP is for loopback issuers only, and only where the deployment allows it.
    refused_create(
        fed_idp, pool_id, "oidc_issuer http://idp.example.com must be an HTTPS URL.",
        **create(oidc_details("http://idp.example.com")),
    )
    refused_create(
        fed_idp, pool_id, "oidc_issuer ftp://127.0.0.1/ must be an HTTPS URL.",
        **create(oidc_details("ftp://127.0.0.1/")),
    )
    refused_create(
        fed_idp, pool_id, "token_url http://idp.example.com/token must be an HTTPS URL.",
        **create(oidc_details(issuer, token_url="http://idp.example.com/token")),
    )


def test_refused_unreachable_issuer(fed_idp, pool_id, oidc_upstream):
    dead = f"http://127.0.0.1:{free_port()}"
    refused_create(
        fed_idp, pool_id,
        f"The OpenID Connect discovery document of {dead} could not be read: the request failed (could not connect)",
        ProviderName="Upstream", ProviderType="OIDC", ProviderDetails=oidc_details(dead),
    )
    # The discovery document must name the issuer asked for (OpenID Connect Discovery §4.3).
    other = oidc_upstream.issuer + "/"
    refused_create(
        fed_idp, pool_id,
        f"The OpenID Connect discovery document of {other} could not be read: "
        f"the discovery document names the issuer {oidc_upstream.issuer}",
        ProviderName="Upstream", ProviderType="OIDC", ProviderDetails=oidc_details(other),
    )
    # A path that serves no discovery document.
    missing = oidc_upstream.issuer + "/nothing"
    refused_create(
        fed_idp, pool_id,
        f"The OpenID Connect discovery document of {missing} could not be read: the answer was HTTP 404",
        ProviderName="Upstream", ProviderType="OIDC", ProviderDetails=oidc_details(missing),
    )


def test_loopback_http_needs_the_federation_config(idp, make_pool, oidc_upstream):
    """The shared server has no `[federation]` table: even a loopback http issuer is refused."""
    refused_create(
        idp, make_pool()["Id"], f"oidc_issuer {oidc_upstream.issuer} must be an HTTPS URL.",
        ProviderName="Upstream", ProviderType="OIDC", ProviderDetails=oidc_details(oidc_upstream.issuer),
    )


def test_refused_attribute_mapping(fed_idp, pool_id, oidc_upstream):
    fed_idp.add_custom_attributes(
        UserPoolId=pool_id,
        CustomAttributes=[
            {"Name": "fixed", "AttributeDataType": "String", "Mutable": False},
            {"Name": "team", "AttributeDataType": "String", "Mutable": True},
        ],
    )

    def create(mapping):
        return {
            "ProviderName": "Upstream", "ProviderType": "OIDC",
            "ProviderDetails": oidc_details(oidc_upstream.issuer), "AttributeMapping": mapping,
        }

    refused_create(
        fed_idp, pool_id,
        "The attribute mapping names favourite_colour, which is not an attribute of the user pool.",
        **create({"email": "email", "favourite_colour": "colour"}),
    )
    refused_create(
        fed_idp, pool_id, "The attribute mapping names custom:missing, which is not an attribute of the user pool.",
        **create({"custom:missing": "x"}),
    )
    refused_create(
        fed_idp, pool_id, "The attribute mapping names sub, which cannot change after a user is created.",
        **create({"sub": "sub"}),
    )
    refused_create(
        fed_idp, pool_id,
        "The attribute mapping names custom:fixed, which cannot change after a user is created.",
        **create({"custom:fixed": "x"}),
    )
    created = fed_idp.create_identity_provider(**{**create({"custom:team": "team", "email": "email"}), "UserPoolId": pool_id})
    assert created["IdentityProvider"]["AttributeMapping"] == {"custom:team": "team", "email": "email", "username": "sub"}
    # The same checks at Update.
    refused(
        fed_idp, pool_id, "update_identity_provider",
        "The attribute mapping names sub, which cannot change after a user is created.",
        ProviderName="Upstream", AttributeMapping={"sub": "sub"},
    )


def test_refused_acr_mapping_on_saml(fed_idp, pool_id, oidc_upstream, idp_certificate):
    refused_create(
        fed_idp, pool_id, "Only OIDC IdPs support ACR mapping.",
        ProviderName="Corp", ProviderType="SAML",
        ProviderDetails={"MetadataFile": saml_metadata(idp_certificate)}, AcrMapping={"Level1": "urn:acr:silver"},
    )
    corp = fed_idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="Corp", ProviderType="SAML",
        ProviderDetails={"MetadataFile": saml_metadata(idp_certificate)},
    )["IdentityProvider"]
    assert "AcrMapping" not in corp
    refused(
        fed_idp, pool_id, "update_identity_provider", "Only OIDC IdPs support ACR mapping.",
        ProviderName="Corp", AcrMapping={"Level1": "urn:acr:silver"},
    )
    # An OIDC provider keeps its ACR mapping.
    created = create_oidc(fed_idp, pool_id, "Upstream", oidc_upstream.issuer, AcrMapping={"Level1": "urn:acr:silver"})
    assert created["AcrMapping"] == {"Level1": "urn:acr:silver"}
    assert describe(fed_idp, pool_id, "Upstream")["AcrMapping"] == {"Level1": "urn:acr:silver"}


def test_refused_by_the_model(fed_idp, pool_id, idp_certificate):
    """The model's constraints on names, identifiers and ACR levels, in Cognito's validation
    wording."""
    metadata = {"MetadataFile": saml_metadata(idp_certificate)}
    for name in ("ab", "_Corp", "Corp Name"):
        refused_create(
            fed_idp, pool_id,
            f"1 validation error detected: Value '{name}' at 'providerName' failed to satisfy constraint: "
            r"Member must satisfy regular expression pattern: [^_\p{Z}][\p{L}\p{M}\p{S}\p{N}\p{P}][^_\p{Z}]+",
            ProviderName=name, ProviderType="SAML", ProviderDetails=metadata,
        )
    refused_create(
        fed_idp, pool_id,
        "1 validation error detected: Value '[a/b]' at 'idpIdentifiers' failed to satisfy constraint: "
        r"Member must satisfy constraint: [Member must satisfy regular expression pattern: [\w\s+=.@-]+]",
        ProviderName="Corp", ProviderType="SAML", ProviderDetails=metadata, IdpIdentifiers=["a/b"],
    )
    refused_create(
        fed_idp, pool_id,
        "1 validation error detected: Value '{Level9=x}' at 'acrMapping' failed to satisfy constraint: "
        "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: Level[1-4]]",
        ProviderName="Corp", ProviderType="OIDC", ProviderDetails={}, AcrMapping={"Level9": "x"},
    )


def test_tessera_keys_cannot_be_set(fed_idp, pool_id, idp_certificate):
    """Keys starting with `tessera:` are tessera's own: a request cannot set them and no answer
    shows them."""
    created = fed_idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="Corp", ProviderType="SAML",
        ProviderDetails={
            "MetadataFile": saml_metadata(idp_certificate),
            "tessera:metadata": saml_metadata(idp_certificate, sso="https://evil.example/sso"),
            "tessera:encryption_key": "AAAA",
        },
    )["IdentityProvider"]
    for details in (created["ProviderDetails"], describe(fed_idp, pool_id, "Corp")["ProviderDetails"]):
        assert not any(key.startswith("tessera:") for key in details), details
        assert details["SSORedirectBindingURI"] == "https://idp.example.com/sso"


def test_refused_reserved_name(fed_idp, pool_id, oidc_upstream):
    refused_create(
        fed_idp, pool_id, "Provider name COGNITO is reserved.",
        ProviderName="COGNITO", ProviderType="OIDC", ProviderDetails=oidc_details(oidc_upstream.issuer),
    )


# --------------------------------------------------------------------------
# 3. the social presets


def test_google_against_the_stand_in(fed_idp, pool_id, google_upstream):
    doc = discovery(google_upstream.issuer)
    details = {"client_id": "google-client", "client_secret": "google-secret", "authorize_scopes": "email profile openid"}
    created = fed_idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="Google", ProviderType="Google", ProviderDetails=details,
    )["IdentityProvider"]
    expected = {
        **details,
        "oidc_issuer": google_upstream.issuer,
        "authorize_url": doc["authorization_endpoint"],
        "token_url": doc["token_endpoint"],
        "attributes_url": doc["userinfo_endpoint"],
        "jwks_uri": doc["jwks_uri"],
        "attributes_url_add_attributes": "false",
        "token_request_method": "POST",
    }
    assert created["ProviderDetails"] == expected
    described = describe(fed_idp, pool_id, "Google")
    assert described["ProviderDetails"] == expected
    assert described["ProviderDetails"]["client_secret"] == "google-secret"
    assert described["AttributeMapping"] == {"username": "sub"}
    assert described["ProviderType"] == "Google"


def test_google_preset_endpoints(idp, make_pool):
    """Without a stand-in (the shared server has no `[federation]` table), Google's own
    endpoints, and nothing is fetched."""
    pool_id = make_pool()["Id"]
    details = {"client_id": "google-client", "client_secret": "google-secret", "authorize_scopes": "email profile openid"}
    created = idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="Google", ProviderType="Google", ProviderDetails=details,
    )["IdentityProvider"]
    expected = {
        **details,
        "attributes_url": "https://people.googleapis.com/v1/people/me?personFields=",
        "attributes_url_add_attributes": "true",
        "authorize_url": "https://accounts.google.com/o/oauth2/v2/auth",
        "oidc_issuer": "https://accounts.google.com",
        "token_request_method": "POST",
        "token_url": "https://www.googleapis.com/oauth2/v4/token",
        "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
    }
    assert created["ProviderDetails"] == expected
    assert created["AttributeMapping"] == {"username": "sub"}
    assert describe(idp, pool_id, "Google")["ProviderDetails"] == expected


def test_facebook_preset(idp, make_pool):
    pool_id = make_pool()["Id"]
    details = {
        "client_id": "fb-app", "client_secret": "fb-secret", "authorize_scopes": "public_profile,email",
        "api_version": "v18.0",
    }
    created = idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="Facebook", ProviderType="Facebook", ProviderDetails=details,
    )["IdentityProvider"]
    expected = {
        **details,
        "attributes_url": "https://graph.facebook.com/v18.0/me?fields=",
        "attributes_url_add_attributes": "true",
        "authorize_url": "https://www.facebook.com/v18.0/dialog/oauth",
        "token_request_method": "GET",
        "token_url": "https://graph.facebook.com/v18.0/oauth/access_token",
    }
    assert created["ProviderDetails"] == expected
    assert created["AttributeMapping"] == {"username": "id"}
    described = describe(idp, pool_id, "Facebook")
    assert described["ProviderDetails"] == expected
    assert described["AttributeMapping"] == {"username": "id"}

    # Without api_version, the model's example version.
    updated = idp.update_identity_provider(
        UserPoolId=pool_id, ProviderName="Facebook",
        ProviderDetails={k: v for k, v in details.items() if k != "api_version"},
    )["IdentityProvider"]["ProviderDetails"]
    assert updated["authorize_url"] == "https://www.facebook.com/v17.0/dialog/oauth"
    assert updated["token_url"] == "https://graph.facebook.com/v17.0/oauth/access_token"
    assert updated["attributes_url"] == "https://graph.facebook.com/v17.0/me?fields="

    refused(
        idp, pool_id, "update_identity_provider", "api_version 18 is not a Graph API version such as v17.0.",
        ProviderName="Facebook", ProviderDetails={**details, "api_version": "18"},
    )


def test_login_with_amazon_preset(idp, make_pool):
    pool_id = make_pool()["Id"]
    details = {
        "client_id": "amzn1.application-oa2-client.1234", "client_secret": "amzn-secret",
        "authorize_scopes": "profile postal_code",
    }
    created = idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="LoginWithAmazon", ProviderType="LoginWithAmazon", ProviderDetails=details,
    )["IdentityProvider"]
    expected = {
        **details,
        "attributes_url": "https://api.amazon.com/user/profile",
        "attributes_url_add_attributes": "false",
        "authorize_url": "https://www.amazon.com/ap/oa",
        "token_request_method": "POST",
        "token_url": "https://api.amazon.com/auth/o2/token",
    }
    assert created["ProviderDetails"] == expected
    assert created["AttributeMapping"] == {"username": "user_id"}
    assert describe(idp, pool_id, "LoginWithAmazon")["ProviderDetails"] == expected


def test_refused_apple_with_a_key_that_is_not_p256(idp, make_pool):
    refused_create(
        idp, make_pool()["Id"], "The private_key of SignInWithApple is not a P-256 PKCS#8 key.",
        ProviderName="SignInWithApple", ProviderType="SignInWithApple",
        ProviderDetails={"client_id": "com.example.web", "team_id": "TEAM123456", "key_id": "KEY1234567",
                         "private_key": "-----BEGIN PRIVATE KEY-----\nMIGT\n-----END PRIVATE KEY-----",
                         "authorize_scopes": "email name"},
    )


def test_sign_in_with_apple_preset(idp, make_pool):
    pool_id = make_pool()["Id"]
    private_key = apple_private_key()
    details = {
        "client_id": "com.example.web", "team_id": "TEAM123456", "key_id": "KEY1234567",
        "private_key": private_key, "authorize_scopes": "email name",
    }
    created = idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="SignInWithApple", ProviderType="SignInWithApple", ProviderDetails=details,
    )["IdentityProvider"]
    expected = {
        "client_id": "com.example.web", "team_id": "TEAM123456", "key_id": "KEY1234567",
        "authorize_scopes": "email name",
        "attributes_url_add_attributes": "false",
        "authorize_url": "https://appleid.apple.com/auth/authorize",
        "oidc_issuer": "https://appleid.apple.com",
        "token_request_method": "POST",
        "token_url": "https://appleid.apple.com/auth/token",
        "jwks_uri": "https://appleid.apple.com/auth/keys",
    }
    # The private key is never returned.
    assert created["ProviderDetails"] == expected
    described = describe(idp, pool_id, "SignInWithApple")
    assert described["ProviderDetails"] == expected
    assert "private_key" not in described["ProviderDetails"]
    assert described["AttributeMapping"] == {"username": "sub"}

    # Describe's details sent back (without the key) are accepted: the stored key is kept.
    round_trip = dict(described["ProviderDetails"], authorize_scopes="email")
    updated = idp.update_identity_provider(
        UserPoolId=pool_id, ProviderName="SignInWithApple", ProviderDetails=round_trip,
    )["IdentityProvider"]
    assert updated["ProviderDetails"] == {**expected, "authorize_scopes": "email"}
    assert describe(idp, pool_id, "SignInWithApple")["ProviderDetails"] == {**expected, "authorize_scopes": "email"}
    # ... and kept again by a second round trip.
    idp.update_identity_provider(
        UserPoolId=pool_id, ProviderName="SignInWithApple", ProviderDetails=round_trip,
    )


# --------------------------------------------------------------------------
# 4. SAML


def test_saml_metadata_file(fed_idp, pool_id, idp_certificate):
    metadata = saml_metadata(idp_certificate)
    created = fed_idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="CorpFile", ProviderType="SAML",
        ProviderDetails={"MetadataFile": metadata, "IDPSignout": "true"},
        AttributeMapping={"email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"},
        IdpIdentifiers=["corp.example"],
    )["IdentityProvider"]
    expected = {
        "MetadataFile": metadata,
        "IDPSignout": "true",
        "SSORedirectBindingURI": "https://idp.example.com/sso",
        "SLORedirectBindingURI": "https://idp.example.com/slo",
    }
    assert created["ProviderDetails"] == expected
    assert created["IdpIdentifiers"] == ["corp.example"]
    # A SAML user is named by the NameID: no default username mapping.
    assert created["AttributeMapping"] == {
        "email": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    }
    described = describe(fed_idp, pool_id, "CorpFile")
    assert described["ProviderDetails"] == expected
    assert described["ProviderType"] == "SAML"

    # Metadata without a single logout URL: none returned (the old one does not linger).
    updated = fed_idp.update_identity_provider(
        UserPoolId=pool_id, ProviderName="CorpFile",
        ProviderDetails={"MetadataFile": saml_metadata(idp_certificate, sso="https://idp2.example.com/sso", slo=None)},
    )["IdentityProvider"]["ProviderDetails"]
    assert updated["SSORedirectBindingURI"] == "https://idp2.example.com/sso"
    assert "SLORedirectBindingURI" not in updated


def test_saml_metadata_url(fed_idp, pool_id, metadata_server, idp_certificate):
    url = metadata_server.publish(saml_metadata(idp_certificate))
    created = fed_idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="CorpUrl", ProviderType="SAML", ProviderDetails={"MetadataURL": url},
    )["IdentityProvider"]
    details = created["ProviderDetails"]
    assert details["MetadataURL"] == url
    assert details["SSORedirectBindingURI"] == "https://idp.example.com/sso"
    assert details["SLORedirectBindingURI"] == "https://idp.example.com/slo"
    assert not any(key.startswith("tessera:") for key in details), details
    assert describe(fed_idp, pool_id, "CorpUrl")["ProviderDetails"] == details

    missing = metadata_server.base + "/missing.xml"
    refused_create(
        fed_idp, pool_id, f"The metadata at {missing} could not be read: the answer was HTTP 404",
        ProviderName="Missing", ProviderType="SAML", ProviderDetails={"MetadataURL": missing},
    )
    refused_create(
        fed_idp, pool_id, "MetadataURL http://idp.example.com/metadata must be an HTTPS URL.",
        ProviderName="Plain", ProviderType="SAML", ProviderDetails={"MetadataURL": "http://idp.example.com/metadata"},
    )


def test_saml_encrypted_responses(fed_idp, pool_id, idp_certificate):
    metadata = saml_metadata(idp_certificate)
    created = fed_idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="Encrypted", ProviderType="SAML",
        ProviderDetails={"MetadataFile": metadata, "EncryptedResponses": "true"},
    )["IdentityProvider"]
    active = created["ProviderDetails"]["ActiveEncryptionCertificate"]
    certificate = certificate_of(active)
    assert_rsa_2048(certificate)
    assert not any(key.startswith("tessera:") for key in created["ProviderDetails"]), created["ProviderDetails"]
    described = describe(fed_idp, pool_id, "Encrypted")
    assert described["ProviderDetails"]["ActiveEncryptionCertificate"] == active

    # An update changing only IDPSignout keeps the certificate (and its key).
    updated = fed_idp.update_identity_provider(
        UserPoolId=pool_id, ProviderName="Encrypted",
        ProviderDetails={**described["ProviderDetails"], "IDPSignout": "true"},
    )["IdentityProvider"]["ProviderDetails"]
    assert updated["IDPSignout"] == "true"
    assert updated["ActiveEncryptionCertificate"] == active
    assert describe(fed_idp, pool_id, "Encrypted")["ProviderDetails"]["ActiveEncryptionCertificate"] == active

    # Another provider gets a key of its own.
    other = fed_idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="Encrypted2", ProviderType="SAML",
        ProviderDetails={"MetadataFile": metadata, "EncryptedResponses": "true"},
    )["IdentityProvider"]["ProviderDetails"]["ActiveEncryptionCertificate"]
    assert other != active
    assert certificate_of(other).public_key().public_numbers() != certificate.public_key().public_numbers()

    # Encryption turned off: no certificate.
    plain = fed_idp.update_identity_provider(
        UserPoolId=pool_id, ProviderName="Encrypted", ProviderDetails={"MetadataFile": metadata},
    )["IdentityProvider"]["ProviderDetails"]
    assert "ActiveEncryptionCertificate" not in plain


def test_saml_refusals(fed_idp, pool_id, idp_certificate):
    def create(details):
        return {"ProviderName": "Corp", "ProviderType": "SAML", "ProviderDetails": details}

    expired = self_signed("expired idp", days=5, not_before_days=-30)[1]
    refused_create(
        fed_idp, pool_id, "Invalid SAML metadata: a signing certificate has expired",
        **create({"MetadataFile": saml_metadata(expired)}),
    )
    refused_create(
        fed_idp, pool_id, "Invalid SAML metadata: the IDPSSODescriptor has no signing certificate",
        **create({"MetadataFile": saml_metadata(None)}),
    )
    xxe = saml_metadata(idp_certificate).replace(
        '<?xml version="1.0"?>',
        '<?xml version="1.0"?><!DOCTYPE md:EntityDescriptor [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    ).replace("https://idp.example.com/sso", "&xxe;", 1)
    refused_create(
        fed_idp, pool_id, "Invalid SAML metadata: the document is not well-formed XML (XML with DTD detected)",
        **create({"MetadataFile": xxe}),
    )
    refused_create(
        fed_idp, pool_id, "Invalid SAML metadata: the document has no IDPSSODescriptor",
        **create({"MetadataFile": '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>'}),
    )
    metadata = saml_metadata(idp_certificate)
    for algorithm in ("rsa-sha1", "RSA-SHA256"):
        refused_create(
            fed_idp, pool_id, "RequestSigningAlgorithm must be rsa-sha256.",
            **create({"MetadataFile": metadata, "RequestSigningAlgorithm": algorithm}),
        )
    refused_create(
        fed_idp, pool_id, "IDPSignout must be true or false, not maybe.",
        **create({"MetadataFile": metadata, "IDPSignout": "maybe"}),
    )
    refused_create(
        fed_idp, pool_id, "EncryptedResponses must be true or false, not yes.",
        **create({"MetadataFile": metadata, "EncryptedResponses": "yes"}),
    )
    assert list_all(fed_idp, pool_id) == []

    # The accepted algorithm, and the same checks at Update.
    fed_idp.create_identity_provider(
        UserPoolId=pool_id, **create({"MetadataFile": metadata, "RequestSigningAlgorithm": "rsa-sha256"}),
    )
    refused(
        fed_idp, pool_id, "update_identity_provider", "Invalid SAML metadata: a signing certificate has expired",
        ProviderName="Corp", ProviderDetails={"MetadataFile": saml_metadata(expired)},
    )
    refused(
        fed_idp, pool_id, "update_identity_provider", "IDPSignout must be true or false, not maybe.",
        ProviderName="Corp", ProviderDetails={"MetadataFile": metadata, "IDPSignout": "maybe"},
    )


# --------------------------------------------------------------------------
# 5. GetSigningCertificate


def test_signing_certificate(fed_idp, pool_id):
    first = fed_idp.get_signing_certificate(UserPoolId=pool_id)["Certificate"]
    certificate = certificate_of(first)
    assert_rsa_2048(certificate)
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == f"urn:amazon:cognito:sp:{pool_id}"
    validity = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert abs(validity - dt.timedelta(days=3650)) <= dt.timedelta(days=3), validity
    now = dt.datetime.now(dt.timezone.utc)
    assert certificate.not_valid_before_utc <= now + dt.timedelta(minutes=5)
    assert certificate.not_valid_before_utc >= now - dt.timedelta(hours=1)
    assert fed_idp.get_signing_certificate(UserPoolId=pool_id)["Certificate"] == first

    # Each pool has its own.
    other_pool = fed_idp.create_user_pool(PoolName=unique("e2e-idp"))["UserPool"]["Id"]
    other = fed_idp.get_signing_certificate(UserPoolId=other_pool)["Certificate"]
    assert other != first
    assert certificate_of(other).subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        f"urn:amazon:cognito:sp:{other_pool}"
    )

    missing = "us-east-1_Nothing00"
    expect_error(
        "ResourceNotFoundException", fed_idp.get_signing_certificate, UserPoolId=missing,
        message=f"User pool {missing} does not exist.",
    )


# --------------------------------------------------------------------------
# 6. app clients' SupportedIdentityProviders


def test_clients_name_only_existing_providers(fed_idp, pool_id, oidc_upstream):
    create_oidc(fed_idp, pool_id, "Upstream", oidc_upstream.issuer)
    missing = f"The provider Missing does not exist for User Pool {pool_id}."

    def clients():
        return fed_idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]

    expect_error(
        "InvalidParameterException", fed_idp.create_user_pool_client, UserPoolId=pool_id, ClientName="app",
        SupportedIdentityProviders=["COGNITO", "Missing"], message=missing,
    )
    # A built-in social name is only allowed once the pool has that provider.
    expect_error(
        "InvalidParameterException", fed_idp.create_user_pool_client, UserPoolId=pool_id, ClientName="app",
        SupportedIdentityProviders=["Google"], message=f"The provider Google does not exist for User Pool {pool_id}.",
    )
    assert clients() == []

    client = fed_idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="app", SupportedIdentityProviders=["COGNITO", "Upstream"],
    )["UserPoolClient"]
    assert client["SupportedIdentityProviders"] == ["COGNITO", "Upstream"]

    before = fed_idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client["ClientId"])["UserPoolClient"]
    expect_error(
        "InvalidParameterException", fed_idp.update_user_pool_client, UserPoolId=pool_id,
        ClientId=client["ClientId"], ClientName="renamed", SupportedIdentityProviders=["Upstream", "Missing"],
        message=missing,
    )
    after = fed_idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client["ClientId"])["UserPoolClient"]
    assert after == before
    assert [c["ClientId"] for c in clients()] == [client["ClientId"]]

    updated = fed_idp.update_user_pool_client(
        UserPoolId=pool_id, ClientId=client["ClientId"], SupportedIdentityProviders=["Upstream"],
    )["UserPoolClient"]
    assert updated["SupportedIdentityProviders"] == ["Upstream"]


# --------------------------------------------------------------------------
# 7. authentication and regions


def test_unsigned_requests_are_refused(fed, fed_idp, pool_id, oidc_upstream):
    unsigned = fed.unsigned_client()
    for call, kwargs in [
        (unsigned.create_identity_provider, {
            "ProviderName": "Upstream", "ProviderType": "OIDC", "ProviderDetails": oidc_details(oidc_upstream.issuer),
        }),
        (unsigned.describe_identity_provider, {"ProviderName": "Upstream"}),
        (unsigned.list_identity_providers, {"MaxResults": 10}),
        (unsigned.get_signing_certificate, {}),
    ]:
        expect_error(
            "MissingAuthenticationTokenException", call, UserPoolId=pool_id,
            message="Missing Authentication Token", **kwargs,
        )
    resp = raw_post(fed.url, "CreateIdentityProvider", {
        "UserPoolId": pool_id, "ProviderName": "Upstream", "ProviderType": "OIDC",
        "ProviderDetails": oidc_details(oidc_upstream.issuer),
    })
    body = assert_aws_error(resp, "MissingAuthenticationTokenException")
    assert body["message"] == "Missing Authentication Token"
    assert list_all(fed_idp, pool_id) == []


def test_a_pool_of_another_region_is_not_found(fed, fed_idp, pool_id, oidc_upstream):
    create_oidc(fed_idp, pool_id, "Upstream", oidc_upstream.issuer, IdpIdentifiers=["east"])
    akid, secret = fed.root_credentials()
    west = idp_client(fed.url, akid, secret, region="eu-west-1")
    not_found = f"User pool {pool_id} does not exist."
    for call, kwargs in [
        (west.describe_identity_provider, {"ProviderName": "Upstream"}),
        (west.update_identity_provider, {"ProviderName": "Upstream", "AttributeMapping": {"email": "email"}}),
        (west.delete_identity_provider, {"ProviderName": "Upstream"}),
        (west.list_identity_providers, {}),
        (west.get_identity_provider_by_identifier, {"IdpIdentifier": "east"}),
        (west.get_signing_certificate, {}),
    ]:
        expect_error("ResourceNotFoundException", call, UserPoolId=pool_id, message=not_found, **kwargs)
    assert describe(fed_idp, pool_id, "Upstream")["AttributeMapping"] == {"username": "sub"}



def test_issue_15_a_social_preset_keeps_only_its_own_endpoints(idp, make_pool):
    """Review finding: a preset's endpoints are the service's; an endpoint given in the request
    (here an instance-metadata URL as Apple's attributes_url) is dropped, never called."""
    pool_id = make_pool()["Id"]
    created = idp.create_identity_provider(
        UserPoolId=pool_id, ProviderName="SignInWithApple", ProviderType="SignInWithApple",
        ProviderDetails={"client_id": "com.example.web", "team_id": "TEAM123456", "key_id": "KEY1234567",
                         "private_key": apple_private_key(), "authorize_scopes": "email name",
                         "attributes_url": "http://169.254.169.254/latest/meta-data/iam/security-credentials/role",
                         "token_url": "https://evil.example/token"},
    )["IdentityProvider"]
    assert "attributes_url" not in created["ProviderDetails"]
    assert created["ProviderDetails"]["token_url"] == "https://appleid.apple.com/auth/token"
