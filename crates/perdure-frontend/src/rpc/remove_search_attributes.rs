//! OperatorService.RemoveSearchAttributes: unregisters custom search attributes of a namespace
//! (an unknown name is ignored, a built-in one refused: `search_attributes::rules`). Rows keep
//! the values they had; queries can no longer name them. Written like AddSearchAttributes.

use perdure_storage::GroupId;
use temporalio_protos::temporal::api::operatorservice::v1::{
    RemoveSearchAttributesRequest, RemoveSearchAttributesResponse,
};
use tonic::{Request, Status};

use crate::errors;
use crate::search_attributes::rules;
use crate::server::Operator;

impl Operator {
    pub(crate) async fn remove_search_attributes(
        &self,
        r: Request<RemoveSearchAttributesRequest>,
    ) -> Result<RemoveSearchAttributesResponse, Status> {
        let req = r.get_ref();
        rules::check_remove_request(&req.search_attributes)?;
        if req.namespace.is_empty() {
            return Err(errors::invalid("Namespace is not set on request."));
        }
        let namespaces = &self.frontend.namespaces;
        let ns = namespaces.get(&req.namespace)?;
        let names = req.search_attributes.clone();
        if let Some((_, addr)) = self.frontend.remote_owner(Some(GroupId::META)).await? {
            self.frontend
                .forward_operator(&addr, r, |mut c, r| async move {
                    c.remove_search_attributes(r).await
                })
                .await?;
            namespaces
                .wait_applied(ns.id(), |c| names.iter().all(|n| !c.contains_key(n)))
                .await;
            return Ok(RemoveSearchAttributesResponse::default());
        }
        namespaces
            .update_search_attributes(ns.id(), |current| rules::plan_remove(current, &names))
            .await?;
        Ok(RemoveSearchAttributesResponse::default())
    }
}
