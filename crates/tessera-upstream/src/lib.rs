//! What tessera asks of services upstream of it: an external STS's AssumeRoleWithWebIdentity, and OpenID Connect issuers' keys.
//!
//! [`HttpUpstream`] implements `tessera_identity::upstream::Upstream`, the trait through which
//! the identity service (which knows no HTTP) reaches the network:
//!
//! - [`sts`]: an unsigned `AssumeRoleWithWebIdentity` form POST to a configured STS endpoint
//!   (AWS, MinIO, moto), its XML answer read into credentials or a refusal;
//! - [`openid`]: ID tokens of the OpenID Connect providers the configuration declares,
//!   verified by `tessera-verify` (discovery, cached JWKS, RS256/ES256), one verifier per
//!   issuer.
//!
//! It also implements `tessera_idp::federation::Upstream` ([`federation`]): OpenID providers'
//! discovery documents and SAML IdPs' metadata.
//!
//! The web identity token and the credentials are secrets: nothing here logs them or puts
//! them in an error.

pub mod federation;
pub mod openid;
pub mod sts;

#[cfg(test)]
mod tests;

use std::time::Duration;

use serde_json::{Map, Value};
use tessera_identity::config::{ExternalStsConfig, OpenIdProviderConfig};
use tessera_identity::upstream::{StsCredentials, Upstream, UpstreamError};

/// How long one upstream request may take, connection included: GetCredentialsForIdentity
/// waits for it, and a client's SDK gives up on tessera not much later.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take, so an unreachable host fails well within the timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept per host: enough for bursts of sign-ins, bounded so that a server
/// talking to many issuers does not hold sockets open for each.
const IDLE_CONNECTIONS_PER_HOST: usize = 8;
/// How long an idle connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Why [`HttpUpstream`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(#[source] reqwest::Error),
}

/// The network client of the identity service: one connection pool for every STS endpoint
/// and OpenID issuer.
pub struct HttpUpstream {
    http: reqwest::Client,
    verifiers: openid::Verifiers,
    id_tokens: federation::IdTokenVerifiers,
}

impl HttpUpstream {
    /// Builds the client; nothing is fetched until the first call.
    pub fn new() -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_HOST)
            .pool_idle_timeout(IDLE_TIMEOUT)
            // A redirect would turn the STS's POST into a GET, and tessera-verify refuses keys
            // from anywhere but the configured or discovered URL: neither is followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::HttpClient)?;
        Ok(Self {
            verifiers: openid::Verifiers::new(http.clone()),
            id_tokens: federation::IdTokenVerifiers::default(),
            http,
        })
    }
}

#[async_trait::async_trait]
impl Upstream for HttpUpstream {
    async fn assume_role_with_web_identity(
        &self,
        sts: &ExternalStsConfig,
        role_arn: &str,
        session_name: &str,
        token: &str,
        duration_seconds: u64,
    ) -> Result<StsCredentials, UpstreamError> {
        sts::assume_role_with_web_identity(
            &self.http,
            &sts.endpoint,
            &sts::Request {
                role_arn,
                session_name,
                token,
                duration_seconds,
            },
        )
        .await
    }

    async fn verify_openid_token(
        &self,
        provider: &OpenIdProviderConfig,
        token: &str,
    ) -> Result<Map<String, Value>, UpstreamError> {
        self.verifiers.verify(provider, token).await
    }
}
