//! DeleteWorkflowExecution: a running run is terminated as Temporal's history does it and
//! deleted now; a closed one only gets its deletion moved to now.

use super::*;
use crate::tasks::timer_task;
use crate::DELETE_REASON;

fn delete_timers(m: &Mutation) -> Vec<i64> {
    m.timer_tasks
        .iter()
        .filter(|t| matches!(t.kind, Some(timer_task::Kind::DeleteRun(_))))
        .map(|t| t.fire_time_unix_nanos)
        .collect()
}

#[test]
fn a_running_run_is_terminated_by_history_and_deleted_now() {
    let mut run = Run::start(None);
    let m = run.ms.delete_workflow(at(5)).unwrap();
    let m = run.apply(m);
    assert!(m.closed);
    let last = m.events.last().unwrap();
    assert_eq!(
        last.event_type,
        EventType::WorkflowExecutionTerminated as i32
    );
    let Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) = &last.attributes else {
        panic!("not a termination: {last:?}");
    };
    assert_eq!(
        (a.reason.as_str(), a.identity.as_str()),
        (DELETE_REASON, "history-service")
    );
    assert_eq!(delete_timers(&m), vec![at(5).0]);
    assert_eq!(run.ms.status, WorkflowExecutionStatus::Terminated as i32);
}

#[test]
fn a_closed_run_writes_nothing_but_its_deletion_now() {
    let mut run = Run::start(None);
    let m = run.ms.terminate("bye", None, "me", at(2)).unwrap();
    run.apply(m);
    let m = run.ms.delete_workflow(at(9)).unwrap();
    assert!(m.events.is_empty());
    assert_eq!(delete_timers(&m), vec![at(9).0]);
}
