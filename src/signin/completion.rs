//! The end of a successful first factor, whichever way the user proved who they are (the
//! local password form or an upstream identity provider): the sign-in policy decides whether
//! second factors are needed (`signin::factors` asks for them), and once none remain, a new
//! single sign-on session starts and the consent page or, with consent on record, the
//! authorization response follows.

use axum::http::HeaderMap;
use axum::response::Response;
use ferriam_protocol::mfa::amr::{self, First};
use ferriam_protocol::mfa::policy::Decision;
use ferriam_protocol::mfa::Factor;

use super::SESSION_COOKIE;
use crate::app::AppState;
use crate::error::AppError;
use crate::mfa::{self, Context};
use crate::store::{AuditKind, Interaction, PendingFactors, Session, User};
use crate::tokens::opaque;
use crate::web::extract::cookie;

/// How the user proved the first factor.
pub struct SignedIn<'a> {
    /// The local account.
    pub user: &'a User,
    /// `["pwd"]`, or `["fed", ...what the upstream reported]`.
    pub amr: Vec<String>,
    /// The upstream identity provider, for a federated sign-in.
    pub idp: Option<&'a str>,
}

/// Continues interaction `id` after its first factor: second factors if the policy asks for
/// them, the session otherwise.
pub async fn complete(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    mut interaction: Interaction,
    signed_in: SignedIn<'_>,
) -> Result<Response, AppError> {
    let decision = policy(
        state,
        signed_in.user,
        signed_in.idp,
        &interaction.request.client_id,
        &interaction.request.acr_values,
    );
    // The interaction reaches the response only once the decision's factors are proved.
    interaction.request.satisfied_acr = decision.acr.clone();
    let pending = PendingFactors {
        sub: signed_in.user.sub.clone(),
        first_amr: signed_in.amr,
        idp: signed_in.idp.map(str::to_owned),
        rule: decision.rule,
        remaining: decision.require,
        choices: decision.any_of,
        proved: Vec::new(),
    };
    if pending.remaining.is_empty() && pending.choices.is_empty() {
        return start_session(state, headers, id, interaction, pending).await;
    }
    super::factors::begin(state, id, interaction, pending, signed_in.user).await
}

/// What the sign-in policy asks of `user` signing in to `client_id` through `idp` (`None`:
/// the local form) from the current request's address, for a request with `acr_values`.
pub fn policy(
    state: &AppState,
    user: &User,
    idp: Option<&str>,
    client_id: &str,
    acr_values: &[String],
) -> Decision {
    let registered: Vec<String> = state
        .upstreams
        .all()
        .iter()
        .map(|u| u.name.clone())
        .collect();
    let context = Context {
        idp,
        client_id: Some(client_id),
        ip: crate::web::peer::current().map(|p| p.ip()),
        acr_values,
        now: state.now(),
    };
    mfa::decide(&state.config.mfa.rules, &registered, user, &context)
}

/// Whether the factors a session proved meet `decision`: every required one, and one of an
/// `any_of` list. A session that does not is no single sign-on for that client.
pub fn satisfied(decision: &Decision, proved: &[Factor]) -> bool {
    decision.require.iter().all(|f| proved.contains(f))
        && (decision.any_of.is_empty() || decision.any_of.iter().any(|f| proved.contains(f)))
}

/// Starts the session of a sign-in whose factors are all proved, and continues the
/// authorization request.
pub async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    mut interaction: Interaction,
    pending: PendingFactors,
) -> Result<Response, AppError> {
    let now = state.now();
    // A new sign-in always makes a new session with a new id (Keycloak CVE-2023-6787).
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        state.store.delete_session(&opaque::hash(old)).await?;
    }
    let amr = match pending.idp {
        Some(_) => amr::amr(
            First::Upstream,
            &pending.proved,
            pending.first_amr.get(1..).unwrap_or_default(),
        ),
        None => amr::amr(First::Password, &pending.proved, &[]),
    };
    let session_value = opaque::random_token();
    let session = Session {
        sid: opaque::random_token(),
        sub: pending.sub.clone(),
        auth_time: now,
        amr,
        expires_at: now + state.config.session_ttl as i64,
        idp: pending.idp.clone(),
        factors: pending.proved.clone(),
    };
    state
        .store
        .create_session(&opaque::hash(&session_value), &session)
        .await?;
    let mut event = crate::audit::event(AuditKind::SignIn, true, now);
    event.sub = Some(session.sub.clone());
    event.client_id = Some(interaction.request.client_id.clone());
    event.idp = session.idp.clone();
    event.rule = pending.rule.clone();
    event.factors = pending
        .proved
        .iter()
        .map(|f| f.as_str().to_owned())
        .collect();
    crate::audit::record(state.store.as_ref(), event).await?;
    interaction.pending = None;
    interaction.sub = Some(session.sub.clone());
    interaction.auth_time = session.auth_time;
    interaction.amr = session.amr.clone();
    interaction.sid = session.sid.clone();
    let mut response = if let Some(page) = interaction.return_to.clone() {
        // A sign-in to one of the server's own pages ends there, with the new session.
        state.store.delete_interaction(&opaque::hash(id)).await?;
        super::see_other(&page)
    } else if super::needs_consent(state, &interaction.request, &session.sub).await? {
        state
            .store
            .save_interaction(&opaque::hash(id), &interaction)
            .await?;
        super::see_other(&format!("/signin/consent?interaction={id}"))
    } else {
        state.store.delete_interaction(&opaque::hash(id)).await?;
        super::finish(
            state,
            &interaction.request,
            &session.sub,
            session.auth_time,
            &session.amr,
            &session.sid,
        )
        .await?
    };
    super::set_session_cookie(state, &mut response, &session_value);
    Ok(response)
}
