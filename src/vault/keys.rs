//! Where the reader's level keys come from.

use super::Error;
use crate::crypto::SecretKey;
use crate::format::Header;
use crate::keyring::Keyring;

/// A source of level private keys: the customer's keyring, or an engineer's active grant.
pub trait LevelKeys {
    /// The private key for the level epoch that wraps `header`'s data key, or an
    /// [`ErrorKind::AccessDenied`](super::ErrorKind::AccessDenied) error saying why not.
    fn level_key(&self, header: &Header) -> Result<SecretKey, Error>;

    /// Who reads with these keys, for the audit log; `None` for the vault's actor.
    fn reader(&self) -> Option<&str> {
        None
    }
}

impl LevelKeys for Keyring {
    fn level_key(&self, h: &Header) -> Result<SecretKey, Error> {
        let key = self.key(&h.tenant, &h.level, h.key_epoch).ok_or_else(|| {
            Error::denied(format!(
                "access denied: keyring {} holds no key for tenant {:?}, level {:?}, epoch {}",
                self.path().display(),
                h.tenant,
                h.level,
                h.key_epoch
            ))
        })?;
        Ok(SecretKey::from_bytes(&key.to_bytes()))
    }
}

/// A borrowed source is a source too (a caller can hand over a keyring it keeps).
impl<T: LevelKeys + ?Sized> LevelKeys for &T {
    fn level_key(&self, header: &Header) -> Result<SecretKey, Error> {
        (**self).level_key(header)
    }

    fn reader(&self) -> Option<&str> {
        (**self).reader()
    }
}
