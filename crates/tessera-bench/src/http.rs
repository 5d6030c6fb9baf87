//! A minimal HTTP/1.1 keep-alive client, one request in flight per connection.
//!
//! The load generator shares the machine with the server, so every cycle it spends is taken
//! from tessera. Requests are serialised once, ahead of the run; sending one is a single
//! `write`, and the response is parsed in place (httparse) from a buffer that is reused for the
//! life of the connection. Nothing is allocated per request on the hot paths.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Initial size of the receive buffer; JSON answers and the JWKS fit comfortably.
const BUFFER: usize = 16 * 1024;

/// Responses with more header lines than this are refused as malformed.
const MAX_HEADERS: usize = 32;

/// The head of a response, as far as this client needs it.
struct Head {
    status: u16,
    len: usize,
    content_length: Option<usize>,
    chunked: bool,
    close: bool,
}

/// One keep-alive connection. It (re)connects lazily, so a failed exchange just drops the
/// socket and the next [`Conn::send`] opens a new one.
pub struct Conn {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    body: Range<usize>,
    /// The decoded body of a chunked response (rare: tessera sends Content-Length).
    unchunked: Option<Vec<u8>>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            stream: None,
            buf: Vec::with_capacity(BUFFER),
            body: 0..0,
            unchunked: None,
        }
    }

    /// Sends one complete, serialised request and reads the whole response. Returns the status;
    /// the body is then available from [`Conn::body`].
    pub async fn send(&mut self, request: &[u8]) -> io::Result<u16> {
        let result = self.exchange(request).await;
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    /// The body of the last response.
    pub fn body(&self) -> &[u8] {
        match &self.unchunked {
            Some(body) => body,
            None => self.buf.get(self.body.clone()).unwrap_or_default(),
        }
    }

    async fn exchange(&mut self, request: &[u8]) -> io::Result<u16> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(io::Error::other("not connected"));
        };
        self.buf.clear();
        self.body = 0..0;
        self.unchunked = None;
        stream.write_all(request).await?;

        let head = loop {
            if let Some(head) = parse_head(&self.buf)? {
                break head;
            }
            read_more(stream, &mut self.buf).await?;
        };

        if let Some(length) = head.content_length {
            let end = head.len + length;
            while self.buf.len() < end {
                read_more(stream, &mut self.buf).await?;
            }
            self.body = head.len..end;
        } else if head.chunked {
            loop {
                if let Some(body) = decode_chunked(self.buf.get(head.len..).unwrap_or_default())? {
                    self.unchunked = Some(body);
                    break;
                }
                read_more(stream, &mut self.buf).await?;
            }
        } else if matches!(head.status, 100..=199 | 204 | 304) {
            self.body = head.len..head.len;
        } else {
            // No framing: the body runs to the end of the connection.
            loop {
                self.buf.reserve(BUFFER);
                if stream.read_buf(&mut self.buf).await? == 0 {
                    break;
                }
            }
            self.body = head.len..self.buf.len();
            self.stream = None;
        }
        if head.close {
            self.stream = None;
        }
        Ok(head.status)
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.reserve(BUFFER);
    if stream.read_buf(buf).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed mid-response",
        ));
    }
    Ok(())
}

/// Parses the status line and headers if they are complete.
fn parse_head(buf: &[u8]) -> io::Result<Option<Head>> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(io::Error::new(io::ErrorKind::InvalidData, error)),
    };
    let mut head = Head {
        status: response.code.unwrap_or(0),
        len,
        content_length: None,
        chunked: false,
        close: response.version == Some(0),
    };
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let length = std::str::from_utf8(header.value)
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad Content-Length"))?;
            head.content_length = Some(length);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = header
                .value
                .split(|&b| b == b',')
                .any(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if header.name.eq_ignore_ascii_case("connection") {
            head.close = header.value.trim_ascii().eq_ignore_ascii_case(b"close");
        }
    }
    if head.chunked {
        head.content_length = None;
    }
    Ok(Some(head))
}

/// Decodes a complete chunked body, or returns `None` when more bytes are needed.
fn decode_chunked(mut data: &[u8]) -> io::Result<Option<Vec<u8>>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad chunked encoding");
    let mut body = Vec::new();
    loop {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = data.get(..line_end).ok_or_else(bad)?;
        let size_text = line.split(|&b| b == b';').next().unwrap_or_default();
        let size_text = std::str::from_utf8(size_text).map_err(|_| bad())?;
        let size = usize::from_str_radix(size_text.trim(), 16).map_err(|_| bad())?;
        data = data.get(line_end + 2..).ok_or_else(bad)?;
        if size == 0 {
            // Trailers, then the final empty line.
            loop {
                let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
                    return Ok(None);
                };
                if end == 0 {
                    return Ok(Some(body));
                }
                data = data.get(end + 2..).ok_or_else(bad)?;
            }
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(data.get(..size).ok_or_else(bad)?);
        data = data.get(size + 2..).ok_or_else(bad)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_content_length_head() {
        let response = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
        let head = parse_head(response).ok().flatten();
        let head = head.as_ref();
        assert_eq!(head.map(|h| h.status), Some(200));
        assert_eq!(head.and_then(|h| h.content_length), Some(5));
        assert_eq!(head.map(|h| h.close), Some(false));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\ncontent-le")
            .ok()
            .flatten()
            .is_none());
    }

    #[test]
    fn decodes_chunked_bodies() {
        let body = b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\n";
        assert_eq!(
            decode_chunked(body).ok().flatten().as_deref(),
            Some(&b"hello world"[..])
        );
        assert!(decode_chunked(b"5\r\nhel").ok().flatten().is_none());
        assert!(decode_chunked(b"zz\r\n").is_err());
    }
}
