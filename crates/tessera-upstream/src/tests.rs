use serde_json::{json, Map, Value};
use tessera_identity::config::{ExternalStsConfig, OpenIdProviderConfig};
use tessera_identity::upstream::{StsCredentials, Upstream, UpstreamError};
use tessera_verify::VerifyError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::openid::{check_audience, refusal};
use crate::sts::{parse_expiration, read_answer, Request};
use crate::HttpUpstream;

/// moto 5.2.1's answer, as it sends it (one line; shortened session token).
const MOTO_SUCCESS: &str = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIARZPUZDIKGDZROAPC</AccessKeyId><SecretAccessKey>9QZxrCVgf5An9ZKniac0AbY7fxQen31cLG7OvrhZ</SecretAccessKey><SessionToken>FQoGZXIvYXdzEBYaDdjmG09PLVd/FJ8O9F2LmZAQ0pIqLat/Ob6o/sVR76L+IkqDFOB9PErxlDif/xSWkM4N9aA8VL1hoshz+uzZmYrucRfoYTUuXw2N2QvEqzEy7gCVfXJFJBRQtVGt9El6rRm/Tu7mB0oLZ92DhSayGqnTillpoTLKRTCR9LjfvMixKIOR18YbSbzVX6WGFL/p5bE09p1ZL7N0nVR/CQfdv9SEEodRd7eTcUNPoi+gRt91TZbUEzIVm67PLXPqQpdbVcBTkwlUsTgR2a31xsvODh1fkgJlfB4cxJqXEM6XpcD8caG+thNP6eqASHo7vd2L5Pn1/yj2Ci89E1Eyf0I=</SessionToken><Expiration>2026-12-05T01:55:21.341111Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>ARO123EXAMPLE123:CognitoIdentityCredentials</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/External/CognitoIdentityCredentials</Arn></AssumedRoleUser><PackedPolicySize>6</PackedPolicySize></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>0HsfoHaOzktL0zUXFpkGHa9RrfhGaaDvzSaBkITCnA4gjVzV0ery</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>"#;

/// AWS's shape: indented, whole seconds, the members AWS adds for OpenID tokens.
const AWS_SUCCESS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>us-east-1:0b1c2d3e-aaaa-bbbb-cccc-1234567890ab</SubjectFromWebIdentityToken>
    <Audience>us-east-1:11111111-2222-3333-4444-555555555555</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/External/CognitoIdentityCredentials</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:CognitoIdentityCredentials</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>
      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>
      <Expiration>2026-12-05T01:55:21Z</Expiration>
      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>
    </Credentials>
    <Provider>http://127.0.0.1:9229/identity</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#;

const ERROR: &str = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>AccessDenied</Code>
    <Message>Not authorized to perform sts:AssumeRoleWithWebIdentity &amp; more</Message>
  </Error>
  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>
</ErrorResponse>"#;

/// 2026-12-05T01:55:21Z.
const EXPIRES: u64 = 1_796_435_721;

fn credentials(answer: Result<StsCredentials, UpstreamError>) -> StsCredentials {
    match answer {
        Ok(credentials) => credentials,
        Err(error) => panic!("expected credentials, got {error:?}"),
    }
}

#[test]
fn reads_moto_success() {
    let answer = credentials(read_answer(200, MOTO_SUCCESS.as_bytes()));
    assert_eq!(answer.access_key_id, "ASIARZPUZDIKGDZROAPC");
    assert_eq!(
        answer.secret_access_key,
        "9QZxrCVgf5An9ZKniac0AbY7fxQen31cLG7OvrhZ"
    );
    assert!(answer.session_token.starts_with("FQoGZXIvYXdzEBYaD"));
    assert!(answer.session_token.ends_with("f0I="));
    assert_eq!(answer.expiration, EXPIRES);
}

#[test]
fn reads_aws_success_in_any_member_order() {
    let answer = credentials(read_answer(200, AWS_SUCCESS.as_bytes()));
    assert_eq!(answer.access_key_id, "ASIAIOSFODNN7EXAMPLE");
    assert_eq!(
        answer.secret_access_key,
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
    );
    assert_eq!(
        answer.session_token,
        "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE"
    );
    assert_eq!(answer.expiration, EXPIRES);
}

#[test]
fn credentials_debug_shows_no_secret() {
    let answer = credentials(read_answer(200, MOTO_SUCCESS.as_bytes()));
    let shown = format!("{answer:?}");
    assert!(!shown.contains("9QZxrCVgf5An9ZKniac0AbY7fxQen31cLG7OvrhZ"));
    assert!(!shown.contains("FQoGZXIvYXdz"));
}

#[test]
fn reads_error_response_as_refusal() {
    assert_eq!(
        read_answer(403, ERROR.as_bytes()),
        Err(UpstreamError::Refused {
            code: "AccessDenied".into(),
            message: "Not authorized to perform sts:AssumeRoleWithWebIdentity & more".into(),
        })
    );
}

#[test]
fn error_without_message_is_still_a_refusal() {
    let body = "<ErrorResponse><Error><Code>InvalidIdentityToken</Code></Error></ErrorResponse>";
    assert_eq!(
        read_answer(400, body.as_bytes()),
        Err(UpstreamError::Refused {
            code: "InvalidIdentityToken".into(),
            message: String::new(),
        })
    );
}

#[test]
fn server_errors_and_throttling_are_unavailable() {
    let unavailable = |status: u16, code: &str| {
        let body = format!(
            "<ErrorResponse><Error><Type>Receiver</Type><Code>{code}</Code><Message>try later</Message></Error></ErrorResponse>"
        );
        matches!(
            read_answer(status, body.as_bytes()),
            Err(UpstreamError::Unavailable(detail)) if detail.contains(code)
        )
    };
    assert!(unavailable(503, "ServiceUnavailable"));
    assert!(unavailable(500, "SomethingNew"));
    assert!(unavailable(400, "Throttling"));
    assert!(unavailable(400, "IDPCommunicationError"));
}

#[test]
fn anything_else_is_unavailable() {
    let html = "<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>";
    for (status, body) in [
        (500, html),
        (200, ""),
        (200, "not xml at all"),
        (200, "{\"Credentials\":{}}"),
        (200, "<AssumeRoleWithWebIdentityResponse><ResponseMetadata/></AssumeRoleWithWebIdentityResponse>"),
        // A result is only taken from a successful answer.
        (302, MOTO_SUCCESS),
    ] {
        assert!(
            matches!(read_answer(status, body.as_bytes()), Err(UpstreamError::Unavailable(_))),
            "{status} {body}"
        );
    }
    assert!(matches!(
        read_answer(200, &[0xff, 0xfe, 0x00]),
        Err(UpstreamError::Unavailable(_))
    ));
}

#[test]
fn unreadable_expiration_or_empty_credentials_are_unavailable() {
    let bad_date = MOTO_SUCCESS.replace("2026-12-05T01:55:21.341111Z", "tomorrow");
    let Err(UpstreamError::Unavailable(detail)) = read_answer(200, bad_date.as_bytes()) else {
        panic!("an unreadable Expiration must not give credentials");
    };
    assert!(detail.contains("tomorrow"));
    assert!(!detail.contains("9QZxrCVgf5An9ZKniac0AbY7fxQen31cLG7OvrhZ"));
    let empty_key = MOTO_SUCCESS.replace("ASIARZPUZDIKGDZROAPC", "");
    assert!(matches!(
        read_answer(200, empty_key.as_bytes()),
        Err(UpstreamError::Unavailable(_))
    ));
}

#[test]
fn parses_iso_8601_expirations() {
    assert_eq!(parse_expiration("2026-12-05T01:55:21Z"), Some(EXPIRES));
    assert_eq!(
        parse_expiration("2026-12-05T01:55:21.341111Z"),
        Some(EXPIRES)
    );
    assert_eq!(
        parse_expiration("2026-12-05T01:55:21.999999999Z"),
        Some(EXPIRES)
    );
    assert_eq!(parse_expiration(" 2026-12-05T01:55:21.5Z\n"), Some(EXPIRES));
    assert_eq!(parse_expiration("2026-12-05T02:55:21+01:00"), Some(EXPIRES));
    assert_eq!(
        parse_expiration("2026-12-04T20:55:21.000-05:00"),
        Some(EXPIRES)
    );
    assert_eq!(parse_expiration("1970-01-01T00:00:00Z"), Some(0));
    // No offset: no instant.
    assert_eq!(parse_expiration("2026-12-05T01:55:21"), None);
    assert_eq!(parse_expiration("1969-12-31T23:59:59Z"), None);
    assert_eq!(parse_expiration("2026-13-05T01:55:21Z"), None);
    assert_eq!(parse_expiration("1796435721"), None);
    assert_eq!(parse_expiration(""), None);
}

#[test]
fn form_encodes_every_member() {
    let form = Request {
        role_arn: "arn:aws:iam::123456789012:role/External",
        session_name: "CognitoIdentityCredentials",
        token: "a+b/c=d&e",
        duration_seconds: 3600,
    }
    .form();
    let pairs: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes())
        .into_owned()
        .collect();
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", "arn:aws:iam::123456789012:role/External"),
            ("RoleSessionName", "CognitoIdentityCredentials"),
            ("WebIdentityToken", "a+b/c=d&e"),
            ("DurationSeconds", "3600"),
        ]
    );
}

fn sts_at(endpoint: String) -> ExternalStsConfig {
    ExternalStsConfig {
        name: "test".into(),
        endpoint,
        region: None,
    }
}

/// Serves one canned HTTP answer and hands back the request it read.
async fn one_answer(
    status_line: &'static str,
    body: &'static str,
) -> (String, tokio::task::JoinHandle<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        // Headers, then as many bytes as Content-Length says.
        loop {
            let n = socket.read(&mut buffer).await.unwrap();
            request.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&request).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|line| {
                        let (name, value) = line.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if request.len() >= end + 4 + length || n == 0 {
                    break;
                }
            }
        }
        let answer = format!(
            "{status_line}\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(answer.as_bytes()).await.unwrap();
        String::from_utf8(request).unwrap()
    });
    (endpoint, server)
}

#[tokio::test]
async fn posts_the_form_and_reads_the_answer() {
    let (endpoint, server) = one_answer("HTTP/1.1 200 OK", MOTO_SUCCESS).await;
    let upstream = HttpUpstream::new().unwrap();
    let answer = upstream
        .assume_role_with_web_identity(
            &sts_at(endpoint),
            "arn:aws:iam::123456789012:role/External",
            "CognitoIdentityCredentials",
            "header.payload.signature",
            900,
        )
        .await;
    assert_eq!(credentials(answer).expiration, EXPIRES);
    let request = server.await.unwrap();
    assert!(request.starts_with("POST / HTTP/1.1\r\n"), "{request}");
    let lower = request.to_ascii_lowercase();
    assert!(lower.contains("content-type: application/x-www-form-urlencoded; charset=utf-8"));
    // Unsigned: AssumeRoleWithWebIdentity needs no key of the STS.
    assert!(!lower.contains("authorization:"));
    assert!(request.ends_with(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15\
         &RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2FExternal\
         &RoleSessionName=CognitoIdentityCredentials\
         &WebIdentityToken=header.payload.signature&DurationSeconds=900"
    ));
}

#[tokio::test]
async fn a_refusal_over_http_is_refused() {
    let (endpoint, server) = one_answer("HTTP/1.1 403 Forbidden", ERROR).await;
    let answer = HttpUpstream::new()
        .unwrap()
        .assume_role_with_web_identity(&sts_at(endpoint), "arn", "session", "token", 3600)
        .await;
    assert!(matches!(answer, Err(UpstreamError::Refused { code, .. }) if code == "AccessDenied"));
    server.await.unwrap();
}

#[tokio::test]
async fn an_unreachable_sts_is_unavailable() {
    // A port that was just free: nothing listens on it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let answer = HttpUpstream::new()
        .unwrap()
        .assume_role_with_web_identity(&sts_at(endpoint), "arn", "session", "secret-token", 3600)
        .await;
    let Err(UpstreamError::Unavailable(detail)) = answer else {
        panic!("expected Unavailable, got {answer:?}");
    };
    assert!(!detail.contains("secret-token"));
}

fn provider(client_ids: &[&str]) -> OpenIdProviderConfig {
    OpenIdProviderConfig {
        arn: "arn:aws:iam::123456789012:oidc-provider/issuer.example".into(),
        issuer: "https://issuer.example".into(),
        client_ids: client_ids.iter().map(|id| id.to_string()).collect(),
    }
}

fn claims(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

#[test]
fn audience_is_checked_only_against_listed_client_ids() {
    let token = claims(json!({"aud": "web"}));
    assert_eq!(check_audience(&provider(&[]), &token), Ok(()));
    assert_eq!(check_audience(&provider(&["web", "ios"]), &token), Ok(()));
    assert_eq!(
        check_audience(
            &provider(&["ios"]),
            &claims(json!({"aud": ["other", "ios"]}))
        ),
        Ok(())
    );
    assert_eq!(
        check_audience(&provider(&["ios"]), &token),
        Err(UpstreamError::InvalidToken(
            "Incorrect token audience.".into()
        ))
    );
    assert_eq!(
        check_audience(&provider(&["ios"]), &claims(json!({"sub": "x"}))),
        Err(UpstreamError::InvalidToken(
            "Missing a required claim: aud".into()
        ))
    );
}

#[test]
fn verify_errors_become_cognito_messages() {
    let message = |error| match refusal(error) {
        UpstreamError::InvalidToken(message) => message,
        other => panic!("expected InvalidToken, got {other:?}"),
    };
    assert_eq!(
        message(VerifyError::Expired { exp: 100, now: 200 }),
        "Token expired: 200 >= 100"
    );
    assert_eq!(
        message(VerifyError::InvalidSignature),
        "Couldn't verify signed token."
    );
    assert_eq!(
        message(VerifyError::UnknownKid("k".into())),
        "Couldn't verify signed token."
    );
    assert_eq!(
        message(VerifyError::WrongIssuer("https://elsewhere".into())),
        "Issuer doesn't match providerName"
    );
    assert_eq!(
        message(VerifyError::MissingClaim("exp")),
        "Missing a required claim: exp"
    );
    assert_eq!(
        message(VerifyError::Malformed("three parts")),
        "Not a valid OpenId Connect identity token."
    );
    assert_eq!(
        message(VerifyError::UnsupportedAlgorithm("HS256".into())),
        "Not a valid OpenId Connect identity token."
    );
    assert!(matches!(
        refusal(VerifyError::KeysUnavailable {
            issuer: "https://issuer.example".into(),
            reason: tessera_verify::FetchError::NotFetched,
        }),
        UpstreamError::Unavailable(_)
    ));
}

#[tokio::test]
async fn an_unreachable_issuer_is_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let provider = OpenIdProviderConfig {
        arn: "arn:aws:iam::123456789012:oidc-provider/127.0.0.1".into(),
        issuer: issuer.clone(),
        client_ids: Vec::new(),
    };
    // A well-formed RS256 token of that issuer with a signature nobody checks first.
    let encode = |value: Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    };
    let token = format!(
        "{}.{}.{}",
        encode(json!({"alg": "RS256", "kid": "k1", "typ": "JWT"})),
        encode(json!({"iss": issuer, "sub": "s", "aud": "a", "exp": 4_000_000_000u64})),
        encode(json!("signature")),
    );
    let answer = HttpUpstream::new()
        .unwrap()
        .verify_openid_token(&provider, &token)
        .await;
    assert!(
        matches!(answer, Err(UpstreamError::Unavailable(_))),
        "{answer:?}"
    );
}
