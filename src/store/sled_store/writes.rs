//! The writes behind [`Store::write`] and [`Store::delete`]: each one staged write over the
//! resource trees (see the parent module for their layout, and `staged` for how a write is
//! made atomic).

use super::staged::{Staged, TreeName};
use super::{backend, decode, encode, index_key, member_key, resource_key, unique_key, SledStore};
use crate::scim::ResourceKind;
use crate::store::{Expect, StoreError, StoreResult, StoredResource, WriteRequest};

impl SledStore {
    /// Removes every member key of a group that no longer exists, in small transactions.
    pub(super) fn remove_all_members(&self, group_id: &str) -> StoreResult<()> {
        for chunk in self.member_ids(group_id)?.chunks(256) {
            let _writing = self.lock_writes()?;
            let mut tx = Staged::new(self);
            for member_id in chunk {
                tx.remove(TreeName::Members, member_key(group_id, member_id))?;
                unlink_member_of(&mut tx, member_id, group_id)?;
            }
            tx.commit()?;
        }
        Ok(())
    }

    pub(super) fn write_resource(&self, req: WriteRequest) -> StoreResult<StoredResource> {
        let seq = self.next_seq()?;
        let key = resource_key(req.kind, &req.id);
        let _writing = self.lock_writes()?;
        let mut tx = Staged::new(self);
        let existing: Option<StoredResource> = match tx.get(TreeName::Resources, &key)? {
            Some(bytes) => Some(decode(&bytes)?),
            None => None,
        };
        let version = match (req.expect, &existing) {
            (Expect::Absent, Some(_)) => return Err(StoreError::AlreadyExists { kind: req.kind, id: req.id }),
            (Expect::Absent, None) => 1,
            (Expect::Version(_), None) => return Err(StoreError::NotFound { kind: req.kind, id: req.id }),
            (Expect::Version(v), Some(old)) if old.version != v => {
                return Err(StoreError::VersionMismatch { current: old.version })
            }
            (Expect::Version(_), Some(old)) => old.version + 1,
        };
        let (old_unique, old_index) =
            existing.as_ref().map(|o| (o.unique.as_slice(), o.index.as_slice())).unwrap_or((&[], &[]));

        for uk in &req.unique {
            if let Some(owner) = tx.get(TreeName::Unique, &unique_key(req.kind, uk))? {
                if owner.as_ref() != req.id.as_bytes() {
                    return Err(StoreError::Unique {
                        attr: uk.attr.clone(),
                        value: uk.value.clone(),
                        existing_id: String::from_utf8_lossy(&owner).to_string(),
                    });
                }
            }
        }
        for old in old_unique.iter().filter(|k| !req.unique.contains(k)) {
            tx.remove(TreeName::Unique, unique_key(req.kind, old))?;
        }
        for uk in &req.unique {
            tx.insert(TreeName::Unique, unique_key(req.kind, uk), req.id.as_bytes());
        }
        for old in old_index.iter().filter(|k| !req.index.contains(k)) {
            tx.remove(TreeName::Index, index_key(req.kind, old, &req.id))?;
        }
        for ik in req.index.iter().filter(|k| !old_index.contains(k)) {
            tx.insert(TreeName::Index, index_key(req.kind, ik, &req.id), []);
        }

        // Replacing all members needs the current list, read under the write lock.
        let mut removals = req.members.remove;
        if req.members.clear && req.expect != Expect::Absent {
            removals.extend(self.member_ids(&req.id)?);
        }
        for member_id in &removals {
            if tx.remove(TreeName::Members, member_key(&req.id, member_id))? {
                unlink_member_of(&mut tx, member_id, &req.id)?;
            }
        }
        for (member_id, entry) in &req.members.add {
            let exists = tx.get(TreeName::Resources, &resource_key(ResourceKind::User, member_id))?.is_some()
                || tx.get(TreeName::Resources, &resource_key(ResourceKind::Group, member_id))?.is_some();
            if !exists {
                return Err(StoreError::MemberNotFound(member_id.clone()));
            }
            tx.insert(TreeName::Members, member_key(&req.id, member_id), encode(entry)?);
            let mut groups = read_member_of(&tx, member_id)?;
            if !groups.contains(&req.id) {
                groups.push(req.id.clone());
                write_member_of(&mut tx, member_id, &groups)?;
            }
        }

        let created = existing.as_ref().map_or(req.created, |o| o.created.clone());
        let record = StoredResource {
            kind: req.kind,
            id: req.id,
            version,
            seq,
            created,
            modified: req.modified,
            doc: req.doc,
            index: req.index,
            unique: req.unique,
        };
        tx.insert(TreeName::Resources, key, encode(&record)?);
        tx.commit()?;
        Ok(record)
    }

    pub(super) fn delete_resource(
        &self,
        kind: ResourceKind,
        id: &str,
        expect: Option<u64>,
        modified: &str,
    ) -> StoreResult<()> {
        let seq = self.next_seq()?;
        let key = resource_key(kind, id);
        {
            let _writing = self.lock_writes()?;
            let mut tx = Staged::new(self);
            let Some(bytes) = tx.get(TreeName::Resources, &key)? else {
                return Err(StoreError::NotFound { kind, id: id.to_string() });
            };
            let record: StoredResource = decode(&bytes)?;
            if let Some(v) = expect {
                if record.version != v {
                    return Err(StoreError::VersionMismatch { current: record.version });
                }
            }
            tx.remove(TreeName::Resources, key)?;
            for uk in &record.unique {
                tx.remove(TreeName::Unique, unique_key(kind, uk))?;
            }
            for ik in &record.index {
                tx.remove(TreeName::Index, index_key(kind, ik, id))?;
            }
            // Leave every group this resource belongs to, bumping each group's version.
            for group_id in read_member_of(&tx, id)? {
                tx.remove(TreeName::Members, member_key(&group_id, id))?;
                let group_key = resource_key(ResourceKind::Group, &group_id);
                if let Some(bytes) = tx.get(TreeName::Resources, &group_key)? {
                    let mut group: StoredResource = decode(&bytes)?;
                    group.version += 1;
                    group.seq = seq;
                    group.modified = modified.to_string();
                    tx.insert(TreeName::Resources, group_key, encode(&group)?);
                }
            }
            tx.remove(TreeName::MemberOf, id.as_bytes())?;
            if kind == ResourceKind::Group {
                tx.insert(TreeName::Tombstones, id.as_bytes(), []);
            }
            tx.commit()?;
        }
        if kind == ResourceKind::Group {
            // No member can be added any more (the group is gone), so the scan is stable.
            self.remove_all_members(id)?;
            self.tombstones.remove(id.as_bytes()).map_err(backend)?;
        }
        Ok(())
    }
}

fn read_member_of(tx: &Staged<'_>, member_id: &str) -> StoreResult<Vec<String>> {
    match tx.get(TreeName::MemberOf, member_id.as_bytes())? {
        Some(bytes) => decode(&bytes),
        None => Ok(Vec::new()),
    }
}

fn write_member_of(tx: &mut Staged<'_>, member_id: &str, groups: &[String]) -> StoreResult<()> {
    if groups.is_empty() {
        tx.remove(TreeName::MemberOf, member_id.as_bytes())?;
    } else {
        tx.insert(TreeName::MemberOf, member_id.as_bytes(), encode(&groups)?);
    }
    Ok(())
}

fn unlink_member_of(tx: &mut Staged<'_>, member_id: &str, group_id: &str) -> StoreResult<()> {
    let mut groups = read_member_of(tx, member_id)?;
    groups.retain(|g| g != group_id);
    write_member_of(tx, member_id, &groups)
}
