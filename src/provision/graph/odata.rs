//! The OData `$filter` of `GET /auditLogs/provisioning` (grammar/odata_filter.pest): parsed
//! into a small tree, then evaluated against each `provisioningObjectSummary` as JSON.
//! String comparisons are case-sensitive, as Graph documents; `tolower()` is how a query
//! asks otherwise.

use pest::iterators::Pair;
use pest::Parser;
use serde_json::Value;
use time::OffsetDateTime;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/odata_filter.pest"]
struct ODataParser;

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare {
        left: Operand,
        op: Op,
        right: Operand,
    },
    /// `contains`, `startswith`, `endswith`: true or false by themselves.
    Test(Operand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Path(Vec<String>),
    Text(String),
    Number(f64),
    Bool(bool),
    Null,
    /// A date or date-time literal, compared as an instant.
    Time(OffsetDateTime),
    Call(String, Vec<Operand>),
}

/// The functions a filter may call.
const FUNCTIONS: &[&str] = &["contains", "startswith", "endswith", "tolower", "toupper"];

/// Parses a `$filter`; the error names the position and what is accepted.
pub fn parse(text: &str) -> Result<Filter, String> {
    let mut pairs = ODataParser::parse(Rule::filter, text).map_err(|e| {
        let at = match e.line_col {
            pest::error::LineColLocation::Pos((_, col)) | pest::error::LineColLocation::Span((_, col), _) => col,
        };
        format!("$filter does not parse at column {at}: use eq, ne, gt, ge, lt, le, and, or, not, contains(), startswith(), endswith(), tolower() with 'quoted' strings")
    })?;
    let top = pairs.next().and_then(|p| p.into_inner().next()).ok_or("empty $filter")?;
    build(top)
}

fn build(pair: Pair<'_, Rule>) -> Result<Filter, String> {
    match pair.as_rule() {
        Rule::or_expr | Rule::and_expr => {
            let or = pair.as_rule() == Rule::or_expr;
            let mut parts: Vec<Filter> = pair.into_inner().map(build).collect::<Result<_, _>>()?;
            Ok(if parts.len() == 1 {
                parts.remove(0)
            } else if or {
                Filter::Or(parts)
            } else {
                Filter::And(parts)
            })
        }
        Rule::unary | Rule::primary => build(pair.into_inner().next().ok_or("an empty expression")?),
        Rule::not_expr => Ok(Filter::Not(Box::new(build(pair.into_inner().next().ok_or("not without an operand")?)?))),
        Rule::comparison => {
            let mut inner = pair.into_inner();
            let (Some(left), Some(op), Some(right)) = (inner.next(), inner.next(), inner.next()) else {
                return Err("an incomplete comparison".into());
            };
            let op = match op.as_str().to_ascii_lowercase().as_str() {
                "eq" => Op::Eq,
                "ne" => Op::Ne,
                "gt" => Op::Gt,
                "ge" => Op::Ge,
                "lt" => Op::Lt,
                _ => Op::Le,
            };
            Ok(Filter::Compare { left: operand(left)?, op, right: operand(right)? })
        }
        Rule::call => Ok(Filter::Test(operand(pair)?)),
        other => Err(format!("unexpected {other:?} in $filter")),
    }
}

fn operand(pair: Pair<'_, Rule>) -> Result<Operand, String> {
    match pair.as_rule() {
        Rule::operand => operand(pair.into_inner().next().ok_or("an empty operand")?),
        Rule::call => {
            let mut inner = pair.into_inner();
            let name = inner.next().map(|n| n.as_str().to_ascii_lowercase()).unwrap_or_default();
            if !FUNCTIONS.contains(&name.as_str()) {
                return Err(format!("$filter function '{name}' is not supported; use {}", FUNCTIONS.join(", ")));
            }
            let args: Vec<Operand> = inner.map(operand).collect::<Result<_, _>>()?;
            let arity = if name.starts_with("to") { 1 } else { 2 };
            if args.len() != arity {
                return Err(format!("{name}() takes {arity} argument(s), not {}", args.len()));
            }
            Ok(Operand::Call(name, args))
        }
        Rule::path => Ok(Operand::Path(pair.as_str().split('/').map(str::to_string).collect())),
        Rule::string => {
            let inner = pair.into_inner().next().map(|p| p.as_str()).unwrap_or("");
            Ok(Operand::Text(inner.replace("''", "'")))
        }
        Rule::number => {
            pair.as_str().parse().map(Operand::Number).map_err(|e| format!("number {}: {e}", pair.as_str()))
        }
        Rule::boolean => Ok(Operand::Bool(pair.as_str() == "true")),
        Rule::null => Ok(Operand::Null),
        Rule::date => {
            let text = format!("{}T00:00:00Z", pair.as_str());
            crate::clock::parse_rfc3339(&text)
                .map(Operand::Time)
                .ok_or_else(|| format!("'{}' is not a date", pair.as_str()))
        }
        Rule::datetime => crate::clock::parse_rfc3339(pair.as_str())
            .map(Operand::Time)
            .ok_or_else(|| format!("'{}' is not a date-time", pair.as_str())),
        other => Err(format!("unexpected {other:?} as an operand")),
    }
}

/// A value while evaluating.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Text(String),
    Number(f64),
    Bool(bool),
    Null,
    Time(OffsetDateTime),
}

fn resolve(operand: &Operand, record: &Value) -> Val {
    match operand {
        Operand::Path(path) => {
            let mut v = record;
            for segment in path {
                v = &v[segment.as_str()];
            }
            match v {
                Value::String(s) => Val::Text(s.clone()),
                Value::Number(n) => Val::Number(n.as_f64().unwrap_or_default()),
                Value::Bool(b) => Val::Bool(*b),
                _ => Val::Null,
            }
        }
        Operand::Text(t) => Val::Text(t.clone()),
        Operand::Number(n) => Val::Number(*n),
        Operand::Bool(b) => Val::Bool(*b),
        Operand::Null => Val::Null,
        Operand::Time(t) => Val::Time(*t),
        Operand::Call(name, args) => {
            let text = |i: usize| match resolve(&args[i], record) {
                Val::Text(t) => Some(t),
                _ => None,
            };
            match name.as_str() {
                "tolower" => text(0).map_or(Val::Null, |t| Val::Text(t.to_lowercase())),
                "toupper" => text(0).map_or(Val::Null, |t| Val::Text(t.to_uppercase())),
                test => match (text(0), text(1)) {
                    (Some(hay), Some(needle)) => Val::Bool(match test {
                        "contains" => hay.contains(&needle),
                        "startswith" => hay.starts_with(&needle),
                        _ => hay.ends_with(&needle),
                    }),
                    _ => Val::Bool(false),
                },
            }
        }
    }
}

fn compare(left: Val, op: Op, right: Val) -> bool {
    use std::cmp::Ordering;
    // A date literal against a timestamp string compares instants.
    let (left, right) = match (left, right) {
        (Val::Text(t), Val::Time(r)) => (crate::clock::parse_rfc3339(&t).map_or(Val::Null, Val::Time), Val::Time(r)),
        (Val::Time(l), Val::Text(t)) => (Val::Time(l), crate::clock::parse_rfc3339(&t).map_or(Val::Null, Val::Time)),
        pair => pair,
    };
    let ordering = match (&left, &right) {
        (Val::Text(a), Val::Text(b)) => Some(a.cmp(b)),
        (Val::Number(a), Val::Number(b)) => a.partial_cmp(b),
        (Val::Time(a), Val::Time(b)) => Some(a.cmp(b)),
        (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
        (Val::Null, Val::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ordering) {
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Ne, None) => true,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

impl Filter {
    /// Whether a `provisioningObjectSummary` matches.
    pub fn matches(&self, record: &Value) -> bool {
        match self {
            Filter::And(parts) => parts.iter().all(|p| p.matches(record)),
            Filter::Or(parts) => parts.iter().any(|p| p.matches(record)),
            Filter::Not(inner) => !inner.matches(record),
            Filter::Compare { left, op, right } => compare(resolve(left, record), *op, resolve(right, record)),
            Filter::Test(call) => resolve(call, record) == Val::Bool(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn graphs_documented_query_parses_and_filters() {
        let q = "((contains(tolower(servicePrincipal/id), 'sp1') or contains(tolower(servicePrincipal/displayName), 'sp1')) \
                 and activityDateTime gt 2023-07-30 and activityDateTime lt 2023-07-31)";
        let f = parse(q).unwrap();
        let hit = json!({"servicePrincipal": {"id": "SP1-x", "displayName": "x"}, "activityDateTime": "2023-07-30T10:00:00Z"});
        let late =
            json!({"servicePrincipal": {"id": "sp1", "displayName": "x"}, "activityDateTime": "2023-07-31T10:00:00Z"});
        assert!(f.matches(&hit));
        assert!(!f.matches(&late));
        let status =
            parse("provisioningStatusInfo/status eq 'failure' and not (provisioningAction eq 'create')").unwrap();
        assert!(
            status.matches(&json!({"provisioningStatusInfo": {"status": "failure"}, "provisioningAction": "update"}))
        );
        assert!(parse("jobId eq 'it''s'").unwrap().matches(&json!({"jobId": "it's"})));
        assert!(parse("jobId eq").unwrap_err().contains("column"));
        assert!(parse("length(jobId) eq 3").unwrap_err().contains("not supported"));
    }
}
