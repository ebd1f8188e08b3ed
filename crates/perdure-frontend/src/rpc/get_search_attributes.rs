//! GetSearchAttributes: the attributes queries may name, with their types — today the system
//! and predefined ones (custom attributes cannot be registered yet).

use std::collections::HashMap;

use perdure_visibility::{IndexedValueType, SearchAttributes};
use temporalio_protos::temporal::api::workflowservice::v1::{
    GetSearchAttributesRequest, GetSearchAttributesResponse,
};
use tonic::Status;

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
        Ok(GetSearchAttributesResponse {
            keys: builtin_attributes(),
        })
    }
}
