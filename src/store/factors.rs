//! Enrolled factors with a secret (TOTP, RFC 6238): the sealed secret and the last accepted
//! time step, which one atomic statement moves forward so that a code is accepted once even
//! when two nodes check it at the same time. The records and the store trait, shared by both
//! back ends.

use async_trait::async_trait;

use super::rows::Columns;
use super::StoreResult;

/// A user's enrolled TOTP factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpFactor {
    /// The secret in its stored form (`tokens::sealing`).
    pub secret: String,
    pub last_used_step: Option<i64>,
    pub created_at: i64,
}

#[async_trait]
pub trait FactorStore {
    /// Enrols (or replaces) the user's TOTP secret; a replaced one's last step is forgotten.
    async fn set_totp(&self, sub: &str, secret: &str, now: i64) -> StoreResult<()>;
    async fn totp(&self, sub: &str) -> StoreResult<Option<TotpFactor>>;
    /// Records `step` as used if it is later than the last one used: false when it is not
    /// (a replayed code), or when the user has no TOTP factor.
    async fn use_totp_step(&self, sub: &str, step: i64) -> StoreResult<bool>;
    /// Sets (or replaces) the user's CIBA user code, as its argon2id hash (CIBA §7.1
    /// `user_code`: a secret the user gives the client so that only they can start requests).
    async fn set_user_code(&self, sub: &str, hash: &str, now: i64) -> StoreResult<()>;
    /// The hash of the user's CIBA user code, if they set one.
    async fn user_code(&self, sub: &str) -> StoreResult<Option<String>>;
    /// Removes the factor of `kind`; false when there was none.
    async fn delete_factor(&self, sub: &str, kind: &str) -> StoreResult<bool>;
}

pub(super) mod sql {
    pub const SET_TOTP: &str = "INSERT INTO user_factors (sub, kind, secret, created_at) \
         VALUES ($1, 'totp', $2, $3) ON CONFLICT (sub, kind) DO UPDATE SET \
         secret = excluded.secret, created_at = excluded.created_at, last_used_step = NULL";
    pub const TOTP: &str = "SELECT secret, last_used_step, created_at FROM user_factors \
         WHERE sub = $1 AND kind = 'totp'";
    /// `$1` the step, `$2` the user (SQLite numbers parameters in their order of appearance).
    pub const USE_TOTP_STEP: &str = "UPDATE user_factors SET last_used_step = $1 \
         WHERE sub = $2 AND kind = 'totp' AND (last_used_step IS NULL OR last_used_step < $1)";
    pub const DELETE: &str = "DELETE FROM user_factors WHERE sub = $1 AND kind = $2";
    /// The CIBA user code is kept beside the factors, under its own kind.
    pub const SET_USER_CODE: &str = "INSERT INTO user_factors (sub, kind, secret, created_at) \
         VALUES ($1, 'ciba_user_code', $2, $3) ON CONFLICT (sub, kind) DO UPDATE SET \
         secret = excluded.secret, created_at = excluded.created_at";
    pub const USER_CODE: &str =
        "SELECT secret FROM user_factors WHERE sub = $1 AND kind = 'ciba_user_code'";
}

/// A TOTP factor from the columns of a row.
pub(super) fn totp_row(row: &impl Columns) -> StoreResult<TotpFactor> {
    Ok(TotpFactor {
        secret: row.column("secret")?,
        last_used_step: row.column("last_used_step")?,
        created_at: row.column("created_at")?,
    })
}
