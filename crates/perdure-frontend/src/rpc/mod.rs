//! One module per RPC: validation and the hand-off to history or matching.

mod add_search_attributes;
mod count_schedules;
mod count_workflow_executions;
mod create_schedule;
mod delete_schedule;
mod delete_workflow_execution;
mod deprecate_namespace;
mod describe_batch_operation;
mod describe_schedule;
mod describe_task_queue;
mod describe_workflow_execution;
mod execute_multi_operation;
mod get_cluster_info;
mod get_search_attributes;
mod get_system_info;
mod get_workflow_execution_history;
mod get_workflow_execution_history_reverse;
mod list_batch_operations;
mod list_closed_workflow_executions;
mod list_open_workflow_executions;
mod list_schedule_matching_times;
mod list_schedules;
mod list_search_attributes;
mod list_task_queue_partitions;
pub(crate) mod list_workflow_executions;
mod namespace;
mod patch_schedule;
mod pause_activity;
mod pause_activity_execution;
mod poll_activity_task_queue;
mod poll_workflow_task_queue;
mod query_workflow;
mod record_activity_task_heartbeat;
mod remove_search_attributes;
mod request_cancel_workflow_execution;
mod reset_activity;
mod reset_sticky_task_queue;
mod reset_workflow_execution;
mod respond_activity_task;
mod respond_activity_task_by_id;
mod respond_query_task_completed;
mod respond_workflow_task;
mod scan_workflow_executions;
mod shutdown_worker;
mod signal_with_start_workflow_execution;
mod signal_workflow_execution;
pub(crate) mod start_batch_operation;
pub(crate) mod start_workflow_execution;
mod stop_batch_operation;
mod terminate_workflow_execution;
mod update_activity_options;
mod update_namespace;
mod update_schedule;
mod update_workflow_execution;

pub(crate) use describe_task_queue::poller_meta;
pub(crate) use get_search_attributes::builtin_attributes;
pub(crate) use get_workflow_execution_history::{
    follow_next_run_for_old_clients, wants_legacy_close_event,
};
pub use query_workflow::MAX_QUERY_WAIT;
pub(crate) use update_workflow_execution::UpdateDeadline;

use perdure_core::TaskToken;
use tonic::Status;

use crate::namespaces::NamespaceRecord;
use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    /// Decodes a task token and checks it belongs to the namespace the request names.
    pub(crate) fn token_in(
        &self,
        raw: &[u8],
        namespace: &str,
    ) -> Result<(TaskToken, NamespaceRecord), Status> {
        let token = validate::task_token(raw)?;
        let ns = self.namespaces.get(namespace)?;
        if token.namespace_id != ns.id() {
            return Err(errors::invalid(
                "Operation requested with a token from a different namespace.",
            ));
        }
        Ok((token, ns))
    }
}
