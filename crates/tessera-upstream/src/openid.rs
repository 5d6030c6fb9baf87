//! ID tokens of the external OpenID Connect providers an identity pool lists in
//! `OpenIdConnectProviderARNs`, verified by `tessera-verify`: the issuer's keys come from the
//! `jwks_uri` of its discovery document, are cached and refreshed, and only RS256/ES256
//! signatures are accepted.
//!
//! Refusals carry the text Cognito puts after `Invalid login token. `.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value};
use tessera_identity::config::OpenIdProviderConfig;
use tessera_identity::upstream::UpstreamError;
use tessera_verify::{Issuer, TokenUse, Verifier, VerifyError};

/// A verifier per provider, kept for the life of the process so that each issuer's keys are
/// fetched once and then served from its cache.
pub struct Verifiers {
    http: reqwest::Client,
    /// Keyed by issuer and accepted audiences: two ARNs may name one issuer with different
    /// client ids, and must not share a policy.
    by_issuer: Mutex<HashMap<(String, Vec<String>), Verifier>>,
}

impl Verifiers {
    pub fn new(http: reqwest::Client) -> Self {
        Self {
            http,
            by_issuer: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies an ID token of `provider` and returns its claims.
    pub async fn verify(
        &self,
        provider: &OpenIdProviderConfig,
        token: &str,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let verifier = self.verifier(provider)?;
        let claims = verifier.verify(token).await.map_err(|error| {
            // The error names the failed check with token-supplied strings clipped; never
            // the token.
            tracing::debug!(issuer = %provider.issuer, error = %error, "OpenID token refused");
            refusal(error)
        })?;
        check_audience(provider, claims.as_map())?;
        Ok(claims.as_map().clone())
    }

    fn verifier(&self, provider: &OpenIdProviderConfig) -> Result<Verifier, UpstreamError> {
        let key = (provider.issuer.clone(), provider.client_ids.clone());
        let mut verifiers = self.by_issuer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(verifier) = verifiers.get(&key) {
            return Ok(verifier.clone());
        }
        let verifier = Verifier::builder()
            .issuer(Issuer::discover(provider.issuer.clone()))
            // Tokens of other issuers carry no Cognito `token_use`.
            .token_use(TokenUse::Unchecked)
            // With `Unchecked`, tessera-verify would compare the client ids with a
            // `client_id` claim when the token has one; an identity pool accepts an ID token
            // by its `aud` alone, which `check_audience` compares.
            .any_client()
            .http_client(self.http.clone())
            .build()
            .map_err(|error| {
                UpstreamError::Unavailable(format!(
                    "the OpenID provider {} cannot be used: {error}",
                    provider.arn
                ))
            })?;
        verifiers.insert(key, verifier.clone());
        Ok(verifier)
    }
}

/// `aud` (a string or an array) must name one of the provider's client ids, when it lists any.
pub fn check_audience(
    provider: &OpenIdProviderConfig,
    claims: &Map<String, Value>,
) -> Result<(), UpstreamError> {
    if provider.client_ids.is_empty() {
        return Ok(());
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => {
            return Err(UpstreamError::InvalidToken(
                "Missing a required claim: aud".into(),
            ))
        }
    };
    if audiences
        .iter()
        .any(|aud| provider.client_ids.iter().any(|id| id == aud))
    {
        Ok(())
    } else {
        Err(UpstreamError::InvalidToken(
            "Incorrect token audience.".into(),
        ))
    }
}

/// A refusal in Cognito's words, or `Unavailable` when the token could not be checked at all.
pub fn refusal(error: VerifyError) -> UpstreamError {
    let message = match error {
        VerifyError::KeysUnavailable { .. } | VerifyError::RevocationCheckFailed(_) => {
            return UpstreamError::Unavailable(error.to_string())
        }
        VerifyError::Expired { exp, now } => format!("Token expired: {now} >= {exp}"),
        VerifyError::WrongIssuer(_) => "Issuer doesn't match providerName".into(),
        VerifyError::MissingClaim(claim) => format!("Missing a required claim: {claim}"),
        VerifyError::InvalidSignature
        | VerifyError::UnknownKid(_)
        | VerifyError::AlgorithmMismatch { .. } => "Couldn't verify signed token.".into(),
        _ => "Not a valid OpenId Connect identity token.".into(),
    };
    UpstreamError::InvalidToken(message)
}
