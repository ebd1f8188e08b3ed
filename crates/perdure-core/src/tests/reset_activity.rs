//! ResetActivity: attempt 1 again, scheduled at once (or after the jitter) unless paused; a
//! running attempt keeps running with heartbeats answering `activity_reset`.

use super::*;

fn reset(run: &mut Run, req: ResetActivityRequest, now: Time) -> Mutation {
    let m = run
        .ms
        .reset_activity(&ActivitySelector::Id("1".into()), &req, now)
        .unwrap();
    run.apply(m)
}

/// Activity "1" (scheduled event 5) failed twice; attempt 3 is due at 9.
fn failed_twice() -> Run {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![schedule_activity("1", None)], at(2));
    for (poll, fail) in [(3, 4), (5, 6)] {
        if poll > 3 {
            run.fire(is_activity_retry, at(poll));
        }
        let a = run.poll_activity(5, at(poll));
        let m = run
            .ms
            .fail_activity(&a.token, Some(app_failure("x")), None, "aworker", at(fail))
            .unwrap();
        run.apply(m);
    }
    assert_eq!(run.ms.activities[&5].attempt, 3);
    run
}

#[test]
fn a_waiting_activity_is_scheduled_again_at_attempt_one() {
    let mut run = failed_twice();
    run.ms
        .activities
        .get_mut(&5)
        .unwrap()
        .last_heartbeat_details = Some(payloads("hb"));
    let m = reset(
        &mut run,
        ResetActivityRequest {
            reset_heartbeat: true,
            ..Default::default()
        },
        at(7),
    );
    match m.transfer_tasks.as_slice() {
        [t] => assert!(matches!(
            t.kind,
            Some(transfer_task::Kind::ActivityTask(TaskRef {
                attempt: 1,
                ..
            }))
        )),
        other => panic!("{other:?}"),
    }
    assert_eq!(run.ms.activities[&5].last_heartbeat_details, None);
    // The retry timer armed for attempt 3 is stale.
    let m = run.fire(is_activity_retry, at(9));
    assert!(m.is_empty());
    let a = run.poll_activity(5, at(10));
    assert_eq!(a.response.attempt, 1);
    let (_, cancel) = run
        .ms
        .record_activity_heartbeat(&a.token, None, at(11))
        .unwrap();
    assert!(!cancel);
    assert!(
        run.ms.activities[&5].activity_reset,
        "answered until the next retry"
    );
    let m = run
        .ms
        .fail_activity(&a.token, Some(app_failure("y")), None, "aworker", at(12))
        .unwrap();
    run.apply(m);
    let ai = &run.ms.activities[&5];
    assert_eq!(ai.attempt, 2);
    assert!(!ai.activity_reset && !ai.reset_heartbeats);
}

#[test]
fn a_paused_activity_stays_paused_with_keep_paused_else_runs_again() {
    let mut run = failed_twice();
    let pause = PauseRequest::default();
    let m = run
        .ms
        .pause_activity(&ActivitySelector::Id("1".into()), &pause, at(7))
        .unwrap();
    run.apply(m);
    let m = reset(
        &mut run,
        ResetActivityRequest {
            keep_paused: true,
            ..Default::default()
        },
        at(8),
    );
    assert!(m.is_empty());
    let ai = &run.ms.activities[&5];
    assert!(ai.paused);
    assert_eq!(ai.attempt, 1);
    let m = reset(&mut run, ResetActivityRequest::default(), at(9));
    assert_eq!(m.transfer_tasks.len(), 1);
    assert!(!run.ms.activities[&5].paused);
    assert_eq!(run.poll_activity(5, at(10)).response.attempt, 1);
}

#[test]
fn a_running_attempt_loses_its_token_and_times_out_into_a_retry() {
    let mut run = failed_twice();
    run.fire(is_activity_retry, at(9));
    let a3 = run.poll_activity(5, at(9));
    let m = reset(
        &mut run,
        ResetActivityRequest {
            delay: Duration::from_secs(100),
            ..Default::default()
        },
        at(10),
    );
    assert!(m.transfer_tasks.is_empty(), "the attempt is still running");
    assert!(matches!(
        run.ms.record_activity_heartbeat(&a3.token, None, at(11)),
        Err(CoreError::NotFound(_))
    ));
    let m = run.fire(is_activity_timeout(TimeoutType::StartToClose), at(19));
    assert!(m
        .timer_tasks
        .iter()
        .any(|t| matches!(t.kind, Some(timer_task::Kind::ActivityRetry(_)))));
    assert_eq!(run.ms.activities[&5].attempt, 2);
}
