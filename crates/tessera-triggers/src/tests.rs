//! Unit tests: the Standard Webhooks signature against the specification's own vector, ARN
//! patterns, configuration checks, and each kind of answer from a real local server.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::{json, Value};
use tessera_core::{ManualClock, SeededRandom};

use crate::router::matches;
use crate::{sign, Invoke, InvokeError, TargetConfig, Triggers, TriggersConfig, WebhookSecret};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The vector of the Standard Webhooks reference libraries' tests.
#[test]
fn signs_as_the_standard_webhooks_vector() {
    let secret = WebhookSecret::parse(SECRET).unwrap();
    let signature = sign(
        &[secret.clone(), secret],
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1_614_265_330,
        br#"{"test": 2432232314}"#,
    );
    assert_eq!(
        signature,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

#[test]
fn secrets_are_whsec_and_long_enough() {
    assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
    assert!(WebhookSecret::parse("whsec_!!!").is_err());
    // 12 bytes of key.
    assert!(WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjU").is_err());
}

#[test]
fn patterns_match_whole_arns() {
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:pre-sign-up";
    assert!(matches(arn, arn));
    assert!(matches("*", arn));
    assert!(matches("arn:aws:lambda:*:*:function:pre-*", arn));
    assert!(matches("*:function:pre-sign-up", arn));
    assert!(!matches("arn:aws:lambda:*:*:function:pre", arn));
    assert!(!matches("*:function:post-*", arn));
    assert!(!matches(&format!("{arn}x"), arn));
    assert!(!matches("arn:aws:lambda:*-up-*", arn));
    // A `*` matches at least nothing, never a negative run: the parts must not overlap.
    assert!(!matches("*up*up", "xup"));
}

fn webhook(url: &str) -> TargetConfig {
    TargetConfig {
        functions: vec!["*".into()],
        webhook: Some(url.into()),
        secrets: vec![SECRET.into()],
        lambda_endpoint: None,
        access_key_id: None,
        secret_access_key: None,
        region: None,
        timeout_seconds: Some(1),
        allow_insecure_http: false,
    }
}

fn triggers(targets: Vec<TargetConfig>) -> Result<Triggers, crate::ConfigError> {
    Triggers::new(
        &TriggersConfig { targets },
        Arc::new(ManualClock::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )),
        Arc::new(SeededRandom::new(7)),
    )
}

#[test]
fn configurations_that_cannot_work_are_refused() {
    let mut unsigned = webhook("http://127.0.0.1:1/");
    unsigned.secrets.clear();
    assert!(triggers(vec![unsigned]).is_err());
    let mut both = webhook("http://127.0.0.1:1/");
    both.lambda_endpoint = Some("http://127.0.0.1:2".into());
    assert!(triggers(vec![both]).is_err());
    let mut neither = webhook("http://127.0.0.1:1/");
    neither.webhook = None;
    assert!(triggers(vec![neither]).is_err());
    assert!(triggers(vec![webhook("ftp://127.0.0.1/")]).is_err());
    let mut nothing = webhook("http://127.0.0.1:1/");
    nothing.functions.clear();
    assert!(triggers(vec![nothing]).is_err());
    let from_toml: TargetConfig = toml::from_str(
        "functions = [\"*\"]\nlambda_endpoint = \"http://127.0.0.1:3001\"\ntimeout_seconds = 2\n",
    )
    .unwrap();
    assert!(triggers(vec![from_toml]).is_ok());
    assert!(toml::from_str::<TargetConfig>("functions = [\"*\"]\nbogus = 1\n").is_err());
}

#[test]
fn plain_http_is_for_this_machine_only() {
    for url in [
        "http://127.0.0.1:8000/hook",
        "http://localhost:8000/hook",
        "http://[::1]:8000/hook",
        "https://hooks.example.com/cognito",
    ] {
        assert!(triggers(vec![webhook(url)]).is_ok(), "{url}");
    }
    for url in [
        "http://hooks.example.com/cognito",
        "http://10.0.0.5:8000/hook",
    ] {
        assert!(triggers(vec![webhook(url)]).is_err(), "{url}");
        let mut allowed = webhook(url);
        allowed.allow_insecure_http = true;
        assert!(triggers(vec![allowed]).is_ok(), "{url}");
    }
    assert!(triggers(vec![lambda("http://localstack:4566")]).is_err());
    let mut compose = lambda("http://localstack:4566");
    compose.allow_insecure_http = true;
    assert!(triggers(vec![compose]).is_ok());
}

/// What the test server saw of the last call.
#[derive(Default, Clone)]
struct Seen {
    headers: Option<HeaderMap>,
    path: Option<String>,
    body: Option<Vec<u8>>,
}

/// A local server answering every POST with `answer`, recording the request.
async fn serve(
    answer: impl Fn(&Value) -> axum::response::Response + Clone + Send + Sync + 'static,
) -> (String, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let recorded = seen.clone();
    let app = axum::Router::new().fallback(post(
        move |uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes| {
            let answer = answer.clone();
            let recorded = recorded.clone();
            async move {
                let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                *recorded.lock().unwrap() = Seen {
                    headers: Some(headers),
                    path: Some(uri.to_string()),
                    body: Some(body.to_vec()),
                };
                answer(&event)
            }
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

fn event() -> Value {
    json!({"version": "1", "triggerSource": "PreSignUp_SignUp", "request": {"userAttributes": {}}, "response": {}})
}

const ARN: &str = "arn:aws:lambda:eu-west-1:123456789012:function:pre-sign-up";

#[tokio::test]
async fn a_webhook_call_is_signed_and_its_answer_read() {
    let (url, seen) = serve(|event| {
        let mut answer = event.clone();
        answer["response"]["autoConfirmUser"] = json!(true);
        axum::Json(answer).into_response()
    })
    .await;
    let triggers = triggers(vec![webhook(&format!("{url}/hooks?token=abc"))]).unwrap();
    let answer = triggers.invoke(ARN, &event()).await.unwrap();
    assert_eq!(answer["response"]["autoConfirmUser"], json!(true));
    let seen = seen.lock().unwrap().clone();
    let headers = seen.headers.unwrap();
    let header = |name: &str| headers.get(name).unwrap().to_str().unwrap().to_owned();
    assert_eq!(header("webhook-timestamp"), "1700000000");
    assert_eq!(header("content-type"), "application/json");
    let id = header("webhook-id");
    assert!(id.starts_with("msg_"));
    let expected = sign(
        &[WebhookSecret::parse(SECRET).unwrap()],
        &id,
        1_700_000_000,
        &seen.body.unwrap(),
    );
    assert_eq!(header("webhook-signature"), expected);
    assert_eq!(seen.path.unwrap(), "/hooks?token=abc");
}

#[tokio::test]
async fn webhook_answers_map_to_the_three_failures() {
    let (url, _) = serve(|_| {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"errorMessage": "Registration from this domain is not allowed."})),
        )
            .into_response()
    })
    .await;
    let failed = triggers(vec![webhook(&url)])
        .unwrap()
        .invoke(ARN, &event())
        .await;
    assert!(
        matches!(&failed, Err(InvokeError::Function(m)) if m == "Registration from this domain is not allowed."),
        "{failed:?}"
    );
    let (url, _) = serve(|_| (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response()).await;
    let failed = triggers(vec![webhook(&url)])
        .unwrap()
        .invoke(ARN, &event())
        .await;
    assert!(
        matches!(&failed, Err(InvokeError::Invocation { error_type, .. }) if error_type == "ServiceException"),
        "{failed:?}"
    );
    let (url, _) = serve(|_| (StatusCode::OK, "<html>not json</html>").into_response()).await;
    let failed = triggers(vec![webhook(&url)])
        .unwrap()
        .invoke(ARN, &event())
        .await;
    assert!(
        matches!(failed, Err(InvokeError::Unreadable(_))),
        "{failed:?}"
    );
    // Nothing listens on port 1.
    let failed = triggers(vec![webhook("http://127.0.0.1:1/")])
        .unwrap()
        .invoke(ARN, &event())
        .await;
    assert!(
        matches!(&failed, Err(InvokeError::Invocation { error_type, .. }) if error_type == "ServiceException"),
        "{failed:?}"
    );
    // No table runs a function no pattern matches.
    let mut narrow = webhook(&url);
    narrow.functions = vec!["*:function:post-*".into()];
    let failed = triggers(vec![narrow]).unwrap().invoke(ARN, &event()).await;
    assert!(
        matches!(&failed, Err(InvokeError::Invocation { error_type, .. }) if error_type == "ResourceNotFoundException"),
        "{failed:?}"
    );
}

#[tokio::test]
async fn a_slow_target_times_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and never answers.
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let failed = triggers(vec![webhook(&format!("http://{addr}/"))])
        .unwrap()
        .invoke(ARN, &event())
        .await;
    assert!(matches!(failed, Err(InvokeError::Timeout)), "{failed:?}");
}

fn lambda(endpoint: &str) -> TargetConfig {
    TargetConfig {
        functions: vec!["arn:aws:lambda:*".into()],
        webhook: None,
        secrets: Vec::new(),
        lambda_endpoint: Some(endpoint.into()),
        access_key_id: Some("AKIDEXAMPLE".into()),
        secret_access_key: Some("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into()),
        region: None,
        timeout_seconds: Some(1),
        allow_insecure_http: false,
    }
}

#[tokio::test]
async fn the_lambda_invoke_api_is_called_signed_by_function_name() {
    let (url, seen) = serve(|event| {
        let mut answer = event.clone();
        answer["response"]["autoVerifyEmail"] = json!(true);
        axum::Json(answer).into_response()
    })
    .await;
    let triggers = triggers(vec![lambda(&url)]).unwrap();
    let answer = triggers
        .invoke(&format!("{ARN}:live"), &event())
        .await
        .unwrap();
    assert_eq!(answer["response"]["autoVerifyEmail"], json!(true));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.path.unwrap(),
        "/2015-03-31/functions/pre-sign-up/invocations?Qualifier=live"
    );
    let headers = seen.headers.unwrap();
    let authorization = headers.get("authorization").unwrap().to_str().unwrap();
    assert!(
        authorization.starts_with(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/eu-west-1/lambda/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-invocation-type, Signature="
        ),
        "{authorization}"
    );
    assert_eq!(headers.get("x-amz-date").unwrap(), "20231114T221320Z");
    // The signature verifies as AWS would check it.
    let body = seen.body.unwrap();
    let request = tessera_sigv4::Request {
        method: "POST",
        path: "/2015-03-31/functions/pre-sign-up/invocations",
        query: "Qualifier=live",
        headers: &headers,
        body: &body,
    };
    let parsed = tessera_sigv4::parse_authorization(&headers)
        .unwrap()
        .unwrap();
    tessera_sigv4::verify(
        &request,
        &parsed,
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    )
    .unwrap();
}

#[tokio::test]
async fn lambda_function_errors_and_api_errors_are_told_apart() {
    let (url, _) = serve(|_| {
        (
            [("x-amz-function-error", "Unhandled")],
            axum::Json(json!({"errorMessage": "No sign-ups today.", "errorType": "Error"})),
        )
            .into_response()
    })
    .await;
    let failed = triggers(vec![lambda(&url)])
        .unwrap()
        .invoke(ARN, &event())
        .await;
    assert!(
        matches!(&failed, Err(InvokeError::Function(m)) if m == "No sign-ups today."),
        "{failed:?}"
    );
    let (url, _) = serve(|_| {
        (
            StatusCode::NOT_FOUND,
            [("x-amzn-errortype", "ResourceNotFoundException")],
            axum::Json(json!({"Type": "User", "Message": "Function not found"})),
        )
            .into_response()
    })
    .await;
    let failed = triggers(vec![lambda(&url)])
        .unwrap()
        .invoke(ARN, &event())
        .await;
    assert!(
        matches!(&failed, Err(InvokeError::Invocation { error_type, detail }) if error_type == "ResourceNotFoundException" && detail.contains("404")),
        "{failed:?}"
    );
}
