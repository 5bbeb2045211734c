//! The SQL both back ends share. SQLite and PostgreSQL accept the same statements here
//! (`$N` placeholders, numbered in order of first use; `RETURNING`; `ON CONFLICT`), so the
//! implementation is written once, as a macro instantiated for each pool type.

/// Implements every store trait for `$store`, a struct with two async methods giving a
/// connection: `reader()` for reads, and `writer()` for every statement that writes (and for
/// reads that must see the write just made).
macro_rules! impl_sql_store {
    ($store:ty, $db:ty) => {
        use async_trait::async_trait;
        use ferriam_protocol::client::Client;
        use sqlx::Row;

        use $crate::store::records::Profile;
        use $crate::store::{
            ClientStore, CodeRecord, CodeRedemption, ConsentStore, GrantStore, Interaction,
            InteractionStore, KeyRecord, KeyStore, Maintenance, RefreshRecord, Session,
            SessionStore, SettingsStore, StoreError, StoreResult, StoredClient, User, UserStore,
        };

        fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
            serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
        }

        fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
            serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
        }

        fn is_unique_violation(e: &sqlx::Error) -> bool {
            matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
        }

        fn user_from_row(row: &<$db as sqlx::Database>::Row) -> StoreResult<User> {
            Ok(User {
                sub: row.try_get("sub")?,
                username: row.try_get("username")?,
                password_hash: row.try_get("password_hash")?,
                disabled: row.try_get("disabled")?,
                profile: from_json::<Profile>(&row.try_get::<String, _>("profile")?)?,
                created_at: row.try_get("created_at")?,
                updated_at: row.try_get("updated_at")?,
            })
        }

        /// Counts changes to the client registrations (see `ClientStore::client_set_version`).
        async fn bump_client_version<'e, E>(executor: E) -> StoreResult<()>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            sqlx::query(
                "INSERT INTO settings (name, value) VALUES ('clients_version', '1') ON CONFLICT (name) \
                 DO UPDATE SET value = CAST(CAST(settings.value AS BIGINT) + 1 AS TEXT)",
            )
            .execute(executor)
            .await?;
            Ok(())
        }

        const USER_COLUMNS: &str =
            "sub, username, password_hash, disabled, profile, created_at, updated_at";
        /// The same, from a join where the users table is `u`.
        const USER_COLUMNS_U: &str =
            "u.sub, u.username, u.password_hash, u.disabled, u.profile, u.created_at, u.updated_at";

        #[async_trait]
        impl SettingsStore for $store {
            async fn setting_or_insert(&self, name: &str, candidate: &str) -> StoreResult<String> {
                sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                    .bind(name)
                    .bind(candidate)
                    .execute(&mut *self.writer().await?)
                    .await?;
                Ok(sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                    .bind(name)
                    .fetch_one(&mut *self.writer().await?)
                    .await?)
            }
        }

        #[async_trait]
        impl UserStore for $store {
            async fn create_user(&self, user: &User) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO users (sub, username, password_hash, disabled, profile, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&user.sub)
                .bind(&user.username)
                .bind(&user.password_hash)
                .bind(user.disabled)
                .bind(to_json(&user.profile)?)
                .bind(user.created_at)
                .bind(user.updated_at)
                .execute(&mut *self.writer().await?)
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
                sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1"))
                    .bind(username)
                    .fetch_optional(&mut *self.reader().await?)
                    .await?
                    .map(|r| user_from_row(&r))
                    .transpose()
            }

            async fn user_by_sub(&self, sub: &str) -> StoreResult<Option<User>> {
                sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE sub = $1"))
                    .bind(sub)
                    .fetch_optional(&mut *self.reader().await?)
                    .await?
                    .map(|r| user_from_row(&r))
                    .transpose()
            }

            async fn list_users(&self) -> StoreResult<Vec<User>> {
                sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY username"))
                    .fetch_all(&mut *self.reader().await?)
                    .await?
                    .iter()
                    .map(user_from_row)
                    .collect()
            }

            async fn set_user_disabled(&self, sub: &str, disabled: bool, now: i64) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE users SET disabled = $1, updated_at = $2, failed_logins = 0, locked_until = NULL WHERE sub = $3",
                )
                    .bind(disabled)
                    .bind(now)
                    .bind(sub)
                    .execute(&mut *self.writer().await?)
                    .await?;
                if disabled {
                    sqlx::query("DELETE FROM sessions WHERE sub = $1").bind(sub).execute(&mut *self.writer().await?).await?;
                    sqlx::query("UPDATE refresh_tokens SET revoked = TRUE WHERE sub = $1")
                        .bind(sub)
                        .execute(&mut *self.writer().await?)
                        .await?;
                }
                Ok(done.rows_affected() > 0)
            }

            async fn set_password_hash(&self, sub: &str, hash: &str, now: i64) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE sub = $3")
                    .bind(hash)
                    .bind(now)
                    .bind(sub)
                    .execute(&mut *self.writer().await?)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn reserve_login_attempt(&self, sub: &str, max: i64, locked_until: i64, now: i64) -> StoreResult<bool> {
                let reserved: Option<i64> = sqlx::query_scalar(
                    "UPDATE users SET failed_logins = failed_logins + 1, \
                     locked_until = CASE WHEN failed_logins + 1 >= $1 THEN $2 ELSE locked_until END \
                     WHERE sub = $3 AND (locked_until IS NULL OR locked_until <= $4) RETURNING failed_logins",
                )
                .bind(max)
                .bind(locked_until)
                .bind(sub)
                .bind(now)
                .fetch_optional(&mut *self.writer().await?)
                .await?;
                Ok(reserved.is_some())
            }

            async fn clear_login_failures(&self, sub: &str) -> StoreResult<()> {
                sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE sub = $1")
                    .bind(sub)
                    .execute(&mut *self.writer().await?)
                    .await?;
                Ok(())
            }

            async fn delete_user(&self, sub: &str) -> StoreResult<bool> {
                let mut writer = self.writer().await?;
                let mut tx = sqlx::Connection::begin(&mut *writer).await?;
                for table in ["sessions", "consents", "refresh_tokens"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE sub = $1"))
                        .bind(sub)
                        .execute(&mut *tx)
                        .await?;
                }
                let done = sqlx::query("DELETE FROM users WHERE sub = $1").bind(sub).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            }
        }

        #[async_trait]
        impl ClientStore for $store {
            async fn create_client(&self, client: &Client, secret_hash: Option<&str>, now: i64) -> StoreResult<()> {
                sqlx::query("INSERT INTO clients (client_id, secret_hash, settings, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&client.client_id)
                    .bind(secret_hash)
                    .bind(to_json(client)?)
                    .bind(now)
                    .execute(&mut *self.writer().await?)
                    .await
                    .map_err(|e| {
                        if is_unique_violation(&e) {
                            StoreError::AlreadyExists(format!("client {}", client.client_id))
                        } else {
                            e.into()
                        }
                    })?;
                bump_client_version(&mut *self.writer().await?).await
            }

            async fn client(&self, client_id: &str) -> StoreResult<Option<StoredClient>> {
                let row = sqlx::query("SELECT secret_hash, settings FROM clients WHERE client_id = $1")
                    .bind(client_id)
                    .fetch_optional(&mut *self.reader().await?)
                    .await?;
                row.map(|r| {
                    Ok(StoredClient {
                        client: from_json(&r.try_get::<String, _>("settings")?)?,
                        secret_hash: r.try_get("secret_hash")?,
                    })
                })
                .transpose()
            }

            async fn list_clients(&self) -> StoreResult<Vec<Client>> {
                let rows = sqlx::query("SELECT settings FROM clients ORDER BY created_at, client_id")
                    .fetch_all(&mut *self.reader().await?)
                    .await?;
                rows.iter().map(|r| from_json(&r.try_get::<String, _>("settings")?)).collect()
            }

            async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
                let mut writer = self.writer().await?;
                let mut tx = sqlx::Connection::begin(&mut *writer).await?;
                for table in ["consents", "refresh_tokens"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE client_id = $1"))
                        .bind(client_id)
                        .execute(&mut *tx)
                        .await?;
                }
                let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
                    .bind(client_id)
                    .execute(&mut *tx)
                    .await?;
                bump_client_version(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected() > 0)
            }

            async fn set_client_secret(&self, client_id: &str, secret_hash: &str) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE clients SET secret_hash = $1 WHERE client_id = $2 AND secret_hash IS NOT NULL")
                    .bind(secret_hash)
                    .bind(client_id)
                    .execute(&mut *self.writer().await?)
                    .await?;
                bump_client_version(&mut *self.writer().await?).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn client_set_version(&self) -> StoreResult<i64> {
                let value: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE name = 'clients_version'")
                    .fetch_optional(&mut *self.reader().await?)
                    .await?;
                Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
            }
        }

        #[async_trait]
        impl KeyStore for $store {
            async fn keys(&self) -> StoreResult<Vec<KeyRecord>> {
                let rows = sqlx::query("SELECT kid, alg, private_pkcs8, created_at, retired_at FROM keys ORDER BY created_at, kid")
                    .fetch_all(&mut *self.reader().await?)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(KeyRecord {
                            kid: r.try_get("kid")?,
                            alg: r.try_get("alg")?,
                            private_pkcs8: r.try_get("private_pkcs8")?,
                            created_at: r.try_get("created_at")?,
                            retired_at: r.try_get("retired_at")?,
                        })
                    })
                    .collect()
            }

            async fn add_key(&self, key: &KeyRecord) -> StoreResult<()> {
                sqlx::query("INSERT INTO keys (kid, alg, private_pkcs8, created_at, retired_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&key.kid)
                    .bind(&key.alg)
                    .bind(&key.private_pkcs8)
                    .bind(key.created_at)
                    .bind(key.retired_at)
                    .execute(&mut *self.writer().await?)
                    .await?;
                Ok(())
            }

            async fn retire_key(&self, kid: &str, now: i64) -> StoreResult<bool> {
                let done = sqlx::query("UPDATE keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL")
                    .bind(now)
                    .bind(kid)
                    .execute(&mut *self.writer().await?)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn key_set_version(&self) -> StoreResult<i64> {
                let (count, retired): (i64, i64) = sqlx::query_as(
                    "SELECT COUNT(*), CAST(COUNT(retired_at) AS BIGINT) FROM keys",
                )
                .fetch_one(&mut *self.reader().await?)
                .await?;
                Ok(count * 1_000_000 + retired)
            }
        }

        #[async_trait]
        impl SessionStore for $store {
            async fn create_session(&self, id_hash: &str, s: &Session) -> StoreResult<()> {
                sqlx::query("INSERT INTO sessions (id_hash, sid, sub, auth_time, amr, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(id_hash)
                    .bind(&s.sid)
                    .bind(&s.sub)
                    .bind(s.auth_time)
                    .bind(to_json(&s.amr)?)
                    .bind(s.expires_at)
                    .execute(&mut *self.writer().await?)
                    .await?;
                Ok(())
            }

            async fn session(&self, id_hash: &str, now: i64) -> StoreResult<Option<Session>> {
                let row = sqlx::query("SELECT sid, sub, auth_time, amr, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2")
                    .bind(id_hash)
                    .bind(now)
                    .fetch_optional(&mut *self.reader().await?)
                    .await?;
                row.map(|r| {
                    Ok(Session {
                        sid: r.try_get("sid")?,
                        sub: r.try_get("sub")?,
                        auth_time: r.try_get("auth_time")?,
                        amr: from_json(&r.try_get::<String, _>("amr")?)?,
                        expires_at: r.try_get("expires_at")?,
                    })
                })
                .transpose()
            }

            async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&mut *self.writer().await?).await?;
                Ok(())
            }
        }

        #[async_trait]
        impl InteractionStore for $store {
            async fn save_interaction(&self, id_hash: &str, i: &Interaction) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO interactions (id_hash, data, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (id_hash) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at",
                )
                .bind(id_hash)
                .bind(to_json(i)?)
                .bind(i.expires_at)
                .execute(&mut *self.writer().await?)
                .await?;
                Ok(())
            }

            async fn interaction(&self, id_hash: &str, now: i64) -> StoreResult<Option<Interaction>> {
                let data: Option<String> =
                    sqlx::query_scalar("SELECT data FROM interactions WHERE id_hash = $1 AND expires_at > $2")
                        .bind(id_hash)
                        .bind(now)
                        .fetch_optional(&mut *self.reader().await?)
                        .await?;
                data.map(|d| from_json(&d)).transpose()
            }

            async fn delete_interaction(&self, id_hash: &str) -> StoreResult<()> {
                sqlx::query("DELETE FROM interactions WHERE id_hash = $1").bind(id_hash).execute(&mut *self.writer().await?).await?;
                Ok(())
            }
        }

        #[async_trait]
        impl ConsentStore for $store {
            async fn consent(&self, sub: &str, client_id: &str) -> StoreResult<Option<String>> {
                Ok(sqlx::query_scalar("SELECT scope FROM consents WHERE sub = $1 AND client_id = $2")
                    .bind(sub)
                    .bind(client_id)
                    .fetch_optional(&mut *self.reader().await?)
                    .await?)
            }

            async fn save_consent(&self, sub: &str, client_id: &str, scope: &str, now: i64) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO consents (sub, client_id, scope, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (sub, client_id) DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at",
                )
                .bind(sub)
                .bind(client_id)
                .bind(scope)
                .bind(now)
                .execute(&mut *self.writer().await?)
                .await?;
                Ok(())
            }
        }

        #[async_trait]
        impl GrantStore for $store {
            async fn save_code(&self, code_hash: &str, code: &CodeRecord) -> StoreResult<()> {
                sqlx::query("INSERT INTO codes (code_hash, grant_id, sub, data, expires_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(code_hash)
                    .bind(&code.grant_id)
                    .bind(&code.sub)
                    .bind(to_json(code)?)
                    .bind(code.binding.expires_at)
                    .execute(&mut *self.writer().await?)
                    .await?;
                Ok(())
            }

            async fn redeem_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeRedemption> {
                // The user comes back in the same statement (RETURNING cannot join, so one
                // scalar subquery per column), saving the grant a round trip.
                static REDEEM: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                let redeem = REDEEM.get_or_init(|| {
                    let user = USER_COLUMNS
                        .split(", ")
                        .map(|c| format!("(SELECT u.{c} FROM users u WHERE u.sub = codes.sub AND u.disabled = FALSE) AS {c}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!("UPDATE codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL RETURNING data, {user}")
                });
                let fresh = sqlx::query(redeem)
                    .bind(now)
                    .bind(code_hash)
                    .fetch_optional(&mut *self.writer().await?)
                    .await?;
                if let Some(row) = fresh {
                    let code = Box::new(from_json(&row.try_get::<String, _>("data")?)?);
                    let user = match row.try_get::<Option<String>, _>("sub")? {
                        Some(_) => Some(Box::new(user_from_row(&row)?)),
                        None => None,
                    };
                    return Ok(CodeRedemption::Fresh { code, user });
                }
                let grant_id: Option<String> = sqlx::query_scalar("SELECT grant_id FROM codes WHERE code_hash = $1")
                    .bind(code_hash)
                    .fetch_optional(&mut *self.reader().await?)
                    .await?;
                Ok(match grant_id {
                    Some(grant_id) => CodeRedemption::Replayed { grant_id },
                    None => CodeRedemption::Unknown,
                })
            }

            async fn save_refresh(&self, token_hash: &str, t: &RefreshRecord) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, grant_id, client_id, sub, data, expires_at, issued_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(token_hash)
                .bind(&t.grant_id)
                .bind(&t.client_id)
                .bind(&t.sub)
                .bind(to_json(t)?)
                .bind(t.expires_at)
                .bind(t.issued_at)
                .execute(&mut *self.writer().await?)
                .await?;
                Ok(())
            }

            async fn refresh(&self, token_hash: &str) -> StoreResult<Option<(RefreshRecord, Option<User>)>> {
                // A token of a revoked grant is revoked even if it was inserted after the
                // revocation ran (a rotation or code exchange racing a replay). A token is
                // rotated when a successor names it as its parent.
                let row = sqlx::query(&format!(
                    "SELECT r.data, r.issued_at, s.issued_at AS rotated_at, (r.revoked OR EXISTS \
                     (SELECT 1 FROM revoked_grants g WHERE g.grant_id = r.grant_id)) AS revoked, {USER_COLUMNS_U} \
                     FROM refresh_tokens r LEFT JOIN refresh_tokens s ON s.parent_hash = r.token_hash \
                     LEFT JOIN users u ON u.sub = r.sub AND u.disabled = FALSE \
                     WHERE r.token_hash = $1",
                ))
                    .bind(token_hash)
                    .fetch_optional(&mut *self.reader().await?)
                    .await?;
                row.map(|r| {
                    let mut record: RefreshRecord = from_json(&r.try_get::<String, _>("data")?)?;
                    record.issued_at = r.try_get("issued_at")?;
                    record.rotated_at = r.try_get("rotated_at")?;
                    record.revoked = r.try_get("revoked")?;
                    let user = match r.try_get::<Option<String>, _>("sub")? {
                        Some(_) => Some(user_from_row(&r)?),
                        None => None,
                    };
                    Ok((record, user))
                })
                .transpose()
            }

            async fn rotate_refresh(
                &self,
                old_hash: &str,
                successor_hash: &str,
                successor: &RefreshRecord,
            ) -> StoreResult<bool> {
                // One statement: the unique index on parent_hash (and the primary key) make
                // the second of two racing rotations insert nothing. The WHERE clause also
                // keeps SQLite's upsert syntax unambiguous after INSERT … SELECT.
                let done = sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, parent_hash, grant_id, client_id, sub, data, expires_at, issued_at) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM refresh_tokens r \
                     WHERE r.token_hash = $2 AND r.revoked = FALSE \
                     AND NOT EXISTS (SELECT 1 FROM revoked_grants g WHERE g.grant_id = r.grant_id) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(successor_hash)
                .bind(old_hash)
                .bind(&successor.grant_id)
                .bind(&successor.client_id)
                .bind(&successor.sub)
                .bind(to_json(successor)?)
                .bind(successor.expires_at)
                .bind(successor.issued_at)
                .execute(&mut *self.writer().await?)
                .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn revoke_grant(&self, grant_id: &str, until: i64) -> StoreResult<()> {
                let mut writer = self.writer().await?;
                let mut tx = sqlx::Connection::begin(&mut *writer).await?;
                sqlx::query("UPDATE refresh_tokens SET revoked = TRUE WHERE grant_id = $1")
                    .bind(grant_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO revoked_grants (grant_id, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (grant_id) DO UPDATE SET expires_at = excluded.expires_at",
                )
                .bind(grant_id)
                .bind(until)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn active_subject(&self, sub: &str, grant_id: Option<&str>) -> StoreResult<Option<User>> {
                sqlx::query(&format!(
                    "SELECT {USER_COLUMNS} FROM users WHERE sub = $1 AND disabled = FALSE \
                     AND NOT EXISTS (SELECT 1 FROM revoked_grants WHERE grant_id = $2)"
                ))
                .bind(sub)
                .bind(grant_id)
                .fetch_optional(&mut *self.reader().await?)
                .await?
                .map(|r| user_from_row(&r))
                .transpose()
            }
        }

        #[async_trait]
        impl Maintenance for $store {
            async fn purge_expired(&self, now: i64, batch: i64) -> StoreResult<u64> {
                // Consumed codes are kept a little past their expiry so that a late replay is
                // still recognised and its grant revoked.
                let statements = [
                    ("codes", "code_hash", now - 600),
                    ("sessions", "id_hash", now),
                    ("interactions", "id_hash", now),
                    ("refresh_tokens", "token_hash", now),
                    ("revoked_grants", "grant_id", now),
                ];
                let mut total = 0;
                for (table, key, cutoff) in statements {
                    let done = sqlx::query(&format!(
                        "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE expires_at < $1 LIMIT $2)"
                    ))
                    .bind(cutoff)
                    .bind(batch)
                    .execute(&mut *self.writer().await?)
                    .await?;
                    total += done.rows_affected();
                }
                Ok(total)
            }
        }
    };
}

pub(crate) use impl_sql_store;
