//! A node cut off from the other two (its internal traffic dropped by the `Isolation` test
//! hook, in both directions): the majority keeps serving, the cut-off node answers nothing
//! stale and admits nothing, reports itself NOT_SERVING, and catches up once healed.
//!
//! The stale-read check is the point: the cut-off node still believes it leads the groups it
//! led (an openraft 0.9 leader does not step down without hearing a higher term), so without a
//! read barrier it would answer NotFound for a workflow the majority started meanwhile.
//!
//! Not covered: a partition of the client-facing port (the hook cuts Raft and forwarding
//! only), asymmetric partitions, and partitions during membership changes.

mod common;

use std::time::{Duration, Instant};

use common::cluster::{start_cluster, TestCluster};
use common::{connect_addr, namespace_id, within, Client, NAMESPACE, SHARDS};
use perdure_storage::GroupId;
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflowservice::v1::*;
use tonic::Code;

/// How long the majority may take to elect new leaders and answer again.
const FAILOVER_BOUND: Duration = Duration::from_secs(20);
/// How long the healed node may take to catch up (zero lag in every group).
const CATCH_UP_BOUND: Duration = Duration::from_secs(30);

fn execution(workflow_id: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution {
        workflow_id: workflow_id.into(),
        run_id: String::new(),
    })
}

fn describe_request(workflow_id: &str) -> DescribeWorkflowExecutionRequest {
    DescribeWorkflowExecutionRequest {
        namespace: NAMESPACE.into(),
        execution: execution(workflow_id),
    }
}

/// A workflow id (with `prefix`) that lives on shard `shard`.
fn id_on_shard(ns_id: &str, prefix: &str, shard: GroupId) -> String {
    (0..)
        .map(|i| format!("{prefix}-{i}"))
        .find(|id| perdure_history::shard_for(ns_id, id, SHARDS) == shard)
        .expect("some id hashes to every shard")
}

/// Retries `call` on Unavailable (as the SDKs do) until it answers otherwise or `bound` passes.
macro_rules! retry_unavailable {
    ($bound:expr, $what:literal, $call:expr) => {{
        let deadline = Instant::now() + $bound;
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

/// Waits until `pred` holds of the cluster's status, or panics after `bound`.
async fn wait_status(
    cluster: &TestCluster,
    bound: Duration,
    what: &str,
    pred: impl Fn(&perdure_server::cluster_status::ClusterStatus) -> bool,
) {
    let deadline = Instant::now() + bound;
    loop {
        let status = cluster.status().await;
        if pred(&status) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} not reached within {bound:?}; last status: groups {:?}",
            status
                .groups
                .iter()
                .map(|g| (g.group, g.leader, g.lag.clone()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn serving(status: &perdure_server::cluster_status::ClusterStatus, node: u64) -> bool {
    status
        .nodes
        .iter()
        .any(|n| n.node_id == Some(node) && n.serving)
}

async fn poll_and_complete(poller: &mut Client, completer: &mut Client, queue: &str) -> String {
    let deadline = Instant::now() + FAILOVER_BOUND;
    let task = loop {
        let polled = retry_unavailable!(
            FAILOVER_BOUND,
            "PollWorkflowTaskQueue",
            poller.poll_workflow_task_queue(PollWorkflowTaskQueueRequest {
                namespace: NAMESPACE.into(),
                task_queue: Some(TaskQueue {
                    name: queue.into(),
                    ..Default::default()
                }),
                identity: "partition test".into(),
                ..Default::default()
            })
        )
        .expect("poll")
        .into_inner();
        if !polled.task_token.is_empty() {
            break polled;
        }
        assert!(Instant::now() < deadline, "no workflow task on {queue}");
    };
    retry_unavailable!(
        FAILOVER_BOUND,
        "RespondWorkflowTaskCompleted",
        completer.respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
            namespace: NAMESPACE.into(),
            task_token: task.task_token.clone(),
            commands: vec![common::complete_workflow_command()],
            identity: "partition test".into(),
            ..Default::default()
        })
    )
    .expect("complete");
    task.workflow_execution.expect("execution").workflow_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_node_answers_nothing_stale_and_catches_up_after_healing() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_cluster(3, dir.path()).await;
    let mut c1 = connect_addr(cluster.nodes[0].addr()).await;
    let mut c2 = connect_addr(cluster.nodes[1].addr()).await;
    let mut c3 = connect_addr(cluster.nodes[2].addr()).await;
    let ns_id = namespace_id(&mut c2).await;

    // A shard node 1 leads: after the cut it still believes so.
    let status = cluster.status().await;
    let led_by_1 = status
        .groups
        .iter()
        .find(|g| g.group != 0 && g.leader == Some(1))
        .map(|g| GroupId(g.group))
        .expect("node 1 leads a shard after balanced start-up");
    let during = id_on_shard(&ns_id, "wf-during", led_by_1);
    let isolated_start = id_on_shard(&ns_id, "wf-isolated", led_by_1);

    cluster.isolation[0].set(true);

    // The majority elects new leaders and keeps serving, starts included, on node 1's shard.
    let started = retry_unavailable!(
        FAILOVER_BOUND,
        "start during the partition",
        c2.start_workflow_execution(common::start_request(
            &during,
            "partition",
            "partition-queue"
        ))
    )
    .expect("the majority starts a workflow on a shard node 1 led")
    .into_inner();
    // One workflow on every shard, through node 3.
    for shard in 1..=SHARDS {
        let id = id_on_shard(&ns_id, "wf-every-shard", GroupId(shard));
        retry_unavailable!(
            FAILOVER_BOUND,
            "start on every shard",
            c3.start_workflow_execution(common::start_request(&id, "partition", "other-queue"))
        )
        .unwrap_or_else(|s| panic!("start {id} on shard {shard}: {s}"));
    }
    // Matching still works without node 1: the task reaches node 2's poller, node 3 completes.
    assert_eq!(
        poll_and_complete(&mut c2, &mut c3, "partition-queue").await,
        during
    );

    // The cut-off node: no stale NotFound for the run the majority started, no admitted start.
    let read = within(
        "describe through the isolated node",
        c1.describe_workflow_execution(describe_request(&during)),
    )
    .await;
    assert_eq!(
        read.as_ref().map(|_| ()).map_err(|s| s.code()),
        Err(Code::Unavailable),
        "a cut-off node answers Unavailable, never stale data: {read:?}"
    );
    let write = within(
        "start through the isolated node",
        c1.start_workflow_execution(common::start_request(
            &isolated_start,
            "partition",
            "partition-queue",
        )),
    )
    .await;
    assert_eq!(
        write.as_ref().map(|_| ()).map_err(|s| s.code()),
        Err(Code::Unavailable),
        "a cut-off node admits no start: {write:?}"
    );
    wait_status(&cluster, FAILOVER_BOUND, "node 1 NOT_SERVING", |s| {
        !serving(s, 1) && serving(s, 2) && serving(s, 3)
    })
    .await;

    cluster.isolation[0].set(false);

    // Healed: every group has all three replicas with zero lag, node 1 serves again, and its
    // answers are current.
    wait_status(&cluster, CATCH_UP_BOUND, "every replica caught up", |s| {
        serving(s, 1)
            && s.groups.len() == SHARDS as usize + 1
            && s.groups
                .iter()
                .all(|g| g.healthy_replicas == 3 && g.lag.values().all(|l| *l == Some(0)))
    })
    .await;
    let described = retry_unavailable!(
        FAILOVER_BOUND,
        "describe after healing",
        c1.describe_workflow_execution(describe_request(&during))
    )
    .expect("describe through the healed node")
    .into_inner();
    let info = described.workflow_execution_info.expect("info");
    assert_eq!(info.execution.expect("execution").run_id, started.run_id);
    assert_eq!(info.status, WorkflowExecutionStatus::Completed as i32);
    // The start refused while cut off never committed: the isolated leader's uncommitted entry
    // was replaced by the majority's log.
    let ghost = retry_unavailable!(
        FAILOVER_BOUND,
        "describe the refused start",
        c2.describe_workflow_execution(describe_request(&isolated_start))
    );
    assert_eq!(
        ghost.map(|_| ()).map_err(|s| s.code()),
        Err(Code::NotFound),
        "a start refused by the cut-off node does not appear later"
    );

    cluster.shutdown().await;
}
