//! An engineer's identity file.

use std::path::{Path, PathBuf};

use super::sealing::Sealing;
use super::*;

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
        let body =
            body.encode().map_err(|source| KeyringError::TooLarge { path: path.to_owned(), source })?;
        sealing.save(&body)?;
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
