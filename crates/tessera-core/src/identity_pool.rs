//! Identity pools (issue 14): a pool of identities, each of which may be linked to logins of
//! upstream providers (a tessera user pool, an OpenID Connect issuer, a developer provider),
//! and the roles whose temporary credentials its identities receive.

use std::time::SystemTime;

use serde_json::{Map, Value};

/// An identity pool as stored: the Cognito documents it is configured with.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityPool {
    /// `<region>:<uuid>`.
    pub id: String,
    pub name: String,
    /// The `IdentityPool` members other than the id (`IdentityPoolName`,
    /// `AllowUnauthenticatedIdentities`, `CognitoIdentityProviders`, …), as validated by the
    /// service model.
    pub settings: Map<String, Value>,
    /// `Roles` and `RoleMappings`, as SetIdentityPoolRoles received them.
    pub roles: Map<String, Value>,
    /// Principal-tag maps by provider name: `{UseDefaults, PrincipalTags}`.
    pub principal_tags: Map<String, Value>,
    pub created_at: SystemTime,
    pub last_modified_at: SystemTime,
    /// Bumped by every write; a write names the version it read.
    pub version: i64,
}

/// One login linked to an identity: a provider name and the user it names there.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Login {
    /// The canonical provider name (`cognito-idp.<region>.amazonaws.com/<pool id>`, an OpenID
    /// issuer's host and path, or the pool's developer provider name).
    pub provider: String,
    /// The user at the provider: a token's `sub`, or a developer user identifier.
    pub subject: String,
}

/// An identity of a pool, with its logins (none for a guest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `<region>:<uuid>`.
    pub id: String,
    pub pool_id: String,
    pub logins: Vec<Login>,
    /// Set when its first login was linked, and never cleared: "removing the last linked
    /// login will make this identity inaccessible" (Cognito), not a guest again.
    pub authenticated: bool,
    pub created_at: SystemTime,
    pub last_modified_at: SystemTime,
}

impl Identity {
    /// Whether only a login can reach the identity (it has, or once had, one).
    pub fn is_authenticated(&self) -> bool {
        self.authenticated || !self.logins.is_empty()
    }
}

/// The ARN of an identity pool, as TagResource names it.
pub fn identity_pool_arn(region: &str, account_id: &str, pool_id: &str) -> String {
    format!("arn:aws:cognito-identity:{region}:{account_id}:identitypool/{pool_id}")
}

/// The region an identity or identity-pool id belongs to: the part before `:`.
pub fn region_of_identity_id(id: &str) -> Option<&str> {
    id.split_once(':').map(|(region, _)| region)
}
