//! The federated branch of a sign-in: sending the user to an upstream identity provider and
//! taking its answer at `/federation/NAME/callback`.
//!
//! Sending: the interaction is copied under the hash of a fresh `state`, with the leg's
//! single-use secrets (nonce, PKCE verifier); the original stays, so the browser's back button
//! still shows the choice. The callback takes that copy once (a replayed, unknown or missing
//! `state` finds nothing), checks that this browser started it, that the answer reached the
//! callback of the upstream it was sent to with that upstream's `iss` (RFC 9207 §2.4, the
//! mix-up defence), then redeems the code and validates the ID token (`federation::leg`).
//! Nothing goes to the client until the sign-in is complete: a failure shows a page with a
//! link back to the choice, under a new interaction id, the authorization request still alive.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ferriam_protocol::authorize::AuthorizationRequest;
use ferriam_protocol::params::Params;
use ferriam_protocol::upstream as rules;

use super::completion::{self, SignedIn};
use crate::app::AppState;
use crate::error::AppError;
use crate::federation::accounts::{self, Account};
use crate::federation::id_token::Verified;
use crate::federation::leg::{self, Leg, Party};
use crate::store::{AuditKind, Interaction, Upstream, UpstreamWait};
use crate::tokens::opaque;

/// The upstream an identifier shaped like an address routes to, by its domain.
pub fn for_identifier(state: &AppState, identifier: &str) -> Option<Upstream> {
    rules::identifier_domain(identifier).and_then(|d| state.upstreams.by_domain(&d))
}

/// The upstream a request names, so the choice is skipped: `idp_hint=NAME`, else a
/// `login_hint` at a routed domain. An `idp_hint` that names no upstream is ignored.
pub fn for_request(state: &AppState, interaction: &Interaction) -> Option<Upstream> {
    let request = &interaction.request;
    request
        .idp_hint
        .as_deref()
        .and_then(|name| state.upstreams.by_name(name))
        .or_else(|| {
            request
                .login_hint
                .as_deref()
                .and_then(|hint| for_identifier(state, hint))
        })
}

/// Ferriam's redirect URI at the upstream `name`.
fn redirect_uri(state: &AppState, name: &str) -> String {
    format!("{}{}", state.issuer, rules::callback_path(name))
}

fn party<'a>(state: &'a AppState, upstream: &'a Upstream, redirect_uri: &'a str) -> Party<'a> {
    Party {
        discovery: &state.federation.discovery,
        http: &state.federation.http,
        upstream,
        redirect_uri,
    }
}

fn login_path(id: &str) -> String {
    format!("/signin/login?interaction={id}")
}

/// Sends the browser of interaction `id` to `upstream`; `login_hint` is the identifier the
/// user typed, passed on.
pub async fn start(
    state: &AppState,
    id: &str,
    mut interaction: Interaction,
    upstream: &Upstream,
    login_hint: Option<&str>,
) -> Result<Response, AppError> {
    let redirect_uri = redirect_uri(state, &upstream.name);
    let party = party(state, upstream, &redirect_uri);
    let extra = forwarded(&interaction.request, login_hint);
    let (url, leg) = match leg::authorization_url(party, state.now(), &extra).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(upstream = %upstream.name, error = ?e.to_string(), "an upstream could not be reached");
            return Ok(state.pages.error_with_back(
                StatusCode::BAD_REQUEST,
                "temporarily_unavailable",
                &format!(
                    "{} cannot be reached at the moment. Please try again later, or sign in another way.",
                    upstream.display_name
                ),
                &login_path(id),
            ));
        }
    };
    let state_hash = opaque::hash(&leg.state);
    interaction.upstream = Some(UpstreamWait {
        from: opaque::hash(id),
        leg,
    });
    state
        .store
        .save_interaction(&state_hash, &interaction)
        .await?;
    Ok(super::see_other(&url))
}

/// What the upstream is told of the client's request: the identifier the user typed, and a
/// demand for a fresh sign-in (`prompt=login`, `max_age`), which the upstream's own single
/// sign-on session would otherwise answer without asking the user.
fn forwarded(
    request: &AuthorizationRequest,
    login_hint: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut extra = Vec::new();
    if let Some(hint) = login_hint {
        extra.push(("login_hint", hint.to_owned()));
    }
    if request.prompt.login {
        extra.push(("prompt", "login".to_owned()));
    }
    if let Some(max_age) = request.max_age {
        extra.push(("max_age", max_age.to_string()));
    }
    extra
}

/// Why an upstream's answer ended the sign-in; the details go to the log, not the page.
enum Refusal {
    /// The upstream is no longer registered.
    Gone,
    /// The user cancelled or was refused at the upstream (`error=access_denied`).
    Denied(String),
    /// The upstream answered with another error code.
    Failed { upstream: String, error: String },
    /// The answer could not be verified: mix-up, token, ID token or userinfo failure.
    Broken(String),
    /// The linked account is disabled.
    Disabled,
}

impl Refusal {
    /// The refusal in a few words, for the audit trail.
    fn reason(&self) -> &'static str {
        match self {
            Refusal::Gone => "the upstream is no longer registered",
            Refusal::Denied(_) => "the upstream answered access_denied",
            Refusal::Failed { .. } => "the upstream answered an error",
            Refusal::Broken(_) => "the upstream's answer could not be verified",
            Refusal::Disabled => "the account is disabled",
        }
    }

    fn page(&self, state: &AppState, back: Option<&str>) -> Response {
        let (status, code, message) = match self {
            Refusal::Gone => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "This sign-in provider is no longer available.".to_owned(),
            ),
            Refusal::Denied(upstream) => (
                StatusCode::FORBIDDEN,
                "access_denied",
                format!("The sign-in at {upstream} was cancelled or refused."),
            ),
            Refusal::Failed { upstream, error } => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("{upstream} could not sign you in (it answered {error})."),
            ),
            Refusal::Broken(upstream) => (
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!(
                    "The answer from {upstream} could not be verified, so you have not been signed in."
                ),
            ),
            Refusal::Disabled => (
                StatusCode::FORBIDDEN,
                "access_denied",
                "This account is disabled.".to_owned(),
            ),
        };
        match back {
            Some(back) => state.pages.error_with_back(status, code, &message, back),
            None => state.pages.error(status, code, &message),
        }
    }
}

/// The page for a callback that matches no waiting sign-in of this browser.
fn no_sign_in(state: &AppState) -> Response {
    state.pages.error(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "This sign-in is not valid: it was completed already, it expired, or it was started in another browser. Please go back to the application and try again.",
    )
}

/// Takes the upstream `name`'s answer to the sign-in its `state` names.
pub async fn callback(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    params: &Params,
) -> Result<Response, AppError> {
    let now = state.now();
    let taken = match params.get("state") {
        Some(s) => state.store.take_interaction(&opaque::hash(s), now).await?,
        None => None,
    };
    let Some(mut interaction) = taken else {
        tracing::info!(upstream = ?name, "an upstream answer with no waiting sign-in");
        return Ok(no_sign_in(state));
    };
    let Some(wait) = interaction.upstream.take() else {
        return Ok(no_sign_in(state));
    };
    if !super::same_browser(headers, &interaction.browser_hash) {
        // Someone else's answer (a link sent to this browser, or a login CSRF attempt): it
        // is used up, and on record.
        let mut event = crate::audit::event(AuditKind::SignIn, false, now);
        event.client_id = Some(interaction.request.client_id.clone());
        event.idp = Some(wait.leg.upstream.clone());
        event.reason = Some("the upstream's answer came to another browser".to_owned());
        crate::audit::record(state.store.as_ref(), event).await?;
        return Ok(no_sign_in(state));
    }
    // The request must still be waiting where the user left it: completed in another tab,
    // or expired, it cannot be completed again.
    if state
        .store
        .take_interaction(&wait.from, now)
        .await?
        .is_none()
    {
        return Ok(no_sign_in(state));
    }
    let signed_in = match answer(state, name, params, &wait.leg, now).await {
        Ok(found) => found,
        Err(refusal) => return refuse(state, interaction, refusal, &wait.leg.upstream, None).await,
    };
    let (upstream, verified) = signed_in;
    let user =
        match accounts::resolve(state.store.as_ref(), &upstream, &verified.claims, now).await? {
            Account::Active(user) => user,
            Account::Disabled(sub) => {
                let name = upstream.name.clone();
                return refuse(state, interaction, Refusal::Disabled, &name, Some(&sub)).await;
            }
        };
    // RFC 8176 has no value for a federated sign-in; `fed` is Microsoft Entra ID's. What the
    // upstream reported follows (DESIGN.md, "amr").
    let mut amr = vec!["fed".to_owned()];
    for method in verified.amr {
        if !amr.contains(&method) {
            amr.push(method);
        }
    }
    let id = opaque::random_token();
    interaction.csrf_hash = opaque::hash(&super::csrf_token(state, &id));
    let signed_in = SignedIn {
        user: &user,
        amr,
        idp: Some(&upstream.name),
    };
    completion::complete(state, headers, &id, interaction, signed_in).await
}

/// The upstream's answer checked and its code redeemed: the upstream and its validated claims.
async fn answer(
    state: &AppState,
    name: &str,
    params: &Params,
    leg: &Leg,
    now: i64,
) -> Result<(Upstream, Verified), Refusal> {
    let Some(upstream) = state.upstreams.by_name(&leg.upstream) else {
        return Err(Refusal::Gone);
    };
    // Debug-formatted: the reason may quote what the upstream sent, newlines included.
    let broken = |reason: &dyn std::fmt::Display| {
        let reason = reason.to_string();
        tracing::warn!(upstream = %upstream.name, reason = ?reason, "an upstream answer was refused");
        Refusal::Broken(upstream.display_name.clone())
    };
    // The answer reached the callback of another upstream than the one the user was sent to.
    if leg.upstream != name {
        return Err(broken(&format_args!("it came to the callback of {name:?}")));
    }
    let redirect_uri = redirect_uri(state, &upstream.name);
    let party = party(state, &upstream, &redirect_uri);
    let metadata = state
        .federation
        .discovery
        .get(party.http, &upstream, now)
        .await
        .map_err(|e| broken(&e))?;
    // RFC 9207 §2.4: an `iss` must be the upstream's issuer, and one that advertises the
    // parameter must send it, in error responses too.
    match params.get("iss") {
        Some(iss) if iss != upstream.issuer => {
            return Err(broken(&"its iss is another issuer"));
        }
        None if metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported =>
        {
            return Err(broken(&"it has no iss although the upstream advertises it"));
        }
        _ => {}
    }
    if let Some(error) = params.get("error") {
        tracing::info!(upstream = %upstream.name, error = ?error, "an upstream refused a sign-in");
        return Err(if error == "access_denied" {
            Refusal::Denied(upstream.display_name.clone())
        } else {
            Refusal::Failed {
                upstream: upstream.display_name.clone(),
                error: printable_code(error),
            }
        });
    }
    let Some(code) = params.get("code") else {
        return Err(broken(&"it has neither a code nor an error"));
    };
    let secret = match crate::federation::open_secret(&upstream.name, &upstream.client_secret) {
        Ok(Some(secret)) => secret,
        Ok(None) => return Err(broken(&"its stored client secret is not valid")),
        Err(e) => return Err(broken(&e)),
    };
    let verified = leg::redeem(party, &secret, leg, code, now)
        .await
        .map_err(|e| broken(&e))?;
    Ok((upstream, verified))
}

/// An upstream's error code as the page shows it: RFC 6749 §4.1.2.1 error codes are ASCII
/// without quotes or backslashes; anything else, or a long one, is not repeated.
fn printable_code(error: &str) -> String {
    let ok = error.len() <= 64
        && error
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        error.to_owned()
    } else {
        "an error".to_owned()
    }
}

/// Shows why the sign-in ended, with a link back to the choice: the interaction is stored
/// again under a new id (its old id was not stored, only its hash). The audit trail records
/// the refusal with the upstream it came through.
async fn refuse(
    state: &AppState,
    mut interaction: Interaction,
    refusal: Refusal,
    idp: &str,
    sub: Option<&str>,
) -> Result<Response, AppError> {
    let mut event = crate::audit::event(AuditKind::SignIn, false, state.now());
    event.sub = sub.map(str::to_owned);
    event.client_id = Some(interaction.request.client_id.clone());
    event.idp = Some(idp.to_owned());
    event.reason = Some(refusal.reason().to_owned());
    crate::audit::record(state.store.as_ref(), event).await?;
    let id = opaque::random_token();
    interaction.csrf_hash = opaque::hash(&super::csrf_token(state, &id));
    state
        .store
        .save_interaction(&opaque::hash(&id), &interaction)
        .await?;
    Ok(refusal.page(state, Some(&login_path(&id))))
}
