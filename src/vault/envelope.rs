//! Sealing an item's header and opening envelopes: shared by `put`, `get`, and the offline
//! [`open_envelope`] that decrypts a portable envelope without a vault.

use std::io::{Read, Write};

use super::{Error, LevelKeys};
use crate::crypto::{
    ChunkOpener, ChunkSealer, DataKey, ItemKeys, KeyUnwrap, PublicKey, Purpose, SecretKey, Unwrapper,
    Wrapped, Wrapper, fingerprint,
};
use crate::format::{CHUNK_TAG_LEN, HEADER_FIXED_LEN, Header, check_chunk_len};

/// The names and numbers an item's header carries before any key material.
#[derive(Debug, Clone, Copy)]
pub struct ItemFields<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Level.
    pub level: &'a str,
    /// Item id.
    pub item: &'a str,
    /// Current epoch of the level: both content epoch and key epoch of a new item.
    pub epoch: u32,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
}

/// Builds a new item's header: wraps `dek` to `level_public` with `wrapper`, derives the
/// commitment and the payload key. Returns the header and the chunk sealer.
pub fn seal_header(
    f: &ItemFields<'_>,
    level_public: &[u8; 32],
    dek: &DataKey,
    nonce: [u8; 32],
    wrapper: &Wrapper,
) -> Result<(Header, ChunkSealer), Error> {
    let mut header = Header {
        chunk_size: f.chunk_size,
        epoch: f.epoch,
        key_epoch: f.epoch,
        tenant: f.tenant.to_owned(),
        level: f.level.to_owned(),
        item: f.item.to_owned(),
        nonce,
        fingerprint: fingerprint(level_public),
        ephemeral: [0; 32],
        wrapped_dek: [0; 48],
        commitment: [0; 32],
    };
    let wrapped =
        wrapper.wrap(Purpose::DataKey, &header.wrap_context().map_err(Error::encoding)?, dek.as_bytes())?;
    header.ephemeral = wrapped.ephemeral;
    header.wrapped_dek = wrapped.ciphertext;
    let keys = ItemKeys::derive(dek, &header.nonce, &header.content_context().map_err(Error::encoding)?);
    header.commitment = keys.commitment;
    Ok((header, keys.sealer()))
}

/// Checks that `key` is the one `header` names, unwraps the data key, and checks the key
/// commitment; the opener exists only if all of that holds.
pub fn item_opener(header: &Header, key: &SecretKey) -> Result<ChunkOpener, Error> {
    item_opener_with(header, &mut Unwrapper::new(key))
}

/// [`item_opener`] with a reusable unwrapper, which keeps the X25519 exchange of the last
/// ephemeral key: items wrapped in one batch then cost one exchange in all.
pub fn item_opener_with(header: &Header, unwrapper: &mut dyn KeyUnwrap) -> Result<ChunkOpener, Error> {
    let (tenant, item) = (header.tenant.as_str(), header.item.as_str());
    if unwrapper.public().fingerprint() != header.fingerprint {
        return Err(tampered(tenant, item, "it names a key other than the one held for its level epoch"));
    }
    let wrapped = Wrapped { ephemeral: header.ephemeral, ciphertext: header.wrapped_dek };
    let dek = unwrapper
        .unwrap(Purpose::DataKey, &header.wrap_context().map_err(Error::encoding)?, &wrapped)
        .map_err(|_| tampered(tenant, item, "its data key does not unwrap"))?;
    ItemKeys::derive(
        &DataKey::from_bytes(dek),
        &header.nonce,
        &header.content_context().map_err(Error::encoding)?,
    )
    .opener(&header.commitment)
    .map_err(|_| tampered(tenant, item, "key commitment mismatch"))
}

/// One unwrapper per level key a bulk reader meets, keyed by the key's fingerprint: each
/// keeps (in memory) the exchange of the last ephemeral key, so a batch-wrapped run of items
/// costs one X25519 exchange, and each level key is asked for once.
#[derive(Default)]
pub(crate) struct Unwrappers<'a>(std::collections::HashMap<[u8; 16], Box<dyn KeyUnwrap + 'a>>);

impl<'a> Unwrappers<'a> {
    /// The unwrapper for the key that wraps `header`'s data key, fetched from `keys` once.
    pub(crate) fn for_header(
        &mut self,
        keys: &'a dyn LevelKeys,
        header: &Header,
    ) -> Result<&mut (dyn KeyUnwrap + 'a), Error> {
        Ok(match self.0.entry(header.fingerprint) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut().as_mut(),
            std::collections::hash_map::Entry::Vacant(v) => v.insert(keys.unwrapper(header)?).as_mut(),
        })
    }
}

/// Opens chunk `index` of the item `h` describes, naming the item if it does not authenticate.
pub(crate) fn open_chunk(
    opener: &mut ChunkOpener,
    h: &Header,
    index: u64,
    chunk: &mut Vec<u8>,
    last: bool,
) -> Result<(), Error> {
    opener
        .open(chunk, last)
        .map_err(|_| tampered(&h.tenant, &h.item, &format!("chunk {index} does not authenticate")))
}

/// Checks that the last chunk was opened (a stream cut short has none).
pub(crate) fn finish_chunks(opener: &ChunkOpener, h: &Header) -> Result<(), Error> {
    opener.finish().map_err(|_| tampered(&h.tenant, &h.item, "the final chunk is missing"))
}

/// Decrypts a portable envelope (as `get --raw` prints it) from `input` to `out` with keys from
/// `keys`, without a vault. Each chunk is written only after it authenticates.
pub fn open_envelope(
    input: &mut dyn Read,
    keys: &dyn LevelKeys,
    out: &mut dyn Write,
) -> Result<Header, Error> {
    open_header(read_header(input)?, input, keys, out)
}

/// [`open_envelope`] of an envelope that must be item `item` of `tenant` (one a server sent
/// for it): another item's envelope, whole and genuine, is refused before anything is written.
pub fn open_envelope_of(
    tenant: &str,
    item: &str,
    input: &mut dyn Read,
    keys: &dyn LevelKeys,
    out: &mut dyn Write,
) -> Result<Header, Error> {
    let header = read_header(input)?;
    if header.tenant != tenant || header.item != item {
        return Err(Error::integrity(format!(
            "asked for item {item:?} of tenant {tenant:?}, got the envelope of item {:?} of tenant {:?}",
            header.item, header.tenant
        )));
    }
    open_header(header, input, keys, out)
}

fn open_header(
    header: Header,
    input: &mut dyn Read,
    keys: &dyn LevelKeys,
    out: &mut dyn Write,
) -> Result<Header, Error> {
    let mut opener = item_opener_with(&header, &mut *keys.unwrapper(&header)?)?;
    let (tenant, item) = (header.tenant.as_str(), header.item.as_str());
    let full = header.chunk_size as usize + CHUNK_TAG_LEN;
    for_each_chunk(input, full, |index, chunk, last| {
        check_chunk_len(header.chunk_size, index, chunk.len(), last)
            .map_err(|e| tampered(tenant, item, &e.to_string()))?;
        open_chunk(&mut opener, &header, index, chunk, last)?;
        out.write_all(chunk).map_err(Error::output)
    })?;
    finish_chunks(&opener, &header)?;
    out.flush().map_err(Error::output)?;
    Ok(header)
}

/// Seals a whole envelope in memory from given key material. Only for deterministic test
/// vectors and tests: real items get fresh random values from [`crate::vault::Vault::put`].
#[doc(hidden)]
pub fn seal_envelope(
    f: &ItemFields<'_>,
    level_public: &[u8; 32],
    dek: [u8; 32],
    nonce: [u8; 32],
    ephemeral_secret: [u8; 32],
    plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
    let wrapper =
        Wrapper::with_ephemeral(&SecretKey::from_bytes(&ephemeral_secret), &PublicKey(*level_public))?;
    let dek = DataKey::from_bytes(zeroize::Zeroizing::new(dek));
    let (header, mut sealer) = seal_header(f, level_public, &dek, nonce, &wrapper)?;
    let mut out = header.encode().map_err(Error::encoding)?;
    for_each_chunk(&mut std::io::Cursor::new(plaintext), f.chunk_size as usize, |_, chunk, last| {
        sealer.seal(chunk, last)?;
        out.extend_from_slice(chunk);
        Ok(())
    })?;
    Ok(out)
}

/// Reads and decodes an envelope header from the front of `input`.
pub(crate) fn read_header(input: &mut dyn Read) -> Result<Header, Error> {
    let bad = |e: crate::format::FormatError| Error::integrity(format!("not a valid envelope: {e}"));
    let mut bytes = vec![0u8; HEADER_FIXED_LEN];
    if read_full(input, &mut bytes).map_err(Error::input)? < HEADER_FIXED_LEN {
        return Err(Error::integrity("not a valid envelope: envelope header is truncated"));
    }
    let len = Header::declared_len(&bytes).map_err(bad)?;
    bytes.resize(len, 0);
    if read_full(input, &mut bytes[HEADER_FIXED_LEN..]).map_err(Error::input)? < len - HEADER_FIXED_LEN {
        return Err(Error::integrity("not a valid envelope: envelope header is truncated"));
    }
    Header::decode(&bytes).map_err(bad)
}

/// Reads until `buf` is full or the input ends; how many bytes were read.
pub(crate) fn read_full(input: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Splits `input` into pieces of `size` bytes (the last shorter, possibly empty if the input
/// is), telling `f` which piece is last by reading one piece ahead. Returns the number of
/// pieces and the total bytes read. Memory: two pieces, whatever the input's length.
pub(crate) fn for_each_chunk(
    input: &mut dyn Read,
    size: usize,
    mut f: impl FnMut(u64, &mut Vec<u8>, bool) -> Result<(), Error>,
) -> Result<(u64, u64), Error> {
    // Buffers grow to what is read (a small item never pays for a whole chunk) and are reused.
    let mut cur = Vec::new();
    let mut next = Vec::new();
    let mut n = read_up_to(input, &mut cur, size)?;
    let (mut index, mut total) = (0u64, 0u64);
    loop {
        let last = n < size || read_up_to(input, &mut next, size)? == 0;
        total += n as u64;
        f(index, &mut cur, last)?;
        if last {
            return Ok((index + 1, total));
        }
        std::mem::swap(&mut cur, &mut next);
        n = cur.len();
        index += 1;
    }
}

/// Replaces `buf`'s content with up to `size` bytes of `input`; how many were read.
pub(crate) fn read_up_to(input: &mut dyn Read, buf: &mut Vec<u8>, size: usize) -> Result<usize, Error> {
    buf.clear();
    input.take(size as u64).read_to_end(buf).map_err(Error::input)
}

/// An integrity error naming the item whose envelope or chunks do not check out.
pub(crate) fn tampered(tenant: &str, item: &str, why: &str) -> Error {
    Error::integrity(format!(
        "integrity failure: item {item:?} of tenant {tenant:?} is damaged or was tampered with ({why})"
    ))
}
