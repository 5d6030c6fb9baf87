//! [`Triggers`]: which target runs a function, the call, and its log line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{redirect, Client, Response};
use tessera_core::{Clock, Random};

use crate::config::{TargetConfig, TriggersConfig};
use crate::lambda::Lambda;
use crate::webhook::Webhook;
use crate::{ConfigError, Invoke, InvokeError, MAX_ANSWER_BYTES};

/// Cognito gives a trigger five seconds.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

enum Target {
    Webhook(Webhook),
    Lambda(Lambda),
}

struct Route {
    functions: Vec<String>,
    target: Target,
    timeout: Duration,
}

/// Runs each function on the first configured target whose `functions` match its ARN.
pub struct Triggers {
    routes: Vec<Route>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
}

impl Triggers {
    /// Checks the configuration and builds the targets.
    pub fn new(
        config: &TriggersConfig,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Result<Self, ConfigError> {
        let client = Client::builder()
            // A redirect would turn the POST into a GET and lose the event; a target that
            // moved is a configuration problem to surface, not to follow.
            .redirect(redirect::Policy::none())
            .build()
            .map_err(|_| ConfigError("cannot build the HTTP client".into()))?;
        let routes = config
            .targets
            .iter()
            .map(|target| route(&client, target))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            routes,
            clock,
            random,
        })
    }

    fn route_of(&self, function_arn: &str) -> Option<&Route> {
        self.routes.iter().find(|route| {
            route
                .functions
                .iter()
                .any(|pattern| matches(pattern, function_arn))
        })
    }
}

fn route(client: &Client, config: &TargetConfig) -> Result<Route, ConfigError> {
    if config.functions.is_empty() || config.functions.iter().any(String::is_empty) {
        return Err(ConfigError(
            "each [[triggers]] table names its functions (an ARN, a pattern with *, or *)".into(),
        ));
    }
    let timeout = match config.timeout_seconds {
        None => DEFAULT_TIMEOUT,
        Some(0) => return Err(ConfigError("timeout_seconds must be at least 1".into())),
        Some(seconds) => Duration::from_secs(seconds),
    };
    for url in [&config.webhook, &config.lambda_endpoint]
        .into_iter()
        .flatten()
    {
        if !config.allow_insecure_http && insecure(url) {
            return Err(ConfigError(
                "a trigger target over plain http must be on this machine (127.0.0.1, ::1, localhost); use https, or set allow_insecure_http = true".into(),
            ));
        }
    }
    let target = match (&config.webhook, &config.lambda_endpoint) {
        (Some(url), None) => {
            if config.access_key_id.is_some() || config.region.is_some() {
                return Err(ConfigError(
                    "access_key_id, secret_access_key and region are for lambda_endpoint".into(),
                ));
            }
            Target::Webhook(Webhook::new(client.clone(), url, &config.secrets)?)
        }
        (None, Some(endpoint)) => {
            if !config.secrets.is_empty() {
                return Err(ConfigError("secrets are for a webhook".into()));
            }
            Target::Lambda(Lambda::new(
                client.clone(),
                endpoint,
                config.access_key_id.as_deref(),
                config.secret_access_key.as_deref(),
                config.region.as_deref(),
            )?)
        }
        _ => {
            return Err(ConfigError(
                "each [[triggers]] table has either webhook or lambda_endpoint".into(),
            ))
        }
    };
    Ok(Route {
        functions: config.functions.clone(),
        target,
        timeout,
    })
}

/// Whether `url` is plain http to another machine. (A URL that does not parse is refused
/// later, with its own message.)
fn insecure(url: &str) -> bool {
    let Ok(url) = url.parse::<reqwest::Url>() else {
        return false;
    };
    if url.scheme() != "http" {
        return false;
    }
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return false;
    }
    host.parse::<std::net::IpAddr>()
        .map_or(true, |address| !address.is_loopback())
}

/// Whether `arn` matches `pattern`, in which `*` stands for any run of characters.
pub(crate) fn matches(pattern: &str, arn: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = arn.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        // No `*`: the pattern is the whole ARN.
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[async_trait::async_trait]
impl Invoke for Triggers {
    async fn invoke(
        &self,
        function_arn: &str,
        event: &serde_json::Value,
    ) -> Result<serde_json::Value, InvokeError> {
        let source = event
            .get("triggerSource")
            .and_then(|s| s.as_str())
            .unwrap_or_default()
            .to_owned();
        let Some(route) = self.route_of(function_arn) else {
            tracing::warn!(
                target: "tessera::trigger",
                trigger_source = %source,
                function = %function_arn,
                outcome = "no_target",
                "no [[triggers]] table runs this function"
            );
            return Err(InvokeError::Invocation {
                error_type: "ResourceNotFoundException".into(),
                detail: "no [[triggers]] table runs this function".into(),
            });
        };
        let body = serde_json::to_vec(event)
            .map_err(|error| service_error(format!("encoding the event: {error}")))?;
        let started = Instant::now();
        let (target, result) = match &route.target {
            Target::Webhook(webhook) => (
                webhook.describe(),
                webhook
                    .call(
                        body,
                        route.timeout,
                        self.clock.as_ref(),
                        self.random.as_ref(),
                    )
                    .await,
            ),
            Target::Lambda(lambda) => (
                lambda.describe(),
                lambda
                    .call(function_arn, body, route.timeout, self.clock.as_ref())
                    .await,
            ),
        };
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        metrics::histogram!(
            "tessera_trigger_duration_seconds",
            "outcome" => match &result {
                Ok(_) => "answered",
                Err(InvokeError::Function(_)) => "function_error",
                Err(_) => "invocation_error",
            },
        )
        .record(latency_ms / 1000.0);
        // The event and the answer hold codes and passwords, and a function's message may
        // quote them: none of them is logged.
        match &result {
            Ok(_) | Err(InvokeError::Function(_)) => tracing::info!(
                target: "tessera::trigger",
                trigger_source = %source,
                function = %function_arn,
                target = %target,
                latency_ms,
                outcome = if result.is_ok() { "answered" } else { "function_error" },
                "trigger ran"
            ),
            Err(error) => tracing::warn!(
                target: "tessera::trigger",
                trigger_source = %source,
                function = %function_arn,
                target = %target,
                latency_ms,
                outcome = "invocation_error",
                %error,
                "trigger did not run"
            ),
        }
        result
    }
}

/// An answer's body: JSON, or anything else.
pub(crate) enum Answer {
    Json(serde_json::Value),
    Other,
}

impl Answer {
    /// The answer as the event it must be.
    pub(crate) fn into_event(self) -> Result<serde_json::Value, InvokeError> {
        match self {
            Answer::Json(value) => Ok(value),
            Answer::Other => Err(InvokeError::Unreadable("the answer is not JSON".into())),
        }
    }
}

/// Reads at most [`MAX_ANSWER_BYTES`] of an answer.
pub(crate) async fn read_answer(mut response: Response) -> Result<Answer, InvokeError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(InvokeError::Unreadable(format!(
                "the answer is longer than {MAX_ANSWER_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(serde_json::from_slice(&body).map_or(Answer::Other, Answer::Json))
}

/// A failure of tessera's side or of the transport, which Cognito would call a Lambda
/// `ServiceException`.
pub(crate) fn service_error(detail: impl Into<String>) -> InvokeError {
    InvokeError::Invocation {
        error_type: "ServiceException".into(),
        detail: detail.into(),
    }
}

/// A transport failure, described without the URL (it may carry a token).
pub(crate) fn transport(error: reqwest::Error) -> InvokeError {
    if error.is_timeout() {
        InvokeError::Timeout
    } else if error.is_connect() {
        service_error("could not connect")
    } else {
        service_error(error.without_url().to_string())
    }
}
