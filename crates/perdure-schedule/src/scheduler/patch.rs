//! PatchSchedule and UpdateSchedule: trigger, backfill, pause/unpause, and replacing the
//! schedule's spec, action, policies and state under the conflict token.
//!
//! Never applies a call twice (the caller asks [`ScheduleState::repeated_request`] first) nor
//! runs slots before `now` under a new spec.

use perdure_core::Time;
use temporalio_protos::temporal::api::common::v1::SearchAttributes;
use temporalio_protos::temporal::api::schedule::v1::{Schedule, SchedulePatch};

use super::*;
use crate::spec::CompiledSpec;

impl ScheduleState {
    /// PatchSchedule: trigger, backfill, pause, unpause (the time up to now is processed first,
    /// as the workflow does before it reads a signal).
    pub fn patch(&mut self, patch: &SchedulePatch, now: Time) -> Vec<Action> {
        let mut actions = Vec::new();
        self.process_time_range(now);
        self.apply_patch(patch, now);
        self.process(now, &mut actions);
        actions
    }

    pub(super) fn apply_patch(&mut self, patch: &SchedulePatch, now: Time) {
        if let Some(t) = &patch.trigger_immediately {
            let at = time_of(&t.scheduled_time)
                .filter(|t| *t != 0)
                .unwrap_or(now.0);
            self.add_start(at, at, t.overlap_policy, true);
        }
        for b in &patch.backfill_request {
            if self.backfills.len() >= MAX_BUFFER {
                self.info_mut().buffer_dropped += 1;
                continue;
            }
            let mut b = *b;
            // The start time is inclusive (InclusiveBackfillStartTime).
            let start = time_of(&b.start_time).unwrap_or(0) - 1_000_000;
            b.start_time = ts(start);
            self.backfills.push(b);
        }
        if !patch.pause.is_empty() {
            let st = self.sched_state_mut();
            st.paused = true;
            st.notes = patch.pause.clone();
            self.conflict_token += 1;
        }
        if !patch.unpause.is_empty() {
            let st = self.sched_state_mut();
            st.paused = false;
            st.notes = patch.unpause.clone();
            self.conflict_token += 1;
        }
    }

    /// UpdateSchedule: replaces spec, action, policies and state (not info); `search_attributes`
    /// None leaves them, Some replaces them. Slots before now are not run under the new spec.
    pub fn update(
        &mut self,
        mut schedule: Schedule,
        search_attributes: Option<SearchAttributes>,
        conflict_token: i64,
        now: Time,
    ) -> Result<Vec<Action>, ScheduleError> {
        if conflict_token != 0 && conflict_token != self.conflict_token {
            return Err(ScheduleError::Conflict);
        }
        fill_defaults(&mut schedule);
        CompiledSpec::compile(schedule.spec.as_ref().unwrap_or(&Default::default()))?;
        let mut actions = Vec::new();
        self.process_time_range(now);
        self.schedule = Some(schedule);
        if let Some(sa) = search_attributes {
            self.search_attributes = Some(sa);
        }
        self.cursor = self.cursor.max(now.0);
        self.info_mut().update_time = ts(now.0);
        self.conflict_token += 1;
        self.process(now, &mut actions);
        Ok(actions)
    }
}
