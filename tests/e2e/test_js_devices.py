"""amazon-cognito-identity-js (npm) through tessera's remembered devices, on both backends, run
with `node --test` from tests/e2e/js (the pattern of test_js_mfa.py, whose user helper it
shares, and of test_js_clients.py, whose `node` fixture and `run_node_test` it shares):

  cognito-identity-js-devices.test.mjs  the library's own callbacks and device methods: in a pool
                                        that remembers devices on the user's say-so
                                        (ChallengeRequiredOnNewDevice and
                                        DeviceOnlyRememberedOnUserPrompt true, TOTP MFA OPTIONAL
                                        and preferred) totpRequired and sendMFACode end in
                                        onSuccess(session, true) after the library confirmed the
                                        device itself; setDeviceStatusRemembered, listDevices and
                                        getDevice; a sign-in with no MFA callback at all, the
                                        library answering DEVICE_SRP_AUTH itself; after
                                        setDeviceStatusNotRemembered MFA first and the device
                                        proof after it; refreshSession with the device's refresh
                                        token, refused (NotAuthorizedException) once
                                        forgetSpecificDevice forgot the device; the library's
                                        retry without a forgotten device (`Device does not
                                        exist.`) and forgetDevice; and in a pool that always
                                        remembers, onSuccess without the confirmation flag and
                                        the next sign-in without MFA

This driver makes the two pools, their clients and one user in each through boto3, and enrols
each user's software token (AssociateSoftwareToken, VerifySoftwareToken, SetUserMFAPreference
over a USER_PASSWORD_AUTH sign-in, whose device is never confirmed), handing node the secret
and the step it used up. Afterwards it checks through the admin API what the library left
stored: the devices it confirmed, their names and remembered status, and that the forgotten
ones are gone.
"""

from __future__ import annotations

import json
import time

import pyotp

from helpers import PASSWORD, attribute_dict, expect_error, unique
from test_js_clients import new_client, node, run_node_test  # noqa: F401 (node is a fixture)
from test_js_mfa import TOTP, user_with

# The library signs in over SRP and refreshes; USER_PASSWORD_AUTH is for the driver's
# enrolment sign-in only.
FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
PROMPT = {"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": True}
ALWAYS = {"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": False}


def device_pool(idp, make_pool, name: str, devices: dict) -> tuple[dict, dict]:
    """A pool that tracks devices as told, with TOTP MFA OPTIONAL, and its client."""
    pool = make_pool(PoolName=unique(name), DeviceConfiguration=devices)
    assert idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]["DeviceConfiguration"] == devices
    idp.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration="OPTIONAL", **TOTP)
    return pool, new_client(idp, pool["Id"], FLOWS)


def enrol(public, idp, pool_id: str, client_id: str, username: str) -> tuple[str, int]:
    """Turns on a preferred software token for the user; returns its secret and the step whose
    code verified it (used up, so node starts after it)."""
    result = public.initiate_auth(
        ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD}
    )["AuthenticationResult"]
    # This sign-in is issued a device too, but nobody confirms it, so it is not the user's.
    assert "NewDeviceMetadata" in result
    access = result["AccessToken"]
    secret = public.associate_software_token(AccessToken=access)["SecretCode"]
    while 30 - time.time() % 30 < 10:
        time.sleep(0.5)
    used = int(time.time() // 30) - 1
    code = pyotp.TOTP(secret).at(used * 30)
    assert public.verify_software_token(AccessToken=access, UserCode=code, FriendlyDeviceName="phone")["Status"] == "SUCCESS"
    public.set_user_mfa_preference(AccessToken=access, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True})
    assert idp.admin_get_user(UserPoolId=pool_id, Username=username)["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    assert idp.admin_list_devices(UserPoolId=pool_id, Username=username)["Devices"] == []
    return secret, used


def test_amazon_cognito_identity_js_devices(server, make_pool, node, tmp_path):
    idp = server.client()
    public = server.unsigned_client()
    prompt_pool, prompt_client = device_pool(idp, make_pool, "e2e-js-devices-prompt", PROMPT)
    always_pool, always_client = device_pool(idp, make_pool, "e2e-js-devices-always", ALWAYS)
    prompt_user = user_with(idp, prompt_pool["Id"], "js-device")
    always_user = user_with(idp, always_pool["Id"], "js-always")
    prompt_secret, prompt_step = enrol(public, idp, prompt_pool["Id"], prompt_client["ClientId"], prompt_user)
    always_secret, always_step = enrol(public, idp, always_pool["Id"], always_client["ClientId"], always_user)

    report_path = tmp_path / "devices.json"
    run_node_test(
        node,
        "cognito-identity-js-devices.test.mjs",
        {
            "TESSERA_E2E_ENDPOINT": server.url + "/",
            "TESSERA_E2E_PROMPT_POOL_ID": prompt_pool["Id"],
            "TESSERA_E2E_PROMPT_CLIENT_ID": prompt_client["ClientId"],
            "TESSERA_E2E_ALWAYS_POOL_ID": always_pool["Id"],
            "TESSERA_E2E_ALWAYS_CLIENT_ID": always_client["ClientId"],
            "TESSERA_E2E_PROMPT_USER": prompt_user,
            "TESSERA_E2E_PROMPT_TOTP_SECRET": prompt_secret,
            "TESSERA_E2E_PROMPT_TOTP_STEP": str(prompt_step),
            "TESSERA_E2E_ALWAYS_USER": always_user,
            "TESSERA_E2E_ALWAYS_TOTP_SECRET": always_secret,
            "TESSERA_E2E_ALWAYS_TOTP_STEP": str(always_step),
            "TESSERA_E2E_PASSWORD": PASSWORD,
            "TESSERA_E2E_REPORT": str(report_path),
        },
        min_passed=9,
    )
    report = json.loads(report_path.read_text())
    # Node 20 has no global navigator, so the library names its devices 'nodejs'.
    assert report["deviceName"] == "nodejs", report

    # The prompt pool's user has exactly the device of the last sign-in, confirmed by the
    # library under its name and not remembered (nobody said yes to it); the two it forgot are
    # gone for the administrator too.
    listed = idp.admin_list_devices(UserPoolId=prompt_pool["Id"], Username=prompt_user)["Devices"]
    assert [d["DeviceKey"] for d in listed] == [report["prompt"]]
    stored = idp.admin_get_device(UserPoolId=prompt_pool["Id"], Username=prompt_user, DeviceKey=report["prompt"])["Device"]
    attributes = attribute_dict(stored["DeviceAttributes"])
    assert attributes["device_status"] == "valid"
    assert attributes["device_name"] == report["deviceName"]
    assert attributes["dev:device_remembered_status"] == "not_remembered"
    for key in report["forgotten"]:
        expect_error(
            "ResourceNotFoundException",
            idp.admin_get_device,
            UserPoolId=prompt_pool["Id"],
            Username=prompt_user,
            DeviceKey=key,
            message="Device does not exist.",
        )

    # The always pool's device was remembered at ConfirmDevice, and its last sign-in was the
    # device's own proof.
    [always] = idp.admin_list_devices(UserPoolId=always_pool["Id"], Username=always_user)["Devices"]
    assert always["DeviceKey"] == report["always"]
    stored = idp.admin_get_device(UserPoolId=always_pool["Id"], Username=always_user, DeviceKey=report["always"])["Device"]
    attributes = attribute_dict(stored["DeviceAttributes"])
    assert attributes["dev:device_remembered_status"] == "remembered"
    assert attributes["device_name"] == report["deviceName"]
    assert stored["DeviceLastAuthenticatedDate"] >= stored["DeviceCreateDate"]
