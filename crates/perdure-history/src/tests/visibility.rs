//! Visibility through the service: rows follow a run from start to close, successors get
//! their own row in the closing write's batch, and List/Count answer from them.

use perdure_visibility::{Options, Query, SearchAttributes};
use temporalio_protos::temporal::api::command::v1::{
    command, Command, ContinueAsNewWorkflowExecutionCommandAttributes,
};
use temporalio_protos::temporal::api::common::v1::WorkflowType;
use temporalio_protos::temporal::api::enums::v1::{CommandType, WorkflowExecutionStatus as S};
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use temporalio_protos::temporal::api::workflow::v1::WorkflowExecutionInfo;

use super::fixture::*;
use crate::HistoryService;

fn query(text: &str) -> Query {
    Query::parse(text, &SearchAttributes::new(), Options::default()).unwrap()
}

/// Every row of the namespace matching `text`, over all shards.
async fn list(history: &HistoryService, text: &str) -> Vec<WorkflowExecutionInfo> {
    let mut all = Vec::new();
    for s in 1..=history.shard_count() {
        let shard = perdure_storage::GroupId(s);
        all.extend(
            history
                .list_visibility(
                    shard,
                    NS_ID,
                    &query(text),
                    &SearchAttributes::new(),
                    None,
                    1000,
                )
                .await
                .unwrap(),
        );
    }
    all
}

fn continue_as_new() -> Command {
    Command {
        command_type: CommandType::ContinueAsNewWorkflowExecution as i32,
        attributes: Some(
            command::Attributes::ContinueAsNewWorkflowExecutionCommandAttributes(
                ContinueAsNewWorkflowExecutionCommandAttributes {
                    workflow_type: Some(WorkflowType { name: "T".into() }),
                    task_queue: Some(TaskQueue {
                        name: TQ.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ),
        ),
        ..Default::default()
    }
}

#[tokio::test]
async fn rows_follow_start_close_and_continue_as_new() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::open(dir.path()).await;
    let first = node.start("wf-vis", "req-1").await.unwrap();
    node.start("wf-other", "req-2").await.unwrap();

    let rows = list(&node.history, "WorkflowId = 'wf-vis'").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, S::Running as i32);
    assert!(rows[0].close_time.is_none());

    // Continue-as-new: the closing run's row and its successor's are in the same batch.
    let wft = node.next_workflow_task(&first, 2).await;
    let poll = node.poll_workflow_task(&wft, "poll-1").await;
    node.complete_workflow_task(&poll.task_token, vec![continue_as_new()])
        .await;
    let rows = list(&node.history, "WorkflowId = 'wf-vis'").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Open runs first.
    assert_eq!(rows[0].status, S::Running as i32);
    let second = rows[0].execution.clone().unwrap().run_id;
    assert_ne!(second, first);
    assert_eq!(rows[1].status, S::ContinuedAsNew as i32);
    assert!(rows[1].close_time.is_some() && rows[1].history_length > 0);
    // One state transition per write: start, task started, task completed (closing). Open
    // rows carry none, as Temporal's; the successor's creation is its first.
    assert_eq!(rows[1].state_transition_count, 3);
    assert_eq!(rows[0].state_transition_count, 0);
    // The successor is current, and a start refused by it names the chain's first run.
    match node.start("wf-vis", "req-3").await {
        Err(crate::errors::HistoryError::Core(perdure_core::CoreError::AlreadyStarted {
            run_id,
            first_execution_run_id,
            ..
        })) => assert_eq!(
            (run_id, first_execution_run_id),
            (second.clone(), first.clone())
        ),
        other => panic!("expected AlreadyStarted, got {other:?}"),
    }

    // Completion closes the successor's row.
    let wft = node.next_workflow_task(&second, 2).await;
    let poll = node.poll_workflow_task(&wft, "poll-2").await;
    node.complete_workflow_task(&poll.task_token, vec![complete_workflow("done")])
        .await;
    let done = list(&node.history, "ExecutionStatus = 'Completed'").await;
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].execution.clone().unwrap().run_id, second);
    // Created; its first task scheduled when the minimal interval between runs' backoff timer
    // fired (a write of its own, as in Temporal); started; completed.
    assert_eq!(done[0].state_transition_count, 4);
    // Every stored event carries a task id of the write that stored it: one each, growing
    // with the history (Temporal's event task ids), the successor's too.
    for run in [&first, &second] {
        let ids: Vec<i64> = node
            .history("wf-vis", run)
            .await
            .iter()
            .map(|e| e.task_id)
            .collect();
        assert!(ids[0] > 0 && ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    }
    let described = node
        .history
        .describe(
            NS_ID,
            &temporalio_protos::temporal::api::common::v1::WorkflowExecution {
                workflow_id: "wf-vis".into(),
                run_id: second.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        described
            .workflow_execution_info
            .unwrap()
            .state_transition_count,
        4
    );
    // A state stored before the count was kept reads it from the run's version.
    let key = crate::cache::ExecKey::new(NS_ID, "wf-vis", &second);
    let shard = node.history.shard_for(NS_ID, "wf-vis").clone();
    let (mut old, version) = crate::tables::load_execution(&shard.store, shard.id, &key)
        .unwrap()
        .unwrap();
    assert_eq!(version, 4);
    old.state_transition_count = 0;
    let rewrite = perdure_storage::WriteBatch {
        checks: vec![],
        ops: vec![perdure_storage::Op::Put {
            cf: perdure_storage::Cf::Executions,
            key: perdure_storage::keys::execution(shard.id, NS_ID, "wf-vis", &second),
            value: prost::Message::encode_to_vec(&old),
        }],
    };
    shard.store.apply(shard.id, b"test", &rewrite).unwrap();
    let (reloaded, _) = crate::tables::load_execution(&shard.store, shard.id, &key)
        .unwrap()
        .unwrap();
    assert_eq!(reloaded.state_transition_count, 4);

    let grouped = query("GROUP BY ExecutionStatus");
    let mut total = 0;
    let mut groups = std::collections::BTreeMap::new();
    for s in 1..=node.history.shard_count() {
        let c = node
            .history
            .count_visibility(
                perdure_storage::GroupId(s),
                NS_ID,
                &grouped,
                &SearchAttributes::new(),
            )
            .await
            .unwrap();
        total += c.count;
        for (k, v) in c.groups {
            *groups.entry(k).or_insert(0) += v;
        }
    }
    assert_eq!(total, 3);
    assert_eq!(
        groups.into_iter().collect::<Vec<_>>(),
        [
            ("Completed".to_string(), 1),
            ("ContinuedAsNew".to_string(), 1),
            ("Running".to_string(), 1)
        ]
    );
    node.shutdown().await;
}
