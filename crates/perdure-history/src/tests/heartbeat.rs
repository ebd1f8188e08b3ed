//! Activity heartbeats through the public service API: details land in mutable state (visible
//! to describe, durable across a restart, handed to the next attempt), heartbeats keep the
//! heartbeat timeout from firing, silence lets it fire, and stale or unknown activities answer
//! NotFound.

use std::time::Duration;

use perdure_core::{duration_to_proto, CoreError, TaskKind, TaskToken};
use temporalio_protos::temporal::api::command::v1::{command::Attributes as Cmd, Command};
use temporalio_protos::temporal::api::common::v1::{RetryPolicy, WorkflowExecution};
use temporalio_protos::temporal::api::enums::v1::{EventType as E, TimeoutType};
use temporalio_protos::temporal::api::failure::v1::failure::FailureInfo;
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeWorkflowExecutionResponse, PollActivityTaskQueueResponse,
    RespondActivityTaskCompletedRequest,
};
use tokio::time::Instant;

use super::fixture::*;
use crate::HistoryError;

const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(1);

/// ScheduleActivityTask with a heartbeat timeout and a quick retry.
fn heartbeating_activity(activity_id: &str) -> Command {
    let mut command = schedule_activity(
        activity_id,
        Some(RetryPolicy {
            initial_interval: Some(duration_to_proto(Duration::from_millis(100))),
            backoff_coefficient: 1.0,
            maximum_attempts: 3,
            ..Default::default()
        }),
    );
    if let Some(Cmd::ScheduleActivityTaskCommandAttributes(a)) = command.attributes.as_mut() {
        a.heartbeat_timeout = Some(duration_to_proto(HEARTBEAT_TIMEOUT));
    }
    command
}

/// Starts `workflow_id`, schedules one heartbeating activity and starts its first attempt.
async fn started_activity(
    node: &mut Node,
    workflow_id: &str,
) -> (String, PollActivityTaskQueueResponse) {
    let run = node.start(workflow_id, "req-1").await.unwrap();
    let wft = node.next_workflow_task(&run, 2).await;
    let poll = node.poll_workflow_task(&wft, "poll-1").await;
    node.complete_workflow_task(&poll.task_token, vec![heartbeating_activity("hb")])
        .await;
    let act = node.next_activity_task(&run, 1).await;
    let apoll = node.poll_activity_task(&act, "apoll-1").await;
    (run, apoll)
}

async fn heartbeat(node: &Node, task_token: &[u8], details: &str) -> Result<bool, HistoryError> {
    let token = TaskToken::decode(task_token).unwrap();
    let response = node
        .history
        .record_activity_heartbeat(&token, Some(payloads(details)))
        .await?;
    assert!(!response.activity_paused && !response.activity_reset);
    Ok(response.cancel_requested)
}

async fn describe(
    node: &Node,
    workflow_id: &str,
    run_id: &str,
) -> DescribeWorkflowExecutionResponse {
    let execution = WorkflowExecution {
        workflow_id: workflow_id.into(),
        run_id: run_id.into(),
    };
    node.history.describe(NS_ID, &execution).await.unwrap()
}

fn is_not_found(result: Result<bool, HistoryError>) -> bool {
    matches!(result, Err(HistoryError::Core(CoreError::NotFound(_))))
}

#[tokio::test]
async fn heartbeat_details_show_in_describe_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let (run, apoll) = started_activity(&mut node, "wf-hb-describe").await;

    let before = describe(&node, "wf-hb-describe", &run).await;
    assert_eq!(before.pending_activities[0].heartbeat_details, None);
    assert!(!heartbeat(&node, &apoll.task_token, "p1").await.unwrap());
    let after = describe(&node, "wf-hb-describe", &run).await;
    let pending = &after.pending_activities[0];
    assert_eq!(pending.activity_id, "hb");
    assert_eq!(pending.heartbeat_details, Some(payloads("p1")));
    assert!(pending.last_heartbeat_time.is_some());
    // A heartbeat writes no history.
    assert_eq!(node.history("wf-hb-describe", &run).await.len(), 5);

    // The details-only write is durable: a new leader term reads them from disk.
    let path = node.shutdown().await;
    let node = Node::open(&path).await;
    let reloaded = describe(&node, "wf-hb-describe", &run).await;
    assert_eq!(
        reloaded.pending_activities[0].heartbeat_details,
        Some(payloads("p1"))
    );
    node.shutdown().await;
}

#[tokio::test]
async fn heartbeats_push_the_timeout_out_and_silence_lets_it_fire() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let (run, apoll) = started_activity(&mut node, "wf-hb-timeout").await;

    // Heartbeat for three timeouts' worth of time, well inside each timeout.
    let alive_until = Instant::now() + 3 * HEARTBEAT_TIMEOUT;
    let mut beat = 0;
    while Instant::now() < alive_until {
        beat += 1;
        heartbeat(&node, &apoll.task_token, &format!("beat {beat}"))
            .await
            .expect("the attempt must still be alive while it heartbeats");
        tokio::time::sleep(HEARTBEAT_TIMEOUT / 4).await;
    }
    // Then go silent: the heartbeat timer (re-armed by every firing since the last heartbeat)
    // times attempt 1 out and the server retries; attempt 2 resumes from the last details.
    let act2 = node.next_activity_task(&run, 2).await;
    let apoll2 = node.poll_activity_task(&act2, "apoll-2").await;
    assert_eq!(apoll2.attempt, 2);
    assert_eq!(
        apoll2.heartbeat_details,
        Some(payloads(&format!("beat {beat}")))
    );
    // The timed-out attempt's token is stale now.
    assert!(is_not_found(
        heartbeat(&node, &apoll.task_token, "late").await
    ));

    let token2 = TaskToken::decode(&apoll2.task_token).unwrap();
    node.history
        .respond_activity_task_completed(
            &token2,
            &RespondActivityTaskCompletedRequest {
                task_token: apoll2.task_token.clone(),
                result: Some(payloads("done")),
                identity: "aworker".into(),
                namespace: NS.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let events = node.history("wf-hb-timeout", &run).await;
    assert_contiguous(&events);
    assert_eq!(
        types(&events)[4..7],
        [
            E::ActivityTaskScheduled,
            E::ActivityTaskStarted,
            E::ActivityTaskCompleted
        ]
    );
    match &events[5].attributes {
        Some(Attributes::ActivityTaskStartedEventAttributes(a)) => {
            assert_eq!(a.attempt, 2);
            let failure = a.last_failure.as_ref().expect("attempt 1's failure");
            match &failure.failure_info {
                Some(FailureInfo::TimeoutFailureInfo(t)) => {
                    assert_eq!(t.timeout_type, TimeoutType::Heartbeat as i32)
                }
                other => panic!("expected a heartbeat timeout, got {other:?}"),
            }
        }
        other => panic!("unexpected attributes {other:?}"),
    }
    node.shutdown().await;
}

#[tokio::test]
async fn heartbeat_by_activity_id_and_not_found_cases() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let run = node.start("wf-hb-byid", "req-1").await.unwrap();
    let wft = node.next_workflow_task(&run, 2).await;
    let poll = node.poll_workflow_task(&wft, "poll-1").await;
    node.complete_workflow_task(&poll.task_token, vec![heartbeating_activity("hb")])
        .await;
    let by_id = |activity_id: &str| TaskToken {
        namespace_id: NS_ID.into(),
        workflow_id: "wf-hb-byid".into(),
        run_id: String::new(),
        activity_id: activity_id.into(),
        attempt: 1,
        kind: TaskKind::Activity as i32,
        ..Default::default()
    };
    let service = node.history.clone();
    let by_id_heartbeat = |token: TaskToken, details: &'static str| {
        let history = service.clone();
        async move {
            let token = history.with_current_run(token).await?;
            assert!(!token.run_id.is_empty(), "the current run is pinned");
            history
                .record_activity_heartbeat(&token, Some(payloads(details)))
                .await
                .map(|r| r.cancel_requested)
        }
    };

    // Scheduled but not started: nothing is running to heartbeat.
    assert!(is_not_found(by_id_heartbeat(by_id("hb"), "early").await));
    match by_id_heartbeat(by_id("nope"), "x").await {
        Err(HistoryError::Core(CoreError::NotFound(m))) => {
            assert!(
                m.contains("cannot find pending activity with ActivityID nope"),
                "{m}"
            )
        }
        other => panic!("expected NotFound, got {other:?}"),
    }

    let act = node.next_activity_task(&run, 1).await;
    let apoll = node.poll_activity_task(&act, "apoll-1").await;
    assert!(!by_id_heartbeat(by_id("hb"), "by id").await.unwrap());
    let described = describe(&node, "wf-hb-byid", "").await;
    assert_eq!(
        described.pending_activities[0].heartbeat_details,
        Some(payloads("by id"))
    );

    // A token of another attempt is stale.
    let mut stale = TaskToken::decode(&apoll.task_token).unwrap();
    stale.attempt = 2;
    assert!(is_not_found(
        node.history
            .record_activity_heartbeat(&stale, None)
            .await
            .map(|r| r.cancel_requested)
    ));
    // An unknown run is NotFound too.
    let mut unknown = TaskToken::decode(&apoll.task_token).unwrap();
    unknown.run_id = "00000000-0000-0000-0000-000000000000".into();
    assert!(is_not_found(
        node.history
            .record_activity_heartbeat(&unknown, None)
            .await
            .map(|r| r.cancel_requested)
    ));
    node.shutdown().await;
}
