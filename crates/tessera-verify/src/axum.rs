//! axum and tower integration: the [`Claims`] extractor, [`AuthLayer`], and the RFC 6750
//! answers to a refused token.
//!
//! Two ways to protect routes, which combine:
//!
//! - [`AuthLayer`] verifies every request of the routes it wraps (optionally requiring
//!   scopes or groups) and puts the [`Claims`] in the request extensions, so handlers take
//!   `claims: Claims`;
//! - the [`Claims`] extractor on its own, with the verifier added as an extension
//!   (`.layer(Extension(verifier))`): a handler that takes `Claims` is protected, one that
//!   takes `Option<Claims>` accepts anonymous requests but still refuses a bad token.
//!
//! Answers (RFC 6750 section 3):
//!
//! | case | status | `WWW-Authenticate` |
//! |---|---|---|
//! | no `Authorization: Bearer` header | 401 | `Bearer` |
//! | malformed `Authorization` header | 400 | `Bearer error="invalid_request", …` |
//! | token refused | 401 | `Bearer error="invalid_token", error_description="…"` |
//! | scope or group missing | 403 | `Bearer error="insufficient_scope", error_description="…"` |
//! | keys unreachable, revocation check failed | 503 | none |
//!
//! The body is `{"error": …, "error_description": …}` with the same values.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::axum::extract::{FromRequestParts, OptionalFromRequestParts};
use ::axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use ::axum::http::request::Parts;
use ::axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use ::axum::response::{IntoResponse, Response};
use ::axum::Json;
use tower::{Layer, Service};

use crate::config::Requirements;
use crate::error::{ErrorClass, VerifyError};
use crate::{Claims, Verifier};

/// Why a request was refused; answers with the status and `WWW-Authenticate` header
/// RFC 6750 prescribes. Handlers can return it too (`claims.require_scope("x")?` in a
/// handler returning `Result<_, AuthRejection>`).
#[derive(Debug)]
pub struct AuthRejection {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// No bearer token.
    Missing,
    /// An `Authorization` header that cannot be read.
    BadHeader,
    /// The verifier refused the token.
    Refused(VerifyError),
    /// Neither the layer nor an `Extension<Verifier>` is installed.
    NoVerifier,
}

impl AuthRejection {
    /// The verification error, when a token was refused.
    pub fn verify_error(&self) -> Option<&VerifyError> {
        match &self.kind {
            Kind::Refused(error) => Some(error),
            _ => None,
        }
    }

    /// The status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match &self.kind {
            Kind::Missing => StatusCode::UNAUTHORIZED,
            Kind::BadHeader => StatusCode::BAD_REQUEST,
            Kind::NoVerifier => StatusCode::INTERNAL_SERVER_ERROR,
            Kind::Refused(error) => match error.class() {
                ErrorClass::InsufficientScope => StatusCode::FORBIDDEN,
                ErrorClass::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::UNAUTHORIZED,
            },
        }
    }
}

impl From<VerifyError> for AuthRejection {
    fn from(error: VerifyError) -> Self {
        AuthRejection {
            kind: Kind::Refused(error),
        }
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Missing => f.write_str("no bearer token"),
            Kind::BadHeader => f.write_str("malformed Authorization header"),
            Kind::NoVerifier => f.write_str("no Verifier installed (AuthLayer or Extension)"),
            Kind::Refused(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for AuthRejection {}

/// Keeps only the characters RFC 6750 allows inside a quoted auth-param.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|&c| c == ' ' || c == '!' || (('#'..='~').contains(&c) && c != '\\'))
        .collect()
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let status = self.status();
        let (error, description, challenge) = match &self.kind {
            Kind::Missing => (
                "unauthorized",
                "A bearer token is required",
                Some("Bearer".to_owned()),
            ),
            Kind::BadHeader => {
                let description = "The Authorization header is malformed";
                (
                    "invalid_request",
                    description,
                    Some(format!(
                        "Bearer error=\"invalid_request\", error_description=\"{description}\""
                    )),
                )
            }
            Kind::NoVerifier => {
                tracing::error!(
                    "the Claims extractor found no Verifier: add AuthLayer or Extension(verifier)"
                );
                ("server_error", "Authentication is not configured", None)
            }
            Kind::Refused(verify_error) => {
                let description = verify_error.description();
                match verify_error.class() {
                    ErrorClass::InsufficientScope => {
                        tracing::debug!(error = %verify_error, "bearer token lacks a scope or group");
                        let scope = match verify_error {
                            VerifyError::MissingScope(scope) => {
                                format!(", scope=\"{}\"", quoted(scope))
                            }
                            _ => String::new(),
                        };
                        (
                            "insufficient_scope",
                            description,
                            Some(format!(
                                "Bearer error=\"insufficient_scope\", error_description=\"{description}\"{scope}"
                            )),
                        )
                    }
                    ErrorClass::Unavailable => {
                        tracing::warn!(error = %verify_error, "bearer token could not be verified");
                        ("temporarily_unavailable", description, None)
                    }
                    _ => {
                        tracing::debug!(error = %verify_error, "bearer token refused");
                        (
                            "invalid_token",
                            description,
                            Some(format!(
                                "Bearer error=\"invalid_token\", error_description=\"{description}\""
                            )),
                        )
                    }
                }
            }
        };
        let body = serde_json::json!({ "error": error, "error_description": description });
        let mut response = (status, Json(body)).into_response();
        if let Some(challenge) = challenge {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.headers_mut().insert(WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// The token of an `Authorization: Bearer <token>` header: `Ok(None)` when there is no
/// `Authorization` header or it names another scheme.
pub fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, AuthRejection> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bad = || AuthRejection {
        kind: Kind::BadHeader,
    };
    if values.next().is_some() {
        return Err(bad());
    }
    let value = value.to_str().map_err(|_| bad())?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim_matches(' ');
    if token.is_empty() || token.contains(' ') {
        return Err(bad());
    }
    Ok(Some(token))
}

async fn claims_from_parts(parts: &Parts) -> Result<Option<Claims>, AuthRejection> {
    if let Some(claims) = parts.extensions.get::<Claims>() {
        return Ok(Some(claims.clone()));
    }
    let Some(token) = bearer_token(&parts.headers)? else {
        return Ok(None);
    };
    let Some(verifier) = parts.extensions.get::<Verifier>() else {
        return Err(AuthRejection {
            kind: Kind::NoVerifier,
        });
    };
    verifier.verify(token).await.map(Some).map_err(Into::into)
}

/// Extracts the claims of a verified bearer token: those [`AuthLayer`] verified, or else
/// verifies the request's token with the `Verifier` found in the request extensions.
impl<S: Send + Sync> FromRequestParts<S> for Claims {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        claims_from_parts(parts).await?.ok_or(AuthRejection {
            kind: Kind::Missing,
        })
    }
}

/// `Option<Claims>`: `None` without a bearer token; a bad token is still refused.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Claims {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        claims_from_parts(parts).await
    }
}

/// A tower layer that refuses requests without a valid bearer token and hands the
/// [`Claims`] (and the [`Verifier`]) to the inner service in the request extensions.
///
/// ```no_run
/// # use axum::{routing::get, Router};
/// # use tessera_verify::{axum::AuthLayer, Claims, Verifier};
/// # fn app(verifier: Verifier) -> Router {
/// Router::new()
///     .route("/admin/stats", get(|claims: Claims| async move { format!("hi {:?}", claims.username()) }))
///     .layer(AuthLayer::new(verifier).require_any_group(["admin"]))
/// # }
/// ```
#[derive(Clone)]
pub struct AuthLayer {
    verifier: Verifier,
    requirements: Arc<Requirements>,
}

impl AuthLayer {
    /// Requires a token `verifier` accepts.
    pub fn new(verifier: Verifier) -> Self {
        AuthLayer {
            verifier,
            requirements: Arc::new(Requirements::default()),
        }
    }

    /// Also requires this scope (in addition to the verifier's own requirements).
    pub fn require_scope(mut self, scope: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.requirements)
            .scopes
            .push(scope.into());
        self
    }

    /// Also requires the user to be in at least one of these groups.
    pub fn require_any_group<I, T>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Arc::make_mut(&mut self.requirements)
            .any_group
            .extend(groups.into_iter().map(Into::into));
        self
    }

    async fn authenticate(&self, headers: &HeaderMap) -> Result<Claims, AuthRejection> {
        let token = bearer_token(headers)?.ok_or(AuthRejection {
            kind: Kind::Missing,
        })?;
        let claims = self.verifier.verify(token).await?;
        self.verifier
            .check_requirements(&claims, &self.requirements)?;
        Ok(claims)
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around a route.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S, B> Service<Request<B>> for AuthService<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        // The clone is not ready; take the ready one (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            match layer.authenticate(request.headers()).await {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    request.extensions_mut().insert(layer.verifier.clone());
                    inner.call(request).await.map(IntoResponse::into_response)
                }
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}
