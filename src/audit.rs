//! Writing the audit trail from the request paths and commands: every finished or failed
//! sign-in, refused attempts on a locked account, and ended sessions (DESIGN.md, "Audit"). The
//! address is the peer of the request being handled, if any; the row is written before the
//! answer, so an answered sign-in is on record.

use crate::store::{AuditEvent, AuditKind, Store, StoreResult};

/// An event of `kind` at `now`, from the current request's address.
pub fn event(kind: AuditKind, ok: bool, now: i64) -> AuditEvent {
    let mut event = AuditEvent::new(kind, ok, now);
    event.ip = crate::web::peer::current().map(|peer| peer.ip().to_string());
    event
}

/// Writes `event`, and logs it (its fields are ids and names, never secrets).
pub async fn record(store: &dyn Store, event: AuditEvent) -> StoreResult<()> {
    tracing::info!(
        event = %event.event,
        outcome = %event.outcome,
        sub = event.sub.as_deref().unwrap_or(""),
        client_id = event.client_id.as_deref().unwrap_or(""),
        idp = event.idp.as_deref().unwrap_or(""),
        reason = event.reason.as_deref().unwrap_or(""),
        "audit"
    );
    store.record_audit(&event).await
}
