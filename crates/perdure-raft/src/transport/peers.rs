//! Connections to other nodes, shared by Raft and by request forwarding.
//!
//! One lazily connected HTTP/2 channel per peer address carries every group's Raft traffic and
//! every forwarded call, so 17 groups on 3 nodes cost 2 connections per node, not 34. Every
//! request leaving through here carries the cluster secret.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

/// Metadata key of the cluster secret on internal calls.
pub const SECRET_HEADER: &str = "x-perdure-secret";

/// How long connecting to a peer may take before the call fails (and Raft retries later).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A test hook that cuts this node off: while set, every internal call out fails at once and
/// every internal call in is refused, as if the network dropped the node's internal traffic.
/// Client-facing traffic is untouched. Off unless a test turns it on.
#[derive(Clone, Debug, Default)]
pub struct Isolation(Arc<AtomicBool>);

impl Isolation {
    pub fn set(&self, isolated: bool) {
        self.0.store(isolated, Ordering::SeqCst);
    }
    pub fn is_isolated(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Channels to peers by internal address, and the secret that authenticates this node to them.
pub struct Peers {
    secret: MetadataValue<tonic::metadata::Ascii>,
    channels: Mutex<HashMap<String, Channel>>,
    isolation: Isolation,
}

/// A secret that cannot be sent as gRPC metadata (non-visible ASCII).
#[derive(Debug, thiserror::Error)]
#[error("the cluster secret must be printable ASCII")]
pub struct BadSecret;

impl Peers {
    pub fn new(secret: &str, isolation: Isolation) -> Result<Arc<Self>, BadSecret> {
        let secret = MetadataValue::try_from(secret).map_err(|_| BadSecret)?;
        Ok(Arc::new(Self {
            secret,
            channels: Mutex::new(HashMap::new()),
            isolation,
        }))
    }

    /// A node with no peers (start-dev): nothing is ever sent.
    pub fn none() -> Arc<Self> {
        Self::new("", Isolation::default()).expect("empty secret is valid metadata")
    }

    pub fn isolation(&self) -> &Isolation {
        &self.isolation
    }

    /// True when `presented` is this cluster's secret. Compared in constant time.
    pub fn secret_matches(&self, presented: &[u8]) -> bool {
        let ours = self.secret.as_bytes();
        if ours.is_empty() || presented.len() != ours.len() {
            return false;
        }
        presented
            .iter()
            .zip(ours)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// The channel to `addr` (an internal `ip:port`), created on first use.
    pub fn channel(&self, addr: &str) -> Result<Channel, tonic::Status> {
        if self.isolation.is_isolated() {
            return Err(tonic::Status::unavailable("node isolated by test hook"));
        }
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = channels.get(addr) {
            return Ok(c.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| tonic::Status::invalid_argument(format!("bad peer address {addr}: {e}")))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5));
        let channel = endpoint.connect_lazy();
        channels.insert(addr.to_string(), channel.clone());
        Ok(channel)
    }

    /// Wraps `msg` in a request that carries the cluster secret.
    pub fn request<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(msg);
        req.metadata_mut()
            .insert(SECRET_HEADER, self.secret.clone());
        req
    }
}
