//! The WorkflowService trait, one line per implemented RPC: each delegates to its module under
//! `rpc/`. RPCs not listed answer Unimplemented through the generated defaults.

use perdure_api::workflowservice::workflow_service_server::WorkflowService;
use temporalio_protos::temporal::api::workflowservice::v1::*;
use tonic::{Request, Response, Status};

use crate::server::Frontend;

type Reply<T> = Result<Response<T>, Status>;

/// Runs one RPC and records its outcome and duration.
async fn observe<T>(
    method: &'static str,
    call: impl std::future::Future<Output = Reply<T>>,
) -> Reply<T> {
    let started = std::time::Instant::now();
    let reply = call.await;
    let code = match &reply {
        Ok(_) => tonic::Code::Ok,
        Err(s) => s.code(),
    };
    perdure_metrics::metrics().observe_grpc(method, &format!("{code:?}"), started.elapsed());
    reply
}

#[tonic::async_trait]
impl WorkflowService for Frontend {
    async fn get_system_info(
        &self,
        r: Request<GetSystemInfoRequest>,
    ) -> Reply<GetSystemInfoResponse> {
        observe("GetSystemInfo", async {
            self.get_system_info(r.into_inner()).map(Response::new)
        })
        .await
    }

    async fn register_namespace(
        &self,
        r: Request<RegisterNamespaceRequest>,
    ) -> Reply<RegisterNamespaceResponse> {
        observe("RegisterNamespace", async {
            self.register_namespace(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn describe_namespace(
        &self,
        r: Request<DescribeNamespaceRequest>,
    ) -> Reply<DescribeNamespaceResponse> {
        observe("DescribeNamespace", async {
            self.describe_namespace(r.into_inner()).map(Response::new)
        })
        .await
    }

    async fn list_namespaces(
        &self,
        r: Request<ListNamespacesRequest>,
    ) -> Reply<ListNamespacesResponse> {
        observe("ListNamespaces", async {
            self.list_namespaces(r.into_inner()).map(Response::new)
        })
        .await
    }

    async fn start_workflow_execution(
        &self,
        r: Request<StartWorkflowExecutionRequest>,
    ) -> Reply<StartWorkflowExecutionResponse> {
        observe("StartWorkflowExecution", async {
            self.start_workflow_execution(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn poll_workflow_task_queue(
        &self,
        r: Request<PollWorkflowTaskQueueRequest>,
    ) -> Reply<PollWorkflowTaskQueueResponse> {
        let deadline = crate::deadline::long_poll_deadline(r.metadata());
        observe("PollWorkflowTaskQueue", async {
            self.poll_workflow_task_queue(r.into_inner(), deadline)
                .await
                .map(Response::new)
        })
        .await
    }

    async fn respond_workflow_task_completed(
        &self,
        r: Request<RespondWorkflowTaskCompletedRequest>,
    ) -> Reply<RespondWorkflowTaskCompletedResponse> {
        observe("RespondWorkflowTaskCompleted", async {
            self.respond_workflow_task_completed(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn respond_workflow_task_failed(
        &self,
        r: Request<RespondWorkflowTaskFailedRequest>,
    ) -> Reply<RespondWorkflowTaskFailedResponse> {
        observe("RespondWorkflowTaskFailed", async {
            self.respond_workflow_task_failed(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn poll_activity_task_queue(
        &self,
        r: Request<PollActivityTaskQueueRequest>,
    ) -> Reply<PollActivityTaskQueueResponse> {
        let deadline = crate::deadline::long_poll_deadline(r.metadata());
        observe("PollActivityTaskQueue", async {
            self.poll_activity_task_queue(r.into_inner(), deadline)
                .await
                .map(Response::new)
        })
        .await
    }

    async fn respond_activity_task_completed(
        &self,
        r: Request<RespondActivityTaskCompletedRequest>,
    ) -> Reply<RespondActivityTaskCompletedResponse> {
        observe("RespondActivityTaskCompleted", async {
            self.respond_activity_task_completed(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn respond_activity_task_failed(
        &self,
        r: Request<RespondActivityTaskFailedRequest>,
    ) -> Reply<RespondActivityTaskFailedResponse> {
        observe("RespondActivityTaskFailed", async {
            self.respond_activity_task_failed(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn record_activity_task_heartbeat(
        &self,
        r: Request<RecordActivityTaskHeartbeatRequest>,
    ) -> Reply<RecordActivityTaskHeartbeatResponse> {
        observe("RecordActivityTaskHeartbeat", async {
            self.record_activity_task_heartbeat(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn record_activity_task_heartbeat_by_id(
        &self,
        r: Request<RecordActivityTaskHeartbeatByIdRequest>,
    ) -> Reply<RecordActivityTaskHeartbeatByIdResponse> {
        observe("RecordActivityTaskHeartbeatById", async {
            self.record_activity_task_heartbeat_by_id(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn get_workflow_execution_history(
        &self,
        r: Request<GetWorkflowExecutionHistoryRequest>,
    ) -> Reply<GetWorkflowExecutionHistoryResponse> {
        let deadline = crate::deadline::long_poll_deadline(r.metadata());
        observe("GetWorkflowExecutionHistory", async {
            self.get_workflow_execution_history(r.into_inner(), deadline)
                .await
                .map(Response::new)
        })
        .await
    }

    async fn describe_workflow_execution(
        &self,
        r: Request<DescribeWorkflowExecutionRequest>,
    ) -> Reply<DescribeWorkflowExecutionResponse> {
        observe("DescribeWorkflowExecution", async {
            self.describe_workflow_execution(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn terminate_workflow_execution(
        &self,
        r: Request<TerminateWorkflowExecutionRequest>,
    ) -> Reply<TerminateWorkflowExecutionResponse> {
        observe("TerminateWorkflowExecution", async {
            self.terminate_workflow_execution(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn shutdown_worker(
        &self,
        r: Request<ShutdownWorkerRequest>,
    ) -> Reply<ShutdownWorkerResponse> {
        observe("ShutdownWorker", async {
            self.shutdown_worker(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn reset_sticky_task_queue(
        &self,
        r: Request<ResetStickyTaskQueueRequest>,
    ) -> Reply<ResetStickyTaskQueueResponse> {
        observe("ResetStickyTaskQueue", async {
            self.reset_sticky_task_queue(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }
}
