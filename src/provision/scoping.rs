//! Attribute-based scoping filters (docs/entra-behaviour.md §4.2): clauses are AND-ed
//! within a filter, filters are OR-ed; a null or empty attribute fails every clause except
//! `IS NULL`.

use fancy_regex::Regex;
use serde::{Deserialize, Serialize};

use super::expr::{SourceObject, Val};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScopingFilter {
    /// The scoping filter title.
    #[serde(default)]
    pub name: String,
    pub clauses: Vec<Clause>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Clause {
    pub source_operand_name: String,
    pub operator_name: String,
    #[serde(default)]
    pub target_operand: Operand,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Operand {
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    BitAnd,
    NotBitAnd,
    EndsWith,
    Equals,
    NotEquals,
    GreaterThan,
    GreaterThanOrEquals,
    LessThan,
    LessThanOrEquals,
    Includes,
    IsFalse,
    IsTrue,
    IsNull,
    IsNotNull,
    RegexMatch,
    NotRegexMatch,
}

impl Operator {
    /// Accepts Entra's spellings (`EQUALS`, `NOT EQUALS`, `Greater_Than`, `REGEX MATCH`, `&`).
    pub fn parse(name: &str) -> Option<Operator> {
        let key: String = name.trim().to_ascii_uppercase().replace(['_', ' '], "");
        Some(match key.as_str() {
            "&" => Operator::BitAnd,
            "!&" => Operator::NotBitAnd,
            "ENDSWITH" => Operator::EndsWith,
            "EQUALS" => Operator::Equals,
            "NOTEQUALS" => Operator::NotEquals,
            "GREATERTHAN" => Operator::GreaterThan,
            "GREATERTHANOREQUALS" => Operator::GreaterThanOrEquals,
            "LESSTHAN" => Operator::LessThan,
            "LESSTHANOREQUALS" => Operator::LessThanOrEquals,
            "INCLUDES" => Operator::Includes,
            "ISFALSE" => Operator::IsFalse,
            "ISTRUE" => Operator::IsTrue,
            "ISNULL" => Operator::IsNull,
            "ISNOTNULL" => Operator::IsNotNull,
            "REGEXMATCH" => Operator::RegexMatch,
            "NOTREGEXMATCH" => Operator::NotRegexMatch,
            _ => return None,
        })
    }

    fn unary(self) -> bool {
        matches!(self, Operator::IsFalse | Operator::IsTrue | Operator::IsNull | Operator::IsNotNull)
    }
}

/// The result of one clause, for on-demand traces.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClauseResult {
    pub filter: String,
    pub clause: String,
    pub value: Option<String>,
    pub passed: bool,
}

impl ScopingFilter {
    /// Checks operators, operand counts and regexes when the job loads.
    pub fn check(&self) -> Result<(), String> {
        if self.clauses.is_empty() {
            return Err("a scoping filter needs at least one clause".into());
        }
        for c in &self.clauses {
            let op = Operator::parse(&c.operator_name).ok_or_else(|| {
                format!(
                    "unknown operator '{}'; use EQUALS, NOT EQUALS, IS TRUE, IS FALSE, IS NULL, IS NOT NULL, REGEX MATCH, NOT REGEX MATCH, Greater_Than, Greater_Than_OR_EQUALS, Includes, ENDS_WITH, & or !&",
                    c.operator_name
                )
            })?;
            if !op.unary() && c.target_operand.values.is_empty() {
                return Err(format!("clause on '{}' with {} needs a value", c.source_operand_name, c.operator_name));
            }
            if matches!(op, Operator::RegexMatch | Operator::NotRegexMatch) {
                for v in &c.target_operand.values {
                    Regex::new(v).map_err(|e| format!("invalid regex '{v}': {e}"))?;
                }
            }
            if matches!(
                op,
                Operator::GreaterThan
                    | Operator::GreaterThanOrEquals
                    | Operator::LessThan
                    | Operator::LessThanOrEquals
                    | Operator::BitAnd
                    | Operator::NotBitAnd
            ) && c.target_operand.values.iter().any(|v| v.trim().parse::<i64>().is_err())
            {
                return Err(format!(
                    "{} compares integers; '{}' is not one",
                    c.operator_name,
                    c.target_operand.values.join(",")
                ));
            }
        }
        Ok(())
    }

    /// Evaluates every clause (AND), recording each result.
    pub fn evaluate(&self, source: &dyn SourceObject, trace: &mut Vec<ClauseResult>) -> bool {
        let mut all = true;
        for c in &self.clauses {
            let value = source.attribute(&c.source_operand_name);
            let passed = clause_passes(c, &value);
            trace.push(ClauseResult {
                filter: self.name.clone(),
                clause: format!("{} {} {}", c.source_operand_name, c.operator_name, c.target_operand.values.join(",")),
                value: value.as_text(),
                passed,
            });
            all &= passed;
        }
        all
    }
}

/// Whether an object passes the scoping filters of its mapping (no filters: everything).
pub fn in_scope(filters: &[ScopingFilter], source: &dyn SourceObject, trace: &mut Vec<ClauseResult>) -> bool {
    if filters.is_empty() {
        return true;
    }
    let mut any = false;
    for f in filters {
        any |= f.evaluate(source, trace);
    }
    any
}

fn clause_passes(c: &Clause, value: &Val) -> bool {
    let Some(op) = Operator::parse(&c.operator_name) else { return false };
    let text = value.as_text().filter(|s| !s.is_empty());
    match op {
        Operator::IsNull => return text.is_none(),
        Operator::IsNotNull => return text.is_some(),
        _ => {}
    }
    let Some(actual) = text else { return false };
    let operand = c.target_operand.values.first().map(String::as_str).unwrap_or("");
    let int = |s: &str| s.trim().parse::<i64>().ok();
    match op {
        Operator::Equals => c.target_operand.values.iter().any(|v| v == &actual),
        Operator::NotEquals => c.target_operand.values.iter().all(|v| v != &actual),
        Operator::EndsWith => actual.ends_with(operand),
        Operator::Includes => actual.contains(operand),
        Operator::IsTrue => actual.eq_ignore_ascii_case("true"),
        Operator::IsFalse => actual.eq_ignore_ascii_case("false"),
        // Patterns were checked when the job loaded; a match that cannot complete (runaway
        // backtracking) does not match.
        Operator::RegexMatch => Regex::new(operand).is_ok_and(|r| r.is_match(&actual).unwrap_or(false)),
        Operator::NotRegexMatch => Regex::new(operand).is_ok_and(|r| r.is_match(&actual).is_ok_and(|m| !m)),
        Operator::GreaterThan => matches!((int(&actual), int(operand)), (Some(a), Some(b)) if a > b),
        Operator::GreaterThanOrEquals => matches!((int(&actual), int(operand)), (Some(a), Some(b)) if a >= b),
        Operator::LessThan => matches!((int(&actual), int(operand)), (Some(a), Some(b)) if a < b),
        Operator::LessThanOrEquals => matches!((int(&actual), int(operand)), (Some(a), Some(b)) if a <= b),
        Operator::BitAnd => matches!((int(&actual), int(operand)), (Some(a), Some(b)) if a & b != 0),
        Operator::NotBitAnd => matches!((int(&actual), int(operand)), (Some(a), Some(b)) if a & b == 0),
        Operator::IsNull | Operator::IsNotNull => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn clause(attr: &str, op: &str, values: &[&str]) -> ScopingFilter {
        ScopingFilter {
            name: "t".into(),
            clauses: vec![Clause {
                source_operand_name: attr.into(),
                operator_name: op.into(),
                target_operand: Operand { values: values.iter().map(|v| v.to_string()).collect() },
            }],
        }
    }

    #[test]
    fn every_operator_with_nulls_failing_except_is_null() {
        let user = json!({"department": "Sales", "userPrincipalName": "ann@contoso.com", "workerID": "1234567",
                          "accountEnabled": true, "isContractor": false, "level": "5", "flags": "6", "empty": ""});
        let u = user.as_object().unwrap();
        let cases: &[(&str, &str, &[&str], bool)] = &[
            ("department", "EQUALS", &["Sales"], true),
            ("department", "EQUALS", &["sales"], false),
            ("department", "EQUALS", &["HR", "Sales"], true),
            ("department", "NOT EQUALS", &["HR"], true),
            ("department", "NOT EQUALS", &["Sales"], false),
            ("missing", "NOT EQUALS", &["Sales"], false),
            ("missing", "EQUALS", &[""], false),
            ("empty", "EQUALS", &[""], false),
            ("userPrincipalName", "REGEX MATCH", &[r".*@contoso\.com"], true),
            ("userPrincipalName", "REGEX MATCH", &[r".*@fabrikam\.com"], false),
            ("workerID", "REGEX MATCH", &["(1[0-9][0-9][0-9][0-9][0-9][0-9])"], true),
            ("userPrincipalName", "NOT REGEX MATCH", &[r".*@fabrikam\.com"], true),
            ("missing", "NOT REGEX MATCH", &["x"], false),
            ("accountEnabled", "IS TRUE", &[], true),
            ("accountEnabled", "IS FALSE", &[], false),
            ("isContractor", "IS FALSE", &[], true),
            ("missing", "IS NULL", &[], true),
            ("empty", "IS NULL", &[], true),
            ("department", "IS NULL", &[], false),
            ("department", "IS NOT NULL", &[], true),
            ("missing", "IS NOT NULL", &[], false),
            ("level", "Greater_Than", &["4"], true),
            ("level", "Greater_Than", &["5"], false),
            ("level", "Greater_Than_OR_EQUALS", &["5"], true),
            ("level", "Less_Than", &["6"], true),
            ("userPrincipalName", "Includes", &["@contoso"], true),
            ("userPrincipalName", "Includes", &["@CONTOSO"], false),
            ("userPrincipalName", "ENDS_WITH", &["contoso.com"], true),
            ("flags", "&", &["2"], true),
            ("flags", "&", &["1"], false),
            ("flags", "!&", &["1"], true),
        ];
        for (attr, op, values, expected) in cases {
            let f = clause(attr, op, values);
            f.check().unwrap_or_else(|e| panic!("{attr} {op}: {e}"));
            assert_eq!(f.evaluate(u, &mut Vec::new()), *expected, "{attr} {op} {values:?}");
        }
    }

    #[test]
    fn clauses_and_filters_combine_and_or() {
        let user = json!({"department": "Sales", "country": "US"});
        let u = user.as_object().unwrap();
        let mut both = clause("department", "EQUALS", &["Sales"]);
        both.clauses.extend(clause("country", "EQUALS", &["FR"]).clauses);
        assert!(!in_scope(&[both.clone()], u, &mut Vec::new()), "AND inside a filter");
        let other = clause("country", "EQUALS", &["US"]);
        let mut trace = Vec::new();
        assert!(in_scope(&[both, other], u, &mut trace), "OR across filters");
        assert_eq!(trace.len(), 3);
        assert!(in_scope(&[], u, &mut Vec::new()));
    }

    #[test]
    fn bad_filters_are_rejected_at_load() {
        assert!(clause("a", "LIKE", &["x"]).check().unwrap_err().contains("unknown operator"));
        assert!(clause("a", "EQUALS", &[]).check().unwrap_err().contains("needs a value"));
        assert!(clause("a", "REGEX MATCH", &["("]).check().unwrap_err().contains("invalid regex"));
        assert!(clause("a", "Greater_Than", &["ten"]).check().unwrap_err().contains("integers"));
    }
}
