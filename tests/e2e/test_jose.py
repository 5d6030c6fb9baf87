"""Python resource-server checks of tessera's tokens, and GetUser's refusals.

1. The classic backend check (as in countless FastAPI/Flask apps) with python-jose: fetch the
   pool's JWKS with requests, pick the key by the token's kid (`jwt.get_unverified_header`),
   `jose.jwt.decode(token, key, algorithms=["RS256"], audience=client_id, issuer=issuer)`.
2. The same with PyJWT (`jwt.PyJWKClient` + `jwt.decode`).
3. Both accept the ID and access tokens and refuse tampered, forged (re-signed with a key of
   our own under the pool's kid), other-pool, expired, wrong-audience, alg-none and HS256
   key-confusion tokens.
4. GetUser refuses tampered, forged, relabelled other-pool, alg-none and ID tokens with
   "Invalid Access Token", and revoked ones (GlobalSignOut, AdminUserGlobalSignOut,
   RevokeToken) with "Access Token has been revoked" — while offline verifiers still accept
   a revoked token until its exp, as with Amazon Cognito (wire facts 3.8).

Expiry without sleeping: both libraries read the clock through the `datetime` class they
import into their module (`jose.jwt.datetime`, `jwt.api_jwt.datetime`); the `fake_clock`
fixture replaces it with a subclass whose now() is moved to a chosen instant (e.g. a minute
past the token's exp). A negative leeway is not used: PyJWT checks iat against
`now + leeway` first, so a negative leeway fails with ImmatureSignatureError rather than
ExpiredSignatureError, which would not show the expiry check at all.

GetUser is not tested with an expired token here: tessera's clock cannot be moved from a test
and the shortest access-token validity is 5 minutes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json

import botocore.exceptions
import jose.exceptions
import jose.jwt
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from helpers import HTTP_TIMEOUT, PASSWORD, attribute_dict, attribute_list, unique

SCOPE = "aws.cognito.signin.user.admin"
INVALID_ACCESS = "Invalid Access Token"
REVOKED_ACCESS = "Access Token has been revoked"
FLOWS = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]


# --------------------------------------------------------------------------
# JWT surgery


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(token: str, i: int) -> dict:
    s = token.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))


def claims_of(token: str) -> dict:
    return part(token, 1)


def tamper(token: str, **changes) -> str:
    """The same header and signature around a changed payload."""
    header, _, signature = token.split(".")
    payload = b64url(json.dumps({**claims_of(token), **changes}, separators=(",", ":")).encode())
    return f"{header}.{payload}.{signature}"


FOREIGN_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def forge(token: str, **changes) -> str:
    """The claims (changed) re-signed RS256 with a key of our own, keeping tessera's kid."""
    kid = part(token, 0)["kid"]
    return jwt.encode({**claims_of(token), **changes}, FOREIGN_KEY, algorithm="RS256", headers={"kid": kid})


def alg_none(token: str) -> str:
    header = b64url(json.dumps({"kid": part(token, 0)["kid"], "alg": "none"}).encode())
    return f"{header}.{token.split('.')[1]}."


def hs256_with_public_key(token: str, jwks: dict) -> str:
    """Key confusion: HS256 with the pool's own public key (PEM) as the HMAC secret."""
    kid = part(token, 0)["kid"]
    jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
    pem = jwt.PyJWK(jwk).key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = b64url(json.dumps({"kid": kid, "alg": "HS256"}).encode())
    payload = token.split(".")[1]
    signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


# --------------------------------------------------------------------------
# the two verifiers, as a backend writes them


class UnknownKid(LookupError):
    """The token's kid is not among the pool's keys (the classic check's own refusal)."""


def jose_verify(token: str, issuer: str, client_id: str, token_use: str = "id") -> dict:
    """The classic python-jose backend check."""
    jwks = requests.get(f"{issuer}/.well-known/jwks.json", timeout=HTTP_TIMEOUT).json()
    kid = jose.jwt.get_unverified_header(token).get("kid")
    key = next((k for k in jwks["keys"] if k["kid"] == kid), None)
    if key is None:
        raise UnknownKid(kid)
    if token_use == "id":
        claims = jose.jwt.decode(token, key, algorithms=["RS256"], audience=client_id, issuer=issuer)
    else:
        # access tokens carry client_id, not aud
        claims = jose.jwt.decode(token, key, algorithms=["RS256"], issuer=issuer)
        if claims.get("client_id") != client_id:
            raise jose.exceptions.JWTClaimsError("Invalid client_id")
    # python-jose skips the audience check of a token without aud, so the token_use check is
    # what keeps an access token from passing as an ID token
    if claims.get("token_use") != token_use:
        raise jose.exceptions.JWTClaimsError("Invalid token_use")
    return claims


def pyjwt_verify(token: str, issuer: str, client_id: str, token_use: str = "id") -> dict:
    client = jwt.PyJWKClient(f"{issuer}/.well-known/jwks.json", cache_keys=False, timeout=HTTP_TIMEOUT)
    key = client.get_signing_key_from_jwt(token)
    if token_use == "id":
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=client_id,
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "sub", "aud"]},
        )
    else:
        claims = jwt.decode(
            token, key.key, algorithms=["RS256"], issuer=issuer, options={"require": ["exp", "iat", "iss", "sub"]}
        )
        if claims.get("client_id") != client_id:
            raise jwt.InvalidTokenError("Invalid client_id")
    if claims.get("token_use") != token_use:
        raise jwt.InvalidTokenError("Invalid token_use")
    return claims


VERIFIERS = {"jose": jose_verify, "pyjwt": pyjwt_verify}


@pytest.fixture
def fake_clock(monkeypatch):
    """fake_clock(epoch_seconds): python-jose and PyJWT see that instant as now."""

    def set_now(epoch: float) -> None:
        real = dt.datetime

        class FrozenDatetime(real):
            @classmethod
            def now(cls, tz=None):
                return real.fromtimestamp(epoch, tz)

        monkeypatch.setattr(jose.jwt, "datetime", FrozenDatetime)
        monkeypatch.setattr(jwt.api_jwt, "datetime", FrozenDatetime)

    return set_now


# --------------------------------------------------------------------------
# two pools on the shared server, built once per backend


class Pool:
    def __init__(self, server, idp, public):
        self.server = server
        self.idp = idp
        self.public = public
        self.pool_id = idp.create_user_pool(PoolName=unique("e2e-jose"))["UserPool"]["Id"]
        self.issuer = f"{server.url}/{self.pool_id}"
        self.client_id = self.new_client()
        self.other_client_id = self.new_client()  # another audience in the same pool
        self.username, self.tokens = self.signed_in_user()

    def new_client(self) -> str:
        return self.idp.create_user_pool_client(
            UserPoolId=self.pool_id, ClientName=unique("e2e-jose-client"), ExplicitAuthFlows=FLOWS
        )["UserPoolClient"]["ClientId"]

    def user(self) -> str:
        username = unique("jose-user")
        self.idp.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            MessageAction="SUPPRESS",
            UserAttributes=attribute_list({"email": f"{username}@example.com", "email_verified": "true"}),
        )
        self.idp.admin_set_user_password(UserPoolId=self.pool_id, Username=username, Password=PASSWORD, Permanent=True)
        return username

    def sign_in(self, username: str) -> dict:
        resp = self.public.initiate_auth(
            ClientId=self.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
        )
        assert "ChallengeName" not in resp, resp
        return resp["AuthenticationResult"]

    def signed_in_user(self) -> tuple[str, dict]:
        username = self.user()
        return username, self.sign_in(username)

    @property
    def jwks(self) -> dict:
        return requests.get(f"{self.issuer}/.well-known/jwks.json", timeout=HTTP_TIMEOUT).json()

    def delete(self) -> None:
        try:
            self.idp.delete_user_pool(UserPoolId=self.pool_id)
        except Exception:
            pass


@pytest.fixture(scope="module")
def pools(server):
    idp = server.client()
    public = server.unsigned_client()
    a = Pool(server, idp, public)
    b = Pool(server, idp, public)
    yield a, b
    a.delete()
    b.delete()


@pytest.fixture(scope="module")
def pool(pools) -> Pool:
    return pools[0]


@pytest.fixture(scope="module")
def other(pools) -> Pool:
    return pools[1]


def token_of(pool: Pool, kind: str) -> str:
    return pool.tokens["IdToken" if kind == "id" else "AccessToken"]


# --------------------------------------------------------------------------
# the verifiers accept tessera's tokens


def test_classic_jose_check_accepts_the_id_token(pool):
    token = pool.tokens["IdToken"]
    # step by step, exactly as the classic backend snippet does it
    jwks = requests.get(f"{pool.issuer}/.well-known/jwks.json", timeout=HTTP_TIMEOUT).json()
    header = jose.jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jose.jwt.decode(token, key, algorithms=["RS256"], audience=pool.client_id, issuer=pool.issuer)
    assert claims["token_use"] == "id"
    assert claims["aud"] == pool.client_id
    assert claims["iss"] == pool.issuer
    assert claims["cognito:username"] == pool.username
    assert claims["email"] == f"{pool.username}@example.com"
    assert claims["email_verified"] is True
    assert claims["exp"] > claims["iat"]


@pytest.mark.parametrize("lib", VERIFIERS)
@pytest.mark.parametrize("kind", ["id", "access"])
def test_verifiers_accept_the_tokens(pool, lib, kind):
    claims = VERIFIERS[lib](token_of(pool, kind), pool.issuer, pool.client_id, kind)
    assert claims["token_use"] == kind
    assert claims["iss"] == pool.issuer
    if kind == "id":
        assert claims["cognito:username"] == pool.username
    else:
        assert claims["username"] == pool.username
        assert claims["client_id"] == pool.client_id
        assert claims["scope"] == SCOPE
        assert "aud" not in claims


@pytest.mark.parametrize("lib", VERIFIERS)
@pytest.mark.parametrize("kind", ["id", "access"])
def test_verifiers_accept_the_other_pools_tokens_for_that_pool(other, lib, kind):
    claims = VERIFIERS[lib](token_of(other, kind), other.issuer, other.client_id, kind)
    assert claims["iss"] == other.issuer


@pytest.mark.parametrize("lib", VERIFIERS)
def test_each_kind_is_refused_in_place_of_the_other(pool, lib):
    refused = (jose.exceptions.JWTError, jwt.InvalidTokenError)
    with pytest.raises(refused):
        VERIFIERS[lib](pool.tokens["AccessToken"], pool.issuer, pool.client_id, "id")
    with pytest.raises(refused):
        VERIFIERS[lib](pool.tokens["IdToken"], pool.issuer, pool.client_id, "access")


# --------------------------------------------------------------------------
# the verifiers refuse bad tokens

# case -> (how to make the token, exception python-jose's check raises, exception PyJWT's raises)
BAD_TOKENS = {
    "tampered-username": (
        lambda t, pool, other: tamper(t, **{"cognito:username": "mallory", "username": "mallory"}),
        jose.exceptions.JWTError,
        jwt.InvalidSignatureError,
    ),
    "tampered-exp": (
        lambda t, pool, other: tamper(t, exp=claims_of(t)["exp"] + 86400),
        jose.exceptions.JWTError,
        jwt.InvalidSignatureError,
    ),
    "forged-with-pool-kid": (
        lambda t, pool, other: forge(t, sub="00000000-0000-0000-0000-000000000000"),
        jose.exceptions.JWTError,
        jwt.InvalidSignatureError,
    ),
    "other-pool": (
        lambda t, pool, other: token_of(other, "id" if claims_of(t)["token_use"] == "id" else "access"),
        UnknownKid,
        jwt.PyJWKClientError,
    ),
    "other-pool-relabelled": (
        lambda t, pool, other: tamper(
            token_of(other, claims_of(t)["token_use"]),
            iss=pool.issuer,
            **({"aud": pool.client_id} if claims_of(t)["token_use"] == "id" else {"client_id": pool.client_id}),
        ),
        UnknownKid,
        jwt.PyJWKClientError,
    ),
    "forged-other-issuer": (
        lambda t, pool, other: forge(t, iss=other.issuer),
        jose.exceptions.JWTError,
        jwt.InvalidSignatureError,
    ),
    "alg-none": (
        lambda t, pool, other: alg_none(t),
        jose.exceptions.JWTError,
        jwt.InvalidAlgorithmError,
    ),
    "hs256-public-key": (
        lambda t, pool, other: hs256_with_public_key(t, pool.jwks),
        jose.exceptions.JWTError,
        jwt.InvalidAlgorithmError,
    ),
}


@pytest.mark.parametrize("lib", VERIFIERS)
@pytest.mark.parametrize("kind", ["id", "access"])
@pytest.mark.parametrize("case", BAD_TOKENS)
def test_verifiers_refuse(pool, other, lib, kind, case):
    make, jose_error, pyjwt_error = BAD_TOKENS[case]
    bad = make(token_of(pool, kind), pool, other)
    expected = jose_error if lib == "jose" else pyjwt_error
    with pytest.raises(expected) as info:
        VERIFIERS[lib](bad, pool.issuer, pool.client_id, kind)
    if lib == "jose" and expected is jose.exceptions.JWTError and case.startswith(("tampered", "forged")):
        # a signature failure, not some other claim problem
        assert "Signature verification failed" in str(info.value), repr(info.value)


@pytest.mark.parametrize("lib", VERIFIERS)
def test_verifiers_refuse_a_wrong_audience(pool, lib):
    errors = {"jose": jose.exceptions.JWTClaimsError, "pyjwt": jwt.InvalidAudienceError}
    with pytest.raises(errors[lib]):
        VERIFIERS[lib](pool.tokens["IdToken"], pool.issuer, pool.other_client_id, "id")
    # access tokens: client_id is the audience
    with pytest.raises((jose.exceptions.JWTClaimsError, jwt.InvalidTokenError), match="client_id"):
        VERIFIERS[lib](pool.tokens["AccessToken"], pool.issuer, pool.other_client_id, "access")


@pytest.mark.parametrize("lib", VERIFIERS)
@pytest.mark.parametrize("kind", ["id", "access"])
def test_verifiers_refuse_an_expired_token(pool, lib, kind, fake_clock):
    token = token_of(pool, kind)
    claims = claims_of(token)
    verify = VERIFIERS[lib]
    # halfway through the validity: accepted
    fake_clock((claims["iat"] + claims["exp"]) / 2)
    assert verify(token, pool.issuer, pool.client_id, kind)["token_use"] == kind
    # a minute past exp: refused as expired
    fake_clock(claims["exp"] + 60)
    errors = {"jose": jose.exceptions.ExpiredSignatureError, "pyjwt": jwt.ExpiredSignatureError}
    with pytest.raises(errors[lib]):
        verify(token, pool.issuer, pool.client_id, kind)


# --------------------------------------------------------------------------
# GetUser


def get_user_error(public, token: str) -> dict:
    try:
        resp = public.get_user(AccessToken=token)
    except botocore.exceptions.ClientError as exc:
        return exc.response["Error"]
    raise AssertionError(f"GetUser accepted the token: {resp.get('Username')!r}")


def test_get_user_accepts_each_pools_own_tokens(pool, other):
    for p in (pool, other):
        resp = p.public.get_user(AccessToken=p.tokens["AccessToken"])
        assert resp["Username"] == p.username
        assert attribute_dict(resp["UserAttributes"])["email"] == f"{p.username}@example.com"


GET_USER_REFUSALS = {
    "tampered-username": lambda pool, other: tamper(pool.tokens["AccessToken"], username=other.username),
    "tampered-exp": lambda pool, other: tamper(
        pool.tokens["AccessToken"], exp=claims_of(pool.tokens["AccessToken"])["exp"] + 86400
    ),
    "tampered-scope": lambda pool, other: tamper(pool.tokens["AccessToken"], scope=f"{SCOPE} openid"),
    "id-token": lambda pool, other: pool.tokens["IdToken"],
    "forged-with-pool-kid": lambda pool, other: forge(pool.tokens["AccessToken"]),
    "forged-other-installation": lambda pool, other: forge(
        pool.tokens["AccessToken"], iss=f"http://tessera.evil.test/{pool.pool_id}"
    ),
    "other-pool-relabelled": lambda pool, other: tamper(
        other.tokens["AccessToken"], iss=pool.issuer, client_id=pool.client_id
    ),
    "other-pool-forged": lambda pool, other: forge(
        other.tokens["AccessToken"], iss=pool.issuer, client_id=pool.client_id, username=pool.username
    ),
    "alg-none": lambda pool, other: alg_none(pool.tokens["AccessToken"]),
    "hs256-public-key": lambda pool, other: hs256_with_public_key(pool.tokens["AccessToken"], pool.jwks),
}


@pytest.mark.parametrize("case", GET_USER_REFUSALS)
def test_get_user_refuses(pool, other, case):
    bad = GET_USER_REFUSALS[case](pool, other)
    err = get_user_error(pool.public, bad)
    assert (err["Code"], err.get("Message")) == ("NotAuthorizedException", INVALID_ACCESS), err
    # the genuine token still works
    assert pool.public.get_user(AccessToken=pool.tokens["AccessToken"])["Username"] == pool.username


def revoke_global(pool: Pool, username: str, tokens: dict) -> None:
    pool.public.global_sign_out(AccessToken=tokens["AccessToken"])


def revoke_admin_global(pool: Pool, username: str, tokens: dict) -> None:
    pool.idp.admin_user_global_sign_out(UserPoolId=pool.pool_id, Username=username)


def revoke_token(pool: Pool, username: str, tokens: dict) -> None:
    pool.public.revoke_token(Token=tokens["RefreshToken"], ClientId=pool.client_id)


REVOCATIONS = {
    "GlobalSignOut": revoke_global,
    "AdminUserGlobalSignOut": revoke_admin_global,
    "RevokeToken": revoke_token,
}


@pytest.mark.parametrize("how", REVOCATIONS)
def test_revoked_access_token_refused_by_get_user_but_not_by_offline_verifiers(pool, how):
    username, tokens = pool.signed_in_user()
    refreshed = pool.public.initiate_auth(
        ClientId=pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]}
    )["AuthenticationResult"]
    assert pool.public.get_user(AccessToken=tokens["AccessToken"])["Username"] == username

    REVOCATIONS[how](pool, username, tokens)

    for access in (tokens["AccessToken"], refreshed["AccessToken"]):
        err = get_user_error(pool.public, access)
        assert (err["Code"], err.get("Message")) == ("NotAuthorizedException", REVOKED_ACCESS), err
    # a JWT stays cryptographically valid until exp: offline verifiers cannot see revocation
    # (Amazon Cognito behaves the same; wire facts 3.8)
    for lib in VERIFIERS.values():
        assert lib(tokens["IdToken"], pool.issuer, pool.client_id, "id")["cognito:username"] == username
        assert lib(tokens["AccessToken"], pool.issuer, pool.client_id, "access")["username"] == username
    # the module's own user is untouched
    assert pool.public.get_user(AccessToken=pool.tokens["AccessToken"])["Username"] == pool.username
