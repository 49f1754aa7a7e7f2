//! [`Store`] over the `resources`, `index_entries`, `unique_entries` and `members`
//! tables, one tenant per store (the `tenant` column).
//!
//! Writes run in one transaction that locks the resource's row (`FOR UPDATE`) before it
//! checks the version, so `If-Match` is a compare-and-swap across replicas; uniqueness is
//! the primary key of `unique_entries`, claimed with `ON CONFLICT DO NOTHING`, so two
//! replicas creating one userName cannot both win. Deadlocks the database detects are
//! retried here.

use std::sync::Arc;

use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use super::writes::{delete_once, write_once, TxFailure, TxResult};
use super::{db_error, run};
use crate::postgres::{is_retryable, PgDatabase};
use crate::scim::ResourceKind;
use crate::store::{Lookup, Store, StoreError, StoreResult, StoredResource, WriteRequest};

/// The id holding a uniqueness key: binds tenant, kind code, attribute, value.
pub(super) const UNIQUE_OWNER: &str =
    "SELECT id FROM unique_entries WHERE tenant = $1 AND kind = $2 AND attr = $3 AND value = $4";

/// How often a transaction that lost a detected race (deadlock) runs again.
const RETRIES: usize = 5;
/// Rows fetched per round trip of a scan; the first batch is small because most scans
/// serve one page and stop.
const FIRST_BATCH: i64 = 128;
const NEXT_BATCH: i64 = 1000;

pub(super) const RESOURCE_COLUMNS: &str = "id, version, seq, created, modified, doc, index_keys, unique_keys";

pub(super) fn kind_code(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "U",
        ResourceKind::Group => "G",
    }
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(super) fn encode<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The resources of one tenant in a shared database.
pub struct PgStore {
    database: Arc<PgDatabase>,
    tenant: String,
}

/// A row of `resources` with its columns still as text.
pub(super) struct ResourceRow {
    pub(super) id: String,
    pub(super) version: i64,
    pub(super) seq: i64,
    pub(super) created: String,
    pub(super) modified: String,
    pub(super) doc: String,
    pub(super) index_keys: String,
    pub(super) unique_keys: String,
}

impl ResourceRow {
    pub(super) fn from_row(row: &PgRow) -> Result<ResourceRow, sqlx::Error> {
        Ok(ResourceRow {
            id: row.try_get(0)?,
            version: row.try_get(1)?,
            seq: row.try_get(2)?,
            created: row.try_get(3)?,
            modified: row.try_get(4)?,
            doc: row.try_get(5)?,
            index_keys: row.try_get(6)?,
            unique_keys: row.try_get(7)?,
        })
    }

    fn into_resource(self, kind: ResourceKind) -> StoreResult<StoredResource> {
        Ok(StoredResource {
            kind,
            id: self.id,
            version: self.version as u64,
            seq: self.seq as u64,
            created: self.created,
            modified: self.modified,
            doc: decode(&self.doc)?,
            index: decode(&self.index_keys)?,
            unique: decode(&self.unique_keys)?,
        })
    }

    /// The text a `scan_where` prefilter looks in: the id and the stored document.
    fn searchable_text(&self) -> Vec<u8> {
        let mut text = Vec::with_capacity(self.id.len() + self.doc.len() + 1);
        text.extend_from_slice(self.id.as_bytes());
        text.push(b'"');
        text.extend_from_slice(self.doc.as_bytes());
        text
    }
}

/// Where a scan starts: after `skip` rows in id order, or after an id; `Matching` also
/// leaves out, in SQL, rows whose text lacks one of the needles (see [`Store::scan_where`]).
#[derive(Clone)]
enum ScanStart {
    Skip(i64),
    AfterId(String),
    Matching { after: String, needles: Vec<String> },
}

impl ScanStart {
    /// The start of the next batch, after the last id of this one.
    fn after(&self, last_id: String) -> ScanStart {
        match self {
            ScanStart::Matching { needles, .. } => ScanStart::Matching { after: last_id, needles: needles.clone() },
            _ => ScanStart::AfterId(last_id),
        }
    }
}

/// The smallest string greater than every string that starts with `prefix` (`None` when no
/// such bound exists): `C` collation compares code points, so this is the next code point.
fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (last as u32 + 1..=char::MAX as u32).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

impl PgStore {
    pub fn open(database: Arc<PgDatabase>, tenant: &str) -> PgStore {
        PgStore { database, tenant: tenant.to_string() }
    }

    fn pool(&self) -> PgPool {
        self.database.pool()
    }

    /// Runs a transaction body until it commits, is refused, or fails for a reason other
    /// than a detected race.
    fn transact<T, F, Fut>(&self, body: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(PgPool) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = TxResult<T>> + Send,
    {
        let pool = self.pool();
        run(&self.database, async move {
            let mut attempt = 0;
            loop {
                match body(pool.clone()).await {
                    Ok(value) => return Ok(value),
                    Err(TxFailure::Refused(e)) => return Err(e),
                    Err(TxFailure::Database(e)) if is_retryable(&e) && attempt < RETRIES => attempt += 1,
                    Err(TxFailure::Database(e)) => return Err(db_error(e)),
                }
            }
        })
    }

    /// Fetches one batch of a kind's resources in id order.
    async fn fetch_batch(
        pool: &PgPool,
        tenant: &str,
        kind: ResourceKind,
        start: &ScanStart,
        limit: i64,
    ) -> Result<Vec<ResourceRow>, sqlx::Error> {
        let rows = match start {
            ScanStart::Skip(skip) => {
                // The skipped rows are stepped over in the primary key's index alone (an
                // index-only scan); only the page's rows are read from the table.
                let sql = format!(
                    "WITH page AS (SELECT id FROM resources WHERE tenant = $1 AND kind = $2 \
                     ORDER BY id OFFSET $3 LIMIT $4) \
                     SELECT {RESOURCE_COLUMNS} FROM resources JOIN page USING (id) \
                     WHERE tenant = $1 AND kind = $2 ORDER BY id"
                );
                sqlx::query(&sql).bind(tenant).bind(kind_code(kind)).bind(skip).bind(limit).fetch_all(pool).await?
            }
            ScanStart::AfterId(after) => {
                let sql = format!(
                    "SELECT {RESOURCE_COLUMNS} FROM resources WHERE tenant = $1 AND kind = $2 AND id > $3 \
                     ORDER BY id LIMIT $4"
                );
                sqlx::query(&sql).bind(tenant).bind(kind_code(kind)).bind(after).bind(limit).fetch_all(pool).await?
            }
            ScanStart::Matching { after, needles } => {
                // The same test as the service's prefilter: text that is not pure ASCII is
                // kept (Unicode case mapping could make it match), ASCII text must contain
                // every needle, lower-cased. `lower` under "C" maps exactly A-Z.
                let sql = format!(
                    "SELECT {RESOURCE_COLUMNS} FROM resources WHERE tenant = $1 AND kind = $2 AND id > $3 \
                     AND (octet_length(id || doc) <> char_length(id || doc) OR NOT EXISTS \
                     (SELECT 1 FROM UNNEST($5::text[]) AS n(needle) \
                      WHERE strpos(lower(id || '\"' || doc), n.needle) = 0)) \
                     ORDER BY id LIMIT $4"
                );
                sqlx::query(&sql)
                    .bind(tenant)
                    .bind(kind_code(kind))
                    .bind(after)
                    .bind(limit)
                    .bind(needles)
                    .fetch_all(pool)
                    .await?
            }
        };
        rows.iter().map(ResourceRow::from_row).collect()
    }

    /// Visits a kind's resources in id order from `start`, a batch per round trip, until
    /// the visitor returns false (rows `keep` rejects are not decoded).
    fn scan_from(
        &self,
        kind: ResourceKind,
        start: ScanStart,
        keep: &dyn Fn(&[u8]) -> bool,
        visit: &mut dyn FnMut(StoredResource) -> bool,
    ) -> StoreResult<()> {
        let mut start = start;
        let mut limit = FIRST_BATCH;
        loop {
            let (pool, tenant, from) = (self.pool(), self.tenant.clone(), start.clone());
            let rows = run(&self.database, async move {
                Self::fetch_batch(&pool, &tenant, kind, &from, limit).await.map_err(db_error)
            })?;
            let full = rows.len() as i64 == limit;
            let Some(last_id) = rows.last().map(|r| r.id.clone()) else { return Ok(()) };
            for row in rows {
                if keep(&row.searchable_text()) && !visit(row.into_resource(kind)?) {
                    return Ok(());
                }
            }
            if !full {
                return Ok(());
            }
            start = start.after(last_id);
            limit = NEXT_BATCH;
        }
    }
}

impl Store for PgStore {
    fn get(&self, kind: ResourceKind, id: &str) -> StoreResult<Option<StoredResource>> {
        let (pool, tenant, id) = (self.pool(), self.tenant.clone(), id.to_string());
        let row = run(&self.database, async move {
            let sql = format!("SELECT {RESOURCE_COLUMNS} FROM resources WHERE tenant = $1 AND kind = $2 AND id = $3");
            let row = sqlx::query(&sql)
                .bind(tenant)
                .bind(kind_code(kind))
                .bind(id)
                .fetch_optional(&pool)
                .await
                .map_err(db_error)?;
            row.as_ref().map(ResourceRow::from_row).transpose().map_err(db_error)
        })?;
        row.map(|r| r.into_resource(kind)).transpose()
    }

    fn write(&self, request: WriteRequest) -> StoreResult<StoredResource> {
        let (tenant, request) = (self.tenant.clone(), Arc::new(request));
        self.transact(move |pool| write_once(pool, tenant.clone(), Arc::clone(&request)))
    }

    fn delete(&self, kind: ResourceKind, id: &str, expect: Option<u64>, modified: &str) -> StoreResult<()> {
        let (tenant, id, modified) = (self.tenant.clone(), id.to_string(), modified.to_string());
        self.transact(move |pool| delete_once(pool, tenant.clone(), kind, id.clone(), expect, modified.clone()))
    }

    fn lookup(&self, kind: ResourceKind, lookup: &Lookup) -> StoreResult<Vec<String>> {
        let (pool, tenant, lookup) = (self.pool(), self.tenant.clone(), lookup.clone());
        run(&self.database, async move {
            let query = match &lookup {
                Lookup::Eq(key) => sqlx::query_scalar(
                    "SELECT id FROM index_entries WHERE tenant = $1 AND kind = $2 AND attr = $3 AND value = $4 \
                     ORDER BY id",
                )
                .bind(&tenant)
                .bind(kind_code(kind))
                .bind(&key.attr)
                .bind(&key.value),
                Lookup::Unique(key) => sqlx::query_scalar(UNIQUE_OWNER)
                    .bind(&tenant)
                    .bind(kind_code(kind))
                    .bind(&key.attr)
                    .bind(&key.value),
                Lookup::Prefix(key) => sqlx::query_scalar(
                    "SELECT DISTINCT id FROM index_entries WHERE tenant = $1 AND kind = $2 AND attr = $3 \
                     AND value >= $4 AND ($5::text IS NULL OR value < $5) ORDER BY id",
                )
                .bind(&tenant)
                .bind(kind_code(kind))
                .bind(&key.attr)
                .bind(&key.value)
                .bind(prefix_upper_bound(&key.value)),
                Lookup::GroupsWithMember(member_id) => {
                    if kind != ResourceKind::Group {
                        return Ok(Vec::new());
                    }
                    sqlx::query_scalar(
                        "SELECT group_id FROM members WHERE tenant = $1 AND member_id = $2 ORDER BY group_id",
                    )
                    .bind(&tenant)
                    .bind(member_id)
                }
            };
            query.fetch_all(&pool).await.map_err(db_error)
        })
    }

    fn scan(&self, kind: ResourceKind, visit: &mut dyn FnMut(StoredResource) -> bool) -> StoreResult<()> {
        self.scan_from(kind, ScanStart::Skip(0), &|_| true, visit)
    }

    fn scan_where(
        &self,
        kind: ResourceKind,
        needles: &[String],
        keep: &dyn Fn(&[u8]) -> bool,
        visit: &mut dyn FnMut(StoredResource) -> bool,
    ) -> StoreResult<()> {
        let start = if needles.is_empty() {
            ScanStart::Skip(0)
        } else {
            ScanStart::Matching { after: String::new(), needles: needles.to_vec() }
        };
        self.scan_from(kind, start, keep, visit)
    }

    fn get_many(&self, kind: ResourceKind, ids: &[String]) -> StoreResult<Vec<StoredResource>> {
        let mut found = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(NEXT_BATCH as usize) {
            let (pool, tenant, chunk) = (self.pool(), self.tenant.clone(), chunk.to_vec());
            let rows = run(&self.database, async move {
                let sql = format!(
                    "SELECT {RESOURCE_COLUMNS} FROM resources WHERE tenant = $1 AND kind = $2 AND id = ANY($3)"
                );
                let rows = sqlx::query(&sql)
                    .bind(tenant)
                    .bind(kind_code(kind))
                    .bind(&chunk)
                    .fetch_all(&pool)
                    .await
                    .map_err(db_error)?;
                let mut rows: Vec<ResourceRow> =
                    rows.iter().map(ResourceRow::from_row).collect::<Result<_, _>>().map_err(db_error)?;
                // In the order asked for.
                let position: std::collections::HashMap<&str, usize> =
                    chunk.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();
                rows.sort_by_key(|r| position.get(r.id.as_str()).copied().unwrap_or(usize::MAX));
                Ok(rows)
            })?;
            for row in rows {
                found.push(row.into_resource(kind)?);
            }
        }
        Ok(found)
    }

    fn scan_after(
        &self,
        kind: ResourceKind,
        skip: usize,
        visit: &mut dyn FnMut(StoredResource) -> bool,
    ) -> StoreResult<()> {
        self.scan_from(kind, ScanStart::Skip(skip as i64), &|_| true, visit)
    }

    fn scan_after_id(
        &self,
        kind: ResourceKind,
        after: Option<&str>,
        visit: &mut dyn FnMut(StoredResource) -> bool,
    ) -> StoreResult<()> {
        let start = match after {
            Some(id) => ScanStart::AfterId(id.to_string()),
            None => ScanStart::Skip(0),
        };
        self.scan_from(kind, start, &|_| true, visit)
    }

    fn count(&self, kind: ResourceKind) -> StoreResult<usize> {
        let (pool, tenant) = (self.pool(), self.tenant.clone());
        let n: i64 = run(&self.database, async move {
            sqlx::query_scalar("SELECT count(*) FROM resources WHERE tenant = $1 AND kind = $2")
                .bind(tenant)
                .bind(kind_code(kind))
                .fetch_one(&pool)
                .await
                .map_err(db_error)
        })?;
        Ok(n as usize)
    }

    fn members(&self, group_id: &str) -> StoreResult<Vec<Value>> {
        let (pool, tenant, group_id) = (self.pool(), self.tenant.clone(), group_id.to_string());
        let entries: Vec<String> = run(&self.database, async move {
            sqlx::query_scalar("SELECT entry FROM members WHERE tenant = $1 AND group_id = $2 ORDER BY member_id")
                .bind(tenant)
                .bind(group_id)
                .fetch_all(&pool)
                .await
                .map_err(db_error)
        })?;
        entries.iter().map(|e| decode(e)).collect()
    }

    fn has_member(&self, group_id: &str, member_id: &str) -> StoreResult<bool> {
        let (pool, tenant) = (self.pool(), self.tenant.clone());
        let (group_id, member_id) = (group_id.to_string(), member_id.to_string());
        run(&self.database, async move {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM members WHERE tenant = $1 AND group_id = $2 AND member_id = $3)",
            )
            .bind(tenant)
            .bind(group_id)
            .bind(member_id)
            .fetch_one(&pool)
            .await
            .map_err(db_error)
        })
    }

    /// Every acknowledged write is already committed (and durable as the database is).
    fn flush(&self) -> StoreResult<()> {
        Ok(())
    }

    fn clear(&self) -> StoreResult<()> {
        let tenant = self.tenant.clone();
        self.transact(move |pool| {
            let tenant = tenant.clone();
            async move {
                let mut tx = pool.begin().await?;
                for table in ["members", "index_entries", "unique_entries", "resources"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE tenant = $1"))
                        .bind(&tenant)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }
        })
    }

    fn reads_are_local(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::prefix_upper_bound;

    #[test]
    fn prefix_upper_bound_is_the_next_code_point() {
        assert_eq!(prefix_upper_bound("abc").as_deref(), Some("abd"));
        assert_eq!(prefix_upper_bound("").as_deref(), None);
        // The surrogate range is skipped: after U+D7FF comes U+E000.
        assert_eq!(prefix_upper_bound("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
    }
}
