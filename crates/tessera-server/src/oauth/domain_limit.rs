//! Cognito's bulk limits on a user pool domain (issue 16): every request to a pool's OAuth
//! endpoints, hosted pages and federation endpoints counts, whether it arrives on the pool's
//! domain or in the path form; 500 a second to one pool in all, 300 a second from one source
//! address. (Cognito's third bulk limit, 300 a second for one app client, is not applied: most
//! of these requests name their client only inside the body or the authorization header, which
//! a limit counted before the handler does not read.)

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::OAuthError;
use crate::connection::Peer;
use crate::AppState;

/// Counts the request before its route runs; over a limit it is answered with HTTP 429 and
/// `Retry-After`: the OAuth error document at the `/oauth2/` endpoints a program calls, a
/// short text where a browser shows the answer.
pub(crate) async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let pool_id = path
        .strip_prefix('/')
        .and_then(|rest| rest.split_once('/'))
        .map_or("", |(pool, _)| pool)
        .to_owned();
    // Only a pool that exists has a domain to count for: a made-up id would otherwise open
    // windows of its own (a write each), and its routes refuse it anyway.
    if !matches!(state.store.user_pool(&pool_id).await, Ok(Some(_))) {
        return next.run(request).await;
    }
    let source = request.extensions().get::<Peer>().map(|peer| peer.0.ip());
    match state.admit_domain(&pool_id, source).await {
        Ok(true) => next.run(request).await,
        Ok(false) => {
            let for_programs = path.contains("/oauth2/") && !path.ends_with("/oauth2/authorize");
            if for_programs {
                OAuthError::too_many_requests().into_response()
            } else {
                let mut response = (StatusCode::TOO_MANY_REQUESTS, "Rate exceeded").into_response();
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                response
            }
        }
        Err(error) => OAuthError::server_error(&error).into_response(),
    }
}
