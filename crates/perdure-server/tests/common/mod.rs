//! Helpers for tests that run a node in-process: start one on a directory, connect a real gRPC
//! client, start workflows, and damage stored values behind the node's back.
//!
//! Every network call is bounded by [`RPC_DEADLINE`]; nothing here sleeps.

#![allow(dead_code)] // each test binary uses its own subset

pub mod cluster;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use perdure_api::workflowservice::workflow_service_client::WorkflowServiceClient;
use perdure_server::{start_dev, DevOptions, DevServer};
use perdure_storage::{Cf, Store};
use temporalio_protos::temporal::api::common::v1::WorkflowType;
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeNamespaceRequest, StartWorkflowExecutionRequest,
};
use tonic::transport::Channel;

pub type Client = WorkflowServiceClient<Channel>;

pub const NAMESPACE: &str = "default";
/// Shard count the test directories are created with; keys are computed from it.
pub const SHARDS: u32 = 4;
/// Upper bound for any single call (start-up and shutdown included).
pub const RPC_DEADLINE: Duration = Duration::from_secs(30);

/// Runs `fut` or fails the test once [`RPC_DEADLINE`] has passed.
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(RPC_DEADLINE, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what} did not finish within {RPC_DEADLINE:?}"),
    }
}

/// Starts a node on `dir` (created if new) on a free local port.
pub async fn start(dir: &Path) -> DevServer {
    let opts = DevOptions {
        data_dir: dir.to_path_buf(),
        ip: "127.0.0.1".into(),
        port: 0,
        shards: SHARDS,
        http_port: Some(0),
        history: Default::default(),
        ui_dir: None,
    };
    within("node start-up", start_dev(opts))
        .await
        .expect("node starts")
}

/// Stops `server` and waits until its directory can be reopened.
pub async fn stop(server: DevServer) {
    within("node shutdown", server.shutdown())
        .await
        .expect("node shuts down cleanly");
}

/// A WorkflowService client for `server`.
pub async fn connect(server: &DevServer) -> Client {
    connect_addr(server.addr()).await
}

/// A WorkflowService client for the API (or internal) address `addr`.
pub async fn connect_addr(addr: std::net::SocketAddr) -> Client {
    let endpoint = Channel::from_shared(format!("http://{addr}"))
        .expect("valid endpoint")
        .connect_timeout(RPC_DEADLINE)
        .timeout(RPC_DEADLINE);
    let channel = within("connect", endpoint.connect())
        .await
        .expect("connects");
    WorkflowServiceClient::new(channel)
}

/// The id of namespace `default`, which keys every stored execution.
pub async fn namespace_id(client: &mut Client) -> String {
    let resp = within(
        "DescribeNamespace",
        client.describe_namespace(DescribeNamespaceRequest {
            namespace: NAMESPACE.into(),
            ..Default::default()
        }),
    )
    .await
    .expect("DescribeNamespace")
    .into_inner();
    let id = resp.namespace_info.expect("namespace info").id;
    assert!(!id.is_empty(), "namespace default has an id");
    id
}

/// A start request for `workflow_id` of type `workflow_type` on `queue`, with a request id
/// derived from the workflow id (so sending it again is a dedup hit).
pub fn start_request(
    workflow_id: &str,
    workflow_type: &str,
    queue: &str,
) -> StartWorkflowExecutionRequest {
    StartWorkflowExecutionRequest {
        namespace: NAMESPACE.into(),
        workflow_id: workflow_id.into(),
        workflow_type: Some(WorkflowType {
            name: workflow_type.into(),
        }),
        task_queue: Some(TaskQueue {
            name: queue.into(),
            ..Default::default()
        }),
        request_id: format!("request-{workflow_id}"),
        identity: "perdure-server tests".into(),
        ..Default::default()
    }
}

/// The command that completes a workflow with no result.
pub fn complete_workflow_command() -> temporalio_protos::temporal::api::command::v1::Command {
    use temporalio_protos::temporal::api::command::v1::{
        command::Attributes, Command, CompleteWorkflowExecutionCommandAttributes,
    };
    use temporalio_protos::temporal::api::enums::v1::CommandType;
    Command {
        command_type: CommandType::CompleteWorkflowExecution as i32,
        attributes: Some(Attributes::CompleteWorkflowExecutionCommandAttributes(
            CompleteWorkflowExecutionCommandAttributes::default(),
        )),
        ..Default::default()
    }
}

/// Starts workflow `workflow_id` and returns its run id.
pub async fn start_workflow(client: &mut Client, workflow_id: &str) -> String {
    let request = start_request(workflow_id, "corruption-test", "corruption-test-queue");
    let resp = within(
        "StartWorkflowExecution",
        client.start_workflow_execution(request),
    )
    .await
    .expect("StartWorkflowExecution")
    .into_inner();
    assert!(!resp.run_id.is_empty(), "start returns a run id");
    resp.run_id
}

/// Flips one bit in the payload of the value stored at `key`, bypassing the checksum frame, so
/// the next verified read of it must fail. The node must not be running on `data_dir`.
pub fn corrupt_value(data_dir: &Path, cf: Cf, key: &[u8]) {
    let store = Store::open(&data_dir.join("db")).expect("store reopens after shutdown");
    let db = store.raw();
    let handle = db.cf_handle(cf.name()).expect("column family exists");
    let mut framed = db
        .get_cf(handle, key)
        .expect("raw read")
        .unwrap_or_else(|| panic!("nothing stored in {} at {key:02x?}", cf.name()));
    // Past the 4-byte checksum: damage the data, not the checksum.
    assert!(framed.len() > 4, "stored value carries a payload");
    let last = framed.len() - 1;
    framed[last] ^= 0x01;
    db.put_cf(handle, key, &framed).expect("raw write");
    db.flush_cf(handle).expect("flush");
}
