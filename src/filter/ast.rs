//! Typed filter AST. `Display` prints canonical filter text, so that
//! `parse(filter.to_string()) == filter` for every parsed filter.

use std::fmt;

use serde_json::Value;

/// `[urn:...:Schema:]name[.sub]`, as written by the client (case preserved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

impl AttrPath {
    pub fn new(name: &str) -> Self {
        AttrPath { urn: None, name: name.to_string(), sub: None }
    }

    pub fn with_sub(name: &str, sub: &str) -> Self {
        AttrPath { urn: None, name: name.to_string(), sub: Some(sub.to_string()) }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Lt,
    Ge,
    Le,
}

impl CompareOp {
    pub fn parse(text: &str) -> Option<CompareOp> {
        Some(match text.to_ascii_lowercase().as_str() {
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "lt" => CompareOp::Lt,
            "ge" => CompareOp::Ge,
            "le" => CompareOp::Le,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Lt => "lt",
            CompareOp::Ge => "ge",
            CompareOp::Le => "le",
        }
    }

    /// Ordering operators are meaningless on booleans and binary values (RFC 7644 §3.4.2.2).
    pub fn is_ordering(self) -> bool {
        matches!(self, CompareOp::Gt | CompareOp::Lt | CompareOp::Ge | CompareOp::Le)
    }

    /// Substring operators only apply to strings.
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A filter expression. Values keep their JSON type (`true`, `5`, `"x"`, `null`).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    Present(AttrPath),
    /// `attr[filter]`: some element of the multi-valued `attr` satisfies `filter`.
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    /// `attr eq value`, the shape every IdP lookup uses.
    pub fn eq(path: AttrPath, value: impl Into<Value>) -> Filter {
        Filter::Compare { path, op: CompareOp::Eq, value: value.into() }
    }

    pub fn and(left: Filter, right: Filter) -> Filter {
        Filter::And(Box::new(left), Box::new(right))
    }

    pub fn or(left: Filter, right: Filter) -> Filter {
        Filter::Or(Box::new(left), Box::new(right))
    }

    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 1,
            Filter::And(..) => 2,
            _ => 3,
        }
    }

    fn fmt_operand(&self, f: &mut fmt::Formatter<'_>, parent: u8) -> fmt::Result {
        if self.precedence() < parent {
            write!(f, "({self})")
        } else {
            write!(f, "{self}")
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
            // `and`/`or` are left-associative: the right operand needs parentheses at equal
            // precedence so that printing keeps the tree shape.
            Filter::And(l, r) => {
                l.fmt_operand(f, 2)?;
                f.write_str(" and ")?;
                r.fmt_operand(f, 3)
            }
            Filter::Or(l, r) => {
                l.fmt_operand(f, 1)?;
                f.write_str(" or ")?;
                r.fmt_operand(f, 2)
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
        }
    }
}

/// A PATCH operation target (RFC 7644 §3.5.2 `PATH`).
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    /// The value selection filter of `attr[filter]`.
    pub filter: Option<Filter>,
    /// The sub-attribute after `attr[filter]`.
    pub sub_after_filter: Option<String>,
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attr)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_after_filter {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}
