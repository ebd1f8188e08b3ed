//! TerminateWorkflowExecution: force-closes a running run. A started workflow task is failed
//! with FORCE_CLOSE_COMMAND first, buffered events are flushed, then Terminated is written.

use temporalio_protos::temporal::api::{
    common::v1::Payloads,
    enums::v1::{EventType, WorkflowExecutionStatus},
    history::v1::WorkflowExecutionTerminatedEventAttributes,
};

use crate::errors::CoreError;
use crate::state::MutableState;
use crate::tasks::Mutation;
use crate::time::Time;

impl MutableState {
    pub fn terminate(
        &mut self,
        reason: &str,
        details: Option<Payloads>,
        identity: &str,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        if !self.is_running() {
            return Err(CoreError::WorkflowCompleted);
        }
        let mut m = Mutation::default();
        if self.has_started_workflow_task() {
            self.force_close_started_workflow_task(&mut m, now);
        }
        let event = self.new_event(
            EventType::WorkflowExecutionTerminated,
            now,
            WorkflowExecutionTerminatedEventAttributes {
                reason: reason.to_string(),
                details,
                identity: identity.to_string(),
            },
        );
        self.close(&mut m, WorkflowExecutionStatus::Terminated, event, now);
        Ok(m)
    }
}
