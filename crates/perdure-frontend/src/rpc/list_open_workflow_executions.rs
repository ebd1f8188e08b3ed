//! ListOpenWorkflowExecutions (legacy filters): running runs started within a time window, of
//! one workflow id or type, newest start first. Answered as the List its filter means
//! (`visibility::LegacyFilter`), so its page tokens are List's.

use perdure_visibility::UnixNanos;
use prost_wkt_types::Timestamp;
use temporalio_protos::temporal::api::filter::v1::StartTimeFilter;
use temporalio_protos::temporal::api::workflowservice::v1::{
    list_open_workflow_executions_request::Filters, ListOpenWorkflowExecutionsRequest,
    ListOpenWorkflowExecutionsResponse,
};
use tonic::Status;

use crate::errors;
use crate::server::Frontend;
use crate::visibility::LegacyFilter;

fn nanos(t: Option<&Timestamp>) -> Option<UnixNanos> {
    t.map(|t| {
        UnixNanos(
            t.seconds
                .saturating_mul(1_000_000_000)
                .saturating_add(t.nanos as i64),
        )
    })
}

/// The window of a StartTimeFilter (an end left unset is unbounded), refused as Temporal
/// refuses it when its earliest time is after its latest.
pub(crate) fn time_window(
    f: Option<&StartTimeFilter>,
) -> Result<(Option<UnixNanos>, Option<UnixNanos>), Status> {
    let earliest = nanos(f.and_then(|f| f.earliest_time.as_ref()));
    let latest = nanos(f.and_then(|f| f.latest_time.as_ref()));
    if let (Some(e), Some(l)) = (earliest, latest) {
        if e > l {
            return Err(errors::invalid(
                "EarliestTime in StartTimeFilter should not be larger than LatestTime.",
            ));
        }
    }
    Ok((earliest, latest))
}

impl Frontend {
    pub(crate) async fn list_open_workflow_executions(
        &self,
        req: ListOpenWorkflowExecutionsRequest,
    ) -> Result<ListOpenWorkflowExecutionsResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        let (earliest, latest) = time_window(req.start_time_filter.as_ref())?;
        let filter = LegacyFilter {
            closed: false,
            earliest,
            latest,
            workflow_id: match &req.filters {
                Some(Filters::ExecutionFilter(f)) => Some(&f.workflow_id),
                _ => None,
            },
            workflow_type: match &req.filters {
                Some(Filters::TypeFilter(f)) => Some(&f.name),
                _ => None,
            },
            status: None,
        };
        let text = filter.to_query();
        let (executions, next_page_token) = self
            .list_by_filter(ns.id(), &text, &req.next_page_token, req.maximum_page_size)
            .await?;
        Ok(ListOpenWorkflowExecutionsResponse {
            executions,
            next_page_token,
        })
    }
}
