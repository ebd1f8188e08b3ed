//! The write path of batch jobs: one record per job (column family `batches`, key
//! `keys::batch`) on the shard `perdure_batch::route_id(job id)` routes to, and a running
//! marker (`keys::batch_running`) for each job not yet closed, written and deleted in the same
//! batch as the record, so the shard's leader finds the jobs it must drive without reading
//! closed ones.
//!
//! A change loads the record under the job's lock, lets `perdure_batch::BatchJob` compute the
//! new record and proposes it with the record as read as precondition. This module never
//! decides what a job does (that is `perdure-batch`) and never carries out its operations
//! (that is the frontend's driver); it writes nothing but through Raft.

use std::sync::Arc;

use perdure_batch::BatchJob;
use perdure_core::Time;
use perdure_storage::{keys, ApplyOutcome, Cf, Check, Expect, Op, ShardId, WriteBatch};
use prost::Message;

use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::shard::{now, Shard};
use crate::HistoryService;

/// How often a write that lost a race is rebuilt from fresh state.
const CONFLICT_RETRIES: usize = 3;

/// The run id of the lock key a job's writes queue on (no run has it).
const BATCH_LOCK: &str = "batch";

/// What a batch operation decided: write this record, answer this.
pub(crate) struct BatchStep<R>(pub Box<BatchJob>, pub R);

/// The job record and its raw bytes (for the write's precondition).
fn load_batch(
    shard: &Shard,
    namespace_id: &str,
    job_id: &str,
) -> Result<Option<(BatchJob, Vec<u8>)>, HistoryError> {
    let key = keys::batch(shard.id, namespace_id, job_id);
    let Some(raw) = shard.store.get(Cf::Batches, &key)? else {
        return Ok(None);
    };
    let job = BatchJob::decode(raw.as_slice()).map_err(HistoryError::decode("batch job"))?;
    Ok(Some((job, raw)))
}

/// Every job of a namespace on this shard.
pub(crate) fn scan_batches(
    shard: &Shard,
    namespace_id: &str,
) -> Result<Vec<BatchJob>, HistoryError> {
    let rows = shard.store.scan_prefix(
        Cf::Batches,
        &keys::batch_prefix(shard.id, namespace_id),
        None,
        usize::MAX,
    )?;
    rows.into_iter()
        .map(|(_, v)| BatchJob::decode(v.as_slice()).map_err(HistoryError::decode("batch job")))
        .collect()
}

impl Shard {
    /// Read-modify-write of one job (see the module comment). `op` may run more than once.
    pub(crate) async fn update_batch<R>(
        self: &Arc<Self>,
        namespace_id: &str,
        job_id: &str,
        mut op: impl FnMut(Option<&BatchJob>, Time) -> Result<BatchStep<R>, HistoryError>,
    ) -> Result<R, HistoryError> {
        self.settle().await;
        self.ensure_leader()?;
        let route = perdure_batch::route_id(job_id);
        let _guard = self
            .cache
            .lock(&ExecKey::new(namespace_id, &route, BATCH_LOCK))
            .await;
        for _ in 0..CONFLICT_RETRIES {
            let loaded = load_batch(self, namespace_id, job_id)?;
            let BatchStep(job, reply) = op(loaded.as_ref().map(|(j, _)| j), now())?;
            let key = keys::batch(self.id, namespace_id, job_id);
            let marker = keys::batch_running(self.id, namespace_id, job_id);
            let mut batch = WriteBatch::default();
            batch.checks.push(Check {
                cf: Cf::Batches,
                key: key.clone(),
                expect: match &loaded {
                    Some((_, raw)) => Expect::Equals(raw.clone()),
                    None => Expect::Absent,
                },
            });
            batch.ops.push(Op::Put {
                cf: Cf::Batches,
                key,
                value: job.encode_to_vec(),
            });
            batch.ops.push(if job.is_running() {
                Op::Put {
                    cf: Cf::Batches,
                    key: marker,
                    value: Vec::new(),
                }
            } else {
                Op::Delete {
                    cf: Cf::Batches,
                    key: marker,
                }
            });
            match self.propose(batch).await? {
                ApplyOutcome::Applied => return Ok(reply),
                ApplyOutcome::Rejected { .. } => continue,
            }
        }
        Err(HistoryError::Conflict)
    }

    /// Reads a job behind a read barrier (None: no such job).
    pub(crate) async fn read_batch(
        &self,
        namespace_id: &str,
        job_id: &str,
    ) -> Result<Option<BatchJob>, HistoryError> {
        self.read_barrier().await?;
        Ok(load_batch(self, namespace_id, job_id)?.map(|(j, _)| j))
    }
}

/// Most closed jobs one pruning round deletes from a shard (one write).
const PRUNE_LIMIT: usize = 500;

impl HistoryService {
    /// Deletes the closed jobs of a shard this node leads once their namespace's retention
    /// (`retention(namespace id)`; None: keep) has passed since they closed, as Temporal's
    /// closed batch workflows go with retention. At most [`PRUNE_LIMIT`] a round; answers how
    /// many. Each deletion is checked against the record as read, so a race loses nothing.
    pub async fn prune_batches(
        &self,
        shard: ShardId,
        retention: impl Fn(&str) -> Option<std::time::Duration>,
    ) -> Result<usize, HistoryError> {
        let Some(shard) = self.shard(shard) else {
            return Ok(0);
        };
        if shard.ensure_leader().is_err() {
            return Ok(0);
        }
        let at = now();
        let rows = shard.store.scan_prefix(
            Cf::Batches,
            &keys::batch_jobs_prefix(shard.id),
            None,
            usize::MAX,
        )?;
        let mut batch = WriteBatch::default();
        for (key, raw) in rows {
            if batch.ops.len() >= PRUNE_LIMIT {
                break;
            }
            let job =
                BatchJob::decode(raw.as_slice()).map_err(HistoryError::decode("batch job"))?;
            let Some(keep) = retention(&job.namespace_id) else {
                continue;
            };
            if job.is_running() || Time(job.close_time).add(keep) > at {
                continue;
            }
            batch.checks.push(Check {
                cf: Cf::Batches,
                key: key.clone(),
                expect: Expect::Equals(raw),
            });
            batch.ops.push(Op::Delete {
                cf: Cf::Batches,
                key,
            });
        }
        let n = batch.ops.len();
        if n == 0 {
            return Ok(0);
        }
        match shard.propose(batch).await? {
            ApplyOutcome::Applied => Ok(n),
            ApplyOutcome::Rejected { .. } => Ok(0),
        }
    }

    /// The shard a job lives on.
    pub(crate) fn batch_shard(&self, namespace_id: &str, job_id: &str) -> &Arc<Shard> {
        self.shard_for(namespace_id, &perdure_batch::route_id(job_id))
    }

    /// The running jobs of a shard this node leads (namespace id, job id); empty when it does
    /// not lead it. Read from the local replica: the leader has applied every committed write.
    pub fn running_batches(&self, shard: ShardId) -> Result<Vec<(String, String)>, HistoryError> {
        let Some(shard) = self.shard(shard) else {
            return Ok(Vec::new());
        };
        if shard.ensure_leader().is_err() {
            return Ok(Vec::new());
        }
        let rows = shard.store.scan_prefix(
            Cf::Batches,
            &keys::batch_running_prefix(shard.id),
            None,
            usize::MAX,
        )?;
        Ok(rows
            .iter()
            .filter_map(|(k, _)| keys::decode_batch_running(k))
            .collect())
    }

    /// The job as this node's replica has it, without a read barrier, while this node leads
    /// its shard (None otherwise): the driver's check, before each operation, that it still
    /// drives the job and no stop has been applied since it last looked.
    pub fn local_batch(
        &self,
        namespace_id: &str,
        job_id: &str,
    ) -> Result<Option<BatchJob>, HistoryError> {
        let shard = self.batch_shard(namespace_id, job_id);
        if shard.ensure_leader().is_err() {
            return Ok(None);
        }
        Ok(load_batch(shard, namespace_id, job_id)?.map(|(j, _)| j))
    }
}
