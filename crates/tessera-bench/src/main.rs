//! tessera's load benchmark (issue 4, point 6). One command, `scripts/bench`, builds tessera
//! and this program in release mode and runs it. It
//!
//! 1. measures the machine's own limits with tessera's crypto (RSA-2048 RS256 signatures and
//!    argon2id hashes, one thread and all cores);
//! 2. starts the real `tessera serve` on 127.0.0.1 with a fresh data directory (SQLite, or a
//!    fresh PostgreSQL database with `--postgres`);
//! 3. creates a pool, a client and signed-in users through the API, SigV4-signed with the root
//!    key the server wrote (and, for `client_credentials`, a resource server with two scopes
//!    and a machine client with a secret; for the sign-ins of issue 13, `totp_mfa_sign_in` and
//!    `user_auth_email_otp`, pools of their own, see `mfa.rs`, the second with tessera's mail
//!    going to an SMTP sink in this process, `smtp.rs`; for the credentials of issue 14,
//!    `identity_credentials` and `identity_guest_credentials`, identity pools of their own,
//!    see `identity.rs`);
//! 4. drives each scenario at a fixed concurrency for a fixed time and records throughput,
//!    latency percentiles, errors, and the server's memory and CPU;
//! 5. prints a Markdown report, with the targets of issue 4 (issue 6 for the client_credentials
//!    token endpoint) and the published comparisons.
//!
//! `tessera-bench directory` is the directory benchmark of issue 3 instead: SignUp throughput
//! and filtered ListUsers latency at large user populations (see `directory.rs`).
//! `tessera-bench triggers` measures what a PreTokenGeneration webhook adds to a sign-in and a
//! refresh (issue 12; see `triggers.rs`). `tessera-bench credentials` measures the
//! service-side check of temporary credentials in process (issue 14; see `credentials.rs`).
//!
//! It only reports; no figure is a pass/fail test. Every loop is bounded in time, all traffic
//! stays on the loopback interface, and the server is stopped with SIGTERM at the end.

mod api;
mod compare;
mod credentials;
mod directory;
mod http;
mod identity;
mod limits;
mod load;
mod mfa;
mod receiver;
mod report;
mod server;
mod smtp;
mod srp;
mod totp;
mod triggers;
mod util;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

use crate::api::{Endpoint, Fixture};
use crate::load::{Measured, Outcome, Plan, Scenario};
use crate::mfa::Prepared;
use crate::report::{Report, Settings};
use crate::server::{Backend, Surroundings};
use crate::util::{parse_duration, Context, Result};

/// How many connections per CPU create the users during setup (each user costs the server
/// argon2id work, so more would only queue).
const SETUP_CONNECTIONS_PER_CPU: usize = 2;
/// How long the SRP probe may take before the run.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// Benchmarks a real tessera server on this machine and prints a Markdown report.
#[derive(Debug, Parser)]
#[command(
    name = "tessera-bench",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Args {
    /// Without a subcommand: the load benchmark (issue 4) with the flags below.
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    load: Load,
}

/// The load benchmark's flags.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Load {
    /// Connections kept open, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured time per scenario (10, 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured time per scenario before the measured window.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Users created and signed in before the run (the sign-in scenarios cycle through them,
    /// identity_credentials through their ID tokens; totp_mfa_sign_in enrols at least this
    /// many in its own pool, more when its run needs them, and user_auth_email_otp as many as
    /// its run needs).
    #[arg(long, default_value_t = 256)]
    users: usize,
    /// Scenarios to run, comma-separated, in the order given: jwks, sign_up, user_password_auth,
    /// user_srp_auth, refresh_token_auth, get_user, client_credentials, totp_mfa_sign_in,
    /// user_auth_email_otp, identity_credentials, identity_guest_credentials. Default: all.
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Run tessera on PostgreSQL: a fresh database is created through this URL (e.g.
    /// postgres://postgres@127.0.0.1:5432/postgres) and dropped afterwards.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The tessera binary (default: `tessera` next to this program, i.e. target/release).
    #[arg(long, value_name = "PATH")]
    tessera: Option<PathBuf>,
    /// Threads of the load generator; one keeps most of the machine for the server.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Time for each machine-limit measurement (argon2id gets half as much again).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    limits_duration: Duration,
}

impl Load {
    /// The scenarios asked for, checked against the other flags.
    fn scenarios(&self) -> Result<Vec<Scenario>> {
        if self.concurrency == 0 || self.client_threads == 0 {
            return Err("--concurrency and --client-threads must be at least 1".into());
        }
        if self.duration.is_zero() {
            return Err("--duration must be more than zero".into());
        }
        let scenarios = if self.scenarios.is_empty() {
            Scenario::ALL.to_vec()
        } else {
            let mut chosen: Vec<Scenario> = Vec::new();
            for name in &self.scenarios {
                let scenario = Scenario::parse(name)?;
                if !chosen.contains(&scenario) {
                    chosen.push(scenario);
                }
            }
            chosen
        };
        if self.users == 0 && scenarios.iter().any(|s| s.needs_users()) {
            return Err("--users must be at least 1 for the sign-in scenarios".into());
        }
        Ok(scenarios)
    }

    /// The load generator's runtime.
    fn runtime(&self) -> Result<tokio::runtime::Runtime> {
        if self.client_threads == 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(self.client_threads)
                .enable_all()
                .build()
        }
        .context("starting the load generator's runtime")
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The directory benchmark (issue 3): seeds large user populations through the storage
    /// layer and measures SignUp throughput and filtered ListUsers latency.
    Directory(directory::Args),
    /// Compares two tessera binaries (issue 11): runs the load benchmark on each in turn,
    /// several rounds, and reports the median of each figure and the work per operation.
    Compare(compare::Args),
    /// What a PreTokenGeneration webhook costs (issue 12): sign-in and refresh latency one
    /// request at a time, and refresh throughput, on a pool with the trigger and one without,
    /// the webhook answered by a verifying receiver inside the bench; SQLite and PostgreSQL.
    Triggers(triggers::Args),
    /// What checking a request signed with tessera's temporary credentials costs a service
    /// (issue 14): checks, policy evaluations and token openings per second on one thread,
    /// in process.
    Credentials(credentials::Args),
}

fn main() -> ExitCode {
    let mut args = Args::parse();
    let result = match args.command.take() {
        Some(Command::Directory(options)) => {
            tessera_binary(options.tessera()).and_then(|binary| directory::run(options, &binary))
        }
        Some(Command::Compare(options)) => compare::run(options),
        Some(Command::Triggers(options)) => {
            tessera_binary(options.tessera()).and_then(|binary| triggers::run(options, &binary))
        }
        Some(Command::Credentials(options)) => credentials::run(options),
        None => run(args.load),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("tessera-bench: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Load) -> Result<()> {
    let scenarios = args.scenarios()?;
    let binary = tessera_binary(args.tessera.as_deref())?;

    let Surroundings {
        ticks_per_second: ticks,
        machine,
        date,
        commit,
    } = Surroundings::observe(&binary, "tessera-bench");
    // Measured before tessera starts, so that nothing else of ours competes for the cores.
    let limits = limits::measure(machine.cores, args.limits_duration, ticks)?;
    eprintln!(
        "  RSA-2048 signatures: {:.0}/s on one thread, {:.0}/s on {}; argon2id: {:.1}/s, {:.1}/s",
        limits.rsa_sign.single,
        limits.rsa_sign.all,
        limits.rsa_sign.threads,
        limits.argon2id.single,
        limits.argon2id.all
    );

    let runtime = args.runtime()?;
    let (results, server_hwm_kib, notes, backend) =
        runtime.block_on(drive(&args, &binary, &scenarios))?;

    let report = Report {
        machine,
        date,
        commit,
        settings: Settings {
            concurrency: args.concurrency,
            warmup: args.warmup,
            duration: args.duration,
            users: if scenarios.iter().any(|s| s.needs_users()) {
                args.users
            } else {
                0
            },
            backend,
            client_threads: args.client_threads,
        },
        limits,
        results,
        server_hwm_kib,
        notes,
    };
    report::publish(&report.render(), args.output.as_deref())
}

/// The server binary: the one given, or `tessera` next to this program.
fn tessera_binary(given: Option<&std::path::Path>) -> Result<PathBuf> {
    let binary = match given {
        Some(path) => path.to_owned(),
        None => std::env::current_exe()
            .context("locating tessera-bench")?
            .with_file_name("tessera"),
    };
    if !binary.is_file() {
        return Err(format!(
            "{} does not exist; build it with `cargo build --release -p tessera` (scripts/bench does)",
            binary.display()
        ));
    }
    Ok(binary)
}

type Driven = (Vec<(Scenario, Outcome)>, Option<u64>, Vec<String>, String);

/// Creates the backend (a fresh database if asked), runs the server and the scenarios, and
/// cleans up.
async fn drive(args: &Load, binary: &std::path::Path, scenarios: &[Scenario]) -> Result<Driven> {
    let backend = Backend::create(args.postgres.as_deref()).await?;
    let result = with_server(args, binary, &backend, scenarios).await;
    let dropped = backend.clean_up().await;
    let (results, hwm, mut notes, description) = result?;
    notes.extend(dropped);
    Ok((results, hwm, notes, description))
}

async fn with_server(
    args: &Load,
    binary: &std::path::Path,
    backend: &Backend,
    scenarios: &[Scenario],
) -> Result<Driven> {
    // user_auth_email_otp reads its codes from the mail tessera sends: an SMTP sink in this
    // process, named in tessera's config before it starts.
    let sink = if scenarios.contains(&Scenario::UserAuthEmailOtp) {
        Some(Arc::new(smtp::Sink::start()?))
    } else {
        None
    };
    let mut server = match &sink {
        Some(sink) => {
            let config = backend.scratch_dir().join("tessera-bench.toml");
            std::fs::write(&config, sink.config()).context("writing tessera's config")?;
            backend.start_with_config(binary, &config)?
        }
        None => backend.start(binary)?,
    };
    eprintln!("tessera-bench: tessera is listening on {}", server.addr);
    if let Some(sink) = &sink {
        eprintln!("tessera-bench: the SMTP sink is listening on {}", sink.addr);
    }
    let endpoint = server.endpoint();
    let users = if scenarios.iter().any(|s| s.needs_users()) {
        args.users
    } else {
        0
    };
    eprintln!("tessera-bench: creating the pool, the client and {users} signed-in users ...");
    let setup_started = Instant::now();
    let fixture = api::prepare(
        &endpoint,
        users,
        SETUP_CONNECTIONS_PER_CPU * std::thread::available_parallelism().map_or(1, usize::from),
        scenarios.iter().any(|s| s.needs_machine_client()),
    )
    .await
    .map_err(|error| server.with_log_tail(error))?;
    let setup_seconds = setup_started.elapsed().as_secs_f64();

    let plan = Plan {
        concurrency: args.concurrency,
        warmup: args.warmup,
        duration: args.duration,
    };
    let ticks = server::ticks_per_second();
    let mut notes = vec![
        format!(
            "Setup: pool {}, client with ALLOW_USER_PASSWORD_AUTH, ALLOW_USER_SRP_AUTH and ALLOW_REFRESH_TOKEN_AUTH, {users} users (AdminCreateUser with MessageAction SUPPRESS, AdminSetUserPassword Permanent) each signed in once with USER_PASSWORD_AUTH: {setup_seconds:.1} s.",
            fixture.pool_id
        ),
    ];
    if let Some(machine) = &fixture.machine {
        notes.push(format!(
            "Setup for `client_credentials`: resource server {} with the scopes {} (CreateResourceServer), and app client {} (CreateUserPoolClient with GenerateSecret, AllowedOAuthFlows client_credentials, AllowedOAuthScopes {}, AllowedOAuthFlowsUserPoolClient).",
            api::RESOURCE_SERVER,
            api::RESOURCE_SCOPES.join(" and "),
            machine.client_id,
            machine.scope.replace(' ', " and ")
        ));
    }
    notes.extend([
        format!(
            "Method: closed loop; each of the {} connections sends its next request as soon as the previous answer has arrived (requests are serialised before the run; sign-in scenarios cycle through the users). req/s counts successful answers completed inside the measured window; p50 and p99 are over those answers, from sending to the last byte (hdrhistogram, 3 significant digits). Errors are non-200 answers and failed exchanges in the window.",
            plan.concurrency
        ),
        "Server, bench and other CPU: CPU time used by tessera, by the load generator and by everything else on the machine (/proc/stat minus the two) during the measured window, in cores (2.00 = two cores fully busy). Server peak RSS per scenario: the largest VmRSS sampled every 100 ms during the window.".to_owned(),
    ]);
    if backend.database_url().is_some() {
        notes.push("On PostgreSQL, other CPU includes the PostgreSQL server's processes, which run tessera's queries.".to_owned());
    }
    let mut results = Vec::new();
    let parallel =
        SETUP_CONNECTIONS_PER_CPU * std::thread::available_parallelism().map_or(1, usize::from);
    for &scenario in scenarios {
        if scenario.has_own_fixture() {
            let own = OwnFixture {
                endpoint: &endpoint,
                fixture: &fixture,
                parallel,
                min_users: args.users,
                plan,
                sink: sink.as_ref(),
                server_pid: server.pid,
                ticks,
            };
            let outcome = own
                .run(scenario, &mut notes)
                .await
                .map_err(|error| server.with_log_tail(error))?;
            results.push((scenario, outcome));
            continue;
        }
        if let Some((what, found)) = probe(scenario, &endpoint, &fixture).await? {
            match found {
                Some(reason) if reason.starts_with("not supported") => {
                    eprintln!("tessera-bench: {}: {reason}", scenario.name());
                    results.push((scenario, Outcome::Skipped(reason)));
                    continue;
                }
                Some(reason) => notes.push(format!(
                    "`{}`: {what} {reason}; the scenario ran anyway.",
                    scenario.name()
                )),
                None if scenario == Scenario::ClientCredentials => notes.push("`client_credentials`: before the run, a probe token passed the checks below and its RS256 signature verified against the pool's JWKS.".to_owned()),
                None => {}
            }
        }
        if scenario == Scenario::UserSrpAuth {
            notes.push("`user_srp_auth`: the load generator computes the client side of SRP itself (srp.rs, checked against the shared Cognito vectors). To keep its cost to one 3072-bit exponentiation per sign-in it keeps one ephemeral `a` for the run and caches `k·g^x` per user; the server does the same work as for any fresh client.".to_owned());
        }
        if scenario == Scenario::ClientCredentials {
            notes.push(format!(
                "`client_credentials`: every request asks for both scopes, the client authenticating with HTTP Basic (client_secret_basic); an answer counts as an error unless it is a 200 with JSON holding an access_token and token_type Bearer. The claims of the run's first token and of one in {} after it are decoded and checked too (RS256 with a kid, token_use access, iss, client_id and sub the machine client, scope both scopes); each token costs the server one RSA-2048 signature.",
                load::CLAIMS_SAMPLE
            ));
        }
        eprintln!(
            "tessera-bench: {} ({} s warm-up, {} s measured) ...",
            scenario.name(),
            plan.warmup.as_secs_f64(),
            plan.duration.as_secs_f64()
        );
        let measured = load::run(scenario, plan, &endpoint, &fixture, server.pid, ticks).await?;
        eprintln!(
            "  {:.0} req/s, p50 {} µs, p99 {} µs, {} errors",
            measured.per_second(),
            measured.p50_us,
            measured.p99_us,
            measured.errors
        );
        if scenario == Scenario::SignUp {
            notes.push(format!(
                "`sign_up` added about {} users to the pool; the scenarios after it run on the larger directory.",
                measured.ok + measured.errors
            ));
        }
        results.push((scenario, Outcome::Ran(measured)));
    }
    let hwm = server::status_kib(server.pid, "VmHWM");
    let stopped = server.stop();
    eprintln!("tessera-bench: tessera {stopped}");
    notes.push(format!("At the end tessera was {stopped}."));
    Ok((results, hwm, notes, backend.description.clone()))
}

/// What the scenarios of issues 13 and 14 need to set up and run on pools of their own
/// (`mfa.rs`, `identity.rs`).
struct OwnFixture<'a> {
    endpoint: &'a Endpoint,
    /// The load benchmark's pool, client and users (`identity_credentials` presents the
    /// users' ID tokens).
    fixture: &'a Fixture,
    parallel: usize,
    min_users: usize,
    plan: Plan,
    sink: Option<&'a Arc<smtp::Sink>>,
    server_pid: u32,
    ticks: f64,
}

impl OwnFixture<'_> {
    /// Sets the scenario's pool up, runs it and adds its notes; a server without the flow
    /// skips it.
    async fn run(&self, scenario: Scenario, notes: &mut Vec<String>) -> Result<Outcome> {
        eprintln!(
            "tessera-bench: setting up {} (a pool of its own) ...",
            scenario.name()
        );
        match scenario {
            Scenario::TotpMfaSignIn => {
                let seconds = (self.plan.warmup + self.plan.duration).as_secs_f64();
                let prepared = mfa::prepare_totp(
                    self.endpoint,
                    self.parallel,
                    self.min_users,
                    seconds,
                    self.plan.concurrency,
                )
                .await?;
                let fixture = match prepared {
                    Prepared::Ready(fixture) => fixture,
                    Prepared::Unsupported(reason) => return Ok(skipped(scenario, reason)),
                };
                notes.push(mfa::totp_setup_note(&fixture));
                let operation = Arc::new(mfa::TotpSignIn::new(self.endpoint, fixture.clone()));
                let measured = self.measure(scenario, operation).await?;
                notes.push(mfa::totp_run_note(&fixture));
                Ok(Outcome::Ran(measured))
            }
            Scenario::UserAuthEmailOtp => {
                let sink = self
                    .sink
                    .context("user_auth_email_otp needs the SMTP sink, which was not started")?;
                let seconds = (self.plan.warmup + self.plan.duration).as_secs_f64();
                let prepared = mfa::prepare_email_otp(
                    self.endpoint,
                    self.parallel,
                    seconds,
                    self.plan.concurrency,
                    sink.clone(),
                )
                .await?;
                let fixture = match prepared {
                    Prepared::Ready(fixture) => fixture,
                    Prepared::Unsupported(reason) => return Ok(skipped(scenario, reason)),
                };
                notes.push(mfa::email_setup_note(&fixture));
                let before = sink.counts();
                let operation = Arc::new(mfa::EmailOtpSignIn::new(self.endpoint, fixture.clone()));
                let measured = self.measure(scenario, operation).await?;
                notes.push(mfa::email_run_note(
                    &fixture,
                    &before,
                    &sink.counts(),
                    self.ticks,
                ));
                Ok(Outcome::Ran(measured))
            }
            Scenario::IdentityCredentials => {
                let operation =
                    match identity::prepare_credentials(self.endpoint, self.fixture).await? {
                        Prepared::Ready(operation) => Arc::new(operation),
                        Prepared::Unsupported(reason) => return Ok(skipped(scenario, reason)),
                    };
                notes.push(identity::credentials_setup_note(&operation));
                let measured = self.measure(scenario, operation.clone()).await?;
                notes.push(identity::credentials_run_note(&operation));
                Ok(Outcome::Ran(measured))
            }
            Scenario::IdentityGuestCredentials => {
                let operation = match identity::prepare_guests(self.endpoint).await? {
                    Prepared::Ready(operation) => Arc::new(operation),
                    Prepared::Unsupported(reason) => return Ok(skipped(scenario, reason)),
                };
                notes.push(identity::guests_setup_note(&operation));
                let measured = self.measure(scenario, operation.clone()).await?;
                notes.push(identity::guests_run_note(&operation));
                Ok(Outcome::Ran(measured))
            }
            other => Err(format!("{} has no fixture of its own", other.name())),
        }
    }

    async fn measure<O: load::Operation>(
        &self,
        scenario: Scenario,
        operation: Arc<O>,
    ) -> Result<Measured> {
        eprintln!(
            "tessera-bench: {} ({} s warm-up, {} s measured) ...",
            scenario.name(),
            self.plan.warmup.as_secs_f64(),
            self.plan.duration.as_secs_f64()
        );
        let measured = load::closed_loop(
            operation,
            self.endpoint.addr,
            self.plan,
            self.server_pid,
            self.ticks,
        )
        .await?;
        eprintln!(
            "  {:.0} req/s, p50 {} µs, p99 {} µs, {} errors",
            measured.per_second(),
            measured.p50_us,
            measured.p99_us,
            measured.errors
        );
        Ok(measured)
    }
}

fn skipped(scenario: Scenario, reason: String) -> Outcome {
    eprintln!("tessera-bench: {}: {reason}", scenario.name());
    Outcome::Skipped(reason)
}

/// The probe before a scenario that has one: what the probe is, for the notes, and what it
/// found (`None` when all was well; a reason starting `not supported` when the server lacks
/// what the scenario measures). A probe without an answer within [`PROBE_TIMEOUT`] failed.
async fn probe(
    scenario: Scenario,
    endpoint: &Endpoint,
    fixture: &Fixture,
) -> Result<Option<(&'static str, Option<String>)>> {
    let (what, answered) = match scenario {
        Scenario::UserSrpAuth => (
            "a probe sign-in",
            tokio::time::timeout(PROBE_TIMEOUT, load::probe_srp(endpoint, fixture)).await,
        ),
        Scenario::ClientCredentials => (
            "a probe token request",
            tokio::time::timeout(
                PROBE_TIMEOUT,
                load::probe_client_credentials(endpoint, fixture),
            )
            .await,
        ),
        _ => return Ok(None),
    };
    let found = answered.unwrap_or_else(|_| {
        Ok(Some(format!(
            "failed before the run: no answer within {} s",
            PROBE_TIMEOUT.as_secs()
        )))
    })?;
    Ok(Some((what, found)))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn without_a_subcommand_it_is_the_load_benchmark() {
        Args::command().debug_assert();
        let args = Args::try_parse_from(["tessera-bench", "--users", "3", "--duration", "1s"])
            .map_err(|e| e.to_string());
        assert!(
            matches!(&args, Ok(a) if a.command.is_none() && a.load.users == 3),
            "{args:?}"
        );
        let args = Args::try_parse_from([
            "tessera-bench",
            "directory",
            "--users",
            "10000,1000000",
            "--postgres",
            "postgres://h/db",
        ])
        .map_err(|e| e.to_string());
        assert!(
            matches!(&args, Ok(a) if matches!(a.command, Some(Command::Directory(_)))),
            "{args:?}"
        );
        let args = Args::try_parse_from([
            "tessera-bench",
            "--scenarios",
            "client_credentials",
            "--duration",
            "3s",
        ])
        .map_err(|e| e.to_string());
        assert!(
            matches!(&args, Ok(a) if a.load.scenarios == ["client_credentials"]),
            "{args:?}"
        );
        let args = Args::try_parse_from([
            "tessera-bench",
            "compare",
            "--base",
            "/tmp/old/tessera",
            "--rounds",
            "2",
            "--scenarios",
            "get_user",
        ])
        .map_err(|e| e.to_string());
        assert!(
            matches!(&args, Ok(Args { command: Some(Command::Compare(c)), .. }) if c.rounds == 2 && c.load.scenarios == ["get_user"]),
            "{args:?}"
        );
        let args = Args::try_parse_from([
            "tessera-bench",
            "triggers",
            "--backends",
            "sqlite",
            "--sign-in-duration",
            "5s",
        ])
        .map_err(|e| e.to_string());
        assert!(
            matches!(
                &args,
                Ok(Args {
                    command: Some(Command::Triggers(_)),
                    ..
                })
            ),
            "{args:?}"
        );
        // The load benchmark's flags do not mix with the subcommand.
        assert!(Args::try_parse_from(["tessera-bench", "--users", "3", "directory"]).is_err());
    }
}
