//! Evaluates a validated filter against a resource document.
//!
//! Semantics (RFC 7644 §3.4.2.2): attribute names were resolved by validation; string
//! comparison honours `caseExact`; dateTimes compare chronologically; numbers numerically;
//! multi-valued attributes match when any value matches; `pr` means present and non-empty.

use std::cmp::Ordering;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::ast::CompareOp;
use super::validate::{Expr, Target, ValidFilter};
use crate::scim::schema::AttrType;

impl ValidFilter {
    pub fn matches(&self, doc: &Value) -> bool {
        eval(&self.expr, doc)
    }
}

impl Expr {
    /// Evaluates this expression against a resource (or, for the inner expression of a
    /// value filter, against one element of the multi-valued attribute).
    pub fn matches(&self, doc: &Value) -> bool {
        eval(self, doc)
    }
}

fn eval(expr: &Expr, doc: &Value) -> bool {
    match expr {
        Expr::And(l, r) => eval(l, doc) && eval(r, doc),
        Expr::Or(l, r) => eval(l, doc) || eval(r, doc),
        Expr::Not(inner) => !eval(inner, doc),
        Expr::Present(target) => values(target, doc).iter().any(|v| is_present(v)),
        Expr::Compare { target, op, value } => compare_any(target, *op, value, doc),
        Expr::Any { target, inner } => values(target, doc).iter().any(|element| eval(inner, element)),
    }
}

fn compare_any(target: &Target, op: CompareOp, value: &Value, doc: &Value) -> bool {
    let found = values(target, doc);
    if value.is_null() {
        let present = found.iter().any(|v| is_present(v));
        return if op == CompareOp::Eq { !present } else { present };
    }
    if op == CompareOp::Ne {
        // `ne` is the negation of `eq`: an absent attribute is "not equal".
        return !found.iter().any(|v| compare(target.kind, target.case_exact, CompareOp::Eq, v, value));
    }
    found.iter().any(|v| compare(target.kind, target.case_exact, op, v, value))
}

/// Looks up a key the way SCIM names work: exact spelling first, then case-insensitively.
pub fn get_ci<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// Every value the target addresses in `doc`, with multi-valued attributes flattened.
pub fn values<'a>(target: &Target, doc: &'a Value) -> Vec<&'a Value> {
    let container = match (&target.extension, target.relative) {
        (Some(urn), false) => match get_ci(doc, urn) {
            Some(ext) => ext,
            None => return Vec::new(),
        },
        _ => doc,
    };
    let Some(attr) = get_ci(container, &target.attr) else {
        return Vec::new();
    };
    let top: Vec<&Value> = match attr {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    match &target.sub {
        None => top,
        Some(sub) => top
            .into_iter()
            .filter_map(|element| get_ci(element, sub))
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().collect::<Vec<_>>(),
                other => vec![other],
            })
            .collect(),
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => o.values().any(is_present),
        _ => true,
    }
}

pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Compares one attribute value with one validated filter value under the attribute's
/// type rules.
pub(crate) fn compare(kind: AttrType, case_exact: bool, op: CompareOp, actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Bool(a), Value::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        (Value::Number(a), Value::Number(b)) => {
            let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else { return false };
            ordering_matches(op, a.partial_cmp(&b))
        }
        (Value::String(a), Value::String(b)) => {
            if kind == AttrType::DateTime && !op.is_substring() {
                if let (Some(a), Some(b)) = (parse_datetime(a), parse_datetime(b)) {
                    return ordering_matches(op, Some(a.cmp(&b)));
                }
            }
            if case_exact {
                compare_str(op, a, b)
            } else if kind == AttrType::DateTime {
                compare_str(op, &a.to_lowercase(), &b.to_lowercase())
            } else {
                // The filter value of a case-insensitive string was lower-cased by
                // validation, once.
                compare_str(op, &a.to_lowercase(), b)
            }
        }
        _ => false,
    }
}

fn compare_str(op: CompareOp, a: &str, b: &str) -> bool {
    match op {
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        _ => ordering_matches(op, Some(a.cmp(b))),
    }
}

fn ordering_matches(op: CompareOp, ord: Option<Ordering>) -> bool {
    let Some(ord) = ord else { return false };
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Orders two attribute values for `sortBy` (RFC 7644 §3.4.2.3), by the attribute's type.
pub fn sort_cmp(kind: AttrType, case_exact: bool, a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().partial_cmp(&y.as_f64()).unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => {
            if kind == AttrType::DateTime {
                if let (Some(x), Some(y)) = (parse_datetime(x), parse_datetime(y)) {
                    return x.cmp(&y);
                }
            }
            if case_exact {
                x.cmp(y)
            } else {
                x.to_lowercase().cmp(&y.to_lowercase())
            }
        }
        _ => Ordering::Equal,
    }
}
