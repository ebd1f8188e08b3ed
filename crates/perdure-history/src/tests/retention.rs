//! Retention through the service: a closed run is deleted by its `DeleteRun` timer once its
//! retention has passed — state, history, current pointer and the timer row in one batch — and
//! the deletion holds across a restart, spares a pointer that names a newer run, and never
//! touches a running run.

use std::sync::Arc;
use std::time::Duration;

use perdure_core::{timer_task, CoreError, RunTimeout, TimerTask};
use perdure_storage::{keys, Cf};
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use tokio::time::Instant;

use super::fixture::*;
use crate::cache::ExecKey;
use crate::shard::Shard;
use crate::timer_wheel::Fired;
use crate::{tables, HistoryError, HistoryService};

/// Starts `workflow_id` with `retention` and completes it at once; returns the run id.
async fn start_and_complete(
    node: &mut Node,
    workflow_id: &str,
    request_id: &str,
    retention: Duration,
) -> String {
    let out = node
        .history
        .start_workflow(
            NS_ID,
            Some(retention),
            start_request(workflow_id, request_id),
        )
        .await
        .unwrap();
    assert!(out.started);
    let run = out.run_id;
    let wft = node.next_workflow_task(&run, 2).await;
    let poll = node.poll_workflow_task(&wft, &format!("poll-{run}")).await;
    node.complete_workflow_task(&poll.task_token, vec![complete_workflow("done")])
        .await;
    run
}

fn shard<'a>(history: &'a HistoryService, workflow_id: &str) -> &'a Arc<Shard> {
    history.shard_for(NS_ID, workflow_id)
}

fn delete_timers(shard: &Shard, run: &str) -> Vec<(i64, u64, TimerTask)> {
    tables::load_timer_tasks(&shard.store, shard.id)
        .unwrap()
        .into_iter()
        .filter(|(_, _, t)| {
            t.run_id == run && matches!(t.kind, Some(timer_task::Kind::DeleteRun(_)))
        })
        .collect()
}

fn timer_rows_of(shard: &Shard, run: &str) -> usize {
    tables::load_timer_tasks(&shard.store, shard.id)
        .unwrap()
        .iter()
        .filter(|(_, _, t)| t.run_id == run)
        .count()
}

/// Nothing of the run is left on disk: state, version, history rows.
fn assert_run_gone(shard: &Shard, workflow_id: &str, run: &str) {
    let (g, ns) = (shard.id, NS_ID);
    let store = &shard.store;
    assert_eq!(
        store
            .get(Cf::Executions, &keys::execution(g, ns, workflow_id, run))
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .get(
                Cf::Executions,
                &keys::execution_version(g, ns, workflow_id, run)
            )
            .unwrap(),
        None
    );
    let events = store
        .scan_prefix(
            Cf::History,
            &keys::history_prefix(g, ns, workflow_id, run),
            None,
            usize::MAX,
        )
        .unwrap();
    assert!(events.is_empty(), "{} history rows left", events.len());
    assert_eq!(
        store
            .get(Cf::Visibility, &keys::visibility(g, ns, workflow_id, run))
            .unwrap(),
        None,
        "visibility row left"
    );
    // Other timers of the run (a workflow task timeout...) stay until they come due and find
    // no state, as in Temporal; the deletion's own row is gone with it.
    assert!(delete_timers(shard, run).is_empty());
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T, HistoryError>) -> bool {
    matches!(r, Err(HistoryError::Core(CoreError::NotFound(_))))
}

async fn describe_is_not_found(node: &Node, workflow_id: &str, run: &str) -> bool {
    let execution = WorkflowExecution {
        workflow_id: workflow_id.into(),
        run_id: run.into(),
    };
    is_not_found(node.history.describe(NS_ID, &execution).await)
}

#[tokio::test]
async fn a_closed_run_is_deleted_after_its_retention_and_its_id_starts_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let wf = "wf-retention";
    let retention = Duration::from_millis(300);
    let run = start_and_complete(&mut node, wf, "req-1", retention).await;

    // Closing armed the deletion at close time + retention.
    let state = shard(&node.history, wf)
        .read_state(&ExecKey::new(NS_ID, wf, &run))
        .await
        .unwrap()
        .unwrap();
    let timers = delete_timers(shard(&node.history, wf), &run);
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].0, state.close_time + retention.as_nanos() as i64);
    assert_eq!(node.history(wf, &run).await.len(), 5);
    let s = shard(&node.history, wf);
    assert!(s
        .store
        .get(Cf::Visibility, &keys::visibility(s.id, NS_ID, wf, &run))
        .unwrap()
        .is_some());

    // The wheel fires it; wait for the effect with a deadline.
    let deadline = Instant::now() + DEADLINE;
    while !describe_is_not_found(&node, wf, &run).await {
        assert!(Instant::now() < deadline, "run not deleted in time");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let s = shard(&node.history, wf);
    assert_run_gone(s, wf, &run);
    assert!(tables::load_current(&s.store, s.id, NS_ID, wf)
        .unwrap()
        .is_none());
    assert!(describe_is_not_found(&node, wf, "").await);
    let history = node
        .history
        .get_history(NS_ID, &history_request(wf, &run), Instant::now())
        .await;
    assert!(is_not_found(history));
    let history = node
        .history
        .get_history(NS_ID, &history_request(wf, ""), Instant::now())
        .await;
    assert!(is_not_found(history));

    // The id is free again, even for the old request id: nothing remembers it.
    let again = node
        .history
        .start_workflow(
            NS_ID,
            Some(Duration::from_secs(3600)),
            start_request(wf, "req-1"),
        )
        .await
        .unwrap();
    assert!(again.started);
    assert_ne!(again.run_id, run);

    // After a restart the old run stays gone and the new one is intact.
    let path = node.shutdown().await;
    let node = Node::open(&path).await;
    assert_run_gone(shard(&node.history, wf), wf, &run);
    assert!(describe_is_not_found(&node, wf, &run).await);
    assert!(!describe_is_not_found(&node, wf, "").await);
    assert_eq!(node.history(wf, &again.run_id).await.len(), 2);
    node.shutdown().await;
}

#[tokio::test]
async fn deletion_spares_a_pointer_to_a_newer_run_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let wf = "wf-retention-newer";
    // Long retention: the wheel will not fire it, the test does.
    let old = start_and_complete(&mut node, wf, "req-1", Duration::from_secs(3600)).await;
    let new = node
        .history
        .start_workflow(NS_ID, None, start_request(wf, "req-2"))
        .await
        .unwrap();
    assert!(new.started);

    let s = shard(&node.history, wf);
    let (_, task_id, task) = delete_timers(s, &old).remove(0);
    s.fire_timer(task_id, &task).await.unwrap();
    assert_run_gone(s, wf, &old);
    let (current, _) = tables::load_current(&s.store, s.id, NS_ID, wf)
        .unwrap()
        .unwrap();
    assert_eq!(current.run_id, new.run_id);
    assert!(!describe_is_not_found(&node, wf, &new.run_id).await);
    assert!(describe_is_not_found(&node, wf, &old).await);

    // Firing it again (a replay after a leader change) only finds nothing to do.
    s.fire_timer(task_id, &task).await.unwrap();
    assert_run_gone(s, wf, &old);
    assert!(!describe_is_not_found(&node, wf, "").await);

    // The deleted run's other timers are dropped harmlessly when they fire.
    let leftovers: Vec<_> = tables::load_timer_tasks(&s.store, s.id)
        .unwrap()
        .into_iter()
        .filter(|(_, _, t)| t.run_id == old)
        .collect();
    assert!(
        !leftovers.is_empty(),
        "the workflow task timeout is still armed"
    );
    for (fire, id, t) in &leftovers {
        // Stale: nothing written, the row left to the caller (the wheel batches these).
        let fired = s.fire_timer(*id, t).await.unwrap();
        assert_eq!(fired, Fired::RowOnly);
        s.delete_timer_rows(&[(*fire, *id)]).await.unwrap();
    }
    assert_eq!(timer_rows_of(s, &old), 0);
    assert_run_gone(s, wf, &old);
    assert!(!describe_is_not_found(&node, wf, &new.run_id).await);
    node.shutdown().await;
}

#[tokio::test]
async fn a_delete_timer_never_touches_a_running_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let wf = "wf-retention-running";
    let run = node.start(wf, "req-1").await.unwrap();
    let _ = node.next_workflow_task(&run, 2).await;
    let s = shard(&node.history, wf);
    let forged = TimerTask {
        fire_time_unix_nanos: 1,
        namespace_id: NS_ID.into(),
        workflow_id: wf.into(),
        run_id: run.clone(),
        kind: Some(timer_task::Kind::DeleteRun(RunTimeout {})),
    };
    s.fire_timer(u64::MAX, &forged).await.unwrap();
    assert_eq!(node.history(wf, &run).await.len(), 2);
    assert!(!describe_is_not_found(&node, wf, "").await);
    node.shutdown().await;
}
