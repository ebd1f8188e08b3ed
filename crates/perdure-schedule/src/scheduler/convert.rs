//! Conversions between the scheduler's nanosecond integers and proto types, and the JSON
//! payloads search attributes are stored as.
//!
//! Never holds schedule logic.

use std::time::Duration;

use perdure_core::Time;
use prost_wkt_types::Timestamp;
use temporalio_protos::temporal::api::common::v1::Payload;

pub(super) fn ts(t: i64) -> Option<Timestamp> {
    Some(Time(t).to_timestamp())
}

pub(super) fn time_of(t: &Option<Timestamp>) -> Option<i64> {
    t.as_ref().map(|t| Time::from_timestamp(t).0)
}

pub(super) fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// `s` as a JSON string literal.
pub(super) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A search attribute value as Temporal's server stores it: JSON with its type named.
pub(super) fn json_payload(json: String, kind: &str) -> Payload {
    Payload {
        metadata: [
            ("encoding".to_string(), b"json/plain".to_vec()),
            ("type".to_string(), kind.as_bytes().to_vec()),
        ]
        .into_iter()
        .collect(),
        data: json.into_bytes(),
        ..Default::default()
    }
}
