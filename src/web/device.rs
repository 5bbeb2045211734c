//! The pages of the user's authentication device for CIBA: `/device/requests/ID` (approve or
//! deny) and `/device/requests/ID/confirm` (prove a factor first). The logic is
//! `crate::ciba::approval`.

use super::extract::Form;
use super::signin::bad_form;
use crate::app::AppState;
use crate::ciba::approval;
use crate::signin;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

/// `GET /device/requests/ID`.
pub async fn request_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(request_id): Path<String>,
) -> Response {
    approval::show(&state, &headers, &request_id)
        .await
        .unwrap_or_else(|e| signin::internal_error(&state, e))
}

/// `POST /device/requests/ID`.
pub async fn request_decision(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(request_id): Path<String>,
    Form(params): Form,
) -> Response {
    let params = match params {
        Ok(params) => params,
        Err(e) => return bad_form(&state, e),
    };
    approval::decide(&state, &headers, &request_id, &params)
        .await
        .unwrap_or_else(|e| signin::internal_error(&state, e))
}

/// `POST /device/requests/ID/confirm`.
pub async fn request_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(request_id): Path<String>,
    Form(params): Form,
) -> Response {
    let params = match params {
        Ok(params) => params,
        Err(e) => return bad_form(&state, e),
    };
    approval::confirm(&state, &headers, &request_id, &params)
        .await
        .unwrap_or_else(|e| signin::internal_error(&state, e))
}
