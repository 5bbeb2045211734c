//! The PostgreSQL back end, for several nodes sharing one database. PostgreSQL's row locks let
//! writers run side by side, so every statement takes any pooled connection.

use async_trait::async_trait;
use ferriam_protocol::client::Client;
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};

use super::records::{from_json, to_json};
use super::rows::{self, Column, Columns};
use super::statements as sql;
use super::{
    ClientAuthStore, ClientStore, CodeRecord, CodeRedemption, ConsentStore, FailureCount,
    GrantStore, Interaction, InteractionStore, KeyRecord, KeyStore, Lockout, Maintenance,
    RefreshRecord, Session, SessionStore, SettingsStore, StoreError, StoreResult, StoredClient,
    User, UserStore,
};

mod audit;
mod ciba;
mod factors;
mod limits;
mod logout;
mod otp;
mod upstreams;

/// Store on a PostgreSQL database.
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` and applies the embedded migrations. A `search_path` given through the
    /// URL's `options` parameter puts Ferriam's tables in that schema.
    ///
    /// The pool does not ping a connection before lending it: that ping was one more network
    /// round trip in front of every statement. sqlx still pings each connection it takes back,
    /// after the answer has gone out, and closes one that broke (a database restart).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .test_before_acquire(false)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Runs statements that must all happen or none, in one transaction: `keyed`, each with
    /// `key` as its only parameter, then `after`, which take none. Returns how many rows the
    /// last keyed statement changed.
    async fn all_or_none(&self, keyed: &[&str], key: &str, after: &[&str]) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await?;
        let mut last = 0;
        for statement in keyed {
            last = sqlx::query(statement)
                .bind(key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        for statement in after {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(last)
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl Columns for PgRow {
    fn column<T: Column>(&self, name: &str) -> StoreResult<T> {
        Ok(self.try_get(name)?)
    }
}

#[async_trait]
impl SettingsStore for PgStore {
    async fn setting_or_insert(&self, name: &str, candidate: &str) -> StoreResult<String> {
        sqlx::query(sql::INSERT_SETTING)
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await?;
        Ok(sqlx::query_scalar(sql::SETTING)
            .bind(name)
            .fetch_one(&self.pool)
            .await?)
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        sqlx::query(sql::INSERT_USER)
            .bind(&user.sub)
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(user.disabled)
            .bind(to_json(&user.profile)?)
            .bind(user.created_at)
            .bind(user.updated_at)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists(format!("user {}", user.username))
                } else {
                    e.into()
                }
            })?;
        Ok(())
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        sqlx::query(sql::USER_BY_USERNAME)
            .bind(username)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| rows::user(&r))
            .transpose()
    }

    async fn user_by_sub(&self, sub: &str) -> StoreResult<Option<User>> {
        sqlx::query(sql::USER_BY_SUB)
            .bind(sub)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| rows::user(&r))
            .transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        sqlx::query(sql::LIST_USERS)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(rows::user)
            .collect()
    }

    async fn set_user_disabled(&self, sub: &str, disabled: bool, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(sql::SET_USER_DISABLED)
            .bind(disabled)
            .bind(now)
            .bind(sub)
            .execute(&self.pool)
            .await?;
        if disabled {
            for statement in [sql::DELETE_USER_SESSIONS, sql::REVOKE_USER_REFRESH_TOKENS] {
                sqlx::query(statement).bind(sub).execute(&self.pool).await?;
            }
        }
        Ok(done.rows_affected() > 0)
    }

    async fn set_password_hash(&self, sub: &str, hash: &str, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(sql::SET_PASSWORD_HASH)
            .bind(hash)
            .bind(now)
            .bind(sub)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn reserve_login_attempt(
        &self,
        sub: &str,
        lockout: &Lockout,
        now: i64,
    ) -> StoreResult<bool> {
        let reserved: Option<i64> = sqlx::query_scalar(sql::RESERVE_LOGIN_ATTEMPT)
            .bind(lockout.max)
            .bind(lockout.first)
            .bind(lockout.longest)
            .bind(now)
            .bind(sub)
            .fetch_optional(&self.pool)
            .await?;
        Ok(reserved.is_some())
    }

    async fn clear_login_failures(&self, sub: &str) -> StoreResult<()> {
        sqlx::query(sql::CLEAR_LOGIN_FAILURES)
            .bind(sub)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_user(&self, sub: &str) -> StoreResult<bool> {
        Ok(self.all_or_none(&sql::DELETE_USER, sub, &[]).await? > 0)
    }
}

#[async_trait]
impl ClientStore for PgStore {
    async fn create_client(
        &self,
        client: &Client,
        secret_hash: Option<&str>,
        sealed_secret: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        // The registration and the version bump that tells other nodes about it go together.
        let mut tx = self.pool.begin().await?;
        sqlx::query(sql::INSERT_CLIENT)
            .bind(&client.client_id)
            .bind(secret_hash)
            .bind(to_json(client)?)
            .bind(now)
            .bind(sealed_secret)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::AlreadyExists(format!("client {}", client.client_id))
                } else {
                    e.into()
                }
            })?;
        sqlx::query(sql::BUMP_CLIENT_VERSION)
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<StoredClient>> {
        let row = sqlx::query(sql::CLIENT)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| rows::stored_client(&r)).transpose()
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        let rows = sqlx::query(sql::LIST_CLIENTS).fetch_all(&self.pool).await?;
        rows.iter().map(|r| r.json("settings")).collect()
    }

    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        let deleted = self
            .all_or_none(&sql::DELETE_CLIENT, client_id, &[sql::BUMP_CLIENT_VERSION])
            .await?;
        Ok(deleted > 0)
    }

    async fn set_client_secret(
        &self,
        client_id: &str,
        secret_hash: &str,
        sealed_secret: Option<&str>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(sql::SET_CLIENT_SECRET)
            .bind(secret_hash)
            .bind(sealed_secret)
            .bind(client_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sql::BUMP_CLIENT_VERSION)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(sql::UPDATE_CLIENT)
            .bind(to_json(client)?)
            .bind(&client.client_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(sql::BUMP_CLIENT_VERSION)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    async fn client_set_version(&self) -> StoreResult<i64> {
        let value: Option<String> = sqlx::query_scalar(sql::CLIENT_SET_VERSION)
            .fetch_optional(&self.pool)
            .await?;
        Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
    }
}

#[async_trait]
impl ClientAuthStore for PgStore {
    async fn use_assertion_jti(
        &self,
        jti_hash: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(sql::USE_ASSERTION_JTI)
            .bind(jti_hash)
            .bind(expires_at)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn auth_failures(
        &self,
        first_key: &str,
        second_key: &str,
        now: i64,
    ) -> StoreResult<Vec<(String, FailureCount)>> {
        sqlx::query(sql::AUTH_FAILURES)
            .bind(first_key)
            .bind(second_key)
            .bind(now)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("key_hash")?, rows::failure_count(r)?)))
            .collect()
    }

    async fn count_auth_failure(
        &self,
        key: &str,
        window_ends: i64,
        now: i64,
    ) -> StoreResult<FailureCount> {
        let row = sqlx::query(sql::COUNT_AUTH_FAILURE)
            .bind(key)
            .bind(window_ends)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        rows::failure_count(&row)
    }
}

#[async_trait]
impl KeyStore for PgStore {
    async fn keys(&self) -> StoreResult<Vec<KeyRecord>> {
        let found = sqlx::query(sql::KEYS).fetch_all(&self.pool).await?;
        found.iter().map(rows::key).collect()
    }

    async fn add_key(&self, key: &KeyRecord) -> StoreResult<()> {
        sqlx::query(sql::INSERT_KEY)
            .bind(&key.kid)
            .bind(&key.alg)
            .bind(&key.private_pkcs8)
            .bind(key.created_at)
            .bind(key.retired_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn retire_key(&self, kid: &str, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(sql::RETIRE_KEY)
            .bind(now)
            .bind(kid)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn key_set_version(&self) -> StoreResult<i64> {
        let (count, retired): (i64, i64) = sqlx::query_as(sql::KEY_SET_VERSION)
            .fetch_one(&self.pool)
            .await?;
        Ok(count * 1_000_000 + retired)
    }
}

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(&self, id_hash: &str, s: &Session) -> StoreResult<()> {
        sqlx::query(sql::INSERT_SESSION)
            .bind(id_hash)
            .bind(&s.sid)
            .bind(&s.sub)
            .bind(s.auth_time)
            .bind(to_json(&s.amr)?)
            .bind(s.expires_at)
            .bind(&s.idp)
            .bind(to_json(&s.factors)?)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn session(&self, id_hash: &str, now: i64) -> StoreResult<Option<Session>> {
        let row = sqlx::query(sql::SESSION)
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| rows::session(&r)).transpose()
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query(sql::DELETE_SESSION)
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl InteractionStore for PgStore {
    async fn save_interaction(&self, id_hash: &str, i: &Interaction) -> StoreResult<()> {
        sqlx::query(sql::SAVE_INTERACTION)
            .bind(id_hash)
            .bind(to_json(i)?)
            .bind(i.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn interaction(&self, id_hash: &str, now: i64) -> StoreResult<Option<Interaction>> {
        let data: Option<String> = sqlx::query_scalar(sql::INTERACTION)
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        data.map(|d| from_json(&d)).transpose()
    }

    async fn delete_interaction(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query(sql::DELETE_INTERACTION)
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn take_interaction(&self, id_hash: &str, now: i64) -> StoreResult<Option<Interaction>> {
        let data: Option<String> = sqlx::query_scalar(sql::TAKE_INTERACTION)
            .bind(id_hash)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        data.map(|d| from_json(&d)).transpose()
    }
}

#[async_trait]
impl ConsentStore for PgStore {
    async fn consent(&self, sub: &str, client_id: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(sql::CONSENT)
            .bind(sub)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn save_consent(
        &self,
        sub: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(sql::SAVE_CONSENT)
            .bind(sub)
            .bind(client_id)
            .bind(scope)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl GrantStore for PgStore {
    async fn save_code(&self, code_hash: &str, code: &CodeRecord) -> StoreResult<()> {
        sqlx::query(sql::INSERT_CODE)
            .bind(code_hash)
            .bind(&code.grant_id)
            .bind(&code.sub)
            .bind(to_json(code)?)
            .bind(code.binding.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn redeem_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeRedemption> {
        let fresh = sqlx::query(sql::REDEEM_CODE)
            .bind(now)
            .bind(code_hash)
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = fresh {
            return rows::fresh_code(&row);
        }
        let grant_id: Option<String> = sqlx::query_scalar(sql::CODE_GRANT)
            .bind(code_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match grant_id {
            Some(grant_id) => CodeRedemption::Replayed { grant_id },
            None => CodeRedemption::Unknown,
        })
    }

    async fn save_refresh(&self, token_hash: &str, t: &RefreshRecord) -> StoreResult<()> {
        sqlx::query(sql::INSERT_REFRESH)
            .bind(token_hash)
            .bind(&t.grant_id)
            .bind(&t.client_id)
            .bind(&t.sub)
            .bind(to_json(t)?)
            .bind(t.expires_at)
            .bind(t.issued_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn refresh(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(RefreshRecord, Option<User>)>> {
        let row = sqlx::query(sql::REFRESH)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| rows::refresh(&r)).transpose()
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        successor_hash: &str,
        successor: &RefreshRecord,
    ) -> StoreResult<bool> {
        let done = sqlx::query(sql::ROTATE_REFRESH)
            .bind(successor_hash)
            .bind(old_hash)
            .bind(&successor.grant_id)
            .bind(&successor.client_id)
            .bind(&successor.sub)
            .bind(to_json(successor)?)
            .bind(successor.expires_at)
            .bind(successor.issued_at)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn revoke_grant(&self, grant_id: &str, until: i64) -> StoreResult<()> {
        let [revoke_tokens, record_grant] = sql::REVOKE_GRANT;
        let mut tx = self.pool.begin().await?;
        sqlx::query(revoke_tokens)
            .bind(grant_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(record_grant)
            .bind(grant_id)
            .bind(until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn token_subject(
        &self,
        sub: &str,
        grant_id: Option<&str>,
        jti_hash: Option<&str>,
    ) -> StoreResult<Option<User>> {
        sqlx::query(sql::ACTIVE_SUBJECT)
            .bind(sub)
            .bind(grant_id)
            .bind(jti_hash)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| rows::user(&r))
            .transpose()
    }

    async fn revoke_access_token(&self, jti_hash: &str, expires_at: i64) -> StoreResult<()> {
        sqlx::query(sql::REVOKE_ACCESS_TOKEN)
            .bind(jti_hash)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn access_token_revoked(&self, jti_hash: &str) -> StoreResult<bool> {
        let found: Option<String> = sqlx::query_scalar(sql::ACCESS_TOKEN_REVOKED)
            .bind(jti_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }
}

#[async_trait]
impl Maintenance for PgStore {
    async fn purge_expired(&self, now: i64, batch: i64) -> StoreResult<u64> {
        let mut total = 0;
        for (statement, grace) in sql::PURGE {
            total += sqlx::query(statement)
                .bind(now - grace)
                .bind(batch)
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        Ok(total)
    }
}
