//! The one place where failures become HTTP responses in Cognito's error shape.
//!
//! Internal detail (a database error, a corrupt row) is logged here with the request id and
//! never sent: the client sees `InternalErrorException` and a generic message.
//!
//! Messages quote a caller's value only as its `tessera_core::excerpt`, wherever they are
//! written; the `x-amzn-ErrorMessage` header is capped here as well
//! ([`MAX_HEADER_MESSAGE`]), so that no message, however it was built, can make a header the
//! AWS SDKs cannot read.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_store::StoreError;

/// Longest `x-amzn-ErrorMessage` header value, in bytes (the header carries ASCII only). A
/// longer message is cut there and ends in `...`; the body keeps it whole. HTTP clients limit
/// header lines (Netty, under the AWS SDK for Java, to 8 KiB; Python's http.client to 64 KiB;
/// Node.js to 16 KiB for all headers together), and 4 KiB holds every message whose quoted
/// values are excerpts while staying well within each of them.
pub(crate) const MAX_HEADER_MESSAGE: usize = 4096;

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
        let mut printable: String = self
            .message
            .chars()
            .take(MAX_HEADER_MESSAGE + 1)
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if printable.len() > MAX_HEADER_MESSAGE {
            printable.truncate(MAX_HEADER_MESSAGE - "...".len());
            printable.push_str("...");
        }
        if let Ok(value) = HeaderValue::from_str(&printable) {
            headers.insert("x-amzn-errormessage", value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_and_body(error: ApiError) -> (String, String) {
        let response = error.into_response();
        let header = response.headers()["x-amzn-errormessage"]
            .to_str()
            .unwrap()
            .to_owned();
        (header, body_message(response))
    }

    fn body_message(response: Response) -> String {
        use http_body_util::BodyExt;
        let bytes = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(response.into_body().collect())
            .unwrap()
            .to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        body["message"].as_str().unwrap().to_owned()
    }

    #[test]
    fn a_short_message_is_the_header_whole() {
        let error = tessera_idp::Error::pool_not_found("us-east-1_Example01");
        let (header, body) = header_and_body(error.into());
        assert_eq!(header, "User pool us-east-1_Example01 does not exist.");
        assert_eq!(body, header);
    }

    #[test]
    fn the_header_is_capped_and_the_body_keeps_the_message() {
        let message = "m".repeat(100_000);
        let (header, body) =
            header_and_body(ApiError::new("InvalidParameterException", message.clone()));
        assert_eq!(header.len(), MAX_HEADER_MESSAGE);
        assert_eq!(header, format!("{}...", "m".repeat(MAX_HEADER_MESSAGE - 3)));
        assert_eq!(body, message);
        // At the limit exactly, nothing is cut.
        let message = "n".repeat(MAX_HEADER_MESSAGE);
        let (header, _) =
            header_and_body(ApiError::new("InvalidParameterException", message.clone()));
        assert_eq!(header, message);
    }

    #[test]
    fn identifiers_in_not_found_messages_are_excerpts() {
        let id = "c".repeat(100_000);
        let error = tessera_idp::Error::client_not_found(&id);
        let (header, body) = header_and_body(error.into());
        let expected = format!(
            "User pool client {}... does not exist.",
            "c".repeat(tessera_core::EXCERPT_CHARS)
        );
        assert_eq!(
            (header.as_str(), body.as_str()),
            (expected.as_str(), expected.as_str())
        );
    }
}
