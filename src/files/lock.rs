//! Locks between processes: a file that several processes read, change and write back (a key
//! file, the trust store) is changed by one at a time, and a process can show that it is alive
//! (a put in progress holds the claim on its staged chunks).
//!
//! These are `flock` locks on a file of their own, never on the file they guard: an atomic
//! write replaces the guarded file, and a lock on the replaced file would guard nothing. The
//! kernel releases a lock when its holder exits, however it exits.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// An exclusive lock, released on drop.
#[derive(Debug)]
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Takes the exclusive lock on the lock file at `path` (created, mode 0600, if missing),
    /// waiting for another process that holds it. `waiting` is called once if it must wait.
    pub fn at(path: &Path, waiting: impl FnOnce()) -> io::Result<FileLock> {
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                waiting();
                file.lock()?;
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        Ok(FileLock { _file: file })
    }

    /// Takes the exclusive lock on the lock file at `path` if nobody holds it: `None` if a live
    /// process does.
    pub fn try_at(path: &Path) -> io::Result<Option<FileLock>> {
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(FileLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Takes the lock that guards the file at `path` (see [`guard_path`]), waiting for it.
    pub fn guarding(path: &Path, waiting: impl FnOnce()) -> io::Result<FileLock> {
        FileLock::at(&guard_path(path), waiting)
    }
}

/// The lock file that guards `path`: `.NAME.lock` beside the file a symbolic link at `path`
/// leads to (so that two names for one file share one lock).
pub fn guard_path(path: &Path) -> PathBuf {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let name = real.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    real.with_file_name(format!(".{name}.lock"))
}

/// Opens (or creates) a lock file: never through a symbolic link, and only a regular file.
fn open(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a lock file must be a regular file"));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("claim");
        let held = FileLock::try_at(&path).unwrap().expect("free");
        assert!(FileLock::try_at(&path).unwrap().is_none(), "held by another open file");
        drop(held);
        assert!(FileLock::try_at(&path).unwrap().is_some(), "free again");
    }

    #[test]
    fn a_waiter_gets_the_lock_once_it_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let guarded = dir.path().join("keyring");
        let held = FileLock::guarding(&guarded, || {}).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let path = guarded.clone();
        let waiter = std::thread::spawn(move || {
            let mut waited = false;
            let lock = FileLock::guarding(&path, || waited = true).unwrap();
            tx.send(()).unwrap();
            drop(lock);
            waited
        });
        assert!(rx.recv_timeout(std::time::Duration::from_millis(200)).is_err(), "still held");
        drop(held);
        rx.recv().unwrap();
        assert!(waiter.join().unwrap(), "it said it waited");
        assert_eq!(guard_path(&guarded), dir.path().canonicalize().unwrap().join(".keyring.lock"));
    }

    #[test]
    fn refuses_a_link_or_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), dir.path().join("link")).unwrap();
        assert!(FileLock::try_at(&dir.path().join("link")).is_err());
        assert!(!dir.path().join("elsewhere").exists(), "nothing created through the link");
        assert!(FileLock::try_at(dir.path()).is_err());
    }
}
