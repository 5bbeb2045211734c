//! The audit trail: what happened at sign-in (and, as the factors arrive, at each factor,
//! enrolment and lockout) and at logout, so that an operator can answer "who signed in, how,
//! through which upstream, and which rule decided it". The records and the store trait, shared
//! by both back ends.

use async_trait::async_trait;

use super::rows::Columns;
use super::StoreResult;

/// What an audit event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    SignIn,
    Factor,
    Enrol,
    Lockout,
    Logout,
}

impl AuditKind {
    /// The name `ferriam audit` prints (DESIGN.md, "Audit").
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::SignIn => "signin",
            AuditKind::Factor => "factor",
            AuditKind::Enrol => "enrol",
            AuditKind::Lockout => "lockout",
            AuditKind::Logout => "logout",
        }
    }
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// Unix seconds.
    pub at: i64,
    /// `signin`, `factor`, `enrol`, `lockout` or `logout` ([`AuditKind::as_str`]).
    pub event: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// The account, when one is known (never for an unknown username).
    pub sub: Option<String>,
    pub client_id: Option<String>,
    /// The address the request came from.
    pub ip: Option<String>,
    /// The upstream identity provider, for a federated sign-in.
    pub idp: Option<String>,
    /// The sign-in policy rule that decided which factors were asked.
    pub rule: Option<String>,
    /// The factor kinds involved (`email`, `sms`, `totp`).
    pub factors: Vec<String>,
    /// Why, in a few words, for a failure.
    pub reason: Option<String>,
}

impl AuditEvent {
    /// An event of `kind` at `at`, its outcome success when `ok`, with every optional field
    /// empty.
    pub fn new(kind: AuditKind, ok: bool, at: i64) -> Self {
        Self {
            at,
            event: kind.as_str().to_owned(),
            outcome: if ok { "success" } else { "failure" }.to_owned(),
            sub: None,
            client_id: None,
            ip: None,
            idp: None,
            rule: None,
            factors: Vec::new(),
            reason: None,
        }
    }
}

/// Which events `ferriam audit` lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub sub: Option<String>,
    pub client_id: Option<String>,
    /// Only events at or after this time (Unix seconds).
    pub since: i64,
    pub limit: i64,
}

#[async_trait]
pub trait AuditStore {
    async fn record_audit(&self, event: &AuditEvent) -> StoreResult<()>;
    /// The events the filter selects, newest first.
    async fn audit_events(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;
    /// Deletes up to `batch` events older than `before`; returns how many.
    async fn purge_audit(&self, before: i64, batch: i64) -> StoreResult<u64>;
}

pub(super) mod sql {
    pub const INSERT: &str = "INSERT INTO audit_events (at, event, outcome, sub, client_id, ip, \
         idp, rule, factors, reason) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    pub const SELECT: &str = "SELECT at, event, outcome, sub, client_id, ip, idp, rule, \
         factors, reason FROM audit_events WHERE ($1 IS NULL OR sub = $1) \
         AND ($2 IS NULL OR client_id = $2) AND at >= $3 ORDER BY at DESC, id DESC LIMIT $4";
    pub const PURGE: &str = "DELETE FROM audit_events WHERE id IN \
         (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)";
}

/// An event from the columns of a row.
pub(super) fn event_row(row: &impl Columns) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        at: row.column("at")?,
        event: row.column("event")?,
        outcome: row.column("outcome")?,
        sub: row.column("sub")?,
        client_id: row.column("client_id")?,
        ip: row.column("ip")?,
        idp: row.column("idp")?,
        rule: row.column("rule")?,
        factors: row.json("factors")?,
        reason: row.column("reason")?,
    })
}
