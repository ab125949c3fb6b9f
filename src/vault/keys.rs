//! Where the reader's level keys come from.

use super::Error;
use crate::crypto::{KeyUnwrap, Unwrapper};
use crate::format::Header;
use crate::keyring::Keyring;

/// A source of level keys: the customer's keyring, an engineer's active grants, and later an
/// HSM or a remote key agent. In the spirit of age's `Identity::unwrap_stanza`, the private key
/// never leaves it: it hands out a [`KeyUnwrap`] of its own making, which unwraps data keys
/// and tells its public key, and nothing else (a token's would hold a session, not a key).
pub trait LevelKeys {
    /// The unwrapper for the level epoch key that wraps `header`'s data key, or an
    /// [`ErrorKind::AccessDenied`](super::ErrorKind::AccessDenied) error saying why not.
    fn unwrapper(&self, header: &Header) -> Result<Box<dyn KeyUnwrap + '_>, Error>;

    /// Who reads with these keys, for the audit log; `None` for the vault's actor.
    fn reader(&self) -> Option<&str> {
        None
    }

    /// Whether these keys are a scope (an engineer's active grants) of which an item left out
    /// is simply not covered, rather than a key that should open everything (a keyring).
    fn scoped(&self) -> bool {
        false
    }
}

impl LevelKeys for Keyring {
    fn unwrapper(&self, h: &Header) -> Result<Box<dyn KeyUnwrap + '_>, Error> {
        // By the key's fingerprint, which names one key whatever the vault: a header says
        // nothing of its vault, and no vault need be chosen first. A header whose fingerprint
        // matches no key held for its level and epoch gets one of those keys anyway, and the
        // opener then finds it damaged (exit 5), not a key never held (exit 4).
        let key =
            self.key_by_fingerprint(&h.tenant, &h.level, h.key_epoch, &h.fingerprint).ok_or_else(|| {
                Error::denied(format!(
                    "access denied: keyring {} holds no key for tenant {:?}, level {:?}, epoch {}",
                    self.path().display(),
                    h.tenant,
                    h.level,
                    h.key_epoch
                ))
            })?;
        Ok(Box::new(Unwrapper::new(key)))
    }
}

/// A borrowed source is a source too (a caller can hand over a keyring it keeps).
impl<T: LevelKeys + ?Sized> LevelKeys for &T {
    fn unwrapper(&self, header: &Header) -> Result<Box<dyn KeyUnwrap + '_>, Error> {
        (**self).unwrapper(header)
    }

    fn reader(&self) -> Option<&str> {
        (**self).reader()
    }
}
