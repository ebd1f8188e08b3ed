//! The servers a run measures: spawned perdure, spawned Temporal dev server, or an address.
//!
//! Owns: resolving which binary to run, starting it through the e2e harness (`perdure-e2e`),
//! and finding the server's pid so its CPU time can be read. Must never: reuse a data directory
//! or leave a spawned server running after its target is done (the harness kills on drop).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use perdure_e2e::TestServer;

use crate::cpu;
use crate::error::BenchError;

/// One server to benchmark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// Spawn our `perdure start-dev` from this binary.
    Perdure { bin: PathBuf },
    /// Spawn `temporal server start-dev` from this binary (it must be named `temporal`).
    Temporal { bin: PathBuf },
    /// Talk to a server someone else started (e.g. one node of a cluster). Its CPU time is
    /// measured only over `pids` (every node of a cluster, summed), when given.
    Address { addr: String, pids: Vec<u32> },
}

impl TargetSpec {
    /// Short name used in tables, ratios and the JSON file.
    pub fn name(&self) -> String {
        match self {
            TargetSpec::Perdure { .. } => "perdure".to_string(),
            TargetSpec::Temporal { .. } => "temporal".to_string(),
            TargetSpec::Address { addr, pids } if pids.len() > 1 => {
                format!("{addr} ({} nodes)", pids.len())
            }
            TargetSpec::Address { addr, .. } => addr.clone(),
        }
    }

    /// The binary spawned, if any.
    pub fn binary(&self) -> Option<&Path> {
        match self {
            TargetSpec::Perdure { bin } | TargetSpec::Temporal { bin } => Some(bin),
            TargetSpec::Address { .. } => None,
        }
    }

    /// Points the harness at this target through its environment variables
    /// (`PERDURE_TEST_SERVER`, `PERDURE_BIN`, and `PATH` for `temporal`). Must be called before
    /// the target's Tokio runtime starts: changing the environment while other threads may read
    /// it is not sound.
    pub fn configure_harness(&self) -> Result<(), BenchError> {
        match self {
            TargetSpec::Perdure { bin } => {
                if !bin.is_file() {
                    return Err(BenchError::MissingBinary {
                        what: "perdure",
                        path: bin.clone(),
                        hint: " (build it with `cargo build -p perdure-server`, or pass --perdure-bin)",
                    });
                }
                std::env::set_var("PERDURE_TEST_SERVER", "perdure");
                std::env::set_var("PERDURE_BIN", bin);
            }
            TargetSpec::Temporal { bin } => {
                if bin.file_name() != Some("temporal".as_ref()) {
                    return Err(BenchError::TemporalBinName(bin.clone()));
                }
                std::env::set_var("PERDURE_TEST_SERVER", "temporal");
                if let Some(dir) = bin.parent().filter(|d| !d.as_os_str().is_empty()) {
                    if !bin.is_file() {
                        return Err(BenchError::MissingBinary {
                            what: "temporal",
                            path: bin.clone(),
                            hint:
                                " (install it with `bash scripts/setup.sh`, or pass --temporal-bin)",
                        });
                    }
                    std::env::set_var("PATH", path_with_first(dir));
                }
            }
            TargetSpec::Address { addr, .. } => {
                if !is_host_port(addr) {
                    return Err(BenchError::BadAddress(addr.clone()));
                }
            }
        }
        Ok(())
    }

    /// Starts (or attaches to) the server and returns where to reach it.
    pub async fn start(&self) -> Result<RunningTarget, BenchError> {
        match self {
            TargetSpec::Address { addr, pids } => Ok(RunningTarget {
                url: format!("http://{addr}"),
                server_pids: pids.clone(),
                _server: None,
            }),
            TargetSpec::Perdure { bin } => {
                let comm = process_name(bin);
                spawn(comm).await
            }
            TargetSpec::Temporal { .. } => spawn("temporal".to_string()).await,
        }
    }
}

/// A server ready for the SDK; a spawned one is killed when this is dropped.
#[derive(Debug)]
pub struct RunningTarget {
    pub url: String,
    /// The server's processes, for CPU accounting (empty: not measured).
    pub server_pids: Vec<u32>,
    _server: Option<TestServer>,
}

async fn spawn(comm: String) -> Result<RunningTarget, BenchError> {
    let server = TestServer::start().await?;
    // The harness does not expose the child's pid, but it is our only live child with that
    // name: earlier targets' servers are killed (at worst zombies, which are skipped).
    let pids = cpu::live_children_named(std::process::id(), &comm).map_err(BenchError::Proc)?;
    let [pid] = pids[..] else {
        return Err(BenchError::ServerPid {
            comm,
            found: pids.len(),
        });
    };
    Ok(RunningTarget {
        url: server.url(),
        server_pids: vec![pid],
        _server: Some(server),
    })
}

/// The name the kernel shows for a process started from `bin`: the file name, cut to 15 bytes.
fn process_name(bin: &Path) -> String {
    let name = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    name.char_indices()
        .take_while(|(i, c)| i + c.len_utf8() <= 15)
        .map(|(_, c)| c)
        .collect()
}

fn path_with_first(dir: &Path) -> OsString {
    let mut dirs = vec![dir.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

fn is_host_port(addr: &str) -> bool {
    match addr.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0),
        None => false,
    }
}

/// Workspace root: this crate lives at `<root>/benches`.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// `target/<profile>/perdure`, preferring the profile this bench was built with so a stale
/// binary of the other profile is not measured by accident.
pub fn default_perdure_bin() -> PathBuf {
    let target = workspace_root().join("target");
    let (mine, other) = if cfg!(debug_assertions) {
        ("debug", "release")
    } else {
        ("release", "debug")
    };
    let preferred = target.join(mine).join("perdure");
    if preferred.is_file() {
        return preferred;
    }
    let fallback = target.join(other).join("perdure");
    if fallback.is_file() {
        fallback
    } else {
        preferred
    }
}

/// The project's venv copy of the Temporal CLI if scripts/setup.sh installed it, else `temporal`
/// from PATH.
pub fn default_temporal_bin() -> PathBuf {
    let venv = workspace_root().join(".venv/bin/temporal");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("temporal")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_must_be_host_and_port() {
        assert!(is_host_port("127.0.0.1:7233"));
        assert!(is_host_port("localhost:1"));
        assert!(!is_host_port("127.0.0.1"));
        assert!(!is_host_port(":7233"));
        assert!(!is_host_port("host:0"));
        assert!(!is_host_port("host:99999"));
    }

    #[test]
    fn process_name_is_cut_like_the_kernel_does() {
        assert_eq!(
            process_name(Path::new("/x/target/debug/perdure")),
            "perdure"
        );
        assert_eq!(
            process_name(Path::new("/x/a-very-long-binary-name")),
            "a-very-long-bin"
        );
    }

    #[test]
    fn temporal_binary_must_be_named_temporal() {
        let spec = TargetSpec::Temporal {
            bin: PathBuf::from("/opt/temporal-cli"),
        };
        assert!(matches!(
            spec.configure_harness(),
            Err(BenchError::TemporalBinName(_))
        ));
    }

    #[test]
    fn bad_address_is_rejected_before_any_load() {
        let spec = TargetSpec::Address {
            addr: "nowhere".to_string(),
            pids: Vec::new(),
        };
        assert!(matches!(
            spec.configure_harness(),
            Err(BenchError::BadAddress(_))
        ));
    }

    #[test]
    fn default_perdure_bin_is_under_workspace_target() {
        let bin = default_perdure_bin();
        assert!(bin.starts_with(workspace_root().join("target")), "{bin:?}");
        assert!(bin.ends_with("perdure"));
    }
}
