//! The WorkflowService trait, one line per implemented RPC: each delegates to its module under
//! `rpc/`. RPCs not listed answer Unimplemented through the generated defaults.

use perdure_api::workflowservice::workflow_service_server::WorkflowService;
use temporalio_protos::temporal::api::workflowservice::v1::*;
use tonic::{Request, Response, Status};

use crate::server::Frontend;

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl WorkflowService for Frontend {
    async fn get_system_info(&self, r: Request<GetSystemInfoRequest>) -> Reply<GetSystemInfoResponse> {
        self.get_system_info(r.into_inner()).map(Response::new)
    }

    async fn register_namespace(&self, r: Request<RegisterNamespaceRequest>) -> Reply<RegisterNamespaceResponse> {
        self.register_namespace(r.into_inner()).await.map(Response::new)
    }

    async fn describe_namespace(&self, r: Request<DescribeNamespaceRequest>) -> Reply<DescribeNamespaceResponse> {
        self.describe_namespace(r.into_inner()).map(Response::new)
    }

    async fn list_namespaces(&self, r: Request<ListNamespacesRequest>) -> Reply<ListNamespacesResponse> {
        self.list_namespaces(r.into_inner()).map(Response::new)
    }

    async fn start_workflow_execution(
        &self,
        r: Request<StartWorkflowExecutionRequest>,
    ) -> Reply<StartWorkflowExecutionResponse> {
        self.start_workflow_execution(r.into_inner()).await.map(Response::new)
    }

    async fn poll_workflow_task_queue(
        &self,
        r: Request<PollWorkflowTaskQueueRequest>,
    ) -> Reply<PollWorkflowTaskQueueResponse> {
        let deadline = crate::deadline::long_poll_deadline(r.metadata());
        self.poll_workflow_task_queue(r.into_inner(), deadline).await.map(Response::new)
    }

    async fn respond_workflow_task_completed(
        &self,
        r: Request<RespondWorkflowTaskCompletedRequest>,
    ) -> Reply<RespondWorkflowTaskCompletedResponse> {
        self.respond_workflow_task_completed(r.into_inner()).await.map(Response::new)
    }

    async fn respond_workflow_task_failed(
        &self,
        r: Request<RespondWorkflowTaskFailedRequest>,
    ) -> Reply<RespondWorkflowTaskFailedResponse> {
        self.respond_workflow_task_failed(r.into_inner()).await.map(Response::new)
    }

    async fn poll_activity_task_queue(
        &self,
        r: Request<PollActivityTaskQueueRequest>,
    ) -> Reply<PollActivityTaskQueueResponse> {
        let deadline = crate::deadline::long_poll_deadline(r.metadata());
        self.poll_activity_task_queue(r.into_inner(), deadline).await.map(Response::new)
    }

    async fn respond_activity_task_completed(
        &self,
        r: Request<RespondActivityTaskCompletedRequest>,
    ) -> Reply<RespondActivityTaskCompletedResponse> {
        self.respond_activity_task_completed(r.into_inner()).await.map(Response::new)
    }

    async fn respond_activity_task_failed(
        &self,
        r: Request<RespondActivityTaskFailedRequest>,
    ) -> Reply<RespondActivityTaskFailedResponse> {
        self.respond_activity_task_failed(r.into_inner()).await.map(Response::new)
    }

    async fn get_workflow_execution_history(
        &self,
        r: Request<GetWorkflowExecutionHistoryRequest>,
    ) -> Reply<GetWorkflowExecutionHistoryResponse> {
        let deadline = crate::deadline::long_poll_deadline(r.metadata());
        self.get_workflow_execution_history(r.into_inner(), deadline).await.map(Response::new)
    }

    async fn describe_workflow_execution(
        &self,
        r: Request<DescribeWorkflowExecutionRequest>,
    ) -> Reply<DescribeWorkflowExecutionResponse> {
        self.describe_workflow_execution(r.into_inner()).await.map(Response::new)
    }

    async fn terminate_workflow_execution(
        &self,
        r: Request<TerminateWorkflowExecutionRequest>,
    ) -> Reply<TerminateWorkflowExecutionResponse> {
        self.terminate_workflow_execution(r.into_inner()).await.map(Response::new)
    }

    async fn shutdown_worker(&self, r: Request<ShutdownWorkerRequest>) -> Reply<ShutdownWorkerResponse> {
        self.shutdown_worker(r.into_inner()).map(Response::new)
    }
}
