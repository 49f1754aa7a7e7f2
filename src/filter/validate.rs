//! Checks a parsed filter against a resource type's schema and resolves every attribute
//! path once, so evaluation never guesses about types or case rules. Only a `ValidFilter`
//! can be evaluated or planned against indexes.

use serde_json::Value;

use super::ast::{AttrPath, CompareOp, Filter};
use super::error::FilterError;
use crate::scim::schema::{AttrType, AttributeDef, Returned};
use crate::scim::ResourceType;

/// Where a value lives: an attribute of the resource, or (inside `attr[...]`) of the element.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Extension URN when the attribute lives under an extension object.
    pub extension: Option<String>,
    /// Canonical attribute name (schema spelling).
    pub attr: String,
    /// Canonical sub-attribute name.
    pub sub: Option<String>,
    /// Type of the addressed value.
    pub kind: AttrType,
    pub case_exact: bool,
    /// True when the path addresses a member of the element inside a valuePath.
    pub relative: bool,
}

impl Target {
    /// Canonical dotted name: `emails.value`, `urn:…:User:manager.value`.
    pub fn dotted(&self) -> String {
        let mut s = String::new();
        if let Some(urn) = &self.extension {
            s.push_str(urn);
            s.push(':');
        }
        s.push_str(&self.attr);
        if let Some(sub) = &self.sub {
            s.push('.');
            s.push_str(sub);
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Compare {
        target: Target,
        op: CompareOp,
        value: Value,
    },
    Present(Target),
    /// Some element of the (multi-valued complex) attribute matches the inner expression.
    Any {
        target: Target,
        inner: Box<Expr>,
    },
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

/// A filter whose paths are resolved against a schema.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidFilter {
    pub expr: Expr,
    /// Leniencies that were needed to accept this filter (e.g. `"True"` for a boolean).
    pub coerced_boolean_strings: bool,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct ValidateOptions {
    /// Accept `"True"`/`"False"` strings for boolean attributes (Microsoft Entra ID sends them).
    pub boolean_strings: bool,
    /// Treat attributes the resource type does not define as always absent instead of an
    /// error (root `/.search` across types, where `userName` does not apply to Groups).
    pub unknown_as_absent: bool,
}

impl Filter {
    pub fn validate(&self, rt: &ResourceType, options: ValidateOptions) -> Result<ValidFilter, FilterError> {
        let mut v = Validator { rt, options, coerced: false };
        let expr = v.expr(self, None)?;
        Ok(ValidFilter { expr, coerced_boolean_strings: v.coerced })
    }
}

struct Validator<'a> {
    rt: &'a ResourceType,
    options: ValidateOptions,
    coerced: bool,
}

impl Validator<'_> {
    fn expr(&mut self, f: &Filter, within: Option<&AttributeDef>) -> Result<Expr, FilterError> {
        Ok(match f {
            Filter::And(l, r) => Expr::And(Box::new(self.expr(l, within)?), Box::new(self.expr(r, within)?)),
            Filter::Or(l, r) => Expr::Or(Box::new(self.expr(l, within)?), Box::new(self.expr(r, within)?)),
            Filter::Not(inner) => Expr::Not(Box::new(self.expr(inner, within)?)),
            Filter::Present(path) => Expr::Present(self.target(path, within, true)?),
            Filter::Compare { path, op, value } => {
                let target = self.target(path, within, false)?;
                let value = self.check_value(&target, *op, value)?;
                Expr::Compare { target, op: *op, value }
            }
            Filter::ValuePath { attr, filter } => {
                if within.is_some() {
                    return Err(FilterError::Type(format!("'{attr}[...]' cannot be nested inside another '[...]'")));
                }
                if attr.sub.is_some() {
                    return Err(FilterError::Type(format!(
                        "'{attr}[...]': a value filter applies to an attribute, not a sub-attribute"
                    )));
                }
                let resolved = self.rt.resolve(attr.urn.as_deref(), &attr.name, None).map_err(|m| unknown(attr, m))?;
                if resolved.attr.kind != AttrType::Complex {
                    return Err(FilterError::Type(format!(
                        "'{}' is a {} attribute; '[...]' filters apply to complex attributes",
                        resolved.attr.name,
                        resolved.attr.kind.name()
                    )));
                }
                let target = Target {
                    extension: resolved.extension.map(str::to_string),
                    attr: resolved.attr.name.clone(),
                    sub: None,
                    kind: AttrType::Complex,
                    case_exact: false,
                    relative: false,
                };
                let inner = self.expr(filter, Some(resolved.attr))?;
                Expr::Any { target, inner: Box::new(inner) }
            }
        })
    }

    fn target(&self, path: &AttrPath, within: Option<&AttributeDef>, presence: bool) -> Result<Target, FilterError> {
        if let Some(parent) = within {
            if path.urn.is_some() || path.sub.is_some() {
                return Err(FilterError::Type(format!(
                    "inside '{}[...]' name sub-attributes of {} directly (for example 'value'), not '{path}'",
                    parent.name, parent.name
                )));
            }
            let def = parent.sub(&path.name).ok_or_else(|| FilterError::UnknownAttribute {
                path: format!("{}.{}", parent.name, path.name),
                message: format!("unknown attribute '{}.{}'", parent.name, path.name),
            })?;
            never_returned(def)?;
            return Ok(Target {
                extension: None,
                attr: def.name.clone(),
                sub: None,
                kind: def.kind,
                case_exact: def.case_exact,
                relative: true,
            });
        }
        let resolved = match self.rt.resolve(path.urn.as_deref(), &path.name, path.sub.as_deref()) {
            Ok(r) => r,
            Err(_) if self.options.unknown_as_absent => {
                // A name no document of this type carries: matches nothing, `ne` is true.
                return Ok(Target {
                    extension: path.urn.clone(),
                    attr: format!("\u{0}{}", path.name),
                    sub: path.sub.clone(),
                    kind: AttrType::String,
                    case_exact: false,
                    relative: false,
                });
            }
            Err(m) => return Err(unknown(path, m)),
        };
        never_returned(resolved.attr)?;
        let mut sub = resolved.sub.map(|s| s.name.clone());
        let mut leaf = resolved.leaf();
        never_returned(leaf)?;
        // A comparison on a complex attribute compares its `value` (RFC 7644 §3.4.2.2).
        if leaf.kind == AttrType::Complex && !presence {
            match leaf.sub("value") {
                Some(value) => {
                    sub = Some(value.name.clone());
                    leaf = value;
                }
                None => {
                    return Err(FilterError::Type(format!(
                        "'{path}' is complex; compare one of its sub-attributes, e.g. '{path}.{}'",
                        leaf.sub_attributes.first().map(|s| s.name.as_str()).unwrap_or("value")
                    )))
                }
            }
        }
        Ok(Target {
            extension: resolved.extension.map(str::to_string),
            attr: resolved.attr.name.clone(),
            sub,
            kind: leaf.kind,
            case_exact: leaf.case_exact,
            relative: false,
        })
    }

    fn check_value(&mut self, target: &Target, op: CompareOp, value: &Value) -> Result<Value, FilterError> {
        let name = target.dotted();
        let kind = target.kind;
        if value.is_null() {
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(FilterError::Type(format!("'{name} {op} null': only eq and ne accept null")));
            }
            return Ok(Value::Null);
        }
        match kind {
            AttrType::Boolean => {
                if op != CompareOp::Eq && op != CompareOp::Ne {
                    return Err(FilterError::Type(format!(
                        "'{name}' is boolean; '{op}' does not apply to booleans (use eq or ne)"
                    )));
                }
                match value {
                    Value::Bool(_) => Ok(value.clone()),
                    Value::String(s) if self.options.boolean_strings && (s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false")) => {
                        self.coerced = true;
                        Ok(Value::Bool(s.eq_ignore_ascii_case("true")))
                    }
                    Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false") => Err(FilterError::Type(format!(
                        "'{name}' is boolean; compare it with true or false, not the string \"{s}\" (the 'entra' profile accepts \"True\"/\"False\")"
                    ))),
                    other => Err(FilterError::Type(format!("'{name}' is boolean; {other} is not true or false"))),
                }
            }
            AttrType::Integer | AttrType::Decimal => {
                if op.is_substring() {
                    return Err(FilterError::Type(format!("'{name}' is a number; '{op}' applies to strings")));
                }
                if !value.is_number() {
                    return Err(FilterError::Type(format!("'{name}' is a number; {value} is not a number")));
                }
                Ok(value.clone())
            }
            AttrType::DateTime => {
                let Value::String(s) = value else {
                    return Err(FilterError::Type(format!(
                        "'{name}' is a dateTime; give an RFC 3339 string such as \"2024-01-31T12:00:00Z\""
                    )));
                };
                if !op.is_substring() && super::eval::parse_datetime(s).is_none() {
                    return Err(FilterError::Type(format!(
                        "'{name}' is a dateTime; \"{s}\" is not an RFC 3339 timestamp"
                    )));
                }
                Ok(value.clone())
            }
            AttrType::Binary if op.is_ordering() => {
                Err(FilterError::Type(format!("'{name}' is binary; '{op}' does not apply")))
            }
            AttrType::Complex => Err(FilterError::Type(format!("'{name}' is complex; compare a sub-attribute"))),
            AttrType::String | AttrType::Reference | AttrType::Binary => match value {
                // Lower-cased once here, not for every resource the filter is tried on.
                Value::String(s) if !target.case_exact => Ok(Value::String(s.to_lowercase())),
                Value::String(_) => Ok(value.clone()),
                _ => Err(FilterError::Type(format!("'{name}' is a string; {value} is not a string (quote it)"))),
            },
        }
    }
}

fn unknown(path: &AttrPath, message: String) -> FilterError {
    FilterError::UnknownAttribute { path: path.to_string(), message }
}

/// A never-returned attribute (the password) cannot be filtered on: a filter would be an
/// oracle on its stored form.
pub fn never_returned(def: &AttributeDef) -> Result<(), FilterError> {
    if def.returned == Returned::Never {
        return Err(FilterError::Type(format!(
            "'{}' is never returned, so it cannot be used in a filter or sortBy",
            def.name
        )));
    }
    Ok(())
}
