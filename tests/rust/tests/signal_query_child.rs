//! Signals, queries and a child workflow, driven by the official Temporal Rust SDK (worker and
//! client) against a freshly spawned server.
//!
//! Owns: proving that a parent workflow sees the signals the server acknowledged, in order; that
//! a query answers with every signal acknowledged before it (before the first signal, between
//! signals, as the run moves on after the last one, and once the run has closed); that a parent
//! can start a child and return its result; and that both histories say so consistently: ids
//! contiguous, the parent's WorkflowExecutionSignaled events carrying the inputs in order, its
//! StartChildWorkflowExecutionInitiated / ChildWorkflowExecutionStarted /
//! ChildWorkflowExecutionCompleted events pointing at one another and at the child's run, and
//! the child's WorkflowExecutionStarted naming its parent and the initiating event.
//!
//! Does not cover: signals racing an in-flight workflow task (each signal is sent only once the
//! previous query has answered), signal-with-start, signals to a closed run, query reject
//! conditions or failing query handlers, children that fail, time out, are cancelled or
//! outlive their parent (parent close policies), children on another task queue or namespace,
//! or the exact event-type sequence (where the child's completion lands relative to the
//! parent's workflow tasks is timing). Must never: share a server or task queue with another
//! test, or wait on anything without a deadline.

use std::time::Duration;

use perdure_e2e::client::{
    assert_event_ids_contiguous, connect, event_type_name, event_type_names, history, single_value,
    with_worker, NAMESPACE,
};
use perdure_e2e::workflows::{
    child_workflow_id, join_uppercase, CollectThenDelegate, JoinUppercase,
};
use perdure_e2e::{within, TestServer};
use temporalio_client::{
    Client, WorkflowExecutionInfo, WorkflowGetResultOptions, WorkflowHandle, WorkflowQueryOptions,
    WorkflowSignalOptions, WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::history::v1::{
    history_event::Attributes, HistoryEvent,
};
use temporalio_common::{HasWorkflowDefinition, SignalDefinition};
use temporalio_sdk::WorkerOptions;

/// Whole-test budget: server start, worker start, the parent and its child, shutdown.
const TEST_DEADLINE: Duration = Duration::from_secs(180);
/// Budget for any one call (start, signal, query, result, history read).
const STEP_DEADLINE: Duration = Duration::from_secs(30);
const PARENT_ID: &str = "rust-signal-query-child";
/// What the test signals, in this order; the parent waits for exactly this many.
const SIGNALS: [&str; 3] = ["alpha", "beta", "gamma"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signals_and_queries_reach_the_parent_and_the_child_result_comes_back() {
    tokio::time::timeout(TEST_DEADLINE, run_signal_query_child())
        .await
        .expect("test finished within its deadline");
}

async fn run_signal_query_child() {
    let server = TestServer::start().await.expect("server under test starts");
    let client = connect(&server.url()).await;
    let task_queue = format!("rust-e2e-signal-query-child-{}", std::process::id());
    let values: Vec<String> = SIGNALS.iter().map(|s| s.to_string()).collect();
    let expected_result = join_uppercase(&values);

    let options = WorkerOptions::new(task_queue.as_str())
        .register_workflow::<CollectThenDelegate>()
        .expect("parent registers")
        .register_workflow::<JoinUppercase>()
        .expect("child registers")
        .build();

    let (parent_run_id, result, parent_events) = with_worker(&client, options, async {
        let handle = within(
            STEP_DEADLINE,
            "start parent",
            client.start_workflow(
                CollectThenDelegate::run,
                values.len() as u32,
                WorkflowStartOptions::new(task_queue.as_str(), PARENT_ID).build(),
            ),
        )
        .await
        .expect("parent starts");
        let parent_run_id = handle.run_id().expect("start names the run").to_string();

        assert_eq!(
            collected(&handle, "query before any signal").await,
            Vec::<String>::new()
        );
        for (i, value) in values.iter().enumerate() {
            within(
                STEP_DEADLINE,
                &format!("signal {value}"),
                handle.signal(
                    CollectThenDelegate::add,
                    value.clone(),
                    WorkflowSignalOptions::default(),
                ),
            )
            .await
            .expect("signal accepted");
            // The server acknowledged the signal, so the answer must include it. After the last
            // one the run goes on to its child and may close before the query lands: the
            // answer must be the same either way.
            assert_eq!(
                collected(&handle, &format!("query after signal {value}")).await,
                values[..=i]
            );
        }

        let result = within(
            STEP_DEADLINE,
            "parent result",
            handle.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .expect("parent completes");
        // A closed run is still queried (replayed by a worker from its history).
        assert_eq!(
            collected(&handle, "query after the parent closed").await,
            values
        );
        let events = within(STEP_DEADLINE, "parent history", history(&handle)).await;
        (parent_run_id, result, events)
    })
    .await;
    assert_eq!(
        result, expected_result,
        "the parent returns the child's result"
    );
    let parent = WorkflowExecution {
        workflow_id: PARENT_ID.to_string(),
        run_id: parent_run_id,
    };

    // The parent: ids, signals in order with their inputs, then the child's three events.
    assert_event_ids_contiguous(&parent_events, "parent");
    let signaled: Vec<(i64, String, String)> = parent_events
        .iter()
        .filter_map(|e| match &e.attributes {
            Some(Attributes::WorkflowExecutionSignaledEventAttributes(a)) => Some((
                e.event_id,
                a.signal_name.clone(),
                single_value::<String>(a.input.as_ref(), "signal input"),
            )),
            _ => None,
        })
        .collect();
    let signal_name = CollectThenDelegate::add.name().to_string();
    assert_eq!(
        signaled
            .iter()
            .map(|(_, n, v)| (n.clone(), v.clone()))
            .collect::<Vec<_>>(),
        values
            .iter()
            .map(|v| (signal_name.clone(), v.clone()))
            .collect::<Vec<_>>(),
        "parent: one WorkflowExecutionSignaled per signal, inputs in order; events {:?}",
        event_type_names(&parent_events)
    );

    let (initiated_id, initiated) = only(
        &parent_events,
        "StartChildWorkflowExecutionInitiated",
        |a| match a {
            Attributes::StartChildWorkflowExecutionInitiatedEventAttributes(a) => Some(a),
            _ => None,
        },
    );
    let child_id = child_workflow_id(PARENT_ID);
    assert_eq!(initiated.workflow_id, child_id);
    assert_eq!(initiated.namespace, NAMESPACE);
    assert_eq!(type_name(&initiated.workflow_type), JoinUppercase::name());
    assert_eq!(
        initiated.task_queue.as_ref().map(|q| q.name.as_str()),
        Some(task_queue.as_str()),
        "child inherits the parent's task queue"
    );
    assert_eq!(
        single_value::<Vec<String>>(initiated.input.as_ref(), "child input"),
        values
    );
    let last_signal_id = signaled.last().map(|(id, _, _)| *id).unwrap_or_default();
    assert!(
        last_signal_id < initiated_id,
        "the child starts only after the last signal ({last_signal_id} < {initiated_id})"
    );

    let (started_id, started) = only(
        &parent_events,
        "ChildWorkflowExecutionStarted",
        |a| match a {
            Attributes::ChildWorkflowExecutionStartedEventAttributes(a) => Some(a),
            _ => None,
        },
    );
    assert_eq!(started.initiated_event_id, initiated_id);
    assert_eq!(started.namespace, NAMESPACE);
    assert_eq!(type_name(&started.workflow_type), JoinUppercase::name());
    let child = started
        .workflow_execution
        .clone()
        .expect("ChildWorkflowExecutionStarted names the child's run");
    assert_eq!(child.workflow_id, child_id);
    assert!(!child.run_id.is_empty(), "child run id set");
    assert!(initiated_id < started_id);

    let (completed_id, completed) =
        only(
            &parent_events,
            "ChildWorkflowExecutionCompleted",
            |a| match a {
                Attributes::ChildWorkflowExecutionCompletedEventAttributes(a) => Some(a),
                _ => None,
            },
        );
    assert_eq!(completed.initiated_event_id, initiated_id);
    assert_eq!(completed.started_event_id, started_id);
    assert_eq!(completed.workflow_execution.as_ref(), Some(&child));
    assert_eq!(type_name(&completed.workflow_type), JoinUppercase::name());
    assert_eq!(
        single_value::<String>(completed.result.as_ref(), "child result in the parent"),
        expected_result
    );
    assert!(started_id < completed_id);
    assert_closed_with(&parent_events, "parent", &expected_result);

    // The child, read by the run id the parent recorded: it names its parent and the event
    // that initiated it.
    let child_handle: WorkflowHandle<Client, JoinUppercase> = WorkflowHandle::new(
        client.clone(),
        WorkflowExecutionInfo::builder()
            .namespace(NAMESPACE)
            .workflow_id(child.workflow_id.clone())
            .run_id(child.run_id.clone())
            .build(),
    );
    let child_events = within(STEP_DEADLINE, "child history", history(&child_handle)).await;
    assert_event_ids_contiguous(&child_events, "child");
    let child_started = match child_events.first().and_then(|e| e.attributes.as_ref()) {
        Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) => a,
        _ => panic!(
            "child history starts with WorkflowExecutionStarted: {:?}",
            event_type_names(&child_events)
        ),
    };
    assert_eq!(
        child_started.parent_workflow_execution.as_ref(),
        Some(&parent)
    );
    assert_eq!(child_started.parent_initiated_event_id, initiated_id);
    assert_eq!(child_started.parent_workflow_namespace, NAMESPACE);
    assert_eq!(
        child_started.root_workflow_execution.as_ref(),
        Some(&parent)
    );
    assert_eq!(child_started.original_execution_run_id, child.run_id);
    assert_eq!(
        type_name(&child_started.workflow_type),
        JoinUppercase::name()
    );
    assert_eq!(
        single_value::<Vec<String>>(child_started.input.as_ref(), "child input in the child"),
        values
    );
    assert_closed_with(&child_events, "child", &expected_result);
    drop(server);
}

/// The parent's `collected` query, bounded by [`STEP_DEADLINE`]. Generic because the handle
/// `start_workflow` returns is typed by the macro-generated (private) run marker.
async fn collected<W>(handle: &WorkflowHandle<Client, W>, what: &str) -> Vec<String>
where
    W: HasWorkflowDefinition<Run = <CollectThenDelegate as HasWorkflowDefinition>::Run>,
{
    within(
        STEP_DEADLINE,
        what,
        handle.query(
            CollectThenDelegate::collected,
            (),
            WorkflowQueryOptions::default(),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The id and attributes of the one event `pick` accepts; panics unless there is exactly one.
fn only<'a, A>(
    events: &'a [HistoryEvent],
    what: &str,
    pick: impl Fn(&'a Attributes) -> Option<&'a A>,
) -> (i64, &'a A) {
    let found: Vec<(i64, &A)> = events
        .iter()
        .filter_map(|e| {
            e.attributes
                .as_ref()
                .and_then(&pick)
                .map(|a| (e.event_id, a))
        })
        .collect();
    match found.as_slice() {
        [one] => *one,
        _ => panic!(
            "exactly one {what} expected, found {}: {:?}",
            found.len(),
            event_type_names(events)
        ),
    }
}

fn type_name(
    workflow_type: &Option<temporalio_common::protos::temporal::api::common::v1::WorkflowType>,
) -> &str {
    workflow_type
        .as_ref()
        .map(|t| t.name.as_str())
        .unwrap_or_default()
}

/// Panics unless the last event of `events` is WorkflowExecutionCompleted with `result`.
fn assert_closed_with(events: &[HistoryEvent], what: &str, result: &str) {
    let last = events
        .last()
        .unwrap_or_else(|| panic!("{what}: empty history"));
    assert_eq!(
        event_type_name(last),
        EventType::WorkflowExecutionCompleted.as_str_name(),
        "{what}: closes completed"
    );
    match &last.attributes {
        Some(Attributes::WorkflowExecutionCompletedEventAttributes(a)) => assert_eq!(
            single_value::<String>(a.result.as_ref(), &format!("{what} result")),
            result
        ),
        _ => panic!("{what}: completion event without its attributes"),
    }
}
