//! What every hosted page shares: where it is served (path or domain form), its security
//! headers, the CSRF token and the sign-in session cookie, the pool's customization, and
//! rendering.

use askama::Template;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::AppState;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Marks a request that arrived on a pool's domain (the host middleware rewrote its path).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DomainForm;

/// How long a browser sign-in lasts: Cognito's fixed hour.
pub(crate) const SESSION_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

/// Where the pages of one request live.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    pub(crate) pool_id: String,
    /// The path prefix of the pages: `/<pool id>` in the path form, empty on a domain.
    pub(crate) base: String,
    /// Cookies are `Secure` with the `__Host-` prefix (an https public URL).
    secure: bool,
}

impl Site {
    pub(crate) fn new(state: &AppState, pool_id: &str, domain: Option<DomainForm>) -> Self {
        Self {
            pool_id: pool_id.to_owned(),
            base: if domain.is_some() {
                String::new()
            } else {
                format!("/{pool_id}")
            },
            secure: state.config.public_url.starts_with("https://"),
        }
    }

    /// A page's URL with the authorization query and the page's own parameters.
    pub(crate) fn link(&self, page: &str, query: &str, extra: &[(&str, &str)]) -> String {
        let mut url = format!("{}/{page}", self.base);
        let mut serializer = form_urlencoded::Serializer::new(query.to_owned());
        for (name, value) in extra {
            serializer.append_pair(name, value);
        }
        let full = serializer.finish();
        if !full.is_empty() {
            url.push('?');
            url.push_str(&full);
        }
        url
    }

    fn cookie_name(&self, name: &str) -> String {
        if self.secure {
            format!("__Host-{name}")
        } else {
            name.to_owned()
        }
    }

    fn attributes(&self) -> &'static str {
        if self.secure {
            "; Path=/; HttpOnly; Secure"
        } else {
            "; Path=/; HttpOnly"
        }
    }

    pub(crate) fn csrf_cookie_name(&self) -> String {
        self.cookie_name("tessera-csrf")
    }

    /// The cookie that binds a sign-in sent to an upstream identity provider to this
    /// browser (issue 15).
    pub(crate) fn federation_cookie_name(&self) -> String {
        self.cookie_name(&format!("tessera-federation-{}", self.pool_id))
    }

    /// `Set-Cookie` for a sign-in sent upstream: it lives as long as the sign-in may take.
    /// A SAML IdP comes back with a cross-site form POST, which only a `SameSite=None`
    /// cookie accompanies, and browsers take those only when `Secure`: over https the
    /// cookie is `None`; over plain http (a development server on loopback, where the IdP
    /// is usually same-site) it is `Lax`.
    pub(crate) fn federation_cookie(&self, value: &str) -> String {
        format!(
            "{}={value}{}; SameSite={}; Max-Age={}",
            self.federation_cookie_name(),
            self.attributes(),
            if self.secure { "None" } else { "Lax" },
            tessera_idp::federation::sign_in::UPSTREAM_LIFETIME.as_secs()
        )
    }

    pub(crate) fn session_cookie_name(&self) -> String {
        self.cookie_name(&format!("tessera-sso-{}", self.pool_id))
    }

    /// `Set-Cookie` for a new browser sign-in.
    pub(crate) fn session_cookie(&self, value: &str) -> String {
        format!(
            "{}={value}{}; SameSite=Lax; Max-Age={}",
            self.session_cookie_name(),
            self.attributes(),
            SESSION_LIFETIME.as_secs()
        )
    }

    /// The name of the remembered-browser cookie (issue 13).
    pub(crate) fn device_cookie_name(&self) -> String {
        self.cookie_name(&format!("tessera-device-{}", self.pool_id))
    }

    /// `Set-Cookie` for a remembered browser: a device password, kept a year (it is
    /// forgotten with ForgetDevice, on the server).
    pub(crate) fn device_cookie(&self, value: &str) -> String {
        format!(
            "{}={value}{}; SameSite=Lax; Max-Age={}",
            self.device_cookie_name(),
            self.attributes(),
            365 * 24 * 3600
        )
    }

    /// `Set-Cookie` that ends the browser sign-in.
    pub(crate) fn clear_session_cookie(&self) -> String {
        format!(
            "{}={}; SameSite=Lax; Max-Age=0",
            self.session_cookie_name(),
            self.attributes()
        )
    }

    fn csrf_cookie(&self, value: &str) -> String {
        format!(
            "{}={value}{}; SameSite=Strict",
            self.csrf_cookie_name(),
            self.attributes()
        )
    }
}

/// 32 random bytes in URL-safe base64 (43 characters): codes and cookie values.
pub(crate) fn random_token(state: &AppState) -> String {
    tessera_idp::sign_in::opaque(state, 32)
}

pub(crate) use tessera_idp::sign_in::sha256_hex;

/// The value of a cookie in the request.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// The CSRF protection of the pages' forms: a random cookie, and in each form an HMAC of it
/// under a key derived from the master key (so that every node agrees), bound to the pool.
pub(crate) struct Csrf {
    /// The cookie's value; new when the browser had none.
    cookie: String,
    fresh: bool,
    /// The form field's value.
    pub(crate) token: String,
}

fn csrf_mac(state: &AppState, pool_id: &str, cookie: &str) -> String {
    let tag = aws_lc_rs::hmac::sign(&state.csrf_key, format!("{pool_id}\n{cookie}").as_bytes());
    B64.encode(tag.as_ref())
}

impl Csrf {
    /// The browser's CSRF cookie, or a new one.
    pub(crate) fn of(state: &AppState, site: &Site, headers: &HeaderMap) -> Self {
        let (cookie, fresh) = match cookie(headers, &site.csrf_cookie_name()) {
            Some(value) if value.len() == 43 => (value, false),
            _ => (random_token(state), true),
        };
        let token = csrf_mac(state, &site.pool_id, &cookie);
        Self {
            cookie,
            fresh,
            token,
        }
    }

    /// Whether a form POST carries a valid token for the browser's cookie and comes from
    /// the page's own origin.
    pub(crate) fn check(
        state: &AppState,
        site: &Site,
        headers: &HeaderMap,
        field: Option<&str>,
    ) -> bool {
        if headers
            .get("sec-fetch-site")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == "cross-site")
        {
            return false;
        }
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            let host = headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let scheme = if site.secure { "https" } else { "http" };
            if origin != format!("{scheme}://{host}") {
                return false;
            }
        }
        let (Some(cookie), Some(field)) = (cookie(headers, &site.csrf_cookie_name()), field) else {
            return false;
        };
        let expected = csrf_mac(state, &site.pool_id, &cookie);
        expected.len() == field.len() && bool::from(expected.as_bytes().ct_eq(field.as_bytes()))
    }
}

/// The parts of the page frame that change per page.
#[derive(Debug, Default)]
pub(crate) struct Chrome {
    pub(crate) title: String,
    pub(crate) base: String,
    pub(crate) custom_css: Option<String>,
    pub(crate) logo: Option<String>,
    pub(crate) csrf: String,
    pub(crate) error: Option<String>,
    pub(crate) notice: Option<String>,
}

impl Chrome {
    /// The frame of a page of `client_id` (or of no client yet): its customization, or the
    /// pool's, and the CSRF token.
    pub(crate) async fn new(
        state: &AppState,
        site: &Site,
        client_id: Option<&str>,
        csrf: &Csrf,
        title: &str,
    ) -> Self {
        let mut chrome = Self {
            title: title.to_owned(),
            base: site.base.clone(),
            csrf: csrf.token.clone(),
            ..Self::default()
        };
        // A client's own customization replaces the pool's (Cognito does not merge them).
        let mut found = None;
        for owner in client_id.into_iter().chain(std::iter::once("ALL")) {
            match state.store.ui_customization(&site.pool_id, owner).await {
                Ok(Some(ui)) => {
                    found = Some(ui);
                    break;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "reading the UI customization");
                    break;
                }
            }
        }
        if let Some(ui) = found {
            if ui.css.is_some() {
                chrome.custom_css = Some(format!(
                    "{}/ui/{}/{}.css",
                    site.base, ui.client_id, ui.css_version
                ));
            }
            if ui.image.is_some() {
                chrome.logo = Some(format!("{}/ui/{}/logo", site.base, ui.client_id));
            }
        }
        chrome
    }
}

/// The origin (`scheme://host[:port]`) of a URL, or its scheme for an app's own scheme
/// (`myapp:`), for the form-action directive.
pub(crate) fn origin_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://").or_else(|| {
        let (scheme, _) = uri.split_once(':')?;
        Some((scheme, ""))
    })?;
    if !scheme
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return None;
    }
    if rest.is_empty() {
        return Some(format!("{scheme}:"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    // Only characters a host and port can have: the value goes into a header.
    if authority.is_empty()
        || !authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    {
        return None;
    }
    Some(format!("{scheme}://{authority}"))
}

/// Renders a page with the headers every hosted page carries. `callback` is the validated
/// redirect URI the page's form may end up at: Chromium applies `form-action` to the
/// redirect that follows a POST, so its origin must be allowed.
pub(crate) fn render(
    template: &impl Template,
    status: StatusCode,
    site: &Site,
    csrf: &Csrf,
    callback: Option<&str>,
) -> Response {
    let html = match template.render() {
        Ok(html) => html,
        Err(error) => {
            tracing::error!(%error, "rendering a hosted page");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "An internal error occurred.",
            )
                .into_response();
        }
    };
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    security_headers(headers, callback);
    if site.secure {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    if csrf.fresh {
        if let Ok(value) = HeaderValue::from_str(&site.csrf_cookie(&csrf.cookie)) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The headers of every page and every redirect of the hosted pages.
/// Lets a page's forms lead (through a redirect) to these URLs' origins too: CSP's
/// `form-action` holds for every redirect a form submission follows, so a form that sends
/// the browser to an identity provider must name the provider's origin.
pub(crate) fn allow_form_targets(headers: &mut HeaderMap, urls: &[String]) {
    let origins: Vec<String> = urls.iter().filter_map(|url| origin_of(url)).collect();
    if origins.is_empty() {
        return;
    }
    let Some(csp) = headers
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
    else {
        return;
    };
    // `form-action` is the last directive [`security_headers`] writes, so the origins are
    // appended to its sources.
    let widened = format!("{csp} {}", origins.join(" "));
    if csp.contains("; form-action ") && !csp.ends_with(';') {
        if let Ok(value) = HeaderValue::from_str(&widened) {
            headers.insert(header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

pub(crate) fn security_headers(headers: &mut HeaderMap, callback: Option<&str>) {
    let form_action = match callback.and_then(origin_of) {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action {form_action}"
    );
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // `same-origin`, not `no-referrer`: the callback (with its code) never learns the page's
    // URL either way, but under `no-referrer` Chromium sends `Origin: null` with the pages'
    // own form posts, which the origin check must then refuse.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
}

/// A redirect from the pages: 302 after a GET, 303 after a POST (RFC 9700 §4.12: never a
/// 307, which would repeat the credentials).
pub(crate) fn redirect(location: &str, after_post: bool, cookies: &[String]) -> Response {
    let status = if after_post {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::FOUND
    };
    let mut response = status.into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(value) => {
            headers.insert(header::LOCATION, value);
        }
        Err(_) => return (StatusCode::BAD_REQUEST, "Bad redirect.").into_response(),
    }
    security_headers(headers, None);
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(cookie) {
            headers.append(header::SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn origins_of_callbacks() {
        assert_eq!(
            origin_of("https://app.example.com:8443/cb?x=1").as_deref(),
            Some("https://app.example.com:8443")
        );
        assert_eq!(
            origin_of("myapp://callback").as_deref(),
            Some("myapp://callback")
        );
        assert_eq!(
            origin_of("com.example.app:/cb").as_deref(),
            Some("com.example.app:")
        );
        assert_eq!(origin_of("https://a b/").as_deref(), None);
        assert_eq!(origin_of("https://evil.com;script-src *").as_deref(), None);
    }
}
