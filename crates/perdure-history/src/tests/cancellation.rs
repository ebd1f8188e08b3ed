//! A caller that goes away in the middle of a write (a poll cut by its deadline, a forwarded
//! call whose hop timed out) must not leave the write half-done: once proposed, it commits, its
//! timers reach the wheel, and the cache shows the new state.

use std::future::Future;
use std::time::Duration;

use perdure_core::TaskToken;
use temporalio_protos::temporal::api::enums::v1::EventType as E;
use temporalio_protos::temporal::api::workflowservice::v1::RespondWorkflowTaskCompletedRequest;

use super::fixture::*;

#[tokio::test]
async fn a_write_whose_caller_goes_away_still_arms_its_timers() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let run = node.start("wf-cancelled", "req-1").await.unwrap();
    let wft = node.next_workflow_task(&run, 2).await;
    let poll = node.poll_workflow_task(&wft, "poll-1").await;
    let request = RespondWorkflowTaskCompletedRequest {
        task_token: poll.task_token.clone(),
        commands: vec![start_timer("t1", Duration::from_millis(200))],
        identity: "worker".into(),
        namespace: NS.into(),
        ..Default::default()
    };
    let token = TaskToken::decode(&poll.task_token).unwrap();
    // Polled once (it proposes and then waits for the commit), then dropped.
    {
        let mut call = std::pin::pin!(node
            .history
            .respond_workflow_task_completed(&token, &request));
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let first = call.as_mut().poll(&mut cx);
        assert!(
            first.is_pending(),
            "the call was cut before its write committed: {first:?}"
        );
    }

    // The timer still fires (its row reached the wheel, not only the disk): TimerFired (6)
    // schedules workflow task 7. The wheel reads its next slice from disk only every half
    // window (30 s), far beyond this wait, so a timer lost with the caller would not fire here.
    node.next_workflow_task(&run, 7).await;
    let events = node.history("wf-cancelled", &run).await;
    assert_eq!(
        types(&events)[3..6],
        [E::WorkflowTaskCompleted, E::TimerStarted, E::TimerFired]
    );
    node.shutdown().await;
}
