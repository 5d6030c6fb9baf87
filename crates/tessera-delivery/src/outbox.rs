//! The development outbox: one JSON line per message in `<data-dir>/outbox.jsonl`, so that
//! developers and tests can read the codes tessera would have sent.

use std::collections::VecDeque;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tessera_core::Clock;

use crate::{Deliver, DeliveryError, Message};

/// Appends every message it is given to a JSON-lines file.
///
/// Each line is `{"time", "pool_id", "username", "channel", "destination", "subject", "body",
/// "purpose"}`, with `time` in seconds since the Unix epoch (a float) and `subject` null when
/// absent. The file holds codes and temporary passwords, so on Unix it is created readable by
/// its owner only.
pub struct Outbox {
    path: PathBuf,
    clock: Arc<dyn Clock>,
    /// Serialises appends from this process, so that concurrent deliveries can never interleave
    /// within a line, whatever the file system does with concurrent appends.
    lock: tokio::sync::Mutex<()>,
}

impl Outbox {
    /// An outbox writing to `path`; the file and its directory are created on first delivery.
    pub fn new(path: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> Self {
        Self {
            path: path.into(),
            clock,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The file this outbox appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last `limit` messages in the outbox at `path`, oldest first (newest last), keeping only
    /// those of `pool_id` and `username` where given. A missing file is an empty outbox. Lines that
    /// are not JSON objects are skipped: a line cut short by a crash must not hide the others.
    ///
    /// This reads the file with blocking IO; from async code, call it through
    /// `tokio::task::spawn_blocking`.
    pub fn read(
        path: &Path,
        pool_id: Option<&str>,
        username: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Value>, DeliveryError> {
        let failed = |source| DeliveryError::Outbox {
            path: path.to_owned(),
            source,
        };
        let file = match std::fs::File::open(path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(failed(error)),
        };
        let mut reader = BufReader::new(file);
        let mut newest = VecDeque::new();
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).map_err(failed)? == 0 {
                break;
            }
            let Ok(entry @ Value::Object(_)) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            if !field_matches(&entry, "pool_id", pool_id)
                || !field_matches(&entry, "username", username)
            {
                continue;
            }
            newest.push_back(entry);
            if newest.len() > limit {
                newest.pop_front();
            }
        }
        Ok(newest.into())
    }

    async fn append(&self, line: Vec<u8>) -> Result<(), DeliveryError> {
        let _guard = self.lock.lock().await;
        let path = self.path.clone();
        let written = tokio::task::spawn_blocking(move || append_line(&path, &line)).await;
        match written {
            Ok(result) => result.map_err(|source| DeliveryError::Outbox {
                path: self.path.clone(),
                source,
            }),
            Err(join) => Err(DeliveryError::Outbox {
                path: self.path.clone(),
                source: std::io::Error::other(join.to_string()),
            }),
        }
    }
}

#[async_trait::async_trait]
impl Deliver for Outbox {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        let entry = json!({
            "time": epoch_seconds(self.clock.now()),
            "pool_id": message.pool_id,
            "username": message.username,
            "channel": message.channel,
            "destination": message.destination,
            "subject": message.subject,
            "body": message.body,
            "purpose": message.purpose,
        });
        let mut line = serde_json::to_vec(&entry).map_err(|error| DeliveryError::Outbox {
            path: self.path.clone(),
            source: std::io::Error::other(error.to_string()),
        })?;
        line.push(b'\n');
        self.append(line).await?;
        // The body is not logged: it holds the code or the temporary password.
        tracing::info!(
            pool_id = %message.pool_id,
            username = %message.username,
            channel = %message.channel,
            purpose = %message.purpose,
            "message written to outbox"
        );
        Ok(())
    }
}

/// Appends one whole line with a single write to a file opened for appending, then syncs it, so
/// that a reader (or a crash) sees either the whole line or none of it.
fn append_line(path: &Path, line: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(line)?;
    file.sync_data()
}

fn field_matches(entry: &Value, field: &str, wanted: Option<&str>) -> bool {
    match wanted {
        Some(wanted) => entry.get(field).and_then(Value::as_str) == Some(wanted),
        None => true,
    }
}

/// Seconds since the Unix epoch as a float, negative before it, as Python's `time.time()` gives.
fn epoch_seconds(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}
