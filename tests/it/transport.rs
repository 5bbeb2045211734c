//! The HTTP/1.1 edge (issue item "bad input the core still gets wrong"): over-limit requests
//! get their answer delivered instead of a connection reset (lingering close), and a request
//! with both Content-Length and Transfer-Encoding is refused and its connection closed
//! (RFC 9112 §6.3). Raw sockets, since HTTP client libraries will not send such requests.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{Db, TestServer};

/// Writes all of `request` (while the server may already have answered), then reads until
/// the server closes the connection; the answer as text.
async fn exchange(server: &TestServer, request: &[u8]) -> String {
    let address = server.issuer.trim_start_matches("http://").to_owned();
    let mut socket = TcpStream::connect(address).await.expect("connect");
    let (mut reader, mut writer) = socket.split();
    let read = async {
        let mut answer = Vec::new();
        reader.read_to_end(&mut answer).await.map(|_| answer)
    };
    let write = async {
        writer.write_all(request).await?;
        writer.flush().await
    };
    let (written, answer) =
        tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(write, read) })
            .await
            .expect("the server answers and closes within 20 s");
    written.expect("the whole request could be sent: no reset while sending");
    String::from_utf8_lossy(&answer.expect("the answer is read: no reset")).into_owned()
}

fn form_post(path: &str, body: &[u8], extra_headers: &str) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: ferriam\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_of_megabytes_gets_its_answer() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let body = vec![b'a'; 5 * 1024 * 1024];
    let answer = exchange(&server, &form_post("/token", &body, "")).await;
    assert_eq!(status_line(&answer), "HTTP/1.1 400 Bad Request");
    assert!(answer.contains("\"error\":\"invalid_request\""), "{answer}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_parameters_get_their_answer() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let params: Vec<String> = (0..50_000).map(|i| format!("p{i}=1")).collect();
    let params = params.join("&");
    let in_body = exchange(&server, &form_post("/token", params.as_bytes(), "")).await;
    assert_eq!(status_line(&in_body), "HTTP/1.1 400 Bad Request");
    assert!(
        in_body.contains("\"error\":\"invalid_request\""),
        "{in_body}"
    );
    let in_query = format!("GET /authorize?{params} HTTP/1.1\r\nHost: ferriam\r\n\r\n");
    let in_query = exchange(&server, in_query.as_bytes()).await;
    assert_eq!(
        status_line(&in_query),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_kib_header_gets_431() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let request = format!(
        "GET /jwks HTTP/1.1\r\nHost: ferriam\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    let answer = exchange(&server, request.as_bytes()).await;
    assert_eq!(
        status_line(&answer),
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_with_transfer_encoding_is_refused_and_closed() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let chunked = "5\r\na=b&c\r\n0\r\n\r\n";
    // A second request pipelined behind the first must not be answered: the connection closes.
    let follower = "GET /jwks HTTP/1.1\r\nHost: ferriam\r\n\r\n";
    for headers in [
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "transfer-encoding: gzip, chunked\r\ncontent-length: 0\r\n",
    ] {
        let request = format!(
            "POST /token HTTP/1.1\r\nHost: ferriam\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             {headers}\r\n{chunked}{follower}"
        );
        let answer = exchange(&server, request.as_bytes()).await;
        assert_eq!(
            status_line(&answer),
            "HTTP/1.1 400 Bad Request",
            "{headers}"
        );
        assert!(
            answer.contains("Content-Length and Transfer-Encoding"),
            "{answer}"
        );
        assert!(answer.to_ascii_lowercase().contains("connection: close"));
        assert_eq!(
            answer.matches("HTTP/1.1 ").count(),
            1,
            "only one answer on the connection: {answer}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_bodies_and_keep_alive_still_work() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    // A chunked token request is read and answered (no client, so invalid_client), and the
    // request after it on the same connection is answered too.
    let request = "POST /token HTTP/1.1\r\nHost: ferriam\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\n\r\n1a\r\ngrant_type=client_credenti\r\n4\r\nals&\r\n0\r\n\r\n\
         GET /jwks HTTP/1.1\r\nHost: ferriam\r\nConnection: close\r\n\r\n";
    let answer = exchange(&server, request.as_bytes()).await;
    assert_eq!(
        status_line(&answer),
        "HTTP/1.1 401 Unauthorized",
        "{answer}"
    );
    assert!(answer.contains("\"error\":\"invalid_client\""), "{answer}");
    assert!(answer.contains("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.contains("\"keys\""), "{answer}");
    server.stop().await;
}
