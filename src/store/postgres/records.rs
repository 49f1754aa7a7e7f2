//! [`RecordLog`] in the `request_records` table: the recorder's ring shared by replicas.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{db_error, run};
use crate::postgres::PgDatabase;
use crate::store::{RecordLog, StoreResult};

/// Appends between two trims of the oldest records: the ring may exceed its capacity by
/// this many records for a moment, and a trim costs one statement per this many requests.
const TRIM_EVERY: u64 = 64;

pub struct PgRecordLog {
    database: Arc<PgDatabase>,
    appended: AtomicU64,
}

impl PgRecordLog {
    pub fn new(database: Arc<PgDatabase>) -> PgRecordLog {
        PgRecordLog { database, appended: AtomicU64::new(0) }
    }
}

impl RecordLog for PgRecordLog {
    fn append(&self, tenant: &str, record: &[u8], capacity: usize) -> StoreResult<()> {
        let (pool, tenant) = (self.database.pool(), tenant.to_string());
        let record = String::from_utf8_lossy(record).into_owned();
        let trim = self.appended.fetch_add(1, Ordering::Relaxed).is_multiple_of(TRIM_EVERY);
        run(&self.database, async move {
            let seq: i64 = sqlx::query_scalar(
                "INSERT INTO request_records (seq, tenant, record) VALUES (nextval('request_record_seq'), $1, $2) \
                 RETURNING seq",
            )
            .bind(tenant)
            .bind(record)
            .fetch_one(&pool)
            .await
            .map_err(db_error)?;
            if trim {
                sqlx::query("DELETE FROM request_records WHERE seq <= $1")
                    .bind(seq - capacity as i64)
                    .execute(&pool)
                    .await
                    .map_err(db_error)?;
            }
            Ok(())
        })
    }

    fn newest(&self, after: u64, before: Option<u64>, limit: usize) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        let pool = self.database.pool();
        let before = before.map(|b| b as i64);
        let rows: Vec<(i64, String)> = run(&self.database, async move {
            sqlx::query_as(
                "SELECT seq, record FROM request_records WHERE seq > $1 AND ($2::bigint IS NULL OR seq < $2) \
                 ORDER BY seq DESC LIMIT $3",
            )
            .bind(after as i64)
            .bind(before)
            .bind(limit as i64)
            .fetch_all(&pool)
            .await
            .map_err(db_error)
        })?;
        Ok(rows.into_iter().map(|(seq, record)| (seq as u64, record.into_bytes())).collect())
    }

    fn clear(&self, tenant: Option<&str>) -> StoreResult<()> {
        let (pool, tenant) = (self.database.pool(), tenant.map(str::to_string));
        run(&self.database, async move {
            sqlx::query("DELETE FROM request_records WHERE $1::text IS NULL OR tenant = $1")
                .bind(tenant)
                .execute(&pool)
                .await
                .map_err(db_error)?;
            Ok(())
        })
    }

    fn bytes(&self) -> StoreResult<u64> {
        let pool = self.database.pool();
        let bytes: Option<i64> = run(&self.database, async move {
            sqlx::query_scalar("SELECT sum(octet_length(record))::bigint FROM request_records")
                .fetch_one(&pool)
                .await
                .map_err(db_error)
        })?;
        Ok(bytes.unwrap_or(0) as u64)
    }
}
