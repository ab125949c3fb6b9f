//! The file system's one home: atomic and durable writes of single files (`atomic`), locks
//! between processes (`lock`), and the directory trees `import` reads and `export` writes
//! (`tree`). Nothing here knows a vault.

mod atomic;
mod lock;
mod tree;

pub use atomic::{Failed, write_output};
pub(crate) use atomic::{sync_filesystem, write_file, write_new_file};
pub use lock::{FileLock, guard_path};
pub(crate) use tree::{Dirs, Passed, TreeError, TreeErrorKind, safe_path, walk};

/// Writes `bytes` to the regular file at `path` atomically and durably, mode 0600 (a front
/// end's own files: the server's TLS key and certificate).
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    write_file(path, |w| std::io::Write::write_all(w, bytes)).map_err(Into::into)
}
