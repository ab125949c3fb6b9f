//! Ed25519 tenant signing keys: what makes a manifest, a grant or a checkpoint the customer's
//! own statement. Signatures are checked with `verify_strict` (no small-order keys, no
//! malleable signatures), so one statement has one valid signature per key.

use ed25519_dalek::{Signature, Signer, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::{CryptoError, label, random_array};
use crate::format::SignedNote;

/// Length of an Ed25519 public key.
pub const SIGNING_PUBLIC_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// A tenant's Ed25519 signing key. Zeroized on drop (ed25519-dalek's `zeroize` feature);
/// never printed.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// A fresh random key.
    pub fn generate() -> Result<SigningKey, CryptoError> {
        let seed = Zeroizing::new(random_array::<32>()?);
        Ok(SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// A key from its 32-byte seed.
    pub fn from_seed(seed: &[u8; 32]) -> SigningKey {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(seed))
    }

    /// The 32-byte seed, in a buffer zeroized on drop.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public key.
    pub fn public(&self) -> [u8; SIGNING_PUBLIC_LEN] {
        self.0.verifying_key().to_bytes()
    }

    /// Signs `message` (deterministic: RFC 8032).
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.0.sign(message).to_bytes()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(redacted)")
    }
}

/// Signs `body` as a signed note whose signature line names `name`.
pub fn sign_note(key: &SigningKey, name: &str, body: String) -> SignedNote {
    let signature = key.sign(body.as_bytes());
    // A signature this process just made is valid: the vault's checks of the note (commit,
    // log) need not verify it again.
    VERIFIED.remember(memo_key(&key.public(), body.as_bytes(), &signature));
    SignedNote { key_hash: note_key_hash(name, &key.public()), signature, name: name.to_owned(), body }
}

/// Checks that `note` is signed by `public` under the key name `name`: the name, the key hash
/// and the signature (strictly) must all match. Any failure is [`CryptoError::Unauthentic`].
pub fn verify_note(
    note: &SignedNote,
    name: &str,
    public: &[u8; SIGNING_PUBLIC_LEN],
) -> Result<(), CryptoError> {
    use subtle::ConstantTimeEq;
    let hash_ok: bool = note.key_hash.ct_eq(&note_key_hash(name, public)).into();
    if note.name != name || !hash_ok {
        return Err(CryptoError::Unauthentic);
    }
    verify_signature(public, note.body.as_bytes(), &note.signature)
}

/// Whether `public` is an Ed25519 public key a signature could verify under strictly: a valid
/// point, not of small order.
pub fn valid_signing_public(public: &[u8; SIGNING_PUBLIC_LEN]) -> bool {
    VerifyingKey::from_bytes(public).is_ok_and(|k| !k.is_weak())
}

/// Checks an Ed25519 signature strictly; any failure is [`CryptoError::Unauthentic`].
pub fn verify_signature(
    public: &[u8; SIGNING_PUBLIC_LEN],
    message: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> Result<(), CryptoError> {
    let memo_key = memo_key(public, message, signature);
    if VERIFIED.holds(&memo_key) {
        return Ok(());
    }
    let key = VerifyingKey::from_bytes(public).map_err(|_| CryptoError::Unauthentic)?;
    key.verify_strict(message, &Signature::from_bytes(signature)).map_err(|_| CryptoError::Unauthentic)?;
    VERIFIED.remember(memo_key);
    Ok(())
}

fn memo_key(public: &[u8; SIGNING_PUBLIC_LEN], message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> [u8; 32] {
    Sha256::new().chain_update(public).chain_update(signature).chain_update(message).finalize().into()
}

/// Signatures this process has verified or made, as SHA-256(public key || signature || message): a
/// keyring command checks the same manifest several times (the vault's record, the log, the
/// commit), and a verification is a pure function of those three inputs, so a hit is as good
/// as verifying again. Only successes are remembered; the 64 most recent, oldest replaced.
static VERIFIED: VerifiedMemo = VerifiedMemo(std::sync::Mutex::new((Vec::new(), 0)));

struct VerifiedMemo(std::sync::Mutex<(Vec<[u8; 32]>, usize)>);

impl VerifiedMemo {
    const SLOTS: usize = 64;

    fn holds(&self, key: &[u8; 32]) -> bool {
        let memo = self.0.lock().unwrap_or_else(|p| p.into_inner());
        memo.0.iter().any(|k| k == key)
    }

    fn remember(&self, key: [u8; 32]) {
        let mut memo = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (slots, next) = &mut *memo;
        if slots.len() < Self::SLOTS {
            slots.push(key);
        } else {
            slots[*next] = key;
            *next = (*next + 1) % Self::SLOTS;
        }
    }
}

/// The key hash of a C2SP signed-note signature line for an Ed25519 key: the first 4 bytes of
/// SHA-256(key name || 0x0A || 0x01 || public key).
pub fn note_key_hash(name: &str, public: &[u8; SIGNING_PUBLIC_LEN]) -> [u8; 4] {
    let digest = Sha256::new().chain_update(name).chain_update([0x0a, 0x01]).chain_update(public).finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A tenant signing key's fingerprint, all 256 bits: what a writer or an engineer pins.
pub fn tenant_fingerprint(public: &[u8; SIGNING_PUBLIC_LEN]) -> [u8; 32] {
    Sha256::new().chain_update(label::TENANT_KEY).chain_update(public).finalize().into()
}

/// SHA-256 of `bytes`: manifest and grant hashes, request digests.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex<const N: usize>(text: &str) -> [u8; N] {
        std::array::from_fn(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
    }

    /// RFC 8032, section 7.1, TEST 1 (empty message) and TEST 2 (one byte), through lockbox's
    /// own wrapper.
    #[test]
    fn rfc_8032_known_answers() {
        let cases = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                &[][..],
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                &[0x72][..],
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (seed, public, message, signature) in cases {
            let key = SigningKey::from_seed(&unhex(seed));
            assert_eq!(key.public(), unhex::<32>(public));
            assert_eq!(key.sign(message), unhex::<64>(signature));
            assert!(verify_signature(&key.public(), message, &unhex(signature)).is_ok());
        }
    }

    #[test]
    fn signs_and_refuses_another_message_or_key() {
        let key = SigningKey::from_seed(&[7; 32]);
        let sig = key.sign(b"manifest");
        assert!(verify_signature(&key.public(), b"manifest", &sig).is_ok());
        assert!(verify_signature(&key.public(), b"manifest.", &sig).is_err());
        let other = SigningKey::from_seed(&[8; 32]);
        assert!(verify_signature(&other.public(), b"manifest", &sig).is_err());
        // After a success is remembered, each of key, message and signature still counts.
        assert!(verify_signature(&key.public(), b"manifest", &sig).is_ok());
        assert!(verify_signature(&key.public(), b"manifest", &other.sign(b"manifest")).is_err());
        assert!(verify_signature(&key.public(), b"manifesu", &sig).is_err());
        // A failure is never remembered as a success.
        assert!(verify_signature(&key.public(), b"manifesu", &sig).is_err());
        assert_eq!(format!("{key:?}"), "SigningKey(redacted)");
        assert_eq!(SigningKey::from_seed(&key.seed()).public(), key.public());
    }
}
