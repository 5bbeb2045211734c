//! `AuditStore` on SQLite.

use async_trait::async_trait;
use rusqlite::params;

use super::super::audit::{event_row, sql, AuditEvent, AuditFilter, AuditStore};
use super::super::records::to_json;
use super::{execute, SqliteStore};
use crate::store::StoreResult;

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        let (e, factors) = (e.clone(), to_json(&e.factors)?);
        self.run(move |c| {
            execute(
                c,
                sql::INSERT,
                params![
                    e.at,
                    e.event,
                    e.outcome,
                    e.sub,
                    e.client_id,
                    e.ip,
                    e.idp,
                    e.rule,
                    factors,
                    e.reason
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn audit_events(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        let f = filter.clone();
        self.run(move |c| {
            let mut prepared = c.prepare_cached(sql::SELECT)?;
            let mut rows = prepared.query(params![f.sub, f.client_id, f.since, f.limit])?;
            let mut found = Vec::new();
            while let Some(row) = rows.next()? {
                found.push(event_row(row)?);
            }
            Ok(found)
        })
        .await
    }

    async fn purge_audit(&self, before: i64, batch: i64) -> StoreResult<u64> {
        self.run(move |c| Ok(execute(c, sql::PURGE, params![before, batch])? as u64))
            .await
    }
}
