//! Export: every item a keyring or identity can open, decrypted into files under a directory,
//! durable when it reports success. The exchange is cached per ephemeral key, so a
//! batch-imported directory costs one exchange per batch to read back; a writer thread creates
//! the small items' files while this one decrypts.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::Remedy;
use super::bulk::{BulkReport, ItemFilter, PARCEL, Skipped, logged_ids};
use super::chunks::stored_chunks;
use super::envelope::{Unwrappers, finish_chunks, item_opener_with, open_chunk, tampered};
use super::pipeline;

use super::{Error, ErrorKind, LevelKeys, Vault, no_tenant, valid_name};
use crate::files::{self, Dirs, Failed};
use crate::format::{AuditEvent, Header};

impl Vault {
    /// Decrypts every item of `tenant` that `keys` can open into files under `dir` (created if
    /// needed; files mode 0600). Items that cannot be exported (no key, damaged, an id that is
    /// not a safe relative path, a file already there without `replace`) are skipped and
    /// reported; the rest are written, and are durable when this returns.
    pub fn export_dir(
        &self,
        tenant: &str,
        keys: &dyn LevelKeys,
        dir: &Path,
        replace: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<BulkReport, Error> {
        self.export_dir_where(tenant, keys, dir, replace, &ItemFilter::default(), progress)
    }

    /// [`Vault::export_dir`] of the items `filter` covers. For an engineer's keys, an item no
    /// active grant covers is counted in [`BulkReport::out_of_scope`], not skipped.
    pub fn export_dir_where(
        &self,
        tenant: &str,
        keys: &dyn LevelKeys,
        dir: &Path,
        replace: bool,
        filter: &ItemFilter,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<BulkReport, Error> {
        valid_name("tenant", tenant)?;
        let snapshot = self.store().begin_read()?;
        let record = snapshot.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
        if let Some(level) = &filter.level {
            super::find_level(&record, level)?;
        }
        let level_of = |rec: &Result<crate::store::records::ItemRecord, crate::store::StoreError>| {
            rec.as_ref().ok().and_then(|r| Header::decode(&r.header).ok()).map(|h| h.level)
        };
        let mut total = 0u64;
        snapshot.for_each_item(tenant, &mut |id, rec| {
            total += u64::from(filter.covers(id, || level_of(&rec)));
            Ok(true)
        })?;
        fs::create_dir_all(dir).map_err(|e| Error::other(format!("cannot create {}: {e}", dir.display())))?;
        let actor = keys.reader().unwrap_or(self.actor()).to_owned();
        // Logged before anything is read (the reads are audited even if the export dies), and
        // again at the end with what was actually written.
        let event = AuditEvent::Export { total, dir: dir.display().to_string() };
        self.audit_only(Some(&actor), tenant, "", event)?;
        let mut exported: Vec<String> = Vec::new();

        let mut report = BulkReport::default();
        let mut unwrappers = Unwrappers::default();
        let mut dirs = Dirs::new(dir);
        let mut done = 0u64;
        let mut fatal = None;
        // This thread decrypts while a writer thread creates the files of one-chunk items (file
        // creation, in the kernel, is most of an export's time; a second writer only spun on the
        // directory's lock in ext4, measured). Only authenticated plaintext is handed over, in
        // parcels of up to PARCEL items of at most one chunk each, at most two waiting.
        let mut writer = ParcelWriter { dirs: Dirs::new(dir), replace, skipped: Vec::new(), bytes: 0 };
        let produce = |handoff: &mut pipeline::Handoff<'_, Parcel>| -> Result<(), Error> {
            let mut parcel: Parcel = Vec::with_capacity(PARCEL);
            let mut hand_over = |parcel: &mut Parcel| -> Result<(), Error> {
                let spare = handoff(std::mem::take(parcel))?;
                *parcel = spare.unwrap_or_else(|| Vec::with_capacity(PARCEL));
                Ok(())
            };
            snapshot.for_each_item(tenant, &mut |id, record| {
                if !filter.covers(id, || level_of(&record)) {
                    return Ok(true);
                }
                let id = id.to_owned();
                let outcome = (|| {
                    let record = record.map_err(|e| tampered(tenant, &id, &e.to_string()))?;
                    let header =
                        Header::decode(&record.header).map_err(|e| tampered(tenant, &id, &e.to_string()))?;
                    let mut opener = item_opener_with(&header, unwrappers.for_header(keys, &header)?)?;
                    let path = safe_path(dir, &id)?;
                    if record.inline.is_some() {
                        // The recorded size is only trusted after the chunks add up to it: no allocation from it.
                        let mut plain = Vec::with_capacity(header.chunk_size.min(1 << 16) as usize);
                        stored_chunks(&*snapshot, &record, &header, |index, chunk, last| {
                            open_chunk(&mut opener, &header, index, chunk, last)?;
                            plain.extend_from_slice(chunk);
                            Ok(())
                        })?;
                        finish_chunks(&opener, &header)?;
                        parcel.push((id.clone(), path, plain));
                        if parcel.len() == PARCEL {
                            hand_over(&mut parcel)?;
                        }
                    } else {
                        write_item(&path, &mut dirs, replace, |out| {
                            stored_chunks(&*snapshot, &record, &header, |index, chunk, last| {
                                open_chunk(&mut opener, &header, index, chunk, last)?;
                                out.write_all(chunk).map_err(Error::output)
                            })?;
                            finish_chunks(&opener, &header)
                        })?;
                    }
                    Ok::<u64, Error>(record.size)
                })();
                match outcome {
                    Ok(size) => {
                        report.items += 1;
                        report.bytes += size;
                        exported.push(id);
                    }
                    Err(e) if e.kind == ErrorKind::BrokenPipe || e.kind == ErrorKind::Other => {
                        fatal = Some(e);
                        return Ok(false);
                    }
                    // An engineer's active grants open only what they cover: the rest is out of
                    // scope. With no active grant, a refusal is a refusal (exit 4).
                    Err(e) if e.kind == ErrorKind::AccessDenied && keys.scoped() => {
                        report.out_of_scope += 1;
                    }
                    Err(e) => report.skipped.push((id, e)),
                }
                done += 1;
                if done.is_multiple_of(1024) {
                    progress(done, total);
                }
                Ok(true)
            })?;
            let last = if parcel.is_empty() || fatal.is_some() { Ok(()) } else { hand_over(&mut parcel) };
            fatal.take().map_or(last, Err)
        };
        // The writer's own error explains a "stopped" on this side: the pipeline reports it.
        pipeline::to_worker(self.threads(), 2, produce, |mut parcel, give_back| {
            writer.write(&mut parcel)?;
            give_back(parcel);
            Ok(())
        })?;
        report.items -= writer.skipped.len() as u64;
        report.bytes -= writer.bytes;
        exported.retain(|id| !writer.skipped.iter().any(|(s, _)| s == id));
        report.skipped.extend(writer.skipped);
        // One sync for every file written: the export is durable when it reports success.
        crate::files::sync_filesystem(dir)
            .map_err(|e| Error::other(format!("cannot sync {}: {e}", dir.display())))?;
        progress(total, total);
        let event = AuditEvent::ExportWritten {
            written: exported.len() as u64,
            total,
            dir: dir.display().to_string(),
            ids: logged_ids(exported),
        };
        self.audit_only(Some(&actor), tenant, "", event)?;
        if !report.skipped.is_empty() {
            let event = AuditEvent::ExportSkipped { count: report.skipped.len() as u64 };
            self.audit_only(Some(&actor), tenant, "", event)?;
        }
        Ok(report)
    }
}

/// A directory that decrypted items are written into, as [`Vault::export_dir`] writes them
/// (mode 0600, atomically, never through a link, an existing file only with `replace`), for
/// an export that decrypts elsewhere (through a server).
pub struct ExportDir<'a> {
    dir: &'a Path,
    dirs: Dirs<'a>,
    replace: bool,
}

impl<'a> ExportDir<'a> {
    /// Creates `dir` if needed.
    pub fn new(dir: &'a Path, replace: bool) -> Result<ExportDir<'a>, Error> {
        fs::create_dir_all(dir).map_err(|e| Error::other(format!("cannot create {}: {e}", dir.display())))?;
        Ok(ExportDir { dir, dirs: Dirs::new(dir), replace })
    }

    /// Writes item `id`'s file with what `f` writes; no file if `f` fails.
    pub fn write(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut dyn Write) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let path = safe_path(self.dir, id)?;
        write_item(&path, &mut self.dirs, self.replace, f)
    }

    /// Makes every file written durable.
    pub fn sync(&self) -> Result<(), Error> {
        crate::files::sync_filesystem(self.dir)
            .map_err(|e| Error::other(format!("cannot sync {}: {e}", self.dir.display())))
    }
}

/// Where item `id` goes under `dir`, refusing ids that would leave it.
fn safe_path(dir: &Path, id: &str) -> Result<PathBuf, Error> {
    files::safe_path(dir, id)
        .ok_or_else(|| Error::usage(format!("item id {id:?} is not a safe relative path; not exported")))
}

/// One-chunk items on their way to a writer thread: (id, path, authenticated plaintext).
type Parcel = Vec<(String, PathBuf, Vec<u8>)>;

/// The writer of the small items' files: the other stage of export's pipeline.
struct ParcelWriter<'a> {
    dirs: Dirs<'a>,
    replace: bool,
    /// Items not written (a file in the way, a name the file system refuses), with why.
    skipped: Skipped,
    /// Their plaintext bytes.
    bytes: u64,
}

impl ParcelWriter<'_> {
    /// Writes the files of `parcel`, leaving it empty for reuse. An error that concerns one
    /// item skips it; any other stops the export.
    fn write(&mut self, parcel: &mut Parcel) -> Result<(), Error> {
        for (id, path, data) in parcel.drain(..) {
            let written = write_item(&path, &mut self.dirs, self.replace, |out| {
                out.write_all(&data).map_err(Error::output)
            });
            match written {
                Err(e) if e.kind != ErrorKind::Other && e.kind != ErrorKind::BrokenPipe => {
                    self.bytes += data.len() as u64;
                    self.skipped.push((id, e));
                }
                other => other?,
            }
        }
        Ok(())
    }
}

/// Writes one exported file (mode 0600, through a temp file: a failed or interrupted write
/// leaves no file under `path`); an existing file is replaced only with `replace`.
fn write_item(
    path: &Path,
    dirs: &mut Dirs<'_>,
    replace: bool,
    f: impl FnOnce(&mut dyn Write) -> Result<(), Error>,
) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        dirs.make(parent)?;
    }
    match files::write_new_file(path, replace, f) {
        Ok(()) => Ok(()),
        Err(Failed::Fill(e)) => Err(e),
        Err(Failed::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::conflict(format!("{} already exists", path.display())).with_remedy(Remedy::Replace))
        }
        // Something other than a regular file is in the way: never replaced.
        Err(Failed::Io(e)) if e.kind() == std::io::ErrorKind::InvalidInput => {
            Err(Error::conflict(e.to_string()))
        }
        // A name this file system cannot hold, or a directory where the file should be: this
        // item only, skipped.
        Err(Failed::Io(e))
            if matches!(e.kind(), std::io::ErrorKind::InvalidFilename | std::io::ErrorKind::IsADirectory) =>
        {
            Err(Error::usage(format!("cannot write {}: {e}", path.display())))
        }
        Err(Failed::Io(e)) => Err(Error::other(format!("cannot write {}: {e}", path.display()))),
    }
}
