//! UpdateWorkflowExecution and PollWorkflowExecutionUpdate, served by the run's shard leader:
//! validation in Temporal's order and wording, then history admits (or finds) the update and
//! this module waits for the stage the caller asked for.
//!
//! The wait ends at the caller's own deadline (answered DeadlineExceeded: the SDKs send the
//! call again only when they get a stage short of the one they want, so answering early with
//! "admitted" would make them loop) or, for a caller with no deadline, after
//! [`MAX_UPDATE_WAIT`] with the stage reached and no outcome, as Temporal answers.

use std::time::Duration;

use perdure_history::api::{UpdateHandle, UpdateStage, UpdateStatus, UpdateTarget};
use temporalio_protos::temporal::api::common::v1::{link, Link, WorkflowExecution};
use temporalio_protos::temporal::api::enums::v1::{
    EventType, UpdateWorkflowExecutionLifecycleStage,
};
use temporalio_protos::temporal::api::errordetails::v1::PermissionDeniedFailure;
use temporalio_protos::temporal::api::update::v1::UpdateRef;
use temporalio_protos::temporal::api::workflowservice::v1::{
    PollWorkflowExecutionUpdateRequest, PollWorkflowExecutionUpdateResponse,
    UpdateWorkflowExecutionRequest, UpdateWorkflowExecutionResponse,
};
use tokio::time::Instant;
use tonic::{Code, Status};

use crate::server::Frontend;
use crate::{errors, validate};

/// Longest an update call waits when the caller set no deadline (Temporal's long-poll cap).
pub const MAX_UPDATE_WAIT: Duration = Duration::from_secs(20);

type Stage = UpdateWorkflowExecutionLifecycleStage;

fn timed_out() -> Status {
    Status::deadline_exceeded("update timed out before it reached the stage asked for")
}

fn stage_code(stage: &UpdateStage) -> i32 {
    match stage {
        UpdateStage::Admitted => Stage::Admitted as i32,
        UpdateStage::Accepted => Stage::Accepted as i32,
        UpdateStage::Completed => Stage::Completed as i32,
    }
}

/// How long to wait: until the caller's own deadline (`callers`: it gets an error then), or
/// [`MAX_UPDATE_WAIT`] for a caller without one.
pub(crate) struct UpdateDeadline {
    pub at: Instant,
    pub callers: bool,
}

impl UpdateDeadline {
    pub(crate) fn from_client(timeout: Option<Duration>) -> Self {
        match timeout {
            Some(t) => UpdateDeadline {
                at: Instant::now() + t,
                callers: true,
            },
            None => UpdateDeadline {
                at: Instant::now() + MAX_UPDATE_WAIT,
                callers: false,
            },
        }
    }
}

/// Waits for `want`; at the deadline, the caller's own gets an error, ours the stage reached.
async fn wait(
    handle: &mut UpdateHandle,
    want: UpdateStage,
    deadline: &UpdateDeadline,
) -> Result<UpdateStatus, Status> {
    match tokio::time::timeout_at(deadline.at, handle.wait_for(want)).await {
        Ok(r) => r.map_err(errors::history),
        Err(_) if deadline.callers => Err(timed_out()),
        Err(_) => Ok(handle.status().clone()),
    }
}

impl Frontend {
    pub(crate) async fn update_workflow_execution(
        &self,
        mut req: UpdateWorkflowExecutionRequest,
        deadline: UpdateDeadline,
    ) -> Result<UpdateWorkflowExecutionResponse, Status> {
        if req.namespace.is_empty() {
            return Err(errors::invalid("Namespace is empty."));
        }
        let asked = prepare_update(&mut req)?;
        let ns = self.namespaces.get(&req.namespace)?;
        let target = UpdateTarget {
            namespace_id: ns.id(),
            workflow_id: &asked.execution.workflow_id,
            run_id: &asked.execution.run_id,
            first_execution_run_id: &req.first_execution_run_id,
        };
        let request = req.request.clone().unwrap_or_default();
        let admitted = self
            .history
            .update_workflow(target, &asked.update_id, &request);
        let handle = tokio::time::timeout_at(deadline.at, admitted)
            .await
            .map_err(|_| timed_out())?
            .map_err(errors::history)?;
        update_response(handle, &asked, &req.namespace, &deadline).await
    }

    pub(crate) async fn poll_workflow_execution_update(
        &self,
        req: PollWorkflowExecutionUpdateRequest,
        deadline: UpdateDeadline,
    ) -> Result<PollWorkflowExecutionUpdateResponse, Status> {
        if req.namespace.is_empty() {
            return Err(errors::invalid("Namespace is empty."));
        }
        let asked = req
            .update_ref
            .as_ref()
            .ok_or_else(|| errors::invalid("Update reference is not set on request."))?;
        let execution = validate::execution(asked.workflow_execution.as_ref())?.clone();
        if asked.update_id.is_empty() {
            return Err(errors::invalid("Update ID is not set on request."));
        }
        // Waiting for "admitted" (or nothing) answers at once with the stage reached.
        let want = match req.wait_policy.as_ref().map(|w| w.lifecycle_stage) {
            Some(s) if s == Stage::Accepted as i32 => UpdateStage::Accepted,
            Some(s) if s == Stage::Completed as i32 => UpdateStage::Completed,
            _ => UpdateStage::Admitted,
        };
        let ns = self.namespaces.get(&req.namespace)?;
        let target = UpdateTarget {
            namespace_id: ns.id(),
            workflow_id: &execution.workflow_id,
            run_id: &execution.run_id,
            first_execution_run_id: "",
        };
        let found = self.history.poll_update(target, &asked.update_id);
        let mut handle = tokio::time::timeout_at(deadline.at, found)
            .await
            .map_err(|_| timed_out())?
            .map_err(errors::history)?;
        let status = wait(&mut handle, want, &deadline).await?;
        Ok(PollWorkflowExecutionUpdateResponse {
            update_ref: Some(update_ref(
                &execution.workflow_id,
                &status.run_id,
                &asked.update_id,
            )),
            stage: stage_code(&status.stage),
            outcome: status.outcome,
        })
    }
}

/// What an UpdateWorkflowExecution asks for, once validated.
pub(crate) struct AskedUpdate {
    pub execution: WorkflowExecution,
    pub update_id: String,
    pub want: UpdateStage,
}

/// Temporal's checks of an UpdateWorkflowExecutionRequest, in its order and wording; makes up
/// an update id when the caller gave none, as Temporal does.
pub(crate) fn prepare_update(
    req: &mut UpdateWorkflowExecutionRequest,
) -> Result<AskedUpdate, Status> {
    let execution = validate::execution(req.workflow_execution.as_ref())?.clone();
    let request = req.request.get_or_insert_with(Default::default);
    let Some(meta) = request.meta.as_mut() else {
        return Err(errors::invalid("Update meta is not set on request."));
    };
    if meta.update_id.len() > perdure_core::limits::MAX_ID_LENGTH {
        return Err(errors::invalid("UpdateId length exceeds limit."));
    }
    if meta.update_id.is_empty() {
        meta.update_id = uuid::Uuid::new_v4().to_string();
    }
    let update_id = meta.update_id.clone();
    let Some(input) = request.input.as_ref() else {
        return Err(errors::invalid("Update input is not set on request."));
    };
    if input.name.is_empty() {
        return Err(errors::invalid("Update name is not set on request."));
    }
    validate::blob(input.args.as_ref())?;
    let want = match req.wait_policy.as_ref().map(|w| w.lifecycle_stage) {
        Some(s) if s == Stage::Accepted as i32 => UpdateStage::Accepted,
        Some(s) if s == Stage::Admitted as i32 => {
            return Err(errors::with_detail(
                Code::PermissionDenied,
                "UpdateWorkflowExecution issued asynchronously and waiting on update admitted is not supported.",
                PermissionDeniedFailure::default(),
            ));
        }
        _ => UpdateStage::Completed,
    };
    Ok(AskedUpdate {
        execution,
        update_id,
        want,
    })
}

/// Waits for the stage asked for and answers with it.
pub(crate) async fn update_response(
    mut handle: UpdateHandle,
    asked: &AskedUpdate,
    namespace: &str,
    deadline: &UpdateDeadline,
) -> Result<UpdateWorkflowExecutionResponse, Status> {
    let status = wait(&mut handle, asked.want.clone(), deadline).await?;
    let workflow_id = &asked.execution.workflow_id;
    Ok(UpdateWorkflowExecutionResponse {
        update_ref: Some(update_ref(workflow_id, &status.run_id, &asked.update_id)),
        link: link_for(namespace, workflow_id, &status),
        stage: stage_code(&status.stage),
        outcome: status.outcome,
    })
}

fn update_ref(workflow_id: &str, run_id: &str, update_id: &str) -> UpdateRef {
    UpdateRef {
        workflow_execution: Some(WorkflowExecution {
            workflow_id: workflow_id.to_string(),
            run_id: run_id.to_string(),
        }),
        update_id: update_id.to_string(),
    }
}

/// Temporal links an accepted update to its WorkflowExecutionUpdateAccepted event (by
/// reference), a rejected one to the run; an update not yet accepted has no link.
fn link_for(namespace: &str, workflow_id: &str, status: &UpdateStatus) -> Option<Link> {
    if status.stage == UpdateStage::Admitted {
        return None;
    }
    let variant = if status.rejected {
        link::Variant::Workflow(link::Workflow {
            namespace: namespace.to_string(),
            workflow_id: workflow_id.to_string(),
            run_id: status.run_id.clone(),
            reason: "Update rejected".to_string(),
        })
    } else {
        link::Variant::WorkflowEvent(link::WorkflowEvent {
            namespace: namespace.to_string(),
            workflow_id: workflow_id.to_string(),
            run_id: status.run_id.clone(),
            reference: Some(link::workflow_event::Reference::RequestIdRef(
                link::workflow_event::RequestIdReference {
                    request_id: String::new(),
                    event_type: EventType::WorkflowExecutionUpdateAccepted as i32,
                },
            )),
        })
    };
    Some(Link {
        variant: Some(variant),
    })
}
