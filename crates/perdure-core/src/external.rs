//! Commands that reach another workflow: SignalExternalWorkflowExecution and
//! RequestCancelExternalWorkflowExecution (the SDKs also cancel a child this way). Each writes
//! its initiated event, keeps a pending request and leaves an effect (transfer row) for the
//! history layer, which delivers it and reports back: delivered
//! (ExternalWorkflowExecutionSignaled / ExternalWorkflowExecutionCancelRequested) or the target
//! does not exist (…Failed with EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND). Reports are idempotent
//! per initiated event id.

use temporalio_protos::temporal::api::{
    command::v1::command::Attributes as Cmd,
    common::v1::{Header, Payloads, WorkflowExecution},
    enums::v1::{
        CancelExternalWorkflowExecutionFailedCause, EventType,
        SignalExternalWorkflowExecutionFailedCause, WorkflowTaskFailedCause,
    },
    history::v1::{
        ExternalWorkflowExecutionCancelRequestedEventAttributes,
        ExternalWorkflowExecutionSignaledEventAttributes,
        RequestCancelExternalWorkflowExecutionFailedEventAttributes,
        RequestCancelExternalWorkflowExecutionInitiatedEventAttributes,
        SignalExternalWorkflowExecutionFailedEventAttributes,
        SignalExternalWorkflowExecutionInitiatedEventAttributes,
    },
};

use crate::errors::CoreError;
use crate::limits::{encoded_size, BLOB_SIZE_LIMIT_ERROR, MAX_ID_LENGTH};
use crate::state::MutableState;
use crate::tasks::{transfer_task, Mutation};
use crate::time::Time;
use crate::workflow_task_completed::{fail, terminate, Rejected};

/// Signals and cancel requests a run may have pending at once (Temporal's limits of 2000).
pub const NUM_PENDING_EXTERNAL_REQUESTS_LIMIT: usize = 2000;

/// A signal or cancel request on its way to another workflow, keyed by its initiated event id.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct ExternalRequest {
    #[prost(int64, tag = "1")]
    pub initiated_event_id: i64,
    #[prost(string, tag = "2")]
    pub namespace: String,
    #[prost(string, tag = "3")]
    pub namespace_id: String,
    #[prost(string, tag = "4")]
    pub workflow_id: String,
    /// Empty: the workflow id's current run.
    #[prost(string, tag = "5")]
    pub run_id: String,
    #[prost(string, tag = "6")]
    pub control: String,
    /// Only deliver to a child of this run.
    #[prost(bool, tag = "7")]
    pub child_workflow_only: bool,
    /// True for a signal, false for a cancel request.
    #[prost(bool, tag = "8")]
    pub signal: bool,
    #[prost(string, tag = "9")]
    pub signal_name: String,
    #[prost(message, optional, tag = "10")]
    pub input: Option<Payloads>,
    #[prost(message, optional, tag = "11")]
    pub header: Option<Header>,
    /// A cancel request's reason.
    #[prost(string, tag = "12")]
    pub reason: String,
}

impl ExternalRequest {
    pub fn target(&self) -> WorkflowExecution {
        WorkflowExecution {
            workflow_id: self.workflow_id.clone(),
            run_id: self.run_id.clone(),
        }
    }

    /// The request id the delivery carries, the same on every attempt (signal dedup).
    pub fn request_id(&self, sender_run_id: &str) -> String {
        format!("{sender_run_id}:{}", self.initiated_event_id)
    }
}

impl MutableState {
    /// SignalExternalWorkflowExecution and RequestCancelExternalWorkflowExecution commands.
    #[allow(deprecated)]
    pub(crate) fn external_command(
        &mut self,
        m: &mut Mutation,
        attrs: Option<&Cmd>,
        completed_id: i64,
        now: Time,
    ) -> Result<Option<i64>, Rejected> {
        use WorkflowTaskFailedCause as C;
        let (request, cause) = match attrs {
            Some(Cmd::SignalExternalWorkflowExecutionCommandAttributes(a)) => {
                let e = a.execution.clone().unwrap_or_default();
                if a.signal_name.is_empty() {
                    return fail(
                        C::BadSignalWorkflowExecutionAttributes,
                        "SignalName is not set on SignalExternalWorkflowExecutionCommand.",
                    );
                }
                if encoded_size(a.input.as_ref()) > BLOB_SIZE_LIMIT_ERROR {
                    return terminate(
                        C::BadSignalWorkflowExecutionAttributes,
                        "SignalExternalWorkflowExecutionCommandAttributes.Input exceeds size limit.",
                    );
                }
                (
                    ExternalRequest {
                        namespace: a.namespace.clone(),
                        workflow_id: e.workflow_id,
                        run_id: e.run_id,
                        control: a.control.clone(),
                        child_workflow_only: a.child_workflow_only,
                        signal: true,
                        signal_name: a.signal_name.clone(),
                        input: a.input.clone(),
                        header: a.header.clone(),
                        ..Default::default()
                    },
                    C::BadSignalWorkflowExecutionAttributes,
                )
            }
            Some(Cmd::RequestCancelExternalWorkflowExecutionCommandAttributes(a)) => (
                ExternalRequest {
                    namespace: a.namespace.clone(),
                    workflow_id: a.workflow_id.clone(),
                    run_id: a.run_id.clone(),
                    control: a.control.clone(),
                    child_workflow_only: a.child_workflow_only,
                    reason: a.reason.clone(),
                    ..Default::default()
                },
                C::BadRequestCancelExternalWorkflowExecutionAttributes,
            ),
            _ => {
                return fail(
                    C::BadRequestCancelExternalWorkflowExecutionAttributes,
                    "External workflow command attributes are not set.",
                )
            }
        };
        if !request.namespace.is_empty() && request.namespace != self.namespace {
            return fail(
                cause,
                format!(
                    "commands for workflows in another namespace ({}) are not supported by this server",
                    request.namespace
                ),
            );
        }
        if request.workflow_id.is_empty() {
            return fail(cause, "WorkflowId is not set on command.");
        }
        if request.workflow_id.len() > MAX_ID_LENGTH {
            return fail(cause, "WorkflowId exceeds length limit.");
        }
        if !request.run_id.is_empty() && uuid_like(&request.run_id).is_none() {
            return fail(cause, "Invalid RunId.");
        }
        if self.external_requests.len() >= NUM_PENDING_EXTERNAL_REQUESTS_LIMIT {
            let limit = if request.signal {
                C::PendingSignalsLimitExceeded
            } else {
                C::PendingRequestCancelLimitExceeded
            };
            return fail(limit, "");
        }
        let mut request = ExternalRequest {
            namespace: self.namespace.clone(),
            namespace_id: self.namespace_id.clone(),
            ..request
        };
        let execution = Some(request.target());
        let event = if request.signal {
            self.new_event(
                EventType::SignalExternalWorkflowExecutionInitiated,
                now,
                SignalExternalWorkflowExecutionInitiatedEventAttributes {
                    workflow_task_completed_event_id: completed_id,
                    namespace: request.namespace.clone(),
                    namespace_id: request.namespace_id.clone(),
                    workflow_execution: execution,
                    signal_name: request.signal_name.clone(),
                    input: request.input.clone(),
                    control: request.control.clone(),
                    child_workflow_only: request.child_workflow_only,
                    header: request.header.clone(),
                },
            )
        } else {
            self.new_event(
                EventType::RequestCancelExternalWorkflowExecutionInitiated,
                now,
                RequestCancelExternalWorkflowExecutionInitiatedEventAttributes {
                    workflow_task_completed_event_id: completed_id,
                    namespace: request.namespace.clone(),
                    namespace_id: request.namespace_id.clone(),
                    workflow_execution: execution,
                    control: request.control.clone(),
                    child_workflow_only: request.child_workflow_only,
                    reason: request.reason.clone(),
                },
            )
        };
        let id = self.write(m, event);
        request.initiated_event_id = id;
        self.external_requests.insert(id, request);
        let task = self.transfer_task(
            String::new(),
            transfer_task::Kind::External(transfer_task::ChildRef {
                initiated_event_id: id,
            }),
        );
        m.transfer_tasks.push(task);
        Ok(Some(id))
    }

    /// The pending external request `initiated_event_id` (None: done, or this run closed).
    pub fn external_request(&self, initiated_event_id: i64) -> Option<&ExternalRequest> {
        if !self.is_running() {
            return None;
        }
        self.external_requests.get(&initiated_event_id)
    }

    /// The request reached its target (`delivered`) or the target does not exist.
    #[allow(deprecated)]
    pub fn record_external_outcome(
        &mut self,
        initiated_event_id: i64,
        delivered: bool,
        now: Time,
    ) -> Result<Mutation, CoreError> {
        let mut m = Mutation::default();
        if !self.is_running() {
            return Ok(m);
        }
        let Some(r) = self.external_requests.remove(&initiated_event_id) else {
            return Ok(m);
        };
        let execution = Some(r.target());
        let event = match (r.signal, delivered) {
            (true, true) => self.new_event(
                EventType::ExternalWorkflowExecutionSignaled,
                now,
                ExternalWorkflowExecutionSignaledEventAttributes {
                    initiated_event_id,
                    namespace: r.namespace.clone(),
                    namespace_id: r.namespace_id.clone(),
                    workflow_execution: execution,
                    control: r.control.clone(),
                },
            ),
            (true, false) => self.new_event(
                EventType::SignalExternalWorkflowExecutionFailed,
                now,
                SignalExternalWorkflowExecutionFailedEventAttributes {
                    cause: SignalExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound as i32,
                    workflow_task_completed_event_id: 0,
                    namespace: r.namespace.clone(),
                    namespace_id: r.namespace_id.clone(),
                    workflow_execution: execution,
                    initiated_event_id,
                    control: r.control.clone(),
                },
            ),
            (false, true) => self.new_event(
                EventType::ExternalWorkflowExecutionCancelRequested,
                now,
                ExternalWorkflowExecutionCancelRequestedEventAttributes {
                    initiated_event_id,
                    namespace: r.namespace.clone(),
                    namespace_id: r.namespace_id.clone(),
                    workflow_execution: execution,
                },
            ),
            (false, false) => self.new_event(
                EventType::RequestCancelExternalWorkflowExecutionFailed,
                now,
                RequestCancelExternalWorkflowExecutionFailedEventAttributes {
                    cause: CancelExternalWorkflowExecutionFailedCause::ExternalWorkflowExecutionNotFound as i32,
                    workflow_task_completed_event_id: 0,
                    namespace: r.namespace.clone(),
                    namespace_id: r.namespace_id.clone(),
                    workflow_execution: execution,
                    initiated_event_id,
                    control: r.control.clone(),
                },
            ),
        };
        self.write_or_buffer(&mut m, event);
        self.ensure_workflow_task(&mut m, now);
        Ok(m)
    }
}

/// A run id must be a UUID; only its shape is checked (hex digits and dashes, 36 long).
fn uuid_like(s: &str) -> Option<()> {
    (s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')).then_some(())
}
