"""Node client libraries from npm against the shared server of each backend, run with
`node --test` from tests/e2e/js (the pattern of test_openid_client.py):

  cognito-identity-js.test.mjs  amazon-cognito-identity-js pointed at tessera with
                                `new CognitoUserPool({UserPoolId, ClientId, endpoint})`:
                                authenticateUser over SRP (the library's default flow),
                                getSession, getUserAttributes (GetUser), refreshSession,
                                globalSignOut and what is refused afterwards, wrong password,
                                unknown user
  jwt-verify.test.mjs           aws-jwt-verify's generic JwtVerifier on the pool's issuer and
                                JWKS (CognitoJwtVerifier cannot take a custom issuer, wire
                                facts 3.10) plus validateCognitoJwtFields: accepts the ID and
                                access tokens; refuses tampered, forged, other-pool, expired
                                (fake clock) and wrong-audience tokens

This driver makes the pools, clients and users through boto3 (admin API, root credentials)
and hands them to node in TESSERA_E2E_* variables; tokens for the verifier test come from
boto3's InitiateAuth USER_PASSWORD_AUTH.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from helpers import E2E_DIR, PASSWORD, attribute_list, unique

JS_DIR = E2E_DIR / "js"
# The packages the node fixture makes sure of; aws-amplify is for test_amplify.py, and the
# @aws-sdk ones for test_identity_js.py, which share the fixture.
NODE_PACKAGES = (
    "amazon-cognito-identity-js",
    "aws-jwt-verify",
    "aws-amplify",
    "@aws-sdk/credential-providers",
    "@aws-sdk/client-sts",
)


@pytest.fixture(scope="session")
def node():
    node = shutil.which("node")
    npm = shutil.which("npm")
    if not node or not npm:
        pytest.fail("node and npm are required for the JS client tests", pytrace=False)
    if not all((JS_DIR / "node_modules" / name).is_dir() for name in NODE_PACKAGES):
        # normally installed by the test command (run.sh); install here when run on its own
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"npm ci failed:\n{result.stdout}\n{result.stderr}"
    return node


def run_node_test(node: str, test_file: str, variables: dict[str, str], min_passed: int) -> str:
    """Runs one node test file with TAP output; every test must pass, none may be skipped."""
    env = dict(os.environ)
    env.update(variables)
    result = subprocess.run(
        [node, "--test", "--test-reporter=tap", test_file],
        cwd=JS_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    out = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"node --test {test_file} failed:\n{out}"

    def count(name: str) -> int:
        m = re.search(rf"^# {name} (\d+)$", result.stdout, re.M)
        assert m, f"no '# {name}' line in the TAP output:\n{out}"
        return int(m.group(1))

    assert count("fail") == 0, out
    assert count("skipped") == 0 and count("todo") == 0 and count("cancelled") == 0, out
    assert count("pass") >= min_passed, f"expected at least {min_passed} passing tests:\n{out}"
    return out


# --------------------------------------------------------------------------
# pools, clients and users through the admin API


def new_pool(idp) -> dict:
    return idp.create_user_pool(PoolName=unique("e2e-js"))["UserPool"]


def new_client(idp, pool_id: str, flows: list[str]) -> dict:
    return idp.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=unique("e2e-js-client"),
        ExplicitAuthFlows=flows,
        PreventUserExistenceErrors="ENABLED",
    )["UserPoolClient"]


def confirmed_user(idp, pool_id: str, username: str | None = None, password: str = PASSWORD) -> dict:
    """AdminCreateUser (SUPPRESS) + AdminSetUserPassword Permanent: a CONFIRMED user."""
    username = username or unique("js-user")
    email = f"{username}@example.com"
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        MessageAction="SUPPRESS",
        UserAttributes=attribute_list({"email": email, "email_verified": "true"}),
    )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
    assert idp.admin_get_user(UserPoolId=pool_id, Username=username)["UserStatus"] == "CONFIRMED"
    return {"username": username, "email": email, "password": password}


def password_sign_in(public, client_id: str, user: dict) -> dict:
    resp = public.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user["username"], "PASSWORD": user["password"]},
    )
    assert "ChallengeName" not in resp, resp
    return resp["AuthenticationResult"]


@pytest.fixture
def pools(server):
    """Pools made by one test, deleted afterwards (best effort)."""
    idp = server.client()
    made: list[str] = []

    def make() -> dict:
        pool = new_pool(idp)
        made.append(pool["Id"])
        return pool

    yield make
    for pool_id in made:
        try:
            idp.delete_user_pool(UserPoolId=pool_id)
        except Exception:
            pass


# --------------------------------------------------------------------------
# the tests


def test_amazon_cognito_identity_js(server, pools, node):
    idp = server.client()
    pool = pools()
    # SRP and refresh only: the sign-in cannot have taken another flow
    client = new_client(idp, pool["Id"], ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    user = confirmed_user(idp, pool["Id"])
    run_node_test(
        node,
        "cognito-identity-js.test.mjs",
        {
            "TESSERA_E2E_ENDPOINT": server.url + "/",
            "TESSERA_E2E_ISSUER": f"{server.url}/{pool['Id']}",
            "TESSERA_E2E_POOL_ID": pool["Id"],
            "TESSERA_E2E_CLIENT_ID": client["ClientId"],
            "TESSERA_E2E_USERNAME": user["username"],
            "TESSERA_E2E_PASSWORD": user["password"],
            "TESSERA_E2E_EMAIL": user["email"],
        },
        min_passed=9,
    )
    # the user is still there and usable after the sign-out (a fresh sign-in works)
    assert idp.admin_get_user(UserPoolId=pool["Id"], Username=user["username"])["Enabled"] is True


def test_aws_jwt_verify(server, pools, node):
    idp = server.client()
    public = server.unsigned_client()
    flows = ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

    pool = pools()
    client = new_client(idp, pool["Id"], flows)
    other_client = new_client(idp, pool["Id"], flows)  # same pool, another audience
    user = confirmed_user(idp, pool["Id"])
    tokens = password_sign_in(public, client["ClientId"], user)

    other_pool = pools()
    other_pool_client = new_client(idp, other_pool["Id"], flows)
    other_user = confirmed_user(idp, other_pool["Id"])
    other_tokens = password_sign_in(public, other_pool_client["ClientId"], other_user)

    run_node_test(
        node,
        "jwt-verify.test.mjs",
        {
            "TESSERA_E2E_ISSUER": f"{server.url}/{pool['Id']}",
            "TESSERA_E2E_CLIENT_ID": client["ClientId"],
            "TESSERA_E2E_OTHER_CLIENT_ID": other_client["ClientId"],
            "TESSERA_E2E_USERNAME": user["username"],
            "TESSERA_E2E_ID_TOKEN": tokens["IdToken"],
            "TESSERA_E2E_ACCESS_TOKEN": tokens["AccessToken"],
            "TESSERA_E2E_OTHER_ISSUER": f"{server.url}/{other_pool['Id']}",
            "TESSERA_E2E_OTHER_POOL_CLIENT_ID": other_pool_client["ClientId"],
            "TESSERA_E2E_OTHER_ID_TOKEN": other_tokens["IdToken"],
            "TESSERA_E2E_OTHER_ACCESS_TOKEN": other_tokens["AccessToken"],
        },
        min_passed=10,
    )
