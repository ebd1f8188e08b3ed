//! `/api/v1/settings`: what the UI reads before anything else. Temporal's ui-server builds it
//! from its config (field names are Go's, capitalised); Perdure has no auth and no codec server.
//! Write actions are on where Perdure serves the call behind them (reset included:
//! ResetWorkflowExecution); batch actions too (StartBatchOperation: terminate, cancel and
//! signal jobs; a batch reset the UI may offer answers Unimplemented).

use axum::Json;
use serde_json::{json, Value};

/// The `@temporalio/ui` version the app in `ui/` is built with (its package.json pins it).
pub const UI_VERSION: &str = "2.38.0";

pub(crate) async fn settings() -> Json<Value> {
    Json(body())
}

pub(crate) fn body() -> Value {
    json!({
        "Auth": { "Enabled": false, "Options": null },
        "BannerText": "",
        "DefaultNamespace": "default",
        "ShowTemporalSystemNamespace": false,
        "FeedbackURL": "",
        "NotifyOnNewVersion": false,
        "Codec": {
            "Endpoint": "",
            "PassAccessToken": false,
            "IncludeCredentials": false,
            "DefaultErrorMessage": "",
            "DefaultErrorLink": ""
        },
        "Version": UI_VERSION,
        "DisableWriteActions": false,
        "WorkflowTerminateDisabled": false,
        "WorkflowCancelDisabled": false,
        "WorkflowSignalDisabled": false,
        "WorkflowUpdateDisabled": false,
        "WorkflowResetDisabled": false,
        "BatchActionsDisabled": false,
        "StartWorkflowDisabled": false,
        "HideWorkflowQueryErrors": false,
        "RefreshWorkflowCountsDisabled": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_matches_the_pinned_library() {
        let pkg = include_str!("../../../ui/package.json");
        let pinned = format!("\"@temporalio/ui\": \"{UI_VERSION}\"");
        assert!(pkg.contains(&pinned), "ui/package.json must pin {pinned}");
    }

    #[test]
    fn write_actions_on_and_default_namespace() {
        let b = body();
        assert_eq!(b["DefaultNamespace"], "default");
        assert_eq!(b["DisableWriteActions"], false);
        assert_eq!(b["WorkflowTerminateDisabled"], false);
        assert_eq!(b["WorkflowResetDisabled"], false);
        assert_eq!(b["BatchActionsDisabled"], false);
        assert_eq!(b["Auth"]["Enabled"], false);
        assert_eq!(b["Codec"]["Endpoint"], "");
    }
}
