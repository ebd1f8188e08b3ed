//! Child workflows, the parent's side: the command writes the initiated event, a pending
//! child and a StartChild effect; the reports that come back (started, could not start,
//! closed) write their events once each, buffered while a task runs; a closing run names the
//! parent and the children its policy must reach.

use temporalio_protos::temporal::api::{
    command::v1::StartChildWorkflowExecutionCommandAttributes,
    common::v1::WorkflowExecution,
    enums::v1::{ParentClosePolicy, StartChildWorkflowExecutionFailedCause},
};

use super::*;
use crate::{ChildOutcome, ParentExecution};

fn start_child(id: &str, policy: ParentClosePolicy) -> Command {
    cmd(
        CommandType::StartChildWorkflowExecution,
        Cmd::StartChildWorkflowExecutionCommandAttributes(
            StartChildWorkflowExecutionCommandAttributes {
                workflow_id: id.into(),
                workflow_type: Some(WorkflowType {
                    name: "Child".into(),
                }),
                input: Some(payloads("in")),
                parent_close_policy: policy as i32,
                ..Default::default()
            },
        ),
    )
}

/// A parent that started one child (initiated event 5).
fn parent_with_child(policy: ParentClosePolicy) -> Run {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let c = run.complete(&d, vec![start_child("kid", policy)], at(2));
    assert!(c.rejection.is_none());
    run
}

fn kid(run_id: &str) -> WorkflowExecution {
    WorkflowExecution {
        workflow_id: "kid".into(),
        run_id: run_id.into(),
    }
}

#[test]
fn the_command_writes_the_initiated_event_and_a_start_effect() {
    let run = parent_with_child(ParentClosePolicy::Unspecified);
    assert_eq!(
        run.types().last(),
        Some(&E::StartChildWorkflowExecutionInitiated)
    );
    match &run.history[4].attributes {
        Some(Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a)) => {
            assert_eq!(a.workflow_id, "kid");
            assert_eq!(a.namespace, "default");
            assert_eq!(a.task_queue.as_ref().unwrap().name, run.ms.task_queue);
            assert_eq!(a.input, Some(payloads("in")));
            assert_eq!(a.workflow_task_completed_event_id, 4);
            assert_eq!(a.parent_close_policy, ParentClosePolicy::Terminate as i32);
        }
        other => panic!("not initiated: {other:?}"),
    }
    let child = run.ms.child_to_start(5).expect("pending");
    let request = child.request.as_ref().unwrap();
    assert_eq!(request.request_id, "run-1:5", "the same on every attempt");
    assert!(run.transfers.iter().any(|t| matches!(
        t.kind,
        Some(transfer_task::Kind::StartChild(transfer_task::ChildRef {
            initiated_event_id: 5
        }))
    )));
    let parent = run.ms.as_parent(5);
    assert_eq!(
        (
            parent.workflow_id.as_str(),
            parent.root_workflow_id.as_str()
        ),
        ("wf", "wf")
    );
}

#[test]
fn started_then_completed_write_one_event_each_and_wake_the_workflow() {
    let mut run = parent_with_child(ParentClosePolicy::Terminate);
    let m = run.ms.record_child_started(5, "kid-run", at(3)).unwrap();
    let m = run.apply(m);
    assert_eq!(
        types(&m.events),
        vec![E::ChildWorkflowExecutionStarted, E::WorkflowTaskScheduled]
    );
    assert!(run
        .ms
        .record_child_started(5, "kid-run", at(4))
        .unwrap()
        .is_empty());
    assert!(run.ms.child_to_start(5).is_none());

    let d = run.poll_wft(at(5));
    run.complete(&d, vec![], at(6));
    let m = run
        .ms
        .record_child_closed(
            5,
            &kid("kid-run"),
            ChildOutcome::Completed(Some(payloads("out"))),
            at(7),
        )
        .unwrap();
    let m = run.apply(m);
    assert_eq!(
        types(&m.events),
        vec![E::ChildWorkflowExecutionCompleted, E::WorkflowTaskScheduled]
    );
    match &m.events[0].attributes {
        Some(Attributes::ChildWorkflowExecutionCompletedEventAttributes(a)) => {
            assert_eq!(a.result, Some(payloads("out")));
            assert_eq!(a.initiated_event_id, 5);
            assert_eq!(a.started_event_id, 6);
            assert_eq!(a.workflow_execution, Some(kid("kid-run")));
        }
        other => panic!("not completed: {other:?}"),
    }
    assert!(run.ms.children.is_empty());
    // A repeated report finds nothing to do.
    let again = run
        .ms
        .record_child_closed(5, &kid("kid-run"), ChildOutcome::Terminated, at(8))
        .unwrap();
    assert!(again.is_empty());
}

#[test]
fn reports_during_a_running_task_are_buffered_with_their_ids_fixed_on_flush() {
    let mut run = parent_with_child(ParentClosePolicy::Terminate);
    // A signal schedules a task, which starts; the child's start and end arrive meanwhile.
    let m = run
        .ms
        .signal(
            &Signal {
                name: "s".into(),
                request_id: "r".into(),
                ..Default::default()
            },
            at(3),
        )
        .unwrap();
    run.apply(m);
    let d = run.poll_wft(at(4));
    let m = run.ms.record_child_started(5, "kid-run", at(5)).unwrap();
    assert!(m.events.is_empty(), "buffered");
    let m = run
        .ms
        .record_child_closed(
            5,
            &kid("kid-run"),
            ChildOutcome::Failed {
                failure: Some(app_failure("child broke")),
                retry_state: RetryState::RetryPolicyNotSet,
            },
            at(6),
        )
        .unwrap();
    assert!(m.events.is_empty(), "buffered");
    let c = run.complete(&d, vec![], at(7));
    let t = types(&c.mutation.events);
    assert_eq!(
        t,
        vec![
            E::WorkflowTaskCompleted,
            E::ChildWorkflowExecutionStarted,
            E::ChildWorkflowExecutionFailed,
            E::WorkflowTaskScheduled
        ]
    );
    let started_id = c.mutation.events[1].event_id;
    match &c.mutation.events[2].attributes {
        Some(Attributes::ChildWorkflowExecutionFailedEventAttributes(a)) => {
            assert_eq!(a.started_event_id, started_id, "placeholder fixed on flush");
            assert_eq!(a.failure.as_ref().unwrap().message, "child broke");
        }
        other => panic!("not failed: {other:?}"),
    }
}

#[test]
fn a_taken_workflow_id_fails_the_start_and_an_early_close_report_waits() {
    let mut run = parent_with_child(ParentClosePolicy::Terminate);
    // The close of a child whose start is not recorded yet must come again later.
    assert!(matches!(
        run.ms
            .record_child_closed(5, &kid("x"), ChildOutcome::Terminated, at(3)),
        Err(CoreError::WorkflowNotReady(_))
    ));
    let m = run
        .ms
        .record_start_child_failed(
            5,
            StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists,
            at(3),
        )
        .unwrap();
    let m = run.apply(m);
    match &m.events[0].attributes {
        Some(Attributes::StartChildWorkflowExecutionFailedEventAttributes(a)) => {
            assert_eq!(a.workflow_id, "kid");
            assert_eq!(a.initiated_event_id, 5);
            assert_eq!(
                a.workflow_task_completed_event_id, 0,
                "as Temporal writes it"
            );
            assert_eq!(
                a.cause,
                StartChildWorkflowExecutionFailedCause::WorkflowAlreadyExists as i32
            );
        }
        other => panic!("not a failed start: {other:?}"),
    }
    assert!(run.ms.children.is_empty());
}

#[test]
fn a_closing_parent_names_the_children_its_policy_reaches_and_a_child_its_parent() {
    let mut run = parent_with_child(ParentClosePolicy::RequestCancel);
    let m = run.ms.record_child_started(5, "kid-run", at(3)).unwrap();
    run.apply(m);
    assert!(run.ms.run_closed_task(false).is_some());
    let m = run.ms.terminate("stop", None, "op", at(4)).unwrap();
    run.apply(m);
    let effects = run.ms.closed_run_effects(true);
    assert!(effects.parent.is_none(), "a top-level run");
    assert_eq!(effects.children.len(), 1);
    assert_eq!(effects.children[0].run_id, "kid-run");

    // A child run knows its parent; a successor taking the parent over does not report.
    let mut p = start_params(None);
    p.parent = Some(ParentExecution {
        namespace: "default".into(),
        namespace_id: "ns-id".into(),
        workflow_id: "wf".into(),
        run_id: "run-1".into(),
        initiated_event_id: 5,
        root_workflow_id: "wf".into(),
        root_run_id: "run-1".into(),
    });
    let (child, m) = start_workflow(p, at(5)).unwrap();
    match &m.events[0].attributes {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => {
            assert_eq!(a.parent_initiated_event_id, 5);
            assert_eq!(
                a.parent_workflow_execution.as_ref().unwrap().run_id,
                "run-1"
            );
            assert_eq!(
                a.root_workflow_execution.as_ref().unwrap().workflow_id,
                "wf"
            );
        }
        other => panic!("not a start: {other:?}"),
    }
    assert!(child.run_closed_task(true).is_none());
    assert!(child.run_closed_task(false).is_some());
}
