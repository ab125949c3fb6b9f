//! redb's own file backend, with its large reads landing in a cache-line-aligned buffer first.
//!
//! redb reads each page into an `Arc<[u8]>`, whose bytes start 16 bytes into the allocation.
//! Large copies (the kernel's out of the page cache, and glibc's `memcpy` above a few KiB) use
//! `rep movsb`, which slows down sharply when the destination is not 64-byte aligned: here
//! `pread` of 64 KiB pages took 187-212 ms per 256 MiB into a buffer at +16 bytes against 49-73
//! ms into an aligned one, and a 64 KiB `memcpy` to +16 bytes 138 ms against 7 ms. So a large
//! read lands in an aligned scratch buffer and is copied on in 2 KiB pieces, which glibc copies
//! with vector instructions at full speed whatever the alignment. Large items are read almost
//! entirely in such pages. Every other call goes to redb's backend unchanged, locks included.

use std::cell::RefCell;
use std::fs::File;
use std::ops::Bound;

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

#[derive(Debug)]
pub(super) struct AlignedReads(FileBackend);

impl AlignedReads {
    pub(super) fn new(file: File) -> Result<AlignedReads, redb::DatabaseError> {
        Ok(AlignedReads(FileBackend::new(file)?))
    }
}

thread_local! {
    /// Per thread, so concurrent readers never wait for one another. It keeps the size of the
    /// largest page its thread read (64 KiB with the default chunk size, at most 16 MiB).
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl StorageBackend for AlignedReads {
    fn len(&self) -> Result<u64, BackendIoError> {
        self.0.len()
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendIoError> {
        let len = out.len();
        if !(MIN_ALIGNED..=MAX_ALIGNED).contains(&len) || (out.as_ptr() as usize).is_multiple_of(ALIGN) {
            return self.0.read(offset, out);
        }
        SCRATCH.with_borrow_mut(|scratch| {
            if scratch.len() < len + ALIGN {
                scratch.resize(len + ALIGN, 0);
            }
            let start = scratch.as_ptr().align_offset(ALIGN);
            let aligned = &mut scratch[start..start + len];
            debug_assert!((aligned.as_ptr() as usize).is_multiple_of(ALIGN));
            self.0.read(offset, aligned)?;
            for (to, from) in out.chunks_mut(PIECE).zip(aligned.chunks(PIECE)) {
                to.copy_from_slice(from);
            }
            Ok(())
        })
    }

    fn set_len(&self, len: u64) -> Result<(), BackendIoError> {
        self.0.set_len(len)
    }

    fn sync_data(&self) -> Result<(), BackendIoError> {
        self.0.sync_data()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BackendIoError> {
        self.0.write(offset, data)
    }

    fn close(&self) -> Result<(), BackendIoError> {
        self.0.close()
    }

    fn try_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.try_lock_range(start, end)
    }

    fn try_lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.try_lock_shared_range(start, end)
    }

    fn lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.0.lock_range(start, end)
    }

    fn lock_shared_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.0.lock_shared_range(start, end)
    }

    fn unlock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<(), BackendError> {
        self.0.unlock_range(start, end)
    }

    fn query_lock_range(&self, start: Bound<u64>, end: Bound<u64>) -> Result<bool, BackendError> {
        self.0.query_lock_range(start, end)
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
        let backend = AlignedReads::new(file).unwrap();
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
}
