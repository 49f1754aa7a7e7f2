//! The vendors' submission suites as scimlab runs them locally: Microsoft's Entra gallery
//! validation (the 25 tests of `SCIM-Validation-Test-Overview.md` in AzureAD/SCIMReferenceCode)
//! and Okta's OIN "Okta SCIM 2.0 SPEC Test" (12 steps) with its CRUD test. Each reference
//! test is mapped to the scimlab checks that cover it; `--suite` runs exactly those and
//! reports under the reference test's own name. docs/validator-coverage.md is generated
//! from this table (`scimlab validate --coverage`).

use std::fmt::Write as _;

use serde::Serialize;

use super::registry;
use super::report::{Outcome, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Suite {
    /// Microsoft's Entra app gallery validation (25 tests).
    EntraGallery,
    /// Okta's OIN SCIM 2.0 spec test (12 steps) and CRUD test.
    OktaOin,
}

impl Suite {
    pub const ALL: [Suite; 2] = [Suite::EntraGallery, Suite::OktaOin];

    pub fn name(self) -> &'static str {
        match self {
            Suite::EntraGallery => "entra-gallery",
            Suite::OktaOin => "okta-oin",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Suite::EntraGallery => "Microsoft Entra gallery validation",
            Suite::OktaOin => "Okta OIN SCIM 2.0 spec test",
        }
    }

    /// The profile whose interoperability checks the suite needs.
    pub fn profile(self) -> super::ValidateProfile {
        match self {
            Suite::EntraGallery => super::ValidateProfile::Entra,
            Suite::OktaOin => super::ValidateProfile::Okta,
        }
    }

    pub fn tests(self) -> impl Iterator<Item = &'static ReferenceTest> {
        REFERENCE_TESTS.iter().filter(move |t| t.suite == self)
    }

    /// The check ids the suite runs, with what they need to run at all (a group check
    /// needs the group `groups.create` makes; the engine flow starts with Test Connection).
    pub fn check_ids(self) -> Vec<String> {
        let mut ids: Vec<&str> = self.tests().flat_map(|t| t.checks.iter().copied()).collect();
        if ids.iter().any(|id| id.starts_with("groups.")) {
            ids.push("groups.create");
        }
        if ids.iter().any(|id| id.starts_with("flow.")) {
            ids.push("flow.test-connection");
        }
        ids.sort_unstable();
        ids.dedup();
        ids.into_iter().map(str::to_string).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// A failure fails the submission.
    Mandatory,
    /// A failure is a warning.
    Optional,
}

/// One test of a vendor's suite and the checks that cover it.
pub struct ReferenceTest {
    pub suite: Suite,
    /// The vendor's name for it, verbatim.
    pub name: &'static str,
    pub category: Category,
    pub checks: &'static [&'static str],
    /// Why it is covered only in part, or not at all; empty when fully covered.
    pub gap: &'static str,
}

const fn t(
    suite: Suite,
    name: &'static str,
    category: Category,
    checks: &'static [&'static str],
    gap: &'static str,
) -> ReferenceTest {
    ReferenceTest { suite, name, category, checks, gap }
}

use Category::{Mandatory, Optional};
use Suite::{EntraGallery as MS, OktaOin as OKTA};

pub const REFERENCE_TESTS: &[ReferenceTest] = &[
    t(MS, "Create_User_Test", Mandatory, &["flow.create"], ""),
    t(MS, "Update_User_Test", Mandatory, &["flow.update"], ""),
    t(MS, "Disable_User_Test", Mandatory, &["flow.disable"], ""),
    t(MS, "Delete_User_Test", Optional, &["flow.delete"], ""),
    t(MS, "User_Update_Manager_Test", Mandatory, &["flow.manager"], ""),
    t(MS, "Restore_User_Test", Mandatory, &["flow.restore"], ""),
    t(MS, "POD_User_Test", Mandatory, &["flow.pod-user"], ""),
    t(MS, "Create_Group_Test", Mandatory, &["flow.create"], ""),
    t(MS, "Update_Group_Test", Mandatory, &["flow.group-update", "groups.patch-attributes"], ""),
    t(MS, "Delete_Group_Test", Optional, &["flow.delete"], ""),
    t(MS, "Group_Update_Add_Member_Test", Mandatory, &["flow.member-add"], ""),
    t(MS, "Group_Update_Remove_Member_Test", Mandatory, &["flow.members"], ""),
    t(MS, "POD_Group_Test", Mandatory, &["flow.pod-group"], ""),
    t(
        MS,
        "Restore_Group_Test",
        Optional,
        &["groups.restore"],
        "partly: a group deleted and created again over SCIM, not an unassign/reassign through a cycle",
    ),
    t(
        MS,
        "Schema_Discoverability_Test",
        Mandatory,
        &["discovery.schemas", "discovery.group-schema", "discovery.schema-coverage"],
        "against Entra's default mappings, since scimlab cannot read your app's mappings from Entra",
    ),
    t(MS, "SCIM_Null_Update_Test", Mandatory, &["patch.null-update"], ""),
    t(MS, "SCIM_User_Create_Test", Mandatory, &["users.create"], ""),
    t(MS, "SCIM_User_Update_Test", Mandatory, &["patch.replace-path", "patch.multi-op"], ""),
    t(MS, "SCIM_Group_Create_Test", Mandatory, &["groups.create"], ""),
    t(MS, "SCIM_Group_Update_Test", Mandatory, &["groups.patch-attributes"], ""),
    t(MS, "Validate_Credentials_Test", Mandatory, &["auth.oauth"], ""),
    t(
        MS,
        "Federated_Identity_Test",
        Mandatory,
        &[],
        "not covered: it exchanges a Microsoft Entra workload-identity token, which needs Microsoft's cloud",
    ),
    t(MS, "SCIM_User_Pagination_Test", Mandatory, &["paging.count-5"], ""),
    t(MS, "SCIM_Group_Pagination_Test", Optional, &["paging.groups"], ""),
    t(MS, "SCIM_Update_Manager_Test", Mandatory, &["patch.manager-change"], ""),
    t(OKTA, "Required Test: Test Users endpoint", Mandatory, &["okta.list-fields"], ""),
    t(OKTA, "Required Test: Get Users/{{id}}", Mandatory, &["okta.get-fields"], ""),
    t(OKTA, "Required Test: Test invalid User by username", Mandatory, &["filters.eq-none"], ""),
    t(OKTA, "Required Test: Test invalid User by ID", Mandatory, &["users.not-found"], ""),
    t(OKTA, "Required Test: Make sure random user doesn't exist", Mandatory, &["filters.eq-none"], ""),
    t(OKTA, "Required Test: Create Okta user with realistic values", Mandatory, &["okta.create-echo"], ""),
    t(OKTA, "Required Test: Verify that user was created", Mandatory, &["okta.get-fields"], ""),
    t(
        OKTA,
        "Required Test: Expect failure when recreating user with same values",
        Mandatory,
        &["users.uniqueness"],
        "",
    ),
    t(OKTA, "Required Test: Username Case Sensitivity Check", Mandatory, &["filters.eq-case"], ""),
    t(OKTA, "Optional Test: Verify Groups endpoint", Optional, &["groups.list"], ""),
    t(OKTA, "Required Test: Check status 401", Mandatory, &["auth.bad-token"], ""),
    t(OKTA, "Required Test: Check status 404", Mandatory, &["users.not-found"], ""),
    t(
        OKTA,
        "Okta SCIM 2.0 CRUD Test",
        Mandatory,
        &["users.create", "okta.put-keeps-active", "okta.deactivate", "users.reactivate"],
        "partly: the wire sequence Okta's actions cause, without the Okta org that drives it",
    ),
];

/// python-scim's scim2-tester, by its check categories (it has no fixed list of named
/// tests: it generates checks per resource type and attribute). Documented, not a `--suite`.
const SCIM2_TESTER: &[(&str, &[&str], &str)] = &[
    (
        "discovery: /ServiceProviderConfig, /ResourceTypes, /Schemas",
        &[
            "discovery.spc",
            "discovery.resource-types",
            "discovery.schemas",
            "discovery.group-schema",
            "discovery.by-id",
        ],
        "covered",
    ),
    (
        "crud: create, read, replace and delete of every resource type",
        &["users.create", "users.get", "users.put", "users.delete", "groups.create", "groups.restore"],
        "covered for User and Group; custom resource types are not exercised",
    ),
    (
        "patch: add, remove and replace of simple, complex and extension attributes",
        &["patch.add-no-path", "patch.replace-path", "patch.remove", "patch.value-filter", "patch.manager-change"],
        "partly: representative attributes of each kind, not every attribute of every schema",
    ),
];

/// The reference tests a check serves, as `suite: name` (shown next to its id).
pub fn references_of(check_id: &str) -> Vec<String> {
    REFERENCE_TESTS
        .iter()
        .filter(|t| t.checks.contains(&check_id))
        .map(|t| format!("{}: {}", t.suite.name(), t.name))
        .collect()
}

/// How a reference test came out, from its checks.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferenceResult {
    pub name: String,
    pub category: Category,
    /// passed, failed, warning (an optional test failed), skipped or not-covered.
    pub result: &'static str,
    pub checks: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuiteReport {
    pub suite: Suite,
    pub tests: Vec<ReferenceResult>,
}

impl SuiteReport {
    pub fn evaluate(suite: Suite, report: &Report) -> SuiteReport {
        let tests = suite
            .tests()
            .map(|t| {
                let results: Vec<_> = t.checks.iter().filter_map(|id| report.find(id)).collect();
                let failed: Vec<&str> = results
                    .iter()
                    .filter(|c| matches!(c.outcome, Outcome::Fail { .. }))
                    .map(|c| c.id.as_str())
                    .collect();
                let skipped: Vec<String> = results
                    .iter()
                    .filter_map(|c| match &c.outcome {
                        Outcome::Skip { reason } => Some(format!("{}: {reason}", c.id)),
                        _ => None,
                    })
                    .collect();
                let (result, detail) = if t.checks.is_empty() {
                    ("not-covered", t.gap.to_string())
                } else if !failed.is_empty() {
                    let result = if t.category == Mandatory { "failed" } else { "warning" };
                    (result, format!("failed: {}", failed.join(", ")))
                } else if !skipped.is_empty() || results.len() < t.checks.len() {
                    ("skipped", skipped.join("; "))
                } else {
                    ("passed", t.gap.to_string())
                };
                ReferenceResult {
                    name: t.name.to_string(),
                    category: t.category,
                    result,
                    checks: t.checks.iter().map(|c| c.to_string()).collect(),
                    detail,
                }
            })
            .collect();
        SuiteReport { suite, tests }
    }

    /// The submission passes when no mandatory test failed and something passed.
    pub fn success(&self) -> bool {
        self.tests.iter().any(|t| t.result == "passed") && !self.tests.iter().any(|t| t.result == "failed")
    }

    pub fn count(&self, result: &str) -> usize {
        self.tests.iter().filter(|t| t.result == result).count()
    }

    pub fn to_text(&self, paint: &dyn Fn(&str, &str) -> String) -> String {
        let mut out = format!("\n{} ({} tests)\n", paint("1", self.suite.title()), self.tests.len());
        for t in &self.tests {
            let mark = match t.result {
                "passed" => paint("32", "PASS"),
                "failed" => paint("31", "FAIL"),
                "warning" => paint("35", "WARN"),
                "skipped" => paint("33", "SKIP"),
                _ => paint("2", "----"),
            };
            let category = match t.category {
                Mandatory => "mandatory",
                Optional => "optional",
            };
            let _ = write!(out, "  {mark} {} ({category})", t.name);
            if !t.checks.is_empty() {
                let _ = write!(out, " ← {}", t.checks.join(", "));
            }
            if !t.detail.is_empty() {
                let _ = write!(out, " — {}", t.detail);
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "{}: {} passed, {} failed, {} warnings, {} skipped, {} not covered",
            self.suite.name(),
            self.count("passed"),
            self.count("failed"),
            self.count("warning"),
            self.count("skipped"),
            self.count("not-covered")
        );
        out
    }
}

/// docs/validator-coverage.md, from the table above and the check registry.
pub fn coverage_markdown() -> String {
    let mut out = String::from(
        "# Validator coverage of the vendors' submission tests\n\n\
         Generated by `scimlab validate --coverage` from `src/validate/suites.rs`; a test fails when\n\
         this file and the table differ. `scimlab validate URL --suite entra-gallery` or\n\
         `--suite okta-oin` runs exactly the checks below and reports each reference test by its\n\
         own name.\n",
    );
    for suite in Suite::ALL {
        let tests: Vec<_> = suite.tests().collect();
        let full = tests.iter().filter(|t| !t.checks.is_empty() && t.gap.is_empty()).count();
        let partly = tests.iter().filter(|t| !t.checks.is_empty() && !t.gap.is_empty()).count();
        let none = tests.iter().filter(|t| t.checks.is_empty()).count();
        let _ = writeln!(
            out,
            "\n## {} (`--suite {}`)\n\n{} tests: {full} covered, {partly} partly, {none} not covered.\n",
            suite.title(),
            suite.name(),
            tests.len()
        );
        out.push_str("| Reference test | Category | scimlab checks | Coverage |\n|---|---|---|---|\n");
        for t in tests {
            let checks: Vec<String> = t
                .checks
                .iter()
                .map(|id| format!("`{id}` ({})", registry::find(id).title.replace('|', "\\|")))
                .collect();
            let coverage = if t.checks.is_empty() {
                t.gap.to_string()
            } else if t.gap.is_empty() {
                "covered".to_string()
            } else {
                t.gap.to_string()
            };
            let category = if t.category == Mandatory { "mandatory" } else { "optional" };
            let _ = writeln!(out, "| {} | {category} | {} | {coverage} |", t.name, checks.join("<br>"));
        }
    }
    out.push_str(
        "\n## python-scim scim2-tester (categories)\n\nscim2-tester generates its checks per resource type and \
         attribute rather than naming a fixed list, so it is mapped by category and has no `--suite`.\n\n\
         | Category | scimlab checks | Coverage |\n|---|---|---|\n",
    );
    for (category, checks, coverage) in SCIM2_TESTER {
        let ids: Vec<String> = checks.iter().map(|id| format!("`{id}`")).collect();
        let _ = writeln!(out, "| {category} | {} | {coverage} |", ids.join(", "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mapped_check_exists() {
        for t in REFERENCE_TESTS {
            for id in t.checks {
                assert!(registry::CHECKS.iter().any(|c| c.id == *id), "{} maps to unknown check {id}", t.name);
            }
        }
        for (category, checks, _) in SCIM2_TESTER {
            for id in *checks {
                assert!(registry::CHECKS.iter().any(|c| c.id == *id), "{category} maps to unknown check {id}");
            }
        }
        assert_eq!(Suite::EntraGallery.tests().count(), 25);
        assert_eq!(Suite::OktaOin.tests().count(), 13);
    }
}
