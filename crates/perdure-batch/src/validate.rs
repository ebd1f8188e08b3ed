//! The checks StartBatchOperation makes before a job exists, in the order and words of
//! Temporal's frontend (`workflow_handler.go` StartBatchOperation) and batcher
//! (`batcher/workflow.go` ValidateBatchOperation).
//!
//! Owns request validation only; never reads state (the concurrency limit and the query's
//! meaning are the frontend's to check).

use temporalio_protos::temporal::api::batch::v1::{
    batch_operation_reset_activities, batch_operation_unpause_activities,
    batch_operation_update_activity_options,
};
use temporalio_protos::temporal::api::enums::v1::{ExecutionType, ResetType};
use temporalio_protos::temporal::api::workflowservice::v1::start_batch_operation_request::Operation;
use temporalio_protos::temporal::api::workflowservice::v1::StartBatchOperationRequest;

/// Longest reason or identity a job keeps (Temporal bounds neither beyond the blob size; a
/// job record must stay small).
pub const MAX_TEXT_BYTES: usize = 8 * 1024;

/// Largest encoded request a job keeps: Temporal's blob size limit for the batch workflow's
/// input (`limit.blobSize.error`, 2 MiB).
pub const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;

/// Why a request is refused, with the status code Temporal answers it with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    InvalidArgument(String),
    /// A valid request for an operation Perdure does not carry out.
    #[error("{0}")]
    Unimplemented(String),
}

fn invalid(m: impl Into<String>) -> Refusal {
    Refusal::InvalidArgument(m.into())
}

/// The operation kinds a job carries out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Terminate,
    Cancel,
    Signal,
    Delete,
    Reset,
}

/// Go's `%T` of the request's operation, as Temporal's messages print it.
pub fn go_type(op: &Operation) -> &'static str {
    match op {
        Operation::TerminationOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_TerminationOperation"
        }
        Operation::SignalOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_SignalOperation"
        }
        Operation::CancellationOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_CancellationOperation"
        }
        Operation::DeletionOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_DeletionOperation"
        }
        Operation::ResetOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_ResetOperation"
        }
        Operation::UpdateWorkflowOptionsOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_UpdateWorkflowOptionsOperation"
        }
        Operation::UnpauseActivitiesOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_UnpauseActivitiesOperation"
        }
        Operation::ResetActivitiesOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_ResetActivitiesOperation"
        }
        Operation::UpdateActivityOptionsOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_UpdateActivityOptionsOperation"
        }
        Operation::CancelActivitiesOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_CancelActivitiesOperation"
        }
        Operation::TerminateActivitiesOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_TerminateActivitiesOperation"
        }
        Operation::DeleteActivitiesOperation(_) => {
            "*workflowservice.StartBatchOperationRequest_DeleteActivitiesOperation"
        }
    }
}

fn is_activity_op(op: &Operation) -> bool {
    matches!(
        op,
        Operation::TerminateActivitiesOperation(_)
            | Operation::DeleteActivitiesOperation(_)
            | Operation::CancelActivitiesOperation(_)
    )
}

/// Go's `%v` of an ExecutionType (the API's short enum names).
fn execution_type_name(t: i32) -> String {
    match ExecutionType::try_from(t) {
        Ok(ExecutionType::Unspecified) => "Unspecified".into(),
        Ok(ExecutionType::Workflow) => "Workflow".into(),
        Ok(ExecutionType::Activity) => "Activity".into(),
        Ok(ExecutionType::NexusOperation) => "NexusOperation".into(),
        Err(_) => t.to_string(),
    }
}

fn reset_type_name(t: i32) -> String {
    match ResetType::try_from(t) {
        Ok(ResetType::Unspecified) => "Unspecified".into(),
        Ok(ResetType::FirstWorkflowTask) => "FirstWorkflowTask".into(),
        Ok(ResetType::LastWorkflowTask) => "LastWorkflowTask".into(),
        Err(_) => t.to_string(),
    }
}

const EITHER_TYPE_OR_ALL: &str =
    "Either activity type must be set, or match all should be set to true";

/// Every check of StartBatchOperation that needs nothing but the request (namespace
/// existence, the query's syntax and the concurrency limit come after, in the frontend).
/// Returns the kind of operation a job carries out.
pub fn validate_start(req: &StartBatchOperationRequest) -> Result<Kind, Refusal> {
    // The frontend's gate for activity operations: standalone activities are not enabled.
    if let Some(op) = req.operation.as_ref().filter(|op| is_activity_op(op)) {
        return Err(invalid(format!(
            "The operation type {} is not supported for this namespace",
            go_type(op)
        )));
    }
    validate_operation(req)?;
    if req.reason.len() > MAX_TEXT_BYTES {
        return Err(invalid(format!(
            "Reason is too long: {} bytes, at most {MAX_TEXT_BYTES}.",
            req.reason.len()
        )));
    }
    let op = req
        .operation
        .as_ref()
        .expect("checked by validate_operation");
    let identity = identity_of(op);
    if identity.len() > MAX_TEXT_BYTES {
        return Err(invalid(format!(
            "Identity is too long: {} bytes, at most {MAX_TEXT_BYTES}.",
            identity.len()
        )));
    }
    if prost::Message::encoded_len(req) > MAX_REQUEST_BYTES {
        return Err(invalid("Blob data size exceeds limit."));
    }
    match op {
        Operation::TerminationOperation(_) => Ok(Kind::Terminate),
        Operation::CancellationOperation(_) => Ok(Kind::Cancel),
        Operation::SignalOperation(_) => Ok(Kind::Signal),
        Operation::DeletionOperation(_) => Ok(Kind::Delete),
        // Perdure's ResetWorkflowExecution carries out no post-reset operation, so a job
        // that asks for them is refused rather than run without them.
        Operation::ResetOperation(r) if !r.post_reset_operations.is_empty() => Err(
            Refusal::Unimplemented("Post-reset operations are not supported by this server".into()),
        ),
        Operation::ResetOperation(_) => Ok(Kind::Reset),
        other => Err(Refusal::Unimplemented(format!(
            "The operation type {} is not implemented by this server",
            go_type(other)
        ))),
    }
}

/// The identity the operation names (what Describe answers).
pub fn identity_of(op: &Operation) -> &str {
    match op {
        Operation::TerminationOperation(o) => &o.identity,
        Operation::SignalOperation(o) => &o.identity,
        Operation::CancellationOperation(o) => &o.identity,
        Operation::DeletionOperation(o) => &o.identity,
        Operation::ResetOperation(o) => &o.identity,
        Operation::UpdateWorkflowOptionsOperation(o) => &o.identity,
        Operation::UnpauseActivitiesOperation(o) => &o.identity,
        Operation::ResetActivitiesOperation(o) => &o.identity,
        Operation::UpdateActivityOptionsOperation(o) => &o.identity,
        Operation::CancelActivitiesOperation(o) => &o.identity,
        Operation::TerminateActivitiesOperation(o) => &o.identity,
        Operation::DeleteActivitiesOperation(_) => "",
    }
}

/// Temporal's ValidateBatchOperation, check for check.
fn validate_operation(req: &StartBatchOperationRequest) -> Result<(), Refusal> {
    #[allow(deprecated)]
    let executions = &req.executions;
    let selectors = usize::from(!req.visibility_query.is_empty())
        + usize::from(!executions.is_empty())
        + usize::from(!req.target_executions.is_empty());
    if req.operation.is_none()
        || req.reason.is_empty()
        || req.namespace.is_empty()
        || selectors == 0
    {
        return Err(invalid("must provide required parameters: BatchType,Reason,Namespace, AND one of (Query OR Executions OR TargetExecutions)"));
    }
    if req.job_id.is_empty() {
        return Err(invalid("JobId is not set on request."));
    }
    if selectors > 1 {
        return Err(invalid(
            "visibility query, executions, and target executions are mutually exclusive",
        ));
    }
    let op = req.operation.as_ref().expect("checked above");
    let expected = if is_activity_op(op) {
        ExecutionType::Activity
    } else {
        ExecutionType::Workflow
    };
    for (i, e) in req.target_executions.iter().enumerate() {
        if e.r#type != expected as i32 {
            return Err(invalid(format!(
                "target_executions[{i}] has type {}, but operation {} requires {}",
                execution_type_name(e.r#type),
                go_type(op),
                execution_type_name(expected as i32)
            )));
        }
    }
    match op {
        Operation::SignalOperation(s) if s.signal.is_empty() => {
            Err(invalid("must provide signal name"))
        }
        Operation::UpdateWorkflowOptionsOperation(o) => {
            if o.workflow_execution_options.is_none() {
                Err(invalid("must provide UpdateOptions"))
            } else if o.update_mask.is_none() {
                Err(invalid("must provide UpdateMask"))
            } else {
                Ok(())
            }
        }
        Operation::ResetOperation(r) => match &r.options {
            Some(o) if o.target.is_none() => Err(invalid("batch reset missing target")),
            Some(_) => Ok(()),
            None => {
                #[allow(deprecated)]
                let t = r.reset_type;
                if t == ResetType::Unspecified as i32 || ResetType::try_from(t).is_err() {
                    Err(invalid(format!(
                        "unknown batch reset type {}",
                        reset_type_name(t)
                    )))
                } else {
                    Ok(())
                }
            }
        },
        Operation::UnpauseActivitiesOperation(u) => {
            use batch_operation_unpause_activities::Activity;
            match &u.activity {
                None => Err(invalid("activity filter must be set")),
                Some(Activity::Type(t)) if t.is_empty() => Err(invalid(EITHER_TYPE_OR_ALL)),
                Some(Activity::MatchAll(false)) => Err(invalid(EITHER_TYPE_OR_ALL)),
                Some(_) => Ok(()),
            }
        }
        Operation::ResetActivitiesOperation(r) => {
            use batch_operation_reset_activities::Activity;
            match &r.activity {
                None => Err(invalid("must provide ActivityType or MatchAll")),
                Some(Activity::Type(t)) if t.is_empty() => Err(invalid(EITHER_TYPE_OR_ALL)),
                Some(Activity::MatchAll(false)) => Err(invalid(EITHER_TYPE_OR_ALL)),
                Some(_) => Ok(()),
            }
        }
        Operation::UpdateActivityOptionsOperation(u) => {
            use batch_operation_update_activity_options::Activity;
            if u.activity_options.is_some() && u.restore_original {
                return Err(invalid(
                    "cannot set both activity options and restore original",
                ));
            }
            if u.activity_options.is_none() && !u.restore_original {
                return Err(invalid(
                    "Either activity type must be set, or restore original should be set to true",
                ));
            }
            match &u.activity {
                Some(Activity::Type(t)) if t.is_empty() => Err(invalid(EITHER_TYPE_OR_ALL)),
                Some(Activity::MatchAll(false)) => Err(invalid(EITHER_TYPE_OR_ALL)),
                _ => Ok(()),
            }
        }
        _ => Ok(()),
    }
}
