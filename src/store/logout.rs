//! What logout stores: which clients took part in each session, the user's sessions as the CLI
//! lists them, ending a session in one transaction, and the durable queue of back-channel
//! logout deliveries (any node may send a due one; a claim is one atomic statement).

use async_trait::async_trait;

use super::StoreResult;

/// A live session as `ferriam user sessions` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    pub sid: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub amr: Vec<String>,
    /// The upstream identity provider the session was signed in through, if any.
    pub idp: Option<String>,
    /// The clients that received a code or tokens in this session, sorted.
    pub clients: Vec<String>,
}

/// A session that [`LogoutStore::end_session`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSession {
    pub sid: String,
    pub sub: String,
    /// The clients that took part in it, sorted; each has a back-channel delivery queued.
    pub clients: Vec<String>,
    /// The grants whose refresh tokens were revoked.
    pub revoked_grants: Vec<String>,
}

/// A back-channel logout notification to send, as claimed from the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub client_id: String,
    pub sid: String,
    pub sub: String,
    /// Attempts so far, including the one this claim starts.
    pub attempts: i64,
}

#[async_trait]
pub trait LogoutStore {
    /// Records that `client_id` received a code or tokens in session `sid` (once per pair; a
    /// session that does not exist records nothing).
    async fn record_session_client(&self, sid: &str, client_id: &str) -> StoreResult<()>;
    /// The user's sessions that have not expired, oldest first.
    async fn user_sessions(&self, sub: &str, now: i64) -> StoreResult<Vec<SessionSummary>>;
    /// Ends session `sid` in one transaction: deletes it and its client list, revokes the grant
    /// of each of its refresh tokens whose scope lacks `offline_access` (kept at least until
    /// `revoke_until`, so access tokens of those grants are refused too), and queues a
    /// back-channel delivery for each of its clients, due at `now`. `None` when there is no
    /// such session.
    async fn end_session(
        &self,
        sid: &str,
        now: i64,
        revoke_until: i64,
    ) -> StoreResult<Option<EndedSession>>;
    /// Claims up to `batch` deliveries due at `now`: each claimed one counts an attempt and is
    /// not due again before `lease_until`, so two nodes never send the same one at once, and
    /// one whose sender died is sent again after the lease.
    async fn claim_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        batch: i64,
    ) -> StoreResult<Vec<Delivery>>;
    /// Removes a delivery: sent, or given up.
    async fn finish_delivery(&self, id: &str) -> StoreResult<()>;
    /// Makes a delivery due again at `next_attempt_at`.
    async fn retry_delivery(&self, id: &str, next_attempt_at: i64) -> StoreResult<()>;
    /// Deletes up to `batch` client lists of sessions that expired before `now`.
    async fn purge_session_clients(&self, now: i64, batch: i64) -> StoreResult<u64>;
}

/// Whether a refresh token of `scope` outlives the session: `offline_access` asks for access
/// while the user is not signed in (OpenID Connect Core §11).
pub(super) fn survives_logout(scope: &str) -> bool {
    scope.split(' ').any(|s| s == "offline_access")
}

/// The SQL of logout, shared by both back ends (see `statements`).
pub(super) mod sql {
    /// Takes the session's expiry so the row goes with its session; the WHERE clause keeps
    /// SQLite's upsert syntax unambiguous after INSERT … SELECT. `$1` is the client, `$2` the
    /// session (numbered in order of first use, as SQLite numbers them).
    pub const RECORD_SESSION_CLIENT: &str =
        "INSERT INTO session_clients (sid, client_id, expires_at) \
         SELECT s.sid, $1, s.expires_at FROM sessions s WHERE s.sid = $2 \
         ON CONFLICT (sid, client_id) DO NOTHING";
    pub const USER_SESSIONS: &str = "SELECT s.sid, s.created_at, s.expires_at, s.amr, \
         s.idp, c.client_id FROM sessions s LEFT JOIN session_clients c ON c.sid = s.sid \
         WHERE s.sub = $1 AND s.expires_at > $2 ORDER BY s.created_at, s.sid, c.client_id";
    pub const DELETE_SESSION_BY_SID: &str = "DELETE FROM sessions WHERE sid = $1 RETURNING sub";
    pub const DELETE_SESSION_CLIENTS: &str =
        "DELETE FROM session_clients WHERE sid = $1 RETURNING client_id";
    /// The user's refresh tokens not yet revoked; which belong to the session is read from
    /// their records (the session id lives in the record, not in a column).
    pub const USER_REFRESH_TOKENS: &str =
        "SELECT data FROM refresh_tokens WHERE sub = $1 AND revoked = FALSE";
    pub const QUEUE_DELIVERY: &str = "INSERT INTO backchannel_deliveries (id, client_id, sid, \
         sub, attempts, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 0, $5, $5)";
    /// The outer `next_attempt_at <= $2` is checked again on the row as locked, so of two
    /// nodes claiming the same row at once only the first updates it (PostgreSQL re-evaluates
    /// the WHERE clause of an UPDATE that waited for a row lock; SQLite has one writer).
    pub const CLAIM_DELIVERIES: &str = "UPDATE backchannel_deliveries \
         SET attempts = attempts + 1, next_attempt_at = $1 \
         WHERE next_attempt_at <= $2 AND id IN (SELECT id FROM backchannel_deliveries \
         WHERE next_attempt_at <= $2 ORDER BY next_attempt_at LIMIT $3) \
         RETURNING id, client_id, sid, sub, attempts";
    pub const FINISH_DELIVERY: &str = "DELETE FROM backchannel_deliveries WHERE id = $1";
    pub const RETRY_DELIVERY: &str =
        "UPDATE backchannel_deliveries SET next_attempt_at = $1 WHERE id = $2";
    pub const PURGE_SESSION_CLIENTS: &str =
        "DELETE FROM session_clients WHERE (sid, client_id) IN \
         (SELECT sid, client_id FROM session_clients WHERE expires_at < $1 LIMIT $2)";
}

/// One row of `sql::USER_SESSIONS`: sid, created_at, expires_at, amr, idp, and a client (if
/// any).
pub(super) type SessionRow = (
    String,
    i64,
    i64,
    Vec<String>,
    Option<String>,
    Option<String>,
);

/// Groups the rows of `sql::USER_SESSIONS` (one per session and client) into sessions.
pub(super) fn group_sessions(rows: Vec<SessionRow>) -> Vec<SessionSummary> {
    let mut sessions: Vec<SessionSummary> = Vec::new();
    for (sid, created_at, expires_at, amr, idp, client) in rows {
        if sessions.last().is_none_or(|s| s.sid != sid) {
            sessions.push(SessionSummary {
                sid,
                created_at,
                expires_at,
                amr,
                idp,
                clients: Vec::new(),
            });
        }
        if let (Some(session), Some(client)) = (sessions.last_mut(), client) {
            session.clients.push(client);
        }
    }
    sessions
}

/// From the user's refresh-token records, the grants that ending `sid` revokes, each with how
/// long its revocation must be kept.
pub(super) fn grants_to_revoke(
    records: &[super::RefreshRecord],
    sid: &str,
    revoke_until: i64,
) -> Vec<(String, i64)> {
    let mut grants: Vec<(String, i64)> = Vec::new();
    for r in records
        .iter()
        .filter(|r| r.sid == sid && !survives_logout(&r.scope))
    {
        let until = r.family_expires_at.max(revoke_until);
        match grants.iter_mut().find(|(g, _)| *g == r.grant_id) {
            Some((_, u)) => *u = (*u).max(until),
            None => grants.push((r.grant_id.clone(), until)),
        }
    }
    grants
}
