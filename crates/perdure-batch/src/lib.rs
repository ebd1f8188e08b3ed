//! Temporal's batch operations (StartBatchOperation and friends) as pure logic: which requests
//! are accepted (`validate`), the job record with every change it goes through (`job`), and
//! how a reset job picks each target's reset point (`reset`).
//!
//! Temporal runs a batch job as a system workflow; Perdure keeps its semantics as one record
//! per job, driven by the leader of the job's shard. This crate never does I/O, never reads a
//! clock (time is an argument) and never decides how a target is reached.

pub mod job;
pub mod reset;
pub mod validate;

pub use job::{signal_request_id, BatchJob, JobError, Work};
pub use validate::{validate_start, Kind, Refusal};

/// The shard a job lives on is the one this id routes to, as a schedule's does with
/// `temporal-sys-scheduler:<id>`.
pub fn route_id(job_id: &str) -> String {
    format!("temporal-sys-batcher:{job_id}")
}

#[cfg(test)]
mod tests;
