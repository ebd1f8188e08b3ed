//! ResetWorkflowExecution: the base run's history and state go to `perdure_core`'s reset,
//! and the base's termination (when it runs), the new run and the workflow id's current-run
//! pointer are written in one batch (the new run rides in `Mutation::new_run`, as a
//! continue-as-new's successor does).
//!
//! Must never: write the new run without making it current, or answer before the write is
//! committed.

use perdure_core::{CoreError, CurrentExecution, ResetParams, RESETTER_IDENTITY};
use perdure_storage::{keys, Cf, Check, Expect, Op};
use prost::Message;
use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use temporalio_protos::temporal::api::workflowservice::v1::ResetWorkflowExecutionRequest;

use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::shard::{Plan, Step};
use crate::{tables, HistoryService};

impl HistoryService {
    /// Resets the run the request names; returns the new run's id.
    // reset_reapply_type is deprecated but still honoured by Temporal.
    #[allow(deprecated)]
    pub async fn reset_workflow(
        &self,
        namespace_id: &str,
        request: &ResetWorkflowExecutionRequest,
    ) -> Result<String, HistoryError> {
        let execution = request.workflow_execution.clone().unwrap_or_default();
        let wf = execution.workflow_id.clone();
        let key = self
            .resolve_run(namespace_id, &wf, &execution.run_id)
            .await?;
        let shard = self.shard_for(namespace_id, &wf);
        shard.read_barrier().await?;
        let current = tables::load_current(&shard.store, shard.id, namespace_id, &wf)?;
        if let Some((c, _)) = &current {
            // Temporal's dedup: the current run was created by this request id.
            if !request.request_id.is_empty() && c.start_request_id == request.request_id {
                return Ok(c.run_id.clone());
            }
            // Another run is current and running: the resetter terminates it first.
            if c.run_id != key.run_id && c.status == WorkflowExecutionStatus::Running as i32 {
                let other = ExecKey::new(namespace_id, &wf, &c.run_id);
                let terminated = shard
                    .mutate(&other, |next, now| {
                        Ok((
                            next.terminate(&request.reason, None, RESETTER_IDENTITY, now)?,
                            (),
                        ))
                    })
                    .await;
                match terminated {
                    Ok(()) | Err(HistoryError::Core(CoreError::WorkflowCompleted)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        let params = ResetParams {
            workflow_task_finish_event_id: request.workflow_task_finish_event_id,
            reason: request.reason.clone(),
            new_run_id: uuid::Uuid::new_v4().to_string(),
            reset_reapply_type: request.reset_reapply_type,
            reset_reapply_exclude_types: request.reset_reapply_exclude_types.clone(),
        };
        let current_key = keys::current_execution(shard.id, namespace_id, &wf);
        shard
            .update(&key, |state, now| {
                let state =
                    state.ok_or_else(|| HistoryError::from(crate::api::run_not_found(&key)))?;
                let history = tables::read_events(
                    &shard.store,
                    shard.id,
                    &key,
                    1,
                    state.next_event_id,
                    usize::MAX,
                )?;
                let mut next = state.clone();
                let mutation = next.reset(&history, &params, now)?;
                let mut plan = Plan::new(next, mutation, params.new_run_id.clone());
                if !plan.mutation.closed {
                    // A closed base: the pointer moves from whichever closed run holds it.
                    let new_run = plan.mutation.new_run.as_ref().map(|n| &n.state);
                    let Some(new_run) = new_run else {
                        return Err(HistoryError::Conflict);
                    };
                    let loaded = tables::load_current(&shard.store, shard.id, namespace_id, &wf)?;
                    let expect = match &loaded {
                        Some((c, raw)) if c.status != WorkflowExecutionStatus::Running as i32 => {
                            Expect::Equals(raw.clone())
                        }
                        // A run started meanwhile: decide again.
                        Some(_) => return Err(HistoryError::Conflict),
                        None => Expect::Absent,
                    };
                    plan.extra_checks.push(Check {
                        cf: Cf::CurrentExecutions,
                        key: current_key.clone(),
                        expect,
                    });
                    plan.extra_ops.push(Op::Put {
                        cf: Cf::CurrentExecutions,
                        key: current_key.clone(),
                        value: CurrentExecution {
                            run_id: new_run.run_id.clone(),
                            start_request_id: new_run.start_request_id.clone(),
                            status: WorkflowExecutionStatus::Running as i32,
                            first_execution_run_id: new_run.first_execution_run_id.clone(),
                        }
                        .encode_to_vec(),
                    });
                }
                Ok(Step::Write(plan))
            })
            .await
    }
}
