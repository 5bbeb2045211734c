//! The federated sign-in's routes: `POST /federation/start` (a "Continue with ..." button of
//! the sign-in page) and `GET /federation/NAME/callback` (the upstream's answer). The logic is
//! `crate::signin::upstream`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::extract::{Form, Query};
use crate::app::AppState;
use crate::signin::{self, upstream};

pub async fn start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Response {
    let (params, id, interaction) = match super::signin::submitted(&state, &headers, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(corp) = params
        .get("idp")
        .and_then(|name| state.upstreams.by_name(name))
    else {
        return state.pages.error_with_back(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This sign-in provider is not available.",
            &format!("/signin/login?interaction={id}"),
        );
    };
    upstream::start(&state, &id, interaction, &corp, None)
        .await
        .unwrap_or_else(|e| signin::internal_error(&state, e))
}

pub async fn callback(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Query(params): Query,
) -> Response {
    let params = match params {
        Ok(params) => params,
        Err(e) => {
            return state
                .pages
                .error(StatusCode::BAD_REQUEST, e.code.as_str(), &e.description)
        }
    };
    upstream::callback(&state, &headers, &name, &params)
        .await
        .unwrap_or_else(|e| signin::internal_error(&state, e))
}
