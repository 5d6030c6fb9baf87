//! What federation asks of the network, as a trait the HTTP-aware crates implement: an
//! OpenID provider's discovery document and a SAML IdP's metadata, fetched when a provider is
//! configured.

/// The endpoints of an OpenID provider, discovered or configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcEndpoints {
    /// The issuer as the discovery document states it (it must equal the configured one).
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    /// The userinfo endpoint, when the provider has one.
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
}

/// Why an upstream call failed. The message names the URL and what went wrong, for the
/// administrator who configured it; it never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UpstreamError(pub String);

#[async_trait::async_trait]
pub trait Upstream: Send + Sync {
    /// Reads `<issuer>/.well-known/openid-configuration` and checks that it names `issuer`.
    async fn discover(&self, issuer: &str) -> Result<OidcEndpoints, UpstreamError>;

    /// Fetches a SAML metadata document.
    async fn saml_metadata(&self, url: &str) -> Result<String, UpstreamError>;
}

/// No network: every call fails (unit tests, and a service built without an upstream).
pub struct NoUpstream;

#[async_trait::async_trait]
impl Upstream for NoUpstream {
    async fn discover(&self, issuer: &str) -> Result<OidcEndpoints, UpstreamError> {
        Err(UpstreamError(format!(
            "{issuer}: this server makes no upstream calls"
        )))
    }

    async fn saml_metadata(&self, url: &str) -> Result<String, UpstreamError> {
        Err(UpstreamError(format!(
            "{url}: this server makes no upstream calls"
        )))
    }
}
