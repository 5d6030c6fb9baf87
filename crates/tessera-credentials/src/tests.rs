//! The crate's tests: the one test binary of tessera-credentials (an integration test would be
//! a second one; these reach the internals they need through `crate::`).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::json;
use tessera_sigv4::{Dialect, Options, Request};

use crate::*;

/// 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;
const AMZ_DATE: &str = "20260101T000000Z";
const IDENTITY: &str = "us-east-1:1b2c3d4e-0000-4000-8000-000000000001";
const OTHER_IDENTITY: &str = "us-east-1:1b2c3d4e-0000-4000-8000-000000000002";
const POOL: &str = "us-east-1:9f8e7d6c-0000-4000-8000-00000000abcd";
const ROLE: &str = "arn:aws:iam::123456789012:role/tessera-authenticated";

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

fn key(seed: u8) -> SessionKey {
    SessionKey::from_bytes([seed; 32])
}

fn entropy(seed: u8) -> Entropy {
    let mut bytes = [0u8; Entropy::LEN];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(31) ^ seed;
    }
    Entropy::from_bytes(bytes)
}

/// The policy Cognito's documentation gives for per-identity folders in a bucket.
fn own_prefix_policy() -> Policy {
    Policy::from_value(json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": "arn:aws:s3:::photos/${cognito-identity.amazonaws.com:sub}/*"
            },
            {
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": "arn:aws:s3:::photos",
                "Condition": {"StringLike": {"s3:prefix": "${cognito-identity.amazonaws.com:sub}/*"}}
            }
        ]
    }))
    .unwrap()
}

fn claims() -> SessionClaims {
    SessionClaims {
        identity_id: IDENTITY.into(),
        identity_pool_id: POOL.into(),
        role_arn: ROLE.into(),
        role_session_name: "CognitoIdentityCredentials".into(),
        account: "123456789012".into(),
        issued_at: NOW - 60,
        expires_at: NOW + 3600,
        amr: vec![
            "authenticated".into(),
            "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI".into(),
        ],
        principal_tags: BTreeMap::from([("team".into(), "blue".into())]),
        policies: vec![own_prefix_policy()],
        source: "tessera".into(),
    }
}

fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// A PutObject as boto3 sends it over http (signed payload, CRC32 header), signed with
/// `access_key_id` and `secret` and carrying `token`.
struct Signed {
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Signed {
    fn put(
        access_key_id: &str,
        secret: &str,
        token: Option<&str>,
        path: &str,
        body: &[u8],
    ) -> Self {
        let sha = hex_sha256(body);
        let mut pairs = vec![
            ("host", "127.0.0.1:9000"),
            ("x-amz-date", AMZ_DATE),
            ("x-amz-content-sha256", sha.as_str()),
            ("x-amz-checksum-crc32", "NhCmhg=="),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
        ];
        if let Some(token) = token {
            pairs.push(("x-amz-security-token", token));
        }
        let mut headers = header_map(&pairs);
        let names: Vec<&str> = pairs.iter().map(|(name, _)| *name).collect();
        let request = Request {
            method: "PUT",
            path,
            query: "",
            headers: &headers,
            body,
        };
        let authorization = tessera_sigv4::authorization_header_with(
            &request,
            access_key_id,
            secret,
            "us-east-1",
            "s3",
            &names,
            &Options::new(Dialect::S3),
        )
        .unwrap();
        headers.insert("authorization", authorization.parse().unwrap());
        Signed {
            path: path.to_owned(),
            headers,
            body: body.to_vec(),
        }
    }

    fn request(&self) -> Request<'_> {
        Request {
            method: "PUT",
            path: &self.path,
            query: "",
            headers: &self.headers,
            body: &self.body,
        }
    }
}

fn hex_sha256(body: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn own_path() -> String {
    format!("/photos/{}/cat.jpg", IDENTITY.replace(':', "%3A"))
}

// --- Session keys and tokens ---

#[test]
fn issue_and_open_round_trip() {
    let credentials = issue(&key(1), claims(), &entropy(1));
    let akid = &credentials.access_key_id;
    assert_eq!(akid.len(), 20);
    assert!(akid.starts_with("ASIA"));
    assert!(akid[4..]
        .bytes()
        .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)));
    let secret = &credentials.secret_access_key;
    assert_eq!(secret.len(), 40);
    assert!(secret
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/'));
    assert_eq!(credentials.expiration, NOW + 3600);
    assert!(credentials.session_token.starts_with("tsc1."));
    // Opaque: nothing of the session reads through.
    assert!(!credentials.session_token.contains("photos"));
    assert!(!credentials.session_token.contains(secret.as_str()));

    let session = open(&[key(1)], &credentials.session_token).unwrap();
    let expected = claims();
    assert_eq!(&session.access_key_id, akid);
    assert_eq!(&session.secret_access_key, secret);
    assert_eq!(session.identity_id, expected.identity_id);
    assert_eq!(session.identity_pool_id, expected.identity_pool_id);
    assert_eq!(session.role_arn, expected.role_arn);
    assert_eq!(session.role_session_name, expected.role_session_name);
    assert_eq!(session.account, expected.account);
    assert_eq!(session.issued_at, expected.issued_at);
    assert_eq!(session.expires_at, expected.expires_at);
    assert_eq!(session.amr, expected.amr);
    assert_eq!(session.principal_tags, expected.principal_tags);
    assert_eq!(session.policies, expected.policies);
    assert_eq!(session.source, "tessera");

    // Time and randomness are arguments: the same ones give the same credentials, other
    // entropy gives other ones.
    let again = issue(&key(1), claims(), &entropy(1));
    assert_eq!(again.access_key_id, credentials.access_key_id);
    assert_eq!(again.secret_access_key, credentials.secret_access_key);
    assert_eq!(again.session_token, credentials.session_token);
    let other = issue(&key(1), claims(), &entropy(2));
    assert_ne!(other.access_key_id, credentials.access_key_id);
    assert_ne!(other.secret_access_key, credentials.secret_access_key);
    assert_ne!(other.session_token, credentials.session_token);
}

#[test]
fn secrets_stay_out_of_debug() {
    let credentials = issue(&key(1), claims(), &entropy(1));
    let session = open(&[key(1)], &credentials.session_token).unwrap();
    let verifier = Verifier::new(vec![key(1)]);
    for shown in [
        format!("{credentials:?}"),
        format!("{session:?}"),
        format!("{:?}", key(1)),
        format!("{:?}", entropy(1)),
        format!("{verifier:?}"),
        format!("{:?}", Caller::new(session.clone())),
    ] {
        assert!(!shown.contains(&credentials.secret_access_key), "{shown}");
        assert!(!shown.contains(&credentials.session_token), "{shown}");
        assert!(!shown.contains(&key(1).to_base64()), "{shown}");
        assert!(!shown.contains("[1, 1, 1"), "{shown}");
    }
    assert!(format!("{credentials:?}").contains(&credentials.access_key_id));
}

#[test]
fn every_altered_character_is_refused() {
    let token = issue(&key(1), claims(), &entropy(1)).session_token;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for i in 0..token.len() {
        let mut bytes = token.clone().into_bytes();
        // Another character of the base64url alphabet, so that the token still decodes
        // wherever it can.
        let position = alphabet.iter().position(|&c| c == bytes[i]).unwrap_or(0);
        bytes[i] = alphabet[(position + 1) % alphabet.len()];
        let altered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            open(&[key(1)], &altered).unwrap_err(),
            Error::InvalidToken,
            "character {i}"
        );
    }
    for broken in [
        String::new(),
        "tsc1.".into(),
        token[..token.len() - 1].to_owned(),
        token[..40].to_owned(),
        token.replacen("tsc1.", "tsc2.", 1),
        token.replacen("tsc1.", "", 1),
        format!("{token}A"),
        format!("{token}="),
        format!("tsc1.{}", "A".repeat(70_000)),
        token.replace('-', "+"),
    ] {
        if broken != token {
            assert_eq!(open(&[key(1)], &broken).unwrap_err(), Error::InvalidToken);
        }
    }
}

#[test]
fn tokens_open_only_under_their_key_and_survive_rotation() {
    let token = issue(&key(1), claims(), &entropy(1)).session_token;
    assert_eq!(open(&[key(2)], &token).unwrap_err(), Error::InvalidToken);
    assert_eq!(open(&[], &token).unwrap_err(), Error::InvalidToken);
    // After a rotation the new key comes first and the previous one still opens old tokens.
    assert!(open(&[key(2), key(1)], &token).is_ok());
    let fresh = issue(&key(2), claims(), &entropy(1)).session_token;
    assert!(open(&[key(2), key(1)], &fresh).is_ok());
    assert_eq!(open(&[key(1)], &fresh).unwrap_err(), Error::InvalidToken);
}

#[test]
fn session_keys_in_base64() {
    let original = SessionKey::from_bytes(core::array::from_fn(|i| i as u8));
    let text = original.to_base64();
    assert_eq!(text.len(), 44);
    let read = SessionKey::from_base64(&format!("{text}\n")).unwrap();
    // The same key: a token sealed with one opens with the other.
    let token = issue(&original, claims(), &entropy(1)).session_token;
    assert!(open(&[read], &token).is_ok());
    for bad in ["", "not base64!", "AAAA", &"A".repeat(48)] {
        assert_eq!(
            SessionKey::from_base64(bad).unwrap_err(),
            Error::InvalidSessionKey
        );
    }
}

#[test]
fn user_id_has_aws_shape() {
    let session = open(
        &[key(1)],
        &issue(&key(1), claims(), &entropy(1)).session_token,
    )
    .unwrap();
    let user_id = session.user_id();
    let (role_id, name) = user_id.split_once(':').unwrap();
    assert_eq!(role_id.len(), 21);
    assert!(role_id.starts_with("AROA"));
    assert_eq!(name, "CognitoIdentityCredentials");
    // Stable: derived from the role ARN alone.
    assert_eq!(session.role_id(), session.clone().role_id());
    let mut other = session.clone();
    other.role_arn = "arn:aws:iam::123456789012:role/other".into();
    assert_ne!(other.role_id(), session.role_id());
}

// --- Checking signed requests ---

#[test]
fn a_request_signed_with_the_credentials_passes() {
    let credentials = issue(&key(1), claims(), &entropy(1));
    let signed = Signed::put(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        Some(&credentials.session_token),
        &own_path(),
        &[b'x'; 1024],
    );
    let verifier = Verifier::new(vec![key(1)]);
    let caller = verifier.check(&signed.request(), "s3", at(NOW)).unwrap();
    assert_eq!(caller.session.identity_id, IDENTITY);
    let no_keys = BTreeMap::new();
    assert_eq!(
        caller.authorize(
            "s3:PutObject",
            &format!("arn:aws:s3:::photos/{IDENTITY}/cat.jpg"),
            &no_keys
        ),
        Decision::Allow
    );
    assert_eq!(
        caller.authorize(
            "s3:PutObject",
            &format!("arn:aws:s3:::photos/{OTHER_IDENTITY}/cat.jpg"),
            &no_keys
        ),
        Decision::ImplicitDeny
    );
    // After a rotation, a verifier with the new and the previous key still accepts it.
    let rotated = Verifier::new(vec![key(2), key(1)]);
    assert!(rotated.check(&signed.request(), "s3", at(NOW)).is_ok());
}

#[test]
fn each_failure_has_its_own_error() {
    let credentials = issue(&key(1), claims(), &entropy(1));
    let other = issue(&key(1), claims(), &entropy(2));
    let verifier = Verifier::new(vec![key(1)]);
    let body = [b'x'; 1024];
    let check = |signed: &Signed, service: &str, now: u64| {
        verifier
            .check(&signed.request(), service, at(now))
            .unwrap_err()
    };
    let good = || {
        Signed::put(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            Some(&credentials.session_token),
            &own_path(),
            &body,
        )
    };

    // A wrong secret.
    let wrong_secret = Signed::put(
        &credentials.access_key_id,
        &other.secret_access_key,
        Some(&credentials.session_token),
        &own_path(),
        &body,
    );
    assert_eq!(check(&wrong_secret, "s3", NOW), Error::SignatureMismatch);

    // A tampered token (re-signed, so only the token is wrong).
    let mut tampered = credentials.session_token.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let signed = Signed::put(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        Some(&tampered),
        &own_path(),
        &body,
    );
    assert_eq!(check(&signed, "s3", NOW), Error::InvalidToken);

    // A token sealed under a key the verifier does not hold.
    let foreign = issue(&key(9), claims(), &entropy(1));
    let signed = Signed::put(
        &foreign.access_key_id,
        &foreign.secret_access_key,
        Some(&foreign.session_token),
        &own_path(),
        &body,
    );
    assert_eq!(check(&signed, "s3", NOW), Error::InvalidToken);

    // Expired: at the expiry second and after (checked before the request's age), not a
    // second before.
    let late = NOW + 3600;
    assert_eq!(check(&good(), "s3", late), Error::ExpiredToken);
    assert_eq!(check(&good(), "s3", late + 86_400), Error::ExpiredToken);
    let mut short = claims();
    short.expires_at = NOW + 1;
    let short = issue(&key(1), short, &entropy(1));
    let signed = Signed::put(
        &short.access_key_id,
        &short.secret_access_key,
        Some(&short.session_token),
        &own_path(),
        &body,
    );
    assert!(verifier.check(&signed.request(), "s3", at(NOW)).is_ok());
    assert_eq!(check(&signed, "s3", NOW + 1), Error::ExpiredToken);

    // A foreign access key id: the token of one set of credentials with the key id (and
    // secret) of another.
    let signed = Signed::put(
        &other.access_key_id,
        &other.secret_access_key,
        Some(&credentials.session_token),
        &own_path(),
        &body,
    );
    assert_eq!(check(&signed, "s3", NOW), Error::AccessKeyMismatch);

    // No token, no signature at all, another service, a clock too far off.
    let signed = Signed::put(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        None,
        &own_path(),
        &body,
    );
    assert_eq!(check(&signed, "s3", NOW), Error::MissingSecurityToken);
    let mut anonymous = good();
    anonymous.headers.remove("authorization");
    assert_eq!(check(&anonymous, "s3", NOW), Error::Anonymous);
    assert_eq!(
        check(&good(), "dynamodb", NOW),
        Error::AuthorizationMalformed(
            "The authorization header is malformed; incorrect service \"s3\". This endpoint belongs to \"dynamodb\".".into()
        )
    );
    assert_eq!(
        check(&good(), "s3", NOW - 16 * 60),
        Error::RequestTimeTooSkewed
    );

    // The body is not the one signed; the path is not the one signed.
    let mut altered = good();
    altered.body[0] = b'y';
    assert_eq!(check(&altered, "s3", NOW), Error::ContentSha256Mismatch);
    let mut moved = good();
    moved.path = format!("/photos/{}/dog.jpg", IDENTITY.replace(':', "%3A"));
    assert_eq!(check(&moved, "s3", NOW), Error::SignatureMismatch);

    // Two tokens, and a malformed Authorization header.
    let mut doubled = good();
    doubled.headers.append(
        "x-amz-security-token",
        credentials.session_token.parse().unwrap(),
    );
    assert_eq!(check(&doubled, "s3", NOW), Error::InvalidToken);
    let mut garbled = good();
    garbled.headers.insert(
        "authorization",
        "AWS4-HMAC-SHA256 Nonsense".parse().unwrap(),
    );
    assert!(matches!(
        check(&garbled, "s3", NOW),
        Error::AuthorizationMalformed(_)
    ));
}

#[test]
fn errors_map_to_s3_codes() {
    let table = [
        (Error::Anonymous, "AccessDenied", 403),
        (Error::AccessDenied, "AccessDenied", 403),
        (
            Error::AuthorizationMalformed("m".into()),
            "AuthorizationHeaderMalformed",
            400,
        ),
        (Error::MissingSecurityToken, "InvalidAccessKeyId", 403),
        (Error::AccessKeyMismatch, "InvalidAccessKeyId", 403),
        (Error::InvalidToken, "InvalidToken", 400),
        (Error::ExpiredToken, "ExpiredToken", 400),
        (Error::RequestTimeTooSkewed, "RequestTimeTooSkewed", 403),
        (Error::SignatureMismatch, "SignatureDoesNotMatch", 403),
        (
            Error::ContentSha256Mismatch,
            "XAmzContentSHA256Mismatch",
            400,
        ),
        (Error::UnsupportedContentSha256, "InvalidArgument", 400),
        (
            Error::MalformedPolicy("m".into()),
            "MalformedPolicyDocument",
            400,
        ),
    ];
    for (error, code, status) in table {
        assert_eq!(error.aws_code(), code, "{error:?}");
        assert_eq!(error.http_status().as_u16(), status, "{error:?}");
    }
    assert_eq!(
        Error::ExpiredToken.to_string(),
        "The provided token has expired."
    );
    assert_eq!(
        Error::InvalidToken.to_string(),
        "The provided token is malformed or otherwise invalid."
    );
}

#[test]
fn described_requests_are_checked_and_authorized() {
    let credentials = issue(&key(1), claims(), &entropy(1));
    let body = [b'x'; 1024];
    let signed = Signed::put(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        Some(&credentials.session_token),
        &own_path(),
        &body,
    );
    let described = |resource: String| CheckRequest {
        method: "PUT".into(),
        path: own_path(),
        query: String::new(),
        headers: signed
            .headers
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_owned()))
            .collect(),
        body_sha256: Some(hex_sha256(&body)),
        service: "s3".into(),
        action: "s3:PutObject".into(),
        resource,
        keys: BTreeMap::new(),
    };
    let verifier = Verifier::new(vec![key(1)]);
    let own = described(format!("arn:aws:s3:::photos/{IDENTITY}/cat.jpg"));
    // It travels as JSON in camelCase.
    let wire = serde_json::to_value(&own).unwrap();
    assert!(wire.get("bodySha256").is_some());
    let own: CheckRequest = serde_json::from_value(wire).unwrap();
    let outcome = verifier.check_described(&own, at(NOW)).unwrap();
    assert_eq!(
        serde_json::to_value(&outcome).unwrap(),
        json!({
            "identityId": IDENTITY,
            "identityPoolId": POOL,
            "roleArn": ROLE,
            "decision": "Allow",
        })
    );
    let theirs = described(format!("arn:aws:s3:::photos/{OTHER_IDENTITY}/cat.jpg"));
    assert_eq!(
        verifier.check_described(&theirs, at(NOW)).unwrap().decision,
        Decision::ImplicitDeny
    );

    let mut wrong_body = own.clone();
    wrong_body.body_sha256 = Some(hex_sha256(b"other"));
    assert_eq!(
        verifier.check_described(&wrong_body, at(NOW)).unwrap_err(),
        Error::ContentSha256Mismatch
    );
    let mut bad_hash = own.clone();
    bad_hash.body_sha256 = Some(format!("+{}", &hex_sha256(&body)[1..]));
    assert!(matches!(
        verifier.check_described(&bad_hash, at(NOW)),
        Err(Error::InvalidRequest(_))
    ));
    let mut bad_header = own.clone();
    bad_header.headers.push(("bad header".into(), "x".into()));
    assert!(matches!(
        verifier.check_described(&bad_header, at(NOW)),
        Err(Error::InvalidRequest(_))
    ));
    assert_eq!(
        verifier.check_described(&own, at(NOW + 3600)).unwrap_err(),
        Error::ExpiredToken
    );
}

// --- Policies ---

fn decide(policy: serde_json::Value, request: &RequestContext) -> Decision {
    evaluate(&[Policy::from_value(policy).unwrap()], request)
}

/// A caller with `claims`' session but these policies, for policy variables.
fn caller_with(policies: Vec<serde_json::Value>) -> Caller {
    let mut claims = claims();
    claims.policies = policies
        .into_iter()
        .map(|p| Policy::from_value(p).unwrap())
        .collect();
    let token = issue(&key(1), claims, &entropy(1)).session_token;
    Caller::new(open(&[key(1)], &token).unwrap())
}

#[test]
fn explicit_deny_wins_then_allow_then_implicit_deny() {
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::photos/*"}
        ]
    });
    let table = [
        ("s3:GetObject", "arn:aws:s3:::photos/a", Decision::Allow),
        (
            "s3:DeleteObject",
            "arn:aws:s3:::photos/a",
            Decision::ExplicitDeny,
        ),
        ("s3:DeleteObject", "arn:aws:s3:::other/a", Decision::Allow),
        (
            "dynamodb:GetItem",
            "arn:aws:s3:::photos/a",
            Decision::ImplicitDeny,
        ),
    ];
    for (action, resource, expected) in table {
        assert_eq!(
            decide(policy.clone(), &RequestContext::new(action, resource)),
            expected,
            "{action} {resource}"
        );
    }
    // A deny in another policy wins just the same, in either order.
    let allow = Policy::from_value(json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})).unwrap();
    let deny = Policy::from_value(json!({"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}})).unwrap();
    let request = RequestContext::new("s3:PutObject", "arn:aws:s3:::b/k");
    assert_eq!(
        evaluate(&[allow.clone(), deny.clone()], &request),
        Decision::ExplicitDeny
    );
    assert_eq!(evaluate(&[deny, allow], &request), Decision::ExplicitDeny);
    assert_eq!(evaluate(&[], &request), Decision::ImplicitDeny);
    assert!(Decision::Allow.is_allowed());
    assert!(!Decision::ExplicitDeny.is_allowed());
    assert!(!Decision::ImplicitDeny.is_allowed());
}

#[test]
fn actions_and_resources_match_with_wildcards() {
    let allow = |action: &str, resource: &str| json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": action, "Resource": resource}});
    let table = [
        // Actions ignore case and take `*` and `?`.
        ("s3:GetObject", "*", "S3:getobject", "arn:x", true),
        ("s3:Get*", "*", "s3:GetObjectAcl", "arn:x", true),
        ("s3:Get*", "*", "s3:PutObject", "arn:x", false),
        ("s3:?etObject", "*", "s3:GetObject", "arn:x", true),
        ("s3:?etObject", "*", "s3:GGetObject", "arn:x", false),
        ("*", "*", "anything:AtAll", "arn:x", true),
        ("s3:*", "*", "s3express:CreateSession", "arn:x", false),
        // Resources are case-sensitive.
        (
            "s3:GetObject",
            "arn:aws:s3:::photos/*",
            "s3:GetObject",
            "arn:aws:s3:::photos/a/b",
            true,
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::photos/*",
            "s3:GetObject",
            "arn:aws:s3:::Photos/a",
            false,
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::photos/*",
            "s3:GetObject",
            "arn:aws:s3:::photos",
            false,
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::photos*",
            "s3:GetObject",
            "arn:aws:s3:::photos",
            true,
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::p?otos/*.jpg",
            "s3:GetObject",
            "arn:aws:s3:::photos/x.jpg",
            true,
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::p?otos/*.jpg",
            "s3:GetObject",
            "arn:aws:s3:::photos/x.png",
            false,
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::b/*a*b*",
            "s3:GetObject",
            "arn:aws:s3:::b/xaxxbx",
            true,
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::b/*a*b*",
            "s3:GetObject",
            "arn:aws:s3:::b/xbxxax",
            false,
        ),
        // `?` is one character, not one byte.
        (
            "s3:GetObject",
            "arn:aws:s3:::b/?",
            "s3:GetObject",
            "arn:aws:s3:::b/é",
            true,
        ),
        (
            "s3:GetObject",
            "arn:aws:s3:::b/??",
            "s3:GetObject",
            "arn:aws:s3:::b/é",
            false,
        ),
    ];
    for (pattern_action, pattern_resource, action, resource, allowed) in table {
        let decision = decide(
            allow(pattern_action, pattern_resource),
            &RequestContext::new(action, resource),
        );
        assert_eq!(
            decision.is_allowed(),
            allowed,
            "{pattern_action} {pattern_resource} / {action} {resource}"
        );
    }
}

#[test]
fn not_action_and_not_resource_invert_the_match() {
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "NotAction": ["s3:Delete*", "iam:*"], "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::photos", "arn:aws:s3:::photos/*"]}
        ]
    });
    let table = [
        ("s3:GetObject", "arn:aws:s3:::photos/a", Decision::Allow),
        (
            "s3:DeleteObject",
            "arn:aws:s3:::photos/a",
            Decision::ImplicitDeny,
        ),
        ("iam:CreateUser", "*", Decision::ImplicitDeny),
        (
            "s3:GetObject",
            "arn:aws:s3:::secrets/a",
            Decision::ExplicitDeny,
        ),
        (
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:1:q",
            Decision::Allow,
        ),
    ];
    for (action, resource, expected) in table {
        assert_eq!(
            decide(policy.clone(), &RequestContext::new(action, resource)),
            expected,
            "{action} {resource}"
        );
    }
}

#[test]
fn identity_variables_confine_each_identity_to_its_prefix() {
    let caller = caller_with(vec![own_prefix_policy().document().clone()]);
    let none = BTreeMap::new();
    let object = |identity: &str| format!("arn:aws:s3:::photos/{identity}/cat.jpg");
    assert_eq!(
        caller.authorize("s3:GetObject", &object(IDENTITY), &none),
        Decision::Allow
    );
    assert_eq!(
        caller.authorize("s3:GetObject", &object(OTHER_IDENTITY), &none),
        Decision::ImplicitDeny
    );
    // The variable's value is literal text: it does not become a wildcard.
    assert_eq!(
        caller.authorize(
            "s3:GetObject",
            "arn:aws:s3:::photos/us-east-1:*/cat.jpg",
            &none
        ),
        Decision::ImplicitDeny
    );
    let prefix = |p: &str| BTreeMap::from([("s3:prefix".to_owned(), vec![p.to_owned()])]);
    assert_eq!(
        caller.authorize(
            "s3:ListBucket",
            "arn:aws:s3:::photos",
            &prefix(&format!("{IDENTITY}/"))
        ),
        Decision::Allow
    );
    assert_eq!(
        caller.authorize(
            "s3:ListBucket",
            "arn:aws:s3:::photos",
            &prefix(&format!("{OTHER_IDENTITY}/"))
        ),
        Decision::ImplicitDeny
    );
    assert_eq!(
        caller.authorize("s3:ListBucket", "arn:aws:s3:::photos", &none),
        Decision::ImplicitDeny
    );
    // The service cannot override a key the session supplies.
    let spoof = BTreeMap::from([(
        "cognito-identity.amazonaws.com:sub".to_owned(),
        vec![OTHER_IDENTITY.to_owned()],
    )]);
    assert_eq!(
        caller.authorize("s3:GetObject", &object(OTHER_IDENTITY), &spoof),
        Decision::ImplicitDeny
    );
}

#[test]
fn session_keys_feed_conditions_and_variables() {
    let caller = caller_with(vec![json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TeamFolder",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::teams/${aws:PrincipalTag/Team}/*"
            },
            {
                "Sid": "AuthenticatedOnly",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": "*",
                "Condition": {
                    "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
                    "StringEquals": {
                        "cognito-identity.amazonaws.com:aud": POOL,
                        "aws:PrincipalAccount": "123456789012"
                    }
                }
            },
            {
                "Sid": "OwnUser",
                "Effect": "Allow",
                "Action": "dynamodb:GetItem",
                "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/users",
                "Condition": {"StringEquals": {"dynamodb:LeadingKeys": "${aws:userid}"}}
            },
            {
                "Sid": "MissingTag",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::teams/${aws:PrincipalTag/project}/*"
            },
            {
                "Sid": "DefaultValue",
                "Effect": "Allow",
                "Action": "s3:DeleteObject",
                "Resource": "arn:aws:s3:::teams/${aws:PrincipalTag/project, 'shared'}/*"
            },
            {
                "Sid": "Specials",
                "Effect": "Allow",
                "Action": "s3:GetObjectAcl",
                "Resource": "arn:aws:s3:::odd/${*}${?}${$}"
            }
        ]
    })]);
    let none = BTreeMap::new();
    let table = [
        ("s3:GetObject", "arn:aws:s3:::teams/blue/a", Decision::Allow),
        (
            "s3:GetObject",
            "arn:aws:s3:::teams/red/a",
            Decision::ImplicitDeny,
        ),
        (
            "sqs:SendMessage",
            "arn:aws:sqs:us-east-1:1:q",
            Decision::Allow,
        ),
        // No `project` tag: the statement does not apply, whatever the resource.
        (
            "s3:PutObject",
            "arn:aws:s3:::teams//a",
            Decision::ImplicitDeny,
        ),
        (
            "s3:PutObject",
            "arn:aws:s3:::teams/x/a",
            Decision::ImplicitDeny,
        ),
        (
            "s3:DeleteObject",
            "arn:aws:s3:::teams/shared/a",
            Decision::Allow,
        ),
        ("s3:GetObjectAcl", "arn:aws:s3:::odd/*?$", Decision::Allow),
        (
            "s3:GetObjectAcl",
            "arn:aws:s3:::odd/a?$",
            Decision::ImplicitDeny,
        ),
    ];
    for (action, resource, expected) in table {
        assert_eq!(
            caller.authorize(action, resource, &none),
            expected,
            "{action} {resource}"
        );
    }
    let leading =
        |value: &str| BTreeMap::from([("dynamodb:LeadingKeys".to_owned(), vec![value.to_owned()])]);
    let table_arn = "arn:aws:dynamodb:us-east-1:123456789012:table/users";
    assert_eq!(
        caller.authorize(
            "dynamodb:GetItem",
            table_arn,
            &leading(&caller.session.user_id())
        ),
        Decision::Allow
    );
    assert_eq!(
        caller.authorize("dynamodb:GetItem", table_arn, &leading("AROAOTHER:x")),
        Decision::ImplicitDeny
    );

    // An unauthenticated identity's amr does not pass the condition.
    let mut unauthenticated = caller.clone();
    unauthenticated.session.amr = vec!["unauthenticated".into()];
    assert_eq!(
        unauthenticated.authorize("sqs:SendMessage", "arn:aws:sqs:us-east-1:1:q", &none),
        Decision::ImplicitDeny
    );
}

#[test]
fn condition_operators_follow_iam() {
    let with = |operator: &str, values: serde_json::Value| {
        json!({
            "Version": "2012-10-17",
            "Statement": {
                "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*",
                "Condition": {operator: {"s3:prefix": values}}
            }
        })
    };
    let request = |values: &[&str]| {
        let mut request = RequestContext::new("s3:ListBucket", "arn:aws:s3:::b");
        if !values.is_empty() {
            request = request.with_key("s3:prefix", values.iter().copied());
        }
        request
    };
    #[rustfmt::skip]
    let table: &[(&str, serde_json::Value, &[&str], bool)] = &[
        ("StringEquals", json!("home/"), &["home/"], true),
        ("StringEquals", json!("home/"), &["Home/"], false),
        ("StringEquals", json!(["a", "home/"]), &["home/"], true),
        ("StringEquals", json!("home/"), &[], false),
        ("StringEquals", json!("h*"), &["home/"], false),
        ("StringNotEquals", json!("home/"), &["home/"], false),
        ("StringNotEquals", json!("home/"), &["work/"], true),
        ("StringNotEquals", json!("home/"), &[], true),
        ("StringEqualsIgnoreCase", json!("HOME/"), &["home/"], true),
        ("StringNotEqualsIgnoreCase", json!("HOME/"), &["home/"], false),
        ("StringLike", json!("home/*"), &["home/a/b"], true),
        ("StringLike", json!("home/?"), &["home/ab"], false),
        ("StringLike", json!("home/*"), &[], false),
        ("StringNotLike", json!("home/*"), &["work/a"], true),
        ("StringNotLike", json!("home/*"), &["home/a"], false),
        ("StringNotLike", json!("home/*"), &[], true),
        ("StringEqualsIfExists", json!("home/"), &[], true),
        ("StringEqualsIfExists", json!("home/"), &["work/"], false),
        ("StringLikeIfExists", json!("home/*"), &["home/x"], true),
        ("ForAnyValue:StringEquals", json!(["a", "b"]), &["x", "b"], true),
        ("ForAnyValue:StringEquals", json!(["a", "b"]), &["x", "y"], false),
        ("ForAnyValue:StringEquals", json!(["a", "b"]), &[], false),
        ("ForAllValues:StringEquals", json!(["a", "b"]), &["a", "b"], true),
        ("ForAllValues:StringEquals", json!(["a", "b"]), &["a", "x"], false),
        ("ForAllValues:StringEquals", json!(["a", "b"]), &[], true),
        ("ForAnyValue:StringNotLike", json!("a*"), &["ab", "xy"], true),
        ("ForAllValues:StringNotLike", json!("a*"), &["ab", "xy"], false),
        ("ForAllValues:StringNotLike", json!("a*"), &["xy", "zz"], true),
        ("Bool", json!(true), &["TRUE"], true),
        ("Bool", json!("false"), &["true"], false),
        ("Null", json!("true"), &[], true),
        ("Null", json!("true"), &["x"], false),
        ("Null", json!(false), &["x"], true),
        ("StringEquals", json!(7), &["7"], true),
    ];
    for (operator, values, present, allowed) in table {
        assert_eq!(
            decide(with(operator, values.clone()), &request(present)).is_allowed(),
            *allowed,
            "{operator} {values} {present:?}"
        );
    }
    // Condition key names ignore case; every operator and key must hold.
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*",
            "Condition": {
                "StringLike": {"S3:Prefix": "home/*"},
                "StringEquals": {"s3:delimiter": "/", "s3:max-keys": "10"}
            }
        }
    });
    let full = RequestContext::new("s3:ListBucket", "arn:aws:s3:::b")
        .with_key("s3:prefix", ["home/x"])
        .with_key("s3:DELIMITER", ["/"])
        .with_key("s3:max-keys", ["10"]);
    assert_eq!(decide(policy.clone(), &full), Decision::Allow);
    let partial = full.clone().with_key("s3:max-keys", ["11"]);
    assert_eq!(decide(policy, &partial), Decision::ImplicitDeny);
}

#[test]
fn version_2008_takes_variables_literally() {
    let statement = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:userid}"});
    let caller = caller_with(vec![
        json!({"Version": "2008-10-17", "Statement": statement.clone()}),
    ]);
    let none = BTreeMap::new();
    assert_eq!(
        caller.authorize("s3:GetObject", "arn:aws:s3:::b/${aws:userid}", &none),
        Decision::Allow
    );
    let caller = caller_with(vec![json!({"Statement": statement})]);
    assert_eq!(
        caller.authorize(
            "s3:GetObject",
            &format!("arn:aws:s3:::b/{}", caller.session.user_id()),
            &none
        ),
        Decision::ImplicitDeny
    );
}

#[test]
fn malformed_documents_are_refused_with_the_reason() {
    let statement = |extra: serde_json::Value| {
        let mut statement = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
        for (key, value) in extra.as_object().unwrap() {
            if value.is_null() {
                statement.as_object_mut().unwrap().remove(key);
            } else {
                statement[key] = value.clone();
            }
        }
        json!({"Version": "2012-10-17", "Statement": [statement]})
    };
    let table = [
        (json!([]), "must be a JSON object"),
        (json!({"Version": "2012-10-17"}), "must have a Statement"),
        (
            json!({"Version": "2012-10-17", "Statement": []}),
            "must have a Statement",
        ),
        (
            json!({"Version": "2012-10-17", "Statement": ["x"]}),
            "Statement 1 must be a JSON object",
        ),
        (
            json!({"Version": "2020-01-01", "Statement": {}}),
            "Version must be",
        ),
        (
            json!({"Version": "2012-10-17", "Statment": []}),
            "\"Statment\"",
        ),
        (
            statement(json!({"Effect": "allow"})),
            "Statement 1: Effect must be",
        ),
        (statement(json!({"Effect": null})), "Effect is missing"),
        (
            statement(json!({"Action": null})),
            "Action (or NotAction) is missing",
        ),
        (
            statement(json!({"NotAction": "s3:*"})),
            "cannot both be given",
        ),
        (
            statement(json!({"Action": "GetObject"})),
            "must be \"*\" or name its service",
        ),
        (statement(json!({"Action": []})), "non-empty array"),
        (
            statement(json!({"Action": [1]})),
            "non-empty array of strings",
        ),
        (
            statement(json!({"Resource": null})),
            "Resource (or NotResource) is missing",
        ),
        (statement(json!({"Resource": "photos/*"})), "must be an ARN"),
        (statement(json!({"Principal": "*"})), "no Principal"),
        (
            statement(json!({"Effects": "Allow"})),
            "\"Effects\" is not an element",
        ),
        (
            statement(json!({"Condition": {"NumericLessThan": {"s3:max-keys": "10"}}})),
            "NumericLessThan is not supported",
        ),
        (
            statement(json!({"Condition": {"StringEquals": "x"}})),
            "must map condition keys",
        ),
        (
            statement(json!({"Condition": {"StringEquals": {"k": []}}})),
            "values of k",
        ),
        (
            statement(json!({"Condition": {"StringEquals": {"k": {"a": 1}}}})),
            "values of k",
        ),
        (
            statement(json!({"Condition": {"Null": {"k": "maybe"}}})),
            "Null takes",
        ),
        (
            statement(json!({"Condition": {"ForAnyValue:Null": {"k": "true"}}})),
            "does not exist",
        ),
        (
            statement(json!({"Resource": "arn:aws:s3:::b/${aws:userid, default}"})),
            "single quotes",
        ),
        (
            statement(json!({"Resource": "arn:aws:s3:::b/${ }"})),
            "does not name a key",
        ),
    ];
    for (document, expected) in table {
        let error = Policy::from_value(document.clone()).unwrap_err();
        assert_eq!(error.aws_code(), "MalformedPolicyDocument");
        let Error::MalformedPolicy(message) = &error else {
            panic!("{error:?}");
        };
        assert!(message.contains(expected), "{document}: {message}");
    }
    let duplicate = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "A", "Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Sid": "A", "Effect": "Deny", "Action": "s3:*", "Resource": "*"}
    ]});
    assert!(Policy::from_value(duplicate)
        .unwrap_err()
        .to_string()
        .contains("Statement 2: the Sid \"A\""));
    assert!(Policy::parse("{not json")
        .unwrap_err()
        .to_string()
        .contains("not valid JSON"));
    // A lone statement object, and an unterminated `${`, are fine.
    assert!(Policy::parse(r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"*","Resource":"arn:x:${y"}}"#).is_ok());
}

#[test]
fn policies_serialize_as_their_document() {
    let policy = own_prefix_policy();
    let text = serde_json::to_string(&policy).unwrap();
    let back: Policy = serde_json::from_str(&text).unwrap();
    assert_eq!(back, policy);
    assert_eq!(&serde_json::to_value(&back).unwrap(), policy.document());
    assert!(serde_json::from_str::<Policy>(r#"{"Statement": 1}"#).is_err());
}

// --- Architecture ---

/// Services link this crate without the server, so among tessera's crates it depends (directly
/// or not) on tessera-sigv4 only. The graph is read from `Cargo.lock` through `cargo metadata`.
#[test]
fn depends_on_no_other_tessera_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let name_of = |id: &str| {
        packages
            .iter()
            .find(|p| p["id"] == id)
            .and_then(|p| p["name"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let root = packages
        .iter()
        .find(|p| p["name"] == "tessera-credentials")
        .and_then(|p| p["id"].as_str())
        .unwrap()
        .to_owned();
    let nodes = metadata["resolve"]["nodes"].as_array().unwrap();
    // Walk the normal (non-dev, non-build) dependencies.
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let node = nodes.iter().find(|n| n["id"] == id.as_str()).unwrap();
        for dep in node["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|kind| kind["kind"].is_null());
            if normal {
                stack.push(dep["pkg"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    let mut tessera: Vec<String> = seen
        .iter()
        .map(|id| name_of(id))
        .filter(|name| name.starts_with("tessera"))
        .collect();
    tessera.sort();
    assert_eq!(tessera, ["tessera-credentials", "tessera-sigv4"]);
}

/// Issue 14 review: a session without `amr` (credentials from a user-pool token) lacks the
/// key; a service's request key of the same name does not supply it.
#[test]
fn issue14_an_empty_session_amr_is_not_filled_by_request_keys() {
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"cognito-identity.amazonaws.com:amr": "authenticated"}},
        }],
    });
    let mut claims = claims();
    claims.amr = Vec::new();
    claims.policies = vec![Policy::from_value(policy).unwrap()];
    let token = issue(&key(1), claims, &entropy(1)).session_token;
    let caller = Caller::new(open(&[key(1)], &token).unwrap());
    let spoof = BTreeMap::from([(
        "cognito-identity.amazonaws.com:amr".to_owned(),
        vec!["authenticated".to_owned()],
    )]);
    assert_eq!(
        caller.authorize("s3:GetObject", "arn:aws:s3:::b/k", &spoof),
        Decision::ImplicitDeny
    );
}
