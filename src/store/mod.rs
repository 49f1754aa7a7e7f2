//! Persistence of SCIM resources behind a narrow trait: sled embedded (the default) or
//! PostgreSQL shared by replicas. The service decides *what* is indexed and unique (SCIM meaning); a store
//! decides *how* to keep it consistent.

mod postgres;
mod sled_store;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::scim::ResourceKind;

pub use postgres::{PgDefinitions, PgRecordLog, PgStore};
pub use sled_store::{SledDefinitions, SledStore};

/// One index or uniqueness entry: attribute name and normalized value
/// (lower-cased by the service where the attribute is case-insensitive).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct IndexKey {
    pub attr: String,
    pub value: String,
}

impl IndexKey {
    pub fn new(attr: &str, value: impl Into<String>) -> Self {
        IndexKey { attr: attr.to_string(), value: value.into() }
    }
}

/// A resource as stored: attributes without `id`, `meta` and group members, which are
/// kept apart so that adding one member never rewrites a large group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResource {
    pub kind: ResourceKind,
    pub id: String,
    /// Bumped on every write; the weak ETag is derived from it.
    pub version: u64,
    /// Position in the change sequence of the last write.
    pub seq: u64,
    pub created: String,
    pub modified: String,
    pub doc: Value,
    pub index: Vec<IndexKey>,
    pub unique: Vec<IndexKey>,
}

/// A stored resource whose document is still JSON text, for reads that only render it: it
/// skips building a tree of the whole document (and decoding its index keys).
#[derive(Debug, Clone)]
pub struct StoredText {
    pub kind: ResourceKind,
    pub id: String,
    pub version: u64,
    pub created: String,
    pub modified: String,
    pub doc: Box<serde_json::value::RawValue>,
}

/// What the write expects to find, for create-only and compare-and-swap updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Create: the id must not exist.
    Absent,
    /// Update: the stored version must be exactly this.
    Version(u64),
}

/// Changes to a group's membership, applied atomically with the group write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberChanges {
    /// Remove every current member first (replace semantics).
    pub clear: bool,
    pub remove: Vec<String>,
    /// Member entries (`value`, `type`, `display`, ...) keyed by member id.
    pub add: Vec<(String, Value)>,
}

impl MemberChanges {
    pub fn is_empty(&self) -> bool {
        !self.clear && self.remove.is_empty() && self.add.is_empty()
    }
}

#[derive(Debug, Clone)]
pub struct WriteRequest {
    pub kind: ResourceKind,
    pub id: String,
    pub expect: Expect,
    pub created: String,
    pub modified: String,
    pub doc: Value,
    pub index: Vec<IndexKey>,
    pub unique: Vec<IndexKey>,
    pub members: MemberChanges,
}

/// A question the store can answer from an index instead of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Resources whose indexed attribute equals the (normalized) value.
    Eq(IndexKey),
    /// The resource holding this uniqueness key, if any: one point read. The service's
    /// uniqueness form is at least as coarse as its comparison, so for resources written
    /// with the present form this is a superset of an `Eq` on the same attribute, in at
    /// most one id (the service falls back to `Eq` when no resource holds the key).
    Unique(IndexKey),
    /// Resources whose indexed attribute starts with the (normalized) value.
    Prefix(IndexKey),
    /// Groups that have this id as a direct member.
    GroupsWithMember(String),
}

#[derive(Debug, Error, PartialEq)]
pub enum StoreError {
    #[error("{kind} '{id}' not found")]
    NotFound { kind: ResourceKind, id: String },
    #[error("{kind} '{id}' already exists")]
    AlreadyExists { kind: ResourceKind, id: String },
    #[error("version mismatch: stored version is {current}")]
    VersionMismatch { current: u64 },
    #[error("{attr} '{value}' is already used by {existing_id}")]
    Unique { attr: String, value: String, existing_id: String },
    #[error("member '{0}' is not an existing User or Group")]
    MemberNotFound(String),
    #[error("stored record is corrupt: {0}")]
    Corrupt(String),
    #[error("storage failure: {0}")]
    Backend(#[source] BackendError),
    /// The storage cannot be reached just now (a lost database connection, a full pool):
    /// the request may be retried.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] BackendError),
}

/// A failure of the storage engine, kept with its cause (sled's error today).
#[derive(Debug, Clone)]
pub struct BackendError(std::sync::Arc<dyn std::error::Error + Send + Sync>);

impl BackendError {
    pub fn new(e: impl std::error::Error + Send + Sync + 'static) -> BackendError {
        BackendError(std::sync::Arc::new(e))
    }
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Two backend failures are the same failure when they say the same thing.
impl PartialEq for BackendError {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

/// The request recorder's ring when replicas share it: encoded records under a sequence
/// number the store assigns, the oldest dropped beyond a capacity.
pub trait RecordLog: Send + Sync {
    /// Appends a record of `tenant`, then drops the oldest beyond `capacity` records.
    fn append(&self, tenant: &str, record: &[u8], capacity: usize) -> StoreResult<()>;
    /// Records with a sequence number above `after` and below `before` (when given),
    /// newest first, at most `limit`: (seq, encoded record).
    fn newest(&self, after: u64, before: Option<u64>, limit: usize) -> StoreResult<Vec<(u64, Vec<u8>)>>;
    /// Forgets one tenant's records, or every record.
    fn clear(&self, tenant: Option<&str>) -> StoreResult<()>;
    /// Bytes the records take.
    fn bytes(&self) -> StoreResult<u64>;
}

/// Named records (tenant definitions) that must survive a restart.
pub trait DefinitionStore: Send + Sync {
    fn all(&self) -> StoreResult<Vec<(String, Vec<u8>)>>;
    /// One record by name.
    fn get(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Stores a record durably.
    fn put(&self, name: &str, value: &[u8]) -> StoreResult<()>;
}

pub type StoreResult<T> = Result<T, StoreError>;

pub trait Store: Send + Sync {
    fn get(&self, kind: ResourceKind, id: &str) -> StoreResult<Option<StoredResource>>;
    /// [`Store::get`] with the document left as JSON text. The default decodes the whole
    /// record and encodes the document again; a store that keeps JSON text can do better.
    fn get_text(&self, kind: ResourceKind, id: &str) -> StoreResult<Option<StoredText>> {
        let Some(record) = self.get(kind, id)? else { return Ok(None) };
        let doc = serde_json::value::to_raw_value(&record.doc).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let StoredResource { kind, id, version, created, modified, .. } = record;
        Ok(Some(StoredText { kind, id, version, created, modified, doc }))
    }
    /// The resources of these ids that exist, in the order given (one round trip per batch
    /// for a networked store).
    fn get_many(&self, kind: ResourceKind, ids: &[String]) -> StoreResult<Vec<StoredResource>> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            found.extend(self.get(kind, id)?);
        }
        Ok(found)
    }
    /// Creates or updates one resource with its index, uniqueness and membership changes,
    /// all or nothing.
    fn write(&self, request: WriteRequest) -> StoreResult<StoredResource>;
    /// Deletes a resource and every membership it takes part in.
    fn delete(&self, kind: ResourceKind, id: &str, expect: Option<u64>, modified: &str) -> StoreResult<()>;
    /// Candidate ids for an index lookup (callers re-check the full filter).
    fn lookup(&self, kind: ResourceKind, lookup: &Lookup) -> StoreResult<Vec<String>>;
    /// Visits every resource of a kind in id order until the visitor returns false.
    fn scan(&self, kind: ResourceKind, visit: &mut dyn FnMut(StoredResource) -> bool) -> StoreResult<()>;
    /// As [`Store::scan`], stepping over without decoding every resource whose stored bytes
    /// `keep` rejects. The bytes hold the resource's JSON text, so `keep` can test for text
    /// the resource must contain to match: a necessary condition, never a sufficient one.
    /// `needles` says the same as `keep` in data (lower-cased ASCII every pure-ASCII match
    /// contains), for a store that can test it where the data lives.
    fn scan_where(
        &self,
        kind: ResourceKind,
        needles: &[String],
        keep: &dyn Fn(&[u8]) -> bool,
        visit: &mut dyn FnMut(StoredResource) -> bool,
    ) -> StoreResult<()>;
    /// As [`Store::scan`], starting after the first `skip` resources in id order, which are
    /// stepped over without being decoded (startIndex paging pays per page, not per skip).
    fn scan_after(
        &self,
        kind: ResourceKind,
        skip: usize,
        visit: &mut dyn FnMut(StoredResource) -> bool,
    ) -> StoreResult<()>;
    /// Resources of a kind whose id sorts after `after` (all when `None`), in id order:
    /// cursor paging reads only its page.
    fn scan_after_id(
        &self,
        kind: ResourceKind,
        after: Option<&str>,
        visit: &mut dyn FnMut(StoredResource) -> bool,
    ) -> StoreResult<()>;
    fn count(&self, kind: ResourceKind) -> StoreResult<usize>;
    /// Member entries of a group, in member-id order.
    fn members(&self, group_id: &str) -> StoreResult<Vec<Value>>;
    /// Whether `member_id` is a direct member of the group.
    fn has_member(&self, group_id: &str, member_id: &str) -> StoreResult<bool>;
    /// Makes every acknowledged write durable.
    fn flush(&self) -> StoreResult<()>;
    /// The server has stopped serving: a store may save what its next open would otherwise
    /// have to recompute. A write after it must undo that.
    fn close(&self) -> StoreResult<()> {
        Ok(())
    }
    /// Removes every resource, index entry and membership (a test target's reset).
    fn clear(&self) -> StoreResult<()>;
    /// Whether a read is answered from this process's memory or disk (sled), so a request
    /// handler may call it without a thread hand-off; a networked store says no.
    fn reads_are_local(&self) -> bool {
        true
    }
    /// Whether an unfiltered page at position `skip` is reached by walking a few keys,
    /// with nothing to build first, so a request's own thread may answer it.
    fn skip_is_short(&self, _skip: usize) -> bool {
        false
    }
}
