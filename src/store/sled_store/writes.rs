//! The transactions behind [`Store::write`] and [`Store::delete`]: each one sled
//! transaction over the resource trees (see the parent module for their layout).

use sled::transaction::TransactionalTree;
use sled::Transactional;

use super::{
    abort, backend, index_key, member_key, resource_key, tx_decode, tx_encode, unique_key, unwrap_tx, SledStore,
    TxResult,
};
use crate::scim::ResourceKind;
use crate::store::{Expect, StoreError, StoreResult, StoredResource, WriteRequest};

impl SledStore {
    /// Removes every member key of a group that no longer exists, in small transactions.
    pub(super) fn remove_all_members(&self, group_id: &str) -> StoreResult<()> {
        for chunk in self.member_ids(group_id)?.chunks(256) {
            unwrap_tx((&self.members, &self.member_of).transaction(|(members, member_of)| {
                for member_id in chunk {
                    members.remove(member_key(group_id, member_id))?;
                    unlink_member_of(member_of, member_id, group_id)?;
                }
                Ok(())
            }))?;
        }
        Ok(())
    }

    pub(super) fn write_resource(&self, req: WriteRequest) -> StoreResult<StoredResource> {
        // Replacing all members needs the current list; the version check inside the
        // transaction guarantees it is still current when the write commits.
        let mut removals = req.members.remove.clone();
        if req.members.clear && req.expect != Expect::Absent {
            removals.extend(self.member_ids(&req.id)?);
        }
        let seq = self.next_seq()?;
        let key = resource_key(req.kind, &req.id);
        let trees = (&self.resources, &self.index, &self.unique, &self.members, &self.member_of);
        unwrap_tx(trees.transaction(|(resources, index, unique, members, member_of)| {
            let existing: Option<StoredResource> = match resources.get(&key)? {
                Some(bytes) => Some(tx_decode(&bytes)?),
                None => None,
            };
            let version = match (req.expect, &existing) {
                (Expect::Absent, Some(_)) => {
                    return abort(StoreError::AlreadyExists { kind: req.kind, id: req.id.clone() })
                }
                (Expect::Absent, None) => 1,
                (Expect::Version(_), None) => {
                    return abort(StoreError::NotFound { kind: req.kind, id: req.id.clone() })
                }
                (Expect::Version(v), Some(old)) if old.version != v => {
                    return abort(StoreError::VersionMismatch { current: old.version })
                }
                (Expect::Version(_), Some(old)) => old.version + 1,
            };
            let (old_unique, old_index) =
                existing.as_ref().map(|o| (o.unique.as_slice(), o.index.as_slice())).unwrap_or((&[], &[]));

            for uk in &req.unique {
                let k = unique_key(req.kind, uk);
                if let Some(owner) = unique.get(&k)? {
                    if owner.as_ref() != req.id.as_bytes() {
                        return abort(StoreError::Unique {
                            attr: uk.attr.clone(),
                            value: uk.value.clone(),
                            existing_id: String::from_utf8_lossy(&owner).to_string(),
                        });
                    }
                }
            }
            for old in old_unique.iter().filter(|k| !req.unique.contains(k)) {
                unique.remove(unique_key(req.kind, old))?;
            }
            for uk in &req.unique {
                unique.insert(unique_key(req.kind, uk), req.id.as_bytes())?;
            }
            for old in old_index.iter().filter(|k| !req.index.contains(k)) {
                index.remove(index_key(req.kind, old, &req.id))?;
            }
            for ik in req.index.iter().filter(|k| !old_index.contains(k)) {
                index.insert(index_key(req.kind, ik, &req.id), &[] as &[u8])?;
            }

            for member_id in &removals {
                if members.remove(member_key(&req.id, member_id))?.is_some() {
                    unlink_member_of(member_of, member_id, &req.id)?;
                }
            }
            for (member_id, entry) in &req.members.add {
                let exists = resources.get(resource_key(ResourceKind::User, member_id))?.is_some()
                    || resources.get(resource_key(ResourceKind::Group, member_id))?.is_some();
                if !exists {
                    return abort(StoreError::MemberNotFound(member_id.clone()));
                }
                members.insert(member_key(&req.id, member_id), tx_encode(entry)?)?;
                let mut groups = read_member_of(member_of, member_id)?;
                if !groups.contains(&req.id) {
                    groups.push(req.id.clone());
                    write_member_of(member_of, member_id, &groups)?;
                }
            }

            let record = StoredResource {
                kind: req.kind,
                id: req.id.clone(),
                version,
                seq,
                created: existing.as_ref().map(|o| o.created.clone()).unwrap_or_else(|| req.created.clone()),
                modified: req.modified.clone(),
                doc: req.doc.clone(),
                index: req.index.clone(),
                unique: req.unique.clone(),
            };
            resources.insert(key.as_slice(), tx_encode(&record)?)?;
            Ok(record)
        }))
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
        let [resources, index, unique, members, member_of, tombstones] = self.resource_trees();
        let trees = (resources, index, unique, members, member_of, tombstones);
        unwrap_tx(trees.transaction(|(resources, index, unique, members, member_of, tombstones)| {
            let Some(bytes) = resources.get(&key)? else {
                return abort(StoreError::NotFound { kind, id: id.to_string() });
            };
            let record: StoredResource = tx_decode(&bytes)?;
            if let Some(v) = expect {
                if record.version != v {
                    return abort(StoreError::VersionMismatch { current: record.version });
                }
            }
            resources.remove(key.as_slice())?;
            for uk in &record.unique {
                unique.remove(unique_key(kind, uk))?;
            }
            for ik in &record.index {
                index.remove(index_key(kind, ik, id))?;
            }
            // Leave every group this resource belongs to, bumping each group's version.
            for group_id in read_member_of(member_of, id)? {
                members.remove(member_key(&group_id, id))?;
                let group_key = resource_key(ResourceKind::Group, &group_id);
                if let Some(bytes) = resources.get(&group_key)? {
                    let mut group: StoredResource = tx_decode(&bytes)?;
                    group.version += 1;
                    group.seq = seq;
                    group.modified = modified.to_string();
                    resources.insert(group_key, tx_encode(&group)?)?;
                }
            }
            member_of.remove(id.as_bytes())?;
            if kind == ResourceKind::Group {
                tombstones.insert(id.as_bytes(), &[] as &[u8])?;
            }
            Ok(())
        }))?;
        if kind == ResourceKind::Group {
            // No member can be added any more (the group is gone), so the scan is stable.
            self.remove_all_members(id)?;
            self.tombstones.remove(id.as_bytes()).map_err(backend)?;
        }
        Ok(())
    }
}

fn read_member_of(member_of: &TransactionalTree, member_id: &str) -> TxResult<Vec<String>> {
    match member_of.get(member_id.as_bytes())? {
        Some(bytes) => tx_decode(&bytes),
        None => Ok(Vec::new()),
    }
}

fn write_member_of(member_of: &TransactionalTree, member_id: &str, groups: &[String]) -> TxResult<()> {
    if groups.is_empty() {
        member_of.remove(member_id.as_bytes())?;
    } else {
        member_of.insert(member_id.as_bytes(), tx_encode(&groups)?)?;
    }
    Ok(())
}

fn unlink_member_of(member_of: &TransactionalTree, member_id: &str, group_id: &str) -> TxResult<()> {
    let mut groups = read_member_of(member_of, member_id)?;
    groups.retain(|g| g != group_id);
    write_member_of(member_of, member_id, &groups)
}
