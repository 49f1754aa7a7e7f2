//! The sled implementation of [`Store`].
//!
//! Trees (one set per tenant, named `{tenant}/{tree}`):
//! - `resources`: `kind byte ++ id` → JSON [`StoredResource`]
//! - `index`:     `kind byte ++ attr ++ 0 ++ value ++ 0 ++ id` → empty (eq and prefix scans)
//! - `unique`:    `kind byte ++ attr ++ 0 ++ value` → id
//! - `members`:   `group id ++ 0 ++ member id` → member entry JSON (one key per member)
//! - `member_of`: `member id` → JSON list of group ids (the reverse index for `User.groups`)
//! - `tombstones`: group ids whose member keys are still being removed after a delete
//! - `pending`:   the journal of the write being applied (see `staged`)
//!
//! A write over several trees is staged, journalled and applied under the store's write
//! lock, not in a sled transaction (`staged` says why).

mod staged;
mod writes;

use serde_json::Value;
use sled::Tree;

use super::{Expect, IndexKey, Lookup, Store, StoreError, StoreResult, StoredResource, StoredText, WriteRequest};
use crate::scim::ResourceKind;

pub struct SledStore {
    db: sled::Db,
    resources: Tree,
    index: Tree,
    unique: Tree,
    members: Tree,
    member_of: Tree,
    tombstones: Tree,
    pending: Tree,
    /// Held by every write from its first read to its last write, so writes see each other
    /// whole (uniqueness, versions, memberships); readers do not take it.
    writing: std::sync::Mutex<()>,
    /// Resources per kind (User, Group): counted once at open, then kept by every create
    /// and delete, so an unfiltered list's totalResults costs nothing.
    counts: [std::sync::atomic::AtomicUsize; 2],
    /// Bumped by every create and delete of a kind: positions move only then.
    generations: [std::sync::atomic::AtomicU64; 2],
    /// Every `SKIP_STRIDE`-th key of a kind, for startIndex pages deep in a large set.
    checkpoints: [std::sync::Mutex<Checkpoints>; 2],
    /// The counts a cleanly closed store left for its next open (see [`Store::close`]).
    saved_counts: Tree,
    /// Set by `close`; a write after it withdraws the saved counts. The mutex orders the
    /// withdrawal after the save.
    closed: std::sync::atomic::AtomicBool,
    closing: std::sync::Mutex<()>,
}

const SAVED_COUNTS_KEY: &[u8] = b"counts";

/// Keys at positions 0, STRIDE, 2·STRIDE… of one kind, valid for one generation.
#[derive(Default)]
struct Checkpoints {
    generation: Option<u64>,
    keys: Vec<sled::IVec>,
}

/// Positions between checkpoints: a deep page walks at most this many keys past one.
const SKIP_STRIDE: usize = 512;

fn count_slot(kind: ResourceKind) -> usize {
    match kind {
        ResourceKind::User => 0,
        ResourceKind::Group => 1,
    }
}

fn kind_byte(kind: ResourceKind) -> u8 {
    match kind {
        ResourceKind::User => b'U',
        ResourceKind::Group => b'G',
    }
}

fn resource_key(kind: ResourceKind, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(id.len() + 1);
    k.push(kind_byte(kind));
    k.extend_from_slice(id.as_bytes());
    k
}

fn attr_prefix(kind: ResourceKind, attr: &str) -> Vec<u8> {
    let mut k = vec![kind_byte(kind)];
    k.extend_from_slice(attr.as_bytes());
    k.push(0);
    k
}

fn unique_key(kind: ResourceKind, key: &IndexKey) -> Vec<u8> {
    let mut k = attr_prefix(kind, &key.attr);
    k.extend_from_slice(key.value.as_bytes());
    k
}

fn index_key(kind: ResourceKind, key: &IndexKey, id: &str) -> Vec<u8> {
    let mut k = unique_key(kind, key);
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

fn member_key(group_id: &str, member_id: &str) -> Vec<u8> {
    let mut k = group_id.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(member_id.as_bytes());
    k
}

fn backend(e: sled::Error) -> StoreError {
    StoreError::Backend(super::BackendError::new(e))
}

/// Tenant definitions in a sled tree.
pub struct SledDefinitions(sled::Tree);

impl SledDefinitions {
    pub fn open(db: &sled::Db, tree: &str) -> StoreResult<SledDefinitions> {
        Ok(SledDefinitions(db.open_tree(tree).map_err(backend)?))
    }
}

impl super::DefinitionStore for SledDefinitions {
    fn all(&self) -> StoreResult<Vec<(String, Vec<u8>)>> {
        let mut out = Vec::new();
        for entry in self.0.iter() {
            let (k, v) = entry.map_err(backend)?;
            out.push((String::from_utf8_lossy(&k).into_owned(), v.to_vec()));
        }
        Ok(out)
    }

    fn get(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.0.get(name.as_bytes()).map_err(backend)?.map(|v| v.to_vec()))
    }

    fn put(&self, name: &str, value: &[u8]) -> StoreResult<()> {
        self.0.insert(name.as_bytes(), value).map_err(backend)?;
        self.0.flush().map_err(backend)?;
        Ok(())
    }
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn decode_borrowed<'a, T: serde::Deserialize<'a>>(bytes: &'a [u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn encode<T: serde::Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Id after the last NUL of an index key.
fn id_from_index_key(key: &[u8]) -> Option<String> {
    let pos = key.iter().rposition(|b| *b == 0)?;
    String::from_utf8(key[pos + 1..].to_vec()).ok()
}

impl SledStore {
    /// A store in a temporary database, removed when dropped: for unit tests above the store.
    #[cfg(test)]
    pub fn temporary() -> StoreResult<Self> {
        let db = sled::Config::new().temporary(true).open().map_err(backend)?;
        Self::open(&db, "test")
    }

    /// Opens the trees of one tenant in an already opened database.
    pub fn open(db: &sled::Db, tenant: &str) -> StoreResult<Self> {
        let tree = |name: &str| db.open_tree(format!("{tenant}/{name}")).map_err(backend);
        // Data directories of earlier versions kept a change log nothing read.
        db.drop_tree(format!("{tenant}/changes")).map_err(backend)?;
        let store = SledStore {
            db: db.clone(),
            resources: tree("resources")?,
            index: tree("index")?,
            unique: tree("unique")?,
            members: tree("members")?,
            member_of: tree("member_of")?,
            tombstones: tree("tombstones")?,
            pending: tree("pending")?,
            writing: Default::default(),
            counts: Default::default(),
            generations: Default::default(),
            checkpoints: Default::default(),
            saved_counts: tree("counts")?,
            closed: Default::default(),
            closing: Default::default(),
        };
        staged::finish_interrupted_write(&store)?;
        store.finish_group_deletes()?;
        let counts = match store.take_saved_counts()? {
            Some(counts) => counts,
            None => ResourceKind::ALL.map(|kind| store.resources.scan_prefix([kind_byte(kind)]).keys().count()),
        };
        for (slot, n) in counts.into_iter().enumerate() {
            store.counts[slot].store(n, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(store)
    }

    /// The counts the last clean close saved, removed (durably) as they are read: from here
    /// on only this process's counters are right, and a crash must lead to a recount.
    fn take_saved_counts(&self) -> StoreResult<Option<[usize; 2]>> {
        let Some(bytes) = self.saved_counts.remove(SAVED_COUNTS_KEY).map_err(backend)? else {
            return Ok(None);
        };
        self.saved_counts.flush().map_err(backend)?;
        let count = |at: usize| bytes.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes);
        Ok(match (count(0), count(8)) {
            (Some(users), Some(groups)) => Some([users as usize, groups as usize]),
            _ => {
                tracing::warn!("the saved resource counts do not decode; counting the keys");
                None
            }
        })
    }

    /// A resource of `kind` was created (+1) or deleted (-1).
    fn count_changed(&self, kind: ResourceKind, created: bool) {
        let slot = count_slot(kind);
        if created {
            self.counts[slot].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        } else {
            self.counts[slot].fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
        self.generations[slot].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            // A write after close (a request that outlived an immediate stop): the saved
            // counts may miss it.
            let _closing = self.closing.lock().unwrap_or_else(|p| p.into_inner());
            if let Err(e) = self.saved_counts.remove(SAVED_COUNTS_KEY) {
                tracing::warn!(error = %e, "cannot withdraw the saved counts; the next start may count wrong");
            }
        }
    }

    /// Completes group deletions interrupted by a crash: removes their remaining member keys.
    fn finish_group_deletes(&self) -> StoreResult<()> {
        for entry in self.tombstones.iter() {
            let (key, _) = entry.map_err(backend)?;
            let group_id = String::from_utf8_lossy(&key).to_string();
            self.remove_all_members(&group_id)?;
            self.tombstones.remove(key).map_err(backend)?;
        }
        Ok(())
    }

    fn member_ids(&self, group_id: &str) -> StoreResult<Vec<String>> {
        let prefix = member_key(group_id, "");
        let mut ids = Vec::new();
        for entry in self.members.scan_prefix(&prefix) {
            let (key, _) = entry.map_err(backend)?;
            ids.push(String::from_utf8_lossy(&key[prefix.len()..]).to_string());
        }
        Ok(ids)
    }

    fn next_seq(&self) -> StoreResult<u64> {
        // +1 so that 0 can mean "before the first change".
        self.db.generate_id().map(|id| id + 1).map_err(backend)
    }
}

impl Store for SledStore {
    fn get(&self, kind: ResourceKind, id: &str) -> StoreResult<Option<StoredResource>> {
        match self.resources.get(resource_key(kind, id)).map_err(backend)? {
            Some(bytes) => decode(&bytes).map(Some),
            None => Ok(None),
        }
    }

    fn get_text(&self, kind: ResourceKind, id: &str) -> StoreResult<Option<StoredText>> {
        /// The fields a render needs, the document borrowed from the stored bytes.
        #[derive(serde::Deserialize)]
        struct Borrowed<'a> {
            kind: ResourceKind,
            id: String,
            version: u64,
            created: String,
            modified: String,
            #[serde(borrow)]
            doc: &'a serde_json::value::RawValue,
        }
        let Some(bytes) = self.resources.get(resource_key(kind, id)).map_err(backend)? else { return Ok(None) };
        let record: Borrowed<'_> = decode_borrowed(&bytes)?;
        let Borrowed { kind, id, version, created, modified, doc } = record;
        Ok(Some(StoredText { kind, id, version, created, modified, doc: doc.to_owned() }))
    }

    fn write(&self, req: WriteRequest) -> StoreResult<StoredResource> {
        let (kind, created) = (req.kind, req.expect == Expect::Absent);
        let written = self.write_resource(req)?;
        if created {
            self.count_changed(kind, true);
        }
        Ok(written)
    }

    fn delete(&self, kind: ResourceKind, id: &str, expect: Option<u64>, modified: &str) -> StoreResult<()> {
        self.delete_resource(kind, id, expect, modified)?;
        self.count_changed(kind, false);
        Ok(())
    }

    fn lookup(&self, kind: ResourceKind, lookup: &Lookup) -> StoreResult<Vec<String>> {
        let mut ids = Vec::new();
        match lookup {
            Lookup::Eq(key) => {
                let mut prefix = unique_key(kind, key);
                prefix.push(0);
                for entry in self.index.scan_prefix(&prefix) {
                    let (k, _) = entry.map_err(backend)?;
                    ids.extend(id_from_index_key(&k));
                }
            }
            Lookup::Unique(key) => {
                if let Some(id) = self.unique.get(unique_key(kind, key)).map_err(backend)? {
                    ids.extend(String::from_utf8(id.to_vec()).ok());
                }
            }
            Lookup::Prefix(key) => {
                for entry in self.index.scan_prefix(unique_key(kind, key)) {
                    let (k, _) = entry.map_err(backend)?;
                    ids.extend(id_from_index_key(&k));
                }
                ids.sort();
                ids.dedup();
            }
            Lookup::GroupsWithMember(member_id) => {
                if kind == ResourceKind::Group {
                    if let Some(bytes) = self.member_of.get(member_id.as_bytes()).map_err(backend)? {
                        ids = decode(&bytes)?;
                    }
                }
            }
        }
        Ok(ids)
    }

    fn scan(&self, kind: ResourceKind, visit: &mut dyn FnMut(StoredResource) -> bool) -> StoreResult<()> {
        for entry in self.resources.scan_prefix([kind_byte(kind)]) {
            let (_, bytes) = entry.map_err(backend)?;
            if !visit(decode(&bytes)?) {
                break;
            }
        }
        Ok(())
    }

    fn scan_where(
        &self,
        kind: ResourceKind,
        _needles: &[String],
        keep: &dyn Fn(&[u8]) -> bool,
        visit: &mut dyn FnMut(StoredResource) -> bool,
    ) -> StoreResult<()> {
        for entry in self.resources.scan_prefix([kind_byte(kind)]) {
            let (_, bytes) = entry.map_err(backend)?;
            if keep(&bytes) && !visit(decode(&bytes)?) {
                break;
            }
        }
        Ok(())
    }

    /// Below the first checkpoint: a deeper page may first rebuild the checkpoints, a walk
    /// over every key of the kind (seconds at 1M users on a cold disk), which must never
    /// hold a request thread that other connections wait on.
    fn skip_is_short(&self, skip: usize) -> bool {
        skip < SKIP_STRIDE
    }

    fn scan_after(
        &self,
        kind: ResourceKind,
        skip: usize,
        visit: &mut dyn FnMut(StoredResource) -> bool,
    ) -> StoreResult<()> {
        // Deep pages start from the nearest checkpoint, not from the first key.
        let (start, rest) = match self.checkpoint_before(kind, skip)? {
            Some((key, position)) => (std::ops::Bound::Included(key.to_vec()), skip - position),
            None => (std::ops::Bound::Included(vec![kind_byte(kind)]), skip),
        };
        let end = std::ops::Bound::Excluded(vec![kind_byte(kind) + 1]);
        for entry in self.resources.range::<Vec<u8>, _>((start, end)).skip(rest) {
            let (_, bytes) = entry.map_err(backend)?;
            if !visit(decode(&bytes)?) {
                break;
            }
        }
        Ok(())
    }

    fn scan_after_id(
        &self,
        kind: ResourceKind,
        after: Option<&str>,
        visit: &mut dyn FnMut(StoredResource) -> bool,
    ) -> StoreResult<()> {
        use std::ops::Bound;
        let start = match after {
            Some(id) => Bound::Excluded(resource_key(kind, id)),
            None => Bound::Included(vec![kind_byte(kind)]),
        };
        let end = Bound::Excluded(vec![kind_byte(kind) + 1]);
        for entry in self.resources.range::<Vec<u8>, _>((start, end)) {
            let (_, bytes) = entry.map_err(backend)?;
            if !visit(decode(&bytes)?) {
                break;
            }
        }
        Ok(())
    }

    fn count(&self, kind: ResourceKind) -> StoreResult<usize> {
        Ok(self.counts[count_slot(kind)].load(std::sync::atomic::Ordering::SeqCst))
    }

    fn members(&self, group_id: &str) -> StoreResult<Vec<Value>> {
        let mut out = Vec::new();
        for entry in self.members.scan_prefix(member_key(group_id, "")) {
            let (_, bytes) = entry.map_err(backend)?;
            out.push(decode(&bytes)?);
        }
        Ok(out)
    }

    fn has_member(&self, group_id: &str, member_id: &str) -> StoreResult<bool> {
        self.members.contains_key(member_key(group_id, member_id)).map_err(backend)
    }

    fn flush(&self) -> StoreResult<()> {
        self.db.flush().map(|_| ()).map_err(backend)
    }

    /// Saves the resource counts, so the next open reads two numbers instead of walking
    /// every key (a 1M-user store took seconds to count).
    fn close(&self) -> StoreResult<()> {
        let _closing = self.closing.lock().unwrap_or_else(|p| p.into_inner());
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        let mut bytes = Vec::with_capacity(16);
        for count in &self.counts {
            bytes.extend_from_slice(&(count.load(std::sync::atomic::Ordering::SeqCst) as u64).to_be_bytes());
        }
        self.saved_counts.insert(SAVED_COUNTS_KEY, bytes).map_err(backend)?;
        self.saved_counts.flush().map_err(backend)?;
        Ok(())
    }

    fn clear(&self) -> StoreResult<()> {
        let _writing = self.lock_writes()?;
        for tree in self.resource_trees() {
            tree.clear().map_err(backend)?;
        }
        for count in &self.counts {
            count.store(0, std::sync::atomic::Ordering::SeqCst);
        }
        for generation in &self.generations {
            generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }
}

impl SledStore {
    /// The last checkpoint at or before position `skip` and its position; rebuilt (one walk
    /// over the kind's keys) when resources were created or deleted since it was taken.
    /// Offset paging is only stable while nothing is written; cursors are for that.
    fn checkpoint_before(&self, kind: ResourceKind, skip: usize) -> StoreResult<Option<(sled::IVec, usize)>> {
        if skip < SKIP_STRIDE {
            return Ok(None);
        }
        let slot = count_slot(kind);
        let generation = self.generations[slot].load(std::sync::atomic::Ordering::SeqCst);
        let mut checkpoints = self.checkpoints[slot].lock().unwrap_or_else(|p| p.into_inner());
        if checkpoints.generation != Some(generation) {
            let mut keys = Vec::new();
            for (position, key) in self.resources.scan_prefix([kind_byte(kind)]).keys().enumerate() {
                let key = key.map_err(backend)?;
                if position.is_multiple_of(SKIP_STRIDE) {
                    keys.push(key);
                }
            }
            *checkpoints = Checkpoints { generation: Some(generation), keys };
        }
        let index = skip / SKIP_STRIDE;
        Ok(checkpoints.keys.get(index).map(|key| (key.clone(), index * SKIP_STRIDE)))
    }

    /// Every tree that holds a tenant's resources and what is derived from them; `clear`
    /// empties exactly these.
    fn resource_trees(&self) -> [&sled::Tree; 6] {
        staged::TreeName::ALL.map(|name| self.tree(name))
    }

    fn tree(&self, name: staged::TreeName) -> &sled::Tree {
        use staged::TreeName;
        match name {
            TreeName::Resources => &self.resources,
            TreeName::Index => &self.index,
            TreeName::Unique => &self.unique,
            TreeName::Members => &self.members,
            TreeName::MemberOf => &self.member_of,
            TreeName::Tombstones => &self.tombstones,
        }
    }

    fn lock_writes(&self) -> StoreResult<std::sync::MutexGuard<'_, ()>> {
        match self.writing.lock() {
            Ok(guard) => Ok(guard),
            Err(poisoned) => {
                // A writer panicked, perhaps between journalling and applying its write:
                // complete that write before the next one replaces its journal entry.
                let guard = poisoned.into_inner();
                staged::finish_interrupted_write(self)?;
                self.writing.clear_poison();
                Ok(guard)
            }
        }
    }
}
