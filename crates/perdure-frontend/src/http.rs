//! The node's HTTP side door (port 7243 by default): `/health` for load balancers and
//! orchestrators (200 `SERVING` only while the node can route every call, see `health.rs`),
//! `/metrics` in Prometheus text format, and `/cluster`, this node's view of every Raft group
//! as JSON (what `perdure cluster status` reads), and `/cluster/checksums`, a fingerprint of
//! each group's applied state to compare replicas (it reads every group whole, one request at a
//! time). It changes no state itself; the server merges Temporal's HTTP API (`perdure-httpapi`,
//! `/api/v1/...`) into the same router.

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

/// One checksum computation at a time: each reads every group whole.
static CHECKSUMS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

async fn checksums(
    State(f): State<Arc<Frontend>>,
) -> (
    StatusCode,
    [(axum::http::HeaderName, &'static str); 1],
    String,
) {
    let json = [(CONTENT_TYPE, "application/json")];
    let Ok(_one) = CHECKSUMS.acquire().await else {
        return (StatusCode::SERVICE_UNAVAILABLE, json, "{}".into());
    };
    let raft = f.routing.raft().clone();
    let computed = tokio::task::spawn_blocking(move || {
        raft.group_ids()
            .into_iter()
            .map(|g| raft.checksum(g).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, String>>()
    })
    .await;
    match computed {
        Ok(Ok(sums)) => (
            StatusCode::OK,
            json,
            serde_json::to_string(&sums).unwrap_or_default(),
        ),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json,
            serde_json::json!({ "error": e }).to_string(),
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            json,
            serde_json::json!({ "error": e.to_string() }).to_string(),
        ),
    }
}

/// `/health`, `/metrics`, `/cluster` and `/cluster/checksums`.
pub fn http_router(frontend: Frontend) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/cluster", get(cluster))
        .route("/cluster/checksums", get(checksums))
        .with_state(Arc::new(frontend))
}

/// Serves `app` (the node's HTTP router: `http_router` and what the server merges into it)
/// until `shutdown` resolves.
pub async fn serve_http(
    app: Router,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
