//! The scheduler's behaviour, one policy at a time, on an interval spec (the placeholder spec
//! computes intervals; calendars are the spec module's tests).

use super::*;

use perdure_core::Time;
use temporalio_protos::temporal::api::common::v1::WorkflowType;
use temporalio_protos::temporal::api::common::v1::{Payload, Payloads, WorkflowExecution};
use temporalio_protos::temporal::api::enums::v1::{
    ScheduleOverlapPolicy, WorkflowExecutionStatus, WorkflowIdReusePolicy,
};
use temporalio_protos::temporal::api::failure::v1::Failure;
use temporalio_protos::temporal::api::schedule::v1::{
    schedule_action, BackfillRequest, Schedule, SchedulePatch, SchedulePolicies,
};
use temporalio_protos::temporal::api::schedule::v1::{
    IntervalSpec, ScheduleAction, ScheduleSpec, TriggerImmediatelyRequest,
};
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflow::v1::NewWorkflowExecutionInfo;

const S: i64 = 1_000_000_000;
/// 2024-01-01T00:00:00Z
const T0: i64 = 1_704_067_200 * S;

fn schedule(every_s: i64, policy: ScheduleOverlapPolicy) -> Schedule {
    Schedule {
        spec: Some(ScheduleSpec {
            interval: vec![IntervalSpec {
                interval: Some(prost_wkt_types::Duration {
                    seconds: every_s,
                    nanos: 0,
                }),
                phase: None,
            }],
            ..Default::default()
        }),
        action: Some(ScheduleAction {
            action: Some(schedule_action::Action::StartWorkflow(
                NewWorkflowExecutionInfo {
                    workflow_id: "wf".into(),
                    workflow_type: Some(WorkflowType { name: "T".into() }),
                    task_queue: Some(TaskQueue {
                        name: "q".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            )),
        }),
        policies: Some(SchedulePolicies {
            overlap_policy: policy as i32,
            ..Default::default()
        }),
        state: None,
    }
}

fn create(s: Schedule) -> ScheduleState {
    let (state, actions) = ScheduleState::create(
        "default",
        "ns-id",
        "sch",
        s,
        None,
        None,
        None,
        "req",
        Time(T0),
    )
    .unwrap();
    assert!(actions.is_empty());
    state
}

fn at(s: i64) -> Time {
    Time(T0 + s * S)
}

/// Starts every Start action at once; returns the started workflow ids.
fn start_all(state: &mut ScheduleState, actions: Vec<Action>, now: Time) -> Vec<String> {
    let mut ids = Vec::new();
    let mut queue: std::collections::VecDeque<Action> = actions.into();
    while let Some(a) = queue.pop_front() {
        if let Action::Start { seq } = a {
            let id = state.pending_start(seq).unwrap().workflow_id.clone();
            let more = state.on_started(seq, &format!("run-{id}"), now);
            ids.push(id);
            queue.extend(more);
        }
    }
    ids.sort();
    ids
}

fn starts(actions: &[Action]) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Start { .. }))
        .count()
}

#[test]
fn an_interval_fires_each_slot_once_with_temporals_workflow_id_and_attributes() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::AllowAll));
    assert_eq!(s.next_wake(), Some(at(10)));
    assert!(s.wake(at(9)).is_empty());
    let a = s.wake(at(10));
    assert_eq!(a.len(), 1);
    let Action::Start { seq } = a[0] else {
        panic!()
    };
    let req = s.pending_start(seq).unwrap().clone();
    assert_eq!(req.workflow_id, "wf-2024-01-01T00:00:10Z");
    assert_eq!(req.request_id, format!("sch-{}-0", T0 + 10 * S));
    let sa = &req.search_attributes.unwrap().indexed_fields;
    assert_eq!(
        sa["TemporalScheduledStartTime"].data,
        b"\"2024-01-01T00:00:10Z\""
    );
    assert_eq!(sa["TemporalScheduledById"].data, b"\"sch\"");
    // The same time again takes nothing: the slot is consumed.
    assert!(s.wake(at(10)).is_empty());
    assert_eq!(s.next_wake(), Some(at(20)));
    s.on_started(seq, "r1", at(10));
    let d = s.describe();
    let info = d.info.unwrap();
    assert_eq!(info.action_count, 1);
    assert_eq!(info.recent_actions.len(), 1);
    assert_eq!(info.future_action_times.len(), FUTURE_ACTIONS);
    assert_eq!(info.future_action_times[0], at(20).to_timestamp());
    // ALLOW_ALL runs are not tracked as running.
    assert!(info.running_workflows.is_empty());
}

#[test]
fn skip_drops_slots_while_one_runs() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::Skip));
    let a = s.wake(at(10));
    assert_eq!(
        start_all(&mut s, a, at(10)),
        vec!["wf-2024-01-01T00:00:10Z"]
    );
    assert_eq!(starts(&s.wake(at(20))), 0);
    assert_eq!(starts(&s.wake(at(30))), 0);
    assert_eq!(s.info.as_ref().unwrap().overlap_skipped, 2);
    let a = s.on_closed(
        "wf-2024-01-01T00:00:10Z",
        WorkflowExecutionStatus::Completed,
        None,
        None,
        at(31),
    );
    assert!(a.is_empty());
    assert_eq!(starts(&s.wake(at(40))), 1);
}

#[test]
fn a_pending_start_counts_as_running() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::Skip));
    assert_eq!(starts(&s.wake(at(10))), 1);
    // Not yet reported started: the next slot overlaps it.
    assert_eq!(starts(&s.wake(at(20))), 0);
    assert_eq!(s.info.as_ref().unwrap().overlap_skipped, 1);
}

#[test]
fn buffer_one_keeps_one_and_starts_it_when_the_run_closes() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::BufferOne));
    let a = s.wake(at(10));
    start_all(&mut s, a, at(10));
    assert!(s.wake(at(20)).is_empty());
    assert!(s.wake(at(30)).is_empty());
    assert_eq!(s.buffered.len(), 1);
    assert_eq!(s.info.as_ref().unwrap().overlap_skipped, 1);
    let a = s.on_closed(
        "wf-2024-01-01T00:00:10Z",
        WorkflowExecutionStatus::Completed,
        None,
        None,
        at(35),
    );
    assert_eq!(
        start_all(&mut s, a, at(35)),
        vec!["wf-2024-01-01T00:00:20Z"]
    );
    assert_eq!(s.describe().info.unwrap().buffer_size, 0);
}

#[test]
fn buffer_all_starts_them_in_order_one_at_a_time() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::BufferAll));
    let a = s.wake(at(10));
    start_all(&mut s, a, at(10));
    assert!(s.wake(at(40)).is_empty());
    assert_eq!(s.buffered.len(), 3);
    let mut order = Vec::new();
    let mut running = "wf-2024-01-01T00:00:10Z".to_string();
    for _ in 0..3 {
        let a = s.on_closed(
            &running,
            WorkflowExecutionStatus::Completed,
            None,
            None,
            at(41),
        );
        let ids = start_all(&mut s, a, at(41));
        assert_eq!(ids.len(), 1);
        running = ids[0].clone();
        order.push(running.clone());
    }
    assert_eq!(
        order,
        vec![
            "wf-2024-01-01T00:00:20Z",
            "wf-2024-01-01T00:00:30Z",
            "wf-2024-01-01T00:00:40Z"
        ]
    );
}

#[test]
fn cancel_other_cancels_the_running_one_then_starts() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::CancelOther));
    let a = s.wake(at(10));
    start_all(&mut s, a, at(10));
    let a = s.wake(at(20));
    assert_eq!(
        a,
        vec![Action::Cancel(WorkflowExecution {
            workflow_id: "wf-2024-01-01T00:00:10Z".into(),
            run_id: "run-wf-2024-01-01T00:00:10Z".into()
        })]
    );
    let a = s.on_closed(
        "wf-2024-01-01T00:00:10Z",
        WorkflowExecutionStatus::Canceled,
        None,
        None,
        at(21),
    );
    assert_eq!(
        start_all(&mut s, a, at(21)),
        vec!["wf-2024-01-01T00:00:20Z"]
    );
}

#[test]
fn terminate_other_terminates_the_running_one_then_starts() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::TerminateOther));
    let a = s.wake(at(10));
    start_all(&mut s, a, at(10));
    let a = s.wake(at(20));
    assert!(
        matches!(a.as_slice(), [Action::Terminate(w)] if w.workflow_id == "wf-2024-01-01T00:00:10Z")
    );
    let a = s.on_closed(
        "wf-2024-01-01T00:00:10Z",
        WorkflowExecutionStatus::Terminated,
        None,
        None,
        at(21),
    );
    assert_eq!(starts(&a), 1);
}

#[test]
fn allow_all_starts_every_slot() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::AllowAll));
    let a = s.wake(at(30));
    assert_eq!(
        start_all(&mut s, a, at(30)),
        vec![
            "wf-2024-01-01T00:00:10Z",
            "wf-2024-01-01T00:00:20Z",
            "wf-2024-01-01T00:00:30Z"
        ]
    );
}

#[test]
fn slots_older_than_the_catchup_window_are_missed() {
    let mut sch = schedule(10, ScheduleOverlapPolicy::AllowAll);
    sch.policies.as_mut().unwrap().catchup_window = Some(prost_wkt_types::Duration {
        seconds: 25,
        nanos: 0,
    });
    let mut s = create(sch);
    // Down from 0 to 60: slots 10..=60; only those within 25 s of 60 run (40, 50, 60).
    let a = s.wake(at(60));
    assert_eq!(starts(&a), 3);
    assert_eq!(s.info.as_ref().unwrap().missed_catchup_window, 3);
}

#[test]
fn the_catchup_window_is_at_least_ten_seconds() {
    let mut sch = schedule(1, ScheduleOverlapPolicy::AllowAll);
    sch.policies.as_mut().unwrap().catchup_window = Some(prost_wkt_types::Duration {
        seconds: 1,
        nanos: 0,
    });
    let mut s = create(sch);
    let a = s.wake(at(30));
    assert_eq!(starts(&a), 11); // 20..=30
    assert_eq!(s.info.as_ref().unwrap().missed_catchup_window, 19);
}

#[test]
fn pause_skips_the_paused_time_and_trigger_ignores_pause() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::AllowAll));
    s.patch(
        &SchedulePatch {
            pause: "stop".into(),
            ..Default::default()
        },
        at(5),
    );
    assert!(s.paused());
    assert_eq!(s.conflict_token, 2);
    assert_eq!(s.next_wake(), None);
    let a = s.patch(
        &SchedulePatch {
            trigger_immediately: Some(TriggerImmediatelyRequest::default()),
            ..Default::default()
        },
        at(7),
    );
    assert_eq!(start_all(&mut s, a, at(7)), vec!["wf-2024-01-01T00:00:07Z"]);
    let a = s.patch(
        &SchedulePatch {
            unpause: "go".into(),
            ..Default::default()
        },
        at(35),
    );
    assert!(a.is_empty());
    let d = s.describe().schedule.unwrap().state.unwrap();
    assert!(!d.paused);
    assert_eq!(d.notes, "go");
    assert_eq!(s.next_wake(), Some(at(40)));
}

#[test]
fn pause_on_failure_pauses_with_temporals_note() {
    let mut sch = schedule(10, ScheduleOverlapPolicy::Skip);
    sch.policies.as_mut().unwrap().pause_on_failure = true;
    let mut s = create(sch);
    let a = s.wake(at(10));
    start_all(&mut s, a, at(10));
    s.on_closed(
        "wf-2024-01-01T00:00:10Z",
        WorkflowExecutionStatus::Failed,
        Some(Failure {
            message: "boom".into(),
            ..Default::default()
        }),
        None,
        at(12),
    );
    assert!(s.paused());
    let st = s.schedule.as_ref().unwrap().state.clone().unwrap();
    assert_eq!(
        st.notes,
        "paused due to workflow failure: wf-2024-01-01T00:00:10Z: boom"
    );
    assert!(s.wake(at(20)).is_empty());
    let recent = s.describe().info.unwrap().recent_actions;
    assert_eq!(
        recent[0].start_workflow_status,
        WorkflowExecutionStatus::Failed as i32
    );
}

#[test]
fn limited_actions_stop_after_the_last_one() {
    let mut sch = schedule(10, ScheduleOverlapPolicy::AllowAll);
    sch.state = Some(
        temporalio_protos::temporal::api::schedule::v1::ScheduleState {
            limited_actions: true,
            remaining_actions: 2,
            ..Default::default()
        },
    );
    let mut s = create(sch);
    assert_eq!(s.future_action_times(10).len(), 2);
    let a = s.wake(at(50));
    assert_eq!(starts(&a), 2);
    let st = s.schedule.as_ref().unwrap().state.clone().unwrap();
    assert_eq!(st.remaining_actions, 0);
    assert_eq!(s.next_wake(), None);
    assert!(s.wake(at(60)).is_empty());
}

#[test]
fn backfill_runs_the_slots_of_a_past_range_inclusively() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::AllowAll));
    let a = s.patch(
        &SchedulePatch {
            backfill_request: vec![BackfillRequest {
                start_time: Some(Time(T0 - 30 * S).to_timestamp()),
                end_time: Some(Time(T0 - 10 * S).to_timestamp()),
                overlap_policy: 0,
            }],
            ..Default::default()
        },
        at(1),
    );
    assert_eq!(
        start_all(&mut s, a, at(1)),
        vec![
            "wf-2023-12-31T23:59:30Z",
            "wf-2023-12-31T23:59:40Z",
            "wf-2023-12-31T23:59:50Z"
        ]
    );
    assert!(s.backfills.is_empty());
}

#[test]
fn update_checks_the_conflict_token_and_skips_slots_before_it() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::AllowAll));
    assert_eq!(
        s.update(schedule(5, ScheduleOverlapPolicy::AllowAll), None, 7, at(1)),
        Err(ScheduleError::Conflict)
    );
    let a = s
        .update(
            schedule(5, ScheduleOverlapPolicy::AllowAll),
            None,
            1,
            at(12),
        )
        .unwrap();
    // The old spec's slot at 10 came due before the update and still runs.
    assert_eq!(starts(&a), 1);
    assert_eq!(s.conflict_token, 2);
    assert_eq!(s.next_wake(), Some(at(15)));
}

#[test]
fn recent_actions_keep_the_last_ten() {
    let mut s = create(schedule(1, ScheduleOverlapPolicy::AllowAll));
    let a = s.wake(at(15));
    start_all(&mut s, a, at(15));
    let info = s.describe().info.unwrap();
    assert_eq!(info.action_count, 15);
    assert_eq!(info.recent_actions.len(), 10);
    assert_eq!(
        info.recent_actions[9].schedule_time,
        Some(at(15).to_timestamp())
    );
}

#[test]
fn a_failed_start_is_dropped_and_the_buffer_moves_on() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::BufferAll));
    let a = s.wake(at(20));
    let [Action::Start { seq }] = a.as_slice() else {
        panic!("{a:?}")
    };
    assert_eq!(s.buffered.len(), 1);
    let a = s.on_start_failed(*seq, at(21));
    assert_eq!(starts(&a), 1);
    assert!(s.pending.iter().all(|p| p.seq != *seq));
}

#[test]
fn keep_original_workflow_id_appends_nothing() {
    let mut sch = schedule(10, ScheduleOverlapPolicy::AllowAll);
    sch.policies.as_mut().unwrap().keep_original_workflow_id = true;
    let mut s = create(sch);
    let a = s.wake(at(10));
    let Action::Start { seq } = a[0] else {
        panic!()
    };
    assert_eq!(s.pending_start(seq).unwrap().workflow_id, "wf");
}

#[test]
fn matching_times_lists_the_range() {
    let s = create(schedule(10, ScheduleOverlapPolicy::AllowAll));
    let t = s.matching_times(at(0), at(35));
    assert_eq!(
        t,
        vec![
            at(10).to_timestamp(),
            at(20).to_timestamp(),
            at(30).to_timestamp()
        ]
    );
}

#[test]
fn results_are_recorded_in_start_order_whatever_order_they_arrive_in() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::AllowAll));
    let a = s.wake(at(30));
    let seqs: Vec<u64> = a
        .iter()
        .map(|a| match a {
            Action::Start { seq } => *seq,
            _ => panic!(),
        })
        .collect();
    s.on_started(seqs[2], "r3", at(31));
    s.on_started(seqs[1], "r2", at(31));
    assert_eq!(s.describe().info.unwrap().action_count, 0);
    // A repeated report changes nothing.
    s.on_started(seqs[2], "r3", at(31));
    s.on_started(seqs[0], "r1", at(32));
    let runs: Vec<String> = s
        .describe()
        .info
        .unwrap()
        .recent_actions
        .iter()
        .map(|a| a.start_workflow_result.clone().unwrap().run_id)
        .collect();
    assert_eq!(runs, vec!["r1", "r2", "r3"]);
    assert!(s.pending.is_empty());
}

#[test]
fn a_run_that_closes_before_it_is_recorded_is_not_left_running() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::Skip));
    // An allow-all trigger first, then the tracked slot.
    let a = s.patch(
        &SchedulePatch {
            trigger_immediately: Some(TriggerImmediatelyRequest {
                overlap_policy: ScheduleOverlapPolicy::AllowAll as i32,
                ..Default::default()
            }),
            ..Default::default()
        },
        at(10),
    );
    let seqs: Vec<u64> = a
        .iter()
        .filter_map(|a| match a {
            Action::Start { seq } => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(seqs.len(), 2);
    let tracked = s.pending.iter().find(|p| p.tracked).unwrap().clone();
    let tracked_id = tracked.request.unwrap().workflow_id;
    s.on_started(tracked.seq, "rt", at(11));
    s.on_closed(
        &tracked_id,
        WorkflowExecutionStatus::Completed,
        None,
        None,
        at(12),
    );
    let other = seqs.into_iter().find(|q| *q != tracked.seq).unwrap();
    s.on_started(other, "ra", at(13));
    let info = s.describe().info.unwrap();
    assert!(info.running_workflows.is_empty());
    assert_eq!(info.action_count, 2);
    assert_eq!(starts(&s.wake(at(20))), 1);
}

#[test]
fn closes_of_runs_the_schedule_does_not_track_change_nothing() {
    let mut sch = schedule(10, ScheduleOverlapPolicy::AllowAll);
    sch.policies.as_mut().unwrap().pause_on_failure = true;
    let mut s = create(sch);
    let a = s.wake(at(10));
    start_all(&mut s, a, at(10));
    let before = s.clone();
    // An ALLOW_ALL run is not watched (Temporal's DontTrackOverlapping), nor is a stranger.
    for id in ["wf-2024-01-01T00:00:10Z", "someone-else"] {
        let a = s.on_closed(id, WorkflowExecutionStatus::Failed, None, None, at(11));
        assert!(a.is_empty());
    }
    assert_eq!(s, before);
    assert!(!s.paused());
}

#[test]
fn request_ids_of_patches_are_remembered_up_to_a_bound() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::AllowAll));
    assert!(!s.repeated_request(""));
    assert!(!s.repeated_request(""));
    assert!(!s.repeated_request("a"));
    assert!(s.repeated_request("a"));
    for i in 0..RECENT_REQUEST_IDS {
        assert!(!s.repeated_request(&format!("r{i}")));
    }
    assert_eq!(s.recent_request_ids.len(), RECENT_REQUEST_IDS);
    // The oldest one was forgotten.
    assert!(!s.repeated_request("a"));
}

#[test]
fn starts_not_carried_out_stay_bounded() {
    let mut s = create(schedule(1, ScheduleOverlapPolicy::AllowAll));
    // Nothing is ever reported started. The slots fill the buffer (the overflow is dropped),
    // the buffer becomes pending starts up to the bound...
    let a = s.wake(at(MAX_BUFFER as i64 + 10));
    assert_eq!(starts(&a), MAX_BUFFER);
    assert_eq!(s.info.as_ref().unwrap().buffer_dropped, 10);
    assert_eq!(s.pending.len(), MAX_BUFFER);
    // ... and later slots wait in the buffer instead of piling up as pending starts.
    assert!(s.wake(at(MAX_BUFFER as i64 + 20)).is_empty());
    assert_eq!(s.pending.len(), MAX_BUFFER);
    assert_eq!(s.buffered.len(), 10);
}

#[test]
fn the_last_result_or_failure_goes_to_the_next_run() {
    let mut s = create(schedule(10, ScheduleOverlapPolicy::Skip));
    let a = s.wake(at(10));
    start_all(&mut s, a, at(10));
    let result = Payloads {
        payloads: vec![Payload {
            data: b"42".to_vec(),
            ..Default::default()
        }],
    };
    s.on_closed(
        "wf-2024-01-01T00:00:10Z",
        WorkflowExecutionStatus::Completed,
        None,
        Some(result.clone()),
        at(11),
    );
    let a = s.wake(at(20));
    let Action::Start { seq } = a[0] else {
        panic!()
    };
    let req = s.pending_start(seq).unwrap().clone();
    assert_eq!(req.last_completion_result, Some(result.clone()));
    assert_eq!(req.continued_failure, None);
    assert_eq!(req.identity, "temporal-scheduler-default-sch");
    assert_eq!(
        req.workflow_id_reuse_policy,
        WorkflowIdReusePolicy::RejectDuplicate as i32
    );
    start_all(&mut s, a, at(20));
    let failure = Failure {
        message: "no".into(),
        ..Default::default()
    };
    s.on_closed(
        "wf-2024-01-01T00:00:20Z",
        WorkflowExecutionStatus::Failed,
        Some(failure.clone()),
        None,
        at(21),
    );
    let a = s.wake(at(30));
    let Action::Start { seq } = a[0] else {
        panic!()
    };
    let req = s.pending_start(seq).unwrap();
    // A failure keeps the last result and adds the failure.
    assert_eq!(req.last_completion_result, Some(result));
    assert_eq!(req.continued_failure, Some(failure));
}

#[test]
fn a_very_long_gap_is_not_walked_slot_by_slot() {
    let mut s = create(schedule(1, ScheduleOverlapPolicy::AllowAll));
    // A week of one-second slots, all inside the (default) catch-up window.
    let week = 7 * 24 * 3600;
    let started = std::time::Instant::now();
    let a = s.wake(at(week));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // The buffer took the first MAX_BUFFER; the rest was dropped or skipped.
    assert_eq!(starts(&a), MAX_BUFFER);
    assert_eq!(s.cursor, at(week).0);
    assert_eq!(s.next_wake(), Some(at(week + 1)));
}
