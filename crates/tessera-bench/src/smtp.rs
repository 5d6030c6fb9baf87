//! The SMTP sink of the `user_auth_email_otp` scenario: a minimal SMTP server on 127.0.0.1, on
//! a thread and a tokio runtime of its own, that tessera's `[delivery.smtp]` (lettre, with
//! `security = "none"`: plain SMTP, no STARTTLS) delivers the EMAIL_OTP codes to.
//!
//! It speaks just enough SMTP for lettre: the `220` greeting, `EHLO`/`HELO`, `MAIL`, `RCPT`,
//! `DATA` (`354`, then the message up to the line holding a single dot, dot-stuffing undone),
//! `RSET`, `NOOP` (lettre's pool checks a parked connection with it) and `QUIT`. Every
//! message's code, the first run of exactly eight digits in its body (after undoing a base64
//! or quoted-printable transfer encoding), is handed to the virtual user waiting for mail to
//! that recipient ([`Sink::expect`]), through a oneshot channel. Each virtual user signs in as
//! a user of its own, so codes cannot reach the wrong sign-in.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::util::{Context, Result};

/// The domain of the bench users' addresses, and the sink's name in its replies.
pub const DOMAIN: &str = "tessera-bench.example";
/// Digits in an EMAIL_OTP code.
pub const CODE_DIGITS: usize = 8;
/// A message or a command line larger than this closes the connection (a code message is
/// well under a kilobyte).
const MAX_MESSAGE: usize = 1 << 20;

const GREETING: &str = "220 tessera-bench.example ESMTP tessera-bench sink\r\n";
const EHLO: &str = "250-tessera-bench.example\r\n250 8BITMIME\r\n";
const HELO: &str = "250 tessera-bench.example\r\n";
const OK: &str = "250 2.0.0 OK\r\n";
const QUEUED: &str = "250 2.0.0 OK: queued\r\n";
const START_DATA: &str = "354 End data with <CR><LF>.<CR><LF>\r\n";
const BYE: &str = "221 2.0.0 Bye\r\n";
const NO_SENDER: &str = "503 5.5.1 MAIL first\r\n";
const NO_RECIPIENT: &str = "503 5.5.1 RCPT first\r\n";
const BAD_ADDRESS: &str = "501 5.1.3 Bad recipient address syntax\r\n";
const UNKNOWN: &str = "502 5.5.2 Command not recognised\r\n";
const TOO_BIG: &str = "552 5.3.4 Message too big\r\n";

/// A complete message: its envelope recipients (lower case) and its content, headers and
/// body, with CRLF line ends and the dot-stuffing undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub recipients: Vec<String>,
    pub content: Vec<u8>,
}

/// What the sink does after one line from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this reply.
    Reply(&'static str),
    /// Send this reply and close the connection.
    Close(&'static str),
    /// A line of a message was stored; nothing to send yet.
    Data,
    /// The message is complete: hand it on, then reply [`QUEUED`].
    Received(Mail),
}

/// The state of one SMTP conversation.
#[derive(Debug, Default)]
pub struct Session {
    sender: bool,
    recipients: Vec<String>,
    /// The message so far, while reading `DATA`.
    data: Option<Vec<u8>>,
}

impl Session {
    /// Takes one line from the client (with or without its CRLF) and says what to do.
    pub fn line(&mut self, line: &[u8]) -> Step {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(data) = &mut self.data {
            if line == b"." {
                let content = std::mem::take(data);
                self.data = None;
                self.sender = false;
                return Step::Received(Mail {
                    recipients: std::mem::take(&mut self.recipients),
                    content,
                });
            }
            // RFC 5321 §4.5.2: a line starting with a dot had one more added.
            let line = line.strip_prefix(b".").unwrap_or(line);
            if data.len() + line.len() + 2 > MAX_MESSAGE {
                self.data = None;
                return Step::Close(TOO_BIG);
            }
            data.extend_from_slice(line);
            data.extend_from_slice(b"\r\n");
            return Step::Data;
        }
        let text = String::from_utf8_lossy(line);
        let verb = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" | "HELO" | "RSET" => {
                self.sender = false;
                self.recipients.clear();
                Step::Reply(match verb.as_str() {
                    "EHLO" => EHLO,
                    "HELO" => HELO,
                    _ => OK,
                })
            }
            "MAIL" => {
                self.sender = true;
                self.recipients.clear();
                Step::Reply(OK)
            }
            "RCPT" if !self.sender => Step::Reply(NO_SENDER),
            "RCPT" => match recipient(&text) {
                Some(address) => {
                    self.recipients.push(address);
                    Step::Reply(OK)
                }
                None => Step::Reply(BAD_ADDRESS),
            },
            "DATA" if self.recipients.is_empty() => Step::Reply(NO_RECIPIENT),
            "DATA" => {
                self.data = Some(Vec::with_capacity(1024));
                Step::Reply(START_DATA)
            }
            "NOOP" => Step::Reply(OK),
            "QUIT" => Step::Close(BYE),
            _ => Step::Reply(UNKNOWN),
        }
    }
}

/// The address of `RCPT TO:<address> [parameters]`, in lower case.
pub fn recipient(command: &str) -> Option<String> {
    let (verb, rest) = command.split_once(':')?;
    if !verb.trim().eq_ignore_ascii_case("RCPT TO") {
        return None;
    }
    let rest = rest.trim_start();
    let address = match rest.strip_prefix('<') {
        Some(inner) => inner.split_once('>')?.0,
        None => rest.split_whitespace().next()?,
    };
    (address.contains('@') && !address.contains(char::is_whitespace))
        .then(|| address.to_ascii_lowercase())
}

/// The code in a message: the first run of exactly `digits` digits in its body, after undoing
/// a `base64` or `quoted-printable` Content-Transfer-Encoding.
pub fn code_in(content: &[u8], digits: usize) -> Option<String> {
    let split = find(content, b"\r\n\r\n")?;
    let headers = String::from_utf8_lossy(content.get(..split)?);
    let body = content.get(split + 4..)?;
    let encoding = headers
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| {
            name.trim()
                .eq_ignore_ascii_case("content-transfer-encoding")
        })
        .map(|(_, value)| value.trim().to_ascii_lowercase());
    let decoded = match encoding.as_deref() {
        Some("base64") => {
            let compact: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            STANDARD.decode(compact).ok()?
        }
        Some("quoted-printable") => quoted_printable(body),
        _ => body.to_vec(),
    };
    digit_run(&decoded, digits)
}

/// RFC 2045 §6.7 quoted-printable: `=XX` is a byte, `=` at the end of a line joins it to the
/// next.
fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    while let Some(&byte) = body.get(at) {
        if byte != b'=' {
            out.push(byte);
            at += 1;
            continue;
        }
        let rest = body.get(at + 1..).unwrap_or_default();
        if rest.starts_with(b"\r\n") {
            at += 3;
        } else if rest.starts_with(b"\n") {
            at += 2;
        } else if let Some(value) = rest
            .get(..2)
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(value);
            at += 3;
        } else {
            out.push(byte);
            at += 1;
        }
    }
    out
}

/// The first run of exactly `digits` ASCII digits.
fn digit_run(text: &[u8], digits: usize) -> Option<String> {
    let mut start = None;
    for (at, byte) in text.iter().chain(std::iter::once(&b' ')).enumerate() {
        match (byte.is_ascii_digit(), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                if at - from == digits {
                    return String::from_utf8(text.get(from..at)?.to_vec()).ok();
                }
                start = None;
            }
            _ => {}
        }
    }
    None
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// What the sink has seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Connections accepted.
    pub connections: u64,
    /// Messages received (one per recipient).
    pub messages: u64,
    /// Codes handed to a virtual user waiting for them.
    pub handed: u64,
    /// Messages with a code for a recipient nobody was waiting for.
    pub unclaimed: u64,
    /// Messages without an eight-digit code.
    pub without_code: u64,
    /// CPU time of the sink's thread, in clock ticks.
    pub cpu_ticks: Option<u64>,
}

#[derive(Default)]
struct Shared {
    waiting: Mutex<HashMap<String, oneshot::Sender<String>>>,
    connections: AtomicU64,
    messages: AtomicU64,
    handed: AtomicU64,
    unclaimed: AtomicU64,
    without_code: AtomicU64,
}

impl Shared {
    fn receive(&self, mail: &Mail) {
        let code = code_in(&mail.content, CODE_DIGITS);
        for recipient in &mail.recipients {
            self.messages.fetch_add(1, Ordering::Relaxed);
            let Some(code) = &code else {
                self.without_code.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let waiter = self
                .waiting
                .lock()
                .ok()
                .and_then(|mut waiting| waiting.remove(recipient));
            match waiter.map(|waiter| waiter.send(code.clone())) {
                Some(Ok(())) => self.handed.fetch_add(1, Ordering::Relaxed),
                _ => self.unclaimed.fetch_add(1, Ordering::Relaxed),
            };
        }
    }
}

/// The running sink. Dropping it stops its runtime and joins its thread.
pub struct Sink {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    tid: Option<u32>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Sink {
    /// Binds 127.0.0.1 on a free port and starts serving.
    pub fn start() -> Result<Self> {
        let listener =
            std::net::TcpListener::bind(("127.0.0.1", 0)).context("binding the SMTP sink")?;
        listener
            .set_nonblocking(true)
            .context("the SMTP sink's socket")?;
        let addr = listener.local_addr().context("the SMTP sink's address")?;
        let shared = Arc::new(Shared::default());
        let (shutdown, stop) = oneshot::channel::<()>();
        let (ready, started) = mpsc::channel::<Result<Option<u32>>>();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("smtp-sink".into())
            .spawn(move || serve(listener, serving, stop, ready))
            .context("starting the SMTP sink's thread")?;
        let tid = started
            .recv_timeout(Duration::from_secs(10))
            .context("the SMTP sink did not start")??;
        Ok(Self {
            addr,
            shared,
            tid,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// tessera's `[delivery.smtp]` table for this sink: plain SMTP on loopback.
    pub fn config(&self) -> String {
        format!(
            "[delivery.smtp]\nhost = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"tessera-bench <no-reply@{DOMAIN}>\"\ntimeout_seconds = 10\n",
            self.addr.port()
        )
    }

    /// Waits for the next code mailed to `recipient` (a previous wait for it is dropped).
    pub fn expect(&self, recipient: &str) -> oneshot::Receiver<String> {
        let (sender, receiver) = oneshot::channel();
        if let Ok(mut waiting) = self.shared.waiting.lock() {
            waiting.insert(recipient.to_ascii_lowercase(), sender);
        }
        receiver
    }

    /// Stops waiting for mail to `recipient`.
    pub fn forget(&self, recipient: &str) {
        if let Ok(mut waiting) = self.shared.waiting.lock() {
            waiting.remove(&recipient.to_ascii_lowercase());
        }
    }

    pub fn counts(&self) -> Counts {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Counts {
            connections: load(&self.shared.connections),
            messages: load(&self.shared.messages),
            handed: load(&self.shared.handed),
            unclaimed: load(&self.shared.unclaimed),
            without_code: load(&self.shared.without_code),
            cpu_ticks: self.tid.and_then(|tid| {
                crate::server::stat_cpu_ticks(&format!("/proc/self/task/{tid}/stat"))
            }),
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The sink's thread: a current-thread runtime accepting connections until told to stop.
fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
    ready: mpsc::Sender<Result<Option<u32>>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = ready.send(Err(format!("starting the SMTP sink's runtime: {error}")));
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
                let _ = ready.send(Err(format!("the SMTP sink's listener: {error}")));
                return;
            }
        };
        let _ = ready.send(Ok(tid));
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    if let Ok((stream, _)) = accepted {
                        shared.connections.fetch_add(1, Ordering::Relaxed);
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(connection(stream, shared.clone()));
                    }
                }
                _ = &mut stop => break,
            }
        }
    });
}

/// One SMTP connection: the greeting, then a reply per command until `QUIT` or the peer
/// closes it.
async fn connection(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    if write.write_all(GREETING.as_bytes()).await.is_err() {
        return;
    }
    let mut session = Session::default();
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_MESSAGE as u64)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let reply = match session.line(&line) {
            Step::Data => continue,
            Step::Reply(reply) => reply,
            Step::Close(reply) => {
                let _ = write.write_all(reply.as_bytes()).await;
                return;
            }
            Step::Received(mail) => {
                shared.receive(&mail);
                QUEUED
            }
        };
        if write.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a client's lines to a session and returns the replies and the messages.
    fn converse(lines: &[&str]) -> (Vec<String>, Vec<Mail>) {
        let mut session = Session::default();
        let mut replies = Vec::new();
        let mut mails = Vec::new();
        for line in lines {
            match session.line(format!("{line}\r\n").as_bytes()) {
                Step::Reply(reply) | Step::Close(reply) => replies.push(reply.to_owned()),
                Step::Data => {}
                Step::Received(mail) => {
                    mails.push(mail);
                    replies.push(QUEUED.to_owned());
                }
            }
        }
        (replies, mails)
    }

    #[test]
    fn speaks_smtp_as_lettre_does() {
        // What lettre sends for two messages on one pooled connection: EHLO, then per message
        // NOOP (the pool's check), MAIL, RCPT, DATA; QUIT when the pool lets it go.
        let message = [
            "From: tessera-bench <no-reply@tessera-bench.example>",
            "To: bench-otp-00003@tessera-bench.example",
            "Subject: Your sign-in code",
            "Date: Fri, 04 Dec 2026 19:53:00 +0000",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 7bit",
            "",
            "Your authentication code is 40213377. ",
            "..a line that started with a dot",
        ];
        let mut lines = vec![
            "EHLO localhost",
            "MAIL FROM:<no-reply@tessera-bench.example> BODY=8BITMIME",
            "RCPT TO:<Bench-OTP-00003@tessera-bench.example>",
            "DATA",
        ];
        lines.extend(message);
        lines.extend([".", "NOOP", "RSET", "MAIL FROM:<a@b.example>"]);
        lines.extend(["RCPT TO:<x@b.example>", "DATA", "body", ".", "QUIT"]);
        let (replies, mails) = converse(&lines);
        assert_eq!(
            replies,
            [EHLO, OK, OK, START_DATA, QUEUED, OK, OK, OK, OK, START_DATA, QUEUED, BYE]
        );
        assert_eq!(mails.len(), 2);
        let first = mails.first().cloned().unwrap_or_else(|| Mail {
            recipients: Vec::new(),
            content: Vec::new(),
        });
        assert_eq!(first.recipients, ["bench-otp-00003@tessera-bench.example"]);
        let text = String::from_utf8_lossy(&first.content);
        assert!(
            text.ends_with("code is 40213377. \r\n.a line that started with a dot\r\n"),
            "{text}"
        );
        assert_eq!(
            code_in(&first.content, CODE_DIGITS).as_deref(),
            Some("40213377")
        );
    }

    #[test]
    fn refuses_what_it_cannot_take() {
        let (replies, mails) = converse(&[
            "HELO localhost",
            "RCPT TO:<a@b.example>",
            "DATA",
            "MAIL FROM:<>",
            "RCPT TO:nobody",
            "DATA",
            "STARTTLS",
            "AUTH PLAIN AGJAYw==",
        ]);
        assert_eq!(
            replies,
            [
                HELO,
                NO_SENDER,
                NO_RECIPIENT,
                OK,
                BAD_ADDRESS,
                NO_RECIPIENT,
                UNKNOWN,
                UNKNOWN
            ]
        );
        assert!(mails.is_empty());
        assert_eq!(
            recipient("rcpt to: <A@B.example> NOTIFY=NEVER").as_deref(),
            Some("a@b.example")
        );
        assert_eq!(
            recipient("RCPT TO:a@b.example").as_deref(),
            Some("a@b.example")
        );
        assert_eq!(recipient("MAIL FROM:<a@b.example>"), None);
    }

    #[test]
    fn finds_the_code_in_any_transfer_encoding() {
        let message = |encoding: &str, body: &str| {
            format!(
                "Subject: Your sign-in code\r\nDate: Fri, 04 Dec 2026 19:53:00 +0000\r\nMessage-ID: <12345678@host>\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{body}"
            )
            .into_bytes()
        };
        let plain = message("7bit", "Your authentication code is 00123456. \r\n");
        assert_eq!(code_in(&plain, 8).as_deref(), Some("00123456"));
        let encoded = STANDARD.encode("Your authentication code is 98765432. ");
        let base64 = message("base64", &format!("{encoded}\r\n"));
        assert_eq!(code_in(&base64, 8).as_deref(), Some("98765432"));
        let quoted = message(
            "quoted-printable",
            "Your authentication code is 1234=\r\n5678.=20\r\n",
        );
        assert_eq!(code_in(&quoted, 8).as_deref(), Some("12345678"));
        // Digits in the headers, and longer or shorter runs, are not the code.
        let none = message("7bit", "Call 123456789 or 1234567 today.\r\n");
        assert_eq!(code_in(&none, 8), None);
        assert_eq!(code_in(b"no headers 12345678", 8), None);
        assert_eq!(digit_run(b"x12345678", 8).as_deref(), Some("12345678"));
    }

    #[test]
    fn hands_each_code_to_the_user_waiting_for_it() {
        let shared = Shared::default();
        let (sender, mut receiver) = oneshot::channel();
        if let Ok(mut waiting) = shared.waiting.lock() {
            waiting.insert("a@b.example".to_owned(), sender);
        }
        let mail = |to: &str, code: &str| Mail {
            recipients: vec![to.to_owned()],
            content: format!("Subject: x\r\n\r\nYour code is {code}.\r\n").into_bytes(),
        };
        shared.receive(&mail("c@b.example", "11111111"));
        shared.receive(&mail("a@b.example", "22222222"));
        shared.receive(&mail("a@b.example", "33333333"));
        shared.receive(&Mail {
            recipients: vec!["a@b.example".to_owned()],
            content: b"Subject: x\r\n\r\nno code\r\n".to_vec(),
        });
        assert_eq!(receiver.try_recv().ok().as_deref(), Some("22222222"));
        let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        assert_eq!(count(&shared.messages), 4);
        assert_eq!(count(&shared.handed), 1);
        assert_eq!(count(&shared.unclaimed), 2);
        assert_eq!(count(&shared.without_code), 1);
    }
}
