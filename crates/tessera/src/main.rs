//! The `tessera` binary: starts the server with zero configuration (`tessera serve`) and
//! manages access keys (`tessera keys create`).

mod backup;
mod config;
mod credentials;
mod health;
mod users;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tessera_core::{AccessKey, MasterKey, PasswordHasher, Random, SystemRandom};
use tessera_server::{AppState, ServiceConfig, SystemClock};
use tessera_store::{Backend, Store};

use crate::config::{FileConfig, Settings};

/// tessera: the self-hosted Amazon Cognito.
/// The version and the git revision it was built from (see `build.rs`).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("TESSERA_REVISION"),
    ")"
);

#[derive(Debug, Parser)]
#[command(name = "tessera", version = VERSION, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server.
    Serve(ServeArgs),
    /// Manages the access keys that sign admin requests.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Temporary credentials of identity pools (the built-in STS).
    Credentials {
        #[command(subcommand)]
        command: CredentialsCommand,
    },
    /// Writes a consistent snapshot of a SQLite installation's database into a new directory,
    /// while the server runs (the master key is not copied: keep it apart).
    Backup {
        #[command(flatten)]
        common: CommonArgs,
        /// The directory to create for the backup
        #[arg(long)]
        output: PathBuf,
    },
    /// Restores a backup into a data directory that has no database yet. The master key the
    /// backup was taken with must be given (the data directory's master.key,
    /// --master-key-file or TESSERA_MASTER_KEY); any other is refused.
    Restore {
        #[command(flatten)]
        common: CommonArgs,
        /// The backup directory (what `tessera backup --output` wrote)
        #[arg(long)]
        from: PathBuf,
        /// A file holding the master key, copied into the data directory
        #[arg(long)]
        master_key_file: Option<PathBuf>,
    },
    /// Imports users with their password hashes from other systems, or exports a pool's users
    /// for another tessera (one JSON object per line; see docs/operations.md).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Rotates the master key that seals every secret at rest (see docs in README.md).
    MasterKey {
        #[command(subcommand)]
        command: MasterKeyCommand,
    },
    /// Checks that a server answers `GET /health` with 200 (exit status 0, else 1): the
    /// health check of a container image without curl.
    Health(HealthArgs),
}

#[derive(Debug, Args)]
struct HealthArgs {
    /// The URL to check [default: /health on the --listen address, on loopback]
    #[arg(long)]
    url: Option<String>,
    /// The address the server listens on, as for `tessera serve` [default: 127.0.0.1:9229]
    #[arg(long, env = "TESSERA_LISTEN")]
    listen: Option<String>,
}

#[derive(Debug, Subcommand)]
enum MasterKeyCommand {
    /// Writes a new master key to <data-dir>/master.key and keeps the old one in
    /// master.key.previous, so that what it sealed still opens. Then restart the servers and
    /// run `reseal`.
    Rotate(CommonArgs),
    /// Seals every secret a previous master key sealed again under the current one; when it
    /// reports nothing left, the previous keys can be deleted. A running SQLite server
    /// re-seals through its `POST /admin/master-key/reseal` instead.
    Reseal(CommonArgs),
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Creates the users of a file in a pool: password hashes of bcrypt, argon2, scrypt
    /// (Firebase's too), PBKDF2 (Django, Keycloak) or a tessera export are checked at each
    /// user's first sign-in and replaced with argon2id. Existing usernames are skipped.
    Import {
        #[command(flatten)]
        common: CommonArgs,
        /// The user pool id, e.g. us-east-1_Abc123 [default: the pool of an export's first
        /// line, created with its clients and groups when it does not exist]
        #[arg(long)]
        pool: Option<String>,
        /// The file to read, `-` for standard input
        #[arg(long)]
        input: PathBuf,
    },
    /// Writes every user of a pool, with password hashes, SRP verifiers and groups, to a
    /// new file (readable by its owner only) that `tessera users import` reads.
    Export {
        #[command(flatten)]
        common: CommonArgs,
        /// The user pool id, e.g. us-east-1_Abc123
        #[arg(long)]
        pool: String,
        /// The file to create
        #[arg(long)]
        output: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum CredentialsCommand {
    /// Prints the key (base64) that opens the session tokens of the built-in STS, for a
    /// service that checks requests signed with them (tessera-credentials). It is derived
    /// from the master key: every node prints the same one.
    SessionKey(CommonArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Creates an access key and prints it as an AWS credentials profile.
    Create(CommonArgs),
    /// Lists the access key ids (never the secrets).
    List(CommonArgs),
    /// Deletes an access key; every node stops accepting it within seconds.
    Delete {
        #[command(flatten)]
        common: CommonArgs,
        /// The access key id, e.g. AKIA...
        access_key_id: String,
    },
    /// Rotates a user pool's signing keys: new tokens are signed with new keys, and the old
    /// keys stay in the JWKS until every token they signed has expired. On PostgreSQL every
    /// running node follows at once; a running SQLite server is rotated through its
    /// `POST /admin/pools/<id>/signing-keys/rotate` instead.
    Rotate {
        #[command(flatten)]
        common: CommonArgs,
        /// The user pool id, e.g. us-east-1_Abc123
        #[arg(long)]
        pool: String,
    },
}

/// Options shared by every command that opens the data directory.
#[derive(Debug, Clone, Args)]
struct CommonArgs {
    /// Directory for the database, master key and credentials file [default: ./tessera-data]
    #[arg(long, env = "TESSERA_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite:… or postgres://… [default: SQLite file in the data dir]
    #[arg(long, env = "TESSERA_DATABASE_URL")]
    database_url: Option<String>,
    /// Optional TOML configuration file
    #[arg(long, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on [default: 127.0.0.1:9229]
    #[arg(long, env = "TESSERA_LISTEN")]
    listen: Option<String>,
    /// Public base URL; every issuer is `<public-url>/<pool id>` [default: http://<listen>]
    #[arg(long, env = "TESSERA_PUBLIC_URL")]
    public_url: Option<String>,
    /// The one AWS region tessera answers for; without it (and without --regions) every
    /// region is answered, and us-east-1 is the region of the startup hint
    #[arg(long, env = "TESSERA_REGION")]
    region: Option<String>,
    /// The regions answered: `*` (every region) or a comma-separated list such as
    /// us-east-1,eu-west-1; a pool belongs to the region of the request that created it
    /// [default: *]
    #[arg(long, env = "TESSERA_REGIONS", value_name = "REGIONS")]
    regions: Option<String>,
    /// Account id used in ARNs [default: 000000000000]
    #[arg(long, env = "TESSERA_ACCOUNT_ID")]
    account_id: Option<String>,
    /// Parent domain of the pools' prefix domains: prefix `p` is served on host
    /// `p.<suffix>` [default: auth.localhost]
    #[arg(long, env = "TESSERA_HOSTED_DOMAIN_SUFFIX")]
    hosted_domain_suffix: Option<String>,
    /// Log format: text or json [default: text]
    #[arg(long, env = "TESSERA_LOG_FORMAT")]
    log_format: Option<String>,
    /// Seconds a client has to send a complete request head, counted from the connection's
    /// start for its first request and from the first byte of each later one [default: 10]
    #[arg(long, env = "TESSERA_HEADER_READ_TIMEOUT", value_name = "SECONDS")]
    header_read_timeout: Option<u64>,
    /// Seconds a kept-alive connection may stay idle waiting for its next request [default: 60]
    #[arg(long, env = "TESSERA_KEEP_ALIVE_TIMEOUT", value_name = "SECONDS")]
    keep_alive_timeout: Option<u64>,
    /// Connections served at once; further connections wait until one ends (an idle
    /// kept-alive connection is closed to make room) [default: 4096]
    #[arg(long, env = "TESSERA_MAX_CONNECTIONS", value_name = "COUNT")]
    max_connections: Option<u32>,
    /// Seconds between sweeps of expired challenge sessions, authorization codes, browser
    /// sign-in sessions and forgotten failure counts [default: 60]
    #[arg(long, env = "TESSERA_SWEEP_INTERVAL", value_name = "SECONDS")]
    sweep_interval: Option<u64>,
    /// Test mode, for CI suites that used cognito-local or moto: admin calls signed with any
    /// credentials are accepted, GET /admin/test/codes reads users' pending codes and
    /// POST /admin/test/clock moves the clock forward; every response carries
    /// `x-tessera-test-mode: on`. Refused unless listening on a loopback address. Never use it
    /// for real users.
    #[arg(long, env = "TESSERA_TEST_MODE")]
    test_mode: bool,
    /// Exports every request's span to an OpenTelemetry collector: OTLP over HTTP to
    /// <URL>/v1/traces (e.g. http://127.0.0.1:4318). Off unless given.
    #[arg(long, env = "TESSERA_OTLP_ENDPOINT", value_name = "URL")]
    otlp_endpoint: Option<String>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Keys { command } => runtime.block_on(keys(command)),
        Command::Credentials { command } => runtime.block_on(credentials(command)),
        Command::Users { command } => runtime.block_on(users_command(command)),
        Command::MasterKey { command } => runtime.block_on(master_key_command(command)),
        Command::Backup { common, output } => runtime.block_on(take_backup(&common, &output)),
        Command::Restore {
            common,
            from,
            master_key_file,
        } => runtime.block_on(restore(&common, &from, master_key_file.as_deref())),
        Command::Health(args) => health::check(
            &args
                .url
                .unwrap_or_else(|| health::default_url(args.listen.as_deref())),
        ),
    }
}

fn init_logging(format: &str) -> anyhow::Result<()> {
    init_telemetry(format, None)
}

/// Logs to standard error in `format` (filtered by `TESSERA_LOG`) and, with a tracer
/// provider, exports every request's span (and only those) to OpenTelemetry.
fn init_telemetry(
    format: &str,
    traces: Option<&opentelemetry_sdk::trace::SdkTracerProvider>,
) -> anyhow::Result<()> {
    use opentelemetry::trace::TracerProvider as _;
    use std::io::IsTerminal as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::Layer as _;
    let filter = tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let fmt = match format {
        "json" => fmt.json().boxed(),
        "text" => fmt.boxed(),
        other => anyhow::bail!("unknown log format {other:?} (expected text or json)"),
    };
    let spans = traces.map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("tessera"))
            .with_filter(
                tracing_subscriber::filter::Targets::new()
                    .with_target("tessera_server", tracing::Level::INFO),
            )
    });
    tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(spans)
        .try_init()
        .context("installing the logger")?;
    Ok(())
}

/// The exporter of `--otlp-endpoint` (issue 16): OTLP over HTTP (protobuf) to
/// `<endpoint>/v1/traces`, in batches, the W3C trace context read from callers.
fn tracer_provider(endpoint: &str) -> anyhow::Result<opentelemetry_sdk::trace::SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig as _;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .context("configuring the OTLP exporter")?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name("tessera")
        .with_attribute(opentelemetry::KeyValue::new("service.version", VERSION))
        .build();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    Ok(opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Opens (creating on first start) the data directory, master key and database.
async fn open_store(settings: &Settings, random: Arc<dyn Random>) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
    let master_key = Arc::new(load_master_key(&settings.data_dir, random.as_ref())?);
    Store::connect(&settings.database_url, master_key, random)
        .await
        .with_context(|| {
            format!(
                "opening the database ({})",
                redact_url(&settings.database_url)
            )
        })
}

fn load_master_key(data_dir: &Path, random: &dyn Random) -> anyhow::Result<MasterKey> {
    let path = data_dir.join("master.key");
    if std::env::var("TESSERA_MASTER_KEY").is_err() && !path.exists() {
        credentials::write_private(&path, &(MasterKey::generate_text(random) + "\n"))
            .with_context(|| format!("writing {}", path.display()))?;
        tracing::info!(path = %path.display(), "created master key");
    }
    existing_master_key(data_dir).map(|(key, _)| key)
}

/// Takes an exclusive lock on `<database file>.lock` for as long as the returned file is
/// open, so that a second `tessera serve` on the same SQLite file stops with a clear
/// message instead of running beside the first with caches that cannot see its writes. An
/// in-memory database has no file and needs no lock.
fn lock_sqlite(url: &str) -> anyhow::Result<Option<std::fs::File>> {
    let Some(path) = sqlite_file(url) else {
        return Ok(None);
    };
    let path = path.display();
    let lock_path = format!("{path}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {lock_path}"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another tessera server is using {path} (it holds {lock_path}); SQLite serves one node, use PostgreSQL to run several"
        ),
        Err(std::fs::TryLockError::Error(error)) => {
            Err(error).with_context(|| format!("locking {lock_path}"))
        }
    }
}

/// A database URL with any password replaced, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn ensure_root_key(
    store: &Store,
    data_dir: &Path,
    random: &dyn Random,
) -> anyhow::Result<PathBuf> {
    let path = data_dir.join("credentials");
    let given = match (
        std::env::var("TESSERA_ROOT_ACCESS_KEY_ID"),
        std::env::var("TESSERA_ROOT_SECRET_ACCESS_KEY"),
    ) {
        (Ok(id), Ok(secret)) => Some((id, secret)),
        (Err(_), Err(_)) => None,
        _ => anyhow::bail!(
            "set both TESSERA_ROOT_ACCESS_KEY_ID and TESSERA_ROOT_SECRET_ACCESS_KEY, or neither"
        ),
    };
    match given {
        Some((id, secret)) => {
            anyhow::ensure!(
                (16..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric()),
                "TESSERA_ROOT_ACCESS_KEY_ID must be 16 to 128 letters and digits"
            );
            anyhow::ensure!(
                secret.len() >= 16,
                "TESSERA_ROOT_SECRET_ACCESS_KEY must have at least 16 characters"
            );
            match store.access_key(&id).await? {
                Some(existing) => anyhow::ensure!(
                    existing.secret == secret,
                    "access key {id} already exists with another secret"
                ),
                None => {
                    let key = AccessKey {
                        id: id.clone(),
                        secret: secret.clone(),
                        created_at: std::time::SystemTime::now(),
                    };
                    store.insert_access_key(&key).await?;
                }
            }
            credentials::write_profile(&path, &id, &secret)?;
        }
        None if !path.exists() => {
            let key = AccessKey::generate(random, std::time::SystemTime::now());
            store.insert_access_key(&key).await?;
            credentials::write_profile(&path, &key.id, &key.secret)?;
            tracing::info!(access_key_id = %key.id, "created root access key");
        }
        None => {}
    }
    Ok(path)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let file = FileConfig::load(args.common.config.as_deref())?;
    let settings = Settings::resolve(&args.common, &file, &args)?;
    let traces = args
        .otlp_endpoint
        .as_deref()
        .map(tracer_provider)
        .transpose()?;
    init_telemetry(&settings.log_format, traces.as_ref())?;
    warn_if_files_run_out(settings.connections.max_connections);
    let random: Arc<dyn Random> = Arc::new(SystemRandom);
    let store = open_store(&settings, random.clone()).await?;
    // On SQLite this process is the database's only writer (the lock refuses a second
    // server on the same file), so users, pools and live sessions can be cached in memory.
    // On PostgreSQL other nodes write too: the cache follows their writes through the
    // database's notifications and serves only while provably in step with them.
    let _sqlite_lock = match store.backend() {
        Backend::Sqlite => Some(lock_sqlite(&settings.database_url)?),
        Backend::Postgres => None,
    };
    let store = match store.backend() {
        Backend::Sqlite => store.with_read_cache(),
        Backend::Postgres => store.with_shared_read_cache(),
    };
    let store = match file.rate_limits_redis() {
        Some((url, prefix)) => store
            .with_redis_rate_windows(url, prefix)
            .await
            .context("connecting to Redis ([rate_limits] redis_url)")?,
        None => store,
    };
    let credentials_path = ensure_root_key(&store, &settings.data_dir, random.as_ref()).await?;

    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("binding {}", settings.listen))?;
    let bound: SocketAddr = listener.local_addr()?;
    if args.test_mode && !bound.ip().is_loopback() {
        anyhow::bail!(
            "--test-mode accepts any credentials, so it serves only on a loopback address (127.0.0.1, ::1), not {bound}"
        );
    }
    // In test mode every expiry follows a clock tests can move forward.
    let test_clock = args
        .test_mode
        .then(|| Arc::new(tessera_server::test_mode::TestClock::default()));
    let clock: Arc<dyn tessera_core::Clock> = match &test_clock {
        Some(test_clock) => test_clock.clone(),
        None => Arc::new(SystemClock),
    };
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"))
        .trim_end_matches('/')
        .to_owned();
    let outbox_path = settings.data_dir.join("outbox.jsonl");
    let delivery = tessera_delivery::Router::new(
        tessera_delivery::DeliveryConfig {
            smtp: file.delivery().smtp.clone(),
            sms_webhook: file.delivery().sms_webhook.clone(),
            outbox_path: outbox_path.clone(),
        },
        clock.clone(),
    )
    .context("configuring message delivery")?;
    let hasher = match file.passwords() {
        Some(cost) => PasswordHasher::new(cost.memory_kib, cost.iterations, cost.parallelism)
            .context("the [passwords] cost is not a valid argon2id cost")?,
        None => PasswordHasher::owasp(),
    };
    let triggers =
        tessera_triggers::Triggers::new(&file.triggers(), Arc::new(SystemClock), random.clone())
            .context("configuring triggers")?;
    // Webhook timestamps are real time, as the triggers' are, even in test mode.
    let audit_sink = file.audit_sink(Arc::new(SystemClock), random.clone())?;
    // Metrics are recorded from here on, process-wide, and served at GET /metrics.
    let metrics = tessera_server::telemetry::install()
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
    let state = AppState::new(
        store.clone(),
        ServiceConfig {
            region: settings.region.clone(),
            regions: settings.regions.clone(),
            account_id: settings.account_id.clone(),
            public_url: public_url.clone(),
            hosted_domain_suffix: settings.hosted_domain_suffix.clone(),
        },
        clock,
        random,
        Arc::new(delivery),
    )
    .with_outbox(outbox_path)
    .with_password_hasher(hasher)
    .with_rate_limits(file.rate_limits())
    .with_audit_retention(file.audit_retention())
    .with_metrics(metrics)
    .with_triggers(Arc::new(triggers))
    .with_sender_keys(file.sender_keys()?)
    .with_upstream(
        file.identity()?,
        Arc::new(tessera_upstream::HttpUpstream::new().context("building the upstream client")?),
        file.federation(),
    );
    let state = match audit_sink {
        Some(sink) => state.with_audit_sink(sink),
        None => state,
    };
    let state = match test_clock {
        Some(test_clock) => state.with_test_mode(test_clock),
        None => state,
    };
    tessera_idp::pool::bootstrap::ensure(&state, &file.pool_specs()?).await?;

    println!("tessera listening on http://{bound}");
    if args.test_mode {
        tracing::warn!("TEST MODE: any credentials are accepted; codes and the clock are open to anyone who reaches {bound}");
        println!(
            "  TEST MODE: admin calls accept any credentials; GET /admin/test/codes?pool_id=&username= reads codes; POST /admin/test/clock {{\"advance_seconds\": N}} moves the clock. Never for real users."
        );
    }
    println!(
        "  public url: {public_url}   database: {}",
        store_kind(&store)
    );
    println!(
        "  admin credentials: {} (profile default)",
        credentials_path.display()
    );
    println!(
        "  try: AWS_SHARED_CREDENTIALS_FILE={} aws --endpoint-url http://{bound} --region {} cognito-idp list-user-pools --max-results 10",
        credentials_path.display(),
        settings.region
    );
    use std::io::Write as _;
    std::io::stdout().flush().ok();

    let sweeper = tokio::spawn(sweep(state.service().clone(), settings.sweep_interval));
    tessera_server::connection::serve(
        listener,
        tessera_server::app(state),
        settings.connections,
        shutdown_signal(),
    )
    .await;
    sweeper.abort();
    // Every in-flight request has finished; closing the pool waits for its connections.
    store.close().await;
    if let Some(traces) = traces {
        // The spans still in the batch are sent before the process ends.
        if let Err(error) = tokio::task::spawn_blocking(move || traces.shutdown()).await? {
            tracing::warn!(%error, "exporting the last spans");
        }
    }
    tracing::info!("stopped");
    Ok(())
}

/// Sweeps expired sign-in state every `interval`, so that calls nobody finishes (an
/// InitiateAuth whose challenge is never answered costs nothing to send) cannot grow a table
/// without bound. Every node may sweep: a sweep deletes only what no node can use.
async fn sweep(service: tessera_idp::Service, interval: std::time::Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match service.sweep().await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "swept expired sign-in state"),
            Err(error) => tracing::warn!(%error, "sweeping expired sign-in state failed"),
        }
    }
}

/// Every connection takes a file descriptor, so a cap above the open-file limit is never
/// reached: accepting fails first (and is retried every second) while the cap would have let
/// connections wait. Service managers often start processes with a soft limit of 1024, below
/// the default cap, so the mismatch is worth saying at startup.
fn warn_if_files_run_out(max_connections: u32) {
    // Descriptors the server needs besides its connections: the database pool, the listener,
    // logs and the outbox.
    const OWN_FILES: u64 = 100;
    if let Some(limit) = open_file_limit() {
        if u64::from(max_connections) + OWN_FILES > limit {
            tracing::warn!(
                max_connections,
                open_file_limit = limit,
                "the open-file limit is below the connection cap: raise it (ulimit -n, LimitNOFILE=) or lower --max-connections"
            );
        }
    }
}

/// The soft limit on open files, where the platform says it without unsafe code (Linux's
/// `/proc/self/limits`); `None` when unknown or unlimited.
fn open_file_limit() -> Option<u64> {
    soft_open_file_limit(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

/// The soft open-file limit in the text of `/proc/self/limits`.
fn soft_open_file_limit(limits: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn store_kind(store: &Store) -> &'static str {
    match store.backend() {
        tessera_store::Backend::Sqlite => "sqlite",
        tessera_store::Backend::Postgres => "postgres",
    }
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn master_key_command(command: MasterKeyCommand) -> anyhow::Result<()> {
    let (MasterKeyCommand::Rotate(common) | MasterKeyCommand::Reseal(common)) = &command;
    let file = FileConfig::load(common.config.as_deref())?;
    let settings = Settings::resolve_common(common, &file)?;
    init_logging("text")?;
    let random: Arc<dyn Random> = Arc::new(SystemRandom);
    if let MasterKeyCommand::Rotate(_) = command {
        rotate_master_key(&settings.data_dir, random.as_ref())?;
        println!(
            "new master key in {}; the previous one is kept in {}. Restart every server, then run `tessera master-key reseal` (or POST /admin/master-key/reseal).",
            settings.data_dir.join("master.key").display(),
            settings.data_dir.join(PREVIOUS_MASTER_KEYS_FILE).display()
        );
        return Ok(());
    }
    let _sqlite_lock = match Backend::of_url(&settings.database_url) {
        Ok(Backend::Sqlite) => lock_sqlite(&settings.database_url).context(
            "tessera serve is running on this database: re-seal through it with POST /admin/master-key/reseal (SigV4-signed), or stop it first",
        )?,
        _ => None,
    };
    let (key, _) = existing_master_key(&settings.data_dir)?;
    let store = Store::connect(&settings.database_url, Arc::new(key), random)
        .await
        .context("opening the database")?;
    let result = store.reseal().await;
    store.close().await;
    let report = result?;
    println!(
        "re-sealed {} values; {} were sealed with the current key already; {} opened with no key given",
        report.resealed, report.current, report.unreadable
    );
    anyhow::ensure!(
        report.unreadable == 0,
        "some values open with no key given: keep the previous keys until they are found"
    );
    Ok(())
}

async fn users_command(command: UsersCommand) -> anyhow::Result<()> {
    let common = match &command {
        UsersCommand::Import { common, .. } | UsersCommand::Export { common, .. } => common,
    };
    let file = FileConfig::load(common.config.as_deref())?;
    let settings = Settings::resolve_common(common, &file)?;
    init_logging("text")?;
    let random: Arc<dyn Random> = Arc::new(SystemRandom);
    // A SQLite server caches what it read and hears of no other writer, so users are
    // imported into it through a user import job (CreateUserImportJob), not under it.
    let _sqlite_lock = match (&command, Backend::of_url(&settings.database_url)) {
        (UsersCommand::Import { .. }, Ok(Backend::Sqlite)) => lock_sqlite(&settings.database_url)
            .context(
                "tessera serve is running on this database: stop it first, or import through a user import job (CreateUserImportJob)",
            )?,
        _ => None,
    };
    let store = open_store(&settings, random.clone()).await?;
    let result = match &command {
        UsersCommand::Import { pool, input, .. } => {
            let clock: Arc<dyn tessera_core::Clock> = Arc::new(SystemClock);
            let service = tessera_idp::Service::new(
                store.clone(),
                ServiceConfig {
                    region: settings.region.clone(),
                    regions: settings.regions.clone(),
                    account_id: settings.account_id.clone(),
                    public_url: format!("http://{}", settings.listen),
                    hosted_domain_suffix: settings.hosted_domain_suffix.clone(),
                },
                clock.clone(),
                random,
                // An import sends no message; the outbox only completes the service.
                Arc::new(tessera_delivery::Outbox::new(
                    settings.data_dir.join("outbox.jsonl"),
                    clock,
                )),
            );
            import_users(&store, &service, pool.as_deref(), input).await
        }
        UsersCommand::Export { pool, output, .. } => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt as _;
                // Password hashes and SRP verifiers allow offline guessing: owner only.
                options.mode(0o600);
            }
            match options
                .open(output)
                .with_context(|| format!("creating {}", output.display()))
            {
                Ok(created) => users::export(&store, pool, std::io::BufWriter::new(created))
                    .await
                    .map(|count| {
                        println!("exported {count} users of {pool} to {}", output.display());
                    }),
                Err(error) => Err(error),
            }
        }
    };
    store.close().await;
    result
}

/// `tessera users import`: the pool named, or the one an export's first line describes
/// (created, with its app clients and groups, in one transaction when it does not exist yet),
/// then its users.
async fn import_users(
    store: &Store,
    service: &tessera_idp::Service,
    pool: Option<&str>,
    input: &Path,
) -> anyhow::Result<()> {
    use std::io::Read as _;
    let mut text = String::new();
    users::open_input(input)?
        .read_to_string(&mut text)
        .context("reading the import file")?;
    let configuration = users::read_pool_line(text.lines().next().unwrap_or(""))?;
    let pool_id = match (pool, &configuration) {
        (Some(pool), _) => pool.to_owned(),
        (None, Some(exported)) => exported.pool.id.clone(),
        (None, None) => anyhow::bail!("--pool is needed: the file does not start with a pool"),
    };
    if store.user_pool(&pool_id).await?.is_none() {
        let Some(users::PoolConfiguration {
            pool: exported,
            clients,
            groups,
        }) = configuration.filter(|exported| exported.pool.id == pool_id)
        else {
            anyhow::bail!("no user pool {pool_id}");
        };
        let now = std::time::SystemTime::now();
        let keys = [
            tessera_core::SigningKey::generate(tessera_core::KeyUse::Id, now)?,
            tessera_core::SigningKey::generate(tessera_core::KeyUse::Access, now)?,
        ];
        store
            .insert_pool_configuration(&exported, &keys, &clients, &groups)
            .await
            .with_context(|| format!("creating user pool {pool_id} (a client id may exist)"))?;
        println!(
            "created user pool {pool_id} with {} app clients and {} groups",
            clients.len(),
            groups.len()
        );
    }
    let report = users::import(service, &pool_id, text.as_bytes()).await?;
    println!(
        "imported {} users into {pool_id}; {} skipped, {} failed",
        report.created, report.skipped, report.failed
    );
    Ok(())
}

async fn credentials(command: CredentialsCommand) -> anyhow::Result<()> {
    let CredentialsCommand::SessionKey(args) = command;
    let file = FileConfig::load(args.config.as_deref())?;
    let settings = Settings::resolve_common(&args, &file)?;
    init_logging("text")?;
    let store = open_store(&settings, Arc::new(SystemRandom)).await?;
    let key = store.derived_key(tessera_identity::SESSION_KEY_PURPOSE);
    println!("{}", tessera_credentials_key(key));
    store.close().await;
    Ok(())
}

/// The session key as services are given it.
fn tessera_credentials_key(key: [u8; 32]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(key)
}

async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    let args = match &command {
        KeysCommand::Create(args) | KeysCommand::List(args) => args,
        KeysCommand::Delete { common, .. } | KeysCommand::Rotate { common, .. } => common,
    };
    let file = FileConfig::load(args.config.as_deref())?;
    let settings = Settings::resolve_common(args, &file)?;
    init_logging("text")?;
    let random: Arc<dyn Random> = Arc::new(SystemRandom);
    // A SQLite server keeps its pools' keys in memory and hears of no other writer, so its
    // keys are rotated through it, not under it.
    let _sqlite_lock = match (&command, Backend::of_url(&settings.database_url)) {
        (KeysCommand::Rotate { .. }, Ok(Backend::Sqlite)) => lock_sqlite(&settings.database_url)
            .context(
                "tessera serve is running on this database: rotate through it with POST /admin/pools/<id>/signing-keys/rotate (SigV4-signed), or stop it first",
            )?,
        _ => None,
    };
    let store = open_store(&settings, random.clone()).await?;
    let result = match &command {
        KeysCommand::Rotate { pool, .. } => {
            let current = store.signing_keys(pool).await?;
            if current.is_empty() {
                Err(anyhow::anyhow!("no user pool {pool}"))
            } else {
                let keys =
                    tessera_idp::pool::keys::successors(&current, std::time::SystemTime::now())
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                if store.add_signing_keys(pool, &keys).await? {
                    for key in &keys {
                        println!("{} {}", key.key_use.as_str(), key.kid);
                    }
                    Ok(())
                } else {
                    Err(anyhow::anyhow!("no user pool {pool}"))
                }
            }
        }
        KeysCommand::Create(_) => {
            let key = AccessKey::generate(random.as_ref(), std::time::SystemTime::now());
            store.insert_access_key(&key).await?;
            println!("[default]");
            println!("aws_access_key_id = {}", key.id);
            println!("aws_secret_access_key = {}", key.secret);
            Ok(())
        }
        KeysCommand::List(_) => {
            for (id, _) in store.access_key_ids().await? {
                println!("{id}");
            }
            Ok(())
        }
        KeysCommand::Delete { access_key_id, .. } => {
            if store.delete_access_key(access_key_id).await? {
                println!("deleted {access_key_id}");
                Ok(())
            } else {
                Err(anyhow::anyhow!("no access key {access_key_id}"))
            }
        }
    };
    store.close().await;
    result
}

/// The master key an existing installation runs with, and where it comes from; never
/// creates one.
fn existing_master_key(data_dir: &Path) -> anyhow::Result<(MasterKey, String)> {
    let previous = previous_master_keys(data_dir)?;
    if let Ok(text) = std::env::var("TESSERA_MASTER_KEY") {
        let key = MasterKey::parse(&text).context("reading TESSERA_MASTER_KEY")?;
        return Ok((key.with_previous(previous), "TESSERA_MASTER_KEY".into()));
    }
    let path = data_dir.join("master.key");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let key = MasterKey::parse(&text).with_context(|| format!("reading {}", path.display()))?;
    Ok((key.with_previous(previous), path.display().to_string()))
}

/// The file of the master keys a rotation replaced, newest first, one per line.
const PREVIOUS_MASTER_KEYS_FILE: &str = "master.key.previous";

/// The master keys a rotation replaced (issue 16), whose sealed values still open until
/// `tessera master-key reseal` (or `POST /admin/master-key/reseal`) has sealed them again:
/// `TESSERA_PREVIOUS_MASTER_KEYS` (comma-separated) or `<data-dir>/master.key.previous`.
fn previous_master_keys(data_dir: &Path) -> anyhow::Result<Vec<MasterKey>> {
    let (text, source) = match std::env::var("TESSERA_PREVIOUS_MASTER_KEYS") {
        Ok(text) => (text, "TESSERA_PREVIOUS_MASTER_KEYS".to_owned()),
        Err(_) => {
            let path = data_dir.join(PREVIOUS_MASTER_KEYS_FILE);
            match std::fs::read_to_string(&path) {
                Ok(text) => (text, path.display().to_string()),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(error) => {
                    return Err(error).with_context(|| format!("reading {}", path.display()))
                }
            }
        }
    };
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| MasterKey::parse(line).with_context(|| format!("reading {source}")))
        .collect()
}

/// `tessera master-key rotate`: a new master key in `<data-dir>/master.key`, the old one kept
/// first in `master.key.previous`, both written owner-only. Nothing is re-sealed yet: the
/// servers are restarted with the new key ring, then `reseal` seals every value again.
fn rotate_master_key(data_dir: &Path, random: &dyn Random) -> anyhow::Result<()> {
    anyhow::ensure!(
        std::env::var("TESSERA_MASTER_KEY").is_err(),
        "the master key comes from TESSERA_MASTER_KEY: set a new one there and the old one in TESSERA_PREVIOUS_MASTER_KEYS instead"
    );
    let path = data_dir.join("master.key");
    let old =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    MasterKey::parse(&old).with_context(|| format!("reading {}", path.display()))?;
    let previous_path = data_dir.join(PREVIOUS_MASTER_KEYS_FILE);
    let earlier = match std::fs::read_to_string(&previous_path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => {
            return Err(error).with_context(|| format!("reading {}", previous_path.display()))
        }
    };
    // The previous keys first, so that no moment exists where the old key is in neither file.
    credentials::write_private(&previous_path, &format!("{}\n{earlier}", old.trim()))
        .with_context(|| format!("writing {}", previous_path.display()))?;
    credentials::write_private(&path, &(MasterKey::generate_text(random) + "\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The database file a SQLite URL names; `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:" && !url.contains("mode=memory"))
        .then(|| PathBuf::from(path))
}

async fn take_backup(args: &CommonArgs, output: &Path) -> anyhow::Result<()> {
    let file = FileConfig::load(args.config.as_deref())?;
    let settings = Settings::resolve_common(args, &file)?;
    init_logging("text")?;
    if Backend::of_url(&settings.database_url)? != Backend::Sqlite {
        anyhow::bail!(
            "tessera backup copies SQLite installations; back up PostgreSQL with pg_dump or its continuous archiving (see packaging/README.md)"
        );
    }
    let (key, source) = existing_master_key(&settings.data_dir)?;
    let key_fingerprint = backup::fingerprint(&key);
    let store = Store::connect(
        &settings.database_url,
        Arc::new(key),
        Arc::new(SystemRandom),
    )
    .await
    .context("opening the database")?;
    let result = backup::backup(&store, &key_fingerprint, &source, output).await;
    store.close().await;
    result?;
    println!(
        "backed up to {} (master key fingerprint {key_fingerprint}; the key is not in the backup)",
        output.display(),
    );
    Ok(())
}

async fn restore(
    args: &CommonArgs,
    from: &Path,
    master_key_file: Option<&Path>,
) -> anyhow::Result<()> {
    let file = FileConfig::load(args.config.as_deref())?;
    let settings = Settings::resolve_common(args, &file)?;
    init_logging("text")?;
    let Some(target) = sqlite_file(&settings.database_url) else {
        anyhow::bail!(
            "tessera restore writes a SQLite database; restore PostgreSQL with its own tools"
        );
    };
    let found = backup::open(from)?;
    if target.exists() {
        anyhow::bail!(
            "{} already exists: restore into a data directory without a database",
            target.display()
        );
    }
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    if let Some(path) = master_key_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let key = MasterKey::parse(&text).with_context(|| format!("reading {}", path.display()))?;
        if backup::fingerprint(&key) != found.fingerprint {
            anyhow::bail!(
                "the master key in {} is not the one the backup was taken with (fingerprint {}, the backup's {})",
                path.display(),
                backup::fingerprint(&key),
                found.fingerprint
            );
        }
        let kept = settings.data_dir.join("master.key");
        if !kept.exists() {
            credentials::write_private(&kept, &(text.trim().to_owned() + "\n"))?;
        }
    }
    let (key, _) = existing_master_key(&settings.data_dir).with_context(|| {
        format!(
            "restore needs the master key the backup was taken with (fingerprint {}): put it in the data directory's master.key, or pass --master-key-file or TESSERA_MASTER_KEY",
            found.fingerprint
        )
    })?;
    if backup::fingerprint(&key) != found.fingerprint {
        anyhow::bail!(
            "the master key is not the one the backup was taken with (fingerprint {}, the backup's {})",
            backup::fingerprint(&key),
            found.fingerprint
        );
    }
    std::fs::copy(&found.database, &target)
        .with_context(|| format!("copying the database to {}", target.display()))?;
    let store = Store::connect(
        &settings.database_url,
        Arc::new(key),
        Arc::new(SystemRandom),
    )
    .await
    .context("opening the restored database")?;
    let sound = store.integrity_ok().await;
    store.close().await;
    if !sound? {
        anyhow::bail!("the restored database fails SQLite's integrity check");
    }
    println!(
        "restored {} into {}",
        from.display(),
        settings.data_dir.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::soft_open_file_limit;

    #[test]
    fn the_soft_open_file_limit_is_read_from_proc_limits() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max processes             63704                63704                processes \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(soft_open_file_limit(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files     \n";
        assert_eq!(soft_open_file_limit(unlimited), None);
        assert_eq!(soft_open_file_limit(""), None);
    }
}
