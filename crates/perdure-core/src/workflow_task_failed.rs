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
        if let Some(attempt) = self.record_workflow_task_failed(m, cause, failure, identity, now) {
            if self.is_running() {
                let next = self.next_attempt_after_failure(attempt);
                self.schedule_workflow_task(m, now, next);
            }
        }
    }

    /// A task that failed on a sticky queue is retried once, as a normal task on the normal
    /// queue, before attempts start counting: the sticky worker's cache may be what failed.
    pub(crate) fn next_attempt_after_failure(&mut self, failed_attempt: i32) -> i32 {
        if self.clear_sticky() {
            1
        } else {
            failed_attempt + 1
        }
    }

    /// Takes the started task and writes WorkflowTaskFailed for it (attempt 1 only), without
    /// scheduling another. Returns the failed attempt, `None` when no task was pending.
    pub(crate) fn record_workflow_task_failed(
        &mut self,
        m: &mut Mutation,
        cause: WorkflowTaskFailedCause,
        failure: Option<Failure>,
        identity: &str,
        now: Time,
    ) -> Option<i32> {
        // A failed speculative task is written, with its failure, like any other.
        self.materialize_speculative(m);
        let wft = self.workflow_task.take()?;
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
        Some(wft.attempt)
    }

    /// Drops a started task without scheduling another (the run is about to close).
    pub(crate) fn force_close_started_workflow_task(&mut self, m: &mut Mutation, now: Time) {
        let Some(wft) = self.workflow_task.take() else {
            return;
        };
        if wft.is_started() && !wft.is_virtual() {
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
