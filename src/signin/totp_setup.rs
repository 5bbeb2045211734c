//! Setting up an authenticator app in the middle of a sign-in (`/signin/enrol`), when the
//! rule asks for TOTP and the account has none: offered only once another factor of this same
//! sign-in is proved (`factors::begin` puts that factor first), so knowing the password alone
//! never lets anyone add a factor. The enrolment itself is `enrol`'s; a confirmed code proves
//! the factor for this sign-in.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ferriam_protocol::mfa::Factor;
use ferriam_protocol::params::Params;

use super::enrol::{self, Confirmation, Offer, SetupForm};
use super::{completion, factors};
use crate::app::AppState;
use crate::error::AppError;
use crate::store::{Interaction, User};

/// The user of a sign-in that may set up an authenticator app now: TOTP is the factor asked,
/// the account has none, and a factor of this sign-in is already proved.
async fn enrolling(state: &AppState, interaction: &Interaction) -> Result<Option<User>, AppError> {
    let Some(pending) = &interaction.pending else {
        return Ok(None);
    };
    if pending.remaining.first() != Some(&Factor::Totp) || pending.proved.is_empty() {
        return Ok(None);
    }
    if state.store.totp(&pending.sub).await?.is_some() {
        return Ok(None);
    }
    Ok(state.store.active_subject(&pending.sub, None).await?)
}

/// What the offer is bound to: this sign-in.
fn binding(id: &str) -> String {
    format!("signin:{id}")
}

fn page(
    state: &AppState,
    id: &str,
    user: &User,
    offer: &Offer,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let form = SetupForm {
        action: "/signin/enrol",
        csrf: super::csrf_token(state, id),
        interaction: Some(id),
        cancel: None,
    };
    enrol::page(state, user, offer, form, status, error)
}

/// The set-up page with a new secret; the code page when nothing is to be set up.
pub async fn show(
    state: &AppState,
    id: &str,
    interaction: &Interaction,
) -> Result<Response, AppError> {
    let Some(user) = enrolling(state, interaction).await? else {
        return Ok(super::see_other(&format!("/signin/code?interaction={id}")));
    };
    let offer = enrol::offer(state, &user, &binding(id));
    Ok(page(state, id, &user, &offer, StatusCode::OK, None))
}

/// Confirms the secret with its first code, then goes on with the sign-in.
pub async fn confirm(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    mut interaction: Interaction,
    params: &Params,
) -> Result<Response, AppError> {
    let Some(user) = enrolling(state, &interaction).await? else {
        return Ok(super::see_other(&format!("/signin/code?interaction={id}")));
    };
    let submitted = enrol::submitted_offer(params);
    let code = params.get("code").unwrap_or("");
    let client_id = interaction.request.client_id.clone();
    match enrol::confirm(
        state,
        &user,
        &binding(id),
        &submitted,
        code,
        Some(&client_id),
    )
    .await?
    {
        Confirmation::WrongCode => Ok(page(
            state,
            id,
            &user,
            &submitted,
            StatusCode::UNAUTHORIZED,
            Some("That code is not right. Check the time on your device and try the next code."),
        )),
        Confirmation::Invalid => {
            let offer = enrol::offer(state, &user, &binding(id));
            Ok(page(
                state,
                id,
                &user,
                &offer,
                StatusCode::BAD_REQUEST,
                Some("That key has expired. Scan this new one instead."),
            ))
        }
        Confirmation::Enrolled => {
            let Some(mut pending) = interaction.pending.take() else {
                return Ok(super::see_other(&format!("/signin/login?interaction={id}")));
            };
            factors::audit(
                state,
                &interaction,
                &pending,
                Some(Factor::Totp),
                true,
                "enrolled",
            )
            .await?;
            pending.remaining.remove(0);
            pending.proved.push(Factor::Totp);
            if pending.remaining.is_empty() {
                return completion::start_session(state, headers, id, interaction, pending).await;
            }
            interaction.pending = Some(pending);
            factors::next(state, id, interaction).await
        }
    }
}
