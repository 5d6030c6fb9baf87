//! What the configuration file says about identity pools: the roles identities may receive
//! (with the policies the built-in STS puts in their credentials), the external STS endpoints
//! that may mint credentials instead, and the OpenID Connect providers behind IAM provider
//! ARNs. The binary reads these tables from `[identity]`; they are lowered once, at start.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;
use tessera_credentials::Policy;

/// The `[identity]` table.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// `[[identity.roles]]`.
    #[serde(default)]
    pub roles: Vec<RoleConfig>,
    /// `[[identity.sts]]`: external STS endpoints, by name.
    #[serde(default)]
    pub sts: Vec<ExternalStsConfig>,
    /// `[[identity.openid_providers]]`: the issuer behind each `OpenIdConnectProviderARNs` entry.
    #[serde(default)]
    pub openid_providers: Vec<OpenIdProviderConfig>,
    /// Where the credentials of a role not declared in `roles` come from: `builtin` (the
    /// default) or the name of an external STS.
    pub default_credentials: Option<String>,
}

/// A `[[identity.roles]]` table: one IAM-style role.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// The role's ARN, as `SetIdentityPoolRoles` names it.
    pub arn: String,
    /// The permissions policy: a JSON document, as a string or a table.
    pub policy: Option<Value>,
    /// More permissions policies.
    #[serde(default)]
    pub policies: Vec<Value>,
    /// The longest session the role allows, in seconds (3600 when absent). Credentials from
    /// GetCredentialsForIdentity last an hour or this, whichever is shorter.
    pub max_session_duration: Option<u64>,
    /// `builtin`, or the name of an `[[identity.sts]]` entry.
    pub credentials: Option<String>,
    /// The trust policy AssumeRoleWithWebIdentity checks on the built-in STS: who may assume
    /// the role, as an IAM trust policy (`Principal: {"Federated": …}` naming
    /// `cognito-identity.amazonaws.com` or a user pool, `cognito-idp.<region>.amazonaws.com/
    /// <pool id>`, a trailing `*` matching any suffix; conditions on `<provider>:aud`, `:sub`,
    /// `:amr`). Without one, tokens of this
    /// server's identity issuer for any of its identity pools may, and user-pool tokens may not.
    pub trust_policy: Option<Value>,
}

/// An `[[identity.sts]]` table: an STS that trusts tessera's identity issuer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalStsConfig {
    pub name: String,
    /// Its endpoint, e.g. `https://sts.amazonaws.com` or a MinIO server.
    pub endpoint: String,
    /// The region requests are made for (`us-east-1` when absent).
    pub region: Option<String>,
}

/// An `[[identity.openid_providers]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenIdProviderConfig {
    /// The IAM OIDC provider ARN an identity pool lists in `OpenIdConnectProviderARNs`,
    /// `arn:aws:iam::<account>:oidc-provider/<host and path>`.
    pub arn: String,
    /// The issuer URL (`iss`) of its tokens; its JWKS comes from its discovery document.
    pub issuer: String,
    /// The audiences (`aud`) accepted: at least one.
    #[serde(default)]
    pub client_ids: Vec<String>,
}

/// Where a role's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// tessera's own STS.
    Builtin,
    /// An external STS, by its `[[identity.sts]]` entry.
    External(ExternalStsConfig),
}

/// A role as the service uses it.
#[derive(Debug, Clone)]
pub struct Role {
    pub arn: String,
    pub policies: Vec<Policy>,
    pub max_session_duration: u64,
    pub source: CredentialSource,
    pub trust_policy: Option<TrustPolicy>,
}

/// The condition keys a trust policy sees for a web identity of `provider`:
/// `<provider>:aud`, `:sub` and `:amr`.
pub fn trust_keys(
    provider: &str,
    audience: &str,
    subject: &str,
    amr: &[String],
) -> std::collections::BTreeMap<String, Vec<String>> {
    std::collections::BTreeMap::from([
        (format!("{provider}:aud"), vec![audience.to_owned()]),
        (format!("{provider}:sub"), vec![subject.to_owned()]),
        (format!("{provider}:amr"), amr.to_vec()),
    ])
}

/// A role's trust policy: each statement's federated principals, and the statement without
/// them (evaluated like a permissions policy for `sts:AssumeRoleWithWebIdentity`).
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    statements: Vec<(Vec<String>, Policy)>,
}

impl TrustPolicy {
    /// Reads a trust policy document (a JSON string or a table).
    pub fn parse(value: &Value) -> Result<Self, String> {
        let document = match value {
            Value::String(text) => serde_json::from_str::<Value>(text)
                .map_err(|error| format!("the trust policy is not JSON: {error}"))?,
            other => other.clone(),
        };
        let version = document.get("Version").cloned().unwrap_or(Value::Null);
        let statements = match document.get("Statement") {
            Some(Value::Array(list)) => list.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => return Err("the trust policy has no Statement.".into()),
        };
        let mut parsed = Vec::new();
        for statement in statements {
            let Value::Object(mut statement) = statement else {
                return Err("a trust policy statement is not an object.".into());
            };
            let federated: Vec<String> =
                match statement
                    .remove("Principal")
                    .as_ref()
                    .and_then(|p| p.get("Federated"))
                {
                    Some(Value::String(one)) => vec![one.clone()],
                    Some(Value::Array(many)) => many
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                    _ => return Err(
                        "a trust policy statement must name its Principal as {\"Federated\": …}."
                            .into(),
                    ),
                };
            // A trust policy's statements apply to the role they are attached to, so they
            // name no resource; the permissions-policy evaluator wants one.
            if !statement.contains_key("Resource") && !statement.contains_key("NotResource") {
                statement.insert("Resource".into(), Value::String("*".into()));
            }
            let mut single = serde_json::Map::new();
            if !version.is_null() {
                single.insert("Version".into(), version.clone());
            }
            single.insert(
                "Statement".into(),
                Value::Array(vec![Value::Object(statement)]),
            );
            let policy = Policy::from_value(Value::Object(single))
                .map_err(|error| format!("trust policy: {error}"))?;
            parsed.push((federated, policy));
        }
        Ok(Self { statements: parsed })
    }

    /// Whether a token of `provider` whose condition keys are `keys` may assume `role_arn`.
    pub fn allows(
        &self,
        provider: &str,
        role_arn: &str,
        keys: std::collections::BTreeMap<String, Vec<String>>,
    ) -> bool {
        let policies: Vec<Policy> = self
            .statements
            .iter()
            .filter(|(federated, _)| {
                federated.iter().any(|p| match p.strip_suffix('*') {
                    Some(prefix) => provider.starts_with(prefix),
                    None => p == provider,
                })
            })
            .map(|(_, policy)| policy.clone())
            .collect();
        let context = tessera_credentials::RequestContext {
            action: "sts:AssumeRoleWithWebIdentity".to_owned(),
            resource: role_arn.to_owned(),
            keys,
        };
        tessera_credentials::evaluate(&policies, &context).is_allowed()
    }
}

/// The lowered configuration.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    roles: HashMap<String, Role>,
    default_source: Option<CredentialSource>,
    /// The OpenID providers by provider name (the ARN's host and path).
    pub openid_providers: HashMap<String, OpenIdProviderConfig>,
}

/// An hour: what GetCredentialsForIdentity's credentials last, as on AWS.
pub const DEFAULT_SESSION_SECONDS: u64 = 3600;

fn policy(value: &Value, what: &str) -> Result<Policy, String> {
    let parsed = match value {
        Value::String(text) => Policy::parse(text),
        other => Policy::parse(&other.to_string()),
    };
    parsed.map_err(|error| format!("{what}: {error}"))
}

impl Settings {
    /// Lowers the `[identity]` table; a malformed policy or an unknown STS name is an error
    /// at start rather than a surprise at the first request.
    pub fn from_config(config: &IdentityConfig) -> Result<Self, String> {
        let source = |name: Option<&str>| -> Result<CredentialSource, String> {
            match name {
                None | Some("builtin") => Ok(CredentialSource::Builtin),
                Some(name) => config
                    .sts
                    .iter()
                    .find(|sts| sts.name == name)
                    .cloned()
                    .map(CredentialSource::External)
                    .ok_or_else(|| format!("no [[identity.sts]] entry is named {name:?}")),
            }
        };
        let mut roles = HashMap::new();
        for role in &config.roles {
            let what = format!("role {}", role.arn);
            let mut policies = Vec::new();
            for value in role.policy.iter().chain(&role.policies) {
                policies.push(policy(value, &what)?);
            }
            let trust_policy = role
                .trust_policy
                .as_ref()
                .map(|value| TrustPolicy::parse(value).map_err(|e| format!("{what}: {e}")))
                .transpose()?;
            let max = role.max_session_duration.unwrap_or(DEFAULT_SESSION_SECONDS);
            if max == 0 {
                return Err(format!("{what}: max_session_duration must be positive"));
            }
            roles.insert(
                role.arn.clone(),
                Role {
                    arn: role.arn.clone(),
                    policies,
                    max_session_duration: max,
                    source: source(role.credentials.as_deref())?,
                    trust_policy,
                },
            );
        }
        let mut openid_providers = HashMap::new();
        for provider in &config.openid_providers {
            let name = provider
                .arn
                .split_once(":oidc-provider/")
                .map(|(_, name)| name.to_owned())
                .ok_or_else(|| format!("{} is not an IAM OIDC provider ARN", provider.arn))?;
            // An ID token names the app it was issued to; without a list of accepted
            // audiences, any app's tokens at that provider would open identities here.
            if provider.client_ids.is_empty() {
                return Err(format!(
                    "{}: client_ids must list the audiences (app client ids) accepted",
                    provider.arn
                ));
            }
            openid_providers.insert(name, provider.clone());
        }
        Ok(Self {
            roles,
            default_source: Some(source(config.default_credentials.as_deref())?),
            openid_providers,
        })
    }

    /// The role with this ARN: the declared one, or an undeclared role with no policy (its
    /// credentials authenticate but are allowed nothing) from the default source.
    pub fn role(&self, arn: &str) -> Role {
        self.roles.get(arn).cloned().unwrap_or_else(|| Role {
            arn: arn.to_owned(),
            policies: Vec::new(),
            max_session_duration: DEFAULT_SESSION_SECONDS,
            source: self
                .default_source
                .clone()
                .unwrap_or(CredentialSource::Builtin),
            trust_policy: None,
        })
    }
}
