//! `tessera-bench credentials`: what checking a request signed with tessera's temporary
//! credentials costs a service (issue 14), in process, with no server. The request is a
//! PutObject as boto3 sends it over http (a 1 KiB signed body, its CRC32 in a header), and the
//! role has the per-identity folder policy Cognito's documentation gives. Each figure is one
//! thread, so it is also what one core of a service can do:
//!
//! - check and authorize: `Verifier::check` (open the token, SigV4 with its secret) then
//!   `Caller::authorize`, what a service runs per request;
//! - check: the same without the policy evaluation;
//! - authorize: the policy evaluation alone, on an already opened session;
//! - open: decrypting and parsing the session token alone.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};
use tessera_credentials::{
    issue, open, Caller, Decision, Entropy, Policy, Request, SessionClaims, SessionKey, Verifier,
};
use tessera_sigv4::{Dialect, Options};

use crate::server::{ticks_per_second, Machine};
use crate::util::{amz_date, parse_duration, report_date, Context, Result};

/// The credentials benchmark's flags.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Measured time per figure (3, 3s, 500ms).
    #[arg(long, default_value = "3s", value_parser = parse_duration)]
    duration: Duration,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

const IDENTITY: &str = "us-east-1:0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
const BUCKET: &str = "photos";

/// The policy of Cognito's documentation for per-identity folders.
const POLICY: &str = r#"{
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
}"#;

/// A signed request and everything it borrows from.
struct Fixture {
    verifier: Verifier,
    keys: Vec<SessionKey>,
    token: String,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
    resource: String,
    signed_headers: usize,
    now: SystemTime,
}

impl Fixture {
    fn new() -> Result<Fixture> {
        let now = SystemTime::now();
        let now_secs = now
            .duration_since(UNIX_EPOCH)
            .context("reading the clock")?
            .as_secs();
        let key = SessionKey::from_bytes([7; 32]);
        let claims = SessionClaims {
            identity_id: IDENTITY.into(),
            identity_pool_id: "us-east-1:5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d".into(),
            role_arn: "arn:aws:iam::123456789012:role/tessera-authenticated".into(),
            role_session_name: "CognitoIdentityCredentials".into(),
            account: "123456789012".into(),
            issued_at: now_secs,
            expires_at: now_secs + 3600,
            amr: vec![
                "authenticated".into(),
                "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI".into(),
                "cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEfGhI:CognitoSignIn:0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0".into(),
            ],
            principal_tags: BTreeMap::new(),
            policies: vec![Policy::parse(POLICY).context("parsing the benchmark's policy")?],
            source: "tessera".into(),
        };
        // Fixed bytes: the figures do not depend on them.
        let entropy = Entropy::from_bytes(std::array::from_fn(|i| i as u8));
        let credentials = issue(&key, claims, &entropy);

        let path = format!("/{BUCKET}/{}/cat.jpg", IDENTITY.replace(':', "%3A"));
        let body = vec![b'x'; 1024];
        let sha256 = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &body));
        let date = amz_date(now);
        let signed = [
            ("host", "127.0.0.1:9000"),
            ("x-amz-checksum-crc32", "Gv0F6g=="),
            ("x-amz-content-sha256", sha256.as_str()),
            ("x-amz-date", date.as_str()),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
            ("x-amz-security-token", credentials.session_token.as_str()),
        ];
        let unsigned = [
            ("accept-encoding", "identity"),
            (
                "user-agent",
                "Boto3/1.44.8 md/Botocore#1.44.8 ua/2.1 os/linux lang/python#3.11.7",
            ),
            ("expect", "100-continue"),
            (
                "amz-sdk-invocation-id",
                "cdf98609-1909-4f3f-9de2-605f5fbb2062",
            ),
            ("amz-sdk-request", "attempt=1; max=3"),
            ("content-length", "1024"),
        ];
        let mut headers = HeaderMap::new();
        for (name, value) in signed.iter().chain(&unsigned) {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).context("building a header")?,
            );
        }
        let names: Vec<&str> = signed.iter().map(|(name, _)| *name).collect();
        let authorization = tessera_sigv4::authorization_header_with(
            &Request {
                method: "PUT",
                path: &path,
                query: "",
                headers: &headers,
                body: &body,
            },
            &credentials.access_key_id,
            &credentials.secret_access_key,
            "us-east-1",
            "s3",
            &names,
            &Options::new(Dialect::S3),
        )
        .map_err(|error| format!("signing the request: {error}"))?;
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&authorization).context("building the Authorization header")?,
        );
        Ok(Fixture {
            verifier: Verifier::new(vec![key.clone()]),
            keys: vec![key],
            token: credentials.session_token,
            path,
            headers,
            body,
            resource: format!("arn:aws:s3:::{BUCKET}/{IDENTITY}/cat.jpg"),
            signed_headers: names.len(),
            now,
        })
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

    fn check(&self) -> Option<Caller> {
        self.verifier.check(&self.request(), "s3", self.now).ok()
    }
}

/// Runs `work` on this thread for `duration` and returns how many times per second it ran;
/// `None` if it ever reported a failure, since a failing path is not the one being measured.
fn per_second(duration: Duration, mut work: impl FnMut() -> bool) -> Option<f64> {
    // A short warm-up, so that the first figure does not pay for cold caches.
    let warm_up = Instant::now();
    while warm_up.elapsed() < duration / 10 {
        if !work() {
            return None;
        }
    }
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < duration {
        // Checking the clock every few iterations keeps its cost out of the figure.
        for _ in 0..16 {
            if !work() {
                return None;
            }
        }
        count += 16;
    }
    Some(count as f64 / started.elapsed().as_secs_f64())
}

pub fn run(args: Args) -> Result<()> {
    let fixture = Fixture::new()?;
    let caller = fixture
        .check()
        .context("the benchmark's signed request does not pass the check")?;
    let no_keys = BTreeMap::new();
    if caller.authorize("s3:PutObject", &fixture.resource, &no_keys) != Decision::Allow {
        return Err("the benchmark's policy does not allow the request".into());
    }
    let machine = Machine::describe(ticks_per_second());
    let date = report_date(SystemTime::now());
    let duration = args.duration;

    eprintln!("measuring check and authorize ...");
    let full = per_second(duration, || {
        fixture.check().is_some_and(|caller| {
            black_box(caller.authorize("s3:PutObject", &fixture.resource, &no_keys))
                == Decision::Allow
        })
    })
    .context("check and authorize failed")?;
    eprintln!("measuring check ...");
    let check =
        per_second(duration, || black_box(fixture.check()).is_some()).context("check failed")?;
    eprintln!("measuring authorize ...");
    let authorize = per_second(duration, || {
        black_box(caller.authorize(
            black_box("s3:PutObject"),
            black_box(&fixture.resource),
            &no_keys,
        )) == Decision::Allow
    })
    .context("authorize failed")?;
    eprintln!("measuring open ...");
    let opened = per_second(duration, || {
        black_box(open(&fixture.keys, black_box(&fixture.token))).is_ok()
    })
    .context("open failed")?;

    let row = |name: &str, rate: f64| {
        format!(
            "| {name} | {rate:>9.0} | {:>7.2} µs |\n",
            1e6 / rate.max(1e-9)
        )
    };
    let mut report = String::new();
    report.push_str("## Temporary credentials: the service-side check (issue 14)\n\n");
    report.push_str(&format!(
        "{date}; {} ({} logical CPUs). One thread, so each figure is also one core's; in process, no server. `tessera-bench credentials --duration {}`.\n\n",
        machine.cpu_model,
        machine.cores,
        humantime(duration)
    ));
    report.push_str(&format!(
        "The request: an S3 PutObject as boto3 sends it over http (1 KiB signed body, CRC32 header, {} signed headers), with a {}-byte session token whose role has the per-identity folder policy (`arn:aws:s3:::photos/${{cognito-identity.amazonaws.com:sub}}/*`).\n\n",
        fixture.signed_headers,
        fixture.token.len()
    ));
    report.push_str("| Operation | per second | per operation |\n|---|---:|---:|\n");
    report.push_str(&row("check + authorize (per request)", full));
    report.push_str(&row("check (token, SigV4)", check));
    report.push_str(&row("authorize (policy evaluation)", authorize));
    report.push_str(&row("open (token alone)", opened));
    crate::report::publish(&report, args.output.as_deref())
}

fn humantime(duration: Duration) -> String {
    if duration.subsec_millis() == 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}
