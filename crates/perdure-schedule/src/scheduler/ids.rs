//! Names and ids: the scheduler workflow id, the time suffix of started workflow ids, the jitter
//! seed, the identity actions carry, and the request ids remembered so a retried patch or update
//! is not applied twice.
//!
//! Never draws randomness: every id is derived from the schedule and its counters.

use perdure_core::Time;

use super::*;

/// The scheduler workflow's id for a schedule.
pub fn scheduler_workflow_id(schedule_id: &str) -> String {
    format!("{SCHEDULER_WORKFLOW_ID_PREFIX}{schedule_id}")
}

/// RFC 3339 in UTC, to the second: what Temporal appends to a started workflow's id.
pub fn rfc3339_seconds(t: Time) -> String {
    let secs = t.0.div_euclid(1_000_000_000);
    match jiff::Timestamp::from_second(secs) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => secs.to_string(),
    }
}

impl ScheduleState {
    pub(super) fn jitter_seed(&self) -> String {
        format!("{}-{}", self.namespace_id, self.schedule_id)
    }

    /// True when a patch or update with `request_id` was already applied; otherwise remembers
    /// it (the caller then applies the call). An empty id is never a repeat.
    pub fn repeated_request(&mut self, request_id: &str) -> bool {
        if request_id.is_empty() {
            return false;
        }
        if self.recent_request_ids.iter().any(|r| r == request_id) {
            return true;
        }
        self.recent_request_ids.push(request_id.to_string());
        let extra = self
            .recent_request_ids
            .len()
            .saturating_sub(RECENT_REQUEST_IDS);
        self.recent_request_ids.drain(..extra);
        false
    }

    /// Who the schedule's starts, cancels and terminations say they are from.
    pub fn identity(&self) -> String {
        format!("temporal-scheduler-{}-{}", self.namespace, self.schedule_id)
    }
}
