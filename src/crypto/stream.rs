//! Per-item keys, key commitment and the chunked payload AEAD (STREAM, as in age).
//!
//! PRK = HKDF-Extract(salt = item nonce, data key);
//! commitment = HKDF-Expand(PRK, commit label || content context, 32);
//! payload key = HKDF-Expand(PRK, payload label || content context, 32).
//! Chunk i (from 0) is AES-256-GCM under the payload key with nonce
//! 0x000000 || i as u64 big-endian || final flag (1 on the last chunk, else 0).

use hkdf::Hkdf;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::aead::AeadKey;
use super::keys::DataKey;
use super::{CryptoError, label};

/// The keys of one item: its commitment and its payload cipher.
pub struct ItemKeys {
    /// Key commitment, stored in the header and checked before any decryption.
    pub commitment: [u8; 32],
    cipher: AeadKey,
}

impl ItemKeys {
    /// Derives the commitment and payload key from the data key, item nonce and content context.
    pub fn derive(dek: &DataKey, nonce: &[u8; 32], content_context: &[u8]) -> ItemKeys {
        let prk = Hkdf::<Sha256>::new(Some(nonce), dek.as_bytes());
        let mut commitment = [0u8; 32];
        let mut payload = Zeroizing::new([0u8; 32]);
        // Expanding 32 bytes from SHA-256 cannot fail.
        let _ = prk.expand_multi_info(&[label::COMMIT, content_context], &mut commitment);
        let _ = prk.expand_multi_info(&[label::PAYLOAD, content_context], &mut payload[..]);
        let cipher = AeadKey::new(&payload);
        ItemKeys { commitment, cipher }
    }

    /// Checks a stored commitment in constant time; the opener exists only if it matches.
    pub fn opener(self, stored: &[u8; 32]) -> Result<ChunkOpener, CryptoError> {
        if bool::from(self.commitment.ct_eq(stored)) {
            Ok(ChunkOpener { cipher: self.cipher, next: 0, finished: false })
        } else {
            Err(CryptoError::Unauthentic)
        }
    }

    /// A sealer for a new item's chunks.
    pub fn sealer(self) -> ChunkSealer {
        ChunkSealer { cipher: self.cipher, next: 0, finished: false }
    }
}

/// The nonce of chunk `index`.
pub fn chunk_nonce(index: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n[11] = last as u8;
    n
}

/// Seals chunks in order; after the last chunk it refuses more, so no nonce repeats.
pub struct ChunkSealer {
    cipher: AeadKey,
    next: u64,
    finished: bool,
}

impl ChunkSealer {
    /// Encrypts `buf` in place and appends the tag.
    pub fn seal(&mut self, buf: &mut Vec<u8>, last: bool) -> Result<(), CryptoError> {
        if self.finished {
            return Err(CryptoError::Unauthentic);
        }
        self.cipher.seal(chunk_nonce(self.next, last), &[], buf)?;
        self.next = self.next.checked_add(1).ok_or(CryptoError::Unauthentic)?;
        self.finished = last;
        Ok(())
    }
}

/// Opens chunks in order. The caller says which chunk is last; a chunk after it, a missing
/// last chunk (see [`ChunkOpener::finish`]), or any reordering fails authentication.
pub struct ChunkOpener {
    cipher: AeadKey,
    next: u64,
    finished: bool,
}

impl ChunkOpener {
    /// Decrypts `buf` in place and removes the tag; on failure `buf` is emptied.
    pub fn open(&mut self, buf: &mut Vec<u8>, last: bool) -> Result<(), CryptoError> {
        if self.finished {
            return Err(CryptoError::Unauthentic);
        }
        self.cipher.open(chunk_nonce(self.next, last), &[], buf)?;
        self.next = self.next.checked_add(1).ok_or(CryptoError::Unauthentic)?;
        self.finished = last;
        Ok(())
    }

    /// Succeeds only if the last chunk was opened.
    pub fn finish(&self) -> Result<(), CryptoError> {
        if self.finished { Ok(()) } else { Err(CryptoError::Unauthentic) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> (DataKey, [u8; 32]) {
        (DataKey::generate().unwrap(), [5u8; 32])
    }

    #[test]
    fn chunks_round_trip_only_in_order() {
        let (dek, nonce) = keys();
        let mut sealer = ItemKeys::derive(&dek, &nonce, b"ctx").sealer();
        let mut a = b"first".to_vec();
        let mut b = b"second".to_vec();
        sealer.seal(&mut a, false).unwrap();
        sealer.seal(&mut b, true).unwrap();
        assert!(sealer.seal(&mut vec![], true).is_err(), "nothing after the last chunk");

        let keys = ItemKeys::derive(&dek, &nonce, b"ctx");
        let commitment = keys.commitment;
        let mut opener = keys.opener(&commitment).unwrap();
        let (mut a2, mut b2) = (a.clone(), b.clone());
        opener.open(&mut a2, false).unwrap();
        opener.open(&mut b2, true).unwrap();
        opener.finish().unwrap();
        assert_eq!((a2.as_slice(), b2.as_slice()), (&b"first"[..], &b"second"[..]));

        // Swapped chunks, a truncated stream, or a non-final chunk marked final all fail.
        let mut o = ItemKeys::derive(&dek, &nonce, b"ctx").opener(&commitment).unwrap();
        assert!(o.open(&mut b.clone(), false).is_err());
        let mut o = ItemKeys::derive(&dek, &nonce, b"ctx").opener(&commitment).unwrap();
        assert!(o.open(&mut a.clone(), true).is_err());
        let mut o = ItemKeys::derive(&dek, &nonce, b"ctx").opener(&commitment).unwrap();
        o.open(&mut a.clone(), false).unwrap();
        assert!(o.finish().is_err());
    }

    #[test]
    fn commitment_binds_key_and_context() {
        let (dek, nonce) = keys();
        let c = ItemKeys::derive(&dek, &nonce, b"ctx").commitment;
        assert!(ItemKeys::derive(&dek, &nonce, b"ctx2").opener(&c).is_err());
        assert!(ItemKeys::derive(&DataKey::generate().unwrap(), &nonce, b"ctx").opener(&c).is_err());
        assert!(ItemKeys::derive(&dek, &[6; 32], b"ctx").opener(&c).is_err());
    }
}
