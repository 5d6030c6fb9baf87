//! The token endpoint in process: client authentication (a Basic header with form-encoded
//! credentials, as RFC 6749 §2.3.1 and openid-client send them) and the lifetime of a
//! client_credentials token under a controlled clock.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tessera_core::{verify_jwt, KeyUse, ManualClock};
use tower::ServiceExt;

use super::{pool_with_user, signed, state_with_clock};
use crate::app;
use tessera_idp::pool::keys::pool_keys;

const API: &str = "https://api.example.com";

/// A resource server `API` with a `read` scope and a confidential client allowed it.
async fn machine(state: &crate::AppState) -> (String, String, String) {
    let (pool_id, _) = pool_with_user(state).await;
    let (status, _, body) = signed(
        state,
        "CreateResourceServer",
        json!({"UserPoolId": pool_id, "Identifier": API, "Name": "api",
               "Scopes": [{"ScopeName": "read", "ScopeDescription": "read"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = signed(
        state,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool_id, "ClientName": "machine", "GenerateSecret": true,
               "AllowedOAuthFlows": ["client_credentials"],
               "AllowedOAuthScopes": [format!("{API}/read")],
               "AllowedOAuthFlowsUserPoolClient": true,
               "AccessTokenValidity": 5, "TokenValidityUnits": {"AccessToken": "minutes"}}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let client = &body["UserPoolClient"];
    (
        pool_id,
        client["ClientId"].as_str().unwrap().to_owned(),
        client["ClientSecret"].as_str().unwrap().to_owned(),
    )
}

async fn token(
    state: &crate::AppState,
    pool_id: &str,
    authorization: Option<String>,
    form: &str,
) -> (StatusCode, http::HeaderMap, Value) {
    let mut request = Request::post(format!("/{pool_id}/oauth2/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    if let Some(value) = authorization {
        request
            .headers_mut()
            .insert("authorization", value.parse().unwrap());
    }
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, serde_json::from_slice(&body).unwrap())
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

#[tokio::test]
async fn basic_credentials_are_form_decoded() {
    let clock = Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let state = state_with_clock(clock.clone()).await;
    let (pool_id, client_id, secret) = machine(&state).await;
    let grant = "grant_type=client_credentials";
    // Generated secrets are letters and digits; encoding every byte as %XX must change
    // nothing, and a `+` in a form-encoded value is a space, so the raw secret with one
    // character replaced by `+` must fail.
    let encoded: String = secret.bytes().map(|b| format!("%{b:02X}")).collect();
    let (status, _, body) = token(&state, &pool_id, Some(basic(&client_id, &encoded)), grant).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let plus = format!("{}+", &secret[..secret.len() - 1]);
    let (status, headers, body) =
        token(&state, &pool_id, Some(basic(&client_id, &plus)), grant).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(headers["www-authenticate"], "Basic realm=\"tessera\"");
    // A header that is not Basic, or not Base64, is a failed client authentication.
    for header in ["Bearer abc", "Basic !!!", "Basic"] {
        let (status, _, body) = token(&state, &pool_id, Some(header.into()), grant).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header}: {body}");
        assert_eq!(body["error"], "invalid_client");
    }
}

#[tokio::test]
async fn client_credentials_tokens_expire_with_the_client_validity() {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let clock = Arc::new(ManualClock::new(start));
    let state = state_with_clock(clock.clone()).await;
    let (pool_id, client_id, secret) = machine(&state).await;
    let (status, headers, body) = token(
        &state,
        &pool_id,
        None,
        &format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["expires_in"], 300);
    let access = body["access_token"].as_str().unwrap();
    let keys = pool_keys(&state, &pool_id).await.unwrap();
    let claims = verify_jwt(access, &keys.verifiers(KeyUse::Access), "access", start).unwrap();
    assert_eq!(claims["iat"], 1_700_000_000);
    assert_eq!(claims["exp"], 1_700_000_300);
    assert_eq!(claims["scope"], format!("{API}/read"));
    let later = start + Duration::from_secs(300);
    assert!(verify_jwt(access, &keys.verifiers(KeyUse::Access), "access", later).is_err());
    // A machine token carries no user: the user API refuses it.
    let result = super::public(&state, "GetUser", json!({ "AccessToken": access })).await;
    assert_eq!(result.0, StatusCode::BAD_REQUEST, "{}", result.2);
    assert_eq!(result.2["__type"], "NotAuthorizedException");
}
