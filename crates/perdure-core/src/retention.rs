//! How long a closed run is kept: its namespace's retention, fixed when the run starts (the
//! core never sees namespaces) and carried over to the runs it starts. Closing a run arms a
//! `DeleteRun` timer at close time + retention (see `MutableState::close`); the history layer
//! executes it. This module only answers "how long"; it never deletes anything.

use std::time::Duration;

use crate::state::MutableState;
use crate::time::{duration_from_proto, duration_to_proto, Time};

/// Temporal's retention for a namespace registered without one, and ours for runs whose state
/// predates per-run retention.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 3600);

impl MutableState {
    /// How long this run is kept after it closes.
    pub fn retention(&self) -> Duration {
        match self.retention.as_ref() {
            Some(d) => duration_from_proto(Some(d)),
            None => DEFAULT_RETENTION,
        }
    }

    pub(crate) fn set_retention(&mut self, retention: Duration) {
        self.retention = Some(duration_to_proto(retention));
    }

    /// When a closed run's `DeleteRun` timer is due; `None` while it runs.
    pub fn delete_time(&self) -> Option<Time> {
        if self.is_running() {
            None
        } else {
            Some(Time(self.close_time).add(self.retention()))
        }
    }
}
