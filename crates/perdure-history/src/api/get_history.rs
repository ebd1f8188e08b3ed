//! GetWorkflowExecutionHistory: paging, long polls (`wait_new_event`) and the CLOSE_EVENT filter.
//!
//! Page tokens are our own small message naming the run and the next event id, so paging
//! continues on the same run even if the workflow id's current run changes meanwhile. A long
//! poll that reaches its deadline answers with no events and a token to continue from, which is
//! what the SDKs loop on while they wait for a result.

use std::time::Duration;

use prost::Message;
use temporalio_protos::temporal::api::enums::v1::HistoryEventFilterType;
use temporalio_protos::temporal::api::history::v1::History;
use temporalio_protos::temporal::api::workflowservice::v1::{
    GetWorkflowExecutionHistoryRequest, GetWorkflowExecutionHistoryResponse,
};
use tokio::time::Instant;

use crate::api::run_not_found;
use crate::cache::ExecKey;
use crate::errors::HistoryError;
use crate::watchers::Progress;
use crate::{tables, HistoryService};

/// Page size when the request leaves it to us (Temporal's default is similar).
const DEFAULT_PAGE_SIZE: usize = 1000;
/// Hard cap on one page whatever the request asks.
const MAX_PAGE_SIZE: usize = 10_000;

#[derive(Clone, PartialEq, Message)]
pub struct HistoryPageToken {
    #[prost(string, tag = "1")]
    pub run_id: String,
    #[prost(int64, tag = "2")]
    pub next_event_id: i64,
}

impl HistoryService {
    /// `deadline` bounds a long poll; it must leave the client time to receive the answer.
    pub async fn get_history(
        &self,
        namespace_id: &str,
        request: &GetWorkflowExecutionHistoryRequest,
        deadline: Instant,
    ) -> Result<GetWorkflowExecutionHistoryResponse, HistoryError> {
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
            .map(|t| t.run_id.clone())
            .unwrap_or(execution.run_id.clone());
        let key = self
            .resolve_run(namespace_id, &execution.workflow_id, &run_id)
            .await?;
        let shard = self.shard_for(namespace_id, &execution.workflow_id);
        let from = token.as_ref().map_or(1, |t| t.next_event_id.max(1));
        let close_only =
            request.history_event_filter_type == HistoryEventFilterType::CloseEvent as i32;
        let page_size = match request.maximum_page_size {
            n if n <= 0 => DEFAULT_PAGE_SIZE,
            n => (n as usize).min(MAX_PAGE_SIZE),
        };

        let mut rx = None;
        loop {
            let state = shard
                .read_state(&key)
                .await?
                .ok_or_else(|| HistoryError::from(run_not_found(&key)))?;
            let closed = !state.is_running();
            let persisted_end = state.next_event_id;
            let ready = if close_only {
                closed
            } else {
                from < persisted_end || closed
            };
            if ready || !request.wait_new_event || Instant::now() >= deadline {
                return self.page(
                    &key,
                    &state,
                    from,
                    page_size,
                    close_only,
                    request.wait_new_event,
                );
            }
            // Subscribe, then re-check before the first wait: a write that committed between
            // the read above and the subscription published to nobody.
            let Some(rx) = rx.as_mut() else {
                let progress = Progress {
                    next_event_id: persisted_end,
                    closed,
                };
                rx = Some(shard.watchers.subscribe(&key, progress));
                continue;
            };
            let wait = deadline.saturating_duration_since(Instant::now());
            // Re-read state at least every few seconds: a leader change drops the watchers.
            let _ = tokio::time::timeout(wait.min(Duration::from_secs(5)), rx.changed()).await;
        }
    }

    fn page(
        &self,
        key: &ExecKey,
        state: &perdure_core::MutableState,
        from: i64,
        page_size: usize,
        close_only: bool,
        waiting: bool,
    ) -> Result<GetWorkflowExecutionHistoryResponse, HistoryError> {
        let shard = self.shard_for(&key.namespace_id, &key.workflow_id);
        let running = state.is_running();
        let token_at = |next_event_id: i64| {
            HistoryPageToken {
                run_id: key.run_id.clone(),
                next_event_id,
            }
            .encode_to_vec()
        };
        if close_only {
            if running {
                // Nothing yet: the caller polls again with this token.
                return Ok(GetWorkflowExecutionHistoryResponse {
                    history: Some(History { events: Vec::new() }),
                    next_page_token: token_at(from),
                    ..Default::default()
                });
            }
            let close = state.completion_event_id;
            let events = tables::read_events(&shard.store, shard.id, key, close, close + 1, 1)?;
            return Ok(GetWorkflowExecutionHistoryResponse {
                history: Some(History { events }),
                ..Default::default()
            });
        }
        let end = state.next_event_id;
        let mut events = tables::read_events(&shard.store, shard.id, key, from, end, page_size)?;
        let next = from + events.len() as i64;
        let next_page_token = if next < end || (running && waiting) {
            token_at(next)
        } else {
            Vec::new()
        };
        if next_page_token.is_empty() && running {
            // The last page carries an in-flight transient workflow task (attempt >= 2), as the
            // SDKs expect when they page through history for a task.
            events.extend(state.pending_transient_events());
        }
        Ok(GetWorkflowExecutionHistoryResponse {
            history: Some(History { events }),
            next_page_token,
            ..Default::default()
        })
    }
}
