//! The account page (`/account`): the signed-in user sees their sign-in methods, sets up,
//! replaces or removes their authenticator app, and sets the code CIBA clients may ask for.
//!
//! Without a session the page starts a sign-in of its own, with the usual pages and policy,
//! that ends back here. Changing a factor needs a factor proved in this session (DESIGN.md,
//! "TOTP"): a session that proved only the password is first sent through "Confirm it's you"
//! (a code to the verified address or phone, or from the authenticator app), which makes a new
//! session that records the proof. Forms carry a CSRF token derived from the
//! session, and every change is written to the audit trail.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ferriam_protocol::mfa::Factor;
use ferriam_protocol::params::Params;
use subtle::ConstantTimeEq;

use super::extract::{Form, Query};
use crate::app::AppState;
use crate::error::AppError;
use crate::signin::enrol::{self, Confirmation, Offer, SetupForm};
use crate::signin::{self, SignedIn};
use crate::store::{AuditKind, PendingFactors, User};
use crate::tokens::opaque;

/// The CSRF token of the account page's forms, derived from the session so it needs no
/// storage and dies with the session.
fn csrf_token(state: &AppState, signed_in: &SignedIn) -> String {
    opaque::derive(
        &state.refresh_key,
        &format!("account-csrf:{}", signed_in.session.sid),
    )
}

/// What the offer of a secret is bound to: this session.
fn binding(signed_in: &SignedIn) -> String {
    format!("account:{}", signed_in.session.sid)
}

/// Whether the user has a factor to confirm it's them with: a verified email address, a
/// verified phone (DESIGN.md: email and SMS codes need a verified address and phone) or the
/// authenticator app.
fn can_confirm(user: &User, totp: bool) -> bool {
    let p = &user.profile;
    (p.email.is_some() && p.email_verified)
        || (p.phone_number.is_some() && p.phone_number_verified)
        || totp
}

/// The account page, with a notice or an error.
async fn render(
    state: &AppState,
    signed_in: &SignedIn,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let user = &signed_in.user;
    let p = &user.profile;
    let totp = state.store.totp(&user.sub).await?.is_some();
    Ok(state.pages.render(
        status,
        "account.html",
        minijinja::context! {
            username => &user.username,
            email => &p.email,
            email_verified => p.email_verified,
            phone => &p.phone_number,
            phone_verified => p.phone_number_verified,
            totp,
            user_code => state.store.user_code(&user.sub).await?.is_some(),
            proved => !signed_in.session.factors.is_empty(),
            can_confirm => can_confirm(user, totp),
            csrf => csrf_token(state, signed_in),
            notice,
            error,
        },
        None,
    ))
}

/// `GET /account`: the page, or a sign-in that comes back to it.
pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query,
) -> Response {
    let result = async {
        let Some(signed_in) = signin::current_session(&state, &headers).await? else {
            return signin::sign_in_to_page(&state, &headers, "/account").await;
        };
        let notice = match params.as_ref().ok().and_then(|p| p.get("done")) {
            Some("totp") => Some("Your authenticator app is set up."),
            Some("removed") => Some("Your authenticator app is removed."),
            Some("user-code") => Some("Your code for other devices is set."),
            _ => None,
        };
        render(&state, &signed_in, StatusCode::OK, notice, None).await
    };
    result
        .await
        .unwrap_or_else(|e: AppError| signin::internal_error(&state, e))
}

/// What every form of the page checks: a live session and its CSRF token.
async fn submitted(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Result<SignedIn, Response>, AppError> {
    let Some(signed_in) = signin::current_session(state, headers).await? else {
        return Ok(Err(signin::see_other("/account")));
    };
    let expected = csrf_token(state, &signed_in);
    let given = params.get("csrf").unwrap_or("");
    if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return Ok(Err(state.pages.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This form has expired. Please open your account page again.",
        )));
    }
    Ok(Ok(signed_in))
}

/// Runs `body` for a submitted form whose session and CSRF token hold.
async fn with_form<F, Fut>(
    state: AppState,
    headers: HeaderMap,
    form: Result<Params, ferriam_protocol::OAuthError>,
    body: F,
) -> Response
where
    F: FnOnce(AppState, SignedIn, Params) -> Fut,
    Fut: std::future::Future<Output = Result<Response, AppError>>,
{
    let params = match form {
        Ok(params) => params,
        Err(e) => return super::signin::bad_form(&state, e),
    };
    let result = async {
        match submitted(&state, &headers, &params).await? {
            Ok(signed_in) => body(state.clone(), signed_in, params).await,
            Err(page) => Ok(page),
        }
    };
    result
        .await
        .unwrap_or_else(|e: AppError| signin::internal_error(&state, e))
}

/// `POST /account/confirm`: proves a factor on top of the session (step-up), coming back
/// here with a session that records it.
pub async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form,
) -> Response {
    let h = headers.clone();
    with_form(state, headers, form, |state, signed_in, _| async move {
        let user = &signed_in.user;
        let totp = state.store.totp(&user.sub).await?.is_some();
        if !can_confirm(user, totp) {
            return render(
                &state,
                &signed_in,
                StatusCode::FORBIDDEN,
                None,
                Some("There is no sign-in method to confirm it's you."),
            )
            .await;
        }
        // Any factor the account has: the factor pages keep the usable ones and ask the only
        // one straight away, or offer the choice.
        let session = &signed_in.session;
        let pending = PendingFactors {
            sub: user.sub.clone(),
            first_amr: session.amr.clone(),
            idp: session.idp.clone(),
            rule: None,
            remaining: Vec::new(),
            choices: Factor::ALL.to_vec(),
            proved: Vec::new(),
        };
        signin::step_up_to_page(&state, &h, "/account", pending, user).await
    })
    .await
}

/// The set-up page of a new secret on the account page.
fn setup_page(
    state: &AppState,
    signed_in: &SignedIn,
    offer: &Offer,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let form = SetupForm {
        action: "/account/totp/confirm",
        csrf: csrf_token(state, signed_in),
        interaction: None,
        cancel: Some("/account"),
    };
    enrol::page(state, &signed_in.user, offer, form, status, error)
}

/// Refuses a change from a session that proved no factor.
async fn needs_proof(state: &AppState, signed_in: &SignedIn) -> Result<Option<Response>, AppError> {
    if !signed_in.session.factors.is_empty() {
        return Ok(None);
    }
    render(
        state,
        signed_in,
        StatusCode::FORBIDDEN,
        None,
        Some("Confirm it's you before changing how you sign in."),
    )
    .await
    .map(Some)
}

/// `POST /account/totp`: offers a new secret.
pub async fn totp_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form,
) -> Response {
    with_form(state, headers, form, |state, signed_in, _| async move {
        if let Some(refused) = needs_proof(&state, &signed_in).await? {
            return Ok(refused);
        }
        let offer = enrol::offer(&state, &signed_in.user, &binding(&signed_in));
        Ok(setup_page(&state, &signed_in, &offer, StatusCode::OK, None))
    })
    .await
}

/// `POST /account/totp/confirm`: enrols the offered secret once its first code is right.
pub async fn totp_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form,
) -> Response {
    with_form(state, headers, form, |state, signed_in, params| async move {
        if let Some(refused) = needs_proof(&state, &signed_in).await? {
            return Ok(refused);
        }
        let submitted = enrol::submitted_offer(&params);
        let code = params.get("code").unwrap_or("");
        let outcome =
            enrol::confirm(&state, &signed_in.user, &binding(&signed_in), &submitted, code, None)
                .await?;
        Ok(match outcome {
            Confirmation::Enrolled => signin::see_other("/account?done=totp"),
            Confirmation::WrongCode => setup_page(
                &state,
                &signed_in,
                &submitted,
                StatusCode::UNAUTHORIZED,
                Some("That code is not right. Check the time on your device and try the next code."),
            ),
            Confirmation::Invalid => {
                return render(
                    &state,
                    &signed_in,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some("That key has expired. Please start again."),
                )
                .await
            }
        })
    })
    .await
}

/// `POST /account/totp/remove`: removes the authenticator app.
pub async fn totp_remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form,
) -> Response {
    with_form(state, headers, form, |state, signed_in, _| async move {
        if let Some(refused) = needs_proof(&state, &signed_in).await? {
            return Ok(refused);
        }
        let removed = state
            .store
            .delete_factor(&signed_in.user.sub, "totp")
            .await?;
        if removed {
            let mut event = crate::audit::event(AuditKind::Enrol, true, state.now());
            event.sub = Some(signed_in.user.sub.clone());
            event.factors = vec!["totp".to_owned()];
            event.reason = Some("authenticator app removed".to_owned());
            crate::audit::record(state.store.as_ref(), event).await?;
        }
        Ok(signin::see_other("/account?done=removed"))
    })
    .await
}

/// `POST /account/user-code`: sets the CIBA user code (CIBA §7.1), kept as an argon2id hash.
pub async fn user_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form,
) -> Response {
    with_form(
        state,
        headers,
        form,
        |state, signed_in, params| async move {
            if let Some(refused) = needs_proof(&state, &signed_in).await? {
                return Ok(refused);
            }
            let code = params.get("user_code").unwrap_or("");
            if !ferriam_protocol::ciba::valid_user_code(code) {
                return render(
                    &state,
                    &signed_in,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some("The code must be 4 to 64 characters, without spaces at either end."),
                )
                .await;
            }
            let hash = state.passwords.hash(code.to_owned()).await?;
            state
                .store
                .set_user_code(&signed_in.user.sub, &hash, state.now())
                .await?;
            Ok(signin::see_other("/account?done=user-code"))
        },
    )
    .await
}
