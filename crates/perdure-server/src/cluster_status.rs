//! `perdure cluster status`: asks each given node's `/cluster` for its view of every Raft group
//! and merges them: per group, the leader's view (term, indexes, each replica's matched index
//! and lag) and which nodes could not be reached. Read-only; talks plain HTTP/1.1.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{bail, Context};
use perdure_raft::GroupStatus;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
struct NodeView {
    node_id: u64,
    serving: bool,
    groups: Vec<GroupStatus>,
}

/// The merged picture `--json` prints.
#[derive(Serialize)]
pub struct ClusterStatus {
    pub nodes: Vec<NodeHealth>,
    pub groups: Vec<GroupSummary>,
}

#[derive(Serialize)]
pub struct NodeHealth {
    pub http: String,
    pub node_id: Option<u64>,
    pub reachable: bool,
    pub serving: bool,
}

#[derive(Serialize)]
pub struct GroupSummary {
    pub group: u32,
    pub leader: Option<u64>,
    pub term: u64,
    pub committed: Option<u64>,
    pub applied: Option<u64>,
    pub voters: Vec<u64>,
    /// Members that replicate the group without voting.
    pub learners: Vec<u64>,
    /// Entries each voter is behind the leader's last log index (None: not known / no leader).
    pub lag: BTreeMap<u64, Option<u64>>,
    /// Voters within the leader's log and answering.
    pub healthy_replicas: usize,
}

const TIMEOUT: Duration = Duration::from_secs(3);

fn fetch(addr: &str) -> anyhow::Result<NodeView> {
    let sock = addr
        .parse()
        .with_context(|| format!("`{addr}` is not ip:port"))?;
    let mut s = TcpStream::connect_timeout(&sock, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    write!(
        s,
        "GET /cluster HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") {
        bail!("{}", head.lines().next().unwrap_or_default());
    }
    serde_json::from_str(body).context("undecodable /cluster JSON")
}

pub fn gather(addrs: &[String]) -> ClusterStatus {
    let mut nodes = Vec::new();
    let mut views = Vec::new();
    for a in addrs {
        match fetch(a) {
            Ok(v) => {
                nodes.push(NodeHealth {
                    http: a.clone(),
                    node_id: Some(v.node_id),
                    reachable: true,
                    serving: v.serving,
                });
                views.push(v);
            }
            Err(e) => {
                tracing::debug!(addr = %a, error = %e, "node unreachable");
                nodes.push(NodeHealth {
                    http: a.clone(),
                    node_id: None,
                    reachable: false,
                    serving: false,
                });
            }
        }
    }
    let mut by_group: BTreeMap<u32, Vec<(u64, &GroupStatus)>> = BTreeMap::new();
    for v in &views {
        for g in &v.groups {
            by_group.entry(g.group).or_default().push((v.node_id, g));
        }
    }
    let groups = by_group
        .into_iter()
        .map(|(group, seen)| summarize(group, &seen))
        .collect();
    ClusterStatus { nodes, groups }
}

fn summarize(group: u32, seen: &[(u64, &GroupStatus)]) -> GroupSummary {
    // The leader's own view knows every replica's progress; without it, report the newest term.
    let leader_view = seen
        .iter()
        .find(|(node, g)| g.leader == Some(*node) && g.replication.is_some());
    let best = leader_view
        .or_else(|| seen.iter().max_by_key(|(_, g)| g.term))
        .map(|(_, g)| *g);
    let Some(g) = best else {
        return GroupSummary {
            group,
            leader: None,
            term: 0,
            committed: None,
            applied: None,
            voters: Vec::new(),
            learners: Vec::new(),
            lag: BTreeMap::new(),
            healthy_replicas: 0,
        };
    };
    let mut lag = BTreeMap::new();
    let mut healthy = 0;
    for v in &g.voters {
        // The leader's own log is never behind itself; openraft reports only the others.
        let matched = if leader_view.is_some() && g.leader == Some(*v) {
            g.last_log_index
        } else {
            g.replication
                .as_ref()
                .and_then(|r| r.get(v).copied().flatten())
        };
        let behind = match (leader_view.is_some(), g.last_log_index, matched) {
            (true, Some(last), Some(m)) => Some(last.saturating_sub(m)),
            _ => None,
        };
        if behind == Some(0) {
            healthy += 1;
        }
        lag.insert(*v, behind);
    }
    GroupSummary {
        group,
        leader: leader_view.map(|(node, _)| *node).or(g.leader),
        term: g.term,
        committed: g.committed,
        applied: g.applied,
        voters: g.voters.clone(),
        learners: g.learners.clone(),
        lag,
        healthy_replicas: healthy,
    }
}

/// println! that ends quietly when stdout is closed (`perdure cluster status | head`).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            return;
        }
    }};
}

pub fn print_table(s: &ClusterStatus) {
    out!(
        "{:<24} {:>7} {:>9} {:>8}",
        "NODE (http)",
        "ID",
        "REACHED",
        "SERVING"
    );
    for n in &s.nodes {
        let id = n.node_id.map_or("-".into(), |i| i.to_string());
        out!(
            "{:<24} {:>7} {:>9} {:>8}",
            n.http,
            id,
            n.reachable,
            n.serving
        );
    }
    out!();
    out!(
        "{:>5} {:>6} {:>6} {:>9} {:>9}  LAG (node:entries)",
        "GROUP",
        "LEADER",
        "TERM",
        "COMMIT",
        "APPLIED"
    );
    for g in &s.groups {
        let lag: Vec<String> = g
            .lag
            .iter()
            .map(|(n, l)| format!("{n}:{}", l.map_or("?".into(), |l| l.to_string())))
            .collect();
        let opt = |v: Option<u64>| v.map_or("-".into(), |v| v.to_string());
        out!(
            "{:>5} {:>6} {:>6} {:>9} {:>9}  {}",
            g.group,
            opt(g.leader),
            g.term,
            opt(g.committed),
            opt(g.applied),
            lag.join(" ")
        );
    }
}
