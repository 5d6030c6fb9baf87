"""Sign-in through upstream OpenID Connect providers (issue 15), end to end on both backends.

openid-client is the app and headless Chromium the person (js/federation-browser.mjs); the
upstream is a real oidc-provider (js/upstream-oidc.mjs, mode `oidc`) or a stand-in serving
Google's discovery document (mode `google`), both on loopback. Proved here:

- tessera's sign-in page shows a button per provider of the client; `identity_provider` and
  `idp_identifier` go straight to the provider;
- tessera sends the upstream a PKCE S256 challenge, a state and a nonce, and redeems the code
  with client_secret_post;
- the first sign-in creates the federated user (`<provider>_<subject>`, lower-case in a
  case-insensitive pool, EXTERNAL_PROVIDER, the mapped attributes, `identities`, the group
  `<poolId>_<Provider>`), a second one refreshes the mapped attributes of the same user, and
  the app's tokens carry them with the `identities` claim;
- a Google-type provider works against the local stand-in;
- refused, with no user created: an upstream ID token with the wrong issuer, audience or
  nonce, an expired one, one signed by an unknown key or unsigned (`alg: none`), an upstream
  `state` that is not the one sent, a callback replayed, and a callback arriving in another
  browser than the one that started the sign-in (js/upstream-oidc.mjs, mode `rogue`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from federation_support import OidcUpstream, tessera_address
from helpers import ARTIFACTS, unique
from test_openid_client import JS_DIR, node_modules  # noqa: F401  (fixture)
from trigger_support import HandlerError, WebhookReceiver, function_arn, trigger_config

POOL = "us-east-1_Federate1"
# A pool whose PreSignUp, PostConfirmation and InboundFederation functions run on a webhook.
TRIGGER_POOL = "us-east-1_Federate2"
CALLBACK = "https://app.example.com/cb"
UPSTREAM_CLIENT = {"client_id": "tessera-rp", "client_secret": "upstream-secret-0123456789"}


class World:
    def __init__(self, server, oidc: OidcUpstream, google: OidcUpstream, rogue: OidcUpstream, node: str,
                 webhook: WebhookReceiver):
        self.server, self.oidc, self.google, self.rogue, self.node = server, oidc, google, rogue, node
        self.webhook = webhook
        self.idp = server.client()
        self.issuer = f"{server.url}/{POOL}"

    def provider(self, name: str, upstream: OidcUpstream, pool: str = POOL, **extra) -> dict:
        details = {
            **UPSTREAM_CLIENT,
            "attributes_request_method": "GET",
            "oidc_issuer": upstream.issuer,
            "authorize_scopes": "openid email profile",
        }
        return self.idp.create_identity_provider(
            UserPoolId=pool, ProviderName=name, ProviderType="OIDC", ProviderDetails=details,
            AttributeMapping={"email": "email", "given_name": "given_name", "family_name": "family_name",
                              "email_verified": "email_verified"},
            **extra,
        )["IdentityProvider"]

    def client(self, providers: list[str], pool: str = POOL) -> dict:
        return self.idp.create_user_pool_client(
            UserPoolId=pool, ClientName=unique("fed-app"), GenerateSecret=True,
            AllowedOAuthFlows=["code"], AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthScopes=["openid", "email", "profile"], CallbackURLs=[CALLBACK],
            SupportedIdentityProviders=providers,
        )["UserPoolClient"]

    def browse(self, client: dict, provider: str, login: str, via: str = "button", upstream: str = "oidc",
               identifier: str | None = None, pool: str = POOL) -> dict:
        shots = ARTIFACTS / "screenshots" / self.server.store.backend
        shots.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["TESSERA_E2E_FEDERATE"] = json.dumps({
            "issuer": f"{self.server.url}/{pool}", "clientId": client["ClientId"], "clientSecret": client["ClientSecret"],
            "callback": CALLBACK, "provider": provider, "via": via, "identifier": identifier,
            "upstream": upstream, "login": login, "screenshot": str(shots / f"federation-{provider}.png"),
        })
        result = subprocess.run([self.node, "federation-browser.mjs"], cwd=JS_DIR, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (
            f"federation-browser.mjs failed:\n{result.stdout}\n{result.stderr}\n{self.server.output[-3000:]}"
        )
        return json.loads(result.stdout.strip().splitlines()[-1])

    def users(self) -> list[dict]:
        return self.idp.list_users(UserPoolId=POOL)["Users"]


@pytest.fixture(scope="module")
def world(module_factory, node_modules, tmp_path_factory):  # noqa: F811
    listen, base = tessera_address()
    redirect = {**UPSTREAM_CLIENT, "redirect_uris": [f"{base}/{pool}/oauth2/idpresponse" for pool in (POOL, TRIGGER_POOL)]}
    accounts = {
        "alice": {"email": "alice@example.com", "email_verified": True, "given_name": "Alice", "family_name": "Liddell"},
        "bob": {"email": "bob@example.com", "email_verified": False, "given_name": "Bob", "family_name": "Builder"},
    }
    upstreams = []
    webhook = WebhookReceiver().start()
    try:
        for mode in ("oidc", "google", "rogue"):
            upstreams.append(OidcUpstream(node_modules, mode, [redirect], accounts))
        config = tmp_path_factory.mktemp("federation") / "tessera.toml"
        config.write_text(
            "[federation]\nallow_loopback_http = true\n"
            f'google_issuer = "{upstreams[1].issuer}"\n\n'
            f'[[pools]]\nid = "{POOL}"\nname = "federation"\n'
            "UsernameConfiguration = { CaseSensitive = false }\n\n"
            f'[[pools]]\nid = "{TRIGGER_POOL}"\nname = "federation-triggers"\n'
            "UsernameConfiguration = { CaseSensitive = false }\n"
            f'LambdaConfig = {{ PreSignUp = "{function_arn("hook-pre-sign-up")}", '
            f'PostConfirmation = "{function_arn("hook-post-confirmation")}", '
            f'InboundFederation = {{ LambdaVersion = "V1_0", LambdaArn = "{function_arn("hook-inbound")}" }} }}\n\n'
            + trigger_config(webhook, None)
        )
        server = module_factory.start(name="federation", extra_args=["--config", str(config)], listen=listen)
        yield World(server, *upstreams, node=node_modules, webhook=webhook)
    finally:
        for upstream in upstreams:
            upstream.stop()
        webhook.stop()


@pytest.fixture(scope="module")
def corp(world):
    """An OIDC provider `Corp` (oidc-provider) with an identifier, and an app client that offers
    it beside the pool's own users."""
    world.provider("Corp", world.oidc, IdpIdentifiers=["corp.example"])
    return world.client(["COGNITO", "Corp"])


def test_oidc_sign_in_through_the_button_creates_the_federated_user(world, corp):
    result = world.browse(corp, "Corp", "alice", via="button")
    claims = result["claims"]
    assert claims["iss"] == world.issuer and claims["aud"] == corp["ClientId"]
    assert claims["cognito:username"] == "corp_alice"
    assert claims["email"] == "alice@example.com" and claims["email_verified"] is True
    assert claims["given_name"] == "Alice" and claims["family_name"] == "Liddell"
    assert f"{POOL}_Corp" in claims["cognito:groups"]
    [identity] = claims["identities"]
    assert identity["userId"] == "alice" and identity["providerName"] == "Corp"
    assert identity["providerType"] == "OIDC" and identity["issuer"] == world.oidc.issuer
    assert identity["primary"] == "true" and re.fullmatch(r"\d{13}", identity["dateCreated"])
    assert result["userinfo"]["email"] == "alice@example.com"

    user = world.idp.admin_get_user(UserPoolId=POOL, Username="corp_alice")
    assert user["UserStatus"] == "EXTERNAL_PROVIDER"
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["sub"] == claims["sub"] and attributes["email"] == "alice@example.com"
    assert json.loads(attributes["identities"])[0]["userId"] == "alice"
    assert [u["Username"] for u in world.users()].count("corp_alice") == 1
    groups = world.idp.admin_list_groups_for_user(UserPoolId=POOL, Username="corp_alice")["Groups"]
    assert [g["GroupName"] for g in groups] == [f"{POOL}_Corp"]

    # What tessera sent upstream: PKCE S256, state and nonce; the code redeemed with the
    # secret in the body and the verifier.
    sent = world.oidc.requests()
    authorization = [r for r in sent if r["endpoint"] == "authorization"][-1]["params"]
    assert authorization["code_challenge_method"] == "S256" and len(authorization["code_challenge"]) == 43
    assert authorization["state"] and authorization["nonce"]
    assert authorization["redirect_uri"] == f"{world.server.url}/{POOL}/oauth2/idpresponse"
    token = [r for r in sent if r["endpoint"] == "token"][-1]
    assert token["client_auth"] == "client_secret_post" and token["params"]["code_verifier"]


def test_a_second_sign_in_refreshes_the_mapped_attributes_of_the_same_user(world, corp):
    first = world.browse(corp, "Corp", "bob", via="param")
    assert first["claims"]["given_name"] == "Bob"
    world.oidc.set_accounts({"bob": {"email": "bob@example.com", "email_verified": True,
                                     "given_name": "Robert", "family_name": "Builder"}})
    second = world.browse(corp, "Corp", "bob", via="param")
    assert second["claims"]["sub"] == first["claims"]["sub"]
    assert second["claims"]["given_name"] == "Robert" and second["claims"]["email_verified"] is True
    user = world.idp.admin_get_user(UserPoolId=POOL, Username="corp_bob")
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert attributes["given_name"] == "Robert"
    # The identity keeps the date it was first recorded.
    assert json.loads(attributes["identities"])[0]["dateCreated"] == int(first["claims"]["identities"][0]["dateCreated"])
    assert [u["Username"] for u in world.users()].count("corp_bob") == 1


def test_idp_identifier_routes_to_its_provider(world, corp):
    result = world.browse(corp, "Corp", "carol", via="identifier", identifier="corp.example")
    assert result["claims"]["cognito:username"] == "corp_carol"


def test_google_provider_against_a_local_stand_in(world):
    world.idp.create_identity_provider(
        UserPoolId=POOL, ProviderName="Google", ProviderType="Google",
        ProviderDetails={"client_id": UPSTREAM_CLIENT["client_id"], "client_secret": UPSTREAM_CLIENT["client_secret"],
                         "authorize_scopes": "openid email profile"},
        AttributeMapping={"email": "email", "name": "name", "email_verified": "email_verified"},
    )
    client = world.client(["Google"])
    result = world.browse(client, "Google", "alice", via="button", upstream="google")
    claims = result["claims"]
    assert re.fullmatch(r"google_1\d{20}", claims["cognito:username"]), claims["cognito:username"]
    assert claims["email"] == "alice@example.com" and claims["name"]
    [identity] = claims["identities"]
    assert identity["providerType"] == "Google" and identity["issuer"] is None
    assert f"{POOL}_Google" in claims["cognito:groups"]


# -- refusals through the rogue upstream, driven by plain HTTP ------------------------------


def start(world, client: dict, session: requests.Session) -> str:
    """Starts a sign-in at the rogue provider; returns the upstream's redirect back to tessera."""
    response = session.get(f"{world.issuer}/oauth2/authorize", params={
        "response_type": "code", "client_id": client["ClientId"], "redirect_uri": CALLBACK,
        "scope": "openid email", "state": "app-state", "identity_provider": "Rogue",
    }, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    upstream = response.headers["location"]
    assert upstream.startswith(world.rogue.issuer)
    back = session.get(upstream, allow_redirects=False, timeout=10)
    assert back.status_code in (302, 303), back.text
    return back.headers["location"]


def callback_error(response: requests.Response) -> dict:
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture(scope="module")
def rogue(world):
    world.provider("Rogue", world.rogue)
    yield world.client(["COGNITO", "Rogue"])
    world.rogue.misbehave({})


@pytest.mark.parametrize("misbehaviour, reason", [
    ({"id_token": {"iss": "https://evil.example"}}, "issuer"),
    ({"id_token": {"aud": "another-client"}}, "aud"),
    ({"id_token": {"nonce": "not-the-nonce"}}, "nonce"),
    ({"id_token": {"exp_offset": -3600}}, "expired"),
    ({"id_token": {"sign_with_other_key": True}}, "signature"),
    ({"id_token": {"alg_none": True}}, ""),
])
def test_a_bad_upstream_id_token_is_refused_and_creates_nobody(world, rogue, misbehaviour, reason):
    world.rogue.misbehave(misbehaviour)
    session = requests.Session()
    back = start(world, rogue, session)
    params = callback_error(session.get(back, allow_redirects=False, timeout=10))
    assert params["error"] == "invalid_request" and params["state"] == "app-state"
    assert params["error_description"].startswith("Rogue Error - the ID token was refused")
    assert "code" not in params
    assert not [u for u in world.users() if u["Username"].startswith("rogue_")]


def test_a_wrong_upstream_state_is_refused_on_tessera_s_page(world, rogue):
    world.rogue.misbehave({"state": "wrong-state"})
    session = requests.Session()
    back = start(world, rogue, session)
    page = session.get(back, allow_redirects=False, timeout=10)
    assert page.status_code == 400 and "expired or was already completed" in page.text
    world.rogue.misbehave({})
    assert not [u for u in world.users() if u["Username"].startswith("rogue_")]


def test_a_callback_is_used_once_and_only_in_the_browser_that_started_it(world, rogue):
    world.rogue.misbehave({})
    # Another browser (no binding cookie) cannot use the callback.
    session = requests.Session()
    back = start(world, rogue, session)
    page = requests.get(back, allow_redirects=False, timeout=10)
    assert page.status_code == 400 and "another browser" in page.text
    # The state was spent by that attempt: the right browser cannot use it either now.
    page = session.get(back, allow_redirects=False, timeout=10)
    assert page.status_code == 400 and "expired or was already completed" in page.text
    assert not [u for u in world.users() if u["Username"].startswith("rogue_")]

    # An honest sign-in works once; its callback replayed is refused.
    session = requests.Session()
    back = start(world, rogue, session)
    done = session.get(back, allow_redirects=False, timeout=10)
    assert done.status_code in (302, 303) and "code=" in done.headers["location"], done.text
    replay = session.get(back, allow_redirects=False, timeout=10)
    assert replay.status_code == 400 and "expired or was already completed" in replay.text


# -- linking (AdminLinkProviderForUser, AdminDisableProviderForUser) ------------------------


def error_of(call, **kwargs) -> tuple[str, str]:
    try:
        call(**kwargs)
    except Exception as exc:  # botocore ClientError
        return exc.response["Error"]["Code"], exc.response["Error"]["Message"]
    raise AssertionError(f"{call.__name__} succeeded")


def test_a_linked_upstream_identity_signs_in_as_the_native_user(world, corp):
    idp = world.idp
    idp.admin_create_user(UserPoolId=POOL, Username="erin", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "erin@native.example"}])
    idp.admin_set_user_password(UserPoolId=POOL, Username="erin", Password="Native-Passw0rd!", Permanent=True)
    native_sub = {a["Name"]: a["Value"] for a in idp.admin_get_user(UserPoolId=POOL, Username="erin")["UserAttributes"]}["sub"]
    idp.admin_link_provider_for_user(
        UserPoolId=POOL,
        DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "erin"},
        SourceUser={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "erin"},
    )
    linked = {a["Name"]: a["Value"] for a in idp.admin_get_user(UserPoolId=POOL, Username="erin")["UserAttributes"]}
    assert [(i["providerName"], i["userId"]) for i in json.loads(linked["identities"])] == [("Corp", "erin")]

    world.oidc.set_accounts({"erin": {"email": "erin@example.com", "email_verified": True, "given_name": "Erin"}})
    result = world.browse(corp, "Corp", "erin", via="param")
    claims = result["claims"]
    assert claims["cognito:username"] == "erin" and claims["sub"] == native_sub
    assert [(i["providerName"], i["userId"]) for i in claims["identities"]] == [("Corp", "erin")]
    # The mapped attributes came from the provider; no federated user was created.
    assert claims["email"] == "erin@example.com"
    assert "corp_erin" not in [u["Username"] for u in world.users()]
    assert idp.admin_get_user(UserPoolId=POOL, Username="erin")["UserStatus"] == "CONFIRMED"

    # Unlinked, the identity no longer reaches the native user: its next sign-in makes a
    # federated user of its own.
    idp.admin_disable_provider_for_user(
        UserPoolId=POOL,
        User={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "erin"},
    )
    after = {a["Name"]: a["Value"] for a in idp.admin_get_user(UserPoolId=POOL, Username="erin")["UserAttributes"]}
    assert json.loads(after["identities"]) == []
    again = world.browse(corp, "Corp", "erin", via="param")
    assert again["claims"]["cognito:username"] == "corp_erin" and again["claims"]["sub"] != native_sub


def test_linking_refusals_change_nothing(world, corp):
    idp = world.idp
    world.browse(corp, "Corp", "frank", via="param")  # frank signed up through Corp
    idp.admin_create_user(UserPoolId=POOL, Username="gina", MessageAction="SUPPRESS")
    link = idp.admin_link_provider_for_user
    assert error_of(link, UserPoolId=POOL,
                    DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "gina"},
                    SourceUser={"ProviderName": "Cognito", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "erin"}) == (
        "InvalidParameterException",
        "Invalid SourceUser: Cognito users with a username/password may not be passed in as a SourceUser, only as a DestinationUser",
    )
    assert error_of(link, UserPoolId=POOL,
                    DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "gina"},
                    SourceUser={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "frank"}) == (
        "InvalidParameterException",
        "Merging is not currently supported, provide a SourceUser that has not been signed up in order to link",
    )
    assert error_of(link, UserPoolId=POOL,
                    DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "nobody"},
                    SourceUser={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "h1"})[0] == "UserNotFoundException"
    assert error_of(link, UserPoolId=POOL,
                    DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "gina"},
                    SourceUser={"ProviderName": "Nowhere", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "h1"}) == (
        "InvalidParameterException", f"The provider Nowhere does not exist for User Pool {POOL}.",
    )
    for n in range(5):
        link(UserPoolId=POOL, DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "gina"},
             SourceUser={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": f"g{n}"})
    code, _ = error_of(link, UserPoolId=POOL,
                       DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "gina"},
                       SourceUser={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "g5"})
    assert code == "LimitExceededException"
    identities = {a["Name"]: a["Value"] for a in idp.admin_get_user(UserPoolId=POOL, Username="gina")["UserAttributes"]}["identities"]
    assert sorted(i["userId"] for i in json.loads(identities)) == ["g0", "g1", "g2", "g3", "g4"]
    # A link to another user of an identity already linked is refused.
    idp.admin_create_user(UserPoolId=POOL, Username="hank", MessageAction="SUPPRESS")
    assert error_of(link, UserPoolId=POOL,
                    DestinationUser={"ProviderName": "Cognito", "ProviderAttributeValue": "hank"},
                    SourceUser={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "g0"})[0] == "InvalidParameterException"
    assert "identities" not in {a["Name"] for a in idp.admin_get_user(UserPoolId=POOL, Username="hank")["UserAttributes"]}


def test_disabling_a_provider_for_a_federated_user_and_a_native_password(world, corp):
    idp = world.idp
    world.browse(corp, "Corp", "ivan", via="param")
    idp.admin_disable_provider_for_user(
        UserPoolId=POOL, User={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "ivan"})
    assert idp.admin_get_user(UserPoolId=POOL, Username="corp_ivan")["Enabled"] is False
    refused = world.browse(corp, "Corp", "ivan", via="param")
    params = {k: v[0] for k, v in parse_qs(urlsplit(refused["callback"]).query).items()}
    assert params["error"] == "invalid_request" and params["error_description"] == "User is disabled."

    client = idp.create_user_pool_client(UserPoolId=POOL, ClientName=unique("admin-auth"),
                                         ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    idp.admin_create_user(UserPoolId=POOL, Username="judy", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=POOL, Username="judy", Password="Native-Passw0rd!", Permanent=True)
    auth = dict(UserPoolId=POOL, ClientId=client["ClientId"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": "judy", "PASSWORD": "Native-Passw0rd!"})
    assert "AuthenticationResult" in idp.admin_initiate_auth(**auth)
    idp.admin_disable_provider_for_user(
        UserPoolId=POOL, User={"ProviderName": "Cognito", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "judy"})
    assert error_of(idp.admin_initiate_auth, **auth)[0] == "NotAuthorizedException"
    assert error_of(idp.admin_disable_provider_for_user, UserPoolId=POOL,
                    User={"ProviderName": "Corp", "ProviderAttributeName": "Cognito_Subject", "ProviderAttributeValue": "nobody"})[0] == "UserNotFoundException"


# -- triggers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corp2(world):
    """The provider `Corp2` of the pool with functions, and a client offering only it."""
    world.provider("Corp2", world.oidc, pool=TRIGGER_POOL)
    return world.client(["Corp2"], pool=TRIGGER_POOL)


def test_federated_sign_up_runs_inbound_federation_pre_sign_up_and_post_confirmation(world, corp2):
    client = corp2
    world.webhook.clear()

    def inbound(event):
        claims = event["request"]["attributes"]["idToken"]
        event["response"] = {"userAttributesToMap": {"email": claims["email"], "given_name": "From-Trigger"}}
        return event

    world.webhook.on("InboundFederation_", inbound)
    claims = world.browse(client, "Corp2", "alice", via="param", pool=TRIGGER_POOL)["claims"]
    assert claims["cognito:username"] == "corp2_alice" and claims["given_name"] == "From-Trigger"
    assert "family_name" not in claims  # dropped by the function

    [federation] = world.webhook.events("InboundFederation_")
    assert federation["triggerSource"] == "InboundFederation_ExternalProvider"
    assert federation["request"]["providerName"] == "Corp2" and federation["request"]["providerType"] == "OIDC"
    assert federation["request"]["attributes"]["idToken"]["sub"] == "alice"
    [pre] = world.webhook.events("PreSignUp_")
    assert pre["triggerSource"] == "PreSignUp_ExternalProvider" and pre["userName"] == "corp2_alice"
    assert pre["callerContext"]["clientId"] == client["ClientId"]
    assert pre["request"]["userAttributes"]["given_name"] == "From-Trigger"
    assert json.loads(pre["request"]["userAttributes"]["identities"])[0]["providerName"] == "Corp2"
    [post] = world.webhook.events("PostConfirmation_")
    assert post["triggerSource"] == "PostConfirmation_ConfirmSignUp"
    assert post["request"]["userAttributes"]["cognito:user_status"] == "EXTERNAL_PROVIDER"

    # A second sign-in is no sign-up: no PreSignUp, no PostConfirmation.
    world.webhook.clear()
    world.webhook.on("InboundFederation_", inbound)
    world.browse(client, "Corp2", "alice", via="param", pool=TRIGGER_POOL)
    assert world.webhook.events("PreSignUp_") == [] and world.webhook.events("PostConfirmation_") == []
    assert len(world.webhook.events("InboundFederation_")) == 1


def test_a_refusing_pre_sign_up_creates_no_federated_user(world, corp2):
    world.webhook.clear()

    def refuse(event):
        raise HandlerError("Federated sign-up is closed.")

    world.webhook.on("PreSignUp_", refuse)
    result = world.browse(corp2, "Corp2", "bob", via="param", pool=TRIGGER_POOL)
    params = {k: v[0] for k, v in parse_qs(urlsplit(result["callback"]).query).items()}
    assert params["error"] == "invalid_request"
    assert params["error_description"] == "PreSignUp failed with error Federated sign-up is closed.."
    users = [u["Username"] for u in world.idp.list_users(UserPoolId=TRIGGER_POOL)["Users"]]
    assert "corp2_bob" not in users
    assert world.webhook.events("PostConfirmation_") == []
