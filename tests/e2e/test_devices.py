"""Issue 13, remembered devices through the API, on both backends: boto3 drives the calls and
pycognito's SRP helper computes every proof (the user's PASSWORD_VERIFIER, the device
verifier of ConfirmDevice with `generate_hash_device`, and the device's
DEVICE_PASSWORD_VERIFIER), so the device maths are a real client's.

What is proved: a sign-in in a pool that tracks devices is issued `NewDeviceMetadata` and an
access token naming the device; ConfirmDevice stores the verifier (the user is asked to
remember it when the pool says so); a known device proves itself with DEVICE_SRP_AUTH and
DEVICE_PASSWORD_VERIFIER after MFA, and a remembered one in place of MFA; the device
management operations and their Admin forms; and the refusals: another user's device key
(`Device does not exist.`, after which the same proof works without it, as clients retry),
a wrong device proof, a DEVICE_SRP_AUTH answer without the password step's session, and a
forgotten device, whose refresh tokens end with it.

pycognito's own ConfirmDevice, UpdateDeviceStatus and ForgetDevice post to the AWS endpoint
they build from the region and cannot be pointed elsewhere, and its device sign-in sends
DEVICE_SRP_AUTH without the session, which tessera refuses by design (see
docs/design/mfa-facts.md §4.4); those calls are made here with boto3."""

from __future__ import annotations

import pytest
from pycognito.aws_srp import AWSSRP, generate_hash_device

from auth_support import AuthApp, jwt_claims, make_auth_app  # noqa: F401  (fixture)
from helpers import PASSWORD, attribute_dict, expect_error
from test_mfa import FLOWS, TOTP, enrol

DEVICES = {"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": True}


@pytest.fixture
def device_app(make_auth_app):
    app = make_auth_app(client={"ExplicitAuthFlows": FLOWS}, AutoVerifiedAttributes=["email"], DeviceConfiguration=DEVICES)
    app.idp.set_user_pool_mfa_config(UserPoolId=app.pool_id, MfaConfiguration="OPTIONAL", **TOTP)
    return app


class Device:
    """A device as the client keeps it: its keys and the password only it knows."""

    def __init__(self, key: str, group_key: str, password: str):
        self.key, self.group_key, self.password = key, group_key, password


def srp(app: AuthApp, username: str, device: Device | None = None) -> AWSSRP:
    keys = {}
    if device:
        keys = {"device_key": device.key, "device_group_key": device.group_key, "device_password": device.password}
    return AWSSRP(username=username, password=PASSWORD, pool_id=app.pool_id, client_id=app.client_id, client=app.public, **keys)


def password_step(app: AuthApp, helper: AWSSRP, with_device: bool = True) -> dict:
    """USER_SRP_AUTH and the PASSWORD_VERIFIER answer (naming the device unless told not to)."""
    params = helper.get_auth_params()
    first = app.public.initiate_auth(ClientId=app.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    responses = helper.process_challenge(first["ChallengeParameters"], params)
    if not with_device:
        responses.pop("DEVICE_KEY", None)
    return app.public.respond_to_auth_challenge(ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses)


def device_steps(app: AuthApp, helper: AWSSRP, challenge: dict, username: str) -> dict:
    """DEVICE_SRP_AUTH with the challenge's session, then DEVICE_PASSWORD_VERIFIER."""
    from pycognito.aws_srp import long_to_hex

    assert challenge["ChallengeName"] == "DEVICE_SRP_AUTH", challenge
    exchange = app.public.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="DEVICE_SRP_AUTH",
        Session=challenge["Session"],
        ChallengeResponses={"USERNAME": username, "DEVICE_KEY": helper.device_key, "SRP_A": long_to_hex(helper.large_a_value)},
    )
    assert exchange["ChallengeName"] == "DEVICE_PASSWORD_VERIFIER"
    assert set(exchange["ChallengeParameters"]) == {"USERNAME", "DEVICE_KEY", "SALT", "SRP_B", "SECRET_BLOCK"}
    return app.public.respond_to_auth_challenge(
        ClientId=app.client_id,
        ChallengeName="DEVICE_PASSWORD_VERIFIER",
        Session=exchange.get("Session"),
        ChallengeResponses=helper.process_device_challenge(exchange["ChallengeParameters"]),
    )


def mfa(app: AuthApp, challenge: dict, username: str, code: str, device: Device | None = None) -> dict:
    assert challenge["ChallengeName"] == "SOFTWARE_TOKEN_MFA", challenge
    responses = {"USERNAME": username, "SOFTWARE_TOKEN_MFA_CODE": code}
    if device:
        responses["DEVICE_KEY"] = device.key
    return app.public.respond_to_auth_challenge(
        ClientId=app.client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=challenge["Session"], ChallengeResponses=responses
    )


def new_device(app: AuthApp, result: dict, name: str = "laptop") -> Device:
    """ConfirmDevice for the NewDeviceMetadata of a sign-in, as a client does it."""
    metadata = result["NewDeviceMetadata"]
    assert metadata["DeviceKey"].startswith(app.pool_id.split("_")[0] + "_")
    assert jwt_claims(result["AccessToken"])["device_key"] == metadata["DeviceKey"]
    password, config = generate_hash_device(metadata["DeviceGroupKey"], metadata["DeviceKey"])
    out = app.public.confirm_device(
        AccessToken=result["AccessToken"], DeviceKey=metadata["DeviceKey"], DeviceSecretVerifierConfig=config, DeviceName=name
    )
    assert out["UserConfirmationNecessary"] is True
    return Device(metadata["DeviceKey"], metadata["DeviceGroupKey"], password)


def attributes(device: dict) -> dict:
    return attribute_dict(device["DeviceAttributes"])


def test_a_device_is_confirmed_remembered_and_then_stands_in_for_mfa(device_app):
    app = device_app
    username = app.user()
    authenticator = enrol(app, app.sign_in(username)["AccessToken"])
    _, current, following = authenticator.steps()

    # A sign-in without a device: MFA, then a new device.
    challenge = password_step(app, srp(app, username))
    result = mfa(app, challenge, username, current)["AuthenticationResult"]
    device = new_device(app, result)
    access = result["AccessToken"]
    listed = app.public.list_devices(AccessToken=access)["Devices"]
    assert [d["DeviceKey"] for d in listed] == [device.key]
    assert attributes(listed[0]) == {"device_status": "valid", "device_name": "laptop"}
    got = app.public.get_device(AccessToken=access, DeviceKey=device.key)["Device"]
    assert attributes(got)["dev:device_remembered_status"] == "not_remembered"
    # A device is confirmed once.
    _, config = generate_hash_device(device.group_key, device.key)
    expect_error("DeviceKeyExistsException", app.public.confirm_device, AccessToken=access, DeviceKey=device.key, DeviceSecretVerifierConfig=config)

    # Known but not remembered: MFA first, then the device proves itself; no new device.
    helper = srp(app, username, device)
    challenge = password_step(app, helper)
    after_mfa = mfa(app, challenge, username, following, device)
    tokens = device_steps(app, helper, after_mfa, username)["AuthenticationResult"]
    assert "NewDeviceMetadata" not in tokens
    assert jwt_claims(tokens["AccessToken"])["device_key"] == device.key
    app.verify_access(tokens["AccessToken"])

    # Remembered: the device replaces MFA.
    app.public.update_device_status(AccessToken=access, DeviceKey=device.key, DeviceRememberedStatus="remembered")
    assert attributes(app.public.get_device(AccessToken=access, DeviceKey=device.key)["Device"])["dev:device_remembered_status"] == "remembered"
    helper = srp(app, username, device)
    challenge = password_step(app, helper)
    tokens = device_steps(app, helper, challenge, username)["AuthenticationResult"]
    assert jwt_claims(tokens["AccessToken"])["device_key"] == device.key
    # The refresh token is the device's: it works while the device is known.
    refreshed = app.public.initiate_auth(
        ClientId=app.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"], "DEVICE_KEY": device.key},
    )["AuthenticationResult"]
    assert jwt_claims(refreshed["AccessToken"])["device_key"] == device.key
    # Without naming the device, it is refused.
    expect_error("NotAuthorizedException", app.refresh, tokens["RefreshToken"], message="Invalid Refresh Token")
    same = app.public.initiate_auth(
        ClientId=app.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"], "DEVICE_KEY": device.key},
    )
    assert "AccessToken" in same["AuthenticationResult"]
    # Used from another device, it is refused.
    expect_error(
        "NotAuthorizedException", app.public.initiate_auth, ClientId=app.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"], "DEVICE_KEY": "us-east-1_00000000-0000-4000-8000-000000000001"},
        message="Invalid Refresh Token",
    )
    expect_error(
        "NotAuthorizedException", app.public.get_tokens_from_refresh_token, ClientId=app.client_id,
        RefreshToken=tokens["RefreshToken"], DeviceKey="us-east-1_00000000-0000-4000-8000-000000000000",
        message="Invalid Refresh Token",
    )

    # An administrator sees it, and forgetting it ends its refresh tokens.
    admin = app.idp.admin_get_device(UserPoolId=app.pool_id, Username=username, DeviceKey=device.key)["Device"]
    assert attributes(admin)["device_name"] == "laptop"
    assert [d["DeviceKey"] for d in app.idp.admin_list_devices(UserPoolId=app.pool_id, Username=username)["Devices"]] == [device.key]
    device_access = tokens["AccessToken"]
    app.public.get_user(AccessToken=device_access)
    app.public.forget_device(AccessToken=access, DeviceKey=device.key)
    expect_error(
        "NotAuthorizedException", app.public.initiate_auth, ClientId=app.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"], "DEVICE_KEY": device.key},
    )
    # Access tokens already issued live out their hour, as Cognito's do (clients call
    # ForgetDevice with the device's own access token and go on using it).
    app.public.get_user(AccessToken=device_access)
    assert app.idp.admin_list_devices(UserPoolId=app.pool_id, Username=username)["Devices"] == []
    expect_error(
        "ResourceNotFoundException", app.idp.admin_get_device, UserPoolId=app.pool_id, Username=username,
        DeviceKey=device.key, message="Device does not exist.",
    )
    # A forgotten device is unknown at sign-in, and the password step is asked MFA again.
    helper = srp(app, username, device)
    expect_error("ResourceNotFoundException", password_step, app, helper, message="Device does not exist.")


def test_another_users_device_a_wrong_proof_and_a_missing_session_are_refused(device_app):
    app = device_app
    alice, bob = app.user(), app.user()
    alice_result = app.sign_in(alice)
    alice_device = new_device(app, alice_result)
    app.public.update_device_status(AccessToken=alice_result["AccessToken"], DeviceKey=alice_device.key, DeviceRememberedStatus="remembered")

    # Bob names Alice's device: it does not exist for him, and the same proof then works
    # without it, as amazon-cognito-identity-js retries.
    helper = srp(app, bob, alice_device)
    params = helper.get_auth_params()
    first = app.public.initiate_auth(ClientId=app.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    responses = helper.process_challenge(first["ChallengeParameters"], params)
    expect_error(
        "ResourceNotFoundException", app.public.respond_to_auth_challenge, ClientId=app.client_id,
        ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses, message="Device does not exist.",
    )
    responses.pop("DEVICE_KEY")
    bob_result = app.public.respond_to_auth_challenge(ClientId=app.client_id, ChallengeName="PASSWORD_VERIFIER", ChallengeResponses=responses)
    assert "NewDeviceMetadata" in bob_result["AuthenticationResult"]

    # Alice's device with the wrong device password proves nothing.
    impostor = Device(alice_device.key, alice_device.group_key, "not-the-device-password")
    helper = srp(app, alice, impostor)
    challenge = password_step(app, helper)
    expect_error("NotAuthorizedException", device_steps, app, helper, challenge, alice)

    # DEVICE_SRP_AUTH without the password step's session is refused.
    from pycognito.aws_srp import long_to_hex

    helper = srp(app, alice, alice_device)
    expect_error(
        "NotAuthorizedException", app.public.respond_to_auth_challenge, ClientId=app.client_id, ChallengeName="DEVICE_SRP_AUTH",
        ChallengeResponses={"USERNAME": alice, "DEVICE_KEY": alice_device.key, "SRP_A": long_to_hex(helper.large_a_value)},
    )
    # The real device still signs in; Bob cannot list or forget Alice's device.
    helper = srp(app, alice, alice_device)
    assert "AuthenticationResult" in device_steps(app, helper, password_step(app, helper), alice)
    bob_access = bob_result["AuthenticationResult"]["AccessToken"]
    expect_error("ResourceNotFoundException", app.public.forget_device, AccessToken=bob_access, DeviceKey=alice_device.key)
    expect_error("ResourceNotFoundException", app.public.update_device_status, AccessToken=bob_access, DeviceKey=alice_device.key, DeviceRememberedStatus="not_remembered")
    # A device is confirmed only with the access token of the sign-in it was issued to.
    other = app.sign_in(bob)
    _, config = generate_hash_device("-x", "y")
    expect_error(
        "ResourceNotFoundException", app.public.confirm_device, AccessToken=other["AccessToken"],
        DeviceKey=bob_result["AuthenticationResult"]["NewDeviceMetadata"]["DeviceKey"], DeviceSecretVerifierConfig=config,
    )


def test_administrators_manage_devices(device_app):
    app = device_app
    username = app.user()
    result = app.sign_in(username)
    device = new_device(app, result, name="phone")
    app.idp.admin_update_device_status(UserPoolId=app.pool_id, Username=username, DeviceKey=device.key, DeviceRememberedStatus="remembered")
    got = app.idp.admin_get_device(UserPoolId=app.pool_id, Username=username, DeviceKey=device.key)["Device"]
    assert attributes(got)["dev:device_remembered_status"] == "remembered"
    assert {"DeviceCreateDate", "DeviceLastModifiedDate", "DeviceLastAuthenticatedDate"} <= set(got)
    app.idp.admin_forget_device(UserPoolId=app.pool_id, Username=username, DeviceKey=device.key)
    expect_error("ResourceNotFoundException", app.idp.admin_get_device, UserPoolId=app.pool_id, Username=username, DeviceKey=device.key)
    expect_error("ResourceNotFoundException", app.idp.admin_forget_device, UserPoolId=app.pool_id, Username=username, DeviceKey=device.key)


def test_a_pool_without_device_tracking_issues_no_devices(make_auth_app):
    app = make_auth_app(client={"ExplicitAuthFlows": FLOWS}, AutoVerifiedAttributes=["email"])
    username = app.user()
    result = app.sign_in(username)
    assert "NewDeviceMetadata" not in result
    assert "device_key" not in jwt_claims(result["AccessToken"])
    assert app.public.list_devices(AccessToken=result["AccessToken"])["Devices"] == []
