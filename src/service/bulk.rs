//! `/Bulk` (RFC 7644 §3.7): POST, PUT, PATCH and DELETE operations in one request, with
//! `bulkId` references resolved across operations (a group created with members created in
//! the same request), `failOnErrors`, and `maxOperations`.
//!
//! Each operation is applied through the same service calls as a single request, so the
//! same validation, uniqueness, CAS versions and durability hold. Bulk is not atomic (the
//! RFC does not require it): operations that succeeded stay.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::{ReadOptions, ScimService};
use crate::scim::{urn, ResourceKind, ScimError, ScimType};

struct Op {
    index: usize,
    method: String,
    path: String,
    bulk_id: Option<String>,
    version: Option<String>,
    data: Option<Value>,
}

fn parse_operations(body: &Value, max_operations: usize) -> Result<(Vec<Op>, Option<usize>), ScimError> {
    let obj = body.as_object().ok_or_else(|| ScimError::invalid_syntax("a BulkRequest must be a JSON object"))?;
    let declares = obj
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(urn::BULK_REQUEST))));
    if !declares {
        return Err(ScimError::invalid_syntax(format!(
            "a BulkRequest must declare schemas [\"{}\"]",
            urn::BULK_REQUEST
        )));
    }
    let fail_on_errors = match obj.get("failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| ScimError::invalid_value("failOnErrors must be a positive integer"))?
                as usize,
        ),
    };
    let ops = obj
        .get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("a BulkRequest needs an 'Operations' array"))?;
    if ops.len() > max_operations {
        return Err(ScimError::payload_too_large(format!(
            "{} operations exceed maxOperations {max_operations} (see /ServiceProviderConfig bulk)",
            ops.len()
        )));
    }
    let mut parsed = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let at = |field: &str| format!("Operations[{index}].{field}");
        let method = op
            .get("method")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ScimError::invalid_syntax(format!("{} is required (POST, PUT, PATCH or DELETE)", at("method")))
            })?
            .to_ascii_uppercase();
        if !["POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
            return Err(ScimError::invalid_value(format!(
                "{} must be POST, PUT, PATCH or DELETE, not {method}",
                at("method")
            )));
        }
        let path = op
            .get("path")
            .and_then(Value::as_str)
            .ok_or_else(|| ScimError::invalid_syntax(format!("{} is required, e.g. \"/Users\"", at("path"))))?
            .to_string();
        let bulk_id = op.get("bulkId").and_then(Value::as_str).map(str::to_string);
        if method == "POST" && bulk_id.is_none() {
            return Err(ScimError::invalid_syntax(format!("{} is required for POST", at("bulkId"))));
        }
        let data = op.get("data").cloned();
        if method != "DELETE" && data.is_none() {
            return Err(ScimError::invalid_syntax(format!("{} is required for {method}", at("data"))));
        }
        let version = op.get("version").and_then(Value::as_str).map(str::to_string);
        if let Some(id) = &bulk_id {
            if parsed.iter().any(|o: &Op| o.bulk_id.as_deref() == Some(id.as_str())) {
                return Err(ScimError::invalid_syntax(format!(
                    "{}: bulkId '{id}' is used by an earlier operation too; each bulkId must be unique",
                    at("bulkId")
                )));
            }
        }
        parsed.push(Op { index, method, path, bulk_id, version, data });
    }
    Ok((parsed, fail_on_errors))
}

/// The bulkIds an operation refers to (`bulkId:x` in its path or anywhere in its data).
fn references(op: &Op) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => {
                if let Some(r) = s.strip_prefix("bulkId:") {
                    out.push(r.to_string());
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            Value::Object(map) => map.values().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out: Vec<String> =
        op.path.split('/').filter_map(|s| s.strip_prefix("bulkId:")).map(str::to_string).collect();
    if let Some(d) = &op.data {
        walk(d, &mut out);
    }
    out.sort();
    out.dedup();
    out
}

/// The operations in an order where every operation comes after those whose bulkIds it
/// refers to (request order where references allow), and the operations that cannot run:
/// a reference to no operation's bulkId, or a cycle of references (named).
fn order(ops: &[Op]) -> (Vec<usize>, Vec<(usize, String)>) {
    let defined: HashMap<&str, usize> =
        ops.iter().enumerate().filter_map(|(i, o)| Some((o.bulk_id.as_deref()?, i))).collect();
    let mut blocked = Vec::new();
    let mut waiting_on: Vec<Vec<usize>> = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let mut deps = Vec::new();
        for r in references(op) {
            match defined.get(r.as_str()) {
                Some(&d) if d != i => deps.push(d),
                Some(_) => blocked.push((i, format!("the operation refers to its own bulkId '{r}'"))),
                None => blocked.push((i, format!("bulkId '{r}' is not created by any operation of this request"))),
            }
        }
        waiting_on.push(deps);
    }
    let blocked_set: std::collections::HashSet<usize> = blocked.iter().map(|(i, _)| *i).collect();
    let mut done = vec![false; ops.len()];
    let mut sorted = Vec::new();
    loop {
        let ready: Vec<usize> = (0..ops.len())
            .filter(|&i| !done[i] && !blocked_set.contains(&i))
            .filter(|&i| waiting_on[i].iter().all(|d| done[*d] || blocked_set.contains(d)))
            .collect();
        if ready.is_empty() {
            break;
        }
        for i in ready {
            done[i] = true;
            sorted.push(i);
        }
    }
    for i in (0..ops.len()).filter(|&i| !done[i] && !blocked_set.contains(&i)) {
        let cycle: Vec<&str> = std::iter::once(i)
            .chain(waiting_on[i].iter().copied().filter(|d| !done[*d]))
            .filter_map(|j| ops[j].bulk_id.as_deref())
            .collect();
        blocked.push((i, format!("the bulkId references form a cycle ({})", cycle.join(" → "))));
    }
    (sorted, blocked)
}

/// Replaces `bulkId:x` references in strings; `Err(x)` names the first unresolved one.
fn resolve(value: &Value, ids: &HashMap<String, String>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => match s.strip_prefix("bulkId:") {
            Some(reference) => Value::String(ids.get(reference).cloned().ok_or_else(|| reference.to_string())?),
            None => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| resolve(v, ids)).collect::<Result<_, _>>()?),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), resolve(v, ids)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

fn resolve_path(path: &str, ids: &HashMap<String, String>) -> Result<String, String> {
    let mut out = Vec::new();
    for segment in path.split('/') {
        match segment.strip_prefix("bulkId:") {
            Some(reference) => out.push(ids.get(reference).cloned().ok_or_else(|| reference.to_string())?),
            None => out.push(segment.to_string()),
        }
    }
    Ok(out.join("/"))
}

/// `/Users` → (User, None); `/Groups/abc` → (Group, Some("abc")).
fn target(path: &str) -> Result<(ResourceKind, Option<String>), ScimError> {
    let trimmed = path.trim_start_matches('/');
    let (endpoint, id) = match trimmed.split_once('/') {
        Some((e, id)) => (e, Some(id.to_string())),
        None => (trimmed, None),
    };
    let kind = ResourceKind::from_endpoint(endpoint)
        .ok_or_else(|| ScimError::invalid_path(format!("'{path}' is not /Users or /Groups")))?;
    Ok((kind, id.filter(|i| !i.is_empty())))
}

impl ScimService {
    /// Runs a BulkRequest and returns the BulkResponse body. `inject` may fail single
    /// operations (fault injection: a partial Bulk failure), given method and path.
    pub fn bulk(
        &self,
        body: &Value,
        max_operations: usize,
        opts: &ReadOptions,
        inject: &dyn Fn(&str, &str) -> Option<ScimError>,
    ) -> Result<Value, ScimError> {
        let (ops, fail_on_errors) = parse_operations(body, max_operations)?;
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut results: Vec<Option<Value>> = vec![None; ops.len()];
        let mut errors = 0;
        let (sorted, blocked) = order(&ops);
        for (i, why) in blocked {
            errors += 1;
            let e = ScimError::new(409, Some(ScimType::InvalidValue), why);
            results[ops[i].index] = Some(self.bulk_result(&ops[i], None, Err(e)));
        }
        for i in sorted {
            let op = &ops[i];
            if fail_on_errors.is_some_and(|limit| errors >= limit) {
                break;
            }
            let resolved = resolve_path(&op.path, &ids)
                .and_then(|path| op.data.as_ref().map(|d| resolve(d, &ids)).transpose().map(|d| (path, d)));
            let (path, data) = match resolved {
                Ok(r) => r,
                Err(reference) => {
                    // Its operation ran first but failed, so there is no id to put in.
                    errors += 1;
                    let e = ScimError::new(
                        409,
                        Some(ScimType::InvalidValue),
                        format!("bulkId '{reference}' was not created: the operation that creates it failed"),
                    );
                    results[op.index] = Some(self.bulk_result(op, None, Err(e)));
                    continue;
                }
            };
            let outcome = match inject(&op.method, &path) {
                Some(e) => Err(e),
                None => self.bulk_apply(op, &path, data.as_ref(), opts),
            };
            if let (Ok((_, Some(created))), Some(bulk_id)) = (&outcome, &op.bulk_id) {
                ids.insert(bulk_id.clone(), created.clone());
            }
            if outcome.is_err() {
                errors += 1;
            }
            results[op.index] = Some(self.bulk_result(op, Some(&path), outcome.map(|(r, _)| r)));
        }
        let operations: Vec<Value> = results.into_iter().flatten().collect();
        Ok(json!({"schemas": [urn::BULK_RESPONSE], "Operations": operations}))
    }

    /// Applies one operation: (status, location, version) and the id a POST created.
    #[allow(clippy::type_complexity)]
    fn bulk_apply(
        &self,
        op: &Op,
        path: &str,
        data: Option<&Value>,
        opts: &ReadOptions,
    ) -> Result<((u16, Option<String>, Option<String>), Option<String>), ScimError> {
        let (kind, id) = target(path)?;
        let need_id = || {
            id.clone()
                .ok_or_else(|| ScimError::invalid_path(format!("{} needs /{}/{{id}}", op.method, kind.endpoint())))
        };
        let empty = Value::Null;
        let data = data.unwrap_or(&empty);
        match op.method.as_str() {
            "POST" => {
                if id.is_some() {
                    return Err(ScimError::invalid_path(format!("POST goes to /{}, not to an id", kind.endpoint())));
                }
                let o = self.create(kind, data, opts)?;
                let created = o.resource.get("id").and_then(Value::as_str).map(str::to_string);
                Ok(((201, Some(o.location.clone()), Some(o.etag())), created))
            }
            "PUT" => {
                let o = self.replace(kind, &need_id()?, data, op.version.as_deref(), opts)?;
                Ok(((200, Some(o.location.clone()), Some(o.etag())), None))
            }
            "PATCH" => {
                let o = self.patch(kind, &need_id()?, data, op.version.as_deref(), opts)?;
                Ok(((200, Some(o.location.clone()), Some(o.etag())), None))
            }
            _ => {
                let id = need_id()?;
                self.delete(kind, &id, op.version.as_deref())?;
                Ok(((204, Some(format!("{}/{}/{id}", opts.base, kind.endpoint())), None), None))
            }
        }
    }

    fn bulk_result(
        &self,
        op: &Op,
        path: Option<&str>,
        outcome: Result<(u16, Option<String>, Option<String>), ScimError>,
    ) -> Value {
        let mut out = Map::new();
        out.insert("method".into(), json!(op.method));
        if let Some(b) = &op.bulk_id {
            out.insert("bulkId".into(), json!(b));
        }
        match outcome {
            Ok((status, location, version)) => {
                out.insert("status".into(), json!(status.to_string()));
                if let Some(l) = location {
                    out.insert("location".into(), json!(l));
                }
                if let Some(v) = version {
                    out.insert("version".into(), json!(v));
                }
            }
            Err(e) => {
                out.insert("status".into(), json!(e.status.to_string()));
                if let Some(p) = path {
                    out.insert("path".into(), json!(p));
                }
                out.insert("response".into(), e.to_body());
            }
        }
        Value::Object(out)
    }
}
