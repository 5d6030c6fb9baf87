//! `tessera health`: one plain HTTP GET of a server's `/health`, for a container's health
//! check (distroless images have no curl); exit status 0 on 200, 1 otherwise.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::time::{Duration, Instant};

use anyhow::Context;

/// The whole check (resolve, connect, send, read the status line) gets this long.
const TIMEOUT: Duration = Duration::from_secs(3);

/// The URL checked when none is given: `/health` of the address `tessera serve` listens on
/// (`TESSERA_LISTEN`, or its default), reached on loopback when it listens on every address.
pub fn default_url(listen: Option<&str>) -> String {
    let listen = listen.unwrap_or("127.0.0.1:9229");
    let host = match listen.parse::<SocketAddr>() {
        Ok(SocketAddr::V4(addr)) if addr.ip().is_unspecified() => {
            format!("127.0.0.1:{}", addr.port())
        }
        Ok(SocketAddr::V6(addr)) if addr.ip().is_unspecified() => {
            format!("[::1]:{}", addr.port())
        }
        _ => listen.to_owned(),
    };
    format!("http://{host}/health")
}

/// GETs `url` (`http://host[:port][/path]`) and succeeds only on status 200.
pub fn check(url: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + TIMEOUT;
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("{url}: only http:// URLs are checked"))?;
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    anyhow::ensure!(!authority.is_empty(), "{url}: no host");
    let target = if authority
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
    {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let addresses: Vec<SocketAddr> = target
        .to_socket_addrs()
        .with_context(|| format!("resolving {authority}"))?
        .collect();
    let mut stream = None;
    let mut last_error = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, remaining(deadline)?) {
            Ok(connected) => {
                stream = Some(connected);
                break;
            }
            Err(error) => last_error = Some(error),
        }
    }
    let mut stream = match (stream, last_error) {
        (Some(stream), _) => stream,
        (None, Some(error)) => {
            return Err(error).with_context(|| format!("connecting to {authority}"))
        }
        (None, None) => anyhow::bail!("{authority} has no address"),
    };
    stream.set_write_timeout(Some(remaining(deadline)?))?;
    // Formatted first and sent with one write: `write!` on an unbuffered stream sends each
    // piece of the format as its own segment.
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: tessera-health\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("sending the request to {authority}"))?;
    // Only the status line is read: `HTTP/1.1 200 OK`.
    let mut head = Vec::new();
    let mut buffer = [0u8; 512];
    while !head.contains(&b'\n') && head.len() < 4096 {
        stream.set_read_timeout(Some(remaining(deadline)?))?;
        let read = stream
            .read(&mut buffer)
            .with_context(|| format!("reading the answer of {authority}"))?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let line = String::from_utf8_lossy(&head);
    let line = line.lines().next().unwrap_or("").trim();
    let status = line.split_whitespace().nth(1);
    anyhow::ensure!(
        line.starts_with("HTTP/") && status == Some("200"),
        "{url} answered {:?}",
        line
    );
    Ok(())
}

fn remaining(deadline: Instant) -> anyhow::Result<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    anyhow::ensure!(!left.is_zero(), "no answer within {TIMEOUT:?}");
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::{check, default_url};
    use std::io::{Read as _, Write as _};
    use std::net::TcpListener;

    /// A one-request server answering `answer`; returns its base URL.
    fn answering(answer: &'static str) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            // A request may arrive in several segments; read up to its blank line.
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                let read = stream.read(&mut buffer).unwrap();
                assert!(read > 0, "the request ended early: {request:?}");
                request.extend_from_slice(&buffer[..read]);
            }
            assert!(request.starts_with(b"GET /health HTTP/1.1\r\n"));
            stream.write_all(answer.as_bytes()).unwrap();
        });
        url
    }

    #[test]
    fn only_200_is_healthy() {
        let ok = answering("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        check(&format!("{ok}/health")).unwrap();
        let unavailable = answering("HTTP/1.1 503 Service Unavailable\r\n\r\n");
        let error = check(&format!("{unavailable}/health")).unwrap_err();
        assert!(error.to_string().contains("503"), "{error}");
        let garbage = answering("SSH-2.0-OpenSSH\r\n");
        assert!(check(&format!("{garbage}/health")).is_err());
    }

    #[test]
    fn nothing_listening_is_unhealthy() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/health", closed.local_addr().unwrap());
        drop(closed);
        assert!(check(&url).is_err());
        assert!(check("https://127.0.0.1:9229/health").is_err());
    }

    #[test]
    fn the_default_url_follows_the_listen_address() {
        assert_eq!(default_url(None), "http://127.0.0.1:9229/health");
        assert_eq!(
            default_url(Some("0.0.0.0:8080")),
            "http://127.0.0.1:8080/health"
        );
        assert_eq!(default_url(Some("[::]:9229")), "http://[::1]:9229/health");
        assert_eq!(
            default_url(Some("10.0.0.5:9229")),
            "http://10.0.0.5:9229/health"
        );
        assert_eq!(
            default_url(Some("localhost:9229")),
            "http://localhost:9229/health"
        );
    }
}
