"""Sign-in through a SAML 2.0 IdP (issue 15), tessera being the service provider, end to end
on both backends: the IdP is js/upstream-saml.mjs (samlify parsing and schema-checking what
tessera sends, xml-crypto signing what it answers), the app openid-client, the person headless
Chromium (js/federation-browser.mjs). Proved here:

- SP-initiated sign-in: tessera's signed AuthnRequest (HTTP-Redirect, checked by the IdP), the
  signed response posted back, the federated user with its mapped attributes and `identities`;
- an encrypted assertion, decrypted with the provider's key from ActiveEncryptionCertificate;
- IdP-initiated sign-in, its RelayState carrying the app's authorization request;
- single logout: tessera's signed LogoutRequest names the user's NameID and SessionIndex, and
  the IdP's LogoutResponse brings the browser to the app's sign-out URL;
- refused, with nothing created: an unsigned or forged response, one changed after signing,
  eight signature-wrapping shapes, a wrong audience, recipient or issuer, an expired or
  not-yet-valid assertion, a failed status, a response that answers another request, a
  replayed assertion; and a comment in the NameID cannot shorten it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from federation_support import SamlIdp, tessera_address
from helpers import ARTIFACTS, unique
from test_openid_client import JS_DIR, node_modules  # noqa: F401  (fixture)

POOL = "us-east-1_Samlpool1"
CALLBACK = "https://app.example.com/cb"
SIGNED_OUT = "https://app.example.com/signed-out"
USERS = {
    "alice": {"email": "alice@example.com", "given_name": "Alice", "groups": ["staff", "admins"]},
    "bob": {"email": "bob@example.com", "given_name": "Bob"},
    "carol": {"email": "carol@example.com", "given_name": "Carol"},
    "admin": {"email": "admin@example.com", "given_name": "Admin"},
    "erin": {"email": "erin@example.com", "given_name": "Erin"},
    "Fay": {"email": "fay.upper@example.com", "given_name": "Fay"},
    "fay": {"email": "fay.lower@example.com", "given_name": "fay"},
}
MAPPING = {"email": "email", "given_name": "given_name"}


class World:
    def __init__(self, server, node, idp: SamlIdp, encrypting: SamlIdp):
        self.server, self.node, self.idp, self.encrypting = server, node, idp, encrypting
        self.cognito = server.client()
        self.issuer = f"{server.url}/{POOL}"
        self.acs = f"{self.issuer}/saml2/idpresponse"

    def client(self, providers: list[str], **extra) -> dict:
        return self.cognito.create_user_pool_client(
            UserPoolId=POOL, ClientName=unique("saml-app"), GenerateSecret=True,
            AllowedOAuthFlows=["code"], AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthScopes=["openid", "email", "profile"], CallbackURLs=[CALLBACK],
            LogoutURLs=[SIGNED_OUT], SupportedIdentityProviders=providers, **extra,
        )["UserPoolClient"]

    def browse(self, client: dict, provider: str, login: str, **extra) -> dict:
        shots = ARTIFACTS / "screenshots" / self.server.store.backend
        shots.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["TESSERA_E2E_FEDERATE"] = json.dumps({
            "issuer": self.issuer, "clientId": client["ClientId"], "clientSecret": client["ClientSecret"],
            "callback": CALLBACK, "provider": provider, "via": "button", "upstream": "saml", "login": login,
            "screenshot": str(shots / f"saml-{provider}.png"), **extra,
        })
        result = subprocess.run([self.node, "federation-browser.mjs"], cwd=JS_DIR, env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (
            f"federation-browser.mjs failed:\n{result.stdout}\n{result.stderr}\n{self.server.output[-3000:]}"
        )
        return json.loads(result.stdout.strip().splitlines()[-1])

    def usernames(self) -> list[str]:
        return [u["Username"] for u in self.cognito.list_users(UserPoolId=POOL)["Users"]]


@pytest.fixture(scope="module")
def world(module_factory, node_modules, tmp_path_factory):  # noqa: F811
    listen, base = tessera_address()
    config = tmp_path_factory.mktemp("saml") / "tessera.toml"
    config.write_text(
        "[federation]\nallow_loopback_http = true\n\n"
        f'[[pools]]\nid = "{POOL}"\nname = "saml"\n'
        "UsernameConfiguration = { CaseSensitive = false }\n"
    )
    server = module_factory.start(name="saml", extra_args=["--config", str(config)], listen=listen)
    cognito = server.client()
    certificate = cognito.get_signing_certificate(UserPoolId=POOL)["Certificate"]
    sp = {
        "entity_id": f"urn:amazon:cognito:sp:{POOL}",
        "acs": f"{base}/{POOL}/saml2/idpresponse",
        "slo": f"{base}/{POOL}/saml2/logout",
        "signing_cert": certificate,
    }
    idps = []
    try:
        idp = SamlIdp(node_modules, sp, USERS)
        idps.append(idp)
        # The IdP signs its users in only for tessera's signed requests; IDPInit and IDPSignout
        # on, and every AuthnRequest signed as RequestSigningAlgorithm asks.
        cognito.create_identity_provider(
            UserPoolId=POOL, ProviderName="Corp", ProviderType="SAML",
            ProviderDetails={"MetadataURL": idp.metadata_url, "IDPSignout": "true", "IDPInit": "true",
                             "RequestSigningAlgorithm": "rsa-sha256"},
            AttributeMapping=MAPPING, IdpIdentifiers=["corp.example"],
        )
        # A provider that wants encrypted assertions: its key is made at creation, and the
        # IdP (started afterwards with that certificate) encrypts to it.
        created = cognito.create_identity_provider(
            UserPoolId=POOL, ProviderName="Sealed", ProviderType="SAML",
            ProviderDetails={"MetadataURL": idp.metadata_url, "EncryptedResponses": "true"},
            AttributeMapping=MAPPING,
        )["IdentityProvider"]
        encryption = created["ProviderDetails"]["ActiveEncryptionCertificate"]
        encrypting = SamlIdp(node_modules, {**sp, "encryption_cert": encryption}, USERS)
        idps.append(encrypting)
        cognito.update_identity_provider(
            UserPoolId=POOL, ProviderName="Sealed",
            ProviderDetails={"MetadataURL": encrypting.metadata_url, "EncryptedResponses": "true"},
        )
        updated = cognito.describe_identity_provider(UserPoolId=POOL, ProviderName="Sealed")["IdentityProvider"]
        assert updated["ProviderDetails"]["ActiveEncryptionCertificate"] == encryption
        yield World(server, node_modules, idp, encrypting)
    finally:
        for idp in idps:
            idp.stop()


@pytest.fixture(scope="module")
def corp_app(world):
    return world.client(["COGNITO", "Corp", "Sealed"])


def test_sp_initiated_sign_in_and_single_logout_in_chromium(world, corp_app):
    result = world.browse(corp_app, "Corp", "alice",
                          logout={"url": f"{world.issuer}/logout?" + urlencode({"client_id": corp_app["ClientId"], "logout_uri": SIGNED_OUT}),
                                  "target": SIGNED_OUT})
    claims = result["claims"]
    assert claims["cognito:username"] == "corp_alice"
    assert claims["email"] == "alice@example.com" and claims["given_name"] == "Alice"
    [identity] = claims["identities"]
    assert identity["providerName"] == "Corp" and identity["providerType"] == "SAML"
    assert identity["userId"] == "alice" and identity["issuer"] == world.idp.entity_id
    assert f"{POOL}_Corp" in claims["cognito:groups"]
    user = world.cognito.admin_get_user(UserPoolId=POOL, Username="corp_alice")
    assert user["UserStatus"] == "EXTERNAL_PROVIDER"

    log = world.idp.log()
    [request] = [e for e in log if e["type"] == "authn_request"][-1:]
    assert request["issuer"] == f"urn:amazon:cognito:sp:{POOL}" and request["acs_url"] == world.acs
    assert request["signed"] and request["signature_valid"] is True
    assert "refused" not in request
    # Single logout: the signed LogoutRequest names the user and the session signed in.
    assert result["loggedOut"].startswith(SIGNED_OUT)
    [logout] = [e for e in world.idp.log() if e["type"] == "logout_request"][-1:]
    assert logout["signed"] and logout["signature_valid"] is True
    assert logout["name_id"] == "alice" and logout["known_session"] is True
    issued = [e for e in log if e["type"] == "response_issued"][-1]
    assert logout["session_index"] == issued["session_index"]


def test_an_encrypted_assertion_is_decrypted_with_the_provider_s_key(world, corp_app):
    result = world.browse(corp_app, "Sealed", "bob")
    assert "claims" in result, result["callback"]
    assert result["claims"]["cognito:username"] == "sealed_bob"
    assert result["claims"]["email"] == "bob@example.com"


def test_idp_initiated_sign_in_in_chromium(world):
    # Cognito: a client of a provider with IDP-initiated sign-in has no other providers.
    client = world.client(["Corp"])
    relay = urlencode({"response_type": "code", "client_id": client["ClientId"], "redirect_uri": CALLBACK,
                       "identity_provider": "Corp", "scope": "openid email"})
    start = f"{world.idp.base}/idp-initiated?" + urlencode({"login": "carol", "relay_state": relay})
    result = world.browse(client, "Corp", "carol", start=start)
    assert result["claims"]["cognito:username"] == "corp_carol"
    assert result["claims"]["email"] == "carol@example.com"


# -- refusals, posted by plain HTTP ---------------------------------------------------------


def sp_initiated(world, client: dict) -> tuple[requests.Session, str, str]:
    """Starts a sign-in at Corp; returns the browser session, the RelayState and the id of the
    AuthnRequest tessera sent."""
    session = requests.Session()
    started = session.get(f"{world.issuer}/oauth2/authorize", params={
        "response_type": "code", "client_id": client["ClientId"], "redirect_uri": CALLBACK,
        "scope": "openid", "state": "app-state", "identity_provider": "Corp",
    }, allow_redirects=False, timeout=10)
    assert started.status_code == 302, started.text
    location = started.headers["location"]
    assert location.startswith(world.idp.base + "/sso?")
    relay = parse_qs(urlsplit(location).query)["RelayState"][0]
    # The IdP parses (and checks) the request, which gives its id.
    page = requests.get(location, timeout=10)
    assert page.status_code == 200, page.text
    [request] = [e for e in world.idp.log() if e["type"] == "authn_request"][-1:]
    return session, relay, request["id"]


def post(world, session: requests.Session, answer: dict) -> requests.Response:
    return session.post(world.acs, data={"SAMLResponse": answer["SAMLResponse"], "RelayState": answer["RelayState"]},
                        allow_redirects=False, timeout=10)


def callback_params(response: requests.Response) -> dict:
    assert response.status_code in (302, 303), response.text
    location = response.headers["location"]
    assert location.startswith(CALLBACK), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


REFUSED = [
    ("unsigned", "is not signed"),
    ("forged", "signature is not valid"),
    ("tampered", "signature is not valid"),
    *[(f"wrap_xsw{n}", "") for n in range(1, 9)],
    ("wrong_audience", "another audience"),
    ("wrong_recipient", ""),
    ("expired", "expired"),
    ("not_yet_valid", "not valid yet"),
    ("wrong_issuer", "another issuer"),
    ("status_failure", "did not sign the user in"),
]


@pytest.mark.parametrize("variant, reason", REFUSED)
def test_a_bad_response_is_refused_and_creates_nobody(world, corp_app, variant, reason):
    session, relay, request_id = sp_initiated(world, corp_app)
    answer = world.idp.response(login="bob", in_response_to=request_id, variant=variant, relay_state=relay)
    params = callback_params(post(world, session, answer))
    assert params["error"] == "invalid_request" and params["state"] == "app-state"
    assert params["error_description"].startswith("Error in SAML response processing: ")
    assert reason in params["error_description"]
    assert "code" not in params
    assert not {"corp_bob", "corp_admin"} & set(world.usernames())


def test_a_response_to_another_request_is_refused(world, corp_app):
    session, relay, _ = sp_initiated(world, corp_app)
    answer = world.idp.response(login="bob", in_response_to="_not-the-request", variant="valid", relay_state=relay)
    params = callback_params(post(world, session, answer))
    assert "does not answer the sign-in request" in params["error_description"]
    assert "corp_bob" not in world.usernames()


def test_a_valid_response_works_once_and_a_replayed_assertion_is_refused(world, corp_app):
    session, relay, request_id = sp_initiated(world, corp_app)
    answer = world.idp.response(login="bob", in_response_to=request_id, variant="valid", relay_state=relay)
    accepted = callback_params(post(world, session, answer))
    assert accepted["code"] and accepted["state"] == "app-state"
    # The same post again: its RelayState is spent.
    again = post(world, session, answer)
    assert again.status_code == 400 and "expired or was already completed" in again.text
    # An IdP-initiated replay of one assertion: accepted once, refused the second time.
    client = world.client(["Corp"])
    relay = urlencode({"response_type": "code", "client_id": client["ClientId"], "redirect_uri": CALLBACK,
                       "identity_provider": "Corp", "scope": "openid"})
    unsolicited = world.idp.response(login="carol", in_response_to=None, variant="valid", relay_state=relay)
    first = callback_params(post(world, requests.Session(), unsolicited))
    assert first["code"]
    replayed = world.idp.response(reuse=unsolicited["assertion_id"])
    second = callback_params(post(world, requests.Session(), replayed))
    assert second["error_description"] == "Error in SAML response processing: The assertion was already used."


def test_an_unsolicited_response_needs_idp_init_and_a_fresh_assertion(world):
    client = world.client(["Sealed"])
    relay = urlencode({"response_type": "code", "client_id": client["ClientId"], "redirect_uri": CALLBACK,
                       "identity_provider": "Sealed", "scope": "openid"})
    answer = world.encrypting.response(login="carol", in_response_to=None, variant="encrypted", relay_state=relay)
    refused = post(world, requests.Session(), answer)
    # Sealed does not allow IdP-initiated sign-in: no app to go back to.
    assert refused.status_code == 400
    corp = world.client(["Corp"])
    relay = urlencode({"response_type": "code", "client_id": corp["ClientId"], "redirect_uri": CALLBACK,
                       "identity_provider": "Corp", "scope": "openid"})
    stale = world.idp.response(login="carol", in_response_to=None, variant="stale_issue_instant", relay_state=relay)
    params = callback_params(post(world, requests.Session(), stale))
    assert "more than six minutes ago" in params["error_description"]


def test_a_comment_in_the_name_id_cannot_shorten_it(world, corp_app):
    session, relay, request_id = sp_initiated(world, corp_app)
    answer = world.idp.response(login="admin", in_response_to=request_id, variant="comment_injection", relay_state=relay)
    assert answer["evil_name_id"] == "admin"
    params = callback_params(post(world, session, answer))
    assert params.get("code"), params
    names = world.usernames()
    assert "corp_admin.evil.com" in names and "corp_admin" not in names


def test_the_service_provider_metadata_describes_tessera(world):
    import xml.etree.ElementTree as ET

    answer = requests.get(f"{world.issuer}/saml2/metadata", timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/samlmetadata+xml"
    md = "{urn:oasis:names:tc:SAML:2.0:metadata}"
    root = ET.fromstring(answer.content)
    assert root.tag == f"{md}EntityDescriptor" and root.get("entityID") == f"urn:amazon:cognito:sp:{POOL}"
    sp = root.find(f"{md}SPSSODescriptor")
    assert sp.get("AuthnRequestsSigned") == "true"
    certificate = sp.find(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate").text
    assert certificate == world.cognito.get_signing_certificate(UserPoolId=POOL)["Certificate"]
    assert sp.find(f"{md}AssertionConsumerService").get("Location") == world.acs
    assert sp.find(f"{md}SingleLogoutService").get("Location") == f"{world.issuer}/saml2/logout"
    assert requests.get(f"{world.server.url}/us-east-1_NoSuchPool/saml2/metadata", timeout=10).status_code == 404


def test_the_sign_in_page_routes_a_corporate_address_to_its_provider(world):
    import re

    # Every SAML provider of this client has an identifier: the page asks for an address.
    client = world.client(["COGNITO", "Corp"])
    session = requests.Session()
    page = session.get(f"{world.issuer}/login", params={
        "response_type": "code", "client_id": client["ClientId"], "redirect_uri": CALLBACK, "scope": "openid"}, timeout=10)
    assert 'name="corporateSignIn"' in page.text and "Continue with Corp" not in page.text
    action = re.search(r'name="corporateSignIn" method="post" action="([^"]+)"', page.text).group(1).replace("&#38;", "&")
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page.text).group(1)
    refused = session.post(world.server.url + action, data={"_csrf": csrf, "email": "bob@elsewhere.example"},
                           allow_redirects=False, timeout=10)
    assert refused.status_code == 400 and "No identity provider signs in addresses at elsewhere.example." in refused.text, refused.text
    routed = session.post(world.server.url + action, data={"_csrf": csrf, "email": "alice@Corp.Example"},
                          allow_redirects=False, timeout=10)
    assert routed.status_code in (302, 303) and routed.headers["location"].startswith(world.idp.base + "/sso?"), routed.text
    result = world.browse(client, "Corp", "alice", via="email", email="alice@Corp.Example")
    assert result["claims"]["cognito:username"] == "corp_alice"
    # A client with a SAML provider without identifiers keeps the buttons.
    mixed = world.client(["COGNITO", "Corp", "Sealed"])
    page = requests.get(f"{world.issuer}/login", params={
        "response_type": "code", "client_id": mixed["ClientId"], "redirect_uri": CALLBACK, "scope": "openid"}, timeout=10)
    assert "Continue with Corp" in page.text and "Continue with Sealed" in page.text
    assert 'name="corporateSignIn"' not in page.text


def test_issue_15_a_user_who_only_has_a_federated_name_is_not_signed_into(world, corp_app):
    """Review finding: a native user named `Corp_erin` (signed up with a password) must not
    receive the sign-in of the IdP's `erin`."""
    idp = world.cognito
    idp.admin_create_user(UserPoolId=POOL, Username="Corp_erin", MessageAction="SUPPRESS",
                          UserAttributes=[{"Name": "email", "Value": "squatter@example.com"}])
    idp.admin_set_user_password(UserPoolId=POOL, Username="Corp_erin", Password="Squatter-Passw0rd!", Permanent=True)
    before = idp.admin_get_user(UserPoolId=POOL, Username="corp_erin")
    session, relay, request_id = sp_initiated(world, corp_app)
    answer = world.idp.response(login="erin", in_response_to=request_id, variant="valid", relay_state=relay)
    params = callback_params(post(world, session, answer))
    assert "code" not in params
    assert params["error_description"] == "The user name corp_erin is taken by another user of the pool."
    after = idp.admin_get_user(UserPoolId=POOL, Username="corp_erin")
    assert after["UserAttributes"] == before["UserAttributes"] and after["UserStatus"] == "CONFIRMED"


def test_issue_15_subjects_equal_but_for_case_are_not_one_user(world, corp_app):
    """Review finding: NameIDs are case-sensitive; in a case-insensitive pool `Fay` and `fay`
    fold to one user name, and the second must not land on the first's user."""
    session, relay, request_id = sp_initiated(world, corp_app)
    answer = world.idp.response(login="Fay", in_response_to=request_id, variant="valid", relay_state=relay)
    assert callback_params(post(world, session, answer)).get("code")
    first = world.cognito.admin_get_user(UserPoolId=POOL, Username="corp_fay")
    session, relay, request_id = sp_initiated(world, corp_app)
    answer = world.idp.response(login="fay", in_response_to=request_id, variant="valid", relay_state=relay)
    params = callback_params(post(world, session, answer))
    assert "code" not in params and "taken by another user" in params["error_description"]
    again = world.cognito.admin_get_user(UserPoolId=POOL, Username="corp_fay")
    assert again["UserAttributes"] == first["UserAttributes"]
