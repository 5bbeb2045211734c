//! `/logout` (RP-Initiated Logout 1.0, GET and POST; the `end_session_endpoint`) and
//! `/logout/confirm`, the form a user submits to confirm.
//!
//! A request is validated before anything happens (§2, §3, §4; SECURITY.md R43): a hint must be
//! an ID token this server signed for this issuer (expired is fine), `client_id` must be the
//! hint's audience, and `post_logout_redirect_uri` must be one the client registered, character
//! for character. Any failure is an error page: no logout, no redirect. A valid hint naming the
//! signed-in user logs out at once; anything else asks the user first, with a CSRF token bound
//! to the browser, so a bare link on another site cannot sign anyone out. The redirect target
//! is only ever a registered URI (no open redirect, SECURITY.md lesson 19).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ferriam_protocol::logout::{self, HintClaims, LogoutRequest};
use ferriam_protocol::params::Params;
use ferriam_protocol::OAuthError;
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::extract::{cookie, Form, Query};
use crate::app::AppState;
use crate::error::AppError;
use crate::signin::{self, BROWSER_COOKIE};
use crate::store::StoredClient;
use crate::tokens::jwt::{self, ID_TOKEN_TYP};
use crate::tokens::opaque;

/// GET `/logout`.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query,
) -> Response {
    requested(&state, &headers, params).await
}

/// POST `/logout`: the same request as a form (§2 allows both methods).
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Response {
    requested(&state, &headers, params).await
}

/// POST `/logout/confirm`: the user confirmed on the page; the CSRF token must be this
/// browser's, and the carried parameters are validated again.
pub async fn confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Response {
    let params = match params {
        Ok(p) => p,
        Err(e) => return refused(&state, e),
    };
    let expected = cookie(&headers, BROWSER_COOKIE).map(|b| csrf_token(&state, b));
    let given = params.get("csrf").unwrap_or_default();
    let ok = expected.is_some_and(|t| bool::from(t.as_bytes().ct_eq(given.as_bytes())));
    if !ok {
        return state.pages.error(
            StatusCode::FORBIDDEN,
            "invalid_request",
            "The sign-out form has expired. Please try again.",
        );
    }
    let request = LogoutRequest {
        id_token_hint: None,
        ..LogoutRequest::from_params(&params)
    };
    let checked = match check(&state, &request).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let session = match signin::current_session(&state, &headers).await {
        Ok(s) => s,
        Err(e) => return signin::internal_error(&state, e),
    };
    finish(&state, session.map(|s| s.session.sid), checked).await
}

/// A validated logout request.
struct Checked {
    hint: Option<HintClaims>,
    client: Option<Arc<StoredClient>>,
    /// The registered `post_logout_redirect_uri` with `state`, when one was asked for.
    redirect: Option<String>,
}

async fn requested(
    state: &AppState,
    headers: &HeaderMap,
    params: Result<Params, OAuthError>,
) -> Response {
    let params = match params {
        Ok(p) => p,
        Err(e) => return refused(state, e),
    };
    let request = LogoutRequest::from_params(&params);
    let checked = match check(state, &request).await {
        Ok(c) => c,
        Err(response) => return response,
    };
    let signed_in = match signin::current_session(state, headers).await {
        Ok(s) => s,
        Err(e) => return signin::internal_error(state, e),
    };
    match signed_in {
        Some(s) if checked.hint.as_ref().is_some_and(|h| h.sub == s.user.sub) => {
            finish(state, Some(s.session.sid), checked).await
        }
        signed_in => confirmation(
            state,
            headers,
            &request,
            &checked,
            signed_in.map(|s| s.user.username),
        ),
    }
}

/// Validates the hint, the client and the redirect target; an error page otherwise.
async fn check(state: &AppState, request: &LogoutRequest) -> Result<Checked, Response> {
    let hint = match &request.id_token_hint {
        Some(token) => {
            match jwt::verify::<HintClaims>(&state.keys.current(), token, ID_TOKEN_TYP) {
                Ok(claims) => Some(claims),
                Err(e) => {
                    return Err(refused(
                        state,
                        OAuthError::invalid_request("the id_token_hint is not valid")
                            .with_detail(e.to_string()),
                    ))
                }
            }
        }
        None => None,
    };
    let client_id =
        logout::requesting_client(&state.issuer, hint.as_ref(), request.client_id.as_deref())
            .map_err(|e| refused(state, e))?;
    let client = match client_id {
        Some(id) => match state.client(&id).await {
            Ok(Some(c)) => Some(c),
            Ok(None) => {
                return Err(refused(
                    state,
                    OAuthError::invalid_request("unknown client"),
                ))
            }
            Err(e) => return Err(signin::internal_error(state, e.into())),
        },
        None => None,
    };
    // §3: redirect only to a URI registered for the client the hint or client_id names. A URI
    // that cannot be validated is a failed validation (§4), not a request to ignore: the RP
    // expects its user back, so Ferriam shows an error and ends no session, rather than signing
    // the user out and stranding them on a page the RP did not ask for.
    let redirect = match (&request.post_logout_redirect_uri, &client) {
        (None, _) => None,
        (Some(_), None) => {
            return Err(refused(
                state,
                OAuthError::invalid_request(
                    "post_logout_redirect_uri needs client_id or id_token_hint",
                ),
            ))
        }
        (Some(uri), Some(c)) => Some(
            logout::post_logout_redirect(&c.client, uri, request.state.as_deref())
                .map_err(|e| refused(state, e))?,
        ),
    };
    Ok(Checked {
        hint,
        client,
        redirect,
    })
}

/// The confirmation page: a form whose CSRF token is bound to this browser.
fn confirmation(
    state: &AppState,
    headers: &HeaderMap,
    request: &LogoutRequest,
    checked: &Checked,
    username: Option<String>,
) -> Response {
    let (browser, new_browser) = match cookie(headers, BROWSER_COOKIE) {
        Some(b) => (b.to_owned(), false),
        None => (opaque::random_token(), true),
    };
    let client_id = checked.client.as_ref().map(|c| c.client.client_id.clone());
    let client_name = checked.client.as_ref().map(|c| c.client.name.clone());
    // Only what was validated is carried; confirm() validates it again.
    let post_logout_redirect_uri = checked
        .redirect
        .as_ref()
        .and(request.post_logout_redirect_uri.clone());
    let mut response = state.pages.render(
        StatusCode::OK,
        "logout.html",
        minijinja::context! {
            csrf => csrf_token(state, &browser),
            client_id,
            client_name,
            username,
            post_logout_redirect_uri,
            state => checked.redirect.as_ref().and(request.state.clone()),
        },
        None,
    );
    if new_browser {
        signin::set_browser_cookie(state, &mut response, &browser);
    }
    response
}

/// One front-channel logout frame.
#[derive(Serialize)]
struct Frame {
    name: String,
    src: String,
}

/// Ends the session (if any), clears the cookie, and redirects or shows the signed-out page
/// with a frame for each client of the session that registered a front-channel logout URI.
async fn finish(state: &AppState, sid: Option<String>, checked: Checked) -> Response {
    match try_finish(state, sid, checked).await {
        Ok(response) => response,
        Err(e) => signin::internal_error(state, e),
    }
}

async fn try_finish(
    state: &AppState,
    sid: Option<String>,
    checked: Checked,
) -> Result<Response, AppError> {
    let ended = match sid {
        Some(sid) => {
            crate::logout::end_session(state.store.as_ref(), &state.config, &sid, state.now())
                .await?
        }
        None => None,
    };
    let mut frames = Vec::new();
    let mut origins: Vec<String> = Vec::new();
    for client_id in ended.iter().flat_map(|e| &e.clients) {
        let Some(client) = state.client(client_id).await? else {
            continue;
        };
        let Some(uri) = &client.client.frontchannel_logout_uri else {
            continue;
        };
        let Some(origin) = frame_origin(uri) else {
            continue;
        };
        let sid = ended.as_ref().map(|e| e.sid.as_str()).unwrap_or_default();
        frames.push(Frame {
            name: client.client.name.clone(),
            src: logout::frontchannel_frame_url(uri, &state.issuer, sid),
        });
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    let mut response = match (&checked.redirect, frames.is_empty()) {
        (Some(target), true) => signin::see_other(target),
        (redirect, _) => {
            // With frames to load the page must render; it moves on to the RP by itself.
            let continue_to = redirect.as_ref().filter(|t| logout::is_safe_link(t));
            let client_name = checked.client.as_ref().map(|c| c.client.name.clone());
            state.pages.render_framing(
                StatusCode::OK,
                "logged_out.html",
                minijinja::context! { frames, continue_to, client_name },
                &origins,
            )
        }
    };
    signin::clear_session_cookie(state, &mut response);
    Ok(response)
}

/// The origin a frame URL loads from, for the page's `frame-src` (none for opaque origins).
fn frame_origin(uri: &str) -> Option<String> {
    let origin = url::Url::parse(uri).ok()?.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// The CSRF token of the confirmation form, derived from the browser cookie.
fn csrf_token(state: &AppState, browser: &str) -> String {
    opaque::derive(&state.refresh_key, &format!("logout:{browser}"))
}

/// An error page for a request that failed validation: 400, nothing changed.
fn refused(state: &AppState, e: OAuthError) -> Response {
    if let Some(detail) = &e.detail {
        tracing::info!(error = e.code.as_str(), detail = %detail, "logout refused");
    }
    state
        .pages
        .error(StatusCode::BAD_REQUEST, e.code.as_str(), &e.description)
}
