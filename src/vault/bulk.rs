//! Bulk import of many items (the way people move whole directories in; export is in
//! `export.rs`), and what both log.
//!
//! Import batches many items per transaction and wraps every data key of a batch and level with
//! one ephemeral key (one X25519 exchange per batch; each wrap key is still expanded from the
//! item's own context, which holds its fresh random nonce). The directory walk itself is
//! `crate::files::walk`: the vault sees ids and paths.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use super::Remedy;
use super::chunks::{check_replace, finish_put, seal_item, seal_small};
use super::envelope::ItemFields;
use super::stage::put_staged;
use super::{Caller, Error, Vault, no_tenant, valid_name, valid_new_item_id};
use crate::crypto::{PublicKey, Wrapper};
use crate::files::{self, Passed};
use crate::format::AuditEvent::ImportItems;
use crate::format::{AuditEvent, CHUNK_TAG_LEN, DEFAULT_CHUNK_SIZE, Header, Ids, Logged, MAX_LOGGED_LEN};
use crate::store::STAGE_BYTES;
use crate::store::records::ItemRecord;

/// Items per import transaction.
const BATCH_ITEMS: usize = 4096;
/// Plaintext bytes per import transaction: within redb's write buffer (see
/// [`crate::store::STAGE_BYTES`]), so that no page is written twice.
const BATCH_BYTES: u64 = STAGE_BYTES as u64;
/// Small items handed from one thread to another at a time (import and export).
pub(super) const PARCEL: usize = 64;

/// What a bulk command did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkReport {
    /// Items imported or exported.
    pub items: u64,
    /// Plaintext bytes.
    pub bytes: u64,
    /// Items not exported, or directory entries not imported, each with the reason.
    pub skipped: Vec<(String, Error)>,
    /// Items an engineer's export left alone because no active grant covers them: out of the
    /// engineer's scope, not failures.
    pub out_of_scope: u64,
}

/// Which items of a tenant a listing or an export covers: those at `level` (if given) whose
/// id starts with `prefix` (if given).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemFilter {
    /// Only items at this level.
    pub level: Option<String>,
    /// Only items whose id starts with this.
    pub prefix: Option<String>,
}

impl ItemFilter {
    /// Whether item `id` is covered; `level` gives its level (none: its header is damaged,
    /// and then it is covered, so that it is reported rather than silently left out), asked
    /// only when the filter names a level (it may decode a header).
    pub(crate) fn covers(&self, id: &str, level: impl FnOnce() -> Option<String>) -> bool {
        self.prefix.as_deref().is_none_or(|p| id.starts_with(p))
            && self.level.as_deref().is_none_or(|l| level().is_none_or(|found| found == l))
    }
}

impl Vault {
    /// Stores every regular file under `dir` as an item of `tenant` at `level`, its id the path
    /// relative to `dir` with `/` separators. Entries that cannot be items (links, FIFOs,
    /// devices, names that are not valid item ids) are skipped and reported, not fatal. Without
    /// `replace`, checks that no item exists before writing anything. `progress` gets the count
    /// done after each batch.
    pub fn import_dir(
        &self,
        tenant: &str,
        level: &str,
        dir: &Path,
        replace: bool,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<BulkReport, Error> {
        valid_name("tenant", tenant)?;
        valid_name("level", level)?;
        let (files, skipped) = walk(dir)?;
        let (public, epoch) = {
            let record = self.store().begin_read()?.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
            let target = self.write_target(&record, level)?;
            (target.public, target.epoch)
        };
        let total = files.len() as u64;
        let mut report = BulkReport::default();
        // Two cores: a worker reads and encrypts the next small items while this thread stores
        // them. They travel in parcels of up to PARCEL items (one hand-over, not one per item);
        // at most two parcels wait. Larger files are streamed by this thread, so memory stays
        // bounded whatever the file sizes. The worker also decides where each transaction ends
        // (it learns the sizes as it opens the files), and starts a new ephemeral key there.
        std::thread::scope(|scope| -> Result<(), Error> {
            let (send, receive) = std::sync::mpsc::sync_channel::<Vec<Result<Prepared, Error>>>(2);
            let work = &files;
            let caller = self.caller();
            scope.spawn(move || prepare_all(work, tenant, level, &public, epoch, caller, send));
            // While the worker starts: without --replace, no id may exist yet.
            if !replace {
                let mut ids = files.iter().map(|f| f.id.as_str());
                let snapshot = self.store().begin_read()?;
                if let Some(i) = snapshot.first_item_present(tenant, &mut ids)? {
                    return Err(Error::conflict(format!(
                        "item {:?} already exists in tenant {tenant:?}; nothing was imported",
                        files[i].id
                    ))
                    .with_remedy(Remedy::Replace));
                }
            }
            let stopped = || Error::other("the import worker stopped");
            let mut prepared = receive.iter().flatten();
            while let Some(first) = prepared.next() {
                if let Ok(Prepared::Large { id, path, alone: true }) = &first {
                    report.bytes +=
                        self.import_alone(tenant, level, (epoch, &public), id, path, replace, dir)?;
                    report.items += 1;
                    match prepared.next() {
                        Some(Ok(Prepared::EndOfBatch)) => {}
                        Some(Err(e)) => return Err(e),
                        _ => return Err(stopped()),
                    }
                    progress(report.items, total);
                    continue;
                }
                // The batch, in hand before its transaction: a transaction the database ends
                // for a conflict runs again with the same items (vault/retry.rs).
                let mut batch: Vec<Prepared> = Vec::new();
                let mut next = Some(first);
                while let Some(item) = next.take() {
                    match item? {
                        Prepared::EndOfBatch => break,
                        item => batch.push(item),
                    }
                    next = Some(prepared.next().ok_or_else(stopped)?);
                }
                let dir_shown = dir.display().to_string();
                let (count, bytes) = self
                    .write(|tx| {
                        let record = tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
                        let manifest =
                            self.still_target(&record, level, &dir_shown, epoch, &public).map_err(|e| {
                                e.reworded(format!(
                                    "level {level:?} was rotated during the import; run it again"
                                ))
                            })?;
                        let mut w = tx.item_writer()?;
                        let mut ids: Vec<Logged> = Vec::new();
                        let mut bytes = 0;
                        for item in &batch {
                            let sealed_here;
                            let (header, stored) = match item {
                                Prepared::Sealed(sealed) => (&sealed.0, &sealed.1),
                                Prepared::Large { id, path, .. } => {
                                    let fields = ItemFields {
                                        tenant,
                                        level,
                                        item: id,
                                        epoch,
                                        chunk_size: DEFAULT_CHUNK_SIZE,
                                    };
                                    let wrapper = Wrapper::new(&PublicKey(public))?;
                                    let mut input = open_file(path)?;
                                    sealed_here = seal_item(
                                        &fields,
                                        &public,
                                        &wrapper,
                                        &mut input,
                                        self.now(),
                                        &mut |blob, index, chunk| Ok(w.put_chunk(blob, index, chunk)?),
                                    )
                                    .map_err(|e| in_file(path, e))?;
                                    (&sealed_here.0, &sealed_here.1)
                                }
                                Prepared::EndOfBatch => return Err(stopped()),
                            };
                            let previous = check_replace(&*w, tenant, &header.item, replace.into())?;
                            finish_put(&mut *w, header, previous.as_ref(), stored)?;
                            ids.push(written(&header.item, stored));
                            bytes += stored.size;
                        }
                        drop(w);
                        let count = ids.len() as u64;
                        let first = |items| AuditEvent::Import {
                            level: level.to_owned(),
                            epoch,
                            manifest,
                            count,
                            items,
                        };
                        self.record_logged(tx, tenant, &dir_shown, ids, first, |items| ImportItems {
                            items,
                        })?;
                        Ok((count, bytes))
                    })
                    .map_err(|e| {
                        let message =
                            format!("{} (imported {} of {total} items before this)", e.message, report.items);
                        e.reworded(message)
                    })?;
                report.bytes += bytes;
                report.items += count;
                progress(report.items, total);
            }
            if report.items != total {
                return Err(stopped());
            }
            Ok(())
        })?;
        if !skipped.is_empty() {
            let event =
                AuditEvent::ImportSkipped { count: skipped.len() as u64, dir: dir.display().to_string() };
            self.audit_only(None, tenant, "", event)?;
        }
        report.skipped = skipped;
        Ok(report)
    }

    /// Imports one file over [`STAGE_BYTES`] in a transaction of its own, staged as `put`
    /// does (one big transaction would make redb write its pages twice); its size.
    #[allow(clippy::too_many_arguments)]
    fn import_alone(
        &self,
        tenant: &str,
        level: &str,
        (epoch, public): (u32, &[u8; 32]),
        id: &str,
        path: &Path,
        replace: bool,
        dir: &Path,
    ) -> Result<u64, Error> {
        let fields = ItemFields { tenant, level, item: id, epoch, chunk_size: DEFAULT_CHUNK_SIZE };
        let mut input = open_file(path)?;
        let (_, stored) =
            put_staged(self, &fields, public, &mut input, replace.into(), |tx, _, stored, _, manifest| {
                let first =
                    |items| AuditEvent::Import { level: level.to_owned(), epoch, manifest, count: 1, items };
                let items = vec![written(id, stored)];
                self.record_logged(tx, tenant, &dir.display().to_string(), items, first, |items| {
                    ImportItems { items }
                })
            })
            .map_err(|e| in_file(path, e))?;
        Ok(stored.size)
    }
}

/// One item of an import's or rewrap's audit entry: the SHA-256 of the header stored.
pub(crate) fn written(id: &str, stored: &ItemRecord) -> Logged {
    Logged { header: crate::crypto::sha256(&stored.header), item: id.to_owned() }
}

/// The ids an export wrote: their digest (SHA-256 over each id and a newline), and the ids
/// themselves if they fit in one entry (`audit show --verbose` prints them).
pub(crate) fn logged_ids(ids: Vec<String>) -> Ids {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    let mut len = 0;
    for id in &ids {
        digest.update(id.as_bytes());
        digest.update(b"\n");
        len += 2 + id.len();
    }
    let digest = digest.finalize().into();
    Ids { digest, list: (len <= MAX_LOGGED_LEN / 2).then_some(ids) }
}

impl Vault {
    /// Appends `first(items)` with as many items as fit in one event ([`MAX_LOGGED_LEN`]), then
    /// `more(items)` for the rest, in the same transaction: every item is logged, whatever
    /// the count.
    pub(crate) fn record_logged(
        &self,
        tx: &dyn crate::store::Writes,
        tenant: &str,
        subject: &str,
        items: Vec<Logged>,
        first: impl FnOnce(Vec<Logged>) -> AuditEvent,
        more: fn(Vec<Logged>) -> AuditEvent,
    ) -> Result<(), Error> {
        let mut batches: Vec<Vec<Logged>> = vec![Vec::new()];
        let mut len = 0;
        for item in items {
            if len + item.encoded_len() > MAX_LOGGED_LEN {
                batches.push(Vec::new());
                len = 0;
            }
            len += item.encoded_len();
            batches.last_mut().expect("never empty").push(item);
        }
        let mut batches = batches.into_iter();
        let head = batches.next().unwrap_or_default();
        self.record(tx, tenant, subject, first(head))?;
        batches.try_for_each(|items| self.record(tx, tenant, subject, more(items)))
    }
}

/// The worker's output for one file.
enum Prepared {
    /// A small file, encrypted in memory.
    Sealed(Box<(Header, ItemRecord)>),
    /// A file of more than one chunk, left for the storing thread to stream; `alone` if it is
    /// over [`STAGE_BYTES`] and so imported in a transaction of its own, staged as `put` does.
    Large { id: String, path: PathBuf, alone: bool },
    /// The end of a transaction.
    EndOfBatch,
}

fn open_file(path: &Path) -> Result<BufReader<File>, Error> {
    let file = File::open(path).map_err(|e| Error::other(format!("cannot read {}: {e}", path.display())))?;
    Ok(BufReader::new(file))
}

fn in_file(path: &Path, e: Error) -> Error {
    e.context(path.display())
}

/// The worker's side of an import: prepares every file in order, in parcels, and ends a batch
/// (one transaction, one ephemeral key) every [`BATCH_ITEMS`] items or [`BATCH_BYTES`] bytes.
fn prepare_all(
    files: &[Source],
    tenant: &str,
    level: &str,
    public: &[u8; 32],
    epoch: u32,
    caller: &Caller,
    send: std::sync::mpsc::SyncSender<Vec<Result<Prepared, Error>>>,
) {
    let new_wrapper = || Wrapper::new(&PublicKey(*public)).map_err(Error::from);
    let mut wrapper = match new_wrapper() {
        Ok(w) => w,
        Err(e) => return drop(send.send(vec![Err(e)])),
    };
    let (mut items, mut bytes) = (0usize, 0u64);
    let mut parcel = Vec::with_capacity(PARCEL + 1);
    for file in files {
        let fields = ItemFields { tenant, level, item: &file.id, epoch, chunk_size: DEFAULT_CHUNK_SIZE };
        let prepared = prepare(&fields, public, &wrapper, file, caller.now());
        let failed = prepared.is_err();
        let alone = matches!(prepared, Ok((Prepared::Large { alone: true, .. }, _)));
        if alone && items > 0 {
            parcel.push(Ok(Prepared::EndOfBatch));
            (items, bytes) = (0, 0);
        }
        items += 1;
        bytes += prepared.as_ref().map_or(0, |(_, len)| *len);
        parcel.push(prepared.map(|(p, _)| p));
        let end = alone || items == BATCH_ITEMS || bytes >= BATCH_BYTES;
        if end {
            parcel.push(Ok(Prepared::EndOfBatch));
            (items, bytes) = (0, 0);
            match new_wrapper() {
                Ok(w) => wrapper = w,
                Err(e) => parcel.push(Err(e)),
            }
        }
        if (end || failed || parcel.len() >= PARCEL)
            && send.send(std::mem::replace(&mut parcel, Vec::with_capacity(PARCEL + 1))).is_err()
        {
            return;
        }
        if failed {
            return;
        }
    }
    if items > 0 {
        parcel.push(Ok(Prepared::EndOfBatch));
    }
    let _ = send.send(parcel);
}

/// Reads and encrypts one small file, or says it is large; with the file's size.
fn prepare(
    fields: &ItemFields<'_>,
    public: &[u8; 32],
    wrapper: &Wrapper,
    file: &Source,
    created: u64,
) -> Result<(Prepared, u64), Error> {
    let path = &file.path;
    let cannot = |e: std::io::Error| Error::other(format!("cannot read {}: {e}", path.display()));
    let limit = u64::from(fields.chunk_size);
    let mut f = File::open(path).map_err(cannot)?;
    let len = f.metadata().map_err(cannot)?.len();
    let large = |len| {
        let alone = len > STAGE_BYTES as u64;
        Ok((Prepared::Large { id: fields.item.to_owned(), path: path.to_owned(), alone }, len))
    };
    if len > limit {
        return large(len);
    }
    // Read whole, with room for the tag: sealed in place and stored as it is.
    let mut content = Vec::with_capacity(len as usize + CHUNK_TAG_LEN);
    (&mut f).take(limit + 1).read_to_end(&mut content).map_err(cannot)?;
    if content.len() as u64 > limit {
        return large(content.len() as u64); // it grew since it was opened
    }
    let len = content.len() as u64;
    let (header, record) =
        seal_small(fields, public, wrapper, content, created).map_err(|e| in_file(path, e))?;
    Ok((Prepared::Sealed(Box::new((header, record))), len))
}

/// Names that were not imported or exported, each with why.
pub(super) type Skipped = Vec<(String, Error)>;

/// A file to import: its item id and path (its size is learnt when it is opened: the walk
/// reads directories only, with no stat per file).
struct Source {
    id: String,
    path: PathBuf,
}

/// The files under `dir` that an import makes items of, as (item id, path), sorted by id; and
/// every entry it cannot import, with why (as [`Vault::import_dir`] reports them). For an
/// import that seals elsewhere (through a server).
pub fn import_sources(dir: &Path) -> Result<(Vec<(String, PathBuf)>, Skipped), Error> {
    let (found, skipped) = walk(dir)?;
    Ok((found.into_iter().map(|s| (s.id, s.path)).collect(), skipped))
}

/// Every regular file under `dir` whose path is a valid item id, sorted by id, and every entry
/// that cannot be imported with why (a symbolic link, which is not followed; a FIFO, socket or
/// device; a name that is not UTF-8 or not a valid item id), keyed by its path relative to
/// `dir`, escaped for a terminal.
fn walk(dir: &Path) -> Result<(Vec<Source>, Skipped), Error> {
    let (found, passed) = files::walk(dir)?;
    let mut skipped: Skipped = passed
        .into_iter()
        .map(|(shown, why)| {
            let e = match why {
                Passed::Unreadable(_) => Error::other(why.to_string()),
                _ => Error::usage(why.to_string()),
            };
            (shown, e)
        })
        .collect();
    let mut out = Vec::new();
    for f in found {
        match valid_new_item_id(&f.id) {
            Ok(()) => out.push(Source { id: f.id, path: f.path }),
            Err(e) => skipped.push((f.id.escape_debug().to_string(), e)),
        }
    }
    skipped.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((out, skipped))
}
