//! UpdateWorkflowExecution and PollWorkflowExecutionUpdate on the run's shard leader.
//!
//! An update id the run accepted before is answered from history (the same update, never a
//! second one). Otherwise the update is admitted to the leader's registry (`crate::updates`)
//! and, when the run has no workflow task, a speculative one is scheduled to carry it (a write
//! with no events). The caller then waits for the stage it asked for; the wait is bounded by
//! the caller dropping the future (the frontend's deadline).

use perdure_core::{accepted_update_completed_workflow_failure, rejected_outcome, CoreError};
use temporalio_protos::temporal::api::enums::v1::EventType;
use temporalio_protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_protos::temporal::api::update::v1::{Outcome, Request};
use tokio::sync::watch;

use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::shard::{Plan, Step};
use crate::updates::UpdateState;
use crate::{tables, HistoryService};

/// How far an update got, as UpdateWorkflowExecution and PollWorkflowExecutionUpdate report it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum UpdateStage {
    Admitted,
    Accepted,
    Completed,
}

/// What a caller learns about an update.
#[derive(Debug, Clone)]
pub struct UpdateStatus {
    pub run_id: String,
    pub stage: UpdateStage,
    pub outcome: Option<Outcome>,
    /// The worker rejected it (the response links to the run, not to an event).
    pub rejected: bool,
}

/// An update the caller may wait on: its stage now, and how to wait for a later one.
pub struct UpdateHandle {
    run_id: String,
    status: UpdateStatus,
    rx: Option<watch::Receiver<UpdateState>>,
}

/// Where to find an update.
pub struct UpdateTarget<'a> {
    pub namespace_id: &'a str,
    pub workflow_id: &'a str,
    pub run_id: &'a str,
    pub first_execution_run_id: &'a str,
}

impl UpdateHandle {
    fn finished(run_id: &str, outcome: Outcome, rejected: bool) -> Self {
        UpdateHandle {
            run_id: run_id.to_string(),
            status: UpdateStatus {
                run_id: run_id.to_string(),
                stage: UpdateStage::Completed,
                outcome: Some(outcome),
                rejected,
            },
            rx: None,
        }
    }

    pub(crate) fn admitted(run_id: &str, rx: watch::Receiver<UpdateState>) -> Self {
        let mut h = UpdateHandle {
            run_id: run_id.to_string(),
            status: UpdateStatus {
                run_id: run_id.to_string(),
                stage: UpdateStage::Admitted,
                outcome: None,
                rejected: false,
            },
            rx: Some(rx),
        };
        h.refresh().ok();
        h
    }

    /// The stage reached so far.
    pub fn status(&self) -> &UpdateStatus {
        &self.status
    }

    fn refresh(&mut self) -> Result<(), HistoryError> {
        let Some(rx) = self.rx.as_ref() else {
            return Ok(());
        };
        let state = rx.borrow().clone();
        self.status = match state {
            UpdateState::Admitted => self.status_at(UpdateStage::Admitted, None, false),
            UpdateState::Accepted => self.status_at(UpdateStage::Accepted, None, false),
            UpdateState::Completed { outcome, rejected } => {
                self.status_at(UpdateStage::Completed, Some(*outcome), rejected)
            }
            UpdateState::AbortedByClose => {
                return Err(CoreError::NotFound(
                    "workflow update was aborted by closing workflow".into(),
                )
                .into())
            }
        };
        Ok(())
    }

    fn status_at(
        &self,
        stage: UpdateStage,
        outcome: Option<Outcome>,
        rejected: bool,
    ) -> UpdateStatus {
        UpdateStatus {
            run_id: self.run_id.clone(),
            stage,
            outcome,
            rejected,
        }
    }

    /// Waits until the update reaches `want` (or completes). Cancel-safe: the caller bounds it
    /// with its deadline and then reads [`UpdateHandle::status`].
    pub async fn wait_for(&mut self, want: UpdateStage) -> Result<UpdateStatus, HistoryError> {
        loop {
            self.refresh()?;
            if self.status.stage >= want {
                return Ok(self.status.clone());
            }
            let Some(rx) = self.rx.as_mut() else {
                return Ok(self.status.clone());
            };
            if rx.changed().await.is_err() {
                // The registry dropped it: this node stopped leading the shard. Its last word
                // may still be final.
                self.refresh()?;
                if self.status.stage >= want {
                    return Ok(self.status.clone());
                }
                return Err(
                    CoreError::WorkflowNotReady("workflow update was aborted".into()).into(),
                );
            }
        }
    }
}

impl HistoryService {
    /// Admits (or finds) update `update_id` of the run `target` names.
    pub async fn update_workflow(
        &self,
        target: UpdateTarget<'_>,
        update_id: &str,
        request: &Request,
    ) -> Result<UpdateHandle, HistoryError> {
        let key = self.update_run(&target).await?;
        let shard = self.shard_for(target.namespace_id, target.workflow_id);
        let found = shard
            .update(&key, |state, now| {
                let state =
                    state.ok_or_else(|| HistoryError::from(crate::api::run_not_found(&key)))?;
                check_first_run(state, target.first_execution_run_id)?;
                if let Some(rec) = state.update_record(update_id) {
                    return Ok(Step::Reply(Found::Record(rec.clone(), state.is_running())));
                }
                if !state.is_running() {
                    return Err(
                        CoreError::NotFound("workflow execution already completed".into()).into(),
                    );
                }
                let rx = shard
                    .updates
                    .admit(&key, update_id, request)
                    .map_err(|_| HistoryError::TooManyUpdates)?;
                let mut next = state.clone();
                let mut m = perdure_core::Mutation::default();
                if next.schedule_speculative_workflow_task(&mut m, now) {
                    return Ok(Step::Write(Plan::new(next, m, Found::Waiting(rx))));
                }
                // A task is scheduled (it will carry the update), or one is in flight and its
                // completion schedules the next for the updates it did not carry, or the run
                // waits for its first task.
                Ok(Step::Reply(Found::Waiting(rx)))
            })
            .await?;
        self.update_handle(&key, update_id, found).await
    }

    /// PollWorkflowExecutionUpdate: an update the run accepted, or one in flight on this
    /// leader. NotFound for any other (a rejected update is forgotten).
    pub async fn poll_update(
        &self,
        target: UpdateTarget<'_>,
        update_id: &str,
    ) -> Result<UpdateHandle, HistoryError> {
        let key = self.update_run(&target).await?;
        let shard = self.shard_for(target.namespace_id, target.workflow_id);
        let found = shard
            .inspect(&key, |state| {
                let state =
                    state.ok_or_else(|| HistoryError::from(crate::api::run_not_found(&key)))?;
                check_first_run(state, target.first_execution_run_id)?;
                if let Some(rec) = state.update_record(update_id) {
                    return Ok(Found::Record(rec.clone(), state.is_running()));
                }
                match shard.updates.subscribe(&key, update_id, false) {
                    Some(rx) => Ok(Found::Waiting(rx)),
                    None => {
                        Err(CoreError::NotFound(format!("update \"{update_id}\" not found")).into())
                    }
                }
            })
            .await?;
        self.update_handle(&key, update_id, found).await
    }

    async fn update_run(&self, target: &UpdateTarget<'_>) -> Result<ExecKey, HistoryError> {
        self.resolve_run(target.namespace_id, target.workflow_id, target.run_id)
            .await
    }

    async fn update_handle(
        &self,
        key: &ExecKey,
        update_id: &str,
        found: Found,
    ) -> Result<UpdateHandle, HistoryError> {
        let rec = match found {
            Found::Waiting(rx) => return Ok(UpdateHandle::admitted(&key.run_id, rx)),
            Found::Record(rec, _) if rec.completed_event_id > 0 => rec,
            Found::Record(_, false) => {
                // Accepted, and the run closed before it completed.
                return Ok(UpdateHandle::finished(
                    &key.run_id,
                    rejected_outcome(accepted_update_completed_workflow_failure()),
                    false,
                ));
            }
            Found::Record(_, true) => {
                let shard = self.shard_for(&key.namespace_id, &key.workflow_id);
                let rx = shard
                    .inspect(key, |_| Ok(shard.updates.subscribe(key, update_id, true)))
                    .await?;
                return match rx {
                    Some(rx) => Ok(UpdateHandle::admitted(&key.run_id, rx)),
                    None => {
                        Err(CoreError::NotFound(format!("update \"{update_id}\" not found")).into())
                    }
                };
            }
        };
        let outcome = self.completed_outcome(key, rec.completed_event_id)?;
        Ok(UpdateHandle::finished(&key.run_id, outcome, false))
    }

    /// The outcome WorkflowExecutionUpdateCompleted `event_id` of the run recorded.
    fn completed_outcome(&self, key: &ExecKey, event_id: i64) -> Result<Outcome, HistoryError> {
        let shard = self.shard_for(&key.namespace_id, &key.workflow_id);
        let events = tables::read_events(&shard.store, shard.id, key, event_id, event_id + 1, 1)?;
        match events.into_iter().next() {
            Some(e) if e.event_type == EventType::WorkflowExecutionUpdateCompleted as i32 => {
                match e.attributes {
                    Some(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(a)) => {
                        Ok(a.outcome.unwrap_or_default())
                    }
                    _ => Err(HistoryError::Malformed {
                        what: "history event",
                        detail: "update completed event without attributes",
                    }),
                }
            }
            _ => Err(HistoryError::Malformed {
                what: "history event",
                detail: "an update's completed event is missing",
            }),
        }
    }
}

enum Found {
    /// The run's record of an accepted update, and whether the run is still running.
    Record(perdure_core::UpdateRecord, bool),
    Waiting(watch::Receiver<UpdateState>),
}

/// A caller naming the chain's first run must name this run's chain.
fn check_first_run(state: &perdure_core::MutableState, first: &str) -> Result<(), HistoryError> {
    if !first.is_empty() && first != state.first_execution_run_id {
        return Err(CoreError::NotFound("workflow execution not found".into()).into());
    }
    Ok(())
}
