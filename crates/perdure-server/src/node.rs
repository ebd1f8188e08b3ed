//! One node's life on its own runtime: start-up in dependency order, serving, and teardown.
//!
//! Everything a node spawns (openraft's cores, shard leadership loops, timer wheels, gRPC
//! connections) holds a [`Store`] clone, and those tasks end on their own schedule. The node
//! therefore owns a private Tokio runtime; dropping it after Raft has stopped is what guarantees
//! that no clone survives and the RocksDB lock is released. Nothing here may outlive that
//! runtime or spawn onto the caller's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use perdure_frontend::{Dispatcher, Frontend, Namespaces, Routing};
use perdure_history::HistoryService;
use perdure_matching::Matching;
use perdure_raft::{Isolation, Peers, RaftNode};
use perdure_storage::{GroupId, Store};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tracing::{info, warn};

use crate::layout;

/// How long start-up waits for every group to have a leader, and again for every shard to
/// begin serving (single node), or for the `default` namespace to appear (cluster).
const ELECTION_WAIT: Duration = Duration::from_secs(30);
/// How long a cluster node waits for its peers to come up and elect leaders.
const CLUSTER_WAIT: Duration = Duration::from_secs(300);
/// How long open calls (long polls above all) may finish after serving stops; what is still
/// open then is cut when the runtime goes.
const DRAIN: Duration = Duration::from_secs(5);
/// How long dropping the runtime waits for blocking work.
const RUNTIME_GRACE: Duration = Duration::from_secs(10);

/// Everything a node needs to start; `start-dev` and `start` both become one of these.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    pub node_id: u64,
    pub data_dir: PathBuf,
    /// Temporal's gRPC API. Port 0 picks a free port.
    pub api_addr: SocketAddr,
    /// The node-to-node port; `None` for a single node that talks to nobody (start-dev).
    pub internal_addr: Option<SocketAddr>,
    pub http_addr: Option<SocketAddr>,
    /// Initial members: node id -> internal address, this node included. Empty for start-dev
    /// and for a node that joins.
    pub peers: BTreeMap<u64, String>,
    /// Internal address of a member of a running cluster to join through, instead of `peers`.
    pub join: Option<String>,
    /// Shard count of a new cluster (a joining node learns the cluster's).
    pub shards: u32,
    /// Voters per group (capped by the number of nodes).
    pub replication: u32,
    /// Snapshot every this many log entries per group (`None`: openraft policy of the config).
    pub snapshot_every: Option<u64>,
    pub secret: String,
    /// Test hook: cuts the node's internal traffic while set.
    pub isolation: Isolation,
    /// History tunables (`--dynamic-config-value`).
    pub history: perdure_history::HistoryConfig,
    /// The built Web UI (`--ui-dir`); `None` looks for it (see `perdure_webui::locate`).
    pub ui_dir: Option<PathBuf>,
}

impl NodeOptions {
    fn is_cluster(&self) -> bool {
        self.internal_addr.is_some()
    }
}

/// What a started node reports back to its starter.
pub(crate) struct Ready {
    pub(crate) addr: SocketAddr,
    pub(crate) internal_addr: Option<SocketAddr>,
    pub(crate) http_addr: Option<SocketAddr>,
    pub(crate) data_dir: PathBuf,
}

/// Body of the node thread: runs the node until `stop` fires (or its sender is dropped), then
/// tears everything down. Returns only once the data directory is free again.
pub(crate) fn run(
    opts: NodeOptions,
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

/// The sockets bound before storage opens: a taken port fails fast, before anything on disk is
/// touched, and port 0 resolves to the real address that Raft membership records.
struct Listeners {
    api: TcpListener,
    internal: Option<TcpListener>,
    http: Option<TcpListener>,
}

async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))
}

async fn serve_node(
    opts: NodeOptions,
    ready: oneshot::Sender<Ready>,
    stop: oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    if opts.is_cluster() {
        check_cluster_options(&opts)?;
    }
    let listeners = Listeners {
        api: bind(opts.api_addr).await?,
        internal: match opts.internal_addr {
            Some(a) => Some(bind(a).await?),
            None => None,
        },
        http: match opts.http_addr {
            Some(a) => Some(bind(a).await?),
            None => None,
        },
    };
    // A cluster node with an empty data directory is admitted by its peers before anything
    // is written (it must not vote with a forgotten log).
    let mut listeners = listeners;
    let mut told_shards = None;
    if opts.is_cluster() && layout::is_fresh(&opts.data_dir)? {
        if let Some(internal) = listeners.internal.take() {
            let (internal, shards) = crate::admit::admit(&opts, internal).await?;
            listeners.internal = Some(internal);
            told_shards = shards;
        }
    } else if opts.is_cluster() {
        if let Some(ours) = layout::recorded_cluster_id(&opts.data_dir)? {
            crate::admit::check_cluster_id(&opts, ours).await?;
        }
    }
    std::fs::create_dir_all(&opts.data_dir)
        .with_context(|| format!("creating data dir {}", opts.data_dir.display()))?;
    let data_dir = opts.data_dir.canonicalize()?;
    let shards = if opts.is_cluster() {
        let shards = match (&opts.join, told_shards) {
            (Some(_), Some(n)) => n,
            (Some(_), None) => layout::recorded_shard_count(&data_dir)?
                .context("this node joined a cluster but its data dir records no shard count")?,
            (None, Some(n)) if n != opts.shards => anyhow::bail!(
                "the running cluster has {n} shards but this node's configuration says {}; \
                 the shard count of a cluster never changes",
                opts.shards
            ),
            (None, _) => opts.shards,
        };
        layout::claim_node_id(&data_dir, opts.node_id)?;
        layout::expect_shard_count(&data_dir, shards)?
    } else {
        layout::shard_count(&data_dir, opts.shards)?
    };

    let store = Store::open(&data_dir.join("db")).context("opening storage")?;
    let groups: Vec<GroupId> = (0..=shards).map(GroupId).collect();
    let (peers, config) = if opts.is_cluster() {
        let peers =
            Peers::new(&opts.secret, opts.isolation.clone()).context("bad cluster secret")?;
        let config = match opts.snapshot_every {
            Some(n) => perdure_raft::with_snapshot_every(perdure_raft::cluster_config(), n),
            None => perdure_raft::cluster_config(),
        };
        (peers, config)
    } else {
        (Peers::none(), perdure_raft::default_config())
    };
    let raft = RaftNode::open_cluster(store.clone(), opts.node_id, &groups, config, peers.clone())
        .await
        .context("opening raft groups")?;
    let node = Wiring {
        raft: raft.clone(),
        peers,
        store,
        shards,
        data_dir,
    };
    let served = node.serve(&opts, listeners, ready, stop).await;
    info!("shutting down");
    raft.shutdown().await;
    served
}

fn check_cluster_options(opts: &NodeOptions) -> anyhow::Result<()> {
    if opts.node_id == 0 {
        anyhow::bail!("node id must be at least 1");
    }
    if let Some(join) = &opts.join {
        if opts.secret.is_empty() {
            anyhow::bail!("joining a cluster needs its --cluster-secret");
        }
        if join.is_empty() {
            anyhow::bail!("--join needs the internal address of a member");
        }
        return Ok(());
    }
    if !opts.peers.contains_key(&opts.node_id) {
        anyhow::bail!(
            "--peers must list this node ({}) with its internal address",
            opts.node_id
        );
    }
    if opts.peers.len() > 1 && opts.secret.is_empty() {
        anyhow::bail!(
            "a cluster of several nodes needs --cluster-secret (or PERDURE_CLUSTER_SECRET)"
        );
    }
    Ok(())
}

/// What is open between opening Raft and shutting it down, so that any failure in here still
/// reaches `raft.shutdown()`.
struct Wiring {
    raft: Arc<RaftNode>,
    peers: Arc<Peers>,
    store: Store,
    shards: u32,
    data_dir: PathBuf,
}

impl Wiring {
    async fn serve(
        self,
        opts: &NodeOptions,
        listeners: Listeners,
        ready: oneshot::Sender<Ready>,
        stop: oneshot::Receiver<()>,
    ) -> anyhow::Result<()> {
        let Wiring {
            raft,
            peers,
            store,
            shards,
            data_dir,
        } = self;
        let api_addr = listeners.api.local_addr()?;
        let peers_for_cluster = peers.clone();
        let routing = Routing::new(raft.clone(), peers, shards);
        let dispatcher = Dispatcher::start(Matching::new(), routing.clone());
        let history = HistoryService::start_with(
            &raft,
            store.clone(),
            shards,
            dispatcher.clone(),
            opts.history,
        )
        .context("starting history shards")?;
        let meta = raft.group(GroupId::META).context("meta group missing")?;
        let namespaces = Arc::new(Namespaces::new(store.clone(), meta.clone()));
        let controller = opts.is_cluster().then(|| {
            perdure_cluster::Controller::new(
                raft.clone(),
                store.clone(),
                peers_for_cluster.clone(),
                shards,
                opts.replication as usize,
            )
        });
        history.set_cross_shard(perdure_frontend::cross_shard::CrossShardLink::new(
            &history,
            routing.clone(),
        ));
        let frontend = Frontend::new(history.clone(), dispatcher, namespaces.clone(), routing);

        // Every server stops when this flips to true.
        let (stopping, stopped) = watch::channel(false);
        let stop_signal = move || {
            let mut rx = stopped.clone();
            async move {
                let _ = rx.wait_for(|s| *s).await;
            }
        };
        tokio::spawn(perdure_frontend::batch::run(
            frontend.clone(),
            stop_signal(),
        ));
        // Raft needs the internal port before any group can elect a leader.
        let internal_addr = match listeners.internal {
            Some(listener) => {
                let addr = listener.local_addr()?;
                let f = frontend.clone();
                let signal = stop_signal();
                let cluster = match &controller {
                    Some(c) => perdure_cluster::ClusterService::Running(c.clone()),
                    None => perdure_cluster::ClusterService::Fresh {
                        node_id: opts.node_id,
                    },
                };
                tokio::spawn(async move {
                    if let Err(e) =
                        perdure_frontend::serve_internal(&f, listener, cluster, signal).await
                    {
                        warn!(error = %e, "internal server stopped");
                    }
                });
                info!(address = %addr, "internal (raft, forwarding) on {addr}");
                Some(addr)
            }
            None => None,
        };
        let http_addr = match listeners.http {
            Some(listener) => {
                let addr = listener.local_addr()?;
                // The side door (/health, /metrics, /cluster) and Temporal's HTTP API
                // (/api/v1/...), which calls this node's own gRPC services in-process.
                let app = perdure_frontend::http_router(frontend.clone()).merge(
                    perdure_httpapi::router(perdure_frontend::grpc_routes(frontend.clone())),
                );
                let signal = stop_signal();
                // Last, the Web UI: /api/v1/settings and a fallback serving the built UI.
                let ui_dir = perdure_webui::locate(opts.ui_dir.clone());
                info!(ui_dir = ?ui_dir, "web ui on http://{addr}/");
                let app = app.merge(perdure_webui::router(ui_dir));
                tokio::spawn(async move {
                    if let Err(e) = perdure_frontend::serve_http(app, listener, signal).await {
                        warn!(error = %e, "http server stopped");
                    }
                });
                info!(address = %addr, "http /health, /metrics, /cluster and /api/v1 on {addr}");
                Some(addr)
            }
            None => None,
        };

        if let Some(controller) = &controller {
            tokio::spawn(frontend.health().probe(stop_signal()));
            if opts.join.is_none() {
                bootstrap_cluster(&raft, opts).await?;
            }
            tokio::spawn(controller.clone().run(stop_signal()));
            tokio::spawn(watch_removal(
                controller.clone(),
                frontend.health(),
                stop_signal(),
            ));
            register(controller, opts, internal_addr, &data_dir).await?;
            record_cluster_id(controller, &data_dir).await?;
            wait_until(CLUSTER_WAIT, "every raft group to elect a leader", || {
                frontend.health().serving()
            })
            .await?;
            ensure_default_namespace(&namespaces, &meta).await?;
        } else {
            raft.bootstrap_single_node(&api_addr.to_string())
                .await
                .context("bootstrapping raft")?;
            for g in raft.group_ids() {
                let group = raft.group(g).context("group missing after open")?;
                group
                    .wait_leader(ELECTION_WAIT)
                    .await
                    .with_context(|| format!("group {g} elected no leader"))?;
            }
            // Elected is not yet serving: each shard first commits its barrier and reloads its
            // backlog. Until then its calls answer Unavailable, so readiness waits for all.
            if !history.wait_serving(ELECTION_WAIT).await {
                anyhow::bail!("history shards did not start serving within {ELECTION_WAIT:?}");
            }
            namespaces
                .ensure("default")
                .await
                .map_err(|s| anyhow::anyhow!("creating namespace default: {s}"))?;
            perdure_cluster::registry::ensure_cluster_id(&store, &meta)
                .await
                .context("choosing the cluster id")?;
        }

        let mut server = tokio::spawn(perdure_frontend::serve(
            frontend,
            listeners.api,
            stop_signal(),
        ));
        info!(address = %api_addr, node_id = opts.node_id, data_dir = %data_dir.display(), shards, "perdure listening on {api_addr}, data in {}", data_dir.display());
        // If the starter went away, `stop` is closed too and the node stops at once.
        let _ = ready.send(Ready {
            addr: api_addr,
            internal_addr,
            http_addr,
            data_dir,
        });

        tokio::select! {
            // Err: the handle was dropped without a shutdown; treat it as one.
            _ = stop => {}
            ended = &mut server => return flatten(ended),
        }
        let _ = stopping.send(true);
        match tokio::time::timeout(DRAIN, &mut server).await {
            Ok(ended) => flatten(ended),
            Err(_) => {
                warn!(after = ?DRAIN, "calls still open after serving stopped; cutting them");
                server.abort();
                Ok(())
            }
        }
    }
}

/// Each node of a new cluster initializes its share of the groups (group `g` by the peer at
/// position `g % peers` in id order) with all initial peers as voters, and so becomes their
/// first leader: leadership starts spread evenly. Initializing is a no-op for groups that
/// already are, so restarts do nothing here. Every initial peer must start for its share of
/// the groups to exist.
async fn bootstrap_cluster(raft: &RaftNode, opts: &NodeOptions) -> anyhow::Result<()> {
    let ids: Vec<u64> = opts.peers.keys().copied().collect();
    let me = opts.node_id;
    raft.bootstrap_groups(&opts.peers, |g| ids[g.0 as usize % ids.len()] == me)
        .await
        .context("initializing the cluster's raft groups")
}

/// How often a node asks the cluster whether it was removed.
const REMOVAL_CHECK_EVERY: Duration = Duration::from_secs(2);

/// Asks the cluster every [`REMOVAL_CHECK_EVERY`] whether this node was removed; once it was,
/// the node reports NOT_SERVING (so load balancers drop it) and says to stop it.
async fn watch_removal(
    controller: Arc<perdure_cluster::Controller>,
    health: Arc<perdure_frontend::NodeHealth>,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(REMOVAL_CHECK_EVERY) => {}
        }
        if controller.is_removed().await {
            health.mark_removed();
            tracing::error!(
                "this node was removed from the cluster; it serves nothing now: stop it"
            );
            return;
        }
    }
}

/// Records this node (and its data directory) in the cluster's registry, through the meta
/// group's leader. A refusal (the id belongs to another data directory, or was removed) stops
/// the node with the registry's explanation.
async fn register(
    controller: &perdure_cluster::Controller,
    opts: &NodeOptions,
    bound: Option<SocketAddr>,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let me = opts.node_id;
    let (via, advertised): (Vec<String>, String) = match &opts.join {
        Some(join) => {
            let bound = bound.context("a joining node needs an internal address")?;
            if bound.ip().is_unspecified() {
                anyhow::bail!(
                    "--internal-addr {bound}: a joining node registers its internal address, \
                     so it must be one its peers can reach (not 0.0.0.0)"
                );
            }
            (vec![join.clone()], bound.to_string())
        }
        None => (
            opts.peers
                .iter()
                .filter(|(id, _)| **id != me)
                .map(|(_, a)| a.clone())
                .collect(),
            opts.peers[&me].clone(),
        ),
    };
    let data_id = layout::data_id(data_dir)?;
    perdure_cluster::register_self(controller, &via, &advertised, data_id, CLUSTER_WAIT)
        .await
        .map_err(|s| anyhow::anyhow!("registering node {me} with the cluster: {}", s.message()))
}

/// Waits until the cluster's id is known here (the first meta leader chooses it) and binds the
/// data directory to it.
async fn record_cluster_id(
    controller: &perdure_cluster::Controller,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + CLUSTER_WAIT;
    loop {
        if let Some(id) = controller
            .cluster_id()
            .map_err(|s| anyhow::anyhow!("reading the cluster id: {}", s.message()))?
        {
            return layout::claim_cluster_id(data_dir, id);
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("the cluster's id did not appear within {CLUSTER_WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates `default` on the meta group's leader; every other node waits to see it applied.
async fn ensure_default_namespace(
    namespaces: &Namespaces,
    meta: &perdure_raft::Group,
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + CLUSTER_WAIT;
    loop {
        if namespaces.lookup("default").is_ok() {
            return Ok(());
        }
        if meta.is_leader() {
            match namespaces.ensure("default").await {
                Ok(()) => return Ok(()),
                Err(s) => warn!(status = %s, "creating namespace default; retrying"),
            }
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("namespace default did not appear within {CLUSTER_WAIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `ready` until it holds, logging while it waits; fails after `limit`.
async fn wait_until(
    limit: Duration,
    what: &str,
    mut ready: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let started = tokio::time::Instant::now();
    let mut next_log = started + Duration::from_secs(5);
    while !ready() {
        let now = tokio::time::Instant::now();
        if now >= started + limit {
            anyhow::bail!("gave up waiting for {what} after {limit:?}");
        }
        if now >= next_log {
            info!("waiting for {what} (peers starting?)");
            next_log = now + Duration::from_secs(5);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

fn flatten<E: std::error::Error + Send + Sync + 'static>(
    ended: Result<Result<(), E>, tokio::task::JoinError>,
) -> anyhow::Result<()> {
    ended.context("grpc server task")?.context("grpc server")
}
