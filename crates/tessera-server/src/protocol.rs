//! AWS JSON 1.1 framing: `POST /` with `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`,
//! dispatch, request ids, and the order of checks a real AWS endpoint applies (operation,
//! body size, signature, then the model's validation).

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::Value;
use tessera_proto::model::ServiceModel;

use tessera_idp::input::Input;

use crate::connection::Peer;
use crate::{signature, ApiError, AppState};

/// The content type of every AWS JSON 1.1 request and response.
pub(crate) const AMZ_JSON: &str = "application/x-amz-json-1.1";

/// The largest request body accepted. Cognito's largest legitimate inputs (UI customization
/// CSS and images) stay well below it.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The request id, in the request's extensions: Cognito reuses it as the `event_id` claim.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

/// Gives every request a fresh `x-amzn-RequestId`, returns it on the response, and puts it
/// on the tracing span so that every log line of the request carries it.
pub(crate) async fn request_id(mut request: Request, next: Next) -> Response {
    use tracing::Instrument;
    let id = uuid::Uuid::new_v4().to_string();
    request.extensions_mut().insert(RequestId(id.clone()));
    // The span is the request's OpenTelemetry span when traces are exported (issue 16): named
    // after OpenTelemetry's HTTP and RPC conventions, the operation and outcome recorded once
    // known (`telemetry::request`), and a child of the caller's `traceparent`, if any.
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        "http.request.method" = %request.method(),
        "url.path" = %request.uri().path(),
        "rpc.system" = tracing::field::Empty,
        "rpc.service" = tracing::field::Empty,
        "rpc.method" = tracing::field::Empty,
        "tessera.outcome" = tracing::field::Empty,
        "http.response.status_code" = tracing::field::Empty,
    );
    crate::telemetry::follow_caller(&span, request.headers());
    let mut response = next.run(request).instrument(span.clone()).await;
    span.record(
        "http.response.status_code",
        i64::from(response.status().as_u16()),
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

/// `GET /` and other methods on the API path.
pub(crate) async fn not_post() -> ApiError {
    ApiError {
        kind: "UnknownOperationException",
        message: "The API accepts POST requests only.".into(),
        status: StatusCode::METHOD_NOT_ALLOWED,
    }
}

/// `POST /`: the Cognito Identity Provider API, the Cognito Identity API (both AWS JSON 1.1,
/// told apart by the `X-Amz-Target` prefix) and, for a form-encoded request without a
/// target, the built-in STS (AWS Query protocol).
pub(crate) async fn cognito_api(State(state): State<AppState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if crate::sts::is_query_request(&parts) {
        return crate::sts::handle(&state, &parts, body).await;
    }
    let started = std::time::Instant::now();
    // What the request names, as far as it was resolved: for metrics, whose labels are the
    // model's names (or `unknown`), never a caller's text.
    let mut named = (Api::UserPools.label(), "unknown");
    let answer = handle(&state, &parts, body, &mut named).await;
    crate::telemetry::request(
        named.0,
        named.1,
        match &answer {
            Ok(_) => "ok",
            Err(error) => error.kind,
        },
        started,
    );
    match answer {
        Ok(output) => {
            let mut response = (StatusCode::OK, output.to_string()).into_response();
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(AMZ_JSON),
            );
            response
        }
        Err(error) => error.into_response(),
    }
}

/// Which of the two JSON APIs a request is for.
#[derive(Clone, Copy)]
enum Api {
    UserPools,
    Identity,
}

impl Api {
    /// The `api` label of the metrics.
    fn label(self) -> &'static str {
        match self {
            Api::UserPools => "cognito-idp",
            Api::Identity => "cognito-identity",
        }
    }
}

fn unknown_operation(message: impl Into<String>) -> ApiError {
    ApiError::new("UnknownOperationException", message)
}

async fn handle(
    state: &AppState,
    parts: &http::request::Parts,
    body: Body,
    named: &mut (&'static str, &'static str),
) -> Result<Value, ApiError> {
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unknown_operation("Missing X-Amz-Target header."))?;
    let identity = ServiceModel::cognito_identity();
    let (api, model) = match target.split_once('.') {
        Some((prefix, _)) if prefix == identity.target_prefix() => (Api::Identity, identity),
        _ => (Api::UserPools, ServiceModel::cognito_idp()),
    };
    named.0 = api.label();
    let operation = target
        .split_once('.')
        .filter(|(prefix, _)| *prefix == model.target_prefix())
        .and_then(|(_, name)| model.operation(name))
        .ok_or_else(|| {
            unknown_operation(format!(
                "Unknown operation {}.",
                tessera_core::excerpt(target)
            ))
        })?;
    named.1 = operation.name.as_str();

    let body = read_body(body).await?;
    let region = if operation.public {
        None
    } else {
        let service = match api {
            Api::UserPools => signature::SERVICE,
            Api::Identity => signature::IDENTITY_SERVICE,
        };
        Some(
            signature::authenticate_for(state, parts, &body, signature::Covers::Operation, service)
                .await?,
        )
    };
    // The service's error type names the model's refusals as AWS does.
    let input = model
        .validate_input(operation, &body)
        .map_err(tessera_idp::Error::from)?;
    let request_id = parts
        .extensions
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let input = Input::new(input)
        .with_request_id(request_id)
        .with_region(region);
    let output = match api {
        Api::UserPools => {
            // Rate limits count a request once it is known to be well formed and, for admin
            // operations, signed: refusals of bad requests do not use up a quota.
            let source = parts.extensions.get::<Peer>().map(|peer| peer.0.ip());
            state.admit(&operation.name, &input, source).await?;
            state.execute(&operation.name, input).await?
        }
        Api::Identity => {
            state.admit_identity(&operation.name, &input).await?;
            state.identity.execute(&operation.name, input).await?
        }
    };
    // In debug builds, and wherever TESSERA_CHECK_RESPONSES=1 (the end-to-end suite sets it
    // for the release binary it runs), a response that departs from the model's output shape
    // is a tessera bug: fail loudly so the suites catch it, instead of letting clients
    // silently drop the member.
    if checks_responses() {
        let problems = model.check_output(operation, &output);
        if !problems.is_empty() {
            return Err(ApiError::internal(&format!(
                "{} output does not match the model: {}",
                operation.name,
                problems.join("; ")
            )));
        }
    }
    Ok(output)
}

/// Whether responses are checked against the model's output shapes (read once).
fn checks_responses() -> bool {
    static CHECK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CHECK.get_or_init(|| {
        cfg!(debug_assertions)
            || std::env::var("TESSERA_CHECK_RESPONSES").is_ok_and(|value| value == "1")
    })
}

pub(crate) async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    match http_body_util::Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError {
            kind: "SerializationException",
            message: format!("Request body exceeds the maximum size of {MAX_BODY_BYTES} bytes."),
            status: StatusCode::PAYLOAD_TOO_LARGE,
        }),
        Err(_) => Err(ApiError::new(
            "SerializationException",
            "The request body could not be read.",
        )),
    }
}
