//! Rendering a stored resource for the wire: `schemas`, `id`, attributes, computed
//! `members`/`groups`, `meta`; then `attributes` / `excludedAttributes` (RFC 7644 §3.9)
//! and the `returned` characteristic of every attribute (RFC 7643 §2.2).

use serde_json::{Map, Value};

use super::{etag, location, store_error, ScimService};
use crate::filter::{parse_patch_path, FilterLimits};
use crate::scim::schema::{AttributeDef, Returned};
use crate::scim::ResourceKind;
use crate::scim::{ResourceType, ScimError};
use crate::store::StoredResource;

/// One `attributes`/`excludedAttributes` entry, resolved to schema spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    /// Extension URN, or `None` for core/common attributes.
    extension: Option<String>,
    /// `None` selects a whole extension (`attributes=urn:…:enterprise:2.0:User`).
    attr: Option<String>,
    sub: Option<String>,
}

/// Which attributes a response carries.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    include: Option<Vec<Selector>>,
    exclude: Vec<Selector>,
}

impl Projection {
    /// Parses comma-separated `attributes` and `excludedAttributes` lists.
    pub fn parse(rt: &ResourceType, attributes: &[String], excluded: &[String]) -> Result<Projection, ScimError> {
        let include = if attributes.is_empty() {
            None
        } else {
            Some(attributes.iter().map(|a| selector(rt, a, "attributes")).collect::<Result<Vec<_>, _>>()?)
        };
        let exclude = excluded.iter().map(|a| selector(rt, a, "excludedAttributes")).collect::<Result<Vec<_>, _>>()?;
        Ok(Projection { include, exclude })
    }

    /// No `attributes` and no `excludedAttributes`: what a plain GET asks for.
    pub fn is_default(&self) -> bool {
        self.include.is_none() && self.exclude.is_empty()
    }

    /// Whether the default projection returns an attribute (RFC 7643 §2.2: not `never`,
    /// and `request` only when asked for).
    pub fn keeps_by_default(def: &AttributeDef) -> bool {
        !matches!(def.returned, Returned::Never | Returned::Request)
    }

    /// Whether a top-level core attribute is wanted (used to skip computing `members`).
    pub fn wants(&self, rt: &ResourceType, name: &str) -> bool {
        let Some(def) = rt.top_level(name) else { return false };
        self.decide(None, def).is_some()
    }

    /// Applies the projection to a fully rendered resource.
    pub fn apply(&self, rt: &ResourceType, full: Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in full {
            if key == "schemas" {
                out.insert(key, value);
                continue;
            }
            if let Some(schema) = rt.extension(&key) {
                let Value::Object(ext) = value else { continue };
                let whole = self.include.as_ref().is_some_and(|inc| {
                    inc.iter().any(|s| s.extension.as_deref() == Some(schema.id.as_str()) && s.attr.is_none())
                });
                let excluded_whole =
                    self.exclude.iter().any(|s| s.extension.as_deref() == Some(schema.id.as_str()) && s.attr.is_none());
                if excluded_whole {
                    continue;
                }
                let mut kept = Map::new();
                for (k, v) in ext {
                    let Some(def) = schema.attribute(&k) else { continue };
                    if def.returned == Returned::Never {
                        continue;
                    }
                    let decision = if whole { Some(Vec::new()) } else { self.decide(Some(&schema.id), def) };
                    if let Some(subs) = decision {
                        kept.insert(k, keep_subs(v, &subs));
                    }
                }
                if !kept.is_empty() {
                    out.insert(key, Value::Object(kept));
                }
                continue;
            }
            let Some(def) = rt.top_level(&key) else { continue };
            if let Some(subs) = self.decide(None, def) {
                out.insert(key, keep_subs(value, &subs));
            }
        }
        out
    }

    /// `None`: drop the attribute. `Some(subs)`: keep it; when `subs` is non-empty keep only
    /// those sub-attributes (positive list) — negative lists are handled as removals.
    fn decide(&self, extension: Option<&str>, def: &AttributeDef) -> Option<Vec<(String, bool)>> {
        match def.returned {
            Returned::Never => return None,
            Returned::Always => return Some(Vec::new()),
            _ => {}
        }
        let same = |s: &Selector| {
            s.extension.as_deref() == extension && s.attr.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(&def.name))
        };
        if let Some(include) = &self.include {
            let hits: Vec<&Selector> = include.iter().filter(|s| same(s)).collect();
            if hits.is_empty() {
                return None;
            }
            if hits.iter().any(|s| s.sub.is_none()) {
                return Some(Vec::new());
            }
            return Some(hits.iter().filter_map(|s| s.sub.clone()).map(|s| (s, true)).collect());
        }
        if def.returned == Returned::Request {
            return None;
        }
        let hits: Vec<&Selector> = self.exclude.iter().filter(|s| same(s)).collect();
        if hits.iter().any(|s| s.sub.is_none()) {
            return None;
        }
        Some(hits.iter().filter_map(|s| s.sub.clone()).map(|s| (s, false)).collect())
    }
}

/// Keeps (`true` entries) or drops (`false` entries) sub-attributes of a complex value.
fn keep_subs(value: Value, subs: &[(String, bool)]) -> Value {
    if subs.is_empty() {
        return value;
    }
    let positive = subs.iter().any(|(_, keep)| *keep);
    let filter_obj = |obj: Map<String, Value>| -> Map<String, Value> {
        obj.into_iter()
            .filter(|(k, _)| {
                let listed = subs.iter().any(|(s, _)| s.eq_ignore_ascii_case(k));
                if positive {
                    listed
                } else {
                    !listed
                }
            })
            .collect()
    };
    match value {
        Value::Object(obj) => Value::Object(filter_obj(obj)),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|item| match item {
                    Value::Object(obj) => Value::Object(filter_obj(obj)),
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

fn selector(rt: &ResourceType, text: &str, param: &str) -> Result<Selector, ScimError> {
    let text = text.trim();
    if let Some(schema) = rt.extension(text).or_else(|| (rt.core.id.eq_ignore_ascii_case(text)).then_some(&rt.core)) {
        let extension = (schema.id != rt.core.id).then(|| schema.id.clone());
        return Ok(Selector { extension, attr: None, sub: None });
    }
    let path = parse_patch_path(text, FilterLimits::default())
        .map_err(|e| ScimError::invalid_value(format!("{param}: \"{text}\" is not an attribute path ({e})")))?;
    if path.filter.is_some() {
        return Err(ScimError::invalid_value(format!("{param}: \"{text}\": filters are not allowed here")));
    }
    let resolved = rt
        .resolve(path.attr.urn.as_deref(), &path.attr.name, path.attr.sub.as_deref())
        .map_err(|m| ScimError::invalid_value(format!("{param}: {m}")))?;
    Ok(Selector {
        extension: resolved.extension.map(str::to_string),
        attr: Some(resolved.attr.name.clone()),
        sub: resolved.sub.map(|s| s.name.clone()),
    })
}

impl ScimService {
    /// The wire form of a stored resource under a projection.
    pub(super) fn render(
        &self,
        rt: &ResourceType,
        record: StoredResource,
        projection: &Projection,
        base: &str,
    ) -> Result<Value, ScimError> {
        let mut full = Map::new();
        let doc = match record.doc {
            Value::Object(doc) => doc,
            _ => Map::new(),
        };
        let mut schemas = vec![Value::String(rt.core.id.clone())];
        for ext in &rt.extensions {
            if doc.contains_key(&ext.schema.id) {
                schemas.push(Value::String(ext.schema.id.clone()));
            }
        }
        full.insert("schemas".into(), Value::Array(schemas));
        full.insert("id".into(), Value::String(record.id.clone()));
        let mut extensions = Vec::new();
        for (k, v) in doc {
            if rt.extension(&k).is_some() {
                extensions.push((k, v));
            } else {
                full.insert(k, v);
            }
        }
        match record.kind {
            ResourceKind::Group if projection.wants(rt, "members") => {
                let members = self.members_with_refs(&record.id, base)?;
                full.insert("members".into(), Value::Array(members));
            }
            ResourceKind::User if projection.wants(rt, "groups") => {
                let groups = self.groups_of(&record.id, base)?;
                if !groups.is_empty() {
                    full.insert("groups".into(), Value::Array(groups));
                }
            }
            _ => {}
        }
        full.extend(extensions);
        let meta = meta(record.kind, &record.id, record.version, &record.created, &record.modified, base);
        full.insert("meta".into(), meta);
        Ok(Value::Object(projection.apply(rt, full)))
    }

    pub(super) fn members_with_refs(&self, group_id: &str, base: &str) -> Result<Vec<Value>, ScimError> {
        let mut members = self.store.members(group_id).map_err(|e| store_error(e, ResourceKind::Group, group_id))?;
        for m in &mut members {
            let kind =
                m.get("type").and_then(Value::as_str).and_then(ResourceKind::from_name).unwrap_or(ResourceKind::User);
            if let (Some(id), Some(obj)) =
                (m.get("value").and_then(Value::as_str).map(str::to_string), m.as_object_mut())
            {
                obj.insert("$ref".into(), Value::String(location(base, kind, &id)));
            }
        }
        Ok(members)
    }

    /// `User.groups`: direct memberships from the reverse index (RFC 7643 §4.1.2).
    pub(super) fn groups_of(&self, member_id: &str, base: &str) -> Result<Vec<Value>, ScimError> {
        let ids = self
            .store
            .lookup(ResourceKind::Group, &crate::store::Lookup::GroupsWithMember(member_id.to_string()))
            .map_err(|e| store_error(e, ResourceKind::Group, member_id))?;
        let mut out = Vec::with_capacity(ids.len());
        for gid in ids {
            let Some(group) =
                self.store.get(ResourceKind::Group, &gid).map_err(|e| store_error(e, ResourceKind::Group, &gid))?
            else {
                continue;
            };
            let mut entry = Map::new();
            entry.insert("value".into(), Value::String(gid.clone()));
            entry.insert("$ref".into(), Value::String(location(base, ResourceKind::Group, &gid)));
            if let Some(name) = group.doc.get("displayName") {
                entry.insert("display".into(), name.clone());
            }
            entry.insert("type".into(), Value::String("direct".into()));
            out.push(Value::Object(entry));
        }
        Ok(out)
    }
}

/// A resource's `meta` (RFC 7643 §3.1). `render_text` writes the same members, in this order.
fn meta(kind: ResourceKind, id: &str, version: u64, created: &str, modified: &str, base: &str) -> Value {
    serde_json::json!({
        "resourceType": kind.name(),
        "created": created,
        "lastModified": modified,
        "location": location(base, kind, id),
        "version": etag(version),
    })
}
