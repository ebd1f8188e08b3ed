//! The node's HTTP side door (port 7243 by default): `/health` for load balancers and
//! orchestrators (200 `SERVING` only while the node can route every call, see `health.rs`),
//! `/metrics` in Prometheus text format, and `/cluster`, this node's view of every Raft group
//! as JSON (what `perdure cluster status` reads). It serves no API and changes no state.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use perdure_raft::GroupStatus;
use serde::Serialize;

use crate::server::Frontend;

/// This node's view of the cluster, served on `/cluster`.
#[derive(Serialize)]
struct ClusterView {
    node_id: u64,
    serving: bool,
    groups: Vec<GroupStatus>,
}

async fn health(State(f): State<Arc<Frontend>>) -> (StatusCode, &'static str) {
    if f.health.serving() {
        (StatusCode::OK, "SERVING\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "NOT_SERVING\n")
    }
}

async fn metrics() -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        perdure_metrics::metrics().render(),
    )
}

async fn cluster(
    State(f): State<Arc<Frontend>>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let raft = f.routing.raft();
    let view = ClusterView {
        node_id: raft.node_id(),
        serving: f.health.serving(),
        groups: raft
            .group_ids()
            .into_iter()
            .filter_map(|g| raft.group(g).map(|g| g.status()))
            .collect(),
    };
    (
        [(CONTENT_TYPE, "application/json")],
        serde_json::to_string(&view).unwrap_or_default(),
    )
}

/// Serves `/health`, `/metrics` and `/cluster` until `shutdown` resolves.
pub async fn serve_http(
    frontend: Frontend,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/cluster", get(cluster))
        .with_state(Arc::new(frontend));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
