//! Accepting a vault restored from an older backup, the vault's half: the customer signs a
//! manifest that follows the restored one but whose sequence number continues past every
//! manifest it signed before (writers that saw those accept it), rotating every level whose
//! current key was released or registered after the restored state
//! ([`crate::customer::accept_restore`] decides which).

use super::tenants::{epoch_record, no_tenant};
use super::{Error, NewEpoch, Vault, valid_name};
use crate::format::AuditEvent;
use crate::store::records::LevelRecord;

impl Vault {
    /// Commits `manifest`, the customer's acceptance of this vault's state of `tenant`: it must
    /// name the current manifest as `prev` with a sequence number past it (the manifests in
    /// between were lost with the restore) and state exactly the current levels with `new`
    /// epochs added, each above every epoch the level has. Logged as `tenant.accept-restore`
    /// (naming the sequence numbers lost), then as the manifest.
    pub(crate) fn commit_restore_acceptance(
        &self,
        tenant: &str,
        new: &[NewEpoch],
        manifest: &str,
    ) -> Result<crate::store::records::TenantRecord, Error> {
        valid_name("tenant", tenant)?;
        let time = self.now();
        self.write(|tx| {
            let before = tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
            let mut after = before.clone();
            for n in new {
                // A level the customer added after the restored state comes back.
                if !after.levels.iter().any(|l| l.name == n.level) {
                    if after.levels.len() >= super::MAX_LEVELS {
                        return Err(Error::conflict(format!(
                            "tenant {tenant:?} has the most levels it may have"
                        )));
                    }
                    after.levels.push(LevelRecord { name: n.level.clone(), created: time, epochs: Vec::new() });
                }
                let level =
                    after.levels.iter_mut().find(|l| l.name == n.level).ok_or_else(|| {
                        Error::not_found(format!("tenant {tenant:?} has no level {:?}", n.level))
                    })?;
                if level.epochs.last().is_some_and(|e| e.epoch >= n.epoch) {
                    return Err(Error::conflict(format!(
                        "level {:?} of tenant {tenant:?} is already at epoch {} or later; prepare the acceptance again",
                        n.level, n.epoch
                    )));
                }
                level.epochs.push(epoch_record(n.epoch, n.public, time));
            }
            let (current, m) = self.check_restore_manifest(&before, &after, manifest)?;
            after.manifest = manifest.to_owned();
            tx.put_tenant(&after)?;
            let event = AuditEvent::AcceptRestore {
                restored_seq: current,
                lost_first: current + 1,
                lost_last: m.seq - 1,
                levels_rotated: new.len() as u32,
            };
            self.record(tx, tenant, "", event)?;
            self.record(tx, tenant, &m.seq.to_string(), AuditEvent::Manifest { note: manifest.to_owned() })?;
            Ok(after)
        })
    }
}
