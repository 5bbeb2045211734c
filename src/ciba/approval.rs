//! The approval page of a CIBA request (`/device/requests/ID`): the user the request is for,
//! signed in in this browser, sees the client's name, the binding message and the scopes, and
//! approves or denies once (CIBA §5: the authentication device). The sign-in policy applies
//! to the request's client and `acr_values` as to any sign-in: a session that did not prove
//! the factors it asks is sent to prove them first. The decision records the session's
//! `auth_time`, `amr`, `acr` and `sid`, which the tokens then carry.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ferriam_protocol::ciba::RequestState;
use ferriam_protocol::mfa::policy::Decision;
use ferriam_protocol::params::Params;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::error::AppError;
use crate::signin::{self, completion, SignedIn};
use crate::store::{CibaDecision, CibaRequest, PendingFactors};
use crate::tokens::opaque;

/// The page of request `request_id`, as the browser's session may see it.
enum Found {
    /// Show or decide it.
    Open(Box<(CibaRequest, SignedIn)>),
    /// An answer already (a sign-in, an error page).
    Answer(Response),
}

/// Where the page lives.
fn path(request_id: &str) -> String {
    format!("/device/requests/{request_id}")
}

/// A request id as the server makes them (URL-safe base64): anything else names nothing, and
/// never reaches a `Location` header.
fn well_formed(request_id: &str) -> bool {
    (16..=64).contains(&request_id.len())
        && request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn csrf_token(state: &AppState, signed_in: &SignedIn, request_id: &str) -> String {
    opaque::derive(
        &state.refresh_key,
        &format!("ciba-csrf:{}:{request_id}", signed_in.session.sid),
    )
}

/// Loads the request and the session, answering for every case in which there is nothing
/// to show: an unknown id, no session (a sign-in that comes back here), another user's
/// request, a decided or expired one.
async fn find(state: &AppState, headers: &HeaderMap, request_id: &str) -> Result<Found, AppError> {
    let request = match well_formed(request_id) {
        true => state.store.ciba_request_by_id(request_id).await?,
        false => None,
    };
    let Some(request) = request else {
        return Ok(Found::Answer(state.pages.error(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "There is no such request.",
        )));
    };
    let Some(signed_in) = signin::current_session(state, headers).await? else {
        let back = signin::sign_in_to_page(state, headers, &path(request_id)).await?;
        return Ok(Found::Answer(back));
    };
    if signed_in.user.sub != request.sub {
        return Ok(Found::Answer(state.pages.error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "This request is for another account. Sign out and sign in as the right person.",
        )));
    }
    if request.state != RequestState::Pending {
        return Ok(Found::Answer(state.pages.error(
            StatusCode::CONFLICT,
            "invalid_request",
            "This request was answered already.",
        )));
    }
    if request.expires_at <= state.now() {
        return Ok(Found::Answer(state.pages.error(
            StatusCode::GONE,
            "expired_token",
            "This request has expired. Ask for a new one on the other device.",
        )));
    }
    Ok(Found::Open(Box::new((request, signed_in))))
}

/// What the sign-in policy asks for this request's client and `acr_values`.
fn policy(state: &AppState, request: &CibaRequest, signed_in: &SignedIn) -> Decision {
    completion::policy(
        state,
        &signed_in.user,
        signed_in.session.idp.as_deref(),
        &request.asked.client_id,
        &request.asked.acr_values,
    )
}

/// Whether the session proved what the policy asks, and the acr it thereby satisfies.
fn satisfied(decision: &Decision, signed_in: &SignedIn) -> bool {
    completion::satisfied(decision, &signed_in.session.factors)
}

/// `GET /device/requests/ID`.
pub async fn show(
    state: &AppState,
    headers: &HeaderMap,
    request_id: &str,
) -> Result<Response, AppError> {
    match find(state, headers, request_id).await? {
        Found::Open(open) => page(state, &open.0, &open.1).await,
        Found::Answer(answer) => Ok(answer),
    }
}

/// The page of an open request: Approve and Deny, or "Confirm it's you" first.
async fn page(
    state: &AppState,
    request: &CibaRequest,
    signed_in: &SignedIn,
) -> Result<Response, AppError> {
    let scopes: Vec<String> = request
        .asked
        .scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(crate::web::signin::describe_scope)
        .collect();
    let needs_factor = !satisfied(&policy(state, request, signed_in), signed_in);
    Ok(state.pages.render(
        StatusCode::OK,
        "ciba_request.html",
        minijinja::context! {
            request_id => &request.request_id,
            client_name => state.client_name(&request.asked.client_id).await?,
            binding_message => &request.asked.binding_message,
            scopes,
            username => &signed_in.user.username,
            needs_factor,
            csrf => csrf_token(state, signed_in, &request.request_id),
        },
        None,
    ))
}

/// Checks a form's CSRF token against the session and the request.
fn genuine(state: &AppState, signed_in: &SignedIn, request_id: &str, params: &Params) -> bool {
    let expected = csrf_token(state, signed_in, request_id);
    let given = params.get("csrf").unwrap_or("");
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// [`find`] for a submitted form, whose CSRF token must also be right.
async fn submitted(
    state: &AppState,
    headers: &HeaderMap,
    request_id: &str,
    params: &Params,
) -> Result<Found, AppError> {
    let found = find(state, headers, request_id).await?;
    if let Found::Open(open) = &found {
        if !genuine(state, &open.1, request_id, params) {
            return Ok(Found::Answer(state.pages.error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "This form has expired. Please open the request again.",
            )));
        }
    }
    Ok(found)
}

/// `POST /device/requests/ID`: approve or deny, once.
pub async fn decide(
    state: &AppState,
    headers: &HeaderMap,
    request_id: &str,
    params: &Params,
) -> Result<Response, AppError> {
    let (request, signed_in) = match submitted(state, headers, request_id, params).await? {
        Found::Open(open) => *open,
        Found::Answer(answer) => return Ok(answer),
    };
    let approve = match params.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return Ok(state.pages.error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Choose Approve or Deny.",
            ))
        }
    };
    let policy = policy(state, &request, &signed_in);
    // Approving needs what the policy asks; denying never does.
    if approve && !satisfied(&policy, &signed_in) {
        return page(state, &request, &signed_in).await;
    }
    let session = &signed_in.session;
    let now = state.now();
    let decision = CibaDecision {
        approve,
        now,
        // A ping client is told, approved or denied (CIBA §10.2); it then asks at /token.
        notify_at: request.asked.mode.notifies().then_some(now),
        auth_time: session.auth_time,
        amr: session.amr.clone(),
        acr: policy.acr.filter(|_| approve),
        sid: session.sid.clone(),
    };
    if !state
        .store
        .decide_ciba_request(request_id, &decision)
        .await?
    {
        return Ok(state.pages.error(
            StatusCode::CONFLICT,
            "invalid_request",
            "This request was answered already.",
        ));
    }
    Ok(state.pages.render(
        StatusCode::OK,
        "ciba_done.html",
        minijinja::context! {
            approved => approve,
            client_name => state.client_name(&request.asked.client_id).await?,
        },
        None,
    ))
}

/// `POST /device/requests/ID/confirm`: proves the factors the policy asks (a step-up from
/// this session), then comes back to the request.
pub async fn confirm(
    state: &AppState,
    headers: &HeaderMap,
    request_id: &str,
    params: &Params,
) -> Result<Response, AppError> {
    let (request, signed_in) = match submitted(state, headers, request_id, params).await? {
        Found::Open(open) => *open,
        Found::Answer(answer) => return Ok(answer),
    };
    let decision = policy(state, &request, &signed_in);
    if satisfied(&decision, &signed_in) {
        return page(state, &request, &signed_in).await;
    }
    let session = &signed_in.session;
    let pending = PendingFactors {
        sub: signed_in.user.sub.clone(),
        first_amr: session.amr.clone(),
        idp: session.idp.clone(),
        rule: decision.rule,
        remaining: decision.require,
        choices: decision.any_of,
        proved: Vec::new(),
    };
    signin::step_up_to_page(state, headers, &path(request_id), pending, &signed_in.user).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_server_made_ids_are_looked_up() {
        assert!(well_formed(&opaque::random_token()));
        for bad in [
            "",
            "short",
            "a/b-cdefghijklmnopq",
            "abc\r\nLocation: x-xxxxxxxx",
        ] {
            assert!(!well_formed(bad), "{bad:?}");
        }
    }
}
