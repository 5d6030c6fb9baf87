//! A user pool's identity providers (issue 15): the upstream OpenID Connect, social and SAML
//! providers users sign in through, as Cognito's identity-provider API configures them.

use std::time::SystemTime;

use serde_json::{Map, Value};

/// One identity provider of a pool.
#[derive(Clone, PartialEq)]
pub struct IdentityProvider {
    pub pool_id: String,
    /// `ProviderName`: unique in the pool.
    pub name: String,
    /// `ProviderType`: `OIDC`, `SAML`, `Google`, `Facebook`, `SignInWithApple`, `LoginWithAmazon`.
    pub provider_type: String,
    /// `ProviderDetails`, which hold secrets (`client_secret`, Apple's `private_key`): the
    /// store seals them, and `Debug` leaves them out.
    pub details: Map<String, Value>,
    /// `AttributeMapping`: pool attribute to the upstream's attribute or claim.
    pub attribute_mapping: Map<String, Value>,
    /// `IdpIdentifiers`, unique across the pool.
    pub idp_identifiers: Vec<String>,
    /// `AcrMapping`, when set.
    pub acr_mapping: Option<Map<String, Value>>,
    pub created_at: SystemTime,
    pub last_modified_at: SystemTime,
    /// Bumped by every write; a write names the version it read.
    pub version: i64,
}

impl std::fmt::Debug for IdentityProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityProvider")
            .field("pool_id", &self.pool_id)
            .field("name", &self.name)
            .field("provider_type", &self.provider_type)
            .field("idp_identifiers", &self.idp_identifiers)
            .finish_non_exhaustive()
    }
}

impl IdentityProvider {
    /// The AEAD context its details are sealed under: bound to the pool and the name, so a
    /// sealed document cannot be moved to another provider.
    pub fn seal_context(pool_id: &str, name: &str) -> String {
        format!("identity-provider:{pool_id}:{name}")
    }
}
