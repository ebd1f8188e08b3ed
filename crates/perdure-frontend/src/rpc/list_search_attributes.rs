//! OperatorService.ListSearchAttributes: a namespace's custom attributes (as this node's
//! replica of the meta group has them) and the system and predefined ones, as Temporal's SQL
//! store lists them.

use std::collections::HashMap;

use temporalio_protos::temporal::api::operatorservice::v1::{
    ListSearchAttributesRequest, ListSearchAttributesResponse,
};
use tonic::Status;

use crate::errors;
use crate::server::Operator;

impl Operator {
    pub(crate) fn list_search_attributes(
        &self,
        req: ListSearchAttributesRequest,
    ) -> Result<ListSearchAttributesResponse, Status> {
        if req.namespace.is_empty() {
            return Err(errors::invalid("Namespace is not set on request."));
        }
        let namespaces = &self.frontend.namespaces;
        let ns = namespaces.get(&req.namespace)?;
        let custom = namespaces
            .search_attributes(ns.id())?
            .custom()
            .map(|(n, t)| (n.to_string(), t.to_proto()))
            .collect();
        Ok(ListSearchAttributesResponse {
            custom_attributes: custom,
            system_attributes: super::builtin_attributes(),
            storage_schema: HashMap::new(),
        })
    }
}
