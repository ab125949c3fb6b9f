//! An item's chunks and record as they are written and read back: a new item sealed into
//! chunks (the only chunk of a small item kept inline in its record), stored chunks read in
//! order with every length and count checked, and a record stored over the version it
//! replaces. Shared by put, staged put, import, export, get and verify.

use std::io::Read;

use super::Error;
use super::Remedy;
use super::envelope::{ItemFields, for_each_chunk, seal_header, tampered};
use crate::crypto::{ChunkSealer, DataKey, Wrapper, random_array};
use crate::format::{CHUNK_TAG_LEN, Header, check_chunk_len};
use crate::store::records::ItemRecord;
use crate::store::{ItemWriter, Reads};

/// Receives each sealed chunk stored outside the item record: (blob id, index, ciphertext).
/// The sink may take the buffer (leaving another in its place).
pub(crate) type ChunkSink<'a> = dyn FnMut(&[u8; 16], u64, &mut Vec<u8>) -> Result<(), Error> + 'a;

/// Encrypts `input` as a new item under a fresh data key and nonce, handing each sealed chunk
/// (with the item's new blob id) to `sink`; returns its header and the record to store.
pub(crate) fn seal_item(
    fields: &ItemFields<'_>,
    level_public: &[u8; 32],
    wrapper: &Wrapper,
    input: &mut dyn Read,
    created: u64,
    sink: &mut ChunkSink<'_>,
) -> Result<(Header, ItemRecord), Error> {
    let (header, mut sealer, blob) = new_item(fields, level_public, wrapper)?;
    let seal = |_, buf: &mut Vec<u8>, last| Ok(sealer.seal(buf, last)?);
    let (count, size, inline) = item_chunks(input, fields.chunk_size as usize, &blob, seal, sink)?;
    let record = ItemRecord {
        header: header.encode().map_err(Error::encoding)?,
        size,
        created,
        blob,
        chunks: count,
        inline,
    };
    Ok((header, record))
}

/// [`for_each_chunk`] for a new item: `prepare` turns each piece into its stored form in
/// place; an only chunk is kept for the record (inline), the others go to `sink` under `blob`.
/// Returns the number of chunks, the bytes read and the inline chunk.
pub(crate) fn item_chunks(
    input: &mut dyn Read,
    size: usize,
    blob: &[u8; 16],
    mut prepare: impl FnMut(u64, &mut Vec<u8>, bool) -> Result<(), Error>,
    sink: &mut ChunkSink<'_>,
) -> Result<(u64, u64, Option<Vec<u8>>), Error> {
    let mut inline = None;
    let (count, read) = for_each_chunk(input, size, |index, buf, last| {
        prepare(index, buf, last)?;
        if index == 0 && last {
            inline = Some(buf.clone());
            Ok(())
        } else {
            sink(blob, index, buf)
        }
    })?;
    Ok((count, read, inline))
}

/// [`seal_item`] for content already in memory that fits one chunk: sealed in place, no copy.
pub(crate) fn seal_small(
    fields: &ItemFields<'_>,
    level_public: &[u8; 32],
    wrapper: &Wrapper,
    mut content: Vec<u8>,
    created: u64,
) -> Result<(Header, ItemRecord), Error> {
    debug_assert!(content.len() <= fields.chunk_size as usize);
    let (header, mut sealer, blob) = new_item(fields, level_public, wrapper)?;
    let size = content.len() as u64;
    sealer.seal(&mut content, true)?;
    let record = ItemRecord {
        header: header.encode().map_err(Error::encoding)?,
        size,
        created,
        blob,
        chunks: 1,
        inline: Some(content),
    };
    Ok((header, record))
}

/// A new item's header (data key wrapped, commitment made), its chunk sealer and its blob id,
/// from one draw of fresh randomness.
pub(crate) fn new_item(
    fields: &ItemFields<'_>,
    level_public: &[u8; 32],
    wrapper: &Wrapper,
) -> Result<(Header, ChunkSealer, [u8; 16]), Error> {
    // One draw from the OS for the data key, the item nonce and the blob id.
    let random = zeroize::Zeroizing::new(random_array::<80>()?);
    let mut dek = zeroize::Zeroizing::new([0u8; 32]);
    dek.copy_from_slice(&random[..32]);
    let (mut nonce, mut blob) = ([0u8; 32], [0u8; 16]);
    nonce.copy_from_slice(&random[32..64]);
    blob.copy_from_slice(&random[64..]);
    let (header, sealer) = seal_header(fields, level_public, &DataKey::from_bytes(dek), nonce, wrapper)?;
    Ok((header, sealer, blob))
}

/// Reads an item's chunks in order from `r`, checking that each is there with a valid length,
/// that none follows the last, and that their content adds up to the recorded size; `f` gets
/// each chunk (ciphertext) and whether it is the last.
pub(crate) fn stored_chunks(
    r: &dyn Reads,
    record: &ItemRecord,
    header: &Header,
    f: impl FnMut(u64, &mut Vec<u8>, bool) -> Result<(), Error>,
) -> Result<(), Error> {
    stored_chunks_into(r, record, header, Vec::new, f)
}

/// [`stored_chunks`] reading each chunk into a buffer from `buffer` (which may hand out
/// recycled ones: `f` may keep the buffer it is given).
pub(crate) fn stored_chunks_into(
    r: &dyn Reads,
    record: &ItemRecord,
    header: &Header,
    mut buffer: impl FnMut() -> Vec<u8>,
    mut f: impl FnMut(u64, &mut Vec<u8>, bool) -> Result<(), Error>,
) -> Result<(), Error> {
    let (tenant, item) = (header.tenant.as_str(), header.item.as_str());
    let mut size = 0u64;
    for index in 0..record.chunks {
        let last = index + 1 == record.chunks;
        let mut chunk = buffer();
        chunk.clear();
        let found = match (&record.inline, index) {
            (Some(inline), 0) => {
                chunk.extend_from_slice(inline);
                true
            }
            (Some(_), _) => false,
            (None, _) => r.chunk_into(&record.blob, index, &mut chunk)?,
        };
        if !found {
            return Err(tampered(tenant, item, &format!("chunk {index} is missing")));
        }
        check_chunk_len(header.chunk_size, index, chunk.len(), last)
            .map_err(|e| tampered(tenant, item, &format!("chunk {index}: {e}")))?;
        size += (chunk.len() - CHUNK_TAG_LEN) as u64;
        f(index, &mut chunk, last)?;
    }
    if r.chunk(&record.blob, record.chunks)?.is_some() {
        return Err(tampered(tenant, item, "chunks follow the final chunk"));
    }
    if size != record.size {
        return Err(tampered(tenant, item, "its recorded size does not match its content"));
    }
    Ok(())
}

/// Stores a new item record, dropping the chunks of the version it replaces.
pub(crate) fn finish_put(
    w: &mut dyn ItemWriter,
    header: &Header,
    previous: Option<&ItemRecord>,
    stored: &ItemRecord,
) -> Result<(), Error> {
    if let Some(old) = previous {
        w.remove_chunks(&old.blob)?;
    }
    w.put_item(&header.tenant, &header.item, stored)?;
    Ok(())
}

/// Whether a write may replace an item already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// No: an existing item is a conflict.
    No,
    /// Yes, whatever it is.
    Any,
    /// Only the item whose stored header has this SHA-256 (what the caller read).
    IfHeader([u8; 32]),
}

impl From<bool> for Replace {
    fn from(replace: bool) -> Replace {
        if replace { Replace::Any } else { Replace::No }
    }
}

/// The existing item, if replacing is allowed; a conflict if it exists and is not.
pub(crate) fn check_replace(
    w: &dyn ItemWriter,
    tenant: &str,
    item: &str,
    replace: Replace,
) -> Result<Option<ItemRecord>, Error> {
    match (w.item(tenant, item)?, replace) {
        (Some(_), Replace::No) => Err(exists(tenant, item)),
        (Some(old), Replace::IfHeader(h)) if crate::crypto::sha256(&old.header) != h => Err(Error::conflict(
            format!("item {item:?} of tenant {tenant:?} changed since it was read; nothing was replaced"),
        )),
        (None, Replace::IfHeader(_)) => {
            Err(Error::conflict(format!("item {item:?} of tenant {tenant:?} was removed since it was read")))
        }
        (existing, _) => Ok(existing),
    }
}

pub(crate) fn exists(tenant: &str, item: &str) -> Error {
    Error::conflict(format!("item {item:?} already exists in tenant {tenant:?}")).with_remedy(Remedy::Replace)
}
