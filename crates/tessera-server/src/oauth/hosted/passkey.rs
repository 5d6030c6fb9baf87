//! The hosted passkey pages (issue 13). They are the only pages with a script: the WebAuthn
//! call itself (`templates/passkey.js`), which cannot be made without one. It is inline and
//! allowed by its SHA-256 in the page's Content-Security-Policy, so no other script can
//! run; every other page keeps `default-src 'none'` without `script-src`.
//!
//! Registration follows a password sign-in in a pool that offers passkeys, for a user who
//! has none: the browser's sign-in session is started, and `{base}/passkeys/add` offers to
//! add one (or to go on without); either way the page ends at the client's callback with a
//! code, as the sign-in would have.

use std::sync::OnceLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;
use tessera_idp::directory::passkey::{begin_registration, finish_registration, passkeys_allowed};
use tessera_idp::directory::Directory;

use super::mfa::PasskeyPage;
use super::{live_session, or_error, Authorized, PageRequest, Submitted};
use crate::oauth::authorize::Authorization;
use crate::oauth::page::redirect;
use crate::ApiError;

/// The pages' one script.
pub(super) const SCRIPT: &str = include_str!("../../../templates/passkey.js");

/// `'sha256-…'` of [`SCRIPT`], for the Content-Security-Policy.
fn script_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        use base64::Engine;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, SCRIPT.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest.as_ref())
        )
    })
}

/// Allows the page's script, and only it, in the page's Content-Security-Policy.
pub(super) fn with_script(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if let Some(policy) = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
    {
        let policy = format!("script-src {}; {policy}", script_source());
        if let Ok(value) = HeaderValue::from_str(&policy) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
    response
}

/// Whether a user who just signed in with a password is offered a passkey.
pub(super) async fn offers(
    request: &PageRequest,
    directory: &Directory,
    key: &str,
) -> Result<bool, ApiError> {
    if !passkeys_allowed(directory) {
        return Ok(false);
    }
    Ok(request
        .state
        .store
        .passkeys(&directory.pool.id, key)
        .await?
        .is_empty())
}

/// The signed-in user of the browser's session, when it is live.
async fn signed_in_user(
    request: &PageRequest,
    auth: &Authorization,
) -> Result<Option<(String, tessera_core::User)>, ApiError> {
    let Some(session) = live_session(request, auth).await? else {
        return Ok(None);
    };
    // A passkey is added only right after a sign-in: an older browser session (a cookie
    // someone took, say) does not turn into a lasting credential.
    let age = request
        .state
        .clock
        .now()
        .duration_since(session.auth_time)
        .unwrap_or_default();
    if age > std::time::Duration::from_secs(300) {
        return Ok(None);
    }
    let user = request
        .state
        .store
        .user(&session.pool_id, &session.username_key)
        .await?;
    Ok(user.map(|user| (session.username_key, user)))
}

/// `GET /passkeys/add`: the offer to add a passkey (or, with `skip`, the way on).
pub(crate) async fn add(Authorized(request, auth): Authorized) -> Response {
    or_error(add_page(&request, &auth, None).await)
}

async fn add_page(
    request: &PageRequest,
    auth: &Authorization,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let Some((key, user)) = signed_in_user(request, auth).await? else {
        return Ok(redirect(&request.link(auth, "login", &[]), false, &[]));
    };
    if request.query.get("skip").is_some() {
        return request.signed_in(auth, &key, false).await;
    }
    let directory = Directory::load(&request.state, &auth.pool_id).await?;
    let options = match begin_registration(
        &request.state,
        &directory,
        &key,
        &user,
        &auth.client.client_id,
    )
    .await
    {
        Ok(options) => options,
        // A pool without a relying party, or a user with the most passkeys: go on.
        Err(error) => {
            tracing::info!(kind = error.kind, "no passkey offered: {}", error.message);
            return request.signed_in(auth, &key, false).await;
        }
    };
    let mut chrome = request
        .chrome(Some(&auth.client.client_id), "Add a passkey")
        .await;
    chrome.error = error;
    let page = PasskeyPage {
        page: chrome,
        action: request.link(auth, "passkeys/add", &[]),
        handle: String::new(),
        options: options.to_string(),
        ceremony: "create",
        prompt: "Sign in faster next time with a passkey on this device or a security key.",
        button: "Add a passkey",
        skip_link: Some(request.link(auth, "passkeys/add", &[("skip", "1")])),
        skip_text: "Not now",
        script: SCRIPT,
    };
    Ok(with_script(request.show(&page, StatusCode::OK, auth)))
}

/// `POST /passkeys/add`: the browser's registration response.
pub(crate) async fn add_submit(Submitted(request, auth, form): Submitted) -> Response {
    or_error(add_answer(&request, &auth, &form).await)
}

async fn add_answer(
    request: &PageRequest,
    auth: &Authorization,
    form: &super::Form,
) -> Result<Response, ApiError> {
    let Some((key, user)) = signed_in_user(request, auth).await? else {
        return Ok(redirect(&request.link(auth, "login", &[]), true, &[]));
    };
    let credential: Value = match form.get("credential").map(serde_json::from_str) {
        Some(Ok(value)) => value,
        _ => {
            return add_page(
                request,
                auth,
                Some("The passkey could not be read. Try again.".into()),
            )
            .await
        }
    };
    let directory = Directory::load(&request.state, &auth.pool_id).await?;
    match finish_registration(
        &request.state,
        &directory,
        &key,
        &user,
        &auth.client.client_id,
        &credential,
    )
    .await
    {
        Ok(()) => request.signed_in(auth, &key, false).await,
        Err(error)
            if error.kind.starts_with("WebAuthn") || error.kind == "InvalidParameterException" =>
        {
            add_page(
                request,
                auth,
                Some(
                    "The passkey was not added. Try again, or choose \u{201c}Not now\u{201d}."
                        .into(),
                ),
            )
            .await
        }
        Err(error) => Err(error.into()),
    }
}
