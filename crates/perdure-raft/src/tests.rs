//! End-to-end tests of a single-node [`RaftNode`] on a real RocksDB: propose/apply, rejection,
//! restart recovery, snapshot + log purge (and a lost snapshot file), and concurrent proposals. Every wait has a deadline.

use std::sync::Arc;
use std::time::Duration;

use openraft::{EntryPayload, SnapshotPolicy};
use perdure_storage::{
    keys, ApplyOutcome, Cf, Check, Expect, GroupId, Op, StorageError, Store, WriteBatch,
};

use crate::log_store::decode;
use crate::snapshot_format::SnapshotReader;
use crate::types::Entry;
use crate::{default_config, ProposeError, RaftError, RaftNode};

const DEADLINE: Duration = Duration::from_secs(10);
const ADDR: &str = "127.0.0.1:7233";

async fn start(store: &Store, groups: &[GroupId], config: openraft::Config) -> Arc<RaftNode> {
    let node = RaftNode::open_with_config(store.clone(), 1, groups, config)
        .await
        .unwrap();
    node.bootstrap_single_node(ADDR).await.unwrap();
    for g in groups {
        node.group(*g).unwrap().wait_leader(DEADLINE).await.unwrap();
    }
    node
}

fn key(g: GroupId, i: u64) -> Vec<u8> {
    keys::execution(g, "ns", &format!("wf-{i}"), "run")
}

/// Creates execution `i` if absent.
fn create(g: GroupId, i: u64) -> WriteBatch {
    WriteBatch {
        checks: vec![Check {
            cf: Cf::Executions,
            key: key(g, i),
            expect: Expect::Absent,
        }],
        ops: vec![Op::Put {
            cf: Cf::Executions,
            key: key(g, i),
            value: format!("v{i}").into_bytes(),
        }],
    }
}

fn value(store: &Store, g: GroupId, i: u64) -> Option<Vec<u8>> {
    store.get(Cf::Executions, &key(g, i)).unwrap()
}

fn normal_log_entries(store: &Store, g: GroupId) -> usize {
    store
        .scan_prefix(Cf::RaftLog, &keys::group_prefix(g), None, usize::MAX)
        .unwrap()
        .iter()
        .filter(|(_, v)| matches!(decode::<Entry>(v).unwrap().payload, EntryPayload::Normal(_)))
        .count()
}

#[tokio::test]
async fn proposed_batch_is_applied_and_readable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let g = GroupId(1);
    let node = start(&store, &[GroupId(0), g], default_config()).await;
    let group = node.group(g).unwrap();
    assert!(group.is_leader());
    let term = group.raft().metrics().borrow().current_term;
    assert_eq!(*group.leadership().borrow(), Some(term));

    assert_eq!(
        group.propose(create(g, 1)).await.unwrap(),
        ApplyOutcome::Applied
    );
    assert_eq!(value(&store, g, 1), Some(b"v1".to_vec()));
    // Group 0 saw nothing.
    assert!(node.group(GroupId(9)).is_none());
    assert_eq!(value(&store, GroupId(0), 1), None);
    node.shutdown().await;
}

#[tokio::test]
async fn failing_check_rejects_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let g = GroupId(1);
    let node = start(&store, &[g], default_config()).await;
    let group = node.group(g).unwrap();

    let mut cas = create(g, 7);
    cas.checks.insert(
        0,
        Check {
            cf: Cf::ShardMeta,
            key: keys::shard_meta(g),
            expect: Expect::Absent,
        },
    );
    cas.checks.push(Check {
        cf: Cf::Executions,
        key: key(g, 8),
        expect: Expect::Equals(b"nope".to_vec()),
    });
    let applied_before = group.raft().metrics().borrow().last_applied;
    assert_eq!(
        group.propose(cas).await.unwrap(),
        ApplyOutcome::Rejected { check: 2 }
    );
    assert_eq!(value(&store, g, 7), None);
    // The entry was still applied (its index advanced) — it just had no effect.
    assert!(group.raft().metrics().borrow().last_applied > applied_before);

    // Creating twice: the second is rejected by its Absent check.
    assert_eq!(
        group.propose(create(g, 7)).await.unwrap(),
        ApplyOutcome::Applied
    );
    let mut again = create(g, 7);
    if let Op::Put { value, .. } = &mut again.ops[0] {
        *value = b"other".to_vec();
    }
    assert_eq!(
        group.propose(again).await.unwrap(),
        ApplyOutcome::Rejected { check: 0 }
    );
    assert_eq!(value(&store, g, 7), Some(b"v7".to_vec()));

    // A batch writing another group's keys is refused before it reaches the log.
    let last_log = group.raft().metrics().borrow().last_log_index;
    match group.propose(create(GroupId(2), 1)).await {
        Err(ProposeError::Fatal(RaftError::Storage(StorageError::ForeignKey {
            group: 1, ..
        }))) => {}
        other => panic!("expected ForeignKey, got {other:?}"),
    }
    assert_eq!(group.raft().metrics().borrow().last_log_index, last_log);
    node.shutdown().await;
}

#[tokio::test]
async fn restart_recovers_every_group_and_accepts_new_proposals() {
    let dir = tempfile::tempdir().unwrap();
    let groups = [GroupId(0), GroupId(1), GroupId(2)];
    let mut applied = Vec::new();
    {
        let store = Store::open(dir.path()).unwrap();
        let node = start(&store, &groups, default_config()).await;
        for g in groups {
            let group = node.group(g).unwrap();
            for i in 0..5 {
                assert_eq!(
                    group.propose(create(g, i)).await.unwrap(),
                    ApplyOutcome::Applied
                );
            }
            applied.push(group.raft().metrics().borrow().last_applied);
        }
        let mut leadership = node.group(GroupId(1)).unwrap().leadership();
        node.shutdown().await;
        // Leadership is withdrawn when the group stops.
        tokio::time::timeout(DEADLINE, leadership.wait_for(Option::is_none))
            .await
            .unwrap()
            .ok();
        assert_eq!(*leadership.borrow(), None);
        assert!(matches!(
            node.group(GroupId(1))
                .unwrap()
                .propose(create(GroupId(1), 99))
                .await,
            Err(ProposeError::Shutdown)
        ));
    }
    // Reopening the directory proves shutdown released every handle on the database.
    let store = Store::open(dir.path()).unwrap();
    let node = start(&store, &groups, default_config()).await;
    for (g, before) in groups.into_iter().zip(applied) {
        let group = node.group(g).unwrap();
        let after = group.raft().metrics().borrow().last_applied;
        assert!(after >= before, "{g}: applied {after:?} < {before:?}");
        for i in 0..5 {
            assert_eq!(value(&store, g, i), Some(format!("v{i}").into_bytes()));
            // Already-applied state is what new proposals are checked against.
            assert_eq!(
                group.propose(create(g, i)).await.unwrap(),
                ApplyOutcome::Rejected { check: 0 }
            );
        }
        assert_eq!(
            group.propose(create(g, 5)).await.unwrap(),
            ApplyOutcome::Applied
        );
        assert_eq!(value(&store, g, 5), Some(b"v5".to_vec()));
    }
    node.shutdown().await;
}

#[tokio::test]
async fn snapshot_purges_log_and_restart_still_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let g = GroupId(1);
    let config = openraft::Config {
        snapshot_policy: SnapshotPolicy::LogsSinceLast(20),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..default_config()
    };
    let purged_index;
    {
        let store = Store::open(dir.path()).unwrap();
        let node = start(&store, &[g], config.clone()).await;
        let group = node.group(g).unwrap();
        for i in 0..50 {
            assert_eq!(
                group.propose(create(g, i)).await.unwrap(),
                ApplyOutcome::Applied
            );
        }
        let m = group
            .raft()
            .wait(Some(DEADLINE))
            .metrics(
                |m| m.snapshot.is_some() && m.purged.is_some(),
                "snapshot and purge",
            )
            .await
            .unwrap();
        purged_index = m.purged.unwrap().index;
        assert!(purged_index >= 20, "purged only up to {purged_index}");
        let first_left = store
            .scan_prefix(Cf::RaftLog, &keys::group_prefix(g), None, 1)
            .unwrap();
        if let Some((k, _)) = first_left.first() {
            assert!(keys::decode_raft_log_index(k).unwrap() > purged_index);
        }
        node.shutdown().await;
    }
    let store = Store::open(dir.path()).unwrap();
    let node = start(&store, &[g], config).await;
    let group = node.group(g).unwrap();
    let m = group.raft().metrics().borrow().clone();
    assert!(m.purged.is_some_and(|p| p.index >= purged_index));
    assert!(m.snapshot.is_some());
    for i in 0..50 {
        assert_eq!(value(&store, g, i), Some(format!("v{i}").into_bytes()));
    }
    assert_eq!(
        group.propose(create(g, 0)).await.unwrap(),
        ApplyOutcome::Rejected { check: 0 }
    );
    assert_eq!(
        group.propose(create(g, 50)).await.unwrap(),
        ApplyOutcome::Applied
    );

    // The stored snapshot holds the group's state at its log id: executions only, as created.
    let snap = group.raft().get_snapshot().await.unwrap().unwrap();
    let pairs = read_pairs(snap.snapshot.into_std().await);
    assert!(pairs.len() >= 20);
    for (cf, k, v) in &pairs {
        assert_eq!(*cf, Cf::Executions);
        let i = (0..50).find(|i| key(g, *i) == *k).unwrap();
        assert_eq!(*v, format!("v{i}").into_bytes());
    }
    node.shutdown().await;
}

/// Every pair of a snapshot file, verified.
fn read_pairs(mut file: std::fs::File) -> Vec<(Cf, Vec<u8>, Vec<u8>)> {
    use std::io::Seek;
    let len = file.metadata().unwrap().len();
    file.rewind().unwrap();
    let mut r = SnapshotReader::new(std::io::BufReader::new(file), len).unwrap();
    let mut out = Vec::new();
    while let Some(p) = r.next_pair().unwrap() {
        out.push((Cf::from_id(p.0).unwrap(), p.1, p.2));
    }
    out
}

#[tokio::test]
async fn snapshot_with_a_lost_file_is_rebuilt_at_restart() {
    let dir = tempfile::tempdir().unwrap();
    let g = GroupId(1);
    let config = openraft::Config {
        snapshot_policy: SnapshotPolicy::LogsSinceLast(20),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..default_config()
    };
    let snap_dir = dir.path().join("snapshots").join("g1");
    let lost;
    {
        let store = Store::open(dir.path()).unwrap();
        let node = start(&store, &[g], config.clone()).await;
        let group = node.group(g).unwrap();
        for i in 0..30 {
            group.propose(create(g, i)).await.unwrap();
        }
        group
            .raft()
            .wait(Some(DEADLINE))
            .metrics(|m| m.purged.is_some(), "purge")
            .await
            .unwrap();
        node.shutdown().await;
        let files: Vec<_> = std::fs::read_dir(&snap_dir).unwrap().collect();
        assert_eq!(files.len(), 1, "exactly the current snapshot file");
        lost = files[0].as_ref().unwrap().path();
    }
    // The log below the snapshot is gone, so the snapshot is the only copy openraft can send:
    // with its file lost, startup must notice and rebuild it from the applied state.
    std::fs::remove_file(&lost).unwrap();
    let store = Store::open(dir.path()).unwrap();
    let node = start(&store, &[g], config).await;
    let group = node.group(g).unwrap();
    let snap = group.raft().get_snapshot().await.unwrap().unwrap();
    assert!(snap.meta.last_log_id.is_some());
    let pairs = read_pairs(snap.snapshot.into_std().await);
    assert!(pairs.len() >= 20);
    let files: Vec<_> = std::fs::read_dir(&snap_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_ne!(files[0], lost);
    for i in 0..30 {
        assert_eq!(value(&store, g, i), Some(format!("v{i}").into_bytes()));
    }
    node.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_proposals_across_groups_apply_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let groups = [GroupId(1), GroupId(2), GroupId(3), GroupId(4)];
    let node = start(&store, &groups, default_config()).await;

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000u64 {
        let group = node.group(groups[(i % 4) as usize]).unwrap();
        tasks.spawn(async move {
            let g = group.id();
            group.propose(create(g, i)).await
        });
    }
    let run = async {
        while let Some(res) = tasks.join_next().await {
            assert_eq!(res.unwrap().unwrap(), ApplyOutcome::Applied);
        }
    };
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .unwrap();

    for (n, g) in groups.into_iter().enumerate() {
        let rows = store
            .scan_prefix(Cf::Executions, &keys::group_prefix(g), None, usize::MAX)
            .unwrap();
        assert_eq!(rows.len(), 250, "{g}");
        assert_eq!(normal_log_entries(&store, g), 250, "{g}");
        for i in (n as u64..1000).step_by(4) {
            assert_eq!(value(&store, g, i), Some(format!("v{i}").into_bytes()));
        }
    }
    node.shutdown().await;
}

#[tokio::test]
async fn received_snapshot_installs_through_the_state_machine_interface() {
    use openraft::storage::RaftStateMachine;
    use tokio::io::AsyncWriteExt;

    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let g = GroupId(1);
    let config = openraft::Config {
        snapshot_policy: SnapshotPolicy::LogsSinceLast(10),
        ..default_config()
    };
    let store_a = Store::open(dir_a.path()).unwrap();
    let node = start(&store_a, &[g], config).await;
    let group = node.group(g).unwrap();
    for i in 0..30 {
        group.propose(create(g, i)).await.unwrap();
    }
    group
        .raft()
        .wait(Some(DEADLINE))
        .metrics(|m| m.snapshot.is_some_and(|s| s.index >= 10), "snapshot")
        .await
        .unwrap();
    let mut sent = group.raft().get_snapshot().await.unwrap().unwrap();

    let store_b = Store::open(dir_b.path()).unwrap();
    let (alive, _keep) = tokio::sync::mpsc::channel(1);
    let mut sm = crate::state_machine::StateMachine::open(store_b.clone(), g, alive).unwrap();
    assert!(sm.get_current_snapshot().await.unwrap().is_none());
    // As openraft's receiver does: write the streamed bytes, shut the file down, install.
    let mut received = sm.begin_receiving_snapshot().await.unwrap();
    tokio::io::copy(&mut sent.snapshot, &mut received)
        .await
        .unwrap();
    received.shutdown().await.unwrap();
    sm.install_snapshot(&sent.meta, received).await.unwrap();

    let (applied, membership) = sm.applied_state().await.unwrap();
    assert_eq!(applied, sent.meta.last_log_id);
    assert_eq!(membership, sent.meta.last_membership);
    let current = sm.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, sent.meta);
    let in_snapshot = read_pairs(current.snapshot.into_std().await);
    let on_b = store_b
        .scan_prefix(Cf::Executions, &keys::group_prefix(g), None, usize::MAX)
        .unwrap();
    // Index 10 covers at least 8 creations after the membership and blank entries.
    assert!(on_b.len() >= 8, "{}", on_b.len());
    assert_eq!(
        in_snapshot,
        on_b.into_iter()
            .map(|(k, v)| (Cf::Executions, k, v))
            .collect::<Vec<_>>()
    );
    node.shutdown().await;
}
