//! Cron schedules: the first run waits for the first fire time, every close by completion,
//! failure or run timeout starts the next scheduled run (retries first), and termination ends
//! the chain.

use temporalio_protos::temporal::api::enums::v1::ContinueAsNewInitiator;

use super::*;

/// 2026-01-01T00:00:10Z plus `secs`.
fn t(secs: i64) -> Time {
    Time((1_767_225_610 + secs) * 1_000_000_000)
}

fn cron_run(spec: &str, run_timeout: Option<Duration>) -> Run {
    let mut p = start_params(run_timeout);
    p.request.cron_schedule = spec.into();
    p.run_id = "run-1".into();
    let (ms, m) = start_workflow(p, t(0)).unwrap();
    let mut run = Run {
        ms,
        history: vec![],
        timers: vec![],
        transfers: vec![],
    };
    run.apply(m);
    run
}

fn fire_backoff(run: &mut Run, now: Time) {
    run.fire(|k| matches!(k, timer_task::Kind::WorkflowBackoff(_)), now);
}

fn no_spacing(run_id: &str) -> NewRunIds {
    NewRunIds {
        run_id: run_id.into(),
        request_id: format!("req-{run_id}"),
        min_interval: Duration::ZERO,
    }
}

#[test]
fn each_completion_starts_the_next_scheduled_run_with_its_result() {
    let mut first = cron_run("* * * * *", None);
    assert_eq!(first.types(), vec![E::WorkflowExecutionStarted]);
    let s = started(&first);
    assert_eq!(s.cron_schedule, "* * * * *");
    assert_eq!(s.initiator, ContinueAsNewInitiator::CronSchedule as i32);
    assert_eq!(
        duration_from_proto(s.first_workflow_task_backoff.as_ref()),
        Duration::from_secs(50),
        "until the next whole minute"
    );
    fire_backoff(&mut first, t(50));
    assert_eq!(first.ms.workflow_task.as_ref().map(|w| w.attempt), Some(1));

    let done = cmd(
        CommandType::CompleteWorkflowExecution,
        Cmd::CompleteWorkflowExecutionCommandAttributes(
            temporalio_protos::temporal::api::command::v1::CompleteWorkflowExecutionCommandAttributes {
                result: Some(payloads("one")),
            },
        ),
    );
    let m = run_task(&mut first, vec![done], t(55), &no_spacing("run-2"));
    match &first.history.last().unwrap().attributes {
        Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => {
            assert_eq!(a.new_execution_run_id, "run-2")
        }
        other => panic!("not completed: {other:?}"),
    }
    let second = successor(&m);
    let s = started(&second);
    assert_eq!(s.initiator, ContinueAsNewInitiator::CronSchedule as i32);
    assert_eq!(s.continued_execution_run_id, "run-1");
    assert_eq!(s.first_execution_run_id, "run-1");
    assert_eq!(s.last_completion_result, Some(payloads("one")));
    assert_eq!(s.continued_failure, None);
    assert_eq!(s.attempt, 1);
    assert_eq!(s.cron_schedule, "* * * * *");
    // Due at t(50) (00:01:00); it ended at t(55): the next fire is 00:02:00.
    assert_eq!(
        duration_from_proto(s.first_workflow_task_backoff.as_ref()),
        Duration::from_secs(55)
    );
    assert_eq!(second.types(), vec![E::WorkflowExecutionStarted]);
}

#[test]
fn a_failed_run_without_retries_hands_its_failure_and_the_last_result_on() {
    let mut first = cron_run("@every 30s", None);
    fire_backoff(&mut first, t(30));
    let fail = cmd(
        CommandType::FailWorkflowExecution,
        Cmd::FailWorkflowExecutionCommandAttributes(
            temporalio_protos::temporal::api::command::v1::FailWorkflowExecutionCommandAttributes {
                failure: Some(app_failure("boom")),
            },
        ),
    );
    let m = run_task(&mut first, vec![fail], t(31), &no_spacing("run-2"));
    match &first.history.last().unwrap().attributes {
        Some(Attributes::WorkflowExecutionFailedEventAttributes(a)) => {
            assert_eq!(a.new_execution_run_id, "run-2");
            assert_eq!(a.retry_state(), RetryState::RetryPolicyNotSet);
        }
        other => panic!("not failed: {other:?}"),
    }
    let second = successor(&m);
    let s = started(&second);
    assert_eq!(s.continued_failure.as_ref().unwrap().message, "boom");
    assert_eq!(s.last_completion_result, None);
    assert_eq!(
        duration_from_proto(s.first_workflow_task_backoff.as_ref()),
        Duration::from_secs(29)
    );
}

#[test]
fn a_run_timeout_also_continues_the_schedule() {
    let mut first = cron_run("@every 60s", Some(Duration::from_secs(5)));
    fire_backoff(&mut first, t(60));
    run_task(
        &mut first,
        vec![start_timer("t", 600)],
        t(61),
        &no_spacing("x"),
    );
    let m = first
        .ms
        .fire_timer(
            first
                .timers
                .iter()
                .find(|x| matches!(x.kind, Some(timer_task::Kind::WorkflowRunTimeout(_))))
                .unwrap(),
            t(65),
            &no_spacing("run-2"),
        )
        .unwrap();
    let m = first.apply(m);
    let second = successor(&m);
    assert_eq!(
        started(&second).initiator,
        ContinueAsNewInitiator::CronSchedule as i32
    );
    assert!(started(&second).continued_failure.is_some());
}

#[test]
fn termination_ends_the_chain() {
    let mut first = cron_run("* * * * *", None);
    fire_backoff(&mut first, t(50));
    let m = first.ms.terminate("stop", None, "op", t(51)).unwrap();
    assert!(m.closed);
    assert!(m.new_run.is_none());
}

#[test]
fn bad_schedules_are_refused_at_start() {
    let mut p = start_params(None);
    p.request.cron_schedule = "not a cron".into();
    assert_eq!(
        start_workflow(p, t(0)).unwrap_err(),
        CoreError::InvalidArgument("invalid CronSchedule.".into())
    );
}

#[test]
fn a_cancellation_during_the_schedule_wait_starts_the_run_at_once() {
    let mut run = cron_run("@hourly", None);
    let m = run
        .ms
        .request_cancel(
            &CancelRequest {
                reason: "stop".into(),
                ..Default::default()
            },
            t(1),
        )
        .unwrap();
    let m = run.apply(m);
    assert_eq!(
        types(&m.events),
        vec![
            E::WorkflowExecutionCancelRequested,
            E::WorkflowTaskScheduled
        ]
    );
}
