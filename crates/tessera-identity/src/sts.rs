//! tessera's built-in STS, the part that knows no HTTP: AssumeRoleWithWebIdentity (the
//! basic flow's last step) and GetCallerIdentity for the credentials it issues. The edge
//! speaks the AWS Query protocol and renders these answers and errors as STS's XML.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tessera_core::KeyUse;
use tessera_credentials::Session;

use crate::config::CredentialSource;
use crate::credentials::{mint, Issued, MintRequest};
use crate::login::IDENTITY_PROVIDER;
use crate::{issuer, IdentityService};

/// An STS refusal: its code, message and whether the sender is at fault (`Sender`) or STS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsError {
    pub code: &'static str,
    pub message: String,
    /// The HTTP status AWS answers with.
    pub status: u16,
}

impl StsError {
    fn new(code: &'static str, message: impl Into<String>, status: u16) -> Self {
        Self {
            code,
            message: message.into(),
            status,
        }
    }

    /// A request that breaks the API's constraints.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new("ValidationError", message, 400)
    }
}

/// What AssumeRoleWithWebIdentity answers.
pub struct Assumed {
    pub credentials: Issued,
    pub subject: String,
    pub assumed_role_id: String,
    pub assumed_role_arn: String,
    pub provider: String,
    pub audience: String,
}

/// The name of a role (`arn:aws:iam::<account>:role/<path/>name`).
fn role_name(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The ARN of an assumed-role session.
pub fn assumed_role_arn(account: &str, role_arn: &str, session: &str) -> String {
    format!(
        "arn:aws:sts::{account}:assumed-role/{}/{session}",
        role_name(role_arn)
    )
}

fn param<'a>(params: &'a BTreeMap<String, String>, name: &str) -> Result<&'a str, StsError> {
    params.get(name).map(String::as_str).ok_or_else(|| {
        StsError::validation(format!(
            "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
            tessera_idp::input::lower_camel(name)
        ))
    })
}

/// AssumeRoleWithWebIdentity on the built-in STS. The token must come from tessera's identity
/// issuer or, where the role's trust policy names the user pool, be an ID token of one of
/// tessera's user pools; the role must be one whose credentials the built-in STS issues, and
/// its trust policy (when it has one) must allow the token's provider, audience, subject and
/// `amr`.
pub async fn assume_role_with_web_identity(
    state: &IdentityService,
    params: &BTreeMap<String, String>,
) -> Result<Assumed, StsError> {
    let role_arn = param(params, "RoleArn")?;
    let session = param(params, "RoleSessionName")?;
    let token = param(params, "WebIdentityToken")?;
    let mut problems = Vec::new();
    if !(20..=2048).contains(&role_arn.len()) {
        problems.push(format!(
            "Value '{}' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20",
            tessera_core::excerpt(role_arn)
        ));
    }
    let session_ok = (2..=64).contains(&session.len())
        && session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if !session_ok {
        problems.push(format!(
            "Value '{}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
            tessera_core::excerpt(session)
        ));
    }
    if !(4..=20000).contains(&token.len()) {
        problems.push(
            "Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4".into(),
        );
    }
    if !problems.is_empty() {
        return Err(StsError::validation(format!(
            "{} validation error{} detected: {}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            problems.join("; ")
        )));
    }
    if params.contains_key("Policy") || params.keys().any(|k| k.starts_with("PolicyArns.")) {
        return Err(StsError::validation(
            "tessera's STS does not support session policies (Policy, PolicyArns).",
        ));
    }
    let duration = match params.get("DurationSeconds") {
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|d| (900..=43200).contains(d))
            .ok_or_else(|| {
                StsError::validation(format!(
                    "1 validation error detected: Value '{}' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
                    tessera_core::excerpt(text)
                ))
            })?,
        None => 3600,
    };

    let web = web_identity(state, token).await?;
    let role = state.settings.role(role_arn);
    if role.source != CredentialSource::Builtin {
        return Err(access_denied());
    }
    let allowed = match &role.trust_policy {
        Some(trust) => trust.allows(&web.provider, role_arn, web.condition_keys()),
        // Without a trust policy, what Cognito's default trust policy says: an identity
        // token of a pool whose own role this is, for its kind of session.
        None => web.provider == IDENTITY_PROVIDER && own_role(state, &web, role_arn).await?,
    };
    if !allowed {
        return Err(access_denied());
    }
    if duration > role.max_session_duration.max(3600) {
        return Err(StsError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let WebIdentity {
        claims,
        subject,
        audience,
        amr,
        pool,
        ..
    } = web;
    let tags = issuer::carried_tags(&claims);
    let credentials = mint(
        state,
        MintRequest {
            identity_id: &subject,
            pool_id: &pool,
            role: &role,
            session_name: session,
            amr,
            tags: &tags,
            lifetime: duration.min(role.max_session_duration),
            source: "sts",
        },
    );
    let role_id = tessera_credentials::role_id(role_arn);
    Ok(Assumed {
        credentials,
        assumed_role_id: format!("{role_id}:{session}"),
        assumed_role_arn: assumed_role_arn(state.account_id(), role_arn, session),
        subject,
        provider: claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        audience,
    })
}

/// Whether `role_arn` is the token's identity pool's own role for the token's kind of
/// session (`authenticated` or `unauthenticated` in its `amr`).
async fn own_role(
    state: &IdentityService,
    web: &WebIdentity,
    role_arn: &str,
) -> Result<bool, StsError> {
    let pool = state
        .store()
        .identity_pool(&web.pool)
        .await
        .map_err(|error| {
            tracing::error!(error = %error, "reading an identity pool");
            StsError::new("InternalFailure", "An internal error occurred.", 500)
        })?;
    let Some(pool) = pool else {
        return Ok(false);
    };
    let kind = if web.amr.iter().any(|a| a == "authenticated") {
        "authenticated"
    } else {
        "unauthenticated"
    };
    Ok(pool
        .roles
        .get("Roles")
        .and_then(|roles| roles.get(kind))
        .and_then(Value::as_str)
        == Some(role_arn))
}

fn access_denied() -> StsError {
    StsError::new(
        "AccessDenied",
        "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        403,
    )
}

fn invalid_token() -> StsError {
    StsError::new(
        "InvalidIdentityToken",
        "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.",
        400,
    )
}

/// A verified web identity token: who issued it (as a provider name), and its claims.
struct WebIdentity {
    provider: String,
    claims: Map<String, Value>,
    /// The identity pool of an identity token; the user pool of a user-pool ID token.
    pool: String,
    subject: String,
    audience: String,
    amr: Vec<String>,
}

impl WebIdentity {
    /// The trust policy's condition keys: `<provider>:aud`, `:sub` and `:amr`.
    fn condition_keys(&self) -> BTreeMap<String, Vec<String>> {
        crate::config::trust_keys(&self.provider, &self.audience, &self.subject, &self.amr)
    }
}

/// Verifies a token of tessera's identity issuer, or an ID token of one of its user pools.
async fn web_identity(state: &IdentityService, token: &str) -> Result<WebIdentity, StsError> {
    let issuer = tessera_core::unverified_issuer(token).ok_or_else(invalid_token)?;
    let expired = || StsError::new("ExpiredTokenException", "Token expired", 400);
    let (provider, pool, claims) = if issuer == state.issuer() {
        let claims = issuer::verify(state, token).await.map_err(|error| {
            if error.message.contains("expired") {
                expired()
            } else {
                invalid_token()
            }
        })?;
        let pool = claims
            .get("aud")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        (IDENTITY_PROVIDER.to_owned(), pool, claims)
    } else {
        let pool_id = issuer
            .strip_prefix(&state.idp.config.public_url)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .ok_or_else(invalid_token)?;
        let keys = tessera_idp::pool::keys::pool_keys(&state.idp, pool_id)
            .await
            .map_err(|_| invalid_token())?;
        let claims =
            tessera_core::verify_jwt(token, &keys.verifiers(KeyUse::Id), "id", state.now())
                .map_err(|error| match error {
                    tessera_core::TokenError::Expired => expired(),
                    _ => invalid_token(),
                })?;
        (
            crate::login::user_pool_provider(pool_id),
            pool_id.to_owned(),
            claims,
        )
    };
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let amr = crate::issuer::amr_of(&claims);
    Ok(WebIdentity {
        provider,
        pool,
        subject: text("sub"),
        audience: text("aud"),
        amr,
        claims,
    })
}

/// GetCallerIdentity for a built-in session.
pub fn caller_identity(session: &Session) -> (String, String, String) {
    (
        session.user_id(),
        session.account.clone(),
        assumed_role_arn(
            &session.account,
            &session.role_arn,
            &session.role_session_name,
        ),
    )
}
