//! Wrapping a 32-byte key to an X25519 public key, with its full context bound.
//!
//! shared = X25519(ephemeral, recipient), refused if all-zero (non-contributory);
//! PRK = HKDF-Extract(salt = ephemeral public || recipient public, shared);
//! wrap key = HKDF-Expand(PRK, purpose label || context, 32);
//! wrapped = AES-256-GCM(wrap key, nonce = 0, key), exactly 48 bytes.
//! The zero nonce is safe because every wrap key is used once: the context of every wrap
//! contains a fresh random value (item nonce or grant id).

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::aead::{AeadKey, TAG_LEN};
use super::keys::{PublicKey, SecretKey};
use super::{CryptoError, label};
use crate::format::{KEY_LEN, WRAPPED_KEY_LEN};

/// What a wrapped key is for; each purpose has its own HKDF label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// An item's data key wrapped to a level-epoch key.
    DataKey,
    /// A level-epoch private key wrapped to an engineer for a grant.
    GrantKey,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::DataKey => label::DEK_WRAP,
            Purpose::GrantKey => label::GRANT_KEY,
        }
    }
}

/// A wrapped key as it travels: the ephemeral public key and the 48-byte ciphertext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wrapped {
    /// Ephemeral public key.
    pub ephemeral: [u8; KEY_LEN],
    /// Ciphertext and tag.
    pub ciphertext: [u8; WRAPPED_KEY_LEN],
}

/// Wraps keys to one recipient. One ephemeral key and one X25519 exchange serve every wrap
/// made by this wrapper; each wrap key is still its own, expanded from the wrap's context.
pub struct Wrapper {
    ephemeral: [u8; KEY_LEN],
    prk: Hkdf<Sha256>,
}

impl Wrapper {
    /// A wrapper with a fresh ephemeral key for `recipient`.
    pub fn new(recipient: &PublicKey) -> Result<Wrapper, CryptoError> {
        Wrapper::with_ephemeral(&SecretKey::generate()?, recipient)
    }

    /// A wrapper with a given ephemeral secret. Only for deterministic test vectors: a real
    /// wrap must use [`Wrapper::new`].
    #[doc(hidden)]
    pub fn with_ephemeral(secret: &SecretKey, recipient: &PublicKey) -> Result<Wrapper, CryptoError> {
        let ephemeral = secret.public().0;
        let shared = secret.inner().diffie_hellman(&x25519_dalek::PublicKey::from(recipient.0));
        if !shared.was_contributory() {
            return Err(CryptoError::Unauthentic);
        }
        Ok(Wrapper { ephemeral, prk: extract(&ephemeral, &recipient.0, shared.as_bytes()) })
    }

    /// Wraps `key` for `purpose` with `context` bound. `context` must contain a value never
    /// used before with this wrapper (the callers' contexts carry a fresh random nonce or id).
    pub fn wrap(
        &self,
        purpose: Purpose,
        context: &[u8],
        key: &[u8; KEY_LEN],
    ) -> Result<Wrapped, CryptoError> {
        let cipher = wrap_cipher(&self.prk, purpose, context)?;
        let mut ciphertext = [0u8; WRAPPED_KEY_LEN];
        ciphertext[..KEY_LEN].copy_from_slice(key);
        let tag = cipher.seal_detached([0; 12], &[], &mut ciphertext[..KEY_LEN])?;
        ciphertext[KEY_LEN..].copy_from_slice(&tag);
        Ok(Wrapped { ephemeral: self.ephemeral, ciphertext })
    }
}

/// What opens keys wrapped to one X25519 key, wherever its secret lives: in memory
/// ([`Unwrapper`]), or in a token or a key agent that never lets it out (the way age's
/// identities unwrap stanzas). Nothing above this trait needs the secret itself.
pub trait KeyUnwrap {
    /// The public key whose secret opens what this unwraps.
    fn public(&self) -> PublicKey;

    /// Opens `wrapped` under `purpose` and `context`; any mismatch of key, purpose or context
    /// is [`CryptoError::Unauthentic`].
    fn unwrap(
        &mut self,
        purpose: Purpose,
        context: &[u8],
        wrapped: &Wrapped,
    ) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError>;
}

impl KeyUnwrap for Unwrapper {
    fn public(&self) -> PublicKey {
        Unwrapper::public(self)
    }

    fn unwrap(
        &mut self,
        purpose: Purpose,
        context: &[u8],
        wrapped: &Wrapped,
    ) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
        Unwrapper::unwrap(self, purpose, context, wrapped)
    }
}

/// Opens keys wrapped to one secret key held in memory. Caches the X25519 exchange for the last
/// ephemeral key seen, so a batch wrapped by one [`Wrapper`] costs one exchange to open.
pub struct Unwrapper {
    secret: SecretKey,
    public: PublicKey,
    cached: Option<([u8; KEY_LEN], Hkdf<Sha256>)>,
}

impl Unwrapper {
    /// An unwrapper for (a copy of) `secret`.
    pub fn new(secret: &SecretKey) -> Unwrapper {
        Unwrapper { secret: SecretKey::from_bytes(&secret.to_bytes()), public: secret.public(), cached: None }
    }

    /// The public key of the secret this unwrapper holds.
    pub fn public(&self) -> PublicKey {
        self.public
    }

    /// Opens `wrapped`; any mismatch of key, purpose or context is [`CryptoError::Unauthentic`].
    pub fn unwrap(
        &mut self,
        purpose: Purpose,
        context: &[u8],
        wrapped: &Wrapped,
    ) -> Result<Zeroizing<[u8; KEY_LEN]>, CryptoError> {
        let prk = match &self.cached {
            Some((eph, prk)) if *eph == wrapped.ephemeral => prk,
            _ => {
                let their = x25519_dalek::PublicKey::from(wrapped.ephemeral);
                let shared = self.secret.inner().diffie_hellman(&their);
                if !shared.was_contributory() {
                    return Err(CryptoError::Unauthentic);
                }
                let prk = extract(&wrapped.ephemeral, &self.public.0, shared.as_bytes());
                &self.cached.insert((wrapped.ephemeral, prk)).1
            }
        };
        let cipher = wrap_cipher(prk, purpose, context)?;
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        out.copy_from_slice(&wrapped.ciphertext[..KEY_LEN]);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&wrapped.ciphertext[KEY_LEN..]);
        cipher.open_detached([0; 12], &[], &mut out[..], &tag)?;
        Ok(out)
    }
}

fn extract(ephemeral: &[u8; KEY_LEN], recipient: &[u8; KEY_LEN], shared: &[u8]) -> Hkdf<Sha256> {
    let mut salt = [0u8; 2 * KEY_LEN];
    salt[..KEY_LEN].copy_from_slice(ephemeral);
    salt[KEY_LEN..].copy_from_slice(recipient);
    Hkdf::<Sha256>::new(Some(&salt), shared)
}

fn wrap_cipher(prk: &Hkdf<Sha256>, purpose: Purpose, context: &[u8]) -> Result<AeadKey, CryptoError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    prk.expand_multi_info(&[purpose.label(), context], &mut key[..]).map_err(|_| CryptoError::Unauthentic)?;
    Ok(AeadKey::new(&key))
}

#[cfg(test)]
mod tests {
    use super::*;
    // The second implementation (a test dependency): known answers computed by it check ring.
    use aes_gcm::aead::{AeadInOut, KeyInit};
    use aes_gcm::{Aes256Gcm, Key, Nonce};

    #[test]
    fn round_trip_and_every_binding_matters() {
        let recipient = SecretKey::generate().unwrap();
        let other = SecretKey::generate().unwrap();
        let key = [42u8; 32];
        let w = Wrapper::new(&recipient.public()).unwrap();
        let wrapped = w.wrap(Purpose::DataKey, b"ctx-1", &key).unwrap();
        let mut u = Unwrapper::new(&recipient);
        assert_eq!(*u.unwrap(Purpose::DataKey, b"ctx-1", &wrapped).unwrap(), key);
        assert!(u.unwrap(Purpose::DataKey, b"ctx-2", &wrapped).is_err());
        assert!(u.unwrap(Purpose::GrantKey, b"ctx-1", &wrapped).is_err());
        assert!(Unwrapper::new(&other).unwrap(Purpose::DataKey, b"ctx-1", &wrapped).is_err());
        let mut flipped = wrapped;
        flipped.ciphertext[47] ^= 1;
        assert!(u.unwrap(Purpose::DataKey, b"ctx-1", &flipped).is_err());
    }

    #[test]
    fn low_order_ephemeral_keys_are_refused() {
        let recipient = SecretKey::generate().unwrap();
        let wrapped = Wrapped { ephemeral: [0; 32], ciphertext: [0; 48] };
        let err = Unwrapper::new(&recipient).unwrap(Purpose::DataKey, b"c", &wrapped);
        assert_eq!(err.unwrap_err(), CryptoError::Unauthentic);
        // The point of order 1 (u = 1) also yields an all-zero shared secret.
        let mut one = [0u8; 32];
        one[0] = 1;
        let wrapped = Wrapped { ephemeral: one, ciphertext: [0; 48] };
        assert!(Unwrapper::new(&recipient).unwrap(Purpose::DataKey, b"c", &wrapped).is_err());
    }

    fn unhex<const N: usize>(text: &str) -> [u8; N] {
        std::array::from_fn(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
    }

    /// RFC 7748, section 6.1: with Alice's key as the ephemeral and Bob's as the recipient, the
    /// wrap is keyed by HKDF over their known shared secret, computed here from the RFC's value
    /// (not from an exchange), and Bob's key opens it.
    #[test]
    fn rfc_7748_exchange_through_the_wrapper() {
        let alice =
            SecretKey::from_bytes(&unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
        let bob =
            SecretKey::from_bytes(&unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
        assert_eq!(
            bob.public().0,
            unhex::<32>("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
        );
        let shared: [u8; 32] = unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        let key = [9u8; 32];
        let wrapped = Wrapper::with_ephemeral(&alice, &bob.public())
            .unwrap()
            .wrap(Purpose::DataKey, b"ctx", &key)
            .unwrap();
        let mut salt = alice.public().0.to_vec();
        salt.extend_from_slice(&bob.public().0);
        let mut wrap_key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&salt), &shared)
            .expand(&[label::DEK_WRAP, b"ctx"].concat(), &mut wrap_key)
            .unwrap();
        let mut expected = key;
        let tag = Aes256Gcm::new(&Key::<Aes256Gcm>::from(wrap_key))
            .encrypt_inout_detached(&Nonce::default(), &[], (&mut expected[..]).into())
            .unwrap();
        assert_eq!(wrapped.ciphertext[..32], expected);
        assert_eq!(wrapped.ciphertext[32..], tag[..]);
        assert_eq!(*Unwrapper::new(&bob).unwrap(Purpose::DataKey, b"ctx", &wrapped).unwrap(), key);
    }

    /// RFC 5869, test case 1, expanded the way the wrap expands (label and context given as
    /// two parts of the info).
    #[test]
    fn rfc_5869_hkdf_as_the_wrap_uses_it() {
        let ikm = [0x0b; 22];
        let salt: [u8; 13] = unhex("000102030405060708090a0b0c");
        let info: [u8; 10] = unhex("f0f1f2f3f4f5f6f7f8f9");
        let mut okm = [0u8; 42];
        Hkdf::<Sha256>::new(Some(&salt), &ikm)
            .expand_multi_info(&[&info[..4], &info[4..]], &mut okm)
            .unwrap();
        assert_eq!(
            okm,
            unhex::<42>(
                "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
            )
        );
    }

    /// The GCM specification's test cases 13 and 14 (AES-256, zero key and IV), through the
    /// same detached in-place call the wrap uses.
    #[test]
    fn aes_256_gcm_known_answers() {
        let cipher = AeadKey::new(&[0u8; 32]);
        let tag = cipher.seal_detached([0; 12], &[], &mut []).unwrap();
        assert_eq!(tag, unhex::<16>("530f8afbc74536b9a963b4f1c4cb738b"));
        let mut block = [0u8; 16];
        let tag = cipher.seal_detached([0; 12], &[], &mut block).unwrap();
        assert_eq!(block, unhex::<16>("cea7403d4d606b6e074ec5d3baf39d18"));
        assert_eq!(tag, unhex::<16>("d0d1c8a799996bf0265b98b5d48ab919"));
        cipher.open_detached([0; 12], &[], &mut block, &tag).unwrap();
        assert_eq!(block, [0u8; 16]);
    }

    /// Wycheproof-style: every X25519 public key of small order (and the non-canonical
    /// encodings of such points) makes a non-contributory exchange, refused in both directions.
    #[test]
    fn small_order_points_are_refused_both_ways() {
        let points = [
            "0000000000000000000000000000000000000000000000000000000000000000",
            "0100000000000000000000000000000000000000000000000000000000000000",
            "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
            "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        ];
        let secret = SecretKey::generate().unwrap();
        for p in points {
            let point = unhex::<32>(p);
            assert!(Wrapper::with_ephemeral(&secret, &PublicKey(point)).is_err(), "wrap to {p}");
            let wrapped = Wrapped { ephemeral: point, ciphertext: [0; 48] };
            assert!(
                Unwrapper::new(&secret).unwrap(Purpose::DataKey, b"c", &wrapped).is_err(),
                "unwrap from {p}"
            );
        }
    }
}
