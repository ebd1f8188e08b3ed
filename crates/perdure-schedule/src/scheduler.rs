//! The state machine of one schedule: Temporal's scheduler workflow
//! (`service/worker/scheduler/workflow.go` and `buffer.go`) as a pure function of its state, the
//! time and what its runs did.
//!
//! Every method takes `now`, changes the state and returns the [`Action`]s the caller must carry
//! out (start a workflow, cancel or terminate a running one); [`ScheduleState::next_wake`] says
//! when to call [`ScheduleState::wake`] next. Nothing here reads a clock, draws randomness or
//! does I/O: request ids are derived from the schedule id, the slot and a counter, so a replica
//! (or a retried effect) computes the same request, and a start that runs twice is deduplicated
//! by the history's request-id check.
//!
//! Starts are asynchronous here (Temporal's are a local activity inside the workflow): a start
//! handed out is *pending* until [`ScheduleState::on_started`] or
//! [`ScheduleState::on_start_failed`] reports it, and a pending start counts as running for the
//! overlap policies, exactly as the workflow's synchronous start would.
//!
//! This module must never perform an action itself, nor depend on anything but its arguments.

use std::time::Duration;

use perdure_core::Time;
use prost::Message;
use prost_wkt_types::Timestamp;
use temporalio_protos::temporal::api::common::v1::{
    Memo, Payload, Payloads, SearchAttributes, WorkflowExecution,
};
use temporalio_protos::temporal::api::enums::v1::{
    ScheduleOverlapPolicy, TaskQueueKind, WorkflowExecutionStatus, WorkflowIdReusePolicy,
};
use temporalio_protos::temporal::api::failure::v1::Failure;
use temporalio_protos::temporal::api::schedule::v1::{
    schedule_action, BackfillRequest, Schedule, ScheduleActionResult, ScheduleInfo,
    ScheduleListEntry, ScheduleListInfo, SchedulePatch, SchedulePolicies,
};
use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeScheduleResponse, StartWorkflowExecutionRequest,
};

use crate::spec::{CompiledSpec, SpecError};

/// Temporal's scheduler workflow id prefix: a schedule lives where its workflow would.
pub const SCHEDULER_WORKFLOW_ID_PREFIX: &str = "temporal-sys-scheduler:";
/// Temporal's InitialConflictToken.
pub const INITIAL_CONFLICT_TOKEN: i64 = 1;
/// Results kept in Describe's recent actions (RecentActionCount).
pub const RECENT_ACTIONS: usize = 10;
/// Times shown in Describe's future actions (FutureActionCount).
pub const FUTURE_ACTIONS: usize = 10;
/// Recent actions / future times in a List entry (RecentActionCountForList,
/// FutureActionCountForList).
pub const RECENT_ACTIONS_FOR_LIST: usize = 5;
pub const FUTURE_ACTIONS_FOR_LIST: usize = 5;
/// Catch-up window when the policy sets none, and the least one honoured.
pub const DEFAULT_CATCHUP_WINDOW: Duration = Duration::from_secs(365 * 24 * 3600);
pub const MIN_CATCHUP_WINDOW: Duration = Duration::from_secs(10);
/// Buffered starts (and pending backfills) a schedule holds at most (MaxBufferSize).
pub const MAX_BUFFER: usize = 1000;
/// Patch/update request ids remembered for dedup.
pub const RECENT_REQUEST_IDS: usize = 100;
/// Temporal's maxListMatchingTimesCount.
pub const MAX_MATCHING_TIMES: usize = 1000;
/// Slots one call steps through at most; a longer gap (a year of one-second slots) is counted
/// in bulk as missed rather than walked one by one.
const MAX_STEPS: usize = 100_000;

/// The scheduler workflow's id for a schedule.
pub fn scheduler_workflow_id(schedule_id: &str) -> String {
    format!("{SCHEDULER_WORKFLOW_ID_PREFIX}{schedule_id}")
}

/// A start waiting to be taken (Temporal's BufferedStart).
#[derive(Clone, PartialEq, Message)]
pub struct BufferedStart {
    #[prost(int64, tag = "1")]
    pub nominal: i64,
    #[prost(int64, tag = "2")]
    pub actual: i64,
    #[prost(enumeration = "ScheduleOverlapPolicy", tag = "3")]
    pub overlap_policy: i32,
    #[prost(bool, tag = "4")]
    pub manual: bool,
}

/// A start handed out and not yet reported.
#[derive(Clone, PartialEq, Message)]
pub struct PendingStart {
    #[prost(uint64, tag = "1")]
    pub seq: u64,
    #[prost(message, optional, tag = "2")]
    pub request: Option<StartWorkflowExecutionRequest>,
    /// The slot's time after jitter (ScheduleActionResult.schedule_time).
    #[prost(int64, tag = "3")]
    pub actual: i64,
    /// Not ALLOW_ALL: it takes part in overlap decisions and is tracked as running.
    #[prost(bool, tag = "4")]
    pub tracked: bool,
    /// Carried out (and `run_id` set, unless it was refused), waiting for the starts before it
    /// to be recorded first.
    #[prost(bool, tag = "5")]
    pub done: bool,
    #[prost(string, tag = "6")]
    pub run_id: String,
    #[prost(int64, tag = "7")]
    pub started_at: i64,
    /// It closed before it could be recorded (a WorkflowExecutionStatus; 0: not closed).
    #[prost(int32, tag = "8")]
    pub closed_status: i32,
}

/// Everything a schedule is, as persisted (one row).
#[derive(Clone, PartialEq, Message)]
pub struct ScheduleState {
    #[prost(string, tag = "1")]
    pub namespace: String,
    #[prost(string, tag = "2")]
    pub namespace_id: String,
    #[prost(string, tag = "3")]
    pub schedule_id: String,
    #[prost(message, optional, tag = "4")]
    pub schedule: Option<Schedule>,
    #[prost(message, optional, tag = "5")]
    pub memo: Option<Memo>,
    #[prost(message, optional, tag = "6")]
    pub search_attributes: Option<SearchAttributes>,
    /// Counters, running workflows, recent actions, create and update time.
    #[prost(message, optional, tag = "7")]
    pub info: Option<ScheduleInfo>,
    #[prost(message, repeated, tag = "8")]
    pub buffered: Vec<BufferedStart>,
    /// Every slot with a nominal time up to here has been taken, skipped or missed.
    #[prost(int64, tag = "9")]
    pub cursor: i64,
    #[prost(int64, tag = "10")]
    pub conflict_token: i64,
    #[prost(message, repeated, tag = "11")]
    pub pending: Vec<PendingStart>,
    /// Counter for request ids and pending starts.
    #[prost(uint64, tag = "12")]
    pub next_seq: u64,
    #[prost(message, repeated, tag = "13")]
    pub backfills: Vec<BackfillRequest>,
    /// The CreateSchedule request id (a repeated create with it succeeds).
    #[prost(string, tag = "14")]
    pub request_id: String,
    /// The wake timer this state waits for: older timers are stale.
    #[prost(uint64, tag = "15")]
    pub wake_generation: u64,
    #[prost(int64, tag = "16")]
    pub wake_at: i64,
    #[prost(message, optional, tag = "17")]
    pub last_completion_result: Option<Payloads>,
    #[prost(message, optional, tag = "18")]
    pub continued_failure: Option<Failure>,
    /// The namespace's retention when the schedule was created: its runs keep it.
    #[prost(uint64, tag = "19")]
    pub retention_secs: u64,
    /// Request ids of the latest patches and updates (Temporal dedups them as signals): a
    /// retried call is not applied twice.
    #[prost(string, repeated, tag = "20")]
    pub recent_request_ids: Vec<String>,
}

/// Something the caller must do for the schedule.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Start the pending start `seq` (its request is in `ScheduleState::pending`).
    Start {
        seq: u64,
    },
    Cancel(WorkflowExecution),
    Terminate(WorkflowExecution),
}

/// Why an update was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("{0}")]
    Spec(#[from] SpecError),
    /// The conflict token did not match (Temporal answers FailedPrecondition).
    #[error("conflicting concurrent update")]
    Conflict,
}

fn ts(t: i64) -> Option<Timestamp> {
    Some(Time(t).to_timestamp())
}

fn time_of(t: &Option<Timestamp>) -> Option<i64> {
    t.as_ref().map(|t| Time::from_timestamp(t).0)
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// RFC 3339 in UTC, to the second: what Temporal appends to a started workflow's id.
pub fn rfc3339_seconds(t: Time) -> String {
    let secs = t.0.div_euclid(1_000_000_000);
    match jiff::Timestamp::from_second(secs) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => secs.to_string(),
    }
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A search attribute value as Temporal's server stores it: JSON with its type named.
fn json_payload(json: String, kind: &str) -> Payload {
    Payload {
        metadata: [
            ("encoding".to_string(), b"json/plain".to_vec()),
            ("type".to_string(), kind.as_bytes().to_vec()),
        ]
        .into_iter()
        .collect(),
        data: json.into_bytes(),
        ..Default::default()
    }
}

impl ScheduleState {
    /// A new schedule as CreateSchedule makes it (already validated), with its initial patch
    /// applied.
    #[allow(clippy::too_many_arguments)]
    pub fn create(
        namespace: &str,
        namespace_id: &str,
        schedule_id: &str,
        mut schedule: Schedule,
        initial_patch: Option<&SchedulePatch>,
        memo: Option<Memo>,
        search_attributes: Option<SearchAttributes>,
        request_id: &str,
        now: Time,
    ) -> Result<(ScheduleState, Vec<Action>), ScheduleError> {
        fill_defaults(&mut schedule);
        CompiledSpec::compile(schedule.spec.as_ref().unwrap_or(&Default::default()))?;
        let mut s = ScheduleState {
            namespace: namespace.into(),
            namespace_id: namespace_id.into(),
            schedule_id: schedule_id.into(),
            schedule: Some(schedule),
            memo,
            search_attributes,
            info: Some(ScheduleInfo {
                create_time: ts(now.0),
                ..Default::default()
            }),
            cursor: now.0,
            conflict_token: INITIAL_CONFLICT_TOKEN,
            request_id: request_id.into(),
            ..Default::default()
        };
        let mut actions = Vec::new();
        if let Some(p) = initial_patch {
            s.apply_patch(p, now);
        }
        s.process(now, &mut actions);
        Ok((s, actions))
    }

    fn spec(&self) -> Option<CompiledSpec> {
        let spec = self.schedule.as_ref()?.spec.as_ref()?;
        CompiledSpec::compile(spec).ok()
    }

    fn policies(&self) -> SchedulePolicies {
        self.schedule
            .as_ref()
            .and_then(|s| s.policies)
            .unwrap_or_default()
    }

    fn info_mut(&mut self) -> &mut ScheduleInfo {
        self.info.get_or_insert_with(Default::default)
    }

    fn sched_state_mut(
        &mut self,
    ) -> &mut temporalio_protos::temporal::api::schedule::v1::ScheduleState {
        self.schedule
            .get_or_insert_with(Default::default)
            .state
            .get_or_insert_with(Default::default)
    }

    pub fn paused(&self) -> bool {
        self.schedule
            .as_ref()
            .and_then(|s| s.state.as_ref())
            .is_some_and(|s| s.paused)
    }

    fn jitter_seed(&self) -> String {
        format!("{}-{}", self.namespace_id, self.schedule_id)
    }

    fn catchup_window(&self) -> i64 {
        match self.policies().catchup_window {
            None => nanos(DEFAULT_CATCHUP_WINDOW),
            Some(d) => {
                let d = d.seconds.saturating_mul(1_000_000_000) + i64::from(d.nanos);
                d.max(nanos(MIN_CATCHUP_WINDOW))
            }
        }
    }

    fn resolve(&self, policy: i32) -> ScheduleOverlapPolicy {
        let p = if policy == ScheduleOverlapPolicy::Unspecified as i32 {
            self.policies().overlap_policy
        } else {
            policy
        };
        match ScheduleOverlapPolicy::try_from(p) {
            Ok(ScheduleOverlapPolicy::Unspecified) | Err(_) => ScheduleOverlapPolicy::Skip,
            Ok(p) => p,
        }
    }

    /// Temporal's canTakeScheduledAction: manual actions ignore pause and the action limit.
    fn can_take(&mut self, manual: bool, decrement: bool) -> bool {
        if manual {
            return true;
        }
        let st = self.sched_state_mut();
        if st.paused {
            return false;
        }
        if !st.limited_actions {
            return true;
        }
        if st.remaining_actions > 0 {
            if decrement {
                st.remaining_actions -= 1;
                self.conflict_token += 1;
            }
            return true;
        }
        false
    }

    /// The wake-up for the slots that come due: their time arrived.
    pub fn wake(&mut self, now: Time) -> Vec<Action> {
        let mut actions = Vec::new();
        self.process(now, &mut actions);
        actions
    }

    /// PatchSchedule: trigger, backfill, pause, unpause (the time up to now is processed first,
    /// as the workflow does before it reads a signal).
    pub fn patch(&mut self, patch: &SchedulePatch, now: Time) -> Vec<Action> {
        let mut actions = Vec::new();
        self.process_time_range(now);
        self.apply_patch(patch, now);
        self.process(now, &mut actions);
        actions
    }

    fn apply_patch(&mut self, patch: &SchedulePatch, now: Time) {
        if let Some(t) = &patch.trigger_immediately {
            let at = time_of(&t.scheduled_time)
                .filter(|t| *t != 0)
                .unwrap_or(now.0);
            self.add_start(at, at, t.overlap_policy, true);
        }
        for b in &patch.backfill_request {
            if self.backfills.len() >= MAX_BUFFER {
                self.info_mut().buffer_dropped += 1;
                continue;
            }
            let mut b = *b;
            // The start time is inclusive (InclusiveBackfillStartTime).
            let start = time_of(&b.start_time).unwrap_or(0) - 1_000_000;
            b.start_time = ts(start);
            self.backfills.push(b);
        }
        if !patch.pause.is_empty() {
            let st = self.sched_state_mut();
            st.paused = true;
            st.notes = patch.pause.clone();
            self.conflict_token += 1;
        }
        if !patch.unpause.is_empty() {
            let st = self.sched_state_mut();
            st.paused = false;
            st.notes = patch.unpause.clone();
            self.conflict_token += 1;
        }
    }

    /// UpdateSchedule: replaces spec, action, policies and state (not info); `search_attributes`
    /// None leaves them, Some replaces them. Slots before now are not run under the new spec.
    pub fn update(
        &mut self,
        mut schedule: Schedule,
        search_attributes: Option<SearchAttributes>,
        conflict_token: i64,
        now: Time,
    ) -> Result<Vec<Action>, ScheduleError> {
        if conflict_token != 0 && conflict_token != self.conflict_token {
            return Err(ScheduleError::Conflict);
        }
        fill_defaults(&mut schedule);
        CompiledSpec::compile(schedule.spec.as_ref().unwrap_or(&Default::default()))?;
        let mut actions = Vec::new();
        self.process_time_range(now);
        self.schedule = Some(schedule);
        if let Some(sa) = search_attributes {
            self.search_attributes = Some(sa);
        }
        self.cursor = self.cursor.max(now.0);
        self.info_mut().update_time = ts(now.0);
        self.conflict_token += 1;
        self.process(now, &mut actions);
        Ok(actions)
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
    fn settle(&mut self, seq: u64, run_id: &str, now: Time) -> Vec<Action> {
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

    /// The workflow loop's body: the slots that came due, backfills, then the buffer.
    fn process(&mut self, now: Time, actions: &mut Vec<Action>) {
        self.process_time_range(now);
        self.process_backfills();
        while self.process_buffer(actions) {}
    }

    /// Takes every slot whose time has come (nominal after the cursor, actual at or before
    /// now) into the buffer, or counts it missed.
    fn process_time_range(&mut self, now: Time) {
        let Some(spec) = self.spec() else {
            return;
        };
        if !self.can_take(false, false) {
            // Paused or out of actions: the time passes without slots.
            self.cursor = self.cursor.max(now.0);
            return;
        }
        let catchup = self.catchup_window();
        let update_time = self
            .info
            .as_ref()
            .and_then(|i| time_of(&i.update_time))
            .unwrap_or(0);
        let seed = self.jitter_seed();
        let mut steps = 0;
        while let Some(slot) = spec.next(Time(self.cursor), &seed) {
            if slot.actual.0 > now.0 {
                break;
            }
            self.cursor = slot.nominal.0;
            steps += 1;
            if steps > MAX_STEPS {
                // A gap this long is not walked slot by slot (a write holds the schedule's
                // lock): first to the catch-up window's start (what lies before is missed),
                // then, if still too many, to now (the buffer, at most MAX_BUFFER, is full by
                // then, so what is skipped would have been dropped anyway).
                self.info_mut().missed_catchup_window += 1;
                let window_start = now.0 - catchup;
                self.cursor = if window_start > self.cursor {
                    window_start
                } else {
                    now.0
                };
                steps = 0;
                continue;
            }
            if update_time > slot.nominal.0 {
                continue;
            }
            if now.0 - slot.actual.0 > catchup {
                self.info_mut().missed_catchup_window += 1;
                continue;
            }
            self.add_start(
                slot.nominal.0,
                slot.actual.0,
                ScheduleOverlapPolicy::Unspecified as i32,
                false,
            );
        }
    }

    fn add_start(&mut self, nominal: i64, actual: i64, overlap_policy: i32, manual: bool) {
        if self.buffered.len() >= MAX_BUFFER {
            self.info_mut().buffer_dropped += 1;
            return;
        }
        self.buffered.push(BufferedStart {
            nominal,
            actual,
            overlap_policy,
            manual,
        });
    }

    /// Backfills fill at most half the buffer at a time; the rest waits for a later call.
    fn process_backfills(&mut self) {
        let Some(spec) = self.spec() else {
            self.backfills.clear();
            return;
        };
        let seed = self.jitter_seed();
        while !self.backfills.is_empty() && self.buffered.len() < MAX_BUFFER / 2 {
            let b = &mut self.backfills[0];
            let start = time_of(&b.start_time).unwrap_or(0);
            let end = time_of(&b.end_time).unwrap_or(0);
            let policy = b.overlap_policy;
            match spec.next(Time(start), &seed) {
                Some(slot) if slot.actual.0 <= end => {
                    b.start_time = ts(slot.nominal.0);
                    self.add_start(slot.nominal.0, slot.actual.0, policy, true);
                }
                _ => {
                    self.backfills.remove(0);
                }
            }
        }
    }

    fn running(&self) -> bool {
        self.info
            .as_ref()
            .is_some_and(|i| !i.running_workflows.is_empty())
            || self
                .pending
                .iter()
                .any(|p| p.tracked && !(p.done && (p.run_id.is_empty() || p.closed_status != 0)))
    }

    /// Temporal's processBuffer (buffer.go's ProcessBuffer plus the starts it decides);
    /// true when it should run again at once.
    fn process_buffer(&mut self, actions: &mut Vec<Action>) -> bool {
        let has_action = matches!(
            self.schedule
                .as_ref()
                .and_then(|s| s.action.as_ref())
                .and_then(|a| a.action.as_ref()),
            Some(schedule_action::Action::StartWorkflow(_))
        );
        if !has_action || self.buffered.is_empty() {
            self.buffered.clear();
            return false;
        }
        if self.pending.len() >= MAX_BUFFER {
            // Starts are not being carried out (the effect runner cannot reach their shards):
            // the rest waits in the buffer, which drops what overflows, as Temporal's does
            // while its start activity retries.
            return false;
        }
        let is_running = self.running();
        let mut overlapping = Vec::new();
        let mut non_overlapping: Option<BufferedStart> = None;
        let mut new_buffer = Vec::new();
        let (mut need_cancel, mut need_terminate) = (false, false);
        let mut skipped = 0;
        for start in std::mem::take(&mut self.buffered) {
            let policy = self.resolve(start.overlap_policy);
            if policy == ScheduleOverlapPolicy::AllowAll {
                overlapping.push(start);
                continue;
            }
            if !is_running && non_overlapping.is_none() {
                non_overlapping = Some(start);
                continue;
            }
            match policy {
                ScheduleOverlapPolicy::BufferOne => {
                    if new_buffer.is_empty() {
                        new_buffer.push(start);
                    } else {
                        skipped += 1;
                    }
                }
                ScheduleOverlapPolicy::BufferAll => new_buffer.push(start),
                ScheduleOverlapPolicy::CancelOther | ScheduleOverlapPolicy::TerminateOther => {
                    if is_running {
                        if policy == ScheduleOverlapPolicy::CancelOther {
                            need_cancel = true;
                        } else {
                            need_terminate = true;
                        }
                        new_buffer.push(start);
                    } else {
                        non_overlapping = Some(start);
                    }
                }
                _ => skipped += 1,
            }
        }
        if need_cancel || need_terminate {
            overlapping.clear();
        }
        self.buffered = new_buffer;
        self.info_mut().overlap_skipped += skipped;
        let mut try_again = false;
        for (start, tracked) in overlapping
            .into_iter()
            .map(|s| (s, false))
            .chain(non_overlapping.map(|s| (s, true)))
        {
            if !self.can_take(start.manual, true) {
                try_again = true;
                continue;
            }
            let seq = self.begin_start(&start, tracked);
            actions.push(Action::Start { seq });
        }
        if need_terminate || need_cancel {
            let running = self
                .info
                .as_ref()
                .map(|i| i.running_workflows.clone())
                .unwrap_or_default();
            for ex in running {
                actions.push(if need_terminate {
                    Action::Terminate(ex)
                } else {
                    Action::Cancel(ex)
                });
            }
        }
        // A start refused for pause or limits is dropped; what is left may still start.
        try_again && !self.buffered.is_empty()
    }

    /// Builds the start request of a slot and records it as pending.
    fn begin_start(&mut self, start: &BufferedStart, tracked: bool) -> u64 {
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

    /// True when a patch or update with `request_id` was already applied; otherwise remembers
    /// it (the caller then applies the call). An empty id is never a repeat.
    pub fn repeated_request(&mut self, request_id: &str) -> bool {
        if request_id.is_empty() {
            return false;
        }
        if self.recent_request_ids.iter().any(|r| r == request_id) {
            return true;
        }
        self.recent_request_ids.push(request_id.to_string());
        let extra = self
            .recent_request_ids
            .len()
            .saturating_sub(RECENT_REQUEST_IDS);
        self.recent_request_ids.drain(..extra);
        false
    }

    /// Who the schedule's starts, cancels and terminations say they are from.
    pub fn identity(&self) -> String {
        format!("temporal-scheduler-{}-{}", self.namespace, self.schedule_id)
    }

    /// The start request of a pending start.
    pub fn pending_start(&self, seq: u64) -> Option<&StartWorkflowExecutionRequest> {
        self.pending
            .iter()
            .find(|p| p.seq == seq && !p.done)
            .and_then(|p| p.request.as_ref())
    }

    /// When [`ScheduleState::wake`] must run next: the next slot's time (never while paused or
    /// out of actions; backfills waiting for buffer room resume when a run closes).
    pub fn next_wake(&self) -> Option<Time> {
        let st = self.schedule.as_ref().and_then(|s| s.state.as_ref());
        if st.is_some_and(|st| st.paused || (st.limited_actions && st.remaining_actions <= 0)) {
            return None;
        }
        let spec = self.spec()?;
        spec.next(Time(self.cursor), &self.jitter_seed())
            .map(|slot| slot.actual)
    }

    /// The next `n` action times after the cursor (Temporal's getFutureActionTimes).
    pub fn future_action_times(&self, n: usize) -> Vec<Timestamp> {
        let Some(spec) = self.spec() else {
            return Vec::new();
        };
        let st = self
            .schedule
            .as_ref()
            .and_then(|s| s.state.clone())
            .unwrap_or_default();
        let n = if st.limited_actions {
            n.min(usize::try_from(st.remaining_actions.max(0)).unwrap_or(0))
        } else {
            n
        };
        let update_time = self
            .info
            .as_ref()
            .and_then(|i| time_of(&i.update_time))
            .unwrap_or(0);
        let seed = self.jitter_seed();
        let mut out = Vec::new();
        let mut t = Time(self.cursor);
        let mut steps = 0;
        while out.len() < n && steps < MAX_STEPS {
            steps += 1;
            let Some(slot) = spec.next(t, &seed) else {
                break;
            };
            t = slot.nominal;
            if update_time > slot.nominal.0 {
                continue;
            }
            out.push(slot.actual.to_timestamp());
        }
        out
    }

    /// DescribeSchedule's answer.
    pub fn describe(&self) -> DescribeScheduleResponse {
        let mut info = self.info.clone().unwrap_or_default();
        info.future_action_times = self.future_action_times(FUTURE_ACTIONS);
        info.buffer_size = self.buffered.len() as i64;
        let mut schedule = self.schedule.clone().unwrap_or_default();
        if let (Some(spec), Some(compiled)) = (schedule.spec.as_ref(), self.spec()) {
            schedule.spec = Some(compiled.canonical(spec));
        }
        DescribeScheduleResponse {
            schedule: Some(schedule),
            info: Some(info),
            memo: self.memo.clone(),
            search_attributes: self.search_attributes.clone(),
            conflict_token: self.conflict_token.to_be_bytes().to_vec(),
        }
    }

    /// ListSchedules' entry.
    pub fn list_entry(&self) -> ScheduleListEntry {
        let schedule = self.schedule.clone().unwrap_or_default();
        let mut spec = schedule.spec.clone().unwrap_or_default();
        if let Some(compiled) = self.spec() {
            spec = compiled.canonical(&spec);
        }
        spec.timezone_data.clear();
        let st = schedule.state.clone().unwrap_or_default();
        let recent = self
            .info
            .as_ref()
            .map(|i| {
                let skip = i
                    .recent_actions
                    .len()
                    .saturating_sub(RECENT_ACTIONS_FOR_LIST);
                i.recent_actions[skip..].to_vec()
            })
            .unwrap_or_default();
        let workflow_type = match schedule.action.and_then(|a| a.action) {
            Some(schedule_action::Action::StartWorkflow(w)) => w.workflow_type,
            _ => None,
        };
        ScheduleListEntry {
            schedule_id: self.schedule_id.clone(),
            memo: Some(self.memo.clone().unwrap_or_default()),
            search_attributes: self.search_attributes.clone(),
            info: Some(ScheduleListInfo {
                spec: Some(spec),
                workflow_type,
                notes: st.notes,
                paused: st.paused,
                recent_actions: recent,
                future_action_times: self.future_action_times(FUTURE_ACTIONS_FOR_LIST),
                ..Default::default()
            }),
        }
    }

    /// ListScheduleMatchingTimes: every action time in (start, end], at most 1000.
    pub fn matching_times(&self, start: Time, end: Time) -> Vec<Timestamp> {
        let Some(spec) = self.spec() else {
            return Vec::new();
        };
        let seed = self.jitter_seed();
        let mut out = Vec::new();
        let mut t = start;
        while out.len() < MAX_MATCHING_TIMES {
            let Some(slot) = spec.next(t, &seed) else {
                break;
            };
            if slot.actual > end {
                break;
            }
            t = slot.nominal;
            out.push(slot.actual.to_timestamp());
        }
        out
    }
}

/// What Temporal fills into a schedule it stores (as Describe shows it): the overlap policy
/// (SKIP) and catch-up window (a year) when unset, a normal task queue kind.
fn fill_defaults(schedule: &mut Schedule) {
    schedule.spec.get_or_insert_with(Default::default);
    let p = schedule.policies.get_or_insert_with(Default::default);
    if p.overlap_policy == ScheduleOverlapPolicy::Unspecified as i32 {
        p.overlap_policy = ScheduleOverlapPolicy::Skip as i32;
    }
    if p.catchup_window.is_none() {
        p.catchup_window = Some(prost_wkt_types::Duration {
            seconds: DEFAULT_CATCHUP_WINDOW.as_secs() as i64,
            nanos: 0,
        });
    }
    schedule.state.get_or_insert_with(Default::default);
    if let Some(schedule_action::Action::StartWorkflow(w)) =
        schedule.action.as_mut().and_then(|a| a.action.as_mut())
    {
        if let Some(tq) = w.task_queue.as_mut() {
            if tq.kind == TaskQueueKind::Unspecified as i32 {
                tq.kind = TaskQueueKind::Normal as i32;
            }
        }
    }
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
