//! The vault's own audit log, read: every entry, a tenant's from a position on, the chain
//! recomputed. (Appending is [`Vault::record`], inside each change's transaction.)

use super::{Error, Vault};

impl Vault {
    /// Audit entries, optionally of one tenant.
    pub fn audit_entries(&self, tenant: Option<&str>) -> Result<Vec<crate::audit::Entry>, Error> {
        if let Some(tenant) = tenant {
            self.widen(tenant, 1, false)?;
        }
        Ok(crate::audit::entries(&*self.store().begin_read()?, tenant)?)
    }

    /// `tenant`'s audit entries from position `from` of its own chain on, as the store's index
    /// gives them (`None` if it names anything out of order; the caller checks the rest:
    /// `audit::verify_tenant_from`).
    pub fn tenant_audit_from(
        &self,
        tenant: &str,
        from: u64,
    ) -> Result<Option<Vec<crate::audit::Entry>>, Error> {
        self.widen(tenant, from, false)?;
        Ok(crate::audit::tenant_entries_from(&*self.store().begin_read()?, tenant, from)?)
    }

    /// Recomputes the audit chain. With `expect_head`, that hash must be the head or an
    /// earlier entry's hash: a log cut back to before it, or rewritten, is reported broken.
    pub fn verify_audit(&self, expect_head: Option<&[u8; 32]>) -> Result<crate::audit::Verdict, Error> {
        let snapshot = self.store().begin_read()?;
        let verdict = crate::audit::verify(&*snapshot)?;
        let (Some(expected), crate::audit::Verdict::Intact { count, .. }) = (expect_head, &verdict) else {
            return Ok(verdict);
        };
        let known = crate::audit::entries(&*snapshot, None)?.iter().any(|e| &e.hash == expected);
        if known || (*expected == [0; 32]) {
            Ok(verdict)
        } else {
            Ok(crate::audit::Verdict::Broken {
                seq: count + 1,
                why: "the expected head is not in the log: it was cut back or rewritten".into(),
            })
        }
    }
}
