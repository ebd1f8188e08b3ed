//! Activity cancellation: an activity that has not started is canceled by the command itself;
//! a started one hears of it through its heartbeat and reports RespondActivityTaskCanceled.

use super::*;
use temporalio_protos::temporal::api::command::v1::RequestCancelActivityTaskCommandAttributes;

fn cancel_activity_cmd(scheduled_event_id: i64) -> Command {
    cmd(
        CommandType::RequestCancelActivityTask,
        Cmd::RequestCancelActivityTaskCommandAttributes(
            RequestCancelActivityTaskCommandAttributes { scheduled_event_id },
        ),
    )
}

#[test]
fn an_activity_that_never_started_is_canceled_by_the_command_with_a_new_task() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![schedule_activity("1", None)], at(2)); // 5 ActivityTaskScheduled
    let d2 = {
        // A timer-free way to get a second task: a signal.
        let m = run
            .ms
            .signal(
                &Signal {
                    name: "go".into(),
                    ..Default::default()
                },
                at(3),
            )
            .unwrap();
        run.apply(m);
        run.poll_wft(at(4))
    };
    let c = run.complete(&d2, vec![cancel_activity_cmd(5)], at(5));
    assert!(c.rejection.is_none());
    assert_eq!(
        types(&c.mutation.events),
        vec![
            E::WorkflowTaskCompleted,
            E::ActivityTaskCancelRequested,
            E::ActivityTaskCanceled,
            E::WorkflowTaskScheduled
        ]
    );
    let requested_id = c.mutation.events[1].event_id;
    match &c.mutation.events[2].attributes {
        Some(Attributes::ActivityTaskCanceledEventAttributes(a)) => {
            assert_eq!(
                (
                    a.scheduled_event_id,
                    a.started_event_id,
                    a.latest_cancel_requested_event_id
                ),
                (5, 0, requested_id)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(run.ms.activities.is_empty());
}

#[test]
fn a_started_activity_hears_of_it_through_its_heartbeat_and_reports_canceled() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![schedule_activity("1", None)], at(2)); // 5 Scheduled
    let ad = run.poll_activity(5, at(3));
    let (_, cancel) = run
        .ms
        .record_activity_heartbeat(&ad.token, None, at(4))
        .unwrap();
    assert!(!cancel);
    let m = run
        .ms
        .signal(
            &Signal {
                name: "stop it".into(),
                ..Default::default()
            },
            at(5),
        )
        .unwrap();
    run.apply(m);
    let d2 = run.poll_wft(at(6));
    let c = run.complete(&d2, vec![cancel_activity_cmd(5)], at(7));
    assert_eq!(
        types(&c.mutation.events),
        vec![E::WorkflowTaskCompleted, E::ActivityTaskCancelRequested],
        "a started attempt is only asked"
    );
    let requested_id = c.mutation.events[1].event_id;
    let (_, cancel) = run
        .ms
        .record_activity_heartbeat(&ad.token, None, at(8))
        .unwrap();
    assert!(cancel, "the heartbeat tells the worker");
    let m = run
        .ms
        .cancel_activity(&ad.token, Some(payloads("stopped")), "aworker", at(9))
        .unwrap();
    let m = run.apply(m);
    assert_eq!(
        types(&m.events),
        vec![
            E::ActivityTaskStarted,
            E::ActivityTaskCanceled,
            E::WorkflowTaskScheduled
        ]
    );
    match &m.events[1].attributes {
        Some(Attributes::ActivityTaskCanceledEventAttributes(a)) => {
            assert_eq!(a.scheduled_event_id, 5);
            assert_eq!(a.started_event_id, m.events[0].event_id);
            assert_eq!(a.latest_cancel_requested_event_id, requested_id);
            assert_eq!(a.details, Some(payloads("stopped")));
            assert_eq!(a.identity, "aworker");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cancelling_an_unknown_activity_fails_the_task() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    let c = run.complete(&d, vec![cancel_activity_cmd(42)], at(2));
    assert!(c.rejection.is_some());
    assert_eq!(types(&c.mutation.events)[0], E::WorkflowTaskFailed);
    match &c.mutation.events[0].attributes {
        Some(Attributes::WorkflowTaskFailedEventAttributes(a)) => assert_eq!(
            a.cause,
            WorkflowTaskFailedCause::BadRequestCancelActivityAttributes as i32
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reporting_a_cancellation_nobody_asked_for_is_refused() {
    let mut run = Run::start(None);
    let d = run.poll_wft(at(1));
    run.complete(&d, vec![schedule_activity("1", None)], at(2));
    let ad = run.poll_activity(5, at(3));
    assert!(matches!(
        run.ms.cancel_activity(&ad.token, None, "aworker", at(4)),
        Err(CoreError::InvalidArgument(_))
    ));
}
