//! `AuditStore` on PostgreSQL.

use async_trait::async_trait;

use super::super::audit::{event_row, sql, AuditEvent, AuditFilter, AuditStore};
use super::super::records::to_json;
use super::PgStore;
use crate::store::StoreResult;

#[async_trait]
impl AuditStore for PgStore {
    async fn record_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        sqlx::query(sql::INSERT)
            .bind(e.at)
            .bind(&e.event)
            .bind(&e.outcome)
            .bind(&e.sub)
            .bind(&e.client_id)
            .bind(&e.ip)
            .bind(&e.idp)
            .bind(&e.rule)
            .bind(to_json(&e.factors)?)
            .bind(&e.reason)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn audit_events(&self, f: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        let rows = sqlx::query(sql::SELECT)
            .bind(&f.sub)
            .bind(&f.client_id)
            .bind(f.since)
            .bind(f.limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_row).collect()
    }

    async fn purge_audit(&self, before: i64, batch: i64) -> StoreResult<u64> {
        let done = sqlx::query(sql::PURGE)
            .bind(before)
            .bind(batch)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
