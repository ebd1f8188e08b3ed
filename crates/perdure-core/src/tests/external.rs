//! Signals and cancel requests sent to other workflows: the initiated event, the pending
//! request and its effect; the report back written once (delivered or not found).

use temporalio_protos::temporal::api::{
    command::v1::{
        RequestCancelExternalWorkflowExecutionCommandAttributes,
        SignalExternalWorkflowExecutionCommandAttributes,
    },
    common::v1::WorkflowExecution,
};

use super::*;

fn signal_other() -> Command {
    cmd(
        CommandType::SignalExternalWorkflowExecution,
        Cmd::SignalExternalWorkflowExecutionCommandAttributes(
            SignalExternalWorkflowExecutionCommandAttributes {
                execution: Some(WorkflowExecution {
                    workflow_id: "other".into(),
                    run_id: String::new(),
                }),
                signal_name: "poke".into(),
                input: Some(payloads("hi")),
                ..Default::default()
            },
        ),
    )
}

#[test]
fn a_signal_to_another_workflow_is_initiated_then_reported_once() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![signal_other()], at(2));
    assert_eq!(
        run.types().last(),
        Some(&E::SignalExternalWorkflowExecutionInitiated)
    );
    let request = run.ms.external_request(5).expect("pending").clone();
    assert!(request.signal);
    assert_eq!(request.workflow_id, "other");
    assert_eq!(request.request_id("run-1"), "run-1:5");
    assert!(run.transfers.iter().any(|t| matches!(
        t.kind,
        Some(transfer_task::Kind::External(transfer_task::ChildRef {
            initiated_event_id: 5
        }))
    )));
    let m = run.ms.record_external_outcome(5, true, at(3)).unwrap();
    let m = run.apply(m);
    assert_eq!(
        types(&m.events),
        vec![
            E::ExternalWorkflowExecutionSignaled,
            E::WorkflowTaskScheduled
        ]
    );
    assert!(run
        .ms
        .record_external_outcome(5, true, at(4))
        .unwrap()
        .is_empty());
}

#[test]
fn a_cancel_request_for_a_missing_workflow_fails() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let cancel = cmd(
        CommandType::RequestCancelExternalWorkflowExecution,
        Cmd::RequestCancelExternalWorkflowExecutionCommandAttributes(
            RequestCancelExternalWorkflowExecutionCommandAttributes {
                workflow_id: "gone".into(),
                reason: "why".into(),
                ..Default::default()
            },
        ),
    );
    run.complete(&d, vec![cancel], at(2));
    let m = run.ms.record_external_outcome(5, false, at(3)).unwrap();
    let m = run.apply(m);
    match &m.events[0].attributes {
        Some(Attributes::RequestCancelExternalWorkflowExecutionFailedEventAttributes(a)) => {
            assert_eq!(a.initiated_event_id, 5);
            assert_eq!(a.workflow_execution.as_ref().unwrap().workflow_id, "gone");
        }
        other => panic!("not a failed cancel: {other:?}"),
    }
}
