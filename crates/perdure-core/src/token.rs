//! Task tokens: the opaque bytes a worker hands back when it completes a task.
//! They are our own prost message, so they must never be mistaken for Core's local-activity
//! tokens (which start with `local_act_`); they are never trusted beyond a lookup key.

use crate::errors::CoreError;

/// Which kind of task a token belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
#[repr(i32)]
pub enum TaskKind {
    Unspecified = 0,
    Workflow = 1,
    Activity = 2,
    /// A query handed to a worker outside a workflow task (answered by
    /// RespondQueryTaskCompleted): names no scheduled event, only the query and its queue.
    Query = 3,
}

#[derive(Clone, PartialEq, ::prost::Message)]
pub struct TaskToken {
    #[prost(string, tag = "1")]
    pub namespace_id: String,
    #[prost(string, tag = "2")]
    pub workflow_id: String,
    #[prost(string, tag = "3")]
    pub run_id: String,
    #[prost(int64, tag = "4")]
    pub scheduled_event_id: i64,
    #[prost(int64, tag = "5")]
    pub started_event_id: i64,
    #[prost(int32, tag = "6")]
    pub attempt: i32,
    #[prost(string, tag = "7")]
    pub activity_id: String,
    #[prost(enumeration = "TaskKind", tag = "8")]
    pub kind: i32,
    #[prost(int32, tag = "9")]
    pub stamp: i32,
    /// Query tokens: the id the waiting QueryWorkflow call is registered under.
    #[prost(string, tag = "10")]
    pub query_id: String,
    /// Query tokens: the normal task queue the query went through (its owner holds the
    /// waiting call, also when the query went to that queue's sticky queue).
    #[prost(string, tag = "11")]
    pub task_queue: String,
}

impl TaskToken {
    pub fn encode(&self) -> Vec<u8> {
        ::prost::Message::encode_to_vec(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<TaskToken, CoreError> {
        if bytes.is_empty() {
            return Err(CoreError::InvalidArgument(
                "Task token not set on request.".into(),
            ));
        }
        <TaskToken as ::prost::Message>::decode(bytes)
            .map_err(|_| CoreError::InvalidArgument("error deserializing task token".into()))
    }

    pub fn is_workflow(&self) -> bool {
        self.kind == TaskKind::Workflow as i32
    }

    pub fn is_activity(&self) -> bool {
        self.kind == TaskKind::Activity as i32
    }

    pub fn is_query(&self) -> bool {
        self.kind == TaskKind::Query as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_never_local_activity_prefix() {
        let t = TaskToken {
            namespace_id: "ns".into(),
            workflow_id: "local_act_wf".into(),
            run_id: "r".into(),
            scheduled_event_id: 5,
            started_event_id: 0,
            attempt: 2,
            activity_id: "local_act_1".into(),
            kind: TaskKind::Activity as i32,
            stamp: 3,
            ..Default::default()
        };
        let bytes = t.encode();
        assert!(!bytes.starts_with(b"local_act_"));
        // The first byte is a protobuf tag (field 1, wire type 2), never the ASCII 'l'.
        assert_eq!(bytes[0], 0x0a);
        assert_eq!(TaskToken::decode(&bytes).unwrap(), t);
        let empty = TaskToken::default().encode();
        assert!(!empty.starts_with(b"local_act_"));
    }

    #[test]
    fn garbage_is_invalid_argument() {
        assert!(matches!(
            TaskToken::decode(b"local_act_xyz"),
            Err(CoreError::InvalidArgument(_))
        ));
        assert!(matches!(
            TaskToken::decode(&[]),
            Err(CoreError::InvalidArgument(_))
        ));
    }
}
