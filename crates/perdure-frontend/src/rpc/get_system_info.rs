//! GetSystemInfo: the SDKs read capabilities here and change behaviour on them, so every flag
//! is true only when the feature really works.

use temporalio_protos::temporal::api::workflowservice::v1::{
    get_system_info_response::Capabilities, GetSystemInfoRequest, GetSystemInfoResponse,
};
use tonic::Status;

use crate::server::Frontend;

impl Frontend {
    pub(crate) fn get_system_info(
        &self,
        _req: GetSystemInfoRequest,
    ) -> Result<GetSystemInfoResponse, Status> {
        Ok(GetSystemInfoResponse {
            server_version: env!("CARGO_PKG_VERSION").to_string(),
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
                ..Default::default()
            }),
        })
    }
}
