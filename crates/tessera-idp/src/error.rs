//! The one error type of the service: a refusal named as Cognito names it, or an internal
//! failure whose detail is logged where it happens and never shown to a client.

use tessera_proto::validate::ValidationError;
use tessera_store::StoreError;

/// The exception name of an internal failure.
pub const INTERNAL: &str = "InternalErrorException";

/// A failed operation, in Cognito's terms: the exception name (`__type`) and its message.
/// The HTTP edge renders it; the service never decides a status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct Error {
    /// The exception name sent as `__type`, e.g. `ResourceNotFoundException`.
    pub kind: &'static str,
    /// The human-readable message.
    pub message: String,
}

impl Error {
    /// A refusal of the given kind.
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// `InvalidParameterException`.
    pub fn invalid_parameter(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterException", message)
    }

    /// `ResourceNotFoundException`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new("ResourceNotFoundException", message)
    }

    /// `NotAuthorizedException` for a disabled user, whatever the operation.
    pub fn user_disabled() -> Self {
        Self::new("NotAuthorizedException", "User is disabled.")
    }

    /// `NotAuthorizedException` for a wrong password or SRP proof, and wherever an unknown
    /// user must look like one.
    pub fn wrong_credentials() -> Self {
        Self::new("NotAuthorizedException", "Incorrect username or password.")
    }

    /// `ResourceNotFoundException` for a pool.
    pub fn pool_not_found(pool_id: &str) -> Self {
        Self::not_found(format!(
            "User pool {} does not exist.",
            tessera_core::excerpt(pool_id)
        ))
    }

    /// `ResourceNotFoundException` for an app client.
    pub fn client_not_found(client_id: &str) -> Self {
        Self::not_found(format!(
            "User pool client {} does not exist.",
            tessera_core::excerpt(client_id)
        ))
    }

    /// `InternalErrorException`; `detail` is logged here, not sent.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(INTERNAL, "Internal server error.")
    }

    /// Whether this is a failure of tessera rather than a refusal of the request.
    pub fn is_internal(&self) -> bool {
        self.kind == INTERNAL
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        Error::internal(&error)
    }
}

impl From<tessera_core::CoreError> for Error {
    fn from(error: tessera_core::CoreError) -> Self {
        Error::internal(&error)
    }
}

impl From<ValidationError> for Error {
    fn from(error: ValidationError) -> Self {
        match error {
            ValidationError::Serialization(message) => {
                Error::new("SerializationException", message)
            }
            ValidationError::InvalidParameter(message) => Error::invalid_parameter(message),
        }
    }
}
