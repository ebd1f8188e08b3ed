//! A 3-node cluster answers every implemented RPC the same through any node (calls owned by
//! another node are forwarded to it), queries reach workers whichever nodes the client, the
//! run's shard and the task queue are on, and its internal port refuses callers without the
//! cluster secret.
//!
//! Not covered here: leadership moving mid-call (the Python cluster suite kills leaders), and
//! namespace registrations read on another node before they are applied there.

mod common;

use common::cluster::{start_cluster, SECRET};
use common::{connect_addr, within, Client, NAMESPACE};
use perdure_api::internal::internal_client::InternalClient;
use perdure_api::internal::{RaftKind, RaftRequest};
use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
use temporalio_protos::temporal::api::enums::v1::{QueryResultType, WorkflowExecutionStatus};
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflowservice::v1::*;
use tonic::Code;

fn execution(workflow_id: &str) -> Option<WorkflowExecution> {
    Some(WorkflowExecution {
        workflow_id: workflow_id.into(),
        run_id: String::new(),
    })
}

fn start_request(workflow_id: &str) -> StartWorkflowExecutionRequest {
    common::start_request(workflow_id, "routing", "routing-queue")
}

async fn describe(c: &mut Client, workflow_id: &str) -> DescribeWorkflowExecutionResponse {
    within(
        "describe",
        c.describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            execution: execution(workflow_id),
        }),
    )
    .await
    .expect("describe")
    .into_inner()
}

async fn history(c: &mut Client, workflow_id: &str) -> GetWorkflowExecutionHistoryResponse {
    within(
        "history",
        c.get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: NAMESPACE.into(),
            execution: execution(workflow_id),
            ..Default::default()
        }),
    )
    .await
    .expect("history")
    .into_inner()
}

/// The same call through every node gives the same answer (or the same error code).
macro_rules! same_everywhere {
    ($clients:expr, $what:literal, |$c:ident| $call:expr) => {{
        let mut answers = Vec::new();
        let mut messages = Vec::new();
        for $c in $clients.iter_mut() {
            let r = within($what, $call).await.map(|r| r.into_inner());
            messages.push(r.as_ref().err().map(|s| s.message().to_string()));
            answers.push(r.map_err(|s| s.code()));
        }
        for (i, a) in answers.iter().enumerate().skip(1) {
            assert_eq!(
                a,
                &answers[0],
                "{} through node {} differs from node 1 (errors: {messages:?})",
                $what,
                i + 1
            );
        }
        answers.swap_remove(0)
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_answers_the_same_through_every_node() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_cluster(3, dir.path()).await;
    let mut clients = Vec::new();
    for n in &cluster.nodes {
        clients.push(connect_addr(n.addr()).await);
    }

    let info = same_everywhere!(clients, "GetSystemInfo", |c| c
        .get_system_info(GetSystemInfoRequest::default()));
    assert!(info.is_ok());
    let ns = same_everywhere!(clients, "DescribeNamespace", |c| c.describe_namespace(
        DescribeNamespaceRequest {
            namespace: NAMESPACE.into(),
            ..Default::default()
        }
    ));
    assert!(ns.is_ok());
    let unknown = same_everywhere!(clients, "DescribeNamespace unknown", |c| c
        .describe_namespace(DescribeNamespaceRequest {
            namespace: "no-such-namespace".into(),
            ..Default::default()
        }));
    assert_eq!(unknown, Err(Code::NotFound));
    let listed = same_everywhere!(clients, "ListNamespaces", |c| c
        .list_namespaces(ListNamespacesRequest::default()));
    assert_eq!(listed.unwrap().namespaces.len(), 1);

    // One start, then the same request again through every node: each finds the run by its
    // request id (dedup is decided on the shard leader, wherever the call arrived).
    let first = within(
        "start",
        clients[0].start_workflow_execution(start_request("wf-routing")),
    )
    .await
    .expect("start")
    .into_inner();
    assert!(first.started);
    let starts = same_everywhere!(clients, "StartWorkflowExecution (dedup)", |c| c
        .start_workflow_execution(start_request("wf-routing")))
    .expect("start");
    // The first answer again: the same run, "started" (as Temporal answers a retried start).
    assert_eq!(starts.run_id, first.run_id);
    assert!(starts.started);

    // A signal through every node, with one request id: the shard leader records it once and
    // every node answers the retries the same way.
    let signal = SignalWorkflowExecutionRequest {
        namespace: NAMESPACE.into(),
        workflow_execution: execution("wf-routing"),
        signal_name: "routed".into(),
        identity: "routing test".into(),
        request_id: "signal-once".into(),
        ..Default::default()
    };
    let signalled = same_everywhere!(clients, "SignalWorkflowExecution", |c| c
        .signal_workflow_execution(signal.clone()));
    assert!(signalled.is_ok());
    let no_name = same_everywhere!(clients, "SignalWorkflowExecution without a name", |c| c
        .signal_workflow_execution(SignalWorkflowExecutionRequest {
            signal_name: String::new(),
            ..signal.clone()
        }));
    assert_eq!(no_name.map(|_| ()), Err(Code::InvalidArgument));

    // Signal-with-start of another workflow: the first call starts it, retries of the same
    // request through any node find it and signal nothing twice.
    let sws = SignalWithStartWorkflowExecutionRequest {
        namespace: NAMESPACE.into(),
        workflow_id: "wf-signal-with-start".into(),
        workflow_type: Some(temporalio_protos::temporal::api::common::v1::WorkflowType {
            name: "routing".into(),
        }),
        task_queue: Some(TaskQueue {
            name: "sws-queue".into(),
            ..Default::default()
        }),
        request_id: "sws-once".into(),
        signal_name: "routed".into(),
        identity: "routing test".into(),
        ..Default::default()
    };
    let first_sws = within(
        "SignalWithStart",
        clients[2].signal_with_start_workflow_execution(sws.clone()),
    )
    .await
    .expect("signal-with-start")
    .into_inner();
    assert!(first_sws.started);
    let again = same_everywhere!(clients, "SignalWithStart (retried)", |c| c
        .signal_with_start_workflow_execution(sws.clone()))
    .expect("signal-with-start retried");
    assert_eq!(
        (again.run_id.as_str(), again.started),
        (first_sws.run_id.as_str(), false)
    );
    let sws_history = history(&mut clients[0], "wf-signal-with-start").await;
    let types: Vec<i32> = sws_history
        .history
        .unwrap()
        .events
        .iter()
        .map(|e| e.event_type)
        .collect();
    {
        use temporalio_protos::temporal::api::enums::v1::EventType as E;
        assert_eq!(
            types,
            vec![
                E::WorkflowExecutionStarted as i32,
                E::WorkflowExecutionSignaled as i32,
                E::WorkflowTaskScheduled as i32
            ]
        );
    }

    let described = same_everywhere!(clients, "DescribeWorkflowExecution", |c| c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            execution: execution("wf-routing"),
        }))
    .expect("describe");
    assert_eq!(
        described
            .workflow_execution_info
            .unwrap()
            .execution
            .unwrap()
            .run_id,
        starts.run_id
    );
    let events = same_everywhere!(clients, "GetWorkflowExecutionHistory", |c| c
        .get_workflow_execution_history(GetWorkflowExecutionHistoryRequest {
            namespace: NAMESPACE.into(),
            execution: execution("wf-routing"),
            ..Default::default()
        }))
    .expect("history");
    let events = events.history.unwrap().events;
    assert_eq!(events.len(), 3, "started, task scheduled, one signal");
    assert_eq!(
        events[2].event_type,
        temporalio_protos::temporal::api::enums::v1::EventType::WorkflowExecutionSignaled as i32
    );
    let missing = same_everywhere!(clients, "Describe missing", |c| c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            execution: execution("no-such-workflow"),
        }));
    assert_eq!(missing.map(|_| ()), Err(Code::NotFound));
    let bad_token = same_everywhere!(clients, "RespondWorkflowTaskCompleted bad token", |c| c
        .respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
            namespace: NAMESPACE.into(),
            task_token: b"garbage".to_vec(),
            ..Default::default()
        }));
    assert_eq!(bad_token.map(|_| ()), Err(Code::InvalidArgument));
    let no_activity = same_everywhere!(clients, "RecordActivityTaskHeartbeatById", |c| c
        .record_activity_task_heartbeat_by_id(RecordActivityTaskHeartbeatByIdRequest {
            namespace: NAMESPACE.into(),
            workflow_id: "no-such-workflow".into(),
            activity_id: "1".into(),
            ..Default::default()
        }));
    assert_eq!(no_activity.map(|_| ()), Err(Code::NotFound));
    let reset = same_everywhere!(clients, "ResetStickyTaskQueue", |c| c
        .reset_sticky_task_queue(ResetStickyTaskQueueRequest {
            namespace: NAMESPACE.into(),
            execution: Some(WorkflowExecution {
                workflow_id: "wf-routing".into(),
                run_id: starts.run_id.clone(),
            }),
        }));
    assert!(reset.is_ok());
    let shutdown = same_everywhere!(clients, "ShutdownWorker", |c| c.shutdown_worker(
        ShutdownWorkerRequest {
            namespace: NAMESPACE.into(),
            sticky_task_queue: "some-sticky-queue".into(),
            identity: "routing test".into(),
            ..Default::default()
        }
    ));
    assert!(shutdown.is_ok());

    // The workflow task reaches a poller on node 2 (whoever owns the queue), and its completion
    // through node 3 closes the run, as every node then says.
    let task = within(
        "PollWorkflowTaskQueue",
        clients[1].poll_workflow_task_queue(PollWorkflowTaskQueueRequest {
            namespace: NAMESPACE.into(),
            task_queue: Some(TaskQueue {
                name: "routing-queue".into(),
                ..Default::default()
            }),
            identity: "routing worker".into(),
            ..Default::default()
        }),
    )
    .await
    .expect("poll")
    .into_inner();
    assert!(
        !task.task_token.is_empty(),
        "the poll got the workflow task"
    );
    assert_eq!(
        task.workflow_execution.as_ref().unwrap().workflow_id,
        "wf-routing"
    );
    within(
        "RespondWorkflowTaskCompleted",
        clients[2].respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
            namespace: NAMESPACE.into(),
            task_token: task.task_token.clone(),
            commands: vec![common::complete_workflow_command()],
            identity: "routing worker".into(),
            ..Default::default()
        }),
    )
    .await
    .expect("complete");
    // A reused token is refused the same way everywhere.
    let reused = same_everywhere!(clients, "RespondWorkflowTaskCompleted reused token", |c| c
        .respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
            namespace: NAMESPACE.into(),
            task_token: task.task_token.clone(),
            identity: "routing worker".into(),
            ..Default::default()
        }));
    assert!(reused.is_err());
    let closed = same_everywhere!(clients, "Describe closed", |c| c
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            execution: execution("wf-routing"),
        }))
    .expect("describe");
    assert_eq!(
        closed.workflow_execution_info.unwrap().status,
        WorkflowExecutionStatus::Completed as i32
    );

    // Cancelling a closed run succeeds without a change, through every node.
    let cancel = same_everywhere!(clients, "RequestCancelWorkflowExecution", |c| c
        .request_cancel_workflow_execution(RequestCancelWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            workflow_execution: execution("wf-routing"),
            identity: "routing test".into(),
            ..Default::default()
        }));
    assert!(cancel.is_ok());

    // Terminate through node 3 and read the outcome through the others.
    within(
        "start second",
        clients[0].start_workflow_execution(start_request("wf-terminate")),
    )
    .await
    .expect("start");
    within(
        "terminate",
        clients[2].terminate_workflow_execution(TerminateWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            workflow_execution: execution("wf-terminate"),
            reason: "routing test".into(),
            ..Default::default()
        }),
    )
    .await
    .expect("terminate");
    let d1 = describe(&mut clients[0], "wf-terminate").await;
    let d2 = describe(&mut clients[1], "wf-terminate").await;
    assert_eq!(d1, d2);
    assert_eq!(
        d1.workflow_execution_info.unwrap().status,
        WorkflowExecutionStatus::Terminated as i32
    );
    assert_eq!(
        history(&mut clients[0], "wf-terminate").await,
        history(&mut clients[2], "wf-terminate").await
    );

    // A namespace registered through one node is refused as a duplicate through all of them.
    within(
        "register",
        clients[1].register_namespace(RegisterNamespaceRequest {
            namespace: "routing-ns".into(),
            workflow_execution_retention_period: Some(prost_wkt_types::Duration {
                seconds: 86_400,
                nanos: 0,
            }),
            ..Default::default()
        }),
    )
    .await
    .expect("register");
    let again = same_everywhere!(clients, "RegisterNamespace duplicate", |c| c
        .register_namespace(RegisterNamespaceRequest {
            namespace: "routing-ns".into(),
            workflow_execution_retention_period: Some(prost_wkt_types::Duration {
                seconds: 86_400,
                nanos: 0,
            }),
            ..Default::default()
        }));
    assert_eq!(again.map(|_| ()), Err(Code::AlreadyExists));

    cluster.shutdown().await;
}

/// A command that starts a timer nobody waits for: the run stays open with no task pending.
fn long_timer_command() -> temporalio_protos::temporal::api::command::v1::Command {
    use temporalio_protos::temporal::api::command::v1::{
        command::Attributes, Command, StartTimerCommandAttributes,
    };
    use temporalio_protos::temporal::api::enums::v1::CommandType;
    Command {
        command_type: CommandType::StartTimer as i32,
        attributes: Some(Attributes::StartTimerCommandAttributes(
            StartTimerCommandAttributes {
                timer_id: "long".into(),
                start_to_fire_timeout: Some(prost_wkt_types::Duration {
                    seconds: 3600,
                    nanos: 0,
                }),
            },
        )),
        ..Default::default()
    }
}

fn payloads(text: &str) -> Option<temporalio_protos::temporal::api::common::v1::Payloads> {
    use temporalio_protos::temporal::api::common::v1::{Payload, Payloads};
    Some(Payloads {
        payloads: vec![Payload {
            data: text.as_bytes().to_vec(),
            ..Default::default()
        }],
    })
}

fn answer_text(r: &QueryWorkflowResponse) -> String {
    let p = &r.query_result.as_ref().expect("a query result").payloads[0];
    String::from_utf8(p.data.clone()).unwrap()
}

async fn poll_task(c: &mut Client, queue: &str) -> PollWorkflowTaskQueueResponse {
    within(
        "PollWorkflowTaskQueue",
        c.poll_workflow_task_queue(PollWorkflowTaskQueueRequest {
            namespace: NAMESPACE.into(),
            task_queue: Some(TaskQueue {
                name: queue.into(),
                ..Default::default()
            }),
            identity: "query worker".into(),
            ..Default::default()
        }),
    )
    .await
    .expect("poll")
    .into_inner()
}

fn query_request(workflow_id: &str) -> QueryWorkflowRequest {
    QueryWorkflowRequest {
        namespace: NAMESPACE.into(),
        execution: execution(workflow_id),
        query: Some(temporalio_protos::temporal::api::query::v1::WorkflowQuery {
            query_type: "state".into(),
            query_args: payloads("args"),
            header: None,
        }),
        ..Default::default()
    }
}

/// Queries through every node of a cluster whose run's shard and task queue are led by
/// different nodes: a direct query crosses to the queue's owner (Internal.DispatchQuery), the
/// worker polls and answers through other nodes still, and a query that must wait for the next
/// workflow task rides on it wherever that task is polled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_reach_workers_through_any_node() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_cluster(3, dir.path()).await;
    let mut clients = Vec::new();
    for n in &cluster.nodes {
        clients.push(connect_addr(n.addr()).await);
    }
    let ns_id = common::namespace_id(&mut clients[0]).await;
    let status = cluster.status().await;
    let leader = |group: perdure_storage::GroupId| {
        status
            .groups
            .iter()
            .find(|g| g.group == group.0)
            .and_then(|g| g.leader)
    };
    let queue = "query-queue";
    let queue_name = format!("\u{0}task-queue\u{0}{queue}");
    let queue_leader = leader(perdure_history::shard_for(
        &ns_id,
        &queue_name,
        common::SHARDS,
    ));
    let workflow_id = (0..100)
        .map(|i| format!("wf-query-{i}"))
        .find(|wf| leader(perdure_history::shard_for(&ns_id, wf, common::SHARDS)) != queue_leader)
        .expect("a workflow whose shard another node leads");

    within(
        "start",
        clients[0].start_workflow_execution(common::start_request(&workflow_id, "queried", queue)),
    )
    .await
    .expect("start");
    let first = poll_task(&mut clients[1], queue).await;
    within(
        "complete first task",
        clients[2].respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
            namespace: NAMESPACE.into(),
            task_token: first.task_token,
            commands: vec![long_timer_command()],
            identity: "query worker".into(),
            ..Default::default()
        }),
    )
    .await
    .expect("complete");

    // Idle run: each query goes straight to a worker, polled through the next node and
    // answered through the one after.
    let mut spent_token = Vec::new();
    for i in 0..3 {
        let mut poller = clients[(i + 1) % 3].clone();
        let mut answerer = clients[(i + 2) % 3].clone();
        let worker = tokio::spawn(async move {
            let task = poll_task(&mut poller, queue).await;
            let query = task.query.clone().expect("a query task");
            assert_eq!(query.query_type, "state");
            assert_eq!(query.query_args, payloads("args"));
            assert!(task.queries.is_empty());
            let events = &task.history.as_ref().expect("history").events;
            assert_eq!(events.len(), 5, "the whole history, for a worker to replay");
            assert_eq!(task.previous_started_event_id, 3);
            within(
                "RespondQueryTaskCompleted",
                answerer.respond_query_task_completed(RespondQueryTaskCompletedRequest {
                    task_token: task.task_token.clone(),
                    completed_type: QueryResultType::Answered as i32,
                    query_result: payloads(&format!("answer {i}")),
                    namespace: NAMESPACE.into(),
                    ..Default::default()
                }),
            )
            .await
            .expect("answer");
            task.task_token
        });
        let answer = within(
            "QueryWorkflow",
            clients[i].query_workflow(query_request(&workflow_id)),
        )
        .await
        .expect("query")
        .into_inner();
        assert_eq!(answer_text(&answer), format!("answer {i}"));
        spent_token = worker.await.unwrap();
    }
    // An answer nobody waits for any more is NotFound through every node.
    let late = same_everywhere!(clients, "RespondQueryTaskCompleted late", |c| c
        .respond_query_task_completed(RespondQueryTaskCompletedRequest {
            task_token: spent_token.clone(),
            completed_type: QueryResultType::Answered as i32,
            namespace: NAMESPACE.into(),
            ..Default::default()
        }));
    assert_eq!(late.map(|_| ()), Err(Code::NotFound));

    // A signal schedules a task: a query now waits for it and rides on it.
    within(
        "signal",
        clients[0].signal_workflow_execution(SignalWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            workflow_execution: execution(&workflow_id),
            signal_name: "poke".into(),
            identity: "query test".into(),
            ..Default::default()
        }),
    )
    .await
    .expect("signal");
    let mut asker = clients[1].clone();
    let wf = workflow_id.clone();
    let pending = tokio::spawn(async move {
        within(
            "QueryWorkflow (buffered)",
            asker.query_workflow(query_request(&wf)),
        )
        .await
    });
    // The task may be polled before the query reaches the shard: then the query waits for
    // that task's end and, no task following, comes as a query task. Either way the worker
    // answers from a history that has the signal.
    let answered_from = loop {
        let task = poll_task(&mut clients[2], queue).await;
        let events = &task.history.as_ref().expect("history").events;
        assert!(
            events.iter().any(|e| e.event_type
                == temporalio_protos::temporal::api::enums::v1::EventType::WorkflowExecutionSignaled
                    as i32),
            "the worker sees the signal that came before the query"
        );
        if task.query.is_some() {
            within(
                "RespondQueryTaskCompleted",
                clients[0].respond_query_task_completed(RespondQueryTaskCompletedRequest {
                    task_token: task.task_token.clone(),
                    completed_type: QueryResultType::Answered as i32,
                    query_result: payloads("after the signal"),
                    namespace: NAMESPACE.into(),
                    ..Default::default()
                }),
            )
            .await
            .expect("answer");
            break "a query task";
        }
        let results: std::collections::HashMap<_, _> = task
            .queries
            .keys()
            .map(|id| {
                let result = temporalio_protos::temporal::api::query::v1::WorkflowQueryResult {
                    result_type: QueryResultType::Answered as i32,
                    answer: payloads("after the signal"),
                    ..Default::default()
                };
                (id.clone(), result)
            })
            .collect();
        let carried = !results.is_empty();
        within(
            "complete task",
            clients[0].respond_workflow_task_completed(RespondWorkflowTaskCompletedRequest {
                namespace: NAMESPACE.into(),
                task_token: task.task_token.clone(),
                query_results: results,
                identity: "query worker".into(),
                ..Default::default()
            }),
        )
        .await
        .expect("complete");
        if carried {
            break "the workflow task";
        }
    };
    let answer = pending.await.unwrap().expect("buffered query").into_inner();
    assert_eq!(
        answer_text(&answer),
        "after the signal",
        "answered from {answered_from}"
    );

    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_port_refuses_callers_without_the_cluster_secret() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_cluster(3, dir.path()).await;
    let internal = cluster.nodes[0].internal_addr().expect("cluster node");
    let channel = tonic::transport::Channel::from_shared(format!("http://{internal}"))
        .unwrap()
        .connect()
        .await
        .expect("connects");
    // A vote for a made-up term would, if accepted, disturb the group: it must never reach it.
    let vote = RaftRequest {
        group: 1,
        kind: RaftKind::Vote as i32,
        format: perdure_raft::RAFT_FORMAT,
        payload: b"whatever".to_vec(),
    };
    for secret in [None, Some("wrong-secret"), Some("")] {
        let mut req = tonic::Request::new(vote.clone());
        if let Some(s) = secret {
            req.metadata_mut()
                .insert(perdure_raft::SECRET_HEADER, s.parse().unwrap());
        }
        let err = InternalClient::new(channel.clone())
            .raft(req)
            .await
            .expect_err("refused");
        assert_eq!(err.code(), Code::Unauthenticated, "secret {secret:?}");
    }
    // Forwarded API calls on the internal port need the secret too.
    let mut api = common::Client::new(channel.clone());
    let err = api
        .describe_workflow_execution(DescribeWorkflowExecutionRequest {
            namespace: NAMESPACE.into(),
            execution: execution("x"),
        })
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::Unauthenticated);
    // With the secret, the same port answers (the garbage payload is refused as such).
    let mut req = tonic::Request::new(vote);
    req.metadata_mut()
        .insert(perdure_raft::SECRET_HEADER, SECRET.parse().unwrap());
    let err = InternalClient::new(channel)
        .raft(req)
        .await
        .expect_err("garbage payload");
    assert_eq!(err.code(), Code::InvalidArgument);
    // The cluster kept serving through all of it.
    let mut c = connect_addr(cluster.nodes[1].addr()).await;
    let started = c
        .start_workflow_execution(start_request("after-refusals"))
        .await
        .expect("start")
        .into_inner();
    assert!(!started.run_id.is_empty());
    cluster.shutdown().await;
}
