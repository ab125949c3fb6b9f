//! Passphrase-protected key files: the customer's keyring (level-epoch private keys) and an
//! engineer's identity. Written atomically: temp file, fsync, rename, fsync of the directory.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;
use zeroize::Zeroizing;

use crate::crypto::{CryptoError, FileKey, SecretKey, SigningKey, open_body, random_array, seal_body};
pub use crate::format::MonitorTenant;
use crate::format::{
    FormatError, IdentityBody, KdfParams, KeyFile, KeyFileKind, KeyringBody, KeyringKey, KeyringTenant,
    MAX_KEYRING_ENTRIES, MAX_KEYRING_TENANTS, MAX_MONITOR_TENANTS, MonitorBody,
};

/// Argon2id cost of new key files: 64 MiB, 3 passes, 1 lane (the RFC 9106 second
/// recommendation, for machines with less memory to spare than its first).
pub const DEFAULT_KDF: KdfParams = KdfParams { memory_kib: 64 * 1024, iterations: 3, lanes: 1 };

/// Largest key file read, in bytes: the ciphertext limit plus the header.
const MAX_FILE_LEN: u64 = 16 * 1024 * 1024 + 52;

/// A passphrase. Zeroized on drop; never printed.
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    /// Wraps a passphrase; trailing CR/LF (from a file or a pipe) are removed.
    pub fn new(mut text: String) -> Passphrase {
        while text.ends_with('\n') || text.ends_with('\r') {
            text.pop();
        }
        Passphrase(Zeroizing::new(text))
    }

    /// Its length in characters.
    pub fn chars(&self) -> usize {
        self.0.chars().count()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether two passphrases are equal (constant time).
    pub fn matches(&self, other: &Passphrase) -> bool {
        use subtle::ConstantTimeEq;
        self.bytes().ct_eq(other.bytes()).into()
    }

    fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(redacted)")
    }
}

/// Why a key file could not be used. Never contains key material.
#[derive(Debug, Error)]
pub enum KeyringError {
    /// No file at the path.
    #[error("no key file at {}", path.display())]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// Creating a file that already exists.
    #[error("{} already exists; refusing to overwrite it", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The passphrase does not open the file (or the file was altered).
    #[error("wrong passphrase for {} (or the file was altered)", path.display())]
    WrongPassphrase {
        /// The file.
        path: PathBuf,
    },
    /// The file is not a valid key file.
    #[error("{} is not a valid lockbox key file: {source}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The rule broken.
        source: FormatError,
    },
    /// A keyring given where an identity is expected, or the reverse.
    #[error("{} is {found}, not {expected}", path.display())]
    WrongKind {
        /// The file.
        path: PathBuf,
        /// What was wanted.
        expected: &'static str,
        /// What the file is.
        found: &'static str,
    },
    /// The file was replaced by another key file while lockbox had it open.
    #[error("{} was replaced by another key file while lockbox was using it; run the command again", path.display())]
    Replaced {
        /// The file.
        path: PathBuf,
    },
    /// A keyring written before tenant signing keys existed.
    #[error("{} is a version 1 keyring, from before lockbox signed tenant manifests; it cannot be migrated (its tenants have no signing key the vault could trust): the tenants must be created again in a new vault with a new keyring, and their items moved", path.display())]
    Outdated {
        /// The file.
        path: PathBuf,
    },
    /// A tenant the keyring should (or should not yet) hold for the vault.
    #[error("{} {why} tenant {tenant:?} of this vault", path.display())]
    Tenant {
        /// The file.
        path: PathBuf,
        /// The tenant.
        tenant: String,
        /// "already holds", "holds no", or why it cannot take the tenant.
        why: &'static str,
    },
    /// What the file would hold does not fit its format (a count or a name over its limit):
    /// nothing was written.
    #[error("cannot save {}: {source}; nothing was written", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit broken.
        source: crate::format::FormatError,
    },
    /// The keyring is full.
    #[error("{} already holds the maximum of {MAX_KEYRING_ENTRIES} keys", path.display())]
    Full {
        /// The file.
        path: PathBuf,
    },
    /// An I/O error on the file.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// A cryptographic failure other than a wrong passphrase.
    #[error("{0}")]
    Crypto(CryptoError),
}

/// The encryption state shared by every save of one file: salt, parameters and derived key.
struct Sealing {
    path: PathBuf,
    version: u8,
    kind: KeyFileKind,
    kdf: KdfParams,
    salt: [u8; 16],
    key: FileKey,
}

impl Sealing {
    fn new(
        path: &Path,
        kind: KeyFileKind,
        pass: &Passphrase,
        kdf: KdfParams,
    ) -> Result<Sealing, KeyringError> {
        kdf.check().map_err(|source| KeyringError::Malformed { path: path.to_owned(), source })?;
        let salt = random_array().map_err(KeyringError::Crypto)?;
        let key = FileKey::derive(pass.bytes(), &kdf, &salt).map_err(KeyringError::Crypto)?;
        Ok(Sealing { path: path.to_owned(), version: KeyFile::VERSION, kind, kdf, salt, key })
    }

    /// Reads and decrypts a file; returns the sealing state (to save again) and the body.
    fn open(
        path: &Path,
        kind: KeyFileKind,
        pass: &Passphrase,
    ) -> Result<(Sealing, Zeroizing<Vec<u8>>), KeyringError> {
        let file = Sealing::read(path, kind)?;
        let key = FileKey::derive(pass.bytes(), &file.kdf, &file.salt).map_err(KeyringError::Crypto)?;
        let body = open_body(&key, &file.header(), &file.nonce, &file.ciphertext)
            .map_err(|_| KeyringError::WrongPassphrase { path: path.to_owned() })?;
        let sealing = Sealing {
            path: path.to_owned(),
            version: file.version,
            kind,
            kdf: file.kdf,
            salt: file.salt,
            key,
        };
        Ok((sealing, body))
    }

    /// Reads the file again with the key already derived (no passphrase, no Argon2): the
    /// body as it is on disk now. `None` if there is no file yet.
    fn reread(&self) -> Result<Option<Zeroizing<Vec<u8>>>, KeyringError> {
        let file = match Sealing::read(&self.path, self.kind) {
            Err(KeyringError::NotFound { .. }) => return Ok(None),
            other => other?,
        };
        if file.salt != self.salt || file.kdf != self.kdf {
            return Err(KeyringError::Replaced { path: self.path.clone() });
        }
        let body = open_body(&self.key, &file.header(), &file.nonce, &file.ciphertext)
            .map_err(|_| KeyringError::Replaced { path: self.path.clone() })?;
        Ok(Some(body))
    }

    /// Reads and decodes a key file of `kind`, within the size limit.
    fn read(path: &Path, kind: KeyFileKind) -> Result<KeyFile, KeyringError> {
        let io_err = |source: io::Error| match source.kind() {
            io::ErrorKind::NotFound => KeyringError::NotFound { path: path.to_owned() },
            _ => KeyringError::Io { path: path.to_owned(), source },
        };
        let len = fs::metadata(path).map_err(io_err)?.len();
        if len > MAX_FILE_LEN {
            let source =
                FormatError::OutOfRange { field: "key file size", value: len, min: 0, max: MAX_FILE_LEN };
            return Err(KeyringError::Malformed { path: path.to_owned(), source });
        }
        let bytes = fs::read(path).map_err(io_err)?;
        let file = KeyFile::decode(&bytes).map_err(|source| match source {
            FormatError::UnsupportedVersion { version: 1, .. } => {
                KeyringError::Outdated { path: path.to_owned() }
            }
            source => KeyringError::Malformed { path: path.to_owned(), source },
        })?;
        if file.kind != kind {
            return Err(KeyringError::WrongKind {
                path: path.to_owned(),
                expected: kind_name(kind),
                found: kind_name(file.kind),
            });
        }
        Ok(file)
    }

    /// Encrypts `body` under a fresh nonce and replaces the file atomically.
    fn save(&self, body: &[u8]) -> Result<(), KeyringError> {
        let mut file = KeyFile {
            version: self.version,
            kind: self.kind,
            kdf: self.kdf,
            salt: self.salt,
            nonce: random_array().map_err(KeyringError::Crypto)?,
            ciphertext: vec![0; body.len() + 16],
        };
        file.ciphertext =
            seal_body(&self.key, &file.header(), &file.nonce, body).map_err(KeyringError::Crypto)?;
        crate::atomic::write_file(&self.path, |w| w.write_all(&file.encode()))
            .map_err(|failed| KeyringError::Io { path: self.path.clone(), source: failed.into() })
    }
}

/// Seals the key file at `path` (a keyring, an identity or a monitor key: its own header says
/// which) again under `new`, with a fresh salt and the same Argon2id cost, replacing it
/// atomically: the old passphrase no longer opens it. Returns what kind of key file it is.
pub fn change_passphrase(
    path: &Path,
    old: &Passphrase,
    new: &Passphrase,
) -> Result<&'static str, KeyringError> {
    let len = fs::metadata(path)
        .map_err(|source| match source.kind() {
            io::ErrorKind::NotFound => KeyringError::NotFound { path: path.to_owned() },
            _ => KeyringError::Io { path: path.to_owned(), source },
        })?
        .len();
    if len > MAX_FILE_LEN {
        let source =
            FormatError::OutOfRange { field: "key file size", value: len, min: 0, max: MAX_FILE_LEN };
        return Err(KeyringError::Malformed { path: path.to_owned(), source });
    }
    let bytes = fs::read(path).map_err(|source| KeyringError::Io { path: path.to_owned(), source })?;
    let kind = match KeyFile::decode(&bytes) {
        Ok(file) => file.kind,
        Err(FormatError::UnsupportedVersion { version: 1, .. }) => {
            return Err(KeyringError::Outdated { path: path.to_owned() });
        }
        Err(source) => return Err(KeyringError::Malformed { path: path.to_owned(), source }),
    };
    let (old_sealing, body) = Sealing::open(path, kind, old)?;
    let sealing = Sealing::new(path, kind, new, old_sealing.kdf)?;
    // Argon2 ran twice since the file was read: a command that saved it meanwhile (new keys)
    // must not be overwritten with the older contents.
    if fs::read(path).map_err(|source| KeyringError::Io { path: path.to_owned(), source })? != bytes {
        return Err(KeyringError::Replaced { path: path.to_owned() });
    }
    sealing.save(&body)?;
    Ok(kind_name(kind))
}

fn kind_name(kind: KeyFileKind) -> &'static str {
    match kind {
        KeyFileKind::Keyring => "a keyring",
        KeyFileKind::Identity => "an engineer identity",
        KeyFileKind::Monitor => "an audit monitor key",
    }
}

pub use crate::format::{KeyState, ManifestMark};

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
    pub fn state(&self, level: &str, epoch: u32) -> Option<KeyState> {
        self.keys.get(&(level.to_owned(), epoch)).map(|(s, _)| *s)
    }

    /// Moves a key to `state` (never back: a released key stays released).
    pub fn set_state(&mut self, level: &str, epoch: u32, state: KeyState) {
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
    pub fn pin_engineer(&mut self, name: &str, public: [u8; 32]) {
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
/// [`Keyring::for_vault`] / [`Keyring::for_vault_mut`]: the same tenant name in another vault is
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

/// A keyring's tenants of one vault, to change (in memory; [`VaultKeysMut::save`] or
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
    /// now. A command that changes the keyring calls this once it holds the vault: another
    /// process that saved the keyring meanwhile (its new keys registered in the vault) is not
    /// overwritten by this one's older copy. Uses the key derived at open: no passphrase.
    pub fn reload(&mut self) -> Result<(), KeyringError> {
        let Some(sealing) = &self.sealing else { return Ok(()) };
        let Some(body) = sealing.reread()? else { return Ok(()) };
        self.tenants = decode_tenants(&sealing.path, &body)?;
        Ok(())
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
    pub fn for_vault_mut(&mut self, vault: [u8; 16]) -> VaultKeysMut<'_> {
        VaultKeysMut { ring: self, vault }
    }

    /// The level epoch key whose public half has `fingerprint`, held for `tenant` (of any
    /// vault: a fingerprint names one key) at `level` and `epoch`.
    pub fn key_by_fingerprint(
        &self,
        tenant: &str,
        level: &str,
        epoch: u32,
        fingerprint: &[u8; crate::format::FINGERPRINT_LEN],
    ) -> Option<&SecretKey> {
        self.tenants
            .iter()
            .filter(|((_, t), _)| t == tenant)
            .filter_map(|(_, keys)| keys.key(level, epoch))
            .find(|key| &key.public().fingerprint() == fingerprint)
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

/// An engineer's identity: name and X25519 key pair.
pub struct Identity {
    /// The engineer's name.
    pub engineer: String,
    /// The private key.
    pub secret: SecretKey,
    /// The file.
    pub path: PathBuf,
}

impl Identity {
    /// Generates a key pair for `engineer` and writes it durably to `path` (which must not exist).
    pub fn create(
        path: &Path,
        engineer: &str,
        pass: &Passphrase,
        kdf: KdfParams,
    ) -> Result<Identity, KeyringError> {
        if path.exists() {
            return Err(KeyringError::Exists { path: path.to_owned() });
        }
        let sealing = Sealing::new(path, KeyFileKind::Identity, pass, kdf)?;
        let secret = SecretKey::generate().map_err(KeyringError::Crypto)?;
        let body = IdentityBody { engineer: engineer.to_owned(), secret: secret.to_bytes() };
        let body =
            body.encode().map_err(|source| KeyringError::TooLarge { path: path.to_owned(), source })?;
        sealing.save(&body)?;
        Ok(Identity { engineer: engineer.to_owned(), secret, path: path.to_owned() })
    }

    /// Opens an identity file.
    pub fn open(path: &Path, pass: &Passphrase) -> Result<Identity, KeyringError> {
        let (_, body) = Sealing::open(path, KeyFileKind::Identity, pass)?;
        let body = IdentityBody::decode(&body)
            .map_err(|source| KeyringError::Malformed { path: path.to_owned(), source })?;
        Ok(Identity {
            engineer: body.engineer,
            secret: SecretKey::from_bytes(&body.secret),
            path: path.to_owned(),
        })
    }
}

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
    pub fn set_mark(&mut self, vault: &[u8; 16], tenant: &str, mark: ManifestMark) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: KdfParams = KdfParams { memory_kib: 8192, iterations: 1, lanes: 1 };

    #[test]
    fn a_monitor_key_saves_its_pins_and_keeps_its_mark_across_a_new_tenant_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.monitor");
        let pass = Passphrase::new("monitor pass".into());
        let mut m = MonitorKey::create(&path, &pass, CHEAP).unwrap();
        m.pin(&[1; 16], "acme", [2; 32]).unwrap();
        let mark = ManifestMark { seq: 7, hash: [3; 32] };
        m.set_mark(&[1; 16], "acme", mark);
        m.pin(&[1; 16], "acme", [4; 32]).unwrap();
        m.save().unwrap();
        let again = MonitorKey::open(&path, &pass).unwrap();
        let t = again.tenant(&[1; 16], "acme").unwrap();
        assert_eq!((t.signer, t.mark), ([4; 32], mark));
        assert_eq!(again.signing().public(), m.signing().public());
        assert!(again.tenant(&[2; 16], "acme").is_none(), "another vault");
        assert!(matches!(Keyring::open(&path, &pass), Err(KeyringError::WrongKind { .. })));
    }

    #[test]
    fn keyring_saves_reopens_and_refuses_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.keyring");
        let pass = Passphrase::new("correct horse\n".into());
        let mut ring = Keyring::create(&path, &pass, CHEAP).unwrap();
        ring.for_vault_mut([1; 16]).add_tenant("acme").unwrap();
        let key = SecretKey::generate().unwrap();
        let public = key.public();
        ring.for_vault_mut([1; 16]).insert("acme", "secret", 1, key).unwrap();
        ring.save().unwrap();
        let again = Keyring::open(&path, &Passphrase::new("correct horse".into())).unwrap();
        let (one, two) = (again.for_vault([1; 16]), again.for_vault([2; 16]));
        assert!(two.key("acme", "secret", 1).is_none(), "the same name in another vault");
        assert_eq!(one.key("acme", "secret", 1).unwrap().public(), public);
        assert_eq!(one.tenant("acme").unwrap().state("secret", 1), Some(KeyState::Pending));
        let signer = ring.for_vault([1; 16]).tenant("acme").unwrap().signing().public();
        assert_eq!(one.tenant("acme").unwrap().signing().public(), signer);
        assert!(one.key("acme", "secret", 2).is_none());
        // A reader finds the key by its fingerprint, whichever vault it was made for.
        let fp = public.fingerprint();
        assert_eq!(again.key_by_fingerprint("acme", "secret", 1, &fp).unwrap().public(), public);
        assert!(again.key_by_fingerprint("acme", "secret", 1, &[0; 16]).is_none());
        assert!(again.key_by_fingerprint("globex", "secret", 1, &fp).is_none());
        let wrong = Keyring::open(&path, &Passphrase::new("wrong".into()));
        assert!(matches!(wrong, Err(KeyringError::WrongPassphrase { .. })));
        assert!(matches!(Identity::open(&path, &pass), Err(KeyringError::WrongKind { .. })));
        assert!(matches!(Keyring::create(&path, &pass, CHEAP), Err(KeyringError::Exists { .. })));
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
    }

    #[test]
    fn a_new_passphrase_opens_the_same_keys_and_the_old_one_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (Passphrase::new("old pass".into()), Passphrase::new("new pass".into()));
        let id = dir.path().join("id");
        let eve = Identity::create(&id, "eve", &old, CHEAP).unwrap();
        assert!(matches!(change_passphrase(&id, &new, &new), Err(KeyringError::WrongPassphrase { .. })));
        assert_eq!(change_passphrase(&id, &old, &new).unwrap(), "an engineer identity");
        assert!(matches!(Identity::open(&id, &old), Err(KeyringError::WrongPassphrase { .. })));
        assert_eq!(Identity::open(&id, &new).unwrap().secret.public(), eve.secret.public());
        let ring = dir.path().join("k");
        let mut keyring = Keyring::create(&ring, &old, CHEAP).unwrap();
        keyring.for_vault_mut([1; 16]).add_tenant("acme").unwrap();
        keyring.save().unwrap();
        assert_eq!(change_passphrase(&ring, &old, &new).unwrap(), "a keyring");
        let again = Keyring::open(&ring, &new).unwrap();
        assert!(again.for_vault([1; 16]).tenant("acme").is_some());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2, "no temp files left behind");
    }

    #[test]
    fn altered_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id");
        let pass = Passphrase::new("pw".into());
        Identity::create(&path, "eve", &pass, CHEAP).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(matches!(Identity::open(&path, &pass), Err(KeyringError::WrongPassphrase { .. })));
        bytes[4] = 9;
        fs::write(&path, &bytes).unwrap();
        assert!(matches!(Identity::open(&path, &pass), Err(KeyringError::Malformed { .. })));
    }
}
