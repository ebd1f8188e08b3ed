//! Restart recovery: a node stopped with work pending resumes it under a new leader term from
//! the durable rows alone (transfer backlog, timers, history).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use temporalio_protos::temporal::api::enums::v1::EventType as E;
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;

use super::fixture::*;

#[tokio::test]
async fn pending_workflow_task_is_dispatched_again_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let run = node.start("wf-restart", "req-1").await.unwrap();
    let before = node.next_workflow_task(&run, 2).await;
    let history_before = node.history("wf-restart", &run).await;
    assert_eq!(history_before.len(), 2);
    let path = node.shutdown().await;

    let mut node = Node::open(&path).await;
    // Nobody wrote anything: the new term found the row on disk and dispatched it again.
    let after = node.next_workflow_task(&run, 2).await;
    assert_eq!(after.task_id, before.task_id);
    assert_eq!(after.shard, before.shard);
    assert_eq!(after.task, before.task);
    assert_eq!(node.history("wf-restart", &run).await, history_before);

    // The recovered task is fully usable, and new writes take ids of the new term.
    let poll = node.poll_workflow_task(&after, "poll-1").await;
    assert_eq!(poll.started_event_id, 3);
    assert_eq!(poll.history.unwrap().events[..2], history_before[..]);
    let other = node.start("wf-restart-2", "req-2").await.unwrap();
    let newer = node.next_workflow_task(&other, 2).await;
    if newer.shard == before.shard {
        assert!(
            newer.task_id > before.task_id,
            "task ids must grow across terms"
        );
    }
    node.complete_workflow_task(&poll.task_token, vec![complete_workflow("ok")])
        .await;
    let events = node.history("wf-restart", &run).await;
    assert_contiguous(&events);
    assert_eq!(
        types(&events),
        [
            E::WorkflowExecutionStarted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::WorkflowExecutionCompleted,
        ]
    );
    let path = node.shutdown().await;

    // A second restart finds nothing pending for the closed run.
    let node = Node::open(&path).await;
    assert!(node
        .transfer_rows(before.shard)
        .iter()
        .all(|(_, t)| t.run_id != run));
    assert_eq!(node.history("wf-restart", &run).await, events);
    node.shutdown().await;
}

#[tokio::test]
async fn user_timer_fires_through_the_wheel() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let run = node.start("wf-timer", "req-1").await.unwrap();
    let wft = node.next_workflow_task(&run, 2).await;
    let poll = node.poll_workflow_task(&wft, "poll-1").await;
    node.complete_workflow_task(
        &poll.task_token,
        vec![start_timer("t1", Duration::from_millis(200))],
    )
    .await;

    // TimerFired (6) schedules the next workflow task (7), which is dispatched.
    node.next_workflow_task(&run, 7).await;
    let events = node.history("wf-timer", &run).await;
    assert_contiguous(&events);
    assert_eq!(
        types(&events),
        [
            E::WorkflowExecutionStarted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::TimerStarted,
            E::TimerFired,
            E::WorkflowTaskScheduled,
        ]
    );
    match &events[5].attributes {
        Some(Attributes::TimerFiredEventAttributes(a)) => {
            assert_eq!(a.timer_id, "t1");
            assert_eq!(a.started_event_id, 5);
        }
        other => panic!("unexpected attributes {other:?}"),
    }
    // Never early.
    let waited = event_nanos(&events[5]) - event_nanos(&events[4]);
    assert!(waited >= 200_000_000, "timer fired after {waited} ns");
    node.shutdown().await;
}

#[tokio::test]
async fn timer_armed_before_restart_fires_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let run = node.start("wf-timer-restart", "req-1").await.unwrap();
    let wft = node.next_workflow_task(&run, 2).await;
    let poll = node.poll_workflow_task(&wft, "poll-1").await;
    node.complete_workflow_task(
        &poll.task_token,
        vec![start_timer("t1", Duration::from_secs(2))],
    )
    .await;
    assert_eq!(
        types(&node.history("wf-timer-restart", &run).await).last(),
        Some(&E::TimerStarted)
    );
    let path = node.shutdown().await;
    // From here on only the next process can fire the timer.
    let down = unix_nanos_now();

    let mut node = Node::open(&path).await;
    node.next_workflow_task(&run, 7).await;
    let events = node.history("wf-timer-restart", &run).await;
    assert_contiguous(&events);
    assert_eq!(
        types(&events[4..]),
        [E::TimerStarted, E::TimerFired, E::WorkflowTaskScheduled]
    );
    let fired = event_nanos(&events[5]);
    assert!(fired >= down, "fired by the new process, not the old one");
    assert!(fired - event_nanos(&events[4]) >= 2_000_000_000);
    node.shutdown().await;
}

fn unix_nanos_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}
