//! The HTTP/1.1 listener in front of the router.
//!
//! `axum::serve` would do for the happy path, but two things an identity server's edge needs are
//! out of its reach:
//! - **Answers to over-limit requests must arrive.** When a request is refused before its body
//!   is read (a body of megabytes, a head over the limit), closing the socket while the client
//!   is still sending makes the kernel answer with a reset, and the client sees "connection
//!   reset" instead of the 400/413/414/431. After hyper is done with a connection, Ferriam
//!   closes its sending side and reads and discards what is still coming, up to a bound in
//!   bytes and time, before it closes (a lingering close, as nginx does).
//! - **Content-Length with Transfer-Encoding is refused** with 400 and the connection closed
//!   (RFC 9112 §6.3, request smuggling); see [`framing`] for why the raw bytes are watched.

mod framing;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use framing::{FramingScanner, HeadFacts};

/// The largest request head (request line and headers) accepted; a longer one gets 431, a
/// longer request line 414 (hyper's answers).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How long a client has to send a request head once it starts one.
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
/// A lingering close discards at most this much of what the client still sends ...
const LINGER_MAX_BYTES: usize = 64 * 1024 * 1024;
/// ... for at most this long in all ...
const LINGER_MAX_TIME: Duration = Duration::from_secs(5);
/// ... and stops when the client has sent nothing for this long.
const LINGER_IDLE: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown` resolves, then finishes the requests in
/// flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        if let Err(e) = spawn_connection(&graceful, stream, peer, router.clone()) {
            tracing::debug!(error = %e, "connection dropped at accept");
        }
    }
    graceful.shutdown().await;
}

/// Serves one connection on a task of its own, then closes it lingering.
fn spawn_connection(
    graceful: &GracefulShutdown,
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
) -> io::Result<()> {
    // A second handle on the socket outlives hyper's, so the close can linger after hyper is
    // done (closing one handle of a shared socket neither resets nor closes it).
    let std_stream = stream.into_std()?;
    let lingering = std_stream.try_clone()?;
    let stream = TcpStream::from_std(std_stream)?;
    let heads = Arc::new(Mutex::new(VecDeque::new()));
    let io = Scanned {
        inner: stream,
        scanner: FramingScanner::default(),
        heads: heads.clone(),
    };
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let router = router.clone();
        let facts = heads.lock().ok().and_then(|mut q| q.pop_front());
        async move {
            if facts.is_some_and(|f| f.length_and_encoding) {
                return Ok::<_, Infallible>(smuggling_refused());
            }
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            router.oneshot(request).await
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .max_buf_size(MAX_HEAD_BYTES)
        .serve_connection(TokioIo::new(io), service);
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "connection ended with an error");
        }
        linger(lingering).await;
    });
    Ok(())
}

/// 400 and `Connection: close` for a request with both Content-Length and Transfer-Encoding.
fn smuggling_refused() -> Response {
    let mut response = (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({
            "error": "invalid_request",
            "error_description": "a request must not carry both Content-Length and Transfer-Encoding",
        })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Closes the sending side, then reads and discards what the client still sends, within the
/// bounds, so that the answer already sent is not destroyed by a reset.
async fn linger(socket: std::net::TcpStream) {
    let Ok(mut socket) = TcpStream::from_std(socket) else {
        return;
    };
    let _ = socket.shutdown().await;
    let deadline = tokio::time::Instant::now() + LINGER_MAX_TIME;
    let mut buffer = vec![0u8; 16 * 1024];
    let mut discarded = 0;
    while discarded < LINGER_MAX_BYTES {
        let idle = tokio::time::Instant::now() + LINGER_IDLE;
        match tokio::time::timeout_at(idle.min(deadline), socket.read(&mut buffer)).await {
            Ok(Ok(n)) if n > 0 => discarded += n,
            _ => break,
        }
    }
}

/// The connection as hyper reads it, with every byte read shown to the framing scanner.
struct Scanned {
    inner: TcpStream,
    scanner: FramingScanner,
    heads: Arc<Mutex<VecDeque<HeadFacts>>>,
}

impl AsyncRead for Scanned {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = poll {
            let heads = &this.heads;
            this.scanner.feed(&buf.filled()[before..], &mut |facts| {
                if let Ok(mut queue) = heads.lock() {
                    queue.push_back(facts);
                }
            });
        }
        poll
    }
}

impl AsyncWrite for Scanned {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
