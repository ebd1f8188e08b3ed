//! A minimal JSON writer for the result file.
//!
//! Owns: rendering a small tree of values as valid, indented JSON. Must never: emit invalid
//! JSON (non-finite numbers become `null`, strings are escaped).

use std::fmt::Write;

/// A JSON value; objects keep their insertion order so the file reads like the table.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// Builds an object from `(key, value)` pairs.
    pub fn obj<const N: usize>(pairs: [(&str, Json); N]) -> Json {
        Json::Obj(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// `Null` for `None`.
    pub fn opt(value: Option<Json>) -> Json {
        value.unwrap_or(Json::Null)
    }

    /// Pretty-printed with two-space indentation and a trailing newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = |out: &mut String, d: usize| out.extend(std::iter::repeat_n("  ", d));
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Num(n) if n.is_finite() => {
                let _ = write!(out, "{n}");
            }
            Json::Num(_) => out.push_str("null"),
            Json::Str(s) => write_string(out, s),
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Arr(items) => {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    pad(out, depth + 1);
                    item.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                pad(out, depth);
                out.push(']');
            }
            Json::Obj(pairs) if pairs.is_empty() => out.push_str("{}"),
            Json::Obj(pairs) => {
                out.push_str("{\n");
                for (i, (key, value)) in pairs.iter().enumerate() {
                    pad(out, depth + 1);
                    write_string(out, key);
                    out.push_str(": ");
                    value.write(out, depth + 1);
                    out.push_str(if i + 1 < pairs.len() { ",\n" } else { "\n" });
                }
                pad(out, depth);
                out.push('}');
            }
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_nested_values() {
        let v = Json::obj([
            ("name", Json::Str("perdure".into())),
            ("ok", Json::Bool(true)),
            ("p50_ms", Json::Num(1.5)),
            ("runs", Json::Arr(vec![Json::Num(1.0), Json::Null])),
            ("empty", Json::Obj(vec![])),
        ]);
        assert_eq!(
            v.render(),
            "{\n  \"name\": \"perdure\",\n  \"ok\": true,\n  \"p50_ms\": 1.5,\n  \"runs\": [\n    1,\n    null\n  ],\n  \"empty\": {}\n}\n"
        );
    }

    #[test]
    fn escapes_strings_and_nulls_non_finite_numbers() {
        let v = Json::Arr(vec![
            Json::Str("a\"b\\c\nd\u{1}".into()),
            Json::Num(f64::NAN),
            Json::Num(f64::INFINITY),
        ]);
        assert_eq!(
            v.render(),
            "[\n  \"a\\\"b\\\\c\\nd\\u0001\",\n  null,\n  null\n]\n"
        );
    }
}
