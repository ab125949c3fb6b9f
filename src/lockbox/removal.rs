//! Removing an engineer or a whole tenant: what they could still use is closed in the same
//! transaction (active grants revoked, undecided requests denied), and the audit log keeps
//! everything that happened before.

use super::Workflow;
use super::{GrantStatus, RequestStatus};
use crate::format::{AuditEvent, Closed};
use crate::store::Writes;
use crate::store::records::{Decision, GrantRecord, RequestRecord};
use crate::vault::{Error, NewEpoch, no_tenant, valid_name};

/// What a removal closed or erased.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// Active grants revoked.
    pub grants_revoked: Vec<[u8; 16]>,
    /// Undecided requests denied.
    pub requests_denied: Vec<[u8; 16]>,
    /// Items erased (tenant deletion only).
    pub items_erased: u64,
}

impl Workflow<'_> {
    /// Removes engineer `name`: revokes every active grant to them and denies every undecided
    /// request of theirs, in one transaction. Their identity file is theirs; it opens nothing
    /// afterwards.
    pub fn remove_engineer(&self, name: &str) -> Result<Removal, Error> {
        valid_name("engineer", name)?;
        self.vault.write(|tx| {
            if !tx.remove_engineer(name)? {
                return Err(Error::not_found(format!("no engineer {name:?} is enrolled")));
            }
            self.vault.revoke_engineer_tokens(tx, name)?;
            let why = format!("engineer {name} was removed");
            let removal = self.close_access(tx, |engineer, _| engineer == name, &why)?;
            self.vault.record(tx, "", name, AuditEvent::EngineerRemove { closed: removal.closed() })?;
            Ok(removal)
        })
    }

    /// Erases `tenant`: every item and its chunks, its record, its active grants (revoked) and
    /// undecided requests (denied), in one transaction. The audit log keeps the tenant's history
    /// and this deletion. The customer proves it holds the tenant's keyring first
    /// ([`crate::customer::delete_tenant`]).
    ///
    /// `current` is what the customer proved it holds: each level's current epoch and public
    /// key. The deletion is refused (exit 6) if the tenant's levels no longer match it.
    pub fn commit_tenant_delete(&self, tenant: &str, current: &[NewEpoch]) -> Result<Removal, Error> {
        valid_name("tenant", tenant)?;
        self.vault.write(|tx| {
            let record = tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
            let now: Vec<NewEpoch> = record
                .levels
                .iter()
                .filter_map(|l| {
                    l.epochs.last().map(|e| NewEpoch {
                        level: l.name.clone(),
                        epoch: e.epoch,
                        public: e.public,
                    })
                })
                .collect();
            if now != current {
                return Err(Error::conflict(format!(
                    "tenant {tenant:?} changed while its deletion was prepared; run it again"
                )));
            }
            tx.remove_tenant(tenant)?;
            // Ids and blob ids only: records may hold a chunk inline.
            let mut items: Vec<(String, Option<[u8; 16]>)> = Vec::new();
            tx.for_each_item(tenant, &mut |id, record| {
                items.push((id.to_owned(), record.ok().map(|r| r.blob)));
                Ok(true)
            })?;
            let mut erased = 0;
            for (id, blob) in items {
                tx.remove_item_record(tenant, &id)?;
                // A damaged record names no blob: `verify` reports any chunks left as orphans.
                if let Some(blob) = blob {
                    tx.remove_chunks(&blob)?;
                }
                erased += 1;
            }
            // Its webhooks go with it: a tenant made again under the name is someone else's.
            super::webhooks::remove_tenant_webhooks(tx, tenant)?;
            let why = format!("tenant {tenant} was deleted");
            let mut removal = self.close_access(tx, |_, t| t == tenant, &why)?;
            removal.items_erased = erased;
            let event = AuditEvent::TenantDelete { items_erased: erased, closed: removal.closed() };
            self.vault.record(tx, tenant, "", event)?;
            Ok(removal)
        })
    }

    /// Revokes the active grants and denies the undecided requests whose (engineer, tenant)
    /// `matches`.
    fn close_access(
        &self,
        tx: &dyn Writes,
        matches: impl Fn(&str, &str) -> bool,
        why: &str,
    ) -> Result<Removal, Error> {
        let (now, actor) = (self.vault.now(), self.vault.actor().to_owned());
        let mut removal = Removal::default();
        let grants: Vec<GrantRecord> = tx.grants()?;
        for mut g in grants.into_iter().filter(|g| matches(&g.engineer, &g.tenant)) {
            if GrantStatus::of(&g, now) == GrantStatus::Active {
                g.revoked = Some((now, actor.clone()));
                tx.put_grant(&g)?;
                removal.grants_revoked.push(g.id);
            }
        }
        let requests: Vec<RequestRecord> = tx.requests()?;
        for mut r in requests.into_iter().filter(|r| matches(&r.engineer, &r.tenant)) {
            if RequestStatus::of(&r, None, now) == RequestStatus::Pending {
                r.decision = Decision::Denied;
                r.decided = Some(now);
                r.decided_by = Some(actor.clone());
                r.decision_reason = Some(why.to_owned());
                tx.put_request(&r)?;
                removal.requests_denied.push(r.id);
            }
        }
        Ok(removal)
    }
}

impl Removal {
    fn closed(&self) -> Closed {
        Closed::of(&self.grants_revoked, &self.requests_denied)
    }
}
