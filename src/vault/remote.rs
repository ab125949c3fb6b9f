//! A writer on another machine than the vault: it sees the tenant's record as a server showed
//! it, checks the signed manifest against its own pins (bound to the server's address), and
//! seals an item to a stream, an envelope the server then stores as `put --raw` would.

use std::io::{Read, Write};
use std::sync::Arc;

use super::chunks::new_item;
use super::envelope::{ItemFields, for_each_chunk, read_up_to};
use super::{Error, Vault, no_tenant, valid_name, valid_new_item_id};
use crate::crypto::{PublicKey, Wrapper};
use crate::format::{DEFAULT_CHUNK_SIZE, Header, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};
use crate::store::raw::{RawWrite, Table};
use crate::store::records::TenantRecord;
use crate::store::{MemoryStore, Writes};

/// What a server shows of a tenant, for a writer to check and seal to.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TenantView {
    /// The vault's id (hex): part of every signed statement's origin.
    pub vault: String,
    /// The tenant's record: signing key and current manifest (the operator's claim, checked
    /// by the writer against its pins).
    pub record: TenantRecord,
    /// The tenant's last monitor checkpoint, if any (for the freshness check).
    pub monitor_checkpoint: Option<String>,
}

/// What a server shows a party of one tenant (`GET /v1/tenants/{t}/state`): the rows that
/// hold it (docs/FORMAT.md, "Tenant state"), for the party's client to load into a read-only
/// copy and check as it checks a vault file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TenantState {
    /// The rows: table name, base64 key, base64 value.
    #[schema(value_type = Vec<Vec<String>>)]
    pub rows: Vec<(String, String, String)>,
}

/// The most rows a tenant state may carry (a client refuses more).
pub const MAX_STATE_ROWS: usize = 4_000_000;

impl TenantState {
    /// The state of `rows`.
    pub fn of(rows: &[crate::store::raw::Row]) -> TenantState {
        use base64ct::{Base64, Encoding};
        TenantState {
            rows: rows
                .iter()
                .map(|(t, k, v)| (t.name().to_owned(), Base64::encode_string(k), Base64::encode_string(v)))
                .collect(),
        }
    }

    /// The rows, strictly decoded: known tables, canonical base64, at most [`MAX_STATE_ROWS`].
    pub fn rows(self) -> Result<Vec<crate::store::raw::Row>, Error> {
        use base64ct::{Base64, Encoding};
        if self.rows.len() > MAX_STATE_ROWS {
            return Err(Error::integrity(format!(
                "the server's tenant state has more than {MAX_STATE_ROWS} rows"
            )));
        }
        self.rows
            .into_iter()
            .map(|(table, key, value)| {
                let t = Table::ALL.into_iter().find(|t| t.name() == table).ok_or_else(|| {
                    Error::integrity(format!(
                        "the server's tenant state names no table {:?}",
                        table.escape_debug().to_string()
                    ))
                })?;
                let bytes = |what: &str, text: &str| {
                    Base64::decode_vec(text).map_err(|_| {
                        Error::integrity(format!("a {what} in the server's tenant state is not base64"))
                    })
                };
                Ok((t, bytes("key", &key)?, bytes("value", &value)?))
            })
            .collect()
    }
}

impl Vault {
    /// What a party of `tenant` reads, as rows (see [`crate::store::Reads::tenant_rows`]): for
    /// a server to show a remote client (an engineer: only its own records). A tenant not
    /// created yet shows, for `new_tenant` only (a customer about to create it on a copy), the
    /// vault's schema and id and nothing else: no engineer, and nothing a tenant of that name
    /// left behind before (its requests, grants and audit chain); otherwise it is not found.
    pub fn tenant_rows(
        &self,
        tenant: &str,
        audit_from: u64,
        items: bool,
        engineer: Option<&str>,
        new_tenant: bool,
    ) -> Result<Vec<crate::store::raw::Row>, Error> {
        valid_name("tenant", tenant)?;
        let snapshot = self.store().begin_read()?;
        if snapshot.tenant(tenant)?.is_some() {
            return Ok(snapshot.tenant_rows(tenant, audit_from, items, engineer)?);
        }
        if !new_tenant {
            return Err(no_tenant(tenant));
        }
        let vault_own = |(table, key, _): &crate::store::raw::Row| {
            *table == Table::Meta && (key == b"schema" || key == b"vault_id")
        };
        Ok(snapshot.tenant_rows(tenant, u64::MAX, false, Some(""))?.into_iter().filter(vault_own).collect())
    }

    /// What this vault shows of `tenant`, for a remote writer.
    pub fn tenant_view(&self, tenant: &str) -> Result<TenantView, Error> {
        valid_name("tenant", tenant)?;
        let snapshot = self.store().begin_read()?;
        let record = snapshot.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
        Ok(TenantView {
            vault: crate::format::hex(&self.id()),
            record,
            monitor_checkpoint: snapshot.monitor_checkpoint(tenant)?,
        })
    }

    /// A vault handle on what a server showed (`view`), found at `place` (the server's
    /// address): reads and checks as a local vault does, holds nothing else.
    pub fn of_view(view: &TenantView, place: &str) -> Result<Vault, Error> {
        let id = crate::format::hex_array::<16>("vault id", &view.vault)
            .map_err(|e| Error::integrity(format!("the server's vault id: {e}")))?;
        let store = Arc::new(MemoryStore::new());
        {
            let tx = store.begin_raw_write();
            tx.put(Table::Meta, b"vault_id", &id)?;
            tx.put_tenant(&view.record)?;
            if let Some(note) = &view.monitor_checkpoint {
                tx.put_monitor_checkpoint(&view.record.name, note)?;
            }
            tx.commit()?;
        }
        let mut vault = Vault::on_memory(store);
        vault.place = Arc::from(place.as_bytes());
        Ok(vault)
    }

    /// The epoch an item of `level` of `tenant` would be sealed under, checked as
    /// [`Vault::seal_to`] checks it (the signed manifest against this machine's pins): for a
    /// caller to refuse before it starts sending anything.
    pub fn sealing_epoch(&self, tenant: &str, level: &str) -> Result<u32, Error> {
        valid_name("tenant", tenant)?;
        valid_name("level", level)?;
        Ok(self.write_target(&self.tenant(tenant)?, level)?.epoch)
    }

    /// Seals `input` as item `item` of `level` to `out` (an envelope: header, then chunks),
    /// under the level's current key as the tenant's manifest, checked against this machine's
    /// pins, names it. Stores nothing. Returns the header.
    pub fn seal_to(
        &self,
        tenant: &str,
        item: &str,
        level: &str,
        chunk_size: Option<u32>,
        input: &mut dyn Read,
        out: &mut dyn Write,
    ) -> Result<Header, Error> {
        let chunk_size = checked_fields(tenant, item, level, chunk_size)?;
        let record = self.tenant(tenant)?;
        let target = self.write_target(&record, level)?;
        let wrapper = Wrapper::new(&PublicKey(target.public))?;
        seal_with(
            ItemFields { tenant, level, item, epoch: target.epoch, chunk_size },
            &target.public,
            &wrapper,
            input,
            out,
        )
    }

    /// A sealer of many items of `level` for one batch, under the level's current key as
    /// [`Vault::seal_to`] checks it: every data key of the batch is wrapped with one ephemeral
    /// key (one X25519 exchange per batch, as `import` does; each wrap key is still expanded
    /// from its item's own context and fresh nonce). Make a new one for each batch.
    pub fn batch_sealer(&self, tenant: &str, level: &str) -> Result<BatchSealer, Error> {
        valid_name("tenant", tenant)?;
        valid_name("level", level)?;
        let target = self.write_target(&self.tenant(tenant)?, level)?;
        let wrapper = Wrapper::new(&PublicKey(target.public))?;
        Ok(BatchSealer {
            tenant: tenant.to_owned(),
            level: level.to_owned(),
            epoch: target.epoch,
            public: target.public,
            wrapper,
        })
    }
}

impl Vault {
    /// An envelope of `input` as item `item` of `level`, made as it is read (header, then
    /// each chunk sealed when the reader reaches it): for an upload that streams without a
    /// second thread. Every check [`Vault::seal_to`] makes is made here, before the first byte.
    pub fn sealing_reader(
        &self,
        tenant: &str,
        item: &str,
        level: &str,
        chunk_size: Option<u32>,
        input: Box<dyn Read + Send>,
    ) -> Result<SealingReader, Error> {
        let chunk_size = checked_fields(tenant, item, level, chunk_size)?;
        let target = self.write_target(&self.tenant(tenant)?, level)?;
        let wrapper = Wrapper::new(&PublicKey(target.public))?;
        let fields = ItemFields { tenant, level, item, epoch: target.epoch, chunk_size };
        let (header, sealer, _) = new_item(&fields, &target.public, &wrapper)?;
        Ok(SealingReader {
            input,
            sealer,
            size: chunk_size as usize,
            ready: header.encode().map_err(Error::encoding)?,
            at: 0,
            cur: Vec::new(),
            next: Vec::new(),
            loaded: false,
            done: false,
            failure: Arc::new(std::sync::Mutex::new(None)),
        })
    }
}

/// An envelope made as it is read: see [`Vault::sealing_reader`]. It ends (reads 0) only
/// after its last chunk; an input that fails makes it fail, and the error is kept for
/// [`SealingReader::failure`].
pub struct SealingReader {
    input: Box<dyn Read + Send>,
    sealer: crate::crypto::ChunkSealer,
    size: usize,
    /// Bytes made and not yet read, from `at`.
    ready: Vec<u8>,
    at: usize,
    /// The chunk to seal next, once `loaded`, and the one after it (read ahead to know
    /// whether `cur` is the last).
    cur: Vec<u8>,
    next: Vec<u8>,
    loaded: bool,
    done: bool,
    failure: Arc<std::sync::Mutex<Option<Error>>>,
}

impl SealingReader {
    /// Where the error that stopped it is kept (the reader itself is handed away).
    pub fn failure(&self) -> Arc<std::sync::Mutex<Option<Error>>> {
        self.failure.clone()
    }

    /// Seals the next chunk into `ready`.
    fn make(&mut self) -> Result<(), Error> {
        if !self.loaded {
            read_up_to(&mut *self.input, &mut self.cur, self.size)?;
            self.loaded = true;
        }
        let last =
            self.cur.len() < self.size || read_up_to(&mut *self.input, &mut self.next, self.size)? == 0;
        self.sealer.seal(&mut self.cur, last)?;
        std::mem::swap(&mut self.ready, &mut self.cur);
        self.at = 0;
        std::mem::swap(&mut self.cur, &mut self.next);
        self.done = last;
        Ok(())
    }
}

impl Read for SealingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.at == self.ready.len() {
            if let Some(e) = &*self.failure.lock().unwrap_or_else(|p| p.into_inner()) {
                // Failed once, failed for good: never an end that could pass for the envelope's.
                return Err(std::io::Error::other(e.message.clone()));
            }
            if self.done {
                return Ok(0);
            }
            if let Err(e) = self.make() {
                *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            }
        }
        let n = buf.len().min(self.ready.len() - self.at);
        buf[..n].copy_from_slice(&self.ready[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Seals items of one level for one batch: see [`Vault::batch_sealer`].
pub struct BatchSealer {
    tenant: String,
    level: String,
    epoch: u32,
    public: [u8; 32],
    wrapper: Wrapper,
}

impl BatchSealer {
    /// Seals `input` as item `item` to `out` (an envelope), with the default chunk size.
    pub fn seal(&self, item: &str, input: &mut dyn Read, out: &mut dyn Write) -> Result<Header, Error> {
        valid_new_item_id(item)?;
        let fields = ItemFields {
            tenant: &self.tenant,
            level: &self.level,
            item,
            epoch: self.epoch,
            chunk_size: DEFAULT_CHUNK_SIZE,
        };
        seal_with(fields, &self.public, &self.wrapper, input, out)
    }
}

/// Checks the names of an item to seal; its chunk size (the default if not given).
fn checked_fields(tenant: &str, item: &str, level: &str, chunk_size: Option<u32>) -> Result<u32, Error> {
    valid_name("tenant", tenant)?;
    valid_new_item_id(item)?;
    valid_name("level", level)?;
    let chunk_size = chunk_size.unwrap_or(DEFAULT_CHUNK_SIZE);
    if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
        return Err(Error::usage(format!("chunk size must be {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE} bytes")));
    }
    Ok(chunk_size)
}

/// Seals `input` as the item of `fields` to `out`: its header, then its chunks.
fn seal_with(
    fields: ItemFields<'_>,
    public: &[u8; 32],
    wrapper: &Wrapper,
    input: &mut dyn Read,
    out: &mut dyn Write,
) -> Result<Header, Error> {
    let (header, mut sealer, _) = new_item(&fields, public, wrapper)?;
    out.write_all(&header.encode().map_err(Error::encoding)?).map_err(Error::output)?;
    for_each_chunk(input, fields.chunk_size as usize, |_, chunk, last| {
        sealer.seal(chunk, last)?;
        out.write_all(chunk).map_err(Error::output)
    })?;
    out.flush().map_err(Error::output)?;
    Ok(header)
}
