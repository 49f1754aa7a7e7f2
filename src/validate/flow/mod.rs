//! The Entra provisioning flow as one scenario, driven by scimlab's own provisioning engine
//! against the endpoint, as Microsoft's gallery validation drives Entra's: test connection →
//! create → update every mapped attribute → manager set, changed, removed → provision on
//! demand → disable → unassign and reassign → members removed and added → group renamed →
//! a group on demand → delete. Each step is a check (steps.rs); whatever the engine created
//! is deleted afterwards.

mod steps;

use std::sync::Arc;

use anyhow::Context;
use serde_json::{json, Value};

use super::report::Outcome;
use super::{registry, CheckMeta, Ctx};
use crate::clock::SystemClock;
use crate::provision::state::ObjectKind;
use crate::provision::{CycleReport, Engine, Job, JobState, NoProgress};

pub(super) struct Flow {
    engine: Engine,
    directory: std::path::PathBuf,
    source: Value,
    _dir: tempfile::TempDir,
}

impl Flow {
    fn new(ctx: &Ctx) -> anyhow::Result<Flow> {
        let dir = tempfile::tempdir()?;
        let person = |label: &str, title: &str| person(ctx, label, title);
        let mut report = person("report", "Engineer");
        report["manager"] = json!(format!("{}-lead", ctx.run_id));
        let source = json!({
            "users": [person("lead", "Lead"), report],
            "groups": [{
                "objectId": format!("{}-group", ctx.run_id),
                "displayName": format!("scimlab-validate-{}-flow", ctx.run_id),
                "members": [format!("{}-lead", ctx.run_id), format!("{}-report", ctx.run_id)]
            }]
        });
        let directory = dir.path().join("directory.json");
        std::fs::write(&directory, source.to_string())?;
        let spec = serde_json::from_value(json!({
            "name": format!("validate-{}", ctx.run_id),
            "target": {"url": ctx.opts.base, "token": ctx.opts.token.clone().unwrap_or_else(|| "none".into()),
                       "timeoutSeconds": ctx.opts.timeout.as_secs().max(1),
                       "caCert": ctx.opts.ca_cert.as_ref().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
                       "insecureSkipVerify": ctx.opts.insecure},
            "source": {"directory": directory},
            "scope": "all",
            "options": {"deletionThreshold": 0, "retry": {"maxAttempts": 2, "baseDelayMs": 100}}
        }))?;
        let job = Job::from_spec(spec, dir.path().to_path_buf())?;
        let mut engine = Engine::new(job, JobState::temporary()?, Arc::new(SystemClock), rand::random())?;
        // A failing step shows the engine's last exchange.
        engine.keep_exchanges();
        Ok(Flow { engine, directory, source, _dir: dir })
    }

    async fn cycle(&mut self, edit: impl FnOnce(&mut Value)) -> anyhow::Result<CycleReport> {
        edit(&mut self.source);
        std::fs::write(&self.directory, self.source.to_string())
            .with_context(|| format!("cannot write the flow's directory {}", self.directory.display()))?;
        Ok(self.engine.run_cycle(&NoProgress).await?)
    }

    fn target_id(&self, kind: ObjectKind, source_id: &str) -> Option<String> {
        self.engine.state().link(kind, source_id).ok().flatten().map(|l| l.target_id)
    }
}

/// A source user of the flow, as the directory file describes one.
fn person(ctx: &Ctx, label: &str, title: &str) -> Value {
    json!({
        "objectId": format!("{}-{label}", ctx.run_id),
        "userPrincipalName": ctx.user_name(&format!("flow-{label}")),
        "mailNickname": format!("{}-flow-{label}", ctx.run_id),
        "displayName": format!("Flow {label}"),
        "givenName": "Flow",
        "surname": label,
        "mail": ctx.user_name(&format!("flow-{label}")),
        "jobTitle": title,
        "department": "Validation",
        "accountEnabled": true
    })
}

/// The source object with this objectId, in `users` or `groups`.
fn object_mut<'a>(source: &'a mut Value, list: &str, object_id: &str) -> Option<&'a mut Value> {
    source[list].as_array_mut()?.iter_mut().find(|o| o["objectId"] == object_id)
}

fn verdict(report: &anyhow::Result<CycleReport>, want: impl Fn(&CycleReport) -> bool, expected: &str) -> Outcome {
    match report {
        Ok(r) if r.failed == 0 && want(r) => Outcome::Pass,
        Ok(r) => Outcome::Fail {
            expected: expected.into(),
            actual: format!(
                "created {}, updated {}, disabled {}, deleted {}, failed {} ({:?})",
                r.created, r.updated, r.disabled, r.deleted, r.failed, r.failure_codes
            ),
        },
        Err(e) => Outcome::Fail { expected: expected.into(), actual: format!("the cycle failed: {e:#}") },
    }
}

impl Flow {
    /// Records a flow step; a failure carries the last exchange of the engine or of the
    /// validator's own read-back, whichever came last in this step.
    fn record(&self, ctx: &Ctx, meta: &CheckMeta, started: super::Started, outcome: Outcome) {
        let exchanges = self.engine.client().take_exchanges();
        let failing = exchanges.iter().rev().find(|x| !(200..300).contains(&x.status));
        let engine_exchange = failing.or(exchanges.last()).cloned();
        match (&outcome, engine_exchange) {
            (Outcome::Fail { .. }, Some(x)) if !ctx.made_requests_since(started) => {
                ctx.record_with(meta, started, outcome, Some(x))
            }
            _ => ctx.record(meta, started, outcome),
        }
    }
}

pub async fn entra_flow(ctx: &Ctx) {
    let first = registry::find("flow.test-connection");
    if let Some(reason) = ctx.wanted(first) {
        ctx.record(first, ctx.begin(), Outcome::Skip { reason });
        return;
    }
    let mut flow = match Flow::new(ctx) {
        Ok(f) => f,
        Err(e) => {
            let outcome = Outcome::Fail { expected: "a provisioning job".into(), actual: e.to_string() };
            ctx.record(first, ctx.begin(), outcome);
            return;
        }
    };
    let t = ctx.begin();
    let outcome = match flow.engine.test_connection().await {
        Ok(_) => Outcome::Pass,
        Err(e) => Outcome::Fail { expected: "200 with an empty ListResponse".into(), actual: e.to_string() },
    };
    let connected = outcome == Outcome::Pass;
    flow.record(ctx, first, t, outcome);
    if connected {
        steps::run(ctx, &mut flow).await;
    }

    // Whatever the engine still has linked was created by this run: remove it.
    if !ctx.opts.keep {
        for kind in [ObjectKind::Group, ObjectKind::User] {
            let links = match flow.engine.state().links(kind) {
                Ok(links) => links,
                Err(e) => {
                    tracing::warn!(error = %e, ?kind, "could not read which objects the flow created; they stay on the target");
                    continue;
                }
            };
            for (_, link) in links {
                let endpoint = if kind == ObjectKind::User { "Users" } else { "Groups" };
                let r = ctx.send(reqwest::Method::DELETE, &format!("/{endpoint}/{}", link.target_id), None).await;
                if !matches!(r.status, 200 | 204 | 404) {
                    tracing::warn!(id = %link.target_id, status = r.status, "could not delete an object the flow created");
                }
            }
        }
    }
}
