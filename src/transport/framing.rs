//! Follows the framing of the HTTP/1.1 requests on one connection, byte for byte as they are
//! read, to report which request heads carry both `Content-Length` and `Transfer-Encoding`.
//!
//! hyper handles such a request by the Transfer-Encoding alone and drops the Content-Length
//! before the application sees the headers, as RFC 9112 §6.3 allows. The same section lets a
//! server reject the request instead, and Ferriam does (the request-smuggling lesson): the
//! application cannot see the removed header, so this scanner watches the raw bytes. It
//! needs each message's body length to find the next head, so it follows Content-Length and
//! chunked framing (RFC 9112 §6.3, §7.1). On input it cannot frame it stops reporting: hyper
//! refuses such a stream and closes the connection itself.

/// The longest head or chunk line the scanner follows; hyper refuses longer heads anyway.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// What the scanner learned of one request head, in the order the requests arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadFacts {
    /// Both `Content-Length` and `Transfer-Encoding` were present.
    pub length_and_encoding: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a request head up to its empty line.
    Head,
    /// This many body bytes remain.
    Body(u64),
    /// Collecting a chunk-size line.
    ChunkSize,
    /// This many bytes of chunk data remain, then the line ending after them.
    ChunkData(u64),
    /// The line ending after chunk data.
    ChunkEnd,
    /// Trailer lines after the last chunk, up to an empty line.
    Trailers,
    /// The framing could not be followed; nothing more is reported.
    Lost,
}

/// The scanner of one connection's incoming bytes.
#[derive(Debug)]
pub struct FramingScanner {
    state: State,
    pending: Vec<u8>,
}

impl Default for FramingScanner {
    fn default() -> Self {
        Self {
            state: State::Head,
            pending: Vec::new(),
        }
    }
}

impl FramingScanner {
    /// Feeds the next bytes read from the connection; `report` is called once per request head.
    pub fn feed(&mut self, mut input: &[u8], report: &mut impl FnMut(HeadFacts)) {
        while !input.is_empty() {
            input = match self.state {
                State::Lost => return,
                State::Head => self.head(input, report),
                State::Body(remaining) => {
                    let n = remaining.min(input.len() as u64);
                    self.state = match remaining - n {
                        0 => State::Head,
                        left => State::Body(left),
                    };
                    &input[n as usize..]
                }
                State::ChunkSize => match self.line(input) {
                    Some((line, rest)) => {
                        self.state = match chunk_size(&line) {
                            Some(0) => State::Trailers,
                            Some(size) => State::ChunkData(size),
                            None => State::Lost,
                        };
                        rest
                    }
                    None => &[],
                },
                State::ChunkData(remaining) => {
                    let n = remaining.min(input.len() as u64);
                    self.state = match remaining - n {
                        0 => State::ChunkEnd,
                        left => State::ChunkData(left),
                    };
                    &input[n as usize..]
                }
                State::ChunkEnd => match self.line(input) {
                    Some((line, rest)) => {
                        self.state = if line.is_empty() {
                            State::ChunkSize
                        } else {
                            State::Lost
                        };
                        rest
                    }
                    None => &[],
                },
                State::Trailers => match self.line(input) {
                    Some((line, rest)) => {
                        if line.is_empty() {
                            self.state = State::Head;
                        }
                        rest
                    }
                    None => &[],
                },
            };
        }
    }

    /// Collects a head; at its end, reports it and moves on to its body.
    fn head<'a>(&mut self, input: &'a [u8], report: &mut impl FnMut(HeadFacts)) -> &'a [u8] {
        // RFC 9112 §2.2: empty lines before a request line are ignored.
        let input = if self.pending.is_empty() {
            let skip = input
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            &input[skip..]
        } else {
            input
        };
        if input.is_empty() {
            return input;
        }
        let start = self.pending.len();
        self.pending.extend_from_slice(input);
        let Some(end) = head_end(&self.pending, start.saturating_sub(3)) else {
            if self.pending.len() > MAX_LINE_BYTES {
                self.lost();
            }
            return &[];
        };
        let consumed = end - start;
        let facts = parse_head(&self.pending[..end]);
        self.pending.clear();
        match facts {
            Some((facts, next)) => {
                report(facts);
                self.state = next;
            }
            None => self.lost(),
        }
        &input[consumed..]
    }

    /// Takes one line (without its CRLF or LF) once it is complete.
    fn line<'a>(&mut self, input: &'a [u8]) -> Option<(Vec<u8>, &'a [u8])> {
        match input.iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.pending.extend_from_slice(&input[..i]);
                let mut line = std::mem::take(&mut self.pending);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Some((line, &input[i + 1..]))
            }
            None => {
                self.pending.extend_from_slice(input);
                if self.pending.len() > MAX_LINE_BYTES {
                    self.lost();
                }
                None
            }
        }
    }

    fn lost(&mut self) {
        self.state = State::Lost;
        self.pending = Vec::new();
    }
}

/// The index just past the empty line that ends a head, searching from `from`.
fn head_end(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len()).find_map(|i| {
        if bytes[i..].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if bytes[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        }
    })
}

/// What a complete head says, and how its body is framed.
fn parse_head(head: &[u8]) -> Option<(HeadFacts, State)> {
    let mut headers = [httparse::EMPTY_HEADER; 128];
    let mut request = httparse::Request::new(&mut headers);
    if !matches!(request.parse(head), Ok(httparse::Status::Complete(_))) {
        return None;
    }
    let mut length = None;
    let mut encoding: Option<&[u8]> = None;
    for h in request.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            length = Some(
                std::str::from_utf8(h.value)
                    .ok()?
                    .trim()
                    .parse::<u64>()
                    .ok()?,
            );
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            encoding = Some(h.value);
        }
    }
    let facts = HeadFacts {
        length_and_encoding: length.is_some() && encoding.is_some(),
    };
    let next = match (encoding, length) {
        (Some(codings), _) if last_coding_is_chunked(codings) => State::ChunkSize,
        // RFC 9112 §6.3: a request whose final coding is not chunked cannot be framed.
        (Some(_), _) => State::Lost,
        (None, Some(0)) | (None, None) => State::Head,
        (None, Some(n)) => State::Body(n),
    };
    Some((facts, next))
}

fn last_coding_is_chunked(codings: &[u8]) -> bool {
    codings
        .rsplit(|&b| b == b',')
        .next()
        .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// The size of a chunk-size line (hex digits, then optional extensions after `;`).
fn chunk_size(line: &[u8]) -> Option<u64> {
    let digits = line.split(|&b| b == b';').next()?.trim_ascii();
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(chunks: &[&[u8]]) -> Vec<bool> {
        let mut scanner = FramingScanner::default();
        let mut seen = Vec::new();
        for c in chunks {
            scanner.feed(c, &mut |f| seen.push(f.length_and_encoding));
        }
        seen
    }

    #[test]
    fn plain_requests_are_reported_in_order() {
        let two = b"POST /token HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\na=b&cGET /jwks HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(scan(&[two]), [false, false]);
        // The same bytes one at a time.
        let bytes: Vec<&[u8]> = two.chunks(1).collect();
        assert_eq!(scan(&bytes), [false, false]);
    }

    #[test]
    fn length_with_encoding_is_flagged_in_either_order() {
        let cl_first = b"POST /token HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let te_first = b"POST /token HTTP/1.1\r\ntransfer-encoding: chunked\r\ncontent-length: 4\r\n\r\n0\r\n\r\n";
        assert_eq!(scan(&[cl_first]), [true]);
        assert_eq!(scan(&[te_first]), [true]);
    }

    #[test]
    fn chunked_bodies_are_followed_to_the_next_head() {
        // A chunk whose data looks like a smuggled head must not be read as one.
        let body = b"POST /token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
            2d;ext=1\r\nGET /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-\r\n\
            0\r\nTrailer: x\r\n\r\n\
            GET /jwks HTTP/1.1\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(scan(&[body]), [false, true]);
        let bytes: Vec<&[u8]> = body.chunks(3).collect();
        assert_eq!(scan(&bytes), [false, true]);
    }

    #[test]
    fn unframeable_input_stops_the_reports() {
        assert_eq!(
            scan(&[b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nGET / HTTP/1.1\r\n\r\n"]),
            [false]
        );
        assert_eq!(
            scan(&[b"\x00\x01 garbage\r\n\r\nGET / HTTP/1.1\r\n\r\n"]),
            Vec::<bool>::new()
        );
        assert_eq!(
            scan(&[b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]),
            [false]
        );
    }

    #[test]
    fn leading_empty_lines_are_skipped() {
        assert_eq!(scan(&[b"\r\n\r\nGET / HTTP/1.1\r\n\r\n"]), [false]);
    }
}
