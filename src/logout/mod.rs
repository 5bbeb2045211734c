//! Ending single sign-on sessions, the one way `/logout` and `ferriam user logout` both use:
//! the store ends the session, revokes its refresh tokens (unless `offline_access`) and queues
//! the back-channel notifications in one transaction; [`backchannel`] sends them from any node.
//! Clearing the cookie and the front-channel frames are the web handler's part.

pub mod backchannel;

use crate::config::Config;
use crate::store::{AuditKind, EndedSession, SessionSummary, Store, StoreResult};

/// How long a revoked grant is remembered at least: longer than any access token of it lives
/// (the default lifetime, or a day for clients that registered a longer one).
fn revocation_horizon(config: &Config) -> i64 {
    config.access_token_ttl.max(24 * 3600) as i64
}

/// Ends session `sid`: see [`crate::store::LogoutStore::end_session`]. `None` when there is
/// no such session.
pub async fn end_session(
    store: &dyn Store,
    config: &Config,
    sid: &str,
    now: i64,
) -> StoreResult<Option<EndedSession>> {
    let ended = store
        .end_session(sid, now, now + revocation_horizon(config))
        .await?;
    if let Some(e) = &ended {
        tracing::info!(
            clients = e.clients.len(),
            revoked_grants = e.revoked_grants.len(),
            "session ended"
        );
        let mut event = crate::audit::event(AuditKind::Logout, true, now);
        event.sub = Some(e.sub.clone());
        crate::audit::record(store, event).await?;
    }
    Ok(ended)
}

/// Ends the live sessions of user `sub`, all of them or only `only_sid`, as `/logout` does
/// (`ferriam user logout`). `None` when `only_sid` is not a live session of this user.
pub async fn end_user_sessions(
    store: &dyn Store,
    config: &Config,
    sub: &str,
    only_sid: Option<&str>,
    now: i64,
) -> StoreResult<Option<Vec<EndedSession>>> {
    let live = store.user_sessions(sub, now).await?;
    if only_sid.is_some_and(|sid| !live.iter().any(|s| s.sid == sid)) {
        return Ok(None);
    }
    let mut ended = Vec::new();
    for session in live
        .iter()
        .filter(|s| only_sid.is_none_or(|sid| s.sid == sid))
    {
        if let Some(e) = end_session(store, config, &session.sid, now).await? {
            ended.push(e);
        }
    }
    Ok(Some(ended))
}

/// The JSON of `ferriam user sessions`: `[{"sid", "created_at", "expires_at", "amr", "idp",
/// "clients"}]` (`idp` is null for the local form).
pub fn sessions_json(sessions: &[SessionSummary]) -> serde_json::Value {
    sessions
        .iter()
        .map(|s| {
            serde_json::json!({
                "sid": s.sid,
                "created_at": s.created_at,
                "expires_at": s.expires_at,
                "amr": s.amr,
                "idp": s.idp,
                "clients": s.clients,
            })
        })
        .collect()
}
