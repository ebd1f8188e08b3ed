//! Size and count limits, with Temporal's default values and wording (dynamic config
//! `limit.*`). The frontend and the state machine share these so a limit is decided in one
//! place. Pure constants and helpers: nothing here reads configuration or logs.

use prost::Message;
use temporalio_protos::temporal::api::common::v1::{Payload, Payloads};

/// `limit.maxIDLength`: ids, names, identities and request ids.
pub const MAX_ID_LENGTH: usize = 1000;
/// `limit.blobSize.error`: one payload set (input, result, details, failure).
pub const BLOB_SIZE_LIMIT_ERROR: usize = 2 * 1024 * 1024;
/// `limit.blobSize.warn`: oversized failures are truncated to this size.
pub const BLOB_SIZE_LIMIT_WARN: usize = 512 * 1024;
/// `limit.memoSize.error`.
pub const MEMO_SIZE_LIMIT_ERROR: usize = 2 * 1024 * 1024;
/// `limit.numPendingActivities.error`.
pub const NUM_PENDING_ACTIVITIES_LIMIT: usize = 2000;
/// `limit.historyCount.error`: a run with more events is terminated.
pub const HISTORY_COUNT_LIMIT_ERROR: i64 = 50 * 1024;
/// `limit.historySize.error`: a run with a larger history is terminated.
pub const HISTORY_SIZE_LIMIT_ERROR: i64 = 50 * 1024 * 1024;

/// The InvalidArgument message for an oversized payload in a request.
pub const ERR_BLOB_SIZE_EXCEEDS_LIMIT: &str = "Blob data size exceeds limit.";
/// The InvalidArgument message for an oversized memo in a request.
pub const ERR_MEMO_SIZE_EXCEEDS_LIMIT: &str = "Memo size exceeds limit.";
/// Failure message when an activity's result is too large: the activity fails instead.
pub const FAILURE_REASON_COMPLETE_RESULT_EXCEEDS_LIMIT: &str =
    "Complete result exceeds size limit.";
/// Failure message replacing an oversized failure (the original, truncated, becomes its cause).
pub const FAILURE_REASON_FAILURE_EXCEEDS_LIMIT: &str = "Failure exceeds size limit.";
/// Failure message when heartbeat details are too large.
pub const FAILURE_REASON_HEARTBEAT_EXCEEDS_LIMIT: &str = "Heartbeat details exceed size limit.";
/// Termination reason (and error message) when the history has too many events.
pub const FAILURE_REASON_HISTORY_COUNT_EXCEEDS_LIMIT: &str =
    "Workflow history count exceeds limit.";
/// Termination reason (and error message) when the history is too large.
pub const FAILURE_REASON_HISTORY_SIZE_EXCEEDS_LIMIT: &str = "Workflow history size exceeds limit.";

/// Size of a map of payloads as Temporal counts it for markers, memos and search attributes:
/// key bytes plus data bytes (metadata is not counted).
pub fn payload_map_size<'a>(fields: impl IntoIterator<Item = (&'a String, &'a Payload)>) -> usize {
    fields
        .into_iter()
        .map(|(k, v)| k.len() + v.data.len())
        .sum()
}

/// Size of a marker's details as Temporal counts it: key bytes plus each encoded `Payloads`.
pub fn payloads_map_size<'a>(
    fields: impl IntoIterator<Item = (&'a String, &'a Payloads)>,
) -> usize {
    fields
        .into_iter()
        .map(|(k, v)| k.len() + v.encoded_len())
        .sum()
}

/// Encoded size of an optional message, 0 when absent (Go's `nil.Size()`).
pub fn encoded_size<M: Message>(m: Option<&M>) -> usize {
    m.map_or(0, |m| m.encoded_len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn payload_map_size_counts_keys_and_data_only() {
        let mut fields = HashMap::new();
        fields.insert(
            "key".to_string(),
            Payload {
                metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
                data: vec![0; 10],
                ..Default::default()
            },
        );
        assert_eq!(payload_map_size(&fields), 13);
    }

    #[test]
    fn absent_message_has_zero_size() {
        assert_eq!(encoded_size::<Payload>(None), 0);
        let p = Payload {
            data: vec![1; 5],
            ..Default::default()
        };
        assert_eq!(encoded_size(Some(&p)), p.encoded_len());
    }
}
