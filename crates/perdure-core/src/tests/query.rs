//! Where a query goes: rejected by its condition, refused while no task can answer, handed
//! to a worker directly when every event has been seen, else carried by the next task.

use temporalio_protos::temporal::api::enums::v1::{
    QueryRejectCondition as Reject, WorkflowExecutionStatus as Status,
};

use temporalio_protos::temporal::api::taskqueue::v1::StickyExecutionAttributes;

use super::*;
use crate::{QueryRoute, QueryTarget, FAIL_QUERY_WORKFLOW_TASK_ATTEMPT};

fn direct(task_queue: &str) -> QueryRoute {
    QueryRoute::Direct(QueryTarget {
        task_queue: task_queue.into(),
        sticky: None,
    })
}

#[test]
fn before_any_task_started_the_query_waits_for_the_first_one() {
    let run = Run::start(None);
    assert_eq!(
        run.ms.route_query(Reject::None, None),
        Ok(QueryRoute::Buffer)
    );
}

#[test]
fn between_tasks_a_query_goes_straight_to_a_worker_and_with_events_pending_it_waits() {
    let mut run = Run::start(None);
    let queue = run.ms.task_queue.clone();
    let d = run.poll_wft(at(1));
    // Started, not completed: the worker has not seen the outcome of its own task yet.
    assert_eq!(
        run.ms.route_query(Reject::None, None),
        Ok(QueryRoute::Buffer)
    );
    run.complete(&d, vec![start_timer("t", 60)], at(2));
    assert_eq!(run.ms.route_query(Reject::None, None), Ok(direct(&queue)));

    // A signal schedules a task: the query must see it, so it rides on that task.
    let signal = Signal {
        name: "s".into(),
        request_id: "r".into(),
        ..Default::default()
    };
    let m = run.ms.signal(&signal, at(3)).unwrap();
    run.apply(m);
    assert_eq!(
        run.ms.route_query(Reject::None, None),
        Ok(QueryRoute::Buffer)
    );
}

#[test]
fn a_sticky_worker_is_asked_first_with_its_schedule_to_start_timeout() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let req = RespondWorkflowTaskCompletedRequest {
        commands: vec![start_timer("t", 60)],
        sticky_attributes: Some(StickyExecutionAttributes {
            worker_task_queue: Some(TaskQueue {
                name: "sticky-1".into(),
                ..Default::default()
            }),
            schedule_to_start_timeout: Some(duration_to_proto(Duration::from_secs(7))),
        }),
        ..Default::default()
    };
    let c = run
        .ms
        .complete_workflow_task(&d.token, &req, at(2), &next_run(), &Default::default())
        .unwrap();
    run.apply(c.mutation);
    let Ok(QueryRoute::Direct(target)) = run.ms.route_query(Reject::None, None) else {
        panic!("direct expected");
    };
    assert_eq!(target.task_queue, run.ms.task_queue);
    assert_eq!(
        target.sticky,
        Some(("sticky-1".to_string(), Duration::from_secs(7)))
    );
}

#[test]
fn closed_runs_are_queried_directly_unless_the_condition_rejects_them() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![complete_wf()], at(2));
    let queue = run.ms.task_queue.clone();
    assert_eq!(run.ms.route_query(Reject::None, None), Ok(direct(&queue)));
    assert_eq!(
        run.ms.route_query(Reject::NotCompletedCleanly, None),
        Ok(direct(&queue))
    );
    assert_eq!(
        run.ms.route_query(Reject::NotOpen, None),
        Ok(QueryRoute::Rejected {
            status: Status::Completed
        })
    );

    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![start_timer("t", 60)], at(2));
    let m = run.ms.terminate("stop", None, "op", at(3)).unwrap();
    run.apply(m);
    assert_eq!(
        run.ms.route_query(Reject::NotCompletedCleanly, None),
        Ok(QueryRoute::Rejected {
            status: Status::Terminated
        })
    );
    // A closed run has no sticky worker to prefer.
    assert_eq!(run.ms.route_query(Reject::None, None), Ok(direct(&queue)));
}

#[test]
fn the_reject_condition_never_applies_to_a_running_workflow() {
    let run = Run::start(None);
    assert_eq!(
        run.ms.route_query(Reject::NotOpen, None),
        Ok(QueryRoute::Buffer)
    );
}

#[test]
fn a_task_failing_again_and_again_fails_queries_at_once() {
    let mut run = Run::start(None);
    for attempt in 1..FAIL_QUERY_WORKFLOW_TASK_ATTEMPT {
        assert_eq!(run.ms.workflow_task.as_ref().unwrap().attempt, attempt);
        let d = run.poll_wft(at(attempt as i64));
        let m = run
            .ms
            .fail_workflow_task(&d.token, 0, None, "w", at(attempt as i64))
            .unwrap();
        run.apply(m);
    }
    assert_eq!(
        run.ms.route_query(Reject::None, None),
        Err(CoreError::WorkflowNotReady(
            "Unable to query workflow due to Workflow Task in failed state.".into()
        ))
    );
}

#[test]
fn a_run_whose_first_task_is_held_back_waits_only_if_the_caller_can() {
    let mut params = start_params(None);
    params.request.workflow_start_delay = Some(duration_to_proto(Duration::from_secs(60)));
    let (ms, m) = start_workflow(params, at(0)).unwrap();
    assert_eq!(types(&m.events), vec![E::WorkflowExecutionStarted]);
    let not_scheduled = Err(CoreError::WorkflowNotReady(
        "Workflow task is not scheduled yet.".into(),
    ));
    assert_eq!(ms.route_query(Reject::None, None), not_scheduled);
    assert_eq!(ms.route_query(Reject::None, Some(at(59))), not_scheduled);
    assert_eq!(
        ms.route_query(Reject::None, Some(at(61))),
        Ok(QueryRoute::Buffer)
    );
}

#[test]
fn a_run_closed_before_any_task_completed_cannot_be_queried() {
    let mut run = Run::start(None);
    run.poll_wft(at(1));
    let m = run.ms.terminate("stop", None, "op", at(2)).unwrap();
    run.apply(m);
    let closed = Err(CoreError::WorkflowNotReady(
        "Workflow execution closed before WorkflowTaskStarted event".into(),
    ));
    assert_eq!(run.ms.route_query(Reject::None, None), closed);
    // A reject condition is checked first, as Temporal does.
    assert_eq!(
        run.ms.route_query(Reject::NotOpen, None),
        Ok(QueryRoute::Rejected {
            status: Status::Terminated
        })
    );
}
