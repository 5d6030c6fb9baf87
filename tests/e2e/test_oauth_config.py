"""The OAuth configuration of a pool through boto3: CreateUserPoolDomain,
DescribeUserPoolDomain, UpdateUserPoolDomain, DeleteUserPoolDomain; CreateResourceServer,
DescribeResourceServer, UpdateResourceServer, DeleteResourceServer, ListResourceServers and
clients allowed custom scopes; SetUICustomization, GetUICustomization and the logo and CSS
they publish."""

from __future__ import annotations

import re
import struct
import zlib

import pytest
import requests

from helpers import ACCOUNT_ID, HTTP_TIMEOUT, expect_error, unique

CERT = f"arn:aws:acm:us-east-1:{ACCOUNT_ID}:certificate/11111111-2222-3333-4444-555555555555"
OTHER_CERT = f"arn:aws:acm:us-east-1:{ACCOUNT_ID}:certificate/66666666-7777-8888-9999-000000000000"
VERSION_RE = re.compile(r"^\d{14}$")
INVALID_CHARACTER = (
    "The domain name contains an invalid character. Domain names can only contain lower-case letters, "
    "numbers, and hyphens. Please enter a different name that follows this format: "
    r"^[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?$"
)


def png(width: int = 1, height: int = 1) -> bytes:
    """A valid RGBA PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + b"\x10\x20\x30\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class Domains:
    """Creates domains and deletes them again before their pools are cleaned up."""

    def __init__(self, idp):
        self.idp = idp
        self.created: list[tuple[str, str]] = []

    def __call__(self, pool_id: str, domain: str | None = None, **kwargs) -> tuple[str, dict]:
        domain = domain or unique("e2e-dom")
        out = self.idp.create_user_pool_domain(UserPoolId=pool_id, Domain=domain, **kwargs)
        self.created.append((pool_id, domain))
        out.pop("ResponseMetadata", None)
        return domain, out

    def cleanup(self) -> None:
        for pool_id, domain in self.created:
            try:
                self.idp.delete_user_pool_domain(UserPoolId=pool_id, Domain=domain)
            except Exception:
                pass


@pytest.fixture
def domains(idp, make_pool):
    maker = Domains(idp)
    yield maker
    maker.cleanup()


def describe_domain(idp, domain: str) -> dict:
    return idp.describe_user_pool_domain(Domain=domain)["DomainDescription"]


# --------------------------------------------------------------------------
# domains


def test_prefix_domain_lifecycle(idp, pool, domains):
    domain, created = domains(pool["Id"])
    assert created == {"CloudFrontDomain": f"{domain}.auth.localhost", "ManagedLoginVersion": 1}

    description = describe_domain(idp, domain)
    assert description["UserPoolId"] == pool["Id"]
    assert description["AWSAccountId"] == ACCOUNT_ID
    assert description["Domain"] == domain
    assert description["CloudFrontDistribution"] == f"{domain}.auth.localhost"
    assert description["Status"] == "ACTIVE"
    assert VERSION_RE.match(description["Version"]), description
    assert "CustomDomainConfig" not in description

    described = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert described["Domain"] == domain
    assert "CustomDomain" not in described

    updated = idp.update_user_pool_domain(UserPoolId=pool["Id"], Domain=domain, ManagedLoginVersion=2)
    assert updated["ManagedLoginVersion"] == 2
    assert updated["CloudFrontDomain"] == f"{domain}.auth.localhost"
    assert describe_domain(idp, domain)["ManagedLoginVersion"] == 2

    idp.delete_user_pool_domain(UserPoolId=pool["Id"], Domain=domain)
    assert describe_domain(idp, domain) == {}
    assert "Domain" not in idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    # Deleted, the pool can be deleted too.
    idp.delete_user_pool(UserPoolId=pool["Id"])


def test_unknown_domain_has_an_empty_description(idp):
    out = idp.describe_user_pool_domain(Domain=unique("e2e-nodomain"))
    assert out["DomainDescription"] == {}
    assert idp.describe_user_pool_domain(Domain="nothing.example.com")["DomainDescription"] == {}


def test_domain_is_unique_across_pools(idp, make_pool, domains):
    first, second = make_pool(), make_pool()
    domain, _ = domains(first["Id"])
    for pool in (second, first):
        expect_error(
            "InvalidParameterException",
            idp.create_user_pool_domain,
            UserPoolId=pool["Id"],
            Domain=domain,
            message="Domain already associated with another user pool.",
        )
    # The owner is unchanged, and only the owner can delete it.
    assert describe_domain(idp, domain)["UserPoolId"] == first["Id"]
    expect_error(
        "InvalidParameterException",
        idp.delete_user_pool_domain,
        UserPoolId=second["Id"],
        Domain=domain,
        message="No such domain or user pool exists.",
    )
    assert describe_domain(idp, domain)["UserPoolId"] == first["Id"]


def test_one_prefix_domain_per_pool(idp, pool, domains):
    domains(pool["Id"])
    expect_error(
        "InvalidParameterException",
        idp.create_user_pool_domain,
        UserPoolId=pool["Id"],
        Domain=unique("e2e-dom"),
        contains="already has a domain",
    )


def test_custom_domain_with_certificate(idp, pool, domains):
    prefix, _ = domains(pool["Id"])
    fqdn = f"{unique('auth')}.example.com"
    _, created = domains(pool["Id"], fqdn, CustomDomainConfig={"CertificateArn": CERT})
    assert created["CloudFrontDomain"] == fqdn

    description = describe_domain(idp, fqdn)
    assert description["Domain"] == fqdn
    assert description["UserPoolId"] == pool["Id"]
    assert description["CustomDomainConfig"] == {"CertificateArn": CERT}
    assert description["CloudFrontDistribution"] == fqdn
    assert description["Status"] == "ACTIVE"

    described = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert (described["Domain"], described["CustomDomain"]) == (prefix, fqdn)

    idp.update_user_pool_domain(
        UserPoolId=pool["Id"],
        Domain=fqdn,
        CustomDomainConfig={"CertificateArn": OTHER_CERT, "SecurityPolicy": "TLS_V1_2_2021"},
    )
    assert describe_domain(idp, fqdn)["CustomDomainConfig"] == {
        "CertificateArn": OTHER_CERT,
        "SecurityPolicy": "TLS_V1_2_2021",
    }
    expect_error(
        "InvalidParameterException",
        idp.create_user_pool_domain,
        UserPoolId=pool["Id"],
        Domain=f"{unique('login')}.example.com",
        CustomDomainConfig={"CertificateArn": CERT},
        contains="already has a custom domain",
    )


def test_domain_names_are_checked(idp, pool):
    # A dotted name without a certificate is a prefix with an invalid character.
    expect_error(
        "InvalidParameterException",
        idp.create_user_pool_domain,
        UserPoolId=pool["Id"],
        Domain=f"{unique('auth')}.example.com",
        message=INVALID_CHARACTER,
    )
    for bad in ("Upper-Case", "under_score", "-leading"):
        expect_error(
            "InvalidParameterException",
            idp.create_user_pool_domain,
            UserPoolId=pool["Id"],
            Domain=bad,
            contains="failed to satisfy constraint: Member must satisfy regular expression pattern",
        )
    expect_error(
        "InvalidParameterException",
        idp.create_user_pool_domain,
        UserPoolId=pool["Id"],
        Domain="Auth.Example.com",
        CustomDomainConfig={"CertificateArn": CERT},
        contains="at 'domain'",
    )
    expect_error(
        "InvalidParameterException",
        idp.create_user_pool_domain,
        UserPoolId=pool["Id"],
        Domain="no-dots-here",
        CustomDomainConfig={"CertificateArn": CERT},
        contains="fully qualified",
    )
    expect_error(
        "ResourceNotFoundException",
        idp.create_user_pool_domain,
        UserPoolId="us-east-1_NoSuchPoo",
        Domain=unique("e2e-dom"),
    )


def test_unknown_domain_cannot_be_updated_or_deleted(idp, pool):
    for call in (idp.update_user_pool_domain, idp.delete_user_pool_domain):
        expect_error(
            "InvalidParameterException",
            call,
            UserPoolId=pool["Id"],
            Domain=unique("e2e-nodomain"),
            message="No such domain or user pool exists.",
        )


def test_delete_user_pool_refused_while_a_domain_exists(idp, pool, domains):
    domain, _ = domains(pool["Id"])
    expect_error(
        "InvalidParameterException",
        idp.delete_user_pool,
        UserPoolId=pool["Id"],
        message="User pool cannot be deleted. It has a domain configured that should be deleted first.",
    )
    assert idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["Domain"] == domain


def test_hosted_domain_suffix_setting(server_factory):
    server = server_factory.start(name="suffix", env={"TESSERA_HOSTED_DOMAIN_SUFFIX": "login.example.test"})
    idp = server.client()
    pool_id = idp.create_user_pool(PoolName="suffix")["UserPool"]["Id"]
    out = idp.create_user_pool_domain(UserPoolId=pool_id, Domain="my-app")
    assert out["CloudFrontDomain"] == "my-app.login.example.test"
    assert describe_domain(idp, "my-app")["CloudFrontDistribution"] == "my-app.login.example.test"


# --------------------------------------------------------------------------
# resource servers

SCOPES = [
    {"ScopeName": "read", "ScopeDescription": "Read access"},
    {"ScopeName": "write", "ScopeDescription": "Write access"},
]


def test_resource_server_lifecycle(idp, pool):
    identifier = "https://api.example.com"
    created = idp.create_resource_server(UserPoolId=pool["Id"], Identifier=identifier, Name="api", Scopes=SCOPES)
    expected = {"UserPoolId": pool["Id"], "Identifier": identifier, "Name": "api", "Scopes": SCOPES}
    assert created["ResourceServer"] == expected
    assert idp.describe_resource_server(UserPoolId=pool["Id"], Identifier=identifier)["ResourceServer"] == expected

    # Update replaces the name and every scope.
    updated = idp.update_resource_server(
        UserPoolId=pool["Id"], Identifier=identifier, Name="api-v2", Scopes=SCOPES[:1]
    )["ResourceServer"]
    assert (updated["Name"], updated["Scopes"]) == ("api-v2", SCOPES[:1])
    updated = idp.update_resource_server(UserPoolId=pool["Id"], Identifier=identifier, Name="bare")["ResourceServer"]
    assert "Scopes" not in updated
    assert idp.describe_resource_server(UserPoolId=pool["Id"], Identifier=identifier)["ResourceServer"] == updated

    idp.delete_resource_server(UserPoolId=pool["Id"], Identifier=identifier)
    for call in (idp.describe_resource_server, idp.delete_resource_server):
        expect_error(
            "ResourceNotFoundException",
            call,
            UserPoolId=pool["Id"],
            Identifier=identifier,
            message=f"Resource server {identifier} does not exist.",
        )
    expect_error(
        "ResourceNotFoundException",
        idp.update_resource_server,
        UserPoolId=pool["Id"],
        Identifier=identifier,
        Name="x",
    )


def test_resource_server_errors(idp, pool):
    idp.create_resource_server(UserPoolId=pool["Id"], Identifier="urn:dup", Name="dup")
    expect_error(
        "InvalidParameterException",
        idp.create_resource_server,
        UserPoolId=pool["Id"],
        Identifier="urn:dup",
        Name="again",
        message=f"urn:dup already exists in user pool {pool['Id']}.",
    )
    expect_error(
        "InvalidParameterException",
        idp.create_resource_server,
        UserPoolId=pool["Id"],
        Identifier="urn:twice",
        Name="twice",
        Scopes=[SCOPES[0], SCOPES[0]],
        contains="Duplicate scope name read",
    )
    # A scope name may not contain '/', which separates it from the identifier.
    expect_error(
        "InvalidParameterException",
        idp.create_resource_server,
        UserPoolId=pool["Id"],
        Identifier="urn:slash",
        Name="slash",
        Scopes=[{"ScopeName": "a/b", "ScopeDescription": "d"}],
        contains="at 'scopes.1.member.scopeName'",
    )
    expect_error(
        "ResourceNotFoundException",
        idp.create_resource_server,
        UserPoolId="us-east-1_NoSuchPoo",
        Identifier="urn:x",
        Name="x",
    )
    expect_error("ResourceNotFoundException", idp.list_resource_servers, UserPoolId="us-east-1_NoSuchPoo", MaxResults=5)


def test_list_resource_servers_in_pages(idp, pool):
    identifiers = [f"urn:api:{i}" for i in range(5)]
    for identifier in reversed(identifiers):
        idp.create_resource_server(UserPoolId=pool["Id"], Identifier=identifier, Name="n", Scopes=SCOPES)
    first = idp.list_resource_servers(UserPoolId=pool["Id"], MaxResults=2)
    assert [s["Identifier"] for s in first["ResourceServers"]] == identifiers[:2]
    assert "NextToken" in first
    seen = []
    for page in idp.get_paginator("list_resource_servers").paginate(
        UserPoolId=pool["Id"], PaginationConfig={"PageSize": 2}
    ):
        assert len(page["ResourceServers"]) <= 2
        seen += [s["Identifier"] for s in page["ResourceServers"]]
    assert seen == identifiers
    everything = idp.list_resource_servers(UserPoolId=pool["Id"], MaxResults=50)
    assert "NextToken" not in everything
    assert everything["ResourceServers"][0]["Scopes"] == SCOPES
    expect_error(
        "InvalidParameterException",
        idp.list_resource_servers,
        UserPoolId=pool["Id"],
        MaxResults=5,
        NextToken="not-a-token",
    )


def test_client_with_a_custom_scope(idp, pool):
    idp.create_resource_server(UserPoolId=pool["Id"], Identifier="https://api.example.com", Name="api", Scopes=SCOPES)

    def create(scopes):
        return idp.create_user_pool_client(
            UserPoolId=pool["Id"],
            ClientName=unique("m2m"),
            GenerateSecret=True,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=["client_credentials"],
            AllowedOAuthScopes=scopes,
        )["UserPoolClient"]

    client = create(["https://api.example.com/read", "https://api.example.com/write"])
    assert client["AllowedOAuthScopes"] == ["https://api.example.com/read", "https://api.example.com/write"]
    described = idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client["ClientId"])["UserPoolClient"]
    assert described["AllowedOAuthScopes"] == client["AllowedOAuthScopes"]

    for unknown in ("https://api.example.com/delete", "https://other.example.com/read", "made-up"):
        expect_error(
            "ScopeDoesNotExistException", create, [unknown], message=f"Invalid scope requested: {unknown}"
        )
    expect_error(
        "ScopeDoesNotExistException",
        idp.update_user_pool_client,
        UserPoolId=pool["Id"],
        ClientId=client["ClientId"],
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["https://api.example.com/admin"],
    )
    # A code-flow client may mix standard and custom scopes.
    code_client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName=unique("web"),
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["code"],
        CallbackURLs=["https://app.example.com/callback"],
        AllowedOAuthScopes=["openid", "email", "https://api.example.com/read"],
    )["UserPoolClient"]
    assert "https://api.example.com/read" in code_client["AllowedOAuthScopes"]


# --------------------------------------------------------------------------
# UI customization

CSS = ".banner-customizable { background-color: #0b3d91; }\n.submitButton-customizable:hover { color: white; }"


def test_ui_customization_with_css_and_logo(idp, server, make_app, domains):
    app = make_app()
    domains(app.pool_id)
    image = png(4, 3)
    out = idp.set_ui_customization(UserPoolId=app.pool_id, CSS=CSS, ImageFile=image)["UICustomization"]
    assert out["UserPoolId"] == app.pool_id
    assert out["ClientId"] == "ALL"
    assert out["CSS"] == CSS
    assert VERSION_RE.match(out["CSSVersion"]), out
    assert out["ImageUrl"] == f"{server.url}/{app.pool_id}/ui/ALL/logo"
    assert out["CreationDate"] == out["LastModifiedDate"]

    logo = requests.get(out["ImageUrl"], timeout=HTTP_TIMEOUT)
    assert logo.status_code == 200
    assert logo.content == image
    assert logo.headers["Content-Type"] == "image/png"
    assert logo.headers["X-Content-Type-Options"] == "nosniff"
    css = requests.get(f"{server.url}/{app.pool_id}/ui/ALL/{out['CSSVersion']}.css", timeout=HTTP_TIMEOUT)
    assert css.status_code == 200
    assert css.text == CSS
    assert css.headers["Content-Type"].startswith("text/css")

    got = idp.get_ui_customization(UserPoolId=app.pool_id)["UICustomization"]
    assert (got["CSS"], got["ImageUrl"], got["CSSVersion"]) == (CSS, out["ImageUrl"], out["CSSVersion"])
    # A client without a setting of its own gets the pool's.
    fallback = idp.get_ui_customization(UserPoolId=app.pool_id, ClientId=app.client_id)["UICustomization"]
    assert fallback["CSS"] == CSS

    # A client's own setting (a JPEG logo, no CSS) stops the fallback.
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"
    own = idp.set_ui_customization(UserPoolId=app.pool_id, ClientId=app.client_id, ImageFile=jpeg)["UICustomization"]
    assert own["ClientId"] == app.client_id
    assert "CSS" not in own
    assert own["ImageUrl"] == f"{server.url}/{app.pool_id}/ui/{app.client_id}/logo"
    got = idp.get_ui_customization(UserPoolId=app.pool_id, ClientId=app.client_id)["UICustomization"]
    assert got["ClientId"] == app.client_id and "CSS" not in got
    logo = requests.get(own["ImageUrl"], timeout=HTTP_TIMEOUT)
    assert (logo.content, logo.headers["Content-Type"]) == (jpeg, "image/jpeg")

    # Deleting the client deletes its customization; the pool's stays.
    idp.delete_user_pool_client(UserPoolId=app.pool_id, ClientId=app.client_id)
    assert requests.get(own["ImageUrl"], timeout=HTTP_TIMEOUT).status_code == 404
    assert requests.get(out["ImageUrl"], timeout=HTTP_TIMEOUT).status_code == 200


def test_ui_customization_without_anything_set(idp, pool):
    out = idp.get_ui_customization(UserPoolId=pool["Id"])["UICustomization"]
    assert out == {"UserPoolId": pool["Id"], "ClientId": "ALL"}


def test_ui_customization_requires_a_domain(idp, pool):
    expect_error(
        "InvalidParameterException",
        idp.set_ui_customization,
        UserPoolId=pool["Id"],
        CSS=CSS,
        contains="there does not exist a valid user pool domain",
    )


@pytest.mark.parametrize(
    "css",
    [
        "@import url(https://evil.example/x.css);",
        "@media print { .banner-customizable { color: red } }",
        ".banner-customizable { background: url(https://evil.example/t.png) }",
        ".banner-customizable { width: expression(alert(1)) }",
        "</style><script>alert(1)</script>",
        "body { color: red }",
        ".banner-customizable { color: red",
    ],
)
def test_bad_css_is_refused(idp, make_app, domains, css):
    app = make_app()
    domains(app.pool_id)
    expect_error("InvalidParameterException", idp.set_ui_customization, UserPoolId=app.pool_id, CSS=css)
    assert "CSS" not in idp.get_ui_customization(UserPoolId=app.pool_id)["UICustomization"]


def test_bad_images_and_clients_are_refused(idp, make_app, domains):
    app = make_app()
    domains(app.pool_id)
    for image in (b"GIF89a\x01\x00\x01\x00", b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>'):
        expect_error(
            "InvalidParameterException",
            idp.set_ui_customization,
            UserPoolId=app.pool_id,
            ImageFile=image,
            message="The image file must be a PNG or JPEG image.",
        )
    too_large = png() + b"\0" * (101 * 1024)
    expect_error(
        "InvalidParameterException",
        idp.set_ui_customization,
        UserPoolId=app.pool_id,
        ImageFile=too_large,
        message="The image file is larger than 100 KB.",
    )
    for call in (idp.set_ui_customization, idp.get_ui_customization):
        expect_error("ResourceNotFoundException", call, UserPoolId=app.pool_id, ClientId="nosuchclient0000000000000")
    expect_error("ResourceNotFoundException", idp.get_ui_customization, UserPoolId="us-east-1_NoSuchPoo")
