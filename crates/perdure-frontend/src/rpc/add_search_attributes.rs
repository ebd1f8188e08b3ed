//! OperatorService.AddSearchAttributes: registers custom search attributes for a namespace, as
//! Temporal's SQL visibility store does (`search_attributes::rules`), in the meta group. Any
//! node answers: the write goes to the meta leader (forwarded like RegisterNamespace), and a
//! node that forwarded it returns only once its own replica has applied it.

use perdure_storage::GroupId;
use temporalio_protos::temporal::api::operatorservice::v1::{
    AddSearchAttributesRequest, AddSearchAttributesResponse,
};
use tonic::{Request, Status};

use crate::errors;
use crate::search_attributes::rules;
use crate::server::Operator;

impl Operator {
    pub(crate) async fn add_search_attributes(
        &self,
        r: Request<AddSearchAttributesRequest>,
    ) -> Result<AddSearchAttributesResponse, Status> {
        let req = r.get_ref();
        rules::check_add_request(&req.search_attributes)?;
        if req.namespace.is_empty() {
            return Err(errors::invalid("Namespace is not set on request."));
        }
        let namespaces = &self.frontend.namespaces;
        let ns = namespaces.get(&req.namespace)?;
        let names: Vec<String> = req.search_attributes.keys().cloned().collect();
        if let Some((_, addr)) = self.frontend.remote_owner(Some(GroupId::META)).await? {
            self.frontend
                .forward_operator(&addr, r, |mut c, r| async move {
                    c.add_search_attributes(r).await
                })
                .await?;
            namespaces
                .wait_applied(ns.id(), |c| names.iter().all(|n| c.contains_key(n)))
                .await;
            return Ok(AddSearchAttributesResponse::default());
        }
        let wanted = req.search_attributes.clone();
        namespaces
            .update_search_attributes(ns.id(), |current| rules::plan_add(current, &wanted))
            .await?;
        Ok(AddSearchAttributesResponse::default())
    }
}
