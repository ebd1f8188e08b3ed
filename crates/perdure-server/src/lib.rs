//! Wiring of one Perdure node: storage, Raft groups, history shards, matching and the gRPC
//! frontend. Owns start-up order and the on-disk cluster layout file; owns no behaviour of its own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use perdure_frontend::{Frontend, MatchingSink, Namespaces};
use perdure_history::HistoryService;
use perdure_matching::Matching;
use perdure_raft::RaftNode;
use perdure_storage::{GroupId, Store};
use tracing::info;

/// Options of `perdure start-dev`.
#[derive(Clone, Debug)]
pub struct DevOptions {
    pub data_dir: PathBuf,
    pub ip: String,
    pub port: u16,
    /// Used only when the data directory is new; afterwards the recorded count wins.
    pub shards: u32,
}

/// The node's own id in a single-node cluster.
const NODE_ID: u64 = 1;
/// How long start-up waits for every group to elect this node.
const ELECTION_WAIT: Duration = Duration::from_secs(30);
const LAYOUT_FILE: &str = "PERDURE_SHARDS";

/// The shard count is fixed when a data directory is created: every workflow's shard is a hash
/// modulo this count, so changing it would strand existing executions.
fn shard_count(dir: &Path, requested: u32) -> anyhow::Result<u32> {
    let file = dir.join(LAYOUT_FILE);
    match std::fs::read_to_string(&file) {
        Ok(s) => {
            let n: u32 = s.trim().parse().with_context(|| format!("bad {}", file.display()))?;
            if n == 0 {
                bail!("{} says 0 shards", file.display());
            }
            Ok(n)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if requested == 0 {
                bail!("shard count must be at least 1");
            }
            std::fs::write(&file, format!("{requested}\n"))
                .with_context(|| format!("writing {}", file.display()))?;
            Ok(requested)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}

/// Starts a single-node server and serves until `shutdown` resolves.
pub async fn run_dev(
    opts: DevOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("creating data dir {}", opts.data_dir.display()))?;
    let data_dir = opts.data_dir.canonicalize()?;
    let shards = shard_count(&data_dir, opts.shards)?;
    let store = Store::open(&data_dir.join("db")).context("opening storage")?;
    let groups: Vec<GroupId> = (0..=shards).map(GroupId).collect();
    let raft = RaftNode::open(store.clone(), NODE_ID, &groups)
        .await
        .context("opening raft groups")?;
    let addr: SocketAddr = format!("{}:{}", opts.ip, opts.port)
        .parse()
        .context("bad listen address")?;
    raft.bootstrap_single_node(&addr.to_string())
        .await
        .context("bootstrapping raft")?;
    for g in &groups {
        let group = raft.group(*g).context("group missing after open")?;
        group
            .wait_leader(ELECTION_WAIT)
            .await
            .with_context(|| format!("group {g} elected no leader"))?;
    }

    let matching = Matching::new();
    let history = HistoryService::start(&raft, store.clone(), shards, Arc::new(MatchingSink(matching.clone())))
        .context("starting history shards")?;
    let meta = raft.group(GroupId::META).context("meta group missing")?;
    let namespaces = Arc::new(Namespaces::new(store.clone(), meta));
    namespaces
        .ensure("default")
        .await
        .map_err(|s| anyhow::anyhow!("creating namespace default: {s}"))?;

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let bound = listener.local_addr()?;
    info!(address = %bound, data_dir = %data_dir.display(), shards, "perdure listening on {bound}, data in {}", data_dir.display());
    perdure_frontend::serve(Frontend::new(history, matching, namespaces), listener, shutdown)
        .await
        .context("grpc server")?;
    info!("shutting down");
    raft.shutdown().await;
    Ok(())
}
