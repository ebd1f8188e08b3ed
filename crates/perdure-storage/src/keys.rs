//! Every key encoding of the node's RocksDB, in one place.
//!
//! Keys are big endian so byte order is numeric order. Every key — state and Raft-internal —
//! starts with its [`GroupId`] (4 bytes), so a group's data can be scanned, snapshotted and
//! deleted by prefix. Strings are length-prefixed (`u32` BE length, then bytes) so that no string
//! can run into the next field, and signed integers have their sign bit flipped so negative values
//! sort first. Changing anything here changes the on-disk format.
//!
//! Decoders return `None` on malformed input: keys come from disk and must never panic us.

use crate::GroupId;

const SIGN: u64 = 1 << 63;

// Tags distinguishing the two indexes sharing the Namespaces family.
const NS_BY_NAME: u8 = 1;
const NS_BY_ID: u8 = 2;
const NS_SEARCH_ATTRIBUTES: u8 = 3;

// Raft-internal record tags (RaftMeta / SmMeta).
const RAFT_VOTE: u8 = 1;
const RAFT_COMMITTED: u8 = 2;
const RAFT_PURGED: u8 = 3;
const SM_APPLIED: u8 = 1;
const SM_SNAPSHOT: u8 = 2;
const SM_INSTALLING: u8 = 3;

/// Builds a key field by field.
struct KeyBuf(Vec<u8>);

impl KeyBuf {
    fn new(g: GroupId) -> Self {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(&g.prefix());
        KeyBuf(v)
    }
    fn str(mut self, s: &str) -> Self {
        // A string longer than u32::MAX bytes cannot be a real id; saturating keeps this total.
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn u64(mut self, n: u64) -> Self {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }
    fn i64(self, n: i64) -> Self {
        self.u64((n as u64) ^ SIGN)
    }
    fn u8(mut self, n: u8) -> Self {
        self.0.push(n);
        self
    }
    fn done(self) -> Vec<u8> {
        self.0
    }
}

fn read_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Everything owned by group `g` in any column family.
pub fn group_prefix(g: GroupId) -> Vec<u8> {
    g.prefix().to_vec()
}

/// The smallest key greater than every key starting with `prefix`; `None` when no such key
/// exists (the prefix is all `0xFF`).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last != 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

// ---- state keys -------------------------------------------------------------------------------

/// Executions: one mutable-state record per run.
pub fn execution(g: GroupId, ns_id: &str, wf_id: &str, run_id: &str) -> Vec<u8> {
    KeyBuf::new(g).str(ns_id).str(wf_id).str(run_id).done()
}

/// Executions: the run's version counter, kept apart from the (large) state record so a write's
/// precondition compares eight bytes. Suffix tag 1 cannot collide with `execution`, which ends
/// right after the run id.
pub fn execution_version(g: GroupId, ns_id: &str, wf_id: &str, run_id: &str) -> Vec<u8> {
    KeyBuf::new(g)
        .str(ns_id)
        .str(wf_id)
        .str(run_id)
        .u8(1)
        .done()
}

/// CurrentExecutions: which run of a workflow id is current.
pub fn current_execution(g: GroupId, ns_id: &str, wf_id: &str) -> Vec<u8> {
    KeyBuf::new(g).str(ns_id).str(wf_id).done()
}

/// History: one event of a run, ordered by event id.
pub fn history_event(g: GroupId, ns_id: &str, wf_id: &str, run_id: &str, event_id: i64) -> Vec<u8> {
    KeyBuf::new(g)
        .str(ns_id)
        .str(wf_id)
        .str(run_id)
        .i64(event_id)
        .done()
}

/// History: all events of a run.
pub fn history_prefix(g: GroupId, ns_id: &str, wf_id: &str, run_id: &str) -> Vec<u8> {
    KeyBuf::new(g).str(ns_id).str(wf_id).str(run_id).done()
}

/// History: `[from, to)` covering every event of a run and nothing else, for
/// [`Op::DeleteRange`](crate::Op::DeleteRange). Event keys add exactly 8 bytes to the run's
/// prefix, so nine `0xFF` bytes sort after all of them while staying inside the prefix (and the
/// group).
pub fn history_range(g: GroupId, ns_id: &str, wf_id: &str, run_id: &str) -> (Vec<u8>, Vec<u8>) {
    let from = history_prefix(g, ns_id, wf_id, run_id);
    let mut to = from.clone();
    to.extend_from_slice(&[0xFF; 9]);
    (from, to)
}

/// Event id of a [`history_event`] key (its last 8 bytes).
pub fn decode_history_event_id(key: &[u8]) -> Option<i64> {
    let tail = key.len().checked_sub(8).and_then(|at| key.get(at..))?;
    Some((read_u64(tail)? ^ SIGN) as i64)
}

/// TransferTasks: immediate tasks in creation order.
pub fn transfer_task(g: GroupId, task_id: u64) -> Vec<u8> {
    KeyBuf::new(g).u64(task_id).done()
}

/// TransferTasks: all tasks of a group.
pub fn transfer_prefix(g: GroupId) -> Vec<u8> {
    group_prefix(g)
}

/// Task id of a [`transfer_task`] key.
pub fn decode_transfer_task(key: &[u8]) -> Option<u64> {
    if key.len() != 12 {
        return None;
    }
    read_u64(key.get(4..12)?)
}

/// TimerTasks: ordered by fire time, then task id.
pub fn timer_task(g: GroupId, fire_unix_nanos: i64, task_id: u64) -> Vec<u8> {
    KeyBuf::new(g).i64(fire_unix_nanos).u64(task_id).done()
}

/// TimerTasks: all timers of a group.
pub fn timer_prefix(g: GroupId) -> Vec<u8> {
    group_prefix(g)
}

/// TimerTasks: the exclusive upper bound for "every timer firing before `fire_unix_nanos`",
/// for use with [`Store::scan_range`](crate::Store::scan_range).
pub fn timer_upto(g: GroupId, fire_unix_nanos: i64) -> Vec<u8> {
    KeyBuf::new(g).i64(fire_unix_nanos).done()
}

/// `(fire_unix_nanos, task_id)` of a [`timer_task`] key.
pub fn decode_timer_task(key: &[u8]) -> Option<(i64, u64)> {
    if key.len() != 20 {
        return None;
    }
    let fire = (read_u64(key.get(4..12)?)? ^ SIGN) as i64;
    Some((fire, read_u64(key.get(12..20)?)?))
}

/// ShardMeta: the single per-group metadata record (task id allocator, queue cursors, ...).
pub fn shard_meta(g: GroupId) -> Vec<u8> {
    group_prefix(g)
}

/// Namespaces (group 0): namespace record by name.
pub fn namespace_by_name(name: &str) -> Vec<u8> {
    KeyBuf::new(GroupId::META).u8(NS_BY_NAME).str(name).done()
}

/// Namespaces (group 0): name lookup by namespace id.
pub fn namespace_by_id(id: &str) -> Vec<u8> {
    KeyBuf::new(GroupId::META).u8(NS_BY_ID).str(id).done()
}

/// Namespaces (group 0): a namespace's custom search attributes (name -> type), by id.
pub fn namespace_search_attributes(namespace_id: &str) -> Vec<u8> {
    KeyBuf::new(GroupId::META)
        .u8(NS_SEARCH_ATTRIBUTES)
        .str(namespace_id)
        .done()
}

/// Namespaces (group 0): every by-name record, for listing.
pub fn namespace_by_name_prefix() -> Vec<u8> {
    KeyBuf::new(GroupId::META).u8(NS_BY_NAME).done()
}

/// Cluster (group 0): the registry record of node `id`.
pub fn cluster_node(id: u64) -> Vec<u8> {
    KeyBuf::new(GroupId::META).u64(id).done()
}

/// Cluster (group 0): the cluster's id, chosen once by the first meta leader. Shorter than a
/// node key, so [`decode_cluster_node`] skips it.
pub fn cluster_id() -> Vec<u8> {
    KeyBuf::new(GroupId::META).u8(0xFF).done()
}

/// Cluster (group 0): every node record, for listing.
pub fn cluster_node_prefix() -> Vec<u8> {
    KeyBuf::new(GroupId::META).done()
}

/// Inverse of [`cluster_node`].
pub fn decode_cluster_node(key: &[u8]) -> Option<u64> {
    let rest = key.get(GroupId::META.prefix().len()..)?;
    (rest.len() == 8).then(|| read_u64(rest)).flatten()
}

/// Visibility: one record per run of a namespace.
pub fn visibility(g: GroupId, ns_id: &str, wf_id: &str, run_id: &str) -> Vec<u8> {
    KeyBuf::new(g).str(ns_id).str(wf_id).str(run_id).done()
}

/// Visibility: every record of a namespace in one group.
pub fn visibility_prefix(g: GroupId, ns_id: &str) -> Vec<u8> {
    KeyBuf::new(g).str(ns_id).done()
}

/// Schedules: one record per schedule of a namespace.
pub fn schedule(g: GroupId, ns_id: &str, schedule_id: &str) -> Vec<u8> {
    KeyBuf::new(g).str(ns_id).str(schedule_id).done()
}

/// Schedules: every record of a namespace in one group.
pub fn schedule_prefix(g: GroupId, ns_id: &str) -> Vec<u8> {
    KeyBuf::new(g).str(ns_id).done()
}

// Tags of the two key spaces of the Batches family.
const BATCH_JOB: u8 = 1;
const BATCH_RUNNING: u8 = 2;

/// Batches: one record per job of a namespace.
pub fn batch(g: GroupId, ns_id: &str, job_id: &str) -> Vec<u8> {
    KeyBuf::new(g).u8(BATCH_JOB).str(ns_id).str(job_id).done()
}

/// Batches: every job record of a namespace in one group.
pub fn batch_prefix(g: GroupId, ns_id: &str) -> Vec<u8> {
    KeyBuf::new(g).u8(BATCH_JOB).str(ns_id).done()
}

/// Batches: every job record of one group, all namespaces.
pub fn batch_jobs_prefix(g: GroupId) -> Vec<u8> {
    KeyBuf::new(g).u8(BATCH_JOB).done()
}

/// Batches: a marker per running job (written with the job, deleted when it closes), so a new
/// leader finds the jobs to drive without reading every closed one.
pub fn batch_running(g: GroupId, ns_id: &str, job_id: &str) -> Vec<u8> {
    KeyBuf::new(g)
        .u8(BATCH_RUNNING)
        .str(ns_id)
        .str(job_id)
        .done()
}

/// Batches: every running marker of one group.
pub fn batch_running_prefix(g: GroupId) -> Vec<u8> {
    KeyBuf::new(g).u8(BATCH_RUNNING).done()
}

/// The (namespace id, job id) a running marker names.
pub fn decode_batch_running(key: &[u8]) -> Option<(String, String)> {
    let rest = key.get(4..)?;
    let (&tag, rest) = rest.split_first()?;
    if tag != BATCH_RUNNING {
        return None;
    }
    let (ns, rest) = read_str(rest)?;
    let (job, rest) = read_str(rest)?;
    rest.is_empty().then_some((ns, job))
}

// Visibility index entries share the row family, after every namespace's rows. A row key
// continues the group prefix with its namespace id's u32 length, whose first byte is 0 for any
// id shorter than 16 MiB; an index key continues it with VIS_INDEX, so no index key falls under
// a namespace's row prefix and a row scan never meets one.
const VIS_INDEX: u8 = 0xFF;
const VIS_BY_ORDER: u8 = 1;
const VIS_BY_VALUE: u8 = 2;
const VIS_BY_START: u8 = 3;

/// Which attribute a by-value visibility index entry is for (part of the key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisibilityIndex {
    WorkflowId = 1,
    WorkflowType = 2,
    ExecutionStatus = 3,
}

/// A visibility row's place in List's default order, as index keys spell it: close time
/// descending with open runs (`None`) first, start time descending, run id ascending, then the
/// workflow id (which makes the key unique and names the row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityOrder {
    pub close_time: Option<i64>,
    pub start_time: i64,
    pub run_id: String,
    pub workflow_id: String,
}

impl KeyBuf {
    /// Sorts larger values first.
    fn i64_desc(self, n: i64) -> Self {
        self.u64(!((n as u64) ^ SIGN))
    }
    /// A string that sorts as its bytes do (a length prefix would sort by length first):
    /// 0x00 escaped as 0x00 0xFF, ended by 0x00 0x01.
    fn ordered_str(mut self, s: &str) -> Self {
        for &b in s.as_bytes() {
            self.0.push(b);
            if b == 0 {
                self.0.push(0xFF);
            }
        }
        self.0.extend_from_slice(&[0, 1]);
        self
    }
    /// The default-order part of an index key, without the workflow id.
    fn order(self, close_time: Option<i64>, start_time: i64, run_id: &str) -> Self {
        self.i64_desc(close_time.unwrap_or(i64::MAX))
            .i64_desc(start_time)
            .ordered_str(run_id)
    }
}

/// Visibility index: a namespace's rows in List's default order.
pub fn visibility_by_order_prefix(g: GroupId, ns_id: &str) -> Vec<u8> {
    KeyBuf::new(g)
        .u8(VIS_INDEX)
        .u8(VIS_BY_ORDER)
        .str(ns_id)
        .done()
}

/// Visibility index: the rows whose `index` attribute is `value`, in List's default order.
pub fn visibility_by_value_prefix(
    g: GroupId,
    ns_id: &str,
    index: VisibilityIndex,
    value: &str,
) -> Vec<u8> {
    KeyBuf::new(g)
        .u8(VIS_INDEX)
        .u8(VIS_BY_VALUE)
        .str(ns_id)
        .u8(index as u8)
        .str(value)
        .done()
}

/// Visibility index: a namespace's rows by start time, ascending.
pub fn visibility_by_start_prefix(g: GroupId, ns_id: &str) -> Vec<u8> {
    KeyBuf::new(g)
        .u8(VIS_INDEX)
        .u8(VIS_BY_START)
        .str(ns_id)
        .done()
}

/// The entry for a row under an ordered prefix ([`visibility_by_order_prefix`] or
/// [`visibility_by_value_prefix`]).
pub fn visibility_ordered_entry(prefix: &[u8], o: &VisibilityOrder) -> Vec<u8> {
    let mut k = KeyBuf(prefix.to_vec())
        .order(o.close_time, o.start_time, &o.run_id)
        .str(&o.workflow_id)
        .done();
    k.shrink_to_fit();
    k
}

/// The first key under an ordered prefix that comes after every entry whose place is
/// `(close_time, start_time, run_id)` or earlier: where the page after that row starts.
pub fn visibility_ordered_after(
    prefix: &[u8],
    close_time: Option<i64>,
    start_time: i64,
    run_id: &str,
) -> Vec<u8> {
    let k = KeyBuf(prefix.to_vec())
        .order(close_time, start_time, run_id)
        .done();
    // Every entry of that place continues with the workflow id's length: a first byte of 0 for
    // any id under 16 MiB.
    prefix_end(&k).unwrap_or(k)
}

/// The first key under an ordered prefix whose close time is at most `close_time` (entries of
/// open runs and of later closes come before it).
pub fn visibility_ordered_close_at_most(prefix: &[u8], close_time: i64) -> Vec<u8> {
    KeyBuf(prefix.to_vec()).i64_desc(close_time).done()
}

/// Inverse of [`visibility_ordered_entry`], given the prefix's length.
pub fn decode_visibility_ordered_entry(key: &[u8], prefix_len: usize) -> Option<VisibilityOrder> {
    let rest = key.get(prefix_len..)?;
    let close = !read_u64(rest.get(..8)?)? ^ SIGN;
    let start = !read_u64(rest.get(8..16)?)? ^ SIGN;
    let (run_id, rest) = read_ordered_str(rest.get(16..)?)?;
    let (workflow_id, rest) = read_str(rest)?;
    if !rest.is_empty() {
        return None;
    }
    let close = close as i64;
    Some(VisibilityOrder {
        close_time: (close != i64::MAX).then_some(close),
        start_time: start as i64,
        run_id,
        workflow_id,
    })
}

/// The entry for a row under [`visibility_by_start_prefix`].
pub fn visibility_by_start_entry(
    g: GroupId,
    ns_id: &str,
    start_time: i64,
    run_id: &str,
    workflow_id: &str,
) -> Vec<u8> {
    KeyBuf::new(g)
        .u8(VIS_INDEX)
        .u8(VIS_BY_START)
        .str(ns_id)
        .i64(start_time)
        .str(run_id)
        .str(workflow_id)
        .done()
}

/// The first by-start entry key of a row started at `start_time` or later.
pub fn visibility_by_start_from(g: GroupId, ns_id: &str, start_time: i64) -> Vec<u8> {
    KeyBuf::new(g)
        .u8(VIS_INDEX)
        .u8(VIS_BY_START)
        .str(ns_id)
        .i64(start_time)
        .done()
}

/// Inverse of [`visibility_by_start_entry`]: `(start_time, run_id, workflow_id)`.
pub fn decode_visibility_by_start_entry(
    key: &[u8],
    prefix_len: usize,
) -> Option<(i64, String, String)> {
    let rest = key.get(prefix_len..)?;
    let start = (read_u64(rest.get(..8)?)? ^ SIGN) as i64;
    let (run_id, rest) = read_str(rest.get(8..)?)?;
    let (workflow_id, rest) = read_str(rest)?;
    rest.is_empty().then_some((start, run_id, workflow_id))
}

fn read_str(bytes: &[u8]) -> Option<(String, &[u8])> {
    let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let s = bytes.get(4..4usize.checked_add(len)?)?;
    Some((String::from_utf8(s.to_vec()).ok()?, &bytes[4 + len..]))
}

fn read_ordered_str(bytes: &[u8]) -> Option<(String, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        match (bytes.get(i)?, bytes.get(i + 1)) {
            (0, Some(0xFF)) => out.push(0),
            (0, Some(1)) => return Some((String::from_utf8(out).ok()?, &bytes[i + 2..])),
            (0, _) => return None,
            (&b, _) => {
                out.push(b);
                i += 1;
                continue;
            }
        }
        i += 2;
    }
}

// ---- Raft-internal keys -----------------------------------------------------------------------

/// RaftLog: the entry at `index`.
pub fn raft_log(g: GroupId, index: u64) -> Vec<u8> {
    KeyBuf::new(g).u64(index).done()
}

/// Index of a [`raft_log`] key.
pub fn decode_raft_log_index(key: &[u8]) -> Option<u64> {
    decode_transfer_task(key)
}

/// RaftMeta: the last vote.
pub fn raft_vote(g: GroupId) -> Vec<u8> {
    KeyBuf::new(g).u8(RAFT_VOTE).done()
}

/// RaftMeta: the last saved committed log id.
pub fn raft_committed(g: GroupId) -> Vec<u8> {
    KeyBuf::new(g).u8(RAFT_COMMITTED).done()
}

/// RaftMeta: the last purged log id.
pub fn raft_purged(g: GroupId) -> Vec<u8> {
    KeyBuf::new(g).u8(RAFT_PURGED).done()
}

/// SmMeta: the applied-state record written with every apply.
pub fn sm_applied(g: GroupId) -> Vec<u8> {
    KeyBuf::new(g).u8(SM_APPLIED).done()
}

/// SmMeta: the record naming the group's current snapshot file (its meta, name and checksum).
pub fn sm_snapshot(g: GroupId) -> Vec<u8> {
    KeyBuf::new(g).u8(SM_SNAPSHOT).done()
}

/// SmMeta: present while a received snapshot is being written into the group's state (its
/// record); a restart finds it and finishes the install.
pub fn sm_installing(g: GroupId) -> Vec<u8> {
    KeyBuf::new(g).u8(SM_INSTALLING).done()
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: GroupId = GroupId(7);

    #[test]
    fn batch_keys_round_trip_and_keep_jobs_apart_from_markers() {
        let marker = batch_running(G, "ns", "job");
        assert!(marker.starts_with(&batch_running_prefix(G)));
        assert_eq!(
            decode_batch_running(&marker),
            Some(("ns".to_string(), "job".to_string()))
        );
        let job = batch(G, "ns", "job");
        assert!(job.starts_with(&batch_prefix(G, "ns")));
        assert!(job.starts_with(&batch_jobs_prefix(G)));
        assert!(!marker.starts_with(&batch_jobs_prefix(G)));
        assert!(!job.starts_with(&batch_running_prefix(G)));
        assert!(!marker.starts_with(&batch_prefix(G, "ns")));
        assert_eq!(decode_batch_running(&job), None);
        assert_eq!(decode_batch_running(&marker[..marker.len() - 1]), None);
    }

    #[test]
    fn every_state_key_starts_with_its_group() {
        let p = G.prefix();
        for k in [
            execution(G, "ns", "wf", "run"),
            current_execution(G, "ns", "wf"),
            history_event(G, "ns", "wf", "run", 3),
            transfer_task(G, 9),
            timer_task(G, -5, 9),
            shard_meta(G),
            visibility(G, "ns", "wf", "run"),
        ] {
            assert!(k.starts_with(&p), "{k:?}");
        }
        assert!(namespace_by_name("x").starts_with(&GroupId::META.prefix()));
        assert!(namespace_by_id("x").starts_with(&GroupId::META.prefix()));
        assert_ne!(namespace_by_name("x"), namespace_by_id("x"));
        assert!(namespace_search_attributes("x").starts_with(&GroupId::META.prefix()));
        assert!(!namespace_search_attributes("x").starts_with(&namespace_by_name_prefix()));
    }

    #[test]
    fn strings_cannot_collide_across_fields() {
        assert_ne!(execution(G, "ab", "c", "r"), execution(G, "a", "bc", "r"));
        // A run's prefix must not cover a run whose id merely starts with it.
        let prefix = history_prefix(G, "ns", "wf", "run");
        assert!(!history_event(G, "ns", "wf", "run2", 1).starts_with(&prefix));
        assert!(history_event(G, "ns", "wf", "run", 1).starts_with(&prefix));
    }

    #[test]
    fn history_range_covers_every_event_of_the_run_only() {
        let (from, to) = history_range(G, "ns", "wf", "run");
        for id in [i64::MIN, -1, 0, 1, i64::MAX] {
            let k = history_event(G, "ns", "wf", "run", id);
            assert!(from <= k && k < to, "{id}");
        }
        assert!(to.starts_with(&history_prefix(G, "ns", "wf", "run")));
        for other in [
            history_event(G, "ns", "wf", "run2", 1),
            history_event(G, "ns", "wf", "ru", 1),
            history_event(G, "ns", "wf2", "run", 1),
        ] {
            assert!(!(from <= other && other < to), "{other:?}");
        }
    }

    #[test]
    fn history_events_sort_by_id_and_decode() {
        let ids = [-3i64, 0, 1, 2, 255, 256, i64::MAX];
        let keys: Vec<_> = ids
            .iter()
            .map(|&id| history_event(G, "ns", "wf", "run", id))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for (k, id) in keys.iter().zip(ids) {
            assert_eq!(decode_history_event_id(k), Some(id));
        }
        assert_eq!(decode_history_event_id(b"short"), None);
    }

    #[test]
    fn timers_sort_by_fire_time_then_task_and_decode() {
        let timers = [
            (i64::MIN, 5u64),
            (-1, 0),
            (0, 0),
            (0, 1),
            (1, 0),
            (1_700_000_000_000_000_000, 2),
            (i64::MAX, 0),
        ];
        let keys: Vec<_> = timers.iter().map(|&(f, t)| timer_task(G, f, t)).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for (k, t) in keys.iter().zip(timers) {
            assert_eq!(decode_timer_task(k), Some(t));
        }
        assert!(timer_task(G, 9, u64::MAX) < timer_upto(G, 10));
        assert!(timer_task(G, 10, 0) >= timer_upto(G, 10));
        assert_eq!(decode_timer_task(&[0; 19]), None);
    }

    #[test]
    fn transfer_tasks_and_log_indexes_round_trip() {
        assert_eq!(decode_transfer_task(&transfer_task(G, 42)), Some(42));
        assert_eq!(
            decode_raft_log_index(&raft_log(G, u64::MAX)),
            Some(u64::MAX)
        );
        assert!(raft_log(G, 255) < raft_log(G, 256));
        assert_eq!(decode_transfer_task(b"nope"), None);
    }

    #[test]
    fn visibility_index_keys_never_fall_under_a_row_prefix() {
        let rows = visibility_prefix(G, "ns");
        for k in [
            visibility_by_order_prefix(G, "ns"),
            visibility_by_value_prefix(G, "ns", VisibilityIndex::WorkflowType, "t"),
            visibility_by_start_prefix(G, "ns"),
        ] {
            assert!(k.starts_with(&G.prefix()));
            assert!(!k.starts_with(&rows));
            assert!(k > prefix_end(&rows).unwrap());
        }
    }

    #[test]
    fn ordered_entries_sort_in_lists_default_order_and_decode() {
        let o = |close: Option<i64>, start: i64, run: &str| VisibilityOrder {
            close_time: close,
            start_time: start,
            run_id: run.to_string(),
            workflow_id: format!("wf-{run}"),
        };
        // Open first, then newest close, newest start, run id ascending (as bytes, not by length).
        let want = [
            o(None, 5, "a"),
            o(None, 1, "a"),
            o(Some(100), 1, "b"),
            o(Some(50), 9, "a"),
            o(Some(50), 9, "a\0"),
            o(Some(50), 9, "ab"),
            o(Some(50), 9, "b"),
            o(Some(-3), 0, "a"),
        ];
        let p = visibility_by_order_prefix(G, "ns");
        let keys: Vec<_> = want
            .iter()
            .map(|e| visibility_ordered_entry(&p, e))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        for (k, e) in keys.iter().zip(&want) {
            assert_eq!(
                decode_visibility_ordered_entry(k, p.len()).as_ref(),
                Some(e)
            );
        }
        let after = visibility_ordered_after(&p, Some(50), 9, "a");
        assert!(keys[3] < after && after < keys[4]);
        let at_most = visibility_ordered_close_at_most(&p, 50);
        assert!(keys[2] < at_most && at_most <= keys[3]);
        let s = visibility_by_start_prefix(G, "ns");
        let e = visibility_by_start_entry(G, "ns", -7, "r", "w");
        assert_eq!(
            decode_visibility_by_start_entry(&e, s.len()),
            Some((-7, "r".to_string(), "w".to_string()))
        );
        assert!(visibility_by_start_from(G, "ns", -7) <= e);
        assert!(visibility_by_start_from(G, "ns", -6) > e);
    }

    #[test]
    fn prefix_end_bounds_the_prefix() {
        assert_eq!(prefix_end(&[0, 0, 0, 1]), Some(vec![0, 0, 0, 2]));
        assert_eq!(prefix_end(&[0, 0xFF]), Some(vec![1]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_end(&[]), None);
    }
}
