//! `LimitStore` on SQLite.

use async_trait::async_trait;
use rusqlite::params;

use super::super::limits::{sql, LimitHit, LimitRule, LimitStore};
use super::{first, SqliteStore};
use crate::store::StoreResult;

#[async_trait]
impl LimitStore for SqliteStore {
    async fn limit_blocks(
        &self,
        first_key: &str,
        second_key: &str,
        now: i64,
    ) -> StoreResult<Vec<(String, i64)>> {
        let (a, b) = (first_key.to_owned(), second_key.to_owned());
        self.run(move |c| {
            let mut prepared = c.prepare_cached(sql::BLOCKS)?;
            let mut rows = prepared.query(params![a, b, now])?;
            let mut found = Vec::new();
            while let Some(row) = rows.next()? {
                found.push((row.get("key_hash")?, row.get("blocked_until")?));
            }
            Ok(found)
        })
        .await
    }

    async fn count_limit_hit(
        &self,
        key: &str,
        rule: &LimitRule,
        now: i64,
    ) -> StoreResult<LimitHit> {
        let (key, r) = (key.to_owned(), *rule);
        self.run(move |c| {
            let hit = first(
                c,
                sql::HIT,
                params![key, r.max, now, r.window, r.block, r.memory, r.max_block],
                |row| {
                    Ok(LimitHit {
                        began_block: row.get::<_, i64>("hits")? == 0,
                        blocked_until: row.get("blocked_until")?,
                        block_seconds: row.get("block_seconds")?,
                    })
                },
            )?;
            hit.ok_or_else(|| {
                crate::store::StoreError::Corrupt("the limit upsert returned no row".into())
            })
        })
        .await
    }
}
