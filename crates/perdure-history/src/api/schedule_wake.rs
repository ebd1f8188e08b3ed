//! Firing a schedule's wake timer: the slots that came due are taken, their start rows and
//! the deletion of the timer row committed with the schedule in one batch. A timer whose
//! generation is no longer the schedule's (the wake-up moved, or the schedule is gone) is
//! stale and only loses its row.

use std::sync::Arc;

use perdure_core::{timer_task, TimerTask};
use perdure_storage::{keys, Cf, Op};

use crate::errors::HistoryError;
use crate::schedules::SchedStep;
use crate::shard::Shard;
use crate::timer_wheel::Fired;

impl Shard {
    pub(crate) async fn fire_schedule_wake(
        self: &Arc<Self>,
        task_id: u64,
        task: &TimerTask,
    ) -> Result<Fired, HistoryError> {
        let Some(timer_task::Kind::ScheduleWake(w)) = &task.kind else {
            return Ok(Fired::RowOnly);
        };
        let row = Op::Delete {
            cf: Cf::TimerTasks,
            key: keys::timer_task(self.id, task.fire_time_unix_nanos, task_id),
        };
        self.update_schedule(&task.namespace_id, &w.schedule_id, |existing, now| {
            let Some(s) = existing.filter(|s| s.wake_generation == w.generation) else {
                return Ok(SchedStep::Skip(Fired::RowOnly));
            };
            let mut next = s.clone();
            let actions = next.wake(now);
            // This timer is used up: whatever comes next needs a timer of its own.
            next.wake_at = 0;
            Ok(SchedStep::Write {
                state: Some(next),
                actions,
                extra_ops: vec![row.clone()],
                reply: Fired::Written,
            })
        })
        .await
    }
}
