//! Event timestamps across a leader change: the new leader's clock may be behind the old
//! one's, and the history must still never go back in time.

use super::*;

fn event_nanos(e: &HistoryEvent) -> i64 {
    let t = e.event_time.as_ref().expect("every event has a time");
    t.seconds * SEC + t.nanos as i64
}

#[test]
fn a_leader_whose_clock_is_behind_never_writes_earlier_events() {
    let mut run = Run::start(None);
    // The old leader started the first task at t=10 s.
    let d = run.poll_wft(at(10));
    assert_eq!(run.ms.last_event_time, at(10).0);
    // The new leader's clock says 3 s: its writes are stamped no earlier than the last event.
    let stamped = run.ms.event_clock(at(3));
    assert_eq!(stamped, at(10));
    run.complete(&d, vec![], stamped);
    let times: Vec<i64> = run.history.iter().map(event_nanos).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "event times went backwards: {times:?}"
    );
    // A clock that is ahead is used as it is.
    assert_eq!(run.ms.event_clock(at(20)), at(20));
}
