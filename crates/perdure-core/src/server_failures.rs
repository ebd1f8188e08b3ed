//! Failures the server itself makes up (timeouts), marked the way Temporal marks them so SDKs
//! and users can tell them from failures a worker reported. Only constructors: deciding when
//! something failed belongs to the operations.

use temporalio_protos::temporal::api::{
    enums::v1::TimeoutType,
    failure::v1::{failure::FailureInfo, Failure, TimeoutFailureInfo},
};

/// `Failure.source` of every timeout failure the server creates (Temporal's failureSourceServer).
pub const SERVER_FAILURE_SOURCE: &str = "Server";

/// A TimeoutFailure as Temporal's NewTimeoutFailure builds it. Temporal's server failures
/// (ServerFailureInfo, e.g. a rejected workflow task) carry no source, so they do not use this.
pub(crate) fn timeout_failure(message: impl Into<String>, timeout_type: TimeoutType) -> Failure {
    Failure {
        message: message.into(),
        source: SERVER_FAILURE_SOURCE.into(),
        failure_info: Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
            timeout_type: timeout_type as i32,
            last_heartbeat_details: None,
        })),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_failures_come_from_the_server() {
        let f = timeout_failure("activity Heartbeat timeout", TimeoutType::Heartbeat);
        assert_eq!(f.source, "Server");
        assert_eq!(f.message, "activity Heartbeat timeout");
        assert_eq!(
            f.failure_info,
            Some(FailureInfo::TimeoutFailureInfo(TimeoutFailureInfo {
                timeout_type: TimeoutType::Heartbeat as i32,
                last_heartbeat_details: None,
            }))
        );
        assert!(f.cause.is_none());
    }
}
