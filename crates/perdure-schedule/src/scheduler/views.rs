//! Read-only views of a schedule: DescribeSchedule's answer, a ListSchedules entry, future action
//! times and ListScheduleMatchingTimes.
//!
//! Never changes the state.

use perdure_core::Time;
use prost_wkt_types::Timestamp;
use temporalio_protos::temporal::api::schedule::v1::{
    schedule_action, ScheduleListEntry, ScheduleListInfo,
};
use temporalio_protos::temporal::api::workflowservice::v1::DescribeScheduleResponse;

use super::*;

impl ScheduleState {
    /// The next `n` action times after the cursor (Temporal's getFutureActionTimes).
    pub fn future_action_times(&self, n: usize) -> Vec<Timestamp> {
        let Some(spec) = self.spec() else {
            return Vec::new();
        };
        let st = self
            .schedule
            .as_ref()
            .and_then(|s| s.state.clone())
            .unwrap_or_default();
        let n = if st.limited_actions {
            n.min(usize::try_from(st.remaining_actions.max(0)).unwrap_or(0))
        } else {
            n
        };
        let update_time = self
            .info
            .as_ref()
            .and_then(|i| time_of(&i.update_time))
            .unwrap_or(0);
        let seed = self.jitter_seed();
        let mut out = Vec::new();
        let mut t = Time(self.cursor);
        let mut steps = 0;
        while out.len() < n && steps < MAX_STEPS {
            steps += 1;
            let Some(slot) = spec.next(t, &seed) else {
                break;
            };
            t = slot.nominal;
            if update_time > slot.nominal.0 {
                continue;
            }
            out.push(slot.actual.to_timestamp());
        }
        out
    }

    /// DescribeSchedule's answer.
    pub fn describe(&self) -> DescribeScheduleResponse {
        let mut info = self.info.clone().unwrap_or_default();
        info.future_action_times = self.future_action_times(FUTURE_ACTIONS);
        info.buffer_size = self.buffered.len() as i64;
        let mut schedule = self.schedule.clone().unwrap_or_default();
        if let (Some(spec), Some(compiled)) = (schedule.spec.as_ref(), self.spec()) {
            schedule.spec = Some(compiled.canonical(spec));
        }
        DescribeScheduleResponse {
            schedule: Some(schedule),
            info: Some(info),
            memo: self.memo.clone(),
            search_attributes: self.search_attributes.clone(),
            conflict_token: self.conflict_token.to_be_bytes().to_vec(),
        }
    }

    /// ListSchedules' entry.
    pub fn list_entry(&self) -> ScheduleListEntry {
        let schedule = self.schedule.clone().unwrap_or_default();
        let mut spec = schedule.spec.clone().unwrap_or_default();
        if let Some(compiled) = self.spec() {
            spec = compiled.canonical(&spec);
        }
        spec.timezone_data.clear();
        let st = schedule.state.clone().unwrap_or_default();
        let recent = self
            .info
            .as_ref()
            .map(|i| {
                let skip = i
                    .recent_actions
                    .len()
                    .saturating_sub(RECENT_ACTIONS_FOR_LIST);
                i.recent_actions[skip..].to_vec()
            })
            .unwrap_or_default();
        let workflow_type = match schedule.action.and_then(|a| a.action) {
            Some(schedule_action::Action::StartWorkflow(w)) => w.workflow_type,
            _ => None,
        };
        ScheduleListEntry {
            schedule_id: self.schedule_id.clone(),
            memo: Some(self.memo.clone().unwrap_or_default()),
            search_attributes: self.search_attributes.clone(),
            info: Some(ScheduleListInfo {
                spec: Some(spec),
                workflow_type,
                notes: st.notes,
                paused: st.paused,
                recent_actions: recent,
                future_action_times: self.future_action_times(FUTURE_ACTIONS_FOR_LIST),
                ..Default::default()
            }),
        }
    }

    /// ListScheduleMatchingTimes: every action time in (start, end], at most 1000.
    pub fn matching_times(&self, start: Time, end: Time) -> Vec<Timestamp> {
        let Some(spec) = self.spec() else {
            return Vec::new();
        };
        let seed = self.jitter_seed();
        let mut out = Vec::new();
        let mut t = start;
        while out.len() < MAX_MATCHING_TIMES {
            let Some(slot) = spec.next(t, &seed) else {
                break;
            };
            if slot.actual > end {
                break;
            }
            t = slot.nominal;
            out.push(slot.actual.to_timestamp());
        }
        out
    }
}
