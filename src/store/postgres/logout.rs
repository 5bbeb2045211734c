//! [`LogoutStore`] on PostgreSQL; ending a session is one transaction.

use async_trait::async_trait;
use sqlx::Row;

use super::PgStore;
use crate::store::logout::{self, sql, Delivery, EndedSession, LogoutStore, SessionSummary};
use crate::store::records::from_json;
use crate::store::statements::REVOKE_GRANT;
use crate::store::{RefreshRecord, StoreResult};
use crate::tokens::opaque;

#[async_trait]
impl LogoutStore for PgStore {
    async fn record_session_client(&self, sid: &str, client_id: &str) -> StoreResult<()> {
        sqlx::query(sql::RECORD_SESSION_CLIENT)
            .bind(client_id)
            .bind(sid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn user_sessions(&self, sub: &str, now: i64) -> StoreResult<Vec<SessionSummary>> {
        let rows = sqlx::query(sql::USER_SESSIONS)
            .bind(sub)
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        let mut found = Vec::with_capacity(rows.len());
        for r in &rows {
            let amr: String = r.try_get("amr")?;
            found.push((
                r.try_get("sid")?,
                r.try_get("created_at")?,
                r.try_get("expires_at")?,
                from_json(&amr)?,
                r.try_get("idp")?,
                r.try_get("client_id")?,
            ));
        }
        Ok(logout::group_sessions(found))
    }

    async fn end_session(
        &self,
        sid: &str,
        now: i64,
        revoke_until: i64,
    ) -> StoreResult<Option<EndedSession>> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query_scalar::<_, String>(sql::DELETE_SESSION_BY_SID)
            .bind(sid)
            .fetch_all(&mut *tx)
            .await?;
        let Some(sub) = deleted.into_iter().next() else {
            return Ok(None);
        };
        let mut clients = sqlx::query_scalar::<_, String>(sql::DELETE_SESSION_CLIENTS)
            .bind(sid)
            .fetch_all(&mut *tx)
            .await?;
        clients.sort();
        let records = sqlx::query_scalar::<_, String>(sql::USER_REFRESH_TOKENS)
            .bind(&sub)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|data| from_json::<RefreshRecord>(data))
            .collect::<StoreResult<Vec<_>>>()?;
        let grants = logout::grants_to_revoke(&records, sid, revoke_until);
        let [revoke_tokens, record_grant] = REVOKE_GRANT;
        for (grant, until) in &grants {
            sqlx::query(revoke_tokens)
                .bind(grant)
                .execute(&mut *tx)
                .await?;
            sqlx::query(record_grant)
                .bind(grant)
                .bind(until)
                .execute(&mut *tx)
                .await?;
        }
        for client in &clients {
            sqlx::query(sql::QUEUE_DELIVERY)
                .bind(opaque::random_token())
                .bind(client)
                .bind(sid)
                .bind(&sub)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Some(EndedSession {
            sid: sid.to_owned(),
            sub,
            clients,
            revoked_grants: grants.into_iter().map(|(g, _)| g).collect(),
        }))
    }

    async fn claim_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        batch: i64,
    ) -> StoreResult<Vec<Delivery>> {
        let rows = sqlx::query(sql::CLAIM_DELIVERIES)
            .bind(lease_until)
            .bind(now)
            .bind(batch)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    id: r.try_get("id")?,
                    client_id: r.try_get("client_id")?,
                    sid: r.try_get("sid")?,
                    sub: r.try_get("sub")?,
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    async fn finish_delivery(&self, id: &str) -> StoreResult<()> {
        sqlx::query(sql::FINISH_DELIVERY)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retry_delivery(&self, id: &str, next_attempt_at: i64) -> StoreResult<()> {
        sqlx::query(sql::RETRY_DELIVERY)
            .bind(next_attempt_at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_session_clients(&self, now: i64, batch: i64) -> StoreResult<u64> {
        Ok(sqlx::query(sql::PURGE_SESSION_CLIENTS)
            .bind(now)
            .bind(batch)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }
}
