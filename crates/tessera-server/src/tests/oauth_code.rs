//! The authorization-code flow in process, under a controlled clock: codes live five minutes
//! and work once, a replay revokes what the first redemption issued, PKCE and the redirect
//! URI bind the code, the sign-in session gives single sign-on for an hour, the forms need
//! their CSRF token, and a pool's domain serves the same pages.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tessera_core::ManualClock;
use tower::ServiceExt;

use super::{pool_with_user, signed, state_with_clock};
use crate::app;

const CALLBACK: &str = "https://app.example.com/cb";
const VERIFIER: &str = "dBjftJeZ4CVP-mJ0kZ8bX9q3Yp2Lw7cR5sT6uV8wXyZaBcDeF";

struct Fixture {
    state: crate::AppState,
    clock: Arc<ManualClock>,
    pool_id: String,
    client_id: String,
    secret: String,
}

async fn fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let state = state_with_clock(clock.clone()).await;
    let (pool_id, _) = pool_with_user(&state).await;
    let (status, _, body) = signed(
        &state,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool_id, "ClientName": "web", "GenerateSecret": true,
               "CallbackURLs": [CALLBACK], "LogoutURLs": ["https://app.example.com/bye"],
               "AllowedOAuthFlows": ["code"],
               "AllowedOAuthScopes": ["openid", "email", "aws.cognito.signin.user.admin"],
               "AllowedOAuthFlowsUserPoolClient": true,
               "SupportedIdentityProviders": ["COGNITO"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let client = &body["UserPoolClient"];
    Fixture {
        state,
        clock,
        pool_id,
        client_id: client["ClientId"].as_str().unwrap().to_owned(),
        secret: client["ClientSecret"].as_str().unwrap().to_owned(),
    }
}

fn challenge(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Reply {
    fn location(&self) -> &str {
        self.headers
            .get("location")
            .map(|v| v.to_str().unwrap())
            .unwrap_or("")
    }

    /// The `name=value` pairs of the Set-Cookie headers.
    fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

async fn send(state: &crate::AppState, request: Request<Body>) -> Reply {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get(f: &Fixture, uri: &str, cookies: &[String]) -> Reply {
    let mut request = Request::get(uri);
    if !cookies.is_empty() {
        request = request.header("cookie", cookies.join("; "));
    }
    send(&f.state, request.body(Body::empty()).unwrap()).await
}

async fn post(f: &Fixture, uri: &str, form: &str, cookies: &[String]) -> Reply {
    let mut request =
        Request::post(uri).header("content-type", "application/x-www-form-urlencoded");
    if !cookies.is_empty() {
        request = request.header("cookie", cookies.join("; "));
    }
    send(&f.state, request.body(Body::from(form.to_owned())).unwrap()).await
}

fn query_of(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    query_of(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn authorize_query(f: &Fixture, extra: &str) -> String {
    format!(
        "response_type=code&client_id={}&redirect_uri={}&state=xyz{extra}",
        f.client_id,
        form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>()
    )
}

/// Signs alice in at the login page and returns the callback URL and the cookies.
async fn sign_in(f: &Fixture, query: &str) -> (String, Vec<String>) {
    let page = get(f, &format!("/{}/login?{query}", f.pool_id), &[]).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let cookies = page.cookies();
    let csrf = page
        .body
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let reply = post(
        f,
        &format!("/{}/login?{query}", f.pool_id),
        &format!("_csrf={csrf}&username=alice&password=Passw0rd%21"),
        &cookies,
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let mut all = cookies;
    all.extend(reply.cookies());
    (reply.location().to_owned(), all)
}

async fn redeem(f: &Fixture, code: &str, extra: &str) -> Reply {
    post(
        f,
        &format!("/{}/oauth2/token", f.pool_id),
        &format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&client_id={}&client_secret={}{extra}",
            form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>(),
            f.client_id,
            f.secret
        ),
        &[],
    )
    .await
}

#[tokio::test]
async fn issue_6_a_code_lives_five_minutes() {
    let f = fixture().await;
    let (callback, _) = sign_in(&f, &authorize_query(&f, "")).await;
    assert!(callback.starts_with(CALLBACK), "{callback}");
    assert_eq!(param(&callback, "state").as_deref(), Some("xyz"));
    assert_eq!(
        param(&callback, "iss"),
        Some(f.state.issuer(&f.pool_id)),
        "RFC 9207"
    );
    let code = param(&callback, "code").unwrap();
    f.clock.advance(Duration::from_secs(301));
    let reply = redeem(&f, &code, "").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.json()["error"], "invalid_grant");

    // Within the five minutes it works.
    let (callback, _) = sign_in(&f, &authorize_query(&f, "")).await;
    f.clock.advance(Duration::from_secs(299));
    let reply = redeem(&f, &param(&callback, "code").unwrap(), "").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let tokens = reply.json();
    assert!(tokens["id_token"].is_string() && tokens["refresh_token"].is_string());
    assert_eq!(reply.headers["cache-control"], "no-store");
}

#[tokio::test]
async fn issue_6_a_replayed_code_revokes_what_it_issued() {
    let f = fixture().await;
    let (callback, _) = sign_in(&f, &authorize_query(&f, "")).await;
    let code = param(&callback, "code").unwrap();
    let first = redeem(&f, &code, "").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let tokens = first.json();
    let replay = redeem(&f, &code, "").await;
    assert_eq!(replay.json()["error"], "invalid_grant");
    // The refresh token and the access token of the first redemption are dead.
    let refresh = post(
        &f,
        &format!("/{}/oauth2/token", f.pool_id),
        &format!(
            "grant_type=refresh_token&refresh_token={}&client_id={}&client_secret={}",
            tokens["refresh_token"].as_str().unwrap(),
            f.client_id,
            f.secret
        ),
        &[],
    )
    .await;
    assert_eq!(refresh.json()["error"], "invalid_grant", "{}", refresh.body);
    let userinfo = send(
        &f.state,
        Request::get(format!("/{}/oauth2/userInfo", f.pool_id))
            .header(
                "authorization",
                format!("Bearer {}", tokens["access_token"].as_str().unwrap()),
            )
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(userinfo.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn issue_6_pkce_and_redirect_uri_bind_the_code() {
    let f = fixture().await;
    let pkce = format!(
        "&code_challenge={}&code_challenge_method=S256",
        challenge(VERIFIER)
    );
    // A wrong verifier burns the code: the right one afterwards fails too.
    let (callback, _) = sign_in(&f, &authorize_query(&f, &pkce)).await;
    let code = param(&callback, "code").unwrap();
    let wrong = redeem(
        &f,
        &code,
        &format!("&code_verifier={}", VERIFIER.replace('d', "e")),
    )
    .await;
    assert_eq!(wrong.json()["error"], "invalid_grant");
    let right = redeem(&f, &code, &format!("&code_verifier={VERIFIER}")).await;
    assert_eq!(right.json()["error"], "invalid_grant");
    // Missing verifier.
    let (callback, _) = sign_in(&f, &authorize_query(&f, &pkce)).await;
    let missing = redeem(&f, &param(&callback, "code").unwrap(), "").await;
    assert_eq!(missing.json()["error"], "invalid_grant");
    // A verifier for a code without a challenge (the downgrade of RFC 9700 §2.1.1).
    let (callback, _) = sign_in(&f, &authorize_query(&f, "")).await;
    let downgrade = redeem(
        &f,
        &param(&callback, "code").unwrap(),
        &format!("&code_verifier={VERIFIER}"),
    )
    .await;
    assert_eq!(downgrade.json()["error"], "invalid_grant");
    // The right verifier works.
    let (callback, _) = sign_in(&f, &authorize_query(&f, &pkce)).await;
    let ok = redeem(
        &f,
        &param(&callback, "code").unwrap(),
        &format!("&code_verifier={VERIFIER}"),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    // Another redirect_uri at redemption.
    let (callback, _) = sign_in(&f, &authorize_query(&f, "")).await;
    let reply = post(
        &f,
        &format!("/{}/oauth2/token", f.pool_id),
        &format!(
            "grant_type=authorization_code&code={}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%2F&client_id={}&client_secret={}",
            param(&callback, "code").unwrap(),
            f.client_id,
            f.secret
        ),
        &[],
    )
    .await;
    assert_eq!(reply.json()["error"], "invalid_grant");
}

#[tokio::test]
async fn issue_6_authorization_errors_redirect_only_to_a_registered_callback() {
    let f = fixture().await;
    for bad in [
        format!(
            "response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb",
            f.client_id
        ),
        format!(
            "response_type=code&client_id={}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb%2Fx",
            f.client_id
        ),
        format!("response_type=code&client_id={}", f.client_id),
        "response_type=code&client_id=nosuchclient&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb"
            .to_owned(),
    ] {
        let reply = get(&f, &format!("/{}/oauth2/authorize?{bad}", f.pool_id), &[]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(reply.headers.get("location").is_none(), "{bad}");
        assert!(reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert_eq!(reply.headers["x-frame-options"], "DENY");
    }
    for (extra, error) in [
        (
            "&code_challenge=abc&code_challenge_method=plain",
            "invalid_request",
        ),
        ("&scope=phone", "invalid_scope"),
        ("&scope=email", "invalid_scope"),
        ("&prompt=none", "login_required"),
    ] {
        let reply = get(
            &f,
            &format!(
                "/{}/oauth2/authorize?{}",
                f.pool_id,
                authorize_query(&f, extra)
            ),
            &[],
        )
        .await;
        assert_eq!(reply.status, StatusCode::FOUND, "{extra}");
        let location = reply.location();
        assert!(location.starts_with(CALLBACK), "{location}");
        assert_eq!(param(location, "error").as_deref(), Some(error), "{extra}");
        assert_eq!(param(location, "state").as_deref(), Some("xyz"));
        assert_eq!(param(location, "iss"), Some(f.state.issuer(&f.pool_id)));
    }
    let reply = get(
        &f,
        &format!(
            "/{}/oauth2/authorize?{}",
            f.pool_id,
            authorize_query(&f, "").replace("response_type=code", "response_type=token")
        ),
        &[],
    )
    .await;
    assert_eq!(
        param(reply.location(), "error").as_deref(),
        Some("unsupported_response_type")
    );
}

#[tokio::test]
async fn issue_6_forms_need_their_csrf_token() {
    let f = fixture().await;
    let query = authorize_query(&f, "");
    let page = get(&f, &format!("/{}/login?{query}", f.pool_id), &[]).await;
    let cookies = page.cookies();
    assert!(
        cookies.iter().any(|c| c.starts_with("tessera-csrf=")),
        "{cookies:?}"
    );
    for (form, cookies) in [
        (
            "username=alice&password=Passw0rd%21".to_owned(),
            cookies.clone(),
        ),
        (
            "_csrf=forged&username=alice&password=Passw0rd%21".to_owned(),
            cookies.clone(),
        ),
        (
            "_csrf=x&username=alice&password=Passw0rd%21".to_owned(),
            vec![],
        ),
    ] {
        let reply = post(
            &f,
            &format!("/{}/login?{query}", f.pool_id),
            &form,
            &cookies,
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{form}");
        assert!(reply.headers.get("location").is_none());
    }
}

#[tokio::test]
async fn issue_6_single_sign_on_lasts_an_hour() {
    let f = fixture().await;
    let query = authorize_query(&f, "");
    let (_, cookies) = sign_in(&f, &query).await;
    let session: Vec<String> = cookies
        .into_iter()
        .filter(|c| c.starts_with("tessera-sso-"))
        .collect();
    assert_eq!(session.len(), 1);
    let reply = get(
        &f,
        &format!("/{}/oauth2/authorize?{query}", f.pool_id),
        &session,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert!(
        param(reply.location(), "code").is_some(),
        "{}",
        reply.location()
    );
    // prompt=login asks again despite the session.
    let reply = get(
        &f,
        &format!("/{}/oauth2/authorize?{query}&prompt=login", f.pool_id),
        &session,
    )
    .await;
    assert!(reply.location().contains("/login?"), "{}", reply.location());
    f.clock.advance(Duration::from_secs(3601));
    let reply = get(
        &f,
        &format!("/{}/oauth2/authorize?{query}", f.pool_id),
        &session,
    )
    .await;
    assert!(reply.location().contains("/login?"), "{}", reply.location());
    // Logout ends the session and goes only to a registered URL.
    let (_, cookies) = sign_in(&f, &query).await;
    let reply = get(
        &f,
        &format!(
            "/{}/logout?client_id={}&logout_uri=https%3A%2F%2Fevil.example%2F",
            f.pool_id, f.client_id
        ),
        &cookies,
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = get(
        &f,
        &format!(
            "/{}/logout?client_id={}&logout_uri=https%3A%2F%2Fapp.example.com%2Fbye",
            f.pool_id, f.client_id
        ),
        &cookies,
    )
    .await;
    assert_eq!(reply.location(), "https://app.example.com/bye");
    let reply = get(
        &f,
        &format!("/{}/oauth2/authorize?{query}", f.pool_id),
        &cookies,
    )
    .await;
    assert!(reply.location().contains("/login?"), "{}", reply.location());
}

#[tokio::test]
async fn issue_6_a_domain_serves_the_pages_without_the_pool_prefix() {
    let f = fixture().await;
    let (status, _, body) = signed(
        &f.state,
        "CreateUserPoolDomain",
        json!({"UserPoolId": f.pool_id, "Domain": "my-app"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reply = send(
        &f.state,
        Request::get(format!("/oauth2/authorize?{}", authorize_query(&f, "")))
            .header("host", "my-app.auth.localhost:9229")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert!(
        reply.location().starts_with("/login?"),
        "{}",
        reply.location()
    );
    let reply = send(
        &f.state,
        Request::get(reply.location())
            .header("host", "my-app.auth.localhost:9229")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.contains("action=\"/login?"), "{}", reply.body);
    assert!(reply.body.contains("href=\"/ui/tessera.css\""));
    // Another host is not a domain of any pool: no rewriting.
    let reply = send(
        &f.state,
        Request::get("/login")
            .header("host", "other.auth.localhost:9229")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

/// In a pool whose usernames are e-mail addresses the internal username is the sub; the pages
/// speak of the address the person typed.
#[tokio::test]
async fn issue_6_email_username_pools_confirm_by_the_typed_address() {
    let f = fixture().await;
    let (status, _, body) = signed(
        &f.state,
        "CreateUserPool",
        json!({"PoolName": "email", "UsernameAttributes": ["email"], "AutoVerifiedAttributes": ["email"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pool_id = body["UserPool"]["Id"].as_str().unwrap().to_owned();
    let (status, _, body) = signed(
        &f.state,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool_id, "ClientName": "web", "GenerateSecret": true,
               "CallbackURLs": [CALLBACK], "AllowedOAuthFlows": ["code"],
               "AllowedOAuthScopes": ["openid", "email"],
               "AllowedOAuthFlowsUserPoolClient": true,
               "SupportedIdentityProviders": ["COGNITO"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let client_id = body["UserPoolClient"]["ClientId"].as_str().unwrap();
    let query = format!(
        "response_type=code&client_id={client_id}&redirect_uri={}",
        form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>()
    );
    let page = get(&f, &format!("/{pool_id}/signup?{query}"), &[]).await;
    assert_eq!(page.status, StatusCode::OK);
    // The username is the address: no second e-mail field.
    assert!(page.body.contains("type=\"email\""), "{}", page.body);
    assert!(!page.body.contains("name=\"email\""), "{}", page.body);
    let cookies = page.cookies();
    let csrf = page
        .body
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let reply = post(
        &f,
        &format!("/{pool_id}/signup?{query}"),
        &format!("_csrf={csrf}&username=bob%40example.com&password=Passw0rd%21"),
        &cookies,
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(
        param(reply.location(), "username").as_deref(),
        Some("bob@example.com")
    );
    // Signing in before confirming, with the right password, leads to the same page.
    let reply = post(
        &f,
        &format!("/{pool_id}/login?{query}"),
        &format!("_csrf={csrf}&username=bob%40example.com&password=Passw0rd%21"),
        &cookies,
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert!(
        reply.location().contains("/confirm?"),
        "{}",
        reply.location()
    );
    assert_eq!(
        param(reply.location(), "username").as_deref(),
        Some("bob@example.com")
    );
}

async fn second_client(f: &Fixture, rotation: bool) -> (String, String) {
    let mut settings = json!({"UserPoolId": f.pool_id, "ClientName": "other", "GenerateSecret": true,
           "CallbackURLs": [CALLBACK],
           "AllowedOAuthFlows": ["code"],
           "AllowedOAuthScopes": ["openid", "email", "aws.cognito.signin.user.admin"],
           "AllowedOAuthFlowsUserPoolClient": true,
           "SupportedIdentityProviders": ["COGNITO"]});
    if rotation {
        settings["RefreshTokenRotation"] =
            json!({"Feature": "ENABLED", "RetryGracePeriodSeconds": 0});
    }
    let (status, _, body) = signed(&f.state, "CreateUserPoolClient", settings).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let client = &body["UserPoolClient"];
    (
        client["ClientId"].as_str().unwrap().to_owned(),
        client["ClientSecret"].as_str().unwrap().to_owned(),
    )
}

async fn token_call(f: &Fixture, form: String) -> Reply {
    post(f, &format!("/{}/oauth2/token", f.pool_id), &form, &[]).await
}

/// A used code presented by another client revokes nothing: only the client the code was
/// issued to can have it replayed (issue 6 review).
#[tokio::test]
async fn issue_6_another_clients_replay_revokes_nothing() {
    let f = fixture().await;
    let (other_id, other_secret) = second_client(&f, false).await;
    let (callback, _) = sign_in(&f, &authorize_query(&f, "")).await;
    let code = param(&callback, "code").unwrap();
    let first = redeem(&f, &code, "").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let stolen = token_call(
        &f,
        format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&client_id={other_id}&client_secret={other_secret}",
            form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>()
        ),
    )
    .await;
    assert_eq!(stolen.json()["error"], "invalid_grant");
    let refresh = token_call(
        &f,
        format!(
            "grant_type=refresh_token&refresh_token={}&client_id={}&client_secret={}",
            first.json()["refresh_token"].as_str().unwrap(),
            f.client_id,
            f.secret
        ),
    )
    .await;
    assert_eq!(refresh.status, StatusCode::OK, "{}", refresh.body);
}

/// OIDC max_age: a sign-in session older than max_age does not give a code without a form.
#[tokio::test]
async fn issue_6_max_age_asks_for_a_fresh_sign_in() {
    let f = fixture().await;
    let query = authorize_query(&f, "");
    let (_, cookies) = sign_in(&f, &query).await;
    f.clock.advance(Duration::from_secs(120));
    let reply = get(
        &f,
        &format!("/{}/oauth2/authorize?{query}&max_age=600", f.pool_id),
        &cookies,
    )
    .await;
    assert!(
        param(reply.location(), "code").is_some(),
        "{}",
        reply.location()
    );
    let reply = get(
        &f,
        &format!("/{}/oauth2/authorize?{query}&max_age=60", f.pool_id),
        &cookies,
    )
    .await;
    assert!(reply.location().contains("/login?"), "{}", reply.location());
    let reply = get(
        &f,
        &format!("/{}/oauth2/authorize?{query}&max_age=soon", f.pool_id),
        &cookies,
    )
    .await;
    assert_eq!(
        param(reply.location(), "error").as_deref(),
        Some("invalid_request")
    );
}

/// A refresh that narrows the scope gets narrower tokens, but the rotated refresh token keeps
/// the session's scopes (RFC 6749 §6); a scope taken from the client leaves its sessions.
#[tokio::test]
async fn issue_6_refresh_narrows_tokens_not_the_session() {
    let f = fixture().await;
    let (client_id, secret) = second_client(&f, true).await;
    let query = format!(
        "response_type=code&client_id={client_id}&redirect_uri={}&scope=openid+email",
        form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>()
    );
    let (callback, _) = sign_in(&f, &query).await;
    let tokens = token_call(
        &f,
        format!(
            "grant_type=authorization_code&code={}&redirect_uri={}&client_id={client_id}&client_secret={secret}",
            param(&callback, "code").unwrap(),
            form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>()
        ),
    )
    .await
    .json();
    let scope_of = |token: &str| -> String {
        let payload = token.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        claims["scope"].as_str().unwrap().to_owned()
    };
    let refresh = |token: String, scope: &'static str| {
        let f = &f;
        let (client_id, secret) = (client_id.clone(), secret.clone());
        async move {
            token_call(
                f,
                format!("grant_type=refresh_token&refresh_token={token}&client_id={client_id}&client_secret={secret}{scope}"),
            )
            .await
            .json()
        }
    };
    let narrowed = refresh(
        tokens["refresh_token"].as_str().unwrap().to_owned(),
        "&scope=openid",
    )
    .await;
    assert_eq!(
        scope_of(narrowed["access_token"].as_str().unwrap()),
        "openid"
    );
    let full = refresh(narrowed["refresh_token"].as_str().unwrap().to_owned(), "").await;
    assert_eq!(
        scope_of(full["access_token"].as_str().unwrap()),
        "openid email",
        "{full}"
    );
    // The client loses the email scope: the session's next tokens lose it too.
    let (status, _, body) = signed(
        &f.state,
        "UpdateUserPoolClient",
        json!({"UserPoolId": f.pool_id, "ClientId": client_id, "ClientName": "other",
               "CallbackURLs": [CALLBACK], "AllowedOAuthFlows": ["code"],
               "AllowedOAuthScopes": ["openid"], "AllowedOAuthFlowsUserPoolClient": true,
               "SupportedIdentityProviders": ["COGNITO"],
               "RefreshTokenRotation": {"Feature": "ENABLED", "RetryGracePeriodSeconds": 0}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let reduced = refresh(full["refresh_token"].as_str().unwrap().to_owned(), "").await;
    assert_eq!(
        scope_of(reduced["access_token"].as_str().unwrap()),
        "openid",
        "{reduced}"
    );
}

/// The sign-in page never tells who has an account: a locked account reads like a wrong
/// password, and guesses at an unconfirmed account count towards its lockout.
#[tokio::test]
async fn issue_6_lockout_on_the_page_reads_like_a_wrong_password() {
    let f = fixture().await;
    let query = authorize_query(&f, "");
    let page = get(&f, &format!("/{}/login?{query}", f.pool_id), &[]).await;
    let cookies = page.cookies();
    let csrf = page
        .body
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let attempt = |user: &'static str, password: &'static str| {
        let (f, cookies, csrf, query) = (&f, cookies.clone(), csrf.clone(), query.clone());
        async move {
            post(
                f,
                &format!("/{}/login?{query}", f.pool_id),
                &format!("_csrf={csrf}&username={user}&password={password}"),
                &cookies,
            )
            .await
        }
    };
    let unknown = attempt("nobody", "Wr0ng!pass").await;
    for _ in 0..6 {
        attempt("alice", "Wr0ng!pass").await;
    }
    // Locked now: even the right password reads like a wrong one, as for an unknown user.
    let locked = attempt("alice", "Passw0rd%21").await;
    assert_eq!(locked.status, unknown.status);
    assert!(
        locked.body.contains("Incorrect username or password."),
        "{}",
        locked.body
    );
    assert!(!locked.body.contains("attempts"), "{}", locked.body);
}
