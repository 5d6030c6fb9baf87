"""Amplify JS v6 (npm `aws-amplify`) remembered devices against the shared server of each
backend, run with `node --test` from tests/e2e/js (the pattern of test_amplify_mfa.py, sharing
test_js_clients.py's `node` fixture and `run_node_test`):

  amplify-devices.test.mjs  in a pool with DeviceConfiguration {ChallengeRequiredOnNewDevice:
                            true, DeviceOnlyRememberedOnUserPrompt: true} and TOTP MFA OPTIONAL
                            (the user's TOTP preferred): signIn stops at the TOTP step and
                            confirmSignIn signs in, Amplify confirming the new device by itself
                            (ConfirmDevice, UserConfirmationNecessary true); the device, known
                            but not remembered, does not replace the TOTP step and Amplify
                            proves it afterwards (DEVICE_SRP_AUTH, DEVICE_PASSWORD_VERIFIER);
                            rememberDevice (UpdateDeviceStatus) and fetchDevices (ListDevices,
                            with the device's name); the next signIn signs straight in through
                            the device exchange with no MFA step; fetchAuthSession({
                            forceRefresh: true }) sends GetTokensFromRefreshToken with the
                            DeviceKey; forgetDevice (ForgetDevice) clears the stored device and
                            ends its refresh token, and the next signIn asks for TOTP again.
                            In a pool with DeviceOnlyRememberedOnUserPrompt false: the confirmed
                            device is remembered at once (UserConfirmationNecessary false) and
                            the second signIn skips MFA without rememberDevice, over SRP and
                            USER_PASSWORD_AUTH; a second browser forgets the first one's device
                            with forgetDevice({device}), after which the first browser's refresh
                            is refused and its signIn, naming the forgotten device, is answered
                            `Device does not exist.`, which Amplify handles by signing in again
                            without it (the TOTP step, and a new device).

This driver makes the two pools, their public clients and a confirmed user in each through
boto3 (admin API, root credentials), turns TOTP on for each user with the public API (a
USER_PASSWORD_AUTH sign-in whose NewDeviceMetadata nobody confirms, AssociateSoftwareToken,
VerifySoftwareToken, SetUserMFAPreference), hands the secrets to node, and afterwards checks
through AdminListDevices and AdminGetDevice that the devices tessera stored are the ones
Amplify confirmed, remembered or forgot.
"""

from __future__ import annotations

import json
import time

import pyotp

from helpers import attribute_dict, expect_error, unique
from test_js_clients import confirmed_user, new_client, node, run_node_test  # noqa: F401 (node is a fixture)

TOTP = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
# Amplify signs in over SRP by default and with USER_PASSWORD_AUTH when told (so does the
# enrolment below); refresh is for fetchAuthSession.
FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
# The names amplify-devices.test.mjs gives Amplify as navigator.userAgent.
DEVICE_NAME = "tessera-e2e"
SECOND_DEVICE_NAME = "tessera-e2e-second-browser"


def device_pool(idp, make_pool, only_remembered_on_user_prompt: bool) -> tuple[dict, dict]:
    pool = make_pool(
        PoolName=unique("e2e-amplify-devices"),
        DeviceConfiguration={
            "ChallengeRequiredOnNewDevice": True,
            "DeviceOnlyRememberedOnUserPrompt": only_remembered_on_user_prompt,
        },
    )
    idp.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration="OPTIONAL", **TOTP)
    return pool, new_client(idp, pool["Id"], FLOWS)


def enrol_totp(public, client_id: str, user: dict) -> tuple[str, int]:
    """Turns TOTP on and preferred for `user`; returns the secret and the 30-second step whose
    code the verification used up (the previous one, so the node test has the current and the
    next step at once)."""
    result = public.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user["username"], "PASSWORD": user["password"]},
    )["AuthenticationResult"]
    # The pool tracks devices: this sign-in, too, is issued one, which is never confirmed.
    assert "NewDeviceMetadata" in result, result
    access = result["AccessToken"]
    secret = public.associate_software_token(AccessToken=access)["SecretCode"]
    # Far enough from the end of the step that the previous step is still accepted when the
    # code arrives.
    while 30 - time.time() % 30 < 5:
        time.sleep(0.5)
    step = int(time.time() // 30) - 1
    code = pyotp.TOTP(secret).at(step * 30)
    assert public.verify_software_token(AccessToken=access, UserCode=code, FriendlyDeviceName="authenticator")["Status"] == "SUCCESS"
    public.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    return secret, step


# The attributes of a device the checks below look at; Cognito's administrator view has more
# (dev:device_arn, dev:device_owner, last_ip_used, ...).
CHECKED = ("device_status", "device_name", "dev:device_remembered_status")


def devices_of(idp, pool_id: str, username: str) -> dict[str, dict]:
    """The user's devices as an administrator sees them: key -> the CHECKED attributes."""
    devices = idp.admin_list_devices(UserPoolId=pool_id, Username=username)["Devices"]
    return {
        device["DeviceKey"]: {name: value for name, value in attribute_dict(device["DeviceAttributes"]).items() if name in CHECKED}
        for device in devices
    }


def test_amplify_js_v6_remembered_devices(server, make_pool, node, tmp_path):
    idp = server.client()
    public = server.unsigned_client()
    prompt, prompt_client = device_pool(idp, make_pool, True)
    always, always_client = device_pool(idp, make_pool, False)
    prompt_user = confirmed_user(idp, prompt["Id"])
    always_user = confirmed_user(idp, always["Id"])
    prompt_secret, prompt_step = enrol_totp(public, prompt_client["ClientId"], prompt_user)
    always_secret, always_step = enrol_totp(public, always_client["ClientId"], always_user)
    # A device issued at sign-in but never confirmed is not one of the user's devices: nobody
    # starts with one.
    assert devices_of(idp, prompt["Id"], prompt_user["username"]) == {}
    assert devices_of(idp, always["Id"], always_user["username"]) == {}
    results = tmp_path / "devices.json"

    run_node_test(
        node,
        "amplify-devices.test.mjs",
        {
            # Amplify uses userPoolEndpoint as the request URL as it is, so the bare base URL.
            "TESSERA_E2E_ENDPOINT": server.url,
            "TESSERA_E2E_PROMPT_POOL_ID": prompt["Id"],
            "TESSERA_E2E_PROMPT_CLIENT_ID": prompt_client["ClientId"],
            "TESSERA_E2E_ALWAYS_POOL_ID": always["Id"],
            "TESSERA_E2E_ALWAYS_CLIENT_ID": always_client["ClientId"],
            "TESSERA_E2E_PASSWORD": prompt_user["password"],
            "TESSERA_E2E_PROMPT_USER": prompt_user["username"],
            "TESSERA_E2E_ALWAYS_USER": always_user["username"],
            "TESSERA_E2E_PROMPT_SECRET": prompt_secret,
            "TESSERA_E2E_ALWAYS_SECRET": always_secret,
            "TESSERA_E2E_PROMPT_USED_STEP": str(prompt_step),
            "TESSERA_E2E_ALWAYS_USED_STEP": str(always_step),
            "TESSERA_E2E_RESULTS": str(results),
        },
        min_passed=12,
    )
    keys = json.loads(results.read_text())

    # The opt-in pool: the device Amplify remembered and then forgot is gone; the one confirmed
    # after it is stored with Amplify's name and, nobody having asked, is not remembered.
    pool_id, username = prompt["Id"], prompt_user["username"]
    current = keys["prompt"]["current"]
    assert devices_of(idp, pool_id, username) == {
        current: {"device_status": "valid", "device_name": DEVICE_NAME, "dev:device_remembered_status": "not_remembered"},
    }
    device = idp.admin_get_device(UserPoolId=pool_id, Username=username, DeviceKey=current)["Device"]
    assert attribute_dict(device["DeviceAttributes"])["dev:device_remembered_status"] == "not_remembered"
    expect_error(
        "ResourceNotFoundException", idp.admin_get_device,
        UserPoolId=pool_id, Username=username, DeviceKey=keys["prompt"]["forgotten"], message="Device does not exist.",
    )

    # The pool that always remembers: both browsers' current devices are remembered without an
    # UpdateDeviceStatus, each under the name its browser gave; the forgotten one is gone.
    pool_id, username = always["Id"], always_user["username"]
    second, current = keys["always"]["second"], keys["always"]["current"]
    assert devices_of(idp, pool_id, username) == {
        second: {"device_status": "valid", "device_name": SECOND_DEVICE_NAME, "dev:device_remembered_status": "remembered"},
        current: {"device_status": "valid", "device_name": DEVICE_NAME, "dev:device_remembered_status": "remembered"},
    }
    for key in (second, current):
        device = idp.admin_get_device(UserPoolId=pool_id, Username=username, DeviceKey=key)["Device"]
        assert attribute_dict(device["DeviceAttributes"])["dev:device_remembered_status"] == "remembered"
        assert device["DeviceCreateDate"] <= device["DeviceLastAuthenticatedDate"]
    expect_error(
        "ResourceNotFoundException", idp.admin_get_device,
        UserPoolId=pool_id, Username=username, DeviceKey=keys["always"]["forgotten"], message="Device does not exist.",
    )
