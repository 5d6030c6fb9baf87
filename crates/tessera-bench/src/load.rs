//! The scenarios and the closed-loop load generator: a fixed number of keep-alive connections,
//! each sending its next request as soon as the previous answer is in, for a warm-up and then
//! a measured window. Only requests that complete inside the window count. The loop runs any
//! [`Operation`]; the scenarios of issues 4 and 6 are one, the directory benchmark brings its
//! own.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_lc_rs::signature::{RsaPublicKeyComponents, RSA_PKCS1_2048_8192_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::api::{
    error_kind, password_auth_body, string_at, BenchUser, Endpoint, Fixture, PASSWORD,
};
use crate::http::Conn;
use crate::server::{cpu_ticks, machine_busy_ticks, processes_cpu_ticks, status_kib};
use crate::srp::{claim_signature, Ephemeral, UserKey};
use crate::util::{Context, Result};

/// How long past the end of the window a request may still run before it is abandoned.
const GRACE: Duration = Duration::from_secs(5);
/// How often the server's RSS is sampled.
const RSS_INTERVAL: Duration = Duration::from_millis(100);
/// Latencies are recorded in microseconds, up to a minute, to three significant digits.
const MAX_LATENCY_US: u64 = 60_000_000;
/// `client_credentials` decodes and checks the claims of the run's first access token and of
/// one in this many after it (every answer is checked for a Bearer access token).
pub const CLAIMS_SAMPLE: u64 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    Jwks,
    SignUp,
    UserPasswordAuth,
    UserSrpAuth,
    RefreshTokenAuth,
    GetUser,
    ClientCredentials,
    TotpMfaSignIn,
    UserAuthEmailOtp,
    IdentityCredentials,
    IdentityGuestCredentials,
}

impl Scenario {
    pub const ALL: [Scenario; 11] = [
        Scenario::Jwks,
        Scenario::SignUp,
        Scenario::UserPasswordAuth,
        Scenario::UserSrpAuth,
        Scenario::RefreshTokenAuth,
        Scenario::GetUser,
        Scenario::ClientCredentials,
        Scenario::TotpMfaSignIn,
        Scenario::UserAuthEmailOtp,
        Scenario::IdentityCredentials,
        Scenario::IdentityGuestCredentials,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Jwks => "jwks",
            Scenario::SignUp => "sign_up",
            Scenario::UserPasswordAuth => "user_password_auth",
            Scenario::UserSrpAuth => "user_srp_auth",
            Scenario::RefreshTokenAuth => "refresh_token_auth",
            Scenario::GetUser => "get_user",
            Scenario::ClientCredentials => "client_credentials",
            Scenario::TotpMfaSignIn => "totp_mfa_sign_in",
            Scenario::UserAuthEmailOtp => "user_auth_email_otp",
            Scenario::IdentityCredentials => "identity_credentials",
            Scenario::IdentityGuestCredentials => "identity_guest_credentials",
        }
    }

    /// What one measured operation is, for the report.
    pub fn describe(self) -> &'static str {
        match self {
            Scenario::Jwks => "GET /<pool>/.well-known/jwks.json",
            Scenario::SignUp => "SignUp, a new username each time",
            Scenario::UserPasswordAuth => "InitiateAuth USER_PASSWORD_AUTH",
            Scenario::UserSrpAuth => {
                "InitiateAuth USER_SRP_AUTH + RespondToAuthChallenge PASSWORD_VERIFIER (one op = both requests)"
            }
            Scenario::RefreshTokenAuth => "InitiateAuth REFRESH_TOKEN_AUTH",
            Scenario::GetUser => "GetUser with an access token",
            Scenario::ClientCredentials => {
                "POST /<pool>/oauth2/token grant_type=client_credentials with two custom scopes (client_secret_basic): one RS256 access token"
            }
            Scenario::TotpMfaSignIn => {
                "InitiateAuth USER_PASSWORD_AUTH (answered with a SOFTWARE_TOKEN_MFA challenge) + RespondToAuthChallenge SOFTWARE_TOKEN_MFA with the TOTP code (one op = both requests)"
            }
            Scenario::UserAuthEmailOtp => {
                "InitiateAuth USER_AUTH with PREFERRED_CHALLENGE EMAIL_OTP (tessera mails an eight-digit code over SMTP) + RespondToAuthChallenge EMAIL_OTP with the code the SMTP sink received (one op = both requests)"
            }
            Scenario::IdentityCredentials => {
                "Cognito Identity GetId with Logins {cognito-idp.<region>.amazonaws.com/<pool>: a user's ID token} + GetCredentialsForIdentity with the same Logins and the IdentityId returned: built-in STS credentials (one op = both requests)"
            }
            Scenario::IdentityGuestCredentials => {
                "Cognito Identity GetId without Logins (a new guest identity each time) + GetCredentialsForIdentity for it: built-in STS credentials of the unauthenticated role (one op = both requests)"
            }
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
        let wanted = text.trim().to_ascii_lowercase().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|scenario| scenario.name() == wanted)
            .ok_or_else(|| {
                format!(
                    "unknown scenario {text:?}; the scenarios are {}",
                    Self::ALL.map(Scenario::name).join(", ")
                )
            })
    }

    /// Whether the scenario signs in with the fixture's users, or (`identity_credentials`)
    /// presents their ID tokens (the scenarios of issue 13 have pools and users of their own,
    /// see `mfa.rs`; guests need no user).
    pub fn needs_users(self) -> bool {
        !matches!(
            self,
            Scenario::Jwks
                | Scenario::SignUp
                | Scenario::ClientCredentials
                | Scenario::TotpMfaSignIn
                | Scenario::UserAuthEmailOtp
                | Scenario::IdentityGuestCredentials
        )
    }

    /// Whether the scenario sets up a pool of its own just before it runs: a user pool for
    /// the sign-ins of issue 13 (`mfa.rs`), an identity pool for those of issue 14
    /// (`identity.rs`).
    pub fn has_own_fixture(self) -> bool {
        matches!(
            self,
            Scenario::TotpMfaSignIn
                | Scenario::UserAuthEmailOtp
                | Scenario::IdentityCredentials
                | Scenario::IdentityGuestCredentials
        )
    }

    /// Whether the scenario needs the machine client (a resource server and a confidential
    /// client allowed the client_credentials grant).
    pub fn needs_machine_client(self) -> bool {
        self == Scenario::ClientCredentials
    }
}

/// Concurrency and timing of every scenario.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// One scenario's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Measured {
    pub ok: u64,
    pub errors: u64,
    pub error_kinds: BTreeMap<String, u64>,
    pub seconds: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// The largest server VmRSS sampled during the window.
    pub server_peak_rss_kib: Option<u64>,
    /// Cores' worth of CPU used by the server and by the bench during the window.
    pub server_cpu: Option<f64>,
    pub bench_cpu: Option<f64>,
    /// Cores' worth of CPU used by everything else on the machine (other processes, the
    /// kernel outside these two, steal) during the window.
    pub other_cpu: Option<f64>,
    /// Of `other_cpu`, what processes named `postgres` used (the database server, when
    /// tessera runs on PostgreSQL); `None` when there were none.
    pub postgres_cpu: Option<f64>,
}

impl Measured {
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ok as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// Builds the figures from a merged histogram.
    pub fn from_histogram(histogram: &Histogram<u64>, seconds: f64) -> Self {
        let (p50_us, p99_us, max_us) = if histogram.is_empty() {
            (0, 0, 0)
        } else {
            (
                histogram.value_at_quantile(0.50),
                histogram.value_at_quantile(0.99),
                histogram.max(),
            )
        };
        Self {
            ok: histogram.len(),
            seconds,
            p50_us,
            p99_us,
            max_us,
            ..Self::default()
        }
    }
}

/// What happened to a scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Ran(Measured),
    Skipped(String),
}

pub fn new_histogram() -> Histogram<u64> {
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("constant, valid histogram bounds")
}

/// The request mix of a scenario, serialised before the run where possible.
enum Work {
    /// The same request every time.
    Fixed(Vec<u8>),
    /// One request per user, taken in turn.
    RoundRobin(Vec<Vec<u8>>),
    /// SignUp with a fresh username each time.
    SignUp { client_id: String, prefix: String },
    /// Both round trips of USER_SRP_AUTH.
    Srp(SrpWork),
    /// The same token request every time; each answer is checked, some tokens' claims too.
    ClientCredentials(TokenWork),
}

struct TokenWork {
    request: Vec<u8>,
    expected: ExpectedToken,
    /// Tokens received so far, to pick those whose claims are checked.
    received: AtomicU64,
}

/// What a client_credentials access token must say.
#[derive(Debug, Clone)]
pub struct ExpectedToken {
    pub issuer: String,
    pub client_id: String,
    /// The granted scopes, space-separated, in the order requested.
    pub scope: String,
}

struct SrpWork {
    client_id: String,
    pool_name: String,
    /// InitiateAuth USER_SRP_AUTH per user, all with the run's one `SRP_A`.
    initiate: Vec<Vec<u8>>,
    ephemeral: Ephemeral,
    /// `k·g^x` per (USER_ID_FOR_SRP, SALT), computed on first use.
    keys: Mutex<HashMap<(String, String), Arc<UserKey>>>,
}

struct Workload {
    endpoint: Endpoint,
    work: Work,
    next: AtomicU64,
}

impl Workload {
    fn new(scenario: Scenario, endpoint: &Endpoint, fixture: &Fixture) -> Result<Self> {
        // One public request per user, in the fixture's order, for the scenarios that take
        // the users in turn.
        let per_user = |operation: &str, body: &dyn Fn(&BenchUser) -> String| -> Vec<Vec<u8>> {
            fixture
                .users
                .iter()
                .map(|user| endpoint.public(operation, body(user).as_bytes()))
                .collect()
        };
        let work = match scenario {
            Scenario::Jwks => {
                Work::Fixed(endpoint.get(&format!("/{}/.well-known/jwks.json", fixture.pool_id)))
            }
            Scenario::SignUp => Work::SignUp {
                client_id: fixture.client_id.clone(),
                prefix: format!(
                    "signup-{}-{}",
                    std::process::id(),
                    SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |since| since.as_secs())
                ),
            },
            Scenario::UserPasswordAuth => Work::RoundRobin(per_user("InitiateAuth", &|user| {
                password_auth_body(&fixture.client_id, &user.username)
            })),
            Scenario::RefreshTokenAuth => Work::RoundRobin(per_user("InitiateAuth", &|user| {
                json!({
                    "AuthFlow": "REFRESH_TOKEN_AUTH",
                    "ClientId": fixture.client_id,
                    "AuthParameters": { "REFRESH_TOKEN": user.refresh_token },
                })
                .to_string()
            })),
            Scenario::GetUser => Work::RoundRobin(per_user("GetUser", &|user| {
                json!({ "AccessToken": user.access_token }).to_string()
            })),
            Scenario::UserSrpAuth => {
                let ephemeral = Ephemeral::random()?;
                let srp_a = ephemeral.public_hex();
                Work::Srp(SrpWork {
                    client_id: fixture.client_id.clone(),
                    pool_name: fixture
                        .pool_id
                        .split_once('_')
                        .map_or(fixture.pool_id.as_str(), |(_, name)| name)
                        .to_owned(),
                    initiate: per_user("InitiateAuth", &|user| {
                        json!({
                            "AuthFlow": "USER_SRP_AUTH",
                            "ClientId": fixture.client_id,
                            "AuthParameters": {
                                "USERNAME": user.username,
                                "SRP_A": srp_a,
                            },
                        })
                        .to_string()
                    }),
                    ephemeral,
                    keys: Mutex::new(HashMap::new()),
                })
            }
            Scenario::ClientCredentials => {
                let machine = fixture
                    .machine
                    .as_ref()
                    .context("client_credentials needs the machine client, which was not set up")?;
                Work::ClientCredentials(TokenWork {
                    request: endpoint.client_credentials(&fixture.pool_id, machine),
                    expected: ExpectedToken {
                        issuer: format!("http://{}/{}", endpoint.host, fixture.pool_id),
                        client_id: machine.client_id.clone(),
                        scope: machine.scope.clone(),
                    },
                    received: AtomicU64::new(0),
                })
            }
            Scenario::TotpMfaSignIn
            | Scenario::UserAuthEmailOtp
            | Scenario::IdentityCredentials
            | Scenario::IdentityGuestCredentials => {
                return Err(format!(
                    "{} runs on a fixture of its own (mfa.rs, identity.rs)",
                    scenario.name()
                ))
            }
        };
        if let Work::RoundRobin(requests) = &work {
            if requests.is_empty() {
                return Err(format!("{} needs at least one user", scenario.name()));
            }
        }
        Ok(Self {
            endpoint: endpoint.clone(),
            work,
            next: AtomicU64::new(0),
        })
    }

    fn next_index(&self, len: usize) -> usize {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        usize::try_from(n % len.max(1) as u64).unwrap_or(0)
    }
}

/// What a closed loop repeats: one operation on a connection. `Err` carries the failure's
/// name for the report.
pub trait Operation: Send + Sync + 'static {
    fn once(&self, conn: &mut Conn)
        -> impl Future<Output = std::result::Result<(), String>> + Send;
}

impl Operation for Workload {
    async fn once(&self, conn: &mut Conn) -> std::result::Result<(), String> {
        match &self.work {
            Work::Fixed(request) => expect_ok(conn, request).await,
            Work::RoundRobin(requests) => {
                let index = self.next_index(requests.len());
                match requests.get(index) {
                    Some(request) => expect_ok(conn, request).await,
                    None => Err("no request".into()),
                }
            }
            Work::SignUp { client_id, prefix } => {
                let n = self.next.fetch_add(1, Ordering::Relaxed);
                let body = json!({
                    "ClientId": client_id,
                    "Username": format!("{prefix}-{n}"),
                    "Password": PASSWORD,
                })
                .to_string();
                let request = self.endpoint.public("SignUp", body.as_bytes());
                expect_ok(conn, &request).await
            }
            Work::Srp(srp) => {
                let index = self.next_index(srp.initiate.len());
                let Some(request) = srp.initiate.get(index) else {
                    return Err("no request".into());
                };
                self.srp_sign_in(srp, conn, request).await
            }
            Work::ClientCredentials(token) => {
                expect_ok(conn, &token.request).await?;
                let n = token.received.fetch_add(1, Ordering::Relaxed);
                let expected = n.is_multiple_of(CLAIMS_SAMPLE).then_some(&token.expected);
                check_token_answer(conn.body(), expected).map(|_| ())
            }
        }
    }
}

impl Workload {
    async fn srp_sign_in(
        &self,
        srp: &SrpWork,
        conn: &mut Conn,
        initiate: &[u8],
    ) -> std::result::Result<(), String> {
        expect_ok(conn, initiate).await?;
        let challenge: Value =
            serde_json::from_slice(conn.body()).map_err(|_| "challenge is not JSON".to_owned())?;
        if challenge.get("ChallengeName").and_then(Value::as_str) != Some("PASSWORD_VERIFIER") {
            return Err("no PASSWORD_VERIFIER challenge".into());
        }
        let parameter = |name: &str| {
            string_at(
                &challenge,
                &format!("/ChallengeParameters/{name}"),
                format_args!("challenge without {name}"),
            )
        };
        let user_id = parameter("USER_ID_FOR_SRP")?;
        let salt = parameter("SALT")?;
        let srp_b = parameter("SRP_B")?;
        let secret_block = parameter("SECRET_BLOCK")?;
        let key = self.user_key(srp, user_id, salt)?;
        let session_key = srp
            .ephemeral
            .session_key(&key, srp_b)
            .map_err(|error| format!("client SRP: {error}"))?;
        let timestamp = crate::util::srp_timestamp(SystemTime::now());
        let signature = claim_signature(
            &session_key,
            &srp.pool_name,
            user_id,
            secret_block,
            &timestamp,
        )
        .map_err(|error| format!("client SRP: {error}"))?;
        let mut respond = json!({
            "ChallengeName": "PASSWORD_VERIFIER",
            "ClientId": srp.client_id,
            "ChallengeResponses": {
                "USERNAME": user_id,
                "TIMESTAMP": timestamp,
                "PASSWORD_CLAIM_SECRET_BLOCK": secret_block,
                "PASSWORD_CLAIM_SIGNATURE": signature,
            },
        });
        if let Some(session) = challenge.get("Session").filter(|value| value.is_string()) {
            respond["Session"] = session.clone();
        }
        let request = self
            .endpoint
            .public("RespondToAuthChallenge", respond.to_string().as_bytes());
        expect_ok(conn, &request).await?;
        if !contains(conn.body(), b"\"AuthenticationResult\"") {
            return Err("RespondToAuthChallenge gave no tokens".into());
        }
        Ok(())
    }

    fn user_key(
        &self,
        srp: &SrpWork,
        user_id: &str,
        salt: &str,
    ) -> std::result::Result<Arc<UserKey>, String> {
        let cache_key = (user_id.to_owned(), salt.to_owned());
        if let Some(key) = srp
            .keys
            .lock()
            .ok()
            .and_then(|keys| keys.get(&cache_key).cloned())
        {
            return Ok(key);
        }
        let key = Arc::new(
            UserKey::new(&srp.pool_name, user_id, PASSWORD, salt)
                .map_err(|error| format!("client SRP: {error}"))?,
        );
        if let Ok(mut keys) = srp.keys.lock() {
            keys.insert(cache_key, key.clone());
        }
        Ok(key)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Checks a token endpoint answer: JSON with a non-empty `access_token` and `token_type`
/// `Bearer`; with `expected`, also the token's header and claims ([`check_claims`]). Returns
/// the access token.
pub fn check_token_answer(
    body: &[u8],
    expected: Option<&ExpectedToken>,
) -> std::result::Result<String, String> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|_| "token answer is not JSON".to_owned())?;
    let token = answer
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| "token answer without access_token".to_owned())?;
    if answer.get("token_type").and_then(Value::as_str) != Some("Bearer") {
        return Err("token_type is not Bearer".into());
    }
    if let Some(expected) = expected {
        check_claims(token, expected)?;
    }
    Ok(token.to_owned())
}

/// Decodes one part of a JWT as a JSON object.
fn jwt_part(part: Option<&str>, name: &str) -> std::result::Result<Value, String> {
    part.and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .filter(Value::is_object)
        .ok_or_else(|| format!("access token {name} is not base64url JSON"))
}

/// Checks a client_credentials access token without its signature: an RS256 JWT with a
/// `kid`, `token_use` access, the expected `iss`, `client_id` (and `sub`) and `scope`, and
/// `exp` after `iat`. The error names the first claim that is wrong.
pub fn check_claims(token: &str, expected: &ExpectedToken) -> std::result::Result<(), String> {
    let mut parts = token.split('.');
    let header = jwt_part(parts.next(), "header")?;
    let claims = jwt_part(parts.next(), "payload")?;
    if parts.next().is_none_or(str::is_empty) || parts.next().is_some() {
        return Err("access token is not a signed JWT".into());
    }
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err("access token alg is not RS256".into());
    }
    if header.get("kid").and_then(Value::as_str).is_none() {
        return Err("access token without kid".into());
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    for (name, wanted) in [
        ("token_use", "access"),
        ("iss", expected.issuer.as_str()),
        ("client_id", expected.client_id.as_str()),
        ("sub", expected.client_id.as_str()),
        ("scope", expected.scope.as_str()),
    ] {
        if text(name) != Some(wanted) {
            return Err(format!("wrong claim {name}"));
        }
    }
    let number = |name: &str| claims.get(name).and_then(Value::as_u64);
    match (number("iat"), number("exp")) {
        (Some(iat), Some(exp)) if exp > iat => Ok(()),
        _ => Err("wrong claims iat and exp".into()),
    }
}

/// Verifies an RS256 JWT's signature with the key of the same `kid` in a JWKS document.
pub fn verify_signature(token: &str, jwks: &[u8]) -> std::result::Result<(), String> {
    let (signed, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| "the token is not a JWT".to_owned())?;
    let header = jwt_part(signed.split('.').next(), "header")?;
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or_else(|| "the token has no kid".to_owned())?;
    let jwks: Value =
        serde_json::from_slice(jwks).map_err(|_| "the JWKS is not JSON".to_owned())?;
    let key = jwks
        .get("keys")
        .and_then(Value::as_array)
        .and_then(|keys| {
            keys.iter()
                .find(|key| key.get("kid").and_then(Value::as_str) == Some(kid))
        })
        .ok_or_else(|| format!("the JWKS has no key {kid}"))?;
    let component = |name: &str| {
        key.get(name)
            .and_then(Value::as_str)
            .and_then(|text| URL_SAFE_NO_PAD.decode(text).ok())
            .ok_or_else(|| format!("the JWKS key {kid} has no usable {name}"))
    };
    let (n, e) = (component("n")?, component("e")?);
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "the signature is not base64url".to_owned())?;
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
        .map_err(|_| format!("the RS256 signature does not verify with JWKS key {kid}"))
}

/// One token request before the run, its token's claims checked and its signature verified
/// against the pool's JWKS, to tell "the server has no token endpoint" and "the tokens are
/// wrong" from a failing run. `Ok(None)` when all is well.
pub async fn probe_client_credentials(
    endpoint: &Endpoint,
    fixture: &Fixture,
) -> Result<Option<String>> {
    let workload = Workload::new(Scenario::ClientCredentials, endpoint, fixture)?;
    let Work::ClientCredentials(token) = &workload.work else {
        return Err("client_credentials has no token work".into());
    };
    let mut conn = Conn::new(endpoint.addr);
    let status = match conn.send(&token.request).await {
        Ok(status) => status,
        Err(error) => return Ok(Some(format!("failed before the run: {error}"))),
    };
    if status == 404 {
        return Ok(Some(format!(
            "not supported by the server (POST /{}/oauth2/token answered HTTP 404)",
            fixture.pool_id
        )));
    }
    if status != 200 {
        return Ok(Some(format!(
            "failed before the run: {}: {}",
            error_kind(status, conn.body()),
            message(conn.body())
        )));
    }
    let access_token = match check_token_answer(conn.body(), Some(&token.expected)) {
        Ok(access_token) => access_token,
        Err(kind) => return Ok(Some(format!("failed before the run: {kind}"))),
    };
    let jwks = endpoint.get(&format!("/{}/.well-known/jwks.json", fixture.pool_id));
    match conn.send(&jwks).await {
        Ok(200) => {}
        Ok(status) => {
            return Ok(Some(format!(
                "failed before the run: the pool's JWKS answered HTTP {status}"
            )))
        }
        Err(error) => {
            return Ok(Some(format!(
                "failed before the run: fetching the JWKS: {error}"
            )))
        }
    }
    Ok(verify_signature(&access_token, conn.body())
        .err()
        .map(|error| format!("failed before the run: {error}")))
}

/// Sends a request and accepts only a 200 answer; otherwise names the error.
pub async fn expect_ok(conn: &mut Conn, request: &[u8]) -> std::result::Result<(), String> {
    match conn.send(request).await {
        Ok(200) => Ok(()),
        Ok(status) => Err(error_kind(status, conn.body())),
        Err(error) => Err(format!("I/O error ({})", error.kind())),
    }
}

/// One SRP sign-in before the run, to tell "the server does not do SRP" from a failing run.
pub async fn probe_srp(endpoint: &Endpoint, fixture: &Fixture) -> Result<Option<String>> {
    let workload = Workload::new(Scenario::UserSrpAuth, endpoint, fixture)?;
    let mut conn = Conn::new(endpoint.addr);
    match workload.once(&mut conn).await {
        Ok(()) => Ok(None),
        Err(kind) if kind == "UnsupportedOperationException" => Ok(Some(format!(
            "not supported by the server (InitiateAuth USER_SRP_AUTH answered UnsupportedOperationException: {})",
            message(conn.body())
        ))),
        Err(kind) => Ok(Some(format!(
            "failed before the run: {kind}: {}",
            message(conn.body())
        ))),
    }
}

/// The message of an error answer (AWS JSON or OAuth), or the start of the body.
pub fn message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|value| {
            ["message", "error_description"]
                .into_iter()
                .find_map(|name| value.get(name).and_then(Value::as_str))
                .map(str::to_owned)
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect())
}

struct WorkerStats {
    histogram: Histogram<u64>,
    errors: u64,
    error_kinds: BTreeMap<String, u64>,
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    end: Instant,
}

/// Runs one scenario at the plan's concurrency against the server with `server_pid`.
pub async fn run(
    scenario: Scenario,
    plan: Plan,
    endpoint: &Endpoint,
    fixture: &Fixture,
    server_pid: u32,
    ticks_per_second: f64,
) -> Result<Measured> {
    let workload = Arc::new(Workload::new(scenario, endpoint, fixture)?);
    closed_loop(workload, endpoint.addr, plan, server_pid, ticks_per_second).await
}

/// Repeats `operation` on the plan's number of connections to `addr` for its warm-up and
/// measured window, and measures the window, the server with `server_pid` included.
pub async fn closed_loop<O: Operation>(
    operation: Arc<O>,
    addr: SocketAddr,
    plan: Plan,
    server_pid: u32,
    ticks_per_second: f64,
) -> Result<Measured> {
    let begin = Instant::now();
    let window = Window {
        start: begin + plan.warmup,
        end: begin + plan.warmup + plan.duration,
    };
    let monitor = tokio::spawn(monitor(server_pid, window, ticks_per_second));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..plan.concurrency.max(1) {
        workers.spawn(worker(operation.clone(), addr, window));
    }
    let mut histogram = new_histogram();
    let mut errors = 0;
    let mut error_kinds = BTreeMap::new();
    while let Some(joined) = workers.join_next().await {
        let stats = joined.context("load worker")?;
        histogram
            .add(&stats.histogram)
            .context("merging latency histograms")?;
        errors += stats.errors;
        for (kind, count) in stats.error_kinds {
            *error_kinds.entry(kind).or_insert(0) += count;
        }
    }
    let usage = monitor.await.context("monitor")?;
    let mut measured = Measured::from_histogram(&histogram, plan.duration.as_secs_f64());
    measured.errors = errors;
    measured.error_kinds = error_kinds;
    measured.server_peak_rss_kib = usage.peak_rss_kib;
    measured.server_cpu = usage.server_cpu;
    measured.bench_cpu = usage.bench_cpu;
    measured.other_cpu = usage.other_cpu;
    measured.postgres_cpu = usage.postgres_cpu;
    Ok(measured)
}

async fn worker<O: Operation>(operation: Arc<O>, addr: SocketAddr, window: Window) -> WorkerStats {
    let mut conn = Conn::new(addr);
    let mut stats = WorkerStats {
        histogram: new_histogram(),
        errors: 0,
        error_kinds: BTreeMap::new(),
    };
    loop {
        let started = Instant::now();
        if started >= window.end {
            break;
        }
        let outcome = tokio::time::timeout_at(window.end + GRACE, operation.once(&mut conn)).await;
        let finished = Instant::now();
        let timed_out = outcome.is_err();
        let outcome = outcome.unwrap_or_else(|_| Err("timeout".into()));
        let counted = finished >= window.start && finished <= window.end;
        match outcome {
            Ok(()) if counted => {
                let micros = u64::try_from(finished.duration_since(started).as_micros())
                    .unwrap_or(u64::MAX)
                    .clamp(1, MAX_LATENCY_US);
                let _ = stats.histogram.record(micros);
            }
            Ok(()) => {}
            Err(kind) => {
                if counted || timed_out {
                    stats.errors += 1;
                    *stats.error_kinds.entry(kind.clone()).or_insert(0) += 1;
                }
                if timed_out {
                    break;
                }
                if kind.starts_with("I/O error") {
                    // The connection is gone; do not spin if the server is.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
    stats
}

struct Usage {
    peak_rss_kib: Option<u64>,
    server_cpu: Option<f64>,
    bench_cpu: Option<f64>,
    other_cpu: Option<f64>,
    postgres_cpu: Option<f64>,
}

/// Samples the server's RSS during the window and both processes' CPU time at its edges.
async fn monitor(pid: u32, window: Window, ticks_per_second: f64) -> Usage {
    tokio::time::sleep_until(window.start).await;
    let server_before = cpu_ticks(Some(pid));
    let bench_before = cpu_ticks(None);
    let machine_before = machine_busy_ticks();
    let postgres_before = processes_cpu_ticks("postgres");
    let mut peak = status_kib(pid, "VmRSS");
    let mut interval = tokio::time::interval(RSS_INTERVAL);
    while Instant::now() < window.end {
        interval.tick().await;
        peak = peak.max(status_kib(pid, "VmRSS"));
    }
    let seconds = window.end.duration_since(window.start).as_secs_f64();
    let cores = |before: Option<u64>, after: Option<u64>| {
        Some(after?.saturating_sub(before?) as f64 / ticks_per_second / seconds.max(1e-9))
    };
    let server_cpu = cores(server_before, cpu_ticks(Some(pid)));
    let bench_cpu = cores(bench_before, cpu_ticks(None));
    let machine_cpu = cores(machine_before, machine_busy_ticks());
    let other_cpu = (|| Some((machine_cpu? - server_cpu? - bench_cpu?).max(0.0)))();
    let postgres_cpu = cores(postgres_before, processes_cpu_ticks("postgres"));
    Usage {
        peak_rss_kib: peak,
        server_cpu,
        bench_cpu,
        other_cpu,
        postgres_cpu,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut histogram = new_histogram();
        // 1..=1000 µs once each: p50 = 500 µs, p99 = 990 µs.
        for micros in 1..=1000 {
            let _ = histogram.record(micros);
        }
        let measured = Measured::from_histogram(&histogram, 2.0);
        assert_eq!(measured.ok, 1000);
        assert_eq!(measured.per_second(), 500.0);
        assert_eq!(measured.p50_us, 500);
        assert_eq!(measured.p99_us, 990);
        assert_eq!(measured.max_us, 1000);
        let empty = Measured::from_histogram(&new_histogram(), 2.0);
        assert_eq!((empty.ok, empty.p50_us, empty.p99_us), (0, 0, 0));
    }

    #[test]
    fn scenario_names_round_trip() {
        for scenario in Scenario::ALL {
            assert_eq!(Scenario::parse(scenario.name()).ok(), Some(scenario));
        }
        assert_eq!(
            Scenario::parse("Refresh-Token-Auth").ok(),
            Some(Scenario::RefreshTokenAuth)
        );
        assert!(Scenario::parse("everything").is_err());
        assert_eq!(
            Scenario::parse("client-credentials").ok(),
            Some(Scenario::ClientCredentials)
        );
        assert!(!Scenario::ClientCredentials.needs_users());
        assert!(Scenario::ClientCredentials.needs_machine_client());
        assert_eq!(
            Scenario::parse("totp-mfa-sign-in").ok(),
            Some(Scenario::TotpMfaSignIn)
        );
        assert_eq!(
            Scenario::parse("user_auth_email_otp").ok(),
            Some(Scenario::UserAuthEmailOtp)
        );
        assert!(!Scenario::TotpMfaSignIn.needs_users());
        assert_eq!(
            Scenario::parse("identity-credentials").ok(),
            Some(Scenario::IdentityCredentials)
        );
        assert!(Scenario::IdentityCredentials.needs_users());
        assert!(Scenario::IdentityCredentials.has_own_fixture());
        assert!(!Scenario::IdentityGuestCredentials.needs_users());
        assert!(!Scenario::GetUser.has_own_fixture());
    }

    #[test]
    fn checks_client_credentials_answers_and_tokens() {
        use tessera_core::{issue_client_token, ClientTokenRequest, KeyUse, SigningKey};

        let now = SystemTime::now();
        let key = SigningKey::generate(KeyUse::Access, now);
        assert!(key.is_ok(), "{:?}", key.as_ref().err());
        let Ok(key) = key else { return };
        let expected = ExpectedToken {
            issuer: "http://127.0.0.1:9229/us-east-1_X".into(),
            client_id: "machine".into(),
            scope: "https://api/read https://api/write".into(),
        };
        let issue = |client_id: &str, scope: &str| {
            issue_client_token(
                &ClientTokenRequest {
                    issuer: &expected.issuer,
                    client_id,
                    scope,
                    now,
                    validity: Duration::from_secs(3600),
                    customization: None,
                },
                &key,
                &tessera_core::SystemRandom,
            )
            .unwrap_or_default()
        };
        let token = issue("machine", &expected.scope);
        let answer = |token: &str| {
            json!({ "access_token": token, "expires_in": 3600, "token_type": "Bearer" }).to_string()
        };
        assert_eq!(
            check_token_answer(answer(&token).as_bytes(), Some(&expected)).as_deref(),
            Ok(token.as_str())
        );
        let jwks = json!({ "keys": [key.public_jwk()] }).to_string();
        assert_eq!(verify_signature(&token, jwks.as_bytes()), Ok(()));

        // What the check refuses, each by name.
        let wrong_scope = issue("machine", "https://api/read");
        assert_eq!(
            check_token_answer(answer(&wrong_scope).as_bytes(), Some(&expected)),
            Err("wrong claim scope".into())
        );
        // Without claims to check, any Bearer token passes.
        assert!(check_token_answer(answer(&wrong_scope).as_bytes(), None).is_ok());
        assert_eq!(
            check_claims(&issue("other", &expected.scope), &expected),
            Err("wrong claim client_id".into())
        );
        assert_eq!(
            check_token_answer(br#"{"access_token":"x","token_type":"bearer"}"#, None),
            Err("token_type is not Bearer".into())
        );
        assert_eq!(
            check_token_answer(br#"{"token_type":"Bearer"}"#, None),
            Err("token answer without access_token".into())
        );
        assert_eq!(
            check_token_answer(b"<html>", None),
            Err("token answer is not JSON".into())
        );
        let unsigned = token.rsplit_once('.').map_or("", |(signed, _)| signed);
        assert!(check_claims(unsigned, &expected).is_err());
        // A signature over other bytes does not verify.
        let (signed, _) = token.rsplit_once('.').unwrap_or_default();
        let (_, other_signature) = wrong_scope.rsplit_once('.').unwrap_or_default();
        assert!(verify_signature(&format!("{signed}.{other_signature}"), jwks.as_bytes()).is_err());
    }
}
