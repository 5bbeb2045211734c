//! The end of a successful sign-in, whichever way the user proved who they are (the local
//! password form or an upstream identity provider): a new single sign-on session, then the
//! consent page or, when consent is on record, the authorization response.

use axum::http::HeaderMap;
use axum::response::Response;

use super::SESSION_COOKIE;
use crate::app::AppState;
use crate::error::AppError;
use crate::store::{AuditKind, Interaction, Session};
use crate::tokens::opaque;
use crate::web::extract::cookie;

/// How the user signed in.
pub struct SignedIn<'a> {
    /// The local account.
    pub sub: &'a str,
    /// The methods used (RFC 8176 values and `fed`).
    pub amr: Vec<String>,
    /// The upstream identity provider, for a federated sign-in.
    pub idp: Option<&'a str>,
}

/// Starts the session of a sign-in that succeeded in interaction `id` and continues the
/// authorization request.
pub async fn complete(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    mut interaction: Interaction,
    signed_in: SignedIn<'_>,
) -> Result<Response, AppError> {
    let now = state.now();
    // A new sign-in always makes a new session with a new id (Keycloak CVE-2023-6787).
    if let Some(old) = cookie(headers, SESSION_COOKIE) {
        state.store.delete_session(&opaque::hash(old)).await?;
    }
    let session_value = opaque::random_token();
    let session = Session {
        sid: opaque::random_token(),
        sub: signed_in.sub.to_owned(),
        auth_time: now,
        amr: signed_in.amr,
        expires_at: now + state.config.session_ttl as i64,
        idp: signed_in.idp.map(str::to_owned),
    };
    state
        .store
        .create_session(&opaque::hash(&session_value), &session)
        .await?;
    let mut event = crate::audit::event(AuditKind::SignIn, true, now);
    event.sub = Some(session.sub.clone());
    event.client_id = Some(interaction.request.client_id.clone());
    event.idp = session.idp.clone();
    crate::audit::record(state.store.as_ref(), event).await?;
    interaction.sub = Some(session.sub.clone());
    interaction.auth_time = session.auth_time;
    interaction.amr = session.amr.clone();
    interaction.sid = session.sid.clone();
    let mut response = if super::needs_consent(state, &interaction.request, &session.sub).await? {
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
