//! ResetWorkflowExecution: the new run's events, state and tasks, the base's termination, and
//! Temporal's answers to a bad reset point.

use super::*;
use temporalio_protos::temporal::api::enums::v1::ResetReapplyExcludeType;

/// 1 Started, 2 Scheduled, 3 Started, 4 Completed, 5 ActivityScheduled, 6 TimerStarted,
/// 7 Signaled, 8 Scheduled, 9 Started, 10 Completed: the activity still pending, timer running.
fn base() -> Run {
    let mut run = Run::start(None);
    run_task(
        &mut run,
        vec![schedule_activity("1", None), start_timer("t", 100)],
        at(2),
        &next_run(),
    );
    let s = Signal {
        name: "add".into(),
        input: Some(payloads("a")),
        identity: "signaller".into(),
        request_id: "sig-1".into(),
        ..Default::default()
    };
    let m = run.ms.signal(&s, at(3)).unwrap();
    run.apply(m);
    run_task(&mut run, vec![], at(4), &next_run());
    assert_eq!(run.history.len(), 10);
    run
}

fn params(finish: i64) -> ResetParams {
    ResetParams {
        workflow_task_finish_event_id: finish,
        reason: "why".into(),
        new_run_id: "run-reset".into(),
        ..Default::default()
    }
}

fn wft_failed(
    e: &HistoryEvent,
) -> &temporalio_protos::temporal::api::history::v1::WorkflowTaskFailedEventAttributes {
    match &e.attributes {
        Some(Attributes::WorkflowTaskFailedEventAttributes(a)) => a,
        other => panic!("not a task failure: {other:?}"),
    }
}

#[test]
fn reset_to_the_first_task_keeps_its_start_and_reapplies_the_later_signal() {
    let mut run = base();
    let history = run.history.clone();
    let m = run.ms.reset(&history, &params(4), at(10)).unwrap();
    // The base is terminated by the resetter, and names the run the reset made.
    assert!(m.closed);
    assert_eq!(run.ms.reset_run_id, "run-reset");
    assert_eq!(
        types(&m.events),
        vec![EventType::WorkflowExecutionTerminated]
    );
    match &m.events[0].attributes {
        Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
            assert_eq!(a.reason, "why");
            assert_eq!(a.identity, RESETTER_IDENTITY);
        }
        other => panic!("{other:?}"),
    }
    let new = successor(&m);
    assert_eq!(
        new.types(),
        vec![
            EventType::WorkflowExecutionStarted,
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskFailed,
            EventType::WorkflowExecutionSignaled,
            EventType::WorkflowTaskScheduled,
        ]
    );
    assert_eq!(new.history[..3], history[..3]);
    let f = wft_failed(&new.history[3]);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (2, 3));
    assert_eq!(f.cause, WorkflowTaskFailedCause::ResetWorkflow as i32);
    assert_eq!(f.base_run_id, "run-1");
    assert_eq!(f.new_run_id, "run-reset");
    assert_eq!(f.identity, HISTORY_SERVICE_IDENTITY);
    let failure = f.failure.as_ref().unwrap();
    assert_eq!(failure.message, "why");
    assert!(matches!(
        failure.failure_info,
        Some(FailureInfo::ResetWorkflowFailureInfo(_))
    ));
    match &new.history[4].attributes {
        Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) => {
            assert_eq!(a.request_id, "sig-1");
            assert_eq!(a.input, Some(payloads("a")));
        }
        other => panic!("{other:?}"),
    }
    let s = &new.ms;
    assert_eq!(s.run_id, "run-reset");
    assert_eq!(s.first_execution_run_id, "run-1");
    assert_eq!(s.status, WorkflowExecutionStatus::Running as i32);
    assert_eq!(s.start_time, at(10).0);
    assert_eq!(s.next_event_id, 7);
    assert_eq!(s.signal_count, 1);
    assert_eq!(s.signal_request_ids, vec!["sig-1".to_string()]);
    assert!(s.activities.is_empty() && s.timers.is_empty());
    assert_eq!(s.last_workflow_task_started_event_id, 3);
    assert_eq!(s.workflow_task.as_ref().unwrap().scheduled_event_id, 6);
    // Only the new workflow task is dispatched.
    assert_eq!(new.transfers.len(), 1);
    assert!(new.timers.is_empty());
}

#[test]
fn reset_to_the_last_task_redispatches_the_pending_activity_and_rearms_the_timer() {
    let mut run = base();
    let history = run.history.clone();
    let m = run.ms.reset(&history, &params(10), at(20)).unwrap();
    let new = successor(&m);
    let mut expected = types(&history[..9]);
    expected.extend([
        EventType::WorkflowTaskFailed,
        EventType::WorkflowTaskScheduled,
    ]);
    assert_eq!(new.types(), expected);
    let f = wft_failed(&new.history[9]);
    assert_eq!((f.scheduled_event_id, f.started_event_id), (8, 9));
    let s = &new.ms;
    let activity = &s.activities[&5];
    assert_eq!(activity.activity_id, "1");
    assert_eq!(activity.scheduled_time, at(20).0);
    assert_eq!(activity.first_scheduled_time, at(20).0);
    assert!(!activity.is_started());
    assert_eq!(s.timers["t"].expiry_time, at(102).0);
    assert_eq!(s.signal_count, 1);
    assert_eq!(s.last_completed_workflow_task_started_event_id, 3);
    let kinds: Vec<_> = new.transfers.iter().map(|t| t.kind.clone()).collect();
    assert!(kinds.iter().any(
        |k| matches!(k, Some(transfer_task::Kind::ActivityTask(r)) if r.scheduled_event_id == 5)
    ));
    assert!(kinds.iter().any(
        |k| matches!(k, Some(transfer_task::Kind::WorkflowTask(r)) if r.scheduled_event_id == 11)
    ));
    assert!(new.timers.iter().any(|t| matches!(
        &t.kind,
        Some(timer_task::Kind::UserTimer(u)) if u.timer_id == "t" && u.started_event_id == 6
    ) && t.fire_time() == at(102)));
}

#[test]
fn excluded_signals_are_not_reapplied() {
    let mut run = base();
    let history = run.history.clone();
    let mut p = params(4);
    p.reset_reapply_exclude_types = vec![ResetReapplyExcludeType::Signal as i32];
    let new = successor(&run.ms.reset(&history, &p, at(10)).unwrap());
    assert!(!new.types().contains(&EventType::WorkflowExecutionSignaled));
    assert_eq!(new.ms.signal_count, 0);
}

#[test]
fn a_closed_base_stays_closed() {
    let mut run = base();
    let s = Signal {
        name: "add".into(),
        request_id: "sig-2".into(),
        ..Default::default()
    };
    let m = run.ms.signal(&s, at(5)).unwrap();
    run.apply(m);
    let m = run_task(&mut run, vec![complete_wf()], at(6), &next_run());
    assert!(m.closed);
    let history = run.history.clone();
    let before = run.ms.clone();
    let m = run.ms.reset(&history, &params(4), at(10)).unwrap();
    assert!(!m.closed && m.events.is_empty());
    // Only the run the reset made is remembered (Temporal's ResetRunId).
    let mut expected = before;
    expected.reset_run_id = "run-reset".into();
    assert_eq!(run.ms, expected);
    assert_eq!(successor(&m).ms.reset_run_id, "");
    assert_eq!(
        successor(&m).ms.status,
        WorkflowExecutionStatus::Running as i32
    );
}

#[test]
fn a_bad_reset_point_gets_temporals_message() {
    let run = base();
    let bounds = "Workflow task finish ID must be > 1 && <= workflow last event ID.";
    for (finish, message) in [
        (1, bounds.to_string()),
        (11, bounds.to_string()),
        (2, "StateRebuilder unable to Rebuild mutable state to event ID: 1, version: 0, this event must be at the boundary".to_string()),
        (5, "StateRebuilder unable to Rebuild mutable state to event ID: 4, version: 0, this event must be at the boundary".to_string()),
        (7, "Can only reset workflow to event ID in range [WorkflowTaskScheduled +1, WorkflowTaskStarted + 1]: 7".to_string()),
    ] {
        let mut ms = run.ms.clone();
        let err = ms.reset(&run.history, &params(finish), at(10)).unwrap_err();
        assert_eq!(err, CoreError::InvalidArgument(message), "finish {finish}");
        assert_eq!(ms, run.ms, "a refused reset changes nothing");
    }
}
