//! AES-256-GCM, the one AEAD of every layer: ring's implementation, behind a key that is
//! zeroized on drop.
//!
//! Why ring: its AES-GCM is BoringSSL's assembly (AES-NI or VAES with carry-less multiplication,
//! counter mode and GHASH interleaved), several times faster on the benchmark machine than the
//! aes-gcm crate, whose CPU detection never enables VAES on a CPU without AVX-512 (figures in
//! docs/PERFORMANCE.md, session 6). The output is standard AES-256-GCM: the aes-gcm crate stays
//! as a test dependency that checks both agree.
//!
//! Why unsafe: ring never clears its expanded key (the first round keys are the key itself,
//! and the GHASH table is derived from it). The key lives in a heap box of `MaybeUninit`, so
//! moving an `AeadKey` moves a pointer, and this module zeroes the box on drop. What it cannot
//! reach are the copies ring's constructors leave on the stack while building the key (as any
//! Rust AES implementation does). This is the only unsafe code in the library.
#![allow(unsafe_code)]

use std::mem::MaybeUninit;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use zeroize::Zeroize;

use super::CryptoError;

// `Drop` below zeroes the key without running its drop glue: that must be nothing to skip.
const _: () = assert!(!std::mem::needs_drop::<LessSafeKey>());

/// Bytes of a GCM tag.
pub const TAG_LEN: usize = 16;

/// An AES-256-GCM key. Zeroized on drop; its `Debug` shows nothing.
pub struct AeadKey(Option<Box<MaybeUninit<LessSafeKey>>>);

impl AeadKey {
    /// Expands `key`.
    pub fn new(key: &[u8; 32]) -> AeadKey {
        // ring refuses only keys of the wrong length, and AES-256-GCM takes 32 bytes; were it to
        // refuse one anyway, every seal and open with this key would fail instead of panicking.
        AeadKey(UnboundKey::new(&AES_256_GCM, key).ok().map(|unbound| {
            let mut boxed = Box::new(MaybeUninit::<LessSafeKey>::uninit());
            boxed.write(LessSafeKey::new(unbound));
            boxed
        }))
    }

    fn key(&self) -> Result<&LessSafeKey, CryptoError> {
        let boxed = self.0.as_ref().ok_or(CryptoError::Unauthentic)?;
        // SAFETY: `new` wrote a key into every box it made, and only `drop` clears it.
        Ok(unsafe { boxed.assume_init_ref() })
    }

    /// Encrypts `buf` in place and appends the tag.
    pub fn seal(&self, nonce: [u8; 12], aad: &[u8], buf: &mut Vec<u8>) -> Result<(), CryptoError> {
        let key = self.key()?;
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf)
            .map_err(|_| CryptoError::Unauthentic)
    }

    /// Decrypts `buf` (ciphertext then tag) in place and removes the tag. On failure `buf` is
    /// emptied: no unauthenticated plaintext is ever handed back.
    pub fn open(&self, nonce: [u8; 12], aad: &[u8], buf: &mut Vec<u8>) -> Result<(), CryptoError> {
        let opened = self.key().and_then(|key| {
            key.open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf)
                .map(|plain| plain.len())
                .map_err(|_| CryptoError::Unauthentic)
        });
        match opened {
            Ok(len) => {
                buf.truncate(len);
                Ok(())
            }
            Err(e) => {
                // Zeroes every byte, spare capacity included, and empties the vector.
                buf.zeroize();
                Err(e)
            }
        }
    }

    /// Encrypts `buf` in place and returns the tag.
    pub(crate) fn seal_detached(
        &self,
        nonce: [u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; TAG_LEN], CryptoError> {
        let tag = self
            .key()?
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), buf)
            .map_err(|_| CryptoError::Unauthentic)?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts `buf` in place against `tag`. On failure `buf` is zeroed.
    pub(crate) fn open_detached(
        &self,
        nonce: [u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), CryptoError> {
        let opened = self.key().and_then(|key| {
            key.open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                Tag::from(*tag),
                buf,
                0..,
            )
            .map(|_| ())
            .map_err(|_| CryptoError::Unauthentic)
        });
        if opened.is_err() {
            buf.zeroize();
        }
        opened
    }
}

impl Drop for AeadKey {
    fn drop(&mut self) {
        // Zeroes the bytes without running `LessSafeKey`'s drop glue, of which it has none (the
        // assertion above): it owns no allocation, only the expanded key inline.
        if let Some(boxed) = &mut self.0 {
            boxed.zeroize();
        }
    }
}

impl std::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AeadKey(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::{AeadInOut, KeyInit};
    use aes_gcm::{Aes256Gcm, Key, Nonce as GcmNonce};
    use proptest::prelude::*;

    proptest! {
        /// ring and the aes-gcm crate agree on every key, nonce, associated data and length
        /// (the block-size boundaries included), and each opens what the other sealed.
        #[test]
        fn agrees_with_the_aes_gcm_crate(
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; 12]>(),
            aad in proptest::collection::vec(any::<u8>(), 0..40),
            plain in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let ours = AeadKey::new(&key);
            let mut sealed = plain.clone();
            ours.seal(nonce, &aad, &mut sealed).unwrap();
            let theirs = Aes256Gcm::new(&Key::<Aes256Gcm>::from(key));
            let mut expected = plain.clone();
            theirs.encrypt_in_place(&GcmNonce::from(nonce), &aad, &mut expected).unwrap();
            prop_assert_eq!(&sealed, &expected);

            let mut opened = expected.clone();
            ours.open(nonce, &aad, &mut opened).unwrap();
            prop_assert_eq!(&opened, &plain);

            let mut detached = plain.clone();
            let tag = ours.seal_detached(nonce, &aad, &mut detached).unwrap();
            prop_assert_eq!(&detached[..], &expected[..plain.len()]);
            prop_assert_eq!(&tag[..], &expected[plain.len()..]);
        }
    }

    #[test]
    fn a_failed_open_hands_back_no_plaintext() {
        let key = AeadKey::new(&[7; 32]);
        let plain = vec![0x5a; 100];
        let mut sealed = plain.clone();
        key.seal([1; 12], b"aad", &mut sealed).unwrap();

        // Wrong associated data, wrong nonce, flipped ciphertext, short input: refused, and
        // the buffer ends empty rather than holding what decryption produced.
        for (nonce, aad, flip) in
            [([1; 12], &b"aaD"[..], None), ([2; 12], b"aad", None), ([1; 12], b"aad", Some(3))]
        {
            let mut buf = sealed.clone();
            if let Some(i) = flip {
                buf[i] ^= 1;
            }
            assert_eq!(key.open(nonce, aad, &mut buf), Err(CryptoError::Unauthentic));
            assert!(buf.is_empty());
        }
        let mut short = sealed[..TAG_LEN - 1].to_vec();
        assert!(key.open([1; 12], b"aad", &mut short).is_err());
        assert!(short.is_empty());

        let mut detached = plain.clone();
        let mut tag = key.seal_detached([1; 12], b"aad", &mut detached).unwrap();
        tag[0] ^= 1;
        assert!(key.open_detached([1; 12], b"aad", &mut detached, &tag).is_err());
        // (ring zeroes it too: this pins the behaviour, whichever of the two provides it.)
        assert_eq!(detached, vec![0; 100], "the unauthenticated plaintext is zeroed");

        let mut buf = sealed.clone();
        key.open([1; 12], b"aad", &mut buf).unwrap();
        assert_eq!(buf, plain);
    }

    #[test]
    fn debug_shows_no_key() {
        assert_eq!(format!("{:?}", AeadKey::new(&[9; 32])), "AeadKey(redacted)");
    }
}
