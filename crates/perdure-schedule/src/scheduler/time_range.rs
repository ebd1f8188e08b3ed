//! The workflow loop's clock side: which slots came due since the cursor (catch-up window,
//! missed slots, bulk skipping of long gaps), backfills feeding the buffer, and when to wake next.
//!
//! Never decides whether a slot starts (it hands the buffer to the overlap policy) nor builds a
//! start request.

use perdure_core::Time;
use temporalio_protos::temporal::api::enums::v1::ScheduleOverlapPolicy;

use super::*;

impl ScheduleState {
    /// The wake-up for the slots that come due: their time arrived.
    pub fn wake(&mut self, now: Time) -> Vec<Action> {
        let mut actions = Vec::new();
        self.process(now, &mut actions);
        actions
    }

    /// The workflow loop's body: the slots that came due, backfills, then the buffer.
    pub(super) fn process(&mut self, now: Time, actions: &mut Vec<Action>) {
        self.process_time_range(now);
        self.process_backfills();
        while self.process_buffer(actions) {}
    }

    /// Takes every slot whose time has come (nominal after the cursor, actual at or before
    /// now) into the buffer, or counts it missed.
    pub(super) fn process_time_range(&mut self, now: Time) {
        let Some(spec) = self.spec() else {
            return;
        };
        if !self.can_take(false, false) {
            // Paused or out of actions: the time passes without slots.
            self.cursor = self.cursor.max(now.0);
            return;
        }
        let catchup = self.catchup_window();
        let update_time = self
            .info
            .as_ref()
            .and_then(|i| time_of(&i.update_time))
            .unwrap_or(0);
        let seed = self.jitter_seed();
        let mut steps = 0;
        while let Some(slot) = spec.next(Time(self.cursor), &seed) {
            if slot.actual.0 > now.0 {
                break;
            }
            self.cursor = slot.nominal.0;
            steps += 1;
            if steps > MAX_STEPS {
                // A gap this long is not walked slot by slot (a write holds the schedule's
                // lock): first to the catch-up window's start (what lies before is missed),
                // then, if still too many, to now (the buffer, at most MAX_BUFFER, is full by
                // then, so what is skipped would have been dropped anyway).
                self.info_mut().missed_catchup_window += 1;
                let window_start = now.0 - catchup;
                self.cursor = if window_start > self.cursor {
                    window_start
                } else {
                    now.0
                };
                steps = 0;
                continue;
            }
            if update_time > slot.nominal.0 {
                continue;
            }
            if now.0 - slot.actual.0 > catchup {
                self.info_mut().missed_catchup_window += 1;
                continue;
            }
            self.add_start(
                slot.nominal.0,
                slot.actual.0,
                ScheduleOverlapPolicy::Unspecified as i32,
                false,
            );
        }
    }

    /// Backfills fill at most half the buffer at a time; the rest waits for a later call.
    pub(super) fn process_backfills(&mut self) {
        let Some(spec) = self.spec() else {
            self.backfills.clear();
            return;
        };
        let seed = self.jitter_seed();
        while !self.backfills.is_empty() && self.buffered.len() < MAX_BUFFER / 2 {
            let b = &mut self.backfills[0];
            let start = time_of(&b.start_time).unwrap_or(0);
            let end = time_of(&b.end_time).unwrap_or(0);
            let policy = b.overlap_policy;
            match spec.next(Time(start), &seed) {
                Some(slot) if slot.actual.0 <= end => {
                    b.start_time = ts(slot.nominal.0);
                    self.add_start(slot.nominal.0, slot.actual.0, policy, true);
                }
                _ => {
                    self.backfills.remove(0);
                }
            }
        }
    }

    pub(super) fn catchup_window(&self) -> i64 {
        match self.policies().catchup_window {
            None => nanos(DEFAULT_CATCHUP_WINDOW),
            Some(d) => {
                let d = d.seconds.saturating_mul(1_000_000_000) + i64::from(d.nanos);
                d.max(nanos(MIN_CATCHUP_WINDOW))
            }
        }
    }

    /// When [`ScheduleState::wake`] must run next: the next slot's time (never while paused or
    /// out of actions; backfills waiting for buffer room resume when a run closes).
    pub fn next_wake(&self) -> Option<Time> {
        let st = self.schedule.as_ref().and_then(|s| s.state.as_ref());
        if st.is_some_and(|st| st.paused || (st.limited_actions && st.remaining_actions <= 0)) {
            return None;
        }
        let spec = self.spec()?;
        spec.next(Time(self.cursor), &self.jitter_seed())
            .map(|slot| slot.actual)
    }
}
