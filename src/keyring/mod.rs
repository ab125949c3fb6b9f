//! Passphrase-protected key files: the customer's keyring (level-epoch private keys), an
//! engineer's identity and an audit monitor's key. Written atomically: temp file, fsync,
//! rename, fsync of the directory.
//!
//! `sealing` encrypts and saves one file; `ring`, `identity` and `monitor` are the three kinds
//! of file; this module holds what they share (the passphrase, the error).

use std::io;
use std::path::PathBuf;

use thiserror::Error;
use zeroize::Zeroizing;

use crate::crypto::{CryptoError, FileKey, SecretKey, SigningKey, open_body, random_array, seal_body};
pub use crate::format::MonitorTenant;
use crate::format::{
    FormatError, IdentityBody, KdfParams, KeyFile, KeyFileKind, KeyringBody, KeyringKey, KeyringTenant,
    MAX_KEYRING_ENTRIES, MAX_KEYRING_TENANTS, MAX_MONITOR_TENANTS, MonitorBody,
};

/// Argon2id cost of new key files: 64 MiB, 3 passes, 1 lane (the RFC 9106 second
/// recommendation, for machines with less memory to spare than its first).
pub const DEFAULT_KDF: KdfParams = KdfParams { memory_kib: 64 * 1024, iterations: 3, lanes: 1 };

/// Largest key file read, in bytes: the ciphertext limit plus the header.
const MAX_FILE_LEN: u64 = 16 * 1024 * 1024 + 52;

/// A passphrase. Zeroized on drop; never printed.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase; trailing CR/LF (from a file or a pipe) are removed.
    pub fn new(mut text: String) -> Passphrase {
        while text.ends_with('\n') || text.ends_with('\r') {
            text.pop();
        }
        Passphrase(Zeroizing::new(text))
    }

    /// Its length in characters.
    pub fn chars(&self) -> usize {
        self.0.chars().count()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether two passphrases are equal (constant time).
    pub fn matches(&self, other: &Passphrase) -> bool {
        use subtle::ConstantTimeEq;
        self.bytes().ct_eq(other.bytes()).into()
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(redacted)")
    }
}

/// Why a key file could not be used. Never contains key material.
#[derive(Debug, Error)]
pub enum KeyringError {
    /// No file at the path.
    #[error("no key file at {}", path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// Creating a file that already exists.
    #[error("{} already exists; refusing to overwrite it", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The passphrase does not open the file (or the file was altered).
    #[error("wrong passphrase for {} (or the file was altered)", path.display())]
    WrongPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a valid key file.
    #[error("{} is not a valid lockbox key file: {source}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The rule broken.
        source: FormatError,
    },
    /// A keyring given where an identity is expected, or the reverse.
    #[error("{} is {found}, not {expected}", path.display())]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// What was wanted.
        expected: &'static str,
        /// What the file is.
        found: &'static str,
    },
    /// The file was replaced by another key file while lockbox had it open.
    #[error("{} was replaced by another key file while lockbox was using it; run the command again", path.display())]
    Replaced {
        /// The file.
        path: PathBuf,
    },
    /// A keyring written before tenant signing keys existed.
    #[error("{} is a version 1 keyring, from before lockbox signed tenant manifests; it cannot be migrated (its tenants have no signing key the vault could trust): the tenants must be created again in a new vault with a new keyring, and their items moved", path.display())]
    Outdated {
        /// The file.
        path: PathBuf,
    },
    /// A tenant the keyring should (or should not yet) hold for the vault.
    #[error("{} {why} tenant {tenant:?} of this vault", path.display())]
    Tenant {
        /// The file.
        path: PathBuf,
        /// The tenant.
        tenant: String,
        /// "already holds", "holds no", or why it cannot take the tenant.
        why: &'static str,
    },
    /// What the file would hold does not fit its format (a count or a name over its limit):
    /// nothing was written.
    #[error("cannot save {}: {source}; nothing was written", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit broken.
        source: crate::format::FormatError,
    },
    /// The keyring is full.
    #[error("{} already holds the maximum of {MAX_KEYRING_ENTRIES} keys", path.display())]
    Full {
        /// The file.
        path: PathBuf,
    },
    /// An I/O error on the file.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A cryptographic failure other than a wrong passphrase.
    #[error("{0}")]
    Crypto(CryptoError),
}

mod identity;
mod monitor;
mod ring;
mod sealing;
#[cfg(test)]
mod tests;

pub use crate::format::{KeyState, ManifestMark};
pub use identity::Identity;
pub use monitor::MonitorKey;
pub use ring::{Keyring, TenantKeys, VaultKeys, VaultKeysMut};
pub use sealing::change_passphrase;
