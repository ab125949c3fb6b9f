//! The keyring and the vault must agree on the tenant's manifest before the customer signs
//! anything: the keyring remembers the last manifest it signed that the vault committed
//! (`last`) and one it signed whose commit is not known (`proposed`). The vault's current
//! manifest must be one of them; older, newer or another is refused (exit 5), so a vault
//! rolled back, or one that dropped an epoch or a level, never makes the keyring sign over
//! or reuse what was already registered or released.

use crate::crypto::{sign_note, tenant_fingerprint};
use crate::format::{Manifest, ManifestLevel, ManifestMonitor, hex, origin};
use crate::keyring::{KeyState, Keyring, ManifestMark, TenantKeys};
use crate::store::records::TenantRecord;
use crate::vault::{
    DEFAULT_MAX_ACCESS_SECS, DEFAULT_REQUEST_TTL_SECS, Error, ErrorKind, MANIFEST_LIFETIME_SECS,
    MAX_MANIFEST_LIFETIME_SECS, MIN_MANIFEST_LIFETIME_SECS, Remedy, Vault, manifest_hash, open_manifest,
};

/// The tenant as the vault holds it, once its manifest is the one this keyring last signed.
pub struct Synced {
    /// The vault's record (its fields are the operator's; use `manifest`).
    pub record: TenantRecord,
    /// The current manifest, verified under the keyring's signing key.
    pub manifest: Manifest,
    /// Its hash.
    pub hash: [u8; 32],
}

/// What this keyring holds for `tenant` of `vault`, or access denied.
pub(crate) fn tenant_keys<'a>(
    keyring: &'a Keyring,
    vault: &Vault,
    tenant: &str,
) -> Result<&'a TenantKeys, Error> {
    keyring.for_vault(vault.id()).tenant(tenant).ok_or_else(|| {
        Error::denied(format!(
            "access denied: keyring {} holds no key of tenant {tenant:?} of this vault; give the keyring the tenant was created with",
            keyring.path().display()
        ))
    })
}

pub(crate) fn tenant_keys_mut<'a>(
    keyring: &'a mut Keyring,
    vault: &Vault,
    tenant: &str,
) -> Result<&'a mut TenantKeys, Error> {
    let path = keyring.path().to_owned();
    let id = vault.id();
    keyring.for_vault_mut(id).into_tenant_mut(tenant).ok_or_else(|| {
        Error::denied(format!("access denied: keyring {} holds no key of tenant {tenant:?}", path.display()))
    })
}

/// Checks that the vault's manifest of `tenant` is the one `keyring` signed last (adopting a
/// proposed one the vault did commit); nothing is signed. [`super::synced`] adds the audit check.
pub(crate) fn sync_manifest(vault: &Vault, keyring: &mut Keyring, tenant: &str) -> Result<Synced, Error> {
    let record = match (vault.tenant(tenant), keyring.for_vault(vault.id()).tenant(tenant)) {
        (Err(e), Some(keys)) if e.kind == ErrorKind::NotFound && keys.last.seq != 0 => {
            return Err(Error::integrity(format!(
                "the vault has no tenant {tenant:?}, but this keyring signed its manifest seq {}: it was removed outside lockbox, or the vault was rolled back; nothing was signed",
                keys.last.seq
            )));
        }
        (record, _) => record?,
    };
    let keys = tenant_keys(keyring, vault, tenant)?;
    let signer = keys.signing().public();
    if record.signer != signer {
        return Err(Error::integrity(format!(
            "the vault shows tenant {tenant:?} with signing key {}, not this keyring's {}: nothing was signed",
            hex(&tenant_fingerprint(&record.signer)),
            hex(&tenant_fingerprint(&signer))
        )));
    }
    let manifest = open_manifest(&record.manifest, &vault.id(), tenant, &signer)?;
    let hash = manifest_hash(&record.manifest);
    let (last, proposed) = (keys.last, keys.proposed);
    if hash == last.hash {
        if proposed.seq != 0 {
            // That proposal was never committed; its pending keys stay pending for reuse.
            tenant_keys_mut(keyring, vault, tenant)?.proposed = ManifestMark::default();
            keyring.save()?;
        }
    } else if proposed.seq != 0 && hash == proposed.hash {
        adopt(tenant_keys_mut(keyring, vault, tenant)?, &manifest, hash);
        keyring.save()?;
    } else {
        let tenant = tenant.to_owned();
        let (how, remedy) = if manifest.seq < last.seq {
            (
                "older than the one this keyring signed last: the vault was rolled back or is withholding the newest",
                Some(Remedy::AcceptRestore { tenant: tenant.clone() }),
            )
        } else if manifest.seq > last.seq {
            (
                "newer than the one this keyring signed last: this keyring may have been restored from an older copy",
                Some(Remedy::Resync { tenant: tenant.clone() }),
            )
        } else {
            ("not the one this keyring signed at that sequence number", None)
        };
        let e = Error::integrity(format!(
            "the vault's manifest of tenant {tenant:?} (seq {}) is {how} (seq {}); nothing was signed",
            manifest.seq, last.seq
        ));
        return Err(match remedy {
            Some(r) => e.with_remedy(r),
            None => e,
        });
    }
    Ok(Synced { record, manifest, hash })
}

/// Records that the vault holds `manifest`: it becomes `last`, and the keys it names move
/// from pending to registered.
pub(crate) fn adopt(keys: &mut TenantKeys, manifest: &Manifest, hash: [u8; 32]) {
    keys.last = ManifestMark { seq: manifest.seq, hash };
    keys.proposed = ManifestMark::default();
    for level in &manifest.levels {
        keys.set_state(&level.name, level.epoch, KeyState::Registered);
    }
}

/// A manifest signed by the keyring, not yet committed.
pub(crate) struct Proposal {
    /// The signed note, for the vault.
    pub note: String,
    /// What it states.
    pub manifest: Manifest,
}

/// Signs the manifest that follows `prev` (none: the first) with `levels` and `policy` (and
/// `prev`'s audit monitor), and saves the keyring with it as `proposed` before anything
/// reaches the vault.
pub(crate) fn propose(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    prev: Option<&Synced>,
    levels: Vec<ManifestLevel>,
    policy: Policy,
) -> Result<Proposal, Error> {
    let monitor = prev.and_then(|p| p.manifest.monitor);
    propose_with_monitor(vault, keyring, tenant, prev, levels, policy, monitor)
}

/// [`propose`], naming `monitor` as the tenant's audit monitor (none: no monitor).
pub(crate) fn propose_with_monitor(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    prev: Option<&Synced>,
    levels: Vec<ManifestLevel>,
    policy: Policy,
    monitor: Option<ManifestMonitor>,
) -> Result<Proposal, Error> {
    let (seq, prev) = prev.map_or((1, [0; 32]), |p| (p.manifest.seq + 1, p.hash));
    propose_at(vault, keyring, tenant, (seq, prev), levels, policy, monitor)
}

/// Signs the manifest with sequence number `at.0` naming `at.1` as its predecessor, and
/// saves the keyring with it as `proposed` before anything reaches the vault.
pub(crate) fn propose_at(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    at: (u64, [u8; 32]),
    mut levels: Vec<ManifestLevel>,
    policy: Policy,
    monitor: Option<ManifestMonitor>,
) -> Result<Proposal, Error> {
    levels.sort_by(|a, b| a.name.cmp(&b.name));
    // A manifest never names a released key as current: writers would encrypt new items to a
    // key an engineer holds. (An approval whose commit did not happen leaves its released
    // levels in that state: they are rotated before anything else is signed.)
    let keys = tenant_keys(keyring, vault, tenant)?;
    if let Some(l) = levels.iter().find(|l| keys.state(&l.name, l.epoch) == Some(KeyState::Released)) {
        return Err(Error::integrity(format!(
            "the current key of level {:?} (epoch {}) of tenant {tenant:?} was released to an engineer, in an approval the vault does not show: the level must be rotated before anything else",
            l.name, l.epoch
        ))
        .with_remedy(Remedy::Rotate { tenant: tenant.to_owned(), level: l.name.clone() }));
    }
    let now = vault.now();
    let manifest = Manifest {
        origin: origin(&vault.id(), tenant),
        seq: at.0,
        prev: at.1,
        issued: now,
        expires: now.saturating_add(policy.manifest_lifetime_secs),
        max_access_secs: policy.max_access_secs,
        request_ttl_secs: policy.request_ttl_secs,
        monitor,
        levels,
    };
    let keys = tenant_keys_mut(keyring, vault, tenant)?;
    let note = sign_note(keys.signing(), &manifest.origin, manifest.encode()).encode();
    keys.proposed = ManifestMark { seq: manifest.seq, hash: manifest_hash(&note) };
    keyring.save()?;
    Ok(Proposal { note, manifest })
}

/// After the vault committed `proposal`: it is the keyring's `last`. A failure to save here
/// is repaired by the next command ([`synced`] adopts the proposal it finds committed).
pub(crate) fn committed(
    keyring: &mut Keyring,
    vault: &Vault,
    tenant: &str,
    proposal: &Proposal,
) -> Result<(), Error> {
    adopt(tenant_keys_mut(keyring, vault, tenant)?, &proposal.manifest, manifest_hash(&proposal.note));
    keyring.save()?;
    Ok(())
}

/// The manifest levels of `synced`, to change for the next manifest.
pub(crate) fn levels_of(synced: &Synced) -> Vec<ManifestLevel> {
    synced.manifest.levels.clone()
}

/// A tenant's policy: what its manifest states, and how long the customer signs it for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Policy {
    pub max_access_secs: u64,
    pub request_ttl_secs: u64,
    /// How long each manifest is valid for writers (its `expires` minus its `issued`).
    pub manifest_lifetime_secs: u64,
}

impl Policy {
    /// A new tenant's.
    pub(crate) fn default_for_new_tenant() -> Policy {
        Policy {
            max_access_secs: DEFAULT_MAX_ACCESS_SECS,
            request_ttl_secs: DEFAULT_REQUEST_TTL_SECS,
            manifest_lifetime_secs: MANIFEST_LIFETIME_SECS,
        }
    }
}

/// The tenant's policy as its manifest states it.
pub(crate) fn policy_of(synced: &Synced) -> Policy {
    Policy::of(&synced.manifest)
}

impl Policy {
    /// What `m` states (the lifetime kept within its range: a manifest signed before the
    /// lifetime was a policy has 7 days).
    pub fn of(m: &Manifest) -> Policy {
        Policy {
            max_access_secs: m.max_access_secs,
            request_ttl_secs: m.request_ttl_secs,
            manifest_lifetime_secs: m
                .expires
                .saturating_sub(m.issued)
                .clamp(MIN_MANIFEST_LIFETIME_SECS, MAX_MANIFEST_LIFETIME_SECS),
        }
    }
}
