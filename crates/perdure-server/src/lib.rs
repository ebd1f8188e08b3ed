//! Wiring of one Perdure node: storage, Raft groups, history shards, matching and the gRPC
//! frontend. Owns start-up order, the node-local layout files and the node's lifetime; owns
//! no behaviour of its own.
//!
//! [`start_node`] runs a node in-process (tests use it directly) and hands back a handle;
//! [`start_dev`] does the same for `perdure start-dev`'s single node; [`run_node`] is the
//! `perdure start` / `start-dev` commands on top of them.

mod admit;
pub mod cluster_admin;
pub mod cluster_status;
pub mod config;
pub mod dynamic_config;
mod layout;
mod node;

pub use node::NodeOptions;
pub use perdure_raft::Isolation;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use tokio::sync::oneshot;

/// Options of `perdure start-dev`.
#[derive(Clone, Debug)]
pub struct DevOptions {
    pub data_dir: PathBuf,
    pub ip: String,
    /// 0 picks a free port; [`DevServer::addr`] tells which.
    pub port: u16,
    /// Used only when the data directory is new; afterwards the recorded count wins.
    pub shards: u32,
    /// Port of the HTTP side door (`/health`, `/metrics`) on the same ip; `None` disables it.
    pub http_port: Option<u16>,
    /// History tunables (`--dynamic-config-value`).
    pub history: perdure_history::HistoryConfig,
    /// The built Web UI (`--ui-dir`); `None` looks for it (see `perdure_webui::locate`).
    pub ui_dir: Option<PathBuf>,
}

/// A running node. Dropping it stops the node in the background; [`DevServer::shutdown`] stops
/// it and waits until the data directory can be reopened.
#[derive(Debug)]
pub struct DevServer {
    addr: SocketAddr,
    internal_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    data_dir: PathBuf,
    stop: oneshot::Sender<()>,
    finished: oneshot::Receiver<anyhow::Result<()>>,
}

/// Starts a single-node server on its own thread and runtime and returns once it serves gRPC on
/// [`DevServer::addr`]. A fresh data directory is created and bootstrapped; an existing one is
/// recovered. On failure, everything opened has been released again before this returns.
pub async fn start_dev(opts: DevOptions) -> anyhow::Result<DevServer> {
    let api_addr = format!("{}:{}", opts.ip, opts.port)
        .parse::<SocketAddr>()
        .context("bad listen address")?;
    start_node(NodeOptions {
        node_id: 1,
        data_dir: opts.data_dir,
        api_addr,
        internal_addr: None,
        http_addr: opts.http_port.map(|p| SocketAddr::new(api_addr.ip(), p)),
        peers: Default::default(),
        join: None,
        shards: opts.shards,
        replication: 1,
        snapshot_every: None,
        secret: String::new(),
        isolation: Default::default(),
        history: opts.history,
        ui_dir: opts.ui_dir,
    })
    .await
}

/// Starts a node (single or cluster member) on its own thread and runtime and returns once it
/// serves the API. A cluster node returns only once every group has a leader and the `default`
/// namespace exists, so its peers must be starting too.
pub async fn start_node(opts: NodeOptions) -> anyhow::Result<DevServer> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("perdure-node".into())
        .spawn(move || {
            let _ = done_tx.send(node::run(opts, ready_tx, stop_rx));
        })
        .context("spawning the node thread")?;
    match ready_rx.await {
        Ok(ready) => Ok(DevServer {
            addr: ready.addr,
            internal_addr: ready.internal_addr,
            http_addr: ready.http_addr,
            data_dir: ready.data_dir,
            stop: stop_tx,
            finished: done_rx,
        }),
        // Start-up failed: the outcome arrives once the node has released what it opened.
        Err(_) => match done_rx.await {
            Ok(Err(e)) => Err(e),
            Ok(Ok(())) => Err(anyhow::anyhow!("node stopped during start-up")),
            Err(_) => Err(anyhow::anyhow!("node thread panicked during start-up")),
        },
    }
}

impl DevServer {
    /// The address gRPC is served on (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The node-to-node address (cluster nodes only).
    pub fn internal_addr(&self) -> Option<SocketAddr> {
        self.internal_addr
    }

    /// The HTTP side door's address, when enabled.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The data directory, canonicalized.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops accepting calls, lets open ones finish for a short grace period, shuts Raft down
    /// and returns once RocksDB is closed. The error is whatever ended serving, if anything did.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        outcome(self.finished.await)
    }
}

fn outcome(finished: Result<anyhow::Result<()>, oneshot::error::RecvError>) -> anyhow::Result<()> {
    finished.map_err(|_| anyhow::anyhow!("node thread panicked"))?
}

/// Starts a single-node server and serves until `shutdown` resolves (or serving fails), then
/// shuts it down completely.
pub async fn run_dev(
    opts: DevOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run(start_dev(opts), shutdown).await
}

/// `perdure start`: a cluster node, served until `shutdown` resolves.
pub async fn run_node(
    opts: NodeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run(start_node(opts), shutdown).await
}

async fn run(
    started: impl Future<Output = anyhow::Result<DevServer>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let DevServer {
        stop, mut finished, ..
    } = started.await?;
    tokio::select! {
        _ = shutdown => {}
        ended = &mut finished => return outcome(ended),
    }
    let _ = stop.send(());
    outcome(finished.await)
}
