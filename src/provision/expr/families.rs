//! The expression functions, by family; [`super::functions`] tries each family in turn.

use base64::Engine;
use rand::Rng;
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::ast::Expr;
use super::dates::{entra_format, format_dotnet, parse_any, parse_dotnet};
use super::functions::*;
use super::{EvalContext, ExprError, Val};

/// Strings and lists: Append, Join, Mid, Item, …; `None` when `name` is another function.
pub(super) fn call_text(
    name: &str,
    args: &[Option<Expr>],
    column: usize,
    ctx: &mut EvalContext<'_>,
) -> Result<Option<Val>, ExprError> {
    let err = |m: String| ExprError::at(column, format!("{name}: {m}"));
    Ok(Some(match name {
        "Append" => match (text(args, 0, ctx)?, text(args, 1, ctx)?) {
            (Some(s), suffix) => Val::Str(s + &suffix.unwrap_or_default()),
            (None, _) => Val::Null,
        },
        "Prepend" => match (text(args, 0, ctx)?, text(args, 1, ctx)?) {
            (prefix, Some(s)) => Val::Str(prefix.unwrap_or_default() + &s),
            (_, None) => Val::Null,
        },
        "Count" => {
            let v = val(args, 0, ctx)?;
            let n = match &v {
                Val::Json(Value::Array(items)) => items.len(),
                other => other.as_list().len(),
            };
            Val::Str(n.to_string())
        }
        "CStr" => match val(args, 0, ctx)? {
            Val::Null => Val::Null,
            v => Val::Str(v.as_text().unwrap_or_default()),
        },
        "InStr" => {
            let (Some(haystack), Some(needle)) = (text(args, 0, ctx)?, text(args, 1, ctx)?) else {
                return Ok(Some(Val::Null));
            };
            let start = int_arg(args, 2, ctx, name, column)?.unwrap_or(1).max(1) as usize;
            let text_compare = text(args, 3, ctx)?.is_some_and(|c| c.eq_ignore_ascii_case("vbTextCompare") || c == "1");
            let (h, n): (Vec<char>, Vec<char>) = if text_compare {
                (haystack.to_lowercase().chars().collect(), needle.to_lowercase().chars().collect())
            } else {
                (haystack.chars().collect(), needle.chars().collect())
            };
            let found =
                (start - 1..h.len().saturating_sub(n.len()) + 1).find(|&i| h.get(i..i + n.len()) == Some(&n[..]));
            Val::Str(found.map(|i| i + 1).unwrap_or(0).to_string())
        }
        "Item" => {
            let list = val(args, 0, ctx)?.as_list();
            let index = int_arg(args, 1, ctx, name, column)?.unwrap_or(0);
            if index < 1 {
                return Err(err("the index is 1-based; Item([attr], 1) is the first value".into()));
            }
            list.get(index as usize - 1).map(|s| Val::Str(s.clone())).unwrap_or(Val::Null)
        }
        "Join" => {
            let separator = text(args, 0, ctx)?.unwrap_or_default();
            let mut parts = Vec::new();
            for i in 1..args.len() {
                parts.extend(val(args, i, ctx)?.as_list().into_iter().filter(|s| !s.is_empty()));
            }
            Val::Str(parts.join(&separator))
        }
        "Left" => {
            let s = text(args, 0, ctx)?.unwrap_or_default();
            let n = int_arg(args, 1, ctx, name, column)?.unwrap_or(0);
            if n < 0 {
                Val::Str(s)
            } else {
                Val::Str(s.chars().take(n as usize).collect())
            }
        }
        "Mid" => {
            let Some(s) = text(args, 0, ctx)? else { return Ok(Some(Val::Null)) };
            let start = int_arg(args, 1, ctx, name, column)?.unwrap_or(1).max(1) as usize;
            let length = int_arg(args, 2, ctx, name, column)?.unwrap_or(0).max(0) as usize;
            Val::Str(s.chars().skip(start - 1).take(length).collect())
        }
        "RemoveDuplicates" => {
            let mut seen = Vec::new();
            for item in val(args, 0, ctx)?.as_list() {
                if !seen.contains(&item) {
                    seen.push(item);
                }
            }
            Val::Multi(seen)
        }
        _ => return Ok(None),
    }))
}

/// Words and case: Replace, Split, PCase, ToLower, …; `None` when `name` is another function.
pub(super) fn call_words(
    name: &str,
    args: &[Option<Expr>],
    column: usize,
    ctx: &mut EvalContext<'_>,
) -> Result<Option<Val>, ExprError> {
    Ok(Some(match name {
        "NormalizeDiacritics" => match text(args, 0, ctx)? {
            Some(s) => Val::Str(normalize_diacritics(&s)),
            None => Val::Null,
        },
        "PCase" => match text(args, 0, ctx)? {
            Some(s) => {
                let separators = text(args, 1, ctx)?;
                Val::Str(proper_case(&s, separators.as_deref()))
            }
            None => Val::Null,
        },
        "Replace" => replace(args, column, ctx)?,
        "Split" => match text(args, 0, ctx)? {
            Some(s) => {
                let delimiter = text(args, 1, ctx)?.unwrap_or_else(|| ",".into());
                if delimiter.is_empty() {
                    Val::Multi(vec![s])
                } else {
                    Val::Multi(
                        s.split(delimiter.as_str()).map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
                    )
                }
            }
            None => Val::Null,
        },
        "StripSpaces" => match text(args, 0, ctx)? {
            Some(s) => Val::Str(s.replace(' ', "")),
            None => Val::Null,
        },
        "ToLower" | "ToUpper" => {
            let culture = text(args, 1, ctx)?;
            let upper = name == "ToUpper";
            map_text(val(args, 0, ctx)?, |s| culture_case(s, culture.as_deref(), upper))
        }
        "Word" => {
            let s = text(args, 0, ctx)?.unwrap_or_default();
            let n = int_arg(args, 1, ctx, name, column)?.unwrap_or(0);
            let delimiters: Vec<char> = text(args, 2, ctx)?.unwrap_or_else(|| " ".into()).chars().collect();
            if n < 1 {
                return Ok(Some(Val::Str(String::new())));
            }
            let words: Vec<&str> = s.split(|c| delimiters.contains(&c)).filter(|w| !w.is_empty()).collect();
            Val::Str(words.get(n as usize - 1).map(|w| w.to_string()).unwrap_or_default())
        }
        _ => return Ok(None),
    }))
}

/// Dates: CDate, DateAdd, DateDiff, FormatDateTime, Now, …; `None` when `name` is another function.
pub(super) fn call_date(
    name: &str,
    args: &[Option<Expr>],
    column: usize,
    ctx: &mut EvalContext<'_>,
) -> Result<Option<Val>, ExprError> {
    let err = |m: String| ExprError::at(column, format!("{name}: {m}"));
    Ok(Some(match name {
        "CDate" => match date_arg(&val(args, 0, ctx)?, name, column)? {
            Some(t) => Val::Str(entra_format(t)),
            None => Val::Null,
        },
        "DateAdd" => {
            let interval = text(args, 0, ctx)?.unwrap_or_default();
            let amount = int_arg(args, 1, ctx, name, column)?.unwrap_or(0);
            let Some(t) = date_arg(&val(args, 2, ctx)?, name, column)? else { return Ok(Some(Val::Null)) };
            Val::Str(entra_format(
                date_add(&interval, amount, t)
                    .ok_or_else(|| err(format!("unknown interval \"{interval}\"; use yyyy, m, d, ww, h, n or s")))?,
            ))
        }
        "DateDiff" => {
            let interval = text(args, 0, ctx)?.unwrap_or_default();
            let a = date_arg(&val(args, 1, ctx)?, name, column)?;
            let b = date_arg(&val(args, 2, ctx)?, name, column)?;
            let (Some(a), Some(b)) = (a, b) else { return Ok(Some(Val::Null)) };
            Val::Str(
                date_diff(&interval, a, b).ok_or_else(|| err(format!("unknown interval \"{interval}\"")))?.to_string(),
            )
        }
        "DateFromNum" => match int_arg(args, 0, ctx, name, column)? {
            Some(ticks) => {
                let t = OffsetDateTime::from_unix_timestamp(ticks / 10_000_000 - FILETIME_UNIX_OFFSET_SECS)
                    .map_err(|e| err(e.to_string()))?;
                Val::Str(entra_format(t))
            }
            None => Val::Null,
        },
        "NumFromDate" => match date_arg(&val(args, 0, ctx)?, name, column)? {
            Some(t) => Val::Str(
                ((t.unix_timestamp() + FILETIME_UNIX_OFFSET_SECS) * 10_000_000 + i64::from(t.nanosecond() / 100))
                    .to_string(),
            ),
            None => Val::Null,
        },
        "FormatDateTime" => {
            let Some(source) = text(args, 0, ctx)? else { return Ok(Some(Val::Null)) };
            let input = text(args, 2, ctx)?.ok_or_else(|| err("inputFormat is required".into()))?;
            let output = text(args, 3, ctx)?.ok_or_else(|| err("outputFormat is required".into()))?;
            let t = parse_dotnet(source.trim(), &input)
                .or_else(|| parse_any(&source))
                .ok_or_else(|| err(format!("\"{source}\" does not match the input format \"{input}\"")))?;
            Val::Str(format_dotnet(t, &output))
        }
        "Now" => Val::Str(entra_format(ctx.now)),
        _ => return Ok(None),
    }))
}

/// Generated values and roles: Guid, RandomString, Redact, SelectUniqueValue, app role assignments; `None` when `name` is another function.
pub(super) fn call_values(
    name: &str,
    args: &[Option<Expr>],
    column: usize,
    ctx: &mut EvalContext<'_>,
) -> Result<Option<Val>, ExprError> {
    let err = |m: String| ExprError::at(column, format!("{name}: {m}"));
    Ok(Some(match name {
        "DefaultDomain" => Val::Str(ctx.default_domain.to_string()),
        "Guid" => {
            let bytes: [u8; 16] = ctx.rng.gen();
            Val::Str(uuid::Builder::from_random_bytes(bytes).into_uuid().to_string())
        }
        "RandomString" => {
            let mut n = |i| int_arg(args, i, ctx, name, column).map(|v| v.unwrap_or(0).max(0) as usize);
            let (length, digits, special, capital, lower) = (n(0)?, n(1)?, n(2)?, n(3)?, n(4)?);
            let avoid: Vec<char> = text(args, 5, ctx)?.unwrap_or_default().chars().collect();
            if length > 256 || digits + special + capital + lower > length {
                return Err(err(format!("length {length} must be at most 256 and at least the sum of the minimums")));
            }
            Val::Str(random_string(ctx.rng, length, [digits, special, capital, lower], &avoid))
        }
        "Redact" => {
            ctx.redacted = true;
            val(args, 0, ctx)?
        }
        "SelectUniqueValue" => {
            for i in 0..args.len() {
                let candidate = val(args, i, ctx)?;
                let Some(value) = candidate.as_text().filter(|s| !s.is_empty()) else { continue };
                if !ctx.taken.is_some_and(|taken| taken(&value)) {
                    return Ok(Some(Val::Str(value)));
                }
            }
            return Err(err("every candidate value is already taken in the target".into()));
        }
        "SingleAppRoleAssignment" => {
            role_values(&val(args, 0, ctx)?).into_iter().next().map(Val::Str).unwrap_or(Val::Null)
        }
        "AppRoleAssignments" => Val::Multi(role_values(&val(args, 0, ctx)?)),
        "AppRoleAssignmentsComplex" | "AssertiveAppRoleAssignmentsComplex" => {
            let roles: Vec<Value> = role_values(&val(args, 0, ctx)?)
                .into_iter()
                .map(|r| json!({"primary": false, "type": "WindowsAzureActiveDirectoryRole", "display": r, "value": r}))
                .collect();
            if roles.is_empty() {
                Val::Null
            } else {
                Val::Json(Value::Array(roles))
            }
        }
        _ => return Ok(None),
    }))
}

/// Logic and numbers: IIF, Switch, Coalesce, IsNull, CBool, BitAnd, …; `None` when `name` is another function.
pub(super) fn call_logic(
    name: &str,
    args: &[Option<Expr>],
    column: usize,
    ctx: &mut EvalContext<'_>,
) -> Result<Option<Val>, ExprError> {
    Ok(Some(match name {
        "BitAnd" => {
            let a = int_arg(args, 0, ctx, name, column)?.unwrap_or(0);
            let b = int_arg(args, 1, ctx, name, column)?.unwrap_or(0);
            Val::Str((a & b).to_string())
        }
        "CBool" => {
            let v = val(args, 0, ctx)?;
            let truth = match v.as_text() {
                None => false,
                Some(s) if s.eq_ignore_ascii_case("true") => true,
                Some(s) if s.eq_ignore_ascii_case("false") => false,
                Some(s) => s.trim().parse::<f64>().map(|n| n != 0.0).unwrap_or(!s.is_empty()),
            };
            Val::bool(truth)
        }
        "Coalesce" => {
            for i in 0..args.len() {
                let v = val(args, i, ctx)?;
                if !v.is_null() {
                    return Ok(Some(v));
                }
            }
            Val::Null
        }
        "ConvertToBase64" => match text(args, 0, ctx)? {
            Some(s) => {
                let utf16: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
                Val::Str(base64::engine::general_purpose::STANDARD.encode(utf16))
            }
            None => Val::Null,
        },
        "ConvertToUTF8Hex" => match text(args, 0, ctx)? {
            Some(s) => Val::Str(s.bytes().map(|b| format!("{b:02X}")).collect()),
            None => Val::Null,
        },
        "IgnoreFlowIfNullOrEmpty" => {
            let v = val(args, 0, ctx)?;
            if v.is_empty() {
                Val::Null
            } else {
                v
            }
        }
        "IIF" => {
            let condition = val(args, 0, ctx)?;
            if condition.is_true() {
                val(args, 1, ctx)?
            } else {
                val(args, 2, ctx)?
            }
        }
        "IsNull" | "IsNothing" => Val::bool(val(args, 0, ctx)?.is_null()),
        "IsNullOrEmpty" => Val::bool(val(args, 0, ctx)?.is_empty()),
        "IsPresent" => Val::bool(!val(args, 0, ctx)?.is_empty()),
        "IsString" => Val::bool(matches!(val(args, 0, ctx)?, Val::Str(_))),
        "Not" => Val::bool(!val(args, 0, ctx)?.is_true()),
        "Switch" => {
            let source = text(args, 0, ctx)?;
            let mut i = 2;
            while i < args.len() {
                let key = text(args, i, ctx)?.unwrap_or_default();
                if source.as_deref().unwrap_or("") == key && (source.is_some() || key.is_empty()) {
                    return val(args, i + 1, ctx).map(Some);
                }
                i += 2;
            }
            val(args, 1, ctx)?
        }
        _ => return Ok(None),
    }))
}
