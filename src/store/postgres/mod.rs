//! The PostgreSQL implementation of [`Store`](super::Store), for replicas that share one
//! database (docs/deploy.md). The tables mirror the sled trees (see `migrations/`); the
//! database, not a read before a write, enforces uniqueness and versions.
//!
//! The store traits are synchronous (sled answers from memory), so a [`PgDatabase`] owns a
//! small runtime of its own and every query runs there while the calling thread waits on a
//! channel: callable from an actix worker, the blocking pool or a plain thread alike.

mod resources;

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::{BackendError, DefinitionStore, StoreError, StoreResult};

pub use resources::PgStore;

/// Migrations embedded in the binary; sqlx holds an advisory lock while it applies them,
/// so replicas starting together apply each migration once.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/postgres/migrations");

/// How long one statement may run before the database cancels it (a 503 to the client).
const STATEMENT_TIMEOUT: &str = "15s";
/// How long a request waits for a pooled connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A failure named by scimlab rather than by the driver.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Message(String);

fn message(text: impl Into<String>) -> BackendError {
    BackendError::new(Message(text.into()))
}

/// Maps a driver error: connection trouble is `Unavailable` (503 with Retry-After), a
/// failure of the statement itself is `Backend` (500), and both keep the cause.
pub(crate) fn db_error(e: sqlx::Error) -> StoreError {
    let unavailable = match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // 08: connection exception; 53: insufficient resources; 57: operator intervention
        // (admin shutdown, statement timeout); 40: serialization failure or deadlock left
        // after the store's retries.
        sqlx::Error::Database(d) => {
            d.code().is_some_and(|c| ["08", "53", "57", "40"].iter().any(|class| c.starts_with(class)))
        }
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(BackendError::new(e))
    } else {
        StoreError::Backend(BackendError::new(e))
    }
}

/// Whether the database aborted a transaction for losing a race it detected (deadlock,
/// serialization failure): running it again is the remedy.
pub(crate) fn is_retryable(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if matches!(d.code().as_deref(), Some("40P01" | "40001")))
}

/// The runtime the queries run on; shut down without waiting, so dropping it from inside
/// another runtime (a test's, actix's) is allowed.
struct QueryRuntime(Option<tokio::runtime::Runtime>);

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// One connection pool to one database, shared by every tenant's store.
pub struct PgDatabase {
    pool: PgPool,
    runtime: QueryRuntime,
}

impl PgDatabase {
    /// Connects, creates `schema` when it is missing (a plain name, checked by the caller),
    /// and applies pending migrations there.
    pub fn connect(url: &str, schema: Option<&str>, max_connections: u32) -> StoreResult<Arc<PgDatabase>> {
        let mut options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Backend(message(format!("the database URL is not valid: {e}"))))?
            .application_name("scimlab")
            .options([("statement_timeout", STATEMENT_TIMEOUT)]);
        let unqualified = options.clone();
        if let Some(schema) = schema {
            options = options.options([("search_path", schema)]);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("scimlab-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(BackendError::new(e)))?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        let database = PgDatabase { pool, runtime: QueryRuntime(Some(runtime)) };
        let pool = database.pool.clone();
        let schema = schema.map(str::to_string);
        database.run(async move {
            if let Some(schema) = schema {
                create_schema(unqualified, &schema).await?;
            }
            MIGRATOR.run(&pool).await.map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => db_error(e),
                other => StoreError::Backend(BackendError::new(other)),
            })
        })?;
        Ok(Arc::new(database))
    }

    pub(crate) fn pool(&self) -> PgPool {
        self.pool.clone()
    }

    /// Runs a query future on the database's runtime and waits for its answer.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        future: impl Future<Output = StoreResult<T>> + Send + 'static,
    ) -> StoreResult<T> {
        let Some(runtime) = self.runtime.0.as_ref() else {
            return Err(StoreError::Unavailable(message("the database connection is shut down")));
        };
        let (answer, wait) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            // The receiver only goes away when the caller did; nothing to tell then.
            let _ = answer.send(future.await);
        });
        wait.recv().unwrap_or_else(|_| Err(StoreError::Unavailable(message("a database query was interrupted"))))
    }
}

/// Creates a schema unless it exists; replicas starting together may race to create it,
/// and the loser finds it made.
async fn create_schema(options: PgConnectOptions, schema: &str) -> StoreResult<()> {
    use sqlx::{ConnectOptions, Connection};
    let mut connection = options.connect().await.map_err(db_error)?;
    let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).execute(&mut connection).await;
    match created {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {}
        other => {
            other.map_err(db_error)?;
        }
    }
    connection.close().await.map_err(db_error)
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
        self.0.run(async move {
            sqlx::query_as::<_, (String, Vec<u8>)>("SELECT name, value FROM tenant_definitions ORDER BY name")
                .fetch_all(&pool)
                .await
                .map_err(db_error)
        })
    }

    fn put(&self, name: &str, value: &[u8]) -> StoreResult<()> {
        let (pool, name, value) = (self.0.pool(), name.to_string(), value.to_vec());
        self.0.run(async move {
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
