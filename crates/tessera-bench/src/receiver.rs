//! The webhook receiver of the trigger benchmark: a PreTokenGeneration handler as a user of
//! tessera would write one, on 127.0.0.1, on a thread and a tokio runtime of its own.
//!
//! Each call is checked as a Standard Webhooks receiver checks it (docs/design/trigger-facts.md
//! §1): the three `webhook-*` headers, the timestamp within five minutes of now, and an
//! HMAC-SHA256 over `id.timestamp.body` with the base64-decoded secret matching one of the
//! `v1,<base64>` entries of `webhook-signature` (compared in constant time), before the body is
//! parsed. A call that does not verify is answered 401 and counted. A verified PreTokenGeneration
//! event (version 2 or 3) is answered with the event and a `claimsAndScopeOverrideDetails`
//! adding [`ID_CLAIM`] to the ID token and [`ACCESS_CLAIM`] to the access token; every answered
//! call is counted by pool and `triggerSource`, so the benchmark can compare the calls with the
//! tokens it received.
//!
//! HTTP/1.1 keep-alive with Content-Length bodies (what tessera's client sends), parsed with
//! httparse, which the load generator already uses.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::util::{Context, Result};

/// The path the receiver answers on.
pub const PATH: &str = "/cognito";
/// The claim (name, value) the handler adds to the ID token.
pub const ID_CLAIM: (&str, &str) = ("tenant", "acme");
/// The claim (name, value) the handler adds to the access token.
pub const ACCESS_CLAIM: (&str, &str) = ("tenant_tier", "gold");
/// Standard Webhooks' tolerance for the timestamp, both ways.
const TOLERANCE_SECONDS: u64 = 5 * 60;
/// Requests larger than this are refused (an event is a few kilobytes).
const MAX_REQUEST: usize = 1 << 20;
const MAX_HEADERS: usize = 32;

/// What the receiver has seen, shared with its connections.
#[derive(Default)]
pub struct Counts {
    /// Verified calls answered 200, by (userPoolId, triggerSource).
    answered: Mutex<BTreeMap<(String, String), u64>>,
    /// Calls refused: a missing header, a stale timestamp or no matching signature.
    pub refused_signature: AtomicU64,
    /// Verified calls that were not a PreTokenGeneration event the handler could answer.
    pub malformed: AtomicU64,
    /// Connections accepted: a client that keeps its connections alive opens few.
    pub connections: AtomicU64,
}

impl Counts {
    /// The answered calls so far, by (pool, triggerSource).
    pub fn answered(&self) -> BTreeMap<(String, String), u64> {
        self.answered
            .lock()
            .map(|answered| answered.clone())
            .unwrap_or_default()
    }

    fn count(&self, pool: &str, source: &str) {
        if let Ok(mut answered) = self.answered.lock() {
            *answered
                .entry((pool.to_owned(), source.to_owned()))
                .or_insert(0) += 1;
        }
    }
}

/// A snapshot of the receiver's counters, to take differences between two moments.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub answered: BTreeMap<(String, String), u64>,
    pub refused_signature: u64,
    pub malformed: u64,
    pub connections: u64,
    /// CPU time of the receiver's thread, in clock ticks.
    pub cpu_ticks: Option<u64>,
}

impl Snapshot {
    /// Calls answered for `pool` with `source` between `earlier` and this snapshot.
    pub fn calls_since(&self, earlier: &Snapshot, pool: &str, source: &str) -> u64 {
        let key = (pool.to_owned(), source.to_owned());
        self.answered
            .get(&key)
            .copied()
            .unwrap_or(0)
            .saturating_sub(earlier.answered.get(&key).copied().unwrap_or(0))
    }

    /// Calls answered for `pool`, any source, between `earlier` and this snapshot.
    pub fn pool_calls_since(&self, earlier: &Snapshot, pool: &str) -> u64 {
        let total = |snapshot: &Snapshot| -> u64 {
            snapshot
                .answered
                .iter()
                .filter(|((p, _), _)| p == pool)
                .map(|(_, n)| n)
                .sum()
        };
        total(self).saturating_sub(total(earlier))
    }

    /// Every answered call between `earlier` and this snapshot.
    pub fn all_calls_since(&self, earlier: &Snapshot) -> u64 {
        let total = |snapshot: &Snapshot| -> u64 { snapshot.answered.values().sum() };
        total(self).saturating_sub(total(earlier))
    }
}

/// The running receiver. Dropping it stops its runtime and joins its thread.
pub struct Receiver {
    pub addr: SocketAddr,
    /// The signing secret, `whsec_<base64 of 32 random bytes>`, for tessera's config.
    pub secret: String,
    counts: Arc<Counts>,
    /// The receiver thread's id, to read its CPU time from /proc.
    tid: Option<u32>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Handler {
    key: hmac::Key,
    counts: Arc<Counts>,
}

impl Receiver {
    /// Binds 127.0.0.1 on a free port, draws a fresh secret and starts serving.
    pub fn start() -> Result<Self> {
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).context("drawing the webhook secret")?;
        let secret = format!("whsec_{}", STANDARD.encode(key));
        let counts = Arc::new(Counts::default());
        let handler = Arc::new(Handler {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            counts: counts.clone(),
        });
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .context("binding the webhook receiver")?;
        listener
            .set_nonblocking(true)
            .context("the webhook receiver's socket")?;
        let addr = listener
            .local_addr()
            .context("the webhook receiver's address")?;
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let (ready, started) = mpsc::channel::<Result<Option<u32>>>();
        let thread = std::thread::Builder::new()
            .name("webhook-receiver".into())
            .spawn(move || serve(listener, handler, stop, ready))
            .context("starting the webhook receiver's thread")?;
        let tid = started
            .recv_timeout(Duration::from_secs(10))
            .context("the webhook receiver did not start")??;
        Ok(Self {
            addr,
            secret,
            counts,
            tid,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The webhook URL for tessera's `[[triggers]]` table.
    pub fn url(&self) -> String {
        format!("http://{}{PATH}", self.addr)
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            answered: self.counts.answered(),
            refused_signature: self.counts.refused_signature.load(Ordering::Relaxed),
            malformed: self.counts.malformed.load(Ordering::Relaxed),
            connections: self.counts.connections.load(Ordering::Relaxed),
            cpu_ticks: self.tid.and_then(|tid| {
                crate::server::stat_cpu_ticks(&format!("/proc/self/task/{tid}/stat"))
            }),
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The receiver thread: a current-thread runtime accepting connections until told to stop.
fn serve(
    listener: std::net::TcpListener,
    handler: Arc<Handler>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    ready: mpsc::Sender<Result<Option<u32>>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = ready.send(Err(format!(
                "starting the webhook receiver's runtime: {error}"
            )));
            return;
        }
    };
    // `/proc/thread-self` is `<pid>/task/<tid>`.
    let tid = std::fs::read_link("/proc/thread-self")
        .ok()
        .and_then(|link| link.file_name()?.to_str()?.parse().ok());
    runtime.block_on(async move {
        let listener = match TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(error) => {
                let _ = ready.send(Err(format!("the webhook receiver's listener: {error}")));
                return;
            }
        };
        let _ = ready.send(Ok(tid));
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        handler.counts.connections.fetch_add(1, Ordering::Relaxed);
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(connection(stream, handler.clone()));
                    }
                }
                _ = &mut stop => break,
            }
        }
    });
    // Dropping the runtime ends the connections' tasks.
}

/// One keep-alive connection: requests in turn until the peer closes it.
async fn connection(mut stream: TcpStream, handler: Arc<Handler>) {
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    loop {
        // The head, parsed into owned values so that the buffer can grow for the body.
        let head = loop {
            match parse_request(&buf) {
                Ok(Some(head)) => break head,
                Ok(None) => {}
                Err(()) => {
                    let _ = respond(&mut stream, &mut out, 400, b"{}", true).await;
                    return;
                }
            }
            if buf.len() > MAX_REQUEST || !read_more(&mut stream, &mut buf).await {
                return;
            }
        };
        let Some(length) = head.content_length.filter(|&n| n <= MAX_REQUEST) else {
            let _ = respond(&mut stream, &mut out, 411, b"{}", true).await;
            return;
        };
        let end = head.len + length;
        while buf.len() < end {
            if !read_more(&mut stream, &mut buf).await {
                return;
            }
        }
        let (status, body) = match buf.get(head.len..end) {
            Some(body) => handler.handle(&head, body),
            None => (400, b"{}".to_vec()),
        };
        if respond(&mut stream, &mut out, status, &body, head.close)
            .await
            .is_err()
            || head.close
        {
            return;
        }
        buf.drain(..end);
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    buf.reserve(16 * 1024);
    matches!(stream.read_buf(buf).await, Ok(n) if n > 0)
}

async fn respond(
    stream: &mut TcpStream,
    out: &mut Vec<u8>,
    status: u16,
    body: &[u8],
    close: bool,
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        411 => "Length Required",
        _ => "Bad Request",
    };
    out.clear();
    out.extend_from_slice(
        format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n",
            body.len(),
            if close { "Connection: close\r\n" } else { "" }
        )
        .as_bytes(),
    );
    out.extend_from_slice(body);
    stream.write_all(out).await
}

/// What the handler needs of a request head.
struct RequestHead {
    len: usize,
    post: bool,
    path_ok: bool,
    content_length: Option<usize>,
    close: bool,
    id: Option<String>,
    timestamp: Option<String>,
    signature: Option<String>,
}

fn parse_request(buf: &[u8]) -> std::result::Result<Option<RequestHead>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let mut head = RequestHead {
        len,
        post: request.method == Some("POST"),
        path_ok: request.path == Some(PATH),
        content_length: None,
        close: request.version == Some(0),
        id: None,
        timestamp: None,
        signature: None,
    };
    let text = |value: &[u8]| std::str::from_utf8(value).ok().map(|v| v.trim().to_owned());
    for header in request.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = text(header.value).and_then(|v| v.parse().ok());
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Only Content-Length bodies are read; a chunked request gets 411.
            head.content_length = None;
            return Ok(Some(head));
        } else if name.eq_ignore_ascii_case("connection") {
            head.close = header.value.trim_ascii().eq_ignore_ascii_case(b"close");
        } else if name.eq_ignore_ascii_case("webhook-id") {
            head.id = text(header.value);
        } else if name.eq_ignore_ascii_case("webhook-timestamp") {
            head.timestamp = text(header.value);
        } else if name.eq_ignore_ascii_case("webhook-signature") {
            head.signature = text(header.value);
        }
    }
    Ok(Some(head))
}

impl Handler {
    /// The status and body of the answer to one request.
    fn handle(&self, head: &RequestHead, body: &[u8]) -> (u16, Vec<u8>) {
        if !head.post || !head.path_ok {
            return (404, b"{}".to_vec());
        }
        if !self.verify(head, body, now_seconds()) {
            self.counts
                .refused_signature
                .fetch_add(1, Ordering::Relaxed);
            return (401, br#"{"message":"invalid signature"}"#.to_vec());
        }
        match answer(body) {
            Some((pool, source, answer)) => {
                self.counts.count(&pool, &source);
                (200, answer)
            }
            None => {
                self.counts.malformed.fetch_add(1, Ordering::Relaxed);
                (
                    400,
                    br#"{"errorMessage":"not a PreTokenGeneration event"}"#.to_vec(),
                )
            }
        }
    }

    /// The Standard Webhooks check, before the body is parsed.
    fn verify(&self, head: &RequestHead, body: &[u8], now: u64) -> bool {
        let (Some(id), Some(timestamp), Some(signatures)) =
            (&head.id, &head.timestamp, &head.signature)
        else {
            return false;
        };
        let Ok(seconds) = timestamp.parse::<u64>() else {
            return false;
        };
        if seconds.abs_diff(now) > TOLERANCE_SECONDS {
            return false;
        }
        let mut context = hmac::Context::with_key(&self.key);
        context.update(id.as_bytes());
        context.update(b".");
        context.update(timestamp.as_bytes());
        context.update(b".");
        context.update(body);
        let expected = context.sign();
        signatures.split(' ').any(|entry| {
            entry
                .strip_prefix("v1,")
                .and_then(|encoded| STANDARD.decode(encoded).ok())
                .is_some_and(|given| {
                    aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_ref(), &given)
                        .is_ok()
                })
        })
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// The handler proper: a PreTokenGeneration event of version 2 or 3 comes back with one claim
/// added to each token. Returns the pool, the trigger source and the answer's bytes.
fn answer(body: &[u8]) -> Option<(String, String, Vec<u8>)> {
    let mut event: Value = serde_json::from_slice(body).ok()?;
    let source = event.get("triggerSource")?.as_str()?.to_owned();
    let pool = event.get("userPoolId")?.as_str()?.to_owned();
    let version = event.get("version")?.as_str()?;
    if !source.starts_with("TokenGeneration_") || !matches!(version, "2" | "3") {
        return None;
    }
    *event.get_mut("response")? = json!({
        "claimsAndScopeOverrideDetails": {
            "idTokenGeneration": { "claimsToAddOrOverride": { ID_CLAIM.0: ID_CLAIM.1 } },
            "accessTokenGeneration": { "claimsToAddOrOverride": { ACCESS_CLAIM.0: ACCESS_CLAIM.1 } },
        }
    });
    Some((pool, source, serde_json::to_vec(&event).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handler(secret: &str) -> Handler {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap_or_default())
            .unwrap_or_default();
        Handler {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            counts: Arc::new(Counts::default()),
        }
    }

    fn head(id: &str, timestamp: &str, signature: &str) -> RequestHead {
        RequestHead {
            len: 0,
            post: true,
            path_ok: true,
            content_length: None,
            close: false,
            id: Some(id.into()),
            timestamp: Some(timestamp.into()),
            signature: Some(signature.into()),
        }
    }

    #[test]
    fn verifies_the_standard_webhooks_vectors() {
        // Vector A of docs/design/trigger-facts.md §1.8 (the Python and JS libraries' test).
        let a = handler("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let body = br#"{"test": 2432232314}"#;
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let bad = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        assert!(a.verify(&head(id, "1614265330", good), body, 1_614_265_330));
        assert!(!a.verify(&head(id, "1614265330", bad), body, 1_614_265_330));
        // Several entries (rotation): any v1 entry that matches; other versions are skipped.
        let several = format!("v1a,xyz {bad} {good}");
        assert!(a.verify(&head(id, "1614265330", &several), body, 1_614_265_330));
        // Out of the five-minute tolerance, either way.
        assert!(!a.verify(&head(id, "1614265330", good), body, 1_614_265_330 + 301));
        assert!(!a.verify(&head(id, "1614265330", good), body, 1_614_265_330 - 301));
        // Vector B (the Rust library's test).
        let b = handler("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD");
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        assert!(b.verify(
            &head(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                "1649367553",
                "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
            ),
            body,
            1_649_367_553
        ));
    }

    #[test]
    fn answers_token_generation_events_with_one_claim_per_token() {
        let event = json!({
            "version": "2",
            "triggerSource": "TokenGeneration_RefreshTokens",
            "userPoolId": "us-east-1_X",
            "request": {},
            "response": {},
        });
        let answered = answer(event.to_string().as_bytes());
        assert!(answered.is_some());
        let Some((pool, source, body)) = answered else {
            return;
        };
        assert_eq!(
            (pool.as_str(), source.as_str()),
            ("us-east-1_X", "TokenGeneration_RefreshTokens")
        );
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        let details = &body["response"]["claimsAndScopeOverrideDetails"];
        assert_eq!(
            details["idTokenGeneration"]["claimsToAddOrOverride"][ID_CLAIM.0],
            ID_CLAIM.1
        );
        assert_eq!(
            details["accessTokenGeneration"]["claimsToAddOrOverride"][ACCESS_CLAIM.0],
            ACCESS_CLAIM.1
        );
        let v1 = json!({"version": "1", "triggerSource": "TokenGeneration_HostedAuth", "userPoolId": "p", "response": {}});
        assert!(answer(v1.to_string().as_bytes()).is_none());
    }

    #[test]
    fn parses_request_heads() {
        let request = b"POST /cognito HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nwebhook-id: msg_1\r\nwebhook-timestamp: 5\r\nwebhook-signature: v1,abc\r\n\r\n{}";
        let head = parse_request(request).ok().flatten();
        assert!(head.is_some());
        let Some(head) = head else { return };
        assert!(head.post && head.path_ok && !head.close);
        assert_eq!(head.content_length, Some(2));
        assert_eq!(head.len, request.len() - 2);
        assert_eq!(head.id.as_deref(), Some("msg_1"));
        assert_eq!(head.signature.as_deref(), Some("v1,abc"));
        assert!(matches!(
            parse_request(b"POST /cognito HTTP/1.1\r\nhost"),
            Ok(None)
        ));
    }
}
