//! A cluster node with an empty data directory asks its peers whether it may start before it
//! writes anything (see `perdure_cluster::admission` for the rules and why).
//!
//! A node of a new cluster answers its peers' questions while it asks its own: for that phase
//! only, the internal port serves the `Cluster` service's Hello as "fresh", behind the cluster
//! secret. The listener is handed back afterwards for the real internal server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use perdure_cluster::admission::{decide_initial, decide_join, hello};
use perdure_cluster::{Admission, ClusterServer, ClusterService};
use perdure_raft::Peers;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tracing::info;

use crate::node::NodeOptions;

/// How long a joining node tries to reach its join address.
const JOIN_WAIT: Duration = Duration::from_secs(30);
/// How long a node of a new cluster waits for a majority of its peers.
const PEERS_WAIT: Duration = Duration::from_secs(300);
const ASK_EVERY: Duration = Duration::from_millis(300);

/// Decides whether this node may start; returns the internal listener (unchanged) and the
/// cluster's shard count if a running member told it.
pub(crate) async fn admit(
    opts: &NodeOptions,
    internal: TcpListener,
) -> anyhow::Result<(TcpListener, Option<u32>)> {
    let peers = Peers::new(&opts.secret, opts.isolation.clone()).context("bad cluster secret")?;
    match &opts.join {
        Some(addr) => Ok((internal, join_admission(opts.node_id, &peers, addr).await?)),
        None => initial_admission(opts, &peers, internal).await,
    }
}

/// A node with state that recorded its cluster's id asks its peers for theirs before it opens
/// anything: a data directory (or a configuration) of another cluster is refused. Peers that
/// do not answer are skipped: a whole cluster restarting must not wait on itself.
pub(crate) async fn check_cluster_id(opts: &NodeOptions, ours: u64) -> anyhow::Result<()> {
    let peers = Peers::new(&opts.secret, opts.isolation.clone()).context("bad cluster secret")?;
    let addrs: Vec<&String> = match &opts.join {
        Some(join) => vec![join],
        None => opts
            .peers
            .iter()
            .filter(|(id, _)| **id != opts.node_id)
            .map(|(_, a)| a)
            .collect(),
    };
    for addr in addrs {
        if let Ok(reply) = hello(&peers, addr, opts.node_id).await {
            if reply.cluster_id != 0 && reply.cluster_id != ours {
                bail!(
                    "this data directory belongs to cluster {ours:016x}, but node {} at {addr} \
                     is in cluster {:016x}: wrong data directory or wrong peers",
                    reply.node_id,
                    reply.cluster_id
                );
            }
        }
    }
    Ok(())
}

async fn join_admission(me: u64, peers: &Peers, addr: &str) -> anyhow::Result<Option<u32>> {
    let deadline = tokio::time::Instant::now() + JOIN_WAIT;
    loop {
        let outcome = match hello(peers, addr, me).await {
            Ok(reply) => decide_join(me, &reply),
            Err(e) => Admission::Wait(format!("{addr} answered: {}", e.message())),
        };
        match outcome {
            Admission::Proceed { shards } => return Ok(shards),
            Admission::Refuse(why) => bail!("{why}"),
            Admission::Wait(why) if tokio::time::Instant::now() >= deadline => {
                bail!("cannot join the cluster through {addr} within {JOIN_WAIT:?}: {why}")
            }
            Admission::Wait(_) => tokio::time::sleep(ASK_EVERY).await,
        }
    }
}

async fn initial_admission(
    opts: &NodeOptions,
    peers: &Arc<Peers>,
    internal: TcpListener,
) -> anyhow::Result<(TcpListener, Option<u32>)> {
    let listener = Arc::new(internal);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let incoming = futures::stream::unfold(listener.clone(), |l| async move {
        let accepted = l.accept().await.map(|(s, _)| s);
        Some((accepted, l))
    });
    let service = tonic::service::interceptor::InterceptedService::new(
        ClusterServer::new(ClusterService::Fresh {
            node_id: opts.node_id,
        }),
        perdure_frontend::authenticate(peers.clone()),
    );
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop_rx.await;
            }),
    );
    let decided = ask_peers(opts, peers).await;
    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(5), server).await {
        Ok(_) => {}
        Err(_) => bail!("the admission server did not stop"),
    }
    let listener = Arc::try_unwrap(listener)
        .map_err(|_| anyhow::anyhow!("the admission server still holds the internal port"))?;
    Ok((listener, decided?))
}

async fn ask_peers(opts: &NodeOptions, peers: &Peers) -> anyhow::Result<Option<u32>> {
    let me = opts.node_id;
    let started = tokio::time::Instant::now();
    let mut next_log = started;
    loop {
        let mut answers = BTreeMap::new();
        for (id, addr) in opts.peers.iter().filter(|(id, _)| **id != me) {
            if let Ok(reply) = hello(peers, addr, me).await {
                answers.insert(*id, reply);
            }
        }
        match decide_initial(me, opts.peers.len(), &answers) {
            Admission::Proceed { shards } => return Ok(shards),
            Admission::Refuse(why) => bail!("{why}"),
            Admission::Wait(why) => {
                let now = tokio::time::Instant::now();
                if now >= started + PEERS_WAIT {
                    bail!("gave up after {PEERS_WAIT:?}: {why}");
                }
                if now >= next_log {
                    info!("{why}");
                    next_log = now + Duration::from_secs(5);
                }
            }
        }
        tokio::time::sleep(ASK_EVERY).await;
    }
}
