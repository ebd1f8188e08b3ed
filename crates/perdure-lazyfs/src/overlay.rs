//! The unfsynced state of one regular file, held the way a page cache holds it: dirty 4 KiB
//! pages and a logical size over a backing file that holds exactly what was last fsynced.
//!
//! A read sees the latest data: dirty pages first, then the backing file's bytes below
//! `valid` (the lowest size the file had since its last fsync: bytes a truncation cut off
//! are gone even if the backing file still has them), zeros anywhere else below the logical
//! size (holes, extensions), and nothing past it. An fsync ([`Overlay::sync`]) makes the
//! backing file equal to the logical content and syncs it; a crash ([`Overlay::crash`])
//! forgets every change since.
//!
//! Owns: that model and its invariants (`valid <= size`; `valid <= durable`, the backing
//! file's length; the bytes of a dirty page at or past `size` are zero). Pure: no FUSE, no
//! paths, no locking; it reaches the backing file only through [`Backing`].
//!
//! Must never: write to the backing file anywhere but in [`Overlay::sync`] (a write, a
//! truncate or an extension must stay in memory until then), or let a read see backing bytes
//! a truncation removed.

use std::collections::BTreeMap;
use std::io;

/// The page size of the model: the unit a partial write reads in from the backing file.
pub const PAGE: u64 = 4096;

/// What the overlay needs of the file beneath it (a `std::fs::File`; a `Vec` in tests).
pub trait Backing {
    /// Like `pread`: may return fewer bytes than asked (0 at end of file).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// `fdatasync` if `data_only`, else `fsync`.
    fn sync(&self, data_only: bool) -> io::Result<()>;
}

impl Backing for std::fs::File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(self, buf, offset)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        std::fs::File::set_len(self, len)
    }

    fn sync(&self, data_only: bool) -> io::Result<()> {
        if data_only {
            self.sync_data()
        } else {
            self.sync_all()
        }
    }
}

/// One file's changes since its last fsync. See the module comment.
#[derive(Debug, Clone)]
pub struct Overlay {
    /// Logical size: what `stat` says and where reads end.
    size: u64,
    /// Backing bytes below this are current (where no page is dirty).
    valid: u64,
    /// The backing file's length (as of the last sync, or the length it was opened with).
    durable: u64,
    /// Page index -> the latest content of that page.
    pages: BTreeMap<u64, Page>,
}

/// A dirty page: all of its bytes (read in from the backing file when first written), and the
/// extent changed since the last sync (`lo..hi`, offsets in the page), which is what a crash
/// reports as dropped.
#[derive(Debug, Clone)]
struct Page {
    data: Box<[u8]>,
    lo: usize,
    hi: usize,
}

fn read_full(backing: &impl Backing, buf: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match backing.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break, // shorter than expected: the rest stays zero
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn efbig() -> io::Error {
    io::Error::from_raw_os_error(libc::EFBIG)
}

impl Overlay {
    /// A clean overlay over a backing file of `backing_len` bytes.
    pub fn new(backing_len: u64) -> Overlay {
        Overlay {
            size: backing_len,
            valid: backing_len,
            durable: backing_len,
            pages: BTreeMap::new(),
        }
    }

    /// The logical size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// True if anything (data or size) changed since the last sync.
    pub fn is_dirty(&self) -> bool {
        !self.pages.is_empty() || self.size != self.durable || self.valid != self.durable
    }

    /// Bytes changed since the last sync and not yet synced: per dirty page, from the first to
    /// the last byte written (or zeroed) in it, within the logical size. (A truncation or an
    /// extension alone counts no byte; [`Overlay::is_dirty`] says the file changed.)
    pub fn dirty_bytes(&self) -> u64 {
        self.pages
            .iter()
            .map(|(&idx, page)| {
                let in_file = self.size.saturating_sub(idx * PAGE).min(PAGE) as usize;
                page.hi.min(in_file).saturating_sub(page.lo) as u64
            })
            .sum()
    }

    /// Up to `len` bytes at `offset` of the latest content (fewer at the end of the file).
    pub fn read(&self, backing: &impl Backing, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let end = self.size.min(offset.saturating_add(len as u64));
        if offset >= end {
            return Ok(Vec::new());
        }
        let mut out = vec![0u8; (end - offset) as usize];
        let from_backing = self.valid.min(end);
        if offset < from_backing {
            read_full(
                backing,
                &mut out[..(from_backing - offset) as usize],
                offset,
            )?;
        }
        for (&idx, page) in self.pages.range(offset / PAGE..=(end - 1) / PAGE) {
            let start = idx * PAGE;
            let lo = start.max(offset);
            let hi = (start + PAGE).min(end);
            out[(lo - offset) as usize..(hi - offset) as usize]
                .copy_from_slice(&page.data[(lo - start) as usize..(hi - start) as usize]);
        }
        Ok(out)
    }

    /// The bytes `from..to` of page `idx`, to be changed by the caller: the page is made dirty
    /// first if it was not (filled with the current content: backing bytes below `valid`, zeros
    /// above; nothing read if the caller changes it whole), and the range joins its extent.
    fn page_range(
        &mut self,
        backing: &impl Backing,
        idx: u64,
        from: usize,
        to: usize,
    ) -> io::Result<&mut [u8]> {
        if !self.pages.contains_key(&idx) {
            let mut data = vec![0u8; PAGE as usize].into_boxed_slice();
            let start = idx * PAGE;
            let hi = self.valid.min(start + PAGE);
            let whole = from == 0 && to == PAGE as usize;
            if !whole && start < hi {
                read_full(backing, &mut data[..(hi - start) as usize], start)?;
            }
            let page = Page {
                data,
                lo: from,
                hi: to,
            };
            self.pages.insert(idx, page);
        }
        let page = self.pages.get_mut(&idx).expect("inserted above");
        page.lo = page.lo.min(from);
        page.hi = page.hi.max(to);
        Ok(&mut page.data[from..to])
    }

    /// Writes `data` at `offset` (extending the file if it ends past the logical size).
    pub fn write(&mut self, backing: &impl Backing, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset.checked_add(data.len() as u64).ok_or_else(efbig)?;
        let mut pos = offset;
        while pos < end {
            let idx = pos / PAGE;
            let start = idx * PAGE;
            let hi = end.min(start + PAGE);
            self.page_range(backing, idx, (pos - start) as usize, (hi - start) as usize)?
                .copy_from_slice(&data[(pos - offset) as usize..(hi - offset) as usize]);
            pos = hi;
        }
        self.size = self.size.max(end);
        Ok(())
    }

    /// Zeros `len` bytes at `offset`, within the logical size only (fallocate's punch-hole and
    /// zero-range; the size is not changed here).
    pub fn zero_range(&mut self, backing: &impl Backing, offset: u64, len: u64) -> io::Result<()> {
        let end = self.size.min(offset.saturating_add(len));
        let mut pos = offset;
        while pos < end {
            let idx = pos / PAGE;
            let start = idx * PAGE;
            let hi = end.min(start + PAGE);
            // A clean page wholly at or past `valid` already reads as zeros.
            if self.pages.contains_key(&idx) || start < self.valid {
                self.page_range(backing, idx, (pos - start) as usize, (hi - start) as usize)?
                    .fill(0);
            }
            pos = hi;
        }
        Ok(())
    }

    /// Truncates or extends the file to `size` (bytes past a truncation read as zeros if the
    /// file grows again).
    pub fn set_size(&mut self, size: u64) {
        if size < self.size {
            // Pages starting at or past the new end go; the one holding it is cut.
            drop(self.pages.split_off(&size.div_ceil(PAGE)));
            if !size.is_multiple_of(PAGE) {
                if let Some(page) = self.pages.get_mut(&(size / PAGE)) {
                    page.data[(size % PAGE) as usize..].fill(0);
                }
            }
            self.valid = self.valid.min(size);
        }
        self.size = size;
    }

    /// fsync: the backing file becomes the logical content (length, then dirty pages), is
    /// synced (`fdatasync` if `data_only`), and the overlay is clean. Returns the bytes written.
    /// Nothing is forgotten unless the sync succeeded: after an error the overlay is still dirty
    /// (the backing file may have been partly written, as a failed fsync leaves a disk).
    pub fn sync(&mut self, backing: &impl Backing, data_only: bool) -> io::Result<u64> {
        if !self.is_dirty() {
            return Ok(0);
        }
        let mut len = self.durable;
        if len > self.valid {
            // Cut the bytes a truncation removed, so that an extension reads back zeros.
            backing.set_len(self.valid)?;
            len = self.valid;
        }
        if len != self.size {
            backing.set_len(self.size)?;
        }
        let mut written = 0;
        for (&idx, page) in &self.pages {
            let start = idx * PAGE;
            let n = PAGE.min(self.size - start);
            backing.write_all_at(&page.data[..n as usize], start)?;
            written += n;
        }
        backing.sync(data_only)?;
        self.pages.clear();
        self.valid = self.size;
        self.durable = self.size;
        Ok(written)
    }

    /// A crash: every change since the last sync is forgotten; the file is the backing file
    /// again (`backing_len` bytes). Returns the dirty bytes dropped.
    pub fn crash(&mut self, backing_len: u64) -> u64 {
        let dropped = self.dirty_bytes();
        self.pages.clear();
        self.size = backing_len;
        self.valid = backing_len;
        self.durable = backing_len;
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A backing "file" in memory, counting syncs.
    #[derive(Default)]
    struct Mem {
        data: RefCell<Vec<u8>>,
        syncs: RefCell<u32>,
    }

    impl Mem {
        fn with(bytes: &[u8]) -> Mem {
            Mem {
                data: RefCell::new(bytes.to_vec()),
                syncs: RefCell::new(0),
            }
        }
        fn bytes(&self) -> Vec<u8> {
            self.data.borrow().clone()
        }
        fn len(&self) -> u64 {
            self.data.borrow().len() as u64
        }
    }

    impl Backing for Mem {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            let data = self.data.borrow();
            if offset >= data.len() as u64 {
                return Ok(0);
            }
            // Short reads on purpose (at most 1000 bytes): read_full must loop.
            let n = buf.len().min(data.len() - offset as usize).min(1000);
            buf[..n].copy_from_slice(&data[offset as usize..offset as usize + n]);
            Ok(n)
        }
        fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
            let mut data = self.data.borrow_mut();
            let end = offset as usize + buf.len();
            if data.len() < end {
                data.resize(end, 0);
            }
            data[offset as usize..end].copy_from_slice(buf);
            Ok(())
        }
        fn set_len(&self, len: u64) -> io::Result<()> {
            self.data.borrow_mut().resize(len as usize, 0);
            Ok(())
        }
        fn sync(&self, _data_only: bool) -> io::Result<()> {
            *self.syncs.borrow_mut() += 1;
            Ok(())
        }
    }

    fn all(o: &Overlay, b: &Mem) -> Vec<u8> {
        o.read(b, 0, usize::MAX / 2).unwrap()
    }

    #[test]
    fn an_unsynced_write_is_read_back_and_lost_in_a_crash() {
        let b = Mem::with(b"hello world");
        let mut o = Overlay::new(b.len());
        o.write(&b, 6, b"there, friend").unwrap();
        assert_eq!(all(&o, &b), b"hello there, friend");
        assert_eq!(o.size(), 19);
        assert_eq!(
            b.bytes(),
            b"hello world",
            "nothing reaches the backing file before fsync"
        );
        assert!(o.is_dirty());
        assert_eq!(o.crash(b.len()), 13, "the bytes written");
        assert_eq!(all(&o, &b), b"hello world");
        assert_eq!(o.size(), 11);
        assert!(!o.is_dirty());
    }

    #[test]
    fn a_synced_write_survives_a_crash() {
        let b = Mem::default();
        let mut o = Overlay::new(0);
        o.write(&b, 0, b"durable").unwrap();
        assert_eq!(o.sync(&b, true).unwrap(), 7);
        assert_eq!(*b.syncs.borrow(), 1);
        assert_eq!(b.bytes(), b"durable");
        o.write(&b, 7, b" and not").unwrap();
        assert_eq!(o.crash(b.len()), 8);
        assert_eq!(all(&o, &b), b"durable");
        // A clean overlay's sync does nothing.
        assert_eq!(o.sync(&b, false).unwrap(), 0);
        assert_eq!(*b.syncs.borrow(), 1);
    }

    #[test]
    fn partial_pages_merge_with_the_backing_file() {
        let base: Vec<u8> = (0..3 * PAGE).map(|i| (i % 251) as u8).collect();
        let b = Mem::with(&base);
        let mut o = Overlay::new(b.len());
        // Straddles the first page boundary.
        o.write(&b, PAGE - 3, b"abcdef").unwrap();
        let mut want = base.clone();
        want[PAGE as usize - 3..PAGE as usize + 3].copy_from_slice(b"abcdef");
        assert_eq!(all(&o, &b), want);
        assert_eq!(
            o.read(&b, PAGE - 5, 10).unwrap(),
            want[PAGE as usize - 5..][..10]
        );
        assert_eq!(o.dirty_bytes(), 6, "3 bytes in each of two pages");
        o.sync(&b, true).unwrap();
        assert_eq!(b.bytes(), want);
    }

    #[test]
    fn holes_read_as_zeros() {
        let b = Mem::default();
        let mut o = Overlay::new(0);
        o.write(&b, 10_000, b"x").unwrap();
        let got = all(&o, &b);
        assert_eq!(got.len(), 10_001);
        assert!(got[..10_000].iter().all(|&c| c == 0));
        assert_eq!(got[10_000], b'x');
        assert_eq!(o.dirty_bytes(), 1, "only the byte written");
        o.sync(&b, true).unwrap();
        assert_eq!(b.bytes(), got);
    }

    #[test]
    fn truncate_then_extend_reads_zeros_not_the_old_bytes() {
        let b = Mem::with(b"abcdefghij");
        let mut o = Overlay::new(b.len());
        o.set_size(3);
        assert_eq!(all(&o, &b), b"abc");
        o.set_size(8);
        assert_eq!(all(&o, &b), b"abc\0\0\0\0\0");
        assert_eq!(
            b.bytes(),
            b"abcdefghij",
            "a truncate is not durable before fsync"
        );
        o.sync(&b, true).unwrap();
        assert_eq!(b.bytes(), b"abc\0\0\0\0\0");
    }

    #[test]
    fn truncate_inside_a_dirty_page_zeros_its_tail() {
        let b = Mem::default();
        let mut o = Overlay::new(0);
        o.write(&b, 0, &[7u8; 100]).unwrap();
        o.set_size(10);
        o.write(&b, 50, b"z").unwrap();
        let got = all(&o, &b);
        assert_eq!(&got[..10], &[7u8; 10]);
        assert!(got[10..50].iter().all(|&c| c == 0));
        assert_eq!(got.len(), 51);
    }

    #[test]
    fn a_crash_undoes_a_truncate_and_an_extension() {
        let b = Mem::with(b"0123456789");
        let mut o = Overlay::new(b.len());
        o.set_size(2);
        assert!(o.is_dirty());
        assert_eq!(o.crash(b.len()), 0, "no dirty page, only a size");
        assert_eq!(all(&o, &b), b"0123456789");
        o.set_size(5000);
        o.crash(b.len());
        assert_eq!(o.size(), 10);
    }

    #[test]
    fn zero_range_stays_inside_the_file() {
        let b = Mem::with(&[1u8; 20]);
        let mut o = Overlay::new(b.len());
        o.zero_range(&b, 5, 100).unwrap();
        assert_eq!(o.size(), 20);
        let got = all(&o, &b);
        assert_eq!(&got[..5], &[1u8; 5]);
        assert!(got[5..].iter().all(|&c| c == 0));
    }

    /// Random writes, truncates, extensions, reads, syncs and crashes against the plainest
    /// model: the logical bytes and the durable bytes as two vectors.
    #[test]
    fn random_operations_match_a_plain_model() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _round in 0..40 {
            let start: Vec<u8> = (0..next(3 * PAGE)).map(|i| i as u8 ^ 0x5a).collect();
            let b = Mem::with(&start);
            let mut o = Overlay::new(b.len());
            let mut logical = start.clone();
            let mut durable = start;
            for step in 0..300 {
                match next(10) {
                    0..=3 => {
                        let off = next(4 * PAGE);
                        let len = next(2 * PAGE) as usize;
                        let data: Vec<u8> = (0..len).map(|_| next(255) as u8 + 1).collect();
                        o.write(&b, off, &data).unwrap();
                        let end = off as usize + len;
                        if logical.len() < end {
                            logical.resize(end, 0);
                        }
                        logical[off as usize..end].copy_from_slice(&data);
                    }
                    4 => {
                        let size = next(5 * PAGE);
                        o.set_size(size);
                        logical.resize(size as usize, 0);
                    }
                    5 => {
                        let off = next(4 * PAGE);
                        let len = next(2 * PAGE);
                        o.zero_range(&b, off, len).unwrap();
                        let lo = (off as usize).min(logical.len());
                        let hi = ((off + len) as usize).min(logical.len());
                        logical[lo..hi].fill(0);
                    }
                    6 => {
                        o.sync(&b, next(2) == 0).unwrap();
                        durable = logical.clone();
                        assert_eq!(b.bytes(), durable, "step {step}: backing after sync");
                        assert!(!o.is_dirty() && o.dirty_bytes() == 0);
                    }
                    7 => {
                        o.crash(b.len());
                        logical = durable.clone();
                    }
                    _ => {
                        let off = next(5 * PAGE);
                        let len = next(3 * PAGE) as usize;
                        let got = o.read(&b, off, len).unwrap();
                        let lo = (off as usize).min(logical.len());
                        let hi = (off as usize + len).min(logical.len());
                        assert_eq!(got, logical[lo..hi], "step {step}: read {off}+{len}");
                    }
                }
                assert_eq!(o.size(), logical.len() as u64, "step {step}: size");
                assert_eq!(
                    b.bytes(),
                    durable,
                    "step {step}: backing changed before sync"
                );
            }
            assert_eq!(all(&o, &b), logical);
        }
    }
}
