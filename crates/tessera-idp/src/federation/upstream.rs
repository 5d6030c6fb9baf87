//! What federation asks of the network, as a trait the HTTP-aware crates implement: an
//! OpenID provider's discovery document and a SAML IdP's metadata, fetched when a provider is
//! configured, and the redemption of an upstream authorization code at sign-in.

use serde_json::{Map, Value};

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

/// What an ID token from the upstream must be: from this issuer, signed by a key of its JWKS,
/// for the client, and carrying the nonce tessera sent.
#[derive(Debug, Clone, Copy)]
pub struct IdTokenCheck<'a> {
    pub issuer: &'a str,
    pub jwks_uri: &'a str,
    pub nonce: &'a str,
}

/// The redemption of an authorization code at an upstream provider's token endpoint.
#[derive(Clone, Copy)]
pub struct CodeExchange<'a> {
    pub token_url: &'a str,
    /// `GET` (Facebook's Graph API) or `POST`.
    pub token_method: &'a str,
    pub client_id: &'a str,
    /// Sent in the body (`client_secret_post`), as Cognito does.
    pub client_secret: Option<&'a str>,
    pub code: &'a str,
    pub code_verifier: &'a str,
    pub redirect_uri: &'a str,
    /// For OpenID providers, which must answer with an ID token; `None` for providers that
    /// send none (Facebook, Login with Amazon).
    pub id_token: Option<IdTokenCheck<'a>>,
    /// The userinfo (attributes) URL and its method (`GET` or `POST`), called with the
    /// access token.
    pub userinfo: Option<(&'a str, &'a str)>,
}

impl std::fmt::Debug for CodeExchange<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeExchange")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
pub trait Upstream: Send + Sync {
    /// Redeems the code and returns the user's claims: those of the verified ID token, with
    /// the userinfo answer's over them (its `sub` must be the ID token's).
    async fn redeem(
        &self,
        exchange: &CodeExchange<'_>,
    ) -> Result<Map<String, Value>, UpstreamError>;

    /// Reads `<issuer>/.well-known/openid-configuration` and checks that it names `issuer`.
    async fn discover(&self, issuer: &str) -> Result<OidcEndpoints, UpstreamError>;

    /// Fetches a SAML metadata document.
    async fn saml_metadata(&self, url: &str) -> Result<String, UpstreamError>;
}

/// No network: every call fails (unit tests, and a service built without an upstream).
pub struct NoUpstream;

#[async_trait::async_trait]
impl Upstream for NoUpstream {
    async fn redeem(
        &self,
        exchange: &CodeExchange<'_>,
    ) -> Result<Map<String, Value>, UpstreamError> {
        Err(UpstreamError(format!(
            "{}: this server makes no upstream calls",
            exchange.token_url
        )))
    }

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
