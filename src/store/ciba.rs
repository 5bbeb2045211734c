//! CIBA backchannel authentication requests: created by the backchannel endpoint, decided
//! once on the user's device, redeemed once at the token endpoint (CIBA Core 1.0 §7, §10,
//! §11). A poll is one read by primary key; only a decision, a redemption or a `slow_down`
//! writes. The records and the store trait, shared by both back ends.

use async_trait::async_trait;
use ferriam_protocol::ciba::{DeliveryMode, RequestState};
use serde::{Deserialize, Serialize};

use super::StoreResult;

/// What the client asked, fixed when the request is created (the `data` column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CibaAsked {
    pub client_id: String,
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding_message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
    pub mode: DeliveryMode,
    /// The client's bearer token for its notification endpoint (ping and push): sent back to
    /// the client, so kept as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_token: Option<String>,
    pub created_at: i64,
}

/// A stored request with where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibaRequest {
    /// The public id the user's devices see (never the auth_req_id).
    pub request_id: String,
    pub sub: String,
    pub asked: CibaAsked,
    pub state: RequestState,
    /// Seconds a poll must wait; grows by 5 with each `slow_down`.
    pub interval: i64,
    pub expires_at: i64,
    /// Set by the decision: when, and how the user signed in to give it.
    pub decided_at: Option<i64>,
    pub auth_time: Option<i64>,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    /// The session the user approved from: the ID token's `sid`.
    pub sid: Option<String>,
}

/// The work a request queues, sent off the request path by whichever node claims it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CibaJob {
    /// The approval link to the user, by email and SMS; due when the request is made.
    ReachUser,
    /// The ping or push to the client; due when the user decides.
    NotifyClient,
}

/// The user's answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibaDecision {
    pub approve: bool,
    pub now: i64,
    /// When the client's notification is due (ping mode), if it gets one.
    pub notify_at: Option<i64>,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    pub sid: String,
}

#[async_trait]
pub trait CibaStore {
    /// Stores a new pending request under the hash of its auth_req_id.
    async fn create_ciba_request(&self, id_hash: &str, request: &CibaRequest) -> StoreResult<()>;
    /// The request an auth_req_id names (the poll's read), expired or not.
    async fn ciba_request(&self, id_hash: &str) -> StoreResult<Option<CibaRequest>>;
    /// The request a device is shown, by its public id.
    async fn ciba_request_by_id(&self, request_id: &str) -> StoreResult<Option<CibaRequest>>;
    /// The user's pending, unexpired requests, the soonest to expire first.
    async fn pending_ciba_requests(&self, sub: &str, now: i64) -> StoreResult<Vec<CibaRequest>>;
    /// Raises a pending request's poll interval to `interval` (never lowers it).
    async fn slow_ciba_polls(&self, id_hash: &str, interval: i64) -> StoreResult<()>;
    /// Records the user's decision on a pending, unexpired request: false when it was decided
    /// already or has expired (a second decision is refused).
    async fn decide_ciba_request(
        &self,
        request_id: &str,
        decision: &CibaDecision,
    ) -> StoreResult<bool>;
    /// The users whose email address or phone number is `contact` (at most two: more than one
    /// is as good as none for a hint).
    async fn users_by_contact(&self, contact: &str) -> StoreResult<Vec<super::User>>;
    /// Claims up to `batch` due jobs of kind `job`, each for one node until `lease_until` (a
    /// node that dies leaves it to another), and returns them with the attempts made so far.
    async fn claim_ciba_jobs(
        &self,
        job: CibaJob,
        now: i64,
        lease_until: i64,
        batch: i64,
    ) -> StoreResult<Vec<(CibaRequest, i64)>>;
    /// Ends a request's job: done, or given up.
    async fn finish_ciba_job(&self, job: CibaJob, request_id: &str) -> StoreResult<()>;
    /// Makes a request's job due again at `at`.
    async fn retry_ciba_job(&self, job: CibaJob, request_id: &str, at: i64) -> StoreResult<()>;
    /// Marks an approved, unexpired request redeemed and returns it, once: `None` for every
    /// later (or concurrent) redemption.
    async fn redeem_ciba_request(
        &self,
        id_hash: &str,
        now: i64,
    ) -> StoreResult<Option<CibaRequest>>;
}

/// The name a state has in the `state` column.
pub(super) fn state_name(state: RequestState) -> &'static str {
    match state {
        RequestState::Pending => "pending",
        RequestState::Approved => "approved",
        RequestState::Denied => "denied",
        RequestState::Redeemed => "redeemed",
    }
}

/// The state a `state` column names.
pub(super) fn state_from(name: &str) -> StoreResult<RequestState> {
    Ok(match name {
        "pending" => RequestState::Pending,
        "approved" => RequestState::Approved,
        "denied" => RequestState::Denied,
        "redeemed" => RequestState::Redeemed,
        other => {
            return Err(super::StoreError::Corrupt(format!(
                "unknown CIBA request state {other:?}"
            )))
        }
    })
}

/// A request from its row.
pub(super) fn row(row: &impl super::rows::Columns) -> StoreResult<CibaRequest> {
    let amr: Option<String> = row.column("amr")?;
    Ok(CibaRequest {
        request_id: row.column("request_id")?,
        sub: row.column("sub")?,
        asked: row.json("data")?,
        state: state_from(&row.column::<String>("state")?)?,
        interval: row.column("poll_interval")?,
        expires_at: row.column("expires_at")?,
        decided_at: row.column("decided_at")?,
        auth_time: row.column("auth_time")?,
        amr: amr
            .map(|a| super::records::from_json(&a))
            .transpose()?
            .unwrap_or_default(),
        acr: row.column("acr")?,
        sid: row.column("sid")?,
    })
}

pub(super) mod sql {
    /// The columns every read returns, in [`super::row`]'s names.
    macro_rules! columns {
        () => {
            "request_id, sub, data, state, poll_interval, decided_at, auth_time, amr, acr, sid, \
             expires_at"
        };
    }

    /// The user is to be reached at once (`reach_at` = `$7`).
    pub const CREATE: &str = "INSERT INTO ciba_requests (id_hash, request_id, sub, data, state, \
         poll_interval, expires_at, reach_at) VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)";
    pub const BY_HASH: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM ciba_requests WHERE id_hash = $1"
    );
    pub const BY_ID: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM ciba_requests WHERE request_id = $1"
    );
    pub const PENDING: &str = concat!(
        "SELECT ",
        columns!(),
        " FROM ciba_requests WHERE sub = $1 AND state = 'pending' AND expires_at > $2 \
         ORDER BY expires_at"
    );
    pub const SLOW_DOWN: &str = "UPDATE ciba_requests SET poll_interval = $1 \
         WHERE id_hash = $2 AND state = 'pending' AND poll_interval < $1";
    pub const DECIDE: &str = "UPDATE ciba_requests SET state = $1, decided_at = $2, \
         auth_time = $3, amr = $4, acr = $5, sid = $6, notify_at = $7 \
         WHERE request_id = $8 AND state = 'pending' AND expires_at > $2";
    /// The claim, finish and retry statements of each job, on its own two columns.
    macro_rules! job {
        ($at:literal, $attempts:literal) => {
            [
                concat!(
                    "UPDATE ciba_requests SET ",
                    $attempts,
                    " = ",
                    $attempts,
                    " + 1, ",
                    $at,
                    " = $1 WHERE ",
                    $at,
                    " <= $2 AND id_hash IN (SELECT id_hash FROM ",
                    "ciba_requests WHERE ",
                    $at,
                    " <= $2 ORDER BY ",
                    $at,
                    " LIMIT $3) ",
                    "RETURNING ",
                    $attempts,
                    " AS attempts, ",
                    columns!()
                ),
                concat!(
                    "UPDATE ciba_requests SET ",
                    $at,
                    " = NULL WHERE request_id = $1"
                ),
                concat!(
                    "UPDATE ciba_requests SET ",
                    $at,
                    " = $1 WHERE request_id = $2"
                ),
            ]
        };
    }
    const REACH: [&str; 3] = job!("reach_at", "reach_attempts");
    const NOTIFY: [&str; 3] = job!("notify_at", "notify_attempts");

    /// `[claim, finish, retry]` of `job`.
    pub fn job(job: super::CibaJob) -> [&'static str; 3] {
        match job {
            super::CibaJob::ReachUser => REACH,
            super::CibaJob::NotifyClient => NOTIFY,
        }
    }
    // The same lookup in each dialect's JSON syntax, on the expressions migration 0015 indexes.
    pub const SQLITE_BY_CONTACT: &str =
        "SELECT sub, username, password_hash, disabled, profile, created_at, updated_at \
         FROM users WHERE json_extract(profile, '$.email') = $1 \
         OR json_extract(profile, '$.phone_number') = $1 LIMIT 2";
    pub const PG_BY_CONTACT: &str =
        "SELECT sub, username, password_hash, disabled, profile, created_at, updated_at \
         FROM users WHERE ((profile::jsonb) ->> 'email') = $1 \
         OR ((profile::jsonb) ->> 'phone_number') = $1 LIMIT 2";
    pub const REDEEM: &str = concat!(
        "UPDATE ciba_requests SET state = 'redeemed' \
         WHERE id_hash = $1 AND state = 'approved' AND expires_at > $2 RETURNING ",
        columns!()
    );
}
