"""Identity pools (issue 14) with services upstream of tessera: an external STS and external
OpenID Connect providers.

moto (in-process, ThreadedMotoServer on a loopback port) stands in for AWS STS: tessera's
config names it in `[[identity.sts]]`, and roles that say `credentials = "aws"` get their
credentials from it, through an unsigned AssumeRoleWithWebIdentity with a token of tessera's
identity issuer. moto checks nothing about that token, so the tests check it themselves: with
PyJWT against tessera's published keys, and from the request a stub STS records.

The OpenID provider is a small issuer served by the test on 127.0.0.1 (discovery document and
JWKS over plain http, which tessera-verify accepts on loopback from the issuer's own origin),
signing RS256 tokens with PyJWT.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore
import jwt
import pytest
import requests
from botocore.config import Config
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.server import ThreadedMotoServer

from helpers import REGION, error_code, free_port, raw_post, unique

MOTO_ACCOUNT = "123456789012"
EXTERNAL_ROLE = f"arn:aws:iam::{MOTO_ACCOUNT}:role/External"
REFUSED_ROLE = f"arn:aws:iam::{MOTO_ACCOUNT}:role/Refused"
BUILTIN_ROLE = "arn:aws:iam::000000000000:role/Builtin"
PASSWORD = "Passw0rd!x-External"
SESSION_NAME = "CognitoIdentityCredentials"
OIDC_CLIENT = "oidc-client"

CLIENT_CONFIG = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30)
UNSIGNED = CLIENT_CONFIG.merge(Config(signature_version=botocore.UNSIGNED))


# --------------------------------------------------------------------------
# the services upstream of tessera


def start_moto() -> tuple[ThreadedMotoServer, str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


@pytest.fixture(scope="module")
def moto():
    server, url = start_moto()
    yield url
    server.stop()


class Stub(ThreadingHTTPServer):
    """A loopback HTTP server answering with `handle(method, path, body) -> (status, type, body)`
    and keeping every request it received."""

    daemon_threads = True

    def __init__(self, handle):
        self.handle = handle
        self.requests: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                self.server.requests.append(
                    {"method": method, "path": self.path, "headers": dict(self.headers), "body": body}
                )
                status, content_type, payload = self.server.handle(method, self.path, body)
                data = payload.encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


REFUSAL = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>AccessDenied</Code>
  <Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error>
  <RequestId>4f6e0c3a-0000-4000-8000-000000000000</RequestId>
</ErrorResponse>"""


@pytest.fixture(scope="module")
def refusing_sts():
    """An STS that refuses every role, as AWS does when the role's trust policy does not name
    the issuer; it keeps the requests, so the tests can read what tessera sent."""
    stub = Stub(lambda method, path, body: (403, "text/xml", REFUSAL))
    yield stub
    stub.stop()


class OidcIssuer:
    """An OpenID Connect issuer on loopback: discovery, JWKS, RS256 tokens."""

    KID = "test-key-1"

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update({"kid": self.KID, "alg": "RS256", "use": "sig"})
        self.jwks = json.dumps({"keys": [jwk]})
        self.stub = Stub(self._handle)
        self.issuer = self.stub.url
        self.name = self.issuer.removeprefix("http://")

    def _handle(self, method, path, body):
        if path == "/.well-known/openid-configuration":
            return 200, "application/json", json.dumps(
                {
                    "issuer": self.issuer,
                    "jwks_uri": f"{self.issuer}/jwks.json",
                    "response_types_supported": ["id_token"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }
            )
        if path == "/jwks.json":
            return 200, "application/json", self.jwks
        return 404, "text/plain", "not found"

    def token(self, sub: str = "oidc-user-1", key=None, **claims) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "sub": sub, "aud": OIDC_CLIENT, "iat": now, "exp": now + 600}
        body.update(claims)
        return jwt.encode(body, key or self.key, algorithm="RS256", headers={"kid": self.KID})

    def stop(self):
        self.stub.stop()


@pytest.fixture(scope="module")
def oidc():
    issuer = OidcIssuer()
    yield issuer
    issuer.stop()


def oidc_arn(name: str) -> str:
    return f"arn:aws:iam::{MOTO_ACCOUNT}:oidc-provider/{name}"


def config_file(path, sts: dict[str, str], roles: list[tuple[str, str]], providers=()) -> str:
    lines = []
    for name, endpoint in sts.items():
        lines += ["[[identity.sts]]", f'name = "{name}"', f'endpoint = "{endpoint}"', ""]
    for arn, source in roles:
        lines += ["[[identity.roles]]", f'arn = "{arn}"', f'credentials = "{source}"', ""]
    for issuer, client_ids in providers:
        name = issuer.removeprefix("http://")
        ids = ", ".join(f'"{c}"' for c in client_ids)
        lines += [
            "[[identity.openid_providers]]",
            f'arn = "{oidc_arn(name)}"',
            f'issuer = "{issuer}"',
            f"client_ids = [{ids}]",
            "",
        ]
    path.write_text("\n".join(lines))
    return str(path)


@pytest.fixture(scope="module")
def dead_issuer() -> str:
    """An issuer URL on which nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def tessera(module_factory, tmp_path_factory, moto, refusing_sts, oidc, dead_issuer):
    path = tmp_path_factory.mktemp("identity-config") / "tessera.toml"
    config = config_file(
        path,
        {"aws": moto, "refusing": refusing_sts.url},
        [(EXTERNAL_ROLE, "aws"), (REFUSED_ROLE, "refusing")],
        [(oidc.issuer, [OIDC_CLIENT]), (dead_issuer, [OIDC_CLIENT])],
    )
    return module_factory.start(name="identity-upstream", extra_args=["--config", config])


# --------------------------------------------------------------------------
# clients and a signed-in user


def identity_client(server, signed: bool = True):
    if signed:
        akid, secret = server.root_credentials()
        return boto3.client(
            "cognito-identity",
            region_name=REGION,
            endpoint_url=server.url,
            aws_access_key_id=akid,
            aws_secret_access_key=secret,
            config=CLIENT_CONFIG,
        )
    return boto3.client("cognito-identity", region_name=REGION, endpoint_url=server.url, config=UNSIGNED)


def sts_client(url: str, credentials: dict | None = None):
    if credentials is None:
        return boto3.client("sts", region_name=REGION, endpoint_url=url, config=UNSIGNED)
    return boto3.client(
        "sts",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials.get("SecretKey") or credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=CLIENT_CONFIG,
    )


class User:
    """A user of a fresh user pool, signed in: `provider` is the Logins key of its pool."""

    def __init__(self, server):
        idp = server.client()
        pool = idp.create_user_pool(PoolName=unique("ext-sts"))["UserPool"]
        self.client_id = idp.create_user_pool_client(
            UserPoolId=pool["Id"],
            ClientName=unique("ext-sts"),
            ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        idp.admin_create_user(UserPoolId=pool["Id"], Username="alice", MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool["Id"], Username="alice", Password=PASSWORD, Permanent=True)
        self.id_token = idp.admin_initiate_auth(
            UserPoolId=pool["Id"],
            ClientId=self.client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "alice", "PASSWORD": PASSWORD},
        )["AuthenticationResult"]["IdToken"]
        self.provider = f"cognito-idp.{REGION}.amazonaws.com/{pool['Id']}"

    @property
    def logins(self) -> dict:
        return {self.provider: self.id_token}


def identity_pool(ci, user: User | None = None, **kwargs) -> str:
    kwargs.setdefault("AllowUnauthenticatedIdentities", False)
    if user is not None:
        kwargs["CognitoIdentityProviders"] = [{"ProviderName": user.provider, "ClientId": user.client_id}]
    return ci.create_identity_pool(IdentityPoolName=unique("ext").replace("-", "_"), **kwargs)["IdentityPoolId"]


def verified_claims(server, token: str, pool_id: str) -> dict:
    """The claims of a token of tessera's identity issuer, checked the way an STS would."""
    issuer = f"{server.url}/identity"
    keys = jwt.PyJWKClient(f"{issuer}/.well-known/jwks_uri")
    return jwt.decode(
        token,
        keys.get_signing_key_from_jwt(token),
        algorithms=["RS256"],
        audience=pool_id,
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


def assert_moto_credentials(credentials: dict, moto_url: str, session_name: str) -> None:
    assert credentials["AccessKeyId"].startswith("ASIA"), credentials["AccessKeyId"]
    assert len(credentials["SecretKey"]) == 40
    assert credentials["SessionToken"].startswith("FQoGZXIvYXdzEBYaD")
    caller = sts_client(moto_url, credentials).get_caller_identity()
    assert caller["Account"] == MOTO_ACCOUNT
    assert caller["Arn"] == f"arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/External/{session_name}"


# --------------------------------------------------------------------------
# (a) the basic flow: the client takes tessera's token to the external STS itself


def test_basic_flow_token_is_accepted_by_the_external_sts(tessera, moto):
    ci, public = identity_client(tessera), identity_client(tessera, signed=False)
    user = User(tessera)
    pool_id = identity_pool(ci, user, AllowClassicFlow=True)

    identity_id = public.get_id(IdentityPoolId=pool_id, Logins=user.logins)["IdentityId"]
    answer = public.get_open_id_token(IdentityId=identity_id, Logins=user.logins)
    assert answer["IdentityId"] == identity_id
    token = answer["Token"]

    claims = verified_claims(tessera, token, pool_id)
    assert claims["iss"] == f"{tessera.url}/identity"
    assert claims["aud"] == pool_id
    assert claims["sub"] == identity_id
    assert "authenticated" in claims["amr"]
    assert user.provider in claims["amr"]
    assert 0 < claims["exp"] - claims["iat"] <= 600

    # The token goes to the external STS, not to tessera.
    assumed = sts_client(moto).assume_role_with_web_identity(
        RoleArn=EXTERNAL_ROLE, RoleSessionName="basic-flow", WebIdentityToken=token
    )
    credentials = assumed["Credentials"]
    assert assumed["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{MOTO_ACCOUNT}:assumed-role/External/basic-flow"
    credentials["SecretKey"] = credentials.pop("SecretAccessKey")
    assert_moto_credentials(credentials, moto, "basic-flow")


def test_basic_flow_token_is_refused_by_tessera_when_tampered(tessera):
    """The token's signature covers its claims: the issuer's keys refuse an edited token."""
    ci, public = identity_client(tessera), identity_client(tessera, signed=False)
    user = User(tessera)
    pool_id = identity_pool(ci, user, AllowClassicFlow=True)
    identity_id = public.get_id(IdentityPoolId=pool_id, Logins=user.logins)["IdentityId"]
    token = public.get_open_id_token(IdentityId=identity_id, Logins=user.logins)["Token"]
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["sub"] = f"{REGION}:00000000-0000-4000-8000-000000000000"
    forged = ".".join([header, jwt.utils.base64url_encode(json.dumps(claims).encode()).decode(), signature])
    with pytest.raises(jwt.InvalidSignatureError):
        verified_claims(tessera, forged, pool_id)


# --------------------------------------------------------------------------
# (b) the enhanced flow: tessera asks the external STS


def test_enhanced_flow_returns_the_external_sts_credentials(tessera, moto):
    ci, public = identity_client(tessera), identity_client(tessera, signed=False)
    user = User(tessera)
    pool_id = identity_pool(ci, user)
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": EXTERNAL_ROLE})
    identity_id = public.get_id(IdentityPoolId=pool_id, Logins=user.logins)["IdentityId"]

    before = time.time()
    answer = public.get_credentials_for_identity(IdentityId=identity_id, Logins=user.logins)
    assert answer["IdentityId"] == identity_id
    credentials = answer["Credentials"]
    assert_moto_credentials(credentials, moto, SESSION_NAME)
    # An hour, as Cognito's; moto sets Expiration to now + DurationSeconds.
    expires = credentials["Expiration"].timestamp()
    assert before + 3600 - 5 <= expires <= time.time() + 3600 + 5

    # On the wire: Cognito's member names and Expiration in epoch seconds.
    raw = raw_post(
        tessera.url,
        None,
        {"IdentityId": identity_id, "Logins": user.logins},
        headers={"X-Amz-Target": "AWSCognitoIdentityService.GetCredentialsForIdentity"},
    )
    assert raw.status_code == 200, raw.text
    wire = raw.json()["Credentials"]
    assert set(wire) == {"AccessKeyId", "SecretKey", "SessionToken", "Expiration"}
    assert isinstance(wire["Expiration"], (int, float)) and not isinstance(wire["Expiration"], bool)
    assert abs(wire["Expiration"] - (time.time() + 3600)) <= 10
    assert wire["AccessKeyId"].startswith("ASIA")
    # moto mints new credentials per call.
    assert wire["AccessKeyId"] != credentials["AccessKeyId"]


def test_enhanced_flow_sends_the_sts_a_token_of_tessera(tessera, refusing_sts):
    """What tessera sends the STS, read by a stub STS that refuses: an unsigned form POST with
    the role, Cognito's session name, an hour, and a token of tessera's issuer for the identity.
    The refusal is Cognito's configuration error."""
    ci, public = identity_client(tessera), identity_client(tessera, signed=False)
    user = User(tessera)
    pool_id = identity_pool(ci, user)
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": REFUSED_ROLE})
    identity_id = public.get_id(IdentityPoolId=pool_id, Logins=user.logins)["IdentityId"]
    seen = len(refusing_sts.requests)

    with pytest.raises(botocore.exceptions.ClientError) as refused:
        public.get_credentials_for_identity(IdentityId=identity_id, Logins=user.logins)
    assert error_code(refused.value) == "InvalidIdentityPoolConfigurationException"
    assert refused.value.response["Error"]["Message"] == (
        "Invalid identity pool configuration. Check assigned IAM roles for this pool."
    )

    [request] = refusing_sts.requests[seen:]
    assert request["method"] == "POST" and request["path"] == "/"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert "authorization" not in headers
    form = dict(urllib.parse.parse_qsl(request["body"], strict_parsing=True))
    assert set(form) == {"Action", "Version", "RoleArn", "RoleSessionName", "WebIdentityToken", "DurationSeconds"}
    assert form["Action"] == "AssumeRoleWithWebIdentity"
    assert form["Version"] == "2011-06-15"
    assert form["RoleArn"] == REFUSED_ROLE
    assert form["RoleSessionName"] == SESSION_NAME
    assert form["DurationSeconds"] == "3600"
    claims = verified_claims(tessera, form["WebIdentityToken"], pool_id)
    assert claims["sub"] == identity_id
    assert "authenticated" in claims["amr"]
    # The token is not in tessera's log.
    assert form["WebIdentityToken"] not in tessera.output


# --------------------------------------------------------------------------
# (c) the external STS unreachable


def test_unreachable_sts_is_an_external_service_error(server_factory, tmp_path):
    moto, moto_url = start_moto()
    try:
        config = config_file(
            tmp_path / "tessera.toml", {"aws": moto_url}, [(EXTERNAL_ROLE, "aws"), (BUILTIN_ROLE, "builtin")]
        )
        tessera = server_factory.start(name="identity-sts-down", extra_args=["--config", config])
        ci, public = identity_client(tessera), identity_client(tessera, signed=False)
        user = User(tessera)
        external = identity_pool(ci, user, AllowClassicFlow=True)
        ci.set_identity_pool_roles(IdentityPoolId=external, Roles={"authenticated": EXTERNAL_ROLE})
        builtin = identity_pool(ci, user)
        ci.set_identity_pool_roles(IdentityPoolId=builtin, Roles={"authenticated": BUILTIN_ROLE})
        identity_id = public.get_id(IdentityPoolId=external, Logins=user.logins)["IdentityId"]

        # While moto is up, the role's credentials come from it.
        answer = public.get_credentials_for_identity(IdentityId=identity_id, Logins=user.logins)
        assert_moto_credentials(answer["Credentials"], moto_url, SESSION_NAME)
    finally:
        moto.stop()

    with pytest.raises(botocore.exceptions.ClientError) as down:
        public.get_credentials_for_identity(IdentityId=identity_id, Logins=user.logins)
    assert error_code(down.value) == "ExternalServiceException"
    assert down.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    # Nothing else depends on it: identities, tessera's own tokens and the built-in STS.
    assert public.get_id(IdentityPoolId=external, Logins=user.logins)["IdentityId"] == identity_id
    token = public.get_open_id_token(IdentityId=identity_id, Logins=user.logins)["Token"]
    assert verified_claims(tessera, token, external)["sub"] == identity_id
    other = public.get_id(IdentityPoolId=builtin, Logins=user.logins)["IdentityId"]
    credentials = public.get_credentials_for_identity(IdentityId=other, Logins=user.logins)["Credentials"]
    caller = sts_client(tessera.url, credentials).get_caller_identity()
    assert caller["Arn"].startswith("arn:aws:sts::000000000000:assumed-role/Builtin/")
    assert tessera.alive()


# --------------------------------------------------------------------------
# an external OpenID Connect provider


def oidc_pool(ci, *names: str) -> str:
    pool_id = identity_pool(ci, OpenIdConnectProviderARNs=[oidc_arn(n) for n in names])
    ci.set_identity_pool_roles(IdentityPoolId=pool_id, Roles={"authenticated": BUILTIN_ROLE})
    return pool_id


def test_openid_provider_token_gets_credentials(tessera, oidc):
    ci, public = identity_client(tessera), identity_client(tessera, signed=False)
    pool_id = oidc_pool(ci, oidc.name)
    logins = {oidc.name: oidc.token(sub="oidc-alice")}

    identity_id = public.get_id(IdentityPoolId=pool_id, Logins=logins)["IdentityId"]
    # The same subject is the same identity, with a fresh token.
    again = public.get_id(IdentityPoolId=pool_id, Logins={oidc.name: oidc.token(sub="oidc-alice")})
    assert again["IdentityId"] == identity_id
    other = public.get_id(IdentityPoolId=pool_id, Logins={oidc.name: oidc.token(sub="oidc-bob")})
    assert other["IdentityId"] != identity_id

    answer = public.get_credentials_for_identity(IdentityId=identity_id, Logins=logins)
    assert answer["IdentityId"] == identity_id
    caller = sts_client(tessera.url, answer["Credentials"]).get_caller_identity()
    assert caller["Arn"].startswith("arn:aws:sts::000000000000:assumed-role/Builtin/")

    described = ci.describe_identity(IdentityId=identity_id)
    assert described["Logins"] == [oidc.name]
    # tessera read the issuer's discovery document and keys.
    paths = {r["path"] for r in oidc.stub.requests}
    assert {"/.well-known/openid-configuration", "/jwks.json"} <= paths


@pytest.mark.parametrize(
    "case",
    ["wrong signature", "expired", "wrong audience", "wrong issuer", "not a token"],
)
def test_openid_provider_refuses_bad_tokens(tessera, oidc, case):
    ci, public = identity_client(tessera), identity_client(tessera, signed=False)
    pool_id = oidc_pool(ci, oidc.name)
    good = {oidc.name: oidc.token(sub="oidc-carol")}
    identity_id = public.get_id(IdentityPoolId=pool_id, Logins=good)["IdentityId"]

    if case == "wrong signature":
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token, message = oidc.token(sub="oidc-carol", key=stranger), "Couldn't verify signed token."
    elif case == "expired":
        now = int(time.time())
        token, message = oidc.token(sub="oidc-carol", iat=now - 7200, exp=now - 3600), "Token expired"
    elif case == "wrong audience":
        token, message = oidc.token(sub="oidc-carol", aud="someone-else"), "Incorrect token audience."
    elif case == "wrong issuer":
        token, message = oidc.token(sub="oidc-carol", iss="http://127.0.0.1:1"), "Issuer doesn't match providerName"
    else:
        token, message = "not-a-jwt", "Not a valid OpenId Connect identity token."

    for call in (
        lambda: public.get_id(IdentityPoolId=pool_id, Logins={oidc.name: token}),
        lambda: public.get_credentials_for_identity(IdentityId=identity_id, Logins={oidc.name: token}),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            call()
        assert error_code(refused.value) == "NotAuthorizedException"
        text = refused.value.response["Error"]["Message"]
        assert text.startswith("Invalid login token. ") and message in text, text

    # The good token still works.
    public.get_credentials_for_identity(IdentityId=identity_id, Logins=good)


def test_unreachable_openid_provider_is_an_external_service_error(tessera, oidc, dead_issuer):
    ci, public = identity_client(tessera), identity_client(tessera, signed=False)
    name = dead_issuer.removeprefix("http://")
    pool_id = oidc_pool(ci, name)
    now = int(time.time())
    # Well formed and signed, but its issuer's keys cannot be fetched.
    token = jwt.encode(
        {"iss": dead_issuer, "sub": "x", "aud": "a", "iat": now, "exp": now + 600},
        oidc.key,
        algorithm="RS256",
        headers={"kid": oidc.KID},
    )
    with pytest.raises(botocore.exceptions.ClientError) as down:
        public.get_id(IdentityPoolId=pool_id, Logins={name: token})
    assert error_code(down.value) == "ExternalServiceException"
