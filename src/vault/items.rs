//! Items: put (encrypt and store), get (unwrap and decrypt), raw envelopes, list, remove.

use std::io::{Read, Write};

use super::chunks::{Replace, exists, item_chunks, stored_chunks, stored_chunks_into};
use super::envelope::{ItemFields, finish_chunks, item_opener_with, open_chunk, read_header, tampered};
use super::pipeline;
use super::stage::{QUEUE_CHUNKS, put_staged, stage_with};
use super::tenants::{find_level, no_tenant};
use super::{Error, ErrorKind, LevelKeys, Vault, valid_item_id, valid_name, valid_new_item_id};
use crate::crypto::{fingerprint, random_array};
use crate::format::{
    AuditEvent, CHUNK_TAG_LEN, DEFAULT_CHUNK_SIZE, Header, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, Stored,
    check_chunk_len,
};
use crate::store::records::{ItemRecord, TenantRecord};
use crate::store::{ReadTx, Reads, Writes};

/// How to store an item.
#[derive(Debug, Clone, Copy)]
pub struct PutOptions {
    /// Replace an existing item instead of refusing.
    pub replace: bool,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
}

impl Default for PutOptions {
    fn default() -> Self {
        PutOptions { replace: false, chunk_size: DEFAULT_CHUNK_SIZE }
    }
}

/// What the vault knows about an item (all of it visible to the vault operator; the server
/// sends it as JSON).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ItemInfo {
    /// Tenant.
    pub tenant: String,
    /// Item id.
    pub item: String,
    /// Classification level, or `None` if the stored header is damaged.
    pub level: Option<String>,
    /// Epoch the item was written under.
    pub epoch: u32,
    /// Epoch whose key wraps its data key.
    pub key_epoch: u32,
    /// Plaintext size in bytes.
    pub size: u64,
    /// When it was written, seconds since the Unix epoch.
    pub created: u64,
}

impl ItemInfo {
    fn damaged(tenant: &str, item: &str) -> ItemInfo {
        ItemInfo {
            tenant: tenant.to_owned(),
            item: item.to_owned(),
            level: None,
            epoch: 0,
            key_epoch: 0,
            size: 0,
            created: 0,
        }
    }

    pub(crate) fn new(tenant: &str, item: &str, header: Option<&Header>, record: &ItemRecord) -> ItemInfo {
        ItemInfo {
            tenant: tenant.to_owned(),
            item: item.to_owned(),
            level: header.map(|h| h.level.clone()),
            epoch: header.map_or(0, |h| h.epoch),
            key_epoch: header.map_or(0, |h| h.key_epoch),
            size: record.size,
            created: record.created,
        }
    }
}

impl Vault {
    /// Encrypts `input` as item `item` of `tenant` at `level`, under a fresh data key wrapped
    /// to the level's current epoch. Needs no private key. Atomic: on any error nothing changes.
    pub fn put(
        &self,
        tenant: &str,
        item: &str,
        level: &str,
        input: &mut dyn Read,
        opts: PutOptions,
    ) -> Result<ItemInfo, Error> {
        self.put_as(tenant, item, level, input, opts.chunk_size, opts.replace.into())
    }

    /// [`Vault::put`] replacing item `item` only if its stored header is still the one whose
    /// SHA-256 is `read` (the caller read that version and writes its successor): a write made
    /// in between is a conflict, never overwritten.
    pub fn replace_if_unchanged(
        &self,
        tenant: &str,
        item: &str,
        level: &str,
        input: &mut dyn Read,
        chunk_size: u32,
        read: [u8; 32],
    ) -> Result<ItemInfo, Error> {
        self.put_as(tenant, item, level, input, chunk_size, Replace::IfHeader(read))
    }

    fn put_as(
        &self,
        tenant: &str,
        item: &str,
        level: &str,
        input: &mut dyn Read,
        chunk_size: u32,
        replace: Replace,
    ) -> Result<ItemInfo, Error> {
        let opts = PutOptions { replace: replace != Replace::No, chunk_size };
        valid_name("tenant", tenant)?;
        valid_new_item_id(item)?;
        valid_name("level", level)?;
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&opts.chunk_size) {
            return Err(Error::usage(format!(
                "chunk size must be {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE} bytes"
            )));
        }
        let current = {
            let snapshot = self.store().begin_read()?;
            let record = snapshot.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
            let current = self.write_target(&record, level)?;
            // Fail before encrypting anything; checked again when the record is stored.
            if !opts.replace && snapshot.item(tenant, item)?.is_some() {
                return Err(exists(tenant, item));
            }
            current
        };
        let fields = ItemFields { tenant, level, item, epoch: current.epoch, chunk_size: opts.chunk_size };
        let (header, stored) = put_staged(
            self,
            &fields,
            &current.public,
            input,
            replace,
            |tx, header, stored, replaced, manifest| {
                self.record(
                    tx,
                    tenant,
                    item,
                    AuditEvent::Put(logged_write(header, stored, replaced, &manifest)),
                )
            },
        )?;
        Ok(ItemInfo::new(tenant, item, Some(&header), &stored))
    }

    /// Stores a portable envelope (as printed by [`Vault::get_raw`]) as item `item` of
    /// `tenant`. The vault cannot decrypt it, but checks everything it can: structure, that the
    /// envelope names this tenant and item (and `level` if given), and that it is wrapped to a
    /// key this vault registered for that level.
    pub fn put_raw(
        &self,
        tenant: &str,
        item: &str,
        level: Option<&str>,
        input: &mut dyn Read,
        replace: impl Into<Replace>,
    ) -> Result<ItemInfo, Error> {
        let replace = replace.into();
        valid_name("tenant", tenant)?;
        valid_new_item_id(item)?;
        let header = read_header(input)?;
        if header.tenant != tenant || header.item != item {
            return Err(Error::integrity(format!(
                "the envelope belongs to tenant {:?}, item {:?}, not tenant {tenant:?}, item {item:?}",
                header.tenant, header.item
            )));
        }
        if let Some(level) = level.filter(|l| *l != header.level) {
            return Err(Error::integrity(format!("the envelope is level {:?}, not {level:?}", header.level)));
        }
        // Fail before reading the payload; checked again when the record is stored.
        {
            let snapshot = self.store().begin_read()?;
            let record = snapshot.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
            check_registered_key(&record, &header)?;
            let target = self.write_target(&record, &header.level)?;
            if header.key_epoch != target.epoch || header.fingerprint != fingerprint(&target.public) {
                return Err(Error::integrity(format!(
                    "the envelope is wrapped to epoch {} of level {:?}, not to the current epoch {} that the tenant's signed manifest names; only envelopes wrapped to the current key are stored",
                    header.key_epoch, header.level, target.epoch
                )));
            }
            if replace == Replace::No && snapshot.item(tenant, item)?.is_some() {
                return Err(exists(tenant, item));
            }
        }
        let blob = random_array()?;
        let full = header.chunk_size as usize + CHUNK_TAG_LEN;
        // Stored as a put stores: large payloads staged from a second thread.
        let (streamed, staged) = stage_with(self.store(), self.threads(), full, |sink| {
            let check = |index, buf: &mut Vec<u8>, last| {
                check_chunk_len(header.chunk_size, index, buf.len(), last)
                    .map_err(|e| Error::integrity(format!("envelope payload: {e}")))
            };
            let (chunks, read, inline) = item_chunks(input, full, &blob, check, sink)?;
            let size = read - chunks * CHUNK_TAG_LEN as u64;
            Ok((
                header.clone(),
                ItemRecord {
                    header: header.encode().map_err(Error::encoding)?,
                    size,
                    created: self.now(),
                    blob,
                    chunks,
                    inline,
                },
            ))
        });
        let audit = |tx: &dyn Writes, header: &Header, stored: &ItemRecord, replaced, manifest: [u8; 32]| {
            self.record(
                tx,
                tenant,
                item,
                AuditEvent::PutRaw(logged_write(header, stored, replaced, &manifest)),
            )
        };
        let (_, stored) = staged.commit(
            self,
            streamed,
            replace,
            |record| {
                check_registered_key(record, &header)?;
                // An approval in between rotated the level: the envelope is wrapped to a key it
                // released, and must not be stored (as `put_staged` refuses a sealed item).
                let current = self.write_target(record, &header.level)?;
                if current.epoch != header.key_epoch || fingerprint(&current.public) != header.fingerprint {
                    return Err(Error::conflict(format!(
                        "level {:?} was re-keyed while {item:?} was being written; nothing was stored: wrap the envelope to the new key and try again",
                        header.level
                    )));
                }
                Ok(current.manifest)
            },
            audit,
        )?;
        Ok(ItemInfo::new(tenant, item, Some(&header), &stored))
    }

    /// Decrypts item `item` of `tenant` to `out`, with keys from `keys`. Each chunk is
    /// authenticated before it is written; on an integrity failure the output stops there.
    pub fn get(
        &self,
        tenant: &str,
        item: &str,
        keys: &dyn LevelKeys,
        out: &mut dyn Write,
    ) -> Result<ItemInfo, Error> {
        let (snapshot, record, header) = self.load(tenant, item)?;
        let mut unwrapper = match keys.unwrapper(&header) {
            Ok(unwrapper) => unwrapper,
            Err(denied) => {
                let event = AuditEvent::GetDenied { why: denied.message.clone() };
                self.audit_only(keys.reader(), tenant, item, event)?;
                return Err(denied);
            }
        };
        let result = self.decrypt_to(&*snapshot, &record, &header, &mut *unwrapper, keys.reader(), out);
        if let Err(e) = &result
            && e.kind == ErrorKind::Integrity
        {
            self.audit_only(keys.reader(), tenant, item, AuditEvent::GetFailed { why: e.message.clone() })?;
        }
        result
    }

    /// Unwraps, checks the commitment, records the read, then streams authenticated chunks.
    fn decrypt_to(
        &self,
        snapshot: &(dyn Reads + Send + Sync),
        record: &ItemRecord,
        header: &Header,
        unwrapper: &mut dyn crate::crypto::KeyUnwrap,
        reader: Option<&str>,
        out: &mut dyn Write,
    ) -> Result<ItemInfo, Error> {
        let (tenant, item) = (header.tenant.as_str(), header.item.as_str());
        let mut opener = item_opener_with(header, unwrapper)?;
        let event = AuditEvent::Get { level: header.level.clone(), key_epoch: header.key_epoch };
        self.audit_only(reader, tenant, item, event)?;

        if record.chunks == 1 {
            stored_chunks(snapshot, record, header, |index, chunk, last| {
                open_chunk(&mut opener, header, index, chunk, last)?;
                out.write_all(chunk).map_err(Error::output)
            })?;
            finish_chunks(&opener, header)?;
        } else {
            // Three stages, each about a third of the work: one thread reads ciphertext out of
            // the store, a second authenticates and decrypts it, this one writes the plaintext
            // out (it holds `out`, which may be standard output). Only authenticated plaintext
            // reaches this thread, at most QUEUE_CHUNKS / 2 chunks wait between two stages,
            // and each buffer goes back to the reader once written: no allocation per chunk.
            let (threads, depth) = (self.threads(), QUEUE_CHUNKS / 2);
            pipeline::from_worker(
                threads,
                depth,
                |to_writer| {
                    pipeline::from_worker(
                        threads,
                        depth,
                        |to_decrypt| {
                            let spare = std::cell::RefCell::new(Vec::new());
                            stored_chunks_into(
                                snapshot,
                                record,
                                header,
                                || spare.take(),
                                |index, chunk, last| {
                                    if let Some((_, _, back)) =
                                        to_decrypt((index, last, std::mem::take(chunk)))?
                                    {
                                        *spare.borrow_mut() = back;
                                    }
                                    Ok(())
                                },
                            )
                        },
                        |(index, last, mut chunk), give_back| {
                            open_chunk(&mut opener, header, index, &mut chunk, last)?;
                            if let Some(written) = to_writer(chunk)? {
                                // Back to the reader, which only wants the buffer.
                                give_back((0, false, written));
                            }
                            Ok(())
                        },
                    )?;
                    finish_chunks(&opener, header)
                },
                |chunk, give_back| {
                    out.write_all(&chunk).map_err(Error::output)?;
                    give_back(chunk);
                    Ok(())
                },
            )?;
        }
        out.flush().map_err(Error::output)?;
        Ok(ItemInfo::new(tenant, item, Some(header), record))
    }

    /// Writes the item's portable envelope (header and ciphertext chunks) to `out`. Needs no key.
    pub fn get_raw(&self, tenant: &str, item: &str, out: &mut dyn Write) -> Result<ItemInfo, Error> {
        let info =
            self.get_raw_pieces(tenant, item, &mut |piece| out.write_all(&piece).map_err(Error::output))?;
        out.flush().map_err(Error::output)?;
        Ok(info)
    }

    /// [`Vault::get_raw`] handing `piece` the envelope's pieces as they are read, each in a
    /// buffer of its own (the header, then each chunk): a caller that sends them on keeps
    /// them without copying.
    pub fn get_raw_pieces(
        &self,
        tenant: &str,
        item: &str,
        piece: &mut dyn FnMut(Vec<u8>) -> Result<(), Error>,
    ) -> Result<ItemInfo, Error> {
        let (snapshot, record, header) = self.load(tenant, item)?;
        self.audit_only(None, tenant, item, AuditEvent::GetRaw)?;
        piece(record.header.clone())?;
        stored_chunks(&*snapshot, &record, &header, |_, chunk, _| piece(std::mem::take(chunk)))?;
        Ok(ItemInfo::new(tenant, item, Some(&header), &record))
    }

    /// The items of `tenant`, optionally of one level, by id.
    pub fn list(&self, tenant: &str, level: Option<&str>) -> Result<Vec<ItemInfo>, Error> {
        self.list_where(tenant, &super::ItemFilter { level: level.map(str::to_owned), prefix: None })
    }

    /// The items of `tenant` that `filter` covers.
    pub fn list_where(&self, tenant: &str, filter: &super::ItemFilter) -> Result<Vec<ItemInfo>, Error> {
        let record = self.tenant(tenant)?;
        if let Some(level) = &filter.level {
            find_level(&record, level)?;
        }
        let mut out = Vec::new();
        self.store().begin_read()?.for_each_item(tenant, &mut |id, rec| {
            if filter.prefix.as_deref().is_some_and(|p| !id.starts_with(p)) {
                return Ok(true);
            }
            let info = match rec {
                Ok(rec) => ItemInfo::new(tenant, id, Header::decode(&rec.header).ok().as_ref(), &rec),
                Err(_) => ItemInfo::damaged(tenant, id),
            };
            if filter.covers(id, || info.level.clone()) {
                out.push(info);
            }
            Ok(true)
        })?;
        Ok(out)
    }

    /// Metadata of one item, without decrypting it.
    pub fn item(&self, tenant: &str, item: &str) -> Result<ItemInfo, Error> {
        let (_, record, header) = self.load(tenant, item)?;
        Ok(ItemInfo::new(tenant, item, Some(&header), &record))
    }

    /// Removes an item and its chunks; what it was.
    pub fn remove(&self, tenant: &str, item: &str) -> Result<ItemInfo, Error> {
        valid_name("tenant", tenant)?;
        valid_item_id(item)?;
        self.write(|tx| {
            if tx.tenant(tenant)?.is_none() {
                return Err(no_tenant(tenant));
            }
            let record = tx.item(tenant, item)?.ok_or_else(|| no_item(tenant, item))?;
            tx.remove_item(tenant, item, &record)?;
            self.record(tx, tenant, item, AuditEvent::Rm)?;
            Ok(ItemInfo::new(tenant, item, Header::decode(&record.header).ok().as_ref(), &record))
        })
    }

    /// The item record and its decoded header, checked to belong where it is stored.
    /// Returns the snapshot it was read from, which the chunks must be read from too: another
    /// process may replace or remove the item meanwhile, and a later snapshot would lack the
    /// chunks this record names.
    pub(super) fn load(&self, tenant: &str, item: &str) -> Result<(ReadTx<'_>, ItemRecord, Header), Error> {
        let snapshot = self.store().begin_read()?;
        let (record, header) = load_from(&*snapshot, tenant, item)?;
        Ok((snapshot, record, header))
    }
}

/// The item record and its decoded header from `snapshot`, checked to belong where it is
/// stored.
pub(super) fn load_from(
    snapshot: &dyn crate::store::Reads,
    tenant: &str,
    item: &str,
) -> Result<(ItemRecord, Header), Error> {
    {
        valid_name("tenant", tenant)?;
        valid_item_id(item)?;
        let record = match snapshot.item(tenant, item)? {
            Some(r) => r,
            None if snapshot.tenant(tenant)?.is_none() => return Err(no_tenant(tenant)),
            None => return Err(no_item(tenant, item)),
        };
        let header = Header::decode(&record.header)
            .map_err(|e| tampered(tenant, item, &format!("damaged header: {e}")))?;
        if header.tenant != tenant || header.item != item {
            return Err(tampered(tenant, item, "its envelope names another item (it was moved)"));
        }
        if record.chunks == 0 {
            return Err(tampered(tenant, item, "it has no chunks"));
        }
        Ok((record, header))
    }
}

fn no_item(tenant: &str, item: &str) -> Error {
    Error::not_found(format!("no item {item:?} in tenant {tenant:?}"))
}

/// The audit detail of a put.
/// What a write logs: the stored header's hash pins the item; the manifest its writer trusted.
pub(crate) fn logged_write(
    header: &Header,
    stored: &ItemRecord,
    replaced: bool,
    manifest: &[u8; 32],
) -> Stored {
    Stored {
        level: header.level.clone(),
        epoch: header.epoch,
        size: stored.size,
        replaced,
        manifest: *manifest,
        header: crate::crypto::sha256(&stored.header),
    }
}

/// Checks that a raw envelope's epochs exist for its level and its fingerprint is the one
/// this vault registered for the key epoch.
pub(crate) fn check_registered_key(record: &TenantRecord, header: &Header) -> Result<(), Error> {
    let level = find_level(record, &header.level)
        .map_err(|e| Error::integrity(format!("the envelope's level: {e}")))?;
    let epoch = |n: u32| level.epochs.iter().find(|e| e.epoch == n);
    if epoch(header.epoch).is_none() {
        return Err(Error::integrity(format!("level {:?} has no epoch {}", header.level, header.epoch)));
    }
    match epoch(header.key_epoch) {
        Some(e) if fingerprint(&e.public) == header.fingerprint => Ok(()),
        Some(_) => Err(Error::integrity("the envelope is wrapped to a key this vault did not register")),
        None => Err(Error::integrity(format!("level {:?} has no epoch {}", header.level, header.key_epoch))),
    }
}
