//! List and Count across shards (DESIGN.md §6): every shard keeps the visibility rows of its
//! runs (perdure-history's `visibility.rs`); a List or Count asks each shard's leader — this
//! node's history, or `Internal.Visibility` on the leader — and merges the answers here.
//!
//! A List page is the first `page_size` rows of the merged default order (open runs first,
//! then latest close, latest start, run id). Its page token is the last row's
//! [`DefaultOrderKey`], and each shard returns only rows after it, so a page never depends on
//! rows written since the previous one: new rows sort where they belong and are neither
//! skipped nor repeated (an open run that closes moves, as in Temporal's SQL store). As in
//! Temporal, a full page carries a token even when nothing follows.
//!
//! This module owns the fan-out, the merge and the token encoding; it never evaluates a
//! filter (the shards do) nor reads storage.

use std::collections::BTreeMap;

use perdure_api::internal::internal_client::InternalClient;
use perdure_api::internal::VisibilityRequest;
use perdure_history::VisibilityCount;
use perdure_storage::GroupId;
use perdure_visibility::{DefaultOrderKey, Options, Query, SearchAttributes, UnixNanos};
use prost::Message;
use temporalio_protos::temporal::api::workflow::v1::WorkflowExecutionInfo;
use tonic::Status;

use crate::errors;
use crate::routing::Owner;
use crate::server::Frontend;

/// Temporal's `frontend.visibilityMaxPageSize`: the page size of a List that asks for none.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 1000;

/// Longest one shard's answer may take.
pub(crate) const SHARD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

const TOKEN_VERSION: u8 = 1;

/// Parses a List/Count filter against the namespace's search attributes (system, predefined
/// and its registered custom ones); a bad one is InvalidArgument with Temporal's message.
pub(crate) fn parse_query(text: &str, attrs: &SearchAttributes) -> Result<Query, Status> {
    Query::parse(text, attrs, Options::default())
        .map_err(|e| Status::invalid_argument(e.to_string()))
}

/// The custom attributes as `VisibilityRequest` carries them to another node's shard, so it
/// parses and types rows with the registry the asking node validated the query against.
fn custom_to_wire(attrs: &SearchAttributes) -> std::collections::HashMap<String, i32> {
    attrs
        .custom()
        .map(|(n, t)| (n.to_string(), t.to_proto()))
        .collect()
}

/// Inverse of [`custom_to_wire`] (unknown type numbers dropped).
pub(crate) fn custom_from_wire(wire: &std::collections::HashMap<String, i32>) -> SearchAttributes {
    SearchAttributes::with_custom(wire.iter().filter_map(|(n, t)| {
        Some((
            n.clone(),
            perdure_visibility::IndexedValueType::from_proto(*t)?,
        ))
    }))
}

/// A quoted string literal of the list-filter language (MySQL's backslash escapes), for filters
/// built from structured requests. Like every query value, one that starts or ends with `'`
/// loses those quotes (Temporal trims them: see perdure-visibility's `resolve.rs`).
pub(crate) fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The filter the legacy ListOpen/ListClosedWorkflowExecutions calls mean, as Temporal's SQL
/// store builds it: open (Running) or closed (any other status, or `status`) runs whose start
/// (open) or close (closed) time lies in `[earliest, latest]` (either end unset: unbounded), of
/// one workflow id or one workflow type.
pub(crate) struct LegacyFilter<'a> {
    pub(crate) closed: bool,
    pub(crate) earliest: Option<UnixNanos>,
    pub(crate) latest: Option<UnixNanos>,
    pub(crate) workflow_id: Option<&'a str>,
    pub(crate) workflow_type: Option<&'a str>,
    pub(crate) status: Option<perdure_visibility::ExecutionStatus>,
}

impl LegacyFilter<'_> {
    pub(crate) fn to_query(&self) -> String {
        let time = if self.closed {
            "CloseTime"
        } else {
            "StartTime"
        };
        let mut parts = vec![match (self.closed, self.status) {
            (false, _) => "ExecutionStatus = 'Running'".to_string(),
            (true, None) => "ExecutionStatus != 'Running'".to_string(),
            (true, Some(s)) => format!("ExecutionStatus = {}", quote(s.name())),
        }];
        if let Some(t) = self.earliest {
            parts.push(format!("{time} >= {}", quote(&t.to_rfc3339())));
        }
        if let Some(t) = self.latest {
            parts.push(format!("{time} <= {}", quote(&t.to_rfc3339())));
        }
        if let Some(id) = self.workflow_id {
            parts.push(format!("WorkflowId = {}", quote(id)));
        }
        if let Some(ty) = self.workflow_type {
            parts.push(format!("WorkflowType = {}", quote(ty)));
        }
        parts.join(" AND ")
    }
}

/// The page token after `key`: a version byte, the close time (`i64::MAX` for an open run) and
/// the start time as big-endian nanoseconds, then the run id.
pub(crate) fn encode_token(key: &DefaultOrderKey) -> Vec<u8> {
    let (close, start, run_id) = key.parts();
    let mut out = Vec::with_capacity(17 + run_id.len());
    out.push(TOKEN_VERSION);
    out.extend_from_slice(&close.map_or(i64::MAX, |c| c.0).to_be_bytes());
    out.extend_from_slice(&start.0.to_be_bytes());
    out.extend_from_slice(run_id.as_bytes());
    out
}

/// Inverse of [`encode_token`]; an empty token is the first page.
pub(crate) fn decode_token(token: &[u8]) -> Result<Option<DefaultOrderKey>, Status> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || errors::invalid("Invalid NextPageToken.");
    if token.len() < 17 || token[0] != TOKEN_VERSION {
        return Err(bad());
    }
    let i64_at = |at: usize| -> Result<i64, Status> {
        Ok(i64::from_be_bytes(
            token[at..at + 8].try_into().map_err(|_| bad())?,
        ))
    };
    let close = i64_at(1)?;
    let start = i64_at(9)?;
    let run_id = std::str::from_utf8(&token[17..]).map_err(|_| bad())?;
    Ok(Some(DefaultOrderKey::from_parts(
        (close != i64::MAX).then_some(UnixNanos(close)),
        UnixNanos(start),
        run_id.to_string(),
    )))
}

/// The key of a row in List's default order.
pub(crate) fn order_key(info: &WorkflowExecutionInfo) -> DefaultOrderKey {
    DefaultOrderKey::of(&perdure_history::visibility::record_of(info))
}

/// Merges shard pages (each in List's order) into the first `limit` rows, and the token of the
/// next page when the page is full.
pub(crate) fn merge_pages(
    pages: Vec<Vec<WorkflowExecutionInfo>>,
    limit: usize,
) -> (Vec<WorkflowExecutionInfo>, Vec<u8>) {
    let mut all: Vec<(DefaultOrderKey, WorkflowExecutionInfo)> = pages
        .into_iter()
        .flatten()
        .map(|i| (order_key(&i), i))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all.truncate(limit);
    let token = match all.last() {
        Some((key, _)) if all.len() == limit => encode_token(key),
        _ => Vec::new(),
    };
    (all.into_iter().map(|(_, i)| i).collect(), token)
}

/// Sums the shards' counts.
pub(crate) fn merge_counts(counts: impl IntoIterator<Item = VisibilityCount>) -> VisibilityCount {
    let mut out = VisibilityCount::default();
    for c in counts {
        out.count += c.count;
        for (g, n) in c.groups {
            *out.groups.entry(g).or_default() += n;
        }
    }
    out
}

/// What one shard is asked.
#[derive(Clone)]
enum Ask<'a> {
    List {
        after: Option<&'a DefaultOrderKey>,
        limit: usize,
    },
    Count,
}

enum Answer {
    List(Vec<WorkflowExecutionInfo>),
    Count(VisibilityCount),
}

impl Frontend {
    /// One page of `namespace_id`'s rows matching the filter `text` (parsed here: a bad one is
    /// InvalidArgument and nothing is read), `page_size` as the client asked it.
    pub(crate) async fn list_by_filter(
        &self,
        namespace_id: &str,
        text: &str,
        token: &[u8],
        page_size: i32,
    ) -> Result<(Vec<WorkflowExecutionInfo>, Vec<u8>), Status> {
        let attrs = self.namespaces.search_attributes(namespace_id)?;
        let query = parse_query(text, &attrs)?;
        let page = crate::rpc::list_workflow_executions::page_size(page_size);
        self.list_visibility(namespace_id, text, &query, &attrs, token, page)
            .await
    }

    /// One page of `namespace_id`'s rows matching `query` (`text` as the client wrote it).
    pub(crate) async fn list_visibility(
        &self,
        namespace_id: &str,
        text: &str,
        query: &Query,
        attrs: &SearchAttributes,
        token: &[u8],
        page_size: usize,
    ) -> Result<(Vec<WorkflowExecutionInfo>, Vec<u8>), Status> {
        let after = decode_token(token)?;
        let ask = Ask::List {
            after: after.as_ref(),
            limit: page_size,
        };
        let answers = self.fan_out(namespace_id, text, query, attrs, ask).await?;
        let pages = answers
            .into_iter()
            .map(|a| match a {
                Answer::List(rows) => rows,
                Answer::Count(_) => Vec::new(),
            })
            .collect();
        let (mut rows, token) = merge_pages(pages, page_size);
        for row in &mut rows {
            // Temporal's SQL store answers every row with a memo and search attributes,
            // empty when the run has none (stored rows leave them out).
            row.memo.get_or_insert_with(Default::default);
            row.search_attributes.get_or_insert_with(Default::default);
        }
        Ok((rows, token))
    }

    /// How many of `namespace_id`'s rows match `query`, in total and per GROUP BY value.
    pub(crate) async fn count_visibility(
        &self,
        namespace_id: &str,
        text: &str,
        query: &Query,
        attrs: &SearchAttributes,
    ) -> Result<VisibilityCount, Status> {
        let answers = self
            .fan_out(namespace_id, text, query, attrs, Ask::Count)
            .await?;
        Ok(merge_counts(answers.into_iter().filter_map(|a| match a {
            Answer::Count(c) => Some(c),
            Answer::List(_) => None,
        })))
    }

    /// Asks every shard at once; any shard failing fails the call (Unavailable while a shard
    /// has no leader: the client retries).
    async fn fan_out(
        &self,
        namespace_id: &str,
        text: &str,
        query: &Query,
        attrs: &SearchAttributes,
        ask: Ask<'_>,
    ) -> Result<Vec<Answer>, Status> {
        let shards = self.history.shard_count();
        let calls = (1..=shards).map(|s| {
            let ask = ask.clone();
            async move {
                let shard = GroupId(s);
                let once = || self.ask_shard(shard, namespace_id, text, query, attrs, ask.clone());
                match once().await {
                    // Leadership moved under us: ask the new leader once.
                    Err(s) if errors::is_not_leader(&s) => {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        once().await
                    }
                    other => other,
                }
            }
        });
        futures::future::try_join_all(calls).await
    }

    async fn ask_shard(
        &self,
        shard: GroupId,
        namespace_id: &str,
        text: &str,
        query: &Query,
        attrs: &SearchAttributes,
        ask: Ask<'_>,
    ) -> Result<Answer, Status> {
        match self.routing.await_owner(shard).await? {
            Owner::Local => match ask {
                Ask::List { after, limit } => self
                    .history
                    .list_visibility(shard, namespace_id, query, attrs, after, limit)
                    .await
                    .map(Answer::List),
                Ask::Count => self
                    .history
                    .count_visibility(shard, namespace_id, query, attrs)
                    .await
                    .map(Answer::Count),
            }
            .map_err(errors::history),
            Owner::Remote { addr, .. } => {
                let (count, after, limit) = match ask {
                    Ask::List { after, limit } => {
                        (false, after.map(encode_token).unwrap_or_default(), limit)
                    }
                    Ask::Count => (true, Vec::new(), 0),
                };
                let channel = self.routing.peers().channel(&addr)?;
                let mut req = self.routing.peers().request(VisibilityRequest {
                    shard: shard.0,
                    namespace_id: namespace_id.to_string(),
                    query: text.to_string(),
                    count,
                    after,
                    limit: u32::try_from(limit).unwrap_or(u32::MAX),
                    custom_search_attributes: custom_to_wire(attrs),
                    schedules: false,
                    batches: false,
                });
                req.set_timeout(SHARD_TIMEOUT);
                let reply = InternalClient::new(channel)
                    .max_decoding_message_size(usize::MAX)
                    .visibility(req)
                    .await?
                    .into_inner();
                if count {
                    return Ok(Answer::Count(VisibilityCount {
                        count: reply.count,
                        groups: reply.groups.into_iter().collect::<BTreeMap<_, _>>(),
                    }));
                }
                let rows = reply
                    .executions
                    .iter()
                    .map(|b| WorkflowExecutionInfo::decode(b.as_slice()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| Status::internal(format!("undecodable visibility row: {e}")))?;
                Ok(Answer::List(rows))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use temporalio_protos::temporal::api::common::v1::WorkflowExecution;
    use temporalio_protos::temporal::api::enums::v1::WorkflowExecutionStatus;

    use super::*;

    fn row(run: &str, start_s: i64, close_s: Option<i64>) -> WorkflowExecutionInfo {
        let ts = |s: i64| prost_wkt_types::Timestamp {
            seconds: s,
            nanos: 0,
        };
        WorkflowExecutionInfo {
            execution: Some(WorkflowExecution {
                workflow_id: format!("wf-{run}"),
                run_id: run.into(),
            }),
            start_time: Some(ts(start_s)),
            close_time: close_s.map(ts),
            status: if close_s.is_some() {
                WorkflowExecutionStatus::Completed as i32
            } else {
                WorkflowExecutionStatus::Running as i32
            },
            ..Default::default()
        }
    }

    fn runs(rows: &[WorkflowExecutionInfo]) -> Vec<&str> {
        rows.iter()
            .map(|r| r.execution.as_ref().unwrap().run_id.as_str())
            .collect()
    }

    #[test]
    fn tokens_round_trip_and_refuse_garbage() {
        for r in [
            row("a", 5, None),
            row("b", 5, Some(9)),
            row("", -3, Some(-1)),
        ] {
            let key = order_key(&r);
            assert_eq!(decode_token(&encode_token(&key)).unwrap(), Some(key));
        }
        assert_eq!(decode_token(&[]).unwrap(), None);
        for bad in [&b"x"[..], &[2u8; 20][..], &[1u8; 16][..]] {
            let e = decode_token(bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
        }
    }

    #[test]
    fn merging_pages_keeps_the_default_order_and_gives_a_token_for_a_full_page() {
        // Each shard's page is in order already; the merge interleaves them.
        let shard1 = vec![row("o2", 20, None), row("c1", 1, Some(50))];
        let shard2 = vec![row("o1", 10, None), row("c2", 2, Some(40))];
        let (page, token) = merge_pages(vec![shard1.clone(), shard2.clone()], 3);
        assert_eq!(runs(&page), ["o2", "o1", "c1"]);
        assert_eq!(decode_token(&token).unwrap(), Some(order_key(&page[2])));
        let (page, token) = merge_pages(vec![shard1, shard2], 10);
        assert_eq!(runs(&page), ["o2", "o1", "c1", "c2"]);
        assert!(token.is_empty());
    }

    #[test]
    fn paging_with_tokens_sees_every_row_once_even_with_writes_between_pages() {
        let mut shards = vec![
            vec![
                row("a", 1, None),
                row("b", 2, Some(10)),
                row("c", 3, Some(11)),
            ],
            vec![row("d", 4, None), row("e", 5, Some(12))],
        ];
        // What one shard answers: its rows after the key, in order.
        let ask = |shards: &Vec<Vec<WorkflowExecutionInfo>>, after: &Option<DefaultOrderKey>| {
            shards
                .iter()
                .map(|rows| {
                    let mut rows: Vec<_> = rows
                        .iter()
                        .filter(|r| after.as_ref().is_none_or(|a| order_key(r) > *a))
                        .cloned()
                        .collect();
                    rows.sort_by_key(order_key);
                    rows.truncate(2);
                    rows
                })
                .collect::<Vec<_>>()
        };
        let mut seen = Vec::new();
        let mut after = None;
        let mut pages = 0;
        loop {
            let (page, token) = merge_pages(ask(&shards, &after), 2);
            seen.extend(runs(&page).into_iter().map(String::from));
            pages += 1;
            if pages == 1 {
                // A new open run sorts before everything already listed: not on a later page.
                shards[1].push(row("new", 100, None));
            }
            after = decode_token(&token).unwrap();
            if after.is_none() {
                break;
            }
        }
        assert_eq!(seen, ["d", "a", "e", "c", "b"]);
    }

    #[test]
    fn legacy_filters_become_queries_that_match_what_they_name() {
        use perdure_visibility::{ExecutionStatus, VisibilityRecord};
        let odd = "it's a \\ 100% id";
        let rec = |status, start: i64, close: Option<i64>| VisibilityRecord {
            workflow_id: odd.into(),
            run_id: "r".into(),
            workflow_type: "T'x".into(),
            task_queue: "q".into(),
            status,
            start_time: UnixNanos(start),
            execution_time: UnixNanos(start),
            close_time: close.map(UnixNanos),
            execution_duration: None,
            history_length: None,
            history_size_bytes: None,
            state_transition_count: None,
            parent_workflow_id: None,
            parent_run_id: None,
            root_workflow_id: odd.into(),
            root_run_id: "r".into(),
            search_attributes: Default::default(),
            memo: Vec::new(),
        };
        let s = 1_700_000_000_000_000_000;
        let open = rec(ExecutionStatus::Running, s, None);
        let done = rec(ExecutionStatus::Completed, s, Some(s + 5_000_000_000));
        let filter = |closed, earliest: Option<i64>, latest: Option<i64>, id, ty, status| {
            let f = LegacyFilter {
                closed,
                earliest: earliest.map(UnixNanos),
                latest: latest.map(UnixNanos),
                workflow_id: id,
                workflow_type: ty,
                status,
            };
            parse_query(&f.to_query(), &SearchAttributes::new()).unwrap()
        };
        let q = filter(false, None, None, Some(odd), None, None);
        assert!(q.matches(&open) && !q.matches(&done));
        let q = filter(false, Some(s), Some(s), None, None, None);
        assert!(q.matches(&open), "window");
        let q = filter(false, None, None, None, Some("T'x"), None);
        assert!(q.matches(&open), "type");
        let q = filter(false, Some(s + 1_000), None, None, None, None);
        assert!(!q.matches(&open));
        // Closed runs are filtered by their close time.
        let q = filter(true, Some(s + 1_000_000_000), None, None, None, None);
        assert!(q.matches(&done) && !q.matches(&open));
        let q = filter(true, None, Some(s + 1_000_000_000), None, None, None);
        assert!(!q.matches(&done));
        let q = filter(true, None, None, Some("other"), None, None);
        assert!(!q.matches(&done));
        let q = filter(
            true,
            None,
            None,
            None,
            None,
            Some(ExecutionStatus::Completed),
        );
        assert!(q.matches(&done));
        let q = filter(true, None, None, None, None, Some(ExecutionStatus::Failed));
        assert!(!q.matches(&done));
    }

    #[test]
    fn counts_add_up_by_group() {
        let c = |n, g: &[(&str, i64)]| VisibilityCount {
            count: n,
            groups: g.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        };
        let total = merge_counts([
            c(3, &[("Running", 2), ("Completed", 1)]),
            c(0, &[]),
            c(2, &[("Running", 2)]),
        ]);
        assert_eq!(total, c(5, &[("Completed", 1), ("Running", 4)]));
    }
}
