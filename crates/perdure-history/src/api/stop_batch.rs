//! StopBatchOperation: the job is closed as FAILED (Temporal terminates its batch workflow);
//! once this write is applied, the driver carries out nothing more.

use crate::batches::BatchStep;
use crate::errors::{BatchRefusal, HistoryError};
use crate::HistoryService;

impl HistoryService {
    pub async fn stop_batch(
        &self,
        namespace_id: &str,
        job_id: &str,
        reason: &str,
    ) -> Result<(), HistoryError> {
        let shard = self.batch_shard(namespace_id, job_id).clone();
        shard
            .update_batch(namespace_id, job_id, |existing, now| {
                let Some(job) = existing else {
                    return Err(BatchRefusal::NotFound(job_id.to_string()).into());
                };
                let mut job = job.clone();
                job.stop(now, reason)
                    .map_err(|_| HistoryError::from(BatchRefusal::Closed))?;
                Ok(BatchStep(Box::new(job), ()))
            })
            .await
    }
}
