//! Approval, the customer's half: the released levels' keys (every epoch up to now) wrapped to
//! the engineer, and each released level's next epoch, saved in the keyring first.

use super::new_epoch;
use crate::crypto::{PublicKey, Purpose, Wrapper, fingerprint, random_array};
use crate::format::{GrantKeyBlob, GrantKeyContext};
use crate::keyring::Keyring;
use crate::lockbox::{Approval, RequestStatus, check_duration, chosen_levels, id_hex};
use crate::store::records::{GrantRecord, TenantRecord};
use crate::vault::{Error, Vault, find_level};

/// Approves a pending request for `levels` (default: all requested) and `duration_secs`
/// (default: as requested; never more than requested or the tenant's maximum). Wraps the
/// released levels' keys, every epoch up to now, to the engineer; then rotates each released
/// level, saving the new keys in `keyring` before the vault commits anything.
pub fn approve_request(
    vault: &Vault,
    keyring: &mut Keyring,
    id: &str,
    levels: Option<&[String]>,
    duration_secs: Option<u64>,
) -> Result<GrantRecord, Error> {
    let approval = prepare_approval(vault, keyring, id, levels, duration_secs)?;
    vault.commit_approval(&approval)
}

/// The customer's half of [`approve_request`]: the grant's key blobs wrapped and the released
/// levels' next keys saved in the keyring; nothing in the vault changes.
pub fn prepare_approval(
    vault: &Vault,
    keyring: &mut Keyring,
    id: &str,
    levels: Option<&[String]>,
    duration_secs: Option<u64>,
) -> Result<Approval, Error> {
    let (request, status) = vault.request(id)?;
    if request.engineer == vault.actor() {
        return Err(Error::denied(format!(
            "access denied: {} filed this request and cannot approve it",
            request.engineer
        )));
    }
    if status != RequestStatus::Pending {
        let id = id_hex(&request.id);
        return Err(Error::conflict(format!("request {id} is {}, not pending", status.name())));
    }
    let tenant = vault.tenant(&request.tenant)?;
    let released = chosen_levels(&request, levels)?;
    let duration = match duration_secs {
        Some(d) if d > request.duration_secs => {
            return Err(Error::usage(format!(
                "the request asked for {}s; approval cannot give more",
                request.duration_secs
            )));
        }
        Some(d) => d,
        None => request.duration_secs,
    };
    check_duration(duration, &tenant)?;
    let engineer = vault.engineer(&request.engineer)?;
    let time = vault.now();
    let mut grant = GrantRecord {
        id: random_array()?,
        request: request.id,
        tenant: tenant.name.clone(),
        engineer: engineer.name.clone(),
        levels: Vec::new(),
        created: time,
        expires: time.saturating_add(duration),
        approved_by: vault.actor().to_owned(),
        revoked: None,
        keys: Vec::new(),
    };
    wrap_level_keys(&mut grant, &tenant, &released, &PublicKey(engineer.public), keyring)?;
    let mut new_epochs = Vec::with_capacity(grant.levels.len());
    for (level, released) in &grant.levels {
        let next = released
            .checked_add(1)
            .ok_or_else(|| Error::conflict(format!("level {level:?} has run out of epochs")))?;
        new_epochs.push(new_epoch(keyring, &tenant.name, level, next)?);
    }
    keyring.save()?;
    Ok(Approval { grant, engineer_public: engineer.public, new_epochs })
}

/// Wraps the private key of every epoch of each released level to the engineer, with the
/// grant's full context bound. One ephemeral key serves the whole grant; each wrap key is
/// still its own, expanded from a context that differs in level or epoch.
fn wrap_level_keys(
    grant: &mut GrantRecord,
    tenant: &TenantRecord,
    released: &[String],
    engineer: &PublicKey,
    keyring: &Keyring,
) -> Result<(), Error> {
    let wrapper = Wrapper::new(engineer)?;
    for level in released {
        let record = find_level(tenant, level)?;
        for epoch in &record.epochs {
            let key = keyring.key(&tenant.name, level, epoch.epoch).ok_or_else(|| {
                Error::denied(format!(
                    "access denied: keyring {} holds no key for tenant {:?}, level {level:?}, epoch {}; it cannot release it",
                    keyring.path().display(),
                    tenant.name,
                    epoch.epoch
                ))
            })?;
            if key.public().0 != epoch.public {
                return Err(Error::integrity(format!(
                    "the vault's public key for level {level:?} epoch {} does not match the keyring's",
                    epoch.epoch
                )));
            }
            let context = GrantKeyContext {
                grant_id: grant.id,
                tenant: tenant.name.clone(),
                level: level.clone(),
                epoch: epoch.epoch,
                engineer: grant.engineer.clone(),
                expires: grant.expires,
                engineer_fingerprint: engineer.fingerprint(),
                level_fingerprint: fingerprint(&epoch.public),
            };
            let wrapped = wrapper.wrap(Purpose::GrantKey, &context.encode(), &key.to_bytes())?;
            let blob = GrantKeyBlob { context, ephemeral: wrapped.ephemeral, wrapped: wrapped.ciphertext };
            grant.keys.push(blob.encode());
        }
        let newest = record.epochs.last().map_or(0, |e| e.epoch);
        grant.levels.push((level.clone(), newest));
    }
    Ok(())
}
