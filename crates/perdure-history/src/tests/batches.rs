//! Batch jobs on the history write path: a started job is a running marker its shard's leader
//! finds (also after a restart, with its checkpoint), a checkpoint from a stale position is
//! refused, a closed job leaves the running set, and a job id is never used twice.

use perdure_batch::{BatchJob, Work};
use temporalio_protos::temporal::api::batch::v1::BatchOperationTermination;
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::enums::v1::BatchOperationState;
use temporalio_protos::temporal::api::workflowservice::v1::start_batch_operation_request::Operation;
use temporalio_protos::temporal::api::workflowservice::v1::StartBatchOperationRequest;

use super::fixture::*;
use crate::{BatchRefusal, HistoryError, HistoryService};

fn request(job_id: &str) -> StartBatchOperationRequest {
    StartBatchOperationRequest {
        namespace: NS.into(),
        job_id: job_id.into(),
        reason: "why".into(),
        visibility_query: "TaskQueue = 'q'".into(),
        operation: Some(Operation::TerminationOperation(
            BatchOperationTermination::default(),
        )),
        ..Default::default()
    }
}

fn running(history: &HistoryService) -> Vec<(String, String)> {
    (1..=history.shard_count())
        .flat_map(|s| {
            history
                .running_batches(perdure_storage::GroupId(s))
                .unwrap()
        })
        .collect()
}

fn wf(id: &str) -> WorkflowExecution {
    WorkflowExecution {
        workflow_id: id.into(),
        run_id: String::new(),
    }
}

#[tokio::test]
async fn a_job_is_found_again_after_a_restart_and_closes_once() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(dir.path()).await;
    let h = &node.history;
    h.start_batch(NS_ID, "job-1", |now| {
        BatchJob::new(NS_ID, "run-1", request("job-1"), now)
    })
    .await
    .unwrap();
    assert_eq!(running(h), vec![(NS_ID.to_string(), "job-1".to_string())]);
    h.batch_progress(NS_ID, "job-1", |j, _| {
        j.set_total(3);
        j.take_page(vec![wf("a"), wf("b"), wf("c")], vec![]);
        j.record(0, 1, 0)
    })
    .await
    .unwrap();
    // A stale position (the driver of an older term) changes nothing.
    let stale = h
        .batch_progress(NS_ID, "job-1", |j, _| j.record(0, 1, 0))
        .await;
    assert!(matches!(
        stale,
        Err(HistoryError::Batch(BatchRefusal::Stale))
    ));
    let path = node.shutdown().await;

    let node = Node::open(&path).await;
    let h = &node.history;
    assert_eq!(running(h), vec![(NS_ID.to_string(), "job-1".to_string())]);
    let job = h.describe_batch(NS_ID, "job-1").await.unwrap();
    assert_eq!(job.next_work(), Work::Apply(vec![wf("b"), wf("c")]));
    assert_eq!(job.complete, 1);

    h.batch_progress(NS_ID, "job-1", |j, _| j.record(1, 1, 1))
        .await
        .unwrap();
    let done = h
        .batch_progress(NS_ID, "job-1", |j, now| {
            j.complete(now);
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(done.state, BatchOperationState::Completed as i32);
    assert_eq!((done.total, done.complete, done.failure), (3, 2, 1));
    assert!(running(h).is_empty());
    // Closed: no more progress, no stop, and the id is not used again.
    let late = h
        .batch_progress(NS_ID, "job-1", |j, _| j.record(0, 1, 0))
        .await;
    assert!(matches!(
        late,
        Err(HistoryError::Batch(BatchRefusal::Closed))
    ));
    let stop = h.stop_batch(NS_ID, "job-1", "stop").await;
    assert!(matches!(
        stop,
        Err(HistoryError::Batch(BatchRefusal::Closed))
    ));
    let again = h
        .start_batch(NS_ID, "job-1", |now| {
            BatchJob::new(NS_ID, "run-2", request("job-1"), now)
        })
        .await;
    assert!(matches!(
        again,
        Err(HistoryError::Batch(BatchRefusal::Finished { ref run_id, .. })) if run_id == "run-1"
    ));
    let missing = h.describe_batch(NS_ID, "job-2").await;
    assert!(matches!(
        missing,
        Err(HistoryError::Batch(BatchRefusal::NotFound(_)))
    ));
}

#[tokio::test]
async fn a_stopped_job_leaves_the_running_set_and_takes_no_more_progress() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(dir.path()).await;
    let h = &node.history;
    h.start_batch(NS_ID, "job-s", |now| {
        BatchJob::new(NS_ID, "run-1", request("job-s"), now)
    })
    .await
    .unwrap();
    let dup = h
        .start_batch(NS_ID, "job-s", |now| {
            BatchJob::new(NS_ID, "run-2", request("job-s"), now)
        })
        .await;
    assert!(matches!(
        dup,
        Err(HistoryError::Batch(BatchRefusal::Running { .. }))
    ));
    h.stop_batch(NS_ID, "job-s", "enough").await.unwrap();
    assert!(running(h).is_empty());
    let job = h.describe_batch(NS_ID, "job-s").await.unwrap();
    assert_eq!(job.state, BatchOperationState::Failed as i32);
    assert_eq!(job.failure_reason, "enough");
    assert!(h.local_batch(NS_ID, "job-s").unwrap().is_some());
    let after = h
        .batch_progress(NS_ID, "job-s", |j, _| {
            j.set_total(1);
            Ok(())
        })
        .await;
    assert!(matches!(
        after,
        Err(HistoryError::Batch(BatchRefusal::Closed))
    ));
}

#[tokio::test]
async fn closed_jobs_go_once_their_retention_has_passed_and_their_id_is_free_again() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(dir.path()).await;
    let h = &node.history;
    for id in ["closed", "open"] {
        h.start_batch(NS_ID, id, |now| {
            BatchJob::new(NS_ID, "run-1", request(id), now)
        })
        .await
        .unwrap();
    }
    h.stop_batch(NS_ID, "closed", "done").await.unwrap();
    let prune_all = |retention: Option<Duration>| async move {
        let mut n = 0;
        for s in 1..=h.shard_count() {
            n += h
                .prune_batches(perdure_storage::GroupId(s), |_| retention)
                .await
                .unwrap();
        }
        n
    };
    // Within retention, or a namespace not known: kept.
    assert_eq!(prune_all(Some(Duration::from_secs(3600))).await, 0);
    assert_eq!(prune_all(None).await, 0);
    assert_eq!(prune_all(Some(Duration::ZERO)).await, 1);
    let gone = h.describe_batch(NS_ID, "closed").await;
    assert!(matches!(
        gone,
        Err(HistoryError::Batch(BatchRefusal::NotFound(_)))
    ));
    // The running job stays, and the pruned id may be used again.
    assert!(h.describe_batch(NS_ID, "open").await.unwrap().is_running());
    h.start_batch(NS_ID, "closed", |now| {
        BatchJob::new(NS_ID, "run-2", request("closed"), now)
    })
    .await
    .unwrap();
}
