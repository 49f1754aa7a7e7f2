//! The one filter shape most requests carry, read without the grammar: a single comparison
//! of a plain attribute with a string that has no escapes, `userName eq "bjensen"` (how
//! Microsoft Entra ID and Okta look a user up). Parsing it with pest cost about a tenth of
//! an indexed lookup (docs/perf.md, round 2). Anything else, and any doubt, goes to the
//! grammar; a test holds both readings equal.

use serde_json::Value;

use super::ast::{AttrPath, CompareOp, Filter};

/// `name[.sub] SP op SP "text"`, spaces and tabs around and between; None for any other shape.
pub(super) fn simple_comparison(text: &str) -> Option<Filter> {
    let text = text.trim_matches(is_space);
    let (path, rest) = split_once_space(text)?;
    let (op, value) = split_once_space(rest)?;
    let op = CompareOp::parse(op)?;
    let value = value.strip_prefix('"')?.strip_suffix('"')?;
    if value.chars().any(|c| c == '"' || c == '\\' || c < ' ') {
        return None;
    }
    let (name, sub) = match path.split_once('.') {
        Some((name, sub)) => (name, Some(sub)),
        None => (path, None),
    };
    if !is_attr_name(name) || !sub.is_none_or(is_attr_name) {
        return None;
    }
    let path = AttrPath { urn: None, name: name.to_string(), sub: sub.map(str::to_string) };
    Some(Filter::Compare { path, op, value: Value::String(value.to_string()) })
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// The text before the first run of spaces, and the text after it.
fn split_once_space(text: &str) -> Option<(&str, &str)> {
    let end = text.find(is_space)?;
    Some((&text[..end], text[end..].trim_start_matches(is_space)))
}

/// ATTRNAME: a letter, then letters, digits, `-` and `_`.
fn is_attr_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
