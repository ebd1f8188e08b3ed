//! Request limits and required fields, checked before anything reaches history. The limits are
//! Temporal's defaults; the messages are the ones its frontend uses, because SDKs and the CLI
//! show them verbatim.

use prost::Message;
use temporalio_protos::temporal::api::common::v1::Payloads;
use temporalio_protos::temporal::api::taskqueue::v1::TaskQueue;
use tonic::Status;

use crate::errors::invalid;

/// Longest workflow id, workflow type, task queue, activity id, request id…
pub const MAX_ID_LEN: usize = 1000;
/// Largest single payload set (input, result, details).
pub const MAX_BLOB_BYTES: usize = 2 * 1024 * 1024;
/// Longest worker identity string.
pub const MAX_IDENTITY_LEN: usize = 1000;

pub fn workflow_id(id: &str) -> Result<(), Status> {
    if id.is_empty() {
        return Err(invalid("WorkflowId is not set on request."));
    }
    if id.len() > MAX_ID_LEN {
        return Err(invalid("WorkflowId length exceeds limit."));
    }
    Ok(())
}

pub fn workflow_type(name: &str) -> Result<(), Status> {
    if name.is_empty() {
        return Err(invalid("WorkflowType is not set on request."));
    }
    if name.len() > MAX_ID_LEN {
        return Err(invalid("WorkflowType length exceeds limit."));
    }
    Ok(())
}

pub fn task_queue(tq: Option<&TaskQueue>) -> Result<&str, Status> {
    let name = tq.map_or("", |t| t.name.as_str());
    if name.is_empty() {
        return Err(invalid("TaskQueue is not set on request."));
    }
    if name.len() > MAX_ID_LEN {
        return Err(invalid("TaskQueue length exceeds limit."));
    }
    Ok(name)
}

pub fn request_id(id: &str) -> Result<(), Status> {
    if id.len() > MAX_ID_LEN {
        return Err(invalid("RequestId length exceeds limit."));
    }
    Ok(())
}

pub fn identity(id: &str) -> Result<(), Status> {
    if id.len() > MAX_IDENTITY_LEN {
        return Err(invalid("Identity length exceeds limit."));
    }
    Ok(())
}

pub fn blob(p: Option<&Payloads>) -> Result<(), Status> {
    if p.map_or(0, |p| p.encoded_len()) > MAX_BLOB_BYTES {
        return Err(invalid("Blob data size exceeds limit."));
    }
    Ok(())
}

pub fn duration(d: Option<&prost_wkt_types::Duration>, what: &str) -> Result<(), Status> {
    if let Some(d) = d {
        if d.seconds < 0 || d.nanos < 0 {
            return Err(invalid(format!("An invalid {what} is set on request.")));
        }
    }
    Ok(())
}

pub fn task_token(token: &[u8]) -> Result<perdure_core::TaskToken, Status> {
    if token.is_empty() {
        return Err(invalid("Task token not set on request."));
    }
    perdure_core::TaskToken::decode(token).map_err(|_| invalid("Error deserializing task token."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_id_limits() {
        assert!(workflow_id("").is_err());
        assert!(workflow_id(&"x".repeat(MAX_ID_LEN)).is_ok());
        let e = workflow_id(&"x".repeat(MAX_ID_LEN + 1)).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn garbage_token_is_invalid_argument() {
        let e = task_token(b"\xff\xff\xff").unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert_eq!(task_token(b"").unwrap_err().code(), tonic::Code::InvalidArgument);
    }
}
