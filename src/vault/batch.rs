//! Group commit: many small envelopes stored in one durable transaction, each checked and
//! logged as `put --raw` checks and logs it, each with its own outcome. A server that gets
//! small puts from many clients at once commits them together and acknowledges each once the
//! group is durable (one fdatasync for the group instead of one per put).

use super::chunks::{Replace, check_replace, finish_put, item_chunks};
use super::envelope::read_header;
use super::items::{check_registered_key, load_from, logged_write};
use super::{Error, ItemInfo, Vault, no_tenant, valid_name, valid_new_item_id};
use crate::crypto::{fingerprint, random_array};
use crate::format::{AuditEvent, CHUNK_TAG_LEN, Header, check_chunk_len};
use crate::store::records::{ItemRecord, TenantRecord};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use super::manifest::WriteTarget;

/// The most an envelope stored in a group may hold: larger ones are staged as `put --raw`
/// stages them, in transactions of their own.
pub const MAX_GROUPED_ENVELOPE: usize = 256 * 1024;
/// Envelope bytes one group stores, or reads, at most.
pub const MAX_GROUP_BYTES: usize = 8 * 1024 * 1024;
/// The most items one batch request (`import`'s or `export`'s, through a server) holds.
pub const MAX_GROUP_ITEMS: usize = 256;

/// One envelope of a group.
#[derive(Debug, Clone)]
pub struct RawPut {
    /// Tenant.
    pub tenant: String,
    /// Item id.
    pub item: String,
    /// The whole envelope (at most [`MAX_GROUPED_ENVELOPE`] bytes).
    pub envelope: Vec<u8>,
    /// Whether it may replace an existing item.
    pub replace: Replace,
    /// Who the audit log names as its writer.
    pub actor: String,
}

/// An envelope read and checked, ready for the group's transaction.
struct Ready {
    header: Header,
    record: ItemRecord,
    chunks: Vec<(u64, Vec<u8>)>,
}

impl Vault {
    /// Stores `puts` in one transaction: each is checked (structure, tenant and item, the
    /// registered key, the level's current epoch as the signed manifest names it, whether it
    /// may replace) and logged as a raw put by its actor; one that fails a check gets its
    /// error and stores nothing, the others are stored. A failure of the store itself fails
    /// them all, and nothing is stored.
    pub fn put_raw_group(&self, puts: &[RawPut]) -> Vec<Result<ItemInfo, Error>> {
        let mut results: Vec<Result<ItemInfo, Error>> = Vec::with_capacity(puts.len());
        let ready: Vec<Option<Ready>> = puts
            .iter()
            .map(|p| match read_one(p, self.now()) {
                Ok(r) => Some(r),
                Err(e) => {
                    results.push(Err(e));
                    None
                }
            })
            .collect();
        // Run again as a whole when the database ends it for a conflict (retry.rs).
        let outcome = self.write(|tx| {
            let mut failed = results.iter().cloned();
            let mut out = Vec::with_capacity(puts.len());
            // A tenant's record and its levels' write targets, read (and the manifest's
            // signature checked) once per group: puts change neither.
            let mut records: HashMap<String, TenantRecord> = HashMap::new();
            let mut targets: HashMap<(String, String), WriteTarget> = HashMap::new();
            for (put, ready) in puts.iter().zip(&ready) {
                let Some(ready) = ready else {
                    out.push(failed.next().unwrap_or_else(|| Err(Error::other("lost a result"))));
                    continue;
                };
                let (header, stored) = (&ready.header, &ready.record);
                // The checks `put --raw` makes at commit, on this transaction's view.
                let checked = (|| {
                    let record = match records.entry(put.tenant.clone()) {
                        Entry::Occupied(known) => known.into_mut(),
                        Entry::Vacant(place) => {
                            place.insert(tx.tenant(&put.tenant)?.ok_or_else(|| no_tenant(&put.tenant))?)
                        }
                    };
                    check_registered_key(record, header)?;
                    let current = match targets.entry((put.tenant.clone(), header.level.clone())) {
                        Entry::Occupied(known) => *known.get(),
                        Entry::Vacant(place) => *place.insert(self.write_target(record, &header.level)?),
                    };
                    if current.epoch != header.key_epoch || fingerprint(&current.public) != header.fingerprint
                    {
                        // The kind `put --raw` gives an envelope to an old epoch.
                        return Err(Error::integrity(format!(
                            "the envelope of {:?} is wrapped to epoch {} of level {:?}, not to the current epoch {} that the tenant's signed manifest names; nothing was stored",
                            put.item, header.key_epoch, header.level, current.epoch
                        )));
                    }
                    let w = tx.item_writer()?;
                    let previous = check_replace(&*w, &put.tenant, &put.item, put.replace)?;
                    Ok((current.manifest, previous))
                })();
                let (manifest, previous) = match checked {
                    Ok(c) => c,
                    Err(e) => {
                        out.push(Err(e));
                        continue;
                    }
                };
                let mut w = tx.item_writer()?;
                for (index, chunk) in &ready.chunks {
                    w.put_chunk(&stored.blob, *index, chunk)?;
                }
                finish_put(&mut *w, header, previous.as_ref(), stored)?;
                drop(w);
                let event = AuditEvent::PutRaw(logged_write(header, stored, previous.is_some(), &manifest));
                self.record_as(tx, &put.actor, &put.tenant, &put.item, event)?;
                out.push(Ok(ItemInfo::new(&put.tenant, &put.item, Some(header), stored)));
            }
            Ok(out)
        });
        match outcome {
            Ok(out) => out,
            Err(e) => puts.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}

/// What one read of a group gives: the envelope, `None` for one to read alone, or why not.
pub type GroupRead = Result<Option<Vec<u8>>, Error>;

/// One read of a group: an item's envelope, for an actor.
#[derive(Debug, Clone)]
pub struct RawGet {
    /// Tenant.
    pub tenant: String,
    /// Item id.
    pub item: String,
    /// Who the audit log names as its reader.
    pub actor: String,
}

impl Vault {
    /// The envelopes of `gets`, each as [`Vault::get_raw`] writes it, read from one snapshot;
    /// every read is logged (one entry each, under its actor) in one durable transaction
    /// before any envelope is returned. `Ok(None)` for an item whose envelope is larger than
    /// [`MAX_GROUPED_ENVELOPE`], or that would take the group past [`MAX_GROUP_BYTES`]: it is
    /// not logged, and is to be read alone. An item missing or damaged gets its own error.
    pub fn get_raw_group(&self, gets: &[RawGet]) -> Result<Vec<GroupRead>, Error> {
        let snapshot = self.store().begin_read()?;
        let mut total = 0u64;
        let out: Vec<GroupRead> = gets
            .iter()
            .map(|get| {
                let (record, header) = load_from(&*snapshot, &get.tenant, &get.item)?;
                // The record's numbers are the store's (the operator's): no overflow from them.
                let size = (record.header.len() as u64)
                    .saturating_add(record.size)
                    .saturating_add(record.chunks.saturating_mul(CHUNK_TAG_LEN as u64));
                if size > MAX_GROUPED_ENVELOPE as u64 || total + size > MAX_GROUP_BYTES as u64 {
                    return Ok(None);
                }
                total += size;
                let mut envelope = Vec::with_capacity(size as usize);
                envelope.extend_from_slice(&record.header);
                super::chunks::stored_chunks(&*snapshot, &record, &header, |_, chunk, _| {
                    envelope.extend_from_slice(chunk);
                    Ok(())
                })?;
                Ok(Some(envelope))
            })
            .collect();
        drop(snapshot);
        if out.iter().any(|r| matches!(r, Ok(Some(_)))) {
            self.write(|tx| {
                for (get, _) in gets.iter().zip(&out).filter(|(_, r)| matches!(r, Ok(Some(_)))) {
                    self.record_as(tx, &get.actor, &get.tenant, &get.item, AuditEvent::GetRaw)?;
                }
                Ok(())
            })?;
        }
        Ok(out)
    }
}

/// Reads and checks one envelope of a group, before the transaction.
fn read_one(put: &RawPut, now: u64) -> Result<Ready, Error> {
    valid_name("tenant", &put.tenant)?;
    valid_new_item_id(&put.item)?;
    if put.envelope.len() > MAX_GROUPED_ENVELOPE {
        return Err(Error::usage(format!(
            "an envelope stored in a group holds at most {MAX_GROUPED_ENVELOPE} bytes"
        )));
    }
    let mut input = &put.envelope[..];
    let header = read_header(&mut input)?;
    if header.tenant != put.tenant || header.item != put.item {
        return Err(Error::integrity(format!(
            "the envelope belongs to tenant {:?}, item {:?}, not tenant {:?}, item {:?}",
            header.tenant, header.item, put.tenant, put.item
        )));
    }
    let blob = random_array()?;
    let full = header.chunk_size as usize + CHUNK_TAG_LEN;
    let mut chunks = Vec::new();
    let check = |index, buf: &mut Vec<u8>, last| {
        check_chunk_len(header.chunk_size, index, buf.len(), last)
            .map_err(|e| Error::integrity(format!("envelope payload: {e}")))
    };
    let (count, read, inline) = item_chunks(&mut input, full, &blob, check, &mut |_, index, chunk| {
        chunks.push((index, chunk.clone()));
        Ok(())
    })?;
    let record = ItemRecord {
        header: header.encode().map_err(Error::encoding)?,
        size: read - count * CHUNK_TAG_LEN as u64,
        created: now,
        blob,
        chunks: count,
        inline,
    };
    Ok(Ready { header, record, chunks })
}
