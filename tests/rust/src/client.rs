//! The SDK side the tests share: connecting a client to the server under test, driving a worker
//! alongside a test's own calls, and reading histories back.
//!
//! Owns: retrying the first connection until the server answers gRPC, worker start and
//! shutdown, and the history checks every test makes (event ids, event type names). Must never:
//! start servers (the harness in `lib.rs` does) or wait on anything without a deadline.
//! Helpers panic on failure: they only ever run inside tests.

use std::future::Future;
use std::time::Duration;

use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, WorkflowFetchHistoryOptions,
    WorkflowHandle,
};
use temporalio_common::protos::coresdk::FromJsonPayloadExt;
use temporalio_common::protos::temporal::api::common::v1::Payloads;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use url::Url;

/// The namespace every test client works in (both servers create it at start-up).
pub const NAMESPACE: &str = "default";

/// How long the server gets to answer gRPC once its port accepts TCP connections.
pub const CONNECT_DEADLINE: Duration = Duration::from_secs(30);

/// A client of [`NAMESPACE`] at `url`. The port accepting TCP does not mean the
/// server answers gRPC yet: retries until it does, for at most [`CONNECT_DEADLINE`].
pub async fn connect(url: &str) -> Client {
    let deadline = tokio::time::Instant::now() + CONNECT_DEADLINE;
    loop {
        let opts = ConnectionOptions::new(Url::parse(url).expect("valid url")).build();
        match Connection::connect(opts).await {
            Ok(conn) => {
                return Client::new(conn, ClientOptions::new(NAMESPACE).build())
                    .expect("client from a live connection")
            }
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("connect to {url} not ready yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("could not connect to {url} within {CONNECT_DEADLINE:?}: {e}"),
        }
    }
}

/// Runs a worker built from `options` while `calls` (the test's client side) runs, then shuts
/// the worker down and returns what `calls` returned. The worker is not Send (workflows run on
/// a LocalSet), so both are driven in the caller's task rather than spawned. Bound the caller
/// with a timeout: neither side has a deadline of its own.
pub async fn with_worker<T>(
    client: &Client,
    options: WorkerOptions,
    calls: impl Future<Output = T>,
) -> T {
    let runtime = Runtime::from_current_tokio(Default::default()).expect("sdk runtime");
    let mut worker = Worker::new(&runtime, client.clone(), options).expect("worker builds");
    let shutdown = worker.shutdown_handle();
    let calls = async {
        let out = calls.await;
        shutdown();
        out
    };
    let (worker_outcome, out) = tokio::join!(worker.run(), calls);
    worker_outcome.expect("worker shuts down cleanly");
    out
}

/// Every event of the run `handle` points at (its latest run when it names none).
pub async fn history<W>(handle: &WorkflowHandle<Client, W>) -> Vec<HistoryEvent>
where
    W: temporalio_common::HasWorkflowDefinition,
{
    handle
        .fetch_history(WorkflowFetchHistoryOptions::builder().build())
        .into_events()
        .await
        .expect("history readable")
}

/// `EVENT_TYPE_WORKFLOW_EXECUTION_STARTED` and so on; unknown numbers are spelled out.
pub fn event_type_name(event: &HistoryEvent) -> String {
    match EventType::try_from(event.event_type) {
        Ok(t) => t.as_str_name().to_string(),
        Err(_) => format!("unknown event type {}", event.event_type),
    }
}

/// The event type names of `events`, in order.
pub fn event_type_names(events: &[HistoryEvent]) -> Vec<String> {
    events.iter().map(event_type_name).collect()
}

/// Panics unless the event ids of `events` are 1, 2, 3, ... with no gap. `what` names the
/// history in the message.
pub fn assert_event_ids_contiguous(events: &[HistoryEvent], what: &str) {
    let ids: Vec<i64> = events.iter().map(|e| e.event_id).collect();
    let expected: Vec<i64> = (1..=events.len() as i64).collect();
    assert_eq!(ids, expected, "{what}: event ids contiguous from 1");
}

/// The one value in `payloads` (an event's input or result), decoded from the SDK's default
/// JSON encoding. `what` names it in the message when it is missing or does not decode.
pub fn single_value<T: FromJsonPayloadExt>(payloads: Option<&Payloads>, what: &str) -> T {
    let payloads = &payloads
        .unwrap_or_else(|| panic!("{what}: no payloads"))
        .payloads;
    assert_eq!(payloads.len(), 1, "{what}: exactly one payload");
    T::from_json_payload(&payloads[0]).unwrap_or_else(|e| panic!("{what}: {e}"))
}
