//! PauseActivity and UnpauseActivity on the shard leader; see `perdure_core::pause_activity`.
//! Both answer only once the change is committed and applied.

use perdure_core::{ActivitySelector, PauseRequest, UnpauseRequest};
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;

use crate::errors::HistoryError;
use crate::HistoryService;

impl HistoryService {
    pub async fn pause_activity(
        &self,
        namespace_id: &str,
        execution: &WorkflowExecution,
        selector: &ActivitySelector,
        request: &PauseRequest,
    ) -> Result<(), HistoryError> {
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, &execution.run_id)
            .await?;
        self.shard_for(namespace_id, &execution.workflow_id)
            .mutate(&key, |next, now| {
                Ok((next.pause_activity(selector, request, now)?, ()))
            })
            .await
    }

    pub async fn unpause_activity(
        &self,
        namespace_id: &str,
        execution: &WorkflowExecution,
        selector: &ActivitySelector,
        request: &UnpauseRequest,
    ) -> Result<(), HistoryError> {
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, &execution.run_id)
            .await?;
        self.shard_for(namespace_id, &execution.workflow_id)
            .mutate(&key, |next, now| {
                Ok((next.unpause_activity(selector, request, now)?, ()))
            })
            .await
    }
}
