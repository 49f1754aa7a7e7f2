//! Job state in a sled database: one tree each for links, watermarks, escrows, logs and the
//! job's metadata record.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;
use time::OffsetDateTime;

use super::{decode, encode, Escrow, JobMeta, JobStore, Link, ObjectKind, StateError};
use crate::provision::log::LogEntry;

fn storage(doing: &'static str) -> impl FnOnce(sled::Error) -> StateError {
    move |source| StateError::Storage { doing, source: Box::new(source) }
}

const META_KEY: &[u8] = b"job";
/// Beside the job record, so clearing the state keeps it.
const CONFIGURATION_KEY: &[u8] = b"configuration";

/// The engine's state is small per object; sled's default 1 GiB cache is far too much.
const STATE_CACHE_BYTES: u64 = 32 * 1024 * 1024;

pub struct SledJobStore {
    db: sled::Db,
    links: sled::Tree,
    watermark: sled::Tree,
    meta: sled::Tree,
    logs: sled::Tree,
    escrows: sled::Tree,
    /// The key of the next log record: dense and increasing across restarts.
    next_log: Arc<AtomicU64>,
    /// Link writes made, and how many of them a finished flush covers (see [`JobStore::settle`]).
    links_written: AtomicU64,
    links_durable: AtomicU64,
    /// Held by the one settle whose flush is running; the others wait here, not on a thread.
    settling: tokio::sync::Mutex<()>,
    /// Links per kind (users, groups): counted at the first status read, then kept by every
    /// link write, which holds this lock, so status polls do not walk every link (a walk
    /// over 100k links was a quarter of `provision run`'s time, docs/perf.md).
    link_counts: std::sync::Mutex<Option<[usize; 2]>>,
}

fn count_slot(kind: ObjectKind) -> usize {
    match kind {
        ObjectKind::User => 0,
        ObjectKind::Group => 1,
    }
}

impl SledJobStore {
    /// The link counts' lock. Poisoning needs a panic inside sled between a link write and
    /// its count; the count is then at most one off until the next start.
    fn lock_link_counts(&self) -> std::sync::MutexGuard<'_, Option<[usize; 2]>> {
        self.link_counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn open(dir: &Path) -> Result<Self, StateError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(STATE_CACHE_BYTES)
            .open()
            .map_err(|source| StateError::Open { path: dir.display().to_string(), source: Box::new(source) })?;
        Self::from_db(db)
    }

    pub fn temporary() -> Result<Self, StateError> {
        let db = sled::Config::new().temporary(true).cache_capacity(STATE_CACHE_BYTES).open();
        Self::from_db(db.map_err(|source| StateError::Open { path: "(temporary)".into(), source: Box::new(source) })?)
    }

    fn from_db(db: sled::Db) -> Result<Self, StateError> {
        let tree = |name: &str| db.open_tree(name).map_err(storage("opening its trees"));
        let logs = tree("logs")?;
        let next_log = match logs.last().map_err(storage("reading the newest log record"))? {
            Some((key, _)) => log_seq(&key) + 1,
            None => 0,
        };
        let state = SledJobStore {
            links: tree("links")?,
            watermark: tree("watermark")?,
            meta: tree("meta")?,
            escrows: tree("escrows")?,
            logs,
            next_log: Arc::new(AtomicU64::new(next_log)),
            links_written: AtomicU64::new(0),
            links_durable: AtomicU64::new(0),
            settling: tokio::sync::Mutex::new(()),
            link_counts: Default::default(),
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
            ..JobMeta::default()
        };
        self.meta.clear().map_err(storage("replacing old job keys"))?;
        self.write_meta(&meta)
    }

    fn key(kind: ObjectKind, source_id: &str) -> Vec<u8> {
        format!("{}{source_id}", kind.prefix()).into_bytes()
    }
}

impl JobStore for SledJobStore {
    /// The job's metadata.
    fn meta(&self) -> Result<JobMeta, StateError> {
        match self.meta.get(META_KEY).map_err(storage("reading the job record"))? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(decode("the job")),
            None => Ok(JobMeta::default()),
        }
    }

    fn write_meta(&self, meta: &JobMeta) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(meta).map_err(encode("the job"))?;
        self.meta.insert(META_KEY, bytes).map_err(storage("writing the job record"))?;
        Ok(())
    }

    fn link(&self, kind: ObjectKind, source_id: &str) -> Result<Option<Link>, StateError> {
        match self.links.get(Self::key(kind, source_id)).map_err(storage("reading a link"))? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(decode("a link")),
            None => Ok(None),
        }
    }

    fn set_link(&self, source_id: &str, link: &Link) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(link).map_err(encode("a link"))?;
        let mut counts = self.lock_link_counts();
        let previous = self.links.insert(Self::key(link.kind, source_id), bytes).map_err(storage("writing a link"))?;
        if let (Some(counts), None) = (counts.as_mut(), previous) {
            counts[count_slot(link.kind)] += 1;
        }
        self.links_written.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    fn remove_link(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError> {
        let mut counts = self.lock_link_counts();
        let removed = self.links.remove(Self::key(kind, source_id)).map_err(storage("removing a link"))?;
        if let (Some(counts), Some(_)) = (counts.as_mut(), removed) {
            counts[count_slot(kind)] -= 1;
        }
        self.links_written.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// One flush for every link written so far, run by one settle at a time (group commit).
    /// sled's flush covers every write completed before it starts, so a settle that waited
    /// for the running flush finds its links covered, or starts the next flush for all
    /// the links written meanwhile. The others wait on the lock, not on a blocked thread
    /// each. The flush runs on tokio's blocking pool: sled's `flush_async` runs it on
    /// sled's own I/O pool, where it can wait on a log write queued behind it (seen as a
    /// deadlock at 100k users with the server in the same process).
    fn settle(&self) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(async move {
            let mine = self.links_written.load(Ordering::Acquire);
            if self.links_durable.load(Ordering::Acquire) >= mine {
                return Ok(());
            }
            let _turn = self.settling.lock().await;
            if self.links_durable.load(Ordering::Acquire) >= mine {
                return Ok(());
            }
            // Objects whose answers are already in write their links first and share this flush.
            tokio::task::yield_now().await;
            let written = self.links_written.load(Ordering::Acquire);
            let db = self.db.clone();
            let flushed = tokio::task::spawn_blocking(move || db.flush()).await;
            let flushed = flushed.map_err(|e| StateError::Storage {
                doing: "writing links to disk",
                source: Box::new(std::io::Error::other(e)),
            })?;
            flushed.map_err(storage("writing links to disk"))?;
            self.links_durable.fetch_max(written, Ordering::AcqRel);
            Ok(())
        })
    }

    /// All links of a kind: (source id, link).
    fn links(&self, kind: ObjectKind) -> Result<Vec<(String, Link)>, StateError> {
        let mut out = Vec::new();
        for entry in self.links.scan_prefix(kind.prefix()) {
            let (k, v) = entry.map_err(storage("listing links"))?;
            let id = String::from_utf8_lossy(&k[2..]).to_string();
            out.push((id, serde_json::from_slice(&v).map_err(decode("a link"))?));
        }
        Ok(out)
    }

    /// The fingerprint a source object had when last processed successfully.
    fn watermark(&self, kind: ObjectKind, source_id: &str) -> Result<Option<String>, StateError> {
        Ok(self
            .watermark
            .get(Self::key(kind, source_id))
            .map_err(storage("reading a watermark"))?
            .map(|v| String::from_utf8_lossy(&v).to_string()))
    }

    fn set_watermark(&self, kind: ObjectKind, source_id: &str, fp: &str) -> Result<(), StateError> {
        self.watermark.insert(Self::key(kind, source_id), fp.as_bytes()).map_err(storage("writing a watermark"))?;
        Ok(())
    }

    fn remove_watermark(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError> {
        self.watermark.remove(Self::key(kind, source_id)).map_err(storage("removing a watermark"))?;
        Ok(())
    }

    /// Source ids with a watermark (objects seen in earlier cycles).
    fn watermarks(&self, kind: ObjectKind) -> Result<Vec<(String, String)>, StateError> {
        let mut out = Vec::new();
        for entry in self.watermark.scan_prefix(kind.prefix()) {
            let (k, v) = entry.map_err(storage("listing watermarks"))?;
            out.push((String::from_utf8_lossy(&k[2..]).to_string(), String::from_utf8_lossy(&v).to_string()));
        }
        Ok(out)
    }

    fn clear_watermarks(&self) -> Result<(), StateError> {
        self.watermark.clear().map_err(storage("clearing the watermark"))
    }

    /// Forgets everything: links, watermark, escrows, metadata (logs are kept).
    fn clear_all(&self) -> Result<(), StateError> {
        {
            let mut counts = self.lock_link_counts();
            self.links.clear().map_err(storage("clearing links"))?;
            *counts = Some([0, 0]);
        }
        self.escrows.clear().map_err(storage("clearing escrows"))?;
        self.watermark.clear().map_err(storage("clearing the watermark"))?;
        self.write_meta(&JobMeta::default())?;
        JobStore::flush(self)
    }

    fn configuration(&self) -> Result<Option<Value>, StateError> {
        match self.meta.get(CONFIGURATION_KEY).map_err(storage("reading the job configuration"))? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(decode("the job configuration")),
            None => Ok(None),
        }
    }

    fn set_configuration(&self, spec: Option<&Value>) -> Result<(), StateError> {
        match spec {
            Some(spec) => {
                let bytes = serde_json::to_vec(spec).map_err(encode("the job configuration"))?;
                self.meta.insert(CONFIGURATION_KEY, bytes).map_err(storage("writing the job configuration"))?;
            }
            None => {
                self.meta.remove(CONFIGURATION_KEY).map_err(storage("removing the job configuration"))?;
            }
        }
        JobStore::flush(self)
    }

    fn append_log(&self, entry: &LogEntry) -> Result<(), StateError> {
        let seq = self.next_log.fetch_add(1, Ordering::SeqCst);
        let bytes = serde_json::to_vec(entry).map_err(encode("a log record"))?;
        self.logs.insert(seq.to_be_bytes(), bytes).map_err(storage("appending a log record"))?;
        Ok(())
    }

    fn escrow_of(&self, kind: ObjectKind, source_id: &str) -> Result<Option<Escrow>, StateError> {
        match self.escrows.get(Self::key(kind, source_id)).map_err(storage("reading an escrow"))? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes).map_err(decode("an escrow"))?)),
            None => Ok(None),
        }
    }

    fn put_escrow(&self, kind: ObjectKind, source_id: &str, escrow: &Escrow) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(escrow).map_err(encode("an escrow"))?;
        self.escrows.insert(Self::key(kind, source_id), bytes).map_err(storage("recording an escrow"))?;
        Ok(())
    }

    fn release_escrow(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError> {
        self.escrows.remove(Self::key(kind, source_id)).map_err(storage("releasing an escrow"))?;
        Ok(())
    }

    fn escrows(&self) -> Result<Vec<(String, Escrow)>, StateError> {
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

    fn clear_escrows(&self) -> Result<(), StateError> {
        self.escrows.clear().map_err(storage("clearing escrows"))
    }

    fn count_links(&self, kind: ObjectKind) -> Result<usize, StateError> {
        let mut counts = self.lock_link_counts();
        let counts = match *counts {
            Some(counts) => counts,
            None => *counts
                .insert([ObjectKind::User, ObjectKind::Group].map(|k| self.links.scan_prefix(k.prefix()).count())),
        };
        Ok(counts[count_slot(kind)])
    }

    /// Drops the records older than `max_age` (the oldest come first, so the scan stops at
    /// the first younger one); a record whose time does not parse counts as young.
    fn prune_logs(&self, now: OffsetDateTime, max_age: time::Duration) -> Result<usize, StateError> {
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

    fn logs(&self) -> Result<Vec<LogEntry>, StateError> {
        let mut out = Vec::new();
        for entry in self.logs.iter().values() {
            out.push(
                serde_json::from_slice(&entry.map_err(storage("reading log records"))?)
                    .map_err(decode("a log record"))?,
            );
        }
        Ok(out)
    }

    fn flush(&self) -> Result<(), StateError> {
        self.db.flush().map_err(storage("flushing to disk"))?;
        Ok(())
    }
}

/// The sequence number of a log key.
fn log_seq(key: &[u8]) -> u64 {
    key.try_into().map(u64::from_be_bytes).unwrap_or(0)
}
