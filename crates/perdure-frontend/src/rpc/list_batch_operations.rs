//! ListBatchOperations: every shard's leader lists the namespace's jobs it holds (this node's
//! history, or `Internal.Visibility` with `batches` set); they are merged in List's default
//! order (running first, then by close time, newest first; then start time, newest first; then
//! job id) and cut at the page size. The page token is the last job's position in that order,
//! so a page does not depend on what was written since the previous one.

use perdure_api::internal::internal_client::InternalClient;
use perdure_api::internal::VisibilityRequest;
use perdure_batch::BatchJob;
use perdure_storage::GroupId;
use prost::Message;
use temporalio_protos::temporal::api::workflowservice::v1::{
    ListBatchOperationsRequest, ListBatchOperationsResponse,
};
use tonic::Status;

use crate::errors;
use crate::routing::Owner;
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
        let shards = self.history.shard_count();
        let calls = (1..=shards).map(|s| async move {
            let once = || self.batch_jobs_of(GroupId(s), namespace_id);
            match once().await {
                Err(s) if errors::is_not_leader(&s) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    once().await
                }
                other => other,
            }
        });
        Ok(futures::future::try_join_all(calls)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    async fn batch_jobs_of(
        &self,
        shard: GroupId,
        namespace_id: &str,
    ) -> Result<Vec<BatchJob>, Status> {
        match self.routing.await_owner(shard).await? {
            Owner::Local => self
                .history
                .list_batches(shard, namespace_id)
                .await
                .map_err(errors::history),
            Owner::Remote { addr, .. } => {
                let channel = self.routing.peers().channel(&addr)?;
                let mut req = self.routing.peers().request(VisibilityRequest {
                    shard: shard.0,
                    namespace_id: namespace_id.to_string(),
                    batches: true,
                    ..Default::default()
                });
                req.set_timeout(crate::visibility::SHARD_TIMEOUT);
                let reply = InternalClient::new(channel)
                    .max_decoding_message_size(usize::MAX)
                    .visibility(req)
                    .await?
                    .into_inner();
                reply
                    .batches
                    .iter()
                    .map(|b| BatchJob::decode(b.as_slice()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| Status::internal(format!("undecodable batch job: {e}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_running_first_then_newest_and_round_trip() {
        let running = Position {
            closed: 0,
            close: 0,
            start: -5,
            job_id: "a:b".into(),
        };
        let newer = Position {
            closed: 1,
            close: -20,
            start: -1,
            job_id: "x".into(),
        };
        let older = Position {
            closed: 1,
            close: -10,
            start: -1,
            job_id: "y".into(),
        };
        let mut v = vec![older.clone(), running.clone(), newer.clone()];
        v.sort();
        assert_eq!(v, vec![running.clone(), newer, older]);
        assert_eq!(Position::from_token(&running.token()), Some(running));
        assert_eq!(Position::from_token(b"nonsense"), None);
    }
}
