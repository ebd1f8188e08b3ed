//! Retention: deleting a closed run once its namespace's retention has passed (Temporal's
//! DeleteHistoryEventTask → DeleteWorkflowExecutionByRetention).
//!
//! One replicated batch removes the run's mutable state and version, every history event, its
//! visibility row and its index entries, the workflow id's current-run pointer if it still names this run, and the
//! timer row itself, so a replica never holds half a run. Whatever else still names the run (a late timer, a
//! dispatch row) finds no state afterwards and is dropped as stale by its own path. This module
//! must never delete a running run, nor a current pointer that names another run.

use perdure_core::TimerTask;
use perdure_storage::{keys, ApplyOutcome, Cf, Check, Expect, Op, WriteBatch};

use crate::cache::{Cached, ExecKey};
use crate::errors::HistoryError;
use crate::shard::Shard;
use crate::tables;

/// How often a deletion that lost a race (a write to the run, a start moving the pointer) is
/// rebuilt from fresh state; after that the timer wheel retries it later.
const DELETE_ATTEMPTS: usize = 3;

impl Shard {
    /// Executes a `DeleteRun` timer (task row `task_id`).
    pub(crate) async fn delete_run(
        &self,
        task_id: u64,
        task: &TimerTask,
    ) -> Result<(), HistoryError> {
        self.ensure_leader()?;
        let g = self.id;
        let key = ExecKey::new(&task.namespace_id, &task.workflow_id, &task.run_id);
        let (ns, wf, run) = (&key.namespace_id, &key.workflow_id, &key.run_id);
        let row = Op::Delete {
            cf: Cf::TimerTasks,
            key: keys::timer_task(g, task.fire_time_unix_nanos, task_id),
        };
        // Held until the batch is applied: no other write of this run can slip in between.
        let mut guard = self.cache.lock(&key).await;
        for _ in 0..DELETE_ATTEMPTS {
            if guard.is_none() {
                *guard = tables::load_execution(&self.store, g, &key)?
                    .map(|(state, version)| Cached { state, version });
            }
            let mut batch = WriteBatch {
                checks: Vec::new(),
                ops: vec![row.clone()],
            };
            match guard.as_ref() {
                // Already gone (a replayed timer): only the row is left.
                None => {}
                // Runs never reopen, so this timer is not ours to act on; Temporal ignores it too.
                Some(c) if c.state.is_running() => {
                    tracing::warn!(workflow_id = %wf, run_id = %run, "retention timer of a running run ignored");
                }
                Some(c) => {
                    let version_key = keys::execution_version(g, ns, wf, run);
                    batch.checks.push(Check {
                        cf: Cf::Executions,
                        key: version_key.clone(),
                        expect: Expect::Equals(tables::encode_version(c.version)),
                    });
                    let (from, to) = keys::history_range(g, ns, wf, run);
                    batch.ops.extend([
                        Op::Delete {
                            cf: Cf::Executions,
                            key: keys::execution(g, ns, wf, run),
                        },
                        Op::Delete {
                            cf: Cf::Executions,
                            key: version_key,
                        },
                        Op::DeleteRange {
                            cf: Cf::History,
                            from,
                            to,
                        },
                    ]);
                    batch.ops.extend(crate::visibility::index::delete_ops(
                        &self.store,
                        g,
                        ns,
                        wf,
                        run,
                    )?);
                    // The pointer goes only while it names this run; the check makes a start
                    // that moved it meanwhile win.
                    if let Some((current, raw)) = tables::load_current(&self.store, g, ns, wf)? {
                        if current.run_id == *run {
                            let current_key = keys::current_execution(g, ns, wf);
                            batch.checks.push(Check {
                                cf: Cf::CurrentExecutions,
                                key: current_key.clone(),
                                expect: Expect::Equals(raw),
                            });
                            batch.ops.push(Op::Delete {
                                cf: Cf::CurrentExecutions,
                                key: current_key,
                            });
                        }
                    }
                }
            }
            let deleting = guard.is_some();
            match self.propose(batch).await {
                Ok(ApplyOutcome::Applied) => {
                    *guard = None;
                    if deleting {
                        tracing::debug!(workflow_id = %wf, run_id = %run, "closed run deleted after its retention");
                    }
                    return Ok(());
                }
                Ok(ApplyOutcome::Rejected { .. }) => {
                    *guard = None;
                    continue;
                }
                Err(e) => {
                    // The outcome is unknown: the cache must not claim either way.
                    *guard = None;
                    return Err(e);
                }
            }
        }
        Err(HistoryError::Conflict)
    }
}
