//! `OtpStore` on PostgreSQL.

use async_trait::async_trait;
use sqlx::Row;

use super::super::otp::{sql, Attempt, NewCode, OtpStore};
use super::PgStore;
use crate::store::StoreResult;

#[async_trait]
impl OtpStore for PgStore {
    async fn send_code(&self, id_hash: &str, code: &NewCode, max_sends: i64) -> StoreResult<bool> {
        let done = sqlx::query(sql::SEND)
            .bind(id_hash)
            .bind(&code.code_mac)
            .bind(&code.factor)
            .bind(code.expires_at)
            .bind(max_sends)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn attempt_code(
        &self,
        id_hash: &str,
        now: i64,
        max_attempts: i64,
    ) -> StoreResult<Attempt> {
        let row = sqlx::query(sql::ATTEMPT)
            .bind(id_hash)
            .bind(now)
            .bind(max_attempts)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Attempt::Counted {
                code_mac: r.try_get("code_mac")?,
                attempts: r.try_get("attempts")?,
            }),
            None => Ok(Attempt::NoCode),
        }
    }

    async fn use_code(&self, id_hash: &str) -> StoreResult<bool> {
        let done = sqlx::query(sql::USE)
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
