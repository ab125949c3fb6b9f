//! Writing a large item on two cores: this thread reads (and encrypts), a second one stores.
//!
//! Chunks go to the store ahead of the item record, in groups of [`crate::store::STAGE_BYTES`], each its own
//! durable transaction: redb keeps a transaction's dirty pages in a buffer of half its cache,
//! and a larger transaction spills them and writes each page twice (a 256 MiB put in one
//! transaction wrote 513 MiB and read 256 MiB back). Until the record exists nothing refers to
//! the chunks' fresh random blob id, so no reader can reach them. The first group marks the blob
//! as being staged, and the transaction that stores the record (and its audit entry) ends the
//! mark. An error removes the chunks; a crash leaves them marked, under a claim no live process
//! holds, and the next process to open the vault sweeps them.

use super::pipeline::{self, GiveBack, Threads};
use std::io::Read;

use super::chunks::{ChunkSink, Replace, check_replace, finish_put, seal_item};
use super::envelope::ItemFields;
use super::{Error, Vault, no_tenant};
use crate::crypto::{PublicKey, Wrapper};
use crate::format::{CHUNK_TAG_LEN, Header};
use crate::store::records::{ItemRecord, TenantRecord};
use crate::store::{Store, StoreError, Writes};
use crate::writeback::Writeback;

/// Chunks waiting between two threads of a put or a get (64 KiB each: at most 4 MiB). Room
/// for a whole staged group lets the encrypting thread go on while the other commits one
/// (with 8 MiB groups, 32 gave 0.46 s for a 256 MiB put, 128 gave 0.31-0.34 s).
pub(crate) const QUEUE_CHUNKS: usize = 64;

/// Chunks of one item not yet in the transaction that stores its record.
pub(crate) struct Staged<'s> {
    store: &'s dyn Store,
    blob: [u8; 16],
    group: Vec<(u64, Vec<u8>)>,
    bytes: usize,
    staged: bool,
    writeback: Option<Writeback>,
}

/// A chunk on its way to be staged: blob id, index, ciphertext.
type Chunk = ([u8; 16], u64, Vec<u8>);

impl<'s> Staged<'s> {
    fn new(store: &'s dyn Store) -> Self {
        Staged { store, blob: [0; 16], group: Vec::new(), bytes: 0, staged: false, writeback: None }
    }

    fn push(
        &mut self,
        blob: [u8; 16],
        index: u64,
        chunk: Vec<u8>,
        give_back: &mut GiveBack<'_, Chunk>,
    ) -> Result<(), Error> {
        self.blob = blob;
        self.bytes += chunk.len();
        self.group.push((index, chunk));
        if self.bytes >= self.store.stage_bytes() {
            // Set first: a failed stage may have taken the claim, which the discard lets go.
            let first = !self.staged;
            self.staged = true;
            self.store.stage_chunks(&self.blob, &self.group)?;
            if first {
                self.writeback = self.store.writeback();
            }
            if let Some(w) = &self.writeback {
                w.nudge();
            }
            for (index, chunk) in self.group.drain(..) {
                give_back((self.blob, index, chunk));
            }
            self.bytes = 0;
        }
        Ok(())
    }

    /// Ends a staged write. If `produced` holds the item, one durable transaction: `check` that
    /// the tenant's record still allows it (it returns the hash of the manifest to log), refuse to replace an item unless `replace`, store
    /// the chunks not staged yet and the record, let `audit` record the event (told whether an
    /// item was replaced), commit. On any error the staged chunks are removed and nothing
    /// changes.
    pub(crate) fn commit(
        self,
        vault: &Vault,
        produced: Result<(Header, ItemRecord), Error>,
        replace: Replace,
        check: impl Fn(&TenantRecord) -> Result<[u8; 32], Error>,
        audit: impl Fn(&dyn Writes, &Header, &ItemRecord, bool, [u8; 32]) -> Result<(), Error>,
    ) -> Result<(Header, ItemRecord), Error> {
        let result = produced.and_then(|(header, stored)| {
            let tenant = header.tenant.as_str();
            vault.write(|tx| {
                let manifest = check(&tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?)?;
                if self.staged && !tx.end_staging(&self.blob)? {
                    return Err(StoreError::Swept.into());
                }
                let mut w = tx.item_writer()?;
                let previous = check_replace(&*w, tenant, &header.item, replace)?;
                for (index, chunk) in &self.group {
                    w.put_chunk(&self.blob, *index, chunk)?;
                }
                finish_put(&mut *w, &header, previous.as_ref(), &stored)?;
                drop(w);
                audit(tx, &header, &stored, previous.is_some(), manifest)
            })?;
            Ok((header, stored))
        });
        match &result {
            Ok(_) if self.staged => self.store.release_staging(&self.blob),
            Ok(_) => {}
            Err(_) => self.discard(),
        }
        result
    }

    /// After a failed write: removes what was staged. Best effort: the error that got us here
    /// is the one to report, and chunks left behind stay marked, for a later sweep.
    fn discard(self) {
        if self.staged {
            let _ = self.store.discard_chunks(&self.blob);
        }
    }
}

/// Runs `produce` on this thread, handing it a sink whose chunks (of at most `full` bytes)
/// are staged by the pipeline's other stage. Returns what `produce` returned (or why not) and
/// the chunks still to be written; on error the caller must [`Staged::discard`] them.
pub(crate) fn stage_with<'s, T>(
    store: &'s dyn Store,
    threads: Threads,
    full: usize,
    produce: impl FnOnce(&mut ChunkSink<'_>) -> Result<T, Error>,
) -> (Result<T, Error>, Staged<'s>) {
    let mut staged = Staged::new(store);
    let mut produced = None;
    let result = pipeline::to_worker(
        threads,
        // Room for one staged group of this engine: the encrypting thread goes on while the
        // other commits one.
        QUEUE_CHUNKS.max(store.stage_bytes() / (64 * 1024)),
        |handoff| {
            let value = produce(&mut |blob, index, chunk| {
                // Hand the buffer over and read the next chunk into one the stager is done with
                // (or a new one): no copy, and no allocation once buffers circulate.
                let taken = std::mem::take(chunk);
                *chunk = match handoff((*blob, index, taken))? {
                    Some((_, _, back)) => back,
                    None => Vec::with_capacity(full),
                };
                Ok(())
            })?;
            produced = Some(value);
            Ok(())
        },
        |(blob, index, chunk), give_back| staged.push(blob, index, chunk, give_back),
    );
    let produced = result.and_then(|()| produced.ok_or_else(|| Error::other("nothing was produced")));
    (produced, staged)
}

/// Stores `input` as a new item (`put`, and `import` of a file over [`crate::store::STAGE_BYTES`]): read
/// and sealed on this thread while a second stages the chunks, then stored by
/// [`Staged::commit`], which also checks that the level is still at the epoch the item was
/// sealed under.
pub(crate) fn put_staged(
    vault: &Vault,
    fields: &ItemFields<'_>,
    level_public: &[u8; 32],
    input: &mut dyn Read,
    replace: Replace,
    audit: impl Fn(&dyn Writes, &Header, &ItemRecord, bool, [u8; 32]) -> Result<(), Error>,
) -> Result<(Header, ItemRecord), Error> {
    let (level, item) = (fields.level, fields.item);
    let wrapper = Wrapper::new(&PublicKey(*level_public))?;
    let full = fields.chunk_size as usize + CHUNK_TAG_LEN;
    let (sealed, staged) = stage_with(vault.store(), vault.threads(), full, |sink| {
        seal_item(fields, level_public, &wrapper, input, vault.now(), sink)
    });
    let still = |record: &TenantRecord| vault.still_target(record, level, item, fields.epoch, level_public);
    staged.commit(vault, sealed, replace, still, audit)
}
