//! Wrapping a 32-byte key to an X25519 public key, with its full context bound.
//!
//! shared = X25519(ephemeral, recipient), refused if all-zero (non-contributory);
//! PRK = HKDF-Extract(salt = ephemeral public || recipient public, shared);
//! wrap key = HKDF-Expand(PRK, purpose label || context, 32);
//! wrapped = AES-256-GCM(wrap key, nonce = 0, key), exactly 48 bytes.
//! The zero nonce is safe because every wrap key is used once: the context of every wrap
//! contains a fresh random value (item nonce or grant id).

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

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
        let tag = cipher
            .encrypt_inout_detached(&Nonce::default(), &[], (&mut ciphertext[..KEY_LEN]).into())
            .map_err(|_| CryptoError::Unauthentic)?;
        ciphertext[KEY_LEN..].copy_from_slice(&tag);
        Ok(Wrapped { ephemeral: self.ephemeral, ciphertext })
    }
}

/// Opens keys wrapped to one secret key. Caches the X25519 exchange for the last ephemeral key
/// seen, so a batch wrapped by one [`Wrapper`] costs one exchange to open.
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
        let tag = Tag::try_from(&wrapped.ciphertext[KEY_LEN..]).map_err(|_| CryptoError::Unauthentic)?;
        cipher
            .decrypt_inout_detached(&Nonce::default(), &[], (&mut out[..]).into(), &tag)
            .map_err(|_| CryptoError::Unauthentic)?;
        Ok(out)
    }
}

fn extract(ephemeral: &[u8; KEY_LEN], recipient: &[u8; KEY_LEN], shared: &[u8]) -> Hkdf<Sha256> {
    let mut salt = [0u8; 2 * KEY_LEN];
    salt[..KEY_LEN].copy_from_slice(ephemeral);
    salt[KEY_LEN..].copy_from_slice(recipient);
    Hkdf::<Sha256>::new(Some(&salt), shared)
}

fn wrap_cipher(prk: &Hkdf<Sha256>, purpose: Purpose, context: &[u8]) -> Result<Aes256Gcm, CryptoError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    prk.expand_multi_info(&[purpose.label(), context], &mut key[..]).map_err(|_| CryptoError::Unauthentic)?;
    Ok(Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
