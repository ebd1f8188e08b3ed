//! Error answers as Temporal's HTTP API writes them: the body is the `google.rpc.Status` in
//! Temporal's JSON (`{"code":5,"message":"…","details":[{"@type":"type.googleapis.com/…",…}]}`)
//! and the HTTP status is grpc-gateway's mapping of the gRPC code. Routing errors use the same
//! shape: an unknown `/api/v1` path is `{"code":5,"message":"Not Found"}` (404), a known path
//! with another method `{"code":12,"message":"Method Not Allowed"}` (501), as the dev server
//! answers.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use prost_reflect::{DynamicMessage, ReflectMessage};
use serde_json::{json, Value};
use tonic::Code;

use crate::descriptors::{message, RPC_STATUS};

/// grpc-gateway's `HTTPStatusFromCode`.
pub fn http_status(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
        Code::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
        Code::InvalidArgument => StatusCode::BAD_REQUEST,
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::NotFound => StatusCode::NOT_FOUND,
        Code::AlreadyExists => StatusCode::CONFLICT,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        Code::FailedPrecondition => StatusCode::BAD_REQUEST,
        Code::Aborted => StatusCode::CONFLICT,
        Code::OutOfRange => StatusCode::BAD_REQUEST,
        Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
        Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The JSON body of a gRPC status. `details` is `grpc-status-details-bin`: an encoded
/// `google.rpc.Status` whose Any details are rendered with their `@type`.
pub fn status_body(status: &tonic::Status, shorthand: bool) -> Value {
    if !status.details().is_empty() {
        if let Some(v) = detailed(status, shorthand) {
            return v;
        }
    }
    let mut v = json!({ "code": status.code() as i32 });
    if !status.message().is_empty() {
        v["message"] = Value::String(status.message().to_string());
    }
    v
}

fn detailed(status: &tonic::Status, shorthand: bool) -> Option<Value> {
    let desc = message(RPC_STATUS)?;
    let mut m = DynamicMessage::decode(desc, status.details()).ok()?;
    // The code and message of the status itself win over the copy in the details.
    let code = m.descriptor().get_field_by_name("code")?;
    m.set_field(&code, prost_reflect::Value::I32(status.code() as i32));
    let msg = m.descriptor().get_field_by_name("message")?;
    m.set_field(
        &msg,
        prost_reflect::Value::String(status.message().to_string()),
    );
    crate::json::to_value(&m, shorthand).ok()
}

/// An error answer: the status' JSON body with its HTTP status.
pub fn response(status: &tonic::Status, shorthand: bool, pretty: bool) -> Response {
    json_response(
        http_status(status.code()),
        &status_body(status, shorthand),
        message(RPC_STATUS).as_ref(),
        pretty,
    )
}

/// `body` rendered as a message of type `desc` (field order), with `code`.
pub fn json_response(
    code: StatusCode,
    body: &Value,
    desc: Option<&prost_reflect::MessageDescriptor>,
    pretty: bool,
) -> Response {
    let text = match desc {
        Some(d) => crate::gotext::render_message(body, d, pretty),
        None => body.to_string(),
    };
    let mut r = (code, text).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use perdure_api::temporal::errordetails::v1::WorkflowExecutionAlreadyStartedFailure;
    use prost::Message;

    /// Encodes a `google.rpc.Status` .
    fn encode_status(code: i32, message: &str, details: Vec<prost_types::Any>) -> Vec<u8> {
        #[derive(Clone, PartialEq, prost::Message)]
        struct RpcStatus {
            #[prost(int32, tag = "1")]
            code: i32,
            #[prost(string, tag = "2")]
            message: String,
            #[prost(message, repeated, tag = "3")]
            details: Vec<prost_types::Any>,
        }
        RpcStatus {
            code,
            message: message.to_string(),
            details,
        }
        .encode_to_vec()
    }

    #[test]
    fn details_are_rendered_with_their_type() {
        let failure = WorkflowExecutionAlreadyStartedFailure {
            start_request_id: "r1".into(),
            run_id: "run".into(),
            ..Default::default()
        };
        let any = prost_types::Any {
            type_url:
                "type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure"
                    .into(),
            value: failure.encode_to_vec(),
        };
        let msg = "Workflow execution is already running.";
        let status = tonic::Status::with_details(
            Code::AlreadyExists,
            msg,
            encode_status(6, msg, vec![any]).into(),
        );
        assert_eq!(
            status_body(&status, true),
            json!({
                "code": 6,
                "message": msg,
                "details": [{
                    "@type": "type.googleapis.com/temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure",
                    "startRequestId": "r1",
                    "runId": "run",
                }]
            })
        );
        assert_eq!(http_status(status.code()), StatusCode::CONFLICT);
    }

    #[test]
    fn plain_statuses_have_code_and_message_only() {
        let s = tonic::Status::not_found("workflow not found for ID: x");
        assert_eq!(
            status_body(&s, true),
            json!({"code": 5, "message": "workflow not found for ID: x"})
        );
        assert_eq!(
            http_status(Code::Unimplemented),
            StatusCode::NOT_IMPLEMENTED
        );
        assert_eq!(
            http_status(Code::FailedPrecondition),
            StatusCode::BAD_REQUEST
        );
    }
}
