"""The ID and access tokens: RS256 under the pool JWKS (verified with PyJWT, as a resource server
does), Cognito's claim sets, groups and roles, attributes, per-client validities (wire facts 3.1-3.6)."""

from __future__ import annotations

import time

import jwt
import pytest
import requests

from auth_support import (  # noqa: F401  (fixtures)
    ACCESS_CLAIMS,
    ID_BASE_CLAIMS,
    SCOPE,
    add_client,
    auth_app,
    is_uuid,
    jwk_client,
    jwks_url,
    jwt_claims,
    jwt_header,
    make_auth_app,
    verify_id_token,
)
from helpers import HTTP_TIMEOUT, unique


def sign_in(app, username):
    resp = app.initiate(username)
    return resp, resp["AuthenticationResult"]


# --------------------------------------------------------------------------
# signature and keys


def test_tokens_verify_with_pyjwt(auth_app):
    user = auth_app.user()
    _, tokens = sign_in(auth_app, user)
    id_claims = auth_app.verify_id(tokens["IdToken"])
    access = auth_app.verify_access(tokens["AccessToken"])
    assert id_claims["aud"] == auth_app.client_id
    assert id_claims["iss"] == access["iss"] == auth_app.issuer
    assert id_claims["sub"] == access["sub"]


def test_header_is_kid_and_alg_only(auth_app):
    user = auth_app.user()
    _, tokens = sign_in(auth_app, user)
    for name in ("IdToken", "AccessToken"):
        header = jwt_header(tokens[name])
        assert list(header) == ["kid", "alg"], f"{name} header {header}"
        assert header["alg"] == "RS256"


def test_id_and_access_tokens_use_different_keys_of_the_jwks(auth_app):
    user = auth_app.user()
    _, tokens = sign_in(auth_app, user)
    id_kid = jwt_header(tokens["IdToken"])["kid"]
    access_kid = jwt_header(tokens["AccessToken"])["kid"]
    assert id_kid != access_kid
    doc = requests.get(jwks_url(auth_app.server.url, auth_app.pool_id), timeout=HTTP_TIMEOUT).json()
    kids = {k["kid"] for k in doc["keys"]}
    assert {id_kid, access_kid} <= kids, (id_kid, access_kid, kids)
    # each token verifies under its own key only
    client = jwk_client(auth_app.server.url, auth_app.pool_id)
    id_key = client.get_signing_key(id_kid).key
    access_key = client.get_signing_key(access_kid).key
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tokens["IdToken"], access_key, algorithms=["RS256"], options={"verify_aud": False})
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tokens["AccessToken"], id_key, algorithms=["RS256"])


def test_token_does_not_verify_under_another_pools_jwks(make_auth_app):
    a = make_auth_app()
    b = make_auth_app()
    user = a.user()
    _, tokens = sign_in(a, user)
    with pytest.raises(jwt.PyJWKClientError):
        jwk_client(b.server.url, b.pool_id).get_signing_key_from_jwt(tokens["IdToken"])
    with pytest.raises(jwt.PyJWKClientError):
        verify_id_token(tokens["IdToken"], b.server.url, b.pool_id, a.client_id)


def test_tampered_token_fails_verification(auth_app):
    from auth_support import forge

    user = auth_app.user()
    _, tokens = sign_in(auth_app, user)
    with pytest.raises(jwt.InvalidSignatureError):
        auth_app.verify_id(forge(tokens["IdToken"], email="mallory@example.com"))
    with pytest.raises(jwt.InvalidSignatureError):
        auth_app.verify_access(forge(tokens["AccessToken"], username="admin"))


def test_pyjwt_refuses_wrong_audience_and_issuer(auth_app):
    user = auth_app.user()
    _, tokens = sign_in(auth_app, user)
    key = jwk_client(auth_app.server.url, auth_app.pool_id).get_signing_key_from_jwt(tokens["IdToken"]).key
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(tokens["IdToken"], key, algorithms=["RS256"], audience="someone-else", issuer=auth_app.issuer)
    with pytest.raises(jwt.InvalidIssuerError):
        jwt.decode(
            tokens["IdToken"],
            key,
            algorithms=["RS256"],
            audience=auth_app.client_id,
            issuer=f"https://cognito-idp.us-east-1.amazonaws.com/{auth_app.pool_id}",
        )


# --------------------------------------------------------------------------
# claim sets


def test_id_token_claims(auth_app):
    user = unique("claims")
    email = f"{user}@example.com"
    out = auth_app.sign_up(user, attributes={"email": email})
    auth_app.idp.admin_confirm_sign_up(UserPoolId=auth_app.pool_id, Username=user)
    auth_app.idp.admin_update_user_attributes(
        UserPoolId=auth_app.pool_id, Username=user, UserAttributes=[{"Name": "email_verified", "Value": "true"}]
    )
    before = int(time.time())
    resp, tokens = sign_in(auth_app, user)
    claims = auth_app.verify_id(tokens["IdToken"])
    assert set(claims) == ID_BASE_CLAIMS | {"email", "email_verified"}, sorted(claims)
    assert claims["sub"] == out["UserSub"]
    assert claims["cognito:username"] == user
    assert claims["email"] == email
    assert claims["email_verified"] is True
    assert claims["token_use"] == "id"
    assert claims["aud"] == auth_app.client_id and isinstance(claims["aud"], str)
    assert claims["iss"] == auth_app.issuer
    for name in ("auth_time", "iat", "exp"):
        assert type(claims[name]) is int, (name, claims[name])
    assert abs(claims["auth_time"] - before) < 60
    assert claims["auth_time"] <= claims["iat"] < claims["auth_time"] + 5
    assert claims["exp"] - claims["iat"] == 3600
    for name in ("jti", "origin_jti", "event_id"):
        assert is_uuid(claims[name]), (name, claims[name])
    assert claims["event_id"] == resp["ResponseMetadata"]["RequestId"]


def test_access_token_claims(auth_app):
    user = auth_app.user()
    resp, tokens = sign_in(auth_app, user)
    claims = auth_app.verify_access(tokens["AccessToken"])
    assert set(claims) == ACCESS_CLAIMS, sorted(claims)
    assert "aud" not in claims and "cognito:username" not in claims
    assert claims["token_use"] == "access"
    assert claims["scope"] == SCOPE
    assert claims["client_id"] == auth_app.client_id
    assert claims["username"] == user
    assert claims["iss"] == auth_app.issuer
    assert claims["sub"] == auth_app.attrs(user)["sub"]
    for name in ("auth_time", "iat", "exp"):
        assert type(claims[name]) is int
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["event_id"] == resp["ResponseMetadata"]["RequestId"]


def test_id_and_access_token_of_one_sign_in_share_origin_jti(auth_app):
    user = auth_app.user()
    _, tokens = sign_in(auth_app, user)
    id_claims = jwt_claims(tokens["IdToken"])
    access = jwt_claims(tokens["AccessToken"])
    assert id_claims["origin_jti"] == access["origin_jti"]
    assert id_claims["event_id"] == access["event_id"]
    assert id_claims["auth_time"] == access["auth_time"]
    assert id_claims["jti"] != access["jti"]
    # a second sign-in is a new session
    _, again = sign_in(auth_app, user)
    assert jwt_claims(again["AccessToken"])["origin_jti"] != access["origin_jti"]
    assert jwt_claims(again["AccessToken"])["jti"] != access["jti"]


def test_email_verified_is_a_json_boolean(auth_app):
    user = auth_app.verified_user()
    _, tokens = sign_in(auth_app, user)
    assert auth_app.verify_id(tokens["IdToken"])["email_verified"] is True
    auth_app.idp.admin_update_user_attributes(
        UserPoolId=auth_app.pool_id, Username=user, UserAttributes=[{"Name": "email_verified", "Value": "false"}]
    )
    _, tokens = sign_in(auth_app, user)
    assert auth_app.verify_id(tokens["IdToken"])["email_verified"] is False


def test_unverified_email_is_never_claimed_verified(auth_app):
    user = auth_app.user()  # AdminConfirmSignUp does not verify the e-mail
    _, tokens = sign_in(auth_app, user)
    claims = auth_app.verify_id(tokens["IdToken"])
    assert claims.get("email_verified", False) is False, claims
    # the token says what the user record says
    assert ("email_verified" in claims) == ("email_verified" in auth_app.attrs(user))


def test_phone_number_verified_is_a_json_boolean(auth_app):
    user = unique("phone")
    auth_app.user(user, {"email": f"{user}@example.com", "phone_number": "+15555550123"})
    auth_app.idp.admin_update_user_attributes(
        UserPoolId=auth_app.pool_id,
        Username=user,
        UserAttributes=[{"Name": "phone_number_verified", "Value": "true"}],
    )
    _, tokens = sign_in(auth_app, user)
    claims = auth_app.verify_id(tokens["IdToken"])
    assert claims["phone_number"] == "+15555550123"
    assert claims["phone_number_verified"] is True


def test_standard_and_custom_attributes_in_the_id_token(make_auth_app):
    app = make_auth_app(
        Schema=[
            {"Name": "tier", "AttributeDataType": "String", "Mutable": True},
            {
                "Name": "level",
                "AttributeDataType": "Number",
                "Mutable": True,
                "NumberAttributeConstraints": {"MinValue": "0", "MaxValue": "100"},
            },
        ]
    )
    user = unique("custom")
    app.user(
        user,
        {
            "email": f"{user}@example.com",
            "given_name": "Ada",
            "custom:tier": "gold",
            "custom:level": "42",
        },
    )
    _, tokens = sign_in(app, user)
    claims = app.verify_id(tokens["IdToken"])
    assert claims["given_name"] == "Ada"
    assert claims["custom:tier"] == "gold"
    assert claims["custom:level"] == "42"  # a string, whatever the declared type
    access = app.verify_access(tokens["AccessToken"])
    assert set(access) == ACCESS_CLAIMS, "attributes do not belong in the access token"


def test_client_read_attributes_limit_the_id_token(make_auth_app):
    app = make_auth_app(
        Schema=[{"Name": "tier", "AttributeDataType": "String", "Mutable": True}],
    )
    reader = add_client(app, {"ReadAttributes": ["given_name", "custom:tier"]})
    user = unique("reader")
    app.user(user, {"email": f"{user}@example.com", "given_name": "Ada", "family_name": "L", "custom:tier": "gold"})
    _, tokens = sign_in(reader, user)
    claims = reader.verify_id(tokens["IdToken"])
    assert claims["given_name"] == "Ada"
    assert claims["custom:tier"] == "gold"
    assert "email" not in claims and "family_name" not in claims, sorted(claims)
    # the identity claims are always there
    assert claims["sub"] and claims["cognito:username"] == user
    # the unrestricted client sees everything
    _, full = sign_in(app, user)
    assert {"email", "family_name", "given_name", "custom:tier"} <= set(app.verify_id(full["IdToken"]))


def test_email_as_username_token_names(make_auth_app):
    app = make_auth_app(UsernameAttributes=["email"])
    email = f"{unique('u')}@example.com"
    out = app.sign_up(email, attributes={"email": email})
    app.idp.admin_confirm_sign_up(UserPoolId=app.pool_id, Username=email)
    _, tokens = sign_in(app, email)
    id_claims = app.verify_id(tokens["IdToken"])
    access = app.verify_access(tokens["AccessToken"])
    assert id_claims["sub"] == out["UserSub"]
    assert is_uuid(id_claims["cognito:username"])
    assert access["username"] == id_claims["cognito:username"]
    assert id_claims["email"] == email


# --------------------------------------------------------------------------
# groups and roles


def make_group(app, name, precedence=None, role=None):
    kwargs = {"GroupName": name, "UserPoolId": app.pool_id}
    if precedence is not None:
        kwargs["Precedence"] = precedence
    if role is not None:
        kwargs["RoleArn"] = role
    app.idp.create_group(**kwargs)


def join(app, user, *groups):
    for g in groups:
        app.idp.admin_add_user_to_group(UserPoolId=app.pool_id, Username=user, GroupName=g)


ROLE_A = "arn:aws:iam::000000000000:role/role-a"
ROLE_B = "arn:aws:iam::000000000000:role/role-b"


def test_no_group_claims_without_groups(auth_app):
    user = auth_app.user()
    _, tokens = sign_in(auth_app, user)
    for token in (tokens["IdToken"], tokens["AccessToken"]):
        claims = jwt_claims(token)
        for name in ("cognito:groups", "cognito:roles", "cognito:preferred_role"):
            assert name not in claims, (name, claims)


def test_groups_roles_and_preferred_role(auth_app):
    make_group(auth_app, "editors", precedence=2, role=ROLE_B)
    make_group(auth_app, "admins", precedence=1, role=ROLE_A)
    make_group(auth_app, "readers", precedence=0)  # lowest precedence, but no role
    user = auth_app.user()
    join(auth_app, user, "editors", "admins", "readers")
    _, tokens = sign_in(auth_app, user)
    claims = auth_app.verify_id(tokens["IdToken"])
    assert isinstance(claims["cognito:groups"], list)
    assert set(claims["cognito:groups"]) == {"editors", "admins", "readers"}
    assert isinstance(claims["cognito:roles"], list)
    assert set(claims["cognito:roles"]) == {ROLE_A, ROLE_B}
    assert claims["cognito:preferred_role"] == ROLE_A
    access = auth_app.verify_access(tokens["AccessToken"])
    assert set(access["cognito:groups"]) == {"editors", "admins", "readers"}
    assert "cognito:roles" not in access and "cognito:preferred_role" not in access


def test_tied_precedence_has_no_preferred_role(auth_app):
    make_group(auth_app, "one", precedence=5, role=ROLE_A)
    make_group(auth_app, "two", precedence=5, role=ROLE_B)
    user = auth_app.user()
    join(auth_app, user, "one", "two")
    _, tokens = sign_in(auth_app, user)
    claims = auth_app.verify_id(tokens["IdToken"])
    assert set(claims["cognito:roles"]) == {ROLE_A, ROLE_B}
    assert "cognito:preferred_role" not in claims, claims


def test_groups_without_roles(auth_app):
    make_group(auth_app, "plain")
    user = auth_app.user()
    join(auth_app, user, "plain")
    _, tokens = sign_in(auth_app, user)
    claims = auth_app.verify_id(tokens["IdToken"])
    assert claims["cognito:groups"] == ["plain"]
    assert "cognito:roles" not in claims and "cognito:preferred_role" not in claims


def test_group_change_shows_in_the_next_tokens(auth_app):
    make_group(auth_app, "late")
    user = auth_app.user()
    _, first = sign_in(auth_app, user)
    assert "cognito:groups" not in jwt_claims(first["IdToken"])
    join(auth_app, user, "late")
    # a refresh re-reads the groups
    refreshed = auth_app.refresh(first["RefreshToken"])["AuthenticationResult"]
    assert auth_app.verify_id(refreshed["IdToken"])["cognito:groups"] == ["late"]
    assert auth_app.verify_access(refreshed["AccessToken"])["cognito:groups"] == ["late"]


# --------------------------------------------------------------------------
# validities


@pytest.mark.parametrize(
    "settings, access_seconds, id_seconds",
    [
        (
            {
                "AccessTokenValidity": 5,
                "IdTokenValidity": 10,
                "TokenValidityUnits": {"AccessToken": "minutes", "IdToken": "minutes"},
            },
            300,
            600,
        ),
        ({"AccessTokenValidity": 2, "IdTokenValidity": 3}, 7200, 10800),  # default unit: hours
        (
            {
                "AccessTokenValidity": 1,
                "IdTokenValidity": 86400,
                "TokenValidityUnits": {"AccessToken": "days", "IdToken": "seconds"},
            },
            86400,
            86400,
        ),
    ],
    ids=["minutes", "hours-default-unit", "days-and-seconds"],
)
def test_token_validity(make_auth_app, settings, access_seconds, id_seconds):
    app = make_auth_app(client=settings)
    user = app.user()
    _, tokens = sign_in(app, user)
    assert tokens["ExpiresIn"] == access_seconds
    access = app.verify_access(tokens["AccessToken"])
    claims = app.verify_id(tokens["IdToken"])
    assert access["exp"] - access["iat"] == access_seconds
    assert claims["exp"] - claims["iat"] == id_seconds
    # refreshes use the same validities
    refreshed = app.refresh(tokens["RefreshToken"])["AuthenticationResult"]
    assert refreshed["ExpiresIn"] == access_seconds
    r_access = jwt_claims(refreshed["AccessToken"])
    r_id = jwt_claims(refreshed["IdToken"])
    assert r_access["exp"] - r_access["iat"] == access_seconds
    assert r_id["exp"] - r_id["iat"] == id_seconds


def test_validity_change_applies_to_the_next_sign_in(auth_app):
    user = auth_app.user()
    assert sign_in(auth_app, user)[1]["ExpiresIn"] == 3600
    auth_app.idp.update_user_pool_client(
        UserPoolId=auth_app.pool_id,
        ClientId=auth_app.client_id,
        ExplicitAuthFlows=auth_app.client["ExplicitAuthFlows"],
        AccessTokenValidity=30,
        TokenValidityUnits={"AccessToken": "minutes"},
    )
    assert sign_in(auth_app, user)[1]["ExpiresIn"] == 1800
