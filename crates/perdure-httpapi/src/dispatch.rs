//! The in-process gRPC call: the request message, encoded as one gRPC frame, goes through the
//! node's own tonic service stack (the same services the gRPC port serves), so validation,
//! forwarding to the owning node and error statuses are exactly those of a gRPC call. The
//! answer is one frame (decoded by the caller) or a status from `grpc-status`,
//! `grpc-message` and `grpc-status-details-bin` (headers for a trailers-only answer, else
//! trailers). It owns no API knowledge: paths and bytes only.

use std::convert::Infallible;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};
use http_body_util::{BodyExt, Full};
use tonic::body::Body;
use tower::util::BoxCloneSyncService;
use tower::ServiceExt;

/// The node's gRPC services as one tower service (e.g. a `tonic::service::Routes`).
pub type GrpcService = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, Infallible>;

/// Largest answer read back: well above any legal response (the gRPC port allows 128 MiB).
const MAX_RESPONSE_BYTES: usize = 256 * 1024 * 1024;

/// Calls `path` (`/package.Service/Method`) with the encoded request `message`. `metadata`
/// becomes the call's gRPC metadata; `timeout`, if any, its `grpc-timeout` and a deadline here.
pub async fn unary(
    service: &GrpcService,
    path: &str,
    mut metadata: HeaderMap,
    message: Bytes,
    timeout: Option<Duration>,
) -> Result<Bytes, tonic::Status> {
    let mut frame = BytesMut::with_capacity(5 + message.len());
    frame.put_u8(0);
    frame.put_u32(
        u32::try_from(message.len())
            .map_err(|_| tonic::Status::resource_exhausted("request message too large"))?,
    );
    frame.put(message);

    metadata.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    metadata.insert(http::header::TE, HeaderValue::from_static("trailers"));
    if let Some(t) = timeout {
        if let Ok(v) = HeaderValue::from_str(&format!("{}m", t.as_millis().max(1))) {
            metadata.insert("grpc-timeout", v);
        }
    }
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .version(http::Version::HTTP_2)
        .uri(format!("http://perdure{path}"))
        .body(Body::new(Full::new(frame.freeze())))
        .map_err(|e| tonic::Status::internal(format!("building the gRPC request: {e}")))?;
    *request.headers_mut() = metadata;

    let call = async {
        let response = match service.clone().oneshot(request).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        read_answer(response).await
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, call).await.unwrap_or_else(|_| {
            Err(tonic::Status::deadline_exceeded(
                "context deadline exceeded",
            ))
        }),
        None => call.await,
    }
}

async fn read_answer(response: http::Response<Body>) -> Result<Bytes, tonic::Status> {
    let (parts, body) = response.into_parts();
    // Trailers-only: the status is in the headers and there is no message.
    if let Some(status) = tonic::Status::from_header_map(&parts.headers) {
        if status.code() != tonic::Code::Ok {
            return Err(status);
        }
    }
    let collected = http_body_util::Limited::new(body, MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map_err(|e| tonic::Status::internal(format!("reading the gRPC answer: {e}")))?;
    let trailers = collected.trailers().cloned();
    let data = collected.to_bytes();
    if let Some(status) = trailers.as_ref().and_then(tonic::Status::from_header_map) {
        if status.code() != tonic::Code::Ok {
            return Err(status);
        }
    }
    first_frame(data)
}

fn first_frame(mut data: Bytes) -> Result<Bytes, tonic::Status> {
    if data.len() < 5 {
        return Err(tonic::Status::internal("gRPC answer without a message"));
    }
    let compressed = data.get_u8();
    let len = data.get_u32() as usize;
    if compressed != 0 {
        // We never offer grpc-accept-encoding, so the server must not compress.
        return Err(tonic::Status::internal("compressed gRPC answer"));
    }
    if data.len() < len {
        return Err(tonic::Status::internal("truncated gRPC answer"));
    }
    Ok(data.split_to(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_service() -> GrpcService {
        BoxCloneSyncService::new(tower::service_fn(|req: http::Request<Body>| async move {
            let path = req.uri().path().to_string();
            let timeout = req.headers().get("grpc-timeout").cloned();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let response = if path == "/s/Fail" {
                let mut r = http::Response::new(Body::empty());
                r.headers_mut()
                    .insert("grpc-status", HeaderValue::from_static("5"));
                r.headers_mut()
                    .insert("grpc-message", HeaderValue::from_static("not%20here"));
                r
            } else {
                // Echo the frame back, and the timeout as a trailer-free header for the test.
                let mut r = http::Response::new(Body::new(Full::new(body)));
                if let Some(t) = timeout {
                    r.headers_mut().insert("x-timeout", t);
                }
                r
            };
            Ok::<_, Infallible>(response)
        }))
    }

    #[tokio::test]
    async fn frames_go_through_and_statuses_come_back() {
        let svc = echo_service();
        let got = unary(
            &svc,
            "/s/Echo",
            HeaderMap::new(),
            Bytes::from_static(b"abc"),
            None,
        )
        .await
        .unwrap();
        assert_eq!(&got[..], b"abc");
        let err = unary(&svc, "/s/Fail", HeaderMap::new(), Bytes::new(), None)
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        assert_eq!(err.message(), "not here");
    }

    #[tokio::test]
    async fn a_slow_call_ends_at_its_deadline() {
        let slow = BoxCloneSyncService::new(tower::service_fn(|_req: http::Request<Body>| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<_, Infallible>(http::Response::new(Body::empty()))
        }));
        let err = unary(
            &slow,
            "/s/Slow",
            HeaderMap::new(),
            Bytes::new(),
            Some(Duration::from_millis(50)),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), tonic::Code::DeadlineExceeded);
    }
}
