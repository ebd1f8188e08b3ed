//! Continue-as-new: the closing run's event and state, the successor built in the same write,
//! the defaults Temporal fills in, the minimal spacing between runs, and refusals.

use temporalio_protos::temporal::api::{
    command::v1::ContinueAsNewWorkflowExecutionCommandAttributes,
    enums::v1::{ContinueAsNewInitiator, WorkflowExecutionStatus},
    history::v1::WorkflowExecutionContinuedAsNewEventAttributes,
};

use super::*;

fn can(attrs: ContinueAsNewWorkflowExecutionCommandAttributes) -> Command {
    cmd(
        CommandType::ContinueAsNewWorkflowExecution,
        Cmd::ContinueAsNewWorkflowExecutionCommandAttributes(attrs),
    )
}

fn continued(run: &Run) -> &WorkflowExecutionContinuedAsNewEventAttributes {
    match &run.history.last().unwrap().attributes {
        Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(a)) => a,
        other => panic!("not a continue-as-new: {other:?}"),
    }
}

fn no_spacing(run_id: &str) -> NewRunIds {
    NewRunIds {
        run_id: run_id.into(),
        request_id: format!("req-{run_id}"),
        min_interval: Duration::ZERO,
    }
}

#[test]
fn the_run_closes_and_its_successor_starts_in_the_same_write() {
    let mut first = Run::start(Some(Duration::from_secs(600)));
    let first_queue = first.ms.task_queue.clone();
    let m = run_task(
        &mut first,
        vec![can(ContinueAsNewWorkflowExecutionCommandAttributes {
            input: Some(payloads("next")),
            last_completion_result: Some(payloads("so far")),
            ..Default::default()
        })],
        at(5),
        &no_spacing("run-2"),
    );
    assert!(m.closed);
    assert_eq!(
        first.ms.status,
        WorkflowExecutionStatus::ContinuedAsNew as i32
    );
    let c = continued(&first);
    assert_eq!(c.new_execution_run_id, "run-2");
    assert_eq!(c.workflow_task_completed_event_id, 4);
    assert_eq!(c.input, Some(payloads("next")));
    // Unset attributes default to the closing run's, and the event shows them.
    assert_eq!(c.workflow_type, first.ms.workflow_type);
    assert_eq!(c.task_queue.as_ref().unwrap().name, first_queue);
    assert_eq!(
        duration_from_proto(c.workflow_run_timeout.as_ref()),
        Duration::from_secs(600)
    );
    assert_eq!(
        duration_from_proto(c.workflow_task_timeout.as_ref()),
        duration_from_proto(first.ms.task_timeout.as_ref())
    );

    let second = successor(&m);
    assert_eq!(second.ms.run_id, "run-2");
    assert_eq!(second.ms.workflow_id, first.ms.workflow_id);
    assert_eq!(
        second.types(),
        vec![E::WorkflowExecutionStarted, E::WorkflowTaskScheduled],
        "no spacing asked: the first task is due at once"
    );
    let s = started(&second);
    assert_eq!(s.continued_execution_run_id, "run-1");
    assert_eq!(s.original_execution_run_id, "run-2");
    assert_eq!(s.first_execution_run_id, first.ms.first_execution_run_id);
    assert_eq!(s.initiator, ContinueAsNewInitiator::Workflow as i32);
    assert_eq!(s.attempt, 1);
    assert_eq!(s.input, Some(payloads("next")));
    assert_eq!(s.last_completion_result, Some(payloads("so far")));
    assert_eq!(s.task_queue.as_ref().unwrap().name, first_queue);
    assert_eq!(
        duration_from_proto(s.workflow_run_timeout.as_ref()),
        Duration::from_secs(600)
    );
    // The first run's reset point (its first completed task) travels on, now with an expiry.
    let points = &s
        .prev_auto_reset_points
        .as_ref()
        .expect("reset points")
        .points;
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].run_id, "run-1");
    assert_eq!(points[0].first_workflow_task_completed_id, 4);
    assert!(points[0].resettable);
    assert_eq!(points[0].create_time, at(5).to_timestamp_opt());
    assert_eq!(
        points[0].expire_time,
        at(5).add(first.ms.retention()).to_timestamp_opt()
    );
    assert_eq!(second.ms.auto_reset_points, s.prev_auto_reset_points);
    // Describe shows them, as Temporal's workflow_execution_info.auto_reset_points.
    let described = second.ms.describe().workflow_execution_info.unwrap();
    assert_eq!(described.auto_reset_points, s.prev_auto_reset_points);
}

#[test]
fn a_quick_continue_as_new_waits_the_minimal_interval() {
    let mut first = Run::start(None);
    let m = run_task(
        &mut first,
        vec![can(Default::default())],
        at(0),
        &next_run(),
    );
    let second = successor(&m);
    assert_eq!(
        second.types(),
        vec![E::WorkflowExecutionStarted],
        "the first task waits for the backoff timer"
    );
    assert_eq!(
        duration_from_proto(started(&second).first_workflow_task_backoff.as_ref()),
        WORKFLOW_ID_REUSE_MINIMAL_INTERVAL
    );
    assert!(second.timers.iter().any(|t| matches!(
        t.kind,
        Some(timer_task::Kind::WorkflowBackoff(_))
    ) && t.fire_time()
        == at(0).add(WORKFLOW_ID_REUSE_MINIMAL_INTERVAL)));
}

#[test]
fn the_command_chooses_type_queue_and_what_the_new_run_carries() {
    let mut req = start_params(None).request;
    req.workflow_execution_timeout = Some(duration_to_proto(Duration::from_secs(3600)));
    let mut first = {
        let mut p = start_params(None);
        p.request = req;
        let (ms, m) = start_workflow(p, at(0)).unwrap();
        let mut run = Run {
            ms,
            history: vec![],
            timers: vec![],
            transfers: vec![],
        };
        run.apply(m);
        run
    };
    let m = run_task(
        &mut first,
        vec![can(ContinueAsNewWorkflowExecutionCommandAttributes {
            workflow_type: Some(WorkflowType {
                name: "Other".into(),
            }),
            task_queue: Some(TaskQueue {
                name: "other-queue".into(),
                ..Default::default()
            }),
            backoff_start_interval: Some(duration_to_proto(Duration::from_secs(30))),
            initiator: ContinueAsNewInitiator::Retry as i32,
            ..Default::default()
        })],
        at(10),
        &no_spacing("run-2"),
    );
    let second = successor(&m);
    let s = started(&second);
    assert_eq!(s.workflow_type.as_ref().unwrap().name, "Other");
    assert_eq!(second.ms.task_queue, "other-queue");
    assert_eq!(s.attempt, first.ms.attempt + 1, "a retry initiator counts");
    assert_eq!(
        duration_from_proto(s.first_workflow_task_backoff.as_ref()),
        Duration::from_secs(30)
    );
    // The execution deadline is the chain's: carried, not restarted.
    assert_eq!(
        second.ms.execution_expiration_time,
        first.ms.execution_expiration_time
    );
    assert_eq!(
        duration_from_proto(s.workflow_run_timeout.as_ref()),
        Duration::from_secs(3600),
        "a run is never longer than the execution"
    );
    assert_eq!(second.types(), vec![E::WorkflowExecutionStarted]);
}

#[test]
fn pending_events_make_it_an_unhandled_command_and_bad_attributes_fail_the_task() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let signal = Signal {
        name: "s".into(),
        request_id: "r".into(),
        ..Default::default()
    };
    let m = run.ms.signal(&signal, at(2)).unwrap();
    run.apply(m);
    let req = RespondWorkflowTaskCompletedRequest {
        commands: vec![can(Default::default())],
        ..Default::default()
    };
    let c = run
        .ms
        .complete_workflow_task(
            &d.token,
            &req,
            at(3),
            &no_spacing("run-2"),
            &Default::default(),
        )
        .unwrap();
    assert_eq!(c.rejection, Some(CoreError::UnhandledCommand));
    assert!(c.mutation.new_run.is_none());
    run.apply(c.mutation);
    assert!(run.ms.is_running());

    let d = run.poll_wft(at(4));
    let req = RespondWorkflowTaskCompletedRequest {
        commands: vec![can(ContinueAsNewWorkflowExecutionCommandAttributes {
            workflow_run_timeout: Some(prost_wkt_types::Duration {
                seconds: -1,
                nanos: 0,
            }),
            ..Default::default()
        })],
        ..Default::default()
    };
    let c = run
        .ms
        .complete_workflow_task(
            &d.token,
            &req,
            at(5),
            &no_spacing("run-2"),
            &Default::default(),
        )
        .unwrap();
    match c.rejection {
        Some(CoreError::InvalidArgument(m)) => assert!(
            m.starts_with("BadContinueAsNewAttributes: Invalid WorkflowRunTimeout"),
            "{m}"
        ),
        other => panic!("expected a failed task, got {other:?}"),
    }
    assert!(c.mutation.new_run.is_none());
}
