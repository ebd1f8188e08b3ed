//! SignalWithStartWorkflowExecution: the start's validation, the signal's, then history signals
//! the run the id policies keep or starts one with the signal in it.

use perdure_core::Signal;
use temporalio_protos::temporal::api::enums::v1::WorkflowIdConflictPolicy;
use temporalio_protos::temporal::api::workflowservice::v1::{
    SignalWithStartWorkflowExecutionRequest, SignalWithStartWorkflowExecutionResponse,
    StartWorkflowExecutionRequest,
};
use tonic::Status;

use crate::rpc::start_workflow_execution::validate_start;
use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn signal_with_start_workflow_execution(
        &self,
        req: SignalWithStartWorkflowExecutionRequest,
    ) -> Result<SignalWithStartWorkflowExecutionResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        ns.require(crate::namespaces::STARTABLE)?;
        if req.workflow_id_conflict_policy == WorkflowIdConflictPolicy::Fail as i32 {
            // A signal-with-start exists to reach a running workflow; Temporal refuses FAIL.
            return Err(errors::invalid(
                "Invalid WorkflowIDConflictPolicy: WORKFLOW_ID_CONFLICT_POLICY_FAIL is not \
                 supported for this operation.",
            ));
        }
        let mut start = StartWorkflowExecutionRequest {
            namespace: req.namespace.clone(),
            workflow_id: req.workflow_id.clone(),
            workflow_type: req.workflow_type.clone(),
            task_queue: req.task_queue.clone(),
            input: req.input.clone(),
            workflow_execution_timeout: req.workflow_execution_timeout,
            workflow_run_timeout: req.workflow_run_timeout,
            workflow_task_timeout: req.workflow_task_timeout,
            identity: req.identity.clone(),
            request_id: req.request_id.clone(),
            workflow_id_reuse_policy: req.workflow_id_reuse_policy,
            // Temporal's default for a signal-with-start: signal the running workflow.
            workflow_id_conflict_policy: match req.workflow_id_conflict_policy {
                p if p == WorkflowIdConflictPolicy::Unspecified as i32 => {
                    WorkflowIdConflictPolicy::UseExisting as i32
                }
                p => p,
            },
            retry_policy: req.retry_policy.clone(),
            cron_schedule: req.cron_schedule.clone(),
            memo: req.memo.clone(),
            search_attributes: req.search_attributes.clone(),
            header: req.header.clone(),
            workflow_start_delay: req.workflow_start_delay,
            user_metadata: req.user_metadata.clone(),
            links: req.links.clone(),
            priority: req.priority.clone(),
            ..Default::default()
        };
        validate_start(&mut start)?;
        self.namespaces
            .check_search_attributes(&ns, &mut start.search_attributes)?;
        validate::signal_name(&req.signal_name)?;
        validate::blob(req.signal_input.as_ref())?;
        let signal = Signal {
            name: req.signal_name.clone(),
            input: req.signal_input.clone(),
            header: req.header.clone(),
            identity: req.identity.clone(),
            request_id: start.request_id.clone(),
            external: None,
        };
        let (workflow_id, request_id) = (start.workflow_id.clone(), start.request_id.clone());
        let outcome = self
            .history
            .signal_with_start(ns.id(), crate::retention::of(&ns), start, signal)
            .await
            .map_err(errors::history)?;
        Ok(SignalWithStartWorkflowExecutionResponse {
            signal_link: Some(crate::links::signaled_by_request(
                &req.namespace,
                &workflow_id,
                &outcome.run_id,
                &request_id,
            )),
            run_id: outcome.run_id,
            first_execution_run_id: outcome.first_execution_run_id,
            started: outcome.started,
        })
    }
}
