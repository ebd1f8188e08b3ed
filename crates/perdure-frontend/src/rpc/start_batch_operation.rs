//! StartBatchOperation: Temporal's checks in its order (the namespace, the activity-operation
//! gate and ValidateBatchOperation in `perdure_batch::validate_start`, the query's syntax, the
//! namespace's running-job limit), then history writes the job on its shard; that shard's
//! leader drives it (`crate::batch`). Served by the job's shard leader (forwarded there).

use perdure_batch::{BatchJob, Refusal};
use temporalio_protos::temporal::api::enums::v1::{ResourceExhaustedCause, ResourceExhaustedScope};
use temporalio_protos::temporal::api::errordetails::v1::ResourceExhaustedFailure;
use temporalio_protos::temporal::api::workflowservice::v1::{
    StartBatchOperationRequest, StartBatchOperationResponse,
};
use tonic::{Code, Status};

use crate::errors;
use crate::server::Frontend;

/// How the query parser words a syntax error.
const MALFORMED: &str = "invalid query: malformed SQL query: ";

/// Temporal's limit on a workflow id, which a job id is.
const MAX_JOB_ID_BYTES: usize = 1000;

pub(crate) fn refusal(r: Refusal) -> Status {
    match r {
        Refusal::InvalidArgument(m) => errors::invalid(m),
        Refusal::Unimplemented(m) => Status::unimplemented(m),
    }
}

/// The namespace check Temporal's interceptor makes before any batch RPC.
pub(crate) fn namespace_set(namespace: &str) -> Result<(), Status> {
    if namespace.is_empty() {
        return Err(errors::invalid("Namespace is empty."));
    }
    Ok(())
}

impl Frontend {
    pub(crate) async fn start_batch_operation(
        &self,
        req: StartBatchOperationRequest,
    ) -> Result<StartBatchOperationResponse, Status> {
        namespace_set(&req.namespace)?;
        let ns = self.namespaces.get(&req.namespace)?;
        perdure_batch::validate_start(&req).map_err(refusal)?;
        if req.job_id.len() > MAX_JOB_ID_BYTES {
            return Err(errors::invalid(format!(
                "WorkflowId exceeds maximum allowed length ({}/{MAX_JOB_ID_BYTES})",
                req.job_id.len()
            )));
        }
        if !req.visibility_query.is_empty() {
            // Temporal checks only the syntax here; a query naming an unknown attribute starts
            // a job that fails when it counts its targets.
            let attrs = self.namespaces.search_attributes(ns.id())?;
            if let Err(e) = crate::visibility::parse_query(&req.visibility_query, &attrs) {
                if let Some(syntax) = e.message().strip_prefix(MALFORMED) {
                    return Err(errors::invalid(format!(
                        "invalid visibility query: {syntax}"
                    )));
                }
            }
        }
        let limit = self.history.config().max_concurrent_batch_operations as usize;
        let running = self
            .batch_jobs(ns.id())
            .await?
            .iter()
            .filter(|j| j.is_running())
            .count();
        if running >= limit {
            return Err(errors::with_detail(
                Code::ResourceExhausted,
                "Max concurrent batch operations is reached",
                ResourceExhaustedFailure {
                    cause: ResourceExhaustedCause::ConcurrentLimit as i32,
                    scope: ResourceExhaustedScope::Namespace as i32,
                },
            ));
        }
        let run_id = uuid::Uuid::new_v4().to_string();
        let ns_id = ns.id().to_string();
        self.history
            .start_batch(ns.id(), &req.job_id, |now| {
                BatchJob::new(&ns_id, &run_id, req.clone(), now)
            })
            .await
            .map_err(errors::history)?;
        self.batch_kick.notify_one();
        Ok(StartBatchOperationResponse {})
    }
}
