//! Backup and restore of a whole vault. A backup is still encrypted: it never needs a key.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::Remedy;
use super::{Counted, DB_FILE, Error, Progress, Vault, create_private_dir};
use crate::audit::{self, Verdict};
use crate::files::Failed;
use crate::format::AuditEvent;
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
    /// FIFO or character device in place (see [`crate::files::write_output`]).
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
        // Logged before the snapshot is read, so the backup holds its own entry; a backup that
        // does not complete is logged again as failed (after it, so not in it).
        self.audit_only(None, "", "", AuditEvent::Backup { to: file.display().to_string() })?;
        let mut summary = None;
        let mut bytes = 0;
        let written = crate::files::write_output(file, replace, |w| {
            let mut counted = Counted::new(w, 0, progress);
            let done = self.store().backup_to(&mut counted);
            bytes = counted.done();
            summary = Some(done?);
            Ok(())
        });
        let failure = match written {
            Ok(()) => None,
            Err(Failed::Io(e) | Failed::Fill(StoreError::Io(e))) => Some(match e.kind() {
                std::io::ErrorKind::InvalidInput => Error::usage(format!("cannot write backup: {e}")),
                std::io::ErrorKind::AlreadyExists => exists_error(file),
                std::io::ErrorKind::BrokenPipe => cut_short(&file.display().to_string(), bytes),
                _ => Error::other(format!("cannot write backup {}: {e}", file.display())),
            }),
            Err(Failed::Fill(e)) => Some(e.into()),
        };
        if let Some(e) = failure {
            return Err(self.backup_failed(&file.display().to_string(), e));
        }
        let summary = summary.ok_or_else(|| Error::other("backup wrote nothing"))?;
        self.backup_info(summary)
    }

    /// [`Vault::backup`] to a stream the caller holds (standard output, say), named `label` in
    /// the audit log. A stream that fails part-way fails the backup, logged as failed.
    pub fn backup_to(&self, out: &mut dyn std::io::Write, label: &str) -> Result<BackupInfo, Error> {
        self.audit_only(None, "", "", AuditEvent::Backup { to: label.to_owned() })?;
        let mut progress = |_, _| {};
        let mut counted = Counted::new(out, 0, &mut progress);
        let done = self.store().backup_to(&mut counted).and_then(|s| {
            std::io::Write::flush(&mut counted)?;
            Ok(s)
        });
        let bytes = counted.done();
        match done {
            Ok(summary) => self.backup_info(summary),
            Err(StoreError::Io(io)) if io.kind() == std::io::ErrorKind::BrokenPipe => {
                Err(self.backup_failed(label, cut_short(label, bytes)))
            }
            Err(e) => Err(self.backup_failed(label, e.into())),
        }
    }

    /// Logs that the backup to `label` failed with `e` (after its `backup` entry, so not in
    /// it), and returns `e`: the failure is what matters, so a log entry that cannot be
    /// written adds nothing to it.
    fn backup_failed(&self, label: &str, e: Error) -> Error {
        let event = AuditEvent::BackupFailed { to: label.to_owned(), why: e.message.clone() };
        let _ = self.audit_only(None, "", "", event);
        e
    }

    fn backup_info(&self, summary: crate::store::BackupSummary) -> Result<BackupInfo, Error> {
        Ok(BackupInfo { records: summary.records, bytes: summary.bytes, audit_head: self.audit_head()? })
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
        if !super::is_database(dir) && db.exists() {
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
        Vault::restore_stream(input, size, &file.display().to_string(), dir, progress)
    }

    /// [`Vault::restore`] from a stream the caller holds (standard input, say) of `size` bytes
    /// if known (0 if not: progress then shows no total), named `label` in errors.
    pub fn restore_stream(
        input: impl std::io::Read,
        size: u64,
        label: &str,
        dir: &Path,
        progress: &mut Progress<'_>,
    ) -> Result<BackupInfo, Error> {
        if let Some(url) = dir.to_str().filter(|_| super::is_database(dir)) {
            let mut input = BufReader::with_capacity(1 << 20, Counted::new(input, size, progress));
            let (store, summary) =
                crate::store::PgStore::restore_from(url, &mut input).map_err(|e| match e {
                    StoreError::Exists { path } => Error::conflict(format!(
                        "a vault already exists in {}; restore into an empty database",
                        path.display()
                    )),
                    e => Error::from(e).context(format!("restoring {label}")),
                })?;
            let store = std::sync::Arc::new(store);
            let place = store.shown().as_bytes().to_vec();
            // Checked as a file's restore is; a refused one is erased, leaving the database as
            // empty as it was.
            let checked = Vault::on_place(store.clone(), dir, place.into()).and_then(|vault| {
                let report = vault.verify(None, None)?;
                let head = vault.audit_head()?;
                Ok((report, head))
            });
            let refused = |e: Error| {
                let _ = store.erase();
                e
            };
            let (report, audit_head) = checked.map_err(refused)?;
            if !report.problems.is_empty() {
                return Err(refused(Error::integrity(format!(
                    "the backup {label} holds damaged records: {}",
                    report.problems.join("; ")
                ))));
            }
            return Ok(BackupInfo { records: summary.records, bytes: summary.bytes, audit_head });
        }
        let db = dir.join(DB_FILE);
        if db.exists() {
            return Err(Error::conflict(format!(
                "a vault already exists at {}; restore into an empty directory",
                dir.display()
            )));
        }
        // The directories this restore makes (the vault's, and any missing parent), deepest first.
        let made: Vec<&Path> =
            dir.ancestors().take_while(|d| !d.as_os_str().is_empty() && !d.exists()).collect();
        create_private_dir(dir).map_err(|e| Error::other(format!("cannot create {}: {e}", dir.display())))?;
        // A refused restore leaves nothing behind: no directory it made (removed only while
        // empty, so never anything another process put there).
        let unmake = || {
            for d in &made {
                let _ = std::fs::remove_dir(d);
            }
        };
        // The store removes the file it created when filling it fails; it never removes one it
        // did not create (a vault that appeared there meanwhile).
        let (store, summary) = RedbStore::restore_from(
            &db,
            &mut BufReader::with_capacity(1 << 20, Counted::new(input, size, progress)),
        )
        .map_err(|e| {
            let e: Error = e.into();
            unmake();
            e.context(label)
        })?;
        // From here the file is this restore's own.
        let undo = |e: Error| {
            let _ = std::fs::remove_file(&db);
            unmake();
            e
        };
        // Checked through the store this restore holds alone: no other process opens the vault
        // before it is known sound (nor writes to a file a failed check then removes).
        let checked = Vault::on(std::sync::Arc::new(store), dir).and_then(|vault| {
            let report = vault.verify(None, None)?;
            let head = vault.audit_head()?;
            Ok((report, head))
        });
        let (report, audit_head) = checked.map_err(undo)?;
        if !report.problems.is_empty() {
            return Err(undo(Error::integrity(format!(
                "the backup {label} holds damaged records: {}",
                report.problems.join("; ")
            ))));
        }
        Ok(BackupInfo { records: summary.records, bytes: summary.bytes, audit_head })
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

/// A backup whose reader went away took only part of it: never a quiet success.
fn cut_short(label: &str, bytes: u64) -> Error {
    Error::other(format!(
        "the backup to {label} was cut short after {}: its reader closed the pipe; the backup is incomplete",
        crate::format::size(bytes)
    ))
}

fn exists_error(file: &Path) -> Error {
    Error::conflict(format!("{} already exists", file.display())).with_remedy(Remedy::Replace)
}
