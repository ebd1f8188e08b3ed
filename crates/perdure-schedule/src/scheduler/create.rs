//! CreateSchedule's state: a new [`ScheduleState`] with Temporal's defaults filled in, and the
//! accessors the rest of the scheduler reads the stored schedule through.
//!
//! Never validates the request (the frontend did) nor takes any slot itself.

use perdure_core::Time;
use temporalio_protos::temporal::api::common::v1::{Memo, SearchAttributes};
use temporalio_protos::temporal::api::enums::v1::{ScheduleOverlapPolicy, TaskQueueKind};
use temporalio_protos::temporal::api::schedule::v1::{
    schedule_action, Schedule, ScheduleInfo, SchedulePatch, SchedulePolicies,
};

use super::*;
use crate::spec::CompiledSpec;

impl ScheduleState {
    /// A new schedule as CreateSchedule makes it (already validated), with its initial patch
    /// applied.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        namespace: &str,
        namespace_id: &str,
        schedule_id: &str,
        mut schedule: Schedule,
        initial_patch: Option<&SchedulePatch>,
        memo: Option<Memo>,
        search_attributes: Option<SearchAttributes>,
        request_id: &str,
        now: Time,
    ) -> Result<(ScheduleState, Vec<Action>), ScheduleError> {
        fill_defaults(&mut schedule);
        CompiledSpec::compile(schedule.spec.as_ref().unwrap_or(&Default::default()))?;
        let mut s = ScheduleState {
            namespace: namespace.into(),
            namespace_id: namespace_id.into(),
            schedule_id: schedule_id.into(),
            schedule: Some(schedule),
            memo,
            search_attributes,
            info: Some(ScheduleInfo {
                create_time: ts(now.0),
                ..Default::default()
            }),
            cursor: now.0,
            conflict_token: INITIAL_CONFLICT_TOKEN,
            request_id: request_id.into(),
            ..Default::default()
        };
        let mut actions = Vec::new();
        if let Some(p) = initial_patch {
            s.apply_patch(p, now);
        }
        s.process(now, &mut actions);
        Ok((s, actions))
    }

    pub(super) fn spec(&self) -> Option<CompiledSpec> {
        let spec = self.schedule.as_ref()?.spec.as_ref()?;
        CompiledSpec::compile(spec).ok()
    }

    pub(super) fn policies(&self) -> SchedulePolicies {
        self.schedule
            .as_ref()
            .and_then(|s| s.policies)
            .unwrap_or_default()
    }

    pub(super) fn info_mut(&mut self) -> &mut ScheduleInfo {
        self.info.get_or_insert_with(Default::default)
    }

    pub(super) fn sched_state_mut(
        &mut self,
    ) -> &mut temporalio_protos::temporal::api::schedule::v1::ScheduleState {
        self.schedule
            .get_or_insert_with(Default::default)
            .state
            .get_or_insert_with(Default::default)
    }

    pub fn paused(&self) -> bool {
        self.schedule
            .as_ref()
            .and_then(|s| s.state.as_ref())
            .is_some_and(|s| s.paused)
    }
}

/// What Temporal fills into a schedule it stores (as Describe shows it): the overlap policy
/// (SKIP) and catch-up window (a year) when unset, a normal task queue kind.
pub(super) fn fill_defaults(schedule: &mut Schedule) {
    schedule.spec.get_or_insert_with(Default::default);
    let p = schedule.policies.get_or_insert_with(Default::default);
    if p.overlap_policy == ScheduleOverlapPolicy::Unspecified as i32 {
        p.overlap_policy = ScheduleOverlapPolicy::Skip as i32;
    }
    if p.catchup_window.is_none() {
        p.catchup_window = Some(prost_wkt_types::Duration {
            seconds: DEFAULT_CATCHUP_WINDOW.as_secs() as i64,
            nanos: 0,
        });
    }
    schedule.state.get_or_insert_with(Default::default);
    if let Some(schedule_action::Action::StartWorkflow(w)) =
        schedule.action.as_mut().and_then(|a| a.action.as_mut())
    {
        if let Some(tq) = w.task_queue.as_mut() {
            if tq.kind == TaskQueueKind::Unspecified as i32 {
                tq.kind = TaskQueueKind::Normal as i32;
            }
        }
    }
}
