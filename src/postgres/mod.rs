//! One PostgreSQL database shared by scimlab replicas (docs/deploy.md): the connection
//! pool, the migrations, and a bridge for the synchronous storage traits. The SCIM store
//! (`store::PgStore`) and the hosted jobs' state (`provision::state`) are built on it.
//!
//! The storage traits are synchronous (sled answers from memory), so a [`PgDatabase`] owns
//! a small runtime of its own and every query runs there while the calling thread waits on
//! a channel: callable from an actix worker, the blocking pool or a plain thread alike.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

/// Migrations embedded in the binary (every table of every store); sqlx holds an advisory
/// lock while it applies them, so replicas starting together apply each migration once.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/postgres/migrations");

/// How long one statement may run before the database cancels it.
const STATEMENT_TIMEOUT: &str = "15s";
/// How long a caller waits for a pooled connection before giving up.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("the database URL is not valid: {0}")]
    Url(#[source] sqlx::Error),
    #[error("cannot start the database connection's runtime: {0}")]
    Runtime(#[source] std::io::Error),
    #[error("{0}")]
    Query(#[from] sqlx::Error),
    #[error("applying the database migrations failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("a database query was interrupted (the server is shutting down)")]
    Interrupted,
}

/// Whether an error means the database cannot be reached just now (connection trouble, a
/// full pool, a cancelled statement): worth a retry, unlike a statement the database refused.
pub fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // 08: connection exception; 53: insufficient resources; 57: operator intervention
        // (admin shutdown, statement timeout); 40: serialization failure or deadlock.
        sqlx::Error::Database(d) => {
            d.code().is_some_and(|c| ["08", "53", "57", "40"].iter().any(|class| c.starts_with(class)))
        }
        _ => false,
    }
}

/// Whether the database aborted a transaction for losing a race it detected (deadlock,
/// serialization failure): running it again is the remedy.
pub fn is_retryable(e: &sqlx::Error) -> bool {
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

/// One connection pool to one database (and schema).
pub struct PgDatabase {
    pool: PgPool,
    options: PgConnectOptions,
    runtime: QueryRuntime,
}

impl PgDatabase {
    /// Connects, creates `schema` when it is missing (a plain name, checked by the caller),
    /// and applies pending migrations there.
    pub fn connect(url: &str, schema: Option<&str>, max_connections: u32) -> Result<Arc<PgDatabase>, DatabaseError> {
        let mut options = PgConnectOptions::from_str(url)
            .map_err(DatabaseError::Url)?
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
            .map_err(DatabaseError::Runtime)?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options.clone());
        let database = PgDatabase { pool, options, runtime: QueryRuntime(Some(runtime)) };
        let pool = database.pool.clone();
        let schema = schema.map(str::to_string);
        database.run(async move {
            if let Some(schema) = schema {
                create_schema(unqualified, &schema).await?;
            }
            MIGRATOR.run(&pool).await.map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => DatabaseError::Query(e),
                other => DatabaseError::Migrate(other),
            })
        })??;
        Ok(Arc::new(database))
    }

    pub fn pool(&self) -> PgPool {
        self.pool.clone()
    }

    /// Options for a connection of its own, outside the pool (a lease that must live as
    /// long as it is held).
    pub fn connect_options(&self) -> PgConnectOptions {
        self.options.clone()
    }

    /// Runs a future on the database's runtime and waits for its answer.
    pub fn run<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> Result<T, DatabaseError> {
        let Some(runtime) = self.runtime.0.as_ref() else {
            return Err(DatabaseError::Interrupted);
        };
        let (answer, wait) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            // The receiver only goes away when the caller did; nothing to tell then.
            let _ = answer.send(future.await);
        });
        wait.recv().map_err(|_| DatabaseError::Interrupted)
    }

    /// Runs a future on the database's runtime; the caller awaits it from its own runtime.
    pub async fn run_async<T: Send + 'static>(
        &self,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, DatabaseError> {
        let Some(runtime) = self.runtime.0.as_ref() else {
            return Err(DatabaseError::Interrupted);
        };
        runtime.spawn(future).await.map_err(|_| DatabaseError::Interrupted)
    }

    /// Drops a schema with every table in it (a benchmark's clean-up).
    pub fn drop_schema(&self, schema: &str) -> Result<(), DatabaseError> {
        let (pool, sql) = (self.pool(), format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"));
        self.run(async move { sqlx::query(&sql).execute(&pool).await.map(|_| ()) })??;
        Ok(())
    }
}

/// Creates a schema unless it exists; replicas starting together may race to create it,
/// and the loser finds it made.
async fn create_schema(options: PgConnectOptions, schema: &str) -> Result<(), DatabaseError> {
    use sqlx::{ConnectOptions, Connection};
    let mut connection = options.connect().await?;
    let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")).execute(&mut connection).await;
    match created {
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {}
        other => {
            other?;
        }
    }
    connection.close().await?;
    Ok(())
}
