//! Just enough HTTP/1.1 to serve one page to scrapers: read a request head
//! (bounded in bytes and time), answer, close. No keep-alive, no bodies, no
//! chunking: Prometheus and curl need none of it, and every byte a client
//! can send is accounted for here.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

/// The largest request head accepted; larger gets 431.
pub const REQUEST_HEAD_BYTES_MAX: usize = 8 * 1024;
/// Time a client has to send its request head; slower gets 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Time a client has to take the response.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// After answering, unread input is drained (at most this much, this long)
/// so that closing does not reset the connection under the response.
const DRAIN_BYTES_MAX: usize = 1024 * 1024;
const DRAIN_TIMEOUT: Duration = Duration::from_millis(200);

/// What the bytes received so far make of a request head.
#[derive(Debug, PartialEq, Eq)]
pub enum Head<'a> {
    Complete {
        method: &'a str,
        path: &'a str,
    },
    Incomplete,
    /// Not HTTP we serve: answer with this status.
    Invalid(u16),
}

/// Parses a request head: `METHOD SP TARGET SP HTTP/1.x CRLF`, header lines
/// `name: value`, an empty line. The path is the target without its query.
pub fn parse_head(buf: &[u8]) -> Head<'_> {
    let end = match find_head_end(buf) {
        Some(end) => end,
        None if buf.len() >= REQUEST_HEAD_BYTES_MAX => return Head::Invalid(431),
        None => {
            // Refuse garbage early instead of waiting for a blank line.
            let first = buf.split(|&b| b == b'\n').next().unwrap_or_default();
            let looks_like_http = first.iter().all(|&b| b == b'\r' || (0x20..0x7f).contains(&b));
            return if looks_like_http { Head::Incomplete } else { Head::Invalid(400) };
        }
    };
    if end > REQUEST_HEAD_BYTES_MAX {
        return Head::Invalid(431);
    }
    let Some(head) = buf.get(..end).and_then(|h| std::str::from_utf8(h).ok()) else {
        return Head::Invalid(400);
    };
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Head::Invalid(400);
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) || !target.starts_with('/') {
        return Head::Invalid(400);
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Head::Invalid(if version.starts_with("HTTP/") { 505 } else { 400 });
    }
    for line in lines.filter(|l| !l.is_empty()) {
        let valid = line.split_once(':').is_some_and(|(name, _)| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b))
        });
        if !valid || line.bytes().any(|b| b < 0x20 && b != b'\t') {
            return Head::Invalid(400);
        }
    }
    let path = target.split('?').next().unwrap_or(target);
    Head::Complete { method, path }
}

/// Index just past the blank line that ends the head, if it has arrived.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

/// A response: status, content type, body.
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn error(status: u16) -> Response {
        Response { status, content_type: "text/plain; charset=utf-8", body: format!("{}\n", reason(status)) }
    }
}

/// Serves one connection: reads the head, asks `route` for the response
/// (with whether the body should be sent: not for HEAD), writes it, closes.
/// I/O errors end the connection quietly; nothing here can panic.
pub fn serve(mut stream: TcpStream, route: impl FnOnce(&str, &str) -> Response) {
    let response = match read_head(&mut stream) {
        Ok((buf, Ok(()))) => match parse_head(&buf) {
            Head::Complete { method, path } => {
                let head_only = method == "HEAD";
                let r = route(method, path);
                Some((r, head_only))
            }
            Head::Invalid(status) => Some((Response::error(status), false)),
            Head::Incomplete => Some((Response::error(400), false)),
        },
        Ok((_, Err(status))) => Some((Response::error(status), false)),
        Err(_) => None,
    };
    if let Some((r, head_only)) = response {
        let _ = write_response(&mut stream, &r, head_only);
    }
    let _ = stream.shutdown(Shutdown::Write);
    drain(&mut stream);
}

/// Reads until the head is complete, invalid, too large or too slow.
/// The inner `Err` is the status to answer with.
fn read_head(stream: &mut TcpStream) -> io::Result<(Vec<u8>, Result<(), u16>)> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        match parse_head(&buf) {
            Head::Incomplete => {}
            _ => return Ok((buf, Ok(()))),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok((buf, Err(408)));
        }
        stream.set_read_timeout(Some(left))?;
        let room = (REQUEST_HEAD_BYTES_MAX + 1).saturating_sub(buf.len()).min(chunk.len());
        let n = match stream.read(chunk.get_mut(..room).unwrap_or_default()) {
            Ok(0) => return Ok((buf, Err(400))),
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Ok((buf, Err(408)))
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

fn write_response(stream: &mut TcpStream, r: &Response, head_only: bool) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
        r.status,
        reason(r.status),
        r.content_type,
        r.body.len()
    );
    if r.status == 405 {
        head.push_str("Allow: GET, HEAD\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if !head_only {
        stream.write_all(r.body.as_bytes())?;
    }
    stream.flush()
}

/// Reads and drops what the client still sends, within bounds.
fn drain(stream: &mut TcpStream) {
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    let mut chunk = [0u8; 8192];
    let mut total = 0;
    while total < DRAIN_BYTES_MAX {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => total += n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads() {
        let get = Head::Complete { method: "GET", path: "/metrics" };
        assert_eq!(parse_head(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), get);
        assert_eq!(parse_head(b"GET /metrics?x=1 HTTP/1.0\n\n"), get);
        assert_eq!(parse_head(b"GET /metrics HTTP/1.1\r\nHost"), Head::Incomplete);
        assert_eq!(parse_head(b""), Head::Incomplete);
        assert_eq!(parse_head(b"\x16\x03\x01\x02\x00\x01"), Head::Invalid(400), "a TLS hello is refused at once");
        assert_eq!(parse_head(b"GET /metrics\r\n\r\n"), Head::Invalid(400));
        assert_eq!(parse_head(b"GET metrics HTTP/1.1\r\n\r\n"), Head::Invalid(400));
        assert_eq!(parse_head(b"get /metrics HTTP/1.1\r\n\r\n"), Head::Invalid(400));
        assert_eq!(parse_head(b"GET /metrics HTTP/2.0\r\n\r\n"), Head::Invalid(505));
        assert_eq!(parse_head(b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n"), Head::Invalid(400));
        assert_eq!(parse_head(b"GET /metrics HTTP/1.1\r\nX: \xff\r\n\r\n"), Head::Invalid(400));
        let mut huge = b"GET /metrics HTTP/1.1\r\n".to_vec();
        huge.resize(REQUEST_HEAD_BYTES_MAX, b'a');
        assert_eq!(parse_head(&huge), Head::Invalid(431));
        let mut late_end = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
        late_end.resize(REQUEST_HEAD_BYTES_MAX + 10, b'a');
        late_end.extend_from_slice(b"\r\n\r\n");
        assert_eq!(parse_head(&late_end), Head::Invalid(431));
    }
}
