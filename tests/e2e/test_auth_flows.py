"""Password sign-in: InitiateAuth USER_PASSWORD_AUTH, AdminInitiateAuth ADMIN_USER_PASSWORD_AUTH /
ADMIN_NO_SRP_AUTH, the per-client flow gates, SECRET_HASH, the user-state errors,
PreventUserExistenceErrors, and the AWS CLI (wire facts 1.6, 3.14, 4.1, 4.2)."""

from __future__ import annotations

import json

import pytest

from auth_support import (  # noqa: F401  (fixtures)
    INCORRECT,
    WRONG_PASSWORD,
    AuthApp,
    auth_app,
    call_error,
    aws_cli,
    is_uuid,
    jwt_claims,
    make_auth_app,
)
from helpers import PASSWORD, expect_error, json_body, raw_post, unique


def assert_tokens(result: dict, expires_in: int = 3600) -> None:
    assert set(result) >= {"AccessToken", "IdToken", "RefreshToken", "ExpiresIn", "TokenType"}, result
    assert result["TokenType"] == "Bearer"
    assert result["ExpiresIn"] == expires_in
    assert result["AccessToken"].count(".") == 2 and result["IdToken"].count(".") == 2
    # refresh tokens are opaque strings of the model's TokenModelType alphabet
    assert result["RefreshToken"] and all(c.isalnum() or c in "-_=." for c in result["RefreshToken"])


# --------------------------------------------------------------------------
# the flows


def test_user_password_auth_returns_tokens(auth_app):
    user = auth_app.user()
    resp = auth_app.initiate(user)
    assert resp["ChallengeParameters"] == {}
    assert "ChallengeName" not in resp and "Session" not in resp, resp
    assert_tokens(resp["AuthenticationResult"])
    claims = auth_app.verify_access(resp["AuthenticationResult"]["AccessToken"])
    assert claims["username"] == user


def test_sign_in_wire_shape(auth_app):
    """The raw body: ChallengeParameters {} and AuthenticationResult, nothing else at top level."""
    user = auth_app.user()
    resp = raw_post(
        auth_app.server.url,
        "InitiateAuth",
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": auth_app.client_id,
            "AuthParameters": {"USERNAME": user, "PASSWORD": PASSWORD},
        },
    )
    assert resp.status_code == 200, resp.text
    body = json_body(resp)
    assert body["ChallengeParameters"] == {}
    assert set(body) == {"ChallengeParameters", "AuthenticationResult"}, body
    assert isinstance(body["AuthenticationResult"]["ExpiresIn"], int)


@pytest.mark.parametrize("flow", ["ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"])
def test_admin_password_flows_return_tokens(auth_app, flow):
    user = auth_app.user()
    resp = auth_app.admin_initiate(user, flow=flow)
    assert resp["ChallengeParameters"] == {}
    assert "ChallengeName" not in resp
    assert_tokens(resp["AuthenticationResult"])
    assert auth_app.verify_id(resp["AuthenticationResult"]["IdToken"])["cognito:username"] == user


def test_user_password_auth_not_enabled(make_auth_app):
    # Cognito's default flows: ALLOW_REFRESH_TOKEN_AUTH, ALLOW_USER_SRP_AUTH, ALLOW_CUSTOM_AUTH
    app = make_auth_app(client={"ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]})
    user = app.user()
    expect_error(
        "InvalidParameterException",
        app.initiate,
        user,
        message="USER_PASSWORD_AUTH flow not enabled for this client",
    )


def test_user_password_auth_not_in_default_flows(make_auth_app):
    app = make_auth_app()
    # a client created without ExplicitAuthFlows at all
    bare = app.idp.create_user_pool_client(UserPoolId=app.pool_id, ClientName=unique("bare"))["UserPoolClient"]
    bare_app = AuthApp(app.server, app.idp, app.public, app.pool, bare)
    user = app.user()
    expect_error("InvalidParameterException", bare_app.initiate, user)
    expect_error("InvalidParameterException", bare_app.admin_initiate, user)


@pytest.mark.parametrize("flow", ["ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"])
def test_admin_flow_not_enabled(make_auth_app, flow):
    app = make_auth_app(client={"ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]})
    user = app.user()
    expect_error("InvalidParameterException", app.admin_initiate, user, flow=flow)
    # the public flow still works on that client
    assert app.sign_in(user)["AccessToken"]


def test_admin_only_flow_refused_by_initiate_auth(auth_app):
    user = auth_app.user()
    expect_error(
        "InvalidParameterException",
        auth_app.public.initiate_auth,
        ClientId=auth_app.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD},
    )


@pytest.mark.parametrize("missing", ["USERNAME", "PASSWORD"])
def test_missing_auth_parameter(auth_app, missing):
    user = auth_app.user()
    params = {"USERNAME": user, "PASSWORD": PASSWORD}
    del params[missing]
    expect_error(
        "InvalidParameterException",
        auth_app.public.initiate_auth,
        ClientId=auth_app.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters=params,
        contains=missing,
    )


def test_unknown_client_id(auth_app):
    user = auth_app.user()
    client_id = "0" * 26
    expect_error(
        "ResourceNotFoundException",
        auth_app.public.initiate_auth,
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD},
        message=f"User pool client {client_id} does not exist.",
    )


def test_admin_initiate_auth_needs_sigv4(auth_app):
    user = auth_app.user()
    err = call_error(
        auth_app.public.admin_initiate_auth,
        UserPoolId=auth_app.pool_id,
        ClientId=auth_app.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD},
    )
    assert err["Code"], err


def test_admin_initiate_auth_client_of_another_pool(make_auth_app):
    a = make_auth_app()
    b = make_auth_app()
    user = a.user()
    err = expect_error(
        "ResourceNotFoundException",
        a.idp.admin_initiate_auth,
        UserPoolId=a.pool_id,
        ClientId=b.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": PASSWORD},
    )
    assert b.client_id in err["Message"]


# --------------------------------------------------------------------------
# wrong credentials and user states


def test_wrong_password(auth_app):
    user = auth_app.user()
    expect_error("NotAuthorizedException", auth_app.initiate, user, WRONG_PASSWORD, message=INCORRECT)
    expect_error("NotAuthorizedException", auth_app.admin_initiate, user, WRONG_PASSWORD, message=INCORRECT)
    # a failure does not break the account
    assert auth_app.sign_in(user)["IdToken"]


def test_password_is_case_sensitive(auth_app):
    user = auth_app.user()
    expect_error("NotAuthorizedException", auth_app.initiate, user, PASSWORD.upper(), message=INCORRECT)


def test_unknown_user_prevent_user_existence_enabled(make_auth_app):
    app = make_auth_app(client={"PreventUserExistenceErrors": "ENABLED"})
    app.user()
    expect_error("NotAuthorizedException", app.initiate, "nobody-" + unique("x"), message=INCORRECT)
    expect_error("NotAuthorizedException", app.admin_initiate, "nobody-" + unique("x"), message=INCORRECT)


def test_unknown_user_and_wrong_password_answer_alike(make_auth_app):
    """With ENABLED the two answers are byte-for-byte the same error (status, type, message)."""
    app = make_auth_app(client={"PreventUserExistenceErrors": "ENABLED"})
    user = app.user()
    bodies = []
    for username in (user, "nobody-" + unique("x")):
        resp = raw_post(
            app.server.url,
            "InitiateAuth",
            {
                "AuthFlow": "USER_PASSWORD_AUTH",
                "ClientId": app.client_id,
                "AuthParameters": {"USERNAME": username, "PASSWORD": WRONG_PASSWORD},
            },
        )
        bodies.append((resp.status_code, resp.headers.get("x-amzn-ErrorType"), json_body(resp)))
    assert bodies[0] == bodies[1], bodies


def test_unknown_user_legacy(make_auth_app):
    app = make_auth_app(client={"PreventUserExistenceErrors": "LEGACY"})
    expect_error("UserNotFoundException", app.initiate, "nobody-" + unique("x"), message="User does not exist.")
    expect_error("UserNotFoundException", app.admin_initiate, "nobody-" + unique("x"), message="User does not exist.")
    # wrong password of a real user stays NotAuthorized
    user = app.user()
    expect_error("NotAuthorizedException", app.initiate, user, WRONG_PASSWORD, message=INCORRECT)


@pytest.mark.parametrize("setting", ["ENABLED", "LEGACY"])
@pytest.mark.parametrize("password", [PASSWORD, WRONG_PASSWORD], ids=["right-password", "wrong-password"])
def test_unconfirmed_user(make_auth_app, setting, password):
    """Issue 11 §1.7: where the client hides users, an unconfirmed account is revealed only to
    someone who proves its password; a wrong one reads like any wrong password (and counts).
    LEGACY clients say so whatever the password, as Cognito does."""
    app = make_auth_app(client={"PreventUserExistenceErrors": setting}, AutoVerifiedAttributes=["email"])
    user = unique("unconfirmed")
    app.sign_up(user, attributes={"email": f"{user}@example.com"})
    assert app.status(user) == "UNCONFIRMED"
    if password == WRONG_PASSWORD and setting == "ENABLED":
        expect_error("NotAuthorizedException", app.initiate, user, password, message=INCORRECT)
        expect_error("NotAuthorizedException", app.admin_initiate, user, password, message=INCORRECT)
    else:
        expect_error("UserNotConfirmedException", app.initiate, user, password, message="User is not confirmed.")
        expect_error("UserNotConfirmedException", app.admin_initiate, user, password)


def test_disabled_user(auth_app):
    user = auth_app.user()
    auth_app.idp.admin_disable_user(UserPoolId=auth_app.pool_id, Username=user)
    expect_error("NotAuthorizedException", auth_app.initiate, user, message="User is disabled.")
    expect_error("NotAuthorizedException", auth_app.admin_initiate, user, message="User is disabled.")
    auth_app.idp.admin_enable_user(UserPoolId=auth_app.pool_id, Username=user)
    assert auth_app.sign_in(user)["AccessToken"]


def test_disabled_user_wrong_password_reveals_nothing_more(auth_app):
    user = auth_app.user()
    auth_app.idp.admin_disable_user(UserPoolId=auth_app.pool_id, Username=user)
    err = expect_error("NotAuthorizedException", auth_app.initiate, user, WRONG_PASSWORD)
    assert err["Message"] in (INCORRECT, "User is disabled."), err


def test_reset_required_user(auth_app):
    user = auth_app.verified_user()
    auth_app.idp.admin_reset_user_password(UserPoolId=auth_app.pool_id, Username=user)
    assert auth_app.status(user) == "RESET_REQUIRED"
    err = expect_error("PasswordResetRequiredException", auth_app.initiate, user)
    assert err["Message"].startswith("Password reset required for the user"), err
    expect_error("PasswordResetRequiredException", auth_app.admin_initiate, user)


def test_reset_required_user_signs_in_after_confirm_forgot_password(auth_app):
    user = auth_app.verified_user()
    auth_app.idp.admin_reset_user_password(UserPoolId=auth_app.pool_id, Username=user)
    code = auth_app.code(user)
    auth_app.public.confirm_forgot_password(
        ClientId=auth_app.client_id, Username=user, ConfirmationCode=code, Password="An0ther-Passw0rd!"
    )
    assert auth_app.sign_in(user, "An0ther-Passw0rd!")["AccessToken"]


def test_admin_set_user_password_then_sign_in(auth_app):
    user = auth_app.user()
    auth_app.idp.admin_set_user_password(
        UserPoolId=auth_app.pool_id, Username=user, Password="S3t-By-Admin!", Permanent=True
    )
    expect_error("NotAuthorizedException", auth_app.initiate, user, PASSWORD, message=INCORRECT)
    assert auth_app.sign_in(user, "S3t-By-Admin!")["AccessToken"]


def test_deleted_user_cannot_sign_in(make_auth_app):
    app = make_auth_app(client={"PreventUserExistenceErrors": "LEGACY"})
    user = app.user()
    app.idp.admin_delete_user(UserPoolId=app.pool_id, Username=user)
    expect_error("UserNotFoundException", app.initiate, user)


# --------------------------------------------------------------------------
# usernames: case, e-mail as username, aliases


def test_case_insensitive_username(make_auth_app):
    app = make_auth_app(UsernameConfiguration={"CaseSensitive": False})
    user = app.user(unique("MixedCase"))
    result = app.sign_in(user.upper())
    assert app.verify_access(result["AccessToken"])["username"].lower() == user.lower()


def test_case_sensitive_username(make_auth_app):
    app = make_auth_app(
        UsernameConfiguration={"CaseSensitive": True}, client={"PreventUserExistenceErrors": "LEGACY"}
    )
    user = app.user(unique("MixedCase"))
    expect_error("UserNotFoundException", app.initiate, user.upper())


def test_email_as_username(make_auth_app):
    app = make_auth_app(UsernameAttributes=["email"], AutoVerifiedAttributes=["email"])
    email = f"{unique('mail')}@example.com"
    out = app.sign_up(email, attributes={"email": email})
    app.idp.admin_confirm_sign_up(UserPoolId=app.pool_id, Username=email)
    result = app.sign_in(email)
    id_claims = app.verify_id(result["IdToken"])
    access = app.verify_access(result["AccessToken"])
    internal = app.get(email)["Username"]
    assert is_uuid(internal), internal
    assert id_claims["cognito:username"] == internal
    assert access["username"] == internal
    assert id_claims["sub"] == out["UserSub"]
    assert id_claims["email"] == email


def test_sign_in_with_email_alias(make_auth_app):
    app = make_auth_app(AliasAttributes=["email"], AutoVerifiedAttributes=["email"])
    user = unique("alias")
    email = f"{user}@example.com"
    app.verified_user(user, {"email": email})
    result = app.sign_in(email)
    assert app.verify_id(result["IdToken"])["cognito:username"] == user
    assert app.verify_access(result["AccessToken"])["username"] == user


def test_unverified_email_alias_does_not_sign_in(make_auth_app):
    app = make_auth_app(
        AliasAttributes=["email"], AutoVerifiedAttributes=["email"], client={"PreventUserExistenceErrors": "LEGACY"}
    )
    user = unique("alias")
    email = f"{user}@example.com"
    app.user(user, {"email": email})  # e-mail not verified: not usable as an alias
    expect_error("UserNotFoundException", app.initiate, email)


# --------------------------------------------------------------------------
# SECRET_HASH


def test_secret_client_with_secret_hash(make_auth_app):
    app = make_auth_app(secret=True)
    user = app.user()
    assert app.sign_in(user)["AccessToken"]
    resp = app.admin_initiate(user)
    assert resp["AuthenticationResult"]["IdToken"]


def test_secret_hash_missing(make_auth_app):
    app = make_auth_app(secret=True)
    user = app.user()
    message = f"Client {app.client_id} is configured with secret but SECRET_HASH was not received"
    params = {"USERNAME": user, "PASSWORD": PASSWORD}
    expect_error(
        "NotAuthorizedException",
        app.public.initiate_auth,
        ClientId=app.client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters=params,
        message=message,
    )
    expect_error(
        "NotAuthorizedException",
        app.idp.admin_initiate_auth,
        UserPoolId=app.pool_id,
        ClientId=app.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters=params,
        message=message,
    )


@pytest.mark.parametrize(
    "bad",
    ["over-another-username", "other-secret", "garbage"],
)
def test_secret_hash_wrong(make_auth_app, bad):
    from helpers import secret_hash

    app = make_auth_app(secret=True)
    user = app.user()
    value = {
        "over-another-username": app.hash_for(user + "x"),
        "other-secret": secret_hash("not-the-secret", user, app.client_id),
        "garbage": "bm90IGEgaGFzaA==",
    }[bad]
    expect_error(
        "NotAuthorizedException",
        app.initiate,
        user,
        SECRET_HASH=value,
        message=f"Unable to verify secret hash for client {app.client_id}",
    )


def test_secret_hash_checked_before_the_password(make_auth_app):
    app = make_auth_app(secret=True)
    user = app.user()
    expect_error(
        "NotAuthorizedException",
        app.initiate,
        user,
        WRONG_PASSWORD,
        SECRET_HASH="bm90IGEgaGFzaA==",
        message=f"Unable to verify secret hash for client {app.client_id}",
    )


def test_secret_hash_over_the_typed_email_username(make_auth_app):
    """SECRET_HASH is over the request's own USERNAME: the e-mail the user typed (wire facts 3.14)."""
    app = make_auth_app(secret=True, UsernameAttributes=["email"], AutoVerifiedAttributes=["email"])
    email = f"{unique('mail')}@example.com"
    app.public.sign_up(
        ClientId=app.client_id,
        Username=email,
        Password=PASSWORD,
        SecretHash=app.hash_for(email),
        UserAttributes=[{"Name": "email", "Value": email}],
    )
    app.idp.admin_confirm_sign_up(UserPoolId=app.pool_id, Username=email)
    assert app.sign_in(email)["AccessToken"]


def test_secret_hash_sent_to_public_client(auth_app):
    """wire facts 1.6: a SECRET_HASH for a client without a secret is refused."""
    user = auth_app.user()
    expect_error(
        "InvalidParameterException",
        auth_app.initiate,
        user,
        SECRET_HASH="bm90IGEgaGFzaA==",
        message=f"App client {auth_app.client_id} is not configured for secret but secret hash was received",
    )


# --------------------------------------------------------------------------
# the AWS CLI signs in too


def test_aws_cli_initiate_auth(auth_app, tmp_path):
    user = auth_app.user()
    result = aws_cli(
        auth_app.server.url,
        [
            "initiate-auth",
            "--auth-flow",
            "USER_PASSWORD_AUTH",
            "--client-id",
            auth_app.client_id,
            "--auth-parameters",
            json.dumps({"USERNAME": user, "PASSWORD": PASSWORD}),
        ],
        tmp_path,
    )
    assert result.returncode == 0, f"aws exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    out = json.loads(result.stdout)
    assert out["ChallengeParameters"] == {}
    tokens = out["AuthenticationResult"]
    assert tokens["TokenType"] == "Bearer"
    assert auth_app.verify_id(tokens["IdToken"])["cognito:username"] == user
    # and the access token works with GetUser
    assert auth_app.get_user(tokens["AccessToken"])["Username"] == user


def test_aws_cli_wrong_password(auth_app, tmp_path):
    user = auth_app.user()
    result = aws_cli(
        auth_app.server.url,
        [
            "initiate-auth",
            "--auth-flow",
            "USER_PASSWORD_AUTH",
            "--client-id",
            auth_app.client_id,
            "--auth-parameters",
            json.dumps({"USERNAME": user, "PASSWORD": WRONG_PASSWORD}),
        ],
        tmp_path,
    )
    assert result.returncode != 0
    assert "NotAuthorizedException" in result.stderr and INCORRECT in result.stderr, result.stderr


def test_access_token_event_id_is_request_id(auth_app):
    user = auth_app.user()
    resp = auth_app.initiate(user)
    request_id = resp["ResponseMetadata"]["RequestId"]
    assert is_uuid(request_id)
    assert jwt_claims(resp["AuthenticationResult"]["AccessToken"])["event_id"] == request_id
    assert jwt_claims(resp["AuthenticationResult"]["IdToken"])["event_id"] == request_id
