//! Checking the search attributes a start, a signal-with-start or a workflow command sets,
//! against the namespace's registered attributes, as Temporal's frontend and history do: a
//! name must be registered (or a predefined one users may set), and the value must decode as
//! the registered type. An accepted payload's `type` metadata is set to the registered type, so
//! a row is typed by the registry whatever the client wrote.
//!
//! Pure: the registry is handed in. Messages are Temporal's, values printed as Go's `%v` prints
//! the JSON it decoded.

use perdure_visibility::{IndexedValueType, SearchAttributes, UnixNanos};
use serde_json::Value as J;
use temporalio_protos::temporal::api::common::v1::{Payload, SearchAttributes as Proto};

/// Temporal's `limit.numberOfSearchAttributes`.
pub(crate) const MAX_KEYS: usize = 100;
/// Temporal's `limit.searchAttributesSizeOfValue` (bytes of one value's data).
pub(crate) const MAX_VALUE_BYTES: usize = 2 * 1024;
/// Temporal's `limit.searchAttributesTotalSize` (the encoded message).
pub(crate) const MAX_TOTAL_BYTES: usize = 40 * 1024;

/// Predefined attributes users may set (Temporal's allowlist); the others are the system's.
const SETTABLE_PREDEFINED: &[&str] = &[
    "TemporalChangeVersion",
    "BinaryChecksums",
    "BuildIds",
    "BatcherNamespace",
    "BatcherUser",
    "TemporalScheduledStartTime",
    "TemporalScheduledById",
    "TemporalSchedulePaused",
    "TemporalNamespaceDivision",
    "TemporalPauseInfo",
    "TemporalReportedProblems",
];

/// Why a set of search attributes is refused, with Temporal's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    /// A name the namespace has not registered (Temporal finds it resolving aliases, before
    /// it validates anything; workflow commands report it as is).
    #[error("{0}")]
    Unregistered(String),
    /// A value, a system name or a size (workflow commands other than upsert wrap it).
    #[error("{0}")]
    Invalid(String),
}

/// Checks `sa` for namespace `namespace` (its registry `attrs`) and types its payloads; the
/// error is the InvalidArgument message Temporal gives.
pub(crate) fn check(
    attrs: &SearchAttributes,
    namespace: &str,
    sa: &mut Proto,
) -> Result<(), Refused> {
    check_all(attrs, namespace, sa).map_err(|(unregistered, m)| {
        if unregistered {
            Refused::Unregistered(m)
        } else {
            Refused::Invalid(m)
        }
    })
}

fn check_all(
    attrs: &SearchAttributes,
    namespace: &str,
    sa: &mut Proto,
) -> Result<(), (bool, String)> {
    let invalid = |m: String| (false, m);
    let n = sa.indexed_fields.len();
    if n == 0 {
        return Ok(());
    }
    if n > MAX_KEYS {
        return Err(invalid(format!(
            "number of search attributes {n} exceeds limit {MAX_KEYS}"
        )));
    }
    let mut names: Vec<String> = sa.indexed_fields.keys().cloned().collect();
    names.sort();
    // Temporal resolves every alias before it looks at a value.
    for name in &names {
        if SearchAttributes::is_mappable(name) && !attrs.custom().any(|(c, _)| c == name) {
            return Err((
                true,
                format!("Namespace {namespace} has no mapping defined for search attribute {name}"),
            ));
        }
    }
    for name in &names {
        let ty = type_of(attrs, name).map_err(invalid)?;
        let p = sa.indexed_fields.get_mut(name).expect("named above");
        if let Err(shown) = decode(p, ty) {
            return Err(invalid(format!(
                "invalid value for search attribute {name} of type {ty}: {shown}"
            )));
        }
        p.metadata
            .insert("type".to_string(), ty.name().as_bytes().to_vec());
    }
    for name in &names {
        let len = sa.indexed_fields[name].data.len();
        if len > MAX_VALUE_BYTES {
            return Err(invalid(format!(
                "search attribute {name} value size {len} exceeds size limit {MAX_VALUE_BYTES}"
            )));
        }
    }
    let total = prost::Message::encoded_len(sa);
    if total > MAX_TOTAL_BYTES {
        return Err(invalid(format!(
            "total size of search attributes {total} exceeds size limit {MAX_TOTAL_BYTES}"
        )));
    }
    Ok(())
}

/// The type `name` may be set with (after the alias check), or why it may not be set.
fn type_of(attrs: &SearchAttributes, name: &str) -> Result<IndexedValueType, String> {
    if let Some((_, t)) = attrs.custom().find(|(c, _)| *c == name) {
        return Ok(t);
    }
    let refused = || format!("{name} attribute can't be set in SearchAttributes");
    if SearchAttributes::system().any(|(s, _)| s == name) || !SETTABLE_PREDEFINED.contains(&name) {
        return Err(refused());
    }
    SearchAttributes::predefined()
        .find(|(p, _)| *p == name)
        .map(|(_, t)| t)
        .ok_or_else(refused)
}

/// Whether `p` holds a value of type `ty` (Temporal's `DecodeValue` without list values for
/// scalar types); the error is the value as Temporal prints it.
fn decode(p: &Payload, ty: IndexedValueType) -> Result<(), String> {
    let encoding = p.metadata.get("encoding").map(Vec::as_slice);
    let json = match encoding {
        Some(b"json/plain") => serde_json::from_slice::<J>(&p.data)
            .map_err(|_| format!("value from <{}>", String::from_utf8_lossy(&p.data)))?,
        Some(b"binary/null") => return Ok(()),
        Some(b"binary/plain") => return Err(go_bytes(&p.data)),
        _ => {
            return Err(format!(
                "value from <data:{:?}>",
                String::from_utf8_lossy(&p.data)
            ))
        }
    };
    if fits(&json, ty) {
        Ok(())
    } else {
        Err(go_value(&json))
    }
}

fn fits(v: &J, ty: IndexedValueType) -> bool {
    use IndexedValueType as T;
    let scalar = |v: &J| match (ty, v) {
        (T::Keyword | T::Text, J::String(_)) => true,
        (T::Int, J::Number(n)) => n.as_i64().is_some(),
        (T::Double, J::Number(_)) => true,
        (T::Bool, J::Bool(_)) => true,
        (T::Datetime, J::String(s)) => UnixNanos::parse_rfc3339(s).is_some(),
        (T::KeywordList, J::Array(items)) => items.iter().all(J::is_string),
        _ => false,
    };
    match v {
        J::Null => true,
        v if scalar(v) => true,
        // A list of one value is that value; an empty list unsets the attribute.
        J::Array(items) => items.len() <= 1 && items.iter().all(scalar),
        _ => false,
    }
}

/// Go's `%v` of a decoded JSON value.
fn go_value(v: &J) -> String {
    match v {
        J::Null => "<nil>".to_string(),
        J::Bool(b) => b.to_string(),
        J::Number(n) => go_float(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => s.clone(),
        J::Array(items) => format!(
            "[{}]",
            items.iter().map(go_value).collect::<Vec<_>>().join(" ")
        ),
        J::Object(m) => {
            let mut kv: Vec<_> = m
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_value(v)))
                .collect();
            kv.sort();
            format!("map[{}]", kv.join(" "))
        }
    }
}

/// Go's `%v` of a float64 (`%g`, shortest digits): exponent form below 1e-4 or from 1e6.
fn go_float(f: f64) -> String {
    if f == 0.0 || !f.is_finite() {
        return format!("{f}");
    }
    let exp = f.abs().log10().floor() as i32;
    if (-4..6).contains(&exp) {
        return format!("{f}");
    }
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let e: i32 = e.parse().unwrap_or(0);
            format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
        }
        None => s,
    }
}

fn go_bytes(b: &[u8]) -> String {
    format!(
        "[{}]",
        b.iter().map(u8::to_string).collect::<Vec<_>>().join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use IndexedValueType as T;

    fn attrs() -> SearchAttributes {
        SearchAttributes::with_custom([
            ("PK", T::Keyword),
            ("PT", T::Text),
            ("PI", T::Int),
            ("PF", T::Double),
            ("PB", T::Bool),
            ("PD", T::Datetime),
            ("PL", T::KeywordList),
        ])
    }

    fn json(v: &str, ty: Option<&str>) -> Payload {
        let mut metadata = HashMap::from([("encoding".to_string(), b"json/plain".to_vec())]);
        if let Some(t) = ty {
            metadata.insert("type".into(), t.as_bytes().to_vec());
        }
        Payload {
            metadata,
            data: v.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    fn one(name: &str, p: Payload) -> Result<Proto, String> {
        let mut sa = Proto {
            indexed_fields: HashMap::from([(name.to_string(), p)]),
        };
        check(&attrs(), "default", &mut sa)
            .map(|_| sa)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn an_unregistered_name_is_told_apart_from_a_bad_value() {
        let mut sa = Proto {
            indexed_fields: HashMap::from([
                ("Nope".to_string(), json("5", None)),
                ("PK".to_string(), json("5", None)),
            ]),
        };
        // Names are resolved before any value is looked at.
        assert!(matches!(
            check(&attrs(), "ns", &mut sa),
            Err(Refused::Unregistered(_))
        ));
        sa.indexed_fields.remove("Nope");
        assert!(matches!(
            check(&attrs(), "ns", &mut sa),
            Err(Refused::Invalid(_))
        ));
    }

    #[test]
    fn unregistered_and_system_names_are_refused() {
        assert_eq!(
            one("Nope", json("\"a\"", None)).unwrap_err(),
            "Namespace default has no mapping defined for search attribute Nope"
        );
        assert_eq!(
            one("WorkflowId", json("\"a\"", None)).unwrap_err(),
            "WorkflowId attribute can't be set in SearchAttributes"
        );
        assert_eq!(
            one("TemporalWorkerDeployment", json("\"a\"", None)).unwrap_err(),
            "TemporalWorkerDeployment attribute can't be set in SearchAttributes"
        );
        one("BuildIds", json("[\"a\"]", None)).unwrap();
    }

    #[test]
    fn values_must_fit_the_registered_type() {
        let cases = [
            (
                "PK",
                "5",
                "invalid value for search attribute PK of type Keyword: 5",
            ),
            (
                "PI",
                "\"x\"",
                "invalid value for search attribute PI of type Int: x",
            ),
            (
                "PI",
                "\"5\"",
                "invalid value for search attribute PI of type Int: 5",
            ),
            (
                "PI",
                "5.5",
                "invalid value for search attribute PI of type Int: 5.5",
            ),
            (
                "PD",
                "\"yesterday\"",
                "invalid value for search attribute PD of type Datetime: yesterday",
            ),
            (
                "PL",
                "\"a\"",
                "invalid value for search attribute PL of type KeywordList: a",
            ),
            (
                "PK",
                "[\"a\",\"b\"]",
                "invalid value for search attribute PK of type Keyword: [a b]",
            ),
            (
                "PL",
                "[1,2]",
                "invalid value for search attribute PL of type KeywordList: [1 2]",
            ),
            (
                "PB",
                "\"true\"",
                "invalid value for search attribute PB of type Bool: true",
            ),
        ];
        for (name, data, msg) in cases {
            assert_eq!(
                one(name, json(data, None)).unwrap_err(),
                msg,
                "{name} = {data}"
            );
        }
        for (name, data) in [
            ("PF", "3"),
            ("PK", "[\"a\"]"),
            ("PK", "[]"),
            ("PK", "null"),
            ("PD", "\"2024-01-02T03:04:05Z\""),
            ("PL", "[]"),
            ("PT", "\"some words\""),
        ] {
            one(name, json(data, None)).unwrap();
        }
    }

    #[test]
    fn accepted_payloads_carry_the_registered_type() {
        let sa = one("PK", json("\"abc\"", Some("Text"))).unwrap();
        assert_eq!(sa.indexed_fields["PK"].metadata["type"], b"Keyword");
    }

    #[test]
    fn go_prints_floats_like_this() {
        assert_eq!(go_float(5.0), "5");
        assert_eq!(go_float(5.5), "5.5");
        assert_eq!(go_float(123456.0), "123456");
        assert_eq!(go_float(1234567.0), "1.234567e+06");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(0.00001), "1e-05");
    }
}
