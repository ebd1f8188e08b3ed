//! Sticky queues through the service: dispatches name the sticky queue and its normal fallback,
//! sticky polls get partial history, and ResetStickyTaskQueue ends stickiness without writing
//! history.

use std::time::Duration;

use perdure_core::{duration_to_proto, CoreError, TaskToken};
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::enums::v1::{EventType as E, TaskQueueKind};
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_protos::temporal::api::taskqueue::v1::{StickyExecutionAttributes, TaskQueue};
use temporalio_protos::temporal::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest;

use super::fixture::*;
use crate::{DispatchTask, HistoryError};

const STICKY: &str = "worker-1-sticky";

fn sticky_queue() -> TaskQueue {
    TaskQueue {
        name: STICKY.into(),
        kind: TaskQueueKind::Sticky as i32,
        normal_name: TQ.into(),
    }
}

fn normal_queue() -> TaskQueue {
    TaskQueue {
        name: TQ.into(),
        kind: TaskQueueKind::Normal as i32,
        normal_name: String::new(),
    }
}

fn execution(workflow_id: &str, run_id: &str) -> WorkflowExecution {
    WorkflowExecution {
        workflow_id: workflow_id.into(),
        run_id: run_id.into(),
    }
}

impl Node {
    /// Completes with a short timer and asks for stickiness; the schedule-to-start timeout is
    /// long so only the test decides where the next task goes.
    async fn complete_sticky_with_timer(&self, token: &[u8]) {
        let request = RespondWorkflowTaskCompletedRequest {
            task_token: token.to_vec(),
            commands: vec![start_timer("t", Duration::from_millis(50))],
            identity: "worker".into(),
            namespace: NS.into(),
            sticky_attributes: Some(StickyExecutionAttributes {
                worker_task_queue: Some(sticky_queue()),
                schedule_to_start_timeout: Some(duration_to_proto(Duration::from_secs(600))),
            }),
            ..Default::default()
        };
        let token = TaskToken::decode(token).unwrap();
        self.history
            .respond_workflow_task_completed(&token, &request)
            .await
            .unwrap();
    }

    /// Starts a run, completes its first task stickily and returns the sticky dispatch that
    /// follows the timer (scheduled event 7).
    async fn sticky_dispatch(&mut self, workflow_id: &str) -> (String, DispatchTask) {
        let run = self.start(workflow_id, "req-1").await.unwrap();
        let first = self.next_workflow_task(&run, 2).await;
        let poll = self.poll_workflow_task(&first, "poll-1").await;
        self.complete_sticky_with_timer(&poll.task_token).await;
        let task = self.next_workflow_task(&run, 7).await;
        (run, task)
    }
}

#[tokio::test]
async fn sticky_dispatch_names_its_fallback_and_sticky_polls_get_partial_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let (run, task) = node.sticky_dispatch("wf-sticky").await;
    assert_eq!(task.task.task_queue, STICKY);
    assert_eq!(task.task.normal_task_queue, TQ);
    let events = node.history("wf-sticky", &run).await;
    match &events[6].attributes {
        Some(Attributes::WorkflowTaskScheduledEventAttributes(a)) => {
            assert_eq!(a.task_queue.as_ref(), Some(&sticky_queue()))
        }
        other => panic!("{other:?}"),
    }

    let response = node
        .history
        .record_workflow_task_started(&task, &sticky_queue(), "poll-2", "worker")
        .await
        .unwrap();
    assert_eq!(response.previous_started_event_id, 3);
    assert_eq!(response.started_event_id, 8);
    let ids: Vec<i64> = response
        .history
        .unwrap()
        .events
        .iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(
        ids,
        [4, 5, 6, 7, 8],
        "a sticky worker gets what it has not seen"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn reset_sticky_task_queue_sends_the_next_task_to_the_normal_queue() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let run = node.start("wf-reset", "req-1").await.unwrap();
    let first = node.next_workflow_task(&run, 2).await;
    let poll = node.poll_workflow_task(&first, "poll-1").await;
    // Stickiness is set while the timer runs; reset it before the timer fires.
    let request = RespondWorkflowTaskCompletedRequest {
        task_token: poll.task_token.clone(),
        commands: vec![start_timer("t", Duration::from_millis(300))],
        identity: "worker".into(),
        namespace: NS.into(),
        sticky_attributes: Some(StickyExecutionAttributes {
            worker_task_queue: Some(sticky_queue()),
            schedule_to_start_timeout: Some(duration_to_proto(Duration::from_secs(600))),
        }),
        ..Default::default()
    };
    let token = TaskToken::decode(&poll.task_token).unwrap();
    node.history
        .respond_workflow_task_completed(&token, &request)
        .await
        .unwrap();
    node.history
        .reset_sticky_task_queue(NS_ID, &execution("wf-reset", &run))
        .await
        .unwrap();
    // Resetting twice, or through the current run (empty run id), is fine too.
    node.history
        .reset_sticky_task_queue(NS_ID, &execution("wf-reset", ""))
        .await
        .unwrap();
    let next = node.next_workflow_task(&run, 7).await;
    assert_eq!(next.task.task_queue, TQ);
    assert!(next.task.normal_task_queue.is_empty());
    let events = node.history("wf-reset", &run).await;
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
    match &events[6].attributes {
        Some(Attributes::WorkflowTaskScheduledEventAttributes(a)) => {
            assert_eq!(a.task_queue.as_ref(), Some(&normal_queue()))
        }
        other => panic!("{other:?}"),
    }

    // Closed run: WorkflowCompleted. Unknown run or workflow: NotFound.
    let response = node.poll_workflow_task(&next, "poll-2").await;
    node.complete_workflow_task(&response.task_token, vec![complete_workflow("done")])
        .await;
    match node
        .history
        .reset_sticky_task_queue(NS_ID, &execution("wf-reset", &run))
        .await
    {
        Err(HistoryError::Core(CoreError::WorkflowCompleted)) => {}
        other => panic!("expected WorkflowCompleted, got {other:?}"),
    }
    for missing in [
        execution("wf-reset", "00000000-0000-0000-0000-000000000000"),
        execution("no-such-workflow", ""),
    ] {
        match node.history.reset_sticky_task_queue(NS_ID, &missing).await {
            Err(HistoryError::Core(CoreError::NotFound(_))) => {}
            other => panic!("expected NotFound for {missing:?}, got {other:?}"),
        }
    }
    node.shutdown().await;
}
