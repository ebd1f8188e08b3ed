//! The windowed timer wheel through the service: with a one-second window, timers beyond the
//! window stay on disk, are loaded as the window reaches them, fire on time and exactly once
//! (also across pages, restarts and several windows), and never all sit in memory at once.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use temporalio_protos::temporal::api::command::v1::Command;
use temporalio_protos::temporal::api::enums::v1::EventType as E;
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;
use tokio::time::Instant;

use super::fixture::*;
use crate::shard::Shard;
use crate::{tables, TimerWindow};

const WINDOW: Duration = Duration::from_secs(1);

fn short_window(page_rows: usize) -> TimerWindow {
    TimerWindow {
        window: WINDOW,
        page_rows,
    }
}

fn unix_nanos_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Starts `workflow_id` and answers its first workflow task with `commands`; returns the run.
async fn start_with(node: &mut Node, workflow_id: &str, commands: Vec<Command>) -> String {
    let run = node.start(workflow_id, "req-1").await.unwrap();
    let wft = node.next_workflow_task(&run, 2).await;
    let poll = node.poll_workflow_task(&wft, "poll-1").await;
    node.complete_workflow_task(&poll.task_token, commands)
        .await;
    run
}

fn shard<'a>(node: &'a Node, workflow_id: &str) -> &'a Shard {
    node.history.shard_for(NS_ID, workflow_id)
}

fn shards(node: &Node) -> [&Shard; 2] {
    [shard_n(node, 1), shard_n(node, 2)]
}

fn shard_n(node: &Node, n: u32) -> &Shard {
    node.history
        .shard(perdure_storage::GroupId(n))
        .expect("the fixture has two shards")
}

fn timer_rows(node: &Node) -> usize {
    shards(node)
        .iter()
        .map(|s| tables::load_timer_tasks(&s.store, s.id).unwrap().len())
        .sum()
}

fn fired_by_wheels(node: &Node) -> usize {
    shards(node).iter().map(|s| s.wheel_stats.fired()).sum()
}

/// Waits (with the deadline) until `cond` holds.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < deadline, "{what}: not within {DEADLINE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `(timer id, fired event time)` of every TimerFired of a history, and each TimerStarted's time.
fn timer_events(
    events: &[temporalio_protos::temporal::api::history::v1::HistoryEvent],
) -> (Vec<(String, i64)>, BTreeMap<i64, i64>) {
    let mut fired = Vec::new();
    let mut started = BTreeMap::new();
    for e in events {
        match &e.attributes {
            Some(Attributes::TimerFiredEventAttributes(a)) => {
                let started_at = started
                    .get(&a.started_event_id)
                    .copied()
                    .unwrap_or(i64::MAX);
                fired.push((a.timer_id.clone(), event_nanos(e) - started_at));
            }
            Some(Attributes::TimerStartedEventAttributes(_)) => {
                started.insert(e.event_id, event_nanos(e));
            }
            _ => {}
        }
    }
    (fired, started)
}

#[tokio::test]
async fn a_timer_beyond_the_first_window_fires_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open_with(dir.path(), short_window(10_000)).await;
    let after = Duration::from_millis(2_500);
    let run = start_with(&mut node, "wf-far", vec![start_timer("t1", after)]).await;
    // Two and a half windows out: not held when armed.
    assert_eq!(shard(&node, "wf-far").wheel_stats.held(), 0);

    node.next_workflow_task(&run, 7).await;
    let events = node.history("wf-far", &run).await;
    assert_contiguous(&events);
    assert_eq!(types(&events[4..6]), [E::TimerStarted, E::TimerFired]);
    let waited = event_nanos(&events[5]) - event_nanos(&events[4]);
    let due = after.as_nanos() as i64;
    assert!(waited >= due, "fired early, after {waited} ns");
    // Loaded half a window ahead, so it fires when due, not when the window next moves.
    assert!(
        waited < due + 500_000_000,
        "fired {} ms late",
        (waited - due) / 1_000_000
    );
    node.shutdown().await;
}

#[tokio::test]
async fn timers_over_several_windows_and_pages_fire_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    // A page of 4 rows: the slices are read over several truncated pages too.
    let mut node = Node::open_with(dir.path(), short_window(4)).await;
    const RUNS: usize = 3;
    const PER_RUN: usize = 12;
    let mut runs = Vec::new();
    for r in 0..RUNS {
        // 1.5 s to 4.25 s out, interleaved between the runs: about four windows.
        let commands = (0..PER_RUN)
            .map(|i| {
                let ms = 1_500 + (i * RUNS + r) as u64 * 75;
                start_timer(&format!("t{i}"), Duration::from_millis(ms))
            })
            .collect();
        let wf = format!("wf-many-{r}");
        let run = start_with(&mut node, &wf, commands).await;
        runs.push((wf, run));
    }
    // Nothing is due yet: every row is still on disk and nothing has fired.
    let rows_armed = timer_rows(&node);
    let fired_armed = fired_by_wheels(&node);
    assert!(rows_armed >= RUNS * PER_RUN);

    let deadline = Instant::now() + DEADLINE;
    for (wf, run) in &runs {
        loop {
            let (fired, _) = timer_events(&node.history(wf, run).await);
            if fired.len() >= PER_RUN {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{wf}: {} of {PER_RUN} timers fired",
                fired.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for (wf, run) in &runs {
        let events = node.history(wf, run).await;
        assert_contiguous(&events);
        let (fired, started) = timer_events(&events);
        assert_eq!(started.len(), PER_RUN);
        let mut ids: Vec<_> = fired.iter().map(|(id, _)| id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), PER_RUN, "{wf}: each timer fires once: {fired:?}");
        assert_eq!(fired.len(), PER_RUN, "{wf}: no timer fires twice");
        let attrs: BTreeMap<String, i64> = events
            .iter()
            .filter_map(|e| match &e.attributes {
                Some(Attributes::TimerStartedEventAttributes(a)) => Some((
                    a.timer_id.clone(),
                    a.start_to_fire_timeout
                        .as_ref()
                        .map_or(0, |d| d.seconds * 1_000_000_000 + d.nanos as i64),
                )),
                _ => None,
            })
            .collect();
        for (id, waited) in &fired {
            assert!(*waited >= attrs[id], "{wf}/{id} fired early");
        }
    }
    // At the wheel level too: every firing deleted a row of its own, none was repeated.
    until("firings match deleted rows", || {
        let fired = fired_by_wheels(&node) as i64 - fired_armed as i64;
        fired == rows_armed as i64 - timer_rows(&node) as i64
    })
    .await;
    node.shutdown().await;
}

#[tokio::test]
async fn a_timer_beyond_the_window_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open_with(dir.path(), short_window(10_000)).await;
    let after = Duration::from_secs(3);
    let run = start_with(&mut node, "wf-far-restart", vec![start_timer("t1", after)]).await;
    assert_eq!(shard(&node, "wf-far-restart").wheel_stats.held(), 0);
    let path = node.shutdown().await;
    let down = unix_nanos_now();

    let mut node = Node::open_with(&path, short_window(10_000)).await;
    node.next_workflow_task(&run, 7).await;
    let events = node.history("wf-far-restart", &run).await;
    assert_contiguous(&events);
    assert_eq!(
        types(&events[4..]),
        [E::TimerStarted, E::TimerFired, E::WorkflowTaskScheduled]
    );
    let fired = event_nanos(&events[5]);
    assert!(fired >= down, "fired by the new process, not the old one");
    assert!(fired - event_nanos(&events[4]) >= after.as_nanos() as i64);
    node.shutdown().await;
}

#[tokio::test]
async fn timers_beyond_the_window_are_not_held_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open_with(dir.path(), short_window(10_000)).await;
    const TIMERS: usize = 200;
    let commands = (0..TIMERS)
        .map(|i| start_timer(&format!("t{i}"), Duration::from_secs(30)))
        .collect();
    let run = start_with(&mut node, "wf-crowd", commands).await;
    let armed = unix_nanos_now();
    let s = shard(&node, "wf-crowd");
    let on_disk = tables::load_timer_tasks(&s.store, s.id)
        .unwrap()
        .iter()
        .filter(|(_, _, t)| t.run_id == run)
        .count();
    assert!(on_disk >= TIMERS, "{on_disk} timer rows");

    // Let the window move past the moment they were armed: still none of them is loaded.
    until("the window moves on", || {
        s.wheel_stats.loaded_upto() >= armed + WINDOW.as_nanos() as i64
    })
    .await;
    let held = s.wheel_stats.held();
    assert!(
        held < 10,
        "{held} timers in memory with a {WINDOW:?} window"
    );
    node.shutdown().await;
}
