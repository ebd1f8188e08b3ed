//! Membership at run time, in-process: a node joins (it becomes a learner of every group, then
//! takes an even share of the voter slots), a node is removed (its slots move, it leaves every
//! group, its id is refused afterwards), and a node that lost its disk cannot come back under
//! its old id.
//!
//! Not covered here: membership changes under load and leader balance (the Python cluster
//! suite), and a joint change interrupted by a leader crash.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::cluster::{start_cluster, start_nodes, TestCluster, SECRET};
use common::{connect_addr, within, NAMESPACE};
use perdure_server::{start_node, NodeOptions};
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::workflowservice::v1::DescribeWorkflowExecutionRequest;

const SETTLE: Duration = Duration::from_secs(60);

/// Waits until `pred` holds of every group's (voters, all members) as node 1 sees them.
async fn wait_groups(cluster: &TestCluster, what: &str, pred: impl Fn(&[u64], &[u64]) -> bool) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let status = cluster.status().await;
        let views: Vec<(u32, Vec<u64>, Vec<u64>)> = status
            .groups
            .iter()
            .map(|g| {
                let mut members = g.voters.clone();
                members.extend(&g.learners);
                (g.group, g.voters.clone(), members)
            })
            .collect();
        if !views.is_empty() && views.iter().all(|(_, v, m)| pred(v, m)) {
            return;
        }
        assert!(Instant::now() < deadline, "{what} not reached: {views:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn voter_slots(cluster_groups: &[(u32, Vec<u64>)]) -> BTreeMap<u64, usize> {
    let mut slots = BTreeMap::new();
    for (_, voters) in cluster_groups {
        for v in voters {
            *slots.entry(*v).or_default() += 1;
        }
    }
    slots
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_join_and_leave_and_a_lost_disk_cannot_rejoin_under_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut cluster = start_cluster(3, dir.path()).await;
    let mut c1 = connect_addr(cluster.nodes[0].addr()).await;
    let run_id = common::start_workflow(&mut c1, "wf-membership").await;

    // Node 4 joins: it serves once started, and takes an even share of the voter slots.
    within("join", cluster.join(4, dir.path()))
        .await
        .expect("node 4 joins");
    wait_groups(
        &cluster,
        "3 voters per group, node 4 voting somewhere",
        |voters, _| voters.len() == 3,
    )
    .await;
    let deadline = Instant::now() + SETTLE;
    loop {
        let status = cluster.status().await;
        let groups: Vec<(u32, Vec<u64>)> = status
            .groups
            .iter()
            .map(|g| (g.group, g.voters.clone()))
            .collect();
        let slots = voter_slots(&groups);
        let (min, max) = (slots.values().min(), slots.values().max());
        if slots.len() == 4 && max.zip(min).is_some_and(|(a, b)| a - b <= 1) {
            break;
        }
        assert!(Instant::now() < deadline, "voter slots not even: {slots:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Leaderships follow: every node leads within one of the same number of groups.
    let deadline = Instant::now() + SETTLE;
    loop {
        let status = cluster.status().await;
        let mut led: BTreeMap<u64, usize> = (1..=4).map(|n| (n, 0)).collect();
        for g in &status.groups {
            if let Some(l) = g.leader {
                *led.entry(l).or_default() += 1;
            }
        }
        let total: usize = led.values().sum();
        let (min, max) = (led.values().min(), led.values().max());
        if total == status.groups.len() && max.zip(min).is_some_and(|(a, b)| a - b <= 1) {
            break;
        }
        assert!(Instant::now() < deadline, "leaders not spread: {led:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut c4 = connect_addr(cluster.nodes[3].addr()).await;
    let described = within(
        "describe through the new node",
        c4.describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            execution: Some(WorkflowExecution {
                workflow_id: "wf-membership".into(),
                run_id: String::new(),
            }),
        }),
    )
    .await
    .expect("describe")
    .into_inner();
    assert_eq!(
        described
            .workflow_execution_info
            .and_then(|i| i.execution)
            .map(|e| e.run_id),
        Some(run_id)
    );

    // Node 2 is removed: it leaves every group, the others keep 3 voters each.
    let via = cluster.nodes[2].internal_addr().unwrap().to_string();
    within(
        "remove",
        perdure_server::cluster_admin::remove(&via, SECRET, 2),
    )
    .await
    .expect("node 2 removed");
    let node2 = cluster.nodes.remove(1);
    cluster.isolation.remove(1);
    // Still running, a removed node says it serves nothing, so balancers stop using it.
    let http2 = node2.http_addr().unwrap().to_string();
    let deadline = Instant::now() + SETTLE;
    loop {
        let h = http2.clone();
        let status =
            tokio::task::spawn_blocking(move || perdure_server::cluster_status::gather(&[h]))
                .await
                .unwrap();
        if status.nodes.iter().all(|n| n.reachable && !n.serving) {
            break;
        }
        assert!(Instant::now() < deadline, "removed node 2 still serving");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    common::stop(node2).await;
    wait_groups(
        &cluster,
        "node 2 gone from every group",
        |voters, members| voters.len() == 3 && !voters.contains(&2) && !members.contains(&2),
    )
    .await;

    // Its id never comes back, even with a new data directory.
    let removed_again =
        start_node(rejoin_options(&cluster, 2, &dir.path().join("node-2-new"))).await;
    let err = format!("{:#}", removed_again.expect_err("a removed id is refused"));
    assert!(err.contains("removed"), "{err}");
    assert!(
        !dir.path().join("node-2-new").exists(),
        "a refused node writes nothing"
    );

    // Node 3 loses its disk: it cannot come back as node 3.
    let node3 = cluster.nodes.remove(1);
    cluster.isolation.remove(1);
    let node3_dir = node3.data_dir().to_path_buf();
    common::stop(node3).await;
    std::fs::remove_dir_all(&node3_dir).unwrap();
    let wiped = start_node(rejoin_options(&cluster, 3, &node3_dir)).await;
    let err = format!("{:#}", wiped.expect_err("a wiped member is refused"));
    assert!(err.contains("perdure cluster remove 3"), "{err}");
    assert!(!node3_dir.exists(), "a refused node writes nothing");

    cluster.shutdown().await;
}

/// Options of a node with an empty directory that joins through node 1.
fn rejoin_options(cluster: &TestCluster, id: u64, dir: &std::path::Path) -> NodeOptions {
    NodeOptions {
        node_id: id,
        data_dir: dir.to_path_buf(),
        api_addr: "127.0.0.1:0".parse().unwrap(),
        internal_addr: Some("127.0.0.1:0".parse().unwrap()),
        http_addr: None,
        peers: Default::default(),
        join: Some(cluster.nodes[0].internal_addr().unwrap().to_string()),
        shards: common::SHARDS,
        replication: 3,
        snapshot_every: None,
        secret: SECRET.into(),
        isolation: Default::default(),
        history: Default::default(),
        ui_dir: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_join_address_does_not_answer_refuses_to_start_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A port nobody listens on (on an address of its own, so no other test's node takes it).
    let nobody = std::net::TcpListener::bind((common::cluster::own_loopback_ip(), 0))
        .unwrap()
        .local_addr()
        .unwrap();
    let data_dir = dir.path().join("node-9");
    let started = start_node(NodeOptions {
        node_id: 9,
        data_dir: data_dir.clone(),
        api_addr: "127.0.0.1:0".parse().unwrap(),
        internal_addr: Some("127.0.0.1:0".parse().unwrap()),
        http_addr: None,
        peers: Default::default(),
        join: Some(nobody.to_string()),
        shards: common::SHARDS,
        replication: 3,
        snapshot_every: None,
        secret: SECRET.into(),
        isolation: Default::default(),
        history: Default::default(),
        ui_dir: None,
    })
    .await;
    let err = format!("{:#}", started.expect_err("no cluster to join"));
    assert!(err.contains("cannot join the cluster through"), "{err}");
    assert!(!data_dir.exists(), "a refused node writes nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_dir_of_another_cluster_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = start_cluster(3, &dir.path().join("a")).await;
    let b = start_cluster(1, &dir.path().join("b")).await;
    // Node 3 of cluster A, restarted on its own data directory but pointed at cluster B.
    let node3 = a.nodes.remove(2);
    a.isolation.remove(2);
    let node3_dir = node3.data_dir().to_path_buf();
    common::stop(node3).await;
    let mut opts = rejoin_options(&b, 3, &node3_dir);
    opts.internal_addr = Some("127.0.0.1:0".parse().unwrap());
    let err = format!(
        "{:#}",
        start_node(opts)
            .await
            .expect_err("another cluster's data dir")
    );
    assert!(err.contains("belongs to cluster"), "{err}");
    b.shutdown().await;
    a.shutdown().await;
}

/// A cluster started with five peers bootstraps every group with all five as voters; the
/// controller trims each to three. jepsen/'s 5-node campaign found a group that never settled:
/// its leader was not among its three, and the controller retried a handover that cannot win
/// with five voters (each attempt forced an election the leaving leader could win again). The
/// decision is pinned by `placement::tests::a_leaving_leader_hands_over_only_where_a_handover_can_win`;
/// this is the end-to-end check that every group settles. It does not reliably reproduce the
/// bug: here leaders usually start inside their placement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_node_cluster_settles_every_group_to_three_voters() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_nodes(5, dir.path()).await;
    wait_groups(&cluster, "3 voters per group", |voters, members| {
        voters.len() == 3 && members.len() == 5
    })
    .await;
    let slots = voter_slots(
        &cluster
            .status()
            .await
            .groups
            .iter()
            .map(|g| (g.group, g.voters.clone()))
            .collect::<Vec<_>>(),
    );
    assert_eq!(slots.len(), 5, "every node votes somewhere: {slots:?}");
}
