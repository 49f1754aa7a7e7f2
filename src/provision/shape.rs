//! Turning evaluated mappings into the requests Entra sends (§1.4–1.5, §1.10): POST bodies
//! with values placed by target path, and PATCH operations in the legacy or the
//! `aadOptscim062020` dialect.

use serde_json::{json, Map, Value};

use super::expr::Val;
use super::log::ModifiedProperty;
use crate::filter::eval::get_ci;
use crate::filter::{parse_patch_path, CompareOp, Filter, FilterLimits, PatchPath};
use crate::scim::schema::AttrType;
use crate::scim::{urn, ResourceKind, ResourceType};

/// The Microsoft Group schema URN Entra adds to group creates.
pub const MS_GROUP_URN: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

/// A parsed target attribute path.
struct Placement {
    extension: Option<String>,
    name: String,
    sub: Option<String>,
    /// `type eq "work"` terms of `attr[…]`.
    terms: Vec<(String, Value)>,
    sub_after_filter: Option<String>,
}

/// Distinct target paths a thread keeps parsed; a job has a few dozen.
const PLACEMENTS_KEPT: usize = 1024;

/// The placement of a target path, parsed once per thread: a cycle places every mapped
/// attribute of every object, and parsing the path each time was 4 % of a 20k-user initial
/// cycle (docs/perf.md, round 2).
fn placement(path: &str) -> Option<std::rc::Rc<Placement>> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    thread_local! {
        static PARSED: RefCell<HashMap<String, Option<std::rc::Rc<Placement>>>> = RefCell::new(HashMap::new());
    }
    PARSED.with(|parsed| {
        if let Some(known) = parsed.borrow().get(path) {
            return known.clone();
        }
        let placed = parse_placement(path).map(std::rc::Rc::new);
        let mut parsed = parsed.borrow_mut();
        if parsed.len() < PLACEMENTS_KEPT {
            parsed.insert(path.to_string(), placed.clone());
        }
        placed
    })
}

fn parse_placement(path: &str) -> Option<Placement> {
    let p: PatchPath = parse_patch_path(path, FilterLimits::default()).ok()?;
    let mut terms = Vec::new();
    if let Some(f) = &p.filter {
        collect_terms(f, &mut terms);
    }
    Some(Placement {
        extension: p.attr.urn.clone(),
        name: p.attr.name.clone(),
        sub: p.attr.sub.clone(),
        terms,
        sub_after_filter: p.sub_after_filter.clone(),
    })
}

fn collect_terms(f: &Filter, out: &mut Vec<(String, Value)>) {
    match f {
        Filter::Compare { path, op: CompareOp::Eq, value } => {
            // Entra writes `primary eq "True"`; the element carries a boolean.
            let v = match value {
                Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                    Value::Bool(s.eq_ignore_ascii_case("true"))
                }
                other => other.clone(),
            };
            out.push((path.name.clone(), v));
        }
        Filter::And(l, r) => {
            collect_terms(l, out);
            collect_terms(r, out);
        }
        _ => {}
    }
}

fn element_matches(element: &Value, terms: &[(String, Value)]) -> bool {
    terms.iter().all(|(k, v)| match (get_ci(element, k), v) {
        (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (Some(a), b) => a == b,
        (None, _) => false,
    })
}

/// The schema type of the value a target path addresses.
fn leaf_type(rt: &ResourceType, path: &str) -> Option<(AttrType, bool)> {
    let p = placement(path)?;
    let resolved = rt.resolve(p.extension.as_deref(), &p.name, p.sub.as_deref()).ok()?;
    let def = match &p.sub_after_filter {
        Some(sub) => resolved.attr.sub(sub)?,
        None => resolved.leaf(),
    };
    // `emails[…].value` addresses one element's scalar; `emails` the whole list.
    let multi = def.multi_valued && p.terms.is_empty() && p.sub_after_filter.is_none();
    Some((def.kind, multi))
}

/// Converts an expression value to the JSON the target schema expects at `path`.
pub fn to_json(rt: &ResourceType, path: &str, v: &Val) -> Option<Value> {
    if v.is_null() {
        return None;
    }
    if let Val::Json(j) = v {
        return Some(j.clone());
    }
    let (kind, multi) = leaf_type(rt, path).unwrap_or((AttrType::String, false));
    let scalar = |s: String| -> Value {
        match kind {
            AttrType::Boolean if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => {
                Value::Bool(s.eq_ignore_ascii_case("true"))
            }
            AttrType::Integer => s.trim().parse::<i64>().map(Value::from).unwrap_or(Value::String(s)),
            AttrType::Decimal => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                .unwrap_or(Value::String(s)),
            _ => Value::String(s),
        }
    };
    if multi {
        let items: Vec<Value> = v
            .as_list()
            .into_iter()
            .map(|s| if kind == AttrType::Complex { json!({"value": s}) } else { scalar(s) })
            .collect();
        return Some(Value::Array(items));
    }
    v.as_text().map(scalar)
}

/// Places `value` at `path` inside `body`, creating containers and filtered elements.
pub fn place(body: &mut Map<String, Value>, path: &str, value: Value) {
    let Some(p) = placement(path) else {
        body.insert(path.to_string(), value);
        return;
    };
    let container = match &p.extension {
        Some(u) => {
            let entry = body.entry(u.clone()).or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(m) => m,
                other => {
                    *other = Value::Object(Map::new());
                    match other {
                        Value::Object(m) => m,
                        _ => return,
                    }
                }
            }
        }
        None => body,
    };
    if p.terms.is_empty() {
        match &p.sub {
            None => {
                container.insert(p.name.clone(), value);
            }
            Some(sub) => {
                let entry = container.entry(p.name.clone()).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(obj) = entry {
                    obj.insert(sub.clone(), value);
                }
            }
        }
        return;
    }
    let entry = container.entry(p.name.clone()).or_insert_with(|| Value::Array(Vec::new()));
    if !entry.is_array() {
        *entry = Value::Array(Vec::new());
    }
    let Value::Array(items) = entry else { return };
    let index = match items.iter().position(|e| element_matches(e, &p.terms)) {
        Some(i) => i,
        None => {
            let mut element = Map::new();
            for (k, v) in &p.terms {
                element.insert(k.clone(), v.clone());
            }
            // Entra marks the work email primary (§1.4.3 sample).
            if p.name == "emails" && p.terms.iter().any(|(k, v)| k == "type" && v == "work") {
                element.insert("primary".into(), Value::Bool(true));
            }
            items.push(Value::Object(element));
            items.len() - 1
        }
    };
    match (&p.sub_after_filter, &mut items[index]) {
        (Some(sub), Value::Object(obj)) => {
            obj.insert(sub.clone(), value);
        }
        (None, Value::Object(obj)) => {
            if let Value::Object(new) = value {
                obj.extend(new);
            }
        }
        _ => {}
    }
}

/// Reads the current value at `path` from a target resource.
pub fn read(resource: &Value, path: &str) -> Option<Value> {
    let p = placement(path)?;
    let container = match &p.extension {
        Some(u) => get_ci(resource, u)?,
        None => resource,
    };
    let attr = get_ci(container, &p.name)?;
    if p.terms.is_empty() {
        return match &p.sub {
            None => Some(attr.clone()),
            Some(sub) => get_ci(attr, sub).cloned(),
        };
    }
    let element = attr.as_array()?.iter().find(|e| element_matches(e, &p.terms))?;
    match &p.sub_after_filter {
        Some(sub) => get_ci(element, sub).cloned(),
        None => Some(element.clone()),
    }
}

/// The POST body for a new object (§1.4.3, §1.5).
pub fn create_body(kind: ResourceKind, values: &[(String, Value)]) -> Value {
    let mut body = Map::new();
    for (path, value) in values {
        place(&mut body, path, value.clone());
    }
    let mut schemas = vec![Value::String(match kind {
        ResourceKind::User => urn::USER.into(),
        ResourceKind::Group => urn::GROUP.into(),
    })];
    if kind == ResourceKind::Group {
        schemas.push(Value::String(MS_GROUP_URN.into()));
    }
    if body.contains_key(urn::ENTERPRISE_USER) {
        schemas.push(Value::String(urn::ENTERPRISE_USER.into()));
    }
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Array(schemas));
    out.extend(body);
    out.insert("meta".into(), json!({"resourceType": kind.name()}));
    Value::Object(out)
}

fn same(current: Option<&Value>, desired: &Value) -> bool {
    match (current, desired) {
        (Some(Value::String(a)), Value::Bool(b)) => a.eq_ignore_ascii_case(if *b { "true" } else { "false" }),
        (Some(a), b) => a == b,
        (None, _) => false,
    }
}

fn text(v: Option<&Value>) -> Option<String> {
    v.map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// PATCH operations that bring `current` to the desired values, in Entra's dialect:
/// legacy (TitleCase ops, booleans as "True"/"False", one op per attribute) or compliant
/// (`aadOptscim062020`: lower-case ops, booleans, one path-less replace for plain paths).
pub fn patch_operations(
    values: &[(String, Value)],
    current: &Value,
    compliant: bool,
) -> (Vec<Value>, Vec<ModifiedProperty>) {
    let mut ops = Vec::new();
    let mut collapsed = Map::new();
    let mut modified = Vec::new();
    for (path, desired) in values {
        let now = read(current, path);
        if same(now.as_ref(), desired) {
            continue;
        }
        modified.push(ModifiedProperty {
            display_name: path.clone(),
            old_value: text(now.as_ref()),
            new_value: text(Some(desired)),
        });
        let adding = now.as_ref().is_none_or(|v| v.is_null() || v == &Value::String(String::new()));
        if compliant {
            if path.contains('[') {
                ops.push(json!({"op": if adding { "add" } else { "replace" }, "path": path, "value": desired}));
            } else {
                collapsed.insert(path.clone(), desired.clone());
            }
        } else {
            let value = match desired {
                Value::Bool(b) => Value::String(if *b { "True" } else { "False" }.into()),
                other => other.clone(),
            };
            ops.push(json!({"op": if adding { "Add" } else { "Replace" }, "path": path, "value": value}));
        }
    }
    if !collapsed.is_empty() {
        ops.push(json!({"op": "replace", "value": collapsed}));
    }
    (ops, modified)
}

/// Member changes as Entra sends them (§1.5): adds batched; removes as a value list
/// (legacy) or one `members[value eq "…"]` op each (compliant).
pub fn member_operations(add: &[String], remove: &[String], compliant: bool) -> Vec<Value> {
    let mut ops = Vec::new();
    if !add.is_empty() {
        let values: Vec<Value> = add.iter().map(|id| json!({"value": id})).collect();
        ops.push(json!({"op": if compliant { "add" } else { "Add" }, "path": "members", "value": values}));
    }
    if !remove.is_empty() {
        if compliant {
            for id in remove {
                ops.push(json!({"op": "remove", "path": format!("members[value eq {}]", Value::String(id.clone()))}));
            }
        } else {
            let values: Vec<Value> = remove.iter().map(|id| json!({"value": id})).collect();
            ops.push(json!({"op": "Remove", "path": "members", "value": values}));
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_placed_like_entra_builds_a_create() {
        let values = vec![
            ("userName".to_string(), json!("ann@contoso.com")),
            ("active".to_string(), json!(true)),
            ("emails[type eq \"work\"].value".to_string(), json!("ann@contoso.com")),
            ("name.givenName".to_string(), json!("Ann")),
            ("phoneNumbers[type eq \"mobile\"].value".to_string(), json!("555")),
            ("phoneNumbers[type eq \"work\"].value".to_string(), json!("556")),
            ("roles[primary eq \"True\"].value".to_string(), json!("Admin")),
            (format!("{}:department", urn::ENTERPRISE_USER), json!("Sales")),
        ];
        let body = create_body(ResourceKind::User, &values);
        assert_eq!(body["schemas"], json!([urn::USER, urn::ENTERPRISE_USER]));
        assert_eq!(body["emails"], json!([{"type": "work", "primary": true, "value": "ann@contoso.com"}]));
        assert_eq!(body["phoneNumbers"], json!([{"type": "mobile", "value": "555"}, {"type": "work", "value": "556"}]));
        assert_eq!(body["roles"], json!([{"primary": true, "value": "Admin"}]));
        assert_eq!(body[urn::ENTERPRISE_USER], json!({"department": "Sales"}));
        assert_eq!(body["meta"], json!({"resourceType": "User"}));
        assert_eq!(read(&body, "emails[type eq \"work\"].value"), Some(json!("ann@contoso.com")));
        assert_eq!(read(&body, &format!("{}:department", urn::ENTERPRISE_USER)), Some(json!("Sales")));
        assert_eq!(read(&body, "name.familyName"), None);
    }

    #[test]
    fn patches_come_in_both_entra_dialects() {
        let current = json!({"userName": "a", "active": true, "name": {"givenName": "Old"}, "emails": [{"type": "work", "value": "old@x"}]});
        let values = vec![
            ("userName".to_string(), json!("a")),
            ("active".to_string(), json!(false)),
            ("name.givenName".to_string(), json!("New")),
            ("name.familyName".to_string(), json!("Fam")),
            ("emails[type eq \"work\"].value".to_string(), json!("new@x")),
        ];
        let (legacy, modified) = patch_operations(&values, &current, false);
        assert_eq!(
            legacy,
            vec![
                json!({"op": "Replace", "path": "active", "value": "False"}),
                json!({"op": "Replace", "path": "name.givenName", "value": "New"}),
                json!({"op": "Add", "path": "name.familyName", "value": "Fam"}),
                json!({"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@x"}),
            ]
        );
        assert_eq!(modified.len(), 4);
        let (compliant, _) = patch_operations(&values, &current, true);
        assert_eq!(
            compliant,
            vec![
                json!({"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@x"}),
                json!({"op": "replace", "value": {"active": false, "name.givenName": "New", "name.familyName": "Fam"}}),
            ]
        );
        assert!(patch_operations(&values[..1], &current, false).0.is_empty(), "no change, no op");
        assert_eq!(
            member_operations(&["u1".into()], &["u2".into(), "u3".into()], false),
            vec![
                json!({"op": "Add", "path": "members", "value": [{"value": "u1"}]}),
                json!({"op": "Remove", "path": "members", "value": [{"value": "u2"}, {"value": "u3"}]})
            ]
        );
        assert_eq!(
            member_operations(&[], &["u2".into()], true),
            vec![json!({"op": "remove", "path": "members[value eq \"u2\"]"})]
        );
    }
}
