//! redb's own file backend, placed so that redb's large pages are aligned in the file, with its
//! large reads landing in a cache-line-aligned buffer first.
//!
//! *The prefix.* redb's 4 KiB database header comes first and its regions after it, so its
//! 64 KiB pages (one chunk each) sit 4 KiB past a 64 KiB boundary, and every page write straddles
//! two of the kernel's 64 KiB folios. A vault file therefore starts with [`PREFIX_LEN`] bytes of
//! its own (a magic line, then zeros) and redb's file after them, which puts those pages on 64
//! KiB boundaries. Measured here (256 MiB, a durable put): 0.71-0.81 of a durable copy without
//! the prefix, 0.80-1.03 with it. A vault file without the prefix (made before it) opens as
//! before.
//!
//! redb reads each page into an `Arc<[u8]>`, whose bytes start 16 bytes into the allocation.
//! Large copies (the kernel's out of the page cache, and glibc's `memcpy` above a few KiB) use
//! `rep movsb`, which slows down sharply when the destination is not 64-byte aligned (several
//! times slower, measured: docs/PERFORMANCE.md, session 5). So a large
//! read lands in an aligned scratch buffer and is copied on in 2 KiB pieces, which glibc copies
//! with vector instructions at full speed whatever the alignment. Large items are read almost
//! entirely in such pages. Every other call goes to redb's backend unchanged, locks included.

use std::cell::RefCell;
use std::fs::File;
use std::ops::Bound;
use std::os::unix::fs::FileExt;

use redb::backends::FileBackend;
use redb::{BackendError, StorageBackend};

/// What redb's backend I/O calls fail with (without its experimental API).
type BackendIoError = std::io::Error;

/// Reads at least this long go through the aligned buffer (shorter ones are dominated by the
/// system call, not the copy).
const MIN_ALIGNED: usize = 16 * 1024;
/// Longer reads go straight to `out` (rare: redb's pages hold one chunk of at most 16 MiB).
const MAX_ALIGNED: usize = 16 * 1024 * 1024 + 4096;
const ALIGN: usize = 64;
/// Below glibc's `rep movsb` threshold (4 KiB with AVX2).
const PIECE: usize = 2048;

/// Where redb's file starts in a vault file: 60 KiB, so that redb's offset 4 KiB (its first
/// region) is at 64 KiB.
pub(super) const PREFIX_LEN: u64 = 60 * 1024;
/// The first bytes of a vault file with the prefix; the rest of the prefix is zeros.
pub(super) const PREFIX_MAGIC: &[u8; 16] = b"lockbox vault 1\n";

/// redb's backend over a vault file, `prefix` bytes in.
#[derive(Debug)]
pub(super) struct AlignedFile {
    inner: FileBackend,
    prefix: u64,
}

impl AlignedFile {
    /// A new, empty vault file: writes the prefix (made durable by redb's first commit).
    pub(super) fn create(file: File) -> Result<AlignedFile, redb::DatabaseError> {
        file.write_all_at(PREFIX_MAGIC, 0)?;
        file.set_len(PREFIX_LEN)?;
        Ok(AlignedFile { inner: FileBackend::new(file)?, prefix: PREFIX_LEN })
    }

    /// An existing vault file, with the prefix or without it (made before it). `None` if it
    /// holds no database (empty, or the prefix alone).
    pub(super) fn open(file: File) -> Result<Option<AlignedFile>, redb::DatabaseError> {
        let mut head = [0u8; PREFIX_MAGIC.len()];
        let len = file.metadata()?.len();
        let prefix = match file.read_exact_at(&mut head, 0) {
            Ok(()) if &head == PREFIX_MAGIC => PREFIX_LEN,
            Ok(()) => 0,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e.into()),
        };
        if len <= prefix {
            return Ok(None);
        }
        Ok(Some(AlignedFile { inner: FileBackend::new(file)?, prefix }))
    }

    /// Where redb's `offset` is in the file. redb's offsets come from its header, which a
    /// damaged file can set anywhere: one that overflows is an error, never a wrap into the
    /// prefix.
    fn at(&self, offset: u64) -> Result<u64, BackendIoError> {
        offset.checked_add(self.prefix).ok_or_else(|| {
            BackendIoError::new(std::io::ErrorKind::InvalidInput, "an offset past the largest file")
        })
    }
}

thread_local! {
    /// Per thread, so concurrent readers never wait for one another. It keeps the size of the
    /// largest page its thread read (64 KiB with the default chunk size, at most 16 MiB).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// redb's offsets and lengths, `prefix` bytes into the file. Locks pass through unchanged:
/// they are keys between processes that all use this mapping.
impl StorageBackend for AlignedFile {
    fn len(&self) -> Result<u64, BackendIoError> {
        Ok(self.inner.len()?.saturating_sub(self.prefix))
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendIoError> {
        let (offset, len) = (self.at(offset)?, out.len());
        if !(MIN_ALIGNED..=MAX_ALIGNED).contains(&len) || (out.as_ptr() as usize).is_multiple_of(ALIGN) {
            return self.inner.read(offset, out);
        }
        SCRATCH.with_borrow_mut(|scratch| {
            if scratch.len() < len + ALIGN {
                scratch.resize(len + ALIGN, 0);
            }
            let start = scratch.as_ptr().align_offset(ALIGN);
            let aligned = &mut scratch[start..start + len];
            debug_assert!((aligned.as_ptr() as usize).is_multiple_of(ALIGN));
            self.inner.read(offset, aligned)?;
            for (to, from) in out.chunks_mut(PIECE).zip(aligned.chunks(PIECE)) {
                to.copy_from_slice(from);
            }
            Ok(())
        })
    }

    fn set_len(&self, len: u64) -> Result<(), BackendIoError> {
        self.inner.set_len(self.at(len)?)
    }

    fn sync_data(&self) -> Result<(), BackendIoError> {
        self.inner.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BackendIoError> {
        self.inner.write(self.at(offset)?, data)
    }

    fn close(&self) -> Result<(), BackendIoError> {
        self.inner.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_range(start, end)
    }

    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.inner.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.inner.query_lock_range(start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_the_same_bytes_into_any_buffer() {
        let mut file = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        file.write_all(&data).unwrap();
        let backend = AlignedFile::open(file).unwrap().unwrap();
        let mut buf = vec![0u8; 70_000];
        // Lengths below, at and above the aligned path's bounds; buffers at every misalignment.
        for (offset, len) in [(0u64, 100usize), (4096, MIN_ALIGNED), (65_536, 65_536), (1, 65_537)] {
            for shift in [0, 1, 16, 63] {
                let out = &mut buf[shift..shift + len];
                out.fill(0);
                backend.read(offset, out).unwrap();
                assert_eq!(out, &data[offset as usize..offset as usize + len], "{offset} {len} {shift}");
            }
        }
        assert!(backend.read(199_000, &mut buf[16..16 + 65_536]).is_err(), "past the end");
    }

    /// A new file: redb's offsets land `PREFIX_LEN` bytes in, its length leaves the prefix
    /// out, and the file opens again with the same mapping; the prefix alone is no database.
    #[test]
    fn the_prefix_shifts_every_offset() {
        let file = tempfile::tempfile().unwrap();
        let backend = AlignedFile::create(file.try_clone().unwrap()).unwrap();
        assert_eq!(backend.len().unwrap(), 0);
        assert!(AlignedFile::open(file.try_clone().unwrap()).unwrap().is_none(), "the prefix alone");
        let page: Vec<u8> = (0..65_536u32).map(|i| (i % 253) as u8).collect();
        backend.write(4096, &page).unwrap();
        assert_eq!(backend.len().unwrap(), 4096 + 65_536);
        assert_eq!(file.metadata().unwrap().len(), PREFIX_LEN + 4096 + 65_536);
        let mut on_disk = vec![0u8; 65_536];
        file.read_exact_at(&mut on_disk, 64 * 1024).unwrap();
        assert_eq!(on_disk, page, "redb's offset 4 KiB is the file's 64 KiB");
        let mut head = [0u8; 16];
        file.read_exact_at(&mut head, 0).unwrap();
        assert_eq!(&head, PREFIX_MAGIC);

        let again = AlignedFile::open(file.try_clone().unwrap()).unwrap().unwrap();
        let mut back = vec![0u8; 70_000];
        again.read(4096, &mut back[16..16 + 65_536]).unwrap();
        assert_eq!(&back[16..16 + 65_536], &page[..]);
        again.set_len(100).unwrap();
        assert_eq!(file.metadata().unwrap().len(), PREFIX_LEN + 100);
        assert!(AlignedFile::open(tempfile::tempfile().unwrap()).unwrap().is_none(), "an empty file");
        assert!(again.write(u64::MAX - 10, &page[..100]).is_err(), "no wrap into the prefix");
        assert!(again.read(u64::MAX - 10, &mut back[..100]).is_err());
        file.read_exact_at(&mut head, 0).unwrap();
        assert_eq!(&head, PREFIX_MAGIC);
    }
}
