//! The links Temporal's answers carry to the event a call wrote (start, signal): a reference
//! to the event by id when the caller knows it, else by the request id that wrote it.
//!
//! Pure: builds messages from names; never reads anything.

use temporalio_protos::temporal::api::common::v1::{link, Link};
use temporalio_protos::temporal::api::enums::v1::EventType;

fn workflow_event(
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
    reference: link::workflow_event::Reference,
) -> Link {
    Link {
        variant: Some(link::Variant::WorkflowEvent(link::WorkflowEvent {
            namespace: namespace.to_string(),
            workflow_id: workflow_id.to_string(),
            run_id: run_id.to_string(),
            reference: Some(reference),
        })),
    }
}

/// A start's link to its run's WorkflowExecutionStarted event (always event 1).
pub(crate) fn started_event(namespace: &str, workflow_id: &str, run_id: &str) -> Link {
    workflow_event(
        namespace,
        workflow_id,
        run_id,
        link::workflow_event::Reference::EventRef(link::workflow_event::EventReference {
            event_id: 1,
            event_type: EventType::WorkflowExecutionStarted as i32,
        }),
    )
}

/// A signal's link: the WorkflowExecutionSignaled event its request id wrote (its id is not
/// known to the caller when the signal is buffered behind a running workflow task).
pub(crate) fn signaled_by_request(
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
    request_id: &str,
) -> Link {
    workflow_event(
        namespace,
        workflow_id,
        run_id,
        link::workflow_event::Reference::RequestIdRef(link::workflow_event::RequestIdReference {
            request_id: request_id.to_string(),
            event_type: EventType::WorkflowExecutionSignaled as i32,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use link::workflow_event::Reference;

    fn event(l: Link) -> link::WorkflowEvent {
        match l.variant {
            Some(link::Variant::WorkflowEvent(e)) => e,
            other => panic!("not a workflow event link: {other:?}"),
        }
    }

    #[test]
    fn started_links_to_event_one() {
        let e = event(started_event("ns", "wf", "run"));
        assert_eq!(
            (
                e.namespace.as_str(),
                e.workflow_id.as_str(),
                e.run_id.as_str()
            ),
            ("ns", "wf", "run")
        );
        match e.reference {
            Some(Reference::EventRef(r)) => {
                assert_eq!(
                    (r.event_id, r.event_type),
                    (1, EventType::WorkflowExecutionStarted as i32)
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn signal_links_by_request_id() {
        let e = event(signaled_by_request("ns", "wf", "run", "req"));
        assert_eq!(e.run_id, "run");
        match e.reference {
            Some(Reference::RequestIdRef(r)) => {
                assert_eq!(r.request_id, "req");
                assert_eq!(r.event_type, EventType::WorkflowExecutionSignaled as i32);
            }
            other => panic!("{other:?}"),
        }
    }
}
