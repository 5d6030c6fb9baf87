"""Amplify JS v6 (npm `aws-amplify`) MFA against the shared server of each backend, run with
`node --test` from tests/e2e/js (the pattern of test_amplify.py, sharing test_js_clients.py's
`node` fixture and `run_node_test`):

  amplify-mfa.test.mjs  in an OPTIONAL pool: setUpTOTP / getSetupUri, verifyTOTPSetup (a wrong
                        code refused with EnableSoftwareTokenMFAException), updateMFAPreference
                        and fetchMFAPreference; signIn over SRP and USER_PASSWORD_AUTH stopping at
                        CONFIRM_SIGN_IN_WITH_TOTP_CODE, confirmSignIn refusing the code
                        verifyTOTPSetup used (ExpiredCodeException) and a wrong one
                        (CodeMismatchException) before signing in; EMAIL_OTP as the second factor
                        (CONFIRM_SIGN_IN_WITH_EMAIL_CODE, an 8-digit code read from the outbox);
                        SMS and TOTP without a preference (CONTINUE_SIGN_IN_WITH_MFA_SELECTION,
                        then the TOTP step or CONFIRM_SIGN_IN_WITH_SMS_CODE with a 6-digit
                        outbox code). In an ON pool with TOTP only: CONTINUE_SIGN_IN_WITH_TOTP_SETUP,
                        Amplify's VerifySoftwareToken with the session and MFA_SETUP answer, and
                        the TOTP step at the next sign-in. Every sign-in's tokens are checked
                        through fetchAuthSession and accepted by GetUser.

This driver makes the two pools, their public clients and four confirmed users through boto3
(admin API, root credentials), hands them and the root access key (for the SigV4-signed
GET /admin/outbox the node test reads codes from) to node in TESSERA_E2E_* variables, and
afterwards checks through the admin API that what Amplify set up is what tessera stored.
"""

from __future__ import annotations

from helpers import REGION, attribute_dict, attribute_list, unique
from test_js_clients import confirmed_user, new_client, node, run_node_test  # noqa: F401 (node is a fixture)

TOTP = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
# The messages the node test reads its codes from.
EMAIL = {"EmailMfaConfiguration": {"Message": "Your sign-in code is {####}", "Subject": "Sign-in code"}}
SMS = {
    "SmsMfaConfiguration": {
        "SmsAuthenticationMessage": "Your MFA code is {####}",
        "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "x"},
    }
}
# Amplify signs in over SRP by default and with USER_PASSWORD_AUTH when told; refresh is for
# fetchAuthSession. Nothing else is allowed.
FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
PHONE = "+15555550123"


def mfa_pool(idp, make_pool, mode: str, *factors: dict) -> tuple[dict, dict]:
    pool = make_pool(PoolName=unique("e2e-amplify-mfa"))
    config: dict = {}
    for factor in factors:
        config.update(factor)
    idp.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration=mode, **config)
    return pool, new_client(idp, pool["Id"], FLOWS)


def mfa_state(idp, pool_id: str, username: str) -> tuple[list[str], str | None, dict]:
    user = idp.admin_get_user(UserPoolId=pool_id, Username=username)
    return user.get("UserMFASettingList", []), user.get("PreferredMfaSetting"), attribute_dict(user["UserAttributes"])


def test_amplify_js_v6_mfa(server, make_pool, node):
    idp = server.client()
    optional, optional_client = mfa_pool(idp, make_pool, "OPTIONAL", TOTP, EMAIL, SMS)
    required, required_client = mfa_pool(idp, make_pool, "ON", TOTP)

    totp_user = confirmed_user(idp, optional["Id"])
    email_user = confirmed_user(idp, optional["Id"])
    choice_user = confirmed_user(idp, optional["Id"])
    idp.admin_update_user_attributes(
        UserPoolId=optional["Id"], Username=choice_user["username"], UserAttributes=attribute_list({"phone_number": PHONE})
    )
    setup_user = confirmed_user(idp, required["Id"])
    # Nobody starts with a factor: everything the checks below find, Amplify turned on.
    for pool_id, user in ((optional["Id"], totp_user), (optional["Id"], email_user), (optional["Id"], choice_user), (required["Id"], setup_user)):
        assert mfa_state(idp, pool_id, user["username"])[:2] == ([], None)
    akid, secret = server.root_credentials()

    run_node_test(
        node,
        "amplify-mfa.test.mjs",
        {
            # Amplify uses userPoolEndpoint as the request URL as it is, so the bare base URL.
            "TESSERA_E2E_ENDPOINT": server.url,
            "TESSERA_E2E_REGION": REGION,
            "TESSERA_E2E_ADMIN_KEY_ID": akid,
            "TESSERA_E2E_ADMIN_SECRET": secret,
            "TESSERA_E2E_OPTIONAL_POOL_ID": optional["Id"],
            "TESSERA_E2E_OPTIONAL_CLIENT_ID": optional_client["ClientId"],
            "TESSERA_E2E_REQUIRED_POOL_ID": required["Id"],
            "TESSERA_E2E_REQUIRED_CLIENT_ID": required_client["ClientId"],
            "TESSERA_E2E_PASSWORD": totp_user["password"],
            "TESSERA_E2E_TOTP_USER": totp_user["username"],
            "TESSERA_E2E_EMAIL_USER": email_user["username"],
            "TESSERA_E2E_CHOICE_USER": choice_user["username"],
            "TESSERA_E2E_CHOICE_PHONE": PHONE,
            "TESSERA_E2E_SETUP_USER": setup_user["username"],
        },
        min_passed=16,
    )

    # What Amplify set up is stored: each user's factors and preference, as an administrator
    # sees them.
    assert mfa_state(idp, optional["Id"], totp_user["username"])[:2] == (["SOFTWARE_TOKEN_MFA"], "SOFTWARE_TOKEN_MFA")
    assert mfa_state(idp, optional["Id"], email_user["username"])[:2] == (["EMAIL_OTP"], "EMAIL_OTP")
    factors, preferred, attributes = mfa_state(idp, optional["Id"], choice_user["username"])
    assert sorted(factors) == ["SMS_MFA", "SOFTWARE_TOKEN_MFA"] and preferred is None
    # The phone number that answered an SMS code is verified.
    assert attributes["phone_number_verified"] == "true"
    factors, _, _ = mfa_state(idp, required["Id"], setup_user["username"])
    assert factors == ["SOFTWARE_TOKEN_MFA"]
    auth_factors = idp.admin_get_user_auth_factors(UserPoolId=required["Id"], Username=setup_user["username"])
    assert auth_factors["ConfiguredUserAuthFactors"] == ["PASSWORD", "SOFTWARE_TOKEN"]
