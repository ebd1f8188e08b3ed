//! DescribeTaskQueue: the pollers seen lately on a task queue and its backlog, read from this
//! node's matching. The call reaches the queue's owner (`service.rs` routes it like a poll),
//! which is where its polls are recorded and its tasks wait.
//!
//! Both of Temporal's request shapes are answered. The legacy one (api_mode unspecified)
//! describes one partition of one type: its pollers, and on request the legacy status and the
//! stats. The enhanced one (what `temporal task-queue describe` sends) describes the queue per
//! build id and per type. Perdure has one partition per queue and no worker versioning: every
//! poller and task belongs to the unversioned queue (build id ""), a partition `/_sys/<q>/<n>`
//! is always empty, and any other build id is shown empty and unreachable, as Temporal shows a
//! build id no rule names. Nothing is rate limited, so no effective rate limit is reported
//! (nor the legacy status's rate, read level or task id block, which Perdure does not have).
//! This module never writes.

// Temporal deprecated most fields of both shapes (versioning moved to deployments), yet the
// CLI and SDKs still send and read them.
#![allow(deprecated)]

use std::collections::HashMap;
use std::time::SystemTime;

use perdure_matching::{
    PartitionView, PollerMeta, PollerRecord, TaskKind, TaskQueueKey, WorkerCapabilities,
};
use prost_wkt_types::{Duration as ProtoDuration, Timestamp};
use temporalio_protos::temporal::api::common::v1::WorkerVersionCapabilities;
use temporalio_protos::temporal::api::enums::v1::{
    BuildIdTaskReachability, DescribeTaskQueueMode, TaskQueueKind, TaskQueueType,
};
use temporalio_protos::temporal::api::taskqueue::v1::{
    PollerInfo, TaskQueue, TaskQueueStats, TaskQueueStatus, TaskQueueTypeInfo,
    TaskQueueVersionInfo, TaskQueueVersioningInfo,
};
use temporalio_protos::temporal::api::workflowservice::v1::{
    DescribeTaskQueueRequest, DescribeTaskQueueResponse,
};
use tonic::Status;

use crate::dispatch::Work;
use crate::errors::invalid;
use crate::server::Frontend;
use crate::validate;

/// A poller that set no rate of its own is shown with Temporal's default dispatch rate.
const DEFAULT_POLLER_RATE_PER_SECOND: f64 = 100_000.0;

/// Most build ids one call may ask reachability for (`limit.reachabilityQueryBuildIds`).
const REACHABILITY_BUILD_ID_LIMIT: usize = 5;

/// The priority key of every task: Perdure has no task priorities, so all tasks have the
/// default one (key 3 of Temporal's five levels).
const DEFAULT_PRIORITY_KEY: i32 = 3;

/// The current version an unversioned queue reports, and the zero time Temporal reports as
/// its update time (0001-01-01T00:00:00Z).
const UNVERSIONED: &str = "__unversioned__";
const ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// What a poll says about its worker, kept for DescribeTaskQueue.
pub(crate) fn poller_meta(
    capabilities: Option<&WorkerVersionCapabilities>,
    max_tasks_per_second: Option<f64>,
) -> PollerMeta {
    PollerMeta {
        max_tasks_per_second,
        capabilities: capabilities.map(|c| WorkerCapabilities {
            build_id: c.build_id.clone(),
            use_versioning: c.use_versioning,
            deployment_series_name: c.deployment_series_name.clone(),
        }),
    }
}

/// A task queue name as a partition: the root (the queue itself) or `/_sys/<queue>/<n>`.
#[derive(Debug, PartialEq, Eq)]
enum Partition<'a> {
    Root(&'a str),
    NonRoot,
}

fn parse_partition(name: &str) -> Result<Partition<'_>, Status> {
    const PREFIX: &str = "/_sys/";
    let Some(rest) = name.strip_prefix(PREFIX) else {
        return Ok(Partition::Root(name));
    };
    let bad = || invalid(format!("invalid task queue partition name {name}"));
    let (base, number) = rest.rsplit_once('/').ok_or_else(bad)?;
    if base.is_empty() {
        return Err(bad());
    }
    match number.parse::<i64>() {
        Ok(n) if n > 0 => {}
        _ => return Err(bad()),
    }
    if base.starts_with(PREFIX) {
        return Err(invalid(format!(
            "task queue family name cannot have prefix /_sys/ {base}"
        )));
    }
    Ok(Partition::NonRoot)
}

/// Temporal's checks of the described queue: as a partition in the legacy mode, as a whole
/// queue (no reserved prefix) in the enhanced one.
fn check_task_queue(tq: Option<&TaskQueue>, enhanced: bool) -> Result<&TaskQueue, Status> {
    let tq = tq.ok_or_else(|| invalid("taskQueue is not set"))?;
    if tq.name.is_empty() {
        return Err(invalid("missing task queue name"));
    }
    if enhanced {
        validate::task_queue(Some(tq))?;
    } else if tq.name.len() > perdure_core::limits::MAX_ID_LENGTH {
        return Err(invalid("taskQueue length exceeds limit"));
    }
    if is_sticky(tq) && tq.normal_name.len() > perdure_core::limits::MAX_ID_LENGTH {
        return Err(invalid("taskQueue length exceeds limit"));
    }
    Ok(tq)
}

fn is_sticky(tq: &TaskQueue) -> bool {
    tq.kind == TaskQueueKind::Sticky as i32
}

fn timestamp(t: SystemTime) -> Timestamp {
    let (seconds, nanos) = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_nanos() as i32),
        Err(e) => {
            let d = e.duration();
            let mut s = -(d.as_secs() as i64);
            let mut n = -(d.subsec_nanos() as i32);
            if n < 0 {
                s -= 1;
                n += 1_000_000_000;
            }
            (s, n)
        }
    };
    Timestamp { seconds, nanos }
}

fn poller_info(p: &PollerRecord) -> PollerInfo {
    PollerInfo {
        last_access_time: Some(timestamp(p.last_access)),
        identity: p.identity.clone(),
        rate_per_second: p
            .meta
            .max_tasks_per_second
            .unwrap_or(DEFAULT_POLLER_RATE_PER_SECOND),
        worker_version_capabilities: p.meta.capabilities.as_ref().map(|c| {
            WorkerVersionCapabilities {
                build_id: c.build_id.clone(),
                use_versioning: c.use_versioning,
                deployment_series_name: c.deployment_series_name.clone(),
            }
        }),
        ..Default::default()
    }
}

fn stats(view: &PartitionView, now: SystemTime) -> TaskQueueStats {
    let age = view
        .oldest_backlog
        .and_then(|oldest| now.duration_since(oldest).ok())
        .unwrap_or_default();
    TaskQueueStats {
        approximate_backlog_count: view.backlog_count as i64,
        tasks_add_rate: view.tasks_add_rate,
        tasks_dispatch_rate: view.tasks_dispatch_rate,
        approximate_backlog_age: Some(ProtoDuration {
            seconds: age.as_secs() as i64,
            nanos: age.subsec_nanos() as i32,
        }),
        ..Default::default()
    }
}

fn empty_view() -> PartitionView {
    PartitionView {
        pollers: Vec::new(),
        backlog_count: 0,
        oldest_backlog: None,
        tasks_add_rate: 0.0,
        tasks_dispatch_rate: 0.0,
    }
}

impl Frontend {
    pub(crate) async fn describe_task_queue(
        &self,
        req: DescribeTaskQueueRequest,
    ) -> Result<DescribeTaskQueueResponse, Status> {
        let ns = self.namespaces.get(&req.namespace)?;
        let enhanced = req.api_mode == DescribeTaskQueueMode::Enhanced as i32;
        let tq = check_task_queue(req.task_queue.as_ref(), enhanced)?;
        if req.report_task_reachability
            && req.versions.as_ref().map_or(0, |v| v.build_ids.len()) > REACHABILITY_BUILD_ID_LIMIT
        {
            return Err(invalid(format!(
                "Too many build ids queried at once with ReportTaskReachability==true, limit: \
                 {REACHABILITY_BUILD_ID_LIMIT}"
            )));
        }
        if enhanced {
            if is_sticky(tq) {
                return Err(invalid(
                    "Enhanced DescribeTaskQueue is not valid for a sticky queue, use \
                     api_mode=UNSPECIFIED or a normal queue.",
                ));
            }
            // The reserved prefix is refused above, so the name is the root partition.
            if parse_partition(&tq.name).is_err() || !tq.normal_name.is_empty() {
                return Err(invalid(
                    "Task Queue Partition invalid, use a different Task Queue or Task Queue Type",
                ));
            }
            return Ok(self.describe_enhanced(ns.id(), &tq.name, &req));
        }
        let partition = parse_partition(&tq.name)?;
        if !is_sticky(tq) && !tq.normal_name.is_empty() {
            return Err(invalid(format!(
                "only sticky queues can have normal name. tq: {}, normal name: {}",
                tq.name, tq.normal_name
            )));
        }
        if is_sticky(tq) && partition == Partition::NonRoot {
            return Err(invalid(format!(
                "sticky partition can't have non-zero partition ID. base name: {}",
                tq.name
            )));
        }
        let task_type = match TaskQueueType::try_from(req.task_queue_type) {
            Ok(TaskQueueType::Unspecified) | Err(_) => TaskQueueType::Workflow,
            Ok(t) => t,
        };
        if req.report_stats && partition == Partition::NonRoot {
            return Err(invalid(
                "DescribeTaskQueue stats are only supported for the root partition",
            ));
        }
        let now = SystemTime::now();
        let view = match (partition, task_kind(task_type)) {
            (Partition::Root(name), Some(kind)) => self.partition_view(ns.id(), name, kind, now),
            _ => empty_view(),
        };
        let mut resp = DescribeTaskQueueResponse {
            pollers: view.pollers.iter().map(poller_info).collect(),
            ..Default::default()
        };
        if req.include_task_queue_status {
            resp.task_queue_status = Some(TaskQueueStatus {
                backlog_count_hint: view.backlog_count as i64,
                ..Default::default()
            });
        }
        if req.report_stats {
            let s = stats(&view, now);
            resp.stats_by_priority_key = HashMap::from([(DEFAULT_PRIORITY_KEY, s)]);
            resp.stats = Some(s);
        }
        if !is_sticky(tq) {
            resp.versioning_info = Some(TaskQueueVersioningInfo {
                current_version: UNVERSIONED.to_string(),
                update_time: Some(Timestamp {
                    seconds: ZERO_TIME_SECONDS,
                    nanos: 0,
                }),
                ..Default::default()
            });
        }
        Ok(resp)
    }

    fn partition_view(
        &self,
        namespace_id: &str,
        name: &str,
        kind: TaskKind,
        now: SystemTime,
    ) -> PartitionView {
        let key = TaskQueueKey::new(namespace_id, name, kind);
        // A query waiting for a worker is not a task of the backlog.
        self.dispatcher
            .matching()
            .describe(&key, now, |w| matches!(w, Work::Task(_)))
    }

    /// The enhanced shape: per build id asked for (the unversioned queue when none is), per
    /// type asked for (workflow and activity when none is).
    fn describe_enhanced(
        &self,
        namespace_id: &str,
        name: &str,
        req: &DescribeTaskQueueRequest,
    ) -> DescribeTaskQueueResponse {
        let build_ids: Vec<String> = match &req.versions {
            None => vec![String::new()],
            Some(v) => {
                let mut ids = v.build_ids.clone();
                if v.unversioned {
                    ids.push(String::new());
                }
                // `all_active` adds the versioned queues that are active: Perdure has none.
                ids.sort();
                ids.dedup();
                ids
            }
        };
        let types: Vec<i32> = if req.task_queue_types.is_empty() {
            vec![
                TaskQueueType::Workflow as i32,
                TaskQueueType::Activity as i32,
            ]
        } else {
            req.task_queue_types.clone()
        };
        let now = SystemTime::now();
        let mut versions_info = HashMap::new();
        for build_id in build_ids {
            let unversioned = build_id.is_empty();
            let mut types_info = HashMap::new();
            for &t in &types {
                let kind = TaskQueueType::try_from(t).ok().and_then(task_kind);
                let view = match kind {
                    Some(kind) if unversioned => self.partition_view(namespace_id, name, kind, now),
                    _ => empty_view(),
                };
                let mut info = TaskQueueTypeInfo::default();
                if req.report_pollers {
                    info.pollers = view.pollers.iter().map(poller_info).collect();
                }
                if req.report_stats {
                    info.stats = Some(stats(&view, now));
                }
                types_info.insert(t, info);
            }
            let task_reachability = match (req.report_task_reachability, unversioned) {
                (false, _) => BuildIdTaskReachability::Unspecified,
                // With no versioning rules the unversioned queue gets every new task.
                (true, true) => BuildIdTaskReachability::Reachable,
                (true, false) => BuildIdTaskReachability::Unreachable,
            };
            versions_info.insert(
                build_id,
                TaskQueueVersionInfo {
                    types_info,
                    task_reachability: task_reachability as i32,
                },
            );
        }
        DescribeTaskQueueResponse {
            versions_info,
            ..Default::default()
        }
    }
}

/// The matching partitions a type has: Perdure has no Nexus queues.
fn task_kind(t: TaskQueueType) -> Option<TaskKind> {
    match t {
        TaskQueueType::Workflow => Some(TaskKind::Workflow),
        TaskQueueType::Activity => Some(TaskKind::Activity),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names() {
        assert_eq!(parse_partition("q").unwrap(), Partition::Root("q"));
        assert_eq!(parse_partition("/_sys/q/3").unwrap(), Partition::NonRoot);
        assert_eq!(parse_partition("/_sys/a/b/1").unwrap(), Partition::NonRoot);
        for bad in [
            "/_sys/q",
            "/_sys/q/0",
            "/_sys/q/x",
            "/_sys//1",
            "/_sys/q/-1",
        ] {
            let e = parse_partition(bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument, "{bad}");
            assert_eq!(
                e.message(),
                format!("invalid task queue partition name {bad}")
            );
        }
    }

    #[test]
    fn timestamps_before_the_epoch_are_normalized() {
        let t = SystemTime::UNIX_EPOCH - std::time::Duration::from_millis(1500);
        let ts = timestamp(t);
        assert_eq!((ts.seconds, ts.nanos), (-2, 500_000_000));
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1500);
        let ts = timestamp(t);
        assert_eq!((ts.seconds, ts.nanos), (1, 500_000_000));
    }
}
