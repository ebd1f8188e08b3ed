//! Auto-reset points, as Temporal keeps them: the first workflow task each worker build
//! (binary checksum, build id) completed in a run, where a reset could restart the workflow.
//! Perdure has no reset yet; the points are kept because a successor run's
//! WorkflowExecutionStarted carries them (`prev_auto_reset_points`) and SDKs and UIs show them.

use temporalio_protos::temporal::api::workflow::v1::{ResetPointInfo, ResetPoints};

use crate::state::MutableState;
use crate::time::Time;

/// Points kept per run at most (Temporal's history.maxAutoResetPoints); the oldest go first.
pub const MAX_AUTO_RESET_POINTS: usize = 20;

impl MutableState {
    /// Records the completion event `event_id` as a reset point unless this build already has
    /// one (Temporal's addResetPointFromCompletion; it still keys points by the deprecated
    /// binary checksum too). True when a point was added.
    #[allow(deprecated)]
    pub(crate) fn add_reset_point(
        &mut self,
        binary_checksum: &str,
        build_id: &str,
        event_id: i64,
        now: Time,
    ) -> bool {
        let points = &mut self
            .auto_reset_points
            .get_or_insert_with(ResetPoints::default)
            .points;
        if points
            .iter()
            .any(|p| p.binary_checksum == binary_checksum && p.build_id == build_id)
        {
            return false;
        }
        points.push(ResetPointInfo {
            binary_checksum: binary_checksum.to_string(),
            build_id: build_id.to_string(),
            run_id: self.run_id.clone(),
            first_workflow_task_completed_id: event_id,
            create_time: now.to_timestamp_opt(),
            // Temporal refuses a reset to a point with pending children or external requests;
            // runs here have none of those yet.
            resettable: true,
            ..Default::default()
        });
        if points.len() > MAX_AUTO_RESET_POINTS {
            let excess = points.len() - MAX_AUTO_RESET_POINTS;
            points.drain(..excess);
        }
        true
    }

    /// The points a successor run starts with: this run's, each given an expiry (the new run's
    /// start plus the retention) if it has none yet (Temporal's
    /// rolloverAutoResetPointsWithExpiringTime).
    pub(crate) fn reset_points_for_successor(&self, now: Time) -> Option<ResetPoints> {
        let mut points = self.auto_reset_points.clone()?;
        let expire = now.add(self.retention()).to_timestamp_opt();
        for p in &mut points.points {
            if p.run_id == self.run_id && p.expire_time.is_none() {
                p.expire_time = expire;
            }
        }
        Some(points)
    }
}
