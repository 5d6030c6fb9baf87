//! The TCP side of the HTTP edge: accepting connections and serving the app on them within
//! bounds, so that a few hundred slow or idle clients cannot hold the server.
//!
//! Three limits apply ([`ConnectionLimits`]):
//!
//! - a *header-read timeout*: a request head (request line and headers) must arrive complete
//!   within this time. It runs from the moment a connection is accepted for its first request,
//!   and from the first byte of each later request on a kept-alive connection;
//! - a *keep-alive timeout*: a connection that has answered a request and is waiting for the
//!   first byte of the next one is closed after this time;
//! - a cap on *concurrent connections*: past it, new connections wait (see [`serve`]).
//!
//! The time a request spends in its handler, body included, is bounded by the application's
//! own timeout layer, not here.
//!
//! Why not hyper's own `header_read_timeout`: since hyper 1.6 its timer also starts when a
//! kept-alive connection goes idle (hyper commit 10b09ffc, "start http1 header read timeout
//! when conn is idle"), so it is the idle timeout as well, and there is no way to give idle
//! connections a longer time than a half-sent head. Go's `ReadHeaderTimeout`/`IdleTimeout` and
//! nginx's `client_header_timeout`/`keepalive_timeout` keep the two apart, and so does this
//! module: it watches each connection's phase (waiting for a head, or answering) and enforces
//! the deadlines itself.
//!
//! Only HTTP/1.1 (and 1.0) is served. HTTP/2 over cleartext (h2c) is used by neither the AWS
//! SDKs nor browsers against an `http://` endpoint, and serving it would need its own bounds
//! (stream limits, ping-based keep-alive); a client that opens with the HTTP/2 preface is
//! answered as a malformed HTTP/1 request and closed.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{Request, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt as _;

/// The bounds every connection is served within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time allowed for a complete request head: from accepting the connection for its first
    /// request, from the first byte of the head for later ones.
    pub header_read_timeout: Duration,
    /// Time a kept-alive connection may wait for the first byte of its next request.
    pub keep_alive_timeout: Duration,
    /// Connections served at once; more wait until one ends.
    pub max_connections: u32,
}

impl Default for ConnectionLimits {
    /// Ten seconds for a head is ample for any real client (a head is one or two packets)
    /// while a slow-header client is gone quickly. Sixty seconds of keep-alive outlasts the
    /// pauses of SDK clients between calls (an idle connection costs a socket and a few
    /// kilobytes) and matches common load balancers' idle timeouts. 4096 connections is far
    /// more than one node's database pool can keep busy, while bounding the descriptors and
    /// memory idle and slow clients can take.
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            keep_alive_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

/// Serves `app` on the connections `listener` accepts, within `limits`, until `shutdown`
/// completes; then stops accepting, lets in-flight requests finish, closes every connection
/// and returns once all have ended.
///
/// At the cap, the connection just accepted waits for a slot and every later one waits in the
/// kernel's accept backlog, rather than being refused: a refused connection is an error every
/// client would have to retry, while a waiting one is answered as soon as a slot frees, which
/// the header-read and keep-alive timeouts guarantee happens. To free a slot at once, the
/// waiting connection asks one idle kept-alive connection to close (as nginx reuses idle
/// keep-alive connections when it runs out): a client expects an idle connection to be
/// closed at any time, and reconnects.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let shedding = Arc::new(Shedding::default());
    let (stopping_tx, stopping) = watch::channel(false);
    let mut http = http1::Builder::new();
    // serve_connection enforces the header and idle deadlines itself (see the module comment).
    http.header_read_timeout(None);
    let http = Arc::new(http);
    let mut last_full_warning: Option<Instant> = None;
    let mut shutdown = std::pin::pin!(shutdown);

    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if !is_connection_error(&error) {
                        // Most likely the process is out of file descriptors; accepting again
                        // at once would fail the same way in a busy loop.
                        tracing::error!(%error, "accepting a connection failed");
                        tokio::select! {
                            () = &mut shutdown => break,
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                    continue;
                }
            },
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if last_full_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached: new connections wait for a slot"
                    );
                    last_full_warning = Some(Instant::now());
                }
                shedding.ask();
                tokio::select! {
                    () = &mut shutdown => break,
                    slot = slots.clone().acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_) => unreachable!("the connection semaphore is never closed"),
                    },
                }
            }
        };
        tokio::spawn(serve_connection(
            (stream, peer),
            slot,
            app.clone(),
            http.clone(),
            limits,
            shedding.clone(),
            stopping.clone(),
        ));
    }

    drop(listener);
    stopping_tx.send_replace(true);
    // Every connection holds a slot until it ends, so holding them all means all have ended.
    let _all = slots.acquire_many(limits.max_connections).await;
}

/// Errors that concern one connection only (the client gave up before it was accepted).
fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Serves one connection until the client closes it, it misses a deadline, or the server
/// stops.
async fn serve_connection(
    (stream, peer): (TcpStream, SocketAddr),
    _slot: OwnedSemaphorePermit,
    app: Router,
    http: Arc<http1::Builder>,
    limits: ConnectionLimits,
    shedding: Arc<Shedding>,
    mut stopping: watch::Receiver<bool>,
) {
    let activity = Arc::new(ConnectionWatch::new(Instant::now(), shedding.clone()));
    let io = TokioIo::new(WatchedStream {
        inner: stream,
        watch: activity.clone(),
        limits,
        timer: Box::pin(tokio::time::sleep_until(Instant::now())),
        armed: None,
    });
    let service = WatchedService {
        app,
        watch: activity.clone(),
        peer: Peer(peer),
    };
    let mut connection = std::pin::pin!(http.serve_connection(io, service));
    // Set once the connection has been asked to close after its current request (by a stop or
    // by a waiting connection), so that neither is asked again.
    let mut closing = false;
    loop {
        // This task wakes when the connection ends, when the server stops, and when a
        // waiting connection asks for an idle one to close: then, or when this connection
        // becomes idle while that request is open, it checks whether it is idle. The
        // deadlines are kept by the stream. So a request costs this task no wake-up.
        let changed = activity.changed.notified();
        // Registered before the look, so that a request made after it still wakes the task.
        let mut shed = std::pin::pin!(shedding.asked.notified());
        shed.as_mut().enable();
        if !closing && activity.is_idle() && shedding.take() {
            // hyper closes a connection between requests at once.
            closing = true;
            connection.as_mut().graceful_shutdown();
        }
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            () = changed => {}
            () = &mut shed, if !closing => {}
            _ = stopping.wait_for(|stopping| *stopping), if !closing => {
                closing = true;
                if matches!(activity.phase(), Phase::AwaitingHead { kept_alive: false, .. }) {
                    // Nothing has been written on this connection yet, and its first request
                    // has not arrived: there is nothing to finish.
                    return;
                }
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// What a connection is doing, which decides its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a request head, since `since` (the accept, or the end of the previous
    /// response when `kept_alive`); `first_byte` is when its first byte arrived.
    AwaitingHead {
        since: Instant,
        first_byte: Option<Instant>,
        kept_alive: bool,
    },
    /// A request head has arrived and its response is not yet sent.
    Answering,
}

impl Phase {
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        match *self {
            Phase::Answering => None,
            Phase::AwaitingHead {
                since,
                kept_alive: false,
                ..
            } => Some(since + limits.header_read_timeout),
            Phase::AwaitingHead {
                since,
                first_byte: None,
                kept_alive: true,
            } => Some(since + limits.keep_alive_timeout),
            Phase::AwaitingHead {
                first_byte: Some(first_byte),
                kept_alive: true,
                ..
            } => Some(first_byte + limits.header_read_timeout),
        }
    }
}

/// One connection's phase, shared by its stream (bytes arriving), its service (requests
/// beginning and responses ending) and its serving task (deadlines).
#[derive(Debug)]
struct ConnectionWatch {
    phase: Mutex<Phase>,
    changed: Notify,
    shedding: Arc<Shedding>,
}

/// A waiting connection's request that one idle connection close (see [`serve`]).
#[derive(Debug, Default)]
struct Shedding {
    /// Set while the request is open; the idle connection that clears it closes.
    open: std::sync::atomic::AtomicBool,
    /// Wakes every serving task to look.
    asked: Notify,
}

impl Shedding {
    fn ask(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
        self.asked.notify_waiters();
    }

    fn is_open(&self) -> bool {
        self.open.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Takes the open request, if there is one: true for one caller only.
    fn take(&self) -> bool {
        self.open.swap(false, std::sync::atomic::Ordering::SeqCst)
    }
}

impl ConnectionWatch {
    fn new(accepted: Instant, shedding: Arc<Shedding>) -> Self {
        Self {
            shedding,
            phase: Mutex::new(Phase::AwaitingHead {
                since: accepted,
                first_byte: None,
                kept_alive: false,
            }),
            changed: Notify::new(),
        }
    }

    fn is_idle(&self) -> bool {
        matches!(
            self.phase(),
            Phase::AwaitingHead {
                kept_alive: true,
                first_byte: None,
                ..
            }
        )
    }

    fn phase(&self) -> Phase {
        *self
            .phase
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn update(&self, change: impl FnOnce(&mut Phase)) {
        change(
            &mut self
                .phase
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        );
    }

    fn bytes_received(&self) {
        self.update(|phase| {
            if let Phase::AwaitingHead {
                first_byte: first_byte @ None,
                ..
            } = phase
            {
                *first_byte = Some(Instant::now());
            }
        });
    }

    fn request_began(self: &Arc<Self>) -> Answering {
        self.update(|phase| *phase = Phase::Answering);
        Answering(self.clone())
    }
}

/// Held while a request is being answered; dropping it (with the response body, once sent, or
/// with the handler's future, when the connection dies first) puts the connection back to
/// waiting for its next request.
#[derive(Debug)]
struct Answering(Arc<ConnectionWatch>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.update(|phase| {
            *phase = Phase::AwaitingHead {
                since: Instant::now(),
                first_byte: None,
                kept_alive: true,
            };
        });
        // An idle connection is wanted: the serving task looks (see `serve_connection`).
        if self.0.shedding.is_open() {
            self.0.changed.notify_one();
        }
    }
}

/// The connection's socket, reporting every read that brings bytes and keeping the
/// connection's deadline: hyper reads whenever it waits for a request head, so a read that
/// finds nothing arms a timer for the phase's deadline (moved only when the deadline moves),
/// and a read after it has passed fails with `TimedOut`, which ends the connection. Nothing
/// is lost by that, since nothing is being answered while a head is awaited.
struct WatchedStream {
    inner: TcpStream,
    watch: Arc<ConnectionWatch>,
    limits: ConnectionLimits,
    timer: Pin<Box<tokio::time::Sleep>>,
    /// The deadline `timer` is set to.
    armed: Option<Instant>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watch.bytes_received();
        }
        if result.is_ready() {
            return result;
        }
        let this = &mut *self;
        let now = Instant::now();
        // The timer is set to the phase's deadline, but never more than a keep-alive timeout
        // ahead: hyper may have made this read before the response's end makes the connection
        // idle (or before a head's deadline gives way to the idle one), and may make no other
        // until the client sends something, so the stream looks again at least that often.
        let deadline = this.watch.phase().deadline(&this.limits);
        let look_again = now + this.limits.keep_alive_timeout;
        let cap = deadline.map_or(look_again, |deadline| deadline.min(look_again));
        let target = match this.armed {
            Some(armed) if armed > now && armed <= cap => armed,
            _ => cap,
        };
        if this.armed != Some(target) {
            this.timer.as_mut().reset(target);
            this.armed = Some(target);
        }
        if this.timer.as_mut().poll(cx).is_ready() {
            if deadline.is_some_and(|deadline| deadline <= now) {
                tracing::debug!("closing a connection that sent no request head in time");
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no request head in time",
                )));
            }
            // Not yet: look again at the deadline, or a keep-alive timeout later.
            this.timer.as_mut().reset(cap);
            this.armed = Some(cap);
            let _ = this.timer.as_mut().poll(cx);
        }
        result
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The app as one connection's hyper service, marking when each request begins and ends.
struct WatchedService {
    app: Router,
    watch: Arc<ConnectionWatch>,
    peer: Peer,
}

/// The address a request's connection came from, in the request's extensions (for the
/// limits per source address).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

impl hyper::service::Service<Request<Incoming>> for WatchedService {
    type Response = Response<WatchedBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let answering = self.watch.request_began();
        let app = self.app.clone();
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(self.peer);
        Box::pin(async move {
            let response = app.oneshot(request).await?;
            Ok(response.map(|body| WatchedBody {
                inner: body,
                _answering: answering,
            }))
        })
    }
}

/// A response body that keeps its connection in [`Phase::Answering`] until hyper drops it,
/// which it does once the last frame is written.
struct WatchedBody {
    inner: Body,
    _answering: Answering,
}

impl HttpBody for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests;
