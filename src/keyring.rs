//! Passphrase-protected key files: the customer's keyring (level-epoch private keys) and an
//! engineer's identity. Written atomically: temp file, fsync, rename, fsync of the directory.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;
use zeroize::Zeroizing;

use crate::crypto::{CryptoError, FileKey, SecretKey, open_body, random_array, seal_body};
use crate::format::{
    FormatError, IdentityBody, KdfParams, KeyFile, KeyFileKind, KeyringBody, KeyringEntry,
    MAX_KEYRING_ENTRIES,
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

/// The encryption state shared by every save of one file: salt, parameters and derived key.
struct Sealing {
    path: PathBuf,
    kind: KeyFileKind,
    kdf: KdfParams,
    salt: [u8; 16],
    key: FileKey,
}

impl Sealing {
    fn new(
        path: &Path,
        kind: KeyFileKind,
        pass: &Passphrase,
        kdf: KdfParams,
    ) -> Result<Sealing, KeyringError> {
        kdf.check().map_err(|source| KeyringError::Malformed { path: path.to_owned(), source })?;
        let salt = random_array().map_err(KeyringError::Crypto)?;
        let key = FileKey::derive(pass.bytes(), &kdf, &salt).map_err(KeyringError::Crypto)?;
        Ok(Sealing { path: path.to_owned(), kind, kdf, salt, key })
    }

    /// Reads and decrypts a file; returns the sealing state (to save again) and the body.
    fn open(
        path: &Path,
        kind: KeyFileKind,
        pass: &Passphrase,
    ) -> Result<(Sealing, Zeroizing<Vec<u8>>), KeyringError> {
        let file = Sealing::read(path, kind)?;
        let key = FileKey::derive(pass.bytes(), &file.kdf, &file.salt).map_err(KeyringError::Crypto)?;
        let body = open_body(&key, &file.header(), &file.nonce, &file.ciphertext)
            .map_err(|_| KeyringError::WrongPassphrase { path: path.to_owned() })?;
        let sealing = Sealing { path: path.to_owned(), kind, kdf: file.kdf, salt: file.salt, key };
        Ok((sealing, body))
    }

    /// Reads the file again with the key already derived (no passphrase, no Argon2): the
    /// body as it is on disk now. `None` if there is no file yet.
    fn reread(&self) -> Result<Option<Zeroizing<Vec<u8>>>, KeyringError> {
        let file = match Sealing::read(&self.path, self.kind) {
            Err(KeyringError::NotFound { .. }) => return Ok(None),
            other => other?,
        };
        if file.salt != self.salt || file.kdf != self.kdf {
            return Err(KeyringError::Replaced { path: self.path.clone() });
        }
        let body = open_body(&self.key, &file.header(), &file.nonce, &file.ciphertext)
            .map_err(|_| KeyringError::Replaced { path: self.path.clone() })?;
        Ok(Some(body))
    }

    /// Reads and decodes a key file of `kind`, within the size limit.
    fn read(path: &Path, kind: KeyFileKind) -> Result<KeyFile, KeyringError> {
        let io_err = |source: io::Error| match source.kind() {
            io::ErrorKind::NotFound => KeyringError::NotFound { path: path.to_owned() },
            _ => KeyringError::Io { path: path.to_owned(), source },
        };
        let len = fs::metadata(path).map_err(io_err)?.len();
        if len > MAX_FILE_LEN {
            let source =
                FormatError::OutOfRange { field: "key file size", value: len, min: 0, max: MAX_FILE_LEN };
            return Err(KeyringError::Malformed { path: path.to_owned(), source });
        }
        let bytes = fs::read(path).map_err(io_err)?;
        let file = KeyFile::decode(&bytes)
            .map_err(|source| KeyringError::Malformed { path: path.to_owned(), source })?;
        if file.kind != kind {
            return Err(KeyringError::WrongKind {
                path: path.to_owned(),
                expected: kind_name(kind),
                found: kind_name(file.kind),
            });
        }
        Ok(file)
    }

    /// Encrypts `body` under a fresh nonce and replaces the file atomically.
    fn save(&self, body: &[u8]) -> Result<(), KeyringError> {
        let mut file = KeyFile {
            kind: self.kind,
            kdf: self.kdf,
            salt: self.salt,
            nonce: random_array().map_err(KeyringError::Crypto)?,
            ciphertext: vec![0; body.len() + 16],
        };
        file.ciphertext =
            seal_body(&self.key, &file.header(), &file.nonce, body).map_err(KeyringError::Crypto)?;
        crate::atomic::write_file(&self.path, |w| w.write_all(&file.encode()))
            .map_err(|failed| KeyringError::Io { path: self.path.clone(), source: failed.into() })
    }
}

fn kind_name(kind: KeyFileKind) -> &'static str {
    match kind {
        KeyFileKind::Keyring => "a keyring",
        KeyFileKind::Identity => "an engineer identity",
    }
}

type Keys = BTreeMap<(String, String, u32), SecretKey>;

fn decode_keys(path: &Path, body: &[u8]) -> Result<Keys, KeyringError> {
    let body = KeyringBody::decode(body)
        .map_err(|source| KeyringError::Malformed { path: path.to_owned(), source })?;
    Ok(body
        .entries
        .into_iter()
        .map(|e| ((e.tenant, e.level, e.epoch), SecretKey::from_bytes(&e.secret)))
        .collect())
}

/// A customer's keyring: the private key of every (tenant, level, epoch) it was given.
pub struct Keyring {
    sealing: Sealing,
    keys: BTreeMap<(String, String, u32), SecretKey>,
}

impl Keyring {
    /// A new, empty keyring to be written to `path` (which must not exist) on [`Keyring::save`].
    pub fn create(path: &Path, pass: &Passphrase, kdf: KdfParams) -> Result<Keyring, KeyringError> {
        if path.exists() {
            return Err(KeyringError::Exists { path: path.to_owned() });
        }
        let sealing = Sealing::new(path, KeyFileKind::Keyring, pass, kdf)?;
        Ok(Keyring { sealing, keys: BTreeMap::new() })
    }

    /// Opens an existing keyring.
    pub fn open(path: &Path, pass: &Passphrase) -> Result<Keyring, KeyringError> {
        let (sealing, body) = Sealing::open(path, KeyFileKind::Keyring, pass)?;
        let keys = decode_keys(path, &body)?;
        Ok(Keyring { sealing, keys })
    }

    /// Reads the keyring's file again, replacing the keys held in memory with what is on disk
    /// now. A command that changes the keyring calls this once it holds the vault: another
    /// process that saved the keyring meanwhile (its new keys registered in the vault) is not
    /// overwritten by this one's older copy. Uses the key derived at open: no passphrase.
    pub fn reload(&mut self) -> Result<(), KeyringError> {
        let Some(body) = self.sealing.reread()? else { return Ok(()) };
        self.keys = decode_keys(&self.sealing.path, &body)?;
        Ok(())
    }

    /// Opens `path` if it exists, else starts a new keyring there.
    pub fn open_or_create(path: &Path, pass: &Passphrase, kdf: KdfParams) -> Result<Keyring, KeyringError> {
        if path.exists() { Keyring::open(path, pass) } else { Keyring::create(path, pass, kdf) }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.sealing.path
    }

    /// The private key of a level epoch, if this keyring holds it.
    pub fn key(&self, tenant: &str, level: &str, epoch: u32) -> Option<&SecretKey> {
        self.keys.get(&(tenant.to_owned(), level.to_owned(), epoch))
    }

    /// Adds a key (in memory; call [`Keyring::save`] to make it durable).
    pub fn insert(
        &mut self,
        tenant: &str,
        level: &str,
        epoch: u32,
        key: SecretKey,
    ) -> Result<(), KeyringError> {
        if self.keys.len() >= MAX_KEYRING_ENTRIES {
            return Err(KeyringError::Full { path: self.sealing.path.clone() });
        }
        self.keys.insert((tenant.to_owned(), level.to_owned(), epoch), key);
        Ok(())
    }

    /// Drops every key of `tenant` (in memory; call [`Keyring::save`]); how many.
    pub fn forget_tenant(&mut self, tenant: &str) -> usize {
        let before = self.keys.len();
        self.keys.retain(|(t, _, _), _| t != tenant);
        before - self.keys.len()
    }

    /// Every (tenant, level, epoch) held.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, u32)> {
        self.keys.keys().map(|(t, l, e)| (t.as_str(), l.as_str(), *e))
    }

    /// Writes the keyring durably and atomically. When this returns Ok, the keys are on disk.
    pub fn save(&self) -> Result<(), KeyringError> {
        let entries = self
            .keys
            .iter()
            .map(|((tenant, level, epoch), key)| KeyringEntry {
                tenant: tenant.clone(),
                level: level.clone(),
                epoch: *epoch,
                secret: key.to_bytes(),
            })
            .collect();
        self.sealing.save(&KeyringBody { entries }.encode())
    }
}

/// An engineer's identity: name and X25519 key pair.
pub struct Identity {
    /// The engineer's name.
    pub engineer: String,
    /// The private key.
    pub secret: SecretKey,
    /// The file.
    pub path: PathBuf,
}

impl Identity {
    /// Generates a key pair for `engineer` and writes it durably to `path` (which must not exist).
    pub fn create(
        path: &Path,
        engineer: &str,
        pass: &Passphrase,
        kdf: KdfParams,
    ) -> Result<Identity, KeyringError> {
        if path.exists() {
            return Err(KeyringError::Exists { path: path.to_owned() });
        }
        let sealing = Sealing::new(path, KeyFileKind::Identity, pass, kdf)?;
        let secret = SecretKey::generate().map_err(KeyringError::Crypto)?;
        let body = IdentityBody { engineer: engineer.to_owned(), secret: secret.to_bytes() };
        sealing.save(&body.encode())?;
        Ok(Identity { engineer: engineer.to_owned(), secret, path: path.to_owned() })
    }

    /// Opens an identity file.
    pub fn open(path: &Path, pass: &Passphrase) -> Result<Identity, KeyringError> {
        let (_, body) = Sealing::open(path, KeyFileKind::Identity, pass)?;
        let body = IdentityBody::decode(&body)
            .map_err(|source| KeyringError::Malformed { path: path.to_owned(), source })?;
        Ok(Identity {
            engineer: body.engineer,
            secret: SecretKey::from_bytes(&body.secret),
            path: path.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: KdfParams = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };

    #[test]
    fn keyring_saves_reopens_and_refuses_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.keyring");
        let pass = Passphrase::new("correct horse\n".into());
        let mut ring = Keyring::create(&path, &pass, CHEAP).unwrap();
        let key = SecretKey::generate().unwrap();
        let public = key.public();
        ring.insert("acme", "secret", 1, key).unwrap();
        ring.save().unwrap();
        let again = Keyring::open(&path, &Passphrase::new("correct horse".into())).unwrap();
        assert_eq!(again.key("acme", "secret", 1).unwrap().public(), public);
        assert!(again.key("acme", "secret", 2).is_none());
        let wrong = Keyring::open(&path, &Passphrase::new("wrong".into()));
        assert!(matches!(wrong, Err(KeyringError::WrongPassphrase { .. })));
        assert!(matches!(Identity::open(&path, &pass), Err(KeyringError::WrongKind { .. })));
        assert!(matches!(Keyring::create(&path, &pass, CHEAP), Err(KeyringError::Exists { .. })));
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
    }

    #[test]
    fn altered_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        let pass = Passphrase::new("pw".into());
        Identity::create(&path, "eve", &pass, CHEAP).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(matches!(Identity::open(&path, &pass), Err(KeyringError::WrongPassphrase { .. })));
        bytes[4] = 9;
        fs::write(&path, &bytes).unwrap();
        assert!(matches!(Identity::open(&path, &pass), Err(KeyringError::Malformed { .. })));
    }
}
