//! GetSearchAttributes: the cluster's attributes with their types, as Temporal's SQL store
//! answers it: the system and predefined ones and the preallocated custom columns
//! (`Keyword01`, …). A namespace's own names are listed by OperatorService.ListSearchAttributes
//! (this request names no namespace).

use std::collections::HashMap;

use perdure_visibility::{IndexedValueType, SearchAttributes};
use temporalio_protos::temporal::api::workflowservice::v1::{
    GetSearchAttributesRequest, GetSearchAttributesResponse,
};
use tonic::Status;

use crate::search_attributes::rules;
use crate::server::Frontend;

/// The system and predefined attributes, by name.
pub(crate) fn builtin_attributes() -> HashMap<String, i32> {
    SearchAttributes::system()
        .chain(SearchAttributes::predefined())
        .map(|(n, t): (&str, IndexedValueType)| (n.to_string(), t.to_proto()))
        .collect()
}

impl Frontend {
    pub(crate) fn get_search_attributes(
        &self,
        _req: GetSearchAttributesRequest,
    ) -> Result<GetSearchAttributesResponse, Status> {
        let mut keys = builtin_attributes();
        keys.extend(rules::preallocated_columns().map(|(n, t)| (n, t.to_proto())));
        Ok(GetSearchAttributesResponse { keys })
    }
}
