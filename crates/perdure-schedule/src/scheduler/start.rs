//! Starts: building a slot's StartWorkflowExecution request and recording it as pending, then
//! settling how the caller reports it went (started, refused, closed) in hand-out order.
//!
//! Never carries out a start itself: it returns [`Action::Start`] and waits for the report.

use perdure_core::Time;
use temporalio_protos::temporal::api::common::v1::{Payloads, SearchAttributes, WorkflowExecution};
use temporalio_protos::temporal::api::enums::v1::{WorkflowExecutionStatus, WorkflowIdReusePolicy};
use temporalio_protos::temporal::api::failure::v1::Failure;
use temporalio_protos::temporal::api::schedule::v1::{schedule_action, ScheduleActionResult};
use temporalio_protos::temporal::api::workflowservice::v1::StartWorkflowExecutionRequest;

use super::*;

impl ScheduleState {
    /// Builds the start request of a slot and records it as pending.
    pub(super) fn begin_start(&mut self, start: &BufferedStart, tracked: bool) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let policies = self.policies();
        let new = match self
            .schedule
            .as_ref()
            .and_then(|s| s.action.as_ref())
            .and_then(|a| a.action.as_ref())
        {
            Some(schedule_action::Action::StartWorkflow(w)) => w.clone(),
            _ => Default::default(),
        };
        let nominal = Time(start.nominal - start.nominal.rem_euclid(1_000_000_000));
        let mut workflow_id = new.workflow_id.clone();
        if !policies.keep_original_workflow_id {
            workflow_id = format!("{workflow_id}-{}", rfc3339_seconds(nominal));
        }
        let allow_all = !tracked;
        let (last, failure) = if allow_all {
            (None, None)
        } else {
            (
                self.last_completion_result.clone(),
                self.continued_failure.clone(),
            )
        };
        let mut fields = new
            .search_attributes
            .as_ref()
            .map(|s| s.indexed_fields.clone())
            .unwrap_or_default();
        fields.insert(
            "TemporalScheduledStartTime".into(),
            json_payload(format!("\"{}\"", rfc3339_seconds(nominal)), "Datetime"),
        );
        fields.insert(
            "TemporalScheduledById".into(),
            json_payload(json_string(&self.schedule_id), "Keyword"),
        );
        let reuse = if start.manual {
            WorkflowIdReusePolicy::AllowDuplicate
        } else {
            WorkflowIdReusePolicy::RejectDuplicate
        };
        let request = StartWorkflowExecutionRequest {
            namespace: self.namespace.clone(),
            workflow_id,
            workflow_type: new.workflow_type,
            task_queue: new.task_queue,
            input: new.input,
            workflow_execution_timeout: new.workflow_execution_timeout,
            workflow_run_timeout: new.workflow_run_timeout,
            workflow_task_timeout: new.workflow_task_timeout,
            identity: self.identity(),
            request_id: format!("{}-{}-{}", self.schedule_id, start.nominal, seq),
            workflow_id_reuse_policy: reuse as i32,
            retry_policy: new.retry_policy,
            memo: new.memo,
            search_attributes: Some(SearchAttributes {
                indexed_fields: fields,
            }),
            header: new.header,
            last_completion_result: last,
            continued_failure: failure,
            user_metadata: new.user_metadata,
            priority: new.priority,
            ..Default::default()
        };
        self.pending.push(PendingStart {
            seq,
            request: Some(request),
            actual: start.actual,
            tracked,
            ..Default::default()
        });
        seq
    }

    /// The start request of a pending start.
    pub fn pending_start(&self, seq: u64) -> Option<&StartWorkflowExecutionRequest> {
        self.pending
            .iter()
            .find(|p| p.seq == seq && !p.done)
            .and_then(|p| p.request.as_ref())
    }

    /// A start was carried out: `run_id` is the run it started (or found started with this
    /// request id).
    pub fn on_started(&mut self, seq: u64, run_id: &str, now: Time) -> Vec<Action> {
        self.settle(seq, run_id, now)
    }

    /// A start could not be carried out (the workflow id is taken): it is dropped, as the
    /// workflow drops a start whose activity failed.
    pub fn on_start_failed(&mut self, seq: u64, now: Time) -> Vec<Action> {
        self.settle(seq, "", now)
    }

    /// Records how start `seq` went. Results are recorded in the order the starts were handed
    /// out (the workflow starts one after the other), so a start that finished early waits
    /// for the ones before it.
    pub(super) fn settle(&mut self, seq: u64, run_id: &str, now: Time) -> Vec<Action> {
        let Some(p) = self.pending.iter_mut().find(|p| p.seq == seq && !p.done) else {
            return Vec::new();
        };
        p.done = true;
        p.run_id = run_id.to_string();
        p.started_at = now.0;
        while self.pending.first().is_some_and(|p| p.done) {
            let p = self.pending.remove(0);
            if p.run_id.is_empty() {
                continue;
            }
            let execution = WorkflowExecution {
                workflow_id: p
                    .request
                    .as_ref()
                    .map(|r| r.workflow_id.clone())
                    .unwrap_or_default(),
                run_id: p.run_id.clone(),
            };
            let closed = p.closed_status != 0;
            let info = self.info_mut();
            info.action_count += 1;
            info.recent_actions.push(ScheduleActionResult {
                schedule_time: ts(p.actual),
                actual_time: ts(p.started_at),
                start_workflow_result: Some(execution.clone()),
                start_workflow_status: if closed {
                    p.closed_status
                } else {
                    WorkflowExecutionStatus::Running as i32
                },
            });
            let extra = info.recent_actions.len().saturating_sub(RECENT_ACTIONS);
            info.recent_actions.drain(..extra);
            if p.tracked && !closed {
                info.running_workflows.push(execution);
            }
        }
        let mut actions = Vec::new();
        self.process(now, &mut actions);
        actions
    }

    /// A workflow this schedule started closed (the last run of its chain). `failure_message`
    /// is the failure's message when it failed; `result` its result when it completed.
    pub fn on_closed(
        &mut self,
        workflow_id: &str,
        status: WorkflowExecutionStatus,
        failure: Option<Failure>,
        result: Option<Payloads>,
        now: Time,
    ) -> Vec<Action> {
        // Only tracked runs are watched (ALLOW_ALL runs are not, as in Temporal): a report of
        // any other run (an earlier schedule of the same id...) changes nothing.
        let is_ours = |r: &Option<StartWorkflowExecutionRequest>| {
            r.as_ref().is_some_and(|r| r.workflow_id == workflow_id)
        };
        let tracked_pending = self
            .pending
            .iter()
            .any(|p| p.tracked && p.done && is_ours(&p.request));
        let running = self.info.as_ref().is_some_and(|i| {
            i.running_workflows
                .iter()
                .any(|w| w.workflow_id == workflow_id)
        });
        if !tracked_pending && !running {
            return Vec::new();
        }
        for p in self
            .pending
            .iter_mut()
            .filter(|p| p.tracked && p.done && is_ours(&p.request))
        {
            p.closed_status = status as i32;
        }
        let info = self.info_mut();
        info.running_workflows
            .retain(|w| w.workflow_id != workflow_id);
        if let Some(a) = info.recent_actions.iter_mut().find(|a| {
            a.start_workflow_result
                .as_ref()
                .is_some_and(|w| w.workflow_id == workflow_id)
        }) {
            a.start_workflow_status = status as i32;
        }
        let failed = matches!(
            status,
            WorkflowExecutionStatus::Failed | WorkflowExecutionStatus::TimedOut
        );
        if self.policies().pause_on_failure && failed && !self.paused() {
            let notes = if status == WorkflowExecutionStatus::Failed {
                let msg = failure
                    .as_ref()
                    .map(|f| f.message.clone())
                    .unwrap_or_default();
                format!("paused due to workflow failure: {workflow_id}: {msg}")
            } else {
                format!("paused due to workflow timeout: {workflow_id}")
            };
            let st = self.sched_state_mut();
            st.paused = true;
            st.notes = notes;
            self.conflict_token += 1;
        }
        if result.is_some() {
            self.last_completion_result = result;
            self.continued_failure = None;
        } else if failure.is_some() {
            self.continued_failure = failure;
        }
        let mut actions = Vec::new();
        self.process(now, &mut actions);
        actions
    }
}
