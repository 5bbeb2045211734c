//! [`LogoutStore`] on SQLite: each operation is one job on the connection's thread; ending a
//! session is one IMMEDIATE transaction.

use async_trait::async_trait;
use rusqlite::{params, TransactionBehavior};

use super::{execute, SqliteStore};
use crate::store::logout::{self, sql, Delivery, EndedSession, LogoutStore, SessionSummary};
use crate::store::records::from_json;
use crate::store::statements::REVOKE_GRANT;
use crate::store::{RefreshRecord, StoreResult};
use crate::tokens::opaque;

#[async_trait]
impl LogoutStore for SqliteStore {
    async fn record_session_client(&self, sid: &str, client_id: &str) -> StoreResult<()> {
        let (sid, client_id) = (sid.to_owned(), client_id.to_owned());
        self.run(move |c| execute(c, sql::RECORD_SESSION_CLIENT, params![client_id, sid]).map(drop))
            .await
    }

    async fn user_sessions(&self, sub: &str, now: i64) -> StoreResult<Vec<SessionSummary>> {
        let sub = sub.to_owned();
        self.run(move |c| {
            let mut prepared = c.prepare_cached(sql::USER_SESSIONS)?;
            let mut rows = prepared.query(params![sub, now])?;
            let mut found = Vec::new();
            while let Some(r) = rows.next()? {
                let amr: String = r.get("amr")?;
                found.push((
                    r.get("sid")?,
                    r.get("created_at")?,
                    r.get("expires_at")?,
                    from_json(&amr)?,
                    r.get("idp")?,
                    r.get("client_id")?,
                ));
            }
            Ok(logout::group_sessions(found))
        })
        .await
    }

    async fn end_session(
        &self,
        sid: &str,
        now: i64,
        revoke_until: i64,
    ) -> StoreResult<Option<EndedSession>> {
        let sid = sid.to_owned();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let sub: Option<String> = {
                let mut deleted = tx.prepare_cached(sql::DELETE_SESSION_BY_SID)?;
                let mut rows = deleted.query([&sid])?;
                let mut sub = None;
                while let Some(r) = rows.next()? {
                    sub = Some(r.get(0)?);
                }
                sub
            };
            let Some(sub) = sub else {
                return Ok(None);
            };
            let mut clients: Vec<String> = {
                let mut deleted = tx.prepare_cached(sql::DELETE_SESSION_CLIENTS)?;
                let mut rows = deleted.query([&sid])?;
                let mut clients = Vec::new();
                while let Some(r) = rows.next()? {
                    clients.push(r.get(0)?);
                }
                clients
            };
            clients.sort();
            let records: Vec<RefreshRecord> = {
                let mut tokens = tx.prepare_cached(sql::USER_REFRESH_TOKENS)?;
                let mut rows = tokens.query([&sub])?;
                let mut records = Vec::new();
                while let Some(r) = rows.next()? {
                    let data: String = r.get(0)?;
                    records.push(from_json(&data)?);
                }
                records
            };
            let grants = logout::grants_to_revoke(&records, &sid, revoke_until);
            let [revoke_tokens, record_grant] = REVOKE_GRANT;
            for (grant, until) in &grants {
                execute(&tx, revoke_tokens, [grant])?;
                execute(&tx, record_grant, params![grant, until])?;
            }
            for client in &clients {
                execute(
                    &tx,
                    sql::QUEUE_DELIVERY,
                    params![opaque::random_token(), client, sid, sub, now],
                )?;
            }
            tx.commit()?;
            Ok(Some(EndedSession {
                sid,
                sub,
                clients,
                revoked_grants: grants.into_iter().map(|(g, _)| g).collect(),
            }))
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now: i64,
        lease_until: i64,
        batch: i64,
    ) -> StoreResult<Vec<Delivery>> {
        self.run(move |c| {
            let mut prepared = c.prepare_cached(sql::CLAIM_DELIVERIES)?;
            let mut rows = prepared.query(params![lease_until, now, batch])?;
            let mut claimed = Vec::new();
            while let Some(r) = rows.next()? {
                claimed.push(Delivery {
                    id: r.get("id")?,
                    client_id: r.get("client_id")?,
                    sid: r.get("sid")?,
                    sub: r.get("sub")?,
                    attempts: r.get("attempts")?,
                });
            }
            Ok(claimed)
        })
        .await
    }

    async fn finish_delivery(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.run(move |c| execute(c, sql::FINISH_DELIVERY, [id]).map(drop))
            .await
    }

    async fn retry_delivery(&self, id: &str, next_attempt_at: i64) -> StoreResult<()> {
        let id = id.to_owned();
        self.run(move |c| execute(c, sql::RETRY_DELIVERY, params![next_attempt_at, id]).map(drop))
            .await
    }

    async fn purge_session_clients(&self, now: i64, batch: i64) -> StoreResult<u64> {
        self.run(move |c| Ok(execute(c, sql::PURGE_SESSION_CLIENTS, params![now, batch])? as u64))
            .await
    }
}
