//! UpdateActivityOptions and UpdateActivityExecutionOptions (`temporal activity
//! update-options`): validation in Temporal's order and wording, then the hand-off to history,
//! which answers with the activity's new options. Without a workflow id the execution form
//! targets a standalone activity: Unimplemented, as in `pause_activity_execution`.

use perdure_core::{ActivitySelector, UpdateOptionsRequest};
use temporalio_protos::temporal::api::workflowservice::v1::{
    update_activity_options_request, UpdateActivityExecutionOptionsRequest,
    UpdateActivityExecutionOptionsResponse, UpdateActivityOptionsRequest,
    UpdateActivityOptionsResponse,
};
use tonic::Status;

use super::pause_activity::{operator_execution, ERR_ACTIVITY_NOT_SET};
use super::pause_activity_execution::{execution, ids, STANDALONE_DISABLED};
use crate::server::Frontend;
use crate::{errors, validate};

impl Frontend {
    pub(crate) async fn update_activity_options(
        &self,
        req: UpdateActivityOptionsRequest,
    ) -> Result<UpdateActivityOptionsResponse, Status> {
        let execution = operator_execution(req.execution.as_ref())?;
        let selector = match req.activity {
            Some(update_activity_options_request::Activity::Id(id)) => ActivitySelector::Id(id),
            Some(update_activity_options_request::Activity::Type(t)) => ActivitySelector::Type(t),
            Some(update_activity_options_request::Activity::MatchAll(_)) => ActivitySelector::All,
            None => return Err(errors::invalid(ERR_ACTIVITY_NOT_SET)),
        };
        validate::identity(&req.identity)?;
        let ns = self.namespaces.get(&req.namespace)?;
        let request = UpdateOptionsRequest {
            options: req.activity_options,
            paths: req.update_mask.map(|m| m.paths),
            restore_original: req.restore_original,
        };
        let activity_options = self
            .history
            .update_activity_options(ns.id(), &execution, &selector, &request)
            .await
            .map_err(errors::history)?;
        Ok(UpdateActivityOptionsResponse {
            activity_options: Some(activity_options),
        })
    }

    pub(crate) async fn update_activity_execution_options(
        &self,
        mut req: UpdateActivityExecutionOptionsRequest,
    ) -> Result<UpdateActivityExecutionOptionsResponse, Status> {
        if req.workflow_id.is_empty() {
            return Err(Status::unimplemented(STANDALONE_DISABLED));
        }
        ids(
            &mut req.request_id,
            &req.activity_id,
            &req.identity,
            &req.run_id,
        )?;
        let paths = req.update_mask.as_ref().map(|m| m.paths.clone());
        let path_count = paths.as_ref().map_or(0, Vec::len);
        if path_count > 0 && req.restore_original {
            return Err(errors::invalid(
                "Both UpdateMask and RestoreOriginal are provided",
            ));
        }
        if !req.restore_original {
            if req.activity_options.is_none() {
                return Err(errors::invalid("ActivityOptions are not provided"));
            }
            if paths.is_none() {
                return Err(errors::invalid("UpdateMask is not provided"));
            }
            if path_count == 0 {
                return Err(errors::invalid("UpdateMask must specify at least one path"));
            }
        }
        let ns = self.namespaces.get(&req.namespace)?;
        let execution = execution(&req.workflow_id, &req.run_id)?;
        let request = UpdateOptionsRequest {
            options: req.activity_options,
            paths,
            restore_original: req.restore_original,
        };
        let activity_options = self
            .history
            .update_activity_options(
                ns.id(),
                &execution,
                &ActivitySelector::Id(req.activity_id),
                &request,
            )
            .await
            .map_err(errors::history)?;
        Ok(UpdateActivityExecutionOptionsResponse {
            activity_options: Some(activity_options),
        })
    }
}
