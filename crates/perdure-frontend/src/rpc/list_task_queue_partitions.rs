//! ListTaskQueuePartitions: where a task queue's partitions live. Perdure keeps one partition
//! per queue (its root, named like the queue), owned by the leader of the group the queue's
//! name routes to (`Routing::queue_group`); that node's Raft address is the owner host, as
//! Temporal names the matching host of each partition. Any node answers from its view of the
//! group's leader. This module never writes.

use temporalio_protos::temporal::api::taskqueue::v1::TaskQueuePartitionMetadata;
use temporalio_protos::temporal::api::workflowservice::v1::{
    ListTaskQueuePartitionsRequest, ListTaskQueuePartitionsResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::validate;

impl Frontend {
    pub(crate) async fn list_task_queue_partitions(
        &self,
        req: ListTaskQueuePartitionsRequest,
    ) -> Result<ListTaskQueuePartitionsResponse, Status> {
        let name = validate::task_queue(req.task_queue.as_ref())?;
        let ns = self.namespaces.get(&req.namespace)?;
        let group_id = self.routing.queue_group(ns.id(), name);
        let group =
            self.routing.raft().group(group_id).ok_or_else(|| {
                Status::internal(format!("no raft group {group_id} on this node"))
            })?;
        let (_, owner) = group
            .await_leader(crate::routing::LEADER_WAIT)
            .await
            .ok_or_else(|| {
                Status::unavailable(format!("group {group_id} has no leader right now; retry"))
            })?;
        // Workflow and activity tasks of a queue share its one partition.
        let partitions = vec![TaskQueuePartitionMetadata {
            key: name.to_string(),
            owner_host_name: owner,
        }];
        Ok(ListTaskQueuePartitionsResponse {
            activity_task_queue_partitions: partitions.clone(),
            workflow_task_queue_partitions: partitions,
        })
    }
}
