//! The way forward after restoring a vault from a backup older than the customer's last
//! signature. Every keyring command refuses such a vault (it could be a rollback by the
//! operator); accepting it is the customer's explicit decision. The keyring signs a manifest
//! that follows the restored one with a sequence number past everything it signed before, so
//! writers that saw the lost manifests accept it, and rotates every level whose current key
//! was released, or which the keyring moved past after the restored state: no released key is
//! ever current again, and no epoch number is reused for another key.

use super::checkpoint::{Start, check_chain};
use super::sync::{Policy, adopt, propose_at, tenant_keys, tenant_keys_mut};
use super::{checkpoint, new_epoch};
use crate::crypto::tenant_fingerprint;
use crate::format::{Manifest, ManifestLevel, hex};
use crate::keyring::{KeyState, Keyring, ManifestMark};
use crate::store::records::TenantRecord;
use crate::vault::{Error, NewEpoch, Vault, manifest_hash, open_manifest};

/// What a restored vault no longer holds of what the keyring signed, and what accepting it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreGap {
    /// The restored vault's manifest sequence number.
    pub vault_seq: u64,
    /// The last one the keyring signed (the manifests in between are lost).
    pub keyring_seq: u64,
    /// Audit entries the keyring's last checkpoint covered that the restored log does not hold.
    pub lost_entries: u64,
    /// Every (level, epoch) whose key this keyring released to an engineer.
    pub released: Vec<(String, u32)>,
    /// (level, current epoch in the restored vault, the epoch it moves to). A level the keyring
    /// added after the restored state comes back from epoch 0 (the vault no longer has it).
    pub rotations: Vec<(String, u32, u32)>,
    /// The restored log as checked: (entries, head).
    pub log: (u64, [u8; 32]),
    /// What vouches for the restored log.
    pub anchored: Anchor,
}

/// What vouches for a restored audit log, checked: a checkpoint signed by the tenant key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    /// It holds the first `0` entries exactly as this keyring's last checkpoint covered them.
    KeyringCheckpoint(u64),
    /// Shorter than that: its first `size` entries are as the customer's checkpoint the restored
    /// vault kept (signed at `time`) covered them; the rest is vouched for by nothing.
    RestoredCheckpoint {
        /// Entries covered.
        size: u64,
        /// When the customer signed it.
        time: u64,
    },
    /// Nothing: no checkpoint of the customer's covers any of it.
    Nothing,
}

/// What accepting `tenant`'s restored state would do, checked as far as it can be without
/// signing: the vault's manifest is one this keyring signed, older than its last, at the end
/// of an audit chain that is consistent with every manifest in it signed in order.
pub fn restore_gap(vault: &Vault, keyring: &mut Keyring, tenant: &str) -> Result<RestoreGap, Error> {
    restored(vault, keyring, tenant).map(|(gap, _, _)| gap)
}

/// [`restore_gap`], with the vault's record and its manifest as checked (what accepting signs
/// after).
fn restored(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
) -> Result<(RestoreGap, TenantRecord, Manifest), Error> {
    let record = vault.tenant(tenant)?;
    let keys = tenant_keys(keyring, vault, tenant)?;
    let signer = keys.signing().public();
    if record.signer != signer {
        return Err(Error::integrity(format!(
            "the vault shows tenant {tenant:?} with signing key {}, not this keyring's {}: it is not a restored copy of this tenant",
            hex(&tenant_fingerprint(&record.signer)),
            hex(&tenant_fingerprint(&signer))
        )));
    }
    let current = open_manifest(&record.manifest, &vault.id(), tenant, &signer)?;
    let last = keys.last.seq.max(keys.proposed.seq);
    if current.seq >= last {
        return Err(Error::conflict(format!(
            "the vault's manifest of tenant {tenant:?} (seq {}) is not older than the last this keyring signed (seq {last}): there is no restore to accept",
            current.seq
        )));
    }
    let entries = vault.audit_entries(Some(tenant))?;
    // The keyring's last checkpoint, if the restored log reaches it, must still be in it; if it
    // does not, a checkpoint of the customer's that the restored vault kept anchors what it can.
    let mark = keys.checkpoint;
    let (anchor, anchored) = if mark.seq > 0 && mark.seq <= entries.len() as u64 {
        (mark, Anchor::KeyringCheckpoint(mark.seq))
    } else {
        match customer_checkpoint(vault, tenant, &record.checkpoint, &signer) {
            Some(c) if c.size > 0 && c.size <= entries.len() as u64 => (
                ManifestMark { seq: c.size, hash: c.head },
                Anchor::RestoredCheckpoint { size: c.size, time: c.time },
            ),
            _ => (ManifestMark::default(), Anchor::Nothing),
        }
    };
    let chain = check_chain(vault, tenant, &entries, Start::First, &signer, anchor, "the customer's")?;
    if chain.last.as_ref().map(|(_, h)| *h) != Some(manifest_hash(&record.manifest)) {
        return Err(Error::integrity(format!(
            "the vault's current manifest of tenant {tenant:?} is not the last one in its audit log; nothing was signed"
        )));
    }
    let mut released: Vec<(String, u32)> = keys
        .keys()
        .filter(|(_, _, s, _)| *s == KeyState::Released)
        .map(|(l, e, _, _)| (l.to_owned(), e))
        .collect();
    released.sort();
    let mut rotations = Vec::new();
    // Levels the keyring added after the restored state (registered, so committed once).
    let mut lost: Vec<(String, u32)> = Vec::new();
    for (l, e, s, _) in keys.keys() {
        if s != KeyState::Pending && current.level(l).is_none() {
            match lost.iter_mut().find(|(n, _)| n == l) {
                Some((_, newest)) => *newest = (*newest).max(e),
                None => lost.push((l.to_owned(), e)),
            }
        }
    }
    for (level, newest) in lost {
        let next = newest
            .checked_add(1)
            .ok_or_else(|| Error::conflict(format!("level {level:?} has run out of epochs")))?;
        rotations.push((level, 0, next));
    }
    for level in &current.levels {
        let newest = keys.keys().filter(|(l, _, _, _)| *l == level.name).map(|(_, e, _, _)| e).max();
        let newest = newest.unwrap_or(level.epoch).max(level.epoch);
        let was_released = keys.state(&level.name, level.epoch) == Some(KeyState::Released);
        if was_released || newest > level.epoch {
            let next = newest
                .checked_add(1)
                .ok_or_else(|| Error::conflict(format!("level {:?} has run out of epochs", level.name)))?;
            rotations.push((level.name.clone(), level.epoch, next));
        }
    }
    let gap = RestoreGap {
        vault_seq: current.seq,
        keyring_seq: last,
        lost_entries: keys.checkpoint.seq.saturating_sub(chain.size),
        released,
        rotations,
        log: (chain.size, chain.head),
        anchored,
    };
    Ok((gap, record, current))
}

/// The customer's checkpoint the restored tenant record holds, if it verifies under the key.
fn customer_checkpoint(
    vault: &Vault,
    tenant: &str,
    note: &str,
    signer: &[u8; 32],
) -> Option<crate::format::Checkpoint> {
    (!note.is_empty())
        .then(|| crate::vault::open_checkpoint(note, &vault.id(), tenant, signer).ok())
        .flatten()
}

/// Accepts `tenant`'s restored state (see the module) exactly as `shown` to the customer (else
/// a conflict, nothing signed): new keys for the rotated levels saved first, then the manifest
/// signed and committed, then a checkpoint of the restored log.
pub fn accept_restore(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    shown: &RestoreGap,
) -> Result<RestoreGap, Error> {
    let (gap, record, current) = restored(vault, keyring, tenant)?;
    if gap != *shown {
        return Err(Error::conflict(format!(
            "the vault of tenant {tenant:?} changed since it was shown; nothing was signed: look at it again"
        )));
    }
    let mut new = Vec::new();
    for (level, _, next) in &gap.rotations {
        new.push(new_epoch(keyring, vault, tenant, level, *next)?);
    }
    let keys = tenant_keys(keyring, vault, tenant)?;
    let back = new.iter().filter(|n| current.level(&n.level).is_none()).map(|n| ManifestLevel {
        name: n.level.clone(),
        epoch: n.epoch,
        public: n.public,
        released: Vec::new(),
    });
    let levels: Vec<ManifestLevel> = current
        .levels
        .iter()
        .cloned()
        .chain(back)
        .map(|l| {
            let mut l = l;
            if let Some(n) = new.iter().find(|n: &&NewEpoch| n.level == l.name) {
                (l.epoch, l.public) = (n.epoch, n.public);
            }
            // Everything this keyring released stays stated as released.
            for (_, e, _, _) in keys.keys().filter(|(n, _, s, _)| *n == l.name && *s == KeyState::Released) {
                if !l.released.contains(&e) {
                    l.released.push(e);
                }
            }
            l.released.sort_unstable();
            l
        })
        .collect();
    let at = (gap.keyring_seq + 1, manifest_hash(&record.manifest));
    let proposal = propose_at(vault, keyring, tenant, at, levels, Policy::of(&current), current.monitor)?;
    vault.commit_restore_acceptance(tenant, &new, &proposal.note)?;
    let keys = tenant_keys_mut(keyring, vault, tenant)?;
    adopt(keys, &proposal.manifest, manifest_hash(&proposal.note));
    // The log the last checkpoint covered is gone with the restore: checkpoints go on from
    // the restored log as it was checked above (never from nothing).
    keys.checkpoint = ManifestMark { seq: gap.log.0, hash: gap.log.1 };
    keyring.save()?;
    checkpoint(vault, keyring, tenant)?;
    Ok(gap)
}
