//! The sealing of one key file: its passphrase-derived key, and atomic, durable saves.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use super::*;

/// The encryption state shared by every save of one file: salt, parameters and derived key.
pub(super) struct Sealing {
    pub(super) path: PathBuf,
    version: u8,
    kind: KeyFileKind,
    kdf: KdfParams,
    salt: [u8; 16],
    key: FileKey,
    /// The lock that makes this process the file's only changer, once taken.
    held: Option<crate::files::FileLock>,
}

impl Sealing {
    pub(super) fn new(
        path: &Path,
        kind: KeyFileKind,
        pass: &Passphrase,
        kdf: KdfParams,
    ) -> Result<Sealing, KeyringError> {
        kdf.check().map_err(|source| KeyringError::Malformed { path: path.to_owned(), source })?;
        let salt = random_array().map_err(KeyringError::Crypto)?;
        let key = FileKey::derive(pass.bytes(), &kdf, &salt).map_err(KeyringError::Crypto)?;
        Ok(Sealing { path: path.to_owned(), version: KeyFile::VERSION, kind, kdf, salt, key, held: None })
    }

    /// Reads and decrypts a file; returns the sealing state (to save again) and the body.
    pub(super) fn open(
        path: &Path,
        kind: KeyFileKind,
        pass: &Passphrase,
    ) -> Result<(Sealing, Zeroizing<Vec<u8>>), KeyringError> {
        let file = Sealing::read(path, kind)?;
        let key = FileKey::derive(pass.bytes(), &file.kdf, &file.salt).map_err(KeyringError::Crypto)?;
        let body = open_body(&key, &file.header(), &file.nonce, &file.ciphertext)
            .map_err(|_| KeyringError::WrongPassphrase { path: path.to_owned() })?;
        let sealing = Sealing {
            path: path.to_owned(),
            version: file.version,
            kind,
            kdf: file.kdf,
            salt: file.salt,
            key,
            held: None,
        };
        Ok((sealing, body))
    }

    /// Makes this process the file's only changer until it drops this sealing: takes the
    /// file's lock (see [`crate::files::guard_path`]), waiting for another process that holds
    /// it (`waiting` is told). Read the file again after this: another process may have saved
    /// it before.
    pub(super) fn hold(&mut self, waiting: impl FnOnce()) -> Result<(), KeyringError> {
        if self.held.is_none() {
            let lock = crate::files::FileLock::guarding(&self.path, waiting)
                .map_err(|source| KeyringError::Io { path: crate::files::guard_path(&self.path), source })?;
            self.held = Some(lock);
        }
        Ok(())
    }

    /// Lets the file's lock go.
    pub(super) fn release(&mut self) {
        self.held = None;
    }

    /// Reads the file again with the key already derived (no passphrase, no Argon2): the
    /// body as it is on disk now. `None` if there is no file yet.
    pub(super) fn reread(&self) -> Result<Option<Zeroizing<Vec<u8>>>, KeyringError> {
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
        let file = KeyFile::decode(&bytes).map_err(|source| match source {
            FormatError::UnsupportedVersion { version: 1, .. } => {
                KeyringError::Outdated { path: path.to_owned() }
            }
            source => KeyringError::Malformed { path: path.to_owned(), source },
        })?;
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
    pub(super) fn save(&self, body: &[u8]) -> Result<(), KeyringError> {
        let mut file = KeyFile {
            version: self.version,
            kind: self.kind,
            kdf: self.kdf,
            salt: self.salt,
            nonce: random_array().map_err(KeyringError::Crypto)?,
            ciphertext: vec![0; body.len() + 16],
        };
        file.ciphertext =
            seal_body(&self.key, &file.header(), &file.nonce, body).map_err(KeyringError::Crypto)?;
        crate::files::write_file(&self.path, |w| w.write_all(&file.encode()))
            .map_err(|failed| KeyringError::Io { path: self.path.clone(), source: failed.into() })
    }
}

/// Seals the key file at `path` (a keyring, an identity or a monitor key: its own header says
/// which) again under `new`, with a fresh salt and the same Argon2id cost, replacing it
/// atomically: the old passphrase no longer opens it. Returns what kind of key file it is.
pub fn change_passphrase(
    path: &Path,
    old: &Passphrase,
    new: &Passphrase,
) -> Result<&'static str, KeyringError> {
    let len = fs::metadata(path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => KeyringError::NotFound { path: path.to_owned() },
            _ => KeyringError::Io { path: path.to_owned(), source },
        })?
        .len();
    if len > MAX_FILE_LEN {
        let source =
            FormatError::OutOfRange { field: "key file size", value: len, min: 0, max: MAX_FILE_LEN };
        return Err(KeyringError::Malformed { path: path.to_owned(), source });
    }
    let bytes = fs::read(path).map_err(|source| KeyringError::Io { path: path.to_owned(), source })?;
    let kind = match KeyFile::decode(&bytes) {
        Ok(file) => file.kind,
        Err(FormatError::UnsupportedVersion { version: 1, .. }) => {
            return Err(KeyringError::Outdated { path: path.to_owned() });
        }
        Err(source) => return Err(KeyringError::Malformed { path: path.to_owned(), source }),
    };
    let (old_sealing, body) = Sealing::open(path, kind, old)?;
    let mut sealing = Sealing::new(path, kind, new, old_sealing.kdf)?;
    // Argon2 ran twice since the file was read: a command that saved it meanwhile (new keys)
    // must not be overwritten with the older contents. Under the file's lock, no command saves
    // it between this check and the save.
    sealing.hold(|| {})?;
    if fs::read(path).map_err(|source| KeyringError::Io { path: path.to_owned(), source })? != bytes {
        return Err(KeyringError::Replaced { path: path.to_owned() });
    }
    sealing.save(&body)?;
    Ok(kind_name(kind))
}

pub(super) fn kind_name(kind: KeyFileKind) -> &'static str {
    match kind {
        KeyFileKind::Keyring => "a keyring",
        KeyFileKind::Identity => "an engineer identity",
        KeyFileKind::Monitor => "an audit monitor key",
    }
}
