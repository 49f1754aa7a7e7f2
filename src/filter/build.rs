//! Pest pairs → AST, with a nesting-depth budget (pest itself recurses, and so do we).

use pest::iterators::Pair;
use pest::Parser;
use serde_json::Value;

use super::ast::{AttrPath, CompareOp, Filter, PatchPath};
use super::error::FilterError;
use super::grammar::{Rule, ScimFilterParser};

/// Limits applied while parsing. Advertised in ServiceProviderConfig.
#[derive(Debug, Clone, Copy)]
pub struct FilterLimits {
    pub max_length: usize,
    pub max_depth: usize,
}

impl Default for FilterLimits {
    fn default() -> Self {
        FilterLimits { max_length: 4096, max_depth: 32 }
    }
}

pub fn parse_filter(text: &str, limits: FilterLimits) -> Result<Filter, FilterError> {
    check_length(text, limits)?;
    match super::simple::simple_comparison(text) {
        Some(filter) => Ok(filter),
        None => parse_with_grammar(text, limits),
    }
}

/// [`parse_filter`] without its shortcut for a single string comparison.
pub(super) fn parse_with_grammar(text: &str, limits: FilterLimits) -> Result<Filter, FilterError> {
    check_length(text, limits)?;
    check_bracket_depth(text, limits)?;
    let mut pairs = ScimFilterParser::parse(Rule::filter_root, text).map_err(syntax_error)?;
    let root = pairs.next().ok_or_else(empty_error)?;
    let filter = root.into_inner().find(|p| p.as_rule() == Rule::filter).ok_or_else(empty_error)?;
    let mut builder = Builder { limits, depth: 0 };
    builder.filter(filter)
}

pub fn parse_patch_path(text: &str, limits: FilterLimits) -> Result<PatchPath, FilterError> {
    check_length(text, limits)?;
    check_bracket_depth(text, limits)?;
    let mut pairs = ScimFilterParser::parse(Rule::path_root, text).map_err(syntax_error)?;
    let root = pairs.next().ok_or_else(empty_error)?;
    let path = root.into_inner().find(|p| p.as_rule() == Rule::patch_path).ok_or_else(empty_error)?;
    let mut builder = Builder { limits, depth: 0 };
    let mut inner = path.into_inner();
    let attr = builder.attr_path(inner.next().ok_or_else(empty_error)?);
    let mut patch = PatchPath { attr, filter: None, sub_after_filter: None };
    if let Some(selector) = inner.next() {
        for part in selector.into_inner() {
            match part.as_rule() {
                Rule::filter => patch.filter = Some(builder.filter(part)?),
                Rule::attr_name => patch.sub_after_filter = Some(part.as_str().to_string()),
                _ => {}
            }
        }
    }
    Ok(patch)
}

fn check_length(text: &str, limits: FilterLimits) -> Result<(), FilterError> {
    let length = text.chars().count();
    if length > limits.max_length {
        return Err(FilterError::TooLong { length, limit: limits.max_length });
    }
    Ok(())
}

/// Rejects deep nesting before pest recurses into it: parentheses and brackets outside
/// string literals bound the recursion depth of the grammar.
fn check_bracket_depth(text: &str, limits: FilterLimits) -> Result<(), FilterError> {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for ch in text.chars() {
        if in_string {
            match (escaped, ch) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match ch {
            '"' => in_string = true,
            '(' | '[' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if max > limits.max_depth {
        return Err(FilterError::TooDeep { depth: max, limit: limits.max_depth });
    }
    Ok(())
}

fn empty_error() -> FilterError {
    FilterError::Syntax { column: 1, message: "empty filter".into() }
}

fn syntax_error(err: pest::error::Error<Rule>) -> FilterError {
    let column = match err.line_col {
        pest::error::LineColLocation::Pos((_, col)) | pest::error::LineColLocation::Span((_, col), _) => col,
    };
    let message = match &err.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            let mut expected: Vec<&str> = positives.iter().filter_map(|r| describe(*r)).collect();
            expected.sort_unstable();
            expected.dedup();
            match expected.len() {
                0 => "unexpected input".to_string(),
                1 => format!("expected {}", expected[0]),
                _ => {
                    let last = expected.pop().unwrap_or_default();
                    format!("expected {} or {}", expected.join(", "), last)
                }
            }
        }
        pest::error::ErrorVariant::CustomError { message } => message.clone(),
    };
    FilterError::Syntax { column, message }
}

/// Human names for the rules pest reports as expected.
fn describe(rule: Rule) -> Option<&'static str> {
    Some(match rule {
        Rule::attr_path | Rule::attr_name | Rule::schema_uri => "an attribute name",
        Rule::compare_op => "an operator (eq, ne, co, sw, ew, gt, lt, ge, le)",
        Rule::pr_kw => "'pr'",
        Rule::and_kw | Rule::or_kw => "'and' or 'or'",
        Rule::not_kw | Rule::not_expr => "'not'",
        Rule::string | Rule::number | Rule::true_lit | Rule::false_lit | Rule::null_lit => {
            "a value (\"string\", number, true, false or null)"
        }
        Rule::filter | Rule::or_expr | Rule::and_expr | Rule::group | Rule::comparison | Rule::presence => {
            "a filter expression"
        }
        Rule::value_path_tail => "'.' and a sub-attribute",
        Rule::patch_selector => "'['",
        Rule::EOI => "end of input",
        Rule::sp => "a space",
        _ => return None,
    })
}

/// Inner pairs without the separator tokens.
fn children(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| p.as_rule() != Rule::sp)
}

struct Builder {
    limits: FilterLimits,
    depth: usize,
}

impl Builder {
    fn descend(&mut self) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(FilterError::TooDeep { depth: self.depth, limit: self.limits.max_depth });
        }
        Ok(())
    }

    fn filter(&mut self, pair: Pair<'_, Rule>) -> Result<Filter, FilterError> {
        // Depth counts nesting constructs (parentheses, not, brackets), as the pre-check does.
        let nests = matches!(pair.as_rule(), Rule::group | Rule::not_expr | Rule::value_path_expr);
        if nests {
            self.descend()?;
        }
        let result = match pair.as_rule() {
            Rule::filter => {
                let inner = children(pair).next().ok_or_else(empty_error)?;
                self.filter(inner)
            }
            Rule::or_expr => self.fold(pair, Filter::or),
            Rule::and_expr => self.fold(pair, Filter::and),
            Rule::not_expr => {
                let inner = children(pair).find(|p| p.as_rule() == Rule::filter).ok_or_else(empty_error)?;
                Ok(Filter::Not(Box::new(self.filter(inner)?)))
            }
            Rule::group => {
                let inner = children(pair).next().ok_or_else(empty_error)?;
                self.filter(inner)
            }
            Rule::presence => {
                let path = children(pair).next().ok_or_else(empty_error)?;
                Ok(Filter::Present(self.attr_path(path)))
            }
            Rule::comparison => {
                let mut inner = children(pair);
                let path = self.attr_path(inner.next().ok_or_else(empty_error)?);
                let (op, value) = self.op_value(&mut inner)?;
                Ok(Filter::Compare { path, op, value })
            }
            Rule::value_path_expr => self.value_path(pair),
            other => Err(FilterError::Syntax { column: 1, message: format!("unexpected {other:?}") }),
        };
        if nests {
            self.depth -= 1;
        }
        result
    }

    fn fold(&mut self, pair: Pair<'_, Rule>, join: fn(Filter, Filter) -> Filter) -> Result<Filter, FilterError> {
        let mut acc: Option<Filter> = None;
        for operand in children(pair).filter(|p| !matches!(p.as_rule(), Rule::and_kw | Rule::or_kw)) {
            let next = self.filter(operand)?;
            acc = Some(match acc {
                None => next,
                Some(left) => join(left, next),
            });
        }
        acc.ok_or_else(empty_error)
    }

    fn value_path(&mut self, pair: Pair<'_, Rule>) -> Result<Filter, FilterError> {
        let mut inner = children(pair);
        let attr = self.attr_path(inner.next().ok_or_else(empty_error)?);
        let mut filter = self.filter(inner.next().ok_or_else(empty_error)?)?;
        if let Some(tail) = inner.next() {
            // `attr[f].sub op v` means `attr[f and sub op v]`.
            let mut parts = children(tail).peekable();
            let sub = AttrPath::new(parts.next().ok_or_else(empty_error)?.as_str());
            let is_presence = parts.peek().ok_or_else(empty_error)?.as_rule() == Rule::pr_kw;
            let extra = if is_presence {
                Filter::Present(sub)
            } else {
                let (op, value) = self.op_value(&mut parts)?;
                Filter::Compare { path: sub, op, value }
            };
            filter = Filter::and(filter, extra);
        }
        Ok(Filter::ValuePath { attr, filter: Box::new(filter) })
    }

    fn op_value<'i>(
        &mut self,
        inner: &mut impl Iterator<Item = Pair<'i, Rule>>,
    ) -> Result<(CompareOp, Value), FilterError> {
        let op_pair = inner.next().ok_or_else(empty_error)?;
        let op = CompareOp::parse(op_pair.as_str()).ok_or_else(|| FilterError::Syntax {
            column: op_pair.as_span().start() + 1,
            message: format!("unknown operator '{}'", op_pair.as_str()),
        })?;
        let value_pair = inner.next().ok_or_else(empty_error)?;
        let column = value_pair.as_span().start() + 1;
        let value = match value_pair.as_rule() {
            Rule::true_lit => Value::Bool(true),
            Rule::false_lit => Value::Bool(false),
            Rule::null_lit => Value::Null,
            Rule::string | Rule::number => serde_json::from_str(value_pair.as_str())
                .map_err(|e| FilterError::Syntax { column, message: format!("invalid value: {e}") })?,
            other => return Err(FilterError::Syntax { column, message: format!("unexpected {other:?}") }),
        };
        Ok((op, value))
    }

    fn attr_path(&mut self, pair: Pair<'_, Rule>) -> AttrPath {
        let mut urn = None;
        let mut names = Vec::with_capacity(2);
        for part in children(pair) {
            match part.as_rule() {
                Rule::schema_uri => urn = Some(part.as_str().trim_end_matches(':').to_string()),
                _ => names.push(part.as_str().to_string()),
            }
        }
        let mut names = names.into_iter();
        AttrPath { urn, name: names.next().unwrap_or_default(), sub: names.next() }
    }
}
