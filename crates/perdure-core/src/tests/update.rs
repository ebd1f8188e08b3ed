//! Updates: the speculative workflow task that carries them to an idle run (written only when
//! something else is), the events Acceptance and Response messages write and what a Rejection
//! leaves (nothing), and what a completion reports to the callers waiting on them.

use temporalio_protos::temporal::api::{
    command::v1::ProtocolMessageCommandAttributes,
    protocol::v1::{message::SequencingId, Message},
    update::v1::{outcome, Acceptance, Input, Meta, Outcome, Rejection, Request, Response},
};

use prost::Message as _;

use super::*;
use crate::{PendingUpdates, UpdateProgress};

fn request(id: &str) -> Request {
    Request {
        meta: Some(Meta {
            update_id: id.into(),
            identity: "client".into(),
        }),
        input: Some(Input {
            name: "add".into(),
            args: Some(payloads("\"x\"")),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn message(id: &str, update_id: &str, type_name: &str, body: Vec<u8>) -> Message {
    Message {
        id: id.into(),
        protocol_instance_id: update_id.into(),
        body: Some(prost_wkt_types::Any {
            type_url: format!("type.googleapis.com/temporal.api.update.v1.{type_name}"),
            value: body,
        }),
        sequencing_id: Some(SequencingId::EventId(5)),
    }
}

fn accept(update_id: &str, sequencing: i64) -> Message {
    let body = Acceptance {
        accepted_request_message_id: format!("{update_id}/request"),
        accepted_request_sequencing_event_id: sequencing,
        accepted_request: None,
    };
    message(
        &format!("{update_id}/accept"),
        update_id,
        "Acceptance",
        body.encode_to_vec(),
    )
}

fn respond(update_id: &str, result: &str) -> Message {
    let body = Response {
        meta: Some(Meta {
            update_id: update_id.into(),
            identity: "worker".into(),
        }),
        outcome: Some(Outcome {
            value: Some(outcome::Value::Success(payloads(result))),
        }),
    };
    message(
        &format!("{update_id}/complete"),
        update_id,
        "Response",
        body.encode_to_vec(),
    )
}

fn reject(update_id: &str) -> Message {
    let body = Rejection {
        rejected_request_message_id: format!("{update_id}/request"),
        failure: Some(app_failure("no")),
        ..Default::default()
    };
    message(
        &format!("{update_id}/reject"),
        update_id,
        "Rejection",
        body.encode_to_vec(),
    )
}

fn protocol_command(message_id: &str) -> Command {
    cmd(
        CommandType::ProtocolMessage,
        Cmd::ProtocolMessageCommandAttributes(ProtocolMessageCommandAttributes {
            message_id: message_id.into(),
        }),
    )
}

/// The leader's view while the task carrying `ids` is in flight.
fn sent(ids: &[&str]) -> PendingUpdates {
    PendingUpdates {
        requests: ids.iter().map(|id| (id.to_string(), request(id))).collect(),
        sent: ids.iter().map(|id| id.to_string()).collect(),
        waiting: false,
    }
}

impl Run {
    /// Started, first task completed with no commands: idle, events 1-4.
    fn idle() -> Run {
        let mut run = Run::start(None);
        let d = run.poll_wft(at(1));
        run.complete(&d, vec![], at(2));
        assert_eq!(run.history.len(), 4);
        run
    }

    fn signal(&mut self, now: Time) {
        let signal = Signal {
            name: "s".into(),
            request_id: format!("r-{}", now.0),
            ..Default::default()
        };
        let m = self.ms.signal(&signal, now).unwrap();
        self.apply(m);
    }

    fn speculative(&mut self, now: Time) {
        let mut m = Mutation::default();
        assert!(self.ms.schedule_speculative_workflow_task(&mut m, now));
        assert!(m.events.is_empty(), "a speculative task writes no event");
        assert_eq!(m.transfer_tasks.len(), 1, "but is dispatched");
        self.apply(m);
    }

    fn complete_updates(
        &mut self,
        d: &WorkflowTaskDispatch,
        messages: Vec<Message>,
        commands: Vec<Command>,
        pending: &PendingUpdates,
        now: Time,
    ) -> WorkflowTaskCompletion {
        let req = RespondWorkflowTaskCompletedRequest {
            commands,
            messages,
            identity: "worker".into(),
            ..Default::default()
        };
        let c = self
            .ms
            .complete_workflow_task(&d.token, &req, now, &next_run(), pending)
            .unwrap();
        self.apply(c.mutation.clone());
        c
    }
}

#[test]
fn an_accepted_update_writes_the_speculative_task_then_its_two_events() {
    let mut run = Run::idle();
    run.speculative(at(3));
    // Polled: nothing written, the task's two events shown with the ids they will get.
    let d = run.poll_wft(at(4));
    assert_eq!(run.history.len(), 4);
    assert_eq!(d.started_event_id, EventId(6));
    assert_eq!(
        types(&d.transient_events),
        vec![
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted
        ]
    );

    let c = run.complete_updates(
        &d,
        vec![accept("u1", 5), respond("u1", "\"done\"")],
        vec![
            protocol_command("u1/accept"),
            protocol_command("u1/complete"),
        ],
        &sent(&["u1"]),
        at(5),
    );
    assert_eq!(c.reset_history_event_id, 0);
    assert_eq!(
        run.types()[4..],
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionUpdateAccepted,
            EventType::WorkflowExecutionUpdateCompleted,
        ]
    );
    // The request comes from the server's record, the sequencing id from the worker.
    let Some(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(a)) =
        &run.history[7].attributes
    else {
        panic!("accepted attributes");
    };
    assert_eq!(a.protocol_instance_id, "u1");
    assert_eq!(a.accepted_request_message_id, "u1/request");
    assert_eq!(a.accepted_request_sequencing_event_id, 5);
    assert_eq!(a.accepted_request, Some(request("u1")));
    let Some(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(done)) =
        &run.history[8].attributes
    else {
        panic!("completed attributes");
    };
    assert_eq!(done.accepted_event_id, 8);
    assert_eq!(done.meta.as_ref().unwrap().identity, "worker");
    assert_eq!(
        c.mutation.updates,
        vec![
            UpdateProgress::Accepted {
                update_id: "u1".into(),
                event_id: 8
            },
            UpdateProgress::Completed {
                update_id: "u1".into(),
                outcome: Outcome {
                    value: Some(outcome::Value::Success(payloads("\"done\"")))
                }
            },
        ]
    );
    let rec = run.ms.update_record("u1").expect("kept for dedup");
    assert_eq!((rec.accepted_event_id, rec.completed_event_id), (8, 9));
    assert!(run.ms.workflow_task.is_none());
}

#[test]
fn a_rejection_discards_the_speculative_task_and_the_same_ids_are_used_again() {
    let mut run = Run::idle();
    for round in 0..2 {
        run.speculative(at(3 + round));
        let d = run.poll_wft(at(3 + round));
        assert_eq!(d.started_event_id, EventId(6), "round {round}");
        let c = run.complete_updates(&d, vec![reject("bad")], vec![], &sent(&["bad"]), at(4));
        assert_eq!(run.history.len(), 4, "nothing written");
        assert_eq!(c.reset_history_event_id, 3);
        assert!(matches!(
            &c.mutation.updates[..],
            [UpdateProgress::Rejected { update_id, failure }] if update_id == "bad" && failure.message == "no"
        ));
        assert!(run.ms.workflow_task.is_none());
        assert!(run.ms.update_record("bad").is_none());
    }
}

#[test]
fn an_update_the_worker_ignored_is_rejected_by_the_server() {
    let mut run = Run::idle();
    run.speculative(at(3));
    let d = run.poll_wft(at(3));
    let c = run.complete_updates(&d, vec![], vec![], &sent(&["ignored"]), at(4));
    assert_eq!(c.reset_history_event_id, 3);
    let [UpdateProgress::Rejected { failure, .. }] = &c.mutation.updates[..] else {
        panic!("one rejection expected: {:?}", c.mutation.updates);
    };
    assert_eq!(failure.source, "Server");
    assert!(failure.message.contains("wasn't processed by worker"));
}

#[test]
fn a_signal_during_a_speculative_task_makes_it_a_normal_one() {
    let mut run = Run::idle();
    run.speculative(at(3));
    let d = run.poll_wft(at(3));
    run.signal(at(4));
    // The task's events are written now, the signal waits behind them.
    assert_eq!(
        run.types()[4..],
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted
        ]
    );
    let c = run.complete_updates(&d, vec![reject("bad")], vec![], &sent(&["bad"]), at(5));
    assert_eq!(c.reset_history_event_id, 0);
    assert_eq!(
        run.types()[6..],
        [
            EventType::WorkflowTaskCompleted,
            EventType::WorkflowExecutionSignaled,
            EventType::WorkflowTaskScheduled,
        ]
    );
}

#[test]
fn a_signal_before_a_speculative_task_starts_writes_its_scheduled_event_first() {
    let mut run = Run::idle();
    run.speculative(at(3));
    run.signal(at(4));
    assert_eq!(
        run.types()[4..],
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowExecutionSignaled
        ]
    );
    let d = run.poll_wft(at(5));
    assert_eq!(d.started_event_id, EventId(7));
    assert_eq!(run.types()[6], EventType::WorkflowTaskStarted);
}

#[test]
fn a_response_for_an_update_that_was_not_accepted_fails_the_task() {
    let mut run = Run::idle();
    run.speculative(at(3));
    let d = run.poll_wft(at(3));
    let req = RespondWorkflowTaskCompletedRequest {
        messages: vec![respond("u1", "\"x\"")],
        identity: "worker".into(),
        ..Default::default()
    };
    let c = run
        .ms
        .complete_workflow_task(&d.token, &req, at(4), &next_run(), &sent(&["u1"]))
        .unwrap();
    assert!(c.rejection.is_some());
    run.apply(c.mutation);
    assert_eq!(
        run.types()[4..],
        [
            EventType::WorkflowTaskScheduled,
            EventType::WorkflowTaskStarted,
            EventType::WorkflowTaskFailed,
        ]
    );
    // Retried as the next (transient) attempt, which carries the update again.
    assert_eq!(run.ms.workflow_task.as_ref().map(|w| w.attempt), Some(2));
    let Some(Attributes::WorkflowTaskFailedEventAttributes(f)) = &run.history[6].attributes else {
        panic!("failed attributes");
    };
    assert_eq!(
        f.cause,
        WorkflowTaskFailedCause::BadUpdateWorkflowExecutionMessage as i32
    );
}

#[test]
fn closing_the_run_drops_a_speculative_task_unwritten() {
    let mut run = Run::idle();
    run.speculative(at(3));
    let m = run.ms.terminate("done", None, "client", at(4)).unwrap();
    run.apply(m);
    assert_eq!(run.types()[4..], [EventType::WorkflowExecutionTerminated]);
}

#[test]
fn updates_still_waiting_get_a_task_after_the_one_in_flight() {
    let mut run = Run::idle();
    run.signal(at(3));
    let d = run.poll_wft(at(4));
    let waiting = PendingUpdates {
        waiting: true,
        ..Default::default()
    };
    run.complete_updates(&d, vec![], vec![], &waiting, at(5));
    assert_eq!(
        run.types().last(),
        Some(&EventType::WorkflowTaskScheduled),
        "a normal task for the waiting update"
    );
    assert!(!run.ms.workflow_task.as_ref().unwrap().speculative);
}
