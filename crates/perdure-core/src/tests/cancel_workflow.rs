//! Workflow cancellation: the request is written once, delivered by a task, and the
//! CancelWorkflowExecution command closes the run Canceled.

use super::*;
use temporalio_protos::temporal::api::command::v1::CancelWorkflowExecutionCommandAttributes;

fn cancel(reason: &str) -> CancelRequest {
    CancelRequest {
        reason: reason.into(),
        identity: "canceller".into(),
        ..Default::default()
    }
}

fn cancel_wf() -> Command {
    cmd(
        CommandType::CancelWorkflowExecution,
        Cmd::CancelWorkflowExecutionCommandAttributes(CancelWorkflowExecutionCommandAttributes {
            details: Some(payloads("bye")),
        }),
    )
}

#[test]
fn a_cancel_request_is_written_once_and_the_command_closes_the_run_canceled() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![], at(2)); // 4 WorkflowTaskCompleted; nothing pending
    let m = run.ms.request_cancel(&cancel("first"), at(3)).unwrap();
    let m = run.apply(m);
    assert_eq!(
        types(&m.events),
        vec![
            E::WorkflowExecutionCancelRequested,
            E::WorkflowTaskScheduled
        ]
    );
    let again = run.ms.request_cancel(&cancel("second"), at(4)).unwrap();
    assert!(again.events.is_empty(), "cancellation is idempotent");

    let d2 = run.poll_wft(at(5));
    let c = run.complete(&d2, vec![cancel_wf()], at(6));
    assert!(c.rejection.is_none() && c.mutation.closed);
    assert_eq!(run.ms.status, WorkflowExecutionStatus::Canceled as i32);
    let last = run.history.last().unwrap();
    match &last.attributes {
        Some(Attributes::WorkflowExecutionCanceledEventAttributes(a)) => {
            assert_eq!(a.workflow_task_completed_event_id, last.event_id - 1);
            assert_eq!(a.details, Some(payloads("bye")));
        }
        other => panic!("{other:?}"),
    }
    // A closed run: a success that changes nothing.
    let late = run.ms.request_cancel(&cancel("late"), at(7)).unwrap();
    assert!(late.events.is_empty());
}

#[test]
fn cancelling_over_a_pending_event_is_unhandled_command() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let m = run.ms.request_cancel(&cancel("during"), at(2)).unwrap();
    assert!(
        run.apply(m).events.is_empty(),
        "buffered while the task runs"
    );
    let c = run.complete(&d, vec![cancel_wf()], at(3));
    assert_eq!(c.rejection, Some(CoreError::UnhandledCommand));
    assert!(run.ms.is_running());
}

#[test]
fn another_chain_is_not_found() {
    let mut run = Run::start(None);
    let req = CancelRequest {
        first_execution_run_id: "some-other-run".into(),
        ..cancel("x")
    };
    assert!(matches!(
        run.ms.request_cancel(&req, at(1)),
        Err(CoreError::NotFound(_))
    ));
}
