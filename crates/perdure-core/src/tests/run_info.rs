//! What SDKs and clients read about a run besides its events' order: the timeouts in
//! WorkflowExecutionStarted and describe, the history size a workflow task reports (and the
//! continue-as-new suggestion), describe's root execution and expiration times, and the source
//! of server-made failures. Expected values are what Temporal's dev server answers.

use super::*;
use temporalio_protos::temporal::api::{
    enums::v1::SuggestContinueAsNewReason,
    history::v1::{WorkflowExecutionStartedEventAttributes, WorkflowTaskStartedEventAttributes},
};

fn secs(s: u64) -> Option<prost_wkt_types::Duration> {
    Some(duration_to_proto(Duration::from_secs(s)))
}

fn start_timeouts(
    execution: Option<prost_wkt_types::Duration>,
    run: Option<prost_wkt_types::Duration>,
) -> (MutableState, Mutation) {
    let req = StartWorkflowExecutionRequest {
        workflow_id: "wf".into(),
        workflow_type: Some(WorkflowType { name: "Wf".into() }),
        task_queue: Some(TaskQueue {
            name: "tq".into(),
            ..Default::default()
        }),
        workflow_execution_timeout: execution,
        workflow_run_timeout: run,
        ..Default::default()
    };
    let p = StartParams {
        request: req,
        namespace_id: "n".into(),
        run_id: "r".into(),
        ..Default::default()
    };
    start_workflow(p, at(0)).unwrap()
}

fn started_attrs(m: &Mutation) -> &WorkflowExecutionStartedEventAttributes {
    match &m.events[0].attributes {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => a,
        other => panic!("{other:?}"),
    }
}

fn wft_started(event: &HistoryEvent) -> &WorkflowTaskStartedEventAttributes {
    match &event.attributes {
        Some(Attributes::WorkflowTaskStartedEventAttributes(a)) => a,
        other => panic!("{other:?}"),
    }
}

fn is_run_timeout_timer(t: &TimerTask) -> bool {
    matches!(
        t.kind,
        Some(timer_task::Kind::WorkflowRunTimeout(_))
            | Some(timer_task::Kind::WorkflowExecutionTimeout(_))
    )
}

#[test]
fn absent_timeouts_stay_absent_in_the_started_event_and_describe() {
    let (ms, m) = start_timeouts(None, None);
    let a = started_attrs(&m);
    assert_eq!(a.workflow_execution_timeout, None);
    assert_eq!(a.workflow_run_timeout, None);
    assert_eq!(a.workflow_execution_expiration_time, None);
    assert_eq!(a.workflow_task_timeout, secs(10), "the default is written");
    // Still unlimited: no run or execution timer.
    assert!(!m.timer_tasks.iter().any(is_run_timeout_timer));
    let config = ms.describe().execution_config.unwrap();
    assert_eq!(config.workflow_execution_timeout, None);
    assert_eq!(config.workflow_run_timeout, None);
    assert_eq!(config.default_workflow_task_timeout, secs(10));
}

#[test]
fn an_execution_timeout_alone_becomes_the_run_timeout_too() {
    let (ms, m) = start_timeouts(secs(60), None);
    let a = started_attrs(&m);
    assert_eq!(a.workflow_execution_timeout, secs(60));
    assert_eq!(a.workflow_run_timeout, secs(60));
    let config = ms.describe().execution_config.unwrap();
    assert_eq!(config.workflow_execution_timeout, secs(60));
    assert_eq!(config.workflow_run_timeout, secs(60));
}

#[test]
fn run_timeouts_are_kept_or_capped_by_the_execution_timeout() {
    let (_, m) = start_timeouts(None, secs(30));
    let a = started_attrs(&m);
    assert_eq!(a.workflow_execution_timeout, None);
    assert_eq!(a.workflow_run_timeout, secs(30));
    assert!(m.timer_tasks.iter().any(|t| matches!(
        t.kind,
        Some(timer_task::Kind::WorkflowRunTimeout(_))
    ) && t.fire_time() == at(30)));

    let (_, m) = start_timeouts(secs(20), secs(30));
    assert_eq!(started_attrs(&m).workflow_run_timeout, secs(20));

    // An explicit zero is sent back as sent, and still means unlimited.
    let (_, m) = start_timeouts(secs(0), None);
    let a = started_attrs(&m);
    assert_eq!(a.workflow_execution_timeout, secs(0));
    assert_eq!(a.workflow_run_timeout, None);
    assert!(!m.timer_tasks.iter().any(is_run_timeout_timer));
}

#[test]
fn a_retry_keeps_absent_timeouts_absent() {
    let mut run = Run::start(None);
    run.ms.retry_policy = Some(retry_policy_with_defaults(None));
    let d = run.poll_wft(at(1));
    let c = run.complete(
        &d,
        vec![cmd(
            CommandType::FailWorkflowExecution,
            Cmd::FailWorkflowExecutionCommandAttributes(
                temporalio_protos::temporal::api::command::v1::FailWorkflowExecutionCommandAttributes {
                    failure: Some(app_failure("boom")),
                },
            ),
        )],
        at(2),
    );
    let next = c.mutation.new_run.expect("retried");
    let a = started_attrs(&next.mutation);
    assert_eq!(a.workflow_execution_timeout, None);
    assert_eq!(a.workflow_run_timeout, None);
    assert_eq!(
        next.state
            .describe()
            .execution_config
            .unwrap()
            .workflow_run_timeout,
        None
    );
}

#[test]
fn workflow_task_started_reports_the_history_stored_before_it() {
    let mut run = Run::start(None);
    let before = run.ms.history_size_bytes();
    assert!(before > 0);
    let d = run.poll_wft(at(1));
    let a = wft_started(run.history.last().unwrap());
    assert_eq!(a.history_size_bytes, before);
    assert!(!a.suggest_continue_as_new);
    assert!(a.suggest_continue_as_new_reasons.is_empty());
    assert!(
        run.ms.history_size_bytes() > before,
        "the Started event counts afterwards"
    );

    // A transient attempt's Started event says what was stored when that attempt started,
    // the same on every poll and when it is finally written.
    run.ms
        .fail_workflow_task(&d.token, 0, Some(app_failure("nd")), "worker", at(2))
        .map(|m| run.apply(m))
        .unwrap();
    let stored = run.ms.history_size_bytes();
    let d2 = run.poll_wft(at(3));
    assert_eq!(
        wft_started(&d2.transient_events[1]).history_size_bytes,
        stored
    );
    assert_eq!(run.ms.pending_transient_events(), d2.transient_events);
    run.complete(&d2, vec![complete_wf()], at(4));
    let written = run
        .history
        .iter()
        .rfind(|e| e.event_type == E::WorkflowTaskStarted as i32)
        .unwrap();
    assert_eq!(written, &d2.transient_events[1]);
}

#[test]
fn workflow_tasks_suggest_continue_as_new_past_temporals_thresholds() {
    let mut run = Run::start(None);
    run.ms.history_size_bytes = limits::HISTORY_SIZE_SUGGEST_CONTINUE_AS_NEW;
    run.poll_wft(at(1));
    let a = wft_started(run.history.last().unwrap());
    assert!(a.suggest_continue_as_new);
    assert_eq!(
        a.suggest_continue_as_new_reasons,
        [SuggestContinueAsNewReason::HistorySizeTooLarge as i32]
    );

    // The count is the id the Started event gets.
    let mut run = Run::start(None);
    run.ms.next_event_id = limits::HISTORY_COUNT_SUGGEST_CONTINUE_AS_NEW;
    let sid = run.ms.workflow_task.as_ref().unwrap().scheduled_event_id;
    let (m, _) = run
        .ms
        .record_workflow_task_started(EventId(sid), &TaskQueue::default(), "p", "w", at(1))
        .unwrap();
    assert_eq!(
        m.events[0].event_id,
        limits::HISTORY_COUNT_SUGGEST_CONTINUE_AS_NEW
    );
    let a = wft_started(&m.events[0]);
    assert!(a.suggest_continue_as_new);
    assert_eq!(
        a.suggest_continue_as_new_reasons,
        [SuggestContinueAsNewReason::TooManyHistoryEvents as i32]
    );
}

#[test]
fn describe_reports_root_size_and_expirations() {
    let (ms, _) = start_timeouts(secs(120), None);
    let desc = ms.describe();
    let info = desc.workflow_execution_info.unwrap();
    assert_eq!(info.root_execution, Some(ms.execution()));
    assert_eq!(info.history_size_bytes, ms.history_size_bytes());
    assert!(info.history_size_bytes > 0);
    let ext = desc.workflow_extended_info.unwrap();
    assert_eq!(ext.execution_expiration_time, Some(at(120).to_timestamp()));
    assert_eq!(ext.run_expiration_time, Some(at(120).to_timestamp()));
    assert_eq!(ext.original_start_time, Some(at(0).to_timestamp()));

    // A run timeout alone: no execution deadline.
    let (ms, _) = start_timeouts(None, secs(30));
    let ext = ms.describe().workflow_extended_info.unwrap();
    assert_eq!(ext.execution_expiration_time, None);
    assert_eq!(ext.run_expiration_time, Some(at(30).to_timestamp()));

    // No run timeout: Temporal answers Go's zero time.
    let (ms, _) = start_timeouts(None, None);
    let ext = ms.describe().workflow_extended_info.unwrap();
    assert_eq!(ext.execution_expiration_time, None);
    let zero = ext.run_expiration_time.unwrap();
    assert_eq!((zero.seconds, zero.nanos), (-62_135_596_800, 0));
}

#[test]
fn a_retried_runs_deadline_counts_from_its_backoff_and_its_root_is_itself() {
    let mut run = Run::start(Some(Duration::from_secs(10)));
    run.ms.retry_policy = Some(retry_policy_with_defaults(None));
    run.poll_wft(at(1));
    let m = run.fire(
        |k| matches!(k, timer_task::Kind::WorkflowRunTimeout(_)),
        at(10),
    );
    let next = m.new_run.expect("retried").state;
    let desc = next.describe();
    assert_eq!(
        desc.workflow_execution_info.unwrap().root_execution,
        Some(next.execution())
    );
    let ext = desc.workflow_extended_info.unwrap();
    assert_eq!(ext.original_start_time, Some(at(10).to_timestamp()));
    assert_eq!(
        ext.run_expiration_time,
        Some(
            next.execution_time()
                .add(Duration::from_secs(10))
                .to_timestamp()
        )
    );
    assert!(
        next.execution_time() > at(10),
        "the retry waits out a backoff first"
    );
}

#[test]
fn activity_timeouts_are_failures_from_the_server() {
    for ty in [
        TimeoutType::StartToClose,
        TimeoutType::ScheduleToClose,
        TimeoutType::Heartbeat,
    ] {
        let mut run = Run::start(None);
        let d = run.poll_wft(at(1));
        let mut schedule = schedule_activity(
            "1",
            Some(RetryPolicy {
                maximum_attempts: 1,
                ..Default::default()
            }),
        );
        if let Some(Cmd::ScheduleActivityTaskCommandAttributes(a)) = schedule.attributes.as_mut() {
            a.schedule_to_close_timeout = Some(duration_to_proto(Duration::from_secs(20)));
            a.heartbeat_timeout = Some(duration_to_proto(Duration::from_secs(2)));
        }
        run.complete(&d, vec![schedule], at(2));
        run.poll_activity(5, at(3));
        run.fire(is_activity_timeout(ty), at(30));
        let failure = run
            .history
            .iter()
            .find_map(|e| match &e.attributes {
                Some(Attributes::ActivityTaskTimedOutEventAttributes(a)) => a.failure.clone(),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{ty:?} timed the activity out"));
        assert_eq!(failure.source, SERVER_FAILURE_SOURCE, "{ty:?}");
    }
}
