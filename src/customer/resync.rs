//! Recovery for a keyring restored from an older copy: the vault's manifest chain is walked
//! from the last manifest the keyring knows to the vault's current one, every link checked
//! (signed by the keyring's tenant key, sequence numbers consecutive, each naming its
//! predecessor's hash). Only forward: a vault older than the keyring is never adopted.

use super::sync::{tenant_keys, tenant_keys_mut};
use crate::keyring::{KeyState, Keyring, ManifestMark};
use crate::vault::Remedy;
use crate::vault::{Error, Vault, manifest_hash, open_manifest};

/// What a resync adopted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resync {
    /// The keyring's manifest sequence number before.
    pub from: u64,
    /// The vault's, now the keyring's.
    pub to: u64,
    /// (level, epoch) current in the vault whose private key this keyring does not hold: items
    /// wrapped to them are unreadable with it; rotate those levels.
    pub missing: Vec<(String, u32)>,
}

/// Adopts the vault's current manifest of `tenant` after checking the chain that leads to it.
pub fn resync(vault: &Vault, keyring: &mut Keyring, tenant: &str) -> Result<Resync, Error> {
    let record = vault.tenant(tenant)?;
    let keys = tenant_keys(keyring, vault, tenant)?;
    let signer = keys.signing().public();
    let last = keys.last;
    let current = open_manifest(&record.manifest, &vault.id(), tenant, &signer)?;
    if current.seq < last.seq {
        return Err(Error::integrity(format!(
            "the vault's manifest of tenant {tenant:?} (seq {}) is older than this keyring's (seq {}): the vault was rolled back; a resync never moves back",
            current.seq, last.seq
        ))
        .with_remedy(Remedy::AcceptRestore { tenant: tenant.to_owned() }));
    }
    // The chain, from the audit log: every manifest the vault committed for the tenant.
    let mut expected = (last.seq + 1, last.hash);
    let mut found_start = last.seq == 0;
    let mut tip = None;
    for entry in vault.audit_entries(Some(tenant))? {
        let Some(note) = entry.manifest_note() else { continue };
        let hash = manifest_hash(note);
        if !found_start {
            found_start = hash == last.hash;
            continue;
        }
        let broken = |why: &str| {
            Error::integrity(format!(
                "the manifest chain of tenant {tenant:?} is broken at seq {}: {why}",
                expected.0
            ))
        };
        let m = open_manifest(note, &vault.id(), tenant, &signer).map_err(|e| broken(&e.message))?;
        // A sequence number may jump forward only where the customer accepted a restore (its
        // manifest still names its predecessor).
        if m.seq < expected.0 || m.prev != expected.1 {
            return Err(broken("a manifest is missing or out of order"));
        }
        expected = (m.seq + 1, hash);
        tip = Some(hash);
    }
    if !found_start {
        return Err(Error::integrity(format!(
            "the vault's audit log holds no manifest of tenant {tenant:?} matching this keyring's (seq {}): cannot resync",
            last.seq
        )));
    }
    let current_hash = manifest_hash(&record.manifest);
    if tip.unwrap_or(last.hash) != current_hash {
        return Err(Error::integrity(format!(
            "the vault's current manifest of tenant {tenant:?} is not the end of its logged chain: cannot resync"
        )));
    }
    let keys = tenant_keys_mut(keyring, vault, tenant)?;
    let mut missing = Vec::new();
    for level in &current.levels {
        match keys.state(&level.name, level.epoch) {
            None => missing.push((level.name.clone(), level.epoch)),
            Some(_) => keys.set_state(&level.name, level.epoch, KeyState::Registered),
        }
    }
    keys.last = ManifestMark { seq: current.seq, hash: current_hash };
    keys.proposed = ManifestMark::default();
    keyring.save()?;
    Ok(Resync { from: last.seq, to: current.seq, missing })
}

/// What `verify --keyring` finds wrong between the vault and `keyring` for every tenant of
/// this vault the keyring holds: a manifest that is not the keyring's, a break in the logged
/// manifest chain, a registered public key that is not the keyring's key for that epoch.
pub fn check_keyring(vault: &Vault, keyring: &mut Keyring) -> Result<Vec<String>, Error> {
    let tenants: Vec<String> = {
        let mut t: Vec<String> =
            keyring.for_vault(vault.id()).entries().map(|(t, _, _)| t.to_owned()).collect();
        t.dedup();
        t
    };
    let mut problems = Vec::new();
    for tenant in tenants {
        if let Err(e) = super::sync::sync_manifest(vault, keyring, &tenant) {
            problems.push(e.message);
            continue;
        }
        match super::checkpoint::checked_with_headers(vault, keyring, &tenant) {
            Ok((check, entries, headers)) => {
                problems
                    .extend(check.monitor.stale(vault.now()).map(|why| format!("tenant {tenant:?}: {why}")));
                problems.extend(super::checkpoint::check_items_against(&tenant, &entries, headers));
            }
            Err(e) => problems.push(e.message),
        }
        // (The logged manifest chain was checked by `checked_entries`.)
        let keys = tenant_keys(keyring, vault, &tenant)?;
        for level in vault.tenant(&tenant)?.levels {
            for epoch in &level.epochs {
                match keys.key(&level.name, epoch.epoch) {
                    Some(k) if k.public().0 == epoch.public => {}
                    Some(_) => problems.push(format!(
                        "tenant {tenant:?}: level {:?} epoch {} is registered with a key that is not this keyring's",
                        level.name, epoch.epoch
                    )),
                    None => problems.push(format!(
                        "tenant {tenant:?}: level {:?} epoch {} is registered but this keyring has no key for it",
                        level.name, epoch.epoch
                    )),
                }
            }
        }
    }
    Ok(problems)
}
