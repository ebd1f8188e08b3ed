//! RecordActivityTaskHeartbeat(ById): a started attempt reports that it is alive, with progress
//! details. No history event is written; the details and the heartbeat time go into the
//! activity's mutable state through the ordinary write path, so they survive a leader change
//! and reach the next attempt. The heartbeat timer already armed for the attempt notices the
//! newer heartbeat when it fires and re-arms itself from it (see the core's `fire_timer`).
//!
//! This module must never answer before the heartbeat is applied: a worker that got an answer
//! may crash at once, and the retry must see these details.

use perdure_core::{CoreError, TaskToken};
use temporalio_protos::temporal::api::common::v1::Payloads;
use temporalio_protos::temporal::api::workflowservice::v1::RecordActivityTaskHeartbeatResponse;

use crate::errors::HistoryError;
use crate::HistoryService;

impl HistoryService {
    /// Records one heartbeat for the attempt `token` names. A token without a scheduled event
    /// id (built from ids by the frontend) names the pending activity with its activity id;
    /// a token without a run id names the workflow id's current run.
    pub async fn record_activity_heartbeat(
        &self,
        token: &TaskToken,
        details: Option<Payloads>,
    ) -> Result<RecordActivityTaskHeartbeatResponse, HistoryError> {
        let key = self
            .resolve_run(&token.namespace_id, &token.workflow_id, &token.run_id)
            .await?;
        let shard = self.shard_for(&key.namespace_id, &key.workflow_id);
        let (cancel_requested, activity_paused, activity_reset) = shard
            // Written even when only the details changed: they are what a retry resumes from.
            .mutate(&key, |next, now| {
                if token.scheduled_event_id <= 0
                    && next.is_running()
                    && next.activity_by_id(&token.activity_id).is_none()
                {
                    return Err(pending_activity_not_found(&token.activity_id).into());
                }
                let (m, cancel_requested) =
                    next.record_activity_heartbeat(token, details.clone(), now)?;
                let ai = next.activity_for_token(token);
                let paused = ai.is_some_and(|a| a.paused);
                let reset = ai.is_some_and(|a| a.activity_reset);
                Ok((m, (cancel_requested, paused, reset)))
            })
            .await?;
        Ok(RecordActivityTaskHeartbeatResponse {
            cancel_requested,
            activity_paused,
            activity_reset,
        })
    }

    /// Fills in the current run of a token that names none (the `...ById` RPCs), so that every
    /// later step addresses one fixed run, as Temporal does before touching the execution.
    pub async fn with_current_run(&self, mut token: TaskToken) -> Result<TaskToken, HistoryError> {
        if token.run_id.is_empty() {
            let key = self
                .resolve_run(&token.namespace_id, &token.workflow_id, "")
                .await?;
            token.run_id = key.run_id;
        }
        Ok(token)
    }
}

/// Temporal's wording when an activity id names no pending activity.
fn pending_activity_not_found(activity_id: &str) -> CoreError {
    CoreError::NotFound(format!(
        "cannot find pending activity with ActivityID {activity_id}, check workflow execution history for more details"
    ))
}
