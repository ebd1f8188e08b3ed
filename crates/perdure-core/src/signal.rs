//! SignalWorkflowExecution: records WorkflowExecutionSignaled (buffered while a workflow task is
//! started, like every event from outside) and makes sure a workflow task will deliver it.
//!
//! A request id seen before on this run is a duplicate the client retried: nothing changes and
//! the call succeeds, as in Temporal. A run waiting out its first-task backoff gets no extra
//! task from a signal (its backoff timer schedules the first one), but does from a
//! SignalWithStart, which skips the delay.

use temporalio_protos::temporal::api::{
    common::v1::{Header, Payloads},
    enums::v1::EventType,
    history::v1::WorkflowExecutionSignaledEventAttributes,
};

use crate::errors::CoreError;
use crate::limits;
use crate::state::MutableState;
use crate::tasks::Mutation;
use crate::time::Time;

/// One signal as the client sent it.
#[derive(Clone, Debug, Default)]
pub struct Signal {
    pub name: String,
    pub input: Option<Payloads>,
    pub header: Option<Header>,
    pub identity: String,
    pub request_id: String,
    /// The workflow that sent it with a SignalExternalWorkflowExecution command.
    pub external: Option<temporalio_protos::temporal::api::common::v1::WorkflowExecution>,
}

impl MutableState {
    pub fn signal(&mut self, signal: &Signal, now: Time) -> Result<Mutation, CoreError> {
        if !signal.request_id.is_empty() && self.signal_request_ids.contains(&signal.request_id) {
            return Ok(Mutation::default());
        }
        if !self.is_running() {
            return Err(CoreError::WorkflowCompleted);
        }
        if self.signal_count >= limits::MAX_SIGNALS_PER_EXECUTION {
            return Err(CoreError::InvalidArgument(
                limits::ERR_SIGNAL_COUNT_EXCEEDS_LIMIT.to_string(),
            ));
        }
        let mut m = Mutation::default();
        self.record_signal(&mut m, signal, now);
        self.ensure_workflow_task(&mut m, now);
        Ok(m)
    }

    /// SignalWithStart reaching a running run: [`MutableState::signal`], and a run still waiting
    /// out its first-task backoff (start delay, retry or cron backoff) gets its first task now:
    /// Temporal skips the rest of the delay for a SignalWithStart. The backoff timer then finds
    /// the task there and does nothing.
    pub fn signal_with_start_existing(
        &mut self,
        signal: &Signal,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        let mut m = self.signal(signal, now)?;
        if !m.is_empty() && self.workflow_task.is_none() && self.is_running() {
            self.schedule_workflow_task(&mut m, now, 1);
        }
        Ok(m)
    }

    /// Writes (or buffers) the WorkflowExecutionSignaled event and remembers the request id.
    pub(crate) fn record_signal(&mut self, m: &mut Mutation, signal: &Signal, now: Time) {
        if !signal.request_id.is_empty() {
            self.signal_request_ids.push(signal.request_id.clone());
        }
        self.signal_count += 1;
        let event = self.new_event(
            EventType::WorkflowExecutionSignaled,
            now,
            WorkflowExecutionSignaledEventAttributes {
                signal_name: signal.name.clone(),
                input: signal.input.clone(),
                identity: signal.identity.clone(),
                header: signal.header.clone(),
                request_id: signal.request_id.clone(),
                external_workflow_execution: signal.external.clone(),
                ..Default::default()
            },
        );
        self.write_or_buffer(m, event);
    }
}
