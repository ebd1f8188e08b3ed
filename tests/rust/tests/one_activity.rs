//! The one-activity workflow, driven by the official Temporal Rust SDK (worker and client)
//! against a freshly spawned server.
//!
//! Owns: proving the Rust SDK's whole hello-world path works end to end. Must never: share a
//! server or task queue with another test, or wait on anything without a deadline.

use std::path::Path;
use std::time::Duration;

use perdure_e2e::client::{
    assert_event_ids_contiguous, connect, event_type_names, history, with_worker,
};
use perdure_e2e::workflows::{Greetings, OneActivity};
use perdure_e2e::TestServer;
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_sdk::WorkerOptions;

/// Whole-test budget: server start, worker start, one workflow, shutdown.
const TEST_DEADLINE: Duration = Duration::from_secs(120);

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

    let options = WorkerOptions::new(task_queue.as_str())
        .register_workflow::<OneActivity>()
        .expect("workflow registers")
        .register_activities(Greetings)
        .build();

    let (result, events) = with_worker(&client, options, async {
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
        (result, history(&handle).await)
    })
    .await;
    assert_eq!(result, "Hello, Perdure!");

    assert_event_ids_contiguous(&events, "one_activity");
    assert_eq!(
        event_type_names(&events),
        golden_event_types("one_activity")
    );
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
