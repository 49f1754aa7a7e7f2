//! Persistent job state: object links (the connector data store), the watermark of source
//! fingerprints, escrows, the job's metadata and provisioning logs. It survives restarts,
//! so a killed run resumes without duplicate creates.
//!
//! The engine uses [`JobState`]; where the state lives is a [`JobStore`] behind it: sled
//! ([`sled_store::SledJobStore`]) or, for replicas sharing a job, PostgreSQL
//! ([`postgres_store::PgJobStore`]).

mod postgres_pending;
mod postgres_store;
mod sled_store;

pub use postgres_store::{JobLease, PgJobStore};

use std::path::Path;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::engine::CycleReport;
use super::health::Quarantine;
use super::log::LogEntry;

/// A storage backend's own error.
pub type BackendError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot open the job state in {path} (is another scimlab process using it?): {source}")]
    Open { path: String, source: BackendError },
    #[error("job state storage failed while {doing}: {source}")]
    Storage { doing: &'static str, source: BackendError },
    #[error("job state record of {what} does not decode: {source}")]
    Decode { what: &'static str, source: serde_json::Error },
    #[error("job state record of {what} does not encode: {source}")]
    Encode { what: &'static str, source: serde_json::Error },
}

pub(crate) fn decode(what: &'static str) -> impl FnOnce(serde_json::Error) -> StateError {
    move |source| StateError::Decode { what, source }
}

pub(crate) fn encode(what: &'static str) -> impl FnOnce(serde_json::Error) -> StateError {
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
    /// Outcomes of every cycle since the job started (or was restarted with cleared state).
    pub totals: Totals,
    /// When a cycle last ended without a failure.
    pub last_successful_cycle_at: Option<String>,
    /// When the job first reached steady state (initial cycle done, a cycle without failures).
    pub steady_state_at: Option<String>,
    /// The last cycles, oldest first (at most [`RECENT_CYCLES`]), for the admin page's chart.
    pub recent_cycles: Vec<CyclePoint>,
}

/// How many finished cycles the job remembers for its history.
pub const RECENT_CYCLES: usize = 20;

/// One finished cycle, as the history keeps it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CyclePoint {
    pub cycle_id: String,
    pub initial: bool,
    pub started_at: String,
    pub processed: usize,
    pub failed: usize,
    pub duration_ms: u64,
}

impl JobMeta {
    /// Adds a finished cycle to the history, dropping the oldest beyond [`RECENT_CYCLES`].
    pub fn remember_cycle(&mut self, r: &CycleReport) {
        self.recent_cycles.push(CyclePoint {
            cycle_id: r.cycle_id.clone(),
            initial: r.initial,
            started_at: r.started_at.clone(),
            processed: r.processed,
            failed: r.failed,
            duration_ms: r.duration_ms,
        });
        let excess = self.recent_cycles.len().saturating_sub(RECENT_CYCLES);
        self.recent_cycles.drain(..excess);
    }
}

/// Statistics to date, as the portal's provisioning page shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Totals {
    pub cycles: usize,
    pub created: usize,
    pub updated: usize,
    pub disabled: usize,
    pub deleted: usize,
    pub skipped: usize,
    pub failed: usize,
    pub references_updated: usize,
    pub reference_failed: usize,
}

impl Totals {
    pub fn add(&mut self, r: &CycleReport) {
        self.cycles += 1;
        self.created += r.created;
        self.updated += r.updated;
        self.disabled += r.disabled;
        self.deleted += r.deleted;
        self.skipped += r.skipped;
        self.failed += r.failed;
        self.references_updated += r.references_updated;
        self.reference_failed += r.reference_failed;
    }
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
    /// Disabled because it was unassigned: no longer managed, so a later deletion in the
    /// source sends no DELETE (docs/entra-behaviour.md §5.4). Assigning it again manages it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unmanaged: bool,
}

/// Where a job's state is kept. Every method is one read or one write; the rules on top
/// (escrow counting, what a restart clears) live in [`JobState`].
pub trait JobStore: Send + Sync {
    fn meta(&self) -> Result<JobMeta, StateError>;
    fn write_meta(&self, meta: &JobMeta) -> Result<(), StateError>;
    fn link(&self, kind: ObjectKind, source_id: &str) -> Result<Option<Link>, StateError>;
    /// Stores a link, in order with every other write; it is durable once [`Self::settle`]
    /// returns (or at the next flush).
    fn set_link(&self, source_id: &str, link: &Link) -> Result<(), StateError>;
    fn remove_link(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError>;
    /// Waits until every link written so far is on disk. The engine settles each object
    /// before it counts, watermarks or logs it, so a create is remembered before anything
    /// else happens; concurrent objects share the disk flush (group commit). Stores that
    /// commit each link as it is written keep this default.
    fn settle(&self) -> BoxFuture<'_, Result<(), StateError>> {
        Box::pin(std::future::ready(Ok(())))
    }
    /// All links of a kind: (source id, link).
    fn links(&self, kind: ObjectKind) -> Result<Vec<(String, Link)>, StateError>;
    fn count_links(&self, kind: ObjectKind) -> Result<usize, StateError>;
    /// The fingerprint a source object had when last processed successfully.
    fn watermark(&self, kind: ObjectKind, source_id: &str) -> Result<Option<String>, StateError>;
    fn set_watermark(&self, kind: ObjectKind, source_id: &str, fp: &str) -> Result<(), StateError>;
    fn remove_watermark(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError>;
    /// Every watermark of a kind, (source id, fingerprint), read in one pass: the plan
    /// compares the whole source against them.
    fn watermarks(&self, kind: ObjectKind) -> Result<Vec<(String, String)>, StateError>;
    fn clear_watermarks(&self) -> Result<(), StateError>;
    fn escrow_of(&self, kind: ObjectKind, source_id: &str) -> Result<Option<Escrow>, StateError>;
    fn put_escrow(&self, kind: ObjectKind, source_id: &str, escrow: &Escrow) -> Result<(), StateError>;
    fn release_escrow(&self, kind: ObjectKind, source_id: &str) -> Result<(), StateError>;
    /// Every escrow: (kind-prefixed source id, escrow).
    fn escrows(&self) -> Result<Vec<(String, Escrow)>, StateError>;
    fn clear_escrows(&self) -> Result<(), StateError>;
    /// Forgets links, watermarks, escrows and metadata (logs and the configuration are kept).
    fn clear_all(&self) -> Result<(), StateError>;
    /// The job file as last changed over the Graph API (schema or secrets), which then
    /// replaces the file's own mappings and settings across restarts.
    fn configuration(&self) -> Result<Option<Value>, StateError>;
    fn set_configuration(&self, spec: Option<&Value>) -> Result<(), StateError>;
    /// Appends a record after every earlier one, across restarts.
    fn append_log(&self, entry: &LogEntry) -> Result<(), StateError>;
    /// Every record, oldest first.
    fn logs(&self) -> Result<Vec<LogEntry>, StateError>;
    /// Drops the records older than `max_age`; returns how many.
    fn prune_logs(&self, now: OffsetDateTime, max_age: time::Duration) -> Result<usize, StateError>;
    fn flush(&self) -> Result<(), StateError>;
    /// Told when this process becomes the only writer of the job's state (it holds the
    /// job's lease) and when it stops being it; a shared store may then serve reads from
    /// memory. Local stores are always exclusive.
    fn hold_exclusively(&self, _exclusive: bool) -> Result<(), StateError> {
        Ok(())
    }
}

/// A job's state, over whichever [`JobStore`] keeps it. Cheap to clone.
#[derive(Clone)]
pub struct JobState(Arc<dyn JobStore>);

impl std::ops::Deref for JobState {
    type Target = dyn JobStore;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
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

/// Provisioning logs are kept this long, as Entra keeps them (docs/entra-behaviour.md §6);
/// nothing younger is ever dropped.
pub const LOG_RETENTION: time::Duration = time::Duration::days(30);

impl JobState {
    /// The state kept in sled under `dir`.
    pub fn open(dir: &Path) -> Result<Self, StateError> {
        Ok(JobState(Arc::new(sled_store::SledJobStore::open(dir)?)))
    }

    /// State that lives as long as the process (on-demand checks, the validator's flow).
    pub fn temporary() -> Result<Self, StateError> {
        Ok(JobState(Arc::new(sled_store::SledJobStore::temporary()?)))
    }

    /// A state over any store.
    pub fn with_store(store: Arc<dyn JobStore>) -> Self {
        JobState(store)
    }

    /// Changes the metadata (read, change, write; one writer per job).
    pub fn update_meta(&self, change: impl FnOnce(&mut JobMeta)) -> Result<JobMeta, StateError> {
        let mut meta = self.0.meta()?;
        change(&mut meta);
        self.0.write_meta(&meta)?;
        Ok(meta)
    }

    /// Forgets the watermark (the next cycle is a full one); links are kept, as Entra's
    /// "Restart provisioning" does.
    pub fn clear_watermark(&self) -> Result<(), StateError> {
        self.0.clear_watermarks()?;
        self.update_meta(|m| m.initial_cycle_complete = false)?;
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
        let previous = self.0.escrow_of(kind, source_id)?;
        let entry = Escrow {
            first_failure: previous.as_ref().map_or_else(|| now.to_string(), |p| p.first_failure.clone()),
            attempts: previous.map_or(1, |p| p.attempts + 1),
            error_code: code.to_string(),
            reason: reason.to_string(),
        };
        self.0.put_escrow(kind, source_id, &entry)
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
    fn link_counts_follow_every_write_after_the_first_count() {
        let state = JobState::temporary().unwrap();
        let link = |kind| Link {
            kind,
            target_id: "t".into(),
            display: "d".into(),
            exported: Map::new(),
            members: Vec::new(),
            disabled: false,
            created: true,
            unmanaged: false,
        };
        state.set_link("before", &link(ObjectKind::User)).unwrap();
        let counts =
            |s: &JobState| (s.count_links(ObjectKind::User).unwrap(), s.count_links(ObjectKind::Group).unwrap());
        assert_eq!(counts(&state), (1, 0), "the first count walks the links");
        state.set_link("a", &link(ObjectKind::User)).unwrap();
        state.set_link("a", &link(ObjectKind::User)).unwrap();
        state.set_link("g", &link(ObjectKind::Group)).unwrap();
        assert_eq!(counts(&state), (2, 1), "a rewritten link counts once");
        state.remove_link(ObjectKind::User, "a").unwrap();
        state.remove_link(ObjectKind::User, "never-linked").unwrap();
        assert_eq!(counts(&state), (1, 1));
        state.clear_all().unwrap();
        assert_eq!(counts(&state), (0, 0));
        state.set_link("b", &link(ObjectKind::User)).unwrap();
        assert_eq!(counts(&state), (1, 0));
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
