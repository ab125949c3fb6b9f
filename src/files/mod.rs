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
