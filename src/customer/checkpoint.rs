//! The customer's audit checkpoints. Before it signs anything, a keyring command checks the
//! tenant's own audit chain: consistent from its first entry, still holding the entry the
//! keyring's last checkpoint named at the position it named (so nothing before it was
//! rewritten, reordered, dropped or cut back), and every manifest in it one this keyring
//! signed, in sequence. Only then does it sign a new checkpoint of the chain as it is: it never
//! signs while the log disagrees with what it signed before.

use super::sync::{tenant_keys, tenant_keys_mut};
use crate::audit::{Verdict, verify_tenant};
use crate::crypto::{sign_note, verify_note};
use crate::format::{Checkpoint, SignedNote, origin};
use crate::keyring::{Keyring, ManifestMark};
use crate::vault::{Error, Vault, manifest_hash, open_manifest};

/// What a check of a tenant's audit chain found intact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheck {
    /// Entries in the tenant's chain.
    pub size: u64,
    /// Hash of the last.
    pub head: [u8; 32],
    /// Entries the keyring's previous checkpoint covered.
    pub checkpointed: u64,
    /// Manifests in the chain, each verified.
    pub manifests: u64,
}

/// Checks `tenant`'s audit chain against `keyring` (nothing is signed). Any disagreement is an
/// integrity error naming it.
pub fn check_audit(vault: &Vault, keyring: &mut Keyring, tenant: &str) -> Result<AuditCheck, Error> {
    keyring.use_vault(vault.id());
    let entries = vault.audit_entries(Some(tenant))?;
    let keys = tenant_keys(keyring, tenant)?;
    let broken = |why: String| Error::integrity(format!("the audit log of tenant {tenant:?} {why}"));
    let (size, head) = match verify_tenant(&entries, tenant) {
        Verdict::Intact { count, head } => (count, head),
        Verdict::Broken { seq, why } => return Err(broken(format!("is broken at its entry {seq}: {why}"))),
    };
    let mark = keys.checkpoint;
    if mark.seq > size {
        return Err(broken(format!(
            "has {size} entries, fewer than the {} this keyring's last checkpoint covered: it was cut back",
            mark.seq
        )));
    }
    if mark.seq > 0 && entries[mark.seq as usize - 1].hash != mark.hash {
        return Err(broken(format!(
            "no longer holds, at entry {}, the entry this keyring's last checkpoint named: it was rewritten before the checkpoint",
            mark.seq
        )));
    }
    let signer = keys.signing().public();
    let mut expected = (1u64, [0u8; 32]);
    for e in entries.iter().filter(|e| e.action == "manifest") {
        let m = open_manifest(&e.detail, &vault.id(), tenant, &signer)
            .map_err(|err| broken(format!("entry {}: {}", e.chain, err.message)))?;
        if (m.seq, m.prev) != expected {
            return Err(broken(format!(
                "entry {}: manifest {} does not follow the one before it",
                e.chain, m.seq
            )));
        }
        expected = (m.seq + 1, manifest_hash(&e.detail));
    }
    if keys.last.seq != 0 && expected.1 != keys.last.hash {
        return Err(broken("does not end with the manifest this keyring signed last".into()));
    }
    for e in entries.iter().filter(|e| e.action == "request.approve") {
        let grant = e.detail.strip_prefix("grant ").and_then(|d| d.split(' ').next()).unwrap_or_default();
        let (record, _) =
            vault.grant(grant).map_err(|err| broken(format!("entry {}: {}", e.chain, err.message)))?;
        let signed = SignedNote::decode(&record.note)
            .ok()
            .is_some_and(|n| verify_note(&n, &origin(&vault.id(), tenant), &signer).is_ok());
        if !signed {
            return Err(broken(format!("entry {}: grant {grant} is not one this keyring signed", e.chain)));
        }
    }
    Ok(AuditCheck { size, head, checkpointed: mark.seq, manifests: expected.0 - 1 })
}

/// [`check_audit`], then signs a checkpoint of the chain as it is, commits it to the vault and
/// remembers it in the keyring.
pub fn checkpoint(vault: &Vault, keyring: &mut Keyring, tenant: &str) -> Result<AuditCheck, Error> {
    let check = check_audit(vault, keyring, tenant)?;
    let c = Checkpoint {
        origin: origin(&vault.id(), tenant),
        size: check.size,
        head: check.head,
        time: vault.now(),
    };
    let keys = tenant_keys(keyring, tenant)?;
    let note = sign_note(keys.signing(), &c.origin, c.encode()).encode();
    vault.commit_checkpoint(tenant, &note)?;
    tenant_keys_mut(keyring, tenant)?.checkpoint = ManifestMark { seq: c.size, hash: c.head };
    keyring.save()?;
    Ok(check)
}
