//! OperatorService.ListSearchAttributes: a namespace's custom attributes (none until they can
//! be registered) and the system and predefined ones, as Temporal's SQL store lists them.

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
        self.namespaces.get(&req.namespace)?;
        Ok(ListSearchAttributesResponse {
            custom_attributes: HashMap::new(),
            system_attributes: super::builtin_attributes(),
            storage_schema: HashMap::new(),
        })
    }
}
