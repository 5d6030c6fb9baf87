//! What federation asks of the network (`tessera_idp::federation::Upstream`): an OpenID
//! provider's discovery document and a SAML IdP's metadata, read when an administrator
//! configures the provider, and at sign-in the redemption of the provider's code.
//!
//! The redemption sends the client secret in the body (`client_secret_post`: Cognito "doesn't
//! support client_secret_basic") with the PKCE verifier. The ID token is checked by
//! `tessera-verify` against the provider's JWKS (signature, RS256/ES256 only, `iss`, `exp`),
//! then here for `aud` and `nonce`. The userinfo answer must be about the same `sub`
//! (OpenID Connect Core §5.3.2). Neither the code, the tokens nor the secret is ever logged or
//! put in an error.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::{Map, Value};
use tessera_idp::federation::{CodeExchange, OidcEndpoints, UpstreamError};
use tessera_verify::{Issuer, TokenUse, Verifier};

use crate::HttpUpstream;

/// ID-token verifiers by (issuer, JWKS URL), kept so each provider's keys are fetched once
/// and then served from tessera-verify's cache.
#[derive(Default)]
pub struct IdTokenVerifiers {
    by_issuer: Mutex<HashMap<(String, String), Verifier>>,
}

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
        let response = self
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
        capped_body(response).await
    }
}

/// A response's body, refused past [`MAX_DOCUMENT`]: an upstream's answer is never read
/// into memory whole without a bound.
async fn capped_body(mut response: reqwest::Response) -> Result<Vec<u8>, UpstreamError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| {
        UpstreamError(format!(
            "reading the answer failed ({})",
            error_kind(&error)
        ))
    })? {
        if body.len() + chunk.len() > MAX_DOCUMENT {
            return Err(UpstreamError("the answer is larger than 1 MiB".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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

impl HttpUpstream {
    fn id_token_verifier(&self, issuer: &str, jwks_uri: &str) -> Result<Verifier, UpstreamError> {
        let key = (issuer.to_owned(), jwks_uri.to_owned());
        let mut verifiers = self
            .id_tokens
            .by_issuer
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(verifier) = verifiers.get(&key) {
            return Ok(verifier.clone());
        }
        let verifier = Verifier::builder()
            .issuer(Issuer::new(issuer, jwks_uri))
            .token_use(TokenUse::Unchecked)
            // The audience is compared below with the provider's client id.
            .any_client()
            .http_client(self.http.clone())
            .build()
            .map_err(|error| {
                UpstreamError(format!("the provider's keys cannot be used: {error}"))
            })?;
        verifiers.insert(key, verifier.clone());
        Ok(verifier)
    }

    /// The token endpoint's answer, or the provider's error in Cognito's form: the HTTP
    /// status, the OAuth error code and its description.
    async fn token_response(
        &self,
        exchange: &CodeExchange<'_>,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", exchange.code),
            ("redirect_uri", exchange.redirect_uri),
            ("client_id", exchange.client_id),
            ("code_verifier", exchange.code_verifier),
        ];
        if let Some(secret) = exchange.client_secret {
            form.push(("client_secret", secret));
        }
        let encoded = {
            let mut serializer = form_urlencoded::Serializer::new(String::new());
            for (name, value) in &form {
                serializer.append_pair(name, value);
            }
            serializer.finish()
        };
        let request = if exchange.token_method == "GET" {
            let separator = if exchange.token_url.contains('?') {
                '&'
            } else {
                '?'
            };
            self.http
                .get(format!("{}{separator}{encoded}", exchange.token_url))
        } else {
            self.http
                .post(exchange.token_url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encoded)
        };
        let response = request
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|error| {
                UpstreamError(format!("the token request failed ({})", error_kind(&error)))
            })?;
        let status = response.status();
        let body: Value = serde_json::from_slice(&capped_body(response).await?).map_err(|_| {
            UpstreamError(format!(
                "{} the token endpoint's answer is not JSON",
                status.as_u16()
            ))
        })?;
        if !status.is_success() {
            let field = |name: &str| {
                body.get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect::<String>()
            };
            return Err(UpstreamError(
                format!(
                    "{} {} {}",
                    status.as_u16(),
                    field("error"),
                    field("error_description")
                )
                .trim_end()
                .to_owned(),
            ));
        }
        match body {
            Value::Object(map) => Ok(map),
            _ => Err(UpstreamError(
                "the token endpoint's answer is not a JSON object".into(),
            )),
        }
    }

    async fn userinfo(
        &self,
        url: &str,
        method: &str,
        access_token: &str,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let request = if method == "POST" {
            self.http.post(url)
        } else {
            self.http.get(url)
        };
        let response = request
            .bearer_auth(access_token)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|error| {
                UpstreamError(format!(
                    "the userinfo request failed ({})",
                    error_kind(&error)
                ))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(UpstreamError(format!(
                "{} the userinfo request was refused",
                status.as_u16()
            )));
        }
        match serde_json::from_slice::<Value>(&capped_body(response).await?) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(UpstreamError(
                "the userinfo answer is not a JSON object".into(),
            )),
        }
    }
}

/// Whether `aud` (a string or an array) names `client_id`.
fn audience_has(claims: &Map<String, Value>, client_id: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(one)) => one == client_id,
        Some(Value::Array(many)) => many.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    }
}

#[async_trait::async_trait]
impl tessera_idp::federation::Upstream for HttpUpstream {
    async fn redeem(
        &self,
        exchange: &CodeExchange<'_>,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let tokens = self.token_response(exchange).await?;
        let access_token = tokens.get("access_token").and_then(Value::as_str);
        let mut claims = Map::new();
        if let Some(check) = exchange.id_token {
            let id_token = tokens
                .get("id_token")
                .and_then(Value::as_str)
                .ok_or_else(|| UpstreamError("the token endpoint sent no id_token".into()))?;
            let verified = self
                .id_token_verifier(check.issuer, check.jwks_uri)?
                .verify(id_token)
                .await
                .map_err(|error| UpstreamError(format!("the ID token was refused: {error}")))?;
            let verified = verified.as_map();
            if !audience_has(verified, exchange.client_id) {
                return Err(UpstreamError(
                    "the ID token was refused: it is not for this client (aud)".into(),
                ));
            }
            // The nonce proves the token answers this sign-in, not one replayed from another.
            if verified.get("nonce").and_then(Value::as_str) != Some(check.nonce) {
                return Err(UpstreamError(
                    "the ID token was refused: its nonce is not the one sent".into(),
                ));
            }
            claims = verified.clone();
        }
        if let (Some((url, method)), Some(access_token)) = (exchange.userinfo, access_token) {
            let info = self.userinfo(url, method, access_token).await?;
            if let (Some(expected), Some(found)) = (claims.get("sub"), info.get("sub")) {
                if expected != found {
                    return Err(UpstreamError(
                        "the userinfo answer is about another user (sub)".into(),
                    ));
                }
            }
            for (name, value) in info {
                claims.insert(name, value);
            }
        }
        if claims.is_empty() {
            return Err(UpstreamError(
                "the provider sent nothing about the user".into(),
            ));
        }
        Ok(claims)
    }

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
