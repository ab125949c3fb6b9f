//! Keys, key wrapping, the chunked payload AEAD and passphrase protection.
//!
//! The construction and the reason for each step are in `docs/DESIGN.md`. Every secret type
//! here zeroizes on drop and has a redacted `Debug`; every failure to authenticate collapses to
//! [`CryptoError::Unauthentic`], which says nothing about which check failed.

mod aead;
mod error;
mod keys;
mod passphrase;
mod sign;
mod stream;
mod wrap;

/// The raw AEAD takes any nonce the caller gives it: for benchmarks, not for callers.
#[doc(hidden)]
pub use aead::AeadKey;
pub use error::CryptoError;
pub use keys::{DataKey, PublicKey, SecretKey, fingerprint, random_array};
pub(crate) use passphrase::{FileKey, open_body, seal_body};
pub(crate) use sign::valid_signing_public;
pub use sign::{SigningKey, note_key_hash, sha256, sign_note, tenant_fingerprint, verify_note};
pub use stream::{ChunkOpener, ChunkSealer, ItemKeys};
pub use wrap::{KeyUnwrap, Purpose, Unwrapper, Wrapped, Wrapper};

/// Each label ends in a NUL so that no label is a prefix of another: `label || context` is
/// unambiguous for every pair of purposes.
pub(crate) mod label {
    pub const DEK_WRAP: &[u8] = b"lockbox/v1 dek-wrap\0";
    pub const GRANT_KEY: &[u8] = b"lockbox/v1 grant-key\0";
    pub const COMMIT: &[u8] = b"lockbox/v1 commit\0";
    pub const PAYLOAD: &[u8] = b"lockbox/v1 payload\0";
    pub const FINGERPRINT: &[u8] = b"lockbox/v1 fingerprint\0";
    pub const TENANT_KEY: &[u8] = b"lockbox/v1 tenant-key\0";
}
