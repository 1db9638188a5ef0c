//! HTTP/1.x on the wire: the request head (parsed by `httparse`, bounded), query strings, and
//! responses written into a client's output buffer.
//!
//! Why so little HTTP: the monitor answers `GET`s from its own page and scripts; every
//! response closes the connection (no keep-alive or pipelining state), no request has a body,
//! and the live stream is Server-Sent Events (a response that stays open). Each limit here is
//! what keeps a hostile or broken client from costing more than a few kilobytes.

use std::io::Write;

/// Largest request head (request line and headers) taken; larger is 431.
pub const MAX_REQUEST: usize = 8 * 1024;
/// Most headers taken; more is 431.
pub const MAX_HEADERS: usize = 32;

/// The parts of a request the monitor uses, borrowed from the read buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path without the query (`/api/instances`).
    pub path: &'a str,
    /// The query without `?` (empty if none).
    pub query: &'a str,
    pub host: Option<&'a [u8]>,
    pub authorization: Option<&'a [u8]>,
    pub cookie: Option<&'a [u8]>,
    /// Where a browser says the request comes from (sent with every cross-site POST).
    pub origin: Option<&'a [u8]>,
    /// It announces a body (`Content-Length` other than 0, or `Transfer-Encoding`).
    pub has_body: bool,
}

/// Why a request head was refused; each maps to one status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    #[error("request head larger than {MAX_REQUEST} bytes or more than {MAX_HEADERS} headers")]
    TooLarge,
    #[error("malformed request: {0}")]
    Malformed(&'static str),
}

impl HttpError {
    pub fn status(self) -> Status {
        match self {
            HttpError::TooLarge => Status::HeadersTooLarge,
            HttpError::Malformed(_) => Status::BadRequest,
        }
    }
}

/// Parses the request head at the start of `buf`. `Ok(None)`: not complete yet (read more).
pub fn parse(buf: &[u8]) -> Result<Option<Request<'_>>, HttpError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() >= MAX_REQUEST => Err(HttpError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(n)) if n > MAX_REQUEST => Err(HttpError::TooLarge),
        Ok(httparse::Status::Complete(_)) => {
            let (Some(method), Some(target)) = (req.method, req.path) else {
                return Err(HttpError::Malformed("no request line"));
            };
            if !target.starts_with('/') {
                return Err(HttpError::Malformed("the target is not a path"));
            }
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            let mut r = Request {
                method,
                path,
                query,
                host: None,
                authorization: None,
                cookie: None,
                origin: None,
                has_body: false,
            };
            for h in req.headers.iter() {
                let name = h.name;
                if name.eq_ignore_ascii_case("host") {
                    r.host = Some(h.value);
                } else if name.eq_ignore_ascii_case("authorization") {
                    r.authorization = Some(h.value);
                } else if name.eq_ignore_ascii_case("cookie") {
                    r.cookie = Some(h.value);
                } else if name.eq_ignore_ascii_case("origin") {
                    r.origin = Some(h.value);
                } else if name.eq_ignore_ascii_case("transfer-encoding")
                    || (name.eq_ignore_ascii_case("content-length") && h.value.trim_ascii() != b"0")
                {
                    r.has_body = true;
                }
            }
            Ok(Some(r))
        }
        Err(httparse::Error::TooManyHeaders) => Err(HttpError::TooLarge),
        Err(e) => Err(HttpError::Malformed(match e {
            httparse::Error::HeaderName => "invalid header name",
            httparse::Error::HeaderValue => "invalid header value",
            httparse::Error::NewLine => "invalid line ending",
            httparse::Error::Status => "invalid status",
            httparse::Error::Token => "invalid method",
            httparse::Error::Version => "not HTTP/1.0 or HTTP/1.1",
            _ => "invalid request",
        })),
    }
}

/// The statuses the monitor sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Timeout,
    PayloadTooLarge,
    HeadersTooLarge,
    Unprocessable,
    Unavailable,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::BadRequest => 400,
            Status::Unauthorized => 401,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::Timeout => 408,
            Status::PayloadTooLarge => 413,
            Status::HeadersTooLarge => 431,
            Status::Unprocessable => 422,
            Status::Unavailable => 503,
        }
    }

    pub fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::BadRequest => "Bad Request",
            Status::Unauthorized => "Unauthorized",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::Timeout => "Request Timeout",
            Status::PayloadTooLarge => "Payload Too Large",
            Status::HeadersTooLarge => "Request Header Fields Too Large",
            Status::Unprocessable => "Unprocessable Content",
            Status::Unavailable => "Service Unavailable",
        }
    }
}

/// Writes a complete response that closes the connection. `headers` are extra lines
/// (`Name: value`, no line ending).
pub fn respond(
    out: &mut Vec<u8>,
    status: Status,
    content_type: &str,
    headers: &[&str],
    body: &[u8],
) {
    head(out, status, content_type, headers, Some(body.len()));
    out.extend_from_slice(body);
}

/// Writes a response head; `len` `None` leaves the length open (an event stream: the body
/// ends when the connection closes).
pub fn head(
    out: &mut Vec<u8>,
    status: Status,
    content_type: &str,
    headers: &[&str],
    len: Option<usize>,
) {
    // Writes into a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\nContent-Type: {content_type}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nConnection: close\r\n",
        status.code(),
        status.reason()
    );
    if let Some(len) = len {
        let _ = write!(out, "Content-Length: {len}\r\n");
    }
    for h in headers {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// A plain-text error response.
pub fn error(out: &mut Vec<u8>, status: Status, headers: &[&str], message: &str) {
    let mut body = Vec::with_capacity(message.len() + 1);
    body.extend_from_slice(message.as_bytes());
    body.push(b'\n');
    respond(out, status, "text/plain; charset=utf-8", headers, &body);
}

/// The first value of query parameter `name`, still percent-encoded.
pub fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// A query parameter as a number, `default` when absent; `None` when present but not a number.
pub fn query_number(query: &str, name: &str, default: usize) -> Option<usize> {
    match query_param(query, name) {
        None => Some(default),
        Some(v) => v.parse().ok(),
    }
}

/// Decodes `%XX` and `+` (a space) of a query value; `None` if that is not UTF-8 or a `%` is
/// not followed by two hex digits.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let hi = (hex[0] as char).to_digit(16)?;
                let lo = (hex[1] as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_complete_get_gives_path_query_and_the_headers_used() {
        let r = parse(
            b"GET /api/events?universe=in&x=1 HTTP/1.1\r\nHost: 127.0.0.1:9090\r\n\
              authorization: Bearer abc\r\nCookie: a=b\r\nContent-Length: 0\r\n\r\nrest",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (r.method, r.path, r.query),
            ("GET", "/api/events", "universe=in&x=1")
        );
        assert_eq!(r.host, Some(&b"127.0.0.1:9090"[..]));
        assert_eq!(r.authorization, Some(&b"Bearer abc"[..]));
        assert_eq!(r.cookie, Some(&b"a=b"[..]));
        assert!(!r.has_body);
        assert_eq!(query_param(r.query, "universe"), Some("in"));
        assert_eq!(query_param(r.query, "y"), None);
    }

    #[test]
    fn partial_oversized_and_malformed_heads() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_REQUEST + 10, b'a');
        assert_eq!(parse(&big), Err(HttpError::TooLarge));
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(parse(&many), Err(HttpError::TooLarge));
        assert!(matches!(
            parse(b"GET / HTTP/2.0\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"GET http://x/ HTTP/1.1\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"G\0T / HTTP/1.1\r\n\r\n"),
            Err(HttpError::Malformed(_))
        ));
        let body = parse(b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello")
            .unwrap()
            .unwrap();
        assert!(body.has_body);
        let chunked = parse(b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(chunked.has_body);
    }

    #[test]
    fn responses_are_complete_and_close() {
        let mut out = Vec::new();
        error(&mut out, Status::NotFound, &["X-A: b"], "no such page");
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.contains("Content-Length: 13\r\n"));
        assert!(text.contains("X-A: b\r\n\r\nno such page\n"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%2e").as_deref(), Some("a b c."));
        assert_eq!(percent_decode("%e2%82%ac").as_deref(), Some("€"));
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None, "not UTF-8");
        assert_eq!(query_number("limit=5", "limit", 9), Some(5));
        assert_eq!(query_number("", "limit", 9), Some(9));
        assert_eq!(query_number("limit=x", "limit", 9), None);
    }

    proptest! {
        /// No input makes the parser panic, and a complete head never exceeds the limit.
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            if let Ok(Some(r)) = parse(&bytes) {
                prop_assert!(r.path.starts_with('/'));
            }
        }
    }
}
