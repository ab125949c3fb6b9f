//! Every write of the vault is one transaction, run again when the database ends it for a
//! conflict with a concurrent one (store/retry.rs): the person using lockbox sees such a
//! failure only if it keeps happening. The work given must have no effect outside its
//! transaction: it runs once per attempt.

use super::{Error, Vault};
use crate::store::{StoreError, Writes, retry};

impl Vault {
    /// Runs `work` in a write transaction and commits it; again, in a new transaction, when
    /// the database ended it for a conflict.
    pub(crate) fn write<T>(&self, mut work: impl FnMut(&dyn Writes) -> Result<T, Error>) -> Result<T, Error> {
        let attempt = || {
            let tx = self.store().begin_write()?;
            let value = work(&*tx)?;
            tx.commit()?;
            Ok(value)
        };
        retry::with_retries(attempt, is_conflict)
    }
}

/// Whether the database ended the transaction for a conflict (so running it again may pass).
fn is_conflict(e: &Error) -> bool {
    std::error::Error::source(e).and_then(|s| s.downcast_ref::<StoreError>()).is_some_and(retry::is_conflict)
}
