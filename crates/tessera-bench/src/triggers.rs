//! `tessera-bench triggers`: what a PreTokenGeneration webhook costs (issue 12). For each
//! backend (SQLite, then PostgreSQL) it
//!
//! 1. starts the webhook receiver of `receiver.rs` (a Standard Webhooks verifier and a V2
//!    PreTokenGeneration handler adding one claim to each token) on 127.0.0.1, with a fresh
//!    secret;
//! 2. starts the real `tessera serve` with a config whose `[[triggers]]` table routes the
//!    function's ARN to that receiver, on a fresh data directory or a fresh PostgreSQL
//!    database;
//! 3. creates two pools alike, with the same client and the same users, except that one names
//!    the function in its `LambdaConfig` (`PreTokenGenerationConfig` V2_0) and the other has
//!    no trigger;
//! 4. measures the latency of USER_PASSWORD_AUTH and REFRESH_TOKEN_AUTH one request at a time
//!    on one connection, the two pools alternating request by request, so that the difference
//!    is the trigger's own cost and not queueing, nor the machine changing speed between two
//!    runs;
//! 5. measures REFRESH_TOKEN_AUTH throughput with the load benchmark's closed loop, on each
//!    pool in turn, several rounds in alternating order;
//! 6. checks the measurement: the receiver must have answered one call for every token
//!    issuance of the pool with the trigger (and none for the other), the tokens must carry
//!    the claims the handler added (every answer of the latency runs is decoded, one in
//!    [`CHECK_EVERY`] of the throughput runs), and tessera's log must hold one `trigger ran`
//!    line per call.
//!
//! It only reports; no figure is a pass/fail test. All traffic stays on the loopback interface
//! and every loop is bounded in time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::api::{self, password_auth_body, Endpoint, Fixture};
use crate::http::Conn;
use crate::load::{closed_loop, expect_ok, new_histogram, Measured, Operation, Plan};
use crate::receiver::{Receiver, Snapshot, ACCESS_CLAIM, ID_CLAIM};
use crate::report::{cores, latency, publish, thousands, trim_float, OTHER_CPU_NOTE};
use crate::server::{self, Backend, Surroundings};
use crate::util::{parse_duration, Context, Result};

/// The function the pool with the trigger names; the `[[triggers]]` table routes exactly it.
const FUNCTION_ARN: &str =
    "arn:aws:lambda:us-east-1:000000000000:function:tessera-bench-pre-token-generation";
const SIGN_IN_SOURCE: &str = "TokenGeneration_Authentication";
const REFRESH_SOURCE: &str = "TokenGeneration_RefreshTokens";
/// The throughput runs decode the tokens of one answer in this many.
pub const CHECK_EVERY: u64 = 256;
/// How long one request of the latency runs may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How many connections per CPU create the users.
const SETUP_CONNECTIONS_PER_CPU: usize = 2;

/// `tessera-bench triggers`: the PreTokenGeneration webhook benchmark of issue 12.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Backends, comma-separated, run in this order: sqlite, postgres.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    backends: Vec<String>,
    /// The administrative URL a fresh PostgreSQL database is created through (and dropped
    /// afterwards).
    #[arg(
        long,
        value_name = "URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres: String,
    /// Users per pool (each pool has the same); the requests cycle through them.
    #[arg(long, default_value_t = 64)]
    users: usize,
    /// Latency runs: measured time of the sign-ins, both pools alternating (a sign-in costs
    /// an argon2id hash, so it takes longer than a refresh to gather as many).
    #[arg(long, default_value = "40s", value_parser = parse_duration)]
    sign_in_duration: Duration,
    /// Latency runs: measured time of the refreshes, both pools alternating.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    refresh_duration: Duration,
    /// Latency runs: unmeasured time before each flow's measured window.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    latency_warmup: Duration,
    /// Throughput runs: connections, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Throughput runs: measured time per run.
    #[arg(long, default_value = "6s", value_parser = parse_duration)]
    duration: Duration,
    /// Throughput runs: unmeasured time before each run's window.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Throughput rounds; each runs both pools, in the opposite order from the round before.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The tessera binary (default: `tessera` next to this program, i.e. target/release).
    #[arg(long, value_name = "PATH")]
    tessera: Option<PathBuf>,
}

impl Args {
    pub(crate) fn tessera(&self) -> Option<&Path> {
        self.tessera.as_deref()
    }
}

/// The two pools, in the order of every table: without the trigger, with it.
const OFF: usize = 0;
const ON: usize = 1;
const VARIANTS: [usize; 2] = [OFF, ON];

fn label(variant: usize) -> &'static str {
    if variant == ON {
        "on"
    } else {
        "off"
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    SignIn,
    Refresh,
}

impl Flow {
    fn name(self) -> &'static str {
        match self {
            Flow::SignIn => "USER_PASSWORD_AUTH sign-in",
            Flow::Refresh => "REFRESH_TOKEN_AUTH refresh",
        }
    }

    fn duration(self, args: &Args) -> Duration {
        match self {
            Flow::SignIn => args.sign_in_duration,
            Flow::Refresh => args.refresh_duration,
        }
    }

    fn source(self) -> &'static str {
        match self {
            Flow::SignIn => SIGN_IN_SOURCE,
            Flow::Refresh => REFRESH_SOURCE,
        }
    }

    /// One InitiateAuth per user of the fixture, in the fixture's order.
    fn requests(self, endpoint: &Endpoint, fixture: &Fixture) -> Vec<Vec<u8>> {
        fixture
            .users
            .iter()
            .map(|user| {
                let body = match self {
                    Flow::SignIn => password_auth_body(&fixture.client_id, &user.username),
                    Flow::Refresh => json!({
                        "AuthFlow": "REFRESH_TOKEN_AUTH",
                        "ClientId": fixture.client_id,
                        "AuthParameters": { "REFRESH_TOKEN": user.refresh_token },
                    })
                    .to_string(),
                };
                endpoint.public("InitiateAuth", body.as_bytes())
            })
            .collect()
    }
}

/// The receiver's calls over one measurement, against the token issuances they stand for.
#[derive(Debug, Clone, Default)]
struct CallCheck {
    /// Successful answers (token issuances) of the pool with the trigger.
    issued: u64,
    /// Calls answered for that pool with the flow's trigger source.
    received: u64,
    /// Calls for that pool with another source.
    other_source: u64,
    /// Calls for the pool without the trigger.
    off_pool: u64,
    refused_signature: u64,
    malformed: u64,
}

impl CallCheck {
    fn between(
        before: &Snapshot,
        after: &Snapshot,
        pools: &[&Fixture; 2],
        source: &str,
        issued: u64,
    ) -> Self {
        let on = pools[ON].pool_id.as_str();
        let received = after.calls_since(before, on, source);
        Self {
            issued,
            received,
            other_source: after.pool_calls_since(before, on).saturating_sub(received),
            off_pool: after.pool_calls_since(before, &pools[OFF].pool_id),
            refused_signature: after.refused_signature - before.refused_signature,
            malformed: after.malformed - before.malformed,
        }
    }

    fn holds(&self) -> bool {
        self.issued == self.received
            && self.other_source == 0
            && self.off_pool == 0
            && self.refused_signature == 0
            && self.malformed == 0
    }

    fn describe(&self) -> String {
        let mut text = format!(
            "{} calls for {} token issuances",
            thousands_int(self.received),
            thousands_int(self.issued)
        );
        if self.other_source > 0 {
            let _ = write!(text, ", {} with another source", self.other_source);
        }
        if self.off_pool > 0 {
            let _ = write!(
                text,
                ", **{} for the pool without the trigger**",
                self.off_pool
            );
        }
        if self.refused_signature > 0 || self.malformed > 0 {
            let _ = write!(
                text,
                ", **{} refused signatures, {} unreadable events**",
                self.refused_signature, self.malformed
            );
        }
        if !self.holds() {
            text.push_str(" (**mismatch**)");
        }
        text
    }
}

fn thousands_int(n: u64) -> String {
    if n < 100 {
        n.to_string()
    } else {
        thousands(n as f64)
    }
}

/// One flow's sequential latency, both pools.
struct LatencyRun {
    flow: Flow,
    /// Per pool: the measured window's figures (ok, p50, p99, max).
    measured: [Measured; 2],
    /// Per pool: failed requests (warm-up included), by kind.
    errors: [std::collections::BTreeMap<String, u64>; 2],
    /// Per pool: answers whose tokens were decoded and checked, and of those, how many failed.
    checked: [u64; 2],
    token_failures: [u64; 2],
    calls: CallCheck,
    /// Connections the receiver accepted during the run.
    connections: u64,
    /// CPU used outside tessera, the bench (receiver included) and PostgreSQL during the run,
    /// in cores.
    other_cpu: Option<f64>,
    /// Where the run's lines are in tessera's log, and what they say.
    log: std::ops::Range<u64>,
    tessera: TriggerLog,
}

/// The `trigger ran` lines of a stretch of tessera's log, and the `latency_ms` they give.
#[derive(Debug, Clone, Default)]
struct TriggerLog {
    lines: u64,
    /// Sorted.
    latency_ms: Vec<f64>,
}

impl TriggerLog {
    fn describe(&self) -> String {
        format!(
            "{} `trigger ran` lines, `latency_ms` p50 {} and p99 {}",
            thousands_int(self.lines),
            quantile(&self.latency_ms, 0.5).map_or_else(|| "—".into(), |v| format!("{v:.2} ms")),
            quantile(&self.latency_ms, 0.99).map_or_else(|| "—".into(), |v| format!("{v:.2} ms"))
        )
    }
}

/// One throughput run of one pool.
struct ThroughputRun {
    variant: usize,
    round: usize,
    measured: Measured,
    /// The receiver thread's CPU per call over the run (warm-up included), in µs.
    receiver_us_per_call: Option<f64>,
    /// The receiver's CPU over the run, in cores.
    receiver_cores: Option<f64>,
    checked: u64,
    calls: CallCheck,
    connections: u64,
    log: std::ops::Range<u64>,
    tessera: TriggerLog,
}

struct BackendRun {
    description: String,
    setup_seconds: f64,
    setup_calls: CallCheck,
    pools: [String; 2],
    latency: Vec<LatencyRun>,
    throughput: Vec<ThroughputRun>,
    /// `trigger ran` lines in tessera's whole log.
    log_lines: u64,
    total_calls: u64,
    total_connections: u64,
    server_hwm_kib: Option<u64>,
    stopped: String,
    notes: Vec<String>,
}

pub(crate) fn run(args: Args, binary: &Path) -> Result<()> {
    if args.users == 0 || args.concurrency == 0 || args.rounds == 0 {
        return Err("--users, --concurrency and --rounds must be at least 1".into());
    }
    if args.duration.is_zero() || args.sign_in_duration.is_zero() || args.refresh_duration.is_zero()
    {
        return Err(
            "--duration, --sign-in-duration and --refresh-duration must be more than zero".into(),
        );
    }
    let mut backends = Vec::new();
    for name in &args.backends {
        match name.trim().to_ascii_lowercase().as_str() {
            "sqlite" => backends.push(None),
            "postgres" | "postgresql" => backends.push(Some(args.postgres.clone())),
            other => {
                return Err(format!(
                    "unknown backend {other:?}; the backends are sqlite and postgres"
                ))
            }
        }
    }
    let surroundings = Surroundings::observe(binary, "tessera-bench triggers");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the load generator's runtime")?;
    // PostgreSQL is checked before anything runs, so that a missing server does not cost the
    // SQLite run.
    if backends.iter().any(Option::is_some) {
        runtime.block_on(async {
            use sqlx::Connection;
            let conn = sqlx::PgConnection::connect(&args.postgres)
                .await
                .context(format!(
                    "connecting to {} (or run with --backends sqlite)",
                    server::redact(&args.postgres)
                ))?;
            let _ = conn.close().await;
            Ok::<_, String>(())
        })?;
    }
    let mut runs = Vec::new();
    for postgres in &backends {
        runs.push(runtime.block_on(on_backend(
            &args,
            binary,
            postgres.as_deref(),
            surroundings.ticks_per_second,
        ))?);
    }
    let report = render(&args, &surroundings, &runs);
    publish(&report, args.output.as_deref())
}

/// The whole measurement on one backend, its database dropped afterwards.
async fn on_backend(
    args: &Args,
    binary: &Path,
    postgres: Option<&str>,
    ticks: f64,
) -> Result<BackendRun> {
    let backend = Backend::create(postgres).await?;
    let result = with_server(args, binary, &backend, ticks).await;
    let dropped = backend.clean_up().await;
    let mut run = result?;
    run.notes.extend(dropped);
    Ok(run)
}

async fn with_server(
    args: &Args,
    binary: &Path,
    backend: &Backend,
    ticks: f64,
) -> Result<BackendRun> {
    let receiver = Receiver::start()?;
    let config = backend.scratch_dir().join("tessera-triggers.toml");
    std::fs::write(
        &config,
        format!(
            "[[triggers]]\nfunctions = [\"{FUNCTION_ARN}\"]\nwebhook = \"{}\"\nsecrets = [\"{}\"]\ntimeout_seconds = 5\n",
            receiver.url(),
            receiver.secret
        ),
    )
    .context("writing the trigger config")?;
    let mut server = backend.start_with_config(binary, &config)?;
    eprintln!(
        "tessera-bench triggers: {} — tessera on {}, webhook receiver on {}",
        backend.description, server.addr, receiver.addr
    );
    let endpoint = server.endpoint();
    let parallel =
        SETUP_CONNECTIONS_PER_CPU * std::thread::available_parallelism().map_or(1, usize::from);

    eprintln!(
        "tessera-bench triggers: creating two pools with {} signed-in users each ...",
        args.users
    );
    let setup_started = Instant::now();
    let before_setup = receiver.snapshot();
    let mut conn = Conn::new(endpoint.addr);
    let mut fixtures = Vec::new();
    for variant in VARIANTS {
        let mut pool = json!({ "PoolName": format!("tessera-bench-trigger-{}", label(variant)) });
        if variant == ON {
            pool["LambdaConfig"] = json!({
                "PreTokenGeneration": FUNCTION_ARN,
                "PreTokenGenerationConfig": { "LambdaArn": FUNCTION_ARN, "LambdaVersion": "V2_0" },
            });
        }
        let mut fixture = api::create_pool_and_client(&mut conn, &endpoint, pool, |pool_id| {
            json!({
                "UserPoolId": pool_id,
                "ClientName": "tessera-bench",
                "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            })
        })
        .await
        .map_err(|error| server.with_log_tail(error))?;
        api::add_users(&endpoint, &mut fixture, args.users, parallel)
            .await
            .map_err(|error| server.with_log_tail(error))?;
        fixtures.push(fixture);
    }
    let setup_seconds = setup_started.elapsed().as_secs_f64();
    let [off, on] = <[Fixture; 2]>::try_from(fixtures).map_err(|_| "two pools".to_owned())?;
    let pools = [&off, &on];
    let setup_calls = CallCheck::between(
        &before_setup,
        &receiver.snapshot(),
        &pools,
        SIGN_IN_SOURCE,
        args.users as u64,
    );
    if !setup_calls.holds() {
        return Err(server.with_log_tail(format!(
            "the receiver's calls during setup do not match the sign-ins: {}",
            setup_calls.describe()
        )));
    }
    // One sign-in on each pool, its tokens decoded, before anything is measured.
    for variant in VARIANTS {
        let requests = Flow::SignIn.requests(&endpoint, pools[variant]);
        let checked = match requests.first() {
            Some(request) => match expect_ok(&mut conn, request).await {
                Ok(()) => check_tokens(conn.body(), variant == ON),
                Err(kind) => Err(kind),
            },
            None => Err("no user".into()),
        };
        if let Err(error) = checked {
            return Err(server.with_log_tail(format!(
                "the probe sign-in on the pool with the trigger {}: {error}",
                label(variant)
            )));
        }
    }

    let mut latency_runs = Vec::new();
    for flow in [Flow::SignIn, Flow::Refresh] {
        eprintln!(
            "tessera-bench triggers: {} latency, one request at a time ({} s warm-up, {} s measured) ...",
            flow.name(),
            trim_float(args.latency_warmup.as_secs_f64()),
            trim_float(flow.duration(args).as_secs_f64())
        );
        let log_from = log_len(backend);
        let mut run =
            sequential(args, &endpoint, &pools, flow, &receiver, server.pid, ticks).await?;
        run.log = log_from..log_len(backend);
        for variant in VARIANTS {
            eprintln!(
                "  trigger {}: {} requests, p50 {} µs, p99 {} µs",
                label(variant),
                run.measured[variant].ok,
                run.measured[variant].p50_us,
                run.measured[variant].p99_us
            );
        }
        if !run.calls.holds() {
            eprintln!("  receiver: {}", run.calls.describe());
        }
        latency_runs.push(run);
    }

    let plan = Plan {
        concurrency: args.concurrency,
        warmup: args.warmup,
        duration: args.duration,
    };
    let mut throughput = Vec::new();
    for round in 0..args.rounds {
        let order = if round.is_multiple_of(2) {
            [OFF, ON]
        } else {
            [ON, OFF]
        };
        for variant in order {
            eprintln!(
                "tessera-bench triggers: refresh throughput, trigger {}, round {} of {} ...",
                label(variant),
                round + 1,
                args.rounds
            );
            let load = Arc::new(TokenLoad {
                requests: Flow::Refresh.requests(&endpoint, pools[variant]),
                with_claims: variant == ON,
                next: AtomicU64::new(0),
                ok: AtomicU64::new(0),
                checked: AtomicU64::new(0),
            });
            let before = receiver.snapshot();
            let log_from = log_len(backend);
            let started = Instant::now();
            let measured =
                closed_loop(load.clone(), endpoint.addr, plan, server.pid, ticks).await?;
            let elapsed = started.elapsed().as_secs_f64();
            let after = receiver.snapshot();
            let log = log_from..log_len(backend);
            let issued = if variant == ON {
                load.ok.load(Ordering::Relaxed)
            } else {
                0
            };
            let calls = CallCheck::between(&before, &after, &pools, REFRESH_SOURCE, issued);
            let receiver_ticks = after
                .cpu_ticks
                .zip(before.cpu_ticks)
                .map(|(a, b)| a.saturating_sub(b) as f64 / ticks);
            let all_calls = after.all_calls_since(&before);
            let run = ThroughputRun {
                variant,
                round,
                receiver_us_per_call: receiver_ticks
                    .filter(|_| all_calls > 0)
                    .map(|seconds| seconds * 1e6 / all_calls as f64),
                receiver_cores: receiver_ticks.map(|seconds| seconds / elapsed.max(1e-9)),
                checked: load.checked.load(Ordering::Relaxed),
                measured,
                calls,
                connections: after.connections - before.connections,
                log,
                tessera: TriggerLog::default(),
            };
            eprintln!(
                "  {:.0} req/s, p50 {} µs, p99 {} µs, {} errors",
                run.measured.per_second(),
                run.measured.p50_us,
                run.measured.p99_us,
                run.measured.errors
            );
            throughput.push(run);
        }
    }

    let at_end = receiver.snapshot();
    let total_calls = at_end.all_calls_since(&before_setup);
    let total_connections = at_end.connections - before_setup.connections;
    let server_hwm_kib = server::status_kib(server.pid, "VmHWM");
    let stopped = server.stop();
    eprintln!("tessera-bench triggers: tessera {stopped}");
    let log = std::fs::read(backend.scratch_dir().join("server.log")).unwrap_or_default();
    let stretch = |range: &std::ops::Range<u64>| {
        let slice = usize::try_from(range.start)
            .ok()
            .zip(usize::try_from(range.end).ok())
            .and_then(|(start, end)| log.get(start..end))
            .unwrap_or_default();
        trigger_log(&String::from_utf8_lossy(slice))
    };
    for run in &mut latency_runs {
        run.tessera = stretch(&run.log);
    }
    for run in &mut throughput {
        run.tessera = stretch(&run.log);
    }
    let log_lines = trigger_log(&String::from_utf8_lossy(&log)).lines;
    drop(receiver);
    Ok(BackendRun {
        description: backend.description.clone(),
        setup_seconds,
        setup_calls,
        pools: [off.pool_id.clone(), on.pool_id.clone()],
        latency: latency_runs,
        throughput,
        log_lines,
        total_calls,
        total_connections,
        server_hwm_kib,
        stopped,
        notes: Vec::new(),
    })
}

/// One flow's latency: one connection per pool, one request at a time, the pools taking
/// turns request by request (which goes first alternates too).
async fn sequential(
    args: &Args,
    endpoint: &Endpoint,
    pools: &[&Fixture; 2],
    flow: Flow,
    receiver: &Receiver,
    server_pid: u32,
    ticks: f64,
) -> Result<LatencyRun> {
    let busy_before = other_busy_ticks(server_pid);
    let requests = [
        flow.requests(endpoint, pools[OFF]),
        flow.requests(endpoint, pools[ON]),
    ];
    let mut conns = [Conn::new(endpoint.addr), Conn::new(endpoint.addr)];
    let mut histograms = [new_histogram(), new_histogram()];
    let mut ok = [0u64; 2];
    let mut checked = [0u64; 2];
    let mut token_failures = [0u64; 2];
    let mut errors: [std::collections::BTreeMap<String, u64>; 2] = Default::default();
    let before = receiver.snapshot();
    let begin = Instant::now();
    let measure_from = begin + args.latency_warmup;
    let end = measure_from + flow.duration(args);
    let mut turn = 0usize;
    while Instant::now() < end {
        let order = if turn.is_multiple_of(2) {
            [OFF, ON]
        } else {
            [ON, OFF]
        };
        for variant in order {
            let Some(request) = requests[variant].get(turn % requests[variant].len().max(1)) else {
                return Err("no users".into());
            };
            let conn = &mut conns[variant];
            let started = Instant::now();
            let outcome = tokio::time::timeout(CALL_TIMEOUT, expect_ok(conn, request))
                .await
                .unwrap_or_else(|_| Err("timeout".into()));
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            // The tokens are checked after the clock stopped.
            let outcome = outcome.and_then(|()| {
                ok[variant] += 1;
                checked[variant] += 1;
                check_tokens(conn.body(), variant == ON).inspect_err(|_| {
                    token_failures[variant] += 1;
                })
            });
            match outcome {
                Ok(()) if started >= measure_from => {
                    let _ = histograms[variant].record(micros.max(1));
                }
                Ok(()) => {}
                Err(kind) => *errors[variant].entry(kind).or_insert(0) += 1,
            }
        }
        turn += 1;
    }
    let after = receiver.snapshot();
    let other_cpu = other_busy_ticks(server_pid)
        .zip(busy_before)
        .map(|(a, b)| a.saturating_sub(b) as f64 / ticks / begin.elapsed().as_secs_f64());
    let seconds = flow.duration(args).as_secs_f64();
    Ok(LatencyRun {
        flow,
        measured: [
            Measured::from_histogram(&histograms[OFF], seconds),
            Measured::from_histogram(&histograms[ON], seconds),
        ],
        errors,
        checked,
        token_failures,
        calls: CallCheck::between(&before, &after, pools, flow.source(), ok[ON]),
        connections: after.connections - before.connections,
        other_cpu,
        log: 0..0,
        tessera: TriggerLog::default(),
    })
}

/// REFRESH_TOKEN_AUTH for the throughput runs: the users in turn, every answer counted (for
/// the comparison with the receiver's calls), one in [`CHECK_EVERY`] decoded.
struct TokenLoad {
    requests: Vec<Vec<u8>>,
    with_claims: bool,
    next: AtomicU64,
    ok: AtomicU64,
    checked: AtomicU64,
}

impl Operation for TokenLoad {
    async fn once(&self, conn: &mut Conn) -> std::result::Result<(), String> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let index = usize::try_from(n % self.requests.len().max(1) as u64).unwrap_or(0);
        let request = self.requests.get(index).ok_or("no request")?;
        expect_ok(conn, request).await?;
        let answered = self.ok.fetch_add(1, Ordering::Relaxed);
        if answered.is_multiple_of(CHECK_EVERY) {
            self.checked.fetch_add(1, Ordering::Relaxed);
            check_tokens(conn.body(), self.with_claims)?;
        }
        Ok(())
    }
}

/// The claims of a JWT, without checking its signature.
fn claims_of(token: &str) -> std::result::Result<Value, String> {
    token
        .split('.')
        .nth(1)
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .filter(Value::is_object)
        .ok_or_else(|| "a token is not a JWT".to_owned())
}

/// Checks an InitiateAuth answer's tokens: with the trigger, the ID token carries
/// [`ID_CLAIM`] and the access token [`ACCESS_CLAIM`]; without, neither carries either.
fn check_tokens(body: &[u8], with_claims: bool) -> std::result::Result<(), String> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|_| "the answer is not JSON".to_owned())?;
    for (name, token_use, own, other) in [
        ("IdToken", "id", ID_CLAIM, ACCESS_CLAIM),
        ("AccessToken", "access", ACCESS_CLAIM, ID_CLAIM),
    ] {
        let token = answer
            .pointer(&format!("/AuthenticationResult/{name}"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the answer has no {name}"))?;
        let claims = claims_of(token)?;
        if claims.get("token_use").and_then(Value::as_str) != Some(token_use) {
            return Err(format!("the {name} is not token_use {token_use}"));
        }
        let carries =
            |(claim, value): (&str, &str)| claims.get(claim).and_then(Value::as_str) == Some(value);
        if carries(own) != with_claims {
            return Err(format!(
                "the {name} {} the claim {}",
                if with_claims { "lacks" } else { "carries" },
                own.0
            ));
        }
        if claims.get(other.0).is_some() {
            return Err(format!(
                "the {name} carries the other token's claim {}",
                other.0
            ));
        }
    }
    Ok(())
}

/// Busy CPU time of the machine outside tessera, this process and PostgreSQL's processes, in
/// clock ticks: other work that would disturb a measurement.
fn other_busy_ticks(server_pid: u32) -> Option<u64> {
    let machine = server::machine_busy_ticks()?;
    let ours = server::cpu_ticks(Some(server_pid))? + server::cpu_ticks(None)?;
    let postgres = server::processes_cpu_ticks("postgres").unwrap_or(0);
    Some(machine.saturating_sub(ours + postgres))
}

/// The length of tessera's log so far: where the next phase's lines start.
fn log_len(backend: &Backend) -> u64 {
    std::fs::metadata(backend.scratch_dir().join("server.log")).map_or(0, |m| m.len())
}

/// The `trigger ran` lines of tessera's log and the `latency_ms` each gives.
fn trigger_log(log: &str) -> TriggerLog {
    let mut lines = 0;
    let mut latencies = Vec::new();
    for line in log.lines().filter(|line| line.contains("trigger ran")) {
        lines += 1;
        if let Some(value) = line
            .split_whitespace()
            .find_map(|field| field.strip_prefix("latency_ms="))
            .and_then(|value| value.parse::<f64>().ok())
        {
            latencies.push(value);
        }
    }
    latencies.sort_by(f64::total_cmp);
    TriggerLog {
        lines,
        latency_ms: latencies,
    }
}

fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.filter(|v| v.is_finite()).collect();
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 0 => Some((values[middle - 1] + values[middle]) / 2.0),
        _ => values.get(middle).copied(),
    }
}

/// `+1.23 ms`, `−0.05 ms`: the difference of two latencies in µs.
fn added(on_us: u64, off_us: u64) -> String {
    let ms = (on_us as f64 - off_us as f64) / 1000.0;
    let magnitude = ms.abs();
    let text = if magnitude < 10.0 {
        format!("{magnitude:.2} ms")
    } else {
        format!("{magnitude:.1} ms")
    };
    if ms < 0.0 {
        format!("−{text}")
    } else {
        format!("+{text}")
    }
}

fn change(off: Option<f64>, on: Option<f64>) -> String {
    match (off, on) {
        (Some(off), Some(on)) if off > 0.0 => {
            let percent = (on / off - 1.0) * 100.0;
            if percent < 0.0 {
                format!("−{:.1}%", -percent)
            } else {
                format!("+{percent:.1}%")
            }
        }
        _ => "—".into(),
    }
}

/// Server CPU (and, on PostgreSQL, the database's) per successful refresh, in ms.
fn per_operation_ms(cores: Option<f64>, measured: &Measured) -> Option<f64> {
    let ok = measured.ok;
    (ok > 0).then_some(())?;
    Some(cores? * measured.seconds / ok as f64 * 1000.0)
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "—".into(), |v| format!("{v:.3} ms"))
}

fn throughput_median(
    run: &BackendRun,
    variant: usize,
    value: impl Fn(&ThroughputRun) -> Option<f64>,
) -> Option<f64> {
    median(
        run.throughput
            .iter()
            .filter(|t| t.variant == variant)
            .filter_map(value),
    )
}

/// The command as typed: `scripts/bench triggers` and the flags given.
fn command_line() -> String {
    let flags: Vec<String> = std::env::args()
        .skip_while(|arg| arg != "triggers")
        .skip(1)
        .collect();
    let mut command = "scripts/bench triggers".to_owned();
    for flag in flags {
        command.push(' ');
        command.push_str(&flag);
    }
    command
}

fn backend_name(description: &str) -> &'static str {
    if description.starts_with("PostgreSQL") {
        "PostgreSQL"
    } else {
        "SQLite"
    }
}

fn render(args: &Args, surroundings: &Surroundings, runs: &[BackendRun]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## PreTokenGeneration webhook: run of {}\n",
        surroundings.date
    );
    let _ = writeln!(out, "- Machine: {}", surroundings.machine.summary());
    match surroundings.machine.busy_at_start {
        Some(busy) if busy >= OTHER_CPU_NOTE => {
            let _ = writeln!(
                out,
                "- **Other work used {busy:.2} cores in the second before the run.**"
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "- Other work used under {OTHER_CPU_NOTE} cores in the second before the run."
            );
        }
    }
    let _ = writeln!(out, "- tessera commit: {}", surroundings.commit);
    let _ = writeln!(out, "- Command: `{}`", command_line());
    let _ = writeln!(
        out,
        "- Setup per backend: a fresh tessera and database; two pools created alike with {} users each (AdminCreateUser, AdminSetUserPassword Permanent, one USER_PASSWORD_AUTH sign-in each) and a client with ALLOW_USER_PASSWORD_AUTH and ALLOW_REFRESH_TOKEN_AUTH; the pool *on* has `LambdaConfig` `PreTokenGenerationConfig` {{LambdaArn: {FUNCTION_ARN}, LambdaVersion: V2_0}}, the pool *off* has no trigger. tessera's config routes that ARN to the webhook receiver (`[[triggers]]` with `webhook`, one `whsec_` secret of 32 random bytes, `timeout_seconds = 5`).",
        args.users
    );
    let _ = writeln!(
        out,
        "- Webhook receiver: in the bench process, on its own thread and single-threaded tokio runtime, HTTP/1.1 keep-alive on 127.0.0.1 (`crates/tessera-bench/src/receiver.rs`). Per call it verifies the Standard Webhooks signature before parsing (the three `webhook-*` headers, the timestamp within 5 minutes, HMAC-SHA256 over `id.timestamp.body` with the decoded secret against each `v1,` entry, compared in constant time), parses the event and answers it with `claimsAndScopeOverrideDetails` adding `{}: \"{}\"` to the ID token and `{}: \"{}\"` to the access token.",
        ID_CLAIM.0, ID_CLAIM.1, ACCESS_CLAIM.0, ACCESS_CLAIM.1
    );
    let _ = writeln!(
        out,
        "- Latency: one request at a time on one keep-alive connection per pool, the pools alternating request by request (and which goes first alternating too), users in turn; {} s warm-up, then {} s measured for the sign-ins and {} s for the refreshes. p50 and p99 are over the successful answers of the window, from sending to the last byte (hdrhistogram). *Added* is on minus off.",
        trim_float(args.latency_warmup.as_secs_f64()),
        trim_float(args.sign_in_duration.as_secs_f64()),
        trim_float(args.refresh_duration.as_secs_f64())
    );
    let _ = writeln!(
        out,
        "- Throughput: REFRESH_TOKEN_AUTH, the load benchmark's closed loop on {} connections, {} s warm-up then {} s measured per run; {} rounds, each running both pools, in alternating order; the medians are over the rounds.",
        args.concurrency,
        trim_float(args.warmup.as_secs_f64()),
        trim_float(args.duration.as_secs_f64()),
        args.rounds
    );
    let _ = writeln!(
        out,
        "- CPU columns: server CPU is tessera's in the measured window, in cores; per refresh, that CPU time over the refreshes answered in the window (on PostgreSQL, the same for the `postgres` processes). The receiver's CPU is its thread's over the whole run, warm-up included, and per call over the calls it answered then; the load generator's is the bench process's without the receiver thread. Other CPU is the machine's busy time outside tessera, the bench and PostgreSQL."
    );

    let _ = writeln!(out, "\n### Summary\n");
    let _ = writeln!(
        out,
        "| backend | sign-in p50 off → on | added | sign-in p99 off → on | added | refresh p50 off → on | added | refresh p99 off → on | added | refresh req/s off → on (median) | change |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for run in runs {
        let mut row = format!("| {} |", backend_name(&run.description));
        for flow in [Flow::SignIn, Flow::Refresh] {
            match run.latency.iter().find(|l| l.flow == flow) {
                Some(l) => {
                    let [off, on] = &l.measured;
                    let _ = write!(
                        row,
                        " {} → {} | {} | {} → {} | {} |",
                        latency(off.p50_us),
                        latency(on.p50_us),
                        added(on.p50_us, off.p50_us),
                        latency(off.p99_us),
                        latency(on.p99_us),
                        added(on.p99_us, off.p99_us)
                    );
                }
                None => row.push_str(" — | — | — | — |"),
            }
        }
        let rate = |variant| throughput_median(run, variant, |t| Some(t.measured.per_second()));
        let (off, on) = (rate(OFF), rate(ON));
        let _ = writeln!(
            out,
            "{row} {} → {} | {} |",
            off.map_or_else(|| "—".into(), thousands),
            on.map_or_else(|| "—".into(), thousands),
            change(off, on)
        );
    }

    for run in runs {
        render_backend(&mut out, run);
    }
    out
}

fn render_backend(out: &mut String, run: &BackendRun) {
    let postgres = run.description.starts_with("PostgreSQL");
    let _ = writeln!(out, "\n### {}\n", backend_name(&run.description));
    let _ = writeln!(
        out,
        "- Backend: {}; pools {} (off) and {} (on); setup {:.1} s.",
        run.description, run.pools[OFF], run.pools[ON], run.setup_seconds
    );
    let _ = writeln!(out, "\nLatency, one request at a time:\n");
    let _ = writeln!(
        out,
        "| flow | trigger | requests measured | p50 | p99 | max | errors |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
    for l in &run.latency {
        for variant in VARIANTS {
            let m = &l.measured[variant];
            let errors: u64 = l.errors[variant].values().sum();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                l.flow.name(),
                label(variant),
                thousands_int(m.ok),
                latency(m.p50_us),
                latency(m.p99_us),
                latency(m.max_us),
                errors
            );
        }
        let [off, on] = &l.measured;
        let _ = writeln!(
            out,
            "| {} | added (on − off) | | {} | {} | | |",
            l.flow.name(),
            added(on.p50_us, off.p50_us),
            added(on.p99_us, off.p99_us)
        );
    }

    let _ = writeln!(out, "\nREFRESH_TOKEN_AUTH throughput:\n");
    let _ = writeln!(
        out,
        "| run | trigger | req/s | p50 | p99 | errors | server CPU (cores) | server CPU per refresh |{} receiver CPU (cores) | receiver CPU per call | bench CPU without the receiver (cores) | other CPU (cores) |",
        if postgres { " PostgreSQL CPU per refresh |" } else { "" }
    );
    let _ = writeln!(
        out,
        "|---|---|---:|---:|---:|---:|---:|---:|{}---:|---:|---:|---:|",
        if postgres { "---:|" } else { "" }
    );
    for t in &run.throughput {
        let m = &t.measured;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} |{} {} | {} | {} | {} |",
            t.round + 1,
            label(t.variant),
            thousands(m.per_second()),
            latency(m.p50_us),
            latency(m.p99_us),
            m.errors,
            cores(m.server_cpu),
            ms(per_operation_ms(m.server_cpu, m)),
            if postgres {
                format!(" {} |", ms(per_operation_ms(m.postgres_cpu, m)))
            } else {
                String::new()
            },
            if t.variant == ON {
                cores(t.receiver_cores)
            } else {
                "—".into()
            },
            t.receiver_us_per_call
                .filter(|_| t.variant == ON)
                .map_or_else(|| "—".into(), |us| format!("{us:.0} µs")),
            cores(
                m.bench_cpu
                    .map(|bench| (bench - t.receiver_cores.unwrap_or(0.0)).max(0.0))
            ),
            cores(
                m.other_cpu
                    .map(|other| (other - m.postgres_cpu.unwrap_or(0.0)).max(0.0))
            ),
        );
    }
    for variant in VARIANTS {
        let rate = throughput_median(run, variant, |t| Some(t.measured.per_second()));
        let server_ms = throughput_median(run, variant, |t| {
            per_operation_ms(t.measured.server_cpu, &t.measured)
        });
        let pg_ms = throughput_median(run, variant, |t| {
            per_operation_ms(t.measured.postgres_cpu, &t.measured)
        });
        let p50 = throughput_median(run, variant, |t| Some(t.measured.p50_us as f64));
        let p99 = throughput_median(run, variant, |t| Some(t.measured.p99_us as f64));
        let _ = writeln!(
            out,
            "| median | {} | {} | {} | {} | | | {} |{} | | | |",
            label(variant),
            rate.map_or_else(|| "—".into(), thousands),
            p50.map_or_else(|| "—".into(), |v| latency(v as u64)),
            p99.map_or_else(|| "—".into(), |v| latency(v as u64)),
            ms(server_ms),
            if postgres {
                format!(" {} |", ms(pg_ms))
            } else {
                String::new()
            },
        );
    }

    let _ = writeln!(out, "\nChecks:\n");
    let _ = writeln!(
        out,
        "- Receiver calls (one per token issuance of the pool *on*, none for the pool *off*): setup sign-ins: {}.",
        run.setup_calls.describe()
    );
    for l in &run.latency {
        let _ = writeln!(
            out,
            "- {} latency run (warm-up included): {}; new connections to the receiver: {}; tessera's log: {}; other work on the machine: {} cores{}.",
            l.flow.name(),
            l.calls.describe(),
            l.connections,
            l.tessera.describe(),
            cores(l.other_cpu),
            if l.other_cpu.is_some_and(|c| c >= OTHER_CPU_NOTE) {
                " (**busy**)"
            } else {
                ""
            }
        );
    }
    let ons: Vec<&ThroughputRun> = run.throughput.iter().filter(|t| t.variant == ON).collect();
    let offs_clean = run
        .throughput
        .iter()
        .filter(|t| t.variant == OFF)
        .all(|t| t.calls.holds());
    let _ = writeln!(
        out,
        "- Throughput runs (warm-up included): trigger on, {}; trigger off, {}.",
        ons.iter()
            .map(|t| format!(
                "round {}: {}; new connections to the receiver: {}; tessera's log: {}",
                t.round + 1,
                t.calls.describe(),
                t.connections,
                t.tessera.describe()
            ))
            .collect::<Vec<_>>()
            .join("; "),
        if offs_clean {
            "no calls".to_owned()
        } else {
            "**calls during runs of the pool without the trigger**".to_owned()
        }
    );
    let latency_checked: [u64; 2] =
        VARIANTS.map(|v| run.latency.iter().map(|l| l.checked[v]).sum());
    let throughput_checked: [u64; 2] = VARIANTS.map(|v| {
        run.throughput
            .iter()
            .filter(|t| t.variant == v)
            .map(|t| t.checked)
            .sum()
    });
    let token_errors: u64 = run
        .latency
        .iter()
        .flat_map(|l| l.token_failures)
        .sum::<u64>()
        + run
            .throughput
            .iter()
            .flat_map(|t| t.measured.error_kinds.iter())
            .filter(|(kind, _)| kind.starts_with("the "))
            .map(|(_, n)| n)
            .sum::<u64>();
    let _ = writeln!(
        out,
        "- Tokens decoded: every answer of the latency runs ({} with the trigger, {} without) and one in {CHECK_EVERY} of the throughput runs ({} and {}): with the trigger the ID token carries `{}: \"{}\"` and the access token `{}: \"{}\"`, without it neither does{}.",
        thousands_int(latency_checked[ON]),
        thousands_int(latency_checked[OFF]),
        thousands_int(throughput_checked[ON]),
        thousands_int(throughput_checked[OFF]),
        ID_CLAIM.0,
        ID_CLAIM.1,
        ACCESS_CLAIM.0,
        ACCESS_CLAIM.1,
        if token_errors == 0 {
            String::new()
        } else {
            format!(" (**{token_errors} answers failed the check**)")
        }
    );
    let _ = writeln!(
        out,
        "- Over the whole run: {} `trigger ran` lines in tessera's log for {} calls the receiver answered{}, on {} connections it accepted. `latency_ms` is the call as tessera times it: the webhook's HTTP round trip, signing and reading the answer included.",
        thousands_int(run.log_lines),
        thousands_int(run.total_calls),
        if run.log_lines == run.total_calls {
            ""
        } else {
            " (**mismatch**)"
        },
        thousands_int(run.total_connections)
    );
    for l in &run.latency {
        for variant in VARIANTS {
            if !l.errors[variant].is_empty() {
                let kinds: Vec<String> = l.errors[variant]
                    .iter()
                    .map(|(kind, n)| format!("{kind} × {n}"))
                    .collect();
                let _ = writeln!(
                    out,
                    "- {} latency, trigger {}: errors {}.",
                    l.flow.name(),
                    label(variant),
                    kinds.join(", ")
                );
            }
        }
    }
    for t in &run.throughput {
        if !t.measured.error_kinds.is_empty() {
            let kinds: Vec<String> = t
                .measured
                .error_kinds
                .iter()
                .map(|(kind, n)| format!("{kind} × {n}"))
                .collect();
            let _ = writeln!(
                out,
                "- Throughput round {}, trigger {}: errors {}.",
                t.round + 1,
                label(t.variant),
                kinds.join(", ")
            );
        }
    }
    let _ = writeln!(
        out,
        "- Server peak RSS over the run (VmHWM): {}. At the end tessera was {}.",
        run.server_hwm_kib.map_or_else(
            || "—".into(),
            |kib| format!("{:.1} MB", crate::report::megabytes(kib))
        ),
        run.stopped
    );
    for note in &run.notes {
        let _ = writeln!(out, "- {note}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: Value) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    }

    #[test]
    fn checks_the_added_claims() {
        let answer = |id: Value, access: Value| {
            json!({"AuthenticationResult": {"IdToken": token(id), "AccessToken": token(access)}})
                .to_string()
        };
        let with = answer(
            json!({"token_use": "id", ID_CLAIM.0: ID_CLAIM.1}),
            json!({"token_use": "access", ACCESS_CLAIM.0: ACCESS_CLAIM.1}),
        );
        let without = answer(json!({"token_use": "id"}), json!({"token_use": "access"}));
        assert_eq!(check_tokens(with.as_bytes(), true), Ok(()));
        assert_eq!(check_tokens(without.as_bytes(), false), Ok(()));
        assert!(check_tokens(with.as_bytes(), false).is_err());
        assert!(check_tokens(without.as_bytes(), true).is_err());
        let crossed = answer(
            json!({"token_use": "id", ID_CLAIM.0: ID_CLAIM.1, ACCESS_CLAIM.0: ACCESS_CLAIM.1}),
            json!({"token_use": "access", ACCESS_CLAIM.0: ACCESS_CLAIM.1}),
        );
        assert!(check_tokens(crossed.as_bytes(), true).is_err());
    }

    #[test]
    fn reads_tesseras_trigger_log() {
        let log = "2026 INFO tessera::trigger: trigger ran trigger_source=TokenGeneration_Authentication function=arn target=webhook http://127.0.0.1:1 latency_ms=1.25 outcome=\"answered\"\nother line\nINFO tessera::trigger: trigger ran latency_ms=0.5 outcome=\"answered\"\n";
        let TriggerLog {
            lines,
            latency_ms: latencies,
        } = trigger_log(log);
        assert_eq!(lines, 2);
        assert_eq!(latencies, vec![0.5, 1.25]);
        assert_eq!(quantile(&latencies, 0.5), Some(0.5));
        assert_eq!(quantile(&latencies, 0.99), Some(1.25));
        assert_eq!(added(1_500, 1_000), "+0.50 ms");
        assert_eq!(added(1_000, 1_500), "−0.50 ms");
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
    }
}
