//! Connects history's committed dispatch tasks to this node's matching partitions. A task for a
//! worker's sticky queue names its normal queue too, and matching picks between them.

use perdure_core::transfer_task::Kind;
use perdure_history::{DispatchTask, TaskSink};
use perdure_matching::{Matching, TaskKind, TaskQueueKey};

#[derive(Clone)]
pub struct MatchingSink(pub Matching<DispatchTask>);

pub fn queue_key(task: &DispatchTask) -> Option<TaskQueueKey> {
    let kind = match task.task.kind.as_ref()? {
        Kind::WorkflowTask(_) => TaskKind::Workflow,
        Kind::ActivityTask(_) => TaskKind::Activity,
    };
    Some(TaskQueueKey::new(
        task.task.namespace_id.clone(),
        task.task.task_queue.clone(),
        kind,
    ))
}

impl TaskSink for MatchingSink {
    fn dispatch(&self, task: DispatchTask) {
        let Some(key) = queue_key(&task) else {
            tracing::warn!(
                task_id = task.task_id,
                "transfer task without a kind ignored"
            );
            return;
        };
        if task.task.normal_task_queue.is_empty() {
            self.0.add(&key, task);
        } else {
            let normal = TaskQueueKey::new(
                key.namespace_id.clone(),
                task.task.normal_task_queue.clone(),
                key.kind,
            );
            self.0.add_sticky(&key, &normal, task);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perdure_core::{TaskRef, TransferTask};
    use perdure_storage::GroupId;
    use std::time::Duration;

    fn workflow_task(queue: &str, normal: &str) -> DispatchTask {
        DispatchTask {
            shard: GroupId(1),
            task_id: 1,
            task: TransferTask {
                namespace_id: "ns".into(),
                workflow_id: "wf".into(),
                run_id: "run".into(),
                task_queue: queue.into(),
                normal_task_queue: normal.into(),
                kind: Some(Kind::WorkflowTask(TaskRef::default())),
            },
        }
    }

    fn key(name: &str) -> TaskQueueKey {
        TaskQueueKey::new("ns", name, TaskKind::Workflow)
    }

    #[tokio::test]
    async fn sticky_task_follows_its_worker_or_falls_back_to_the_normal_queue() {
        let matching = Matching::new();
        let sink = MatchingSink(matching.clone());
        // Nobody polls the sticky queue: the task is for any worker.
        sink.dispatch(workflow_task("sticky", "tq"));
        assert_eq!(matching.backlog_len(&key("tq")), 1);
        assert_eq!(matching.backlog_len(&key("sticky")), 0);
        // Its worker has just polled: the task waits for it.
        assert!(matching
            .poll(&key("sticky"), Duration::from_millis(1))
            .await
            .is_none());
        sink.dispatch(workflow_task("sticky", "tq"));
        assert_eq!(matching.backlog_len(&key("sticky")), 1);
        // Normal tasks go where they say.
        sink.dispatch(workflow_task("tq", ""));
        assert_eq!(matching.backlog_len(&key("tq")), 2);
    }
}
