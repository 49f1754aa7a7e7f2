//! The validator's findings and their three renderings: text for people, JSON for tools,
//! JUnit XML for CI.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// The RFCs require it; a failure fails the run.
    Required,
    /// Good practice most clients rely on.
    Recommended,
    /// What Microsoft Entra ID sends or expects (docs/entra-behaviour.md).
    EntraInterop,
    /// What Okta sends or expects (docs/scim-server.md, Okta).
    OktaInterop,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase", tag = "result")]
pub enum Outcome {
    Pass,
    Fail { expected: String, actual: String },
    Skip { reason: String },
}

/// A request the validator sent and what came back (the same record the provisioning
/// client keeps).
pub use crate::client::Exchange;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub id: String,
    pub group: String,
    pub title: String,
    /// Where the expectation comes from, e.g. "RFC 7644 §3.4.2.4".
    pub source: String,
    pub severity: Severity,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The exchange behind a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Exchange>,
    pub duration_ms: u64,
    /// The vendors' tests this check covers, as `suite: test name`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub target: String,
    pub profile: String,
    pub checks: Vec<CheckResult>,
    /// The vendor suite's verdict, test by test, with `--suite`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suite: Option<super::SuiteReport>,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.checks.iter().filter(|c| c.outcome == Outcome::Pass).count()
    }

    pub fn failed(&self) -> usize {
        self.checks.iter().filter(|c| matches!(c.outcome, Outcome::Fail { .. })).count()
    }

    pub fn skipped(&self) -> usize {
        self.checks.iter().filter(|c| matches!(c.outcome, Outcome::Skip { .. })).count()
    }

    /// The run succeeds when something ran and no required check failed; with a suite,
    /// when no mandatory reference test failed.
    pub fn success(&self) -> bool {
        if let Some(suite) = &self.suite {
            return suite.success();
        }
        self.passed() + self.failed() > 0
            && !self
                .checks
                .iter()
                .any(|c| c.severity == Severity::Required && matches!(c.outcome, Outcome::Fail { .. }))
    }

    pub fn find(&self, id: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    pub fn summary_line(&self) -> String {
        format!("{} passed, {} failed, {} skipped", self.passed(), self.failed(), self.skipped())
    }

    /// One line per check, grouped, with the failing exchange under each failure.
    pub fn to_text(&self, color: bool) -> String {
        let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() };
        let mut out = format!("scimlab validate {} (profile {})\n", self.target, self.profile);
        let mut group = "";
        for c in &self.checks {
            if c.group != group {
                group = &c.group;
                let _ = writeln!(out, "\n{}", paint("1", group));
            }
            let (mark, detail) = match &c.outcome {
                Outcome::Pass => (paint("32", "PASS"), String::new()),
                Outcome::Skip { reason } => (paint("33", "SKIP"), format!(" — {reason}")),
                Outcome::Fail { .. } if c.severity != Severity::Required => (paint("35", "WARN"), String::new()),
                Outcome::Fail { .. } => (paint("31", "FAIL"), String::new()),
            };
            let _ = writeln!(out, "  {mark} {:<34} {}{detail}  [{} · {:?}]", c.id, c.title, c.source, c.severity);
            if self.suite.is_some() && !c.references.is_empty() {
                let _ = writeln!(out, "       for {}", c.references.join("; "));
            }
            if let Outcome::Fail { expected, actual } = &c.outcome {
                let _ = writeln!(out, "       expected: {expected}");
                let _ = writeln!(out, "       actual:   {actual}");
                if let Some(x) = &c.exchange {
                    let _ = writeln!(out, "       request:  {} {}", x.method, x.url);
                    if let Some(body) = &x.request {
                        let _ = writeln!(out, "                 {}", truncate(&body.to_string(), 300));
                    }
                    let _ = writeln!(out, "       response: {} {}", x.status, truncate(&x.response.to_string(), 300));
                }
            }
        }
        if let Some(suite) = &self.suite {
            out += &suite.to_text(&paint);
        }
        let _ = writeln!(out, "\n{}", self.summary_line());
        out
    }

    pub fn to_json(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["summary"] = serde_json::json!({
            "passed": self.passed(), "failed": self.failed(), "skipped": self.skipped(), "success": self.success()
        });
        if let Some(suite) = &self.suite {
            v["suite"]["summary"] = serde_json::json!({
                "passed": suite.count("passed"), "failed": suite.count("failed"), "warnings": suite.count("warning"),
                "skipped": suite.count("skipped"), "notCovered": suite.count("not-covered")
            });
        }
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
    }

    /// JUnit XML: one testsuite per group; failed recommended checks are failures too (CI
    /// tools show them), the exit code only counts required ones.
    /// JUnit XML (one suite per check group), written by `quick-junit`.
    pub fn to_junit(&self) -> Result<String, quick_junit::SerializeError> {
        use quick_junit::{NonSuccessKind, Report as JUnit, TestCase, TestCaseStatus, TestSuite};
        let mut junit = JUnit::new("scimlab validate");
        let mut groups: Vec<&str> = Vec::new();
        for c in &self.checks {
            if !groups.contains(&c.group.as_str()) {
                groups.push(&c.group);
            }
        }
        for g in groups {
            let mut suite = TestSuite::new(g);
            for c in self.checks.iter().filter(|c| c.group == g) {
                let status = match &c.outcome {
                    Outcome::Pass => TestCaseStatus::success(),
                    Outcome::Skip { reason } => {
                        let mut s = TestCaseStatus::skipped();
                        s.set_message(reason.as_str());
                        s
                    }
                    Outcome::Fail { expected, actual } => {
                        let mut text =
                            format!("{} ({:?})\nexpected: {expected}\nactual: {actual}\n", c.source, c.severity);
                        if let Some(x) = &c.exchange {
                            text +=
                                &format!("request: {} {}\nresponse: {} {}\n", x.method, x.url, x.status, x.response);
                        }
                        let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                        s.set_message(format!("expected {expected}, got {actual}"));
                        s.set_type(format!("{:?}", c.severity));
                        s.set_description(text);
                        s
                    }
                };
                let mut case = TestCase::new(format!("{} {}", c.id, c.title), status);
                case.set_classname(format!("scimlab.validate.{g}"));
                case.set_time(std::time::Duration::from_millis(c.duration_ms));
                suite.add_test_case(case);
            }
            junit.add_test_suite(suite);
        }
        if let Some(suite) = &self.suite {
            junit.add_test_suite(suite_junit(suite));
        }
        junit.to_string()
    }
}

/// The vendor suite as its own JUnit testsuite: one testcase per reference test, named as
/// the vendor names it, with scimlab's check ids in the class name.
fn suite_junit(suite: &super::SuiteReport) -> quick_junit::TestSuite {
    use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
    let mut junit = TestSuite::new(suite.suite.name());
    for t in &suite.tests {
        let status = match t.result {
            "passed" => TestCaseStatus::success(),
            "failed" | "warning" => {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(t.detail.as_str());
                s.set_type(if t.result == "failed" { "mandatory" } else { "optional" });
                s
            }
            _ => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(t.detail.as_str());
                s
            }
        };
        let mut case = TestCase::new(t.name.as_str(), status);
        case.set_classname(format!("{} [{}]", suite.suite.name(), t.checks.join(", ")));
        junit.add_test_case(case);
    }
    junit
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).collect::<String>() + "…"
    }
}
