//! One shard's part of ListBatchOperations (and of the running-jobs count StartBatchOperation
//! checks): every job of the namespace it holds, behind a read barrier.

use perdure_batch::BatchJob;
use perdure_storage::ShardId;

use crate::api::execution_not_found;
use crate::batches::scan_batches;
use crate::errors::HistoryError;
use crate::HistoryService;

impl HistoryService {
    pub async fn list_batches(
        &self,
        shard: ShardId,
        namespace_id: &str,
    ) -> Result<Vec<BatchJob>, HistoryError> {
        let shard = self
            .shard(shard)
            .ok_or_else(|| HistoryError::from(execution_not_found()))?;
        shard.read_barrier().await?;
        scan_batches(shard, namespace_id)
    }
}
