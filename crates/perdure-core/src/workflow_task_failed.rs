//! RespondWorkflowTaskFailed (and the shared failure path used by bad commands, timeouts and
//! termination). Attempt 1 writes WorkflowTaskFailed; later attempts are transient and write
//! nothing. The next attempt is scheduled right away (transient unless events are buffered).

use temporalio_protos::temporal::api::{
    enums::v1::{EventType, WorkflowTaskFailedCause},
    failure::v1::Failure,
    history::v1::WorkflowTaskFailedEventAttributes,
};

use crate::errors::CoreError;
use crate::state::MutableState;
use crate::tasks::Mutation;
use crate::time::Time;
use crate::token::TaskToken;

impl MutableState {
    /// `cause` is a `WorkflowTaskFailedCause` as i32 (unknown values are kept as sent).
    pub fn fail_workflow_task(
        &mut self,
        token: &TaskToken,
        cause: i32,
        failure: Option<Failure>,
        identity: &str,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        self.check_workflow_token(token)?;
        let cause = WorkflowTaskFailedCause::try_from(cause)
            .unwrap_or(WorkflowTaskFailedCause::Unspecified);
        let mut m = Mutation::default();
        self.fail_started_workflow_task(&mut m, cause, failure, identity, now);
        Ok(m)
    }

    /// Fails the started workflow task and schedules the next attempt.
    pub(crate) fn fail_started_workflow_task(
        &mut self,
        m: &mut Mutation,
        cause: WorkflowTaskFailedCause,
        failure: Option<Failure>,
        identity: &str,
        now: Time,
    ) {
        let Some(wft) = self.workflow_task.take() else {
            return;
        };
        if !wft.is_transient() {
            let event = self.new_event(
                EventType::WorkflowTaskFailed,
                now,
                WorkflowTaskFailedEventAttributes {
                    scheduled_event_id: wft.scheduled_event_id,
                    started_event_id: wft.started_event_id,
                    cause: cause as i32,
                    failure,
                    identity: identity.to_string(),
                    ..Default::default()
                },
            );
            self.write(m, event);
        }
        if self.is_running() {
            self.schedule_workflow_task(m, now, wft.attempt + 1);
        }
    }

    /// Drops a started task without scheduling another (the run is about to close).
    pub(crate) fn force_close_started_workflow_task(&mut self, m: &mut Mutation, now: Time) {
        let Some(wft) = self.workflow_task.take() else {
            return;
        };
        if wft.is_started() && !wft.is_transient() {
            let event = self.new_event(
                EventType::WorkflowTaskFailed,
                now,
                WorkflowTaskFailedEventAttributes {
                    scheduled_event_id: wft.scheduled_event_id,
                    started_event_id: wft.started_event_id,
                    cause: WorkflowTaskFailedCause::ForceCloseCommand as i32,
                    identity: HISTORY_SERVICE_IDENTITY.to_string(),
                    ..Default::default()
                },
            );
            self.write(m, event);
        }
    }
}

/// Identity Temporal uses for events the server writes on its own behalf.
pub const HISTORY_SERVICE_IDENTITY: &str = "history-service";
