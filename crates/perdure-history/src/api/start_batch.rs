//! StartBatchOperation's write: the new job record on the job's shard. A job id already used
//! (running or closed) is refused as Temporal's batch workflow start refuses it
//! (conflict policy FAIL, reuse policy REJECT_DUPLICATE).

use perdure_batch::BatchJob;
use perdure_core::Time;

use crate::batches::BatchStep;
use crate::errors::{BatchRefusal, HistoryError};
use crate::HistoryService;

impl HistoryService {
    /// Writes `make(now)` as a new job unless its id is taken.
    pub async fn start_batch(
        &self,
        namespace_id: &str,
        job_id: &str,
        make: impl Fn(Time) -> BatchJob,
    ) -> Result<(), HistoryError> {
        let shard = self.batch_shard(namespace_id, job_id).clone();
        shard
            .update_batch(namespace_id, job_id, |existing, now| match existing {
                Some(j) if j.is_running() => Err(BatchRefusal::Running {
                    job_id: job_id.to_string(),
                    run_id: j.run_id.clone(),
                }
                .into()),
                Some(j) => Err(BatchRefusal::Finished {
                    job_id: job_id.to_string(),
                    run_id: j.run_id.clone(),
                }
                .into()),
                None => Ok(BatchStep(Box::new(make(now)), ())),
            })
            .await
    }
}
