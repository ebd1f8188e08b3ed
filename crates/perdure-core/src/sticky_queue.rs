//! ResetStickyTaskQueue: a worker evicted the run from its cache, so the next workflow task must
//! go to the normal queue with full history.
//!
//! It must not write an event: Temporal leaves history untouched here, and a history that
//! differs from Temporal's is a replay hazard for the SDKs.

use crate::errors::CoreError;
use crate::state::MutableState;

impl MutableState {
    /// Forgets the run's sticky queue, so its next workflow task goes to the normal queue with
    /// full history. Returns whether anything changed; a closed run is `WorkflowCompleted`.
    pub fn reset_sticky_task_queue(&mut self) -> Result<bool, CoreError> {
        if !self.is_running() {
            return Err(CoreError::WorkflowCompleted);
        }
        Ok(self.clear_sticky())
    }
}
