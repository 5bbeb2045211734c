//! Storage: one `Store` made of small per-aggregate traits, with two real back ends (SQLite,
//! embedded and the default; PostgreSQL for several nodes) that share their SQL
//! (`statements`) and differ only in how they send it and read the rows.
//!
//! Every operation that enforces single use (codes, refresh rotation) is one atomic statement,
//! so two nodes or two concurrent requests can never both win.

pub mod audit;
pub mod ciba;
pub mod factors;
pub mod limits;
mod logout;
pub mod otp;
pub mod postgres;
mod records;
mod rows;
pub mod sqlite;
mod statements;
pub mod upstreams;

#[cfg(test)]
pub mod conformance;

use std::sync::Arc;

use async_trait::async_trait;
use ferriam_protocol::client::Client;

pub use audit::{AuditEvent, AuditFilter, AuditKind, AuditStore};
pub use ciba::{CibaAsked, CibaDecision, CibaJob, CibaRequest, CibaStore};
pub use factors::{FactorStore, TotpFactor};
pub use limits::{LimitHit, LimitRule, LimitStore};
pub use logout::{Delivery, EndedSession, LogoutStore, SessionSummary};
pub use otp::{Attempt, NewCode, OtpStore};
pub use records::{
    CodeRecord, CodeRedemption, FailureCount, Interaction, KeyRecord, PendingFactors, Profile,
    RefreshRecord, Session, StoredClient, UpstreamWait, User,
};
pub use upstreams::{Upstream, UpstreamLink, UpstreamStore};

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database thread has stopped, or a statement on it panicked")]
    Stopped,
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Server-wide values created once and shared by every node (HMAC keys).
#[async_trait]
pub trait SettingsStore {
    /// Returns the stored value of `name`, storing `candidate` first if there is none.
    async fn setting_or_insert(&self, name: &str, candidate: &str) -> StoreResult<String>;
}

/// The account lock of [`UserStore::reserve_login_attempt`]: the attempt that makes `max`
/// consecutive failures locks the account for `first` seconds, and each attempt after a lock
/// has ended locks it again for twice as long as the lock before, at most `longest`, until a
/// success clears the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    pub max: i64,
    pub first: i64,
    pub longest: i64,
}

#[async_trait]
pub trait UserStore {
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    async fn user_by_sub(&self, sub: &str) -> StoreResult<Option<User>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Returns false when no such user exists. Either way the failure count is cleared.
    async fn set_user_disabled(&self, sub: &str, disabled: bool, now: i64) -> StoreResult<bool>;
    async fn set_password_hash(&self, sub: &str, hash: &str, now: i64) -> StoreResult<bool>;
    /// Reserves one sign-in attempt before the password is checked, atomically, so parallel
    /// attempts cannot exceed the limit (Keycloak CVE-2024-4629). Reaching `lockout.max`
    /// consecutive failures locks the account (see [`Lockout`]); returns false while it is
    /// locked.
    async fn reserve_login_attempt(
        &self,
        sub: &str,
        lockout: &Lockout,
        now: i64,
    ) -> StoreResult<bool>;
    /// A successful sign-in clears the failure count and the lock's back-off.
    async fn clear_login_failures(&self, sub: &str) -> StoreResult<()>;
    /// Deletes the user with their sessions, consents and refresh tokens.
    async fn delete_user(&self, sub: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait ClientStore {
    /// `sealed_secret` is the secret itself, sealed, for `client_secret_jwt` clients only.
    async fn create_client(
        &self,
        client: &Client,
        secret_hash: Option<&str>,
        sealed_secret: Option<&str>,
        now: i64,
    ) -> StoreResult<()>;
    async fn client(&self, client_id: &str) -> StoreResult<Option<StoredClient>>;
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;
    async fn delete_client(&self, client_id: &str) -> StoreResult<bool>;
    async fn set_client_secret(
        &self,
        client_id: &str,
        secret_hash: &str,
        sealed_secret: Option<&str>,
    ) -> StoreResult<bool>;
    /// Replaces a registration's settings (its secret stays), bumping the client-set version
    /// so every node drops its cached copy; false when no such client exists.
    async fn update_client(&self, client: &Client) -> StoreResult<bool>;
    /// Changes whenever a client is created, updated, deleted or given a new secret; servers poll it to
    /// know when their cached registrations are stale.
    async fn client_set_version(&self) -> StoreResult<i64>;
}

/// What client authentication shares across requests and nodes: the jtis of accepted client
/// assertions (each accepted once) and the failure counters that throttle guessing.
#[async_trait]
pub trait ClientAuthStore {
    /// Records a client assertion's jti hash until `expires_at`; false when it is already
    /// recorded and alive (a replay). Atomic: of two racing uses, one wins.
    async fn use_assertion_jti(
        &self,
        jti_hash: &str,
        expires_at: i64,
        now: i64,
    ) -> StoreResult<bool>;
    /// The failures of the current window of each of two keys, as `(key, count)`; keys with
    /// no failures in a live window are left out.
    async fn auth_failures(
        &self,
        first_key: &str,
        second_key: &str,
        now: i64,
    ) -> StoreResult<Vec<(String, FailureCount)>>;
    /// Counts one failure for `key` and returns the count including it, atomically (parallel
    /// failures each get their own number). A window that has ended starts again, ending at
    /// `window_ends`.
    async fn count_auth_failure(
        &self,
        key: &str,
        window_ends: i64,
        now: i64,
    ) -> StoreResult<FailureCount>;
}

#[async_trait]
pub trait KeyStore {
    async fn keys(&self) -> StoreResult<Vec<KeyRecord>>;
    async fn add_key(&self, key: &KeyRecord) -> StoreResult<()>;
    async fn retire_key(&self, kid: &str, now: i64) -> StoreResult<bool>;
    /// Changes whenever a key is added or retired; cheap enough to poll every second.
    async fn key_set_version(&self) -> StoreResult<i64>;
}

#[async_trait]
pub trait SessionStore {
    async fn create_session(&self, id_hash: &str, session: &Session) -> StoreResult<()>;
    async fn session(&self, id_hash: &str, now: i64) -> StoreResult<Option<Session>>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<()>;
}

#[async_trait]
pub trait InteractionStore {
    async fn save_interaction(&self, id_hash: &str, interaction: &Interaction) -> StoreResult<()>;
    async fn interaction(&self, id_hash: &str, now: i64) -> StoreResult<Option<Interaction>>;
    async fn delete_interaction(&self, id_hash: &str) -> StoreResult<()>;
    /// Reads and deletes an unexpired interaction at once: of two requests taking the same
    /// one, only one gets it (the single-use state of an upstream sign-in).
    async fn take_interaction(&self, id_hash: &str, now: i64) -> StoreResult<Option<Interaction>>;
}

#[async_trait]
pub trait ConsentStore {
    /// The scope the user has granted the client so far, space-separated.
    async fn consent(&self, sub: &str, client_id: &str) -> StoreResult<Option<String>>;
    async fn save_consent(
        &self,
        sub: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> StoreResult<()>;
}

/// Decides, from a refresh token and its user (if still enabled), the record of its successor;
/// `None` leaves the token as it is. Pure: it may run on the database's thread.
pub type Successor =
    Box<dyn FnOnce(&RefreshRecord, Option<&User>) -> Option<RefreshRecord> + Send + 'static>;

/// A refresh token as read, and whether this request rotated it.
pub struct Rotation {
    pub record: RefreshRecord,
    pub user: Option<User>,
    pub rotated: bool,
}

impl Rotation {
    /// The successor to store for a token as read: none once it has been rotated, else what
    /// `successor` decides.
    pub(crate) fn due(
        record: &RefreshRecord,
        user: Option<&User>,
        successor: Successor,
    ) -> Option<RefreshRecord> {
        match record.rotated_at {
            Some(_) => None,
            None => successor(record, user),
        }
    }
}

#[async_trait]
pub trait GrantStore {
    async fn save_code(&self, code_hash: &str, code: &CodeRecord) -> StoreResult<()>;
    /// Marks the code used, atomically: only the first redemption gets `Fresh`.
    async fn redeem_code(&self, code_hash: &str, now: i64) -> StoreResult<CodeRedemption>;
    async fn save_refresh(&self, token_hash: &str, token: &RefreshRecord) -> StoreResult<()>;
    /// A refresh token, with its user if that user exists and is enabled, in one round trip.
    async fn refresh(&self, token_hash: &str)
        -> StoreResult<Option<(RefreshRecord, Option<User>)>>;
    /// Stores the successor of `old_hash`, which rotates it; false when another request rotated
    /// it first, or when it is revoked or unknown.
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        successor_hash: &str,
        successor: &RefreshRecord,
    ) -> StoreResult<bool>;
    /// Reads a refresh token with its user and, when `successor` returns a record for it and
    /// it has not been rotated yet, rotates it to that record. `None` for an unknown token.
    /// This default reads, then rotates (two statements, as on PostgreSQL); SQLite runs both
    /// as one job on its thread, one hand-off instead of two.
    async fn refresh_and_rotate(
        &self,
        old_hash: &str,
        successor_hash: &str,
        successor: Successor,
    ) -> StoreResult<Option<Rotation>> {
        let Some((record, user)) = self.refresh(old_hash).await? else {
            return Ok(None);
        };
        let rotated = match Rotation::due(&record, user.as_ref(), successor) {
            Some(next) => self.rotate_refresh(old_hash, successor_hash, &next).await?,
            None => false,
        };
        Ok(Some(Rotation {
            record,
            user,
            rotated,
        }))
    }
    /// Revokes a grant: its refresh tokens stop working and its access tokens are refused.
    async fn revoke_grant(&self, grant_id: &str, until: i64) -> StoreResult<()>;
    /// The user a token speaks for, in one round trip: only if the user exists, is enabled,
    /// and the token's grant (if any) has not been revoked.
    async fn active_subject(&self, sub: &str, grant_id: Option<&str>) -> StoreResult<Option<User>> {
        self.token_subject(sub, grant_id, None).await
    }
    /// [`GrantStore::active_subject`] for an access token, which must also not have been
    /// revoked by itself (`jti_hash`, the hash of its `jti`): still one round trip, so userinfo
    /// and introspection cost one store call.
    async fn token_subject(
        &self,
        sub: &str,
        grant_id: Option<&str>,
        jti_hash: Option<&str>,
    ) -> StoreResult<Option<User>>;
    /// Revokes one access token by the hash of its `jti` (RFC 7009 §2), remembered until the
    /// token's own expiry, so that every node refuses it from the next request on.
    async fn revoke_access_token(&self, jti_hash: &str, expires_at: i64) -> StoreResult<()>;
    /// Whether an access token has been revoked by its jti: the check for tokens that speak
    /// for no user (client_credentials).
    async fn access_token_revoked(&self, jti_hash: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait Maintenance {
    /// Deletes up to `batch` expired rows per table; returns how many went.
    async fn purge_expired(&self, now: i64, batch: i64) -> StoreResult<u64>;
}

/// Everything the server stores.
pub trait Store:
    SettingsStore
    + UserStore
    + ClientStore
    + ClientAuthStore
    + KeyStore
    + SessionStore
    + InteractionStore
    + ConsentStore
    + GrantStore
    + Maintenance
    + UpstreamStore
    + LogoutStore
    + AuditStore
    + OtpStore
    + FactorStore
    + LimitStore
    + CibaStore
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: SettingsStore
        + UserStore
        + ClientStore
        + ClientAuthStore
        + KeyStore
        + SessionStore
        + InteractionStore
        + ConsentStore
        + GrantStore
        + Maintenance
        + UpstreamStore
        + LogoutStore
        + AuditStore
        + OtpStore
        + FactorStore
        + LimitStore
        + CibaStore
        + Send
        + Sync
{
}

/// Opens the database a URL names, applying migrations: `postgres://` or `postgresql://` for
/// PostgreSQL, anything else (`sqlite://path` or a plain path) for SQLite.
pub async fn open(database_url: &str) -> StoreResult<Arc<dyn Store>> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(database_url).await?))
    } else {
        Ok(Arc::new(sqlite::SqliteStore::open(database_url).await?))
    }
}
