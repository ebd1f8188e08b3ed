//! Event timestamps and deadlines across clocks that disagree: a new leader's clock may be
//! behind the old one's (the history must still never go back in time), and a leader's clock
//! may have been ahead for a while (its future stamps must not push later deadlines out).

use super::*;

fn event_nanos(e: &HistoryEvent) -> i64 {
    let t = e.event_time.as_ref().expect("every event has a time");
    t.seconds * SEC + t.nanos as i64
}

fn assert_never_backwards(run: &Run) {
    let times: Vec<i64> = run.history.iter().map(event_nanos).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "event times went backwards: {times:?}"
    );
}

#[test]
fn a_leader_whose_clock_is_behind_never_writes_earlier_events() {
    let mut run = Run::start(None);
    // The old leader started the first task at t=10 s.
    let d = run.poll_wft(at(10));
    assert_eq!(run.ms.last_event_time, at(10).0);
    // The new leader's clock says 3 s: its events are stamped no earlier than the last one.
    run.complete(&d, vec![start_timer("t", 1)], at(3));
    assert_eq!(event_nanos(run.history.last().unwrap()), at(10).0);
    assert_never_backwards(&run);
    // A clock that is ahead is used as it is.
    run.fire(|k| matches!(k, timer_task::Kind::UserTimer(_)), at(20));
    assert_eq!(event_nanos(run.history.last().unwrap()), at(20).0);
    assert_never_backwards(&run);
}

#[test]
fn deadlines_follow_the_leaders_clock_not_stamps_from_a_clock_that_was_ahead() {
    let mut run = Run::start(None);
    // A leader 100 s ahead runs the first task and a 1 s timer; the timer fires on its clock.
    let d = run.poll_wft(at(100));
    run.complete(&d, vec![start_timer("t", 1)], at(100));
    run.fire(|k| matches!(k, timer_task::Kind::UserTimer(_)), at(101));
    // The clock is right again (3 s): the task started now is stamped no earlier than the
    // history's last event, but its timeout is 3 s + the task timeout, not 101 s + it.
    run.poll_wft(at(3));
    let started = run.history.last().unwrap();
    assert_eq!(started.event_type, EventType::WorkflowTaskStarted as i32);
    assert_eq!(event_nanos(started), at(101).0);
    assert_never_backwards(&run);
    let timeout = duration_from_proto(
        run.ms
            .workflow_task
            .as_ref()
            .expect("started task")
            .timeout
            .as_ref(),
    );
    let fire = run
        .timers
        .iter()
        .rev()
        .find(|t| matches!(&t.kind, Some(timer_task::Kind::WorkflowTaskTimeout(tt)) if tt.timeout_type == TimeoutType::StartToClose as i32))
        .expect("a start-to-close timeout armed")
        .fire_time();
    assert_eq!(fire, at(3).add(timeout));
}
