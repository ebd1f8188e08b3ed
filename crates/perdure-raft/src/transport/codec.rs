//! Encoding of Raft RPC payloads. The format number travels with every payload: a node that
//! receives a format it does not know refuses the call instead of misreading it, which is what
//! lets a rolling upgrade introduce a new encoding (see DESIGN.md §6a).

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The payload encoding this build speaks: bincode 1 of openraft 0.9's serde types.
pub const RAFT_FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("raft payload format {0} is not supported by this node (speaks {RAFT_FORMAT})")]
    Format(u32),
    #[error("undecodable raft payload: {0}")]
    Decode(#[from] bincode::Error),
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing plain in-memory structs into a Vec cannot fail.
    bincode::serialize(value).unwrap_or_default()
}

pub(crate) fn decode<T: DeserializeOwned>(format: u32, bytes: &[u8]) -> Result<T, CodecError> {
    if format != RAFT_FORMAT {
        return Err(CodecError::Format(format));
    }
    Ok(bincode::deserialize(bytes)?)
}
