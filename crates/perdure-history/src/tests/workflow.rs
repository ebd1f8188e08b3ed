//! Whole workflows through the public service API: the one-activity shape, server-side activity
//! retries, start dedup and terminate.

use std::time::Duration;

use perdure_core::{duration_to_proto, CoreError, TaskToken};
use temporalio_protos::temporal::api::common::v1::{RetryPolicy, WorkflowExecution};
use temporalio_protos::temporal::api::enums::v1::{
    EventType as E, HistoryEventFilterType, WorkflowExecutionStatus,
};
use temporalio_protos::temporal::api::failure::v1::{
    failure::FailureInfo, ApplicationFailureInfo, Failure,
};
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_protos::temporal::api::workflowservice::v1::{
    RespondActivityTaskCompletedRequest, RespondActivityTaskFailedRequest,
    TerminateWorkflowExecutionRequest,
};
use tokio::time::Instant;

use super::fixture::*;
use crate::{shard_for, HistoryError};

#[tokio::test]
async fn one_activity_workflow_completes_with_eleven_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let run = node.start("wf-activity", "req-1").await.unwrap();

    let wft = node.next_workflow_task(&run, 2).await;
    assert_eq!(wft.shard, shard_for(NS_ID, "wf-activity", 2));
    let poll = node.poll_workflow_task(&wft, "poll-1").await;
    assert_eq!(poll.started_event_id, 3);
    assert_eq!(poll.previous_started_event_id, 0);
    assert_eq!(poll.attempt, 1);
    assert_eq!(poll.workflow_type.as_ref().unwrap().name, "Wf");
    assert_eq!(
        poll.workflow_execution_task_queue.as_ref().unwrap().name,
        TQ
    );
    let first = poll.history.clone().unwrap().events;
    assert_contiguous(&first);
    assert_eq!(
        types(&first),
        [
            E::WorkflowExecutionStarted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted
        ]
    );
    node.complete_workflow_task(&poll.task_token, vec![schedule_activity("1", None)])
        .await;

    let act = node.next_activity_task(&run, 1).await;
    let apoll = node.poll_activity_task(&act, "apoll-1").await;
    assert_eq!(apoll.activity_id, "1");
    assert_eq!(apoll.attempt, 1);
    assert_eq!(apoll.workflow_namespace, NS);
    assert_eq!(apoll.workflow_execution.as_ref().unwrap().run_id, run);
    let atoken = TaskToken::decode(&apoll.task_token).unwrap();
    node.history
        .respond_activity_task_completed(
            &atoken,
            &RespondActivityTaskCompletedRequest {
                task_token: apoll.task_token.clone(),
                result: Some(payloads("act-out")),
                identity: "aworker".into(),
                namespace: NS.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let wft2 = node.next_workflow_task(&run, 8).await;
    let poll2 = node.poll_workflow_task(&wft2, "poll-2").await;
    assert_eq!(poll2.previous_started_event_id, 3);
    assert_eq!(poll2.started_event_id, 9);
    let second = poll2.history.clone().unwrap().events;
    assert_eq!(second.len(), 9);
    assert_contiguous(&second);
    node.complete_workflow_task(&poll2.task_token, vec![complete_workflow("done")])
        .await;

    let events = node.history("wf-activity", &run).await;
    assert_contiguous(&events);
    assert_eq!(
        types(&events),
        [
            E::WorkflowExecutionStarted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::ActivityTaskScheduled,
            E::ActivityTaskStarted,
            E::ActivityTaskCompleted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::WorkflowExecutionCompleted,
        ]
    );
    match &events[6].attributes {
        Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => {
            assert_eq!((a.scheduled_event_id, a.started_event_id), (5, 6));
            assert_eq!(a.result, Some(payloads("act-out")));
        }
        other => panic!("unexpected attributes {other:?}"),
    }

    // The run is closed everywhere a client looks.
    let execution = WorkflowExecution {
        workflow_id: "wf-activity".into(),
        run_id: String::new(),
    };
    let described = node.history.describe(NS_ID, &execution).await.unwrap();
    let info = described.workflow_execution_info.unwrap();
    assert_eq!(info.status, WorkflowExecutionStatus::Completed as i32);
    assert_eq!(info.history_length, 11);
    let mut close = history_request("wf-activity", &run);
    close.history_event_filter_type = HistoryEventFilterType::CloseEvent as i32;
    close.wait_new_event = true;
    let closed = node
        .history
        .get_history(NS_ID, &close, Instant::now() + DEADLINE)
        .await
        .unwrap();
    let close_events = closed.history.unwrap().events;
    assert_eq!(types(&close_events), [E::WorkflowExecutionCompleted]);
    assert_eq!(close_events[0].event_id, 11);
    assert!(closed.next_page_token.is_empty());

    // Every dispatch row was consumed by the poll that took it.
    assert!(node.transfer_rows(wft.shard).is_empty());
    node.shutdown().await;
}

#[tokio::test]
async fn failed_activity_retries_on_the_server_then_fails_the_activity() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let run = node.start("wf-retry", "req-1").await.unwrap();
    let wft = node.next_workflow_task(&run, 2).await;
    let poll = node.poll_workflow_task(&wft, "poll-1").await;
    let policy = RetryPolicy {
        initial_interval: Some(duration_to_proto(Duration::from_millis(100))),
        backoff_coefficient: 1.0,
        maximum_attempts: 2,
        ..Default::default()
    };
    node.complete_workflow_task(&poll.task_token, vec![schedule_activity("a", Some(policy))])
        .await;

    let failure = |msg: &str| Failure {
        message: msg.into(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(
            ApplicationFailureInfo {
                r#type: "Boom".into(),
                ..Default::default()
            },
        )),
        ..Default::default()
    };
    for (attempt, request_id) in [(1, "apoll-1"), (2, "apoll-2")] {
        // Attempt 2 is dispatched by the retry timer firing through the wheel.
        let act = node.next_activity_task(&run, attempt).await;
        let apoll = node.poll_activity_task(&act, request_id).await;
        assert_eq!(apoll.attempt, attempt);
        let token = TaskToken::decode(&apoll.task_token).unwrap();
        node.history
            .respond_activity_task_failed(
                &token,
                &RespondActivityTaskFailedRequest {
                    task_token: apoll.task_token.clone(),
                    failure: Some(failure(&format!("boom {attempt}"))),
                    identity: "aworker".into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        if attempt == 1 {
            // A non-final failure writes no history.
            let events = node.history("wf-retry", &run).await;
            assert_eq!(events.len(), 5);
        }
    }

    let wft2 = node.next_workflow_task(&run, 8).await;
    let events = node.history("wf-retry", &run).await;
    assert_contiguous(&events);
    assert_eq!(
        types(&events),
        [
            E::WorkflowExecutionStarted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::ActivityTaskScheduled,
            E::ActivityTaskStarted,
            E::ActivityTaskFailed,
            E::WorkflowTaskScheduled,
        ]
    );
    match &events[5].attributes {
        Some(Attributes::ActivityTaskStartedEventAttributes(a)) => {
            assert_eq!(a.attempt, 2);
            assert_eq!(a.last_failure.as_ref().unwrap().message, "boom 1");
        }
        other => panic!("unexpected attributes {other:?}"),
    }
    match &events[6].attributes {
        Some(Attributes::ActivityTaskFailedEventAttributes(a)) => {
            assert_eq!(a.failure.as_ref().unwrap().message, "boom 2");
            assert_eq!((a.scheduled_event_id, a.started_event_id), (5, 6));
        }
        other => panic!("unexpected attributes {other:?}"),
    }
    assert_eq!(wft2.task.run_id, run);
    node.shutdown().await;
}

#[tokio::test]
async fn start_dedups_by_request_id_and_conflicts_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(dir.path()).await;
    let svc = &node.history;
    let first = svc
        .start_workflow(NS_ID, None, start_request("wf-dedup", "req-1"))
        .await
        .unwrap();
    assert!(first.started);

    let again = svc
        .start_workflow(NS_ID, None, start_request("wf-dedup", "req-1"))
        .await
        .unwrap();
    // A retried start answers as the first did (Temporal's "started" for a deduped request).
    assert_eq!(again, first);
    assert_eq!(first.first_execution_run_id, first.run_id);

    match svc
        .start_workflow(NS_ID, None, start_request("wf-dedup", "req-2"))
        .await
    {
        Err(HistoryError::Core(CoreError::AlreadyStarted {
            run_id,
            request_id,
            first_execution_run_id,
            ..
        })) => {
            assert_eq!(run_id, first.run_id);
            assert_eq!(request_id, "req-1");
            assert_eq!(first_execution_run_id, first.run_id);
        }
        other => panic!("expected AlreadyStarted, got {other:?}"),
    }
    // The rejected start left no trace.
    let events = node.history("wf-dedup", &first.run_id).await;
    assert_eq!(
        types(&events),
        [E::WorkflowExecutionStarted, E::WorkflowTaskScheduled]
    );

    // Once the run is terminated, the default reuse policy allows a new run.
    svc.terminate(
        NS_ID,
        &TerminateWorkflowExecutionRequest {
            namespace: NS.into(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: "wf-dedup".into(),
                run_id: String::new(),
            }),
            reason: "test".into(),
            identity: "client".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let events = node.history("wf-dedup", &first.run_id).await;
    assert_contiguous(&events);
    assert_eq!(
        types(&events),
        [
            E::WorkflowExecutionStarted,
            E::WorkflowTaskScheduled,
            E::WorkflowExecutionTerminated
        ]
    );
    let execution = WorkflowExecution {
        workflow_id: "wf-dedup".into(),
        run_id: first.run_id.clone(),
    };
    let info = svc
        .describe(NS_ID, &execution)
        .await
        .unwrap()
        .workflow_execution_info
        .unwrap();
    assert_eq!(info.status, WorkflowExecutionStatus::Terminated as i32);

    // The same request id still names the old run (it is the id's current run)...
    let replay = svc
        .start_workflow(NS_ID, None, start_request("wf-dedup", "req-1"))
        .await
        .unwrap();
    assert_eq!(
        (&replay.run_id, replay.started),
        (&again.run_id, again.started)
    );
    // ...now with the status the start found it in.
    assert_eq!(replay.status, WorkflowExecutionStatus::Terminated as i32);
    // ...and a new request id starts a new run.
    let second = svc
        .start_workflow(NS_ID, None, start_request("wf-dedup", "req-3"))
        .await
        .unwrap();
    assert!(second.started);
    assert_ne!(second.run_id, first.run_id);
    node.shutdown().await;
}

#[tokio::test]
async fn terminate_existing_names_the_new_run_as_temporal_does() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(dir.path()).await;
    let svc = &node.history;
    let old = node.start("wf-replace", "req-1").await.unwrap();

    let mut replace = start_request("wf-replace", "req-2");
    replace.workflow_id_conflict_policy =
        temporalio_protos::temporal::api::enums::v1::WorkflowIdConflictPolicy::TerminateExisting
            as i32;
    let new = svc.start_workflow(NS_ID, None, replace).await.unwrap();
    assert!(new.started);
    assert_ne!(new.run_id, old);

    let events = node.history("wf-replace", &old).await;
    assert_contiguous(&events);
    let last = events.last().unwrap();
    let Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) = &last.attributes else {
        panic!("old run must end terminated, got {last:?}");
    };
    // SDKs show these as the TerminatedError's message and details.
    assert_eq!(a.reason, "TerminateIfRunning WorkflowIdReusePolicy");
    assert_eq!(a.identity, perdure_core::HISTORY_SERVICE_IDENTITY);
    let details = &a.details.as_ref().unwrap().payloads;
    assert_eq!(details.len(), 1);
    assert_eq!(details[0].metadata["encoding"], b"json/plain");
    assert_eq!(
        details[0].data,
        format!("\"terminated by new runID: {}\"", new.run_id).into_bytes()
    );
    node.shutdown().await;
}
