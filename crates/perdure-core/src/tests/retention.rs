//! Retention: every way a run closes arms exactly one `DeleteRun` timer at close time +
//! the retention the run started with, and a retried run hands its retention to the next
//! attempt (Temporal's GenerateDeleteHistoryEventTask, called from every close path).

use super::*;
use temporalio_protos::temporal::api::command::v1::FailWorkflowExecutionCommandAttributes;

const RETENTION: Duration = Duration::from_secs(7);

fn start(
    req_edit: impl FnOnce(&mut StartWorkflowExecutionRequest),
    retention: Option<Duration>,
) -> Run {
    let mut req = StartWorkflowExecutionRequest {
        namespace: "default".into(),
        workflow_id: "wf".into(),
        workflow_type: Some(WorkflowType { name: "Wf".into() }),
        task_queue: Some(TaskQueue {
            name: "tq".into(),
            ..Default::default()
        }),
        request_id: "req-1".into(),
        ..Default::default()
    };
    req_edit(&mut req);
    let (ms, m) = start_workflow(
        StartParams {
            request: req,
            namespace_id: "ns-id".into(),
            run_id: "run-1".into(),
            retention,
            ..Default::default()
        },
        at(0),
    )
    .unwrap();
    let mut run = Run {
        ms,
        history: vec![],
        timers: vec![],
        transfers: vec![],
    };
    let m = run.apply(m);
    assert!(
        delete_timers(&m).is_empty(),
        "a running run is never deleted"
    );
    run
}

fn delete_timers(m: &Mutation) -> Vec<&TimerTask> {
    m.timer_tasks
        .iter()
        .filter(|t| matches!(t.kind, Some(timer_task::Kind::DeleteRun(_))))
        .collect()
}

/// The one DeleteRun timer of a closing mutation: for this run, due `RETENTION` after `closed`.
fn assert_deletes_at(run: &Run, m: &Mutation, closed: Time) {
    assert!(m.closed);
    let timers = delete_timers(m);
    assert_eq!(timers.len(), 1, "{:?}", m.timer_tasks);
    let t = timers[0];
    assert_eq!(t.fire_time(), closed.add(RETENTION));
    assert_eq!(t.run_id, run.ms.run_id);
    assert_eq!(t.workflow_id, "wf");
    assert_eq!(t.namespace_id, "ns-id");
    assert_eq!(Time(run.ms.close_time), closed);
    assert_eq!(run.ms.delete_time(), Some(closed.add(RETENTION)));
}

fn fail_command(msg: &str) -> Command {
    cmd(
        CommandType::FailWorkflowExecution,
        Cmd::FailWorkflowExecutionCommandAttributes(FailWorkflowExecutionCommandAttributes {
            failure: Some(app_failure(msg)),
        }),
    )
}

#[test]
fn completing_arms_the_deletion_at_close_plus_retention() {
    let mut run = start(|_| {}, Some(RETENTION));
    assert_eq!(run.ms.retention(), RETENTION);
    assert_eq!(run.ms.delete_time(), None);
    let d = run.poll_wft(at(1));
    let c = run.complete(&d, vec![complete_wf()], at(2));
    assert_eq!(run.ms.status, WorkflowExecutionStatus::Completed as i32);
    assert_deletes_at(&run, &c.mutation, at(2));
}

#[test]
fn failing_arms_the_deletion() {
    let mut run = start(|_| {}, Some(RETENTION));
    let d = run.poll_wft(at(1));
    let c = run.complete(&d, vec![fail_command("boom")], at(3));
    assert_eq!(run.ms.status, WorkflowExecutionStatus::Failed as i32);
    assert_deletes_at(&run, &c.mutation, at(3));
}

#[test]
fn terminating_arms_the_deletion() {
    let mut run = start(|_| {}, Some(RETENTION));
    let m = run.ms.terminate("bye", None, "admin", at(4)).unwrap();
    let m = run.apply(m);
    assert_eq!(run.ms.status, WorkflowExecutionStatus::Terminated as i32);
    assert_deletes_at(&run, &m, at(4));
}

#[test]
fn run_and_execution_timeouts_arm_the_deletion() {
    let mut run = start(
        |r| r.workflow_run_timeout = Some(duration_to_proto(Duration::from_secs(10))),
        Some(RETENTION),
    );
    let m = run.fire(
        |k| matches!(k, timer_task::Kind::WorkflowRunTimeout(_)),
        at(10),
    );
    assert_eq!(run.ms.status, WorkflowExecutionStatus::TimedOut as i32);
    assert_deletes_at(&run, &m, at(10));

    let mut run = start(
        |r| r.workflow_execution_timeout = Some(duration_to_proto(Duration::from_secs(20))),
        Some(RETENTION),
    );
    // The run timeout equals the execution timeout; the execution timer is the one that fires.
    let m = run.fire(
        |k| matches!(k, timer_task::Kind::WorkflowExecutionTimeout(_)),
        at(20),
    );
    assert_eq!(run.ms.status, WorkflowExecutionStatus::TimedOut as i32);
    assert_deletes_at(&run, &m, at(20));
}

#[test]
fn a_retried_run_is_deleted_and_its_successor_inherits_the_retention() {
    let mut run = start(
        |r| {
            r.retry_policy = Some(RetryPolicy {
                maximum_attempts: 3,
                ..Default::default()
            })
        },
        Some(RETENTION),
    );
    let d = run.poll_wft(at(1));
    let c = run.complete(&d, vec![fail_command("again")], at(5));
    assert_deletes_at(&run, &c.mutation, at(5));
    let next = c.mutation.new_run.as_ref().expect("retried");
    assert_eq!(next.state.retention(), RETENTION);
    assert!(
        delete_timers(&next.mutation).is_empty(),
        "the successor is running"
    );
}

#[test]
fn closing_twice_is_impossible_so_one_deletion_per_run() {
    let mut run = start(|_| {}, Some(RETENTION));
    let m = run.ms.terminate("bye", None, "admin", at(4)).unwrap();
    run.apply(m);
    assert_eq!(
        run.ms.terminate("again", None, "admin", at(5)),
        Err(CoreError::WorkflowCompleted)
    );
    // The core leaves DeleteRun to the history layer: firing it changes nothing.
    let t = run
        .timers
        .iter()
        .find(|t| matches!(t.kind, Some(timer_task::Kind::DeleteRun(_))))
        .cloned()
        .unwrap();
    let before = run.ms.clone();
    let m = run.ms.fire_timer(&t, at(11), &next_run()).unwrap();
    assert!(m.is_empty());
    assert_eq!(run.ms, before);
}

#[test]
fn default_retention_applies_when_none_is_given_or_stored() {
    let mut run = start(|_| {}, None);
    assert_eq!(run.ms.retention(), DEFAULT_RETENTION);
    // A state written before runs knew their retention.
    run.ms.retention = None;
    assert_eq!(run.ms.retention(), DEFAULT_RETENTION);
    let m = run.ms.terminate("bye", None, "admin", at(4)).unwrap();
    let timers = delete_timers(&m);
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].fire_time(), at(4).add(DEFAULT_RETENTION));
}

#[test]
fn delete_run_timer_and_retention_round_trip_through_prost() {
    let mut run = start(|_| {}, Some(RETENTION));
    let m = run.ms.terminate("bye", None, "admin", at(4)).unwrap();
    let t = delete_timers(&m)[0].clone();
    assert_eq!(TimerTask::decode(t.encode_to_vec().as_slice()).unwrap(), t);
    let decoded = MutableState::decode(run.ms.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded.retention(), RETENTION);
}
