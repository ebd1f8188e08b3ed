//! One node's life on its own runtime: start-up in dependency order, serving, and teardown.
//!
//! Everything a node spawns (openraft's cores, shard leadership loops, timer wheels, gRPC
//! connections) holds a [`Store`] clone, and those tasks end on their own schedule. The node
//! therefore owns a private Tokio runtime; dropping it after Raft has stopped is what guarantees
//! that no clone survives and the RocksDB lock is released. Nothing here may outlive that
//! runtime or spawn onto the caller's.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use perdure_frontend::{Frontend, MatchingSink, Namespaces};
use perdure_history::HistoryService;
use perdure_matching::Matching;
use perdure_raft::RaftNode;
use perdure_storage::{GroupId, Store};
use tokio::sync::oneshot;
use tracing::{info, warn};

use crate::layout::shard_count;
use crate::DevOptions;

/// The node's own id in a single-node cluster.
const NODE_ID: u64 = 1;
/// How long start-up waits for every group to elect this node, and again for every shard to
/// begin serving.
const ELECTION_WAIT: Duration = Duration::from_secs(30);
/// How long open calls (long polls above all) may finish after serving stops; what is still
/// open then is cut when the runtime goes.
const DRAIN: Duration = Duration::from_secs(5);
/// How long dropping the runtime waits for blocking work.
const RUNTIME_GRACE: Duration = Duration::from_secs(10);

/// What a started node reports back to [`crate::start_dev`].
pub(crate) struct Ready {
    pub(crate) addr: SocketAddr,
    pub(crate) data_dir: PathBuf,
}

/// Body of the node thread: runs the node until `stop` fires (or its sender is dropped), then
/// tears everything down. Returns only once the data directory is free again.
pub(crate) fn run(
    opts: DevOptions,
    ready: oneshot::Sender<Ready>,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("perdure-worker")
        .build()
        .context("building the node runtime")?;
    let outcome = runtime.block_on(serve_node(opts, ready, stop));
    runtime.shutdown_timeout(RUNTIME_GRACE);
    outcome
}

async fn serve_node(
    opts: DevOptions,
    ready: oneshot::Sender<Ready>,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("creating data dir {}", opts.data_dir.display()))?;
    let data_dir = opts.data_dir.canonicalize()?;
    let shards = shard_count(&data_dir, opts.shards)?;
    // Bound before storage opens: a taken port fails fast, and port 0 resolves to the real
    // address that Raft membership records.
    let addr: SocketAddr = format!("{}:{}", opts.ip, opts.port)
        .parse()
        .context("bad listen address")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let http = match opts.http_port {
        Some(port) => {
            let http_addr = SocketAddr::new(addr.ip(), port);
            Some(
                tokio::net::TcpListener::bind(http_addr)
                    .await
                    .with_context(|| format!("binding {http_addr}"))?,
            )
        }
        None => None,
    };

    let store = Store::open(&data_dir.join("db")).context("opening storage")?;
    let groups: Vec<GroupId> = (0..=shards).map(GroupId).collect();
    let raft = RaftNode::open(store.clone(), NODE_ID, &groups)
        .await
        .context("opening raft groups")?;
    let listeners = Listeners {
        grpc: listener,
        http,
    };
    let served = serve_groups(&raft, store, shards, data_dir, listeners, ready, stop).await;
    info!("shutting down");
    raft.shutdown().await;
    served
}

/// The sockets bound before storage opens.
struct Listeners {
    grpc: tokio::net::TcpListener,
    http: Option<tokio::net::TcpListener>,
}

/// Everything between opening Raft and shutting it down, so that any failure in here still
/// reaches `raft.shutdown()`.
async fn serve_groups(
    raft: &RaftNode,
    store: Store,
    shards: u32,
    data_dir: PathBuf,
    listeners: Listeners,
    ready: oneshot::Sender<Ready>,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let Listeners {
        grpc: listener,
        http,
    } = listeners;
    let bound = listener.local_addr()?;
    raft.bootstrap_single_node(&bound.to_string())
        .await
        .context("bootstrapping raft")?;
    for g in raft.group_ids() {
        let group = raft.group(g).context("group missing after open")?;
        group
            .wait_leader(ELECTION_WAIT)
            .await
            .with_context(|| format!("group {g} elected no leader"))?;
    }

    let matching = Matching::new();
    let history = HistoryService::start(
        raft,
        store.clone(),
        shards,
        Arc::new(MatchingSink(matching.clone())),
    )
    .context("starting history shards")?;
    // Elected is not yet serving: each shard first commits its barrier and reloads its backlog.
    // Until then its calls answer Unavailable, so readiness waits for all of them.
    if !history.wait_serving(ELECTION_WAIT).await {
        anyhow::bail!("history shards did not start serving within {ELECTION_WAIT:?}");
    }
    let meta = raft.group(GroupId::META).context("meta group missing")?;
    let namespaces = Arc::new(Namespaces::new(store, meta));
    namespaces
        .ensure("default")
        .await
        .map_err(|s| anyhow::anyhow!("creating namespace default: {s}"))?;

    let (stop_http, http_stopped) = oneshot::channel::<()>();
    if let Some(http) = http {
        let http_addr = http.local_addr()?;
        tokio::spawn(async move {
            let stopped = async {
                let _ = http_stopped.await;
            };
            if let Err(e) = perdure_frontend::serve_http(http, stopped).await {
                warn!(error = %e, "http server stopped");
            }
        });
        info!(address = %http_addr, "http /health and /metrics on {http_addr}");
    }
    let (stop_serving, serving_stopped) = oneshot::channel::<()>();
    let mut server = tokio::spawn(perdure_frontend::serve(
        Frontend::new(history, matching, namespaces),
        listener,
        async {
            let _ = serving_stopped.await;
        },
    ));
    info!(address = %bound, data_dir = %data_dir.display(), shards, "perdure listening on {bound}, data in {}", data_dir.display());
    // If the caller of start_dev went away, `stop` is closed too and the node stops at once.
    let _ = ready.send(Ready {
        addr: bound,
        data_dir,
    });

    tokio::select! {
        // Err: the DevServer was dropped without a shutdown; treat it as one.
        _ = stop => {}
        ended = &mut server => return flatten(ended),
    }
    let _ = stop_serving.send(());
    let _ = stop_http.send(());
    match tokio::time::timeout(DRAIN, &mut server).await {
        Ok(ended) => flatten(ended),
        Err(_) => {
            warn!(after = ?DRAIN, "calls still open after serving stopped; cutting them");
            server.abort();
            Ok(())
        }
    }
}

fn flatten<E: std::error::Error + Send + Sync + 'static>(
    ended: Result<Result<(), E>, tokio::task::JoinError>,
) -> anyhow::Result<()> {
    ended.context("grpc server task")?.context("grpc server")
}
