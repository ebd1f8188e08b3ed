//! One shard's part of CountWorkflowExecutions: how many rows of a namespace match a query,
//! and how many per GROUP BY value. The frontend sums the shards' answers.

use perdure_storage::ShardId;
use perdure_visibility::{Query, SearchAttributes};

use crate::errors::HistoryError;
use crate::visibility::{self, VisibilityCount};
use crate::HistoryService;

impl HistoryService {
    /// The count of `namespace_id`'s rows on `shard` matching `query`, behind a read barrier.
    pub async fn count_visibility(
        &self,
        shard: ShardId,
        namespace_id: &str,
        query: &Query,
        attrs: &SearchAttributes,
    ) -> Result<VisibilityCount, HistoryError> {
        let shard = self
            .shard(shard)
            .ok_or(HistoryError::NotLeader { shard: shard.0 })?
            .clone();
        shard.read_barrier().await?;
        let (namespace_id, query, attrs) = (namespace_id.to_string(), query.clone(), attrs.clone());
        tokio::task::spawn_blocking(move || {
            visibility::count(&shard.store, shard.id, &namespace_id, &query, &attrs)
        })
        .await
        .map_err(|_| HistoryError::from(perdure_raft::ProposeError::Shutdown))?
    }
}
