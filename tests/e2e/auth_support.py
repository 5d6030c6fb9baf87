"""Shared helpers for the sign-in and token tests (test_auth_*.py).

Kept apart from conftest.py / helpers.py (which belong to the whole suite): the fixtures here
are imported by the test modules that use them (`from auth_support import auth_app, ...`).

Everything goes over HTTP to the real tessera binary through boto3, PyJWT or the AWS CLI.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys

import botocore.exceptions
import jwt
import pytest

from helpers import (
    HTTP_TIMEOUT,
    PASSWORD,
    REGION,
    UUID_RE,
    App,
    Store,
    attribute_dict,
    attribute_list,
    expect_error,
    secret_hash,
    unique,
)

SCOPE = "aws.cognito.signin.user.admin"
NEW_PASSWORD = "N3w-Passw0rd!"
TEMP_PASSWORD = "Temp0rary!pw"
WRONG_PASSWORD = "Wr0ng-Passw0rd!"

# a client that rotates refresh tokens (no grace period: the old one is refused at once)
ROTATION = {"RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": 0}}

# the flows these tests sign in with; Cognito's default (no ExplicitAuthFlows) enables neither
# USER_PASSWORD_AUTH nor ADMIN_USER_PASSWORD_AUTH
PASSWORD_FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

# the claim sets of an API (InitiateAuth) sign-in, wire facts 3.2 / 3.3
ID_BASE_CLAIMS = {
    "sub",
    "iss",
    "aud",
    "token_use",
    "cognito:username",
    "auth_time",
    "iat",
    "exp",
    "jti",
    "origin_jti",
    "event_id",
}
ACCESS_CLAIMS = {
    "sub",
    "iss",
    "client_id",
    "origin_jti",
    "event_id",
    "token_use",
    "scope",
    "auth_time",
    "exp",
    "iat",
    "jti",
    "username",
}

INCORRECT = "Incorrect username or password."
INVALID_ACCESS = "Invalid Access Token"
REVOKED_ACCESS = "Access Token has been revoked"
REVOKED_REFRESH = "Refresh Token has been revoked"
INVALID_REFRESH = "Invalid Refresh Token"
INVALID_SESSION = "Invalid session for the user."


# --------------------------------------------------------------------------
# errors


def call_error(fn, *args, **kwargs) -> dict:
    """Calls a boto3 method that must fail; returns {Code, Message} (no assertion on which)."""
    try:
        result = fn(*args, **kwargs)
    except botocore.exceptions.ClientError as exc:
        return exc.response["Error"]
    result = dict(result or {})
    result.pop("ResponseMetadata", None)
    raise AssertionError(f"expected an error, but the call succeeded: {result!r}")


# --------------------------------------------------------------------------
# JWTs


def b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jwt_header(token: str) -> dict:
    return b64url_json(token.split(".")[0])


def jwt_claims(token: str) -> dict:
    """The payload, unverified (for assertions after a real verification elsewhere)."""
    return b64url_json(token.split(".")[1])


def jwks_url(base_url: str, pool_id: str) -> str:
    return f"{base_url}/{pool_id}/.well-known/jwks.json"


def jwk_client(base_url: str, pool_id: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(jwks_url(base_url, pool_id), cache_keys=False, timeout=HTTP_TIMEOUT)


def verify_id_token(token: str, base_url: str, pool_id: str, client_id: str, issuer: str | None = None) -> dict:
    """What a resource server does: key by kid from the pool JWKS, RS256, aud and iss checked."""
    key = jwk_client(base_url, pool_id).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=client_id,
        issuer=issuer or f"{base_url}/{pool_id}",
        options={"require": ["exp", "iat", "sub", "iss", "aud"]},
    )
    assert claims["token_use"] == "id", claims
    return claims


def verify_access_token(token: str, base_url: str, pool_id: str, client_id: str, issuer: str | None = None) -> dict:
    """Access tokens have no aud: PyJWT without an audience refuses any token that has one."""
    key = jwk_client(base_url, pool_id).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        issuer=issuer or f"{base_url}/{pool_id}",
        options={"require": ["exp", "iat", "sub", "iss"]},
    )
    assert claims["token_use"] == "access", claims
    assert claims["client_id"] == client_id, claims
    return claims


def forge(token: str, **changes) -> str:
    """The same header and signature with a changed payload (signature no longer matches)."""
    header, _, signature = token.split(".")
    claims = jwt_claims(token)
    claims.update(changes)
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{signature}"


def unsigned_token(token: str) -> str:
    """alg none with the original claims."""
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = token.split(".")[1]
    return f"{header}.{payload}."


def is_uuid(value) -> bool:
    return isinstance(value, str) and bool(UUID_RE.match(value))


# --------------------------------------------------------------------------
# an App with sign-in shortcuts


class AuthApp(App):
    """helpers.App plus sign-in, refresh and token verification for its client."""

    @classmethod
    def of(cls, app: App) -> "AuthApp":
        return cls(app.server, app.idp, app.public, app.pool, app.client)

    @property
    def issuer(self) -> str:
        return f"{self.server.url}/{self.pool_id}"

    def hash_for(self, username: str) -> str:
        return secret_hash(self.client_secret, username, self.client_id)

    def auth_params(self, username: str, password: str | None = PASSWORD, with_hash: bool = True) -> dict:
        params = {"USERNAME": username}
        if password is not None:
            params["PASSWORD"] = password
        if with_hash and self.client_secret:
            params["SECRET_HASH"] = self.hash_for(username)
        return params

    # -- password flows ------------------------------------------------------

    def initiate(self, username: str, password: str = PASSWORD, **extra) -> dict:
        """InitiateAuth USER_PASSWORD_AUTH (public); the whole response."""
        params = self.auth_params(username, password)
        params.update(extra)
        return self.public.initiate_auth(
            ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters=params
        )

    def admin_initiate(self, username: str, password: str = PASSWORD, flow: str = "ADMIN_USER_PASSWORD_AUTH", **extra) -> dict:
        params = self.auth_params(username, password)
        params.update(extra)
        return self.idp.admin_initiate_auth(
            UserPoolId=self.pool_id, ClientId=self.client_id, AuthFlow=flow, AuthParameters=params
        )

    def sign_in(self, username: str, password: str = PASSWORD) -> dict:
        """USER_PASSWORD_AUTH that must succeed; returns the AuthenticationResult."""
        resp = self.initiate(username, password)
        assert "ChallengeName" not in resp, f"unexpected challenge: {resp}"
        return resp["AuthenticationResult"]

    # -- refresh -------------------------------------------------------------

    def refresh(self, refresh_token: str, username: str | None = None, flow: str = "REFRESH_TOKEN_AUTH", admin: bool = False) -> dict:
        """REFRESH_TOKEN_AUTH; `username` (internal) is needed for SECRET_HASH on secret clients."""
        params = {"REFRESH_TOKEN": refresh_token}
        if self.client_secret:
            assert username, "a secret client needs the internal username for SECRET_HASH"
            params["SECRET_HASH"] = self.hash_for(username)
        if admin:
            return self.idp.admin_initiate_auth(
                UserPoolId=self.pool_id, ClientId=self.client_id, AuthFlow=flow, AuthParameters=params
            )
        return self.public.initiate_auth(ClientId=self.client_id, AuthFlow=flow, AuthParameters=params)

    def get_tokens(self, refresh_token: str, **kwargs) -> dict:
        if self.client_secret:
            kwargs.setdefault("ClientSecret", self.client_secret)
        return self.public.get_tokens_from_refresh_token(
            ClientId=self.client_id, RefreshToken=refresh_token, **kwargs
        )

    def revoke(self, refresh_token: str, **kwargs) -> dict:
        if self.client_secret:
            kwargs.setdefault("ClientSecret", self.client_secret)
        return self.public.revoke_token(Token=refresh_token, ClientId=self.client_id, **kwargs)

    # -- tokens --------------------------------------------------------------

    def verify_id(self, token: str) -> dict:
        return verify_id_token(token, self.server.url, self.pool_id, self.client_id)

    def verify_access(self, token: str) -> dict:
        return verify_access_token(token, self.server.url, self.pool_id, self.client_id)

    def get_user(self, access_token: str) -> dict:
        return self.public.get_user(AccessToken=access_token)

    def user_attrs(self, access_token: str) -> dict:
        return attribute_dict(self.get_user(access_token)["UserAttributes"])

    # -- users ---------------------------------------------------------------

    def user(self, username: str | None = None, attributes: dict | None = None, password: str = PASSWORD) -> str:
        """A CONFIRMED user (SignUp + AdminConfirmSignUp) with an e-mail; returns the username."""
        username = username or unique("user")
        if attributes is None:
            attributes = {"email": f"{username}@example.com"}
        kwargs = {}
        if self.client_secret:
            kwargs["SecretHash"] = self.hash_for(username)
        self.public.sign_up(
            ClientId=self.client_id,
            Username=username,
            Password=password,
            UserAttributes=attribute_list(attributes),
            **kwargs,
        )
        self.idp.admin_confirm_sign_up(UserPoolId=self.pool_id, Username=username)
        return username

    def verified_user(self, username: str | None = None, attributes: dict | None = None) -> str:
        """A CONFIRMED user whose e-mail is verified."""
        username = self.user(username, attributes)
        self.idp.admin_update_user_attributes(
            UserPoolId=self.pool_id,
            Username=username,
            UserAttributes=[{"Name": "email_verified", "Value": "true"}],
        )
        return username

    def invited_user(self, username: str | None = None, attributes: dict | None = None, password: str = TEMP_PASSWORD) -> str:
        """AdminCreateUser with a temporary password (FORCE_CHANGE_PASSWORD)."""
        username = username or unique("invited")
        if attributes is None:
            attributes = {"email": f"{username}@example.com"}
        self.create_user(username, attributes, TemporaryPassword=password)
        return username


def client_settings(client: dict | None = None, secret: bool = False) -> dict:
    out = {"ExplicitAuthFlows": list(PASSWORD_FLOWS)}
    if secret:
        out["GenerateSecret"] = True
    out.update(client or {})
    return out


@pytest.fixture
def make_auth_app(make_app):
    """make_auth_app(client={...}, secret=False, **pool_kwargs) -> AuthApp whose client allows the
    password and refresh flows (unless `client` says otherwise)."""

    def make(client: dict | None = None, secret: bool = False, **pool_kwargs) -> AuthApp:
        return AuthApp.of(make_app(client=client_settings(client, secret), **pool_kwargs))

    return make


@pytest.fixture
def auth_app(make_auth_app) -> AuthApp:
    """A fresh pool (e-mail auto-verified) with a public client allowing the password flows."""
    return make_auth_app(AutoVerifiedAttributes=["email"])


def add_client(app: AuthApp, client: dict | None = None, secret: bool = False) -> AuthApp:
    """Another app client on the same pool."""
    c = app.idp.create_user_pool_client(
        UserPoolId=app.pool_id, ClientName=unique("e2e-client"), **client_settings(client, secret)
    )["UserPoolClient"]
    return AuthApp(app.server, app.idp, app.public, app.pool, c)


# --------------------------------------------------------------------------
# the operations authorised by an access token


def token_operations(app: AuthApp):
    """Every implemented operation that takes an AccessToken, as (name, call(token)); none of
    them may succeed with the tokens these tests pass."""
    return [
        ("GetUser", lambda t: app.public.get_user(AccessToken=t)),
        (
            "ChangePassword",
            lambda t: app.public.change_password(AccessToken=t, PreviousPassword=PASSWORD, ProposedPassword=NEW_PASSWORD),
        ),
        (
            "UpdateUserAttributes",
            lambda t: app.public.update_user_attributes(
                AccessToken=t, UserAttributes=[{"Name": "given_name", "Value": "Eve"}]
            ),
        ),
        ("DeleteUserAttributes", lambda t: app.public.delete_user_attributes(AccessToken=t, UserAttributeNames=["given_name"])),
        (
            "GetUserAttributeVerificationCode",
            lambda t: app.public.get_user_attribute_verification_code(AccessToken=t, AttributeName="email"),
        ),
        (
            "VerifyUserAttribute",
            lambda t: app.public.verify_user_attribute(AccessToken=t, AttributeName="email", Code="123456"),
        ),
        ("GlobalSignOut", lambda t: app.public.global_sign_out(AccessToken=t)),
        ("DeleteUser", lambda t: app.public.delete_user(AccessToken=t)),
    ]


def refused_everywhere(app: AuthApp, token: str, message: str) -> None:
    """Every token-authorised operation refuses `token` with NotAuthorizedException `message`
    (DeleteUser last: if it were accepted, the rest would be moot)."""
    failures = []
    for name, call in token_operations(app):
        try:
            expect_error("NotAuthorizedException", call, token, message=message)
        except AssertionError as exc:
            failures.append(f"{name}: {exc}")
    assert not failures, "\n".join(failures)


# --------------------------------------------------------------------------
# the AWS CLI


def aws_cli(url: str, args: list[str], tmp_path, sign: bool = False) -> subprocess.CompletedProcess:
    config = tmp_path / "aws-config"
    config.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_CONFIG_FILE=str(config),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
        AWS_MAX_ATTEMPTS="1",
    )
    cmd = [sys.executable, "-m", "awscli", "--endpoint-url", url, "--region", REGION, "--output", "json"]
    if not sign:
        cmd.append("--no-sign-request")
    cmd += ["cognito-idp", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)


# --------------------------------------------------------------------------
# two tessera nodes on one PostgreSQL database


CLUSTER_PUBLIC_URL = "http://tessera-cluster.test"


def cluster_env() -> dict[str, str]:
    return {
        "TESSERA_MASTER_KEY": secrets.token_hex(32),
        "TESSERA_ROOT_ACCESS_KEY_ID": "AKIA" + secrets.token_hex(8).upper(),
        "TESSERA_ROOT_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
    }


def start_cluster(factory, count: int = 2, public_url: str = CLUSTER_PUBLIC_URL) -> list:
    """`count` nodes (separate data dirs) on one fresh PostgreSQL database, with one master key,
    one root access key and one public URL (so the issuer is the same on every node, as behind
    a load balancer). `factory` is a conftest ServerFactory of the postgres backend."""
    assert factory.backend == "postgres"
    env = cluster_env()
    first = factory.new_store()
    nodes = [factory.start(first, name="node0", extra_args=["--public-url", public_url], env=env)]
    for i in range(1, count):
        data_dir = factory.tmp_path_factory.mktemp(f"tessera-node{i}")
        data_dir.rmdir()
        store = Store(first.backend, data_dir, first.database_url)
        nodes.append(factory.start(store, name=f"node{i}", extra_args=["--public-url", public_url], env=env))
    return nodes
