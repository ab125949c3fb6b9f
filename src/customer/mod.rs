//! The customer's half of every change that needs the keyring.
//!
//! Each change is two steps. *Prepare*, here, uses the keyring: new level keys are generated
//! and saved durably before anything names them; old keys wrap a grant's key blobs or re-wrap
//! item headers. *Commit*, in the vault ([`Vault::commit_tenant`], [`Vault::commit_level`],
//! [`Vault::commit_rotation`], [`Vault::commit_approval`]), takes only public material and
//! re-checks in its transaction what the prepare step read. The CLI runs both in one process
//! today; a server puts the wire between them, and the vault never sees a keyring.
//!
//! A key generated for an epoch whose commit did not happen stays in the keyring and is reused
//! by the next attempt at the same epoch: it was never registered, so never used.

mod approve;
mod rotate;

pub use approve::{approve_request, prepare_approval};
pub use rotate::{PreparedRotation, prepare_rotation, rotate_level, rotate_level_with_progress};

use crate::crypto::SecretKey;
use crate::keyring::Keyring;
use crate::lockbox::Removal;
use crate::store::records::TenantRecord;
use crate::vault::{Error, NewEpoch, Vault};

/// Creates `tenant` with `levels`: their keys go into `keyring`, saved before the vault
/// registers the public halves.
pub fn create_tenant(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    levels: &[String],
) -> Result<TenantRecord, Error> {
    vault.check_new_tenant(tenant, levels)?;
    let keys =
        levels.iter().map(|level| new_epoch(keyring, tenant, level, 1)).collect::<Result<Vec<_>, _>>()?;
    keyring.save()?;
    vault.commit_tenant(tenant, &keys)
}

/// Adds `level` to `tenant`, its first key saved in `keyring` before it is registered.
pub fn add_level(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    level: &str,
) -> Result<TenantRecord, Error> {
    vault.check_new_level(tenant, level)?;
    holds_tenant(keyring, tenant)?;
    let key = new_epoch(keyring, tenant, level, 1)?;
    keyring.save()?;
    vault.commit_level(tenant, &key)
}

/// Deletes `tenant` (every item erased, grants revoked, requests denied; the audit log kept),
/// once `keyring` has shown it holds the current key of every level the vault registers for
/// it. Then the tenant's keys leave the keyring, so a tenant created again under the same name
/// gets fresh keys, never ones that were released before. (A crash between the two leaves the
/// keys in the keyring; `tenant create` would then reuse them.)
pub fn delete_tenant(vault: &Vault, keyring: &mut Keyring, tenant: &str) -> Result<Removal, Error> {
    let record = vault.tenant(tenant)?;
    let mut proven = Vec::with_capacity(record.levels.len());
    for level in &record.levels {
        let current = level.epochs.last().ok_or_else(|| Error::integrity("a level without a key"))?;
        let held = keyring.key(tenant, &level.name, current.epoch).map(|k| k.public().0);
        proven.push(NewEpoch { level: level.name.clone(), epoch: current.epoch, public: current.public });
        if held != Some(current.public) {
            return Err(Error::denied(format!(
                "access denied: keyring {} does not hold the current key of level {:?} of tenant {tenant:?}; only the tenant's own keyring can delete it",
                keyring.path().display(),
                level.name
            )));
        }
    }
    let removal = vault.commit_tenant_delete(tenant, &proven)?;
    keyring.forget_tenant(tenant);
    keyring.save()?;
    Ok(removal)
}

/// Refuses a keyring that holds no key of `tenant`: a new level or epoch key saved in it would
/// be lost to the tenant's own keyring, and items written to it unreadable.
fn holds_tenant(keyring: &Keyring, tenant: &str) -> Result<(), Error> {
    if keyring.entries().any(|(t, _, _)| t == tenant) {
        return Ok(());
    }
    Err(Error::denied(format!(
        "access denied: keyring {} holds no key of tenant {tenant:?}; give the keyring the tenant was created with",
        keyring.path().display()
    )))
}

/// The key of a new level epoch, put in the keyring (not yet saved); returns its public half.
/// If the keyring already holds a key for that epoch (left by an earlier attempt whose vault
/// commit did not happen), that key is reused: it was never registered, so never used.
fn new_epoch(keyring: &mut Keyring, tenant: &str, level: &str, epoch: u32) -> Result<NewEpoch, Error> {
    let public = match keyring.key(tenant, level, epoch) {
        Some(existing) => existing.public().0,
        None => {
            let key = SecretKey::generate()?;
            let public = key.public().0;
            keyring.insert(tenant, level, epoch, key)?;
            public
        }
    };
    Ok(NewEpoch { level: level.to_owned(), epoch, public })
}
