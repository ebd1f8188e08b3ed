//! DeleteWorkflowExecution: a run is deleted soon, whatever its state. A running run is first
//! terminated the way Temporal's history does it (reason "Delete workflow execution", identity
//! history-service); either way the run's `DeleteRun` timer is due now instead of after the
//! namespace's retention, and the history layer's deletion (`delete_run`) removes the run, its
//! history and its visibility row when it fires.

use crate::errors::CoreError;
use crate::state::MutableState;
use crate::tasks::{timer_task, Mutation, RunTimeout};
use crate::time::Time;
use crate::workflow_task_failed::HISTORY_SERVICE_IDENTITY;

/// The reason Temporal's history terminates a running run with before deleting it.
pub const DELETE_REASON: &str = "Delete workflow execution";

impl MutableState {
    pub fn delete_workflow(&mut self, now: Time) -> Result<Mutation, CoreError> {
        let mut m = if self.is_running() {
            self.terminate(DELETE_REASON, None, HISTORY_SERVICE_IDENTITY, now)?
        } else {
            Mutation::default()
        };
        // The retention timer a close arms is replaced by one due now.
        m.timer_tasks
            .retain(|t| !matches!(t.kind, Some(timer_task::Kind::DeleteRun(_))));
        let delete = self.timer_task(now, timer_task::Kind::DeleteRun(RunTimeout {}));
        m.timer_tasks.push(delete);
        Ok(m)
    }
}
