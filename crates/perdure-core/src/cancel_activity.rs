//! Activity cancellation: the RequestCancelActivityTask command and the worker's
//! RespondActivityTaskCanceled.
//!
//! The command writes ActivityTaskCancelRequested. An attempt that has not started (or waits
//! out a retry backoff) is canceled at once: ActivityTaskCanceled follows among the
//! completion's own events (so a close command after it is no UnhandledCommand), and the
//! completion schedules a new workflow task for it unless the run closed, as Temporal does. A started attempt learns of
//! the request from its next heartbeat and answers RespondActivityTaskCanceled, which writes
//! ActivityTaskStarted then ActivityTaskCanceled.

use temporalio_protos::temporal::api::{
    command::v1::command::Attributes as Cmd,
    common::v1::Payloads,
    enums::v1::{EventType, WorkflowTaskFailedCause},
    history::v1::{
        ActivityTaskCancelRequestedEventAttributes, ActivityTaskCanceledEventAttributes,
    },
};

use crate::errors::CoreError;
use crate::state::MutableState;
use crate::tasks::Mutation;
use crate::time::Time;
use crate::token::TaskToken;
use crate::workflow_task_completed::{fail, Rejected};

impl MutableState {
    /// The RequestCancelActivityTask command of a completion whose WorkflowTaskCompleted is
    /// `completed_id`.
    pub(crate) fn request_cancel_activity_command(
        &mut self,
        m: &mut Mutation,
        attrs: Option<&Cmd>,
        completed_id: i64,
        now: Time,
    ) -> Result<Option<i64>, Rejected> {
        use WorkflowTaskFailedCause as C;
        let Some(Cmd::RequestCancelActivityTaskCommandAttributes(a)) = attrs else {
            return fail(
                C::BadRequestCancelActivityAttributes,
                "RequestCancelActivityTaskCommandAttributes is not set on RequestCancelActivityTaskCommand.",
            );
        };
        let Some(ai) = self.activities.get(&a.scheduled_event_id).cloned() else {
            return fail(
                C::BadRequestCancelActivityAttributes,
                format!(
                    "invalid history builder state for action: RequestCancelActivityTask, \
                     ScheduledEventID: {}",
                    a.scheduled_event_id
                ),
            );
        };
        let requested = self.new_event(
            EventType::ActivityTaskCancelRequested,
            now,
            ActivityTaskCancelRequestedEventAttributes {
                scheduled_event_id: ai.scheduled_event_id,
                workflow_task_completed_event_id: completed_id,
            },
        );
        let requested_id = self.write(m, requested);
        if ai.is_started() && !ai.backing_off {
            if let Some(pending) = self.activities.get_mut(&ai.scheduled_event_id) {
                pending.cancel_requested = true;
                pending.cancel_requested_event_id = requested_id;
            }
        } else {
            // Nothing runs: canceled now, in this completion's events; the completion then
            // schedules a task for it (see `apply_completion`).
            let canceled = self.new_event(
                EventType::ActivityTaskCanceled,
                now,
                ActivityTaskCanceledEventAttributes {
                    scheduled_event_id: ai.scheduled_event_id,
                    latest_cancel_requested_event_id: requested_id,
                    ..Default::default()
                },
            );
            self.write(m, canceled);
            if let Some(removed) = self.activities.remove(&ai.scheduled_event_id) {
                if removed.paused {
                    self.sync_pause_info();
                }
            }
        }
        Ok(Some(requested_id))
    }

    /// RespondActivityTaskCanceled[ById]: the worker stopped the attempt the workflow asked to
    /// cancel; without such a request it is refused, as in Temporal.
    pub fn cancel_activity(
        &mut self,
        token: &TaskToken,
        details: Option<Payloads>,
        identity: &str,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        let ai = self.started_activity_for(token)?;
        if !ai.cancel_requested {
            // Temporal's answer: only a cancellation the workflow asked for can be reported.
            return Err(CoreError::InvalidArgument(
                "unable to mark activity as canceled without activity being request canceled first"
                    .to_string(),
            ));
        }
        let mut m = Mutation::default();
        let identity = identity.to_string();
        self.write_activity_outcome(&mut m, &ai, now, |started_event_id| {
            (
                EventType::ActivityTaskCanceled,
                ActivityTaskCanceledEventAttributes {
                    details,
                    latest_cancel_requested_event_id: ai.cancel_requested_event_id,
                    scheduled_event_id: ai.scheduled_event_id,
                    started_event_id,
                    identity,
                    ..Default::default()
                }
                .into(),
            )
        });
        Ok(m)
    }
}
