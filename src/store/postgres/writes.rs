//! The write transactions of [`PgStore`](super::PgStore): create/update and delete, each
//! one transaction that locks the resource's row before it checks the version.

use std::sync::Arc;

use sqlx::{PgPool, Postgres, Transaction};

use super::resources::{decode, encode, kind_code, ResourceRow, RESOURCE_COLUMNS, UNIQUE_OWNER};
use crate::scim::ResourceKind;
use crate::store::{Expect, IndexKey, StoreError, StoreResult, StoredResource, WriteRequest};

/// A transaction's failure: the request was refused (kept as is), or the database failed
/// (retried when it was a detected race, else mapped).
pub(super) enum TxFailure {
    Refused(StoreError),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for TxFailure {
    fn from(e: sqlx::Error) -> Self {
        TxFailure::Database(e)
    }
}

impl From<StoreError> for TxFailure {
    fn from(e: StoreError) -> Self {
        TxFailure::Refused(e)
    }
}

pub(super) type TxResult<T> = Result<T, TxFailure>;

/// Locks a resource's row for the rest of the transaction and reads it.
async fn lock_resource(
    tx: &mut Transaction<'_, Postgres>,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
) -> Result<Option<ResourceRow>, sqlx::Error> {
    let sql =
        format!("SELECT {RESOURCE_COLUMNS} FROM resources WHERE tenant = $1 AND kind = $2 AND id = $3 FOR UPDATE");
    let row = sqlx::query(&sql).bind(tenant).bind(kind_code(kind)).bind(id).fetch_optional(&mut **tx).await?;
    row.as_ref().map(ResourceRow::from_row).transpose()
}

async fn next_seq(tx: &mut Transaction<'_, Postgres>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT nextval('change_seq')").fetch_one(&mut **tx).await
}

/// Deletes the given (attr, value) rows of one id from an index table.
async fn remove_keys(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
    tenant: &str,
    kind: ResourceKind,
    id: &str,
    keys: &[&IndexKey],
) -> Result<(), sqlx::Error> {
    if keys.is_empty() {
        return Ok(());
    }
    let attrs: Vec<&str> = keys.iter().map(|k| k.attr.as_str()).collect();
    let values: Vec<&str> = keys.iter().map(|k| k.value.as_str()).collect();
    let sql = format!(
        "DELETE FROM {table} t USING UNNEST($4::text[], $5::text[]) AS k(attr, value) \
         WHERE t.tenant = $1 AND t.kind = $2 AND t.id = $3 AND t.attr = k.attr AND t.value = k.value"
    );
    sqlx::query(&sql).bind(tenant).bind(kind_code(kind)).bind(id).bind(attrs).bind(values).execute(&mut **tx).await?;
    Ok(())
}

pub(super) async fn write_once(pool: PgPool, tenant: String, req: Arc<WriteRequest>) -> TxResult<StoredResource> {
    let mut tx = pool.begin().await?;
    let seq = next_seq(&mut tx).await?;
    let existing = lock_resource(&mut tx, &tenant, req.kind, &req.id).await?;
    let version = match (req.expect, &existing) {
        (Expect::Absent, Some(_)) => {
            return Err(StoreError::AlreadyExists { kind: req.kind, id: req.id.clone() }.into())
        }
        (Expect::Absent, None) => 1,
        (Expect::Version(_), None) => return Err(StoreError::NotFound { kind: req.kind, id: req.id.clone() }.into()),
        (Expect::Version(v), Some(old)) if old.version as u64 != v => {
            return Err(StoreError::VersionMismatch { current: old.version as u64 }.into())
        }
        (Expect::Version(_), Some(old)) => old.version as u64 + 1,
    };
    let (old_index, old_unique): (Vec<IndexKey>, Vec<IndexKey>) = match &existing {
        Some(old) => (decode(&old.index_keys)?, decode(&old.unique_keys)?),
        None => (Vec::new(), Vec::new()),
    };

    let dropped: Vec<&IndexKey> = old_unique.iter().filter(|k| !req.unique.contains(k)).collect();
    remove_keys(&mut tx, "unique_entries", &tenant, req.kind, &req.id, &dropped).await?;
    for key in req.unique.iter().filter(|k| !old_unique.contains(k)) {
        // The primary key decides; a concurrent claim waits here for the other to finish.
        let claimed = sqlx::query(
            "INSERT INTO unique_entries (tenant, kind, attr, value, id) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant, kind, attr, value) DO NOTHING",
        )
        .bind(&tenant)
        .bind(kind_code(req.kind))
        .bind(&key.attr)
        .bind(&key.value)
        .bind(&req.id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            let owner: Option<String> = sqlx::query_scalar(UNIQUE_OWNER)
                .bind(&tenant)
                .bind(kind_code(req.kind))
                .bind(&key.attr)
                .bind(&key.value)
                .fetch_optional(&mut *tx)
                .await?;
            if owner.as_deref() != Some(req.id.as_str()) {
                return Err(StoreError::Unique {
                    attr: key.attr.clone(),
                    value: key.value.clone(),
                    existing_id: owner.unwrap_or_default(),
                }
                .into());
            }
        }
    }
    let dropped: Vec<&IndexKey> = old_index.iter().filter(|k| !req.index.contains(k)).collect();
    remove_keys(&mut tx, "index_entries", &tenant, req.kind, &req.id, &dropped).await?;
    let added: Vec<&IndexKey> = req.index.iter().filter(|k| !old_index.contains(k)).collect();
    if !added.is_empty() {
        let attrs: Vec<&str> = added.iter().map(|k| k.attr.as_str()).collect();
        let values: Vec<&str> = added.iter().map(|k| k.value.as_str()).collect();
        sqlx::query(
            "INSERT INTO index_entries (tenant, kind, attr, value, id) \
             SELECT $1, $2, k.attr, k.value, $3 FROM UNNEST($4::text[], $5::text[]) AS k(attr, value) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&tenant)
        .bind(kind_code(req.kind))
        .bind(&req.id)
        .bind(attrs)
        .bind(values)
        .execute(&mut *tx)
        .await?;
    }
    write_members(&mut tx, &tenant, &req, existing.is_some()).await?;

    let record = StoredResource {
        kind: req.kind,
        id: req.id.clone(),
        version,
        seq: seq as u64,
        created: existing.as_ref().map(|o| o.created.clone()).unwrap_or_else(|| req.created.clone()),
        modified: req.modified.clone(),
        doc: req.doc.clone(),
        index: req.index.clone(),
        unique: req.unique.clone(),
    };
    let stored = if existing.is_none() {
        // A concurrent create of the same id commits first or waits here; never overwrites.
        sqlx::query(
            "INSERT INTO resources (tenant, kind, id, version, seq, created, modified, doc, index_keys, unique_keys) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (tenant, kind, id) DO NOTHING",
        )
    } else {
        sqlx::query(
            "UPDATE resources SET version = $4, seq = $5, created = $6, modified = $7, doc = $8, index_keys = $9, \
             unique_keys = $10 WHERE tenant = $1 AND kind = $2 AND id = $3",
        )
    };
    let written = stored
        .bind(&tenant)
        .bind(kind_code(req.kind))
        .bind(&req.id)
        .bind(version as i64)
        .bind(seq)
        .bind(&record.created)
        .bind(&record.modified)
        .bind(encode(&record.doc)?)
        .bind(encode(&record.index)?)
        .bind(encode(&record.unique)?)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if written != 1 {
        return Err(StoreError::AlreadyExists { kind: req.kind, id: req.id.clone() }.into());
    }
    tx.commit().await?;
    Ok(record)
}

/// Applies a write's membership changes: one row per member.
async fn write_members(
    tx: &mut Transaction<'_, Postgres>,
    tenant: &str,
    req: &WriteRequest,
    existed: bool,
) -> TxResult<()> {
    let members = &req.members;
    if members.clear && existed {
        sqlx::query("DELETE FROM members WHERE tenant = $1 AND group_id = $2")
            .bind(tenant)
            .bind(&req.id)
            .execute(&mut **tx)
            .await?;
    }
    if !members.remove.is_empty() {
        sqlx::query("DELETE FROM members WHERE tenant = $1 AND group_id = $2 AND member_id = ANY($3)")
            .bind(tenant)
            .bind(&req.id)
            .bind(&members.remove)
            .execute(&mut **tx)
            .await?;
    }
    if members.add.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = members.add.iter().map(|(id, _)| id.as_str()).collect();
    // Key-share locks keep each member from being deleted until this write commits.
    let found: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM resources WHERE tenant = $1 AND kind IN ('U', 'G') AND id = ANY($2) FOR KEY SHARE",
    )
    .bind(tenant)
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|f| f == *id)) {
        return Err(StoreError::MemberNotFound(missing.to_string()).into());
    }
    let entries = members.add.iter().map(|(_, entry)| encode(entry)).collect::<StoreResult<Vec<String>>>()?;
    sqlx::query(
        "INSERT INTO members (tenant, group_id, member_id, entry) \
         SELECT $1, $2, m.id, m.entry FROM UNNEST($3::text[], $4::text[]) AS m(id, entry) \
         ON CONFLICT (tenant, group_id, member_id) DO UPDATE SET entry = EXCLUDED.entry",
    )
    .bind(tenant)
    .bind(&req.id)
    .bind(&ids)
    .bind(entries)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn delete_once(
    pool: PgPool,
    tenant: String,
    kind: ResourceKind,
    id: String,
    expect: Option<u64>,
    modified: String,
) -> TxResult<()> {
    let mut tx = pool.begin().await?;
    let seq = next_seq(&mut tx).await?;
    let Some(row) = lock_resource(&mut tx, &tenant, kind, &id).await? else {
        return Err(StoreError::NotFound { kind, id }.into());
    };
    if let Some(v) = expect {
        if row.version as u64 != v {
            return Err(StoreError::VersionMismatch { current: row.version as u64 }.into());
        }
    }
    let index: Vec<IndexKey> = decode(&row.index_keys)?;
    let unique: Vec<IndexKey> = decode(&row.unique_keys)?;
    remove_keys(&mut tx, "index_entries", &tenant, kind, &id, &index.iter().collect::<Vec<_>>()).await?;
    remove_keys(&mut tx, "unique_entries", &tenant, kind, &id, &unique.iter().collect::<Vec<_>>()).await?;
    // Leave every group this resource belongs to, bumping each group's version.
    sqlx::query(
        "UPDATE resources SET version = version + 1, seq = $3, modified = $4 \
         WHERE tenant = $1 AND kind = 'G' AND id IN \
         (SELECT group_id FROM members WHERE tenant = $1 AND member_id = $2)",
    )
    .bind(&tenant)
    .bind(&id)
    .bind(seq)
    .bind(&modified)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM members WHERE tenant = $1 AND (member_id = $2 OR group_id = $2)")
        .bind(&tenant)
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM resources WHERE tenant = $1 AND kind = $2 AND id = $3")
        .bind(&tenant)
        .bind(kind_code(kind))
        .bind(&id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
