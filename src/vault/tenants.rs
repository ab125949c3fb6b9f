//! Tenants and their classification levels.
//!
//! Order of a key's birth: the customer saves the private key durably in the keyring first
//! ([`crate::customer`]), and only then does the vault register its public half here, so the
//! vault never names a key nobody holds. Nothing in this file sees a private key.

use super::{Error, Vault, valid_name};
use crate::format::AuditEvent;
use crate::store::records::{EpochRecord, LevelRecord, TenantRecord};

/// Default longest access a grant gives: 4 hours (Microsoft 365 Customer Lockbox's maximum).
pub const DEFAULT_MAX_ACCESS_SECS: u64 = 4 * 3600;
/// Default time a request waits for a decision: 12 hours.
pub const DEFAULT_REQUEST_TTL_SECS: u64 = 12 * 3600;
/// Longest duration accepted anywhere (access, request TTL): 30 days.
pub const MAX_DURATION_SECS: u64 = 30 * 86_400;
/// Most levels a tenant may have.
pub const MAX_LEVELS: usize = 64;

/// A level epoch's public key, for the vault to register: the customer made the key pair and
/// saved the private half before handing this over (see [`crate::customer`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewEpoch {
    /// Level name.
    pub level: String,
    /// Epoch number.
    pub epoch: u32,
    /// X25519 public key.
    pub public: [u8; 32],
}

impl Vault {
    /// Checks that `tenant` could be created with `levels`: valid, distinct names, not too
    /// many, no such tenant yet. The customer checks before making keys; the commit again.
    pub(crate) fn check_new_tenant(&self, tenant: &str, levels: &[String]) -> Result<(), Error> {
        valid_name("tenant", tenant)?;
        if levels.is_empty() {
            return Err(Error::usage("a tenant needs at least one level"));
        }
        if levels.len() > MAX_LEVELS {
            return Err(Error::usage(format!("at most {MAX_LEVELS} levels per tenant")));
        }
        for (i, level) in levels.iter().enumerate() {
            valid_name("level", level)?;
            if levels[..i].contains(level) {
                return Err(Error::usage(format!("level {level:?} is listed twice")));
            }
        }
        if self.store().begin_read()?.tenant(tenant)?.is_some() {
            return Err(Error::conflict(format!("tenant {tenant:?} already exists")));
        }
        Ok(())
    }

    /// Registers tenant `tenant`: its signing key `signer`, its levels' first public keys and
    /// its first manifest, signed by that key and stating these levels
    /// ([`crate::customer::create_tenant`] made them and saved the private halves first). On a
    /// copy, the server does this, and its answer must be the record sent. `by_token`: the id
    /// of the token made for this tenant before it existed that creates it (through a server),
    /// bound to it in the same transaction; no other such token is.
    pub fn commit_tenant(
        &self,
        tenant: &str,
        signer: &[u8; 32],
        levels: &[NewEpoch],
        manifest: &str,
        by_token: Option<&str>,
    ) -> Result<TenantRecord, Error> {
        let names: Vec<String> = levels.iter().map(|l| l.level.clone()).collect();
        self.check_new_tenant(tenant, &names)?;
        if *signer == [0; 32] {
            return Err(Error::usage("a tenant's signing key cannot be all zeros"));
        }
        if let Some(l) = levels.iter().find(|l| l.epoch != 1) {
            return Err(Error::usage(format!("level {:?} must start at epoch 1", l.level)));
        }
        let time = self.now();
        let mut record = TenantRecord {
            name: tenant.to_owned(),
            created: time,
            levels: levels
                .iter()
                .map(|l| LevelRecord {
                    name: l.level.clone(),
                    created: time,
                    epochs: vec![epoch_record(1, l.public, time)],
                })
                .collect(),
            signer: *signer,
            manifest: manifest.to_owned(),
            checkpoint: String::new(),
        };
        self.check_next_manifest(None, &record, manifest)?;
        record.manifest = manifest.to_owned();
        let body = super::upstream::TenantBody {
            signer: *signer,
            levels: levels.to_vec(),
            manifest: manifest.to_owned(),
        };
        if let Some(sent) = self.upstream_commit(tenant, super::Op::CreateTenant, &body) {
            let stored: TenantRecord = sent?;
            let same_levels = stored.levels.len() == levels.len()
                && stored.levels.iter().zip(levels).all(|(s, l)| {
                    s.name == l.level
                        && s.epochs.len() == 1
                        && s.epochs[0].epoch == 1
                        && s.epochs[0].public == l.public
                });
            if stored.name != tenant
                || stored.signer != *signer
                || stored.manifest != manifest
                || !same_levels
            {
                return Err(Error::integrity(
                    "the server answered the new tenant with another record than the one sent (another signing key, level key or manifest)",
                ));
            }
            return Ok(stored);
        }
        self.write(|tx| {
            if tx.tenant(tenant)?.is_some() {
                return Err(Error::conflict(format!("tenant {tenant:?} already exists")));
            }
            tx.put_tenant(&record)?;
            if let Some(token) = by_token {
                super::tokens::bind_new_tenant_token(tx, token, tenant, signer)?;
            }
            self.record(tx, tenant, "", AuditEvent::TenantCreate { levels: names.to_vec() })?;
            self.record(tx, tenant, "1", AuditEvent::Manifest { note: manifest.to_owned() })?;
            Ok(record.clone())
        })
    }

    /// Checks that `level` could be added to `tenant`; returns the tenant as it is.
    pub(crate) fn check_new_level(&self, tenant: &str, level: &str) -> Result<TenantRecord, Error> {
        valid_name("level", level)?;
        let record = self.tenant(tenant)?;
        check_level_absent(&record, level)?;
        Ok(record)
    }

    /// Adds a level to an existing tenant, at epoch 1 with `new`'s public key, and the
    /// manifest that states it.
    pub fn commit_level(&self, tenant: &str, new: &NewEpoch, manifest: &str) -> Result<TenantRecord, Error> {
        self.check_new_level(tenant, &new.level)?;
        let body = super::EpochBody { new: new.clone(), rewrapped: None, manifest: manifest.to_owned() };
        if let Some(sent) = self.upstream_commit(tenant, super::Op::AddLevel, &body) {
            let record: TenantRecord = sent?;
            if record.name != tenant || record.manifest != manifest {
                return Err(Error::integrity("the server answered the new level with another tenant record"));
            }
            return Ok(record);
        }
        if new.epoch != 1 {
            return Err(Error::usage(format!("level {:?} must start at epoch 1", new.level)));
        }
        let time = self.now();
        self.write(|tx| {
            let before = tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
            check_level_absent(&before, &new.level)?;
            let mut record = before.clone();
            record.levels.push(LevelRecord {
                name: new.level.clone(),
                created: time,
                epochs: vec![epoch_record(1, new.public, time)],
            });
            // What is returned is the record as stored, with its new manifest.
            let record = self.put_with_manifest(tx, &before, record, manifest)?;
            self.record(tx, tenant, &new.level, AuditEvent::LevelAdd { epoch: 1 })?;
            Ok(record)
        })
    }

    /// Commits a manifest that changes only the tenant's policy or nothing (a refresh): the
    /// levels it states must be the tenant's as they are.
    pub fn commit_manifest(&self, tenant: &str, manifest: &str) -> Result<TenantRecord, Error> {
        valid_name("tenant", tenant)?;
        if let Some(sent) =
            self.upstream_commit(tenant, super::Op::Manifest, &super::upstream::Note { note: manifest })
        {
            return sent;
        }
        self.write(|tx| {
            let before = tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
            let parsed = super::open_manifest(manifest, &self.id(), tenant, &before.signer)?;
            let record = self.put_with_manifest(tx, &before, before.clone(), manifest)?;
            let event = AuditEvent::TenantPolicy {
                max_access_secs: parsed.max_access_secs,
                request_ttl_secs: parsed.request_ttl_secs,
            };
            self.record(tx, tenant, "", event)?;
            Ok(record)
        })
    }

    /// Stores `after` with `manifest` once [`Vault::check_next_manifest`] accepts it, and
    /// logs the manifest (the audit log keeps the whole chain).
    pub(crate) fn put_with_manifest(
        &self,
        tx: &dyn crate::store::Writes,
        before: &TenantRecord,
        mut after: TenantRecord,
        manifest: &str,
    ) -> Result<TenantRecord, Error> {
        let m = self.check_next_manifest(Some(before), &after, manifest)?;
        after.manifest = manifest.to_owned();
        tx.put_tenant(&after)?;
        self.record(tx, &after.name, &m.seq.to_string(), AuditEvent::Manifest { note: manifest.to_owned() })?;
        Ok(after)
    }

    /// One tenant.
    pub fn tenant(&self, tenant: &str) -> Result<TenantRecord, Error> {
        valid_name("tenant", tenant)?;
        self.store().begin_read()?.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> Result<Vec<TenantRecord>, Error> {
        Ok(self.store().begin_read()?.tenants()?)
    }
}

pub(crate) fn epoch_record(epoch: u32, public: [u8; 32], created: u64) -> EpochRecord {
    EpochRecord { epoch, public, created }
}

fn check_level_absent(record: &TenantRecord, level: &str) -> Result<(), Error> {
    if record.levels.iter().any(|l| l.name == level) {
        return Err(Error::conflict(format!("tenant {:?} already has level {level:?}", record.name)));
    }
    if record.levels.len() >= MAX_LEVELS {
        return Err(Error::conflict(format!("tenant {:?} already has {MAX_LEVELS} levels", record.name)));
    }
    Ok(())
}

pub(crate) fn no_tenant(tenant: &str) -> Error {
    Error::not_found(format!("no tenant {tenant:?} in this vault"))
}

/// The current (newest) epoch of `level`: what new items are wrapped to. A level without one
/// is damage.
pub(crate) fn current_epoch<'a>(record: &'a TenantRecord, level: &str) -> Result<&'a EpochRecord, Error> {
    find_level(record, level)?
        .epochs
        .last()
        .ok_or_else(|| Error::integrity(format!("level {level:?} of tenant {:?} has no key", record.name)))
}

/// The level record of `level`, or a not-found error listing the tenant's levels.
pub(crate) fn find_level<'a>(record: &'a TenantRecord, level: &str) -> Result<&'a LevelRecord, Error> {
    record.levels.iter().find(|l| l.name == level).ok_or_else(|| {
        let names: Vec<&str> = record.levels.iter().map(|l| l.name.as_str()).collect();
        Error::not_found(format!(
            "tenant {:?} has no level {level:?} (levels: {})",
            record.name,
            names.join(", ")
        ))
    })
}
