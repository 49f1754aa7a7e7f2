//! A cycle from start to end: read the source, plan, then execute the plan phase by phase
//! (users, source deletions, managers, groups, memberships, group deletions), and record
//! the outcome (docs/entra-behaviour.md §5.2).

use std::time::Instant;

use futures_util::stream::{self, Stream, StreamExt};
use serde_json::{json, Map, Value};
use tracing::Instrument;

use super::plan::{self, CyclePlan, PlanInput, Work};
use super::report::{CycleReport, Outcome, Progress};
use super::{Engine, EngineError};
use crate::clock::rfc3339;
use crate::provision::directory::{display_name, Directory};
use crate::provision::health::{self, QuarantineReason, Transition};
use crate::provision::log::{Action, Status};
use crate::provision::state::ObjectKind;

/// How many processed objects may wait per request slot for their links to reach disk. They
/// hold their parsed source object; the flush they wait on takes a few milliseconds, in which
/// a slot finishes about one object, so four per slot keeps the request slots busy.
const SETTLING_PER_SLOT: usize = 4;

impl Engine {
    /// Runs one cycle: initial if the job never completed one or its configuration changed,
    /// otherwise incremental (only objects whose source changed since the watermark).
    #[tracing::instrument(name = "cycle", skip_all, fields(job = %self.job.spec.name, cycle_id = tracing::field::Empty))]
    pub async fn run_cycle(&mut self, progress: &dyn Progress) -> Result<CycleReport, EngineError> {
        let meta = self.state.meta()?;
        if let Some(reason) = meta.disabled {
            return Err(EngineError::Disabled(reason));
        }
        if meta.paused || self.client.gate.is_paused() {
            self.skipped_while_paused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(EngineError::Paused);
        }
        match self.cycle(progress).await {
            Ok(report) => {
                self.after_cycle(&report).await?;
                Ok(report)
            }
            Err(e) => {
                self.state.update_meta(|m| m.last_error = Some(e.to_string()))?;
                let at = rfc3339(self.clock.now());
                self.notifier.send("cycleFailed", &at, json!({"error": e.to_string()})).await;
                Err(e)
            }
        }
    }

    async fn cycle(&mut self, progress: &dyn Progress) -> Result<CycleReport, EngineError> {
        let started = Instant::now();
        let started_at = rfc3339(self.clock.now());
        let dir = self.load_source().await?;
        let meta = self.state.meta()?;
        let config_changed = meta.config_hash.as_deref() != Some(self.job.config_hash.as_str());
        if config_changed && meta.config_hash.is_some() {
            // New mappings or scoping: re-evaluate everything (§4.3).
            self.state.clear_watermark()?;
        }
        let initial = !meta.initial_cycle_complete || config_changed;
        let deletions_allowed = meta.deletions_allowed;
        self.cycle_id = self.new_id();
        tracing::Span::current().record("cycle_id", self.cycle_id.as_str());
        let mut report = CycleReport { cycle_id: self.cycle_id.clone(), initial, started_at, ..Default::default() };

        let plan = plan::plan(&self.job, &dir, PlanInput { initial, deletions_allowed }, &self.state)?;
        if plan.hold_deletions {
            tracing::warn!(
                removals = plan.removals,
                threshold = self.job.spec.options.deletion_threshold,
                "accidental-deletion threshold reached: disables and deletes are held"
            );
        }
        let tracked = super::report::Tracked { inner: progress, running: &self.running, clock: self.clock.as_ref() };
        tracked.start(plan.total());
        let executed = self.execute(&dir, plan, &mut report, &tracked).await;
        tracked.finish();
        executed?;

        report.duration_ms = started.elapsed().as_millis() as u64;
        report.finished_at = rfc3339(self.clock.now());
        self.state.update_meta(|m| {
            m.initial_cycle_complete = true;
            m.config_hash = Some(self.job.config_hash.clone());
            m.held_removals = report.held_deletions;
            m.totals.add(&report);
            m.remember_cycle(&report);
            if report.all_failures() == 0 {
                m.last_successful_cycle_at = Some(report.finished_at.clone());
                m.steady_state_at.get_or_insert_with(|| report.finished_at.clone());
            }
            if report.held_deletions == 0 {
                m.deletions_allowed = false;
            }
            m.last_cycle = Some(report.clone());
        })?;
        self.state.prune_logs(self.clock.now(), crate::provision::state::LOG_RETENTION)?;
        self.state.flush()?;
        Ok(report)
    }

    /// The plan's phases, in order.
    async fn execute(
        &self,
        dir: &Directory,
        plan: CyclePlan<'_>,
        report: &mut CycleReport,
        progress: &dyn Progress,
    ) -> Result<(), EngineError> {
        let hold = plan.hold_deletions;
        let reference_users = self.export_users(plan.users, hold, report, progress).await?;
        self.delete_gone(ObjectKind::User, plan.gone_users, hold, report, progress).await?;
        self.link_managers(dir, &reference_users, report).await?;
        self.export_groups(&plan.groups, hold, report, progress).await?;
        self.sync_memberships(dir, &plan.groups, report).await?;
        self.delete_gone(ObjectKind::Group, plan.gone_groups, hold, report, progress).await?;
        Ok(())
    }

    /// Users: create / update / disable, up to `concurrency` at a time. Returns the ids of
    /// the in-scope users, whose managers are linked next.
    async fn export_users(
        &self,
        work: Vec<Work<'_>>,
        hold_deletions: bool,
        report: &mut CycleReport,
        progress: &dyn Progress,
    ) -> Result<Vec<String>, EngineError> {
        let mut reference_users = Vec::new();
        let users = stream::iter(work)
            .map(|w| {
                let span = tracing::debug_span!("object", kind = "User", id = %w.entry.id());
                async move {
                    let mut run = self.run();
                    let processed = async {
                        let user = w.entry.parse()?;
                        let outcome = run.process_user(&user, &w.scope, hold_deletions).await?;
                        Ok::<_, EngineError>((user, outcome))
                    }
                    .await;
                    ((w, run), processed)
                }
                .instrument(span)
            })
            .buffer_unordered(self.concurrency());
        let mut users = self.settling(users);
        while let Some(((w, mut run), processed)) = users.next().await {
            let (user, outcome) = processed?;
            let id = w.entry.id().to_string();
            progress.advance(&display_name(&user));
            report.count(&outcome);
            self.escrow(ObjectKind::User, &id, &outcome)?;
            // A held disable keeps its old watermark, so every cycle plans it again until
            // deletions are allowed (the held set survives restarts in the watermarks).
            if outcome.status != Status::Failure && outcome.action != Action::StagedDelete {
                self.state.set_watermark(ObjectKind::User, &id, &w.fingerprint)?;
            }
            if w.scope.in_scope() {
                reference_users.push(id);
            }
            run.log(ObjectKind::User, &user, outcome)?;
        }
        Ok(reference_users)
    }

    /// Objects deleted in the source: DELETE in the target (or held by the threshold).
    async fn delete_gone(
        &self,
        kind: ObjectKind,
        ids: Vec<String>,
        hold: bool,
        report: &mut CycleReport,
        progress: &dyn Progress,
    ) -> Result<(), EngineError> {
        let deleted = stream::iter(ids)
            .map(|id| {
                let span = tracing::debug_span!("object", kind = ?kind, id = %id, deleted = true);
                async move {
                    let mut run = self.run();
                    let outcome = run.process_deleted(kind, &id, hold).await;
                    ((id, run), outcome)
                }
                .instrument(span)
            })
            .buffer_unordered(self.concurrency());
        let mut deleted = self.settling(deleted);
        while let Some(((id, mut run), outcome)) = deleted.next().await {
            let outcome = outcome?;
            progress.advance(&id);
            report.count(&outcome);
            if outcome.status != Status::Failure && outcome.action != Action::StagedDelete {
                self.state.remove_watermark(kind, &id)?;
            }
            let placeholder = Map::from_iter([("objectId".to_string(), Value::String(id))]);
            run.log(kind, &placeholder, outcome)?;
        }
        Ok(())
    }

    /// Managers are linked once both users exist (§5.2 step 6).
    async fn link_managers(
        &self,
        dir: &Directory,
        reference_users: &[String],
        report: &mut CycleReport,
    ) -> Result<(), EngineError> {
        let assigned = super::scope::members_of_assigned_groups(&self.job, dir)?;
        let assigned = &assigned;
        let managers = stream::iter(reference_users.iter().filter_map(|id| dir.user(id)))
            .map(|user| async move {
                let mut run = self.run();
                let outcome = run.link_manager(dir, user, assigned).await;
                ((user, run), outcome)
            })
            .buffer_unordered(self.concurrency());
        let mut managers = self.settling(managers);
        while let Some(((user, mut run), outcome)) = managers.next().await {
            if let Some(outcome) = outcome? {
                report.count_reference(&outcome);
                if outcome.status == Status::Failure {
                    // Plan the user again next cycle, so the reference is retried.
                    self.state.remove_watermark(ObjectKind::User, user.id())?;
                    report.unresolved_references += 1;
                }
                self.escrow(ObjectKind::User, user.id(), &outcome)?;
                run.log(ObjectKind::User, &user.parse()?, outcome)?;
            }
        }
        Ok(())
    }

    /// Groups themselves (changed ones only), before memberships so nested groups resolve.
    async fn export_groups(
        &self,
        work: &[Work<'_>],
        hold_deletions: bool,
        report: &mut CycleReport,
        progress: &dyn Progress,
    ) -> Result<(), EngineError> {
        let groups = stream::iter(work)
            .map(|w| {
                let span = tracing::debug_span!("object", kind = "Group", id = %w.entry.id());
                async move {
                    let mut run = self.run();
                    let processed = async {
                        let group = w.entry.parse()?;
                        let outcome = match w.changed {
                            true => Some(run.process_group(&group, &w.scope, hold_deletions).await?),
                            false => None,
                        };
                        Ok::<_, EngineError>((group, outcome))
                    }
                    .await;
                    ((w, run), processed)
                }
                .instrument(span)
            })
            .buffer_unordered(self.concurrency());
        let mut groups = self.settling(groups);
        while let Some(((w, mut run), processed)) = groups.next().await {
            let (group, outcome) = processed?;
            progress.advance(&display_name(&group));
            let Some(outcome) = outcome else { continue };
            report.count(&outcome);
            self.escrow(ObjectKind::Group, w.entry.id(), &outcome)?;
            if outcome.status != Status::Failure && outcome.action != Action::StagedDelete {
                self.state.set_watermark(ObjectKind::Group, w.entry.id(), &w.fingerprint)?;
            }
            run.log(ObjectKind::Group, &group, outcome)?;
        }
        Ok(())
    }

    /// Memberships of every in-scope group, against the cached membership.
    async fn sync_memberships(
        &self,
        dir: &Directory,
        work: &[Work<'_>],
        report: &mut CycleReport,
    ) -> Result<(), EngineError> {
        let memberships = stream::iter(work.iter().filter(|w| w.scope.in_scope()))
            .map(|w| async move {
                let mut run = self.run();
                let synced = async {
                    let group = w.entry.parse()?;
                    let outcome = run.sync_members(dir, &group).await?;
                    Ok::<_, EngineError>(outcome.map(|o| (group, o)))
                }
                .await;
                (run, synced)
            })
            .buffer_unordered(self.concurrency());
        let mut memberships = self.settling(memberships);
        while let Some((mut run, synced)) = memberships.next().await {
            if let Some((group, outcome)) = synced? {
                report.count_reference(&outcome);
                run.log(ObjectKind::Group, &group, outcome)?;
            }
        }
        Ok(())
    }

    /// The objects of `processed`, each once the links it wrote are on disk (see
    /// [`crate::provision::state::JobStore::settle`]), before the caller counts,
    /// watermarks or logs it. The wait is a stage of its own: an object waiting for the
    /// flush no longer holds one of the `concurrency` request slots, and the objects
    /// waiting together share one flush (group commit). A failed object has nothing to
    /// settle and passes straight through.
    fn settling<'s, C: 's, T: 's>(
        &'s self,
        processed: impl Stream<Item = (C, Result<T, EngineError>)> + 's,
    ) -> impl Stream<Item = (C, Result<T, EngineError>)> + 's {
        processed
            .map(move |(carried, result)| async move {
                let settled = match result {
                    Ok(value) => self.state.settle().await.map(|()| value).map_err(EngineError::from),
                    Err(e) => Err(e),
                };
                (carried, settled)
            })
            .buffer_unordered(SETTLING_PER_SLOT * self.concurrency())
    }

    fn concurrency(&self) -> usize {
        self.job.spec.options.concurrency.max(1)
    }

    fn escrow(&self, kind: ObjectKind, id: &str, outcome: &Outcome) -> Result<(), EngineError> {
        match (&outcome.error, outcome.status) {
            (Some(e), Status::Failure) => {
                self.state.escrow(kind, id, &rfc3339(self.clock.now()), &e.error_code, &e.reason)?
            }
            _ => self.state.release_escrow(kind, id)?,
        }
        Ok(())
    }

    /// Quarantine bookkeeping and notifications after a completed cycle (§5.6, §5.8).
    async fn after_cycle(&mut self, report: &CycleReport) -> Result<(), EngineError> {
        let policy = &self.job.spec.options.quarantine;
        let current = self.state.meta()?.quarantine;
        let now = self.clock.now();
        let transition = health::transition(policy, current, policy.evaluate(report), now);
        self.state.update_meta(|m| {
            match &transition {
                Transition::Healthy => {}
                Transition::Entered(q) | Transition::Continued(q) => m.quarantine = Some(q.clone()),
                Transition::Lifted(_) => m.quarantine = None,
                Transition::Disabled(q) => {
                    m.quarantine = Some(q.clone());
                    m.disabled = Some("still failing after 4 weeks in quarantine".into());
                }
            }
            m.last_error = match report.failure_codes.iter().max_by_key(|(_, n)| **n) {
                Some((code, n)) if report.all_failures() > 0 => Some(format!("{n} failures with {code}")),
                _ => None,
            };
        })?;
        self.state.flush()?;
        let summary = serde_json::to_value(report).unwrap_or(Value::Null);
        let at = rfc3339(now);
        match transition {
            Transition::Entered(q) => {
                tracing::warn!(reason = ?q.reason, detail = %q.detail, "the job is in quarantine");
                let event = if q.reason == QuarantineReason::TooManyDeletes {
                    "deletionThresholdExceeded"
                } else {
                    "quarantine"
                };
                self.notifier.send(event, &at, json!({"quarantine": q, "cycle": summary})).await;
            }
            Transition::Lifted(q) => {
                self.notifier.send("quarantineLifted", &at, json!({"quarantine": q, "cycle": summary})).await
            }
            Transition::Disabled(q) => {
                self.notifier.send("disabled", &at, json!({"quarantine": q, "cycle": summary})).await
            }
            Transition::Continued(_) | Transition::Healthy => {}
        }
        Ok(())
    }

    /// How long a scheduler should wait before the next cycle (interval, or the
    /// quarantine schedule).
    pub fn next_delay(&self) -> Result<std::time::Duration, EngineError> {
        let quarantine = self.state.meta()?.quarantine;
        let interval = std::time::Duration::from_secs(self.job.spec.options.interval_seconds);
        Ok(health::next_delay(interval, quarantine.as_ref(), self.clock.now()))
    }
}
