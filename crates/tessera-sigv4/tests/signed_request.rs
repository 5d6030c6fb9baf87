//! Properties of what this crate reads from an untrusted request: the `Authorization` header,
//! the `X-Amz-Date` (or `Date`) header, and the headers, path and query that the canonical
//! request is built from.
//!
//! - Nothing panics, whatever the bytes.
//! - `parse_authorization` refuses only with `Incomplete` (`IncompleteSignatureException`),
//!   and `verify` only with the variants the server maps to `IncompleteSignatureException` or
//!   `InvalidSignatureException`, with printable messages.
//! - Signing round-trips: a request signed by [`authorization_header`] with any headers, path,
//!   query, body and time of years 0000–9999 parses back to what was signed and verifies at
//!   that time, in either date header form; within 15 minutes it still verifies, beyond them
//!   it is `Expired`; a changed body is a `Mismatch`.
//!
//! The committed corpus (`tests/corpus/authorization`, `tests/corpus/date`) holds real headers
//! (`valid-*`, which must be accepted) and known-nasty ones; every file is replayed here.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tessera_sigv4::{
    authorization_header, parse_authorization, verify, Authorization, Request, SigV4Error,
};

/// A `ListUsers` call signed by botocore (the crate's unit tests check it against botocore's
/// own output), used as the base that mutations start from.
const AKID: &str = "AKIATESSERAEXAMPLE01";
const SECRET: &str = "tEsSeRaSeCrEt/Key+0123456789abcdefghijKL";
const AMZ_DATE: &str = "20240229T235959Z";
const UNIX: u64 = 1_709_251_199;
const BODY: &[u8] =
    br#"{"UserPoolId": "eu-west-1_AbCdEfGhI", "Limit": 10, "Filter": "email ^= \"alice\""}"#;
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIATESSERAEXAMPLE01/20240229/eu-west-1/cognito-idp/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=73765b5997906674802524d9d5d0264e1aaea6ced89291deb3acd4eb7d8056d9";

/// Seconds from 0000-01-01T00:00:00Z to the Unix epoch, and from the epoch to
/// 9999-12-31T23:59:59Z: the years a four-digit timestamp can name.
const YEAR_0: i64 = -62_167_219_200;
const YEAR_9999_END: i64 = 253_402_300_799;

fn at(unix: i64) -> SystemTime {
    if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
    }
}

fn list_users_headers(authorization: Option<&[u8]>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("localhost:9229"));
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    headers.insert(
        "x-amz-target",
        HeaderValue::from_static("AWSCognitoIdentityProviderService.ListUsers"),
    );
    headers.insert("x-amz-date", HeaderValue::from_static(AMZ_DATE));
    if let Some(value) = authorization.and_then(|v| HeaderValue::from_bytes(v).ok()) {
        headers.insert("authorization", value);
    }
    headers
}

fn request<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> Request<'a> {
    Request {
        method: "POST",
        path: "/",
        query: "",
        headers,
        body,
    }
}

/// Every refusal is one of the two exceptions the server answers, with a message that can be
/// shown (and put into a header after the server's own cleanup) as it is.
fn check_refusal(error: &SigV4Error) -> Result<(), TestCaseError> {
    let kind = error.aws_error_type();
    prop_assert!(
        kind == "IncompleteSignatureException" || kind == "InvalidSignatureException",
        "unexpected kind {kind}"
    );
    let message = error.to_string();
    prop_assert!(!message.is_empty());
    // Tabs may be echoed (a header value may hold them); the server's error rendering
    // replaces them in its header and escapes them in JSON. Nothing else invisible may be.
    prop_assert!(
        message.chars().all(|c| c == '\t' || !c.is_control()),
        "control characters in {message:?}"
    );
    Ok(())
}

/// The properties of an Authorization header on the botocore request; returns the parse.
fn check_authorization(value: &[u8]) -> Result<Option<Authorization>, TestCaseError> {
    let headers = list_users_headers(Some(value));
    match parse_authorization(&headers) {
        Ok(None) => {
            // Only a value that is not a header value at all leaves the request unsigned.
            prop_assert!(HeaderValue::from_bytes(value).is_err());
            Ok(None)
        }
        Ok(Some(auth)) => {
            prop_assert!(auth.signed_headers.iter().any(|h| h == "host"));
            prop_assert!(auth.date.len() == 8 && auth.date.bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(!auth.signature.is_empty());
            match verify(&request(&headers, BODY), &auth, SECRET, at(UNIX as i64)) {
                Ok(()) => {}
                Err(error) => check_refusal(&error)?,
            }
            Ok(Some(auth))
        }
        Err(error) => {
            // The header alone can only be incomplete, never a wrong signature.
            prop_assert!(
                matches!(error, SigV4Error::Incomplete(_)),
                "parse refused with {error:?}"
            );
            check_refusal(&error)?;
            Ok(None)
        }
    }
}

fn corpus(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let mut bytes = std::fs::read(&path).expect("corpus file");
            // Text files end with one newline that is not part of the value.
            if path.extension().is_some_and(|e| e == "txt") && bytes.last() == Some(&b'\n') {
                bytes.pop();
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, bytes)
        })
        .collect()
}

#[test]
fn authorization_corpus_replays_with_the_properties() {
    let files = corpus("authorization");
    assert!(files.len() >= 20);
    for (name, value) in files {
        let parsed = check_authorization(&value).unwrap_or_else(|e| panic!("{name}: {e}"));
        if name.starts_with("valid-") {
            let auth = parsed.unwrap_or_else(|| panic!("{name} must parse"));
            let headers = list_users_headers(Some(&value));
            assert_eq!(
                verify(&request(&headers, BODY), &auth, SECRET, at(UNIX as i64)),
                Ok(()),
                "{name} must verify"
            );
        }
    }
}

#[test]
fn date_corpus_replays_with_the_properties() {
    let files = corpus("date");
    assert!(files.len() >= 15);
    for (name, value) in files {
        let Ok(date) = HeaderValue::from_bytes(&value) else {
            continue;
        };
        let mut accepted = false;
        for header in ["x-amz-date", "date"] {
            let result = check_date(header, date.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            accepted |= result;
        }
        assert!(
            accepted || !name.starts_with("valid-"),
            "{name} must be accepted as a date"
        );
    }
}

/// Signs the botocore request with `value` as its only date header and checks what happens.
/// Returns whether the date was read.
fn check_date(header: &'static str, value: HeaderValue) -> Result<bool, TestCaseError> {
    let mut headers = list_users_headers(None);
    headers.remove("x-amz-date");
    headers.insert(header, value);
    let signed = ["content-type", "host", header, "x-amz-target"];
    match authorization_header(
        &request(&headers, BODY),
        AKID,
        SECRET,
        "eu-west-1",
        "cognito-idp",
        &signed,
    ) {
        Ok(value) => {
            headers.insert("authorization", HeaderValue::from_str(&value).unwrap());
            let auth = parse_authorization(&headers)
                .map_err(|e| TestCaseError::fail(format!("own header refused: {e:?}")))?
                .ok_or_else(|| TestCaseError::fail("own header missing"))?;
            // Far from the request time, the only possible refusal is the clock's.
            for now in [i64::MIN / 2, 0, i64::MAX / 2] {
                let result = verify(&request(&headers, BODY), &auth, SECRET, at(now / 1_000_000));
                match result {
                    Ok(()) => {}
                    Err(error) => {
                        prop_assert!(matches!(error, SigV4Error::Expired(_)), "{error:?}");
                        check_refusal(&error)?;
                    }
                }
            }
            Ok(true)
        }
        Err(error) => {
            prop_assert!(matches!(error, SigV4Error::Incomplete(_)), "{error:?}");
            check_refusal(&error)?;
            prop_assert!(
                error
                    .to_string()
                    .starts_with("Date must be in ISO-8601 'basic format'. Got '"),
                "{error}"
            );
            Ok(false)
        }
    }
}

/// A fixed number of cases, and failures kept next to this file (an integration test has no
/// `src` for proptest's default location).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases * scale(),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// `TESSERA_PROPTEST_SCALE=N` runs N times as many cases, for a longer search than CI's.
fn scale() -> u32 {
    std::env::var("TESSERA_PROPTEST_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

// ---- generators ----

/// Bytes that matter to the header's grammar, for insertions.
const ALPHABET: &[u8] =
    b"AWS4-HMAC-SHA256 Credential=/,;SignedHeaders=Signature=host x-amz-date\t%0aZ=:\xff\x80";

#[derive(Debug, Clone)]
enum Edit {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    /// Repeats a slice of the value somewhere else (duplicated components).
    Copy {
        from: usize,
        len: usize,
        to: usize,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Edit::Flip(at, mask)),
        (
            any::<usize>(),
            prop_oneof![
                prop::collection::vec(prop::sample::select(ALPHABET), 1..6),
                prop::collection::vec(any::<u8>(), 1..6),
                (1usize..3000).prop_map(|n| b";h".repeat(n)),
            ]
        )
            .prop_map(|(at, bytes)| Edit::Insert(at, bytes)),
        (any::<usize>(), 1usize..40).prop_map(|(at, len)| Edit::Delete(at, len)),
        (any::<usize>(), 1usize..120, any::<usize>()).prop_map(|(from, len, to)| Edit::Copy {
            from,
            len,
            to
        }),
    ]
}

fn apply(mut value: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = value.len();
        match edit {
            Edit::Truncate(at) => value.truncate(at % (len + 1)),
            Edit::Flip(at, mask) => {
                if len > 0 {
                    value[at % len] ^= mask;
                }
            }
            Edit::Insert(at, bytes) => {
                let at = at % (len + 1);
                value.splice(at..at, bytes.iter().copied());
            }
            Edit::Delete(at, n) => {
                let at = at % (len + 1);
                let end = (at + n).min(len);
                value.drain(at..end);
            }
            Edit::Copy { from, len: n, to } => {
                let from = from % (len + 1);
                let end = (from + n).min(len);
                let slice = value[from..end].to_vec();
                let to = to % (len + 1);
                value.splice(to..to, slice);
            }
        }
    }
    value
}

/// A header name a client could send (and sign), never one that changes the outcome by its
/// mere presence (`authorization`, `x-amz-content-sha256`, the date headers).
fn header_name() -> impl Strategy<Value = String> {
    "[a-z0-9!#$%&'*+.^_`|~-]{1,24}".prop_filter("reserved header", |name| {
        !matches!(
            name.as_str(),
            "authorization" | "x-amz-content-sha256" | "x-amz-date" | "date" | "host"
        )
    })
}

/// Any value `http` accepts: visible ASCII, spaces and tabs anywhere, obs-text bytes.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            8 => 0x20u8..0x7f,
            1 => Just(b'\t'),
            1 => 0x80u8..=0xff,
        ],
        0..60,
    )
}

/// A calendar rendering of a Unix time, for the date headers.
struct Civil {
    year: i64,
    month: usize,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
}

fn civil(unix: i64) -> Civil {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    Civil {
        year: yoe + era * 400 + i64::from(month <= 2),
        month: usize::try_from(month).unwrap(),
        day,
        hour: secs / 3600,
        minute: secs / 60 % 60,
        second: secs % 60,
    }
}

fn basic_date(unix: i64) -> String {
    let c = civil(unix);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

fn http_date(unix: i64, weekday: &str, zone: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let c = civil(unix);
    format!(
        "{weekday}, {:02} {} {:04} {:02}:{:02}:{:02} {zone}",
        c.day,
        MONTHS[c.month - 1],
        c.year,
        c.hour,
        c.minute,
        c.second
    )
}

/// A request with arbitrary extra headers, path, query and body, signed at `unix`.
#[derive(Debug, Clone)]
struct Signed {
    method: &'static str,
    path: String,
    query: String,
    headers: HeaderMap,
    signed: Vec<String>,
    body: Vec<u8>,
    unix: i64,
    region: String,
    service: String,
}

fn signed_request() -> impl Strategy<Value = Signed> {
    (
        prop::sample::select(vec!["POST", "GET", "PUT", "DELETE", "OPTIONS"]),
        prop_oneof![
            "/",
            "/[ -~]{0,40}",
            any::<String>().prop_map(|s| format!("/{s}"))
        ],
        prop_oneof![Just(String::new()), "[ -~]{0,60}", any::<String>()],
        prop::collection::vec((header_name(), header_value(), any::<bool>()), 0..6),
        prop::collection::vec(any::<u8>(), 0..200),
        YEAR_0..=YEAR_9999_END,
        any::<bool>(),
        prop::sample::select(vec!["Sun", "Mon", "xyz"]),
        prop::sample::select(vec!["GMT", "-0000", "+0000"]),
        "[a-z0-9-]{1,20}",
        "[a-z0-9-]{1,20}",
    )
        .prop_map(
            |(
                method,
                path,
                query,
                extra,
                body,
                unix,
                use_http_date,
                weekday,
                zone,
                region,
                service,
            )| {
                let mut headers = HeaderMap::new();
                headers.insert("host", HeaderValue::from_static("cognito-idp.example"));
                let date_header = if use_http_date { "date" } else { "x-amz-date" };
                let date = if use_http_date {
                    http_date(unix, weekday, zone)
                } else {
                    basic_date(unix)
                };
                headers.insert(date_header, HeaderValue::from_str(&date).unwrap());
                let mut signed = vec!["host".to_owned(), date_header.to_owned()];
                for (name, value, sign) in extra {
                    let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
                    // Repeated names append, so repeated headers are signed joined.
                    headers.append(name.clone(), HeaderValue::from_bytes(&value).unwrap());
                    if sign && !signed.iter().any(|s| s == name.as_str()) {
                        signed.push(name.as_str().to_owned());
                    }
                }
                Signed {
                    method,
                    path,
                    query,
                    headers,
                    signed,
                    body,
                    unix,
                    region,
                    service,
                }
            },
        )
}

impl Signed {
    fn request(&self) -> Request<'_> {
        Request {
            method: self.method,
            path: &self.path,
            query: &self.query,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn sign(&mut self) -> Authorization {
        let names: Vec<&str> = self.signed.iter().map(String::as_str).collect();
        let value = authorization_header(
            &self.request(),
            AKID,
            SECRET,
            &self.region,
            &self.service,
            &names,
        )
        .expect("a well-formed request signs");
        self.headers
            .insert("authorization", HeaderValue::from_str(&value).unwrap());
        parse_authorization(&self.headers)
            .expect("our own header parses")
            .expect("and is present")
    }
}

proptest! {
    #![proptest_config(config(2000))]

    /// The real header with a few bytes wrong.
    #[test]
    fn mutated_authorization_headers(edits in prop::collection::vec(edit(), 1..5)) {
        check_authorization(&apply(AUTHORIZATION.as_bytes().to_vec(), &edits))?;
    }

    /// Any bytes at all.
    #[test]
    fn arbitrary_authorization_headers(value in prop::collection::vec(any::<u8>(), 0..300)) {
        check_authorization(&value)?;
    }

    /// Any date header value, in either header.
    #[test]
    fn arbitrary_date_headers(
        value in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40),
            "[0-9]{8}T[0-9]{6}Z".prop_map(String::into_bytes),
            "[A-Za-z]{3}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} (GMT|-0000|\\+0000)"
                .prop_map(String::into_bytes),
        ],
        amz in any::<bool>(),
    ) {
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            check_date(if amz { "x-amz-date" } else { "date" }, value)?;
        }
    }
}

proptest! {
    #![proptest_config(config(600))]

    /// Whatever the request, what tessera signs parses back to what was signed and verifies at
    /// its own time, and the 15-minute window holds at its edges.
    #[test]
    fn signing_round_trips(mut signed in signed_request(), skew in -900i64..=900) {
        let auth = signed.sign();
        prop_assert_eq!(&auth.access_key_id, AKID);
        prop_assert_eq!(&auth.region, &signed.region);
        prop_assert_eq!(&auth.service, &signed.service);
        let mut expected: Vec<String> = signed.signed.clone();
        expected.sort();
        prop_assert_eq!(&auth.signed_headers, &expected);
        prop_assert_eq!(&auth.date, &basic_date(signed.unix)[..8]);

        let request = signed.request();
        prop_assert_eq!(verify(&request, &auth, SECRET, at(signed.unix + skew)), Ok(()));
        for outside in [signed.unix - 901, signed.unix + 901] {
            let result = verify(&request, &auth, SECRET, at(outside));
            prop_assert!(matches!(result, Err(SigV4Error::Expired(_))), "{:?}", result);
        }
        prop_assert_eq!(
            verify(&request, &auth, "another-secret", at(signed.unix)),
            Err(SigV4Error::Mismatch)
        );
        let mut body = signed.body.clone();
        body.push(b'x');
        let tampered = Request { body: &body, ..request };
        prop_assert_eq!(
            verify(&tampered, &auth, SECRET, at(signed.unix)),
            Err(SigV4Error::Mismatch)
        );
    }

    /// A signed request whose path, query or headers change afterwards is refused with one of
    /// the two exceptions, never accepted unless the change is one the canonical form
    /// ignores, and never a panic.
    #[test]
    fn tampered_requests_are_refused_in_aws_terms(
        mut signed in signed_request(),
        path_edits in prop::collection::vec(edit(), 0..3),
        query_edits in prop::collection::vec(edit(), 0..3),
        header in (header_name(), header_value()),
        auth_edits in prop::collection::vec(edit(), 0..3),
    ) {
        signed.sign();
        let path = String::from_utf8_lossy(&apply(signed.path.clone().into_bytes(), &path_edits)).into_owned();
        let query = String::from_utf8_lossy(&apply(signed.query.clone().into_bytes(), &query_edits)).into_owned();
        let mut headers = signed.headers.clone();
        headers.append(
            HeaderName::from_bytes(header.0.as_bytes()).unwrap(),
            HeaderValue::from_bytes(&header.1).unwrap(),
        );
        let raw = headers.get("authorization").unwrap().as_bytes().to_vec();
        if let Ok(value) = HeaderValue::from_bytes(&apply(raw, &auth_edits)) {
            headers.insert("authorization", value);
        }
        let request = Request { method: signed.method, path: &path, query: &query, headers: &headers, body: &signed.body };
        match parse_authorization(&headers) {
            Ok(Some(auth)) => {
                if let Err(error) = verify(&request, &auth, SECRET, at(signed.unix)) {
                    check_refusal(&error)?;
                }
            }
            Ok(None) => prop_assert!(false, "the authorization header vanished"),
            Err(error) => check_refusal(&error)?,
        }
    }
}
