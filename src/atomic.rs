//! Atomic file writes: a crash leaves the old file or the new one, never a mix or a part.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::crypto::random_array;
use crate::format::hex;
use crate::writeback::SyncingFile;

/// Why an atomic write failed: `fill` said so, or the file system did.
#[derive(Debug)]
pub enum Failed<E> {
    /// The caller's `fill` failed.
    Fill(E),
    /// Creating, writing, syncing or renaming the file failed.
    Io(io::Error),
}

impl<E> From<io::Error> for Failed<E> {
    fn from(e: io::Error) -> Self {
        Failed::Io(e)
    }
}

impl From<Failed<io::Error>> for io::Error {
    fn from(f: Failed<io::Error>) -> Self {
        match f {
            Failed::Fill(e) | Failed::Io(e) => e,
        }
    }
}

/// Replaces `path` with what `fill` writes: a temp file beside it (mode 0600), fsync, rename
/// over `path`, fsync of the directory. On any error the temp file is removed and `path` is
/// untouched.
pub fn write_file<E>(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), Failed<E>> {
    let dir = parent(path);
    with_temp(path, |tmp| {
        // Writes of a whole chunk (64 KiB) are larger than the buffer and go straight through,
        // without a copy; a large output is pushed to disk as it is written.
        let mut w = BufWriter::with_capacity(32 << 10, SyncingFile::new(create_private(tmp)?));
        fill(&mut w).map_err(Failed::Fill)?;
        let f = w.into_inner().map_err(|e| e.into_error())?.into_inner();
        f.sync_all()?;
        drop(f);
        fs::rename(tmp, path)?;
        Ok(File::open(&dir)?.sync_all()?)
    })
}

/// Writes a new file at `path`, one of many (an export): a temp file beside it (mode 0600),
/// renamed into place, refusing (`AlreadyExists`) to replace a file already there unless
/// `replace`. No fsync: the caller makes all of them durable at once with
/// [`sync_filesystem`]. An interrupted write leaves at most a hidden temp file, never a part
/// of a file under `path`.
pub fn write_new_file<E>(
    path: &Path,
    replace: bool,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), Failed<E>> {
    with_temp(path, |tmp| {
        let mut w = BufWriter::with_capacity(32 << 10, create_private(tmp)?);
        fill(&mut w).map_err(Failed::Fill)?;
        drop(w.into_inner().map_err(|e| e.into_error())?);
        Ok(if replace { fs::rename(tmp, path) } else { rename_new(tmp, path) }?)
    })
}

/// Makes everything written to the file system holding `dir` durable (syncfs on Linux; an
/// fsync of `dir` elsewhere).
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    let d = File::open(dir)?;
    #[cfg(target_os = "linux")]
    return rustix::fs::syncfs(&d).map_err(io::Error::from);
    #[cfg(not(target_os = "linux"))]
    d.sync_all()
}

/// Runs `f` with a fresh temp path beside `path`, removing the temp file if `f` fails.
fn with_temp<E>(path: &Path, f: impl FnOnce(&Path) -> Result<(), Failed<E>>) -> Result<(), Failed<E>> {
    let name = path.file_name().ok_or_else(|| io::Error::other("not a file path"))?;
    let suffix: [u8; 8] = random_array().map_err(io::Error::other)?;
    let tmp = parent(path).join(format!(".{}.tmp-{}", name.to_string_lossy(), hex(&suffix)));
    let result = f(&tmp);
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// A new file only its owner can read (decrypted items and keys are secrets).
fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Renames `from` to `to` unless `to` exists (atomically: no window in which another file
/// could appear at `to` and be replaced).
fn rename_new(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            // File systems without RENAME_NOREPLACE fall through to link-and-unlink.
            Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => {}
            other => return other.map_err(io::Error::from),
        }
    }
    fs::hard_link(from, to)?;
    fs::remove_file(from)
}
