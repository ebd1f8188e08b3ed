//! The column families of a node's RocksDB.
//!
//! Names are part of the on-disk format and must never be renamed; ids are stable too (they
//! appear inside snapshots). New families get new ids at the end.

use serde::{Deserialize, Serialize};

/// A column family. `Raft*` and `SmMeta` are private to the Raft layer; the rest hold state
/// written through replicated [`WriteBatch`](crate::WriteBatch)es.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Cf {
    /// Raft log entries, keyed by group and index.
    RaftLog,
    /// Per-group vote, committed and purged log ids.
    RaftMeta,
    /// Per-group applied log id and membership, plus the record naming the current snapshot file.
    SmMeta,
    Executions,
    CurrentExecutions,
    History,
    TransferTasks,
    TimerTasks,
    Namespaces,
    ShardMeta,
    Visibility,
    /// The cluster's node registry (group 0): every node that ever joined, and which were removed.
    Cluster,
    /// One record per schedule, on the shard its scheduler workflow id routes to.
    Schedules,
    /// One record per batch job (and a marker per running job), on the shard its job routes to.
    Batches,
}

impl Cf {
    /// Every column family, in id order.
    pub const ALL: [Cf; 14] = [
        Cf::RaftLog,
        Cf::RaftMeta,
        Cf::SmMeta,
        Cf::Executions,
        Cf::CurrentExecutions,
        Cf::History,
        Cf::TransferTasks,
        Cf::TimerTasks,
        Cf::Namespaces,
        Cf::ShardMeta,
        Cf::Visibility,
        Cf::Cluster,
        Cf::Schedules,
        Cf::Batches,
    ];

    /// The families replicated write batches may touch and snapshots carry.
    pub const STATE: [Cf; 11] = [
        Cf::Executions,
        Cf::CurrentExecutions,
        Cf::History,
        Cf::TransferTasks,
        Cf::TimerTasks,
        Cf::Namespaces,
        Cf::ShardMeta,
        Cf::Visibility,
        Cf::Cluster,
        Cf::Schedules,
        Cf::Batches,
    ];

    /// Stable numeric id.
    pub fn id(self) -> u8 {
        match self {
            Cf::RaftLog => 1,
            Cf::RaftMeta => 2,
            Cf::SmMeta => 3,
            Cf::Executions => 10,
            Cf::CurrentExecutions => 11,
            Cf::History => 12,
            Cf::TransferTasks => 13,
            Cf::TimerTasks => 14,
            Cf::Namespaces => 15,
            Cf::ShardMeta => 16,
            Cf::Visibility => 17,
            Cf::Cluster => 18,
            Cf::Schedules => 19,
            Cf::Batches => 20,
        }
    }

    /// Inverse of [`Cf::id`]; `None` for ids this build does not know.
    pub fn from_id(id: u8) -> Option<Cf> {
        Cf::ALL.into_iter().find(|cf| cf.id() == id)
    }

    /// RocksDB column family name.
    pub fn name(self) -> &'static str {
        match self {
            Cf::RaftLog => "raft_log",
            Cf::RaftMeta => "raft_meta",
            Cf::SmMeta => "sm_meta",
            Cf::Executions => "executions",
            Cf::CurrentExecutions => "current_executions",
            Cf::History => "history",
            Cf::TransferTasks => "transfer_tasks",
            Cf::TimerTasks => "timer_tasks",
            Cf::Namespaces => "namespaces",
            Cf::ShardMeta => "shard_meta",
            Cf::Visibility => "visibility",
            Cf::Cluster => "cluster",
            Cf::Schedules => "schedules",
            Cf::Batches => "batches",
        }
    }

    /// True for the families that replicated batches may write.
    pub fn is_state(self) -> bool {
        !matches!(self, Cf::RaftLog | Cf::RaftMeta | Cf::SmMeta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_names_are_unique_and_round_trip() {
        let mut ids: Vec<u8> = Cf::ALL.iter().map(|c| c.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), Cf::ALL.len());
        let mut names: Vec<&str> = Cf::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Cf::ALL.len());
        for cf in Cf::ALL {
            assert_eq!(Cf::from_id(cf.id()), Some(cf));
        }
        assert_eq!(Cf::from_id(0), None);
        assert!(Cf::STATE.iter().all(|c| c.is_state()));
        assert_eq!(
            Cf::ALL.iter().filter(|c| c.is_state()).count(),
            Cf::STATE.len()
        );
    }
}
