//! The node's HTTP side door (port 7243 by default): `/health` for load balancers and
//! orchestrators, `/metrics` in Prometheus text format. It serves no API and changes no state.

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;

async fn health() -> &'static str {
    "SERVING\n"
}

async fn metrics() -> ([(axum::http::HeaderName, &'static str); 1], String) {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        perdure_metrics::metrics().render(),
    )
}

/// Serves `/health` and `/metrics` until `shutdown` resolves.
pub async fn serve_http(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
