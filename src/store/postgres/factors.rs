//! `FactorStore` on PostgreSQL.

use async_trait::async_trait;
use sqlx::Row;

use super::super::factors::{sql, totp_row, FactorStore, TotpFactor};
use super::PgStore;
use crate::store::StoreResult;

#[async_trait]
impl FactorStore for PgStore {
    async fn set_totp(&self, sub: &str, secret: &str, now: i64) -> StoreResult<()> {
        sqlx::query(sql::SET_TOTP)
            .bind(sub)
            .bind(secret)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn totp(&self, sub: &str) -> StoreResult<Option<TotpFactor>> {
        let row = sqlx::query(sql::TOTP)
            .bind(sub)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(totp_row).transpose()
    }

    async fn use_totp_step(&self, sub: &str, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(sql::USE_TOTP_STEP)
            .bind(step)
            .bind(sub)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_user_code(&self, sub: &str, hash: &str, now: i64) -> StoreResult<()> {
        sqlx::query(sql::SET_USER_CODE)
            .bind(sub)
            .bind(hash)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn user_code(&self, sub: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query(sql::USER_CODE)
            .bind(sub)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("secret")).transpose()?)
    }

    async fn delete_factor(&self, sub: &str, kind: &str) -> StoreResult<bool> {
        let done = sqlx::query(sql::DELETE)
            .bind(sub)
            .bind(kind)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
