//! The WorkflowService trait, one line per implemented RPC: each says which group owns the call
//! (`routed!`: forwarded when another node owns it) and delegates to its module under `rpc/`.
//! RPCs not listed answer Unimplemented through the generated defaults.

use perdure_api::workflowservice::workflow_service_server::WorkflowService;
use perdure_storage::GroupId;
use temporalio_protos::temporal::api::enums::v1::TaskQueueKind;
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflowservice::v1::*;
use tonic::{Request, Response, Status};

use crate::server::Frontend;

type Reply<T> = Result<Response<T>, Status>;

/// How long a history read waits before asking again while leadership moves.
const LEADER_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

/// Forwards the request `$r` with the client method `$method` when the group `$group`
/// (an `Option<GroupId>`; `None`: serve here) is owned by another node.
macro_rules! routed {
    ($self:ident, $r:ident, $group:expr, $method:ident) => {
        let $r = match $self.remote_owner($group).await? {
            Some((group, addr)) => match $self
                .forward(
                    group,
                    &addr,
                    $r,
                    |mut c, r| async move { c.$method(r).await },
                )
                .await
            {
                crate::forward::Forwarded::Answer(answer) => return answer,
                crate::forward::Forwarded::Local(r) => r,
            },
            None => $r,
        };
    };
}

impl Frontend {
    /// The shard of the workflow a request names (None when the namespace is unknown: the
    /// local handler answers NamespaceNotFound).
    fn workflow_route(&self, namespace: &str, workflow_id: &str) -> Option<GroupId> {
        let ns = self.namespaces.get(namespace).ok()?;
        Some(self.routing.workflow_group(ns.id(), workflow_id))
    }

    /// The shard of a schedule: its scheduler workflow id's, as in Temporal.
    fn schedule_route(&self, namespace: &str, schedule_id: &str) -> Option<GroupId> {
        let wf = perdure_schedule::scheduler::scheduler_workflow_id(schedule_id);
        self.workflow_route(namespace, &wf)
    }

    /// The shard of a batch job (`perdure_batch::route_id`).
    fn batch_route(&self, namespace: &str, job_id: &str) -> Option<GroupId> {
        self.workflow_route(namespace, &perdure_batch::route_id(job_id))
    }

    /// The shard of the workflow a task token names (None for a bad token: refused locally).
    fn token_route(&self, token: &[u8]) -> Option<GroupId> {
        let t = crate::validate::task_token(token).ok()?;
        Some(self.routing.workflow_group(&t.namespace_id, &t.workflow_id))
    }

    /// The group owning a polled task queue; a sticky queue is owned with its normal queue.
    fn queue_route(&self, namespace: &str, queue: Option<&TaskQueue>) -> Option<GroupId> {
        let ns = self.namespaces.get(namespace).ok()?;
        let q = queue?;
        let normal = if q.kind == TaskQueueKind::Sticky as i32 && !q.normal_name.is_empty() {
            &q.normal_name
        } else {
            &q.name
        };
        Some(self.routing.queue_group(ns.id(), normal))
    }

    /// The owner of the task queue a query token names, where the query's caller waits.
    fn query_token_route(&self, token: &[u8]) -> Option<GroupId> {
        let t = crate::validate::task_token(token).ok()?;
        t.is_query()
            .then(|| self.routing.queue_group(&t.namespace_id, &t.task_queue))
    }

    /// One GetWorkflowExecutionHistory: forwarded to the owner, or served here.
    async fn history_once(
        &self,
        r: Request<GetWorkflowExecutionHistoryRequest>,
        route: Option<GroupId>,
        deadline: tokio::time::Instant,
    ) -> Reply<GetWorkflowExecutionHistoryResponse> {
        routed!(self, r, route, get_workflow_execution_history);
        self.get_workflow_execution_history(r.into_inner(), deadline)
            .await
            .map(Response::new)
    }

    fn execution_route(
        &self,
        namespace: &str,
        execution: Option<&temporalio_protos::temporal::api::common::v1::WorkflowExecution>,
    ) -> Option<GroupId> {
        self.workflow_route(namespace, &execution?.workflow_id)
    }
}

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

    async fn get_cluster_info(
        &self,
        r: Request<GetClusterInfoRequest>,
    ) -> Reply<GetClusterInfoResponse> {
        observe("GetClusterInfo", async {
            self.get_cluster_info(r.into_inner()).map(Response::new)
        })
        .await
    }

    async fn register_namespace(
        &self,
        r: Request<RegisterNamespaceRequest>,
    ) -> Reply<RegisterNamespaceResponse> {
        observe("RegisterNamespace", async {
            routed!(self, r, Some(GroupId::META), register_namespace);
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

    async fn deprecate_namespace(
        &self,
        r: Request<DeprecateNamespaceRequest>,
    ) -> Reply<DeprecateNamespaceResponse> {
        observe("DeprecateNamespace", async {
            routed!(self, r, Some(GroupId::META), deprecate_namespace);
            self.deprecate_namespace(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn update_namespace(
        &self,
        r: Request<UpdateNamespaceRequest>,
    ) -> Reply<UpdateNamespaceResponse> {
        observe("UpdateNamespace", async {
            self.update_namespace(r).await.map(Response::new)
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
            routed!(
                self,
                r,
                self.workflow_route(&r.get_ref().namespace, &r.get_ref().workflow_id),
                start_workflow_execution
            );
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
            routed!(
                self,
                r,
                self.queue_route(&r.get_ref().namespace, r.get_ref().task_queue.as_ref()),
                poll_workflow_task_queue
            );
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
            routed!(
                self,
                r,
                self.token_route(&r.get_ref().task_token),
                respond_workflow_task_completed
            );
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
            routed!(
                self,
                r,
                self.token_route(&r.get_ref().task_token),
                respond_workflow_task_failed
            );
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
            routed!(
                self,
                r,
                self.queue_route(&r.get_ref().namespace, r.get_ref().task_queue.as_ref()),
                poll_activity_task_queue
            );
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
            routed!(
                self,
                r,
                self.token_route(&r.get_ref().task_token),
                respond_activity_task_completed
            );
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
            routed!(
                self,
                r,
                self.token_route(&r.get_ref().task_token),
                respond_activity_task_failed
            );
            self.respond_activity_task_failed(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn respond_activity_task_canceled(
        &self,
        r: Request<RespondActivityTaskCanceledRequest>,
    ) -> Reply<RespondActivityTaskCanceledResponse> {
        observe("RespondActivityTaskCanceled", async {
            routed!(
                self,
                r,
                self.token_route(&r.get_ref().task_token),
                respond_activity_task_canceled
            );
            self.respond_activity_task_canceled(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn respond_activity_task_completed_by_id(
        &self,
        r: Request<RespondActivityTaskCompletedByIdRequest>,
    ) -> Reply<RespondActivityTaskCompletedByIdResponse> {
        observe("RespondActivityTaskCompletedById", async {
            routed!(
                self,
                r,
                self.workflow_route(&r.get_ref().namespace, &r.get_ref().workflow_id),
                respond_activity_task_completed_by_id
            );
            self.respond_activity_task_completed_by_id(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn respond_activity_task_failed_by_id(
        &self,
        r: Request<RespondActivityTaskFailedByIdRequest>,
    ) -> Reply<RespondActivityTaskFailedByIdResponse> {
        observe("RespondActivityTaskFailedById", async {
            routed!(
                self,
                r,
                self.workflow_route(&r.get_ref().namespace, &r.get_ref().workflow_id),
                respond_activity_task_failed_by_id
            );
            self.respond_activity_task_failed_by_id(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn respond_activity_task_canceled_by_id(
        &self,
        r: Request<RespondActivityTaskCanceledByIdRequest>,
    ) -> Reply<RespondActivityTaskCanceledByIdResponse> {
        observe("RespondActivityTaskCanceledById", async {
            routed!(
                self,
                r,
                self.workflow_route(&r.get_ref().namespace, &r.get_ref().workflow_id),
                respond_activity_task_canceled_by_id
            );
            self.respond_activity_task_canceled_by_id(r.into_inner())
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
            routed!(
                self,
                r,
                self.token_route(&r.get_ref().task_token),
                record_activity_task_heartbeat
            );
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
            routed!(
                self,
                r,
                self.workflow_route(&r.get_ref().namespace, &r.get_ref().workflow_id),
                record_activity_task_heartbeat_by_id
            );
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
        // Decided from the client's own headers, which a forwarded call does not carry.
        let legacy_close =
            self.forwards && crate::rpc::wants_legacy_close_event(r.metadata(), r.get_ref());
        let reply = observe("GetWorkflowExecutionHistory", async {
            let route =
                self.execution_route(&r.get_ref().namespace, r.get_ref().execution.as_ref());
            let req = r.into_inner();
            // A read may be asked again: while leadership moves (no leader yet, or the one we
            // reached just lost it), ask again until the client's deadline, wherever the new
            // owner is. Writes never come back here.
            loop {
                let mut attempt = Request::new(req.clone());
                attempt.set_timeout(
                    deadline.saturating_duration_since(tokio::time::Instant::now())
                        + crate::deadline::MARGIN,
                );
                match self.history_once(attempt, route, deadline).await {
                    Err(s)
                        if crate::errors::is_not_leader(&s)
                            && tokio::time::Instant::now() + LEADER_RETRY_PAUSE < deadline =>
                    {
                        tokio::time::sleep(LEADER_RETRY_PAUSE).await;
                    }
                    other => return other,
                }
            }
        })
        .await;
        match reply {
            Ok(mut resp) if legacy_close => {
                crate::rpc::follow_next_run_for_old_clients(resp.get_mut());
                Ok(resp)
            }
            other => other,
        }
    }

    async fn get_workflow_execution_history_reverse(
        &self,
        r: Request<GetWorkflowExecutionHistoryReverseRequest>,
    ) -> Reply<GetWorkflowExecutionHistoryReverseResponse> {
        observe("GetWorkflowExecutionHistoryReverse", async {
            routed!(
                self,
                r,
                self.execution_route(&r.get_ref().namespace, r.get_ref().execution.as_ref()),
                get_workflow_execution_history_reverse
            );
            self.get_workflow_execution_history_reverse(r.into_inner())
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
            routed!(
                self,
                r,
                self.execution_route(&r.get_ref().namespace, r.get_ref().execution.as_ref()),
                describe_workflow_execution
            );
            self.describe_workflow_execution(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn reset_workflow_execution(
        &self,
        r: Request<ResetWorkflowExecutionRequest>,
    ) -> Reply<ResetWorkflowExecutionResponse> {
        observe("ResetWorkflowExecution", async {
            routed!(
                self,
                r,
                self.execution_route(
                    &r.get_ref().namespace,
                    r.get_ref().workflow_execution.as_ref()
                ),
                reset_workflow_execution
            );
            self.reset_workflow_execution(r.into_inner())
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
            routed!(
                self,
                r,
                self.execution_route(
                    &r.get_ref().namespace,
                    r.get_ref().workflow_execution.as_ref()
                ),
                terminate_workflow_execution
            );
            self.terminate_workflow_execution(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn delete_workflow_execution(
        &self,
        r: Request<DeleteWorkflowExecutionRequest>,
    ) -> Reply<DeleteWorkflowExecutionResponse> {
        observe("DeleteWorkflowExecution", async {
            routed!(
                self,
                r,
                self.execution_route(
                    &r.get_ref().namespace,
                    r.get_ref().workflow_execution.as_ref()
                ),
                delete_workflow_execution
            );
            self.delete_workflow_execution(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn signal_workflow_execution(
        &self,
        r: Request<SignalWorkflowExecutionRequest>,
    ) -> Reply<SignalWorkflowExecutionResponse> {
        observe("SignalWorkflowExecution", async {
            routed!(
                self,
                r,
                self.execution_route(
                    &r.get_ref().namespace,
                    r.get_ref().workflow_execution.as_ref()
                ),
                signal_workflow_execution
            );
            self.signal_workflow_execution(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn signal_with_start_workflow_execution(
        &self,
        r: Request<SignalWithStartWorkflowExecutionRequest>,
    ) -> Reply<SignalWithStartWorkflowExecutionResponse> {
        observe("SignalWithStartWorkflowExecution", async {
            routed!(
                self,
                r,
                self.workflow_route(&r.get_ref().namespace, &r.get_ref().workflow_id),
                signal_with_start_workflow_execution
            );
            self.signal_with_start_workflow_execution(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn request_cancel_workflow_execution(
        &self,
        r: Request<RequestCancelWorkflowExecutionRequest>,
    ) -> Reply<RequestCancelWorkflowExecutionResponse> {
        observe("RequestCancelWorkflowExecution", async {
            routed!(
                self,
                r,
                self.execution_route(
                    &r.get_ref().namespace,
                    r.get_ref().workflow_execution.as_ref()
                ),
                request_cancel_workflow_execution
            );
            self.request_cancel_workflow_execution(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn pause_activity(
        &self,
        r: Request<PauseActivityRequest>,
    ) -> Reply<PauseActivityResponse> {
        observe("PauseActivity", async {
            routed!(
                self,
                r,
                self.execution_route(&r.get_ref().namespace, r.get_ref().execution.as_ref()),
                pause_activity
            );
            self.pause_activity(r.into_inner()).await.map(Response::new)
        })
        .await
    }

    async fn unpause_activity(
        &self,
        r: Request<UnpauseActivityRequest>,
    ) -> Reply<UnpauseActivityResponse> {
        observe("UnpauseActivity", async {
            routed!(
                self,
                r,
                self.execution_route(&r.get_ref().namespace, r.get_ref().execution.as_ref()),
                unpause_activity
            );
            self.unpause_activity(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn pause_activity_execution(
        &self,
        r: Request<PauseActivityExecutionRequest>,
    ) -> Reply<PauseActivityExecutionResponse> {
        observe("PauseActivityExecution", async {
            routed!(
                self,
                r,
                self.workflow_route(&r.get_ref().namespace, &r.get_ref().workflow_id),
                pause_activity_execution
            );
            self.pause_activity_execution(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn unpause_activity_execution(
        &self,
        r: Request<UnpauseActivityExecutionRequest>,
    ) -> Reply<UnpauseActivityExecutionResponse> {
        observe("UnpauseActivityExecution", async {
            routed!(
                self,
                r,
                self.workflow_route(&r.get_ref().namespace, &r.get_ref().workflow_id),
                unpause_activity_execution
            );
            self.unpause_activity_execution(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn reset_activity(
        &self,
        r: Request<ResetActivityRequest>,
    ) -> Reply<ResetActivityResponse> {
        observe("ResetActivity", async {
            routed!(
                self,
                r,
                self.execution_route(&r.get_ref().namespace, r.get_ref().execution.as_ref()),
                reset_activity
            );
            self.reset_activity(r.into_inner()).await.map(Response::new)
        })
        .await
    }

    async fn reset_activity_execution(
        &self,
        r: Request<ResetActivityExecutionRequest>,
    ) -> Reply<ResetActivityExecutionResponse> {
        observe("ResetActivityExecution", async {
            routed!(
                self,
                r,
                self.workflow_route(&r.get_ref().namespace, &r.get_ref().workflow_id),
                reset_activity_execution
            );
            self.reset_activity_execution(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn update_activity_options(
        &self,
        r: Request<UpdateActivityOptionsRequest>,
    ) -> Reply<UpdateActivityOptionsResponse> {
        observe("UpdateActivityOptions", async {
            routed!(
                self,
                r,
                self.execution_route(&r.get_ref().namespace, r.get_ref().execution.as_ref()),
                update_activity_options
            );
            self.update_activity_options(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn update_activity_execution_options(
        &self,
        r: Request<UpdateActivityExecutionOptionsRequest>,
    ) -> Reply<UpdateActivityExecutionOptionsResponse> {
        observe("UpdateActivityExecutionOptions", async {
            routed!(
                self,
                r,
                self.workflow_route(&r.get_ref().namespace, &r.get_ref().workflow_id),
                update_activity_execution_options
            );
            self.update_activity_execution_options(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn query_workflow(
        &self,
        r: Request<QueryWorkflowRequest>,
    ) -> Reply<QueryWorkflowResponse> {
        let deadline = crate::deadline::call_deadline(r.metadata(), crate::rpc::MAX_QUERY_WAIT);
        let client_deadline = crate::deadline::client_wall_deadline(r.metadata());
        observe("QueryWorkflow", async {
            routed!(
                self,
                r,
                self.execution_route(&r.get_ref().namespace, r.get_ref().execution.as_ref()),
                query_workflow
            );
            self.query_workflow(r.into_inner(), deadline, client_deadline)
                .await
                .map(Response::new)
        })
        .await
    }

    async fn update_workflow_execution(
        &self,
        r: Request<UpdateWorkflowExecutionRequest>,
    ) -> Reply<UpdateWorkflowExecutionResponse> {
        let deadline =
            crate::rpc::UpdateDeadline::from_client(crate::deadline::client_timeout(r.metadata()));
        observe("UpdateWorkflowExecution", async {
            routed!(
                self,
                r,
                self.execution_route(
                    &r.get_ref().namespace,
                    r.get_ref().workflow_execution.as_ref()
                ),
                update_workflow_execution
            );
            self.update_workflow_execution(r.into_inner(), deadline)
                .await
                .map(Response::new)
        })
        .await
    }

    async fn execute_multi_operation(
        &self,
        r: Request<ExecuteMultiOperationRequest>,
    ) -> Reply<ExecuteMultiOperationResponse> {
        let deadline =
            crate::rpc::UpdateDeadline::from_client(crate::deadline::client_timeout(r.metadata()));
        observe("ExecuteMultiOperation", async {
            // Routed by the start's workflow id (both operations must name the same one).
            let wf = r
                .get_ref()
                .operations
                .first()
                .and_then(|o| match &o.operation {
                    Some(execute_multi_operation_request::operation::Operation::StartWorkflow(
                        s,
                    )) => Some(s.workflow_id.clone()),
                    _ => None,
                });
            routed!(
                self,
                r,
                wf.and_then(|wf| self.workflow_route(&r.get_ref().namespace, &wf)),
                execute_multi_operation
            );
            self.execute_multi_operation(r.into_inner(), deadline)
                .await
                .map(Response::new)
        })
        .await
    }

    async fn poll_workflow_execution_update(
        &self,
        r: Request<PollWorkflowExecutionUpdateRequest>,
    ) -> Reply<PollWorkflowExecutionUpdateResponse> {
        let deadline =
            crate::rpc::UpdateDeadline::from_client(crate::deadline::client_timeout(r.metadata()));
        observe("PollWorkflowExecutionUpdate", async {
            routed!(
                self,
                r,
                self.execution_route(
                    &r.get_ref().namespace,
                    r.get_ref()
                        .update_ref
                        .as_ref()
                        .and_then(|u| u.workflow_execution.as_ref())
                ),
                poll_workflow_execution_update
            );
            self.poll_workflow_execution_update(r.into_inner(), deadline)
                .await
                .map(Response::new)
        })
        .await
    }

    async fn describe_task_queue(
        &self,
        r: Request<DescribeTaskQueueRequest>,
    ) -> Reply<DescribeTaskQueueResponse> {
        observe("DescribeTaskQueue", async {
            // Served by the queue's owner, where its polls are recorded and its tasks wait.
            routed!(
                self,
                r,
                self.queue_route(&r.get_ref().namespace, r.get_ref().task_queue.as_ref()),
                describe_task_queue
            );
            self.describe_task_queue(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn list_task_queue_partitions(
        &self,
        r: Request<ListTaskQueuePartitionsRequest>,
    ) -> Reply<ListTaskQueuePartitionsResponse> {
        observe("ListTaskQueuePartitions", async {
            self.list_task_queue_partitions(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn respond_query_task_completed(
        &self,
        r: Request<RespondQueryTaskCompletedRequest>,
    ) -> Reply<RespondQueryTaskCompletedResponse> {
        observe("RespondQueryTaskCompleted", async {
            routed!(
                self,
                r,
                self.query_token_route(&r.get_ref().task_token),
                respond_query_task_completed
            );
            self.respond_query_task_completed(r.into_inner())
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
            self.broadcast_shutdown_worker(r.get_ref()).await;
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
            routed!(
                self,
                r,
                self.execution_route(&r.get_ref().namespace, r.get_ref().execution.as_ref()),
                reset_sticky_task_queue
            );
            self.reset_sticky_task_queue(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    // Visibility: served by whichever node the client reached, which asks every shard's
    // leader itself (`visibility.rs`), so these calls are never forwarded whole.

    async fn list_workflow_executions(
        &self,
        r: Request<ListWorkflowExecutionsRequest>,
    ) -> Reply<ListWorkflowExecutionsResponse> {
        observe("ListWorkflowExecutions", async {
            self.list_workflow_executions(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn scan_workflow_executions(
        &self,
        r: Request<ScanWorkflowExecutionsRequest>,
    ) -> Reply<ScanWorkflowExecutionsResponse> {
        observe("ScanWorkflowExecutions", async {
            self.scan_workflow_executions(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn list_open_workflow_executions(
        &self,
        r: Request<ListOpenWorkflowExecutionsRequest>,
    ) -> Reply<ListOpenWorkflowExecutionsResponse> {
        observe("ListOpenWorkflowExecutions", async {
            self.list_open_workflow_executions(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn list_closed_workflow_executions(
        &self,
        r: Request<ListClosedWorkflowExecutionsRequest>,
    ) -> Reply<ListClosedWorkflowExecutionsResponse> {
        observe("ListClosedWorkflowExecutions", async {
            self.list_closed_workflow_executions(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn count_workflow_executions(
        &self,
        r: Request<CountWorkflowExecutionsRequest>,
    ) -> Reply<CountWorkflowExecutionsResponse> {
        observe("CountWorkflowExecutions", async {
            self.count_workflow_executions(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn get_search_attributes(
        &self,
        r: Request<GetSearchAttributesRequest>,
    ) -> Reply<GetSearchAttributesResponse> {
        observe("GetSearchAttributes", async {
            self.get_search_attributes(r.into_inner())
                .map(Response::new)
        })
        .await
    }

    async fn create_schedule(
        &self,
        r: Request<CreateScheduleRequest>,
    ) -> Reply<CreateScheduleResponse> {
        observe("CreateSchedule", async {
            routed!(
                self,
                r,
                self.schedule_route(&r.get_ref().namespace, &r.get_ref().schedule_id),
                create_schedule
            );
            self.create_schedule(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn describe_schedule(
        &self,
        r: Request<DescribeScheduleRequest>,
    ) -> Reply<DescribeScheduleResponse> {
        observe("DescribeSchedule", async {
            routed!(
                self,
                r,
                self.schedule_route(&r.get_ref().namespace, &r.get_ref().schedule_id),
                describe_schedule
            );
            self.describe_schedule(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn update_schedule(
        &self,
        r: Request<UpdateScheduleRequest>,
    ) -> Reply<UpdateScheduleResponse> {
        observe("UpdateSchedule", async {
            routed!(
                self,
                r,
                self.schedule_route(&r.get_ref().namespace, &r.get_ref().schedule_id),
                update_schedule
            );
            self.update_schedule(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn patch_schedule(
        &self,
        r: Request<PatchScheduleRequest>,
    ) -> Reply<PatchScheduleResponse> {
        observe("PatchSchedule", async {
            routed!(
                self,
                r,
                self.schedule_route(&r.get_ref().namespace, &r.get_ref().schedule_id),
                patch_schedule
            );
            self.patch_schedule(r.into_inner()).await.map(Response::new)
        })
        .await
    }

    async fn delete_schedule(
        &self,
        r: Request<DeleteScheduleRequest>,
    ) -> Reply<DeleteScheduleResponse> {
        observe("DeleteSchedule", async {
            routed!(
                self,
                r,
                self.schedule_route(&r.get_ref().namespace, &r.get_ref().schedule_id),
                delete_schedule
            );
            self.delete_schedule(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn list_schedule_matching_times(
        &self,
        r: Request<ListScheduleMatchingTimesRequest>,
    ) -> Reply<ListScheduleMatchingTimesResponse> {
        observe("ListScheduleMatchingTimes", async {
            routed!(
                self,
                r,
                self.schedule_route(&r.get_ref().namespace, &r.get_ref().schedule_id),
                list_schedule_matching_times
            );
            self.list_schedule_matching_times(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    // Asks every shard's leader (`rpc/list_schedules.rs`): never forwarded whole.
    async fn count_schedules(
        &self,
        r: Request<CountSchedulesRequest>,
    ) -> Reply<CountSchedulesResponse> {
        observe("CountSchedules", async {
            self.count_schedules(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn list_schedules(
        &self,
        r: Request<ListSchedulesRequest>,
    ) -> Reply<ListSchedulesResponse> {
        observe("ListSchedules", async {
            self.list_schedules(r.into_inner()).await.map(Response::new)
        })
        .await
    }

    async fn start_batch_operation(
        &self,
        r: Request<StartBatchOperationRequest>,
    ) -> Reply<StartBatchOperationResponse> {
        observe("StartBatchOperation", async {
            routed!(
                self,
                r,
                self.batch_route(&r.get_ref().namespace, &r.get_ref().job_id),
                start_batch_operation
            );
            self.start_batch_operation(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn stop_batch_operation(
        &self,
        r: Request<StopBatchOperationRequest>,
    ) -> Reply<StopBatchOperationResponse> {
        observe("StopBatchOperation", async {
            routed!(
                self,
                r,
                self.batch_route(&r.get_ref().namespace, &r.get_ref().job_id),
                stop_batch_operation
            );
            self.stop_batch_operation(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn describe_batch_operation(
        &self,
        r: Request<DescribeBatchOperationRequest>,
    ) -> Reply<DescribeBatchOperationResponse> {
        observe("DescribeBatchOperation", async {
            routed!(
                self,
                r,
                self.batch_route(&r.get_ref().namespace, &r.get_ref().job_id),
                describe_batch_operation
            );
            self.describe_batch_operation(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }

    async fn list_batch_operations(
        &self,
        r: Request<ListBatchOperationsRequest>,
    ) -> Reply<ListBatchOperationsResponse> {
        observe("ListBatchOperations", async {
            self.list_batch_operations(r.into_inner())
                .await
                .map(Response::new)
        })
        .await
    }
}
