//! In-process tests of the HTTP edge: the router is driven with `oneshot`, no socket.
//! Real-client tests against the binary live in `tests/e2e`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tessera_core::{ManualClock, MasterKey, SeededRandom};
use tessera_store::Store;
use tower::ServiceExt;

use crate::{app, AppState, ServerConfig};

async fn state() -> AppState {
    let dir = std::env::temp_dir().join(format!("tessera-server-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
    let random = Arc::new(SeededRandom::new(11));
    let store = Store::connect(
        &url,
        Arc::new(MasterKey::parse(&"07".repeat(32)).unwrap()),
        random.clone(),
    )
    .await
    .unwrap();
    let outbox = dir.join("outbox.jsonl");
    let delivery = tessera_delivery::deliverer(tessera_delivery::DeliveryConfig {
        smtp: None,
        sms_webhook: None,
        outbox_path: outbox.clone(),
    })
    .unwrap();
    AppState::new(
        store,
        ServerConfig {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            public_url: "http://tessera.test".into(),
        },
        Arc::new(ManualClock::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )),
        random,
        delivery,
    )
    .with_outbox(outbox)
}

async fn call(state: &AppState, request: Request<Body>) -> (StatusCode, http::HeaderMap, Value) {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

fn api(target: Option<&str>, body: &str) -> Request<Body> {
    let mut builder = Request::post("/").header("content-type", "application/x-amz-json-1.1");
    if let Some(target) = target {
        builder = builder.header("x-amz-target", target);
    }
    builder.body(Body::from(body.to_owned())).unwrap()
}

fn assert_error(result: &(StatusCode, http::HeaderMap, Value), status: StatusCode, kind: &str) {
    let (actual_status, headers, body) = result;
    assert_eq!(*actual_status, status, "{body}");
    assert_eq!(body["__type"], kind, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert_eq!(headers["x-amzn-errortype"], format!("{kind}:").as_str());
    assert_eq!(headers["content-type"], "application/x-amz-json-1.1");
    assert_eq!(headers["x-amzn-requestid"].len(), 36);
}

#[tokio::test]
async fn unknown_or_missing_target_is_unknown_operation() {
    let state = state().await;
    let result = call(
        &state,
        api(Some("AWSCognitoIdentityProviderService.Bogus"), "{}"),
    )
    .await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "UnknownOperationException",
    );
    let result = call(&state, api(Some("SomethingElse.InitiateAuth"), "{}")).await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "UnknownOperationException",
    );
    let result = call(&state, api(None, "{}")).await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "UnknownOperationException",
    );
}

#[tokio::test]
async fn admin_operation_without_signature_is_refused_before_validation() {
    let state = state().await;
    let result = call(
        &state,
        api(
            Some("AWSCognitoIdentityProviderService.ListUserPools"),
            "not json",
        ),
    )
    .await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "MissingAuthenticationTokenException",
    );
}

#[tokio::test]
async fn public_operation_gets_model_validation() {
    let state = state().await;
    let target = Some("AWSCognitoIdentityProviderService.InitiateAuth");
    let result = call(&state, api(target, "{not json")).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "SerializationException");
    let result = call(&state, api(target, r#"{"AuthFlow":"USER_PASSWORD_AUTH"}"#)).await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "InvalidParameterException",
    );
    assert!(result.2["message"]
        .as_str()
        .unwrap()
        .contains("Value null at 'clientId'"));
    let result = call(
        &state,
        api(target, r#"{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":5}"#),
    )
    .await;
    assert_error(&result, StatusCode::BAD_REQUEST, "SerializationException");
}

#[tokio::test]
async fn oversized_body_is_refused_without_reading_it_all() {
    let state = state().await;
    let body = "x".repeat(crate::protocol::MAX_BODY_BYTES + 1);
    let result = call(
        &state,
        api(Some("AWSCognitoIdentityProviderService.SignUp"), &body),
    )
    .await;
    assert_error(
        &result,
        StatusCode::PAYLOAD_TOO_LARGE,
        "SerializationException",
    );
}

#[tokio::test]
async fn get_on_the_api_path_is_a_client_error() {
    let state = state().await;
    let result = call(&state, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_error(
        &result,
        StatusCode::METHOD_NOT_ALLOWED,
        "UnknownOperationException",
    );
}

#[tokio::test]
async fn cors_preflight_mirrors_origin_and_headers() {
    let state = state().await;
    let request = Request::options("/")
        .header("origin", "http://app.example")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,x-amz-target,x-amz-user-agent",
        )
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = call(&state, request).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["access-control-allow-origin"], "http://app.example");
    assert!(headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    assert!(headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("x-amz-target"));
    assert!(headers.contains_key("x-amzn-requestid"));

    let mut request = api(Some("AWSCognitoIdentityProviderService.Bogus"), "{}");
    request
        .headers_mut()
        .insert("origin", "http://app.example".parse().unwrap());
    let (_, headers, _) = call(&state, request).await;
    let exposed = headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in [
        "x-amzn-requestid",
        "x-amzn-errortype",
        "x-amzn-errormessage",
    ] {
        assert!(exposed.contains(header), "{exposed}");
    }
}

#[tokio::test]
async fn well_known_documents_for_unknown_pool_are_json_404() {
    let state = state().await;
    for path in [
        "/us-east-1_missing00/.well-known/jwks.json",
        "/us-east-1_missing00/.well-known/openid-configuration",
        "/nope",
    ] {
        let (status, headers, body) =
            call(&state, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers["content-type"], "application/json");
        assert!(body["message"].is_string());
    }
    let (status, _, body) =
        call(&state, Request::get("/health").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn bootstrap_creates_pool_with_keys_and_is_idempotent() {
    use crate::bootstrap::{ensure, ClientSpec, PoolSpec};
    let state = state().await;
    let mut client_settings = serde_json::Map::new();
    client_settings.insert(
        "explicit_auth_flows".into(),
        serde_json::json!(["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]),
    );
    let spec = PoolSpec {
        id: "us-east-1_Bootstrap1".into(),
        name: "bootstrap".into(),
        settings: serde_json::Map::new(),
        clients: vec![ClientSpec {
            id: "bootstrapclient0000000001".into(),
            name: "web".into(),
            secret: Some("bootstrapsecret00000000000000000000001".into()),
            settings: client_settings,
        }],
    };
    ensure(&state, std::slice::from_ref(&spec)).await.unwrap();
    ensure(&state, std::slice::from_ref(&spec)).await.unwrap();
    let client = state
        .store
        .app_client("bootstrapclient0000000001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        client.secret.as_deref(),
        Some("bootstrapsecret00000000000000000000001")
    );
    assert_eq!(
        client.settings["ExplicitAuthFlows"][0],
        "ALLOW_USER_PASSWORD_AUTH"
    );
    let (status, _, jwks) = call(
        &state,
        Request::get("/us-east-1_Bootstrap1/.well-known/jwks.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let (_, headers, discovery) = call(
        &state,
        Request::get("/us-east-1_Bootstrap1/.well-known/openid-configuration")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(
        discovery["issuer"],
        "http://tessera.test/us-east-1_Bootstrap1"
    );
    assert_eq!(
        discovery["jwks_uri"],
        "http://tessera.test/us-east-1_Bootstrap1/.well-known/jwks.json"
    );
    assert!(headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));

    let bad = PoolSpec {
        id: "not-a-pool-id".into(),
        ..spec
    };
    assert!(ensure(&state, &[bad]).await.is_err());
}
