//! The driver's checkpoints: a change to a running job (its count, the page it took, the
//! targets done, its end) written through Raft on the job's shard. A job that is no longer
//! running (stopped) or has moved past the driver's view is refused, so a stale driver stops.

use perdure_batch::{BatchJob, JobError};
use perdure_core::Time;

use crate::batches::BatchStep;
use crate::errors::{BatchRefusal, HistoryError};
use crate::HistoryService;

impl HistoryService {
    /// Applies `change` to the running job and writes it; answers the job as written.
    pub async fn batch_progress(
        &self,
        namespace_id: &str,
        job_id: &str,
        change: impl Fn(&mut BatchJob, Time) -> Result<(), JobError>,
    ) -> Result<BatchJob, HistoryError> {
        let shard = self.batch_shard(namespace_id, job_id).clone();
        shard
            .update_batch(namespace_id, job_id, |existing, now| {
                let Some(job) = existing.filter(|j| j.is_running()) else {
                    return Err(BatchRefusal::Closed.into());
                };
                let mut job = job.clone();
                change(&mut job, now).map_err(|e| match e {
                    JobError::Closed => BatchRefusal::Closed,
                    JobError::Stale => BatchRefusal::Stale,
                })?;
                Ok(BatchStep(Box::new(job.clone()), job))
            })
            .await
    }
}
