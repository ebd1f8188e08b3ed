//! Stale timers (here: a workflow task's start-to-close timeout after the task completed) write
//! nothing when they come due: the run's version and history stay as they were, only the timer
//! row goes, and the stale rows due together go in one proposal.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use perdure_core::{duration_to_proto, timer_task};
use tokio::time::Instant;

use super::fixture::*;
use crate::shard::Shard;
use crate::{tables, ExecKey, TimerWindow};

const WINDOW: TimerWindow = TimerWindow {
    window: Duration::from_secs(1),
    page_rows: 10_000,
};

fn unix_nanos_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Starts `workflow_id` with this workflow task timeout and completes its first workflow task
/// at once, with no commands: the run stays open and the task's timeout timer turns stale.
async fn complete_first_task(node: &mut Node, workflow_id: &str, task_timeout: Duration) -> String {
    let mut request = start_request(workflow_id, "req-1");
    request.workflow_task_timeout = Some(duration_to_proto(task_timeout));
    let out = node
        .history
        .start_workflow(NS_ID, None, request)
        .await
        .unwrap();
    let wft = node.next_workflow_task(&out.run_id, 2).await;
    let poll = node.poll_workflow_task(&wft, "poll-1").await;
    node.complete_workflow_task(&poll.task_token, vec![]).await;
    out.run_id
}

fn shard<'a>(node: &'a Node, workflow_id: &str) -> &'a Shard {
    node.history.shard_for(NS_ID, workflow_id)
}

fn shards(node: &Node) -> [&Shard; 2] {
    [1, 2].map(|n| {
        node.history
            .shard(perdure_storage::GroupId(n))
            .expect("the fixture has two shards")
            .as_ref()
    })
}

/// Fire times of the workflow task timeout rows of `run_id` still on disk.
fn task_timeout_rows(shard: &Shard, run_id: &str) -> Vec<i64> {
    tables::load_timer_tasks(&shard.store, shard.id)
        .unwrap()
        .into_iter()
        .filter(|(_, _, t)| {
            t.run_id == run_id && matches!(t.kind, Some(timer_task::Kind::WorkflowTaskTimeout(_)))
        })
        .map(|(fire, _, _)| fire)
        .collect()
}

fn version(shard: &Shard, workflow_id: &str, run_id: &str) -> u64 {
    let key = ExecKey::new(NS_ID, workflow_id, run_id);
    tables::load_execution(&shard.store, shard.id, &key)
        .unwrap()
        .expect("the run exists")
        .1
}

/// Waits (with the deadline) until `cond` holds.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_stale_task_timeout_deletes_its_row_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open_with(dir.path(), WINDOW).await;
    let wf = "wf-stale";
    let run = complete_first_task(&mut node, wf, Duration::from_secs(1)).await;
    let s = shard(&node, wf);
    let before = version(s, wf, &run);
    let events = node.history(wf, &run).await.len();
    let stale_before = s.wheel_stats.stale();

    until("the stale timeout's row is deleted", || {
        task_timeout_rows(s, &run).is_empty()
    })
    .await;
    assert_eq!(version(s, wf, &run), before, "the run was not rewritten");
    assert_eq!(node.history(wf, &run).await.len(), events);
    // Counted once its deletion has committed, just after the row went.
    until("the firing is counted as stale", || {
        s.wheel_stats.stale() == stale_before + 1
    })
    .await;
    node.shutdown().await;
}

#[tokio::test]
async fn stale_timers_due_in_one_tick_are_deleted_by_one_proposal() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open_with(dir.path(), WINDOW).await;
    const RUNS: usize = 30;
    // Long enough that all runs are set up before the first timeout is due.
    let timeout = Duration::from_secs(4);
    let mut runs = Vec::new();
    for i in 0..RUNS {
        let wf = format!("wf-stale-{i}");
        let run = complete_first_task(&mut node, &wf, timeout).await;
        runs.push((wf, run));
    }
    // Every stale row, per shard, and when the last one is due.
    let mut rows_per_shard = [0usize; 2];
    let mut last_due = 0;
    let mut versions = Vec::new();
    for (wf, run) in &runs {
        let s = shard(&node, wf);
        let rows = task_timeout_rows(s, run);
        assert_eq!(rows.len(), 1, "{wf}: one start-to-close timer row");
        rows_per_shard[(s.id.0 - 1) as usize] += 1;
        last_due = last_due.max(rows[0]);
        versions.push(version(s, wf, run));
    }
    assert!(
        shards(&node).iter().all(|s| s.wheel_stats.stale() == 0),
        "setting up took longer than the {timeout:?} timeout"
    );
    let path = node.shutdown().await;

    // While the node is down, every timeout comes due: the next leader finds them all overdue
    // at once and fires them in its first tick.
    let wait = Duration::from_nanos((last_due - unix_nanos_now()).max(0) as u64);
    tokio::time::sleep(wait).await;
    let node = Node::open_with(&path, WINDOW).await;
    until("every stale row is deleted", || {
        runs.iter()
            .all(|(wf, run)| task_timeout_rows(shard(&node, wf), run).is_empty())
    })
    .await;
    until("every stale firing is counted", || {
        shards(&node)
            .iter()
            .zip(rows_per_shard)
            .all(|(s, rows)| s.wheel_stats.stale() == rows)
    })
    .await;
    for (s, rows) in shards(&node).into_iter().zip(rows_per_shard) {
        assert_eq!(s.wheel_stats.fired(), rows, "shard {}", s.id.0);
        assert_eq!(
            s.wheel_stats.stale_batches(),
            usize::from(rows > 0),
            "shard {}: one proposal for {rows} stale rows",
            s.id.0
        );
    }
    for ((wf, run), v) in runs.iter().zip(versions) {
        assert_eq!(version(shard(&node, wf), wf, run), v, "{wf} was rewritten");
    }
    node.shutdown().await;
}

#[tokio::test]
async fn stale_timers_of_different_ticks_share_a_proposal() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open_with(dir.path(), WINDOW).await;
    const RUNS: usize = 12;
    let mut runs = Vec::new();
    // Set up one after the other: their timeouts come due a few milliseconds apart, each in a
    // tick of its own, well within one flush of the stale rows.
    for i in 0..RUNS {
        let wf = format!("wf-spread-{i}");
        let run = complete_first_task(&mut node, &wf, Duration::from_secs(1)).await;
        runs.push((wf, run));
    }
    until("every stale firing is counted", || {
        shards(&node)
            .iter()
            .map(|s| s.wheel_stats.stale())
            .sum::<usize>()
            == RUNS
    })
    .await;
    assert!(runs
        .iter()
        .all(|(wf, run)| task_timeout_rows(shard(&node, wf), run).is_empty()));
    let batches: usize = shards(&node)
        .iter()
        .map(|s| s.wheel_stats.stale_batches())
        .sum();
    assert!(batches < RUNS, "{RUNS} stale rows took {batches} proposals");
    node.shutdown().await;
}
