//! The sign-in state machine between `/authorize` and the authorization response.
//!
//! A validated request either completes at once (usable session, consent on record) or is
//! stored as an [`Interaction`] bound to the browser that started it (a browser cookie) and
//! protected by a CSRF token; the pages then sign the user in and ask consent, and
//! [`finish`] issues the code and, in the implicit and hybrid flows, the tokens. Binding to
//! the browser stops another browser from completing someone else's request (the ORY Hydra
//! PR #770 session-fixation lesson).

pub mod completion;
mod cookies;
pub mod enrol;
pub mod factors;
mod front_channel;
pub mod limits;
pub mod totp_setup;
pub mod upstream;

pub use cookies::{BROWSER_COOKIE, SESSION_COOKIE};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ferriam_protocol::authorize::{AuthorizationRequest, AuthorizationResponse, ResponseMode};
use ferriam_protocol::scope::Scope;
use ferriam_protocol::token::authorization_code::CodeBinding;
use ferriam_protocol::{ErrorCode, OAuthError};
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::error::AppError;
use crate::store::{CodeRecord, Interaction, Session, User};
use crate::tokens::opaque;
use crate::web::extract::cookie;

/// A session together with its still-active user.
pub struct SignedIn {
    pub session: Session,
    pub user: User,
}

/// Reads the single sign-on session of a request, if it is valid and its user still active.
pub async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SignedIn>, AppError> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(session) = state
        .store
        .session(&opaque::hash(value), state.now())
        .await?
    else {
        return Ok(None);
    };
    let user = state.store.active_subject(&session.sub, None).await?;
    Ok(user.map(|user| SignedIn { session, user }))
}

/// Continues a validated authorization request.
pub async fn begin(
    state: &AppState,
    headers: &HeaderMap,
    request: AuthorizationRequest,
) -> Response {
    match try_begin(state, headers, request).await {
        Ok(response) => response,
        Err(e) => internal_error(state, e),
    }
}

async fn try_begin(
    state: &AppState,
    headers: &HeaderMap,
    mut request: AuthorizationRequest,
) -> Result<Response, AppError> {
    let now = state.now();
    let signed_in = current_session(state, headers).await?;
    // OpenID Connect Core §3.1.2.1: prompt=login and an exceeded max_age force a new sign-in;
    // "max_age=0 is equivalent to prompt=login", even for a session a second old.
    let fresh_enough = signed_in.filter(|s| {
        !request.prompt.login
            && request
                .max_age
                .is_none_or(|max| max > 0 && now - s.session.auth_time <= max)
    });
    // A request whose policy rule (for its client, its acr_values) asks for factors the
    // session did not prove gets a new sign-in that proves them (step-up), not single
    // sign-on. A session that does satisfy the rule answers with the rule's acr.
    let usable = fresh_enough.and_then(|s| {
        let decision = completion::policy(
            state,
            &s.user,
            s.session.idp.as_deref(),
            &request.client_id,
            &request.acr_values,
        );
        let satisfied = completion::satisfied(&decision, &s.session.factors);
        satisfied.then(|| {
            request.satisfied_acr = decision.acr;
            s
        })
    });
    if let Some(s) = &usable {
        let needs_consent = needs_consent(state, &request, &s.user.sub).await?;
        if !needs_consent {
            let sub = s.user.sub.clone();
            let session = s.session.clone();
            return finish(
                state,
                &request,
                &sub,
                session.auth_time,
                &session.amr,
                &session.sid,
            )
            .await;
        }
        if request.prompt.none {
            return Ok(error_response(
                state,
                &request,
                ErrorCode::ConsentRequired,
                "consent is required",
            ));
        }
    } else if request.prompt.none {
        return Ok(error_response(
            state,
            &request,
            ErrorCode::LoginRequired,
            "the user is not signed in",
        ));
    }
    let (id, mut interaction, new_browser) = new_interaction(state, headers, request);
    let page = match usable {
        Some(s) => {
            interaction.sub = Some(s.user.sub);
            interaction.auth_time = s.session.auth_time;
            interaction.amr = s.session.amr;
            interaction.sid = s.session.sid;
            "consent"
        }
        None => "login",
    };
    state
        .store
        .save_interaction(&opaque::hash(&id), &interaction)
        .await?;
    // `idp_hint`, or a `login_hint` at a routed domain, skips the choice.
    let straight_to = (page == "login")
        .then(|| upstream::for_request(state, &interaction))
        .flatten();
    let mut response = match straight_to {
        Some(corp) => {
            let hint = interaction.request.login_hint.clone();
            upstream::start(state, &id, interaction, &corp, hint.as_deref()).await?
        }
        None => see_other(&format!("/signin/{page}?interaction={id}")),
    };
    set_new_browser(state, &mut response, new_browser);
    Ok(response)
}

/// A new interaction for `request`, bound to this browser (by its cookie, made now when it
/// has none) and protected by its CSRF token; not stored yet. Returns its id and, for a new
/// browser, the cookie to set with [`set_new_browser`].
pub fn new_interaction(
    state: &AppState,
    headers: &HeaderMap,
    request: AuthorizationRequest,
) -> (String, Interaction, Option<String>) {
    let (browser, new_browser) = match cookie(headers, BROWSER_COOKIE) {
        Some(b) => (b.to_owned(), false),
        None => (opaque::random_token(), true),
    };
    let id = opaque::random_token();
    let interaction = Interaction {
        request,
        browser_hash: opaque::hash(&browser),
        // The CSRF token is derived from the interaction id, so it needs no storage of its own.
        csrf_hash: opaque::hash(&csrf_token(state, &id)),
        sub: None,
        auth_time: 0,
        amr: Vec::new(),
        sid: String::new(),
        expires_at: state.now() + state.config.interaction_ttl as i64,
        upstream: None,
        pending: None,
        return_to: None,
    };
    (id, interaction, new_browser.then_some(browser))
}

/// Starts a sign-in to one of the server's own pages (`return_to`, a fixed path) on the login
/// page; it ends on that page with a session (`completion::start_session`).
pub async fn sign_in_to_page(
    state: &AppState,
    headers: &HeaderMap,
    return_to: &str,
) -> Result<Response, AppError> {
    let (id, mut interaction, new_browser) =
        new_interaction(state, headers, AuthorizationRequest::account_page());
    interaction.return_to = Some(return_to.to_owned());
    state
        .store
        .save_interaction(&opaque::hash(&id), &interaction)
        .await?;
    let mut response = see_other(&format!("/signin/login?interaction={id}"));
    set_new_browser(state, &mut response, new_browser);
    Ok(response)
}

/// A step-up to one of the server's own pages: the factors `pending` asks of `user`, checked
/// as at sign-in (`factors::begin`: a factor the account lacks is refused or set up), then
/// back to `return_to` with a session that records them.
pub async fn step_up_to_page(
    state: &AppState,
    headers: &HeaderMap,
    return_to: &str,
    pending: crate::store::PendingFactors,
    user: &User,
) -> Result<Response, AppError> {
    let (id, mut interaction, new_browser) =
        new_interaction(state, headers, AuthorizationRequest::account_page());
    interaction.return_to = Some(return_to.to_owned());
    let mut response = factors::begin(state, &id, interaction, pending, user).await?;
    set_new_browser(state, &mut response, new_browser);
    Ok(response)
}

/// Sets the browser cookie [`new_interaction`] made, if it made one.
pub fn set_new_browser(state: &AppState, response: &mut Response, browser: Option<String>) {
    if let Some(browser) = browser {
        cookies::set(
            response,
            BROWSER_COOKIE,
            &browser,
            None,
            state.secure_cookies(),
        );
    }
}

/// Sets the single sign-on session cookie.
pub fn set_session_cookie(state: &AppState, response: &mut Response, value: &str) {
    cookies::set(
        response,
        SESSION_COOKIE,
        value,
        Some(state.config.session_ttl),
        state.secure_cookies(),
    );
}

/// Sets the cookie that identifies this browser to its interactions and forms.
pub fn set_browser_cookie(state: &AppState, response: &mut Response, value: &str) {
    cookies::set(
        response,
        BROWSER_COOKIE,
        value,
        None,
        state.secure_cookies(),
    );
}

/// Expires the single sign-on session cookie (logout).
pub fn clear_session_cookie(state: &AppState, response: &mut Response) {
    cookies::set(
        response,
        SESSION_COOKIE,
        "",
        Some(0),
        state.secure_cookies(),
    );
}

/// The CSRF token the pages of an interaction embed.
pub fn csrf_token(state: &AppState, interaction_id: &str) -> String {
    opaque::derive(&state.refresh_key, &format!("csrf:{interaction_id}"))
}

/// Whether the user must be asked: `prompt=consent`, or scopes beyond what was granted before.
pub async fn needs_consent(
    state: &AppState,
    request: &AuthorizationRequest,
    sub: &str,
) -> Result<bool, AppError> {
    if request.prompt.consent {
        return Ok(true);
    }
    let asked = Scope::parse(&request.scope)?;
    Ok(match state.store.consent(sub, &request.client_id).await? {
        Some(granted) => !asked.is_subset(&Scope::parse(&granted)?),
        None => true,
    })
}

/// Loads an interaction for a page, checking that this browser started it and, for form
/// submissions, that the CSRF token is right.
pub async fn load_interaction(
    state: &AppState,
    headers: &HeaderMap,
    id: Option<&str>,
    csrf: Option<Option<&str>>,
) -> Result<(String, Interaction), Response> {
    let expired = || {
        state.pages.error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "This sign-in request has expired or is not valid in this browser. Please go back to the application and try again.",
        )
    };
    let Some(id) = id else { return Err(expired()) };
    let interaction = match state
        .store
        .interaction(&opaque::hash(id), state.now())
        .await
    {
        Ok(Some(i)) => i,
        Ok(None) => return Err(expired()),
        Err(e) => return Err(internal_error(state, e.into())),
    };
    // The copy waiting at an upstream (found by its `state`) is for the callback only.
    if interaction.upstream.is_some() || !same_browser(headers, &interaction.browser_hash) {
        return Err(expired());
    }
    if let Some(csrf) = csrf {
        let ok = csrf.is_some_and(|t| opaque::matches_hash(t, &interaction.csrf_hash));
        if !ok {
            return Err(state.pages.error(
                StatusCode::FORBIDDEN,
                "invalid_request",
                "The form has expired. Please try again.",
            ));
        }
    }
    Ok((id.to_owned(), interaction))
}

/// Whether the request comes from the browser whose cookie hashes to `browser_hash`.
pub fn same_browser(headers: &HeaderMap, browser_hash: &str) -> bool {
    let browser = cookie(headers, BROWSER_COOKIE)
        .map(opaque::hash)
        .unwrap_or_default();
    bool::from(browser.as_bytes().ct_eq(browser_hash.as_bytes()))
}

/// Issues what the request's response type asks for (a code, tokens, or nothing for `none`)
/// and sends the response to the client.
pub async fn finish(
    state: &AppState,
    request: &AuthorizationRequest,
    sub: &str,
    auth_time: i64,
    amr: &[String],
    sid: &str,
) -> Result<Response, AppError> {
    // Logout notifies every client that received a code or tokens in this session.
    state
        .store
        .record_session_client(sid, &request.client_id)
        .await?;
    let now = state.now();
    let grant_id = opaque::random_token();
    let mut response = AuthorizationResponse::success(&request.redirect_uri, request.response_mode);
    let code = if request.response_type.code {
        let code = opaque::random_token();
        let record = CodeRecord {
            grant_id: grant_id.clone(),
            binding: CodeBinding {
                client_id: request.client_id.clone(),
                redirect_uri: request.redirect_uri.clone(),
                redirect_uri_explicit: request.redirect_uri_explicit,
                challenge: request.challenge.clone(),
                expires_at: now + state.config.code_ttl as i64,
            },
            sub: sub.to_owned(),
            scope: request.scope.clone(),
            nonce: request.nonce.clone(),
            auth_time,
            amr: amr.to_vec(),
            sid: sid.to_owned(),
            acr: request.satisfied_acr.clone(),
        };
        state.store.save_code(&opaque::hash(&code), &record).await?;
        response = response.with("code", &code);
        Some(code)
    } else {
        None
    };
    if request.response_type.returns_tokens() {
        let signed_in = front_channel::SignIn {
            sub,
            auth_time,
            amr,
            sid,
        };
        response = front_channel::add_tokens(
            state,
            request,
            &signed_in,
            &grant_id,
            code.as_deref(),
            response,
        )
        .await?;
    }
    Ok(respond(
        state,
        response.with_state(request.state.as_deref()),
    ))
}

/// Sends an error back to the client of a validated request.
pub fn error_response(
    state: &AppState,
    request: &AuthorizationRequest,
    code: ErrorCode,
    description: &str,
) -> Response {
    let error = OAuthError::new(code, description);
    let response = AuthorizationResponse::error(
        &request.redirect_uri,
        request.response_mode,
        request.state.as_deref(),
        &error,
    );
    respond(state, response)
}

/// Delivers an authorization response, with `iss` (RFC 9207), by redirect or form post.
pub fn respond(state: &AppState, response: AuthorizationResponse) -> Response {
    let response = response.with_issuer(&state.issuer);
    match response.mode {
        ResponseMode::Query | ResponseMode::Fragment => see_other(&response.location()),
        ResponseMode::FormPost => {
            let nonce = opaque::random_token();
            let params: Vec<(&str, &str)> = response
                .params
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            state.pages.render(
                StatusCode::OK,
                "form_post.html",
                minijinja::context! { action => &response.redirect_uri, params, nonce => &nonce },
                Some(&nonce),
            )
        }
    }
}

/// 303 See Other: never 307, which would replay a POSTed password (RFC 9700 §4.12).
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    match HeaderValue::from_str(location) {
        Ok(v) => {
            response.headers_mut().insert(header::LOCATION, v);
        }
        Err(_) => *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR,
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A page for failures that are the server's, not the user's.
pub fn internal_error(state: &AppState, error: AppError) -> Response {
    let e = error.to_oauth();
    let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    state.pages.error(status, e.code.as_str(), &e.description)
}
