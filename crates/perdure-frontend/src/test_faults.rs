//! Deliberate bugs for the partition-fault suite (`jepsen/`), to show that its checkers catch a
//! server that breaks its promises. Off unless the node was started with the environment
//! variable `PERDURE_TEST_BREAK` naming one; a node that has one says so in its log at start.
//!
//! Never set in production: every fault here loses or reorders acknowledged writes on purpose.

use std::sync::OnceLock;

/// The faults a node can be started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBreak {
    /// SignalWorkflowExecution answers OK at once and writes the signal in the background a
    /// little later (`ACK_BEFORE_COMMIT_DELAY`): reads miss acknowledged signals, a fault in
    /// that window loses them, and later signals may overtake them.
    AckSignalBeforeCommit,
}

/// How long the background write of an early-acknowledged signal waits.
pub const ACK_BEFORE_COMMIT_DELAY: std::time::Duration = std::time::Duration::from_millis(300);

/// The fault this process was started with, if any.
pub fn test_break() -> Option<TestBreak> {
    static BREAK: OnceLock<Option<TestBreak>> = OnceLock::new();
    *BREAK.get_or_init(|| match std::env::var("PERDURE_TEST_BREAK").as_deref() {
        Ok("ack-signal-before-commit") => {
            tracing::warn!("PERDURE_TEST_BREAK=ack-signal-before-commit: signals are acknowledged before they are written (a deliberate bug for the fault suite)");
            Some(TestBreak::AckSignalBeforeCommit)
        }
        Ok(other) if !other.is_empty() => {
            tracing::warn!(value = other, "unknown PERDURE_TEST_BREAK ignored");
            None
        }
        _ => None,
    })
}
