//! ListSchedules: every shard's leader lists the namespace's schedules it holds (this node's
//! history, or `Internal.Visibility` with `schedules` set); the pages are merged in schedule id
//! order, and the page token is the last id of the page.

use perdure_api::internal::internal_client::InternalClient;
use perdure_api::internal::VisibilityRequest;
use perdure_storage::GroupId;
use prost::Message;
use temporalio_protos::temporal::api::common::v1::{Payload, WorkflowExecution, WorkflowType};
use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use temporalio_protos::temporal::api::schedule::v1::ScheduleListEntry;
use temporalio_protos::temporal::api::workflow::v1::WorkflowExecutionInfo;
use temporalio_protos::temporal::api::workflowservice::v1::{
    ListSchedulesRequest, ListSchedulesResponse,
};
use tonic::Status;

use crate::errors;
use crate::routing::Owner;
use crate::server::Frontend;

/// Page size when the request names none (Temporal's visibilityMaxPageSize).
const DEFAULT_PAGE_SIZE: usize = 1000;

/// Temporal's ValidateVisibilityQuery for schedules: a query may name the schedule's own search
/// attributes, TemporalSchedulePaused and ScheduleId, no other system or Temporal attribute.
/// (The query already parsed; this scans its identifiers outside string literals.)
fn refuse_reserved(query: &str) -> Result<(), Status> {
    let names = perdure_visibility::SearchAttributes::new();
    let mut chars = query.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' || c == '"' || c == '`' {
            let mut escaped = false;
            for (_, d) in chars.by_ref() {
                if escaped {
                    escaped = false;
                } else if d == '\\' {
                    escaped = true;
                } else if d == c {
                    break;
                }
            }
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == '_') {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = chars.peek() {
            if d.is_ascii_alphanumeric() || d == '_' {
                end = j + d.len_utf8();
                chars.next();
            } else {
                break;
            }
        }
        let word = &query[i..end];
        if word == "ScheduleId" {
            continue;
        }
        let reserved = if perdure_visibility::SearchAttributes::system().any(|(n, _)| n == word) {
            Some(word.to_string())
        } else {
            match names.resolve(word) {
                Ok(a) => match a.field {
                    perdure_visibility::Field::SearchAttribute(n)
                        if n != "TemporalSchedulePaused"
                            && perdure_visibility::SearchAttributes::predefined()
                                .any(|(p, _)| p == n) =>
                    {
                        Some(n)
                    }
                    perdure_visibility::Field::System(_) => Some(word.to_string()),
                    _ => None,
                },
                Err(_) => None,
            }
        };
        if let Some(field) = reserved {
            return Err(errors::invalid(format!(
                "invalid query filter for schedules: cannot filter on {field:?}"
            )));
        }
    }
    Ok(())
}

/// A schedule as a query sees it: its search attributes plus TemporalSchedulePaused, and its id
/// where `ScheduleId` looks (the filter language resolves it to WorkflowId, which a schedule
/// query may not name otherwise).
fn record_of(
    e: &ScheduleListEntry,
    registry: &perdure_visibility::SearchAttributes,
) -> perdure_visibility::VisibilityRecord {
    let mut attrs = e.search_attributes.clone().unwrap_or_default();
    let paused = e.info.as_ref().is_some_and(|i| i.paused);
    attrs.indexed_fields.insert(
        "TemporalSchedulePaused".into(),
        Payload {
            metadata: [
                ("encoding".to_string(), b"json/plain".to_vec()),
                ("type".to_string(), b"Bool".to_vec()),
            ]
            .into_iter()
            .collect(),
            data: paused.to_string().into_bytes(),
            ..Default::default()
        },
    );
    let info = WorkflowExecutionInfo {
        execution: Some(WorkflowExecution {
            workflow_id: e.schedule_id.clone(),
            run_id: String::new(),
        }),
        r#type: Some(WorkflowType {
            name: "temporal-sys-scheduler-workflow".into(),
        }),
        status: WorkflowExecutionStatus::Running as i32,
        search_attributes: Some(attrs),
        ..Default::default()
    };
    perdure_history::visibility::record_typed(&info, registry)
}

impl Frontend {
    pub(crate) async fn list_schedules(
        &self,
        req: ListSchedulesRequest,
    ) -> Result<ListSchedulesResponse, Status> {
        let matching = self.matching_schedules(&req.namespace, &req.query).await?;
        let after = String::from_utf8(req.next_page_token.clone())
            .map_err(|_| errors::invalid("Invalid NextPageToken."))?;
        let page = match usize::try_from(req.maximum_page_size) {
            Ok(0) | Err(_) => DEFAULT_PAGE_SIZE,
            Ok(n) => n,
        };
        let mut all: Vec<ScheduleListEntry> = matching
            .into_iter()
            .filter(|e| after.is_empty() || e.schedule_id > after)
            .collect();
        all.sort_by(|a, b| a.schedule_id.cmp(&b.schedule_id));
        let next_page_token = if all.len() > page {
            all.truncate(page);
            all.last()
                .map(|e| e.schedule_id.clone().into_bytes())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        Ok(ListSchedulesResponse {
            schedules: all,
            next_page_token,
        })
    }

    /// Every schedule of `namespace` that `query` matches (all of them for an empty one), in
    /// no particular order: what ListSchedules pages through and CountSchedules counts.
    pub(crate) async fn matching_schedules(
        &self,
        namespace: &str,
        query: &str,
    ) -> Result<Vec<ScheduleListEntry>, Status> {
        let ns = self.namespaces.get(namespace)?;
        let attrs = self.namespaces.search_attributes(ns.id())?;
        let query = if query.trim().is_empty() {
            None
        } else {
            let q = crate::visibility::parse_query(query, &attrs)?;
            refuse_reserved(query)?;
            Some(q)
        };
        let shards = self.history.shard_count();
        let calls = (1..=shards).map(|s| {
            let ns_id = ns.id().to_string();
            async move {
                let once = || self.schedules_of(GroupId(s), &ns_id);
                match once().await {
                    Err(s) if errors::is_not_leader(&s) => {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        once().await
                    }
                    other => other,
                }
            }
        });
        Ok(futures::future::try_join_all(calls)
            .await?
            .into_iter()
            .flatten()
            .filter(|e| {
                query
                    .as_ref()
                    .is_none_or(|q| q.matches(&record_of(e, &attrs)))
            })
            .collect())
    }

    async fn schedules_of(
        &self,
        shard: GroupId,
        namespace_id: &str,
    ) -> Result<Vec<ScheduleListEntry>, Status> {
        match self.routing.await_owner(shard).await? {
            Owner::Local => self
                .history
                .list_schedules(shard, namespace_id)
                .await
                .map_err(errors::history),
            Owner::Remote { addr, .. } => {
                let channel = self.routing.peers().channel(&addr)?;
                let mut req = self.routing.peers().request(VisibilityRequest {
                    shard: shard.0,
                    namespace_id: namespace_id.to_string(),
                    schedules: true,
                    ..Default::default()
                });
                req.set_timeout(crate::visibility::SHARD_TIMEOUT);
                let reply = InternalClient::new(channel)
                    .max_decoding_message_size(usize::MAX)
                    .visibility(req)
                    .await?
                    .into_inner();
                reply
                    .schedules
                    .iter()
                    .map(|b| ScheduleListEntry::decode(b.as_slice()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| Status::internal(format!("undecodable schedule entry: {e}")))
            }
        }
    }
}
