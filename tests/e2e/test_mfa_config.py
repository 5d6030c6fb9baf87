"""Issue 13, MFA configuration: SetUserPoolMfaConfig and GetUserPoolMfaConfig through boto3
and the AWS CLI, with Cognito's refusals, and what DescribeUserPool and UpdateUserPool show
and keep of it."""

from __future__ import annotations

from helpers import expect_error
from test_cli import aws_cli, ok_json

TOTP = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
EMAIL = {"EmailMfaConfiguration": {"Message": "Your sign-in code is {####}", "Subject": "Sign-in code"}}
SMS = {"SmsMfaConfiguration": {"SmsAuthenticationMessage": "Your code is {####}", "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "x"}}}
WEB_AUTHN = {"WebAuthnConfiguration": {"RelyingPartyId": "auth.example.com", "UserVerification": "preferred"}}


def mfa_config(idp, pool_id: str) -> dict:
    out = idp.get_user_pool_mfa_config(UserPoolId=pool_id)
    out.pop("ResponseMetadata")
    return out


def test_a_new_pool_has_mfa_off(idp, pool):
    assert mfa_config(idp, pool["Id"]) == {"MfaConfiguration": "OFF"}


def test_totp_email_and_sms_are_stored_and_returned(idp, pool):
    out = idp.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration="OPTIONAL", **TOTP, **EMAIL, **SMS, **WEB_AUTHN)
    out.pop("ResponseMetadata")
    expected = {"MfaConfiguration": "OPTIONAL", **TOTP, **EMAIL, **SMS, **WEB_AUTHN}
    assert out == expected
    assert mfa_config(idp, pool["Id"]) == expected
    # The pool's own members show the mode and the SMS settings; nothing else of it.
    described = idp.describe_user_pool(UserPoolId=pool["Id"])["UserPool"]
    assert described["MfaConfiguration"] == "OPTIONAL"
    assert described["SmsAuthenticationMessage"] == "Your code is {####}"
    assert described["SmsConfiguration"]["SnsCallerArn"] == "arn:aws:iam::123456789012:role/sms"
    assert not any(key.startswith("tessera") or "SoftwareToken" in key for key in described)
    # UpdateUserPool keeps the TOTP, e-mail and passkey settings, which it cannot name.
    idp.update_user_pool(UserPoolId=pool["Id"], MfaConfiguration="OPTIONAL", SmsConfiguration=SMS["SmsMfaConfiguration"]["SmsConfiguration"])
    assert mfa_config(idp, pool["Id"])["SoftwareTokenMfaConfiguration"] == {"Enabled": True}
    assert mfa_config(idp, pool["Id"])["WebAuthnConfiguration"] == WEB_AUTHN["WebAuthnConfiguration"]

    # Turning MFA off again, with only passkeys configured, is accepted.
    idp.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration="OFF", **WEB_AUTHN)
    assert mfa_config(idp, pool["Id"]) == {"MfaConfiguration": "OFF", **WEB_AUTHN}


def test_cognitos_refusals(idp, pool):
    for factor in (TOTP, EMAIL, SMS):
        expect_error(
            "InvalidParameterException",
            idp.set_user_pool_mfa_config,
            UserPoolId=pool["Id"],
            MfaConfiguration="OFF",
            **factor,
            message="Invalid MFA configuration given, can't turn off MFA and configure an MFA together.",
        )
    for mode, extra in (("ON", {}), ("OPTIONAL", WEB_AUTHN), ("ON", {"SoftwareTokenMfaConfiguration": {"Enabled": False}})):
        expect_error(
            "InvalidParameterException",
            idp.set_user_pool_mfa_config,
            UserPoolId=pool["Id"],
            MfaConfiguration=mode,
            **extra,
            message="Invalid MFA Configuration given. SMS MFA, Email MFA, or Software Token MFA must be enabled.",
        )
    # Nothing was changed by the refusals.
    assert mfa_config(idp, pool["Id"]) == {"MfaConfiguration": "OFF"}
    expect_error(
        "ResourceNotFoundException",
        idp.get_user_pool_mfa_config,
        UserPoolId="us-east-1_NoSuchPool",
    )


def test_the_aws_cli_sets_and_reads_the_configuration(server, pool, tmp_path):
    credentials = server.credentials_file
    set_ = aws_cli(
        server,
        [
            "set-user-pool-mfa-config", "--user-pool-id", pool["Id"],
            "--mfa-configuration", "ON", "--software-token-mfa-configuration", "Enabled=true",
        ],
        credentials,
        tmp_path,
    )
    assert ok_json(set_) == {"MfaConfiguration": "ON", "SoftwareTokenMfaConfiguration": {"Enabled": True}}
    got = aws_cli(server, ["get-user-pool-mfa-config", "--user-pool-id", pool["Id"]], credentials, tmp_path)
    assert ok_json(got) == {"MfaConfiguration": "ON", "SoftwareTokenMfaConfiguration": {"Enabled": True}}


def test_create_and_update_user_pool_configure_only_sms_mfa(idp, make_pool):
    sms_configuration = SMS["SmsMfaConfiguration"]["SmsConfiguration"]
    expect_error(
        "InvalidParameterException",
        make_pool,
        MfaConfiguration="ON",
        message="SMS configuration and Auto verification for phone_number are required when MFA is required/optional",
    )
    pool = make_pool(MfaConfiguration="OPTIONAL", SmsConfiguration=sms_configuration, AutoVerifiedAttributes=["phone_number"])
    assert mfa_config(idp, pool["Id"]) == {
        "MfaConfiguration": "OPTIONAL",
        "SmsMfaConfiguration": {"SmsConfiguration": sms_configuration},
    }
    idp.set_user_pool_mfa_config(UserPoolId=pool["Id"], MfaConfiguration="ON", **TOTP)
    # An UpdateUserPool that leaves MfaConfiguration out turns MFA off (it resets what it
    # omits), and then no factor is left configured.
    idp.update_user_pool(UserPoolId=pool["Id"], LambdaConfig={})
    assert mfa_config(idp, pool["Id"]) == {"MfaConfiguration": "OFF"}
    expect_error(
        "InvalidParameterException",
        idp.update_user_pool,
        UserPoolId=pool["Id"],
        MfaConfiguration="ON",
        message="SMS configuration and Auto verification for phone_number are required when MFA is required/optional",
    )
    assert mfa_config(idp, pool["Id"]) == {"MfaConfiguration": "OFF"}
