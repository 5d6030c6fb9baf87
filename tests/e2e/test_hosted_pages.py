"""The hosted pages as a browser meets them (hosted-pages.md; oauth-provider.md D.5, D.8–D.12):
security headers and the CSRF cookie on every page, CSRF and Origin checks on every form, no
user enumeration (sign-in, forgot password), the new-password and confirmation detours, single
sign-on across a pool's clients with prompt=login / prompt=none and /logout, the domain form
(`Host: <prefix>.auth.localhost`) with its discovery document, and UI customization."""

from __future__ import annotations

import struct
import urllib.parse
import zlib

import requests

from helpers import HTTP_TIMEOUT, PASSWORD, attribute_list, expect_error, latest_code, read_outbox, secret_hash, unique
from oauth_support import (  # noqa: F401  (hosted and domains are fixtures)
    CALLBACK,
    CODE_RE,
    INCORRECT,
    NEW_PASSWORD,
    OTHER_CALLBACK,
    SIGNED_OUT,
    TEMP_PASSWORD,
    WRONG_PASSWORD,
    Browser,
    Hosted,
    Page,
    callback_params,
    domains,
    error_redirect,
    basic,
    hosted,
    pkce,
    query_of,
    redirect_location,
    set_cookies,
    sibling,
)

CSRF_COOKIE = "tessera-csrf"
CSS = ".banner-customizable { background-color: #0b3d91; }\n.submitButton-customizable:hover { color: white; }"


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + b"\x10\x20\x30\xff" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def csp(resp: requests.Response) -> dict[str, list[str]]:
    policy = resp.headers.get("Content-Security-Policy")
    assert policy, f"no Content-Security-Policy on {resp.url}"
    out: dict[str, list[str]] = {}
    for directive in policy.split(";"):
        words = directive.split()
        if words:
            out[words[0].lower()] = words[1:]
    return out


def assert_page_headers(resp: requests.Response, callback_origin: str | None = "https://app.example.com") -> None:
    """hosted-pages.md "Headers of every page"."""
    h = resp.headers
    assert h.get("Content-Type", "").startswith("text/html"), (resp.url, h)
    policy = csp(resp)
    assert policy.get("default-src") == ["'none'"], policy
    assert policy.get("style-src") == ["'self'"], policy
    assert policy.get("img-src") == ["'self'"], policy
    assert policy.get("base-uri") == ["'none'"], policy
    assert policy.get("frame-ancestors") == ["'none'"], policy
    assert "'self'" in policy.get("form-action", []), policy
    if callback_origin:
        assert callback_origin in policy["form-action"], policy
    assert "unsafe-inline" not in h["Content-Security-Policy"] and "script-src" not in policy, policy
    assert h.get("X-Frame-Options", "").upper() == "DENY", h
    assert h.get("X-Content-Type-Options", "").lower() == "nosniff", h
    assert h.get("Referrer-Policy", "").lower() == "same-origin", h
    assert "no-store" in h.get("Cache-Control", ""), h
    assert "Strict-Transport-Security" not in h  # plain-http public URL


def assert_csrf_cookie(resp: requests.Response) -> None:
    cookies = set_cookies(resp)
    assert CSRF_COOKIE in cookies, f"GET {resp.url} set no {CSRF_COOKIE} cookie: {list(cookies)}"
    attrs = cookies[CSRF_COOKIE]
    assert attrs["value"], attrs
    assert "httponly" in attrs, attrs
    assert attrs.get("samesite", "").lower() == "strict", attrs
    assert attrs.get("path") == "/", attrs
    assert "secure" not in attrs, attrs  # plain http: a Secure cookie would never come back
    assert "domain" not in attrs, attrs


def assert_page_shape(page: Page) -> None:
    assert page.h1 == 1, f"{page.url}: {page.h1} <h1>"
    assert page.scripts == 0, f"{page.url} has <script>"
    assert any(m.get("name") == "viewport" for m in page.meta), page.url
    for form in page.forms:
        assert form.method == "post", form
        assert form.hidden().get("_csrf"), f"{form.name} has no _csrf"
        assert form.buttons and all((b.get("type") or "").lower() == "submit" for b in form.buttons), form


def state_of(url: str) -> str:
    return query_of(url)["state"]


def has_sso_cookie(browser: Browser, pool_id: str) -> bool:
    return browser.cookie(f"tessera-sso-{pool_id}") is not None


def page_of(resp: requests.Response, url: str) -> Page:
    return Page(resp, url)


# --------------------------------------------------------------------------
# headers, cookies and the shape of every page


def test_every_page_has_the_security_headers_and_sets_the_csrf_cookie(hosted):
    client = hosted.client()
    _, challenge = pkce()
    pk = {"code_challenge": challenge, "code_challenge_method": "S256", "state": "st-1"}
    authorize = hosted.authorize_url(client, **pk)
    login_url = hosted.authorize_url(client, endpoint=hosted.login_endpoint, **pk)
    auth_query = query_of(login_url)

    # authorize -> 302 to {base}/login with the same query.
    resp = requests.get(authorize, allow_redirects=False, timeout=HTTP_TIMEOUT)
    location = urllib.parse.urljoin(authorize, redirect_location(resp, 302))
    assert urllib.parse.urlsplit(location).path == f"/{hosted.pool_id}/login", location
    assert query_of(location) == auth_query, location

    expected_forms = {
        "login": {"cognitoSignInForm"},
        "signup": {"signUpForm"},
        "forgotPassword": {"forgotPasswordForm"},
        "confirm": {"confirmForm", "resendForm"},
        "confirmForgotPassword": {"confirmForgotPasswordForm"},
    }
    for name, forms in expected_forms.items():
        url = sibling(login_url, name)
        if name in ("confirm", "confirmForgotPassword"):
            url += "&username=someone"
        browser = Browser(hosted.server)
        page = browser.open(url)
        assert_page_headers(page.response)
        assert_csrf_cookie(page.response)
        assert_page_shape(page)
        assert {f.name for f in page.forms} >= forms, (name, [f.name for f in page.forms])
        for form_name in forms:
            form = page.form(form_name)
            action = urllib.parse.urlsplit(urllib.parse.urljoin(page.url, form.action))
            own = {"resendForm": "resendcode"}.get(form_name, name)
            assert action.path == f"/{hosted.pool_id}/{own}", (form_name, form.action)
            # The authorize query travels in the action URL.
            action_query = dict(urllib.parse.parse_qsl(action.query))
            for key, value in auth_query.items():
                assert action_query.get(key) == value, (form_name, key, form.action)
        if name == "login":
            form = page.form("cognitoSignInForm")
            assert form.field("username").get("id") == "signInFormUsername"
            assert form.field("password").get("id") == "signInFormPassword"
            assert (form.field("password").get("type") or "").lower() == "password"
            assert any(b.get("name") == "signInSubmitButton" for b in form.buttons), form.buttons
        if name == "signup":
            assert {"username", "password", "email"} <= set(page.form("signUpForm").names())
        if name == "confirm":
            assert page.form("confirmForm").value("username") == "someone"
            assert page.form("resendForm").value("username") == "someone"
            assert "code" in page.form("confirmForm").names()
        if name == "confirmForgotPassword":
            assert {"username", "code", "password", "password_confirm"} <= set(page.form("confirmForgotPasswordForm").names())
        if name == "forgotPassword":
            assert "username" in page.form("forgotPasswordForm").names()

    # The error page: 400, the same headers, a CSRF cookie, and links to nothing unvalidated.
    browser = Browser(hosted.server)
    resp = browser.get(f"{hosted.base}/error")
    assert resp.status_code == 400, resp.status_code
    assert_page_headers(resp, callback_origin=None)
    assert_csrf_cookie(resp)
    page = page_of(resp, resp.url)
    assert page.scripts == 0 and page.h1 == 1
    # An error page shown for a bad redirect_uri carries the headers too.
    resp = browser.get(hosted.authorize_url(client, redirect_uri="https://evil.example.com/cb"))
    assert resp.status_code == 400
    assert_page_headers(resp, callback_origin=None)
    assert "https://evil.example.com" not in csp(resp).get("form-action", [])


# --------------------------------------------------------------------------
# CSRF and Origin


def test_posts_need_the_csrf_cookie_a_matching_token_and_no_foreign_origin(hosted):
    client = hosted.client()
    username = hosted.user()
    _, challenge = pkce()
    url = hosted.authorize_url(client, code_challenge=challenge, code_challenge_method="S256")
    creds = {"username": username, "password": PASSWORD}
    other = Browser(hosted.server).open(url)  # another browser's token

    def refused(resp: requests.Response, browser: Browser) -> None:
        assert resp.status_code == 403, (resp.status_code, resp.headers.get("Location"), resp.text[:500])
        assert "Location" not in resp.headers
        page = page_of(resp, resp.url)
        # The page again, with a fresh token to retry with.
        assert page.form("cognitoSignInForm").hidden().get("_csrf")
        assert not has_sso_cookie(browser, hosted.pool_id)
        assert f"tessera-sso-{hosted.pool_id}" not in set_cookies(resp)

    attempts = [
        ("no cookie", lambda b, p: (b.drop_cookie(CSRF_COOKIE), b.submit(p, "cognitoSignInForm", creds))[1]),
        ("wrong token", lambda b, p: b.submit(p, "cognitoSignInForm", creds, csrf="wrong")),
        ("empty token", lambda b, p: b.submit(p, "cognitoSignInForm", creds, csrf="")),
        ("token of another browser", lambda b, p: b.submit(p, "cognitoSignInForm", creds, csrf=other.form("cognitoSignInForm").hidden()["_csrf"])),
        ("foreign origin", lambda b, p: b.submit(p, "cognitoSignInForm", creds, origin="https://evil.example.com")),
        ("foreign origin, same host other port", lambda b, p: b.submit(p, "cognitoSignInForm", creds, origin="http://127.0.0.1:1")),
        ("cross-site fetch", lambda b, p: b.submit(p, "cognitoSignInForm", creds, origin=None, headers={"Sec-Fetch-Site": "cross-site"})),
    ]
    for what, attempt in attempts:
        browser = Browser(hosted.server)
        page = browser.open(url)
        resp = attempt(browser, page)
        try:
            refused(resp, browser)
        except AssertionError as exc:
            raise AssertionError(f"{what}: {exc}") from exc
        # Still not signed in: authorize shows the sign-in page again.
        assert browser.open(url).path.endswith("/login"), what

    # The other forms are protected too: no user is created, nothing is sent.
    browser = Browser(hosted.server)
    signup = browser.open(sibling(url.replace("/oauth2/authorize", "/login"), "signup"))
    newcomer = unique("newcomer")
    resp = browser.submit(signup, "signUpForm", {"username": newcomer, "password": PASSWORD, "email": f"{newcomer}@example.com"}, csrf="wrong")
    assert resp.status_code == 403, resp.status_code
    expect_error("UserNotFoundException", hosted.idp.admin_get_user, UserPoolId=hosted.pool_id, Username=newcomer)
    forgot = browser.open(sibling(url.replace("/oauth2/authorize", "/login"), "forgotPassword"))
    before = len(read_outbox(hosted.server, pool_id=hosted.pool_id))
    resp = browser.submit(forgot, "forgotPasswordForm", {"username": username}, origin="https://evil.example.com")
    assert resp.status_code == 403, resp.status_code
    assert len(read_outbox(hosted.server, pool_id=hosted.pool_id)) == before

    # A browser that plays by the rules (same Origin header, or none) signs in.
    browser = Browser(hosted.server)
    page = browser.open(url)
    resp = browser.submit(page, "cognitoSignInForm", creds, origin=None)
    assert resp.status_code == 303, resp.status_code
    assert "code" in callback_params(resp.headers["Location"])


def test_sign_in_post_revalidates_the_authorize_query(hosted):
    """The form's action carries the authorize query; a POST with a tampered one is judged like
    an authorize request (D.8: hidden fields and action URLs are never trusted)."""
    client = hosted.client(scopes=["openid", "email"])
    username = hosted.user()
    _, challenge = pkce()
    url = hosted.authorize_url(client, code_challenge=challenge, code_challenge_method="S256")
    creds = {"username": username, "password": PASSWORD}

    browser = Browser(hosted.server)
    page = browser.open(url)
    form = page.form("cognitoSignInForm")
    evil = "https://evil.example.com/steal"
    form.action = form.action.replace(urllib.parse.quote(CALLBACK, safe=""), urllib.parse.quote(evil, safe=""))
    assert urllib.parse.quote(evil, safe="") in form.action
    resp = browser.submit(page, "cognitoSignInForm", creds)
    assert resp.status_code == 400, (resp.status_code, resp.headers.get("Location"))
    assert "Location" not in resp.headers
    assert evil not in resp.text

    page = browser.open(url)
    form = page.form("cognitoSignInForm")
    form.action += "&scope=" + urllib.parse.quote("openid profile")
    resp = browser.submit(page, "cognitoSignInForm", creds)
    location = resp.headers.get("Location", "")
    assert resp.status_code in (302, 303, 400), resp.status_code
    if resp.status_code != 400:
        params = callback_params(location)
        assert params.get("error") in ("invalid_scope", "invalid_request") and "code" not in params, location


def test_reflected_values_are_escaped(hosted):
    client = hosted.client()
    _, challenge = pkce()
    nasty = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    login_url = hosted.authorize_url(client, endpoint=hosted.login_endpoint, state=nasty, code_challenge=challenge, code_challenge_method="S256")
    browser = Browser(hosted.server)
    page = browser.open(login_url)
    assert page.scripts == 0 and not any(i.get("src") == "x" for i in page.images), page.text
    action = page.form("cognitoSignInForm").action
    assert query_of(urllib.parse.urljoin(page.url, action))["state"] == nasty
    page = browser.open(sibling(login_url, "confirm") + "&username=" + urllib.parse.quote(nasty))
    assert page.scripts == 0 and not any(i.get("src") == "x" for i in page.images), page.text
    assert page.form("confirmForm").value("username") == nasty


# --------------------------------------------------------------------------
# no user enumeration


def test_wrong_password_unknown_and_disabled_users_look_the_same(hosted):
    client = hosted.client()
    known, disabled = hosted.user(), hosted.user()
    hosted.idp.admin_disable_user(UserPoolId=hosted.pool_id, Username=disabled)
    _, challenge = pkce()
    url = hosted.authorize_url(client, code_challenge=challenge, code_challenge_method="S256")
    answers = []
    for username, password in ((known, WRONG_PASSWORD), (unique("nobody"), PASSWORD), (disabled, PASSWORD)):
        browser = Browser(hosted.server)
        page = browser.open(url)
        resp = browser.submit(page, "cognitoSignInForm", {"username": username, "password": password})
        assert "Location" not in resp.headers, (username, resp.headers.get("Location"))
        shown = page_of(resp, page.url)
        assert shown.error == INCORRECT, (username, shown.error)
        assert shown.has_form("cognitoSignInForm")
        assert not has_sso_cookie(browser, hosted.pool_id)
        answers.append((resp.status_code, shown.error))
    assert len(set(answers)) == 1, answers


def test_sign_up_with_a_taken_username_changes_nothing(hosted):
    """A taken username is said so on the sign-up page (as Cognito's hosted UI and SignUp do),
    and the existing account is left alone (its password and e-mail address)."""
    client = hosted.client()
    owner = hosted.user()
    _, challenge = pkce()
    login_url = hosted.authorize_url(client, endpoint=hosted.login_endpoint, code_challenge=challenge, code_challenge_method="S256")
    browser = Browser(hosted.server)
    page = browser.open(sibling(login_url, "signup"))
    resp = browser.submit(page, "signUpForm", {"username": owner, "password": NEW_PASSWORD, "email": "attacker@example.com"})
    assert resp.status_code == 200 and "Location" not in resp.headers, (resp.status_code, resp.headers)
    again = Page(resp, page.url)
    assert again.error == "An account with this username already exists.", again.error
    assert again.has_form("signUpForm")
    user = hosted.idp.admin_get_user(UserPoolId=hosted.pool_id, Username=owner)
    assert {a["Name"]: a["Value"] for a in user["UserAttributes"]}["email"] == f"{owner}@example.com"
    assert user["UserStatus"] == "CONFIRMED"
    assert "code" in hosted.authorize(client, owner)  # the old password still signs in


def test_a_squatted_unconfirmed_account_is_not_confirmed_by_the_next_person(hosted):
    """Someone signs up a name first, with a password of their own, and leaves it unconfirmed.
    The next person to sign up that name is told it is taken rather than sent on to confirm
    it: otherwise a code sent to them would confirm the first person's account and password
    (issue 6 review)."""
    client = hosted.client()
    name = unique("squatted")
    _, challenge = pkce()
    login_url = hosted.authorize_url(client, endpoint=hosted.login_endpoint, code_challenge=challenge, code_challenge_method="S256")
    squatter = Browser(hosted.server)
    page = squatter.open(sibling(login_url, "signup"))
    resp = squatter.submit(page, "signUpForm", {"username": name, "password": PASSWORD, "email": "squatter@example.com"})
    assert urllib.parse.urlsplit(redirect_location(resp, 303)).path.endswith("/confirm")
    victim = Browser(hosted.server)
    page = victim.open(sibling(login_url, "signup"))
    resp = victim.submit(page, "signUpForm", {"username": name, "password": NEW_PASSWORD, "email": "victim@example.com"})
    assert resp.status_code == 200 and "Location" not in resp.headers
    assert Page(resp, page.url).error == "An account with this username already exists."
    user = hosted.idp.admin_get_user(UserPoolId=hosted.pool_id, Username=name)
    assert user["UserStatus"] == "UNCONFIRMED"


def test_forgot_password_answers_the_same_for_every_username(hosted):
    client = hosted.client()
    known = hosted.user()
    unknown = unique("nobody")
    _, challenge = pkce()
    login_url = hosted.authorize_url(client, endpoint=hosted.login_endpoint, code_challenge=challenge, code_challenge_method="S256")
    browser = Browser(hosted.server)

    locations = {}
    for username in (unknown, known):
        before = read_outbox(hosted.server, pool_id=hosted.pool_id)
        page = browser.open(sibling(login_url, "forgotPassword"))
        resp = browser.submit(page, "forgotPasswordForm", {"username": username})
        location = urllib.parse.urljoin(page.url, redirect_location(resp, 303))
        assert urllib.parse.urlsplit(location).path.endswith("/confirmForgotPassword"), location
        assert query_of(location).get("username") == username, location
        locations[username] = location
        after = read_outbox(hosted.server, pool_id=hosted.pool_id)
        sent = after[len(before):]
        if username == unknown:
            assert sent == [], sent
        else:
            assert len(sent) == 1 and sent[0].get("username", known) == known, sent
    # Apart from the username, the same redirect.
    assert locations[unknown].replace(urllib.parse.quote(unknown), "X").replace(unknown, "X") == (
        locations[known].replace(urllib.parse.quote(known), "X").replace(known, "X")
    )

    # The reset itself: a wrong code and a mismatched confirmation are refused on the page.
    page = browser.open(locations[known])
    assert page.form("confirmForgotPasswordForm").value("username") == known
    code = latest_code(hosted.server, hosted.pool_id, known)
    wrong = "000000" if code != "000000" else "111111"
    resp = browser.submit(page, "confirmForgotPasswordForm", {"code": wrong, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert resp.status_code not in (302, 303) and page_of(resp, page.url).error, resp.status_code
    page = browser.open(locations[known])
    resp = browser.submit(page, "confirmForgotPasswordForm", {"code": code, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD + "x"})
    assert resp.status_code not in (302, 303) and page_of(resp, page.url).error, resp.status_code
    page = browser.open(locations[known])
    resp = browser.submit(page, "confirmForgotPasswordForm", {"code": code, "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    location = urllib.parse.urljoin(page.url, redirect_location(resp, 303))
    assert urllib.parse.urlsplit(location).path.endswith("/login"), location
    assert query_of(location).get("notice") == "password_reset", location
    login = browser.open(location)
    assert login.notice
    # The old password is gone, the new one signs in.
    resp = browser.submit(login, "cognitoSignInForm", {"username": known, "password": PASSWORD})
    assert page_of(resp, login.url).error == INCORRECT
    login = browser.open(location)
    resp = browser.submit(login, "cognitoSignInForm", {"username": known, "password": NEW_PASSWORD})
    assert "code" in callback_params(redirect_location(resp, 303))


# --------------------------------------------------------------------------
# detours of the sign-in: a temporary password, an unconfirmed user


def test_temporary_password_leads_to_the_new_password_page(hosted):
    client = hosted.client()
    username = unique("temp")
    hosted.idp.admin_create_user(
        UserPoolId=hosted.pool_id,
        Username=username,
        TemporaryPassword=TEMP_PASSWORD,
        MessageAction="SUPPRESS",
        UserAttributes=attribute_list({"email": f"{username}@example.com", "email_verified": "true"}),
    )
    verifier, challenge = pkce()
    url = hosted.authorize_url(client, code_challenge=challenge, code_challenge_method="S256")
    browser = Browser(hosted.server)
    page = browser.open(url)
    resp = browser.submit(page, "cognitoSignInForm", {"username": username, "password": TEMP_PASSWORD})
    assert resp.status_code == 200, (resp.status_code, resp.headers.get("Location"))
    assert_page_headers(resp)
    shown = page_of(resp, page.url)
    form = shown.form("newPasswordForm")
    assert urllib.parse.urlsplit(urllib.parse.urljoin(page.url, form.action)).path == f"/{hosted.pool_id}/newPassword"
    assert form.hidden().get("session") and form.hidden().get("_csrf")
    assert {"password", "password_confirm"} <= set(form.names())
    assert not has_sso_cookie(browser, hosted.pool_id)
    new = {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}

    # The handle is bound to the client it was issued for (D.8): another client of the pool,
    # with the same callback, gets no code from it.
    other = hosted.client()
    thief = Browser(hosted.server)
    stolen = thief.open(url)
    stolen = page_of(thief.submit(stolen, "cognitoSignInForm", {"username": username, "password": TEMP_PASSWORD}), stolen.url)
    stolen.form("newPasswordForm").action = stolen.form("newPasswordForm").action.replace(client["ClientId"], other["ClientId"])
    resp = thief.submit(stolen, "newPasswordForm", new)
    assert "code" not in query_of(resp.headers.get("Location", "")), resp.headers.get("Location")
    # The form is CSRF-protected like the others.
    resp = browser.submit(shown, "newPasswordForm", new, csrf="wrong")
    assert resp.status_code == 403, resp.status_code

    resp = browser.submit(shown, "newPasswordForm", new)
    params = callback_params(redirect_location(resp, 303))
    assert CODE_RE.match(params["code"]) and params["state"] == state_of(url) and params["iss"] == hosted.issuer
    tokens = hosted.redeem(client, params["code"], verifier)
    assert tokens.status_code == 200, tokens.text
    assert hosted.verify_access(tokens.json()["access_token"], client)["username"] == username
    assert hosted.idp.admin_get_user(UserPoolId=hosted.pool_id, Username=username)["UserStatus"] == "CONFIRMED"
    # The session handle was single use.
    resp = browser.submit(shown, "newPasswordForm", {"password": NEW_PASSWORD + "2", "password_confirm": NEW_PASSWORD + "2"})
    assert resp.status_code not in (302, 303) or "code" not in query_of(resp.headers.get("Location", "")), resp.headers
    # And the new password is the password now.
    got = hosted.authorize(client, username, password=NEW_PASSWORD)
    assert CODE_RE.match(got["code"])


def test_unconfirmed_user_is_sent_to_the_confirm_page(hosted):
    client = hosted.client()
    username = unique("unconfirmed")
    hosted.public.sign_up(
        ClientId=client["ClientId"],
        Username=username,
        Password=PASSWORD,
        UserAttributes=attribute_list({"email": f"{username}@example.com"}),
        SecretHash=secret_hash(client["ClientSecret"], username, client["ClientId"]),
    )
    verifier, challenge = pkce()
    url = hosted.authorize_url(client, code_challenge=challenge, code_challenge_method="S256")
    browser = Browser(hosted.server)

    # A wrong password tells nothing about the account.
    page = browser.open(url)
    resp = browser.submit(page, "cognitoSignInForm", {"username": username, "password": WRONG_PASSWORD})
    assert "Location" not in resp.headers and page_of(resp, page.url).error == INCORRECT

    # The right one leads to the confirm page, with the authorize query kept.
    page = browser.open(url)
    resp = browser.submit(page, "cognitoSignInForm", {"username": username, "password": PASSWORD})
    location = urllib.parse.urljoin(page.url, redirect_location(resp, 303))
    assert urllib.parse.urlsplit(location).path == f"/{hosted.pool_id}/confirm", location
    assert query_of(location)["username"] == username
    assert query_of(location)["state"] == state_of(url) and query_of(location)["client_id"] == client["ClientId"]
    assert not has_sso_cookie(browser, hosted.pool_id)

    # Resend a code: the confirm page again with a notice, and a new message.
    confirm = browser.open(location)
    sent = len(read_outbox(hosted.server, pool_id=hosted.pool_id, username=username))
    resp = browser.submit(confirm, "resendForm")
    again = browser.follow(resp, base=confirm.url) if resp.status_code in (302, 303) else page_of(resp, confirm.url)
    assert again.status == 200 and again.notice, (again.status, again.text[:500])
    assert again.has_form("confirmForm")
    assert len(read_outbox(hosted.server, pool_id=hosted.pool_id, username=username)) == sent + 1

    # A wrong code: an error on the page, no redirect.
    code = latest_code(hosted.server, hosted.pool_id, username)
    resp = browser.submit(again, "confirmForm", {"code": "000000" if code != "000000" else "111111"})
    assert resp.status_code not in (302, 303) and page_of(resp, again.url).error, resp.status_code
    resp = browser.submit(browser.open(location), "confirmForm", {"code": code})
    location = urllib.parse.urljoin(again.url, redirect_location(resp, 303))
    assert query_of(location).get("notice") == "confirmed", location
    login = browser.open(location)
    resp = browser.submit(login, "cognitoSignInForm", {"username": username, "password": PASSWORD})
    params = callback_params(redirect_location(resp, 303))
    assert params["state"] == state_of(url)
    assert hosted.redeem(client, params["code"], verifier).status_code == 200


# --------------------------------------------------------------------------
# single sign-on, prompt and logout


def test_single_sign_on_prompt_and_logout(hosted, make_pool, idp):
    first = hosted.client()
    second = hosted.client(callbacks=[OTHER_CALLBACK])
    username = hosted.user()
    browser = Browser(hosted.server)
    sso = f"tessera-sso-{hosted.pool_id}"

    # Sign in at the first client: the SSO cookie comes with the redirect to the callback.
    verifier, challenge = pkce()
    url = hosted.authorize_url(first, code_challenge=challenge, code_challenge_method="S256")
    page = browser.open(url)
    resp = browser.submit(page, "cognitoSignInForm", {"username": username, "password": PASSWORD})
    params = callback_params(redirect_location(resp, 303))
    cookie = set_cookies(resp).get(sso)
    assert cookie, f"no {sso} cookie: {list(set_cookies(resp))}"
    assert "httponly" in cookie and cookie.get("samesite", "").lower() == "lax" and cookie.get("path") == "/", cookie
    assert cookie.get("max-age") == "3600" and "secure" not in cookie, cookie
    first_tokens = hosted.redeem(first, params["code"], verifier).json()
    first_id = hosted.verify_id(first_tokens["id_token"], first, first_tokens["access_token"])

    def authorize_second(browser: Browser, **extra) -> requests.Response:
        verifier, challenge = pkce()
        url = hosted.authorize_url(
            second, redirect_uri=OTHER_CALLBACK, code_challenge=challenge, code_challenge_method="S256", **extra
        )
        resp = browser.get(url)
        resp.verifier, resp.state = verifier, state_of(url)
        return resp

    # The second client of the pool: straight to its callback with a code, no form.
    resp = authorize_second(browser)
    params = callback_params(redirect_location(resp, 302), OTHER_CALLBACK)
    assert CODE_RE.match(params["code"]) and params["state"] == resp.state and params["iss"] == hosted.issuer
    tokens = hosted.redeem(second, params["code"], resp.verifier, redirect_uri=OTHER_CALLBACK)
    assert tokens.status_code == 200, tokens.text
    second_id = hosted.verify_id(tokens.json()["id_token"], second, tokens.json()["access_token"])
    assert second_id["sub"] == first_id["sub"] and second_id["aud"] == second["ClientId"]
    assert second_id["auth_time"] == first_id["auth_time"]  # the same authentication

    # prompt=login: the form despite the session.
    resp = authorize_second(browser, prompt="login")
    assert resp.status_code == 302 and not resp.headers["Location"].startswith(OTHER_CALLBACK), resp.headers["Location"]
    page = browser.open(urllib.parse.urljoin(resp.url, resp.headers["Location"]))
    assert page.has_form("cognitoSignInForm")
    # prompt=none with the session: a code.
    resp = authorize_second(browser, prompt="none")
    assert "code" in callback_params(redirect_location(resp, 302), OTHER_CALLBACK)
    # prompt=none without one: login_required, with state and iss.
    resp = authorize_second(Browser(hosted.server), prompt="none")
    error_redirect(resp, hosted, "login_required", resp.state, OTHER_CALLBACK)

    # The session belongs to this pool only.
    other = Hosted(hosted.server, idp, hosted.public, make_pool())
    stranger = other.client()
    _, challenge = pkce()
    assert browser.open(other.authorize_url(stranger, code_challenge=challenge, code_challenge_method="S256")).path.endswith("/login")

    # /logout with a listed logout_uri ends the session and the cookie.
    resp = browser.get(f"{hosted.logout_endpoint}?" + urllib.parse.urlencode({"client_id": first["ClientId"], "logout_uri": SIGNED_OUT}))
    assert redirect_location(resp, 302).split("?")[0] == SIGNED_OUT
    cleared = set_cookies(resp).get(sso)
    assert cleared is not None and (cleared.get("max-age") == "0" or "expires" in cleared), cleared
    resp = authorize_second(browser)
    assert resp.status_code == 302 and not resp.headers["Location"].startswith(OTHER_CALLBACK), resp.headers["Location"]
    resp = authorize_second(browser, prompt="none")
    error_redirect(resp, hosted, "login_required", resp.state, OTHER_CALLBACK)
    # Even a browser that kept the old cookie value is not signed in any more.
    replay = Browser(hosted.server)
    replay.session.cookies.set(sso, cookie["value"], domain=urllib.parse.urlsplit(hosted.server.url).hostname, path="/")
    error_redirect(authorize_second(replay, prompt="none"), hosted, "login_required", None, OTHER_CALLBACK)

    # /logout with redirect_uri + response_type: the session ends and the sign-in page follows.
    hosted.authorize(first, username, browser=browser)
    assert "code" in callback_params(redirect_location(authorize_second(browser), 302), OTHER_CALLBACK)
    query = {"client_id": first["ClientId"], "redirect_uri": CALLBACK, "response_type": "code", "state": "after-logout"}
    resp = browser.get(f"{hosted.logout_endpoint}?" + urllib.parse.urlencode(query))
    location = urllib.parse.urljoin(resp.url, redirect_location(resp, 302))
    assert urllib.parse.urlsplit(location).path == f"/{hosted.pool_id}/login", location
    assert {k: query_of(location).get(k) for k in query} == query, location
    error_redirect(authorize_second(browser, prompt="none"), hosted, "login_required", None, OTHER_CALLBACK)


def test_sign_in_session_ends_with_global_sign_out_and_disabling(hosted):
    """A sign-in session is only as good as the user behind it (D.5 step 10, D.7)."""
    client = hosted.client()
    username = hosted.user()
    browser = Browser(hosted.server)

    def silent(browser: Browser) -> dict:
        _, challenge = pkce()
        url = hosted.authorize_url(client, prompt="none", code_challenge=challenge, code_challenge_method="S256")
        return callback_params(redirect_location(browser.get(url), 302))

    hosted.authorize(client, username, browser=browser)
    assert "code" in silent(browser)
    hosted.idp.admin_user_global_sign_out(UserPoolId=hosted.pool_id, Username=username)
    assert silent(browser).get("error") == "login_required"

    hosted.authorize(client, username, browser=browser)
    assert "code" in silent(browser)
    hosted.idp.admin_disable_user(UserPoolId=hosted.pool_id, Username=username)
    assert silent(browser).get("error") == "login_required"


# --------------------------------------------------------------------------
# the domain form


def test_discovery_publishes_the_path_form_with_or_without_a_domain(hosted, domains):
    """Discovery lists the path-form endpoints, also once the pool has a domain: the issuer's
    host resolves wherever the issuer does, a domain needs DNS (docs/design/hosted-pages.md).
    It advertises PKCE with S256 and RFC 9207's iss parameter (openid-client then requires
    iss on every authorization response)."""
    discovery_url = f"{hosted.issuer}/.well-known/openid-configuration"
    before = requests.get(discovery_url, timeout=HTTP_TIMEOUT).json()
    domains(hosted.pool_id)
    after = requests.get(discovery_url, timeout=HTTP_TIMEOUT).json()
    assert before == after
    doc = after
    assert doc["issuer"] == hosted.issuer
    assert doc["authorization_endpoint"] == f"{hosted.issuer}/oauth2/authorize"
    assert doc["token_endpoint"] == f"{hosted.issuer}/oauth2/token"
    assert doc["userinfo_endpoint"] == f"{hosted.issuer}/oauth2/userInfo"
    assert doc["revocation_endpoint"] == f"{hosted.issuer}/oauth2/revoke"
    assert doc["end_session_endpoint"] == f"{hosted.issuer}/logout"
    assert doc["jwks_uri"] == f"{hosted.issuer}/.well-known/jwks.json"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials"]


def test_domain_form_serves_the_same_pages_and_tokens(hosted, domains):
    client = hosted.client()
    username = hosted.user()
    domain = domains(hosted.pool_id)
    port = urllib.parse.urlsplit(hosted.server.url).port
    host = f"{domain}.auth.localhost:{port}"
    origin = f"http://{host}"

    # The sign-in page on the pool's host: the same page, paths without the pool id.
    browser = Browser(hosted.server, host=host)
    verifier, challenge = pkce()
    url = hosted.authorize_url(client, endpoint=f"{origin}/oauth2/authorize", code_challenge=challenge, code_challenge_method="S256")
    page = browser.open(url)
    assert page.url.startswith(f"{origin}/login?"), page.url
    assert_page_headers(page.response)
    assert_csrf_cookie(page.response)
    form = page.form("cognitoSignInForm")
    assert form.action.startswith("/login?") or form.action.startswith(f"{origin}/login?"), form.action
    resp = browser.submit(page, "cognitoSignInForm", {"username": username, "password": PASSWORD})
    params = callback_params(redirect_location(resp, 303))
    assert params["iss"] == hosted.issuer and params["state"] == state_of(url)

    # Redeemed at the domain-form token endpoint (Host header), the tokens name the issuer.
    resp = requests.post(
        f"{hosted.server.url}/oauth2/token",
        data={"grant_type": "authorization_code", "code": params["code"], "redirect_uri": CALLBACK, "code_verifier": verifier},
        headers={"Host": host, "Content-Type": "application/x-www-form-urlencoded", **basic(client["ClientId"], client["ClientSecret"])},
        timeout=HTTP_TIMEOUT,
    )
    assert resp.status_code == 200, resp.text
    tokens = resp.json()
    id_claims = hosted.verify_id(tokens["id_token"], client, tokens["access_token"])
    assert id_claims["iss"] == hosted.issuer and id_claims["cognito:username"] == username
    assert hosted.verify_access(tokens["access_token"], client)["iss"] == hosted.issuer
    resp = requests.get(
        f"{hosted.server.url}/oauth2/userInfo",
        headers={"Host": host, "Authorization": f"Bearer {tokens['access_token']}"},
        timeout=HTTP_TIMEOUT,
    )
    assert resp.status_code == 200 and resp.json()["username"] == username, resp.text

    # The path form keeps working next to it.
    got = hosted.authorize(client, username)
    assert hosted.redeem(client, got["code"], got["verifier"]).status_code == 200


# --------------------------------------------------------------------------
# UI customization


def test_customized_pages_link_the_css_and_the_logo(hosted, domains):
    client = hosted.client()
    domain = domains(hosted.pool_id)
    image = png(3, 2)
    out = hosted.idp.set_ui_customization(UserPoolId=hosted.pool_id, CSS=CSS, ImageFile=image)["UICustomization"]
    _, challenge = pkce()
    url = hosted.authorize_url(client, code_challenge=challenge, code_challenge_method="S256")

    def assets(browser: Browser, page: Page, owner: str, version: str) -> tuple[requests.Response, requests.Response | None]:
        css = [link["href"] for link in page.links if (link.get("rel") or "").lower() == "stylesheet" and f"/ui/{owner}/" in link.get("href", "")]
        assert css, f"no stylesheet of {owner}: {page.links}"
        assert urllib.parse.urlsplit(css[0]).path.endswith(f"/ui/{owner}/{version}.css"), css
        css_resp = browser.get(urllib.parse.urljoin(page.url, css[0]))
        logos = [img["src"] for img in page.images if "logo-customizable" in (img.get("class") or "").split()]
        logo_resp = browser.get(urllib.parse.urljoin(page.url, logos[0])) if logos else None
        return css_resp, logo_resp

    for browser in (Browser(hosted.server), Browser(hosted.server, host=f"{domain}.auth.localhost:{urllib.parse.urlsplit(hosted.server.url).port}")):
        authorize = url if browser.host is None else url.replace(hosted.base, browser.origin)
        page = browser.open(authorize)
        css_resp, logo_resp = assets(browser, page, "ALL", out["CSSVersion"])
        assert css_resp.status_code == 200 and css_resp.text == CSS, (css_resp.status_code, css_resp.text[:200])
        assert css_resp.headers["Content-Type"].startswith("text/css")
        assert logo_resp is not None, "no <img class=logo-customizable>"
        assert logo_resp.status_code == 200 and logo_resp.content == image
        assert logo_resp.headers["Content-Type"] == "image/png"
        img = [i for i in page.images if "logo-customizable" in (i.get("class") or "").split()][0]
        assert urllib.parse.urlsplit(urllib.parse.urljoin(page.url, img["src"])).path.endswith("/ui/ALL/logo"), img
        # Other pages of the client carry it too.
        signup = browser.open(sibling(page.url, "signup"))
        assert assets(browser, signup, "ALL", out["CSSVersion"])[0].status_code == 200

    # A client's own customization replaces the pool's on its pages.
    own_css = ".submitButton-customizable { background-color: #123456; }"
    own = hosted.idp.set_ui_customization(UserPoolId=hosted.pool_id, ClientId=client["ClientId"], CSS=own_css)["UICustomization"]
    browser = Browser(hosted.server)
    page = browser.open(url)
    css_resp, _ = assets(browser, page, client["ClientId"], own["CSSVersion"])
    assert css_resp.status_code == 200 and css_resp.text == own_css
    assert not any("/ui/ALL/" in (link.get("href") or "") for link in page.links), page.links
