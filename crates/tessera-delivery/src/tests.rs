use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tessera_core::{Clock, ManualClock};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::smtp::looks_like_html;
use crate::*;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A directory of its own for one test, removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("tessera-delivery-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn outbox(&self) -> PathBuf {
        self.0.join("outbox.jsonl")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// 2024-01-02T03:04:05.5Z, a fixed instant for outbox lines.
fn start() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(1_704_164_645_500)
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(start()))
}

fn message(channel: Channel, username: &str, body: &str) -> Message {
    Message {
        pool_id: "us-east-1_AbCdEfGhI".to_owned(),
        username: username.to_owned(),
        channel,
        destination: match channel {
            Channel::Email => format!("{username}@example.com"),
            Channel::Sms => "+15555550123".to_owned(),
        },
        subject: match channel {
            Channel::Email => Some("Your verification code".to_owned()),
            Channel::Sms => None,
        },
        body: body.to_owned(),
        purpose: "SignUp".to_owned(),
    }
}

fn config(outbox: &Path) -> DeliveryConfig {
    DeliveryConfig {
        smtp: None,
        sms_webhook: None,
        outbox_path: outbox.to_owned(),
    }
}

fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".to_owned(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "Tessera <no-reply@tessera.test>".to_owned(),
        timeout_seconds: Some(5),
    }
}

fn webhook_config(url: String) -> SmsWebhookConfig {
    SmsWebhookConfig {
        url,
        headers: BTreeMap::from([("Authorization".to_owned(), "Bearer s3cret".to_owned())]),
        timeout_seconds: Some(5),
    }
}

/// How a test SMTP server answers `RCPT TO`.
#[derive(Clone, Copy)]
enum Rcpt {
    Accept,
    Reject,
}

/// A minimal SMTP server on a loopback port: it greets, accepts every command with 250 (or
/// refuses RCPT with 550), and keeps the text of every DATA it receives.
async fn smtp_server(rcpt: Rcpt) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&received);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sink = Arc::clone(&sink);
            tokio::spawn(async move {
                let _ = smtp_session(stream, rcpt, sink).await;
            });
        }
    });
    (port, received)
}

async fn smtp_session(
    stream: TcpStream,
    rcpt: Rcpt,
    sink: Arc<Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 test.local ESMTP ready\r\n").await?;
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
        let reply: &[u8] = match (verb.as_str(), rcpt) {
            ("EHLO" | "HELO", _) => b"250 test.local\r\n",
            ("RCPT", Rcpt::Reject) => b"550 5.1.1 mailbox unavailable\r\n",
            ("DATA", _) => {
                write
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                while !data.ends_with("\r\n.\r\n") {
                    if read.read_line(&mut data).await? == 0 {
                        return Ok(());
                    }
                }
                sink.lock().unwrap().push(data);
                b"250 2.0.0 queued\r\n"
            }
            ("QUIT", _) => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"250 2.0.0 ok\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// What a test webhook received: the request headers and the JSON body.
type Requests = Arc<Mutex<Vec<(axum::http::HeaderMap, Value)>>>;

/// A webhook on a loopback port that records every request and answers `status`.
async fn webhook_server(status: axum::http::StatusCode) -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    let requests: Requests = Arc::default();
    let sink = Arc::clone(&requests);
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                let sink = Arc::clone(&sink);
                async move {
                    sink.lock().unwrap().push((headers, body));
                    status
                }
            },
        ),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, requests)
}

fn outbox_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Masking and templates

#[test]
fn masks_email_like_cognito() {
    let cases = [
        ("jane.doe@example.com", "j***@e***"),
        ("a@b.co", "a***@b***"),
        ("John+tag@Mail.Example.org", "J***@M***"),
        ("x@y", "x***@y***"),
        ("élodie@exemple.fr", "é***@e***"),
    ];
    for (email, masked) in cases {
        assert_eq!(mask_destination(Channel::Email, email), masked, "{email}");
    }
}

#[test]
fn masks_odd_email_input_without_revealing_it() {
    let cases = [
        ("", "***"),
        ("@", "***@***"),
        ("janedoe", "j***"),
        ("@example.com", "***@e***"),
        ("jane@", "j***@***"),
        ("a@b@example.com", "a***@e***"),
        ("日本@例え.jp", "日***@例***"),
    ];
    for (email, masked) in cases {
        assert_eq!(mask_destination(Channel::Email, email), masked, "{email:?}");
    }
}

#[test]
fn masks_phone_like_cognito() {
    let cases = [
        ("+15555550123", "+*******0123"),
        ("+447700900123", "+********0123"),
        ("+33612345678", "+*******5678"),
        ("+12345", "+*2345"),
    ];
    for (phone, masked) in cases {
        assert_eq!(mask_destination(Channel::Sms, phone), masked, "{phone}");
    }
}

#[test]
fn masks_odd_phone_input_without_revealing_it() {
    let cases = [
        ("", "***"),
        ("+", "***"),
        ("not a number", "***"),
        ("+1234", "+****"),
        ("12", "**"),
        ("5555550123", "******0123"),
        (" +1 (555) 555-0123 ", "+*******0123"),
        ("+١٢٣٤٥٦", "***"),
    ];
    for (phone, masked) in cases {
        assert_eq!(mask_destination(Channel::Sms, phone), masked, "{phone:?}");
    }
}

#[test]
fn masking_never_panics_and_never_returns_the_input() {
    let alphabet = ['a', '@', '+', '1', '9', 'é', '日', ' ', '.', '\u{0}'];
    for length in 0..6 {
        for seed in 0..alphabet.len().pow(length as u32) {
            let mut rest = seed;
            let input: String = (0..length)
                .map(|_| {
                    let c = alphabet[rest % alphabet.len()];
                    rest /= alphabet.len();
                    c
                })
                .collect();
            for channel in [Channel::Email, Channel::Sms] {
                let masked = mask_destination(channel, &input);
                assert!(!masked.is_empty(), "{channel} {input:?}");
                assert!(masked.contains('*'), "{channel} {input:?} -> {masked:?}");
            }
        }
    }
}

#[test]
fn renders_code_and_username() {
    assert_eq!(
        render("Your verification code is {####}.", "123456", None),
        "Your verification code is 123456."
    );
    assert_eq!(
        render(
            "Your username is {username} and temporary password is {####}. ({####})",
            "Tmp-Pa55!",
            Some("jane")
        ),
        "Your username is jane and temporary password is Tmp-Pa55!. (Tmp-Pa55!)"
    );
    assert_eq!(render("", "1", Some("u")), "");
    assert_eq!(
        render("no placeholders {} {###} {", "1", Some("u")),
        "no placeholders {} {###} {"
    );
    assert_eq!(render("{{####}}", "42", None), "{42}");
    assert_eq!(
        render("<p>{####}</p>é{username}", "7", Some("日本")),
        "<p>7</p>é日本"
    );
}

#[test]
fn render_leaves_username_without_one_and_does_not_rescan_values() {
    assert_eq!(
        render("Hi {username}, {####}", "1", None),
        "Hi {username}, 1"
    );
    assert_eq!(
        render("{username}:{####}", "{username}", Some("{####}")),
        "{####}:{username}"
    );
}

#[test]
fn channel_is_cognito_delivery_medium() {
    assert_eq!(
        serde_json::to_value(Channel::Email).unwrap(),
        json!("EMAIL")
    );
    assert_eq!(serde_json::to_value(Channel::Sms).unwrap(), json!("SMS"));
    assert_eq!(
        serde_json::from_value::<Channel>(json!("SMS")).unwrap(),
        Channel::Sms
    );
    assert_eq!(Channel::Email.to_string(), "EMAIL");
}

#[test]
fn message_debug_hides_the_body() {
    let debug = format!("{:?}", message(Channel::Email, "jane", "code 918273"));
    assert!(!debug.contains("918273"), "{debug}");
    assert!(debug.contains("jane"), "{debug}");
}

#[test]
fn html_detection() {
    assert!(looks_like_html("<p>Your code is 123456</p>"));
    assert!(looks_like_html("Code: <b>123456</b>"));
    assert!(looks_like_html("<!DOCTYPE html><html></html>"));
    assert!(!looks_like_html("Your code is 123456"));
    assert!(!looks_like_html("1 < 2 and 3 > 2"));
    assert!(!looks_like_html("<b"));
    assert!(!looks_like_html("> <a"));
    assert!(!looks_like_html(""));
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[derive(serde::Deserialize)]
struct File {
    delivery: Delivery,
}

#[derive(serde::Deserialize)]
struct Delivery {
    smtp: Option<SmtpConfig>,
    sms_webhook: Option<SmsWebhookConfig>,
}

#[test]
fn reads_the_toml_tables() {
    let file: File = toml::from_str(
        r#"
        [delivery.smtp]
        host = "smtp.example.com"
        port = 587
        username = "apikey"
        password = "hunter2"
        from = "Example <no-reply@example.com>"

        [delivery.sms_webhook]
        url = "https://sms.example.com/send?token=abc"
        timeout_seconds = 3
        [delivery.sms_webhook.headers]
        Authorization = "Bearer xyz"
        "#,
    )
    .unwrap();
    let smtp = file.delivery.smtp.unwrap();
    assert_eq!(smtp.security, SmtpSecurity::Starttls);
    assert_eq!(smtp.port, 587);
    assert_eq!(smtp.timeout_seconds, None);
    let webhook = file.delivery.sms_webhook.unwrap();
    assert_eq!(webhook.headers["Authorization"], "Bearer xyz");
    assert_eq!(webhook.timeout_seconds, Some(3));

    let debug = format!("{smtp:?} {webhook:?}");
    for secret in ["hunter2", "Bearer xyz", "token=abc"] {
        assert!(!debug.contains(secret), "{debug}");
    }

    for (text, security) in [("none", SmtpSecurity::None), ("tls", SmtpSecurity::Tls)] {
        let file: File = toml::from_str(&format!(
            "[delivery.smtp]\nhost = \"h\"\nport = 1\nfrom = \"a@b.c\"\nsecurity = \"{text}\"\n"
        ))
        .unwrap();
        assert_eq!(file.delivery.smtp.unwrap().security, security);
    }
    assert!(toml::from_str::<File>(
        "[delivery.smtp]\nhost = \"h\"\nport = 1\nfrom = \"a@b.c\"\nsecurity = \"ssl\"\n"
    )
    .is_err());
    assert!(toml::from_str::<File>(
        "[delivery.smtp]\nhost = \"h\"\nport = 1\nfrom = \"a@b.c\"\nserver = \"typo\"\n"
    )
    .is_err());
}

#[tokio::test]
async fn refuses_bad_configuration() {
    let scratch = Scratch::new();
    let bad_smtp = [
        SmtpConfig {
            from: "not an address".to_owned(),
            ..smtp_config(25)
        },
        SmtpConfig {
            host: " ".to_owned(),
            ..smtp_config(25)
        },
        SmtpConfig {
            password: Some("p".to_owned()),
            ..smtp_config(25)
        },
        SmtpConfig {
            timeout_seconds: Some(0),
            ..smtp_config(25)
        },
    ];
    for smtp in bad_smtp {
        let config = DeliveryConfig {
            smtp: Some(smtp),
            ..config(&scratch.outbox())
        };
        assert!(matches!(
            deliverer(config),
            Err(DeliveryError::InvalidConfig(_))
        ));
    }
    let bad_webhooks = [
        webhook_config("not a url".to_owned()),
        webhook_config("ftp://example.com/sms".to_owned()),
        SmsWebhookConfig {
            headers: BTreeMap::from([("bad header".to_owned(), "v".to_owned())]),
            ..webhook_config("http://127.0.0.1:9/sms".to_owned())
        },
        SmsWebhookConfig {
            headers: BTreeMap::from([("X-Token".to_owned(), "line\nbreak".to_owned())]),
            ..webhook_config("http://127.0.0.1:9/sms".to_owned())
        },
    ];
    for webhook in bad_webhooks {
        let config = DeliveryConfig {
            sms_webhook: Some(webhook),
            ..config(&scratch.outbox())
        };
        let error = deliverer(config).err().unwrap();
        assert!(matches!(error, DeliveryError::InvalidConfig(_)), "{error}");
        assert!(!error.to_string().contains("line\nbreak"), "{error}");
    }
}

#[test]
fn smtp_outside_a_runtime_is_an_error_not_a_panic() {
    let scratch = Scratch::new();
    let config = DeliveryConfig {
        smtp: Some(smtp_config(25)),
        ..config(&scratch.outbox())
    };
    assert!(matches!(
        deliverer(config),
        Err(DeliveryError::InvalidConfig(_))
    ));
}

// ---------------------------------------------------------------------------------------------
// Outbox

#[tokio::test]
async fn outbox_appends_lines_and_reads_them_back_with_filters() {
    let scratch = Scratch::new();
    // The directory does not exist yet: the outbox creates it.
    let path = scratch.0.join("data").join("outbox.jsonl");
    let clock = clock();
    let outbox = Outbox::new(&path, clock.clone() as Arc<dyn Clock>);

    outbox
        .deliver(&message(Channel::Email, "jane", "Your code is 111111"))
        .await
        .unwrap();
    clock.advance(Duration::from_millis(250));
    outbox
        .deliver(&message(Channel::Sms, "john", "Your code is 222222"))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(1));
    let mut other_pool = message(Channel::Email, "jane", "Your code is 333333");
    other_pool.pool_id = "eu-west-1_Other1234".to_owned();
    other_pool.purpose = "ForgotPassword".to_owned();
    outbox.deliver(&other_pool).await.unwrap();

    let lines = outbox_lines(&path);
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        json!({
            "time": 1_704_164_645.5,
            "pool_id": "us-east-1_AbCdEfGhI",
            "username": "jane",
            "channel": "EMAIL",
            "destination": "jane@example.com",
            "subject": "Your verification code",
            "body": "Your code is 111111",
            "purpose": "SignUp",
        })
    );
    let keys: Vec<&String> = lines[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "time",
            "pool_id",
            "username",
            "channel",
            "destination",
            "subject",
            "body",
            "purpose"
        ]
    );
    assert_eq!(lines[1]["time"], json!(1_704_164_645.75));
    assert_eq!(lines[1]["channel"], "SMS");
    assert_eq!(lines[1]["subject"], Value::Null);
    assert_eq!(lines[1]["destination"], "+15555550123");

    let all = Outbox::read(&path, None, None, 100).unwrap();
    assert_eq!(all, lines);

    let bodies = |entries: Vec<Value>| -> Vec<String> {
        entries
            .iter()
            .map(|entry| entry["body"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        bodies(Outbox::read(&path, Some("us-east-1_AbCdEfGhI"), None, 100).unwrap()),
        ["Your code is 111111", "Your code is 222222"]
    );
    assert_eq!(
        bodies(Outbox::read(&path, None, Some("jane"), 100).unwrap()),
        ["Your code is 111111", "Your code is 333333"]
    );
    assert_eq!(
        bodies(Outbox::read(&path, Some("us-east-1_AbCdEfGhI"), Some("jane"), 100).unwrap()),
        ["Your code is 111111"]
    );
    // The limit keeps the newest, still oldest first.
    assert_eq!(
        bodies(Outbox::read(&path, None, None, 2).unwrap()),
        ["Your code is 222222", "Your code is 333333"]
    );
    assert!(Outbox::read(&path, None, None, 0).unwrap().is_empty());
    assert!(Outbox::read(&path, Some("nobody"), None, 10)
        .unwrap()
        .is_empty());
}

#[test]
fn outbox_read_tolerates_a_missing_file_and_broken_lines() {
    let scratch = Scratch::new();
    assert!(Outbox::read(&scratch.outbox(), None, None, 10)
        .unwrap()
        .is_empty());

    std::fs::write(
        scratch.outbox(),
        b"{\"pool_id\":\"p\",\"username\":\"u\",\"body\":\"1\"}\n\
          not json\n\
          [1,2]\n\
          \xff\xfe\n\
          \n\
          {\"pool_id\":\"p\",\"username\":\"u\",\"body\":\"2\"}\n\
          {\"pool_id\":\"p\",\"usern",
    )
    .unwrap();
    let entries = Outbox::read(&scratch.outbox(), Some("p"), Some("u"), 10).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["body"], "2");

    // A directory where the file should be is an error, not an empty outbox.
    assert!(matches!(
        Outbox::read(&scratch.0, None, None, 10),
        Err(DeliveryError::Outbox { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_keeps_lines_whole_under_concurrent_deliveries() {
    let scratch = Scratch::new();
    let outbox = Arc::new(Outbox::new(scratch.outbox(), clock()));
    // Long bodies make a torn or interleaved write show up as broken JSON.
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let outbox = Arc::clone(&outbox);
            tokio::spawn(async move {
                let body = format!("{n:02}:{}", "x".repeat(8_000 + n));
                outbox
                    .deliver(&message(Channel::Email, &format!("user{n}"), &body))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let lines = outbox_lines(&scratch.outbox());
    assert_eq!(lines.len(), 50);
    let mut users: Vec<String> = lines
        .iter()
        .map(|line| line["username"].as_str().unwrap().to_owned())
        .collect();
    users.sort();
    users.dedup();
    assert_eq!(users.len(), 50);
    for line in &lines {
        let user = line["username"].as_str().unwrap();
        let n: usize = user.trim_start_matches("user").parse().unwrap();
        assert_eq!(line["body"].as_str().unwrap().len(), 3 + 8_000 + n);
    }
}

#[cfg(unix)]
#[tokio::test]
async fn outbox_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let scratch = Scratch::new();
    let outbox = Outbox::new(scratch.outbox(), clock());
    outbox
        .deliver(&message(Channel::Sms, "jane", "123456"))
        .await
        .unwrap();
    let mode = std::fs::metadata(scratch.outbox())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn outbox_write_failure_is_an_outbox_error() {
    let scratch = Scratch::new();
    // The outbox path is a directory, so it cannot be opened for appending.
    let outbox = Outbox::new(&scratch.0, clock());
    let error = outbox
        .deliver(&message(Channel::Email, "jane", "secret 424242"))
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Outbox { .. }), "{error}");
    assert!(!error.to_string().contains("424242"));
}

/// Collects what the `tracing` subscriber of the test binary writes, to check what the logs would
/// contain.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The logs of every test in this binary. The subscriber is global rather than scoped to one
/// test, because `tracing` caches per call site whether anyone listens, and a call site first
/// reached by a test running without a subscriber would then stay silent for the others.
fn logs() -> &'static Logs {
    static LOGS: std::sync::OnceLock<Logs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

#[tokio::test]
async fn deliveries_are_logged_but_never_their_body() {
    let logs = logs();
    let user = format!("log-{}", uuid::Uuid::new_v4().simple());
    let scratch = Scratch::new();
    let (url, _) = webhook_server(axum::http::StatusCode::OK).await;
    let (failing_url, _) = webhook_server(axum::http::StatusCode::BAD_GATEWAY).await;

    let router = deliverer(DeliveryConfig {
        sms_webhook: Some(webhook_config(url)),
        ..config(&scratch.outbox())
    })
    .unwrap();
    let mut invite = message(
        Channel::Email,
        &user,
        "Your temporary password is Tmp-918273!",
    );
    invite.purpose = "AdminCreateUser".to_owned();
    router.deliver(&invite).await.unwrap();
    router
        .deliver(&message(Channel::Sms, &user, "Your code is 918273"))
        .await
        .unwrap();
    let failing = deliverer(DeliveryConfig {
        sms_webhook: Some(webhook_config(failing_url)),
        ..config(&scratch.outbox())
    })
    .unwrap();
    failing
        .deliver(&message(Channel::Sms, &user, "Your code is 918273"))
        .await
        .unwrap_err();

    let logged: Vec<String> = logs
        .text()
        .lines()
        .filter(|line| line.contains(&user))
        .map(str::to_owned)
        .collect();
    assert_eq!(logged.len(), 3, "{logged:#?}");
    assert!(
        logged[0].contains("message written to outbox"),
        "{}",
        logged[0]
    );
    for field in ["us-east-1_AbCdEfGhI", "EMAIL", "AdminCreateUser"] {
        assert!(
            logged[0].contains(field),
            "{field} missing from {}",
            logged[0]
        );
    }
    assert!(logged[1].contains("message delivered"), "{}", logged[1]);
    assert!(
        logged[2].contains("message delivery failed"),
        "{}",
        logged[2]
    );
    assert!(logged[2].contains("502"), "{}", logged[2]);
    for line in &logged {
        assert!(!line.contains("918273"), "{line}");
    }
}

// ---------------------------------------------------------------------------------------------
// Routing

#[tokio::test]
async fn routes_everything_to_the_outbox_when_nothing_is_configured() {
    let scratch = Scratch::new();
    let router = Router::new(config(&scratch.outbox()), clock()).unwrap();
    assert_eq!(router.outbox_path(), scratch.outbox());
    assert!(!router.is_configured(Channel::Email));
    assert!(!router.is_configured(Channel::Sms));

    router
        .deliver(&message(Channel::Email, "jane", "email 111111"))
        .await
        .unwrap();
    router
        .deliver(&message(Channel::Sms, "john", "sms 222222"))
        .await
        .unwrap();

    let lines = Outbox::read(&scratch.outbox(), None, None, 10).unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["channel"], "EMAIL");
    assert_eq!(lines[0]["body"], "email 111111");
    assert_eq!(lines[1]["channel"], "SMS");
    assert_eq!(lines[1]["body"], "sms 222222");
}

#[tokio::test]
async fn routes_each_channel_to_its_transport_and_the_rest_to_the_outbox() {
    let scratch = Scratch::new();
    let (port, mails) = smtp_server(Rcpt::Accept).await;
    let router = Router::new(
        DeliveryConfig {
            smtp: Some(smtp_config(port)),
            ..config(&scratch.outbox())
        },
        clock(),
    )
    .unwrap();
    assert!(router.is_configured(Channel::Email));
    assert!(!router.is_configured(Channel::Sms));

    router
        .deliver(&message(Channel::Email, "jane", "email 111111"))
        .await
        .unwrap();
    router
        .deliver(&message(Channel::Sms, "john", "sms 222222"))
        .await
        .unwrap();

    assert_eq!(mails.lock().unwrap().len(), 1);
    let lines = Outbox::read(&scratch.outbox(), None, None, 10).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["channel"], "SMS");

    // And the other way round: SMS to the webhook, e-mail to the outbox.
    let scratch = Scratch::new();
    let (url, requests) = webhook_server(axum::http::StatusCode::NO_CONTENT).await;
    let router = Router::new(
        DeliveryConfig {
            sms_webhook: Some(webhook_config(url)),
            ..config(&scratch.outbox())
        },
        clock(),
    )
    .unwrap();
    router
        .deliver(&message(Channel::Email, "jane", "email 333333"))
        .await
        .unwrap();
    router
        .deliver(&message(Channel::Sms, "john", "sms 444444"))
        .await
        .unwrap();
    assert_eq!(requests.lock().unwrap().len(), 1);
    let lines = Outbox::read(&scratch.outbox(), None, None, 10).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["channel"], "EMAIL");
}

#[tokio::test]
async fn refuses_an_empty_destination() {
    let scratch = Scratch::new();
    let router = deliverer(config(&scratch.outbox())).unwrap();
    let mut empty = message(Channel::Email, "jane", "111111");
    empty.destination = "  ".to_owned();
    assert!(matches!(
        router.deliver(&empty).await,
        Err(DeliveryError::InvalidAddress(_))
    ));
    assert!(!scratch.outbox().exists());
}

// ---------------------------------------------------------------------------------------------
// SMTP

#[tokio::test]
async fn smtp_round_trip_delivers_subject_and_code() {
    let scratch = Scratch::new();
    let (port, mails) = smtp_server(Rcpt::Accept).await;
    let router = Router::new(
        DeliveryConfig {
            smtp: Some(smtp_config(port)),
            ..config(&scratch.outbox())
        },
        clock(),
    )
    .unwrap();

    let mut confirm = message(Channel::Email, "jane", "Your confirmation code is 918273");
    confirm.subject = Some("Confirm your account".to_owned());
    router.deliver(&confirm).await.unwrap();
    // A second message goes through the same (pooled) transport.
    router
        .deliver(&message(Channel::Email, "john", "Your code is 564738"))
        .await
        .unwrap();

    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 2);
    let mail = &mails[0];
    assert!(mail.contains("Subject: Confirm your account\r\n"), "{mail}");
    assert!(mail.contains("Your confirmation code is 918273"), "{mail}");
    assert!(mail.contains("To: jane@example.com\r\n"), "{mail}");
    assert!(
        mail.contains("From: Tessera <no-reply@tessera.test>\r\n"),
        "{mail}"
    );
    assert!(
        mail.contains("Content-Type: text/plain; charset=utf-8\r\n"),
        "{mail}"
    );
    assert!(mail.contains("Date: Tue, 02 Jan 2024 03:04:05"), "{mail}");
    assert!(mail.contains("Message-ID: <"), "{mail}");
    assert!(mails[1].contains("Your code is 564738"), "{}", mails[1]);
    // Nothing went to the outbox.
    assert!(!scratch.outbox().exists());
}

#[tokio::test]
async fn smtp_sends_html_bodies_as_html_and_keeps_subjects_on_one_line() {
    let (port, mails) = smtp_server(Rcpt::Accept).await;
    let scratch = Scratch::new();
    let router = deliverer(DeliveryConfig {
        smtp: Some(smtp_config(port)),
        ..config(&scratch.outbox())
    })
    .unwrap();
    let mut html = message(Channel::Email, "jane", "<p>Your code is <b>918273</b></p>");
    html.subject = Some("Code\r\nBcc: victim@example.com".to_owned());
    router.deliver(&html).await.unwrap();

    let mail = mails.lock().unwrap()[0].clone();
    assert!(
        mail.contains("Content-Type: text/html; charset=utf-8\r\n"),
        "{mail}"
    );
    assert!(mail.contains("<b>918273</b>"), "{mail}");
    assert!(!mail.contains("\r\nBcc:"), "{mail}");
}

#[tokio::test]
async fn smtp_refusal_is_a_delivery_error_without_the_body() {
    let (port, mails) = smtp_server(Rcpt::Reject).await;
    let scratch = Scratch::new();
    let router = deliverer(DeliveryConfig {
        smtp: Some(smtp_config(port)),
        ..config(&scratch.outbox())
    })
    .unwrap();
    let error = router
        .deliver(&message(Channel::Email, "jane", "Your code is 918273"))
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Smtp(_)), "{error}");
    assert!(error.to_string().contains("550"), "{error}");
    assert!(!error.to_string().contains("918273"), "{error}");
    assert!(mails.lock().unwrap().is_empty());
    assert!(!scratch.outbox().exists());
}

#[tokio::test]
async fn smtp_unreachable_server_is_a_delivery_error() {
    // Bind and drop a listener to find a loopback port that nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let scratch = Scratch::new();
    let router = deliverer(DeliveryConfig {
        smtp: Some(smtp_config(port)),
        ..config(&scratch.outbox())
    })
    .unwrap();
    let error = router
        .deliver(&message(Channel::Email, "jane", "Your code is 918273"))
        .await
        .unwrap_err();
    assert!(matches!(error, DeliveryError::Smtp(_)), "{error}");
}

#[tokio::test]
async fn smtp_refuses_an_invalid_recipient_before_connecting() {
    let (port, mails) = smtp_server(Rcpt::Accept).await;
    let scratch = Scratch::new();
    let router = deliverer(DeliveryConfig {
        smtp: Some(smtp_config(port)),
        ..config(&scratch.outbox())
    })
    .unwrap();
    for destination in [
        "no-at-sign",
        "two@@example.com",
        "jane@example.com\r\nBcc: x@y.z",
    ] {
        let mut bad = message(Channel::Email, "jane", "Your code is 918273");
        bad.destination = destination.to_owned();
        let error = router.deliver(&bad).await.unwrap_err();
        assert!(
            matches!(error, DeliveryError::InvalidAddress(_)),
            "{destination:?}: {error}"
        );
    }
    assert!(mails.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// SMS webhook

#[tokio::test]
async fn webhook_round_trip_posts_the_message_as_json() {
    let (url, requests) = webhook_server(axum::http::StatusCode::OK).await;
    let scratch = Scratch::new();
    let router = deliverer(DeliveryConfig {
        sms_webhook: Some(webhook_config(url)),
        ..config(&scratch.outbox())
    })
    .unwrap();
    let mut reset = message(Channel::Sms, "jane", "Your password reset code is 918273");
    reset.purpose = "ForgotPassword".to_owned();
    router.deliver(&reset).await.unwrap();

    let requests = requests.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (headers, body) = &requests[0];
    assert_eq!(
        body,
        &json!({
            "pool_id": "us-east-1_AbCdEfGhI",
            "username": "jane",
            "phone_number": "+15555550123",
            "message": "Your password reset code is 918273",
            "purpose": "ForgotPassword",
        })
    );
    assert_eq!(headers["authorization"], "Bearer s3cret");
    assert_eq!(headers["content-type"], "application/json");
    assert!(!scratch.outbox().exists());
}

#[tokio::test]
async fn webhook_error_status_is_a_delivery_error() {
    for status in [
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        axum::http::StatusCode::UNAUTHORIZED,
        axum::http::StatusCode::FOUND,
    ] {
        let (url, requests) = webhook_server(status).await;
        let scratch = Scratch::new();
        let router = deliverer(DeliveryConfig {
            sms_webhook: Some(webhook_config(url.clone())),
            ..config(&scratch.outbox())
        })
        .unwrap();
        let error = router
            .deliver(&message(Channel::Sms, "jane", "Your code is 918273"))
            .await
            .unwrap_err();
        assert!(matches!(error, DeliveryError::Webhook(_)), "{error}");
        let text = error.to_string();
        assert!(text.contains(&status.as_u16().to_string()), "{text}");
        assert!(!text.contains("918273"), "{text}");
        assert!(!text.contains(&url), "{text}");
        assert_eq!(requests.lock().unwrap().len(), 1);
        assert!(!scratch.outbox().exists());
    }
}

#[tokio::test]
async fn webhook_timeout_and_refused_connection_are_delivery_errors() {
    // A server that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/sms?token=abc", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let refused_url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/sms?token=abc", listener.local_addr().unwrap())
    };

    for url in [silent_url, refused_url] {
        let scratch = Scratch::new();
        let router = deliverer(DeliveryConfig {
            sms_webhook: Some(SmsWebhookConfig {
                timeout_seconds: Some(1),
                ..webhook_config(url)
            }),
            ..config(&scratch.outbox())
        })
        .unwrap();
        let started = std::time::Instant::now();
        let error = router
            .deliver(&message(Channel::Sms, "jane", "Your code is 918273"))
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(error, DeliveryError::Webhook(_)), "{error}");
        assert!(!error.to_string().contains("token=abc"), "{error}");
    }
}

#[tokio::test]
async fn builds_starttls_and_tls_transports_without_connecting() {
    let scratch = Scratch::new();
    for (security, port) in [(SmtpSecurity::Starttls, 587), (SmtpSecurity::Tls, 465)] {
        let router = deliverer(DeliveryConfig {
            smtp: Some(SmtpConfig {
                host: "smtp.example.com".to_owned(),
                security,
                username: Some("apikey".to_owned()),
                password: Some("hunter2".to_owned()),
                timeout_seconds: None,
                ..smtp_config(port)
            }),
            ..config(&scratch.outbox())
        });
        assert!(router.is_ok(), "{security:?}: {:?}", router.err());
    }
}
