//! How a filter is answered: which index accesses give a superset of its matches, what
//! text every match must contain, and which attributes it reads.

use serde_json::Value;

use super::{index_value, user_name_key};
use crate::filter::{CompareOp, Expr, Target};
use crate::scim::ResourceKind;
use crate::store::{IndexKey, Lookup};

/// How a filter will be answered.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Access {
    Id(String),
    Index(Lookup),
    /// The owner of a uniqueness key, one point read; when no resource holds the key, the
    /// equality index. Resources written before the key's present form (docs/scim-server.md,
    /// "userName uniqueness") carry an older key or none, and the index still finds them.
    Unique {
        key: IndexKey,
        index: IndexKey,
    },
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
    if op == CompareOp::Eq && target.sub.is_none() && unique_attribute(kind) == Some(attr) {
        let key = IndexKey::new(attr, user_name_key(value));
        return Some(vec![Access::Unique { key, index: IndexKey::new(attr, index_value(value, case_exact)) }]);
    }
    let key = IndexKey::new(attr, index_value(value, case_exact));
    match op {
        CompareOp::Eq => Some(vec![Access::Index(Lookup::Eq(key))]),
        CompareOp::Sw => Some(vec![Access::Index(Lookup::Prefix(key))]),
        _ => None,
    }
}

/// The attribute each resource type keeps a uniqueness entry for ([`super::index_keys`]).
fn unique_attribute(kind: ResourceKind) -> Option<&'static str> {
    match kind {
        ResourceKind::User => Some("userName"),
        ResourceKind::Group => Some("displayName"),
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
            Access::Id(_) | Access::Unique { .. } | Access::Index(Lookup::Unique(_)) => 1,
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

#[cfg(test)]
mod tests {
    use super::user_name_key;

    /// `userName eq` is answered from the uniqueness key, so two names equal once
    /// lower-cased (the filter's comparison) must share that key, for any character alone,
    /// after a letter or before combining marks. Folding without lower-casing first failed
    /// this (U+A7CE, newer than the fold's tables; U+1FBC before U+0342).
    #[test]
    fn lower_casing_never_changes_the_uniqueness_fold() {
        let mut checked = 0;
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let alone = c.to_string();
            if alone.to_lowercase() == alone {
                continue;
            }
            let mut forms = vec![alone.clone(), format!("a{c}"), format!("{c}a"), format!("{c}{c}")];
            forms.extend(('\u{300}'..='\u{36F}').map(|mark| format!("{c}{mark}")));
            for form in forms {
                assert_eq!(user_name_key(&form.to_lowercase()), user_name_key(&form), "{form:?} ({:04X})", c as u32);
                checked += 1;
            }
        }
        assert!(checked > 100_000, "only {checked} forms were checked");
    }

    /// ASCII takes a shortcut past normalization and folding: the same keys as the full path.
    #[test]
    fn ascii_user_names_get_the_full_paths_key() {
        let full = super::super::folded_user_name_key;
        let printable: String = (0x20u8..0x7f).map(char::from).collect();
        for name in [printable.as_str(), " Alice.Smith@Example.COM\t", "\u{b}x\r\n", "", "   "] {
            assert_eq!(user_name_key(name), full(name), "{name:?}");
        }
        for byte in 0u8..0x80 {
            let name = format!(" A{}z ", char::from(byte));
            assert_eq!(user_name_key(&name), full(&name), "{name:?}");
        }
    }
}
