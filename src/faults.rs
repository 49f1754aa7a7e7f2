//! Fault injection for the mock service provider: rules that make chosen SCIM requests
//! slow, fail with a status (429 with `Retry-After`, 5xx, a forced 412) or hang, so a
//! client's resilience can be tested. Decisions come from a seeded generator in request
//! arrival order, so a run with the same seed and the same requests misbehaves the same way.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// One rule. Matching requests are affected with probability `rate`, after skipping the
/// first `after` matches and for at most `times` firings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// HTTP method (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Path prefix under the SCIM root, e.g. `/Users` or `/Groups/` (any when absent).
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default = "always")]
    pub rate: f64,
    #[serde(default)]
    pub after: u32,
    #[serde(default)]
    pub times: Option<u32>,
    /// Answer with this status and a SCIM error body instead of serving the request.
    #[serde(default)]
    pub status: Option<u16>,
    /// `Retry-After` seconds sent with the status (429/503).
    #[serde(default)]
    pub retry_after_seconds: Option<u64>,
    /// Delay before answering (the request is then served or failed as the rule says).
    #[serde(default)]
    pub latency_ms: Option<u64>,
    /// Hold the connection this long without answering, then fail with 503.
    #[serde(default)]
    pub hang_seconds: Option<u64>,
    /// Serve the request, but the way a non-compliant server would.
    #[serde(default)]
    pub misbehave: Option<Misbehaviour>,
}

/// Ways real SCIM servers get the protocol wrong (docs/scim-server.md), to test clients and the
/// validator against them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Misbehaviour {
    /// Drop the `filter` parameter: lists answer with everything.
    IgnoreFilter,
    /// Answer a successful PATCH with 204 and no body.
    PatchNoContent,
    /// Report a `totalResults` that is not the number of matches.
    WrongTotal,
    /// Send no `ETag` header.
    DropEtag,
    /// Answer a PATCH with 200 and the resource, changing nothing.
    PatchIgnored,
    /// Answer a DELETE with 204 and keep the resource (a soft delete the client cannot see).
    DeleteIgnored,
    /// Answer a uniqueness conflict with 400 instead of 409 `uniqueness`.
    #[serde(rename = "conflict-as-400")]
    ConflictAs400,
    /// Answer a request for an unknown resource with success (200 `{}`, 204 for DELETE).
    OkWhenMissing,
    /// Answer errors with a plain-text body instead of a SCIM error.
    PlainErrors,
    /// Send no `Location` header on create.
    DropLocation,
    /// Answer lists as a bare JSON array of the resources, without the ListResponse.
    BareList,
    /// Answer every list with no resources.
    EmptyLists,
    /// Leave the Group schema and resource type out of discovery.
    NoGroupSchema,
    /// Drop the `attributes` and `excludedAttributes` parameters.
    IgnoreAttributes,
    /// Drop the `startIndex` and `count` parameters: every list starts at 1 with everything.
    IgnorePaging,
}

impl Misbehaviour {
    /// The name used in fault plans (`wrong-total`), as serde spells it.
    pub fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }
}

fn always() -> f64 {
    1.0
}

/// A set of rules with the seed of their decisions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultPlan {
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

impl FaultPlan {
    /// Rejects rules that cannot do anything or cannot be sent.
    pub fn check(&self) -> Result<(), String> {
        for (i, r) in self.rules.iter().enumerate() {
            let at = format!("rules[{i}]");
            if !(0.0..=1.0).contains(&r.rate) {
                return Err(format!("{at}.rate must be between 0 and 1, not {}", r.rate));
            }
            if let Some(s) = r.status {
                if !(400..=599).contains(&s) {
                    return Err(format!("{at}.status must be a 4xx or 5xx status, not {s}"));
                }
            }
            if r.status.is_none() && r.latency_ms.is_none() && r.hang_seconds.is_none() && r.misbehave.is_none() {
                return Err(format!("{at} needs one of status, latencyMs, hangSeconds or misbehave"));
            }
        }
        Ok(())
    }
}

/// What to do to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub rule: usize,
    /// The plan it was decided under: replacing the plan releases its holds (see [`Faults::hold`]).
    pub plan: u64,
    pub delay: Option<Duration>,
    pub hang: Option<Duration>,
    pub status: Option<u16>,
    pub retry_after: Option<u64>,
    pub misbehave: Option<Misbehaviour>,
}

impl Fault {
    /// `rule#2 status 500` — sent back in a response header so tests and users see it.
    /// Rules count from 1, as the documentation does; misbehaviours by their plan names.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("rule#{}", self.rule + 1)];
        if let Some(d) = self.delay {
            parts.push(format!("latency {}ms", d.as_millis()));
        }
        if let Some(h) = self.hang {
            parts.push(format!("hang {}s", h.as_secs()));
        }
        if let Some(s) = self.status {
            parts.push(format!("status {s}"));
        }
        if let Some(m) = self.misbehave {
            parts.push(format!("misbehave {}", m.name()));
        }
        parts.join(" ")
    }
}

struct Live {
    plan: FaultPlan,
    rng: StdRng,
    /// Per rule: matching requests seen, and firings.
    seen: Vec<u32>,
    fired: Vec<u32>,
}

impl Live {
    fn new(plan: FaultPlan) -> Self {
        let n = plan.rules.len();
        Live { rng: StdRng::seed_from_u64(plan.seed), plan, seen: vec![0; n], fired: vec![0; n] }
    }
}

/// The server's current fault plan.
pub struct Faults {
    /// Whether any rule is set, read without the lock.
    armed: std::sync::atomic::AtomicBool,
    live: Mutex<Live>,
    /// Counts the plans set; a new one wakes every request a delay or hang is holding.
    /// Each hold subscribes for as long as it lasts, so the subscribers are the holds.
    generation: tokio::sync::watch::Sender<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(FaultPlan::default())
    }
}

impl Faults {
    pub fn new(plan: FaultPlan) -> Self {
        let n = plan.rules.len();
        Faults {
            armed: std::sync::atomic::AtomicBool::new(n > 0),
            live: Mutex::new(Live::new(plan)),
            generation: tokio::sync::watch::Sender::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replaces the plan (and restarts its counters and generator). Requests the old plan
    /// is delaying or hanging are let go now: a delayed one is served, a hung one answered
    /// with its status, so clearing the faults ends an outage at once.
    pub fn set(&self, plan: FaultPlan) {
        let mut live = self.lock();
        self.armed.store(!plan.rules.is_empty(), Ordering::SeqCst);
        *live = Live::new(plan);
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }

    /// Holds a request for `how_long`, or until the plan it was decided under is replaced.
    pub async fn hold(&self, fault: &Fault, how_long: Duration) {
        let mut replaced = self.generation.subscribe();
        if *replaced.borrow_and_update() != fault.plan {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(how_long) => {}
            _ = replaced.changed() => {}
        }
    }

    /// Requests a delay or hang is holding now (the `scimlab_fault_held_requests` metric).
    pub fn held(&self) -> usize {
        self.generation.receiver_count()
    }

    pub fn plan(&self) -> FaultPlan {
        self.lock().plan.clone()
    }

    /// The first rule that fires for this request, if any.
    pub fn decide(&self, method: &str, path: &str) -> Option<Fault> {
        // No plan (the usual case): no lock on the request path.
        if !self.armed.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        let mut live = self.lock();
        if live.plan.rules.is_empty() {
            return None;
        }
        for i in 0..live.plan.rules.len() {
            let rule = live.plan.rules[i].clone();
            let method_ok = rule.method.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(method));
            let path_ok = rule.path.as_deref().is_none_or(|p| path.starts_with(p));
            if !method_ok || !path_ok {
                continue;
            }
            live.seen[i] += 1;
            if live.seen[i] <= rule.after || rule.times.is_some_and(|t| live.fired[i] >= t) {
                continue;
            }
            // Draw for every eligible request, so decisions depend only on the sequence.
            let roll: f64 = live.rng.gen();
            if roll >= rule.rate {
                continue;
            }
            live.fired[i] += 1;
            return Some(Fault {
                rule: i,
                plan: *self.generation.borrow(),
                delay: rule.latency_ms.map(Duration::from_millis),
                hang: rule.hang_seconds.map(Duration::from_secs),
                status: rule.status,
                retry_after: rule.retry_after_seconds,
                misbehave: rule.misbehave,
            });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(status: u16) -> FaultRule {
        FaultRule {
            method: Some("POST".into()),
            path: Some("/Users".into()),
            rate: 1.0,
            after: 0,
            times: None,
            status: Some(status),
            retry_after_seconds: None,
            latency_ms: None,
            hang_seconds: None,
            misbehave: None,
        }
    }

    #[test]
    fn after_and_times_bound_the_firings() {
        let faults =
            Faults::new(FaultPlan { seed: 1, rules: vec![FaultRule { after: 1, times: Some(2), ..rule(500) }] });
        let fired: Vec<bool> = (0..5).map(|_| faults.decide("POST", "/Users").is_some()).collect();
        assert_eq!(fired, [false, true, true, false, false]);
        assert!(faults.decide("GET", "/Users").is_none(), "method must match");
    }

    #[test]
    fn the_same_seed_gives_the_same_decisions() {
        let plan = FaultPlan { seed: 42, rules: vec![FaultRule { rate: 0.3, ..rule(503) }] };
        let run = || {
            let f = Faults::new(plan.clone());
            (0..200).map(|_| f.decide("POST", "/Users/x").is_some()).collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let hits = first.iter().filter(|h| **h).count();
        assert!((40..=80).contains(&hits), "about 30 % of 200: {hits}");
    }

    #[test]
    fn useless_rules_are_rejected() {
        let plan = FaultPlan { seed: 0, rules: vec![FaultRule { status: None, ..rule(500) }] };
        assert!(plan.check().unwrap_err().contains("rules[0]"));
        let plan = FaultPlan { seed: 0, rules: vec![FaultRule { rate: 2.0, ..rule(500) }] };
        assert!(plan.check().unwrap_err().contains("rate"));
    }
}
