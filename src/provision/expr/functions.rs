//! The function library of docs/entra-behaviour.md §3.2, with Entra's semantics.

use super::families::{call_date, call_logic, call_text, call_values, call_words};
use rand::seq::SliceRandom;
use serde_json::Value;
use time::{Duration, OffsetDateTime};

use super::ast::{CmpOp, Expr};
use super::dates::parse_any;
use super::{EvalContext, ExprError, Val};

/// Name, minimum and maximum argument count (`None` = any number).
pub const FUNCTIONS: &[(&str, usize, Option<usize>)] = &[
    ("Append", 2, Some(2)),
    ("AppRoleAssignments", 1, Some(1)),
    ("AppRoleAssignmentsComplex", 1, Some(1)),
    ("AssertiveAppRoleAssignmentsComplex", 1, Some(1)),
    ("BitAnd", 2, Some(2)),
    ("CBool", 1, Some(1)),
    ("CDate", 1, Some(1)),
    ("Coalesce", 1, None),
    ("ConvertToBase64", 1, Some(1)),
    ("ConvertToUTF8Hex", 1, Some(1)),
    ("Count", 1, Some(1)),
    ("CStr", 1, Some(1)),
    ("DateAdd", 3, Some(3)),
    ("DateDiff", 3, Some(3)),
    ("DateFromNum", 1, Some(1)),
    ("DefaultDomain", 0, Some(0)),
    ("FormatDateTime", 4, Some(4)),
    ("Guid", 0, Some(0)),
    ("IgnoreFlowIfNullOrEmpty", 1, Some(1)),
    ("IIF", 3, Some(3)),
    ("InStr", 2, Some(4)),
    ("IsNothing", 1, Some(1)),
    ("IsNull", 1, Some(1)),
    ("IsNullOrEmpty", 1, Some(1)),
    ("IsPresent", 1, Some(1)),
    ("IsString", 1, Some(1)),
    ("Item", 2, Some(2)),
    ("Join", 1, None),
    ("Left", 2, Some(2)),
    ("Mid", 3, Some(3)),
    ("NormalizeDiacritics", 1, Some(1)),
    ("Not", 1, Some(1)),
    ("Now", 0, Some(0)),
    ("NumFromDate", 1, Some(1)),
    ("PCase", 1, Some(2)),
    ("Prepend", 2, Some(2)),
    ("RandomString", 5, Some(6)),
    ("Redact", 1, Some(1)),
    ("RemoveDuplicates", 1, Some(1)),
    ("Replace", 2, Some(7)),
    ("SelectUniqueValue", 2, None),
    ("SingleAppRoleAssignment", 1, Some(1)),
    ("Split", 1, Some(2)),
    ("StripSpaces", 1, Some(1)),
    ("Switch", 2, None),
    ("ToLower", 1, Some(2)),
    ("ToUpper", 1, Some(2)),
    ("Word", 3, Some(3)),
];

/// Checks names and argument counts of every call in the tree.
pub fn check(expr: &Expr) -> Result<(), ExprError> {
    match expr {
        Expr::Call { name, args, column } => {
            let Some((_, min, max)) = FUNCTIONS.iter().find(|(n, _, _)| n == name) else {
                let hint = FUNCTIONS
                    .iter()
                    .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
                    .map(|(n, _, _)| format!("; function names are case-sensitive: did you mean {n}?"))
                    .unwrap_or_default();
                return Err(ExprError::at(*column, format!("unknown function '{name}'{hint}")));
            };
            // Omitted slots count as written (`Replace(x, "a", , , "b", , )` has seven); the
            // required arguments are the leading ones up to the last one given.
            let given = args.len();
            let last_present = args.iter().rposition(Option::is_some).map(|i| i + 1).unwrap_or(0);
            if max.is_some_and(|m| given > m) || last_present < *min {
                let expected = match max {
                    Some(m) if m == min => format!("{min}"),
                    Some(m) => format!("{min} to {m}"),
                    None => format!("at least {min}"),
                };
                return Err(ExprError::at(*column, format!("{name} takes {expected} argument(s), {given} given")));
            }
            // A written-out pattern is compiled now, so an unsupported construct is refused
            // when the job loads rather than on the first object.
            if name == "Replace" {
                if let Some(Some(Expr::Str(pattern))) = args.get(2) {
                    fancy_regex::Regex::new(pattern).map_err(|e| {
                        ExprError::at(
                            *column,
                            format!("Replace: the regular expression \"{pattern}\" is not supported: {e}"),
                        )
                    })?;
                }
            }
            for arg in args.iter().flatten() {
                check(arg)?;
            }
            Ok(())
        }
        Expr::Compare { left, right, .. } => {
            check(left)?;
            check(right)
        }
        _ => Ok(()),
    }
}

pub(super) fn arg(args: &[Option<Expr>], i: usize) -> Option<&Expr> {
    args.get(i).and_then(Option::as_ref)
}

pub(super) fn val(args: &[Option<Expr>], i: usize, ctx: &mut EvalContext<'_>) -> Result<Val, ExprError> {
    match arg(args, i) {
        Some(e) => eval(e, ctx),
        None => Ok(Val::Null),
    }
}

pub(super) fn text(args: &[Option<Expr>], i: usize, ctx: &mut EvalContext<'_>) -> Result<Option<String>, ExprError> {
    Ok(val(args, i, ctx)?.as_text())
}

pub(super) fn number(v: &Val) -> Option<i64> {
    let t = v.as_text()?;
    let t = t.trim();
    if let Some(hex) = t.strip_prefix("&H").or_else(|| t.strip_prefix("&h")) {
        return i64::from_str_radix(hex, 16).ok();
    }
    t.parse::<i64>().ok().or_else(|| t.parse::<f64>().ok().map(|f| f as i64))
}

pub(super) fn int_arg(
    args: &[Option<Expr>],
    i: usize,
    ctx: &mut EvalContext<'_>,
    name: &str,
    column: usize,
) -> Result<Option<i64>, ExprError> {
    let v = val(args, i, ctx)?;
    if v.is_null() {
        return Ok(None);
    }
    number(&v)
        .map(Some)
        .ok_or_else(|| ExprError::at(column, format!("{name}: argument {} must be a number, not \"{v}\"", i + 1)))
}

pub(super) fn date_arg(v: &Val, name: &str, column: usize) -> Result<Option<OffsetDateTime>, ExprError> {
    match v.as_text() {
        None => Ok(None),
        Some(s) => {
            parse_any(&s).map(Some).ok_or_else(|| ExprError::at(column, format!("{name}: \"{s}\" is not a date")))
        }
    }
}

pub fn eval(expr: &Expr, ctx: &mut EvalContext<'_>) -> Result<Val, ExprError> {
    match expr {
        Expr::Attr(name) => Ok(ctx.source.attribute(name)),
        Expr::Str(s) => Ok(Val::Str(s.clone())),
        Expr::Num(n) => Ok(Val::Str(match number(&Val::Str(n.clone())) {
            Some(v) if n.starts_with('&') => v.to_string(),
            _ => n.clone(),
        })),
        Expr::Ident(i) => Ok(Val::Str(i.clone())),
        Expr::Compare { op, left, right } => {
            let (l, r) = (eval(left, ctx)?, eval(right, ctx)?);
            Ok(Val::bool(compare(*op, &l, &r)))
        }
        Expr::Call { name, args, column } => call(name, args, *column, ctx),
    }
}

/// `=`/`<>` compare text exactly; ordering compares numbers when both sides are numbers,
/// dates when both are dates, else text. A null or empty side fails the check.
pub(super) fn compare(op: CmpOp, l: &Val, r: &Val) -> bool {
    let (Some(a), Some(b)) = (l.as_text(), r.as_text()) else { return false };
    if a.is_empty() && op != CmpOp::Ne && op != CmpOp::Eq {
        return false;
    }
    let ord = match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y),
        _ => match (parse_any(&a), parse_any(&b)) {
            (Some(x), Some(y)) if op != CmpOp::Eq && op != CmpOp::Ne => Some(x.cmp(&y)),
            _ => Some(a.cmp(&b)),
        },
    };
    let Some(ord) = ord else { return false };
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Gt => ord == Greater,
        CmpOp::Ge => ord != Less,
        CmpOp::Lt => ord == Less,
        CmpOp::Le => ord != Greater,
    }
}

fn call(name: &str, args: &[Option<Expr>], column: usize, ctx: &mut EvalContext<'_>) -> Result<Val, ExprError> {
    for family in [call_text, call_words, call_date, call_values, call_logic] {
        if let Some(v) = family(name, args, column, ctx)? {
            return Ok(v);
        }
    }
    Err(ExprError::at(column, format!("unknown function '{name}'")))
}

pub(super) fn map_text(v: Val, f: impl Fn(&str) -> String) -> Val {
    match v {
        Val::Null => Val::Null,
        Val::Str(s) => Val::Str(f(&s)),
        Val::Multi(items) => Val::Multi(items.iter().map(|s| f(s)).collect()),
        Val::Json(j) => Val::Json(j),
    }
}

/// Seconds between 1601-01-01 (Windows FILETIME epoch) and 1970-01-01.
pub(super) const FILETIME_UNIX_OFFSET_SECS: i64 = 11_644_473_600;

pub(super) fn date_add(interval: &str, amount: i64, t: OffsetDateTime) -> Option<OffsetDateTime> {
    Some(match interval.to_ascii_lowercase().as_str() {
        "yyyy" => add_months(t, amount * 12)?,
        "m" => add_months(t, amount)?,
        "d" | "y" | "w" => t + Duration::days(amount),
        "ww" => t + Duration::weeks(amount),
        "h" => t + Duration::hours(amount),
        "n" => t + Duration::minutes(amount),
        "s" => t + Duration::seconds(amount),
        _ => return None,
    })
}

pub(super) fn add_months(t: OffsetDateTime, months: i64) -> Option<OffsetDateTime> {
    let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + months;
    let year = i32::try_from(total.div_euclid(12)).ok()?;
    let month = time::Month::try_from(u8::try_from(total.rem_euclid(12) + 1).ok()?).ok()?;
    let last_day = month.length(year);
    let date = time::Date::from_calendar_date(year, month, t.day().min(last_day)).ok()?;
    Some(t.replace_date(date))
}

/// VB DateDiff: whole interval boundaries crossed from `a` to `b`.
pub(super) fn date_diff(interval: &str, a: OffsetDateTime, b: OffsetDateTime) -> Option<i64> {
    let (a, b) = (a.to_offset(time::UtcOffset::UTC), b.to_offset(time::UtcOffset::UTC));
    let days = i64::from(b.date().to_julian_day() - a.date().to_julian_day());
    Some(match interval.to_ascii_lowercase().as_str() {
        "yyyy" => i64::from(b.year() - a.year()),
        "m" => i64::from(b.year() - a.year()) * 12 + i64::from(u8::from(b.month())) - i64::from(u8::from(a.month())),
        "d" | "y" | "w" => days,
        "ww" => days.div_euclid(7),
        "h" => (b - a).whole_hours(),
        "n" => (b - a).whole_minutes(),
        "s" => (b - a).whole_seconds(),
        _ => return None,
    })
}

/// App role assignments as role values: strings, or objects with `value`/`displayName`.
pub(super) fn role_values(v: &Val) -> Vec<String> {
    match v {
        Val::Json(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => {
                    o.get("value").or_else(|| o.get("displayName")).and_then(Value::as_str).map(str::to_string)
                }
                _ => None,
            })
            .collect(),
        other => other.as_list(),
    }
}

/// Replace(source, oldValue, regexPattern, regexGroupName, replacementValue,
/// replacementAttributeName, template), in Entra's five modes.
pub(super) fn replace(args: &[Option<Expr>], column: usize, ctx: &mut EvalContext<'_>) -> Result<Val, ExprError> {
    let err = |m: String| ExprError::at(column, format!("Replace: {m}"));
    let source = text(args, 0, ctx)?;
    let old = text(args, 1, ctx)?;
    let pattern = text(args, 2, ctx)?;
    let group = text(args, 3, ctx)?;
    let replacement = text(args, 4, ctx)?;
    let replacement_attr = val(args, 5, ctx)?;
    let template = text(args, 6, ctx)?;
    if let Some(old) = old.filter(|o| !o.is_empty()) {
        if let Some(template) = template {
            return Ok(match source {
                Some(s) => Val::Str(template.replace(&old, &s)),
                None => Val::Null,
            });
        }
        return Ok(match source {
            Some(s) => Val::Str(s.replace(&old, &replacement.unwrap_or_default())),
            None => Val::Null,
        });
    }
    let Some(pattern) = pattern else {
        return Err(err("give either oldValue or regexPattern".into()));
    };
    // .NET regular expressions (lookaround, named groups, `${name}`): fancy-regex.
    let re = fancy_regex::Regex::new(&pattern).map_err(|e| err(format!("invalid regular expression: {e}")))?;
    let failed = |e: fancy_regex::Error| err(format!("the regular expression could not be applied: {e}"));
    let names_attribute = arg(args, 5).is_some();
    match (group, replacement) {
        (Some(group), _) if names_attribute => {
            // Mode (e): keep a present source; otherwise extract the group from the other attribute.
            if let Some(s) = source.filter(|s| !s.is_empty()) {
                return Ok(Val::Str(s));
            }
            let Some(other) = replacement_attr.as_text() else { return Ok(Val::Null) };
            Ok(re
                .captures(&other)
                .map_err(failed)?
                .and_then(|c| c.name(&group).map(|m| Val::Str(m.as_str().to_string())))
                .unwrap_or(Val::Null))
        }
        (Some(group), Some(replacement)) => {
            let Some(s) = source else { return Ok(Val::Null) };
            // Mode (d): replace only the named group's text in each match.
            let mut out = String::new();
            let mut last = 0;
            for caps in re.captures_iter(&s) {
                if let Some(m) = caps.map_err(failed)?.name(&group) {
                    out.push_str(&s[last..m.start()]);
                    out.push_str(&replacement);
                    last = m.end();
                }
            }
            out.push_str(&s[last..]);
            Ok(Val::Str(out))
        }
        (None, Some(replacement)) => {
            let Some(s) = source else { return Ok(Val::Null) };
            Ok(Val::Str(re.try_replacen(&s, 0, replacement.as_str()).map_err(failed)?.into_owned()))
        }
        _ => Err(err("a regexPattern needs a replacementValue or a replacementAttributeName".into())),
    }
}

pub(super) fn proper_case(s: &str, separators: Option<&str>) -> String {
    let is_sep = |c: char| match separators {
        Some(seps) => seps.contains(c),
        None => !c.is_alphanumeric() && c != '\'',
    };
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if is_sep(c) {
            start = true;
            out.push(c);
        } else if start {
            out.extend(c.to_uppercase());
            start = false;
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

pub(super) fn random_string(
    rng: &mut rand::rngs::StdRng,
    length: usize,
    minimums: [usize; 4],
    avoid: &[char],
) -> String {
    const SETS: [&str; 4] =
        ["0123456789", "!#$%&()*+,-./:;<=>?@[]^_{|}~", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"];
    let pools: Vec<Vec<char>> = SETS.iter().map(|s| s.chars().filter(|c| !avoid.contains(c)).collect()).collect();
    let all: Vec<char> = pools.concat();
    let mut chars = Vec::with_capacity(length);
    for (pool, min) in pools.iter().zip(minimums) {
        for _ in 0..min {
            if let Some(c) = pool.choose(rng) {
                chars.push(*c);
            }
        }
    }
    while chars.len() < length {
        match all.choose(rng) {
            Some(c) => chars.push(*c),
            None => break,
        }
    }
    chars.shuffle(rng);
    chars.into_iter().collect()
}

/// The diacritics table of docs/entra-behaviour.md §3.2 (NormalizeDiacritics).
/// `ToLower`/`ToUpper` with a culture (RFC 4646 name): Turkish and Azeri map the dotted
/// and dotless i as .NET does; every other culture uses the invariant mapping.
pub(super) fn culture_case(s: &str, culture: Option<&str>, upper: bool) -> String {
    let turkic = culture.is_some_and(|c| {
        let c = c.to_ascii_lowercase();
        c == "tr" || c.starts_with("tr-") || c == "az" || c.starts_with("az-")
    });
    match (turkic, upper) {
        (false, false) => s.to_lowercase(),
        (false, true) => s.to_uppercase(),
        (true, false) => s
            .chars()
            .map(|c| match c {
                'I' => "ı".to_string(),
                'İ' => "i".to_string(),
                other => other.to_lowercase().collect(),
            })
            .collect(),
        (true, true) => s
            .chars()
            .map(|c| match c {
                'i' => "İ".to_string(),
                'ı' => "I".to_string(),
                other => other.to_uppercase().collect(),
            })
            .collect(),
    }
}

pub(super) fn normalize_diacritics(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        // The dotted capital I lower-cases to two characters; it is plainly an I.
        if c == 'İ' {
            out.push('I');
            continue;
        }
        let lower = c.to_lowercase().next().unwrap_or(c);
        let replacement = match lower {
            'ä' | 'à' | 'â' | 'ã' | 'å' | 'á' | 'ą' | 'ă' | 'ā' | 'ǟ' | 'ǡ' => "a",
            'æ' | 'ǣ' | 'ǽ' => "ae",
            'đ' => "d",
            'œ' => "oe",
            'ç' | 'č' | 'ć' => "c",
            'ď' => "d",
            'ë' | 'è' | 'é' | 'ê' | 'ę' | 'ě' | 'ė' | 'ē' => "e",
            'ğ' => "g",
            'ï' | 'î' | 'ì' | 'í' | 'ı' | 'ī' => "i",
            'ľ' | 'ł' => "l",
            'ñ' | 'ń' | 'ň' => "n",
            'ö' | 'ò' | 'ő' | 'õ' | 'ô' | 'ó' | 'ō' => "o",
            'ø' => "oe",
            'ř' => "r",
            'ß' => "ss",
            'š' | 'ś' | 'ș' | 'ş' => "s",
            'ť' | 'ț' => "t",
            'ü' | 'ù' | 'û' | 'ú' | 'ů' | 'ű' | 'ū' => "u",
            'ÿ' | 'ý' | 'ȳ' => "y",
            'ź' | 'ž' | 'ż' => "z",
            '\u{0304}' | '\u{0331}' => "",
            _ => {
                out.push(c);
                continue;
            }
        };
        // Microsoft's table keeps an upper-case letter upper-case in full: Æ → AE, Ø → OE.
        if c.is_uppercase() {
            out.push_str(&replacement.to_uppercase());
        } else {
            out.push_str(replacement);
        }
    }
    out
}
