//! Properties of every server-side parser of untrusted input, checked in process.
//!
//! Direct properties of the parsing functions: the pagination token (`input::decode_token`),
//! OAuth form bodies (`oauth::form::Form`), the authorization query (`oauth::authorize::Query`),
//! the `Authorization: Basic` header (`oauth::client_auth::basic_credentials`), the `Cookie`
//! header (`oauth::page::cookie`), the new-password form's challenge handle
//! (`oauth::hosted::ChallengeHandle`) and the callback origin that goes into the pages' CSP
//! (`oauth::page::origin_of`): none panics, each refuses with its documented error, and each
//! round-trips what tessera itself writes.
//!
//! Whole requests through `app(state)`: arbitrary and near-valid bodies, headers, queries,
//! cookies and forms against `POST /`, the token, revocation and userInfo endpoints, the
//! authorization endpoint and every hosted page. Whatever arrives, the answer is never a 5xx,
//! and it is the error the protocol spoken there defines: the AWS JSON error (`__type`,
//! `message`, `x-amzn-ErrorType`) on the API, an RFC 6749 error JSON on the token and
//! revocation endpoints, an RFC 6750 challenge on userInfo, and on the pages an HTML page or a
//! redirect that stays on the pool's pages or goes to a registered URL. The ListUsers tokens
//! (plain and filtered) and the other list operations' tokens are paged through to check that
//! a token tessera issues resumes exactly where the page ended.
//!
//! Every parser also replays its committed corpus in `tests/corpus/<parser>/` (real inputs named
//! `valid-*` must be accepted), and `tests/corpus/requests/*.http` holds whole requests.
//! The request-body corpus of tessera-proto is replayed through the API as well.
//!
//! One fixture (a pool, its clients, users and groups) is built once for all of these tests on
//! a runtime of their own; case counts are fixed and small enough that the module runs in a few
//! seconds of a debug build.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use base64::Engine;
use http_body_util::BodyExt;
use proptest::prelude::*;
use serde_json::{json, Value};
use tessera_core::ManualClock;
use tower::ServiceExt;

use super::{pool_with_user, signed, state_with_clock, TEST_KEY_ID, TEST_SECRET};
use crate::oauth::authorize::Query;
use crate::oauth::client_auth::basic_credentials;
use crate::oauth::form::Form;
use crate::oauth::hosted::ChallengeHandle;
use crate::oauth::page::{cookie, origin_of};
use crate::{app, AppState};
use tessera_idp::input::{decode_token, encode_token};

const CALLBACK: &str = "https://app.example.com/cb";
const LOGOUT: &str = "https://app.example.com/bye";
/// Markup a generator puts in values; no page may echo it unescaped.
const INJECTED: &str = "\"'><x-inj>alert(1)</x-inj>";
/// A CSRF cookie value the fixture's browser holds (any 43 characters are taken as one).
const CSRF_COOKIE: &str = "csrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsrfcsr";
/// The fixture pool's prefix domain, served as `fixture-pages.auth.localhost`.
const DOMAIN_HOST: &str = "fixture-pages.auth.localhost";
const USERS: usize = 7;
/// The `name` attributes of the listing pool's `named0…` users, which the filter property
/// searches: prefixes of one another, case and normalization variants, the largest code point
/// (which a naive prefix range `[p, p + U+10FFFF)` misses) and LIKE metacharacters.
const NAMES: &[&str] = &[
    "ab",
    "abc",
    "aB",
    "ab c",
    "ab\u{10FFFF}",
    "ab\u{10FFFF}c",
    "\u{10FFFF}",
    "\u{10FFFF}\u{10FFFF}z",
    "a\u{301}b",
    "\u{e1}b",
    "\u{FFFF}x",
    "%",
    "_a",
    "a\"b\\c",
    "Z",
];
const GROUPS: usize = 5;

// ---- the fixture ----

struct Fixture {
    state: AppState,
    pool_id: String,
    /// The password-auth client of `pool_with_user`.
    password_client: String,
    /// A client allowed USER_SRP_AUTH.
    srp_client: String,
    /// A confidential OAuth client with the code flow.
    web: String,
    web_secret: String,
    /// A public OAuth client (PKCE).
    spa: String,
    /// The `_csrf` field that goes with [`CSRF_COOKIE`].
    csrf: String,
    /// Alice's tokens, which the generators know (and may revoke).
    refresh_token: String,
    access_token: String,
    /// Tokens of a user no generator knows, for the corpus's requests that must succeed.
    corpus_access_token: String,
    /// A second pool that no generator writes to, whose users and groups the paging
    /// properties count.
    listing_pool: String,
    /// The `Cookie` of a browser signed in (as `corpus-user`) at the hosted pages, which the
    /// generators may use (and a logout may end).
    session_cookie: String,
    /// Another such browser, only used to obtain authorization codes.
    code_cookie: String,
}

/// The runtime these tests share: the store's connections belong to the runtime that opened
/// them, so the fixture and every request run on this one.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| runtime().block_on(build_fixture()))
}

async fn build_fixture() -> Fixture {
    let clock = Arc::new(ManualClock::new(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
    ));
    let state = state_with_clock(clock).await;
    let (pool_id, password_client) = pool_with_user(&state).await;
    let ok = |result: &(StatusCode, HeaderMap, Value)| {
        assert_eq!(result.0, StatusCode::OK, "{}", result.2);
    };
    let web = signed(
        &state,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool_id, "ClientName": "web", "GenerateSecret": true,
               "CallbackURLs": [CALLBACK], "LogoutURLs": [LOGOUT],
               "AllowedOAuthFlows": ["code"],
               "AllowedOAuthScopes": ["openid", "email", "aws.cognito.signin.user.admin"],
               "AllowedOAuthFlowsUserPoolClient": true,
               "SupportedIdentityProviders": ["COGNITO"]}),
    )
    .await;
    ok(&web);
    let spa = signed(
        &state,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool_id, "ClientName": "spa",
               "CallbackURLs": [CALLBACK], "AllowedOAuthFlows": ["code"],
               "AllowedOAuthScopes": ["openid"], "AllowedOAuthFlowsUserPoolClient": true,
               "SupportedIdentityProviders": ["COGNITO"]}),
    )
    .await;
    ok(&spa);
    let srp = signed(
        &state,
        "CreateUserPoolClient",
        json!({"UserPoolId": pool_id, "ClientName": "srp",
               "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
    )
    .await;
    ok(&srp);
    let srp_client = srp.2["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&signed(
        &state,
        "CreateUserPoolDomain",
        json!({"UserPoolId": pool_id, "Domain": DOMAIN_HOST.split('.').next().unwrap()}),
    )
    .await);
    let listing = signed(&state, "CreateUserPool", json!({"PoolName": "listing"})).await;
    ok(&listing);
    let listing_pool = listing.2["UserPool"]["Id"].as_str().unwrap().to_owned();
    for pool in [&pool_id, &listing_pool] {
        populate(&state, pool).await;
    }
    for (i, name) in NAMES.iter().enumerate() {
        ok(&signed(
            &state,
            "AdminCreateUser",
            json!({"UserPoolId": listing_pool, "Username": format!("named{i}"), "MessageAction": "SUPPRESS",
                   "UserAttributes": [{"Name": "name", "Value": name}]}),
        )
        .await);
    }
    ok(&signed(
        &state,
        "AdminCreateUser",
        json!({"UserPoolId": pool_id, "Username": "corpus-user", "MessageAction": "SUPPRESS"}),
    )
    .await);
    ok(&signed(
        &state,
        "AdminSetUserPassword",
        json!({"UserPoolId": pool_id, "Username": "corpus-user", "Password": "Passw0rd!", "Permanent": true}),
    )
    .await);
    let sign_in = |username: &'static str| {
        let state = state.clone();
        let client = password_client.clone();
        async move {
            let signed_in = super::public(
                &state,
                "InitiateAuth",
                json!({"ClientId": client, "AuthFlow": "USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": username, "PASSWORD": "Passw0rd!"}}),
            )
            .await;
            assert_eq!(signed_in.0, StatusCode::OK, "{}", signed_in.2);
            signed_in.2["AuthenticationResult"].clone()
        }
    };
    let tokens = sign_in("alice").await;
    let corpus_tokens = sign_in("corpus-user").await;
    let web = &web.2["UserPoolClient"];
    let mut fixture = Fixture {
        state,
        pool_id,
        password_client,
        srp_client,
        web: web["ClientId"].as_str().unwrap().to_owned(),
        web_secret: web["ClientSecret"].as_str().unwrap().to_owned(),
        spa: spa.2["UserPoolClient"]["ClientId"]
            .as_str()
            .unwrap()
            .to_owned(),
        csrf: String::new(),
        refresh_token: tokens["RefreshToken"].as_str().unwrap().to_owned(),
        access_token: tokens["AccessToken"].as_str().unwrap().to_owned(),
        corpus_access_token: corpus_tokens["AccessToken"].as_str().unwrap().to_owned(),
        listing_pool,
        session_cookie: String::new(),
        code_cookie: String::new(),
    };
    // The form token of the fixture's CSRF cookie, as the sign-in page gives it.
    let page = send_async(
        &fixture.state,
        Request::get(format!(
            "/{}/login?{}",
            fixture.pool_id,
            fixture.authorize_query()
        ))
        .header("cookie", format!("tessera-csrf={CSRF_COOKIE}"))
        .body(Body::empty())
        .unwrap(),
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    fixture.csrf = page
        .text()
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the sign-in form has a CSRF field")
        .to_owned();
    fixture.session_cookie = browser_sign_in(&fixture).await;
    fixture.code_cookie = browser_sign_in(&fixture).await;
    fixture
}

/// Signs `corpus-user` in at the hosted sign-in page and returns the browser's cookies.
async fn browser_sign_in(f: &Fixture) -> String {
    let reply = send_async(
        &f.state,
        Request::post(format!("/{}/login?{}", f.pool_id, f.authorize_query()))
            .header("cookie", format!("tessera-csrf={CSRF_COOKIE}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "_csrf={}&username=corpus-user&password=Passw0rd%21",
                f.csrf
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let session = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("tessera-sso-"))
        .expect("a session cookie");
    format!("tessera-csrf={CSRF_COOKIE}; {session}")
}

/// Users `user0…` with e-mail addresses and groups `group0…` that all of them and alice
/// belong to (alice only in the fixture's main pool, where she exists).
async fn populate(state: &AppState, pool_id: &str) {
    let ok = |result: (StatusCode, HeaderMap, Value)| {
        assert_eq!(result.0, StatusCode::OK, "{}", result.2);
    };
    let mut members: Vec<String> = (0..USERS).map(|i| format!("user{i}")).collect();
    for user in &members {
        ok(signed(
            state,
            "AdminCreateUser",
            json!({"UserPoolId": pool_id, "Username": user, "MessageAction": "SUPPRESS",
                   "UserAttributes": [{"Name": "email", "Value": format!("{user}@example.com")}]}),
        )
        .await);
    }
    if signed(
        state,
        "AdminGetUser",
        json!({"UserPoolId": pool_id, "Username": "alice"}),
    )
    .await
    .0 == StatusCode::OK
    {
        members.push("alice".into());
    } else {
        ok(signed(
            state,
            "AdminCreateUser",
            json!({"UserPoolId": pool_id, "Username": "alice", "MessageAction": "SUPPRESS"}),
        )
        .await);
        members.push("alice".into());
    }
    for i in 0..GROUPS {
        let group = format!("group{i}");
        ok(signed(
            state,
            "CreateGroup",
            json!({"UserPoolId": pool_id, "GroupName": group}),
        )
        .await);
        for user in &members {
            ok(signed(
                state,
                "AdminAddUserToGroup",
                json!({"UserPoolId": pool_id, "GroupName": group, "Username": user}),
            )
            .await);
        }
    }
}

impl Fixture {
    fn authorize_query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.web)
            .append_pair("redirect_uri", CALLBACK)
            .append_pair("state", "xyz")
            .append_pair("scope", "openid email")
            .finish()
    }

    fn basic(&self) -> String {
        basic_header(&self.web, &self.web_secret)
    }

    /// The values a generator draws from to be near-valid here.
    fn known_values(&self) -> Vec<String> {
        vec![
            self.pool_id.clone(),
            self.password_client.clone(),
            self.web.clone(),
            self.web_secret.clone(),
            self.spa.clone(),
            self.refresh_token.clone(),
            self.access_token.clone(),
            self.csrf.clone(),
            CSRF_COOKIE.to_owned(),
            CALLBACK.to_owned(),
            LOGOUT.to_owned(),
            "alice".to_owned(),
            "user3".to_owned(),
            "Passw0rd!".to_owned(),
            "code".to_owned(),
            "S256".to_owned(),
            "openid".to_owned(),
            "openid email profile".to_owned(),
            "authorization_code".to_owned(),
            "refresh_token".to_owned(),
            "client_credentials".to_owned(),
            "none login".to_owned(),
            "COGNITO".to_owned(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned(),
            "dBjftJeZ4CVP-mJ0kZ8bX9q3Yp2Lw7cR5sT6uV8wXyZaBcDeF".to_owned(),
            "group2".to_owned(),
            encode_token("user3"),
            encode_token(&json!(["user3@example.com", "user3"]).to_string()),
            "email ^= \"user\"".to_owned(),
            "username = \"alice\"".to_owned(),
            "us-east-1_nope0000".to_owned(),
        ]
    }
}

fn basic_header(id: &str, secret: &str) -> String {
    let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            encode(id),
            encode(secret)
        ))
    )
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.text();
        let shown: String = text.chars().take(600).collect();
        write!(f, "{} {:?} {shown}", self.status, self.headers)
    }
}

async fn send_async(state: &AppState, request: Request<Body>) -> Reply {
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

fn send(request: Request<Body>) -> Reply {
    runtime().block_on(send_async(&fixture().state, request))
}

/// A fixed number of cases; failures are kept in `proptest-regressions/` beside `src`.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases * scale(),
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

fn corpus_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind)
}

/// The files of a corpus directory, sorted, each without the one newline a text file ends with.
fn corpus(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let mut bytes = std::fs::read(&path).expect("corpus file");
            if path.extension().is_some_and(|e| e != "bin") && bytes.last() == Some(&b'\n') {
                bytes.pop();
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, bytes)
        })
        .collect()
}

/// Replaces the fixture's placeholders in a corpus text.
fn substitute(text: &str) -> String {
    let f = fixture();
    let encoded = |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    text.replace("{pool}", &f.pool_id)
        .replace("{web_secret}", &f.web_secret)
        .replace("{basic_web}", &f.basic())
        .replace("{web}", &f.web)
        .replace("{spa}", &f.spa)
        .replace("{password_client}", &f.password_client)
        .replace("{callback_enc}", &encoded(CALLBACK))
        .replace("{callback}", CALLBACK)
        .replace("{csrf_cookie}", CSRF_COOKIE)
        .replace("{csrf}", &f.csrf)
        .replace("{refresh_token}", &f.refresh_token)
        .replace("{access_token}", &f.corpus_access_token)
        .replace("{authorize_query}", &f.authorize_query())
}

// ---- generators shared by the properties ----

/// Strings meant to break parsers: any text, very long text, NULs, control and format
/// characters, percent and form metacharacters, and values the fixture knows.
fn nasty() -> impl Strategy<Value = String> {
    let known = fixture().known_values();
    prop_oneof![
        3 => any::<String>(),
        3 => prop::sample::select(known),
        1 => Just(String::new()),
        1 => (1usize..5_000).prop_map(|n| "a".repeat(n)),
        1 => Just("\u{0}\r\n\t\u{7f}\u{feff}\u{202e}\u{1F511}".to_owned()),
        1 => Just(INJECTED.to_owned()),
        1 => "[%&=+;,:/?#\\[\\]@!$'()* \"\\\\a-z0-9]{0,24}",
    ]
}

fn visible_ascii(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(0x20u8..0x7f, 0..max)
        .prop_map(|bytes| String::from_utf8(bytes).expect("ASCII"))
}

/// Any bytes a header value may hold (visible ASCII, spaces, tabs, obs-text).
fn header_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![8 => 0x20u8..0x7f, 1 => Just(b'\t'), 1 => 0x80u8..=0xff],
        0..max,
    )
}

/// A URI path-and-query with `query` appended, its bytes percent-encoded where a URI needs it
/// (stray `%` signs are kept, so that bad escapes reach the parser).
fn with_query(path: &str, query: &str) -> String {
    let mut out = String::with_capacity(path.len() + query.len() + 1);
    out.push_str(path);
    if !query.is_empty() {
        out.push('?');
        for b in query.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Form-encodes pairs, and sometimes writes raw text in place of a proper encoding.
fn form_text(pairs: &[(String, String)]) -> String {
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        serializer.append_pair(name, value);
    }
    serializer.finish()
}

// ---- pagination tokens ----

#[test]
fn pagination_token_corpus_replays_with_the_properties() {
    let files = corpus(&corpus_dir("pagination_token"));
    assert!(files.len() >= 8);
    for (name, bytes) in files {
        let token = String::from_utf8_lossy(&bytes);
        match decode_token(&token) {
            Ok(position) => assert_eq!(encode_token(&position), token, "{name}"),
            Err(error) => {
                assert!(!name.starts_with("valid-"), "{name} must decode");
                assert_eq!(error.kind, "InvalidParameterException", "{name}");
                assert_eq!(error.message, "Invalid pagination token.", "{name}");
            }
        }
        // Through ListUsers, with and without a filter, and the other lists: never a 5xx.
        for (operation, member, extra) in token_operations() {
            let mut body = extra;
            body[member] = json!(token);
            check_api_reply(&send(signed_request(operation, &body.to_string(), true)))
                .unwrap_or_else(|e| panic!("{name} {operation}: {e}"));
        }
    }
}

/// The list operations and their token member, with the rest of a valid request.
fn token_operations() -> Vec<(&'static str, &'static str, Value)> {
    let f = fixture();
    let pool = f.listing_pool.as_str();
    vec![
        ("ListUsers", "PaginationToken", json!({"UserPoolId": pool})),
        (
            "ListUsers",
            "PaginationToken",
            json!({"UserPoolId": pool, "Filter": "email ^= \"user\""}),
        ),
        (
            "ListUsers",
            "PaginationToken",
            json!({"UserPoolId": pool, "Filter": "username = \"alice\""}),
        ),
        ("ListGroups", "NextToken", json!({"UserPoolId": pool})),
        ("ListUserPools", "NextToken", json!({"MaxResults": 10})),
        (
            "ListUserPoolClients",
            "NextToken",
            json!({"UserPoolId": pool}),
        ),
        (
            "ListResourceServers",
            "NextToken",
            json!({"UserPoolId": pool, "MaxResults": 10}),
        ),
        (
            "AdminListGroupsForUser",
            "NextToken",
            json!({"UserPoolId": pool, "Username": "alice"}),
        ),
        (
            "ListUsersInGroup",
            "NextToken",
            json!({"UserPoolId": pool, "GroupName": "group1"}),
        ),
    ]
}

proptest! {
    #![proptest_config(config(2000))]

    /// Any position round-trips through a token, and any token decodes to a position or is
    /// refused with Cognito's InvalidParameterException.
    #[test]
    fn tokens_round_trip(position in any::<String>(), token in any::<String>()) {
        prop_assert_eq!(decode_token(&encode_token(&position)).ok(), Some(position));
        match decode_token(&token) {
            Ok(position) => prop_assert_eq!(encode_token(&position), token),
            Err(error) => {
                prop_assert_eq!(error.kind, "InvalidParameterException");
                prop_assert_eq!(error.message, "Invalid pagination token.");
            }
        }
    }
}

/// Tokens a client might send: made-up positions encoded as tessera does, filtered positions
/// of any shape, base64 of anything, and any text the model lets through (`[\S]+`).
fn token() -> impl Strategy<Value = String> {
    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    prop_oneof![
        any::<String>().prop_map(|s| encode_token(&s)),
        (any::<String>(), any::<String>())
            .prop_map(|(v, k)| encode_token(&json!([v, k]).to_string())),
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| B64.encode(b)),
        prop::collection::vec(any::<u8>(), 0..40)
            .prop_map(|b| B64.encode([b"v1:".as_slice(), &b].concat())),
        "[!-~]{1,60}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config(160))]

    /// Any token to any list operation: a page or InvalidParameterException, never a 5xx.
    #[test]
    fn list_operations_take_any_token(
        index in any::<prop::sample::Index>(),
        token in token(),
        limit in prop_oneof![Just(None), (0i64..70).prop_map(Some)],
    ) {
        let operations = token_operations();
        let (operation, member, mut body) = index.get(&operations).clone();
        body[member] = json!(token);
        if let Some(limit) = limit {
            let name = if operation == "ListUserPools" || operation == "ListResourceServers" { "MaxResults" } else { "Limit" };
            body[name] = json!(limit);
        }
        let reply = send(signed_request(operation, &body.to_string(), true));
        check_api_reply(&reply)?;
        if reply.status != StatusCode::OK {
            let kind = reply.json().and_then(|b| b["__type"].as_str().map(String::from));
            prop_assert_eq!(kind.as_deref(), Some("InvalidParameterException"), "{:?}", reply);
        }
    }
}

/// Pages through a list operation with `limit` and returns the items' keys in order, checking
/// that every token tessera hands out is one it reads back.
fn page_through(
    operation: &str,
    mut body: Value,
    token_member: &str,
    limit_member: &str,
    limit: i64,
    items: &str,
    key: &str,
) -> Result<Vec<String>, TestCaseError> {
    let mut seen = Vec::new();
    body[limit_member] = json!(limit);
    for _ in 0..100 {
        let reply = send(signed_request(operation, &body.to_string(), true));
        prop_assert_eq!(reply.status, StatusCode::OK, "{:?}", reply);
        let page = reply.json().unwrap();
        let listed = page[items].as_array().unwrap();
        prop_assert!(listed.len() <= usize::try_from(limit.clamp(1, 60)).unwrap());
        seen.extend(
            listed
                .iter()
                .map(|item| item[key].as_str().unwrap().to_owned()),
        );
        match page[token_member].as_str() {
            Some(token) => {
                prop_assert!(decode_token(token).is_ok(), "tessera's own token decodes");
                prop_assert!(!listed.is_empty(), "a token after an empty page");
                body[token_member] = json!(token);
            }
            None => return Ok(seen),
        }
    }
    Err(TestCaseError::fail("paging did not end"))
}

proptest! {
    #![proptest_config(config(24))]

    /// Paging with any page size yields every item exactly once, in the order of one big page:
    /// each token resumes exactly after the last item of its page.
    #[test]
    fn tokens_resume_where_the_page_ended(
        limit in 1i64..5,
        which in 0usize..6,
    ) {
        let f = fixture();
        let pool = f.listing_pool.as_str();
        let (operation, body, token_member, limit_member, items, key) = match which {
            0 => ("ListUsers", json!({"UserPoolId": pool}), "PaginationToken", "Limit", "Users", "Username"),
            1 => ("ListUsers", json!({"UserPoolId": pool, "Filter": "email ^= \"user\""}), "PaginationToken", "Limit", "Users", "Username"),
            2 => ("ListUsers", json!({"UserPoolId": pool, "Filter": "cognito:user_status = \"force_change_password\""}), "PaginationToken", "Limit", "Users", "Username"),
            3 => ("ListGroups", json!({"UserPoolId": pool}), "NextToken", "Limit", "Groups", "GroupName"),
            4 => ("AdminListGroupsForUser", json!({"UserPoolId": pool, "Username": "alice"}), "NextToken", "Limit", "Groups", "GroupName"),
            _ => ("ListUsersInGroup", json!({"UserPoolId": pool, "GroupName": "group0"}), "NextToken", "Limit", "Users", "Username"),
        };
        let all = page_through(operation, body.clone(), token_member, limit_member, 60, items, key)?;
        prop_assert!(all.len() >= GROUPS.min(USERS), "{operation}: {all:?}");
        let paged = page_through(operation, body, token_member, limit_member, limit, items, key)?;
        prop_assert_eq!(paged, all);
    }
}

/// A filter value near the searched names: a prefix of one (cut at any character), one with
/// a character added, or anything.
fn filter_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (prop::sample::select(NAMES), any::<prop::sample::Index>()).prop_map(|(name, cut)| {
            let chars: Vec<char> = name.chars().collect();
            chars[..cut.index(chars.len() + 1)].iter().collect()
        }),
        1 => (prop::sample::select(NAMES), any::<char>()).prop_map(|(name, c)| format!("{name}{c}")),
        1 => any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config(64))]

    /// A filter finds exactly the users its parsed form matches: ListUsers runs what
    /// `parse_user_filter` read, whatever the value (prefixes ending anywhere, the largest
    /// code point, quotes and backslashes, characters SQL's LIKE would treat specially).
    #[test]
    fn filters_find_what_they_match(value in filter_value(), starts_with in any::<bool>(), limit in 1i64..8) {
        let f = fixture();
        let filter = tessera_core::UserFilter {
            attribute: tessera_core::FilterAttribute::Name,
            op: if starts_with { tessera_core::FilterOp::StartsWith } else { tessera_core::FilterOp::Equals },
            value,
        };
        let mut quoted = String::from("name ");
        quoted.push_str(if starts_with { "^= \"" } else { "= \"" });
        for c in filter.value.chars() {
            if c == '"' || c == '\\' {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        prop_assert_eq!(tessera_core::parse_user_filter(&quoted), Ok(Some(filter.clone())));
        let mut expected: Vec<String> = NAMES
            .iter()
            .enumerate()
            .filter(|(_, name)| filter.matches(name))
            .map(|(i, _)| format!("named{i}"))
            .collect();
        expected.sort();
        let body = json!({"UserPoolId": f.listing_pool, "Filter": quoted});
        let mut found = page_through("ListUsers", body, "PaginationToken", "Limit", limit, "Users", "Username")?;
        found.sort();
        prop_assert_eq!(found, expected, "{}", quoted);
    }
}

// ---- the AWS JSON API ----

/// Every answer of `POST /`: never a 5xx; an error is the AWS JSON error in full.
fn check_api_reply(reply: &Reply) -> Result<(), TestCaseError> {
    prop_assert!(
        !reply.status.is_server_error(),
        "a server error: {:?}",
        reply
    );
    prop_assert_eq!(
        reply.header("content-type"),
        Some("application/x-amz-json-1.1"),
        "{:?}",
        reply
    );
    let body = reply.json();
    prop_assert!(
        body.as_ref().is_some_and(Value::is_object),
        "not a JSON object: {:?}",
        reply
    );
    let body = body.unwrap();
    if reply.status == StatusCode::OK {
        return Ok(());
    }
    let kind = body["__type"].as_str().unwrap_or("");
    prop_assert!(
        kind.ends_with("Exception") && kind != "InternalErrorException",
        "{:?}",
        reply
    );
    prop_assert!(body["message"].is_string(), "{:?}", reply);
    let expected = format!("{kind}:");
    prop_assert_eq!(reply.header("x-amzn-errortype"), Some(expected.as_str()));
    Ok(())
}

/// An API request, SigV4-signed with the test key at the fixture's time when `sign` is set.
fn signed_request(operation: &str, body: &str, sign: bool) -> Request<Body> {
    signed_request_bytes(operation, body.as_bytes(), sign)
}

fn signed_request_bytes(operation: &str, body: &[u8], sign: bool) -> Request<Body> {
    let state = &fixture().state;
    let t = tessera_core::UtcFields::of(state.clock.now());
    let amz_date = format!("{}T{}Z", &t.compact()[..8], &t.compact()[8..]);
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("tessera.test"));
    headers.insert("x-amz-date", HeaderValue::from_str(&amz_date).unwrap());
    headers.insert(
        "x-amz-target",
        HeaderValue::from_str(&format!("AWSCognitoIdentityProviderService.{operation}")).unwrap_or(
            HeaderValue::from_static("AWSCognitoIdentityProviderService.X"),
        ),
    );
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-amz-json-1.1"),
    );
    if sign {
        let authorization = tessera_sigv4::authorization_header(
            &tessera_sigv4::Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body,
            },
            TEST_KEY_ID,
            TEST_SECRET,
            "us-east-1",
            "cognito-idp",
            &["host", "x-amz-date", "x-amz-target", "content-type"],
        )
        .unwrap();
        headers.insert("authorization", authorization.parse().unwrap());
    }
    let mut request = Request::post("/").body(Body::from(body.to_vec())).unwrap();
    *request.headers_mut() = headers;
    request
}

/// Valid requests of the operations whose inputs tessera reads, with the fixture's ids.
fn api_templates() -> Vec<(&'static str, Value)> {
    let f = fixture();
    let pool = f.pool_id.as_str();
    let client = f.password_client.as_str();
    vec![
        (
            "SignUp",
            json!({"ClientId": client, "Username": "newcomer", "Password": "Passw0rd!", "UserAttributes": [{"Name": "email", "Value": "n@example.com"}]}),
        ),
        (
            "ConfirmSignUp",
            json!({"ClientId": client, "Username": "user1", "ConfirmationCode": "123456"}),
        ),
        (
            "ResendConfirmationCode",
            json!({"ClientId": client, "Username": "user1"}),
        ),
        (
            "InitiateAuth",
            json!({"ClientId": client, "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "alice", "PASSWORD": "wrong"}}),
        ),
        (
            "InitiateAuth",
            json!({"ClientId": client, "AuthFlow": "USER_SRP_AUTH", "AuthParameters": {"USERNAME": "alice", "SRP_A": "2"}}),
        ),
        (
            "InitiateAuth",
            json!({"ClientId": client, "AuthFlow": "REFRESH_TOKEN_AUTH", "AuthParameters": {"REFRESH_TOKEN": f.refresh_token}}),
        ),
        (
            "RespondToAuthChallenge",
            json!({"ClientId": client, "ChallengeName": "PASSWORD_VERIFIER", "Session": "s".repeat(40), "ChallengeResponses": {"USERNAME": "alice", "PASSWORD_CLAIM_SECRET_BLOCK": "c2VjcmV0", "PASSWORD_CLAIM_SIGNATURE": "c2ln", "TIMESTAMP": "Tue Sep 24 05:43:18 UTC 2019"}}),
        ),
        (
            "RespondToAuthChallenge",
            json!({"ClientId": client, "ChallengeName": "NEW_PASSWORD_REQUIRED", "Session": "s".repeat(40), "ChallengeResponses": {"USERNAME": "user1", "NEW_PASSWORD": "Passw0rd!"}}),
        ),
        (
            "ForgotPassword",
            json!({"ClientId": client, "Username": "alice"}),
        ),
        (
            "ConfirmForgotPassword",
            json!({"ClientId": client, "Username": "alice", "ConfirmationCode": "123456", "Password": "Passw0rd!"}),
        ),
        ("GetUser", json!({"AccessToken": f.access_token})),
        (
            "RevokeToken",
            json!({"ClientId": client, "Token": f.refresh_token}),
        ),
        (
            "GetTokensFromRefreshToken",
            json!({"ClientId": client, "RefreshToken": f.refresh_token}),
        ),
        (
            "ListUsers",
            json!({"UserPoolId": pool, "Filter": "email ^= \"user\"", "Limit": 2}),
        ),
        (
            "ListUsers",
            json!({"UserPoolId": pool, "Filter": "cognito:user_status = \"confirmed\"", "PaginationToken": encode_token("user1")}),
        ),
        (
            "ListGroups",
            json!({"UserPoolId": pool, "Limit": 2, "NextToken": encode_token("group1")}),
        ),
        (
            "AdminGetUser",
            json!({"UserPoolId": pool, "Username": "alice"}),
        ),
        (
            "AdminInitiateAuth",
            json!({"UserPoolId": pool, "ClientId": client, "AuthFlow": "ADMIN_USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": "alice", "PASSWORD": "wrong"}}),
        ),
        ("DescribeUserPool", json!({"UserPoolId": pool})),
        (
            "DescribeUserPoolClient",
            json!({"UserPoolId": pool, "ClientId": f.web}),
        ),
        (
            "AdminListGroupsForUser",
            json!({"UserPoolId": pool, "Username": "alice", "Limit": 1}),
        ),
        (
            "GetGroup",
            json!({"UserPoolId": pool, "GroupName": "group1"}),
        ),
    ]
}

/// A value to put in place of a node of a request body.
fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            json!(u64::MAX),
            json!(i64::MIN),
            json!(-0.0),
            json!(1e308),
            json!(2_147_483_648_i64),
            json!([]),
            json!({}),
            json!([null]),
            json!({"a": {"b": [1, "x"]}}),
        ]),
        nasty().prop_map(Value::String),
    ]
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(object) => object.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Applies `edit` to the node at pre-order index `at`.
fn edit_node(value: &mut Value, at: &mut usize, edit: &mut dyn FnMut(&mut Value)) -> bool {
    if *at == 0 {
        edit(value);
        return true;
    }
    *at -= 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|item| edit_node(item, at, edit)),
        Value::Object(object) => object.values_mut().any(|item| edit_node(item, at, edit)),
        _ => false,
    }
}

#[derive(Debug, Clone)]
enum BodyEdit {
    Replace(usize, Value),
    /// Empties the node's container or sets it to `null`.
    Clear(usize),
    Add(String, Value),
}

fn body_edit() -> impl Strategy<Value = BodyEdit> {
    prop_oneof![
        3 => (any::<usize>(), json_leaf()).prop_map(|(at, v)| BodyEdit::Replace(at, v)),
        1 => any::<usize>().prop_map(BodyEdit::Clear),
        1 => (prop::sample::select(vec!["Filter", "PaginationToken", "NextToken", "Limit", "Session", "AccessToken", "Unknown"]), json_leaf())
            .prop_map(|(k, v)| BodyEdit::Add(k.to_owned(), v)),
    ]
}

fn apply_body_edits(mut body: Value, edits: &[BodyEdit]) -> Value {
    for edit in edits {
        let nodes = count_nodes(&body);
        match edit {
            BodyEdit::Replace(at, with) => {
                edit_node(&mut body, &mut (at % nodes), &mut |node| {
                    *node = with.clone()
                });
            }
            BodyEdit::Clear(at) => {
                edit_node(&mut body, &mut (at % nodes), &mut |node| match node {
                    Value::Object(object) => object.clear(),
                    Value::Array(items) => items.clear(),
                    other => *other = Value::Null,
                });
            }
            BodyEdit::Add(key, value) => {
                if let Value::Object(object) = &mut body {
                    object.insert(key.clone(), value.clone());
                }
            }
        }
    }
    body
}

#[derive(Debug, Clone)]
enum ApiBody {
    Template(usize, Vec<BodyEdit>),
    Raw(String, Vec<u8>),
}

fn api_body() -> impl Strategy<Value = ApiBody> {
    prop_oneof![
        4 => (any::<usize>(), prop::collection::vec(body_edit(), 0..4))
            .prop_map(|(i, edits)| ApiBody::Template(i, edits)),
        1 => (
            prop::sample::select(vec!["SignUp", "InitiateAuth", "ListUsers", "GetUser", "Nope", ""]),
            prop::collection::vec(any::<u8>(), 0..200),
        )
            .prop_map(|(op, bytes)| ApiBody::Raw(op.to_owned(), bytes)),
    ]
}

/// What happens to the signature of an admin call.
#[derive(Debug, Clone)]
enum Signing {
    Signed,
    Unsigned,
    /// Signed, then the header replaced with these bytes.
    Garbage(Vec<u8>),
    /// Signed, then the body changed.
    Tampered,
}

fn signing() -> impl Strategy<Value = Signing> {
    prop_oneof![
        6 => Just(Signing::Signed),
        1 => Just(Signing::Unsigned),
        1 => header_bytes(120).prop_map(Signing::Garbage),
        1 => prop::collection::vec(prop::sample::select(b"AWS4-HMAC-SHA256 Credential=/,;SignedHeaders=Signature=host x-amz-date".to_vec()), 0..80).prop_map(Signing::Garbage),
        1 => Just(Signing::Tampered),
    ]
}

proptest! {
    #![proptest_config(config(400))]

    /// Near-valid and arbitrary API requests, signed or not: never a 5xx, and every refusal
    /// the AWS JSON error, with the signature errors AWS gives.
    #[test]
    fn api_requests_are_answered_in_aws_terms(body in api_body(), signing in signing()) {
        let (operation, bytes) = match body {
            ApiBody::Template(index, edits) => {
                let templates = api_templates();
                let (operation, template) = templates[index % templates.len()].clone();
                (operation.to_owned(), apply_body_edits(template, &edits).to_string().into_bytes())
            }
            ApiBody::Raw(operation, bytes) => (operation, bytes),
        };
        let sign = !matches!(signing, Signing::Unsigned);
        let mut request = signed_request_bytes(&operation, &bytes, sign);
        match &signing {
            Signing::Garbage(value) => {
                if let Ok(value) = HeaderValue::from_bytes(value) {
                    request.headers_mut().insert("authorization", value);
                }
            }
            Signing::Tampered => {
                let mut tampered = bytes.clone();
                tampered.push(b' ');
                *request.body_mut() = Body::from(tampered);
            }
            Signing::Signed | Signing::Unsigned => {}
        }
        let reply = send(request);
        check_api_reply(&reply)?;
        let kind = reply.json().and_then(|b| b["__type"].as_str().map(String::from)).unwrap_or_default();
        if matches!(signing, Signing::Tampered) && reply.status != StatusCode::OK {
            // A public operation ignores the signature; an admin one must refuse the change.
            prop_assert!(kind != "IncompleteSignatureException", "{:?}", reply);
        }
        if kind.contains("Signature") {
            prop_assert!(
                matches!(kind.as_str(), "IncompleteSignatureException" | "InvalidSignatureException"),
                "{:?}", reply
            );
        }
    }
}

/// The request-body corpus of tessera-proto, every body to its operation through the whole
/// stack (admin operations signed).
#[test]
fn proto_request_body_corpus_through_the_api() {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tessera-proto/tests/corpus/request_body");
    let mut operations: Vec<_> = std::fs::read_dir(&root)
        .expect("tessera-proto's request-body corpus")
        .map(|entry| entry.unwrap().path())
        .collect();
    operations.sort();
    let mut replayed = 0;
    for dir in operations {
        let operation = dir.file_name().unwrap().to_string_lossy().into_owned();
        for (name, body) in corpus(&dir) {
            // The corpus's JSON files keep their final newline: it is part of a valid body.
            let body = std::fs::read(dir.join(&name)).unwrap_or(body);
            let reply = send(signed_request_bytes(&operation, &body, true));
            check_api_reply(&reply).unwrap_or_else(|e| panic!("{operation}/{name}: {e}"));
            replayed += 1;
        }
    }
    assert!(replayed >= 40);
}

/// A RespondToAuthChallenge request for a live challenge: a PASSWORD_VERIFIER of alice's
/// (USER_SRP_AUTH) or a NEW_PASSWORD_REQUIRED of `user1`, whose temporary password is set
/// anew for it.
fn live_challenge(new_password: bool) -> Value {
    let f = fixture();
    let state = &f.state;
    runtime().block_on(async {
        if new_password {
            let set = signed(
                state,
                "AdminSetUserPassword",
                json!({"UserPoolId": f.pool_id, "Username": "user1", "Password": "Temp0rary!1", "Permanent": false}),
            )
            .await;
            assert_eq!(set.0, StatusCode::OK, "{}", set.2);
            let started = super::public(
                state,
                "InitiateAuth",
                json!({"ClientId": f.password_client, "AuthFlow": "USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": "user1", "PASSWORD": "Temp0rary!1"}}),
            )
            .await;
            assert_eq!(started.2["ChallengeName"], "NEW_PASSWORD_REQUIRED", "{}", started.2);
            json!({"ClientId": f.password_client, "ChallengeName": "NEW_PASSWORD_REQUIRED",
                   "Session": started.2["Session"],
                   "ChallengeResponses": {"USERNAME": "user1", "NEW_PASSWORD": "N3wPassw0rd!",
                                          "userAttributes.email": "user1@example.com"}})
        } else {
            let started = super::public(
                state,
                "InitiateAuth",
                json!({"ClientId": f.srp_client, "AuthFlow": "USER_SRP_AUTH",
                       "AuthParameters": {"USERNAME": "alice", "SRP_A": "2"}}),
            )
            .await;
            assert_eq!(started.2["ChallengeName"], "PASSWORD_VERIFIER", "{}", started.2);
            let parameters = &started.2["ChallengeParameters"];
            json!({"ClientId": f.srp_client, "ChallengeName": "PASSWORD_VERIFIER",
                   "ChallengeResponses": {
                       "USERNAME": parameters["USER_ID_FOR_SRP"],
                       "PASSWORD_CLAIM_SECRET_BLOCK": parameters["SECRET_BLOCK"],
                       "PASSWORD_CLAIM_SIGNATURE": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                       "TIMESTAMP": tessera_core::srp::format_timestamp(state.clock.now())}})
        }
    })
}

proptest! {
    // Each case starts a real challenge (and hashes a password for NEW_PASSWORD_REQUIRED).
    #![proptest_config(config(48))]

    /// Answers to live challenges with a few things wrong: the AWS JSON error, never a 5xx.
    #[test]
    fn challenge_answers_are_answered_in_aws_terms(
        new_password in any::<bool>(),
        edits in prop::collection::vec(body_edit(), 0..4),
        timestamp in prop_oneof![
            3 => Just(None),
            1 => "(Sun|mon|Xyz) (Jan|feb|Sept) [0-9]{1,3} [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2} (UTC|GMT|PST) [0-9]{1,5}".prop_map(Some),
            1 => nasty().prop_map(Some),
        ],
        attribute in prop_oneof![3 => Just(None), 1 => (nasty(), nasty()).prop_map(Some)],
    ) {
        let mut body = live_challenge(new_password);
        if let Some(timestamp) = timestamp {
            body["ChallengeResponses"]["TIMESTAMP"] = json!(timestamp);
        }
        if let Some((name, value)) = attribute {
            body["ChallengeResponses"][format!("userAttributes.{name}")] = json!(value);
        }
        let body = apply_body_edits(body, &edits);
        let reply = send(signed_request("RespondToAuthChallenge", &body.to_string(), false));
        check_api_reply(&reply)?;
    }
}

// ---- OAuth: forms, Basic credentials, the token and revocation endpoints ----

#[test]
fn oauth_form_corpus_replays_with_the_properties() {
    let files = corpus(&corpus_dir("oauth_form"));
    assert!(files.len() >= 8);
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    for (name, body) in files {
        match Form::parse(&headers, &body) {
            Ok(form) => {
                // Every non-empty parameter is there, with its decoded value.
                for (key, value) in form_urlencoded::parse(&body) {
                    if !value.is_empty() {
                        assert_eq!(form.get(&key), Some(value.as_ref()), "{name}");
                    }
                }
            }
            Err(error) => {
                assert!(!name.starts_with("valid-"), "{name} must parse");
                assert_eq!(error.error, "invalid_request", "{name}");
                assert_eq!(error.status, StatusCode::BAD_REQUEST, "{name}");
            }
        }
        for path in ["oauth2/token", "oauth2/revoke"] {
            let reply = send(
                Request::post(format!("/{}/{path}", fixture().pool_id))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(body.clone()))
                    .unwrap(),
            );
            check_oauth_reply(&reply, path == "oauth2/revoke")
                .unwrap_or_else(|e| panic!("{name} {path}: {e}"));
        }
    }
}

fn content_type() -> impl Strategy<Value = Option<Vec<u8>>> {
    prop_oneof![
        6 => Just(Some(b"application/x-www-form-urlencoded".to_vec())),
        1 => Just(Some(b"application/x-www-form-urlencoded;charset=UTF-8".to_vec())),
        1 => Just(Some(b"APPLICATION/X-WWW-FORM-URLENCODED ; charset=latin1".to_vec())),
        1 => Just(Some(b"application/json".to_vec())),
        1 => Just(None),
        1 => header_bytes(40).prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(config(1500))]

    /// Distinct parameters round-trip through a form body; a repeated one is refused with
    /// `invalid_request`; anything else parses or is refused with `invalid_request`.
    #[test]
    fn forms_round_trip(
        pairs in prop::collection::hash_map(any::<String>(), any::<String>(), 0..8),
        repeat in any::<Option<prop::sample::Index>>(),
        raw in prop::collection::vec(any::<u8>(), 0..120),
        content_type in content_type(),
    ) {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/x-www-form-urlencoded"));
        let mut list: Vec<(String, String)> = pairs.clone().into_iter().collect();
        let form = Form::parse(&headers, form_text(&list).as_bytes());
        let form = form.map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        for (name, value) in &pairs {
            let expected = (!value.is_empty()).then_some(value.as_str());
            prop_assert_eq!(form.get(name), expected);
        }
        // A parameter repeated with a value is refused.
        if let Some(index) = repeat {
            let nonempty: Vec<_> = list.iter().filter(|(_, v)| !v.is_empty()).cloned().collect();
            if !nonempty.is_empty() {
                let (name, _) = index.get(&nonempty).clone();
                list.push((name, "again".into()));
                let error = Form::parse(&headers, form_text(&list).as_bytes()).unwrap_err();
                prop_assert_eq!(error.error, "invalid_request");
            }
        }
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type.and_then(|v| HeaderValue::from_bytes(&v).ok()) {
            headers.insert("content-type", value);
        }
        if let Err(error) = Form::parse(&headers, &raw) {
            prop_assert_eq!(error.error, "invalid_request");
            prop_assert_eq!(error.status, StatusCode::BAD_REQUEST);
        }
    }

    /// Any `Authorization` value: a Basic header written as RFC 6749 §2.3.1 says decodes to
    /// its id and secret; anything else is `invalid_client` with a 401 challenge.
    #[test]
    fn basic_credentials_round_trip(
        id in any::<String>(),
        secret in any::<String>(),
        raw in header_bytes(120),
    ) {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_str(&basic_header(&id, &secret)).unwrap());
        let decoded = basic_credentials(&headers).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
        prop_assert_eq!(decoded, Some((id, secret)));
        prop_assert!(basic_credentials(&HeaderMap::new()).is_ok_and(|c| c.is_none()));
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_bytes(&raw).unwrap());
        check_basic(&headers)?;
        let mut prefixed = b"Basic ".to_vec();
        prefixed.extend_from_slice(&raw);
        headers.insert("authorization", HeaderValue::from_bytes(&prefixed).unwrap());
        check_basic(&headers)?;
    }
}

fn check_basic(headers: &HeaderMap) -> Result<(), TestCaseError> {
    match basic_credentials(headers) {
        Ok(credentials) => prop_assert!(credentials.is_some()),
        Err(error) => {
            prop_assert_eq!(error.error, "invalid_client");
            prop_assert_eq!(error.status, StatusCode::UNAUTHORIZED);
            prop_assert!(error.basic_challenge);
        }
    }
    Ok(())
}

#[test]
fn basic_auth_corpus_replays_with_the_properties() {
    let files = corpus(&corpus_dir("basic_auth"));
    assert!(files.len() >= 6);
    for (name, value) in files {
        let Ok(value) =
            HeaderValue::from_bytes(substitute(&String::from_utf8_lossy(&value)).as_bytes())
        else {
            continue;
        };
        let mut headers = HeaderMap::new();
        headers.insert("authorization", value.clone());
        check_basic(&headers).unwrap_or_else(|e| panic!("{name}: {e}"));
        if name.starts_with("valid-") {
            assert!(
                matches!(basic_credentials(&headers), Ok(Some(_))),
                "{name} must decode"
            );
        }
        let reply = send(
            Request::post(format!("/{}/oauth2/token", fixture().pool_id))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", value)
                .body(Body::from("grant_type=client_credentials"))
                .unwrap(),
        );
        check_oauth_reply(&reply, false).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// RFC 6749 §5.2's error codes; RFC 7009 §2.2.1 adds `unsupported_token_type` for revocation.
const TOKEN_ERRORS: &[&str] = &[
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
];

/// Every answer of the token (or revocation) endpoint: never a 5xx; a refusal is RFC 6749's
/// JSON error, a 401 with a Basic challenge exactly for `invalid_client` after Basic.
fn check_oauth_reply(reply: &Reply, revocation: bool) -> Result<(), TestCaseError> {
    prop_assert!(
        matches!(reply.status.as_u16(), 200 | 400 | 401),
        "unexpected status: {:?}",
        reply
    );
    prop_assert_eq!(
        reply.header("cache-control"),
        Some("no-store"),
        "{:?}",
        reply
    );
    if reply.status == StatusCode::OK {
        if !revocation {
            let body = reply.json().unwrap_or_default();
            prop_assert!(body["access_token"].is_string(), "{:?}", reply);
        }
        return Ok(());
    }
    prop_assert_eq!(
        reply.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    let body = reply.json().unwrap_or_default();
    let error = body["error"].as_str().unwrap_or("");
    prop_assert!(
        TOKEN_ERRORS.contains(&error) || (revocation && error == "unsupported_token_type"),
        "{:?}",
        reply
    );
    prop_assert!(body["error_description"].is_string(), "{:?}", reply);
    let challenged = reply.header("www-authenticate").is_some();
    prop_assert_eq!(
        reply.status == StatusCode::UNAUTHORIZED,
        challenged,
        "{:?}",
        reply
    );
    if challenged {
        prop_assert_eq!(error, "invalid_client");
    }
    Ok(())
}

/// A token-endpoint parameter: the ones the endpoints read, and some they do not.
fn oauth_parameter() -> impl Strategy<Value = (String, String)> {
    (
        prop::sample::select(vec![
            "grant_type",
            "client_id",
            "client_secret",
            "code",
            "redirect_uri",
            "code_verifier",
            "refresh_token",
            "scope",
            "token",
            "token_type_hint",
            "",
            "x",
        ]),
        nasty(),
    )
        .prop_map(|(name, value)| (name.to_owned(), value))
}

/// Adds parameters; one already present replaces its value unless `repeat` is set, so that
/// repeated parameters (refused outright) stay a small share of the cases.
fn extend_parameters(all: &mut Vec<(String, String)>, pairs: Vec<(String, String)>, repeat: bool) {
    for (name, value) in pairs {
        match all.iter_mut().find(|(n, _)| *n == name) {
            Some(existing) if !repeat => existing.1 = value,
            _ => all.push((name, value)),
        }
    }
}

#[derive(Debug, Clone)]
enum ClientAuthorization {
    None,
    Basic,
    BasicOf(String, String),
    Raw(Vec<u8>),
}

fn client_authorization() -> impl Strategy<Value = ClientAuthorization> {
    prop_oneof![
        3 => Just(ClientAuthorization::None),
        2 => Just(ClientAuthorization::Basic),
        1 => (nasty(), nasty()).prop_map(|(id, secret)| ClientAuthorization::BasicOf(id, secret)),
        1 => header_bytes(80).prop_map(ClientAuthorization::Raw),
        1 => header_bytes(80).prop_map(|b| ClientAuthorization::Raw([b"Basic ".as_slice(), &b].concat())),
    ]
}

fn oauth_request(
    path: &str,
    pairs: &[(String, String)],
    raw: Option<&[u8]>,
    content_type: Option<Vec<u8>>,
    authorization: &ClientAuthorization,
) -> Request<Body> {
    let f = fixture();
    let mut request = Request::post(format!("/{}/{path}", f.pool_id))
        .body(Body::from(match raw {
            Some(raw) => raw.to_vec(),
            None => form_text(pairs).into_bytes(),
        }))
        .unwrap();
    let headers = request.headers_mut();
    if let Some(value) = content_type.and_then(|v| HeaderValue::from_bytes(&v).ok()) {
        headers.insert("content-type", value);
    }
    let value = match authorization {
        ClientAuthorization::None => None,
        ClientAuthorization::Basic => HeaderValue::from_str(&f.basic()).ok(),
        ClientAuthorization::BasicOf(id, secret) => {
            HeaderValue::from_str(&basic_header(id, secret)).ok()
        }
        ClientAuthorization::Raw(bytes) => HeaderValue::from_bytes(bytes).ok(),
    };
    if let Some(value) = value {
        headers.insert("authorization", value);
    }
    request
}

proptest! {
    #![proptest_config(config(300))]

    /// Near-valid and arbitrary token requests: an RFC 6749 answer, never a 5xx.
    #[test]
    fn token_requests_are_answered_in_rfc_6749_terms(
        grant in prop_oneof![
            prop::sample::select(vec!["authorization_code", "refresh_token", "client_credentials", "password"]).prop_map(String::from),
            nasty(),
        ],
        pairs in prop::collection::vec(oauth_parameter(), 0..6),
        repeat in prop::bool::weighted(0.1),
        with_client in any::<bool>(),
        raw in prop_oneof![4 => Just(None), 1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Some)],
        content_type in content_type(),
        authorization in client_authorization(),
    ) {
        let f = fixture();
        let mut all = vec![("grant_type".to_owned(), grant)];
        if with_client {
            all.push(("client_id".into(), f.web.clone()));
            all.push(("client_secret".into(), f.web_secret.clone()));
        }
        extend_parameters(&mut all, pairs, repeat);
        let reply = send(oauth_request("oauth2/token", &all, raw.as_deref(), content_type, &authorization));
        check_oauth_reply(&reply, false)?;
    }

    /// Near-valid and arbitrary revocation requests: an RFC 6749/7009 answer, never a 5xx.
    #[test]
    fn revocation_requests_are_answered_in_rfc_7009_terms(
        token in nasty(),
        pairs in prop::collection::vec(oauth_parameter(), 0..5),
        repeat in prop::bool::weighted(0.1),
        client in prop::sample::select(vec![0usize, 1, 2]),
        raw in prop_oneof![4 => Just(None), 1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Some)],
        content_type in content_type(),
        authorization in client_authorization(),
    ) {
        let f = fixture();
        let mut all = vec![("token".to_owned(), token)];
        match client {
            0 => all.push(("client_id".into(), f.spa.clone())),
            1 => {
                all.push(("client_id".into(), f.web.clone()));
                all.push(("client_secret".into(), f.web_secret.clone()));
            }
            _ => {}
        }
        extend_parameters(&mut all, pairs, repeat);
        let reply = send(oauth_request("oauth2/revoke", &all, raw.as_deref(), content_type, &authorization));
        check_oauth_reply(&reply, true)?;
    }

    /// Any `Authorization` header at userInfo: RFC 6750's challenge, never a 5xx.
    #[test]
    fn userinfo_answers_with_bearer_challenges(
        value in prop_oneof![
            header_bytes(120),
            nasty().prop_map(|t| format!("Bearer {t}").into_bytes()),
            Just(Vec::new()),
        ],
        post in any::<bool>(),
    ) {
        let f = fixture();
        let builder = if post { Request::post(format!("/{}/oauth2/userInfo", f.pool_id)) } else { Request::get(format!("/{}/oauth2/userInfo", f.pool_id)) };
        let mut request = builder.body(Body::empty()).unwrap();
        if let Ok(value) = HeaderValue::from_bytes(&value) {
            request.headers_mut().insert("authorization", value);
        }
        let reply = send(request);
        prop_assert!(matches!(reply.status.as_u16(), 200 | 400 | 401 | 403), "{:?}", reply);
        if reply.status != StatusCode::OK {
            let challenge = reply.header("www-authenticate").unwrap_or("");
            prop_assert!(
                ["invalid_request", "invalid_token", "insufficient_scope"]
                    .iter()
                    .any(|code| challenge.starts_with(&format!("Bearer error=\"{code}\""))),
                "{:?}", reply
            );
        }
    }
}

// ---- the authorization query, cookies, the challenge handle and callback origins ----

const AUTHORIZE_PARAMETERS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "identity_provider",
    "idp_identifier",
    "prompt",
    "max_age",
    "lang",
    "login_hint",
];

proptest! {
    #![proptest_config(config(1500))]

    /// The authorization request's parameters survive the pages' re-encoding exactly, and a
    /// repeated parameter is noticed.
    #[test]
    fn authorization_queries_round_trip(
        pairs in prop::collection::vec(
            (prop_oneof![prop::sample::select(AUTHORIZE_PARAMETERS).prop_map(String::from), any::<String>()], any::<String>()),
            0..12,
        ),
        raw in any::<String>(),
    ) {
        let text = form_text(&pairs);
        let query = Query::parse(Some(&text));
        let nonempty: Vec<&(String, String)> = pairs.iter().filter(|(_, v)| !v.is_empty()).collect();
        for name in AUTHORIZE_PARAMETERS {
            let first = nonempty.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
            prop_assert_eq!(query.get(name), first);
        }
        let mut names = std::collections::HashSet::new();
        let repeated = nonempty.iter().any(|(k, _)| !names.insert(k.as_str()));
        prop_assert_eq!(query.repeated().is_some(), repeated);
        let again = Query::parse(Some(&query.authorize_query()));
        for name in AUTHORIZE_PARAMETERS {
            prop_assert_eq!(again.get(name), query.get(name));
        }
        let odd = Query::parse(Some(&raw));
        let _ = (odd.repeated(), odd.authorize_query());
    }

    /// Cookies a browser sends come back by name; any header value is read without panic,
    /// and a value never runs past its `;`.
    #[test]
    fn cookies_round_trip(
        pairs in prop::collection::hash_map("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}", "[!#-+\\--:<-\\[\\]-~]{0,43}", 0..6),
        raw in prop::collection::vec(header_bytes(100), 0..3),
        name in "[a-z-]{1,12}",
    ) {
        let line = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let mut headers = HeaderMap::new();
        headers.insert("cookie", HeaderValue::from_str(&line).unwrap());
        for (k, v) in &pairs {
            prop_assert_eq!(cookie(&headers, k), Some(v.clone()));
        }
        for value in &raw {
            headers.append("cookie", HeaderValue::from_bytes(value).unwrap());
        }
        if let Some(value) = cookie(&headers, &name) {
            prop_assert!(!value.contains(';'));
        }
    }

    /// The new-password form's handle round-trips what the page writes, and any text decodes
    /// to a handle or to nothing.
    #[test]
    fn challenge_handles_round_trip(
        session in "[A-Za-z0-9_=+/-]{0,200}",
        username in any::<String>(),
        required in prop::collection::vec("[^\n]{1,30}", 0..5),
        raw in any::<String>(),
    ) {
        let handle = ChallengeHandle { session: session.clone(), username: username.clone(), required: required.clone() };
        let decoded = ChallengeHandle::decode(&handle.encode());
        let decoded = decoded.ok_or_else(|| TestCaseError::fail("own handle refused"))?;
        prop_assert_eq!(decoded.session, session);
        prop_assert_eq!(decoded.username, username);
        prop_assert_eq!(decoded.required, required);
        let _ = ChallengeHandle::decode(&raw);
    }

    /// A callback's origin goes into the pages' Content-Security-Policy header: whatever the
    /// URL, it holds nothing that could end the directive or the header.
    #[test]
    fn callback_origins_are_header_safe(uri in prop_oneof![any::<String>(), "[a-z+.-]{1,8}://[ -~]{0,40}", "[a-z]{1,8}:[ -~]{0,20}"]) {
        if let Some(origin) = origin_of(&uri) {
            prop_assert!(
                origin.chars().all(|c| c.is_ascii_alphanumeric() || "+-.:/[]".contains(c)),
                "{origin:?}"
            );
            prop_assert!(HeaderValue::from_str(&origin).is_ok());
        }
    }
}

#[test]
fn cookie_corpus_replays_with_the_properties() {
    let files = corpus(&corpus_dir("cookie"));
    assert!(files.len() >= 6);
    let f = fixture();
    for (name, value) in files {
        let Ok(value) =
            HeaderValue::from_bytes(substitute(&String::from_utf8_lossy(&value)).as_bytes())
        else {
            continue;
        };
        let mut headers = HeaderMap::new();
        headers.insert("cookie", value.clone());
        let csrf = cookie(&headers, "tessera-csrf");
        if name.starts_with("valid-") {
            assert_eq!(csrf.as_deref(), Some(CSRF_COOKIE), "{name}");
        }
        // Through the pages: the sign-in page and a form post carrying the fixture's token.
        let reply = send(
            Request::get(format!("/{}/login?{}", f.pool_id, f.authorize_query()))
                .header("cookie", value.clone())
                .body(Body::empty())
                .unwrap(),
        );
        check_page_reply(&reply).unwrap_or_else(|e| panic!("{name}: {e}"));
        let reply = send(
            Request::post(format!(
                "/{}/forgotPassword?{}",
                f.pool_id,
                f.authorize_query()
            ))
            .header("cookie", value)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("_csrf={}&username=nobody", f.csrf)))
            .unwrap(),
        );
        check_page_reply(&reply).unwrap_or_else(|e| panic!("{name}: {e}"));
        if name.starts_with("valid-") {
            assert_eq!(reply.status, StatusCode::SEE_OTHER, "{name}: {reply:?}");
        }
    }
}

// ---- the authorization endpoint and the hosted pages ----

/// RFC 6749 §4.1.2.1's codes and OpenID Connect's `login_required`, less `server_error`:
/// nothing here should fail inside tessera.
const AUTHORIZE_ERRORS: &[&str] = &[
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "login_required",
];

/// Every answer of the pages: never a 5xx; a page is HTML with the pages' headers; a redirect
/// stays on the pool's pages or goes to a registered URL, with a valid error code if any.
fn check_page_reply(reply: &Reply) -> Result<(), TestCaseError> {
    let f = fixture();
    prop_assert!(
        matches!(reply.status.as_u16(), 200 | 302 | 303 | 400 | 403),
        "unexpected status: {:?}",
        reply
    );
    if reply.status.is_redirection() {
        let location = reply.header("location").unwrap_or("");
        // The pool's pages: `/<pool>/<page>`, or `/<page>` on the pool's domain.
        let local = location.starts_with(&format!("/{}/", f.pool_id))
            || PAGES.iter().any(|page| {
                location
                    .strip_prefix('/')
                    .and_then(|rest| rest.strip_prefix(page))
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('?'))
            });
        let to_callback = location.starts_with(&format!("{CALLBACK}?"));
        let to_logout = location == LOGOUT || location.starts_with(&format!("{LOGOUT}?"));
        prop_assert!(
            local || to_callback || to_logout,
            "a redirect elsewhere: {:?}",
            reply
        );
        if to_callback {
            let query = location.split_once('?').map(|(_, q)| q).unwrap_or("");
            let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            prop_assert!(params.contains_key("iss"), "{:?}", reply);
            match params.get("error") {
                Some(error) => {
                    prop_assert!(AUTHORIZE_ERRORS.contains(&error.as_str()), "{:?}", reply)
                }
                None => prop_assert!(params.contains_key("code"), "{:?}", reply),
            }
        }
    } else {
        prop_assert_eq!(
            reply.header("content-type"),
            Some("text/html; charset=utf-8"),
            "{:?}",
            reply
        );
        prop_assert_eq!(reply.header("x-frame-options"), Some("DENY"));
        prop_assert!(
            !reply.text().contains("<x-inj"),
            "markup echoed unescaped: {:?}",
            reply
        );
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum QueryEdit {
    Remove(usize),
    Set(usize, String),
    Add(String, String),
    Duplicate(usize),
}

fn query_edit() -> impl Strategy<Value = QueryEdit> {
    let name = prop_oneof![
        prop::sample::select(AUTHORIZE_PARAMETERS).prop_map(String::from),
        prop::sample::select(vec![
            "username",
            "notice",
            "logout_uri",
            "post_logout_redirect_uri"
        ])
        .prop_map(String::from),
        any::<String>(),
    ];
    prop_oneof![
        any::<usize>().prop_map(QueryEdit::Remove),
        (any::<usize>(), nasty()).prop_map(|(i, v)| QueryEdit::Set(i, v)),
        (name, nasty()).prop_map(|(k, v)| QueryEdit::Add(k, v)),
        any::<usize>().prop_map(QueryEdit::Duplicate),
    ]
}

/// The fixture's valid authorization request with edits, form-encoded, sometimes followed by
/// raw text.
fn page_query() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec(query_edit(), 0..4),
        prop_oneof![4 => Just(String::new()), 1 => any::<String>(), 1 => "[%&=+a-z0-9]{0,20}"],
    )
        .prop_map(|(public, edits, raw)| {
            let f = fixture();
            let mut pairs: Vec<(String, String)> = vec![
                ("response_type".into(), "code".into()),
                (
                    "client_id".into(),
                    if public { f.spa.clone() } else { f.web.clone() },
                ),
                ("redirect_uri".into(), CALLBACK.into()),
                ("state".into(), "xyz".into()),
            ];
            if public {
                pairs.push((
                    "code_challenge".into(),
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
                ));
                pairs.push(("code_challenge_method".into(), "S256".into()));
            }
            for edit in edits {
                let len = pairs.len();
                match edit {
                    QueryEdit::Remove(i) if len > 0 => {
                        pairs.remove(i % len);
                    }
                    QueryEdit::Set(i, v) if len > 0 => pairs[i % len].1 = v,
                    QueryEdit::Add(k, v) => pairs.push((k, v)),
                    QueryEdit::Duplicate(i) if len > 0 => pairs.push(pairs[i % len].clone()),
                    _ => {}
                }
            }
            let mut query = form_text(&pairs);
            if !raw.is_empty() {
                query.push('&');
                query.push_str(&raw);
            }
            query
        })
}

fn page_cookies() -> impl Strategy<Value = Option<Vec<u8>>> {
    let f = fixture();
    let session = format!("tessera-sso-{}", f.pool_id);
    prop_oneof![
        2 => Just(None),
        1 => Just(Some(f.session_cookie.clone().into_bytes())),
        3 => Just(Some(format!("tessera-csrf={CSRF_COOKIE}").into_bytes())),
        1 => (nasty(), visible_ascii(60)).prop_map(move |(a, b)| {
            Some(format!("tessera-csrf={CSRF_COOKIE}; {session}={b}; x={a}").into_bytes())
        }),
        1 => header_bytes(120).prop_map(Some),
    ]
}

#[derive(Debug, Clone)]
struct PageForm {
    pairs: Vec<(String, String)>,
    raw: Option<Vec<u8>>,
    with_csrf: bool,
}

fn page_form() -> impl Strategy<Value = PageForm> {
    let field = (
        prop::sample::select(vec![
            "username",
            "password",
            "password_confirm",
            "code",
            "session",
            "email",
            "_csrf",
            "",
        ]),
        nasty(),
    )
        .prop_map(|(k, v)| (k.to_owned(), v));
    (
        prop::collection::vec(field, 0..5),
        prop_oneof![5 => Just(None), 1 => prop::collection::vec(any::<u8>(), 0..150).prop_map(Some)],
        prop::bool::weighted(0.7),
    )
        .prop_map(|(pairs, raw, with_csrf)| PageForm {
            pairs,
            raw,
            with_csrf,
        })
}

const PAGES: &[&str] = &[
    "oauth2/authorize",
    "login",
    "signup",
    "confirm",
    "resendcode",
    "forgotPassword",
    "confirmForgotPassword",
    "newPassword",
    "mfa",
    "logout",
    "error",
];

#[derive(Debug, Clone)]
struct PageHeaders {
    origin: Option<String>,
    fetch_site: Option<&'static str>,
    host: Option<String>,
}

fn page_headers() -> impl Strategy<Value = PageHeaders> {
    (
        prop_oneof![3 => Just(None), 1 => Just(Some("http://tessera.test".to_owned())), 1 => visible_ascii(40).prop_map(Some)],
        prop_oneof![3 => Just(None), 1 => Just(Some("same-origin")), 1 => Just(Some("cross-site"))],
        prop_oneof![
            4 => Just(None),
            1 => Just(Some("tessera.test".to_owned())),
            1 => Just(Some("nope.auth.localhost".to_owned())),
            2 => Just(Some(DOMAIN_HOST.to_owned())),
            1 => visible_ascii(40).prop_map(Some),
        ],
    )
        .prop_map(|(origin, fetch_site, host)| PageHeaders {
            origin,
            fetch_site,
            host,
        })
}

fn page_request(
    page: &str,
    post: bool,
    query: &str,
    cookies: Option<&[u8]>,
    form: &PageForm,
    content_type: Option<Vec<u8>>,
    extra: &PageHeaders,
) -> Option<Request<Body>> {
    let f = fixture();
    let path = if extra.host.as_deref() == Some(DOMAIN_HOST) {
        format!("/{page}")
    } else {
        format!("/{}/{page}", f.pool_id)
    };
    let uri = with_query(&path, query);
    let body = if post {
        match &form.raw {
            Some(raw) => raw.clone(),
            None => {
                let mut pairs = form.pairs.clone();
                if form.with_csrf {
                    pairs.insert(0, ("_csrf".into(), f.csrf.clone()));
                }
                form_text(&pairs).into_bytes()
            }
        }
    } else {
        Vec::new()
    };
    let builder = if post {
        Request::post(uri)
    } else {
        Request::get(uri)
    };
    let mut request = builder.body(Body::from(body)).ok()?;
    let headers = request.headers_mut();
    if let Some(value) = cookies.and_then(|c| HeaderValue::from_bytes(c).ok()) {
        headers.insert("cookie", value);
    }
    if post {
        if let Some(value) = content_type.and_then(|v| HeaderValue::from_bytes(&v).ok()) {
            headers.insert("content-type", value);
        }
    }
    if let Some(value) = extra
        .origin
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert("origin", value);
    }
    if let Some(site) = extra.fetch_site {
        headers.insert("sec-fetch-site", HeaderValue::from_static(site));
    }
    if let Some(value) = extra
        .host
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert("host", value);
    }
    Some(request)
}

proptest! {
    #![proptest_config(config(400))]

    /// Near-valid and arbitrary page requests (queries, cookies, forms, origins, hosts):
    /// an HTML page or a safe redirect, never a 5xx.
    #[test]
    fn pages_answer_with_html_or_safe_redirects(
        page in prop::sample::select(PAGES),
        post in any::<bool>(),
        query in page_query(),
        cookies in page_cookies(),
        form in page_form(),
        content_type in content_type(),
        extra in page_headers(),
    ) {
        let Some(request) = page_request(page, post, &query, cookies.as_deref(), &form, content_type, &extra) else {
            return Ok(());
        };
        let reply = send(request);
        if matches!(reply.status.as_u16(), 404 | 405) {
            // The page has no such method (GET /resendcode, POST /logout, …).
            return Ok(());
        }
        check_page_reply(&reply)?;
    }
}

/// The new-password page of a hosted sign-in with `user2`'s temporary password: the
/// challenge handle its form carries.
fn new_password_handle() -> String {
    let f = fixture();
    runtime().block_on(async {
        let set = signed(
            &f.state,
            "AdminSetUserPassword",
            json!({"UserPoolId": f.pool_id, "Username": "user2", "Password": "Temp0rary!1", "Permanent": false}),
        )
        .await;
        assert_eq!(set.0, StatusCode::OK, "{}", set.2);
    });
    let reply = send(
        Request::post(format!("/{}/login?{}", f.pool_id, f.authorize_query()))
            .header("cookie", format!("tessera-csrf={CSRF_COOKIE}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "_csrf={}&username=user2&password=Temp0rary%211",
                f.csrf
            )))
            .unwrap(),
    );
    reply
        .text()
        .split("name=\"session\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("a new-password page: {reply:?}"))
        .to_owned()
}

#[derive(Debug, Clone)]
enum HandleEdit {
    Keep,
    /// Replaces one of the handle's three dot-separated parts.
    Part(usize, String),
    /// Names other attributes in the handle.
    Required(Vec<String>),
    Raw(String),
}

fn handle_edit() -> impl Strategy<Value = HandleEdit> {
    prop_oneof![
        3 => Just(HandleEdit::Keep),
        1 => (0usize..3, nasty()).prop_map(|(i, v)| HandleEdit::Part(i, v)),
        1 => prop::collection::vec(prop_oneof![nasty(), Just("email".to_owned()), Just("sub".to_owned()), Just("custom:x".to_owned())], 0..4)
            .prop_map(HandleEdit::Required),
        1 => nasty().prop_map(HandleEdit::Raw),
    ]
}

proptest! {
    // Each case signs a user in with a temporary password first.
    #![proptest_config(config(40))]

    /// The new-password form of a real hosted sign-in, with its handle, passwords and
    /// attribute fields changed: a page or a safe redirect, never a 5xx.
    #[test]
    fn new_password_form_takes_any_answer(
        edit in handle_edit(),
        password in prop_oneof![Just("N3wPassw0rd!".to_owned()), nasty()],
        confirm_same in prop::bool::weighted(0.8),
        fields in prop::collection::vec((prop_oneof![Just("email".to_owned()), nasty()], nasty()), 0..3),
    ) {
        let handle = new_password_handle();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let session = match edit {
            HandleEdit::Keep => handle,
            HandleEdit::Part(index, value) => {
                let mut parts: Vec<String> = handle.split('.').map(String::from).collect();
                if let Some(part) = parts.get_mut(index) {
                    *part = value;
                }
                parts.join(".")
            }
            HandleEdit::Required(names) => {
                let parts: Vec<&str> = handle.split('.').collect();
                format!("{}.{}.{}", parts[0], parts.get(1).unwrap_or(&""), b64.encode(names.join("\n")))
            }
            HandleEdit::Raw(raw) => raw,
        };
        let f = fixture();
        let mut pairs = vec![
            ("_csrf".to_owned(), f.csrf.clone()),
            ("session".to_owned(), session),
            ("password".to_owned(), password.clone()),
            ("password_confirm".to_owned(), if confirm_same { password } else { "other".into() }),
        ];
        pairs.extend(fields);
        let reply = send(
            Request::post(format!("/{}/newPassword?{}", f.pool_id, f.authorize_query()))
                .header("cookie", format!("tessera-csrf={CSRF_COOKIE}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from(form_text(&pairs)))
                .unwrap(),
        );
        check_page_reply(&reply)?;
    }
}

/// A fresh authorization code of the signed-in browser for the web client, or for the
/// public client with the PKCE challenge of [`VERIFIER`].
fn fresh_code(public: bool) -> String {
    let f = fixture();
    let mut pairs = vec![
        ("response_type", "code"),
        (
            "client_id",
            if public {
                f.spa.as_str()
            } else {
                f.web.as_str()
            },
        ),
        ("redirect_uri", CALLBACK),
        ("scope", "openid"),
    ];
    let challenge = pkce_challenge(VERIFIER);
    if public {
        pairs.push(("code_challenge", &challenge));
        pairs.push(("code_challenge_method", "S256"));
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    let reply = send(
        Request::get(format!(
            "/{}/oauth2/authorize?{}",
            f.pool_id,
            query.finish()
        ))
        .header("cookie", &f.code_cookie)
        .body(Body::empty())
        .unwrap(),
    );
    let location = reply.header("location").unwrap_or("");
    form_urlencoded::parse(location.split_once('?').map_or("", |(_, q)| q).as_bytes())
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("a code: {reply:?}"))
}

const VERIFIER: &str = "dBjftJeZ4CVP-mJ0kZ8bX9q3Yp2Lw7cR5sT6uV8wXyZaBcDeF";

fn pkce_challenge(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

proptest! {
    #![proptest_config(config(120))]

    /// A real code redeemed with its parameters changed (client, redirect URI, verifier,
    /// extra parameters), then, when that worked, the refresh token it gave used with
    /// changed parameters: always an RFC 6749 answer, never a 5xx.
    #[test]
    fn code_redemptions_are_answered_in_rfc_6749_terms(
        public in any::<bool>(),
        pairs in prop::collection::vec(oauth_parameter(), 0..3),
        verifier in prop_oneof![3 => Just(VERIFIER.to_owned()), 1 => nasty(), 1 => "[A-Za-z0-9._~-]{43,128}"],
        refresh_pairs in prop::collection::vec(oauth_parameter(), 0..3),
        scope in prop_oneof![Just(None), nasty().prop_map(Some), Just(Some("openid".to_owned()))],
    ) {
        let f = fixture();
        let code = fresh_code(public);
        let mut all = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code),
            ("redirect_uri".to_owned(), CALLBACK.to_owned()),
        ];
        let authorization = if public {
            all.push(("client_id".into(), f.spa.clone()));
            all.push(("code_verifier".into(), verifier));
            ClientAuthorization::None
        } else {
            ClientAuthorization::Basic
        };
        extend_parameters(&mut all, pairs, false);
        let reply = send(oauth_request("oauth2/token", &all, None, Some(b"application/x-www-form-urlencoded".to_vec()), &authorization));
        check_oauth_reply(&reply, false)?;
        let Some(refresh_token) = reply.json().and_then(|b| b["refresh_token"].as_str().map(String::from)) else {
            return Ok(());
        };
        let mut all = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), refresh_token),
        ];
        if public {
            all.push(("client_id".into(), f.spa.clone()));
        }
        if let Some(scope) = scope {
            all.push(("scope".into(), scope));
        }
        extend_parameters(&mut all, refresh_pairs, false);
        let reply = send(oauth_request("oauth2/token", &all, None, Some(b"application/x-www-form-urlencoded".to_vec()), &authorization));
        check_oauth_reply(&reply, false)?;
    }
}

// ---- whole requests from the corpus ----

/// One request of `tests/corpus/requests`: a request line, headers, a blank line, the body.
fn parse_http(text: &str) -> Request<Body> {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let (method, target) = lines
        .next()
        .and_then(|line| line.split_once(' '))
        .expect("a request line");
    let mut request = Request::builder()
        .method(method)
        .uri(target)
        .body(Body::from(body.to_owned()))
        .expect("a valid request line");
    for line in lines {
        let (name, value) = line.split_once(':').expect("a header line");
        request.headers_mut().append(
            axum::http::HeaderName::from_bytes(name.trim().as_bytes()).expect("a header name"),
            HeaderValue::from_str(value.trim()).expect("a header value"),
        );
    }
    request
}

#[test]
fn request_corpus_replays_with_the_properties() {
    let files = corpus(&corpus_dir("requests"));
    assert!(files.len() >= 20);
    for (name, bytes) in files {
        let text = substitute(&String::from_utf8(bytes).expect("request files are text"));
        let request = parse_http(&text);
        let path = request.uri().path().to_owned();
        let reply = send(request);
        let result = if path == "/" {
            check_api_reply(&reply)
        } else if path.ends_with("/oauth2/token") {
            check_oauth_reply(&reply, false)
        } else if path.ends_with("/oauth2/revoke") {
            check_oauth_reply(&reply, true)
        } else if path.ends_with("/oauth2/userInfo") {
            if reply.status.is_server_error() {
                Err(TestCaseError::fail(format!("{reply:?}")))
            } else {
                Ok(())
            }
        } else {
            check_page_reply(&reply)
        };
        result.unwrap_or_else(|e| panic!("{name}: {e}"));
        if name.starts_with("valid-") {
            assert!(
                reply.status == StatusCode::OK || reply.status.is_redirection(),
                "{name} must succeed: {reply:?}"
            );
        }
    }
}
