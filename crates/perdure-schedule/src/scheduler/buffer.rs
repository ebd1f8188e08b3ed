//! Overlap policy resolution and the buffer: Temporal's ProcessBuffer, deciding for each
//! buffered start whether it starts now, waits, is skipped, or cancels/terminates what runs.
//!
//! Never reads the spec (slots arrive already timed) nor records a run's outcome.

use temporalio_protos::temporal::api::enums::v1::ScheduleOverlapPolicy;
use temporalio_protos::temporal::api::schedule::v1::schedule_action;

use super::*;

impl ScheduleState {
    pub(super) fn add_start(
        &mut self,
        nominal: i64,
        actual: i64,
        overlap_policy: i32,
        manual: bool,
    ) {
        if self.buffered.len() >= MAX_BUFFER {
            self.info_mut().buffer_dropped += 1;
            return;
        }
        self.buffered.push(BufferedStart {
            nominal,
            actual,
            overlap_policy,
            manual,
        });
    }

    pub(super) fn resolve(&self, policy: i32) -> ScheduleOverlapPolicy {
        let p = if policy == ScheduleOverlapPolicy::Unspecified as i32 {
            self.policies().overlap_policy
        } else {
            policy
        };
        match ScheduleOverlapPolicy::try_from(p) {
            Ok(ScheduleOverlapPolicy::Unspecified) | Err(_) => ScheduleOverlapPolicy::Skip,
            Ok(p) => p,
        }
    }

    /// Temporal's canTakeScheduledAction: manual actions ignore pause and the action limit.
    pub(super) fn can_take(&mut self, manual: bool, decrement: bool) -> bool {
        if manual {
            return true;
        }
        let st = self.sched_state_mut();
        if st.paused {
            return false;
        }
        if !st.limited_actions {
            return true;
        }
        if st.remaining_actions > 0 {
            if decrement {
                st.remaining_actions -= 1;
                self.conflict_token += 1;
            }
            return true;
        }
        false
    }

    pub(super) fn running(&self) -> bool {
        self.info
            .as_ref()
            .is_some_and(|i| !i.running_workflows.is_empty())
            || self
                .pending
                .iter()
                .any(|p| p.tracked && !(p.done && (p.run_id.is_empty() || p.closed_status != 0)))
    }

    /// Temporal's processBuffer (buffer.go's ProcessBuffer plus the starts it decides);
    /// true when it should run again at once.
    pub(super) fn process_buffer(&mut self, actions: &mut Vec<Action>) -> bool {
        let has_action = matches!(
            self.schedule
                .as_ref()
                .and_then(|s| s.action.as_ref())
                .and_then(|a| a.action.as_ref()),
            Some(schedule_action::Action::StartWorkflow(_))
        );
        if !has_action || self.buffered.is_empty() {
            self.buffered.clear();
            return false;
        }
        if self.pending.len() >= MAX_BUFFER {
            // Starts are not being carried out (the effect runner cannot reach their shards):
            // the rest waits in the buffer, which drops what overflows, as Temporal's does
            // while its start activity retries.
            return false;
        }
        let is_running = self.running();
        let mut overlapping = Vec::new();
        let mut non_overlapping: Option<BufferedStart> = None;
        let mut new_buffer = Vec::new();
        let (mut need_cancel, mut need_terminate) = (false, false);
        let mut skipped = 0;
        for start in std::mem::take(&mut self.buffered) {
            let policy = self.resolve(start.overlap_policy);
            if policy == ScheduleOverlapPolicy::AllowAll {
                overlapping.push(start);
                continue;
            }
            if !is_running && non_overlapping.is_none() {
                non_overlapping = Some(start);
                continue;
            }
            match policy {
                ScheduleOverlapPolicy::BufferOne => {
                    if new_buffer.is_empty() {
                        new_buffer.push(start);
                    } else {
                        skipped += 1;
                    }
                }
                ScheduleOverlapPolicy::BufferAll => new_buffer.push(start),
                ScheduleOverlapPolicy::CancelOther | ScheduleOverlapPolicy::TerminateOther => {
                    if is_running {
                        if policy == ScheduleOverlapPolicy::CancelOther {
                            need_cancel = true;
                        } else {
                            need_terminate = true;
                        }
                        new_buffer.push(start);
                    } else {
                        non_overlapping = Some(start);
                    }
                }
                _ => skipped += 1,
            }
        }
        if need_cancel || need_terminate {
            overlapping.clear();
        }
        self.buffered = new_buffer;
        self.info_mut().overlap_skipped += skipped;
        let mut try_again = false;
        for (start, tracked) in overlapping
            .into_iter()
            .map(|s| (s, false))
            .chain(non_overlapping.map(|s| (s, true)))
        {
            if !self.can_take(start.manual, true) {
                try_again = true;
                continue;
            }
            let seq = self.begin_start(&start, tracked);
            actions.push(Action::Start { seq });
        }
        if need_terminate || need_cancel {
            let running = self
                .info
                .as_ref()
                .map(|i| i.running_workflows.clone())
                .unwrap_or_default();
            for ex in running {
                actions.push(if need_terminate {
                    Action::Terminate(ex)
                } else {
                    Action::Cancel(ex)
                });
            }
        }
        // A start refused for pause or limits is dropped; what is left may still start.
        try_again && !self.buffered.is_empty()
    }
}
