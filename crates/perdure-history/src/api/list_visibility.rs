//! One shard's part of ListWorkflowExecutions / ScanWorkflowExecutions: the first rows of a
//! namespace that match a query after a page token's key, in List's default order. The
//! frontend asks every shard (here or on its leader) and merges the pages.

use perdure_storage::ShardId;
use perdure_visibility::{DefaultOrderKey, Query, SearchAttributes};
use temporalio_protos::temporal::api::workflow::v1::WorkflowExecutionInfo;

use crate::errors::HistoryError;
use crate::{visibility, HistoryService};

impl HistoryService {
    /// Up to `limit` rows of `namespace_id` on `shard` matching `query` and ordered after
    /// `after`, behind a read barrier (a deposed leader answers NotLeader, never stale rows).
    pub async fn list_visibility(
        &self,
        shard: ShardId,
        namespace_id: &str,
        query: &Query,
        attrs: &SearchAttributes,
        after: Option<&DefaultOrderKey>,
        limit: usize,
    ) -> Result<Vec<WorkflowExecutionInfo>, HistoryError> {
        let shard = self
            .shard(shard)
            .ok_or(HistoryError::NotLeader { shard: shard.0 })?
            .clone();
        shard.read_barrier().await?;
        let (namespace_id, query, attrs, after) = (
            namespace_id.to_string(),
            query.clone(),
            attrs.clone(),
            after.cloned(),
        );
        // A scan reads every row of the namespace on this shard: off the async workers.
        tokio::task::spawn_blocking(move || {
            visibility::list_page(
                &shard.store,
                shard.id,
                &namespace_id,
                &query,
                &attrs,
                after.as_ref(),
                limit,
            )
        })
        .await
        .map_err(|_| HistoryError::from(perdure_raft::ProposeError::Shutdown))?
    }
}
