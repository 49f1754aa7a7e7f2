//! Job state in PostgreSQL (`job_*` tables of `src/postgres/migrations`), shared by the
//! replicas that host the same job, and the [`JobLease`] that lets exactly one of them run
//! its cycles (docs/deploy.md).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sqlx::{Connection, PgConnection, PgPool};
use time::OffsetDateTime;

use super::postgres_pending::{self, Pending};
use super::{decode, encode, Escrow, JobMeta, JobStore, Link, ObjectKind, StateError};
use crate::postgres::{DatabaseError, PgDatabase};
use crate::provision::log::LogEntry;

const META: &str = "job";
/// Beside the job record, so clearing the state keeps it.
const CONFIGURATION: &str = "configuration";

fn storage(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StateError {
    move |source| StateError::Storage { doing, source: Box::new(source) }
}

fn interrupted(doing: &'static str) -> impl FnOnce(DatabaseError) -> StateError {
    move |source| StateError::Storage { doing, source: Box::new(source) }
}

fn kind_code(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::User => "U",
        ObjectKind::Group => "G",
    }
}

/// The tables keyed by (kind, source id), with their value column.
const KEYED: [(&str, &str); 3] = [("job_links", "value"), ("job_watermarks", "fingerprint"), ("job_escrows", "value")];

/// The runner's copy of its job's state. While this replica holds the job's lease it is
/// the only writer, so reads may come from memory; every write still goes to the
/// database first and reaches the copy only once committed.
#[derive(Default)]
struct Mirror {
    records: HashMap<&'static str, Option<String>>,
    keyed: HashMap<&'static str, BTreeMap<(String, String), String>>,
}

/// One job's state among every job's in the shared tables.
pub struct PgJobStore {
    database: Arc<PgDatabase>,
    job: String,
    mirror: Mutex<Option<Mirror>>,
    /// The runner's batched writes (see `postgres_pending`), only while it mirrors.
    pending: Mutex<Pending>,
}

impl PgJobStore {
    pub fn new(database: Arc<PgDatabase>, job: &str) -> PgJobStore {
        PgJobStore { database, job: job.to_string(), mirror: Mutex::new(None), pending: Mutex::default() }
    }

    fn mirror(&self) -> std::sync::MutexGuard<'_, Option<Mirror>> {
        self.mirror.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether writes other than links may be batched: only the runner's, which mirrors
    /// the state (a standby's or a CLI's writes go straight to the database).
    fn batching(&self) -> bool {
        self.mirror().is_some()
    }

    /// Commits the batched writes; a batch that fails stays to be tried again.
    fn flush_pending(&self) -> Result<(), StateError> {
        let batch = self.pending().take();
        if batch.is_empty() {
            return Ok(());
        }
        let (pool, job, copy) = (self.database.pool(), self.job.clone(), batch.clone());
        let outcome = match self.database.run(postgres_pending::commit(pool, job, copy)) {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => storage("committing batched job state")(e),
            Err(e) => interrupted("committing batched job state")(e),
        };
        self.pending().restore(batch);
        Err(outcome)
    }

    /// Commits the batch when it is due.
    fn after_batched_write(&self) -> Result<(), StateError> {
        if self.pending().is_due() {
            self.flush_pending()?;
        }
        Ok(())
    }

    /// Reads the whole state into memory (this replica just became the runner) or drops
    /// the copy (another replica may write from now on).
    fn set_exclusive(&self, exclusive: bool) -> Result<(), StateError> {
        if !exclusive {
            *self.mirror() = None;
            // The lease is gone: another replica may be writing now, and this one's
            // uncommitted writes are older than its. Dropped, as a crash would drop them.
            let dropped = self.pending().take();
            if !dropped.is_empty() {
                tracing::warn!(job = %self.job, writes = dropped.len(), "lease lost: uncommitted job state dropped");
            }
            return Ok(());
        }
        *self.mirror() = None;
        let mut mirror = Mirror::default();
        for name in [META, CONFIGURATION] {
            mirror.records.insert(name, self.record(name, "reading the job state")?);
        }
        for (table, column) in KEYED {
            let rows = self.all_keyed(table, column, None)?;
            mirror.keyed.insert(table, rows.into_iter().map(|(kind, id, value)| ((kind, id), value)).collect());
        }
        *self.mirror() = Some(mirror);
        Ok(())
    }

    /// Runs one query future on the database's runtime.
    fn run<T: Send + 'static>(
        &self,
        doing: &'static str,
        query: impl FnOnce(PgPool, String) -> futures_util::future::BoxFuture<'static, Result<T, sqlx::Error>>,
    ) -> Result<T, StateError> {
        let future = query(self.database.pool(), self.job.clone());
        self.database.run(future).map_err(interrupted(doing))?.map_err(storage(doing))
    }

    fn record(&self, name: &'static str, doing: &'static str) -> Result<Option<String>, StateError> {
        if let Some(value) = self.mirror().as_ref().and_then(|m| m.records.get(name).cloned()) {
            return Ok(value);
        }
        self.run(doing, move |pool, job| {
            Box::pin(async move {
                sqlx::query_scalar("SELECT value FROM job_records WHERE job = $1 AND name = $2")
                    .bind(job)
                    .bind(name)
                    .fetch_optional(&pool)
                    .await
            })
        })
    }

    fn put_record(&self, name: &'static str, value: Option<String>, doing: &'static str) -> Result<(), StateError> {
        let kept = value.clone();
        self.run(doing, move |pool, job| {
            Box::pin(async move {
                match value {
                    Some(value) => sqlx::query(
                        "INSERT INTO job_records (job, name, value) VALUES ($1, $2, $3) \
                         ON CONFLICT (job, name) DO UPDATE SET value = EXCLUDED.value",
                    )
                    .bind(job)
                    .bind(name)
                    .bind(value)
                    .execute(&pool)
                    .await
                    .map(|_| ()),
                    None => sqlx::query("DELETE FROM job_records WHERE job = $1 AND name = $2")
                        .bind(job)
                        .bind(name)
                        .execute(&pool)
                        .await
                        .map(|_| ()),
                }
            })
        })?;
        if let Some(mirror) = self.mirror().as_mut() {
            mirror.records.insert(name, kept);
        }
        Ok(())
    }

    /// One value of a (job, kind, source_id)-keyed table.
    fn keyed(
        &self,
        table: &'static str,
        column: &'static str,
        kind: ObjectKind,
        id: &str,
    ) -> Result<Option<String>, StateError> {
        if let Some(mirror) = self.mirror().as_ref() {
            let key = (kind_code(kind).to_string(), id.to_string());
            return Ok(mirror.keyed.get(table).and_then(|rows| rows.get(&key)).cloned());
        }
        let (sql, id) =
            (format!("SELECT {column} FROM {table} WHERE job = $1 AND kind = $2 AND source_id = $3"), id.to_string());
        self.run("reading the job state", move |pool, job| {
            Box::pin(async move {
                sqlx::query_scalar(&sql).bind(job).bind(kind_code(kind)).bind(id).fetch_optional(&pool).await
            })
        })
    }

    fn put_keyed(
        &self,
        table: &'static str,
        column: &'static str,
        kind: ObjectKind,
        id: &str,
        value: String,
    ) -> Result<(), StateError> {
        let sql = format!(
            "INSERT INTO {table} (job, kind, source_id, {column}) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (job, kind, source_id) DO UPDATE SET {column} = EXCLUDED.{column}"
        );
        if table != "job_links" && self.batching() {
            if let Some(mirror) = self.mirror().as_mut() {
                mirror
                    .keyed
                    .entry(table)
                    .or_default()
                    .insert((kind_code(kind).to_string(), id.to_string()), value.clone());
            }
            self.pending().put(table, kind_code(kind), id, Some(value));
            return self.after_batched_write();
        }
        let (id, kept) = (id.to_string(), value.clone());
        let key = (kind_code(kind).to_string(), id.clone());
        self.run("writing the job state", move |pool, job| {
            Box::pin(async move {
                sqlx::query(&sql).bind(job).bind(kind_code(kind)).bind(id).bind(value).execute(&pool).await.map(|_| ())
            })
        })?;
        if let Some(mirror) = self.mirror().as_mut() {
            mirror.keyed.entry(table).or_default().insert(key, kept);
        }
        Ok(())
    }

    fn remove_keyed(&self, table: &'static str, kind: ObjectKind, id: &str) -> Result<(), StateError> {
        if table != "job_links" && self.batching() {
            if let Some(rows) = self.mirror().as_mut().and_then(|m| m.keyed.get_mut(table)) {
                rows.remove(&(kind_code(kind).to_string(), id.to_string()));
            }
            self.pending().put(table, kind_code(kind), id, None);
            return self.after_batched_write();
        }
        let (sql, id) =
            (format!("DELETE FROM {table} WHERE job = $1 AND kind = $2 AND source_id = $3"), id.to_string());
        let key = (kind_code(kind).to_string(), id.clone());
        self.run("removing from the job state", move |pool, job| {
            Box::pin(async move {
                sqlx::query(&sql).bind(job).bind(kind_code(kind)).bind(id).execute(&pool).await.map(|_| ())
            })
        })?;
        if let Some(rows) = self.mirror().as_mut().and_then(|m| m.keyed.get_mut(table)) {
            rows.remove(&key);
        }
        Ok(())
    }

    /// Every (kind, source id, value) of a table for this job, in key order.
    fn all_keyed(
        &self,
        table: &'static str,
        column: &'static str,
        kind: Option<ObjectKind>,
    ) -> Result<Vec<(String, String, String)>, StateError> {
        if let Some(rows) = self.mirror().as_ref().and_then(|m| m.keyed.get(table)) {
            let wanted = kind.map(kind_code);
            return Ok(rows
                .iter()
                .filter(|((k, _), _)| wanted.is_none_or(|w| w == k))
                .map(|((k, id), value)| (k.clone(), id.clone(), value.clone()))
                .collect());
        }
        let sql = format!(
            "SELECT kind, source_id, {column} FROM {table} WHERE job = $1 AND ($2::text IS NULL OR kind = $2) \
             ORDER BY kind, source_id"
        );
        self.run("listing the job state", move |pool, job| {
            Box::pin(async move { sqlx::query_as(&sql).bind(job).bind(kind.map(kind_code)).fetch_all(&pool).await })
        })
    }

    fn clear_table(&self, table: &'static str) -> Result<(), StateError> {
        self.flush_pending()?;
        let sql = format!("DELETE FROM {table} WHERE job = $1");
        self.run("clearing the job state", move |pool, job| {
            Box::pin(async move { sqlx::query(&sql).bind(job).execute(&pool).await.map(|_| ()) })
        })?;
        if let Some(rows) = self.mirror().as_mut().and_then(|m| m.keyed.get_mut(table)) {
            rows.clear();
        }
        Ok(())
    }
}

fn prefixed(kind: &str, source_id: &str) -> String {
    format!("{kind}:{source_id}")
}

impl JobStore for PgJobStore {
    fn meta(&self) -> Result<JobMeta, StateError> {
        match self.record(META, "reading the job record")? {
            Some(text) => serde_json::from_str(&text).map_err(decode("the job")),
            None => Ok(JobMeta::default()),
        }
    }

    fn write_meta(&self, meta: &JobMeta) -> Result<(), StateError> {
        let text = serde_json::to_string(meta).map_err(encode("the job"))?;
        self.put_record(META, Some(text), "writing the job record")
    }

    fn link(&self, kind: ObjectKind, source_id: &str) -> Result<Option<Link>, StateError> {
        match self.keyed("job_links", "value", kind, source_id)? {
            Some(text) => serde_json::from_str(&text).map(Some).map_err(decode("a link")),
            None => Ok(None),
        }
    }

    /// Committed before it returns: a create is remembered before anything else happens.
    fn set_link(&self, source_id: &str, link: &Link) -> Result<(), StateError> {
        let text = serde_json::to_string(link).map_err(encode("a link"))?;
        self.put_keyed("job_links", "value", link.kind, source_id, text)
    }

    fn remove_link(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError> {
        self.remove_keyed("job_links", kind, source_id)
    }

    fn links(&self, kind: ObjectKind) -> Result<Vec<(String, Link)>, StateError> {
        self.all_keyed("job_links", "value", Some(kind))?
            .into_iter()
            .map(|(_, id, text)| Ok((id, serde_json::from_str(&text).map_err(decode("a link"))?)))
            .collect()
    }

    fn count_links(&self, kind: ObjectKind) -> Result<usize, StateError> {
        if let Some(rows) = self.mirror().as_ref().and_then(|m| m.keyed.get("job_links")) {
            return Ok(rows.keys().filter(|(k, _)| k == kind_code(kind)).count());
        }
        let n: i64 = self.run("counting links", move |pool, job| {
            Box::pin(async move {
                sqlx::query_scalar("SELECT count(*) FROM job_links WHERE job = $1 AND kind = $2")
                    .bind(job)
                    .bind(kind_code(kind))
                    .fetch_one(&pool)
                    .await
            })
        })?;
        Ok(n as usize)
    }

    fn watermark(&self, kind: ObjectKind, source_id: &str) -> Result<Option<String>, StateError> {
        self.keyed("job_watermarks", "fingerprint", kind, source_id)
    }

    fn set_watermark(&self, kind: ObjectKind, source_id: &str, fp: &str) -> Result<(), StateError> {
        self.put_keyed("job_watermarks", "fingerprint", kind, source_id, fp.to_string())
    }

    fn remove_watermark(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError> {
        self.remove_keyed("job_watermarks", kind, source_id)
    }

    fn watermarks(&self, kind: ObjectKind) -> Result<Vec<(String, String)>, StateError> {
        Ok(self
            .all_keyed("job_watermarks", "fingerprint", Some(kind))?
            .into_iter()
            .map(|(_, id, fp)| (id, fp))
            .collect())
    }

    fn clear_watermarks(&self) -> Result<(), StateError> {
        self.clear_table("job_watermarks")
    }

    fn escrow_of(&self, kind: ObjectKind, source_id: &str) -> Result<Option<Escrow>, StateError> {
        match self.keyed("job_escrows", "value", kind, source_id)? {
            Some(text) => Ok(Some(serde_json::from_str(&text).map_err(decode("an escrow"))?)),
            None => Ok(None),
        }
    }

    fn put_escrow(&self, kind: ObjectKind, source_id: &str, escrow: &Escrow) -> Result<(), StateError> {
        let text = serde_json::to_string(escrow).map_err(encode("an escrow"))?;
        self.put_keyed("job_escrows", "value", kind, source_id, text)
    }

    fn release_escrow(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError> {
        self.remove_keyed("job_escrows", kind, source_id)
    }

    fn escrows(&self) -> Result<Vec<(String, Escrow)>, StateError> {
        self.all_keyed("job_escrows", "value", None)?
            .into_iter()
            .map(|(kind, id, text)| {
                Ok((prefixed(&kind, &id), serde_json::from_str(&text).map_err(decode("an escrow"))?))
            })
            .collect()
    }

    fn clear_escrows(&self) -> Result<(), StateError> {
        self.clear_table("job_escrows")
    }

    /// Links, watermarks, escrows and the job record go in one transaction.
    fn clear_all(&self) -> Result<(), StateError> {
        self.flush_pending()?;
        let meta = serde_json::to_string(&JobMeta::default()).map_err(encode("the job"))?;
        let cleared = meta.clone();
        self.run("clearing the job state", move |pool, job| {
            Box::pin(async move {
                let mut tx = pool.begin().await?;
                for table in ["job_links", "job_escrows", "job_watermarks"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE job = $1")).bind(&job).execute(&mut *tx).await?;
                }
                sqlx::query(
                    "INSERT INTO job_records (job, name, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (job, name) DO UPDATE SET value = EXCLUDED.value",
                )
                .bind(&job)
                .bind(META)
                .bind(meta)
                .execute(&mut *tx)
                .await?;
                tx.commit().await
            })
        })?;
        if let Some(mirror) = self.mirror().as_mut() {
            for (table, _) in KEYED {
                mirror.keyed.entry(table).or_default().clear();
            }
            mirror.records.insert(META, Some(cleared));
        }
        Ok(())
    }

    fn configuration(&self) -> Result<Option<Value>, StateError> {
        match self.record(CONFIGURATION, "reading the job configuration")? {
            Some(text) => serde_json::from_str(&text).map(Some).map_err(decode("the job configuration")),
            None => Ok(None),
        }
    }

    fn set_configuration(&self, spec: Option<&Value>) -> Result<(), StateError> {
        let text = spec.map(serde_json::to_string).transpose().map_err(encode("the job configuration"))?;
        self.put_record(CONFIGURATION, text, "writing the job configuration")
    }

    fn append_log(&self, entry: &LogEntry) -> Result<(), StateError> {
        let text = serde_json::to_string(entry).map_err(encode("a log record"))?;
        let at = crate::clock::parse_rfc3339(&entry.activity_date_time).map(|t| t.unix_timestamp());
        if self.batching() {
            self.pending().log(at, text);
            return self.after_batched_write();
        }
        self.run("appending a log record", move |pool, job| {
            Box::pin(async move {
                sqlx::query("INSERT INTO job_logs (job, seq, at, value) VALUES ($1, nextval('job_log_seq'), $2, $3)")
                    .bind(job)
                    .bind(at)
                    .bind(text)
                    .execute(&pool)
                    .await
                    .map(|_| ())
            })
        })
    }

    fn logs(&self) -> Result<Vec<LogEntry>, StateError> {
        self.flush_pending()?;
        let texts: Vec<String> = self.run("reading log records", move |pool, job| {
            Box::pin(async move {
                sqlx::query_scalar("SELECT value FROM job_logs WHERE job = $1 ORDER BY seq")
                    .bind(job)
                    .fetch_all(&pool)
                    .await
            })
        })?;
        texts.iter().map(|t| serde_json::from_str(t).map_err(decode("a log record"))).collect()
    }

    /// A record whose time does not parse counts as young, as in sled.
    fn prune_logs(&self, now: OffsetDateTime, max_age: time::Duration) -> Result<usize, StateError> {
        self.flush_pending()?;
        let cutoff = (now - max_age).unix_timestamp();
        let removed = self.run("dropping old log records", move |pool, job| {
            Box::pin(async move {
                sqlx::query("DELETE FROM job_logs WHERE job = $1 AND at < $2")
                    .bind(job)
                    .bind(cutoff)
                    .execute(&pool)
                    .await
            })
        })?;
        Ok(removed.rows_affected() as usize)
    }

    /// Commits the runner's batched writes (every other write is committed when it returns).
    fn flush(&self) -> Result<(), StateError> {
        self.flush_pending()
    }

    fn hold_exclusively(&self, exclusive: bool) -> Result<(), StateError> {
        self.set_exclusive(exclusive)
    }
}

/// The right to run one job's cycles, held by one replica at a time: a session advisory
/// lock on a connection of its own, keyed by schema and job name (advisory locks are
/// database-wide; deployments in other schemas have their own). PostgreSQL releases it when that connection ends — the
/// process was killed, the network dropped — so a standby replica takes the job over at
/// its next attempt.
pub struct JobLease {
    database: Arc<PgDatabase>,
    job: String,
    held: tokio::sync::Mutex<Option<PgConnection>>,
}

impl JobLease {
    pub fn new(database: Arc<PgDatabase>, job: &str) -> JobLease {
        JobLease { database, job: job.to_string(), held: tokio::sync::Mutex::new(None) }
    }

    /// True when this replica holds the lease, taking it if it is free. A held lease is
    /// checked first: a connection that broke means the lock is gone with it.
    pub async fn hold(&self) -> Result<bool, DatabaseError> {
        let mut held = self.held.lock().await;
        let (database, job, current) = (Arc::clone(&self.database), self.job.clone(), held.take());
        // Named, so an operator can tell the lease connections in pg_stat_activity.
        let options = database.connect_options().application_name(&format!("scimlab lease {}", self.job));
        let (connection, holding) = database
            .run_async(async move {
                if let Some(mut connection) = current {
                    if sqlx::query("SELECT 1").execute(&mut connection).await.is_ok() {
                        return Ok((Some(connection), true));
                    }
                }
                let mut connection = sqlx::ConnectOptions::connect(&options).await?;
                let got: bool = sqlx::query_scalar(
                    "SELECT pg_try_advisory_lock(hashtextextended(current_schema() || ' ' || $1, 0))",
                )
                .bind(format!("scimlab job {job}"))
                .fetch_one(&mut connection)
                .await?;
                if got {
                    Ok((Some(connection), true))
                } else {
                    connection.close().await?;
                    Ok::<_, sqlx::Error>((None, false))
                }
            })
            .await??;
        *held = connection;
        Ok(holding)
    }
}
