//! The tessera process under test: started on a fresh data directory, watched through /proc,
//! stopped with SIGTERM. Also the backend it stores into (the scratch directory and the
//! throw-away PostgreSQL database) and the machine description.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::api::Endpoint;
use crate::util::{Context, Result};

/// How long tessera may take to print its address (first start creates the database, the
/// master key and the root key).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long tessera may take to drain and exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("tessera-bench-{}-{nanos:08x}", std::process::id()));
        std::fs::create_dir_all(&path).context(format!("creating {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How the reports name tessera's default backend.
pub const SQLITE: &str = "SQLite (default: a file in a fresh data directory)";

/// What one tessera run stores into: a fresh scratch directory (the data directory and the
/// server's log) and, on PostgreSQL, a fresh database. Both benchmarks set up and clean up
/// their backends alike, so that their reports describe the same thing.
pub struct Backend {
    database: Option<Database>,
    scratch: TempDir,
    /// For the report: the engine, and on PostgreSQL the database and its server.
    pub description: String,
}

impl Backend {
    /// A fresh scratch directory and, with `postgres` (an administrative URL), a fresh
    /// database created through it; without, tessera's default SQLite file in the data
    /// directory.
    pub async fn create(postgres: Option<&str>) -> Result<Self> {
        let scratch = TempDir::new()?;
        let (database, description) = match postgres {
            Some(url) => {
                let database = Database::create(url).await?;
                let description = format!(
                    "PostgreSQL (fresh database {} on {}, dropped afterwards)",
                    database.name,
                    redact(url)
                );
                (Some(database), description)
            }
            None => (None, SQLITE.to_owned()),
        };
        Ok(Self {
            database,
            scratch,
            description,
        })
    }

    /// The database URL tessera is started with; `None` for its default SQLite file.
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|database| database.url.as_str())
    }

    /// Starts tessera on this backend (a first start or a restart on what is stored).
    pub fn start(&self, binary: &Path) -> Result<Server> {
        Server::start(binary, &self.scratch.0, self.database_url(), None)
    }

    /// [`Backend::start`] with `--config <config>` (the trigger benchmark's `[[triggers]]`).
    pub fn start_with_config(&self, binary: &Path, config: &Path) -> Result<Server> {
        Server::start(binary, &self.scratch.0, self.database_url(), Some(config))
    }

    /// The run's scratch directory (removed at clean-up), for files such as a config.
    pub fn scratch_dir(&self) -> &Path {
        &self.scratch.0
    }

    /// Drops the database, then removes the scratch directory. A database that cannot be
    /// dropped is said on stderr, and the sentence for the report's notes is returned: the
    /// run's figures stand, but someone has a database to drop by hand.
    pub async fn clean_up(self) -> Option<String> {
        let Self {
            database, scratch, ..
        } = self;
        let mut note = None;
        if let Some(database) = database {
            if let Err(error) = database.drop_database().await {
                eprintln!("tessera-bench: {error}");
                note = Some(format!(
                    "The bench database {} could not be dropped: {error}",
                    database.name
                ));
            }
        }
        drop(scratch);
        note
    }
}

/// A running tessera. Dropping it stops the process if [`Server::stop`] was not called.
pub struct Server {
    child: Option<Child>,
    pub pid: u32,
    pub addr: SocketAddr,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// The data directory: master key, credentials and, on SQLite, the database.
    pub data_dir: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Starts `binary serve --listen 127.0.0.1:0 --data-dir <scratch>/data`, with
    /// `--database-url` and `--config` when given, and waits for `tessera listening on
    /// http://…`.
    pub fn start(
        binary: &Path,
        scratch: &Path,
        database_url: Option<&str>,
        config: Option<&Path>,
    ) -> Result<Self> {
        let data_dir = scratch.join("data");
        let log = scratch.join("server.log");
        let log_file = std::fs::File::create(&log).context("creating the server log")?;
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        if let Some(url) = database_url {
            command.arg("--database-url").arg(url);
        }
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        // The bench decides where tessera listens and what it stores; settings inherited from
        // the caller's environment would change what is measured.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("TESSERA_") {
                command.env_remove(name);
            }
        }
        let mut child = command
            .spawn()
            .context(format!("starting {}", binary.display()))?;
        let pid = child.id();
        let stdout = child.stdout.take().context("tessera's stdout")?;
        let (sender, receiver) = mpsc::channel();
        // Reads the banner, then keeps draining stdout so that tessera never blocks on it.
        std::thread::spawn(move || {
            let mut sender = Some(sender);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(address) = line
                    .split("listening on http://")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                {
                    if let Some(sender) = sender.take() {
                        let _ = sender.send(address.to_owned());
                    }
                }
            }
        });
        let mut server = Self {
            child: Some(child),
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            data_dir: data_dir.clone(),
            log,
        };
        let address = match receiver.recv_timeout(START_TIMEOUT) {
            Ok(address) => address,
            Err(_) => {
                return Err(format!(
                    "tessera did not report its address within {} s; its log ends with:\n{}",
                    START_TIMEOUT.as_secs(),
                    server.log_tail()
                ))
            }
        };
        server.addr = address
            .parse()
            .context(format!("tessera reported an unusable address {address:?}"))?;
        let credentials = std::fs::read_to_string(data_dir.join("credentials"))
            .context("reading the root credentials")?;
        for line in credentials.lines() {
            if let Some((name, value)) = line.split_once('=') {
                match name.trim() {
                    "aws_access_key_id" => server.access_key_id = value.trim().to_owned(),
                    "aws_secret_access_key" => server.secret_access_key = value.trim().to_owned(),
                    _ => {}
                }
            }
        }
        if server.access_key_id.is_empty() || server.secret_access_key.is_empty() {
            return Err("the credentials file has no root access key".into());
        }
        Ok(server)
    }

    /// The last lines of tessera's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// An error of a call to this server with the end of its log, which usually says why.
    pub fn with_log_tail(&self, error: String) -> String {
        format!("{error}\ntessera's log ends with:\n{}", self.log_tail())
    }

    /// Where the server listens and the root key its administrative calls are signed with.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            addr: self.addr,
            host: self.addr.to_string(),
            access_key_id: self.access_key_id.clone(),
            secret_access_key: self.secret_access_key.clone(),
        }
    }

    /// Sends SIGTERM and waits for a graceful exit; kills the process if it does not come.
    /// Returns how it ended.
    pub fn stop(&mut self) -> String {
        let Some(mut child) = self.child.take() else {
            return "already stopped".into();
        };
        let signalled = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .is_ok_and(|status| status.success());
        let deadline = Instant::now() + STOP_TIMEOUT;
        if signalled {
            while Instant::now() < deadline {
                match child.try_wait() {
                    Ok(Some(status)) => return format!("stopped by SIGTERM ({status})"),
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                    Err(_) => break,
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        "killed: it did not exit within 15 s of SIGTERM".into()
    }
}

impl Drop for Server {
    /// On an early return the server still gets SIGTERM first, like at the end of a run.
    fn drop(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
    }
}

/// A value from /proc/<pid>/status, such as `VmRSS` or `VmHWM`, in KiB.
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// User plus system CPU time of a process, in clock ticks.
pub fn cpu_ticks(pid: Option<u32>) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    stat_cpu_ticks(&path)
}

/// User plus system CPU time in a stat(5) file (`/proc/<pid>/stat`, or a thread's
/// `/proc/self/task/<tid>/stat`), in clock ticks.
pub fn stat_cpu_ticks(path: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may contain spaces; the fields after it are space-separated.
    let after = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5) are utime and stime; `after` starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// User plus system CPU time of every process with this command name (`postgres`: the
/// PostgreSQL server and its backends), in clock ticks; `None` when there is none. A
/// process that exits between two readings takes its time with it, so this undercounts
/// short-lived processes; PostgreSQL's backends live as long as tessera's connections.
pub fn processes_cpu_ticks(name: &str) -> Option<u64> {
    let mut total = None;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let comm = text
            .find('(')
            .zip(text.rfind(')'))
            .and_then(|(open, close)| text.get(open + 1..close));
        if comm != Some(name) {
            continue;
        }
        if let Ok(pid) = pid.parse() {
            if let Some(ticks) = cpu_ticks(Some(pid)) {
                total = Some(total.unwrap_or(0) + ticks);
            }
        }
    }
    total
}

/// Busy time of all CPUs together (user, nice, system, steal), in clock ticks, from the first
/// line of /proc/stat. Interrupt time is left out: loopback networking for the bench's own
/// traffic lands there, and it is nobody else's work.
pub fn machine_busy_ticks() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let line = text.lines().next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy = [0, 1, 2, 7]
        .iter()
        .filter_map(|&index| fields.get(index))
        .sum();
    Some(busy)
}

/// Clock ticks per second (`getconf CLK_TCK`, 100 on Linux unless asked otherwise).
pub fn ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100.0)
}

/// What the report says about the machine.
#[derive(Debug, Clone, Default)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub memory_kib: u64,
    pub kernel: String,
    pub load_average: String,
    /// Cores' worth of CPU busy over one second before the bench started anything.
    pub busy_at_start: Option<f64>,
}

impl Machine {
    /// Describes the machine; takes a second to see how busy it is.
    pub fn describe(ticks_per_second: f64) -> Self {
        let sample = Duration::from_secs(1);
        let before = machine_busy_ticks();
        let own_before = cpu_ticks(None);
        std::thread::sleep(sample);
        let busy_at_start = (|| {
            let busy = machine_busy_ticks()?.saturating_sub(before?);
            let own = cpu_ticks(None)?.saturating_sub(own_before?);
            Some(busy.saturating_sub(own) as f64 / ticks_per_second / sample.as_secs_f64())
        })();
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                (name.trim() == "model name").then(|| value.trim().to_owned())
            })
            .unwrap_or_else(|| "unknown CPU".to_owned());
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_kib = meminfo
            .lines()
            .find_map(|line| {
                line.strip_prefix("MemTotal:")?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        let load = read("/proc/loadavg");
        Self {
            cpu_model,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_kib,
            kernel: read("/proc/sys/kernel/osrelease"),
            load_average: load
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
            busy_at_start,
        }
    }

    /// The report's description: `Test CPU, 2 logical CPUs, 8.0 GiB memory, Linux 6.1`.
    pub fn summary(&self) -> String {
        format!(
            "{}, {} logical CPUs, {:.1} GiB memory, Linux {}",
            self.cpu_model,
            self.cores,
            self.memory_kib as f64 / 1024.0 / 1024.0,
            self.kernel
        )
    }
}

/// Where and when a benchmark runs, as its report states it, and the clock-tick rate every
/// CPU figure is computed with.
pub struct Surroundings {
    pub ticks_per_second: f64,
    pub machine: Machine,
    pub date: String,
    /// The commit of the checkout the tessera binary was built in.
    pub commit: String,
}

impl Surroundings {
    /// Describes the machine (which takes a second, see [`Machine::describe`]), the date and
    /// the commit of `binary`, and says on stderr, after `label` (the benchmark's name), what
    /// is measured on what.
    pub fn observe(binary: &Path, label: &str) -> Self {
        let ticks_per_second = ticks_per_second();
        let machine = Machine::describe(ticks_per_second);
        let date = crate::util::report_date(SystemTime::now());
        let commit = git_commit(binary.parent().unwrap_or(binary));
        eprintln!(
            "{label}: {} on {} ({} logical CPUs), load average {}, other work using {} cores",
            binary.display(),
            machine.cpu_model,
            machine.cores,
            machine.load_average,
            machine
                .busy_at_start
                .map_or_else(|| "?".to_owned(), |busy| format!("{busy:.2}"))
        );
        Self {
            ticks_per_second,
            machine,
            date,
            commit,
        }
    }
}

/// The commit of the checkout `dir` is in, with a note when it has uncommitted changes.
pub fn git_commit(dir: &Path) -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|status| !status.is_empty());
            if dirty {
                format!("{commit} (with uncommitted changes)")
            } else {
                commit
            }
        }
        None => "unknown (not a git checkout)".to_owned(),
    }
}

/// A PostgreSQL database created for one run and dropped afterwards.
pub struct Database {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl Database {
    pub async fn create(admin_url: &str) -> Result<Self> {
        use sqlx::{Connection, Executor};
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let name = format!("tessera_bench_{}_{nanos:08x}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .context(format!("connecting to {}", redact(admin_url)))?;
        conn.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .context("creating the bench database")?;
        let _ = conn.close().await;
        Ok(Self {
            url: with_database(admin_url, &name)?,
            admin_url: admin_url.to_owned(),
            name,
        })
    }

    pub async fn drop_database(&self) -> Result<()> {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::PgConnection::connect(&self.admin_url)
            .await
            .context(format!("connecting to {}", redact(&self.admin_url)))?;
        conn.execute(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name).as_str())
            .await
            .context("dropping the bench database")?;
        let _ = conn.close().await;
        Ok(())
    }
}

/// The same URL pointing at another database: `postgres://u@h:5432/x?opt` → `.../name?opt`.
pub fn with_database(url: &str, name: &str) -> Result<String> {
    let scheme_end = url
        .find("://")
        .context("the PostgreSQL URL has no scheme (postgres://...)")?
        + 3;
    let rest = url.get(scheme_end..).unwrap_or_default();
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let query = rest
        .get(authority_end..)
        .and_then(|tail| tail.find('?').map(|at| tail.get(at..).unwrap_or_default()))
        .unwrap_or_default();
    Ok(format!(
        "{}{}/{name}{query}",
        url.get(..scheme_end).unwrap_or_default(),
        rest.get(..authority_end).unwrap_or_default()
    ))
}

/// A URL without its password, for messages and the report.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|at| at + 3) else {
        return url.to_owned();
    };
    let rest = url.get(scheme_end..).unwrap_or_default();
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = authority.get(..at).unwrap_or_default();
            let user = userinfo.split(':').next().unwrap_or_default();
            format!(
                "{}{user}@{}",
                url.get(..scheme_end).unwrap_or_default(),
                rest.get(at + 1..).unwrap_or_default()
            )
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_urls_at_another_database() {
        assert_eq!(
            with_database("postgres://u@127.0.0.1:5432/postgres", "b").ok(),
            Some("postgres://u@127.0.0.1:5432/b".to_owned())
        );
        assert_eq!(
            with_database("postgres://u:p@h/postgres?sslmode=disable", "b").ok(),
            Some("postgres://u:p@h/b?sslmode=disable".to_owned())
        );
        assert_eq!(
            with_database("postgresql://h:5432", "b").ok(),
            Some("postgresql://h:5432/b".to_owned())
        );
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
