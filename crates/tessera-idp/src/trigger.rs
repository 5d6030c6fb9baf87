//! Cognito's Lambda triggers (issue 12): which function a pool's `LambdaConfig` names for a
//! trigger, the event every trigger receives, and its failures as Cognito's exceptions. The
//! function runs through the service's `Invoke` (the binary plugs in `tessera-triggers`).
//! The operations that fire triggers build the trigger-specific `request` and read the
//! trigger-specific `response`; what is common to all of them is here.

use serde_json::{json, Map, Value};
use tessera_core::trigger::InvokeError;
use tessera_core::{User, UserPool};

use crate::directory::Directory;
use crate::input::Input;
use crate::{Error, Service};

/// A trigger, by the name Cognito's messages give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    PreSignUp,
    PostConfirmation,
    PreAuthentication,
    PostAuthentication,
    PreTokenGeneration,
    CustomMessage,
    UserMigration,
    DefineAuthChallenge,
    CreateAuthChallenge,
    VerifyAuthChallengeResponse,
    CustomEmailSender,
    CustomSmsSender,
    /// Sees (and may change) what an upstream identity provider says about a user before
    /// the attribute mapping applies (issue 15).
    InboundFederation,
}

impl Trigger {
    /// The name in messages and in `LambdaConfig`.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::PreSignUp => "PreSignUp",
            Trigger::PostConfirmation => "PostConfirmation",
            Trigger::PreAuthentication => "PreAuthentication",
            Trigger::PostAuthentication => "PostAuthentication",
            Trigger::PreTokenGeneration => "PreTokenGeneration",
            Trigger::CustomMessage => "CustomMessage",
            Trigger::UserMigration => "UserMigration",
            Trigger::DefineAuthChallenge => "DefineAuthChallenge",
            Trigger::CreateAuthChallenge => "CreateAuthChallenge",
            Trigger::VerifyAuthChallengeResponse => "VerifyAuthChallengeResponse",
            Trigger::CustomEmailSender => "CustomEmailSender",
            Trigger::CustomSmsSender => "CustomSMSSender",
            Trigger::InboundFederation => "InboundFederation",
        }
    }
}

/// The function the pool runs for `trigger`, if any. For PreTokenGeneration,
/// `PreTokenGenerationConfig.LambdaArn` names it (with its event version); the older
/// `PreTokenGeneration` member alone means version 1.
pub fn function(pool: &UserPool, trigger: Trigger) -> Option<(String, &'static str)> {
    let config = pool.settings.get("LambdaConfig")?;
    let arn = |value: Option<&Value>| {
        value
            .and_then(Value::as_str)
            .filter(|arn| !arn.is_empty())
            .map(str::to_owned)
    };
    // The custom senders and InboundFederation are named by a `{LambdaVersion, LambdaArn}`
    // object.
    if matches!(
        trigger,
        Trigger::CustomEmailSender | Trigger::CustomSmsSender | Trigger::InboundFederation
    ) {
        return arn(config.get(trigger.name()).and_then(|c| c.get("LambdaArn")))
            .map(|function| (function, "1"));
    }
    if trigger == Trigger::PreTokenGeneration {
        if let Some(versioned) = config.get("PreTokenGenerationConfig") {
            if let Some(function) = arn(versioned.get("LambdaArn")) {
                let version = match versioned.get("LambdaVersion").and_then(Value::as_str) {
                    Some("V3_0") => "3",
                    Some("V2_0") => "2",
                    _ => "1",
                };
                return Some((function, version));
            }
        }
    }
    arn(config.get(trigger.name())).map(|function| (function, "1"))
}

/// One call of a trigger: Cognito's event envelope around the trigger's own `request`.
pub struct Call<'a> {
    pub trigger: Trigger,
    /// `triggerSource`, e.g. `PreSignUp_SignUp`.
    pub source: &'a str,
    pub pool: &'a UserPool,
    /// The user's internal name (what the user typed, for UserMigration).
    pub user_name: &'a str,
    /// The app client, or none for an administrator's call (`CLIENT_ID_NOT_APPLICABLE`).
    pub client_id: Option<&'a str>,
    /// The trigger's `request` (with `userAttributes`).
    pub request: Value,
}

impl Call<'_> {
    /// The event as the function receives it.
    pub fn event(&self, version: &str) -> Value {
        json!({
            "version": version,
            "triggerSource": self.source,
            "region": tessera_core::region_of_pool_id(&self.pool.id).unwrap_or_default(),
            "userPoolId": self.pool.id,
            "userName": self.user_name,
            "callerContext": {
                "awsSdkVersion": "aws-sdk-unknown-unknown",
                "clientId": self.client_id.unwrap_or("CLIENT_ID_NOT_APPLICABLE"),
            },
            "request": self.request,
            "response": {},
        })
    }
}

/// `request.userAttributes` for a stored user: every attribute as a string, with `sub`, the
/// account's status as `cognito:user_status`, and `cognito:email_alias` /
/// `cognito:phone_number_alias` for an address that signs the user in.
pub fn user_attributes(directory: &Directory, user: &User) -> Value {
    let mut attributes = Map::new();
    attributes.insert("sub".into(), json!(user.sub));
    for (name, value) in &user.attributes {
        attributes.insert(name.clone(), json!(value));
    }
    attributes.insert("cognito:user_status".into(), json!(user.status.as_str()));
    for (kind, _) in directory.aliases_of(user) {
        if kind == "email" || kind == "phone_number" {
            if let Some(value) = user.attributes.get(&kind) {
                attributes.insert(format!("cognito:{kind}_alias"), json!(value));
            }
        }
    }
    Value::Object(attributes)
}

/// Adds the request's `ClientMetadata` to a trigger's `request` as `clientMetadata`. Cognito
/// leaves the member out when the caller gave none.
pub fn with_client_metadata(request: Value, input: &Input) -> Value {
    with_client_metadata_map(
        request,
        input.get("ClientMetadata").and_then(Value::as_object),
    )
}

/// [`with_client_metadata`] for metadata already read.
pub fn with_client_metadata_map(
    mut request: Value,
    metadata: Option<&Map<String, Value>>,
) -> Value {
    if let (Some(metadata), Value::Object(request)) = (metadata, &mut request) {
        request.insert("clientMetadata".into(), Value::Object(metadata.clone()));
    }
    request
}

/// The request's `ValidationData` (a list of `{Name, Value}`), as the map `validationData`
/// (`null` when the caller gave none).
pub fn validation_data(input: &Input) -> Value {
    let Some(Value::Array(list)) = input.get("ValidationData") else {
        return Value::Null;
    };
    let map: Map<String, Value> = list
        .iter()
        .filter_map(|pair| {
            Some((
                pair.get("Name")?.as_str()?.to_owned(),
                pair.get("Value")?.clone(),
            ))
        })
        .collect();
    Value::Object(map)
}

/// A boolean member of a function's `response`: `true` only when it is JSON `true` (or the
/// string "true", which handlers written for other runtimes send).
pub fn flag(response: &Map<String, Value>, member: &str) -> bool {
    match response.get(member) {
        Some(Value::Bool(value)) => *value,
        Some(Value::String(value)) => value.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// Runs a trigger that only informs the function (PostConfirmation, PostAuthentication): its
/// answer's `response` is not read, but a failure still fails the call, as in Cognito.
pub async fn notify(service: &Service, call: &Call<'_>) -> Result<(), Error> {
    run(service, call).await.map(|_| ())
}

/// Runs the pool's function for `call.trigger`, if it has one, and returns the `response`
/// the function filled in (`None` when the pool has no such trigger). A function that fails,
/// cannot be run or answers something that is not an event fails the call with Cognito's
/// exception, before the caller changes anything.
pub async fn run(service: &Service, call: &Call<'_>) -> Result<Option<Map<String, Value>>, Error> {
    let Some((function, version)) = function(call.pool, call.trigger) else {
        return Ok(None);
    };
    let answer = service
        .triggers
        .invoke(&function, &call.event(version))
        .await
        .map_err(|error| failure(call.trigger, error))?;
    response_of(call.trigger, answer).map(Some)
}

/// The `response` of a function's answer: the event it was given, with `response` an object
/// (absent or `null` is an empty response).
fn response_of(trigger: Trigger, answer: Value) -> Result<Map<String, Value>, Error> {
    let Value::Object(mut event) = answer else {
        return Err(not_an_event(trigger));
    };
    match event.remove("response") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(response)) => Ok(response),
        Some(_) => Err(not_an_event(trigger)),
    }
}

fn not_an_event(trigger: Trigger) -> Error {
    tracing::warn!(
        trigger = trigger.name(),
        "a trigger's answer is not its event"
    );
    unrecognizable()
}

/// Cognito's exception for a function's answer it cannot use: not the event, or a `response`
/// member of the wrong shape.
pub fn unrecognizable() -> Error {
    Error::new(
        "InvalidLambdaResponseException",
        "Unrecognizable lambda output",
    )
}

/// Whether an exception named `kind` is one of a failed trigger's (the function refused,
/// could not be run, or answered something unusable). The hosted pages and the token
/// endpoint show these in Cognito's words.
pub fn is_failure(kind: &str) -> bool {
    matches!(
        kind,
        "UserLambdaValidationException"
            | "UnexpectedLambdaException"
            | "InvalidLambdaResponseException"
    )
}

/// Cognito's exception for a failed trigger.
fn failure(trigger: Trigger, error: InvokeError) -> Error {
    let name = trigger.name();
    match error {
        InvokeError::Function(message) => Error::new(
            "UserLambdaValidationException",
            format!("{name} failed with error {message}."),
        ),
        InvokeError::Timeout => Error::new(
            "UnexpectedLambdaException",
            format!("{name} invocation failed due to error Socket timeout while invoking Lambda function."),
        ),
        InvokeError::Invocation { error_type, .. } => Error::new(
            "UnexpectedLambdaException",
            format!("{name} invocation failed due to error {error_type}."),
        ),
        InvokeError::Unreadable(_) => not_an_event(trigger),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(lambda_config: Value) -> UserPool {
        let mut settings = Map::new();
        settings.insert("LambdaConfig".into(), lambda_config);
        UserPool {
            id: "eu-west-1_AbCdEf123".into(),
            name: "p".into(),
            created_at: std::time::SystemTime::UNIX_EPOCH,
            last_modified_at: std::time::SystemTime::UNIX_EPOCH,
            settings,
        }
    }

    #[test]
    fn functions_come_from_lambda_config() {
        let arn = "arn:aws:lambda:eu-west-1:123456789012:function:f";
        let p = pool(json!({"PreSignUp": arn, "PreTokenGeneration": "arn:old"}));
        assert_eq!(
            function(&p, Trigger::PreSignUp),
            Some((arn.to_owned(), "1"))
        );
        assert_eq!(function(&p, Trigger::PostConfirmation), None);
        assert_eq!(
            function(&p, Trigger::PreTokenGeneration),
            Some(("arn:old".to_owned(), "1"))
        );
        let p = pool(
            json!({"PreTokenGeneration": "arn:x", "PreTokenGenerationConfig": {"LambdaArn": "arn:x", "LambdaVersion": "V2_0"}}),
        );
        assert_eq!(
            function(&p, Trigger::PreTokenGeneration),
            Some(("arn:x".to_owned(), "2"))
        );
        assert_eq!(
            function(&pool(json!({"PreSignUp": ""})), Trigger::PreSignUp),
            None
        );
    }

    #[test]
    fn the_event_is_cognitos_envelope() {
        let p = pool(json!({}));
        let call = Call {
            trigger: Trigger::PreSignUp,
            source: "PreSignUp_SignUp",
            pool: &p,
            user_name: "alice",
            client_id: None,
            request: json!({"userAttributes": {"email": "a@example.com"}}),
        };
        assert_eq!(
            call.event("1"),
            json!({
                "version": "1", "triggerSource": "PreSignUp_SignUp", "region": "eu-west-1",
                "userPoolId": "eu-west-1_AbCdEf123", "userName": "alice",
                "callerContext": {"awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "CLIENT_ID_NOT_APPLICABLE"},
                "request": {"userAttributes": {"email": "a@example.com"}}, "response": {}
            })
        );
    }

    #[test]
    fn failures_are_cognitos_exceptions() {
        let function = failure(
            Trigger::PreSignUp,
            InvokeError::Function("Registration from this domain is not allowed.".into()),
        );
        assert_eq!(function.kind, "UserLambdaValidationException");
        // Cognito appends the period even after one.
        assert_eq!(
            function.message,
            "PreSignUp failed with error Registration from this domain is not allowed.."
        );
        let timeout = failure(Trigger::PostConfirmation, InvokeError::Timeout);
        assert_eq!(timeout.kind, "UnexpectedLambdaException");
        assert_eq!(timeout.message, "PostConfirmation invocation failed due to error Socket timeout while invoking Lambda function.");
        let missing = failure(
            Trigger::CustomMessage,
            InvokeError::Invocation {
                error_type: "ResourceNotFoundException".into(),
                detail: "no table".into(),
            },
        );
        assert_eq!(
            missing.message,
            "CustomMessage invocation failed due to error ResourceNotFoundException."
        );
        let garbage = failure(Trigger::PreSignUp, InvokeError::Unreadable("x".into()));
        assert_eq!(
            (garbage.kind, garbage.message.as_str()),
            (
                "InvalidLambdaResponseException",
                "Unrecognizable lambda output"
            )
        );
    }

    #[test]
    fn answers_must_be_the_event() {
        assert_eq!(
            response_of(
                Trigger::PreSignUp,
                json!({"response": {"autoConfirmUser": true}})
            )
            .unwrap(),
            json!({"autoConfirmUser": true})
                .as_object()
                .unwrap()
                .clone()
        );
        assert!(response_of(Trigger::PreSignUp, json!({"response": null}))
            .unwrap()
            .is_empty());
        assert!(response_of(Trigger::PreSignUp, json!({}))
            .unwrap()
            .is_empty());
        assert!(response_of(Trigger::PreSignUp, json!([1])).is_err());
        assert!(response_of(Trigger::PreSignUp, json!({"response": "yes"})).is_err());
    }
}
