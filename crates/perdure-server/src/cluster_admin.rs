//! `perdure cluster remove`: asks a member (any node, through its internal port and the
//! cluster secret) to remove a node from the cluster for good. The meta group's leader moves
//! the node's voter slots to other nodes and drops it from every group before answering.

use std::time::Duration;

use anyhow::Context;
use perdure_api::internal::cluster_client::ClusterClient;
use perdure_api::internal::RemoveRequest;
use perdure_raft::Peers;

/// Longer than the controller's own wait, so its answer (done, or still moving) arrives.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(150);

pub async fn remove(via: &str, secret: &str, node: u64) -> anyhow::Result<()> {
    let peers = Peers::new(secret, Default::default()).context("bad cluster secret")?;
    let channel = peers
        .channel(via)
        .map_err(|s| anyhow::anyhow!("{via}: {}", s.message()))?;
    let mut client = ClusterClient::new(channel);
    let deadline = tokio::time::Instant::now() + REMOVE_TIMEOUT;
    loop {
        let call = client.remove(peers.request(RemoveRequest { node_id: node }));
        match tokio::time::timeout_at(deadline, call).await {
            Ok(Ok(_)) => return Ok(()),
            // Leadership of the meta group moved (or is moving), or a leadership the removal
            // must hand over is younger than its lease: ask again.
            Ok(Err(s))
                if s.code() == tonic::Code::Unavailable
                    || (s.code() == tonic::Code::FailedPrecondition
                        && s.message().ends_with(HANDOVER_LATER)) =>
            {
                tracing::info!("{}; retrying", s.message());
                tokio::time::sleep(RETRY_AFTER).await;
            }
            Ok(Err(s)) => {
                anyhow::bail!("removing node {node}: {:?}: {}", s.code(), s.message())
            }
            Err(_) => anyhow::bail!(
                "removing node {node}: no answer from {via} within {REMOVE_TIMEOUT:?}"
            ),
        }
    }
}

/// How a node says a handover must wait for its leader lease (perdure-raft's transfer.rs).
const HANDOVER_LATER: &str = "handover later";

/// Pause between attempts while the meta group's leadership moves.
const RETRY_AFTER: Duration = Duration::from_millis(500);
