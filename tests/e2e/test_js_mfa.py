"""amazon-cognito-identity-js (npm) through tessera's multi-factor sign-in, on both backends,
run with `node --test` from tests/e2e/js (the pattern of test_js_clients.py, whose `node`
fixture and `run_node_test` it shares):

  cognito-identity-js-mfa.test.mjs  the library's own callbacks and methods: mfaSetup in a pool
                                    that requires MFA, associateSoftwareToken and
                                    verifySoftwareToken finishing that sign-in, totpRequired
                                    answered with sendMFACode(…, 'SOFTWARE_TOKEN_MFA'), a replayed
                                    and a wrong code refused; in a pool where MFA is optional a
                                    signed-in user's enrolment and setUserMfaPreference, SMS
                                    turned on with enableMFA and setUserMfaPreference
                                    (mfaRequired with the code tessera texted) and off with
                                    disableMFA, and selectMFAType with sendMFASelectionAnswer for
                                    either factor; every session verified against the pool's JWKS

This driver makes the two pools, their clients (SRP and refresh only, the library's default
flow) and the users through boto3, and lends node the development outbox: tessera serves it
at `GET /admin/outbox`, which wants a SigV4 signature with the root key, so a small relay here
answers node's unsigned `GET /?username=<name>` with that user's messages from the real outbox.
Afterwards it checks through the admin API that what the library did is stored.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from helpers import PASSWORD, attribute_dict, attribute_list, read_outbox, unique
from test_js_clients import new_client, node, run_node_test  # noqa: F401 (node is a fixture)

FLOWS = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
TOTP = {"SoftwareTokenMfaConfiguration": {"Enabled": True}}
SMS = {
    "SmsMfaConfiguration": {
        "SmsAuthenticationMessage": "Your MFA code is {####}",
        "SmsConfiguration": {"SnsCallerArn": "arn:aws:iam::123456789012:role/sms", "ExternalId": "e2e"},
    }
}


class OutboxRelay:
    """An unsigned view of one pool's development outbox for node, on 127.0.0.1."""

    def __init__(self, server, pool_id: str):
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                username = parse_qs(urlsplit(self.path).query).get("username", [None])[0]
                try:
                    messages = read_outbox(server, pool_id=pool_id, username=username)
                    status, body = 200, {"messages": messages}
                except Exception as exc:  # reported to node, which fails the test with it
                    status, body = 500, {"error": repr(exc)}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                relay.requests += 1

            def log_message(self, *args):
                pass

        self.requests = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "OutboxRelay":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def user_with(idp, pool_id: str, prefix: str, phone: str | None = None) -> str:
    """A CONFIRMED user with a verified e-mail address and, if given, an unverified phone."""
    username = unique(prefix)
    attributes = {"email": f"{username}@example.com", "email_verified": "true"}
    if phone:
        attributes["phone_number"] = phone
    idp.admin_create_user(
        UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS", UserAttributes=attribute_list(attributes)
    )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
    return username


def test_amazon_cognito_identity_js_mfa(server, make_pool, node):
    idp = server.client()
    on_pool = make_pool(PoolName=unique("e2e-js-mfa-on"))
    idp.set_user_pool_mfa_config(UserPoolId=on_pool["Id"], MfaConfiguration="ON", **TOTP)
    opt_pool = make_pool(PoolName=unique("e2e-js-mfa-optional"))
    idp.set_user_pool_mfa_config(UserPoolId=opt_pool["Id"], MfaConfiguration="OPTIONAL", **TOTP, **SMS)
    on_client = new_client(idp, on_pool["Id"], FLOWS)
    opt_client = new_client(idp, opt_pool["Id"], FLOWS)

    setup_user = user_with(idp, on_pool["Id"], "js-setup")
    totp_user = user_with(idp, opt_pool["Id"], "js-totp")
    sms_phone, both_phone = "+15555550142", "+15555550199"
    sms_user = user_with(idp, opt_pool["Id"], "js-sms", sms_phone)
    both_user = user_with(idp, opt_pool["Id"], "js-both", both_phone)

    with OutboxRelay(server, opt_pool["Id"]) as relay:
        run_node_test(
            node,
            "cognito-identity-js-mfa.test.mjs",
            {
                "TESSERA_E2E_ENDPOINT": server.url + "/",
                "TESSERA_E2E_ON_POOL_ID": on_pool["Id"],
                "TESSERA_E2E_ON_CLIENT_ID": on_client["ClientId"],
                "TESSERA_E2E_OPT_POOL_ID": opt_pool["Id"],
                "TESSERA_E2E_OPT_CLIENT_ID": opt_client["ClientId"],
                "TESSERA_E2E_SETUP_USER": setup_user,
                "TESSERA_E2E_TOTP_USER": totp_user,
                "TESSERA_E2E_SMS_USER": sms_user,
                "TESSERA_E2E_SMS_PHONE": sms_phone,
                "TESSERA_E2E_BOTH_USER": both_user,
                "TESSERA_E2E_BOTH_PHONE": both_phone,
                "TESSERA_E2E_PASSWORD": PASSWORD,
                "TESSERA_E2E_OUTBOX": relay.url,
            },
            min_passed=8,
        )
        assert relay.requests > 0, "node read the outbox through the relay"

    # What the library did is stored: the factors each user ended with, as the admin API
    # reports them.
    def stored(pool, username):
        return idp.admin_get_user(UserPoolId=pool["Id"], Username=username)

    setup = stored(on_pool, setup_user)
    assert setup["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    totp = stored(opt_pool, totp_user)
    assert totp["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]
    assert totp["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"
    sms = stored(opt_pool, sms_user)
    assert sms["UserMFASettingList"] == ["SMS_MFA"] and sms["PreferredMfaSetting"] == "SMS_MFA"
    assert attribute_dict(sms["UserAttributes"])["phone_number_verified"] == "true"
    both = stored(opt_pool, both_user)
    assert both["UserMFASettingList"] == ["SMS_MFA", "SOFTWARE_TOKEN_MFA"]
    assert "PreferredMfaSetting" not in both
    assert attribute_dict(both["UserAttributes"])["phone_number_verified"] == "true"
    factors = idp.admin_get_user_auth_factors(UserPoolId=opt_pool["Id"], Username=both_user)
    assert {"PASSWORD", "SOFTWARE_TOKEN"} <= set(factors["ConfiguredUserAuthFactors"]), factors
