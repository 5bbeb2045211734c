//! `CibaStore` on PostgreSQL.

use async_trait::async_trait;
use ferriam_protocol::ciba::RequestState;
use sqlx::Row;

use super::super::ciba::{row, sql, state_name, CibaDecision, CibaJob, CibaRequest, CibaStore};
use super::super::records::to_json;
use super::super::rows;

use super::PgStore;
use crate::store::{StoreResult, User};

#[async_trait]
impl CibaStore for PgStore {
    async fn create_ciba_request(&self, id_hash: &str, request: &CibaRequest) -> StoreResult<()> {
        sqlx::query(sql::CREATE)
            .bind(id_hash)
            .bind(&request.request_id)
            .bind(&request.sub)
            .bind(to_json(&request.asked)?)
            .bind(request.interval)
            .bind(request.expires_at)
            .bind(request.asked.created_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn ciba_request(&self, id_hash: &str) -> StoreResult<Option<CibaRequest>> {
        let found = sqlx::query(sql::BY_HASH)
            .bind(id_hash)
            .fetch_optional(&self.pool)
            .await?;
        found.as_ref().map(row).transpose()
    }

    async fn ciba_request_by_id(&self, request_id: &str) -> StoreResult<Option<CibaRequest>> {
        let found = sqlx::query(sql::BY_ID)
            .bind(request_id)
            .fetch_optional(&self.pool)
            .await?;
        found.as_ref().map(row).transpose()
    }

    async fn pending_ciba_requests(&self, sub: &str, now: i64) -> StoreResult<Vec<CibaRequest>> {
        let rows = sqlx::query(sql::PENDING)
            .bind(sub)
            .bind(now)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row).collect()
    }

    async fn slow_ciba_polls(&self, id_hash: &str, interval: i64) -> StoreResult<()> {
        sqlx::query(sql::SLOW_DOWN)
            .bind(interval)
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn decide_ciba_request(
        &self,
        request_id: &str,
        decision: &CibaDecision,
    ) -> StoreResult<bool> {
        let state = state_name(match decision.approve {
            true => RequestState::Approved,
            false => RequestState::Denied,
        });
        let done = sqlx::query(sql::DECIDE)
            .bind(state)
            .bind(decision.now)
            .bind(decision.auth_time)
            .bind(to_json(&decision.amr)?)
            .bind(&decision.acr)
            .bind(&decision.sid)
            .bind(decision.notify_at)
            .bind(request_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn claim_ciba_jobs(
        &self,
        job: CibaJob,
        now: i64,
        lease_until: i64,
        batch: i64,
    ) -> StoreResult<Vec<(CibaRequest, i64)>> {
        let [claim, _, _] = sql::job(job);
        let rows = sqlx::query(claim)
            .bind(lease_until)
            .bind(now)
            .bind(batch)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((row(r)?, r.try_get("attempts")?)))
            .collect()
    }

    async fn finish_ciba_job(&self, job: CibaJob, request_id: &str) -> StoreResult<()> {
        let [_, finish, _] = sql::job(job);
        sqlx::query(finish)
            .bind(request_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retry_ciba_job(&self, job: CibaJob, request_id: &str, at: i64) -> StoreResult<()> {
        let [_, _, retry] = sql::job(job);
        sqlx::query(retry)
            .bind(at)
            .bind(request_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn redeem_ciba_request(
        &self,
        id_hash: &str,
        now: i64,
    ) -> StoreResult<Option<CibaRequest>> {
        let found = sqlx::query(sql::REDEEM)
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        found.as_ref().map(row).transpose()
    }
    async fn users_by_contact(&self, contact: &str) -> StoreResult<Vec<User>> {
        let found = sqlx::query(sql::PG_BY_CONTACT)
            .bind(contact)
            .fetch_all(&self.pool)
            .await?;
        found.iter().map(rows::user).collect()
    }
}
