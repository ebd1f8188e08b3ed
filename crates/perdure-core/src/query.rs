//! Queries: where a QueryWorkflow call must go, decided from the run's state.
//!
//! A query writes nothing. It reaches a worker one of two ways, as in Temporal: directly, as a
//! query task through matching, when a worker has completed a task of the run and has seen
//! every event (no workflow task pending or running, or the run is closed); or on the next
//! workflow task, when events arrived that no worker has processed yet, so the answer
//! includes them. This
//! module only decides; the history layer holds the waiting calls (`perdure-history/src/queries.rs`).

use std::time::Duration;

use temporalio_protos::temporal::api::enums::v1::{QueryRejectCondition, WorkflowExecutionStatus};

use crate::errors::CoreError;
use crate::state::{MutableState, DEFAULT_STICKY_SCHEDULE_TO_START};
use crate::time::{duration_from_proto, Time};

/// A workflow task failing this many times in a row fails queries at once: they would only
/// wait for a task that keeps failing (Temporal's failQueryWorkflowTaskAttemptCount).
pub const FAIL_QUERY_WORKFLOW_TASK_ATTEMPT: i32 = 3;

/// Where a query goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryRoute {
    /// The caller's reject condition holds: answer QueryRejected carrying this run status.
    Rejected { status: WorkflowExecutionStatus },
    /// Hand it to a worker now, outside any workflow task.
    Direct(QueryTarget),
    /// Wait for the next workflow task to carry it.
    Buffer,
}

/// The queues a direct query is offered to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryTarget {
    /// The run's normal task queue.
    pub task_queue: String,
    /// The worker that has the run cached, and how long to wait for it before falling back to
    /// the normal queue (the run's sticky schedule-to-start timeout).
    pub sticky: Option<(String, Duration)>,
}

impl MutableState {
    /// Decides where a query goes, or why it cannot be answered now. `deadline` is the
    /// caller's (None: it set none): a run whose first task is held back past it refuses at
    /// once instead of waiting in vain.
    pub fn route_query(
        &self,
        reject: QueryRejectCondition,
        deadline: Option<Time>,
    ) -> Result<QueryRoute, CoreError> {
        let status = WorkflowExecutionStatus::try_from(self.status)
            .unwrap_or(WorkflowExecutionStatus::Unspecified);
        if status != WorkflowExecutionStatus::Running {
            let rejected = match reject {
                QueryRejectCondition::NotOpen => true,
                QueryRejectCondition::NotCompletedCleanly => {
                    status != WorkflowExecutionStatus::Completed
                }
                QueryRejectCondition::None | QueryRejectCondition::Unspecified => false,
            };
            if rejected {
                return Ok(QueryRoute::Rejected { status });
            }
        }
        self.check_queryable_when_closed()?;
        if !self.had_or_has_workflow_task() && deadline.is_none_or(|d| self.execution_time() > d) {
            // The first task is held back (start delay, retry or cron backoff) beyond the
            // caller's patience: the query could only time out.
            return Err(CoreError::WorkflowNotReady(
                "Workflow task is not scheduled yet.".into(),
            ));
        }
        if self
            .workflow_task
            .as_ref()
            .is_some_and(|t| t.attempt >= FAIL_QUERY_WORKFLOW_TASK_ATTEMPT)
        {
            return Err(CoreError::WorkflowNotReady(
                "Unable to query workflow due to Workflow Task in failed state.".into(),
            ));
        }
        if self.buffered_queries_wait() {
            Ok(QueryRoute::Buffer)
        } else {
            Ok(QueryRoute::Direct(self.query_target()))
        }
    }

    /// True while a query must wait for a workflow task: the run is open and a task is pending,
    /// or no worker has completed a task of it yet (it could not answer from the run).
    pub fn buffered_queries_wait(&self) -> bool {
        self.is_running()
            && (self.has_pending_workflow_task()
                || self.last_completed_workflow_task_started_event_id == 0)
    }

    /// A run that closed before any worker completed a task of it has nothing to replay.
    pub fn check_queryable_when_closed(&self) -> Result<(), CoreError> {
        if !self.is_running() && self.last_completed_workflow_task_started_event_id == 0 {
            return Err(CoreError::WorkflowNotReady(
                "Workflow execution closed before WorkflowTaskStarted event".into(),
            ));
        }
        Ok(())
    }

    /// The queues a direct query goes to: the sticky worker first while the run is open.
    pub fn query_target(&self) -> QueryTarget {
        let sticky = (self.is_running() && !self.sticky_task_queue.is_empty()).then(|| {
            let wait = duration_from_proto(self.sticky_schedule_to_start_timeout.as_ref());
            let wait = if wait.is_zero() {
                DEFAULT_STICKY_SCHEDULE_TO_START
            } else {
                wait
            };
            (self.sticky_task_queue.clone(), wait)
        });
        QueryTarget {
            task_queue: self.task_queue.clone(),
            sticky,
        }
    }
}
