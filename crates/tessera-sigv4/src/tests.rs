//! Tests against the official AWS SigV4 test suite and against requests signed by botocore.
//!
//! The botocore vectors were produced once with botocore 1.43 (`SigV4Auth.add_auth` with
//! `botocore.auth.get_current_datetime` patched to a fixed time) and pasted here as constants, so
//! the tests need no Python at run time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

/// The credentials and scope of the official AWS SigV4 test suite.
const SUITE_AKID: &str = "AKIDEXAMPLE";
const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SUITE_DATE: &str = "20150830T123600Z";
/// 2015-08-30T12:36:00Z as Unix time.
const SUITE_UNIX: u64 = 1_440_938_160;

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

fn header_map(headers: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("test header name"),
            HeaderValue::from_str(value).expect("test header value"),
        );
    }
    map
}

/// One case of the official suite: the request as a client would send it, and the signature the
/// suite's `.authz` file gives for it.
struct SuiteCase {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    query: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: &'static [u8],
    signed_headers: &'static str,
    signature: &'static str,
}

const SUITE: &[SuiteCase] = &[
    SuiteCase {
        name: "get-vanilla",
        method: "GET",
        path: "/",
        query: "",
        headers: &[],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    },
    SuiteCase {
        name: "get-vanilla-query-order-key-case",
        method: "GET",
        path: "/",
        query: "Param2=value2&Param1=value1",
        headers: &[],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    },
    SuiteCase {
        name: "get-vanilla-query-order-value",
        method: "GET",
        path: "/",
        query: "Param1=value2&Param1=Value1",
        headers: &[],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1",
    },
    SuiteCase {
        name: "get-vanilla-query-unreserved",
        method: "GET",
        path: "/",
        query: "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz",
        headers: &[],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "c0e2549664ab6caf8a0e49ec520df161cca33ec1de41067db4994a4467d458ff",
    },
    SuiteCase {
        name: "get-vanilla-empty-query-key",
        method: "GET",
        path: "/",
        query: "Param1=value1",
        headers: &[],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb",
    },
    SuiteCase {
        // The suite writes the query as `ሴ=bar`; on the wire it arrives percent-encoded, and both
        // forms canonicalize to `%E1%88%B4=bar`.
        name: "get-vanilla-utf8-query",
        method: "GET",
        path: "/",
        query: "%E1%88%B4=bar",
        headers: &[],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    SuiteCase {
        name: "get-vanilla-utf8-query (raw)",
        method: "GET",
        path: "/",
        query: "\u{1234}=bar",
        headers: &[],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    },
    SuiteCase {
        // The suite's paths are the unencoded ones the client signs once-encoded; passing them as
        // the "raw" path exercises the same single encoding step.
        name: "get-space",
        method: "GET",
        path: "/example space/",
        query: "",
        headers: &[],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
    },
    SuiteCase {
        name: "get-utf8",
        method: "GET",
        path: "/\u{1234}",
        query: "",
        headers: &[],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    },
    SuiteCase {
        name: "get-header-value-trim",
        method: "GET",
        path: "/",
        query: "",
        headers: &[("My-Header1", " value1"), ("My-Header2", " \"a   b   c\"")],
        body: b"",
        signed_headers: "host;my-header1;my-header2;x-amz-date",
        signature: "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    },
    SuiteCase {
        name: "get-header-key-duplicate",
        method: "GET",
        path: "/",
        query: "",
        headers: &[
            ("My-Header1", "value2"),
            ("My-Header1", "value2"),
            ("My-Header1", "value1"),
        ],
        body: b"",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    },
    SuiteCase {
        name: "get-header-value-order",
        method: "GET",
        path: "/",
        query: "",
        headers: &[("My-Header1", "value2, value2, value1")],
        body: b"",
        signed_headers: "host;my-header1;x-amz-date",
        signature: "c88153bc82c67f0995b4085a97effbc044dfcdf0a23592d59be355a673bddc1d",
    },
    SuiteCase {
        name: "post-vanilla",
        method: "POST",
        path: "/",
        query: "",
        headers: &[],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    SuiteCase {
        // Header names arrive in any case; the suite sends `X-Amz-Date` and `Host` capitalised.
        name: "post-header-key-case",
        method: "POST",
        path: "/",
        query: "",
        headers: &[],
        body: b"",
        signed_headers: "host;x-amz-date",
        signature: "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    },
    SuiteCase {
        name: "post-x-www-form-urlencoded",
        method: "POST",
        path: "/",
        query: "",
        headers: &[("Content-Type", "application/x-www-form-urlencoded")],
        body: b"Param1=value1",
        signed_headers: "content-type;host;x-amz-date",
        signature: "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    },
];

fn suite_authorization(case: &SuiteCase) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={SUITE_AKID}/20150830/us-east-1/service/aws4_request, SignedHeaders={}, Signature={}",
        case.signed_headers, case.signature
    )
}

fn suite_headers(case: &SuiteCase) -> HeaderMap {
    let mut headers = vec![
        ("Host", "example.amazonaws.com"),
        ("X-Amz-Date", SUITE_DATE),
    ];
    headers.extend_from_slice(case.headers);
    let authorization = suite_authorization(case);
    headers.push(("Authorization", &authorization));
    header_map(&headers)
}

#[test]
fn official_suite_vectors_verify() {
    for case in SUITE {
        let headers = suite_headers(case);
        let auth = parse_authorization(&headers)
            .unwrap_or_else(|e| panic!("{}: parse failed: {e}", case.name))
            .unwrap_or_else(|| panic!("{}: no authorization", case.name));
        assert_eq!(auth.access_key_id, SUITE_AKID, "{}", case.name);
        assert_eq!(auth.date, "20150830", "{}", case.name);
        assert_eq!(auth.region, "us-east-1", "{}", case.name);
        assert_eq!(auth.service, "service", "{}", case.name);
        assert_eq!(
            auth.signed_headers.join(";"),
            case.signed_headers,
            "{}",
            case.name
        );
        assert_eq!(auth.signature, case.signature, "{}", case.name);

        let request = Request {
            method: case.method,
            path: case.path,
            query: case.query,
            headers: &headers,
            body: case.body,
        };
        assert_eq!(
            verify(&request, &auth, SUITE_SECRET, at(SUITE_UNIX)),
            Ok(()),
            "{}",
            case.name
        );
        assert_eq!(
            verify(&request, &auth, "not-the-secret", at(SUITE_UNIX)),
            Err(SigV4Error::Mismatch),
            "{}",
            case.name
        );

        // The signing helper must reproduce the suite's header byte for byte.
        let signed: Vec<&str> = case.signed_headers.split(';').collect();
        assert_eq!(
            authorization_header(
                &request,
                SUITE_AKID,
                SUITE_SECRET,
                "us-east-1",
                "service",
                &signed
            ),
            Ok(suite_authorization(case)),
            "{}",
            case.name
        );
    }
}

#[test]
fn get_vanilla_canonical_request_and_string_to_sign() {
    let case = &SUITE[0];
    let headers = suite_headers(case);
    let auth = parse_authorization(&headers).unwrap().unwrap();
    let request = Request {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
        body: b"",
    };
    let mut canonical = canonical_request(&request, &auth.signed_headers).unwrap();
    canonical.extend_from_slice(payload_hash(&request).unwrap().as_bytes());
    assert_eq!(
        String::from_utf8(canonical.clone()).unwrap(),
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        string_to_sign(SUITE_DATE, &auth, &canonical),
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    );
}

/// A Cognito `ListUsers` call signed by botocore for `cognito-idp` in `eu-west-1` at
/// 2024-02-29T23:59:59Z, a leap day one second before midnight so that the 15-minute window
/// crosses both a day and a month boundary.
mod botocore_list_users {
    pub const AKID: &str = "AKIATESSERAEXAMPLE01";
    pub const SECRET: &str = "tEsSeRaSeCrEt/Key+0123456789abcdefghijKL";
    pub const HOST: &str = "localhost:9229";
    pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
    pub const TARGET: &str = "AWSCognitoIdentityProviderService.ListUsers";
    pub const AMZ_DATE: &str = "20240229T235959Z";
    /// 2024-02-29T23:59:59Z as Unix time.
    pub const UNIX: u64 = 1_709_251_199;
    pub const BODY: &[u8] =
        br#"{"UserPoolId": "eu-west-1_AbCdEfGhI", "Limit": 10, "Filter": "email ^= \"alice\""}"#;
    pub const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIATESSERAEXAMPLE01/20240229/eu-west-1/cognito-idp/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=73765b5997906674802524d9d5d0264e1aaea6ced89291deb3acd4eb7d8056d9";
}

fn list_users_headers() -> HeaderMap {
    use botocore_list_users::*;
    header_map(&[
        ("host", HOST),
        ("content-type", CONTENT_TYPE),
        ("x-amz-target", TARGET),
        ("x-amz-date", AMZ_DATE),
        ("authorization", AUTHORIZATION),
        ("user-agent", "Boto3/1.35.0 md/Botocore#1.43.11"),
        ("content-length", "82"),
    ])
}

fn list_users_request<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> Request<'a> {
    Request {
        method: "POST",
        path: "/",
        query: "",
        headers,
        body,
    }
}

fn list_users_verify(
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
    now: SystemTime,
) -> Result<(), SigV4Error> {
    let auth = parse_authorization(headers)?.expect("authorization present");
    verify(&list_users_request(headers, body), &auth, secret, now)
}

#[test]
fn botocore_cognito_request_verifies() {
    use botocore_list_users::*;
    let headers = list_users_headers();
    let auth = parse_authorization(&headers).unwrap().unwrap();
    assert_eq!(
        auth,
        Authorization {
            access_key_id: AKID.into(),
            date: "20240229".into(),
            region: "eu-west-1".into(),
            service: "cognito-idp".into(),
            signed_headers: vec![
                "content-type".into(),
                "host".into(),
                "x-amz-date".into(),
                "x-amz-target".into()
            ],
            signature: "73765b5997906674802524d9d5d0264e1aaea6ced89291deb3acd4eb7d8056d9".into(),
        }
    );
    assert_eq!(list_users_verify(&headers, BODY, SECRET, at(UNIX)), Ok(()));
    // Headers that were not signed (user-agent, content-length) may change freely.
    let mut extra = headers.clone();
    extra.insert("user-agent", HeaderValue::from_static("something-else"));
    extra.insert("x-unsigned", HeaderValue::from_static("1"));
    assert_eq!(list_users_verify(&extra, BODY, SECRET, at(UNIX)), Ok(()));

    let signed = ["content-type", "host", "x-amz-date", "x-amz-target"];
    assert_eq!(
        authorization_header(
            &list_users_request(&headers, BODY),
            AKID,
            SECRET,
            "eu-west-1",
            "cognito-idp",
            &signed
        ),
        Ok(AUTHORIZATION.to_owned())
    );
}

#[test]
fn window_is_fifteen_minutes_inclusive() {
    use botocore_list_users::*;
    let headers = list_users_headers();
    for offset in [-900i64, -899, -1, 0, 1, 899, 900] {
        let now = at(UNIX.checked_add_signed(offset).unwrap());
        assert_eq!(
            list_users_verify(&headers, BODY, SECRET, now),
            Ok(()),
            "offset {offset}"
        );
    }
    // Sub-second parts of `now` are ignored, matching the one-second precision of X-Amz-Date.
    let now = at(UNIX + 900) + Duration::from_millis(999);
    assert_eq!(list_users_verify(&headers, BODY, SECRET, now), Ok(()));
    assert!(matches!(
        list_users_verify(&headers, BODY, SECRET, at(UNIX + 901)),
        Err(SigV4Error::Expired(_))
    ));
    assert!(matches!(
        list_users_verify(&headers, BODY, SECRET, at(UNIX - 901)),
        Err(SigV4Error::Expired(_))
    ));
}

#[test]
fn wrong_secret_is_mismatch() {
    use botocore_list_users::*;
    let headers = list_users_headers();
    assert_eq!(
        list_users_verify(
            &headers,
            BODY,
            "tEsSeRaSeCrEt/Key+0123456789abcdefghijKM",
            at(UNIX)
        ),
        Err(SigV4Error::Mismatch)
    );
    assert_eq!(
        list_users_verify(&headers, BODY, "", at(UNIX)),
        Err(SigV4Error::Mismatch)
    );
}

#[test]
fn tampered_body_is_mismatch() {
    use botocore_list_users::*;
    let headers = list_users_headers();
    let tampered =
        br#"{"UserPoolId": "eu-west-1_AbCdEfGhI", "Limit": 60, "Filter": "email ^= \"alice\""}"#;
    assert_eq!(
        list_users_verify(&headers, tampered, SECRET, at(UNIX)),
        Err(SigV4Error::Mismatch)
    );
    assert_eq!(
        list_users_verify(&headers, b"", SECRET, at(UNIX)),
        Err(SigV4Error::Mismatch)
    );
}

#[test]
fn tampered_signed_header_is_mismatch() {
    use botocore_list_users::*;
    let tamper = |name: &'static str, value: &'static str| {
        let mut headers = list_users_headers();
        headers.insert(name, HeaderValue::from_static(value));
        list_users_verify(&headers, BODY, SECRET, at(UNIX))
    };
    assert_eq!(
        tamper(
            "x-amz-target",
            "AWSCognitoIdentityProviderService.AdminDeleteUser"
        ),
        Err(SigV4Error::Mismatch)
    );
    assert_eq!(
        tamper("host", "evil.example:9229"),
        Err(SigV4Error::Mismatch)
    );
    assert_eq!(
        tamper("content-type", "application/json"),
        Err(SigV4Error::Mismatch)
    );
    // A second value for a signed header changes its canonical form, so it is caught too.
    let mut headers = list_users_headers();
    headers.append("x-amz-target", HeaderValue::from_static("extra"));
    assert_eq!(
        list_users_verify(&headers, BODY, SECRET, at(UNIX)),
        Err(SigV4Error::Mismatch)
    );
    // Method, path and query are part of the signature as well.
    let headers = list_users_headers();
    let auth = parse_authorization(&headers).unwrap().unwrap();
    for (method, path, query) in [("PUT", "/", ""), ("POST", "/x", ""), ("POST", "/", "a=b")] {
        let request = Request {
            method,
            path,
            query,
            headers: &headers,
            body: BODY,
        };
        assert_eq!(
            verify(&request, &auth, SECRET, at(UNIX)),
            Err(SigV4Error::Mismatch),
            "{method} {path}?{query}"
        );
    }
}

#[test]
fn tampered_signature_or_scope_is_mismatch() {
    use botocore_list_users::*;
    let headers = list_users_headers();
    let request = list_users_request(&headers, BODY);
    let good = parse_authorization(&headers).unwrap().unwrap();
    let check = |edit: &dyn Fn(&mut Authorization)| {
        let mut auth = good.clone();
        edit(&mut auth);
        verify(&request, &auth, SECRET, at(UNIX))
    };
    // Upper-case hex is the same signature.
    assert_eq!(
        check(&|a| a.signature = a.signature.to_ascii_uppercase()),
        Ok(())
    );
    assert_eq!(
        check(&|a| a.signature.replace_range(0..1, "8")),
        Err(SigV4Error::Mismatch)
    );
    assert_eq!(
        check(&|a| a.signature.truncate(62)),
        Err(SigV4Error::Mismatch)
    );
    assert_eq!(
        check(&|a| a.signature.push_str("00")),
        Err(SigV4Error::Mismatch)
    );
    assert_eq!(
        check(&|a| a.signature = "zz".repeat(32)),
        Err(SigV4Error::Mismatch)
    );
    assert_eq!(
        check(&|a| a.region = "us-east-1".into()),
        Err(SigV4Error::Mismatch)
    );
    assert_eq!(
        check(&|a| a.service = "sts".into()),
        Err(SigV4Error::Mismatch)
    );
    // A scope date that differs from X-Amz-Date is a mismatch, as it is at AWS.
    assert_eq!(
        check(&|a| a.date = "20240301".into()),
        Err(SigV4Error::Mismatch)
    );
    // Dropping a signed header from the list changes the canonical request.
    assert_eq!(
        check(&|a| a.signed_headers.retain(|h| h != "x-amz-target")),
        Err(SigV4Error::Mismatch)
    );
}

#[test]
fn expired_in_the_past_uses_aws_message() {
    use botocore_list_users::*;
    let headers = list_users_headers();
    let err = list_users_verify(&headers, BODY, SECRET, at(UNIX + 16 * 60)).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Expired(
            "Signature expired: 20240229T235959Z is now earlier than 20240301T000059Z (20240301T001559Z - 15 min.)"
                .into()
        )
    );
    assert_eq!(err.aws_error_type(), "InvalidSignatureException");
    assert_eq!(
        err.to_string(),
        "Signature expired: 20240229T235959Z is now earlier than 20240301T000059Z (20240301T001559Z - 15 min.)"
    );
}

#[test]
fn expired_in_the_future_uses_aws_message() {
    use botocore_list_users::*;
    let headers = list_users_headers();
    let err = list_users_verify(&headers, BODY, SECRET, at(UNIX - 16 * 60)).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Expired(
            "Signature not yet current: 20240229T235959Z is still later than 20240229T235859Z (20240229T234359Z + 15 min.)"
                .into()
        )
    );
    assert_eq!(err.aws_error_type(), "InvalidSignatureException");
}

#[test]
fn expiry_messages_match_aws_documentation_example() {
    let timestamp = |basic: &str| {
        let civil = parse_basic(basic.as_bytes()).unwrap();
        Timestamp {
            basic: basic.into(),
            unix: civil.to_unix(),
        }
    };
    let now =
        |basic: &str| at(u64::try_from(parse_basic(basic.as_bytes()).unwrap().to_unix()).unwrap());
    assert_eq!(
        check_clock_skew(&timestamp("20130524T002000Z"), now("20130524T000000Z")),
        Err(SigV4Error::Expired(
            "Signature not yet current: 20130524T002000Z is still later than 20130524T001500Z (20130524T000000Z + 15 min.)".into()
        ))
    );
    assert_eq!(
        check_clock_skew(&timestamp("20130524T000000Z"), now("20130524T002000Z")),
        Err(SigV4Error::Expired(
            "Signature expired: 20130524T000000Z is now earlier than 20130524T000500Z (20130524T002000Z - 15 min.)".into()
        ))
    );
}

#[test]
fn expiry_is_checked_before_the_signature() {
    // A stale request with a wrong secret reports the clock problem, which is the actionable one
    // and the one SDKs look for to correct their clock skew.
    use botocore_list_users::*;
    let headers = list_users_headers();
    assert!(matches!(
        list_users_verify(&headers, BODY, "wrong", at(UNIX + 3600)),
        Err(SigV4Error::Expired(_))
    ));
}

#[test]
fn missing_date_is_incomplete() {
    use botocore_list_users::*;
    let mut headers = list_users_headers();
    headers.remove("x-amz-date");
    let err = list_users_verify(&headers, BODY, SECRET, at(UNIX)).unwrap_err();
    assert_eq!(
        err,
        SigV4Error::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into()
        )
    );
    assert_eq!(err.aws_error_type(), "IncompleteSignatureException");
}

#[test]
fn malformed_date_is_incomplete() {
    use botocore_list_users::*;
    for bad in [
        "20240229T235959",
        "20240229 235959Z",
        "20230229T235959Z",
        "20241301T000000Z",
        "20240200T000000Z",
        "20240229T240000Z",
        "20240229T236000Z",
        "20240229T235960Z",
        "+0240229T235959Z",
        "2024-02-29T23:59:59Z",
        "Thu, 29 Feb 2024 23:59:59 GMT",
        "",
    ] {
        let mut headers = list_users_headers();
        headers.insert("x-amz-date", HeaderValue::from_str(bad).unwrap());
        let err = list_users_verify(&headers, BODY, SECRET, at(UNIX)).unwrap_err();
        assert_eq!(
            err,
            SigV4Error::Incomplete(format!(
                "Date must be in ISO-8601 'basic format'. Got '{bad}'. See http://en.wikipedia.org/wiki/ISO_8601"
            )),
            "{bad}"
        );
    }
}

#[test]
fn date_header_is_used_without_x_amz_date() {
    // botocore, when the request already has a Date header, rewrites it with Python's
    // `formatdate`, which writes `-0000` as the zone, and signs it instead of X-Amz-Date.
    let headers = header_map(&[
        ("host", "localhost:9229"),
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "AWSCognitoIdentityProviderService.GetUser"),
        ("date", "Sun, 30 Aug 2015 12:36:00 -0000"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/cognito-idp/aws4_request, SignedHeaders=content-type;date;host;x-amz-target, Signature=35f60f8e7aa5b4aecbe3a8bbf98b8e6b2d75dd1dad8e76321eba69538b841b9b",
        ),
    ]);
    let body = br#"{"AccessToken":"abc"}"#;
    let auth = parse_authorization(&headers).unwrap().unwrap();
    let request = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body,
    };
    assert_eq!(
        verify(&request, &auth, SUITE_SECRET, at(SUITE_UNIX)),
        Ok(())
    );
    assert!(matches!(
        verify(&request, &auth, SUITE_SECRET, at(SUITE_UNIX + 1000)),
        Err(SigV4Error::Expired(_))
    ));
}

#[test]
fn http_dates_parse() {
    let expected = Civil::new(2015, 8, 30, 12, 36, 0);
    for raw in [
        "Sun, 30 Aug 2015 12:36:00 GMT",
        "Sun, 30 Aug 2015 12:36:00 -0000",
        "Sun, 30 Aug 2015 12:36:00 +0000",
        "20150830T123600Z",
    ] {
        let parsed = parse_basic(raw.as_bytes()).or_else(|| parse_http_date(raw.as_bytes()));
        assert_eq!(parsed, expected, "{raw}");
    }
    for raw in [
        "Sun, 30 Aug 2015 12:36:00 PST",
        "Sun, 30 Foo 2015 12:36:00 GMT",
        "Sun, 31 Sep 2015 12:36:00 GMT",
        "Sun 30 Aug 2015 12:36:00 GMT",
        "Sunday, 30-Aug-15 12:36:00 GMT",
        "Sun, 30 Aug 2015 12:36:00",
        "",
    ] {
        assert_eq!(parse_http_date(raw.as_bytes()), None, "{raw}");
    }
}

#[test]
fn content_sha256_header_is_accepted_when_it_matches_the_body() {
    // Signed by botocore with an explicit X-Amz-Content-SHA256 header, which it signs and uses
    // as the payload hash.
    let body = br#"{"UserPoolId":"us-east-1_AbCdEfGhI"}"#;
    let hash = "604feac4e9a53bcb93876406031483d551085bd8f68c1868f7a8f52a836f1860";
    let build = |content_sha256: &str| {
        header_map(&[
            ("host", "127.0.0.1:9229"),
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "AWSCognitoIdentityProviderService.DescribeUserPool"),
            ("x-amz-content-sha256", content_sha256),
            ("x-amz-date", SUITE_DATE),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/cognito-idp/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-target, Signature=c3a263a6d6da0013bab78ad2a050ee1db72b06d127f5ba262f51b168bb5a6f80",
            ),
        ])
    };
    let run = |headers: &HeaderMap, body: &[u8]| {
        let auth = parse_authorization(headers).unwrap().unwrap();
        let request = Request {
            method: "POST",
            path: "/",
            query: "",
            headers,
            body,
        };
        verify(&request, &auth, SUITE_SECRET, at(SUITE_UNIX))
    };
    assert_eq!(run(&build(hash), body), Ok(()));
    // The body is always hashed: a header naming another hash, or declaring the payload
    // unsigned, cannot stand in for it.
    assert_eq!(run(&build(hash), b"{}"), Err(SigV4Error::Mismatch));
    assert_eq!(
        run(&build("UNSIGNED-PAYLOAD"), body),
        Err(SigV4Error::Mismatch)
    );
    assert_eq!(
        run(&build(&"0".repeat(64)), body),
        Err(SigV4Error::Mismatch)
    );
}

#[test]
fn encoded_path_is_encoded_again() {
    // botocore signing `https://example.amazonaws.com/example%20space/`, i.e. the path exactly as
    // it travels on the wire; its canonical URI is `/example%2520space/`.
    let headers = header_map(&[
        ("host", "example.amazonaws.com"),
        ("x-amz-date", SUITE_DATE),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=446b817944c553435b35e813c261ff4e161fff982d1bacdef1c87f6785dd1662",
        ),
    ]);
    let auth = parse_authorization(&headers).unwrap().unwrap();
    let request = Request {
        method: "GET",
        path: "/example%20space/",
        query: "",
        headers: &headers,
        body: b"",
    };
    assert_eq!(
        verify(&request, &auth, SUITE_SECRET, at(SUITE_UNIX)),
        Ok(())
    );

    let mut out = Vec::new();
    canonical_uri("/example%20space/", &mut out);
    assert_eq!(out, b"/example%2520space/");
}

#[test]
fn canonical_uri_and_query_forms() {
    let uri = |path: &str| {
        let mut out = Vec::new();
        canonical_uri(path, &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(uri(""), "/");
    assert_eq!(uri("/"), "/");
    // Nothing is normalized: dot segments and empty segments are signed as sent.
    assert_eq!(uri("/a/./b/../c//d"), "/a/./b/../c//d");
    assert_eq!(uri("/a+b=c&d~e"), "/a%2Bb%3Dc%26d~e");

    let query = |raw: &str| {
        let mut out = Vec::new();
        canonical_query(raw, &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(query(""), "");
    assert_eq!(query("b=2&a=1"), "a=1&b=2");
    assert_eq!(query("a=2&a=1&a"), "a=&a=1&a=2");
    // Over-escaped unreserved characters and lower-case escapes are normalized.
    assert_eq!(query("%7e=%41%2f"), "~=A%2F");
    // `+` is a literal plus, and `=` inside a value stays part of it.
    assert_eq!(query("q=a+b&e=x=y"), "e=x%3Dy&q=a%2Bb");
    // Broken escapes are taken literally rather than rejected.
    assert_eq!(query("p=%&r=%4&s=%zz"), "p=%25&r=%254&s=%25zz");
    // Empty components, as left by a trailing `&`, are skipped.
    assert_eq!(query("&a=1&&"), "a=1");
    // Sorting is by encoded bytes, so upper case sorts before lower case.
    assert_eq!(query("a=1&B=2&_=3"), "B=2&_=3&a=1");
}

#[test]
fn trim_all_collapses_whitespace() {
    let trim = |raw: &str| {
        let mut out = Vec::new();
        trim_all(raw.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(trim("  a   b \t c  "), "a b c");
    assert_eq!(trim("\t"), "");
    assert_eq!(trim(""), "");
    assert_eq!(trim("x"), "x");
}

#[test]
fn missing_authorization_is_none() {
    assert_eq!(parse_authorization(&HeaderMap::new()), Ok(None));
    let headers = header_map(&[("host", "localhost"), ("x-amz-date", SUITE_DATE)]);
    assert_eq!(parse_authorization(&headers), Ok(None));
}

#[test]
fn garbage_authorization_is_incomplete() {
    let akid_scope = "Credential=AKID/20150830/us-east-1/service/aws4_request";
    let sig = "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    let cases: Vec<String> = vec![
        String::new(),
        "garbage".into(),
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig".into(),
        "AWS4-HMAC-SHA256".into(),
        "AWS4-HMAC-SHA256 garbage".into(),
        "AWS4-HMAC-SHA256 Credential=x".into(),
        "aws4-hmac-sha256 ".to_owned() + akid_scope + ", SignedHeaders=host, " + sig,
        "AWS4-HMAC-SHA512 ".to_owned() + akid_scope + ", SignedHeaders=host, " + sig,
        format!("AWS4-HMAC-SHA256 {akid_scope}, {sig}"),
        format!("AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=host"),
        format!("AWS4-HMAC-SHA256 SignedHeaders=host, {sig}"),
        format!("AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=host, Signature="),
        format!("AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=host, {sig}, {sig}"),
        format!("AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=host, {sig}, Extra=1"),
        format!("AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=host, {sig}, junk"),
        // host is not signed
        format!("AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=x-amz-date, {sig}"),
        format!("AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=, {sig}"),
        format!("AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=host;;x-amz-date, {sig}"),
        format!("AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=host;host, {sig}"),
        format!("AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=host;bad header, {sig}"),
        format!("AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=host;a:b, {sig}"),
        // Malformed credential scopes.
        format!("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service, SignedHeaders=host, {sig}"),
        format!("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request/x, SignedHeaders=host, {sig}"),
        format!("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws5_request, SignedHeaders=host, {sig}"),
        format!("AWS4-HMAC-SHA256 Credential=/20150830/us-east-1/service/aws4_request, SignedHeaders=host, {sig}"),
        format!("AWS4-HMAC-SHA256 Credential=AKID/2015-08-30/us-east-1/service/aws4_request, SignedHeaders=host, {sig}"),
        format!("AWS4-HMAC-SHA256 Credential=AKID/20150830//service/aws4_request, SignedHeaders=host, {sig}"),
        format!("AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1//aws4_request, SignedHeaders=host, {sig}"),
        format!("AWS4-HMAC-SHA256 Credential=AKID/2015083/us-east-1/service/aws4_request, SignedHeaders=host, {sig}"),
        // Too long to be a real header.
        format!("AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=host;{}, {sig}", "a".repeat(20_000)),
        // Too many signed headers.
        format!(
            "AWS4-HMAC-SHA256 {akid_scope}, SignedHeaders=host;{}, {sig}",
            (0..200).map(|i| format!("h{i}")).collect::<Vec<_>>().join(";")
        ),
    ];
    for case in cases {
        let headers = header_map(&[("authorization", &case)]);
        let result = parse_authorization(&headers);
        assert!(
            matches!(result, Err(SigV4Error::Incomplete(_))),
            "{case:.100}: {result:?}"
        );
        if let Err(err) = result {
            assert_eq!(err.aws_error_type(), "IncompleteSignatureException");
        }
    }

    // Non-ASCII bytes and repeated Authorization headers are refused as well.
    let mut headers = HeaderMap::new();
    headers.insert(
        "authorization",
        HeaderValue::from_bytes(b"AWS4-HMAC-SHA256 Credential=\xff").unwrap(),
    );
    assert!(matches!(
        parse_authorization(&headers),
        Err(SigV4Error::Incomplete(_))
    ));
    let mut headers = list_users_headers();
    headers.append(
        "authorization",
        HeaderValue::from_static(botocore_list_users::AUTHORIZATION),
    );
    assert!(matches!(
        parse_authorization(&headers),
        Err(SigV4Error::Incomplete(_))
    ));
}

#[test]
fn missing_components_are_all_named() {
    let headers = header_map(&[("authorization", "AWS4-HMAC-SHA256 garbage=1")]);
    // An unknown component is refused before the missing ones are listed.
    assert!(matches!(
        parse_authorization(&headers),
        Err(SigV4Error::Incomplete(_))
    ));
    let headers = header_map(&[("authorization", "AWS4-HMAC-SHA256 ")]);
    assert_eq!(
        parse_authorization(&headers),
        Err(SigV4Error::Incomplete(
            "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.".into()
        ))
    );
}

#[test]
fn host_must_be_signed() {
    let headers = header_map(&[(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    )]);
    assert_eq!(
        parse_authorization(&headers),
        Err(SigV4Error::Incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into()
        ))
    );
    // verify() enforces it too for an Authorization built by hand.
    let case = &SUITE[0];
    let headers = suite_headers(case);
    let mut auth = parse_authorization(&headers).unwrap().unwrap();
    auth.signed_headers.retain(|h| h != "host");
    let request = Request {
        method: "GET",
        path: "/",
        query: "",
        headers: &headers,
        body: b"",
    };
    assert!(matches!(
        verify(&request, &auth, SUITE_SECRET, at(SUITE_UNIX)),
        Err(SigV4Error::Incomplete(_))
    ));
}

#[test]
fn signed_header_absent_from_request_is_incomplete() {
    use botocore_list_users::*;
    let mut headers = list_users_headers();
    headers.remove("x-amz-target");
    assert_eq!(
        list_users_verify(&headers, BODY, SECRET, at(UNIX)),
        Err(SigV4Error::Incomplete(
            "The request does not contain the signed header 'x-amz-target'.".into()
        ))
    );
    // Same for host, which an HTTP/2 caller might forget to copy from :authority.
    let mut headers = list_users_headers();
    headers.remove("host");
    assert!(matches!(
        list_users_verify(&headers, BODY, SECRET, at(UNIX)),
        Err(SigV4Error::Incomplete(_))
    ));
}

#[test]
fn hand_built_authorization_is_validated() {
    use botocore_list_users::*;
    let headers = list_users_headers();
    let request = list_users_request(&headers, BODY);
    let good = parse_authorization(&headers).unwrap().unwrap();
    let edits: [&dyn Fn(&mut Authorization); 7] = [
        &|a| a.access_key_id.clear(),
        &|a| a.date = "2024022".into(),
        &|a| a.region = "a/b".into(),
        &|a| a.service.clear(),
        &|a| a.signature.clear(),
        &|a| a.signed_headers.push("Content-Type".into()),
        &|a| a.signed_headers.push("host".into()),
    ];
    for edit in edits {
        let mut auth = good.clone();
        edit(&mut auth);
        assert!(matches!(
            verify(&request, &auth, SECRET, at(UNIX)),
            Err(SigV4Error::Incomplete(_))
        ));
    }
}

#[test]
fn error_types_and_messages() {
    assert_eq!(
        SigV4Error::Mismatch.aws_error_type(),
        "InvalidSignatureException"
    );
    assert_eq!(
        SigV4Error::Expired(String::new()).aws_error_type(),
        "InvalidSignatureException"
    );
    assert_eq!(
        SigV4Error::Incomplete(String::new()).aws_error_type(),
        "IncompleteSignatureException"
    );
    assert_eq!(SigV4Error::Mismatch.to_string(), SIGNATURE_MISMATCH_MESSAGE);
    assert_eq!(
        SIGNATURE_MISMATCH_MESSAGE,
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    );
    assert_eq!(SigV4Error::Incomplete("m".into()).to_string(), "m");
}

#[test]
fn calendar_conversions_round_trip() {
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(
        Civil::new(2015, 8, 30, 12, 36, 0).unwrap().to_unix(),
        1_440_938_160
    );
    assert_eq!(
        Civil::new(2024, 2, 29, 23, 59, 59).unwrap().to_unix(),
        1_709_251_199
    );
    assert_eq!(Civil::new(2023, 2, 29, 0, 0, 0), None);
    assert!(Civil::new(2000, 2, 29, 0, 0, 0).is_some());
    assert_eq!(Civil::new(1900, 2, 29, 0, 0, 0), None);
    // Every day from year 0 to 9999 survives the round trip.
    let first = days_from_civil(0, 1, 1);
    let last = days_from_civil(9999, 12, 31);
    let mut expected = (0i64, 1u32, 1u32);
    for days in first..=last {
        let (y, m, d) = civil_from_days(days);
        assert_eq!((y, m, d), expected);
        assert_eq!(days_from_civil(y, m, d), days);
        expected = if d < days_in_month(y, m) {
            (y, m, d + 1)
        } else if m < 12 {
            (y, m + 1, 1)
        } else {
            (y + 1, 1, 1)
        };
    }
    // Extreme clocks neither panic nor overflow.
    for unix in [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX] {
        let _ = format_basic(&Civil::from_unix(unix));
    }
    assert_eq!(format_basic(&Civil::from_unix(-1)), "19691231T235959Z");
    assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_millis(1)), -1);
    assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(5)), -5);
    assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_millis(1999)), 1);
}

#[test]
fn extreme_now_values_do_not_panic() {
    use botocore_list_users::*;
    let headers = list_users_headers();
    for now in [
        UNIX_EPOCH,
        UNIX_EPOCH - Duration::from_secs(1_000_000_000_000),
        UNIX_EPOCH + Duration::from_secs(i64::MAX as u64),
    ] {
        assert!(matches!(
            list_users_verify(&headers, BODY, SECRET, now),
            Err(SigV4Error::Expired(_))
        ));
    }
}

/// A small deterministic generator, so the robustness test needs no extra dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

#[test]
fn arbitrary_input_never_panics() {
    use botocore_list_users::*;
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let alphabet: &[u8] =
        b"AWS4-HMAC-SHA256 Credential=/,;SignedHeaders=Signature=host x-amz-date\t%0aZ\xff\x80";
    for _ in 0..20_000 {
        let mut headers = list_users_headers();
        // Mutate the valid Authorization header, or replace it with noise.
        let mut auth: Vec<u8> = if rng.below(2) == 0 {
            AUTHORIZATION.as_bytes().to_vec()
        } else {
            Vec::new()
        };
        for _ in 0..rng.below(8) {
            let byte = alphabet[rng.below(alphabet.len())];
            if !auth.is_empty() && rng.below(2) == 0 {
                let at = rng.below(auth.len());
                auth[at] = byte;
            } else {
                let at = rng.below(auth.len() + 1);
                auth.insert(at, byte);
            }
        }
        if let Ok(value) = HeaderValue::from_bytes(&auth) {
            headers.insert("authorization", value);
        }
        let date: Vec<u8> = (0..rng.below(20))
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        if rng.below(3) == 0 {
            if let Ok(value) = HeaderValue::from_bytes(&date) {
                headers.insert(
                    if rng.below(2) == 0 {
                        "x-amz-date"
                    } else {
                        "date"
                    },
                    value,
                );
            }
        }
        let path: String = (0..rng.below(12))
            .map(|_| char::from(alphabet[rng.below(alphabet.len() - 2)]))
            .collect();
        let query: String = (0..rng.below(12))
            .map(|_| char::from(b"=&%a1Zz+~"[rng.below(9)]))
            .collect();
        if let Ok(Some(parsed)) = parse_authorization(&headers) {
            let request = Request {
                method: "POST",
                path: &path,
                query: &query,
                headers: &headers,
                body: BODY,
            };
            let _ = verify(&request, &parsed, SECRET, at(UNIX));
        }
    }
}

#[test]
fn long_values_are_quoted_by_their_start() {
    // Within the 16 KiB an Authorization header may have, still far too long to echo.
    let sig = "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
    let terminator = "t".repeat(10_000);
    let headers = header_map(&[(
        "authorization",
        &format!(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/{terminator}, \
             SignedHeaders=host, {sig}"
        ),
    )]);
    assert_eq!(
        parse_authorization(&headers),
        Err(SigV4Error::Incomplete(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{}...'.",
            "t".repeat(EXCERPT_CHARS)
        )))
    );

    use botocore_list_users::*;
    let name = "x".repeat(10_000);
    let mut headers = list_users_headers();
    let authorization = headers["authorization"]
        .to_str()
        .unwrap()
        .replace("SignedHeaders=", &format!("SignedHeaders={name};"));
    headers.insert("authorization", authorization.parse().unwrap());
    assert_eq!(
        list_users_verify(&headers, BODY, SECRET, at(UNIX)),
        Err(SigV4Error::Incomplete(format!(
            "The request does not contain the signed header '{}...'.",
            "x".repeat(EXCERPT_CHARS)
        )))
    );
}

/// S3 requests signed by botocore 1.44.8 (boto3's S3 client with its default configuration,
/// `before-send` capturing the request, `botocore.auth.get_current_datetime` patched to
/// [`SUITE_DATE`]), with the suite's credentials and the session token `tsc1.token`.
mod botocore_s3 {
    pub const HOST: &str = "127.0.0.1:9000";
    pub const TOKEN: &str = "tsc1.token";
    /// PutObject of `hello` over `http://`: the payload is signed, its CRC32 sent in a header.
    pub const PUT_PATH: &str = "/photos/us-east-1%3Aabc/hello%20world%2B%21.txt";
    pub const PUT_BODY: &[u8] = b"hello";
    pub const PUT_SHA256: &str = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    pub const PUT_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-checksum-crc32;x-amz-content-sha256;x-amz-date;x-amz-sdk-checksum-algorithm;x-amz-security-token, Signature=f2f80b9cae86f9533937e2cd912cea390e966228a87b336ef4cb9ec793cc1d0d";
    /// The same over `https://`: an `aws-chunked` body whose checksum follows in a trailer.
    pub const STREAM_BODY: &[u8] = b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
    pub const STREAM_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, SignedHeaders=content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-sdk-checksum-algorithm;x-amz-security-token;x-amz-trailer, Signature=e1641edc5992ff71aba7b1dc9f7ffdd9a2209e09efea18599e1d66bebec8e88d";
    /// ListObjectsV2 with a prefix.
    pub const LIST_QUERY: &str = "list-type=2&prefix=us-east-1%3Aabc%2F&encoding-type=url";
    pub const EMPTY_SHA256: &str =
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    pub const LIST_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=012ba8ff74215bf7601497d4b46b0eaaaced9d6d8a27008c5340f4f725503091";
}

fn s3_put_headers(content_sha256: &str, authorization: &str) -> HeaderMap {
    use botocore_s3::*;
    header_map(&[
        ("host", HOST),
        ("expect", "100-continue"),
        ("x-amz-checksum-crc32", "NhCmhg=="),
        ("x-amz-sdk-checksum-algorithm", "CRC32"),
        ("x-amz-date", SUITE_DATE),
        ("x-amz-security-token", TOKEN),
        ("x-amz-content-sha256", content_sha256),
        ("authorization", authorization),
        ("content-length", "5"),
    ])
}

fn s3_verify(
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    options: &Options,
) -> Result<(), SigV4Error> {
    let auth = parse_authorization(headers)?.expect("authorization present");
    let request = Request {
        method,
        path,
        query,
        headers,
        body,
    };
    verify_with(&request, &auth, SUITE_SECRET, at(SUITE_UNIX), options)
}

#[test]
fn s3_dialect_verifies_botocore_put_object() {
    use botocore_s3::*;
    let s3 = Options::new(Dialect::S3);
    let headers = s3_put_headers(PUT_SHA256, PUT_AUTHORIZATION);
    assert_eq!(
        s3_verify("PUT", PUT_PATH, "", &headers, PUT_BODY, &s3),
        Ok(())
    );
    // The standard dialect encodes the path again, which S3 clients do not sign.
    assert_eq!(
        s3_verify("PUT", PUT_PATH, "", &headers, PUT_BODY, &Options::default()),
        Err(SigV4Error::Mismatch)
    );
    // The signed payload hash must be the body's: S3 names that error apart.
    assert_eq!(
        s3_verify("PUT", PUT_PATH, "", &headers, b"hellO", &s3),
        Err(SigV4Error::ContentSha256Mismatch)
    );
    // A caller holding the body's hash rather than the body gets the same answers.
    let mut hash = [0u8; 32];
    hex::decode_to_slice(PUT_SHA256, &mut hash).unwrap();
    assert_eq!(
        s3_verify(
            "PUT",
            PUT_PATH,
            "",
            &headers,
            b"",
            &s3.with_body_sha256(hash)
        ),
        Ok(())
    );
    assert_eq!(
        s3_verify(
            "PUT",
            PUT_PATH,
            "",
            &headers,
            PUT_BODY,
            &s3.with_body_sha256([0; 32])
        ),
        Err(SigV4Error::ContentSha256Mismatch)
    );
    // A reserved character left unescaped on the wire still canonicalizes as the SDK signed it.
    assert_eq!(
        s3_verify(
            "PUT",
            "/photos/us-east-1:abc/hello%20world%2B!.txt",
            "",
            &headers,
            PUT_BODY,
            &s3
        ),
        Ok(())
    );
    // Another key is another signature.
    assert_eq!(
        s3_verify(
            "PUT",
            "/photos/us-east-1%3Aabc/other.txt",
            "",
            &headers,
            PUT_BODY,
            &s3
        ),
        Err(SigV4Error::Mismatch)
    );
}

#[test]
fn s3_dialect_verifies_botocore_list_objects() {
    use botocore_s3::*;
    let headers = header_map(&[
        ("host", HOST),
        ("x-amz-date", SUITE_DATE),
        ("x-amz-security-token", TOKEN),
        ("x-amz-content-sha256", EMPTY_SHA256),
        ("authorization", LIST_AUTHORIZATION),
    ]);
    let s3 = Options::new(Dialect::S3);
    assert_eq!(
        s3_verify("GET", "/photos", LIST_QUERY, &headers, b"", &s3),
        Ok(())
    );
    assert_eq!(
        s3_verify(
            "GET",
            "/photos",
            "list-type=2&prefix=us-east-1%3Aother%2F&encoding-type=url",
            &headers,
            b"",
            &s3
        ),
        Err(SigV4Error::Mismatch)
    );
}

#[test]
fn s3_dialect_accepts_unsigned_payloads() {
    use botocore_s3::*;
    // botocore over https: the headers are signed, the aws-chunked body is not.
    let headers = header_map(&[
        ("host", HOST),
        ("expect", "100-continue"),
        ("transfer-encoding", "chunked"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-trailer", "x-amz-checksum-crc32"),
        ("x-amz-decoded-content-length", "5"),
        ("x-amz-sdk-checksum-algorithm", "CRC32"),
        ("x-amz-date", SUITE_DATE),
        ("x-amz-security-token", TOKEN),
        ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
        ("authorization", STREAM_AUTHORIZATION),
    ]);
    let s3 = Options::new(Dialect::S3);
    assert_eq!(
        s3_verify("PUT", "/photos/k", "", &headers, STREAM_BODY, &s3),
        Ok(())
    );
    assert_eq!(
        s3_verify("PUT", "/photos/k", "", &headers, b"anything", &s3),
        Ok(())
    );
    // The standard dialect always signs the body.
    assert_eq!(
        s3_verify(
            "PUT",
            "/photos/k",
            "",
            &headers,
            STREAM_BODY,
            &Options::default()
        ),
        Err(SigV4Error::Mismatch)
    );

    // UNSIGNED-PAYLOAD, signed here, since botocore only sends it when told to.
    let mut headers = header_map(&[
        ("host", HOST),
        ("x-amz-date", SUITE_DATE),
        ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
    ]);
    let request = Request {
        method: "PUT",
        path: "/photos/a%20b",
        query: "",
        headers: &headers,
        body: b"body",
    };
    let authorization = authorization_header_with(
        &request,
        SUITE_AKID,
        SUITE_SECRET,
        "us-east-1",
        "s3",
        &["host", "x-amz-content-sha256", "x-amz-date"],
        &s3,
    )
    .unwrap();
    headers.insert("authorization", authorization.parse().unwrap());
    assert_eq!(
        s3_verify("PUT", "/photos/a%20b", "", &headers, b"other body", &s3),
        Ok(())
    );
    assert_eq!(
        s3_verify("PUT", "/photos/a%20c", "", &headers, b"body", &s3),
        Err(SigV4Error::Mismatch)
    );
    // The markers are exact: S3 does not take them in another case either.
    headers.insert("x-amz-content-sha256", "unsigned-payload".parse().unwrap());
    assert_eq!(
        s3_verify("PUT", "/photos/a%20b", "", &headers, b"body", &s3),
        Err(SigV4Error::UnsupportedContentSha256)
    );
    // Signed streaming uploads would need a signature per chunk, which is not supported.
    headers.insert(
        "x-amz-content-sha256",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD".parse().unwrap(),
    );
    assert_eq!(
        s3_verify("PUT", "/photos/a%20b", "", &headers, b"body", &s3),
        Err(SigV4Error::UnsupportedContentSha256)
    );
}

#[test]
fn s3_canonical_uri_is_encoded_once() {
    let uri = |path: &str| {
        let mut out = Vec::new();
        canonical_uri_s3(path, &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(uri(""), "/");
    assert_eq!(uri("/"), "/");
    assert_eq!(uri("/bucket/a%20b"), "/bucket/a%20b");
    assert_eq!(uri("/bucket/a b"), "/bucket/a%20b");
    assert_eq!(uri("/bucket/a%2bb+c"), "/bucket/a%2Bb%2Bc");
    assert_eq!(uri("/bucket/%7Ehome/x~y"), "/bucket/~home/x~y");
    // Nothing is normalized, as for other services.
    assert_eq!(uri("/a/./b/../c//d"), "/a/./b/../c//d");
    assert_eq!(uri("/%"), "/%25");
}

#[test]
fn s3_error_types_and_messages() {
    assert_eq!(
        SigV4Error::ContentSha256Mismatch.aws_error_type(),
        "XAmzContentSHA256Mismatch"
    );
    assert_eq!(
        SigV4Error::UnsupportedContentSha256.aws_error_type(),
        "InvalidArgument"
    );
    assert_eq!(
        SigV4Error::ContentSha256Mismatch.to_string(),
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    );
}
