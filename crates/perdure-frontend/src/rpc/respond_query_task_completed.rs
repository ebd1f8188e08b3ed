//! RespondQueryTaskCompleted: a worker's answer to a query it got outside a workflow task. The
//! call reaches the node owning the token's task queue, where the query's caller waits.

use temporalio_protos::temporal::api::enums::v1::QueryResultType;
use temporalio_protos::temporal::api::workflowservice::v1::{
    RespondQueryTaskCompletedRequest, RespondQueryTaskCompletedResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn respond_query_task_completed(
        &self,
        mut req: RespondQueryTaskCompletedRequest,
    ) -> Result<RespondQueryTaskCompletedResponse, Status> {
        let token = validate::task_token(&req.task_token)?;
        if !token.is_query() || token.query_id.is_empty() || token.task_queue.is_empty() {
            return Err(errors::invalid("Invalid TaskToken."));
        }
        if !validate::blob_fits(req.query_result.as_ref()) {
            // As Temporal: the caller gets a failed query instead of an oversized answer.
            req = RespondQueryTaskCompletedRequest {
                task_token: req.task_token,
                completed_type: QueryResultType::Failed as i32,
                error_message: perdure_core::limits::ERR_BLOB_SIZE_EXCEEDS_LIMIT.to_string(),
                ..Default::default()
            };
        }
        if !self.dispatcher.queries.answer(&token.query_id, req) {
            return Err(errors::not_found(
                "query task not found, or already expired",
            ));
        }
        Ok(RespondQueryTaskCompletedResponse::default())
    }
}
