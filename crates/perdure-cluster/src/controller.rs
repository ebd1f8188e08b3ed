//! The membership controller: makes every group's Raft membership follow the node registry.
//!
//! It runs on every node but acts only on the meta group's leader, one operation at a time:
//! each round it adds every active node to every group as a learner (so every node holds every
//! group and can route any call from its own view of the leaders), places each group's voters
//! (`placement.rs`: the replication factor, spread evenly), and drops removed nodes. Every
//! change is carried out by the group's own leader (`change_group`), which refuses to promote a
//! learner that has not caught up. Rounds are idempotent: an operation cut short by a leader
//! change is finished by the next meta leader's rounds.
//!
//! It must never write to a group from a node that does not lead it, nor decide anything from a
//! clock inside a Raft apply.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use perdure_api::internal::change_group_request::Change;
use perdure_api::internal::cluster_client::ClusterClient;
use perdure_api::internal::{
    ChangeGroupRequest, HelloReply, JoinRequest, Learner, NodeIds, NodeState, RemoveRequest,
};
use perdure_raft::{Group, Peers, ProposeError, RaftNode};
use perdure_storage::{GroupId, Store};
use tokio::sync::{Mutex, Notify};
use tonic::Status;

use crate::placement;
use crate::registry::{self, RegistryError};

/// How often the meta leader reconciles memberships without being asked.
const ROUND_EVERY: Duration = Duration::from_secs(1);
/// A learner this many entries behind its leader is not promoted to voter yet.
const CATCH_UP_SLACK: u64 = 64;
/// How long `remove` waits for the node to leave every group.
const REMOVE_WAIT: Duration = Duration::from_secs(120);
/// How long a node may take to answer the liveness probe of leader balancing.
const LIVE_PROBE: Duration = Duration::from_millis(500);
/// How long a handover waits for the target to catch up, and then to win (proposals to the
/// group wait meanwhile).
const HANDOVER_WAIT: Duration = Duration::from_secs(1);
/// Marks a call already forwarded once, so it is never forwarded again.
pub const HOP_HEADER: &str = "x-perdure-hop";

pub struct Controller {
    node_id: u64,
    raft: Arc<RaftNode>,
    store: Store,
    peers: Arc<Peers>,
    shards: u32,
    replication: usize,
    /// One membership operation at a time on this node.
    ops: Mutex<()>,
    kick: Notify,
}

fn status(e: RegistryError) -> Status {
    match e {
        RegistryError::Removed(_) | RegistryError::OtherDataDir(_) => {
            Status::failed_precondition(e.to_string())
        }
        RegistryError::Raced(_) => Status::aborted(e.to_string()),
        RegistryError::Propose(p) => propose_status(p),
        RegistryError::Storage(_) | RegistryError::Decode { .. } => Status::internal(e.to_string()),
    }
}

fn propose_status(e: ProposeError) -> Status {
    match e {
        ProposeError::NotLeader { .. } | ProposeError::Timeout { .. } | ProposeError::Shutdown => {
            Status::unavailable(e.to_string())
        }
        ProposeError::Fatal(f) => Status::failed_precondition(f.to_string()),
    }
}

impl Controller {
    pub fn new(
        raft: Arc<RaftNode>,
        store: Store,
        peers: Arc<Peers>,
        shards: u32,
        replication: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            node_id: raft.node_id(),
            raft,
            store,
            peers,
            shards,
            replication,
            ops: Mutex::new(()),
            kick: Notify::new(),
        })
    }

    fn meta(&self) -> Result<Arc<Group>, Status> {
        self.raft
            .group(GroupId::META)
            .ok_or_else(|| Status::internal("no meta group on this node"))
    }

    /// What this node's copy of the registry says about `caller`.
    pub fn hello(&self, caller: u64) -> Result<HelloReply, Status> {
        let state = match registry::get(&self.store, caller).map_err(status)? {
            Some(r) if r.removed => NodeState::Removed,
            Some(_) => NodeState::Active,
            None => NodeState::Unknown,
        };
        Ok(HelloReply {
            node_id: self.node_id,
            fresh: false,
            shards: self.shards,
            caller_state: state as i32,
            cluster_id: registry::cluster_id(&self.store)
                .map_err(status)?
                .unwrap_or(0),
        })
    }

    /// The cluster's id as this node has applied it (`None` until the first meta leader chose
    /// it).
    pub fn cluster_id(&self) -> Result<Option<u64>, Status> {
        registry::cluster_id(&self.store).map_err(status)
    }

    /// The meta leader's client, or `None` when this node leads the meta group. Unavailable if
    /// the call was forwarded already or no leader is known.
    fn meta_leader(
        &self,
        forwarded: bool,
    ) -> Result<Option<ClusterClient<tonic::transport::Channel>>, Status> {
        let meta = self.meta()?;
        match meta.leader() {
            Some((id, _)) if id == self.node_id => Ok(None),
            Some(_) if forwarded => Err(Status::unavailable(
                "not the meta group's leader (leadership moved); retry",
            )),
            Some((_, addr)) => Ok(Some(ClusterClient::new(self.peers.channel(&addr)?))),
            None => Err(Status::unavailable("the meta group has no leader; retry")),
        }
    }

    fn forwarded<T>(&self, msg: T) -> tonic::Request<T> {
        let mut req = self.peers.request(msg);
        req.metadata_mut()
            .insert(HOP_HEADER, tonic::metadata::MetadataValue::from_static("1"));
        req
    }

    /// Registers node `req.node_id` (on the meta leader, forwarding there once if needed) and
    /// wakes the controller so the node is added to every group.
    pub async fn join(&self, req: JoinRequest, forwarded: bool) -> Result<(), Status> {
        if req.node_id == 0 || req.internal_addr.is_empty() {
            return Err(Status::invalid_argument(
                "join needs a node id >= 1 and an address",
            ));
        }
        if let Some(mut leader) = self.meta_leader(forwarded)? {
            return leader.join(self.forwarded(req)).await.map(|_| ());
        }
        let _op = self.ops.lock().await;
        let meta = self.meta()?;
        meta.read_barrier().await.map_err(propose_status)?;
        registry::register(
            &self.store,
            &meta,
            req.node_id,
            &req.internal_addr,
            req.data_id,
        )
        .await
        .map_err(status)?;
        tracing::info!(node = req.node_id, addr = %req.internal_addr, "node registered");
        self.kick.notify_one();
        Ok(())
    }

    /// Removes node `id` from the cluster for good: marks it removed, moves its voter slots to
    /// other nodes and drops it from every group. Returns once it is in no group (or fails with
    /// DeadlineExceeded while the controller keeps going).
    pub async fn remove(&self, req: RemoveRequest, forwarded: bool) -> Result<(), Status> {
        let id = req.node_id;
        if let Some(mut leader) = self.meta_leader(forwarded)? {
            return leader.remove(self.forwarded(req)).await.map(|_| ());
        }
        {
            let _op = self.ops.lock().await;
            let meta = self.meta()?;
            meta.read_barrier().await.map_err(propose_status)?;
            let known = registry::get(&self.store, id).map_err(status)?;
            let addr = self
                .raft
                .group_ids()
                .into_iter()
                .filter_map(|g| self.raft.group(g))
                .find_map(|g| g.members().addrs.get(&id).cloned());
            let Some(addr) = addr.or_else(|| known.as_ref().map(|r| r.addr.clone())) else {
                return Err(Status::not_found(format!(
                    "node {id} is not a member of this cluster"
                )));
            };
            if self
                .active_nodes()
                .map_err(status)?
                .keys()
                .all(|n| *n == id)
            {
                return Err(Status::failed_precondition(format!(
                    "node {id} is the last member; a cluster cannot remove all its nodes"
                )));
            }
            registry::mark_removed(&self.store, &meta, id, &addr)
                .await
                .map_err(status)?;
            tracing::info!(node = id, "node marked removed");
        }
        if id == self.node_id {
            // A node cannot watch itself leave: once out of a group it no longer hears about
            // that group. It is marked removed already (so nothing moves back to it); the
            // meta group, and with it this operation, goes to another voter.
            let meta = self.meta()?;
            let others: BTreeSet<u64> = meta
                .members()
                .voters
                .into_iter()
                .filter(|v| *v != id)
                .collect();
            let live = self.live_nodes(&others).await;
            let Some(to) = live.iter().copied().find(|n| *n != id) else {
                return Err(Status::unavailable(format!(
                    "node {id} leads the meta group and no other voter answers yet; retry"
                )));
            };
            self.hand_over(&meta, to).await?;
            return Err(Status::unavailable(format!(
                "node {id} handed the meta group to node {to}; retry the removal there"
            )));
        }
        let deadline = tokio::time::Instant::now() + REMOVE_WAIT;
        loop {
            if let Err(e) = self.reconcile().await {
                tracing::warn!(error = %e, "reconciling memberships after a removal");
            }
            let still_in = self
                .raft
                .group_ids()
                .into_iter()
                .filter_map(|g| self.raft.group(g))
                .filter(|g| g.members().contains(id))
                .count();
            if still_in == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Status::deadline_exceeded(format!(
                    "node {id} is still a member of {still_in} groups; the controller keeps moving it out"
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Carries out one membership change of a group this node leads.
    pub async fn change_group(&self, req: ChangeGroupRequest) -> Result<(), Status> {
        let g = self
            .raft
            .group(GroupId(req.group))
            .ok_or_else(|| Status::not_found(format!("no group {}", req.group)))?;
        let change = req
            .change
            .ok_or_else(|| Status::invalid_argument("change group: no change given"))?;
        if let Change::Campaign(_) = change {
            // Only a handover asks for this, and only of a voter.
            if !g.members().voters.contains(&self.node_id) {
                return Err(Status::failed_precondition("not a voter of this group"));
            }
            g.campaign().await.map_err(propose_status)?;
            return Ok(());
        }
        if !g.is_leader() {
            return Err(Status::unavailable(format!(
                "not the leader of group {}; retry",
                req.group
            )));
        }
        let done = match change {
            Change::AddLearner(l) => g.add_learner(l.node_id, &l.internal_addr).await,
            Change::SetVoters(v) => {
                let voters: BTreeSet<u64> = v.ids.into_iter().collect();
                check_caught_up(&g, &voters, false)?;
                g.set_voters(voters).await
            }
            Change::RemoveMembers(v) => g.remove_members(v.ids.into_iter().collect()).await,
            Change::TransferLeader(to) => return self.hand_over(&g, to).await,
            Change::Campaign(_) => return Err(Status::internal("campaign is handled above")),
        };
        done.map_err(propose_status)
    }

    /// On a group's leader: moves leadership to voter `to` (see `perdure_raft::transfer`).
    async fn hand_over(&self, g: &Group, to: u64) -> Result<(), Status> {
        let members = g.members();
        if !members.voters.contains(&to) || to == self.node_id {
            return Err(Status::invalid_argument(format!(
                "node {to} is not another voter of group {}",
                g.id()
            )));
        }
        let addr = members.addrs[&to].clone();
        if !g.lease_expired() {
            return Err(Status::failed_precondition(format!(
                "this node leads group {} since less than the leader lease; handover later",
                g.id()
            )));
        }
        // Holding proposals for a target that is behind (or gone) would only stall the group.
        check_caught_up(g, &BTreeSet::from([to]), true)?;
        let _held = g.pause_proposals();
        if !g.wait_replicated(to, HANDOVER_WAIT).await {
            return Err(Status::failed_precondition(format!(
                "node {to} did not catch up with group {} in time; leadership stays",
                g.id()
            )));
        }
        let campaign = ChangeGroupRequest {
            group: g.id().0,
            change: Some(Change::Campaign(true)),
        };
        ClusterClient::new(self.peers.channel(&addr)?)
            .change_group(self.peers.request(campaign))
            .await?;
        if g.wait_not_leader(HANDOVER_WAIT).await {
            tracing::info!(group = %g.id(), to, "leadership handed over");
            Ok(())
        } else {
            Err(Status::failed_precondition(format!(
                "node {to} did not take over group {}; leadership stays",
                g.id()
            )))
        }
    }

    /// Active nodes and their addresses: registered ones, plus members of the meta group that
    /// never registered (initial peers still starting) unless removed.
    fn active_nodes(&self) -> Result<BTreeMap<u64, String>, RegistryError> {
        let records = registry::list(&self.store)?;
        let mut active: BTreeMap<u64, String> = records
            .iter()
            .filter(|(_, r)| !r.removed)
            .map(|(id, r)| (*id, r.addr.clone()))
            .collect();
        if let Some(meta) = self.raft.group(GroupId::META) {
            for (id, addr) in meta.members().addrs {
                if !records.get(&id).is_some_and(|r| r.removed) {
                    active.entry(id).or_insert(addr);
                }
            }
        }
        Ok(active)
    }

    /// Sends `change` to the leader of group `g` (or runs it here when this node leads it).
    async fn change(&self, g: &Group, change: Change) -> Result<(), Status> {
        let req = ChangeGroupRequest {
            group: g.id().0,
            change: Some(change),
        };
        match g.leader() {
            Some((id, _)) if id == self.node_id => self.change_group(req).await,
            Some((_, addr)) => ClusterClient::new(self.peers.channel(&addr)?)
                .change_group(self.peers.request(req))
                .await
                .map(|_| ()),
            None => Err(Status::unavailable(format!(
                "group {} has no leader",
                g.id()
            ))),
        }
    }

    /// One reconciliation round, if this node leads the meta group. Returns how many changes it
    /// made or tried.
    pub async fn reconcile(&self) -> Result<usize, Status> {
        let meta = self.meta()?;
        if !meta.is_leader() {
            return Ok(0);
        }
        let _op = self.ops.lock().await;
        meta.read_barrier().await.map_err(propose_status)?;
        if registry::cluster_id(&self.store).map_err(status)?.is_none() {
            // Chosen here, by the leader, and written into the log: replicas never draw it.
            let id = random_id();
            registry::choose_cluster_id(&self.store, &meta, id)
                .await
                .map_err(status)?;
            tracing::info!(cluster_id = %format!("{id:016x}"), "cluster id chosen");
        }
        let removed: BTreeSet<u64> = registry::list(&self.store)
            .map_err(status)?
            .into_iter()
            .filter(|(_, r)| r.removed)
            .map(|(id, _)| id)
            .collect();
        let active = self.active_nodes().map_err(status)?;
        let ids: BTreeSet<u64> = active.keys().copied().collect();
        let groups: Vec<Arc<Group>> = self
            .raft
            .group_ids()
            .into_iter()
            .filter_map(|g| self.raft.group(g))
            .collect();
        let mut changes = 0;
        // 1. Every active node holds every group, as a learner at least. Each step stops as
        // soon as this node no longer leads the meta group: the new leader's rounds take over,
        // and two controllers must not work side by side.
        for g in &groups {
            if !meta.is_leader() {
                return Ok(changes);
            }
            let members = g.members();
            for (id, addr) in &active {
                if !members.contains(*id) {
                    changes += 1;
                    let learner = Change::AddLearner(Learner {
                        node_id: *id,
                        internal_addr: addr.clone(),
                    });
                    if let Err(e) = self.change(g, learner).await {
                        tracing::info!(group = %g.id(), node = id, error = %e, "adding a learner; retrying next round");
                    }
                }
            }
        }
        // 2. Voters where placement puts them.
        let current: placement::Voters = groups
            .iter()
            .map(|g| (g.id(), g.members().voters))
            .collect();
        let desired = placement::place(&current, &ids, self.replication);
        for g in &groups {
            if !meta.is_leader() {
                return Ok(changes);
            }
            let members = g.members();
            let want = &desired[&g.id()];
            if *want != members.voters && members.settled {
                changes += 1;
                match placement::voter_step(g.leader().map(|(l, _)| l), &members.voters, want) {
                    placement::VoterStep::HandOver(to) => {
                        if let Err(e) = self.change(g, Change::TransferLeader(to)).await {
                            tracing::info!(group = %g.id(), to, error = %e, "moving leadership off a leaving voter; retrying next round");
                        }
                    }
                    placement::VoterStep::SetVoters => {
                        let change = Change::SetVoters(NodeIds {
                            ids: want.iter().copied().collect(),
                        });
                        if let Err(e) = self.change(g, change).await {
                            tracing::info!(group = %g.id(), voters = ?want, error = %e, "placing voters; retrying next round");
                        }
                    }
                }
            }
        }
        // 3. Removed nodes leave, once they no longer vote.
        for g in &groups {
            if !meta.is_leader() {
                return Ok(changes);
            }
            let members = g.members();
            let gone: Vec<u64> = members
                .addrs
                .keys()
                .filter(|id| removed.contains(id) && !members.voters.contains(id))
                .copied()
                .collect();
            if !gone.is_empty() && members.settled {
                changes += 1;
                if let Err(e) = self
                    .change(g, Change::RemoveMembers(NodeIds { ids: gone }))
                    .await
                {
                    tracing::info!(group = %g.id(), error = %e, "removing members; retrying next round");
                }
            }
        }
        // 4. Once memberships are settled: leaders spread within one of even.
        if changes == 0 && meta.is_leader() {
            changes += self.balance_leaders(&groups, &ids).await;
        }
        Ok(changes)
    }

    /// Moves leaderships so that every active node leads within one of the same number of
    /// groups. Returns how many moves it tried.
    async fn balance_leaders(&self, groups: &[Arc<Group>], ids: &BTreeSet<u64>) -> usize {
        let mut leaders = BTreeMap::new();
        let mut voters = placement::Voters::new();
        for g in groups {
            let Some((leader, _)) = g.leader() else {
                return 0; // an election is running: balance later
            };
            leaders.insert(g.id(), leader);
            voters.insert(g.id(), g.members().voters);
        }
        // Only while every node answers: moving leaderships during a failure would add
        // pauses to a cluster that is already recovering, and could pick a node that is
        // about to disappear. A node that returns gets its share back then.
        let live = self.live_nodes(ids).await;
        if live != *ids {
            return 0;
        }
        let moves = placement::leader_moves(&voters, &leaders, &live);
        for (gid, to) in &moves {
            if !self.meta().is_ok_and(|m| m.is_leader()) {
                break;
            }
            let Some(g) = groups.iter().find(|g| g.id() == *gid) else {
                continue;
            };
            if g.members().voters.len() > placement::MAX_HANDOVER_VOTERS {
                continue; // a handover cannot win there (see the voter placement above)
            }
            if let Err(e) = self.change(g, Change::TransferLeader(*to)).await {
                tracing::info!(group = %gid, to, error = %e, "moving leadership; retrying next round");
            }
        }
        moves.len()
    }

    /// The nodes of `ids` that answer a Hello within [`LIVE_PROBE`] (this node included).
    async fn live_nodes(&self, ids: &BTreeSet<u64>) -> BTreeSet<u64> {
        let Ok(meta) = self.meta() else {
            return BTreeSet::new();
        };
        let addrs = meta.members().addrs;
        let mut live = BTreeSet::from([self.node_id]);
        let mut probes = tokio::task::JoinSet::new();
        for id in ids.iter().filter(|id| **id != self.node_id) {
            let Some(addr) = addrs.get(id).cloned() else {
                continue;
            };
            let peers = self.peers.clone();
            let (id, me) = (*id, self.node_id);
            probes.spawn(async move {
                let asked =
                    tokio::time::timeout(LIVE_PROBE, crate::admission::hello(&peers, &addr, me));
                (id, matches!(asked.await, Ok(Ok(_))))
            });
        }
        while let Some(done) = probes.join_next().await {
            if let Ok((id, true)) = done {
                live.insert(id);
            }
        }
        live.retain(|id| ids.contains(id));
        live
    }

    /// Reconciles every [`ROUND_EVERY`] (or when woken) while this node leads the meta group,
    /// until `stop` resolves.
    pub async fn run(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(ROUND_EVERY) => {}
                _ = self.kick.notified() => {}
            }
            if let Err(e) = self.reconcile().await {
                tracing::debug!(error = %e, "membership round failed; next round retries");
            }
        }
    }

    /// True when the cluster says this node was removed. A removed node stops hearing from
    /// its groups, so it cannot tell by itself: it asks the meta leader (or, failing that, any
    /// other member it knows) about itself.
    pub async fn is_removed(&self) -> bool {
        let Ok(meta) = self.meta() else {
            return false;
        };
        if let Ok(Some(r)) = registry::get(&self.store, self.node_id) {
            if r.removed {
                return true;
            }
        }
        let members = meta.members();
        let mut asked: Vec<String> = meta
            .leader()
            .filter(|(id, _)| *id != self.node_id)
            .map(|(_, addr)| vec![addr])
            .unwrap_or_default();
        asked.extend(
            members
                .addrs
                .iter()
                .filter(|(id, _)| **id != self.node_id)
                .map(|(_, a)| a.clone()),
        );
        for addr in asked {
            if let Ok(reply) = crate::admission::hello(&self.peers, &addr, self.node_id).await {
                return reply.caller_state() == NodeState::Removed;
            }
        }
        false
    }
}

/// A random non-zero id (0 means "not known" on the wire).
pub(crate) fn random_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the OS per process; mixing in the time and a counter makes
    // two ids of one process differ too.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish() | 1
}

/// Refuses to make a voter of a learner that is more than [`CATCH_UP_SLACK`] entries behind:
/// it could not acknowledge anything yet, so the group would lose a working voter's worth of
/// fault tolerance until it caught up.
fn check_caught_up(g: &Group, voters: &BTreeSet<u64>, even_voters: bool) -> Result<(), Status> {
    let members = g.members();
    let last = g.last_log_index().unwrap_or(0);
    let matched = g.matched().unwrap_or_default();
    for id in voters {
        if members.voters.contains(id) && !even_voters {
            continue;
        }
        if !members.contains(*id) {
            return Err(Status::failed_precondition(format!(
                "node {id} is not a member of group {}; add it as a learner first",
                g.id()
            )));
        }
        let at = matched.get(id).copied().flatten().unwrap_or(0);
        if at + CATCH_UP_SLACK < last {
            return Err(Status::failed_precondition(format!(
                "node {id} is {} entries behind in group {}; not promoted yet",
                last - at,
                g.id()
            )));
        }
    }
    Ok(())
}

/// Registers this node with the cluster: sends Join to the meta leader (found through this
/// node's own view, or through `via`) until it is accepted, refused (FailedPrecondition: the
/// error to stop on), or `limit` passes.
pub async fn register_self(
    controller: &Controller,
    via: &[String],
    addr: &str,
    data_id: u64,
    limit: Duration,
) -> Result<(), Status> {
    let req = JoinRequest {
        node_id: controller.node_id,
        internal_addr: addr.to_string(),
        data_id,
    };
    let deadline = tokio::time::Instant::now() + limit;
    let mut next_via = 0usize;
    loop {
        let local = controller.meta()?.leader().is_some();
        let attempt = if local || via.is_empty() {
            controller.join(req.clone(), false).await
        } else {
            let target = &via[next_via % via.len()];
            next_via += 1;
            match controller.peers.channel(target) {
                Ok(ch) => ClusterClient::new(ch)
                    .join(controller.peers.request(req.clone()))
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            }
        };
        match attempt {
            Ok(()) => return Ok(()),
            Err(e) if e.code() == tonic::Code::FailedPrecondition => return Err(e),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(e) => tracing::debug!(error = %e, "registering with the cluster; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
