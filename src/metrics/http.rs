//! Just enough HTTP/1.1 for a scrape: one request, parsed by `httparse`, one answer, then the
//! connection closes (`Connection: close`, so no keep-alive state). `GET /metrics` is the
//! only request served; any other path is 404 and any other method 405.

/// The request path served.
pub const PATH: &str = "/metrics";
/// Headers a request may carry (a scraper sends a handful); more is a bad request.
const MAX_HEADERS: usize = 32;

/// What the bytes received so far ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The head is not complete yet.
    Incomplete,
    /// `GET /metrics` (a query string is ignored).
    Metrics,
    /// Another path.
    NotFound,
    /// Another method.
    MethodNotAllowed,
    /// Not HTTP/1.x, or too many headers.
    Bad,
}

/// Reads the request head at the start of `bytes`.
pub fn parse(bytes: &[u8]) -> Request {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(bytes) {
        Ok(httparse::Status::Partial) => Request::Incomplete,
        Err(_) => Request::Bad,
        Ok(httparse::Status::Complete(_)) => {
            let path = request.path.unwrap_or_default();
            let path = path.split_once('?').map_or(path, |(p, _)| p);
            match (request.method.unwrap_or_default(), path) {
                ("GET", PATH) => Request::Metrics,
                ("GET", _) => Request::NotFound,
                _ => Request::MethodNotAllowed,
            }
        }
    }
}

/// An answer's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    BadRequest,
    NotFound,
    MethodNotAllowed,
    /// The exposition could not be built.
    Unavailable,
}

impl Status {
    fn line(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::BadRequest => "400 Bad Request",
            Status::NotFound => "404 Not Found",
            Status::MethodNotAllowed => "405 Method Not Allowed",
            Status::Unavailable => "503 Service Unavailable",
        }
    }

    /// The label of the scrape counter.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::BadRequest => "bad_request",
            Status::NotFound => "not_found",
            Status::MethodNotAllowed => "method_not_allowed",
            Status::Unavailable => "unavailable",
        }
    }

    pub const ALL: [Status; 5] = [
        Status::Ok,
        Status::BadRequest,
        Status::NotFound,
        Status::MethodNotAllowed,
        Status::Unavailable,
    ];
}

/// A whole answer: status line, headers, body; the connection closes after it.
pub fn response(status: Status, content_type: &str, body: &str) -> Vec<u8> {
    let allow = match status {
        Status::MethodNotAllowed => "Allow: GET\r\n",
        _ => "",
    };
    let head = format!(
        "HTTP/1.1 {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{allow}Connection: close\r\n\r\n",
        status.line(),
        body.len()
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// A refusal with a one-line plain-text body.
pub fn refusal(status: Status) -> Vec<u8> {
    let body = format!("{}\n", status.line());
    response(status, "text/plain; charset=utf-8", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_metrics_is_served() {
        assert_eq!(
            parse(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Request::Metrics
        );
        assert_eq!(
            parse(b"GET /metrics?x=1 HTTP/1.0\r\n\r\n"),
            Request::Metrics
        );
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n"), Request::NotFound);
        assert_eq!(
            parse(b"POST /metrics HTTP/1.1\r\n\r\n"),
            Request::MethodNotAllowed
        );
        assert_eq!(parse(b"GET /metrics HTTP/1.1\r\nHost"), Request::Incomplete);
        assert_eq!(parse(b"\x16\x03\x01\x00"), Request::Bad);
        let many: String = (0..40).map(|i| format!("X-{i}: y\r\n")).collect();
        let req = format!("GET /metrics HTTP/1.1\r\n{many}\r\n");
        assert_eq!(parse(req.as_bytes()), Request::Bad);
    }

    #[test]
    fn an_answer_says_its_length_and_closes() {
        let r = String::from_utf8(response(Status::Ok, "text/plain", "abc")).unwrap();
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"), "{r}");
        assert!(r.contains("Content-Length: 3\r\n"), "{r}");
        assert!(r.contains("Connection: close\r\n"), "{r}");
        assert!(r.ends_with("\r\n\r\nabc"), "{r}");
        let r = String::from_utf8(refusal(Status::MethodNotAllowed)).unwrap();
        assert!(r.contains("Allow: GET\r\n"), "{r}");
    }
}
