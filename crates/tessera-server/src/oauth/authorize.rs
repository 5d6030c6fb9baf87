//! The authorization request (`/oauth2/authorize` and the hosted pages that carry its
//! query): its validation in RFC 6749's order, which decides whether an error may be
//! redirected to the client, and the code that a successful sign-in hands back.

use std::time::Duration;

use axum::http::StatusCode;
use tessera_core::AppClient;
use tessera_store::AuthorizationCode;

use super::token::flow_allowed;
use crate::AppState;
use tessera_idp::pool::app_client::strings;

/// How long a code may wait for its redemption (Cognito: five minutes).
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(300);

/// The parameters of an authorization request that the hosted pages carry from page to page,
/// in this order. Anything else in a query (a page's own `username`, `notice`) is not part
/// of the request.
const AUTHORIZE_PARAMETERS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "identity_provider",
    "idp_identifier",
    "prompt",
    "max_age",
    "lang",
    "login_hint",
];

/// The most query parameters read from a page or authorization request.
const MAX_PARAMETERS: usize = 64;

/// The scopes that stand for the user rather than a resource server.
const USER_SCOPES: &[&str] = &[
    "openid",
    "email",
    "phone",
    "profile",
    "aws.cognito.signin.user.admin",
];

/// A query string, read strictly: a repeated parameter is remembered so that the request
/// can be refused (RFC 6749 §3.1), and empty values count as absent.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        // An authorization request has a dozen parameters; a query of thousands is not one,
        // and is cut short rather than read whole.
        let pairs = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .take(MAX_PARAMETERS)
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Self { pairs }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn repeated(&self) -> Option<&str> {
        let mut seen = std::collections::HashSet::with_capacity(self.pairs.len());
        self.pairs
            .iter()
            .find(|(k, _)| !seen.insert(k.as_str()))
            .map(|(k, _)| k.as_str())
    }

    /// The authorization request's own parameters, re-encoded for links and form actions.
    pub(crate) fn authorize_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for name in AUTHORIZE_PARAMETERS {
            if let Some(value) = self.get(name) {
                out.append_pair(name, value);
            }
        }
        out.finish()
    }
}

/// A valid authorization request.
#[derive(Debug, Clone)]
pub(crate) struct Authorization {
    pub(crate) pool_id: String,
    pub(crate) client: AppClient,
    pub(crate) redirect_uri: String,
    pub(crate) state: Option<String>,
    /// The granted scopes, space-separated.
    pub(crate) scope: String,
    pub(crate) nonce: Option<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) prompt: Option<String>,
    /// OIDC `max_age`: a sign-in session older than this many seconds does not count.
    pub(crate) max_age: Option<u64>,
    /// The request's parameters, for the pages' links and forms.
    pub(crate) query: String,
    /// The upstream identity provider the request names (`identity_provider`, or the one
    /// `idp_identifier` routes to): the browser goes there instead of to the sign-in page.
    pub(crate) identity_provider: Option<String>,
    /// Whether the client signs users in with the pool's own users (`COGNITO`).
    pub(crate) cognito: bool,
    /// The client's upstream identity providers, for the sign-in page's buttons.
    pub(crate) providers: Vec<String>,
}

/// Why an authorization request cannot go on.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The client or its redirect URI cannot be trusted: an error page, never a redirect
    /// (RFC 6749 §4.1.2.1), with the status and what to tell the user.
    Page(StatusCode, String),
    /// An error the client is told at its callback.
    Redirect(String),
}

/// Appends parameters to a redirect URI, keeping its own query.
pub(crate) fn with_parameters(uri: &str, parameters: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in parameters {
        out.append_pair(name, value);
    }
    let separator = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{separator}{}", out.finish())
}

/// The callback URL of an authorization error: `error`, `error_description`, `state` and
/// the issuer (RFC 9207, which openid-client checks before it looks at the error).
pub(crate) fn error_redirect(
    state: &AppState,
    pool_id: &str,
    redirect_uri: &str,
    client_state: Option<&str>,
    error: &str,
    description: &str,
) -> String {
    let issuer = state.issuer(pool_id);
    let mut parameters = vec![("error", error), ("error_description", description)];
    if let Some(client_state) = client_state {
        parameters.push(("state", client_state));
    }
    parameters.push(("iss", &issuer));
    with_parameters(redirect_uri, &parameters)
}

fn is_base64url(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Validates an authorization request for `pool_id`, in RFC 6749's order: first what
/// decides whether the client may be redirected to at all, then everything else.
pub(crate) async fn validate(
    state: &AppState,
    pool_id: &str,
    query: &Query,
) -> Result<Authorization, Refusal> {
    let page = |message: &str| Refusal::Page(StatusCode::BAD_REQUEST, message.to_owned());
    let client_id = query
        .get("client_id")
        .ok_or_else(|| page("The request names no client (client_id is missing)."))?;
    let client = state
        .store
        .app_client(client_id)
        .await
        .map_err(|error| {
            tracing::error!(%error, "reading the client of an authorization request");
            Refusal::Page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "An internal error occurred.".into(),
            )
        })?
        .filter(|client| client.user_pool_id == pool_id)
        .ok_or_else(|| page("The client of this request does not exist."))?;
    let redirect_uri = query
        .get("redirect_uri")
        .ok_or_else(|| page("The request has no redirect_uri."))?;
    // Exact string comparison: no normalisation, prefixes or wildcards (RFC 9700 §2.1).
    if !strings(&client.settings, "CallbackURLs").contains(&redirect_uri) {
        return Err(page(
            "The redirect_uri is not registered for this client (redirect_mismatch).",
        ));
    }
    let client_state = query.get("state");
    let redirect = |error: &str, description: &str| {
        Refusal::Redirect(error_redirect(
            state,
            pool_id,
            redirect_uri,
            client_state,
            error,
            description,
        ))
    };
    if let Some(name) = query.repeated() {
        return Err(redirect(
            "invalid_request",
            &format!(
                "The parameter {} appears more than once.",
                tessera_core::excerpt(name)
            ),
        ));
    }
    match query.get("response_type") {
        None => return Err(redirect("invalid_request", "response_type is missing.")),
        Some("code") => {}
        Some(_) => {
            return Err(redirect(
                "unsupported_response_type",
                "Only response_type=code is supported.",
            ))
        }
    }
    if !flow_allowed(&client, "code") {
        return Err(redirect(
            "unauthorized_client",
            "The client is not allowed the authorization code flow.",
        ));
    }
    let supported = strings(&client.settings, "SupportedIdentityProviders");
    let cognito = supported.contains(&"COGNITO");
    let providers: Vec<String> = supported
        .iter()
        .filter(|p| **p != "COGNITO")
        .map(|p| (*p).to_owned())
        .collect();
    let unsupported = || {
        redirect(
            "invalid_request",
            "The identity provider is not supported by this client.",
        )
    };
    let identity_provider = match (query.get("identity_provider"), query.get("idp_identifier")) {
        (Some("COGNITO"), _) if cognito => None,
        (Some(name), _) => {
            if !providers.iter().any(|p| p == name) {
                return Err(unsupported());
            }
            Some(name.to_owned())
        }
        (None, Some(identifier)) => {
            let provider = state
                .store
                .identity_provider_by_identifier(pool_id, identifier)
                .await
                .map_err(|error| {
                    tracing::error!(%error, "reading an identity provider by identifier");
                    redirect("server_error", "An internal error occurred.")
                })?
                .filter(|p| providers.contains(&p.name))
                .ok_or_else(unsupported)?;
            Some(provider.name)
        }
        (None, None) => None,
    };
    if identity_provider.is_none() && !cognito && providers.is_empty() {
        return Err(redirect(
            "unauthorized_client",
            "The client does not sign users in with the user pool.",
        ));
    }
    let code_challenge = match (
        query.get("code_challenge"),
        query.get("code_challenge_method"),
    ) {
        (None, None) => None,
        (Some(challenge), Some("S256")) => {
            // BASE64URL(SHA-256(verifier)) is always 43 characters (RFC 7636 §4.2).
            if challenge.len() != 43 || !is_base64url(challenge) {
                return Err(redirect(
                    "invalid_request",
                    "code_challenge must be the 43-character S256 challenge.",
                ));
            }
            Some(challenge.to_owned())
        }
        (_, Some("S256")) => return Err(redirect("invalid_request", "code_challenge is missing.")),
        (_, Some(_)) => {
            return Err(redirect(
                "invalid_request",
                "Only code_challenge_method=S256 is supported.",
            ))
        }
        (Some(_), None) => {
            return Err(redirect(
                "invalid_request",
                "code_challenge_method is missing.",
            ))
        }
    };
    // A client without a secret cannot authenticate at the token endpoint, so only PKCE
    // binds its code to it (RFC 9700 §2.1.1).
    if client.secret.is_none() && code_challenge.is_none() {
        return Err(redirect(
            "invalid_request",
            "PKCE (code_challenge with S256) is required for this client.",
        ));
    }
    let allowed = strings(&client.settings, "AllowedOAuthScopes");
    let scope = match query.get("scope") {
        // Every scope the client is allowed, less custom scopes whose resource server no
        // longer has them (a client keeps such scopes; only one asked for is an error).
        None => {
            let custom: Vec<&str> = allowed
                .iter()
                .copied()
                .filter(|s| !USER_SCOPES.contains(s))
                .collect();
            let existing = tessera_idp::oauth_config::resource_server::existing_custom_scopes(
                state, pool_id, &custom,
            )
            .await
            .map_err(|error| {
                tracing::error!(error = %error.message, "checking custom scopes");
                redirect("server_error", "An internal error occurred.")
            })?;
            allowed
                .iter()
                .copied()
                .filter(|s| USER_SCOPES.contains(s) || existing.contains(s))
                .collect::<Vec<_>>()
                .join(" ")
        }
        Some(requested) => {
            let mut granted: Vec<&str> = Vec::new();
            for scope in requested.split(' ').filter(|s| !s.is_empty()) {
                if !allowed.contains(&scope) {
                    return Err(redirect(
                        "invalid_scope",
                        &format!(
                            "The scope {} is not allowed for this client.",
                            tessera_core::excerpt(scope)
                        ),
                    ));
                }
                if !granted.contains(&scope) {
                    granted.push(scope);
                }
            }
            granted.join(" ")
        }
    };
    let scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if scopes.is_empty() {
        return Err(redirect(
            "invalid_scope",
            "No scope is allowed for this client.",
        ));
    }
    if scopes
        .iter()
        .any(|s| matches!(*s, "email" | "phone" | "profile"))
        && !scopes.contains(&"openid")
    {
        return Err(redirect(
            "invalid_scope",
            "The email, phone and profile scopes need the openid scope.",
        ));
    }
    // Custom scopes are granted only while their resource server still has them.
    let custom: Vec<&str> = scopes
        .iter()
        .copied()
        .filter(|s| !USER_SCOPES.contains(s))
        .collect();
    if !custom.is_empty() {
        let missing = tessera_idp::oauth_config::resource_server::unknown_custom_scope(
            state, pool_id, custom,
        )
        .await
        .map_err(|error| {
            tracing::error!(error = %error.message, "checking custom scopes");
            redirect("server_error", "An internal error occurred.")
        })?;
        if let Some(scope) = missing {
            return Err(redirect(
                "invalid_scope",
                &format!("The scope {} does not exist.", tessera_core::excerpt(scope)),
            ));
        }
    }
    let prompt = query.get("prompt").map(String::from);
    if let Some(prompt) = &prompt {
        for value in prompt.split(' ') {
            if !matches!(value, "none" | "login" | "consent" | "select_account") {
                return Err(redirect(
                    "invalid_request",
                    &format!(
                        "The prompt value {} is not supported.",
                        tessera_core::excerpt(value)
                    ),
                ));
            }
        }
    }
    let max_age = match query.get("max_age") {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(seconds) => Some(seconds),
            Err(_) => {
                return Err(redirect(
                    "invalid_request",
                    "max_age must be a number of seconds.",
                ))
            }
        },
    };
    Ok(Authorization {
        max_age,
        pool_id: pool_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        state: client_state.map(String::from),
        scope,
        nonce: query.get("nonce").map(String::from),
        code_challenge,
        prompt,
        query: query.authorize_query(),
        client,
        identity_provider,
        cognito,
        providers,
    })
}

impl Authorization {
    /// True when the request forbids any page (`prompt=none`).
    pub(crate) fn silent(&self) -> bool {
        self.prompt
            .as_deref()
            .is_some_and(|p| p.split(' ').any(|v| v == "none"))
    }

    /// True when the request wants the user to sign in again despite a session.
    pub(crate) fn forces_login(&self) -> bool {
        self.prompt
            .as_deref()
            .is_some_and(|p| p.split(' ').any(|v| v != "none"))
    }

    /// An error at the client's callback.
    pub(crate) fn error(&self, state: &AppState, error: &str, description: &str) -> String {
        error_redirect(
            state,
            &self.pool_id,
            &self.redirect_uri,
            self.state.as_deref(),
            error,
            description,
        )
    }

    /// Issues a code for the signed-in user and returns the callback URL that carries it.
    pub(crate) async fn issue_code(
        &self,
        state: &AppState,
        username_key: &str,
        auth_time: std::time::SystemTime,
    ) -> Result<String, tessera_store::StoreError> {
        let code = super::page::random_token(state);
        let now = state.clock.now();
        state
            .store
            .insert_authorization_code(&AuthorizationCode {
                code_hash: super::page::sha256_hex(&code),
                pool_id: self.pool_id.clone(),
                client_id: self.client.client_id.clone(),
                redirect_uri: self.redirect_uri.clone(),
                scope: self.scope.clone(),
                nonce: self.nonce.clone(),
                code_challenge: self.code_challenge.clone(),
                username_key: username_key.to_owned(),
                auth_time,
                created_at: now,
                expires_at: now + CODE_LIFETIME,
                consumed_at: None,
                origin_jti: None,
            })
            .await?;
        let issuer = state.issuer(&self.pool_id);
        let mut parameters = vec![("code", code.as_str())];
        if let Some(client_state) = &self.state {
            parameters.push(("state", client_state));
        }
        parameters.push(("iss", &issuer));
        Ok(with_parameters(&self.redirect_uri, &parameters))
    }
}
