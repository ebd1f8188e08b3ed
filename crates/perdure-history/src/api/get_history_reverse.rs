//! GetWorkflowExecutionHistoryReverse: a run's persisted history from its newest event back to
//! the first, a page at a time (the UI and `temporal workflow show --reverse` use it). The page
//! token names the run and the event id the next page ends before, so paging stays on the run
//! the first page found even if the workflow id's current run changes. Never writes.

use prost::Message;
use temporalio_protos::temporal::api::history::v1::History;
use temporalio_protos::temporal::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryReverseRequest, GetWorkflowExecutionHistoryReverseResponse,
};

use crate::api::{run_not_found, HistoryPageToken};
use crate::errors::HistoryError;
use crate::{tables, HistoryService};

/// Events per page when the request leaves it to us, and at most (Temporal's
/// GetHistoryMaxPageSize caps reverse pages the same way).
const MAX_REVERSE_PAGE: usize = 256;

impl HistoryService {
    pub async fn get_history_reverse(
        &self,
        namespace_id: &str,
        request: &GetWorkflowExecutionHistoryReverseRequest,
    ) -> Result<GetWorkflowExecutionHistoryReverseResponse, HistoryError> {
        let execution = request.execution.clone().unwrap_or_default();
        let token = if request.next_page_token.is_empty() {
            None
        } else {
            Some(
                HistoryPageToken::decode(request.next_page_token.as_slice())
                    .map_err(|_| HistoryError::BadPageToken)?,
            )
        };
        let run_id = token
            .as_ref()
            .map_or(execution.run_id.as_str(), |t| t.run_id.as_str());
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, run_id)
            .await?;
        let shard = self.shard_for(namespace_id, &execution.workflow_id);
        let state = shard
            .read_state(&key)
            .await?
            .ok_or_else(|| HistoryError::from(run_not_found(&key)))?;
        let page_size = match request.maximum_page_size {
            n if n <= 0 => MAX_REVERSE_PAGE,
            n => (n as usize).min(MAX_REVERSE_PAGE),
        };
        // This page ends before `end` and starts `page_size` events earlier, at 1 at most.
        let end = token.map_or(state.next_event_id, |t| {
            t.next_event_id.min(state.next_event_id)
        });
        let start = (end - page_size as i64).max(1);
        let mut events = tables::read_events(&shard.store, shard.id, &key, start, end, page_size)?;
        events.reverse();
        let next_page_token = if start > 1 {
            HistoryPageToken {
                run_id: key.run_id.clone(),
                next_event_id: start,
            }
            .encode_to_vec()
        } else {
            Vec::new()
        };
        Ok(GetWorkflowExecutionHistoryReverseResponse {
            history: Some(History { events }),
            next_page_token,
        })
    }
}
