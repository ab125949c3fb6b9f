//! The file system's one home: atomic and durable writes of single files (`atomic`), and the
//! directory trees `import` reads and `export` writes (`tree`). Nothing here knows a vault.

mod atomic;
mod tree;

pub use atomic::{Failed, sync_filesystem, write_file, write_new_file, write_output};
pub use tree::{Dirs, Found, Passed, TreeError, TreeErrorKind, safe_path, walk};
