//! Connects history's committed dispatch tasks to this node's matching partitions.

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
        match queue_key(&task) {
            Some(key) => {
                self.0.add(&key, task);
            }
            None => tracing::warn!(
                task_id = task.task_id,
                "transfer task without a kind ignored"
            ),
        }
    }
}
