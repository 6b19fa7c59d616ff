//! Small JSON values that satisfy simple JSON schemas (tool arguments, structured output).
//!
//! Only what simple schemas need: required object properties, `enum`/`const`, scalar
//! types (OpenAPI-style upper-case type names too, as Gemini sends them) and
//! `anyOf`/`oneOf` (first branch). `$ref` and other constructs are not resolved.

use serde_json::{Map, Value};

/// Nesting limit, so self-similar or hostile schemas cannot recurse without bound.
const MAX_DEPTH: u32 = 8;

/// A value valid for `schema`: required string properties are `"mock"`, numbers 1,
/// booleans `true`, optional properties are left out; `{}` for a missing schema.
pub(crate) fn sample(schema: &Value) -> Value {
    sample_at(schema, 0)
}

fn sample_at(schema: &Value, depth: u32) -> Value {
    let Value::Object(s) = schema else {
        return Value::Object(Map::new());
    };
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(v) = s.get("const") {
        return v.clone();
    }
    if let Some(first) = s
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = s.get(key).and_then(Value::as_array).and_then(|e| e.first()) {
            return sample_at(first, depth + 1);
        }
    }
    match type_name(s).as_deref() {
        Some("string") => Value::String("mock".to_owned()),
        Some("integer" | "number") => Value::from(1),
        Some("boolean") => Value::Bool(true),
        Some("null") => Value::Null,
        Some("array") => {
            let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            match s.get("items") {
                Some(items) if min > 0 => Value::Array(vec![sample_at(items, depth + 1)]),
                _ => Value::Array(Vec::new()),
            }
        }
        _ => object(s, depth),
    }
}

/// The first non-null `type`, lower-cased (`"STRING"` and `["string","null"]` both work).
fn type_name(s: &Map<String, Value>) -> Option<String> {
    match s.get("type")? {
        Value::String(t) => Some(t.to_ascii_lowercase()),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| !t.eq_ignore_ascii_case("null"))
            .map(str::to_ascii_lowercase),
        _ => None,
    }
}

fn object(s: &Map<String, Value>, depth: u32) -> Value {
    let mut out = Map::new();
    let props = s.get("properties").and_then(Value::as_object);
    if let Some(required) = s.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            let prop = props.and_then(|p| p.get(name)).unwrap_or(&Value::Null);
            let value = match prop {
                // A required property without a schema: any value will do.
                Value::Null => Value::String("mock".to_owned()),
                p => sample_at(p, depth + 1),
            };
            out.insert(name.to_owned(), value);
        }
    }
    Value::Object(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fills_required_properties() {
        let schema = json!({
            "type": "object",
            "properties": {
                "location": {"type": "string"},
                "units": {"type": "string", "enum": ["c", "f"]},
                "days": {"type": "integer"},
                "precise": {"type": "boolean"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "nested": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]},
                "optional": {"type": "string"}
            },
            "required": ["location", "units", "days", "precise", "tags", "nested"]
        });
        assert_eq!(
            sample(&schema),
            json!({"location": "mock", "units": "c", "days": 1, "precise": true, "tags": [], "nested": {"x": 1}})
        );
    }

    #[test]
    fn gemini_style_and_edge_cases() {
        let schema = json!({"type": "OBJECT", "properties": {"city": {"type": "STRING"}}, "required": ["city"]});
        assert_eq!(sample(&schema), json!({"city": "mock"}));
        assert_eq!(
            sample(&json!({"type": "object", "properties": {}})),
            json!({})
        );
        assert_eq!(sample(&Value::Null), json!({}));
        assert_eq!(sample(&json!({"type": ["string", "null"]})), json!("mock"));
        assert_eq!(
            sample(&json!({"type": "array", "items": {"type": "integer"}, "minItems": 1})),
            json!([1])
        );
        assert_eq!(
            sample(&json!({"anyOf": [{"type": "boolean"}]})),
            json!(true)
        );
        assert_eq!(
            sample(&json!({"type": "object", "required": ["free"]})),
            json!({"free": "mock"})
        );
    }

    #[test]
    fn deep_schemas_terminate() {
        let mut schema = json!({"type": "string"});
        for _ in 0..100 {
            schema = json!({"type": "object", "properties": {"a": schema}, "required": ["a"]});
        }
        let v = sample(&schema);
        assert!(v.is_object());
    }
}
