//! The embedded SQLite back end: one file, WAL journal, the default for a single node.
//!
//! SQLite lets one connection write at a time. Writers that race each other for that lock do
//! not queue: the losers sleep in SQLite's busy handler (1, 2, 5, 10… ms) and retry, which
//! under load turns into tens of milliseconds of tail latency. So every write goes through one
//! dedicated connection behind an async mutex (waiters queue in order, and each hand-over is
//! one wake-up), and reads use a few read-only connections, which WAL never blocks.
//!
//! The connections are held here rather than in an `sqlx::Pool`: a pool pings every
//! connection it takes back, which for SQLite is one more round trip to the connection's
//! thread after every query, and on this store's hot paths those round trips, not SQLite,
//! are what costs.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, SqliteConnection};
use tokio::sync::{Mutex, MutexGuard, Semaphore, SemaphorePermit};

/// How many read-only connections to keep (each has a thread of its own).
const READERS: usize = 8;

/// Store on an SQLite database file.
pub struct SqliteStore {
    /// Read-only connections.
    readers: Vec<Mutex<SqliteConnection>>,
    /// One permit per reader: a read waits here, in turn, until some reader is free.
    free_readers: Semaphore,
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
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(Mutex::new(options.clone().read_only(true).connect().await?));
        }
        Ok(Self {
            readers,
            free_readers: Semaphore::new(READERS),
            writer: Mutex::new(writer),
        })
    }

    /// A free read-only connection, waiting for one if all are busy.
    async fn reader(&self) -> Result<Reader<'_>, super::StoreError> {
        let permit = self
            .free_readers
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        // A permit means at most READERS - 1 others hold a connection, so one is free.
        for reader in &self.readers {
            if let Ok(connection) = reader.try_lock() {
                return Ok(Reader {
                    connection,
                    _permit: permit,
                });
            }
        }
        // Unreachable, but waiting is a safe answer.
        Ok(Reader {
            connection: self.readers[0].lock().await,
            _permit: permit,
        })
    }

    /// The writing connection, once the writes queued before this one are done.
    async fn writer(&self) -> Result<MutexGuard<'_, SqliteConnection>, super::StoreError> {
        Ok(self.writer.lock().await)
    }
}

/// A read-only connection, lent until dropped.
struct Reader<'a> {
    connection: MutexGuard<'a, SqliteConnection>,
    _permit: SemaphorePermit<'a>,
}

impl std::ops::Deref for Reader<'_> {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.connection
    }
}

impl std::ops::DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.connection
    }
}

super::sql::impl_sql_store!(SqliteStore, sqlx::Sqlite);
