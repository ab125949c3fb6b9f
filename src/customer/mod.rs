//! The customer's half of every change that needs the keyring.
//!
//! Each change is two steps. *Prepare*, here, uses the keyring: it first checks that the
//! vault's current manifest is the one the keyring signed last ([`synced`]); new level keys
//! are generated and saved durably before anything names them; the next manifest is signed
//! with the tenant key and saved as proposed; old keys wrap a grant's key blobs or re-wrap
//! item headers. *Commit*, in the vault (`Vault::commit_tenant`, `commit_level`,
//! [`Vault::commit_rotation`], [`crate::lockbox::Workflow::commit_approval`], `commit_manifest`),
//! takes only public material and the signed manifest, which must follow the vault's current
//! one. The CLI runs both in one process today; a server puts the wire between them.
//!
//! A key generated for an epoch whose commit did not happen stays *pending* in the keyring
//! and is reused by the next attempt at the same epoch. A key that was registered or released
//! is never reused: a vault that lost an epoch or a level is refused instead.

mod approve;
mod checkpoint;
mod monitor;
mod reencrypt;
mod restore;
mod resync;
mod rotate;
mod sync;

pub use approve::{
    Confirmation, approve_request, engineer_pinned, prepare_approval, shown_digest, trust_engineer,
};
pub use checkpoint::{
    AuditCheck, CLOCK_SKEW_SECS, MonitorSeen, check_audit, check_items, checked_entries, checkpoint,
};
pub use monitor::{MonitorRun, monitor_checkpoint, monitor_trust, set_monitor};
pub use reencrypt::{CopyItem, reencrypt_level, reencrypt_level_with};
pub use restore::{Anchor, RestoreGap, accept_restore, restore_gap};
pub use resync::{Resync, check_keyring, resync};
pub use rotate::{PreparedRotation, prepare_rotation, rotate_level, rotate_level_with_progress};
pub use sync::Synced;

use sync::{committed, levels_of, policy_of, propose, tenant_keys, tenant_keys_mut};

use crate::crypto::{SecretKey, tenant_fingerprint};
use crate::format::ManifestLevel;
use crate::keyring::{KeyState, Keyring};
use crate::lockbox::Removal;
use crate::lockbox::Workflow;
use crate::store::records::TenantRecord;
use crate::vault::{
    Error, MAX_DURATION_SECS, MAX_MANIFEST_LIFETIME_SECS, MIN_MANIFEST_LIFETIME_SECS, NewEpoch, Vault,
};

/// Checks that the vault's manifest of `tenant` is the one `keyring` signed last (adopting a
/// proposed one the vault did commit) and that its audit log agrees with the keyring's last
/// checkpoint, signs a new checkpoint (remembered in memory: the caller saves the keyring), and
/// returns the manifest. Every keyring command starts here.
pub fn synced(vault: &Vault, keyring: &mut Keyring, tenant: &str) -> Result<Synced, Error> {
    let mut synced = sync::sync_manifest(vault, keyring, tenant)?;
    // Saved by the change that follows (every caller saves the keyring before it commits).
    checkpoint::sign_checkpoint(vault, keyring, tenant)?;
    // The checkpoint changed the record (nothing else): the manifest checked above stands.
    synced.record = vault.tenant(tenant)?;
    Ok(synced)
}

/// Creates `tenant` with `levels`: a tenant signing key and the levels' keys go into
/// `keyring`, saved with the first manifest before the vault registers anything; then this
/// machine pins the tenant key for its own writes.
pub fn create_tenant(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    levels: &[String],
) -> Result<TenantRecord, Error> {
    vault.check_new_tenant(tenant, levels)?;
    // Through a server, only the tenant the token is for: refused before any key is made.
    if let Some(mine) = vault.mirror_tenant().filter(|mine| mine != tenant) {
        return Err(Error::denied(format!(
            "access denied: the server's token is for tenant {mine:?}, not {tenant:?}"
        )));
    }
    match keyring.for_vault(vault.id()).tenant(tenant) {
        Some(keys) if keys.last.seq != 0 => {
            return Err(Error::integrity(format!(
                "keyring {} already holds tenant {tenant:?} of this vault (manifest seq {}), but the vault has no such tenant: it was removed outside lockbox, or the vault was rolled back; refusing to create it again over keys that may have been released",
                keyring.path().display(),
                keys.last.seq
            )));
        }
        // A create that did not finish: its signing key and pending keys are reused.
        Some(_) => {}
        None => {
            keyring.for_vault_mut(vault.id()).add_tenant(tenant)?;
        }
    }
    let keys = levels
        .iter()
        .map(|level| new_epoch(keyring, vault, tenant, level, 1))
        .collect::<Result<Vec<_>, _>>()?;
    let stated = keys.iter().map(manifest_level).collect();
    let proposal = propose(vault, keyring, tenant, None, stated, sync::Policy::default_for_new_tenant())?;
    let signer = tenant_keys(keyring, vault, tenant)?.signing().public();
    let record = vault.commit_tenant(tenant, &signer, &keys, &proposal.note, None)?;
    committed(keyring, vault, tenant, &proposal)?;
    vault.trust_tenant(tenant, tenant_fingerprint(&signer))?;
    Ok(record)
}

/// Adds `level` to `tenant`, its first key saved in `keyring` before it is registered.
pub fn add_level(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    level: &str,
) -> Result<TenantRecord, Error> {
    let synced = synced(vault, keyring, tenant)?;
    vault.check_new_level(tenant, level)?;
    if synced.manifest.level(level).is_some() {
        return Err(Error::conflict(format!("tenant {tenant:?} already has level {level:?}")));
    }
    let key = new_epoch(keyring, vault, tenant, level, 1)?;
    let mut levels = levels_of(&synced);
    levels.push(manifest_level(&key));
    let proposal = propose(vault, keyring, tenant, Some(&synced), levels, policy_of(&synced))?;
    let record = vault.commit_level(tenant, &key, &proposal.note)?;
    committed(keyring, vault, tenant, &proposal)?;
    Ok(record)
}

/// Changes the tenant's access policy (`None` keeps a value): a new manifest states it.
pub fn set_policy(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    change: PolicyChange,
) -> Result<TenantRecord, Error> {
    for (what, value) in
        [("maximum access", change.max_access_secs), ("request TTL", change.request_ttl_secs)]
    {
        if let Some(v) = value
            && !(1..=MAX_DURATION_SECS).contains(&v)
        {
            return Err(Error::usage(format!("{what} must be between 1 second and 30 days")));
        }
    }
    if let Some(v) = change.manifest_lifetime_secs
        && !(MIN_MANIFEST_LIFETIME_SECS..=MAX_MANIFEST_LIFETIME_SECS).contains(&v)
    {
        return Err(Error::usage("the manifest lifetime must be between 1 hour and 30 days"));
    }
    let synced = synced(vault, keyring, tenant)?;
    let was = policy_of(&synced);
    let policy = sync::Policy {
        max_access_secs: change.max_access_secs.unwrap_or(was.max_access_secs),
        request_ttl_secs: change.request_ttl_secs.unwrap_or(was.request_ttl_secs),
        manifest_lifetime_secs: change.manifest_lifetime_secs.unwrap_or(was.manifest_lifetime_secs),
    };
    let proposal = propose(vault, keyring, tenant, Some(&synced), levels_of(&synced), policy)?;
    let record = vault.commit_manifest(tenant, &proposal.note)?;
    committed(keyring, vault, tenant, &proposal)?;
    Ok(record)
}

/// A change of a tenant's policy: each `None` keeps what the manifest states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyChange {
    /// Longest access a grant may give (1 s to 30 days).
    pub max_access_secs: Option<u64>,
    /// How long a request waits for a decision (1 s to 30 days).
    pub request_ttl_secs: Option<u64>,
    /// How long each manifest the customer signs stays valid for writers (1 h to 30 days):
    /// without an audit monitor, the longest a withheld manifest can keep writers on an
    /// epoch a newer one retired.
    pub manifest_lifetime_secs: Option<u64>,
}

/// Signs the tenant's manifest again unchanged, with a new expiry (writers refuse an expired
/// one). Returns the new expiry.
pub fn refresh_manifest(vault: &Vault, keyring: &mut Keyring, tenant: &str) -> Result<u64, Error> {
    let synced = synced(vault, keyring, tenant)?;
    let proposal = propose(vault, keyring, tenant, Some(&synced), levels_of(&synced), policy_of(&synced))?;
    vault.commit_manifest(tenant, &proposal.note)?;
    committed(keyring, vault, tenant, &proposal)?;
    Ok(proposal.manifest.expires)
}

/// Deletes `tenant` (every item erased, grants revoked, requests denied; the audit log kept),
/// once `keyring` has shown it signed the vault's current manifest. Then the tenant leaves the
/// keyring, so a tenant created again under the same name gets fresh keys, never ones that
/// were released before. (A crash between the two leaves the tenant in the keyring; `tenant
/// create` then refuses, since its manifest is gone from the vault.)
pub fn delete_tenant(vault: &Vault, keyring: &mut Keyring, tenant: &str) -> Result<Removal, Error> {
    let synced = synced(vault, keyring, tenant)?;
    let current: Vec<NewEpoch> = synced
        .record
        .levels
        .iter()
        .filter_map(|l| {
            l.epochs.last().map(|e| NewEpoch { level: l.name.clone(), epoch: e.epoch, public: e.public })
        })
        .collect();
    let mut shown: Vec<(&str, u32, [u8; 32])> =
        current.iter().map(|e| (e.level.as_str(), e.epoch, e.public)).collect();
    shown.sort();
    let stated: Vec<(&str, u32, [u8; 32])> =
        synced.manifest.levels.iter().map(|l| (l.name.as_str(), l.epoch, l.public)).collect();
    if shown != stated {
        return Err(Error::integrity(format!(
            "the vault's levels of tenant {tenant:?} differ from its signed manifest; nothing was deleted"
        )));
    }
    let removal = Workflow::new(vault).commit_tenant_delete(tenant, &current)?;
    keyring.for_vault_mut(vault.id()).forget_tenant(tenant);
    keyring.save()?;
    Ok(removal)
}

fn manifest_level(key: &NewEpoch) -> ManifestLevel {
    ManifestLevel { name: key.level.clone(), epoch: key.epoch, public: key.public, released: Vec::new() }
}

/// The key of a new level epoch, put in the keyring (not yet saved); returns its public half.
/// A *pending* key already there (an earlier attempt whose commit did not happen) is reused:
/// it was never registered, so never used. A registered or released key is never reused.
fn new_epoch(
    keyring: &mut Keyring,
    vault: &Vault,
    tenant: &str,
    level: &str,
    epoch: u32,
) -> Result<NewEpoch, Error> {
    let keys = tenant_keys_mut(keyring, vault, tenant)?;
    let public = match (keys.state(level, epoch), keys.key(level, epoch)) {
        (Some(KeyState::Pending), Some(existing)) => existing.public().0,
        (Some(state), _) => {
            return Err(Error::integrity(format!(
                "the keyring already holds a {} key for level {level:?} epoch {epoch} of tenant {tenant:?}, which the vault no longer shows: refusing to reuse it",
                match state {
                    KeyState::Released => "released",
                    _ => "registered",
                }
            )));
        }
        (None, _) => {
            let key = SecretKey::generate()?;
            let public = key.public().0;
            keyring.for_vault_mut(vault.id()).insert(tenant, level, epoch, key)?;
            public
        }
    };
    Ok(NewEpoch { level: level.to_owned(), epoch, public })
}
