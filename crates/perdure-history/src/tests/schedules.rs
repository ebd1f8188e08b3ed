//! Schedules on the history write path: a fired wake takes each slot once and its start row
//! starts one run; carrying out a start row again (a crash between the start and its report,
//! a leader change) finds the run the first attempt started instead of starting another.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use perdure_core::{transfer_task, TransferTask};
use temporalio_protos::temporal::api::common::v1::WorkflowType;
use temporalio_protos::temporal::api::enums::v1::ScheduleOverlapPolicy;
use temporalio_protos::temporal::api::schedule::v1::{
    schedule_action, IntervalSpec, Schedule, ScheduleAction, SchedulePolicies, ScheduleSpec,
};
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflow::v1::NewWorkflowExecutionInfo;
use temporalio_protos::temporal::api::workflowservice::v1::CreateScheduleRequest;
use tokio::time::Instant;

use super::fixture::*;
use crate::cache::ExecKey;
use crate::{tables, CrossShard, CrossShardAnswer, CrossShardCall, HistoryError, HistoryService};

/// Effects reach this node's own history (one node holds every shard).
struct Local(Arc<HistoryService>);

impl CrossShard for Local {
    fn call(
        &self,
        call: CrossShardCall,
    ) -> Pin<Box<dyn Future<Output = Result<CrossShardAnswer, HistoryError>> + Send + 'static>>
    {
        let h = self.0.clone();
        Box::pin(async move { h.serve_cross_shard(call).await })
    }
}

fn every_second(sid: &str) -> CreateScheduleRequest {
    CreateScheduleRequest {
        namespace: NS.into(),
        schedule_id: sid.into(),
        request_id: format!("create-{sid}"),
        schedule: Some(Schedule {
            spec: Some(ScheduleSpec {
                interval: vec![IntervalSpec {
                    interval: Some(prost_wkt_types::Duration {
                        seconds: 1,
                        nanos: 0,
                    }),
                    phase: None,
                }],
                ..Default::default()
            }),
            action: Some(ScheduleAction {
                action: Some(schedule_action::Action::StartWorkflow(
                    NewWorkflowExecutionInfo {
                        workflow_id: format!("{sid}-wf"),
                        workflow_type: Some(WorkflowType { name: "Wf".into() }),
                        task_queue: Some(TaskQueue {
                            name: TQ.into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                )),
            }),
            policies: Some(SchedulePolicies {
                overlap_policy: ScheduleOverlapPolicy::AllowAll as i32,
                ..Default::default()
            }),
            state: None,
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_fired_wake_starts_each_slot_once_and_a_repeated_start_row_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::open(dir.path()).await;
    node.history
        .set_cross_shard(Arc::new(Local(node.history.clone())));
    let sid = "sch";
    let req = every_second(sid);
    let token = node
        .history
        .create_schedule(NS_ID, None, &req)
        .await
        .unwrap();
    assert_eq!(token, 1);
    // The same create again (same request id) is the same schedule.
    assert_eq!(
        node.history
            .create_schedule(NS_ID, None, &req)
            .await
            .unwrap(),
        1
    );

    let deadline = Instant::now() + DEADLINE;
    let described = loop {
        let d = node.history.describe_schedule(NS_ID, sid).await.unwrap();
        if d.info.as_ref().unwrap().action_count >= 3 {
            break d;
        }
        assert!(Instant::now() < deadline, "no three starts: {d:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let info = described.info.unwrap();
    let recent = &info.recent_actions;
    // One run per nominal second, each the current run of its workflow id.
    let mut ids: Vec<String> = recent
        .iter()
        .map(|a| a.start_workflow_result.clone().unwrap().workflow_id)
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), recent.len());
    for pair in recent.windows(2) {
        let (a, b) = (
            pair[0].schedule_time.unwrap().seconds,
            pair[1].schedule_time.unwrap().seconds,
        );
        assert_eq!(b - a, 1, "slots are consecutive seconds");
    }
    let first = recent[0].start_workflow_result.clone().unwrap();
    let shard = node.history.shard_for(NS_ID, &first.workflow_id);
    let (current, _) = tables::load_current(&shard.store, shard.id, NS_ID, &first.workflow_id)
        .unwrap()
        .unwrap();
    assert_eq!(current.run_id, first.run_id);
    let state = shard
        .read_state(&ExecKey::new(NS_ID, &first.workflow_id, &first.run_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.scheduled_by.as_ref().unwrap().schedule_id, sid);

    // The start of that slot carried out again, with its deterministic request id: the run the
    // first attempt started is found, nothing new starts.
    let mut again = start_request(&first.workflow_id, &current.start_request_id);
    again.workflow_id_reuse_policy =
        temporalio_protos::temporal::api::enums::v1::WorkflowIdReusePolicy::RejectDuplicate as i32;
    let out = node
        .history
        .start_scheduled(
            NS_ID,
            None,
            again,
            perdure_core::ScheduledBy {
                schedule_id: sid.into(),
            },
        )
        .await
        .unwrap();
    // The same run: nothing new started (a retried request id answers "started", as the
    // first attempt did, as Temporal answers).
    assert_eq!(out.run_id, first.run_id);
    assert!(out.started);

    // The whole start row run again after its result was recorded: the schedule no longer
    // waits for that start, so it neither starts nor records anything.
    let sched_shard = node
        .history
        .shard_for(NS_ID, &format!("temporal-sys-scheduler:{sid}"))
        .clone();
    let before = node.history.describe_schedule(NS_ID, sid).await.unwrap();
    let row = TransferTask {
        namespace_id: NS_ID.into(),
        workflow_id: format!("temporal-sys-scheduler:{sid}"),
        kind: Some(transfer_task::Kind::ScheduleAction(
            transfer_task::ScheduleActionRef {
                start_seq: 0,
                op: 0,
            },
        )),
        ..Default::default()
    };
    crate::effects::execute(&sched_shard, &row).await.unwrap();
    let after = node.history.describe_schedule(NS_ID, sid).await.unwrap();
    let count =
        |d: &temporalio_protos::temporal::api::workflowservice::v1::DescribeScheduleResponse| {
            d.info.as_ref().unwrap().action_count
        };
    // Later slots may have started meanwhile, but never a second run of slot 0.
    assert!(count(&after) >= count(&before));
    let (current_again, _) =
        tables::load_current(&shard.store, shard.id, NS_ID, &first.workflow_id)
            .unwrap()
            .unwrap();
    assert_eq!(current_again.run_id, first.run_id);

    node.history.delete_schedule(NS_ID, sid).await.unwrap();
    assert!(matches!(
        node.history.describe_schedule(NS_ID, sid).await,
        Err(HistoryError::Schedule(crate::ScheduleRefusal::NotFound(_)))
    ));
}

/// The crash window of a start: the run was started but the schedule never heard (the node
/// died first). After the restart the start row runs again, finds that run by its request id
/// and records it: one run for the slot, recorded once.
#[tokio::test]
async fn a_start_whose_report_was_lost_is_found_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // No CrossShard link yet: effect rows stay on disk, as if the node died before running them.
    let node = Node::open(dir.path()).await;
    let sid = "sch-crash";
    node.history
        .create_schedule(NS_ID, None, &every_second(sid))
        .await
        .unwrap();
    let sched_wf = format!("temporal-sys-scheduler:{sid}");
    let sched_shard = node.history.shard_for(NS_ID, &sched_wf).clone();
    let deadline = Instant::now() + DEADLINE;
    let request = loop {
        let state = sched_shard
            .read_schedule(NS_ID, sid)
            .await
            .unwrap()
            .unwrap();
        if let Some(r) = state.pending_start(0) {
            break r.clone();
        }
        assert!(Instant::now() < deadline, "no start handed out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let rows = node.transfer_rows(sched_shard.id);
    assert!(rows.iter().any(|(_, t)| matches!(
        &t.kind,
        Some(transfer_task::Kind::ScheduleAction(a)) if a.start_seq == 0
    )));
    // The start happened; its report did not.
    let by = perdure_core::ScheduledBy {
        schedule_id: sid.into(),
    };
    let first = node
        .history
        .start_scheduled(NS_ID, None, request.clone(), by)
        .await
        .unwrap();
    assert!(first.started);
    node.history
        .patch_schedule(
            NS_ID,
            sid,
            &temporalio_protos::temporal::api::schedule::v1::SchedulePatch {
                pause: "stop".into(),
                ..Default::default()
            },
            "",
        )
        .await
        .unwrap();
    // Nothing may keep the store open across the restart.
    drop(sched_shard);
    let path = node.shutdown().await;

    let node = Node::open(&path).await;
    node.history
        .set_cross_shard(Arc::new(Local(node.history.clone())));
    let deadline = Instant::now() + DEADLINE;
    let recent = loop {
        let d = node.history.describe_schedule(NS_ID, sid).await.unwrap();
        let info = d.info.unwrap();
        if info.action_count >= 1 {
            break info.recent_actions;
        }
        assert!(Instant::now() < deadline, "the lost report never came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let recorded = recent[0].start_workflow_result.clone().unwrap();
    assert_eq!(recorded.workflow_id, request.workflow_id);
    assert_eq!(
        recorded.run_id, first.run_id,
        "the first run, not a second one"
    );
    let shard = node.history.shard_for(NS_ID, &request.workflow_id);
    let (current, _) = tables::load_current(&shard.store, shard.id, NS_ID, &request.workflow_id)
        .unwrap()
        .unwrap();
    assert_eq!(current.run_id, first.run_id);
}
