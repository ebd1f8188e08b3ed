//! CreateSchedule: Temporal's validation (schedule id as a workflow id, request id, the start
//! action: workflow id with a timestamp appended, type, task queue, timeouts, no cron, no id
//! reuse policy but ALLOW_DUPLICATE), then history stores the schedule on the shard of its
//! scheduler workflow id.

use temporalio_protos::temporal::api::enums::v1::WorkflowIdReusePolicy;
use temporalio_protos::temporal::api::schedule::v1::schedule_action;
use temporalio_protos::temporal::api::workflowservice::v1::{
    CreateScheduleRequest, CreateScheduleResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

/// What Temporal appends to an action's workflow id to validate its length
/// (AppendedTimestampForValidation).
const APPENDED_TIMESTAMP_FOR_VALIDATION: &str = "-2009-11-10T23:00:00Z";

impl Frontend {
    pub(crate) async fn create_schedule(
        &self,
        req: CreateScheduleRequest,
    ) -> Result<CreateScheduleResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        if req.schedule_id.is_empty() {
            return Err(errors::invalid("WorkflowId is not set on request."));
        }
        workflow_id(&perdure_schedule::scheduler::scheduler_workflow_id(
            &req.schedule_id,
        ))?;
        if req.request_id.is_empty() {
            return Err(errors::invalid("RequestId is not set on request."));
        }
        validate::request_id(&req.request_id)?;
        validate::identity(&req.identity)?;
        validate::memo(req.memo.as_ref())?;
        validate_spec(req.schedule.as_ref())?;
        validate_action(req.schedule.as_ref())?;
        let token = self
            .history
            .create_schedule(ns.id(), crate::retention::of(&ns), &req)
            .await
            .map_err(errors::history)?;
        Ok(CreateScheduleResponse {
            conflict_token: token.to_be_bytes().to_vec(),
        })
    }
}

/// Temporal's validator.ValidateWorkflowID, which schedules use (its message differs from
/// StartWorkflowExecution's).
fn workflow_id(id: &str) -> Result<(), Status> {
    const MAX: usize = 1000;
    if id.is_empty() {
        return Err(errors::invalid("WorkflowId is not set on request."));
    }
    if id.len() > MAX {
        return Err(errors::invalid(format!(
            "WorkflowId exceeds maximum allowed length ({}/{MAX})",
            id.len()
        )));
    }
    Ok(())
}

/// Temporal's canonicalizeScheduleSpec, done before anything is read: a spec that does not
/// compile is InvalidArgument whether or not the schedule exists.
pub(crate) fn validate_spec(
    schedule: Option<&temporalio_protos::temporal::api::schedule::v1::Schedule>,
) -> Result<(), Status> {
    let spec = schedule.and_then(|s| s.spec.clone()).unwrap_or_default();
    perdure_schedule::CompiledSpec::compile(&spec)
        .map(|_| ())
        .map_err(|e| errors::invalid(e.to_string()))
}

/// Temporal's validateStartWorkflowArgsForSchedule.
pub(crate) fn validate_action(
    schedule: Option<&temporalio_protos::temporal::api::schedule::v1::Schedule>,
) -> Result<(), Status> {
    let Some(schedule_action::Action::StartWorkflow(w)) = schedule
        .and_then(|s| s.action.as_ref())
        .and_then(|a| a.action.as_ref())
    else {
        return Ok(());
    };
    workflow_id(&format!(
        "{}{APPENDED_TIMESTAMP_FOR_VALIDATION}",
        w.workflow_id
    ))?;
    validate::workflow_type(w.workflow_type.as_ref().map_or("", |t| t.name.as_str()))?;
    validate::task_queue(w.task_queue.as_ref())?;
    validate::duration(
        w.workflow_execution_timeout.as_ref(),
        "WorkflowExecutionTimeoutSeconds",
    )?;
    validate::duration(w.workflow_run_timeout.as_ref(), "WorkflowRunTimeoutSeconds")?;
    validate::duration(
        w.workflow_task_timeout.as_ref(),
        "WorkflowTaskTimeoutSeconds",
    )?;
    validate::blob(w.input.as_ref())?;
    validate::memo(w.memo.as_ref())?;
    if !w.cron_schedule.is_empty() {
        return Err(errors::invalid(
            "Scheduled workflow must not contain CronSchedule",
        ));
    }
    if w.workflow_id_reuse_policy != WorkflowIdReusePolicy::Unspecified as i32
        && w.workflow_id_reuse_policy != WorkflowIdReusePolicy::AllowDuplicate as i32
    {
        return Err(errors::invalid(
            "Scheduled workflow must not contain WorkflowIDReusePolicy",
        ));
    }
    Ok(())
}
