//! Workflow retries: when a failed or timed-out run starts its next attempt, what both runs'
//! histories, states and tasks say (Temporal's retry.go, handleCommandFailWorkflow,
//! executeWorkflowRunTimeoutTask, executeWorkflowBackoffTimerTask).

use super::*;
use temporalio_protos::temporal::api::{
    command::v1::FailWorkflowExecutionCommandAttributes, common::v1::Memo,
    enums::v1::ContinueAsNewInitiator, failure::v1::TimeoutFailureInfo,
};

fn policy(max_attempts: i32, initial_secs: u64) -> RetryPolicy {
    RetryPolicy {
        initial_interval: Some(duration_to_proto(Duration::from_secs(initial_secs))),
        maximum_attempts: max_attempts,
        ..Default::default()
    }
}

fn request(retry: Option<RetryPolicy>) -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: "wf".into(),
        workflow_type: Some(WorkflowType { name: "Wf".into() }),
        task_queue: Some(TaskQueue {
            name: "tq".into(),
            ..Default::default()
        }),
        input: Some(payloads("in")),
        request_id: "req-1".into(),
        identity: "client".into(),
        retry_policy: retry,
        memo: Some(memo("original")),
        ..Default::default()
    }
}

fn memo(v: &str) -> Memo {
    Memo {
        fields: [("k".to_string(), payloads(v).payloads[0].clone())].into(),
    }
}

fn fail_wf(message: &str, error_type: &str, non_retryable: bool) -> Command {
    cmd(
        CommandType::FailWorkflowExecution,
        Cmd::FailWorkflowExecutionCommandAttributes(FailWorkflowExecutionCommandAttributes {
            failure: Some(Failure {
                message: message.into(),
                failure_info: Some(FailureInfo::ApplicationFailureInfo(
                    ApplicationFailureInfo {
                        r#type: error_type.into(),
                        non_retryable,
                        ..Default::default()
                    },
                )),
                ..Default::default()
            }),
        }),
    )
}

fn close_state(run: &Run) -> (RetryState, String) {
    match &run.history.last().unwrap().attributes {
        Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => {
            (a.retry_state(), a.new_execution_run_id.clone())
        }
        Some(Attributes::WorkflowExecutionTimedOutEventAttributes(a)) => {
            (a.retry_state(), a.new_execution_run_id.clone())
        }
        other => panic!("not a failed close: {other:?}"),
    }
}

fn is_backoff(k: &timer_task::Kind) -> bool {
    matches!(k, timer_task::Kind::WorkflowBackoff(_))
}

fn is_run_timeout(k: &timer_task::Kind) -> bool {
    matches!(k, timer_task::Kind::WorkflowRunTimeout(_))
}

#[test]
fn a_failed_run_starts_its_next_attempt_after_the_backoff() {
    let mut first = start_with(request(Some(policy(3, 1))), at(0));
    let m = run_task(
        &mut first,
        vec![fail_wf("no", "Flaky", false)],
        at(2),
        &ids("run-2"),
    );

    // The old run: failed, IN_PROGRESS, naming its successor.
    assert_eq!(
        first.types(),
        [
            E::WorkflowExecutionStarted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::WorkflowExecutionFailed,
        ]
    );
    assert_eq!(
        close_state(&first),
        (RetryState::InProgress, "run-2".to_string())
    );
    match &first.history[4].attributes {
        Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => {
            assert_eq!(a.workflow_task_completed_event_id, 4);
            assert_eq!(a.failure.as_ref().unwrap().message, "no");
        }
        other => panic!("{other:?}"),
    }
    assert!(m.closed);
    assert_eq!(first.ms.status, WorkflowExecutionStatus::Failed as i32);

    // The new run: only its start, and a backoff timer instead of a workflow task.
    let mut second = successor(&m);
    assert_eq!(second.types(), [E::WorkflowExecutionStarted]);
    assert!(second.transfers.is_empty());
    assert!(!second.ms.had_or_has_workflow_task());
    assert_eq!(second.ms.run_id, "run-2");
    assert_eq!(second.ms.start_request_id, "req-run-2");
    assert_eq!(second.ms.attempt, 2);
    assert_eq!(second.ms.first_execution_run_id, "run-1");
    assert_eq!(second.ms.start_time, at(2).0);
    assert_eq!(second.ms.execution_time, at(3).0);
    let info = second.ms.describe().workflow_execution_info.unwrap();
    assert_eq!(info.execution_time, Some(at(3).to_timestamp()));
    assert_eq!(info.first_run_id, "run-1");
    let a = started(&second).clone();
    assert_eq!(a.attempt, 2);
    assert_eq!(a.continued_execution_run_id, "run-1");
    assert_eq!(a.original_execution_run_id, "run-2");
    assert_eq!(a.first_execution_run_id, "run-1");
    assert_eq!(a.initiator(), ContinueAsNewInitiator::Retry);
    assert_eq!(a.continued_failure.as_ref().unwrap().message, "no");
    assert_eq!(
        a.first_workflow_task_backoff,
        Some(duration_to_proto(Duration::from_secs(1)))
    );
    assert_eq!(
        a.identity, "",
        "Temporal's retry request carries no identity"
    );
    assert_eq!(a.input, Some(payloads("in")));
    assert_eq!(a.memo, Some(memo("original")));
    assert_eq!(a.retry_policy, started(&first).retry_policy);
    assert_eq!(a.task_queue.as_ref().unwrap().name, "tq");
    let backoff: Vec<TimerTask> = second
        .timers
        .iter()
        .filter(|t| t.kind.as_ref().is_some_and(is_backoff))
        .cloned()
        .collect();
    assert_eq!(backoff.len(), 1);
    assert_eq!(backoff[0].fire_time(), at(3));
    assert_eq!(backoff[0].run_id, "run-2");

    // The backoff fires: the first workflow task is scheduled then, once.
    let fired = second.fire(is_backoff, at(3));
    assert_eq!(
        second.types(),
        [E::WorkflowExecutionStarted, E::WorkflowTaskScheduled]
    );
    assert_eq!(fired.transfer_tasks.len(), 1);
    assert_eq!(event_nanos(&second.history[1]), at(3).0);
    let again = backoff[0].clone();
    assert!(second
        .ms
        .fire_timer(&again, at(4), &next_run())
        .unwrap()
        .is_empty());

    // The second attempt succeeds.
    run_task(&mut second, vec![complete_wf()], at(5), &ids("unused"));
    assert_eq!(second.ms.status, WorkflowExecutionStatus::Completed as i32);
}

fn event_nanos(e: &HistoryEvent) -> i64 {
    Time::from_timestamp(e.event_time.as_ref().unwrap()).0
}

#[test]
fn maximum_attempts_end_the_chain() {
    let mut run = start_with(request(Some(policy(2, 1))), at(0));
    let m = run_task(
        &mut run,
        vec![fail_wf("1", "E", false)],
        at(1),
        &ids("run-2"),
    );
    let mut second = successor(&m);
    second.fire(is_backoff, at(2));
    let m = run_task(
        &mut second,
        vec![fail_wf("2", "E", false)],
        at(3),
        &ids("run-3"),
    );
    assert!(m.new_run.is_none());
    assert_eq!(
        close_state(&second),
        (RetryState::MaximumAttemptsReached, String::new())
    );
    assert_eq!(second.ms.status, WorkflowExecutionStatus::Failed as i32);
}

#[test]
fn non_retryable_failures_and_missing_policies_are_not_retried() {
    let mut p = policy(0, 1);
    p.non_retryable_error_types = vec!["Fatal".into()];
    for (failure, want) in [
        (
            fail_wf("listed", "Fatal", false),
            RetryState::NonRetryableFailure,
        ),
        (
            fail_wf("flagged", "Other", true),
            RetryState::NonRetryableFailure,
        ),
    ] {
        let mut run = start_with(request(Some(p.clone())), at(0));
        let m = run_task(&mut run, vec![failure], at(1), &ids("run-2"));
        assert!(m.new_run.is_none());
        assert_eq!(close_state(&run), (want, String::new()));
    }
    let mut run = start_with(request(None), at(0));
    let m = run_task(
        &mut run,
        vec![fail_wf("x", "E", false)],
        at(1),
        &ids("run-2"),
    );
    assert!(m.new_run.is_none());
    assert_eq!(
        close_state(&run),
        (RetryState::RetryPolicyNotSet, String::new())
    );
}

#[test]
fn backoff_is_exponential_capped_and_bounded_by_the_execution_deadline() {
    let failure = app_failure("x");
    let mut run = start_with(request(Some(policy(0, 1))), at(0));
    let p = run.ms.retry_policy.clone().unwrap();
    // Defaults filled in at start, as Temporal's frontend does.
    assert_eq!(p.backoff_coefficient, 2.0);
    assert_eq!(
        p.maximum_interval,
        Some(duration_to_proto(Duration::from_secs(100)))
    );
    let mut backoffs = vec![];
    for attempt in 1..=8 {
        run.ms.attempt = attempt;
        backoffs.push(run.ms.workflow_retry_backoff(&failure, at(0)).unwrap());
    }
    let secs: Vec<u64> = backoffs.iter().map(|d| d.as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 100]);

    // Not enough time left before the execution deadline.
    run.ms.attempt = 3;
    run.ms.execution_expiration_time = at(3).0;
    assert_eq!(
        run.ms.workflow_retry_backoff(&failure, at(0)),
        Err(RetryState::Timeout)
    );
    run.ms.execution_expiration_time = at(4).0;
    assert_eq!(
        run.ms.workflow_retry_backoff(&failure, at(0)),
        Ok(Duration::from_secs(4))
    );
}

#[test]
fn a_quick_failure_still_waits_the_minimal_interval_between_runs() {
    let mut p = policy(0, 0);
    p.initial_interval = Some(duration_to_proto(Duration::from_millis(100)));
    let mut run = start_with(request(Some(p)), at(0));
    // Fails 300 ms after it started: 100 ms backoff is stretched to 1 s after the start.
    let now = Time(at(0).0 + 300_000_000);
    let m = run_task(&mut run, vec![fail_wf("x", "E", false)], now, &ids("run-2"));
    let second = successor(&m);
    assert_eq!(
        started(&second).first_workflow_task_backoff,
        Some(duration_to_proto(Duration::from_millis(700)))
    );
    assert_eq!(second.ms.execution_time, at(1).0);
}

#[test]
fn a_run_timeout_starts_the_next_attempt_with_a_timeout_failure() {
    let mut req = request(Some(policy(2, 1)));
    req.workflow_run_timeout = Some(duration_to_proto(Duration::from_secs(10)));
    req.workflow_execution_timeout = Some(duration_to_proto(Duration::from_secs(60)));
    let mut first = start_with(req, at(0));
    first.poll_wft(at(1));
    let m = first.fire(is_run_timeout, at(10));
    assert_eq!(first.types().last(), Some(&E::WorkflowExecutionTimedOut));
    assert_eq!(
        close_state(&first),
        (RetryState::InProgress, "run-next".to_string())
    );
    assert_eq!(first.ms.status, WorkflowExecutionStatus::TimedOut as i32);

    let second = successor(&m);
    let a = started(&second);
    let continued = a.continued_failure.as_ref().unwrap();
    assert_eq!(continued.message, "workflow timeout");
    assert_eq!(continued.source, "Server");
    assert_eq!(
        continued.failure_info,
        Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
            timeout_type: TimeoutType::StartToClose as i32,
            last_heartbeat_details: None,
        }))
    );
    // The execution deadline is the chain's, not restarted.
    assert_eq!(second.ms.execution_expiration_time, at(60).0);
    assert_eq!(
        a.workflow_execution_expiration_time,
        Some(at(60).to_timestamp())
    );
    // The run timeout counts from the first workflow task (start + backoff).
    let fire_at = |pred: fn(&timer_task::Kind) -> bool| -> Vec<Time> {
        second
            .timers
            .iter()
            .filter(|t| t.kind.as_ref().is_some_and(pred))
            .map(|t| t.fire_time())
            .collect()
    };
    assert_eq!(fire_at(is_backoff), [at(11)]);
    assert_eq!(fire_at(is_run_timeout), [at(21)]);
    assert_eq!(
        fire_at(|k| matches!(k, timer_task::Kind::WorkflowExecutionTimeout(_))),
        [at(60)]
    );

    // The last attempt's timeout is final.
    let mut second = second;
    second.fire(is_backoff, at(11));
    let m = second.fire(is_run_timeout, at(21));
    assert!(m.new_run.is_none());
    assert_eq!(
        close_state(&second),
        (RetryState::MaximumAttemptsReached, String::new())
    );
}

#[test]
fn an_execution_timeout_is_never_retried() {
    let mut req = request(Some(policy(0, 1)));
    req.workflow_execution_timeout = Some(duration_to_proto(Duration::from_secs(5)));
    let mut run = start_with(req, at(0));
    // Run timeout = execution timeout: only the execution timer is armed, and it is final.
    assert!(!run
        .timers
        .iter()
        .any(|t| t.kind.as_ref().is_some_and(is_run_timeout)));
    let m = run.fire(
        |k| matches!(k, timer_task::Kind::WorkflowExecutionTimeout(_)),
        at(5),
    );
    assert!(m.new_run.is_none());
    assert_eq!(close_state(&run), (RetryState::Timeout, String::new()));
}

#[test]
fn the_next_attempt_keeps_the_memo_the_run_started_with() {
    let mut run = start_with(request(Some(policy(0, 1))), at(0));
    // As if a ModifyWorkflowProperties command had changed it since.
    run.ms.memo = Some(memo("changed"));
    let mut m = Mutation::default();
    run.ms
        .close_failed(
            &mut m,
            RunFailure::Failed {
                failure: app_failure("x"),
                workflow_task_completed_event_id: 0,
            },
            at(1),
            &ids("run-2"),
        )
        .unwrap();
    assert_eq!(started(&successor(&m)).memo, Some(memo("original")));
}

#[test]
fn fail_run_checks_its_inputs() {
    let mut run = start_with(request(Some(policy(0, 1))), at(0));
    let failure = RunFailure::Failed {
        failure: app_failure("x"),
        workflow_task_completed_event_id: 0,
    };
    let before = run.ms.clone();
    assert!(matches!(
        run.ms
            .fail_run(failure.clone(), at(1), &NewRunIds::default()),
        Err(CoreError::InvalidArgument(_))
    ));
    let m = run
        .ms
        .fail_run(failure.clone(), at(1), &ids("run-2"))
        .unwrap();
    assert!(m.new_run.is_some());
    assert_ne!(run.ms, before);
    assert_eq!(
        run.ms.fail_run(failure, at(2), &ids("run-3")),
        Err(CoreError::WorkflowCompleted)
    );
}

#[test]
fn start_validates_the_retry_policy() {
    let mut p = policy(0, 1);
    p.backoff_coefficient = 0.5;
    let err = start_workflow(
        StartParams {
            request: request(Some(p)),
            namespace_id: "ns-id".into(),
            run_id: "run-1".into(),
            ..Default::default()
        },
        at(0),
    )
    .unwrap_err();
    assert_eq!(
        err,
        CoreError::InvalidArgument(
            "BackoffCoefficient cannot be less than 1 on retry policy.".into()
        )
    );
}

#[test]
fn a_run_waiting_for_its_backoff_survives_a_round_trip_and_terminate() {
    let mut run = start_with(request(Some(policy(0, 1))), at(0));
    let m = run_task(
        &mut run,
        vec![fail_wf("x", "E", false)],
        at(1),
        &ids("run-2"),
    );
    let mut second = successor(&m);
    let bytes = second.ms.encode_to_vec();
    assert_eq!(MutableState::decode(bytes.as_slice()).unwrap(), second.ms);
    // Terminated during the backoff: the timer then finds nothing to do.
    let closed = second.ms.terminate("stop", None, "me", at(1)).unwrap();
    second.apply(closed);
    let m = second.fire(is_backoff, at(2));
    assert!(m.is_empty());
}
