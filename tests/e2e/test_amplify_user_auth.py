"""Amplify JS v6 (npm `aws-amplify`) choice-based sign-in (USER_AUTH, docs/design/mfa-facts.md
section 5) against the shared server of each backend, run with `node --test` from tests/e2e/js
(the pattern of test_amplify_mfa.py, sharing test_js_clients.py's `node` fixture and
`run_node_test`):

  amplify-user-auth.test.mjs  signIn with authFlowType USER_AUTH and no preference stopping at
                              CONTINUE_SIGN_IN_WITH_FIRST_FACTOR_SELECTION with the
                              availableChallenges tessera offers; the choice answered with
                              EMAIL_OTP (CONFIRM_SIGN_IN_WITH_EMAIL_CODE, an eight-digit code
                              from the outbox), with PASSWORD and with PASSWORD_SRP (Amplify's
                              two-step CONFIRM_SIGN_IN_WITH_PASSWORD); preferredChallenge
                              EMAIL_OTP (a wrong code refused with CodeMismatchException, the
                              right one still accepted), SMS_OTP (CONFIRM_SIGN_IN_WITH_SMS_CODE),
                              PASSWORD (one InitiateAuth) and PASSWORD_SRP (through
                              PASSWORD_VERIFIER); a preference the user cannot use falling back
                              to the choice; a hidden unknown user asked for a code that never
                              matches; a TOTP user asked for the TOTP code after a password but
                              not after an e-mail code. Every sign-in's tokens are checked
                              through fetchAuthSession and GetUser, and a forced refresh works.

This driver makes the pool (first factors PASSWORD, EMAIL_OTP and SMS_OTP; MFA OPTIONAL with
TOTP), its public client (ALLOW_USER_AUTH and refresh only, so every password sign-in went
through USER_AUTH) and three confirmed users through boto3, enrols the TOTP user's
authenticator through the public API, hands everything to node in TESSERA_E2E_* variables, and
afterwards checks through the admin API and the outbox that the sign-ins changed nothing they
should not have and sent exactly the codes the node test used.
"""

from __future__ import annotations

import re
import time

import pyotp

from helpers import REGION, attribute_dict, attribute_list, read_outbox, unique
from test_js_clients import confirmed_user, new_client, node, run_node_test  # noqa: F401 (node is a fixture)

FACTORS = ["PASSWORD", "EMAIL_OTP", "SMS_OTP"]
SMS = {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "x"}
# USER_AUTH for every sign-in, refresh for fetchAuthSession; neither SRP nor USER_PASSWORD_AUTH
# is allowed, so the password branches of USER_AUTH cannot have borrowed those flows.
FLOWS = ["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
PHONE = "+15555550147"


def enrol_totp(public, client_id: str, user: dict) -> tuple[str, int]:
    """Signs the user in with USER_AUTH and a password, associates and verifies a software token
    and makes it the preferred factor; returns the secret and the 30-second step whose code the
    verification used (so the node test never offers that code again)."""
    tokens = public.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_AUTH",
        AuthParameters={"USERNAME": user["username"], "PREFERRED_CHALLENGE": "PASSWORD", "PASSWORD": user["password"]},
    )["AuthenticationResult"]
    secret = public.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
    # The code of the current step, taken with at least ten seconds of it left.
    while 30 - time.time() % 30 < 10:
        time.sleep(0.5)
    now = time.time()
    step = int(now // 30)
    verified = public.verify_software_token(
        AccessToken=tokens["AccessToken"], UserCode=pyotp.TOTP(secret).at(now), FriendlyDeviceName="amplify-totp"
    )
    assert verified["Status"] == "SUCCESS", verified
    public.set_user_mfa_preference(
        AccessToken=tokens["AccessToken"], SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    return secret, step


def codes(messages: list[dict], channel: str) -> list[str]:
    """The eight-digit code of each outbox message sent over `channel`."""
    found = []
    for message in messages:
        if message["channel"] == channel:
            match = re.search(r"\b\d{8}\b", message["body"])
            assert match, message
            found.append(match.group(0))
    return found


def test_amplify_js_v6_user_auth(server, make_pool, node):
    idp = server.client()
    public = server.unsigned_client()
    pool = make_pool(
        PoolName=unique("e2e-amplify-user-auth"),
        AutoVerifiedAttributes=["email"],
        Policies={"SignInPolicy": {"AllowedFirstAuthFactors": FACTORS}},
        SmsConfiguration=SMS,
    )
    idp.set_user_pool_mfa_config(
        UserPoolId=pool["Id"], MfaConfiguration="OPTIONAL", SoftwareTokenMfaConfiguration={"Enabled": True}
    )
    client = new_client(idp, pool["Id"], FLOWS)
    client_id = client["ClientId"]

    # A user with a verified e-mail address and a verified phone number: every factor is theirs.
    choice_user = confirmed_user(idp, pool["Id"])
    idp.admin_update_user_attributes(
        UserPoolId=pool["Id"],
        Username=choice_user["username"],
        UserAttributes=attribute_list({"phone_number": PHONE, "phone_number_verified": "true"}),
    )
    # A user whose e-mail address is not verified: only the password is offered.
    unverified_user = confirmed_user(idp, pool["Id"])
    idp.admin_update_user_attributes(
        UserPoolId=pool["Id"],
        Username=unverified_user["username"],
        UserAttributes=attribute_list({"email_verified": "false"}),
    )
    # A user with a verified e-mail address and TOTP on and preferred.
    totp_user = confirmed_user(idp, pool["Id"])
    secret, used_step = enrol_totp(public, client_id, totp_user)
    before = {
        user["username"]: idp.admin_get_user(UserPoolId=pool["Id"], Username=user["username"])
        for user in (choice_user, unverified_user, totp_user)
    }
    assert before[totp_user["username"]]["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    # Nothing has been sent to anyone yet.
    assert read_outbox(server, pool_id=pool["Id"]) == []
    akid, admin_secret = server.root_credentials()

    run_node_test(
        node,
        "amplify-user-auth.test.mjs",
        {
            # Amplify uses userPoolEndpoint as the request URL as it is, so the bare base URL.
            "TESSERA_E2E_ENDPOINT": server.url,
            "TESSERA_E2E_REGION": REGION,
            "TESSERA_E2E_ADMIN_KEY_ID": akid,
            "TESSERA_E2E_ADMIN_SECRET": admin_secret,
            "TESSERA_E2E_POOL_ID": pool["Id"],
            "TESSERA_E2E_CLIENT_ID": client_id,
            "TESSERA_E2E_PASSWORD": choice_user["password"],
            "TESSERA_E2E_CHOICE_USER": choice_user["username"],
            "TESSERA_E2E_CHOICE_PHONE": PHONE,
            "TESSERA_E2E_UNVERIFIED_USER": unverified_user["username"],
            "TESSERA_E2E_TOTP_USER": totp_user["username"],
            "TESSERA_E2E_TOTP_SECRET": secret,
            "TESSERA_E2E_TOTP_USED_STEP": str(used_step),
        },
        min_passed=15,
    )

    # The sign-ins changed nothing about the users: status, verified attributes and the TOTP
    # user's MFA (skipped after an e-mail code, not turned off) are as before.
    for username, was in before.items():
        now = idp.admin_get_user(UserPoolId=pool["Id"], Username=username)
        assert now["UserStatus"] == "CONFIRMED" and now["Enabled"] is True
        assert attribute_dict(now["UserAttributes"]) == attribute_dict(was["UserAttributes"])
        assert now.get("UserMFASettingList") == was.get("UserMFASettingList")
        assert now.get("PreferredMfaSetting") == was.get("PreferredMfaSetting")

    # Exactly the codes the node test asked for were sent, each to the user's own address: the
    # choice user two e-mail codes (chosen, then preferred) and one SMS code, the TOTP user one
    # e-mail code, the unverified user and the hidden unknown user nothing.
    choice = read_outbox(server, pool_id=pool["Id"], username=choice_user["username"])
    assert len(codes(choice, "EMAIL")) == 2 and len(codes(choice, "SMS")) == 1, choice
    assert {m["destination"] for m in choice if m["channel"] == "EMAIL"} == {choice_user["email"]}
    assert {m["destination"] for m in choice if m["channel"] == "SMS"} == {PHONE}
    totp = read_outbox(server, pool_id=pool["Id"], username=totp_user["username"])
    assert len(codes(totp, "EMAIL")) == 1 and [m["destination"] for m in totp] == [totp_user["email"]], totp
    assert read_outbox(server, pool_id=pool["Id"], username=unverified_user["username"]) == []
    assert len(read_outbox(server, pool_id=pool["Id"])) == 4
