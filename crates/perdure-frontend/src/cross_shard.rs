//! How history effects reach the leader of another run's shard: this node's history when it
//! leads that shard, else the leader over `Internal.CrossShard`. History holds this link, so it
//! keeps only a weak reference back to history (no cycle keeps a stopped node alive).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use perdure_api::internal::internal_client::InternalClient;
use perdure_api::internal::CrossShardRequest;
use perdure_history::{CrossShard, CrossShardAnswer, CrossShardCall, HistoryError, HistoryService};
use prost::Message;

use crate::routing::{Owner, Routing};

/// Longest one remote step may take; a slower one is retried later.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

pub struct CrossShardLink {
    history: Weak<HistoryService>,
    routing: Arc<Routing>,
}

impl CrossShardLink {
    pub fn new(history: &Arc<HistoryService>, routing: Arc<Routing>) -> Arc<Self> {
        Arc::new(Self {
            history: Arc::downgrade(history),
            routing,
        })
    }
}

impl CrossShard for CrossShardLink {
    fn call(
        &self,
        call: CrossShardCall,
    ) -> Pin<Box<dyn Future<Output = Result<CrossShardAnswer, HistoryError>> + Send + 'static>>
    {
        let history = self.history.clone();
        let routing = self.routing.clone();
        Box::pin(async move {
            let (namespace_id, workflow_id) = call.target();
            let group = routing.workflow_group(namespace_id, workflow_id);
            let unavailable = |e: String| HistoryError::Remote(e);
            match routing
                .owner(group)
                .map_err(|s| unavailable(s.to_string()))?
            {
                Owner::Local => {
                    let history = history
                        .upgrade()
                        .ok_or(HistoryError::NotLeader { shard: group.0 })?;
                    history.serve_cross_shard(call).await
                }
                Owner::Remote { addr, .. } => {
                    let channel = routing
                        .peers()
                        .channel(&addr)
                        .map_err(|s| unavailable(s.to_string()))?;
                    let mut req = routing.peers().request(CrossShardRequest {
                        call: call.encode_to_vec(),
                    });
                    req.set_timeout(STEP_TIMEOUT);
                    let reply = InternalClient::new(channel)
                        .cross_shard(req)
                        .await
                        .map_err(|s| unavailable(format!("{addr}: {s}")))?;
                    CrossShardAnswer::decode(reply.get_ref().answer.as_slice())
                        .map_err(|e| unavailable(format!("undecodable answer: {e}")))
                }
            }
        })
    }
}
