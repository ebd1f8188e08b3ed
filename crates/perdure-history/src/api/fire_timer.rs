//! Firing a due timer task: the state change it causes and the deletion of its row commit in
//! one batch, so a timer fires at most once even across leader changes. A `DeleteRun` timer
//! deletes the whole run instead (`delete_run`).

use perdure_core::{timer_task, TimerTask};
use perdure_storage::{keys, Cf, Op, WriteBatch};

use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::shard::{new_run_ids, Plan, Shard, Step};

impl Shard {
    pub(crate) async fn fire_timer(
        &self,
        task_id: u64,
        task: &TimerTask,
    ) -> Result<(), HistoryError> {
        if matches!(task.kind, Some(timer_task::Kind::DeleteRun(_))) {
            return self.delete_run(task_id, task).await;
        }
        let key = ExecKey::new(&task.namespace_id, &task.workflow_id, &task.run_id);
        let row = Op::Delete {
            cf: Cf::TimerTasks,
            key: keys::timer_task(self.id, task.fire_time_unix_nanos, task_id),
        };
        // Used only if a run timeout starts a retry.
        let next_run = new_run_ids();
        let fired = self
            .update(&key, |state, now| {
                let Some(state) = state else {
                    return Ok(Step::Reply(false));
                };
                let mut next = state.clone();
                // A timer the run no longer wants (closed, stale attempt) yields an empty
                // mutation or an error; the row is deleted all the same.
                let mut plan = match next.fire_timer(task, now, &next_run) {
                    Ok(mutation) => Plan::new(next, mutation, true),
                    Err(_) => Plan::new(state.clone(), Default::default(), true),
                };
                plan.extra_ops.push(row.clone());
                Ok(Step::Write(plan))
            })
            .await?;
        if !fired {
            // The run is gone: only the row remains to delete.
            self.propose(WriteBatch {
                checks: Vec::new(),
                ops: vec![row],
            })
            .await?;
        }
        Ok(())
    }
}
