//! Writes over several trees, atomic without sled transactions (docs/architecture.md,
//! "How a write stays whole on sled").
//!
//! A sled transaction, like `apply_batch`, seals the log's buffer before and after it pins
//! its batch marker, so every durable POST cost 2.38 synced log writes instead of one; and
//! once any transaction has run, every read in the process takes sled's global lock.
//!
//! Instead, a writer holds the store's write lock while it stages its reads and writes
//! ([`Staged`]), journals the staged writes as one insert into the `pending` tree (a single
//! insert is atomic), applies them and removes the journal entry. sled recovers a prefix of
//! its log, so after a crash either the entry is still there, and the next open applies it
//! again (each write is an absolute put or delete, so applying twice changes nothing), or
//! it is gone, and then every write it held survived before it.
//!
//! Readers take no lock. A write applies its additions first, then the resource records,
//! then its removals, so a reader that finds a record also finds the index entries that
//! lead to it; an index entry whose record is gone or not yet there is a candidate that
//! the reader's own check of the record drops.

use std::collections::BTreeMap;

use sled::IVec;

use super::{backend, SledStore};
use crate::store::{StoreError, StoreResult};

/// The trees a write may change.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum TreeName {
    Resources,
    Index,
    Unique,
    Members,
    MemberOf,
    Tombstones,
}

impl TreeName {
    pub(super) const ALL: [TreeName; 6] = [
        TreeName::Resources,
        TreeName::Index,
        TreeName::Unique,
        TreeName::Members,
        TreeName::MemberOf,
        TreeName::Tombstones,
    ];

    fn byte(self) -> u8 {
        self as u8
    }

    fn from_byte(byte: u8) -> Option<TreeName> {
        TreeName::ALL.get(usize::from(byte)).copied()
    }
}

/// The journal's one key: writes are serialized by the write lock, so at most one entry
/// is ever pending.
const PENDING_KEY: &[u8] = b"write";

/// The reads and writes of one store write. Reads see the writes staged before them.
pub(super) struct Staged<'s> {
    store: &'s SledStore,
    writes: BTreeMap<(TreeName, Vec<u8>), Option<Vec<u8>>>,
}

impl<'s> Staged<'s> {
    /// Callers hold the store's write lock from before their first read until `commit`
    /// returns: what they read then stays true until their writes are applied.
    pub(super) fn new(store: &'s SledStore) -> Self {
        Staged { store, writes: BTreeMap::new() }
    }

    pub(super) fn get(&self, tree: TreeName, key: &[u8]) -> StoreResult<Option<IVec>> {
        if let Some(staged) = self.writes.get(&(tree, key.to_vec())) {
            return Ok(staged.as_deref().map(IVec::from));
        }
        self.store.tree(tree).get(key).map_err(backend)
    }

    pub(super) fn insert(&mut self, tree: TreeName, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.writes.insert((tree, key.into()), Some(value.into()));
    }

    /// Stages the removal; returns whether there was a value to remove.
    pub(super) fn remove(&mut self, tree: TreeName, key: impl Into<Vec<u8>>) -> StoreResult<bool> {
        let key = key.into();
        let existed = self.get(tree, &key)?.is_some();
        self.writes.insert((tree, key), None);
        Ok(existed)
    }

    /// Journals the staged writes, applies them, and drops the journal entry.
    pub(super) fn commit(self) -> StoreResult<()> {
        if self.writes.is_empty() {
            return Ok(());
        }
        let ops: Vec<Op<'_>> =
            self.writes.iter().map(|((tree, key), value)| (*tree, &key[..], value.as_deref())).collect();
        self.store.pending.insert(PENDING_KEY, encode(&ops)).map_err(backend)?;
        apply(self.store, &ops)?;
        self.store.pending.remove(PENDING_KEY).map_err(backend)?;
        Ok(())
    }
}

type Op<'a> = (TreeName, &'a [u8], Option<&'a [u8]>);

/// Additions first, then the resource records, then removals (see the module's note).
fn apply(store: &SledStore, ops: &[Op<'_>]) -> StoreResult<()> {
    #[derive(PartialEq)]
    enum Phase {
        Additions,
        Records,
        Removals,
    }
    let phase_of = |(tree, _, value): &Op<'_>| match (tree, value) {
        (TreeName::Resources, _) => Phase::Records,
        (_, Some(_)) => Phase::Additions,
        (_, None) => Phase::Removals,
    };
    for phase in [Phase::Additions, Phase::Records, Phase::Removals] {
        for op in ops.iter().filter(|op| phase_of(op) == phase) {
            let (tree, key, value) = *op;
            match value {
                Some(value) => store.tree(tree).insert(key, value).map(drop),
                None => store.tree(tree).remove(key).map(drop),
            }
            .map_err(backend)?;
        }
    }
    Ok(())
}

/// Applies the write a crash interrupted, if there is one (at open, before anything reads).
pub(super) fn finish_interrupted_write(store: &SledStore) -> StoreResult<()> {
    let Some(entry) = store.pending.get(PENDING_KEY).map_err(backend)? else { return Ok(()) };
    let ops = decode(&entry)?;
    tracing::info!(writes = ops.len(), "completing a write that a crash interrupted");
    apply(store, &ops)?;
    store.pending.remove(PENDING_KEY).map_err(backend)?;
    store.db.flush().map_err(backend)?;
    Ok(())
}

/// Each write: tree byte, 1 (put) or 0 (delete), key length (u32, big-endian), key, and
/// for a put the value's length and the value.
fn encode(ops: &[Op<'_>]) -> Vec<u8> {
    let size = ops.iter().map(|(_, k, v)| 10 + k.len() + v.map_or(0, <[u8]>::len)).sum();
    let mut out = Vec::with_capacity(size);
    for (tree, key, value) in ops {
        out.push(tree.byte());
        out.push(u8::from(value.is_some()));
        put_bytes(&mut out, key);
        if let Some(value) = value {
            put_bytes(&mut out, value);
        }
    }
    out
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are sled's, far below 4 GiB.
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn decode(mut entry: &[u8]) -> StoreResult<Vec<Op<'_>>> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("the journal of an interrupted write: {what}"));
    let mut ops = Vec::new();
    while let [tree, put, rest @ ..] = entry {
        let tree = TreeName::from_byte(*tree).ok_or_else(|| corrupt("unknown tree"))?;
        let (key, rest) = take_bytes(rest).ok_or_else(|| corrupt("a key is cut short"))?;
        let (value, rest) = match put {
            1 => take_bytes(rest).map(|(v, rest)| (Some(v), rest)).ok_or_else(|| corrupt("a value is cut short"))?,
            0 => (None, rest),
            _ => return Err(corrupt("unknown operation")),
        };
        ops.push((tree, key, value));
        entry = rest;
    }
    match entry {
        [] => Ok(ops),
        _ => Err(corrupt("a write is cut short")),
    }
}

fn take_bytes(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = input.split_first_chunk::<4>()?;
    let len = u32::from_be_bytes(*len) as usize;
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
#[path = "staged_tests.rs"]
mod tests;
