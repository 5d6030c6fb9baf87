"""Amplify JS v6 (npm `aws-amplify`) against the shared server of each backend, run with
`node --test` from tests/e2e/js (the pattern of test_js_clients.py, whose `node` fixture and
`run_node_test` it shares):

  amplify.test.mjs  Amplify.configure with Auth.Cognito.userPoolEndpoint set to tessera and an
                    in-memory token storage: signIn over SRP (Amplify's default flow) and with
                    USER_PASSWORD_AUTH, getCurrentUser, fetchAuthSession (cached, then forced
                    refresh through GetTokensFromRefreshToken), fetchUserAttributes,
                    updateUserAttributes of `name` and a custom attribute, signOut (RevokeToken)
                    and global signOut (GlobalSignOut) with tessera refusing the old tokens
                    afterwards, a wrong password and an unknown user refused with
                    NotAuthorizedException

This driver makes the pool (with a custom attribute `team`), the client and a confirmed user
through boto3 (admin API, root credentials), hands them to node in TESSERA_E2E_* variables, and
afterwards checks through the admin API that Amplify's attribute update is stored.
"""

from __future__ import annotations

from helpers import attribute_dict, unique
from test_js_clients import confirmed_user, new_client, node, run_node_test  # noqa: F401 (node is a fixture)


def test_amplify_js_v6(server, make_pool, node):
    idp = server.client()
    pool = make_pool(
        PoolName=unique("e2e-amplify"),
        Schema=[{"Name": "team", "AttributeDataType": "String", "Mutable": True}],
    )
    # SRP for the default signIn, USER_PASSWORD_AUTH for authFlowType, refresh for
    # fetchAuthSession({forceRefresh: true}); nothing else is allowed.
    client = new_client(
        idp,
        pool["Id"],
        ["ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )
    user = confirmed_user(idp, pool["Id"])
    run_node_test(
        node,
        "amplify.test.mjs",
        {
            # Amplify uses userPoolEndpoint as the request URL as it is, so the bare base URL.
            "TESSERA_E2E_ENDPOINT": server.url,
            "TESSERA_E2E_ISSUER": f"{server.url}/{pool['Id']}",
            "TESSERA_E2E_POOL_ID": pool["Id"],
            "TESSERA_E2E_CLIENT_ID": client["ClientId"],
            "TESSERA_E2E_USERNAME": user["username"],
            "TESSERA_E2E_PASSWORD": user["password"],
            "TESSERA_E2E_EMAIL": user["email"],
        },
        min_passed=12,
    )
    # The attributes Amplify updated are stored, and the user is still usable after the
    # sign-outs and the refused passwords.
    stored = idp.admin_get_user(UserPoolId=pool["Id"], Username=user["username"])
    assert stored["Enabled"] is True
    assert stored["UserStatus"] == "CONFIRMED"
    attributes = attribute_dict(stored["UserAttributes"])
    assert attributes["name"] == "Ada Lovelace"
    assert attributes["custom:team"] == "engines"
    assert attributes["email"] == user["email"]
