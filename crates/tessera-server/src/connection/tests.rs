//! Connection limits over real loopback sockets, with a small app and short limits. Waits are
//! bounded by [`HANG`], which only a hang reaches: no assertion depends on how fast a step is.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};

use super::{serve, ConnectionLimits, Phase};

/// Longer than any wait in these tests can take unless something hangs.
const HANG: Duration = Duration::from_secs(20);

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: tessera\r\n\r\n";
const GET_SLOW: &[u8] = b"GET /slow HTTP/1.1\r\nHost: tessera\r\n\r\n";

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    /// Notified when `/slow` has begun; `/slow` then answers once `release` is notified.
    slow_began: Arc<Notify>,
    release: Arc<Notify>,
}

impl Server {
    async fn start(limits: ConnectionLimits) -> Self {
        let slow_began = Arc::new(Notify::new());
        let release = Arc::new(Notify::new());
        let app = Router::new().route("/", get(|| async { "ok" })).route(
            "/slow",
            get({
                let slow_began = slow_began.clone();
                let release = release.clone();
                move || async move {
                    slow_began.notify_one();
                    release.notified().await;
                    "slow"
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, app, limits, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
            slow_began,
            release,
        }
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// A connection that has been answered once and is now idle.
    async fn kept_alive(&self) -> TcpStream {
        let mut stream = self.connect().await;
        assert_eq!(exchange(&mut stream, GET).await, "ok");
        stream
    }
}

fn limits(header: Duration, keep_alive: Duration, max_connections: u32) -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: header,
        keep_alive_timeout: keep_alive,
        max_connections,
    }
}

/// Reads one response (the app's responses all have a Content-Length) and returns its body.
async fn read_response(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .expect("a Content-Length");
            if body.len() >= length {
                assert!(head.starts_with("HTTP/1.1 200"), "{head}");
                return body[..length].to_owned();
            }
        }
        let n = timeout(HANG, stream.read(&mut chunk))
            .await
            .expect("the response never came")
            .expect("reading the response");
        assert!(
            n > 0,
            "the connection closed before the response was complete"
        );
        received.extend_from_slice(&chunk[..n]);
    }
}

async fn exchange(stream: &mut TcpStream, request: &[u8]) -> String {
    stream.write_all(request).await.unwrap();
    read_response(stream).await
}

/// Waits until the server closes `stream` (end of file or reset), failing on a hang.
async fn assert_closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match timeout(HANG, stream.read(&mut buf)).await {
        Ok(Ok(0)) => {}
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(Ok(n)) => panic!(
            "expected the connection to be closed, read {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Ok(Err(error)) => panic!("expected the connection to be closed: {error}"),
        Err(_) => panic!("the server did not close the connection"),
    }
}

/// True when nothing arrives on `stream` within `wait` (the connection stays open and silent).
async fn stays_silent(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    timeout(wait, stream.read(&mut buf)).await.is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let server = Server::start(limits(
        Duration::from_millis(200),
        Duration::from_secs(60),
        16,
    ))
    .await;
    let mut silent = server.connect().await;
    assert_closed_by_server(&mut silent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_sent_byte_by_byte_is_cut_off_by_the_header_read_timeout() {
    let server = Server::start(limits(
        Duration::from_millis(300),
        Duration::from_secs(60),
        16,
    ))
    .await;
    let stream = server.connect().await;
    let (mut reader, mut writer) = stream.into_split();
    // Bytes keep arriving, but the head never completes: arriving bytes must not extend the
    // deadline.
    let trickle = tokio::spawn(async move {
        let head = b"GET / HTTP/1.1\r\nHost: tessera\r\nX-Slow: ";
        // A header value that never ends, so the head never completes.
        for byte in head.iter().chain(std::iter::repeat(&b'a')) {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let mut buf = [0u8; 64];
    let closed = timeout(HANG, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server did not close the connection");
    trickle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_kept_past_the_header_read_timeout() {
    // Long enough that the first request's head surely arrives within it.
    let header = Duration::from_secs(1);
    let server = Server::start(limits(header, Duration::from_secs(60), 16)).await;
    let mut stream = server.kept_alive().await;
    // Several header-read timeouts pass while the connection is idle; the keep-alive timeout,
    // not the header-read timeout, governs this wait (hyper's own header_read_timeout would
    // have closed it).
    tokio::time::sleep(header * 3).await;
    assert_eq!(exchange(&mut stream, GET).await, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_the_keep_alive_timeout() {
    let server = Server::start(limits(
        Duration::from_secs(60),
        Duration::from_millis(200),
        16,
    ))
    .await;
    let mut stream = server.kept_alive().await;
    assert_closed_by_server(&mut stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_second_head_is_closed_after_the_header_read_timeout() {
    // Long enough that the first request's head surely arrives within it.
    let server = Server::start(limits(Duration::from_secs(1), Duration::from_secs(60), 16)).await;
    let mut stream = server.kept_alive().await;
    stream.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    assert_closed_by_server(&mut stream).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_past_the_cap_waits_for_a_slot() {
    let server = Server::start(limits(Duration::from_secs(60), Duration::from_secs(60), 2)).await;
    let mut first = server.connect().await;
    let _second = server.connect().await;
    let mut third = server.connect().await;
    third.write_all(GET).await.unwrap();
    // The two silent connections hold both slots and, having sent nothing, are not idle
    // kept-alive connections, so nothing can be answered on the third yet. (Without a cap this
    // would be answered at once; the wait only bounds how long the test looks.)
    assert!(
        stays_silent(&mut third, Duration::from_millis(500)).await,
        "a connection past the cap was served"
    );
    first.shutdown().await.unwrap();
    assert_closed_by_server(&mut first).await;
    assert_eq!(read_response(&mut third).await, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_connection_has_an_idle_one_closed() {
    let server = Server::start(limits(Duration::from_secs(60), Duration::from_secs(60), 1)).await;
    let mut idle = server.kept_alive().await;
    let mut waiting = server.connect().await;
    assert_eq!(exchange(&mut waiting, GET).await, "ok");
    assert_closed_by_server(&mut idle).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answering_connection_is_not_closed_for_a_waiting_one() {
    let server = Server::start(limits(Duration::from_secs(60), Duration::from_secs(60), 1)).await;
    let mut busy = server.connect().await;
    busy.write_all(GET_SLOW).await.unwrap();
    timeout(HANG, server.slow_began.notified()).await.unwrap();
    let mut waiting = server.connect().await;
    waiting.write_all(GET).await.unwrap();
    server.release.notify_one();
    // The request in flight is answered in full; then its connection makes room.
    assert_eq!(read_response(&mut busy).await, "slow");
    assert_eq!(read_response(&mut waiting).await, "ok");
    assert_closed_by_server(&mut busy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_finishes_requests_in_flight_and_closes_the_rest() {
    let mut server =
        Server::start(limits(Duration::from_secs(60), Duration::from_secs(60), 16)).await;
    let mut idle = server.kept_alive().await;
    let mut silent = server.connect().await;
    let mut partial = server.connect().await;
    partial.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let mut busy = server.connect().await;
    busy.write_all(GET_SLOW).await.unwrap();
    timeout(HANG, server.slow_began.notified()).await.unwrap();

    server.stop.take().unwrap().send(()).unwrap();
    assert_closed_by_server(&mut idle).await;
    assert_closed_by_server(&mut silent).await;
    assert_closed_by_server(&mut partial).await;
    assert!(
        !server.task.is_finished(),
        "stopped before a request in flight was answered"
    );
    server.release.notify_one();
    assert_eq!(read_response(&mut busy).await, "slow");
    assert_closed_by_server(&mut busy).await;
    timeout(HANG, &mut server.task)
        .await
        .expect("serve did not return after its connections ended")
        .unwrap();
    assert!(TcpStream::connect(server.addr).await.is_err());
}

#[test]
fn the_deadline_follows_the_phase() {
    let limits = limits(Duration::from_secs(10), Duration::from_secs(60), 1);
    let t0 = Instant::now();
    let t1 = t0 + Duration::from_secs(5);
    let awaiting = |first_byte, kept_alive| Phase::AwaitingHead {
        since: t0,
        first_byte,
        kept_alive,
    };
    // The first head: from the accept, whenever its first byte came.
    assert_eq!(
        awaiting(None, false).deadline(&limits),
        Some(t0 + limits.header_read_timeout)
    );
    assert_eq!(
        awaiting(Some(t1), false).deadline(&limits),
        Some(t0 + limits.header_read_timeout)
    );
    // Later heads: idle until a byte comes, then the header-read timeout from that byte.
    assert_eq!(
        awaiting(None, true).deadline(&limits),
        Some(t0 + limits.keep_alive_timeout)
    );
    assert_eq!(
        awaiting(Some(t1), true).deadline(&limits),
        Some(t1 + limits.header_read_timeout)
    );
    assert_eq!(Phase::Answering.deadline(&limits), None);
}
