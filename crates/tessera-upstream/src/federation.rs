//! What federation asks of the network (`tessera_idp::federation::Upstream`): an OpenID
//! provider's discovery document and a SAML IdP's metadata, read when an administrator
//! configures the provider.

use serde::Deserialize;
use tessera_idp::federation::{OidcEndpoints, UpstreamError};

use crate::HttpUpstream;

/// The most bytes read of a discovery document or metadata: real ones are a few kilobytes,
/// metadata with many certificates tens of kilobytes.
const MAX_DOCUMENT: usize = 1024 * 1024;

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
}

impl HttpUpstream {
    /// GETs `url` and returns its body, refusing a non-2xx answer or a body over the limit.
    async fn get_document(&self, url: &str, accept: &str) -> Result<Vec<u8>, UpstreamError> {
        let mut response = self
            .http
            .get(url)
            .header("accept", accept)
            .send()
            .await
            .map_err(|error| {
                UpstreamError(format!("the request failed ({})", error_kind(&error)))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(UpstreamError(format!(
                "the answer was HTTP {}",
                status.as_u16()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|error| {
            UpstreamError(format!(
                "reading the answer failed ({})",
                error_kind(&error)
            ))
        })? {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(UpstreamError("the document is larger than 1 MiB".into()));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "transport error"
    }
}

#[async_trait::async_trait]
impl tessera_idp::federation::Upstream for HttpUpstream {
    async fn discover(&self, issuer: &str) -> Result<OidcEndpoints, UpstreamError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let body = self.get_document(&url, "application/json").await?;
        let discovery: Discovery = serde_json::from_slice(&body)
            .map_err(|_| UpstreamError("the discovery document is not valid".into()))?;
        // OpenID Connect Discovery §4.3: the issuer in the document must be the one asked for,
        // or ID tokens from another issuer would be accepted.
        if discovery.issuer != issuer {
            return Err(UpstreamError(format!(
                "the discovery document names the issuer {}",
                discovery.issuer.chars().take(200).collect::<String>()
            )));
        }
        Ok(OidcEndpoints {
            issuer: discovery.issuer,
            authorization_endpoint: discovery.authorization_endpoint,
            token_endpoint: discovery.token_endpoint,
            userinfo_endpoint: discovery.userinfo_endpoint,
            jwks_uri: discovery.jwks_uri,
        })
    }

    async fn saml_metadata(&self, url: &str) -> Result<String, UpstreamError> {
        let body = self
            .get_document(
                url,
                "application/samlmetadata+xml, application/xml, text/xml",
            )
            .await?;
        String::from_utf8(body).map_err(|_| UpstreamError("the metadata is not UTF-8".into()))
    }
}
