//! Sticky task queues: where workflow tasks go, which timers guard them and what history says,
//! for every rule of Temporal's workflow_task_state_machine.go / recordworkflowtaskstarted /
//! respondworkflowtaskcompleted that concerns stickiness.

use super::*;
use temporalio_protos::temporal::api::{
    enums::v1::TaskQueueKind, taskqueue::v1::StickyExecutionAttributes,
};

const STICKY: &str = "worker-1-sticky";

fn sticky_queue() -> TaskQueue {
    TaskQueue {
        name: STICKY.into(),
        kind: TaskQueueKind::Sticky as i32,
        normal_name: "tq".into(),
    }
}

fn normal_queue() -> TaskQueue {
    TaskQueue {
        name: "tq".into(),
        kind: TaskQueueKind::Normal as i32,
        normal_name: String::new(),
    }
}

fn sticky_attrs(secs: u64) -> StickyExecutionAttributes {
    StickyExecutionAttributes {
        worker_task_queue: Some(TaskQueue {
            name: STICKY.into(),
            kind: TaskQueueKind::Sticky as i32,
            normal_name: "tq".into(),
        }),
        schedule_to_start_timeout: Some(duration_to_proto(Duration::from_secs(secs))),
    }
}

fn is_wft_timeout(ty: TimeoutType) -> impl Fn(&timer_task::Kind) -> bool {
    move |k| matches!(k, timer_task::Kind::WorkflowTaskTimeout(t) if t.timeout_type == ty as i32)
}

fn wft_ref(t: &TransferTask) -> TaskRef {
    match &t.kind {
        Some(transfer_task::Kind::WorkflowTask(r)) => r.clone(),
        other => panic!("not a workflow task: {other:?}"),
    }
}

fn scheduled_queue(e: &HistoryEvent) -> (TaskQueue, i32) {
    match &e.attributes {
        Some(Attributes::WorkflowTaskScheduledEventAttributes(a)) => {
            (a.task_queue.clone().unwrap(), a.attempt)
        }
        other => panic!("not WorkflowTaskScheduled: {other:?}"),
    }
}

impl Run {
    fn poll_on(&mut self, queue: &TaskQueue, now: Time) -> Result<WorkflowTaskDispatch, CoreError> {
        let sid = self
            .ms
            .workflow_task
            .as_ref()
            .expect("pending wft")
            .scheduled_event_id;
        let (m, d) = self.ms.record_workflow_task_started(
            EventId(sid),
            queue,
            &format!("poll-{}", now.0),
            "worker",
            now,
        )?;
        self.apply(m);
        Ok(d)
    }

    fn complete_with(
        &mut self,
        d: &WorkflowTaskDispatch,
        commands: Vec<Command>,
        sticky: Option<StickyExecutionAttributes>,
        now: Time,
    ) -> WorkflowTaskCompletion {
        let req = RespondWorkflowTaskCompletedRequest {
            commands,
            identity: "worker".into(),
            sticky_attributes: sticky,
            ..Default::default()
        };
        let c = self
            .ms
            .complete_workflow_task(&d.token, &req, now, &next_run(), &Default::default())
            .unwrap();
        self.apply(c.mutation.clone());
        c
    }

    /// Started on the normal queue, then completed with a timer and sticky attributes: the run
    /// is sticky and waits for the timer (events 1..=5).
    fn sticky_waiting_on_timer() -> Run {
        let mut run = Run::start(None);
        let d = run.poll_on(&normal_queue(), at(1)).unwrap();
        run.complete_with(&d, vec![start_timer("t", 5)], Some(sticky_attrs(7)), at(2));
        assert!(run.ms.is_sticky());
        run
    }

    /// As above, then the timer fired: a sticky workflow task (event 7) is pending.
    fn sticky_task_pending() -> Run {
        let mut run = Run::sticky_waiting_on_timer();
        run.transfers.clear();
        run.fire(|k| matches!(k, timer_task::Kind::UserTimer(_)), at(7));
        run
    }
}

#[test]
fn completion_with_sticky_attributes_sends_the_next_task_to_the_sticky_queue() {
    let mut run = Run::sticky_waiting_on_timer();
    assert_eq!(run.ms.sticky_task_queue, STICKY);
    assert_eq!(
        duration_from_proto(run.ms.sticky_schedule_to_start_timeout.as_ref()),
        Duration::from_secs(7)
    );
    assert_eq!(run.ms.current_task_queue(), sticky_queue());
    // Setting stickiness schedules nothing by itself.
    assert_eq!(run.transfers.len(), 1);

    run.transfers.clear();
    let m = run.fire(|k| matches!(k, timer_task::Kind::UserTimer(_)), at(7));
    assert_eq!(
        types(&m.events),
        vec![E::TimerFired, E::WorkflowTaskScheduled]
    );
    assert_eq!(scheduled_queue(&run.history[6]), (sticky_queue(), 1));

    // One dispatch, to the sticky queue, naming the normal queue as its fallback.
    assert_eq!(m.transfer_tasks.len(), 1);
    let t = &m.transfer_tasks[0];
    assert_eq!(
        (t.task_queue.as_str(), t.normal_task_queue.as_str()),
        (STICKY, "tq")
    );
    let r = wft_ref(t);
    assert_eq!((r.scheduled_event_id, r.attempt), (7, 1));

    // One timer: the sticky schedule-to-start timeout, due after the worker's timeout.
    assert_eq!(m.timer_tasks.len(), 1);
    assert_eq!(m.timer_tasks[0].fire_time(), at(14));
    match &m.timer_tasks[0].kind {
        Some(timer_task::Kind::WorkflowTaskTimeout(tt)) => {
            assert_eq!(tt.timeout_type, TimeoutType::ScheduleToStart as i32);
            assert_eq!(
                (tt.scheduled_event_id, tt.attempt, tt.stamp),
                (7, 1, r.stamp)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(run.ms.workflow_task.as_ref().unwrap().task_queue, STICKY);
}

#[test]
fn normal_tasks_carry_no_fallback_queue_and_no_schedule_to_start_timer() {
    let run = Run::start(None);
    assert_eq!(run.transfers.len(), 1);
    assert_eq!(run.transfers[0].task_queue, "tq");
    assert!(run.transfers[0].normal_task_queue.is_empty());
    assert!(!run.timers.iter().any(|t| t
        .kind
        .as_ref()
        .is_some_and(is_wft_timeout(TimeoutType::ScheduleToStart))));
    assert_eq!(scheduled_queue(&run.history[1]), (normal_queue(), 1));
}

#[test]
fn missing_timeout_uses_the_default() {
    let mut run = Run::start(None);
    let d = run.poll_on(&normal_queue(), at(1)).unwrap();
    let mut attrs = sticky_attrs(0);
    attrs.schedule_to_start_timeout = None;
    run.complete_with(&d, vec![start_timer("t", 5)], Some(attrs), at(2));
    let m = run.fire(|k| matches!(k, timer_task::Kind::UserTimer(_)), at(7));
    let due = at(7).add(DEFAULT_STICKY_SCHEDULE_TO_START);
    assert_eq!(m.timer_tasks[0].fire_time(), due);
}

#[test]
fn completion_without_sticky_attributes_clears_stickiness() {
    let mut run = Run::sticky_task_pending();
    let d = run.poll_on(&sticky_queue(), at(8)).unwrap();
    run.complete_with(&d, vec![start_timer("t2", 5)], None, at(9));
    assert!(!run.ms.is_sticky());
    assert!(run.ms.sticky_schedule_to_start_timeout.is_none());
    run.transfers.clear();
    let m = run.fire(|k| matches!(k, timer_task::Kind::UserTimer(_)), at(14));
    assert_eq!(
        scheduled_queue(m.events.last().unwrap()),
        (normal_queue(), 1)
    );
    assert_eq!(m.transfer_tasks[0].task_queue, "tq");
    assert!(m.transfer_tasks[0].normal_task_queue.is_empty());
    assert!(
        m.timer_tasks.is_empty(),
        "no schedule-to-start timer off sticky"
    );
}

#[test]
fn an_empty_sticky_queue_name_means_no_stickiness() {
    let mut run = Run::start(None);
    let d = run.poll_on(&normal_queue(), at(1)).unwrap();
    let mut attrs = sticky_attrs(5);
    attrs.worker_task_queue.as_mut().unwrap().name.clear();
    run.complete_with(&d, vec![start_timer("t", 5)], Some(attrs), at(2));
    assert!(!run.ms.is_sticky());
}

#[test]
fn sticky_poll_gets_history_after_the_previous_started_event() {
    let mut run = Run::sticky_task_pending();
    let d = run.poll_on(&sticky_queue(), at(8)).unwrap();
    assert!(d.sticky_execution_enabled);
    assert_eq!(d.previous_started_event_id, EventId(3));
    assert_eq!(d.started_event_id, EventId(8));
    assert_eq!(d.attempt, 1);
    assert!(run.ms.is_sticky(), "the sticky worker keeps its stickiness");
    // The schedule-to-start timer is now stale: the task started in time.
    let m = run.fire(is_wft_timeout(TimeoutType::ScheduleToStart), at(14));
    assert!(m.is_empty());
    let c = run.complete_with(&d, vec![complete_wf()], Some(sticky_attrs(7)), at(15));
    assert!(c.rejection.is_none());
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
}

#[test]
fn schedule_to_start_timeout_moves_the_task_to_the_normal_queue_without_an_attempt() {
    let mut run = Run::sticky_task_pending();
    let stamp = run.ms.workflow_task.as_ref().unwrap().stamp;
    run.transfers.clear();
    let m = run.fire(is_wft_timeout(TimeoutType::ScheduleToStart), at(14));
    assert_eq!(
        types(&m.events),
        vec![E::WorkflowTaskTimedOut, E::WorkflowTaskScheduled]
    );
    match &m.events[0].attributes {
        Some(Attributes::WorkflowTaskTimedOutEventAttributes(a)) => {
            assert_eq!(a.scheduled_event_id, 7);
            assert_eq!(a.started_event_id, 0);
            assert_eq!(a.timeout_type, TimeoutType::ScheduleToStart as i32);
        }
        other => panic!("{other:?}"),
    }
    // Attempt 1, persisted (not transient), on the normal queue.
    assert_eq!(m.events[1].event_id, 9);
    assert_eq!(scheduled_queue(&m.events[1]), (normal_queue(), 1));
    assert!(!run.ms.is_sticky());
    assert_eq!(m.transfer_tasks.len(), 1);
    assert_eq!(m.transfer_tasks[0].task_queue, "tq");
    assert!(m.transfer_tasks[0].normal_task_queue.is_empty());
    let r = wft_ref(&m.transfer_tasks[0]);
    assert_eq!((r.scheduled_event_id, r.attempt), (9, 1));
    assert!(r.stamp > stamp, "a fresh stamp kills the sticky dispatch");
    assert!(
        m.timer_tasks.is_empty(),
        "the normal queue has no schedule-to-start timer"
    );

    // The old sticky dispatch is dead; the normal one starts as a full-history task.
    assert!(run
        .ms
        .clone()
        .record_workflow_task_started(EventId(7), &sticky_queue(), "late", "w", at(15))
        .is_err());
    let d = run.poll_on(&normal_queue(), at(15)).unwrap();
    assert!(!d.sticky_execution_enabled);
    assert_eq!(d.started_event_id, EventId(10));
    assert_eq!(d.previous_started_event_id, EventId(3));
}

#[test]
fn schedule_to_start_timeout_is_a_no_op_once_started() {
    let mut run = Run::sticky_task_pending();
    run.poll_on(&sticky_queue(), at(8)).unwrap();
    let before = run.ms.clone();
    let m = run.fire(is_wft_timeout(TimeoutType::ScheduleToStart), at(14));
    assert!(m.is_empty());
    assert_eq!(run.ms, before);
}

#[test]
fn failure_of_a_sticky_task_retries_on_the_normal_queue_as_attempt_one() {
    let mut run = Run::sticky_task_pending();
    let d = run.poll_on(&sticky_queue(), at(8)).unwrap();
    run.transfers.clear();
    let m = run
        .ms
        .fail_workflow_task(
            &d.token,
            WorkflowTaskFailedCause::WorkflowWorkerUnhandledFailure as i32,
            Some(app_failure("cache miss")),
            "worker",
            at(9),
        )
        .unwrap();
    let m = run.apply(m);
    assert_eq!(
        types(&m.events),
        vec![E::WorkflowTaskFailed, E::WorkflowTaskScheduled]
    );
    assert_eq!(scheduled_queue(&m.events[1]), (normal_queue(), 1));
    assert!(!run.ms.is_sticky());
    assert_eq!(m.transfer_tasks.len(), 1);
    assert_eq!(m.transfer_tasks[0].task_queue, "tq");
    assert!(m.timer_tasks.is_empty());

    // The next failure counts: attempt 2, transient, nothing written.
    let d2 = run.poll_on(&normal_queue(), at(10)).unwrap();
    assert_eq!(d2.attempt, 1);
    let m = run
        .ms
        .fail_workflow_task(&d2.token, 0, None, "worker", at(11))
        .unwrap();
    let m = run.apply(m);
    assert_eq!(types(&m.events), vec![E::WorkflowTaskFailed]);
    assert_eq!(run.ms.workflow_task.as_ref().unwrap().attempt, 2);
}

#[test]
fn start_to_close_timeout_of_a_sticky_task_retries_on_the_normal_queue_as_attempt_one() {
    let mut run = Run::sticky_task_pending();
    run.poll_on(&sticky_queue(), at(8)).unwrap();
    run.transfers.clear();
    // Default workflow task timeout: 10 s after the start at 8.
    let m = run.fire(is_wft_timeout(TimeoutType::StartToClose), at(18));
    assert_eq!(
        types(&m.events),
        vec![E::WorkflowTaskTimedOut, E::WorkflowTaskScheduled]
    );
    match &m.events[0].attributes {
        Some(Attributes::WorkflowTaskTimedOutEventAttributes(a)) => {
            assert_eq!((a.scheduled_event_id, a.started_event_id), (7, 8));
            assert_eq!(a.timeout_type, TimeoutType::StartToClose as i32);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(scheduled_queue(&m.events[1]), (normal_queue(), 1));
    assert!(!run.ms.is_sticky());
    assert_eq!(m.transfer_tasks[0].task_queue, "tq");
    assert!(m.timer_tasks.is_empty());
}

#[test]
fn normal_queue_poll_of_a_sticky_task_clears_stickiness() {
    let mut run = Run::sticky_task_pending();
    let d = run.poll_on(&normal_queue(), at(8)).unwrap();
    assert!(!run.ms.is_sticky());
    assert!(
        !d.sticky_execution_enabled,
        "another worker needs full history"
    );
    assert_eq!(d.started_event_id, EventId(8));
    // Started: the sticky schedule-to-start timer no longer does anything.
    let m = run.fire(is_wft_timeout(TimeoutType::ScheduleToStart), at(14));
    assert!(m.is_empty());
}

#[test]
fn another_workers_sticky_poll_also_clears_stickiness() {
    let mut run = Run::sticky_task_pending();
    let other = TaskQueue {
        name: "worker-2-sticky".into(),
        ..sticky_queue()
    };
    let d = run.poll_on(&other, at(8)).unwrap();
    assert!(!run.ms.is_sticky());
    assert!(!d.sticky_execution_enabled);
}

#[test]
fn sticky_poll_of_a_task_that_is_not_sticky_is_stale() {
    let mut run = Run::start(None);
    let before = run.ms.clone();
    let err = run.poll_on(&sticky_queue(), at(1)).unwrap_err();
    assert!(matches!(err, CoreError::NotFound(_)), "{err:?}");
    assert_eq!(run.ms, before, "a rejected poll changes nothing");
    // The normal poller still gets it.
    let d = run.poll_on(&normal_queue(), at(2)).unwrap();
    assert_eq!(d.started_event_id, EventId(3));
}

#[test]
fn reset_sticky_task_queue_clears_stickiness_without_events() {
    let mut run = Run::sticky_waiting_on_timer();
    let len = run.history.len();
    assert_eq!(run.ms.reset_sticky_task_queue(), Ok(true));
    assert!(!run.ms.is_sticky());
    assert!(run.ms.sticky_schedule_to_start_timeout.is_none());
    assert_eq!(run.ms.reset_sticky_task_queue(), Ok(false));
    assert_eq!(run.history.len(), len);
    run.transfers.clear();
    let m = run.fire(|k| matches!(k, timer_task::Kind::UserTimer(_)), at(7));
    assert_eq!(
        scheduled_queue(m.events.last().unwrap()),
        (normal_queue(), 1)
    );
    assert_eq!(m.transfer_tasks[0].task_queue, "tq");
    assert!(m.timer_tasks.is_empty());
}

#[test]
fn reset_sticky_task_queue_on_a_closed_run_is_workflow_completed() {
    let mut run = Run::start(None);
    let d = run.poll_on(&normal_queue(), at(1)).unwrap();
    run.complete_with(&d, vec![complete_wf()], Some(sticky_attrs(5)), at(2));
    assert_eq!(
        run.ms.reset_sticky_task_queue(),
        Err(CoreError::WorkflowCompleted)
    );
}

#[test]
fn sticky_state_survives_prost_round_trip() {
    let run = Run::sticky_task_pending();
    let bytes = run.ms.encode_to_vec();
    let back = MutableState::decode(bytes.as_slice()).unwrap();
    assert_eq!(back, run.ms);
    assert_eq!(back.sticky_task_queue, STICKY);
    let t = &run.transfers[0];
    let back = TransferTask::decode(t.encode_to_vec().as_slice()).unwrap();
    assert_eq!(&back, t);
    assert_eq!(back.normal_task_queue, "tq");
}
