//! Helpers for tests and benchmarks: a fresh, isolated PostgreSQL schema per test.
//!
//! Tests use PostgreSQL at `FERRIAM_TEST_POSTGRES` (default
//! `postgres://postgres@127.0.0.1:5432/test`). Each gets a schema of its own, dropped at the
//! end, so parallel tests never see each other. Under `CI=true` a missing PostgreSQL is a
//! failure, elsewhere the PostgreSQL half of a test is skipped with a message.

use sqlx::Connection;

/// The PostgreSQL server tests use.
pub fn postgres_base_url() -> String {
    std::env::var("FERRIAM_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema created for one test.
pub struct PgSchema {
    /// A database URL whose connections use the schema.
    pub url: String,
    name: String,
}

impl PgSchema {
    /// Creates a fresh schema, or returns `None` (outside CI) when PostgreSQL is unreachable.
    pub async fn create() -> Option<Self> {
        let base = postgres_base_url();
        let mut conn = match sqlx::PgConnection::connect(&base).await {
            Ok(c) => c,
            Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
                eprintln!(
                    "PostgreSQL at {base} is unreachable ({e}); skipping the PostgreSQL part"
                );
                return None;
            }
            Err(e) => panic!("PostgreSQL at {base} is required under CI=true: {e}"),
        };
        let name = format!(
            "t_{}",
            crate::tokens::opaque::random_uuid().replace('-', "")
        );
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("cannot create schema {name}: {e}"));
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
        Some(Self { url, name })
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_base_url()).await {
            let _ = sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
                .execute(&mut conn)
                .await;
        }
    }
}
