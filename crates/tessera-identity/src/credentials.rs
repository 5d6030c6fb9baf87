//! GetCredentialsForIdentity (the enhanced flow): the identity's logins are checked, a role is
//! chosen (see [`crate::role`]) and credentials for it come from the role's source: tessera's
//! built-in STS (sealed, self-contained session tokens any node and any service holding the
//! session key can check) or an external STS that trusts tessera's identity issuer, asked
//! with AssumeRoleWithWebIdentity and a token of that issuer.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use tessera_credentials::{Entropy, SessionClaims};

use crate::config::{CredentialSource, Role, DEFAULT_SESSION_SECONDS};
use crate::identity::{self, Presented};
use crate::login::{LoginKind, IDENTITY_PROVIDER};
use crate::upstream::UpstreamError;
use crate::{issuer, role, Error, IdentityService, Input};

/// The session name Cognito gives the sessions it assumes for identities.
pub const SESSION_NAME: &str = "CognitoIdentityCredentials";

/// Credentials in the Cognito Identity API's spelling.
pub struct Issued {
    pub access_key_id: String,
    pub secret_key: String,
    pub session_token: String,
    pub expiration: u64,
}

impl Issued {
    /// The `Credentials` member: `SecretKey`, and `Expiration` in epoch seconds.
    pub fn to_json(&self) -> Value {
        json!({
            "AccessKeyId": self.access_key_id,
            "SecretKey": self.secret_key,
            "SessionToken": self.session_token,
            "Expiration": self.expiration,
        })
    }
}

pub async fn get_credentials_for_identity(
    state: &IdentityService,
    input: Input,
) -> Result<Value, Error> {
    let presented = identity::present(
        state,
        input.required_str("IdentityId")?,
        input.get("Logins"),
    )
    .await?;
    let custom = input.str("CustomRoleArn");
    // A passed-through guest token is still a guest: the pool must admit guests now.
    if !presented.authenticated() && !identity::allows_guests(&presented.pool) {
        return Err(identity::unauthenticated_not_supported());
    }
    // Role mappings decide by the claims of the original login, which a passed-through
    // identity token does not carry; the default role would bypass a mapping's Deny.
    let only_passed_through = presented
        .logins
        .iter()
        .all(|l| matches!(l.kind, LoginKind::IdentityToken { .. }));
    let mapped = presented
        .pool
        .roles
        .get("RoleMappings")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty());
    if presented.authenticated() && only_passed_through && mapped {
        return Err(Error::new(
            "NotAuthorizedException",
            "This identity pool maps roles from the login's claims: present the login rather than a cognito-identity.amazonaws.com token.",
        ));
    }
    let arn = if presented.authenticated() {
        role::authenticated(&presented.pool, &presented.logins, custom)?
    } else {
        let arn = role::unauthenticated(&presented.pool)?;
        if custom.is_some_and(|c| c != arn) {
            return Err(Error::new(
                "NotAuthorizedException",
                "A CustomRoleArn cannot be used by an unauthenticated identity.",
            ));
        }
        arn
    };
    let role = state.settings.role(&arn);
    let issued = credentials_for(state, &presented, &role, DEFAULT_SESSION_SECONDS).await?;
    Ok(json!({
        "IdentityId": presented.identity.id,
        "Credentials": issued.to_json(),
    }))
}

/// Credentials of `role` for what was presented, lasting at most `seconds` (and at most the
/// role's maximum).
pub async fn credentials_for(
    state: &IdentityService,
    presented: &Presented,
    role: &Role,
    seconds: u64,
) -> Result<Issued, Error> {
    let lifetime = seconds.min(role.max_session_duration);
    let tags = identity::principal_tags(&presented.pool, &presented.logins);
    let amr = identity::amr(presented);
    // The role's trust policy applies here as on AWS, where Cognito assumes the role through
    // STS: a role that trusts only some identity pools is not issued to another.
    if let Some(trust) = &role.trust_policy {
        let keys = crate::config::trust_keys(
            IDENTITY_PROVIDER,
            &presented.pool.id,
            &presented.identity.id,
            &amr,
        );
        if !trust.allows(IDENTITY_PROVIDER, &role.arn, keys) {
            return Err(role::invalid_configuration());
        }
    }
    match &role.source {
        CredentialSource::Builtin => Ok(mint(
            state,
            MintRequest {
                identity_id: &presented.identity.id,
                pool_id: &presented.pool.id,
                role,
                session_name: SESSION_NAME,
                amr,
                tags: &tags,
                lifetime,
                source: "cognito-identity",
            },
        )),
        CredentialSource::External(sts) => {
            let token = issuer::sign(
                state,
                &issuer::TokenClaims {
                    identity_id: &presented.identity.id,
                    pool_id: &presented.pool.id,
                    amr,
                    principal_tags: &tags,
                    lifetime_seconds: issuer::OPEN_ID_TOKEN_SECONDS,
                },
            )
            .await?;
            let answer = state
                .upstream
                .assume_role_with_web_identity(sts, &role.arn, SESSION_NAME, &token, lifetime)
                .await
                .map_err(|error| {
                    match &error {
                        UpstreamError::Refused { code, message } => tracing::warn!(
                            sts = %sts.name, code = %code, error = %message, "external STS refused"
                        ),
                        UpstreamError::Unavailable(detail)
                        | UpstreamError::InvalidToken(detail) => tracing::warn!(
                            sts = %sts.name, error = %detail, "external STS unavailable"
                        ),
                    }
                    match error {
                        UpstreamError::Refused { .. } => role::invalid_configuration(),
                        _ => Error::new(
                            "ExternalServiceException",
                            "The security token service could not be reached.",
                        ),
                    }
                })?;
            Ok(Issued {
                access_key_id: answer.access_key_id,
                secret_key: answer.secret_access_key,
                session_token: answer.session_token,
                expiration: answer.expiration,
            })
        }
    }
}

/// What the built-in STS puts in a session.
pub struct MintRequest<'a> {
    pub identity_id: &'a str,
    pub pool_id: &'a str,
    pub role: &'a Role,
    pub session_name: &'a str,
    pub amr: Vec<String>,
    pub tags: &'a Map<String, Value>,
    pub lifetime: u64,
    /// Who minted them: `cognito-identity` or `sts`.
    pub source: &'a str,
}

/// Mints built-in credentials: a sealed session naming the identity, its pool, the role and
/// its policies, the `amr` and the principal tags.
pub fn mint(state: &IdentityService, request: MintRequest<'_>) -> Issued {
    let now = state.now_seconds();
    let mut bytes = [0u8; Entropy::LEN];
    state.idp.random.fill(&mut bytes);
    let principal_tags: BTreeMap<String, String> = request
        .tags
        .iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        .collect();
    let credentials = tessera_credentials::issue(
        &state.session_keys[0],
        SessionClaims {
            identity_id: request.identity_id.to_owned(),
            identity_pool_id: request.pool_id.to_owned(),
            role_arn: request.role.arn.clone(),
            role_session_name: request.session_name.to_owned(),
            account: state.account_id().to_owned(),
            issued_at: now,
            expires_at: now + request.lifetime,
            amr: request.amr,
            principal_tags,
            policies: request.role.policies.clone(),
            source: request.source.to_owned(),
        },
        &Entropy::from_bytes(bytes),
    );
    Issued {
        access_key_id: credentials.access_key_id,
        secret_key: credentials.secret_access_key,
        session_token: credentials.session_token,
        expiration: credentials.expiration,
    }
}
