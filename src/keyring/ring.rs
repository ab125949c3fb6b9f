//! The customer's keyring: per (vault, tenant), the tenant signing key and level keys.

use std::collections::BTreeMap;
use std::path::Path;

use zeroize::Zeroizing;

use super::sealing::Sealing;
use super::*;

/// What a keyring holds for one tenant of one vault: the tenant signing key, the manifests it
/// signed, its level keys with their states, and the engineer keys it pinned.
pub struct TenantKeys {
    signing: SigningKey,
    /// The last manifest the vault is known to hold.
    pub last: ManifestMark,
    /// A manifest signed for the vault whose commit is not known to have happened.
    pub proposed: ManifestMark,
    /// The last audit checkpoint signed: the size of the tenant's chain and its head.
    pub checkpoint: ManifestMark,
    keys: BTreeMap<(String, u32), (KeyState, SecretKey)>,
    engineers: BTreeMap<String, [u8; 32]>,
}

impl TenantKeys {
    /// The tenant signing key.
    pub fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// The private key of a level epoch.
    pub fn key(&self, level: &str, epoch: u32) -> Option<&SecretKey> {
        self.keys.get(&(level.to_owned(), epoch)).map(|(_, k)| k)
    }

    /// The state of a level epoch's key.
    pub(crate) fn state(&self, level: &str, epoch: u32) -> Option<KeyState> {
        self.keys.get(&(level.to_owned(), epoch)).map(|(s, _)| *s)
    }

    /// Moves a key to `state` (never back: a released key stays released).
    pub(crate) fn set_state(&mut self, level: &str, epoch: u32, state: KeyState) {
        if let Some((s, _)) = self.keys.get_mut(&(level.to_owned(), epoch))
            && (*s as u8) < (state as u8)
        {
            *s = state;
        }
    }

    /// Every key: (level, epoch, state, key).
    pub fn keys(&self) -> impl Iterator<Item = (&str, u32, KeyState, &SecretKey)> {
        self.keys.iter().map(|((l, e), (s, k))| (l.as_str(), *e, *s, k))
    }

    /// The engineer key an approval pinned for `name`.
    pub fn engineer(&self, name: &str) -> Option<&[u8; 32]> {
        self.engineers.get(name)
    }

    /// Pins (or re-pins) `name`'s key.
    pub(crate) fn pin_engineer(&mut self, name: &str, public: [u8; 32]) {
        self.engineers.insert(name.to_owned(), public);
    }
}

type Tenants = BTreeMap<([u8; 16], String), TenantKeys>;

fn decode_tenants(path: &Path, body: &[u8]) -> Result<Tenants, KeyringError> {
    let body = KeyringBody::decode(body)
        .map_err(|source| KeyringError::Malformed { path: path.to_owned(), source })?;
    Ok(body
        .tenants
        .into_iter()
        .map(|t| {
            let keys = t
                .keys
                .into_iter()
                .map(|k| ((k.level, k.epoch), (k.state, SecretKey::from_bytes(&k.secret))))
                .collect();
            let value = TenantKeys {
                signing: SigningKey::from_seed(&t.signing_seed),
                last: t.last,
                proposed: t.proposed,
                checkpoint: t.checkpoint,
                keys,
                engineers: t.engineers.into_iter().collect(),
            };
            ((t.vault, t.tenant), value)
        })
        .collect())
}

/// A customer's keyring: per (vault, tenant), the tenant signing key and the private key of
/// every level epoch it made. Tenants are found by name only through
/// [`Keyring::for_vault`] (and, to change them, `for_vault_mut`): the same tenant name in another vault is
/// another tenant, and no lookup can forget which vault it means.
pub struct Keyring {
    /// `None` for a keyring kept in memory only.
    sealing: Option<Sealing>,
    tenants: Tenants,
}

/// A keyring's tenants of one vault, to read.
#[derive(Clone, Copy)]
pub struct VaultKeys<'a> {
    tenants: &'a Tenants,
    vault: [u8; 16],
}

impl<'a> VaultKeys<'a> {
    /// What the keyring holds for `tenant` of this vault.
    pub fn tenant(&self, tenant: &str) -> Option<&'a TenantKeys> {
        self.tenants.get(&(self.vault, tenant.to_owned()))
    }

    /// The private key of a level epoch of `tenant`, if the keyring holds it.
    pub fn key(&self, tenant: &str, level: &str, epoch: u32) -> Option<&'a SecretKey> {
        self.tenant(tenant)?.key(level, epoch)
    }

    /// Every (tenant, level, epoch) held for this vault.
    pub fn entries(&self) -> impl Iterator<Item = (&'a str, &'a str, u32)> + use<'a> {
        let vault = self.vault;
        self.tenants
            .iter()
            .filter(move |((v, _), _)| *v == vault)
            .flat_map(|((_, t), keys)| keys.keys.keys().map(move |(l, e)| (t.as_str(), l.as_str(), *e)))
    }
}

/// A keyring's tenants of one vault, to change (in memory;
/// [`Keyring::save`] makes it durable).
pub struct VaultKeysMut<'a> {
    ring: &'a mut Keyring,
    vault: [u8; 16],
}

impl<'a> VaultKeysMut<'a> {
    /// The same tenants, to read.
    pub fn view(&self) -> VaultKeys<'_> {
        self.ring.for_vault(self.vault)
    }

    /// What the keyring holds for `tenant` of this vault, to change.
    pub fn tenant_mut(&mut self, tenant: &str) -> Option<&mut TenantKeys> {
        self.ring.tenants.get_mut(&(self.vault, tenant.to_owned()))
    }

    /// [`VaultKeysMut::tenant_mut`], for as long as the keyring is borrowed.
    pub fn into_tenant_mut(self, tenant: &str) -> Option<&'a mut TenantKeys> {
        self.ring.tenants.get_mut(&(self.vault, tenant.to_owned()))
    }

    /// Starts `tenant` with a fresh signing key and no level keys.
    pub fn add_tenant(&mut self, tenant: &str) -> Result<&mut TenantKeys, KeyringError> {
        let id = (self.vault, tenant.to_owned());
        if self.ring.tenants.contains_key(&id) {
            return Err(KeyringError::Tenant {
                path: self.ring.path().to_owned(),
                tenant: tenant.to_owned(),
                why: "already holds",
            });
        }
        if self.ring.tenants.len() >= MAX_KEYRING_TENANTS {
            return Err(KeyringError::Full { path: self.ring.path().to_owned() });
        }
        let keys = TenantKeys {
            signing: SigningKey::generate().map_err(KeyringError::Crypto)?,
            last: ManifestMark::default(),
            proposed: ManifestMark::default(),
            checkpoint: ManifestMark::default(),
            keys: BTreeMap::new(),
            engineers: BTreeMap::new(),
        };
        Ok(self.ring.tenants.entry(id).or_insert(keys))
    }

    /// Adds a pending key to `tenant`.
    pub fn insert(
        &mut self,
        tenant: &str,
        level: &str,
        epoch: u32,
        key: SecretKey,
    ) -> Result<(), KeyringError> {
        let total: usize = self.ring.tenants.values().map(|t| t.keys.len()).sum();
        if total >= MAX_KEYRING_ENTRIES {
            return Err(KeyringError::Full { path: self.ring.path().to_owned() });
        }
        let path = self.ring.path().to_owned();
        let missing = KeyringError::Tenant { path, tenant: tenant.to_owned(), why: "holds no" };
        let t = self.tenant_mut(tenant).ok_or(missing)?;
        t.keys.insert((level.to_owned(), epoch), (KeyState::Pending, key));
        Ok(())
    }

    /// Drops `tenant` and every key of it; how many level keys went.
    pub fn forget_tenant(&mut self, tenant: &str) -> usize {
        self.ring.tenants.remove(&(self.vault, tenant.to_owned())).map_or(0, |t| t.keys.len())
    }
}

impl Keyring {
    /// A new, empty keyring to be written to `path` (which must not exist) on [`Keyring::save`].
    pub fn create(path: &Path, pass: &Passphrase, kdf: KdfParams) -> Result<Keyring, KeyringError> {
        if path.exists() {
            return Err(KeyringError::Exists { path: path.to_owned() });
        }
        let sealing = Sealing::new(path, KeyFileKind::Keyring, pass, kdf)?;
        Ok(Keyring { sealing: Some(sealing), tenants: BTreeMap::new() })
    }

    /// A keyring held in memory only: no file, no passphrase, nothing survives the process.
    /// For tests and fuzzing (a real customer's keys must be saved before they are used).
    #[doc(hidden)]
    pub fn in_memory() -> Keyring {
        Keyring { sealing: None, tenants: BTreeMap::new() }
    }

    /// Opens an existing keyring.
    pub fn open(path: &Path, pass: &Passphrase) -> Result<Keyring, KeyringError> {
        let (sealing, body) = Sealing::open(path, KeyFileKind::Keyring, pass)?;
        let tenants = decode_tenants(path, &body)?;
        Ok(Keyring { sealing: Some(sealing), tenants })
    }

    /// Reads the keyring's file again, replacing the keys held in memory with what is on disk
    /// now ([`Keyring::hold`] does, once it holds the keyring): another process that saved the
    /// keyring meanwhile (its new keys registered in the vault) is not overwritten by this
    /// one's older copy. Uses the key derived at open: no passphrase.
    pub fn reload(&mut self) -> Result<(), KeyringError> {
        let Some(sealing) = &self.sealing else { return Ok(()) };
        let Some(body) = sealing.reread()? else { return Ok(()) };
        self.tenants = decode_tenants(&sealing.path, &body)?;
        Ok(())
    }

    /// Makes this process the keyring's only changer until the keyring is dropped (a lock
    /// beside its file, waited for; `waiting` is told if it must wait), then reads the file
    /// again ([`Keyring::reload`]). Every command that changes a keyring holds it: the
    /// passphrase is asked before, so no prompt ever holds it. No-op in memory.
    pub fn hold(&mut self, waiting: impl FnOnce()) -> Result<(), KeyringError> {
        let Some(sealing) = &mut self.sealing else { return Ok(()) };
        sealing.hold(waiting)?;
        self.reload()
    }

    /// Lets another process change the keyring again (before a prompt, say); [`Keyring::hold`]
    /// takes it back and reads what changed meanwhile.
    pub fn release(&mut self) {
        if let Some(sealing) = &mut self.sealing {
            sealing.release();
        }
    }

    /// Opens `path` if it exists, else starts a new keyring there.
    pub fn open_or_create(path: &Path, pass: &Passphrase, kdf: KdfParams) -> Result<Keyring, KeyringError> {
        if path.exists() { Keyring::open(path, pass) } else { Keyring::create(path, pass, kdf) }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        self.sealing.as_ref().map_or(Path::new("(in memory)"), |s| &s.path)
    }

    /// The tenants this keyring holds for `vault`, to read.
    pub fn for_vault(&self, vault: [u8; 16]) -> VaultKeys<'_> {
        VaultKeys { tenants: &self.tenants, vault }
    }

    /// The tenants this keyring holds for `vault`, to change.
    pub(crate) fn for_vault_mut(&mut self, vault: [u8; 16]) -> VaultKeysMut<'_> {
        VaultKeysMut { ring: self, vault }
    }

    /// The key a header of `tenant` names: the one held at `level` and `epoch` whose public
    /// half has `fingerprint` (of any vault: a fingerprint names one key). A header damaged on
    /// disk still finds a key, so that opening it reports damage, not a key never held: with a
    /// damaged level or epoch, the key its fingerprint names wherever it is held (its wrap,
    /// which binds level and epoch, then fails); with a damaged fingerprint, the key held at
    /// that level and epoch (which then does not match). `None` only when neither is held.
    pub(crate) fn key_by_fingerprint(
        &self,
        tenant: &str,
        level: &str,
        epoch: u32,
        fingerprint: &[u8; crate::format::FINGERPRINT_LEN],
    ) -> Option<&SecretKey> {
        let named = |key: &&SecretKey| &key.public().fingerprint() == fingerprint;
        let of_tenant = || self.tenants.iter().filter(move |((_, t), _)| t == tenant).map(|(_, keys)| keys);
        of_tenant()
            .filter_map(|keys| keys.key(level, epoch))
            .find(named)
            .or_else(|| of_tenant().flat_map(|keys| keys.keys().map(|(_, _, _, key)| key)).find(named))
            .or_else(|| of_tenant().find_map(|keys| keys.key(level, epoch)))
    }

    /// A copy of this keyring's keys held in memory only (fuzzing starts
    /// each input from one prepared keyring). Goes through the body's encoding, as a save would.
    #[doc(hidden)]
    pub fn in_memory_copy(&self) -> Result<Keyring, KeyringError> {
        let body = self.body()?;
        let tenants = decode_tenants(Path::new("(in memory)"), &body)?;
        Ok(Keyring { sealing: None, tenants })
    }

    /// Writes the keyring durably and atomically. When this returns Ok, the keys are on disk.
    pub fn save(&self) -> Result<(), KeyringError> {
        let Some(sealing) = &self.sealing else { return Ok(()) };
        sealing.save(&self.body()?)
    }

    /// The keyring body, encoded (plaintext: the caller encrypts or zeroizes it).
    fn body(&self) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        let tenants = self
            .tenants
            .iter()
            .map(|((vault, tenant), t)| KeyringTenant {
                vault: *vault,
                tenant: tenant.clone(),
                signing_seed: t.signing.seed(),
                last: t.last,
                proposed: t.proposed,
                checkpoint: t.checkpoint,
                keys: t
                    .keys
                    .iter()
                    .map(|((level, epoch), (state, key))| KeyringKey {
                        level: level.clone(),
                        epoch: *epoch,
                        state: *state,
                        secret: key.to_bytes(),
                    })
                    .collect(),
                engineers: t.engineers.iter().map(|(n, k)| (n.clone(), *k)).collect(),
            })
            .collect();
        KeyringBody { tenants }
            .encode()
            .map_err(|source| KeyringError::TooLarge { path: self.path().to_owned(), source })
    }
}
