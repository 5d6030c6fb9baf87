//! Who is calling the token endpoint: `client_secret_basic` (the `Authorization: Basic`
//! header), `client_secret_post` (`client_id` and `client_secret` in the body), or a public
//! client naming itself with `client_id` alone (RFC 6749 §2.3.1).

use axum::http::{header, HeaderMap};
use base64::Engine;
use tessera_core::AppClient;

use super::error::OAuthError;
use super::form::Form;
use crate::AppState;

/// An authenticated (or, for a public client, identified) app client of the pool.
pub(crate) struct CallingClient {
    pub(crate) client: AppClient,
}

/// The `client_id:client_secret` pair of a Basic header. RFC 6749 §2.3.1 form-encodes both
/// before Base64 (openid-client does; most clients' ids and secrets have nothing to encode),
/// so both are form-decoded here.
pub(crate) fn basic_credentials(
    headers: &HeaderMap,
) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OAuthError::invalid_client("The Authorization header is malformed.", true);
    let value = value.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let form_decode = |text: &str| -> String {
        form_urlencoded::parse(format!("v={text}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((form_decode(id), form_decode(secret))))
}

/// Authenticates the caller of a request to `pool_id`'s token endpoint.
pub(crate) async fn authenticate(
    state: &AppState,
    pool_id: &str,
    headers: &HeaderMap,
    form: &Form,
) -> Result<CallingClient, OAuthError> {
    let basic = basic_credentials(headers)?;
    let used_basic = basic.is_some();
    let (client_id, secret) = match (&basic, form.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "The client authenticated with more than one method.",
            ))
        }
        (Some((id, secret)), None) => {
            if form.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_client(
                    "The client_id does not match the Authorization header.",
                    true,
                ));
            }
            (id.as_str(), Some(secret.as_str()))
        }
        (None, secret) => {
            let id = form
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_client("No client was given.", false))?;
            (id, secret)
        }
    };
    let unknown = || OAuthError::invalid_client("Client authentication failed.", used_basic);
    let client = state
        .store
        .app_client(client_id)
        .await?
        .filter(|client| client.user_pool_id == pool_id)
        .ok_or_else(unknown)?;
    match (&client.secret, secret) {
        // A public client identifies itself; there is nothing to check.
        (None, None) => {}
        // A confidential client must prove it holds its secret, and a public client must not
        // present one (it has none to present).
        (Some(_), Some(given)) if tessera_idp::sign_in::secret_matches(&client, given) => {}
        _ => return Err(unknown()),
    }
    Ok(CallingClient { client })
}
