//! Workflow execution statuses as queries name them.
//!
//! Owns the names a query may use for `ExecutionStatus` (Temporal's short names such as
//! `Running` and the full proto names such as `WORKFLOW_EXECUTION_STATUS_RUNNING`, both
//! case-sensitive) and their numbers, which is how rows store and compare them. It must never
//! know about queries or rows.

use std::fmt;

/// `WorkflowExecutionStatus`, with the proto's numbers (the SQL stores compare these numbers,
/// so `ExecutionStatus > 'Running'` means every closed status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExecutionStatus {
    Unspecified = 0,
    Running = 1,
    Completed = 2,
    Failed = 3,
    Canceled = 4,
    Terminated = 5,
    ContinuedAsNew = 6,
    TimedOut = 7,
    Paused = 8,
}

const ALL: [ExecutionStatus; 9] = [
    ExecutionStatus::Unspecified,
    ExecutionStatus::Running,
    ExecutionStatus::Completed,
    ExecutionStatus::Failed,
    ExecutionStatus::Canceled,
    ExecutionStatus::Terminated,
    ExecutionStatus::ContinuedAsNew,
    ExecutionStatus::TimedOut,
    ExecutionStatus::Paused,
];

impl ExecutionStatus {
    pub fn from_number(n: i64) -> Option<Self> {
        ALL.into_iter().find(|s| *s as i64 == n)
    }

    pub fn number(self) -> i32 {
        self as i32
    }

    /// The short name: what Count's `GROUP BY ExecutionStatus` returns as the group value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "Unspecified",
            Self::Running => "Running",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Canceled => "Canceled",
            Self::Terminated => "Terminated",
            Self::ContinuedAsNew => "ContinuedAsNew",
            Self::TimedOut => "TimedOut",
            Self::Paused => "Paused",
        }
    }

    /// The proto enum value's name.
    pub fn proto_name(self) -> &'static str {
        match self {
            Self::Unspecified => "WORKFLOW_EXECUTION_STATUS_UNSPECIFIED",
            Self::Running => "WORKFLOW_EXECUTION_STATUS_RUNNING",
            Self::Completed => "WORKFLOW_EXECUTION_STATUS_COMPLETED",
            Self::Failed => "WORKFLOW_EXECUTION_STATUS_FAILED",
            Self::Canceled => "WORKFLOW_EXECUTION_STATUS_CANCELED",
            Self::Terminated => "WORKFLOW_EXECUTION_STATUS_TERMINATED",
            Self::ContinuedAsNew => "WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW",
            Self::TimedOut => "WORKFLOW_EXECUTION_STATUS_TIMED_OUT",
            Self::Paused => "WORKFLOW_EXECUTION_STATUS_PAUSED",
        }
    }

    /// Either name, exactly as written (Temporal's lookup is case-sensitive).
    pub fn from_name(s: &str) -> Option<Self> {
        ALL.into_iter()
            .find(|st| st.name() == s || st.proto_name() == s)
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        for s in ALL {
            assert_eq!(ExecutionStatus::from_name(s.name()), Some(s));
            assert_eq!(ExecutionStatus::from_name(s.proto_name()), Some(s));
            assert_eq!(ExecutionStatus::from_number(s.number() as i64), Some(s));
        }
        assert_eq!(ExecutionStatus::from_name("running"), None);
        assert_eq!(ExecutionStatus::from_number(99), None);
        assert_eq!(ExecutionStatus::from_number(-1), None);
    }
}
