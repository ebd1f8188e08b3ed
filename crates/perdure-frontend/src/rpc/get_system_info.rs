//! GetSystemInfo: the SDKs read capabilities here and change behaviour on them, so every flag
//! is true only when the feature really works (Temporal's dev server sets them all).

use temporalio_protos::temporal::api::workflowservice::v1::{
    get_system_info_response::Capabilities, GetSystemInfoRequest, GetSystemInfoResponse,
};
use tonic::Status;

use crate::rpc::get_cluster_info::TEMPORAL_SERVER_VERSION;
use crate::server::Frontend;

impl Frontend {
    pub(crate) fn get_system_info(
        &self,
        _req: GetSystemInfoRequest,
    ) -> Result<GetSystemInfoResponse, Status> {
        Ok(GetSystemInfoResponse {
            server_version: TEMPORAL_SERVER_VERSION.to_string(),
            capabilities: Some(Capabilities {
                // WorkflowTaskCompleted copies the worker's sdk_metadata (replays depend on it).
                sdk_metadata: true,
                // Failures are stored exactly as sent, encoded attributes included.
                encoded_failure_attributes: true,
                // RespondActivityTaskFailed.last_heartbeat_details is kept with the attempt.
                activity_failure_include_heartbeat: true,
                // Signal and query headers reach the worker as sent (signals keep theirs in
                // history; a query's travels in its task).
                signal_and_query_header: true,
                // ModifyWorkflowProperties upserts the memo (history, describe and List).
                upsert_memo: true,
                // Count with `GROUP BY ExecutionStatus` answers one group per status.
                count_group_by_execution_status: true,
                // Create/Describe/Update/Patch/List/DeleteSchedule and matching times work.
                supports_schedules: true,
                // Left false, as Perdure does not do these: build-id versioning and
                // worker deployments (scaled or not), Nexus, eager workflow start (a start that
                // asks for it gets no task back and the task goes through matching). And
                // internal_error_differentiation: with it, clients stop retrying Internal,
                // which some transient states still answer (a node without a group yet).
                ..Default::default()
            }),
        })
    }
}
