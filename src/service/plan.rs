//! How a filter is answered: which index accesses give a superset of its matches, what
//! text every match must contain, and which attributes it reads.

use serde_json::Value;

use super::index_value;
use crate::filter::{CompareOp, Expr, Target};
use crate::scim::ResourceKind;
use crate::store::{IndexKey, Lookup};

/// How a filter will be answered.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Access {
    Id(String),
    Index(Lookup),
}

pub(super) fn needs_relations(kind: ResourceKind, expr: &Expr) -> bool {
    let relation = match kind {
        ResourceKind::Group => "members",
        ResourceKind::User => "groups",
    };
    match expr {
        Expr::Compare { target, .. } | Expr::Present(target) | Expr::Any { target, .. } => {
            !target.relative && target.extension.is_none() && target.attr == relation
        }
        Expr::And(l, r) | Expr::Or(l, r) => needs_relations(kind, l) || needs_relations(kind, r),
        Expr::Not(inner) => needs_relations(kind, inner),
    }
}

/// The indexed attribute a target addresses, with its case rule.
fn indexed(kind: ResourceKind, target: &Target) -> Option<(&'static str, bool)> {
    if target.extension.is_some() || target.relative {
        return None;
    }
    match (kind, target.attr.as_str(), target.sub.as_deref()) {
        (_, "externalId", None) => Some(("externalId", true)),
        (ResourceKind::User, "userName", None) => Some(("userName", false)),
        (ResourceKind::User, "emails", Some("value")) => Some(("emails.value", false)),
        (ResourceKind::Group, "displayName", None) => Some(("displayName", false)),
        _ => None,
    }
}

/// Lower-cased text a resource's JSON must contain (ASCII-case-insensitively) to match:
/// the string literals of `eq`, `co`, `sw` and `ew` on string attributes that every match
/// needs (both sides of an `and`, inside a value path); none under `or` or `not`. Only
/// printable ASCII without quotes or backslashes, which JSON stores as written. Not for
/// filters on relations (group members, a user's groups), which live outside the document.
pub(super) fn required_text(expr: &Expr) -> Vec<String> {
    match expr {
        Expr::Compare {
            target,
            op: CompareOp::Eq | CompareOp::Co | CompareOp::Sw | CompareOp::Ew,
            value: Value::String(s),
        } if target.kind == crate::scim::schema::AttrType::String
                // meta is rendered, not stored.
                && target.attr != "meta"
                && !s.is_empty()
                && s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') =>
        {
            vec![s.to_ascii_lowercase()]
        }
        Expr::And(left, right) => {
            let mut all = required_text(left);
            all.extend(required_text(right));
            all
        }
        Expr::Any { inner, .. } => required_text(inner),
        _ => Vec::new(),
    }
}

/// Index accesses whose union is a superset of the filter's matches, or `None` for a scan.
pub(super) fn plan(kind: ResourceKind, expr: &Expr) -> Option<Vec<Access>> {
    match expr {
        Expr::Compare { target, op, value: Value::String(v) } => plan_compare(kind, target, *op, v),
        Expr::Any { target, inner } => {
            let member_kind = |t: &Target| Target {
                relative: false,
                sub: Some(t.attr.clone()),
                attr: target.attr.clone(),
                ..t.clone()
            };
            plan_element(inner).and_then(|(t, op, v)| plan_compare(kind, &member_kind(t), op, v))
        }
        Expr::And(l, r) => match (plan(kind, l), plan(kind, r)) {
            (Some(a), Some(b)) => Some(if rank(&b) < rank(&a) { b } else { a }),
            (a, b) => a.or(b),
        },
        Expr::Or(l, r) => {
            let mut a = plan(kind, l)?;
            a.extend(plan(kind, r)?);
            Some(a)
        }
        _ => None,
    }
}

fn plan_compare(kind: ResourceKind, target: &Target, op: CompareOp, value: &str) -> Option<Vec<Access>> {
    if target.extension.is_none() && !target.relative {
        if target.attr == "id" && op == CompareOp::Eq {
            return Some(vec![Access::Id(value.to_string())]);
        }
        if kind == ResourceKind::Group
            && target.attr == "members"
            && target.sub.as_deref() == Some("value")
            && op == CompareOp::Eq
        {
            return Some(vec![Access::Index(Lookup::GroupsWithMember(value.to_string()))]);
        }
    }
    let (attr, case_exact) = indexed(kind, target)?;
    let key = IndexKey::new(attr, index_value(value, case_exact));
    match op {
        CompareOp::Eq => Some(vec![Access::Index(Lookup::Eq(key))]),
        CompareOp::Sw => Some(vec![Access::Index(Lookup::Prefix(key))]),
        _ => None,
    }
}

/// Inside `attr[...]`: an `eq`/`sw` on a string sub-attribute, possibly in an `and` chain.
fn plan_element(inner: &Expr) -> Option<(&Target, CompareOp, &str)> {
    match inner {
        Expr::Compare { target, op: op @ (CompareOp::Eq | CompareOp::Sw), value: Value::String(v) } => {
            Some((target, *op, v.as_str()))
        }
        Expr::And(l, r) => plan_element(l).or_else(|| plan_element(r)),
        _ => None,
    }
}

/// Lower is more selective: direct ids, then equality, then prefix scans.
fn rank(accesses: &[Access]) -> usize {
    accesses
        .iter()
        .map(|a| match a {
            Access::Id(_) => 1,
            Access::Index(Lookup::Eq(_)) | Access::Index(Lookup::GroupsWithMember(_)) => 2,
            Access::Index(Lookup::Prefix(_)) => 4,
        })
        .sum()
}

/// The attributes a filter reads, as (extension URN, top-level name): a candidate's check
/// needs only these of its document. Value-path members are read through their attribute.
pub(super) fn read_attributes(expr: &Expr) -> Vec<(Option<&str>, &str)> {
    let mut out = Vec::new();
    collect_read(expr, &mut out);
    out
}

fn collect_read<'a>(expr: &'a Expr, out: &mut Vec<(Option<&'a str>, &'a str)>) {
    match expr {
        Expr::Compare { target, .. } | Expr::Present(target) => {
            if !target.relative {
                out.push((target.extension.as_deref(), target.attr.as_str()));
            }
        }
        Expr::Any { target, inner } => {
            out.push((target.extension.as_deref(), target.attr.as_str()));
            collect_read(inner, out);
        }
        Expr::And(l, r) | Expr::Or(l, r) => {
            collect_read(l, out);
            collect_read(r, out);
        }
        Expr::Not(inner) => collect_read(inner, out),
    }
}
