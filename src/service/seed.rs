//! Seeds: users and groups loaded at start (and again on reset), so a test target begins in
//! a known state. Accepted files: a SCIM ListResponse, a JSON array of resources, a SCIM
//! Bulk request, or a directory file in the fixtures' format (`{"users": […], "groups": […]}`
//! with Entra attribute names). Given ids are kept; a resource whose id (or userName /
//! displayName) is already there is left alone, so seeding twice changes nothing.
//! The contract is in docs/test-target.md.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::{ReadOptions, ScimService};
use crate::scim::{urn, ResourceKind};

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed file {file}: {reason}")]
    File { file: String, reason: String },
    #[error("seed file {file}, resource #{index} ({what}): {reason}")]
    Resource { file: String, index: usize, what: String, reason: String },
}

/// A seed file read and checked: its path and its resources, in file order.
pub type SeedFile = (std::path::PathBuf, Vec<(ResourceKind, Value)>);

/// What a seed did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub created: usize,
    pub already_there: usize,
}

/// Reads and checks a seed file: the resources it holds, in file order.
pub fn read(path: &Path) -> Result<Vec<(ResourceKind, Value)>, SeedError> {
    let file = path.display().to_string();
    let failed = |reason: String| SeedError::File { file: file.clone(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| failed(format!("cannot be read: {e}")))?;
    let doc: Value = serde_json::from_str(&text).map_err(|e| failed(format!("is not JSON: {e}")))?;
    parse(&doc).map_err(failed)
}

fn parse(doc: &Value) -> Result<Vec<(ResourceKind, Value)>, String> {
    let kind_of = |r: &Value| -> Result<ResourceKind, String> {
        let schemas = r.get("schemas").and_then(Value::as_array).cloned().unwrap_or_default();
        if schemas.iter().any(|s| s == urn::GROUP) {
            Ok(ResourceKind::Group)
        } else if schemas.iter().any(|s| s == urn::USER) {
            Ok(ResourceKind::User)
        } else {
            Err(format!("a resource without the User or Group schema in 'schemas': {}", short(r)))
        }
    };
    // Positions count from 0, as in the JSON array, so `#3` is `Resources[3]`.
    let each = |items: &[Value]| -> Result<Vec<(ResourceKind, Value)>, String> {
        items.iter().enumerate().map(|(i, r)| Ok((kind_of(r).map_err(|e| format!("#{i}: {e}"))?, r.clone()))).collect()
    };
    if let Some(resources) = doc.get("Resources").and_then(Value::as_array) {
        return each(resources).map_err(|e| format!("Resources {e}"));
    }
    if let Some(items) = doc.as_array() {
        return each(items).map_err(|e| format!("item {e}"));
    }
    if let Some(ops) = doc.get("Operations").and_then(Value::as_array) {
        return ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                let path = op.get("path").and_then(Value::as_str).unwrap_or_default();
                let kind = ResourceKind::from_endpoint(path.trim_start_matches('/')).ok_or_else(|| {
                    format!("Operations #{i}: a Bulk seed holds POSTs to /Users or /Groups, not '{path}'")
                })?;
                let data = op.get("data").cloned().ok_or_else(|| format!("Operations #{i}: no 'data'"))?;
                Ok((kind, data))
            })
            .collect();
    }
    if doc.get("users").is_some() || doc.get("groups").is_some() {
        return Ok(from_directory(doc));
    }
    Err("expected a ListResponse, an array of resources, a Bulk request or a directory file".into())
}

/// The fixtures' directory format as SCIM resources (ids are the objectIds).
fn from_directory(doc: &Value) -> Vec<(ResourceKind, Value)> {
    let list = |key: &str| doc.get(key).and_then(Value::as_array).cloned().unwrap_or_default();
    let text = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
    let mut out = Vec::new();
    for u in list("users") {
        let mut user =
            json!({"schemas": [urn::USER], "id": text(&u, "objectId"), "userName": text(&u, "userPrincipalName")});
        let set = |user: &mut Value, key: &str, value: Option<Value>| {
            if let Some(v) = value {
                user[key] = v;
            }
        };
        set(&mut user, "displayName", text(&u, "displayName").map(Value::String));
        set(&mut user, "title", text(&u, "jobTitle").map(Value::String));
        set(&mut user, "active", u.get("accountEnabled").cloned());
        set(&mut user, "externalId", text(&u, "mailNickname").map(Value::String));
        let name: Map<String, Value> = [("givenName", "givenName"), ("familyName", "surname")]
            .iter()
            .filter_map(|(scim, entra)| text(&u, entra).map(|v| (scim.to_string(), Value::String(v))))
            .collect();
        if !name.is_empty() {
            user["name"] = Value::Object(name);
        }
        if let Some(mail) = text(&u, "mail") {
            user["emails"] = json!([{"value": mail, "type": "work", "primary": true}]);
        }
        out.push((ResourceKind::User, user));
    }
    for g in list("groups") {
        let members: Vec<Value> = g
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().map(|id| json!({"value": id})))
            .collect();
        out.push((
            ResourceKind::Group,
            json!({"schemas": [urn::GROUP], "id": text(&g, "objectId"), "displayName": text(&g, "displayName"), "members": members}),
        ));
    }
    out
}

fn short(v: &Value) -> String {
    v.to_string().chars().take(80).collect()
}

/// Creates what is not there yet.
pub fn apply(service: &ScimService, file: &Path, resources: &[(ResourceKind, Value)]) -> Result<SeedReport, SeedError> {
    let mut report = SeedReport::default();
    let opts = ReadOptions::default();
    // Users before groups, so members resolve; `index` stays the position in the file.
    let users_first = resources
        .iter()
        .enumerate()
        .filter(|(_, (kind, _))| *kind == ResourceKind::User)
        .chain(resources.iter().enumerate().filter(|(_, (kind, _))| *kind != ResourceKind::User));
    for (index, (kind, resource)) in users_first {
        let id = resource.get("id").and_then(Value::as_str).filter(|i| !i.is_empty());
        let what = id.map_or_else(|| kind.name().to_string(), |i| format!("{} {i}", kind.name()));
        let failed = |reason: String| SeedError::Resource {
            file: file.display().to_string(),
            index,
            what: what.clone(),
            reason,
        };
        if let Some(id) = id {
            if service.get(*kind, id, &opts).is_ok() {
                report.already_there += 1;
                continue;
            }
        }
        let mut body = resource.clone();
        if let Some(obj) = body.as_object_mut() {
            obj.remove("id");
            obj.remove("meta");
        }
        match service.create_as(*kind, id, &body, &opts) {
            Ok(_) => report.created += 1,
            // Seeded before without an id: the same userName or displayName is there.
            Err(e) if e.status == 409 && id.is_none() => report.already_there += 1,
            Err(e) => return Err(failed(e.detail)),
        }
    }
    Ok(report)
}
