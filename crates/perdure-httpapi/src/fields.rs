//! Filling path variables and query parameters into a request message, as grpc-gateway does:
//! a dotted field path (proto names or camelCase JSON names) walks into nested messages,
//! creating them; the text is parsed for the leaf's kind (numbers, bools, enum names or
//! numbers, base64 bytes, Timestamp, Duration, FieldMask, wrappers); a repeated leaf gets one
//! element per value. Unknown query parameters are ignored (grpc-gateway does too); path
//! variables always name real fields because the templates come from the same descriptors.

use prost_reflect::{
    DynamicMessage, FieldDescriptor, Kind, MessageDescriptor, ReflectMessage, Value,
};

/// Why a value could not be set. The text is what Temporal's gateway says (InvalidArgument).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct FieldError(pub String);

/// Finds a field by proto name, then by JSON name (grpc-gateway's order).
pub fn field_by_name(desc: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    desc.get_field_by_name(name)
        .or_else(|| desc.get_field_by_json_name(name))
}

/// Sets `path` (already split on '.') in `msg` to `text`; appends if the leaf is repeated.
/// Returns Ok(false) if some name on the path is not a field (the caller may ignore it).
pub fn set(msg: &mut DynamicMessage, path: &[String], text: &str) -> Result<bool, FieldError> {
    let Some((leaf, parents)) = path.split_last() else {
        return Ok(false);
    };
    let mut current = msg;
    for name in parents {
        let Some(fd) = field_by_name(&current.descriptor(), name) else {
            return Ok(false);
        };
        if fd.is_list() || fd.is_map() || !matches!(fd.kind(), Kind::Message(_)) {
            return Ok(false);
        }
        current = match current.get_field_mut(&fd) {
            Value::Message(m) => m,
            _ => return Ok(false),
        };
    }
    let Some(fd) = field_by_name(&current.descriptor(), leaf) else {
        return Ok(false);
    };
    if fd.is_map() {
        return Ok(false);
    }
    // grpc-gateway names the leaf by its proto name, however the caller spelled it.
    let value = parse(&fd.kind(), text)
        .map_err(|e| FieldError(format!("parsing field {:?}: {e}", fd.name())))?;
    if fd.is_list() {
        if let Value::List(items) = current.get_field_mut(&fd) {
            items.push(value);
        }
    } else {
        current.set_field(&fd, value);
    }
    Ok(true)
}

fn parse(kind: &Kind, text: &str) -> Result<Value, String> {
    // Go's strconv wording: a number too large for the field is "out of range".
    fn int<T: std::str::FromStr>(text: &str) -> Result<T, String> {
        text.parse().map_err(|_| {
            let why = match text.parse::<i128>() {
                Ok(_) => "value out of range",
                Err(_) => "invalid syntax",
            };
            format!("strconv.ParseInt: parsing {text:?}: {why}")
        })
    }
    fn uint<T: std::str::FromStr>(text: &str) -> Result<T, String> {
        text.parse().map_err(|_| {
            let why = match text.parse::<u128>() {
                Ok(_) => "value out of range",
                Err(_) => "invalid syntax",
            };
            format!("strconv.ParseUint: parsing {text:?}: {why}")
        })
    }
    Ok(match kind {
        Kind::String => Value::String(text.to_string()),
        Kind::Bool => Value::Bool(match text {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
            "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
            _ => {
                return Err(format!(
                    "strconv.ParseBool: parsing {text:?}: invalid syntax"
                ))
            }
        }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(int(text)?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(int(text)?),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(uint(text)?),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(uint(text)?),
        Kind::Float => Value::F32(
            text.parse()
                .map_err(|_| format!("strconv.ParseFloat: parsing {text:?}: invalid syntax"))?,
        ),
        Kind::Double => Value::F64(
            text.parse()
                .map_err(|_| format!("strconv.ParseFloat: parsing {text:?}: invalid syntax"))?,
        ),
        Kind::Bytes => Value::Bytes(
            crate::json::decode_base64(text)
                .ok_or_else(|| format!("illegal base64 data at input byte {}", bad_byte(text)))?
                .into(),
        ),
        Kind::Enum(e) => match e.get_value_by_name(text) {
            Some(v) => Value::EnumNumber(v.number()),
            None => Value::EnumNumber(
                text.parse()
                    .map_err(|_| format!("{text:?} is not a valid value"))?,
            ),
        },
        Kind::Message(m) => Value::Message(well_known(m, text)?),
    })
}

/// Where Go's base64 decoder gives up: the first byte outside both alphabets and padding.
fn bad_byte(text: &str) -> usize {
    text.bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b"+/-_=".contains(&b)))
        .unwrap_or(text.len())
}

/// Message-typed leaves: the well-known types that have a one-string form.
fn well_known(desc: &MessageDescriptor, text: &str) -> Result<DynamicMessage, String> {
    let mut msg = DynamicMessage::new(desc.clone());
    match desc.full_name() {
        "google.protobuf.Timestamp" => {
            let t: prost_types::Timestamp = text.parse().map_err(|e| format!("{e}"))?;
            msg.transcode_from(&t).map_err(|e| e.to_string())?;
        }
        "google.protobuf.Duration" => {
            let d: prost_types::Duration = text.parse().map_err(|e| format!("{e}"))?;
            msg.transcode_from(&d).map_err(|e| e.to_string())?;
        }
        "google.protobuf.FieldMask" => {
            let paths = text
                .split(',')
                .filter(|p| !p.is_empty())
                .map(crate::json::snake_case)
                .collect();
            msg.transcode_from(&prost_types::FieldMask { paths })
                .map_err(|e| e.to_string())?;
        }
        name if name.starts_with("google.protobuf.") && name.ends_with("Value") => {
            let fd = desc
                .get_field_by_name("value")
                .ok_or_else(|| format!("unsupported message type {name}"))?;
            msg.set_field(&fd, parse(&fd.kind(), text)?);
        }
        name => return Err(format!("unsupported message type {name}")),
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptors::message;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_string).collect()
    }

    #[test]
    fn nested_repeated_enum_and_duration_fields() {
        let desc =
            message("temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryRequest").unwrap();
        let mut m = DynamicMessage::new(desc);
        assert!(set(&mut m, &path("execution.workflow_id"), "w").unwrap());
        assert!(set(&mut m, &path("execution.runId"), "r").unwrap());
        assert!(set(&mut m, &path("maximumPageSize"), "7").unwrap());
        assert!(set(&mut m, &path("wait_new_event"), "true").unwrap());
        assert!(set(
            &mut m,
            &path("history_event_filter_type"),
            "HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT"
        )
        .unwrap());
        assert!(!set(&mut m, &path("bogus"), "1").unwrap());
        assert!(!set(&mut m, &path("execution.bogus"), "1").unwrap());
        let r: temporalio_protos_shim::GetWorkflowExecutionHistoryRequest =
            m.transcode_to().unwrap();
        let e = r.execution.unwrap();
        assert_eq!((e.workflow_id.as_str(), e.run_id.as_str()), ("w", "r"));
        assert_eq!(r.maximum_page_size, 7);
        assert!(r.wait_new_event);
        assert_eq!(r.history_event_filter_type, 2);

        let err = set(&mut m, &path("maximumPageSize"), "abc").unwrap_err();
        assert_eq!(
            err.0,
            r#"parsing field "maximum_page_size": strconv.ParseInt: parsing "abc": invalid syntax"#
        );
        let err = set(&mut m, &path("maximum_page_size"), "99999999999").unwrap_err();
        assert!(err.0.ends_with("value out of range"), "{err}");
    }

    #[test]
    fn repeated_leaves_append_and_well_known_types_parse() {
        let desc =
            message("temporal.api.operatorservice.v1.RemoveSearchAttributesRequest").unwrap();
        let mut m = DynamicMessage::new(desc);
        set(&mut m, &path("search_attributes"), "A").unwrap();
        set(&mut m, &path("searchAttributes"), "B").unwrap();
        let fd = m
            .descriptor()
            .get_field_by_name("search_attributes")
            .unwrap();
        let got: Vec<String> = m
            .get_field(&fd)
            .as_list()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, ["A", "B"]);

        let desc = message("temporal.api.workflowservice.v1.ListNamespacesRequest").unwrap();
        let err = set(
            &mut DynamicMessage::new(desc),
            &path("nextPageToken"),
            "   ",
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            r#"parsing field "next_page_token": illegal base64 data at input byte 0"#
        );

        let ts = message("google.protobuf.Timestamp").unwrap();
        let t = well_known(&ts, "2024-03-01T00:00:01.5Z").unwrap();
        let t: prost_types::Timestamp = t.transcode_to().unwrap();
        assert_eq!((t.seconds, t.nanos), (1_709_251_201, 500_000_000));
        let d = well_known(&message("google.protobuf.Duration").unwrap(), "1.5s").unwrap();
        let d: prost_types::Duration = d.transcode_to().unwrap();
        assert_eq!((d.seconds, d.nanos), (1, 500_000_000));
    }

    /// The prost types of the messages used above, through perdure-api's re-export.
    mod temporalio_protos_shim {
        pub use perdure_api::temporal::workflowservice::v1::GetWorkflowExecutionHistoryRequest;
    }
}
