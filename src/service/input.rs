//! Turns a client's resource JSON into the canonical document we store: attribute names in
//! schema spelling, values type-checked against the schema, read-only attributes dropped,
//! leniencies applied only when the profile accepts them.

use serde_json::{Map, Value};

use super::profile::{Leniency, Quirks};
use crate::filter::eval::{get_ci, parse_datetime};
use crate::scim::schema::{AttrType, AttributeDef, Mutability};
use crate::scim::{ResourceKind, ResourceType, ScimError, ScimType};

/// Largest string value we accept in one attribute.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// A validated resource body.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Canonical attributes without `id`, `meta`, `schemas` and group `members`.
    pub doc: Value,
    /// Group members as sent (`None` when the body has no `members`).
    pub members: Option<Vec<Value>>,
}

/// Validates a POST/PUT body for resource type `rt`.
pub fn parse_resource(rt: &ResourceType, body: &Value, quirks: &mut Quirks) -> Result<Incoming, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax("the request body must be a JSON object"));
    };
    let declared = check_schemas(rt, obj, quirks)?;
    let mut doc = Map::new();
    let mut members = None;
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if key.to_ascii_lowercase().starts_with("urn:") {
            parse_extension(rt, key, value, &declared, &mut doc, quirks)?;
            continue;
        }
        let Some(def) = rt.top_level(key) else {
            return Err(unknown_attribute(rt, key));
        };
        // id, meta, groups: read-only, ignored on input (RFC 7643 §2.2).
        if def.mutability == Mutability::ReadOnly {
            continue;
        }
        if rt.kind == ResourceKind::Group && def.name == "members" {
            members = Some(match check_value(def, value, &def.name, quirks)? {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            });
            continue;
        }
        if let Some(v) = check_value(def, value, &def.name, quirks)? {
            doc.insert(def.name.clone(), v);
        }
    }
    let doc = Value::Object(doc);
    check_required(rt, &doc)?;
    Ok(Incoming { doc, members })
}

/// Checks `schemas` and returns the extension URNs it declares.
fn check_schemas(rt: &ResourceType, obj: &Map<String, Value>, quirks: &mut Quirks) -> Result<Vec<String>, ScimError> {
    let Some(schemas) = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case("schemas")).map(|(_, v)| v) else {
        return Err(ScimError::invalid_syntax(format!(
            "'schemas' is required and must list \"{}\" (RFC 7643 §3)",
            rt.core.id
        )));
    };
    let Some(list) = schemas.as_array() else {
        return Err(ScimError::invalid_syntax("'schemas' must be an array of schema URNs"));
    };
    let mut has_core = false;
    let mut declared = Vec::new();
    for item in list {
        let Some(urn) = item.as_str() else {
            return Err(ScimError::invalid_syntax("'schemas' must contain only strings"));
        };
        if urn.eq_ignore_ascii_case(&rt.core.id) {
            has_core = true;
        } else if let Some(ext) = rt.extension(urn) {
            declared.push(ext.id.clone());
        } else {
            quirks.allow(Leniency::UnknownSchemaUrn, ScimType::InvalidValue, || {
                format!("unknown schema \"{urn}\" in 'schemas'; {} resources use {}", rt.kind, known_schemas(rt))
            })?;
        }
    }
    if !has_core {
        return Err(ScimError::invalid_value(format!(
            "'schemas' must include the core schema \"{}\"; it was {}",
            rt.core.id,
            Value::Array(list.clone())
        )));
    }
    Ok(declared)
}

fn known_schemas(rt: &ResourceType) -> String {
    rt.schema_urns().map(|u| format!("\"{u}\"")).collect::<Vec<_>>().join(", ")
}

fn unknown_attribute(rt: &ResourceType, key: &str) -> ScimError {
    let hint = rt
        .extensions
        .iter()
        .find_map(|e| {
            e.schema.attribute(key).map(|a| format!("; did you mean \"{}\": {{\"{}\": …}}?", e.schema.id, a.name))
        })
        .unwrap_or_default();
    ScimError::invalid_value(format!("unknown attribute '{key}' for resource type {}{hint}", rt.kind))
}

fn parse_extension(
    rt: &ResourceType,
    key: &str,
    value: &Value,
    declared: &[String],
    doc: &mut Map<String, Value>,
    quirks: &mut Quirks,
) -> Result<(), ScimError> {
    // Some clients nest core attributes under the core URN; accept that as the same thing.
    if key.eq_ignore_ascii_case(&rt.core.id) {
        let Some(inner) = value.as_object() else {
            return Err(ScimError::invalid_syntax(format!("'{key}' must be an object")));
        };
        for (k, v) in inner {
            let def = rt.core.attribute(k).ok_or_else(|| unknown_attribute(rt, k))?;
            if def.mutability == Mutability::ReadOnly {
                continue;
            }
            if let Some(v) = check_value(def, v, &def.name, quirks)? {
                doc.insert(def.name.clone(), v);
            }
        }
        return Ok(());
    }
    let Some(schema) = rt.extension(key) else {
        return Err(ScimError::invalid_value(format!(
            "unknown schema extension '{key}' for resource type {}; known schemas: {}",
            rt.kind,
            known_schemas(rt)
        )));
    };
    if value.is_null() {
        return Ok(());
    }
    let Some(inner) = value.as_object() else {
        return Err(ScimError::invalid_syntax(format!("'{key}' must be an object of extension attributes")));
    };
    if !declared.iter().any(|d| d == &schema.id) {
        quirks.allow(Leniency::UndeclaredExtension, ScimType::InvalidValue, || {
            format!("extension \"{}\" is used but not listed in 'schemas'", schema.id)
        })?;
    }
    let mut ext = Map::new();
    for (k, v) in inner {
        let Some(def) = schema.attribute(k) else {
            return Err(ScimError::invalid_value(format!("unknown attribute '{}:{k}'", schema.id)));
        };
        if def.mutability == Mutability::ReadOnly {
            continue;
        }
        if let Some(v) = check_value(def, v, &format!("{}:{}", schema.id, def.name), quirks)? {
            ext.insert(def.name.clone(), v);
        }
    }
    if !ext.is_empty() {
        doc.insert(schema.id.clone(), Value::Object(ext));
    }
    Ok(())
}

/// Required attributes (RFC 7643 §2.2), checked on the final document.
pub fn check_required(rt: &ResourceType, doc: &Value) -> Result<(), ScimError> {
    for def in rt.core.attributes.iter().filter(|a| a.required) {
        let present = doc.get(&def.name).map(|v| !v.is_null() && v != &Value::String(String::new())).unwrap_or(false);
        if !present {
            return Err(ScimError::invalid_value(format!("'{}' is required for a {}", def.name, rt.kind)));
        }
    }
    Ok(())
}

/// Checks one attribute value against its definition. `Ok(None)` means "no value"
/// (null, empty array, or a cleared manager), which callers treat as unassigned.
pub fn check_value(
    def: &AttributeDef,
    value: &Value,
    path: &str,
    quirks: &mut Quirks,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if def.name == "manager" && def.kind == AttrType::Complex {
        return check_manager(def, value, path, quirks);
    }
    if def.multi_valued {
        let items = match value {
            Value::Array(items) => items.clone(),
            single => {
                quirks.allow(Leniency::SingleForMultiValued, ScimType::InvalidValue, || {
                    format!("'{path}' is multi-valued; send an array")
                })?;
                vec![single.clone()]
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for item in &items {
            if let Some(v) = check_single(def, item, path, quirks)? {
                out.push(v);
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        let primaries = out.iter().filter(|v| v.get("primary") == Some(&Value::Bool(true))).count();
        if primaries > 1 {
            return Err(ScimError::invalid_value(format!(
                "'{path}' has {primaries} values marked primary; at most one may be (RFC 7643 §2.4)"
            )));
        }
        return Ok(Some(Value::Array(out)));
    }
    check_single(def, value, path, quirks)
}

/// Checks a single (non-array) value of `def`.
pub fn check_single(
    def: &AttributeDef,
    value: &Value,
    path: &str,
    quirks: &mut Quirks,
) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    let wrong_type = || {
        ScimError::invalid_value(format!(
            "'{path}' must be {} {}, not {}",
            article(def.kind),
            def.kind.name(),
            describe(value)
        ))
    };
    let checked = match def.kind {
        AttrType::String | AttrType::Reference | AttrType::Binary => {
            let Value::String(s) = value else { return Err(wrong_type()) };
            if s.len() > MAX_VALUE_BYTES {
                return Err(ScimError::invalid_value(format!(
                    "'{path}' is {} bytes long; the limit is {MAX_VALUE_BYTES}",
                    s.len()
                )));
            }
            check_canonical(def, s, path, quirks)?;
            value.clone()
        }
        AttrType::Boolean => match value {
            Value::Bool(_) => value.clone(),
            Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                quirks.allow(Leniency::BooleanString, ScimType::InvalidValue, || {
                    format!("'{path}' is boolean; send true or false, not the string \"{s}\"")
                })?;
                Value::Bool(s.eq_ignore_ascii_case("true"))
            }
            _ => return Err(wrong_type()),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => value.clone(),
            _ => return Err(wrong_type()),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => value.clone(),
            _ => return Err(wrong_type()),
        },
        AttrType::DateTime => match value {
            Value::String(s) if parse_datetime(s).is_some() => value.clone(),
            Value::String(s) => {
                return Err(ScimError::invalid_value(format!(
                    "'{path}' must be an RFC 3339 dateTime such as \"2024-01-31T12:00:00Z\", not \"{s}\""
                )))
            }
            _ => return Err(wrong_type()),
        },
        AttrType::Complex => {
            let Value::Object(obj) = value else { return Err(wrong_type()) };
            let mut out = Map::new();
            for (k, v) in obj {
                let Some(sub) = def.sub(k) else {
                    return Err(ScimError::invalid_value(format!("unknown sub-attribute '{path}.{k}'")));
                };
                if sub.mutability == Mutability::ReadOnly {
                    continue;
                }
                if let Some(v) = check_single(sub, v, &format!("{path}.{}", sub.name), quirks)? {
                    out.insert(sub.name.clone(), v);
                }
            }
            if out.is_empty() {
                return Ok(None);
            }
            Value::Object(out)
        }
    };
    Ok(Some(checked))
}

fn check_canonical(def: &AttributeDef, s: &str, path: &str, quirks: &mut Quirks) -> Result<(), ScimError> {
    if def.canonical_values.is_empty() || def.canonical_values.iter().any(|c| c.eq_ignore_ascii_case(s)) {
        return Ok(());
    }
    quirks.allow(Leniency::NonCanonicalValue, ScimType::InvalidValue, || {
        format!("'{path}' is \"{s}\"; the schema's canonical values are {}", def.canonical_values.join(", "))
    })
}

/// The enterprise manager: RFC form `{"value": id}`; Entra also sends a bare id string, a
/// one-element array, and clears it with `""` or `{"value": ""}`.
fn check_manager(
    def: &AttributeDef,
    value: &Value,
    path: &str,
    quirks: &mut Quirks,
) -> Result<Option<Value>, ScimError> {
    let lenient = |quirks: &mut Quirks, form: &str| {
        quirks.allow(Leniency::ManagerString, ScimType::InvalidValue, || {
            format!("'{path}' must be an object like {{\"value\": \"<manager id>\"}}, not {form}")
        })
    };
    match value {
        Value::String(s) => {
            lenient(quirks, "a bare string")?;
            if s.is_empty() {
                return Ok(None);
            }
            Ok(Some(serde_json::json!({ "value": s })))
        }
        Value::Array(items) => {
            lenient(quirks, "an array")?;
            match items.first() {
                Some(first) => check_manager(def, first, path, quirks),
                None => Ok(None),
            }
        }
        Value::Object(obj) => {
            let id = get_ci(value, "value");
            let empty = match id {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.is_empty(),
                _ => false,
            };
            if empty && obj.keys().all(|k| k.eq_ignore_ascii_case("value") || k.eq_ignore_ascii_case("$ref")) {
                lenient(quirks, "an empty value (to clear the manager, use a 'remove' operation)")?;
                return Ok(None);
            }
            check_single(def, value, path, quirks)
        }
        other => Err(ScimError::invalid_value(format!("'{path}' must be an object, not {}", describe(other)))),
    }
}

fn article(kind: AttrType) -> &'static str {
    match kind {
        AttrType::Integer => "an",
        _ => "a",
    }
}

pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) if s.len() > 40 => "a string".into(),
        Value::String(s) => format!("the string \"{s}\""),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}
