//! Workflow cancellation: RequestCancelWorkflowExecution records WorkflowExecutionCancelRequested
//! (once: cancellation is idempotent) and schedules a task so the workflow code sees it; the
//! workflow answers with the CancelWorkflowExecution command, which closes the run Canceled.
//!
//! As in Temporal, asking to cancel a run that already closed is a success that changes nothing,
//! and a second request while the first is pending is one too.

use temporalio_protos::temporal::api::{
    command::v1::command::Attributes as Cmd,
    enums::v1::{EventType, WorkflowExecutionStatus, WorkflowTaskFailedCause},
    history::v1::{
        WorkflowExecutionCancelRequestedEventAttributes, WorkflowExecutionCanceledEventAttributes,
    },
};

use crate::errors::CoreError;
use crate::limits::BLOB_SIZE_LIMIT_ERROR;
use crate::state::MutableState;
use crate::tasks::Mutation;
use crate::time::Time;
use crate::workflow_task_completed::{fail, Rejected};

/// One cancellation request as the client sent it.
#[derive(Clone, Debug, Default)]
pub struct CancelRequest {
    pub reason: String,
    pub identity: String,
    /// When set, the run must belong to this chain (Temporal's FirstExecutionRunId check).
    pub first_execution_run_id: String,
    /// The workflow that asks (a parent applying its close policy, or a
    /// RequestCancelExternalWorkflowExecution command) and the event that initiated it.
    pub external: Option<temporalio_protos::temporal::api::common::v1::WorkflowExecution>,
    pub external_initiated_event_id: i64,
}

impl MutableState {
    pub fn request_cancel(
        &mut self,
        req: &CancelRequest,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        if !self.is_running() {
            return Ok(Mutation::default());
        }
        if !req.first_execution_run_id.is_empty()
            && req.first_execution_run_id != self.first_execution_run_id
        {
            return Err(CoreError::NotFound(
                "workflow execution not found".to_string(),
            ));
        }
        if self.cancel_requested {
            return Ok(Mutation::default());
        }
        self.cancel_requested = true;
        let mut m = Mutation::default();
        let event = self.new_event(
            EventType::WorkflowExecutionCancelRequested,
            now,
            WorkflowExecutionCancelRequestedEventAttributes {
                cause: req.reason.clone(),
                identity: req.identity.clone(),
                external_workflow_execution: req.external.clone(),
                external_initiated_event_id: req.external_initiated_event_id,
            },
        );
        self.write_or_buffer(&mut m, event);
        // Unlike a signal, a cancellation does not wait out a first-task backoff (start delay,
        // cron or retry backoff): Temporal schedules the task at once.
        if self.workflow_task.is_none() {
            self.schedule_workflow_task(&mut m, now, 1);
        }
        Ok(m)
    }

    /// The CancelWorkflowExecution command: closes the run Canceled with the command's details.
    pub(crate) fn cancel_workflow_command(
        &mut self,
        m: &mut Mutation,
        attrs: Option<&Cmd>,
        completed_id: i64,
        now: Time,
    ) -> Result<Option<i64>, Rejected> {
        use WorkflowTaskFailedCause as C;
        if !self.buffered_events.is_empty() {
            return fail(C::UnhandledCommand, "");
        }
        let Some(Cmd::CancelWorkflowExecutionCommandAttributes(a)) = attrs else {
            return fail(
                C::BadCancelWorkflowExecutionAttributes,
                "CancelWorkflowExecutionCommandAttributes is not set on CancelWorkflowExecutionCommand.",
            );
        };
        if crate::limits::encoded_size(a.details.as_ref()) > BLOB_SIZE_LIMIT_ERROR {
            return fail(
                C::BadCancelWorkflowExecutionAttributes,
                "CancelWorkflowExecutionCommandAttributes.Details exceeds size limit.",
            );
        }
        let event = self.new_event(
            EventType::WorkflowExecutionCanceled,
            now,
            WorkflowExecutionCanceledEventAttributes {
                workflow_task_completed_event_id: completed_id,
                details: a.details.clone(),
            },
        );
        self.close(m, WorkflowExecutionStatus::Canceled, event, now);
        Ok(Some(self.completion_event_id))
    }
}
