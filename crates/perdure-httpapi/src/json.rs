//! Temporal's JSON mapping of its messages (go.temporal.io/api `temporalproto`), on top of
//! prost-reflect's protojson: camelCase names, 64-bit integers as strings, enums by their full
//! names (`WORKFLOW_EXECUTION_STATUS_RUNNING`), Timestamps/Durations as text, defaults left out.
//! What Temporal adds, and this module adds too:
//!
//! - **Payload shorthand** (on in answers unless `?noPayloadShorthand` or the Accept header
//!   asks otherwise, on in bodies unless the Content-Type does; see `handler.rs`): a Payload
//!   whose only metadata is `encoding: json/plain` is written as its JSON value; `json/protobuf` with a `messageType`
//!   as the object plus `_protoMessageType`; `binary/null` (and JSON `null`) as
//!   `{"metadata":{"encoding":"YmluYXJ5L251bGw="}}`; Payloads as an array of those, unless one
//!   payload has another encoding, when the whole Payloads keeps its proto form. On input both
//!   forms are accepted: `{"metadata":…,"data":…}` with base64 values is a Payload as is, any
//!   other JSON value becomes `json/plain` (Go's `json.Marshal` of it: keys sorted, `<>&`
//!   escaped), `null` becomes `binary/null`.
//! - **Enum shorthand on input**: `"Running"` is accepted for `WORKFLOW_EXECUTION_STATUS_RUNNING`
//!   (the enum's name prefixed, screaming snake case), as are numbers.
//!
//! It must never change a message's meaning: anything it does not recognise is left to
//! protojson, so a wrong shape fails there as InvalidArgument rather than being guessed at.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use prost_reflect::{
    DeserializeOptions, DynamicMessage, Kind, MessageDescriptor, ReflectMessage, SerializeOptions,
};
use serde_json::{Map, Value};

use crate::descriptors::{PAYLOAD, PAYLOADS};

/// The base64 of `binary/null`, which Temporal writes for a null payload.
const BINARY_NULL_B64: &str = "YmluYXJ5L251bGw=";

#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    #[error("{0}")]
    Decode(String),
    #[error("{0}")]
    Encode(String),
}

/// A message as Temporal's JSON value.
pub fn to_value(msg: &DynamicMessage, shorthand: bool) -> Result<Value, JsonError> {
    let opts = SerializeOptions::new();
    let mut v = msg
        .serialize_with_options(serde_json::value::Serializer, &opts)
        .map_err(|e| JsonError::Encode(e.to_string()))?;
    if shorthand {
        shorthand_out(&msg.descriptor(), &mut v);
    }
    Ok(v)
}

/// Parses Temporal's JSON into a message of type `desc`. Unknown fields are refused, as
/// Temporal's protojson does.
pub fn from_value(
    desc: &MessageDescriptor,
    mut v: Value,
    shorthand: bool,
) -> Result<DynamicMessage, JsonError> {
    normalise_in(desc, &mut v, shorthand);
    DynamicMessage::deserialize_with_options(desc.clone(), v, &DeserializeOptions::new())
        .map_err(|e| JsonError::Decode(e.to_string()))
}

fn shorthand_out(desc: &MessageDescriptor, v: &mut Value) {
    match desc.full_name() {
        PAYLOAD => {
            if let Some(short) = payload_out(v) {
                *v = short;
            }
            return;
        }
        PAYLOADS => {
            let items = v.get("payloads").and_then(Value::as_array);
            let short: Option<Vec<Value>> = match items {
                Some(items) => items.iter().map(payload_out).collect(),
                None => Some(Vec::new()),
            };
            if let Some(short) = short {
                *v = Value::Array(short);
            }
            return;
        }
        "google.protobuf.Any" => {
            // An Any (an error's details) holds its message's fields beside `@type`.
            let inner = v
                .get("@type")
                .and_then(Value::as_str)
                .and_then(|t| t.rsplit('/').next())
                .and_then(crate::descriptors::message);
            if let Some(inner) = inner {
                if !inner.full_name().starts_with("google.protobuf.") {
                    shorthand_out(&inner, v);
                }
            }
            return;
        }
        _ => {}
    }
    let Value::Object(obj) = v else { return };
    for fd in desc.fields() {
        let Some(child) = obj.get_mut(fd.json_name()) else {
            continue;
        };
        let Some(inner) = message_of(&fd) else {
            continue;
        };
        if fd.is_map() {
            if let Value::Object(entries) = child {
                entries.values_mut().for_each(|e| shorthand_out(&inner, e));
            }
        } else if fd.is_list() {
            if let Value::Array(items) = child {
                items.iter_mut().for_each(|e| shorthand_out(&inner, e));
            }
        } else {
            shorthand_out(&inner, child);
        }
    }
}

/// The message type a field holds (a map's value type for maps), if it holds messages.
fn message_of(fd: &prost_reflect::FieldDescriptor) -> Option<MessageDescriptor> {
    match fd.kind() {
        Kind::Message(m) if fd.is_map() => match m.map_entry_value_field().kind() {
            Kind::Message(v) => Some(v),
            _ => None,
        },
        Kind::Message(m) => Some(m),
        _ => None,
    }
}

/// One protojson Payload (`{"metadata":{k: b64}, "data": b64}`) in shorthand, if Temporal
/// would write it so.
fn payload_out(v: &Value) -> Option<Value> {
    let mut metadata = std::collections::BTreeMap::new();
    if let Some(m) = v.get("metadata").and_then(Value::as_object) {
        for (k, b) in m {
            metadata.insert(k.as_str(), decode_base64(b.as_str()?)?);
        }
    }
    let data = match v.get("data") {
        Some(d) => decode_base64(d.as_str()?)?,
        None => Vec::new(),
    };
    let null = || serde_json::json!({"metadata": {"encoding": BINARY_NULL_B64}});
    match metadata.get("encoding").map(Vec::as_slice) {
        Some(b"binary/null") => Some(null()),
        Some(b"json/plain") if metadata.len() == 1 => {
            let value: Value = serde_json::from_slice(&data).ok()?;
            Some(if value.is_null() {
                null()
            } else {
                crate::gotext::as_float64(value)
            })
        }
        Some(b"json/protobuf") if metadata.len() == 2 => {
            let message_type = String::from_utf8(metadata.get("messageType")?.clone()).ok()?;
            if message_type.is_empty() {
                return None;
            }
            let mut object = match serde_json::from_slice(&data).ok()? {
                Value::Object(o) => o,
                _ => Map::new(),
            };
            let object_values = std::mem::take(&mut object)
                .into_iter()
                .map(|(k, v)| (k, crate::gotext::as_float64(v)))
                .collect::<Map<_, _>>();
            object = object_values;
            object.insert("_protoMessageType".into(), Value::String(message_type));
            Some(Value::Object(object))
        }
        _ => None,
    }
}

/// Rewrites Temporal's input shorthands into plain protojson for `desc`.
fn normalise_in(desc: &MessageDescriptor, v: &mut Value, shorthand: bool) {
    if shorthand {
        match desc.full_name() {
            PAYLOAD => {
                *v = payload_in(std::mem::take(v));
                return;
            }
            PAYLOADS => match v {
                Value::Array(items) => {
                    let items = std::mem::take(items).into_iter().map(payload_in).collect();
                    *v = serde_json::json!({ "payloads": Value::Array(items) });
                    return;
                }
                Value::Null => {
                    *v = Value::Object(Map::new());
                    return;
                }
                _ => {}
            },
            _ => {}
        }
    }
    let Value::Object(obj) = v else { return };
    for (key, child) in obj.iter_mut() {
        let Some(fd) = crate::fields::field_by_name(desc, key) else {
            continue;
        };
        let mut each = |f: &mut dyn FnMut(&mut Value)| {
            if fd.is_map() {
                if let Value::Object(entries) = child {
                    entries.values_mut().for_each(&mut *f);
                }
            } else if fd.is_list() {
                if let Value::Array(items) = child {
                    items.iter_mut().for_each(&mut *f);
                }
            } else {
                f(child)
            }
        };
        let kind = if fd.is_map() {
            fd.kind()
                .as_message()
                .map(|m| m.map_entry_value_field().kind())
        } else {
            Some(fd.kind())
        };
        match kind {
            Some(Kind::Message(m)) => each(&mut |e| normalise_in(&m, e, shorthand)),
            Some(Kind::Enum(en)) => each(&mut |e| {
                if let Value::String(s) = e {
                    if en.get_value_by_name(s).is_none() {
                        let long = screaming_snake(&format!("{}_{}", en.name(), s));
                        if en.get_value_by_name(&long).is_some() {
                            *s = long;
                        }
                    }
                }
            }),
            _ => {}
        }
    }
}

/// One Payload from either form (see the module comment).
fn payload_in(v: Value) -> Value {
    if let Value::Object(o) = &v {
        if let Some(full) = payload_full_form(o) {
            return full;
        }
        if let Some(Value::String(t)) = o.get("_protoMessageType") {
            let t = t.clone();
            let mut rest = o.clone();
            rest.remove("_protoMessageType");
            return payload_json(
                &[
                    ("encoding", b"json/protobuf".as_slice()),
                    ("messageType", t.as_bytes()),
                ],
                &crate::gotext::go_json(&Value::Object(rest)),
            );
        }
    }
    if v.is_null() {
        return serde_json::json!({"metadata": {"encoding": STANDARD.encode("binary/null")}});
    }
    payload_json(
        &[("encoding", b"json/plain".as_slice())],
        &crate::gotext::go_json(&v),
    )
}

/// `{"metadata":{…},"data":…}` with every value valid base64, or `{"metadata":{"encoding":
/// <binary/null>}}`: a Payload in proto form (re-encoded as standard base64).
fn payload_full_form(o: &Map<String, Value>) -> Option<Value> {
    let metadata = o.get("metadata")?.as_object()?;
    let encoding = metadata.get("encoding")?;
    match o.get("data") {
        None if encoding.as_str() == Some(BINARY_NULL_B64) => {
            return Some(serde_json::json!({"metadata": {"encoding": BINARY_NULL_B64}}));
        }
        None => return None,
        Some(_) if o.len() != 2 => return None,
        Some(_) => {}
    }
    let data = decode_base64(o.get("data")?.as_str()?)?;
    let mut md = Map::new();
    for (k, v) in metadata {
        md.insert(
            k.clone(),
            Value::String(STANDARD.encode(decode_base64(v.as_str()?)?)),
        );
    }
    Some(serde_json::json!({"metadata": md, "data": STANDARD.encode(data)}))
}

fn payload_json(metadata: &[(&str, &[u8])], data: &[u8]) -> Value {
    let md: Map<String, Value> = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(STANDARD.encode(v))))
        .collect();
    serde_json::json!({"metadata": md, "data": STANDARD.encode(data)})
}

/// Base64 as Go's protojson and Temporal's payload code accept it: standard or URL alphabet,
/// padded or not.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let url = s.contains(['-', '_']);
    let padded = s.len().is_multiple_of(4);
    match (url, padded) {
        (false, true) => STANDARD.decode(s),
        (false, false) => STANDARD_NO_PAD.decode(s),
        (true, true) => URL_SAFE.decode(s),
        (true, false) => URL_SAFE_NO_PAD.decode(s),
    }
    .ok()
}

/// `WorkflowExecutionStatus_Running` → `WORKFLOW_EXECUTION_STATUS_RUNNING`.
fn screaming_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' || c == ' ' {
            if !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if (prev.is_lowercase() || prev.is_ascii_digit() || (prev.is_uppercase() && next_lower))
                && !out.ends_with('_')
            {
                out.push('_');
            }
        }
        out.extend(c.to_uppercase());
    }
    out
}

/// `workflowId` → `workflow_id`, for FieldMask paths given in JSON names.
pub fn snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptors::message;
    use perdure_api::temporal::common::v1::{Payload, Payloads};
    use serde_json::json;

    fn payload(encoding: &str, data: &str) -> Payload {
        Payload {
            metadata: [("encoding".to_string(), encoding.as_bytes().to_vec())].into(),
            data: data.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    fn dynamic<T: prost::Message>(name: &str, m: &T) -> DynamicMessage {
        let mut d = DynamicMessage::new(message(name).unwrap());
        d.transcode_from(m).unwrap();
        d
    }

    #[test]
    fn json_payloads_are_written_as_their_values() {
        let ps = Payloads {
            payloads: vec![
                payload("json/plain", "{\"b\":1.0,\"a\":[true]}"),
                payload("json/plain", "\"x\""),
            ],
        };
        let v = to_value(&dynamic(PAYLOADS, &ps), true).unwrap();
        assert_eq!(
            crate::gotext::render(&v, false),
            r#"[{"a":[true],"b":1},"x"]"#
        );
        // ?noPayloadShorthand: protojson's own form.
        let v = to_value(&dynamic(PAYLOADS, &ps), false).unwrap();
        assert_eq!(
            v["payloads"][1]["metadata"]["encoding"],
            json!("anNvbi9wbGFpbg==")
        );
        assert_eq!(v["payloads"][1]["data"], json!("Ingi"));
    }

    #[test]
    fn payloads_inside_an_any_are_shorthand_too() {
        let failure = perdure_api::temporal::failure::v1::Failure {
            message: "m".into(),
            encoded_attributes: Some(payload("json/plain", "{\"a\":1}")),
            ..Default::default()
        };
        let any = prost_types::Any {
            type_url: "type.googleapis.com/temporal.api.failure.v1.Failure".into(),
            value: prost::Message::encode_to_vec(&failure),
        };
        let v = to_value(&dynamic("google.protobuf.Any", &any), true).unwrap();
        assert_eq!(
            crate::gotext::render(&v["encodedAttributes"], false),
            r#"{"a":1}"#
        );
    }

    #[test]
    fn other_encodings_keep_the_whole_payloads_in_proto_form() {
        let ps = Payloads {
            payloads: vec![payload("json/plain", "1"), payload("binary/plain", "raw")],
        };
        let v = to_value(&dynamic(PAYLOADS, &ps), true).unwrap();
        assert_eq!(v["payloads"][0]["data"], json!("MQ=="));
        assert_eq!(v["payloads"][1]["data"], json!("cmF3"));
        // Extra metadata keeps a json/plain payload in proto form too.
        let mut p = payload("json/plain", "1");
        p.metadata.insert("x".into(), b"y".to_vec());
        let v = to_value(&dynamic(PAYLOAD, &p), true).unwrap();
        assert_eq!(v["data"], json!("MQ=="));
    }

    #[test]
    fn null_and_protobuf_payloads() {
        let v = to_value(&dynamic(PAYLOAD, &payload("binary/null", "")), true).unwrap();
        assert_eq!(v, json!({"metadata": {"encoding": "YmluYXJ5L251bGw="}}));
        let v = to_value(&dynamic(PAYLOAD, &payload("json/plain", "null")), true).unwrap();
        assert_eq!(v, json!({"metadata": {"encoding": "YmluYXJ5L251bGw="}}));
        let mut p = payload("json/protobuf", "{\"name\":\"n\"}");
        p.metadata.insert("messageType".into(), b"a.B".to_vec());
        let v = to_value(&dynamic(PAYLOAD, &p), true).unwrap();
        assert_eq!(v, json!({"name": "n", "_protoMessageType": "a.B"}));
        // And back.
        let back: Payload = from_value(&message(PAYLOAD).unwrap(), v, true)
            .unwrap()
            .transcode_to()
            .unwrap();
        assert_eq!(back.metadata["encoding"], b"json/protobuf");
        assert_eq!(back.metadata["messageType"], b"a.B");
        assert_eq!(back.data, b"{\"name\":\"n\"}");
    }

    #[test]
    fn both_input_forms_are_accepted() {
        let desc =
            message("temporal.api.workflowservice.v1.SignalWorkflowExecutionRequest").unwrap();
        let v = json!({"input": [{"z": 1, "a": "<&>"}, null, {"metadata": {"encoding": "YmluYXJ5L3BsYWlu"}, "data": "cmF3"}]});
        let m = from_value(&desc, v, true).unwrap();
        let r: perdure_api::temporal::workflowservice::v1::SignalWorkflowExecutionRequest =
            m.transcode_to().unwrap();
        let ps = r.input.unwrap().payloads;
        assert_eq!(ps[0].metadata["encoding"], b"json/plain");
        assert_eq!(ps[0].data, br#"{"a":"\u003c\u0026\u003e","z":1}"#);
        assert_eq!(ps[1].metadata["encoding"], b"binary/null");
        assert_eq!(ps[2].metadata["encoding"], b"binary/plain");
        assert_eq!(ps[2].data, b"raw");
        // The proto form of Payloads is accepted too, and without shorthand only it is.
        let v = json!({"input": {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "MQ=="}]}});
        assert!(from_value(&desc, v.clone(), true).is_ok());
        assert!(from_value(&desc, v, false).is_ok());
        assert!(from_value(&desc, json!({"input": [1]}), false).is_err());
        assert!(from_value(&desc, json!({"bogus": 1}), true).is_err());
    }

    #[test]
    fn proto_names_and_int64_numbers_on_input() {
        let desc =
            message("temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryRequest").unwrap();
        let v = json!({"execution": {"workflow_id": "w", "runId": "r"}, "maximum_page_size": 3,
            "next_page_token": "AQI=", "history_event_filter_type": 2});
        let r: perdure_api::temporal::workflowservice::v1::GetWorkflowExecutionHistoryRequest =
            from_value(&desc, v, true).unwrap().transcode_to().unwrap();
        assert_eq!(r.execution.unwrap().workflow_id, "w");
        assert_eq!((r.maximum_page_size, r.next_page_token), (3, vec![1, 2]));
        assert_eq!(r.history_event_filter_type, 2);
        let desc = message("temporal.api.history.v1.HistoryEvent").unwrap();
        for id in [json!(7), json!("7")] {
            let e: perdure_api::temporal::history::v1::HistoryEvent =
                from_value(&desc, json!({ "eventId": id }), true)
                    .unwrap()
                    .transcode_to()
                    .unwrap();
            assert_eq!(e.event_id, 7);
        }
    }

    #[test]
    fn enum_shorthand_on_input() {
        let desc =
            message("temporal.api.workflowservice.v1.StartWorkflowExecutionRequest").unwrap();
        for spelling in [
            "WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE",
            "RejectDuplicate",
            "3",
        ] {
            let v: Value = if spelling == "3" {
                json!({"workflowIdReusePolicy": 3})
            } else {
                json!({"workflowIdReusePolicy": spelling})
            };
            let r: perdure_api::temporal::workflowservice::v1::StartWorkflowExecutionRequest =
                from_value(&desc, v, true).unwrap().transcode_to().unwrap();
            assert_eq!(r.workflow_id_reuse_policy, 3, "{spelling}");
        }
        assert_eq!(
            screaming_snake("WorkflowExecutionStatus_Running"),
            "WORKFLOW_EXECUTION_STATUS_RUNNING"
        );
        assert_eq!(
            screaming_snake("TaskQueueKind_Normal"),
            "TASK_QUEUE_KIND_NORMAL"
        );
    }

    #[test]
    fn integral_doubles_have_no_fraction() {
        let p = perdure_api::temporal::taskqueue::v1::PollerInfo {
            rate_per_second: 100000.0,
            ..Default::default()
        };
        let v = to_value(&dynamic("temporal.api.taskqueue.v1.PollerInfo", &p), true).unwrap();
        assert_eq!(
            crate::gotext::render(&v, false),
            r#"{"ratePerSecond":100000}"#
        );
        let p = perdure_api::temporal::taskqueue::v1::PollerInfo {
            rate_per_second: 0.5,
            ..Default::default()
        };
        let v = to_value(&dynamic("temporal.api.taskqueue.v1.PollerInfo", &p), true).unwrap();
        assert_eq!(crate::gotext::render(&v, false), r#"{"ratePerSecond":0.5}"#);
    }

    #[test]
    fn int64_as_strings_and_enums_by_name() {
        let r = perdure_api::temporal::workflowservice::v1::CountWorkflowExecutionsResponse {
            count: 12,
            ..Default::default()
        };
        let v = to_value(
            &dynamic(
                "temporal.api.workflowservice.v1.CountWorkflowExecutionsResponse",
                &r,
            ),
            true,
        )
        .unwrap();
        assert_eq!(v, json!({"count": "12"}));
    }
}
