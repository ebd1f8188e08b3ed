//! The `perdure` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use perdure_server::{run_dev, DevOptions};

#[derive(Parser)]
#[command(name = "perdure", version, about = "Durable execution server speaking Temporal's gRPC API")]
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
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,openraft=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new()?;
    match cli.command {
        Command::StartDev { data_dir, port, ip, shards } => runtime.block_on(run_dev(
            DevOptions { data_dir, ip, port, shards },
            async {
                let _ = tokio::signal::ctrl_c().await;
            },
        )),
    }
}
