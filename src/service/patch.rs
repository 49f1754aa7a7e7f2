//! PATCH (RFC 7644 §3.5.2) applied to a canonical resource document.
//!
//! Group membership never goes through the document: operations on `members` become a
//! [`MemberPatch`] (adds and removes by member id) that the store applies key by key, so a
//! PATCH on a 100k-member group touches only the members it names.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::input::{check_single, check_value, describe};
use super::profile::{Leniency, Quirks};
use crate::filter::eval::get_ci;
use crate::filter::{parse_patch_path, CompareOp, Expr, Filter, FilterLimits, PatchPath, ValidateOptions};
use crate::scim::schema::{AttrType, AttributeDef, Mutability};
use crate::scim::{urn, ResourceKind, ResourceType, ScimError, ScimType};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub op: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Membership changes accumulated over a PATCH request, in request order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberPatch {
    /// Remove all current members before applying `changes`.
    pub clear: bool,
    /// Member id → `Some(entry)` to add, `None` to remove.
    pub changes: BTreeMap<String, Option<Value>>,
}

impl MemberPatch {
    pub fn is_empty(&self) -> bool {
        !self.clear && self.changes.is_empty()
    }
}

/// Parses the PatchOp envelope (`schemas`, `Operations`).
pub fn parse_request(body: &Value, quirks: &mut Quirks) -> Result<Vec<Operation>, ScimError> {
    if !body.is_object() {
        return Err(ScimError::invalid_syntax("a PATCH body must be a JSON object with 'schemas' and 'Operations'"));
    }
    let declared = get_ci(body, "schemas")
        .and_then(Value::as_array)
        .map(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(urn::PATCH_OP))))
        .unwrap_or(false);
    if !declared {
        quirks.allow(Leniency::MissingPatchSchema, ScimType::InvalidSyntax, || {
            format!("'schemas' must be [\"{}\"]", urn::PATCH_OP)
        })?;
    }
    let Some(ops) = get_ci(body, "Operations").and_then(Value::as_array) else {
        return Err(ScimError::invalid_syntax("'Operations' must be an array of one or more operations"));
    };
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("'Operations' is empty; a PATCH needs at least one operation"));
    }
    ops.iter().enumerate().map(|(i, op)| parse_operation(i, op, quirks)).collect()
}

fn parse_operation(index: usize, op: &Value, quirks: &mut Quirks) -> Result<Operation, ScimError> {
    let n = index + 1;
    let Some(name) = get_ci(op, "op").and_then(Value::as_str) else {
        return Err(ScimError::invalid_syntax(format!("operation {n} has no 'op' (add, remove or replace)")));
    };
    let kind = match name.to_ascii_lowercase().as_str() {
        "add" => OpKind::Add,
        "remove" => OpKind::Remove,
        "replace" => OpKind::Replace,
        _ => {
            return Err(ScimError::invalid_syntax(format!(
                "operation {n}: unknown op \"{name}\"; use add, remove or replace"
            )))
        }
    };
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        quirks.allow(Leniency::OpCase, ScimType::InvalidSyntax, || {
            format!("operation {n}: op \"{name}\" must be lower case")
        })?;
    }
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(other) => {
            return Err(ScimError::invalid_path(format!(
                "operation {n}: 'path' must be a string, not {}",
                describe(other)
            )))
        }
    };
    let value = get_ci(op, "value").cloned();
    if kind != OpKind::Remove && value.is_none() {
        return Err(ScimError::invalid_syntax(format!("operation {n} ({name}) needs a 'value'")));
    }
    Ok(Operation { op: kind, path, value })
}

/// Applies operations to `doc` (and `members` for groups). On error nothing is kept:
/// callers work on a copy and write only when every operation succeeded.
pub struct Patcher<'a> {
    pub rt: &'a ResourceType,
    pub quirks: &'a mut Quirks,
    pub limits: FilterLimits,
    /// Current members, loaded only when a filter on `members` needs them.
    pub load_members: &'a dyn Fn() -> Result<Vec<Value>, ScimError>,
}

/// A resolved PATCH target.
struct Target<'d> {
    extension: Option<String>,
    def: &'d AttributeDef,
    sub: Option<&'d AttributeDef>,
    filter: Option<Expr>,
    sub_after_filter: Option<&'d AttributeDef>,
    display: String,
}

impl<'a> Patcher<'a> {
    pub fn apply(
        &mut self,
        doc: &mut Map<String, Value>,
        members: &mut MemberPatch,
        ops: &[Operation],
    ) -> Result<(), ScimError> {
        for op in ops {
            match &op.path {
                Some(path) => {
                    let target = self.resolve(path)?;
                    self.apply_target(doc, members, op.op, &target, op.value.as_ref())?;
                }
                None => self.apply_pathless(doc, members, op)?,
            }
        }
        Ok(())
    }

    fn apply_pathless(
        &mut self,
        doc: &mut Map<String, Value>,
        members: &mut MemberPatch,
        op: &Operation,
    ) -> Result<(), ScimError> {
        if op.op == OpKind::Remove {
            return Err(ScimError::no_target("a 'remove' operation needs a 'path' (RFC 7644 §3.5.2.2)"));
        }
        let Some(Value::Object(values)) = &op.value else {
            return Err(ScimError::invalid_syntax("an operation without 'path' needs an object 'value' of attributes"));
        };
        for (key, value) in values {
            if ["schemas", "id", "meta"].iter().any(|k| k.eq_ignore_ascii_case(key)) {
                continue;
            }
            if let Some(ext) = self.rt.extension(key) {
                let ext_id = ext.id.clone();
                let Value::Object(inner) = value else {
                    return Err(ScimError::invalid_syntax(format!(
                        "'{key}' must be an object of extension attributes"
                    )));
                };
                for (k, v) in inner {
                    let target = self.resolve(&format!("{ext_id}:{k}"))?;
                    if target.def.mutability != Mutability::ReadOnly {
                        self.apply_target(doc, members, op.op, &target, Some(v))?;
                    }
                }
                continue;
            }
            if key.contains(['.', ':', '[']) {
                self.quirks.allow(Leniency::PathlessPathKeys, ScimType::InvalidPath, || {
                    format!("a path-less operation's value keys must be attribute names, not the path \"{key}\"")
                })?;
            }
            let target = self.resolve(key)?;
            if target.def.mutability == Mutability::ReadOnly {
                continue;
            }
            self.apply_target(doc, members, op.op, &target, Some(value))?;
        }
        Ok(())
    }

    fn resolve(&mut self, text: &str) -> Result<Target<'a>, ScimError> {
        let path = parse_patch_path(text, self.limits)
            .map_err(|e| ScimError::invalid_path(format!("path \"{text}\": {e}")))?;
        resolve_path(self.rt, &path, text, self.quirks)
    }

    fn apply_target(
        &mut self,
        doc: &mut Map<String, Value>,
        members: &mut MemberPatch,
        op: OpKind,
        t: &Target<'_>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if t.def.mutability == Mutability::ReadOnly || t.sub.is_some_and(|s| s.mutability == Mutability::ReadOnly) {
            return Err(ScimError::mutability(format!("'{}' is read-only", t.display)));
        }
        if self.rt.kind == ResourceKind::Group && t.def.name == "members" && t.extension.is_none() {
            return self.apply_members(members, op, t, value);
        }
        let container = match &t.extension {
            None => &mut *doc,
            Some(urn) => {
                let entry = doc.entry(urn.clone()).or_insert_with(|| Value::Object(Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(Map::new());
                }
                match entry.as_object_mut() {
                    Some(obj) => obj,
                    None => return Err(ScimError::internal("extension container is not an object")),
                }
            }
        };
        let result = match (&t.filter, t.sub) {
            (Some(filter), _) => self.apply_filtered(container, op, t, filter, value),
            (None, Some(sub)) => self.apply_sub(container, op, t, sub, value),
            (None, None) => self.apply_attr(container, op, t, value),
        };
        if let Some(urn) = &t.extension {
            if doc.get(urn).and_then(Value::as_object).is_some_and(Map::is_empty) {
                doc.remove(urn);
            }
        }
        result
    }

    fn apply_attr(
        &mut self,
        container: &mut Map<String, Value>,
        op: OpKind,
        t: &Target<'_>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let def = t.def;
        let name = def.name.clone();
        if op == OpKind::Remove {
            if let (Some(v), true) = (value, def.multi_valued) {
                if !v.is_null() {
                    return self.remove_by_value(container, t, v);
                }
            }
            container.remove(&name);
            return Ok(());
        }
        let value = value.unwrap_or(&Value::Null);
        let checked = check_value(def, value, &t.display, self.quirks)?;
        self.check_immutable(container.get(&name), checked.as_ref(), t)?;
        let Some(new) = checked else {
            if op == OpKind::Replace {
                container.remove(&name);
            }
            return Ok(());
        };
        if def.multi_valued && op == OpKind::Add {
            let Value::Array(new_items) = new else { return Ok(()) };
            let existing = container.entry(name).or_insert_with(|| Value::Array(Vec::new()));
            let items = ensure_array(existing);
            if new_items.iter().any(is_primary) {
                items.iter_mut().for_each(clear_primary);
            }
            // Linear: a set of what is there instead of a scan per added value.
            let mut present: std::collections::HashSet<String> = items.iter().map(canonical).collect();
            for item in new_items {
                if present.insert(canonical(&item)) {
                    items.push(item);
                }
            }
        } else if def.kind == AttrType::Complex && !def.multi_valued {
            // Replacing or adding a complex attribute merges the given sub-attributes
            // (RFC 7644 §3.5.2.3: sub-attributes not specified are left unchanged).
            let existing = container.entry(name).or_insert_with(|| Value::Object(Map::new()));
            if !existing.is_object() {
                *existing = Value::Object(Map::new());
            }
            if let (Some(obj), Value::Object(new)) = (existing.as_object_mut(), new) {
                obj.extend(new);
            }
        } else {
            container.insert(name, new);
        }
        Ok(())
    }

    /// `remove` on a multi-valued attribute with a `value` list: remove just those values.
    fn remove_by_value(
        &mut self,
        container: &mut Map<String, Value>,
        t: &Target<'_>,
        value: &Value,
    ) -> Result<(), ScimError> {
        self.quirks.allow(Leniency::RemoveByValue, ScimType::InvalidValue, || {
            format!(
                "'remove' of '{}' must select values with a filter such as {}[value eq \"…\"] rather than a 'value' list (RFC 7644 §3.5.2.2)",
                t.display, t.def.name
            )
        })?;
        let targets: Vec<Value> = match value {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        let name = t.def.name.clone();
        if let Some(Value::Array(items)) = container.get_mut(&name) {
            items.retain(|item| !targets.iter().any(|target| same_value(item, target)));
            if items.is_empty() {
                container.remove(&name);
            }
        }
        Ok(())
    }

    fn apply_sub(
        &mut self,
        container: &mut Map<String, Value>,
        op: OpKind,
        t: &Target<'_>,
        sub: &AttributeDef,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let name = t.def.name.clone();
        let checked = match (op, value) {
            (OpKind::Remove, _) => None,
            (_, Some(v)) => check_single(sub, v, &t.display, self.quirks)?,
            (_, None) => None,
        };
        if t.def.multi_valued {
            // `emails.type`: applies to every value of the attribute.
            let entry = container.entry(name.clone()).or_insert_with(|| Value::Array(Vec::new()));
            let items = ensure_array(entry);
            if items.is_empty() && checked.is_some() {
                items.push(Value::Object(Map::new()));
            }
            for item in items.iter_mut() {
                set_sub(item, &sub.name, checked.clone());
            }
            items.retain(|i| i.as_object().is_some_and(|o| !o.is_empty()));
            if items.is_empty() {
                container.remove(&name);
            }
            return Ok(());
        }
        let entry = container.entry(name.clone()).or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        set_sub(entry, &sub.name, checked);
        if entry.as_object().is_some_and(Map::is_empty) {
            container.remove(&name);
        }
        Ok(())
    }

    fn apply_filtered(
        &mut self,
        container: &mut Map<String, Value>,
        op: OpKind,
        t: &Target<'_>,
        filter: &Expr,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let name = t.def.name.clone();
        let sub = t.sub_after_filter;
        // Check the value before touching the document.
        let checked = match (op, sub, value) {
            (OpKind::Remove, _, _) => None,
            (_, Some(sub), Some(v)) => check_single(sub, v, &t.display, self.quirks)?,
            (_, None, Some(v)) => check_single(t.def, v, &t.display, self.quirks)?,
            (_, _, None) => None,
        };
        let entry = container.entry(name.clone()).or_insert_with(|| Value::Array(Vec::new()));
        let items = ensure_array(entry);
        let mut matched: Vec<usize> =
            items.iter().enumerate().filter(|(_, item)| filter.matches(item)).map(|(i, _)| i).collect();
        if matched.is_empty() && op != OpKind::Remove {
            self.quirks.allow(Leniency::ValuePathCreate, ScimType::NoTarget, || {
                format!("no value of '{}' matches the filter in \"{}\"", t.def.name, t.display)
            })?;
            items.push(Value::Object(filter_equalities(filter)));
            matched.push(items.len() - 1);
        }
        if op == OpKind::Remove {
            match sub {
                Some(sub) => {
                    for &i in &matched {
                        set_sub(&mut items[i], &sub.name, None);
                    }
                    items.retain(|i| i.as_object().is_some_and(|o| !o.is_empty()));
                }
                None => {
                    let matched: std::collections::HashSet<usize> = matched.iter().copied().collect();
                    let mut index = 0;
                    items.retain(|_| {
                        let keep = !matched.contains(&index);
                        index += 1;
                        keep
                    });
                }
            }
        } else {
            let sets_primary = match (sub, &checked) {
                (Some(s), Some(v)) => s.name == "primary" && v == &Value::Bool(true),
                (None, Some(v)) => is_primary(v),
                _ => false,
            };
            if sets_primary {
                let matched: std::collections::HashSet<usize> = matched.iter().copied().collect();
                for (i, item) in items.iter_mut().enumerate() {
                    if !matched.contains(&i) {
                        clear_primary(item);
                    }
                }
            }
            for &i in &matched {
                match (sub, &checked) {
                    (Some(sub), v) => set_sub(&mut items[i], &sub.name, v.clone()),
                    (None, Some(Value::Object(new))) if op == OpKind::Add => {
                        if let Some(obj) = items[i].as_object_mut() {
                            obj.extend(new.clone());
                        }
                    }
                    (None, Some(v)) => items[i] = v.clone(),
                    (None, None) => {}
                }
            }
            items.retain(|i| i.as_object().is_some_and(|o| !o.is_empty()));
        }
        if items.is_empty() {
            container.remove(&name);
        }
        Ok(())
    }

    fn check_immutable(&self, old: Option<&Value>, new: Option<&Value>, t: &Target<'_>) -> Result<(), ScimError> {
        if t.def.mutability == Mutability::Immutable {
            if let Some(old) = old {
                if Some(old) != new {
                    return Err(ScimError::mutability(format!("'{}' is immutable and already has a value", t.display)));
                }
            }
        }
        Ok(())
    }

    fn apply_members(
        &mut self,
        members: &mut MemberPatch,
        op: OpKind,
        t: &Target<'_>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if t.sub.is_some() || t.sub_after_filter.is_some() || (t.filter.is_some() && op != OpKind::Remove) {
            return Err(ScimError::invalid_path(format!(
                "\"{}\": members are added or removed whole; their sub-attributes are immutable",
                t.display
            )));
        }
        match op {
            OpKind::Add | OpKind::Replace => {
                let entries = self.member_entries(t, value)?;
                if op == OpKind::Replace {
                    members.clear = true;
                    members.changes.clear();
                }
                for (id, entry) in entries {
                    members.changes.insert(id, Some(entry));
                }
            }
            OpKind::Remove => match (&t.filter, value) {
                (Some(filter), _) => {
                    let ids = match single_value_eq(filter) {
                        Some(id) => vec![id],
                        None => self.matching_members(members, filter)?,
                    };
                    for id in ids {
                        members.changes.insert(id, None);
                    }
                }
                (None, Some(v)) if !v.is_null() => {
                    self.quirks.allow(Leniency::RemoveByValue, ScimType::InvalidValue, || {
                        "'remove' of 'members' with a 'value' list: RFC 7644 §3.5.2.2 selects members with a path filter, members[value eq \"<id>\"]; without one every member is removed".to_string()
                    })?;
                    for (id, _) in self.member_entries(t, Some(v))? {
                        members.changes.insert(id, None);
                    }
                }
                (None, _) => {
                    members.clear = true;
                    members.changes.clear();
                }
            },
        }
        Ok(())
    }

    fn member_entries(&mut self, t: &Target<'_>, value: Option<&Value>) -> Result<Vec<(String, Value)>, ScimError> {
        let Some(checked) = check_value(t.def, value.unwrap_or(&Value::Null), "members", self.quirks)? else {
            return Ok(Vec::new());
        };
        let items = match checked {
            Value::Array(items) => items,
            other => vec![other],
        };
        items
            .into_iter()
            .map(|item| match item.get("value").and_then(Value::as_str) {
                Some(id) if !id.is_empty() => Ok((id.to_string(), item.clone())),
                _ => Err(ScimError::invalid_value("every member needs a 'value' with the member's id")),
            })
            .collect()
    }

    /// Members (current, with this request's earlier changes applied) matching `filter`.
    fn matching_members(&self, members: &MemberPatch, filter: &Expr) -> Result<Vec<String>, ScimError> {
        let mut current: BTreeMap<String, Value> = BTreeMap::new();
        if !members.clear {
            for m in (self.load_members)()? {
                if let Some(id) = m.get("value").and_then(Value::as_str) {
                    current.insert(id.to_string(), m.clone());
                }
            }
        }
        for (id, change) in &members.changes {
            match change {
                Some(entry) => current.insert(id.clone(), entry.clone()),
                None => current.remove(id),
            };
        }
        Ok(current.into_iter().filter(|(_, m)| filter.matches(m)).map(|(id, _)| id).collect())
    }
}

fn resolve_path<'r>(
    rt: &'r ResourceType,
    path: &PatchPath,
    text: &str,
    quirks: &mut Quirks,
) -> Result<Target<'r>, ScimError> {
    let resolved = rt
        .resolve(path.attr.urn.as_deref(), &path.attr.name, path.attr.sub.as_deref())
        .map_err(|m| ScimError::invalid_path(format!("path \"{text}\": {m}")))?;
    let def = resolved.attr;
    let sub = resolved.sub;
    let extension = resolved.extension.map(str::to_string);
    let mut target = Target { extension, def, sub, filter: None, sub_after_filter: None, display: text.to_string() };
    if let Some(filter) = &path.filter {
        if path.attr.sub.is_some() {
            return Err(ScimError::invalid_path(format!(
                "path \"{text}\": a filter goes after the attribute, as in emails[type eq \"work\"].value"
            )));
        }
        if def.kind != AttrType::Complex {
            return Err(ScimError::invalid_path(format!(
                "path \"{text}\": '{}' is not complex, so it has no values to filter",
                def.name
            )));
        }
        let scoped = Filter::ValuePath { attr: path.attr.clone(), filter: Box::new(filter.clone()) };
        let valid = scoped
            .validate(
                rt,
                ValidateOptions { boolean_strings: quirks.accepts(Leniency::BooleanString), unknown_as_absent: false },
            )
            .map_err(|e| ScimError::invalid_path(format!("path \"{text}\": {e}")))?;
        if valid.coerced_boolean_strings {
            quirks.allow(Leniency::BooleanString, ScimType::InvalidPath, String::new)?;
        }
        let Expr::Any { inner, .. } = valid.expr else {
            return Err(ScimError::internal("value path did not validate to a value filter"));
        };
        target.filter = Some(*inner);
        if let Some(sub) = &path.sub_after_filter {
            target.sub_after_filter = Some(def.sub(sub).ok_or_else(|| {
                ScimError::invalid_path(format!("path \"{text}\": '{}' has no sub-attribute '{sub}'", def.name))
            })?);
        }
    }
    Ok(target)
}

fn ensure_array(v: &mut Value) -> &mut Vec<Value> {
    if !v.is_array() {
        *v = Value::Array(Vec::new());
    }
    match v {
        Value::Array(items) => items,
        // Not reachable: `v` was made an array above. Re-make it rather than panic.
        other => {
            *other = Value::Array(Vec::new());
            ensure_array(other)
        }
    }
}

fn set_sub(item: &mut Value, sub: &str, value: Option<Value>) {
    if !item.is_object() {
        *item = Value::Object(Map::new());
    }
    if let Some(obj) = item.as_object_mut() {
        match value {
            Some(v) => {
                obj.insert(sub.to_string(), v);
            }
            None => {
                obj.remove(sub);
            }
        }
    }
}

fn is_primary(v: &Value) -> bool {
    v.get("primary") == Some(&Value::Bool(true))
}

fn clear_primary(v: &mut Value) {
    if let Some(obj) = v.as_object_mut() {
        if obj.get("primary") == Some(&Value::Bool(true)) {
            obj.insert("primary".into(), Value::Bool(false));
        }
    }
}

/// Two values of a multi-valued attribute are the same when their `value` sub-attributes
/// are equal (or, for simple values, the values themselves).
fn same_value(item: &Value, target: &Value) -> bool {
    match (get_ci(item, "value"), get_ci(target, "value")) {
        (Some(a), Some(b)) => a == b,
        _ => item == target,
    }
}

/// The `attr eq value` terms of a value filter, used to build the element a filtered
/// add/replace creates (`emails[type eq "work"]` → `{"type": "work"}`).
fn filter_equalities(filter: &Expr) -> Map<String, Value> {
    let mut out = Map::new();
    collect_equalities(filter, &mut out);
    out
}

fn collect_equalities(filter: &Expr, out: &mut Map<String, Value>) {
    match filter {
        Expr::Compare { target, op: CompareOp::Eq, value } if !value.is_null() => {
            out.insert(target.attr.clone(), value.clone());
        }
        Expr::And(l, r) => {
            collect_equalities(l, out);
            collect_equalities(r, out);
        }
        _ => {}
    }
}

/// `value eq "id"`: the member filter Entra and the RFC examples use.
fn single_value_eq(filter: &Expr) -> Option<String> {
    match filter {
        Expr::Compare { target, op: CompareOp::Eq, value: Value::String(id) } if target.attr == "value" => {
            Some(id.clone())
        }
        _ => None,
    }
}

/// A value's text with object keys sorted, so equal values (in any key order) are equal
/// strings: the key of a set of multi-valued items.
fn canonical(v: &Value) -> String {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> =
                entries.iter().map(|(k, v)| format!("{}:{}", Value::String((*k).clone()), canonical(v))).collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}
