//! Workflow retries through the service: a failed run with a retry policy is closed, its next
//! attempt created and made current in one write, and the attempt's first workflow task comes
//! from the backoff timer — also after a restart in between.

use std::time::Duration;

use perdure_core::duration_to_proto;
use temporalio_protos::temporal::api::command::v1::{
    command::Attributes as Cmd, Command, FailWorkflowExecutionCommandAttributes,
};
use temporalio_protos::temporal::api::common::v1::{RetryPolicy, WorkflowExecution};
use temporalio_protos::temporal::api::enums::v1::{
    CommandType, ContinueAsNewInitiator, EventType as E, HistoryEventFilterType, RetryState,
    WorkflowExecutionStatus,
};
use temporalio_protos::temporal::api::failure::v1::{
    failure::FailureInfo, ApplicationFailureInfo, Failure,
};
use temporalio_protos::temporal::api::history::v1::{history_event::Attributes, HistoryEvent};
use tokio::time::Instant;

use super::fixture::*;
use crate::cache::ExecKey;
use crate::tables;

fn fail_workflow(message: &str) -> Command {
    Command {
        command_type: CommandType::FailWorkflowExecution as i32,
        attributes: Some(Cmd::FailWorkflowExecutionCommandAttributes(
            FailWorkflowExecutionCommandAttributes {
                failure: Some(Failure {
                    message: message.into(),
                    failure_info: Some(FailureInfo::ApplicationFailureInfo(
                        ApplicationFailureInfo {
                            r#type: "Flaky".into(),
                            ..Default::default()
                        },
                    )),
                    ..Default::default()
                }),
            },
        )),
        ..Default::default()
    }
}

async fn start_retrying(node: &Node, workflow_id: &str, maximum_attempts: i32) -> String {
    let mut request = start_request(workflow_id, "req-1");
    request.retry_policy = Some(RetryPolicy {
        initial_interval: Some(duration_to_proto(Duration::from_millis(100))),
        maximum_attempts,
        ..Default::default()
    });
    let out = node
        .history
        .start_workflow(NS_ID, None, request)
        .await
        .unwrap();
    assert!(out.started);
    out.run_id
}

/// Polls the run's first workflow task and completes it with `commands`.
async fn run_first_task(node: &mut Node, run: &str, poll_id: &str, commands: Vec<Command>) {
    let task = node.next_workflow_task(run, 2).await;
    let poll = node.poll_workflow_task(&task, poll_id).await;
    node.complete_workflow_task(&poll.task_token, commands)
        .await;
}

/// (retry_state, new_execution_run_id) of a WorkflowExecutionFailed event.
fn failed_close(event: &HistoryEvent) -> (RetryState, String) {
    match &event.attributes {
        Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => {
            (a.retry_state(), a.new_execution_run_id.clone())
        }
        other => panic!("not WorkflowExecutionFailed: {other:?}"),
    }
}

fn current_run(node: &Node, workflow_id: &str) -> (String, i32) {
    let shard = node.history.shard_for(NS_ID, workflow_id);
    let (current, _) = tables::load_current(&shard.store, shard.id, NS_ID, workflow_id)
        .unwrap()
        .expect("a current run");
    (current.run_id, current.status)
}

#[tokio::test]
async fn a_failed_run_is_retried_as_the_new_current_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let wf = "wf-retry";
    let first = start_retrying(&node, wf, 3).await;

    // A result long poll parked on the first run, as `handle.result()` does.
    let mut close = history_request(wf, &first);
    close.wait_new_event = true;
    close.history_event_filter_type = HistoryEventFilterType::CloseEvent as i32;
    let svc = node.history.clone();
    let waiting = tokio::spawn(async move {
        svc.get_history(NS_ID, &close, Instant::now() + DEADLINE)
            .await
    });

    run_first_task(
        &mut node,
        &first,
        "poll-1",
        vec![fail_workflow("attempt 1")],
    )
    .await;

    let events = node.history(wf, &first).await;
    assert_contiguous(&events);
    assert_eq!(types(&events).last(), Some(&E::WorkflowExecutionFailed));
    let (state, second) = failed_close(events.last().unwrap());
    assert_eq!(state, RetryState::InProgress);
    assert!(!second.is_empty());
    assert_ne!(second, first);

    // The long poll answers with the close event that names the next run.
    let answer = tokio::time::timeout(DEADLINE, waiting)
        .await
        .expect("close long poll not woken")
        .unwrap()
        .unwrap();
    let close_events = answer.history.unwrap().events;
    assert_eq!(close_events.len(), 1);
    assert_eq!(failed_close(&close_events[0]).1, second);

    // The workflow id now names the new run, which is running.
    assert_eq!(
        current_run(&node, wf),
        (second.clone(), WorkflowExecutionStatus::Running as i32)
    );
    let by_id = WorkflowExecution {
        workflow_id: wf.into(),
        run_id: String::new(),
    };
    let described = node.history.describe(NS_ID, &by_id).await.unwrap();
    let info = described.workflow_execution_info.unwrap();
    assert_eq!(info.execution.unwrap().run_id, second);
    assert_eq!(info.first_run_id, first);

    // Its start says where it came from; its first task only once the backoff has passed.
    let task = node.next_workflow_task(&second, 2).await;
    let poll = node.poll_workflow_task(&task, "poll-2").await;
    assert_eq!(
        poll.attempt, 1,
        "a new run's first workflow task is attempt 1"
    );
    let events2 = poll.history.unwrap().events;
    assert_eq!(
        types(&events2),
        [
            E::WorkflowExecutionStarted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted
        ]
    );
    let Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) = &events2[0].attributes
    else {
        panic!("no start attributes");
    };
    assert_eq!(a.attempt, 2);
    assert_eq!(a.continued_execution_run_id, first);
    assert_eq!(a.original_execution_run_id, second);
    assert_eq!(a.first_execution_run_id, first);
    assert_eq!(a.initiator(), ContinueAsNewInitiator::Retry);
    assert_eq!(a.continued_failure.as_ref().unwrap().message, "attempt 1");
    let backoff = perdure_core::duration_from_proto(a.first_workflow_task_backoff.as_ref());
    assert!(backoff > Duration::ZERO);
    let waited = event_nanos(&events2[1]) - event_nanos(&events2[0]);
    assert!(
        waited >= backoff.as_nanos() as i64,
        "first task after {waited} ns, backoff {backoff:?}"
    );

    node.complete_workflow_task(&poll.task_token, vec![complete_workflow("done")])
        .await;
    assert_eq!(
        types(&node.history(wf, &second).await).last(),
        Some(&E::WorkflowExecutionCompleted)
    );
    assert_eq!(
        current_run(&node, wf),
        (second, WorkflowExecutionStatus::Completed as i32)
    );
    // The first run stays failed.
    let old = node
        .history
        .shard_for(NS_ID, wf)
        .read_state(&ExecKey::new(NS_ID, wf, &first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.status, WorkflowExecutionStatus::Failed as i32);
}

#[tokio::test]
async fn the_last_attempt_fails_the_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let wf = "wf-retry-once";
    let first = start_retrying(&node, wf, 2).await;
    run_first_task(&mut node, &first, "poll-1", vec![fail_workflow("1")]).await;
    let (_, second) = failed_close(node.history(wf, &first).await.last().unwrap());
    run_first_task(&mut node, &second, "poll-2", vec![fail_workflow("2")]).await;
    let events = node.history(wf, &second).await;
    assert_eq!(
        failed_close(events.last().unwrap()),
        (RetryState::MaximumAttemptsReached, String::new())
    );
    assert_eq!(
        current_run(&node, wf),
        (second, WorkflowExecutionStatus::Failed as i32)
    );
}

#[tokio::test]
async fn the_backoff_timer_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let wf = "wf-retry-restart";
    let first = start_retrying(&node, wf, 0).await;
    run_first_task(&mut node, &first, "poll-1", vec![fail_workflow("1")]).await;
    let (_, second) = failed_close(node.history(wf, &first).await.last().unwrap());
    let path = node.shutdown().await;

    // The new run, its pointer and its backoff timer were all in the committed write.
    let mut node = Node::open(&path).await;
    assert_eq!(
        current_run(&node, wf),
        (second.clone(), WorkflowExecutionStatus::Running as i32)
    );
    let task = node.next_workflow_task(&second, 2).await;
    let poll = node.poll_workflow_task(&task, "poll-2").await;
    node.complete_workflow_task(&poll.task_token, vec![complete_workflow("ok")])
        .await;
    let events = node.history(wf, &second).await;
    assert_contiguous(&events);
    assert_eq!(types(&events).last(), Some(&E::WorkflowExecutionCompleted));
    node.shutdown().await;
}
