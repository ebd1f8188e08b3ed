//! The node-local files of a data directory: the shard count it was created with and the id of
//! the node that owns it. Both are fixed once written: every workflow's shard is a hash modulo
//! the count, and a node's Raft log and votes belong to its id. A directory created for another
//! count or another node id refuses to start instead of serving (or voting) under a new one.
//!
//! Files are written atomically (temporary file, fsync, rename, fsync of the directory), so a
//! crash never leaves a half-written file behind. Nothing here ever rewrites a file.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context};

const SHARDS_FILE: &str = "PERDURE_SHARDS";
const NODE_FILE: &str = "PERDURE_NODE_ID";
const DATA_ID_FILE: &str = "PERDURE_DATA_ID";
const CLUSTER_ID_FILE: &str = "PERDURE_CLUSTER_ID";

/// The id of the cluster `dir` belongs to, once recorded.
pub(crate) fn recorded_cluster_id(dir: &Path) -> anyhow::Result<Option<u64>> {
    read_number(dir, CLUSTER_ID_FILE)
}

/// Records `id` as the cluster of `dir`, or checks that it is the one recorded: a data
/// directory never moves to another cluster.
pub(crate) fn claim_cluster_id(dir: &Path, id: u64) -> anyhow::Result<()> {
    match read_number(dir, CLUSTER_ID_FILE)? {
        Some(n) if n == id => Ok(()),
        Some(n) => bail!(
            "data dir {} belongs to cluster {n:016x}, not to this cluster ({id:016x})",
            dir.display()
        ),
        None => write_once(dir, CLUSTER_ID_FILE, id),
    }
}

/// True when `dir` holds no node yet (missing, empty, or never claimed by a node id): a node
/// starting on it has no Raft state and must be admitted by its peers first.
pub(crate) fn is_fresh(dir: &Path) -> anyhow::Result<bool> {
    Ok(read_number(dir, NODE_FILE)?.is_none())
}

/// The shard count recorded in `dir`, if any.
pub(crate) fn recorded_shard_count(dir: &Path) -> anyhow::Result<Option<u32>> {
    Ok(read_number(dir, SHARDS_FILE)?.map(|n| n as u32))
}

/// The random id of this data directory, chosen the first time it is asked for. The cluster's
/// registry binds a node id to it, so a node that lost its directory is recognised.
pub(crate) fn data_id(dir: &Path) -> anyhow::Result<u64> {
    if let Some(id) = read_number(dir, DATA_ID_FILE)? {
        return Ok(id);
    }
    // Never 0: the registry uses 0 for "never registered".
    let id = uuid::Uuid::new_v4().as_u64_pair().0 | 1;
    write_once(dir, DATA_ID_FILE, id)?;
    Ok(id)
}

/// The recorded shard count of `dir`, or `requested` (recorded now) for a new directory.
pub(crate) fn shard_count(dir: &Path, requested: u32) -> anyhow::Result<u32> {
    if requested == 0 {
        bail!("shard count must be at least 1");
    }
    match read_number(dir, SHARDS_FILE)? {
        Some(0) => bail!("{} says 0 shards", dir.join(SHARDS_FILE).display()),
        Some(n) => Ok(n as u32),
        None => {
            write_once(dir, SHARDS_FILE, requested.into())?;
            Ok(requested)
        }
    }
}

/// Like [`shard_count`] but a recorded count different from `requested` is an error: a cluster
/// node is told the count by its configuration, and a mismatch means a wrong data dir or config.
pub(crate) fn expect_shard_count(dir: &Path, requested: u32) -> anyhow::Result<u32> {
    let n = shard_count(dir, requested)?;
    if n != requested {
        bail!(
            "data dir {} was created with {n} shards but the configuration says {requested}; \
             the shard count of a cluster never changes",
            dir.display()
        );
    }
    Ok(n)
}

/// Records `node_id` as the owner of a new `dir`, or checks that an existing one belongs to it.
pub(crate) fn claim_node_id(dir: &Path, node_id: u64) -> anyhow::Result<()> {
    match read_number(dir, NODE_FILE)? {
        Some(n) if n == node_id => Ok(()),
        Some(n) => bail!(
            "data dir {} belongs to node {n}, not node {node_id}: a node's log and votes cannot \
             change owner (wipe the directory to rejoin as a new node)",
            dir.display()
        ),
        None => write_once(dir, NODE_FILE, node_id),
    }
}

fn read_number(dir: &Path, name: &str) -> anyhow::Result<Option<u64>> {
    let file = dir.join(name);
    match std::fs::read_to_string(&file) {
        Ok(s) => Ok(Some(
            s.trim()
                .parse()
                .with_context(|| format!("bad {}", file.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}

fn write_once(dir: &Path, name: &str, value: u64) -> anyhow::Result<()> {
    let file = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        writeln!(f, "{value}")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &file)?;
        std::fs::File::open(dir)?.sync_all()
    };
    write().with_context(|| format!("writing {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_count_is_recorded_and_wins_afterwards() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(shard_count(dir.path(), 4).unwrap(), 4);
        assert_eq!(shard_count(dir.path(), 16).unwrap(), 4);
        assert!(expect_shard_count(dir.path(), 16).is_err());
        assert_eq!(expect_shard_count(dir.path(), 4).unwrap(), 4);
        assert!(!dir.path().join(".PERDURE_SHARDS.tmp").exists());
    }

    #[test]
    fn zero_and_garbage_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(shard_count(dir.path(), 0).is_err());
        std::fs::write(dir.path().join(SHARDS_FILE), "0\n").unwrap();
        assert!(shard_count(dir.path(), 4).is_err());
        std::fs::write(dir.path().join(SHARDS_FILE), "many\n").unwrap();
        assert!(shard_count(dir.path(), 4).is_err());
    }

    #[test]
    fn a_directory_is_fresh_until_claimed_and_keeps_its_data_id() {
        let dir = tempfile::tempdir().unwrap();
        assert!(is_fresh(dir.path()).unwrap());
        let id = data_id(dir.path()).unwrap();
        assert_ne!(id, 0);
        assert_eq!(data_id(dir.path()).unwrap(), id);
        claim_node_id(dir.path(), 1).unwrap();
        assert!(!is_fresh(dir.path()).unwrap());
        let other = tempfile::tempdir().unwrap();
        assert_ne!(data_id(other.path()).unwrap(), id);
    }

    #[test]
    fn a_directory_belongs_to_one_cluster() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(recorded_cluster_id(dir.path()).unwrap(), None);
        claim_cluster_id(dir.path(), 7).unwrap();
        claim_cluster_id(dir.path(), 7).unwrap();
        assert_eq!(recorded_cluster_id(dir.path()).unwrap(), Some(7));
        let err = claim_cluster_id(dir.path(), 8).unwrap_err().to_string();
        assert!(err.contains("belongs to cluster"), "{err}");
    }

    #[test]
    fn a_directory_belongs_to_one_node() {
        let dir = tempfile::tempdir().unwrap();
        claim_node_id(dir.path(), 2).unwrap();
        claim_node_id(dir.path(), 2).unwrap();
        let err = claim_node_id(dir.path(), 3).unwrap_err().to_string();
        assert!(err.contains("belongs to node 2"), "{err}");
    }
}
