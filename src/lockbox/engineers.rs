//! Engineer enrollment: the identity file is written durably before the public key is registered.

use super::Workflow;
use crate::format::{AuditEvent, KdfParams};
use crate::keyring::{Identity, Passphrase};
use crate::store::records::EngineerRecord;
use crate::vault::Error;

/// An engineer's key as the engineer's client sends it to a server ([`crate::vault::Op::Enroll`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EnrollBody {
    /// The engineer (the server requires the one its token stands for).
    pub engineer: String,
    /// The identity's X25519 public key.
    pub public: [u8; 32],
}

impl Workflow<'_> {
    /// Creates an identity file for `name` at `path` and registers its public key.
    pub fn enroll_engineer(
        &self,
        name: &str,
        path: &std::path::Path,
        pass: &Passphrase,
        kdf: KdfParams,
    ) -> Result<EngineerRecord, Error> {
        crate::vault::valid_name("engineer", name)?;
        if self.vault.store().begin_read()?.engineer(name)?.is_some() {
            return Err(Error::conflict(format!("engineer {name:?} is already enrolled")));
        }
        let identity = Identity::create(path, name, pass, kdf)?;
        self.enroll_engineer_key(name, &identity)
    }

    /// Registers the public key of an identity that is already saved durably.
    pub fn enroll_engineer_key(&self, name: &str, identity: &Identity) -> Result<EngineerRecord, Error> {
        self.enroll_public(name, &identity.secret.public().0)
    }

    /// Registers `public` as engineer `name`'s key: for a server, whose caller saved the
    /// identity on their own machine before sending its public key.
    pub fn enroll_public(&self, name: &str, public: &[u8; 32]) -> Result<EngineerRecord, Error> {
        crate::vault::valid_name("engineer", name)?;
        let body = EnrollBody { engineer: name.to_owned(), public: *public };
        // A copy's tenant is the one the server's token is for: the commit goes there.
        if let Some(tenant) = self.vault.mirror_tenant()
            && let Some(sent) = self.vault.upstream_commit(&tenant, crate::vault::Op::Enroll, &body)
        {
            // The server's answer is its word: what is shown (the fingerprint the customer
            // will pin) must be this identity's key, not one the server put in its place.
            let record: EngineerRecord = sent?;
            if record.name != name || record.public != *public {
                return Err(Error::integrity(format!(
                    "the server answered the enrollment of {name:?} with another engineer or key than this identity's"
                )));
            }
            return Ok(record);
        }
        let record = EngineerRecord { name: name.to_owned(), public: *public, created: self.vault.now() };
        self.vault.write(|tx| {
            if tx.engineer(name)?.is_some() {
                return Err(Error::conflict(format!("engineer {name:?} is already enrolled")));
            }
            tx.put_engineer(&record)?;
            let fingerprint = crate::crypto::fingerprint(public);
            self.vault.record_as(tx, name, "", name, AuditEvent::EngineerEnroll { fingerprint })?;
            Ok(record.clone())
        })
    }

    /// Every enrolled engineer.
    pub fn engineers(&self) -> Result<Vec<EngineerRecord>, Error> {
        Ok(self.vault.store().begin_read()?.engineers()?)
    }

    /// One engineer.
    pub fn engineer(&self, name: &str) -> Result<EngineerRecord, Error> {
        crate::vault::valid_name("engineer", name)?;
        self.vault
            .store()
            .begin_read()?
            .engineer(name)?
            .ok_or_else(|| Error::not_found(format!("no engineer {name:?} is enrolled")))
    }
}
