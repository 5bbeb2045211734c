//! The embedded SQLite back end: one file, WAL journal, the default for a single node.
//!
//! One connection, on one thread of its own, runs every statement in turn. SQLite does a point
//! read or a small write in microseconds; what cost was getting to it. With a connection per
//! thread (as sqlx runs them), each query was two or more thread wake-ups, racing writers slept
//! in SQLite's busy handler (1, 2, 5, 10… ms), and each read took and released the shared-memory
//! locks under a process-wide mutex that the other connections contended for. One thread that
//! drains its queue does each job back to back while requests keep coming, needs no lock but
//! the file's own, and still lets `ferriam` commands open the same file while a server runs.
//!
//! Migrations still run through sqlx's migrator, so every database keeps one history.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use ferriam_protocol::client::Client;
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Params, Row, TransactionBehavior,
};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use sqlx::{ConnectOptions, Connection as _};

use super::records::to_json;
use super::rows::{self, Column, Columns};
use super::statements as sql;
use super::{
    ClientAuthStore, ClientStore, CodeRecord, CodeRedemption, ConsentStore, FailureCount,
    GrantStore, Interaction, InteractionStore, KeyRecord, KeyStore, Lockout, Maintenance,
    RefreshRecord, Rotation, Session, SessionStore, SettingsStore, StoreError, StoreResult,
    StoredClient, Successor, User, UserStore,
};
use crate::workers::{names, Workers};

mod audit;
mod ciba;
mod factors;
mod limits;
mod logout;
mod otp;
mod upstreams;

/// How long a statement waits for another process (a `ferriam` command) to release the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Store on an SQLite database file.
pub struct SqliteStore {
    /// The thread that owns the connection; it ends, closing the file, with the store.
    database: Workers<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or a path) and
    /// applies the embedded migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url)
            .to_owned();
        if let Some(parent) = Path::new(&path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
            }
        }
        let mut migrator = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(BUSY_TIMEOUT)
            .connect()
            .await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut migrator)
            .await?;
        migrator.close().await?;
        let connection = tokio::task::spawn_blocking(move || connect(&path))
            .await
            .map_err(|_| StoreError::Stopped)??;
        let database =
            Workers::dedicated(names::DATABASE, connection).map_err(|_| StoreError::Stopped)?;
        Ok(Self { database })
    }

    /// Runs `job` on the connection's thread and waits for it without blocking the runtime.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.database
            .run(job)
            .await
            .map_err(|_| StoreError::Stopped)?
    }
}

/// The connection every statement goes through, set up as the migrator left the file.
fn connect(path: &str) -> StoreResult<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // WAL is a property of the file (the migrator set it); NORMAL syncs at checkpoints only,
    // which in WAL mode loses no committed data on a crash of the process, only on power loss.
    connection.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    connection.set_prepared_statement_cache_capacity(64);
    Ok(connection)
}

/// Runs one statement, prepared once per connection; returns how many rows it changed.
fn execute(c: &Connection, statement: &str, params: impl Params) -> StoreResult<usize> {
    Ok(c.prepare_cached(statement)?.execute(params)?)
}

/// Stores `successor` as the successor of `old_hash` (see `sql::ROTATE_REFRESH`); false when
/// the token is unknown, revoked or already rotated.
fn rotate(
    c: &Connection,
    old_hash: &str,
    successor_hash: &str,
    successor: &RefreshRecord,
) -> StoreResult<bool> {
    let s = successor;
    let done = execute(
        c,
        sql::ROTATE_REFRESH,
        params![
            successor_hash,
            old_hash,
            s.grant_id,
            s.client_id,
            s.sub,
            to_json(s)?,
            s.expires_at,
            s.issued_at
        ],
    )?;
    Ok(done > 0)
}

/// The first row of a query, if any, read by `read`.
fn first<T>(
    c: &Connection,
    statement: &str,
    params: impl Params,
    read: impl FnOnce(&Row) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut prepared = c.prepare_cached(statement)?;
    let mut rows = prepared.query(params)?;
    rows.next()?.map(read).transpose()
}

/// Every row of a query, each read by `read`.
fn all<T>(
    c: &Connection,
    statement: &str,
    read: impl Fn(&Row) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    let mut prepared = c.prepare_cached(statement)?;
    let mut rows = prepared.query([])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(read(row)?);
    }
    Ok(found)
}

/// Runs statements that must all happen or none, in one transaction: `keyed`, each with `key`
/// as its only parameter, then `after`, which take none. Returns how many rows the last keyed
/// statement changed.
fn all_or_none(
    c: &mut Connection,
    keyed: &[&str],
    key: &str,
    after: &[&str],
) -> StoreResult<usize> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut last = 0;
    for statement in keyed {
        last = execute(&tx, statement, [key])?;
    }
    for statement in after {
        execute(&tx, statement, [])?;
    }
    tx.commit()?;
    Ok(last)
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

impl Columns for Row<'_> {
    fn column<T: Column>(&self, name: &str) -> StoreResult<T> {
        Ok(self.get(name)?)
    }
}

#[async_trait]
impl SettingsStore for SqliteStore {
    async fn setting_or_insert(&self, name: &str, candidate: &str) -> StoreResult<String> {
        let (name, candidate) = (name.to_owned(), candidate.to_owned());
        self.run(move |c| {
            execute(c, sql::INSERT_SETTING, params![name, candidate])?;
            Ok(c.prepare_cached(sql::SETTING)?
                .query_row([&name], |r| r.get(0))?)
        })
        .await
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, user: &User) -> StoreResult<()> {
        let user = user.clone();
        self.run(move |c| {
            let profile = to_json(&user.profile)?;
            execute(
                c,
                sql::INSERT_USER,
                params![
                    user.sub,
                    user.username,
                    user.password_hash,
                    user.disabled,
                    profile,
                    user.created_at,
                    user.updated_at
                ],
            )
            .map(drop)
            .map_err(|e| match e {
                StoreError::Sqlite(e) if is_unique_violation(&e) => {
                    StoreError::AlreadyExists(format!("user {}", user.username))
                }
                e => e,
            })
        })
        .await
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let username = username.to_owned();
        self.run(move |c| first(c, sql::USER_BY_USERNAME, [username], |r| rows::user(r)))
            .await
    }

    async fn user_by_sub(&self, sub: &str) -> StoreResult<Option<User>> {
        let sub = sub.to_owned();
        self.run(move |c| first(c, sql::USER_BY_SUB, [sub], |r| rows::user(r)))
            .await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.run(|c| all(c, sql::LIST_USERS, |r| rows::user(r)))
            .await
    }

    async fn set_user_disabled(&self, sub: &str, disabled: bool, now: i64) -> StoreResult<bool> {
        let sub = sub.to_owned();
        self.run(move |c| {
            let done = execute(c, sql::SET_USER_DISABLED, params![disabled, now, sub])?;
            if disabled {
                for statement in [sql::DELETE_USER_SESSIONS, sql::REVOKE_USER_REFRESH_TOKENS] {
                    execute(c, statement, [&sub])?;
                }
            }
            Ok(done > 0)
        })
        .await
    }

    async fn set_password_hash(&self, sub: &str, hash: &str, now: i64) -> StoreResult<bool> {
        let (sub, hash) = (sub.to_owned(), hash.to_owned());
        self.run(move |c| Ok(execute(c, sql::SET_PASSWORD_HASH, params![hash, now, sub])? > 0))
            .await
    }

    async fn reserve_login_attempt(
        &self,
        sub: &str,
        lockout: &Lockout,
        now: i64,
    ) -> StoreResult<bool> {
        let (sub, l) = (sub.to_owned(), *lockout);
        self.run(move |c| {
            let reserved = first(
                c,
                sql::RESERVE_LOGIN_ATTEMPT,
                params![l.max, l.first, l.longest, now, sub],
                |_| Ok(()),
            )?;
            Ok(reserved.is_some())
        })
        .await
    }

    async fn clear_login_failures(&self, sub: &str) -> StoreResult<()> {
        let sub = sub.to_owned();
        self.run(move |c| execute(c, sql::CLEAR_LOGIN_FAILURES, [sub]).map(drop))
            .await
    }

    async fn delete_user(&self, sub: &str) -> StoreResult<bool> {
        let sub = sub.to_owned();
        self.run(move |c| Ok(all_or_none(c, &sql::DELETE_USER, &sub, &[])? > 0))
            .await
    }
}

#[async_trait]
impl ClientStore for SqliteStore {
    async fn create_client(
        &self,
        client: &Client,
        secret_hash: Option<&str>,
        sealed_secret: Option<&str>,
        now: i64,
    ) -> StoreResult<()> {
        let client_id = client.client_id.clone();
        let settings = to_json(client)?;
        let secret_hash = secret_hash.map(str::to_owned);
        let sealed_secret = sealed_secret.map(str::to_owned);
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            execute(
                &tx,
                sql::INSERT_CLIENT,
                params![client_id, secret_hash, settings, now, sealed_secret],
            )
            .map_err(|e| match e {
                StoreError::Sqlite(e) if is_unique_violation(&e) => {
                    StoreError::AlreadyExists(format!("client {client_id}"))
                }
                e => e,
            })?;
            execute(&tx, sql::BUMP_CLIENT_VERSION, [])?;
            Ok(tx.commit()?)
        })
        .await
    }

    async fn client(&self, client_id: &str) -> StoreResult<Option<StoredClient>> {
        let client_id = client_id.to_owned();
        self.run(move |c| first(c, sql::CLIENT, [client_id], |r| rows::stored_client(r)))
            .await
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        self.run(|c| all(c, sql::LIST_CLIENTS, |r| r.json("settings")))
            .await
    }

    async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        let client_id = client_id.to_owned();
        self.run(move |c| {
            let deleted = all_or_none(
                c,
                &sql::DELETE_CLIENT,
                &client_id,
                &[sql::BUMP_CLIENT_VERSION],
            )?;
            Ok(deleted > 0)
        })
        .await
    }

    async fn set_client_secret(
        &self,
        client_id: &str,
        secret_hash: &str,
        sealed_secret: Option<&str>,
    ) -> StoreResult<bool> {
        let (client_id, secret_hash) = (client_id.to_owned(), secret_hash.to_owned());
        let sealed_secret = sealed_secret.map(str::to_owned);
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done = execute(
                &tx,
                sql::SET_CLIENT_SECRET,
                params![secret_hash, sealed_secret, client_id],
            )?;
            execute(&tx, sql::BUMP_CLIENT_VERSION, [])?;
            tx.commit()?;
            Ok(done > 0)
        })
        .await
    }

    async fn update_client(&self, client: &Client) -> StoreResult<bool> {
        let client_id = client.client_id.clone();
        let settings = to_json(client)?;
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let done = execute(&tx, sql::UPDATE_CLIENT, params![settings, client_id])?;
            execute(&tx, sql::BUMP_CLIENT_VERSION, [])?;
            tx.commit()?;
            Ok(done > 0)
        })
        .await
    }

    async fn client_set_version(&self) -> StoreResult<i64> {
        self.run(|c| {
            let value: Option<String> = c
                .prepare_cached(sql::CLIENT_SET_VERSION)?
                .query_row([], |r| r.get(0))
                .optional()?;
            Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
        })
        .await
    }
}

#[async_trait]
impl ClientAuthStore for SqliteStore {
    async fn use_assertion_jti(
        &self,
        jti_hash: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let jti_hash = jti_hash.to_owned();
        self.run(move |c| {
            Ok(execute(
                c,
                sql::USE_ASSERTION_JTI,
                params![jti_hash, expires_at, now],
            )? > 0)
        })
        .await
    }

    async fn auth_failures(
        &self,
        first_key: &str,
        second_key: &str,
        now: i64,
    ) -> StoreResult<Vec<(String, FailureCount)>> {
        let (first_key, second_key) = (first_key.to_owned(), second_key.to_owned());
        self.run(move |c| {
            let mut prepared = c.prepare_cached(sql::AUTH_FAILURES)?;
            let mut rows = prepared.query(params![first_key, second_key, now])?;
            let mut found = Vec::new();
            while let Some(row) = rows.next()? {
                found.push((row.get(0)?, rows::failure_count(row)?));
            }
            Ok(found)
        })
        .await
    }

    async fn count_auth_failure(
        &self,
        key: &str,
        window_ends: i64,
        now: i64,
    ) -> StoreResult<FailureCount> {
        let key = key.to_owned();
        self.run(move |c| {
            first(
                c,
                sql::COUNT_AUTH_FAILURE,
                params![key, window_ends, now],
                |r| rows::failure_count(r),
            )?
            .ok_or_else(|| StoreError::Corrupt("a counted failure returned no row".into()))
        })
        .await
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn keys(&self) -> StoreResult<Vec<KeyRecord>> {
        self.run(|c| all(c, sql::KEYS, |r| rows::key(r))).await
    }

    async fn add_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let key = key.clone();
        self.run(move |c| {
            execute(
                c,
                sql::INSERT_KEY,
                params![
                    key.kid,
                    key.alg,
                    key.private_pkcs8,
                    key.created_at,
                    key.retired_at
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn retire_key(&self, kid: &str, now: i64) -> StoreResult<bool> {
        let kid = kid.to_owned();
        self.run(move |c| Ok(execute(c, sql::RETIRE_KEY, params![now, kid])? > 0))
            .await
    }

    async fn key_set_version(&self) -> StoreResult<i64> {
        self.run(|c| {
            let (count, retired): (i64, i64) = c
                .prepare_cached(sql::KEY_SET_VERSION)?
                .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(count * 1_000_000 + retired)
        })
        .await
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, id_hash: &str, s: &Session) -> StoreResult<()> {
        let (id_hash, s) = (id_hash.to_owned(), s.clone());
        self.run(move |c| {
            let (amr, factors) = (to_json(&s.amr)?, to_json(&s.factors)?);
            execute(
                c,
                sql::INSERT_SESSION,
                params![
                    id_hash,
                    s.sid,
                    s.sub,
                    s.auth_time,
                    amr,
                    s.expires_at,
                    s.idp,
                    factors
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn session(&self, id_hash: &str, now: i64) -> StoreResult<Option<Session>> {
        let id_hash = id_hash.to_owned();
        self.run(move |c| first(c, sql::SESSION, params![id_hash, now], |r| rows::session(r)))
            .await
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
        let id_hash = id_hash.to_owned();
        self.run(move |c| execute(c, sql::DELETE_SESSION, [id_hash]).map(drop))
            .await
    }
}

#[async_trait]
impl InteractionStore for SqliteStore {
    async fn save_interaction(&self, id_hash: &str, i: &Interaction) -> StoreResult<()> {
        let (id_hash, data, expires_at) = (id_hash.to_owned(), to_json(i)?, i.expires_at);
        self.run(move |c| {
            execute(c, sql::SAVE_INTERACTION, params![id_hash, data, expires_at]).map(drop)
        })
        .await
    }

    async fn interaction(&self, id_hash: &str, now: i64) -> StoreResult<Option<Interaction>> {
        let id_hash = id_hash.to_owned();
        self.run(move |c| {
            first(c, sql::INTERACTION, params![id_hash, now], |r| {
                r.json("data")
            })
        })
        .await
    }

    async fn delete_interaction(&self, id_hash: &str) -> StoreResult<()> {
        let id_hash = id_hash.to_owned();
        self.run(move |c| execute(c, sql::DELETE_INTERACTION, [id_hash]).map(drop))
            .await
    }

    async fn take_interaction(&self, id_hash: &str, now: i64) -> StoreResult<Option<Interaction>> {
        let id_hash = id_hash.to_owned();
        self.run(move |c| {
            first(c, sql::TAKE_INTERACTION, params![id_hash, now], |r| {
                r.json("data")
            })
        })
        .await
    }
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn consent(&self, sub: &str, client_id: &str) -> StoreResult<Option<String>> {
        let (sub, client_id) = (sub.to_owned(), client_id.to_owned());
        self.run(move |c| first(c, sql::CONSENT, [sub, client_id], |r| Ok(r.get(0)?)))
            .await
    }

    async fn save_consent(
        &self,
        sub: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> StoreResult<()> {
        let (sub, client_id, scope) = (sub.to_owned(), client_id.to_owned(), scope.to_owned());
        self.run(move |c| {
            execute(c, sql::SAVE_CONSENT, params![sub, client_id, scope, now]).map(drop)
        })
        .await
    }
}

#[async_trait]
impl GrantStore for SqliteStore {
    async fn save_code(&self, code_hash: &str, code: &CodeRecord) -> StoreResult<()> {
        let code_hash = code_hash.to_owned();
        let (grant_id, sub, data) = (code.grant_id.clone(), code.sub.clone(), to_json(code)?);
        let expires_at = code.binding.expires_at;
        self.run(move |c| {
            execute(
                c,
                sql::INSERT_CODE,
                params![code_hash, grant_id, sub, data, expires_at],
            )
            .map(drop)
        })
        .await
    }

    async fn redeem_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeRedemption> {
        let code_hash = code_hash.to_owned();
        self.run(move |c| {
            let fresh = first(c, sql::REDEEM_CODE, params![now, code_hash], |r| {
                rows::fresh_code(r)
            })?;
            if let Some(fresh) = fresh {
                return Ok(fresh);
            }
            let grant_id = first(c, sql::CODE_GRANT, [code_hash], |r| Ok(r.get(0)?))?;
            Ok(match grant_id {
                Some(grant_id) => CodeRedemption::Replayed { grant_id },
                None => CodeRedemption::Unknown,
            })
        })
        .await
    }

    async fn save_refresh(&self, token_hash: &str, t: &RefreshRecord) -> StoreResult<()> {
        let (token_hash, t, data) = (token_hash.to_owned(), t.clone(), to_json(t)?);
        self.run(move |c| {
            execute(
                c,
                sql::INSERT_REFRESH,
                params![
                    token_hash,
                    t.grant_id,
                    t.client_id,
                    t.sub,
                    data,
                    t.expires_at,
                    t.issued_at
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn refresh(
        &self,
        token_hash: &str,
    ) -> StoreResult<Option<(RefreshRecord, Option<User>)>> {
        let token_hash = token_hash.to_owned();
        self.run(move |c| first(c, sql::REFRESH, [token_hash], |r| rows::refresh(r)))
            .await
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        successor_hash: &str,
        successor: &RefreshRecord,
    ) -> StoreResult<bool> {
        let (old_hash, successor_hash) = (old_hash.to_owned(), successor_hash.to_owned());
        let successor = successor.clone();
        self.run(move |c| rotate(c, &old_hash, &successor_hash, &successor))
            .await
    }

    async fn refresh_and_rotate(
        &self,
        old_hash: &str,
        successor_hash: &str,
        successor: Successor,
    ) -> StoreResult<Option<Rotation>> {
        let (old_hash, successor_hash) = (old_hash.to_owned(), successor_hash.to_owned());
        self.run(move |c| {
            let Some((record, user)) = first(c, sql::REFRESH, [&old_hash], |r| rows::refresh(r))?
            else {
                return Ok(None);
            };
            let rotated = match Rotation::due(&record, user.as_ref(), successor) {
                Some(next) => rotate(c, &old_hash, &successor_hash, &next)?,
                None => false,
            };
            Ok(Some(Rotation {
                record,
                user,
                rotated,
            }))
        })
        .await
    }

    async fn revoke_grant(&self, grant_id: &str, until: i64) -> StoreResult<()> {
        let grant_id = grant_id.to_owned();
        self.run(move |c| {
            let [revoke_tokens, record_grant] = sql::REVOKE_GRANT;
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            execute(&tx, revoke_tokens, [&grant_id])?;
            execute(&tx, record_grant, params![grant_id, until])?;
            Ok(tx.commit()?)
        })
        .await
    }

    async fn token_subject(
        &self,
        sub: &str,
        grant_id: Option<&str>,
        jti_hash: Option<&str>,
    ) -> StoreResult<Option<User>> {
        let (sub, grant_id) = (sub.to_owned(), grant_id.map(str::to_owned));
        let jti_hash = jti_hash.map(str::to_owned);
        self.run(move |c| {
            first(
                c,
                sql::ACTIVE_SUBJECT,
                params![sub, grant_id, jti_hash],
                |r| rows::user(r),
            )
        })
        .await
    }

    async fn revoke_access_token(&self, jti_hash: &str, expires_at: i64) -> StoreResult<()> {
        let jti_hash = jti_hash.to_owned();
        self.run(move |c| {
            execute(c, sql::REVOKE_ACCESS_TOKEN, params![jti_hash, expires_at]).map(drop)
        })
        .await
    }

    async fn access_token_revoked(&self, jti_hash: &str) -> StoreResult<bool> {
        let jti_hash = jti_hash.to_owned();
        self.run(move |c| {
            let found = first(c, sql::ACCESS_TOKEN_REVOKED, [jti_hash], |_| Ok(()))?;
            Ok(found.is_some())
        })
        .await
    }
}

#[async_trait]
impl Maintenance for SqliteStore {
    async fn purge_expired(&self, now: i64, batch: i64) -> StoreResult<u64> {
        self.run(move |c| {
            let mut total = 0;
            for (statement, grace) in sql::PURGE {
                total += execute(c, statement, params![now - grace, batch])? as u64;
            }
            Ok(total)
        })
        .await
    }
}
