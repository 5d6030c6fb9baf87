//! The one place where failures become HTTP responses in Cognito's error shape.
//!
//! Internal detail (a database error, a corrupt row) is logged here with the request id and
//! never sent: the client sees `InternalErrorException` and a generic message.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_store::StoreError;

/// An error answered in the AWS JSON 1.1 shape: `{"__type": …, "message": …}` plus the
/// `x-amzn-ErrorType` and `x-amzn-ErrorMessage` headers.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ApiError {
    /// The exception name sent as `__type`, e.g. `ResourceNotFoundException`.
    pub kind: &'static str,
    /// The human-readable message.
    pub message: String,
    /// The HTTP status: 400 for every client error, as Cognito sends it.
    pub status: StatusCode,
}

impl ApiError {
    /// A client error (HTTP 400) of the given type.
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            status: StatusCode::BAD_REQUEST,
        }
    }

    /// `InternalErrorException` (HTTP 500); `detail` is logged, not sent.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self {
            kind: "InternalErrorException",
            message: "Internal server error.".into(),
            status: StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<tessera_idp::Error> for ApiError {
    /// A refusal is a 400, as Cognito sends every client error; an internal failure a 500
    /// (its detail was logged where it happened).
    fn from(error: tessera_idp::Error) -> Self {
        Self {
            status: if error.is_internal() {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::BAD_REQUEST
            },
            kind: error.kind,
            message: error.message,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::internal(&error)
    }
}

impl From<tessera_core::CoreError> for ApiError {
    fn from(error: tessera_core::CoreError) -> Self {
        ApiError::internal(&error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "__type": self.kind, "message": self.message }).to_string();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static(crate::protocol::AMZ_JSON),
        );
        if let Ok(value) = HeaderValue::from_str(&format!("{}:", self.kind)) {
            headers.insert("x-amzn-errortype", value);
        }
        // Header values must be visible ASCII; a message with other characters is still in
        // the body, which is what clients read first.
        let printable: String = self
            .message
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if let Ok(value) = HeaderValue::from_str(&printable) {
            headers.insert("x-amzn-errormessage", value);
        }
        response
    }
}
