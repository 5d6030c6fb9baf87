//! `GET|POST /oauth2/userInfo`: the signed-in user's attributes, as the access token's scopes
//! allow, with the bearer-token errors of RFC 6750 §3.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::error::JSON_UTF8;
use crate::{ApiError, AppState};

fn challenge(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = status.into_response();
    let value = format!("Bearer error=\"{error}\", error_description=\"{description}\"");
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    no_cache(&mut response);
    response
}

/// The caching headers Cognito's userInfo answers with.
fn no_cache(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store, max-age=0, must-revalidate"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

pub(crate) async fn userinfo(
    State(state): State<AppState>,
    Path(pool_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    let Some(token) = token else {
        return challenge(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Bad OAuth2 request at UserInfo Endpoint",
        );
    };
    let invalid = || {
        challenge(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Access token is expired, disabled, or deleted, or the user has globally signed out.",
        )
    };
    let authorized =
        match tessera_idp::sign_in::access_token::authorize_token(&state, token, false).await {
            Ok(authorized) if authorized.directory.pool.id == pool_id => authorized,
            Ok(_) => return invalid(),
            Err(error) if error.is_internal() => return ApiError::from(error).into_response(),
            Err(_) => return invalid(),
        };
    let scope = authorized
        .claims
        .get("scope")
        .and_then(Value::as_str)
        .unwrap_or("");
    let scopes: Vec<&str> = scope.split(' ').collect();
    if !scopes.contains(&"openid") {
        return challenge(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "The access token does not have the openid scope.",
        );
    }
    // The client's read permissions bound what any scope reveals.
    let client = match authorized.claims.get("client_id").and_then(Value::as_str) {
        Some(client_id) => match state.store.app_client(client_id).await {
            Ok(client) => client,
            Err(error) => return crate::ApiError::from(error).into_response(),
        },
        None => None,
    };
    let readable = client
        .as_ref()
        .and_then(tessera_idp::sign_in::read_attributes);
    let email = scopes.contains(&"email");
    let phone = scopes.contains(&"phone");
    let profile = scopes.contains(&"profile");
    // `openid` alone stands for every attribute the client may read.
    let everything = !email && !phone && !profile;
    let mut out = Map::new();
    out.insert("sub".into(), json!(authorized.user.sub));
    for (name, value) in &authorized.user.attributes {
        if name == "sub" || name.starts_with("dev:") {
            continue;
        }
        if readable
            .as_ref()
            .is_some_and(|names| !names.iter().any(|n| n == name))
        {
            continue;
        }
        let allowed = everything
            || match name.as_str() {
                "email" | "email_verified" => email,
                "phone_number" | "phone_number_verified" => phone,
                _ => profile,
            };
        if allowed {
            // Cognito answers every attribute as a string, the verified flags included.
            out.insert(name.clone(), json!(value));
        }
    }
    out.insert("username".into(), json!(authorized.user.username));
    let mut response = (StatusCode::OK, Value::Object(out).to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
    no_cache(&mut response);
    response
}
