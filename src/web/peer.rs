//! The address of the peer a request came from, for code deep inside a handler (client
//! authentication's per-address throttling) without threading it through every signature.
//! A middleware sets it from axum's `ConnectInfo` for the duration of each request, in a
//! task-local: it never comes from a request header, so a client cannot choose it.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    static PEER: SocketAddr;
}

/// Middleware: runs the rest of the request with its peer address known to [`current`].
pub async fn remember(request: Request, next: Next) -> Response {
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => {
            let peer = *peer;
            PEER.scope(peer, next.run(request)).await
        }
        None => next.run(request).await,
    }
}

/// The peer address of the request being handled, when the server was started with it.
pub fn current() -> Option<SocketAddr> {
    PEER.try_with(|p| *p).ok()
}
