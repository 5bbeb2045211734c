//! `FactorStore` on SQLite.

use async_trait::async_trait;
use rusqlite::params;

use super::super::factors::{sql, totp_row, FactorStore, TotpFactor};
use super::{execute, first, SqliteStore};
use crate::store::StoreResult;

#[async_trait]
impl FactorStore for SqliteStore {
    async fn set_totp(&self, sub: &str, secret: &str, now: i64) -> StoreResult<()> {
        let (sub, secret) = (sub.to_owned(), secret.to_owned());
        self.run(move |c| execute(c, sql::SET_TOTP, params![sub, secret, now]).map(drop))
            .await
    }

    async fn totp(&self, sub: &str) -> StoreResult<Option<TotpFactor>> {
        let sub = sub.to_owned();
        self.run(move |c| first(c, sql::TOTP, [sub], |r| totp_row(r)))
            .await
    }

    async fn use_totp_step(&self, sub: &str, step: i64) -> StoreResult<bool> {
        let sub = sub.to_owned();
        self.run(move |c| Ok(execute(c, sql::USE_TOTP_STEP, params![step, sub])? > 0))
            .await
    }

    async fn set_user_code(&self, sub: &str, hash: &str, now: i64) -> StoreResult<()> {
        let (sub, hash) = (sub.to_owned(), hash.to_owned());
        self.run(move |c| execute(c, sql::SET_USER_CODE, params![sub, hash, now]).map(drop))
            .await
    }

    async fn user_code(&self, sub: &str) -> StoreResult<Option<String>> {
        let sub = sub.to_owned();
        self.run(move |c| first(c, sql::USER_CODE, [sub], |r| Ok(r.get("secret")?)))
            .await
    }

    async fn delete_factor(&self, sub: &str, kind: &str) -> StoreResult<bool> {
        let (sub, kind) = (sub.to_owned(), kind.to_owned());
        self.run(move |c| Ok(execute(c, sql::DELETE, params![sub, kind])? > 0))
            .await
    }
}
