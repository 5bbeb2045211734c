//! `ferriam audit`: the audit trail, newest first (DESIGN.md, "Audit").

use clap::Args;
use ferriam::store::{AuditEvent, AuditFilter, Store};
use ferriam_protocol::rfc3339;
use serde_json::{json, Value};

use super::{print_json, CliResult};

#[derive(Args)]
pub struct AuditArgs {
    /// Only this user's events (a username).
    #[arg(long)]
    user: Option<String>,
    /// Only events of this client.
    #[arg(long)]
    client: Option<String>,
    /// Only events at or after this time (RFC 3339, e.g. 2026-12-04T09:00:00Z).
    #[arg(long)]
    since: Option<String>,
    /// At most this many events (default 100).
    #[arg(long, default_value_t = 100)]
    limit: u32,
}

/// The JSON of one event: `at` in RFC 3339, the rest as stored.
fn event_json(e: &AuditEvent) -> Value {
    json!({
        "at": rfc3339::format(e.at),
        "event": e.event,
        "outcome": e.outcome,
        "sub": e.sub,
        "client_id": e.client_id,
        "ip": e.ip,
        "idp": e.idp,
        "rule": e.rule,
        "factors": e.factors,
        "reason": e.reason,
    })
}

pub async fn run(store: &std::sync::Arc<dyn Store>, args: AuditArgs) -> CliResult {
    let since = match &args.since {
        Some(text) => rfc3339::parse(text)
            .ok_or_else(|| format!("--since {text:?} is not an RFC 3339 date-time"))?,
        None => i64::MIN,
    };
    let sub = match &args.user {
        Some(username) => Some(
            store
                .user_by_username(username)
                .await?
                .ok_or_else(|| format!("no user named {username}"))?
                .sub,
        ),
        None => None,
    };
    let filter = AuditFilter {
        sub,
        client_id: args.client,
        since,
        limit: i64::from(args.limit),
    };
    let events: Vec<Value> = store
        .audit_events(&filter)
        .await?
        .iter()
        .map(event_json)
        .collect();
    print_json(&events)
}
