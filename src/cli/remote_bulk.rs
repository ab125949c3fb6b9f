//! import, export, verify and `level rotate --reencrypt` through a server. Everything is
//! sealed, opened and checked here, as locally; small items travel in batches (one request,
//! and on the server one durable transaction, for up to 256 of them), larger ones stream alone.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use lockbox::format::Header;
use lockbox::keyring::Keyring;
use lockbox::vault::{
    BulkReport, Error, ErrorKind, ExportDir, ItemFilter, ItemInfo, LevelKeys, MAX_GROUP_ITEMS, Replace,
    Vault, VerifyReport,
};

use super::output::open_error;
use super::remote::Remote;
use super::remote_items::{upload_sealed, with_decrypted};

/// The largest file imported in a batch: its envelope (chunk tags and header added) stays
/// under the server's 256 KiB for a batched envelope.
const BATCHED_FILE: u64 = 192 * 1024;
/// The largest item exported or checked in a batch (by its listed size).
const BATCHED_ITEM: u64 = 128 * 1024;
/// Envelope bytes sent or asked for in one batch at most (under the server's 8 MiB).
const BATCH_BYTES: u64 = 7 * 1024 * 1024;

/// A batch of sealed envelopes, (id, envelope), and their plaintext sizes.
type Sealed = (Vec<(String, Vec<u8>)>, Vec<u64>);

/// What the sealing thread hands to the sending one.
enum Work {
    /// Sealed envelopes: (id, envelope), and each one's plaintext size.
    Batch(Sealed),
    /// A file too large for a batch: sealed as it is sent.
    Large(String, PathBuf),
    /// A file that could not be read.
    Skip(String, Error),
}

/// Imports every file under `dir` as an item of `tenant` at `level`, sealed here under the
/// level's current key as the tenant's signed manifest (checked against this machine's pins)
/// names it.
pub fn import(
    remote: &Remote,
    view: &Vault,
    (tenant, level): (&str, &str),
    dir: &Path,
    replace: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<BulkReport, Error> {
    view.sealing_epoch(tenant, level)?;
    let (files, skipped) = lockbox::vault::import_sources(dir)?;
    if !replace {
        // As a local import: nothing is stored if any item is there already (the server's
        // listing; it refuses each such item too).
        let there: HashSet<String> =
            remote.list(tenant, &ItemFilter::default())?.into_iter().map(|i| i.item).collect();
        if let Some((id, _)) = files.iter().find(|(id, _)| there.contains(id)) {
            return Err(Error::conflict(format!(
                "item {id:?} already exists in tenant {tenant:?}; nothing was imported"
            ))
            .with_remedy(lockbox::vault::Remedy::Replace));
        }
    }
    let total = files.len() as u64;
    let mut report = BulkReport { skipped, ..BulkReport::default() };
    std::thread::scope(|scope| -> Result<(), Error> {
        let (send, receive) = std::sync::mpsc::sync_channel::<Result<Work, Error>>(2);
        let files = &files;
        // Sealing on one thread while this one sends (two cores: one each).
        scope.spawn(move || seal_all(view, tenant, level, files, &send));
        for work in receive {
            match work? {
                Work::Batch((envelopes, sizes)) => {
                    let outcomes = remote.put_batch(tenant, &envelopes, replace)?;
                    for (((id, _), size), outcome) in envelopes.into_iter().zip(sizes).zip(outcomes) {
                        match outcome {
                            Ok(_) => {
                                report.items += 1;
                                report.bytes += size;
                            }
                            Err(e) => report.skipped.push((id, e)),
                        }
                    }
                }
                Work::Large(id, path) => {
                    let file = File::open(&path).map_err(|e| open_error(&path, e));
                    let stored = file.and_then(|f| {
                        let replace = Replace::from(replace);
                        upload_sealed(remote, view, tenant, &id, level, None, Box::new(f), replace)
                    });
                    match stored {
                        Ok(info) => {
                            report.items += 1;
                            report.bytes += info.size;
                        }
                        Err(e) if e.kind == ErrorKind::Other => {
                            return Err(e.context(format!("importing {id:?}")));
                        }
                        Err(e) => report.skipped.push((id, e)),
                    }
                }
                Work::Skip(id, e) => report.skipped.push((id, e)),
            }
            progress(report.items, total);
        }
        Ok(())
    })?;
    Ok(report)
}

/// The sealing thread of an import: reads and seals the small files into batches, and passes
/// the large ones on by path.
fn seal_all(
    view: &Vault,
    tenant: &str,
    level: &str,
    files: &[(String, PathBuf)],
    send: &std::sync::mpsc::SyncSender<Result<Work, Error>>,
) {
    let mut batch: Sealed = (Vec::new(), Vec::new());
    let mut bytes = 0u64;
    let mut sealer = None;
    let flush = |batch: &mut Sealed, bytes: &mut u64| {
        *bytes = 0;
        batch.0.is_empty() || send.send(Ok(Work::Batch(std::mem::take(batch)))).is_ok()
    };
    for (id, path) in files {
        let small = match read_small(path) {
            Ok(Some(plain)) => plain,
            Ok(None) => {
                if !flush(&mut batch, &mut bytes)
                    || send.send(Ok(Work::Large(id.clone(), path.clone()))).is_err()
                {
                    return;
                }
                continue;
            }
            Err(e) => {
                if send.send(Ok(Work::Skip(id.clone(), e))).is_err() {
                    return;
                }
                continue;
            }
        };
        let full = batch.0.len() == MAX_GROUP_ITEMS || bytes + small.len() as u64 + 4096 > BATCH_BYTES;
        if full && !flush(&mut batch, &mut bytes) {
            return;
        }
        // One ephemeral key per batch, as a local import.
        if batch.0.is_empty() {
            match view.batch_sealer(tenant, level) {
                Ok(s) => sealer = Some(s),
                Err(e) => {
                    let _ = send.send(Err(e));
                    return;
                }
            }
        }
        let mut envelope = Vec::with_capacity(small.len() + 1024);
        if let Some(Err(e)) = sealer.as_ref().map(|s| s.seal(id, &mut &small[..], &mut envelope)) {
            let _ = send.send(Err(e));
            return;
        }
        bytes += envelope.len() as u64;
        batch.0.push((id.clone(), envelope));
        batch.1.push(small.len() as u64);
    }
    flush(&mut batch, &mut bytes);
}

/// The file's content if it is small enough for a batch; `None` if it is larger.
fn read_small(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    let file = File::open(path).map_err(|e| open_error(path, e))?;
    let cannot = |e: io::Error| Error::other(format!("cannot read {}: {e}", path.display()));
    let len = file.metadata().map_err(cannot)?.len();
    if len > BATCHED_FILE {
        return Ok(None);
    }
    let mut plain = Vec::with_capacity(len as usize);
    // The file may grow meanwhile: read at most one byte past the limit to see it.
    file.take(BATCHED_FILE + 1).read_to_end(&mut plain).map_err(cannot)?;
    Ok((plain.len() as u64 <= BATCHED_FILE).then_some(plain))
}

/// The items of `items` grouped for reading: batches of small items (by listed size), and the
/// large ones alone.
fn read_groups(items: Vec<ItemInfo>) -> Vec<Vec<ItemInfo>> {
    let mut groups: Vec<Vec<ItemInfo>> = Vec::new();
    let mut batch: Vec<ItemInfo> = Vec::new();
    let mut bytes = 0u64;
    for info in items {
        if info.size > BATCHED_ITEM {
            groups.push(vec![info]);
            continue;
        }
        // The envelope: the plaintext, a tag per chunk (at least 16 bytes each) and a header.
        let estimate = info.size + info.size / 16 + 2048;
        if batch.len() == MAX_GROUP_ITEMS || bytes + estimate > BATCH_BYTES {
            groups.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        bytes += estimate;
        batch.push(info);
    }
    if !batch.is_empty() {
        groups.push(batch);
    }
    groups
}

/// An item opened whole: its header and plaintext.
type Plain = (Header, Vec<u8>);
/// What is done with each item of a batch once opened (or not).
type EachOpened<'a> = dyn FnMut(&ItemInfo, Result<Plain, Error>) -> Result<(), Error> + 'a;

/// Each small item of `group` opened with `keys` (read in one request), handed to `each`
/// with its header and plaintext, or why it did not open.
fn open_batch(
    remote: &Remote,
    tenant: &str,
    group: &[ItemInfo],
    keys: &(dyn LevelKeys + Sync),
    each: &mut EachOpened<'_>,
) -> Result<(), Error> {
    let ids: Vec<String> = group.iter().map(|i| i.item.clone()).collect();
    for (info, envelope) in group.iter().zip(remote.get_batch(tenant, &ids)?) {
        let opened = envelope.and_then(|envelope| {
            let mut plain = Vec::with_capacity(envelope.len());
            let header =
                lockbox::vault::open_envelope_of(tenant, &info.item, &mut &envelope[..], keys, &mut plain)?;
            Ok((header, plain))
        });
        each(info, opened)?;
    }
    Ok(())
}

/// Whether `group` is one item too large for a batch (it streams alone).
fn alone(group: &[ItemInfo]) -> Option<&ItemInfo> {
    match group {
        [one] if one.size > BATCHED_ITEM => Some(one),
        _ => None,
    }
}

/// Decrypts every item of `tenant` that `filter` covers and `keys` open into files under
/// `dir`, as a local export writes them.
pub fn export(
    remote: &Remote,
    tenant: &str,
    (keys, scoped): (&(dyn LevelKeys + Sync), bool),
    (dir, replace): (&Path, bool),
    filter: &ItemFilter,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<BulkReport, Error> {
    let items = remote.list(tenant, filter)?;
    let total = items.len() as u64;
    let mut out = ExportDir::new(dir, replace)?;
    let mut report = BulkReport::default();
    let mut done = 0u64;
    let tally = |report: &mut BulkReport, info: &ItemInfo, written: Result<(), Error>| match written {
        Ok(()) => {
            report.items += 1;
            report.bytes += info.size;
            Ok(())
        }
        Err(e) if e.kind == ErrorKind::BrokenPipe || e.kind == ErrorKind::Other => Err(e),
        Err(e) if e.kind == ErrorKind::AccessDenied && scoped => {
            report.out_of_scope += 1;
            Ok(())
        }
        Err(e) => {
            report.skipped.push((info.item.clone(), e));
            Ok(())
        }
    };
    for group in read_groups(items) {
        if let Some(info) = alone(&group) {
            let written = with_decrypted(remote, tenant, &info.item, keys, |mut plain| {
                out.write(&info.item, |w| io::copy(&mut plain, w).map(drop).map_err(stream_error))
            })
            .map(drop);
            tally(&mut report, info, written)?;
        } else {
            open_batch(remote, tenant, &group, keys, &mut |info, opened| {
                let written = opened.and_then(|(_, plain)| {
                    out.write(&info.item, |w| w.write_all(&plain).map_err(Error::output))
                });
                tally(&mut report, info, written)
            })?;
        }
        done += group.len() as u64;
        progress(done, total);
    }
    out.sync()?;
    Ok(report)
}

/// A copy from the decrypting thread that failed: the thread's own error explains it (and
/// wins, in `with_decrypted`); this one says the output side.
fn stream_error(e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::BrokenPipe => Error::output(e),
        _ => Error::integrity(format!("the item did not open to the end: {e}")),
    }
}

/// Checks every item of `tenant` as the server lists it: its envelope is fetched and
/// decrypted with `ring` (an item whose key the keyring lacks is counted as skipped), and its
/// header must say what the listing says.
pub fn verify(
    remote: &Remote,
    tenant: &str,
    ring: &Keyring,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, Error> {
    let items = remote.list(tenant, &ItemFilter::default())?;
    let total = items.len() as u64;
    let mut report = VerifyReport::default();
    let check = |report: &mut VerifyReport, info: &ItemInfo, opened: Result<Header, Error>| {
        report.items += 1;
        match opened {
            Ok(h)
                if Some(&h.level) != info.level.as_ref()
                    || h.epoch != info.epoch
                    || h.key_epoch != info.key_epoch =>
            {
                report.problems.push(format!(
                    "item {:?} of tenant {tenant:?}: the server lists it at level {:?}, epoch {} (key epoch {}), but its envelope says level {:?}, epoch {} (key epoch {})",
                    info.item, info.level.as_deref().unwrap_or("?"), info.epoch, info.key_epoch, h.level, h.epoch, h.key_epoch
                ));
            }
            Ok(_) => report.decrypted += 1,
            Err(e) if e.kind == ErrorKind::AccessDenied => report.skipped += 1,
            Err(e) => {
                report.problems.push(format!("item {:?} of tenant {tenant:?}: {}", info.item, e.message))
            }
        }
    };
    for group in read_groups(items) {
        if let Some(info) = alone(&group) {
            let opened = with_decrypted(remote, tenant, &info.item, ring, |mut plain| {
                io::copy(&mut plain, &mut io::sink()).map(drop).map_err(stream_error)
            });
            check(&mut report, info, opened.map(|((), header)| header));
        } else {
            open_batch(remote, tenant, &group, ring, &mut |info, opened| {
                check(&mut report, info, opened.map(|(header, _)| header));
                Ok(())
            })?;
        }
        progress(report.items, total);
    }
    Ok(report)
}

/// Re-encrypts one item of a level just rotated: decrypted here with `keyring` as the server
/// streams its envelope, sealed again under the new key as it is sent back, replacing only
/// the version read (`read`: its header's SHA-256).
#[allow(clippy::too_many_arguments)]
pub fn reencrypt_one(
    remote: &Remote,
    writer: &Vault,
    keyring: &Keyring,
    (tenant, level): (&str, &str),
    id: &str,
    header: &Header,
    read: [u8; 32],
) -> Result<(), Error> {
    with_decrypted(remote, tenant, id, keyring, |plain| {
        upload_sealed(
            remote,
            writer,
            tenant,
            id,
            level,
            Some(header.chunk_size),
            plain,
            Replace::IfHeader(read),
        )
    })
    .map(drop)
}
