//! Names of task queue partitions.

use std::fmt;

/// Which kind of task a queue carries: the same name may hold both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskKind {
    Workflow,
    Activity,
}

/// One task queue partition. Perdure runs one partition per (namespace, name, kind).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskQueueKey {
    pub namespace_id: String,
    pub name: String,
    pub kind: TaskKind,
}

impl TaskQueueKey {
    pub fn new(namespace_id: impl Into<String>, name: impl Into<String>, kind: TaskKind) -> Self {
        Self {
            namespace_id: namespace_id.into(),
            name: name.into(),
            kind,
        }
    }
}

impl fmt::Display for TaskQueueKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{:?}", self.namespace_id, self.name, self.kind)
    }
}
