//! Graph's `attributeMapping` fields in a job file, so a mapping copied from Graph Explorer
//! or a schema export pastes in unchanged (docs/entra-behaviour.md, "Mappings from Graph").
//! `source` may be the expression string or Graph's `attributeMappingSource` tree; the tree
//! becomes the string the expression compiler reads.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Graph's `flowBehavior`. scimlab exports an attribute when its value differs, which is
/// `FlowWhenChanged`; `FlowAlways` is refused at load rather than approximated silently.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum FlowBehavior {
    FlowWhenChanged,
    FlowAlways,
}

/// `deserialize_with` for `source`: `null`, an expression string, or an `attributeMappingSource`.
pub fn source<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(tree @ Value::Object(_)) => expression_of(&tree).map(Some).map_err(serde::de::Error::custom),
        Some(other) => Err(serde::de::Error::custom(format!(
            "'source' must be an expression string or Graph's attributeMappingSource object, not {other}"
        ))),
    }
}

/// The expression an `attributeMappingSource` stands for: its `expression` when Graph filled
/// it in (it always does in its answers), else rebuilt from `type`, `name` and `parameters`.
pub fn expression_of(tree: &Value) -> Result<String, String> {
    if let Some(text) = tree.get("expression").and_then(Value::as_str).filter(|t| !t.trim().is_empty()) {
        return Ok(text.to_string());
    }
    let name =
        tree.get("name").and_then(Value::as_str).ok_or("an attributeMappingSource needs 'expression' or 'name'")?;
    match tree.get("type").and_then(Value::as_str).unwrap_or("Attribute") {
        "Attribute" => Ok(format!("[{name}]")),
        "Constant" => Ok(format!("\"{}\"", name.replace('"', "\\\""))),
        "Function" => {
            let parameters = tree.get("parameters").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
            let arguments = parameters
                .iter()
                .map(|p| {
                    let value = p.get("value").ok_or_else(|| format!("a parameter of {name} without 'value'"))?;
                    expression_of(value)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(format!("{name}({})", arguments.join(", ")))
        }
        other => Err(format!("attributeMappingSource type '{other}' is not Attribute, Constant or Function")),
    }
}

#[cfg(test)]
mod tests {
    use super::expression_of;
    use serde_json::json;

    #[test]
    fn trees_without_an_expression_are_rebuilt() {
        let tree = json!({"name": "Join", "type": "Function", "parameters": [
            {"key": "separator", "value": {"name": ".", "type": "Constant"}},
            {"key": "source1", "value": {"name": "givenName", "type": "Attribute"}},
            {"key": "source2", "value": {"name": "surname"}}]});
        assert_eq!(expression_of(&tree).unwrap(), r#"Join(".", [givenName], [surname])"#);
        assert_eq!(
            expression_of(&json!({"expression": "[mail]", "name": "mail", "type": "Attribute"})).unwrap(),
            "[mail]"
        );
        assert!(expression_of(&json!({"type": "Lambda", "name": "x"})).unwrap_err().contains("Lambda"));
    }
}
