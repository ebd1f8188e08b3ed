//! Workflow retries, as Temporal's server does them (GetRetryBackoffDuration,
//! SetupNewWorkflowForRetryOrCron): a run started with a retry policy that fails or outlives its
//! run timeout is closed with retry_state IN_PROGRESS and the id of its successor, a new run of
//! the same workflow id (attempt + 1) whose first workflow task waits for the backoff.
//!
//! This module decides and builds; it never persists. The caller supplies `now` and the new
//! run's ids, and must write the closing run, the new run (`Mutation::new_run`) and the moved
//! current-run pointer as one atomic write. Continue-as-new builds its successor the same way
//! (`continue_as_new.rs`). A cron schedule chains runs the same way when a run completes,
//! fails or times out without a retry (`cron.rs` computes when).

use std::time::Duration;

use temporalio_protos::temporal::api::{
    common::v1::Payloads,
    enums::v1::{
        ContinueAsNewInitiator, EventType, RetryState, TimeoutType, WorkflowExecutionStatus,
    },
    failure::v1::Failure,
    history::v1::{
        history_event::Attributes, WorkflowExecutionFailedEventAttributes,
        WorkflowExecutionStartedEventAttributes, WorkflowExecutionTimedOutEventAttributes,
    },
};

use crate::cron::CronSchedule;
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
    /// Least time between a run's first task and its successor's (Temporal's
    /// history.workflowIdReuseMinimalInterval, [`WORKFLOW_ID_REUSE_MINIMAL_INTERVAL`] by
    /// default), so a workflow that retries or continues as new at once cannot spin.
    pub min_interval: Duration,
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

/// What starts a run's successor (retry or cron) and what it carries.
pub(crate) struct Chain {
    pub initiator: ContinueAsNewInitiator,
    pub continued_failure: Option<Failure>,
    pub last_completion_result: Option<Payloads>,
    /// Before the minimal spacing between runs is applied.
    pub backoff: Duration,
}

/// The failure a run timeout stands for, as the next attempt sees it in `continued_failure`.
pub fn run_timeout_failure() -> Failure {
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
    /// `min_interval` after this run's first task was due.
    pub(crate) fn spaced_backoff(
        &self,
        backoff: Duration,
        now: Time,
        min_interval: Duration,
    ) -> Duration {
        let lifetime = now.since(self.execution_time());
        if lifetime + backoff < min_interval {
            min_interval - lifetime
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

    /// `fail_run` into an existing mutation (after a WorkflowTaskCompleted, say). Without a
    /// retry, a cron schedule starts the next scheduled run instead (Temporal checks retry
    /// first, then cron), with the failure as its continued_failure.
    pub(crate) fn close_failed(
        &mut self,
        m: &mut Mutation,
        failure: RunFailure,
        now: Time,
        ids: &NewRunIds,
    ) -> Result<(), CoreError> {
        let expired = {
            let expiration = Time(self.execution_expiration_time);
            !expiration.is_unset() && expiration <= now
        };
        let (cause, decision, last_completion_result) = match &failure {
            RunFailure::Failed { failure, .. } => (
                failure.clone(),
                self.workflow_retry_backoff(failure, now),
                None,
            ),
            RunFailure::TimedOut => {
                let cause = run_timeout_failure();
                // A run that times out together with its execution has nothing left to retry in.
                let decision = if expired {
                    Err(RetryState::Timeout)
                } else {
                    self.workflow_retry_backoff(&cause, now)
                };
                let last = self
                    .start_attributes()
                    .and_then(|a| a.last_completion_result.clone());
                (cause, decision, last)
            }
        };
        let next = match &decision {
            Ok(backoff) => Some(Chain {
                initiator: ContinueAsNewInitiator::Retry,
                continued_failure: Some(cause.clone()),
                last_completion_result,
                backoff: *backoff,
            }),
            Err(_) if !expired => self.cron_backoff(now).map(|backoff| Chain {
                initiator: ContinueAsNewInitiator::CronSchedule,
                continued_failure: Some(cause.clone()),
                // A failed cron run hands on the last successful result.
                last_completion_result: self
                    .start_attributes()
                    .and_then(|a| a.last_completion_result.clone()),
                backoff,
            }),
            Err(_) => None,
        };
        if next.is_some() && ids.run_id.is_empty() {
            return Err(CoreError::InvalidArgument("Invalid RunId.".into()));
        }
        let retry_state = match decision {
            Err(state) => state,
            Ok(_) => RetryState::InProgress,
        };
        let new_execution_run_id = if next.is_some() {
            ids.run_id.clone()
        } else {
            String::new()
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
        if let Some(next) = next {
            self.start_next_run(m, next, now, ids);
        }
        Ok(())
    }

    /// The attributes this run started with, when kept (a retry policy or a cron schedule).
    pub(crate) fn start_attributes(&self) -> Option<&WorkflowExecutionStartedEventAttributes> {
        match self.started_event.as_ref()?.attributes.as_ref()? {
            Attributes::WorkflowExecutionStartedEventAttributes(a) => Some(a),
            _ => None,
        }
    }

    /// How long the next run of this run's cron schedule waits, counted from when this run
    /// was due (Temporal's GetCronBackoffDuration). None: no schedule, or it never fires again.
    pub(crate) fn cron_backoff(&self, now: Time) -> Option<Duration> {
        let spec = self.start_attributes()?.cron_schedule.as_str();
        if spec.is_empty() {
            return None;
        }
        CronSchedule::parse(spec, now)
            .ok()?
            .backoff(self.execution_time(), now)
    }

    /// Creates the next run of this run's chain from its WorkflowExecutionStarted attributes:
    /// the same workflow id, parent and execution deadline; this run's reset points; the
    /// first task after `backoff`. Shared by retries, cron and continue-as-new.
    pub(crate) fn create_successor(
        &self,
        mut started: WorkflowExecutionStartedEventAttributes,
        links: Vec<temporalio_protos::temporal::api::common::v1::Link>,
        backoff: Duration,
        now: Time,
        ids: &NewRunIds,
    ) -> (MutableState, Mutation) {
        started.prev_auto_reset_points = self.reset_points_for_successor(now);
        // The chain keeps its parent: the parent hears only of the last run's close.
        if let Some(parent) = self.parent() {
            crate::start::set_parent(&mut started, &parent);
        }
        let expiration = Time(self.execution_expiration_time);
        let (mut state, mutation) = create_run(
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
        );
        // The schedule that started the chain hears of its end, whichever run that is.
        state.scheduled_by = self.scheduled_by.clone();
        (state, mutation)
    }

    /// Puts the next run of the chain (spaced by the minimal interval) in `m.new_run`.
    pub(crate) fn start_next_run(&self, m: &mut Mutation, next: Chain, now: Time, ids: &NewRunIds) {
        let next = Chain {
            backoff: self.spaced_backoff(next.backoff, now, ids.min_interval),
            ..next
        };
        let (state, mutation) = self.next_attempt(next, now, ids);
        m.new_run = Some(Box::new(NewRun { state, mutation }));
    }

    /// The next run of the chain (a retry's next attempt, or a cron schedule's next run),
    /// built from this run's start the way Temporal's SetupNewWorkflowForRetryOrCron does: same type, queue, input, header, timeouts, policy
    /// and execution deadline; the memo and search attributes this run *started* with; no
    /// identity; links of the original start.
    fn next_attempt(&self, chain: Chain, now: Time, ids: &NewRunIds) -> (MutableState, Mutation) {
        let Chain {
            initiator,
            continued_failure,
            last_completion_result,
            backoff,
        } = chain;
        let attempt = if initiator == ContinueAsNewInitiator::Retry {
            self.attempt.max(1) + 1
        } else {
            1
        };
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
            attempt,
            workflow_execution_expiration_time: expiration.to_timestamp_opt(),
            cron_schedule: start.cron_schedule,
            continued_failure,
            last_completion_result,
            initiator: initiator as i32,
            first_workflow_task_backoff: Some(duration_to_proto(backoff)),
            first_execution_run_id: self.first_execution_run_id.clone(),
            original_execution_run_id: ids.run_id.clone(),
            memo: start.memo,
            search_attributes: start.search_attributes,
            workflow_id: self.workflow_id.clone(),
            priority: start.priority,
            ..Default::default()
        };
        self.create_successor(started, links, backoff, now, ids)
    }
}
