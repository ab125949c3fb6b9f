//! Backup and restore of a whole vault. A backup is still encrypted: it never needs a key.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::{Counted, DB_FILE, Error, Progress, Vault, create_private_dir};
use crate::atomic::Failed;
use crate::audit::{self, Verdict};
use crate::store::{RedbStore, StoreError};

/// What a backup or restore handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupInfo {
    /// Records copied.
    pub records: u64,
    /// Size of the backup file in bytes.
    pub bytes: u64,
    /// Head of the audit chain in the backup.
    pub audit_head: [u8; 32],
}

impl Vault {
    /// Writes a consistent snapshot of the whole vault to `file`: a regular file atomically, a
    /// FIFO or character device in place (see [`crate::atomic::write_output`]).
    /// An existing regular file is replaced only with `replace` (else a conflict, and nothing
    /// is written or logged).
    pub fn backup(&self, file: &Path, replace: bool) -> Result<BackupInfo, Error> {
        self.backup_with_progress(file, replace, &mut |_, _| {})
    }

    /// [`Vault::backup`], telling `progress` the bytes written so far.
    pub fn backup_with_progress(
        &self,
        file: &Path,
        replace: bool,
        progress: &mut Progress<'_>,
    ) -> Result<BackupInfo, Error> {
        if !replace && std::fs::metadata(file).is_ok_and(|m| m.is_file()) {
            return Err(exists_error(file));
        }
        self.audit_only(None, "backup", "", "", &file.display().to_string())?;
        let mut summary = None;
        let written = crate::atomic::write_output(file, replace, |w| {
            summary = Some(self.store().backup_to(&mut Counted::new(w, 0, progress))?);
            Ok(())
        });
        match written {
            Ok(()) => {}
            Err(Failed::Io(e) | Failed::Fill(StoreError::Io(e))) => {
                if e.kind() == std::io::ErrorKind::InvalidInput {
                    return Err(Error::usage(format!("cannot write backup: {e}")));
                }
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    return Err(exists_error(file));
                }
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Err(Error::output(e));
                }
                return Err(Error::other(format!("cannot write backup {}: {e}", file.display())));
            }
            Err(Failed::Fill(e)) => return Err(e.into()),
        }
        let summary = summary.ok_or_else(|| Error::other("backup wrote nothing"))?;
        let audit_head = self.audit_head()?;
        Ok(BackupInfo { records: summary.records, bytes: summary.bytes, audit_head })
    }

    /// Rebuilds a vault in `dir` (which must not hold one) from a backup, checking every
    /// record; a damaged backup is refused with the first bad offset and leaves no vault.
    pub fn restore(file: &Path, dir: &Path) -> Result<BackupInfo, Error> {
        Vault::restore_with_progress(file, dir, &mut |_, _| {})
    }

    /// [`Vault::restore`], telling `progress` the bytes of the backup read so far and its size.
    pub fn restore_with_progress(
        file: &Path,
        dir: &Path,
        progress: &mut Progress<'_>,
    ) -> Result<BackupInfo, Error> {
        let db = dir.join(DB_FILE);
        if db.exists() {
            return Err(Error::conflict(format!(
                "a vault already exists at {}; restore into an empty directory",
                dir.display()
            )));
        }
        let input = File::open(file).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::not_found(format!("no backup file at {}", file.display())),
            _ => Error::other(format!("cannot open {}: {e}", file.display())),
        })?;
        let size = input.metadata().map(|m| m.len()).unwrap_or(0);
        create_private_dir(dir).map_err(|e| Error::other(format!("cannot create {}: {e}", dir.display())))?;
        let (store, summary) = RedbStore::restore_from(
            &db,
            &mut BufReader::with_capacity(1 << 20, Counted::new(input, size, progress)),
        )
        .map_err(|e| {
            let e: Error = e.into();
            e.context(file.display())
        })?;
        drop(store);
        let vault = Vault::open(dir)?;
        let report = vault.verify(None, None)?;
        if !report.problems.is_empty() {
            drop(vault);
            let _ = std::fs::remove_file(&db);
            return Err(Error::integrity(format!(
                "the backup {} holds damaged records: {}",
                file.display(),
                report.problems.join("; ")
            )));
        }
        Ok(BackupInfo { records: summary.records, bytes: summary.bytes, audit_head: vault.audit_head()? })
    }

    fn audit_head(&self) -> Result<[u8; 32], Error> {
        match audit::verify(&*self.store().begin_read()?)? {
            Verdict::Intact { head, .. } => Ok(head),
            Verdict::Broken { seq, why } => {
                Err(Error::integrity(format!("audit log broken at entry {seq}: {why}")))
            }
        }
    }
}

fn exists_error(file: &Path) -> Error {
    Error::conflict(format!("{} already exists (backup --replace overwrites it)", file.display()))
}
