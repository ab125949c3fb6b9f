//! Directory trees as `import` reads them and `export` writes them: the walk that finds the
//! regular files under a directory (links and special files never followed), and the making of
//! directories under an export's root that never writes through a symbolic link. Nothing here
//! knows a vault; errors carry a kind and a message naming the path.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// What sort of failure a tree operation met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeErrorKind {
    /// The directory to walk does not exist or cannot be read.
    NotFound,
    /// What was named cannot be used as asked (not a directory, a name the file system refuses).
    Usage,
    /// Something is in the way (a file where a directory goes, a symbolic link).
    Conflict,
    /// Any other I/O failure.
    Other,
}

/// A tree operation failed: its kind and what happened, naming the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeError {
    /// What sort of failure.
    pub kind: TreeErrorKind,
    /// What happened.
    pub message: String,
}

impl TreeError {
    fn new(kind: TreeErrorKind, message: String) -> TreeError {
        TreeError { kind, message }
    }
}

/// A regular file found by [`walk`]: its path relative to the root, components joined by `/`
/// (every component UTF-8), and its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The relative path, `/`-joined.
    pub id: String,
    /// Where it is.
    pub path: PathBuf,
}

/// Why [`walk`] passed an entry by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Passed {
    /// Its type could not be read.
    Unreadable(String),
    /// A symbolic link, which is not followed.
    Link,
    /// A FIFO, socket or device.
    Special,
    /// Its name is not UTF-8.
    NotUtf8,
}

impl std::fmt::Display for Passed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Passed::Unreadable(e) => write!(f, "cannot read its type: {e}"),
            Passed::Link => f.write_str("a symbolic link (not followed)"),
            Passed::Special => f.write_str("not a regular file (a FIFO, socket or device)"),
            Passed::NotUtf8 => f.write_str("its name is not UTF-8, so it cannot be an item id"),
        }
    }
}

/// What [`walk`] found: the regular files, and what it passed by with why.
pub type Walked = (Vec<Found>, Vec<(String, Passed)>);

/// Every regular file under `dir`, sorted by relative path, and every other entry with why it
/// was passed by (sorted by its relative path, escaped for a terminal). Directories are read
/// with no stat per file.
pub fn walk(dir: &Path) -> Result<Walked, TreeError> {
    let meta = fs::metadata(dir).map_err(|e| {
        TreeError::new(TreeErrorKind::NotFound, format!("cannot read {}: {e}", dir.display()))
    })?;
    if !meta.is_dir() {
        return Err(TreeError::new(TreeErrorKind::Usage, format!("{} is not a directory", dir.display())));
    }
    let unreadable = |d: &Path, e: io::Error| {
        TreeError::new(TreeErrorKind::Other, format!("cannot read {}: {e}", d.display()))
    };
    let (mut found, mut passed) = (Vec::new(), Vec::new());
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        for entry in fs::read_dir(&d).map_err(|e| unreadable(&d, e))? {
            let entry = entry.map_err(|e| unreadable(&d, e))?;
            let path = entry.path();
            let Ok(rel) = path.strip_prefix(dir) else {
                return Err(TreeError::new(TreeErrorKind::Other, "a path outside the directory".into()));
            };
            let shown = rel.to_string_lossy().escape_debug().to_string();
            let why = match entry.file_type() {
                Err(e) => Passed::Unreadable(e.to_string()),
                Ok(kind) if kind.is_dir() => {
                    pending.push(path);
                    continue;
                }
                Ok(kind) if kind.is_symlink() => Passed::Link,
                Ok(kind) if !kind.is_file() => Passed::Special,
                Ok(_) => {
                    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
                    match parts {
                        Some(parts) => {
                            found.push(Found { id: parts.join("/"), path });
                            continue;
                        }
                        None => Passed::NotUtf8,
                    }
                }
            };
            passed.push((shown, why));
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    passed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((found, passed))
}

/// Where `id` goes under `dir`, or `None` for an id that would leave it (`..`, an absolute
/// path, empty or `.` components).
pub fn safe_path(dir: &Path, id: &str) -> Option<PathBuf> {
    let rel = Path::new(id);
    let ok = !id.split('/').any(|p| p.is_empty() || p == "." || p == "..")
        && rel.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then(|| dir.join(rel))
}

/// The directories an export has made under its root, so each is checked once.
pub struct Dirs<'a> {
    /// The export's directory: links inside it are never followed.
    root: &'a Path,
    /// The last parent directory made and checked (exports are mostly siblings).
    made: Option<PathBuf>,
}

impl<'a> Dirs<'a> {
    /// Nothing made yet under `root`.
    pub fn new(root: &'a Path) -> Dirs<'a> {
        Dirs { root, made: None }
    }

    /// Creates `parent` (under the root) and checks that no directory between the root and it
    /// is a symbolic link, so a file is never written outside the root.
    pub fn make(&mut self, parent: &Path) -> Result<(), TreeError> {
        if self.made.as_deref() == Some(parent) {
            return Ok(());
        }
        // One directory at a time, each checked before anything is made inside it: a link
        // anywhere below the root is never followed, not even to create a directory.
        let cannot = |at: &Path, e: io::Error| {
            let msg = format!("cannot create {}: {e}", at.display());
            let kind = match e.kind() {
                io::ErrorKind::AlreadyExists | io::ErrorKind::NotADirectory => TreeErrorKind::Conflict,
                io::ErrorKind::InvalidFilename => TreeErrorKind::Usage,
                _ => TreeErrorKind::Other,
            };
            TreeError::new(kind, msg)
        };
        let mut at = self.root.to_owned();
        for part in parent.strip_prefix(self.root).unwrap_or(Path::new("")).components() {
            at.push(part);
            match fs::symlink_metadata(&at) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(TreeError::new(
                        TreeErrorKind::Conflict,
                        format!("{} is a symbolic link; export does not write through links", at.display()),
                    ));
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => return Err(cannot(&at, io::Error::from(io::ErrorKind::NotADirectory))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::create_dir(&at) {
                    Ok(()) => {}
                    Err(e)
                        if e.kind() == io::ErrorKind::AlreadyExists
                            && fs::symlink_metadata(&at).is_ok_and(|m| m.is_dir()) => {}
                    Err(e) => return Err(cannot(&at, e)),
                },
                Err(e) => return Err(cannot(&at, e)),
            }
        }
        self.made = Some(parent.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths_stay_inside() {
        let dir = Path::new("/out");
        assert_eq!(safe_path(dir, "a/b.txt"), Some(PathBuf::from("/out/a/b.txt")));
        for bad in ["../x", "/etc/passwd", "a//b", "./a", "a/.", "", "a/../b"] {
            assert_eq!(safe_path(dir, bad), None, "{bad}");
        }
    }
}
