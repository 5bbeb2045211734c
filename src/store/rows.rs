//! Reading records from result rows, written once for both back ends: each back end's row type
//! only says how to read a column of each kind.

use super::records::from_json;
use super::{CodeRedemption, KeyRecord, RefreshRecord, Session, StoreResult, StoredClient, User};

/// The columns of one result row, by name.
pub(super) trait Columns {
    fn text(&self, name: &str) -> StoreResult<String>;
    fn optional_text(&self, name: &str) -> StoreResult<Option<String>>;
    fn integer(&self, name: &str) -> StoreResult<i64>;
    fn optional_integer(&self, name: &str) -> StoreResult<Option<i64>>;
    fn boolean(&self, name: &str) -> StoreResult<bool>;
}

/// A user from the user columns of a row (see `statements::user_columns`).
pub(super) fn user(row: &impl Columns) -> StoreResult<User> {
    Ok(User {
        sub: row.text("sub")?,
        username: row.text("username")?,
        password_hash: row.optional_text("password_hash")?,
        disabled: row.boolean("disabled")?,
        profile: from_json(&row.text("profile")?)?,
        created_at: row.integer("created_at")?,
        updated_at: row.integer("updated_at")?,
    })
}

/// The user of a row whose user columns come from an outer join (absent when `sub` is null).
pub(super) fn joined_user(row: &impl Columns) -> StoreResult<Option<User>> {
    match row.optional_text("sub")? {
        Some(_) => Ok(Some(user(row)?)),
        None => Ok(None),
    }
}

pub(super) fn stored_client(row: &impl Columns) -> StoreResult<StoredClient> {
    Ok(StoredClient {
        client: from_json(&row.text("settings")?)?,
        secret_hash: row.optional_text("secret_hash")?,
    })
}

pub(super) fn key(row: &impl Columns) -> StoreResult<KeyRecord> {
    Ok(KeyRecord {
        kid: row.text("kid")?,
        alg: row.text("alg")?,
        private_pkcs8: row.text("private_pkcs8")?,
        created_at: row.integer("created_at")?,
        retired_at: row.optional_integer("retired_at")?,
    })
}

pub(super) fn session(row: &impl Columns) -> StoreResult<Session> {
    Ok(Session {
        sid: row.text("sid")?,
        sub: row.text("sub")?,
        auth_time: row.integer("auth_time")?,
        amr: from_json(&row.text("amr")?)?,
        expires_at: row.integer("expires_at")?,
    })
}

/// A code just redeemed, with its user (see `statements::REDEEM_CODE`).
pub(super) fn fresh_code(row: &impl Columns) -> StoreResult<CodeRedemption> {
    Ok(CodeRedemption::Fresh {
        code: Box::new(from_json(&row.text("data")?)?),
        user: joined_user(row)?.map(Box::new),
    })
}

/// A refresh token with its user (see `statements::REFRESH`).
pub(super) fn refresh(row: &impl Columns) -> StoreResult<(RefreshRecord, Option<User>)> {
    let mut record: RefreshRecord = from_json(&row.text("data")?)?;
    record.issued_at = row.integer("issued_at")?;
    record.rotated_at = row.optional_integer("rotated_at")?;
    record.revoked = row.boolean("revoked")?;
    Ok((record, joined_user(row)?))
}
