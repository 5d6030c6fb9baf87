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

use crate::{app, AppState, ServiceConfig};

async fn state() -> AppState {
    state_with_clock(Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    )))
    .await
}

async fn state_with_clock(clock: Arc<ManualClock>) -> AppState {
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
    .unwrap()
    // As `tessera serve` runs SQLite: these tests also check that no write leaves a stale
    // cached user, pool, client, group list or session behind.
    .with_read_cache();
    let outbox = dir.join("outbox.jsonl");
    let delivery = tessera_delivery::deliverer(tessera_delivery::DeliveryConfig {
        smtp: None,
        sms_webhook: None,
        outbox_path: outbox.clone(),
    })
    .unwrap();
    AppState::new(
        store,
        ServiceConfig {
            region: "us-east-1".into(),
            regions: tessera_idp::Regions::Any,
            account_id: "000000000000".into(),
            public_url: "http://tessera.test".into(),
            hosted_domain_suffix: "auth.localhost".into(),
        },
        clock,
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
    use tessera_idp::pool::bootstrap::{ensure, ClientSpec, PoolSpec};
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

const TEST_KEY_ID: &str = "AKIATESTTESTTEST0001";
const TEST_SECRET: &str = "test-secret-access-key-0000000000000000";

/// Calls an operation, SigV4-signed with the test access key at the state's clock time.
async fn signed(
    state: &AppState,
    operation: &str,
    body: Value,
) -> (StatusCode, http::HeaderMap, Value) {
    let now = state
        .clock
        .now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let t = tessera_core::UtcFields::of(SystemTime::UNIX_EPOCH + Duration::from_secs(now));
    let amz_date = format!("{}T{}Z", &t.compact()[..8], &t.compact()[8..]);
    let body = body.to_string();
    let mut headers = http::HeaderMap::new();
    headers.insert("host", "tessera.test".parse().unwrap());
    headers.insert("x-amz-date", amz_date.parse().unwrap());
    headers.insert(
        "x-amz-target",
        format!("AWSCognitoIdentityProviderService.{operation}")
            .parse()
            .unwrap(),
    );
    headers.insert(
        "content-type",
        "application/x-amz-json-1.1".parse().unwrap(),
    );
    let authorization = tessera_sigv4::authorization_header(
        &tessera_sigv4::Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &headers,
            body: body.as_bytes(),
        },
        TEST_KEY_ID,
        TEST_SECRET,
        "us-east-1",
        "cognito-idp",
        &["host", "x-amz-date", "x-amz-target", "content-type"],
    )
    .unwrap();
    let mut request = Request::post("/").body(Body::from(body)).unwrap();
    *request.headers_mut() = headers;
    request
        .headers_mut()
        .insert("authorization", authorization.parse().unwrap());
    call(state, request).await
}

async fn public(
    state: &AppState,
    operation: &str,
    body: Value,
) -> (StatusCode, http::HeaderMap, Value) {
    call(
        state,
        api(
            Some(&format!("AWSCognitoIdentityProviderService.{operation}")),
            &body.to_string(),
        ),
    )
    .await
}

/// A pool with a password-auth client and a confirmed user `alice` / `Passw0rd!`.
async fn pool_with_user(state: &AppState) -> (String, String) {
    state
        .store
        .insert_access_key(&tessera_core::AccessKey {
            id: TEST_KEY_ID.into(),
            secret: TEST_SECRET.into(),
            created_at: SystemTime::UNIX_EPOCH,
        })
        .await
        .unwrap();
    let (status, _, pool) = signed(
        state,
        "CreateUserPool",
        serde_json::json!({"PoolName": "p"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pool}");
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    let (_, _, client) = signed(
        state,
        "CreateUserPoolClient",
        serde_json::json!({"UserPoolId": pool_id, "ClientName": "c", "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
    )
    .await;
    let client_id = client["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, body) = signed(state, "AdminCreateUser", serde_json::json!({"UserPoolId": pool_id, "Username": "alice", "MessageAction": "SUPPRESS"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = signed(
        state,
        "AdminSetUserPassword",
        serde_json::json!({"UserPoolId": pool_id, "Username": "alice", "Password": "Passw0rd!", "Permanent": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (pool_id, client_id)
}

async fn sign_in(
    state: &AppState,
    client_id: &str,
    password: &str,
) -> (StatusCode, http::HeaderMap, Value) {
    public(
        state,
        "InitiateAuth",
        serde_json::json!({"ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "alice", "PASSWORD": password}}),
    )
    .await
}

/// Issue 4: five failures lock sign-in for 2^(n-5) seconds; a success or 15 quiet minutes
/// reset the count.
#[tokio::test]
async fn issue_4_lockout_after_repeated_failures() {
    let clock = Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let state = state_with_clock(clock.clone()).await;
    let (_, client_id) = pool_with_user(&state).await;
    for _ in 0..5 {
        let result = sign_in(&state, &client_id, "wrong").await;
        assert_error(&result, StatusCode::BAD_REQUEST, "NotAuthorizedException");
        assert_eq!(result.2["message"], "Incorrect username or password.");
    }
    // Locked: even the right password is refused, with Cognito's message.
    let result = sign_in(&state, &client_id, "Passw0rd!").await;
    assert_eq!(result.2["message"], "Password attempts exceeded");
    clock.advance(Duration::from_secs(1));
    let (status, _, body) = sign_in(&state, &client_id, "Passw0rd!").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["AuthenticationResult"]["AccessToken"].is_string());

    // The success reset the count: four more failures do not lock.
    for _ in 0..4 {
        sign_in(&state, &client_id, "wrong").await;
    }
    assert_eq!(
        sign_in(&state, &client_id, "Passw0rd!").await.0,
        StatusCode::OK
    );

    // Failures while locked are refused unchecked and do not count; each failure after a
    // lock doubles it: the seventh locks for 4 seconds.
    for _ in 0..5 {
        sign_in(&state, &client_id, "wrong").await;
    }
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        sign_in(&state, &client_id, "wrong").await.2["message"],
        "Incorrect username or password."
    );
    assert_eq!(
        sign_in(&state, &client_id, "wrong").await.2["message"],
        "Password attempts exceeded"
    );
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        sign_in(&state, &client_id, "wrong").await.2["message"],
        "Incorrect username or password."
    );
    clock.advance(Duration::from_secs(3));
    assert_eq!(
        sign_in(&state, &client_id, "Passw0rd!").await.2["message"],
        "Password attempts exceeded"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        sign_in(&state, &client_id, "wrong").await.2["message"],
        "Incorrect username or password."
    );
    // Fifteen quiet minutes forget every failure: four more do not lock.
    clock.advance(Duration::from_secs(15 * 60));
    for _ in 0..4 {
        assert_eq!(
            sign_in(&state, &client_id, "wrong").await.2["message"],
            "Incorrect username or password."
        );
    }
    assert_eq!(
        sign_in(&state, &client_id, "Passw0rd!").await.0,
        StatusCode::OK
    );
}

/// Issue 3: codes expire (sign-up 24 h) and a consumed code cannot be used again.
#[tokio::test]
async fn issue_3_codes_expire_and_are_single_use() {
    let clock = Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let state = state_with_clock(clock.clone()).await;
    let (pool_id, client_id) = pool_with_user(&state).await;
    let (status, _, body) = signed(
        &state,
        "UpdateUserPool",
        serde_json::json!({"UserPoolId": pool_id, "AutoVerifiedAttributes": ["email"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let outbox = state.outbox_path.clone().unwrap();
    let newest_code = || {
        let text = std::fs::read_to_string(&outbox).unwrap();
        let line: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        line["body"]
            .as_str()
            .unwrap()
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap()
            .to_owned()
    };
    let sign_up = |name: &'static str| {
        let state = state.clone();
        let client_id = client_id.clone();
        async move {
            public(&state, "SignUp", serde_json::json!({"ClientId": client_id, "Username": name, "Password": "Passw0rd!", "UserAttributes": [{"Name": "email", "Value": format!("{name}@example.com")}]})).await
        }
    };
    assert_eq!(sign_up("bob").await.0, StatusCode::OK);
    let code = newest_code();
    clock.advance(Duration::from_secs(24 * 3600 + 1));
    let confirm = |name: &'static str, code: String| {
        let state = state.clone();
        let client_id = client_id.clone();
        async move {
            public(&state, "ConfirmSignUp", serde_json::json!({"ClientId": client_id, "Username": name, "ConfirmationCode": code})).await
        }
    };
    assert_error(
        &confirm("bob", code).await,
        StatusCode::BAD_REQUEST,
        "ExpiredCodeException",
    );

    assert_eq!(sign_up("carol").await.0, StatusCode::OK);
    let code = newest_code();
    clock.advance(Duration::from_secs(23 * 3600));
    assert_eq!(confirm("carol", code.clone()).await.0, StatusCode::OK);
    // Confirmed users cannot be confirmed again, whatever the code.
    assert_error(
        &confirm("carol", code).await,
        StatusCode::BAD_REQUEST,
        "NotAuthorizedException",
    );
}

/// Issue 4: an expired access token is refused by GetUser with Cognito's message (the clock
/// is moved, not slept); refresh still works until the refresh token expires.
#[tokio::test]
async fn issue_4_expired_access_token_is_refused() {
    let clock = Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let state = state_with_clock(clock.clone()).await;
    let (_, client_id) = pool_with_user(&state).await;
    let (status, _, body) = sign_in(&state, &client_id, "Passw0rd!").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let access = body["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = body["AuthenticationResult"]["RefreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let get_user = |token: String| {
        let state = state.clone();
        async move {
            public(
                &state,
                "GetUser",
                serde_json::json!({ "AccessToken": token }),
            )
            .await
        }
    };
    assert_eq!(get_user(access.clone()).await.0, StatusCode::OK);
    clock.advance(Duration::from_secs(3600));
    let result = get_user(access).await;
    assert_error(&result, StatusCode::BAD_REQUEST, "NotAuthorizedException");
    assert_eq!(result.2["message"], "Access Token has expired");
    let refreshed = |token: String| {
        let state = state.clone();
        let client_id = client_id.clone();
        async move {
            public(
                &state,
                "InitiateAuth",
                serde_json::json!({"ClientId": client_id, "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": token}}),
            )
            .await
        }
    };
    let (status, _, body) = refreshed(refresh.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let renewed = body["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(get_user(renewed).await.0, StatusCode::OK);
    clock.advance(Duration::from_secs(30 * 86_400));
    let result = refreshed(refresh).await;
    assert_eq!(result.2["message"], "Refresh Token has expired");
}

mod oauth_api;
mod oauth_code;
mod oauth_token;
mod parsers;
