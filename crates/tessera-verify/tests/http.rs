//! The axum extractor and tower layer: status codes, `WWW-Authenticate`, claims in handlers.

mod common;

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::{Extension, Json, Router};
use common::*;
use serde_json::{json, Value};
use tessera_verify::axum::{bearer_token, AuthLayer};
use tessera_verify::{Claims, Issuer, Verifier};
use tower::ServiceExt as _;

const ISS: &str = "https://issuer.test/us-east-1_Http01";

fn key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::rsa("http-key"))
}

fn verifier(server: &JwksServer) -> Verifier {
    Verifier::builder()
        .issuer(Issuer::new(ISS, server.jwks_uri()))
        .client_id(CLIENT)
        .build()
        .unwrap()
}

/// The same shape as `examples/service.rs`.
fn app(verifier: Verifier) -> Router {
    let admin = Router::new()
        .route(
            "/stats",
            get(|claims: Claims| async move { Json(json!({ "admin": claims.username() })) }),
        )
        .layer(AuthLayer::new(verifier.clone()).require_any_group(["admin"]));
    let writer = Router::new()
        .route("/orders", get(|| async { "written" }))
        .layer(AuthLayer::new(verifier.clone()).require_scope("orders/write"));
    Router::new()
        .route("/api/public", get(|| async { "public" }))
        .route(
            "/api/greeting",
            get(|claims: Option<Claims>| async move {
                format!(
                    "Hello, {}!",
                    claims.as_ref().and_then(|c| c.username()).unwrap_or("stranger")
                )
            }),
        )
        .route(
            "/api/private",
            get(|claims: Claims| async move {
                Json(json!({ "username": claims.username(), "groups": claims.groups().collect::<Vec<_>>() }))
            }),
        )
        .nest("/api/admin", admin)
        .nest("/api/write", writer)
        .layer(Extension(verifier))
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

async fn call(app: &Router, path: &str, authorization: Option<&str>) -> Answer {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Answer {
        status,
        challenge,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[tokio::test]
async fn public_private_and_admin_routes() {
    let server = JwksServer::start(jwks(&[key()])).await;
    let app = app(verifier(&server));
    let valid = key().sign(&access_claims(ISS));
    let not_admin = key().sign(&with(
        access_claims(ISS),
        "cognito:groups",
        json!(["staff"]),
    ));

    let answer = call(&app, "/api/public", None).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "public")
    );

    let answer = call(&app, "/api/private", None).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenge.as_deref(), Some("Bearer"));
    assert_eq!(
        answer.json(),
        json!({"error": "unauthorized", "error_description": "A bearer token is required"})
    );

    let answer = call(&app, "/api/private", Some(&bearer(&valid))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.json(),
        json!({"username": "alice", "groups": ["admin", "staff"]})
    );

    let answer = call(&app, "/api/admin/stats", Some(&bearer(&valid))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"admin": "alice"}));

    let answer = call(&app, "/api/admin/stats", Some(&bearer(&not_admin))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="The user is not in a required group""#
        )
    );
    assert_eq!(answer.json()["error"], "insufficient_scope");

    let answer = call(&app, "/api/admin/stats", None).await;
    assert_eq!(
        (answer.status, answer.challenge.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("Bearer"))
    );

    let answer = call(&app, "/api/write/orders", Some(&bearer(&valid))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.challenge.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="The token lacks a required scope", scope="orders/write""#
        )
    );
    let writer = key().sign(&with(
        access_claims(ISS),
        "scope",
        json!("orders/read orders/write"),
    ));
    let answer = call(&app, "/api/write/orders", Some(&bearer(&writer))).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (StatusCode::OK, "written")
    );
}

#[tokio::test]
async fn refused_tokens_get_invalid_token() {
    let server = JwksServer::start(jwks(&[key()])).await;
    let app = app(verifier(&server));
    let now = now_secs();
    let valid = key().sign(&access_claims(ISS));
    let expired = key().sign(&with(
        with(access_claims(ISS), "exp", json!(now - 7200)),
        "iat",
        json!(now - 10800),
    ));
    let mut parts = valid.split('.');
    let (h, _, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next_back().unwrap(),
    );
    let forged = format!(
        "{h}.{}.{s}",
        b64(with(
            access_claims(ISS),
            "cognito:groups",
            json!(["admin", "root"])
        )
        .to_string()
        .as_bytes())
    );
    let none = format!(
        "{}.{}.",
        b64(br#"{"kid":"http-key","alg":"none"}"#),
        b64(access_claims(ISS).to_string().as_bytes())
    );
    for (token, description) in [
        (expired.as_str(), "The token has expired"),
        (forged.as_str(), "The token signature is invalid"),
        (none.as_str(), "The token algorithm is not accepted"),
        ("not-a-jwt", "The token is malformed"),
    ] {
        for path in ["/api/private", "/api/admin/stats", "/api/greeting"] {
            let answer = call(&app, path, Some(&bearer(token))).await;
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{path} {description}"
            );
            assert_eq!(
                answer.challenge.as_deref(),
                Some(
                    format!(r#"Bearer error="invalid_token", error_description="{description}""#)
                        .as_str()
                )
            );
            assert_eq!(
                answer.json(),
                json!({"error": "invalid_token", "error_description": description})
            );
        }
    }
}

#[tokio::test]
async fn optional_claims() {
    let server = JwksServer::start(jwks(&[key()])).await;
    let app = app(verifier(&server));
    let valid = key().sign(&access_claims(ISS));
    assert_eq!(
        call(&app, "/api/greeting", None).await.body,
        "Hello, stranger!"
    );
    assert_eq!(
        call(&app, "/api/greeting", Some("Basic dXNlcjpwYXNz"))
            .await
            .body,
        "Hello, stranger!"
    );
    assert_eq!(
        call(&app, "/api/greeting", Some(&bearer(&valid)))
            .await
            .body,
        "Hello, alice!"
    );
    assert_eq!(
        call(&app, "/api/greeting", Some(&format!("bearer  {valid}")))
            .await
            .body,
        "Hello, alice!"
    );
}

#[tokio::test]
async fn malformed_authorization_headers() {
    let server = JwksServer::start(jwks(&[key()])).await;
    let app = app(verifier(&server));
    for value in ["Bearer", "Bearer ", "Bearer a b"] {
        let answer = call(&app, "/api/private", Some(value)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{value:?}");
        assert_eq!(
            answer.challenge.as_deref(),
            Some(
                r#"Bearer error="invalid_request", error_description="The Authorization header is malformed""#
            )
        );
    }
    // Another scheme is no bearer token at all.
    let answer = call(&app, "/api/private", Some("Basic dXNlcjpwYXNz")).await;
    assert_eq!(
        (answer.status, answer.challenge.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("Bearer"))
    );

    let mut headers = axum::http::HeaderMap::new();
    headers.append(header::AUTHORIZATION, "Bearer a".parse().unwrap());
    headers.append(header::AUTHORIZATION, "Bearer b".parse().unwrap());
    assert!(bearer_token(&headers).is_err());
}

#[tokio::test]
async fn unreachable_keys_answer_503() {
    let server = JwksServer::start(jwks(&[key()])).await;
    server.set_down(true);
    let app = app(verifier(&server));
    let answer = call(
        &app,
        "/api/private",
        Some(&bearer(&key().sign(&access_claims(ISS)))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.challenge, None);
    assert_eq!(
        answer.json(),
        json!({"error": "temporarily_unavailable", "error_description": "The token cannot be verified now"})
    );
}

#[tokio::test]
async fn the_extractor_without_a_verifier_is_a_server_error() {
    let app = Router::new().route("/", get(|_: Claims| async { "unreachable" }));
    let answer = call(&app, "/", Some("Bearer x.y.z")).await;
    assert_eq!(answer.status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn over_a_real_socket() {
    let server = JwksServer::start(jwks(&[key()])).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app(verifier(&server))).await.unwrap() });
    let client = reqwest::Client::new();
    let valid = key().sign(&access_claims(ISS));
    let response = client
        .get(format!("{base}/api/private"))
        .bearer_auth(&valid)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = client
        .get(format!("{base}/api/private"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
}
