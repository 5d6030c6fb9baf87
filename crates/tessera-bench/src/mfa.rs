//! The sign-ins of issue 13, measured beside `user_password_auth`:
//!
//! - `totp_mfa_sign_in`: InitiateAuth USER_PASSWORD_AUTH, answered with a SOFTWARE_TOKEN_MFA
//!   challenge, then RespondToAuthChallenge with the code of the user's software token
//!   ([`crate::totp`] computes it and plans which user sends which step);
//! - `user_auth_email_otp`: InitiateAuth USER_AUTH with PREFERRED_CHALLENGE EMAIL_OTP, which
//!   e-mails an eight-digit code, then RespondToAuthChallenge with that code as the
//!   [`crate::smtp`] sink received it from tessera's SMTP delivery.
//!
//! Each has a pool and a client of its own, created through the API just before it runs, so
//! that the other scenarios run on the same pool as before. One operation is both requests;
//! it counts only when the second answer carries tokens.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};

use crate::api::{
    call, call_signed, create_pool_and_client, in_parallel, password_auth_body, sign_in, string_at,
    Endpoint, PASSWORD,
};
use crate::http::Conn;
use crate::load::{expect_ok, message, Operation};
use crate::report::thousands;
use crate::smtp::{Counts, Sink, DOMAIN};
use crate::totp::{self, Slots, TotpUser};
use crate::util::{Context, Result};

/// The TOTP population is sized for this many times the sign-ins per second the machine's
/// cores could verify passwords at (one argon2id check each), measured on one thread.
const RATE_HEADROOM: f64 = 1.25;
/// How long that one-thread argon2id measurement takes.
const ARGON2_SAMPLE: Duration = Duration::from_millis(600);
/// How long a virtual user waits for its code once InitiateAuth has answered (tessera sends
/// the mail before it answers, so the code is normally there already).
const CODE_TIMEOUT: Duration = Duration::from_secs(10);
const TOTP_POOL: &str = "tessera-bench-totp";
const USER_AUTH_POOL: &str = "tessera-bench-user-auth";
/// How long the one-thread RS256 measurement that sizes the EMAIL_OTP population takes.
const RSA_SAMPLE: Duration = Duration::from_millis(300);
/// Sign-in codes tessera sends one user: ten in an hour that starts with the first
/// (`SIGN_IN_CODE_LIMIT`; more are TooManyRequestsException). A bench run is well inside one
/// hour, so every user is good for ten EMAIL_OTP sign-ins.
const CODES_PER_USER: u64 = 10;
/// The FriendlyDeviceName of the bench users' software tokens.
const DEVICE_NAME: &str = "tessera-bench";

/// A fixture, or why the server cannot have it.
pub enum Prepared<T> {
    Ready(T),
    /// The server does not know an operation or flow the scenario needs: the reason, starting
    /// `not supported by the server`.
    Unsupported(String),
}

/// Whether a setup error says the server lacks the operation or flow.
pub fn unsupported(error: &str) -> Option<String> {
    ["UnknownOperationException", "UnsupportedOperationException"]
        .iter()
        .any(|kind| error.contains(kind))
        .then(|| {
            format!(
                "not supported by the server ({})",
                error.lines().next().unwrap_or(error)
            )
        })
}

/// A setup's result, with the server's lack of an operation or flow as [`Prepared::Unsupported`].
pub fn prepared<T>(result: Result<T>) -> Result<Prepared<T>> {
    match result {
        Ok(fixture) => Ok(Prepared::Ready(fixture)),
        Err(error) => match unsupported(&error) {
            Some(reason) => Ok(Prepared::Unsupported(reason)),
            None => Err(error),
        },
    }
}

/// The session of a challenge the answer must name, or why the answer is not that challenge.
fn session_of(body: &[u8], challenge: &str) -> std::result::Result<String, String> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|_| "InitiateAuth answer is not JSON".to_owned())?;
    if answer.get("ChallengeName").and_then(Value::as_str) != Some(challenge) {
        return Err(if answer.get("AuthenticationResult").is_some() {
            format!("tokens without the {challenge} challenge")
        } else {
            format!("no {challenge} challenge")
        });
    }
    answer
        .get("Session")
        .and_then(Value::as_str)
        .filter(|session| !session.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| format!("{challenge} challenge without Session"))
}

/// Whether an answer carries tokens: an AuthenticationResult with an access and an ID token.
fn has_tokens(body: &[u8]) -> std::result::Result<(), String> {
    let answer: Value = serde_json::from_slice(body)
        .map_err(|_| "RespondToAuthChallenge answer is not JSON".to_owned())?;
    let token = |name: &str| {
        answer
            .pointer(&format!("/AuthenticationResult/{name}"))
            .and_then(Value::as_str)
            .is_some_and(|token| !token.is_empty())
    };
    if token("AccessToken") && token("IdToken") {
        Ok(())
    } else {
        Err("RespondToAuthChallenge gave no tokens".into())
    }
}

/// RespondToAuthChallenge for `challenge` with the session and the answers.
fn respond(
    endpoint: &Endpoint,
    client_id: &str,
    challenge: &str,
    session: &str,
    responses: Value,
) -> Vec<u8> {
    let body = json!({
        "ChallengeName": challenge,
        "ClientId": client_id,
        "Session": session,
        "ChallengeResponses": responses,
    });
    endpoint.public("RespondToAuthChallenge", body.to_string().as_bytes())
}

/// The pool, client and users of `totp_mfa_sign_in`.
pub struct TotpFixture {
    pub pool_id: String,
    pub client_id: String,
    pub slots: Slots,
    /// The sign-ins per second the population is sized for.
    pub rate: f64,
    /// One thread's argon2id hashes per second, which `rate` comes from.
    pub argon2id_one_thread: f64,
    pub setup_seconds: f64,
    /// Codes sent for the previous, the current and the next step.
    pub offsets: [AtomicU64; 3],
}

/// Creates a pool with MfaConfiguration OPTIONAL and software tokens on, a client allowed
/// USER_PASSWORD_AUTH, and enough users, each with a verified, preferred software token, for
/// sign-ins during `seconds` on `concurrency` connections (at least `min_users`); then signs
/// one in, to check the flow before the run.
pub async fn prepare_totp(
    endpoint: &Endpoint,
    parallel: usize,
    min_users: usize,
    seconds: f64,
    concurrency: usize,
) -> Result<Prepared<Arc<TotpFixture>>> {
    let started = Instant::now();
    let mut conn = Conn::new(endpoint.addr);
    let created = create_pool_and_client(
        &mut conn,
        endpoint,
        json!({ "PoolName": TOTP_POOL }),
        |pool_id| {
            json!({
                "UserPoolId": pool_id,
                "ClientName": TOTP_POOL,
                "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            })
        },
    )
    .await;
    let created = match prepared(created)? {
        Prepared::Ready(created) => created,
        Prepared::Unsupported(reason) => return Ok(Prepared::Unsupported(reason)),
    };
    let configured = call_signed(
        &mut conn,
        endpoint,
        "SetUserPoolMfaConfig",
        json!({
            "UserPoolId": created.pool_id,
            "MfaConfiguration": "OPTIONAL",
            "SoftwareTokenMfaConfiguration": { "Enabled": true },
        })
        .to_string(),
    )
    .await;
    if let Prepared::Unsupported(reason) = prepared(configured)? {
        return Ok(Prepared::Unsupported(reason));
    }

    let argon2id_one_thread = crate::limits::argon2id_one_thread(ARGON2_SAMPLE)?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let rate = RATE_HEADROOM * cores as f64 * argon2id_one_thread;
    let count = totp::users_needed(rate, seconds, concurrency).max(min_users);
    eprintln!(
        "tessera-bench: enrolling {count} users with a software token (sized for {} sign-ins/s) ...",
        thousands(rate)
    );
    let shared = Arc::new((
        endpoint.clone(),
        created.pool_id.clone(),
        created.client_id.clone(),
    ));
    let users = in_parallel(endpoint.addr, count, parallel, move |mut conn, index| {
        let shared = shared.clone();
        async move {
            let (endpoint, pool_id, client_id) = &*shared;
            let enrolled = enrol(&mut conn, endpoint, pool_id, client_id, index).await;
            (conn, enrolled)
        }
    })
    .await;
    let users = match prepared(users)? {
        Prepared::Ready(users) => users,
        Prepared::Unsupported(reason) => return Ok(Prepared::Unsupported(reason)),
    };
    let fixture = Arc::new(TotpFixture {
        pool_id: created.pool_id,
        client_id: created.client_id,
        slots: Slots::new(users),
        rate,
        argon2id_one_thread,
        setup_seconds: 0.0,
        offsets: Default::default(),
    });
    // A new connection: the setup one sat idle while the users were enrolled, longer than
    // tessera keeps an idle connection open.
    let mut conn = Conn::new(endpoint.addr);
    let check = TotpSignIn::new(endpoint, fixture.clone());
    if let Err(kind) = check.once(&mut conn).await {
        return Err(format!(
            "totp_mfa_sign_in: the check sign-in before the run failed: {kind}: {}",
            message(conn.body())
        ));
    }
    drop(check);
    // The check's code is not one of the run's.
    for offset in &fixture.offsets {
        offset.store(0, Ordering::Relaxed);
    }
    let mut fixture = Arc::try_unwrap(fixture).map_err(|_| "the TOTP fixture is shared")?;
    fixture.setup_seconds = started.elapsed().as_secs_f64();
    Ok(Prepared::Ready(Arc::new(fixture)))
}

/// Creates `bench-totp-<index>` with the bench's password, signs it in, and enrols a software
/// token: AssociateSoftwareToken, VerifySoftwareToken with the previous step's code (waiting
/// out the end of a step first, see [`totp::enrolment_wait`]), SetUserMFAPreference. Returns
/// the user and the step its enrolment used.
async fn enrol(
    conn: &mut Conn,
    endpoint: &Endpoint,
    pool_id: &str,
    client_id: &str,
    index: usize,
) -> Result<(TotpUser, u64)> {
    let username = format!("bench-totp-{index:05}");
    call_signed(
        conn,
        endpoint,
        "AdminCreateUser",
        json!({ "UserPoolId": pool_id, "Username": username, "MessageAction": "SUPPRESS" })
            .to_string(),
    )
    .await?;
    call_signed(
        conn,
        endpoint,
        "AdminSetUserPassword",
        json!({
            "UserPoolId": pool_id,
            "Username": username,
            "Password": PASSWORD,
            "Permanent": true,
        })
        .to_string(),
    )
    .await?;
    let signed_in = sign_in(conn, endpoint, client_id, &username).await?;
    let access_token = string_at(
        &signed_in,
        "/AuthenticationResult/AccessToken",
        format_args!(
            "InitiateAuth USER_PASSWORD_AUTH for {username} returned no AccessToken: {signed_in}"
        ),
    )?
    .to_owned();
    let public =
        |operation: &str, body: Value| endpoint.public(operation, body.to_string().as_bytes());
    let associated = call(
        conn,
        "AssociateSoftwareToken",
        &public(
            "AssociateSoftwareToken",
            json!({ "AccessToken": access_token }),
        ),
    )
    .await?;
    let secret = string_at(
        &associated,
        "/SecretCode",
        format_args!("AssociateSoftwareToken returned no SecretCode: {associated}"),
    )?;
    let secret = totp::decode_base32(secret).context(format!(
        "AssociateSoftwareToken's SecretCode {secret:?} is not base32"
    ))?;
    tokio::time::sleep(totp::enrolment_wait(SystemTime::now())).await;
    let step = totp::next_step(None, totp::now_seconds(SystemTime::now()))
        .context("no TOTP step to enrol with")?;
    let verified = call(
        conn,
        "VerifySoftwareToken",
        &public(
            "VerifySoftwareToken",
            json!({
                "AccessToken": access_token,
                "UserCode": totp::code(&secret, step, totp::DIGITS),
                "FriendlyDeviceName": DEVICE_NAME,
            }),
        ),
    )
    .await?;
    if verified.get("Status").and_then(Value::as_str) != Some("SUCCESS") {
        return Err(format!(
            "VerifySoftwareToken for {username} did not answer Status SUCCESS: {verified}"
        ));
    }
    call(
        conn,
        "SetUserMFAPreference",
        &public(
            "SetUserMFAPreference",
            json!({
                "AccessToken": access_token,
                "SoftwareTokenMfaSettings": { "Enabled": true, "PreferredMfa": true },
            }),
        ),
    )
    .await?;
    Ok((TotpUser { username, secret }, step))
}

/// One `totp_mfa_sign_in` operation: both round trips, for a user leased from the fixture.
pub struct TotpSignIn {
    endpoint: Endpoint,
    fixture: Arc<TotpFixture>,
    /// InitiateAuth USER_PASSWORD_AUTH per user, serialised before the run.
    initiate: Vec<Vec<u8>>,
}

impl TotpSignIn {
    pub fn new(endpoint: &Endpoint, fixture: Arc<TotpFixture>) -> Self {
        let initiate = fixture
            .slots
            .users
            .iter()
            .map(|user| {
                endpoint.public(
                    "InitiateAuth",
                    password_auth_body(&fixture.client_id, &user.username).as_bytes(),
                )
            })
            .collect();
        Self {
            endpoint: endpoint.clone(),
            fixture,
            initiate,
        }
    }
}

impl Operation for TotpSignIn {
    async fn once(&self, conn: &mut Conn) -> std::result::Result<(), String> {
        let fixture = &self.fixture;
        let Some(lease) = fixture.slots.take(totp::now_seconds(SystemTime::now())) else {
            return Err("no user with a TOTP step left".into());
        };
        let (Some(user), Some(initiate)) = (lease.user(), self.initiate.get(lease.index)) else {
            return Err("no request".into());
        };
        expect_ok(conn, initiate).await?;
        let session = session_of(conn.body(), "SOFTWARE_TOKEN_MFA")?;
        // The step is chosen now, right before the answer leaves, not when the user was taken.
        let now = totp::now_seconds(SystemTime::now());
        let Some((step, code)) = lease.code(now) else {
            return Err("no TOTP step left for the user".into());
        };
        let offset = (step + 1).saturating_sub(now / totp::STEP_SECONDS);
        if let Some(counter) = usize::try_from(offset)
            .ok()
            .and_then(|at| fixture.offsets.get(at))
        {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        let request = respond(
            &self.endpoint,
            &fixture.client_id,
            "SOFTWARE_TOKEN_MFA",
            &session,
            json!({ "USERNAME": user.username, "SOFTWARE_TOKEN_MFA_CODE": code }),
        );
        expect_ok(conn, &request).await?;
        has_tokens(conn.body())
    }
}

/// The report's sentence on the TOTP setup.
pub fn totp_setup_note(fixture: &TotpFixture) -> String {
    format!(
        "Setup for `totp_mfa_sign_in`: pool {} (SetUserPoolMfaConfig MfaConfiguration OPTIONAL, SoftwareTokenMfaConfiguration Enabled), client {} with ALLOW_USER_PASSWORD_AUTH, and {} users, each created (AdminCreateUser SUPPRESS, AdminSetUserPassword Permanent), signed in once and enrolled with the access token (AssociateSoftwareToken, VerifySoftwareToken with the previous step's code, SetUserMFAPreference SoftwareTokenMfaSettings Enabled and PreferredMfa), then one check sign-in: {:.1} s. tessera takes the codes of the previous, current and next 30-s step, each once per user and in increasing order, so a user signs in at most three times per step; the population is sized for {} sign-ins/s over the warm-up and the measured window at two codes per user, plus one user per connection ({} × the cores × one thread's {} argon2id hashes/s measured before, since every sign-in checks a password).",
        fixture.pool_id,
        fixture.client_id,
        fixture.slots.users.len(),
        fixture.setup_seconds,
        thousands(fixture.rate),
        RATE_HEADROOM,
        thousands(fixture.argon2id_one_thread),
    )
}

/// The report's sentence on how the TOTP run used its codes.
pub fn totp_run_note(fixture: &TotpFixture) -> String {
    let [previous, current, next] = fixture
        .offsets
        .each_ref()
        .map(|counter| counter.load(Ordering::Relaxed));
    format!(
        "`totp_mfa_sign_in`: the codes are RFC 6238 (HMAC-SHA1, 6 digits, 30 s) computed by the load generator from the base32 secret (totp.rs, by hand with aws-lc-rs's HMAC, checked against RFC 6238's vectors), not by tessera's code. Each user is leased to one connection at a time and answers with the earliest step tessera still takes from it, chosen when the challenge has arrived (the previous step only while at least {} s of the current one are left). Codes sent, warm-up included: {} for the previous step, {} for the current one, {} for the next; {} of the {} users signed in. A sign-in counts only when RespondToAuthChallenge answers 200 with an AuthenticationResult holding an access and an ID token.",
        totp::MARGIN_SECONDS,
        thousands_int(previous),
        thousands_int(current),
        thousands_int(next),
        thousands_int(fixture.slots.used() as u64),
        thousands_int(fixture.slots.users.len() as u64),
    )
}

/// A count with thousands separators: `758`, `4,176`.
pub fn thousands_int(n: u64) -> String {
    if n < 1000 {
        n.to_string()
    } else {
        thousands(n as f64)
    }
}

/// A user of `user_auth_email_otp`, with a verified address of its own.
pub struct OtpUser {
    pub username: String,
    pub email: String,
}

/// The pool, client and users of `user_auth_email_otp`, and the sink their codes go to.
pub struct EmailOtpFixture {
    pub pool_id: String,
    pub client_id: String,
    pub users: Vec<OtpUser>,
    leases: Mutex<Leases>,
    pub sink: Arc<Sink>,
    /// The sign-ins per second the population is sized for.
    pub rate: f64,
    /// One thread's RS256 signatures per second, which `rate` comes from.
    pub rsa_one_thread: f64,
    pub setup_seconds: f64,
}

struct Leases {
    /// Users not signing in right now that may still be sent a code, the longest idle first.
    free: VecDeque<usize>,
    /// Codes asked for each user so far.
    sent: Vec<u64>,
}

impl Leases {
    fn new(users: usize) -> Self {
        Self {
            free: (0..users).collect(),
            sent: vec![0; users],
        }
    }

    /// The longest idle user that may still be sent a code, with the code it is about to ask
    /// for counted; a user who had `cap` leaves the queue for good.
    fn take(&mut self, cap: u64) -> Option<usize> {
        while let Some(user) = self.free.pop_front() {
            if let Some(count) = self.sent.get_mut(user).filter(|count| **count < cap) {
                *count += 1;
                return Some(user);
            }
        }
        None
    }
}

impl EmailOtpFixture {
    /// Leases a user for one sign-in (see [`Leases::take`]).
    fn take(&self) -> Option<Taken<'_>> {
        let user = self.leases.lock().ok()?.take(CODES_PER_USER)?;
        Some(Taken {
            fixture: self,
            user,
        })
    }

    /// How many users were sent at least one code (the check sign-in's included).
    fn used(&self) -> usize {
        self.leases
            .lock()
            .map_or(0, |leases| leases.sent.iter().filter(|&&n| n > 0).count())
    }
}

/// A user leased to one sign-in; given back when dropped, its wait for mail ended.
struct Taken<'a> {
    fixture: &'a EmailOtpFixture,
    user: usize,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        if let Some(user) = self.fixture.users.get(self.user) {
            self.fixture.sink.forget(&user.email);
        }
        if let Ok(mut leases) = self.fixture.leases.lock() {
            leases.free.push_back(self.user);
        }
    }
}

/// Creates a pool whose `AllowedFirstAuthFactors` are PASSWORD and EMAIL_OTP, a client allowed
/// USER_AUTH, and enough users with a verified address at [`DOMAIN`] for sign-ins during
/// `seconds` on `concurrency` connections at [`CODES_PER_USER`] codes each; then signs one in,
/// to check the flow and the delivery before the run.
pub async fn prepare_email_otp(
    endpoint: &Endpoint,
    parallel: usize,
    seconds: f64,
    concurrency: usize,
    sink: Arc<Sink>,
) -> Result<Prepared<Arc<EmailOtpFixture>>> {
    let started = Instant::now();
    let mut conn = Conn::new(endpoint.addr);
    let created = create_pool_and_client(
        &mut conn,
        endpoint,
        json!({
            "PoolName": USER_AUTH_POOL,
            "Policies": { "SignInPolicy": { "AllowedFirstAuthFactors": ["PASSWORD", "EMAIL_OTP"] } },
        }),
        |pool_id| {
            json!({
                "UserPoolId": pool_id,
                "ClientName": USER_AUTH_POOL,
                "ExplicitAuthFlows": ["ALLOW_USER_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            })
        },
    )
    .await;
    let created = match prepared(created)? {
        Prepared::Ready(created) => created,
        Prepared::Unsupported(reason) => return Ok(Prepared::Unsupported(reason)),
    };
    // Every sign-in ends in two RS256 signatures (the ID and the access token), so the
    // machine's cores cannot sign anyone in faster than half their signature rate.
    let rsa_one_thread = crate::limits::rsa_sign_one_thread(RSA_SAMPLE)?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let rate = cores as f64 * rsa_one_thread / 2.0;
    // One more for the check sign-in.
    let count = crate::util::population(rate, seconds, CODES_PER_USER, concurrency) + 1;
    eprintln!(
        "tessera-bench: creating {count} users with a verified e-mail address (sized for {} sign-ins/s) ...",
        thousands(rate)
    );
    let shared = Arc::new((
        endpoint.clone(),
        created.pool_id.clone(),
        created.client_id.clone(),
    ));
    let made = in_parallel(endpoint.addr, count, parallel, move |mut conn, index| {
        let shared = shared.clone();
        async move {
            let (endpoint, pool_id, client_id) = &*shared;
            let made = create_otp_user(&mut conn, endpoint, pool_id, client_id, index).await;
            (conn, made)
        }
    })
    .await?;
    let fixture = Arc::new(EmailOtpFixture {
        pool_id: created.pool_id,
        client_id: created.client_id,
        leases: Mutex::new(Leases::new(made.len())),
        users: made,
        sink,
        rate,
        rsa_one_thread,
        setup_seconds: 0.0,
    });
    // A new connection: the setup one sat idle while the users were created, possibly longer
    // than tessera keeps an idle connection open.
    let mut conn = Conn::new(endpoint.addr);
    let check = EmailOtpSignIn::new(endpoint, fixture.clone());
    if let Err(kind) = check.once(&mut conn).await {
        let reason = format!(
            "user_auth_email_otp: the check sign-in before the run failed: {kind}: {}",
            message(conn.body())
        );
        return match unsupported(&reason) {
            Some(reason) => Ok(Prepared::Unsupported(reason)),
            None => Err(reason),
        };
    }
    drop(check);
    let mut fixture = Arc::try_unwrap(fixture).map_err(|_| "the EMAIL_OTP fixture is shared")?;
    fixture.setup_seconds = started.elapsed().as_secs_f64();
    Ok(Prepared::Ready(Arc::new(fixture)))
}

/// Creates `bench-otp-<index>` with the address `<username>@`[`DOMAIN`]: SignUp with the
/// bench's password (the pool verifies no attribute automatically, so nothing is sent),
/// AdminConfirmSignUp (a CONFIRMED user may sign in without a password), and
/// AdminUpdateUserAttributes `email_verified` true (codes go only to a verified address).
/// One argon2id hash per user, where AdminCreateUser and AdminSetUserPassword take two.
async fn create_otp_user(
    conn: &mut Conn,
    endpoint: &Endpoint,
    pool_id: &str,
    client_id: &str,
    index: usize,
) -> Result<OtpUser> {
    let username = format!("bench-otp-{index:05}");
    let email = format!("{username}@{DOMAIN}");
    call(
        conn,
        "SignUp",
        &endpoint.public(
            "SignUp",
            json!({
                "ClientId": client_id,
                "Username": username,
                "Password": PASSWORD,
                "UserAttributes": [{ "Name": "email", "Value": email }],
            })
            .to_string()
            .as_bytes(),
        ),
    )
    .await?;
    call_signed(
        conn,
        endpoint,
        "AdminConfirmSignUp",
        json!({ "UserPoolId": pool_id, "Username": username }).to_string(),
    )
    .await?;
    call_signed(
        conn,
        endpoint,
        "AdminUpdateUserAttributes",
        json!({
            "UserPoolId": pool_id,
            "Username": username,
            "UserAttributes": [{ "Name": "email_verified", "Value": "true" }],
        })
        .to_string(),
    )
    .await?;
    Ok(OtpUser { username, email })
}

/// One `user_auth_email_otp` operation: both round trips, for a user leased from the fixture,
/// with the code the sink received.
pub struct EmailOtpSignIn {
    endpoint: Endpoint,
    fixture: Arc<EmailOtpFixture>,
    /// InitiateAuth USER_AUTH with PREFERRED_CHALLENGE EMAIL_OTP per user.
    initiate: Vec<Vec<u8>>,
}

impl EmailOtpSignIn {
    pub fn new(endpoint: &Endpoint, fixture: Arc<EmailOtpFixture>) -> Self {
        let initiate = fixture
            .users
            .iter()
            .map(|user| {
                let body = json!({
                    "AuthFlow": "USER_AUTH",
                    "ClientId": fixture.client_id,
                    "AuthParameters": {
                        "USERNAME": user.username,
                        "PREFERRED_CHALLENGE": "EMAIL_OTP",
                    },
                });
                endpoint.public("InitiateAuth", body.to_string().as_bytes())
            })
            .collect();
        Self {
            endpoint: endpoint.clone(),
            fixture,
            initiate,
        }
    }
}

impl Operation for EmailOtpSignIn {
    async fn once(&self, conn: &mut Conn) -> std::result::Result<(), String> {
        let fixture = &self.fixture;
        let Some(taken) = fixture.take() else {
            return Err("no user left who may be sent a code".into());
        };
        let (Some(user), Some(initiate)) =
            (fixture.users.get(taken.user), self.initiate.get(taken.user))
        else {
            return Err("no request".into());
        };
        // Waiting before asking: the mail is sent before InitiateAuth answers.
        let delivered = fixture.sink.expect(&user.email);
        expect_ok(conn, initiate).await?;
        let session = session_of(conn.body(), "EMAIL_OTP")?;
        let code = match tokio::time::timeout(CODE_TIMEOUT, delivered).await {
            Ok(Ok(code)) => code,
            Ok(Err(_)) => return Err("the SMTP sink dropped the wait for the code".into()),
            Err(_) => return Err("no code mailed".into()),
        };
        let request = respond(
            &self.endpoint,
            &fixture.client_id,
            "EMAIL_OTP",
            &session,
            json!({ "USERNAME": user.username, "EMAIL_OTP_CODE": code }),
        );
        expect_ok(conn, &request).await?;
        has_tokens(conn.body())
    }
}

/// The report's sentence on the EMAIL_OTP setup and the sink.
pub fn email_setup_note(fixture: &EmailOtpFixture) -> String {
    format!(
        "Setup for `user_auth_email_otp`: pool {} with `Policies.SignInPolicy.AllowedFirstAuthFactors` PASSWORD and EMAIL_OTP, client {} with ALLOW_USER_AUTH, and {} users with an address at {DOMAIN} (SignUp, AdminConfirmSignUp, AdminUpdateUserAttributes `email_verified` true), then one check sign-in: {:.1} s. tessera sends one user at most {CODES_PER_USER} sign-in codes an hour (TooManyRequestsException after), so each user is used for at most {CODES_PER_USER} sign-ins, and the population is sized for {} sign-ins/s over the warm-up and the measured window, plus one user per connection (half the cores × one thread's {} RS256 signatures/s measured before: every sign-in signs an ID and an access token; a bound far above what the run reaches, so that it cannot run out). Each user is leased to one connection at a time, so that a code cannot reach another sign-in. tessera ran with a config whose `[delivery.smtp]` points at an SMTP sink inside the bench (smtp.rs: 127.0.0.1:{}, `security = \"none\"`, a thread and tokio runtime of its own), which answers EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP and QUIT, takes each message's eight-digit code from its body and hands it to the virtual user waiting for mail to that address; that user then answers RespondToAuthChallenge EMAIL_OTP with it. tessera sends the mail before InitiateAuth answers, so each operation includes one SMTP delivery through lettre's connection pool.",
        fixture.pool_id,
        fixture.client_id,
        thousands_int(fixture.users.len() as u64),
        fixture.setup_seconds,
        thousands(fixture.rate),
        thousands(fixture.rsa_one_thread),
        fixture.sink.addr.port(),
    )
}

/// The report's sentence on what the sink saw between `before` and `after` (the scenario's
/// run, warm-up included).
pub fn email_run_note(
    fixture: &EmailOtpFixture,
    before: &Counts,
    after: &Counts,
    ticks_per_second: f64,
) -> String {
    let messages = after.messages.saturating_sub(before.messages);
    let cpu = match (before.cpu_ticks, after.cpu_ticks) {
        (Some(before), Some(after)) if messages > 0 => format!(
            "; the sink's thread used {:.0} µs of CPU per message",
            after.saturating_sub(before) as f64 / ticks_per_second / messages as f64 * 1e6
        ),
        _ => String::new(),
    };
    format!(
        "`user_auth_email_otp`: during the run (warm-up included) the sink received {} messages on {} new SMTP connections and handed {} codes to waiting sign-ins; {} messages were for nobody waiting and {} had no eight-digit code{cpu}; {} of the {} users were sent a code. A sign-in counts only when RespondToAuthChallenge answers 200 with an AuthenticationResult holding an access and an ID token.",
        thousands_int(messages),
        thousands_int(after.connections.saturating_sub(before.connections)),
        thousands_int(after.handed.saturating_sub(before.handed)),
        thousands_int(after.unclaimed.saturating_sub(before.unclaimed)),
        thousands_int(after.without_code.saturating_sub(before.without_code)),
        thousands_int(fixture.used() as u64),
        thousands_int(fixture.users.len() as u64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_challenges_and_tokens() {
        let challenge =
            br#"{"ChallengeName":"SOFTWARE_TOKEN_MFA","Session":"s1","ChallengeParameters":{}}"#;
        assert_eq!(
            session_of(challenge, "SOFTWARE_TOKEN_MFA").as_deref(),
            Ok("s1")
        );
        assert_eq!(
            session_of(challenge, "EMAIL_OTP"),
            Err("no EMAIL_OTP challenge".into())
        );
        let tokens = br#"{"AuthenticationResult":{"AccessToken":"a","IdToken":"i","RefreshToken":"r"},"ChallengeParameters":{}}"#;
        assert_eq!(
            session_of(tokens, "SOFTWARE_TOKEN_MFA"),
            Err("tokens without the SOFTWARE_TOKEN_MFA challenge".into())
        );
        assert_eq!(has_tokens(tokens), Ok(()));
        assert!(has_tokens(br#"{"AuthenticationResult":{"AccessToken":""}}"#).is_err());
        assert!(has_tokens(challenge).is_err());
        assert!(unsupported(
            "SetUserPoolMfaConfig answered HTTP 400: {\"__type\":\"UnknownOperationException\"}"
        )
        .is_some_and(|reason| reason.starts_with("not supported by the server")));
        assert_eq!(unsupported("AdminCreateUser answered HTTP 500: {}"), None);
    }

    #[test]
    fn leases_each_user_for_at_most_its_codes() {
        let mut leases = Leases::new(3);
        // Two connections: users go round, the longest idle first, none leased twice at once.
        let mut taken = Vec::new();
        for _ in 0..7 {
            let a = leases.take(3);
            let b = leases.take(3);
            assert!(a.is_none() || a != b, "{a:?} {b:?}");
            taken.extend([a, b]);
            leases.free.extend(a);
            leases.free.extend(b);
        }
        let users: Vec<usize> = taken.iter().flatten().copied().collect();
        assert_eq!(users, [0, 1, 2, 0, 1, 2, 0, 1, 2]);
        // Three users, three codes each: nine sign-ins, then no one.
        assert!(taken.iter().skip(9).all(Option::is_none));
        assert_eq!(leases.sent, [3, 3, 3]);
        assert!(leases.free.is_empty());
    }
}
