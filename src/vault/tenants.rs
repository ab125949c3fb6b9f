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
/// Longest duration accepted anywhere (access, request TTL): 30 days.
pub const MAX_DURATION_SECS: u64 = 30 * 86_400;
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
        self.record(&tx, "tenant.create", tenant, "", &format!("levels {}", levels.join(",")))?;
        tx.commit()?;
        Ok(record)
    }

    /// Adds a level to an existing tenant.
    pub fn add_level(&self, tenant: &str, level: &str, keyring: &mut Keyring) -> Result<TenantRecord, Error> {
        valid_name("level", level)?;
        let mut record = self.tenant(tenant)?;
        if record.levels.iter().any(|l| l.name == level) {
            return Err(Error::conflict(format!("tenant {tenant:?} already has level {level:?}")));
        }
        if record.levels.len() >= MAX_LEVELS {
            return Err(Error::conflict(format!("tenant {tenant:?} already has {MAX_LEVELS} levels")));
        }
        let time = now();
        let public = new_epoch_key(keyring, tenant, level, 1)?;
        keyring.save()?;
        let tx = self.store().begin_write()?;
        record = tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
        if record.levels.iter().any(|l| l.name == level) {
            return Err(Error::conflict(format!("tenant {tenant:?} already has level {level:?}")));
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

    /// Changes a tenant's access policy; `None` leaves a value as it is.
    pub fn set_policy(
        &self,
        tenant: &str,
        max_access_secs: Option<u64>,
        request_ttl_secs: Option<u64>,
    ) -> Result<TenantRecord, Error> {
        valid_name("tenant", tenant)?;
        for (what, value) in [("maximum access", max_access_secs), ("request TTL", request_ttl_secs)] {
            if let Some(v) = value
                && !(1..=MAX_DURATION_SECS).contains(&v)
            {
                return Err(Error::usage(format!("{what} must be between 1 second and 30 days")));
            }
        }
        let tx = self.store().begin_write()?;
        let mut record = tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
        record.max_access_secs = max_access_secs.unwrap_or(record.max_access_secs);
        record.request_ttl_secs = request_ttl_secs.unwrap_or(record.request_ttl_secs);
        tx.put_tenant(&record)?;
        let detail =
            format!("max access {}s, request ttl {}s", record.max_access_secs, record.request_ttl_secs);
        self.record(&tx, "tenant.policy", tenant, "", &detail)?;
        tx.commit()?;
        Ok(record)
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

/// The key of a new level epoch, put in the keyring (not yet saved); returns its public half.
/// If the keyring already holds a key for that epoch (left by an earlier attempt whose vault
/// commit did not happen), that key is reused: it was never registered, so never used.
pub(crate) fn new_epoch_key(
    keyring: &mut Keyring,
    tenant: &str,
    level: &str,
    epoch: u32,
) -> Result<[u8; 32], Error> {
    if let Some(existing) = keyring.key(tenant, level, epoch) {
        return Ok(existing.public().0);
    }
    let key = SecretKey::generate()?;
    let public = key.public().0;
    keyring.insert(tenant, level, epoch, key)?;
    Ok(public)
}

pub(crate) fn epoch_record(epoch: u32, public: [u8; 32], created: u64) -> EpochRecord {
    EpochRecord { epoch, public, created }
}

pub(crate) fn no_tenant(tenant: &str) -> Error {
    Error::not_found(format!("no tenant {tenant:?} in this vault"))
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
