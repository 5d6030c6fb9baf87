//! The seam between the Cognito service and whatever runs a pool's Lambda triggers. The
//! service builds Cognito's event for a trigger, hands it to an [`Invoke`] with the function's
//! ARN from the pool's `LambdaConfig`, and reads the answer back as the same event with
//! `response` filled in. The binary plugs in the implementation (`tessera-triggers`: a signed
//! webhook or the Lambda Invoke API per function), so the service knows no HTTP.

/// Why a trigger's function gave no usable answer. Each maps to one Cognito exception.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function ran and failed, with its message (Lambda's `errorMessage`), as the function
    /// gave it: Cognito's `UserLambdaValidationException`.
    #[error("the function failed")]
    Function(String),
    /// The function did not answer in time (Cognito gives it five seconds).
    #[error("the function did not answer in time")]
    Timeout,
    /// The function could not be run: no target for its ARN, the target unreachable, an
    /// error from the Lambda API itself. `error_type` is what Cognito's message names (the
    /// Lambda API's error type, such as `ResourceNotFoundException`, else `ServiceException`);
    /// `detail` is for the log, never for the client.
    #[error("the function could not be invoked ({error_type}): {detail}")]
    Invocation { error_type: String, detail: String },
    /// The function answered with something that is not an event: Cognito's
    /// `InvalidLambdaResponseException`. The text is for the log, never for the client.
    #[error("the function's answer is not an event: {0}")]
    Unreadable(String),
}

/// Something that can run a trigger's function.
#[async_trait::async_trait]
pub trait Invoke: Send + Sync {
    /// Runs the function named by `function_arn` with `event` and returns its answer, which
    /// the caller reads as the event with `response` filled in. An `Ok` answer is a JSON value
    /// of any kind: whether it is a usable event is the caller's to decide.
    async fn invoke(
        &self,
        function_arn: &str,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError>;
}

/// The runner of a server configured with no trigger targets: a pool whose `LambdaConfig`
/// names a function gets Cognito's answer for a function that cannot be found.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTargets;

#[async_trait::async_trait]
impl Invoke for NoTargets {
    async fn invoke(
        &self,
        _function_arn: &str,
        _event: &serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError> {
        Err(InvokeError::Invocation {
            error_type: "ResourceNotFoundException".into(),
            detail: "no trigger targets are configured".into(),
        })
    }
}
