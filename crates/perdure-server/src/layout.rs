//! The on-disk layout file of a data directory: how many history shards it was created with.
//!
//! The count is fixed when a directory is created: every workflow's shard is a hash modulo this
//! count, so changing it would strand existing executions. Nothing here may ever rewrite it.

use std::path::Path;

use anyhow::{bail, Context};

const LAYOUT_FILE: &str = "PERDURE_SHARDS";

/// The recorded shard count of `dir`, or `requested` (recorded now) for a new directory.
pub(crate) fn shard_count(dir: &Path, requested: u32) -> anyhow::Result<u32> {
    let file = dir.join(LAYOUT_FILE);
    match std::fs::read_to_string(&file) {
        Ok(s) => {
            let n: u32 = s
                .trim()
                .parse()
                .with_context(|| format!("bad {}", file.display()))?;
            if n == 0 {
                bail!("{} says 0 shards", file.display());
            }
            Ok(n)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if requested == 0 {
                bail!("shard count must be at least 1");
            }
            std::fs::write(&file, format!("{requested}\n"))
                .with_context(|| format!("writing {}", file.display()))?;
            Ok(requested)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_count_is_recorded_and_wins_afterwards() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(shard_count(dir.path(), 4).unwrap(), 4);
        assert_eq!(shard_count(dir.path(), 16).unwrap(), 4);
    }

    #[test]
    fn zero_and_garbage_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(shard_count(dir.path(), 0).is_err());
        std::fs::write(dir.path().join(LAYOUT_FILE), "0\n").unwrap();
        assert!(shard_count(dir.path(), 4).is_err());
        std::fs::write(dir.path().join(LAYOUT_FILE), "many\n").unwrap();
        assert!(shard_count(dir.path(), 4).is_err());
    }
}
