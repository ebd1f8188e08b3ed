//! One HTTP API call: match the route, build the request message from the path variables,
//! query string and body, call the gRPC method in-process, and write the answer or the error
//! as Temporal's JSON. As in grpc-gateway, the answer's form follows the `Accept` header
//! (`application/json+pretty`, `application/json+no-payload-shorthand`, or both as
//! `application/json+pretty+no-payload-shorthand`), which `?pretty` and `?noPayloadShorthand`
//! set; the body's form follows `Content-Type` the same way, so those query parameters do not
//! turn the shorthand off on input (Temporal's dev server accepts it there too).
//!
//! Headers forwarded as gRPC metadata, as Temporal's `incomingHeaderMatcher` does:
//! `Authorization`, `Authorization-Extras`, `X-Forwarded-For`, `Client-Name`,
//! `Client-Version`, and `Grpc-Metadata-<name>` as `<name>`. Perdure checks no client
//! credentials on gRPC today; they are passed on anyway so an auth interceptor on the gRPC
//! stack sees HTTP callers the same way. `Grpc-Timeout` sets the call's deadline.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use prost::Message;
use prost_reflect::DynamicMessage;
use serde_json::{json, Value};

use crate::dispatch::{unary, GrpcService};
use crate::routes::{BodyTarget, Miss, RouteTable};
use crate::{errors, fields, json, MAX_REQUEST_BYTES};

pub(crate) struct Api {
    pub(crate) table: RouteTable,
    pub(crate) grpc: GrpcService,
}

/// Forwarded unchanged (lower-case: gRPC metadata keys).
const FORWARDED: &[&str] = &[
    "authorization",
    "authorization-extras",
    "x-forwarded-for",
    "client-name",
    "client-version",
];
const METADATA_PREFIX: &str = "grpc-metadata-";
/// What Temporal's frontend names HTTP callers that do not name themselves.
const CLIENT_NAME: &str = "temporal-server-http";

struct Options {
    pretty: bool,
    /// Payload shorthand in the answer.
    shorthand: bool,
    /// Payload shorthand accepted in the body.
    shorthand_in: bool,
}

/// Temporal's marshalers by media type: (pretty, payload shorthand). Anything else is the
/// default (compact, shorthand).
fn marshaler(media_type: &str) -> Option<(bool, bool)> {
    match media_type {
        "application/json+pretty" => Some((true, true)),
        "application/json+no-payload-shorthand" => Some((false, false)),
        "application/json+pretty+no-payload-shorthand" => Some((true, false)),
        _ => None,
    }
}

fn options(headers: &HeaderMap, query: &[(String, String)]) -> Options {
    let mut accept_suffix = String::new();
    if query.iter().any(|(k, _)| k == "pretty") {
        accept_suffix.push_str("+pretty");
    }
    if query.iter().any(|(k, _)| k == "noPayloadShorthand") {
        accept_suffix.push_str("+no-payload-shorthand");
    }
    let out = if accept_suffix.is_empty() {
        headers
            .get_all(http::header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(marshaler)
    } else {
        marshaler(&format!("application/json{accept_suffix}"))
    };
    let shorthand_in = headers
        .get_all(http::header::CONTENT_TYPE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .find_map(|t| marshaler(&t))
        .is_none_or(|(_, shorthand)| shorthand);
    let (pretty, shorthand) = out.unwrap_or((false, true));
    Options {
        pretty,
        shorthand,
        shorthand_in,
    }
}

pub(crate) async fn handle(State(api): State<Arc<Api>>, request: Request) -> Response {
    tracing::debug!(method = %request.method(), uri = %request.uri(), "HTTP API call");
    let query: Vec<(String, String)> = request
        .uri()
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let opts = options(request.headers(), &query);
    match call(&api, request, &query, &opts).await {
        Ok((v, desc)) => errors::json_response(StatusCode::OK, &v, Some(&desc), opts.pretty),
        Err(status) => errors::response(&status, opts.shorthand, opts.pretty),
    }
}

async fn call(
    api: &Api,
    request: Request,
    query: &[(String, String)],
    opts: &Options,
) -> Result<(Value, prost_reflect::MessageDescriptor), tonic::Status> {
    // grpc-gateway decodes the whole path before splitting it, so an encoded '/' (%2F) splits
    // too: a workflow id holding '/' cannot be addressed (the dev server answers 404 as well).
    let path = percent_encoding::percent_decode_str(request.uri().path())
        .decode_utf8_lossy()
        .into_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (route, bindings) = match api.table.find(request.method(), &segments) {
        Ok(found) => found,
        Err(Miss::NotFound) => return Err(tonic::Status::not_found("Not Found")),
        Err(Miss::MethodNotAllowed) => {
            return Err(tonic::Status::unimplemented("Method Not Allowed"))
        }
    };
    let metadata = metadata(request.headers());
    let timeout = request
        .headers()
        .get("grpc-timeout")
        .and_then(|v| v.to_str().ok())
        .and_then(grpc_timeout);

    let input = route.method.input();
    let mut message = match &route.body {
        BodyTarget::None => DynamicMessage::new(input.clone()),
        target => {
            let bytes = axum::body::to_bytes(request.into_body(), MAX_REQUEST_BYTES)
                .await
                .map_err(|_| tonic::Status::invalid_argument("http: request body too large"))?;
            let body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
                json!({})
            } else {
                serde_json::from_slice(&bytes)
                    .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?
            };
            // `body: "a.b"` puts the body at that field path.
            let body = match target {
                BodyTarget::Field(path) => path
                    .rsplit('.')
                    .fold(body, |inner, name| json!({ name: inner })),
                _ => body,
            };
            json::from_value(&input, body, opts.shorthand_in)
                .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?
        }
    };
    for b in &bindings {
        fields::set(&mut message, &b.field, &b.value)
            .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
    }
    if route.body != BodyTarget::Whole {
        for (key, value) in query {
            let path: Vec<String> = key.split('.').map(str::to_string).collect();
            let bound = route.template.bound_fields().any(|f| f == path.as_slice())
                || matches!(&route.body, BodyTarget::Field(f) if *f == path[0]);
            if bound {
                continue;
            }
            fields::set(&mut message, &path, value)
                .map_err(|e| tonic::Status::invalid_argument(e.to_string()))?;
        }
    }

    let answer = unary(
        &api.grpc,
        &route.grpc_path,
        metadata,
        message.encode_to_vec().into(),
        timeout,
    )
    .await?;
    let output = DynamicMessage::decode(route.method.output(), answer)
        .map_err(|e| tonic::Status::internal(format!("decoding the answer: {e}")))?;
    let v = json::to_value(&output, opts.shorthand)
        .map_err(|e| tonic::Status::internal(format!("encoding the answer: {e}")))?;
    Ok((v, route.method.output()))
}

fn metadata(headers: &HeaderMap) -> HeaderMap {
    let mut md = HeaderMap::new();
    for (name, value) in headers {
        let key = name.as_str();
        if FORWARDED.contains(&key) {
            md.append(name.clone(), value.clone());
        } else if let Some(stripped) = key.strip_prefix(METADATA_PREFIX) {
            if let Ok(n) = HeaderName::from_bytes(stripped.as_bytes()) {
                md.append(n, value.clone());
            }
        }
    }
    if !md.contains_key("client-name") {
        md.insert("client-name", HeaderValue::from_static(CLIENT_NAME));
    }
    md
}

/// gRPC's timeout text (`<digits><unit>`, unit one of H M S m u n), as grpc-gateway reads
/// the `Grpc-Timeout` header.
fn grpc_timeout(raw: &str) -> Option<Duration> {
    let (digits, unit) = raw.split_at(raw.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_form_from_accept_or_query_body_form_from_content_type() {
        let q = |params: &[&str]| -> Vec<(String, String)> {
            params
                .iter()
                .map(|p| (p.to_string(), String::new()))
                .collect()
        };
        let mut h = HeaderMap::new();
        let o = options(&h, &q(&[]));
        assert!(!o.pretty && o.shorthand && o.shorthand_in);
        let o = options(&h, &q(&["pretty", "noPayloadShorthand"]));
        assert!(o.pretty && !o.shorthand && o.shorthand_in);
        h.insert(
            "accept",
            HeaderValue::from_static("application/json+no-payload-shorthand"),
        );
        let o = options(&h, &q(&[]));
        assert!(!o.pretty && !o.shorthand);
        // The query parameters replace the Accept header.
        let o = options(&h, &q(&["pretty"]));
        assert!(o.pretty && o.shorthand);
        h.insert(
            "content-type",
            HeaderValue::from_static("application/json+no-payload-shorthand; charset=utf-8"),
        );
        assert!(!options(&h, &q(&[])).shorthand_in);
    }

    #[test]
    fn forwarded_headers_and_timeouts() {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer x"));
        h.insert("grpc-metadata-tenant", HeaderValue::from_static("t1"));
        h.insert("cookie", HeaderValue::from_static("secret"));
        let md = metadata(&h);
        assert_eq!(md["authorization"], "Bearer x");
        assert_eq!(md["tenant"], "t1");
        assert_eq!(md["client-name"], CLIENT_NAME);
        assert!(md.get("cookie").is_none());
        assert_eq!(grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(grpc_timeout("5x"), None);
        assert_eq!(grpc_timeout(""), None);
    }
}
