//! Key types. Secrets zeroize on drop and never print.

use sha2::{Digest, Sha256};
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

use super::{CryptoError, label};
use crate::format::{FINGERPRINT_LEN, KEY_LEN, hex};

/// `N` bytes from the operating system's random number generator.
pub fn random_array<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| CryptoError::Randomness)?;
    Ok(out)
}

/// An X25519 secret key: a level-epoch key in a keyring or an engineer's identity key.
pub struct SecretKey(StaticSecret);

impl SecretKey {
    /// A fresh random key.
    pub fn generate() -> Result<SecretKey, CryptoError> {
        let bytes = Zeroizing::new(random_array::<KEY_LEN>()?);
        Ok(SecretKey(StaticSecret::from(*bytes)))
    }

    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> SecretKey {
        SecretKey(StaticSecret::from(*bytes))
    }

    /// The 32 secret bytes, in a buffer zeroized on drop.
    pub fn to_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The matching public key.
    pub fn public(&self) -> PublicKey {
        PublicKey(x25519_dalek::PublicKey::from(&self.0).to_bytes())
    }

    pub(crate) fn inner(&self) -> &StaticSecret {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(redacted)")
    }
}

/// An X25519 public key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub [u8; KEY_LEN]);

impl PublicKey {
    /// The key's fingerprint: how envelopes and grants name the key they are wrapped to.
    pub fn fingerprint(&self) -> [u8; FINGERPRINT_LEN] {
        fingerprint(&self.0)
    }
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", hex(&self.fingerprint()))
    }
}

/// SHA-256 of a label and the public key, truncated to 16 bytes.
pub fn fingerprint(public: &[u8; KEY_LEN]) -> [u8; FINGERPRINT_LEN] {
    let digest = Sha256::new().chain_update(label::FINGERPRINT).chain_update(public).finalize();
    let mut out = [0u8; FINGERPRINT_LEN];
    out.copy_from_slice(&digest[..FINGERPRINT_LEN]);
    out
}

/// A per-item data key: fresh and random on every write.
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    /// A fresh random data key.
    pub fn generate() -> Result<DataKey, CryptoError> {
        Ok(DataKey(Zeroizing::new(random_array()?)))
    }

    /// A data key recovered by an unwrap.
    pub fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> DataKey {
        DataKey(bytes)
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(redacted)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secret_bytes() {
        let key = SecretKey::from_bytes(&[0xab; 32]);
        assert_eq!(format!("{key:?}"), "SecretKey(redacted)");
        let dek = DataKey::from_bytes(Zeroizing::new([0xab; 32]));
        // Exactly the redacted text: a derived Debug would print the bytes (as 171, not "ab").
        assert_eq!(format!("{dek:?}"), "DataKey(redacted)");
        assert_eq!(format!("{:?}", key.public()), format!("PublicKey({})", hex(&key.public().fingerprint())));
    }

    /// The fingerprint is SHA-256 of the label and the key, cut to 16 bytes, computed here
    /// independently; and the RFC 7748 public key of a known secret has a known fingerprint.
    #[test]
    fn fingerprints_follow_their_definition() {
        let secret: [u8; 32] = std::array::from_fn(|i| {
            u8::from_str_radix(
                &"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"[2 * i..2 * i + 2],
                16,
            )
            .unwrap()
        });
        let public = SecretKey::from_bytes(&secret).public();
        assert_eq!(hex(&public.0), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let mut h = Sha256::new();
        h.update(b"lockbox/v1 fingerprint\0");
        h.update(public.0);
        assert_eq!(public.fingerprint()[..], h.finalize()[..16]);
        let other = SecretKey::from_bytes(&[1; 32]).public();
        assert_ne!(public.fingerprint(), other.fingerprint());
    }
}
