//! Why a benchmark run against one target failed.
//!
//! Owns: the one error enum of the load generator. Must never: hide which phase or step failed,
//! since a bench that fails silently measures nothing.

use std::path::PathBuf;
use std::time::Duration;

/// Boxed error from the SDK: its crates each have their own error types and the bench only
/// needs to show them.
pub type SdkError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failure while benchmarking one target.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("could not start the server: {0}")]
    Harness(#[from] perdure_e2e::HarnessError),
    #[error("{what} binary {path} not found{hint}")]
    MissingBinary {
        what: &'static str,
        path: PathBuf,
        hint: &'static str,
    },
    #[error("the Temporal CLI must be named `temporal` (the harness runs it from PATH), got {0}")]
    TemporalBinName(PathBuf),
    #[error("invalid server address `{0}`: expected host:port")]
    BadAddress(String),
    #[error("could not connect to {url} within {deadline:?}: {source}")]
    Connect {
        url: String,
        deadline: Duration,
        #[source]
        source: SdkError,
    },
    #[error("{what}: {source}")]
    Sdk {
        what: &'static str,
        #[source]
        source: SdkError,
    },
    #[error("workflow {workflow_id} returned {got:?}, expected {want:?}")]
    WrongResult {
        workflow_id: String,
        got: String,
        want: String,
    },
    #[error("{phase} phase did not finish within {deadline:?} ({done} of {total} workflows done)")]
    PhaseDeadline {
        phase: &'static str,
        deadline: Duration,
        done: usize,
        total: usize,
    },
    #[error("load task panicked or was cancelled: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("could not read server CPU time from /proc: {0}")]
    Proc(#[source] std::io::Error),
    #[error("found {found} live child processes named {comm:?}, expected exactly one server")]
    ServerPid { comm: String, found: usize },
    #[error("the SDK worker stopped before the load was done")]
    WorkerStoppedEarly,
    #[error("worker did not shut down within {0:?}")]
    WorkerShutdown(Duration),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl BenchError {
    /// Wraps an SDK error with what the bench was doing when it happened.
    pub fn sdk<E: Into<SdkError>>(what: &'static str) -> impl FnOnce(E) -> BenchError {
        move |source| BenchError::Sdk {
            what,
            source: source.into(),
        }
    }
}
