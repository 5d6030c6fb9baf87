"""Issue 13, MFA on the hosted pages, on both backends: after the right password the sign-in
page leads to the MFA page of the challenge the sign-in machine chose: the authenticator
app's code, a code sent by e-mail, the choice between factors, and the set-up of an
authenticator app with a QR code the server draws (no script). A wrong code shows the page
again, the right one ends at the callback with a code the token endpoint redeems, and every
MFA page keeps the pages' rules: the security headers, CSRF, one `<h1>`, no script."""

from __future__ import annotations

import re
import time

from helpers import read_outbox
from oauth_support import (  # noqa: F401  (hosted is a fixture)
    CODE_RE,
    Browser,
    callback_params,
    hosted,
    pkce,
    redirect_location,
)
from test_hosted_pages import assert_page_headers, assert_page_shape, page_of, state_of
from test_mfa import EMAIL, TOTP, Authenticator

PASSWORD = "Correct-Horse-9"


def configure(hosted, mode: str, *factors: dict) -> None:
    config = {}
    for factor in factors:
        config.update(factor)
    hosted.idp.set_user_pool_mfa_config(UserPoolId=hosted.pool_id, MfaConfiguration=mode, **config)


def enrol(hosted, username: str) -> Authenticator:
    """A software token set up through the API, turned on and preferred."""
    client = hosted.idp.create_user_pool_client(
        UserPoolId=hosted.pool_id, ClientName="api", ExplicitAuthFlows=["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]
    tokens = hosted.idp.admin_initiate_auth(
        UserPoolId=hosted.pool_id,
        ClientId=client["ClientId"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )["AuthenticationResult"]
    secret = hosted.public.associate_software_token(AccessToken=tokens["AccessToken"])["SecretCode"]
    authenticator = Authenticator(secret)
    previous, _, _ = authenticator.steps()
    hosted.public.verify_software_token(AccessToken=tokens["AccessToken"], UserCode=previous, FriendlyDeviceName="phone")
    hosted.public.set_user_mfa_preference(
        AccessToken=tokens["AccessToken"], SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    return authenticator


def start(hosted, client, username: str):
    """Opens the sign-in page and submits the password; returns the browser, the verifier,
    the authorize URL and the page that follows."""
    verifier, challenge = pkce()
    url = hosted.authorize_url(client, code_challenge=challenge, code_challenge_method="S256")
    browser = Browser(hosted.server)
    page = browser.open(url)
    resp = browser.submit(page, "cognitoSignInForm", {"username": username, "password": PASSWORD})
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("Location"), resp.text[:800])
    assert_page_headers(resp)
    shown = page_of(resp, page.url)
    assert_page_shape(shown)
    return browser, verifier, url, shown


def finish(hosted, client, resp, verifier: str, url: str, username: str) -> None:
    params = callback_params(redirect_location(resp, 303))
    assert CODE_RE.match(params["code"]) and params["state"] == state_of(url)
    tokens = hosted.redeem(client, params["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    assert hosted.verify_access(tokens.json()["access_token"], client)["username"] == username


def test_the_authenticator_code_page(hosted):
    configure(hosted, "OPTIONAL", TOTP)
    client = hosted.client()
    username = hosted.user(password=PASSWORD)
    authenticator = enrol(hosted, username)
    _, current, _ = authenticator.steps()

    browser, verifier, url, page = start(hosted, client, username)
    form = page.form("mfaForm")
    assert form.hidden().get("handle") and form.hidden().get("_csrf")
    assert "authenticator app" in page.text
    # The form is CSRF-protected like the others.
    assert browser.submit(page, "mfaForm", {"code": current}, csrf="wrong").status_code == 403

    wrong = "000000" if current != "000000" else "111111"
    resp = browser.submit(page, "mfaForm", {"code": wrong})
    assert resp.status_code == 200
    again = page_of(resp, page.url)
    assert again.error == "The code is not right. Try again."
    finish(hosted, client, browser.submit(again, "mfaForm", {"code": current}), verifier, url, username)
    # The page's session answered once.
    resp = browser.submit(again, "mfaForm", {"code": current})
    assert resp.status_code == 200 and page_of(resp, page.url).has_form("cognitoSignInForm")


def test_setting_up_an_authenticator_when_mfa_is_required(hosted):
    configure(hosted, "ON", TOTP)
    client = hosted.client()
    username = hosted.user(password=PASSWORD)

    browser, verifier, url, page = start(hosted, client, username)
    page.form("mfaForm")
    assert "<svg" in page.text, "the QR code is drawn by the server"
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page.text).group(1)
    authenticator = Authenticator(secret)
    previous, current, _ = authenticator.steps()
    resp = browser.submit(page, "mfaForm", {"code": "000000" if previous != "000000" else "111111"})
    again = page_of(resp, page.url)
    assert again.error == "The code is not right. Try again." and secret in again.text
    finish(hosted, client, browser.submit(again, "mfaForm", {"code": previous, "device_name": "laptop"}), verifier, url, username)
    user = hosted.idp.admin_get_user(UserPoolId=hosted.pool_id, Username=username)
    assert user["UserMFASettingList"] == ["SOFTWARE_TOKEN_MFA"]

    # The next sign-in asks the authenticator's code.
    browser, verifier, url, page = start(hosted, client, username)
    assert "authenticator app" in page.text and "<svg" not in page.text
    finish(hosted, client, browser.submit(page, "mfaForm", {"code": current}), verifier, url, username)


def test_choosing_between_factors_and_an_emailed_code(hosted):
    configure(hosted, "OPTIONAL", TOTP, EMAIL)
    client = hosted.client()
    username = hosted.user(password=PASSWORD)
    enrol(hosted, username)
    hosted.idp.admin_set_user_mfa_preference(
        UserPoolId=hosted.pool_id,
        Username=username,
        SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": False},
        EmailMfaSettings={"Enabled": True, "PreferredMfa": False},
    )

    browser, verifier, url, page = start(hosted, client, username)
    form = page.form("mfaForm")
    assert sorted(b.get("value") for b in form.buttons) == ["EMAIL_OTP", "SOFTWARE_TOKEN_MFA"]
    resp = browser.submit(page, "mfaForm", {"choice": "EMAIL_OTP"})
    assert resp.status_code == 200
    code_page = page_of(resp, page.url)
    assert "by e-mail" in code_page.text
    deadline = time.time() + 10
    while True:
        messages = read_outbox(hosted.server, pool_id=hosted.pool_id, username=username)
        found = [re.search(r"\b\d{8}\b", m["body"]) for m in messages]
        if found and found[-1]:
            break
        assert time.time() < deadline, messages
        time.sleep(0.1)
    finish(hosted, client, browser.submit(code_page, "mfaForm", {"code": found[-1].group(0)}), verifier, url, username)


def test_a_code_by_e_mail_signs_in_without_a_password(hosted):
    """USER_AUTH's EMAIL_OTP on the sign-in page: any name gets the code page (a user who
    cannot receive a code is sent nothing), the code from the outbox signs in."""
    hosted.idp.update_user_pool(
        UserPoolId=hosted.pool_id,
        AutoVerifiedAttributes=["email"],
        Policies={"SignInPolicy": {"AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"]}},
    )
    client = hosted.client()
    username = hosted.user(password=PASSWORD)
    verifier, challenge = pkce()
    url = hosted.authorize_url(client, code_challenge=challenge, code_challenge_method="S256")
    browser = Browser(hosted.server)
    page = browser.open(url)
    assert any(b.get("value") == "EMAIL_OTP" for b in page.form("cognitoSignInForm").buttons)
    resp = browser.submit(page, "cognitoSignInForm", {"username": username, "password": "", "passkey": "", "otp": "EMAIL_OTP"})
    assert resp.status_code == 200, resp.text[:500]
    code_page = page_of(resp, page.url)
    assert "by e-mail" in code_page.text and code_page.form("mfaForm")
    body = read_outbox(hosted.server, pool_id=hosted.pool_id, username=username)[-1]["body"]
    code = re.search(r"\b\d{8}\b", body).group(0)
    wrong = "00000000" if code != "00000000" else "11111111"
    again = page_of(browser.submit(code_page, "mfaForm", {"code": wrong}), page.url)
    assert again.error == "The code is not right. Try again."
    finish(hosted, client, browser.submit(again, "mfaForm", {"code": code}), verifier, url, username)

    # An unknown name gets the same page, and no message goes out.
    before = len(read_outbox(hosted.server, pool_id=hosted.pool_id))
    other = Browser(hosted.server)
    page = other.open(hosted.authorize_url(client))
    resp = other.submit(page, "cognitoSignInForm", {"username": "nobody-here", "password": "", "passkey": "", "otp": "EMAIL_OTP"})
    ghost = page_of(resp, page.url)
    assert "by e-mail" in ghost.text and ghost.form("mfaForm")
    assert len(read_outbox(hosted.server, pool_id=hosted.pool_id)) == before


def test_a_remembered_browser_skips_mfa_until_the_device_is_forgotten(hosted):
    """"Remember this device" on the MFA page: the browser keeps a device password in a
    cookie; the next sign-in from it skips MFA (the pool lets a remembered device stand in),
    another browser is asked, and once an administrator forgets the device this one is asked
    again."""
    hosted.idp.update_user_pool(
        UserPoolId=hosted.pool_id,
        AutoVerifiedAttributes=["email"],
        DeviceConfiguration={"ChallengeRequiredOnNewDevice": True, "DeviceOnlyRememberedOnUserPrompt": True},
    )
    configure(hosted, "OPTIONAL", TOTP)
    client = hosted.client()
    username = hosted.user(password=PASSWORD)
    authenticator = enrol(hosted, username)
    _, current, _ = authenticator.steps()

    browser, verifier, url, page = start(hosted, client, username)
    assert page.form("mfaForm").field("remember_device") is not None
    finish(hosted, client, browser.submit(page, "mfaForm", {"code": current, "remember_device": "1"}), verifier, url, username)
    devices = hosted.idp.admin_list_devices(UserPoolId=hosted.pool_id, Username=username)["Devices"]
    assert len(devices) == 1
    names = {a["Name"]: a["Value"] for a in devices[0]["DeviceAttributes"]}
    assert names["device_name"] == "Web browser" and names["dev:device_remembered_status"] == "remembered"

    # The same browser, signed out: the password alone signs in.
    for c in list(browser.session.cookies):
        if c.name.startswith("tessera-sso"):
            browser.session.cookies.clear(c.domain, c.path, c.name)
    verifier2, challenge2 = pkce()
    url2 = hosted.authorize_url(client, code_challenge=challenge2, code_challenge_method="S256")
    login = browser.open(url2)
    resp = browser.submit(login, "cognitoSignInForm", {"username": username, "password": PASSWORD})
    finish(hosted, client, resp, verifier2, url2, username)

    # Another browser is asked for the code.
    other, _, _, page = start(hosted, client, username)
    assert page.form("mfaForm")

    # Forgotten by an administrator: this browser is asked again.
    hosted.idp.admin_forget_device(UserPoolId=hosted.pool_id, Username=username, DeviceKey=devices[0]["DeviceKey"])
    for c in list(browser.session.cookies):
        if c.name.startswith("tessera-sso"):
            browser.session.cookies.clear(c.domain, c.path, c.name)
    login = browser.open(hosted.authorize_url(client))
    resp = browser.submit(login, "cognitoSignInForm", {"username": username, "password": PASSWORD})
    assert resp.status_code == 200 and page_of(resp, login.url).form("mfaForm")
