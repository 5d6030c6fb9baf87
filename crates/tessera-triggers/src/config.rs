//! The `[[triggers]]` tables of the config file: which functions go to which target.

use std::fmt;

use serde::Deserialize;

/// Every `[[triggers]]` table, in the order given: the first whose `functions` match an ARN
/// runs it.
#[derive(Debug, Clone, Default)]
pub struct TriggersConfig {
    pub targets: Vec<TargetConfig>,
}

/// One `[[triggers]]` table.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// The function ARNs this target runs: an ARN, or a pattern in which `*` stands for any
    /// run of characters (`arn:aws:lambda:*:*:function:pre-*`, or `*` for every function).
    pub functions: Vec<String>,
    /// A webhook URL (http or https). Exactly one of `webhook` and `lambda_endpoint`.
    pub webhook: Option<String>,
    /// The webhook's signing secrets, `whsec_` and base64; every one signs each call, so a
    /// receiver can move to a new secret while the old one is still listed.
    #[serde(default)]
    pub secrets: Vec<String>,
    /// The base URL of a Lambda Invoke API (`http://127.0.0.1:3001` for `sam local
    /// start-lambda`, `http://localhost:4566` for LocalStack, `https://lambda.<region>.amazonaws.com`).
    pub lambda_endpoint: Option<String>,
    /// The credentials that sign Lambda calls; the emulators accept any.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// The region Lambda calls are signed for when the function is not named by an ARN
    /// (an ARN names its own); `us-east-1` when absent.
    pub region: Option<String>,
    /// How long a call may take: 5 seconds (Cognito's limit) when absent.
    pub timeout_seconds: Option<u64>,
    /// Allows a plain `http` target on another host (say `http://localstack:4566` in a
    /// compose network). Off by default: a function's answer decides sign-ins (a custom
    /// challenge's `answerCorrect`, a migrated user's attributes) and is not signed, so only
    /// TLS or the loopback interface keeps it from being forged on the way.
    #[serde(default)]
    pub allow_insecure_http: bool,
}

/// Secrets are left out because `Debug` output ends up in logs.
impl fmt::Debug for TargetConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TargetConfig")
            .field("functions", &self.functions)
            .field("webhook", &self.webhook.as_ref().map(|_| "<url>"))
            .field("secrets", &format_args!("<{} secrets>", self.secrets.len()))
            .field("lambda_endpoint", &self.lambda_endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("region", &self.region)
            .field("timeout_seconds", &self.timeout_seconds)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .finish()
    }
}
