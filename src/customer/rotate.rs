//! Rotation, the customer's half: the new epoch's key, and with `rewrap` every older item's
//! data key unwrapped with the keyring and wrapped again to it.

use super::new_epoch;
use super::sync::{Proposal, committed, levels_of, policy_of, propose};
use super::synced;
use crate::crypto::{PublicKey, Purpose, Wrapped, Wrapper, fingerprint};
use crate::keyring::Keyring;
use crate::vault::{Error, NewEpoch, Progress, Rewrapped, Rotation, Unwrappers, Vault, valid_name};

/// A rotation prepared with the keyring, for [`Vault::commit_rotation`].
pub struct PreparedRotation {
    /// Tenant.
    pub tenant: String,
    /// The level's next epoch; its private key is saved in the keyring.
    pub new: NewEpoch,
    /// With `rewrap`: every older item's header, re-wrapped to the new epoch.
    pub rewrapped: Option<Vec<Rewrapped>>,
    /// The next manifest, signed, stating the new epoch.
    pub manifest: String,
    proposal: Proposal,
}

/// Starts a new epoch of `level`: its key is saved in `keyring` before it is registered. With
/// `rewrap`, every item of the level under an older epoch is re-wrapped to the new one in the
/// same vault transaction, so keys of older epochs no longer unwrap anything in the vault.
pub fn rotate_level(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    level: &str,
    rewrap: bool,
) -> Result<Rotation, Error> {
    rotate_level_with_progress(vault, keyring, tenant, level, rewrap, &mut |_, _| {})
}

/// [`rotate_level`], telling `progress` the items re-wrapped so far and how many there are.
pub fn rotate_level_with_progress(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    level: &str,
    rewrap: bool,
    progress: &mut Progress<'_>,
) -> Result<Rotation, Error> {
    let p = prepare_rotation_with_progress(vault, keyring, tenant, level, rewrap, progress)?;
    let rotation = vault.commit_rotation(&p.tenant, &p.new, p.rewrapped.as_deref(), &p.manifest)?;
    committed(keyring, vault, tenant, &p.proposal)?;
    Ok(rotation)
}

/// The customer's half of [`rotate_level`]: the new key saved in the keyring, the headers
/// re-wrapped; nothing in the vault changes.
pub fn prepare_rotation(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    level: &str,
    rewrap: bool,
) -> Result<PreparedRotation, Error> {
    prepare_rotation_with_progress(vault, keyring, tenant, level, rewrap, &mut |_, _| {})
}

fn prepare_rotation_with_progress(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    level: &str,
    rewrap: bool,
    progress: &mut Progress<'_>,
) -> Result<PreparedRotation, Error> {
    valid_name("tenant", tenant)?;
    valid_name("level", level)?;
    let synced = synced(vault, keyring, tenant)?;
    // The epoch comes from the manifest this keyring signed, never from the vault's record.
    let current = synced.manifest.level(level).ok_or_else(|| no_level(tenant, level, &synced))?.epoch;
    let next = current
        .checked_add(1)
        .ok_or_else(|| Error::conflict(format!("level {level:?} has run out of epochs")))?;
    let new = new_epoch(keyring, vault, tenant, level, next)?;
    let mut levels = levels_of(&synced);
    for l in levels.iter_mut().filter(|l| l.name == level) {
        l.epoch = next;
        l.public = new.public;
    }
    let proposal = propose(vault, keyring, tenant, Some(&synced), levels, policy_of(&synced))?;
    let rewrapped = if rewrap {
        Some(rewrap_items(vault, keyring, tenant, level, next, &new.public, progress)?)
    } else {
        None
    };
    Ok(PreparedRotation {
        tenant: tenant.to_owned(),
        new,
        rewrapped,
        manifest: proposal.note.clone(),
        proposal,
    })
}

fn no_level(tenant: &str, level: &str, synced: &super::Synced) -> Error {
    let names: Vec<&str> = synced.manifest.levels.iter().map(|l| l.name.as_str()).collect();
    Error::not_found(format!("tenant {tenant:?} has no level {level:?} (levels: {})", names.join(", ")))
}

/// Re-wraps the data key of every item of `level` held under an epoch before `epoch`.
fn rewrap_items(
    vault: &Vault,
    keyring: &Keyring,
    tenant: &str,
    level: &str,
    epoch: u32,
    target: &[u8; 32],
    progress: &mut Progress<'_>,
) -> Result<Vec<Rewrapped>, Error> {
    let wrapper = Wrapper::new(&PublicKey(*target))?;
    let mut unwrappers = Unwrappers::default();
    let mut out = Vec::new();
    let stale = vault.stale_items(tenant, level, epoch)?;
    let total = stale.len() as u64;
    for (id, mut header) in stale {
        if out.len().is_multiple_of(256) {
            progress(out.len() as u64, total);
        }
        // The vault chose these records: only an item of this tenant and level, stored under
        // its own id and below the new epoch, is re-wrapped (a record planted from another
        // tenant would otherwise have its data key re-wrapped to this one's key).
        if header.tenant != tenant || header.level != level || header.item != id || header.key_epoch >= epoch
        {
            return Err(Error::integrity(format!(
                "item {id:?} of tenant {tenant:?} holds the header of another item, tenant or level: nothing was re-wrapped"
            )));
        }
        let old_header = header.encode().map_err(Error::encoding)?;
        let unwrapper = unwrappers.for_header(keyring, &header)?;
        if unwrapper.public().fingerprint() != header.fingerprint {
            return Err(Error::integrity(format!("item {id:?} names a key other than the keyring's")));
        }
        let wrapped = Wrapped { ephemeral: header.ephemeral, ciphertext: header.wrapped_dek };
        let dek = unwrapper
            .unwrap(Purpose::DataKey, &header.wrap_context().map_err(Error::encoding)?, &wrapped)
            .map_err(|_| {
                Error::integrity(format!("cannot re-wrap item {id:?}: its data key does not unwrap"))
            })?;
        header.key_epoch = epoch;
        header.fingerprint = fingerprint(target);
        let rewrapped =
            wrapper.wrap(Purpose::DataKey, &header.wrap_context().map_err(Error::encoding)?, &dek)?;
        header.ephemeral = rewrapped.ephemeral;
        header.wrapped_dek = rewrapped.ciphertext;
        out.push(Rewrapped { item: id, old_header, header: header.encode().map_err(Error::encoding)? });
    }
    Ok(out)
}
