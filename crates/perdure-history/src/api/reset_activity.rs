//! ResetActivity on the shard leader; see `perdure_core::reset_activity`. Answers only once the
//! change is committed and applied.

use perdure_core::{ActivitySelector, ResetActivityRequest};
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;

use crate::errors::HistoryError;
use crate::HistoryService;

impl HistoryService {
    pub async fn reset_activity(
        &self,
        namespace_id: &str,
        execution: &WorkflowExecution,
        selector: &ActivitySelector,
        request: &ResetActivityRequest,
    ) -> Result<(), HistoryError> {
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, &execution.run_id)
            .await?;
        self.shard_for(namespace_id, &execution.workflow_id)
            .mutate(&key, |next, now| {
                Ok((next.reset_activity(selector, request, now)?, ()))
            })
            .await
    }
}
