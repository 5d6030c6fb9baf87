//! An S3-style object store, in memory, that trusts tessera's temporary credentials: every
//! request is checked with [`Verifier`] (service `s3`) and authorized by the role's policies,
//! so that an identity whose role allows `arn:aws:s3:::photos/${cognito-identity.amazonaws.com:sub}/*`
//! reaches its own folder and no other. boto3's S3 client works against it unchanged.
//!
//! ```sh
//! TESSERA_SESSION_KEY=$(tessera credentials session-key) \
//!     cargo run -p tessera-credentials --example object_store -- --listen 127.0.0.1:9000
//! ```
//!
//! Options:
//!   --listen ADDR          a loopback address (default 127.0.0.1:9000; port 0 picks one)
//!   --session-key BASE64   the session key (repeatable: the current key first, then previous
//!                          ones); else TESSERA_SESSION_KEY, comma-separated
//!
//! The first line on stdout is `listening on <address>`. The store stops on SIGTERM, on
//! Ctrl-C, or when its stdin closes, so a test that started it stops it by dropping the pipe.
//!
//! Requests (path style, `http://<address>/<bucket>/<key>`), each with the action and resource
//! the policies are asked about:
//!   PUT    /<bucket>/<key>                     s3:PutObject     arn:aws:s3:::<bucket>/<key>
//!   GET    /<bucket>/<key> (and HEAD)          s3:GetObject     arn:aws:s3:::<bucket>/<key>
//!   DELETE /<bucket>/<key>                     s3:DeleteObject  arn:aws:s3:::<bucket>/<key>
//!   GET    /<bucket>?list-type=2&prefix=P      s3:ListBucket    arn:aws:s3:::<bucket>, s3:prefix = P
//! Buckets exist without being created. Listing returns every matching key in one page and
//! ignores `delimiter`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tessera_credentials::{Caller, Decision, Error, SessionKey, Verifier};

/// Objects larger than this are refused; the store keeps everything in memory.
const MAX_OBJECT_BYTES: usize = 64 * 1024 * 1024;

struct Object {
    body: Bytes,
    content_type: Option<HeaderValue>,
    etag: String,
}

struct Store {
    verifier: Verifier,
    objects: Mutex<BTreeMap<(String, String), Object>>,
    request_ids: AtomicU64,
}

fn app(store: Arc<Store>) -> Router {
    Router::new().fallback(handle).with_state(store)
}

async fn handle(State(store): State<Arc<Store>>, request: Request) -> Response {
    let request_id = format!("{:016X}", store.request_ids.fetch_add(1, Ordering::Relaxed));
    let (parts, body) = request.into_parts();
    let answer = match axum::body::to_bytes(body, MAX_OBJECT_BYTES).await {
        Ok(body) => serve(&store, &parts.method, &parts.uri, &parts.headers, body),
        Err(_) => Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed object size.",
        )),
    };
    // One line per request, naming the outcome but never a token or a secret.
    let outcome = match &answer {
        Ok(response) => response.status().as_str().to_owned(),
        Err(error) => format!("{} {}", error.status.as_str(), error.code),
    };
    eprintln!("{} {} -> {outcome}", parts.method, parts.uri.path());
    let mut response = match answer {
        Ok(response) => response,
        Err(error) => error.into_response(&parts.method, &request_id),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amz-request-id", value);
    }
    response
}

fn serve(
    store: &Store,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, S3Error> {
    let path = uri.path();
    let query = uri.query().unwrap_or("");
    let signed = tessera_credentials::Request {
        method: method.as_str(),
        path,
        query,
        headers,
        body: &body,
    };
    let caller = store
        .verifier
        .check(&signed, "s3", SystemTime::now())
        .map_err(|error| S3Error::from(&error))?;

    let (bucket, key) = match path.trim_start_matches('/').split_once('/') {
        Some((bucket, key)) if !key.is_empty() => {
            (percent_decode(bucket), Some(percent_decode(key)))
        }
        Some((bucket, _)) => (percent_decode(bucket), None),
        None => (percent_decode(path.trim_start_matches('/')), None),
    };
    if bucket.is_empty() {
        return Err(S3Error::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        ));
    }
    let Some(key) = key else {
        let params = query_params(query);
        if method == Method::GET && params.get("list-type").map(String::as_str) == Some("2") {
            return list(store, &caller, &bucket, &params);
        }
        return Err(S3Error::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "A header you provided implies functionality that is not implemented.",
        ));
    };
    let resource = format!("arn:aws:s3:::{bucket}/{key}");
    let authorize = |action: &str| -> Result<(), S3Error> {
        match caller.authorize(action, &resource, &BTreeMap::new()) {
            Decision::Allow => Ok(()),
            Decision::ExplicitDeny | Decision::ImplicitDeny => {
                Err(S3Error::from(&Error::AccessDenied))
            }
        }
    };
    let mut objects = store.objects.lock().unwrap_or_else(|e| e.into_inner());
    let id = (bucket, key);
    match *method {
        Method::PUT => {
            authorize("s3:PutObject")?;
            let body = if is_aws_chunked(headers) {
                decode_aws_chunked(&body).map(Bytes::from).ok_or_else(|| {
                    S3Error::new(
                        StatusCode::BAD_REQUEST,
                        "IncompleteBody",
                        "The request body is not valid aws-chunked encoding.",
                    )
                })?
            } else {
                body
            };
            let etag = etag(&body);
            let object = Object {
                body,
                content_type: headers.get(header::CONTENT_TYPE).cloned(),
                etag: etag.clone(),
            };
            objects.insert(id, object);
            Ok((StatusCode::OK, [(header::ETAG, etag)]).into_response())
        }
        Method::GET | Method::HEAD => {
            authorize("s3:GetObject")?;
            let Some(object) = objects.get(&id) else {
                return Err(S3Error::new(
                    StatusCode::NOT_FOUND,
                    "NoSuchKey",
                    "The specified key does not exist.",
                ));
            };
            let mut response = if *method == Method::HEAD {
                let mut response = StatusCode::OK.into_response();
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(object.body.len()));
                response
            } else {
                object.body.clone().into_response()
            };
            let headers = response.headers_mut();
            if let Ok(etag) = HeaderValue::from_str(&object.etag) {
                headers.insert(header::ETAG, etag);
            }
            headers.insert(
                header::CONTENT_TYPE,
                object
                    .content_type
                    .clone()
                    .unwrap_or(HeaderValue::from_static("binary/octet-stream")),
            );
            Ok(response)
        }
        Method::DELETE => {
            authorize("s3:DeleteObject")?;
            objects.remove(&id);
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(S3Error::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )),
    }
}

/// ListObjectsV2: every key under the prefix, in one page.
fn list(
    store: &Store,
    caller: &Caller,
    bucket: &str,
    params: &BTreeMap<String, String>,
) -> Result<Response, S3Error> {
    let prefix = params.get("prefix").cloned();
    // S3 sets `s3:prefix` only when the request names a prefix, so a policy that requires
    // one refuses a listing of the whole bucket.
    let mut keys = BTreeMap::new();
    if let Some(prefix) = &prefix {
        keys.insert("s3:prefix".to_owned(), vec![prefix.clone()]);
    }
    if !caller
        .authorize("s3:ListBucket", &format!("arn:aws:s3:::{bucket}"), &keys)
        .is_allowed()
    {
        return Err(S3Error::from(&Error::AccessDenied));
    }
    let prefix = prefix.unwrap_or_default();
    // botocore asks for `encoding-type=url` and decodes every key it gets back.
    let url_encoded = params.get("encoding-type").map(String::as_str) == Some("url");
    let shown = |text: &str| {
        if url_encoded {
            xml_escape(&percent_encode(text))
        } else {
            xml_escape(text)
        }
    };
    let objects = store.objects.lock().unwrap_or_else(|e| e.into_inner());
    let mut contents = String::new();
    let mut count = 0;
    for ((_, key), object) in objects
        .range((bucket.to_owned(), prefix.clone())..)
        .take_while(|((b, key), _)| b == bucket && key.starts_with(&prefix))
    {
        count += 1;
        contents.push_str(&format!(
            "<Contents><Key>{}</Key><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            shown(key),
            xml_escape(&object.etag),
            object.body.len()
        ));
    }
    let encoding = if url_encoded {
        "<EncodingType>url</EncodingType>"
    } else {
        ""
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>{}</Name><Prefix>{}</Prefix><KeyCount>{count}</KeyCount><MaxKeys>1000</MaxKeys>{encoding}<IsTruncated>false</IsTruncated>{contents}</ListBucketResult>",
        xml_escape(bucket),
        shown(&prefix),
    );
    Ok(([(header::CONTENT_TYPE, "application/xml")], xml).into_response())
}

/// An S3 error response.
struct S3Error {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl S3Error {
    fn new(status: StatusCode, code: &'static str, message: &str) -> S3Error {
        S3Error {
            status,
            code,
            message: message.to_owned(),
        }
    }

    fn into_response(self, method: &Method, request_id: &str) -> Response {
        // A HEAD response has no body; SDKs read the code from the status alone.
        if *method == Method::HEAD {
            return self.status.into_response();
        }
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{request_id}</RequestId></Error>",
            self.code,
            xml_escape(&self.message)
        );
        (
            self.status,
            [(header::CONTENT_TYPE, "application/xml")],
            xml,
        )
            .into_response()
    }
}

impl From<&Error> for S3Error {
    fn from(error: &Error) -> S3Error {
        S3Error {
            status: error.http_status(),
            code: error.aws_code(),
            message: error.to_string(),
        }
    }
}

/// An ETag in S3's quoted form. S3's is the MD5 of the body, which nothing checks for a
/// single-part upload; a SHA-256 prefix serves as well without another hash.
fn etag(body: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("\"{hex}\"")
}

fn is_aws_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| coding.trim().eq_ignore_ascii_case("aws-chunked"))
}

/// Decodes the `aws-chunked` body SDKs send over TLS (`<hex size>\r\n<data>\r\n` ... `0\r\n`,
/// then trailers). The trailing checksum is not verified: the example stores what it is sent.
fn decode_aws_chunked(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(rest.len());
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(line.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        let chunk = rest.get(..size)?;
        if rest.get(size..size + 2)? != b"\r\n" {
            return None;
        }
        out.extend_from_slice(chunk);
        rest = &rest[size + 2..];
    }
}

fn query_params(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

/// Decodes `%XY` escapes (a `+` stays a plus, as in SigV4); invalid UTF-8 is replaced.
fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| raw.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Encodes every byte but the unreserved ones and `/`, which is what botocore's decoding of
/// `encoding-type=url` listings (`unquote_plus`) reads back exactly.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

struct Options {
    listen: SocketAddr,
    keys: Vec<SessionKey>,
}

fn options() -> Result<Options, String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 9000).into();
    let mut keys = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--listen" => {
                listen = value("--listen")?
                    .parse()
                    .map_err(|e| format!("--listen: {e}"))?;
            }
            "--session-key" => keys.push(
                SessionKey::from_base64(&value("--session-key")?)
                    .map_err(|e| format!("--session-key: {e}"))?,
            ),
            "--help" | "-h" => {
                return Err("usage: object_store [--listen 127.0.0.1:9000] [--session-key BASE64]... (or TESSERA_SESSION_KEY)".into())
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if keys.is_empty() {
        let from_env = std::env::var("TESSERA_SESSION_KEY")
            .map_err(|_| "give --session-key or set TESSERA_SESSION_KEY".to_owned())?;
        for key in from_env.split(',').filter(|k| !k.trim().is_empty()) {
            keys.push(
                SessionKey::from_base64(key).map_err(|e| format!("TESSERA_SESSION_KEY: {e}"))?,
            );
        }
    }
    // The example trusts anyone who can reach it with valid credentials, and keeps what they
    // send in memory: it is for a developer's machine, not a network.
    if !listen.ip().is_loopback() {
        return Err(format!(
            "--listen {listen}: the example serves the loopback interface only"
        ));
    }
    if keys.is_empty() {
        return Err("no session key given".into());
    }
    Ok(Options { listen, keys })
}

/// Resolves when the process should stop: SIGTERM, Ctrl-C, or the end of stdin.
async fn stop_signal() {
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel::<()>();
    // Reading stdin blocks, so it has a thread of its own; reaching its end is the signal.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        let _ = closed_tx.send(());
    });
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = closed_rx => {}
        _ = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("object_store: {message}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("object_store: cannot listen on {}: {error}", options.listen);
            return ExitCode::FAILURE;
        }
    };
    let address = listener.local_addr().unwrap_or(options.listen);
    // The first line a test reads to learn the port.
    println!("listening on {address}");
    let store = Arc::new(Store {
        verifier: Verifier::new(options.keys),
        objects: Mutex::new(BTreeMap::new()),
        request_ids: AtomicU64::new(1),
    });
    let server = axum::serve(listener, app(store)).with_graceful_shutdown(stop_signal());
    match server.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("object_store: {error}");
            ExitCode::FAILURE
        }
    }
}
