//! Every Prometheus metric a node exports, defined in one place so names and labels stay
//! consistent, plus the text exposition served on `/metrics`.
//!
//! A leaf crate: any layer may record into it; it must never depend on another Perdure crate or
//! do I/O. Label values must come from small fixed sets (method names, outcomes), never from
//! user input such as workflow ids, or the series count would be unbounded.

use std::sync::OnceLock;
use std::time::Duration;

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// The node's metrics. Obtain with [`metrics()`].
pub struct Metrics {
    registry: Registry,
    /// gRPC requests by method and status code name.
    pub grpc_requests: IntCounterVec,
    /// gRPC handling time by method (long polls included: they measure wait, not work).
    pub grpc_latency: HistogramVec,
    /// Raft proposals of history and meta writes, by outcome (applied, rejected, error).
    pub proposals: IntCounterVec,
    /// Time from proposing a batch to its local apply.
    pub propose_latency: HistogramVec,
    /// Tasks handed straight to a waiting poller (no backlog).
    pub sync_matches: IntCounter,
    /// Tasks that had to wait in a backlog for a poller.
    pub backlogged: IntCounter,
    /// Timer tasks fired by the timer wheels (stale ones included).
    pub timers_fired: IntCounter,
    /// Of those, the stale ones: they changed nothing, so only their row was deleted.
    pub timers_stale: IntCounter,
    /// Timer tasks the timer wheels hold in memory (the rest wait on disk for their window).
    pub timers_in_memory: IntGauge,
    /// API calls this node forwarded to the owner of their shard or task queue.
    pub forwarded: IntCounter,
    /// Dispatch tasks offered to task-queue owners on other nodes.
    pub tasks_offered_remote: IntCounter,
    /// Internal calls refused because they lacked the cluster secret.
    pub internal_unauthenticated: IntCounter,
    /// Raft snapshots this node built of its own applied state.
    pub snapshots_built: IntCounter,
    /// Raft snapshots this node installed from a leader (a replica that was too far behind,
    /// or new).
    pub snapshots_installed: IntCounter,
    /// Raft membership changes this node made as a group's leader, by kind.
    pub membership_changes: IntCounterVec,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 70.0,
];

impl Metrics {
    fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("perdure".into()), None)?;
        let grpc_requests = IntCounterVec::new(
            Opts::new(
                "grpc_requests_total",
                "gRPC requests by method and status code",
            ),
            &["method", "code"],
        )?;
        let grpc_latency = HistogramVec::new(
            HistogramOpts::new("grpc_request_seconds", "gRPC request handling time")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["method"],
        )?;
        let proposals = IntCounterVec::new(
            Opts::new("raft_proposals_total", "Raft proposals by outcome"),
            &["outcome"],
        )?;
        let propose_latency = HistogramVec::new(
            HistogramOpts::new("raft_propose_seconds", "Time from proposal to local apply")
                .buckets(LATENCY_BUCKETS.to_vec()),
            &["group_kind"],
        )?;
        let sync_matches = IntCounter::new(
            "matching_sync_matches_total",
            "Tasks handed directly to a waiting poller",
        )?;
        let backlogged = IntCounter::new(
            "matching_backlogged_total",
            "Tasks queued because no poller was waiting",
        )?;
        let timers_fired = IntCounter::new("timers_fired_total", "Timer tasks fired")?;
        let timers_stale = IntCounter::new(
            "timers_stale_total",
            "Timer tasks that fired stale (only their row deleted)",
        )?;
        let timers_in_memory =
            IntGauge::new("timers_in_memory", "Timer tasks held by the timer wheels")?;
        registry.register(Box::new(grpc_requests.clone()))?;
        registry.register(Box::new(grpc_latency.clone()))?;
        registry.register(Box::new(proposals.clone()))?;
        registry.register(Box::new(propose_latency.clone()))?;
        registry.register(Box::new(sync_matches.clone()))?;
        registry.register(Box::new(backlogged.clone()))?;
        registry.register(Box::new(timers_fired.clone()))?;
        registry.register(Box::new(timers_stale.clone()))?;
        let forwarded = IntCounter::new(
            "forwarded_calls_total",
            "API calls forwarded to the owning node",
        )?;
        let tasks_offered_remote = IntCounter::new(
            "tasks_offered_remote_total",
            "Dispatch tasks offered to task-queue owners on other nodes",
        )?;
        let internal_unauthenticated = IntCounter::new(
            "internal_unauthenticated_total",
            "Internal calls refused for a missing or wrong cluster secret",
        )?;
        registry.register(Box::new(timers_in_memory.clone()))?;
        registry.register(Box::new(forwarded.clone()))?;
        registry.register(Box::new(tasks_offered_remote.clone()))?;
        registry.register(Box::new(internal_unauthenticated.clone()))?;
        let snapshots_built =
            IntCounter::new("raft_snapshots_built_total", "Raft snapshots built here")?;
        let snapshots_installed = IntCounter::new(
            "raft_snapshots_installed_total",
            "Raft snapshots received from a leader and installed here",
        )?;
        let membership_changes = IntCounterVec::new(
            Opts::new(
                "raft_membership_changes_total",
                "Raft membership changes made by this node as a group leader",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(snapshots_built.clone()))?;
        registry.register(Box::new(snapshots_installed.clone()))?;
        registry.register(Box::new(membership_changes.clone()))?;
        Ok(Self {
            registry,
            grpc_requests,
            grpc_latency,
            proposals,
            propose_latency,
            sync_matches,
            backlogged,
            timers_fired,
            timers_stale,
            timers_in_memory,
            forwarded,
            tasks_offered_remote,
            internal_unauthenticated,
            snapshots_built,
            snapshots_installed,
            membership_changes,
        })
    }

    /// Records one finished gRPC call.
    pub fn observe_grpc(&self, method: &str, code: &str, took: Duration) {
        self.grpc_requests.with_label_values(&[method, code]).inc();
        self.grpc_latency
            .with_label_values(&[method])
            .observe(took.as_secs_f64());
    }

    /// Records one finished proposal.
    pub fn observe_proposal(&self, group_kind: &str, outcome: &str, took: Duration) {
        self.proposals.with_label_values(&[outcome]).inc();
        self.propose_latency
            .with_label_values(&[group_kind])
            .observe(took.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for the text format except on invalid metric data,
        // which the definitions above rule out; report it in-band rather than panic.
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            return format!("# metrics encoding failed: {e}\n");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    // The definitions are static and valid; failing here is a programming error caught by the
    // unit test below, never by a user.
    METRICS.get_or_init(|| Metrics::new().expect("metric definitions are valid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_renders() {
        let m = metrics();
        m.observe_grpc("StartWorkflowExecution", "Ok", Duration::from_millis(3));
        m.observe_proposal("history", "applied", Duration::from_millis(1));
        m.sync_matches.inc();
        m.timers_stale.inc();
        let text = m.render();
        assert!(text.contains(
            "perdure_grpc_requests_total{code=\"Ok\",method=\"StartWorkflowExecution\"}"
        ));
        assert!(text.contains("perdure_raft_proposals_total{outcome=\"applied\"}"));
        assert!(text.contains("perdure_matching_sync_matches_total"));
        assert!(text.contains("perdure_timers_stale_total 1"));
        assert!(text.contains("perdure_grpc_request_seconds_bucket"));
    }
}
