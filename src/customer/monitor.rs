//! The audit monitor: a key the customer names in the tenant's manifest, which may sign audit
//! checkpoints of the tenant and nothing else (manifests and grants verify under the tenant key
//! only). Run on a schedule, it checks the tenant's chain as the customer's keyring does and
//! signs a checkpoint of it, so entries older than one interval cannot be trimmed or rewritten
//! without a keyring command, `audit verify --keyring` or the monitor itself noticing (within
//! the limits docs/DESIGN.md states). It holds no level key: it can read nothing and release
//! nothing.

use super::checkpoint::{Start, check_chain};
use super::sync::{committed, levels_of, policy_of, propose_with_monitor, tenant_keys};
use super::synced;
use crate::crypto::{sign_note, tenant_fingerprint, valid_signing_public};
use crate::format::{
    Checkpoint, MAX_MONITOR_INTERVAL, MIN_MONITOR_INTERVAL, ManifestMark, ManifestMonitor, hex, origin,
};
use crate::keyring::{Keyring, MonitorKey};
use crate::vault::Remedy;
use crate::vault::{Error, Vault, valid_name};

/// What a monitor run checked and signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorRun {
    /// Entries in the tenant's chain, all covered by the new checkpoint.
    pub size: u64,
    /// The chain's head.
    pub head: [u8; 32],
    /// Entries the monitor's previous checkpoint covered.
    pub checkpointed: u64,
}

/// Names `monitor` (an Ed25519 public key, signing every `interval_secs`) as `tenant`'s audit
/// monitor in a new manifest, or with `None` names none.
pub fn set_monitor(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    monitor: Option<ManifestMonitor>,
) -> Result<(), Error> {
    if let Some(m) = &monitor {
        if !(MIN_MONITOR_INTERVAL..=MAX_MONITOR_INTERVAL).contains(&m.interval_secs) {
            return Err(Error::usage("the monitor interval must be between 1 minute and 1 day"));
        }
        if !valid_signing_public(&m.public) {
            return Err(Error::usage("the monitor key is not an Ed25519 public key"));
        }
    }
    let synced = synced(vault, keyring, tenant)?;
    let tenant_key = tenant_keys(keyring, vault, tenant)?.signing().public();
    if monitor.is_some_and(|m| m.public == tenant_key) {
        return Err(Error::usage("the monitor key must not be the tenant key"));
    }
    let (levels, policy) = (levels_of(&synced), policy_of(&synced));
    let proposal = propose_with_monitor(vault, keyring, tenant, Some(&synced), levels, policy, monitor)?;
    vault.commit_manifest(tenant, &proposal.note)?;
    committed(keyring, vault, tenant, &proposal)?;
    Ok(())
}

/// Pins `tenant`'s signing key in the monitor's file, by the fingerprint the customer gave.
/// With `restart`, the monitor's last checkpoint of the tenant is forgotten: the way on after
/// the customer accepted a vault restored from an older backup, whose log is shorter than what
/// the monitor covered (it refuses that log otherwise, as it must refuse a rollback).
pub fn monitor_trust(
    vault: &Vault,
    monitor: &mut MonitorKey,
    tenant: &str,
    fingerprint: &[u8; 32],
    restart: bool,
) -> Result<(), Error> {
    valid_name("tenant", tenant)?;
    let record = vault.tenant(tenant)?;
    let shown = tenant_fingerprint(&record.signer);
    if shown != *fingerprint {
        return Err(Error::integrity(format!(
            "the vault shows tenant {tenant:?} with signing key {}, not {}: nothing was pinned",
            hex(&shown),
            hex(fingerprint)
        )));
    }
    monitor.pin(&vault.id(), tenant, record.signer)?;
    if restart {
        monitor.set_mark(&vault.id(), tenant, ManifestMark::default());
    }
    monitor.save()?;
    Ok(())
}

/// Checks `tenant`'s audit chain against the monitor's last checkpoint (and every manifest and
/// approval in it against the pinned tenant key), requires the newest manifest to name this
/// monitor, then signs a checkpoint of the chain as it is and stores it in the vault.
pub fn monitor_checkpoint(
    vault: &Vault,
    monitor: &mut MonitorKey,
    tenant: &str,
) -> Result<MonitorRun, Error> {
    valid_name("tenant", tenant)?;
    let pinned = monitor.tenant(&vault.id(), tenant).cloned().ok_or_else(|| {
        Error::denied(format!(
            "access denied: monitor {} has not pinned tenant {tenant:?} of vault {}",
            monitor.path().display(),
            hex(&vault.id())
        ))
        .with_remedy(Remedy::TrustMonitor { tenant: tenant.to_owned() })
    })?;
    let entries = vault.audit_entries(Some(tenant))?;
    let chain =
        check_chain(vault, tenant, &entries, Start::First, &pinned.signer, pinned.mark, "this monitor's")?;
    let public = monitor.signing().public();
    let named = chain.last.as_ref().and_then(|(m, _)| m.monitor).is_some_and(|m| m.public == public);
    if !named {
        return Err(Error::denied(format!(
            "access denied: the newest manifest of tenant {tenant:?} does not name this monitor key ({})",
            hex(&tenant_fingerprint(&public)),
        ))
        .with_remedy(Remedy::NameMonitor { tenant: tenant.to_owned(), key: hex(&public) }));
    }
    let c = Checkpoint {
        origin: origin(&vault.id(), tenant),
        size: chain.size,
        head: chain.head,
        time: vault.now(),
        // What writers hold the vault to: no manifest older than this one, while the
        // checkpoint is fresh.
        manifest: chain.last.as_ref().map(|(m, hash)| (m.seq, *hash)),
    };
    let note = sign_note(monitor.signing(), &c.origin, c.encode()).encode();
    vault.commit_monitor_checkpoint(tenant, &note)?;
    monitor.set_mark(&vault.id(), tenant, ManifestMark { seq: c.size, hash: c.head });
    monitor.save()?;
    Ok(MonitorRun { size: chain.size, head: chain.head, checkpointed: pinned.mark.seq })
}
