//! The PostgreSQL implementation of [`Store`](super::Store), for replicas that share one
//! database (docs/deploy.md). The tables mirror the sled trees (`src/postgres/migrations`);
//! the database, not a read before a write, enforces uniqueness and versions.

mod records;
mod resources;
mod writes;

use std::sync::Arc;

use super::{BackendError, DefinitionStore, StoreError, StoreResult};
use crate::postgres::{DatabaseError, PgDatabase};

pub use records::PgRecordLog;
pub use resources::PgStore;

/// Maps a driver error: connection trouble is `Unavailable` (503 with Retry-After), a
/// failure of the statement itself is `Backend` (500), and both keep the cause.
pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    if crate::postgres::is_unavailable(&e) {
        StoreError::Unavailable(BackendError::new(e))
    } else {
        StoreError::Backend(BackendError::new(e))
    }
}

/// Runs a query on the database's runtime: an interrupted query (shutdown) is unavailable.
pub(crate) fn run<T: Send + 'static>(
    database: &PgDatabase,
    future: impl std::future::Future<Output = StoreResult<T>> + Send + 'static,
) -> StoreResult<T> {
    database.run(future).unwrap_or_else(|e: DatabaseError| Err(StoreError::Unavailable(BackendError::new(e))))
}

/// Tenant definitions in the `tenant_definitions` table.
pub struct PgDefinitions(Arc<PgDatabase>);

impl PgDefinitions {
    pub fn new(database: Arc<PgDatabase>) -> PgDefinitions {
        PgDefinitions(database)
    }
}

impl DefinitionStore for PgDefinitions {
    fn all(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let pool = self.0.pool();
        run(&self.0, async move {
            sqlx::query_as::<_, (String, Vec<u8>)>("SELECT name, value FROM tenant_definitions ORDER BY name")
                .fetch_all(&pool)
                .await
                .map_err(db_error)
        })
    }

    fn get(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let (pool, name) = (self.0.pool(), name.to_string());
        run(&self.0, async move {
            sqlx::query_scalar("SELECT value FROM tenant_definitions WHERE name = $1")
                .bind(name)
                .fetch_optional(&pool)
                .await
                .map_err(db_error)
        })
    }

    fn put(&self, name: &str, value: &[u8]) -> StoreResult<()> {
        let (pool, name, value) = (self.0.pool(), name.to_string(), value.to_vec());
        run(&self.0, async move {
            sqlx::query(
                "INSERT INTO tenant_definitions (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            )
            .bind(name)
            .bind(value)
            .execute(&pool)
            .await
            .map_err(db_error)?;
            Ok(())
        })
    }
}
