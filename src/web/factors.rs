//! The second-factor pages: `/signin/factor` (the choice of an `any_of` rule),
//! `/signin/code` (entering a code; `/signin/code/resend` sends a new one) and
//! `/signin/enrol` (setting up an authenticator app the rule asks for). The logic is
//! `crate::signin::factors` and `crate::signin::totp_setup`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::extract::{Form, Query};
use super::signin::{shown, submitted};
use crate::app::AppState;
use crate::signin::{self, factors, totp_setup};

pub async fn factor_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query,
) -> Response {
    let (id, interaction) = match shown(&state, &headers, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match &interaction.pending {
        Some(pending) if !pending.choices.is_empty() => factors::factor_page(&state, &id, pending),
        _ => signin::see_other(&format!("/signin/code?interaction={id}")),
    }
}

pub async fn factor_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Response {
    let (params, id, interaction) = match submitted(&state, &headers, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    factors::choose(&state, &id, interaction, params.get("factor"))
        .await
        .unwrap_or_else(|e| signin::internal_error(&state, e))
}

pub async fn code_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query,
) -> Response {
    let (id, interaction) = match shown(&state, &headers, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    factors::code_page(&state, &id, &interaction, None)
        .await
        .unwrap_or_else(|e| signin::internal_error(&state, e))
}

pub async fn code_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Response {
    let (params, id, interaction) = match submitted(&state, &headers, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let code = params.get("code").unwrap_or("");
    factors::verify(&state, &headers, &id, interaction, code)
        .await
        .unwrap_or_else(|e| signin::internal_error(&state, e))
}

pub async fn resend(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Response {
    let (_, id, interaction) = match submitted(&state, &headers, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    factors::resend(&state, &id, interaction)
        .await
        .unwrap_or_else(|e| signin::internal_error(&state, e))
}

pub async fn enrol_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query,
) -> Response {
    let (id, interaction) = match shown(&state, &headers, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    totp_setup::show(&state, &id, &interaction)
        .await
        .unwrap_or_else(|e| signin::internal_error(&state, e))
}

pub async fn enrol_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Response {
    let (params, id, interaction) = match submitted(&state, &headers, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    totp_setup::confirm(&state, &headers, &id, interaction, &params)
        .await
        .unwrap_or_else(|e| signin::internal_error(&state, e))
}
