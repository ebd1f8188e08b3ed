//! Workflow updates: the durable part of an update and the protocol messages a workflow task
//! completion carries (Acceptance, Rejection, Response).
//!
//! An update lives in two places, as in Temporal. Until a worker accepts it, it exists only in
//! the shard leader's memory (`perdure-history`'s update registry): admitting it writes nothing
//! but, when the run has no workflow task, a speculative one (`schedule_speculative_workflow_task`)
//! whose events are written only if its completion writes something. Once accepted, it is
//! history: WorkflowExecutionUpdateAccepted, then WorkflowExecutionUpdateCompleted, and an
//! [`UpdateRecord`] in the run's state so the same update id is never run twice. A rejection
//! writes no event at all.
//!
//! This module decides what a completion's messages write and reports, in the mutation, what
//! became of each update (`UpdateProgress`); it never waits for or notifies anyone.

use std::collections::HashMap;

use prost::Message as _;
use temporalio_protos::temporal::api::{
    enums::v1::{EventType, WorkflowTaskFailedCause},
    failure::v1::{failure::FailureInfo, ApplicationFailureInfo, Failure},
    history::v1::{
        WorkflowExecutionUpdateAcceptedEventAttributes,
        WorkflowExecutionUpdateCompletedEventAttributes,
    },
    protocol::v1::Message,
    update::v1::{outcome, Acceptance, Outcome, Rejection, Request, Response},
};

use crate::limits::BLOB_SIZE_LIMIT_ERROR;
use crate::state::MutableState;
use crate::tasks::Mutation;
use crate::time::Time;
use crate::workflow_task_completed::{fail, terminate, Rejected};

const ACCEPTANCE_TYPE: &str = "type.googleapis.com/temporal.api.update.v1.Acceptance";
const REJECTION_TYPE: &str = "type.googleapis.com/temporal.api.update.v1.Rejection";
const RESPONSE_TYPE: &str = "type.googleapis.com/temporal.api.update.v1.Response";

/// Type URL of the Request message a workflow task delivers an update in.
pub const REQUEST_TYPE_URL: &str = "type.googleapis.com/temporal.api.update.v1.Request";

/// Updates one run may ever have accepted (Temporal's history.maxTotalUpdates).
pub const MAX_TOTAL_UPDATES: usize = 2000;

/// A workflow task may ship this many events more than once to a worker that takes discarded
/// speculative tasks (Temporal's DiscardSpeculativeWorkflowTaskMaximumEventsCount).
const DISCARD_SPECULATIVE_MAX_EVENTS: i64 = 10;

/// What the run keeps of an update a worker accepted.
#[derive(Clone, PartialEq, ::prost::Message)]
pub struct UpdateRecord {
    #[prost(int64, tag = "1")]
    pub accepted_event_id: i64,
    /// 0 until WorkflowExecutionUpdateCompleted is written; its outcome is read from there.
    #[prost(int64, tag = "2")]
    pub completed_event_id: i64,
}

/// What became of an update in one write.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateProgress {
    Accepted {
        update_id: String,
        event_id: i64,
    },
    Completed {
        update_id: String,
        outcome: Outcome,
    },
    /// Rejected by the worker's validator (or by the server for a worker that ignored it):
    /// nothing is written, the update is forgotten.
    Rejected {
        update_id: String,
        failure: Failure,
    },
}

/// The leader's in-memory view of the run's updates that no worker has accepted yet, handed to
/// the completion of a workflow task.
#[derive(Debug, Clone, Default)]
pub struct PendingUpdates {
    /// Request of every admitted update, by update id.
    pub requests: HashMap<String, Request>,
    /// Those the completing task carried to its worker: ignored by the worker, they are
    /// rejected (as Temporal does for an SDK that does not know updates).
    pub sent: Vec<String>,
    /// Some admitted update has not been carried by any task yet: the run needs another task.
    pub waiting: bool,
}

/// The failure of an update the worker received and neither accepted nor rejected.
pub fn unprocessed_update_failure() -> Failure {
    server_failure(
        "Workflow Update is rejected because it wasn't processed by worker. Probably, Workflow Update is not supported by the worker.",
        "UnprocessedUpdate",
    )
}

/// The outcome of an accepted update whose run closed before the update completed.
pub fn accepted_update_completed_workflow_failure() -> Failure {
    server_failure(
        "Workflow Update failed because the Workflow completed before the Update completed.",
        "AcceptedUpdateCompletedWorkflow",
    )
}

fn server_failure(message: &str, failure_type: &str) -> Failure {
    Failure {
        message: message.to_string(),
        source: "Server".to_string(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(
            ApplicationFailureInfo {
                r#type: failure_type.to_string(),
                non_retryable: true,
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// The id of the Request message that delivers update `update_id`.
pub fn request_message_id(update_id: &str) -> String {
    format!("{update_id}/request")
}

/// A completion's messages, taken by id as ProtocolMessage commands name them; what no command
/// names is handled after the commands, in the order the worker sent it.
pub(crate) struct Messages<'a> {
    pending: Vec<Option<&'a Message>>,
}

impl<'a> Messages<'a> {
    pub(crate) fn new(messages: &'a [Message]) -> Self {
        Self {
            pending: messages.iter().map(Some).collect(),
        }
    }

    pub(crate) fn take(&mut self, id: &str) -> Option<&'a Message> {
        self.pending
            .iter_mut()
            .find(|m| m.is_some_and(|m| m.id == id))
            .and_then(Option::take)
    }

    pub(crate) fn take_remaining(&mut self) -> Vec<&'a Message> {
        self.pending.iter_mut().filter_map(Option::take).collect()
    }
}

/// Only rejections (or nothing): a completion that may discard a speculative task.
pub(crate) fn only_rejections(messages: &[Message]) -> bool {
    messages.iter().all(|m| {
        m.body
            .as_ref()
            .is_some_and(|b| b.type_url == REJECTION_TYPE)
    })
}

impl MutableState {
    pub fn update_record(&self, update_id: &str) -> Option<&UpdateRecord> {
        self.updates.get(update_id)
    }

    /// Whether a speculative task's completion may leave no trace (Temporal's
    /// skipWorkflowTaskCompletedEvent): no commands, only rejections, nothing else waiting,
    /// and no events since the last completed task that the worker would need to see again
    /// (unless it says it can take them twice, and they are few).
    pub(crate) fn may_discard_speculative(
        &self,
        commands: usize,
        force_new_task: bool,
        messages: &[Message],
        discard_with_events: bool,
        pending: &PendingUpdates,
    ) -> bool {
        let Some(wft) = self.workflow_task.as_ref() else {
            return false;
        };
        if !wft.speculative || commands > 0 || force_new_task || pending.waiting {
            return false;
        }
        let quiet = self.last_completed_workflow_task_started_event_id + 2;
        let allowed = if discard_with_events {
            quiet + DISCARD_SPECULATIVE_MAX_EVENTS
        } else {
            quiet
        };
        self.next_event_id <= allowed && only_rejections(messages)
    }

    /// One protocol message of a completion: an Acceptance or Response writes its event, a
    /// Rejection is only reported. Anything malformed fails the workflow task.
    pub(crate) fn apply_update_message(
        &mut self,
        m: &mut Mutation,
        message: &Message,
        pending: &PendingUpdates,
        now: Time,
    ) -> Result<(), Rejected> {
        use WorkflowTaskFailedCause as C;
        let Some(body) = message.body.as_ref() else {
            return fail(
                C::BadUpdateWorkflowExecutionMessage,
                "message body is not set",
            );
        };
        if body.value.len() > BLOB_SIZE_LIMIT_ERROR {
            let kind = body.type_url.rsplit('.').next().unwrap_or_default();
            return terminate(
                C::BadUpdateWorkflowExecutionMessage,
                format!("Message type {kind} exceeds size limit."),
            );
        }
        let id = message.protocol_instance_id.as_str();
        let bad = |detail: String| fail::<()>(C::BadUpdateWorkflowExecutionMessage, detail);
        match body.type_url.as_str() {
            ACCEPTANCE_TYPE => {
                let Ok(a) = Acceptance::decode(body.value.as_slice()) else {
                    return bad(format!("invalid Acceptance message for update {id}"));
                };
                if self.updates.contains_key(id) {
                    return bad(format!("update {id} is already accepted"));
                }
                // The server's record of the request; a worker's copy only when the leader
                // that admitted it is gone (Temporal's TryResurrect).
                let request = match pending.requests.get(id) {
                    Some(r) => r.clone(),
                    None => match a.accepted_request {
                        Some(r) => r,
                        None => {
                            return bad(format!("update {id} wasn't found on the server. This is most likely a transient error which will be resolved automatically by retries"));
                        }
                    },
                };
                if self.updates.len() >= MAX_TOTAL_UPDATES {
                    return bad(format!(
                        "the number of updates in this run has reached the limit of {MAX_TOTAL_UPDATES}"
                    ));
                }
                let event = self.new_event(
                    EventType::WorkflowExecutionUpdateAccepted,
                    now,
                    WorkflowExecutionUpdateAcceptedEventAttributes {
                        protocol_instance_id: id.to_string(),
                        accepted_request_message_id: request_message_id(id),
                        accepted_request_sequencing_event_id: a
                            .accepted_request_sequencing_event_id,
                        accepted_request: Some(request),
                    },
                );
                let event_id = self.write(m, event);
                self.updates.insert(
                    id.to_string(),
                    UpdateRecord {
                        accepted_event_id: event_id,
                        completed_event_id: 0,
                    },
                );
                m.updates.push(UpdateProgress::Accepted {
                    update_id: id.to_string(),
                    event_id,
                });
                Ok(())
            }
            RESPONSE_TYPE => {
                let Ok(r) = Response::decode(body.value.as_slice()) else {
                    return bad(format!("invalid Response message for update {id}"));
                };
                let accepted = match self.updates.get(id) {
                    Some(rec) if rec.completed_event_id == 0 => rec.accepted_event_id,
                    Some(_) => return bad(format!("update {id} is already completed")),
                    None => return bad(format!("update {id} is not accepted")),
                };
                let outcome = match r.outcome {
                    Some(o @ Outcome { value: Some(_) }) => o,
                    _ => return bad(format!("outcome is not set on the Response of update {id}")),
                };
                let event = self.new_event(
                    EventType::WorkflowExecutionUpdateCompleted,
                    now,
                    WorkflowExecutionUpdateCompletedEventAttributes {
                        meta: r.meta,
                        accepted_event_id: accepted,
                        outcome: Some(outcome.clone()),
                    },
                );
                let event_id = self.write(m, event);
                if let Some(rec) = self.updates.get_mut(id) {
                    rec.completed_event_id = event_id;
                }
                m.updates.push(UpdateProgress::Completed {
                    update_id: id.to_string(),
                    outcome,
                });
                Ok(())
            }
            REJECTION_TYPE => {
                let Ok(r) = Rejection::decode(body.value.as_slice()) else {
                    return bad(format!("invalid Rejection message for update {id}"));
                };
                if self.updates.contains_key(id) {
                    return bad(format!("update {id} is already accepted"));
                }
                if !pending.requests.contains_key(id) {
                    return bad(format!("update {id} wasn't found on the server. This is most likely a transient error which will be resolved automatically by retries"));
                }
                m.updates.push(UpdateProgress::Rejected {
                    update_id: id.to_string(),
                    failure: r.failure.unwrap_or_default(),
                });
                Ok(())
            }
            other => bad(format!("unsupported protocol message type {other}")),
        }
    }

    /// Updates the completed task carried that its worker neither accepted nor rejected are
    /// rejected by the server (a worker that does not know updates).
    pub(crate) fn reject_unprocessed(&self, m: &mut Mutation, pending: &PendingUpdates) {
        for id in &pending.sent {
            let answered = m.updates.iter().any(|p| match p {
                UpdateProgress::Accepted { update_id, .. }
                | UpdateProgress::Completed { update_id, .. }
                | UpdateProgress::Rejected { update_id, .. } => update_id == id,
            });
            if !answered && !self.updates.contains_key(id) {
                m.updates.push(UpdateProgress::Rejected {
                    update_id: id.clone(),
                    failure: unprocessed_update_failure(),
                });
            }
        }
    }
}

/// The outcome a rejection gives its caller.
pub fn rejected_outcome(failure: Failure) -> Outcome {
    Outcome {
        value: Some(outcome::Value::Failure(failure)),
    }
}
