//! An in-process cluster for tests: N nodes, each on its own thread and runtime (as separate
//! processes would be), on free local ports, with one secret. Start-up returns once every node
//! serves, i.e. every group has a leader and `default` exists.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use perdure_server::cluster_status::ClusterStatus;
use perdure_server::{start_node, DevServer, Isolation, NodeOptions};

use super::{within, SHARDS};

pub const SECRET: &str = "test-cluster-secret";

pub struct TestCluster {
    pub nodes: Vec<DevServer>,
    /// Per node (same order): the test hook that cuts its internal traffic.
    pub isolation: Vec<Isolation>,
}

/// A port nobody listens on right now (the window until the node binds it is milliseconds).
fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr")
}

pub async fn start_cluster(n: u64, dir: &Path) -> TestCluster {
    let cluster = start_nodes(n, dir).await;
    within("leadership balanced", cluster.wait_balanced()).await;
    cluster
}

/// `n` nodes started with one --peers list, returned as soon as each serves (groups may still
/// be electing and placing voters).
pub async fn start_nodes(n: u64, dir: &Path) -> TestCluster {
    let peers: BTreeMap<u64, String> = (1..=n).map(|i| (i, free_addr().to_string())).collect();
    let isolation: Vec<Isolation> = (1..=n).map(|_| Isolation::default()).collect();
    let starts: Vec<_> = (1..=n)
        .map(|i| {
            let opts = NodeOptions {
                node_id: i,
                data_dir: dir.join(format!("node-{i}")),
                api_addr: "127.0.0.1:0".parse().unwrap(),
                internal_addr: Some(peers[&i].parse().unwrap()),
                http_addr: Some("127.0.0.1:0".parse().unwrap()),
                peers: peers.clone(),
                join: None,
                shards: SHARDS,
                replication: 3,
                snapshot_every: None,
                secret: SECRET.into(),
                isolation: isolation[i as usize - 1].clone(),
                history: Default::default(),
                ui_dir: None,
            };
            tokio::spawn(start_node(opts))
        })
        .collect();
    let mut nodes = Vec::new();
    for s in starts {
        let node = within("cluster node start-up", s)
            .await
            .expect("start task")
            .expect("node starts");
        nodes.push(node);
    }
    TestCluster { nodes, isolation }
}

impl TestCluster {
    /// What `perdure cluster status --json` would say about this cluster right now.
    pub async fn status(&self) -> ClusterStatus {
        let http: Vec<String> = self
            .nodes
            .iter()
            .map(|n| n.http_addr().expect("http enabled").to_string())
            .collect();
        tokio::task::spawn_blocking(move || perdure_server::cluster_status::gather(&http))
            .await
            .expect("status")
    }

    /// Waits until every group is led by its preferred leader (voter `group % voters`), so
    /// tests do not race the leadership moves that follow start-up.
    pub async fn wait_balanced(&self) {
        loop {
            let status = self.status().await;
            let balanced = !status.groups.is_empty()
                && status.groups.iter().all(|g| {
                    let mut voters = g.voters.clone();
                    voters.sort_unstable();
                    !voters.is_empty() && g.leader == Some(voters[g.group as usize % voters.len()])
                });
            if balanced {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Starts node `id` on `dir` joining through node 1's internal port (RF 3); returns once it
    /// serves. The node is appended to `nodes` and `isolation`.
    pub async fn join(&mut self, id: u64, dir: &Path) -> anyhow::Result<()> {
        let via = self.nodes[0]
            .internal_addr()
            .expect("cluster node")
            .to_string();
        let isolation = Isolation::default();
        let opts = NodeOptions {
            node_id: id,
            data_dir: dir.join(format!("node-{id}")),
            api_addr: "127.0.0.1:0".parse().unwrap(),
            internal_addr: Some(free_addr()),
            http_addr: Some("127.0.0.1:0".parse().unwrap()),
            peers: BTreeMap::new(),
            join: Some(via),
            shards: SHARDS,
            replication: 3,
            snapshot_every: None,
            secret: SECRET.into(),
            isolation: isolation.clone(),
            history: Default::default(),
            ui_dir: None,
        };
        let node = within("joining node start-up", start_node(opts)).await?;
        self.nodes.push(node);
        self.isolation.push(isolation);
        Ok(())
    }

    pub async fn shutdown(self) {
        for n in self.nodes {
            super::stop(n).await;
        }
    }
}
