//! Reading one kind of per-shard record (schedules, batch jobs) from every shard's leader: this
//! node's history for the shards it leads, `Internal.Visibility` on the leader for the others,
//! merged in no particular order (the caller sorts and pages). A shard whose leader just moved
//! is asked once more. This module never filters, sorts or writes.

use perdure_api::internal::internal_client::InternalClient;
use perdure_api::internal::{VisibilityReply, VisibilityRequest};
use perdure_batch::BatchJob;
use perdure_history::{HistoryError, HistoryService};
use perdure_storage::GroupId;
use temporalio_protos::temporal::api::schedule::v1::ScheduleListEntry;
use tonic::Status;

use crate::errors;
use crate::routing::Owner;
use crate::server::Frontend;

/// A record kind a shard lists for a namespace.
pub(crate) trait ShardRecord: prost::Message + Default + Sized {
    /// What the record is, for an undecodable answer's message.
    const WHAT: &'static str;
    /// Marks a VisibilityRequest as asking for this kind.
    fn ask(req: &mut VisibilityRequest);
    /// The encoded records of a VisibilityReply.
    fn take(reply: VisibilityReply) -> Vec<Vec<u8>>;
    /// The records of `shard` from this node's history (it leads the shard).
    async fn local(
        history: &HistoryService,
        shard: GroupId,
        namespace_id: &str,
    ) -> Result<Vec<Self>, HistoryError>;
}

impl ShardRecord for ScheduleListEntry {
    const WHAT: &'static str = "schedule entry";
    fn ask(req: &mut VisibilityRequest) {
        req.schedules = true;
    }
    fn take(reply: VisibilityReply) -> Vec<Vec<u8>> {
        reply.schedules
    }
    async fn local(
        history: &HistoryService,
        shard: GroupId,
        namespace_id: &str,
    ) -> Result<Vec<Self>, HistoryError> {
        history.list_schedules(shard, namespace_id).await
    }
}

impl ShardRecord for BatchJob {
    const WHAT: &'static str = "batch job";
    fn ask(req: &mut VisibilityRequest) {
        req.batches = true;
    }
    fn take(reply: VisibilityReply) -> Vec<Vec<u8>> {
        reply.batches
    }
    async fn local(
        history: &HistoryService,
        shard: GroupId,
        namespace_id: &str,
    ) -> Result<Vec<Self>, HistoryError> {
        history.list_batches(shard, namespace_id).await
    }
}

impl Frontend {
    /// Every `T` record of `namespace_id`, from every shard's leader.
    pub(crate) async fn every_shard<T: ShardRecord>(
        &self,
        namespace_id: &str,
    ) -> Result<Vec<T>, Status> {
        let shards = self.history.shard_count();
        let calls = (1..=shards).map(|s| async move {
            let once = || self.of_shard::<T>(GroupId(s), namespace_id);
            match once().await {
                Err(s) if errors::is_not_leader(&s) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    once().await
                }
                other => other,
            }
        });
        Ok(futures::future::try_join_all(calls)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    async fn of_shard<T: ShardRecord>(
        &self,
        shard: GroupId,
        namespace_id: &str,
    ) -> Result<Vec<T>, Status> {
        match self.routing.await_owner(shard).await? {
            Owner::Local => T::local(&self.history, shard, namespace_id)
                .await
                .map_err(errors::history),
            Owner::Remote { addr, .. } => {
                let channel = self.routing.peers().channel(&addr)?;
                let mut ask = VisibilityRequest {
                    shard: shard.0,
                    namespace_id: namespace_id.to_string(),
                    ..Default::default()
                };
                T::ask(&mut ask);
                let mut req = self.routing.peers().request(ask);
                req.set_timeout(crate::visibility::SHARD_TIMEOUT);
                let reply = InternalClient::new(channel)
                    .max_decoding_message_size(usize::MAX)
                    .visibility(req)
                    .await?
                    .into_inner();
                T::take(reply)
                    .iter()
                    .map(|b| T::decode(b.as_slice()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| Status::internal(format!("undecodable {}: {e}", T::WHAT)))
            }
        }
    }
}
