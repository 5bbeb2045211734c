//! `CibaStore` on SQLite.

use async_trait::async_trait;
use ferriam_protocol::ciba::RequestState;
use rusqlite::params;

use super::super::ciba::{row, sql, state_name, CibaDecision, CibaJob, CibaRequest, CibaStore};
use super::super::records::to_json;
use super::super::rows;
use super::{execute, first, SqliteStore};
use crate::store::{StoreResult, User};

#[async_trait]
impl CibaStore for SqliteStore {
    async fn create_ciba_request(&self, id_hash: &str, request: &CibaRequest) -> StoreResult<()> {
        let (id_hash, request) = (id_hash.to_owned(), request.clone());
        let data = to_json(&request.asked)?;
        self.run(move |c| {
            execute(
                c,
                sql::CREATE,
                params![
                    id_hash,
                    request.request_id,
                    request.sub,
                    data,
                    request.interval,
                    request.expires_at,
                    request.asked.created_at
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn ciba_request(&self, id_hash: &str) -> StoreResult<Option<CibaRequest>> {
        let id_hash = id_hash.to_owned();
        self.run(move |c| first(c, sql::BY_HASH, [id_hash], |r| row(r)))
            .await
    }

    async fn ciba_request_by_id(&self, request_id: &str) -> StoreResult<Option<CibaRequest>> {
        let request_id = request_id.to_owned();
        self.run(move |c| first(c, sql::BY_ID, [request_id], |r| row(r)))
            .await
    }

    async fn pending_ciba_requests(&self, sub: &str, now: i64) -> StoreResult<Vec<CibaRequest>> {
        let sub = sub.to_owned();
        self.run(move |c| {
            let mut prepared = c.prepare_cached(sql::PENDING)?;
            let mut rows = prepared.query(params![sub, now])?;
            let mut found = Vec::new();
            while let Some(r) = rows.next()? {
                found.push(row(r)?);
            }
            Ok(found)
        })
        .await
    }

    async fn slow_ciba_polls(&self, id_hash: &str, interval: i64) -> StoreResult<()> {
        let id_hash = id_hash.to_owned();
        self.run(move |c| {
            execute(c, sql::SLOW_DOWN, params![interval, id_hash])?;
            Ok(())
        })
        .await
    }

    async fn decide_ciba_request(
        &self,
        request_id: &str,
        decision: &CibaDecision,
    ) -> StoreResult<bool> {
        let (request_id, d) = (request_id.to_owned(), decision.clone());
        let amr = to_json(&d.amr)?;
        let state = state_name(match d.approve {
            true => RequestState::Approved,
            false => RequestState::Denied,
        });
        self.run(move |c| {
            let done = execute(
                c,
                sql::DECIDE,
                params![
                    state,
                    d.now,
                    d.auth_time,
                    amr,
                    d.acr,
                    d.sid,
                    d.notify_at,
                    request_id
                ],
            )?;
            Ok(done > 0)
        })
        .await
    }

    async fn claim_ciba_jobs(
        &self,
        job: CibaJob,
        now: i64,
        lease_until: i64,
        batch: i64,
    ) -> StoreResult<Vec<(CibaRequest, i64)>> {
        let [claim, _, _] = sql::job(job);
        self.run(move |c| {
            let mut prepared = c.prepare_cached(claim)?;
            let mut rows = prepared.query(params![lease_until, now, batch])?;
            let mut found = Vec::new();
            while let Some(r) = rows.next()? {
                found.push((row(r)?, r.get("attempts")?));
            }
            Ok(found)
        })
        .await
    }

    async fn finish_ciba_job(&self, job: CibaJob, request_id: &str) -> StoreResult<()> {
        let [_, finish, _] = sql::job(job);
        let request_id = request_id.to_owned();
        self.run(move |c| {
            execute(c, finish, [request_id])?;
            Ok(())
        })
        .await
    }

    async fn retry_ciba_job(&self, job: CibaJob, request_id: &str, at: i64) -> StoreResult<()> {
        let [_, _, retry] = sql::job(job);
        let request_id = request_id.to_owned();
        self.run(move |c| {
            execute(c, retry, params![at, request_id])?;
            Ok(())
        })
        .await
    }

    async fn redeem_ciba_request(
        &self,
        id_hash: &str,
        now: i64,
    ) -> StoreResult<Option<CibaRequest>> {
        let id_hash = id_hash.to_owned();
        self.run(move |c| first(c, sql::REDEEM, params![id_hash, now], |r| row(r)))
            .await
    }
    async fn users_by_contact(&self, contact: &str) -> StoreResult<Vec<User>> {
        let contact = contact.to_owned();
        self.run(move |c| {
            let mut prepared = c.prepare_cached(sql::SQLITE_BY_CONTACT)?;
            let mut rows = prepared.query([contact])?;
            let mut found = Vec::new();
            while let Some(r) = rows.next()? {
                found.push(rows::user(r)?);
            }
            Ok(found)
        })
        .await
    }
}
