//! Dispatch across nodes: committed dispatch tasks travel from their workflow shard's leader to
//! the owner of their task queue partition, and only there reach matching.
//!
//! The durable backlog stays where it was: the shard's transfer rows, each deleted in the batch
//! that starts its task. Offers are therefore fire-and-forget: a lost offer, an owner that
//! died, or an owner that changed is repaired by the shard leader re-offering its old rows (see
//! `perdure-history/src/leader.rs`), and the owner ignores an offer of a task it already holds
//! (`held`). A task is started at most once because RecordTaskStarted is a write that checks
//! the run's state; it is offered at least once per owner because rows outlive offers.
//!
//! When this node stops owning a partition, its tasks are dropped from memory and its waiting
//! polls end empty, so workers re-poll and reach the new owner. This module never writes.
//!
//! Workflow queues also carry queries handed to workers outside a workflow task
//! ([`Work::Query`], see `query_dispatch.rs`); they are never durable and never offered again.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use perdure_api::internal::internal_client::InternalClient;
use perdure_api::internal::{OfferTasksRequest, OfferedTask};
use perdure_core::transfer_task::Kind;
use perdure_core::TransferTask;
use perdure_history::{DispatchTask, TaskSink};
use perdure_matching::{Matching, TaskKind, TaskQueueKey};
use perdure_storage::GroupId;
use prost::Message;
use tokio::sync::mpsc;

use crate::query_dispatch::{QueryTask, QueryWaiters};
use crate::routing::{Owner, Routing};

/// Most tasks sent in one OfferTasks call.
const OFFER_BATCH: usize = 512;
/// How often partitions this node no longer owns are let go.
const RELEASE_PERIOD: Duration = Duration::from_millis(500);

/// A task's identity: its shard and the id of its durable row.
type TaskRef = (u32, u64);

/// What a poller can get from matching.
pub enum Work {
    /// A task with a durable row: started through its shard leader.
    Task(DispatchTask),
    /// A query for a worker: handed over as it is, answered by RespondQueryTaskCompleted.
    Query(QueryTask),
}

pub struct Dispatcher {
    matching: Matching<Work>,
    /// Callers waiting for the answers to the queries this node's matching hands out.
    pub(crate) queries: QueryWaiters,
    routing: Arc<Routing>,
    /// Tasks in this node's matching (queued or leased to a poll), so a re-offer is not queued
    /// twice. A task whose run is unreadable stays here for good: it is never queued again by
    /// this process (poison task), while its row waits for an operator.
    held: Mutex<HashSet<TaskRef>>,
    /// One sender per remote owner address; its task batches offers into OfferTasks calls.
    outboxes: Mutex<HashMap<String, mpsc::UnboundedSender<DispatchTask>>>,
}

/// The queue a task goes to, and the normal queue that decides its owner.
pub fn queue_key(task: &TransferTask) -> Option<TaskQueueKey> {
    let kind = match task.kind.as_ref()? {
        Kind::WorkflowTask(_) => TaskKind::Workflow,
        Kind::ActivityTask(_) => TaskKind::Activity,
        // Effects on other runs never reach matching (see perdure-history's effects.rs).
        Kind::StartChild(_) | Kind::RunClosed(_) | Kind::External(_) | Kind::ScheduleAction(_) => {
            return None
        }
    };
    Some(TaskQueueKey::new(
        task.namespace_id.clone(),
        task.task_queue.clone(),
        kind,
    ))
}

fn normal_queue(task: &TransferTask) -> &str {
    if task.normal_task_queue.is_empty() {
        &task.task_queue
    } else {
        &task.normal_task_queue
    }
}

pub(crate) fn encode_offer(task: &DispatchTask) -> OfferedTask {
    OfferedTask {
        shard: task.shard.0,
        task_id: task.task_id,
        transfer_task: task.task.encode_to_vec(),
    }
}

pub(crate) fn decode_offer(offer: &OfferedTask) -> Result<DispatchTask, prost::DecodeError> {
    Ok(DispatchTask {
        shard: GroupId(offer.shard),
        task_id: offer.task_id,
        task: TransferTask::decode(offer.transfer_task.as_slice())?,
    })
}

impl Dispatcher {
    /// Starts the dispatcher and its background release loop (on the current runtime).
    pub fn start(matching: Matching<Work>, routing: Arc<Routing>) -> Arc<Self> {
        let d = Arc::new(Self {
            matching,
            queries: QueryWaiters::default(),
            routing,
            held: Mutex::new(HashSet::new()),
            outboxes: Mutex::new(HashMap::new()),
        });
        tokio::spawn(release_loop(Arc::downgrade(&d)));
        d
    }

    pub fn matching(&self) -> &Matching<Work> {
        &self.matching
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashSet<TaskRef>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when this node owns the partitions of `normal_queue` (and its sticky queues).
    pub fn owns_queue(&self, namespace_id: &str, normal_queue: &str) -> bool {
        self.routing
            .is_local(self.routing.queue_group(namespace_id, normal_queue))
    }

    /// The group owning the partition a task goes to.
    pub fn owner_group(&self, task: &TransferTask) -> GroupId {
        self.routing
            .queue_group(&task.namespace_id, normal_queue(task))
    }

    /// Queues a task in this node's matching, unless it is already held. Returns false when
    /// this node does not own the task's partition (the task is not taken).
    pub fn accept(&self, task: DispatchTask) -> bool {
        if !self.routing.is_local(self.owner_group(&task.task)) {
            return false;
        }
        let Some(key) = queue_key(&task.task) else {
            tracing::warn!(
                task_id = task.task_id,
                "transfer task without a kind ignored"
            );
            return true;
        };
        if !self.held().insert((task.shard.0, task.task_id)) {
            return true;
        }
        if task.task.normal_task_queue.is_empty() {
            self.matching.add(&key, Work::Task(task));
        } else {
            let normal = TaskQueueKey::new(
                key.namespace_id.clone(),
                task.task.normal_task_queue.clone(),
                key.kind,
            );
            self.matching.add_sticky(&key, &normal, Work::Task(task));
        }
        true
    }

    /// Work left matching for good (started, found stale, or handed back for re-dispatch). A
    /// query that leaves without being handed to a worker tells its caller so.
    pub fn release(&self, work: &Work) {
        match work {
            Work::Task(task) => {
                self.held().remove(&(task.shard.0, task.task_id));
            }
            Work::Query(q) => self.queries.dropped(&q.id),
        }
    }

    /// A task whose run cannot be read (corruption): dropped from matching but kept in `held`,
    /// so re-offers of it are ignored instead of handing it to pollers again and again.
    pub fn quarantine(&self, work: &Work) {
        if let Work::Task(task) = work {
            tracing::error!(shard = %task.shard, task_id = task.task_id, workflow_id = %task.task.workflow_id, "task quarantined: its run could not be read");
        }
    }

    fn send_remote(&self, addr: String, task: DispatchTask) {
        let mut outboxes = self.outboxes.lock().unwrap_or_else(|e| e.into_inner());
        let tx = outboxes.entry(addr.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(offer_loop(self.routing.clone(), addr.clone(), rx));
            tx
        });
        if tx.send(task).is_err() {
            // The sender task ended (runtime shutting down); re-offers will retry.
            outboxes.remove(&addr);
        }
    }

    /// Lets go of partitions whose group this node no longer leads: their queued tasks are
    /// forgotten (the new owner gets them re-offered) and their polls end empty, so workers
    /// re-poll and reach the new owner.
    fn release_lost_partitions(&self) {
        for key in self.matching.keys() {
            let group = self.routing.queue_group(&key.namespace_id, &key.name);
            if self.routing.is_local(group) {
                continue;
            }
            // Sticky partitions are keyed by their own name; their tasks name the normal queue.
            for work in self.matching.drain(&key) {
                self.release(&work);
            }
        }
        let mut dropped = Vec::new();
        self.matching.retain(|w| match w {
            Work::Task(t) => {
                let keep = self.routing.is_local(self.owner_group(&t.task));
                if !keep {
                    dropped.push((t.shard.0, t.task_id));
                }
                keep
            }
            // Queries live in partitions of their own owner; drained above when it changes.
            Work::Query(_) => true,
        });
        let mut held = self.held();
        for r in dropped {
            held.remove(&r);
        }
    }
}

impl TaskSink for Dispatcher {
    fn dispatch(&self, task: DispatchTask) {
        match self.routing.owner(self.owner_group(&task.task)) {
            Ok(Owner::Local) => {
                self.accept(task);
            }
            Ok(Owner::Remote { addr, .. }) => self.send_remote(addr, task),
            // No owner known: the row stays, and the next re-offer finds one.
            Err(_) => {}
        }
    }
}

async fn release_loop(d: std::sync::Weak<Dispatcher>) {
    let mut tick = tokio::time::interval(RELEASE_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(d) = d.upgrade() else { return };
        d.release_lost_partitions();
    }
}

/// Sends offers for one remote owner, batching whatever queued up during the previous call.
async fn offer_loop(
    routing: Arc<Routing>,
    addr: String,
    mut rx: mpsc::UnboundedReceiver<DispatchTask>,
) {
    while let Some(first) = rx.recv().await {
        let mut tasks = vec![encode_offer(&first)];
        while tasks.len() < OFFER_BATCH {
            match rx.try_recv() {
                Ok(t) => tasks.push(encode_offer(&t)),
                Err(_) => break,
            }
        }
        let n = tasks.len();
        let channel = match routing.peers().channel(&addr) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(%addr, error = %e, "task offer not sent");
                continue;
            }
        };
        let mut req = routing.peers().request(OfferTasksRequest { tasks });
        req.set_timeout(Duration::from_secs(5));
        match InternalClient::new(channel).offer_tasks(req).await {
            Ok(_) => perdure_metrics::metrics()
                .tasks_offered_remote
                .inc_by(n as u64),
            // Harmless: the rows stay and their shard leader offers them again.
            Err(e) => tracing::debug!(%addr, tasks = n, error = %e, "task offer failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perdure_core::TaskRef as CoreTaskRef;

    pub(crate) fn workflow_task(queue: &str, normal: &str, id: u64) -> DispatchTask {
        DispatchTask {
            shard: GroupId(1),
            task_id: id,
            task: TransferTask {
                namespace_id: "ns".into(),
                workflow_id: "wf".into(),
                run_id: "run".into(),
                task_queue: queue.into(),
                normal_task_queue: normal.into(),
                kind: Some(Kind::WorkflowTask(CoreTaskRef::default())),
            },
        }
    }

    #[test]
    fn offers_round_trip() {
        let t = workflow_task("sticky", "tq", 7);
        let back = decode_offer(&encode_offer(&t)).unwrap();
        assert_eq!(back.shard, t.shard);
        assert_eq!(back.task_id, 7);
        assert_eq!(back.task, t.task);
    }

    #[test]
    fn sticky_tasks_are_owned_by_their_normal_queue() {
        let t = workflow_task("sticky-worker-1", "tq", 1);
        assert_eq!(normal_queue(&t.task), "tq");
        assert_eq!(normal_queue(&workflow_task("tq", "", 2).task), "tq");
    }
}
