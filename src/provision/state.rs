//! Persistent job state in sled: object links (the connector data store), the watermark of
//! source fingerprints, counters and provisioning logs. It survives restarts, so a killed
//! run resumes without duplicate creates.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::log::LogEntry;

#[derive(Debug, thiserror::Error)]
#[error("provisioning state: {0}")]
pub struct StateError(pub String);

fn err(e: impl std::fmt::Display) -> StateError {
    StateError(e.to_string())
}

pub use crate::digest::{fingerprint, object_fingerprint};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ObjectKind {
    User,
    Group,
}

impl ObjectKind {
    fn prefix(self) -> &'static str {
        match self {
            ObjectKind::User => "U:",
            ObjectKind::Group => "G:",
        }
    }
}

/// A source object the engine created or matched in the target: only linked objects are
/// ever updated, disabled or deleted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub kind: ObjectKind,
    pub target_id: String,
    pub display: String,
    /// Target values last exported, by target attribute path.
    #[serde(default)]
    pub exported: Map<String, Value>,
    /// Target ids of the members last exported (groups).
    #[serde(default)]
    pub members: Vec<String>,
    /// Disabled because it left scope (re-enabled when it comes back).
    #[serde(default)]
    pub disabled: bool,
    /// True when this engine created the target object (false: matched an existing one).
    #[serde(default)]
    pub created: bool,
}

#[derive(Clone)]
pub struct JobState {
    db: sled::Db,
    links: sled::Tree,
    watermark: sled::Tree,
    meta: sled::Tree,
    logs: sled::Tree,
    escrows: sled::Tree,
}

/// A failed object waiting for its retry on a later cycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Escrow {
    pub first_failure: String,
    pub attempts: u32,
    pub error_code: String,
    pub reason: String,
}

/// The engine's state is small per object; sled's default 1 GiB cache is far too much.
const STATE_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Provisioning log records kept (oldest dropped first), like Entra's retention window.
pub const LOG_RETENTION: usize = 250_000;

impl JobState {
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(STATE_CACHE_BYTES)
            .open()
            .map_err(|e| StateError(format!("cannot open {} ({e}); is another engine using it?", dir.display())))?;
        Self::from_db(db)
    }

    pub fn temporary() -> Result<Self, StateError> {
        Self::from_db(sled::Config::new().temporary(true).cache_capacity(STATE_CACHE_BYTES).open().map_err(err)?)
    }

    fn from_db(db: sled::Db) -> Result<Self, StateError> {
        Ok(JobState {
            links: db.open_tree("links").map_err(err)?,
            watermark: db.open_tree("watermark").map_err(err)?,
            meta: db.open_tree("meta").map_err(err)?,
            logs: db.open_tree("logs").map_err(err)?,
            escrows: db.open_tree("escrows").map_err(err)?,
            db,
        })
    }

    fn key(kind: ObjectKind, source_id: &str) -> Vec<u8> {
        format!("{}{source_id}", kind.prefix()).into_bytes()
    }

    pub fn link(&self, kind: ObjectKind, source_id: &str) -> Result<Option<Link>, StateError> {
        match self.links.get(Self::key(kind, source_id)).map_err(err)? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(err),
            None => Ok(None),
        }
    }

    /// Stores a link durably: a create is remembered before anything else happens.
    pub fn set_link(&self, source_id: &str, link: &Link) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(link).map_err(err)?;
        self.links.insert(Self::key(link.kind, source_id), bytes).map_err(err)?;
        self.links.flush().map_err(err)?;
        Ok(())
    }

    pub fn remove_link(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError> {
        self.links.remove(Self::key(kind, source_id)).map_err(err)?;
        self.links.flush().map_err(err)?;
        Ok(())
    }

    /// All links of a kind: (source id, link).
    pub fn links(&self, kind: ObjectKind) -> Result<Vec<(String, Link)>, StateError> {
        let mut out = Vec::new();
        for entry in self.links.scan_prefix(kind.prefix()) {
            let (k, v) = entry.map_err(err)?;
            let id = String::from_utf8_lossy(&k[2..]).to_string();
            out.push((id, serde_json::from_slice(&v).map_err(err)?));
        }
        Ok(out)
    }

    /// The fingerprint a source object had when last processed successfully.
    pub fn watermark(&self, kind: ObjectKind, source_id: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .watermark
            .get(Self::key(kind, source_id))
            .map_err(err)?
            .map(|v| String::from_utf8_lossy(&v).to_string()))
    }

    pub fn set_watermark(&self, kind: ObjectKind, source_id: &str, fp: &str) -> Result<(), StateError> {
        self.watermark.insert(Self::key(kind, source_id), fp.as_bytes()).map_err(err)?;
        Ok(())
    }

    pub fn remove_watermark(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError> {
        self.watermark.remove(Self::key(kind, source_id)).map_err(err)?;
        Ok(())
    }

    /// Source ids with a watermark (objects seen in earlier cycles).
    pub fn watermarked(&self, kind: ObjectKind) -> Result<Vec<String>, StateError> {
        let mut out = Vec::new();
        for entry in self.watermark.scan_prefix(kind.prefix()).keys() {
            let k = entry.map_err(err)?;
            out.push(String::from_utf8_lossy(&k[2..]).to_string());
        }
        Ok(out)
    }

    pub fn meta(&self, key: &str) -> Result<Option<String>, StateError> {
        Ok(self.meta.get(key).map_err(err)?.map(|v| String::from_utf8_lossy(&v).to_string()))
    }

    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StateError> {
        self.meta.insert(key, value.as_bytes()).map_err(err)?;
        Ok(())
    }

    /// Forgets the watermark (next cycle is a full one); links are kept, as Entra's
    /// "Restart provisioning" does.
    pub fn remove_meta(&self, key: &str) -> Result<(), StateError> {
        self.meta.remove(key).map_err(err)?;
        Ok(())
    }

    pub fn clear_watermark(&self) -> Result<(), StateError> {
        self.watermark.clear().map_err(err)?;
        self.meta.remove("initial_done").map_err(err)?;
        Ok(())
    }

    /// Forgets everything: links, watermark, counters (logs are kept).
    pub fn clear_all(&self) -> Result<(), StateError> {
        self.links.clear().map_err(err)?;
        self.escrows.clear().map_err(err)?;
        self.clear_watermark()?;
        self.meta.clear().map_err(err)?;
        self.flush()
    }

    pub fn append_log(&self, entry: &LogEntry) -> Result<(), StateError> {
        let id = self.db.generate_id().map_err(err)?;
        self.logs.insert(id.to_be_bytes(), serde_json::to_vec(entry).map_err(err)?).map_err(err)?;
        Ok(())
    }

    /// Records a failure of `source_id` (keeps the first failure time, counts attempts).
    pub fn escrow(
        &self,
        kind: ObjectKind,
        source_id: &str,
        now: &str,
        code: &str,
        reason: &str,
    ) -> Result<(), StateError> {
        let key = Self::key(kind, source_id);
        let previous: Option<Escrow> =
            self.escrows.get(&key).map_err(err)?.and_then(|b| serde_json::from_slice(&b).ok());
        let entry = Escrow {
            first_failure: previous.as_ref().map_or_else(|| now.to_string(), |p| p.first_failure.clone()),
            attempts: previous.map_or(1, |p| p.attempts + 1),
            error_code: code.to_string(),
            reason: reason.to_string(),
        };
        self.escrows.insert(key, serde_json::to_vec(&entry).map_err(err)?).map_err(err)?;
        Ok(())
    }

    pub fn release_escrow(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError> {
        self.escrows.remove(Self::key(kind, source_id)).map_err(err)?;
        Ok(())
    }

    pub fn escrows(&self) -> Result<Vec<(String, Escrow)>, StateError> {
        let mut out = Vec::new();
        for entry in self.escrows.iter() {
            let (k, v) = entry.map_err(err)?;
            out.push((String::from_utf8_lossy(&k).to_string(), serde_json::from_slice(&v).map_err(err)?));
        }
        Ok(out)
    }

    pub fn clear_escrows(&self) -> Result<(), StateError> {
        self.escrows.clear().map_err(err)
    }

    pub fn count_links(&self, kind: ObjectKind) -> usize {
        self.links.scan_prefix(kind.prefix()).count()
    }

    /// Drops the oldest records beyond `keep`.
    ///
    /// Keys are increasing ids from this database's generator (the only user of it), so
    /// the span between the first and last key bounds the count without scanning the tree
    /// (a `len()` walks every record: seconds after a 100k-object cycle).
    pub fn prune_logs(&self, keep: usize) -> Result<usize, StateError> {
        let id = |k: &sled::IVec| k.as_ref().try_into().map(u64::from_be_bytes).unwrap_or(0);
        let (Some((first, _)), Some((last, _))) = (self.logs.first().map_err(err)?, self.logs.last().map_err(err)?)
        else {
            return Ok(0);
        };
        let (first, last) = (id(&first), id(&last));
        if last - first < keep as u64 {
            return Ok(0);
        }
        let cutoff = (last + 1 - keep as u64).to_be_bytes();
        let mut removed = 0;
        for key in self.logs.range(..cutoff).keys() {
            self.logs.remove(key.map_err(err)?).map_err(err)?;
            removed += 1;
        }
        Ok(removed)
    }

    pub fn logs(&self) -> Result<Vec<LogEntry>, StateError> {
        let mut out = Vec::new();
        for entry in self.logs.iter().values() {
            out.push(serde_json::from_slice(&entry.map_err(err)?).map_err(err)?);
        }
        Ok(out)
    }

    pub fn flush(&self) -> Result<(), StateError> {
        self.db.flush().map_err(err)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provision::log::{Action, Identity, Status};

    fn entry(n: usize) -> LogEntry {
        let identity =
            Identity { id: format!("u{n}"), display_name: format!("User {n}"), identity_type: "User".into() };
        LogEntry {
            id: n.to_string(),
            activity_date_time: String::new(),
            job_id: "job".into(),
            cycle_id: "c".into(),
            change_id: n.to_string(),
            provisioning_action: Action::Create,
            status: Status::Success,
            duration_in_milliseconds: 0,
            source_identity: identity.clone(),
            target_identity: identity,
            error_information: None,
            provisioning_steps: Vec::new(),
            modified_properties: Vec::new(),
        }
    }

    #[test]
    fn pruning_keeps_the_newest_records() {
        let state = JobState::temporary().unwrap();
        for n in 0..10 {
            state.append_log(&entry(n)).unwrap();
        }
        assert_eq!(state.prune_logs(20).unwrap(), 0, "nothing to drop under the limit");
        assert_eq!(state.prune_logs(4).unwrap(), 6);
        let ids: Vec<String> = state.logs().unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["6", "7", "8", "9"]);
        assert_eq!(state.prune_logs(4).unwrap(), 0);
    }

    #[test]
    fn escrows_count_attempts_from_the_first_failure() {
        let state = JobState::temporary().unwrap();
        state.escrow(ObjectKind::User, "a", "t1", "Timeout", "slow").unwrap();
        state.escrow(ObjectKind::User, "a", "t2", "InternalServerError", "boom").unwrap();
        let escrows = state.escrows().unwrap();
        assert_eq!(escrows.len(), 1);
        let e = &escrows[0].1;
        assert_eq!((e.first_failure.as_str(), e.attempts, e.error_code.as_str()), ("t1", 2, "InternalServerError"));
        state.release_escrow(ObjectKind::User, "a").unwrap();
        assert!(state.escrows().unwrap().is_empty());
    }
}
