//! A schedule across a partition of its shard's leader: the cut-off node still believes it
//! leads (openraft 0.9 does not step down on its own), its timer wheel and effect runner keep
//! trying, the majority elects a new leader that carries on. After healing, every nominal
//! second from the first run to the last has exactly one run and the schedule counted each
//! once: a slot is consumed only by a committed write, and a start carried out by both leaders
//! is deduplicated by its request id.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::cluster::{start_cluster, TestCluster};
use common::{connect_addr, namespace_id, within, Client, NAMESPACE, SHARDS};
use perdure_core::Time;
use perdure_schedule::scheduler::{rfc3339_seconds, scheduler_workflow_id};
use perdure_storage::GroupId;
use temporalio_protos::temporal::api::common::v1::WorkflowType;
use temporalio_protos::temporal::api::enums::v1::ScheduleOverlapPolicy;
use temporalio_protos::temporal::api::schedule::v1::{
    schedule_action, IntervalSpec, Schedule, ScheduleAction, SchedulePatch, SchedulePolicies,
    ScheduleSpec,
};
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflow::v1::NewWorkflowExecutionInfo;
use temporalio_protos::temporal::api::workflowservice::v1::*;
use tonic::Code;

const BOUND: Duration = Duration::from_secs(30);

/// Retries `call` on Unavailable until it answers otherwise or `BOUND` passes.
macro_rules! retry_unavailable {
    ($what:literal, $call:expr) => {{
        let deadline = Instant::now() + BOUND;
        loop {
            match within($what, $call).await {
                Err(s) if s.code() == Code::Unavailable && Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                other => break other,
            }
        }
    }};
}

/// A schedule id whose scheduler workflow lives on `shard`.
fn schedule_on_shard(ns_id: &str, shard: GroupId) -> String {
    (0..)
        .map(|i| format!("sched-{i}"))
        .find(|id| perdure_history::shard_for(ns_id, &scheduler_workflow_id(id), SHARDS) == shard)
        .expect("some id hashes to every shard")
}

async fn describe(c: &mut Client, sid: &str) -> DescribeScheduleResponse {
    retry_unavailable!(
        "DescribeSchedule",
        c.describe_schedule(DescribeScheduleRequest {
            namespace: NAMESPACE.into(),
            schedule_id: sid.into(),
        })
    )
    .expect("describe")
    .into_inner()
}

/// Describes until `pred` holds, or panics after `bound`.
async fn describe_until(
    c: &mut Client,
    sid: &str,
    bound: Duration,
    what: &str,
    pred: impl Fn(&ScheduleInfo) -> bool,
) -> ScheduleInfo {
    let deadline = Instant::now() + bound;
    loop {
        let info = describe(c, sid).await.info.expect("info");
        if pred(&info) {
            return info;
        }
        assert!(Instant::now() < deadline, "{what} not reached: {info:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

use temporalio_protos::temporal::api::schedule::v1::ScheduleInfo;

fn serving(cluster_status: &perdure_server::cluster_status::ClusterStatus, node: u64) -> bool {
    cluster_status
        .nodes
        .iter()
        .any(|n| n.node_id == Some(node) && n.serving)
}

async fn wait_all_serving(cluster: &TestCluster) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = cluster.status().await;
        if (1..=3).all(|n| serving(&s, n))
            && s.groups
                .iter()
                .all(|g| g.healthy_replicas == 3 && g.lag.values().all(|l| *l == Some(0)))
        {
            return;
        }
        assert!(Instant::now() < deadline, "the cluster did not heal");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_schedule_leader_neither_loses_nor_doubles_a_slot() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_cluster(3, dir.path()).await;
    let mut c2 = connect_addr(cluster.nodes[1].addr()).await;
    let ns_id = namespace_id(&mut c2).await;
    let status = cluster.status().await;
    let led_by_1 = status
        .groups
        .iter()
        .find(|g| g.group != 0 && g.leader == Some(1))
        .map(|g| GroupId(g.group))
        .expect("node 1 leads a shard after balanced start-up");
    let sid = schedule_on_shard(&ns_id, led_by_1);
    let action_wf = format!("{sid}-wf");
    retry_unavailable!(
        "CreateSchedule",
        c2.create_schedule(CreateScheduleRequest {
            namespace: NAMESPACE.into(),
            schedule_id: sid.clone(),
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
                            workflow_id: action_wf.clone(),
                            workflow_type: Some(WorkflowType { name: "T".into() }),
                            task_queue: Some(TaskQueue {
                                name: "sched-queue".into(),
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
        })
    )
    .expect("create");
    describe_until(&mut c2, &sid, BOUND, "two runs", |i| i.action_count >= 2).await;

    // Cut the schedule's leader off; the majority takes over and the schedule keeps firing.
    cluster.isolation[0].set(true);
    let before = describe(&mut c2, &sid).await.info.unwrap().action_count;
    describe_until(&mut c2, &sid, BOUND, "runs during the partition", |i| {
        i.action_count >= before + 3
    })
    .await;
    cluster.isolation[0].set(false);
    wait_all_serving(&cluster).await;
    let before = describe(&mut c2, &sid).await.info.unwrap().action_count;
    describe_until(&mut c2, &sid, BOUND, "runs after healing", |i| {
        i.action_count >= before + 2
    })
    .await;
    retry_unavailable!(
        "PatchSchedule",
        c2.patch_schedule(PatchScheduleRequest {
            namespace: NAMESPACE.into(),
            schedule_id: sid.clone(),
            patch: Some(SchedulePatch {
                pause: "count".into(),
                ..Default::default()
            }),
            request_id: "pause".into(),
            ..Default::default()
        })
    )
    .expect("pause");

    // Every run the schedule started, by workflow id, once its count and the runs agree.
    let deadline = Instant::now() + BOUND;
    let (info, runs) = loop {
        let info = describe(&mut c2, &sid).await.info.unwrap();
        let listed = retry_unavailable!(
            "ListWorkflowExecutions",
            c2.list_workflow_executions(ListWorkflowExecutionsRequest {
                namespace: NAMESPACE.into(),
                query: format!("TemporalScheduledById = '{sid}'"),
                ..Default::default()
            })
        )
        .expect("list")
        .into_inner();
        let mut runs: BTreeMap<String, usize> = BTreeMap::new();
        for e in &listed.executions {
            *runs
                .entry(e.execution.clone().unwrap().workflow_id)
                .or_default() += 1;
        }
        if listed.executions.len() as i64 == info.action_count {
            break (info, runs);
        }
        assert!(
            Instant::now() < deadline,
            "count {} vs runs {}",
            info.action_count,
            listed.executions.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(runs.values().all(|n| *n == 1), "a slot ran twice: {runs:?}");
    assert_eq!(info.missed_catchup_window, 0);
    // Consecutive nominal seconds from the first to the last (ids sort by time).
    let first = runs.keys().next().unwrap().clone();
    let prefix = format!("{action_wf}-");
    let nominal = |id: &str| id.strip_prefix(&prefix).unwrap().to_string();
    let start = parse_secs(&nominal(&first));
    let expected: Vec<String> = (0..runs.len() as i64)
        .map(|i| {
            format!(
                "{prefix}{}",
                rfc3339_seconds(Time((start + i) * 1_000_000_000))
            )
        })
        .collect();
    assert_eq!(runs.keys().cloned().collect::<Vec<_>>(), expected, "a gap");
    assert!(runs.len() >= 7, "{runs:?}");
    cluster.shutdown().await;
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ` (UTC).
fn parse_secs(s: &str) -> i64 {
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, mo, d) = (n(0, 4), n(5, 7), n(8, 10));
    let (h, mi, se) = (n(11, 13), n(14, 16), n(17, 19));
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    days * 86400 + h * 3600 + mi * 60 + se
}
