//! The `perdure` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use perdure_server::config::StartArgs;
use perdure_server::{cluster_admin, cluster_status, run_dev, run_node, DevOptions};

#[derive(Parser)]
#[command(
    name = "perdure",
    version,
    about = "Durable execution server speaking Temporal's gRPC API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One node with embedded storage and the `default` namespace, for development and tests.
    StartDev {
        /// Where all state lives; reuse it to resume after a stop or crash.
        #[arg(long, default_value = "./perdure-data")]
        data_dir: PathBuf,
        /// gRPC port.
        #[arg(long, default_value_t = 7233)]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        ip: String,
        /// History shards, fixed when the data directory is created.
        #[arg(long, default_value_t = 16)]
        shards: u32,
        /// HTTP port for /health and /metrics (Prometheus); 0 disables it.
        #[arg(long, default_value_t = 7243)]
        http_port: u16,
        /// One of Temporal's dynamic-config keys Perdure honours, as `KEY=VALUE` (repeatable):
        /// `history.workflowIdReuseMinimalInterval=1s`.
        #[arg(long = "dynamic-config-value", value_name = "KEY=VALUE")]
        dynamic_config_value: Vec<String>,
        /// The built Web UI served at `/` on the HTTP port [default: PERDURE_UI_DIR, else
        /// ui/build of the repository the binary was built in].
        #[arg(long, env = "PERDURE_UI_DIR")]
        ui_dir: Option<PathBuf>,
    },
    /// A node of a cluster (every key also a PERDURE_* variable and a --config file key).
    Start(StartArgs),
    /// Inspect a running cluster.
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Nodes and their health; every group's leader, term, commit/applied index, replica lag.
    Status {
        /// HTTP addresses of the nodes to ask, comma-separated (ip:port of each --http-addr).
        #[arg(
            long,
            env = "PERDURE_HTTP",
            value_delimiter = ',',
            default_value = "127.0.0.1:7243"
        )]
        http: Vec<String>,
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Removes a node for good: its replicas move to the other nodes, and its id can never
    /// come back (a node that lost its disk rejoins with a new --node-id and --join).
    Remove {
        /// The node id to remove.
        node: u64,
        /// Internal address of any member to send the request through.
        #[arg(long, env = "PERDURE_VIA", default_value = "127.0.0.1:7333")]
        via: String,
        /// The cluster's secret.
        #[arg(long, env = "PERDURE_CLUSTER_SECRET", hide_env_values = true)]
        cluster_secret: String,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,openraft=error".into()),
        )
        .init();
    let cli = Cli::parse();
    // The node brings its own runtime; this one only waits for Ctrl-C.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::StartDev {
            data_dir,
            port,
            ip,
            shards,
            http_port,
            dynamic_config_value,
            ui_dir,
        } => runtime.block_on(run_dev(
            DevOptions {
                data_dir,
                ip,
                port,
                shards,
                http_port: (http_port != 0).then_some(http_port),
                history: perdure_server::dynamic_config::parse(&dynamic_config_value)?,
                ui_dir,
            },
            stop_signal(),
        )),
        Command::Start(args) => {
            let opts = args.resolve()?;
            runtime.block_on(run_node(opts, stop_signal()))
        }
        Command::Cluster {
            command: ClusterCommand::Status { http, json },
        } => {
            let status = cluster_status::gather(&http);
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                cluster_status::print_table(&status);
            }
            if status.nodes.iter().all(|n| !n.reachable) {
                anyhow::bail!("no node answered");
            }
            Ok(())
        }
        Command::Cluster {
            command:
                ClusterCommand::Remove {
                    node,
                    via,
                    cluster_secret,
                },
        } => {
            runtime.block_on(cluster_admin::remove(&via, &cluster_secret, node))?;
            println!("node {node} removed");
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, what service managers and orchestrators send.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
