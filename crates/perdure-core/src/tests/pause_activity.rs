//! PauseActivity / UnpauseActivity: a pause holds the next attempt and every timeout, a running
//! attempt keeps running (and is retried into the paused state), unpause re-arms what is due.

use super::*;
use temporalio_protos::temporal::api::enums::v1::PendingActivityState;
use temporalio_protos::temporal::api::workflow::v1::pending_activity_info::pause_info::PausedBy;

fn by_id(id: &str) -> ActivitySelector {
    ActivitySelector::Id(id.into())
}

fn pause_req(request_id: &str) -> PauseRequest {
    PauseRequest {
        identity: "operator".into(),
        reason: "too hot".into(),
        request_id: request_id.into(),
    }
}

fn pause(run: &mut Run, now: Time) {
    let m = run
        .ms
        .pause_activity(&by_id("1"), &pause_req("p1"), now)
        .unwrap();
    let m = run.apply(m);
    assert!(m.is_empty(), "a pause writes no event and arms nothing");
}

fn unpause(run: &mut Run, req: UnpauseRequest, now: Time) -> Mutation {
    let m = run.ms.unpause_activity(&by_id("1"), &req, now).unwrap();
    run.apply(m)
}

/// A workflow with activity "1" (scheduled event 5) whose first attempt failed at 4: its retry
/// is due at 5.
fn failed_once() -> (Run, ActivityDispatch) {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![schedule_activity("1", None)], at(2));
    let a1 = run.poll_activity(5, at(3));
    let m = run
        .ms
        .fail_activity(&a1.token, Some(app_failure("one")), None, "aworker", at(4))
        .unwrap();
    run.apply(m);
    (run, a1)
}

fn pause_info_attribute(run: &Run) -> Option<Vec<u8>> {
    let sa = run.ms.search_attributes.as_ref()?;
    sa.indexed_fields
        .get("TemporalPauseInfo")
        .map(|p| p.data.clone())
}

fn pending(run: &Run) -> temporalio_protos::temporal::api::workflow::v1::PendingActivityInfo {
    run.ms.describe().pending_activities[0].clone()
}

#[test]
fn a_pause_holds_the_retry_and_unpause_dispatches_the_next_attempt() {
    let (mut run, _) = failed_once();
    pause(&mut run, at(4));
    let m = run.fire(is_activity_retry, at(5));
    assert!(
        m.transfer_tasks.is_empty(),
        "the held retry dispatches nothing"
    );
    assert!(run
        .ms
        .record_activity_task_started(EventId(5), 2, "r", "w", at(6))
        .is_err());
    let p = pending(&run);
    assert_eq!(p.state, PendingActivityState::Paused as i32);
    assert!(p.paused);
    assert_eq!(p.attempt, 2);
    assert_eq!(p.next_attempt_schedule_time, None);
    let info = p.pause_info.unwrap();
    assert_eq!(info.pause_time, Some(at(4).to_timestamp()));
    match info.paused_by {
        Some(PausedBy::Manual(m)) => assert_eq!(
            (m.identity.as_str(), m.reason.as_str()),
            ("operator", "too hot")
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        p.activity_options.unwrap().start_to_close_timeout,
        Some(duration_to_proto(Duration::from_secs(10)))
    );

    assert_eq!(
        pause_info_attribute(&run),
        Some(br#"["property:activityType=bang"]"#.to_vec())
    );

    let m = unpause(&mut run, UnpauseRequest::default(), at(20));
    assert!(m.events.is_empty());
    assert_eq!(
        pause_info_attribute(&run),
        None,
        "removed once nothing is paused"
    );
    match m.transfer_tasks.as_slice() {
        [t] => assert!(matches!(
            t.kind,
            Some(transfer_task::Kind::ActivityTask(TaskRef {
                attempt: 2,
                ..
            }))
        )),
        other => panic!("{other:?}"),
    }
    let p = pending(&run);
    assert_eq!(p.state, PendingActivityState::Scheduled as i32);
    assert!(!p.paused && p.pause_info.is_none());
    let a2 = run.poll_activity(5, at(21));
    assert_eq!(a2.response.attempt, 2);
}

#[test]
fn a_running_attempt_keeps_running_and_fails_into_the_paused_state() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![schedule_activity("1", None)], at(2));
    let a1 = run.poll_activity(5, at(3));
    pause(&mut run, at(4));
    assert_eq!(
        pending(&run).state,
        PendingActivityState::PauseRequested as i32
    );
    run.ms
        .record_activity_heartbeat(&a1.token, None, at(5))
        .unwrap();
    assert!(run.ms.activity_for_token(&a1.token).unwrap().paused);
    // Its start-to-close timeout does not fire while paused.
    let m = run.fire(is_activity_timeout(TimeoutType::StartToClose), at(13));
    assert!(m.is_empty());
    assert!(run.ms.activities[&5].is_started());

    let m = run
        .ms
        .fail_activity(
            &a1.token,
            Some(app_failure("boom")),
            None,
            "aworker",
            at(14),
        )
        .unwrap();
    let m = run.apply(m);
    assert!(
        m.is_empty(),
        "retried into the pause: no event, no retry timer"
    );
    let p = pending(&run);
    assert_eq!(
        (p.state, p.attempt),
        (PendingActivityState::Paused as i32, 2)
    );
    assert_eq!(p.last_failure.unwrap().message, "boom");

    let m = unpause(
        &mut run,
        UnpauseRequest {
            reset_attempts: true,
            ..Default::default()
        },
        at(30),
    );
    assert_eq!(m.transfer_tasks.len(), 1);
    assert_eq!(run.poll_activity(5, at(31)).response.attempt, 1);
}

#[test]
fn unpausing_a_running_attempt_rearms_its_timeouts_on_a_new_stamp() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![schedule_activity("1", None)], at(2));
    run.poll_activity(5, at(3));
    let stamp = run.ms.activities[&5].stamp;
    pause(&mut run, at(4));
    assert_eq!(
        run.ms.activities[&5].stamp, stamp,
        "a running attempt keeps its stamp"
    );
    let m = unpause(&mut run, UnpauseRequest::default(), at(5));
    assert!(m.transfer_tasks.is_empty(), "the attempt is still running");
    match m.timer_tasks.as_slice() {
        [t] => {
            assert_eq!(
                t.fire_time(),
                at(13),
                "start-to-close from the attempt's start"
            );
            assert!(
                matches!(&t.kind, Some(timer_task::Kind::ActivityTimeout(x)) if x.stamp == stamp + 1)
            );
        }
        other => panic!("{other:?}"),
    }
    // The timer armed before the pause is stale; the new one times the attempt out.
    let old = run.timers.remove(
        run.timers
            .iter()
            .position(|t| matches!(&t.kind, Some(timer_task::Kind::ActivityTimeout(x)) if x.stamp == stamp))
            .unwrap(),
    );
    assert!(run
        .ms
        .fire_timer(&old, at(13), &next_run())
        .unwrap()
        .is_empty());
    let m = run.fire(is_activity_timeout(TimeoutType::StartToClose), at(13));
    assert!(m
        .timer_tasks
        .iter()
        .any(|t| matches!(t.kind, Some(timer_task::Kind::ActivityRetry(_)))));
    assert_eq!(run.ms.activities[&5].attempt, 2);
}

#[test]
fn unpause_with_jitter_delays_the_next_attempt_and_can_reset_heartbeats() {
    let (mut run, a1) = failed_once();
    run.ms
        .activities
        .get_mut(&5)
        .unwrap()
        .last_heartbeat_details = Some(payloads("hb"));
    let _ = a1;
    pause(&mut run, at(4));
    let m = unpause(
        &mut run,
        UnpauseRequest {
            reset_heartbeat: true,
            delay: Duration::from_secs(7),
            ..Default::default()
        },
        at(10),
    );
    assert!(m.transfer_tasks.is_empty());
    assert_eq!(m.timer_tasks[0].fire_time(), at(17));
    assert_eq!(run.ms.activities[&5].last_heartbeat_details, None);
    assert_eq!(
        pending(&run).next_attempt_schedule_time,
        Some(at(17).to_timestamp())
    );
    let m = run.fire(is_activity_retry, at(17));
    assert_eq!(m.transfer_tasks.len(), 1);
}

#[test]
fn pause_errors_follow_temporal() {
    let (mut run, _) = failed_once();
    pause(&mut run, at(4));
    // The same request again is a no-op; another one finds it already paused.
    let m = run
        .ms
        .pause_activity(&by_id("1"), &pause_req("p1"), at(5))
        .unwrap();
    assert!(m.is_empty());
    assert_eq!(
        run.ms.pause_activity(&by_id("1"), &pause_req("p2"), at(5)),
        Err(CoreError::FailedPrecondition(
            "activity is already paused".into()
        ))
    );
    let not_found = Err(CoreError::NotFound(
        "Can't find pending activity with such ID. Invalid activityID or activity already completed".into(),
    ));
    assert_eq!(
        run.ms
            .pause_activity(&by_id("nope"), &pause_req("p3"), at(5)),
        not_found
    );
    assert_eq!(
        run.ms.unpause_activity(
            &ActivitySelector::Type("nope".into()),
            &UnpauseRequest::default(),
            at(5)
        ),
        not_found
    );
    // By type and unpause_all select every pending activity of the run.
    let m = run
        .ms
        .unpause_activity(&ActivitySelector::All, &UnpauseRequest::default(), at(6))
        .unwrap();
    assert_eq!(m.transfer_tasks.len(), 1);
    let m = run
        .ms
        .pause_activity(
            &ActivitySelector::Type("bang".into()),
            &pause_req("p4"),
            at(7),
        )
        .unwrap();
    assert!(m.is_empty());
    assert!(run.ms.activities[&5].paused);
    // Unpausing an activity that is not paused changes nothing.
    run.ms.activities.get_mut(&5).unwrap().paused = false;
    let before = run.ms.clone();
    let m = run
        .ms
        .unpause_activity(&by_id("1"), &UnpauseRequest::default(), at(8))
        .unwrap();
    assert!(m.is_empty() && run.ms == before);
}
