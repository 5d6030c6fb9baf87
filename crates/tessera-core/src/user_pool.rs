//! A user pool as the domain sees it.

use std::time::SystemTime;

use serde_json::{Map, Value};

/// A user pool. Its configuration is kept as the model-validated Cognito document
/// (`Policies`, `SchemaAttributes`, `LambdaConfig`, …): tessera stores and returns it member
/// for member, and the domain reads typed views of it where logic depends on a setting.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPool {
    /// `<region>_<9 alphanumerics>`.
    pub id: String,
    /// The pool name (not unique, as in Cognito).
    pub name: String,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it was last changed.
    pub last_modified_at: SystemTime,
    /// The configuration document, in Cognito's member names.
    pub settings: Map<String, Value>,
}

impl UserPool {
    /// True when `DeletionProtection` is `ACTIVE`.
    pub fn deletion_protected(&self) -> bool {
        self.settings
            .get("DeletionProtection")
            .and_then(Value::as_str)
            == Some("ACTIVE")
    }

    /// The pool's tags (`UserPoolTags`).
    pub fn tags(&self) -> Map<String, Value> {
        self.settings
            .get("UserPoolTags")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }
}

/// `arn:aws:cognito-idp:<region>:<account>:userpool/<pool id>`.
pub fn user_pool_arn(region: &str, account_id: &str, pool_id: &str) -> String {
    format!("arn:aws:cognito-idp:{region}:{account_id}:userpool/{pool_id}")
}
