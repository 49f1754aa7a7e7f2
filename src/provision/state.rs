//! Persistent job state in sled: object links (the connector data store), the watermark of
//! source fingerprints, counters and provisioning logs. It survives restarts, so a killed
//! run resumes without duplicate creates.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::engine::CycleReport;
use super::health::Quarantine;
use super::log::LogEntry;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot open the job state in {path} (is another scimlab process using it?): {source}")]
    Open { path: String, source: sled::Error },
    #[error("job state storage failed while {doing}: {source}")]
    Storage { doing: &'static str, source: sled::Error },
    #[error("job state record of {what} does not decode: {source}")]
    Decode { what: &'static str, source: serde_json::Error },
    #[error("job state record of {what} does not encode: {source}")]
    Encode { what: &'static str, source: serde_json::Error },
}

fn storage(doing: &'static str) -> impl FnOnce(sled::Error) -> StateError {
    move |source| StateError::Storage { doing, source }
}

fn decode(what: &'static str) -> impl FnOnce(serde_json::Error) -> StateError {
    move |source| StateError::Decode { what, source }
}

fn encode(what: &'static str) -> impl FnOnce(serde_json::Error) -> StateError {
    move |source| StateError::Encode { what, source }
}

/// Everything the job remembers besides links, watermarks, escrows and logs, as one typed
/// record (serialized here and nowhere else).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct JobMeta {
    /// Paused by an administrator: no cycle runs until resumed.
    pub paused: bool,
    /// Disabled after four weeks in quarantine, with the reason.
    pub disabled: Option<String>,
    pub quarantine: Option<Quarantine>,
    pub initial_cycle_complete: bool,
    /// The configuration (scope and mappings) the last cycle ran with.
    pub config_hash: Option<String>,
    /// `allow-deletions` was given: the next cycle carries out held removals.
    pub deletions_allowed: bool,
    /// Disables and deletes the deletion threshold holds back right now.
    pub held_removals: usize,
    pub last_cycle: Option<CycleReport>,
    pub last_error: Option<String>,
}

const META_KEY: &[u8] = b"job";

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
    /// The key of the next log record: dense and increasing across restarts.
    next_log: Arc<AtomicU64>,
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

/// Provisioning logs are kept this long, as Entra keeps them (docs/entra-behaviour.md §6);
/// nothing younger is ever dropped.
pub const LOG_RETENTION: time::Duration = time::Duration::days(30);

impl JobState {
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(STATE_CACHE_BYTES)
            .open()
            .map_err(|source| StateError::Open { path: dir.display().to_string(), source })?;
        Self::from_db(db)
    }

    pub fn temporary() -> Result<Self, StateError> {
        let db = sled::Config::new().temporary(true).cache_capacity(STATE_CACHE_BYTES).open();
        Self::from_db(db.map_err(|source| StateError::Open { path: "(temporary)".into(), source })?)
    }

    fn from_db(db: sled::Db) -> Result<Self, StateError> {
        let tree = |name: &str| db.open_tree(name).map_err(storage("opening its trees"));
        let logs = tree("logs")?;
        let next_log = match logs.last().map_err(storage("reading the newest log record"))? {
            Some((key, _)) => log_seq(&key) + 1,
            None => 0,
        };
        let state = JobState {
            links: tree("links")?,
            watermark: tree("watermark")?,
            meta: tree("meta")?,
            escrows: tree("escrows")?,
            logs,
            next_log: Arc::new(AtomicU64::new(next_log)),
            db,
        };
        state.migrate_meta()?;
        Ok(state)
    }

    /// State written before the metadata was one record kept it as loose string keys.
    fn migrate_meta(&self) -> Result<(), StateError> {
        if self.meta.contains_key(META_KEY).map_err(storage("reading the job record"))? {
            return Ok(());
        }
        let get = |key: &str| -> Result<Option<String>, StateError> {
            Ok(self.meta.get(key).map_err(storage("reading old job keys"))?.map(|v| String::from_utf8_lossy(&v).into()))
        };
        let meta = JobMeta {
            paused: get("paused")?.as_deref() == Some("true"),
            disabled: get("disabled")?,
            quarantine: get("quarantine")?.and_then(|q| serde_json::from_str(&q).ok()),
            initial_cycle_complete: get("initial_done")?.as_deref() == Some("true"),
            config_hash: get("config_hash")?,
            deletions_allowed: get("allow_deletions")?.as_deref() == Some("true"),
            held_removals: 0,
            last_cycle: get("last_cycle")?.and_then(|c| serde_json::from_str(&c).ok()),
            last_error: get("last_error")?,
        };
        self.meta.clear().map_err(storage("replacing old job keys"))?;
        self.write_meta(&meta)
    }

    /// The job's metadata.
    pub fn meta(&self) -> Result<JobMeta, StateError> {
        match self.meta.get(META_KEY).map_err(storage("reading the job record"))? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(decode("the job")),
            None => Ok(JobMeta::default()),
        }
    }

    /// Changes the metadata (read, change, write; one writer per job).
    pub fn update_meta(&self, change: impl FnOnce(&mut JobMeta)) -> Result<JobMeta, StateError> {
        let mut meta = self.meta()?;
        change(&mut meta);
        self.write_meta(&meta)?;
        Ok(meta)
    }

    fn write_meta(&self, meta: &JobMeta) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(meta).map_err(encode("the job"))?;
        self.meta.insert(META_KEY, bytes).map_err(storage("writing the job record"))?;
        Ok(())
    }

    fn key(kind: ObjectKind, source_id: &str) -> Vec<u8> {
        format!("{}{source_id}", kind.prefix()).into_bytes()
    }

    pub fn link(&self, kind: ObjectKind, source_id: &str) -> Result<Option<Link>, StateError> {
        match self.links.get(Self::key(kind, source_id)).map_err(storage("reading a link"))? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(decode("a link")),
            None => Ok(None),
        }
    }

    /// Stores a link durably: a create is remembered before anything else happens.
    pub fn set_link(&self, source_id: &str, link: &Link) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(link).map_err(encode("a link"))?;
        self.links.insert(Self::key(link.kind, source_id), bytes).map_err(storage("writing a link"))?;
        self.links.flush().map_err(storage("writing a link"))?;
        Ok(())
    }

    pub fn remove_link(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError> {
        self.links.remove(Self::key(kind, source_id)).map_err(storage("removing a link"))?;
        self.links.flush().map_err(storage("removing a link"))?;
        Ok(())
    }

    /// All links of a kind: (source id, link).
    pub fn links(&self, kind: ObjectKind) -> Result<Vec<(String, Link)>, StateError> {
        let mut out = Vec::new();
        for entry in self.links.scan_prefix(kind.prefix()) {
            let (k, v) = entry.map_err(storage("listing links"))?;
            let id = String::from_utf8_lossy(&k[2..]).to_string();
            out.push((id, serde_json::from_slice(&v).map_err(decode("a link"))?));
        }
        Ok(out)
    }

    /// The fingerprint a source object had when last processed successfully.
    pub fn watermark(&self, kind: ObjectKind, source_id: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .watermark
            .get(Self::key(kind, source_id))
            .map_err(storage("reading a watermark"))?
            .map(|v| String::from_utf8_lossy(&v).to_string()))
    }

    pub fn set_watermark(&self, kind: ObjectKind, source_id: &str, fp: &str) -> Result<(), StateError> {
        self.watermark.insert(Self::key(kind, source_id), fp.as_bytes()).map_err(storage("writing a watermark"))?;
        Ok(())
    }

    pub fn remove_watermark(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError> {
        self.watermark.remove(Self::key(kind, source_id)).map_err(storage("removing a watermark"))?;
        Ok(())
    }

    /// Source ids with a watermark (objects seen in earlier cycles).
    pub fn watermarked(&self, kind: ObjectKind) -> Result<Vec<String>, StateError> {
        let mut out = Vec::new();
        for entry in self.watermark.scan_prefix(kind.prefix()).keys() {
            let k = entry.map_err(storage("listing watermarks"))?;
            out.push(String::from_utf8_lossy(&k[2..]).to_string());
        }
        Ok(out)
    }

    /// Forgets the watermark (the next cycle is a full one); links are kept, as Entra's
    /// "Restart provisioning" does.
    pub fn clear_watermark(&self) -> Result<(), StateError> {
        self.watermark.clear().map_err(storage("clearing the watermark"))?;
        self.update_meta(|m| m.initial_cycle_complete = false)?;
        Ok(())
    }

    /// Forgets everything: links, watermark, escrows, metadata (logs are kept).
    pub fn clear_all(&self) -> Result<(), StateError> {
        self.links.clear().map_err(storage("clearing links"))?;
        self.escrows.clear().map_err(storage("clearing escrows"))?;
        self.watermark.clear().map_err(storage("clearing the watermark"))?;
        self.write_meta(&JobMeta::default())?;
        self.flush()
    }

    pub fn append_log(&self, entry: &LogEntry) -> Result<(), StateError> {
        let seq = self.next_log.fetch_add(1, Ordering::SeqCst);
        let bytes = serde_json::to_vec(entry).map_err(encode("a log record"))?;
        self.logs.insert(seq.to_be_bytes(), bytes).map_err(storage("appending a log record"))?;
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
        let previous: Option<Escrow> = match self.escrows.get(&key).map_err(storage("recording an escrow"))? {
            Some(bytes) => Some(serde_json::from_slice(&bytes).map_err(decode("an escrow"))?),
            None => None,
        };
        let entry = Escrow {
            first_failure: previous.as_ref().map_or_else(|| now.to_string(), |p| p.first_failure.clone()),
            attempts: previous.map_or(1, |p| p.attempts + 1),
            error_code: code.to_string(),
            reason: reason.to_string(),
        };
        self.escrows
            .insert(key, serde_json::to_vec(&entry).map_err(encode("an escrow"))?)
            .map_err(storage("recording an escrow"))?;
        Ok(())
    }

    pub fn release_escrow(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError> {
        self.escrows.remove(Self::key(kind, source_id)).map_err(storage("releasing an escrow"))?;
        Ok(())
    }

    pub fn escrows(&self) -> Result<Vec<(String, Escrow)>, StateError> {
        let mut out = Vec::new();
        for entry in self.escrows.iter() {
            let (k, v) = entry.map_err(storage("listing escrows"))?;
            out.push((
                String::from_utf8_lossy(&k).to_string(),
                serde_json::from_slice(&v).map_err(decode("an escrow"))?,
            ));
        }
        Ok(out)
    }

    pub fn clear_escrows(&self) -> Result<(), StateError> {
        self.escrows.clear().map_err(storage("clearing escrows"))
    }

    pub fn count_links(&self, kind: ObjectKind) -> usize {
        self.links.scan_prefix(kind.prefix()).count()
    }

    /// Drops the records older than `max_age` (the oldest come first, so the scan stops at
    /// the first younger one); a record whose time does not parse counts as young.
    pub fn prune_logs(&self, now: OffsetDateTime, max_age: time::Duration) -> Result<usize, StateError> {
        let cutoff = now - max_age;
        let mut removed = 0;
        for entry in self.logs.iter() {
            let (key, value) = entry.map_err(storage("reading log records"))?;
            let entry: LogEntry = serde_json::from_slice(&value).map_err(decode("a log record"))?;
            match crate::clock::parse_rfc3339(&entry.activity_date_time) {
                Some(at) if at < cutoff => {
                    self.logs.remove(key).map_err(storage("dropping an old log record"))?;
                    removed += 1;
                }
                _ => break,
            }
        }
        Ok(removed)
    }

    pub fn logs(&self) -> Result<Vec<LogEntry>, StateError> {
        let mut out = Vec::new();
        for entry in self.logs.iter().values() {
            out.push(
                serde_json::from_slice(&entry.map_err(storage("reading log records"))?)
                    .map_err(decode("a log record"))?,
            );
        }
        Ok(out)
    }

    pub fn flush(&self) -> Result<(), StateError> {
        self.db.flush().map_err(storage("flushing to disk"))?;
        Ok(())
    }
}

/// The sequence number of a log key.
fn log_seq(key: &[u8]) -> u64 {
    key.try_into().map(u64::from_be_bytes).unwrap_or(0)
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
    fn pruning_drops_only_records_older_than_the_retention() {
        let state = JobState::temporary().unwrap();
        let start = time::macros::datetime!(2026-01-01 00:00 UTC);
        for n in 0..10 {
            let mut e = entry(n);
            e.activity_date_time = crate::clock::rfc3339(start + time::Duration::days(n as i64));
            state.append_log(&e).unwrap();
        }
        let now = start + time::Duration::days(9);
        assert_eq!(state.prune_logs(now, time::Duration::days(30)).unwrap(), 0, "all younger than 30 days");
        assert_eq!(state.prune_logs(now, time::Duration::days(4)).unwrap(), 5);
        let ids: Vec<String> = state.logs().unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["5", "6", "7", "8", "9"]);
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
