//! The embedded SQLite back end: one file, WAL journal, the default for a single node.
//!
//! SQLite lets one connection write at a time. Writers that race each other for that lock do
//! not queue: the losers sleep in SQLite's busy handler (1, 2, 5, 10… ms) and retry, which
//! under load turns into tens of milliseconds of tail latency. So every write goes through one
//! dedicated connection behind an async mutex (waiters queue in order, and each hand-over is
//! one wake-up) and reads use a pool of read-only connections, which WAL never blocks.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection, SqlitePool};
use tokio::sync::{Mutex, MutexGuard};

/// Store on an SQLite database file.
pub struct SqliteStore {
    /// Read-only connections.
    pool: SqlitePool,
    /// The one connection that writes.
    writer: Mutex<SqliteConnection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` (`sqlite://path` or a path) and
    /// applies the embedded migrations.
    pub async fn open(url: &str) -> Result<Self, super::StoreError> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if let Some(parent) = std::path::Path::new(path).parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
            }
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let mut writer = options.connect().await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut writer)
            .await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.read_only(true))
            .await?;
        Ok(Self {
            pool,
            writer: Mutex::new(writer),
        })
    }

    /// The writing connection, once the writes queued before this one are done.
    async fn writer(&self) -> Result<MutexGuard<'_, SqliteConnection>, super::StoreError> {
        Ok(self.writer.lock().await)
    }
}

super::sql::impl_sql_store!(SqliteStore, sqlx::Sqlite);
