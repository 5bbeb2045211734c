//! `/bc-authorize`, the CIBA backchannel authentication endpoint (CIBA §7): authenticates
//! the client as `/token` does, then hands over to `crate::ciba::backchannel`. Errors are
//! CIBA §13's: JSON, `invalid_client` 401 with a challenge, `access_denied` 403, others 400.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferriam_protocol::ciba;

use super::client_auth::authenticate;
use super::extract::Form;
use crate::app::AppState;
use crate::ciba::backchannel;
use crate::error::{json_error, no_store};

/// The path the endpoint is served at (and a client assertion's `aud` may name).
pub const PATH: &str = "/bc-authorize";

pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Response {
    let result = async {
        let params = params?;
        let client = authenticate(&state, &headers, &params, PATH).await?;
        backchannel::request(&state, &client.client, &params).await
    };
    match result.await {
        Ok(accepted) => no_store(Json(accepted).into_response()),
        Err(e) => json_error(e, ciba::backchannel_status),
    }
}
