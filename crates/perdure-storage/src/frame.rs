//! Value framing: `crc32(payload)` (4 bytes, big endian) followed by the payload.
//!
//! Every value this crate writes goes through [`frame`] and every value it reads through
//! [`unframe`]; nothing else may touch raw values, or a flipped bit could reach a caller as data.

use crate::{Cf, StorageError};

/// Prepends the payload's checksum.
pub(crate) fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 4);
    out.extend_from_slice(&crc32fast::hash(payload).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Verifies and strips the checksum.
pub(crate) fn unframe(cf: Cf, key: &[u8], value: &[u8]) -> Result<Vec<u8>, StorageError> {
    let corrupt = || StorageError::Corruption {
        cf: cf.name(),
        key: key.to_vec(),
    };
    let (crc, payload) = value.split_first_chunk::<4>().ok_or_else(corrupt)?;
    if u32::from_be_bytes(*crc) != crc32fast::hash(payload) {
        return Err(corrupt());
    }
    Ok(payload.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_detects_damage() {
        let framed = frame(b"hello");
        assert_eq!(framed.len(), 9);
        assert_eq!(unframe(Cf::History, b"k", &framed).unwrap(), b"hello");

        for i in 0..framed.len() {
            let mut bad = framed.clone();
            bad[i] ^= 0x01;
            assert!(matches!(
                unframe(Cf::History, b"k", &bad),
                Err(StorageError::Corruption { cf: "history", .. })
            ));
        }
        assert!(unframe(Cf::History, b"k", &[1, 2]).is_err());
        assert_eq!(unframe(Cf::History, b"k", &frame(b"")).unwrap(), b"");
    }
}
