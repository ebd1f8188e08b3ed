//! UpdateActivityOptions on the shard leader; see `perdure_core::update_activity_options`.
//! Answers with the activity's new options once the change is committed and applied.

use perdure_core::{ActivitySelector, UpdateOptionsRequest};
use temporalio_protos::temporal::api::activity::v1::ActivityOptions;
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;

use crate::errors::HistoryError;
use crate::HistoryService;

impl HistoryService {
    pub async fn update_activity_options(
        &self,
        namespace_id: &str,
        execution: &WorkflowExecution,
        selector: &ActivitySelector,
        request: &UpdateOptionsRequest,
    ) -> Result<ActivityOptions, HistoryError> {
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, &execution.run_id)
            .await?;
        self.shard_for(namespace_id, &execution.workflow_id)
            .mutate(&key, |next, now| {
                Ok(next.update_activity_options(selector, request, now)?)
            })
            .await
    }
}
