//! tessera's built-in STS, the part that knows no HTTP: AssumeRoleWithWebIdentity (the
//! basic flow's last step) and GetCallerIdentity for the credentials it issues. The edge
//! speaks the AWS Query protocol and renders these answers and errors as STS's XML.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tessera_credentials::{Decision, RequestContext, Session};

use crate::config::{CredentialSource, Role};
use crate::credentials::{mint, Issued, MintRequest};
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
            lower_camel(name)
        ))
    })
}

fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_lowercase().chain(chars).collect()
    })
}

/// AssumeRoleWithWebIdentity on the built-in STS. The token must come from tessera's identity
/// issuer; the role must be one whose credentials the built-in STS issues, and its trust
/// policy (when it has one) must allow the token's audience and `amr`.
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

    let claims = issuer::verify(state, token).await.map_err(|error| {
        if error.message.contains("expired") {
            StsError::new("ExpiredTokenException", "Token expired", 400)
        } else {
            StsError::new(
                "InvalidIdentityToken",
                "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.",
                400,
            )
        }
    })?;
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let (subject, audience) = (text("sub"), text("aud"));
    let amr: Vec<String> = claims
        .get("amr")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();

    let role = state.settings.role(role_arn);
    if role.source != CredentialSource::Builtin {
        return Err(StsError::new(
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            403,
        ));
    }
    check_trust(&role, &audience, &subject, &amr)?;
    if duration > role.max_session_duration.max(3600) {
        return Err(StsError::validation(
            "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        ));
    }
    let tags: Map<String, Value> = claims
        .get("https://aws.amazon.com/tags")
        .and_then(|t| t.get("principal_tags"))
        .and_then(Value::as_object)
        .map(|tags| {
            tags.iter()
                .filter_map(|(k, v)| {
                    let value = v.as_array().and_then(|a| a.first()).unwrap_or(v);
                    value
                        .as_str()
                        .map(|s| (k.clone(), Value::String(s.to_owned())))
                })
                .collect()
        })
        .unwrap_or_default();
    let credentials = mint(
        state,
        MintRequest {
            identity_id: &subject,
            pool_id: &audience,
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
        provider: state.issuer(),
        audience,
    })
}

/// The role's trust policy, evaluated for `sts:AssumeRoleWithWebIdentity` with the token's
/// claims as Cognito's condition keys. Without a trust policy, any identity pool of this
/// server may assume the role.
fn check_trust(role: &Role, audience: &str, subject: &str, amr: &[String]) -> Result<(), StsError> {
    let Some(trust) = &role.trust_policy else {
        return Ok(());
    };
    let mut keys = BTreeMap::new();
    keys.insert(
        "cognito-identity.amazonaws.com:aud".to_owned(),
        vec![audience.to_owned()],
    );
    keys.insert(
        "cognito-identity.amazonaws.com:sub".to_owned(),
        vec![subject.to_owned()],
    );
    keys.insert(
        "cognito-identity.amazonaws.com:amr".to_owned(),
        amr.to_vec(),
    );
    let context = RequestContext {
        action: "sts:AssumeRoleWithWebIdentity".to_owned(),
        resource: role.arn.clone(),
        keys,
    };
    match tessera_credentials::evaluate(std::slice::from_ref(trust), &context) {
        Decision::Allow => Ok(()),
        _ => Err(StsError::new(
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
            403,
        )),
    }
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
