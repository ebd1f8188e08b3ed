//! Forwarding a Temporal API call to the node that owns it: the same WorkflowService call, sent
//! to the owner's internal address with the cluster secret, the client's deadline and gzip. The
//! owner serves calls that arrive on its internal port locally and never forwards them again,
//! so a call makes at most one hop even while ownership moves.

use std::future::Future;

use perdure_api::operatorservice::operator_service_client::OperatorServiceClient;
use perdure_api::workflowservice::workflow_service_client::WorkflowServiceClient;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

use crate::server::Frontend;

pub(crate) type WorkflowClient = WorkflowServiceClient<Channel>;
pub(crate) type OperatorClient = OperatorServiceClient<Channel>;

/// What became of a forwarded call.
pub(crate) enum Forwarded<Req, Resp> {
    /// The owner's answer (or why no owner answered).
    Answer(Result<Response<Resp>, Status>),
    /// Leadership moved to this node meanwhile: serve the request here.
    Local(Request<Req>),
}

/// Messages between nodes may be as large as between client and node.
const MAX_MESSAGE_BYTES: usize = 128 * 1024 * 1024;

impl Frontend {
    /// The internal address of the node that must serve a call of `group`, or `None` when this
    /// node serves it (it owns the group, or the call was already forwarded here, or the call
    /// is invalid and will be refused locally).
    pub(crate) async fn remote_owner(
        &self,
        group: Option<perdure_storage::GroupId>,
    ) -> Result<Option<(perdure_storage::GroupId, String)>, Status> {
        let Some(group) = group.filter(|_| self.forwards) else {
            return Ok(None);
        };
        match self.routing.await_owner(group).await? {
            crate::routing::Owner::Local => Ok(None),
            crate::routing::Owner::Remote { addr, .. } => Ok(Some((group, addr))),
        }
    }

    /// Sends `req` to the owner of `group` with `call` (one generated client method). When the
    /// node we reached refuses because it no longer leads (nothing was proposed, or a long
    /// poll was cut by the leadership change), the call goes once more to the new leader; if
    /// that is this node, the request comes back as [`Forwarded::Local`] to be served here.
    /// Any other answer is the caller's.
    pub(crate) async fn forward<Req: Clone, Resp, Fut>(
        &self,
        group: perdure_storage::GroupId,
        addr: &str,
        incoming: Request<Req>,
        call: impl Fn(WorkflowClient, Request<Req>) -> Fut,
    ) -> Forwarded<Req, Resp>
    where
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        let timeout = crate::deadline::client_timeout(incoming.metadata());
        let (metadata, extensions, msg) = incoming.into_parts();
        let first = self.forward_once(addr, msg.clone(), timeout, &call).await;
        let answer = match first {
            Err(s) if crate::errors::is_not_leader(&s) => {
                // Our view of the leader was behind; wait for the new one and go there.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                match self.routing.await_owner(group).await {
                    Ok(crate::routing::Owner::Remote { addr: next, .. }) if next != addr => {
                        self.forward_once(&next, msg, timeout, &call).await
                    }
                    Ok(crate::routing::Owner::Local) => {
                        return Forwarded::Local(Request::from_parts(metadata, extensions, msg))
                    }
                    _ => Err(s),
                }
            }
            other => other,
        };
        Forwarded::Answer(answer)
    }

    async fn forward_once<Req, Resp, Fut>(
        &self,
        addr: &str,
        msg: Req,
        timeout: Option<std::time::Duration>,
        call: &impl Fn(WorkflowClient, Request<Req>) -> Fut,
    ) -> Result<Response<Resp>, Status>
    where
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        let channel = self.routing.peers().channel(addr)?;
        // No compression between nodes: on the internal network gzip costs more CPU than the
        // bytes it saves (it showed in profiles of a 3-node cluster).
        let client = WorkflowServiceClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let mut req = self.routing.peers().request(msg);
        if let Some(t) = timeout {
            req.set_timeout(t);
        }
        perdure_metrics::metrics().forwarded.inc();
        // Only the message travels back: the owner's response headers (its grpc-encoding
        // above all) describe the hop between nodes, not the answer to our own client.
        let answer = call(client, req)
            .await
            .map(|r| Response::new(r.into_inner()));
        answer.map_err(|s| match s.code() {
            // The owner could not be reached (it died, or the network split): the client may
            // retry, by when a new owner is known.
            tonic::Code::Unknown | tonic::Code::Cancelled if s.message().contains("transport") => {
                Status::unavailable(format!("owner {addr} unreachable: {}", s.message()))
            }
            _ => s,
        })
    }

    /// Sends an OperatorService call to the node at `addr` (the meta leader, for writes of
    /// the meta group), as [`Frontend::forward`] does WorkflowService calls, in one attempt:
    /// a leader that moved meanwhile answers Unavailable and the client asks again.
    pub(crate) async fn forward_operator<Req, Resp, Fut>(
        &self,
        addr: &str,
        incoming: Request<Req>,
        call: impl FnOnce(OperatorClient, Request<Req>) -> Fut,
    ) -> Result<Response<Resp>, Status>
    where
        Fut: Future<Output = Result<Response<Resp>, Status>>,
    {
        let timeout = crate::deadline::client_timeout(incoming.metadata());
        let channel = self.routing.peers().channel(addr)?;
        let client = OperatorServiceClient::new(channel);
        let mut req = self.routing.peers().request(incoming.into_inner());
        if let Some(t) = timeout {
            req.set_timeout(t);
        }
        perdure_metrics::metrics().forwarded.inc();
        call(client, req)
            .await
            .map(|r| Response::new(r.into_inner()))
            .map_err(|s| match s.code() {
                tonic::Code::Unknown | tonic::Code::Cancelled
                    if s.message().contains("transport") =>
                {
                    Status::unavailable(format!("owner {addr} unreachable: {}", s.message()))
                }
                _ => s,
            })
    }
}
