//! CORS for browser apps (the Fetch standard's CORS protocol), on the endpoints a single-page
//! app calls with `fetch`: `/token`, `/userinfo` and `/revoke`. Nowhere else: `/authorize` and
//! the sign-in pages are navigated to, never fetched, and RFC 9700 §2.6 keeps them off CORS.
//!
//! "Allowed" means some client registered the origin (`--allowed-origin`): a preflight carries
//! no client, so it can only be checked against the union of every client's origins, which
//! the client cache keeps current within a second. The actual request is not checked again
//! against the authenticating client's own list: CORS only decides whether a page may *read*
//! the answer, and the answer itself is already bound to the client by its authentication
//! (a code is bound to its client and redirect URI, a refresh token to its client, an access
//! token to its holder), so a page on another client's origin gains nothing it could use.
//!
//! Apply it to a route with [`allow`]: `.route("/revoke", cors::allow(&state, post(handler)))`.

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN,
    VARY,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;

use crate::app::AppState;

/// Methods a browser may use on the CORS endpoints (each route answers only its own).
const METHODS: &str = "GET, POST";

/// Request headers a browser app needs: `Authorization` (client credentials, bearer tokens:
/// never covered by a `*` and not CORS-safelisted) and `Content-Type` (safelisted only for the
/// form type; listed so that a preflight asking for it passes).
const HEADERS: &str = "authorization, content-type";

/// Response headers a page may read beyond the safelisted ones: the RFC 6750 §3 challenge.
const EXPOSED: &str = "www-authenticate";

/// How long a browser may cache a preflight answer, in seconds (10 minutes, so an origin
/// removed from every client stops working soon).
const MAX_AGE: &str = "600";

/// Wraps a route's method router with the CORS handling, preflight included (the wrapper sees
/// `OPTIONS` before the route would answer 405).
pub fn allow(state: &AppState, route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.layer(middleware::from_fn_with_state(state.clone(), cors))
}

/// The middleware: answers preflights itself, adds the headers to actual responses.
async fn cors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let origin = request.headers().get(ORIGIN).cloned();
    let allowed = origin
        .as_ref()
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| state.clients.origin_allowed(o));
    let preflight = request.method() == Method::OPTIONS
        && origin.is_some()
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        return preflight_response(origin.filter(|_| allowed));
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // The answer depends on Origin whether or not it was allowed: caches must key on it.
    headers.append(VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = origin.filter(|_| allowed) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
    }
    response
}

/// 204 with the CORS headers for an allowed origin; 403 with none for any other, which the
/// browser reports as a failed preflight without sending the request.
fn preflight_response(allowed_origin: Option<HeaderValue>) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(VARY, HeaderValue::from_static("origin"));
    let Some(origin) = allowed_origin else {
        return (StatusCode::FORBIDDEN, headers).into_response();
    };
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(METHODS),
    );
    headers.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(HEADERS),
    );
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
    (StatusCode::NO_CONTENT, headers).into_response()
}
