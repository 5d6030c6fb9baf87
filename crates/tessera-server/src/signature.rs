//! Admin authentication: operations AWS authorises with IAM need a valid SigV4 signature
//! from an access key tessera knows.

use tessera_sigv4::SigV4Error;

use crate::{ApiError, AppState};

/// The SigV4 credential-scope service name of the user-pool API.
const SERVICE: &str = "cognito-idp";

pub(crate) async fn authenticate(
    state: &AppState,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<(), ApiError> {
    let authorization = tessera_sigv4::parse_authorization(&parts.headers)
        .map_err(sigv4_error)?
        .ok_or_else(|| {
            ApiError::new(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
            )
        })?;

    if authorization.service != SERVICE {
        return Err(ApiError::new(
            "InvalidSignatureException",
            format!("Credential should be scoped to correct service: '{SERVICE}'."),
        ));
    }
    if authorization.region != state.config.region {
        return Err(ApiError::new(
            "InvalidSignatureException",
            format!(
                "Credential should be scoped to a valid region, not '{}'.",
                authorization.region
            ),
        ));
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
    tessera_sigv4::verify(&request, &authorization, &secret, state.clock.now()).map_err(sigv4_error)
}

async fn secret_of(state: &AppState, access_key_id: &str) -> Result<Option<String>, ApiError> {
    if let Some(secret) = state
        .access_keys
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(access_key_id)
    {
        return Ok(Some(secret.clone()));
    }
    let Some(key) = state.store.access_key(access_key_id).await? else {
        return Ok(None);
    };
    state
        .access_keys
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key.id.clone(), key.secret.clone());
    Ok(Some(key.secret))
}

fn sigv4_error(error: SigV4Error) -> ApiError {
    ApiError::new(error.aws_error_type(), error.to_string())
}
