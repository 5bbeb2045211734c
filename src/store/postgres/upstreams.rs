//! `UpstreamStore` on PostgreSQL.

use async_trait::async_trait;

use super::super::records::to_json;
use super::super::rows::Columns;
use super::super::upstreams::{link_row, Upstream, UpstreamLink, UpstreamStore};
use super::{is_unique_violation, sql, PgStore};
use crate::store::{StoreError, StoreResult};

#[async_trait]
impl UpstreamStore for PgStore {
    async fn create_upstream(&self, upstream: &Upstream) -> StoreResult<()> {
        // The registration and the version bump that tells other nodes about it go together.
        let mut tx = self.pool.begin().await?;
        sqlx::query(sql::INSERT_UPSTREAM)
            .bind(&upstream.name)
            .bind(to_json(upstream)?)
            .bind(upstream.created_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists(format!("upstream {}", upstream.name))
                } else {
                    e.into()
                }
            })?;
        sqlx::query(sql::BUMP_UPSTREAM_VERSION)
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    async fn upstream(&self, name: &str) -> StoreResult<Option<Upstream>> {
        let row = sqlx::query(sql::UPSTREAM)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| r.json("settings")).transpose()
    }

    async fn list_upstreams(&self) -> StoreResult<Vec<Upstream>> {
        let rows = sqlx::query(sql::LIST_UPSTREAMS)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| r.json("settings")).collect()
    }

    async fn delete_upstream(&self, name: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(sql::DELETE_UPSTREAM)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sql::BUMP_UPSTREAM_VERSION)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn upstream_set_version(&self) -> StoreResult<i64> {
        let value: Option<String> = sqlx::query_scalar(sql::UPSTREAM_SET_VERSION)
            .fetch_optional(&self.pool)
            .await?;
        Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    async fn create_link(&self, link: &UpstreamLink) -> StoreResult<()> {
        sqlx::query(sql::INSERT_UPSTREAM_LINK)
            .bind(&link.issuer)
            .bind(&link.subject)
            .bind(&link.sub)
            .bind(&link.upstream)
            .bind(link.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists(format!("link of {}", link.issuer))
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    async fn link(&self, issuer: &str, subject: &str) -> StoreResult<Option<UpstreamLink>> {
        let row = sqlx::query(sql::UPSTREAM_LINK)
            .bind(issuer)
            .bind(subject)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| link_row(&r)).transpose()
    }

    async fn links_of(&self, sub: &str) -> StoreResult<Vec<UpstreamLink>> {
        let rows = sqlx::query(sql::UPSTREAM_LINKS_OF)
            .bind(sub)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(link_row).collect()
    }
}
