//! The PostgreSQL back end, for several nodes sharing one database.

use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

/// Store on a PostgreSQL database.
pub struct PgStore {
    pool: PgPool,
    /// The same pool: PostgreSQL's row locks let writers run side by side.
    writer: PgPool,
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
        Ok(Self {
            writer: pool.clone(),
            pool,
        })
    }
}

super::sql::impl_sql_store!(PgStore, sqlx::Postgres);
