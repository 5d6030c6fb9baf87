//! Admin authentication: operations AWS authorises with IAM need a valid SigV4 signature
//! from an access key tessera knows.

use std::time::Duration;

use tessera_sigv4::SigV4Error;

use crate::{ApiError, AppState};

/// The SigV4 credential-scope service name of the user-pool API.
pub(crate) const SERVICE: &str = "cognito-idp";
/// The SigV4 credential-scope service name of the identity-pool API.
pub(crate) const IDENTITY_SERVICE: &str = "cognito-identity";

/// What a signature must cover besides what SigV4 itself demands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Covers {
    /// An API call: the `X-Amz-Target` header that names the operation.
    Operation,
    /// A plain administrator request (the outbox), named by its path alone.
    Path,
}

/// Checks a request's SigV4 signature and returns the region it was signed for.
pub(crate) async fn authenticate(
    state: &AppState,
    parts: &http::request::Parts,
    body: &[u8],
    covers: Covers,
) -> Result<String, ApiError> {
    authenticate_for(state, parts, body, covers, SERVICE).await
}

/// [`authenticate`] for the API whose credential-scope service name is `service`.
pub(crate) async fn authenticate_for(
    state: &AppState,
    parts: &http::request::Parts,
    body: &[u8],
    covers: Covers,
    service: &str,
) -> Result<String, ApiError> {
    let authorization = tessera_sigv4::parse_authorization(&parts.headers)
        .map_err(sigv4_error)?
        .ok_or_else(|| {
            ApiError::new(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            )
        })?;

    // The operation is named by a header, so a signature that leaves it out could be replayed
    // as any other operation (a ListUserPools captured in a log becomes an AdminDeleteUser).
    // Every AWS SDK signs it; tessera refuses a signature without it.
    if covers == Covers::Operation
        && !authorization
            .signed_headers
            .iter()
            .any(|name| name == "x-amz-target")
    {
        return Err(ApiError::new(
            "IncompleteSignatureException",
            "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    if authorization.service != service {
        return Err(ApiError::new(
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{service}'."),
        ));
    }
    if !state.config.regions.serves(&authorization.region) {
        return Err(ApiError::new(
            "InvalidSignatureException",
            format!(
                "Credential should be scoped to a valid region, not '{}'.",
                tessera_core::excerpt(&authorization.region)
            ),
        ));
    }

    // Test mode accepts any credentials, as cognito-local and moto do: the request must still
    // be shaped like a signed one (above), but no key is looked up and nothing is verified.
    if state.test_mode.is_some() {
        return Ok(authorization.region);
    }
    let secret = secret_of(state, &authorization.access_key_id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        })?;
    let request = tessera_sigv4::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body,
    };
    tessera_sigv4::verify(&request, &authorization, &secret, state.clock.now())
        .map_err(sigv4_error)?;
    Ok(authorization.region)
}

/// How long an opened access-key secret is trusted from memory: a key deleted on any node
/// stops working everywhere within this time, and a signed request costs no database read
/// and no unsealing the rest of the time.
pub(crate) const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

async fn secret_of(state: &AppState, access_key_id: &str) -> Result<Option<String>, ApiError> {
    let now = state.clock.now();
    if let Some((secret, fetched_at)) = state
        .access_keys
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(access_key_id)
    {
        let age = now.duration_since(*fetched_at).unwrap_or_default();
        if age < KEY_CACHE_TTL {
            return Ok(Some(secret.clone()));
        }
    }
    let Some(key) = state.store.access_key(access_key_id).await? else {
        state
            .access_keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(access_key_id);
        return Ok(None);
    };
    state
        .access_keys
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key.id.clone(), (key.secret.clone(), now));
    Ok(Some(key.secret))
}

fn sigv4_error(error: SigV4Error) -> ApiError {
    ApiError::new(error.aws_error_type(), error.to_string())
}
