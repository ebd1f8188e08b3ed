//! JSON text as Temporal's Go code writes it, for what serde_json would spell differently:
//! a message's fields in declaration order (protojson's; map keys and a payload's own JSON
//! sorted), floats (`100000`, not `100000.0`; `1e+21` and `1e-7` outside [1e-6, 1e21)),
//! `?pretty` indentation (two spaces, `"key": value`), and Go's `json.Marshal` of a payload's
//! value (HTML characters escaped, numbers as Go decoded them). It formats values; it never
//! decides what they are.

use prost_reflect::{Kind, MessageDescriptor};
use serde_json::{Map, Number, Value};

use crate::descriptors::{pool, PAYLOAD, PAYLOADS};

/// What a JSON value is known to be, for ordering an object's keys.
#[derive(Clone)]
enum Shape {
    /// Keys sorted (maps, payload values, anything unknown).
    Free,
    Message(MessageDescriptor),
    /// A map whose values are messages of this type (its keys are sorted).
    MapOf(MessageDescriptor),
}

/// The answer's text, `v` being a message of type `desc` in Temporal's JSON: compact, or
/// indented by two spaces for `?pretty`.
pub fn render_message(v: &Value, desc: &MessageDescriptor, pretty: bool) -> String {
    let mut out = String::new();
    write(
        &mut out,
        v,
        &Shape::Message(desc.clone()),
        pretty.then_some(0),
        false,
    );
    out
}

/// Any JSON value's text (keys sorted).
#[cfg(test)]
pub fn render(v: &Value, pretty: bool) -> String {
    let mut out = String::new();
    write(&mut out, v, &Shape::Free, pretty.then_some(0), false);
    out
}

/// Go's `json.Marshal` of a JSON value decoded by Temporal's payload code: the bytes a
/// shorthand payload is stored as. Numbers that are integers within int64 stay integers, the
/// rest become float64 (the decoder's choice); `<`, `>`, `&`, U+2028 and U+2029 are escaped.
pub fn go_json(v: &Value) -> Vec<u8> {
    let mut out = String::new();
    write(
        &mut out,
        &numbers(v.clone(), as_decoded),
        &Shape::Free,
        None,
        true,
    );
    out.into_bytes()
}

/// A payload's JSON value as Temporal writes it back out: Go decoded it into `any`, so every
/// number is a float64.
pub fn as_float64(v: Value) -> Value {
    numbers(v, |n| n.as_f64().and_then(Number::from_f64).unwrap_or(n))
}

fn as_decoded(n: Number) -> Number {
    if n.is_i64() {
        return n;
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && (-(2f64.powi(63))..2f64.powi(63)).contains(&f) => {
            Number::from(f as i64)
        }
        Some(f) => Number::from_f64(f).unwrap_or(n),
        None => n,
    }
}

fn numbers(v: Value, f: fn(Number) -> Number) -> Value {
    match v {
        Value::Number(n) => Value::Number(f(n)),
        Value::Array(a) => Value::Array(a.into_iter().map(|x| numbers(x, f)).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, x)| (k, numbers(x, f))).collect()),
        other => other,
    }
}

fn write(out: &mut String, v: &Value, shape: &Shape, indent: Option<usize>, html: bool) {
    let inner = indent.map(|n| n + 1);
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => number(out, n),
        Value::String(s) => string(out, s, html),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            // Payloads in shorthand is an array of Payload.
            let element = match shape {
                Shape::Message(d) if d.full_name() == PAYLOADS => {
                    crate::descriptors::message(PAYLOAD).map_or(Shape::Free, Shape::Message)
                }
                other => other.clone(),
            };
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, inner);
                write(out, item, &element, inner, html);
            }
            newline(out, indent);
            out.push(']');
        }
        Value::Object(fields) => {
            if fields.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, item, child)) in ordered(fields, shape).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, inner);
                string(out, k, html);
                out.push_str(if indent.is_some() { ": " } else { ":" });
                write(out, item, &child, inner, html);
            }
            newline(out, indent);
            out.push('}');
        }
    }
}

/// An object's entries in the order protojson writes them, each with its value's shape: a
/// message's fields in declaration order (an Any's `@type` first, then its message's fields),
/// then anything else sorted.
fn ordered<'a>(
    fields: &'a Map<String, Value>,
    shape: &Shape,
) -> Vec<(&'a String, &'a Value, Shape)> {
    let desc = match shape {
        Shape::Free => return fields.iter().map(|(k, v)| (k, v, Shape::Free)).collect(),
        Shape::MapOf(value) => {
            let value = Shape::Message(value.clone());
            return fields.iter().map(|(k, v)| (k, v, value.clone())).collect();
        }
        Shape::Message(desc) => desc,
    };
    let mut desc = desc.clone();
    let mut out = Vec::with_capacity(fields.len());
    let mut taken = std::collections::BTreeSet::new();
    if desc.full_name() == "google.protobuf.Any" {
        if let Some((k, v)) = fields.get_key_value("@type") {
            out.push((k, v, Shape::Free));
            taken.insert(k.as_str());
            let name = v
                .as_str()
                .and_then(|t| t.rsplit('/').next())
                .unwrap_or_default();
            match pool().get_message_by_name(name) {
                Some(d) => desc = d,
                None => return fields.iter().map(|(k, v)| (k, v, Shape::Free)).collect(),
            }
        }
    }
    // Declaration order, which is not field-number order in every message (prost-reflect's
    // `fields()` iterates by number).
    let declared = desc
        .descriptor_proto()
        .field
        .iter()
        .filter_map(|f| desc.get_field(f.number() as u32))
        .collect::<Vec<_>>();
    for fd in declared {
        if let Some((k, v)) = fields.get_key_value(fd.json_name()) {
            let child = match fd.kind() {
                Kind::Message(m) if fd.is_map() => match m.map_entry_value_field().kind() {
                    Kind::Message(value) => Shape::MapOf(value),
                    _ => Shape::Free,
                },
                Kind::Message(m) => Shape::Message(m),
                _ => Shape::Free,
            };
            out.push((k, v, child));
            taken.insert(k.as_str());
        }
    }
    out.extend(
        fields
            .iter()
            .filter(|(k, _)| !taken.contains(k.as_str()))
            .map(|(k, v)| (k, v, Shape::Free)),
    );
    out
}

fn newline(out: &mut String, indent: Option<usize>) {
    if let Some(n) = indent {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", n));
    }
}

fn string(out: &mut String, s: &str, html: bool) {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    if !html {
        out.push_str(&quoted);
        return;
    }
    for c in quoted.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
}

fn number(out: &mut String, n: &Number) {
    if let Some(i) = n.as_i64() {
        out.push_str(&i.to_string());
    } else if let Some(u) = n.as_u64() {
        out.push_str(&u.to_string());
    } else if let Some(f) = n.as_f64() {
        out.push_str(&go_float(f));
    }
}

/// Go's `strconv.AppendFloat(f, 'f' or 'e', -1, 64)` as protojson and encoding/json use it:
/// the shortest digits that read back the same, exponent form below 1e-6 and from 1e21, and a
/// one-digit exponent kept short (`1e-7`, `1e+21`).
pub fn go_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let e = format!("{f:e}");
        match e.split_once('e') {
            Some((m, exp)) if !exp.starts_with('-') => format!("{m}e+{exp}"),
            _ => e,
        }
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_as_go_writes_them() {
        assert_eq!(go_float(100000.0), "100000");
        assert_eq!(go_float(0.5), "0.5");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1.5e-7), "1.5e-7");
        assert_eq!(go_float(12345678901234567890.0), "12345678901234567000");
        assert_eq!(go_float(0.0), "0");
    }

    #[test]
    fn pretty_and_compact() {
        let v = json!({"a": [1, {"b": []}], "c": {}});
        assert_eq!(render(&v, false), r#"{"a":[1,{"b":[]}],"c":{}}"#);
        assert_eq!(
            render(&v, true),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": []\n    }\n  ],\n  \"c\": {}\n}"
        );
    }

    #[test]
    fn message_fields_in_declaration_order() {
        let desc = crate::descriptors::message(
            "temporal.api.workflowservice.v1.StartWorkflowExecutionResponse",
        )
        .unwrap();
        // first_execution_run_id is declared second and numbered last.
        let v = json!({"started": true, "runId": "r", "status": "S", "link": {},
            "firstExecutionRunId": "f"});
        assert_eq!(
            render_message(&v, &desc, false),
            r#"{"runId":"r","firstExecutionRunId":"f","started":true,"status":"S","link":{}}"#
        );
        let status = crate::descriptors::message(crate::descriptors::RPC_STATUS).unwrap();
        let v = json!({"message": "m", "code": 6, "details": [{"runId": "r", "startRequestId": "q",
            "@type": "type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure"}]});
        assert_eq!(
            render_message(&v, &status, false),
            r#"{"code":6,"message":"m","details":[{"@type":"type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure","startRequestId":"q","runId":"r"}]}"#
        );
    }

    #[test]
    fn payload_values_as_go_marshals_them() {
        let v: Value =
            serde_json::from_str(r#"{"z":1.0,"a":"<&>","n":12345678901234567890,"f":1e21}"#)
                .unwrap();
        assert_eq!(
            String::from_utf8(go_json(&v)).unwrap(),
            r#"{"a":"\u003c\u0026\u003e","f":1e+21,"n":12345678901234567000,"z":1}"#
        );
        let out = as_float64(serde_json::from_str("[9007199254740993, 2]").unwrap());
        assert_eq!(render(&out, false), "[9007199254740992,2]");
    }
}
