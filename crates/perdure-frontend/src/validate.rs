//! Request limits and required fields, checked before anything reaches history. The limits are
//! Temporal's defaults (`perdure_core::limits`); the messages are the ones its frontend uses,
//! because SDKs and the CLI show them verbatim. Nothing here changes state.

use perdure_core::limits::{
    encoded_size, BLOB_SIZE_LIMIT_ERROR, BLOB_SIZE_LIMIT_WARN, ERR_BLOB_SIZE_EXCEEDS_LIMIT,
    ERR_MEMO_SIZE_EXCEEDS_LIMIT, FAILURE_REASON_FAILURE_EXCEEDS_LIMIT, MAX_ID_LENGTH,
    MEMO_SIZE_LIMIT_ERROR,
};
use temporalio_protos::temporal::api::common::v1::{Memo, Payloads, WorkflowExecution};
use temporalio_protos::temporal::api::enums::v1::QueryResultType;
use temporalio_protos::temporal::api::failure::v1::{
    failure::FailureInfo, ApplicationFailureInfo, Failure, ServerFailureInfo,
};
use temporalio_protos::temporal::api::query::v1::WorkflowQueryResult;
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use tonic::Status;

use crate::errors::invalid;

/// Task queue names with this prefix belong to the server.
const RESERVED_TASK_QUEUE_PREFIX: &str = "/_sys/";
/// How deep a failure's cause chain survives truncation.
const MAX_FAILURE_DEPTH: usize = 20;

pub fn workflow_id(id: &str) -> Result<(), Status> {
    if id.is_empty() {
        return Err(invalid("WorkflowId is not set on request."));
    }
    if id.len() > MAX_ID_LENGTH {
        return Err(invalid("WorkflowId length exceeds limit."));
    }
    Ok(())
}

/// A `WorkflowExecution` naming an existing run: a workflow id, and a run id that is either
/// empty (the current run) or a UUID.
pub fn execution(e: Option<&WorkflowExecution>) -> Result<&WorkflowExecution, Status> {
    let e = e.ok_or_else(|| invalid("Execution is not set on request."))?;
    workflow_id(&e.workflow_id)?;
    if !e.run_id.is_empty() && uuid::Uuid::parse_str(&e.run_id).is_err() {
        return Err(invalid("Invalid RunId."));
    }
    Ok(e)
}

pub fn workflow_type(name: &str) -> Result<(), Status> {
    if name.is_empty() {
        return Err(invalid("WorkflowType is not set on request."));
    }
    if name.len() > MAX_ID_LENGTH {
        return Err(invalid("WorkflowType length exceeds limit."));
    }
    Ok(())
}

pub fn task_queue(tq: Option<&TaskQueue>) -> Result<&str, Status> {
    let tq = tq.ok_or_else(|| invalid("taskQueue is not set"))?;
    let name = tq.name.as_str();
    if name.is_empty() {
        return Err(invalid("missing task queue name"));
    }
    if name.len() > MAX_ID_LENGTH {
        return Err(invalid("taskQueue length exceeds limit"));
    }
    if name.starts_with(RESERVED_TASK_QUEUE_PREFIX) {
        return Err(invalid(format!(
            "task queue name cannot start with reserved prefix {RESERVED_TASK_QUEUE_PREFIX}"
        )));
    }
    Ok(name)
}

pub fn signal_name(name: &str) -> Result<(), Status> {
    if name.is_empty() {
        return Err(invalid("SignalName is not set on request."));
    }
    if name.len() > MAX_ID_LENGTH {
        return Err(invalid("SignalName length exceeds limit."));
    }
    Ok(())
}

pub fn request_id(id: &str) -> Result<(), Status> {
    if id.len() > MAX_ID_LENGTH {
        return Err(invalid("RequestId length exceeds limit."));
    }
    Ok(())
}

pub fn identity(id: &str) -> Result<(), Status> {
    if id.len() > MAX_ID_LENGTH {
        return Err(invalid("Identity length exceeds limit."));
    }
    Ok(())
}

/// True when a payload set fits `limit.blobSize.error`.
pub fn blob_fits(p: Option<&Payloads>) -> bool {
    encoded_size(p) <= BLOB_SIZE_LIMIT_ERROR
}

pub fn blob(p: Option<&Payloads>) -> Result<(), Status> {
    if !blob_fits(p) {
        return Err(invalid(ERR_BLOB_SIZE_EXCEEDS_LIMIT));
    }
    Ok(())
}

/// A query answer over the blob limit becomes a failed answer, as Temporal turns it into one.
pub fn fit_query_answer(result: &mut WorkflowQueryResult) {
    if !blob_fits(result.answer.as_ref()) {
        *result = WorkflowQueryResult {
            result_type: QueryResultType::Failed as i32,
            error_message: ERR_BLOB_SIZE_EXCEEDS_LIMIT.to_string(),
            ..Default::default()
        };
    }
}

pub fn memo(m: Option<&Memo>) -> Result<(), Status> {
    if encoded_size(m) > MEMO_SIZE_LIMIT_ERROR {
        return Err(invalid(ERR_MEMO_SIZE_EXCEEDS_LIMIT));
    }
    Ok(())
}

/// An activity failure reported by a worker must be an application failure.
pub fn activity_failure(f: Option<&Failure>) -> Result<(), Status> {
    if let Some(f) = f {
        if !matches!(f.failure_info, Some(FailureInfo::ApplicationFailureInfo(_))) {
            return Err(invalid("Failure must have ApplicationFailureInfo."));
        }
    }
    Ok(())
}

/// A non-retryable server failure with `message`, as Temporal writes in place of oversized
/// results, details and failures.
pub fn server_failure(message: &str) -> Failure {
    Failure {
        message: message.to_string(),
        failure_info: Some(FailureInfo::ServerFailureInfo(ServerFailureInfo {
            non_retryable: true,
        })),
        ..Default::default()
    }
}

/// Temporal does not reject an oversized failure: it records "Failure exceeds size limit."
/// instead, with the original (cut down to the warning size) as its cause. `None` when the
/// failure fits.
pub fn replace_oversized_failure(f: Option<&Failure>) -> Option<Failure> {
    let f = f?;
    if encoded_size(Some(f)) <= BLOB_SIZE_LIMIT_ERROR {
        return None;
    }
    let mut replacement = server_failure(FAILURE_REASON_FAILURE_EXCEEDS_LIMIT);
    replacement.cause = Some(Box::new(truncate_failure(f, BLOB_SIZE_LIMIT_WARN)));
    Some(replacement)
}

/// Keeps the parts of a failure that matter most within roughly `budget` bytes: the kind and
/// non-retryable flag, then source, message and stack trace, then the cause chain. Payloads
/// (details) are dropped.
pub fn truncate_failure(f: &Failure, budget: usize) -> Failure {
    truncate_with_depth(f, budget, MAX_FAILURE_DEPTH)
}

fn truncate_with_depth(f: &Failure, mut budget: usize, depth: usize) -> Failure {
    // Each kept field costs a few bytes of framing besides its text.
    const FIELD_OVERHEAD: usize = 4;
    let mut take = |s: &str| -> String {
        let kept = utf8_prefix(s, budget).to_string();
        budget = budget.saturating_sub(kept.len());
        if !kept.is_empty() {
            budget = budget.saturating_sub(FIELD_OVERHEAD);
        }
        kept
    };
    let mut out = Failure::default();
    match &f.failure_info {
        Some(FailureInfo::ApplicationFailureInfo(a)) => {
            let r#type = take(&a.r#type);
            out.failure_info = Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type,
                    non_retryable: a.non_retryable,
                    ..Default::default()
                },
            ));
        }
        Some(FailureInfo::ServerFailureInfo(s)) => {
            out.failure_info = Some(FailureInfo::ServerFailureInfo(ServerFailureInfo {
                non_retryable: s.non_retryable,
            }));
        }
        _ => {}
    }
    out.source = take(&f.source);
    out.message = take(&f.message);
    out.stack_trace = take(&f.stack_trace);
    if let Some(cause) = &f.cause {
        if budget > FIELD_OVERHEAD && depth > 0 {
            out.cause = Some(Box::new(truncate_with_depth(
                cause,
                budget - FIELD_OVERHEAD,
                depth - 1,
            )));
        }
    }
    out
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn utf8_prefix(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub fn duration(d: Option<&prost_wkt_types::Duration>, what: &str) -> Result<(), Status> {
    if let Some(d) = d {
        if d.seconds < 0 || d.nanos < 0 {
            return Err(invalid(format!("An invalid {what} is set on request.")));
        }
    }
    Ok(())
}

pub fn task_token(token: &[u8]) -> Result<perdure_core::TaskToken, Status> {
    if token.is_empty() {
        return Err(invalid("Task token not set on request."));
    }
    perdure_core::TaskToken::decode(token).map_err(|_| invalid("Error deserializing task token."))
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_protos::temporal::api::common::v1::Payload;

    fn payloads(bytes: usize) -> Payloads {
        Payloads {
            payloads: vec![Payload {
                data: vec![b'x'; bytes],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn workflow_id_limits() {
        assert!(workflow_id("").is_err());
        assert!(workflow_id(&"x".repeat(MAX_ID_LENGTH)).is_ok());
        let e = workflow_id(&"x".repeat(MAX_ID_LENGTH + 1)).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(e.message(), "WorkflowId length exceeds limit.");
    }

    #[test]
    fn execution_needs_a_workflow_id_and_a_uuid_run_id() {
        assert_eq!(
            execution(None).unwrap_err().message(),
            "Execution is not set on request."
        );
        let mut e = WorkflowExecution {
            workflow_id: "wf".into(),
            run_id: "not-a-uuid".into(),
        };
        assert_eq!(execution(Some(&e)).unwrap_err().message(), "Invalid RunId.");
        e.run_id = uuid::Uuid::new_v4().to_string();
        assert!(execution(Some(&e)).is_ok());
        e.run_id.clear();
        assert!(execution(Some(&e)).is_ok());
    }

    #[test]
    fn task_queue_messages_are_temporals() {
        let msg = |tq: Option<&TaskQueue>| task_queue(tq).unwrap_err().message().to_string();
        assert_eq!(msg(None), "taskQueue is not set");
        let mut tq = TaskQueue::default();
        assert_eq!(msg(Some(&tq)), "missing task queue name");
        tq.name = "q".repeat(MAX_ID_LENGTH + 1);
        assert_eq!(msg(Some(&tq)), "taskQueue length exceeds limit");
        tq.name = "/_sys/q".into();
        assert_eq!(
            msg(Some(&tq)),
            "task queue name cannot start with reserved prefix /_sys/"
        );
        tq.name = "q".into();
        assert_eq!(task_queue(Some(&tq)).unwrap(), "q");
    }

    #[test]
    fn blob_limit_is_on_the_encoded_payloads() {
        assert!(blob(None).is_ok());
        assert!(blob(Some(&payloads(BLOB_SIZE_LIMIT_ERROR - 16))).is_ok());
        let e = blob(Some(&payloads(BLOB_SIZE_LIMIT_ERROR))).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(e.message(), "Blob data size exceeds limit.");
    }

    #[test]
    fn memo_limit() {
        let mut m = Memo::default();
        m.fields.insert(
            "k".into(),
            Payload {
                data: vec![0; MEMO_SIZE_LIMIT_ERROR],
                ..Default::default()
            },
        );
        assert_eq!(
            memo(Some(&m)).unwrap_err().message(),
            "Memo size exceeds limit."
        );
        assert!(memo(None).is_ok());
    }

    #[test]
    fn activity_failure_must_be_an_application_failure() {
        assert!(activity_failure(None).is_ok());
        let mut f = Failure::default();
        assert_eq!(
            activity_failure(Some(&f)).unwrap_err().message(),
            "Failure must have ApplicationFailureInfo."
        );
        f.failure_info = Some(FailureInfo::ApplicationFailureInfo(Default::default()));
        assert!(activity_failure(Some(&f)).is_ok());
    }

    #[test]
    fn oversized_failure_is_replaced_and_its_cause_truncated() {
        let small = Failure {
            message: "boom".into(),
            ..Default::default()
        };
        assert_eq!(replace_oversized_failure(Some(&small)), None);
        assert_eq!(replace_oversized_failure(None), None);

        let big = Failure {
            message: "é".repeat(BLOB_SIZE_LIMIT_ERROR),
            stack_trace: "at x".into(),
            failure_info: Some(FailureInfo::ApplicationFailureInfo(
                ApplicationFailureInfo {
                    r#type: "Boom".into(),
                    non_retryable: true,
                    details: Some(payloads(10)),
                    ..Default::default()
                },
            )),
            cause: Some(Box::new(small.clone())),
            ..Default::default()
        };
        let r = replace_oversized_failure(Some(&big)).unwrap();
        assert_eq!(r.message, "Failure exceeds size limit.");
        assert!(matches!(
            r.failure_info,
            Some(FailureInfo::ServerFailureInfo(ServerFailureInfo {
                non_retryable: true
            }))
        ));
        let cause = r.cause.as_deref().unwrap();
        assert!(prost::Message::encoded_len(cause) <= BLOB_SIZE_LIMIT_WARN + 64);
        assert!(cause.message.starts_with('é'), "cut on a char boundary");
        match &cause.failure_info {
            Some(FailureInfo::ApplicationFailureInfo(a)) => {
                assert_eq!(a.r#type, "Boom");
                assert!(a.non_retryable);
                assert!(a.details.is_none());
            }
            other => panic!("{other:?}"),
        }
        // The message used the whole budget: nothing left for the stack or the cause.
        assert!(cause.stack_trace.is_empty() && cause.cause.is_none());
    }

    #[test]
    fn truncation_keeps_small_failures_whole_except_details() {
        let f = Failure {
            message: "outer".into(),
            source: "src".into(),
            cause: Some(Box::new(Failure {
                message: "inner".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(truncate_failure(&f, 1000), f);
    }

    #[test]
    fn garbage_token_is_invalid_argument() {
        let e = task_token(b"\xff\xff\xff").unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            task_token(b"").unwrap_err().code(),
            tonic::Code::InvalidArgument
        );
    }
}
