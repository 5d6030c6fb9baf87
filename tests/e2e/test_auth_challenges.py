"""NEW_PASSWORD_REQUIRED for users made by AdminCreateUser: the challenge parameters, required
attributes, RespondToAuthChallenge / AdminRespondToAuthChallenge, single-use sessions
(wire facts 4.1, 4.3)."""

from __future__ import annotations

import json

import botocore.exceptions
import pytest

from auth_support import (  # noqa: F401  (fixtures)
    INCORRECT,
    INVALID_SESSION,
    NEW_PASSWORD,
    TEMP_PASSWORD,
    WRONG_PASSWORD,
    add_client,
    auth_app,
    make_auth_app,
)
from helpers import expect_error, unique


def challenge(app, username: str, password: str = TEMP_PASSWORD) -> dict:
    resp = app.initiate(username, password)
    assert resp.get("ChallengeName") == "NEW_PASSWORD_REQUIRED", resp
    return resp


def responses(app, username: str, new_password: str = NEW_PASSWORD, **extra) -> dict:
    out = {"USERNAME": username, "NEW_PASSWORD": new_password}
    if app.client_secret:
        out["SECRET_HASH"] = app.hash_for(username)
    out.update(extra)
    return out


def respond(app, session: str, username: str, new_password: str = NEW_PASSWORD, **extra) -> dict:
    return app.public.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=session,
        ChallengeResponses=responses(app, username, new_password, **extra),
    )


def test_new_password_required_challenge_shape(auth_app):
    user = auth_app.invited_user()
    assert auth_app.status(user) == "FORCE_CHANGE_PASSWORD"
    resp = challenge(auth_app, user)
    assert "AuthenticationResult" not in resp, resp
    assert isinstance(resp.get("Session"), str) and len(resp["Session"]) >= 20, resp
    params = resp["ChallengeParameters"]
    assert params["USER_ID_FOR_SRP"] == user
    assert json.loads(params["requiredAttributes"]) == []
    attrs = json.loads(params["userAttributes"])
    assert isinstance(attrs, dict)
    assert attrs.get("email") == f"{user}@example.com"
    # every challenge parameter is a string
    assert all(isinstance(v, str) for v in params.values()), params


def test_admin_initiate_auth_gets_the_challenge_too(auth_app):
    user = auth_app.invited_user()
    resp = auth_app.admin_initiate(user, TEMP_PASSWORD)
    assert resp["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert resp["Session"]
    assert resp["ChallengeParameters"]["USER_ID_FOR_SRP"] == user


def test_respond_with_new_password(auth_app):
    user = auth_app.invited_user()
    resp = challenge(auth_app, user)
    out = respond(auth_app, resp["Session"], user)
    assert out["ChallengeParameters"] == {}
    assert "ChallengeName" not in out and "Session" not in out, out
    tokens = out["AuthenticationResult"]
    assert tokens["TokenType"] == "Bearer" and tokens["RefreshToken"]
    assert auth_app.verify_id(tokens["IdToken"])["cognito:username"] == user
    assert auth_app.get_user(tokens["AccessToken"])["Username"] == user
    assert auth_app.status(user) == "CONFIRMED"
    # the new password signs in directly; the temporary one no longer does
    assert auth_app.sign_in(user, NEW_PASSWORD)["AccessToken"]
    expect_error("NotAuthorizedException", auth_app.initiate, user, TEMP_PASSWORD, message=INCORRECT)


def test_admin_respond_to_auth_challenge(auth_app):
    user = auth_app.invited_user()
    resp = auth_app.admin_initiate(user, TEMP_PASSWORD)
    out = auth_app.idp.admin_respond_to_auth_challenge(
        UserPoolId=auth_app.pool_id,
        ClientId=auth_app.client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=resp["Session"],
        ChallengeResponses=responses(auth_app, user),
    )
    assert out["AuthenticationResult"]["AccessToken"]
    assert auth_app.status(user) == "CONFIRMED"


def test_wrong_temporary_password(auth_app):
    user = auth_app.invited_user()
    expect_error("NotAuthorizedException", auth_app.initiate, user, WRONG_PASSWORD, message=INCORRECT)
    assert auth_app.status(user) == "FORCE_CHANGE_PASSWORD"


def test_required_attributes(make_auth_app):
    """Cognito today refuses AdminCreateUser without a required attribute (amplify-backend#3117,
    fixed on the client side by #3118), so an invited user always has them and the challenge
    lists none; attributes given in the answer are stored."""
    app = make_auth_app(
        Schema=[{"Name": "given_name", "AttributeDataType": "String", "Mutable": True, "Required": True}],
    )
    user = unique("invited")
    expect_error(
        "InvalidParameterException",
        app.create_user,
        user,
        {"email": f"{user}@example.com"},
        TemporaryPassword=TEMP_PASSWORD,
    )
    app.create_user(user, {"email": f"{user}@example.com", "given_name": "Ada"}, TemporaryPassword=TEMP_PASSWORD)
    resp = challenge(app, user)
    assert json.loads(resp["ChallengeParameters"]["requiredAttributes"]) == []

    out = respond(app, resp["Session"], user, **{"userAttributes.given_name": "Grace"})
    claims = app.verify_id(out["AuthenticationResult"]["IdToken"])
    assert claims["given_name"] == "Grace"
    assert app.attrs(user)["given_name"] == "Grace"
    assert app.status(user) == "CONFIRMED"


def test_required_attribute_already_present_is_not_asked(make_auth_app):
    app = make_auth_app(
        Schema=[{"Name": "given_name", "AttributeDataType": "String", "Mutable": True, "Required": True}],
    )
    user = unique("invited")
    app.create_user(user, {"email": f"{user}@example.com", "given_name": "Ada"}, TemporaryPassword=TEMP_PASSWORD)
    resp = challenge(app, user)
    assert json.loads(resp["ChallengeParameters"]["requiredAttributes"]) == []
    assert json.loads(resp["ChallengeParameters"]["userAttributes"])["given_name"] == "Ada"
    assert respond(app, resp["Session"], user)["AuthenticationResult"]["IdToken"]


def test_optional_attributes_may_be_set_in_the_answer(auth_app):
    user = auth_app.invited_user()
    resp = challenge(auth_app, user)
    respond(auth_app, resp["Session"], user, **{"userAttributes.family_name": "Lovelace"})
    assert auth_app.attrs(user)["family_name"] == "Lovelace"


def test_session_is_single_use(auth_app):
    user = auth_app.invited_user()
    resp = challenge(auth_app, user)
    respond(auth_app, resp["Session"], user)
    expect_error(
        "NotAuthorizedException",
        respond,
        auth_app,
        resp["Session"],
        user,
        "Y3t-An0ther-Passw0rd!",
        message=INVALID_SESSION,
    )
    # the password set by the first answer is in force
    assert auth_app.sign_in(user, NEW_PASSWORD)["AccessToken"]


@pytest.mark.parametrize(
    "session",
    ["garbage-session-of-twenty-chars", "x" * 40, "AYABeC0tZXhhbXBsZS1zZXNzaW9uLXRoYXQtaXMtbm90LXJlYWw"],
)
def test_garbage_session(auth_app, session):
    user = auth_app.invited_user()
    challenge(auth_app, user)
    expect_error("NotAuthorizedException", respond, auth_app, session, user, message=INVALID_SESSION)
    assert auth_app.status(user) == "FORCE_CHANGE_PASSWORD"


def test_weak_new_password_keeps_the_session(auth_app):
    user = auth_app.invited_user()
    resp = challenge(auth_app, user)
    err = expect_error("InvalidPasswordException", respond, auth_app, resp["Session"], user, "short")
    assert "Password" in err["Message"], err
    assert auth_app.status(user) == "FORCE_CHANGE_PASSWORD"
    out = respond(auth_app, resp["Session"], user)
    assert out["AuthenticationResult"]["AccessToken"]
    assert auth_app.status(user) == "CONFIRMED"


def answer_as(app, session: str, username: str):
    try:
        return respond(app, session, username)
    except botocore.exceptions.ClientError as exc:
        return exc.response["Error"]


def test_session_of_one_user_does_not_touch_another(auth_app):
    """Whatever the answer, a session of alice never sets bob's password or confirms him."""
    alice = auth_app.invited_user()
    bob = auth_app.invited_user()
    resp = challenge(auth_app, alice)
    out = answer_as(auth_app, resp["Session"], bob)
    if "AuthenticationResult" in out:
        claims = auth_app.verify_access(out["AuthenticationResult"]["AccessToken"])
        assert claims["username"] != bob, "alice's session issued tokens for bob"
    assert auth_app.status(bob) == "FORCE_CHANGE_PASSWORD"
    expect_error("NotAuthorizedException", auth_app.initiate, bob, NEW_PASSWORD, message=INCORRECT)


def test_session_answered_for_another_username_is_refused(auth_app):
    """wire facts 4.1: a session is bound to its user; a mismatched USERNAME is an invalid session."""
    alice = auth_app.invited_user()
    bob = auth_app.invited_user()
    resp = challenge(auth_app, alice)
    expect_error("NotAuthorizedException", respond, auth_app, resp["Session"], bob)
    assert auth_app.status(alice) == "FORCE_CHANGE_PASSWORD"


def test_session_is_bound_to_its_client(auth_app):
    other = add_client(auth_app)
    user = auth_app.invited_user()
    resp = challenge(auth_app, user)
    expect_error("NotAuthorizedException", respond, other, resp["Session"], user)
    assert auth_app.status(user) == "FORCE_CHANGE_PASSWORD"


def test_secret_client_challenge_needs_secret_hash(make_auth_app):
    app = make_auth_app(secret=True)
    user = app.invited_user()
    resp = challenge(app, user)
    expect_error(
        "NotAuthorizedException",
        app.public.respond_to_auth_challenge,
        ClientId=app.client_id,
        ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=resp["Session"],
        ChallengeResponses={"USERNAME": user, "NEW_PASSWORD": NEW_PASSWORD},
    )
    assert app.status(user) == "FORCE_CHANGE_PASSWORD"
    resp = challenge(app, user)
    out = respond(app, resp["Session"], user)
    assert out["AuthenticationResult"]["AccessToken"]


def test_disabled_invited_user(auth_app):
    user = auth_app.invited_user()
    auth_app.idp.admin_disable_user(UserPoolId=auth_app.pool_id, Username=user)
    expect_error("NotAuthorizedException", auth_app.initiate, user, TEMP_PASSWORD, message="User is disabled.")
