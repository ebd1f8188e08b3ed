//! Validation in Temporal's order and words, and a job's life: count, pages, progress,
//! resume from a checkpoint, completion, stop.

use perdure_core::Time;
use prost::Message;
use temporalio_protos::temporal::api::batch::v1::{
    BatchOperationCancellation, BatchOperationDeletion, BatchOperationReset, BatchOperationSignal,
    BatchOperationTerminateActivities, BatchOperationTermination,
};
use temporalio_protos::temporal::api::common::v1::{Execution, WorkflowExecution};
use temporalio_protos::temporal::api::enums::v1::{
    BatchOperationState, BatchOperationType, ExecutionType,
};
use temporalio_protos::temporal::api::workflowservice::v1::start_batch_operation_request::Operation;
use temporalio_protos::temporal::api::workflowservice::v1::StartBatchOperationRequest;

use crate::*;

fn terminate_by_query() -> StartBatchOperationRequest {
    StartBatchOperationRequest {
        namespace: "default".into(),
        job_id: "job-1".into(),
        reason: "why".into(),
        visibility_query: "TaskQueue = 'q'".into(),
        operation: Some(Operation::TerminationOperation(BatchOperationTermination {
            identity: "me".into(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

fn refusal(req: StartBatchOperationRequest) -> String {
    match validate_start(&req) {
        Err(Refusal::InvalidArgument(m)) => m,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

fn wf(id: &str) -> WorkflowExecution {
    WorkflowExecution {
        workflow_id: id.into(),
        run_id: format!("run-{id}"),
    }
}

const REQUIRED: &str = "must provide required parameters: BatchType,Reason,Namespace, AND one of (Query OR Executions OR TargetExecutions)";

#[test]
fn required_fields_are_checked_first_in_temporals_words() {
    assert_eq!(validate_start(&terminate_by_query()), Ok(Kind::Terminate));
    let mut r = terminate_by_query();
    r.operation = None;
    assert_eq!(refusal(r), REQUIRED);
    let mut r = terminate_by_query();
    r.reason.clear();
    assert_eq!(refusal(r), REQUIRED);
    let mut r = terminate_by_query();
    r.visibility_query.clear();
    assert_eq!(refusal(r), REQUIRED);
    let mut r = terminate_by_query();
    r.job_id.clear();
    assert_eq!(refusal(r), "JobId is not set on request.");
    // Missing reason wins over missing job id, as in ValidateBatchOperation.
    let mut r = terminate_by_query();
    r.job_id.clear();
    r.reason.clear();
    assert_eq!(refusal(r), REQUIRED);
}

#[test]
fn selectors_are_mutually_exclusive_and_typed() {
    let mut r = terminate_by_query();
    #[allow(deprecated)]
    r.executions.push(wf("a"));
    assert_eq!(
        refusal(r),
        "visibility query, executions, and target executions are mutually exclusive"
    );
    let mut r = terminate_by_query();
    r.visibility_query.clear();
    r.target_executions.push(Execution {
        r#type: ExecutionType::Activity as i32,
        business_id: "a".into(),
        run_id: String::new(),
    });
    assert_eq!(
        refusal(r),
        "target_executions[0] has type Activity, but operation *workflowservice.StartBatchOperationRequest_TerminationOperation requires Workflow"
    );
}

#[test]
fn operations_are_checked_and_unsupported_ones_say_so() {
    let mut r = terminate_by_query();
    r.operation = Some(Operation::SignalOperation(BatchOperationSignal::default()));
    assert_eq!(refusal(r), "must provide signal name");
    let mut r = terminate_by_query();
    r.operation = Some(Operation::ResetOperation(BatchOperationReset::default()));
    assert_eq!(refusal(r), "unknown batch reset type Unspecified");
    let mut r = terminate_by_query();
    r.operation = Some(Operation::TerminateActivitiesOperation(
        BatchOperationTerminateActivities::default(),
    ));
    assert_eq!(
        refusal(r),
        "The operation type *workflowservice.StartBatchOperationRequest_TerminateActivitiesOperation is not supported for this namespace"
    );
    // A valid reset is a reset job; one asking for post-reset operations, which Perdure's
    // reset does not carry out, is refused rather than run without them.
    let mut r = terminate_by_query();
    #[allow(deprecated)]
    let mut reset = BatchOperationReset {
        reset_type: 1,
        ..Default::default()
    };
    r.operation = Some(Operation::ResetOperation(reset.clone()));
    assert_eq!(validate_start(&r), Ok(Kind::Reset));
    reset.post_reset_operations = vec![Default::default()];
    r.operation = Some(Operation::ResetOperation(reset));
    assert_eq!(
        validate_start(&r),
        Err(Refusal::Unimplemented(
            "Post-reset operations are not supported by this server".into()
        ))
    );
    let mut r = terminate_by_query();
    r.operation = Some(Operation::ResetOperation(BatchOperationReset {
        options: Some(Default::default()),
        ..Default::default()
    }));
    assert_eq!(refusal(r), "batch reset missing target");
    for (op, kind) in [
        (
            Operation::CancellationOperation(BatchOperationCancellation::default()),
            Kind::Cancel,
        ),
        (
            Operation::DeletionOperation(BatchOperationDeletion::default()),
            Kind::Delete,
        ),
        (
            Operation::SignalOperation(BatchOperationSignal {
                signal: "s".into(),
                ..Default::default()
            }),
            Kind::Signal,
        ),
    ] {
        let mut r = terminate_by_query();
        r.operation = Some(op);
        assert_eq!(validate_start(&r), Ok(kind));
    }
    let mut r = terminate_by_query();
    r.reason = "x".repeat(validate::MAX_TEXT_BYTES + 1);
    assert!(refusal(r).starts_with("Reason is too long"));
}

#[test]
fn only_open_runs_are_targets_except_for_delete() {
    let job = BatchJob::new("ns", "run", terminate_by_query(), Time(1));
    assert_eq!(
        job.effective_query(),
        "(TaskQueue = 'q') AND (ExecutionStatus='Running' OR ExecutionStatus='Paused')"
    );
    let mut r = terminate_by_query();
    r.operation = Some(Operation::DeletionOperation(Default::default()));
    let job = BatchJob::new("ns", "run", r, Time(1));
    assert_eq!(job.effective_query(), "TaskQueue = 'q'");
    // The batcher adds no status filter for reset either: a closed run can be reset.
    let mut r = terminate_by_query();
    r.operation = Some(Operation::ResetOperation(Default::default()));
    let job = BatchJob::new("ns", "run", r, Time(1));
    assert_eq!(job.effective_query(), "TaskQueue = 'q'");
    assert_eq!(job.operation_type(), BatchOperationType::ResetWorkflow);
}

#[test]
fn a_query_job_counts_lists_applies_and_completes() {
    let mut job = BatchJob::new("ns", "run", terminate_by_query(), Time(10));
    assert!(job.is_running());
    assert!(matches!(job.next_work(), Work::Count { .. }));
    job.set_total(3);
    assert_eq!(
        job.next_work(),
        Work::List {
            query: job.effective_query(),
            token: vec![]
        }
    );
    job.take_page(vec![wf("a"), wf("b")], b"t1".to_vec());
    assert_eq!(job.next_work(), Work::Apply(vec![wf("a"), wf("b")]));
    job.record(0, 1, 0).unwrap();
    assert_eq!(job.next_work(), Work::Apply(vec![wf("b")]));
    // A stale report (from position 0 again) changes nothing.
    assert_eq!(job.record(0, 1, 0), Err(JobError::Stale));
    job.record(1, 0, 1).unwrap();
    assert_eq!(
        job.next_work(),
        Work::List {
            query: job.effective_query(),
            token: b"t1".to_vec()
        }
    );
    job.take_page(vec![wf("c")], vec![]);
    job.record(0, 1, 0).unwrap();
    assert_eq!(job.next_work(), Work::Finish);
    job.complete(Time(20));
    let d = job.describe();
    assert_eq!(d.state, BatchOperationState::Completed as i32);
    assert_eq!(
        d.operation_type,
        BatchOperationType::TerminateWorkflow as i32
    );
    assert_eq!(
        (
            d.total_operation_count,
            d.complete_operation_count,
            d.failure_operation_count
        ),
        (3, 2, 1)
    );
    assert_eq!((d.identity.as_str(), d.reason.as_str()), ("me", "why"));
    assert_eq!(d.close_time, Time(20).to_timestamp_opt());
    assert_eq!(job.next_work(), Work::Closed);
}

#[test]
fn a_checkpointed_job_resumes_where_it_was_after_a_round_trip_through_storage() {
    let mut job = BatchJob::new("ns", "run", terminate_by_query(), Time(10));
    job.set_total(4);
    job.take_page(vec![wf("a"), wf("b"), wf("c")], b"t1".to_vec());
    job.record(0, 2, 0).unwrap();
    let stored = job.encode_to_vec();
    let resumed = BatchJob::decode(stored.as_slice()).unwrap();
    assert_eq!(resumed, job);
    // Only what was not checkpointed is carried out again.
    assert_eq!(resumed.next_work(), Work::Apply(vec![wf("c")]));
    assert_eq!(resumed.complete, 2);
}

#[test]
fn explicit_executions_are_the_only_page() {
    let mut r = terminate_by_query();
    r.visibility_query.clear();
    r.target_executions = vec![Execution {
        r#type: ExecutionType::Workflow as i32,
        business_id: "a".into(),
        run_id: String::new(),
    }];
    let mut job = BatchJob::new("ns", "run", r, Time(1));
    assert_eq!(job.total, 1);
    assert_eq!(
        job.next_work(),
        Work::Apply(vec![WorkflowExecution {
            workflow_id: "a".into(),
            run_id: String::new()
        }])
    );
    assert_eq!(job.describe().executions.len(), 1);
    job.record(0, 1, 0).unwrap();
    assert_eq!(job.next_work(), Work::Finish);
}

#[test]
fn stop_fails_a_running_job_and_refuses_a_closed_one() {
    let mut job = BatchJob::new("ns", "run", terminate_by_query(), Time(1));
    job.set_total(5);
    job.take_page(vec![wf("a")], b"t".to_vec());
    job.stop(Time(7), "enough").unwrap();
    assert_eq!(job.state, BatchOperationState::Failed as i32);
    assert_eq!(job.next_work(), Work::Closed);
    assert_eq!(job.describe().close_time, Time(7).to_timestamp_opt());
    // Counts stay as they were when stopped (Temporal: the last heartbeat's).
    assert_eq!(job.describe().total_operation_count, 5);
    assert_eq!(job.stop(Time(8), "again"), Err(JobError::Closed));
    assert_eq!(
        JobError::Closed.to_string(),
        "workflow execution already completed"
    );
}

#[test]
fn signal_request_ids_are_temporals() {
    // uuid.NewSHA1(uuid.Nil, "job:signal:wf:run:sig") as Temporal's batcher computes it.
    let id = signal_request_id("job", &wf("wf"), "sig");
    assert_eq!(id, "35e37083-2071-580f-aea1-a5c1d21b8d1b");
    assert_eq!(id, signal_request_id("job", &wf("wf"), "sig"));
    assert_ne!(id, signal_request_id("job", &wf("other"), "sig"));
    assert_eq!(&id[14..15], "5", "a version 5 (SHA-1) uuid");
}

#[test]
fn reset_request_ids_are_per_job_and_target() {
    let id = job::reset_request_id("job", &wf("wf"));
    assert_eq!(id, job::reset_request_id("job", &wf("wf")));
    assert_ne!(id, job::reset_request_id("job2", &wf("wf")));
    assert_ne!(id, job::reset_request_id("job", &wf("other")));
    // uuid.NewSHA1(uuid.Nil, "job:reset:wf:run-wf"), the batcher's deterministicRequestID.
    assert_eq!(
        id,
        uuid::Uuid::new_v5(&uuid::Uuid::nil(), b"job:reset:wf:run-wf").to_string()
    );
}

mod reset_point {
    use super::*;
    use crate::reset::{build_id_point, plan, Point, ResetPlan, TargetError, WorkflowTaskScan};
    use temporalio_protos::temporal::api::common::v1::{reset_options::Target, ResetOptions};
    use temporalio_protos::temporal::api::enums::v1::EventType;
    use temporalio_protos::temporal::api::history::v1::HistoryEvent;
    use temporalio_protos::temporal::api::workflow::v1::ResetPointInfo;

    fn history(types: &[EventType]) -> Vec<HistoryEvent> {
        types
            .iter()
            .enumerate()
            .map(|(i, t)| HistoryEvent {
                event_id: i as i64 + 1,
                event_type: *t as i32,
                ..Default::default()
            })
            .collect()
    }

    fn scan(last: bool, events: &[HistoryEvent]) -> (Result<i64, TargetError>, usize) {
        let mut s = WorkflowTaskScan::new(last);
        let mut read = 0;
        for e in events {
            read += 1;
            if s.observe(e) {
                break;
            }
        }
        (s.finish(), read)
    }

    use EventType::*;
    const TWO_TASKS: &[EventType] = &[
        WorkflowExecutionStarted,  // 1
        WorkflowTaskScheduled,     // 2
        WorkflowTaskStarted,       // 3
        WorkflowTaskCompleted,     // 4
        ActivityTaskScheduled,     // 5
        ActivityTaskStarted,       // 6
        ActivityTaskCompleted,     // 7
        WorkflowTaskScheduled,     // 8
        WorkflowTaskStarted,       // 9
        WorkflowTaskCompleted,     // 10
        WorkflowExecutionSignaled, // 11
        WorkflowTaskScheduled,     // 12
    ];

    #[test]
    fn first_and_last_workflow_task() {
        let h = history(TWO_TASKS);
        // The first completed task, and no more of the history is read than needed.
        assert_eq!(scan(false, &h), (Ok(4), 4));
        // The last completed one (a task scheduled after it does not count).
        assert_eq!(scan(true, &h), (Ok(10), h.len()));
    }

    #[test]
    fn no_completed_task_is_the_first_started_one() {
        let h = history(&[
            WorkflowExecutionStarted,
            WorkflowTaskScheduled,
            WorkflowTaskStarted,
            WorkflowTaskFailed,
            WorkflowTaskScheduled,
        ]);
        assert_eq!(scan(false, &h).0, Ok(3));
        assert_eq!(scan(true, &h).0, Ok(3));
        let h = history(&[WorkflowExecutionStarted]);
        assert_eq!(scan(true, &h).0, Err(TargetError::NoWorkflowTask));
        assert_eq!(
            TargetError::NoWorkflowTask.to_string(),
            "unable to find any scheduled or completed task"
        );
    }

    #[test]
    #[allow(deprecated)]
    fn options_win_over_the_deprecated_fields() {
        let op = BatchOperationReset {
            reset_type: 2,
            reset_reapply_type: 2,
            options: Some(ResetOptions {
                target: Some(Target::FirstWorkflowTask(())),
                reset_reapply_type: 3,
                reset_reapply_exclude_types: vec![1],
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            plan(&op),
            Ok(ResetPlan {
                point: Point::FirstWorkflowTask,
                reapply_type: 3,
                reapply_exclude_types: vec![1],
            })
        );
        let op = BatchOperationReset {
            reset_type: 2,
            reset_reapply_type: 2,
            ..Default::default()
        };
        assert_eq!(
            plan(&op),
            Ok(ResetPlan {
                point: Point::LastWorkflowTask,
                reapply_type: 2,
                reapply_exclude_types: vec![],
            })
        );
        let op = BatchOperationReset {
            options: Some(ResetOptions {
                target: Some(Target::WorkflowTaskId(7)),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(plan(&op).unwrap().point, Point::EventId(7));
    }

    #[test]
    fn build_id_points() {
        let points = vec![ResetPointInfo {
            build_id: "b1".into(),
            run_id: "old".into(),
            first_workflow_task_completed_id: 4,
            resettable: true,
            expire_time: Time(100).to_timestamp_opt(),
            ..Default::default()
        }];
        assert_eq!(
            build_id_point(&points, "b1", false, "cur", Time(50)),
            Ok(("old".into(), 4))
        );
        let err = |r: Result<(String, i64), TargetError>| r.unwrap_err().to_string();
        assert_eq!(
            err(build_id_point(&points, "b1", true, "cur", Time(50))),
            "Reset point for b1 points to previous run and CurrentRunOnly is set"
        );
        assert_eq!(
            err(build_id_point(&points, "b1", false, "cur", Time(101))),
            "Reset point for b1 is expired"
        );
        assert_eq!(
            err(build_id_point(&points, "b2", false, "cur", Time(50))),
            "Can't find reset point for b2"
        );
        let mut unresettable = points.clone();
        unresettable[0].resettable = false;
        assert_eq!(
            err(build_id_point(&unresettable, "b1", false, "old", Time(50))),
            "Reset point for b1 is not resettable"
        );
    }
}
