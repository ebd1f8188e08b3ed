//! ListSchedules: every shard's leader lists the namespace's schedules it holds
//! (`shard_records.rs`); the pages are merged in schedule id order, and the page token is the
//! last id of the page.

use temporalio_protos::temporal::api::common::v1::{Payload, WorkflowExecution, WorkflowType};
use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus;
use temporalio_protos::temporal::api::schedule::v1::ScheduleListEntry;
use temporalio_protos::temporal::api::workflow::v1::WorkflowExecutionInfo;
use temporalio_protos::temporal::api::workflowservice::v1::{
    ListSchedulesRequest, ListSchedulesResponse,
};
use tonic::Status;

use crate::errors;
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
        Ok(self
            .every_shard::<ScheduleListEntry>(ns.id())
            .await?
            .into_iter()
            .filter(|e| {
                query
                    .as_ref()
                    .is_none_or(|q| q.matches(&record_of(e, &attrs)))
            })
            .collect())
    }
}
