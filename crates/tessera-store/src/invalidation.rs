//! How a node on PostgreSQL hears of other nodes' writes: the follower of `tessera_cache`.
//!
//! Migration 0015's triggers send a notification in the transaction of every write that a
//! cache may hold (see its header for the payloads); PostgreSQL delivers them to every
//! listening session once the transaction commits, in commit order. The follower applies
//! each one to this node's [`ReadCache`].
//!
//! Listening alone cannot bound staleness: a connection can die silently, or deliver late.
//! So each node also sends itself a heartbeat every [`HEARTBEAT`], carrying the instant it
//! was sent. Because notifications arrive in commit order, hearing a heartbeat sent at `s`
//! proves that every write committed before `s` has been heard. The cache serves only while
//! the last heartbeat heard was sent less than [`STALENESS_BOUND`] ago; otherwise, and
//! whenever the listening connection is lost (notifications sent while it was down are gone
//! for good), it is emptied and every read goes to the database until a heartbeat sent on the
//! new connection comes back. Heartbeats go out on a connection of their own, so a busy pool
//! never delays them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use sqlx::postgres::{PgConnection, PgListener};
use sqlx::Connection;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cache::{ReadCache, STALENESS_BOUND};

/// The channel migration 0015's triggers notify.
pub(crate) const CHANNEL: &str = "tessera_cache";

/// How often a node sends itself a heartbeat.
pub(crate) const HEARTBEAT: Duration = Duration::from_millis(100);

/// How long to wait before connecting again after a failure.
const RETRY: Duration = Duration::from_millis(250);

/// The tasks that keep one node's cache in step; they stop when the last clone of the
/// store that owns them is dropped.
#[derive(Debug)]
pub(crate) struct Follower {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What the three tasks share.
#[derive(Debug)]
struct Watch {
    cache: Weak<ReadCache>,
    /// This follower's name in heartbeats, so that it recognises its own.
    node: String,
    /// The origin of the instants heartbeats carry.
    base: Instant,
    /// When the last heartbeat heard was sent.
    confirmed: Mutex<Option<Instant>>,
}

impl Watch {
    fn heartbeat(&self) -> String {
        let sent = Instant::now().duration_since(self.base).as_micros();
        format!("h\t{}\t{sent}", self.node)
    }

    /// The send instant of a heartbeat of this node's, or `None` for anything else.
    fn own_heartbeat(&self, payload: &str) -> Option<Instant> {
        let rest = payload.strip_prefix("h\t")?;
        let (node, sent) = rest.split_once('\t')?;
        if node != self.node {
            return None;
        }
        let micros: u64 = sent.parse().ok()?;
        Some(self.base + Duration::from_micros(micros))
    }

    fn fresh(&self, now: Instant) -> bool {
        let confirmed = *self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        confirmed.is_some_and(|sent| now.saturating_duration_since(sent) < STALENESS_BOUND)
    }
}

/// Starts following `url`'s notifications into `cache`, which serves nothing until the
/// first heartbeat comes back.
pub(crate) fn follow(url: &str, cache: &Arc<ReadCache>, entropy: u64) -> Follower {
    static NODES: AtomicU64 = AtomicU64::new(0);
    let watch = Arc::new(Watch {
        cache: Arc::downgrade(cache),
        node: format!(
            "{}-{}-{entropy:016x}",
            std::process::id(),
            NODES.fetch_add(1, Ordering::Relaxed)
        ),
        base: Instant::now(),
        confirmed: Mutex::new(None),
    });
    Follower {
        tasks: vec![
            tokio::spawn(listen(url.to_owned(), watch.clone())),
            tokio::spawn(beat(url.to_owned(), watch.clone())),
            tokio::spawn(guard(watch)),
        ],
    }
}

/// Receives notifications and applies them.
async fn listen(url: String, watch: Arc<Watch>) {
    let mut listener = loop {
        match connect_listener(&url).await {
            Ok(listener) => break listener,
            Err(error) => {
                tracing::warn!(%error, "read cache: cannot listen for other nodes' writes; reading from the database");
                tokio::time::sleep(RETRY).await;
            }
        }
    };
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => {
                let Some(cache) = watch.cache.upgrade() else {
                    return;
                };
                let payload = notification.payload();
                if let Some(sent) = watch.own_heartbeat(payload) {
                    *watch.confirmed.lock().unwrap_or_else(|p| p.into_inner()) = Some(sent);
                    if !cache.serving() && watch.fresh(Instant::now()) {
                        cache.resume();
                        tracing::info!("read cache: serving, in step with the database");
                    }
                } else if !payload.starts_with("h\t") {
                    cache.apply(payload);
                }
            }
            // The connection was lost and made again (listening again): whatever was
            // announced in between is gone, so nothing cached before can be trusted.
            Ok(None) => suspend(&watch, "the notification connection was lost"),
            Err(error) => {
                suspend(&watch, "the notification connection failed");
                tracing::warn!(%error, "read cache: listening again shortly");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

async fn connect_listener(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Sends this node's heartbeats on a connection of their own.
async fn beat(url: String, watch: Arc<Watch>) {
    let mut connection: Option<PgConnection> = None;
    let mut ticks = tokio::time::interval(HEARTBEAT);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if watch.cache.strong_count() == 0 {
            return;
        }
        if connection.is_none() {
            connection = PgConnection::connect(&url).await.ok();
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(watch.heartbeat())
            .execute(&mut *conn);
        if !matches!(tokio::time::timeout(STALENESS_BOUND, sent).await, Ok(Ok(_))) {
            connection = None;
        }
    }
}

/// Stops the cache from serving once its last heartbeat is too old.
async fn guard(watch: Arc<Watch>) {
    let mut ticks = tokio::time::interval(HEARTBEAT / 2);
    loop {
        ticks.tick().await;
        let Some(cache) = watch.cache.upgrade() else {
            return;
        };
        if cache.serving() && !watch.fresh(Instant::now()) {
            drop(cache);
            suspend(&watch, "no heartbeat came back in time");
        }
    }
}

fn suspend(watch: &Watch, why: &str) {
    if let Some(cache) = watch.cache.upgrade() {
        if cache.serving() {
            tracing::warn!(
                reason = why,
                "read cache: stopped serving; every read goes to the database until it is in step again"
            );
        }
        cache.suspend();
    }
    // A heartbeat heard before this point proves nothing about what comes after it.
    *watch.confirmed.lock().unwrap_or_else(|p| p.into_inner()) = None;
}
