//! Size and count limits, with Temporal's default values and wording (dynamic config
//! `limit.*`). The frontend and the state machine share these so a limit is decided in one
//! place. Pure constants and helpers: nothing here reads configuration or logs.

use prost::Message;
use temporalio_protos::temporal::api::{
    common::v1::{Payload, Payloads},
    enums::v1::SuggestContinueAsNewReason,
    history::v1::HistoryEvent,
};

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
/// `limit.historyCount.suggestContinueAsNew`: from this many events on, workflow tasks
/// suggest continue-as-new.
pub const HISTORY_COUNT_SUGGEST_CONTINUE_AS_NEW: i64 = 4 * 1024;
/// `limit.historySize.suggestContinueAsNew`: from this many history bytes on, workflow tasks
/// suggest continue-as-new.
pub const HISTORY_SIZE_SUGGEST_CONTINUE_AS_NEW: i64 = 4 * 1024 * 1024;

/// The InvalidArgument message for an oversized payload in a request.
/// Temporal's default `limit.maximumSignalsPerExecution`.
pub const MAX_SIGNALS_PER_EXECUTION: i64 = 10_000;
pub const ERR_SIGNAL_COUNT_EXCEEDS_LIMIT: &str = "Signal count exceeds limit.";
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

/// What one event adds to the history size: its bytes inside a stored `History` batch, field
/// framing included, which is how Temporal's execution stats count them.
pub fn history_event_size(event: &HistoryEvent) -> i64 {
    prost::encoding::message::encoded_len(1, event) as i64
}

/// Why a workflow task started now should suggest continue-as-new (empty: it should not).
/// `history_count` is the id the WorkflowTaskStarted event gets, `history_size` the bytes
/// stored before it (Temporal's getHistorySizeInfo).
pub fn continue_as_new_suggestions(
    history_size: i64,
    history_count: i64,
) -> Vec<SuggestContinueAsNewReason> {
    let mut reasons = Vec::new();
    if history_size >= HISTORY_SIZE_SUGGEST_CONTINUE_AS_NEW {
        reasons.push(SuggestContinueAsNewReason::HistorySizeTooLarge);
    }
    if history_count >= HISTORY_COUNT_SUGGEST_CONTINUE_AS_NEW {
        reasons.push(SuggestContinueAsNewReason::TooManyHistoryEvents);
    }
    reasons
}

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
    fn event_size_includes_the_batch_framing() {
        // Temporal's dev server reports 338 bytes for a 255-byte and a 78-byte event: each
        // event costs a tag byte and its length prefix on top of its own bytes.
        let small = HistoryEvent {
            event_id: 2,
            ..Default::default()
        };
        assert_eq!(
            history_event_size(&small),
            1 + 1 + small.encoded_len() as i64
        );
        let big = HistoryEvent {
            event_id: 1,
            links: vec![Default::default(); 200],
            ..Default::default()
        };
        let len = big.encoded_len();
        assert!(len >= 128, "needs a two-byte length prefix");
        assert_eq!(history_event_size(&big), 1 + 2 + len as i64);
    }

    #[test]
    fn continue_as_new_is_suggested_at_temporals_thresholds() {
        assert!(continue_as_new_suggestions(4 * 1024 * 1024 - 1, 4095).is_empty());
        assert_eq!(
            continue_as_new_suggestions(4 * 1024 * 1024, 10),
            [SuggestContinueAsNewReason::HistorySizeTooLarge]
        );
        assert_eq!(
            continue_as_new_suggestions(100, 4096),
            [SuggestContinueAsNewReason::TooManyHistoryEvents]
        );
        assert_eq!(continue_as_new_suggestions(i64::MAX, i64::MAX).len(), 2);
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
