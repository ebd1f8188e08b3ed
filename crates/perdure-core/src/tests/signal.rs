//! Signals: written at once between tasks, buffered while a task is started, delivered by a
//! task scheduled for them, refused on a closed run, counted once per request id, bounded.

use super::*;

fn signal(value: &str, request_id: &str) -> Signal {
    Signal {
        name: "add".into(),
        input: Some(payloads(value)),
        identity: "signaller".into(),
        request_id: request_id.into(),
        ..Default::default()
    }
}

/// Signals `run` and records what it wrote.
fn send(run: &mut Run, s: Signal, now: Time) -> Mutation {
    let m = run.ms.signal(&s, now).unwrap();
    run.apply(m)
}

fn signaled_inputs(events: &[HistoryEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) => Some((
                a.signal_name.clone(),
                String::from_utf8_lossy(&a.input.as_ref().unwrap().payloads[0].data).into(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_signal_between_tasks_schedules_one_and_a_signal_during_a_task_waits_for_its_end() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![start_timer("t", 60)], at(2)); // 5 TimerStarted; no task pending
    assert!(run.ms.workflow_task.is_none());

    // Between tasks: written at once, with a task to deliver it.
    let m = send(&mut run, signal("one", "r1"), at(3));
    assert_eq!(
        types(&m.events),
        vec![E::WorkflowExecutionSignaled, E::WorkflowTaskScheduled]
    );
    let m = send(&mut run, signal("two", "r2"), at(4));
    assert_eq!(
        types(&m.events),
        vec![E::WorkflowExecutionSignaled],
        "a task is pending already"
    );

    // During a started task: buffered, written after its completion, with a new task.
    let d2 = run.poll_wft(at(5));
    let m = send(&mut run, signal("three", "r3"), at(6));
    assert!(m.events.is_empty(), "buffered while the task runs");
    let c = run.complete(&d2, vec![], at(7));
    assert!(c.rejection.is_none());
    assert_eq!(
        types(&c.mutation.events),
        vec![
            E::WorkflowTaskCompleted,
            E::WorkflowExecutionSignaled,
            E::WorkflowTaskScheduled
        ]
    );
    assert_eq!(
        signaled_inputs(&run.history),
        vec![
            ("add".into(), "one".into()),
            ("add".into(), "two".into()),
            ("add".into(), "three".into())
        ]
    );
    match &run.history[5].attributes {
        Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) => {
            assert_eq!(
                (a.identity.as_str(), a.request_id.as_str()),
                ("signaller", "r1")
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_completion_that_closes_the_run_over_a_pending_signal_is_unhandled_command() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    send(&mut run, signal("late", "r1"), at(2));
    let c = run.complete(&d, vec![complete_wf()], at(3));
    assert_eq!(c.rejection, Some(CoreError::UnhandledCommand));
    assert!(run.ms.is_running());
    assert_eq!(
        signaled_inputs(&run.history),
        vec![("add".into(), "late".into())]
    );
}

#[test]
fn a_retried_request_id_changes_nothing_and_a_closed_run_refuses() {
    let mut run = Run::start(None);
    send(&mut run, signal("once", "same"), at(1));
    let before = run.ms.clone();
    let again = run.ms.signal(&signal("twice", "same"), at(2)).unwrap();
    assert!(again.events.is_empty() && again.transfer_tasks.is_empty());
    assert_eq!(run.ms, before);
    // Without a request id every signal counts.
    send(&mut run, signal("a", ""), at(3));
    send(&mut run, signal("b", ""), at(3));
    assert_eq!(run.ms.signal_count, 3);

    let d = run.poll_wft(at(4));
    let c = run.complete(&d, vec![complete_wf()], at(5));
    assert!(c.mutation.closed);
    assert_eq!(
        run.ms.clone().signal(&signal("after", "new"), at(6)),
        Err(CoreError::WorkflowCompleted)
    );
    // A retry of a signal the run took before it closed is still a success.
    assert!(run
        .ms
        .clone()
        .signal(&signal("once", "same"), at(6))
        .is_ok());
}

#[test]
fn signals_beyond_the_limit_are_refused() {
    let mut run = Run::start(None);
    run.ms.signal_count = crate::limits::MAX_SIGNALS_PER_EXECUTION;
    assert_eq!(
        run.ms.clone().signal(&signal("one too many", "r"), at(1)),
        Err(CoreError::InvalidArgument(
            crate::limits::ERR_SIGNAL_COUNT_EXCEEDS_LIMIT.into()
        ))
    );
}

#[test]
fn signal_with_start_records_the_signal_before_the_first_task() {
    let params = start_params(None);
    let (ms, m) = signal_with_start(params, &signal("first", "req-1"), at(0)).unwrap();
    assert_eq!(
        types(&m.events),
        vec![
            E::WorkflowExecutionStarted,
            E::WorkflowExecutionSignaled,
            E::WorkflowTaskScheduled
        ]
    );
    assert_eq!(ms.signal_request_ids, vec!["req-1".to_string()]);
    assert_eq!(ms.signal_count, 1);
    assert!(ms.workflow_task.is_some());
}

#[test]
fn signal_with_start_skips_a_start_delay_and_a_plain_signal_does_not() {
    let mut params = start_params(None);
    params.request.workflow_start_delay = Some(duration_to_proto(Duration::from_secs(60)));
    let (ms, m) = start_workflow(params, at(0)).unwrap();
    let mut run = Run {
        ms,
        history: vec![],
        timers: vec![],
        transfers: vec![],
    };
    run.apply(m);
    let m = send(&mut run, signal("plain", "r1"), at(1));
    assert_eq!(types(&m.events), vec![E::WorkflowExecutionSignaled]);
    assert!(run.ms.workflow_task.is_none(), "the delay still holds");

    let m = run
        .ms
        .signal_with_start_existing(&signal("sws", "r2"), at(2))
        .unwrap();
    let m = run.apply(m);
    assert_eq!(
        types(&m.events),
        vec![E::WorkflowExecutionSignaled, E::WorkflowTaskScheduled]
    );
    // A retried SignalWithStart changes nothing.
    let again = run
        .ms
        .signal_with_start_existing(&signal("sws", "r2"), at(3))
        .unwrap();
    assert!(again.is_empty());
    // The backoff timer finds the task there and does nothing.
    let fired = run.fire(
        |k| matches!(k, timer_task::Kind::WorkflowBackoff(_)),
        at(60),
    );
    assert!(fired.is_empty());
}
