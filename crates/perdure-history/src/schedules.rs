//! The write path of schedules: one record per schedule (column family `schedules`, key
//! `keys::schedule`), on the shard its scheduler workflow id routes to.
//!
//! A change loads the record under the schedule's lock, lets the pure state machine
//! (`perdure_schedule::ScheduleState`) compute the new state and its actions, and proposes one
//! batch: the record (precondition: the record as it was read), a transfer row per action (run
//! by the effect runner, `effects.rs`) and, when the next wake-up moved, a `ScheduleWake` timer
//! row with a new generation (older wake timers become stale). A slot's consumption and its
//! start row are therefore in the same batch: a slot is taken exactly once, and its start is
//! carried out at least once and deduplicated by its request id.
//!
//! This module never decides what a schedule does (that is `perdure-schedule`), and never
//! writes anything but through Raft.

use std::sync::Arc;

use perdure_core::{timer_task, transfer_task, Time, TimerTask, TransferTask};
use perdure_schedule::scheduler::scheduler_workflow_id;
use perdure_schedule::{Action, ScheduleState};
use perdure_storage::{keys, ApplyOutcome, Cf, Check, Expect, Op, WriteBatch};
use prost::Message;

use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::shard::{now, Shard};

/// How often a write that lost a race is rebuilt from fresh state.
const CONFLICT_RETRIES: usize = 3;

/// The run id of the lock key a schedule's writes queue on (no run has it).
const SCHEDULE_LOCK: &str = "schedule";

/// What a schedule operation decided.
// Built once per attempt and consumed at once; boxing the state would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum SchedStep<R> {
    /// Nothing to write; answered behind a read barrier.
    Reply(R),
    /// Nothing to write and nobody waits on the answer (a stale timer).
    Skip(R),
    /// Write `state` (None: delete the schedule) and carry out `actions`.
    Write {
        state: Option<ScheduleState>,
        actions: Vec<Action>,
        extra_ops: Vec<Op>,
        reply: R,
    },
}

impl<R> SchedStep<R> {
    pub(crate) fn write(state: ScheduleState, actions: Vec<Action>, reply: R) -> Self {
        SchedStep::Write {
            state: Some(state),
            actions,
            extra_ops: Vec::new(),
            reply,
        }
    }
}

/// The schedule record and its raw bytes (for the write's precondition).
pub(crate) fn load_schedule(
    shard: &Shard,
    namespace_id: &str,
    schedule_id: &str,
) -> Result<Option<(ScheduleState, Vec<u8>)>, HistoryError> {
    let key = keys::schedule(shard.id, namespace_id, schedule_id);
    let Some(raw) = shard.store.get(Cf::Schedules, &key)? else {
        return Ok(None);
    };
    let state = ScheduleState::decode(raw.as_slice()).map_err(HistoryError::decode("schedule"))?;
    Ok(Some((state, raw)))
}

/// Every schedule of a namespace on this shard.
pub(crate) fn scan_schedules(
    shard: &Shard,
    namespace_id: &str,
) -> Result<Vec<ScheduleState>, HistoryError> {
    let rows = shard.store.scan_prefix(
        Cf::Schedules,
        &keys::schedule_prefix(shard.id, namespace_id),
        None,
        usize::MAX,
    )?;
    rows.into_iter()
        .map(|(_, v)| ScheduleState::decode(v.as_slice()).map_err(HistoryError::decode("schedule")))
        .collect()
}

/// The transfer row of one action.
fn action_row(state: &ScheduleState, action: &Action) -> TransferTask {
    let (op, start_seq) = match action {
        Action::Start { seq } => (0, *seq),
        Action::Cancel(_) => (1, 0),
        Action::Terminate(_) => (2, 0),
    };
    TransferTask {
        namespace_id: state.namespace_id.clone(),
        workflow_id: scheduler_workflow_id(&state.schedule_id),
        run_id: String::new(),
        kind: Some(transfer_task::Kind::ScheduleAction(
            transfer_task::ScheduleActionRef { start_seq, op },
        )),
        ..Default::default()
    }
}

/// One row per start, and one for all cancels (or terminations): that row closes every run
/// the schedule has running when it runs.
fn rows_of(state: &ScheduleState, actions: &[Action]) -> Vec<TransferTask> {
    let mut rows: Vec<TransferTask> = Vec::new();
    for a in actions {
        let row = action_row(state, a);
        if matches!(a, Action::Start { .. }) || !rows.contains(&row) {
            rows.push(row);
        }
    }
    rows
}

impl Shard {
    /// Reads a schedule behind a read barrier (None: no such schedule).
    pub(crate) async fn read_schedule(
        &self,
        namespace_id: &str,
        schedule_id: &str,
    ) -> Result<Option<ScheduleState>, HistoryError> {
        self.read_barrier().await?;
        Ok(load_schedule(self, namespace_id, schedule_id)?.map(|(s, _)| s))
    }

    /// Read-modify-write of one schedule (see the module comment). `op` may run more than once.
    pub(crate) async fn update_schedule<R>(
        self: &Arc<Self>,
        namespace_id: &str,
        schedule_id: &str,
        mut op: impl FnMut(Option<&ScheduleState>, Time) -> Result<SchedStep<R>, HistoryError>,
    ) -> Result<R, HistoryError> {
        self.settle().await;
        self.ensure_leader()?;
        let wf = scheduler_workflow_id(schedule_id);
        let _guard = self
            .cache
            .lock(&ExecKey::new(namespace_id, &wf, SCHEDULE_LOCK))
            .await;
        for _ in 0..CONFLICT_RETRIES {
            let loaded = load_schedule(self, namespace_id, schedule_id)?;
            let at = now();
            let (state, actions, extra_ops, reply) = match op(loaded.as_ref().map(|(s, _)| s), at)?
            {
                SchedStep::Reply(r) => {
                    self.read_barrier().await?;
                    return Ok(r);
                }
                SchedStep::Skip(r) => return Ok(r),
                SchedStep::Write {
                    state,
                    actions,
                    extra_ops,
                    reply,
                } => (state, actions, extra_ops, reply),
            };
            let key = keys::schedule(self.id, namespace_id, schedule_id);
            let mut batch = WriteBatch::default();
            batch.checks.push(Check {
                cf: Cf::Schedules,
                key: key.clone(),
                expect: match &loaded {
                    Some((_, raw)) => Expect::Equals(raw.clone()),
                    None => Expect::Absent,
                },
            });
            let mut transfers = Vec::new();
            let mut timers = Vec::new();
            match state {
                Some(mut state) => {
                    for row in rows_of(&state, &actions) {
                        let id = self.task_id();
                        batch.ops.push(Op::Put {
                            cf: Cf::TransferTasks,
                            key: keys::transfer_task(self.id, id),
                            value: row.encode_to_vec(),
                        });
                        transfers.push((id, row));
                    }
                    let wake = state.next_wake().map_or(0, |t| t.0);
                    if wake != state.wake_at {
                        state.wake_generation += 1;
                        state.wake_at = wake;
                        if wake != 0 {
                            let timer = TimerTask {
                                fire_time_unix_nanos: wake,
                                namespace_id: namespace_id.to_string(),
                                workflow_id: wf.clone(),
                                run_id: String::new(),
                                kind: Some(timer_task::Kind::ScheduleWake(
                                    timer_task::ScheduleWake {
                                        schedule_id: schedule_id.to_string(),
                                        generation: state.wake_generation,
                                    },
                                )),
                            };
                            let id = self.task_id();
                            batch.ops.push(Op::Put {
                                cf: Cf::TimerTasks,
                                key: keys::timer_task(self.id, wake, id),
                                value: timer.encode_to_vec(),
                            });
                            timers.push((id, timer));
                        }
                    }
                    batch.ops.push(Op::Put {
                        cf: Cf::Schedules,
                        key,
                        value: state.encode_to_vec(),
                    });
                }
                None => batch.ops.push(Op::Delete {
                    cf: Cf::Schedules,
                    key,
                }),
            }
            batch.ops.extend(extra_ops);
            match self.propose(batch).await? {
                ApplyOutcome::Applied => {
                    self.hand_over(transfers, timers);
                    return Ok(reply);
                }
                ApplyOutcome::Rejected { .. } => continue,
            }
        }
        Err(HistoryError::Conflict)
    }
}
