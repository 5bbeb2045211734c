//! `LimitStore` on PostgreSQL.

use async_trait::async_trait;
use sqlx::Row;

use super::super::limits::{sql, LimitHit, LimitRule, LimitStore};
use super::PgStore;
use crate::store::StoreResult;

#[async_trait]
impl LimitStore for PgStore {
    async fn limit_blocks(
        &self,
        first_key: &str,
        second_key: &str,
        now: i64,
    ) -> StoreResult<Vec<(String, i64)>> {
        sqlx::query(sql::BLOCKS)
            .bind(first_key)
            .bind(second_key)
            .bind(now)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("key_hash")?, r.try_get("blocked_until")?)))
            .collect()
    }

    async fn count_limit_hit(
        &self,
        key: &str,
        rule: &LimitRule,
        now: i64,
    ) -> StoreResult<LimitHit> {
        let row = sqlx::query(sql::HIT)
            .bind(key)
            .bind(rule.max)
            .bind(now)
            .bind(rule.window)
            .bind(rule.block)
            .bind(rule.memory)
            .bind(rule.max_block)
            .fetch_one(&self.pool)
            .await?;
        Ok(LimitHit {
            began_block: row.try_get::<i64, _>("hits")? == 0,
            blocked_until: row.try_get("blocked_until")?,
            block_seconds: row.try_get("block_seconds")?,
        })
    }
}
