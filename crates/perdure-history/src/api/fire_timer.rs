//! Firing a due timer task. A timer that changes its run commits that change and the deletion
//! of its row in one batch, so it fires at most once even across leader changes. A `DeleteRun`
//! timer deletes the whole run instead (`delete_run`).
//!
//! Most timers are stale by the time they come due (a workflow task completed before its
//! timeout, an activity attempt finished): those write nothing here. Their row is left to the
//! caller, which deletes the rows of many of them in one batch ([`Shard::delete_timer_rows`]).
//! That is safe because a stale timer stays stale — its identity (event id, attempt, stamp) is
//! never reused — so deciding now and deleting the row later cannot lose a firing. This module
//! must never write an execution whose state the timer left unchanged.

use perdure_core::{timer_task, TimerTask};
use perdure_storage::{keys, ApplyOutcome, Cf, Op, WriteBatch};
use std::sync::Arc;

use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::shard::{Plan, Shard, Step};
use crate::timer_wheel::Fired;

impl Shard {
    pub(crate) async fn fire_timer(
        self: &Arc<Self>,
        task_id: u64,
        task: &TimerTask,
    ) -> Result<Fired, HistoryError> {
        if matches!(task.kind, Some(timer_task::Kind::DeleteRun(_))) {
            self.delete_run(task_id, task).await?;
            return Ok(Fired::Written);
        }
        if matches!(task.kind, Some(timer_task::Kind::ScheduleWake(_))) {
            return self.fire_schedule_wake(task_id, task).await;
        }
        let key = ExecKey::new(&task.namespace_id, &task.workflow_id, &task.run_id);
        let row = Op::Delete {
            cf: Cf::TimerTasks,
            key: keys::timer_task(self.id, task.fire_time_unix_nanos, task_id),
        };
        // Used only if a run timeout starts a retry.
        let next_run = self.new_run_ids();
        self.update(&key, |state, now| {
            let Some(state) = state else {
                return Ok(Step::Skip(Fired::RowOnly));
            };
            let mut next = state.clone();
            match next.fire_timer(task, now, &next_run) {
                // The state is compared too: a change that adds no event or task must still
                // be written.
                Ok(mutation) if !mutation.is_empty() || next != *state => {
                    let mut plan = Plan::new(next, mutation, Fired::Written);
                    plan.extra_ops.push(row.clone());
                    Ok(Step::Write(plan))
                }
                // A timer the run no longer wants yields an empty mutation or an error.
                Ok(_) | Err(_) => Ok(Step::Skip(Fired::RowOnly)),
            }
        })
        .await
    }

    /// Deletes the rows of timers that fired without changing anything, `(fire time, task id)`
    /// each, in one batch. Nothing else depends on these rows, so the batch has no checks.
    pub(crate) async fn delete_timer_rows(&self, rows: &[(i64, u64)]) -> Result<(), HistoryError> {
        let ops = rows
            .iter()
            .map(|&(fire, id)| Op::Delete {
                cf: Cf::TimerTasks,
                key: keys::timer_task(self.id, fire, id),
            })
            .collect();
        match self
            .propose(WriteBatch {
                checks: Vec::new(),
                ops,
            })
            .await?
        {
            ApplyOutcome::Applied => Ok(()),
            // Impossible without checks; reported so that the rows are retried, not forgotten.
            ApplyOutcome::Rejected { .. } => Err(HistoryError::Conflict),
        }
    }
}
