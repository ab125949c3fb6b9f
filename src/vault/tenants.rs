//! Tenants and their classification levels.
//!
//! Order of a key's birth: the private key is saved durably in the keyring first, and only
//! then is its public half registered in the vault, so the vault never names a key nobody holds.

use super::{Error, Vault, now, valid_name};
use crate::crypto::SecretKey;
use crate::keyring::Keyring;
use crate::store::Reads;
use crate::store::records::{EpochRecord, LevelRecord, TenantRecord};

/// Default longest access a grant gives: 4 hours (Microsoft 365 Customer Lockbox's maximum).
pub const DEFAULT_MAX_ACCESS_SECS: u64 = 4 * 3600;
/// Default time a request waits for a decision: 12 hours.
pub const DEFAULT_REQUEST_TTL_SECS: u64 = 12 * 3600;
/// Most levels a tenant may have.
pub const MAX_LEVELS: usize = 64;

impl Vault {
    /// Creates `tenant` with `levels`, adding their keys to `keyring` (saved before the vault
    /// commits).
    pub fn create_tenant(
        &self,
        tenant: &str,
        levels: &[String],
        keyring: &mut Keyring,
    ) -> Result<TenantRecord, Error> {
        valid_name("tenant", tenant)?;
        if levels.is_empty() {
            return Err(Error::usage("a tenant needs at least one level"));
        }
        if levels.len() > MAX_LEVELS {
            return Err(Error::usage(format!(
                "at most {MAX_LEVELS} levels per tenant"
            )));
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
        let time = now();
        let mut record = TenantRecord {
            name: tenant.to_owned(),
            created: time,
            levels: Vec::with_capacity(levels.len()),
            max_access_secs: DEFAULT_MAX_ACCESS_SECS,
            request_ttl_secs: DEFAULT_REQUEST_TTL_SECS,
        };
        for level in levels {
            let public = new_epoch_key(keyring, tenant, level, 1)?;
            record.levels.push(LevelRecord {
                name: level.clone(),
                created: time,
                epochs: vec![epoch_record(1, public, time)],
            });
        }
        keyring.save()?;
        let tx = self.store().begin_write()?;
        if tx.tenant(tenant)?.is_some() {
            return Err(Error::conflict(format!("tenant {tenant:?} already exists")));
        }
        tx.put_tenant(&record)?;
        self.record(
            &tx,
            "tenant.create",
            tenant,
            "",
            &format!("levels {}", levels.join(",")),
        )?;
        tx.commit()?;
        Ok(record)
    }

    /// Adds a level to an existing tenant.
    pub fn add_level(
        &self,
        tenant: &str,
        level: &str,
        keyring: &mut Keyring,
    ) -> Result<TenantRecord, Error> {
        valid_name("level", level)?;
        let mut record = self.tenant(tenant)?;
        if record.levels.iter().any(|l| l.name == level) {
            return Err(Error::conflict(format!(
                "tenant {tenant:?} already has level {level:?}"
            )));
        }
        if record.levels.len() >= MAX_LEVELS {
            return Err(Error::conflict(format!(
                "tenant {tenant:?} already has {MAX_LEVELS} levels"
            )));
        }
        let time = now();
        let public = new_epoch_key(keyring, tenant, level, 1)?;
        keyring.save()?;
        let tx = self.store().begin_write()?;
        record = tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
        if record.levels.iter().any(|l| l.name == level) {
            return Err(Error::conflict(format!(
                "tenant {tenant:?} already has level {level:?}"
            )));
        }
        record.levels.push(LevelRecord {
            name: level.to_owned(),
            created: time,
            epochs: vec![epoch_record(1, public, time)],
        });
        tx.put_tenant(&record)?;
        self.record(&tx, "level.add", tenant, level, "epoch 1")?;
        tx.commit()?;
        Ok(record)
    }

    /// One tenant.
    pub fn tenant(&self, tenant: &str) -> Result<TenantRecord, Error> {
        valid_name("tenant", tenant)?;
        self.store()
            .begin_read()?
            .tenant(tenant)?
            .ok_or_else(|| no_tenant(tenant))
    }

    /// Every tenant, by name.
    pub fn tenants(&self) -> Result<Vec<TenantRecord>, Error> {
        Ok(self.store().begin_read()?.tenants()?)
    }
}

/// Generates the key of a new level epoch and puts it in the keyring (not yet saved).
/// Refuses to replace a key the keyring already holds: it may be in use by another vault.
pub(crate) fn new_epoch_key(
    keyring: &mut Keyring,
    tenant: &str,
    level: &str,
    epoch: u32,
) -> Result<[u8; 32], Error> {
    if keyring.key(tenant, level, epoch).is_some() {
        return Err(Error::conflict(format!(
            "keyring {} already holds a key for tenant {tenant:?}, level {level:?}, epoch {epoch} \
             (is it the keyring of another vault?); refusing to replace it",
            keyring.path().display()
        )));
    }
    let key = SecretKey::generate()?;
    let public = key.public().0;
    keyring.insert(tenant, level, epoch, key)?;
    Ok(public)
}

pub(crate) fn epoch_record(epoch: u32, public: [u8; 32], created: u64) -> EpochRecord {
    EpochRecord {
        epoch,
        public,
        created,
    }
}

pub(crate) fn no_tenant(tenant: &str) -> Error {
    Error::not_found(format!("no tenant {tenant:?} in this vault"))
}

/// The level record of `level`, or a not-found error listing the tenant's levels.
pub(crate) fn find_level<'a>(
    record: &'a TenantRecord,
    level: &str,
) -> Result<&'a LevelRecord, Error> {
    record
        .levels
        .iter()
        .find(|l| l.name == level)
        .ok_or_else(|| {
            let names: Vec<&str> = record.levels.iter().map(|l| l.name.as_str()).collect();
            Error::not_found(format!(
                "tenant {:?} has no level {level:?} (levels: {})",
                record.name,
                names.join(", ")
            ))
        })
}
