//! Atomic file replacement: a crash leaves the old file or the new one, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::crypto::random_array;
use crate::format::hex;
use crate::writeback::SyncingFile;

/// Replaces `path` with what `fill` writes: a temp file beside it (mode 0600), fsync, rename
/// over `path`, fsync of the directory. On any error the temp file is removed and `path` is
/// untouched.
pub fn write_file(path: &Path, fill: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| io::Error::other("not a file path"))?;
    let suffix: [u8; 8] = random_array().map_err(io::Error::other)?;
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), hex(&suffix)));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        // Writes of a whole chunk (64 KiB) are larger than the buffer and go straight through,
        // without a copy; a large output is pushed to disk as it is written.
        let mut w = BufWriter::with_capacity(32 << 10, SyncingFile::new(options.open(&tmp)?));
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?.into_inner();
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
