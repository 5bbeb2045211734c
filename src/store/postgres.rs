//! The PostgreSQL back end, for several nodes sharing one database.

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres};

/// Store on a PostgreSQL database.
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` and applies the embedded migrations. A `search_path` given through the
    /// URL's `options` parameter puts Ferriam's tables in that schema.
    pub async fn connect(url: &str) -> Result<Self, super::StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    /// A pooled connection for reads.
    async fn reader(&self) -> Result<PoolConnection<Postgres>, super::StoreError> {
        Ok(self.pool.acquire().await?)
    }

    /// Any pooled connection: PostgreSQL's row locks let writers run side by side.
    async fn writer(&self) -> Result<PoolConnection<Postgres>, super::StoreError> {
        self.reader().await
    }
}

super::sql::impl_sql_store!(PgStore, sqlx::Postgres);
