//! One-time code challenges (email and SMS codes): the stored HMAC of the code, and the
//! attempt, send and use counters, each changed by one atomic statement so that the limits
//! hold however many nodes and requests race (DESIGN.md, "Codes"). The records and the store
//! trait, shared by both back ends.

use async_trait::async_trait;

use super::StoreResult;

/// A code to store: its HMAC, which factor sent it, and until when it is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    pub code_mac: String,
    /// `email` or `sms`.
    pub factor: String,
    pub expires_at: i64,
}

/// What [`OtpStore::attempt_code`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The attempt is counted (this is attempt number `attempts`); compare with `code_mac`.
    Counted { code_mac: String, attempts: i64 },
    /// No live code: none sent, expired, used, or its attempts spent.
    NoCode,
}

#[async_trait]
pub trait OtpStore {
    /// Stores the first code of challenge `id_hash`, or replaces its code with a new one (a
    /// resend: attempts start again, sends counts one more) while fewer than `max_sends` were
    /// sent. False when the send limit is reached: nothing changes.
    async fn send_code(&self, id_hash: &str, code: &NewCode, max_sends: i64) -> StoreResult<bool>;
    /// Counts one attempt at the live code of `id_hash`, at most `max_attempts` in all.
    async fn attempt_code(
        &self,
        id_hash: &str,
        now: i64,
        max_attempts: i64,
    ) -> StoreResult<Attempt>;
    /// Marks the code used, once: false when it was used already (two right answers racing).
    async fn use_code(&self, id_hash: &str) -> StoreResult<bool>;
}

pub(super) mod sql {
    /// The upsert of [`super::OtpStore::send_code`]: a new row, or a new code for a row whose
    /// sends are below `$5`.
    pub const SEND: &str = "INSERT INTO otp_challenges (id_hash, code_mac, factor, expires_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (id_hash) DO UPDATE SET \
         code_mac = excluded.code_mac, factor = excluded.factor, \
         expires_at = excluded.expires_at, attempts = 0, used = 0, \
         sends = otp_challenges.sends + 1 WHERE otp_challenges.sends < $5";
    pub const ATTEMPT: &str = "UPDATE otp_challenges SET attempts = attempts + 1 \
         WHERE id_hash = $1 AND expires_at > $2 AND used = 0 AND attempts < $3 \
         RETURNING code_mac, attempts";
    pub const USE: &str = "UPDATE otp_challenges SET used = 1 WHERE id_hash = $1 AND used = 0";
}
