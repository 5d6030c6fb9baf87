//! OAuth error responses (RFC 6749 §5.2): a JSON body with `error` and `error_description`,
//! never cached, and for a client that authenticated with HTTP Basic and failed, a 401 with a
//! `WWW-Authenticate` challenge.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An error of the token (and later revocation) endpoint.
#[derive(Debug)]
pub(crate) struct OAuthError {
    pub(crate) error: &'static str,
    pub(crate) description: String,
    pub(crate) status: StatusCode,
    /// The client authenticated with the `Authorization` header: RFC 6749 then requires a
    /// 401 with a challenge for `invalid_client`.
    pub(crate) basic_challenge: bool,
}

impl OAuthError {
    /// An error code of its own (`unsupported_token_type`, `invalid_grant`, …).
    pub(crate) fn new_public(error: &'static str, description: impl Into<String>) -> Self {
        Self::new(error, description)
    }

    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }

    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
            status: StatusCode::BAD_REQUEST,
            basic_challenge: false,
        }
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    pub(crate) fn invalid_client(description: impl Into<String>, used_basic: bool) -> Self {
        let mut error = Self::new("invalid_client", description);
        if used_basic {
            error.status = StatusCode::UNAUTHORIZED;
            error.basic_challenge = true;
        }
        error
    }

    pub(crate) fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new("unauthorized_client", description)
    }

    pub(crate) fn unsupported_grant_type(description: impl Into<String>) -> Self {
        Self::new("unsupported_grant_type", description)
    }

    pub(crate) fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new("invalid_scope", description)
    }

    /// A request over a rate limit (issue 16). RFC 6749 names no error for it; the status is
    /// RFC 6585's, and a client retries after a second (the limits' window).
    pub(crate) fn too_many_requests() -> Self {
        let mut error = Self::new("too_many_requests", "Rate exceeded");
        error.status = StatusCode::TOO_MANY_REQUESTS;
        error
    }

    /// A failure inside tessera: logged with its detail, answered without it.
    pub(crate) fn server_error(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "OAuth request failed");
        let mut error = Self::new("server_error", "An internal error occurred.");
        error.status = StatusCode::INTERNAL_SERVER_ERROR;
        error
    }
}

impl From<tessera_store::StoreError> for OAuthError {
    fn from(error: tessera_store::StoreError) -> Self {
        Self::server_error(&error)
    }
}

impl From<tessera_core::CoreError> for OAuthError {
    fn from(error: tessera_core::CoreError) -> Self {
        Self::server_error(&error)
    }
}

/// The headers every token-endpoint answer carries (RFC 6749 §5.1): tokens must not be cached.
pub(crate) fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// The content type Cognito's OAuth endpoints answer with.
pub(crate) const JSON_UTF8: &str = "application/json;charset=UTF-8";

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = (self.status, body.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tessera\""),
            );
        }
        no_store(&mut response);
        response
    }
}
