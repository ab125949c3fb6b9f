//! Writing a large item on two cores: this thread reads (and encrypts), a second one stores.
//!
//! Chunks go to the store ahead of the item record, in groups of [`STAGE_BYTES`] committed
//! without an fsync ([`Store::stage_chunks`] says why: one big transaction makes redb write
//! every page twice). Until the record exists nothing refers to the chunks' fresh random blob
//! id, so no reader can reach them; the transaction that stores the record (and its audit entry)
//! is durable and makes them durable with it. A crash before it loses them with everything
//! else uncommitted; an error removes them.

use std::io::Read;
use std::sync::mpsc::{Sender, channel, sync_channel};

use super::chunks::{ChunkSink, check_replace, finish_put, seal_item};
use super::envelope::ItemFields;
use super::{Error, Vault, current_epoch, no_tenant};
use crate::crypto::{PublicKey, Wrapper};
use crate::format::{CHUNK_TAG_LEN, Header};
use crate::store::records::{ItemRecord, TenantRecord};
use crate::store::{STAGE_BYTES, Store, Writes};
use crate::writeback::Writeback;

/// Chunks waiting between two threads of a put or a get (64 KiB each: at most 8 MiB). Room
/// for 128 lets the encrypting thread go on while the other commits a staged group (32 gave
/// 0.46 s for a 256 MiB put, 128 gave 0.31-0.34 s).
pub(crate) const QUEUE_CHUNKS: usize = 128;

/// Chunks of one item not yet in the transaction that stores its record.
pub(crate) struct Staged<'s> {
    store: &'s dyn Store,
    blob: [u8; 16],
    group: Vec<(u64, Vec<u8>)>,
    bytes: usize,
    staged: bool,
    writeback: Option<Writeback>,
    /// Where the buffers of staged chunks go back to the sealing thread, for reuse.
    give_back: Option<Sender<Vec<u8>>>,
}

impl<'s> Staged<'s> {
    fn new(store: &'s dyn Store) -> Self {
        Staged {
            store,
            blob: [0; 16],
            group: Vec::new(),
            bytes: 0,
            staged: false,
            writeback: None,
            give_back: None,
        }
    }

    fn push(&mut self, blob: [u8; 16], index: u64, chunk: Vec<u8>) -> Result<(), Error> {
        self.blob = blob;
        self.bytes += chunk.len();
        self.group.push((index, chunk));
        if self.bytes >= STAGE_BYTES {
            self.store.stage_chunks(&self.blob, &self.group)?;
            if !self.staged {
                self.staged = true;
                self.writeback = self.store.writeback();
            }
            if let Some(w) = &self.writeback {
                w.nudge();
            }
            for (_, chunk) in self.group.drain(..) {
                if let Some(g) = &self.give_back {
                    let _ = g.send(chunk);
                }
            }
            self.bytes = 0;
        }
        Ok(())
    }

    /// Ends a staged write. If `produced` holds the item, one durable transaction: `check` that
    /// the tenant's record still allows it, refuse to replace an item unless `replace`, store
    /// the chunks not staged yet and the record, let `audit` record the event (told whether an
    /// item was replaced), commit. On any error the staged chunks are removed and nothing
    /// changes.
    pub(crate) fn commit(
        mut self,
        vault: &Vault,
        produced: Result<(Header, ItemRecord), Error>,
        replace: bool,
        check: impl FnOnce(&TenantRecord) -> Result<(), Error>,
        audit: impl FnOnce(&dyn Writes, &Header, &ItemRecord, bool) -> Result<(), Error>,
    ) -> Result<(Header, ItemRecord), Error> {
        let result = produced.and_then(|(header, stored)| {
            let tenant = header.tenant.as_str();
            let tx = vault.store().begin_write()?;
            check(&tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?)?;
            let mut w = tx.item_writer()?;
            let previous = check_replace(&*w, tenant, &header.item, replace)?;
            for (index, chunk) in self.group.drain(..) {
                w.put_chunk(&self.blob, index, &chunk)?;
            }
            finish_put(&mut *w, &header, previous.as_ref(), &stored)?;
            drop(w);
            audit(&*tx, &header, &stored, previous.is_some())?;
            tx.commit()?;
            Ok((header, stored))
        });
        if result.is_err() {
            self.discard();
        }
        result
    }

    /// After a failed write: removes what was staged. Best effort: the error that got us here
    /// is the one to report, and chunks left behind are orphans that `verify` names.
    fn discard(self) {
        if self.staged {
            let _ = self.store.discard_chunks(&self.blob);
        }
    }
}

/// Runs `produce` on this thread, handing it a sink whose chunks (of at most `full` bytes) a
/// second thread stages. Returns what `produce` returned (or why not) and the chunks still
/// to be written; on error the caller must [`Staged::discard`] them.
pub(crate) fn stage_with<'s, T>(
    store: &'s dyn Store,
    full: usize,
    produce: impl FnOnce(&mut ChunkSink<'_>) -> Result<T, Error>,
) -> (Result<T, Error>, Staged<'s>) {
    std::thread::scope(|scope| {
        let (send, receive) = sync_channel::<([u8; 16], u64, Vec<u8>)>(QUEUE_CHUNKS);
        let (give_back, take_back) = channel::<Vec<u8>>();
        let writer = scope.spawn(move || {
            let mut staged = Staged::new(store);
            staged.give_back = Some(give_back);
            for (blob, index, chunk) in receive {
                if let Err(e) = staged.push(blob, index, chunk) {
                    return (Err(e), staged);
                }
            }
            (Ok(()), staged)
        });
        let produced = produce(&mut |blob, index, chunk| {
            // Hand the buffer over and read the next chunk into one the writer is done with
            // (or a new one): no copy, and no allocation once buffers circulate.
            let spare = take_back.try_recv().unwrap_or_else(|_| Vec::with_capacity(full));
            let chunk = std::mem::replace(chunk, spare);
            send.send((*blob, index, chunk)).map_err(|_| Error::other("the chunk writer stopped"))
        });
        drop(send);
        match writer.join() {
            // The writer's error explains a "writer stopped" from the producing side.
            Ok((Err(e), staged)) => (Err(e), staged),
            Ok((Ok(()), mut staged)) => {
                staged.give_back = None;
                (produced, staged)
            }
            Err(_) => (Err(Error::other("internal error: the chunk writer panicked")), Staged::new(store)),
        }
    })
}

/// Stores `input` as a new item (`put`, and `import` of a file over [`STAGE_BYTES`]): read
/// and sealed on this thread while a second stages the chunks, then stored by
/// [`Staged::commit`], which also checks that the level is still at the epoch the item was
/// sealed under.
pub(crate) fn put_staged(
    vault: &Vault,
    fields: &ItemFields<'_>,
    level_public: &[u8; 32],
    input: &mut dyn Read,
    replace: bool,
    audit: impl FnOnce(&dyn Writes, &Header, &ItemRecord, bool) -> Result<(), Error>,
) -> Result<(Header, ItemRecord), Error> {
    let (level, item) = (fields.level, fields.item);
    let wrapper = Wrapper::new(&PublicKey(*level_public))?;
    let full = fields.chunk_size as usize + CHUNK_TAG_LEN;
    let (sealed, staged) = stage_with(vault.store(), full, |sink| {
        seal_item(fields, level_public, &wrapper, input, vault.now(), sink)
    });
    let current_epoch = |record: &TenantRecord| {
        // An approval rotates the level: an item sealed under the epoch before it but stored
        // after it would be readable under that grant.
        if current_epoch(record, level)?.epoch == fields.epoch {
            return Ok(());
        }
        Err(Error::conflict(format!(
            "level {level:?} was re-keyed while {item:?} was being written; nothing was stored, try again"
        )))
    };
    staged.commit(vault, sealed, replace, current_epoch, audit)
}
