//! CountWorkflowExecutions: how many of a namespace's runs match a list filter, summed over
//! every shard; with `GROUP BY ExecutionStatus`, one group per status that has runs (in status
//! order), its value a Keyword payload as Temporal encodes it.

use std::collections::HashMap;

use perdure_visibility::ExecutionStatus;
use temporalio_protos::temporal::api::common::v1::Payload;
use temporalio_protos::temporal::api::workflowservice::v1::{
    count_workflow_executions_response::AggregationGroup, CountWorkflowExecutionsRequest,
    CountWorkflowExecutionsResponse,
};
use tonic::Status;

use crate::server::Frontend;
use crate::visibility;

/// A group value as Temporal returns it: a JSON string with the Keyword type in its metadata.
pub(crate) fn keyword_payload(value: &str) -> Payload {
    let mut metadata = HashMap::new();
    metadata.insert("encoding".to_string(), b"json/plain".to_vec());
    metadata.insert("type".to_string(), b"Keyword".to_vec());
    Payload {
        metadata,
        data: serde_json::to_vec(value).unwrap_or_default(),
        ..Default::default()
    }
}

impl Frontend {
    pub(crate) async fn count_workflow_executions(
        &self,
        req: CountWorkflowExecutionsRequest,
    ) -> Result<CountWorkflowExecutionsResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        let attrs = self.namespaces.search_attributes(ns.id())?;
        let query = visibility::parse_query(&req.query, &attrs)?;
        let counted = self
            .count_visibility(ns.id(), &req.query, &query, &attrs)
            .await?;
        let groups = if query.group_by.is_empty() {
            Vec::new()
        } else {
            let mut groups: Vec<(String, i64)> = counted.groups.into_iter().collect();
            // Temporal's SQL store returns the groups in status order (Running first).
            groups.sort_by_key(|(value, _)| {
                (
                    ExecutionStatus::from_name(value).map_or(i32::MAX, |s| s.number()),
                    value.clone(),
                )
            });
            groups
                .into_iter()
                .map(|(value, count)| AggregationGroup {
                    group_values: vec![keyword_payload(&value)],
                    count,
                })
                .collect()
        };
        Ok(CountWorkflowExecutionsResponse {
            count: counted.count,
            groups,
        })
    }
}
