//! Provisioning job definition: target, source, scope, object and attribute mappings,
//! options. Field names follow the Graph synchronization schema (§7) so an Entra export
//! maps onto it; everything is compiled and checked when the job loads.

use super::graph_mapping::FlowBehavior;
use std::path::{Path, PathBuf};

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::expr::Program;
use super::scoping::ScopingFilter;
use crate::client::{Credentials, Endpoint, TlsOptions};

#[derive(Debug, Error)]
pub enum JobError {
    #[error("cannot read job file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("job file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("job {job}: {object} mapping for '{target}': {message}")]
    Mapping { job: String, object: &'static str, target: String, message: String },
    #[error("job {job}: {message}")]
    Invalid { job: String, message: String },
}

/// The SCIM endpoint to provision into.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    /// Tenant URL, e.g. `https://app.example.com/scim/v2` (Entra flags such as
    /// `?aadOptscim062020` in the query are honoured and stripped).
    pub url: String,
    /// Bearer token (Entra's "Secret Token").
    #[serde(default)]
    pub token: Option<String>,
    /// OAuth 2.0 client-credentials grant, as an alternative to `token`.
    #[serde(default)]
    pub oauth: Option<OAuthClient>,
    /// Request timeout in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// PEM file of a CA to trust besides the platform's (relative to the job file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate (self-signed development servers only; warned on every run).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
}

fn default_timeout() -> u64 {
    30
}

pub use crate::client::OAuthClient;

/// Where source users and groups come from: exactly one of `directory` and `scim`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceSpec {
    /// A JSON directory file (`{"users": [...], "groups": [...]}`) or a folder with
    /// users.csv, groups.csv and memberships.csv. Relative to the job file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<PathBuf>,
    /// Another SCIM service provider, read with paging (one scimlab mirrors another).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scim: Option<ScimSource>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScimSource {
    pub url: String,
    pub token: String,
    /// `count` per page when reading.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// PEM file of a CA to trust besides the platform's (relative to the job file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
    /// Accept any certificate (self-signed development servers only; warned on every run).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_verify: bool,
}

fn default_page_size() -> usize {
    200
}

/// The resolved source of a job.
#[derive(Debug, Clone)]
pub enum Source {
    Directory(PathBuf),
    Scim(ScimSource),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Directory(path) => write!(f, "{}", path.display()),
            Source::Scim(s) => write!(f, "SCIM endpoint {}", s.url),
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum ScopeMode {
    /// Sync only assigned users and groups (Entra's recommended default).
    #[default]
    Assigned,
    /// Sync all users and groups.
    All,
}

/// Users and groups assigned to the application (by objectId, userPrincipalName or group
/// displayName).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Assignments {
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum FlowType {
    /// Apply on create and update.
    #[default]
    Always,
    /// Apply only when the object is created ("Only during object creation").
    ObjectAddOnly,
}

/// One attribute mapping, field for field Graph's `attributeMapping`. `source` is an
/// expression: `[attr]` (Direct), `"text"` (Constant) or a function call (Expression), as a
/// string or as Graph's `attributeMappingSource` tree; `null` with a `defaultValue` is
/// Entra's "None" mapping.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttributeMapping {
    pub target_attribute_name: String,
    #[serde(default, deserialize_with = "super::graph_mapping::source")]
    pub source: Option<String>,
    /// Used only on create, when the source evaluates to null.
    #[serde(default)]
    pub default_value: Option<String>,
    /// 0: not matching; 1, 2, …: matching attributes in precedence order.
    #[serde(default)]
    pub matching_priority: u32,
    #[serde(default)]
    pub flow_type: FlowType,
    /// Graph's `flowBehavior`; only `FlowWhenChanged` (what scimlab does) is accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_behavior: Option<FlowBehavior>,
    /// Graph's `exportMissingReferences`; only `false` (Entra's default) is accepted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub export_missing_references: bool,
}

/// Mappings of one object type (User or Group).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMapping {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Target object actions, e.g. "Add, Update, Delete".
    #[serde(default = "all_flows")]
    pub flow_types: String,
    /// Scoping filters: clauses AND-ed within a filter, filters OR-ed.
    #[serde(default)]
    pub scope: Vec<ScopingFilter>,
    pub attribute_mappings: Vec<AttributeMapping>,
}

fn yes() -> bool {
    true
}

fn all_flows() -> String {
    "Add, Update, Delete".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Options {
    /// Entra's `aadOptscim062020` flag: RFC-compliant PATCH (lower-case ops, boolean
    /// active, path-less replace, member removal by filter).
    #[serde(default, rename = "aadOptscim062020")]
    pub aad_opt_scim_062020: bool,
    /// Leave accounts that go out of scope alone instead of disabling them.
    #[serde(default)]
    pub skip_out_of_scope_deletions: bool,
    /// Stop before more than this many disables/deletes in one cycle (0: no limit).
    #[serde(default = "default_threshold")]
    pub deletion_threshold: usize,
    /// Seconds between cycles with `--watch` (Entra: about 40 minutes).
    #[serde(default = "default_interval")]
    pub interval_seconds: u64,
    /// `DefaultDomain()`.
    #[serde(default = "default_domain")]
    pub default_domain: String,
    /// Objects processed at once, so requests in flight towards the target never exceed it.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Retries of transient failures within a cycle.
    #[serde(default)]
    pub retry: crate::client::RetryPolicy,
    /// Quarantine thresholds and schedule (Entra's by default).
    #[serde(default)]
    pub quarantine: super::health::QuarantinePolicy,
    /// Called (POST, JSON) on quarantine, its lifting, disabling, deletion-threshold stops
    /// and failed cycles.
    #[serde(default)]
    pub webhook_url: Option<String>,
}

fn default_concurrency() -> usize {
    4
}

fn default_threshold() -> usize {
    500
}
fn default_interval() -> u64 {
    2400
}
fn default_domain() -> String {
    "contoso.com".into()
}

impl Default for Options {
    fn default() -> Self {
        Options {
            aad_opt_scim_062020: false,
            skip_out_of_scope_deletions: false,
            deletion_threshold: default_threshold(),
            interval_seconds: default_interval(),
            default_domain: default_domain(),
            concurrency: default_concurrency(),
            retry: Default::default(),
            quarantine: Default::default(),
            webhook_url: None,
        }
    }
}

/// A job file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobSpec {
    pub name: String,
    pub target: Target,
    pub source: SourceSpec,
    #[serde(default)]
    pub scope: ScopeMode,
    #[serde(default)]
    pub assignments: Assignments,
    /// User mappings; omitted means the defaults of a generic SCIM app (§2.4).
    #[serde(default)]
    pub users: Option<ObjectMapping>,
    /// Group mappings; omitted means the defaults.
    #[serde(default)]
    pub groups: Option<ObjectMapping>,
    #[serde(default)]
    pub options: Options,
    /// The ids the Graph-shaped API serves the job under (derived from the name when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<super::graph::GraphIds>,
}

/// A compiled attribute mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub target: String,
    pub program: Option<Program>,
    pub default_value: Option<String>,
    pub matching_priority: u32,
    pub flow_type: FlowType,
}

impl Mapping {
    pub fn is_matching(&self) -> bool {
        self.matching_priority > 0
    }

    /// `[members]` / `[manager]`: reference attributes resolved through links.
    pub fn reference(&self) -> Option<&str> {
        let source = self.program.as_ref()?.text().trim();
        match source {
            "[manager]" => Some("manager"),
            "[members]" => Some("members"),
            _ => None,
        }
    }
}

/// A compiled object mapping.
#[derive(Debug, Clone)]
pub struct CompiledObject {
    pub enabled: bool,
    pub add: bool,
    pub update: bool,
    pub delete: bool,
    pub scope: Vec<ScopingFilter>,
    pub mappings: Vec<Mapping>,
}

impl CompiledObject {
    /// Roles come from `AppRoleAssignmentsComplex` or `SingleAppRoleAssignment`, whose
    /// legacy PATCH is add-only with stringified role objects (not the Assertive variant).
    pub fn legacy_role_mapping(&self) -> bool {
        self.mappings.iter().any(|m| {
            m.target == "roles"
                && m.program.as_ref().is_some_and(|p| {
                    let text = p.text();
                    (text.contains("AppRoleAssignmentsComplex(") && !text.contains("Assertive"))
                        || text.contains("SingleAppRoleAssignment(")
                })
        })
    }

    /// Matching mappings in precedence order.
    pub fn matching(&self) -> Vec<&Mapping> {
        let mut m: Vec<&Mapping> = self.mappings.iter().filter(|m| m.is_matching()).collect();
        m.sort_by_key(|m| m.matching_priority);
        m
    }
}

/// A loaded, checked job.
#[derive(Debug, Clone)]
pub struct Job {
    pub spec: JobSpec,
    /// Directory of the job file (relative paths resolve against it).
    pub base_dir: PathBuf,
    pub users: CompiledObject,
    pub groups: CompiledObject,
    /// Hash of mappings and scoping filters: when it changes the next cycle is a full one (§4.3).
    pub config_hash: String,
}

impl Job {
    pub fn load(path: &Path) -> Result<Job, JobError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| JobError::Read { path: path.display().to_string(), source })?;
        let spec: JobSpec = serde_json::from_str(&text)
            .map_err(|e| JobError::Parse { path: path.display().to_string(), message: e.to_string() })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Job::from_spec(spec, base_dir)
    }

    pub fn from_spec(spec: JobSpec, base_dir: PathBuf) -> Result<Job, JobError> {
        check_name(&spec.name)?;
        let users_spec = spec.users.clone().unwrap_or_else(default_user_mapping);
        let groups_spec = spec.groups.clone().unwrap_or_else(default_group_mapping);
        let users = compile_object(&spec.name, "User", &users_spec)?;
        let groups = compile_object(&spec.name, "Group", &groups_spec)?;
        if users.enabled && users.matching().is_empty() {
            return Err(JobError::Invalid {
                job: spec.name.clone(),
                message: "the user mapping needs a matching attribute (matchingPriority 1)".into(),
            });
        }
        if groups.enabled && groups.matching().is_empty() {
            return Err(JobError::Invalid {
                job: spec.name.clone(),
                message: "the group mapping needs a matching attribute (matchingPriority 1)".into(),
            });
        }
        if spec.source.directory.is_some() == spec.source.scim.is_some() {
            return Err(JobError::Invalid {
                job: spec.name.clone(),
                message: "source needs exactly one of 'directory' (a JSON file or CSV folder) and 'scim' (url, token)"
                    .into(),
            });
        }
        if spec.target.token.is_none() && spec.target.oauth.is_none() {
            return Err(JobError::Invalid {
                job: spec.name.clone(),
                message: "target needs a 'token' or 'oauth' credentials".into(),
            });
        }
        // Mappings and scoping filters: a change re-evaluates everything (§4.3). Assignments
        // and the scope mode are not in it: an assignment edit changes which objects are in
        // scope, and their fingerprints carry that, so an incremental cycle picks them up.
        let config_hash = {
            let material = serde_json::json!([users_spec, groups_spec]).to_string();
            super::state::fingerprint(material.as_bytes())
        };
        Ok(Job { spec, base_dir, users, groups, config_hash })
    }

    /// A path from the job file, resolved against the job file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// How to reach the target: URL, credentials, timeout and TLS trust.
    pub fn target_endpoint(&self) -> Endpoint {
        let t = &self.spec.target;
        let credentials = match (&t.token, &t.oauth) {
            (_, Some(oauth)) => Credentials::OAuth(oauth.clone()),
            (token, None) => Credentials::Bearer(token.clone().unwrap_or_default()),
        };
        Endpoint {
            url: t.url.clone(),
            credentials,
            timeout: Duration::from_secs(t.timeout_seconds.max(1)),
            tls: TlsOptions::with_ca(t.ca_cert.as_deref().map(|p| self.resolve(p)), t.insecure_skip_verify),
        }
    }

    /// How to reach a SCIM source.
    pub fn source_endpoint(&self, source: &ScimSource) -> Endpoint {
        Endpoint {
            url: source.url.clone(),
            credentials: Credentials::Bearer(source.token.clone()),
            timeout: Duration::from_secs(self.spec.target.timeout_seconds.max(1)),
            tls: TlsOptions::with_ca(source.ca_cert.as_deref().map(|p| self.resolve(p)), source.insecure_skip_verify),
        }
    }

    /// Warnings to show on every run (certificate verification turned off).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.spec.target.insecure_skip_verify {
            warnings.push(format!(
                "job {}: target.insecureSkipVerify is on: the target's certificate is not checked; use it only for development servers",
                self.spec.name
            ));
        }
        if self.spec.source.scim.as_ref().is_some_and(|s| s.insecure_skip_verify) {
            warnings.push(format!(
                "job {}: source.scim.insecureSkipVerify is on: the source's certificate is not checked",
                self.spec.name
            ));
        }
        warnings
    }

    /// The source, with a relative directory resolved against the job file.
    pub fn source(&self) -> Source {
        match (&self.spec.source.directory, &self.spec.source.scim) {
            (_, Some(scim)) => Source::Scim(scim.clone()),
            (Some(dir), None) if dir.is_absolute() => Source::Directory(dir.clone()),
            (Some(dir), None) => Source::Directory(self.base_dir.join(dir)),
            (None, None) => Source::Directory(self.base_dir.clone()),
        }
    }
}

/// Job names become directory names (`.scimlab/state/<name>`, `<data>/jobs/<name>`), so
/// they are held to what is safe as one: 1–64 letters, digits, `-`, `_` or `.`, not
/// starting with a dot.
fn check_name(name: &str) -> Result<(), JobError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(JobError::Invalid {
            job: name.to_string(),
            message: "'name' must be 1–64 letters, digits, '-', '_' or '.', not starting with '.' (it names the job's state directory)".into(),
        })
    }
}

fn compile_object(job: &str, object: &'static str, spec: &ObjectMapping) -> Result<CompiledObject, JobError> {
    let flows: Vec<String> = spec.flow_types.split(',').map(|f| f.trim().to_ascii_lowercase()).collect();
    let mut mappings = Vec::new();
    for m in &spec.attribute_mappings {
        let err = |message: String| JobError::Mapping {
            job: job.to_string(),
            object,
            target: m.target_attribute_name.clone(),
            message,
        };
        if m.flow_behavior == Some(FlowBehavior::FlowAlways) {
            return Err(err(
                "flowBehavior FlowAlways is not emulated: scimlab sends an attribute when its value changed (FlowWhenChanged); remove the field or set FlowWhenChanged".into(),
            ));
        }
        if m.export_missing_references {
            return Err(err(
                "exportMissingReferences true is not emulated: a reference to an object that is not provisioned is not sent (Entra's default, false); remove the field or set false".into(),
            ));
        }
        let program = match &m.source {
            Some(text) => Some(Program::compile(text).map_err(|e| err(format!("{e} in {text}")))?),
            None if m.default_value.is_some() => None,
            None => return Err(err("needs a 'source' expression or a 'defaultValue'".into())),
        };
        crate::filter::parse_patch_path(&m.target_attribute_name, crate::filter::FilterLimits::default())
            .map_err(|e| err(format!("target attribute is not a SCIM path: {e}")))?;
        mappings.push(Mapping {
            target: m.target_attribute_name.clone(),
            program,
            default_value: m.default_value.clone(),
            matching_priority: m.matching_priority,
            flow_type: m.flow_type,
        });
    }
    for s in &spec.scope {
        s.check().map_err(|message| JobError::Invalid {
            job: job.to_string(),
            message: format!("{object} scoping filter '{}': {message}", s.name),
        })?;
    }
    Ok(CompiledObject {
        enabled: spec.enabled,
        add: flows.iter().any(|f| f == "add"),
        update: flows.iter().any(|f| f == "update"),
        delete: flows.iter().any(|f| f == "delete"),
        scope: spec.scope.clone(),
        mappings,
    })
}

fn map(target: &str, source: &str) -> AttributeMapping {
    AttributeMapping {
        target_attribute_name: target.into(),
        source: Some(source.into()),
        default_value: None,
        matching_priority: 0,
        flow_type: FlowType::Always,
        flow_behavior: None,
        export_missing_references: false,
    }
}

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The out-of-box user mappings of a non-gallery SCIM app (docs/entra-behaviour.md §2.4).
pub fn default_user_mapping() -> ObjectMapping {
    let mut user_name = map("userName", "[userPrincipalName]");
    user_name.matching_priority = 1;
    ObjectMapping {
        enabled: true,
        flow_types: all_flows(),
        scope: Vec::new(),
        attribute_mappings: vec![
            user_name,
            map("active", r#"Switch([IsSoftDeleted], , "False", "True", "True", "False")"#),
            map("displayName", "[displayName]"),
            map("title", "[jobTitle]"),
            map("emails[type eq \"work\"].value", "[mail]"),
            map("preferredLanguage", "[preferredLanguage]"),
            map("name.givenName", "[givenName]"),
            map("name.familyName", "[surname]"),
            map("name.formatted", r#"Join(" ", [givenName], [surname])"#),
            map("addresses[type eq \"work\"].formatted", "[physicalDeliveryOfficeName]"),
            map("addresses[type eq \"work\"].streetAddress", "[streetAddress]"),
            map("addresses[type eq \"work\"].locality", "[city]"),
            map("addresses[type eq \"work\"].region", "[state]"),
            map("addresses[type eq \"work\"].postalCode", "[postalCode]"),
            map("addresses[type eq \"work\"].country", "[country]"),
            map("phoneNumbers[type eq \"work\"].value", "[telephoneNumber]"),
            map("phoneNumbers[type eq \"mobile\"].value", "[mobile]"),
            map("phoneNumbers[type eq \"fax\"].value", "[facsimileTelephoneNumber]"),
            map("externalId", "[mailNickname]"),
            map(&format!("{ENTERPRISE}:employeeNumber"), "[employeeId]"),
            map(&format!("{ENTERPRISE}:department"), "[department]"),
            map(&format!("{ENTERPRISE}:manager"), "[manager]"),
        ],
    }
}

/// Default group mappings: displayName (matching), objectId → externalId, members.
pub fn default_group_mapping() -> ObjectMapping {
    let mut display = map("displayName", "[displayName]");
    display.matching_priority = 1;
    ObjectMapping {
        enabled: true,
        flow_types: all_flows(),
        scope: Vec::new(),
        attribute_mappings: vec![display, map("externalId", "[objectId]"), map("members", "[members]")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented examples stay loadable as the job format grows.
    #[test]
    fn the_fixture_jobs_load() {
        for file in ["fixtures/jobs/example.json", "fixtures/jobs/demo.json"] {
            let job = Job::load(Path::new(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(!job.users.matching().is_empty(), "{file}");
        }
        let example = Job::load(Path::new("fixtures/jobs/example.json")).unwrap();
        assert_eq!(example.spec.options.concurrency, 4);
        assert_eq!(example.spec.options.webhook_url.as_deref(), Some("https://hooks.example.com/scimlab"));
    }
}
