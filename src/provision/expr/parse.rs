//! Parsing expression text into an [`Expr`], with positioned errors.

use pest::iterators::Pair;
use pest::Parser;

use super::ast::{CmpOp, Expr};
use super::ExprError;

#[derive(pest_derive::Parser)]
#[grammar = "grammar/expression.pest"]
struct ExpressionParser;

/// Entra's documented limit on expression length.
pub const MAX_EXPRESSION_CHARS: usize = 10_000;
const MAX_NESTING: usize = 64;

pub fn parse(text: &str) -> Result<Expr, ExprError> {
    let chars = text.chars().count();
    if chars > MAX_EXPRESSION_CHARS {
        return Err(ExprError::at(
            1,
            format!("expression is {chars} characters long; Entra's limit is {MAX_EXPRESSION_CHARS}"),
        ));
    }
    // Bound recursion before pest descends: parentheses outside strings.
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for c in text.chars() {
        match (in_string, escaped, c) {
            (true, true, _) => escaped = false,
            (true, false, '\\') => escaped = true,
            (true, false, '"') => in_string = false,
            (true, false, _) => {}
            (false, _, '"') => in_string = true,
            (false, _, '(') => {
                depth += 1;
                max = max.max(depth);
            }
            (false, _, ')') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if max > MAX_NESTING {
        return Err(ExprError::at(1, format!("expression nests {max} calls deep; the limit is {MAX_NESTING}")));
    }
    let mut pairs = ExpressionParser::parse(Rule::expression_root, text).map_err(syntax_error)?;
    let root = pairs.next().ok_or_else(|| ExprError::at(1, "empty expression"))?;
    let expr =
        root.into_inner().find(|p| p.as_rule() == Rule::expr).ok_or_else(|| ExprError::at(1, "empty expression"))?;
    build(expr, 0)
}

fn syntax_error(err: pest::error::Error<Rule>) -> ExprError {
    let column = match err.line_col {
        pest::error::LineColLocation::Pos((_, c)) | pest::error::LineColLocation::Span((_, c), _) => c,
    };
    let message = match &err.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = positives
                .iter()
                .map(|r| match r {
                    Rule::attribute | Rule::attr_name => "an [attribute]",
                    Rule::string => "a \"string\"",
                    Rule::number | Rule::hexnum => "a number",
                    Rule::function | Rule::name => "a function call",
                    Rule::cmp_op => "a comparison operator",
                    Rule::args | Rule::arg | Rule::expr => "an argument",
                    Rule::EOI => "end of expression",
                    _ => "a token",
                })
                .collect();
            names.sort_unstable();
            names.dedup();
            if names.is_empty() {
                "unexpected input".to_string()
            } else {
                format!("expected {}", names.join(" or "))
            }
        }
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    ExprError::at(column, message)
}

fn build(pair: Pair<'_, Rule>, depth: usize) -> Result<Expr, ExprError> {
    let column = pair.as_span().start() + 1;
    if depth > MAX_NESTING {
        return Err(ExprError::at(column, format!("expression nests more than {MAX_NESTING} calls deep")));
    }
    match pair.as_rule() {
        Rule::expr => {
            let mut inner = pair.into_inner();
            let left = inner.next().ok_or_else(|| ExprError::at(column, "empty expression"))?;
            let (Some(op), Some(r)) = (inner.next(), inner.next()) else {
                return build(left, depth);
            };
            let l = left;
            let op = match op.as_str() {
                "=" => CmpOp::Eq,
                "<>" => CmpOp::Ne,
                ">" => CmpOp::Gt,
                ">=" => CmpOp::Ge,
                "<" => CmpOp::Lt,
                _ => CmpOp::Le,
            };
            Ok(Expr::Compare { op, left: Box::new(build(l, depth + 1)?), right: Box::new(build(r, depth + 1)?) })
        }
        Rule::function => {
            let mut inner = pair.into_inner();
            let name = inner.next().map(|p| p.as_str().to_string()).unwrap_or_default();
            let mut args = Vec::new();
            if let Some(list) = inner.next() {
                for arg in list.into_inner() {
                    args.push(match arg.into_inner().next() {
                        Some(e) => Some(build(e, depth + 1)?),
                        None => None,
                    });
                }
            }
            // `F()` parses as one omitted argument; it means no arguments.
            if args.len() == 1 && args[0].is_none() {
                args.clear();
            }
            Ok(Expr::Call { name, args, column })
        }
        Rule::attribute => {
            let name = pair.into_inner().next().map(|p| p.as_str().to_string()).unwrap_or_default();
            Ok(Expr::Attr(name))
        }
        Rule::string => Ok(Expr::Str(unescape(pair.as_str()))),
        Rule::number | Rule::hexnum => Ok(Expr::Num(pair.as_str().to_string())),
        Rule::identifier => Ok(Expr::Ident(pair.as_str().to_string())),
        other => Err(ExprError::at(column, format!("unexpected {other:?}"))),
    }
}

/// `\"` → `"`, `\\` → `\`; any other backslash stays (regexes are written `\\d` or `\d`).
fn unescape(quoted: &str) -> String {
    let inner = &quoted[1..quoted.len().saturating_sub(1).max(1)];
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('"') | Some('\\') => {
                    out.push(chars.next().unwrap_or('\\'));
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    out
}
