//! Starts and stops the server under test for the end-to-end tests.
//!
//! Owns: choosing the server (`PERDURE_TEST_SERVER=perdure|temporal`), a free port, a fresh data
//! directory, waiting until the port accepts connections, killing the process on drop, and
//! bounding a test's steps with deadlines (`within`).
//! Must never: talk the Temporal protocol (the SDK does that, through `client`) or reuse a data
//! directory across tests, so one test's leftovers can never make another pass.

pub mod client;
pub mod workflows;

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// How long a server gets to start accepting connections (Temporal's dev server takes a few
/// seconds to migrate its SQLite schema on a cold start).
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Which server the tests talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// Our `perdure` binary (`PERDURE_BIN`, default `target/debug/perdure`).
    Perdure,
    /// Temporal's own dev server (`temporal server start-dev`, found on PATH), the reference.
    Temporal,
}

impl ServerKind {
    /// Reads `PERDURE_TEST_SERVER`; unset means `perdure`.
    pub fn from_env() -> Result<Self, HarnessError> {
        match std::env::var("PERDURE_TEST_SERVER").as_deref() {
            Err(_) | Ok("") | Ok("perdure") => Ok(ServerKind::Perdure),
            Ok("temporal") => Ok(ServerKind::Temporal),
            Ok(other) => Err(HarnessError::UnknownServerKind(other.to_string())),
        }
    }
}

/// Why the server under test could not be started.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("PERDURE_TEST_SERVER must be `perdure` or `temporal`, got `{0}`")]
    UnknownServerKind(String),
    #[error("server binary {path} not found (build it with `cargo build -p perdure-server`)")]
    MissingBinary { path: PathBuf },
    #[error("i/o error while starting the server: {0}")]
    Io(#[from] std::io::Error),
    #[error("server exited before it was ready: {0}")]
    Exited(std::process::ExitStatus),
    #[error("server did not accept connections on port {port} within {deadline:?}")]
    NotReady { port: u16, deadline: Duration },
}

/// A running server on 127.0.0.1 with its own data directory; killed when dropped.
#[derive(Debug)]
pub struct TestServer {
    kind: ServerKind,
    port: u16,
    child: Child,
    // Held so the directory outlives the process; removed on drop.
    _data_dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts the server chosen by `PERDURE_TEST_SERVER` and waits until its gRPC port accepts
    /// TCP connections. The SDK connection itself may still need a retry or two.
    pub async fn start() -> Result<Self, HarnessError> {
        let kind = ServerKind::from_env()?;
        let data_dir = tempfile::Builder::new().prefix("perdure-e2e-").tempdir()?;
        let port = free_port()?;
        let mut cmd = match kind {
            ServerKind::Perdure => {
                let bin = perdure_bin();
                if !bin.exists() {
                    return Err(HarnessError::MissingBinary { path: bin });
                }
                let mut cmd = Command::new(bin);
                cmd.arg("start-dev")
                    .arg("--data-dir")
                    .arg(data_dir.path())
                    .arg("--port")
                    .arg(port.to_string())
                    // No HTTP side door: a fixed default port would collide between servers.
                    .args(["--http-port", "0"]);
                cmd
            }
            ServerKind::Temporal => {
                let mut cmd = Command::new("temporal");
                cmd.args(["server", "start-dev", "--headless", "--log-level", "error"])
                    .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--http-port", &free_port()?.to_string()])
                    .args(["--metrics-port", &free_port()?.to_string()])
                    .arg("--db-filename")
                    .arg(data_dir.path().join("temporal.db"))
                    .args(temporal_extra_args());
                cmd
            }
        };
        let log = std::fs::File::create(data_dir.path().join("server.log"))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        let mut server = TestServer {
            kind,
            port,
            child,
            _data_dir: data_dir,
        };
        server.wait_until_listening().await?;
        Ok(server)
    }

    /// Which server this is.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// The gRPC port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, the form the Rust SDK's connection options take.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_until_listening(&mut self) -> Result<(), HarnessError> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = tokio::time::Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(HarnessError::Exited(status));
            }
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(HarnessError::NotReady {
                    port: self.port,
                    deadline: START_DEADLINE,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // SIGKILL: the server must survive it anyway, and the tests should not wait on a
        // graceful shutdown.
        let _ = self.child.start_kill();
    }
}

/// The `perdure` binary: `PERDURE_BIN`, else `target/debug/perdure` at the workspace root.
pub fn perdure_bin() -> PathBuf {
    match std::env::var_os("PERDURE_BIN") {
        Some(p) => PathBuf::from(p),
        // This crate lives at <root>/tests/rust.
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .nth(2)
            .unwrap_or(Path::new("."))
            .join("target/debug/perdure"),
    }
}

/// Extra arguments for Temporal's dev server from `PERDURE_TEST_TEMPORAL_ARGS`
/// (whitespace-separated), e.g. the visibility bench lifting the dev server's visibility rate
/// limit with `--dynamic-config-value`.
fn temporal_extra_args() -> Vec<String> {
    std::env::var("PERDURE_TEST_TEMPORAL_ARGS")
        .map(|a| a.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Awaits `fut` for at most `deadline`, panicking with `what` when it takes longer, so a test
/// that hangs says where.
pub async fn within<T>(deadline: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(deadline, fut).await {
        Ok(out) => out,
        Err(_) => panic!("{what}: not done within {deadline:?}"),
    }
}

/// A port nobody listens on right now. Racy by nature, but the window is milliseconds.
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_bindable() {
        let port = free_port().expect("free port");
        assert_ne!(port, 0);
        TcpListener::bind(("127.0.0.1", port)).expect("port is free");
    }

    #[test]
    fn default_binary_is_under_workspace_target() {
        if std::env::var_os("PERDURE_BIN").is_none() {
            let bin = perdure_bin();
            assert!(bin.ends_with("target/debug/perdure"), "{bin:?}");
            assert!(!bin.to_string_lossy().contains(".."), "{bin:?}");
        }
    }
}
