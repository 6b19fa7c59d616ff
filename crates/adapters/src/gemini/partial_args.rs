//! Assembling Vertex's streamed function call arguments.
//!
//! With `streamFunctionCallArguments`, Vertex sends a call as several `functionCall`
//! parts: the first has the name and `willContinue: true`, the next carry
//! `partialArgs` (`{jsonPath, stringValue | numberValue | boolValue | nullValue,
//! willContinue}`), and one without `willContinue` closes the call. A string value
//! may itself arrive in pieces: a partial argument with `willContinue: true` is
//! continued by the next one for the same path. The arguments are assembled here
//! into one JSON object and handed out whole when the call closes.

use super::wire::WirePartialArg;
use serde_json::{Map, Number, Value};

/// Array indices beyond this are refused: a path is provider input, and `[1e9]`
/// must not allocate a billion nulls.
const MAX_INDEX: usize = 4096;

#[derive(Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// The arguments of one call being streamed.
#[derive(Debug, Default)]
pub(crate) struct PartialArgs {
    root: Map<String, Value>,
    /// The path whose string value continues in the next partial argument.
    open_string: Option<String>,
}

impl PartialArgs {
    /// Applies one partial argument. Ones with an unreadable path or no value are
    /// skipped (the call's other arguments still arrive).
    pub fn apply(&mut self, arg: &WirePartialArg) {
        let Some(path) = arg.json_path.as_deref() else {
            return;
        };
        let continues = self.open_string.as_deref() == Some(path);
        self.open_string = None;
        let Some(segments) = parse_path(path) else {
            return;
        };
        let value = if let Some(s) = &arg.string_value {
            if arg.will_continue == Some(true) {
                self.open_string = Some(path.to_string());
            }
            Value::String(s.clone())
        } else if let Some(n) = arg.number_value {
            number(n)
        } else if let Some(b) = arg.bool_value {
            Value::Bool(b)
        } else if arg.null_value.is_some() {
            Value::Null
        } else {
            return;
        };
        let Some(slot) = slot(&mut self.root, &segments) else {
            return;
        };
        match (slot, value) {
            (Value::String(prev), Value::String(more)) if continues => prev.push_str(&more),
            (slot, value) => *slot = value,
        }
    }

    /// Merges arguments sent whole (`args`) on a part of a streamed call.
    pub fn merge(&mut self, args: Value) {
        if let Value::Object(o) = args {
            self.root.extend(o);
        }
    }

    /// The arguments as JSON text.
    pub fn into_json(self) -> String {
        Value::Object(self.root).to_string()
    }
}

/// An integral double as a JSON integer (`3`, not `3.0`), as a client expects it.
fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        return Value::Number(Number::from(n as i64));
    }
    Number::from_f64(n).map_or(Value::Null, Value::Number)
}

/// Parses `$`, `.name`, `['name']`, `["name"]` and `[0]` segments.
fn parse_path(path: &str) -> Option<Vec<Segment>> {
    let mut rest = path.strip_prefix('$')?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let (name, tail) = r.split_at(end);
            if name.is_empty() {
                return None;
            }
            out.push(Segment::Key(name.to_string()));
            rest = tail;
        } else if let Some(r) = rest.strip_prefix('[') {
            let quote = r.chars().next().filter(|c| *c == '\'' || *c == '"');
            if let Some(q) = quote {
                let body = r.get(1..)?;
                let end = body.find(q)?;
                out.push(Segment::Key(body.get(..end)?.to_string()));
                rest = body.get(end + 1..)?.strip_prefix(']')?;
            } else {
                let end = r.find(']')?;
                let i: usize = r.get(..end)?.parse().ok()?;
                if i > MAX_INDEX {
                    return None;
                }
                out.push(Segment::Index(i));
                rest = r.get(end + 1..)?;
            }
        } else {
            return None;
        }
    }
    Some(out)
}

/// The value at `segments` under `root`, created (as null) with the objects and
/// arrays leading to it. `None` when the path goes through a value of another kind
/// or names the root itself.
fn slot<'a>(root: &'a mut Map<String, Value>, segments: &[Segment]) -> Option<&'a mut Value> {
    let (first, rest) = segments.split_first()?;
    let Segment::Key(k) = first else {
        return None;
    };
    let mut cur = root.entry(k.clone()).or_insert(Value::Null);
    for seg in rest {
        cur = match seg {
            Segment::Key(k) => {
                if cur.is_null() {
                    *cur = Value::Object(Map::new());
                }
                cur.as_object_mut()?.entry(k.clone()).or_insert(Value::Null)
            }
            Segment::Index(i) => {
                if cur.is_null() {
                    *cur = Value::Array(Vec::new());
                }
                let a = cur.as_array_mut()?;
                if a.len() <= *i {
                    a.resize(*i + 1, Value::Null);
                }
                a.get_mut(*i)?
            }
        };
    }
    Some(cur)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arg(v: Value) -> WirePartialArg {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn paths() {
        use Segment::{Index, Key};
        assert_eq!(parse_path("$"), Some(vec![]));
        assert_eq!(
            parse_path("$.foo.bar[0].data"),
            Some(vec![
                Key("foo".into()),
                Key("bar".into()),
                Index(0),
                Key("data".into())
            ])
        );
        assert_eq!(
            parse_path("$['a.b'][\"c\"]"),
            Some(vec![Key("a.b".into()), Key("c".into())])
        );
        for bad in ["", "foo", "$.", "$[x]", "$[99999]", "$['a]", "$x", "$[1"] {
            assert_eq!(parse_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn strings_continue_and_values_nest() {
        let mut p = PartialArgs::default();
        for a in [
            json!({"jsonPath": "$.location", "stringValue": "San ", "willContinue": true}),
            json!({"jsonPath": "$.location", "stringValue": "Francisco", "willContinue": true}),
            json!({"jsonPath": "$.location", "stringValue": ""}),
            json!({"jsonPath": "$.days", "numberValue": 3.0}),
            json!({"jsonPath": "$.ratio", "numberValue": 0.5}),
            json!({"jsonPath": "$.opts.metric", "boolValue": true}),
            json!({"jsonPath": "$.tags[1]", "stringValue": "b"}),
            json!({"jsonPath": "$.tags[0]", "stringValue": "a"}),
            json!({"jsonPath": "$.none", "nullValue": "NULL_VALUE"}),
            // A new string for a path that was not left open replaces the old one.
            json!({"jsonPath": "$.unit", "stringValue": "C"}),
            json!({"jsonPath": "$.unit", "stringValue": "F"}),
            // Skipped: no value, a bad path, a path through a string, the root.
            json!({"jsonPath": "$.empty"}),
            json!({"jsonPath": "location", "stringValue": "x"}),
            json!({"jsonPath": "$.unit.x", "stringValue": "x"}),
            json!({"jsonPath": "$", "stringValue": "x"}),
            json!({"stringValue": "x"}),
        ] {
            p.apply(&arg(a));
        }
        p.merge(json!({"extra": 1}));
        p.merge(json!("not an object"));
        let got: Value = serde_json::from_str(&p.into_json()).unwrap();
        assert_eq!(
            got,
            json!({
                "location": "San Francisco",
                "days": 3,
                "ratio": 0.5,
                "opts": {"metric": true},
                "tags": ["a", "b"],
                "none": null,
                "unit": "F",
                "extra": 1
            })
        );
    }
}
