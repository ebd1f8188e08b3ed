//! Temporal's HTTP JSON API (`/api/v1/...`), as Temporal's frontend serves it with
//! grpc-gateway: every WorkflowService and OperatorService method with a `google.api.http`
//! annotation, transcoded from HTTP+JSON to a gRPC call and back. The route table is read from
//! the annotations in Temporal's descriptor set (`routes.rs`), not written per method; calls go
//! in-process through the node's own gRPC service stack (`dispatch.rs`), so an HTTP call is
//! validated, forwarded to the shard's leader and fails exactly as the same gRPC call would.
//!
//! This crate owns HTTP↔gRPC transcoding only. It must never call the frontend's handlers
//! directly or know what a method does; it depends on no other Perdure crate but perdure-api.

mod descriptors;
mod dispatch;
mod errors;
mod fields;
mod gotext;
mod handler;
mod json;
mod routes;
mod template;

use std::convert::Infallible;
use std::sync::Arc;

pub use dispatch::GrpcService;

/// Largest request body accepted, as Temporal's HTTP API (gRPC's default message size).
pub const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// The `/api/v1/{*rest}` route (one catch-all with its own matcher), calling `grpc`, the node's
/// gRPC services as a tower service (e.g. `tonic::service::Routes`). Merge it into the HTTP
/// port's router; explicitly registered `/api/v1/...` routes of the merged router win over it.
pub fn router<S>(grpc: S) -> axum::Router
where
    S: tower::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let api = Arc::new(handler::Api {
        table: routes::RouteTable::load(),
        grpc: GrpcService::new(grpc),
    });
    // `/api/v1` itself answers Temporal's JSON 404 too (no binding is that short).
    axum::Router::new()
        .route("/api/v1/{*rest}", axum::routing::any(handler::handle))
        .route("/api/v1", axum::routing::any(handler::handle))
        .route("/api/v1/", axum::routing::any(handler::handle))
        .with_state(api)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// A gRPC stack that must not be reached.
    fn unreachable_grpc() -> GrpcService {
        GrpcService::new(tower::service_fn(
            |_req: http::Request<tonic::body::Body>| async {
                panic!("routing errors never reach gRPC")
            },
        ))
    }

    async fn get(app: axum::Router, method: &str, path: &str) -> (u16, String) {
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn routing_errors_and_explicit_routes_beside_the_catch_all() {
        // What the Web UI's router does on the same port: an explicit /api/v1 route and a
        // fallback for everything else.
        let app = router(unreachable_grpc())
            .route(
                "/api/v1/settings",
                axum::routing::get(|| async { "settings" }),
            )
            .fallback(|| async { "static" });
        let not_found = r#"{"code":5,"message":"Not Found"}"#.to_string();
        for path in [
            "/api/v1",
            "/api/v1/",
            "/api/v1/nope",
            "/api/v1/namespaces/a/b/c/d/e/f",
        ] {
            assert_eq!(
                get(app.clone(), "GET", path).await,
                (404, not_found.clone()),
                "{path}"
            );
        }
        assert_eq!(
            get(app.clone(), "PUT", "/api/v1/namespaces/default/workflows").await,
            (
                501,
                r#"{"code":12,"message":"Method Not Allowed"}"#.to_string()
            )
        );
        assert_eq!(
            get(app.clone(), "GET", "/api/v1/settings").await,
            (200, "settings".to_string())
        );
        assert_eq!(
            get(app.clone(), "GET", "/namespaces/default").await,
            (200, "static".to_string())
        );
        assert_eq!(get(app, "GET", "/").await, (200, "static".to_string()));
    }
}
