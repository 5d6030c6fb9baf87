"""Refusals of the OAuth endpoints (hosted-pages.md; oauth-provider.md A.4–A.10, C, D.4–D.7):
every test asserts the error RFC 6749 / 7636 / 7009 / 9207 / 9700 or OIDC prescribes AND that
nothing was issued (no code in a redirect, no Location from an error page, no token in an error
body), and where a refusal must destroy something (a replayed code, a burnt code) that it did.
Expired codes are not tested here: the server clock cannot be moved end to end (Rust tests)."""

from __future__ import annotations

import hashlib
import urllib.parse

import pytest
import requests

from helpers import HTTP_TIMEOUT, PASSWORD, expect_error, unique
from oauth_support import (  # noqa: F401  (hosted is a fixture)
    ADMIN_SCOPE,
    CALLBACK,
    OTHER_CALLBACK,
    SIGNED_OUT,
    Browser,
    b64url,
    basic,
    error_page,
    error_redirect,
    hosted,
    oauth_error,
    pkce,
    query_of,
)

API = "https://api.example.com"
# A state with characters that must be percent-encoded on the way back.
STATE = "s t&a=te/1?"


def get(url: str, **kwargs) -> requests.Response:
    return requests.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT, **kwargs)


@pytest.fixture
def web(hosted) -> dict:
    return hosted.client()


@pytest.fixture
def spa(hosted) -> dict:
    return hosted.client(secret=False)


# --------------------------------------------------------------------------
# /oauth2/authorize: errors that must never redirect


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example.com/callback",
        CALLBACK + "/",  # trailing slash
        CALLBACK + "evil",  # the registered URI as a prefix
        CALLBACK[:-3],  # a prefix of the registered URI
        CALLBACK + "?x=1",  # an added query
        "https://app.example.com/Callback",  # case of the path
        "https://APP.example.com/callback",  # case of the host: still not the registered string
        "http://app.example.com/callback",  # downgraded scheme
        OTHER_CALLBACK,  # registered on another client
        None,  # missing
    ],
)
def test_unregistered_redirect_uri_gets_an_error_page(hosted, web, redirect_uri):
    hosted.client(callbacks=[OTHER_CALLBACK])
    verifier, challenge = pkce()
    for endpoint in (hosted.authorize_endpoint, hosted.login_endpoint):
        url = hosted.authorize_url(
            web, endpoint=endpoint, redirect_uri=redirect_uri, code_challenge=challenge, code_challenge_method="S256"
        )
        page = error_page(get(url))
        if redirect_uri:
            # No link or form leads to the unvalidated URI (no open redirector, RFC 9700 §4.11).
            targets = [a.get("href", "") for a in page.anchors] + [f.action or "" for f in page.forms]
            assert not any(redirect_uri in t or urllib.parse.quote(redirect_uri, safe="") in t for t in targets), targets
            assert "<script" not in page.text.lower()


@pytest.mark.parametrize("case", ["unknown", "missing", "other pool"])
def test_unknown_client_gets_an_error_page(hosted, make_pool, idp, case):
    if case == "unknown":
        client_id = "1234567890abcdefghijklmnop"
    elif case == "missing":
        client_id = None
    else:
        other = hosted.__class__(hosted.server, idp, hosted.public, make_pool())
        client_id = other.client()["ClientId"]
    for endpoint in (hosted.authorize_endpoint, hosted.login_endpoint):
        error_page(get(hosted.authorize_url(client_id, endpoint=endpoint)))


def test_unknown_pool_gets_an_error_page(hosted, web):
    resp = get(hosted.authorize_url(web, endpoint=f"{hosted.server.url}/us-east-1_NoSuchPoo/oauth2/authorize"))
    assert resp.status_code in (400, 404), resp.status_code
    assert "Location" not in resp.headers


# --------------------------------------------------------------------------
# /oauth2/authorize: errors sent back to a valid callback (with state and iss, never a code)


def test_response_type_errors(hosted, web):
    _, challenge = pkce()
    pk = {"code_challenge": challenge, "code_challenge_method": "S256", "state": STATE}
    error_redirect(get(hosted.authorize_url(web, response_type=None, **pk)), hosted, "invalid_request", STATE)
    error_redirect(
        get(hosted.authorize_url(web, response_type="token", **pk)),
        hosted,
        ("unsupported_response_type", "unauthorized_client"),
        STATE,
    )
    error_redirect(
        get(hosted.authorize_url(web, response_type="code id_token", **pk)),
        hosted,
        ("unsupported_response_type", "unauthorized_client", "invalid_request"),
        STATE,
    )


def test_pkce_errors(hosted, web, spa):
    verifier, challenge = pkce()
    # plain is not supported (RFC 7636 §4.4.1: the server refuses methods it does not support).
    error_redirect(
        get(hosted.authorize_url(web, state=STATE, code_challenge=verifier, code_challenge_method="plain")),
        hosted,
        "invalid_request",
        STATE,
    )
    # A challenge without its method.
    error_redirect(get(hosted.authorize_url(web, state=STATE, code_challenge=challenge)), hosted, "invalid_request", STATE)
    # A method without a challenge.
    error_redirect(get(hosted.authorize_url(web, state=STATE, code_challenge_method="S256")), hosted, "invalid_request", STATE)
    # A challenge that is not 43 base64url characters.
    error_redirect(
        get(hosted.authorize_url(web, state=STATE, code_challenge="short", code_challenge_method="S256")),
        hosted,
        "invalid_request",
        STATE,
    )
    # A public client must use PKCE.
    error_redirect(get(hosted.authorize_url(spa, state=STATE)), hosted, "invalid_request", STATE)
    # On /login too: the sign-in page is not shown for a request that authorize refuses.
    error_redirect(get(hosted.authorize_url(spa, endpoint=hosted.login_endpoint, state=STATE)), hosted, "invalid_request", STATE)


def test_scope_errors(hosted):
    client = hosted.client(scopes=["openid", "email"])
    _, challenge = pkce()
    pk = {"code_challenge": challenge, "code_challenge_method": "S256", "state": STATE}
    for scope in ("openid profile", "phone", "openid made-up", f"openid {API}/read", "openid aws.cognito.signin.user.admin"):
        error_redirect(get(hosted.authorize_url(client, scope=scope, **pk)), hosted, "invalid_scope", STATE)


def test_other_malformed_authorize_requests(hosted, web):
    _, challenge = pkce()
    pk = {"code_challenge": challenge, "code_challenge_method": "S256", "state": STATE}
    # Only the Cognito user directory is served (D.5 step 8).
    error_redirect(get(hosted.authorize_url(web, identity_provider="Google", **pk)), hosted, "invalid_request", STATE)
    # An unknown prompt value (D.5 step 9).
    error_redirect(get(hosted.authorize_url(web, prompt="bogus", **pk)), hosted, "invalid_request", STATE)
    # A repeated parameter (D.5 step 1).
    url = hosted.authorize_url(web, **pk) + "&scope=openid&scope=email"
    error_redirect(get(url), hosted, "invalid_request", STATE)
    # identity_provider=COGNITO is the sign-in page.
    resp = get(hosted.authorize_url(web, identity_provider="COGNITO", **pk))
    assert resp.status_code == 302 and urllib.parse.urlsplit(resp.headers["Location"]).path.endswith("/login"), resp.headers


def test_client_without_the_code_flow(hosted):
    implicit = hosted.client(flows=["implicit"])
    _, challenge = pkce()
    resp = get(hosted.authorize_url(implicit, state=STATE, code_challenge=challenge, code_challenge_method="S256"))
    error_redirect(resp, hosted, "unauthorized_client", STATE)


def test_error_redirect_keeps_the_callback_query(hosted):
    with_query = "https://app.example.com/cb?tenant=7"
    client = hosted.client(callbacks=[with_query])
    resp = get(hosted.authorize_url(client, redirect_uri=with_query, state=STATE, code_challenge_method="plain", code_challenge="x" * 43))
    location = resp.headers.get("Location", "")
    assert resp.status_code == 302, resp.status_code
    params = query_of(location)
    assert params.get("tenant") == "7" and params.get("error") == "invalid_request", location
    assert location.startswith("https://app.example.com/cb?"), location


# --------------------------------------------------------------------------
# /oauth2/token: the authorization_code grant


def test_redirect_uri_must_match_at_redemption(hosted):
    client = hosted.client(callbacks=[CALLBACK, OTHER_CALLBACK])
    username = hosted.user()
    got = hosted.authorize(client, username)
    for wrong in (OTHER_CALLBACK, CALLBACK + "/"):
        oauth_error(hosted.redeem(client, got["code"], got["verifier"], redirect_uri=wrong), "invalid_grant")
    # A mismatch burns the code (oauth-provider.md D.6 step 4).
    oauth_error(hosted.redeem(client, got["code"], got["verifier"]), "invalid_grant")
    # A missing redirect_uri is a malformed request.
    got = hosted.authorize(client, username, browser=got["browser"])
    resp = hosted.token(client, {"grant_type": "authorization_code", "code": got["code"], "code_verifier": got["verifier"]})
    oauth_error(resp, ("invalid_request", "invalid_grant"))


def test_code_verifier_checks(hosted, web):
    username = hosted.user()
    browser = Browser(hosted.server)
    # Missing verifier for a code bound to a challenge; the code is burnt.
    got = hosted.authorize(web, username, browser=browser)
    oauth_error(hosted.redeem(web, got["code"], None), "invalid_grant")
    oauth_error(hosted.redeem(web, got["code"], got["verifier"]), "invalid_grant")
    # Wrong verifier (well-formed, another one); the code is burnt.
    got = hosted.authorize(web, username, browser=browser)
    other, _ = pkce()
    oauth_error(hosted.redeem(web, got["code"], other), "invalid_grant")
    oauth_error(hosted.redeem(web, got["code"], got["verifier"]), "invalid_grant")
    # A verifier that matches its challenge but is too short for RFC 7636 §4.1 (42 characters).
    short = "a" * 42
    got = hosted.authorize(
        web, username, browser=browser, use_pkce=False, code_challenge=b64url(hashlib.sha256(short.encode()).digest()), code_challenge_method="S256"
    )
    oauth_error(hosted.redeem(web, got["code"], short), "invalid_grant")
    # A verifier for a code requested without a challenge (PKCE downgrade, RFC 9700 §2.1.1).
    got = hosted.authorize(web, username, browser=browser, use_pkce=False)
    verifier, _ = pkce()
    oauth_error(hosted.redeem(web, got["code"], verifier), "invalid_grant")
    # And the sanity check: without PKCE a confidential client redeems with no verifier.
    got = hosted.authorize(web, username, browser=browser, use_pkce=False)
    resp = hosted.redeem(web, got["code"], None)
    assert resp.status_code == 200, resp.text


def test_replayed_code_revokes_what_it_issued(hosted):
    client = hosted.client()
    username = hosted.user()
    got = hosted.authorize(client, username, scope=f"openid email {ADMIN_SCOPE}")
    first = hosted.redeem(client, got["code"], got["verifier"])
    assert first.status_code == 200, first.text
    tokens = first.json()
    assert hosted.userinfo(tokens["access_token"]).status_code == 200
    assert hosted.public.get_user(AccessToken=tokens["access_token"])["Username"] == username

    oauth_error(hosted.redeem(client, got["code"], got["verifier"]), "invalid_grant")
    # RFC 6749 §4.1.2 / hosted-pages.md: the tokens of the first redemption are revoked.
    oauth_error(hosted.refresh(client, tokens["refresh_token"]), "invalid_grant")
    resp = hosted.userinfo(tokens["access_token"])
    assert resp.status_code == 401, (resp.status_code, resp.text)
    assert 'error="invalid_token"' in resp.headers.get("WWW-Authenticate", "")
    expect_error("NotAuthorizedException", hosted.public.get_user, AccessToken=tokens["access_token"])


def test_code_of_a_disabled_user(hosted, web):
    username = hosted.user()
    got = hosted.authorize(web, username)
    hosted.idp.admin_disable_user(UserPoolId=hosted.pool_id, Username=username)
    oauth_error(hosted.redeem(web, got["code"], got["verifier"]), "invalid_grant")


def test_signed_out_users_lose_their_oauth_tokens(hosted, web):
    username = hosted.user()
    tokens = hosted.tokens(web, username, scope=f"openid email {ADMIN_SCOPE}")
    hosted.idp.admin_user_global_sign_out(UserPoolId=hosted.pool_id, Username=username)
    oauth_error(hosted.refresh(web, tokens["refresh_token"]), "invalid_grant")
    resp = hosted.userinfo(tokens["access_token"])
    assert resp.status_code == 401, (resp.status_code, resp.text)
    assert 'error="invalid_token"' in resp.headers.get("WWW-Authenticate", "")


def test_code_of_another_client(hosted):
    mine, theirs = hosted.client(), hosted.client()
    public = hosted.client(secret=False)
    username = hosted.user()
    got = hosted.authorize(mine, username)
    oauth_error(hosted.redeem(theirs, got["code"], got["verifier"]), "invalid_grant")
    oauth_error(hosted.redeem(public, got["code"], got["verifier"]), "invalid_grant")
    # Not consumed by the attempts (D.6 step 4): the right client still redeems it.
    resp = hosted.redeem(mine, got["code"], got["verifier"])
    assert resp.status_code == 200, resp.text
    assert hosted.verify_access(resp.json()["access_token"], mine)["username"] == username


def test_client_authentication_failures(hosted, web):
    username = hosted.user()
    got = hosted.authorize(web, username)
    data = {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": CALLBACK, "code_verifier": got["verifier"]}
    url = hosted.token_endpoint
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    # Wrong secret through the Authorization header: 401 with a challenge (RFC 6749 §5.2).
    resp = requests.post(url, data=data, headers={**form, **basic(web["ClientId"], web["ClientSecret"] + "x")}, timeout=HTTP_TIMEOUT)
    oauth_error(resp, "invalid_client", 401)
    assert resp.headers.get("WWW-Authenticate", "").lower().startswith("basic"), resp.headers
    # Wrong secret in the body: 400.
    resp = requests.post(url, data={**data, "client_id": web["ClientId"], "client_secret": "wrong"}, headers=form, timeout=HTTP_TIMEOUT)
    oauth_error(resp, "invalid_client", 400)
    # No secret at all for a confidential client.
    resp = requests.post(url, data={**data, "client_id": web["ClientId"]}, headers=form, timeout=HTTP_TIMEOUT)
    oauth_error(resp, "invalid_client", 400)
    # Unknown client.
    resp = requests.post(url, data=data, headers={**form, **basic("nosuchclient", "secret")}, timeout=HTTP_TIMEOUT)
    oauth_error(resp, "invalid_client", 401)
    # Two methods at once.
    resp = requests.post(
        url,
        data={**data, "client_secret": web["ClientSecret"]},
        headers={**form, **basic(web["ClientId"], web["ClientSecret"])},
        timeout=HTTP_TIMEOUT,
    )
    oauth_error(resp, "invalid_request", 400)
    # None of these consumed the code: client authentication comes first.
    resp = hosted.redeem(web, got["code"], got["verifier"])
    assert resp.status_code == 200, resp.text


def test_public_client_may_not_present_a_secret(hosted, spa):
    username = hosted.user()
    got = hosted.authorize(spa, username)
    data = {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": CALLBACK, "code_verifier": got["verifier"]}
    oauth_error(hosted.token({**spa, "ClientSecret": "made-up"}, data, auth="post"), "invalid_client", 400)
    resp = hosted.token(spa, data)
    assert resp.status_code == 200, resp.text


def test_malformed_token_requests(hosted, web):
    username = hosted.user()
    got = hosted.authorize(web, username)
    oauth_error(hosted.token(web, {"grant_type": "password", "username": username, "password": PASSWORD}), "unsupported_grant_type")
    oauth_error(hosted.token(web, {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"}), "unsupported_grant_type")
    oauth_error(hosted.token(web, {"code": got["code"], "redirect_uri": CALLBACK}), "invalid_request")
    oauth_error(hosted.token(web, {"grant_type": "authorization_code", "redirect_uri": CALLBACK}), "invalid_request")
    oauth_error(hosted.token(web, {"grant_type": "refresh_token"}), "invalid_request")
    oauth_error(hosted.redeem(web, "A" * 43, got["verifier"]), "invalid_grant")
    oauth_error(hosted.refresh(web, "not-a-refresh-token"), "invalid_grant")
    # Only POST, only a form.
    resp = requests.get(hosted.token_endpoint, params={"grant_type": "client_credentials"}, headers=basic(web["ClientId"], web["ClientSecret"]), timeout=HTTP_TIMEOUT)
    assert resp.status_code in (400, 405) and "access_token" not in resp.text, resp.status_code
    resp = requests.post(
        hosted.token_endpoint,
        json={"grant_type": "authorization_code", "code": got["code"], "redirect_uri": CALLBACK, "code_verifier": got["verifier"]},
        headers=basic(web["ClientId"], web["ClientSecret"]),
        timeout=HTTP_TIMEOUT,
    )
    oauth_error(resp, "invalid_request")
    # The code survived all of that.
    assert hosted.redeem(web, got["code"], got["verifier"]).status_code == 200


# --------------------------------------------------------------------------
# /oauth2/token: refresh and client_credentials


def test_refresh_errors(hosted):
    web, other = hosted.client(), hosted.client()
    username = hosted.user()
    tokens = hosted.tokens(web, username, scope="openid email")
    # Widening the scope on refresh.
    oauth_error(hosted.refresh(web, tokens["refresh_token"], scope="openid profile"), "invalid_scope")
    oauth_error(hosted.refresh(web, tokens["refresh_token"], scope=f"openid email {ADMIN_SCOPE}"), "invalid_scope")
    # Another client's refresh token.
    oauth_error(hosted.refresh(other, tokens["refresh_token"]), "invalid_grant")
    # An access token or ID token is no refresh token.
    oauth_error(hosted.refresh(web, tokens["access_token"]), "invalid_grant")
    # None of that harmed the token.
    resp = hosted.refresh(web, tokens["refresh_token"], scope="openid email")
    assert resp.status_code == 200, resp.text


def test_client_credentials_refusals(hosted):
    hosted.idp.create_resource_server(
        UserPoolId=hosted.pool_id,
        Identifier=API,
        Name="api",
        Scopes=[{"ScopeName": "read", "ScopeDescription": "r"}, {"ScopeName": "write", "ScopeDescription": "w"}],
    )
    machine = hosted.client(flows=["client_credentials"], scopes=[f"{API}/read"], callbacks=None, logout_urls=None)
    oauth_error(hosted.token(machine, {"grant_type": "client_credentials", "scope": f"{API}/write"}), "invalid_scope")
    oauth_error(hosted.token(machine, {"grant_type": "client_credentials", "scope": "openid"}), "invalid_scope")
    # A code-flow client (with a secret and a custom scope) may not use the grant.
    web = hosted.client(scopes=["openid", f"{API}/read"])
    oauth_error(hosted.token(web, {"grant_type": "client_credentials", "scope": f"{API}/read"}), "unauthorized_client")
    # A client_credentials client may not redeem codes nor refresh.
    oauth_error(hosted.redeem(machine, "A" * 43, None), ("unauthorized_client", "invalid_grant"))
    assert hosted.token(machine, {"grant_type": "client_credentials"}).status_code == 200


# --------------------------------------------------------------------------
# /oauth2/userInfo


def test_user_info_refusals(hosted):
    web = hosted.client()
    username = hosted.user()

    resp = hosted.userinfo(None)
    assert resp.status_code == 400, (resp.status_code, resp.text)
    assert 'error="invalid_request"' in resp.headers.get("WWW-Authenticate", ""), resp.headers
    resp = hosted.userinfo(None, headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert resp.status_code in (400, 401), resp.status_code
    assert "error=" in resp.headers.get("WWW-Authenticate", ""), resp.headers

    for garbage in ("garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."):
        resp = hosted.userinfo(garbage)
        assert resp.status_code == 401, (garbage, resp.status_code, resp.text)
        assert 'error="invalid_token"' in resp.headers.get("WWW-Authenticate", ""), resp.headers
        assert username not in resp.text

    # An ID token is not an access token.
    tokens = hosted.tokens(web, username, scope=f"openid email {ADMIN_SCOPE}")
    resp = hosted.userinfo(tokens["id_token"])
    assert resp.status_code == 401, (resp.status_code, resp.text)

    # A token without openid: insufficient_scope (RFC 6750 §3.1).
    no_openid = hosted.tokens(web, username, scope=ADMIN_SCOPE)
    assert "id_token" not in no_openid
    resp = hosted.userinfo(no_openid["access_token"])
    assert resp.status_code == 403, (resp.status_code, resp.text)
    assert 'error="insufficient_scope"' in resp.headers.get("WWW-Authenticate", ""), resp.headers
    assert username not in resp.text


def test_user_info_refuses_machine_and_api_tokens(hosted):
    hosted.idp.create_resource_server(
        UserPoolId=hosted.pool_id, Identifier=API, Name="api", Scopes=[{"ScopeName": "read", "ScopeDescription": "r"}]
    )
    machine = hosted.client(flows=["client_credentials"], scopes=[f"{API}/read"], callbacks=None, logout_urls=None)
    resp = hosted.token(machine, {"grant_type": "client_credentials"})
    assert resp.status_code == 200, resp.text
    resp = hosted.userinfo(resp.json()["access_token"])
    assert resp.status_code in (401, 403), (resp.status_code, resp.text)
    assert "error=" in resp.headers.get("WWW-Authenticate", "")

    # A token from the API (InitiateAuth) carries no openid scope.
    api = hosted.idp.create_user_pool_client(
        UserPoolId=hosted.pool_id, ClientName=unique("api"), ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
    )["UserPoolClient"]
    username = hosted.user()
    out = hosted.public.initiate_auth(
        ClientId=api["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD}
    )
    resp = hosted.userinfo(out["AuthenticationResult"]["AccessToken"])
    assert resp.status_code in (401, 403), (resp.status_code, resp.text)
    assert username not in resp.text


# --------------------------------------------------------------------------
# /oauth2/revoke


def test_revoke_refusals(hosted):
    web, other = hosted.client(), hosted.client()
    username = hosted.user()
    tokens = hosted.tokens(web, username, scope="openid email")

    # An unknown token: 200 (RFC 7009 §2.2).
    resp = hosted.revoke(web, "not-a-token")
    assert resp.status_code == 200, resp.text
    # An access token (a JWT) or an ID token: unsupported_token_type.
    oauth_error(hosted.revoke(web, tokens["access_token"]), "unsupported_token_type")
    oauth_error(hosted.revoke(web, tokens["id_token"]), "unsupported_token_type")
    # No token.
    oauth_error(hosted.revoke(web, None), "invalid_request")
    # Bad client credentials.
    resp = hosted.revoke({**web, "ClientSecret": web["ClientSecret"] + "x"}, tokens["refresh_token"])
    oauth_error(resp, "invalid_client", 401)
    # Another client cannot revoke this client's token.
    resp = hosted.revoke(other, tokens["refresh_token"])
    assert resp.status_code in (200, 400), resp.status_code
    # A client with revocation disabled (A.9).
    fixed = hosted.client(EnableTokenRevocation=False)
    fixed_tokens = hosted.tokens(fixed, username, scope="openid email")
    oauth_error(hosted.revoke(fixed, fixed_tokens["refresh_token"]), "invalid_request")
    assert hosted.refresh(fixed, fixed_tokens["refresh_token"]).status_code == 200
    # None of the above revoked anything.
    resp = hosted.refresh(web, tokens["refresh_token"])
    assert resp.status_code == 200, resp.text
    assert hosted.userinfo(tokens["access_token"]).status_code == 200


# --------------------------------------------------------------------------
# /logout


def test_logout_redirects_only_to_listed_urls(hosted, web):
    url = hosted.logout_endpoint
    for unlisted in ("https://evil.example.com/", SIGNED_OUT + "/", SIGNED_OUT + "x", CALLBACK):
        for name in ("logout_uri", "post_logout_redirect_uri"):
            resp = get(url, params={"client_id": web["ClientId"], name: unlisted})
            page = error_page(resp)
            assert not any(unlisted in (a.get("href") or "") for a in page.anchors)
    # Unknown client, and no target at all.
    error_page(get(url, params={"client_id": "nosuchclient", "logout_uri": SIGNED_OUT}))
    error_page(get(url, params={"client_id": web["ClientId"]}))
    # redirect_uri form with an unregistered callback: an error page as for authorize.
    error_page(get(url, params={"client_id": web["ClientId"], "redirect_uri": "https://evil.example.com/", "response_type": "code"}))

    # The listed URL: a redirect there, with the state.
    resp = get(url, params={"client_id": web["ClientId"], "logout_uri": SIGNED_OUT, "state": STATE})
    assert resp.status_code == 302, (resp.status_code, resp.text[:500])
    location = resp.headers["Location"]
    assert location.split("?")[0] == SIGNED_OUT, location
    assert query_of(location).get("state") == STATE, location
    resp = get(url, params={"client_id": web["ClientId"], "post_logout_redirect_uri": SIGNED_OUT})
    assert resp.status_code == 302 and resp.headers["Location"].split("?")[0] == SIGNED_OUT

