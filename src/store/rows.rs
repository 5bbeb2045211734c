//! Reading records from result rows, written once for both back ends: each back end's row type
//! only says how to read a column of each kind.

use serde::de::DeserializeOwned;
use sqlx::Postgres;

use super::records::from_json;
use super::{
    CodeRedemption, FailureCount, KeyRecord, RefreshRecord, Session, StoreResult, StoredClient,
    User,
};

/// A column type both back ends can read (text, integers, booleans and their optional forms).
pub(super) trait Column:
    rusqlite::types::FromSql + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>
{
}

impl<T> Column for T where
    T: rusqlite::types::FromSql + for<'r> sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>
{
}

/// The columns of one result row, by name.
pub(super) trait Columns {
    /// The value of the column `name`.
    fn column<T: Column>(&self, name: &str) -> StoreResult<T>;

    /// A text column holding JSON, decoded.
    fn json<T: DeserializeOwned>(&self, name: &str) -> StoreResult<T> {
        from_json(&self.column::<String>(name)?)
    }
}

/// A user from the user columns of a row (see `statements::user_columns`).
pub(super) fn user(row: &impl Columns) -> StoreResult<User> {
    Ok(User {
        sub: row.column("sub")?,
        username: row.column("username")?,
        password_hash: row.column("password_hash")?,
        disabled: row.column("disabled")?,
        profile: row.json("profile")?,
        created_at: row.column("created_at")?,
        updated_at: row.column("updated_at")?,
    })
}

/// The user of a row whose user columns come from an outer join (absent when `sub` is null).
pub(super) fn joined_user(row: &impl Columns) -> StoreResult<Option<User>> {
    match row.column::<Option<String>>("sub")? {
        Some(_) => Ok(Some(user(row)?)),
        None => Ok(None),
    }
}

pub(super) fn stored_client(row: &impl Columns) -> StoreResult<StoredClient> {
    Ok(StoredClient {
        client: row.json("settings")?,
        secret_hash: row.column("secret_hash")?,
        sealed_secret: row.column("sealed_secret")?,
    })
}

pub(super) fn failure_count(row: &impl Columns) -> StoreResult<FailureCount> {
    Ok(FailureCount {
        failures: row.column("failures")?,
        window_ends: row.column("window_ends")?,
    })
}

pub(super) fn key(row: &impl Columns) -> StoreResult<KeyRecord> {
    Ok(KeyRecord {
        kid: row.column("kid")?,
        alg: row.column("alg")?,
        private_pkcs8: row.column("private_pkcs8")?,
        created_at: row.column("created_at")?,
        retired_at: row.column("retired_at")?,
    })
}

pub(super) fn session(row: &impl Columns) -> StoreResult<Session> {
    Ok(Session {
        sid: row.column("sid")?,
        sub: row.column("sub")?,
        auth_time: row.column("auth_time")?,
        amr: row.json("amr")?,
        expires_at: row.column("expires_at")?,
        idp: row.column("idp")?,
        factors: row.json("factors")?,
    })
}

/// A code just redeemed, with its user (see `statements::REDEEM_CODE`).
pub(super) fn fresh_code(row: &impl Columns) -> StoreResult<CodeRedemption> {
    Ok(CodeRedemption::Fresh {
        code: Box::new(row.json("data")?),
        user: joined_user(row)?.map(Box::new),
    })
}

/// A refresh token with its user (see `statements::REFRESH`).
pub(super) fn refresh(row: &impl Columns) -> StoreResult<(RefreshRecord, Option<User>)> {
    let mut record: RefreshRecord = row.json("data")?;
    record.issued_at = row.column("issued_at")?;
    record.rotated_at = row.column("rotated_at")?;
    record.revoked = row.column("revoked")?;
    Ok((record, joined_user(row)?))
}
