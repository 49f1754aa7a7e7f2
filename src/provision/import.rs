//! `scimlab provision import-entra`: turns a Graph `synchronizationSchema` export (the JSON
//! the portal's schema editor downloads, docs/entra-behaviour.md §7) into a job, so a
//! tenant's real mappings and scoping filters run locally.

use serde::Deserialize;
use serde_json::Value;

use super::job::{
    AttributeMapping, FlowType, Job, JobError, JobSpec, ObjectMapping, Options, ScopeMode, SourceSpec, Target,
};
use super::scoping::ScopingFilter;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{path}: not JSON: {message}")]
    Json { path: String, message: String },
    #[error("{path}: {message}")]
    Shape { path: String, message: String },
    #[error(transparent)]
    Job(#[from] JobError),
}

/// What the import needs beyond the export (which never carries credentials).
#[derive(Debug, Clone)]
pub struct ImportSettings {
    pub name: String,
    pub url: String,
    pub token: String,
    pub directory: std::path::PathBuf,
    /// Entra keeps this in the job's secrets (`SyncAll`), not in the schema.
    pub scope: ScopeMode,
}

/// The job and the notes a user should read (things that were approximated or dropped).
#[derive(Debug)]
pub struct Imported {
    pub spec: JobSpec,
    pub notes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    name: String,
    #[serde(default)]
    object_mappings: Vec<GraphObjectMapping>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphObjectMapping {
    #[serde(default)]
    name: String,
    #[serde(default = "enabled")]
    enabled: bool,
    #[serde(default)]
    flow_types: Option<String>,
    source_object_name: String,
    #[serde(default)]
    scope: Option<GraphFilter>,
    #[serde(default)]
    attribute_mappings: Vec<GraphAttributeMapping>,
}

fn enabled() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphFilter {
    #[serde(default)]
    groups: Vec<ScopingFilter>,
    #[serde(default)]
    input_filter_groups: Vec<Value>,
    #[serde(default)]
    category_filter_groups: Vec<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphAttributeMapping {
    target_attribute_name: String,
    #[serde(default, deserialize_with = "super::graph_mapping::source")]
    source: Option<String>,
    #[serde(default)]
    default_value: Option<String>,
    #[serde(default)]
    matching_priority: u32,
    #[serde(default)]
    flow_type: Option<String>,
    #[serde(default)]
    flow_behavior: Option<String>,
    #[serde(default)]
    export_missing_references: bool,
}

/// Finds the synchronization rules whether the file is a schema, a job (`{"schema": …}`) or
/// a bare rule list.
fn rules(root: &Value) -> Option<&Vec<Value>> {
    root.get("synchronizationRules")
        .or_else(|| root.get("schema").and_then(|s| s.get("synchronizationRules")))
        .and_then(Value::as_array)
        .or_else(|| root.as_array())
}

pub fn import_entra(text: &str, path: &str, settings: &ImportSettings) -> Result<Imported, ImportError> {
    let root: Value =
        serde_json::from_str(text).map_err(|e| ImportError::Json { path: path.into(), message: e.to_string() })?;
    let rules = rules(&root).ok_or_else(|| ImportError::Shape {
        path: path.into(),
        message: "no 'synchronizationRules' found; export the schema with GET …/synchronization/jobs/{id}/schema \
                  or the portal's 'Review your schema' download"
            .into(),
    })?;
    let mut notes = Vec::new();
    if let Some(directories) = root.get("directories").and_then(Value::as_array).filter(|d| !d.is_empty()) {
        notes.push(format!(
            "directories: {} attribute-definition lists not imported; the target's attributes come from its own /Schemas",
            directories.len()
        ));
    }
    let (mut users, mut groups) = (None, None);
    for (i, raw_rule) in rules.iter().enumerate() {
        let rule: Rule = serde_json::from_value(raw_rule.clone()).map_err(|e| ImportError::Shape {
            path: path.into(),
            message: format!("synchronizationRules[{i}]: {e}"),
        })?;
        note_unread(&mut notes, &format!("synchronizationRules[{i}] ({})", rule.name), raw_rule, RULE_FIELDS);
        for (j, mapping) in rule.object_mappings.into_iter().enumerate() {
            let at = format!("synchronizationRules[{i}] ({}) objectMappings[{j}] ({})", rule.name, mapping.name);
            let raw_mapping = &raw_rule["objectMappings"][j];
            note_unread(&mut notes, &at, raw_mapping, OBJECT_MAPPING_FIELDS);
            for (k, raw) in raw_mapping["attributeMappings"].as_array().into_iter().flatten().enumerate() {
                note_unread(&mut notes, &format!("{at} attributeMappings[{k}]"), raw, ATTRIBUTE_MAPPING_FIELDS);
            }
            let slot = match mapping.source_object_name.as_str() {
                "User" => &mut users,
                "Group" => &mut groups,
                other => {
                    notes.push(format!("{at}: source object '{other}' is not a User or Group and was skipped"));
                    continue;
                }
            };
            if slot.is_some() {
                notes.push(format!("{at}: a second {} mapping was skipped", mapping.source_object_name));
                continue;
            }
            *slot = Some(convert_object(mapping, &at, &mut notes));
        }
    }
    if settings.scope == ScopeMode::Assigned {
        notes.push("scope is 'assigned': list users or groups under 'assignments' before the first run".into());
    }
    if users.is_none() {
        notes.push("no User mapping in the export: the default mappings of a generic SCIM app are used".into());
    }
    let spec = JobSpec {
        name: settings.name.clone(),
        target: Target {
            url: settings.url.clone(),
            token: Some(settings.token.clone()),
            oauth: None,
            timeout_seconds: 30,
            ca_cert: None,
            insecure_skip_verify: false,
        },
        source: SourceSpec { directory: Some(settings.directory.clone()), scim: None },
        scope: settings.scope,
        assignments: Default::default(),
        users,
        groups,
        options: Options::default(),
        graph: None,
    };
    // Compile now, so an unsupported function or bad path is reported against the export.
    Job::from_spec(spec.clone(), std::path::PathBuf::new())?;
    Ok(Imported { spec, notes })
}

/// The fields of each level the import reads; anything else that carries a value is
/// reported, never dropped silently.
const RULE_FIELDS: &[&str] = &["name", "objectMappings"];
const OBJECT_MAPPING_FIELDS: &[&str] =
    &["name", "enabled", "flowTypes", "sourceObjectName", "scope", "attributeMappings"];
const ATTRIBUTE_MAPPING_FIELDS: &[&str] = &[
    "targetAttributeName",
    "source",
    "defaultValue",
    "matchingPriority",
    "flowType",
    "flowBehavior",
    "exportMissingReferences",
];

fn note_unread(notes: &mut Vec<String>, at: &str, raw: &Value, read: &[&str]) {
    let Some(fields) = raw.as_object() else { return };
    let empty = |v: &Value| match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    let unread: Vec<&str> =
        fields.iter().filter(|(k, v)| !read.contains(&k.as_str()) && !empty(v)).map(|(k, _)| k.as_str()).collect();
    if !unread.is_empty() {
        notes.push(format!("{at}: {} not kept in the job", unread.join(", ")));
    }
}

fn convert_object(mapping: GraphObjectMapping, at: &str, notes: &mut Vec<String>) -> ObjectMapping {
    let scope = match mapping.scope {
        None => Vec::new(),
        Some(filter) => {
            if !filter.input_filter_groups.is_empty() || !filter.category_filter_groups.is_empty() {
                notes.push(format!(
                    "{at}: inputFilterGroups/categoryFilterGroups are internal to Entra and were ignored"
                ));
            }
            filter.groups
        }
    };
    let attribute_mappings = mapping
        .attribute_mappings
        .into_iter()
        .map(|m| {
            let flow_type = match m.flow_type.as_deref() {
                None | Some("Always") => FlowType::Always,
                Some("ObjectAddOnly") => FlowType::ObjectAddOnly,
                Some(other) => {
                    notes.push(format!("{at}: '{}' has flowType {other}, applied as Always", m.target_attribute_name));
                    FlowType::Always
                }
            };
            if m.flow_behavior.as_deref() == Some("FlowAlways") {
                notes.push(format!(
                    "{at}: '{}' has flowBehavior FlowAlways; scimlab exports only when the value differs",
                    m.target_attribute_name
                ));
            }
            if m.export_missing_references {
                notes.push(format!(
                    "{at}: '{}' has exportMissingReferences true; scimlab does not send references to objects it has not provisioned (false)",
                    m.target_attribute_name
                ));
            }
            AttributeMapping {
                target_attribute_name: m.target_attribute_name,
                source: m.source,
                default_value: m.default_value,
                matching_priority: m.matching_priority,
                flow_type,
                flow_behavior: None,
                export_missing_references: false,
            }
        })
        .collect();
    ObjectMapping {
        enabled: mapping.enabled,
        flow_types: mapping.flow_types.unwrap_or_else(|| "Add, Update, Delete".into()),
        scope,
        attribute_mappings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ImportSettings {
        ImportSettings {
            name: "imported".into(),
            url: "http://127.0.0.1:1/scim/v2".into(),
            token: "t".into(),
            directory: "directory.json".into(),
            scope: ScopeMode::All,
        }
    }

    #[test]
    fn fields_the_job_does_not_keep_are_reported() {
        let schema = serde_json::json!({"directories": [{"name": "customappsso"}], "synchronizationRules": [{
            "id": "AD2SCIM", "name": "USER", "objectMappings": [{
                "name": "Users", "sourceObjectName": "User", "targetObjectName": "urn:x", "metadata": [],
                "attributeMappings": [{"targetAttributeName": "userName", "source": "[userPrincipalName]",
                                       "matchingPriority": 1, "futureField": 7}]}]}]});
        let imported = import_entra(&schema.to_string(), "schema.json", &settings()).unwrap();
        let notes = imported.notes.join("\n");
        assert!(notes.contains("directories: 1"), "{notes}");
        assert!(notes.contains("synchronizationRules[0] (USER): id not kept"), "{notes}");
        assert!(notes.contains("objectMappings[0] (Users): targetObjectName not kept"), "{notes}");
        assert!(notes.contains("attributeMappings[0]: futureField not kept"), "{notes}");
        assert!(!notes.contains("metadata"), "empty fields are not noise: {notes}");
    }

    #[test]
    fn missing_rules_are_explained() {
        let err = import_entra("{}", "schema.json", &settings()).unwrap_err().to_string();
        assert!(err.contains("synchronizationRules"), "{err}");
        let err = import_entra("{", "schema.json", &settings()).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }
}
