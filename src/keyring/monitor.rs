//! An audit monitor's key file.

use std::collections::BTreeMap;
use std::path::Path;

use super::sealing::Sealing;
use super::*;

/// An audit monitor's key file: the monitor's Ed25519 key, which a tenant's manifest names so
/// that it may sign audit checkpoints of the tenant (nothing else), and per (vault, tenant) the
/// tenant key the monitor pinned and the last checkpoint it signed.
pub struct MonitorKey {
    sealing: Sealing,
    signing: SigningKey,
    tenants: BTreeMap<([u8; 16], String), MonitorTenant>,
}

impl MonitorKey {
    /// Generates a monitor key and writes it durably to `path` (which must not exist) before
    /// returning: its public key is given out only once the private key is saved.
    pub fn create(path: &Path, pass: &Passphrase, kdf: KdfParams) -> Result<MonitorKey, KeyringError> {
        if path.exists() {
            return Err(KeyringError::Exists { path: path.to_owned() });
        }
        let sealing = Sealing::new(path, KeyFileKind::Monitor, pass, kdf)?;
        let signing = SigningKey::generate().map_err(KeyringError::Crypto)?;
        let monitor = MonitorKey { sealing, signing, tenants: BTreeMap::new() };
        monitor.save()?;
        Ok(monitor)
    }

    /// Opens a monitor key file.
    pub fn open(path: &Path, pass: &Passphrase) -> Result<MonitorKey, KeyringError> {
        let (sealing, body) = Sealing::open(path, KeyFileKind::Monitor, pass)?;
        let body = MonitorBody::decode(&body)
            .map_err(|source| KeyringError::Malformed { path: path.to_owned(), source })?;
        let signing = SigningKey::from_seed(&body.seed);
        let tenants = body.tenants.into_iter().map(|t| ((t.vault, t.tenant.clone()), t)).collect();
        Ok(MonitorKey { sealing, signing, tenants })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.sealing.path
    }

    /// Makes this process the monitor key's only changer until it is dropped (as
    /// [`crate::keyring::Keyring::hold`]), then reads what the file holds now.
    pub fn hold(&mut self, waiting: impl FnOnce()) -> Result<(), KeyringError> {
        self.sealing.hold(waiting)?;
        let Some(body) = self.sealing.reread()? else { return Ok(()) };
        let body = MonitorBody::decode(&body)
            .map_err(|source| KeyringError::Malformed { path: self.sealing.path.clone(), source })?;
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&body.seed[..], &self.signing.seed()[..])) {
            return Err(KeyringError::Replaced { path: self.sealing.path.clone() });
        }
        self.tenants = body.tenants.into_iter().map(|t| ((t.vault, t.tenant.clone()), t)).collect();
        Ok(())
    }

    /// The monitor's signing key.
    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// What the monitor holds for `tenant` of `vault`: the pinned tenant key and its last mark.
    pub fn tenant(&self, vault: &[u8; 16], tenant: &str) -> Option<&MonitorTenant> {
        self.tenants.get(&(*vault, tenant.to_owned()))
    }

    /// Pins `tenant` of `vault` to the tenant key `signer`. A new key (a tenant deleted and
    /// created again) keeps the last mark: the tenant's chain goes on across the deletion.
    pub fn pin(&mut self, vault: &[u8; 16], tenant: &str, signer: [u8; 32]) -> Result<(), KeyringError> {
        let key = (*vault, tenant.to_owned());
        if !self.tenants.contains_key(&key) && self.tenants.len() >= MAX_MONITOR_TENANTS {
            return Err(KeyringError::Tenant {
                path: self.path().to_owned(),
                tenant: tenant.to_owned(),
                why: "is full (4096 tenants) and cannot take",
            });
        }
        let entry = self.tenants.entry(key).or_insert(MonitorTenant {
            vault: *vault,
            tenant: tenant.to_owned(),
            signer,
            mark: ManifestMark::default(),
        });
        entry.signer = signer;
        Ok(())
    }

    /// Records the checkpoint the monitor signed last for `tenant` of `vault` (pinned before).
    pub(crate) fn set_mark(&mut self, vault: &[u8; 16], tenant: &str, mark: ManifestMark) {
        if let Some(t) = self.tenants.get_mut(&(*vault, tenant.to_owned())) {
            t.mark = mark;
        }
    }

    /// Writes the file durably and atomically.
    pub fn save(&self) -> Result<(), KeyringError> {
        let body =
            MonitorBody { seed: self.signing.seed(), tenants: self.tenants.values().cloned().collect() };
        let path = self.sealing.path.clone();
        self.sealing.save(&body.encode().map_err(|source| KeyringError::TooLarge { path, source })?)
    }
}
