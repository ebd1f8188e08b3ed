//! The one-activity workflow, driven by the official Temporal Rust SDK (worker and client)
//! against a freshly spawned server.
//!
//! Owns: proving the Rust SDK's whole hello-world path works end to end. Must never: share a
//! server or task queue with another test, or wait on anything without a deadline.

use std::path::Path;
use std::time::Duration;

use perdure_e2e::workflows::{Greetings, OneActivity};
use perdure_e2e::TestServer;
use temporalio_client::{
    Client, ClientOptions, Connection, ConnectionOptions, WorkflowFetchHistoryOptions,
    WorkflowGetResultOptions, WorkflowStartOptions,
};
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use temporalio_sdk::{Runtime, Worker, WorkerOptions};
use url::Url;

/// Whole-test budget: server start, worker start, one workflow, shutdown.
const TEST_DEADLINE: Duration = Duration::from_secs(120);
const CONNECT_DEADLINE: Duration = Duration::from_secs(30);

/// The port accepting TCP does not mean the server answers gRPC yet: retry until it does.
async fn connect(url: &str) -> Client {
    let deadline = tokio::time::Instant::now() + CONNECT_DEADLINE;
    loop {
        let opts = ConnectionOptions::new(Url::parse(url).expect("valid url")).build();
        match Connection::connect(opts).await {
            Ok(conn) => {
                return Client::new(conn, ClientOptions::new("default").build())
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_activity_workflow_returns_activity_result() {
    tokio::time::timeout(TEST_DEADLINE, run_one_activity())
        .await
        .expect("test finished within its deadline");
}

async fn run_one_activity() {
    let server = TestServer::start().await.expect("server under test starts");
    let client = connect(&server.url()).await;
    let task_queue = format!("rust-e2e-{}", std::process::id());

    let runtime = Runtime::from_current_tokio(Default::default()).expect("sdk runtime");
    let options = WorkerOptions::new(task_queue.as_str())
        .register_workflow::<OneActivity>()
        .expect("workflow registers")
        .register_activities(Greetings)
        .build();
    let mut worker = Worker::new(&runtime, client.clone(), options).expect("worker builds");
    let shutdown = worker.shutdown_handle();

    // The worker is not Send (workflows run on a LocalSet), so it is driven in this task,
    // alongside the client, rather than spawned.
    let drive_client = async {
        let handle = client
            .start_workflow(
                OneActivity::run,
                "Perdure".to_string(),
                WorkflowStartOptions::new(task_queue.as_str(), "rust-one-activity").build(),
            )
            .await
            .expect("workflow starts");
        let result = handle
            .get_result(WorkflowGetResultOptions::default())
            .await
            .expect("workflow completes");
        shutdown();
        let events = handle
            .fetch_history(WorkflowFetchHistoryOptions::builder().build())
            .into_events()
            .await
            .expect("history readable");
        (result, events)
    };
    let (worker_outcome, (result, events)) = tokio::join!(worker.run(), drive_client);
    worker_outcome.expect("worker shuts down cleanly");
    assert_eq!(result, "Hello, Perdure!");

    let ids: Vec<i64> = events.iter().map(|e| e.event_id).collect();
    let expected_ids: Vec<i64> = (1..=events.len() as i64).collect();
    assert_eq!(ids, expected_ids, "event ids contiguous from 1");
    let types: Vec<String> = events
        .iter()
        .map(|e| match EventType::try_from(e.event_type) {
            Ok(t) => t.as_str_name().to_string(),
            Err(_) => format!("unknown event type {}", e.event_type),
        })
        .collect();
    assert_eq!(types, golden_event_types("one_activity"));
    drop(server);
}

/// The event-type sequence Temporal's dev server wrote for the same workflow, recorded by
/// tests/python/record_goldens.py (the Rust and Python SDKs produce the same history shape).
fn golden_event_types(name: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../python/golden")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).expect("golden file readable");
    // The quoted EVENT_TYPE_* strings of the flat `event_types` list (the first run), in order;
    // the normalised events that follow it are compared by the Python suite.
    let list = text
        .split_once("\"event_types\": [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .expect("golden has an event_types list");
    list.split('"')
        .filter(|s| s.starts_with("EVENT_TYPE_"))
        .map(str::to_string)
        .collect()
}
