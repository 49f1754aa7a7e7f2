//! A SCIM service provider as the source: its Users and Groups under Entra attribute
//! names, so the default mappings apply unchanged (id → objectId, userName →
//! userPrincipalName, active → accountEnabled, enterprise manager → manager, members →
//! member ids). Pages go into the cycle's snapshot as they arrive, so the engine never
//! holds the source.

use serde_json::{Map, Value};

use super::directory::{Directory, SnapshotWriter, SourceEntry};
use super::engine::EngineError;
use crate::client::ScimClient;
use crate::scim::ResourceKind;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Reads every User, then every Group, `page_size` at a time.
pub async fn load(source: &ScimClient, page_size: usize) -> Result<Directory, EngineError> {
    let mut snapshot = SnapshotWriter::new()?;
    let users = read_kind(source, ResourceKind::User, page_size, &mut snapshot, as_source_user).await?;
    let groups = read_kind(source, ResourceKind::Group, page_size, &mut snapshot, as_source_group).await?;
    Ok(Directory::from_snapshot(snapshot, users, groups)?)
}

async fn read_kind(
    source: &ScimClient,
    kind: ResourceKind,
    page_size: usize,
    snapshot: &mut SnapshotWriter,
    as_source: fn(&Value) -> Map<String, Value>,
) -> Result<Vec<SourceEntry>, EngineError> {
    let mut entries = Vec::new();
    source
        .list_pages(kind, page_size, |page| {
            for resource in &page {
                entries.push(snapshot.push(&as_source(resource))?);
            }
            Ok::<_, EngineError>(())
        })
        .await?;
    Ok(entries)
}

fn text(v: Option<&Value>) -> Option<Value> {
    v.and_then(Value::as_str).map(|s| Value::String(s.to_string()))
}

/// The value of the multi-valued entry of `kind`, else the primary one, else the first.
fn typed(u: &Value, attr: &str, kind: &str) -> Option<Value> {
    let items = u.get(attr)?.as_array()?;
    let chosen = items
        .iter()
        .find(|e| e.get("type").and_then(Value::as_str) == Some(kind))
        .or_else(|| items.iter().find(|e| e.get("primary") == Some(&Value::Bool(true))))
        .or_else(|| items.first())?;
    text(chosen.get("value"))
}

fn as_source_user(u: &Value) -> Map<String, Value> {
    let enterprise = u.get(ENTERPRISE);
    let user_name = u.get("userName").and_then(Value::as_str).unwrap_or_default();
    let fields = [
        ("objectId", text(u.get("id"))),
        ("userPrincipalName", text(u.get("userName"))),
        ("mailNickname", Some(Value::String(user_name.split('@').next().unwrap_or_default().into()))),
        ("displayName", text(u.get("displayName"))),
        ("givenName", text(u.get("name").and_then(|n| n.get("givenName")))),
        ("surname", text(u.get("name").and_then(|n| n.get("familyName")))),
        ("mail", typed(u, "emails", "work")),
        ("jobTitle", text(u.get("title"))),
        ("preferredLanguage", text(u.get("preferredLanguage"))),
        ("telephoneNumber", typed(u, "phoneNumbers", "work")),
        ("department", text(enterprise.and_then(|e| e.get("department")))),
        ("employeeId", text(enterprise.and_then(|e| e.get("employeeNumber")))),
        ("manager", text(enterprise.and_then(|e| e.get("manager")).and_then(|m| m.get("value")))),
        ("accountEnabled", Some(u.get("active").cloned().unwrap_or(Value::Bool(true)))),
        ("externalId", text(u.get("externalId"))),
    ];
    fields.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))).collect()
}

fn as_source_group(g: &Value) -> Map<String, Value> {
    let members: Vec<Value> =
        g.get("members").and_then(Value::as_array).into_iter().flatten().filter_map(|m| text(m.get("value"))).collect();
    let fields = [
        ("objectId", text(g.get("id"))),
        ("displayName", text(g.get("displayName"))),
        ("externalId", text(g.get("externalId"))),
        ("members", Some(Value::Array(members))),
    ];
    fields.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))).collect()
}
