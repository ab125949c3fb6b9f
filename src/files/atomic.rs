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

/// Replaces the regular file at `path` with what `fill` writes: a temp file beside it (mode
/// 0600), fsync, rename over it, fsync of the directory. On any error the temp file is removed
/// and `path` is untouched. A symbolic link is followed: the file it points to is replaced and
/// the link stays. Anything but a regular file or nothing (a directory, a device, a FIFO) is
/// refused with [`io::ErrorKind::InvalidInput`]: key files must be files.
pub fn write_file<E>(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), Failed<E>> {
    match target(path)? {
        Target::File(file) => replace_file(&file, true, fill),
        Target::Stream => Err(not_writable(path, "is not a regular file").into()),
    }
}

/// Writes a user-named output (`get --out`, `backup`): a regular file is replaced atomically
/// as `write_file` does only with `replace` (else `AlreadyExists`, and nothing is written);
/// a new file is created the same way; a character device, FIFO or pipe (`/dev/null`,
/// `/dev/stdout`, a named pipe someone reads) is written in place and never replaced, so it can
/// get a partial output if `fill` fails. A symbolic link is followed; a directory, a block
/// device or a socket is refused with [`io::ErrorKind::InvalidInput`].
pub fn write_output<E>(
    path: &Path,
    replace: bool,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), Failed<E>> {
    match target(path)? {
        Target::File(file) if !replace && fs::symlink_metadata(&file).is_ok() => {
            Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("{} already exists", path.display()))
                .into())
        }
        Target::File(file) => replace_file(&file, replace, fill),
        Target::Stream => write_stream(path, fill),
    }
}

/// What a path to be written names, after following symbolic links.
enum Target {
    /// Nothing yet, or a regular file: replaced through a temp file. The path is the link's
    /// final target, so the rename happens in the target's directory and the link survives.
    File(PathBuf),
    /// A character device or a FIFO: written in place, never replaced.
    Stream,
}

fn target(path: &Path) -> io::Result<Target> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Target::File(resolve_links(path)?)),
        Err(e) => return Err(e),
    };
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(Target::File(resolve_links(path)?));
    }
    if kind.is_dir() {
        return Err(not_writable(path, "is a directory; give a file path"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() || kind.is_fifo() {
            return Ok(Target::Stream);
        }
    }
    Err(not_writable(
        path,
        "is a block device, socket or other special file; lockbox writes only files, FIFOs and character devices",
    ))
}

/// Follows `path` while it is a symbolic link (as open(2) would); the last path reached.
/// Only the final component matters: a link among the directories above is followed by
/// rename(2) itself.
fn resolve_links(path: &Path) -> io::Result<PathBuf> {
    let mut at = path.to_owned();
    for _ in 0..40 {
        match fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&at)?;
                at = if to.is_absolute() { to } else { parent(&at).join(to) };
            }
            _ => return Ok(at),
        }
    }
    Err(not_writable(path, "is a chain of more than 40 symbolic links"))
}

fn not_writable(path: &Path, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{} {why}", path.display()))
}

/// Writes `path` through a temp file; over an existing file only if `replace` (the rename
/// itself refuses, so a file appearing meanwhile is not replaced either).
fn replace_file<E>(
    path: &Path,
    replace: bool,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), Failed<E>> {
    let dir = parent(path);
    with_temp(path, |tmp| {
        // Written in aligned blocks, and pushed to disk as it is written.
        let mut w = SyncingFile::new(create_private(tmp)?);
        fill(&mut w).map_err(Failed::Fill)?;
        let f = w.into_inner()?;
        f.sync_all()?;
        drop(f);
        if replace { fs::rename(tmp, path) } else { rename_new(tmp, path) }?;
        Ok(File::open(&dir)?.sync_all()?)
    })
}

/// Writes into an existing character device or FIFO: opened without create or truncate, and
/// checked again once open, so a regular file put there meanwhile is not overwritten in place.
/// No fsync: devices and pipes do not take one.
fn write_stream<E>(path: &Path, fill: impl FnOnce(&mut dyn Write) -> Result<(), E>) -> Result<(), Failed<E>> {
    let file = OpenOptions::new().write(true).open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() || kind.is_dir() {
        return Err(not_writable(path, "changed while being opened").into());
    }
    let mut w = BufWriter::with_capacity(256 << 10, file);
    fill(&mut w).map_err(Failed::Fill)?;
    w.flush()?;
    Ok(())
}

/// Writes a new file at `path`, one of many (an export): a temp file beside it (mode 0600),
/// renamed into place, refusing (`AlreadyExists`) to replace a file already there unless
/// `replace`, and refusing (`InvalidInput`) to replace anything but a regular file even then
/// (a symbolic link is replaced by nothing and followed by nothing). No fsync: the caller makes all of them durable at once with
/// [`sync_filesystem`]. An interrupted write leaves at most a hidden temp file, never a part
/// of a file under `path`.
pub fn write_new_file<E>(
    path: &Path,
    replace: bool,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), E>,
) -> Result<(), Failed<E>> {
    if replace
        && let Ok(m) = fs::symlink_metadata(path)
        && !m.is_file()
    {
        return Err(not_writable(path, "is not a regular file; only regular files are replaced").into());
    }
    with_temp(path, |tmp| {
        let mut w = BufWriter::with_capacity(32 << 10, create_private(tmp)?);
        fill(&mut w).map_err(Failed::Fill)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        // Linux makes every file durable at once with syncfs ([`sync_filesystem`]); elsewhere
        // each file is synced here.
        #[cfg(not(target_os = "linux"))]
        f.sync_all()?;
        drop(f);
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
    // The name is cut so that the temp name stays within a file system's 255 bytes whatever the
    // target's own name (item ids have parts of up to 255 bytes).
    let name = name.to_string_lossy();
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let tmp = parent(path).join(format!(".{}.tmp-{}", &name[..cut], hex(&suffix)));
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

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileTypeExt;

    use super::*;

    fn fifo(dir: &Path) -> PathBuf {
        let path = dir.join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
        path
    }

    #[test]
    fn key_files_are_never_written_into_a_fifo_or_through_a_link_to_one() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = fifo(dir.path());
        std::os::unix::fs::symlink(&fifo, dir.path().join("link")).unwrap();
        for path in [fifo.clone(), dir.path().join("link")] {
            let e = write_file(&path, |w| w.write_all(b"key")).map_err(io::Error::from).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
        }
        assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    }
}
