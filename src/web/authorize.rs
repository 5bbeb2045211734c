//! `/authorize` (GET and POST, OpenID Connect Core §3.1.2.1): validates the request, then
//! either answers at once (usable session and consent, or `prompt=none`) or hands over to the
//! sign-in pages.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ferriam_protocol::authorize::{self, AuthorizeError};
use ferriam_protocol::params::Params;
use ferriam_protocol::OAuthError;

use super::extract::{Form, Query, KEEP_DUPLICATES};
use crate::app::AppState;
use crate::signin;

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<KEEP_DUPLICATES>,
) -> Response {
    handle(state, headers, params).await
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form<KEEP_DUPLICATES>,
) -> Response {
    handle(state, headers, params).await
}

async fn handle(
    state: AppState,
    headers: HeaderMap,
    params: Result<Params, OAuthError>,
) -> Response {
    // Until the client and its redirect URI are validated, no error may be redirected.
    let params = match params {
        Ok(p) => p,
        Err(e) => {
            return state
                .pages
                .error(StatusCode::BAD_REQUEST, e.code.as_str(), &e.description)
        }
    };
    // A repeated parameter is judged by `authorize::validate` once the client is known; only
    // a missing or repeated client_id leaves no client to answer.
    let Ok(client_id) = authorize::client_id(&params) else {
        return state.pages.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request names no client.",
        );
    };
    let client = match state.client(client_id).await {
        Ok(Some(stored)) => stored.client.clone(),
        Ok(None) => {
            return state.pages.error(
                StatusCode::BAD_REQUEST,
                "invalid_client",
                "The application is not registered.",
            )
        }
        Err(e) => return signin::internal_error(&state, e.into()),
    };
    match authorize::validate(&params, &client) {
        Ok(request) => signin::begin(&state, &headers, request).await,
        Err(AuthorizeError::Page(e)) => {
            state
                .pages
                .error(StatusCode::BAD_REQUEST, e.code.as_str(), &e.description)
        }
        Err(AuthorizeError::Redirect { error, response }) => {
            tracing::info!(
                error = error.code.as_str(),
                detail = error.detail.as_deref().unwrap_or(""),
                client_id,
                "authorization request refused"
            );
            signin::respond(&state, response)
        }
    }
}
