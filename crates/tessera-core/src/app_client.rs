//! An app client of a user pool.

use std::time::SystemTime;

use serde_json::{Map, Value};

/// An app client. Like a pool, its settings are the model-validated Cognito document.
#[derive(Clone, PartialEq)]
pub struct AppClient {
    /// The pool it belongs to.
    pub user_pool_id: String,
    /// Radix-32 id, 26 characters.
    pub client_id: String,
    /// Display name.
    pub client_name: String,
    /// The secret, when the client has one; sealed by the store.
    pub secret: Option<String>,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it was last changed.
    pub last_modified_at: SystemTime,
    /// `ExplicitAuthFlows`, token validities, OAuth settings, … in Cognito's member names.
    pub settings: Map<String, Value>,
}

impl std::fmt::Debug for AppClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppClient")
            .field("user_pool_id", &self.user_pool_id)
            .field("client_id", &self.client_id)
            .field("client_name", &self.client_name)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl AppClient {
    /// The context that binds the sealed secret to this client.
    pub fn seal_context(client_id: &str) -> String {
        format!("client-secret:{client_id}")
    }
}
