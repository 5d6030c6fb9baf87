//! The OAuth configuration API in process: domains, resource servers and UI customization,
//! every response checked against the model by the debug build.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use super::{assert_error, pool_with_user, signed, state};
use crate::app;

/// A 1×1 PNG.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xff\xff?\0\x05\xfe\x02\xfe\xa75\x81\x84\0\0\0\0IEND\xaeB`\x82";

async fn get(state: &crate::AppState, path: &str) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let response = app(state.clone())
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

#[tokio::test]
async fn domains_gate_ui_customization_and_pool_deletion() {
    let state = state().await;
    let (pool_id, client_id) = pool_with_user(&state).await;

    let (status, _, body) = signed(
        &state,
        "DescribeUserPoolDomain",
        json!({"Domain": "my-app"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"DomainDescription": {}}));

    let result = signed(
        &state,
        "SetUICustomization",
        json!({"UserPoolId": pool_id, "CSS": ""}),
    )
    .await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "InvalidParameterException",
    );

    let (status, _, body) = signed(
        &state,
        "CreateUserPoolDomain",
        json!({"UserPoolId": pool_id, "Domain": "my-app"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body,
        json!({"CloudFrontDomain": "my-app.auth.localhost", "ManagedLoginVersion": 1})
    );
    let arn = "arn:aws:acm:us-east-1:000000000000:certificate/abc";
    let (status, _, body) = signed(&state, "CreateUserPoolDomain", json!({"UserPoolId": pool_id, "Domain": "auth.example.com", "CustomDomainConfig": {"CertificateArn": arn}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["CloudFrontDomain"], "auth.example.com");
    // A dotted name without a certificate is a prefix with an invalid character.
    let result = signed(
        &state,
        "CreateUserPoolDomain",
        json!({"UserPoolId": pool_id, "Domain": "login.example.com"}),
    )
    .await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "InvalidParameterException",
    );
    assert!(result.2["message"]
        .as_str()
        .unwrap()
        .starts_with("The domain name contains an invalid character."));

    let (_, _, body) = signed(
        &state,
        "DescribeUserPoolDomain",
        json!({"Domain": "auth.example.com"}),
    )
    .await;
    assert_eq!(
        body,
        json!({"DomainDescription": {
            "UserPoolId": pool_id, "AWSAccountId": "000000000000", "Domain": "auth.example.com",
            "CloudFrontDistribution": "auth.example.com", "Version": "20231114221320",
            "Status": "ACTIVE", "CustomDomainConfig": {"CertificateArn": arn}, "ManagedLoginVersion": 1,
        }})
    );
    let (_, _, body) = signed(&state, "DescribeUserPool", json!({"UserPoolId": pool_id})).await;
    assert_eq!(body["UserPool"]["Domain"], "my-app");
    assert_eq!(body["UserPool"]["CustomDomain"], "auth.example.com");
    assert_eq!(
        state
            .store
            .pool_of_domain("my-app")
            .await
            .unwrap()
            .as_deref(),
        Some(pool_id.as_str())
    );

    let result = signed(&state, "DeleteUserPool", json!({"UserPoolId": pool_id})).await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "InvalidParameterException",
    );
    assert_eq!(
        result.2["message"],
        "User pool cannot be deleted. It has a domain configured that should be deleted first."
    );

    // The pool default and a client's own customization, each served at its own URL.
    let css = ".banner-customizable { background-color: #0b3d91; }";
    let image = base64::engine::general_purpose::STANDARD.encode(PNG);
    let (status, _, body) = signed(
        &state,
        "SetUICustomization",
        json!({"UserPoolId": pool_id, "CSS": css, "ImageFile": image}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let ui = &body["UICustomization"];
    assert_eq!(ui["ClientId"], "ALL");
    assert_eq!(ui["CSSVersion"], "20231114221320");
    let logo = format!("/{pool_id}/ui/ALL/logo");
    assert_eq!(ui["ImageUrl"], format!("http://tessera.test{logo}"));
    let (status, headers, bytes) = get(&state, &logo).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, PNG);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let (status, headers, bytes) =
        get(&state, &format!("/{pool_id}/ui/ALL/20231114221320.css")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, css.as_bytes());
    assert_eq!(headers["content-type"], "text/css; charset=utf-8");
    assert_eq!(
        get(&state, &format!("/{pool_id}/ui/ALL/19990101000000.css"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&state, &format!("/{pool_id}/ui/{client_id}/logo"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    // A client without its own setting sees the pool's.
    let (_, _, body) = signed(
        &state,
        "GetUICustomization",
        json!({"UserPoolId": pool_id, "ClientId": client_id}),
    )
    .await;
    assert_eq!(body["UICustomization"]["CSS"], css);
    let result = signed(
        &state,
        "SetUICustomization",
        json!({"UserPoolId": pool_id, "ClientId": client_id, "CSS": "body { color: red }"}),
    )
    .await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "InvalidParameterException",
    );
    let svg = base64::engine::general_purpose::STANDARD
        .encode("<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    let result = signed(
        &state,
        "SetUICustomization",
        json!({"UserPoolId": pool_id, "ClientId": client_id, "ImageFile": svg}),
    )
    .await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "InvalidParameterException",
    );
    let result = signed(
        &state,
        "GetUICustomization",
        json!({"UserPoolId": pool_id, "ClientId": "nosuchclient"}),
    )
    .await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "ResourceNotFoundException",
    );

    for domain in ["my-app", "auth.example.com"] {
        let (status, _, body) = signed(
            &state,
            "DeleteUserPoolDomain",
            json!({"UserPoolId": pool_id, "Domain": domain}),
        )
        .await;
        assert_eq!((status, body), (StatusCode::OK, json!({})));
    }
    let (status, _, _) = signed(&state, "DeleteUserPool", json!({"UserPoolId": pool_id})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(get(&state, &logo).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn clients_may_be_allowed_the_custom_scopes_of_resource_servers() {
    let state = state().await;
    let (pool_id, _) = pool_with_user(&state).await;
    let client = |scopes: serde_json::Value| {
        json!({"UserPoolId": pool_id, "ClientName": "m2m", "GenerateSecret": true,
               "AllowedOAuthFlowsUserPoolClient": true, "AllowedOAuthFlows": ["client_credentials"],
               "AllowedOAuthScopes": scopes})
    };
    let result = signed(
        &state,
        "CreateUserPoolClient",
        client(json!(["https://api.example.com/read"])),
    )
    .await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "ScopeDoesNotExistException",
    );
    assert_eq!(
        result.2["message"],
        "Invalid scope requested: https://api.example.com/read"
    );

    let (status, _, body) = signed(
        &state,
        "CreateResourceServer",
        json!({"UserPoolId": pool_id, "Identifier": "https://api.example.com", "Name": "api",
        "Scopes": [{"ScopeName": "read", "ScopeDescription": "Read"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _, body) = signed(
        &state,
        "CreateUserPoolClient",
        client(json!(["https://api.example.com/read"])),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["UserPoolClient"]["AllowedOAuthScopes"],
        json!(["https://api.example.com/read"])
    );
    for unknown in [
        "https://api.example.com/write",
        "https://other.example.com/read",
        "read",
    ] {
        let result = signed(&state, "CreateUserPoolClient", client(json!([unknown]))).await;
        assert_error(
            &result,
            StatusCode::BAD_REQUEST,
            "ScopeDoesNotExistException",
        );
    }
    let result = signed(
        &state,
        "CreateResourceServer",
        json!({"UserPoolId": pool_id, "Identifier": "https://api.example.com", "Name": "again"}),
    )
    .await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "InvalidParameterException",
    );
    let result = signed(
        &state,
        "DescribeResourceServer",
        json!({"UserPoolId": pool_id, "Identifier": "urn:none"}),
    )
    .await;
    assert_error(
        &result,
        StatusCode::BAD_REQUEST,
        "ResourceNotFoundException",
    );
}
