//! The hosted pages and the authorization endpoint: sign in, sign up, confirm, forgot and
//! reset password, new password, logout and the error page. Each page runs the same API
//! operation a client would (through the model), so the pages follow the API's rules.
//!
//! Every POST re-validates the authorization request from the query it carries; nothing in
//! a hidden field decides where the browser goes.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tessera_core::{AppClient, AttributeSchema, PasswordPolicy, UserStatus};
use tessera_store::LoginSession;

use super::authorize::{validate, Authorization, Query, Refusal};
use super::form::Form;
use super::page::{
    cookie, random_token, redirect, render, sha256_hex, Chrome, Csrf, DomainForm, Site,
    SESSION_LIFETIME,
};
use crate::protocol::RequestId;
use crate::{ApiError, AppState};
use tessera_core::rate_limit::Category;
use tessera_idp::directory::{secret_hash, Directory};
use tessera_idp::pool::app_client::strings;
use tessera_idp::rate_limit::EndpointQuota;
use tessera_idp::sign_in::choice::first_factor_allowed;
use tessera_idp::sign_in::mfa::Mode;
use tessera_idp::sign_in::{hosted_sign_in, HostedSignIn};

mod mfa;
mod passkey;
pub(crate) use mfa::mfa_submit;
pub(crate) use passkey::{add as passkey_add, add_submit as passkey_add_submit};

/// One input of a form built from the pool's schema.
struct Field {
    name: String,
    label: String,
    kind: &'static str,
    value: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    page: Chrome,
    action: String,
    username: String,
    username_label: &'static str,
    forgot_link: String,
    signup_link: Option<String>,
    /// The pool offers passkeys: a second button signs in with one.
    passkeys: bool,
    /// The pool offers codes by e-mail or SMS as the first factor: buttons send one.
    email_codes: bool,
    sms_codes: bool,
    /// The client signs users in with the pool's own users: the form is shown.
    cognito: bool,
    /// A button per upstream identity provider of the client: its name and link.
    providers: Vec<(String, String)>,
    /// Where the corporate e-mail form posts, when the client's SAML providers are found by
    /// the domain of an address (each has IdpIdentifiers) rather than by a button.
    corporate: Option<String>,
}

#[derive(Template)]
#[template(path = "signup.html")]
struct SignUpPage {
    page: Chrome,
    action: String,
    username: String,
    username_label: &'static str,
    username_type: &'static str,
    fields: Vec<Field>,
    policy: String,
    login_link: String,
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmPage {
    page: Chrome,
    action: String,
    resend_action: String,
    username: String,
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    page: Chrome,
    action: String,
    username_label: &'static str,
    login_link: String,
}

#[derive(Template)]
#[template(path = "confirm_forgot.html")]
struct ConfirmForgotPage {
    page: Chrome,
    action: String,
    username: String,
    policy: String,
    login_link: String,
}

#[derive(Template)]
#[template(path = "new_password.html")]
struct NewPasswordPage {
    page: Chrome,
    action: String,
    session: String,
    fields: Vec<Field>,
    policy: String,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    page: Chrome,
    detail: String,
}

/// What every page request starts from.
pub(crate) struct PageRequest {
    state: AppState,
    site: Site,
    query: Query,
    csrf: Csrf,
    headers: HeaderMap,
    request_id: String,
    /// The client's address, for the limits per source address.
    source: Option<std::net::IpAddr>,
}

impl PageRequest {
    /// Renders a page of the authorization request `auth`, whose forms may end at its
    /// callback.
    fn show(&self, page: &impl Template, status: StatusCode, auth: &Authorization) -> Response {
        render(
            page,
            status,
            &self.site,
            &self.csrf,
            Some(&auth.redirect_uri),
        )
    }

    async fn chrome(&self, client_id: Option<&str>, title: &str) -> Chrome {
        Chrome::new(&self.state, &self.site, client_id, &self.csrf, title).await
    }

    async fn error_page(&self, status: StatusCode, detail: &str) -> Response {
        let page = ErrorPage {
            page: self.chrome(None, "Something went wrong").await,
            detail: detail.to_owned(),
        };
        render(&page, status, &self.site, &self.csrf, None)
    }

    /// The error page for a failure of the service: its message for a refusal, nothing of
    /// an internal failure (logged where it happened).
    async fn refusal_page(&self, error: tessera_idp::Error) -> Response {
        if error.is_internal() {
            self.error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "An internal error occurred.",
            )
            .await
        } else {
            self.error_page(StatusCode::BAD_REQUEST, &error.message)
                .await
        }
    }

    /// The validated authorization request of the query, or the response that refuses it
    /// (its redirect a 303 when it answers a form POST).
    async fn authorization(&self, after_post: bool) -> Result<Authorization, Response> {
        match validate(&self.state, &self.site.pool_id, &self.query).await {
            Ok(authorization) => Ok(authorization),
            Err(Refusal::Page(status, message)) => Err(self.error_page(status, &message).await),
            Err(Refusal::Redirect(location)) => Err(redirect(&location, after_post, &[])),
        }
    }

    /// Counts the request against the pool's `quota` (issue 16); the answer that refuses it
    /// when a limit is used up: the error page, with HTTP 429 and `Retry-After`.
    async fn over_limit(&self, quota: EndpointQuota, user: Option<&str>) -> Option<Response> {
        match self
            .state
            .admit_endpoint(&self.site.pool_id, quota, self.source, user)
            .await
        {
            Ok(true) => None,
            Ok(false) => {
                let mut response = self
                    .error_page(StatusCode::TOO_MANY_REQUESTS, "Rate exceeded")
                    .await;
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                Some(response)
            }
            Err(error) => Some(self.refusal_page(error).await),
        }
    }

    fn link(&self, auth: &Authorization, page: &str, extra: &[(&str, &str)]) -> String {
        self.site.link(page, &auth.query, extra)
    }

    /// Reads a form POST: the body, then the CSRF check.
    fn form(&self, body: &[u8]) -> Result<Form, FormRefusal> {
        let form = Form::parse(&self.headers, body).map_err(|_| FormRefusal::Malformed)?;
        if !Csrf::check(&self.state, &self.site, &self.headers, form.get("_csrf")) {
            return Err(FormRefusal::Csrf);
        }
        Ok(form)
    }

    /// Runs an API operation for the page.
    async fn call(&self, operation: &str, input: Value) -> Result<Value, ApiError> {
        Ok(self.state.call(operation, input, &self.request_id).await?)
    }

    /// The absolute base URL of the pool's pages, where upstream identity providers send
    /// the browser back (`/oauth2/idpresponse`, `/saml2/idpresponse`): on the public URL, or
    /// on the pool's domain when the request came there.
    fn pages_url(&self) -> String {
        if self.site.base.is_empty() {
            let scheme = if self.state.config.public_url.starts_with("https://") {
                "https"
            } else {
                "http"
            };
            let host = self
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default();
            format!("{scheme}://{host}")
        } else {
            format!("{}{}", self.state.config.public_url, self.site.base)
        }
    }

    /// Starts the browser's sign-in session and goes to `location` (a page that ends at the
    /// callback itself).
    async fn signed_in_to(&self, key: &str, location: &str) -> Result<Response, ApiError> {
        let now = self.state.clock.now();
        let value = random_token(&self.state);
        self.state
            .store
            .insert_login_session(&LoginSession {
                session_hash: sha256_hex(&value),
                pool_id: self.site.pool_id.clone(),
                username_key: key.to_owned(),
                auth_time: now,
                expires_at: now + SESSION_LIFETIME,
                revoked: false,
            })
            .await?;
        Ok(redirect(
            location,
            true,
            &[self.site.session_cookie(&value)],
        ))
    }

    /// The callback URL with a code for the signed-in user, after starting (or continuing)
    /// the browser's sign-in session.
    async fn signed_in(
        &self,
        auth: &Authorization,
        key: &str,
        new_session: bool,
    ) -> Result<Response, ApiError> {
        let now = self.state.clock.now();
        let mut cookies = Vec::new();
        if new_session {
            // A new cookie value at every sign-in: a session id planted before the sign-in
            // never becomes a signed-in one.
            let value = random_token(&self.state);
            self.state
                .store
                .insert_login_session(&LoginSession {
                    session_hash: sha256_hex(&value),
                    pool_id: self.site.pool_id.clone(),
                    username_key: key.to_owned(),
                    auth_time: now,
                    expires_at: now + SESSION_LIFETIME,
                    revoked: false,
                })
                .await?;
            cookies.push(self.site.session_cookie(&value));
        }
        let location = auth.issue_code(&self.state, key, now).await?;
        let mut response = redirect(&location, true, &cookies);
        super::page::security_headers(response.headers_mut(), Some(&auth.redirect_uri));
        Ok(response)
    }
}

impl FromRequestParts<AppState> for PageRequest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Path(pool_id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let site = Site::new(
            state,
            &pool_id,
            parts.extensions.get::<DomainForm>().copied(),
        );
        let csrf = Csrf::of(state, &site, &parts.headers);
        Ok(Self {
            query: Query::parse(parts.uri.query()),
            request_id: parts
                .extensions
                .get::<RequestId>()
                .map(|id| id.0.clone())
                .unwrap_or_default(),
            source: parts
                .extensions
                .get::<crate::connection::Peer>()
                .map(|peer| peer.0.ip()),
            site,
            csrf,
            headers: parts.headers.clone(),
            state: state.clone(),
        })
    }
}

/// A page request whose query is a valid authorization request; anything else is answered
/// with the error page or the error redirect before the handler runs.
pub(crate) struct Authorized(PageRequest, Authorization);

impl FromRequestParts<AppState> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let request = PageRequest::from_request_parts(parts, state).await?;
        let after_post = parts.method == axum::http::Method::POST;
        let auth = request.authorization(after_post).await?;
        Ok(Self(request, auth))
    }
}

/// A form POST of a page: a valid authorization request in the query, and a readable form
/// body with a valid CSRF token; anything else is answered before the handler runs.
pub(crate) struct Submitted(PageRequest, Authorization, Form);

impl FromRequest<AppState> for Submitted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        // The body is read before anything may refuse the request: answering a POST whose
        // body is still unread makes the server close the connection, and a client can see
        // that close before the answer.
        let (parts, body) = request.into_parts();
        let body = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let mut parts = parts;
        let Authorized(page, auth) = Authorized::from_request_parts(&mut parts, state).await?;
        // Every form of the pages signs in, signs up or recovers one of the pool's own users,
        // which a client without COGNITO does not allow.
        if !auth.cognito {
            return Err(redirect(
                &auth.error(
                    &page.state,
                    "unauthorized_client",
                    "The client does not sign users in with the user pool.",
                ),
                true,
                &[],
            ));
        }
        let form = match page.form(&body) {
            Ok(form) => form,
            Err(refusal) => return Err(refused_form(&page, &auth, refusal).await),
        };
        // A readable form with a valid CSRF token is a step of the pages, and counts against
        // its quota before it runs (as the API counts well-formed requests).
        let posted_to = parts
            .uri
            .path()
            .strip_prefix('/')
            .and_then(|path| path.split_once('/'))
            .map_or("", |(_, page)| page);
        if let Some(quota) = page_quota(posted_to) {
            // The name as the handlers read it, so that " alice" is alice's limit too.
            let user = form.get("username").map(str::trim);
            if let Some(refusal) = page.over_limit(quota, user).await {
                return Err(refusal);
            }
        }
        Ok(Self(page, auth, form))
    }
}

/// What the new-password form carries between its GET and POST: the challenge session (the
/// authority: it names the user and is checked by the challenge), the username the session
/// is for (a wrong one fails the challenge) and the attributes the form asks for.
pub(crate) struct ChallengeHandle {
    pub(crate) session: String,
    pub(crate) username: String,
    pub(crate) required: Vec<String>,
}

impl ChallengeHandle {
    pub(crate) fn encode(&self) -> String {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.{}",
            self.session,
            b64.encode(&self.username),
            b64.encode(self.required.join("\n"))
        )
    }

    pub(crate) fn decode(text: &str) -> Option<Self> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut parts = text.split('.');
        let (Some(session), Some(username), Some(required), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let username = String::from_utf8(b64.decode(username).ok()?).ok()?;
        let required = String::from_utf8(b64.decode(required).ok()?).ok()?;
        Some(Self {
            session: session.to_owned(),
            username,
            required: required
                .split('\n')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        })
    }
}

/// The quota a form of the pages counts against, by the page it posts to: Cognito counts
/// each step of a managed-login sign-in (the password, an MFA code) as one request of
/// UserAuthentication, and a password reset as one of UserAccountRecovery; the pages' other
/// forms count as the API operation they run. `None` for a form in no category.
fn page_quota(page: &str) -> Option<EndpointQuota> {
    let category = match page {
        "login" | "mfa" => Category::UserAuthentication,
        // The new-password form answers NEW_PASSWORD_REQUIRED, which Cognito counts as
        // account recovery.
        "newPassword" | "forgotPassword" | "confirmForgotPassword" => Category::UserAccountRecovery,
        "signup" | "confirm" => Category::UserCreation,
        "resendcode" => Category::UserResourceRead,
        _ => return None,
    };
    Some(EndpointQuota::credentials(category))
}

enum FormRefusal {
    Malformed,
    Csrf,
}

/// The API input members that identify the page's client: `ClientId`, and the SECRET_HASH a
/// client with a secret must send (the pages are that client's own, so they compute it).
fn client_input(client: &AppClient, username: &str, mut input: Value) -> Value {
    input["ClientId"] = json!(client.client_id);
    if let Some(secret) = &client.secret {
        input["SecretHash"] = json!(secret_hash(secret, username, &client.client_id));
    }
    input
}

fn username_label(directory: &Directory) -> (&'static str, &'static str) {
    let attributes = strings(&directory.pool.settings, "UsernameAttributes");
    match (
        attributes.contains(&"email"),
        attributes.contains(&"phone_number"),
    ) {
        (true, true) => ("Email or phone number", "text"),
        (true, false) => ("Email", "email"),
        (false, true) => ("Phone number", "tel"),
        _ => ("Username", "text"),
    }
}

fn policy_text(directory: &Directory) -> String {
    let policy = PasswordPolicy::from_pool_settings(&directory.pool.settings);
    let mut rules = vec![format!("at least {} characters", policy.minimum_length)];
    if policy.require_uppercase {
        rules.push("an uppercase letter".into());
    }
    if policy.require_lowercase {
        rules.push("a lowercase letter".into());
    }
    if policy.require_numbers {
        rules.push("a number".into());
    }
    if policy.require_symbols {
        rules.push("a symbol".into());
    }
    format!("Passwords need {}.", rules.join(", "))
}

fn field_for(name: &str, value: &str) -> Field {
    let (label, kind) = match name {
        "email" => ("Email".to_owned(), "email"),
        "phone_number" => ("Phone number (+15555550100)".to_owned(), "tel"),
        "birthdate" => ("Birthdate (YYYY-MM-DD)".to_owned(), "text"),
        other => {
            let words = other
                .strip_prefix("custom:")
                .unwrap_or(other)
                .replace('_', " ");
            let mut chars = words.chars();
            let label = match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => String::new(),
            };
            (label, "text")
        }
    };
    Field {
        name: name.to_owned(),
        label,
        kind,
        value: value.to_owned(),
    }
}

/// The attributes the sign-up form asks for: those the pool requires and those it verifies,
/// except the one the username already is.
fn sign_up_fields(directory: &Directory, form: Option<&Form>) -> Vec<Field> {
    let schema = AttributeSchema::from_pool_settings(&directory.pool.settings);
    let username_attributes = strings(&directory.pool.settings, "UsernameAttributes");
    let mut names: Vec<String> = schema.missing_required(&[]);
    for verified in strings(&directory.pool.settings, "AutoVerifiedAttributes") {
        if !names.iter().any(|n| n == verified) {
            names.push(verified.to_owned());
        }
    }
    names
        .into_iter()
        .filter(|name| !username_attributes.contains(&name.as_str()))
        .map(|name| {
            let value = form.and_then(|f| f.get(&name)).unwrap_or("").to_owned();
            field_for(&name, &value)
        })
        .collect()
}

fn notice_text(query: &Query) -> Option<String> {
    match query.get("notice") {
        Some("confirmed") => Some("Your account is confirmed. Sign in to continue.".into()),
        Some("password_reset") => {
            Some("Your password was changed. Sign in with the new password.".into())
        }
        Some("resent") => {
            Some("If the account exists and is not confirmed yet, a new code is on its way.".into())
        }
        _ => None,
    }
}

fn sign_up_allowed(directory: &Directory) -> bool {
    directory
        .pool
        .settings
        .get("AdminCreateUserConfig")
        .and_then(|c| c.get("AllowAdminCreateUserOnly"))
        .and_then(Value::as_bool)
        != Some(true)
}

// ---- the pages ----

async fn login_page(
    request: &PageRequest,
    auth: &Authorization,
    status: StatusCode,
    error: Option<String>,
    username: &str,
) -> Result<Response, ApiError> {
    let directory = Directory::load(&request.state, &auth.pool_id).await?;
    let mut chrome = request
        .chrome(Some(&auth.client.client_id), "Sign in")
        .await;
    chrome.error = error;
    chrome.notice = notice_text(&request.query);
    let mfa_required = Mode::of(&directory) == Mode::On;
    // Cognito's sign-in page: when every SAML provider of the client has IdP identifiers,
    // it asks for an e-mail address and routes by its domain instead of showing their
    // buttons.
    let mut saml = Vec::new();
    for name in &auth.providers {
        if let Some(provider) = request
            .state
            .store
            .identity_provider(&auth.pool_id, name)
            .await?
        {
            if provider.provider_type == "SAML" {
                saml.push(provider);
            }
        }
    }
    let corporate = !saml.is_empty() && saml.iter().all(|p| !p.idp_identifiers.is_empty());
    let buttons: Vec<&String> = auth
        .providers
        .iter()
        .filter(|name| !corporate || !saml.iter().any(|p| &p.name == *name))
        .collect();
    let page = LoginPage {
        page: chrome,
        action: request.link(auth, "login", &[]),
        username: username.to_owned(),
        username_label: username_label(&directory).0,
        forgot_link: request.link(auth, "forgotPassword", &[]),
        signup_link: sign_up_allowed(&directory).then(|| request.link(auth, "signup", &[])),
        // Offered as the sign-in machine offers them: where MFA is required, codes are no
        // first factor, and a passkey is one only when it counts as both factors.
        passkeys: tessera_idp::directory::passkey::passkeys_allowed(&directory)
            && (!mfa_required || tessera_idp::sign_in::passkey::multi_factor(&directory)),
        email_codes: first_factor_allowed(&directory, "EMAIL_OTP") && !mfa_required,
        sms_codes: first_factor_allowed(&directory, "SMS_OTP") && !mfa_required,
        cognito: auth.cognito,
        providers: buttons
            .iter()
            .map(|name| {
                (
                    (*name).clone(),
                    request.link(auth, "oauth2/authorize", &[("identity_provider", name)]),
                )
            })
            .collect(),
        corporate: corporate.then(|| request.link(auth, "federate", &[])),
    };
    let mut response = request.show(&page, status, auth);
    if corporate {
        let targets: Vec<String> = saml
            .iter()
            .filter_map(|p| p.details.get("SSORedirectBindingURI"))
            .filter_map(|v| v.as_str().map(String::from))
            .collect();
        super::page::allow_form_targets(response.headers_mut(), &targets);
    }
    Ok(response)
}

fn or_error(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(|error| error.into_response())
}

/// `GET /oauth2/authorize`: straight back to the client when the browser is signed in,
/// otherwise to the sign-in page with the same query.
pub(crate) async fn authorize(Authorized(request, auth): Authorized) -> Response {
    if !auth.forces_login() {
        match live_session(&request, &auth).await {
            Ok(Some(session)) => {
                return match auth
                    .issue_code(&request.state, &session.username_key, session.auth_time)
                    .await
                {
                    Ok(location) => redirect(&location, false, &[]),
                    Err(error) => {
                        tracing::error!(%error, "issuing an authorization code");
                        redirect(
                            &auth.error(
                                &request.state,
                                "server_error",
                                "An internal error occurred.",
                            ),
                            false,
                            &[],
                        )
                    }
                };
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(%error, "reading the sign-in session");
                return redirect(
                    &auth.error(
                        &request.state,
                        "server_error",
                        "An internal error occurred.",
                    ),
                    false,
                    &[],
                );
            }
        }
    }
    if auth.silent() {
        return redirect(
            &auth.error(
                &request.state,
                "login_required",
                "The user is not signed in.",
            ),
            false,
            &[],
        );
    }
    if let Some(provider) = &auth.identity_provider {
        return depart(&request, &auth, provider).await;
    }
    redirect(&request.link(&auth, "login", &[]), false, &[])
}

/// Sends the browser to an upstream identity provider, with the cookie that binds the
/// sign-in to it.
async fn depart(request: &PageRequest, auth: &Authorization, provider: &str) -> Response {
    let pages_url = request.pages_url();
    match tessera_idp::federation::sign_in::depart(
        &request.state,
        &auth.pool_id,
        provider,
        &auth.query,
        &pages_url,
    )
    .await
    {
        Ok(departure) => redirect(
            &departure.location,
            false,
            &[request.site.federation_cookie(&departure.binding)],
        ),
        Err(error) => {
            let (code, description) = tessera_idp::federation::sign_in::for_app(error);
            redirect(&auth.error(&request.state, &code, &description), false, &[])
        }
    }
}

/// `/oauth2/idpresponse` by GET: an upstream provider's answer in the query.
pub(crate) async fn idp_response(request: PageRequest) -> Response {
    let query = request.query.clone();
    idp_answer(&request, &query, false).await
}

/// `/oauth2/idpresponse` by POST (`response_mode=form_post`, as Sign in with Apple answers).
pub(crate) async fn idp_response_post(request: PageRequest, body: Bytes) -> Response {
    let query = Query::parse(std::str::from_utf8(&body).ok());
    idp_answer(&request, &query, true).await
}

async fn idp_answer(request: &PageRequest, answer: &Query, after_post: bool) -> Response {
    if let Some(refusal) = request.over_limit(FEDERATION, None).await {
        return refusal;
    }
    let binding = cookie(&request.headers, &request.site.federation_cookie_name());
    let callback = tessera_idp::federation::sign_in::Callback {
        state: answer.get("state"),
        code: answer.get("code"),
        error: answer.get("error"),
        error_description: answer.get("error_description"),
        binding: binding.as_deref(),
    };
    let arrival =
        tessera_idp::federation::sign_in::arrive(&request.state, &request.site.pool_id, &callback)
            .await;
    land(request, arrival, after_post).await
}

/// `/saml2/idpresponse`: a SAML IdP's response, by HTTP-POST.
pub(crate) async fn saml_response(request: PageRequest, body: Bytes) -> Response {
    if let Some(refusal) = request.over_limit(FEDERATION, None).await {
        return refusal;
    }
    let form = Query::parse(std::str::from_utf8(&body).ok());
    let binding = cookie(&request.headers, &request.site.federation_cookie_name());
    let posted = tessera_idp::federation::saml_sign_in::Posted {
        saml_response: form.get("SAMLResponse"),
        relay_state: form.get("RelayState"),
        binding: binding.as_deref(),
    };
    let arrival = tessera_idp::federation::saml_sign_in::arrive(
        &request.state,
        &request.site.pool_id,
        &posted,
        &request.pages_url(),
    )
    .await;
    land(&request, arrival, true).await
}

/// What the federation endpoints count against: UserFederation, which Cognito counts on
/// "requests to a user pool federation endpoint" (an OIDC or social provider's answer, every
/// SAML request), per pool only.
const FEDERATION: EndpointQuota = EndpointQuota {
    category: Category::UserFederation,
    own_allocation: false,
    guards_credentials: false,
};

/// `/saml2/metadata`: the pool's SAML service-provider metadata.
pub(crate) async fn saml_metadata(request: PageRequest) -> Response {
    match tessera_idp::federation::saml_sign_in::sp_metadata(
        &request.state,
        &request.site.pool_id,
        &request.pages_url(),
    )
    .await
    {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Err(error) if error.kind == "ResourceNotFoundException" => {
            request
                .error_page(StatusCode::NOT_FOUND, &error.message)
                .await
        }
        Err(error) => ApiError::from(error).into_response(),
    }
}

/// `/saml2/logout`: a SAML IdP's LogoutResponse, by HTTP-POST, ending a single logout.
pub(crate) async fn saml_logout(request: PageRequest, body: Bytes) -> Response {
    if let Some(refusal) = request.over_limit(FEDERATION, None).await {
        return refusal;
    }
    let form = Query::parse(std::str::from_utf8(&body).ok());
    match tessera_idp::federation::saml_sign_in::signed_out(
        &request.state,
        &request.site.pool_id,
        form.get("SAMLResponse"),
        form.get("RelayState"),
    )
    .await
    {
        Ok(location) => redirect(&location, true, &[]),
        Err(error) => request.refusal_page(error).await,
    }
}

/// Ends a federated sign-in: the app's request checked again, then a code for the user or
/// the error at the app's callback.
async fn land(
    request: &PageRequest,
    arrival: Result<tessera_idp::federation::sign_in::Arrival, tessera_idp::Error>,
    after_post: bool,
) -> Response {
    let arrival = match arrival {
        Ok(arrival) => arrival,
        Err(error) => return request.refusal_page(error).await,
    };
    // The app's request is checked again: its client may have changed meanwhile.
    let query = Query::parse(Some(&arrival.authorize_query));
    let auth = match validate(&request.state, &request.site.pool_id, &query).await {
        Ok(auth) => auth,
        Err(Refusal::Page(status, message)) => return request.error_page(status, &message).await,
        Err(Refusal::Redirect(location)) => return redirect(&location, after_post, &[]),
    };
    match arrival.outcome {
        Ok((key, _user)) => or_error(request.signed_in(&auth, &key, true).await),
        Err((code, description)) => redirect(
            &auth.error(&request.state, &code, &description),
            after_post,
            &[],
        ),
    }
}

/// The browser's sign-in session, when it is live and its user may still sign in.
async fn live_session(
    request: &PageRequest,
    auth: &Authorization,
) -> Result<Option<LoginSession>, ApiError> {
    let Some(value) = cookie(&request.headers, &request.site.session_cookie_name()) else {
        return Ok(None);
    };
    let Some(session) = request
        .state
        .store
        .login_session(&sha256_hex(&value))
        .await?
    else {
        return Ok(None);
    };
    let now = request.state.clock.now();
    if session.revoked || session.pool_id != request.site.pool_id || now >= session.expires_at {
        return Ok(None);
    }
    // OIDC max_age: an older sign-in does not count, and the user signs in again.
    if let Some(max_age) = auth.max_age {
        let age = now.duration_since(session.auth_time).unwrap_or_default();
        if age.as_secs() > max_age {
            return Ok(None);
        }
    }
    let user = request
        .state
        .store
        .user(&session.pool_id, &session.username_key)
        .await?;
    Ok(user
        .filter(|user| {
            user.enabled
                && matches!(
                    user.status,
                    UserStatus::Confirmed | UserStatus::ExternalProvider
                )
        })
        .map(|_| session))
}

/// `GET /login`: the sign-in form.
pub(crate) async fn login(Authorized(request, auth): Authorized) -> Response {
    let username = request.query.get("username").unwrap_or("").to_owned();
    or_error(login_page(&request, &auth, StatusCode::OK, None, &username).await)
}

/// `POST /federate`: the corporate e-mail form. The domain of the address is an IdP
/// identifier of one of the client's providers, where the browser goes to sign in.
pub(crate) async fn federate(request: PageRequest, body: Bytes) -> Response {
    let auth = match request.authorization(true).await {
        Ok(auth) => auth,
        Err(response) => return response,
    };
    let form = match request.form(&body) {
        Ok(form) => form,
        Err(refusal) => return refused_form(&request, &auth, refusal).await,
    };
    let email = form.get("email").unwrap_or_default().trim().to_owned();
    let typed = email
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_owned())
        .unwrap_or_default();
    let domain = typed.to_lowercase();
    let mut provider = None;
    // Domains compare without case: the identifier as typed, then in lower case.
    for candidate in [typed.as_str(), domain.as_str()] {
        if candidate.is_empty() || provider.is_some() {
            continue;
        }
        match request
            .state
            .store
            .identity_provider_by_identifier(&auth.pool_id, candidate)
            .await
        {
            Ok(found) => provider = found.filter(|p| auth.providers.contains(&p.name)),
            Err(error) => return ApiError::from(error).into_response(),
        }
    }
    match provider {
        Some(provider) => depart(&request, &auth, &provider.name).await,
        None => or_error(
            login_page(
                &request,
                &auth,
                StatusCode::BAD_REQUEST,
                Some(format!(
                    "No identity provider signs in addresses at {}.",
                    tessera_core::excerpt(if domain.is_empty() { &email } else { &domain })
                )),
                "",
            )
            .await,
        ),
    }
}

/// `POST /login`: a username and password.
pub(crate) async fn login_submit(Submitted(request, auth, form): Submitted) -> Response {
    let username = form.get("username").unwrap_or("").trim().to_owned();
    let password = form.get("password").unwrap_or("");
    if form.get("passkey").is_some_and(|v| !v.is_empty()) {
        return or_error(first_factor_sign_in(&request, &auth, &username, "WEB_AUTHN").await);
    }
    match form.get("otp") {
        Some("EMAIL_OTP") => {
            return or_error(first_factor_sign_in(&request, &auth, &username, "EMAIL_OTP").await)
        }
        Some("SMS_OTP") => {
            return or_error(first_factor_sign_in(&request, &auth, &username, "SMS_OTP").await)
        }
        _ => {}
    }
    or_error(sign_in(&request, &auth, &username, password).await)
}

async fn refused_form(
    request: &PageRequest,
    auth: &Authorization,
    refusal: FormRefusal,
) -> Response {
    let (status, message) = match refusal {
        FormRefusal::Malformed => (StatusCode::BAD_REQUEST, "The form could not be read."),
        FormRefusal::Csrf => (
            StatusCode::FORBIDDEN,
            "Your session on this page expired. Please try again.",
        ),
    };
    or_error(login_page(request, auth, status, Some(message.into()), "").await)
}

async fn sign_in(
    request: &PageRequest,
    auth: &Authorization,
    username: &str,
    password: &str,
) -> Result<Response, ApiError> {
    if username.is_empty() || password.is_empty() {
        return login_page(
            request,
            auth,
            StatusCode::BAD_REQUEST,
            Some("Enter your username and password.".into()),
            username,
        )
        .await;
    }
    let directory = Directory::load(&request.state, &auth.pool_id).await?;
    let browser = cookie(&request.headers, &request.site.device_cookie_name());
    match hosted_sign_in(
        &request.state,
        &auth.client,
        &directory,
        username,
        password,
        browser.as_deref(),
    )
    .await
    {
        // A pool that offers passkeys offers one to a user who has none.
        Ok(HostedSignIn::SignedIn { key })
            if passkey::offers(request, &directory, &key).await? =>
        {
            request
                .signed_in_to(&key, &request.link(auth, "passkeys/add", &[]))
                .await
        }
        Ok(HostedSignIn::SignedIn { key }) => request.signed_in(auth, &key, true).await,
        Ok(HostedSignIn::Unconfirmed { username }) => Ok(redirect(
            &request.link(auth, "confirm", &[("username", &username)]),
            true,
            &[],
        )),
        Ok(HostedSignIn::NewPasswordRequired {
            session,
            username,
            required,
        }) => {
            let handle = ChallengeHandle {
                session,
                username,
                required,
            };
            new_password_page(request, auth, &directory, &handle, None, None).await
        }
        Ok(HostedSignIn::Mfa {
            session,
            username,
            challenge,
            parameters,
        }) => {
            mfa::challenge_page(
                request, auth, &directory, session, username, challenge, parameters,
            )
            .await
        }
        Err(error) => {
            let message = match error.kind {
                // PreAuthentication, UserMigration or PostAuthentication refused the sign-in.
                kind if tessera_idp::trigger::is_failure(kind) => error.message,
                "PasswordResetRequiredException" => {
                    "Your password must be reset. Use \u{201c}Forgot your password?\u{201d} below."
                        .into()
                }
                "NotAuthorizedException"
                    if error.message.starts_with("Temporary password has expired") =>
                {
                    "Your temporary password has expired. Ask an administrator for a new one."
                        .into()
                }
                "NotAuthorizedException"
                | "UserNotFoundException"
                | "UserNotConfirmedException" => "Incorrect username or password.".into(),
                _ => return Err(error.into()),
            };
            login_page(request, auth, StatusCode::OK, Some(message), username).await
        }
    }
}

/// The passkey and code buttons of the sign-in page: the WEB_AUTHN, EMAIL_OTP or SMS_OTP
/// challenge for the name typed (any name gets one, so the page tells nobody who has a
/// passkey or an address).
async fn first_factor_sign_in(
    request: &PageRequest,
    auth: &Authorization,
    username: &str,
    factor: &str,
) -> Result<Response, ApiError> {
    if username.is_empty() {
        return login_page(
            request,
            auth,
            StatusCode::BAD_REQUEST,
            Some("Enter your username first.".into()),
            username,
        )
        .await;
    }
    let directory = Directory::load(&request.state, &auth.pool_id).await?;
    match tessera_idp::sign_in::hosted_first_factor(
        &request.state,
        &auth.client,
        &directory,
        username,
        factor,
    )
    .await
    {
        Ok(HostedSignIn::Mfa {
            session,
            username,
            challenge,
            parameters,
        }) => {
            mfa::challenge_page(
                request, auth, &directory, session, username, challenge, parameters,
            )
            .await
        }
        Err(error) if tessera_idp::trigger::is_failure(error.kind) => {
            login_page(request, auth, StatusCode::OK, Some(error.message), username).await
        }
        // The pool withholds the factor (USER_AUTH answered with its choice), or has no
        // relying party for passkeys.
        Ok(_) => cannot_be_used_here(request, auth, username).await,
        Err(error) if error.kind == "WebAuthnConfigurationMissingException" => {
            cannot_be_used_here(request, auth, username).await
        }
        Err(error) => Err(error.into()),
    }
}

async fn cannot_be_used_here(
    request: &PageRequest,
    auth: &Authorization,
    username: &str,
) -> Result<Response, ApiError> {
    login_page(
        request,
        auth,
        StatusCode::OK,
        Some("This way of signing in cannot be used here. Sign in with your password.".into()),
        username,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn new_password_page(
    request: &PageRequest,
    auth: &Authorization,
    directory: &Directory,
    handle: &ChallengeHandle,
    form: Option<&Form>,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let mut chrome = request
        .chrome(Some(&auth.client.client_id), "Change your password")
        .await;
    chrome.error = error;
    let fields = handle
        .required
        .iter()
        .map(|name| field_for(name, form.and_then(|f| f.get(name)).unwrap_or("")))
        .collect();
    let page = NewPasswordPage {
        page: chrome,
        action: request.link(auth, "newPassword", &[]),
        session: handle.encode(),
        fields,
        policy: policy_text(directory),
    };
    Ok(request.show(&page, StatusCode::OK, auth))
}

/// `POST /newPassword`: the new password of a user who signed in with a temporary one.
pub(crate) async fn new_password_submit(Submitted(request, auth, form): Submitted) -> Response {
    or_error(new_password(&request, &auth, &form).await)
}

async fn new_password(
    request: &PageRequest,
    auth: &Authorization,
    form: &Form,
) -> Result<Response, ApiError> {
    let directory = Directory::load(&request.state, &auth.pool_id).await?;
    let Some(handle) = form.get("session").and_then(ChallengeHandle::decode) else {
        return login_page(
            request,
            auth,
            StatusCode::OK,
            Some("Your session expired. Sign in again.".into()),
            "",
        )
        .await;
    };
    let password = form.get("password").unwrap_or("");
    if password != form.get("password_confirm").unwrap_or("") {
        return new_password_page(
            request,
            auth,
            &directory,
            &handle,
            Some(form),
            Some("The passwords do not match.".into()),
        )
        .await;
    }
    let attributes: Vec<(String, String)> = handle
        .required
        .iter()
        .filter_map(|name| Some((name.clone(), form.get(name)?.to_owned())))
        .collect();
    match tessera_idp::sign_in::hosted_new_password(
        &request.state,
        &auth.client,
        &directory,
        &handle.session,
        &handle.username,
        password,
        attributes,
    )
    .await
    {
        Ok(HostedSignIn::SignedIn { key }) => request.signed_in(auth, &key, true).await,
        Ok(HostedSignIn::Mfa {
            session,
            username,
            challenge,
            parameters,
        }) => {
            mfa::challenge_page(
                request, auth, &directory, session, username, challenge, parameters,
            )
            .await
        }
        // Nothing else follows a new password.
        Ok(_) => {
            login_page(
                request,
                auth,
                StatusCode::OK,
                Some("Your session expired. Sign in again.".into()),
                "",
            )
            .await
        }
        Err(error) if error.kind == "InvalidPasswordException" => {
            new_password_page(
                request,
                auth,
                &directory,
                &handle,
                Some(form),
                Some(error.message),
            )
            .await
        }
        Err(error) if error.kind == "InvalidParameterException" => {
            new_password_page(
                request,
                auth,
                &directory,
                &handle,
                Some(form),
                Some(format!("Check the form: {}", error.message)),
            )
            .await
        }
        Err(error) if error.kind == "NotAuthorizedException" => {
            login_page(
                request,
                auth,
                StatusCode::OK,
                Some("Your session expired. Sign in again.".into()),
                "",
            )
            .await
        }
        // PostAuthentication refused the sign-in that the new password completed: the
        // challenge is answered, so the user signs in again.
        Err(error) if tessera_idp::trigger::is_failure(error.kind) => {
            login_page(request, auth, StatusCode::OK, Some(error.message), "").await
        }
        Err(error) => Err(error.into()),
    }
}

/// `GET /signup`.
pub(crate) async fn signup(Authorized(request, auth): Authorized) -> Response {
    or_error(signup_page(&request, &auth, StatusCode::OK, None, None).await)
}

async fn signup_page(
    request: &PageRequest,
    auth: &Authorization,
    status: StatusCode,
    form: Option<&Form>,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let directory = Directory::load(&request.state, &auth.pool_id).await?;
    if !sign_up_allowed(&directory) {
        return Ok(request
            .error_page(
                StatusCode::FORBIDDEN,
                "Accounts of this application are created by its administrators.",
            )
            .await);
    }
    let mut chrome = request
        .chrome(Some(&auth.client.client_id), "Sign up")
        .await;
    chrome.error = error;
    let (label, kind) = username_label(&directory);
    let page = SignUpPage {
        page: chrome,
        action: request.link(auth, "signup", &[]),
        username: form
            .and_then(|f| f.get("username"))
            .unwrap_or("")
            .to_owned(),
        username_label: label,
        username_type: kind,
        fields: sign_up_fields(&directory, form),
        policy: policy_text(&directory),
        login_link: request.link(auth, "login", &[]),
    };
    Ok(request.show(&page, status, auth))
}

/// `POST /signup`.
pub(crate) async fn signup_submit(Submitted(request, auth, form): Submitted) -> Response {
    or_error(sign_up(&request, &auth, &form).await)
}

async fn sign_up(
    request: &PageRequest,
    auth: &Authorization,
    form: &Form,
) -> Result<Response, ApiError> {
    let directory = Directory::load(&request.state, &auth.pool_id).await?;
    if !sign_up_allowed(&directory) {
        return Ok(request
            .error_page(
                StatusCode::FORBIDDEN,
                "Accounts of this application are created by its administrators.",
            )
            .await);
    }
    let username = form.get("username").unwrap_or("").trim();
    let password = form.get("password").unwrap_or("");
    if username.is_empty() || password.is_empty() {
        return signup_page(
            request,
            auth,
            StatusCode::BAD_REQUEST,
            Some(form),
            Some("Enter a username and a password.".into()),
        )
        .await;
    }
    let attributes: Vec<Value> = sign_up_fields(&directory, Some(form))
        .into_iter()
        .filter(|field| !field.value.trim().is_empty())
        .map(|field| json!({ "Name": field.name, "Value": field.value.trim() }))
        .collect();
    let input = client_input(
        &auth.client,
        username,
        json!({ "Username": username, "Password": password, "UserAttributes": attributes }),
    );
    match request.call("SignUp", input).await {
        Ok(output) if output["UserConfirmed"] == json!(true) => Ok(redirect(
            &request.link(auth, "login", &[("notice", "confirmed")]),
            true,
            &[],
        )),
        Ok(_) => Ok(redirect(
            &request.link(auth, "confirm", &[("username", username)]),
            true,
            &[],
        )),
        // A taken name is said so, as Cognito's hosted UI and its SignUp API both do. Going on
        // to the confirmation page instead would let the person who signs up second confirm
        // (with a code sent to them) an unconfirmed account whose password the first chose.
        Err(error)
            if error.kind == "UsernameExistsException" || error.kind == "AliasExistsException" =>
        {
            signup_page(
                request,
                auth,
                StatusCode::OK,
                Some(form),
                Some("An account with this username already exists.".into()),
            )
            .await
        }
        Err(error)
            if matches!(
                error.kind,
                "InvalidPasswordException" | "InvalidParameterException"
            ) || tessera_idp::trigger::is_failure(error.kind) =>
        {
            signup_page(
                request,
                auth,
                StatusCode::OK,
                Some(form),
                Some(error.message),
            )
            .await
        }
        Err(error) => {
            tracing::warn!(kind = error.kind, message = %error.message, "hosted sign-up failed");
            signup_page(
                request,
                auth,
                StatusCode::OK,
                Some(form),
                Some("The account could not be created. Try again later.".into()),
            )
            .await
        }
    }
}

async fn confirm_page(
    request: &PageRequest,
    auth: &Authorization,
    username: &str,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let mut chrome = request
        .chrome(Some(&auth.client.client_id), "Confirm your account")
        .await;
    chrome.error = error;
    chrome.notice = notice_text(&request.query);
    let page = ConfirmPage {
        page: chrome,
        action: request.link(auth, "confirm", &[]),
        resend_action: request.link(auth, "resendcode", &[]),
        username: username.to_owned(),
    };
    Ok(request.show(&page, StatusCode::OK, auth))
}

/// `GET /confirm`.
pub(crate) async fn confirm(Authorized(request, auth): Authorized) -> Response {
    let username = request.query.get("username").unwrap_or("").to_owned();
    or_error(confirm_page(&request, &auth, &username, None).await)
}

/// `POST /confirm`: the code sent at sign-up.
pub(crate) async fn confirm_submit(Submitted(request, auth, form): Submitted) -> Response {
    let username = form.get("username").unwrap_or("").trim().to_owned();
    let code = form.get("code").unwrap_or("").trim().to_owned();
    let result = async {
        let input = client_input(
            &auth.client,
            &username,
            json!({ "Username": username, "ConfirmationCode": code }),
        );
        match request.call("ConfirmSignUp", input).await {
            Ok(_) => Ok(redirect(
                &request.link(&auth, "login", &[("notice", "confirmed")]),
                true,
                &[],
            )),
            Err(error) if error.kind == "ExpiredCodeException" => {
                confirm_page(
                    &request,
                    &auth,
                    &username,
                    Some("The code has expired. Send a new one.".into()),
                )
                .await
            }
            // PostConfirmation failed: the account is confirmed (the function only hears of
            // it), so "invalid code" would be wrong; its message is what there is to say.
            Err(error) if tessera_idp::trigger::is_failure(error.kind) => {
                confirm_page(&request, &auth, &username, Some(error.message)).await
            }
            Err(error) if error.status.is_server_error() => Err(error),
            Err(_) => {
                confirm_page(
                    &request,
                    &auth,
                    &username,
                    Some("Invalid verification code provided, please try again.".into()),
                )
                .await
            }
        }
    }
    .await;
    or_error(result)
}

/// `POST /resendcode`: a new confirmation code. The answer is the same whether or not the
/// account exists.
pub(crate) async fn resend_submit(Submitted(request, auth, form): Submitted) -> Response {
    let username = form.get("username").unwrap_or("").trim().to_owned();
    let input = client_input(&auth.client, &username, json!({ "Username": username }));
    if let Err(error) = request.call("ResendConfirmationCode", input).await {
        tracing::info!(
            kind = error.kind,
            "hosted resend of a confirmation code refused"
        );
    }
    redirect(
        &request.link(
            &auth,
            "confirm",
            &[("username", &username), ("notice", "resent")],
        ),
        true,
        &[],
    )
}

/// `GET /forgotPassword`.
pub(crate) async fn forgot(Authorized(request, auth): Authorized) -> Response {
    let result = async {
        let directory = Directory::load(&request.state, &auth.pool_id).await?;
        let page = ForgotPage {
            page: request
                .chrome(Some(&auth.client.client_id), "Forgot your password?")
                .await,
            action: request.link(&auth, "forgotPassword", &[]),
            username_label: username_label(&directory).0,
            login_link: request.link(&auth, "login", &[]),
        };
        Ok(request.show(&page, StatusCode::OK, &auth))
    }
    .await;
    or_error(result)
}

/// `POST /forgotPassword`: always on to the code page, whether or not the user exists.
pub(crate) async fn forgot_submit(Submitted(request, auth, form): Submitted) -> Response {
    let username = form.get("username").unwrap_or("").trim().to_owned();
    if !username.is_empty() {
        let input = client_input(&auth.client, &username, json!({ "Username": username }));
        if let Err(error) = request.call("ForgotPassword", input).await {
            tracing::info!(kind = error.kind, "hosted password reset refused");
        }
    }
    redirect(
        &request.link(&auth, "confirmForgotPassword", &[("username", &username)]),
        true,
        &[],
    )
}

async fn confirm_forgot_page(
    request: &PageRequest,
    auth: &Authorization,
    username: &str,
    error: Option<String>,
) -> Result<Response, ApiError> {
    let directory = Directory::load(&request.state, &auth.pool_id).await?;
    let mut chrome = request
        .chrome(Some(&auth.client.client_id), "Reset your password")
        .await;
    chrome.error = error;
    let page = ConfirmForgotPage {
        page: chrome,
        action: request.link(auth, "confirmForgotPassword", &[]),
        username: username.to_owned(),
        policy: policy_text(&directory),
        login_link: request.link(auth, "login", &[]),
    };
    Ok(request.show(&page, StatusCode::OK, auth))
}

/// `GET /confirmForgotPassword`.
pub(crate) async fn confirm_forgot(Authorized(request, auth): Authorized) -> Response {
    let username = request.query.get("username").unwrap_or("").to_owned();
    or_error(confirm_forgot_page(&request, &auth, &username, None).await)
}

/// `POST /confirmForgotPassword`: the code and the new password.
pub(crate) async fn confirm_forgot_submit(Submitted(request, auth, form): Submitted) -> Response {
    let username = form.get("username").unwrap_or("").trim().to_owned();
    let result = async {
        let password = form.get("password").unwrap_or("");
        if password != form.get("password_confirm").unwrap_or("") {
            return confirm_forgot_page(
                &request,
                &auth,
                &username,
                Some("The passwords do not match.".into()),
            )
            .await;
        }
        let input = client_input(
            &auth.client,
            &username,
            json!({
                "Username": username,
                "ConfirmationCode": form.get("code").unwrap_or("").trim(),
                "Password": password,
            }),
        );
        match request.call("ConfirmForgotPassword", input).await {
            Ok(_) => Ok(redirect(
                &request.link(&auth, "login", &[("notice", "password_reset")]),
                true,
                &[],
            )),
            // PostConfirmation failed after the password was changed: its message, not
            // "invalid code".
            Err(error)
                if error.kind == "InvalidPasswordException"
                    || tessera_idp::trigger::is_failure(error.kind) =>
            {
                confirm_forgot_page(&request, &auth, &username, Some(error.message)).await
            }
            Err(error) if error.status.is_server_error() => Err(error),
            Err(_) => {
                confirm_forgot_page(
                    &request,
                    &auth,
                    &username,
                    Some("Invalid code or password. Check the code, or request a new one.".into()),
                )
                .await
            }
        }
    }
    .await;
    or_error(result)
}

/// `GET /logout`: ends the browser's sign-in session, then goes to a registered sign-out
/// URL or back to the sign-in page. Never to a URL the client has not registered.
pub(crate) async fn logout(request: PageRequest) -> Response {
    let Some(client_id) = request.query.get("client_id") else {
        return request
            .error_page(
                StatusCode::BAD_REQUEST,
                "The request names no client (client_id is missing).",
            )
            .await;
    };
    let client = match request.state.store.app_client(client_id).await {
        Ok(Some(client)) if client.user_pool_id == request.site.pool_id => client,
        Ok(_) => {
            return request
                .error_page(
                    StatusCode::BAD_REQUEST,
                    "The client of this request does not exist.",
                )
                .await
        }
        Err(error) => return ApiError::from(error).into_response(),
    };
    let logout_uri = request
        .query
        .get("logout_uri")
        .or_else(|| request.query.get("post_logout_redirect_uri"));
    let location = match logout_uri {
        Some(uri) => {
            if !strings(&client.settings, "LogoutURLs").contains(&uri) {
                return request
                    .error_page(
                        StatusCode::BAD_REQUEST,
                        "The sign-out URL is not registered for this client.",
                    )
                    .await;
            }
            match request.query.get("state") {
                Some(client_state) => {
                    super::authorize::with_parameters(uri, &[("state", client_state)])
                }
                None => uri.to_owned(),
            }
        }
        None if request.query.get("redirect_uri").is_some() => {
            match request.authorization(false).await {
                Ok(auth) => request.link(&auth, "login", &[]),
                Err(response) => return response,
            }
        }
        None => {
            return request
                .error_page(
                    StatusCode::BAD_REQUEST,
                    "Signing out needs a logout_uri, or a redirect_uri and response_type.",
                )
                .await
        }
    };
    let mut location = location;
    if let Some(value) = cookie(&request.headers, &request.site.session_cookie_name()) {
        let hash = sha256_hex(&value);
        // A user who signed in through a SAML IdP with IDPSignout is signed out there too:
        // the browser goes to the IdP first, and comes back to `location` from it.
        match request.state.store.login_session(&hash).await {
            Ok(Some(session)) if session.pool_id == request.site.pool_id && !session.revoked => {
                match tessera_idp::federation::saml_sign_in::sign_out(
                    &request.state,
                    &request.site.pool_id,
                    &session.username_key,
                    &location,
                    &request.pages_url(),
                )
                .await
                {
                    Ok(Some(idp)) => location = idp,
                    Ok(None) => {}
                    // The sign-out at tessera happens whatever the IdP's part does.
                    Err(error) => {
                        tracing::warn!(error = %error.message, "starting a SAML single logout")
                    }
                }
            }
            Ok(_) => {}
            Err(error) => return ApiError::from(error).into_response(),
        }
        if let Err(error) = request.state.store.revoke_login_session(&hash).await {
            return ApiError::from(error).into_response();
        }
    }
    redirect(&location, false, &[request.site.clear_session_cookie()])
}

/// `GET /error`: a page to send a browser to when nothing else can be done.
pub(crate) async fn error(request: PageRequest) -> Response {
    request
        .error_page(
            StatusCode::BAD_REQUEST,
            "An error was encountered with the requested page.",
        )
        .await
}

/// `GET /ui/tessera.css`: the pages' own stylesheet (a file, since the pages' CSP allows no
/// inline style).
pub(crate) async fn stylesheet() -> Response {
    let mut response = include_str!("../../templates/tessera.css").into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
