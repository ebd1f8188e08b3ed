//! At-least-once dispatch: duplicates of a dispatch die in RecordTaskStarted, and the durable
//! row of a dispatch is gone once a poller took it. Also: no write before the term has begun.

use std::sync::Arc;

use perdure_core::{CoreError, TaskToken};
use perdure_storage::GroupId;
use temporalio_protos::temporal::api::enums::v1::EventType as E;
use tokio::sync::mpsc;

use super::fixture::*;
use crate::cache::ExecKey;
use crate::shard::{Shard, Step};
use crate::{DispatchTask, HistoryError, TaskSink};

#[tokio::test]
async fn duplicate_workflow_task_dispatch_is_idempotent_per_poll_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let run = node.start("wf-dup", "req-1").await.unwrap();
    let task = node.next_workflow_task(&run, 2).await;
    assert!(
        node.transfer_rows(task.shard)
            .iter()
            .any(|(id, _)| *id == task.task_id),
        "the dispatch is durable until a poller takes it"
    );

    let first = node.poll_workflow_task(&task, "poll-1").await;
    // Matching delivered the same dispatch twice to the same poll (e.g. a retried RPC).
    let again = node.poll_workflow_task(&task, "poll-1").await;
    assert_eq!(first, again);
    assert_eq!(again.started_event_id, 3);

    match node
        .history
        .record_workflow_task_started(&task, &Default::default(), "poll-2", "other-worker")
        .await
    {
        Err(HistoryError::Core(CoreError::TaskAlreadyStarted)) => {}
        other => panic!("expected TaskAlreadyStarted, got {other:?}"),
    }
    assert!(node.transfer_rows(task.shard).is_empty());
    // One WorkflowTaskStarted, whatever the number of deliveries.
    let events = node.history("wf-dup", &run).await;
    assert_eq!(
        types(&events),
        [
            E::WorkflowExecutionStarted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted
        ]
    );

    // The same for an activity task.
    node.complete_workflow_task(&first.task_token, vec![schedule_activity("1", None)])
        .await;
    let act = node.next_activity_task(&run, 1).await;
    let a1 = node.poll_activity_task(&act, "apoll-1").await;
    let a2 = node.poll_activity_task(&act, "apoll-1").await;
    assert_eq!(a1, a2);
    match node
        .history
        .record_activity_task_started(&act, "apoll-2", "other", NS)
        .await
    {
        Err(HistoryError::Core(CoreError::TaskAlreadyStarted)) => {}
        other => panic!("expected TaskAlreadyStarted, got {other:?}"),
    }
    assert!(node.transfer_rows(act.shard).is_empty());

    // A dispatch of a task the run has moved past is NotFound.
    match node
        .history
        .record_workflow_task_started(&task, &Default::default(), "poll-1", "worker")
        .await
    {
        Err(HistoryError::Core(CoreError::NotFound(_))) => {}
        other => panic!("expected NotFound for a stale dispatch, got {other:?}"),
    }
    assert!(TaskToken::decode(&a1.task_token).unwrap().is_activity());
    node.shutdown().await;
}

struct Discard;

impl TaskSink for Discard {
    fn dispatch(&self, _: DispatchTask) {}
}

/// Raft may report leadership while the shard has not begun its term (the barrier is in flight):
/// writes then would take task ids from a stale counter (0 after a restart) and could overwrite
/// rows left by an earlier process, so they are refused until `begin_term`.
#[tokio::test]
async fn writes_wait_for_the_term_to_begin() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    let raft = open_raft(&store).await;
    let group = raft.group(GroupId(1)).unwrap();
    let term = group.leadership().borrow().expect("this node leads");
    let shard = Arc::new(Shard::new(
        GroupId(1),
        group,
        store.clone(),
        Arc::new(Discard),
    ));
    let key = ExecKey::new(NS_ID, "wf", "run");
    let op = |_: Option<&perdure_core::MutableState>, _| Ok(Step::Reply(()));
    assert!(matches!(
        shard.update(&key, op).await,
        Err(HistoryError::NotLeader { shard: 1 })
    ));

    let (tx, _rx) = mpsc::unbounded_channel();
    shard.begin_term(term, tx);
    shard.update(&key, op).await.unwrap();
    // Task ids of this term live above every id of earlier terms.
    assert!(shard.task_id() >= term << 40);

    shard.end_term();
    assert!(matches!(
        shard.update(&key, op).await,
        Err(HistoryError::NotLeader { .. })
    ));
    raft.shutdown().await;
}

/// A term begun again after a proposal with an unknown outcome (`Shard::resync`) must not hand
/// out task ids it already used: they name durable rows, and a reused id would overwrite one.
#[tokio::test]
async fn a_term_begun_again_keeps_its_task_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(dir.path()).await;
    let raft = open_raft(&store).await;
    let group = raft.group(GroupId(1)).unwrap();
    let term = group.leadership().borrow().expect("this node leads");
    let shard = Shard::new(GroupId(1), group, store.clone(), Arc::new(Discard));
    let (tx, _rx) = mpsc::unbounded_channel();
    shard.begin_term(term, tx.clone());
    let used: Vec<u64> = (0..3).map(|_| shard.task_id()).collect();
    shard.end_term();
    shard.begin_term(term, tx.clone());
    let next = shard.task_id();
    assert!(
        used.iter().all(|u| next > *u),
        "{next} reuses one of {used:?}"
    );
    // A later term starts above everything of this one.
    shard.begin_term(term + 1, tx);
    assert!(shard.task_id() >= (term + 1) << 40);
    raft.shutdown().await;
}
