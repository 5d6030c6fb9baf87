//! Serving a pool's pages on its domain: a request whose `Host` is a pool's prefix domain
//! (`<prefix>.<hosted domain suffix>`) or custom domain has its path rewritten to the path
//! form (`/<pool id>/…`) before routing, and is marked so that the pages build their links
//! without the prefix. Only the hosted paths are rewritten; the API, health and well-known
//! documents stay where they are.

use axum::extract::{Request, State};
use axum::http::{header, Uri};
use axum::middleware::Next;
use axum::response::Response;

use super::page::DomainForm;
use crate::AppState;

/// The first path segments that a domain serves.
const HOSTED: &[&str] = &[
    "oauth2",
    "login",
    "logout",
    "signup",
    "confirm",
    "resendcode",
    "forgotPassword",
    "confirmForgotPassword",
    "newPassword",
    "mfa",
    "passkeys",
    "error",
    "ui",
];

fn host_name(request: &Request) -> Option<String> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().host())?;
    // Strip the port (an IPv6 literal keeps its brackets and is never a domain).
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(']') || port.is_empty() => name,
        _ => host,
    };
    Some(name.trim_end_matches('.').to_ascii_lowercase())
}

/// The pool a host name serves, if it is one of the pools' domains.
async fn pool_of_host(state: &AppState, host: &str) -> Option<String> {
    let suffix = format!(".{}", state.config.hosted_domain_suffix);
    let domain = match host.strip_suffix(&suffix) {
        Some(prefix) if !prefix.is_empty() && !prefix.contains('.') => prefix,
        _ => host,
    };
    match state.store.pool_of_domain(domain).await {
        Ok(pool) => pool,
        Err(error) => {
            tracing::error!(%error, "looking up the pool of a domain");
            None
        }
    }
}

pub(crate) async fn route_by_host(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let first = request
        .uri()
        .path()
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    if HOSTED.contains(&first) {
        // The public URL's own host serves the path form only: no lookup for it.
        let public_host = state
            .config
            .public_url
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', ':']).next().unwrap_or(""))
            .unwrap_or("")
            .to_ascii_lowercase();
        if let Some(host) = host_name(&request).filter(|host| *host != public_host) {
            if let Some(pool_id) = pool_of_host(&state, &host).await {
                let path_and_query = match request.uri().query() {
                    Some(query) => format!("/{pool_id}{}?{query}", request.uri().path()),
                    None => format!("/{pool_id}{}", request.uri().path()),
                };
                if let Ok(uri) = path_and_query.parse::<Uri>() {
                    *request.uri_mut() = uri;
                    request.extensions_mut().insert(DomainForm);
                }
            }
        }
    }
    next.run(request).await
}
