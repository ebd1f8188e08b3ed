//! The persisted batch job ([`BatchJob`], one record per job) and every change a job goes
//! through: created, counted, a page of targets taken, progress recorded, completed, stopped,
//! failed. Each change takes `now` as an argument; the record alone says what the job does
//! next ([`BatchJob::next_work`]), so a new leader resumes a job from its last checkpoint.
//!
//! Owns the prost layout (tags are on disk: never renumber) and the transitions. Never does
//! I/O: listing, counting and carrying out operations are the driver's (perdure-frontend).

use perdure_core::Time;
use prost::Message;
use temporalio_protos::temporal::api::batch::v1::BatchOperationInfo;
use temporalio_protos::temporal::api::common::v1::{Execution, WorkflowExecution};
use temporalio_protos::temporal::api::enums::v1::{
    BatchOperationState, BatchOperationType, ExecutionType,
};
use temporalio_protos::temporal::api::workflowservice::v1::start_batch_operation_request::Operation;
use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeBatchOperationResponse, StartBatchOperationRequest,
};

use crate::validate::{identity_of, Kind};

/// How Temporal's batcher narrows the query of a terminate, cancel or signal job
/// (`adjustQueryBatchTypeEnum`): only open runs are targets. Delete and reset take the query
/// as given.
const RUNNING_FILTER: &str = "ExecutionStatus='Running' OR ExecutionStatus='Paused'";

/// One batch job.
#[derive(Clone, PartialEq, Message)]
pub struct BatchJob {
    #[prost(string, tag = "1")]
    pub namespace_id: String,
    /// The request as accepted (namespace name, job id, reason, query or executions, operation).
    #[prost(message, optional, tag = "2")]
    pub request: Option<StartBatchOperationRequest>,
    /// Named in "already finished" answers, as the batch workflow's run id is in Temporal's.
    #[prost(string, tag = "3")]
    pub run_id: String,
    #[prost(enumeration = "BatchOperationState", tag = "4")]
    pub state: i32,
    #[prost(int64, tag = "5")]
    pub start_time: i64,
    #[prost(int64, tag = "6")]
    pub close_time: i64,
    /// The targets' count: the query's count when the job began (Temporal's TotalEstimate), or
    /// the number of executions named.
    #[prost(int64, tag = "7")]
    pub total: i64,
    #[prost(int64, tag = "8")]
    pub complete: i64,
    #[prost(int64, tag = "9")]
    pub failure: i64,
    /// `total` was set (a query job counts before its first page).
    #[prost(bool, tag = "10")]
    pub counted: bool,
    /// The page being carried out, and how many of it are done.
    #[prost(message, repeated, tag = "11")]
    pub page: Vec<WorkflowExecution>,
    #[prost(uint32, tag = "12")]
    pub page_done: u32,
    /// The list token after `page` (empty with `listed_all`: nothing after it).
    #[prost(bytes = "vec", tag = "13")]
    pub next_page_token: Vec<u8>,
    #[prost(bool, tag = "14")]
    pub listed_all: bool,
    /// At least one page was taken (before it, an empty token means "from the start").
    #[prost(bool, tag = "15")]
    pub listing_started: bool,
    /// Why a failed job failed (a stop's reason, or the error that ended it).
    #[prost(string, tag = "16")]
    pub failure_reason: String,
}

/// What the job's driver does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Work {
    /// Count the query's targets (`set_total`).
    Count { query: String },
    /// List the page after `token` (`take_page`).
    List { query: String, token: Vec<u8> },
    /// Carry out the operation on these targets, in order (`record`).
    Apply(Vec<WorkflowExecution>),
    /// Every target is done (`complete`).
    Finish,
    /// The job is closed: nothing to do.
    Closed,
}

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Stop of a closed job (Temporal terminating a closed batch workflow).
    #[error("workflow execution already completed")]
    Closed,
    /// A progress report for a page position the record has moved past (a stale driver).
    #[error("batch job progress moved on")]
    Stale,
}

impl BatchJob {
    /// A new running job. `request` was validated (`validate_start`); explicit executions
    /// become the first and only page.
    pub fn new(
        namespace_id: &str,
        run_id: &str,
        request: StartBatchOperationRequest,
        now: Time,
    ) -> Self {
        let mut job = BatchJob {
            namespace_id: namespace_id.to_string(),
            run_id: run_id.to_string(),
            state: BatchOperationState::Running as i32,
            start_time: now.unix_nanos(),
            ..Default::default()
        };
        let named = explicit_executions(&request);
        if request.visibility_query.is_empty() {
            job.total = named.len() as i64;
            job.counted = true;
            job.page = named;
            job.listed_all = true;
            job.listing_started = true;
        }
        job.request = Some(request);
        job
    }

    pub fn request(&self) -> &StartBatchOperationRequest {
        static EMPTY: std::sync::OnceLock<StartBatchOperationRequest> = std::sync::OnceLock::new();
        self.request
            .as_ref()
            .unwrap_or_else(|| EMPTY.get_or_init(Default::default))
    }

    pub fn job_id(&self) -> &str {
        &self.request().job_id
    }

    pub fn is_running(&self) -> bool {
        self.state == BatchOperationState::Running as i32
    }

    pub fn kind(&self) -> Option<Kind> {
        match self.request().operation.as_ref()? {
            Operation::TerminationOperation(_) => Some(Kind::Terminate),
            Operation::CancellationOperation(_) => Some(Kind::Cancel),
            Operation::SignalOperation(_) => Some(Kind::Signal),
            Operation::DeletionOperation(_) => Some(Kind::Delete),
            Operation::ResetOperation(_) => Some(Kind::Reset),
            _ => None,
        }
    }

    /// The query the job lists with: the request's, narrowed to open runs except for delete
    /// and reset (a closed run can be reset; the batcher adds no filter for either).
    pub fn effective_query(&self) -> String {
        let q = &self.request().visibility_query;
        if q.is_empty() || matches!(self.kind(), Some(Kind::Delete | Kind::Reset)) {
            q.clone()
        } else {
            format!("({q}) AND ({RUNNING_FILTER})")
        }
    }

    pub fn next_work(&self) -> Work {
        if !self.is_running() {
            return Work::Closed;
        }
        if !self.counted {
            return Work::Count {
                query: self.effective_query(),
            };
        }
        let done = self.page_done as usize;
        if done < self.page.len() {
            return Work::Apply(self.page[done..].to_vec());
        }
        if self.listing_started && self.listed_all {
            return Work::Finish;
        }
        Work::List {
            query: self.effective_query(),
            token: self.next_page_token.clone(),
        }
    }

    pub fn set_total(&mut self, count: i64) {
        self.total = count.max(0);
        self.counted = true;
    }

    /// The listed page and the token after it (empty: it was the last).
    pub fn take_page(&mut self, executions: Vec<WorkflowExecution>, next_token: Vec<u8>) {
        self.page = executions;
        self.page_done = 0;
        self.listed_all = next_token.is_empty();
        self.next_page_token = next_token;
        self.listing_started = true;
    }

    /// `succeeded` + `failed` more targets of the page are done, counted from position `from`
    /// (the driver's view; a report from an older position is stale and changes nothing).
    pub fn record(&mut self, from: u32, succeeded: u32, failed: u32) -> Result<(), JobError> {
        let n = succeeded + failed;
        if from != self.page_done || (self.page_done + n) as usize > self.page.len() {
            return Err(JobError::Stale);
        }
        self.page_done += n;
        self.complete += i64::from(succeeded);
        self.failure += i64::from(failed);
        if self.page_done as usize == self.page.len() {
            // A finished page is not kept: the record stays small.
            self.page.clear();
            self.page_done = 0;
        }
        Ok(())
    }

    /// Every target is done. As in Temporal, a completed job's total is what was carried out.
    pub fn complete(&mut self, now: Time) {
        self.state = BatchOperationState::Completed as i32;
        self.close_time = now.unix_nanos();
        self.total = self.complete + self.failure;
    }

    /// The job could not go on (its query is refused, say): FAILED, as the batch workflow's
    /// failure is.
    pub fn fail(&mut self, now: Time, why: &str) {
        self.state = BatchOperationState::Failed as i32;
        self.close_time = now.unix_nanos();
        self.failure_reason = why.to_string();
        self.page.clear();
    }

    /// StopBatchOperation: Temporal terminates the batch workflow, which Describe shows as
    /// FAILED. Nothing more is carried out once this is written.
    pub fn stop(&mut self, now: Time, reason: &str) -> Result<(), JobError> {
        if !self.is_running() {
            return Err(JobError::Closed);
        }
        self.fail(now, reason);
        Ok(())
    }

    pub fn operation_type(&self) -> BatchOperationType {
        match self.kind() {
            Some(Kind::Terminate) => BatchOperationType::TerminateWorkflow,
            Some(Kind::Cancel) => BatchOperationType::CancelWorkflow,
            Some(Kind::Signal) => BatchOperationType::SignalWorkflow,
            Some(Kind::Delete) => BatchOperationType::DeleteWorkflow,
            Some(Kind::Reset) => BatchOperationType::ResetWorkflow,
            None => BatchOperationType::Unspecified,
        }
    }

    pub fn identity(&self) -> &str {
        self.request().operation.as_ref().map_or("", identity_of)
    }

    pub fn describe(&self) -> DescribeBatchOperationResponse {
        let req = self.request();
        let executions = if req.target_executions.is_empty() {
            #[allow(deprecated)]
            req.executions
                .iter()
                .map(|e| Execution {
                    r#type: ExecutionType::Workflow as i32,
                    business_id: e.workflow_id.clone(),
                    run_id: e.run_id.clone(),
                })
                .collect()
        } else {
            req.target_executions.clone()
        };
        // Temporal reads an unfinished job's counts from its activity's last heartbeat (still
        // there once the batch workflow is stopped) and a completed one's from its memo.
        let counts = (self.total, self.complete, self.failure);
        DescribeBatchOperationResponse {
            operation_type: self.operation_type() as i32,
            job_id: req.job_id.clone(),
            state: self.state,
            start_time: Time(self.start_time).to_timestamp_opt(),
            close_time: Time(self.close_time).to_timestamp_opt(),
            total_operation_count: counts.0,
            complete_operation_count: counts.1,
            failure_operation_count: counts.2,
            identity: self.identity().to_string(),
            reason: req.reason.clone(),
            query: req.visibility_query.clone(),
            executions,
        }
    }

    /// The job as ListBatchOperations shows it: times in whole microseconds, as the
    /// visibility store Temporal lists batch workflows from keeps them.
    pub fn info(&self) -> BatchOperationInfo {
        let micros = |t: i64| Time(t - t.rem_euclid(1000)).to_timestamp_opt();
        BatchOperationInfo {
            job_id: self.job_id().to_string(),
            state: self.state,
            start_time: micros(self.start_time),
            close_time: micros(self.close_time),
            operation_type: self.operation_type() as i32,
        }
    }
}

/// The executions a request names (target_executions, else the deprecated executions).
fn explicit_executions(req: &StartBatchOperationRequest) -> Vec<WorkflowExecution> {
    if !req.target_executions.is_empty() {
        return req
            .target_executions
            .iter()
            .map(|e| WorkflowExecution {
                workflow_id: e.business_id.clone(),
                run_id: e.run_id.clone(),
            })
            .collect();
    }
    #[allow(deprecated)]
    req.executions.clone()
}

/// Temporal's batcher `deterministicRequestID`: a SHA-1 uuid of the job id and the call's
/// parts joined by ':'.
fn deterministic_request_id(job_id: &str, parts: &[&str]) -> String {
    let mut key = job_id.to_string();
    for p in parts {
        key.push(':');
        key.push_str(p);
    }
    uuid::Uuid::new_v5(&uuid::Uuid::nil(), key.as_bytes()).to_string()
}

/// The signal's request id for one target, as Temporal's batcher derives it: a repeat after a
/// crash is dropped by the run's signal dedup.
pub fn signal_request_id(job_id: &str, target: &WorkflowExecution, signal: &str) -> String {
    deterministic_request_id(
        job_id,
        &["signal", &target.workflow_id, &target.run_id, signal],
    )
}

/// A request id for another operation on one target (`op`: "cancel"), derived the same way.
/// (Temporal's batcher cancels through the SDK with a random one; a derived one makes a repeat
/// after a crash the same request.)
pub fn derived_request_id(job_id: &str, op: &str, target: &WorkflowExecution) -> String {
    deterministic_request_id(job_id, &[op, &target.workflow_id, &target.run_id])
}

/// The reset's request id for one target, as Temporal's batcher derives it. History remembers
/// it on the base run with the run the reset made, so a repeat after a crash answers that run
/// instead of resetting again.
pub fn reset_request_id(job_id: &str, target: &WorkflowExecution) -> String {
    deterministic_request_id(job_id, &["reset", &target.workflow_id, &target.run_id])
}
