//! A job's mappings as the portal's attribute-mapping blade lists them: per object type,
//! whether it is enabled and for which actions, its scoping filters, its matching attributes
//! in precedence order, and every attribute mapping with its source, default and apply mode.
//! Read-only; built from the compiled job, so defaults the job file left out are shown too.

use serde_json::{json, Value};

use super::job::{CompiledObject, FlowType, Mapping};
use super::Job;

/// The admin API's `GET /admin/jobs/{job}/mappings` document.
pub fn describe(job: &Job) -> Value {
    json!({
        "job": job.spec.name,
        "scope": job.spec.scope,
        "assignments": job.spec.assignments,
        "objectMappings": [object("User", &job.users), object("Group", &job.groups)],
    })
}

fn object(source: &str, compiled: &CompiledObject) -> Value {
    let actions: Vec<&str> = [(compiled.add, "Create"), (compiled.update, "Update"), (compiled.delete, "Delete")]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
    json!({
        "sourceObjectName": source,
        "targetObjectName": source,
        "enabled": compiled.enabled,
        "targetObjectActions": actions,
        "scopingFilters": compiled.scope,
        "matchingAttributes": compiled.matching().iter().map(|m| m.target.as_str()).collect::<Vec<_>>(),
        "attributeMappings": compiled.mappings.iter().map(attribute).collect::<Vec<_>>(),
    })
}

fn attribute(m: &Mapping) -> Value {
    json!({
        "targetAttributeName": m.target,
        "source": m.program.as_ref().map(|p| p.text()),
        "defaultValue": m.default_value,
        "matchingPriority": m.matching_priority,
        "apply": match m.flow_type {
            FlowType::Always => "Always",
            FlowType::ObjectAddOnly => "Only during object creation",
        },
    })
}
