//! Workflow retries, as Temporal's server does them (GetRetryBackoffDuration,
//! SetupNewWorkflowForRetryOrCron): a run started with a retry policy that fails or outlives its
//! run timeout is closed with retry_state IN_PROGRESS and the id of its successor, a new run of
//! the same workflow id (attempt + 1) whose first workflow task waits for the backoff.
//!
//! This module decides and builds; it never persists. The caller supplies `now` and the new
//! run's ids, and must write the closing run, the new run (`Mutation::new_run`) and the moved
//! current-run pointer as one atomic write. Cron schedules are not implemented.

use std::time::Duration;

use temporalio_protos::temporal::api::{
    enums::v1::{
        ContinueAsNewInitiator, EventType, RetryState, TimeoutType, WorkflowExecutionStatus,
    },
    failure::v1::Failure,
    history::v1::{
        history_event::Attributes, WorkflowExecutionFailedEventAttributes,
        WorkflowExecutionStartedEventAttributes, WorkflowExecutionTimedOutEventAttributes,
    },
};

use crate::errors::CoreError;
use crate::retry::{backoff_interval, is_retryable};
use crate::server_failures::timeout_failure;
use crate::start::{create_run, RunSpec};
use crate::state::{normal_task_queue, MutableState};
use crate::tasks::{Mutation, NewRun};
use crate::time::{duration_to_proto, Time};

/// Temporal's history.workflowIdReuseMinimalInterval default: a run and its successor start at
/// least this far apart, so a workflow that fails at once cannot spin.
pub const WORKFLOW_ID_REUSE_MINIMAL_INTERVAL: Duration = Duration::from_secs(1);

/// Ids the caller allocates for a run an operation may create. Used only when the core decides
/// to start one; allocate fresh ones for every operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewRunIds {
    pub run_id: String,
    /// The new run's start request id (Temporal makes up a fresh one for a retry).
    pub request_id: String,
}

/// How a running run ended badly.
// Built once per close and moved straight in; boxing the failure would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum RunFailure {
    /// A FailWorkflowExecution command of the task completed by this event.
    Failed {
        failure: Failure,
        workflow_task_completed_event_id: i64,
    },
    /// Its run timeout fired.
    TimedOut,
}

/// The failure a run timeout stands for, as the next attempt sees it in `continued_failure`.
fn run_timeout_failure() -> Failure {
    timeout_failure("workflow timeout", TimeoutType::StartToClose)
}

impl MutableState {
    /// Whether this run may be retried after `failure`, and after how long: Temporal's
    /// GetRetryBackoffDuration (retryable failure, maximum attempts, execution expiration).
    /// The backoff is before the minimal spacing between runs is applied.
    pub fn workflow_retry_backoff(
        &self,
        failure: &Failure,
        now: Time,
    ) -> Result<Duration, RetryState> {
        let Some(policy) = self.retry_policy.as_ref() else {
            return Err(RetryState::RetryPolicyNotSet);
        };
        if !is_retryable(Some(failure), &policy.non_retryable_error_types) {
            return Err(RetryState::NonRetryableFailure);
        }
        backoff_interval(
            policy,
            self.attempt,
            Some(failure),
            now,
            Time(self.execution_expiration_time),
        )
    }

    /// Temporal's ContinueAsNewMinBackoff: the next run's first task comes no sooner than
    /// WORKFLOW_ID_REUSE_MINIMAL_INTERVAL after this run's first task was due.
    fn spaced_backoff(&self, backoff: Duration, now: Time) -> Duration {
        let lifetime = now.since(self.execution_time());
        if lifetime + backoff < WORKFLOW_ID_REUSE_MINIMAL_INTERVAL {
            WORKFLOW_ID_REUSE_MINIMAL_INTERVAL - lifetime
        } else {
            backoff
        }
    }

    /// Closes this running run as failed or timed out. When its retry policy allows another
    /// attempt, the close event says IN_PROGRESS and names `ids.run_id`, and the returned
    /// mutation's `new_run` holds that run: WorkflowExecutionStarted{attempt + 1, initiator
    /// RETRY, continued_failure, first_workflow_task_backoff} and a WorkflowBackoff timer, no
    /// workflow task yet. Otherwise the close event carries why not (RETRY_POLICY_NOT_SET,
    /// MAXIMUM_ATTEMPTS_REACHED, NON_RETRYABLE_FAILURE, TIMEOUT).
    pub fn fail_run(
        &mut self,
        failure: RunFailure,
        now: Time,
        ids: &NewRunIds,
    ) -> Result<Mutation, CoreError> {
        if !self.is_running() {
            return Err(CoreError::WorkflowCompleted);
        }
        let mut m = Mutation::default();
        self.close_failed(&mut m, failure, now, ids)?;
        Ok(m)
    }

    /// `fail_run` into an existing mutation (after a WorkflowTaskCompleted, say).
    pub(crate) fn close_failed(
        &mut self,
        m: &mut Mutation,
        failure: RunFailure,
        now: Time,
        ids: &NewRunIds,
    ) -> Result<(), CoreError> {
        let (cause, decision) = match &failure {
            RunFailure::Failed { failure, .. } => {
                (failure.clone(), self.workflow_retry_backoff(failure, now))
            }
            RunFailure::TimedOut => {
                let cause = run_timeout_failure();
                let expiration = Time(self.execution_expiration_time);
                // A run that times out together with its execution has nothing left to retry in.
                let decision = if expiration.is_unset() || expiration > now {
                    self.workflow_retry_backoff(&cause, now)
                } else {
                    Err(RetryState::Timeout)
                };
                (cause, decision)
            }
        };
        let backoff = decision.ok().map(|b| self.spaced_backoff(b, now));
        if backoff.is_some() && ids.run_id.is_empty() {
            return Err(CoreError::InvalidArgument("Invalid RunId.".into()));
        }
        let (retry_state, new_execution_run_id) = match decision {
            Err(state) => (state, String::new()),
            Ok(_) => (RetryState::InProgress, ids.run_id.clone()),
        };
        let (status, event) = match failure {
            RunFailure::Failed {
                failure,
                workflow_task_completed_event_id,
            } => (
                WorkflowExecutionStatus::Failed,
                self.new_event(
                    EventType::WorkflowExecutionFailed,
                    now,
                    WorkflowExecutionFailedEventAttributes {
                        failure: Some(failure),
                        retry_state: retry_state as i32,
                        workflow_task_completed_event_id,
                        new_execution_run_id,
                    },
                ),
            ),
            RunFailure::TimedOut => (
                WorkflowExecutionStatus::TimedOut,
                self.new_event(
                    EventType::WorkflowExecutionTimedOut,
                    now,
                    WorkflowExecutionTimedOutEventAttributes {
                        retry_state: retry_state as i32,
                        new_execution_run_id,
                    },
                ),
            ),
        };
        self.close(m, status, event, now);
        if let Some(backoff) = backoff {
            let (state, mutation) = self.next_attempt(cause, backoff, now, ids);
            m.new_run = Some(Box::new(NewRun { state, mutation }));
        }
        Ok(())
    }

    /// The next attempt, built from this run's start the way Temporal's
    /// SetupNewWorkflowForRetryOrCron does: same type, queue, input, header, timeouts, policy
    /// and execution deadline; the memo and search attributes this run *started* with; no
    /// identity; links of the original start.
    fn next_attempt(
        &self,
        continued_failure: Failure,
        backoff: Duration,
        now: Time,
        ids: &NewRunIds,
    ) -> (MutableState, Mutation) {
        let (start, links) = match self.started_event.as_ref().map(|e| (&e.attributes, e)) {
            Some((Some(Attributes::WorkflowExecutionStartedEventAttributes(a)), event)) => {
                (a.clone(), event.links.clone())
            }
            // Not kept (a state from before retries existed): today's values are the best guess.
            _ => (
                WorkflowExecutionStartedEventAttributes {
                    memo: self.memo.clone(),
                    search_attributes: self.search_attributes.clone(),
                    ..Default::default()
                },
                Vec::new(),
            ),
        };
        let expiration = Time(self.execution_expiration_time);
        let started = WorkflowExecutionStartedEventAttributes {
            workflow_type: self.workflow_type.clone(),
            task_queue: Some(normal_task_queue(&self.task_queue)),
            header: self.header.clone(),
            input: self.input.clone(),
            workflow_run_timeout: self.run_timeout,
            workflow_execution_timeout: self.execution_timeout,
            workflow_task_timeout: self.task_timeout,
            continued_execution_run_id: self.run_id.clone(),
            retry_policy: self.retry_policy.clone(),
            attempt: self.attempt.max(1) + 1,
            workflow_execution_expiration_time: expiration.to_timestamp_opt(),
            cron_schedule: start.cron_schedule,
            continued_failure: Some(continued_failure),
            initiator: ContinueAsNewInitiator::Retry as i32,
            first_workflow_task_backoff: Some(duration_to_proto(backoff)),
            first_execution_run_id: self.first_execution_run_id.clone(),
            original_execution_run_id: ids.run_id.clone(),
            memo: start.memo,
            search_attributes: start.search_attributes,
            workflow_id: self.workflow_id.clone(),
            priority: start.priority,
            ..Default::default()
        };
        create_run(
            RunSpec {
                namespace: self.namespace.clone(),
                namespace_id: self.namespace_id.clone(),
                run_id: ids.run_id.clone(),
                request_id: ids.request_id.clone(),
                started,
                user_metadata: None,
                links,
                execution_expiration: expiration,
                first_task_backoff: backoff,
                retention: self.retention(),
                signal: None,
            },
            now,
        )
    }
}
