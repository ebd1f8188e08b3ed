//! GetWorkflowExecutionHistory long polls: woken by the write itself (not by the deadline or the
//! periodic re-read), and the CLOSE_EVENT filter on a running workflow.

use std::time::Duration;

use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::enums::v1::{EventType as E, HistoryEventFilterType};
use temporalio_protos::temporal::api::workflowservice::v1::TerminateWorkflowExecutionRequest;
use tokio::time::Instant;

use super::fixture::*;
use crate::api::HistoryPageToken;
use crate::cache::ExecKey;
use crate::HistoryService;

/// Waits until a long poll on `key` is parked on its watcher.
async fn wait_watched(svc: &HistoryService, key: &ExecKey) {
    let shard = svc.shard_for(&key.namespace_id, &key.workflow_id);
    let deadline = Instant::now() + DEADLINE;
    while !shard.watchers.is_watched(key) {
        assert!(Instant::now() < deadline, "long poll never parked");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn wait_new_event_returns_when_an_event_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let run = node.start("wf-poll", "req-1").await.unwrap();
    let task = node.next_workflow_task(&run, 2).await;

    // Events already there come back at once, with a token to wait from.
    let mut request = history_request("wf-poll", &run);
    request.wait_new_event = true;
    let first = node
        .history
        .get_history(NS_ID, &request, Instant::now() + DEADLINE)
        .await
        .unwrap();
    assert_eq!(first.history.unwrap().events.len(), 2);
    assert!(!first.next_page_token.is_empty());

    request.next_page_token = first.next_page_token;
    let svc = node.history.clone();
    // The deadline is far beyond the periodic re-read, so only the wake-up can answer in time.
    let deadline = Instant::now() + Duration::from_secs(60);
    let poll = tokio::spawn(async move {
        let response = svc.get_history(NS_ID, &request, deadline).await;
        (response, Instant::now())
    });
    wait_watched(&node.history, &ExecKey::new(NS_ID, "wf-poll", &run)).await;
    let written = Instant::now();
    node.poll_workflow_task(&task, "poll-1").await;

    let (response, answered) = tokio::time::timeout(DEADLINE, poll)
        .await
        .expect("long poll not woken")
        .unwrap();
    let response = response.unwrap();
    assert!(
        answered.duration_since(written) < Duration::from_secs(2),
        "answered {:?} after the write",
        answered.duration_since(written)
    );
    let events = response.history.unwrap().events;
    assert_eq!(types(&events), [E::WorkflowTaskStarted]);
    assert_eq!(events[0].event_id, 3);
    let token: HistoryPageToken =
        prost::Message::decode(response.next_page_token.as_slice()).unwrap();
    assert_eq!(token.next_event_id, 4);
    assert_eq!(token.run_id, run);
    node.shutdown().await;
}

#[tokio::test]
async fn close_event_poll_on_running_workflow_returns_token_then_close_event() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(dir.path()).await;
    let run = node.start("wf-close", "req-1").await.unwrap();
    let mut request = history_request("wf-close", "");
    request.history_event_filter_type = HistoryEventFilterType::CloseEvent as i32;

    // Without waiting: nothing yet, but a token to come back with.
    let now = node
        .history
        .get_history(NS_ID, &request, Instant::now() + DEADLINE)
        .await
        .unwrap();
    assert!(now.history.unwrap().events.is_empty());
    assert!(!now.next_page_token.is_empty());

    // Waiting until a short deadline: the same answer, at the deadline.
    request.wait_new_event = true;
    let hold = Duration::from_millis(300);
    let asked = Instant::now();
    let held = node
        .history
        .get_history(NS_ID, &request, asked + hold)
        .await
        .unwrap();
    assert!(asked.elapsed() >= hold);
    assert!(held.history.unwrap().events.is_empty());
    assert!(!held.next_page_token.is_empty());

    // Written events that are not the close event do not end a CLOSE_EVENT poll; closing does.
    request.next_page_token = held.next_page_token;
    let svc = node.history.clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    let poll = tokio::spawn(async move { svc.get_history(NS_ID, &request, deadline).await });
    wait_watched(&node.history, &ExecKey::new(NS_ID, "wf-close", &run)).await;
    node.history
        .terminate(
            NS_ID,
            &TerminateWorkflowExecutionRequest {
                namespace: NS.into(),
                workflow_execution: Some(WorkflowExecution {
                    workflow_id: "wf-close".into(),
                    run_id: run.clone(),
                }),
                reason: "done waiting".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(2), poll)
        .await
        .expect("close did not wake the poll")
        .unwrap()
        .unwrap();
    let events = closed.history.unwrap().events;
    assert_eq!(types(&events), [E::WorkflowExecutionTerminated]);
    assert_eq!(events[0].event_id, 3);
    assert!(closed.next_page_token.is_empty());
    node.shutdown().await;
}
