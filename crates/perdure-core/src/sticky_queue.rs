//! Operations on a run's stickiness that write no history: ResetStickyTaskQueue, and moving a
//! pending sticky workflow task to the normal queue when its worker is gone (Temporal's
//! StickyWorkerUnavailable fallback, here triggered by ShutdownWorker).
//!
//! Neither may write an event: in Temporal they leave history untouched, and a history that
//! differs from Temporal's is a replay hazard for the SDKs.

use crate::errors::CoreError;
use crate::state::MutableState;
use crate::tasks::{transfer_task, Mutation, TaskRef};

impl MutableState {
    /// Forgets the run's sticky queue, so its next workflow task goes to the normal queue with
    /// full history. Returns whether anything changed; a closed run is `WorkflowCompleted`.
    pub fn reset_sticky_task_queue(&mut self) -> Result<bool, CoreError> {
        if !self.is_running() {
            return Err(CoreError::WorkflowCompleted);
        }
        Ok(self.clear_sticky())
    }

    /// The sticky worker that `task` was queued for has gone away: if that task is still the
    /// pending, unstarted workflow task on a sticky queue, end stickiness and queue the same
    /// task (same scheduled id, attempt and stamp) on the normal queue. Anything else is stale
    /// and yields an empty mutation.
    ///
    /// The stamp is kept on purpose: the schedule-to-start timer armed for the sticky dispatch
    /// stays live and still times the task out if no normal poller takes it, as in Temporal.
    pub fn move_workflow_task_to_normal_queue(&mut self, task: &TaskRef) -> Mutation {
        let mut m = Mutation::default();
        if !self.is_running() {
            return m;
        }
        let Some(wft) = self.workflow_task.as_mut() else {
            return m;
        };
        if wft.scheduled_event_id != task.scheduled_event_id
            || wft.attempt != task.attempt
            || wft.stamp != task.stamp
            || wft.is_started()
            || wft.task_queue == self.task_queue
        {
            return m;
        }
        wft.task_queue = self.task_queue.clone();
        self.clear_sticky();
        let moved = self.transfer_task(
            self.task_queue.clone(),
            transfer_task::Kind::WorkflowTask(task.clone()),
        );
        m.transfer_tasks.push(moved);
        m
    }
}
