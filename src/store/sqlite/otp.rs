//! `OtpStore` on SQLite.

use async_trait::async_trait;
use rusqlite::params;

use super::super::otp::{sql, Attempt, NewCode, OtpStore};
use super::{execute, first, SqliteStore};
use crate::store::StoreResult;

#[async_trait]
impl OtpStore for SqliteStore {
    async fn send_code(&self, id_hash: &str, code: &NewCode, max_sends: i64) -> StoreResult<bool> {
        let (id_hash, code) = (id_hash.to_owned(), code.clone());
        self.run(move |c| {
            let done = execute(
                c,
                sql::SEND,
                params![
                    id_hash,
                    code.code_mac,
                    code.factor,
                    code.expires_at,
                    max_sends
                ],
            )?;
            Ok(done > 0)
        })
        .await
    }

    async fn attempt_code(
        &self,
        id_hash: &str,
        now: i64,
        max_attempts: i64,
    ) -> StoreResult<Attempt> {
        let id_hash = id_hash.to_owned();
        self.run(move |c| {
            let found = first(c, sql::ATTEMPT, params![id_hash, now, max_attempts], |r| {
                Ok(Attempt::Counted {
                    code_mac: r.get("code_mac")?,
                    attempts: r.get("attempts")?,
                })
            })?;
            Ok(found.unwrap_or(Attempt::NoCode))
        })
        .await
    }

    async fn use_code(&self, id_hash: &str) -> StoreResult<bool> {
        let id_hash = id_hash.to_owned();
        self.run(move |c| Ok(execute(c, sql::USE, [id_hash])? > 0))
            .await
    }
}
