//! An in-process cluster for tests: N nodes, each on its own thread and runtime (as separate
//! processes would be), on free local ports, with one secret. Start-up returns once every node
//! serves, i.e. every group has a leader and `default` exists.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::Path;

use perdure_server::cluster_status::ClusterStatus;
use perdure_server::{start_node, DevServer, Isolation, NodeOptions};

use super::{within, SHARDS};

pub const SECRET: &str = "test-cluster-secret";

pub struct TestCluster {
    pub nodes: Vec<DevServer>,
    /// Per node (same order): the test hook that cuts its internal traffic.
    pub isolation: Vec<Isolation>,
    /// The loopback address this cluster's internal ports live on (see [`own_loopback_ip`]).
    pub ip: IpAddr,
}

/// A loopback address for one test cluster's internal ports, other than 127.0.0.1.
///
/// Peer addresses must be chosen before the nodes bind them, so a port is probed and released
/// first. On 127.0.0.1 that released port can be handed to anything else in the test binary
/// meanwhile (another test's probe, an API port, a client's outgoing socket), and two
/// concurrent clusters sharing the test secret then talk to each other. Linux routes all of
/// 127.0.0.0/8 to loopback, and nothing else binds or connects from this random address.
pub fn own_loopback_ip() -> IpAddr {
    let r = RandomState::new().hash_one(std::process::id());
    let [a, b, c, ..] = r.to_le_bytes();
    // A second byte of at least 1 stays clear of 127.0.0.0/16, where 127.0.0.1 and the
    // addresses people configure live.
    IpAddr::V4(Ipv4Addr::new(127, a.max(1), b, c.max(1)))
}

/// Distinct free ports on `ip`: every probe stays bound until all are chosen.
fn free_addrs(ip: IpAddr, n: usize) -> Vec<SocketAddr> {
    let probes: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind((ip, 0)).expect("bind a free port"))
        .collect();
    probes
        .iter()
        .map(|l| l.local_addr().expect("local addr"))
        .collect()
}

pub async fn start_cluster(n: u64, dir: &Path) -> TestCluster {
    let cluster = start_nodes(n, dir).await;
    within("leadership balanced", cluster.wait_balanced()).await;
    cluster
}

/// `n` nodes started with one --peers list, returned as soon as each serves (groups may still
/// be electing and placing voters).
pub async fn start_nodes(n: u64, dir: &Path) -> TestCluster {
    let ip = own_loopback_ip();
    let peers: BTreeMap<u64, String> = (1..=n)
        .zip(free_addrs(ip, n as usize))
        .map(|(i, a)| (i, a.to_string()))
        .collect();
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
            (i, opts)
        })
        .collect();
    // Nodes wait for each other, so a node that fails must be reported as soon as it does,
    // not after the others' start-up times out waiting for it.
    let mut started = tokio::task::JoinSet::new();
    for (i, opts) in starts {
        started.spawn(async move { (i, start_node(opts).await) });
    }
    let mut nodes = BTreeMap::new();
    within("cluster start-up", async {
        while let Some(joined) = started.join_next().await {
            let (i, node) = joined.expect("start task");
            let node = node.unwrap_or_else(|e| panic!("node {i} fails to start: {e:#}"));
            nodes.insert(i, node);
        }
    })
    .await;
    TestCluster {
        nodes: nodes.into_values().collect(),
        isolation,
        ip,
    }
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
            internal_addr: Some(free_addrs(self.ip, 1)[0]),
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
