//! The portable envelope: a header followed by the chunked ciphertext of one item.
//!
//! ```text
//! offset size field
//!      0    4 magic "LBXE"
//!      4    1 version (1)
//!      5    1 suite (1 = X25519, HKDF-SHA-256, AES-256-GCM)
//!      6    2 flags, reserved, zero
//!      8    4 chunk size, plaintext bytes per chunk, 16..=16 MiB
//!     12    4 epoch: level epoch the item was written under, >= 1
//!     16    4 key epoch: level epoch whose key wraps the data key, >= epoch
//!     20    1 tenant length, 1..=63
//!     21    1 level length, 1..=63
//!     22    2 item id length, 1..=1024
//!     24   32 item nonce
//!     56   16 fingerprint of the level public key of the key epoch
//!     72   32 ephemeral X25519 public key, not all-zero
//!    104   48 wrapped data key (AES-256-GCM ciphertext + tag)
//!    152   32 key commitment
//!    184    . tenant, level, item id (UTF-8, each checked against the naming rules)
//! ```
//! Then the payload: chunks of `chunk size + 16` bytes, the last one shorter or equal, at least
//! one chunk. All integers are big-endian.

use super::cursor::{Reader, in_range, utf8};
use super::{FINGERPRINT_LEN, FormatError, KEY_LEN, WRAPPED_KEY_LEN, check_item_id, check_name};

/// First bytes of every envelope.
pub const ENVELOPE_MAGIC: [u8; 4] = *b"LBXE";
/// The only envelope version this build reads and writes.
pub const ENVELOPE_VERSION: u8 = 1;
/// X25519 key agreement, HKDF-SHA-256, AES-256-GCM, HKDF key commitment.
pub const SUITE_X25519_HKDF_SHA256_AES256GCM: u8 = 1;
/// Size of the fixed part of the header, before the names.
pub const HEADER_FIXED_LEN: usize = 184;
/// Default plaintext bytes per chunk: 64 KiB less 64 bytes, so that a chunk with its tag and
/// key fits one 64 KiB redb page (a full 64 KiB chunk spills into a 128 KiB allocation and
/// doubled the bytes written; measured in docs/PERFORMANCE.md).
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024 - 64;
/// Smallest chunk size accepted.
pub const MIN_CHUNK_SIZE: u32 = 16;
/// Largest chunk size accepted: bounds the memory a reader allocates per chunk.
pub const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;
/// Authentication tag bytes added to every chunk.
pub const CHUNK_TAG_LEN: usize = 16;

const WHAT: &str = "envelope header";

/// The header of one item's envelope. It names everything a reader needs to select its key and
/// everything the cryptography binds (see `docs/DESIGN.md`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// Level epoch the item was written under; bound into the payload key.
    pub epoch: u32,
    /// Level epoch whose key wraps the data key (later than `epoch` after a rewrap).
    pub key_epoch: u32,
    /// Tenant that owns the item.
    pub tenant: String,
    /// Classification level of the item.
    pub level: String,
    /// Item id.
    pub item: String,
    /// Random per-write nonce: salt of every derivation from the data key.
    pub nonce: [u8; 32],
    /// Fingerprint of the level public key of `key_epoch`.
    pub fingerprint: [u8; FINGERPRINT_LEN],
    /// Ephemeral X25519 public key of the wrap.
    pub ephemeral: [u8; KEY_LEN],
    /// The data key, wrapped.
    pub wrapped_dek: [u8; WRAPPED_KEY_LEN],
    /// Key commitment of the data key.
    pub commitment: [u8; 32],
}

impl Header {
    /// The lengths of the names, each checked against its limit (as the decoder checks them).
    fn name_lengths(&self) -> Result<(u8, u8, u16), FormatError> {
        let len = |field, value: &str, max: usize| {
            in_range(field, value.len() as u64, 1, max as u64).map(|()| value.len())
        };
        let tenant = len("tenant length", &self.tenant, super::MAX_NAME_LEN)?;
        let level = len("level length", &self.level, super::MAX_NAME_LEN)?;
        let item = len("item id length", &self.item, super::MAX_ITEM_ID_LEN)?;
        // Within their limits (63, 63, 1024), these casts cannot truncate.
        Ok((tenant as u8, level as u8, item as u16))
    }

    /// The canonical encoding; a name over its limit is an error.
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        let (tenant, level, item) = self.name_lengths()?;
        let mut out = Vec::with_capacity(HEADER_FIXED_LEN + self.names_len());
        out.extend_from_slice(&ENVELOPE_MAGIC);
        out.push(ENVELOPE_VERSION);
        out.push(SUITE_X25519_HKDF_SHA256_AES256GCM);
        out.extend_from_slice(&0u16.to_be_bytes());
        out.extend_from_slice(&self.chunk_size.to_be_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.key_epoch.to_be_bytes());
        out.push(tenant);
        out.push(level);
        out.extend_from_slice(&item.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.fingerprint);
        out.extend_from_slice(&self.ephemeral);
        out.extend_from_slice(&self.wrapped_dek);
        out.extend_from_slice(&self.commitment);
        out.extend_from_slice(self.tenant.as_bytes());
        out.extend_from_slice(self.level.as_bytes());
        out.extend_from_slice(self.item.as_bytes());
        Ok(out)
    }

    fn names_len(&self) -> usize {
        self.tenant.len() + self.level.len() + self.item.len()
    }

    /// Given the first [`HEADER_FIXED_LEN`] bytes of an envelope, the length of its whole header.
    /// Checks magic, version, suite, flags and the name lengths, so a stream reader knows how
    /// much more to read before allocating it.
    pub fn declared_len(fixed: &[u8]) -> Result<usize, FormatError> {
        let mut r = Reader::new(fixed, WHAT);
        if r.array::<4>()? != ENVELOPE_MAGIC {
            return Err(FormatError::BadMagic { what: "envelope" });
        }
        let version = r.u8()?;
        if version != ENVELOPE_VERSION {
            return Err(FormatError::UnsupportedVersion { what: "envelope", version });
        }
        let suite = r.u8()?;
        if suite != SUITE_X25519_HKDF_SHA256_AES256GCM {
            return Err(FormatError::UnsupportedSuite { what: "envelope", suite });
        }
        if r.u16()? != 0 {
            return Err(FormatError::Reserved { what: WHAT });
        }
        r.take(12)?;
        let tenant = r.u8()? as u64;
        let level = r.u8()? as u64;
        let item = r.u16()? as u64;
        in_range("tenant length", tenant, 1, super::MAX_NAME_LEN as u64)?;
        in_range("level length", level, 1, super::MAX_NAME_LEN as u64)?;
        in_range("item id length", item, 1, super::MAX_ITEM_ID_LEN as u64)?;
        Ok(HEADER_FIXED_LEN + (tenant + level + item) as usize)
    }

    /// Decodes exactly one header: no byte more, no byte less.
    pub fn decode(bytes: &[u8]) -> Result<Header, FormatError> {
        if bytes.len() < HEADER_FIXED_LEN {
            return Err(FormatError::Truncated { what: WHAT });
        }
        Header::declared_len(&bytes[..HEADER_FIXED_LEN])?;
        let mut r = Reader::new(bytes, WHAT);
        r.take(8)?;
        let chunk_size = r.u32()?;
        in_range("chunk size", chunk_size.into(), MIN_CHUNK_SIZE.into(), MAX_CHUNK_SIZE.into())?;
        let epoch = r.u32()?;
        let key_epoch = r.u32()?;
        in_range("epoch", epoch.into(), 1, u32::MAX.into())?;
        in_range("key epoch", key_epoch.into(), epoch.into(), u32::MAX.into())?;
        let (tenant_len, level_len) = (r.u8()? as usize, r.u8()? as usize);
        let item_len = r.u16()? as usize;
        let nonce = r.array()?;
        let fingerprint = r.array()?;
        let ephemeral: [u8; KEY_LEN] = r.array()?;
        if ephemeral == [0u8; KEY_LEN] {
            return Err(FormatError::NonCanonical { what: WHAT, why: "all-zero ephemeral key" });
        }
        let wrapped_dek = r.array()?;
        let commitment = r.array()?;
        let tenant = utf8("tenant", r.take(tenant_len)?)?.to_owned();
        let level = utf8("level", r.take(level_len)?)?.to_owned();
        let item = utf8("item id", r.take(item_len)?)?.to_owned();
        r.finish()?;
        check_name("tenant", &tenant)?;
        check_name("level", &level)?;
        check_item_id(&item)?;
        Ok(Header {
            chunk_size,
            epoch,
            key_epoch,
            tenant,
            level,
            item,
            nonce,
            fingerprint,
            ephemeral,
            wrapped_dek,
            commitment,
        })
    }

    /// The item's content context: what the payload key and the key commitment bind.
    /// It leaves out the key epoch so that a rewrap to a newer epoch need not re-encrypt content.
    pub fn content_context(&self) -> Result<Vec<u8>, FormatError> {
        let (tenant, level, item) = self.name_lengths()?;
        let mut out = Vec::with_capacity(48 + self.names_len());
        out.push(ENVELOPE_VERSION);
        out.push(SUITE_X25519_HKDF_SHA256_AES256GCM);
        out.push(tenant);
        out.extend_from_slice(self.tenant.as_bytes());
        out.push(level);
        out.extend_from_slice(self.level.as_bytes());
        out.extend_from_slice(&item.to_be_bytes());
        out.extend_from_slice(self.item.as_bytes());
        out.extend_from_slice(&self.epoch.to_be_bytes());
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.chunk_size.to_be_bytes());
        Ok(out)
    }

    /// The wrap context: the content context plus the key epoch and recipient fingerprint.
    pub fn wrap_context(&self) -> Result<Vec<u8>, FormatError> {
        let mut out = self.content_context()?;
        out.extend_from_slice(&self.key_epoch.to_be_bytes());
        out.extend_from_slice(&self.fingerprint);
        Ok(out)
    }
}

/// Checks the length of chunk `index` of a payload with `chunk_size`: every chunk but the last
/// is exactly `chunk_size + 16` bytes; the last is `17..=chunk_size + 16` bytes, or exactly 16
/// (empty) only when it is the only chunk.
pub fn check_chunk_len(chunk_size: u32, index: u64, len: usize, last: bool) -> Result<(), FormatError> {
    let full = chunk_size as u64 + CHUNK_TAG_LEN as u64;
    let len = len as u64;
    let ok = if last {
        let min = if index == 0 { CHUNK_TAG_LEN as u64 } else { CHUNK_TAG_LEN as u64 + 1 };
        (min..=full).contains(&len)
    } else {
        len == full
    };
    if ok {
        Ok(())
    } else if last && index > 0 && len == CHUNK_TAG_LEN as u64 {
        Err(FormatError::NonCanonical { what: "payload", why: "empty final chunk after full chunks" })
    } else {
        Err(FormatError::Truncated { what: "payload chunk" })
    }
}

/// Appends a name with its one-byte length; one over [`super::MAX_NAME_LEN`] bytes is an error.
pub(crate) fn put_name(out: &mut Vec<u8>, name: &str) -> Result<(), FormatError> {
    in_range("name length", name.len() as u64, 0, super::MAX_NAME_LEN as u64)?;
    out.push(name.len() as u8);
    out.extend_from_slice(name.as_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Header {
        Header {
            chunk_size: DEFAULT_CHUNK_SIZE,
            epoch: 1,
            key_epoch: 2,
            tenant: "acme".into(),
            level: "secret".into(),
            item: "reports/q3.pdf".into(),
            nonce: [7; 32],
            fingerprint: [8; 16],
            ephemeral: [9; 32],
            wrapped_dek: [10; 48],
            commitment: [11; 32],
        }
    }

    #[test]
    fn round_trips_and_declares_its_length() {
        let h = sample();
        let bytes = h.encode().unwrap();
        assert_eq!(Header::declared_len(&bytes[..HEADER_FIXED_LEN]).unwrap(), bytes.len());
        assert_eq!(Header::decode(&bytes).unwrap(), h);
    }

    #[test]
    fn rejects_trailing_truncated_and_reserved() {
        let bytes = sample().encode().unwrap();
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(Header::decode(&long), Err(FormatError::TrailingBytes { .. })));
        assert!(matches!(Header::decode(&bytes[..bytes.len() - 1]), Err(FormatError::Truncated { .. })));
        let mut flags = bytes.clone();
        flags[7] = 1;
        assert!(matches!(Header::decode(&flags), Err(FormatError::Reserved { .. })));
        let mut version = bytes;
        version[4] = 2;
        assert!(matches!(Header::decode(&version), Err(FormatError::UnsupportedVersion { version: 2, .. })));
    }

    #[test]
    fn contexts_differ_in_every_bound_field() {
        let base = sample();
        let variants = [
            Header { tenant: "acme2".into(), ..sample() },
            Header { level: "secret2".into(), ..sample() },
            Header { item: "reports/q4.pdf".into(), ..sample() },
            Header { epoch: 2, ..sample() },
            Header { nonce: [0; 32], ..sample() },
            Header { chunk_size: 4096, ..sample() },
        ];
        for v in &variants {
            assert_ne!(v.content_context(), base.content_context());
        }
        let rewrapped = Header { key_epoch: 3, ..sample() };
        assert_eq!(rewrapped.content_context(), base.content_context());
        assert_ne!(rewrapped.wrap_context(), base.wrap_context());
    }

    #[test]
    fn a_name_over_its_limit_is_refused_not_cut() {
        for h in [
            Header { tenant: "t".repeat(64), ..sample() },
            Header { level: "l".repeat(256), ..sample() },
            Header { item: "i".repeat(1025), ..sample() },
        ] {
            assert!(matches!(h.encode(), Err(FormatError::OutOfRange { .. })));
            assert!(h.content_context().is_err() && h.wrap_context().is_err());
        }
    }
}
