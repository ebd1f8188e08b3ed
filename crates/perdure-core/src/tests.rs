//! Whole-workflow tests: drive runs through the public API the way the history layer does
//! and assert exact event sequences, ids and tasks.

use std::time::Duration;

use prost::Message;
use temporalio_protos::temporal::api::{
    command::v1::{
        command::Attributes as Cmd, CancelTimerCommandAttributes, Command,
        CompleteWorkflowExecutionCommandAttributes, ScheduleActivityTaskCommandAttributes,
        StartTimerCommandAttributes,
    },
    common::v1::{ActivityType, Payload, Payloads, RetryPolicy, WorkflowType},
    enums::v1::{
        CommandType, EventType, RetryState, TimeoutType, WorkflowExecutionStatus,
        WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowTaskFailedCause,
    },
    failure::v1::{failure::FailureInfo, ApplicationFailureInfo, Failure},
    history::v1::{history_event::Attributes, HistoryEvent},
    sdk::v1::WorkflowTaskCompletedMetadata,
    taskqueue::v1::TaskQueue,
    workflowservice::v1::{RespondWorkflowTaskCompletedRequest, StartWorkflowExecutionRequest},
};

use crate::*;

mod cancel_activity;
mod cancel_workflow;
mod child;
mod continue_as_new;
mod cron;
mod delete_workflow;
mod event_clock;
mod external;
mod pause_activity;
mod query;
mod reset;
mod reset_activity;
mod retention;
mod run_info;
mod signal;
mod sticky;
mod update;
mod update_activity_options;
mod workflow_retry;

const SEC: i64 = 1_000_000_000;

fn at(secs: i64) -> Time {
    Time(1_700_000_000 * SEC + secs * SEC)
}

/// A run plus the history the caller would have persisted.
struct Run {
    ms: MutableState,
    history: Vec<HistoryEvent>,
    timers: Vec<TimerTask>,
    transfers: Vec<TransferTask>,
}

/// The start of workflow "wf" (run "run-1") that every test run begins with.
fn start_params(run_timeout: Option<Duration>) -> StartParams {
    StartParams {
        request: StartWorkflowExecutionRequest {
            namespace: "default".into(),
            workflow_id: "wf".into(),
            workflow_type: Some(WorkflowType { name: "Wf".into() }),
            task_queue: Some(TaskQueue {
                name: "tq".into(),
                ..Default::default()
            }),
            request_id: "req-1".into(),
            identity: "client".into(),
            workflow_run_timeout: run_timeout.map(duration_to_proto),
            ..Default::default()
        },
        namespace_id: "ns-id".into(),
        run_id: "run-1".into(),
        first_execution_run_id: String::new(),
        attempt: 0,
        retention: None,
        parent: None,
    }
}

impl Run {
    fn start(run_timeout: Option<Duration>) -> Run {
        let (ms, m) = start_workflow(start_params(run_timeout), at(0)).unwrap();
        let mut run = Run {
            ms,
            history: vec![],
            timers: vec![],
            transfers: vec![],
        };
        run.apply(m);
        run
    }

    fn apply(&mut self, m: Mutation) -> Mutation {
        for e in &m.events {
            assert_eq!(
                e.event_id,
                self.history.len() as i64 + 1,
                "ids must be gap-free"
            );
            assert!(e.event_time.is_some());
            self.history.push(e.clone());
        }
        assert_eq!(self.ms.next_event_id, self.history.len() as i64 + 1);
        self.timers.extend(m.timer_tasks.iter().cloned());
        self.transfers.extend(m.transfer_tasks.iter().cloned());
        m
    }

    fn types(&self) -> Vec<EventType> {
        types(&self.history)
    }

    fn poll_wft(&mut self, now: Time) -> WorkflowTaskDispatch {
        let sid = self
            .ms
            .workflow_task
            .as_ref()
            .expect("pending wft")
            .scheduled_event_id;
        let (m, d) = self
            .ms
            .record_workflow_task_started(
                EventId(sid),
                &TaskQueue::default(),
                &format!("poll-{}", now.0),
                "worker",
                now,
            )
            .unwrap();
        self.apply(m);
        d
    }

    fn complete(
        &mut self,
        d: &WorkflowTaskDispatch,
        commands: Vec<Command>,
        now: Time,
    ) -> WorkflowTaskCompletion {
        let req = RespondWorkflowTaskCompletedRequest {
            commands,
            identity: "worker".into(),
            sdk_metadata: Some(WorkflowTaskCompletedMetadata {
                core_used_flags: vec![1, 2],
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = self
            .ms
            .complete_workflow_task(&d.token, &req, now, &next_run(), &Default::default())
            .unwrap();
        self.apply(c.mutation.clone());
        c
    }

    fn poll_activity(&mut self, sid: i64, now: Time) -> ActivityDispatch {
        let attempt = self.ms.activities[&sid].attempt;
        let (m, d) = self
            .ms
            .record_activity_task_started(
                EventId(sid),
                attempt,
                &format!("apoll-{}", now.0),
                "aworker",
                now,
            )
            .unwrap();
        self.apply(m);
        d
    }

    fn fire(&mut self, pred: impl Fn(&timer_task::Kind) -> bool, now: Time) -> Mutation {
        let idx = self
            .timers
            .iter()
            .rposition(|t| t.kind.as_ref().is_some_and(&pred))
            .expect("timer armed");
        let t = self.timers.remove(idx);
        assert!(t.fire_time() <= now, "fired before due");
        let m = self.ms.fire_timer(&t, now, &next_run()).unwrap();
        self.apply(m)
    }
}

fn start_with(req: StartWorkflowExecutionRequest, now: Time) -> Run {
    let (ms, m) = start_workflow(
        StartParams {
            request: req,
            namespace_id: "ns-id".into(),
            run_id: "run-1".into(),
            first_execution_run_id: String::new(),
            attempt: 1,
            retention: None,
            parent: None,
        },
        now,
    )
    .unwrap();
    let mut run = Run {
        ms,
        history: vec![],
        timers: vec![],
        transfers: vec![],
    };
    run.apply(m);
    run
}

/// The run a mutation created, with its first mutation applied.
fn successor(m: &Mutation) -> Run {
    let new = m.new_run.as_ref().expect("a new run");
    let mut run = Run {
        ms: new.state.clone(),
        history: vec![],
        timers: vec![],
        transfers: vec![],
    };
    run.apply(new.mutation.clone());
    run
}

fn ids(run_id: &str) -> NewRunIds {
    NewRunIds {
        run_id: run_id.into(),
        request_id: format!("req-{run_id}"),
        min_interval: WORKFLOW_ID_REUSE_MINIMAL_INTERVAL,
    }
}

/// Runs the pending workflow task and completes it with `commands`, returning the mutation.
fn run_task(run: &mut Run, commands: Vec<Command>, now: Time, next: &NewRunIds) -> Mutation {
    let d = run.poll_wft(now);
    let req = RespondWorkflowTaskCompletedRequest {
        commands,
        identity: "worker".into(),
        ..Default::default()
    };
    let c = run
        .ms
        .complete_workflow_task(&d.token, &req, now, next, &Default::default())
        .unwrap();
    assert!(c.rejection.is_none());
    run.apply(c.mutation)
}

fn started(
    run: &Run,
) -> &temporalio_protos::temporal::api::history::v1::WorkflowExecutionStartedEventAttributes {
    match &run.history[0].attributes {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => a,
        other => panic!("not a start: {other:?}"),
    }
}

/// Ids for the run an operation may start (a workflow retry).
fn next_run() -> NewRunIds {
    NewRunIds {
        run_id: "run-next".into(),
        request_id: "req-next".into(),
        min_interval: WORKFLOW_ID_REUSE_MINIMAL_INTERVAL,
    }
}

fn types(events: &[HistoryEvent]) -> Vec<EventType> {
    events
        .iter()
        .map(|e| EventType::try_from(e.event_type).unwrap())
        .collect()
}

fn cmd(command_type: CommandType, attrs: Cmd) -> Command {
    Command {
        command_type: command_type as i32,
        attributes: Some(attrs),
        ..Default::default()
    }
}

fn schedule_activity(id: &str, retry: Option<RetryPolicy>) -> Command {
    cmd(
        CommandType::ScheduleActivityTask,
        Cmd::ScheduleActivityTaskCommandAttributes(ScheduleActivityTaskCommandAttributes {
            activity_id: id.into(),
            activity_type: Some(ActivityType {
                name: "bang".into(),
            }),
            start_to_close_timeout: Some(duration_to_proto(Duration::from_secs(10))),
            retry_policy: retry,
            input: Some(payloads("in")),
            ..Default::default()
        }),
    )
}

fn complete_wf() -> Command {
    cmd(
        CommandType::CompleteWorkflowExecution,
        Cmd::CompleteWorkflowExecutionCommandAttributes(
            CompleteWorkflowExecutionCommandAttributes {
                result: Some(payloads("done")),
            },
        ),
    )
}

fn start_timer(id: &str, secs: u64) -> Command {
    cmd(
        CommandType::StartTimer,
        Cmd::StartTimerCommandAttributes(StartTimerCommandAttributes {
            timer_id: id.into(),
            start_to_fire_timeout: Some(duration_to_proto(Duration::from_secs(secs))),
        }),
    )
}

fn payloads(s: &str) -> Payloads {
    Payloads {
        payloads: vec![Payload {
            data: s.as_bytes().to_vec(),
            ..Default::default()
        }],
    }
}

fn app_failure(msg: &str) -> Failure {
    Failure {
        message: msg.into(),
        failure_info: Some(FailureInfo::ApplicationFailureInfo(
            ApplicationFailureInfo {
                r#type: "Boom".into(),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

fn is_activity_retry(k: &timer_task::Kind) -> bool {
    matches!(k, timer_task::Kind::ActivityRetry(_))
}

fn is_activity_timeout(ty: TimeoutType) -> impl Fn(&timer_task::Kind) -> bool {
    move |k| matches!(k, timer_task::Kind::ActivityTimeout(t) if t.timeout_type == ty as i32)
}

use EventType as E;

#[test]
fn one_activity_workflow_has_eleven_events() {
    let mut run = Run::start(None);
    assert_eq!(run.transfers.len(), 1);
    let d = run.poll_wft(at(1));
    assert_eq!(d.started_event_id, EventId(3));
    assert_eq!(d.previous_started_event_id, EventId(0));
    assert!(d.transient_events.is_empty());
    run.complete(&d, vec![schedule_activity("1", None)], at(2));
    let ad = run.poll_activity(5, at(3));
    assert_eq!(ad.response.attempt, 1);
    assert_eq!(ad.response.activity_id, "1");
    assert_eq!(
        ad.response.workflow_execution.as_ref().unwrap().run_id,
        "run-1"
    );
    assert!(ad.response.retry_policy.is_some());
    assert!(!ad.response.task_token.starts_with(b"local_act_"));
    let m = run
        .ms
        .complete_activity(&ad.token, Some(payloads("out")), "aworker", at(4))
        .unwrap();
    run.apply(m);
    let d2 = run.poll_wft(at(5));
    assert_eq!(d2.previous_started_event_id, EventId(3));
    assert_eq!(d2.started_event_id, EventId(9));
    let c = run.complete(&d2, vec![complete_wf()], at(6));
    assert!(c.rejection.is_none());
    assert!(c.mutation.closed);

    assert_eq!(
        run.types(),
        vec![
            E::WorkflowExecutionStarted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::ActivityTaskScheduled,
            E::ActivityTaskStarted,
            E::ActivityTaskCompleted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::WorkflowExecutionCompleted,
        ]
    );
    let h = &run.history;
    match &h[0].attributes {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => {
            assert_eq!(a.original_execution_run_id, "run-1");
            assert_eq!(a.first_execution_run_id, "run-1");
            assert_eq!(a.attempt, 1);
            assert_eq!(
                duration_from_proto(a.workflow_task_timeout.as_ref()),
                Duration::from_secs(10)
            );
            assert_eq!(a.task_queue.as_ref().unwrap().kind, 1);
        }
        other => panic!("{other:?}"),
    }
    match &h[3].attributes {
        Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) => {
            assert_eq!((a.scheduled_event_id, a.started_event_id), (2, 3));
            assert_eq!(a.sdk_metadata.as_ref().unwrap().core_used_flags, vec![1, 2]);
        }
        other => panic!("{other:?}"),
    }
    match &h[4].attributes {
        Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => {
            assert_eq!(a.workflow_task_completed_event_id, 4);
            assert_eq!(a.task_queue.as_ref().unwrap().name, "tq");
            assert_eq!(a.retry_policy.as_ref().unwrap().backoff_coefficient, 2.0);
        }
        other => panic!("{other:?}"),
    }
    match &h[5].attributes {
        Some(Attributes::ActivityTaskStartedEventAttributes(a)) => {
            assert_eq!((a.scheduled_event_id, a.attempt), (5, 1));
            assert_eq!(h[5].event_time, Some(at(3).to_timestamp()));
        }
        other => panic!("{other:?}"),
    }
    match &h[6].attributes {
        Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => {
            assert_eq!((a.scheduled_event_id, a.started_event_id), (5, 6));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.ms.status, WorkflowExecutionStatus::Completed as i32);
    assert_eq!(run.ms.completion_event_id, 11);
    let desc = run.ms.describe();
    assert_eq!(desc.workflow_execution_info.unwrap().history_length, 11);
}

#[test]
fn timer_workflow_and_stale_timer() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![start_timer("t1", 5)], at(2));
    assert_eq!(run.timers.last().unwrap().fire_time(), at(7));
    run.fire(|k| matches!(k, timer_task::Kind::UserTimer(_)), at(7));
    let d2 = run.poll_wft(at(8));
    run.complete(&d2, vec![complete_wf()], at(9));
    assert_eq!(
        run.types(),
        vec![
            E::WorkflowExecutionStarted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::TimerStarted,
            E::TimerFired,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::WorkflowExecutionCompleted,
        ]
    );
    match &run.history[5].attributes {
        Some(Attributes::TimerFiredEventAttributes(a)) => {
            assert_eq!((a.timer_id.as_str(), a.started_event_id), ("t1", 5));
        }
        other => panic!("{other:?}"),
    }
    match &run.history[4].attributes {
        Some(Attributes::TimerStartedEventAttributes(a)) => {
            assert_eq!(a.workflow_task_completed_event_id, 4)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn activity_fails_twice_then_succeeds_with_server_side_retries() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![schedule_activity("1", None)], at(2));
    let before = run.history.len();

    let a1 = run.poll_activity(5, at(3));
    let m = run
        .ms
        .fail_activity(&a1.token, Some(app_failure("one")), None, "aworker", at(4))
        .unwrap();
    let m = run.apply(m);
    assert!(m.events.is_empty() && m.transfer_tasks.is_empty());
    assert_eq!(m.timer_tasks[0].fire_time(), at(5)); // initial interval 1s
                                                     // The old attempt's token is dead, and so is dispatch before the backoff ends.
    assert!(matches!(
        run.ms.complete_activity(&a1.token, None, "x", at(4)),
        Err(CoreError::NotFound(_))
    ));
    assert!(run
        .ms
        .record_activity_task_started(EventId(5), 2, "r", "w", at(4))
        .is_err());
    let m = run.fire(is_activity_retry, at(5));
    assert!(m.events.is_empty());
    assert!(matches!(
        m.transfer_tasks[0].kind,
        Some(transfer_task::Kind::ActivityTask(TaskRef {
            attempt: 2,
            ..
        }))
    ));

    let a2 = run.poll_activity(5, at(6));
    assert_eq!(a2.response.attempt, 2);
    let m = run
        .ms
        .fail_activity(&a2.token, Some(app_failure("two")), None, "aworker", at(7))
        .unwrap();
    let m = run.apply(m);
    assert_eq!(m.timer_tasks[0].fire_time(), at(9)); // 2s backoff
    run.fire(is_activity_retry, at(9));
    let a3 = run.poll_activity(5, at(10));
    assert_eq!(a3.response.attempt, 3);
    assert_eq!(run.history.len(), before, "no history during retries");

    let m = run
        .ms
        .complete_activity(&a3.token, Some(payloads("ok")), "aworker", at(11))
        .unwrap();
    run.apply(m);
    assert_eq!(
        types(&run.history[before..]),
        vec![
            E::ActivityTaskStarted,
            E::ActivityTaskCompleted,
            E::WorkflowTaskScheduled
        ]
    );
    match &run.history[before].attributes {
        Some(Attributes::ActivityTaskStartedEventAttributes(a)) => {
            assert_eq!(a.attempt, 3);
            assert_eq!(a.last_failure.as_ref().unwrap().message, "two");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn activity_start_to_close_timeout_retries_then_times_out() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let policy = RetryPolicy {
        maximum_attempts: 2,
        ..Default::default()
    };
    run.complete(&d, vec![schedule_activity("1", Some(policy))], at(2));
    let before = run.history.len();
    run.poll_activity(5, at(3));
    let m = run.fire(is_activity_timeout(TimeoutType::StartToClose), at(13));
    assert!(m.events.is_empty());
    assert!(m
        .timer_tasks
        .iter()
        .any(|t| matches!(t.kind, Some(timer_task::Kind::ActivityRetry(_)))));
    assert_eq!(run.ms.activities[&5].attempt, 2);
    run.fire(is_activity_retry, at(14));
    run.poll_activity(5, at(15));
    run.fire(is_activity_timeout(TimeoutType::StartToClose), at(25));
    assert_eq!(
        types(&run.history[before..]),
        vec![
            E::ActivityTaskStarted,
            E::ActivityTaskTimedOut,
            E::WorkflowTaskScheduled
        ]
    );
    match &run.history[before + 1].attributes {
        Some(Attributes::ActivityTaskTimedOutEventAttributes(a)) => {
            assert_eq!(a.retry_state, RetryState::MaximumAttemptsReached as i32);
            assert_eq!(a.started_event_id, run.history[before].event_id);
            let f = a.failure.as_ref().unwrap();
            assert!(
                matches!(&f.failure_info, Some(FailureInfo::TimeoutFailureInfo(t)) if t.timeout_type == TimeoutType::StartToClose as i32)
            );
            assert!(
                f.cause.is_some(),
                "cause carries the previous attempt's failure"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(run.ms.activities.is_empty());
}

#[test]
fn events_during_started_workflow_task_are_buffered_then_flushed() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(
        &d,
        vec![schedule_activity("1", None), start_timer("t", 1)],
        at(2),
    );
    // 5 ActivityTaskScheduled, 6 TimerStarted
    let ad = run.poll_activity(5, at(3));
    run.fire(|k| matches!(k, timer_task::Kind::UserTimer(_)), at(3)); // 7 TimerFired, 8 WFT Scheduled
    let d2 = run.poll_wft(at(4)); // 9 Started
    let m = run
        .ms
        .complete_activity(&ad.token, Some(payloads("x")), "aworker", at(5))
        .unwrap();
    let m = run.apply(m);
    assert!(m.events.is_empty(), "buffered while the task runs");
    assert_eq!(run.ms.buffered_events.len(), 2);
    let c = run.complete(&d2, vec![], at(6));
    assert!(c.rejection.is_none());
    assert_eq!(
        types(&run.history[9..]),
        vec![
            E::WorkflowTaskCompleted,
            E::ActivityTaskStarted,
            E::ActivityTaskCompleted,
            E::WorkflowTaskScheduled
        ]
    );
    match &run.history[11].attributes {
        Some(Attributes::ActivityTaskCompletedEventAttributes(a)) => {
            assert_eq!((a.scheduled_event_id, a.started_event_id), (5, 11));
        }
        other => panic!("{other:?}"),
    }
    assert!(run.ms.buffered_events.is_empty());
}

#[test]
fn complete_with_buffered_events_is_unhandled_command() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![start_timer("t", 1)], at(2)); // 5 TimerStarted
    run.fire(|k| matches!(k, timer_task::Kind::UserTimer(_)), at(3)); // 6 Fired, 7 Scheduled
    let d2 = run.poll_wft(at(4)); // 8 Started
    run.complete(&d2, vec![start_timer("t2", 1)], at(5)); // 9 Completed, 10 TimerStarted, no WFT
    assert!(run.ms.workflow_task.is_none());
    run.fire(|k| matches!(k, timer_task::Kind::UserTimer(_)), at(6)); // 11 Fired, 12 Scheduled
    let d3 = run.poll_wft(at(7)); // 13 Started
    run.complete(&d3, vec![start_timer("t3", 1)], at(8)); // 14 Completed, 15 TimerStarted
    run.fire(|k| matches!(k, timer_task::Kind::UserTimer(_)), at(9)); // 16 Fired, 17 Scheduled
    let d4 = run.poll_wft(at(10)); // 18 Started
    run.complete(
        &d4,
        vec![start_timer("t4", 1), start_timer("t5", 1)],
        at(11),
    ); // 19, 20, 21
    run.fire(
        |k| matches!(k, timer_task::Kind::UserTimer(u) if u.timer_id == "t4"),
        at(12),
    ); // 22 Fired, 23 Scheduled
    let d5 = run.poll_wft(at(13)); // 24 Started
    let m = run.fire(
        |k| matches!(k, timer_task::Kind::UserTimer(u) if u.timer_id == "t5"),
        at(14),
    );
    assert!(m.events.is_empty());
    let c = run.complete(&d5, vec![complete_wf()], at(15));
    assert_eq!(c.rejection, Some(CoreError::UnhandledCommand));
    assert_eq!(
        c.rejection.as_ref().unwrap().to_string(),
        "UnhandledCommand"
    );
    assert_eq!(
        types(&c.mutation.events),
        vec![
            E::WorkflowTaskFailed,
            E::TimerFired,
            E::WorkflowTaskScheduled
        ]
    );
    match &c.mutation.events[0].attributes {
        Some(Attributes::WorkflowTaskFailedEventAttributes(a)) => {
            assert_eq!(a.cause, WorkflowTaskFailedCause::UnhandledCommand as i32);
            assert_eq!((a.scheduled_event_id, a.started_event_id), (23, 24));
        }
        other => panic!("{other:?}"),
    }
    // Buffered events make the retry a normal (attempt 1, persisted) task.
    match &c.mutation.events[2].attributes {
        Some(Attributes::WorkflowTaskScheduledEventAttributes(a)) => assert_eq!(a.attempt, 1),
        other => panic!("{other:?}"),
    }
    assert!(run.ms.is_running());
    let d6 = run.poll_wft(at(16));
    let c = run.complete(&d6, vec![complete_wf()], at(17));
    assert!(c.rejection.is_none() && c.mutation.closed);
}

#[test]
fn workflow_task_failure_makes_transient_attempts() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let m = run
        .ms
        .fail_workflow_task(
            &d.token,
            WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure as i32,
            Some(app_failure("nd")),
            "worker",
            at(2),
        )
        .unwrap();
    let m = run.apply(m);
    assert_eq!(types(&m.events), vec![E::WorkflowTaskFailed]);
    assert!(matches!(
        m.transfer_tasks[0].kind,
        Some(transfer_task::Kind::WorkflowTask(TaskRef {
            scheduled_event_id: 5,
            attempt: 2,
            ..
        }))
    ));
    // The old token is stale now.
    assert!(run
        .ms
        .fail_workflow_task(&d.token, 0, None, "w", at(2))
        .is_err());

    let d2 = run.poll_wft(at(3));
    assert_eq!(run.history.len(), 4, "transient start writes nothing");
    assert_eq!(d2.attempt, 2);
    assert_eq!(d2.started_event_id, EventId(6));
    assert_eq!(d2.next_event_id_for_history, EventId(5));
    assert_eq!(
        types(&d2.transient_events),
        vec![E::WorkflowTaskScheduled, E::WorkflowTaskStarted]
    );
    assert_eq!(d2.transient_events[0].event_id, 5);
    assert_eq!(d2.transient_events[1].event_id, 6);
    assert_eq!(run.ms.pending_transient_events(), d2.transient_events);

    // Attempt 2 fails: nothing written, attempt 3.
    let m = run
        .ms
        .fail_workflow_task(&d2.token, 0, None, "worker", at(4))
        .unwrap();
    let m = run.apply(m);
    assert!(m.events.is_empty());
    // Attempt 3 times out (Core never reports failures after attempt 1).
    let d3 = run.poll_wft(at(5));
    assert_eq!(d3.attempt, 3);
    let m = run.fire(
        |k| matches!(k, timer_task::Kind::WorkflowTaskTimeout(t) if t.attempt == 3),
        at(15),
    );
    assert!(m.events.is_empty());
    let d4 = run.poll_wft(at(16));
    assert_eq!(d4.attempt, 4);
    let c = run.complete(&d4, vec![complete_wf()], at(17));
    assert!(c.rejection.is_none());
    assert_eq!(
        run.types(),
        vec![
            E::WorkflowExecutionStarted,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskFailed,
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::WorkflowExecutionCompleted,
        ]
    );
    match &run.history[4].attributes {
        Some(Attributes::WorkflowTaskScheduledEventAttributes(a)) => assert_eq!(a.attempt, 4),
        other => panic!("{other:?}"),
    }
    match &run.history[6].attributes {
        Some(Attributes::WorkflowTaskCompletedEventAttributes(a)) => {
            assert_eq!((a.scheduled_event_id, a.started_event_id), (5, 6))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn first_workflow_task_timeout_writes_timed_out() {
    let mut run = Run::start(None);
    run.poll_wft(at(1));
    let m = run.fire(
        |k| matches!(k, timer_task::Kind::WorkflowTaskTimeout(_)),
        at(11),
    );
    assert_eq!(types(&m.events), vec![E::WorkflowTaskTimedOut]);
    assert_eq!(run.ms.workflow_task.as_ref().unwrap().attempt, 2);
}

#[test]
fn transient_task_becomes_normal_when_events_arrive() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let req = RespondWorkflowTaskCompletedRequest {
        commands: vec![schedule_activity("1", None)],
        force_create_new_workflow_task: true,
        ..Default::default()
    };
    let c = run
        .ms
        .complete_workflow_task(&d.token, &req, at(2), &next_run(), &Default::default())
        .unwrap();
    run.apply(c.mutation); // 4 Completed, 5 ActivityTaskScheduled, 6 WFT Scheduled
    let ad = run.poll_activity(5, at(3));
    let d2 = run.poll_wft(at(3)); // 7 Started
    let m = run
        .ms
        .fail_workflow_task(&d2.token, 0, None, "w", at(4))
        .unwrap();
    run.apply(m); // 8 Failed; transient attempt 2 at virtual id 9
    let t = run.ms.workflow_task.clone().unwrap();
    assert_eq!((t.scheduled_event_id, t.attempt), (9, 2));
    // The activity finishes while the transient task waits: written directly (9, 10).
    let m = run
        .ms
        .complete_activity(&ad.token, None, "a", at(5))
        .unwrap();
    assert_eq!(
        types(&run.apply(m).events),
        vec![E::ActivityTaskStarted, E::ActivityTaskCompleted]
    );
    // Its virtual ids are taken, so the start converts it into a normal persisted task.
    let d3 = run.poll_wft(at(6));
    assert_eq!(d3.attempt, 1);
    assert!(d3.transient_events.is_empty());
    assert_eq!(
        types(&run.history[10..]),
        vec![E::WorkflowTaskScheduled, E::WorkflowTaskStarted]
    );
    assert_eq!(d3.started_event_id, EventId(12));
    assert_eq!(d3.previous_started_event_id, EventId(3));
}

#[test]
fn stale_timers_are_no_ops() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let wft_timeout = run.timers.pop().unwrap();
    run.complete(
        &d,
        vec![schedule_activity("1", None), start_timer("t", 5)],
        at(2),
    );
    assert!(run
        .ms
        .fire_timer(&wft_timeout, at(20), &next_run())
        .unwrap()
        .is_empty());

    // Cancel the timer, then fire it.
    let d2_pending = run.ms.workflow_task.is_none();
    assert!(d2_pending);
    let ad = run.poll_activity(5, at(3));
    let activity_timeout = run.timers.pop().unwrap();
    let m = run
        .ms
        .complete_activity(&ad.token, None, "a", at(4))
        .unwrap();
    run.apply(m);
    assert!(run
        .ms
        .fire_timer(&activity_timeout, at(40), &next_run())
        .unwrap()
        .is_empty());
    let d2 = run.poll_wft(at(5));
    let cancel = cmd(
        CommandType::CancelTimer,
        Cmd::CancelTimerCommandAttributes(CancelTimerCommandAttributes {
            timer_id: "t".into(),
        }),
    );
    let c = run.complete(&d2, vec![cancel], at(6));
    assert_eq!(
        types(&c.mutation.events),
        vec![E::WorkflowTaskCompleted, E::TimerCanceled]
    );
    let user_timer = run
        .timers
        .iter()
        .find(|t| matches!(t.kind, Some(timer_task::Kind::UserTimer(_))))
        .unwrap()
        .clone();
    assert!(run
        .ms
        .fire_timer(&user_timer, at(7), &next_run())
        .unwrap()
        .is_empty());

    // Anything on a closed run is inert.
    let mut closed = Run::start(Some(Duration::from_secs(60)));
    let run_timeout = closed.timers[0].clone();
    assert!(matches!(
        run_timeout.kind,
        Some(timer_task::Kind::WorkflowRunTimeout(_))
    ));
    assert_eq!(run_timeout.fire_time(), at(60));
    let m = closed
        .ms
        .fire_timer(&run_timeout, at(60), &next_run())
        .unwrap();
    assert_eq!(types(&m.events), vec![E::WorkflowExecutionTimedOut]);
    assert!(m.closed);
    assert!(closed
        .ms
        .fire_timer(&run_timeout, at(61), &next_run())
        .unwrap()
        .is_empty());
}

#[test]
fn record_started_is_idempotent_per_request_id() {
    let mut run = Run::start(None);
    let (m1, d1) = run
        .ms
        .record_workflow_task_started(EventId(2), &TaskQueue::default(), "p1", "w", at(1))
        .unwrap();
    assert_eq!(m1.events.len(), 1);
    assert_eq!(m1.timer_tasks.len(), 1);
    run.apply(m1);
    let (m2, d2) = run
        .ms
        .record_workflow_task_started(EventId(2), &TaskQueue::default(), "p1", "w", at(2))
        .unwrap();
    assert!(m2.is_empty());
    assert_eq!(d1, d2);
    assert_eq!(
        run.ms
            .record_workflow_task_started(EventId(2), &TaskQueue::default(), "p2", "w", at(2)),
        Err(CoreError::TaskAlreadyStarted)
    );
    assert!(matches!(
        run.ms
            .record_workflow_task_started(EventId(7), &TaskQueue::default(), "p1", "w", at(2)),
        Err(CoreError::NotFound(_))
    ));

    run.complete(&d1, vec![schedule_activity("1", None)], at(3));
    let (m, a1) = run
        .ms
        .record_activity_task_started(EventId(5), 1, "ap", "w", at(4))
        .unwrap();
    assert_eq!(m.timer_tasks.len(), 1);
    assert!(m.events.is_empty());
    run.apply(m);
    let (m, a2) = run
        .ms
        .record_activity_task_started(EventId(5), 1, "ap", "w", at(5))
        .unwrap();
    assert!(m.is_empty());
    assert_eq!(a1, a2);
    assert_eq!(
        run.ms
            .record_activity_task_started(EventId(5), 1, "other", "w", at(5)),
        Err(CoreError::TaskAlreadyStarted)
    );
    assert!(matches!(
        run.ms
            .record_activity_task_started(EventId(5), 2, "ap", "w", at(5)),
        Err(CoreError::NotFound(_))
    ));
    assert!(matches!(
        run.ms
            .record_activity_task_started(EventId(99), 1, "ap", "w", at(5)),
        Err(CoreError::NotFound(_))
    ));
}

#[test]
fn terminate_fails_started_task_and_closes() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let m = run
        .ms
        .terminate("bye", Some(payloads("d")), "admin", at(2))
        .unwrap();
    let m = run.apply(m);
    assert!(m.closed);
    assert_eq!(
        types(&m.events),
        vec![E::WorkflowTaskFailed, E::WorkflowExecutionTerminated]
    );
    match &m.events[0].attributes {
        Some(Attributes::WorkflowTaskFailedEventAttributes(a)) => {
            assert_eq!(a.cause, WorkflowTaskFailedCause::ForceCloseCommand as i32)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.ms.status, WorkflowExecutionStatus::Terminated as i32);
    assert_eq!(
        run.ms.terminate("again", None, "admin", at(3)),
        Err(CoreError::WorkflowCompleted)
    );
    let req = RespondWorkflowTaskCompletedRequest::default();
    assert!(matches!(
        run.ms
            .complete_workflow_task(&d.token, &req, at(3), &next_run(), &Default::default()),
        Err(CoreError::NotFound(_))
    ));
    let desc = run.ms.describe();
    assert!(desc.pending_workflow_task.is_none());
    assert!(desc.workflow_execution_info.unwrap().close_time.is_some());
}

#[test]
fn unsupported_and_misordered_commands_are_rejected_without_changes() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let snapshot = run.ms.clone();
    let nexus = Command {
        command_type: CommandType::ScheduleNexusOperation as i32,
        ..Default::default()
    };
    let req = RespondWorkflowTaskCompletedRequest {
        commands: vec![nexus],
        ..Default::default()
    };
    assert_eq!(
        run.ms
            .complete_workflow_task(&d.token, &req, at(2), &next_run(), &Default::default()),
        Err(CoreError::InvalidArgument(
            "Unknown command type: ScheduleNexusOperation".into()
        ))
    );
    assert_eq!(run.ms, snapshot);
    let req = RespondWorkflowTaskCompletedRequest {
        commands: vec![complete_wf(), start_timer("t", 1)],
        ..Default::default()
    };
    match run
        .ms
        .complete_workflow_task(&d.token, &req, at(2), &next_run(), &Default::default())
    {
        Err(CoreError::InvalidArgument(msg)) => {
            assert!(msg.starts_with("invalid command sequence"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.ms, snapshot);

    // Bad attributes fail the task: persisted, and reported to the worker.
    let bad = cmd(
        CommandType::ScheduleActivityTask,
        Cmd::ScheduleActivityTaskCommandAttributes(ScheduleActivityTaskCommandAttributes {
            activity_id: "1".into(),
            activity_type: Some(ActivityType {
                name: "bang".into(),
            }),
            ..Default::default()
        }),
    );
    let c = run.complete(&d, vec![bad], at(3));
    match &c.rejection {
        Some(CoreError::InvalidArgument(msg)) => {
            assert!(msg.starts_with("BadScheduleActivityAttributes: "))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(types(&c.mutation.events), vec![E::WorkflowTaskFailed]);
    assert_eq!(run.ms.workflow_task.as_ref().unwrap().attempt, 2);

    // On a transient attempt Temporal drops the bad completion (nothing persisted, the task
    // times out later) and answers InvalidArgument.
    let d2 = run.poll_wft(at(4));
    let snapshot = run.ms.clone();
    let req = RespondWorkflowTaskCompletedRequest {
        commands: vec![start_timer("t", 1), start_timer("t", 1)],
        ..Default::default()
    };
    match run
        .ms
        .complete_workflow_task(&d2.token, &req, at(5), &next_run(), &Default::default())
    {
        Err(CoreError::InvalidArgument(msg)) => assert!(msg.starts_with("StartTimerDuplicateId")),
        other => panic!("{other:?}"),
    }
    assert_eq!(run.ms, snapshot);
}

#[test]
fn duplicate_timer_on_first_attempt_fails_task() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let c = run.complete(&d, vec![start_timer("t", 1), start_timer("t", 1)], at(2));
    match &c.rejection {
        Some(CoreError::InvalidArgument(msg)) => assert!(msg.starts_with("StartTimerDuplicateId")),
        other => panic!("{other:?}"),
    }
    assert_eq!(types(&c.mutation.events), vec![E::WorkflowTaskFailed]);
    assert!(
        run.ms.timers.is_empty(),
        "the failed completion left no timer behind"
    );
}

#[test]
fn start_decisions_follow_policies() {
    let running = CurrentExecution {
        run_id: "r1".into(),
        start_request_id: "req-1".into(),
        status: WorkflowExecutionStatus::Running as i32,
        first_execution_run_id: "r0".into(),
    };
    let completed = CurrentExecution {
        status: WorkflowExecutionStatus::Completed as i32,
        ..running.clone()
    };
    let failed = CurrentExecution {
        status: WorkflowExecutionStatus::Failed as i32,
        ..running.clone()
    };
    let input = |req: &str, reuse: WorkflowIdReusePolicy, conflict: WorkflowIdConflictPolicy| {
        StartPolicyInput {
            workflow_id: String::new(),
            request_id: req.into(),
            reuse_policy: reuse as i32,
            conflict_policy: conflict as i32,
        }
    };
    use WorkflowIdConflictPolicy as C;
    use WorkflowIdReusePolicy as R;
    let already = StartDecision::Fail(CoreError::AlreadyStarted {
        workflow_id: String::new(),
        run_id: "r1".into(),
        request_id: "req-1".into(),
        first_execution_run_id: "r0".into(),
    });

    assert_eq!(
        decide_start(None, &input("x", R::Unspecified, C::Unspecified)),
        StartDecision::Start
    );
    assert_eq!(
        decide_start(
            Some(&running),
            &input("req-1", R::Unspecified, C::Unspecified)
        ),
        StartDecision::ReturnExisting {
            run_id: "r1".into()
        }
    );
    assert_eq!(
        decide_start(
            Some(&completed),
            &input("req-1", R::RejectDuplicate, C::Unspecified)
        ),
        StartDecision::ReturnExisting {
            run_id: "r1".into()
        }
    );
    assert_eq!(
        decide_start(Some(&running), &input("x", R::Unspecified, C::Unspecified)),
        already
    );
    assert_eq!(
        decide_start(Some(&running), &input("x", R::Unspecified, C::Fail)),
        already
    );
    assert_eq!(
        decide_start(Some(&running), &input("x", R::Unspecified, C::UseExisting)),
        StartDecision::ReturnExisting {
            run_id: "r1".into()
        }
    );
    assert_eq!(
        decide_start(
            Some(&running),
            &input("x", R::Unspecified, C::TerminateExisting)
        ),
        StartDecision::TerminateExistingThenStart {
            run_id: "r1".into()
        }
    );
    #[allow(deprecated)]
    let tir = R::TerminateIfRunning;
    assert_eq!(
        decide_start(Some(&running), &input("x", tir, C::Unspecified)),
        StartDecision::TerminateExistingThenStart {
            run_id: "r1".into()
        }
    );
    assert_eq!(
        decide_start(Some(&completed), &input("x", tir, C::Unspecified)),
        StartDecision::Start
    );
    assert!(matches!(
        decide_start(Some(&running), &input("x", tir, C::Fail)),
        StartDecision::Fail(CoreError::InvalidArgument(_))
    ));
    assert_eq!(
        decide_start(
            Some(&completed),
            &input("x", R::Unspecified, C::Unspecified)
        ),
        StartDecision::Start
    );
    assert_eq!(
        decide_start(
            Some(&completed),
            &input("x", R::AllowDuplicate, C::Unspecified)
        ),
        StartDecision::Start
    );
    assert_eq!(
        decide_start(
            Some(&completed),
            &input("x", R::RejectDuplicate, C::Unspecified)
        ),
        already
    );
    assert_eq!(
        decide_start(
            Some(&completed),
            &input("x", R::AllowDuplicateFailedOnly, C::Unspecified)
        ),
        already
    );
    assert_eq!(
        decide_start(
            Some(&failed),
            &input("x", R::AllowDuplicateFailedOnly, C::Unspecified)
        ),
        StartDecision::Start
    );
}

#[test]
fn start_normalizes_timeouts_and_delays_the_first_task() {
    let req = StartWorkflowExecutionRequest {
        workflow_id: "wf".into(),
        workflow_type: Some(WorkflowType { name: "Wf".into() }),
        task_queue: Some(TaskQueue {
            name: "tq".into(),
            ..Default::default()
        }),
        workflow_execution_timeout: Some(duration_to_proto(Duration::from_secs(5))),
        workflow_task_timeout: Some(duration_to_proto(Duration::from_secs(300))),
        ..Default::default()
    };
    let p = StartParams {
        request: req.clone(),
        namespace_id: "n".into(),
        run_id: "r".into(),
        ..Default::default()
    };
    let (ms, m) = start_workflow(p, at(0)).unwrap();
    assert_eq!(
        duration_from_proto(ms.run_timeout.as_ref()),
        Duration::from_secs(5)
    );
    assert_eq!(
        duration_from_proto(ms.task_timeout.as_ref()),
        Duration::from_secs(5)
    );
    assert_eq!(ms.execution_expiration_time, at(5).0);
    assert_eq!(
        types(&m.events),
        vec![E::WorkflowExecutionStarted, E::WorkflowTaskScheduled]
    );
    // Run deadline equals the execution deadline: only the execution timer is armed.
    assert_eq!(m.timer_tasks.len(), 1);
    assert!(matches!(
        m.timer_tasks[0].kind,
        Some(timer_task::Kind::WorkflowExecutionTimeout(_))
    ));

    // A start delay holds the first task back behind a backoff timer, as Temporal does.
    let mut delayed = req.clone();
    delayed.workflow_start_delay = Some(duration_to_proto(Duration::from_secs(7)));
    let p = StartParams {
        request: delayed.clone(),
        namespace_id: "n".into(),
        run_id: "r".into(),
        ..Default::default()
    };
    let (ms, m) = start_workflow(p, at(0)).unwrap();
    assert_eq!(types(&m.events), vec![E::WorkflowExecutionStarted]);
    match &m.events[0].attributes {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => assert_eq!(
            duration_from_proto(a.first_workflow_task_backoff.as_ref()),
            Duration::from_secs(7)
        ),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(ms.execution_time(), at(7));
    assert!(m
        .timer_tasks
        .iter()
        .any(|t| t.fire_time() == at(7)
            && matches!(t.kind, Some(timer_task::Kind::WorkflowBackoff(_)))));
    // The execution deadline still counts from the start.
    assert_eq!(ms.execution_expiration_time, at(5).0);

    for (bad, message) in [
        (
            {
                let mut r = delayed.clone();
                r.cron_schedule = "* * * * *".into();
                r
            },
            "CronSchedule and WorkflowStartDelay may not be used together.",
        ),
        (
            {
                let mut r = req;
                r.workflow_start_delay = Some(prost_wkt_types::Duration {
                    seconds: -1,
                    nanos: 0,
                });
                r
            },
            "An invalid WorkflowStartDelaySeconds is set on request.",
        ),
    ] {
        let p = StartParams {
            request: bad,
            namespace_id: "n".into(),
            run_id: "r".into(),
            ..Default::default()
        };
        assert_eq!(
            start_workflow(p, at(0)).unwrap_err(),
            CoreError::InvalidArgument(message.into())
        );
    }
}

#[test]
fn mutable_state_round_trips_through_prost() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(
        &d,
        vec![schedule_activity("1", None), start_timer("t", 3)],
        at(2),
    );
    let bytes = run.ms.encode_to_vec();
    let back = MutableState::decode(bytes.as_slice()).unwrap();
    assert_eq!(back, run.ms);
    for t in &run.timers {
        assert_eq!(&TimerTask::decode(t.encode_to_vec().as_slice()).unwrap(), t);
    }
}

fn big_payloads(bytes: usize) -> Payloads {
    Payloads {
        payloads: vec![Payload {
            data: vec![b'x'; bytes],
            ..Default::default()
        }],
    }
}

fn rejection_message(c: &WorkflowTaskCompletion) -> &str {
    match &c.rejection {
        Some(CoreError::InvalidArgument(msg)) => msg,
        other => panic!("expected InvalidArgument, got {other:?}"),
    }
}

#[test]
fn oversized_activity_input_fails_the_task_and_terminates_the_run() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let mut big = schedule_activity("1", None);
    if let Some(Cmd::ScheduleActivityTaskCommandAttributes(a)) = big.attributes.as_mut() {
        a.input = Some(big_payloads(limits::BLOB_SIZE_LIMIT_ERROR));
    }
    let c = run.complete(&d, vec![start_timer("t", 5), big], at(2));
    let msg = "BadScheduleActivityAttributes: ScheduleActivityTaskCommandAttributes.Input exceeds size limit.";
    assert_eq!(rejection_message(&c), msg);
    assert!(c.mutation.closed);
    // The completion's own events (TimerStarted) are discarded, as Temporal does.
    assert_eq!(
        types(&c.mutation.events),
        vec![E::WorkflowTaskFailed, E::WorkflowExecutionTerminated]
    );
    match &c.mutation.events[0].attributes {
        Some(Attributes::WorkflowTaskFailedEventAttributes(a)) => {
            assert_eq!(
                a.cause,
                WorkflowTaskFailedCause::BadScheduleActivityAttributes as i32
            );
            assert_eq!(a.failure.as_ref().unwrap().message, msg);
            assert_eq!(a.identity, "worker");
        }
        other => panic!("{other:?}"),
    }
    match &c.mutation.events[1].attributes {
        Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
            assert_eq!(a.reason, msg);
            assert_eq!(a.identity, HISTORY_SERVICE_IDENTITY);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.ms.status, WorkflowExecutionStatus::Terminated as i32);
    assert!(run.ms.timers.is_empty() && run.ms.workflow_task.is_none());
}

#[test]
fn input_at_the_size_limit_is_accepted() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let mut cmd = schedule_activity("1", None);
    if let Some(Cmd::ScheduleActivityTaskCommandAttributes(a)) = cmd.attributes.as_mut() {
        // Payloads{Payload{data}} costs a few bytes of framing on top of the data.
        let p = big_payloads(limits::BLOB_SIZE_LIMIT_ERROR - 16);
        assert!(p.encoded_len() <= limits::BLOB_SIZE_LIMIT_ERROR);
        a.input = Some(p);
    }
    let c = run.complete(&d, vec![cmd], at(2));
    assert_eq!(c.rejection, None);
    assert_eq!(run.ms.activities.len(), 1);
    assert!(run.ms.history_size_bytes() > limits::BLOB_SIZE_LIMIT_ERROR as i64);
}

#[test]
fn pending_activity_limit_fails_the_task() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let commands: Vec<Command> = (0..=limits::NUM_PENDING_ACTIVITIES_LIMIT)
        .map(|i| schedule_activity(&i.to_string(), None))
        .collect();
    let c = run.complete(&d, commands, at(2));
    assert_eq!(
        rejection_message(&c),
        "PendingActivitiesLimitExceeded: the number of pending activities, 2000, has reached the per-workflow limit of 2000"
    );
    assert_eq!(types(&c.mutation.events), vec![E::WorkflowTaskFailed]);
    assert!(run.ms.activities.is_empty());
    assert!(run.ms.is_running());
    assert_eq!(run.ms.workflow_task.as_ref().unwrap().attempt, 2);

    // Exactly the limit is fine.
    let d = run.poll_wft(at(3));
    let commands: Vec<Command> = (0..limits::NUM_PENDING_ACTIVITIES_LIMIT)
        .map(|i| schedule_activity(&i.to_string(), None))
        .collect();
    let c = run.complete(&d, commands, at(4));
    assert_eq!(c.rejection, None);
    assert_eq!(
        run.ms.activities.len(),
        limits::NUM_PENDING_ACTIVITIES_LIMIT
    );
}

#[test]
fn overlong_ids_in_commands_fail_the_task() {
    let long = "a".repeat(limits::MAX_ID_LENGTH + 1);
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let c = run.complete(&d, vec![schedule_activity(&long, None)], at(2));
    assert_eq!(
        rejection_message(&c),
        "BadScheduleActivityAttributes: activityId exceeds length limit. Length=1001 Limit=1000"
    );
    let d = run.poll_wft(at(3));
    let snapshot = run.ms.clone();
    // Transient attempt: dropped without a trace.
    let req = RespondWorkflowTaskCompletedRequest {
        commands: vec![start_timer(&long, 1)],
        ..Default::default()
    };
    match run
        .ms
        .complete_workflow_task(&d.token, &req, at(4), &next_run(), &Default::default())
    {
        Err(CoreError::InvalidArgument(msg)) => assert!(
            msg.starts_with(
                "BadStartTimerAttributes: TimerId on StartTimerCommand exceeds length limit."
            ),
            "{msg}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(run.ms, snapshot);
}

#[test]
fn oversized_workflow_result_terminates_with_temporals_cause() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let done = cmd(
        CommandType::CompleteWorkflowExecution,
        Cmd::CompleteWorkflowExecutionCommandAttributes(
            CompleteWorkflowExecutionCommandAttributes {
                result: Some(big_payloads(limits::BLOB_SIZE_LIMIT_ERROR)),
            },
        ),
    );
    let c = run.complete(&d, vec![done], at(2));
    assert_eq!(
        rejection_message(&c),
        "BadScheduleActivityAttributes: CompleteWorkflowExecutionCommandAttributes.Result exceeds size limit."
    );
    assert_eq!(run.ms.status, WorkflowExecutionStatus::Terminated as i32);
}

#[test]
fn history_count_limit_terminates_instead_of_writing() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    // Pretend the run already holds (almost) the limit of events.
    let snapshot_next = limits::HISTORY_COUNT_LIMIT_ERROR - 1;
    run.ms.next_event_id = snapshot_next;
    run.history
        .resize(snapshot_next as usize - 1, HistoryEvent::default());
    let c = run.complete(&d, vec![start_timer("t", 1), start_timer("u", 1)], at(2));
    assert_eq!(
        c.rejection,
        Some(CoreError::InvalidArgument(
            limits::FAILURE_REASON_HISTORY_COUNT_EXCEEDS_LIMIT.into()
        ))
    );
    assert_eq!(
        types(&c.mutation.events),
        vec![E::WorkflowTaskFailed, E::WorkflowExecutionTerminated]
    );
    match &c.mutation.events[1].attributes {
        Some(Attributes::WorkflowExecutionTerminatedEventAttributes(a)) => {
            assert_eq!(a.reason, "Workflow history count exceeds limit.")
        }
        other => panic!("{other:?}"),
    }
    assert!(run.ms.timers.is_empty());
    assert_eq!(
        run.ms.history_limit_exceeded(),
        None,
        "a closed run is past caring"
    );
}

#[test]
fn history_size_limit_is_checked_on_the_stored_history() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.ms.history_size_bytes = limits::HISTORY_SIZE_LIMIT_ERROR + 1;
    assert_eq!(
        run.ms.history_limit_exceeded(),
        Some(limits::FAILURE_REASON_HISTORY_SIZE_EXCEEDS_LIMIT)
    );
    let c = run.complete(&d, vec![start_timer("t", 1)], at(2));
    assert_eq!(
        c.rejection,
        Some(CoreError::InvalidArgument(
            "Workflow history size exceeds limit.".into()
        ))
    );
    assert!(c.mutation.closed);
    // Closing the run is never refused.
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.ms.history_size_bytes = limits::HISTORY_SIZE_LIMIT_ERROR + 1;
    let c = run.complete(&d, vec![complete_wf()], at(2));
    assert_eq!(c.rejection, None);
    assert_eq!(run.ms.status, WorkflowExecutionStatus::Completed as i32);
}

#[test]
fn history_size_counts_every_written_event() {
    let run = Run::start(None);
    // Counted as a stored History batch counts them: each event plus its field framing.
    let total: usize = run.history.iter().map(|e| e.encoded_len()).sum();
    let framing = 2 * run.history.len();
    assert!(run.history.iter().all(|e| e.encoded_len() < 128));
    assert_eq!(run.ms.history_size_bytes(), (total + framing) as i64);
}
