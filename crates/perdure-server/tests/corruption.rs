//! A node restarted on a directory with damaged values must refuse to serve them — DATA_LOSS,
//! never the damaged data — and must keep serving everything else.

mod common;

use common::{
    connect, corrupt_value, namespace_id, start, start_workflow, stop, within, NAMESPACE, SHARDS,
};
use perdure_storage::{keys, Cf};
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::enums::v1::{EventType, WorkflowExecutionStatus};
use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeWorkflowExecutionRequest, DescribeWorkflowExecutionResponse,
    GetWorkflowExecutionHistoryRequest, GetWorkflowExecutionHistoryResponse,
};
use tonic::{Code, Status};

fn execution(workflow_id: &str, run_id: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution {
        workflow_id: workflow_id.into(),
        run_id: run_id.into(),
    })
}

async fn history(
    client: &mut common::Client,
    workflow_id: &str,
    run_id: &str,
) -> Result<GetWorkflowExecutionHistoryResponse, Status> {
    within(
        "GetWorkflowExecutionHistory",
        client.get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: NAMESPACE.into(),
            execution: execution(workflow_id, run_id),
            ..Default::default()
        }),
    )
    .await
    .map(tonic::Response::into_inner)
}

async fn describe(
    client: &mut common::Client,
    workflow_id: &str,
    run_id: &str,
) -> Result<DescribeWorkflowExecutionResponse, Status> {
    within(
        "DescribeWorkflowExecution",
        client.describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            execution: execution(workflow_id, run_id),
        }),
    )
    .await
    .map(tonic::Response::into_inner)
}

fn assert_data_loss<T: std::fmt::Debug>(result: Result<T, Status>, what: &str) {
    match result {
        Err(status) => {
            assert_eq!(status.code(), Code::DataLoss, "{what}: {status:?}");
            assert!(
                status.message().to_lowercase().contains("corrupt"),
                "{what}: message should name the corruption: {:?}",
                status.message()
            );
        }
        Ok(resp) => panic!("{what}: served damaged data: {resp:?}"),
    }
}

async fn assert_healthy(client: &mut common::Client, workflow_id: &str, run_id: &str) {
    let described = describe(client, workflow_id, run_id)
        .await
        .unwrap_or_else(|s| panic!("describe untouched {workflow_id}: {s:?}"));
    let info = described.workflow_execution_info.expect("execution info");
    assert_eq!(info.execution, execution(workflow_id, run_id));
    assert_eq!(info.status, WorkflowExecutionStatus::Running as i32);

    let events = history(client, workflow_id, run_id)
        .await
        .unwrap_or_else(|s| panic!("history of untouched {workflow_id}: {s:?}"))
        .history
        .expect("history")
        .events;
    let first = events.first().expect("at least the started event");
    assert_eq!(first.event_id, 1);
    assert_eq!(first.event_type, EventType::WorkflowExecutionStarted as i32);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_history_event_answers_data_loss_and_node_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let mut client = connect(&server).await;
    let ns_id = namespace_id(&mut client).await;
    let damaged_run = start_workflow(&mut client, "wf-damaged-history").await;
    let intact_run = start_workflow(&mut client, "wf-intact").await;
    let data_dir = server.data_dir().to_path_buf();
    stop(server).await;

    let shard = perdure_history::shard_for(&ns_id, "wf-damaged-history", SHARDS);
    let key = keys::history_event(shard, &ns_id, "wf-damaged-history", &damaged_run, 1);
    corrupt_value(&data_dir, Cf::History, &key);

    let server = start(&data_dir).await;
    let mut client = connect(&server).await;
    assert_data_loss(
        history(&mut client, "wf-damaged-history", &damaged_run).await,
        "history with a damaged first event",
    );
    // The failure is confined to the damaged run: the node still serves the rest.
    assert_healthy(&mut client, "wf-intact", &intact_run).await;
    stop(server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_mutable_state_answers_data_loss() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let mut client = connect(&server).await;
    let ns_id = namespace_id(&mut client).await;
    let damaged_run = start_workflow(&mut client, "wf-damaged-state").await;
    let intact_run = start_workflow(&mut client, "wf-intact").await;
    let data_dir = server.data_dir().to_path_buf();
    stop(server).await;

    let shard = perdure_history::shard_for(&ns_id, "wf-damaged-state", SHARDS);
    let key = keys::execution(shard, &ns_id, "wf-damaged-state", &damaged_run);
    corrupt_value(&data_dir, Cf::Executions, &key);

    let server = start(&data_dir).await;
    let mut client = connect(&server).await;
    assert_data_loss(
        describe(&mut client, "wf-damaged-state", &damaged_run).await,
        "describe with damaged mutable state",
    );
    assert_healthy(&mut client, "wf-intact", &intact_run).await;
    stop(server).await;
}
