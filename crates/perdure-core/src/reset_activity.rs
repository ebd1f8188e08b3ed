//! ResetActivity (Temporal's operator command): the activity starts again from attempt 1.
//! No history event is written.
//!
//! A waiting activity is scheduled again now (or after the caller's jitter), on a new stamp so
//! its old dispatch and retry timer go stale. A running attempt keeps running but no longer
//! matches the activity's attempt (its heartbeats and completions are refused, as in Temporal);
//! its timeouts are re-armed for the new attempt so it times out into a retry. A paused
//! activity is unpaused unless `keep_paused`. `reset_heartbeat` drops the heartbeat details
//! now for a waiting activity, at the next retry for a running one.
//! `restore_original_options` puts back the options UpdateActivityOptions changed.

use std::time::Duration;

use crate::errors::CoreError;
use crate::pause_activity::ActivitySelector;
use crate::state::MutableState;
use crate::tasks::Mutation;
use crate::time::Time;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResetActivityRequest {
    pub reset_heartbeat: bool,
    pub keep_paused: bool,
    pub restore_original_options: bool,
    /// Delay of the next attempt (already drawn at random within the request's jitter).
    pub delay: Duration,
}

impl MutableState {
    pub fn reset_activity(
        &mut self,
        selector: &ActivitySelector,
        request: &ResetActivityRequest,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        let mut m = Mutation::default();
        for id in self.select_activities(selector)? {
            let Some(mut ai) = self.activities.get(&id).cloned() else {
                continue;
            };
            ai.attempt = 1;
            ai.activity_reset = true;
            if request.reset_heartbeat {
                ai.reset_heartbeats = true;
            }
            if request.restore_original_options {
                self.restore_original_options(&mut ai);
            }
            if ai.paused && !request.keep_paused {
                ai.paused = false;
                ai.pause_info = None;
            }
            if ai.paused {
                // Held until unpaused, which re-arms what is due.
                ai.stamp += 1;
            } else {
                if !ai.is_started() && request.reset_heartbeat {
                    ai.last_heartbeat_details = None;
                    ai.last_heartbeat_time = 0;
                }
                self.resume_activity(&mut m, &mut ai, request.delay, now);
            }
            self.activities.insert(id, ai);
        }
        self.sync_pause_info();
        Ok(m)
    }
}
