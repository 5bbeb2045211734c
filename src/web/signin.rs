//! The sign-in pages: `/signin/login` (username and password) and `/signin/consent`.
//! Every form carries the interaction id and its CSRF token; every POST answers 303.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ferriam_protocol::params::Params;
use ferriam_protocol::scope::{Scope, STANDARD_SCOPES};
use ferriam_protocol::{ErrorCode, OAuthError};

use super::extract::{Form, Query};
use crate::app::AppState;
use crate::error::AppError;
use crate::signin::completion::{self, SignedIn};
use crate::signin::{self, limits, upstream};
use crate::store::{AuditKind, Interaction, Lockout};
use crate::tokens::opaque;

/// The error page of a form or query that could not be read.
pub(super) fn bad_form(state: &AppState, e: OAuthError) -> Response {
    state
        .pages
        .error(StatusCode::BAD_REQUEST, e.code.as_str(), &e.description)
}

/// The interaction a page shows, from the `interaction` query parameter.
pub(super) async fn shown(
    state: &AppState,
    headers: &HeaderMap,
    params: Result<Params, OAuthError>,
) -> Result<(String, Interaction), Response> {
    let params = params.map_err(|e| bad_form(state, e))?;
    signin::load_interaction(state, headers, params.get("interaction"), None).await
}

/// The interaction a form submits, with its CSRF token checked.
pub(super) async fn submitted(
    state: &AppState,
    headers: &HeaderMap,
    params: Result<Params, OAuthError>,
) -> Result<(Params, String, Interaction), Response> {
    let params = params.map_err(|e| bad_form(state, e))?;
    let (id, interaction) = signin::load_interaction(
        state,
        headers,
        params.get("interaction"),
        Some(params.get("csrf")),
    )
    .await?;
    Ok((params, id, interaction))
}

fn login_form(
    state: &AppState,
    id: &str,
    client_name: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    // One "Continue with ..." button per upstream identity provider, beside the local form.
    let upstreams: Vec<minijinja::Value> = state
        .upstreams
        .all()
        .iter()
        .map(|u| minijinja::context! { name => &u.name, display_name => &u.display_name })
        .collect();
    state.pages.render(
        status,
        "login.html",
        minijinja::context! {
            interaction => id,
            csrf => signin::csrf_token(state, id),
            client_name,
            username,
            error,
            upstreams,
        },
        None,
    )
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query,
) -> Response {
    let (id, interaction) = match shown(&state, &headers, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match state.client_name(&interaction.request.client_id).await {
        Ok(name) => {
            let hint = interaction.request.login_hint.clone().unwrap_or_default();
            login_form(&state, &id, &name, &hint, None)
        }
        Err(e) => signin::internal_error(&state, e.into()),
    }
}

pub async fn login_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Response {
    let (params, id, interaction) = match submitted(&state, &headers, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match try_login(&state, &headers, &params, &id, interaction).await {
        Ok(response) => response,
        Err(e) => signin::internal_error(&state, e),
    }
}

async fn try_login(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    id: &str,
    interaction: Interaction,
) -> Result<Response, AppError> {
    let username = params.get("username").unwrap_or("");
    let password = params.get("password").unwrap_or("");
    // Identifier-first: an address at a domain registered for an upstream, sent without a
    // password, signs in there (DESIGN.md, "Upstreams").
    if password.is_empty() {
        if let Some(corp) = upstream::for_identifier(state, username) {
            return upstream::start(state, id, interaction, &corp, Some(username)).await;
        }
    }
    // An address past its limit gets one page whatever the username, before any lookup or
    // password check (signin::limits).
    let step = limits::Step::password(&interaction.request.client_id);
    if let Some(block) = step.blocked(state).await? {
        return Ok(block.page(state));
    }
    let user = state
        .store
        .user_by_username(username)
        .await?
        .filter(|u| !u.disabled);
    let now = state.now();
    // Each attempt is reserved before the password is checked; a locked account answers like a
    // wrong password, so the page reveals neither lockout nor existence (WSO2 CVE-2024-0391).
    let allowed = match &user {
        Some(u) => {
            state
                .store
                .reserve_login_attempt(&u.sub, &lockout(state), now)
                .await?
        }
        None => false,
    };
    // The hash is checked even for unknown or locked users, so timing reveals nothing either.
    let stored_hash = user
        .as_ref()
        .filter(|_| allowed)
        .and_then(|u| u.password_hash.clone());
    let ok = !password.is_empty()
        && state
            .passwords
            .verify(password.to_owned(), stored_hash)
            .await;
    let known = user.as_ref().map(|u| u.sub.clone());
    let Some(user) = user.filter(|_| ok && allowed) else {
        // The audit trail tells an operator what the page does not tell the user.
        let locked = known.is_some() && !allowed;
        let kind = if locked {
            AuditKind::Lockout
        } else {
            AuditKind::SignIn
        };
        let mut event = crate::audit::event(kind, false, now);
        event.sub = known.clone();
        event.client_id = Some(interaction.request.client_id.clone());
        event.reason = Some(
            match (&known, locked) {
                (None, _) => "unknown or disabled user",
                (Some(_), true) => "account locked",
                (Some(_), false) => "wrong password",
            }
            .to_owned(),
        );
        crate::audit::record(state.store.as_ref(), event).await?;
        if let Some(block) = step.count(state).await? {
            return Ok(block.page(state));
        }
        let name = state.client_name(&interaction.request.client_id).await?;
        return Ok(login_form(
            state,
            id,
            &name,
            username,
            Some("Incorrect username or password."),
        ));
    };
    state.store.clear_login_failures(&user.sub).await?;
    let signed_in = SignedIn {
        user: &user,
        amr: vec!["pwd".to_owned()],
        idp: None,
    };
    completion::complete(state, headers, id, interaction, signed_in).await
}

/// The account lock from the settings: `max_failed_logins` consecutive failures lock for
/// `lockout_seconds`, each failure after a lock ends for twice as long, at most
/// `lockout_max_seconds`.
fn lockout(state: &AppState) -> Lockout {
    let c = &state.config;
    let seconds = |s: u64| i64::try_from(s.max(1)).unwrap_or(i64::MAX);
    let first = seconds(c.lockout_seconds);
    Lockout {
        max: i64::from(c.max_failed_logins.max(1)),
        first,
        longest: seconds(c.lockout_max_seconds).max(first),
    }
}

/// Human-readable descriptions of the standard scopes for the consent page.
pub(crate) fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are".to_owned(),
        "profile" => "See your name and profile".to_owned(),
        "email" => "See your email address".to_owned(),
        "phone" => "See your phone number".to_owned(),
        "offline_access" => "Stay connected when you are not using it".to_owned(),
        other => format!("Use {other}"),
    }
}

pub async fn consent_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query,
) -> Response {
    let (id, interaction) = match shown(&state, &headers, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    match render_consent(&state, &id, &interaction).await {
        Ok(page) => page,
        Err(e) => signin::internal_error(&state, e),
    }
}

async fn render_consent(
    state: &AppState,
    id: &str,
    interaction: &Interaction,
) -> Result<Response, AppError> {
    let Some(sub) = &interaction.sub else {
        return Ok(signin::see_other(&format!(
            "/signin/login?interaction={id}"
        )));
    };
    let username = state
        .store
        .user_by_sub(sub)
        .await?
        .map(|u| u.username)
        .unwrap_or_default();
    let scope = Scope::parse(&interaction.request.scope)?;
    // Standard scopes first, in their usual order, then the client's own.
    let mut names: Vec<&str> = STANDARD_SCOPES
        .iter()
        .copied()
        .filter(|s| scope.contains(s))
        .collect();
    names.extend(scope.iter().filter(|s| !STANDARD_SCOPES.contains(s)));
    let scopes: Vec<String> = names.into_iter().map(describe_scope).collect();
    let redirect_host = url::Url::parse(&interaction.request.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| interaction.request.redirect_uri.clone());
    Ok(state.pages.render(
        StatusCode::OK,
        "consent.html",
        minijinja::context! {
            interaction => id,
            csrf => signin::csrf_token(state, id),
            client_name => state.client_name(&interaction.request.client_id).await?,
            redirect_host,
            scopes,
            username,
        },
        None,
    ))
}

pub async fn consent_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Response {
    let (params, id, interaction) = match submitted(&state, &headers, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(sub) = interaction.sub.clone() else {
        return signin::see_other(&format!("/signin/login?interaction={id}"));
    };
    let result = async {
        state.store.delete_interaction(&opaque::hash(&id)).await?;
        let request = &interaction.request;
        if params.get("decision") != Some("allow") {
            return Ok(signin::error_response(
                &state,
                request,
                ErrorCode::AccessDenied,
                "the user denied the request",
            ));
        }
        // Remember the union of what was granted before and now, per user and client.
        let mut granted = Scope::parse(&request.scope)?.to_string();
        if let Some(previous) = state.store.consent(&sub, &request.client_id).await? {
            granted = Scope::parse(&format!("{previous} {granted}"))?.to_string();
        }
        state
            .store
            .save_consent(&sub, &request.client_id, &granted, state.now())
            .await?;
        signin::finish(
            &state,
            request,
            &sub,
            interaction.auth_time,
            &interaction.amr,
            &interaction.sid,
        )
        .await
    }
    .await;
    result.unwrap_or_else(|e: AppError| signin::internal_error(&state, e))
}
