//! Entra's attribute-mapping expression language: parse once when a job loads
//! ([`Program::compile`] checks every function name and argument count), then evaluate per
//! source object.

mod ast;
pub mod dates;
mod families;
mod functions;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

use rand::rngs::StdRng;
use serde_json::Value;
use time::OffsetDateTime;

pub use ast::{CmpOp, Expr};
pub use functions::FUNCTIONS;

/// A positioned compile or evaluation error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at column {column})")]
pub struct ExprError {
    pub column: usize,
    pub message: String,
}

impl ExprError {
    pub fn at(column: usize, message: impl Into<String>) -> Self {
        ExprError { column, message: message.into() }
    }
}

/// An expression value. Booleans are the strings `"True"`/`"False"`, as in Entra.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Null,
    Str(String),
    Multi(Vec<String>),
    /// Structured values (app role assignments as complex SCIM roles).
    Json(Value),
}

impl Val {
    pub fn str(s: impl Into<String>) -> Val {
        Val::Str(s.into())
    }

    pub fn bool(b: bool) -> Val {
        Val::Str(if b { "True" } else { "False" }.into())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null)
    }

    /// Null or an empty string or list.
    pub fn is_empty(&self) -> bool {
        match self {
            Val::Null => true,
            Val::Str(s) => s.is_empty(),
            Val::Multi(v) => v.is_empty(),
            Val::Json(v) => v.is_null() || v.as_array().is_some_and(Vec::is_empty),
        }
    }

    /// The scalar text of a value (first element of a list).
    pub fn as_text(&self) -> Option<String> {
        match self {
            Val::Null => None,
            Val::Str(s) => Some(s.clone()),
            Val::Multi(v) => v.first().cloned(),
            Val::Json(Value::String(s)) => Some(s.clone()),
            Val::Json(v) if v.is_null() => None,
            Val::Json(v) => Some(v.to_string()),
        }
    }

    /// All values as strings (a scalar is a one-element list).
    pub fn as_list(&self) -> Vec<String> {
        match self {
            Val::Null => Vec::new(),
            Val::Str(s) => vec![s.clone()],
            Val::Multi(v) => v.clone(),
            Val::Json(Value::Array(items)) => {
                items.iter().map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string())).collect()
            }
            Val::Json(v) => vec![v.to_string()],
        }
    }

    pub fn is_true(&self) -> bool {
        self.as_text().is_some_and(|s| s.eq_ignore_ascii_case("true"))
    }

    /// Reads a source attribute value from JSON: strings stay, booleans become
    /// `"True"`/`"False"`, numbers their text, arrays of scalars lists.
    pub fn from_json(v: &Value) -> Val {
        match v {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::bool(*b),
            Value::Number(n) => Val::Str(n.to_string()),
            Value::String(s) => Val::Str(s.clone()),
            Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => Val::Multi(
                items
                    .iter()
                    .filter(|i| !i.is_null())
                    .map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
                    .collect(),
            ),
            other => Val::Json(other.clone()),
        }
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Null => f.write_str("null"),
            Val::Str(s) => f.write_str(s),
            Val::Multi(v) => write!(f, "[{}]", v.join(", ")),
            Val::Json(v) => write!(f, "{v}"),
        }
    }
}

/// Where expressions read attributes from.
pub trait SourceObject {
    fn attribute(&self, name: &str) -> Val;
}

impl SourceObject for serde_json::Map<String, Value> {
    fn attribute(&self, name: &str) -> Val {
        let found = self.get(name).or_else(|| self.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v));
        match found {
            Some(v) => Val::from_json(v),
            // Dotted names such as passwordProfile.password reach into objects.
            None => match name.split_once('.') {
                Some((head, rest)) => match self.get(head).and_then(Value::as_object) {
                    Some(inner) => inner.attribute(rest),
                    None => Val::Null,
                },
                None => Val::Null,
            },
        }
    }
}

/// Everything an evaluation may depend on besides the source object; time and randomness
/// are parameters so tests and on-demand traces are reproducible.
pub struct EvalContext<'a> {
    pub source: &'a dyn SourceObject,
    pub now: OffsetDateTime,
    pub rng: &'a mut StdRng,
    /// `DefaultDomain()`.
    pub default_domain: &'a str,
    /// `SelectUniqueValue`: is this candidate already used in the target?
    pub taken: Option<&'a dyn Fn(&str) -> bool>,
    /// Set when `Redact()` ran: the value must not appear in logs.
    pub redacted: bool,
}

/// A compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    text: String,
    expr: Expr,
}

impl Program {
    /// Parses and checks an expression: function names (case-sensitive, as in Entra) and
    /// argument counts. Errors carry the column.
    pub fn compile(text: &str) -> Result<Program, ExprError> {
        let expr = parse::parse(text)?;
        functions::check(&expr)?;
        Ok(Program { text: text.to_string(), expr })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn expr(&self) -> &Expr {
        &self.expr
    }

    /// Source attributes the expression reads.
    pub fn attributes(&self) -> Vec<String> {
        self.expr.attributes()
    }

    /// Whether the expression uses one of the functions (e.g. `IgnoreFlowIfNullOrEmpty`).
    pub fn uses(&self, function: &str) -> bool {
        fn walk(e: &Expr, f: &str) -> bool {
            match e {
                Expr::Call { name, args, .. } => name == f || args.iter().flatten().any(|a| walk(a, f)),
                Expr::Compare { left, right, .. } => walk(left, f) || walk(right, f),
                _ => false,
            }
        }
        walk(&self.expr, function)
    }

    pub fn evaluate(&self, ctx: &mut EvalContext<'_>) -> Result<Val, ExprError> {
        functions::eval(&self.expr, ctx)
    }
}
