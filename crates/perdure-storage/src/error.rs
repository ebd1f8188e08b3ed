//! Errors of the storage layer. Disk damage is reported as [`StorageError::Corruption`] and never
//! handed back as data.

/// Everything that can go wrong reading or writing the node's RocksDB.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("rocksdb: {0}")]
    Rocks(#[from] rocksdb::Error),
    /// A stored value failed its checksum (or is too short to carry one).
    #[error("corrupt value in column family {cf} at key {key:02x?}")]
    Corruption { cf: &'static str, key: Vec<u8> },
    /// A write batch or snapshot named a key outside its group's prefix, or a column family
    /// replicated writes may not touch.
    #[error("key {key:02x?} in column family {cf} does not belong to group {group}")]
    ForeignKey {
        group: u32,
        cf: &'static str,
        key: Vec<u8>,
    },
    /// A range deletion whose end sorts before its start.
    #[error("range in column family {cf} ends ({to:02x?}) before it starts ({from:02x?})")]
    InvertedRange {
        cf: &'static str,
        from: Vec<u8>,
        to: Vec<u8>,
    },
    /// A column family expected at open time is missing from the handle table.
    #[error("column family {0} is missing")]
    MissingCf(&'static str),
    /// A snapshot payload names a column family id this build does not know.
    #[error("unknown column family id {0}")]
    UnknownCf(u8),
}
