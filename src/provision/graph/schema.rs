//! A job as Graph's `synchronizationSchema` and back (docs/graph-api.md, "Schema"): the
//! export `GET …/jobs/{id}/schema` and `scimlab provision export-entra` write, and what
//! `PUT …/schema` and `import-entra` read (through [`crate::provision::import`]).

use serde_json::{json, Value};

use super::GraphIds;
use crate::provision::expr::{Expr, Program};
use crate::provision::import::{import_entra, ImportError, ImportSettings};
use crate::provision::job::{default_group_mapping, default_user_mapping, FlowType, JobSpec, ObjectMapping};

pub const SOURCE_DIRECTORY: &str = "Azure Active Directory";
pub const TARGET_DIRECTORY: &str = "customappsso";

/// The one synchronization rule of a scimlab job (users and groups to the SCIM app).
pub fn rule_id(ids: &GraphIds) -> String {
    format!("{}#V2", ids.job_id)
}

/// The job's mappings, scoping and matching as a `synchronizationSchema`.
pub fn export(spec: &JobSpec, ids: &GraphIds) -> Value {
    let users = spec.users.clone().unwrap_or_else(default_user_mapping);
    let groups = spec.groups.clone().unwrap_or_else(default_group_mapping);
    json!({
        "id": ids.job_id,
        "version": "scimlab",
        "directories": [
            directory("AzureActiveDirectory", SOURCE_DIRECTORY, &users, &groups, Side::Source),
            directory(TARGET_DIRECTORY, TARGET_DIRECTORY, &users, &groups, Side::Target),
        ],
        "synchronizationRules": [{
            "id": rule_id(ids),
            "name": "USER_GROUP_OUTBOUND",
            "editable": true,
            "priority": 1,
            "sourceDirectoryName": SOURCE_DIRECTORY,
            "targetDirectoryName": TARGET_DIRECTORY,
            "metadata": [{"key": "supportsProvisionOnDemand", "value": "true"}],
            "objectMappings": [object_mapping("User", &users), object_mapping("Group", &groups)],
        }],
    })
}

fn object_mapping(object: &str, mapping: &ObjectMapping) -> Value {
    let scope = if mapping.scope.is_empty() {
        Value::Null
    } else {
        json!({"groups": mapping.scope, "inputFilterGroups": [], "categoryFilterGroups": []})
    };
    json!({
        "name": format!("Provision Azure Active Directory {object}s"),
        "enabled": mapping.enabled,
        "sourceObjectName": object,
        "targetObjectName": object,
        "flowTypes": mapping.flow_types,
        "scope": scope,
        "metadata": [],
        "attributeMappings": mapping.attribute_mappings.iter().map(|m| json!({
            "targetAttributeName": m.target_attribute_name,
            "source": m.source.as_deref().map(source_tree),
            "defaultValue": m.default_value,
            "exportMissingReferences": m.export_missing_references,
            "flowBehavior": "FlowWhenChanged",
            "flowType": match m.flow_type { FlowType::Always => "Always", FlowType::ObjectAddOnly => "ObjectAddOnly" },
            "matchingPriority": m.matching_priority,
        })).collect::<Vec<_>>(),
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Side {
    Source,
    Target,
}

/// The attributes each side's objects have, as the mappings name them: source attributes
/// read by the expressions, target attributes written by the mappings.
fn directory(id: &str, name: &str, users: &ObjectMapping, groups: &ObjectMapping, side: Side) -> Value {
    let object = |object: &str, mapping: &ObjectMapping| {
        let mut names: Vec<String> = Vec::new();
        for m in &mapping.attribute_mappings {
            match side {
                Side::Target => names.push(m.target_attribute_name.clone()),
                Side::Source => {
                    if let Some(program) = m.source.as_deref().and_then(|s| Program::compile(s).ok()) {
                        names.extend(program.attributes());
                    }
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        names.retain(|n| seen.insert(n.to_lowercase()));
        let attributes: Vec<Value> = names.iter().map(|n| attribute_definition(n, object, side)).collect();
        json!({"name": object, "attributes": attributes, "supportedApis": [], "metadata": []})
    };
    json!({
        "id": id,
        "name": name,
        "readOnly": side == Side::Source,
        "version": null,
        "discoverabilities": "None",
        "metadata": [],
        "objects": [object("User", users), object("Group", groups)],
    })
}

fn attribute_definition(name: &str, object: &str, side: Side) -> Value {
    let lower = name.to_lowercase();
    let reference = match (side, lower.as_str()) {
        (_, "manager") => Some("User"),
        (Side::Source, "members") => Some("User"),
        (Side::Target, "members") => Some("User"),
        _ if lower.ends_with(":manager") => Some("User"),
        _ => None,
    };
    let anchor = match (side, object) {
        (Side::Source, _) => lower == "objectid",
        (Side::Target, _) => lower == "id",
    };
    json!({
        "name": name,
        "type": if reference.is_some() { "Reference" } else if lower == "active" || lower == "accountenabled" { "Boolean" } else { "String" },
        "anchor": anchor,
        "caseExact": false,
        "flowNullValues": false,
        "multivalued": lower == "members" || lower.starts_with("emails") && !lower.contains(']') ,
        "mutability": "ReadWrite",
        "required": lower == "username" || (object == "Group" && lower == "displayname"),
        "referencedObjects": reference.map(|r| vec![json!({"referencedObjectName": r, "referencedProperty": null})]).unwrap_or_default(),
        "apiExpressions": [],
        "metadata": [],
    })
}

/// An expression as Graph's `attributeMappingSource` tree; `expression` always carries the
/// whole text, so a reader never depends on the parameter names (which Microsoft documents
/// only for some functions).
pub fn source_tree(text: &str) -> Value {
    match Program::compile(text) {
        Ok(program) => node(program.expr()),
        Err(_) => json!({"expression": text, "name": text, "type": "Function", "parameters": []}),
    }
}

fn node(expr: &Expr) -> Value {
    let expression = expr.to_string();
    match expr {
        Expr::Attr(name) => json!({"expression": expression, "name": name, "type": "Attribute", "parameters": []}),
        Expr::Str(text) => json!({"expression": expression, "name": text, "type": "Constant", "parameters": []}),
        Expr::Num(n) | Expr::Ident(n) => {
            json!({"expression": expression, "name": n, "type": "Constant", "parameters": []})
        }
        Expr::Compare { .. } => {
            json!({"expression": expression, "name": expression, "type": "Constant", "parameters": []})
        }
        Expr::Call { name, args, .. } => {
            let parameters: Vec<Value> = args
                .iter()
                .enumerate()
                .filter_map(|(i, arg)| arg.as_ref().map(|a| json!({"key": parameter_name(name, i), "value": node(a)})))
                .collect();
            json!({"expression": expression, "name": name, "type": "Function", "parameters": parameters})
        }
    }
}

/// Graph's `parameters[].key` for a function argument: the formal names Microsoft shows
/// (Replace's come from Graph's parseExpression sample), else `source` then `value<n>`.
fn parameter_name(function: &str, index: usize) -> String {
    let names: &[&str] = match function {
        "Append" => &["source", "suffix"],
        "Replace" => {
            &["source", "Find", "RegexPattern", "RegexGroupName", "Replacement", "ReplacementAttributeName", "Template"]
        }
        "Mid" => &["source", "start", "length"],
        "Join" | "Coalesce" => {
            return if function == "Join" && index == 0 { "separator".into() } else { "source".into() }
        }
        "FormatDateTime" => &["source", "dateTimeStyles", "inputFormat", "outputFormat"],
        "IIF" => &["condition", "valueIfTrue", "valueIfFalse"],
        "Switch" => {
            return if index == 0 {
                "source".into()
            } else if index == 1 {
                "defaultValue".into()
            } else if index.is_multiple_of(2) {
                "key".into()
            } else {
                "value".into()
            }
        }
        "Left" => &["String", "NumChars"],
        "Word" => &["String", "WordNumber", "Delimiters"],
        "Split" => &["source", "delimiter"],
        "Item" => &["attribute", "index"],
        "ToLower" | "ToUpper" => &["source", "culture"],
        "DateAdd" | "DateDiff" => &["interval", "value", "dateTime"],
        _ => &["source"],
    };
    names.get(index).map_or_else(|| format!("value{}", index + 1), |n| n.to_string())
}

/// A `PUT …/schema` (or an export read back): the job with the schema's mappings and
/// scoping, everything else (target, source, secrets) kept. Notes say what was not kept.
pub fn apply(spec: &JobSpec, schema_text: &str, origin: &str) -> Result<(JobSpec, Vec<String>), ImportError> {
    let settings = ImportSettings {
        name: spec.name.clone(),
        url: spec.target.url.clone(),
        token: spec.target.token.clone().unwrap_or_default(),
        directory: spec.source.directory.clone().unwrap_or_default(),
        scope: spec.scope,
    };
    let imported = import_entra(schema_text, origin, &settings)?;
    let mut changed = spec.clone();
    changed.users = imported.spec.users;
    changed.groups = imported.spec.groups;
    let notes = imported.notes.into_iter().filter(|n| !n.starts_with("scope is 'assigned'")).collect();
    Ok((changed, notes))
}
