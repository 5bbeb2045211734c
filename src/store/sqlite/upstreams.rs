//! `UpstreamStore` on SQLite.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::super::records::to_json;
use super::super::rows::Columns;
use super::super::upstreams::{link_row, Upstream, UpstreamLink, UpstreamStore};
use super::{all, execute, first, is_unique_violation, sql, SqliteStore};
use crate::store::{StoreError, StoreResult};

#[async_trait]
impl UpstreamStore for SqliteStore {
    async fn create_upstream(&self, upstream: &Upstream) -> StoreResult<()> {
        let name = upstream.name.clone();
        let settings = to_json(upstream)?;
        let created_at = upstream.created_at;
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            execute(
                &tx,
                sql::INSERT_UPSTREAM,
                params![name, settings, created_at],
            )
            .map_err(|e| match e {
                StoreError::Sqlite(e) if is_unique_violation(&e) => {
                    StoreError::AlreadyExists(format!("upstream {name}"))
                }
                e => e,
            })?;
            execute(&tx, sql::BUMP_UPSTREAM_VERSION, [])?;
            Ok(tx.commit()?)
        })
        .await
    }

    async fn upstream(&self, name: &str) -> StoreResult<Option<Upstream>> {
        let name = name.to_owned();
        self.run(move |c| first(c, sql::UPSTREAM, [name], |r| r.json("settings")))
            .await
    }

    async fn list_upstreams(&self) -> StoreResult<Vec<Upstream>> {
        self.run(|c| all(c, sql::LIST_UPSTREAMS, |r| r.json("settings")))
            .await
    }

    async fn delete_upstream(&self, name: &str) -> StoreResult<bool> {
        let name = name.to_owned();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done = execute(&tx, sql::DELETE_UPSTREAM, [name])?;
            execute(&tx, sql::BUMP_UPSTREAM_VERSION, [])?;
            tx.commit()?;
            Ok(done > 0)
        })
        .await
    }

    async fn upstream_set_version(&self) -> StoreResult<i64> {
        self.run(|c| {
            let value: Option<String> = c
                .prepare_cached(sql::UPSTREAM_SET_VERSION)?
                .query_row([], |r| r.get(0))
                .optional()?;
            Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
        })
        .await
    }

    async fn create_link(&self, link: &UpstreamLink) -> StoreResult<()> {
        let link = link.clone();
        self.run(move |c| {
            execute(
                c,
                sql::INSERT_UPSTREAM_LINK,
                params![
                    link.issuer,
                    link.subject,
                    link.sub,
                    link.upstream,
                    link.created_at
                ],
            )
            .map(drop)
            .map_err(|e| match e {
                StoreError::Sqlite(e) if is_unique_violation(&e) => {
                    StoreError::AlreadyExists(format!("link of {}", link.issuer))
                }
                e => e,
            })
        })
        .await
    }

    async fn link(&self, issuer: &str, subject: &str) -> StoreResult<Option<UpstreamLink>> {
        let (issuer, subject) = (issuer.to_owned(), subject.to_owned());
        self.run(move |c| first(c, sql::UPSTREAM_LINK, [issuer, subject], |r| link_row(r)))
            .await
    }

    async fn links_of(&self, sub: &str) -> StoreResult<Vec<UpstreamLink>> {
        let sub = sub.to_owned();
        self.run(move |c| {
            let mut prepared = c.prepare_cached(sql::UPSTREAM_LINKS_OF)?;
            let mut rows = prepared.query([sub])?;
            let mut found = Vec::new();
            while let Some(row) = rows.next()? {
                found.push(link_row(row)?);
            }
            Ok(found)
        })
        .await
    }
}
