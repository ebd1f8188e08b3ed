//! One history shard as seen from its leader: the write path of DESIGN.md §3.
//!
//! A request locks its execution, computes the new state with the pure core, turns the result
//! into one replicated [`WriteBatch`] (preconditions, events, state, tasks) and answers only after
//! Raft has committed and applied it. Tasks created by a committed write are handed to matching
//! and to the timer wheel afterwards, never before: a task must not run ahead of its write.
//!
//! This module must never write RocksDB directly (only through Raft) and never answer a caller
//! before the write is applied.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use perdure_core::{
    CurrentExecution, MutableState, Mutation, NewRun, NewRunIds, Time, TimerTask, TransferTask,
};
use perdure_raft::Group;
use perdure_storage::{keys, ApplyOutcome, Cf, Check, Expect, Op, ShardId, Store, WriteBatch};
use prost::Message;
use tokio::sync::{mpsc, watch};

use crate::cache::{Cached, ExecKey, ExecutionCache};
use crate::effects::CrossShard;
use crate::errors::HistoryError;
use crate::queries::QueryRegistry;
use crate::tables;
use crate::timer_wheel::{TimerWindow, WheelStats};
use crate::updates::UpdateRegistry;
use crate::visibility;
use crate::watchers::{Progress, Watchers};
use crate::HistoryConfig;
use crate::{DispatchTask, TaskSink};

/// How often a write that lost a precondition race is rebuilt from fresh state and retried.
const CONFLICT_RETRIES: usize = 3;

/// Task ids are `(term << TERM_SHIFT) | counter`: unique across leaders because a term has at
/// most one leader, and increasing within a term so scans see them in creation order.
const TERM_SHIFT: u32 = 40;

/// How long a call waits for this node's new leadership term to begin serving.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// What an operation on an execution decided to write.
pub struct Plan<R> {
    pub state: MutableState,
    pub mutation: Mutation,
    /// Preconditions beyond the execution's own version (e.g. the current-run pointer).
    pub extra_checks: Vec<Check>,
    /// Writes outside the execution itself (e.g. deleting the transfer task being started).
    pub extra_ops: Vec<Op>,
    pub reply: R,
}

impl<R> Plan<R> {
    pub fn new(state: MutableState, mutation: Mutation, reply: R) -> Self {
        Self {
            state,
            mutation,
            extra_checks: Vec::new(),
            extra_ops: Vec::new(),
            reply,
        }
    }
}

/// What an operation returns to [`Shard::update`].
// Moved once per attempt and consumed at once; boxing the plan would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Step<R> {
    /// Nothing to write (an idempotent retry...): answer once a read barrier confirms that this
    /// node still leads, since the answer comes from local state a client will act on.
    Reply(R),
    /// Nothing to write and no client waits on the answer (a stale timer): answer at once. A
    /// deposed leader acting on it can only propose, and a proposal fails without a quorum.
    Skip(R),
    Write(Plan<R>),
}

/// What a committed write changes on the leader besides the store.
struct Write {
    key: ExecKey,
    cached: Cached,
    closed: bool,
    timers: Vec<(u64, TimerTask)>,
    transfers: Vec<(u64, TransferTask)>,
    updates: Vec<perdure_core::UpdateProgress>,
}

type CacheGuard = tokio::sync::OwnedMutexGuard<Option<Cached>>;

/// A write batch and the tasks it persists, with the ids they were given.
type BuiltBatch = (WriteBatch, Vec<(u64, TimerTask)>, Vec<(u64, TransferTask)>);

pub struct Shard {
    pub(crate) id: ShardId,
    pub(crate) group: Arc<Group>,
    pub(crate) store: Store,
    pub(crate) cache: ExecutionCache,
    pub(crate) watchers: Watchers,
    /// Queries waiting for a workflow task of their run (leader only, never persisted).
    pub(crate) queries: QueryRegistry,
    /// Updates admitted and not yet finished (leader only, never persisted).
    pub(crate) updates: UpdateRegistry,
    sink: Arc<dyn TaskSink>,
    next_task_id: AtomicU64,
    /// The running timer wheel of the current leadership term, if any.
    timers: Mutex<Option<mpsc::UnboundedSender<(u64, TimerTask)>>>,
    /// The effect runner of the current leadership term (`effects.rs`), if any.
    effects: Mutex<Option<mpsc::UnboundedSender<(u64, TransferTask)>>>,
    /// How effects reach other shards (set once the node is wired).
    pub(crate) cross: Arc<std::sync::OnceLock<Arc<dyn CrossShard>>>,
    /// How far ahead that wheel holds timers in memory.
    pub(crate) timer_window: TimerWindow,
    /// Least spacing between a run and the successor it starts (see `NewRunIds`).
    min_run_interval: std::time::Duration,
    pub(crate) wheel_stats: WheelStats,
    /// Asks the leadership loop to begin the current term again: reload the dispatch rows and
    /// the timer window from applied state. Needed after a proposal whose outcome is unknown (it
    /// timed out but may still commit in this term): its tasks never went through
    /// `after_commit`, so without a reload its timers would wait for the next leader.
    pub(crate) resync: tokio::sync::Notify,
    /// The term this shard serves (0: none). Raft may already report leadership while the
    /// term's barrier is in flight; until [`Shard::begin_term`] has run, the task-id counter
    /// still belongs to an older term (or is 0 after a restart), so writes must wait for it.
    serving: watch::Sender<u64>,
}

pub fn now() -> Time {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    Time(nanos)
}

impl Shard {
    pub fn new(id: ShardId, group: Arc<Group>, store: Store, sink: Arc<dyn TaskSink>) -> Self {
        Self {
            id,
            group,
            store,
            cache: ExecutionCache::default(),
            watchers: Watchers::default(),
            queries: QueryRegistry::default(),
            updates: UpdateRegistry::default(),
            sink,
            next_task_id: AtomicU64::new(0),
            timers: Mutex::new(None),
            effects: Mutex::new(None),
            cross: Arc::default(),
            timer_window: TimerWindow::default(),
            min_run_interval: perdure_core::WORKFLOW_ID_REUSE_MINIMAL_INTERVAL,
            wheel_stats: WheelStats::default(),
            serving: watch::Sender::new(0),
            resync: tokio::sync::Notify::new(),
        }
    }

    pub(crate) fn with_config(mut self, config: HistoryConfig) -> Self {
        self.timer_window = config.timer_window;
        self.min_run_interval = config.min_run_interval;
        self
    }

    /// Fresh ids for the run an operation may start (a retry, a continue-as-new); allocated
    /// before the operation runs because the core never makes up ids.
    pub fn new_run_ids(&self) -> NewRunIds {
        NewRunIds {
            run_id: uuid::Uuid::new_v4().to_string(),
            request_id: uuid::Uuid::new_v4().to_string(),
            min_interval: self.min_run_interval,
        }
    }

    pub fn id(&self) -> ShardId {
        self.id
    }

    /// Called by the leadership loop when this node becomes leader of `term`.
    pub(crate) fn begin_term(&self, term: u64, timers: mpsc::UnboundedSender<(u64, TimerTask)>) {
        self.cache.clear();
        // A term begun again (see `resync`) keeps its counter: ids already written in this
        // term must never be handed out twice.
        self.next_task_id
            .fetch_max(term << TERM_SHIFT, Ordering::SeqCst);
        *self.timers.lock().unwrap_or_else(|e| e.into_inner()) = Some(timers);
        self.serving.send_replace(term);
    }

    /// Called when leadership is lost: forget everything that was only true for the leader.
    pub(crate) fn end_term(&self) {
        self.serving.send_replace(0);
        self.cache.clear();
        self.queries.clear();
        self.updates.clear();
        *self.timers.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self.effects.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// The effect runner of the term that has just begun.
    pub(crate) fn set_effects(&self, tx: mpsc::UnboundedSender<(u64, TransferTask)>) {
        *self.effects.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
    }

    pub(crate) fn cross_shard(&self) -> Option<Arc<dyn CrossShard>> {
        self.cross.get().cloned()
    }

    /// Waits until this shard serves a leadership term (true) or `timeout` passes (false).
    pub(crate) async fn wait_serving(&self, timeout: std::time::Duration) -> bool {
        let mut rx = self.serving.subscribe();
        let waited = tokio::time::timeout(timeout, rx.wait_for(|t| *t != 0)).await;
        matches!(waited, Ok(Ok(_)))
    }

    /// Waits (briefly) for a term Raft has just given this node to begin serving: between the
    /// election and the applied barrier, calls would otherwise be refused although this node
    /// is about to serve them.
    pub(crate) async fn settle(&self) {
        if self.group.is_leader() && *self.serving.borrow() == 0 {
            self.wait_serving(SETTLE_WAIT).await;
        }
    }

    /// Writes and leader reads are allowed only while Raft's current term is the one this shard
    /// has begun serving (cache reset, task ids of this term, timer wheel running).
    pub(crate) fn ensure_leader(&self) -> Result<(), HistoryError> {
        let serving = *self.serving.borrow();
        if serving != 0 && *self.group.leadership().borrow() == Some(serving) {
            Ok(())
        } else {
            Err(HistoryError::NotLeader { shard: self.id.0 })
        }
    }

    /// [`Shard::ensure_leader`] plus Raft's read index: confirms with a quorum that this node
    /// still leads and has applied everything committed so far. Every answer computed from
    /// local state without a write behind it (reads, idempotent replies, dedup decisions) waits
    /// on this first, so a deposed leader cut off from the majority never answers stale data.
    pub(crate) async fn read_barrier(&self) -> Result<(), HistoryError> {
        self.settle().await;
        self.ensure_leader()?;
        self.group.read_barrier().await?;
        self.ensure_leader()
    }

    pub(crate) fn task_id(&self) -> u64 {
        self.next_task_id.fetch_add(1, Ordering::SeqCst)
    }

    /// Read-modify-write of one execution. `op` sees the current state (or `None` if the run
    /// does not exist) and the leader's clock; it may run more than once if the write loses a
    /// race, so it must not have side effects.
    ///
    /// Cancellation-safe: once a batch is proposed, the rest (waiting for the commit, updating
    /// the cache, handing the tasks to matching and the timer wheel) runs in its own task, so a
    /// caller that goes away (a poll cut by its deadline) cannot leave a committed write whose
    /// timers never reach the wheel, or a cache that still shows the state before the write.
    pub async fn update<R>(
        self: &Arc<Self>,
        key: &ExecKey,
        mut op: impl FnMut(Option<&MutableState>, Time) -> Result<Step<R>, HistoryError>,
    ) -> Result<R, HistoryError> {
        self.settle().await;
        self.ensure_leader()?;
        let mut guard = self.cache.lock(key).await;
        for _ in 0..CONFLICT_RETRIES {
            if guard.is_none() {
                *guard = tables::load_execution(&self.store, self.id, key)?
                    .map(|(state, version)| Cached { state, version });
            }
            let current = guard.as_ref();
            // The leader's clock as it is: MutableState::write keeps event stamps monotonic.
            let at = now();
            let mut plan = match op(current.map(|c| &c.state), at)? {
                Step::Reply(r) => {
                    self.read_barrier().await?;
                    return Ok(r);
                }
                Step::Skip(r) => return Ok(r),
                Step::Write(plan) => plan,
            };
            enforce_history_limits(&mut plan, at);
            if plan.mutation.closed {
                // A run's close may have to reach its parent and its children.
                let successor = plan.mutation.new_run.is_some();
                if let Some(t) = plan.state.run_closed_task(successor) {
                    plan.mutation.transfer_tasks.push(t);
                }
            }
            let version = current.map_or(0, |c| c.version);
            // One transition per write, as the run's version counts them (a new run: 1).
            plan.state.state_transition_count = version as i64 + 1;
            // Each event carries a task id of the write that stored it, as Temporal's do.
            for event in &mut plan.mutation.events {
                event.task_id = self.task_id() as i64;
            }
            if let Some(new_run) = &mut plan.mutation.new_run {
                new_run.state.state_transition_count = 1;
                for event in &mut new_run.mutation.events {
                    event.task_id = self.task_id() as i64;
                }
            }
            let (batch, timers, transfers) =
                self.build_batch(key, version, current.map(|c| &c.state), &plan)?;
            let Plan {
                state,
                mutation,
                reply,
                ..
            } = plan;
            let write = Write {
                key: key.clone(),
                cached: Cached {
                    state,
                    version: version + 1,
                },
                closed: mutation.closed,
                timers,
                transfers,
                updates: mutation.updates,
            };
            let (outcome, back) = tokio::spawn(self.clone().commit(batch, write, guard))
                .await
                .map_err(|_| HistoryError::from(perdure_raft::ProposeError::Shutdown))?;
            match outcome {
                Ok(ApplyOutcome::Applied) => return Ok(reply),
                // Someone else's write got there first: reload and decide again.
                Ok(ApplyOutcome::Rejected { .. }) => {}
                Err(e) => return Err(e),
            }
            guard = back.ok_or(HistoryError::Conflict)?;
        }
        Err(HistoryError::Conflict)
    }

    /// The second half of [`Shard::update`], in its own task: proposes `batch` and, once it is
    /// applied, records the new state in the cache and hands the write's tasks on. Gives the
    /// execution's lock back only when the caller must decide again (a lost race).
    async fn commit(
        self: Arc<Self>,
        batch: WriteBatch,
        write: Write,
        mut guard: CacheGuard,
    ) -> (Result<ApplyOutcome, HistoryError>, Option<CacheGuard>) {
        // Until the outcome is known, the cache must not claim either state.
        *guard = None;
        let outcome = self.propose(batch).await;
        match outcome {
            Ok(ApplyOutcome::Applied) => {
                let progress = Progress {
                    next_event_id: write.cached.state.next_event_id,
                    closed: write.closed,
                };
                // Still under the run's lock, so a query deciding to wait cannot miss this.
                self.queries.after_write(&write.key, &write.cached.state);
                self.updates
                    .after_write(&write.key, &write.updates, &write.cached.state);
                *guard = Some(write.cached);
                drop(guard);
                self.after_commit(&write.key, progress, write.transfers, write.timers);
                (outcome, None)
            }
            Ok(ApplyOutcome::Rejected { .. }) => (outcome, Some(guard)),
            // Unknown outcome (it may still commit): the cache stays empty and reloads.
            Err(_) => (outcome, None),
        }
    }

    /// The common case of [`Shard::update`]: the run must exist (NotFound otherwise), `op`
    /// changes a copy of its state and returns the mutation and the reply, and the result is
    /// always written.
    pub async fn mutate<R>(
        self: &Arc<Self>,
        key: &ExecKey,
        mut op: impl FnMut(&mut MutableState, Time) -> Result<(Mutation, R), HistoryError>,
    ) -> Result<R, HistoryError> {
        self.update(key, |state, now| {
            let state = state.ok_or_else(|| HistoryError::from(crate::api::run_not_found(key)))?;
            let mut next = state.clone();
            let (mutation, reply) = op(&mut next, now)?;
            Ok(Step::Write(Plan::new(next, mutation, reply)))
        })
        .await
    }

    fn build_batch<R>(
        &self,
        key: &ExecKey,
        version: u64,
        previous: Option<&MutableState>,
        plan: &Plan<R>,
    ) -> Result<BuiltBatch, HistoryError> {
        let exists = previous.is_some();
        let g = self.id;
        let (ns, wf, run) = (&key.namespace_id, &key.workflow_id, &key.run_id);
        let version_key = keys::execution_version(g, ns, wf, run);
        let mut batch = WriteBatch::default();
        batch.checks.push(Check {
            cf: Cf::Executions,
            key: version_key.clone(),
            expect: if exists {
                Expect::Equals(tables::encode_version(version))
            } else {
                Expect::Absent
            },
        });
        batch.ops.push(Op::Put {
            cf: Cf::Executions,
            key: keys::execution(g, ns, wf, run),
            value: plan.state.encode_to_vec(),
        });
        batch.ops.push(Op::Put {
            cf: Cf::Executions,
            key: version_key,
            value: tables::encode_version(version + 1),
        });
        for event in &plan.mutation.events {
            batch.ops.push(Op::Put {
                cf: Cf::History,
                key: keys::history_event(g, ns, wf, run, event.event_id),
                value: event.encode_to_vec(),
            });
        }
        let mut transfers = Vec::with_capacity(plan.mutation.transfer_tasks.len());
        for task in &plan.mutation.transfer_tasks {
            let id = self.task_id();
            batch.ops.push(Op::Put {
                cf: Cf::TransferTasks,
                key: keys::transfer_task(g, id),
                value: task.encode_to_vec(),
            });
            transfers.push((id, task.clone()));
        }
        let mut timers = Vec::with_capacity(plan.mutation.timer_tasks.len());
        for task in &plan.mutation.timer_tasks {
            let id = self.task_id();
            batch.ops.push(Op::Put {
                cf: Cf::TimerTasks,
                key: keys::timer_task(g, task.fire_time_unix_nanos, id),
                value: task.encode_to_vec(),
            });
            timers.push((id, task.clone()));
        }
        // The run's visibility row, when this write changes what List shows of it.
        batch
            .ops
            .extend(visibility::changed_row(g, ns, previous, &plan.state));
        if let Some(new_run) = &plan.mutation.new_run {
            self.put_new_run(key, new_run, &mut batch, &mut timers, &mut transfers);
        }
        if plan.mutation.closed {
            let successor = plan.mutation.new_run.as_ref().map(|n| &n.state);
            self.close_current(ns, wf, &plan.state, successor, &mut batch)?;
        }
        batch.checks.extend(plan.extra_checks.iter().cloned());
        batch.ops.extend(plan.extra_ops.iter().cloned());
        Ok((batch, timers, transfers))
    }

    /// When the closing run is the workflow id's current run, record its final status there so
    /// the next start sees it closed — or, when closing it started a successor (a retry), make
    /// the successor current. The precondition makes this safe against a racing start.
    fn close_current(
        &self,
        ns: &str,
        wf: &str,
        state: &MutableState,
        successor: Option<&MutableState>,
        batch: &mut WriteBatch,
    ) -> Result<(), HistoryError> {
        let loaded = tables::load_current(&self.store, self.id, ns, wf)?;
        let Some((mut current, raw)) = loaded.filter(|(c, _)| c.run_id == state.run_id) else {
            if successor.is_some() {
                // A successor nobody could find by workflow id must not be created.
                return Err(HistoryError::Malformed {
                    what: "current execution",
                    detail: "a retried run is not its workflow id's current run",
                });
            }
            return Ok(());
        };
        let key = keys::current_execution(self.id, ns, wf);
        batch.checks.push(Check {
            cf: Cf::CurrentExecutions,
            key: key.clone(),
            expect: Expect::Equals(raw),
        });
        match successor {
            Some(next) => {
                current = CurrentExecution {
                    run_id: next.run_id.clone(),
                    start_request_id: next.start_request_id.clone(),
                    status: next.status,
                    first_execution_run_id: next.first_execution_run_id.clone(),
                }
            }
            None => current.status = state.status,
        }
        batch.ops.push(Op::Put {
            cf: Cf::CurrentExecutions,
            key,
            value: current.encode_to_vec(),
        });
        Ok(())
    }

    /// Adds a run created by another run's write (a retry) to the same batch: its state, a
    /// version that must not exist yet, its visibility row, its history and its tasks.
    fn put_new_run(
        &self,
        parent: &ExecKey,
        new_run: &NewRun,
        batch: &mut WriteBatch,
        timers: &mut Vec<(u64, TimerTask)>,
        transfers: &mut Vec<(u64, TransferTask)>,
    ) {
        let g = self.id;
        let (ns, wf, run) = (
            &parent.namespace_id,
            &parent.workflow_id,
            &new_run.state.run_id,
        );
        let version_key = keys::execution_version(g, ns, wf, run);
        batch.checks.push(Check {
            cf: Cf::Executions,
            key: version_key.clone(),
            expect: Expect::Absent,
        });
        batch.ops.push(Op::Put {
            cf: Cf::Executions,
            key: keys::execution(g, ns, wf, run),
            value: new_run.state.encode_to_vec(),
        });
        batch.ops.push(Op::Put {
            cf: Cf::Executions,
            key: version_key,
            value: tables::encode_version(1),
        });
        batch
            .ops
            .extend(visibility::changed_row(g, ns, None, &new_run.state));
        let m = &new_run.mutation;
        for event in &m.events {
            batch.ops.push(Op::Put {
                cf: Cf::History,
                key: keys::history_event(g, ns, wf, run, event.event_id),
                value: event.encode_to_vec(),
            });
        }
        for task in &m.transfer_tasks {
            let id = self.task_id();
            batch.ops.push(Op::Put {
                cf: Cf::TransferTasks,
                key: keys::transfer_task(g, id),
                value: task.encode_to_vec(),
            });
            transfers.push((id, task.clone()));
        }
        for task in &m.timer_tasks {
            let id = self.task_id();
            batch.ops.push(Op::Put {
                cf: Cf::TimerTasks,
                key: keys::timer_task(g, task.fire_time_unix_nanos, id),
                value: task.encode_to_vec(),
            });
            timers.push((id, task.clone()));
        }
    }

    /// Proposes a batch built outside [`Shard::update`] (start, task deletions).
    pub(crate) async fn propose(&self, batch: WriteBatch) -> Result<ApplyOutcome, HistoryError> {
        self.ensure_leader()?;
        let started = std::time::Instant::now();
        let outcome = self.group.propose(batch).await;
        let label = match &outcome {
            Ok(ApplyOutcome::Applied) => "applied",
            Ok(ApplyOutcome::Rejected { .. }) => "rejected",
            Err(_) => "error",
        };
        perdure_metrics::metrics().observe_proposal("history", label, started.elapsed());
        if let Err(e @ perdure_raft::ProposeError::Timeout { .. }) = &outcome {
            tracing::warn!(shard = %self.id, error = %e, "proposal outcome unknown; reloading the term's tasks");
            self.resync.notify_one();
        }
        Ok(outcome?)
    }

    /// Hands a committed write's tasks to matching and the timer wheel and wakes long polls.
    pub(crate) fn after_commit(
        &self,
        key: &ExecKey,
        progress: Progress,
        transfers: Vec<(u64, TransferTask)>,
        timers: Vec<(u64, TimerTask)>,
    ) {
        self.watchers.publish(key, progress);
        self.hand_over(transfers, timers);
    }

    /// Hands committed transfer rows to their runner and timers to the wheel.
    pub(crate) fn hand_over(
        &self,
        transfers: Vec<(u64, TransferTask)>,
        timers: Vec<(u64, TimerTask)>,
    ) {
        for (task_id, task) in transfers {
            self.dispatch_loaded(task_id, task);
        }
        if !timers.is_empty() {
            if let Some(tx) = self
                .timers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
            {
                for t in timers {
                    // A closed wheel means leadership ended; the next leader loads from disk.
                    let _ = tx.send(t);
                }
            }
        }
    }

    /// Hands a pending transfer row on: effects to this term's effect runner, tasks for
    /// workers to matching.
    pub(crate) fn dispatch_loaded(&self, task_id: u64, task: TransferTask) {
        if task.is_effect() {
            if let Some(tx) = self
                .effects
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
            {
                // A closed runner means leadership ended; the next leader loads the row.
                let _ = tx.send((task_id, task));
            }
            return;
        }
        self.sink.dispatch(DispatchTask {
            shard: self.id,
            task_id,
            task,
        });
    }

    /// Removes a transfer task that turned out stale (its task started elsewhere or vanished).
    pub(crate) async fn delete_transfer_task(&self, task_id: u64) -> Result<(), HistoryError> {
        let batch = WriteBatch {
            checks: Vec::new(),
            ops: vec![Op::Delete {
                cf: Cf::TransferTasks,
                key: keys::transfer_task(self.id, task_id),
            }],
        };
        self.propose(batch).await.map(|_| ())
    }

    /// The current state of a run, from the cache or disk (leader only).
    pub async fn read_state(&self, key: &ExecKey) -> Result<Option<MutableState>, HistoryError> {
        self.inspect(key, |state| Ok(state.cloned())).await
    }

    /// Runs `f` on the current state of a run (None: no such run) while holding the run's lock,
    /// after a read barrier: nothing can be written to the run until `f` returns.
    pub(crate) async fn inspect<T>(
        &self,
        key: &ExecKey,
        f: impl FnOnce(Option<&MutableState>) -> Result<T, HistoryError>,
    ) -> Result<T, HistoryError> {
        self.read_barrier().await?;
        let mut guard = self.cache.lock(key).await;
        if guard.is_none() {
            *guard = tables::load_execution(&self.store, self.id, key)?
                .map(|(state, version)| Cached { state, version });
        }
        f(guard.as_ref().map(|c| &c.state))
    }
}

/// Temporal's hard history limits apply to every write, not only to workflow task completions:
/// a write that leaves a running run over the event-count or size limit also terminates it, in
/// the same batch. The write itself still succeeds, as in Temporal.
fn enforce_history_limits<R>(plan: &mut Plan<R>, now: Time) {
    let Some(reason) = plan.state.history_limit_exceeded() else {
        return;
    };
    match plan
        .state
        .terminate(reason, None, perdure_core::HISTORY_SERVICE_IDENTITY, now)
    {
        Ok(m) => {
            tracing::warn!(workflow_id = %plan.state.workflow_id, run_id = %plan.state.run_id, reason, "terminating run over its history limit");
            plan.mutation.events.extend(m.events);
            plan.mutation.transfer_tasks.extend(m.transfer_tasks);
            plan.mutation.timer_tasks.extend(m.timer_tasks);
            plan.mutation.closed |= m.closed;
        }
        Err(e) => tracing::warn!(error = %e, "run over its history limit not terminated"),
    }
}

#[cfg(test)]
mod limit_tests {
    use perdure_core::{start_workflow, StartParams};
    use temporalio_protos::temporal::api::common::v1::WorkflowType;
    use temporalio_protos::temporal::api::enums::v1::{EventType, WorkflowExecutionStatus};
    use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
    use temporalio_protos::temporal::api::workflowservice::v1::StartWorkflowExecutionRequest;

    use super::*;

    fn started() -> MutableState {
        let request = StartWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_id: "wf".into(),
            workflow_type: Some(WorkflowType { name: "T".into() }),
            task_queue: Some(TaskQueue {
                name: "q".into(),
                ..Default::default()
            }),
            request_id: "r".into(),
            ..Default::default()
        };
        let params = StartParams {
            request,
            namespace_id: "ns".into(),
            run_id: "run".into(),
            first_execution_run_id: "run".into(),
            attempt: 1,
            retention: None,
            parent: None,
        };
        start_workflow(params, Time(1_000)).unwrap().0
    }

    #[test]
    fn a_write_over_the_size_limit_also_terminates_the_run() {
        let mut state = started();
        state.history_size_bytes = perdure_core::limits::HISTORY_SIZE_LIMIT_ERROR + 1;
        let mut plan = Plan::new(state, Mutation::default(), ());
        enforce_history_limits(&mut plan, Time(2_000));
        assert!(plan.mutation.closed);
        assert_eq!(
            plan.mutation.events.last().map(|e| e.event_type),
            Some(EventType::WorkflowExecutionTerminated as i32)
        );
        assert_eq!(
            plan.state.status,
            WorkflowExecutionStatus::Terminated as i32
        );
    }

    #[test]
    fn a_write_under_the_limits_is_left_alone() {
        let mut plan = Plan::new(started(), Mutation::default(), ());
        enforce_history_limits(&mut plan, Time(2_000));
        assert!(plan.mutation.is_empty());
        assert!(plan.state.is_running());
    }
}
