//! What the identity service asks of the network, as a trait the HTTP-aware crates implement:
//! an external STS's AssumeRoleWithWebIdentity, and the verification of a token from an
//! external OpenID Connect issuer (whose keys must be fetched and cached).

use serde_json::{Map, Value};

use crate::config::{ExternalStsConfig, OpenIdProviderConfig};

/// Credentials an STS answered with.
#[derive(Clone, PartialEq, Eq)]
pub struct StsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// Epoch seconds.
    pub expiration: u64,
}

impl std::fmt::Debug for StsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// Why an upstream call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamError {
    /// The upstream answered with a refusal (its code and message).
    Refused { code: String, message: String },
    /// It could not be reached or answered nonsense; the detail is for the log.
    Unavailable(String),
    /// The token is not valid (signature, issuer, audience, expiry); the message is shown.
    InvalidToken(String),
}

/// The calls to the network the identity service makes.
#[async_trait::async_trait]
pub trait Upstream: Send + Sync {
    /// AssumeRoleWithWebIdentity on an external STS.
    async fn assume_role_with_web_identity(
        &self,
        sts: &ExternalStsConfig,
        role_arn: &str,
        session_name: &str,
        token: &str,
        duration_seconds: u64,
    ) -> Result<StsCredentials, UpstreamError>;

    /// Verifies an ID token of an external OpenID Connect provider and returns its claims.
    async fn verify_openid_token(
        &self,
        provider: &OpenIdProviderConfig,
        token: &str,
    ) -> Result<Map<String, Value>, UpstreamError>;
}

/// No network: every upstream call fails as unavailable (tests, and servers that configure
/// no external STS or OpenID provider).
pub struct NoUpstream;

#[async_trait::async_trait]
impl Upstream for NoUpstream {
    async fn assume_role_with_web_identity(
        &self,
        sts: &ExternalStsConfig,
        _: &str,
        _: &str,
        _: &str,
        _: u64,
    ) -> Result<StsCredentials, UpstreamError> {
        Err(UpstreamError::Unavailable(format!(
            "no client for the external STS {}",
            sts.name
        )))
    }

    async fn verify_openid_token(
        &self,
        provider: &OpenIdProviderConfig,
        _: &str,
    ) -> Result<Map<String, Value>, UpstreamError> {
        Err(UpstreamError::Unavailable(format!(
            "no client for the OpenID provider {}",
            provider.issuer
        )))
    }
}
