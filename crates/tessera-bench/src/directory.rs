//! The directory benchmark (issue 3): SignUp throughput and filtered ListUsers latency at
//! large user populations. For each population size it
//!
//! 1. starts the real `tessera serve` on a fresh data directory (SQLite) or a fresh
//!    PostgreSQL database, and creates a pool and a client through the signed API;
//! 2. stops tessera and seeds the users directly through the storage layer
//!    (`Store::insert_users` in the bench process, with the master key the server wrote),
//!    each built as SignUp and ConfirmSignUp build a user, but all sharing one precomputed
//!    argon2id hash and SRP verifier: hashing a million passwords would take hours and
//!    measure nothing about the directory;
//! 3. starts tessera again on the seeded database and checks through the API that seeded
//!    users are found by the search index and can sign in like users the API created;
//! 4. measures ListUsers with filters (exact e-mail, e-mail and username prefixes, the
//!    confirmation status, a paginated walk near the start and one thousands of pages in) at
//!    a modest concurrency, checking that every answer holds the expected number of users,
//!    and then SignUp throughput with the load benchmark's closed loop;
//! 5. stops tessera and, after the last population, prints a Markdown report with the target
//!    of issue 3 (filtered ListUsers p99 under 20 ms at 1,000,000 users) next to the figures.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use tessera_core::{
    srp_pool_name, MasterKey, PasswordHasher, Random, SrpVerifier, SystemRandom, User, UserStatus,
};
use tessera_store::{Store, UserChange};

use crate::api::{self, call, call_signed, Endpoint, Fixture, PASSWORD};
use crate::http::Conn;
use crate::load::{self, closed_loop, expect_ok, Measured, Operation, Plan, Scenario};
use crate::report::{
    cores, figures, latency, megabytes, publish, thousands, trim_float, write_errors,
    write_other_work, OTHER_CPU_NOTE,
};
use crate::server::{
    self, cpu_ticks, machine_busy_ticks, processes_cpu_ticks, Backend, Machine, Surroundings,
};
use crate::util::{parse_duration, Context, Result};

/// Issue 3: filtered ListUsers p99 stays under this at 1,000,000 users.
const TARGET_P99_US: u64 = 20_000;
/// The population the target is set at.
const TARGET_USERS: usize = 1_000_000;
/// ListUsers' largest page, which the measurements ask for.
const PAGE: usize = 60;
/// How many seeded users the exact e-mail lookups draw (at random, once per population).
const EXACT_LOOKUPS: usize = 1_000;
/// Every tenth seeded user has signed up but not confirmed.
const UNCONFIRMED_EVERY: usize = 10;

/// Given and family names of the seeded users. Forty given names make each e-mail or
/// username prefix `<given name>.` match one user in forty, which is 25,000 users at a
/// million: a prefix search that has to stop at a page, not run out of matches.
const GIVEN_NAMES: [&str; 40] = [
    "Ada", "Alan", "Alice", "Amir", "Anna", "Ben", "Bruno", "Carla", "Chen", "Dana", "David",
    "Elena", "Emma", "Farid", "Grace", "Hana", "Ivan", "Jon", "Julia", "Kai", "Lara", "Leo",
    "Lina", "Marco", "Maria", "Mei", "Nina", "Noah", "Omar", "Paul", "Priya", "Rosa", "Sam",
    "Sara", "Tomas", "Uma", "Victor", "Wen", "Yusuf", "Zoe",
];
const FAMILY_NAMES: [&str; 40] = [
    "Adams", "Baker", "Becker", "Costa", "Cruz", "Diaz", "Dubois", "Evans", "Fischer", "Garcia",
    "Gupta", "Hansen", "Ito", "Jansen", "Kim", "Kowalski", "Lee", "Lopez", "Martin", "Meyer",
    "Moreau", "Novak", "Nguyen", "Okafor", "Olsen", "Patel", "Perez", "Rossi", "Sato", "Schmidt",
    "Silva", "Smith", "Suzuki", "Tanaka", "Torres", "Wagner", "Wang", "Weber", "Wong", "Zhang",
];
const DOMAINS: [&str; 4] = ["example.com", "example.org", "example.net", "mail.example"];

/// `tessera-bench directory`: the directory benchmark of issue 3.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Population sizes, comma-separated; each runs on a fresh server and database.
    #[arg(long, value_delimiter = ',', default_value = "10000")]
    users: Vec<usize>,
    /// Run tessera on PostgreSQL: a fresh database per population is created through this URL
    /// (e.g. postgres://postgres@127.0.0.1:5432/postgres) and dropped afterwards.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The tessera binary (default: `tessera` next to this program, i.e. target/release).
    #[arg(long, value_name = "PATH")]
    tessera: Option<PathBuf>,
    /// Connections of the ListUsers measurements; few, since latency is what they measure.
    #[arg(long, default_value_t = 4)]
    list_concurrency: usize,
    /// Connections of the SignUp measurement (the load benchmark's default).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Measured time per measurement (10, 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured time per measurement before the measured window.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Users per seeding transaction.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
    /// Seeding transactions in flight at once [default: 1 on SQLite, which takes one writer at
    /// a time; 4 on PostgreSQL, where each statement is a round trip to wait for].
    #[arg(long)]
    seed_connections: Option<usize>,
    /// Pages of each paginated walk measurement.
    #[arg(long, default_value_t = 10)]
    pages: usize,
    /// Pages the deep walk follows before the pages it measures (fewer when the population
    /// has fewer pages).
    #[arg(long, default_value_t = 5_000)]
    deep_pages: usize,
}

impl Args {
    /// The `--tessera` binary, if one was given.
    pub fn tessera(&self) -> Option<&Path> {
        self.tessera.as_deref()
    }

    fn seed_connections(&self) -> usize {
        self.seed_connections
            .unwrap_or(if self.postgres.is_some() { 4 } else { 1 })
    }
}

/// What one measured operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measurement {
    NoFilter,
    EmailExact,
    EmailPrefix,
    UsernamePrefix,
    UserStatus,
    Walk,
    DeepWalk,
    SignUp,
}

impl Measurement {
    const ALL: [Measurement; 8] = [
        Measurement::NoFilter,
        Measurement::EmailExact,
        Measurement::EmailPrefix,
        Measurement::UsernamePrefix,
        Measurement::UserStatus,
        Measurement::Walk,
        Measurement::DeepWalk,
        Measurement::SignUp,
    ];

    fn name(self) -> &'static str {
        match self {
            Measurement::NoFilter => "list_no_filter",
            Measurement::EmailExact => "list_email_exact",
            Measurement::EmailPrefix => "list_email_prefix",
            Measurement::UsernamePrefix => "list_username_prefix",
            Measurement::UserStatus => "list_user_status",
            Measurement::Walk => "list_walk",
            Measurement::DeepWalk => "list_walk_deep",
            Measurement::SignUp => "sign_up",
        }
    }

    /// The filter as the summary table heads it.
    fn short(self) -> &'static str {
        match self {
            Measurement::NoFilter => "no filter",
            Measurement::EmailExact => "`email =`",
            Measurement::EmailPrefix => "`email ^=`",
            Measurement::UsernamePrefix => "`username ^=`",
            Measurement::UserStatus => "`cognito:user_status =`",
            Measurement::Walk => "walk",
            Measurement::DeepWalk => "deep walk",
            Measurement::SignUp => "SignUp",
        }
    }

    fn describe(self, pages: usize, deep_pages: usize) -> String {
        match self {
            Measurement::NoFilter => format!(
                "ListUsers without a filter, Limit {PAGE}: the first page in username order (the baseline: a page of users without the search index)"
            ),
            Measurement::EmailExact => format!(
                "ListUsers `email = \"<address>\"`, the addresses of {} seeded users drawn at random, in turn; each answer must hold exactly that one user",
                whole(EXACT_LOOKUPS)
            ),
            Measurement::EmailPrefix => format!(
                "ListUsers `email ^= \"<given name>.\"`, Limit {PAGE}, the {} given names in turn, each matching one seeded user in {}; each answer must hold a full page",
                GIVEN_NAMES.len(),
                GIVEN_NAMES.len()
            ),
            Measurement::UsernamePrefix => format!(
                "ListUsers `username ^= \"<given name>_\"`, Limit {PAGE}, as for the e-mail prefix"
            ),
            Measurement::UserStatus => format!(
                "ListUsers `cognito:user_status = \"CONFIRMED\"`, Limit {PAGE}, which nine users in ten match; each answer must hold a full page"
            ),
            Measurement::Walk => format!(
                "ListUsers `cognito:user_status = \"CONFIRMED\"`, Limit {PAGE}, pages 1 to {pages} in turn, each request carrying the PaginationToken the page before it returned (collected by one walk before the window; tokens are stateless, so replaying page k costs the server what following the token does); one operation = one page"
            ),
            Measurement::DeepWalk => format!(
                "the same walk further on: pages {} to {} (or the last {pages} pages of a population with fewer), reached by following every PaginationToken from the first page; a page must cost the same at any depth",
                whole(deep_pages + 1),
                whole(deep_pages + pages)
            ),
            Measurement::SignUp => {
                "SignUp, a new username each time (the load benchmark's `sign_up` scenario)".into()
            }
        }
    }

    fn filtered(self) -> bool {
        !matches!(self, Measurement::NoFilter | Measurement::SignUp)
    }
}

/// The seeded population: user `i` is fully determined by `i`, so the bench knows every
/// user's name, e-mail address and status, and how many users each prefix matches, without
/// keeping a million users in memory.
#[derive(Debug, Clone, Copy)]
struct Population {
    users: usize,
}

impl Population {
    fn given(self, i: usize) -> &'static str {
        GIVEN_NAMES[i % GIVEN_NAMES.len()]
    }

    fn family(self, i: usize) -> &'static str {
        FAMILY_NAMES[(i / GIVEN_NAMES.len()) % FAMILY_NAMES.len()]
    }

    fn username(self, i: usize) -> String {
        format!("{}_{}_{i}", self.given(i), self.family(i)).to_ascii_lowercase()
    }

    fn email(self, i: usize) -> String {
        format!(
            "{}.{}.{i}@{}",
            self.given(i),
            self.family(i),
            DOMAINS[(i / 7) % DOMAINS.len()]
        )
        .to_ascii_lowercase()
    }

    fn confirmed(self, i: usize) -> bool {
        i % UNCONFIRMED_EVERY != UNCONFIRMED_EVERY - 1
    }

    /// How many users have the given name with this index in [`GIVEN_NAMES`].
    fn with_given(self, name: usize) -> usize {
        self.users / GIVEN_NAMES.len() + usize::from(name < self.users % GIVEN_NAMES.len())
    }

    fn confirmed_count(self) -> usize {
        self.users - self.users / UNCONFIRMED_EVERY
    }
}

/// What every seeded user shares: the password's argon2id hash and one SRP verifier.
struct Secrets {
    password_hash: String,
    srp_verifier: SrpVerifier,
}

/// User `i`, its lookup key and its aliases, as SignUp followed by ConfirmSignUp stores them
/// in a pool with e-mail as a verified alias and case-insensitive usernames. Unconfirmed users
/// have no verified e-mail, hence no alias.
fn seeded_user(
    population: Population,
    pool_id: &str,
    i: usize,
    secrets: &Secrets,
    now: SystemTime,
) -> (User, String, Vec<(String, String)>) {
    let username = population.username(i);
    let email = population.email(i);
    let confirmed = population.confirmed(i);
    let mut attributes = std::collections::BTreeMap::new();
    attributes.insert("email".to_owned(), email.clone());
    attributes.insert("given_name".to_owned(), population.given(i).to_owned());
    attributes.insert("family_name".to_owned(), population.family(i).to_owned());
    let mut aliases = Vec::new();
    if confirmed {
        attributes.insert("email_verified".to_owned(), "true".to_owned());
        // The server keys e-mail aliases lower-cased (Directory::alias_key).
        aliases.push(("email".to_owned(), email.to_lowercase()));
    }
    let mut sub = [0u8; 16];
    SystemRandom.fill(&mut sub);
    let user = User {
        pool_id: pool_id.to_owned(),
        // The pool's usernames are case-insensitive: the key is the lower-cased username,
        // which these already are.
        username: username.clone(),
        sub: uuid::Builder::from_random_bytes(sub)
            .into_uuid()
            .to_string(),
        status: if confirmed {
            UserStatus::Confirmed
        } else {
            UserStatus::Unconfirmed
        },
        enabled: true,
        attributes,
        password_hash: Some(secrets.password_hash.clone()),
        password_set_at: Some(now),
        srp_verifier: Some(secrets.srp_verifier.clone()),
        mfa: Default::default(),
        created_at: now,
        last_modified_at: now,
        version: 0,
    };
    (user, username, aliases)
}

/// How seeding went.
#[derive(Debug, Clone, Default)]
struct Seeding {
    seconds: f64,
    transactions: usize,
    /// Time to compute the shared argon2id hash and SRP verifier, before the clock above.
    secrets_seconds: f64,
    /// Cores' worth of CPU used by the bench (which does the storage layer's work) and by
    /// everything else (on PostgreSQL, the database server among it) while seeding.
    bench_cpu: Option<f64>,
    other_cpu: Option<f64>,
    /// Of `other_cpu`, what processes named `postgres` used.
    postgres_cpu: Option<f64>,
    /// `VACUUM ANALYZE` after seeding (PostgreSQL only), in seconds.
    vacuum_seconds: Option<f64>,
}

/// Inserts the population through the storage layer, `batch` users per transaction, with
/// `connections` transactions in flight.
async fn seed(
    store: &Store,
    population: Population,
    pool_id: &str,
    batch: usize,
    connections: usize,
    ticks_per_second: f64,
) -> Result<Seeding> {
    let secrets_started = Instant::now();
    let password_hash = PasswordHasher::owasp()
        .hash(PASSWORD, &SystemRandom)
        .context("hashing the shared password")?;
    // The verifier is bound to one username; it is the first user's, so only that user could
    // sign in with USER_SRP_AUTH. It is there so that every row has the size of a real one.
    let srp_verifier = SrpVerifier::new(
        srp_pool_name(pool_id),
        &population.username(0),
        PASSWORD,
        &SystemRandom,
    );
    let secrets = Arc::new(Secrets {
        password_hash,
        srp_verifier,
    });
    let secrets_seconds = secrets_started.elapsed().as_secs_f64();

    let batch = batch.max(1);
    let transactions = population.users.div_ceil(batch);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let pool_id: Arc<str> = Arc::from(pool_id);
    let started = Instant::now();
    let bench_before = cpu_ticks(None);
    let machine_before = machine_busy_ticks();
    let postgres_before = processes_cpu_ticks("postgres");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections.clamp(1, transactions.max(1)) {
        let (store, next, done, pool_id, secrets) = (
            store.clone(),
            next.clone(),
            done.clone(),
            pool_id.clone(),
            secrets.clone(),
        );
        tasks.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= transactions {
                    return Ok::<(), String>(());
                }
                let first = index * batch;
                let last = (first + batch).min(population.users);
                let now = SystemTime::now();
                let users: Vec<_> = (first..last)
                    .map(|i| seeded_user(population, &pool_id, i, &secrets, now))
                    .collect();
                let changes: Vec<UserChange<'_>> = users
                    .iter()
                    .map(|(user, key, aliases)| UserChange {
                        user,
                        key,
                        aliases: Some(aliases),
                        put_code: None,
                        consume_codes: &[],
                    })
                    .collect();
                store
                    .insert_users(&changes)
                    .await
                    .context(format!("seeding users {first} to {}", last - 1))?;
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                // About ten progress lines per population.
                if finished % (transactions / 10).max(1) == 0 || finished == transactions {
                    eprintln!(
                        "  seeded {} of {} users ({:.0} s)",
                        whole((finished * batch).min(population.users)),
                        whole(population.users),
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("seeding task")??;
    }
    let seconds = started.elapsed().as_secs_f64();
    let cores = |before: Option<u64>, after: Option<u64>| {
        Some(after?.saturating_sub(before?) as f64 / ticks_per_second / seconds.max(1e-9))
    };
    let bench_cpu = cores(bench_before, cpu_ticks(None));
    let machine_cpu = cores(machine_before, machine_busy_ticks());
    Ok(Seeding {
        seconds,
        transactions,
        secrets_seconds,
        bench_cpu,
        other_cpu: (|| Some((machine_cpu? - bench_cpu?).max(0.0)))(),
        postgres_cpu: cores(postgres_before, processes_cpu_ticks("postgres")),
        vacuum_seconds: None,
    })
}

/// ListUsers requests, serialised and signed before the window, each with the number of
/// users its answer must hold; taken in turn.
struct ListPages {
    requests: Vec<(Vec<u8>, usize)>,
    next: AtomicU64,
}

impl ListPages {
    fn new(requests: Vec<(Vec<u8>, usize)>) -> Result<Self> {
        if requests.is_empty() {
            return Err("a ListUsers measurement needs at least one request".into());
        }
        Ok(Self {
            requests,
            next: AtomicU64::new(0),
        })
    }
}

impl Operation for ListPages {
    async fn once(&self, conn: &mut Conn) -> std::result::Result<(), String> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let index = usize::try_from(n % self.requests.len() as u64).unwrap_or(0);
        let Some((request, expected)) = self.requests.get(index) else {
            return Err("no request".into());
        };
        expect_ok(conn, request).await?;
        // Counting the members is enough to check the page and far cheaper than parsing it;
        // no seeded value contains this text.
        if count(conn.body(), b"\"Username\":") != *expected {
            return Err("wrong number of users".into());
        }
        Ok(())
    }
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|window| *window == needle)
        .count()
}

/// A small, fast generator for drawing users (splitmix64); not for secrets.
struct Draw(u64);

impl Draw {
    fn below(&mut self, bound: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        usize::try_from(z % bound.max(1) as u64).unwrap_or(0)
    }
}

fn list_body(pool_id: &str, filter: Option<&str>, token: Option<&str>) -> Vec<u8> {
    let mut body = json!({ "UserPoolId": pool_id, "Limit": PAGE });
    if let Some(filter) = filter {
        body["Filter"] = json!(filter);
    }
    if let Some(token) = token {
        body["PaginationToken"] = json!(token);
    }
    body.to_string().into_bytes()
}

/// The requests of one ListUsers measurement, signed now (SigV4 signatures stay valid for 15
/// minutes, far longer than a measurement).
async fn list_requests(
    measurement: Measurement,
    endpoint: &Endpoint,
    pool_id: &str,
    population: Population,
    args: &Args,
    draw: &mut Draw,
) -> Result<(Vec<(Vec<u8>, usize)>, Option<String>)> {
    let signed = |filter: Option<&str>, token: Option<&str>| {
        endpoint.signed("ListUsers", &list_body(pool_id, filter, token))
    };
    let mut requests = Vec::new();
    match measurement {
        Measurement::NoFilter => requests.push((signed(None, None)?, PAGE.min(population.users))),
        Measurement::EmailExact => {
            for _ in 0..EXACT_LOOKUPS.min(population.users) {
                let i = draw.below(population.users);
                let filter = format!("email = \"{}\"", population.email(i));
                requests.push((signed(Some(&filter), None)?, 1));
            }
        }
        Measurement::EmailPrefix | Measurement::UsernamePrefix => {
            for (name, given) in GIVEN_NAMES.iter().enumerate() {
                let given = given.to_ascii_lowercase();
                let filter = if measurement == Measurement::EmailPrefix {
                    format!("email ^= \"{given}.\"")
                } else {
                    format!("username ^= \"{given}_\"")
                };
                let expected = population.with_given(name).min(PAGE);
                requests.push((signed(Some(&filter), None)?, expected));
            }
        }
        Measurement::UserStatus => requests.push((
            signed(Some(STATUS_FILTER), None)?,
            population.confirmed_count().min(PAGE),
        )),
        Measurement::Walk => {
            return Ok((
                walk(endpoint, pool_id, population, 0, args.pages).await?.0,
                None,
            ));
        }
        Measurement::DeepWalk => {
            let total = population.confirmed_count().div_ceil(PAGE);
            let skip = args.deep_pages.min(total.saturating_sub(args.pages));
            let (requests, seconds) = walk(endpoint, pool_id, population, skip, args.pages).await?;
            return Ok((
                requests,
                Some(format!(
                    "`list_walk_deep` measured pages {} to {} of {}; following the tokens there from the first page took {} ({:.2} ms a page on one connection, the bench parsing every page).",
                    whole(skip + 1),
                    whole((skip + args.pages).min(total)),
                    whole(total),
                    seconds_text(seconds),
                    seconds * 1000.0 / (skip + args.pages).min(total).max(1) as f64
                )),
            ));
        }
        Measurement::SignUp => {}
    }
    Ok((requests, None))
}

/// Walks `cognito:user_status = "CONFIRMED"` page by page from the first, following each
/// PaginationToken and checking each page's size, and returns the requests of the `pages`
/// pages after the first `skip`, with the walk's time in seconds.
async fn walk(
    endpoint: &Endpoint,
    pool_id: &str,
    population: Population,
    skip: usize,
    pages: usize,
) -> Result<(Vec<(Vec<u8>, usize)>, f64)> {
    let started = Instant::now();
    let mut conn = Conn::new(endpoint.addr);
    let mut token: Option<String> = None;
    let mut seen = 0;
    let mut requests = Vec::new();
    for page in 1..=skip + pages.max(1) {
        let request = endpoint.signed(
            "ListUsers",
            &list_body(pool_id, Some(STATUS_FILTER), token.as_deref()),
        )?;
        let answer = call(&mut conn, "ListUsers", &request).await?;
        let users = answer
            .get("Users")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let expected = population.confirmed_count().saturating_sub(seen).min(PAGE);
        if users != expected {
            return Err(format!(
                "the paginated walk's page {page} held {users} users, not {expected}"
            ));
        }
        seen += users;
        if page > skip {
            requests.push((request, users));
        }
        token = answer
            .get("PaginationToken")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    Ok((requests, started.elapsed().as_secs_f64()))
}

const STATUS_FILTER: &str = "cognito:user_status = \"CONFIRMED\"";

/// One population's run.
#[derive(Debug, Clone)]
struct PopulationRun {
    users: usize,
    backend: String,
    pool_id: String,
    seeding: Seeding,
    database_bytes: Option<u64>,
    /// The PostgreSQL server's version and settings.
    database_settings: Option<String>,
    checks: String,
    results: Vec<(Measurement, Measured)>,
    sign_ups: u64,
    server_hwm_kib: Option<u64>,
    stopped: String,
    notes: Vec<String>,
}

/// Runs the directory benchmark and prints its report.
pub fn run(args: Args, binary: &Path) -> Result<()> {
    if args.users.is_empty() || args.users.contains(&0) {
        return Err("--users needs one or more population sizes, each at least 1".into());
    }
    if args.list_concurrency == 0 || args.concurrency == 0 || args.seed_connections() == 0 {
        return Err(
            "--list-concurrency, --concurrency and --seed-connections must be at least 1".into(),
        );
    }
    if args.duration.is_zero() {
        return Err("--duration must be more than zero".into());
    }
    let Surroundings {
        ticks_per_second: ticks,
        machine,
        date,
        commit,
    } = Surroundings::observe(binary, "tessera-bench directory");
    // One thread keeps most of the machine for the server, as in the load benchmark.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the load generator's runtime")?;
    let mut runs = Vec::new();
    for &users in &args.users {
        eprintln!("tessera-bench directory: {} users ...", whole(users));
        runs.push(runtime.block_on(population_run(&args, binary, users, ticks))?);
    }
    let text = render(&args, &machine, &date, &commit, &runs);
    publish(&text, args.output.as_deref())
}

/// One population on a fresh server and database, which are cleaned up afterwards.
async fn population_run(
    args: &Args,
    binary: &Path,
    users: usize,
    ticks: f64,
) -> Result<PopulationRun> {
    let backend = Backend::create(args.postgres.as_deref()).await?;
    let result = with_server(args, binary, &backend, users, ticks).await;
    let dropped = backend.clean_up().await;
    let mut run = result?;
    run.notes.extend(dropped);
    Ok(run)
}

async fn with_server(
    args: &Args,
    binary: &Path,
    backend: &Backend,
    users: usize,
    ticks: f64,
) -> Result<PopulationRun> {
    let population = Population { users };
    let database_url = backend.database_url();
    let mut server = backend.start(binary)?;
    eprintln!("tessera-bench: tessera is listening on {}", server.addr);
    let fixture = create_pool(&server.endpoint())
        .await
        .map_err(|error| server.with_log_tail(error))?;
    // tessera is stopped while the bench writes: on SQLite a server takes its database to be
    // its own (it caches what it reads), so the users are loaded as an import would load
    // them, and the server measured afterwards is one restarted on the grown directory.
    let stopped_for_seeding = server.stop();
    let data_dir = server.data_dir.clone();
    let setup_pid = server.pid;

    // The bench opens the server's own database with the master key the server created, so
    // that seeded secrets are sealed exactly as the server seals them.
    let url = match database_url {
        Some(url) => url.to_owned(),
        // tessera's default (crates/tessera/src/config.rs): tessera.db in the data directory.
        None => format!(
            "sqlite://{}?mode=rwc",
            data_dir.join("tessera.db").display()
        ),
    };
    let key_path = data_dir.join("master.key");
    let key_text =
        std::fs::read_to_string(&key_path).context(format!("reading {}", key_path.display()))?;
    let master_key = MasterKey::parse(&key_text).context("reading the server's master key")?;
    let store = Store::connect(&url, Arc::new(master_key), Arc::new(SystemRandom))
        .await
        .context("opening the server's database")?;
    eprintln!(
        "tessera-bench: seeding {} users, {} per transaction ...",
        whole(users),
        whole(args.batch)
    );
    let mut seeding = seed(
        &store,
        population,
        &fixture.pool_id,
        args.batch,
        args.seed_connections(),
        ticks,
    )
    .await?;
    let counted = store
        .count_users(&fixture.pool_id)
        .await
        .context("counting the seeded users")?;
    store.close().await;
    eprintln!(
        "  {} users in {:.1} s ({} users/s)",
        thousands(counted as f64),
        seeding.seconds,
        thousands(users as f64 / seeding.seconds.max(1e-9))
    );
    if usize::try_from(counted).ok() != Some(users) {
        return Err(format!(
            "the store counts {counted} users after seeding {users}"
        ));
    }
    let mut database_settings = None;
    if database_url.is_some() {
        seeding.vacuum_seconds = Some(vacuum_analyze(&url).await?);
        database_settings = postgres_settings(&url).await;
    }
    let database_bytes = match database_url {
        Some(url) => postgres_size(url).await,
        None => sqlite_size(&data_dir),
    };
    let mut server = backend.start(binary)?;
    eprintln!(
        "tessera-bench: tessera (pid {setup_pid} {stopped_for_seeding}) restarted on the seeded database, listening on {}",
        server.addr
    );
    let endpoint = server.endpoint();
    let checks = check_seeded(&endpoint, &fixture, population)
        .await
        .map_err(|error| server.with_log_tail(error))?;
    eprintln!("  {checks}");

    let mut results = Vec::new();
    let mut draw = Draw(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as u64),
    );
    let mut sign_ups = 0;
    let mut notes = Vec::new();
    for measurement in Measurement::ALL {
        let concurrency = if measurement == Measurement::SignUp {
            args.concurrency
        } else {
            args.list_concurrency
        };
        let plan = Plan {
            concurrency,
            warmup: args.warmup,
            duration: args.duration,
        };
        eprintln!(
            "tessera-bench: {} ({} connections, {} s warm-up, {} s measured) ...",
            measurement.name(),
            concurrency,
            plan.warmup.as_secs_f64(),
            plan.duration.as_secs_f64()
        );
        let measured = if measurement == Measurement::SignUp {
            load::run(
                Scenario::SignUp,
                plan,
                &endpoint,
                &fixture,
                server.pid,
                ticks,
            )
            .await?
        } else {
            let (requests, note) = list_requests(
                measurement,
                &endpoint,
                &fixture.pool_id,
                population,
                args,
                &mut draw,
            )
            .await?;
            if let Some(note) = note {
                eprintln!("  {note}");
                notes.push(note);
            }
            let operation = Arc::new(ListPages::new(requests)?);
            closed_loop(operation, endpoint.addr, plan, server.pid, ticks).await?
        };
        eprintln!(
            "  {} req/s, p50 {}, p99 {}, {} errors",
            thousands(measured.per_second()),
            latency(measured.p50_us),
            latency(measured.p99_us),
            measured.errors
        );
        if measurement == Measurement::SignUp {
            sign_ups = measured.ok + measured.errors;
        }
        results.push((measurement, measured));
    }
    let server_hwm_kib = server::status_kib(server.pid, "VmHWM");
    let stopped = server.stop();
    eprintln!("tessera-bench: tessera {stopped}");
    Ok(PopulationRun {
        users,
        backend: backend.description.clone(),
        pool_id: fixture.pool_id,
        seeding,
        database_bytes,
        database_settings,
        checks,
        results,
        sign_ups,
        server_hwm_kib,
        stopped,
        notes,
    })
}

/// The pool the users live in: e-mail is an alias that signs a user in once verified, and
/// usernames ignore case (the console's default for new pools). No attribute is
/// auto-verified, so SignUp sends no message and measures the directory, not the outbox.
async fn create_pool(endpoint: &Endpoint) -> Result<Fixture> {
    api::create_pool_and_client(
        &mut Conn::new(endpoint.addr),
        endpoint,
        json!({
            "PoolName": "tessera-bench-directory",
            "AliasAttributes": ["email"],
            "UsernameConfiguration": { "CaseSensitive": false },
        }),
        |pool_id| {
            json!({
                "UserPoolId": pool_id,
                "ClientName": "tessera-bench-directory",
                "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            })
        },
    )
    .await
}

/// Checks through the API that seeded users are indexed and usable like API-created ones:
/// the first, middle and last are found by exact e-mail, and a confirmed one signs in with
/// the shared password.
async fn check_seeded(
    endpoint: &Endpoint,
    fixture: &Fixture,
    population: Population,
) -> Result<String> {
    let mut conn = Conn::new(endpoint.addr);
    let last = population.users - 1;
    let probes = [0, population.users / 2, last];
    for &i in &probes {
        let filter = format!("email = \"{}\"", population.email(i));
        let answer = call_signed(
            &mut conn,
            endpoint,
            "ListUsers",
            list_body(&fixture.pool_id, Some(&filter), None),
        )
        .await?;
        let names: Vec<&str> = answer
            .get("Users")
            .and_then(Value::as_array)
            .map(|users| {
                users
                    .iter()
                    .filter_map(|user| user.get("Username").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        if names != [population.username(i).as_str()] {
            return Err(format!(
                "ListUsers `{filter}` found {names:?}, not the seeded user {}",
                population.username(i)
            ));
        }
    }
    let signer = (0..population.users)
        .map(|offset| (population.users / 2 + offset) % population.users)
        .find(|&i| population.confirmed(i))
        .context("the population has no confirmed user")?;
    let signed_in = api::sign_in(
        &mut conn,
        endpoint,
        &fixture.client_id,
        &population.username(signer),
    )
    .await?;
    if signed_in
        .pointer("/AuthenticationResult/AccessToken")
        .is_none()
    {
        return Err(format!(
            "seeded user {} did not sign in: {signed_in}",
            population.username(signer)
        ));
    }
    Ok(format!(
        "Check: the store counts {} users; ListUsers `email = \"…\"` found exactly the seeded user for users {}, {} and {}; seeded user {} signed in with USER_PASSWORD_AUTH and the shared password.",
        whole(population.users),
        probes[0],
        probes[1],
        probes[2],
        population.username(signer)
    ))
}

/// What autovacuum does on its own some time after a bulk load: statistics for the planner
/// and the visibility map. Done at once so that the measurements see the steady state rather
/// than racing the daemon.
async fn vacuum_analyze(url: &str) -> Result<f64> {
    use sqlx::Connection;
    eprintln!("tessera-bench: VACUUM ANALYZE ...");
    let started = Instant::now();
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .context("connecting to the bench database")?;
    sqlx::raw_sql("VACUUM ANALYZE")
        .execute(&mut conn)
        .await
        .context("VACUUM ANALYZE")?;
    let _ = conn.close().await;
    Ok(started.elapsed().as_secs_f64())
}

/// The PostgreSQL server's version and the settings that shape what the report measures.
async fn postgres_settings(url: &str) -> Option<String> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
    let row = sqlx::query(
        "SELECT current_setting('server_version') AS version, current_setting('shared_buffers') AS shared_buffers, current_setting('autovacuum') AS autovacuum, current_setting('synchronous_commit') AS synchronous_commit",
    )
    .fetch_one(&mut conn)
    .await
    .ok()?;
    let _ = conn.close().await;
    let get = |name: &str| row.try_get::<String, _>(name).unwrap_or_default();
    Some(format!(
        "PostgreSQL {} on the same machine, shared_buffers {}, autovacuum {}, synchronous_commit {}",
        get("version"),
        get("shared_buffers"),
        get("autovacuum"),
        get("synchronous_commit")
    ))
}

async fn postgres_size(url: &str) -> Option<u64> {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::PgConnection::connect(url).await.ok()?;
    let row = sqlx::query("SELECT pg_database_size(current_database()) AS bytes")
        .fetch_one(&mut conn)
        .await
        .ok()?;
    let _ = conn.close().await;
    u64::try_from(row.try_get::<i64, _>("bytes").ok()?).ok()
}

/// The database file with its write-ahead log.
fn sqlite_size(data_dir: &Path) -> Option<u64> {
    let mut total = 0;
    for name in ["tessera.db", "tessera.db-wal"] {
        if let Ok(meta) = std::fs::metadata(data_dir.join(name)) {
            total += meta.len();
        }
    }
    (total > 0).then_some(total)
}

fn seconds_text(value: f64) -> String {
    if value < 10.0 {
        format!("{value:.1} s")
    } else if value < 120.0 {
        format!("{value:.0} s")
    } else {
        format!("{:.0} min {:02.0} s", (value / 60.0).floor(), value % 60.0)
    }
}

fn met(measured: &Measured) -> &'static str {
    if measured.ok > 0 && measured.errors == 0 && measured.p99_us < TARGET_P99_US {
        "yes"
    } else {
        "**no**"
    }
}

/// CPU used outside tessera and the bench. On PostgreSQL the database server's processes
/// do tessera's queries, so they are left out (the report shows them in a column of their
/// own); on SQLite a busy PostgreSQL is other work like any.
fn outside(other: Option<f64>, postgres_cpu: Option<f64>, postgres: bool) -> Option<f64> {
    if postgres {
        Some((other? - postgres_cpu.unwrap_or(0.0)).max(0.0))
    } else {
        other
    }
}

/// Where other work took CPU from the run, or `None` when it stayed below
/// [`OTHER_CPU_NOTE`] everywhere.
fn interference(machine: &Machine, runs: &[PopulationRun], postgres: bool) -> Option<String> {
    let mut seen = Vec::new();
    if let Some(busy) = machine.busy_at_start.filter(|&c| c >= OTHER_CPU_NOTE) {
        seen.push(format!("{busy:.2} cores in the second before the run"));
    }
    for run in runs {
        let users = whole(run.users);
        let seeding = outside(run.seeding.other_cpu, run.seeding.postgres_cpu, postgres);
        if let Some(other) = seeding.filter(|&c| c >= OTHER_CPU_NOTE) {
            seen.push(format!("{other:.2} cores while seeding {users} users"));
        }
        for (measurement, measured) in &run.results {
            let other = outside(measured.other_cpu, measured.postgres_cpu, postgres);
            if let Some(other) = other.filter(|&c| c >= OTHER_CPU_NOTE) {
                seen.push(format!(
                    "{other:.2} cores during `{}` at {users}",
                    measurement.name()
                ));
            }
        }
    }
    if seen.is_empty() {
        return None;
    }
    Some(format!(
        "Other work was using the machine{}: {}. Those figures are below what an otherwise idle machine gives.",
        if postgres {
            " (PostgreSQL's own processes not counted)"
        } else {
            ""
        },
        seen.join(", ")
    ))
}

fn render(
    args: &Args,
    machine: &Machine,
    date: &str,
    commit: &str,
    runs: &[PopulationRun],
) -> String {
    let mut out = String::new();
    let postgres = args.postgres.is_some();
    let engine = if postgres { "PostgreSQL" } else { "SQLite" };
    let _ = writeln!(out, "## {engine}: run of {date}\n");
    let _ = writeln!(out, "- Machine: {}", machine.summary());
    write_other_work(
        &mut out,
        interference(machine, runs, postgres),
        "before the run, while seeding and during every measurement",
    );
    let _ = writeln!(out, "- tessera commit: {commit}");
    let backend = runs
        .first()
        .map_or("", |run| run.backend.as_str())
        .split(" (fresh database")
        .next()
        .unwrap_or_default()
        .to_owned();
    let _ = writeln!(
        out,
        "- Settings: {} backend, a fresh server and database per population; ListUsers on {} connections, SignUp on {} (HTTP/1.1 keep-alive, closed loop); {} s measured after {} s warm-up per measurement; seeding {} users per transaction, {} transaction{} in flight; load generator on the same machine (1 thread)",
        if postgres {
            format!("{backend} (fresh database per population on {}, dropped afterwards)", args.postgres.as_deref().map(server::redact).unwrap_or_default())
        } else {
            server::SQLITE.to_owned()
        },
        args.list_concurrency,
        args.concurrency,
        trim_float(args.duration.as_secs_f64()),
        trim_float(args.warmup.as_secs_f64()),
        whole(args.batch),
        args.seed_connections(),
        if args.seed_connections() == 1 { "" } else { "s" }
    );
    let _ = writeln!(
        out,
        "- Target (issue 3): filtered ListUsers p99 under {} ms at {} users (indexes, not scans). The `met` columns apply the same bar at every population.",
        TARGET_P99_US / 1000,
        whole(TARGET_USERS)
    );

    let _ = writeln!(out, "\n### Summary\n");
    let listed: Vec<Measurement> = Measurement::ALL
        .into_iter()
        .filter(|m| *m != Measurement::SignUp)
        .collect();
    let mut head = "| users | seeding | SignUp req/s |".to_owned();
    let mut rule = "|---:|---:|---:|".to_owned();
    for measurement in &listed {
        let _ = write!(head, " {} p50 / p99 |", measurement.short());
        rule.push_str("---:|");
    }
    let _ = write!(head, " filtered p99 < {} ms |", TARGET_P99_US / 1000);
    rule.push_str("---|");
    let _ = writeln!(out, "{head}\n{rule}");
    for run in runs {
        let rate = run
            .results
            .iter()
            .find(|(m, _)| *m == Measurement::SignUp)
            .map_or_else(|| "—".to_owned(), |(_, r)| thousands(r.per_second()));
        let mut row = format!(
            "| {} | {} | {rate} |",
            whole(run.users),
            seconds_text(run.seeding.seconds)
        );
        for measurement in &listed {
            match run.results.iter().find(|(m, _)| m == measurement) {
                Some((_, r)) => {
                    let _ = write!(row, " {} / {} |", latency(r.p50_us), latency(r.p99_us));
                }
                None => row.push_str(" — |"),
            }
        }
        let all_met = run
            .results
            .iter()
            .filter(|(m, _)| m.filtered())
            .all(|(_, r)| met(r) == "yes");
        row.push_str(if all_met { " yes |" } else { " **no** |" });
        let _ = writeln!(out, "{row}");
    }

    for run in runs {
        render_population(&mut out, args, run);
    }

    let _ = writeln!(
        out,
        "\nWhat each measurement is (one operation = one request = one row of req/s):\n"
    );
    for measurement in Measurement::ALL {
        let _ = writeln!(
            out,
            "- `{}`: {}",
            measurement.name(),
            measurement.describe(args.pages, args.deep_pages)
        );
    }

    let _ = writeln!(out, "\n### Notes\n");
    let _ = writeln!(
        out,
        "- Pool: created through the API with `AliasAttributes` [email] and case-insensitive usernames; no attribute is auto-verified, so SignUp sends no message. Client: ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH."
    );
    let _ = writeln!(
        out,
        "- Users: seeded directly through the storage layer, `Store::insert_users` in the bench process with the master key the server wrote, built as SignUp and ConfirmSignUp build them: username `<given>_<family>_<n>`, a random `sub`, attributes email `<given>.<family>.<n>@<domain>`, given_name and family_name; nine in ten CONFIRMED with `email_verified` true and the e-mail as a verified alias, one in ten UNCONFIRMED without. The store maintains the search index (user_index) in the same transaction, as for any write. All users share one precomputed argon2id hash of one password (m=19456 KiB, t=2, p=1), so USER_PASSWORD_AUTH works for every seeded user, and one SRP verifier, computed for the first user's name, so that rows have their real size (USER_SRP_AUTH is not measured here and would only succeed for that user)."
    );
    if postgres {
        let _ = writeln!(
            out,
            "- PostgreSQL: after seeding the bench runs `VACUUM ANALYZE`, what autovacuum does on its own some time after a bulk load, so that the planner has statistics and the measurements do not race the daemon (and so that they have statistics where autovacuum is off). {}.",
            runs.iter()
                .find_map(|run| run.database_settings.clone())
                .unwrap_or_else(|| "The server's settings could not be read".to_owned())
        );
    }
    if !postgres {
        let _ = writeln!(
            out,
            "- SQLite: nothing is run after seeding; tessera never runs ANALYZE, so the planner works without statistics, as in a real deployment."
        );
    }
    let _ = writeln!(
        out,
        "- Method: closed loop, as in the load benchmark: each connection sends its next request as soon as the previous answer has arrived; requests are serialised and SigV4-signed before the window. req/s counts successful answers completed inside the measured window; p50 and p99 are over those answers, from sending to the last byte (hdrhistogram, 3 significant digits). Errors are non-200 answers, failed exchanges and ListUsers answers with another number of users than expected, in the window."
    );
    let _ = writeln!(
        out,
        "- Server, bench and other CPU: CPU time used by tessera, by the bench and by everything else on the machine (/proc/stat minus the two) during the window, in cores (2.00 = two cores fully busy). While seeding, the bench does the storage layer's work itself, so its CPU is the seeding's. Server peak RSS: the largest VmRSS sampled every 100 ms during the window."
    );
    if postgres {
        let _ = writeln!(
            out,
            "- PostgreSQL CPU: the CPU time of every process named `postgres` (the server and its backends, which run tessera's queries and the seeding's) during the window; other CPU leaves it out."
        );
    }
    out
}

fn render_population(out: &mut String, args: &Args, run: &PopulationRun) {
    let postgres = args.postgres.is_some();
    let users = whole(run.users);
    let _ = writeln!(out, "\n### {users} users\n");
    let s = &run.seeding;
    let mut seeding = format!(
        "- Seeding: {users} users in {} ({} users/s) through `Store::insert_users`, {} transaction{} of up to {} users, tessera stopped; CPU: bench {} cores{}, other {} cores. The shared password hash and SRP verifier took {:.2} s before that.",
        seconds_text(s.seconds),
        thousands(run.users as f64 / s.seconds.max(1e-9)),
        s.transactions,
        if s.transactions == 1 { "" } else { "s" },
        whole(args.batch),
        cores(s.bench_cpu),
        if postgres {
            format!(", PostgreSQL {} cores", cores(s.postgres_cpu))
        } else {
            String::new()
        },
        cores(outside(s.other_cpu, s.postgres_cpu, postgres)),
        s.secrets_seconds
    );
    if let Some(vacuum) = s.vacuum_seconds {
        let _ = write!(
            seeding,
            " VACUUM ANALYZE afterwards: {}.",
            seconds_text(vacuum)
        );
    }
    if let Some(bytes) = run.database_bytes {
        let _ = write!(
            seeding,
            " Database size after seeding: {:.0} MB.",
            bytes as f64 / 1_000_000.0
        );
    }
    let _ = writeln!(out, "{seeding}");
    let _ = writeln!(out, "- {}", run.checks);
    let _ = writeln!(out, "- Pool {}; database: {}.", run.pool_id, run.backend);
    let _ = writeln!(
        out,
        "\n| measurement | connections | req/s | p50 | p99 | errors | server peak RSS | server CPU (cores) | bench CPU (cores) |{} other CPU (cores) | target (issue 3) | met |",
        if postgres { " PostgreSQL CPU (cores) |" } else { "" }
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|{}---|---|",
        if postgres { "---:|" } else { "" }
    );
    for (measurement, r) in &run.results {
        let connections = if *measurement == Measurement::SignUp {
            args.concurrency
        } else {
            args.list_concurrency
        };
        let (target, met) = if measurement.filtered() {
            (format!("p99 < {} ms", TARGET_P99_US / 1000), met(r))
        } else {
            ("none set".to_owned(), "—")
        };
        let _ = writeln!(
            out,
            "| `{}` | {connections} | {} |{} {} | {target} | {met} |",
            measurement.name(),
            figures(r),
            if postgres {
                format!(" {} |", cores(r.postgres_cpu))
            } else {
                String::new()
            },
            cores(outside(r.other_cpu, r.postgres_cpu, postgres)),
        );
    }
    let _ = writeln!(out);
    for (measurement, r) in &run.results {
        write_errors(out, measurement.name(), r);
    }
    if let Some(kib) = run.server_hwm_kib {
        let _ = writeln!(
            out,
            "- Server peak RSS over the whole population (VmHWM): {:.1} MB.",
            megabytes(kib)
        );
    }
    let _ = writeln!(
        out,
        "- `sign_up` added about {} users, after the ListUsers measurements. At the end tessera was {}.",
        whole(usize::try_from(run.sign_ups).unwrap_or(usize::MAX)),
        run.stopped
    );
    for note in &run.notes {
        let _ = writeln!(out, "- {note}");
    }
}

/// A count with thousands separators and no decimals: `60`, `1,000,000`.
fn whole(count: usize) -> String {
    if count < 1_000 {
        count.to_string()
    } else {
        thousands(count as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_population_is_determined_by_the_index() {
        let population = Population { users: 1_000 };
        assert_eq!(population.username(0), "ada_adams_0");
        assert_eq!(population.email(0), "ada.adams.0@example.com");
        assert_eq!(population.username(41), "alan_baker_41");
        assert_eq!(population.email(41), "alan.baker.41@example.org");
        assert!(population.confirmed(0));
        assert!(!population.confirmed(9));
        assert_eq!(population.confirmed_count(), 900);
        // 1,000 users over 40 given names: 25 each.
        assert_eq!(population.with_given(0), 25);
        let odd = Population { users: 1_003 };
        assert_eq!(
            (odd.with_given(2), odd.with_given(3)),
            (26, 25),
            "the first 1,003 % 40 names get one more"
        );
        let total: usize = (0..GIVEN_NAMES.len()).map(|g| odd.with_given(g)).sum();
        assert_eq!(total, 1_003);
    }

    #[test]
    fn no_given_name_is_a_prefix_search_of_another() {
        // `email ^= "<given>."` must match exactly one name's users.
        for (a, first) in GIVEN_NAMES.iter().enumerate() {
            for (b, second) in GIVEN_NAMES.iter().enumerate() {
                let prefix = format!("{}.", first.to_ascii_lowercase());
                let email = format!("{}.smith.1@example.com", second.to_ascii_lowercase());
                assert_eq!(email.starts_with(&prefix), a == b, "{first} {second}");
            }
        }
    }

    #[test]
    fn seeded_users_look_like_confirmed_sign_ups() {
        let population = Population { users: 20 };
        let secrets = Secrets {
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            srp_verifier: SrpVerifier {
                salt: vec![1; 16],
                verifier: vec![2; 384],
            },
        };
        let now = SystemTime::now();
        let (user, key, aliases) = seeded_user(population, "us-east-1_abc", 3, &secrets, now);
        assert_eq!(key, "amir_adams_3");
        assert_eq!(user.status, UserStatus::Confirmed);
        assert_eq!(user.attribute("email"), Some("amir.adams.3@example.com"));
        assert!(user.verified("email"));
        assert_eq!(
            aliases,
            [("email".to_owned(), "amir.adams.3@example.com".to_owned())]
        );
        assert_eq!(user.sub.len(), 36);
        let values = tessera_core::indexed_values(&user, &key);
        assert!(values.contains(&("cognito:user_status", "CONFIRMED".to_owned())));
        assert!(values.contains(&("email", "amir.adams.3@example.com".to_owned())));
        let (user, _, aliases) = seeded_user(population, "us-east-1_abc", 9, &secrets, now);
        assert_eq!(user.status, UserStatus::Unconfirmed);
        assert!(!user.verified("email") && aliases.is_empty());
    }

    #[test]
    fn counts_users_in_a_page() {
        let body = br#"{"Users":[{"Username":"a","Attributes":[]},{"Username":"b"}],"PaginationToken":"x"}"#;
        assert_eq!(count(body, b"\"Username\":"), 2);
        assert_eq!(count(b"{\"Users\":[]}", b"\"Username\":"), 0);
    }

    #[test]
    fn draws_stay_in_bounds() {
        let mut draw = Draw(7);
        assert!((0..10_000).all(|_| draw.below(13) < 13));
    }
}
