//! `/.well-known/openid-configuration`, `/.well-known/oauth-authorization-server` and `/jwks`.
//! Public documents: CORS is allowed (RFC 9700 §2.6 permits it for metadata and keys).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferriam_protocol::client::SigningAlg;
use ferriam_protocol::discovery;

use crate::app::AppState;

pub async fn metadata(State(state): State<AppState>) -> Response {
    // Every algorithm Ferriam signs with can be registered as a client's ID-token algorithm;
    // its key is created on first use, so the list does not depend on which keys exist yet.
    // The acr values are those the configured rules can satisfy (Discovery §3).
    let acr_values = discovery::acr_values_supported(&state.config.mfa.rules);
    let doc = discovery::metadata(&state.issuer, &SigningAlg::ALL, &acr_values);
    ([(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")], Json(doc)).into_response()
}

pub async fn jwks(State(state): State<AppState>) -> Response {
    let body = state.keys.current().jwks.to_string();
    (
        [
            (header::CONTENT_TYPE, "application/jwk-set+json"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            (header::CACHE_CONTROL, "public, max-age=60"),
        ],
        body,
    )
        .into_response()
}
