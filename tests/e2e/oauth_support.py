"""Shared helpers for the hosted-pages and OAuth 2.0 tests (test_oauth_code_flow.py,
test_oauth_errors.py, test_hosted_pages.py).

The "browser" here is `requests` driving tessera's server-rendered pages exactly as the
contract in docs/design/hosted-pages.md describes them: GET the authorize URL and follow the
redirects that stay on tessera to the sign-in page, read the form (its HTML-unescaped action and
hidden `_csrf`), POST it without following the answer, and read the `Location`. Redirects that
leave tessera (to an app's callback or sign-out URL) are never followed: the callback need not
exist, and its URL is what the tests look at.

Everything goes over HTTP to the real tessera binary; nothing is mocked.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import urllib.parse
from dataclasses import dataclass, field
from html.parser import HTMLParser

import jwt
import pytest
import requests

from helpers import HTTP_TIMEOUT, PASSWORD, attribute_list, latest_code, unique

CALLBACK = "https://app.example.com/callback"
OTHER_CALLBACK = "https://other.example.com/cb"
SIGNED_OUT = "https://app.example.com/signed-out"
ADMIN_SCOPE = "aws.cognito.signin.user.admin"
USER_SCOPES = ["openid", "email", "profile", ADMIN_SCOPE]
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
NEW_PASSWORD = "N3w-Passw0rd!"
TEMP_PASSWORD = "Temp0rary!pw"
WRONG_PASSWORD = "Wr0ng-Passw0rd!"
INCORRECT = "Incorrect username or password."
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


# --------------------------------------------------------------------------
# PKCE and small encodings


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce() -> tuple[str, str]:
    """A fresh (code_verifier, S256 code_challenge) pair (RFC 7636)."""
    verifier = b64url(secrets.token_bytes(48))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def at_hash(access_token: str) -> str:
    """OIDC Core 3.1.3.6: base64url of the left half of SHA-256 of the access token."""
    return b64url(hashlib.sha256(access_token.encode()).digest()[:16])


def basic(client_id: str, secret: str) -> dict:
    raw = f"{urllib.parse.quote(client_id, safe='')}:{urllib.parse.quote(secret, safe='')}"
    return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}


def query_of(url: str) -> dict[str, str]:
    """The query of a URL as single values (a repeated parameter fails the test)."""
    pairs = urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query, keep_blank_values=True)
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), f"repeated query parameter in {url}"
    return dict(pairs)


def callback_params(location: str | None, redirect_uri: str = CALLBACK) -> dict[str, str]:
    """The parameters of an authorization response sent to `redirect_uri`: code (or error),
    state and iss, in the query and never in a fragment."""
    assert location, "no Location header"
    parts = urllib.parse.urlsplit(location)
    target = urllib.parse.urlsplit(redirect_uri)
    assert (parts.scheme, parts.netloc, parts.path) == (target.scheme, target.netloc, target.path), (
        f"redirected to {location!r}, expected the callback {redirect_uri!r}"
    )
    assert not parts.fragment, f"authorization response in a fragment: {location!r}"
    return query_of(location)


# --------------------------------------------------------------------------
# HTML: forms, links, the error and notice boxes


@dataclass
class Form:
    name: str | None
    action: str | None
    method: str
    fields: list[dict] = field(default_factory=list)  # input/textarea/select attributes
    buttons: list[dict] = field(default_factory=list)

    def value(self, name: str) -> str | None:
        for f in self.fields:
            if f.get("name") == name:
                return f.get("value", "")
        return None

    def field(self, name: str) -> dict | None:
        for f in self.fields:
            if f.get("name") == name:
                return f
        return None

    def names(self) -> list[str]:
        return [f["name"] for f in self.fields if f.get("name")]

    def hidden(self) -> dict[str, str]:
        return {
            f["name"]: f.get("value", "")
            for f in self.fields
            if f.get("name") and (f.get("type") or "").lower() == "hidden"
        }


class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[dict] = []  # <link>
        self.anchors: list[dict] = []  # <a>
        self.images: list[dict] = []
        self.scripts = 0
        self.h1 = 0
        self.meta: list[dict] = []
        self._form: Form | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(a.get("name"), a.get("action"), (a.get("method") or "get").lower())
            self.forms.append(self._form)
        elif tag in ("input", "textarea", "select") and self._form is not None:
            self._form.fields.append({"tag": tag, **a})
        elif tag == "button" and self._form is not None:
            self._form.buttons.append(a)
        elif tag == "link":
            self.links.append(a)
        elif tag == "a":
            self.anchors.append(a)
        elif tag == "img":
            self.images.append(a)
        elif tag == "script":
            self.scripts += 1
        elif tag == "h1":
            self.h1 += 1
        elif tag == "meta":
            self.meta.append(a)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def _box(text: str, role: str) -> str | None:
    m = re.search(rf'<div[^>]*role="{role}"[^>]*>(.*?)</div>', text, re.S)
    if not m:
        return None
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split())


class Page:
    """One HTML answer of tessera, parsed."""

    def __init__(self, response: requests.Response, url: str):
        self.response = response
        self.url = url  # the URL as the browser sees it (the domain form keeps its host)
        self.status = response.status_code
        self.text = response.text
        parser = _PageParser()
        parser.feed(self.text)
        self.forms = parser.forms
        self.links = parser.links
        self.anchors = parser.anchors
        self.images = parser.images
        self.scripts = parser.scripts
        self.h1 = parser.h1
        self.meta = parser.meta

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return query_of(self.url)

    def form(self, name: str) -> Form:
        for f in self.forms:
            if f.name == name:
                return f
        raise AssertionError(
            f"no form named {name!r} on {self.url} (status {self.status}); forms: "
            f"{[f.name for f in self.forms]}\n{self.text[:1500]}"
        )

    def has_form(self, name: str) -> bool:
        return any(f.name == name for f in self.forms)

    @property
    def error(self) -> str | None:
        """The text of the error box (`role="alert"`), if any."""
        return _box(self.text, "alert")

    @property
    def notice(self) -> str | None:
        """The text of the notice box (`role="status"`), if any."""
        return _box(self.text, "status")

    def __repr__(self) -> str:
        return f"<Page {self.status} {self.url} forms={[f.name for f in self.forms]} error={self.error!r}>"


# --------------------------------------------------------------------------
# the browser


def set_cookies(resp: requests.Response) -> dict[str, dict]:
    """The Set-Cookie headers of one response: name -> {"value", attribute (lower-case) -> value}."""
    out: dict[str, dict] = {}
    for header in resp.raw.headers.getlist("Set-Cookie"):
        parts = [p.strip() for p in header.split(";")]
        name, _, value = parts[0].partition("=")
        attrs: dict = {"value": value}
        for p in parts[1:]:
            k, _, v = p.partition("=")
            attrs[k.strip().lower()] = v.strip()
        out[name.strip()] = attrs
    return out


class Browser:
    """A cookie-keeping HTTP client that behaves like a browser on tessera's pages.

    `host` switches to the domain form: requests go to the server's 127.0.0.1 address with the
    `Host` header `host` (e.g. `p.auth.localhost:9229`), and redirects to `http://<host>/…` are
    followed the same way.
    """

    def __init__(self, server, host: str | None = None):
        self.server = server
        self.host = host
        self.session = requests.Session()
        self._netloc = urllib.parse.urlsplit(server.url).netloc
        self.history: list[requests.Response] = []

    @property
    def origin(self) -> str:
        return f"http://{self.host}" if self.host else self.server.url

    def url(self, path_or_url: str, base: str | None = None) -> str:
        """An absolute URL as the browser sees it."""
        return urllib.parse.urljoin(base or (self.origin + "/"), path_or_url)

    def is_ours(self, url: str) -> bool:
        netloc = urllib.parse.urlsplit(url).netloc
        return netloc == (self.host or self._netloc)

    def _wire(self, url: str) -> tuple[str, dict]:
        parts = urllib.parse.urlsplit(url)
        if self.host and parts.netloc == self.host:
            return urllib.parse.urlunsplit(parts._replace(netloc=self._netloc)), {"Host": self.host}
        return url, {}

    def request(self, method: str, url: str, headers: dict | None = None, **kwargs) -> requests.Response:
        wire, extra = self._wire(self.url(url))
        resp = self.session.request(
            method,
            wire,
            headers={**extra, **(headers or {})},
            allow_redirects=False,
            timeout=HTTP_TIMEOUT,
            **kwargs,
        )
        self.history.append(resp)
        return resp

    def get(self, url: str, headers: dict | None = None) -> requests.Response:
        return self.request("GET", url, headers)

    def navigate(self, url: str, max_hops: int = 10) -> tuple[requests.Response, str]:
        """GET `url`, following redirects as long as they stay on tessera; returns the last
        response and the URL it answered (a redirect response when it leaves tessera)."""
        url = self.url(url)
        for _ in range(max_hops):
            resp = self.get(url)
            if resp.status_code in (301, 302, 303, 307, 308):
                target = self.url(resp.headers["Location"], base=url)
                if not self.is_ours(target):
                    return resp, url
                url = target
                continue
            return resp, url
        raise AssertionError(f"more than {max_hops} redirects from {url}")

    def open(self, url: str, status: int = 200) -> Page:
        """Navigates to a page of tessera and parses it."""
        resp, final = self.navigate(url)
        where = url if final == self.url(url) else f"{url} ended at {final}"
        assert resp.status_code == status, (
            f"GET {where}: {resp.status_code} (expected {status}); "
            f"Location {resp.headers.get('Location')!r}\n{resp.text[:1500]}"
        )
        assert resp.headers.get("Content-Type", "").startswith("text/html"), resp.headers
        return Page(resp, final)

    def submit(
        self,
        page: Page,
        form_name: str,
        values: dict | None = None,
        headers: dict | None = None,
        csrf: str | None = None,
        origin: str | None = "same",
    ) -> requests.Response:
        """POSTs a form of `page` (hidden fields kept, `values` filled in) to its action, like a
        browser: `Origin` is the page's origin unless told otherwise, redirects not followed."""
        form = page.form(form_name)
        assert form.method == "post", f"{form_name} method {form.method!r}"
        assert form.action, f"{form_name} has no action"
        data = dict(form.hidden())
        for f in form.fields:
            name = f.get("name")
            if name and name not in data and (f.get("type") or "").lower() not in ("submit", "checkbox", "radio"):
                data.setdefault(name, f.get("value", ""))
        data.update(values or {})
        if csrf is not None:
            data["_csrf"] = csrf
        for button in form.buttons:
            if button.get("name"):
                data.setdefault(button["name"], button.get("value", ""))
        h = dict(FORM)
        if origin == "same":
            h["Origin"] = self.origin
        elif origin is not None:
            h["Origin"] = origin
        h.update(headers or {})
        return self.request("POST", self.url(form.action, base=page.url), headers=h, data=data)

    def follow(self, resp: requests.Response, base: str | None = None) -> Page:
        """Opens the page a redirect from tessera points at."""
        assert resp.status_code in (302, 303), f"expected a redirect, got {resp.status_code}: {resp.text[:800]}"
        return self.open(self.url(resp.headers["Location"], base=base))

    def cookie(self, name: str) -> str | None:
        for c in self.session.cookies:
            if c.name == name:
                return c.value
        return None

    def drop_cookie(self, name: str) -> None:
        for c in list(self.session.cookies):
            if c.name == name:
                self.session.cookies.clear(c.domain, c.path, c.name)


def sibling(url: str, page: str) -> str:
    """The URL of another hosted page with the same query: /<pool>/login?q -> /<pool>/<page>?q."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path.rsplit("/", 1)[0] + "/" + page
    return urllib.parse.urlunsplit(parts._replace(path=path))


def redirect_location(resp: requests.Response, status: int | tuple = (302, 303)) -> str:
    statuses = (status,) if isinstance(status, int) else status
    assert resp.status_code in statuses, (
        f"expected a redirect ({statuses}), got {resp.status_code}: {resp.headers.get('Location')!r} {resp.text[:800]}"
    )
    return resp.headers["Location"]


# --------------------------------------------------------------------------
# a pool with the hosted pages


class Hosted:
    """One pool on a server with URLs for its hosted pages and OAuth endpoints (path form)."""

    def __init__(self, server, idp, public, pool: dict):
        self.server = server
        self.idp = idp
        self.public = public
        self.pool = pool
        self.pool_id = pool["Id"]
        self.issuer = f"{server.url}/{self.pool_id}"
        self.base = self.issuer
        self.authorize_endpoint = f"{self.base}/oauth2/authorize"
        self.token_endpoint = f"{self.base}/oauth2/token"
        self.userinfo_endpoint = f"{self.base}/oauth2/userInfo"
        self.revoke_endpoint = f"{self.base}/oauth2/revoke"
        self.logout_endpoint = f"{self.base}/logout"
        self.login_endpoint = f"{self.base}/login"

    # -- configuration ------------------------------------------------------

    def client(
        self,
        secret: bool = True,
        flows=("code",),
        scopes=tuple(USER_SCOPES),
        callbacks=(CALLBACK,),
        logout_urls=(SIGNED_OUT,),
        **extra,
    ) -> dict:
        kwargs = dict(
            UserPoolId=self.pool_id,
            ClientName=unique("web"),
            GenerateSecret=secret,
            AllowedOAuthFlowsUserPoolClient=True,
            AllowedOAuthFlows=list(flows),
            AllowedOAuthScopes=list(scopes),
            SupportedIdentityProviders=["COGNITO"],
        )
        if callbacks:
            kwargs["CallbackURLs"] = list(callbacks)
        if logout_urls:
            kwargs["LogoutURLs"] = list(logout_urls)
        kwargs.update(extra)
        return self.idp.create_user_pool_client(**kwargs)["UserPoolClient"]

    def user(self, username: str | None = None, password: str = PASSWORD, attributes: dict | None = None) -> str:
        """A confirmed user with a permanent password and a verified e-mail address."""
        username = username or unique("user")
        attrs = {"email": f"{username}@example.com", "email_verified": "true", **(attributes or {})}
        self.idp.admin_create_user(
            UserPoolId=self.pool_id,
            Username=username,
            UserAttributes=attribute_list(attrs),
            MessageAction="SUPPRESS",
            TemporaryPassword=TEMP_PASSWORD,
        )
        self.idp.admin_set_user_password(UserPoolId=self.pool_id, Username=username, Password=password, Permanent=True)
        return username

    # -- URLs -----------------------------------------------------------------

    def authorize_url(self, client: dict | str | None, endpoint: str | None = None, **params) -> str:
        """An authorize URL: response_type=code, the client, CALLBACK and a state by default;
        a parameter given as None is left out."""
        client_id = client["ClientId"] if isinstance(client, dict) else client
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK, "state": secrets.token_urlsafe(12)}
        query.update(params)
        query = {k: v for k, v in query.items() if v is not None}
        return (endpoint or self.authorize_endpoint) + "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)

    # -- the token endpoint ---------------------------------------------------------

    def token(self, client: dict, data: dict, auth: str = "auto", endpoint: str | None = None, headers: dict | None = None) -> requests.Response:
        """POST to the token endpoint; auth: basic | post | none | auto (basic with a secret)."""
        return token_request(client, data, auth=auth, endpoint=endpoint or self.token_endpoint, headers=headers)

    def revoke(self, client: dict, token: str | None, auth: str = "auto") -> requests.Response:
        data = {} if token is None else {"token": token}
        return token_request(client, data, auth=auth, endpoint=self.revoke_endpoint)

    def userinfo(self, access_token: str | None, method: str = "GET", endpoint: str | None = None, headers: dict | None = None) -> requests.Response:
        h = {} if access_token is None else {"Authorization": f"Bearer {access_token}"}
        h.update(headers or {})
        return requests.request(method, endpoint or self.userinfo_endpoint, headers=h, timeout=HTTP_TIMEOUT)

    # -- one whole authorization ------------------------------------------------------

    def authorize(
        self,
        client: dict,
        username: str,
        password: str = PASSWORD,
        browser: Browser | None = None,
        use_pkce: bool = True,
        **params,
    ) -> dict:
        """Signs `username` in through the pages; returns {code, state, iss, verifier, browser}."""
        browser = browser or Browser(self.server)
        verifier = None
        if use_pkce:
            verifier, challenge = pkce()
            params.setdefault("code_challenge", challenge)
            params.setdefault("code_challenge_method", "S256")
        url = self.authorize_url(client, **params)
        location = authorize_or_sign_in(browser, url, username, password)
        out = callback_params(location, params.get("redirect_uri", CALLBACK))
        assert "code" in out, f"no code in {location}"
        assert out.get("state") == query_of(url)["state"], (out, url)
        out.update(verifier=verifier, browser=browser)
        return out

    def redeem(self, client: dict, code: str, verifier: str | None, redirect_uri: str = CALLBACK, auth: str = "auto") -> requests.Response:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if verifier is not None:
            data["code_verifier"] = verifier
        return self.token(client, data, auth=auth)

    def tokens(self, client: dict, username: str, scope: str | None = None, **kwargs) -> dict:
        """Authorize + redeem: the token response of a successful code flow."""
        params = dict(kwargs)
        if scope is not None:
            params["scope"] = scope
        got = self.authorize(client, username, **params)
        resp = self.redeem(client, got["code"], got["verifier"])
        assert resp.status_code == 200, f"code redemption failed: {resp.status_code} {resp.text}"
        return resp.json()

    def refresh(self, client: dict, refresh_token: str, scope: str | None = None, auth: str = "auto") -> requests.Response:
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if scope is not None:
            data["scope"] = scope
        return self.token(client, data, auth=auth)

    # -- tokens ---------------------------------------------------------------

    def jwks_client(self) -> jwt.PyJWKClient:
        return jwt.PyJWKClient(f"{self.issuer}/.well-known/jwks.json", cache_keys=False, timeout=HTTP_TIMEOUT)

    def verify_access(self, token: str, client: dict) -> dict:
        key = self.jwks_client().get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["RS256"], issuer=self.issuer, options={"require": ["exp", "iat", "sub", "iss"]})
        assert claims["token_use"] == "access", claims
        assert claims["client_id"] == client["ClientId"], claims
        return claims

    def verify_id(self, token: str, client: dict, access_token: str | None = None, nonce: str | None = None, refreshed: bool = False) -> dict:
        key = self.jwks_client().get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key.key,
            algorithms=["RS256"],
            audience=client["ClientId"],
            issuer=self.issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
        assert claims["token_use"] == "id", claims
        assert claims["aud"] == client["ClientId"], claims
        if access_token is not None:
            assert claims.get("at_hash") == at_hash(access_token), claims
        if refreshed:
            # OIDC Core 12.2: after a refresh, a nonce SHOULD be absent, else the original one.
            assert nonce is None or claims.get("nonce", nonce) == nonce, claims
        elif nonce is None:
            assert "nonce" not in claims, claims
        else:
            assert claims.get("nonce") == nonce, claims
        return claims


def token_request(client: dict, data: dict, auth: str = "auto", endpoint: str = "", headers: dict | None = None) -> requests.Response:
    data = dict(data)
    h = dict(FORM)
    secret = client.get("ClientSecret")
    if auth == "auto":
        auth = "basic" if secret else "none"
    if auth == "basic":
        h.update(basic(client["ClientId"], secret))
    elif auth == "post":
        data.update(client_id=client["ClientId"], client_secret=secret)
    elif auth == "none":
        data["client_id"] = client["ClientId"]
    else:
        raise ValueError(auth)
    h.update(headers or {})
    return requests.post(endpoint, data=data, headers=h, timeout=HTTP_TIMEOUT)


@pytest.fixture
def hosted(server, idp, public, make_pool) -> Hosted:
    """A pool whose users verify their e-mail address (the sign-up form asks for it)."""
    return Hosted(server, idp, public, make_pool(AutoVerifiedAttributes=["email"]))


@pytest.fixture
def domains(idp):
    """Creates pool domains and deletes them again (a pool with a domain cannot be deleted)."""
    created: list[tuple[str, str]] = []

    def create(pool_id: str, domain: str | None = None) -> str:
        domain = domain or unique("e2e-host")
        idp.create_user_pool_domain(UserPoolId=pool_id, Domain=domain)
        created.append((pool_id, domain))
        return domain

    yield create
    for pool_id, domain in created:
        try:
            idp.delete_user_pool_domain(UserPoolId=pool_id, Domain=domain)
        except Exception:
            pass


# --------------------------------------------------------------------------
# flows through the pages


def sign_in(browser: Browser, authorize_url: str, username: str, password: str) -> str:
    """GET authorize -> the sign-in page -> POST the credentials; returns the Location (303)."""
    page = browser.open(authorize_url)
    assert page.path.endswith("/login"), f"authorize did not lead to the sign-in page: {page!r}"
    resp = browser.submit(page, "cognitoSignInForm", {"username": username, "password": password})
    assert resp.status_code == 303, (
        f"sign-in POST answered {resp.status_code} (expected 303); Location {resp.headers.get('Location')!r}; "
        f"error box {Page(resp, page.url).error!r}"
    )
    return resp.headers["Location"]


def authorize_or_sign_in(browser: Browser, authorize_url: str, username: str, password: str) -> str:
    """Like sign_in, but a browser with a live sign-in session goes straight to the callback."""
    resp, _ = browser.navigate(authorize_url)
    if resp.status_code in (302, 303) and not browser.is_ours(browser.url(resp.headers["Location"])):
        return resp.headers["Location"]
    return sign_in(browser, authorize_url, username, password)


def sign_up_and_confirm(browser: Browser, hosted: Hosted, authorize_url: str, username: str, password: str, attributes: dict) -> Page:
    """Sign-up page -> confirm page (code from the outbox) -> the sign-in page with a notice."""
    login = browser.open(authorize_url)
    assert login.path.endswith("/login"), login
    signup = browser.open(sibling(login.url, "signup"))
    form = signup.form("signUpForm")
    for name in ("username", "password", *attributes):
        assert form.field(name) is not None, f"sign-up form lacks {name!r}: {form.names()}"
    resp = browser.submit(signup, "signUpForm", {"username": username, "password": password, **attributes})
    location = browser.url(redirect_location(resp, 303), base=signup.url)
    assert urllib.parse.urlsplit(location).path.endswith("/confirm"), location
    assert query_of(location).get("username") == username, location
    confirm = browser.open(location)
    assert confirm.form("confirmForm").value("username") == username
    code = latest_code(hosted.server, hosted.pool_id, username)
    resp = browser.submit(confirm, "confirmForm", {"code": code})
    location = browser.url(redirect_location(resp, 303), base=confirm.url)
    assert urllib.parse.urlsplit(location).path.endswith("/login"), location
    assert query_of(location).get("notice") == "confirmed", location
    page = browser.open(location)
    assert page.notice, f"no notice after confirming: {page.text[:800]}"
    return page


def oauth_error(resp: requests.Response, error: str | tuple, status: int | tuple = 400) -> dict:
    """An RFC 6749 §5.2 error answer: status, JSON {"error", "error_description"}, not cached,
    and no token in it."""
    errors = (error,) if isinstance(error, str) else error
    statuses = (status,) if isinstance(status, int) else status
    assert resp.status_code in statuses, f"expected {statuses} {errors}, got {resp.status_code}: {resp.text[:500]}"
    assert resp.headers.get("Content-Type", "").startswith("application/json"), resp.headers
    body = resp.json()
    assert body.get("error") in errors, f"expected {errors}, got {body}"
    assert isinstance(body.get("error_description"), str), body
    assert not {"access_token", "id_token", "refresh_token"} & set(body), body
    assert resp.headers.get("Cache-Control") == "no-store", resp.headers
    return body


def error_redirect(resp: requests.Response, hosted: Hosted, error: str | tuple, state: str | None, redirect_uri: str = CALLBACK) -> dict:
    """An authorization error sent to the callback (RFC 6749 §4.1.2.1, RFC 9207): error,
    error_description, the state and iss; never a code."""
    errors = (error,) if isinstance(error, str) else error
    location = redirect_location(resp, 302)
    params = callback_params(location, redirect_uri)
    assert params.get("error") in errors, f"expected {errors}: {location}"
    assert "code" not in params, location
    assert params.get("iss") == hosted.issuer, location
    if state is not None:
        assert params.get("state") == state, location
    return params


def error_page(resp: requests.Response, status: int = 400) -> Page:
    """The HTML error page: the status, no redirect, no Location."""
    assert resp.status_code == status, f"expected an error page ({status}), got {resp.status_code}: {resp.headers.get('Location')!r}"
    assert "Location" not in resp.headers, resp.headers["Location"]
    assert resp.headers.get("Content-Type", "").startswith("text/html"), resp.headers
    return Page(resp, resp.url)
