//! DescribeBatchOperation: the job as stored, behind a read barrier.

use perdure_batch::BatchJob;

use crate::errors::{BatchRefusal, HistoryError};
use crate::HistoryService;

impl HistoryService {
    /// The stored job (NotFound in Temporal's words when there is none).
    pub async fn describe_batch(
        &self,
        namespace_id: &str,
        job_id: &str,
    ) -> Result<BatchJob, HistoryError> {
        self.batch_shard(namespace_id, job_id)
            .read_batch(namespace_id, job_id)
            .await?
            .ok_or_else(|| BatchRefusal::NotFound(job_id.to_string()).into())
    }
}
