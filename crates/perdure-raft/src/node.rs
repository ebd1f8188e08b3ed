//! [`RaftNode`]: every Raft group of this node, and [`Group`]: the handle the history layer
//! proposes through.
//!
//! Proposals go straight to openraft from any number of tasks; openraft batches concurrent ones
//! into one append and the syncer into one fsync. Nothing here may serialize proposals behind a
//! lock, and nothing here decides what a batch contains.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{Fatal, InitializeError};
use openraft::{BasicNode, Config, Raft, ServerState, SnapshotPolicy};
use perdure_storage::{ApplyOutcome, GroupId, Store, WriteBatch};
use tokio::sync::{mpsc, watch, Mutex};

use crate::error::{ProposeError, RaftError};
use crate::log_store::LogStore;
use crate::state_machine::StateMachine;
use crate::syncer::Syncer;
use crate::transport::client::Network;
use crate::transport::Peers;
use crate::TypeConfig;

type OrRaftError<E> = openraft::error::RaftError<u64, E>;

/// How long [`RaftNode::shutdown`] waits for openraft's tasks to release the store.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The Raft configuration every group uses unless [`RaftNode::open_with_config`] says otherwise:
/// fast heartbeats and elections so a restarted single node leads again within ~300 ms,
/// a snapshot every 10 000 entries, 1 000 entries kept behind it for lagging followers.
pub fn default_config() -> Config {
    Config {
        cluster_name: "perdure".into(),
        heartbeat_interval: 50,
        election_timeout_min: 150,
        election_timeout_max: 300,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(10_000),
        max_in_snapshot_log_to_keep: 1_000,
        ..Default::default()
    }
}

/// The configuration of a multi-node cluster. openraft uses the heartbeat interval also as the
/// timeout of every AppendEntries call, so it must cover a loaded node's answer time, not just
/// the wire: at 100 ms, a busy 2-core node timed out its healthy peers and stalled
/// replication. Elections start after 1-2 s of silence, so a dead leader is replaced in about
/// two seconds while a slow one is not deposed.
pub fn cluster_config() -> Config {
    Config {
        heartbeat_interval: 300,
        election_timeout_min: 1000,
        election_timeout_max: 2000,
        ..default_config()
    }
}

/// `config` with a snapshot every `entries` log entries, keeping half as many (at most 1 000)
/// behind it for followers that lag a little. Small values make followers that were away
/// catch up by snapshot (tests); large ones make snapshots rarer.
pub fn with_snapshot_every(config: Config, entries: u64) -> Config {
    let entries = entries.max(1);
    Config {
        snapshot_policy: SnapshotPolicy::LogsSinceLast(entries),
        max_in_snapshot_log_to_keep: (entries / 2).min(1_000),
        ..config
    }
}

/// How long a proposal may wait for its commit. A leader that lost its quorum cannot commit;
/// the caller gets `ProposeError::Timeout` (Unavailable, which the SDKs retry) well before a
/// client's own deadline instead of hanging.
pub const PROPOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a read barrier may take to confirm leadership with a quorum.
pub const READ_BARRIER_TIMEOUT: Duration = Duration::from_secs(5);

/// All Raft groups of this node, sharing one [`Store`].
pub struct RaftNode {
    node_id: u64,
    /// For checksums; released by [`RaftNode::shutdown`] like every other store handle.
    store: std::sync::Mutex<Option<Store>>,
    groups: BTreeMap<GroupId, Arc<Group>>,
    syncer: std::sync::Mutex<Syncer>,
    // Every log store / state machine / snapshot builder holds a clone of the sender; the
    // channel closes once openraft has dropped them all, i.e. the store is no longer used.
    alive: Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>,
}

/// One Raft group on this node.
pub struct Group {
    id: GroupId,
    raft: Raft<TypeConfig>,
    leadership: watch::Receiver<Option<u64>>,
    /// When this node last became the group's leader (None while it does not lead).
    pub(crate) leading_since: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    /// True while a leadership handover holds new proposals back (see `transfer.rs`).
    pub(crate) paused: watch::Sender<bool>,
}

impl RaftNode {
    /// Starts every group in `groups` on `store` with [`default_config`]. Groups recover their
    /// log, vote and applied state from the store; a fresh store needs
    /// [`RaftNode::bootstrap_single_node`].
    pub async fn open(
        store: Store,
        node_id: u64,
        groups: &[GroupId],
    ) -> Result<Arc<RaftNode>, RaftError> {
        Self::open_with_config(store, node_id, groups, default_config()).await
    }

    /// [`RaftNode::open`] with an explicit openraft configuration (tests use small snapshot
    /// thresholds).
    pub async fn open_with_config(
        store: Store,
        node_id: u64,
        groups: &[GroupId],
        config: Config,
    ) -> Result<Arc<RaftNode>, RaftError> {
        Self::open_cluster(store, node_id, groups, config, Peers::none()).await
    }

    /// Opens every group in `groups`, talking to other nodes through `peers`.
    pub async fn open_cluster(
        store: Store,
        node_id: u64,
        groups: &[GroupId],
        config: Config,
        peers: Arc<Peers>,
    ) -> Result<Arc<RaftNode>, RaftError> {
        let config = Arc::new(config.validate()?);
        let syncer = Syncer::start(store.clone()).map_err(|e| {
            RaftError::Fatal(Fatal::StorageError(
                openraft::StorageIOError::write_logs(&e).into(),
            ))
        })?;
        let (alive_tx, alive_rx) = mpsc::channel(1);
        let mut map = BTreeMap::new();
        for &g in groups {
            let log = LogStore::new(store.clone(), g, syncer.handle(), alive_tx.clone());
            let sm = StateMachine::open(store.clone(), g, alive_tx.clone())?;
            let network = Network {
                peers: peers.clone(),
                group: g,
            };
            let raft = Raft::new(node_id, config.clone(), network, log, sm).await?;
            let leading_since = Arc::new(std::sync::Mutex::new(None));
            let leadership = watch_leadership(&raft, node_id, leading_since.clone());
            tracing::info!(group = %g, node_id, "raft group started");
            map.insert(
                g,
                Arc::new(Group {
                    id: g,
                    raft,
                    leadership,
                    leading_since,
                    paused: watch::channel(false).0,
                }),
            );
        }
        Ok(Arc::new(RaftNode {
            node_id,
            store: std::sync::Mutex::new(Some(store)),
            groups: map,
            syncer: std::sync::Mutex::new(syncer),
            alive: Mutex::new(Some((alive_tx, alive_rx))),
        }))
    }

    /// This node's Raft id.
    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// First start of a single-node cluster: initializes every group that is not yet
    /// initialized with membership `{node_id: addr}`. Idempotent across restarts.
    pub async fn bootstrap_single_node(&self, addr: &str) -> Result<(), RaftError> {
        self.bootstrap(&BTreeMap::from([(self.node_id, addr.to_string())]))
            .await
    }

    /// First start of a cluster: initializes every group that is not yet initialized with
    /// `members` (node id -> internal address) as voters. Only one node of a new cluster calls
    /// this; the others learn the membership from its first AppendEntries. Idempotent.
    pub async fn bootstrap(&self, members: &BTreeMap<u64, String>) -> Result<(), RaftError> {
        self.bootstrap_groups(members, |_| true).await
    }

    /// [`RaftNode::bootstrap`] for the groups `pick` selects. The node that initializes a group
    /// campaigns first and so becomes its first leader: a new cluster spreads its leaders by
    /// having each node initialize its own share.
    pub async fn bootstrap_groups(
        &self,
        members: &BTreeMap<u64, String>,
        pick: impl Fn(GroupId) -> bool,
    ) -> Result<(), RaftError> {
        let members: BTreeMap<u64, BasicNode> = members
            .iter()
            .map(|(id, addr)| (*id, BasicNode::new(addr)))
            .collect();
        for (g, group) in self.groups.iter().filter(|(g, _)| pick(**g)) {
            if group.raft.is_initialized().await? {
                continue;
            }
            match group.raft.initialize(members.clone()).await {
                Ok(()) => tracing::info!(group = %g, members = members.len(), "initialized group"),
                Err(OrRaftError::APIError(InitializeError::NotAllowed(_))) => {}
                Err(source) => return Err(RaftError::Initialize { group: *g, source }),
            }
        }
        Ok(())
    }

    /// A fingerprint of group `g`'s applied state on this node (reads the whole group).
    pub fn checksum(&self, g: GroupId) -> Result<crate::GroupChecksum, RaftError> {
        let store = self
            .store
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(RaftError::Fatal(Fatal::Stopped))?;
        crate::checksum::checksum(&store, g)
    }

    /// The handle of group `g`, if this node runs it.
    pub fn group(&self, g: GroupId) -> Option<Arc<Group>> {
        self.groups.get(&g).cloned()
    }

    /// Ids of every group this node runs, ascending.
    pub fn group_ids(&self) -> Vec<GroupId> {
        self.groups.keys().copied().collect()
    }

    /// Stops every group and waits until nothing of this node still uses the store, so the
    /// caller can drop its own [`Store`] clones and reopen the directory. Later proposals fail
    /// with [`ProposeError::Shutdown`].
    pub async fn shutdown(&self) {
        for (g, group) in &self.groups {
            if let Err(e) = group.raft.shutdown().await {
                tracing::error!(group = %g, error = %e, "raft group shutdown failed");
            }
        }
        if let Ok(mut s) = self.syncer.lock() {
            s.stop();
        }
        self.store.lock().unwrap_or_else(|e| e.into_inner()).take();
        let Some((tx, mut rx)) = self.alive.lock().await.take() else {
            return;
        };
        drop(tx);
        if tokio::time::timeout(SHUTDOWN_GRACE, rx.recv())
            .await
            .is_err()
        {
            tracing::warn!("raft tasks still hold the store after shutdown grace period");
        }
    }
}

/// Publishes `Some(term)` while this node leads the group, `None` otherwise.
fn watch_leadership(
    raft: &Raft<TypeConfig>,
    node_id: u64,
    leading_since: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
) -> watch::Receiver<Option<u64>> {
    let (tx, rx) = watch::channel(None);
    let mut metrics = raft.metrics();
    tokio::spawn(async move {
        loop {
            let lead = {
                let m = metrics.borrow_and_update();
                (m.state == ServerState::Leader && m.current_leader == Some(node_id))
                    .then_some(m.current_term)
            };
            tx.send_if_modified(|cur| {
                let changed = *cur != lead;
                if changed {
                    *leading_since.lock().unwrap_or_else(|e| e.into_inner()) =
                        lead.map(|_| std::time::Instant::now());
                }
                *cur = lead;
                changed
            });
            // Ends when the group's core stops (metrics sender dropped) or nobody listens.
            tokio::select! {
                r = metrics.changed() => if r.is_err() { break },
                _ = tx.closed() => break,
            }
        }
        tx.send_replace(None);
    });
    rx
}

impl Group {
    pub fn id(&self) -> GroupId {
        self.id
    }

    /// Proposes `batch` and waits until it is committed and applied locally; returns the apply
    /// outcome, identical on every replica. A batch touching keys outside this group fails with
    /// `ProposeError::Fatal(RaftError::Storage(StorageError::ForeignKey { .. }))` without being
    /// proposed.
    ///
    /// A proposal that is not committed within [`PROPOSE_TIMEOUT`] fails with
    /// [`ProposeError::Timeout`]; its outcome is then unknown (it may still commit).
    pub async fn propose(&self, batch: WriteBatch) -> Result<ApplyOutcome, ProposeError> {
        batch.validate(self.id).map_err(RaftError::from)?;
        let write = async {
            // A handover in progress holds proposals for a moment (see `transfer.rs`).
            let mut paused = self.paused.subscribe();
            let _ = paused.wait_for(|p| !*p).await;
            self.raft.client_write(batch).await
        };
        let written = tokio::time::timeout(PROPOSE_TIMEOUT, write)
            .await
            .map_err(|_| ProposeError::Timeout {
                group: self.id,
                after: PROPOSE_TIMEOUT,
            })?;
        Ok(written?.data)
    }

    /// A read barrier: returns once this node has confirmed with a quorum that it still leads
    /// the group and has applied everything committed before the call, so a read of local
    /// state that follows is not stale. A deposed leader cut off from the majority gets
    /// `NotLeader` or `Timeout` instead of serving old data.
    pub async fn read_barrier(&self) -> Result<(), ProposeError> {
        let confirmed = tokio::time::timeout(READ_BARRIER_TIMEOUT, self.raft.ensure_linearizable())
            .await
            .map_err(|_| ProposeError::Timeout {
                group: self.id,
                after: READ_BARRIER_TIMEOUT,
            })?;
        match confirmed {
            Ok(_) => Ok(()),
            Err(OrRaftError::APIError(openraft::error::CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(ProposeError::NotLeader {
                    leader: f.leader_id,
                })
            }
            Err(OrRaftError::APIError(openraft::error::CheckIsLeaderError::QuorumNotEnough(_))) => {
                Err(ProposeError::NotLeader { leader: None })
            }
            Err(OrRaftError::Fatal(Fatal::Stopped)) => Err(ProposeError::Shutdown),
            Err(OrRaftError::Fatal(f)) => Err(RaftError::Fatal(f).into()),
        }
    }

    /// The node this node believes leads the group, with its internal address (from the
    /// group's membership). `None` while no leader is known.
    pub fn leader(&self) -> Option<(u64, String)> {
        let m = self.raft.metrics();
        let m = m.borrow();
        let id = m.current_leader?;
        let addr = m.membership_config.membership().get_node(&id)?.addr.clone();
        Some((id, addr))
    }

    /// Like [`Group::leader`], but waits up to `timeout` for a leader to be known (an election
    /// or a leadership move in progress usually ends within a second or two).
    pub async fn await_leader(&self, timeout: Duration) -> Option<(u64, String)> {
        if let Some(l) = self.leader() {
            return Some(l);
        }
        let _ = self
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a known leader")
            .await;
        self.leader()
    }

    /// How many voters the group's current membership has.
    pub fn voter_count(&self) -> usize {
        self.raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .count()
    }

    /// True while this node leads the group.
    pub fn is_leader(&self) -> bool {
        self.leadership.borrow().is_some()
    }

    /// `Some(term)` while this node leads the group, `None` otherwise; every leadership change
    /// is published.
    pub fn leadership(&self) -> watch::Receiver<Option<u64>> {
        self.leadership.clone()
    }

    /// Waits up to `timeout` for this node to lead the group.
    pub async fn wait_leader(&self, timeout: Duration) -> Result<(), ProposeError> {
        let mut rx = self.leadership.clone();
        let waited = tokio::time::timeout(timeout, rx.wait_for(Option::is_some))
            .await
            .map(|r| r.is_ok());
        match waited {
            Ok(true) => Ok(()),
            Ok(false) => Err(ProposeError::Shutdown),
            Err(_) => Err(ProposeError::NotLeader {
                leader: self.raft.metrics().borrow().current_leader,
            }),
        }
    }

    /// The underlying openraft handle, for metrics and tests.
    #[doc(hidden)]
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }
}
