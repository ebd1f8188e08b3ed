//! ListBatchOperations: every shard's leader lists the namespace's jobs it holds
//! (`shard_records.rs`); they are merged in List's default
//! order (running first, then by close time, newest first; then start time, newest first; then
//! job id) and cut at the page size. The page token is the last job's position in that order,
//! so a page does not depend on what was written since the previous one.

use perdure_batch::BatchJob;
use temporalio_protos::temporal::api::workflowservice::v1::{
    ListBatchOperationsRequest, ListBatchOperationsResponse,
};
use tonic::Status;

use crate::errors;
use crate::rpc::start_batch_operation::namespace_set;
use crate::server::Frontend;

/// Temporal's frontend.visibilityMaxPageSize: the page size when none (or a larger one) is asked.
const MAX_PAGE_SIZE: usize = 1000;

/// A job's position in the list order; sorting these ascending gives the order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Position {
    /// 0 for running jobs (first), 1 for closed ones.
    closed: u8,
    /// Negated times: newest first.
    close: i64,
    start: i64,
    job_id: String,
}

impl Position {
    fn of(j: &BatchJob) -> Self {
        Position {
            closed: u8::from(!j.is_running()),
            close: -j.close_time,
            start: -j.start_time,
            job_id: j.job_id().to_string(),
        }
    }

    fn token(&self) -> Vec<u8> {
        format!(
            "{}:{}:{}:{}",
            self.closed, self.close, self.start, self.job_id
        )
        .into_bytes()
    }

    fn from_token(t: &[u8]) -> Option<Self> {
        let s = std::str::from_utf8(t).ok()?;
        let mut parts = s.splitn(4, ':');
        Some(Position {
            closed: parts.next()?.parse().ok()?,
            close: parts.next()?.parse().ok()?,
            start: parts.next()?.parse().ok()?,
            job_id: parts.next()?.to_string(),
        })
    }
}

impl Frontend {
    pub(crate) async fn list_batch_operations(
        &self,
        req: ListBatchOperationsRequest,
    ) -> Result<ListBatchOperationsResponse, Status> {
        namespace_set(&req.namespace)?;
        let ns = self.namespaces.get(&req.namespace)?;
        let page = match usize::try_from(req.page_size) {
            Ok(n) if n > 0 && n <= MAX_PAGE_SIZE => n,
            _ => MAX_PAGE_SIZE,
        };
        let after = if req.next_page_token.is_empty() {
            None
        } else {
            Some(
                Position::from_token(&req.next_page_token)
                    .ok_or_else(|| errors::invalid("Invalid NextPageToken."))?,
            )
        };
        let mut jobs: Vec<(Position, BatchJob)> = self
            .batch_jobs(ns.id())
            .await?
            .into_iter()
            .map(|j| (Position::of(&j), j))
            .filter(|(p, _)| after.as_ref().is_none_or(|a| p > a))
            .collect();
        jobs.sort_by(|a, b| a.0.cmp(&b.0));
        // As Temporal's List: a full page carries a token even when nothing follows.
        let next_page_token = if jobs.len() >= page {
            jobs.truncate(page);
            jobs.last().map(|(p, _)| p.token()).unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(ListBatchOperationsResponse {
            operation_info: jobs.iter().map(|(_, j)| j.info()).collect(),
            next_page_token,
        })
    }

    /// Every batch job of a namespace, from every shard's leader.
    pub(crate) async fn batch_jobs(&self, namespace_id: &str) -> Result<Vec<BatchJob>, Status> {
        self.every_shard::<BatchJob>(namespace_id).await
    }
}
