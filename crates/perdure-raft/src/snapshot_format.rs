//! The snapshot file format: one group's state as a stream of pairs, checksummed as a whole.
//!
//! Layout, integers big endian:
//!
//! ```text
//! header  "PDSNAP" 0x00 0x01                       (magic + format version 1)
//! pair*   family id u8 (never 0) | key len u32 | payload len u32 | key | payload
//! end     0x00 | pair count u64 | crc32 of every byte before this field u32
//! ```
//!
//! Files are written and read strictly front to back, so neither side ever holds more than one
//! pair. The checksum sits at the end so a file can be written in one pass and so a receiver can
//! stream a file it was sent and verify it before trusting any of it. Whatever a length field
//! says, a reader never allocates more than the bytes left in the file.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use perdure_storage::Cf;

use crate::snapshots::SnapshotError;

const MAGIC: [u8; 8] = *b"PDSNAP\x00\x01";
/// Bytes of the end marker: tag, pair count, checksum.
const END_LEN: u64 = 1 + 8 + 4;
const END_TAG: u8 = 0;

/// `(family id, key, payload)` as stored in a file, not yet interpreted.
pub(crate) type RawPair = (u8, Vec<u8>, Vec<u8>);

/// What identifies a complete file: its length and its checksum (the file's last four bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FileSummary {
    pub len: u64,
    pub crc32: u32,
    pub pairs: u64,
}

/// Writes a snapshot file front to back.
pub(crate) struct SnapshotWriter<W: Write> {
    out: W,
    crc: crc32fast::Hasher,
    len: u64,
    pairs: u64,
}

impl<W: Write> SnapshotWriter<W> {
    pub(crate) fn new(out: W) -> io::Result<Self> {
        let mut w = SnapshotWriter {
            out,
            crc: crc32fast::Hasher::new(),
            len: 0,
            pairs: 0,
        };
        w.put(&MAGIC)?;
        Ok(w)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.crc.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    pub(crate) fn write_pair(
        &mut self,
        cf: Cf,
        key: &[u8],
        payload: &[u8],
    ) -> Result<(), SnapshotError> {
        let too_large = |_| SnapshotError::PairTooLarge {
            key_len: key.len(),
            payload_len: payload.len(),
        };
        let key_len = u32::try_from(key.len()).map_err(too_large)?;
        let payload_len = u32::try_from(payload.len()).map_err(too_large)?;
        self.put(&[cf.id()])?;
        self.put(&key_len.to_be_bytes())?;
        self.put(&payload_len.to_be_bytes())?;
        self.put(key)?;
        self.put(payload)?;
        self.pairs += 1;
        Ok(())
    }

    /// Writes the end marker and flushes; the caller still owns syncing the file.
    pub(crate) fn finish(mut self) -> io::Result<(W, FileSummary)> {
        self.put(&[END_TAG])?;
        self.put(&self.pairs.to_be_bytes())?;
        let crc32 = self.crc.clone().finalize();
        self.out.write_all(&crc32.to_be_bytes())?;
        self.out.flush()?;
        let summary = FileSummary {
            len: self.len + 4,
            crc32,
            pairs: self.pairs,
        };
        Ok((self.out, summary))
    }
}

/// Reads a snapshot file front to back, verifying everything; the pairs it hands out are only
/// trustworthy once [`SnapshotReader::next_pair`] has returned `Ok(None)`.
pub(crate) struct SnapshotReader<R: Read> {
    input: R,
    crc: crc32fast::Hasher,
    len: u64,
    remaining: u64,
    pairs: u64,
    done: bool,
}

impl<R: Read> SnapshotReader<R> {
    /// Starts reading `input`, which holds exactly `len` bytes.
    pub(crate) fn new(input: R, len: u64) -> Result<Self, SnapshotError> {
        let mut r = SnapshotReader {
            input,
            crc: crc32fast::Hasher::new(),
            len,
            remaining: len,
            pairs: 0,
            done: false,
        };
        if len < MAGIC.len() as u64 + END_LEN {
            return Err(SnapshotError::Corrupt("shorter than an empty snapshot"));
        }
        if r.take(MAGIC.len())? != MAGIC {
            return Err(SnapshotError::Corrupt("not a snapshot file (bad header)"));
        }
        Ok(r)
    }

    /// Reads `n` bytes the caller has already checked are within `remaining`.
    fn take(&mut self, n: usize) -> Result<Vec<u8>, SnapshotError> {
        let mut buf = vec![0; n];
        self.input.read_exact(&mut buf).map_err(truncated)?;
        self.crc.update(&buf);
        self.remaining -= n as u64;
        Ok(buf)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut buf = [0; N];
        self.input.read_exact(&mut buf).map_err(truncated)?;
        self.crc.update(&buf);
        self.remaining -= N as u64;
        Ok(buf)
    }

    /// The next `(family id, key, payload)`, or `None` once the end marker and checksum have been
    /// verified. Family ids are not interpreted here: a reader vouches for the bytes, the caller
    /// for what they mean.
    pub(crate) fn next_pair(&mut self) -> Result<Option<RawPair>, SnapshotError> {
        if self.done {
            return Ok(None);
        }
        // Every read below is preceded by a check that the end marker still fits after it.
        if self.remaining < END_LEN {
            return Err(SnapshotError::Corrupt("missing end marker"));
        }
        let [tag] = self.take_array::<1>()?;
        if tag == END_TAG {
            return self.finish_end().map(|()| None);
        }
        if self.remaining < 8 + END_LEN {
            return Err(SnapshotError::Corrupt("pair header runs past the end"));
        }
        let key_len = u64::from(u32::from_be_bytes(self.take_array::<4>()?));
        let payload_len = u64::from(u32::from_be_bytes(self.take_array::<4>()?));
        if key_len + payload_len > self.remaining - END_LEN {
            return Err(SnapshotError::Corrupt("pair runs past the end"));
        }
        // Both lengths came from u32 and fit in the file, so they fit in usize on 64-bit hosts;
        // elsewhere a failed conversion is a file this host cannot hold anyway.
        let as_len =
            |n: u64| usize::try_from(n).map_err(|_| SnapshotError::Corrupt("pair too large"));
        let key = self.take(as_len(key_len)?)?;
        let payload = self.take(as_len(payload_len)?)?;
        self.pairs += 1;
        Ok(Some((tag, key, payload)))
    }

    fn finish_end(&mut self) -> Result<(), SnapshotError> {
        let count = u64::from_be_bytes(self.take_array::<8>()?);
        let expected = self.crc.clone().finalize();
        let mut stored = [0; 4];
        self.input.read_exact(&mut stored).map_err(truncated)?;
        self.remaining -= 4;
        if u32::from_be_bytes(stored) != expected {
            return Err(SnapshotError::Corrupt("checksum mismatch"));
        }
        if count != self.pairs {
            return Err(SnapshotError::Corrupt("pair count mismatch"));
        }
        let mut extra = [0; 1];
        if self.remaining != 0 || self.input.read(&mut extra)? != 0 {
            return Err(SnapshotError::Corrupt("bytes after the end marker"));
        }
        self.done = true;
        Ok(())
    }

    /// Length, checksum and pair count; `None` until the whole file has been verified.
    pub(crate) fn summary(&self) -> Option<FileSummary> {
        self.done.then(|| FileSummary {
            len: self.len,
            crc32: self.crc.clone().finalize(),
            pairs: self.pairs,
        })
    }

    pub(crate) fn into_inner(self) -> R {
        self.input
    }
}

fn truncated(e: io::Error) -> SnapshotError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        SnapshotError::Corrupt("truncated")
    } else {
        SnapshotError::Io(e)
    }
}

/// Cheap identity check of a file against the record naming it: length, header and stored
/// checksum, without reading the pairs. Leaves the file positioned at its start.
pub(crate) fn check_ends(file: &mut File, len: u64, crc32: u32) -> Result<(), SnapshotError> {
    if file.metadata()?.len() != len {
        return Err(SnapshotError::Corrupt("length differs from its record"));
    }
    if len < MAGIC.len() as u64 + END_LEN {
        return Err(SnapshotError::Corrupt("shorter than an empty snapshot"));
    }
    let mut magic = [0; MAGIC.len()];
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(&mut magic).map_err(truncated)?;
    if magic != MAGIC {
        return Err(SnapshotError::Corrupt("not a snapshot file (bad header)"));
    }
    let mut stored = [0; 4];
    file.seek(SeekFrom::Start(len - 4))?;
    file.read_exact(&mut stored).map_err(truncated)?;
    if u32::from_be_bytes(stored) != crc32 {
        return Err(SnapshotError::Corrupt("checksum differs from its record"));
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(())
}

/// Reads and verifies a whole file, discarding the pairs.
#[cfg(test)]
pub(crate) fn verify(file: &mut File) -> Result<FileSummary, SnapshotError> {
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(0))?;
    let mut r = SnapshotReader::new(io::BufReader::new(file), len)?;
    while r.next_pair()?.is_some() {}
    r.summary()
        .ok_or(SnapshotError::Corrupt("missing end marker"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<u8>, FileSummary) {
        let mut w = SnapshotWriter::new(Vec::new()).unwrap();
        w.write_pair(Cf::Executions, b"\0\0\0\x01k1", b"v1")
            .unwrap();
        w.write_pair(Cf::History, b"\0\0\0\x01k2", b"").unwrap();
        w.finish().unwrap()
    }

    fn read_all(bytes: &[u8]) -> Result<Vec<RawPair>, SnapshotError> {
        let mut r = SnapshotReader::new(bytes, bytes.len() as u64)?;
        let mut out = Vec::new();
        while let Some(p) = r.next_pair()? {
            out.push(p);
        }
        assert_eq!(r.summary().unwrap().len, bytes.len() as u64);
        Ok(out)
    }

    #[test]
    fn round_trip_and_summary() {
        let (bytes, summary) = sample();
        assert_eq!(summary.len, bytes.len() as u64);
        assert_eq!(summary.pairs, 2);
        assert_eq!(summary.crc32.to_be_bytes(), bytes[bytes.len() - 4..]);
        let pairs = read_all(&bytes).unwrap();
        assert_eq!(
            pairs,
            vec![
                (
                    Cf::Executions.id(),
                    b"\0\0\0\x01k1".to_vec(),
                    b"v1".to_vec()
                ),
                (Cf::History.id(), b"\0\0\0\x01k2".to_vec(), Vec::new()),
            ]
        );
        let (empty, s) = SnapshotWriter::new(Vec::new()).unwrap().finish().unwrap();
        assert_eq!(s.pairs, 0);
        assert!(read_all(&empty).unwrap().is_empty());
    }

    #[test]
    fn every_flipped_bit_and_every_truncation_is_detected() {
        let (bytes, _) = sample();
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut bad = bytes.clone();
                bad[i] ^= 1 << bit;
                assert!(
                    read_all(&bad).is_err(),
                    "flip of bit {bit} at {i} undetected"
                );
            }
        }
        for cut in 0..bytes.len() {
            assert!(read_all(&bytes[..cut]).is_err(), "cut at {cut} undetected");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(read_all(&longer).is_err());
        // A reader told the wrong length notices too.
        let mut r = SnapshotReader::new(&bytes[..], bytes.len() as u64 - 1).unwrap();
        assert!(std::iter::from_fn(|| r.next_pair().transpose()).any(|p| p.is_err()));
    }

    #[test]
    fn huge_length_fields_do_not_allocate() {
        let mut bytes = MAGIC.to_vec();
        bytes.push(Cf::Executions.id());
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        bytes.extend_from_slice(&u32::MAX.to_be_bytes());
        bytes.extend_from_slice(&[0; END_LEN as usize]);
        assert!(matches!(
            read_all(&bytes),
            Err(SnapshotError::Corrupt("pair runs past the end"))
        ));
    }
}
