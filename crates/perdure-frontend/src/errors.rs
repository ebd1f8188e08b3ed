//! Turning internal errors into the gRPC statuses Temporal's server returns, with the
//! `errordetails` message SDKs decode from `grpc-status-details-bin`.
//!
//! This module owns the wire shape of errors; it must never decide semantics (whether something
//! *is* not found is the core's call).

use perdure_core::CoreError;
use perdure_history::HistoryError;
use perdure_storage::StorageError;
use prost::Message;
use temporalio_protos::google::rpc::Status as RpcStatus;
use temporalio_protos::temporal::api::enums::v1::{
    NamespaceState, ResourceExhaustedCause, ResourceExhaustedScope,
};
use temporalio_protos::temporal::api::errordetails::v1::{
    NamespaceAlreadyExistsFailure, NamespaceInvalidStateFailure, NamespaceNotFoundFailure,
    NotFoundFailure, QueryFailedFailure, ResourceExhaustedFailure,
    WorkflowExecutionAlreadyStartedFailure, WorkflowNotReadyFailure,
};
use temporalio_protos::temporal::api::failure::v1::Failure;
use tonic::{Code, Status};

/// Builds a status whose details carry one `errordetails` message, as Temporal's server does.
pub fn with_detail<M: Message + prost::Name>(
    code: Code,
    message: impl Into<String>,
    detail: M,
) -> Status {
    let message = message.into();
    let rpc = RpcStatus {
        code: code as i32,
        message: message.clone(),
        details: vec![prost_wkt_types::Any {
            type_url: format!("type.googleapis.com/{}", M::full_name()),
            value: detail.encode_to_vec(),
        }],
    };
    Status::with_details(code, message, rpc.encode_to_vec().into())
}

pub fn not_found(message: impl Into<String>) -> Status {
    with_detail(Code::NotFound, message, NotFoundFailure::default())
}

pub fn namespace_not_found(namespace: &str) -> Status {
    with_detail(
        Code::NotFound,
        format!("Namespace {namespace} is not found."),
        NamespaceNotFoundFailure {
            namespace: namespace.to_string(),
        },
    )
}

/// A call the namespace's state does not allow (a deprecated namespace takes no new runs; a
/// deleted one answers only DescribeNamespace), in Temporal's words: states by their short
/// names ("Deprecated"), the allowed ones joined by " or ".
pub fn namespace_invalid_state(
    namespace: &str,
    state: NamespaceState,
    allowed: &[NamespaceState],
) -> Status {
    let short = |s: NamespaceState| {
        let name = s.as_str_name().trim_start_matches("NAMESPACE_STATE_");
        let mut chars = name.chars();
        match chars.next() {
            Some(first) => first.to_string() + &chars.as_str().to_lowercase(),
            None => String::new(),
        }
    };
    let allowed_names: Vec<String> = allowed.iter().map(|s| short(*s)).collect();
    with_detail(
        Code::FailedPrecondition,
        format!(
            "Namespace has invalid state: {}. Must be {}.",
            short(state),
            allowed_names.join(" or ")
        ),
        NamespaceInvalidStateFailure {
            namespace: namespace.to_string(),
            state: state as i32,
            allowed_states: allowed.iter().map(|s| *s as i32).collect(),
        },
    )
}

pub fn namespace_already_exists() -> Status {
    with_detail(
        Code::AlreadyExists,
        "Namespace already exists.",
        NamespaceAlreadyExistsFailure::default(),
    )
}

pub fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message)
}

pub fn core(e: CoreError) -> Status {
    match e {
        CoreError::NotFound(m) => not_found(m),
        CoreError::WorkflowCompleted => not_found(e.to_string()),
        CoreError::InvalidArgument(m) => invalid(m),
        CoreError::FailedPrecondition(m) => Status::failed_precondition(m),
        CoreError::UnhandledCommand => invalid("UnhandledCommand"),
        CoreError::WorkflowNotReady(m) => with_detail(
            Code::FailedPrecondition,
            m,
            WorkflowNotReadyFailure::default(),
        ),
        // Only polls see this, and they drop the task; a client seeing it may retry.
        CoreError::TaskAlreadyStarted => Status::aborted(e.to_string()),
        CoreError::AlreadyStarted {
            ref run_id,
            ref request_id,
            ref first_execution_run_id,
            ..
        } => with_detail(
            Code::AlreadyExists,
            e.to_string(),
            WorkflowExecutionAlreadyStartedFailure {
                start_request_id: request_id.clone(),
                run_id: run_id.clone(),
                first_execution_run_id: first_execution_run_id.clone(),
            },
        ),
    }
}

/// A worker's query handler failed: InvalidArgument with QueryFailedFailure, which the SDKs
/// turn into their query-failed error.
pub fn query_failed(message: impl Into<String>, failure: Option<Failure>) -> Status {
    with_detail(
        Code::InvalidArgument,
        message,
        QueryFailedFailure { failure },
    )
}

/// A run already has a query waiting for its next workflow task (Temporal buffers one).
pub fn query_buffer_full() -> Status {
    with_detail(
        Code::ResourceExhausted,
        "consistent query buffer is full, this may be caused by too many queries and workflow not able to process query fast enough",
        ResourceExhaustedFailure {
            cause: ResourceExhaustedCause::BusyWorkflow as i32,
            scope: ResourceExhaustedScope::Namespace as i32,
        },
    )
}

pub fn storage(e: StorageError) -> Status {
    match e {
        // Corrupt data is never served; DATA_LOSS says exactly what happened.
        StorageError::Corruption { .. } => Status::data_loss(e.to_string()),
        other => Status::internal(other.to_string()),
    }
}

/// Metadata key on an Unavailable that was refused before anything was proposed (this node
/// does not lead the shard): forwarding may safely send the same call to the new leader.
pub const NOT_LEADER_HEADER: &str = "x-perdure-not-leader";

fn not_leader(message: String) -> Status {
    let mut s = Status::unavailable(message);
    s.metadata_mut().insert(
        NOT_LEADER_HEADER,
        tonic::metadata::MetadataValue::from_static("1"),
    );
    s
}

/// True for a status made by [`not_leader`].
pub fn is_not_leader(s: &Status) -> bool {
    s.code() == tonic::Code::Unavailable && s.metadata().get(NOT_LEADER_HEADER).is_some()
}

pub fn history(e: HistoryError) -> Status {
    match e {
        HistoryError::Core(c) => core(c),
        HistoryError::Storage(s) => storage(s),
        HistoryError::Decode { .. } | HistoryError::Malformed { .. } => {
            Status::data_loss(e.to_string())
        }
        // Refused before anything was proposed: safe to send again to the new leader.
        HistoryError::NotLeader { .. } => not_leader(e.to_string()),
        HistoryError::Propose(ref p)
            if matches!(**p, perdure_raft::ProposeError::NotLeader { .. }) =>
        {
            not_leader(e.to_string())
        }
        HistoryError::Propose(_) | HistoryError::Conflict => Status::unavailable(e.to_string()),
        HistoryError::ExecutionNotFound(_) => not_found(e.to_string()),
        HistoryError::BadPageToken => invalid("Invalid NextPageToken."),
        HistoryError::QueryBufferFull => query_buffer_full(),
        HistoryError::TooManyUpdates => with_detail(
            Code::ResourceExhausted,
            format!(
                "limit on number of concurrent in-flight updates has been reached ({})",
                perdure_history::MAX_IN_FLIGHT_UPDATES
            ),
            ResourceExhaustedFailure {
                cause: ResourceExhaustedCause::ConcurrentLimit as i32,
                scope: ResourceExhaustedScope::Namespace as i32,
            },
        ),
        HistoryError::Remote(_) => Status::unavailable(e.to_string()),
        HistoryError::Schedule(r) => schedule(r),
        HistoryError::Batch(r) => batch(r),
    }
}

/// A refused batch operation, with the status Temporal answers for its batch workflow.
fn batch(r: perdure_history::BatchRefusal) -> Status {
    use perdure_history::BatchRefusal as R;
    match r {
        R::NotFound(_) | R::Closed => not_found(r.to_string()),
        R::Running { ref run_id, .. } | R::Finished { ref run_id, .. } => with_detail(
            Code::AlreadyExists,
            r.to_string(),
            WorkflowExecutionAlreadyStartedFailure {
                start_request_id: String::new(),
                run_id: run_id.clone(),
                first_execution_run_id: String::new(),
            },
        ),
        R::Stale => Status::aborted(r.to_string()),
    }
}

/// A refused schedule operation, with Temporal's status and message.
fn schedule(r: perdure_history::ScheduleRefusal) -> Status {
    use perdure_history::ScheduleRefusal as R;
    match r {
        R::NotFound(_) => not_found(r.to_string()),
        R::AlreadyRegistered(_) => with_detail(
            Code::AlreadyExists,
            r.to_string(),
            WorkflowExecutionAlreadyStartedFailure::default(),
        ),
        R::InvalidSpec(m) => invalid(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_started_carries_details() {
        let s = core(CoreError::AlreadyStarted {
            workflow_id: "w".into(),
            run_id: "r".into(),
            request_id: "q".into(),
            first_execution_run_id: "f".into(),
        });
        assert_eq!(s.code(), Code::AlreadyExists);
        let rpc = RpcStatus::decode(s.details()).unwrap();
        assert_eq!(rpc.details.len(), 1);
        assert_eq!(
            rpc.details[0].type_url,
            "type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure"
        );
        let d = WorkflowExecutionAlreadyStartedFailure::decode(rpc.details[0].value.as_slice())
            .unwrap();
        assert_eq!(d.run_id, "r");
        assert_eq!(d.start_request_id, "q");
        assert_eq!(d.first_execution_run_id, "f");
    }

    #[test]
    fn unhandled_command_message_is_exact() {
        let s = core(CoreError::UnhandledCommand);
        assert_eq!(s.code(), Code::InvalidArgument);
        assert_eq!(s.message(), "UnhandledCommand");
    }
}
