//! The runner's writes that may wait a moment: watermarks, escrows and provisioning log
//! records are batched and committed together, in one transaction per batch — at the
//! latest after [`MAX_WRITES`] writes or [`MAX_AGE`], at every flush (a cycle's end, a pause,
//! shutdown) and before anything reads them back from the database. Links never wait: a
//! create is remembered before anything else happens.
//!
//! A runner killed meanwhile loses at most one batch, as sled loses what it had not yet
//! flushed: a lost watermark makes the next cycle look at the object again, a lost escrow
//! retries it at once, a lost log record is the only real loss (bounded by the batch).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sqlx::PgPool;

/// Writes kept before they are committed.
const MAX_WRITES: usize = 256;
/// Age of the oldest waiting write before the batch is committed.
const MAX_AGE: Duration = Duration::from_millis(500);

/// (table, kind code, source id) → the value to store, or `None` to delete the row.
type KeyedWrites = BTreeMap<(&'static str, String, String), Option<String>>;

#[derive(Default, Clone)]
pub(super) struct Pending {
    keyed: KeyedWrites,
    /// Log records in append order: (Unix seconds of activityDateTime, record JSON).
    logs: Vec<(Option<i64>, String)>,
    since: Option<Instant>,
}

impl Pending {
    pub(super) fn put(&mut self, table: &'static str, kind: &str, id: &str, value: Option<String>) {
        self.keyed.insert((table, kind.to_string(), id.to_string()), value);
        self.since.get_or_insert_with(Instant::now);
    }

    pub(super) fn log(&mut self, at: Option<i64>, record: String) {
        self.logs.push((at, record));
        self.since.get_or_insert_with(Instant::now);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.keyed.is_empty() && self.logs.is_empty()
    }

    pub(super) fn is_due(&self) -> bool {
        self.keyed.len() + self.logs.len() >= MAX_WRITES || self.since.is_some_and(|s| s.elapsed() >= MAX_AGE)
    }

    pub(super) fn take(&mut self) -> Pending {
        std::mem::take(self)
    }

    /// Puts a batch that could not be committed back in front of what was written since:
    /// newer writes of the same row win, older log records stay first.
    pub(super) fn restore(&mut self, mut older: Pending) {
        for (key, value) in std::mem::take(&mut self.keyed) {
            older.keyed.insert(key, value);
        }
        older.logs.append(&mut self.logs);
        older.since = older.since.or(self.since);
        *self = older;
    }

    pub(super) fn len(&self) -> usize {
        self.keyed.len() + self.logs.len()
    }
}

/// One statement's rows, column by column: kinds, source ids, values.
type Columns = (Vec<String>, Vec<String>, Vec<String>);

/// Commits a batch in one transaction.
pub(super) async fn commit(pool: PgPool, job: String, batch: Pending) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    // Grouped by table and by upsert or delete; rows of one key appear once.
    let mut groups: BTreeMap<(&'static str, bool), Columns> = BTreeMap::new();
    for ((table, kind, id), value) in batch.keyed {
        let group = groups.entry((table, value.is_some())).or_default();
        group.0.push(kind);
        group.1.push(id);
        group.2.push(value.unwrap_or_default());
    }
    for ((table, upsert), (kinds, ids, values)) in groups {
        let sql = if upsert {
            let column = if table == "job_watermarks" { "fingerprint" } else { "value" };
            format!(
                "INSERT INTO {table} (job, kind, source_id, {column}) \
                 SELECT $1, k, i, v FROM UNNEST($2::text[], $3::text[], $4::text[]) AS r(k, i, v) \
                 ON CONFLICT (job, kind, source_id) DO UPDATE SET {column} = EXCLUDED.{column}"
            )
        } else {
            format!(
                "DELETE FROM {table} t USING UNNEST($2::text[], $3::text[], $4::text[]) AS r(k, i, v) \
                 WHERE t.job = $1 AND t.kind = r.k AND t.source_id = r.i"
            )
        };
        sqlx::query(&sql).bind(&job).bind(kinds).bind(ids).bind(values).execute(&mut *tx).await?;
    }
    if !batch.logs.is_empty() {
        // Sequence numbers reserved in order, so the records keep their append order.
        let mut seqs: Vec<i64> = sqlx::query_scalar("SELECT nextval('job_log_seq') FROM generate_series(1, $1)")
            .bind(batch.logs.len() as i64)
            .fetch_all(&mut *tx)
            .await?;
        seqs.sort_unstable();
        let (ats, records): (Vec<Option<i64>>, Vec<String>) = batch.logs.into_iter().unzip();
        sqlx::query(
            "INSERT INTO job_logs (job, seq, at, value) \
             SELECT $1, s, a, v FROM UNNEST($2::bigint[], $3::bigint[], $4::text[]) AS r(s, a, v)",
        )
        .bind(&job)
        .bind(seqs)
        .bind(ats)
        .bind(records)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
